//! Fixed buffers: [`FixedBuffers`], a pool's buffers registered with one
//! ring (`IORING_REGISTER_BUFFERS`), pool index = fixed-buffer index.

use super::sys::{dup_ring_fd, register_raw, IORING_UNREGISTER_BUFFERS};
#[cfg(doc)]
use super::BufRing;
use super::{UringError, MAX_FIXED_BUFFERS, MAX_FIXED_BUFFER_SIZE};
use crate::pool::Held;
#[cfg(doc)]
use crate::RawBuf;
use crate::{BufferPool, IoVec};
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::fmt;
use std::io;
use std::ops::Range;
use std::os::fd::{AsRawFd, OwnedFd};

/// Checks that `range` fits a buffer of `size` bytes and one operation.
fn check_range(range: &Range<usize>, size: usize) -> Result<u32, UringError> {
    let bad = || UringError::BadRange {
        range: range.clone(),
        buffer_size: size,
    };
    if range.start > range.end || range.end > size {
        return Err(bad());
    }
    u32::try_from(range.end - range.start).map_err(|_| bad())
}

/// A pool's buffers registered with an io_uring instance as fixed buffers:
/// fixed-buffer index = pool index. Unregistered on drop.
///
/// The registration borrows the pool, so the pool outlives it. A borrow
/// is enough here, unlike for [`BufRing`]: if the handle (or a
/// [`clone_to`](Self::clone_to) of it) is leaked (`mem::forget`) or its
/// unregister fails, and the pool is freed, the kernel still holds the
/// *pages* it pinned at registration, never following the addresses
/// again. A `READ_FIXED` through that table (an entry any code can build
/// with the `io-uring` crate's safe builders, and push with the usual
/// promise for the memory it names) writes those pinned pages, at the
/// offset of the address the entry names, and only if that address lies
/// inside the registered buffer. The pinned pages are either still the
/// memory at that address (so the bytes written are the ones the entry
/// named) or no longer mapped anywhere: never another owner's memory.
/// `tests/uring_soundness.rs` checks this with a new pool in the freed
/// memory. (A leaked table does keep its pages pinned, and the ring
/// refuses a second table with `EBUSY`.) It keeps a
/// duplicate of the ring's descriptor, not a borrow of the ring: the
/// [`IoUring`] stays free for `&mut` use, and dropping it first is allowed
/// (the instance then lives until this registration is dropped).
///
/// Only one buffer table per ring: registering a second pool on the same
/// ring fails with `EBUSY`. With `IORING_SETUP_SINGLE_ISSUER`, register and
/// drop on the ring's thread.
///
/// ```
/// use iobuf_pool::uring::FixedBuffers;
/// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?;
/// let fixed = FixedBuffers::register(&ring, &pool)?;
/// // One table per ring: a second registration is the kernel's EBUSY.
/// assert!(FixedBuffers::register(&ring, &pool).is_err());
/// drop(fixed); // unregisters
/// FixedBuffers::register(&ring, &pool)?.unregister()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The registration borrows the pool, which cannot be dropped under it:
///
/// ```compile_fail,E0505
/// # let ring = io_uring::IoUring::new(4).unwrap();
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4).unwrap();
/// let fixed = iobuf_pool::uring::FixedBuffers::register(&ring, &pool).unwrap();
/// drop(pool);
/// drop(fixed);
/// ```
#[must_use = "dropping the registration unregisters the buffers at once"]
pub struct FixedBuffers<'p> {
    pool: &'p BufferPool,
    /// `None` once unregistered (by [`FixedBuffers::unregister`]).
    ring_fd: Option<OwnedFd>,
}

