//! [`BufferPool`]: one page-aligned slab of equal buffers, handed out by
//! index through the lock-free [`IndexRing`] (behind a one-entry reuse slot).

use crate::backoff::{retry_until, wait_for};
use crate::freelist::FreeList;
use crate::waiters::{Acquire, Source, WaitList};
use crate::{AlignedBuf, Error, IoVec, Tier};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64 as StdAtomicU64, AtomicUsize as StdAtomicUsize};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
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
    /// Tasks waiting in [`acquire`](BufferPool::acquire) and
    /// [`acquire_owned`](BufferPool::acquire_owned); every return notifies
    /// it (one load when nobody waits).
    waiters: WaitList,
    /// The counters behind [`stats`](BufferPool::stats).
    counters: Counters,
}

/// Shards of the failed-`try_get` counter: a thread writes the shard its
/// id picks, so threads on a dry pool do not all write one line.
const SHARDS: usize = 8;

/// The statistics' counters: each is written only on a slow path.
struct Counters {
    /// `try_get` calls that found the pool dry, sharded by thread.
    failed: [CachePadded<StdAtomicU64>; SHARDS],
    /// Most buffers seen out of the pool at once; raised (rarely written)
    /// by gets that the ring serves.
    high_water: CachePadded<StdAtomicUsize>,
}

impl Counters {
    fn new() -> Self {
        Counters {
            failed: std::array::from_fn(|_| CachePadded::new(StdAtomicU64::new(0))),
            high_water: CachePadded::new(StdAtomicUsize::new(0)),
        }
    }
}

/// This thread's shard of [`Counters::failed`].
fn shard() -> usize {
    static NEXT: StdAtomicUsize = StdAtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.try_with(|s| *s).unwrap_or(0)
}

