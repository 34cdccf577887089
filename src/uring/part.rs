//! [`RecvPart`]: one completion's part of a buffer that an incremental
//! provided-buffer ring (`IOU_PBUF_RING_INC`) fills across several
//! receives; the parts of one buffer share it.

#[cfg(doc)]
use super::BufRing;
use crate::{BufferPool, IoVec, RawBuf};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// A buffer of an incremental ring once its first part is out: the one
/// token of its index. The ring holds one reference while the kernel may
/// still write the rest of it; each part holds one. Dropped with the last,
/// it returns the buffer to the pool.
pub(super) struct PartShared {
    pool: Arc<BufferPool>,
    /// `Some` until the drop returns it.
    raw: Option<RawBuf>,
}

impl PartShared {
    pub(super) fn new(pool: Arc<BufferPool>, raw: RawBuf) -> Self {
        PartShared {
            pool,
            raw: Some(raw),
        }
    }

    fn index(&self) -> usize {
        self.raw.as_ref().map_or(0, RawBuf::index)
    }
}

impl Drop for PartShared {
    fn drop(&mut self) {
        if let Some(raw) = self.raw.take() {
            // Cannot fail: the token is of this pool (the ring made it).
            let _ = self.pool.put_raw(raw);
        }
    }
}

impl fmt::Debug for PartShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PartShared")
            .field("index", &self.index())
            .finish()
    }
}

/// The bytes one completion of an incremental ring put in a buffer: a
/// range of it, after the ranges of the completions before. Made by
/// [`BufRing::take_part`]. Derefs to those bytes (read-only: the kernel may
/// still be writing the rest of the buffer, and the other parts share it).
///
/// It is `Send + Sync`; the buffer returns to the pool when the kernel is
/// done with it and the last of its parts is dropped, on any thread.
///
/// ```no_run
/// use io_uring::{opcode, types, IoUring};
/// use iobuf_pool::uring::BufRing;
/// use std::sync::Arc;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?);
/// let mut ring = IoUring::new(8)?;
/// let mut br = BufRing::register_incremental(&ring, &pool, 0, 4)?;
/// br.fill()?;
/// # let fd = 0;
/// let recv = opcode::RecvMulti::new(types::Fd(fd), br.bgid()).build();
/// // SAFETY: `br` stays registered and `fd` open until the last completion.
/// unsafe { ring.submission().push(&recv)? };
/// ring.submit_and_wait(1)?;
/// let cqe = ring.completion().next().ok_or("no completion")?;
/// // SAFETY: one completion of this ring's recv from br's group, once.
/// if let Some(part) = unsafe { br.take_part(cqe.result(), cqe.flags()) }? {
///     println!("{} bytes at {} of buffer {}", part.len(), part.offset(), part.index());
/// }
/// # Ok(()) }
/// ```
pub struct RecvPart {
    shared: Arc<PartShared>,
    start: usize,
    len: usize,
}

impl RecvPart {
    pub(super) fn new(shared: Arc<PartShared>, start: usize, len: usize) -> Self {
        RecvPart { shared, start, len }
    }

    /// The pool index of the buffer (its buffer id).
    ///
    /// ```no_run
    /// # fn f(part: iobuf_pool::uring::RecvPart) {
    /// println!("buffer {}", part.index());
    /// # }
    /// ```
    pub fn index(&self) -> usize {
        self.shared.index()
    }

    /// Where in the buffer the part starts.
    ///
    /// ```no_run
    /// # fn f(part: iobuf_pool::uring::RecvPart) {
    /// assert!(part.offset() + part.len() <= 64 * 1024);
    /// # }
    /// ```
    pub fn offset(&self) -> usize {
        self.start
    }

    /// Bytes in the part.
    ///
    /// ```no_run
    /// # fn f(part: iobuf_pool::uring::RecvPart) {
    /// assert_eq!(part.len(), part.as_ref().len());
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the part is empty (never, from a ring).
    ///
    /// ```no_run
    /// # fn f(part: iobuf_pool::uring::RecvPart) {
    /// assert!(!part.is_empty());
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The part as an [`IoVec`], for a `writev` / `sendmsg` that echoes it;
    /// valid while `self` lives.
    ///
    /// ```no_run
    /// # fn f(part: iobuf_pool::uring::RecvPart) {
    /// assert_eq!(part.io_vec().len(), part.len());
    /// # }
    /// ```
    pub fn io_vec(&self) -> IoVec {
        IoVec::from_slice(self)
    }

    /// Whether `other` is a part of the same buffer (the same fill of it).
    ///
    /// ```no_run
    /// # fn f(a: iobuf_pool::uring::RecvPart, b: iobuf_pool::uring::RecvPart) {
    /// if a.shares_buffer_with(&b) { assert_eq!(a.index(), b.index()) }
    /// # }
    /// ```
    pub fn shares_buffer_with(&self, other: &RecvPart) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Deref for RecvPart {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let Ok(base) = self.shared.pool.buffer_ptr(self.shared.index()) else {
            return &[];
        };
        // The index is out of the pool, owned by `shared` (which this part
        // keeps alive, and the pool with it). The kernel wrote these bytes
        // before the completion that made this part and only ever writes
        // this buffer past the bytes it reported (an incremental ring moves
        // the entry's address on by each result); parts give no `&mut`.
        // SAFETY: so nothing writes `start..start + len` while a part lives,
        // and start + len <= buffer size (take_part clamps).
        unsafe { std::slice::from_raw_parts(base.as_ptr().add(self.start), self.len) }
    }
}

impl AsRef<[u8]> for RecvPart {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for RecvPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvPart")
            .field("index", &self.index())
            .field("offset", &self.start)
            .field("len", &self.len)
            .finish()
    }
}
