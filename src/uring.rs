//! io_uring with pool buffers (feature `io-uring`, Linux).
//!
//! Why one file of about 1,000 lines: both registrations share the error
//! type, the kernel limits and the descriptor handling, and their ownership
//! rules (what the kernel holds, what a completion proves) are argued once
//! for both; half of it is docs.
//!
//! * [`FixedBuffers`] registers every buffer of a [`BufferPool`] with a ring
//!   (`IORING_REGISTER_BUFFERS`), in index order, so that **pool index =
//!   fixed-buffer index** for `READ_FIXED` / `WRITE_FIXED`. The kernel pins
//!   the pages once, instead of mapping them on every operation.
//! * [`BufRing`] is a provided-buffer ring (`IORING_REGISTER_PBUF_RING`) fed
//!   from a pool: **buffer id = pool index**. Operations with
//!   `IOSQE_BUFFER_SELECT` (a multishot `recv`, say) pick a buffer when data
//!   arrives, and [`BufRing::take`] turns their completion back into a
//!   [`PooledBuf`] guard of that index, which returns to the pool on drop or goes
//!   back to the ring with [`BufRing::provide`]: exactly once, by move.
//!   While a buffer is in the ring, the ring holds its [`RawBuf`] token, so
//!   no safe call (a pool get, [`BufferPool::guard`]) can reach it.
//!
//! Both borrow the pool, so it outlives the registration, and both keep a
//! duplicate of the ring's descriptor, so they can unregister on drop without
//! borrowing the [`IoUring`] (whose submission and completion queues need
//! `&mut`). The duplicate names the same io_uring instance even if the
//! original descriptor number is closed and reused.
//!
//! Kernel failures come back as [`UringError`], never as panics: failed
//! registrations, and negative completion results through [`cqe_result`] or
//! [`BufRing::take`].
//!
//! # Safety contract of submissions
//! Pushing an entry onto a submission queue is `unsafe` in the `io-uring`
//! crate: the caller promises that the memory it names stays valid until
//! the operation completes. With pool buffers that means: keep the buffer
//! owned (a live [`PooledBuf`], or a [`RawBuf`] token from
//! [`BufferPool::take_raw`]), and do not touch its bytes through it, until
//! its completion has been reaped; and do not drop a [`BufRing`] while
//! operations selecting from its group are in flight.
//!
//! The entry builders of [`FixedBuffers`] take the guard or token by
//! reference, so the index they encode is one the caller holds. The one call
//! that trusts a completion, [`BufRing::take`], is `unsafe`: a buffer id
//! alone cannot tell a buffer the kernel has picked from one it still holds.
//!
//! ```no_run
//! use io_uring::{types, IoUring};
//! use iobuf_pool::uring::{cqe_result, FixedBuffers};
//! use iobuf_pool::{BufferPool, Tier};
//! use std::os::fd::AsRawFd;
//!
//! let pool = BufferPool::new(Tier::Large, 8)?;
//! let mut ring = IoUring::new(8)?;
//! let fixed = FixedBuffers::register(&ring, &pool)?;
//! let file = std::fs::File::open("/etc/hostname")?;
//! let buf = pool.get();
//! let read = fixed.read_fixed(types::Fd(file.as_raw_fd()), &buf, 0..buf.len(), 0)?;
//! // SAFETY: `buf` (and so its bytes) lives until the completion is reaped
//! // below; `file` stays open as long.
//! unsafe { ring.submission().push(&read)? };
//! ring.submit_and_wait(1)?;
//! let cqe = ring.completion().next().expect("one completion");
//! let n = cqe_result(cqe.result())? as usize;
//! println!("{:?}", String::from_utf8_lossy(&buf[..n]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::pool::Held;
use crate::{AlignedBuf, BufferPool, Error, IoVec, PooledBuf, RawBuf};
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::fmt;
use std::io;
use std::ops::{Deref, Range};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};

