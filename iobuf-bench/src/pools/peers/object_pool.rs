//! object-pool 0.6's `Pool<T>` (a locked stack of objects), each object a
//! buffer index of the slab.

use super::PeerItem;
use crate::pools::{retry_with_backoff, BenchPool, PoolHandle, Slab};
use iobuf_pool::{Error, Tier};
use object_pool::{Pool, Reusable};
use std::time::Duration;

/// object-pool's `Pool<u32>` prefilled with every index of the slab.
pub struct ObjectPool {
    pool: Pool<u32>,
    slab: Slab,
}

/// An object of the pool, returned to it on drop.
pub type ObjectItem<'a> = PeerItem<'a, Reusable<'a, u32>>;

impl ObjectPool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        let slab = Slab::new(tier, capacity)?;
        Ok(ObjectPool {
            pool: Pool::from_vec(slab.all_indices().collect()),
            slab,
        })
    }

    #[inline]
    fn pull(&self) -> Option<ObjectItem<'_>> {
        let guard = self.pool.try_pull()?;
        let index = *guard;
        Some(PeerItem {
            guard,
            slab: &self.slab,
            index,
        })
    }
}

impl<'a> PoolHandle for &'a ObjectPool {
    type Item = ObjectItem<'a>;
    #[inline]
    fn try_get(&mut self) -> Option<ObjectItem<'a>> {
        self.pull()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<ObjectItem<'a>> {
        let pool: &'a ObjectPool = self;
        retry_with_backoff(timeout, || pool.pull())
    }
    #[inline]
    fn put(&mut self, item: ObjectItem<'a>) {
        drop(item.guard);
    }
}

impl BenchPool for ObjectPool {
    type Handle<'a> = &'a ObjectPool;
    fn handle(&self) -> &ObjectPool {
        self
    }
    fn capacity(&self) -> usize {
        self.slab.capacity
    }
    fn drain(&self) -> Vec<usize> {
        let held: Vec<ObjectItem<'_>> = std::iter::from_fn(|| self.pull()).collect();
        held.iter().map(|i| i.index as usize).collect()
    }
}
