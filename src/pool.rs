//! [`BufferPool`]: one page-aligned slab of equal buffers, handed out by
//! index through the lock-free [`IndexRing`] (behind a one-entry reuse slot).

use crate::backoff::{retry_until, wait_for};
use crate::freelist::FreeList;
use crate::{AlignedBuf, Error, IoVec, Tier};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A bounded, lock-free pool of `capacity` buffers of one [`Tier`].
///
/// The buffers are one page-aligned slab, allocated once; the pool hands out
/// their indices. [`Buf`] guards give zero-copy access and return the buffer
/// when dropped, from any thread.
///
/// The free indices sit in a lock-free [`IndexRing`](crate::IndexRing)
/// behind a one-entry *reuse slot*: a put parks its index there when the
/// slot is empty and the next get takes it, at two locked instructions per
/// get and put instead of the ring's four; a thread that gives a buffer back
/// and takes another gets the same, still warm in cache.
/// [`new_fifo`](BufferPool::new_fifo) builds a pool without it, whose
/// buffers go round the ring in order.
///
/// ```
/// use iobuf::{BufferPool, Tier};
/// let pool = BufferPool::new(Tier::Small, 3).unwrap();
/// let mut buf = pool.try_get().unwrap();
/// buf[..5].copy_from_slice(b"hello");
/// assert_eq!(buf.len(), 2048);
/// let i = buf.index();
/// drop(buf); // back in the pool
/// assert!(pool.try_get().is_some());
/// # let _ = i;
/// ```
pub struct BufferPool {
    /// The free indices. Every index in `0..capacity` is, at every moment,
    /// in exactly one place: this list (its reuse slot or its ring), a live
    /// [`Buf`], a [`LocalCache`](crate::LocalCache), or held through the
    /// raw-index API.
    free: FreeList,
    /// `capacity * tier.size()` bytes, page aligned. Never dereferenced as a
    /// whole while the pool lives: buffers are reached through `base`.
    slab: AlignedBuf,
    /// `slab`'s first byte; buffer `i` is `base + i * tier.size()`.
    base: NonNull<u8>,
    /// The size class of every buffer.
    tier: Tier,
    /// Bit `i` is set exactly while index `i` is held through the raw-index
    /// API ([`take_index`](BufferPool::take_index)), so that a second return
    /// of the same index is caught instead of corrupting the ring.
    raw_held: Box<[AtomicU64]>,
    /// Indices that per-thread caches may still reserve; starts at half the
    /// capacity, so caches can never starve the shared ring of every buffer.
    pub(crate) cache_budget: AtomicUsize,
}

// SAFETY: the slab is owned by the pool; each buffer is reachable only by
// the holder of its index, which the ring hands to one owner at a time.
unsafe impl Send for BufferPool {}
// SAFETY: as above: shared access to the pool never gives two owners access
// to one buffer, and every other field is atomic or immutable.
unsafe impl Sync for BufferPool {}

