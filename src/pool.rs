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
/// their indices. [`PooledBuf`] guards give zero-copy access and return the buffer
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
    /// [`PooledBuf`], a [`LocalCache`](crate::LocalCache), or a live [`RawBuf`]
    /// of this pool.
    free: FreeList,
    /// `capacity * tier.size()` bytes, page aligned. Never dereferenced as a
    /// whole while the pool lives: buffers are reached through `base`.
    slab: AlignedBuf,
    /// `slab`'s first byte; buffer `i` is `base + i * tier.size()`.
    base: NonNull<u8>,
    /// The size class of every buffer.
    tier: Tier,
    /// This pool's identity, unique in the process: every [`RawBuf`] names
    /// the pool it came from by it.
    id: u64,
    /// Indices that per-thread caches may still reserve; starts at half the
    /// capacity, so caches can never starve the shared ring of every buffer.
    /// Changed only through [`reserve_cache`](BufferPool::reserve_cache) and
    /// [`release_cache`](BufferPool::release_cache).
    cache_budget: AtomicUsize,
}

/// The source of pool identities. Starts at 1; 2^64 pools cannot be made.
static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

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
    /// [`MAX_CAPACITY`](crate::MAX_CAPACITY), a slab size that overflows, or
    /// memory the OS refuses (the slab first, then the ring's slots, so
    /// nothing large is written before the slab is known to exist).
    ///
    /// ```
    /// use iobuf::{BufferPool, Error, Tier};
    /// assert!(BufferPool::new(Tier::Small, 4).is_ok());
    /// assert_eq!(BufferPool::new(Tier::Small, 0).unwrap_err(), Error::ZeroCapacity);
    /// ```
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
        if capacity > crate::MAX_CAPACITY {
            return Err(Error::CapacityTooLarge {
                requested: capacity,
                max: crate::MAX_CAPACITY,
            });
        }
        let bytes = capacity.checked_mul(tier.size()).ok_or(Error::Overflow)?;
        // The slab first: it is mapped lazily (nothing is written), and if
        // the OS refuses it the ring's slots (which are written) never are.
        let slab = AlignedBuf::page_aligned(bytes)?;
        let free = free_list(capacity)?;
        let base = slab.base();
        Ok(BufferPool {
            free,
            slab,
            base,
            tier,
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
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
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn try_get(&self) -> Option<PooledBuf<'_>> {
        self.free.pop().map(|index| PooledBuf { pool: self, index })
    }

    /// Takes a free buffer, waiting (spin, yield, then capped jittered
    /// sleep) until one is returned.
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get(&self) -> PooledBuf<'_> {
        wait_for(|| self.try_get(), || self.looks_dry())
    }

    /// Takes a free buffer, waiting at most `timeout`.
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get_timeout(&self, timeout: Duration) -> Option<PooledBuf<'_>> {
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

    /// Puts an index its caller owns back into the free list: the one path
    /// by which a guard, a raw token or a cache flush returns a buffer.
    ///
    /// # Safety
    /// `index < capacity`, and the caller owns it exclusively (it is in no
    /// free list, guard, cache or token) and gives that ownership up here.
    #[inline]
    pub(crate) unsafe fn release(&self, index: usize) {
        // SAFETY: forwarded: the caller owns `index`, so it is out of the
        // free list, which therefore holds fewer than capacity indices.
        unsafe { self.free.push(index) }
    }

    /// Puts an owned index straight into the ring, past the reuse slot: the
    /// return path of a cache's batch flush (the slot is for the next single
    /// get). With [`release`](Self::release), the only ways a buffer comes
    /// back to the pool.
    ///
    /// # Safety
    /// As [`release`](Self::release).
    #[inline]
    pub(crate) unsafe fn release_to_ring(&self, index: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { self.free.push_to_ring(index) }
    }

    /// Reserves up to `want` indices of the cache budget, for a new
    /// [`LocalCache`](crate::LocalCache); returns how many it got.
    pub(crate) fn reserve_cache(&self, want: usize) -> usize {
        let mut left = self.cache_budget.load(Ordering::Relaxed);
        loop {
            let take = want.min(left);
            match self.cache_budget.compare_exchange_weak(
                left,
                left - take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return take,
                Err(now) => left = now,
            }
        }
    }

    /// Gives back `n` indices of the cache budget that
    /// [`reserve_cache`](Self::reserve_cache) handed out.
    pub(crate) fn release_cache(&self, n: usize) {
        self.cache_budget.fetch_add(n, Ordering::Relaxed);
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

    /// This pool's identity, unique among the pools of the process (a
    /// [`RawBuf`] carries it).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether `raw` is a buffer of this pool.
    ///
    /// ```
    /// use iobuf::{BufferPool, Tier};
    /// let a = BufferPool::new(Tier::Pico, 1).unwrap();
    /// let b = BufferPool::new(Tier::Pico, 1).unwrap();
    /// let raw = a.take_raw().unwrap();
    /// assert!(a.owns(&raw) && !b.owns(&raw));
    /// a.put_raw(raw).unwrap();
    /// ```
    pub fn owns(&self, raw: &RawBuf) -> bool {
        raw.pool_id == self.id
    }

    fn check_owner(&self, raw: &RawBuf) -> Result<(), Error> {
        if self.owns(raw) {
            Ok(())
        } else {
            Err(Error::WrongPool {
                index: raw.index,
                pool_id: raw.pool_id,
            })
        }
    }

    /// Takes a free buffer out of the pool as a [`RawBuf`] token, for
    /// ownership outside any guard (an io_uring submission that owns the
    /// buffer until its completion). Give it back with
    /// [`put_raw`](Self::put_raw) or turn it into a guard with
    /// [`guard`](Self::guard).
    ///
    /// ```
    /// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 2).unwrap();
    /// let mut raw = pool.take_raw().unwrap();
    /// pool.raw_bytes_mut(&mut raw).unwrap()[0] = 1;
    /// let guard = pool.guard(raw).unwrap(); // consumes the token
    /// assert_eq!(guard[0], 1);
    /// ```
    #[must_use = "a dropped RawBuf keeps its buffer out of the pool for good"]
    pub fn take_raw(&self) -> Option<RawBuf> {
        self.try_get().map(PooledBuf::into_raw)
    }

    /// Gives back a buffer held as a [`RawBuf`].
    ///
    /// Errors: the token belongs to another pool ([`Error::WrongPool`]);
    /// this pool is unchanged, and the token (consumed) leaves its buffer
    /// out of its own pool. Check with [`owns`](Self::owns) first where that
    /// can happen.
    ///
    /// ```
    /// use iobuf::{BufferPool, Error, Tier};
    /// let a = BufferPool::new(Tier::Pico, 1).unwrap();
    /// let b = BufferPool::new(Tier::Pico, 1).unwrap();
    /// let raw = a.take_raw().unwrap();
    /// assert!(matches!(b.put_raw(raw), Err(Error::WrongPool { .. })));
    /// ```
    pub fn put_raw(&self, raw: RawBuf) -> Result<(), Error> {
        drop(self.guard(raw)?);
        Ok(())
    }

    /// Turns a [`RawBuf`] of this pool back into a guard that returns the
    /// buffer on drop.
    ///
    /// Errors: the token belongs to another pool ([`Error::WrongPool`], as
    /// for [`put_raw`](Self::put_raw)).
    pub fn guard(&self, raw: RawBuf) -> Result<PooledBuf<'_>, Error> {
        self.check_owner(&raw)?;
        // The token owned the index exclusively; now the guard does.
        Ok(PooledBuf {
            pool: self,
            index: raw.index,
        })
    }

    /// The bytes of the buffer `raw` holds, for as long as `raw` is borrowed.
    ///
    /// Errors: the token belongs to another pool.
    pub fn raw_bytes<'s>(&'s self, raw: &'s RawBuf) -> Result<&'s [u8], Error> {
        self.check_owner(raw)?;
        // SAFETY: the token owns the index exclusively (it is out of the free
        // list and in no guard), and it is borrowed shared for 's, so nothing
        // writes the bytes meanwhile; the pool outlives 's.
        Ok(unsafe {
            std::slice::from_raw_parts(self.buffer_ptr_unchecked(raw.index), self.buffer_size())
        })
    }

    /// The bytes of the buffer `raw` holds, mutably, for as long as `raw` is
    /// borrowed.
    ///
    /// Errors: the token belongs to another pool.
    pub fn raw_bytes_mut<'s>(&'s self, raw: &'s mut RawBuf) -> Result<&'s mut [u8], Error> {
        self.check_owner(raw)?;
        // SAFETY: the token owns the index exclusively and is borrowed
        // mutably for 's, so this is the only reference to the bytes; the
        // pool outlives 's.
        Ok(unsafe {
            std::slice::from_raw_parts_mut(self.buffer_ptr_unchecked(raw.index), self.buffer_size())
        })
    }

    /// Rebuilds a token from the index [`RawBuf::into_index`] gave (an
    /// io_uring `user_data` that carried it through the kernel).
    ///
    /// Errors: `index` out of range (nothing is made).
    ///
    /// # Safety
    /// `index` came from [`RawBuf::into_index`] on a token of *this* pool,
    /// and no other token, guard or call of this function holds it: each
    /// such index is rebuilt at most once. Rebuilding an index twice, or one
    /// that is free or guarded, hands one buffer to two owners.
    ///
    /// ```
    /// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 2).unwrap();
    /// let user_data = pool.take_raw().unwrap().into_index() as u64;
    /// // ... the kernel carries user_data to the completion ...
    /// // SAFETY: user_data came from into_index on this pool, rebuilt once.
    /// let raw = unsafe { pool.raw_from_index(user_data as usize) }.unwrap();
    /// pool.put_raw(raw).unwrap();
    /// ```
    pub unsafe fn raw_from_index(&self, index: usize) -> Result<RawBuf, Error> {
        self.check_range(index)?;
        Ok(RawBuf {
            index,
            pool_id: self.id,
        })
    }

    /// Address of buffer `index`'s first byte, for I/O submissions. Making
    /// the pointer is safe; using it needs the index owned (a guard or a
    /// [`RawBuf`]).
    pub fn buffer_ptr(&self, index: usize) -> Result<NonNull<u8>, Error> {
        self.check_range(index)?;
        // SAFETY: in range, so inside the slab, whose base is non-null.
        Ok(unsafe { NonNull::new_unchecked(self.buffer_ptr_unchecked(index)) })
    }

    /// The whole slab as one vector: the region to register for DMA. Made
    /// from the slab's pointer and length alone; no reference to the slab's
    /// bytes is created, so guards' `&mut` borrows of their buffers stay
    /// valid.
    pub fn slab_iovec(&self) -> IoVec {
        IoVec::from_raw_parts(self.base.as_ptr(), self.slab.len())
    }

    /// One vector per buffer, in index order: pass these to
    /// `io_uring_register_buffers` and pool index = fixed-buffer index.
    /// Pointers and lengths only, like [`slab_iovec`](Self::slab_iovec).
    ///
    /// Errors: the vector's memory (16 bytes a buffer) is refused.
    pub fn iovecs(&self) -> Result<Vec<IoVec>, Error> {
        let mut v = Vec::new();
        v.try_reserve_exact(self.capacity())
            .map_err(|_| Error::AllocFailed {
                size: self.capacity().saturating_mul(std::mem::size_of::<IoVec>()),
            })?;
        v.extend(
            (0..self.capacity())
                .map(|i| IoVec::from_raw_parts(self.buffer_ptr_unchecked(i), self.tier.size())),
        );
        Ok(v)
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
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A buffer held outside any guard: an owned token that names its pool.
///
/// It is neither `Copy` nor `Clone`: one token per taken buffer, so giving
/// it back ([`BufferPool::put_raw`]) or turning it into a guard
/// ([`BufferPool::guard`]) consumes the only one. It carries its pool's
/// [`id`](BufferPool::id), and a pool refuses a token of another pool with
/// [`Error::WrongPool`]. Its bytes are reached through the pool with
/// [`raw_bytes`](BufferPool::raw_bytes) and
/// [`raw_bytes_mut`](BufferPool::raw_bytes_mut), borrowing the token.
///
/// Dropping a token does not return the buffer (it holds no reference to
/// the pool): the buffer stays out of the pool, a leak but never unsound.
///
/// ```compile_fail,E0382
/// // A token cannot be copied, so it cannot be returned twice.
/// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap();
/// let raw = pool.take_raw().unwrap();
/// pool.put_raw(raw).unwrap();
/// pool.put_raw(raw).unwrap();
/// ```
///
/// ```compile_fail,E0451
/// // Nor made from an index by safe code.
/// let raw = iobuf::RawBuf { index: 0, pool_id: 1 };
/// ```
#[must_use = "a dropped RawBuf keeps its buffer out of the pool for good"]
#[derive(Debug, PartialEq, Eq)]
pub struct RawBuf {
    /// Owned by this token alone: out of the free list, in no guard.
    index: usize,
    /// The [`BufferPool::id`] of the pool it came from.
    pool_id: u64,
}

impl RawBuf {
    /// The buffer's index in its pool (its fixed-buffer index when the
    /// pool's [`iovecs`](BufferPool::iovecs) are registered).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The [`BufferPool::id`] of its pool.
    pub fn pool_id(&self) -> u64 {
        self.pool_id
    }

    /// Gives up the token for its bare index, to carry through something
    /// that holds only an integer (an io_uring `user_data`). Safe, since
    /// the buffer simply stays out of the pool; getting it back takes
    /// [`BufferPool::raw_from_index`], which is `unsafe`.
    #[must_use = "the index is the only way left to the buffer"]
    pub fn into_index(self) -> usize {
        self.index
    }
}

/// A buffer taken from a [`BufferPool`]: derefs to its bytes without a copy
/// and goes back to the pool when dropped.
///
/// It is `Send`: one thread may fill it and another return it.
#[must_use = "dropping the guard returns the buffer at once"]
pub struct PooledBuf<'a> {
    /// The pool it came from.
    pool: &'a BufferPool,
    /// Owned by this guard alone: not in the ring, in no token.
    index: usize,
}