impl<'p> FixedBuffers<'p> {
    /// Registers every buffer of `pool`, in index order.
    ///
    /// # Errors
    /// Checked before calling the kernel: [`UringError::TooManyBuffers`]
    /// (more than [`MAX_FIXED_BUFFERS`] buffers),
    /// [`UringError::BufferTooLarge`] (buffers over
    /// [`MAX_FIXED_BUFFER_SIZE`]), [`UringError::Pool`] (the iovec list
    /// could not be allocated). [`UringError::Register`]: the kernel's
    /// refusal: `EBUSY` (buffers already registered on this ring),
    /// `ENOMEM` (over `RLIMIT_MEMLOCK` on kernels that charge it), ….
    ///
    /// ```
    /// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
    /// # let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?;
    /// let fixed = iobuf_pool::uring::FixedBuffers::register(&ring, &pool)?;
    /// assert_eq!(fixed.len(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register<S, C>(ring: &IoUring<S, C>, pool: &'p BufferPool) -> Result<Self, UringError>
    where
        S: squeue::EntryMarker,
        C: cqueue::EntryMarker,
    {
        if pool.capacity() > MAX_FIXED_BUFFERS {
            return Err(UringError::TooManyBuffers {
                count: pool.capacity(),
                max: MAX_FIXED_BUFFERS,
            });
        }
        if pool.buffer_size() > MAX_FIXED_BUFFER_SIZE {
            return Err(UringError::BufferTooLarge {
                size: pool.buffer_size(),
                max: MAX_FIXED_BUFFER_SIZE,
            });
        }
        let ring_fd = dup_ring_fd(ring, "the ring descriptor")?;
        let iovecs = pool.iovecs()?;
        // (If the returned value is leaked the pages stay pinned, and the
        // kernel writes them only at the address an entry names, whose
        // push, itself unsafe, promised that memory is the caller's: see
        // the type's docs.)
        // SAFETY: each iovec is one buffer of the pool's slab, alive for 'p;
        // the value returned borrows the pool and unregisters in Drop.
        unsafe {
            ring.submitter()
                .register_buffers(IoVec::as_raw_slice(&iovecs))
        }
        .map_err(|source| UringError::Register {
            what: "fixed buffers",
            source,
        })?;
        Ok(FixedBuffers {
            pool,
            ring_fd: Some(ring_fd),
        })
    }

