//! Pools of one tier fixed at compile time: [`TierPool`], its guard
//! [`TierBuf`] (which also gives the buffer as an array), and the twelve
//! per-tier aliases from [`PicoBufferPool`] to [`TitanBufferPool`].

use super::raw::sealed;
use super::*;
use std::ops::{Deref, DerefMut};

/// A [`BufferPool`] of one tier fixed at compile time, whose guards also
/// give the buffer as an array, `&mut [u8; N]`.
///
/// ```
/// let pool = iobuf_pool::tiers::SmallBufferPool::new(4).unwrap();
/// let mut buf = pool.get();
/// let arr: &mut [u8; 2048] = buf.as_array_mut();
/// arr[2047] = 1;
/// assert_eq!(pool.pool().capacity(), 4);
/// ```
pub struct TierPool<const N: usize> {
    inner: BufferPool,
}

impl<const N: usize> TierPool<N> {
    /// The tier of size `N`; naming a size that is not a tier's fails to
    /// compile.
    pub const TIER: Tier = match Tier::for_size(N) {
        Some(t) if t.size() == N => t,
        _ => panic!("TierPool<N>: N must be one of the tier sizes"),
    };

    /// A pool of exactly `capacity` buffers of `N` bytes.
    ///
    /// # Errors
    /// As [`BufferPool::new`].
    ///
    /// ```
    /// assert!(iobuf_pool::tiers::NanoBufferPool::new(0).is_err());
    /// ```
    pub fn new(capacity: usize) -> Result<Self, Error> {
        Ok(TierPool {
            inner: BufferPool::new(Self::TIER, capacity)?,
        })
    }

    /// The untyped pool underneath (for its capacity, its iovecs, a
    /// [`LocalCache`](crate::LocalCache) or an io_uring registration).
    /// Its guards are plain [`PooledBuf`]s.
    pub fn pool(&self) -> &BufferPool {
        &self.inner
    }

    /// Wraps a guard known to be of `N` bytes.
    fn wrap(buf: PooledBuf<'_>) -> TierBuf<'_, N> {
        debug_assert_eq!(buf.capacity(), N);
        TierBuf(buf)
    }

    /// See [`BufferPool::try_get`].
    #[must_use = "dropping the guard returns the buffer at once"]
    #[inline]
    pub fn try_get(&self) -> Option<TierBuf<'_, N>> {
        self.inner.try_get().map(Self::wrap)
    }

    /// See [`BufferPool::get`].
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get(&self) -> TierBuf<'_, N> {
        Self::wrap(self.inner.get())
    }

    /// See [`BufferPool::get_timeout`].
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get_timeout(&self, timeout: Duration) -> Option<TierBuf<'_, N>> {
        self.inner.get_timeout(timeout).map(Self::wrap)
    }
}

impl<const N: usize> fmt::Debug for TierPool<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// A guard of a [`TierPool`]: derefs to its `N` bytes, and also gives them
/// as `[u8; N]`.
///
/// The guard inside is private and never handed out by reference, so it
/// cannot be swapped for a guard of another size: the array is always
/// exactly the buffer.
///
/// ```compile_fail,E0308
/// let huge = iobuf_pool::tiers::HugeBufferPool::new(1).unwrap();
/// let pico = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
/// let mut big = huge.get();
/// *big = pico.get(); // TierBuf derefs to [u8], not to a guard
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard returns the buffer at once"]
pub struct TierBuf<'a, const N: usize>(PooledBuf<'a>);

impl<'a, const N: usize> TierBuf<'a, N> {
    /// The buffer as an array.
    pub fn as_array(&self) -> &[u8; N] {
        let bytes: &[u8] = self.0.as_full();
        // A TierBuf<N> is made only by TierPool<N>, and its guard cannot be
        // replaced (no access to it by reference).
        // SAFETY: so the buffer holds N bytes (TIER.size() == N): the slice
        // is an [u8; N] (same layout, alignment 1).
        unsafe { &*(bytes.as_ptr() as *const [u8; N]) }
    }

    /// The buffer as a mutable array.
    pub fn as_array_mut(&mut self) -> &mut [u8; N] {
        let bytes: &mut [u8] = self.0.as_full_mut();
        // SAFETY: as in as_array; the &mut borrow is unique.
        unsafe { &mut *(bytes.as_mut_ptr() as *mut [u8; N]) }
    }

    /// The buffer's index in its pool.
    pub fn index(&self) -> usize {
        self.0.index()
    }

    /// This buffer as an I/O vector.
    pub fn as_iovec(&mut self) -> IoVec {
        self.0.as_iovec()
    }

    /// The filled length (see [`PooledBuf::len`]); a fresh guard is
    /// empty (its array, [`as_array_mut`](Self::as_array_mut), is always
    /// the whole buffer).
    ///
    /// ```
    /// let pool = iobuf_pool::tiers::PicoBufferPool::new(1).unwrap();
    /// let mut buf = pool.get();
    /// assert_eq!((buf.len(), buf.capacity()), (0, 32));
    /// buf.set_len(32).unwrap();
    /// assert!(!buf.is_empty());
    /// ```
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the filled length is zero.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `N`, the buffer's size.
    pub fn capacity(&self) -> usize {
        N
    }