/// Most buffers one `IORING_REGISTER_BUFFERS` call takes (the kernel's
/// `IORING_MAX_REG_BUFFERS`).
pub const MAX_FIXED_BUFFERS: usize = 1 << 14;

/// Largest single registered buffer the kernel accepts (1 GiB).
pub const MAX_FIXED_BUFFER_SIZE: usize = 1 << 30;

/// Most entries of a provided-buffer ring.
pub const MAX_BUF_RING_ENTRIES: u16 = 1 << 15;

/// Largest pool index a provided-buffer ring can carry: buffer ids are u16.
pub const MAX_BUF_RING_INDEX: usize = u16::MAX as usize;

// The unregister opcodes of io_uring_register(2), from the kernel's uapi
// (the io-uring crate keeps its `sys` module private). They are ABI and do
// not change.
const IORING_UNREGISTER_BUFFERS: libc::c_uint = 1;
const IORING_UNREGISTER_PBUF_RING: libc::c_uint = 23;

/// What went wrong in an io_uring call or completion.
#[derive(Debug)]
#[non_exhaustive]
pub enum UringError {
    /// An `io_uring_register` call (or duplicating the ring's descriptor for
    /// one) failed.
    Register {
        /// What was being registered.
        what: &'static str,
        /// The kernel's error.
        source: io::Error,
    },
    /// A completion carried a negative result: the kernel failed the
    /// operation with this errno.
    Completion(io::Error),
    /// The pool has more buffers than one registration takes.
    TooManyBuffers {
        /// Buffers in the pool.
        count: usize,
        /// [`MAX_FIXED_BUFFERS`].
        max: usize,
    },
    /// The pool's buffers are larger than the kernel registers.
    BufferTooLarge {
        /// Bytes per buffer.
        size: usize,
        /// The largest size accepted.
        max: usize,
    },
    /// A provided-buffer ring size that is zero, not a power of two, or
    /// above [`MAX_BUF_RING_ENTRIES`].
    BadRingEntries(u32),
    /// A pool index above [`MAX_BUF_RING_INDEX`] cannot be a buffer id.
    IndexTooLarge {
        /// The index.
        index: usize,
    },
    /// Every entry of the provided-buffer ring already holds a buffer.
    RingFull {
        /// The ring's size.
        entries: u16,
    },
    /// A completion names a buffer id that this ring does not hold (taken
    /// twice, or from another buffer group).
    UnknownBuffer {
        /// The buffer id in the completion.
        bid: u16,
    },
    /// A completion with a positive result but no buffer: not an operation
    /// that selected from a provided-buffer ring.
    NoBuffer {
        /// The completion's result.
        result: i32,
    },
    /// A buffer of another pool was given to a registration of this one.
    ForeignBuffer,
    /// A byte range that does not fit in one pool buffer, or a length the
    /// kernel cannot take in one operation.
    BadRange {
        /// The range asked for.
        range: Range<usize>,
        /// Bytes per buffer.
        buffer_size: usize,
    },
    /// A pool call failed (an index out of range or not held).
    Pool(Error),
}

impl UringError {
    /// The OS error number, for errors that come from the kernel.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            UringError::Register { source, .. } | UringError::Completion(source) => {
                source.raw_os_error()
            }
            _ => None,
        }
    }
}