impl BufferPool {
    /// A pool of exactly `capacity` buffers of `tier`, all free.
    ///
    /// The slab is exactly `capacity * tier.size()` bytes (3 Titan buffers
    /// allocate 3 × 128 MiB); only the index ring rounds up to a power of two.
    /// Errors: zero capacity, a capacity above
    /// [`MAX_CAPACITY`](crate::ring::MAX_CAPACITY), a slab size that
    /// overflows, or memory the OS refuses.
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        Self::with_free_list(tier, capacity, FreeList::full)
    }

    /// [`new`](Self::new) without the reuse slot: every get and put goes
    /// through the ring, so buffers are handed out in the order they came
    /// back (strictly so for one thread) and no shared word besides the
    /// ring's is touched. Same errors as `new`.
    ///
    /// ```
    /// use iobuf::{BufferPool, Tier};
    /// let pool = BufferPool::new_fifo(Tier::Pico, 3).unwrap();
    /// let first = pool.try_get().unwrap().index(); // and back at once
    /// assert_ne!(pool.try_get().unwrap().index(), first);
    /// let lifo = BufferPool::new(Tier::Pico, 3).unwrap();
    /// let first = lifo.try_get().unwrap().index();
    /// assert_eq!(lifo.try_get().unwrap().index(), first); // the reuse slot
    /// ```
    pub fn new_fifo(tier: Tier, capacity: usize) -> Result<Self, Error> {
        Self::with_free_list(tier, capacity, FreeList::fifo)
    }

    fn with_free_list(
        tier: Tier,
        capacity: usize,
        free_list: fn(usize) -> Result<FreeList, Error>,
    ) -> Result<Self, Error> {
        if capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        let bytes = capacity.checked_mul(tier.size()).ok_or(Error::Overflow)?;
        let free = free_list(capacity)?;
        let slab = AlignedBuf::page_aligned(bytes)?;
        let base = slab.base();
        Ok(BufferPool {
            free,
            slab,
            base,
            tier,
            raw_held: (0..capacity.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            cache_budget: AtomicUsize::new(capacity / 2),
        })
    }

    /// Number of buffers.
    pub fn capacity(&self) -> usize {
        self.free.capacity()
    }

    /// Whether the pool has the reuse slot ([`new`](Self::new)) or not
    /// ([`new_fifo`](Self::new_fifo)).
    pub fn has_reuse_slot(&self) -> bool {
        self.free.has_reuse_slot()
    }

    /// The tier of every buffer.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// Bytes per buffer.
    pub fn buffer_size(&self) -> usize {
        self.tier.size()
    }

    /// Takes a free buffer, or `None` at once if there is none.
    pub fn try_get(&self) -> Option<Buf<'_>> {
        self.free.pop().map(|index| Buf { pool: self, index })
    }

    /// Takes a free buffer, waiting (spin, yield, then capped jittered
    /// sleep) until one is returned.
    pub fn get(&self) -> Buf<'_> {
        wait_for(|| self.try_get(), || self.looks_dry())
    }

    /// Takes a free buffer, waiting at most `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Option<Buf<'_>> {
        retry_until(
            Instant::now().checked_add(timeout),
            || self.try_get(),
            || self.looks_dry(),
        )
    }

    /// Whether the pool looks dry, by reads alone (for waiting loops).
    pub(crate) fn looks_dry(&self) -> bool {
        self.free.looks_empty()
    }

    /// Pointer to buffer `index`; `index < capacity`.
    #[inline]
    fn buffer_ptr_unchecked(&self, index: usize) -> *mut u8 {
        // SAFETY: index < capacity, so the offset stays inside the slab.
        unsafe { self.base.as_ptr().add(index * self.tier.size()) }
    }

    fn check_range(&self, index: usize) -> Result<(), Error> {
        if index < self.capacity() {
            Ok(())
        } else {
            Err(Error::IndexOutOfRange {
                index,
                capacity: self.capacity(),
            })
        }
    }

    #[inline]
    fn raw_bit(&self, index: usize) -> (&AtomicU64, u64) {
        (&self.raw_held[index / 64], 1 << (index % 64))
    }

    /// Takes a free buffer's index out of the pool, for ownership outside
    /// any guard (an io_uring submission that owns the buffer until its
    /// completion). Give it back with [`return_index`](Self::return_index)
    /// or [`buf_from_index`](Self::buf_from_index).
    ///
    /// ```
    /// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 2).unwrap();
    /// let i = pool.take_index().unwrap();
    /// // SAFETY: we hold index i and make no other reference to its bytes.
    /// unsafe { pool.buffer_mut(i).unwrap()[0] = 1 };
    /// pool.return_index(i).unwrap();
    /// assert!(pool.return_index(i).is_err()); // a second return is caught
    /// ```
    pub fn take_index(&self) -> Option<usize> {
        let index = self.free.pop()?;
        self.mark_raw(index);
        Some(index)
    }

    fn mark_raw(&self, index: usize) {
        let (word, bit) = self.raw_bit(index);
        word.fetch_or(bit, Ordering::AcqRel);
    }

    /// Clears the raw-held mark of `index`, failing if it was not set.
    fn unmark_raw(&self, index: usize) -> Result<(), Error> {
        self.check_range(index)?;
        let (word, bit) = self.raw_bit(index);
        if word.fetch_and(!bit, Ordering::AcqRel) & bit == 0 {
            return Err(Error::NotHeld { index });
        }
        Ok(())
    }

    /// Gives back an index taken with [`take_index`](Self::take_index) or
    /// [`Buf::into_index`].
    ///
    /// Errors: an index out of range, or one not held through this API
    /// (returned twice, never taken, or owned by a live guard); the pool is
    /// unchanged by the failed call.
    ///
    /// A plain index carries no generation: a second return is caught only
    /// while nobody has taken the index again. Once another holder has taken
    /// it through this API, a stale return looks like that holder's own and
    /// hands the buffer out twice. Keep each raw index in one owner (an
    /// io_uring `user_data`, say) until it is given back.
    pub fn return_index(&self, index: usize) -> Result<(), Error> {
        self.unmark_raw(index)?;
        self.free.push(index)
    }

    /// Turns a raw-held index back into a guard that returns it on drop.
    pub fn buf_from_index(&self, index: usize) -> Result<Buf<'_>, Error> {
        self.unmark_raw(index)?;
        Ok(Buf { pool: self, index })
    }

    /// Address of buffer `index`'s first byte, for I/O submissions.
    pub fn buffer_ptr(&self, index: usize) -> Result<NonNull<u8>, Error> {
        self.check_range(index)?;
        // SAFETY: in range, so inside the slab, whose base is non-null.
        Ok(unsafe { NonNull::new_unchecked(self.buffer_ptr_unchecked(index)) })
    }

    /// The bytes of buffer `index`, held through the raw-index API.
    ///
    /// Errors: out of range, or not raw-held.
    ///
    /// # Safety
    /// The caller holds `index` (from [`take_index`](Self::take_index)), and
    /// no other reference to this buffer's bytes, including one from an
    /// earlier call or a kernel I/O in flight, is alive while the returned
    /// slice is.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn buffer_mut(&self, index: usize) -> Result<&mut [u8], Error> {
        self.check_range(index)?;
        let (word, bit) = self.raw_bit(index);
        if word.load(Ordering::Acquire) & bit == 0 {
            return Err(Error::NotHeld { index });
        }
        // SAFETY: in range; the caller holds the index and no other
        // reference to this buffer (the function's contract).
        Ok(unsafe {
            std::slice::from_raw_parts_mut(self.buffer_ptr_unchecked(index), self.tier.size())
        })
    }

    /// The whole slab as one vector: the region to register for DMA.
    pub fn slab_iovec(&self) -> IoVec {
        IoVec::from_raw_parts(self.base.as_ptr(), self.slab.len())
    }

    /// One vector per buffer, in index order: pass these to
    /// `io_uring_register_buffers` and pool index = fixed-buffer index.
    pub fn iovecs(&self) -> Vec<IoVec> {
        (0..self.capacity())
            .map(|i| IoVec::from_raw_parts(self.buffer_ptr_unchecked(i), self.tier.size()))
            .collect()
    }

    /// The free indices (for the per-thread cache's batches).
    pub(crate) fn free_list(&self) -> &FreeList {
        &self.free
    }
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("tier", &self.tier)
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

