//! The one error type of the library.
//!
//! Every fallible call returns [`Error`]; nothing in the library panics or
//! aborts on a caller's mistake or on memory the OS refuses.

use std::fmt;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A size of zero bytes was asked for.
    ZeroSize,
    /// A count of zero blocks or buffers was asked for.
    ZeroCount,
    /// The alignment is not a power of two.
    BadAlignment(usize),
    /// A size computation (count × size, or rounding up to the alignment)
    /// overflowed, or the result exceeds `isize::MAX`.
    Overflow,
    /// The allocator (the OS) refused an allocation of this many bytes.
    AllocFailed {
        /// Bytes asked for.
        size: usize,
    },
    /// A pool was asked for with zero capacity.
    ZeroCapacity,
    /// A pool capacity beyond what the index ring supports.
    CapacityTooLarge {
        /// The capacity asked for.
        requested: usize,
        /// The largest capacity supported.
        max: usize,
    },
    /// An index not below the pool's capacity.
    IndexOutOfRange {
        /// The index given.
        index: usize,
        /// The pool's capacity.
        capacity: usize,
    },
    /// A [`RawBuf`](crate::RawBuf) given to a pool it does not belong to.
    WrongPool {
        /// The token's buffer index (in its own pool).
        index: usize,
        /// The [`id`](crate::BufferPool::id) of the token's pool.
        pool_id: u64,
    },
    /// No configured tier holds a request of this many bytes.
    NoTierFits {
        /// Bytes asked for.
        len: usize,
    },
    /// A tiered pool was built with no tier, or with one tier twice.
    BadTierConfig(&'static str),
    /// A filled length beyond the buffer's capacity was asked for
    /// (`set_len` on a guard).
    LengthTooLarge {
        /// The length asked for.
        len: usize,
        /// The buffer's capacity.
        capacity: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ZeroSize => f.write_str("size must be greater than zero"),
            Error::ZeroCount => f.write_str("count must be greater than zero"),
            Error::BadAlignment(a) => write!(f, "alignment {a} is not a power of two"),
            Error::Overflow => f.write_str("size overflows the address space"),
            Error::AllocFailed { size } => {
                write!(f, "the allocator refused {size} bytes")
            }
            Error::ZeroCapacity => f.write_str("capacity must be greater than zero"),
            Error::CapacityTooLarge { requested, max } => {
                write!(f, "capacity {requested} exceeds the maximum of {max}")
            }
            Error::IndexOutOfRange { index, capacity } => {
                write!(f, "index {index} is out of range for capacity {capacity}")
            }
            Error::WrongPool { index, pool_id } => write!(
                f,
                "buffer {index} belongs to pool {pool_id}, not to the pool it was given to"
            ),
            Error::NoTierFits { len } => {
                write!(f, "no configured tier holds {len} bytes")
            }
            Error::BadTierConfig(why) => write!(f, "bad tier configuration: {why}"),
            Error::LengthTooLarge { len, capacity } => {
                write!(
                    f,
                    "length {len} exceeds the buffer's capacity of {capacity}"
                )
            }
        }
    }
}

impl std::error::Error for Error {}

/// For `?` on the library's calls in code that returns
/// [`std::io::Result`]: a refused allocation becomes
/// [`ErrorKind::OutOfMemory`](std::io::ErrorKind::OutOfMemory), every other
/// error (a caller's mistake: a bad size, a length past the capacity, a
/// token of another pool) [`ErrorKind::InvalidInput`](std::io::ErrorKind::InvalidInput).
/// The [`Error`] itself stays inside, for
/// [`get_ref`](std::io::Error::get_ref) and `downcast`.
///
/// ```
/// use std::io;
/// fn fill(buf: &mut iobuf_pool::PooledBuf<'_>, n: usize) -> io::Result<()> {
///     buf.set_len(n)?; // iobuf_pool::Error -> io::Error
///     Ok(())
/// }
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
/// let mut buf = pool.get();
/// assert!(fill(&mut buf, 32).is_ok());
/// let err = fill(&mut buf, 33).unwrap_err();
/// assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
/// assert!(matches!(
///     err.get_ref().and_then(|e| e.downcast_ref::<iobuf_pool::Error>()),
///     Some(iobuf_pool::Error::LengthTooLarge { len: 33, capacity: 32 })
/// ));
/// ```
impl From<Error> for std::io::Error {
    fn from(err: Error) -> Self {
        let kind = match err {
            Error::AllocFailed { .. } => std::io::ErrorKind::OutOfMemory,
            _ => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, err)
    }
}

#[cfg(test)]
mod tests {
    use super::Error;
    use std::io;

    #[test]
    fn converts_into_io_error_with_its_kind_and_source() {
        let oom: io::Error = Error::AllocFailed { size: 1 << 40 }.into();
        assert_eq!(oom.kind(), io::ErrorKind::OutOfMemory);
        let bad: io::Error = Error::NoTierFits { len: 7 }.into();
        assert_eq!(bad.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(bad.to_string(), "no configured tier holds 7 bytes");
        let inner = bad.into_inner().unwrap().downcast::<Error>().unwrap();
        assert_eq!(*inner, Error::NoTierFits { len: 7 });
    }
}