impl fmt::Display for UringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UringError::Register { what, source } => {
                write!(f, "io_uring: registering {what} failed: {source}")?;
                match source.raw_os_error() {
                    Some(libc::ENOMEM) => f.write_str(
                        " (pinned memory may exceed RLIMIT_MEMLOCK: see `ulimit -l`)",
                    ),
                    Some(libc::EBUSY) => f.write_str(" (buffers are already registered)"),
                    Some(libc::EEXIST) => f.write_str(" (this buffer group id is taken)"),
                    _ => Ok(()),
                }
            }
            UringError::Completion(e) => write!(f, "io_uring: the operation failed: {e}"),
            UringError::TooManyBuffers { count, max } => write!(
                f,
                "io_uring: a pool of {count} buffers exceeds the {max} one registration takes"
            ),
            UringError::BufferTooLarge { size, max } => write!(
                f,
                "io_uring: buffers of {size} bytes exceed the {max} bytes the kernel registers"
            ),
            UringError::BadRingEntries(n) => write!(
                f,
                "io_uring: a provided-buffer ring needs a power of two of entries, 1 to {MAX_BUF_RING_ENTRIES}, not {n}"
            ),
            UringError::IndexTooLarge { index } => write!(
                f,
                "io_uring: pool index {index} exceeds the largest buffer id, {MAX_BUF_RING_INDEX}"
            ),
            UringError::RingFull { entries } => {
                write!(f, "io_uring: all {entries} entries of the buffer ring are in use")
            }
            UringError::UnknownBuffer { bid } => write!(
                f,
                "io_uring: buffer id {bid} is not in this ring (taken twice, or another group)"
            ),
            UringError::NoBuffer { result } => write!(
                f,
                "io_uring: a completion with result {result} carries no provided buffer"
            ),
            UringError::ForeignBuffer => {
                f.write_str("io_uring: the buffer belongs to another pool")
            }
            UringError::BadRange { range, buffer_size } => write!(
                f,
                "io_uring: range {range:?} does not fit a buffer of {buffer_size} bytes"
            ),
            UringError::Pool(e) => write!(f, "io_uring: {e}"),
        }
    }
}

impl std::error::Error for UringError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UringError::Register { source, .. } | UringError::Completion(source) => Some(source),
            UringError::Pool(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for UringError {
    fn from(e: Error) -> Self {
        UringError::Pool(e)
    }
}

impl From<UringError> for io::Error {
    /// A failed completion becomes its errno as it is (so `raw_os_error`
    /// still tells `ENOBUFS` from `ECONNRESET`); a failed registration keeps
    /// its errno's kind and this error's message; the rest are
    /// `InvalidInput`.
    fn from(e: UringError) -> Self {
        match e {
            UringError::Completion(source) => source,
            UringError::Register { ref source, .. } => io::Error::new(source.kind(), e),
            other => io::Error::new(io::ErrorKind::InvalidInput, other),
        }
    }
}

/// A completion's result as a byte count, or the kernel's error.
///
/// ```
/// use iobuf_pool::uring::cqe_result;
/// assert_eq!(cqe_result(42).unwrap(), 42);
/// let e = cqe_result(-libc::EBADF).unwrap_err();
/// assert_eq!(e.raw_os_error(), Some(libc::EBADF));
/// ```
pub fn cqe_result(result: i32) -> Result<u32, UringError> {
    if result < 0 {
        Err(UringError::Completion(io::Error::from_raw_os_error(
            -result,
        )))
    } else {
        Ok(result as u32)
    }
}

/// Whether `IoUring::new` failed because io_uring is not available here
/// (an old kernel: `ENOSYS`; disabled by `kernel.io_uring_disabled` or a
/// seccomp filter: `EPERM`, `EACCES`), rather than for a bug.
pub fn is_unavailable(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ENOSYS) | Some(libc::EPERM) | Some(libc::EACCES)
    )
}

