//! Feature `tokio-uring` (Linux): tokio-uring's buffer traits
//! ([`IoBuf`], [`IoBufMut`]) for [`OwnedBuf`] (which keeps its pool's memory alive) and
//! for [`PooledBuf<'static>`] (a `static` or [`leak`](crate::BufferPool::leak)ed
//! pool), so that a pool buffer goes straight into `File::read_at`,
//! `TcpStream::read`, `write_all` and every other tokio-uring operation
//! that takes an owned buffer, and comes back from it, filled.
//!
//! # Filled length: one read contract on every runtime
//! tokio-uring's initialised length (`bytes_init`) is the guard's filled
//! length ([`OwnedBuf::len`]) and its total (`bytes_total`) is the guard's
//! capacity. A fresh guard is empty. **A read sets the filled length to
//! where the kernel's write ended**: tokio-uring reads into the start of
//! the buffer (or of a `buf.slice(a..)`), so after `read_at(buf, pos)`
//! the guard holds exactly the `n` bytes read, and after a read into
//! `buf.slice(a..)` it holds its first `a` bytes and the `n` read after
//! them, whatever its length before. The same contract holds for the
//! `monoio` and `compio` features, so the same code gives the same bytes
//! on all three runtimes.
//!
//! That is why `set_init` here *sets* the length instead of only raising
//! it as tokio-uring's `Vec` impl does (a "high-water mark"): with a
//! raise, a guard reused for a second, shorter read (the last read of a
//! file copy) would keep the first read's tail after the new bytes, and
//! `&buf[..]` would hand that stale tail on as data. Every call of
//! `set_init` in tokio-uring 0.5 passes the end of what was just written
//! (a read's or a `put_slice`'s), so setting is what it means. A write
//! sends the filled bytes and leaves the length alone.
//!
//! ```
//! use std::sync::Arc;
//! use std::io::Write;
//! let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 2).unwrap());
//! let path = std::env::temp_dir().join(format!("iobuf-tu-doc-{}", std::process::id()));
//! tokio_uring::start(async {
//!     let file = tokio_uring::fs::File::create(&path).await?;
//!     let mut out = pool.get_owned(); // empty
//!     write!(out, "hello, ring")?;
//!     let (res, out) = file.write_all_at(out, 0).await; // sends the 11 filled bytes
//!     res?;
//!     drop(out); // back to the pool
//!     file.close().await?;
//!
//!     let file = tokio_uring::fs::File::open(&path).await?;
//!     let (res, buf) = file.read_at(pool.get_owned(), 0).await;
//!     assert_eq!(res?, 11);
//!     assert_eq!(&buf[..], b"hello, ring"); // filled length = bytes read
//!     let (res, buf) = file.read_at(buf, 7).await; // reused: a shorter read
//!     assert_eq!(res?, 4);
//!     assert_eq!(&buf[..], b"ring"); // exactly the new bytes, no stale tail
//!     file.close().await
//! })
//! .unwrap();
//! std::fs::remove_file(&path).unwrap();
//! assert_eq!(pool.stats().in_use, 0);
//! ```
//!
//! # Registered (fixed) buffers
//! tokio-uring registers buffers through its own collections,
//! `buf::fixed::FixedBufRegistry<T: IoBufMut>` and `FixedBufPool<T>`, and
//! both take pool guards: they hold the guards (counted as in use by the
//! pool) while registered, hand out tokio-uring's `FixedBuf` handles for
//! `read_fixed_at` / `write_fixed_at` / `TcpStream::read_fixed`, and drop
//! the guards, which return to the pool, once the collection, every
//! `FixedBuf` of it and the runtime it was registered with are gone.
//! Given a whole pool in index order, registry index = pool index.
//!
//! **A registered buffer's length is tokio-uring's, not the guard's.** The
//! collection reads each guard's filled length once, when it is built
//! (fresh guards: 0), and from then on keeps its own count per buffer,
//! across check-outs, which a read only ever *raises* (tokio-uring's
//! `FixedBuf::set_init`, which this crate cannot change). So a `FixedBuf`
//! checked out again after a longer read still derefs to that longer
//! length: after a short read, `&fixed[..]` ends in stale bytes. Use the
//! count the read returned: `&fixed[..n]` to look, `fixed.slice(..n)` to
//! write on. `FixedBufPool<OwnedBuf>` is not `Clone` (tokio-uring's derive
//! asks `OwnedBuf: Clone`, and a buffer cannot be cloned): share it across
//! tasks in an `Rc`. The [recipe](crate::recipes#registered-buffers-with-tokio-uring)
//! does both, with two tasks.
//!
//! ```
//! use std::sync::Arc;
//! use tokio_uring::buf::fixed::FixedBufRegistry;
//! let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 4).unwrap());
//! let path = std::env::temp_dir().join(format!("iobuf-tu-fixed-{}", std::process::id()));
//! std::fs::write(&path, b"fixed!").unwrap();
//! tokio_uring::start(async {
//!     let mut guards: Vec<_> = std::iter::from_fn(|| pool.try_get_owned()).collect();
//!     guards.sort_by_key(|b| b.index()); // registry index = pool index
//!     let registry = FixedBufRegistry::new(guards);
//!     registry.register()?;
//!     let file = tokio_uring::fs::File::open(&path).await?;
//!     let fixed = registry.check_out(2).expect("buffer 2 is free");
//!     let (res, fixed) = file.read_fixed_at(fixed, 0).await;
//!     assert_eq!(&fixed[..res?], b"fixed!");
//!     file.close().await
//! })
//! .unwrap();
//! std::fs::remove_file(&path).unwrap();
//! assert_eq!(pool.stats().in_use, 0); // back once the runtime has ended
//! ```
//!
//! What tokio-uring 0.5 does **not** allow:
//! * `read_fixed_at` and the other fixed operations take only its own
//!   `FixedBuf`, not a pool guard, and a `FixedBuf` cannot be turned back
//!   into the guard (the collection keeps the guards until it drops): the
//!   bytes of a fixed read are used in place or copied out.
//! * `FixedBuf` and the collections are `Rc`-based, so registered buffers
//!   stay on the thread of their runtime; to move data between threads
//!   without a copy, use plain (unregistered) operations with
//!   [`OwnedBuf`]s, which are `Send`.
//! * One registered collection per runtime at a time; at most
//!   `UIO_MAXIOV` (1,024) buffers in one (the rest of its input is dropped,
//!   so those guards go back to the pool), within `RLIMIT_MEMLOCK`.
//! * Its ring is not exposed, so [`crate::uring::FixedBuffers`] (feature
//!   `io-uring`, for a ring of one's own) cannot register with it.
//!
//! # Runtime shutdown
//! A buffer given to an operation stays with the runtime until the kernel
//! completes it, even if the operation's future is dropped. But tokio-uring
//! 0.5's driver, when the runtime itself is dropped, drops the buffers of
//! operations whose futures were dropped before their cancellation has
//! completed (this is so for every buffer type, `Vec` included). With pool
//! buffers such a buffer would be back in the pool while the kernel may
//! still write to it: let every operation on pool buffers finish (await
//! the tasks that run them) before the runtime ends.

