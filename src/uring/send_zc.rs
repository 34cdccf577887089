//! Zero-copy send: [`ZcSend`] holds pool buffers (one, or a gathered
//! chain) from their `SEND_ZC` / `SENDMSG_ZC` submission until the
//! kernel's notification (`IORING_CQE_F_NOTIF`) says it no longer reads
//! the pages, not merely until the first completion.

#[cfg(doc)]
use super::Features;
use super::{Bundle, FixedBuffers, UringError};
use crate::{IoVec, OwnedBuf};
use io_uring::{cqueue, opcode, squeue, types};
use std::fmt;
use std::io;

/// Pool buffers in a zero-copy send: one buffer (`IORING_OP_SEND_ZC`), or
/// a chain of them gathered into one `IORING_OP_SENDMSG_ZC`
/// ([`gather`](Self::gather): a received [`Bundle`] echoed as it came).
///
/// A zero-copy send completes twice. The first completion gives the bytes
/// sent (and `IORING_CQE_F_MORE`); the kernel may still be reading the
/// buffer's pages then (the network stack holds them until the data is
/// acknowledged or copied). The second, the notification
/// (`IORING_CQE_F_NOTIF`), says it is done. `ZcSend` keeps the buffers from
/// [`new`](Self::new) until [`complete`](Self::complete) has seen the
/// notification (or a first completion without `F_MORE`, after which none
/// comes): no safe call gives the buffer, or a `&mut` to its bytes, back
/// before. Dropped (or leaked) while a notification is pending, it leaks
/// the buffer, and its reference to the pool's memory with it (so the
/// memory is never freed), rather than return pages the
/// kernel may still read.
///
/// [`complete`](Self::complete) is `unsafe`: flags alone cannot tell a
/// real notification of this send from a made-up one.
///
/// ```no_run
/// use io_uring::{types, IoUring};
/// use iobuf_pool::uring::{Features, ZcSend};
/// use std::os::fd::AsRawFd;
/// use std::sync::Arc;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?);
/// let mut ring = IoUring::new(8)?;
/// Features::probe(&ring)?.require_send_zc()?;
/// let stream = std::net::TcpStream::connect("127.0.0.1:7")?;
/// let mut buf = pool.get_owned();
/// buf.clear();
/// buf.extend_from_slice_checked(b"hello")?;
/// let mut send = ZcSend::new(buf);
/// let entry = send.entry(types::Fd(stream.as_raw_fd()))?.user_data(1);
/// // SAFETY: `send` keeps the buffer until its notification, and `stream`
/// // stays open as long.
/// unsafe { ring.submission().push(&entry)? };
/// loop {
///     ring.submit_and_wait(1)?;
///     let cqe = ring.completion().next().ok_or("no completion")?;
///     // SAFETY: a completion of this send's entry, reaped from this ring,
///     // passed once.
///     if let Some(done) = unsafe { send.complete(cqe.result(), cqe.flags()) }? {
///         println!("sent {} bytes", done.sent?);
///         drop(done.bufs); // back to the pool, now that the kernel is done
///         break;
///     }
/// }
/// # Ok(()) }
/// ```
///
/// The buffer cannot be reached while the send is in flight:
///
/// ```compile_fail,E0616
/// # let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
/// let mut send = iobuf_pool::uring::ZcSend::new(pool.get_owned());
/// send.bufs.clear();
/// ```
///
/// and completing it is `unsafe`:
///
/// ```compile_fail,E0133
/// # let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
/// let mut send = iobuf_pool::uring::ZcSend::new(pool.get_owned());
/// let early = send.complete(0, 1 << 3); // IORING_CQE_F_NOTIF, made up
/// ```
#[must_use = "a ZcSend holds its buffers until its send completes"]
pub struct ZcSend {
    /// The buffers, until the send is done; empty after.
    bufs: Vec<OwnedBuf>,
    /// The gather list of a `SENDMSG_ZC` (more than one buffer), boxed so
    /// its address stays put while the kernel reads it.
    gather: Option<Box<Gather>>,
    /// The first completion's result, once seen.
    sent: Option<i32>,
    /// Whether an entry was built (and so may have been pushed): from then
    /// on only the completions give the buffer back.
    submitted: bool,
}

/// The `msghdr` and iovecs of a gathered send.
struct Gather {
    msg: libc::msghdr,
    iov: Vec<IoVec>,
}

