//! lockfree-object-pool 0.1's `LinearObjectPool` (pages of objects with a
//! free flag each, scanned from the first), each object a buffer index of
//! the slab.

use super::{PeerItem, NO_BUFFER};
use crate::pools::{retry_with_backoff, BenchPool, PoolHandle, Slab};
use iobuf_pool::{Error, Tier};
use lockfree_object_pool::{LinearObjectPool, LinearReusable};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The linear pool, which makes a new object whenever none is free: the
/// first `capacity` objects it makes own the slab's indices in turn, and
/// later ones own no buffer (a get that finds one gives it back and fails,
/// as the pool is bounded like every other row).
pub struct LinearPool {
    pool: LinearObjectPool<u32>,
    /// Objects made so far.
    made: Arc<AtomicUsize>,
    slab: Slab,
}

/// An object of the pool, returned to it on drop.
pub type LinearItem<'a> = PeerItem<'a, LinearReusable<'a, u32>>;

impl LinearPool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        let slab = Slab::new(tier, capacity)?;
        let made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let pool = LinearObjectPool::new(
            move || {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if i < capacity {
                    i as u32
                } else {
                    NO_BUFFER
                }
            },
            |_| {},
        );
        // Make the `capacity` objects that own buffers now, so that they
        // are the first ones the pool scans.
        let held: Vec<LinearReusable<'_, u32>> = (0..capacity).map(|_| pool.pull()).collect();
        drop(held);
        Ok(LinearPool { pool, made, slab })
    }

    #[inline]
    fn pull(&self) -> Option<LinearItem<'_>> {
        let guard = self.pool.pull();
        let index = *guard;
        if index == NO_BUFFER {
            return None;
        }
        Some(PeerItem {
            guard,
            slab: &self.slab,
            index,
        })
    }
}

impl<'a> PoolHandle for &'a LinearPool {
    type Item = LinearItem<'a>;
    #[inline]
    fn try_get(&mut self) -> Option<LinearItem<'a>> {
        self.pull()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<LinearItem<'a>> {
        let pool: &'a LinearPool = self;
        retry_with_backoff(timeout, || pool.pull())
    }
    #[inline]
    fn put(&mut self, item: LinearItem<'a>) {
        drop(item.guard);
    }
}

impl BenchPool for LinearPool {
    type Handle<'a> = &'a LinearPool;
    fn handle(&self) -> &LinearPool {
        self
    }
    fn capacity(&self) -> usize {
        self.slab.capacity
    }
    /// Takes objects until the pool has to make a new one (none was free).
    fn drain(&self) -> Vec<usize> {
        let before = self.made.load(Ordering::Relaxed);
        let mut held = Vec::new();
        while self.made.load(Ordering::Relaxed) == before {
            held.push(self.pool.pull());
        }
        held.iter()
            .map(|g| **g)
            .filter(|&i| i != NO_BUFFER)
            .map(|i| i as usize)
            .collect()
    }
}