fn dup_ring_fd<S, C>(ring: &IoUring<S, C>, what: &'static str) -> Result<OwnedFd, UringError>
where
    S: squeue::EntryMarker,
    C: cqueue::EntryMarker,
{
    // SAFETY: the descriptor belongs to `ring`, which is borrowed for this
    // call, so it is open for the borrow's (and the duplication's) length.
    let fd = unsafe { BorrowedFd::borrow_raw(ring.as_raw_fd()) };
    fd.try_clone_to_owned()
        .map_err(|source| UringError::Register { what, source })
}

/// `io_uring_register(fd, opcode, arg, nr)`, for the unregister calls that
/// must run in `Drop`, where no `Submitter` is at hand.
///
/// # Safety
/// `arg` points to `nr` valid objects of the type `opcode` reads (or is null
/// with `nr == 0` where the opcode takes no argument).
unsafe fn register_raw(
    fd: &OwnedFd,
    opcode: libc::c_uint,
    arg: *const libc::c_void,
    nr: libc::c_uint,
) -> io::Result<()> {
    // SAFETY: a plain system call on a descriptor we own; `arg` and `nr`
    // are valid for `opcode` by this function's contract.
    let r = unsafe { libc::syscall(libc::SYS_io_uring_register, fd.as_raw_fd(), opcode, arg, nr) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

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
/// The registration borrows the pool, so the pool outlives it. It keeps a
/// duplicate of the ring's descriptor, not a borrow of the ring: the
/// [`IoUring`] stays free for `&mut` use, and dropping it first is allowed
/// (the instance then lives until this registration is dropped).
///
/// Only one buffer table per ring: registering a second pool on the same
/// ring fails with `EBUSY`. With `IORING_SETUP_SINGLE_ISSUER`, register and
/// drop on the ring's thread.
#[must_use = "dropping the registration unregisters the buffers at once"]
pub struct FixedBuffers<'p> {
    pool: &'p BufferPool,
    /// `None` once unregistered (by [`FixedBuffers::unregister`]).
    ring_fd: Option<OwnedFd>,
}

impl<'p> FixedBuffers<'p> {
    /// Registers every buffer of `pool`, in index order.
    ///
    /// Errors: more than [`MAX_FIXED_BUFFERS`] buffers or buffers over
    /// [`MAX_FIXED_BUFFER_SIZE`] (checked before calling the kernel), or the
    /// kernel's refusal: `EBUSY` (buffers already registered on this ring),
    /// `ENOMEM` (over `RLIMIT_MEMLOCK` on kernels that charge it), ….
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
        // (If the returned value is leaked the pages stay pinned, but the
        // kernel touches them only for operations whose submission, itself
        // unsafe, promised the buffer is alive.)
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
    pub fn pool(&self) -> &'p BufferPool {
        self.pool
    }

    /// Number of fixed buffers (the pool's capacity).
    pub fn len(&self) -> usize {
        self.pool.capacity()
    }

    /// Always false: a pool has at least one buffer.
    pub fn is_empty(&self) -> bool {
        self.pool.capacity() == 0
    }

    /// Address and length of `range` inside buffer `index`, checked.
    fn target(
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
    /// Errors: `buf` of another pool, or `range` not inside one buffer.
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
    /// Errors: `index` out of range, or `range` not inside one buffer.
    ///
    /// # Safety
    /// The caller owns buffer `index` of the registered pool (through a
    /// guard or token of its own) for as long as the entry may be pushed
    /// and until its completion is reaped.
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
    /// Errors: as [`read_fixed_index`](Self::read_fixed_index).
    ///
    /// # Safety
    /// As [`read_fixed_index`](Self::read_fixed_index).
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

    /// Unregisters now and reports the kernel's answer (drop does the same
    /// but can only ignore a failure).
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

/// One entry of a provided-buffer ring: the kernel's `struct io_uring_buf`.
/// The `resv` field of entry 0 is the ring's tail.
#[repr(C)]
struct RingEntry {
    addr: u64,
    len: u32,
    bid: u16,
    resv: u16,
}

const _: () = {
    assert!(std::mem::size_of::<RingEntry>() == 16);
    assert!(std::mem::size_of::<RingEntry>() == std::mem::size_of::<types::BufRingEntry>());
    assert!(std::mem::offset_of!(RingEntry, resv) == 14);
};

/// The kernel's `struct io_uring_buf_reg`, for unregistering a group.
#[repr(C)]
#[derive(Default)]
struct BufReg {
    ring_addr: u64,
    ring_entries: u32,
    bgid: u16,
    flags: u16,
    resv: [u64; 3],
}

const _: () = assert!(std::mem::size_of::<BufReg>() == 40);

/// A provided-buffer ring (buffer group `bgid`) fed from a pool: buffer id =
/// pool index.
///
/// Buffers given to the ring ([`provide`](Self::provide),
/// [`fill`](Self::fill)) are held as [`RawBuf`] tokens that this ring alone
/// owns while the kernel may pick them: no safe call elsewhere can reach
/// them. [`take`](Self::take) turns a completion that picked
/// one into a [`Received`] guard; from there the buffer goes back to the
/// pool on drop, or to the ring with [`provide`](Self::provide): each
/// completion hands a buffer out once. Dropping the ring unregisters it and
/// returns the buffers it still holds to the pool.
///
/// One producer: providing takes `&mut self`. It keeps a duplicate of the
/// ring's descriptor, like [`FixedBuffers`].
#[must_use = "dropping the ring unregisters it at once"]
pub struct BufRing<'p> {
    pool: &'p BufferPool,
    /// `None` once unregistered.
    ring_fd: Option<OwnedFd>,
    /// `entries` ring entries, page aligned (the kernel pins these pages and
    /// reads the entries and the tail). `None` only if it had to be leaked.
    mem: Option<AlignedBuf>,
    /// A power of two, at most [`MAX_BUF_RING_ENTRIES`].
    entries: u16,
    bgid: u16,
    /// Our copy of the tail last published to the kernel (wraps at 2^16,
    /// as the kernel's does).
    tail: u16,
    /// Entries written after `tail`, not yet published.
    unpublished: u16,
    /// Buffers published and not yet seen in a completion. Never above
    /// `entries`, so a slot is never overwritten before the kernel has
    /// consumed it.
    in_ring: usize,
    /// `held[i]`: the token of pool index `i` while it is in the ring. One
    /// slot per possible buffer id (at most [`MAX_BUF_RING_INDEX`] + 1).
    held: Vec<Option<RawBuf>>,
}

impl<'p> BufRing<'p> {
    /// Allocates a ring of `entries` entries and registers it as buffer
    /// group `bgid` of `ring`. It starts empty: [`fill`](Self::fill) it.
    ///
    /// Errors: `entries` not a power of two in 1..=[`MAX_BUF_RING_ENTRIES`],
    /// buffers larger than a u32 length, or the kernel's refusal (`EEXIST`:
    /// the group id is taken; `EINVAL`: a kernel older than 5.19).
    pub fn register<S, C>(
        ring: &IoUring<S, C>,
        pool: &'p BufferPool,
        bgid: u16,
        entries: u16,
    ) -> Result<Self, UringError>
    where
        S: squeue::EntryMarker,
        C: cqueue::EntryMarker,
    {
        if entries == 0 || !entries.is_power_of_two() || entries > MAX_BUF_RING_ENTRIES {
            return Err(UringError::BadRingEntries(entries.into()));
        }
        if u32::try_from(pool.buffer_size()).is_err() {
            return Err(UringError::BufferTooLarge {
                size: pool.buffer_size(),
                max: u32::MAX as usize,
            });
        }
        let bytes = (usize::from(entries) * std::mem::size_of::<RingEntry>())
            .next_multiple_of(crate::page_size());
        let ids = pool.capacity().min(MAX_BUF_RING_INDEX + 1);
        let mut held = Vec::new();
        held.try_reserve_exact(ids)
            .map_err(|_| Error::AllocFailed {
                size: ids.saturating_mul(std::mem::size_of::<Option<RawBuf>>()),
            })?;
        held.resize_with(ids, || None);
        let mem = AlignedBuf::page_aligned(bytes)?;
        let ring_fd = dup_ring_fd(ring, "the ring descriptor")?;
        // `mem` is page aligned and zeroed (tail 0, no buffers). If the
        // registration fails here, the kernel keeps nothing.
        // SAFETY: `mem` holds `entries` entries and is owned by the value
        // returned, which unregisters before freeing it (or leaks it).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                mem.base().as_ptr() as u64,
                entries,
                bgid,
                0,
            )
        }
        .map_err(|source| UringError::Register {
            what: "a provided-buffer ring",
            source,
        })?;
        Ok(BufRing {
            pool,
            ring_fd: Some(ring_fd),
            mem: Some(mem),
            entries,
            bgid,
            tail: 0,
            unpublished: 0,
            in_ring: 0,
            held,
        })
    }

    /// The buffer group id, for `buf_group` in submissions.
    pub fn bgid(&self) -> u16 {
        self.bgid
    }

    /// Number of entries.
    pub fn entries(&self) -> u16 {
        self.entries
    }

    /// Buffers given to the ring and not yet seen in a completion.
    pub fn len(&self) -> usize {
        self.in_ring
    }

    /// Whether the ring holds no buffer (a selecting operation would fail
    /// with `ENOBUFS`).
    pub fn is_empty(&self) -> bool {
        self.in_ring == 0
    }

    /// The pool it is fed from.
    pub fn pool(&self) -> &'p BufferPool {
        self.pool
    }

    /// Writes the entry for `raw` (a token of this pool, handed to the ring)
    /// at the next free slot, not yet visible to the kernel. The caller has
    /// checked `in_ring < entries` and `index <= MAX_BUF_RING_INDEX`. On
    /// error the token comes back.
    fn write_entry(&mut self, raw: RawBuf) -> Result<(), (UringError, RawBuf)> {
        let index = raw.index();
        let base = match &self.mem {
            Some(mem) => mem.base().as_ptr() as *mut RingEntry,
            // Cannot happen: `mem` is taken only while the ring is dropped.
            None => {
                return Err((
                    UringError::RingFull {
                        entries: self.entries,
                    },
                    raw,
                ))
            }
        };
        if index >= self.held.len() {
            return Err((UringError::IndexTooLarge { index }, raw));
        }
        let addr = match self.pool.buffer_ptr(index) {
            Ok(p) => p.as_ptr() as u64,
            Err(e) => return Err((e.into(), raw)),
        };
        let slot =
            usize::from(self.tail.wrapping_add(self.unpublished)) & usize::from(self.entries - 1);
        // The slot is free: fewer than `entries` buffers are in the ring (the
        // caller checked), so the kernel has consumed what was there, and it
        // reads only slots below the published tail, which this is not yet.
        // Fields are written one by one to leave entry 0's `resv` (the tail).
        // SAFETY: slot < entries, inside `mem`, and free (above).
        unsafe {
            let entry = base.add(slot);
            std::ptr::addr_of_mut!((*entry).addr).write(addr);
            std::ptr::addr_of_mut!((*entry).len).write(self.pool.buffer_size() as u32);
            std::ptr::addr_of_mut!((*entry).bid).write(index as u16);
        }
        self.held[index] = Some(raw);
        self.in_ring += 1;
        self.unpublished += 1;
        Ok(())
    }

    /// Makes the written entries visible to the kernel.
    ///
    /// Memory ordering: the tail is stored with `Release`, so the entry
    /// writes before it are visible to whoever reads the new tail with
    /// `Acquire`, as the kernel does (`smp_load_acquire(&br->tail)` when it
    /// selects a buffer). Without it the kernel could see the new tail and
    /// read a stale address from the slot.
    fn publish(&mut self) {
        if self.unpublished == 0 {
            return;
        }
        let Some(mem) = &self.mem else { return };
        let new_tail = self.tail.wrapping_add(self.unpublished);
        let tail_ptr = (mem.base().as_ptr() as *mut RingEntry).cast::<u8>();
        // SAFETY: entry 0's `resv` (offset 14, 2-aligned, inside `mem`) is the
        // ring's tail; the kernel only reads it, we are its one writer, and
        // it is only ever accessed atomically from this side.
        let tail = unsafe { AtomicU16::from_ptr(tail_ptr.add(14).cast::<u16>()) };
        tail.store(new_tail, Ordering::Release);
        self.tail = new_tail;
        self.unpublished = 0;
    }

    fn check_room(&self, index: usize) -> Result<(), UringError> {
        if index > MAX_BUF_RING_INDEX {
            return Err(UringError::IndexTooLarge { index });
        }
        if self.in_ring >= usize::from(self.entries) {
            return Err(UringError::RingFull {
                entries: self.entries,
            });
        }
        Ok(())
    }

    /// Gives `buf` to the ring, for the kernel to pick.
    ///
    /// Errors (the buffer then goes back to its pool as it is dropped): it
    /// belongs to another pool, its index exceeds [`MAX_BUF_RING_INDEX`],
    /// or the ring is full.
    pub fn provide(&mut self, buf: PooledBuf<'p>) -> Result<(), UringError> {
        if buf.pool().id() != self.pool.id() {
            return Err(UringError::ForeignBuffer);
        }
        self.check_room(buf.index())?;
        if let Err((e, raw)) = self.write_entry(buf.into_raw()) {
            // Ours (checked above): back to the pool.
            let _ = self.pool.put_raw(raw);
            return Err(e);
        }
        self.publish();
        Ok(())
    }

    /// Gives a buffer held as a [`RawBuf`] of this ring's pool to the ring.
    /// Errors: as [`provide`](Self::provide); a token of another pool is
    /// [`Error::WrongPool`] (and stays out of its own pool).
    pub fn provide_raw(&mut self, raw: RawBuf) -> Result<(), UringError> {
        let buf = self.pool.guard(raw)?;
        self.provide(buf)
    }

    /// Whether buffer id `bid` is in this ring: given to it and not yet
    /// taken back by [`take`](Self::take).
    pub fn holds(&self, bid: u16) -> bool {
        matches!(self.held.get(usize::from(bid)), Some(Some(_)))
    }

    /// Takes free buffers from the pool until the ring is full or the pool
    /// is dry, and publishes them with one tail update. Returns how many.
    ///
    /// Errors: a pool index above [`MAX_BUF_RING_INDEX`] (a pool of more than
    /// 65536 buffers); the buffers given before it stay in the ring.
    pub fn fill(&mut self) -> Result<usize, UringError> {
        let mut added = 0;
        let result = loop {
            if self.in_ring >= usize::from(self.entries) {
                break Ok(added);
            }
            let Some(raw) = self.pool.take_raw() else {
                break Ok(added);
            };
            if let Err(e) = self.check_room(raw.index()) {
                // Cannot fail: the token is of this pool, just taken.
                let _ = self.pool.put_raw(raw);
                break Err(e);
            }
            if let Err((e, raw)) = self.write_entry(raw) {
                let _ = self.pool.put_raw(raw);
                break Err(e);
            }
            added += 1;
        };
        self.publish();
        result
    }

    /// Reads a completion of an operation that selected from this group:
    /// its `result` and `flags` (`cqe.result()`, `cqe.flags()`).
    ///
    /// * A buffer was picked (`IORING_CQE_F_BUFFER`): `Ok(Some(received))`,
    ///   the buffer with its `result` bytes, now owned by the caller. (If the
    ///   result is also negative, the buffer goes back to the pool and the
    ///   error is returned.)
    /// * No buffer and a result of 0 (end of stream): `Ok(None)`.
    /// * No buffer and a negative result: the kernel's error, e.g. `ENOBUFS`
    ///   when the ring ran dry.
    ///
    /// Errors also: a buffer id this ring does not hold (the same completion
    /// taken twice, or another group's), or a positive result without a
    /// buffer.
    ///
    /// # Safety
    /// `result` and `flags` are those of one completion, reaped from the
    /// io_uring instance this ring is registered with, of an operation that
    /// selected from this ring's group; and each completion is passed here
    /// once. A buffer id alone cannot tell a buffer the kernel has picked
    /// from one still waiting in the ring: an invented or replayed id of a
    /// buffer the ring holds would hand out a buffer the kernel may still
    /// write. (An id the ring does not hold is an error whatever the
    /// caller passes.)
    pub unsafe fn take(
        &mut self,
        result: i32,
        flags: u32,
    ) -> Result<Option<Received<'p>>, UringError> {
        let Some(bid) = cqueue::buffer_select(flags) else {
            return match result {
                0 => Ok(None),
                r if r < 0 => Err(UringError::Completion(io::Error::from_raw_os_error(-r))),
                r => Err(UringError::NoBuffer { result: r }),
            };
        };
        let Some(raw) = self.held.get_mut(usize::from(bid)).and_then(Option::take) else {
            return Err(UringError::UnknownBuffer { bid });
        };
        self.in_ring -= 1;
        // By the contract, the kernel has picked this buffer and is done
        // with it: the ring's token becomes the caller's guard.
        let mut buf = self.pool.guard(raw)?;
        let len = (cqe_result(result)? as usize).min(self.pool.buffer_size());
        // A guard starts empty: its filled length is what was received.
        buf.set_len(len)?;
        Ok(Some(Received { buf, len }))
    }

    /// Unregisters the group now, reporting the kernel's answer, and gives
    /// the buffers still in the ring back to the pool. On failure the ring
    /// memory and its buffers are leaked, since the kernel may still use
    /// them.
    pub fn unregister(mut self) -> Result<(), UringError> {
        self.release().map_err(|source| UringError::Register {
            what: "a provided-buffer ring (unregister)",
            source,
        })
    }

    /// Unregisters, then frees the ring memory and returns its buffers; or,
    /// if the kernel may still use them, leaks both.
    fn release(&mut self) -> io::Result<()> {
        let Some(fd) = self.ring_fd.take() else {
            return Ok(());
        };
        let reg = BufReg {
            bgid: self.bgid,
            ..BufReg::default()
        };
        // SAFETY: IORING_UNREGISTER_PBUF_RING reads one io_uring_buf_reg,
        // which `reg` is (layout checked above), alive for the call.
        let result = unsafe {
            register_raw(
                &fd,
                IORING_UNREGISTER_PBUF_RING,
                (&reg as *const BufReg).cast(),
                1,
            )
        };
        match result {
            // ENOENT / EINVAL: the group is not registered (any more): the
            // kernel no longer reads the ring, as after a success.
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EINVAL)) => {}
            Err(e) => {
                std::mem::forget(self.mem.take());
                // Dropping the tokens keeps their buffers out of the pool
                // for good: the kernel may still write them.
                self.held.clear();
                self.in_ring = 0;
                return Err(e);
            }
        }
        for held in self.held.iter_mut() {
            if let Some(raw) = held.take() {
                // Cannot fail: the ring holds only tokens of its pool.
                let _ = self.pool.put_raw(raw);
            }
        }
        self.in_ring = 0;
        Ok(())
    }
}