// SAFETY: the raw pointers in `msg` point into `iov` (in the same box) and
// at no thread-affine state; the box moves between threads whole.
unsafe impl Send for Gather {}
// SAFETY: shared access only reads.
unsafe impl Sync for Gather {}

/// A finished zero-copy send: the buffers, free to reuse or drop, and what
/// the send's first completion said. Given by [`ZcSend::complete`].
///
/// ```
/// # fn f(done: iobuf_pool::uring::ZcDone) -> Result<(), iobuf_pool::uring::UringError> {
/// let sent = done.sent?;
/// for buf in done.bufs {
///     drop(buf); // the kernel no longer reads it: back to the pool
/// }
/// # let _ = sent; Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "dropping it returns the buffers to the pool at once"]
pub struct ZcDone {
    /// The buffers, in the order sent, no longer read by the kernel.
    pub bufs: Vec<OwnedBuf>,
    /// Bytes sent, or the kernel's error.
    pub sent: Result<u32, UringError>,
}

impl ZcSend {
    /// Holds `buf` for a zero-copy send of its filled bytes.
    ///
    /// ```
    /// # let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let send = iobuf_pool::uring::ZcSend::new(pool.get_owned());
    /// assert!(send.is_pending());
    /// ```
    pub fn new(buf: OwnedBuf) -> Self {
        Self::gather(vec![buf])
    }

    /// Holds `bufs` for one zero-copy send of their filled bytes, in order
    /// (a `SENDMSG_ZC` gathering them when there is more than one).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 2).unwrap());
    /// let bundle = iobuf_pool::uring::Bundle::from_guards(vec![pool.get_owned(), pool.get_owned()]);
    /// let send = iobuf_pool::uring::ZcSend::gather(bundle);
    /// assert_eq!(send.bufs().len(), 2);
    /// ```
    pub fn gather(bufs: impl Into<Bundle>) -> Self {
        ZcSend {
            bufs: bufs.into().into_guards(),
            gather: None,
            sent: None,
            submitted: false,
        }
    }

    /// The buffers being sent (the kernel only reads them, so sharing them
    /// is fine); empty once the send is done.
    ///
    /// ```
    /// # let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let mut buf = pool.get_owned();
    /// buf.clear();
    /// buf.extend_from_slice_checked(b"hi").unwrap();
    /// assert_eq!(&iobuf_pool::uring::ZcSend::new(buf).bufs()[0][..], b"hi");
    /// ```
    pub fn bufs(&self) -> &[OwnedBuf] {
        &self.bufs
    }

