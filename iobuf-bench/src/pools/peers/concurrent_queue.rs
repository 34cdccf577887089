//! concurrent-queue 2.5's bounded queue as a free list of indices.

use super::{FreeList, IndexPool};
use concurrent_queue::ConcurrentQueue;
use iobuf_pool::{Error, Tier};

/// Free indices in a `ConcurrentQueue::bounded` (lock-free, FIFO).
pub struct Bounded(ConcurrentQueue<u32>);

impl FreeList for Bounded {
    #[inline]
    fn pop(&self) -> Option<u32> {
        self.0.pop().ok()
    }
    #[inline]
    fn push(&self, index: u32) {
        // Cannot fail: the queue holds `capacity` items and at most
        // `capacity` indices exist.
        let _ = self.0.push(index);
    }
}

/// concurrent-queue's bounded queue over the slab.
pub type ConcurrentQueuePool = IndexPool<Bounded>;

impl ConcurrentQueuePool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        IndexPool::with(tier, capacity, |n| Bounded(ConcurrentQueue::bounded(n)))
    }
}
