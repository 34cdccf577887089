//! Feature `compio`: compio's buffer traits (from `compio-buf` 0.8, the
//! traits of compio 0.19: [`IoBuf`], [`IoBufMut`], [`SetLen`]) for
//! [`OwnedBuf`] and [`PooledBuf<'static>`], so that compio's
//! `file.read_at(buf, 0).await`, `write_all_at` and socket operations take a
//! pool buffer directly, with no wrapper type and no cast. compio-buf is
//! an edition-2024 crate: this feature needs Rust 1.85 (the rest of the
//! library, 1.82).
//!
//! # Filled length: one read contract on every runtime
//! compio's initialised bytes (`as_init`, `buf_len`) are the guard's filled
//! bytes ([`OwnedBuf::len`]) and its whole buffer (`as_uninit`,
//! `buf_capacity`) is the guard's capacity. A fresh guard is empty. **A
//! read sets the filled length to where the kernel's write ended**: compio
//! reads into the start of the buffer (compio-io's `AsyncRead::read`: "all
//! existing data in the buffer will be overwritten"; `append` and
//! `buf.uninit()` read after the filled bytes), so after
//! `read_at(buf, pos)` the guard holds exactly the bytes read, whatever its
//! length before. The `tokio-uring` and `monoio` features keep the same
//! contract, so the same code gives the same bytes on all three runtimes.
//!
//! compio's runtime ends a read with `SetLen::advance_to(n)`, which for a
//! `Vec` only *raises* the length; here it sets it (as `SetLen::set_len`,
//! which compio's slices call, does), so that a guard reused for a second,
//! shorter read (the last read of a file copy) holds that read's bytes and
//! no stale tail. A write sends the filled bytes and leaves the length
//! alone.
//!
//! ```
//! use compio::io::{AsyncReadAt, AsyncWriteAtExt};
//! use std::sync::Arc;
//! let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 1).unwrap());
//! let path = std::env::temp_dir().join(format!("iobuf-compio-doc-{}", std::process::id()));
//! compio::runtime::Runtime::new().unwrap().block_on(async {
//!     let mut file = compio::fs::File::create(&path).await?;
//!     let mut out = pool.get_owned(); // empty
//!     out.extend_from_slice_checked(b"compio reads into the pool")?;
//!     let compio::BufResult(res, out) = file.write_all_at(out, 0).await;
//!     res?;
//!     drop(out); // back to the pool
//!     file.close().await?;
//!
//!     let file = compio::fs::File::open(&path).await?;
//!     let compio::BufResult(n, buf) = file.read_at(pool.get_owned(), 0).await;
//!     assert_eq!(n?, 26);
//!     assert_eq!(&buf[..], b"compio reads into the pool"); // len() = bytes read
//!     let compio::BufResult(n, buf) = file.read_at(buf, 22).await; // reused
//!     assert_eq!(n?, 4);
//!     assert_eq!(&buf[..], b"pool"); // exactly the new bytes
//!     drop(buf);
//!     file.close().await
//! })?;
//! std::fs::remove_file(&path)?;
//! assert_eq!(pool.stats().in_use, 0);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # What compio's traits allow
//! compio-buf's `IoBufMut::as_uninit` is a *safe* method that hands out the
//! whole buffer, filled bytes included, as `&mut [MaybeUninit<u8>]`, so
//! safe code could store `MaybeUninit::uninit()` over filled bytes, and a
//! later read of them would be undefined behaviour. That is compio's
//! trait, and the same holds for its own impls (`Vec<u8>`, `[u8]`); this
//! crate's own API never writes anything but initialised bytes. Never
//! store `MaybeUninit::uninit()` through `as_uninit`: write bytes only.
//!
//! compio's registered buffers and provided-buffer rings are its own
//! allocations; this feature does not register pool buffers with them. As
//! with any runtime, let operations on pool buffers finish before the
//! runtime ends.

use crate::{OwnedBuf, PooledBuf};
use compio_buf::{IoBuf, IoBufMut, SetLen};
use std::mem::MaybeUninit;