    /// Bytes to send: the buffers' filled lengths together.
    ///
    /// ```
    /// # let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let mut buf = pool.get_owned();
    /// buf.clear();
    /// assert_eq!(iobuf_pool::uring::ZcSend::new(buf).len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.bufs.iter().map(OwnedBuf::len).sum()
    }

    /// Whether there is nothing to send.
    ///
    /// ```
    /// # let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let mut buf = pool.get_owned();
    /// buf.clear();
    /// assert!(iobuf_pool::uring::ZcSend::new(buf).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the buffer is still held (the send is not done).
    ///
    /// ```
    /// # let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let send = iobuf_pool::uring::ZcSend::new(pool.get_owned());
    /// assert!(send.is_pending());
    /// ```
    pub fn is_pending(&self) -> bool {
        !self.bufs.is_empty()
    }

    /// The `SEND_ZC` entry (`SENDMSG_ZC` for more than one buffer) for the
    /// filled bytes on socket `fd`, with
    /// `MSG_WAITALL` (the kernel retries a short send on a stream socket,
    /// so the completion counts every byte unless it is an error). Set its
    /// `user_data` to route both completions back here. Pushing it is the
    /// caller's promise (the push is `unsafe`) to keep `self` alive or
    /// leaked until [`complete`](Self::complete) returns the buffer; and
    /// `fd` open as long; and to push it once.
    ///
    /// One entry per send: its completions are what
    /// [`complete`](Self::complete) counts, and a gathered send's `msghdr`
    /// (which the kernel reads at submission) must stay where the first
    /// entry points.
    ///
    /// # Errors
    /// [`UringError::EntryBuilt`]: an entry was already built for this send
    /// (by this or [`entry_fixed`](Self::entry_fixed)).
    ///
    /// ```
    /// # let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let mut send = iobuf_pool::uring::ZcSend::new(pool.get_owned());
    /// let entry = send.entry(io_uring::types::Fd(3))?.user_data(9);
    /// assert_eq!(entry.get_user_data(), 9);
    /// assert!(send.entry(io_uring::types::Fd(3)).is_err()); // one per send
    /// # Ok::<(), iobuf_pool::uring::UringError>(())
    /// ```
    pub fn entry(&mut self, fd: types::Fd) -> Result<squeue::Entry, UringError> {
        if self.submitted {
            return Err(UringError::EntryBuilt);
        }
        self.submitted = true;
        if let [buf] = &self.bufs[..] {
            let bytes = buf.filled();
            return Ok(opcode::SendZc::new(fd, bytes.as_ptr(), bytes.len() as u32)
                .flags(libc::MSG_WAITALL)
                .build());
        }
        let iov: Vec<IoVec> = self
            .bufs
            .iter()
            .map(|b| IoVec::from_slice(b.filled()))
            .collect();
        // SAFETY: msghdr is plain data; all-zero is its empty value.
        let msg: libc::msghdr = unsafe { std::mem::zeroed() };
        let gather = self.gather.insert(Box::new(Gather { msg, iov }));
        let (iov, n) = IoVec::addr_len(&gather.iov);
        gather.msg.msg_iov = iov.cast_mut();
        gather.msg.msg_iovlen = n as _;
        Ok(opcode::SendMsgZc::new(fd, &gather.msg)
            .flags(libc::MSG_WAITALL as u32)
            .build())
    }

    /// [`entry`](Self::entry) from a registered (fixed) buffer: the same
    /// send, with the pages the kernel pinned at registration instead of
    /// pinning them per send. `fixed` must be a registration of the
    /// buffer's pool.
    ///
    /// # Errors
    /// [`UringError::ForeignBuffer`]: `fixed` registers another pool.
    /// [`UringError::Unsupported`]: more than one buffer (a gathered send
    /// from fixed buffers needs them in one registered buffer).
    /// [`UringError::EntryBuilt`]: an entry was already built for this send.
    ///
    /// ```no_run
    /// # let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let ring = io_uring::IoUring::new(4)?;
    /// let fixed = iobuf_pool::uring::FixedBuffers::register(&ring, &pool)?;
    /// let mut send = iobuf_pool::uring::ZcSend::new(pool.get_owned());
    /// let entry = send.entry_fixed(io_uring::types::Fd(3), &fixed)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn entry_fixed(
        &mut self,
        fd: types::Fd,
        fixed: &FixedBuffers<'_>,
    ) -> Result<squeue::Entry, UringError> {
        if self.submitted {
            return Err(UringError::EntryBuilt);
        }
        let buf = match &self.bufs[..] {
            [buf] => buf,
            _ => {
                return Err(UringError::Unsupported {
                    what: "a fixed-buffer zero-copy send of other than one buffer",
                })
            }
        };
        if buf.pool().id() != fixed.pool().id() {
            return Err(UringError::ForeignBuffer);
        }
        let (addr, len, index) = fixed.target(buf.index(), &(0..buf.len()))?;
        self.submitted = true;
        Ok(opcode::SendZc::new(fd, addr.cast_const(), len)
            .buf_index(Some(index))
            .flags(libc::MSG_WAITALL)
            .build())
    }

    /// Takes one completion of this send: `Ok(None)` while the buffer must
    /// stay held (the first completion, with a notification to come), and
    /// `Ok(Some(done))` when the kernel is done with it: at the
    /// notification, or at a first completion without `IORING_CQE_F_MORE`
    /// (the send failed before pinning anything, and no notification
    /// follows).
    ///
    /// # Errors
    /// [`UringError::UnexpectedCompletion`]: a completion after the send
    /// was done, or a second first completion (the same one twice). The
    /// buffer stays held.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::os::fd::AsRawFd;
    /// # use std::sync::Arc;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1)?);
    /// let Ok(mut ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// if iobuf_pool::uring::Features::probe(&ring)?.require_send_zc().is_err() {
    ///     return Ok(());
    /// }
    /// let (tx, mut rx) = std::os::unix::net::UnixStream::pair()?;
    /// let mut buf = pool.get_owned();
    /// buf.clear();
    /// buf.extend_from_slice_checked(b"zero copy")?;
    /// let mut send = iobuf_pool::uring::ZcSend::new(buf);
    /// let entry = send.entry(io_uring::types::Fd(tx.as_raw_fd()))?;
    /// // SAFETY: `send` holds the buffer until complete() gives it back, and
    /// // `tx` stays open as long; pushed once.
    /// unsafe { ring.submission().push(&entry)? };
    /// let done = loop {
    ///     ring.submit_and_wait(1)?;
    ///     let cqe = ring.completion().next().ok_or("no completion")?;
    ///     // SAFETY: a completion of this send's entry, reaped from this ring, once.
    ///     match unsafe { send.complete(cqe.result(), cqe.flags()) } {
    ///         Ok(Some(done)) => break done,
    ///         Ok(None) => assert!(send.is_pending()), // the notification is to come
    ///         // A socket type without zero copy fails the send (no notification).
    ///         Err(e) => return Err(e.into()),
    ///     }
    /// };
    /// if let Ok(n) = done.sent {
    ///     let mut got = vec![0; n as usize];
    ///     rx.read_exact(&mut got)?;
    ///     assert_eq!(got, b"zero copy");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Safety
    /// `result` and `flags` are those of one completion of the entry this
    /// value built, reaped from the ring it was pushed to, each passed once.
    /// A made-up notification would return the buffer while the kernel may
    /// still read its pages, and the next owner's writes would change bytes
    /// in flight.
    pub unsafe fn complete(
        &mut self,
        result: i32,
        flags: u32,
    ) -> Result<Option<ZcDone>, UringError> {
        if self.bufs.is_empty() {
            return Err(UringError::UnexpectedCompletion { flags });
        }
        if cqueue::notif(flags) {
            let Some(first) = self.sent else {
                // A notification before its send's completion: the kernel
                // never posts that order.
                return Err(UringError::UnexpectedCompletion { flags });
            };
            return Ok(self.finish(first));
        }
        if self.sent.is_some() {
            return Err(UringError::UnexpectedCompletion { flags });
        }
        self.sent = Some(result);
        if cqueue::more(flags) {
            Ok(None)
        } else {
            Ok(self.finish(result))
        }
    }

    fn finish(&mut self, first: i32) -> Option<ZcDone> {
        if self.bufs.is_empty() {
            return None;
        }
        let bufs = std::mem::take(&mut self.bufs);
        self.gather = None;
        let sent = if first < 0 {
            Err(UringError::Completion(io::Error::from_raw_os_error(-first)))
        } else {
            Ok(first as u32)
        };
        Some(ZcDone { bufs, sent })
    }

    /// The buffers back, if no entry was ever built for them (nothing can
    /// be in flight).
    ///
    /// # Errors
    /// `self`, unchanged, once an entry was built: only the completions
    /// return the buffers.
    ///
    /// ```
    /// # let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let send = iobuf_pool::uring::ZcSend::new(pool.get_owned());
    /// let mut bufs = send.into_bufs().ok().unwrap(); // never submitted
    /// let mut send = iobuf_pool::uring::ZcSend::new(bufs.pop().unwrap());
    /// let _entry = send.entry(io_uring::types::Fd(3)).unwrap();
    /// assert!(send.into_bufs().is_err()); // may be in flight: stays held
    /// ```
    #[allow(clippy::result_large_err)]
    pub fn into_bufs(mut self) -> Result<Vec<OwnedBuf>, ZcSend> {
        if self.submitted {
            return Err(self);
        }
        Ok(std::mem::take(&mut self.bufs))
    }
}

impl Drop for ZcSend {
    fn drop(&mut self) {
        // Built and not finished (`finish` empties both): the kernel may
        // still read the pages, and the gather list until the entry is
        // submitted (even one of no buffers, whose completion `complete`
        // refuses): keep them (and the pool) out of everyone's reach for
        // good.
        if self.submitted && (!self.bufs.is_empty() || self.gather.is_some()) {
            std::mem::forget(std::mem::take(&mut self.bufs));
            std::mem::forget(self.gather.take());
        }
    }
}

impl fmt::Debug for ZcSend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZcSend")
            .field(
                "indices",
                &self.bufs.iter().map(OwnedBuf::index).collect::<Vec<_>>(),
            )
            .field("sent", &self.sent)
            .field("submitted", &self.submitted)
            .finish()
    }
}
