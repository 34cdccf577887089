//! [`BufferPool`]: one page-aligned slab of equal buffers, handed out by
//! index through the lock-free [`IndexRing`] (behind a one-entry reuse slot).
//!
//! This module holds the pool itself: construction, `get`/`try_get`/
//! `get_timeout` and the return paths to the shared list. The rest lives
//! in one file per concern: [`cached`] (the per-thread cache's glue: gets
//! and returns through magazines, the cache budget, draining other
//! threads' caches for a waiting get), [`stats`] ([`PoolStats`] and its
//! counters), [`batch`] (`try_get_many`/`put_many`), [`guard`] (the
//! [`PooledBuf`] and [`OwnedBuf`] guards and the `Arc` gets), [`raw`]
//! ([`RawBuf`] tokens, [`Held`] and the raw API), [`typed`] ([`TierPool`],
//! [`TierBuf`] and the per-tier aliases) and [`acquire`] (the async
//! acquire futures).

mod acquire;
mod batch;
mod builder;
mod cached;
mod guard;
mod lifetime;
mod raw;
mod stats;
#[cfg(test)]
mod tests;
mod typed;

use acquire::PoolSource;
pub use acquire::{AcquireBuf, AcquireOwned};
pub use builder::BufferPoolBuilder;
use cached::Blocked;
pub use guard::{OwnedBuf, PooledBuf};
pub use raw::{Held, RawBuf};
use stats::Counters;
pub use stats::PoolStats;
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
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::AtomicUsize as StdAtomicUsize;
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
/// [`BufferPoolBuilder::reuse_slot`]`(false)` builds a pool without it, whose
/// buffers go round the ring in order.
///
/// In front of both, [`new`](BufferPool::new) gives each thread that uses
/// the pool a small cache of free buffers of its own (a get that finds one
/// there, and a drop that finds room, make no atomic read-modify-write);
/// a get that has to wait takes the free buffers out of every thread's
/// cache first, so none is stranded in an idle thread. See
/// [`BufferPoolBuilder::thread_cache`] for the details and for opting out.
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
#[repr(transparent)]
pub struct BufferPool {
    /// The pool's state, in an allocation of its own that outlives this
    /// handle while [`OwnedBuf`]s of the pool live (src/pool/lifetime.rs).
    /// The handle holds one of its references until it drops. An
    /// `OwnedBuf` hands out a `&BufferPool` that is its own copy of this
    /// pointer (hence `repr(transparent)`): every method works through
    /// either.
    core: NonNull<PoolCore>,
}

/// Everything a [`BufferPool`] is: freed when its last reference goes
/// (the handle's and each [`OwnedBuf`]'s; src/pool/lifetime.rs).
pub(crate) struct PoolCore {
    /// The free indices. Every index in `0..capacity` is, at every moment,
    /// in exactly one place: this list (its reuse slot or its ring), a live
    /// [`PooledBuf`] or [`OwnedBuf`], a thread cache's magazine, a
    /// `LocalCache`, a wait-list entry, or a live [`RawBuf`] of this pool.
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
    /// capacity, so caches together hold at most half the buffers
    /// (`caches_together_hold_at_most_half_the_pool`).
    /// Changed only through [`reserve_cache`](BufferPool::reserve_cache) and
    /// [`unreserve_cache`](BufferPool::unreserve_cache).
    cache_budget: AtomicUsize,
    /// Tasks waiting in [`acquire`](BufferPool::acquire) and
    /// [`acquire_owned`](BufferPool::acquire_owned); every return notifies
    /// it (one load when nobody waits).
    waiters: WaitList,
    /// The counters behind [`stats`](BufferPool::stats), and the core's
    /// reference count (`counters.cold.refs`): 1 for the handle (until it
    /// drops), 1 per live [`OwnedBuf`], and the stocks of references
    /// thread caches keep for owned gets and drops
    /// (src/pool/lifetime.rs).
    counters: Counters,
    /// The per-thread magazines, for a pool built with
    /// [`BufferPoolBuilder::thread_cache`]; `None`: every get and put goes
    /// to `free`. Fixed at construction.
    thread_cache: Option<ThreadCaches>,
    /// Under loom: "written" when the core is freed and "read" by every
    /// access through [`BufferPool::core`], so that loom reports any
    /// access the free does not come after (a use after free).
    #[cfg(loom)]
    alive: loom::cell::UnsafeCell<()>,
    /// Under unit tests: set when the core is freed, so that a test can see
    /// when (and that only once) it is.
    #[cfg(all(test, not(loom)))]
    freed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The thread cache [`BufferPool::new`] gives a pool of `capacity`
/// buffers: a magazine of `capacity / (2 × CPUs)` buffers per thread, at
/// most [`DEFAULT_CACHE_SIZE`](crate::DEFAULT_CACHE_SIZE) (64), so that
/// one magazine per CPU fits in the cache budget (half the pool); 0 (no
/// cache) for pools too small to share that way.
///
/// Under `cfg(loom)`, 0: the ring's and wait list's models build plain
/// pools with `new`, and the cache's models build theirs explicitly, so
/// that each model explores the protocol it is about.
pub(super) fn default_thread_cache(capacity: usize) -> usize {
    #[cfg(loom)]
    {
        let _ = capacity;
        0
    }
    #[cfg(not(loom))]
    {
        static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let cpus =
            *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        (capacity / cpus.saturating_mul(2)).min(crate::DEFAULT_CACHE_SIZE)
    }
}

/// The source of pool identities. Starts at 1; 2^64 pools cannot be made.
static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

// SAFETY: the slab is owned by the pool; each buffer is reachable only by
// the holder of its index, which the ring hands to one owner at a time.
unsafe impl Send for BufferPool {}
// SAFETY: as above: shared access to the pool never gives two owners access
// to one buffer, and every other field is atomic or immutable.
unsafe impl Sync for BufferPool {}

impl PoolCore {
    /// The core's reference count (src/pool/lifetime.rs).
    #[inline(always)]
    pub(crate) fn refs(&self) -> &lifetime::RefCount {
        &self.counters.cold.refs
    }
}

impl BufferPool {
    /// The pool's state.
    #[inline(always)]
    pub(crate) fn core(&self) -> &PoolCore {
        // SAFETY: this handle, or the `OwnedBuf` whose copy of the pointer
        // `self` is, holds one of the core's references for as long as
        // `self` is borrowed, so the core is alive (src/pool/lifetime.rs).
        let core = unsafe { self.core.as_ref() };
        #[cfg(loom)]
        core.alive.with(|_| ());
        core
    }

