//! lfqueue 0.8's `AllocBoundedQueue` (an SCQ, after Nikolaev's paper, as
//! iobuf's ring is) as a free list of indices.

use super::{FreeList, IndexPool};
use iobuf_pool::{Error, Tier};
use lfqueue::AllocBoundedQueue;

/// Free indices in an lfqueue `AllocBoundedQueue`, sized to the next power
/// of two (lfqueue takes only powers of two).
pub struct Scq(AllocBoundedQueue<u32>);

impl FreeList for Scq {
    #[inline]
    fn pop(&self) -> Option<u32> {
        self.0.dequeue()
    }
    #[inline]
    fn push(&self, index: u32) {
        // Cannot fail: the queue holds at least `capacity` items and at
        // most `capacity` indices exist.
        let _ = self.0.enqueue(index);
    }
}

/// lfqueue's bounded SCQ over the slab.
pub type LfqueuePool = IndexPool<Scq>;

impl LfqueuePool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        let size = capacity
            .checked_next_power_of_two()
            .ok_or(Error::Overflow)?;
        IndexPool::with(tier, capacity, |_| Scq(AllocBoundedQueue::new(size)))
    }
}
