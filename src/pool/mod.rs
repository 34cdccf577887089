//! [`BufferPool`]: one page-aligned slab of equal buffers, handed out by
//! index through the lock-free [`IndexRing`] (behind a one-entry reuse slot).
//!
//! This module holds the pool itself: construction, `get`/`try_get`/
//! `get_timeout`, the release paths, the per-thread cache budget and the
//! statistics. The rest lives in one file per concern: [`guard`] (the
//! [`PooledBuf`] and [`OwnedBuf`] guards and the `Arc` gets), [`raw`]
//! ([`RawBuf`] tokens, [`Held`] and the raw API), [`typed`] ([`TierPool`],
//! [`TierBuf`] and the per-tier aliases) and [`acquire`] (the async
//! acquire futures).

mod acquire;
mod batch;
mod builder;
mod guard;
mod raw;
#[cfg(test)]
mod tests;
mod typed;

use acquire::PoolSource;
pub use acquire::{AcquireBuf, AcquireOwned};
pub use builder::BufferPoolBuilder;
pub use guard::{OwnedBuf, PooledBuf};
pub use raw::{Held, RawBuf};
pub use typed::{
    BigBufferPool, GiantBufferPool, GreatBufferPool, HugeBufferPool, LargeBufferPool,
    MediumBufferPool, MicroBufferPool, NanoBufferPool, PicoBufferPool, SmallBufferPool, TierBuf,
    TierPool, TitanBufferPool, VastBufferPool,
};

use crate::backoff::{retry_until, wait_for};
use crate::freelist::FreeList;
use crate::thread_cache::{Put, ThreadCaches};
use crate::waiters::WaitList;
use crate::{AlignedBuf, Error, IoVec, Tier};
use crossbeam_utils::CachePadded;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64 as StdAtomicU64, AtomicUsize as StdAtomicUsize};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A bounded, lock-free pool of `capacity` buffers of one [`Tier`].
///
/// The buffers are one page-aligned slab, allocated once; the pool hands out
/// their indices. [`PooledBuf`] guards give zero-copy access and return the buffer
/// when dropped, from any thread.
///
/// The free indices sit in a lock-free [`IndexRing`](crate::sync::IndexRing)
/// behind a one-entry *reuse slot*: a put parks its index there when the
/// slot is empty and the next get takes it, at two locked instructions per
/// get and put instead of the ring's four; a thread that gives a buffer back
/// and takes another gets the same, still warm in cache.
/// [`new_fifo`](BufferPool::new_fifo) builds a pool without it, whose
/// buffers go round the ring in order.
///
/// ```
/// use iobuf_pool::{BufferPool, Tier};
/// let pool = BufferPool::new(Tier::Small, 3).unwrap();
/// let mut buf = pool.try_get().unwrap();
/// buf.extend_from_slice_checked(b"hello").unwrap(); // fresh guards start empty
/// assert_eq!((buf.len(), buf.capacity()), (5, 2048));
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
    /// The per-thread magazines, for a pool built with
    /// [`BufferPoolBuilder::thread_cache`]; `None`: every get and put goes
    /// to `free`. Fixed at construction.
    thread_cache: Option<ThreadCaches>,
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
    /// Blocking gets of a thread-cached pool that found it dry and wait:
    /// while it is not 0, returns skip the thread caches, as they do for
    /// async waiters. Written only by waiting gets.
    blocked: CachePadded<StdAtomicUsize>,
}

impl Counters {
    fn new() -> Self {
        Counters {
            failed: std::array::from_fn(|_| CachePadded::new(StdAtomicU64::new(0))),
            high_water: CachePadded::new(StdAtomicUsize::new(0)),
            blocked: CachePadded::new(StdAtomicUsize::new(0)),
        }
    }
}

/// A blocking get of a thread-cached pool, counted in
/// [`Counters::blocked`] while it waits (the count is not touched for a
/// pool without a thread cache, whose returns never skip the list).
struct Blocked<'a>(Option<&'a StdAtomicUsize>);