/// A buffer taken from a [`BufferPool`]: derefs to its bytes without a copy
/// and goes back to the pool when dropped.
///
/// It is `Send`: one thread may fill it and another return it.
pub struct Buf<'a> {
    /// The pool it came from.
    pool: &'a BufferPool,
    /// Owned by this guard alone: not in the ring, not raw-held.
    index: usize,
}

impl<'a> Buf<'a> {
    /// The buffer's index in its pool (also its io_uring fixed-buffer index
    /// when the pool's [`iovecs`](BufferPool::iovecs) are registered).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The pool it came from.
    pub fn pool(&self) -> &'a BufferPool {
        self.pool
    }

    /// This buffer as an I/O vector.
    pub fn as_iovec(&mut self) -> IoVec {
        IoVec::from_mut_slice(self)
    }

    /// Leaves the guard and holds the index raw: the buffer stays out of the
    /// pool until [`BufferPool::return_index`] or
    /// [`BufferPool::buf_from_index`].
    pub fn into_index(self) -> usize {
        let index = self.index;
        self.pool.mark_raw(index);
        std::mem::forget(self);
        index
    }

    /// Leaves the guard without returning or marking anything: for the
    /// per-thread cache, which keeps the index itself.
    pub(crate) fn forget_index(self) -> usize {
        let index = self.index;
        std::mem::forget(self);
        index
    }

    /// A guard for an index the caller owns exclusively (not in the ring,
    /// not raw-held, not guarded).
    pub(crate) fn from_owned_index(pool: &'a BufferPool, index: usize) -> Self {
        Buf { pool, index }
    }
}

impl Deref for Buf<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: this guard owns `index` exclusively, so nothing else reads
        // or writes these bytes while the borrow of self lives.
        unsafe {
            std::slice::from_raw_parts(
                self.pool.buffer_ptr_unchecked(self.index),
                self.pool.buffer_size(),
            )
        }
    }
}

