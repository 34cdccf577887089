//! Feature `monoio` (Linux, its io_uring driver): monoio's buffer traits
//! ([`IoBuf`], [`IoBufMut`]) for [`OwnedBuf`] and [`PooledBuf<'static>`],
//! so that `file.read_at(buf, 0).await` and monoio's socket operations take
//! a pool buffer directly.
//!
//! # Filled length: one read contract on every runtime
//! monoio's `bytes_init` is the guard's filled length ([`OwnedBuf::len`])
//! and `bytes_total` its capacity. A fresh guard is empty. **A read sets
//! the filled length to where the kernel's write ended**: monoio reads
//! into the start of the buffer (or of a `buf.slice_mut(a..)`), and its
//! `set_init` *sets* the initialised length (for a `Vec` it is
//! `set_len`), so after `read_at(buf, pos)` the guard holds exactly the
//! bytes read, whatever its length before. The `tokio-uring` and `compio`
//! features keep the same contract, so the same code gives the same bytes
//! on all three runtimes. A write sends the filled bytes.
//!
//! ```
//! use std::sync::Arc;
//! let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 1).unwrap());
//! let path = std::env::temp_dir().join(format!("iobuf-monoio-doc-{}", std::process::id()));
//! std::fs::write(&path, b"monoio reads into the pool").unwrap();
//! let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build().unwrap();
//! rt.block_on(async {
//!     let file = monoio::fs::File::open(&path).await.unwrap();
//!     let (n, buf) = file.read_at(pool.get_owned(), 0).await;
//!     assert_eq!(n.unwrap(), 26);
//!     assert_eq!(&buf[..], b"monoio reads into the pool"); // len() = bytes read
//!     let (n, buf) = file.read_at(buf, 22).await; // reused: a shorter read
//!     assert_eq!(n.unwrap(), 4);
//!     assert_eq!(&buf[..], b"pool"); // exactly the new bytes
//!     drop(buf);
//!     file.close().await.unwrap();
//! });
//! std::fs::remove_file(&path).unwrap();
//! assert_eq!(pool.stats().in_use, 0);
//! ```
//!
//! Buffers and their `acquire` futures cross threads as with any runtime:
//! the feature turns on monoio's `sync` feature, without which monoio
//! drops a wake-up that comes from another thread (a buffer returned on
//! one runtime's thread to a task waiting in `acquire` on another's would
//! then never wake it).
//!
//! monoio 0.2 has no registered (fixed) buffers: there is nothing to
//! register pool buffers with. As with any runtime, let operations on pool
//! buffers finish before the runtime ends.

use crate::{OwnedBuf, PooledBuf};
use monoio::buf::{IoBuf, IoBufMut};

/// Both trait impls for one guard type.
macro_rules! monoio_buf_impls {
    ($ty:ty) => {
        /// **monoio** (feature `monoio`): the filled bytes go out in
        /// writes; see the module's read contract.
        #[cfg_attr(docsrs, doc(cfg(feature = "monoio")))]
        // SAFETY: IoBuf's obligations, each met by a pool guard:
        // * `read_ptr` returns the same valid address however the value moves:
        //   it points into the pool's slab, not into the guard; the slab is
        //   allocated once when the pool is made and never moves, and the pool
        //   outlives the guard (a counted reference to the pool's core for
        //   `OwnedBuf`, src/pool/lifetime.rs; a 'static borrow for
        //   `PooledBuf<'static>`).
        // * the `bytes_init()` bytes there are initialised and this buffer's
        //   alone: `len() <= capacity()`, every slab byte is initialised
        //   (zeroed when allocated), and the guard owns its index exclusively
        //   until its Drop, which runs only once the runtime hands it back.
        // * `Unpin + 'static`: the fields are a counted core pointer or a
        //   `&'static`, and two `usize`s.
        unsafe impl IoBuf for $ty {
            #[inline]
            fn read_ptr(&self) -> *const u8 {
                self.as_full().as_ptr()
            }

            #[inline]
            fn bytes_init(&self) -> usize {
                self.len()
            }
        }

        /// **monoio** (feature `monoio`): a read fills the buffer from its
        /// start and sets the filled length to the bytes read.
        #[cfg_attr(docsrs, doc(cfg(feature = "monoio")))]
        // SAFETY: IoBufMut's obligations:
        // * `write_ptr` is the same stable address (as IoBuf above), and the
        //   kernel may write `bytes_total()` (= capacity) bytes there: the
        //   guard owns the buffer exclusively, and `&mut self` excludes any
        //   borrow of it.
        // * `set_init` sets the filled length, clamped to the capacity (even
        //   if a caller breaks its contract); every byte below the capacity
        //   is initialised anyway.
        unsafe impl IoBufMut for $ty {
            #[inline]
            fn write_ptr(&mut self) -> *mut u8 {
                self.as_full_mut().as_mut_ptr()
            }

            #[inline]
            fn bytes_total(&mut self) -> usize {
                self.capacity()
            }

            /// Sets the filled length from the runtime's count of bytes
            /// written into the buffer.
            ///
            /// # Safety
            /// The trait's one obligation, that the bytes below `pos` are
            /// initialised, always holds for a pool buffer; `pos` past the
            /// capacity is clamped.
            #[inline]
            unsafe fn set_init(&mut self, pos: usize) {
                // Cannot fail: the length is clamped to the capacity.
                let _ = self.set_len(pos.min(self.capacity()));
            }
        }
    };
}

monoio_buf_impls!(OwnedBuf);
monoio_buf_impls!(PooledBuf<'static>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BufferPool, Tier};
    use std::sync::Arc;

    #[test]
    fn trait_view_matches_the_guard() {
        let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
        let mut buf = pool.get_owned();
        assert_eq!(
            (IoBuf::bytes_init(&buf), IoBufMut::bytes_total(&mut buf)),
            (0, 32) // fresh: empty
        );
        assert_eq!(buf.read_ptr(), buf.as_full().as_ptr());
        // SAFETY: every byte of a pool buffer is initialised.
        unsafe { buf.set_init(5) };
        assert_eq!(buf.len(), 5);
        // SAFETY: as above.
        unsafe { buf.set_init(2) };
        assert_eq!(buf.len(), 2); // set, not raised: the one read contract
                                  // SAFETY: as above (and the impl clamps a length past the capacity).
        unsafe { buf.set_init(1000) };
        assert_eq!(buf.len(), 32);
        let ptr = buf.write_ptr();
        let moved = buf;
        assert_eq!(moved.read_ptr(), ptr as *const u8);
    }
}