impl<'a> Blocked<'a> {
    fn new(pool: &'a BufferPool) -> Self {
        let counter = pool.thread_cache.as_ref().map(|_| &*pool.counters.blocked);
        if let Some(c) = counter {
            // SeqCst, then the waiting loop looks at the list: as an async
            // waiter's count and look (a return writes, then reads this).
            c.fetch_add(1, Ordering::SeqCst);
        }
        Blocked(counter)
    }
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0 {
            c.fetch_sub(1, Ordering::SeqCst);
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
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 4).unwrap();
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
    /// Buffers free now: in the free list, or in a per-thread cache of a
    /// pool built with one (see `cached`).
    pub free: usize,
    /// Buffers held now: in guards, tokens and [`LocalCache`](crate::LocalCache)s.
    pub in_use: usize,
    /// The most buffers seen out of the shared free list at once since the
    /// pool was made (buffers in per-thread caches count as out: the mark
    /// is raised by gets that take from the shared list, which cannot see
    /// the caches without a shared write per operation).
    pub high_water: usize,
    /// `try_get` (and `try_get_owned`) calls that found the pool dry.
    pub failed_try_gets: u64,
    /// Tasks waiting in `acquire` now.
    pub waiters: usize,
    /// Of `free`, the buffers in per-thread caches (a pool built with
    /// [`BufferPoolBuilder::thread_cache`]): free, but served only to the
    /// thread whose cache holds them. 0 without a thread cache.
    pub cached: usize,
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
    /// use iobuf_pool::{BufferPool, Error, Tier};
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
    /// use iobuf_pool::{BufferPool, Tier};
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
        Self::build(tier, capacity, free_list, 0)
    }

    /// The one constructor: `thread_cache` is each thread's magazine size
    /// (0: none).
    fn build(
        tier: Tier,
        capacity: usize,
        free_list: fn(usize) -> Result<FreeList, Error>,
        thread_cache: usize,
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
        let id = NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed);
        Ok(BufferPool {
            free,
            slab,
            base,
            tier,
            id,
            cache_budget: AtomicUsize::new(capacity / 2),
            waiters: WaitList::new(),
            counters: Counters::new(),
            thread_cache: (thread_cache > 0).then(|| ThreadCaches::new(id, thread_cache)),
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
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
    /// let held = pool.try_get().unwrap();
    /// assert!(pool.try_get().is_none());
    /// assert_eq!(pool.stats().failed_try_gets, 1);
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    #[inline(always)]
    pub fn try_get(&self) -> Option<PooledBuf<'_>> {
        self.take_index()
            .map(|index| PooledBuf::from_owned_index(self, index))
    }

    /// A free index, counting a miss in the statistics.
    #[inline(always)]
    fn take_index(&self) -> Option<usize> {
        let got = self.pop_index();
        if got.is_none() {
            return self.take_index_dry();
        }
        got
    }

    /// [`take_index`](Self::take_index) on a dry pool: takes back hand-overs
    /// that async waiters never collected (a forgotten future), then counts
    /// the miss if there is still nothing.
    #[cold]
    fn take_index_dry(&self) -> Option<usize> {
        let got = self.pop_revoking();
        if got.is_none() {
            self.count_failed();
        }
        got
    }

    /// The pool looked dry: if a future was handed an index and has not
    /// collected it within its grace (it may have been forgotten), take it
    /// back (to the longest async waiter first) and try once more.
    #[cold]
    fn pop_revoking(&self) -> Option<usize> {
        if self.waiters.revoke_uncollected(&PoolSource(self)) == 0 {
            return None;
        }
        self.pop_index()
    }

    /// A free index without counting a miss (the waiting loops): from
    /// this thread's magazine if the pool has a thread cache, else from the
    /// free list.
    #[inline(always)]
    fn pop_index(&self) -> Option<usize> {
        if let Some(caches) = &self.thread_cache {
            return self.pop_cached(caches);
        }
        self.pop_free()
    }

    /// A free index from the free list (the pool has no thread cache): the
    /// reuse slot inline, the ring out of line, so that the inlined get
    /// stays small enough to inline into a caller's loop.
    #[inline(always)]
    fn pop_free(&self) -> Option<usize> {
        if let Some(index) = self.free.take_parked() {
            return Some(index);
        }
        self.pop_free_ring()
    }

    /// [`pop_free`](Self::pop_free) past an empty slot: the ring, then the
    /// slot once more.
    #[inline(never)]
    fn pop_free_ring(&self) -> Option<usize> {
        #[cfg(not(loom))]
        return self.free.pop_noting_ring(|| self.raise_high_water());
        #[cfg(loom)]
        self.free.pop()
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

    /// [`pop_index`](Self::pop_index) for a pool with a thread cache: the
    /// fast path (this thread's current magazine has an index) inline,
    /// everything else out of line.
    #[inline(always)]
    fn pop_cached(&self, caches: &ThreadCaches) -> Option<usize> {
        // SAFETY: `with_current` hands over this thread's magazine of this
        // pool, and `pop_fast` is the one magazine method running.
        match caches.with_current(self.id, |m| unsafe { m.pop_fast() }) {
            Some(Some(index)) => Some(index),
            _ => self.pop_cached_slow(caches),
        }
    }

    /// A get through the thread cache that the fast path could not serve:
    /// a refill, the thread's first use of the pool (registering its
    /// magazine), or a dry pool.
    #[inline(never)]
    fn pop_cached_slow(&self, caches: &ThreadCaches) -> Option<usize> {
        // SAFETY: as in `pop_cached`; `refill` calls only the free list and
        // the high-water update (a leaf: two loads and a rare fetch_max).
        let refill = |m: &crate::thread_cache::Magazine| unsafe {
            m.refill(&self.free, || self.note_refill())
        };
        let got = match caches.with_current(self.id, refill) {
            Some(got) => got,
            None => {
                self.reclaim_orphans(caches);
                let registered = caches.find_or_register(
                    self.id,
                    |want| self.reserve_cache(want),
                    |n| self.release_cache(n),
                );
                match registered {
                    Some(()) => caches.with_current(self.id, refill).flatten(),
                    // No magazine to be had (thread-locals torn down, or
                    // memory refused): the shared list.
                    None => self.free.pop(),
                }
            }
        };
        got.or_else(|| self.pop_after_dry(caches))
    }

    /// This thread's magazine and the free list were dry: takes back what
    /// threads that exited left in their magazines, and tries once more.
    #[cold]
    fn pop_after_dry(&self, caches: &ThreadCaches) -> Option<usize> {
        if self.reclaim_orphans(caches) == 0 {
            return None;
        }
        self.free.pop()
    }

    /// Gives the indices of exited threads' magazines back to the ring and
    /// wakes waiters for them; how many came back.
    fn reclaim_orphans(&self, caches: &ThreadCaches) -> usize {
        let back = caches.reclaim(&self.free, |n| self.release_cache(n));
        if back > 0 {
            self.waiters.notify(&PoolSource(self));
        }
        back
    }

    /// After a magazine refill: the high-water mark (which counts indices
    /// in magazines as in use).
    #[inline]
    fn note_refill(&self) {
        #[cfg(not(loom))]
        self.raise_high_water();
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
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
    /// let buf = pool.get();
    /// assert_eq!((buf.len(), buf.capacity()), (0, 32));
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get(&self) -> PooledBuf<'_> {
        PooledBuf::from_owned_index(self, self.wait_index())
    }

    /// Takes a free buffer, waiting at most `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
    /// let held = pool.get_timeout(Duration::from_millis(1)).unwrap();
    /// assert!(pool.get_timeout(Duration::from_millis(1)).is_none());
    /// ```
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get_timeout(&self, timeout: Duration) -> Option<PooledBuf<'_>> {
        self.wait_index_until(Instant::now().checked_add(timeout))
            .map(|index| PooledBuf::from_owned_index(self, index))
    }

    /// A free index, waiting (spin, yield, capped sleep) for one.
    fn wait_index(&self) -> usize {
        if let Some(index) = self.pop_index() {
            return index;
        }
        let _waiting = Blocked::new(self);
        wait_for(
            || self.pop_index().or_else(|| self.pop_revoking()),
            || self.looks_dry(),
        )
    }

    /// A free index, waiting until `deadline` (never, for `None`).
    fn wait_index_until(&self, deadline: Option<Instant>) -> Option<usize> {
        if let Some(index) = self.pop_index() {
            return Some(index);
        }
        let _waiting = Blocked::new(self);
        retry_until(
            deadline,
            || self.pop_index().or_else(|| self.pop_revoking()),
            || self.looks_dry(),
        )
    }

    /// Whether any get waits for a buffer now (an async waiter, or a
    /// blocking get of a thread-cached pool): one or two loads of lines
    /// that only waiters write.
    #[inline(always)]
    fn anyone_waits(&self) -> bool {
        self.waiters.has_waiters() || self.counters.blocked.load(Ordering::SeqCst) != 0
    }

    /// Leaks the pool for a `&'static BufferPool`, whose guards are
    /// `PooledBuf<'static>`: `'static + Send` with no reference count (the
    /// zero-cost way to move buffers into threads and tasks). The slab is
    /// never freed; for a pool that lives as long as the program.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 2).unwrap().leak();
    /// let mut buf = pool.get();
    /// buf.as_full_mut()[0] = 9;
    /// let t = std::thread::spawn(move || buf.as_full()[0]);
    /// assert_eq!(t.join().unwrap(), 9);
    /// ```
    pub fn leak(self) -> &'static BufferPool {
        Box::leak(Box::new(self))
    }

    /// A snapshot of the pool's use (see [`PoolStats`]).
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 2).unwrap();
    /// let s = pool.stats();
    /// assert_eq!((s.free, s.in_use, s.waiters), (2, 0, 0));
    /// ```
    pub fn stats(&self) -> PoolStats {
        let capacity = self.capacity();
        let cached = match &self.thread_cache {
            Some(caches) => {
                self.reclaim_orphans(caches);
                caches.cached()
            }
            None => 0,
        };
        let free = (self.free.approx_free() + cached).min(capacity);
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
            cached,
        }
    }

    /// Whether the pool looks dry, by reads alone (for waiting loops). A
    /// pool whose exited threads left buffers in their magazines does not:
    /// the next get reclaims them; nor does one with hand-overs to async
    /// waiters not yet collected (the next get may take back a forgotten
    /// one's).
    pub(crate) fn looks_dry(&self) -> bool {
        self.free.looks_empty()
            && !self.thread_cache.as_ref().is_some_and(|c| c.has_orphans())
            && !self.waiters.has_uncollected()
    }

    /// Puts an index its caller owns back into the free list: the one path
    /// by which a guard, a raw token or a cache flush returns a buffer.
    ///
    /// # Safety
    /// `index < capacity`, and the caller owns it exclusively (it is in no
    /// free list, guard, cache or token) and gives that ownership up here.
    #[inline(always)]
    pub(crate) unsafe fn release(&self, index: usize) {
        match &self.thread_cache {
            // SAFETY: forwarded.
            Some(caches) => unsafe { self.release_cached(caches, index) },
            // SAFETY: forwarded.
            None => unsafe { self.release_to_list(index) },
        }
    }

    /// [`release`](Self::release) for a pool with a thread cache: with
    /// nobody waiting, into this thread's magazine. (While anyone waits,
    /// returns go to the shared list, to be handed over; a waiter that
    /// arrives just after the check is served by the next return that sees
    /// it.) Not forced inline: the plain pool's drop stays small enough to
    /// inline into callers.
    ///
    /// # Safety
    /// As [`release`](Self::release).
    #[inline]
    unsafe fn release_cached(&self, caches: &ThreadCaches, index: usize) {
        // This thread's magazine of this pool; `push_fast` is the one
        // magazine method running. The caller owns `index`.
        // SAFETY: so the magazine may keep it; it gives it up when kept.
        let push = |m: &crate::thread_cache::Magazine| unsafe { m.push_fast(index) };
        if !self.anyone_waits() && caches.with_current(self.id, push) == Some(true) {
            return;
        }
        // SAFETY: forwarded.
        unsafe { self.release_cached_slow(caches, index) }
    }

    /// Puts an owned index on the free list and wakes a waiter for it: the
    /// reuse slot inline, the ring out of line.
    ///
    /// # Safety
    /// As [`release`](Self::release).
    #[inline(always)]
    unsafe fn release_to_list(&self, index: usize) {
        if !self.free.try_park(index) {
            // SAFETY: forwarded.
            return unsafe { self.release_to_ring(index) };
        }
        // The park was a SeqCst write; now the one load.
        self.waiters.notify(&PoolSource(self));
    }

    /// [`release_to_list`](Self::release_to_list) past a full (or absent)
    /// slot.
    ///
    /// # Safety
    /// As [`release`](Self::release).
    #[inline(never)]
    unsafe fn release_to_ring(&self, index: usize) {
        // SAFETY: forwarded: the caller owns `index`, so it is out of the
        // free list, which therefore holds fewer than capacity indices.
        unsafe { self.free.push_to_ring(index) };
        // The push was a SeqCst write; now the one load.
        self.waiters.notify(&PoolSource(self));
    }

    /// A return through the thread cache that the fast path could not
    /// take: someone waits, the magazine is full (flush half, keep it), or
    /// this thread has no current magazine of this pool (register one).
    ///
    /// # Safety
    /// As [`release`](Self::release).
    #[inline(never)]
    unsafe fn release_cached_slow(&self, caches: &ThreadCaches, index: usize) {
        if !self.anyone_waits() {
            // SAFETY: as in `release`; `push_flushing` calls only the free
            // list.
            let push =
                |m: &crate::thread_cache::Magazine| unsafe { m.push_flushing(&self.free, index) };
            let mut put = caches.with_current(self.id, push);
            if put.is_none() {
                let registered = caches.find_or_register(
                    self.id,
                    |want| self.reserve_cache(want),
                    |n| self.release_cache(n),
                );
                if registered.is_some() {
                    put = caches.with_current(self.id, push);
                }
            }
            match put {
                Some(Put::InCache) => return,
                Some(Put::AfterFlush) => return self.waiters.notify(&PoolSource(self)),
                Some(Put::Passed) | None => {}
            }
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.release_to_list(index) }
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
