//! The io_uring errors: [`UringError`], and [`cqe_result`] /
//! [`is_unavailable`] that read the kernel's answers.

#[cfg(doc)]
use super::{BufRing, ZcSend, MAX_FIXED_BUFFERS};
use super::{MAX_BUF_RING_ENTRIES, MAX_BUF_RING_INDEX};
use crate::Error;
use std::fmt;
use std::io;
use std::ops::Range;

/// What went wrong in an io_uring call or completion.
///
/// ```
/// use iobuf_pool::uring::{cqe_result, UringError};
/// match cqe_result(-libc::ENOBUFS) {
///     Err(UringError::Completion(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS)),
///     other => panic!("{other:?}"),
/// }
/// ```
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
    /// A bundle completion whose run of buffers is not the ring's: its
    /// first id or one after it is not in the ring at the position the run
    /// needs (another group's completion, or one already taken).
    BadBundle {
        /// The first buffer id in the completion.
        bid: u16,
        /// Buffers the result needs.
        count: usize,
    },
    /// A completion that the value it was given to cannot have: one after
    /// the operation finished, or the same one twice.
    UnexpectedCompletion {
        /// The completion's flags.
        flags: u32,
    },
    /// A second entry asked of a [`ZcSend`]: one send value stands for one
    /// operation, whose completions alone give its buffers back.
    EntryBuilt,
    /// A call for the other kind of ring: [`BufRing::take_part`] on a plain
    /// ring, or `take` / `take_bundle` on an incremental one.
    WrongRingKind {
        /// Whether the ring is incremental.
        incremental: bool,
    },
    /// The kernel lacks a feature this call needs (found by probing it,
    /// not by its version).
    Unsupported {
        /// The feature.
        what: &'static str,
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
    ///
    /// ```
    /// use iobuf_pool::uring::{cqe_result, UringError};
    /// assert_eq!(cqe_result(-libc::EBADF).unwrap_err().raw_os_error(), Some(libc::EBADF));
    /// assert_eq!(UringError::ForeignBuffer.raw_os_error(), None);
    /// ```
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
            UringError::BadBundle { bid, count } => write!(
                f,
                "io_uring: a bundle of {count} buffers from id {bid} is not this ring's run of buffers (taken twice, or another group)"
            ),
            UringError::UnexpectedCompletion { flags } => write!(
                f,
                "io_uring: a completion (flags {flags:#x}) that this operation cannot have (after it finished, or twice)"
            ),
            UringError::EntryBuilt => f.write_str(
                "io_uring: this zero-copy send already built its entry (one operation per send)",
            ),
            UringError::WrongRingKind { incremental: true } => f.write_str(
                "io_uring: an incremental ring's completions are parts: use take_part",
            ),
            UringError::WrongRingKind { incremental: false } => f.write_str(
                "io_uring: take_part needs a ring registered with register_incremental",
            ),
            UringError::Unsupported { what } => {
                write!(f, "io_uring: this kernel does not support {what}")
            }
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
/// # Errors
/// [`UringError::Completion`] with the errno of a negative result.
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
///
/// ```
/// use iobuf_pool::uring::is_unavailable;
/// match io_uring::IoUring::new(8) {
///     Ok(_ring) => {}
///     Err(e) if is_unavailable(&e) => println!("no io_uring here: {e}"),
///     Err(e) => panic!("{e}"),
/// }
/// assert!(is_unavailable(&std::io::Error::from_raw_os_error(libc::ENOSYS)));
/// ```
pub fn is_unavailable(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ENOSYS) | Some(libc::EPERM) | Some(libc::EACCES)
    )
}
