//! A per-thread cache (magazine) in front of a pool's shared ring.
//!
//! After Bonwick's magazines (Bonwick and Adams, "Magazines and Vmem",
//! USENIX 2001) and DPDK's per-lcore mempool cache: each thread keeps a small
//! stack of free indices of its own. A get that finds one there and a put
//! that has room there touch no shared memory and make no atomic operation.
//! A miss refills half the stack from the pool's shared free list (its ring,
//! then its reuse slot); a put to a full stack first flushes half of it back
//! to the ring. A refill is one batch pop from the ring
//! ([`IndexRing::pop_many`](crate::sync::IndexRing::pop_many)) and a flush one
//! batch push ([`IndexRing::push_many`](crate::sync::IndexRing::push_many)): one
//! fetch-and-add on the ring's head or tail per batch, not per index.
//! Dropping the cache flushes everything, so a
//! thread that exits loses no buffer.
//!
//! # Handoff without starvation
//!
//! When one thread only takes and another only returns, the returner's stack
//! fills and is flushed in batches, so the taker keeps finding buffers in
//! the ring. A cache is bounded, and the caches of one pool together may
//! reserve at most half its buffers (the pool's cache budget). Unlike the
//! pool's own thread cache, a `LocalCache` is not drained for a waiting
//! get: its buffers stay with its thread until it puts them back, flushes
//! or is dropped, so a get elsewhere can wait for them as long as that
//! thread keeps them (a reason it is hidden, and on its way out).

use crate::backoff::{retry_until, wait_for};
use crate::pool::{BufferPool, PooledBuf};
use crate::Error;
use std::fmt;
use std::time::{Duration, Instant};

/// The largest per-thread cache [`BufferPool::new`] gives (it sizes the
/// cache from the capacity and the number of CPUs, up to this).
///
/// ```
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1 << 20).unwrap();
/// assert_eq!(pool.thread_cache_size(), iobuf_pool::DEFAULT_CACHE_SIZE);
/// ```
pub const DEFAULT_CACHE_SIZE: usize = 64;

/// A per-thread cache of free buffers of one [`BufferPool`].
///
/// **Hidden, and on its way out:** every pool made by [`BufferPool::new`]
/// now has a transparent per-thread cache
/// ([`BufferPoolBuilder::thread_cache`](crate::BufferPoolBuilder::thread_cache)),
/// which measured ahead of this explicit one in 5 of 6 of the bench's
/// modes (issue 22); it stays only for the bench's `iobuf-cached` row.
///
/// It is `Send` but not `Sync`: it belongs to one thread at a time, which is
/// what lets a hit skip every atomic operation. Buffers it hands out are
/// ordinary [`PooledBuf`]s: give them back with [`put`](LocalCache::put) to keep
/// them in this cache, or drop them (on any thread) to return them to the
/// shared ring.
///
/// ```
/// use iobuf_pool::{BufferPool, LocalCache, Tier};
/// let pool = BufferPool::new(Tier::Small, 256).unwrap();
/// let mut cache = LocalCache::new(&pool, 32)?;
/// let mut buf = cache.get();
/// buf.as_full_mut()[0] = 1;
/// cache.put(buf); // stays in this thread's cache
/// assert_eq!(cache.len(), 17); // the miss refilled half the cache; buf came back
/// drop(cache);    // everything goes back to the shared ring
/// # Ok::<(), iobuf_pool::Error>(())
/// ```
///
/// # Forgetting a cache
///
/// A cache reserves its share of the pool's cache budget when it is made
/// and gives it back when dropped. A cache that is never dropped
/// (`std::mem::forget`, a leaked `Box`, a thread-local whose destructor does
/// not run) keeps that share, and the buffers it holds, for the rest of the
/// pool's life: later caches of that pool are smaller, down to size zero,
/// which passes every call straight to the ring: slower, not wrong
/// (`a_forgotten_cache_keeps_only_its_own_share`). Knowing whether a cache was forgotten
/// would take a per-cache record in the pool that every cache operation
/// updates, which is the shared write a cache exists to avoid; so the budget
/// is not reclaimed.
#[doc(hidden)]
pub struct LocalCache<'p> {
    /// The pool whose indices this cache holds.
    pool: &'p BufferPool,
    /// Free indices owned by this cache; never longer than `size`.
    stack: Vec<usize>,
    /// Indices reserved from the pool's cache budget; the stack's bound.
    size: usize,
    /// Makes the type !Sync (and keeps it Send).
    _not_sync: std::marker::PhantomData<std::cell::Cell<()>>,
}

