//! thingbuf 0.1's `ThingBuf` (a lock-free MPMC ring that recycles its
//! slots in place) as a free list of indices.
//!
//! Its other use, carrying the buffers themselves from producers to
//! consumers in `handoff`, would replace the harness's transport and so
//! measure something else than the other rows; it is not a row.

use super::{FreeList, IndexPool};
use iobuf::{Error, Tier};
use crossbeam_utils::Backoff;
use thingbuf::ThingBuf;

/// Free indices in a `ThingBuf<u32>`.
pub struct Ring(ThingBuf<u32>);

impl FreeList for Ring {
    #[inline]
    fn pop(&self) -> Option<u32> {
        self.0.pop()
    }
    #[inline]
    fn push(&self, index: u32) {
        // The ring holds `capacity` items and at most `capacity` indices
        // exist, but a push can find the slot it claimed still being read
        // by a pop and report `Full`: retry until it lands.
        let backoff = Backoff::new();
        while self.0.push(index).is_err() {
            backoff.snooze();
        }
    }
}

/// thingbuf's ring over the slab.
pub type ThingbufPool = IndexPool<Ring>;

impl ThingbufPool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        IndexPool::with(tier, capacity, |n| Ring(ThingBuf::new(n)))
    }
}
