//! A per-thread cache (magazine) in front of a pool's shared ring.
//!
//! After Bonwick's magazines (Bonwick and Adams, "Magazines and Vmem",
//! USENIX 2001) and DPDK's per-lcore mempool cache: each thread keeps a small
//! stack of free indices of its own. A get that finds one there and a put
//! that has room there touch no shared memory and make no atomic operation.
//! A miss refills half the stack from the pool's shared free list (its ring,
//! then its reuse slot); a put to a full stack first flushes half of it back
//! to the ring. Dropping the cache flushes everything, so a
//! thread that exits loses no buffer.
//!
//! # Handoff without starvation
//!
//! When one thread only takes and another only returns, the returner's stack
//! fills and is flushed in batches, so the taker keeps finding buffers in
//! the ring. A cache is bounded, and the caches of one pool together may
//! reserve at most half its buffers (the pool's cache budget), so the ring
//! always circulates at least the other half: caches can slow a thread that
//! waits on the ring, never block it forever while buffers sit idle in them.

use crate::backoff::{retry_until, wait_for};
use crate::pool::{Buf, BufferPool};
use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The default number of indices a cache holds.
pub const DEFAULT_CACHE_SIZE: usize = 64;

/// A per-thread cache of free buffers of one [`BufferPool`].
///
/// It is `Send` but not `Sync`: it belongs to one thread at a time, which is
/// what lets a hit skip every atomic operation. Buffers it hands out are
/// ordinary [`Buf`]s: give them back with [`put`](LocalCache::put) to keep
/// them in this cache, or drop them (on any thread) to return them to the
/// shared ring.
///
/// ```
/// use iobuf::{BufferPool, LocalCache, Tier};
/// let pool = BufferPool::new(Tier::Small, 256).unwrap();
/// let mut cache = LocalCache::new(&pool, 32);
/// let mut buf = cache.get();
/// buf[0] = 1;
/// cache.put(buf); // stays in this thread's cache
/// assert_eq!(cache.len(), 17); // the miss refilled half the cache; buf came back
/// drop(cache);    // everything goes back to the shared ring
/// ```
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
    pub fn new(pool: &'p BufferPool, size: usize) -> Self {
        let mut left = pool.cache_budget.load(Ordering::Relaxed);
        let size = loop {
            let take = size.min(left);
            match pool.cache_budget.compare_exchange_weak(
                left,
                left - take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break take,
                Err(now) => left = now,
            }
        };
        LocalCache {
            pool,
            stack: Vec::with_capacity(size),
            size,
            _not_sync: std::marker::PhantomData,
        }
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
    pub fn try_get(&mut self) -> Option<Buf<'p>> {
        if let Some(index) = self.stack.pop() {
            return Some(Buf::from_owned_index(self.pool, index));
        }
        let free = self.pool.free_list();
        let first = free.pop()?;
        let batch = self.size / 2;
        // The stack is empty here: the pop above found nothing.
        free.pop_into(&mut self.stack, batch);
        Some(Buf::from_owned_index(self.pool, first))
    }

    /// A buffer, waiting with backoff while the cache and ring are dry.
    pub fn get(&mut self) -> Buf<'p> {
        // While it waits the stack stays empty (the cache is this thread's),
        // so only the pool can end the wait.
        let pool = self.pool;
        wait_for(|| self.try_get(), || pool.looks_dry())
    }

    /// A buffer, waiting at most `timeout`.
    pub fn get_timeout(&mut self, timeout: Duration) -> Option<Buf<'p>> {
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
    pub fn put(&mut self, buf: Buf<'p>) {
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
        let free = self.pool.free_list();
        while self.stack.len() > keep {
            if let Some(i) = self.stack.pop() {
                // Cannot fail: the cache owned the index, which is in range.
                let _ = free.push_to_ring(i);
            }
        }
    }
}

impl Drop for LocalCache<'_> {
    fn drop(&mut self) {
        self.flush();
        self.pool
            .cache_budget
            .fetch_add(self.size, Ordering::Relaxed);
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
        let mut cache = LocalCache::new(&pool, 16);
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
        let a = LocalCache::new(&pool, 4);
        let b = LocalCache::new(&pool, 4);
        assert_eq!(a.capacity() + b.capacity(), 5);
        drop(a);
        let c = LocalCache::new(&pool, 100);
        assert_eq!(c.capacity(), 4);
    }

    #[test]
    fn a_full_cache_flushes_half_to_the_ring() {
        let pool = BufferPool::new(Tier::Pico, 32).unwrap();
        let bufs: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
        let mut cache = LocalCache::new(&pool, 8);
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
        let mut cache = LocalCache::new(&p1, 2);
        let foreign = p2.try_get().unwrap();
        cache.put(foreign);
        assert_eq!(cache.len(), 0);
        assert_eq!(free_in_ring(&p2), 4);
    }

    #[test]
    fn zero_sized_cache_passes_through() {
        let pool = BufferPool::new(Tier::Pico, 1).unwrap();
        let mut cache = LocalCache::new(&pool, 8);
        assert_eq!(cache.capacity(), 0);
        let b = cache.get();
        assert!(cache.try_get().is_none());
        cache.put(b);
        assert!(pool.try_get().is_some());
    }
}