impl<'p> LocalCache<'p> {
    /// A cache of up to `size` buffers of `pool`. The size is cut to what is
    /// left of the pool's cache budget (half the pool in all caches
    /// together); a cache of size zero passes every call to the ring.
    ///
    /// # Errors
    /// [`Error::AllocFailed`]: the stack's memory (8 bytes a buffer,
    /// allocated now, so that no later get or put allocates) is refused; the
    /// budget is then given back.
    pub fn new(pool: &'p BufferPool, size: usize) -> Result<Self, Error> {
        let size = pool.reserve_cache(size);
        let mut stack = Vec::new();
        if stack.try_reserve_exact(size).is_err() {
            pool.unreserve_cache(size);
            return Err(Error::AllocFailed {
                size: size.saturating_mul(std::mem::size_of::<usize>()),
            });
        }
        Ok(LocalCache {
            pool,
            stack,
            size,
            _not_sync: std::marker::PhantomData,
        })
    }

    /// How many buffers this cache may hold.
    pub fn capacity(&self) -> usize {
        self.size
    }

    /// How many free buffers it holds now.
    pub fn len(&self) -> usize {
        self.stack.len()
    }

    /// Whether it holds no free buffer.
    pub fn is_empty(&self) -> bool {
        self.stack.is_empty()
    }

    /// The pool behind it.
    pub fn pool(&self) -> &'p BufferPool {
        self.pool
    }

    /// A buffer from this cache, else from the pool's free list (refilling
    /// half the cache on the way), else `None` at once.
    #[must_use = "dropping the guard returns the buffer to the ring at once"]
    #[inline]
    pub fn try_get(&mut self) -> Option<PooledBuf<'p>> {
        if let Some(index) = self.stack.pop() {
            return Some(PooledBuf::from_owned_index(self.pool, index));
        }
        let free = self.pool.free_list();
        // Dry: on a thread-cached pool, exited threads' caches may hold
        // the rest (test: `a_local_cache_reclaims_an_exited_threads_cache`).
        let first = match free.pop() {
            Some(index) => index,
            None if self.pool.reclaim_exited_caches() > 0 => free.pop()?,
            None => return None,
        };
        let batch = self.size / 2;
        // The stack is empty here: the pop above found nothing.
        free.pop_into(&mut self.stack, batch);
        Some(PooledBuf::from_owned_index(self.pool, first))
    }

    /// A buffer, waiting with backoff while the cache and ring are dry.
    #[must_use = "dropping the guard returns the buffer to the ring at once"]
    pub fn get(&mut self) -> PooledBuf<'p> {
        // While it waits the stack stays empty (the cache is this thread's),
        // so only the pool can end the wait.
        let pool = self.pool;
        wait_for(|| self.try_get(), || pool.looks_dry())
    }

    /// A buffer, waiting at most `timeout`.
    #[must_use = "dropping the guard returns the buffer to the ring at once"]
    pub fn get_timeout(&mut self, timeout: Duration) -> Option<PooledBuf<'p>> {
        let pool = self.pool;
        retry_until(
            Instant::now().checked_add(timeout),
            || self.try_get(),
            || pool.looks_dry(),
        )
    }

    /// Keeps `buf` in this cache (flushing half the cache to the ring first
    /// when it is full). A buffer of another pool is simply dropped, which
    /// returns it to its own pool.
    #[inline]
    pub fn put(&mut self, buf: PooledBuf<'p>) {
        if !std::ptr::eq(buf.pool(), self.pool) {
            drop(buf);
            return;
        }
        if self.stack.len() >= self.size {
            if self.size == 0 {
                drop(buf);
                return;
            }
            self.flush_to(self.size / 2);
        }
        self.stack.push(buf.forget_index());
    }

    /// Returns every cached buffer to the shared ring.
    pub fn flush(&mut self) {
        self.flush_to(0);
    }

    fn flush_to(&mut self, keep: usize) {
        if self.stack.len() <= keep {
            return;
        }
        // SAFETY: the cache owned each index (popped from the free list, or
        // given up by a guard of this pool), each once, all in range; it
        // gives them up here and forgets them at once.
        unsafe { self.pool.return_many_to_ring(&self.stack[keep..]) };
        self.stack.truncate(keep);
    }
}

impl Drop for LocalCache<'_> {
    fn drop(&mut self) {
        self.flush();
        self.pool.unreserve_cache(self.size);
    }
}