impl<'a> PooledBuf<'a> {
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

    /// Leaves the guard and holds the buffer as a [`RawBuf`] token: it
    /// stays out of the pool until [`BufferPool::put_raw`] or
    /// [`BufferPool::guard`].
    pub fn into_raw(self) -> RawBuf {
        let raw = RawBuf {
            index: self.index,
            pool_id: self.pool.id,
        };
        std::mem::forget(self);
        raw
    }

    /// Leaves the guard without returning anything: for the per-thread
    /// cache, which keeps the index itself.
    pub(crate) fn forget_index(self) -> usize {
        let index = self.index;
        std::mem::forget(self);
        index
    }

    /// A guard for an index the caller owns exclusively (not in the ring,
    /// in no token or guard).
    pub(crate) fn from_owned_index(pool: &'a BufferPool, index: usize) -> Self {
        PooledBuf { pool, index }
    }
}

impl Deref for PooledBuf<'_> {
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

impl DerefMut for PooledBuf<'_> {
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

impl Drop for PooledBuf<'_> {
    fn drop(&mut self) {
        // SAFETY: the index is in range and owned by this guard alone, which
        // gives it up here.
        unsafe { self.pool.release(self.index) }
    }
}

impl fmt::Debug for PooledBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledBuf")
            .field("tier", &self.pool.tier)
            .field("index", &self.index)
            .finish()
    }
}