/// A snapshot of a pool's use, from [`BufferPool::stats`].
///
/// Cheap enough to leave on: no counter is written by every get and put.
/// `free` and `in_use` are derived from the free list's positions when
/// `stats` is called; the high-water mark is raised only by gets that the
/// ring serves (a get served by the reuse slot only takes back a buffer
/// whose put lowered the count, so it cannot set a new mark), with a write
/// only when the mark rises; failed `try_get`s are counted per thread
/// shard, and only a dry pool writes them. A [`LocalCache`](crate::LocalCache)
/// refill does not raise the mark (the next plain get or `stats` call
/// does). Every field is a snapshot that
/// concurrent gets and puts may have changed at once.
///
/// ```
/// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 4).unwrap();
/// let a = pool.try_get().unwrap();
/// let b = pool.try_get().unwrap();
/// let s = pool.stats();
/// assert_eq!((s.capacity, s.in_use, s.free), (4, 2, 2));
/// drop((a, b));
/// let s = pool.stats();
/// assert_eq!((s.in_use, s.high_water), (0, 2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// The pool's capacity.
    pub capacity: usize,
    /// Buffers free now (in the free list).
    pub free: usize,
    /// Buffers out of the free list now: in guards, tokens and caches.
    pub in_use: usize,
    /// The most buffers seen in use at once since the pool was made.
    pub high_water: usize,
    /// `try_get` (and `try_get_owned`) calls that found the pool dry.
    pub failed_try_gets: u64,
    /// Tasks waiting in `acquire` now.
    pub waiters: usize,
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
            waiters: WaitList::new(),
            counters: Counters::new(),
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
    ///
    /// ```
    /// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap();
    /// let held = pool.try_get().unwrap();
    /// assert!(pool.try_get().is_none());
    /// assert_eq!(pool.stats().failed_try_gets, 1);
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    #[inline]
    pub fn try_get(&self) -> Option<PooledBuf<'_>> {
        self.take_index()
            .map(|index| PooledBuf::from_owned_index(self, index))
    }

    /// A free index, counting a miss in the statistics.
    #[inline]
    fn take_index(&self) -> Option<usize> {
        let got = self.pop_index();
        if got.is_none() {
            self.count_failed();
        }
        got
    }

    /// A free index without counting a miss (the waiting loops).
    #[inline]
    fn pop_index(&self) -> Option<usize> {
        let index = self.free.pop()?;
        #[cfg(not(loom))]
        self.raise_high_water();
        Some(index)
    }

    /// Raises the high-water mark to the number in use now, if that is
    /// higher: a read of a line that is written only when the mark rises.
    #[cfg(not(loom))]
    #[inline]
    fn raise_high_water(&self) {
        let used = self.capacity() - self.free.approx_free();
        if used > self.counters.high_water.load(Ordering::Relaxed) {
            self.counters.high_water.fetch_max(used, Ordering::Relaxed);
        }
    }

    #[cold]
    fn count_failed(&self) {
        self.counters.failed[shard()].fetch_add(1, Ordering::Relaxed);
    }

    /// Takes a free buffer, waiting (spin, yield, then capped jittered
    /// sleep) until one is returned. Blocks the thread: in async code use
    /// [`acquire`](Self::acquire).
    ///
    /// ```
    /// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap();
    /// let buf = pool.get();
    /// assert_eq!(buf.len(), 32);
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get(&self) -> PooledBuf<'_> {
        let index = wait_for(|| self.pop_index(), || self.looks_dry());
        PooledBuf::from_owned_index(self, index)
    }

    /// Takes a free buffer, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap();
    /// let held = pool.get_timeout(Duration::from_millis(1)).unwrap();
    /// assert!(pool.get_timeout(Duration::from_millis(1)).is_none());
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get_timeout(&self, timeout: Duration) -> Option<PooledBuf<'_>> {
        retry_until(
            Instant::now().checked_add(timeout),
            || self.pop_index(),
            || self.looks_dry(),
        )
        .map(|index| PooledBuf::from_owned_index(self, index))
    }

    /// [`try_get`](Self::try_get) for a pool behind an [`Arc`]: an
    /// [`OwnedBuf`], `'static + Send`, that keeps the pool alive.
    ///
    /// Costs one atomic read-modify-write of the `Arc`'s shared reference
    /// count here and one when the buffer drops (see [`OwnedBuf`]); a
    /// `&'static` pool ([`leak`](Self::leak)) avoids it.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let pool = Arc::new(iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap());
    /// let buf = pool.try_get_owned().unwrap();
    /// assert!(pool.try_get_owned().is_none());
    /// std::thread::spawn(move || drop(buf)).join().unwrap();
    /// assert!(pool.try_get_owned().is_some());
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn try_get_owned(self: &Arc<Self>) -> Option<OwnedBuf> {
        self.take_index()
            .map(|index| OwnedBuf::from_owned_index(Arc::clone(self), index))
    }

    /// [`get`](Self::get) for a pool behind an [`Arc`] (see
    /// [`try_get_owned`](Self::try_get_owned) for its cost).
    ///
    /// ```
    /// use std::sync::Arc;
    /// let pool = Arc::new(iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap());
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// tx.send(pool.get_owned()).unwrap(); // buffers travel through channels
    /// let buf = std::thread::spawn(move || rx.recv().unwrap()).join().unwrap();
    /// assert_eq!(buf.len(), 32);
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get_owned(self: &Arc<Self>) -> OwnedBuf {
        let index = wait_for(|| self.pop_index(), || self.looks_dry());
        OwnedBuf::from_owned_index(Arc::clone(self), index)
    }

    /// [`get_timeout`](Self::get_timeout) for a pool behind an [`Arc`].
    ///
    /// ```
    /// use std::{sync::Arc, time::Duration};
    /// let pool = Arc::new(iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap());
    /// let held = pool.get_owned();
    /// assert!(pool.get_owned_timeout(Duration::from_millis(1)).is_none());
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get_owned_timeout(self: &Arc<Self>, timeout: Duration) -> Option<OwnedBuf> {
        retry_until(
            Instant::now().checked_add(timeout),
            || self.pop_index(),
            || self.looks_dry(),
        )
        .map(|index| OwnedBuf::from_owned_index(Arc::clone(self), index))
    }

    /// Leaks the pool for a `&'static BufferPool`, whose guards are
    /// `PooledBuf<'static>`: `'static + Send` with no reference count (the
    /// zero-cost way to move buffers into threads and tasks). The slab is
    /// never freed; for a pool that lives as long as the program.
    ///
    /// ```
    /// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 2).unwrap().leak();
    /// let mut buf = pool.get();
    /// buf[0] = 9;
    /// let t = std::thread::spawn(move || buf[0]);
    /// assert_eq!(t.join().unwrap(), 9);
    /// ```
    pub fn leak(self) -> &'static BufferPool {
        Box::leak(Box::new(self))
    }

    /// Waits for a free buffer without blocking the thread: a future that
    /// any executor can drive, woken when a buffer comes back.
    ///
    /// Waiters are served first come, first served, each returned buffer
    /// handed directly to the longest waiter. Cancel-safe: dropping the
    /// future loses neither a buffer nor a wake-up (a buffer already handed
    /// to it goes to the next waiter). A return costs one extra atomic load
    /// while nobody waits.
    ///
    /// ```
    /// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap();
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// rt.block_on(async {
    ///     let held = pool.acquire().await;
    ///     let second = pool.acquire(); // dry: would wait
    ///     drop(held);                   // ... until this return
    ///     assert_eq!(second.await.len(), 32);
    /// });
    /// ```
    pub fn acquire(&self) -> AcquireBuf<'_> {
        AcquireBuf {
            inner: Acquire::new(PoolSource(self)),
        }
    }

    /// [`acquire`](Self::acquire) for a pool behind an [`Arc`]: the future
    /// (and the [`OwnedBuf`] it yields) is `'static + Send`, for spawned
    /// tasks.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let pool = Arc::new(iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap());
    /// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    /// rt.block_on(async {
    ///     let held = pool.acquire_owned().await;
    ///     let waiter = tokio::spawn(pool.acquire_owned());
    ///     drop(held);
    ///     assert_eq!(waiter.await.unwrap().len(), 32);
    /// });
    /// ```
    pub fn acquire_owned(self: &Arc<Self>) -> AcquireOwned {
        AcquireOwned {
            inner: Acquire::new(OwnedSource(Arc::clone(self))),
        }
    }

    /// A snapshot of the pool's use (see [`PoolStats`]).
    ///
    /// ```
    /// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 2).unwrap();
    /// let s = pool.stats();
    /// assert_eq!((s.free, s.in_use, s.waiters), (2, 0, 0));
    /// ```
    pub fn stats(&self) -> PoolStats {
        let capacity = self.capacity();
        let free = self.free.approx_free();
        let in_use = capacity - free;
        PoolStats {
            capacity,
            free,
            in_use,
            high_water: self.counters.high_water.load(Ordering::Relaxed).max(in_use),
            failed_try_gets: self
                .counters
                .failed
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .sum(),
            waiters: self.waiters.waiters(),
        }
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
        unsafe { self.free.push(index) };
        // The push was a SeqCst write (slot or ring); now the one load.
        self.waiters.notify(&PoolSource(self));
    }

    /// Puts owned indices straight into the ring, past the reuse slot, with
    /// one batch push: the return path of a cache's flush (the slot is for
    /// the next single get). With [`release`](Self::release), the only ways
    /// a buffer comes back to the pool; both notify waiters.
    ///
    /// # Safety
    /// As [`release`](Self::release), for every index, each at most once.
    #[inline]
    pub(crate) unsafe fn release_many_to_ring(&self, indices: &[usize]) {
        // SAFETY: forwarded from the caller.
        unsafe { self.free.push_many_to_ring(indices) };
        self.waiters.notify(&PoolSource(self));
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
        // The guard's drop returns through `release`, which notifies waiters.
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
        Ok(PooledBuf::from_owned_index(self, raw.index))
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

/// The pool as the wait list's [`Source`]. Private: `put` trusts that the
/// index is owned, and only the pool's own wait list and futures (which
/// return only indices this source handed out) ever call it.
struct PoolSource<'a>(&'a BufferPool);

