//! The buffer guards: [`PooledBuf`] (borrowing its pool) and [`OwnedBuf`]
//! (holding a reference to the pool's memory: src/pool/lifetime.rs), the
//! code they share through one macro (the filled length, `Deref`,
//! `std::io::Write`, `into_raw`), and the gets that make owned guards.

use super::raw::sealed;
use super::*;
use std::ops::{Deref, DerefMut};

impl BufferPool {
    /// [`try_get`](Self::try_get) for an [`OwnedBuf`]: `'static + Send +
    /// Sync`, it keeps the pool's memory alive, also past the pool's drop.
    ///
    /// On a thread-cached pool ([`new`](Self::new)'s default) the buffer's
    /// reference to the pool comes from the thread's cache, with no shared
    /// read-modify-write (see [`OwnedBuf`]).
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
    /// let buf = pool.try_get_owned().unwrap();
    /// assert!(pool.try_get_owned().is_none());
    /// std::thread::spawn(move || drop(buf)).join().unwrap();
    /// assert!(pool.try_get_owned().is_some());
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    // Always, as `try_get`: returned from a call, the guard goes through
    // memory, and the caller's wider load of it waits for the narrower
    // stores (a lean burst of 32 measured 15 ns a pair against 9).
    #[inline(always)]
    pub fn try_get_owned(&self) -> Option<OwnedBuf> {
        if let Some(buf) = self.pop_owned_fast() {
            return Some(buf);
        }
        self.try_get_owned_slow()
    }

    /// [`try_get_owned`](Self::try_get_owned) past this thread's magazine.
    #[inline(never)]
    fn try_get_owned_slow(&self) -> Option<OwnedBuf> {
        self.take_index().map(|index| self.owned_from_index(index))
    }

    /// [`get`](Self::get) for an [`OwnedBuf`] (see
    /// [`try_get_owned`](Self::try_get_owned)).
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// tx.send(pool.get_owned()).unwrap(); // buffers travel through channels
    /// let buf = std::thread::spawn(move || rx.recv().unwrap()).join().unwrap();
    /// assert_eq!((buf.len(), buf.capacity()), (0, 32)); // fresh guards start empty
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get_owned(&self) -> OwnedBuf {
        if let Some(buf) = self.pop_owned_fast() {
            return buf;
        }
        self.owned_from_index(self.wait_index())
    }

    /// [`get_timeout`](Self::get_timeout) for an [`OwnedBuf`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
    /// let held = pool.get_owned();
    /// assert!(pool.get_owned_timeout(Duration::from_millis(1)).is_none());
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get_owned_timeout(&self, timeout: Duration) -> Option<OwnedBuf> {
        if let Some(buf) = self.pop_owned_fast() {
            return Some(buf);
        }
        self.wait_index_until(Instant::now().checked_add(timeout))
            .map(|index| self.owned_from_index(index))
    }
}

/// A buffer taken from a [`BufferPool`]: derefs to its *filled* bytes
/// without a copy and goes back to the pool when dropped.
///
/// It is `Send`: one thread may fill it and another return it. It borrows
/// its pool; with a `&'static BufferPool` (a `static` or
/// [`BufferPool::leak`]) it is a `PooledBuf<'static>`, which moves into
/// threads, tasks and channels at no extra cost. For a guard that owns
/// its pool's memory see [`OwnedBuf`].
///
/// # Filled length
///
/// Every guard has a capacity (its buffer's size) and a filled length
/// `len() <= capacity()`. `Deref`/`DerefMut` give the filled bytes. A
/// fresh guard is **empty** (filled length 0), as a
/// `Vec::with_capacity`, a `BytesMut::with_capacity` and every async
/// runtime's own buffers are: [`std::io::Write`], `bytes::BufMut` and
/// [`extend_from_slice_checked`](Self::extend_from_slice_checked) append at
/// the filled length, and a runtime's read sets it to the bytes read.
/// [`as_full`](Self::as_full)/[`as_full_mut`](Self::as_full_mut) give the
/// whole buffer, whatever the length, in one call and without a copy: the
/// target of a plain `std::io::Read::read`, followed by
/// [`set_len`](Self::set_len). Every byte of a pool buffer is always
/// initialised (the slab starts zeroed and holds only bytes), so `set_len`
/// is safe (the bytes past the filled length are whatever an earlier user
/// of the buffer left there, never uninitialised memory).
///
/// # Traits, by feature
/// * `bytes`: `bytes::BufMut` and `bytes::Buf` for every `PooledBuf`;
///   `freeze()` and `From<PooledBuf<'static>> for bytes::Bytes` for a
///   `&'static` pool's;
/// * `tokio-uring`, `monoio`, `compio`: each runtime's buffer traits for
///   `PooledBuf<'static>`, as for [`OwnedBuf`], with the same read
///   contract.
///
/// ```
/// use std::io::Write;
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
/// let mut buf = pool.get();
/// assert_eq!((buf.len(), buf.capacity()), (0, 32)); // fresh: empty
/// write!(buf, "GET / HTTP/1.1")?;
/// assert_eq!(&buf[..], b"GET / HTTP/1.1");
/// assert_eq!(buf.spare_mut().len(), 32 - 14);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "dropping the guard returns the buffer at once"]
pub struct PooledBuf<'a> {
    /// The pool it came from.
    pub(super) pool: &'a BufferPool,
    /// Owned by this guard alone: not in the ring, in no token.
    pub(super) index: usize,
    /// The filled length, `<= pool.buffer_size()`.
    pub(super) len: usize,
}