/// A buffer whose index its holder owns: a guard or a [`RawBuf`]. The
/// io_uring entry builders take one by reference, so the index they encode
/// is one the caller holds. Sealed: only this crate's types implement it.
pub trait Held: sealed::Sealed {
    /// The buffer's index in its pool.
    fn held_index(&self) -> usize;
    /// The [`BufferPool::id`] of its pool.
    fn held_pool_id(&self) -> u64;
}

pub(crate) mod sealed {
    /// Keeps [`Held`](super::Held) to this crate's types.
    pub trait Sealed {}
}

impl sealed::Sealed for PooledBuf<'_> {}
impl Held for PooledBuf<'_> {
    fn held_index(&self) -> usize {
        self.index
    }
    fn held_pool_id(&self) -> u64 {
        self.pool.id
    }
}

impl sealed::Sealed for RawBuf {}
impl Held for RawBuf {
    fn held_index(&self) -> usize {
        self.index
    }
    fn held_pool_id(&self) -> u64 {
        self.pool_id
    }
}

/// A [`BufferPool`] of one tier fixed at compile time, whose guards also
/// give the buffer as an array, `&mut [u8; N]`.
///
/// ```
/// let pool = iobuf::SmallBufferPool::new(4).unwrap();
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
        debug_assert_eq!(buf.len(), N);
        TierBuf(buf)
    }

    /// See [`BufferPool::try_get`].
    #[must_use = "dropping the guard returns the buffer at once"]
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
/// let huge = iobuf::HugeBufferPool::new(1).unwrap();
/// let pico = iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap();
/// let mut big = huge.get();
/// *big = pico.get(); // TierBuf derefs to [u8], not to a guard
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard returns the buffer at once"]
pub struct TierBuf<'a, const N: usize>(PooledBuf<'a>);