impl fmt::Debug for LocalCache<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCache")
            .field("capacity", &self.size)
            .field("len", &self.stack.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tier;

    fn free_in_ring(pool: &BufferPool) -> usize {
        std::iter::from_fn(|| pool.try_get())
            .collect::<Vec<_>>()
            .len()
    }

    #[test]
    fn hits_after_the_first_miss_and_flushes_on_drop() {
        let pool = BufferPool::new(Tier::Pico, 64).unwrap();
        let mut cache = LocalCache::new(&pool, 16).unwrap();
        assert_eq!(cache.capacity(), 16);
        let b = cache.get();
        assert_eq!(cache.len(), 8);
        cache.put(b);
        assert_eq!(cache.len(), 9);
        drop(cache);
        assert_eq!(free_in_ring(&pool), 64);
    }

    #[test]
    fn caches_together_reserve_at_most_half_the_pool() {
        let pool = BufferPool::new(Tier::Pico, 10).unwrap();
        let a = LocalCache::new(&pool, 4).unwrap();
        let b = LocalCache::new(&pool, 4).unwrap();
        assert_eq!(a.capacity() + b.capacity(), 5);
        drop(a);
        let c = LocalCache::new(&pool, 100).unwrap();
        assert_eq!(c.capacity(), 4);
    }

    #[test]
    fn a_full_cache_flushes_half_to_the_ring() {
        let pool = BufferPool::new(Tier::Pico, 32).unwrap();
        let bufs: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
        let mut cache = LocalCache::new(&pool, 8).unwrap();
        for b in bufs {
            cache.put(b);
            assert!(cache.len() <= 8);
        }
        // 32 returned through a cache of 8: the ring got the rest.
        let in_ring = free_in_ring(&pool);
        assert_eq!(in_ring + cache.len(), 32);
    }

    #[test]
    fn buffers_of_another_pool_go_home() {
        let p1 = BufferPool::new(Tier::Pico, 4).unwrap();
        let p2 = BufferPool::new(Tier::Pico, 4).unwrap();
        let mut cache = LocalCache::new(&p1, 2).unwrap();
        let foreign = p2.try_get().unwrap();
        cache.put(foreign);
        assert_eq!(cache.len(), 0);
        assert_eq!(free_in_ring(&p2), 4);
    }

    #[test]
    fn a_forgotten_cache_keeps_only_its_own_share() {
        let pool = BufferPool::new(Tier::Pico, 16).unwrap();
        // Forgotten: its Drop never runs (ManuallyDrop is what
        // mem::forget does, but lets the test free the stack's heap memory
        // at the end so that Miri's leak check stays meaningful).
        let mut forgotten = std::mem::ManuallyDrop::new(LocalCache::new(&pool, 3).unwrap());
        // The budget is 8: the forgotten cache keeps 3, the rest is there.
        assert_eq!(LocalCache::new(&pool, 100).unwrap().capacity(), 5);
        // And dropped caches give theirs back.
        assert_eq!(LocalCache::new(&pool, 100).unwrap().capacity(), 5);
        drop(std::mem::take(&mut forgotten.stack));
    }

    #[test]
    fn zero_sized_cache_passes_through() {
        let pool = BufferPool::new(Tier::Pico, 1).unwrap();
        let mut cache = LocalCache::new(&pool, 8).unwrap();
        assert_eq!(cache.capacity(), 0);
        let b = cache.get();
        assert!(cache.try_get().is_none());
        cache.put(b);
        assert!(pool.try_get().is_some());
    }

    #[test]
    fn a_local_cache_reclaims_an_exited_threads_cache() {
        // Budget 2 of 4: the worker's magazine takes both, and the test
        // thread holds the other two, so the only free buffers are in the
        // exited worker's cache. Before the fix, LocalCache's get never
        // reclaimed them (issue 20, defect 4).
        let pool = BufferPool::builder(Tier::Pico, 4)
            .thread_cache(4)
            .build()
            .unwrap();
        let held: Vec<_> = (0..2).map(|_| pool.get()).collect();
        std::thread::scope(|s| {
            s.spawn(|| {
                let mine: Vec<_> = (0..2).map(|_| pool.get()).collect();
                drop(mine);
            })
            .join()
            .unwrap();
        });
        let mut cache = LocalCache::new(&pool, 0).unwrap();
        let got = cache.get_timeout(std::time::Duration::from_secs(2));
        assert!(got.is_some(), "the exited thread's buffers never came back");
        drop((got, held));
    }
}