/// The three trait impls for one guard type.
macro_rules! compio_buf_impls {
    ($ty:ty) => {
        /// **compio** (feature `compio`): the filled bytes go out in writes;
        /// see the module's read contract.
        #[cfg_attr(docsrs, doc(cfg(feature = "compio")))]
        impl IoBuf for $ty {
            #[inline]
            fn as_init(&self) -> &[u8] {
                // The filled bytes, starting at the buffer's first byte in
                // the pool's slab (a stable address: the slab never moves,
                // and the guard holds no bytes itself), even when empty.
                self.filled()
            }
        }

        /// **compio** (feature `compio`): the whole buffer, its capacity, is
        /// the target of a read.
        #[cfg_attr(docsrs, doc(cfg(feature = "compio")))]
        impl IoBufMut for $ty {
            #[inline]
            fn as_uninit(&mut self) -> &mut [MaybeUninit<u8>] {
                let full = self.as_full_mut();
                let len = full.len();
                // compio's trait lets a caller store uninitialised bytes
                // through this (see the module docs).
                // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, every
                // byte is initialised, and the borrow (of `&mut self`) is
                // the only one, for the same bytes and length.
                unsafe { std::slice::from_raw_parts_mut(full.as_mut_ptr().cast(), len) }
            }
        }

        /// **compio** (feature `compio`): `set_len` and `advance_to` both
        /// *set* the filled length (the one read contract), clamped to the
        /// capacity.
        #[cfg_attr(docsrs, doc(cfg(feature = "compio")))]
        impl SetLen for $ty {
            /// Sets the filled length, clamped to the capacity.
            ///
            /// # Safety
            /// compio's contract: `len <= capacity` and the bytes below it
            /// initialised. Both always hold for a pool buffer (a larger
            /// `len` is clamped), so no call can make the guard unsound.
            #[inline]
            unsafe fn set_len(&mut self, len: usize) {
                // Cannot fail: clamped to the capacity.
                let _ = <$ty>::set_len(self, len.min(self.capacity()));
            }

            /// Sets the filled length to `len`, the end of what compio's
            /// runtime has just had written (a read's count): *set*, not
            /// only raised as for a `Vec`, so that a shorter read into a
            /// reused guard leaves no stale tail.
            ///
            /// # Safety
            /// As [`set_len`](SetLen::set_len).
            #[inline]
            unsafe fn advance_to(&mut self, len: usize) {
                // SAFETY: as set_len's contract, which the caller meets.
                unsafe { SetLen::set_len(self, len) }
            }
        }
    };
}

compio_buf_impls!(OwnedBuf);
compio_buf_impls!(PooledBuf<'static>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BufferPool, Tier};
    use std::sync::Arc;

    #[test]
    fn trait_view_matches_the_guard() {
        let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
        let mut buf = pool.get_owned();
        assert_eq!((buf.buf_len(), buf.buf_capacity()), (0, 32)); // fresh: empty
        assert_eq!(IoBuf::buf_ptr(&buf), buf.as_full().as_ptr());
        assert_eq!(
            buf.as_uninit().as_ptr().cast::<u8>(),
            buf.as_full().as_ptr()
        );
        assert!(buf.as_init().is_empty()); // the filled bytes: none yet
        buf.as_full_mut()[..5].copy_from_slice(b"12345");
        // SAFETY: every byte of a pool buffer is initialised.
        unsafe { SetLen::set_len(&mut buf, 5) };
        assert_eq!(buf.as_init(), b"12345");
        // advance_to sets: a shorter read lowers the length (a Vec's only
        // raises it).
        // SAFETY: as above.
        unsafe { buf.advance_to(2) };
        assert_eq!(buf.as_init(), b"12");
        // SAFETY: as above; advance adds to the filled length.
        unsafe { buf.advance(1) };
        assert_eq!(buf.len(), 3);
        // SAFETY: as above (and the impl clamps a length past the capacity).
        unsafe { buf.advance_to(1000) };
        assert_eq!(buf.len(), 32);
        SetLen::clear(&mut buf);
        assert!(IoBuf::is_empty(&buf));
    }

    #[test]
    fn leaked_pool_guards_and_compio_slices() {
        let pool = BufferPool::new(Tier::Pico, 1).unwrap().leak();
        let mut buf = pool.get();
        buf.extend_from_slice_checked(b"hdr:").unwrap();
        // compio's own view past the filled bytes, as its `append` uses:
        // setting its length sets the guard's past the prefix.
        let mut tail = buf.uninit();
        assert_eq!(tail.buf_capacity(), 28);
        tail.as_uninit()[..4].copy_from_slice(&[MaybeUninit::new(b'b'); 4]);
        // SAFETY: the 4 bytes were just written.
        unsafe { tail.advance_to(4) };
        let buf = compio_buf::IntoInner::into_inner(tail);
        assert_eq!(&buf[..], b"hdr:bbbb");
        drop(buf);
        assert_eq!(pool.stats().in_use, 0);
    }
}