impl<'a, const N: usize> TierBuf<'a, N> {
    /// The buffer as an array.
    pub fn as_array(&self) -> &[u8; N] {
        let bytes: &[u8] = &self.0;
        // SAFETY: a TierBuf<N> is made only by TierPool<N>, whose buffers
        // are exactly N bytes (TIER.size() == N), and its guard cannot be
        // replaced (no access to it by reference), so the slice is an
        // [u8; N] (same layout, alignment 1).
        unsafe { &*(bytes.as_ptr() as *const [u8; N]) }
    }

    /// The buffer as a mutable array.
    pub fn as_array_mut(&mut self) -> &mut [u8; N] {
        let bytes: &mut [u8] = &mut self.0;
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

impl<const N: usize> sealed::Sealed for TierBuf<'_, N> {}
impl<const N: usize> Held for TierBuf<'_, N> {
    fn held_index(&self) -> usize {
        self.0.index
    }
    fn held_pool_id(&self) -> u64 {
        self.0.pool.id
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
        assert_eq!(pool.iovecs().unwrap().len(), 3);
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
        // Checked before any size is computed or anything allocated.
        assert!(matches!(
            BufferPool::new(Tier::Titan, usize::MAX / 2),
            Err(Error::CapacityTooLarge { .. })
        ));
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
        let vecs = pool.iovecs().unwrap();
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
    fn raw_tokens_name_their_pool_and_are_consumed() {
        let pool = BufferPool::new(Tier::Pico, 2).unwrap();
        let other = BufferPool::new(Tier::Pico, 2).unwrap();
        assert_ne!(pool.id(), other.id());
        let guard = pool.try_get().unwrap();
        let mut raw = pool.take_raw().unwrap();
        assert!(pool.take_raw().is_none());
        assert_ne!(raw.index(), guard.index());
        assert_eq!(raw.pool_id(), pool.id());
        pool.raw_bytes_mut(&mut raw).unwrap()[0] = 7;
        assert_eq!(pool.raw_bytes(&raw).unwrap()[0], 7);
        // Another pool refuses the token at every door, and is unchanged.
        assert!(matches!(
            other.raw_bytes_mut(&mut raw),
            Err(Error::WrongPool { .. })
        ));
        assert!(other.raw_bytes(&raw).is_err());
        assert!(!other.owns(&raw) && pool.owns(&raw));
        let other_raw = other.take_raw().unwrap();
        assert_eq!(
            pool.put_raw(other_raw),
            Err(Error::WrongPool {
                index: 0,
                pool_id: other.id()
            })
        );
        assert!(other.try_get().is_some()); // one left there: one leaked
                                            // The token turns back into a guard with its bytes.
        let g = pool.guard(raw).unwrap();
        assert_eq!(g[0], 7);
        drop(g);
        drop(guard);
        let all: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn into_raw_and_back_to_a_guard() {
        let pool = BufferPool::new(Tier::Pico, 1).unwrap();
        let raw = pool.get().into_raw();
        assert!(pool.try_get().is_none());
        assert_eq!(
            pool.buffer_ptr(raw.index()).unwrap().as_ptr(),
            pool.slab_iovec().as_ptr()
        );
        assert!(pool.buffer_ptr(1).is_err());
        let guard = pool.guard(raw).unwrap();
        drop(guard);
        assert!(pool.try_get().is_some());
    }

    #[test]
    fn an_index_round_trip_is_checked_for_range() {
        let pool = BufferPool::new(Tier::Pico, 2).unwrap();
        let i = pool.take_raw().unwrap().into_index();
        // SAFETY: `i` came from into_index on this pool; rebuilt once. The
        // second call fails its range check before making anything.
        let raw = unsafe { pool.raw_from_index(i) }.unwrap();
        assert!(matches!(
            unsafe { pool.raw_from_index(2) },
            Err(Error::IndexOutOfRange { .. })
        ));
        pool.put_raw(raw).unwrap();
        let all: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
        assert_eq!(all.len(), 2);
    }

    /// Registration paths make no reference to the whole slab: under Miri
    /// (Stacked and Tree Borrows) this fails if `slab_iovec` or `iovecs`
    /// reborrowed the slab while a guard's `&mut` to its buffer is alive
    /// and written, on this thread and on another.
    #[test]
    fn registration_vectors_do_not_borrow_the_slab() {
        let pool = BufferPool::new(Tier::Pico, 4).unwrap();
        let mut a = pool.get();
        let bytes: &mut [u8] = &mut a;
        bytes[0] = 1;
        let whole = pool.slab_iovec();
        let each = pool.iovecs().unwrap();
        bytes[1] = 2; // the &mut is still valid after both calls
        assert_eq!(whole.len(), 4 * PICO_SIZE);
        assert_eq!(each[a.index()].as_ptr() as *const u8, a.as_ptr());
        std::thread::scope(|s| {
            let mut b = pool.get();
            let writer = s.spawn(move || {
                b.fill(9);
                b
            });
            for _ in 0..10 {
                let _ = pool.slab_iovec();
                let _ = pool.iovecs().unwrap();
            }
            let b = writer.join().unwrap();
            assert!(b.iter().all(|&x| x == 9));
        });
        assert_eq!(a[..2], [1, 2]);
    }

    #[test]
    fn typed_guards_deref_to_exactly_their_bytes() {
        let pool = crate::HugeBufferPool::new(1).unwrap();
        let mut b = pool.get();
        assert_eq!(b.len(), crate::tier::HUGE_SIZE);
        assert_eq!(b.as_array_mut().len(), b.len());
        let tp = crate::PicoBufferPool::new(1).unwrap();
        assert_eq!(tp.pool().tier(), Tier::Pico);
        assert_eq!(tp.get().as_array().len(), PICO_SIZE);
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
        send::<PooledBuf<'static>>();
        sync::<BufferPool>();
        send::<BufferPool>();
    }
}