impl Source for PoolSource<'_> {
    fn wait_list(&self) -> &WaitList {
        &self.0.waiters
    }
    fn try_take(&self) -> Option<usize> {
        self.0.pop_index()
    }
    fn put(&self, index: usize) {
        // SAFETY: the wait list calls `put` only with an index that
        // `try_take` gave it (or a future it was handed to) and that nobody
        // else holds; it is in range since the free list handed it out.
        unsafe { self.0.free.push(index) }
    }
}

/// [`PoolSource`] holding the pool's `Arc`, for [`AcquireOwned`].
struct OwnedSource(Arc<BufferPool>);

impl Source for OwnedSource {
    fn wait_list(&self) -> &WaitList {
        &self.0.waiters
    }
    fn try_take(&self) -> Option<usize> {
        PoolSource(&self.0).try_take()
    }
    fn put(&self, index: usize) {
        PoolSource(&self.0).put(index)
    }
}

/// The future of [`BufferPool::acquire`]: yields a [`PooledBuf`] once one is
/// free. Cancel-safe (dropping it loses no buffer and no wake-up).
///
/// ```
/// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap();
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let buf = rt.block_on(pool.acquire());
/// assert_eq!(buf.index(), 0);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct AcquireBuf<'a> {
    inner: Acquire<PoolSource<'a>>,
}

