//! Feature `bytes`: the `bytes` crate's traits and conversions for the
//! guards, so a pool buffer goes wherever a `BytesMut` or a `Bytes` goes.
//!
//! | what | for | so that |
//! |---|---|---|
//! | [`bytes::BufMut`] | [`OwnedBuf`], [`PooledBuf`] (any pool lifetime) | `put_*`, tokio's `read_buf(&mut buf)` |
//! | [`bytes::Buf`] | the same | `get_*`, tokio's `write_all_buf(&mut buf)` |
//! | `freeze()`, [`From`] into [`bytes::Bytes`] | [`OwnedBuf`], `PooledBuf<'static>` | `Body::from(buf)`, hyper's `Full::new(buf.into())`, channels of `Bytes` |
//!
//! `BufMut` appends at the filled length (a fresh guard is empty, so a read
//! into a fresh guard holds exactly the bytes read); `Buf` reads the filled
//! bytes from the front. As for every `BufMut`, `put_*` panic when the
//! bytes do not fit (a pool buffer never grows): check
//! `remaining_mut()` first, or use
//! [`extend_from_slice_checked`](OwnedBuf::extend_from_slice_checked),
//! which returns an error instead.
//!
//! ```
//! use bytes::{Buf, BufMut, Bytes};
//! use std::sync::Arc;
//! let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 1).unwrap());
//! let mut buf = pool.get_owned(); // empty
//! buf.put_u16(0xCAFE);
//! buf.put_slice(b"body");
//! assert_eq!(buf.get_u16(), 0xCAFE); // Buf consumes from the front
//! let body: Bytes = buf.into(); // no copy: the buffer returns when `body` drops
//! assert_eq!(&body[..], b"body");
//! ```
//!
//! # The cost of `freeze`
//! [`OwnedBuf::freeze`] makes its [`Bytes`] with [`Bytes::from_owner`]
//! (bytes 1.9): the bytes are not copied, but the guard is moved into one
//! small heap block (the reference count and the guard, 40 bytes), freed
//! when the last clone drops. That block cannot be avoided: `bytes` gives
//! no way to make a `Bytes` over memory it did not allocate other than
//! `from_owner` (its vtables are private), and `from_owner` always boxes
//! its owner. `BytesMut::freeze` of a partly filled `BytesMut` allocates
//! such a block too (its shared header), on top of the allocation of the
//! `BytesMut` itself, which the pool saves. examples/bytes_glue.rs measures
//! both paths.

use crate::pool::{OwnedBuf, PooledBuf};
use bytes::buf::UninitSlice;
use bytes::{Buf, BufMut, Bytes};

impl OwnedBuf {
    /// Turns the filled bytes into a [`Bytes`] without a copy (through
    /// [`Bytes::from_owner`], one small allocation: see the module's "The
    /// cost of `freeze`"): clones and slices share the buffer, and it goes
    /// back to its pool, once, when the last of them drops, on whichever
    /// thread that is. The same as `Bytes::from(buf)`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use bytes::BufMut;
    /// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let mut buf = pool.get_owned();
    /// buf.put_slice(b"hello");
    /// let bytes = buf.freeze();
    /// let world = bytes.clone();
    /// drop(bytes);
    /// assert!(pool.try_get().is_none()); // `world` still holds the buffer
    /// assert_eq!(&world[..], b"hello");
    /// drop(world);
    /// assert!(pool.try_get().is_some()); // back after the last clone
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
    pub fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl PooledBuf<'static> {
    /// [`OwnedBuf::freeze`] for a guard of a `&'static` pool: its filled
    /// bytes as a [`Bytes`], returned to the pool when the last clone drops.
    /// The same as `Bytes::from(buf)`.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap().leak();
    /// let mut buf = pool.get();
    /// buf.extend_from_slice_checked(b"abc").unwrap();
    /// let bytes = buf.freeze();
    /// assert_eq!(&bytes[..], b"abc");
    /// drop(bytes);
    /// assert!(pool.try_get().is_some());
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
    pub fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

/// [`OwnedBuf::freeze`]: the filled bytes, without a copy, for APIs that
/// take `impl Into<Bytes>` (axum's `Body::from`, hyper's `Full::new`).
///
/// ```
/// use std::sync::Arc;
/// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
/// let mut buf = pool.get_owned();
/// buf.extend_from_slice_checked(b"ok").unwrap();
/// let body = bytes::Bytes::from(buf);
/// assert_eq!(&body[..], b"ok");
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
impl From<OwnedBuf> for Bytes {
    fn from(buf: OwnedBuf) -> Bytes {
        buf.freeze()
    }
}

/// [`PooledBuf::freeze`] for a `&'static` pool's guard.
///
/// ```
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap().leak();
/// let mut buf = pool.get();
/// buf.extend_from_slice_checked(b"ok").unwrap();
/// let body: bytes::Bytes = buf.into();
/// assert_eq!(&body[..], b"ok");
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
impl From<PooledBuf<'static>> for Bytes {
    fn from(buf: PooledBuf<'static>) -> Bytes {
        buf.freeze()
    }
}

