//! Feature `bytes`: [`bytes::BufMut`] for owned buffers, and `freeze()`
//! into a [`bytes::Bytes`] that returns the buffer to its pool when its
//! last clone drops.

use crate::pool::{OwnedBuf, PooledBuf};
use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes};

impl OwnedBuf {
    /// Turns the filled bytes into a [`Bytes`] without a copy (through
    /// [`Bytes::from_owner`]): clones and slices share the buffer, and it
    /// goes back to its pool, once, when the last of them drops, on
    /// whichever thread that is.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use bytes::BufMut;
    /// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let mut buf = pool.get_owned();
    /// buf.clear();
    /// buf.put_slice(b"hello");
    /// let bytes = buf.freeze();
    /// let world = bytes.clone();
    /// drop(bytes);
    /// assert!(pool.try_get().is_none()); // `world` still holds the buffer
    /// assert_eq!(&world[..], b"hello");
    /// drop(world);
    /// assert!(pool.try_get().is_some()); // back after the last clone
    /// ```
    pub fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl PooledBuf<'static> {
    /// [`OwnedBuf::freeze`] for a guard of a `&'static` pool: its filled
    /// bytes as a [`Bytes`], returned to the pool when the last clone drops.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap().leak();
    /// let mut buf = pool.get();
    /// buf.set_len(3).unwrap();
    /// let bytes = buf.freeze();
    /// assert_eq!(bytes.len(), 3);
    /// drop(bytes);
    /// assert!(pool.try_get().is_some());
    /// ```
    pub fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

/// Writes append at the filled length; `remaining_mut` is the room left
/// before the capacity. As for every `BufMut`, `put_slice` and the other
/// `put_*` methods of the `bytes` crate panic when the bytes do not fit:
/// check `remaining_mut()` first, or use
/// [`OwnedBuf::extend_from_slice_checked`], which returns an error instead.
///
/// ```
/// use bytes::BufMut;
/// use std::sync::Arc;
/// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
/// let mut buf = pool.get_owned();
/// buf.clear();
/// buf.put_u32(7);
/// assert_eq!(&buf[..], &[0, 0, 0, 7]);
/// assert_eq!(buf.remaining_mut(), 28);
/// ```
// SAFETY: `chunk_mut` is the spare part of a buffer this guard owns
// exclusively (initialised bytes, so any write through the UninitSlice is
// fine), of exactly `remaining_mut` bytes; `advance_mut` only moves the
// filled length, never past the capacity.
unsafe impl BufMut for OwnedBuf {
    #[inline]
    fn remaining_mut(&self) -> usize {
        self.capacity() - self.len()
    }

    #[inline]
    unsafe fn advance_mut(&mut self, cnt: usize) {
        // Clamped: even a caller that breaks the contract cannot push the
        // length past the capacity. Cannot fail: the length is in range.
        let len = self.len().saturating_add(cnt).min(self.capacity());
        let _ = self.set_len(len);
    }

    #[inline]
    fn chunk_mut(&mut self) -> &mut UninitSlice {
        UninitSlice::new(self.spare_mut())
    }
}
