//! opool 0.2's concurrent `Pool` (objects in a crossbeam `ArrayQueue`),
//! each object a buffer index of the slab.

use super::{PeerItem, NO_BUFFER};
use crate::pools::{retry_with_backoff, BenchPool, PoolHandle, Slab};
use iobuf_pool::{Error, Tier};
use opool::{Pool, PoolAllocator, RefGuard};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Makes the pool's objects: the slab's indices in turn, then objects
/// that own no buffer (never made here: the pool is prefilled and only
/// `try_get` is called).
pub struct Indices {
    next: AtomicUsize,
    capacity: usize,
}

impl PoolAllocator<u32> for Indices {
    fn allocate(&self) -> u32 {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if i < self.capacity {
            i as u32
        } else {
            NO_BUFFER
        }
    }
}

/// opool's `Pool<u32>` prefilled with every index of the slab.
pub struct OpoolPool {
    pool: Pool<Indices, u32>,
    slab: Slab,
}

/// An object of the pool, returned to it on drop.
pub type OpoolItem<'a> = PeerItem<'a, RefGuard<'a, Indices, u32>>;

impl OpoolPool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        let slab = Slab::new(tier, capacity)?;
        let indices = Indices {
            next: AtomicUsize::new(0),
            capacity,
        };
        Ok(OpoolPool {
            pool: Pool::new_prefilled(capacity, indices),
            slab,
        })
    }

    #[inline]
    fn pull(&self) -> Option<OpoolItem<'_>> {
        let guard = self.pool.try_get()?;
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

impl<'a> PoolHandle for &'a OpoolPool {
    type Item = OpoolItem<'a>;
    #[inline]
    fn try_get(&mut self) -> Option<OpoolItem<'a>> {
        self.pull()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<OpoolItem<'a>> {
        let pool: &'a OpoolPool = self;
        retry_with_backoff(timeout, || pool.pull())
    }
    #[inline]
    fn put(&mut self, item: OpoolItem<'a>) {
        drop(item.guard);
    }
}

impl BenchPool for OpoolPool {
    type Handle<'a> = &'a OpoolPool;
    fn handle(&self) -> &OpoolPool {
        self
    }
    fn capacity(&self) -> usize {
        self.slab.capacity
    }
    fn drain(&self) -> Vec<usize> {
        let held: Vec<OpoolItem<'_>> = std::iter::from_fn(|| self.pull()).collect();
        held.iter().map(|i| i.index as usize).collect()
    }
}