impl Drop for BufRing<'_> {
    fn drop(&mut self) {
        // A failure cannot be reported from drop; release() leaked what the
        // kernel may still touch.
        let _ = self.release();
    }
}

impl fmt::Debug for BufRing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("bgid", &self.bgid)
            .field("entries", &self.entries)
            .field("in_ring", &self.in_ring)
            .field("registered", &self.ring_fd.is_some())
            .finish()
    }
}

/// A buffer that a completion picked from a [`BufRing`], with the number of
/// bytes the kernel put in it. Derefs to those bytes. Dropped, the buffer
/// returns to the pool; [`into_buf`](Self::into_buf) gives the guard, for
/// [`BufRing::provide`].
#[derive(Debug)]
#[must_use = "dropping it returns the buffer to the pool at once"]
pub struct Received<'p> {
    buf: PooledBuf<'p>,
    len: usize,
}

impl<'p> Received<'p> {
    /// The pool index (= the buffer id in the completion).
    pub fn index(&self) -> usize {
        self.buf.index()
    }

    /// Bytes received.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was received.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The received bytes, mutably.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }

    /// The whole buffer's guard (its full size, not just the received
    /// bytes).
    pub fn into_buf(self) -> PooledBuf<'p> {
        self.buf
    }

    /// The guard and the received length.
    pub fn into_parts(self) -> (PooledBuf<'p>, usize) {
        (self.buf, self.len)
    }
}

impl Deref for Received<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}