/// A buffer that owns a reference to its pool's memory: `'static + Send +
/// Sync`, it moves into threads, tasks and channels and returns to its
/// pool when dropped, on any thread. Made by [`BufferPool::get_owned`] and
/// its siblings, from a plain pool or one behind an `Arc`.
///
/// The pool's memory lives until the pool's handle *and* its last owned
/// buffer are gone, so an `OwnedBuf` may outlive the `BufferPool` it came
/// from. **Cost:** on a thread-cached pool ([`BufferPool::new`]'s
/// default), the reference is taken from and given back to the thread's
/// cache, in the same step as the index: no shared read-modify-write,
/// except one per 32 buffers on a thread that only gets or only drops. On
/// a pool without a thread cache, one atomic read-modify-write per get and
/// per drop, as an `Arc` costs. The protocol: src/pool/lifetime.rs.
///
/// It has the same filled-length API as [`PooledBuf`].
///
/// # Traits, by feature
/// * `bytes`: `bytes::BufMut`, `bytes::Buf`, `freeze()` and
///   `From<OwnedBuf> for bytes::Bytes` (no copy);
/// * `tokio-uring`: tokio-uring's `IoBuf` and `IoBufMut`;
/// * `monoio`: monoio's `IoBuf` and `IoBufMut`;
/// * `compio`: compio-buf's `IoBuf`, `IoBufMut` and `SetLen`.
///
/// On all three runtimes a read fills the buffer from its start and *sets*
/// the filled length to the bytes read, so the same code gives the same
/// bytes on each (see each feature's module docs).
///
/// ```
/// use std::sync::Arc;
/// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 1).unwrap());
/// let mut buf = pool.get_owned();
/// buf.extend_from_slice_checked(b"hello").unwrap();
/// let t = std::thread::spawn(move || {
///     assert_eq!(&buf[..], b"hello");
///     // dropped here, on another thread: back to the pool
/// });
/// t.join().unwrap();
/// assert!(pool.try_get().is_some()); // the one buffer is back
/// ```
#[must_use = "dropping the guard returns the buffer at once"]
pub struct OwnedBuf {
    /// The core of the pool it came from, kept alive by the reference this
    /// guard holds (src/pool/lifetime.rs); also the guard's view of its
    /// pool as a `&BufferPool` (see [`pool`](Self::pool)).
    core: NonNull<PoolCore>,
    /// Owned by this guard alone: not in the ring, in no token.
    index: usize,
    /// The filled length, `<= pool.buffer_size()`.
    len: usize,
}

impl<'a> PooledBuf<'a> {
    /// The pool it came from.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
    /// assert!(std::ptr::eq(pool.get().pool(), &pool));
    /// ```
    pub fn pool(&self) -> &'a BufferPool {
        self.pool
    }

    /// Leaves the guard without returning anything: for the per-thread
    /// cache, which keeps the index itself.
    pub(crate) fn forget_index(self) -> usize {
        let index = self.index;
        std::mem::forget(self);
        index
    }

    /// A guard for an index the caller owns exclusively (not in the ring,
    /// in no token or guard), empty (filled length 0).
    #[inline]
    pub(crate) fn from_owned_index(pool: &'a BufferPool, index: usize) -> Self {
        PooledBuf {
            pool,
            index,
            len: 0,
        }
    }

    /// The pool reference the shared guard code uses.
    #[inline]
    fn owner(&self) -> &BufferPool {
        self.pool
    }

    /// Gives the index back.
    #[inline(always)]
    fn release(&mut self) {
        // SAFETY: the index is in range and owned by this guard alone,
        // which gives it up here (it is being dropped).
        unsafe { self.pool.give_back(self.index) }
    }
}

