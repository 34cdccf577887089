//! parking_lot 0.12's `Mutex<Vec<u32>>` as a free list (a stack).

use super::{FreeList, IndexPool};
use iobuf_pool::{Error, Tier};
use parking_lot::Mutex;

/// Free indices in a `parking_lot::Mutex<Vec<u32>>`.
pub struct Locked(Mutex<Vec<u32>>);

impl FreeList for Locked {
    #[inline]
    fn pop(&self) -> Option<u32> {
        self.0.lock().pop()
    }
    #[inline]
    fn push(&self, index: u32) {
        // Never reallocates: the capacity is reserved up front.
        self.0.lock().push(index);
    }
}

/// parking_lot's mutex over a stack of free indices, over the slab.
pub type ParkingLotPool = IndexPool<Locked>;

impl ParkingLotPool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        let mut v = Vec::new();
        v.try_reserve_exact(capacity)
            .map_err(|_| Error::AllocFailed { size: capacity * 4 })?;
        IndexPool::with(tier, capacity, |_| Locked(Mutex::new(v)))
    }
}