/// `BufMut` and `Buf` for one guard type: the same code for both (a guard
/// has `len`, `capacity`, `as_full(_mut)`, `set_len`).
macro_rules! bytes_impls {
    ($ty:ty, $name:literal, $setup:literal) => {
        /// Writes append at the filled length; `remaining_mut` is the room
        /// left before the capacity, which never grows. `put_slice`,
        /// `put_u8` and `put_bytes` write straight into the buffer (one
        /// bounds check, one copy); like every `put_*` they panic when the
        /// bytes do not fit.
        ///
        /// ```
        /// use bytes::BufMut;
        #[doc = $setup]
        /// buf.put_u32(7);
        /// buf.put_bytes(b'-', 2);
        /// assert_eq!(&buf[..], &[0, 0, 0, 7, b'-', b'-']);
        /// assert_eq!(buf.remaining_mut(), 32 - 6);
        /// ```
        #[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
        // SAFETY: `chunk_mut` is the spare part of a buffer this guard owns
        // exclusively (initialised bytes, so any write through the
        // UninitSlice is fine), of exactly `remaining_mut` bytes;
        // `advance_mut` only moves the filled length, never past the
        // capacity.
        unsafe impl BufMut for $ty {
            #[inline]
            fn remaining_mut(&self) -> usize {
                self.capacity() - self.len()
            }

            #[inline]
            unsafe fn advance_mut(&mut self, cnt: usize) {
                // Clamped: even a caller that breaks the contract cannot
                // push the length past the capacity. Cannot fail: the
                // length is in range.
                let len = self.len().saturating_add(cnt).min(self.capacity());
                let _ = self.set_len(len);
            }

            #[inline]
            fn chunk_mut(&mut self) -> &mut UninitSlice {
                UninitSlice::new(self.spare_mut())
            }

            #[inline]
            fn put_slice(&mut self, src: &[u8]) {
                let len = self.len();
                let spare = self.spare_mut();
                assert!(
                    src.len() <= spare.len(),
                    "put_slice of {} bytes into a pool buffer with {} bytes of room",
                    src.len(),
                    spare.len()
                );
                spare[..src.len()].copy_from_slice(src);
                // Cannot fail: checked against the room above.
                let _ = self.set_len(len + src.len());
            }

            #[inline]
            fn put_u8(&mut self, n: u8) {
                let len = self.len();
                match self.spare_mut().first_mut() {
                    Some(byte) => *byte = n,
                    None => panic!("put_u8 into a full pool buffer"),
                }
                // Cannot fail: there was room for the byte.
                let _ = self.set_len(len + 1);
            }

            #[inline]
            fn put_bytes(&mut self, val: u8, cnt: usize) {
                let len = self.len();
                let spare = self.spare_mut();
                assert!(
                    cnt <= spare.len(),
                    "put_bytes of {} bytes into a pool buffer with {} bytes of room",
                    cnt,
                    spare.len()
                );
                spare[..cnt].fill(val);
                // Cannot fail: checked against the room above.
                let _ = self.set_len(len + cnt);
            }
        }

        /// Reads the filled bytes from the front, for tokio's
        /// `write_all_buf` and the `get_*` methods: `chunk` is the filled
        /// bytes and `advance` consumes from the front. `advance(n)` of all
        /// the filled bytes just empties the guard; of fewer, it moves the
        /// rest to the front of the buffer (a copy of the rest: the guard
        /// keeps no read cursor), so a consumer that takes a large buffer
        /// in many small pieces should `freeze()` it first (an `OwnedBuf`
        /// or a `PooledBuf<'static>`: [`Bytes`] advances without a copy).
        /// Like every `Buf`, `advance` and the
        /// `get_*` methods panic past the filled bytes.
        ///
        /// ```
        /// use bytes::{Buf, BufMut};
        #[doc = $setup]
        /// buf.put_slice(b"\x00\x05hello");
        /// let n = buf.get_u16() as usize;
        /// assert_eq!(buf.chunk(), &b"hello"[..n]);
        /// buf.advance(n);
        /// assert!(buf.is_empty() && !buf.has_remaining());
        /// ```
        #[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
        impl Buf for $ty {
            #[inline]
            fn remaining(&self) -> usize {
                self.len()
            }

            #[inline]
            fn chunk(&self) -> &[u8] {
                self.filled()
            }

            fn advance(&mut self, cnt: usize) {
                let len = self.len();
                assert!(
                    cnt <= len,
                    "advance of {cnt} bytes past the {len} filled bytes of a pool buffer"
                );
                if cnt < len {
                    self.as_full_mut().copy_within(cnt..len, 0);
                }
                // Cannot fail: len - cnt <= len <= capacity.
                let _ = self.set_len(len - cnt);
            }
        }
    };
}

bytes_impls!(
    OwnedBuf,
    "OwnedBuf",
    "let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());\nlet mut buf = pool.get_owned();"
);
bytes_impls!(
    PooledBuf<'_>,
    "PooledBuf",
    "let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();\nlet mut buf = pool.get();"
);