// SAFETY: the guard owns its buffer's index exclusively and one reference
// to the pool's core (src/pool/lifetime.rs), whose shared state is
// thread-safe (`BufferPool` is `Send + Sync`); the buffer's bytes are
// reached only through `&self`/`&mut self`.
unsafe impl Send for OwnedBuf {}
// SAFETY: as above; `&OwnedBuf` gives read access to its own buffer and a
// `&BufferPool` view, both fine to share.
unsafe impl Sync for OwnedBuf {}

impl OwnedBuf {
    /// The pool it came from.
    ///
    /// Every method of the pool works through it, also after the pool's
    /// own handle has been dropped (the guard keeps the pool's memory
    /// alive): gets through it are served from the buffers that have come
    /// back since.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 2).unwrap();
    /// let buf = pool.get_owned();
    /// assert_eq!(buf.pool().id(), pool.id());
    /// drop(pool); // the guard keeps the pool's memory alive
    /// assert_eq!(buf.pool().capacity(), 2);
    /// assert!(buf.pool().try_get().is_some());
    /// ```
    pub fn pool(&self) -> &BufferPool {
        // SAFETY: this guard's reference keeps the core alive while the
        // borrow lasts.
        unsafe { super::lifetime::view(&self.core) }
    }

    /// A guard for an index the caller owns exclusively and a reference to
    /// the pool's core the caller gives it, empty (filled length 0).
    #[inline(always)]
    pub(super) fn from_parts(core: NonNull<PoolCore>, index: usize) -> Self {
        OwnedBuf {
            core,
            index,
            len: 0,
        }
    }

    /// The pool reference the shared guard code uses.
    #[inline(always)]
    fn owner(&self) -> &BufferPool {
        self.pool()
    }

    /// Gives the index and the reference back.
    #[inline(always)]
    fn release(&mut self) {
        // SAFETY: the guard owns its index and one reference to its pool's
        // core, and gives both up (it is being dropped).
        unsafe { super::lifetime::drop_owned(self.core, self.index) }
    }
}