    /// A pool of exactly `capacity` buffers of `tier`, all free, with a
    /// per-thread cache of `capacity / (2 × CPUs)` buffers (at most 64; none
    /// for a pool too small for that): see
    /// [`BufferPoolBuilder::thread_cache`], whose `0` opts out.
    ///
    /// The slab is exactly `capacity * tier.size()` bytes (3 Titan buffers
    /// allocate 3 × 128 MiB); only the index ring rounds up to a power of two.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`], [`Error::CapacityTooLarge`] (above
    /// [`MAX_CAPACITY`](crate::MAX_CAPACITY)), [`Error::Overflow`] (a slab
    /// size that overflows), or [`Error::AllocFailed`] (memory the OS
    /// refuses: the slab first, then the ring's slots, so nothing large is
    /// written before the slab is known to exist).
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, Error, Tier};
    /// assert!(BufferPool::new(Tier::Small, 4).is_ok());
    /// assert_eq!(BufferPool::new(Tier::Small, 0).unwrap_err(), Error::ZeroCapacity);
    /// ```
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        Self::build(
            tier,
            capacity,
            FreeList::full,
            default_thread_cache(capacity),
        )
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
        let core = Box::new(PoolCore {
            free,
            slab,
            base,
            tier,
            id,
            cache_budget: AtomicUsize::new(capacity / 2),
            waiters: WaitList::new(),
            counters: Counters::new(),
            thread_cache: (thread_cache > 0).then(|| ThreadCaches::new(id, thread_cache)),
            #[cfg(loom)]
            alive: loom::cell::UnsafeCell::new(()),
            #[cfg(all(test, not(loom)))]
            freed: Default::default(),
        });
        Ok(BufferPool {
            core: NonNull::from(Box::leak(core)),
        })
    }

    /// Number of buffers.
    pub fn capacity(&self) -> usize {
        self.core().free.capacity()
    }

    /// Whether the pool has the reuse slot ([`new`](Self::new)) or not
    /// ([`BufferPoolBuilder::reuse_slot`]`(false)`).
    pub fn has_reuse_slot(&self) -> bool {
        self.core().free.has_reuse_slot()
    }

    /// The tier of every buffer.
    pub fn tier(&self) -> Tier {
        self.core().tier
    }

    /// Bytes per buffer.
    pub fn buffer_size(&self) -> usize {
        self.core().tier.size()
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
        if self.core().waiters.revoke_uncollected(&PoolSource(self)) == 0 {
            return None;
        }
        self.pop_index()
    }

    /// A free index without counting a miss (the waiting loops): from
    /// this thread's magazine if the pool has a thread cache, else from the
    /// free list.
    #[inline(always)]
    fn pop_index(&self) -> Option<usize> {
        if let Some(caches) = &self.core().thread_cache {
            return self.pop_cached(caches);
        }
        self.pop_free()
    }

    /// A free index from the free list (the pool has no thread cache): the
    /// reuse slot inline, the ring out of line, so that the inlined get
    /// stays small enough to inline into a caller's loop.
    #[inline(always)]
    fn pop_free(&self) -> Option<usize> {
        if let Some(index) = self.core().free.take_parked() {
            return Some(index);
        }
        self.pop_free_ring()
    }

    /// [`pop_free`](Self::pop_free) past an empty slot: the ring, then the
    /// slot once more.
    #[inline(never)]
    fn pop_free_ring(&self) -> Option<usize> {
        #[cfg(not(loom))]
        return self.core().free.pop_noting_ring(|| self.raise_high_water());
        #[cfg(loom)]
        self.core().free.pop()
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

    /// Whether the pool looks dry, by reads alone (for waiting loops). A
    /// pool whose exited threads left buffers in their magazines does not:
    /// the next get reclaims them; nor does one with hand-overs to async
    /// waiters not yet collected (the next get may take back a forgotten
    /// one's).
    pub(crate) fn looks_dry(&self) -> bool {
        self.core().free.looks_empty()
            && !self
                .core()
                .thread_cache
                .as_ref()
                .is_some_and(|c| c.has_orphans())
            && !self.core().waiters.has_uncollected()
    }

    /// Puts an index its caller owns back into the free list: the one path
    /// by which a guard, a raw token or a cache flush returns a buffer.
    ///
    /// # Safety
    /// `index < capacity`, and the caller owns it exclusively (it is in no
    /// free list, guard, cache or token) and gives that ownership up here.
    #[inline(always)]
    pub(crate) unsafe fn give_back(&self, index: usize) {
        match &self.core().thread_cache {
            // SAFETY: forwarded.
            Some(caches) => unsafe { self.return_via_cache(caches, index) },
            // SAFETY: forwarded.
            None => unsafe { self.return_to_list(index) },
        }
    }

    /// Puts an owned index on the free list and wakes a waiter for it: the
    /// reuse slot inline, the ring out of line.
    ///
    /// # Safety
    /// As [`give_back`](Self::give_back).
    #[inline(always)]
    pub(super) unsafe fn return_to_list(&self, index: usize) {
        if !self.core().free.try_park(index) {
            // SAFETY: forwarded.
            return unsafe { self.return_to_ring(index) };
        }
        // The park was a SeqCst write; now the one load.
        self.core().waiters.notify(&PoolSource(self));
    }

    /// [`return_to_list`](Self::return_to_list) past a full (or absent)
    /// slot.
    ///
    /// # Safety
    /// As [`give_back`](Self::give_back).
    #[inline(never)]
    unsafe fn return_to_ring(&self, index: usize) {
        // SAFETY: forwarded: the caller owns `index`, so it is out of the
        // free list, which therefore holds fewer than capacity indices.
        unsafe { self.core().free.push_to_ring(index) };
        // The push was a SeqCst write; now the one load.
        self.core().waiters.notify(&PoolSource(self));
    }

    /// Puts owned indices straight into the ring, past the reuse slot, with
    /// one batch push: the return path of a cache's flush (the slot is for
    /// the next single get). With [`give_back`](Self::give_back), the only ways
    /// a buffer comes back to the pool; both notify waiters.
    ///
    /// # Safety
    /// As [`give_back`](Self::give_back), for every index, each at most once.
    #[inline]
    pub(crate) unsafe fn return_many_to_ring(&self, indices: &[usize]) {
        // SAFETY: forwarded from the caller.
        unsafe { self.core().free.push_many_to_ring(indices) };
        self.core().waiters.notify(&PoolSource(self));
    }

    /// Pointer to buffer `index`; `index < capacity`.
    #[inline]
    fn buffer_ptr_unchecked(&self, index: usize) -> *mut u8 {
        // SAFETY: index < capacity, so the offset stays inside the slab.
        unsafe {
            self.core()
                .base
                .as_ptr()
                .add(index * self.core().tier.size())
        }
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
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`]: `index` is not below the capacity.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 2).unwrap();
    /// assert!(pool.buffer_ptr(1).is_ok() && pool.buffer_ptr(2).is_err());
    /// ```
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
        IoVec::from_raw_parts(self.core().base.as_ptr(), self.core().slab.len())
    }

    /// One vector per buffer, in index order: pass these to
    /// `io_uring_register_buffers` and pool index = fixed-buffer index.
    /// Pointers and lengths only, like [`slab_iovec`](Self::slab_iovec).
    ///
    /// # Errors
    /// [`Error::AllocFailed`]: the vector's memory (16 bytes a buffer) is
    /// refused.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 3).unwrap();
    /// let v = pool.iovecs().unwrap();
    /// assert_eq!((v.len(), v[1].len()), (3, 32));
    /// ```
    pub fn iovecs(&self) -> Result<Vec<IoVec>, Error> {
        let mut v = Vec::new();
        v.try_reserve_exact(self.capacity())
            .map_err(|_| Error::AllocFailed {
                size: self.capacity().saturating_mul(std::mem::size_of::<IoVec>()),
            })?;
        v.extend(
            (0..self.capacity()).map(|i| {
                IoVec::from_raw_parts(self.buffer_ptr_unchecked(i), self.core().tier.size())
            }),
        );
        Ok(v)
    }

    /// The free indices (for the per-thread cache's batches).
    pub(crate) fn free_list(&self) -> &FreeList {
        &self.core().free
    }
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("tier", &self.core().tier)
            .field("capacity", &self.capacity())
            .field("id", &self.core().id)
            .finish_non_exhaustive()
    }
}