    /// Sets the filled length (see [`PooledBuf::set_len`]).
    ///
    /// # Errors
    /// [`Error::LengthTooLarge`]: `len > N`.
    ///
    /// ```
    /// let pool = iobuf_pool::tiers::PicoBufferPool::new(1).unwrap();
    /// let mut buf = pool.get();
    /// buf.set_len(4).unwrap();
    /// assert_eq!(buf.len(), 4);
    /// assert!(buf.set_len(33).is_err());
    /// ```
    pub fn set_len(&mut self, len: usize) -> Result<(), Error> {
        self.0.set_len(len)
    }

    /// Sets the filled length to zero.
    pub fn clear(&mut self) {
        self.0.clear()
    }

    /// The bytes past the filled length.
    ///
    /// ```
    /// let pool = iobuf_pool::tiers::PicoBufferPool::new(1).unwrap();
    /// let mut buf = pool.get();
    /// buf.set_len(30).unwrap();
    /// assert_eq!(buf.spare_mut().len(), 2);
    /// ```
    pub fn spare_mut(&mut self) -> &mut [u8] {
        self.0.spare_mut()
    }

    /// The whole buffer, whatever the filled length.
    pub fn as_full(&self) -> &[u8] {
        self.0.as_full()
    }

    /// The whole buffer mutably, whatever the filled length.
    pub fn as_full_mut(&mut self) -> &mut [u8] {
        self.0.as_full_mut()
    }

    /// The untyped guard.
    pub fn into_buf(self) -> PooledBuf<'a> {
        self.0
    }

    /// Leaves the guard for a [`RawBuf`] token (see [`PooledBuf::into_raw`]).
    pub fn into_raw(self) -> RawBuf {
        self.0.into_raw()
    }
}

impl<const N: usize> Deref for TierBuf<'_, N> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<const N: usize> DerefMut for TierBuf<'_, N> {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

/// Appends at the filled length, as [`PooledBuf`]'s `Write`.
///
/// ```
/// use std::io::Write;
/// let pool = iobuf_pool::tiers::PicoBufferPool::new(1).unwrap();
/// let mut buf = pool.get();
/// buf.clear();
/// write!(buf, "{}", 42).unwrap();
/// assert_eq!(&buf[..], b"42");
/// ```
impl<const N: usize> std::io::Write for TierBuf<'_, N> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.write(bytes)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<const N: usize> sealed::Sealed for TierBuf<'_, N> {}
impl<const N: usize> Held for TierBuf<'_, N> {
    fn held_index(&self) -> usize {
        self.0.index
    }
    fn held_pool_id(&self) -> u64 {
        self.0.pool.core().id
    }
}

/// A pool of [`Tier::Pico`] buffers (32 B).
pub type PicoBufferPool = TierPool<{ crate::tier::PICO_SIZE }>;
/// A pool of [`Tier::Nano`] buffers (128 B).
pub type NanoBufferPool = TierPool<{ crate::tier::NANO_SIZE }>;
/// A pool of [`Tier::Micro`] buffers (512 B).
pub type MicroBufferPool = TierPool<{ crate::tier::MICRO_SIZE }>;
/// A pool of [`Tier::Small`] buffers (2 KiB).
pub type SmallBufferPool = TierPool<{ crate::tier::SMALL_SIZE }>;
/// A pool of [`Tier::Medium`] buffers (8 KiB).
pub type MediumBufferPool = TierPool<{ crate::tier::MEDIUM_SIZE }>;
/// A pool of [`Tier::Big`] buffers (32 KiB).
pub type BigBufferPool = TierPool<{ crate::tier::BIG_SIZE }>;
/// A pool of [`Tier::Large`] buffers (128 KiB).
pub type LargeBufferPool = TierPool<{ crate::tier::LARGE_SIZE }>;
/// A pool of [`Tier::Great`] buffers (512 KiB).
pub type GreatBufferPool = TierPool<{ crate::tier::GREAT_SIZE }>;
/// A pool of [`Tier::Huge`] buffers (2 MiB).
pub type HugeBufferPool = TierPool<{ crate::tier::HUGE_SIZE }>;
/// A pool of [`Tier::Vast`] buffers (8 MiB).
pub type VastBufferPool = TierPool<{ crate::tier::VAST_SIZE }>;
/// A pool of [`Tier::Giant`] buffers (32 MiB).
pub type GiantBufferPool = TierPool<{ crate::tier::GIANT_SIZE }>;
/// A pool of [`Tier::Titan`] buffers (128 MiB).
pub type TitanBufferPool = TierPool<{ crate::tier::TITAN_SIZE }>;
