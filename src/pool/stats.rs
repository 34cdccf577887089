//! The pool's statistics: [`PoolStats`], [`BufferPool::stats`] and the
//! counters behind them, each written only on a slow path.

use super::*;
use crossbeam_utils::CachePadded;
use std::sync::atomic::AtomicU64 as StdAtomicU64;

/// The statistics' counters and the core's reference count: each is
/// written only on a slow path.
pub(super) struct Counters {
    /// The rarely written ones, sharing one line: metadata is at most 24
    /// bytes a buffer (tests/metadata.rs), and a line per counter was a
    /// kilobyte a pool.
    pub(super) cold: CachePadded<ColdCounters>,
    /// Blocking gets of a thread-cached pool that found it dry and wait:
    /// while it is not 0, returns skip the thread caches, as they do for
    /// async waiters. Written only by waiting gets; read by every return,
    /// so on a line of its own.
    pub(super) blocked: CachePadded<StdAtomicUsize>,
}

/// The counters on [`Counters::cold`]'s line.
pub(super) struct ColdCounters {
    /// `try_get` calls that found the pool dry (only a dry pool writes it).
    pub(super) failed: StdAtomicU64,
    /// Most buffers seen out of the pool at once; raised (rarely written)
    /// by gets that the ring serves.
    pub(super) high_water: StdAtomicUsize,
    /// References to the pool's core (src/pool/lifetime.rs): written when
    /// a thread cache's stock refills or sheds, and by owned gets and drops
    /// of a pool without a thread cache.
    pub(super) refs: lifetime::RefCount,
}

impl Counters {
    pub(super) fn new() -> Self {
        Counters {
            cold: CachePadded::new(ColdCounters {
                failed: StdAtomicU64::new(0),
                high_water: StdAtomicUsize::new(0),
                refs: lifetime::RefCount::new(1),
            }),
            blocked: CachePadded::new(StdAtomicUsize::new(0)),
        }
    }
}

/// A snapshot of a pool's use, from [`BufferPool::stats`].
///
/// Cheap enough to leave on: no counter is written by every get and put.
/// `free` and `in_use` are derived from the free list's positions when
/// `stats` is called; the high-water mark is raised only by gets that the
/// ring serves (a get served by the reuse slot only takes back a buffer
/// whose put lowered the count, so it cannot set a new mark), with a write
/// only when the mark rises; failed `try_get`s are counted
/// only by a dry pool. A [`LocalCache`](crate::LocalCache)
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
    /// `try_get` (and `try_get_owned`) calls that found the pool dry,
    /// including those that failed while other threads' caches held free
    /// buffers (`a_try_get_may_miss_a_cached_buffer_and_stats_count_it`).
    pub failed_try_gets: u64,
    /// Tasks waiting in `acquire` now.
    pub waiters: usize,
    /// Of `free`, the buffers in per-thread caches (see
    /// [`BufferPoolBuilder::thread_cache`]; [`BufferPool::new`] gives a pool
    /// one): free, served at once to the thread whose cache holds them, to
    /// other threads' `try_get` only after a
    /// [`drain_thread_caches`](BufferPool::drain_thread_caches), and taken
    /// by any get that waits. 0 without a thread cache.
    pub cached: usize,
}

impl BufferPool {
    /// A snapshot of the pool's use (see [`PoolStats`]).
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 2).unwrap();
    /// let s = pool.stats();
    /// assert_eq!((s.free, s.in_use, s.waiters), (2, 0, 0));
    /// ```
    pub fn stats(&self) -> PoolStats {
        let capacity = self.capacity();
        let cached = match &self.core().thread_cache {
            Some(caches) => {
                self.reclaim_orphans(caches);
                caches.cached()
            }
            None => 0,
        };
        let free = (self.core().free.approx_free() + cached).min(capacity);
        let in_use = capacity - free;
        PoolStats {
            capacity,
            free,
            in_use,
            high_water: self
                .core()
                .counters
                .cold
                .high_water
                .load(Ordering::Relaxed)
                .max(in_use),
            failed_try_gets: self.core().counters.cold.failed.load(Ordering::Relaxed),
            waiters: self.core().waiters.waiters(),
            cached,
        }
    }

    /// Raises the high-water mark to the number in use now, if that is
    /// higher: a read of a line that is written only when the mark rises.
    #[cfg(not(loom))]
    #[inline]
    pub(super) fn raise_high_water(&self) {
        let used = self.capacity() - self.core().free.approx_free();
        if used > self.core().counters.cold.high_water.load(Ordering::Relaxed) {
            self.core()
                .counters
                .cold
                .high_water
                .fetch_max(used, Ordering::Relaxed);
        }
    }

    /// Counts a `try_get` that found the pool dry.
    #[cold]
    pub(super) fn count_failed(&self) {
        self.core()
            .counters
            .cold
            .failed
            .fetch_add(1, Ordering::Relaxed);
    }
}