    /// The registered pool.
    ///
    /// ```
    /// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
    /// # let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?;
    /// let fixed = iobuf_pool::uring::FixedBuffers::register(&ring, &pool)?;
    /// assert_eq!(fixed.pool().id(), pool.id());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pool(&self) -> &'p BufferPool {
        self.pool
    }

    /// Number of fixed buffers (the pool's capacity).
    ///
    /// ```
    /// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
    /// # let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?;
    /// let fixed = iobuf_pool::uring::FixedBuffers::register(&ring, &pool)?;
    /// assert_eq!(fixed.len(), pool.capacity());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.pool.capacity()
    }

    /// Always false: a pool has at least one buffer.
    ///
    /// ```
    /// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
    /// # let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?;
    /// let fixed = iobuf_pool::uring::FixedBuffers::register(&ring, &pool)?;
    /// assert!(!fixed.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.pool.capacity() == 0
    }

    /// Address and length of `range` inside buffer `index`, checked.
    pub(super) fn target(
        &self,
        index: usize,
        range: &Range<usize>,
    ) -> Result<(*mut u8, u32, u16), UringError> {
        let len = check_range(range, self.pool.buffer_size())?;
        let base = self.pool.buffer_ptr(index)?;
        // In range (buffer_ptr checked index < capacity ≤ MAX_FIXED_BUFFERS),
        // so it fits the SQE's u16 buffer index.
        let buf_index = index as u16;
        // SAFETY: range.start ≤ buffer_size, so the pointer stays inside (or
        // one past the end of) buffer `index`.
        let addr = unsafe { base.as_ptr().add(range.start) };
        Ok((addr, len, buf_index))
    }

    /// The index of `buf`, if it is a buffer of the registered pool.
    fn owned_index<B: Held + ?Sized>(&self, buf: &B) -> Result<usize, UringError> {
        if buf.held_pool_id() != self.pool.id() {
            return Err(UringError::ForeignBuffer);
        }
        Ok(buf.held_index())
    }

    /// A `READ_FIXED` of `file_offset..` into bytes `range` of `buf` (a
    /// guard or [`RawBuf`] of the registered pool). Building it is safe;
    /// pushing it is the caller's promise to keep `buf` owned and untouched
    /// until the completion (see the module's safety contract).
    ///
    /// # Errors
    /// [`UringError::ForeignBuffer`]: `buf` of another pool.
    /// [`UringError::BadRange`]: `range` not inside one buffer.
    ///
    /// A full read is in the [module docs](super); building one:
    ///
    /// ```
    /// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
    /// # let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?;
    /// let fixed = iobuf_pool::uring::FixedBuffers::register(&ring, &pool)?;
    /// let buf = pool.get();
    /// let read = fixed.read_fixed(io_uring::types::Fd(0), &buf, 0..100, 0)?;
    /// assert!(fixed.read_fixed(io_uring::types::Fd(0), &buf, 0..1 << 30, 0).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_fixed<B: Held + ?Sized>(
        &self,
        fd: types::Fd,
        buf: &B,
        range: Range<usize>,
        file_offset: u64,
    ) -> Result<squeue::Entry, UringError> {
        let index = self.owned_index(buf)?;
        // SAFETY: `buf` holds `index` (checked to be of this pool).
        unsafe { self.read_fixed_index(fd, index, range, file_offset) }
    }

    /// A `WRITE_FIXED` of bytes `range` of `buf` at `file_offset`
    /// (`u64::MAX`: the file position, for pipes and sockets). As
    /// [`read_fixed`](Self::read_fixed).
    ///
    /// # Errors
    /// As [`read_fixed`](Self::read_fixed).
    ///
    /// ```
    /// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
    /// # let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?;
    /// let fixed = iobuf_pool::uring::FixedBuffers::register(&ring, &pool)?;
    /// let other = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 1)?;
    /// let foreign = other.get();
    /// assert!(fixed.write_fixed(io_uring::types::Fd(1), &foreign, 0..10, u64::MAX).is_err());
    /// let write = fixed.write_fixed(io_uring::types::Fd(1), &pool.get(), 0..10, u64::MAX)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_fixed<B: Held + ?Sized>(
        &self,
        fd: types::Fd,
        buf: &B,
        range: Range<usize>,
        file_offset: u64,
    ) -> Result<squeue::Entry, UringError> {
        let index = self.owned_index(buf)?;
        // SAFETY: `buf` holds `index` (checked to be of this pool).
        unsafe { self.write_fixed_index(fd, index, range, file_offset) }
    }

    /// [`read_fixed`](Self::read_fixed) by bare index, for callers whose
    /// owner of the buffer is not a type of this crate.
    ///
    /// # Errors
    /// [`UringError::Pool`]: `index` out of range.
    /// [`UringError::BadRange`]: `range` not inside one buffer.
    ///
    /// # Safety
    /// The caller owns buffer `index` of the registered pool (through a
    /// guard or token of its own) for as long as the entry may be pushed
    /// and until its completion is reaped.
    ///
    /// ```
    /// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
    /// # let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?;
    /// let fixed = iobuf_pool::uring::FixedBuffers::register(&ring, &pool)?;
    /// let raw = pool.take_raw().ok_or("pool dry")?; // held outside a guard
    /// // SAFETY: `raw` owns the index until the entry's completion (never
    /// // pushed here).
    /// let read = unsafe { fixed.read_fixed_index(io_uring::types::Fd(0), raw.index(), 0..64, 0) }?;
    /// pool.put_raw(raw)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub unsafe fn read_fixed_index(
        &self,
        fd: types::Fd,
        index: usize,
        range: Range<usize>,
        file_offset: u64,
    ) -> Result<squeue::Entry, UringError> {
        let (addr, len, buf_index) = self.target(index, &range)?;
        Ok(opcode::ReadFixed::new(fd, addr, len, buf_index)
            .offset(file_offset)
            .build())
    }

    /// [`write_fixed`](Self::write_fixed) by bare index.
    ///
    /// # Errors
    /// As [`read_fixed_index`](Self::read_fixed_index).
    ///
    /// # Safety
    /// As [`read_fixed_index`](Self::read_fixed_index).
    ///
    /// ```
    /// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
    /// # let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?;
    /// let fixed = iobuf_pool::uring::FixedBuffers::register(&ring, &pool)?;
    /// // SAFETY: never pushed; an index out of range is an error anyway.
    /// assert!(unsafe { fixed.write_fixed_index(io_uring::types::Fd(1), 99, 0..1, 0) }.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub unsafe fn write_fixed_index(
        &self,
        fd: types::Fd,
        index: usize,
        range: Range<usize>,
        file_offset: u64,
    ) -> Result<squeue::Entry, UringError> {
        let (addr, len, buf_index) = self.target(index, &range)?;
        Ok(opcode::WriteFixed::new(fd, addr, len, buf_index)
            .offset(file_offset)
            .build())
    }

    /// Shares this registration with another ring (`IORING_REGISTER_CLONE_BUFFERS`,
    /// Linux 6.12): `ring` gets the same buffer table, pinned once, so pool
    /// index = fixed-buffer index there too. For a thread-per-core server:
    /// register the pool once, then clone it into every thread's ring.
    /// Each clone is its own registration, unregistered (from its ring)
    /// when dropped.
    ///
    /// # Errors
    /// [`UringError::Unsupported`]: the kernel does not know the call (it
    /// answers `EINVAL`; probed by trying, not by version). Else the
    /// kernel's refusal: `EBUSY` (`ring` already has buffers), ….
    ///
    /// ```no_run
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Large, 8)?;
    /// let first = io_uring::IoUring::new(8)?;
    /// let fixed = iobuf_pool::uring::FixedBuffers::register(&first, &pool)?;
    /// let second = io_uring::IoUring::new(8)?; // another thread's ring
    /// let shared = fixed.clone_to(&second)?;
    /// assert_eq!(shared.len(), fixed.len());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clone_to<S, C>(&self, ring: &IoUring<S, C>) -> Result<FixedBuffers<'p>, UringError>
    where
        S: squeue::EntryMarker,
        C: cqueue::EntryMarker,
    {
        let Some(src) = &self.ring_fd else {
            return Err(UringError::Register {
                what: "a clone of unregistered fixed buffers",
                source: io::Error::from_raw_os_error(libc::ENXIO),
            });
        };
        let ring_fd = dup_ring_fd(ring, "the ring descriptor")?;
        ring.submitter()
            .register_buffers_clone(src.as_raw_fd())
            .map_err(|source| {
                if source.raw_os_error() == Some(libc::EINVAL) {
                    UringError::Unsupported {
                        what: "cloning registered buffers (IORING_REGISTER_CLONE_BUFFERS)",
                    }
                } else {
                    UringError::Register {
                        what: "a clone of fixed buffers",
                        source,
                    }
                }
            })?;
        Ok(FixedBuffers {
            pool: self.pool,
            ring_fd: Some(ring_fd),
        })
    }

    /// Unregisters now and reports the kernel's answer (drop does the same
    /// but can only ignore a failure).
    ///
    /// # Errors
    /// [`UringError::Register`]: the kernel refused (`EEXIST`: not the
    /// thread of an `IORING_SETUP_SINGLE_ISSUER` ring; `ENXIO`: the table
    /// was already unregistered through the ring). The pages then stay
    /// pinned until the io_uring instance closes.
    ///
    /// ```
    /// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
    /// # let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4)?;
    /// let fixed = iobuf_pool::uring::FixedBuffers::register(&ring, &pool)?;
    /// fixed.unregister()?;
    /// // The ring takes a new table now.
    /// iobuf_pool::uring::FixedBuffers::register(&ring, &pool)?.unregister()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unregister(mut self) -> Result<(), UringError> {
        match self.ring_fd.take() {
            Some(fd) => unregister_buffers(&fd).map_err(|source| UringError::Register {
                what: "fixed buffers (unregister)",
                source,
            }),
            None => Ok(()),
        }
    }
}

fn unregister_buffers(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: IORING_UNREGISTER_BUFFERS takes no argument.
    unsafe { register_raw(fd, IORING_UNREGISTER_BUFFERS, std::ptr::null(), 0) }
}

impl Drop for FixedBuffers<'_> {
    fn drop(&mut self) {
        if let Some(fd) = self.ring_fd.take() {
            // A failure cannot be reported from drop; the ring still holds the
            // pages pinned, and only a new (unsafe) submission could use them.
            let _ = unregister_buffers(&fd);
        }
    }
}

impl fmt::Debug for FixedBuffers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuffers")
            .field("pool", self.pool)
            .field("registered", &self.ring_fd.is_some())
            .finish()
    }
}