/// The code [`PooledBuf`] and [`OwnedBuf`] share: both have `index`, `len`
/// and an `owner()` pool, and own their index exclusively. `$setup` is the
/// doctest line that makes a mutable guard `buf` of 32-byte capacity.
macro_rules! guard_common {
    ($ty:ty, $name:literal, $setup:literal) => {
        impl $ty {
            /// The buffer's index in its pool (also its io_uring fixed-buffer
            /// index when the pool's [`iovecs`](BufferPool::iovecs) are
            /// registered).
            ///
            /// ```
            #[doc = $setup]
            /// assert!(buf.index() < 1);
            /// ```
            #[inline]
            pub fn index(&self) -> usize {
                self.index
            }

            /// The buffer's size: the most bytes it can be filled with.
            ///
            /// ```
            #[doc = $setup]
            /// assert_eq!(buf.capacity(), 32);
            /// ```
            #[inline]
            pub fn capacity(&self) -> usize {
                self.owner().buffer_size()
            }

            /// The filled length: how many bytes `Deref` gives. A fresh
            /// guard is empty.
            ///
            /// ```
            #[doc = $setup]
            /// assert_eq!(buf.len(), 0);
            /// buf.extend_from_slice_checked(b"abc").unwrap();
            /// assert_eq!(buf.len(), 3);
            /// ```
            #[inline]
            pub fn len(&self) -> usize {
                self.len
            }

            /// Whether the filled length is zero.
            ///
            /// ```
            #[doc = $setup]
            /// assert!(buf.is_empty()); // fresh guards start empty
            /// buf.extend_from_slice_checked(b"a").unwrap();
            /// assert!(!buf.is_empty());
            /// ```
            #[inline]
            pub fn is_empty(&self) -> bool {
                self.len == 0
            }

            /// Sets the filled length (after the kernel or a copy filled the
            /// buffer through [`as_full_mut`](Self::as_full_mut) or
            /// [`spare_mut`](Self::spare_mut)). Safe: every byte of a pool
            /// buffer is initialised.
            ///
            /// # Errors
            /// `len > capacity()`: [`Error::LengthTooLarge`], and the length
            /// is unchanged. It converts into a [`std::io::Error`] (kind
            /// `InvalidInput`), so `set_len(n)?` works in `io::Result` code.
            ///
            /// ```
            #[doc = $setup]
            /// buf.as_full_mut()[..3].copy_from_slice(b"abc");
            /// buf.set_len(3).unwrap();
            /// assert_eq!(&buf[..], b"abc");
            /// assert!(buf.set_len(33).is_err());
            /// ```
            #[inline]
            pub fn set_len(&mut self, len: usize) -> Result<(), Error> {
                let capacity = self.capacity();
                if len > capacity {
                    return Err(Error::LengthTooLarge { len, capacity });
                }
                self.len = len;
                Ok(())
            }

            /// Sets the filled length to zero (the bytes stay as they are).
            ///
            /// ```
            #[doc = $setup]
            /// buf.extend_from_slice_checked(b"abc").unwrap();
            /// buf.clear();
            /// assert_eq!(buf.len(), 0);
            /// ```
            #[inline]
            pub fn clear(&mut self) {
                self.len = 0;
            }

            /// The filled bytes (what `Deref` gives; crate-internal, where
            /// naming it reads better than a reborrow).
            #[inline]
            pub(crate) fn filled(&self) -> &[u8] {
                &self.as_full()[..self.len]
            }

            /// The filled bytes, mutably (what `DerefMut` gives).
            #[inline]
            pub(crate) fn filled_mut(&mut self) -> &mut [u8] {
                let len = self.len;
                &mut self.as_full_mut()[..len]
            }

            /// The bytes past the filled length, to fill before
            /// [`set_len`](Self::set_len).
            ///
            /// ```
            #[doc = $setup]
            /// buf.set_len(30).unwrap();
            /// buf.spare_mut().copy_from_slice(b"!!");
            /// buf.set_len(32).unwrap();
            /// assert_eq!(&buf[30..], b"!!");
            /// ```
            #[inline]
            pub fn spare_mut(&mut self) -> &mut [u8] {
                let len = self.len;
                &mut self.as_full_mut()[len..]
            }

            /// Appends `bytes` after the filled length.
            ///
            /// # Errors
            /// They do not fit: [`Error::LengthTooLarge`], and nothing is
            /// written.
            ///
            /// ```
            #[doc = $setup]
            /// buf.extend_from_slice_checked(b"ab").unwrap();
            /// assert_eq!(&buf[..], b"ab");
            /// assert!(buf.extend_from_slice_checked(&[0; 31]).is_err());
            /// ```
            pub fn extend_from_slice_checked(&mut self, bytes: &[u8]) -> Result<(), Error> {
                let capacity = self.capacity();
                let end = match self.len.checked_add(bytes.len()) {
                    Some(end) if end <= capacity => end,
                    _ => {
                        return Err(Error::LengthTooLarge {
                            len: self.len.saturating_add(bytes.len()),
                            capacity,
                        })
                    }
                };
                let start = self.len;
                self.as_full_mut()[start..end].copy_from_slice(bytes);
                self.len = end;
                Ok(())
            }

            /// The whole buffer, whatever the filled length.
            ///
            /// ```
            #[doc = $setup]
            /// assert_eq!((buf.len(), buf.as_full().len()), (0, 32));
            /// ```
            #[inline]
            pub fn as_full(&self) -> &[u8] {
                let pool = self.owner();
                // SAFETY: this guard owns `index` exclusively, so nothing else
                // reads or writes these bytes while the borrow of self lives;
                // the index is in range and the bytes are initialised.
                unsafe {
                    std::slice::from_raw_parts(
                        pool.buffer_ptr_unchecked(self.index),
                        pool.buffer_size(),
                    )
                }
            }

            /// The whole buffer mutably, whatever the filled length: the
            /// zero-copy target of a plain read, after which
            /// [`set_len`](Self::set_len) marks the bytes read as filled.
            ///
            /// ```
            /// use std::io::Read;
            #[doc = $setup]
            /// let n = (&b"from a socket"[..]).read(buf.as_full_mut())?;
            /// buf.set_len(n)?; // iobuf_pool::Error converts into io::Error
            /// assert_eq!(&buf[..], b"from a socket");
            /// # Ok::<(), std::io::Error>(())
            /// ```
            #[inline]
            pub fn as_full_mut(&mut self) -> &mut [u8] {
                let pool = self.owner();
                // SAFETY: as in as_full; &mut self makes this the only borrow.
                unsafe {
                    std::slice::from_raw_parts_mut(
                        pool.buffer_ptr_unchecked(self.index),
                        pool.buffer_size(),
                    )
                }
            }

            /// The whole buffer (its capacity, not just the filled bytes)
            /// as an I/O vector, for a read into it.
            ///
            /// ```
            #[doc = $setup]
            /// assert_eq!(buf.as_iovec().len(), 32);
            /// ```
            pub fn as_iovec(&mut self) -> IoVec {
                IoVec::from_mut_slice(self.as_full_mut())
            }

            /// Leaves the guard and holds the buffer as a [`RawBuf`] token:
            /// it stays out of the pool until [`BufferPool::put_raw`] or
            /// [`BufferPool::guard`] (whose guard starts empty: set its
            /// length to the bytes an I/O wrote).
            ///
            /// ```
            #[doc = $setup]
            /// let raw = buf.into_raw();
            /// # let _ = raw.into_index();
            /// ```
            pub fn into_raw(self) -> RawBuf {
                let raw = RawBuf {
                    index: self.index,
                    pool_id: self.owner().core().id,
                };
                // The token takes over the index; the pool handle (for an
                // OwnedBuf, its Arc clone) is dropped without a return.
                let this = std::mem::ManuallyDrop::new(self);
                // SAFETY: `this` is never used again and its Drop never runs,
                // so the handle is read out and dropped exactly once.
                unsafe { guard_drop_handle(&this) };
                raw
            }
        }

        impl Deref for $ty {
            type Target = [u8];
            #[inline]
            fn deref(&self) -> &[u8] {
                self.filled()
            }
        }

        impl DerefMut for $ty {
            #[inline]
            fn deref_mut(&mut self) -> &mut [u8] {
                self.filled_mut()
            }
        }

        impl AsRef<[u8]> for $ty {
            fn as_ref(&self) -> &[u8] {
                self.filled()
            }
        }

        impl AsMut<[u8]> for $ty {
            fn as_mut(&mut self) -> &mut [u8] {
                self.filled_mut()
            }
        }

        /// Appends at the filled length; a write that does not fit is short
        /// (`Ok(0)` once full, so `write_all` fails with `WriteZero`).
        impl std::io::Write for $ty {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                let n = bytes.len().min(self.capacity() - self.len);
                let start = self.len;
                self.as_full_mut()[start..start + n].copy_from_slice(&bytes[..n]);
                self.len += n;
                Ok(n)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl Drop for $ty {
            // Always: the get/drop pair must inline into a caller in another
            // crate, built without LTO, or each costs a call (measured: the
            // bench's one-thread pairs lose about a quarter of their rate).
            #[inline(always)]
            fn drop(&mut self) {
                self.release()
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct($name)
                    .field("tier", &self.owner().core().tier)
                    .field("index", &self.index)
                    .field("len", &self.len)
                    .finish()
            }
        }

        impl sealed::Sealed for $ty {}
        impl Held for $ty {
            fn held_index(&self) -> usize {
                self.index
            }
            fn held_pool_id(&self) -> u64 {
                self.owner().core().id
            }
        }
    };
}

guard_common!(
    PooledBuf<'_>,
    "PooledBuf",
    "let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();\nlet mut buf = pool.get();"
);
guard_common!(
    OwnedBuf,
    "OwnedBuf",
    "let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());\nlet mut buf = pool.get_owned();"
);

/// Drops the pool handle of a guard whose Drop will not run.
///
/// # Safety
/// `guard` is never used again (it sits in a `ManuallyDrop` that is then
/// forgotten), so the handle is dropped exactly once.
unsafe fn guard_drop_handle<G: GuardHandle>(guard: &std::mem::ManuallyDrop<G>) {
    // SAFETY: forwarded from the caller.
    unsafe { G::drop_handle(guard) }
}

/// How [`guard_drop_handle`] drops a guard's pool handle: nothing for a
/// borrow, the `Arc` clone for an owned guard.
trait GuardHandle {
    /// # Safety
    /// As [`guard_drop_handle`].
    unsafe fn drop_handle(this: &std::mem::ManuallyDrop<Self>)
    where
        Self: Sized;
}

impl GuardHandle for PooledBuf<'_> {
    unsafe fn drop_handle(_: &std::mem::ManuallyDrop<Self>) {}
}

impl GuardHandle for OwnedBuf {
    unsafe fn drop_handle(this: &std::mem::ManuallyDrop<Self>) {
        // SAFETY: the caller never uses `this` again and its Drop never
        // runs, so its reference is given up exactly once, here.
        unsafe { super::lifetime::release(this.core, 1) }
    }
}