impl DerefMut for Buf<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in deref; &mut self makes this the only borrow.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.pool.buffer_ptr_unchecked(self.index),
                self.pool.buffer_size(),
            )
        }
    }
}

impl Drop for Buf<'_> {
    fn drop(&mut self) {
        // Cannot fail: the index is in range, and owned by this guard, so
        // the ring holds fewer than capacity indices.
        let _ = self.pool.free.push(self.index);
    }
}

impl fmt::Debug for Buf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buf")
            .field("tier", &self.pool.tier)
            .field("index", &self.index)
            .finish()
    }
}

/// A [`BufferPool`] of one tier fixed at compile time, whose guards also
/// give the buffer as an array, `&mut [u8; N]` (the seed's per-tier pools).
///
/// ```
/// let pool = iobuf::SmallBufferPool::new(4).unwrap();
/// let mut buf = pool.get();
/// let arr: &mut [u8; 2048] = buf.as_array_mut();
/// arr[2047] = 1;
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
    pub fn new(capacity: usize) -> Result<Self, Error> {
        Ok(TierPool {
            inner: BufferPool::new(Self::TIER, capacity)?,
        })
    }

    /// See [`BufferPool::try_get`].
    pub fn try_get(&self) -> Option<TierBuf<'_, N>> {
        self.inner.try_get().map(TierBuf)
    }

    /// See [`BufferPool::get`].
    pub fn get(&self) -> TierBuf<'_, N> {
        TierBuf(self.inner.get())
    }

    /// See [`BufferPool::get_timeout`].
    pub fn get_timeout(&self, timeout: Duration) -> Option<TierBuf<'_, N>> {
        self.inner.get_timeout(timeout).map(TierBuf)
    }
}

impl<const N: usize> Deref for TierPool<N> {
    type Target = BufferPool;
    fn deref(&self) -> &BufferPool {
        &self.inner
    }
}

impl<const N: usize> fmt::Debug for TierPool<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// A guard of a [`TierPool`]: a [`Buf`] that also gives `[u8; N]`.
#[derive(Debug)]
pub struct TierBuf<'a, const N: usize>(Buf<'a>);

impl<'a, const N: usize> TierBuf<'a, N> {
    /// The buffer as an array.
    pub fn as_array(&self) -> &[u8; N] {
        let bytes: &[u8] = &self.0;
        // SAFETY: a TierPool<N> only holds buffers of exactly N bytes, so the
        // slice is an [u8; N] (same layout, alignment 1).
        unsafe { &*(bytes.as_ptr() as *const [u8; N]) }
    }

    /// The buffer as a mutable array.
    pub fn as_array_mut(&mut self) -> &mut [u8; N] {
        let bytes: &mut [u8] = &mut self.0;
        // SAFETY: as in as_array; the &mut borrow is unique.
        unsafe { &mut *(bytes.as_mut_ptr() as *mut [u8; N]) }
    }

    /// The untyped guard.
    pub fn into_buf(self) -> Buf<'a> {
        self.0
    }
}

impl<'a, const N: usize> Deref for TierBuf<'a, N> {
    type Target = Buf<'a>;
    fn deref(&self) -> &Buf<'a> {
        &self.0
    }
}

impl<'a, const N: usize> DerefMut for TierBuf<'a, N> {
    fn deref_mut(&mut self) -> &mut Buf<'a> {
        &mut self.0
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tier::{PICO_SIZE, TITAN_SIZE};

    #[test]
    fn capacity_is_exact_and_only_the_ring_rounds_up() {
        let pool = BufferPool::new(Tier::Pico, 3).unwrap();
        assert_eq!(pool.capacity(), 3);
        assert_eq!(pool.buffer_size(), PICO_SIZE);
        assert_eq!(pool.slab_iovec().len(), 3 * PICO_SIZE);
        assert_eq!(pool.iovecs().len(), 3);
        let held: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
        assert_eq!(held.len(), 3);
    }

    #[cfg(not(miri))]
    #[test]
    fn three_titan_buffers_are_three_times_128_mib() {
        // The slab is mapped lazily, so this costs no real memory.
        let pool = BufferPool::new(Tier::Titan, 3).unwrap();
        assert_eq!(pool.slab_iovec().len(), 3 * TITAN_SIZE);
        assert_eq!(pool.slab_iovec().as_ptr() as usize % crate::page_size(), 0);
    }