impl<'a> Future for AcquireBuf<'a> {
    type Output = PooledBuf<'a>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<PooledBuf<'a>> {
        let pool = self.inner.source().0;
        Pin::new(&mut self.inner)
            .poll(cx)
            .map(|index| PooledBuf::from_owned_index(pool, index))
    }
}

impl fmt::Debug for AcquireBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireBuf").finish_non_exhaustive()
    }
}

/// The future of [`BufferPool::acquire_owned`]: yields an [`OwnedBuf`] once
/// one is free; `'static + Send`. Cancel-safe.
///
/// ```
/// use std::sync::Arc;
/// let pool = Arc::new(iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap());
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let buf = rt.block_on(async { tokio::spawn(pool.acquire_owned()).await.unwrap() });
/// assert_eq!(buf.index(), 0);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct AcquireOwned {
    inner: Acquire<OwnedSource>,
}

impl Future for AcquireOwned {
    type Output = OwnedBuf;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OwnedBuf> {
        match Pin::new(&mut self.inner).poll(cx) {
            Poll::Ready(index) => Poll::Ready(OwnedBuf::from_owned_index(
                Arc::clone(&self.inner.source().0),
                index,
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl fmt::Debug for AcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned").finish_non_exhaustive()
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

/// A buffer taken from a [`BufferPool`]: derefs to its *filled* bytes
/// without a copy and goes back to the pool when dropped.
///
/// It is `Send`: one thread may fill it and another return it. It borrows
/// its pool; with a `&'static BufferPool` (a `static` or
/// [`BufferPool::leak`]) it is a `PooledBuf<'static>`, which moves into
/// threads, tasks and channels at no extra cost. For a pool behind an
/// [`Arc`] see [`OwnedBuf`].
///
/// # Filled length
///
/// Every guard has a capacity (its buffer's size) and a filled length
/// `len() <= capacity()`. `Deref`/`DerefMut` give the filled bytes; a fresh
/// guard's filled length is its whole capacity (so code that treats the
/// guard as the whole buffer keeps working). [`clear`](Self::clear) and
/// [`std::io::Write`] (which appends at the filled length) fill it from
/// the start; [`as_full`](Self::as_full)/[`as_full_mut`](Self::as_full_mut)
/// give the whole buffer whatever the length. Every byte of a pool buffer
/// is always initialised (the slab starts zeroed and holds only bytes), so
/// [`set_len`](Self::set_len) is safe.
///
/// ```
/// use std::io::Write;
/// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap();
/// let mut buf = pool.get();
/// assert_eq!((buf.len(), buf.capacity()), (32, 32));
/// buf.clear();
/// write!(buf, "GET / HTTP/1.1")?;
/// assert_eq!(&buf[..], b"GET / HTTP/1.1");
/// assert_eq!(buf.spare_mut().len(), 32 - 14);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "dropping the guard returns the buffer at once"]
pub struct PooledBuf<'a> {
    /// The pool it came from.
    pool: &'a BufferPool,
    /// Owned by this guard alone: not in the ring, in no token.
    index: usize,
    /// The filled length, `<= pool.buffer_size()`.
    len: usize,
}

/// A buffer taken from a pool behind an [`Arc`]: `'static + Send`, it moves
/// into threads, tasks and channels and returns to its pool when dropped,
/// on any thread. Made by [`BufferPool::get_owned`] and its siblings.
///
/// It holds a clone of the pool's `Arc`, which keeps the pool alive. **Cost:**
/// each get clones the `Arc` and each drop releases it, one atomic
/// read-modify-write of the `Arc`'s reference count per get and per put, on
/// one cache line that every thread holding buffers of the pool writes.
/// Under contention from several threads that line bounces between cores.
/// Where the pool lives for the whole program, a `&'static BufferPool`
/// (a `static` or [`BufferPool::leak`]) gives `PooledBuf<'static>`
/// guards, equally `'static + Send`, without that cost.
///
/// It has the same filled-length API as [`PooledBuf`].
///
/// ```
/// use std::sync::Arc;
/// let pool = Arc::new(iobuf::BufferPool::new(iobuf::Tier::Small, 1).unwrap());
/// let mut buf = pool.get_owned();
/// buf.clear();
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
    /// The pool it came from, kept alive by this clone.
    pool: Arc<BufferPool>,
    /// Owned by this guard alone: not in the ring, in no token.
    index: usize,
    /// The filled length, `<= pool.buffer_size()`.
    len: usize,
}

impl<'a> PooledBuf<'a> {
    /// The pool it came from.
    ///
    /// ```
    /// let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap();
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
    /// in no token or guard), filled to its whole capacity.
    pub(crate) fn from_owned_index(pool: &'a BufferPool, index: usize) -> Self {
        PooledBuf {
            pool,
            index,
            len: pool.buffer_size(),
        }
    }

    /// The pool reference the shared guard code uses.
    #[inline]
    fn owner(&self) -> &BufferPool {
        self.pool
    }
}

impl OwnedBuf {
    /// The pool it came from.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let pool = Arc::new(iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap());
    /// assert!(Arc::ptr_eq(pool.get_owned().pool(), &pool));
    /// ```
    pub fn pool(&self) -> &Arc<BufferPool> {
        &self.pool
    }

    /// A guard for an index the caller owns exclusively, filled to its
    /// whole capacity.
    fn from_owned_index(pool: Arc<BufferPool>, index: usize) -> Self {
        let len = pool.buffer_size();
        OwnedBuf { pool, index, len }
    }

    /// The pool reference the shared guard code uses.
    #[inline]
    fn owner(&self) -> &BufferPool {
        &self.pool
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
            /// guard is filled to its capacity.
            ///
            /// ```
            #[doc = $setup]
            /// assert_eq!(buf.len(), 32);
            /// buf.clear();
            /// assert_eq!(buf.len(), 0);
            /// ```
            #[inline]
            pub fn len(&self) -> usize {
                self.len
            }

            /// Whether the filled length is zero.
            ///
            /// ```
            #[doc = $setup]
            /// assert!(!buf.is_empty());
            /// buf.clear();
            /// assert!(buf.is_empty());
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
            /// Errors: `len > capacity()` ([`Error::LengthTooLarge`]); the
            /// length is unchanged.
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
            /// buf.clear();
            /// assert_eq!(buf.len(), 0);
            /// ```
            #[inline]
            pub fn clear(&mut self) {
                self.len = 0;
            }

            /// The filled bytes (what `Deref` gives).
            ///
            /// ```
            #[doc = $setup]
            /// buf.set_len(2).unwrap();
            /// assert_eq!(buf.filled().len(), 2);
            /// ```
            #[inline]
            pub fn filled(&self) -> &[u8] {
                &self.as_full()[..self.len]
            }

            /// The filled bytes, mutably (what `DerefMut` gives).
            ///
            /// ```
            #[doc = $setup]
            /// buf.set_len(1).unwrap();
            /// buf.filled_mut()[0] = 7;
            /// assert_eq!(buf[0], 7);
            /// ```
            #[inline]
            pub fn filled_mut(&mut self) -> &mut [u8] {
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
            /// Errors: they do not fit ([`Error::LengthTooLarge`]); nothing
            /// is written.
            ///
            /// ```
            #[doc = $setup]
            /// buf.clear();
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
            /// buf.clear();
            /// assert_eq!(buf.as_full().len(), 32);
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
            /// zero-copy target of a read.
            ///
            /// ```
            #[doc = $setup]
            /// buf.clear();
            /// buf.as_full_mut()[31] = 1;
            /// assert_eq!(buf.as_full()[31], 1);
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
            /// buf.clear();
            /// assert_eq!(buf.as_iovec().len(), 32);
            /// ```
            pub fn as_iovec(&mut self) -> IoVec {
                IoVec::from_mut_slice(self.as_full_mut())
            }

            /// Leaves the guard and holds the buffer as a [`RawBuf`] token:
            /// it stays out of the pool until [`BufferPool::put_raw`] or
            /// [`BufferPool::guard`] (whose guard is filled to capacity).
            ///
            /// ```
            #[doc = $setup]
            /// let raw = buf.into_raw();
            /// # let _ = raw.into_index();
            /// ```
            pub fn into_raw(self) -> RawBuf {
                let raw = RawBuf {
                    index: self.index,
                    pool_id: self.owner().id,
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
            fn drop(&mut self) {
                // SAFETY: the index is in range and owned by this guard
                // alone, which gives it up here.
                unsafe { self.owner().release(self.index) }
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct($name)
                    .field("tier", &self.owner().tier)
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
                self.owner().id
            }
        }
    };
}

guard_common!(
    PooledBuf<'_>,
    "PooledBuf",
    "let pool = iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap();\nlet mut buf = pool.get();"
);
guard_common!(
    OwnedBuf,
    "OwnedBuf",
    "let pool = std::sync::Arc::new(iobuf::BufferPool::new(iobuf::Tier::Pico, 1).unwrap());\nlet mut buf = pool.get_owned();"
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
        // runs, so this is the one read (and drop) of the Arc.
        drop(unsafe { std::ptr::read(&this.pool) });
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
    /// filled to `N`.
    ///
    /// ```
    /// let pool = iobuf::PicoBufferPool::new(1).unwrap();
    /// let mut buf = pool.get();
    /// assert_eq!((buf.len(), buf.capacity()), (32, 32));
    /// buf.clear();
    /// assert!(buf.is_empty());
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
    /// Errors: `len > N` ([`Error::LengthTooLarge`]).
    ///
    /// ```
    /// let pool = iobuf::PicoBufferPool::new(1).unwrap();
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
    /// let pool = iobuf::PicoBufferPool::new(1).unwrap();
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
/// let pool = iobuf::PicoBufferPool::new(1).unwrap();
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
            // SAFETY: out of range, so refused before anything is made.
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
    fn stats_count_use_misses_and_the_high_water_mark() {
        for pool in [
            BufferPool::new(Tier::Pico, 3).unwrap(),
            BufferPool::new_fifo(Tier::Pico, 3).unwrap(),
        ] {
            let s = pool.stats();
            assert_eq!((s.capacity, s.free, s.in_use, s.high_water), (3, 3, 0, 0));
            let held: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
            assert_eq!(held.len(), 3);
            assert!(pool.try_get().is_none());
            let s = pool.stats();
            assert_eq!((s.free, s.in_use, s.high_water), (0, 3, 3));
            // The loop above failed once, plus this one.
            assert_eq!(s.failed_try_gets, 2);
            drop(held);
            let one = pool.try_get().unwrap();
            let s = pool.stats();
            assert_eq!((s.free, s.in_use, s.high_water, s.waiters), (2, 1, 3, 0));
            // Blocking and owned gets do not count as failed try_gets.
            drop(one);
            let _g = pool.get_timeout(Duration::from_millis(1)).unwrap();
            assert_eq!(pool.stats().failed_try_gets, 2);
        }
    }

    #[test]
    fn filled_length_write_and_full_access() {
        use std::io::Write;
        let pool = BufferPool::new(Tier::Pico, 1).unwrap();
        let mut b = pool.get();
        assert_eq!((b.len(), b.capacity(), b.spare_mut().len()), (32, 32, 0));
        b.clear();
        b.write_all(b"0123456789").unwrap();
        assert_eq!(&b[..], b"0123456789");
        // Short when full: 22 bytes of room for 30.
        assert_eq!(b.write(&[b'x'; 30]).unwrap(), 22);
        assert_eq!(b.write(b"y").unwrap(), 0);
        assert!(b.write_all(b"y").is_err());
        assert_eq!(b.len(), 32);
        assert_eq!(
            b.set_len(33),
            Err(Error::LengthTooLarge {
                len: 33,
                capacity: 32
            })
        );
        b.set_len(2).unwrap();
        assert_eq!(&b[..], b"01");
        assert_eq!(&b.as_full()[..10], b"0123456789"); // the bytes stay
        b.as_full_mut()[2] = b'!';
        b.set_len(3).unwrap();
        assert_eq!(&b[..], b"01!");
        // A guard rebuilt from a token is filled to capacity again.
        let raw = b.into_raw();
        let g = pool.guard(raw).unwrap();
        assert_eq!(g.len(), 32);
        assert_eq!(&g[..3], b"01!");
    }

    #[test]
    fn owned_guards_keep_the_pool_alive_and_return_on_any_thread() {
        let pool = Arc::new(BufferPool::new(Tier::Pico, 2).unwrap());
        let mut a = pool.get_owned();
        a.clear();
        a.extend_from_slice_checked(b"abc").unwrap();
        let weak = Arc::downgrade(&pool);
        drop(pool); // the guard keeps it
        let t = std::thread::spawn(move || {
            assert_eq!(&a[..], b"abc");
            let pool = Arc::clone(a.pool());
            drop(a);
            pool.try_get_owned().map(|b| b.index())
        });
        assert!(t.join().unwrap().is_some());
        assert!(weak.upgrade().is_none(), "the last guard freed the pool");
        let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
        let raw = pool.get_owned().into_raw();
        assert_eq!(Arc::strong_count(&pool), 1, "into_raw dropped its Arc");
        pool.put_raw(raw).unwrap();
        assert!(pool.try_get().is_some());
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