use crate::{OwnedBuf, PooledBuf};
use tokio_uring::buf::{IoBuf, IoBufMut};

/// Both trait impls for one guard type (the same code for both: a guard
/// owns one pool buffer by index and has `as_full`, `len`, `set_len`).
macro_rules! uring_buf_impls {
    ($ty:ty) => {
        /// **tokio-uring** (feature `tokio-uring`): the filled bytes go out
        /// in writes; see the module's read contract.
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio-uring")))]
        // SAFETY: IoBuf's obligations, each met by a pool guard:
        // * `stable_ptr` stays valid and unchanged while the runtime owns the
        //   value, even as it moves: the pointer is into the pool's slab, not
        //   into the guard (which holds only the pool handle, the index and
        //   the filled length); the slab is allocated once when the pool is
        //   made and never moves or shrinks, and the pool outlives the guard
        //   (an `OwnedBuf` holds a counted reference to the pool's core, which
        //   owns the slab: src/pool/lifetime.rs; a `PooledBuf<'static>`
        //   borrows it for 'static).
        // * the `bytes_total()` (= capacity) bytes there belong to this buffer
        //   alone: the guard owns its index exclusively (no other guard,
        //   token, cache or free-list entry names it) until its Drop, which
        //   the runtime runs only after handing the value back.
        // * the first `bytes_init()` bytes are initialised: `len() <=
        //   capacity()` always, and every byte of a pool slab is initialised
        //   (zeroed when allocated, and only bytes are written to it).
        // * `Unpin + 'static`: the fields are a counted core pointer or a
        //   `&'static`, a `usize` and a `usize`.
        unsafe impl IoBuf for $ty {
            #[inline]
            fn stable_ptr(&self) -> *const u8 {
                self.as_full().as_ptr()
            }

            #[inline]
            fn bytes_init(&self) -> usize {
                self.len()
            }

            #[inline]
            fn bytes_total(&self) -> usize {
                self.capacity()
            }
        }

        /// **tokio-uring** (feature `tokio-uring`): a read fills the buffer
        /// from its start and sets the filled length to the bytes read.
        #[cfg_attr(docsrs, doc(cfg(feature = "tokio-uring")))]
        // SAFETY: IoBufMut's obligations, beyond IoBuf's above:
        // * `stable_mut_ptr` is the same stable pointer (as IoBuf), and
        //   writing `bytes_total()` bytes through it is sound: the guard owns
        //   the buffer exclusively and `&mut self` excludes any borrow of it.
        // * `set_init` sets the filled length, never past the capacity (even
        //   if a caller breaks its contract), and every byte below the
        //   capacity is initialised anyway, so any length it sets is sound.
        unsafe impl IoBufMut for $ty {
            #[inline]
            fn stable_mut_ptr(&mut self) -> *mut u8 {
                self.as_full_mut().as_mut_ptr()
            }

            /// Sets the filled length to `pos`, the end of what the runtime
            /// has just had written into the buffer (see the module's
            /// read contract: set, not only raised).
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

uring_buf_impls!(OwnedBuf);
uring_buf_impls!(PooledBuf<'static>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BufferPool, Tier};
    use std::sync::Arc;

    #[test]
    fn trait_view_matches_the_guard() {
        let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
        let mut buf = pool.get_owned();
        assert_eq!((buf.bytes_init(), buf.bytes_total()), (0, 32)); // fresh: empty
        assert_eq!(buf.stable_ptr(), buf.as_full().as_ptr());
        // SAFETY: every byte of a pool buffer is initialised.
        unsafe { buf.set_init(5) };
        assert_eq!(buf.len(), 5);
        // set_init sets the filled length (a shorter read lowers it), and
        // never past the capacity.
        // SAFETY: as above.
        unsafe { buf.set_init(2) };
        assert_eq!(buf.len(), 2);
        // SAFETY: as above (and the impl clamps a length past the capacity).
        unsafe { buf.set_init(1000) };
        assert_eq!(buf.len(), 32);
        let ptr = buf.stable_mut_ptr();
        let moved = buf; // moving the guard does not move the bytes
        assert_eq!(moved.stable_ptr(), ptr as *const u8);
    }

    #[test]
    fn leaked_pool_guards_too() {
        let pool = BufferPool::new(Tier::Pico, 1).unwrap().leak();
        let mut buf = pool.get();
        // SAFETY: every byte of a pool buffer is initialised.
        unsafe { buf.set_init(3) };
        assert_eq!((buf.bytes_init(), buf.bytes_total()), (3, 32));
        drop(buf);
        assert_eq!(pool.stats().in_use, 0);
    }
}