    #[test]
    fn bad_capacities_are_errors() {
        assert_eq!(
            BufferPool::new(Tier::Small, 0).unwrap_err(),
            Error::ZeroCapacity
        );
        assert_eq!(
            BufferPool::new(Tier::Titan, usize::MAX / 2).unwrap_err(),
            Error::Overflow
        );
        assert!(matches!(
            BufferPool::new(Tier::Pico, crate::ring::MAX_CAPACITY + 1),
            Err(Error::CapacityTooLarge { .. })
        ));
    }

    #[test]
    fn buffers_are_disjoint_aligned_and_keep_their_bytes() {
        let pool = BufferPool::new(Tier::Nano, 4).unwrap();
        let mut bufs: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
        for b in &mut bufs {
            let i = b.index() as u8;
            b.fill(i);
            assert_eq!(b.as_ptr() as usize % 128, 0);
        }
        for b in &bufs {
            assert!(b.iter().all(|&x| x == b.index() as u8));
        }
        let vecs = pool.iovecs();
        for b in &bufs {
            assert_eq!(vecs[b.index()].as_ptr() as *const u8, b.as_ptr());
        }
    }

    #[test]
    fn a_buffer_can_be_returned_from_another_thread() {
        let pool = BufferPool::new(Tier::Pico, 1).unwrap();
        let mut buf = pool.get();
        buf[0] = 42;
        std::thread::scope(|s| {
            s.spawn(move || drop(buf));
        });
        let again = pool.try_get().unwrap();
        assert_eq!(again[0], 42);
    }

    #[test]
    fn raw_index_misuse_is_caught_and_changes_nothing() {
        let pool = BufferPool::new(Tier::Pico, 2).unwrap();
        assert_eq!(
            pool.return_index(2),
            Err(Error::IndexOutOfRange {
                index: 2,
                capacity: 2
            })
        );
        // Never taken: free in the ring.
        assert_eq!(pool.return_index(0), Err(Error::NotHeld { index: 0 }));
        let guard = pool.try_get().unwrap();
        // Owned by a guard, not raw-held.
        assert_eq!(
            pool.return_index(guard.index()),
            Err(Error::NotHeld {
                index: guard.index()
            })
        );
        let raw = pool.take_index().unwrap();
        assert!(pool.take_index().is_none());
        // SAFETY: we hold `raw` and make no other reference to its bytes.
        unsafe { pool.buffer_mut(raw).unwrap()[0] = 7 };
        // SAFETY: the guard's index is not raw-held, so this must fail
        // before making any reference.
        assert!(unsafe { pool.buffer_mut(guard.index()) }.is_err());
        pool.return_index(raw).unwrap();
        assert_eq!(pool.return_index(raw), Err(Error::NotHeld { index: raw }));
        assert!(pool.buf_from_index(raw).is_err());
        drop(guard);
        // Exactly two buffers in the pool, whatever happened above.
        let all: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn into_index_and_back_to_a_guard() {
        let pool = BufferPool::new(Tier::Pico, 1).unwrap();
        let i = pool.get().into_index();
        assert!(pool.try_get().is_none());
        assert_eq!(
            pool.buffer_ptr(i).unwrap().as_ptr(),
            pool.slab_iovec().as_ptr()
        );
        assert!(pool.buffer_ptr(1).is_err());
        let guard = pool.buf_from_index(i).unwrap();
        drop(guard);
        assert!(pool.try_get().is_some());
    }

    #[cfg(not(miri))]
    #[test]
    fn get_timeout_gives_up_on_a_dry_pool() {
        let pool = BufferPool::new(Tier::Pico, 1).unwrap();
        let _held = pool.get();
        assert!(pool.get_timeout(Duration::from_millis(5)).is_none());
    }

    #[test]
    fn typed_pools_give_arrays_of_their_tier() {
        let pool = crate::PicoBufferPool::new(2).unwrap();
        assert_eq!(crate::PicoBufferPool::TIER, Tier::Pico);
        let mut b = pool.try_get().unwrap();
        let arr: &mut [u8; 32] = b.as_array_mut();
        arr[31] = 5;
        assert_eq!(b.as_array()[31], 5);
        assert_eq!(b.into_buf().len(), 32);
        assert_eq!(crate::TitanBufferPool::TIER.size(), TITAN_SIZE);
    }

    #[test]
    fn guards_are_send_and_pools_sync() {
        fn send<T: Send>() {}
        fn sync<T: Sync>() {}
        send::<Buf<'static>>();
        sync::<BufferPool>();
        send::<BufferPool>();
    }
}
