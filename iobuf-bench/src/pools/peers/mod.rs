//! The pools a Rust user would pick instead of iobuf (feature `peers`),
//! each over the same page-aligned [`Slab`] as the baselines, so that only
//! the free list differs.
//!
//! The queues and the lock (concurrent-queue, lfqueue, parking_lot) hold free indices, like the crossbeam baseline. The object
//! pools (sharded-slab, lockfree-object-pool, opool, object-pool) hold
//! objects that each own one buffer index of the slab.
//!
//! thingbuf 0.1.6 is not a row: as a free list (`ThingBuf<u32>` of
//! `capacity` indices, gets and puts from two threads) it refused pushes
//! while holding fewer than `capacity` indices, losing them, and a push
//! retried on `Full` spun for ever; carrying buffers in `handoff` would
//! replace the harness's transport, which every row shares.

use super::{retry_with_backoff, BenchPool, PoolHandle, Slab, Slot};
use iobuf_pool::{Error, Tier};
use std::time::Duration;

pub mod concurrent_queue;
pub mod lfqueue;
pub mod lockfree_object_pool;
pub mod object_pool;
pub mod opool;
pub mod parking_lot;
pub mod sharded_slab;

pub use self::concurrent_queue::ConcurrentQueuePool;
pub use self::lfqueue::LfqueuePool;
pub use self::lockfree_object_pool::LinearPool;
pub use self::object_pool::ObjectPool;
pub use self::opool::OpoolPool;
pub use self::parking_lot::ParkingLotPool;
pub use self::sharded_slab::ShardedSlabPool;

/// Index meaning "this object owns no buffer" (an object pool made it past
/// the slab's capacity).
pub(crate) const NO_BUFFER: u32 = u32::MAX;

/// Writes one byte of every page of every buffer of `slab` directly, for
/// the peers whose pool would tie buffers to the thread that first took
/// them if the set-up went through the pool.
pub(crate) fn touch_slab(slab: &Slab) {
    let page = iobuf_pool::mem::page_size();
    for i in slab.all_indices() {
        let mut slot = Slot { slab, index: i };
        let bytes = super::BenchItem::bytes(&mut slot);
        for offset in (0..bytes.len()).step_by(page) {
            bytes[offset] = 0;
        }
    }
}

/// A free list of buffer indices: a peer's queue or locked stack.
pub trait FreeList: Sync {
    /// A free index, or `None` at once.
    fn pop(&self) -> Option<u32>;
    /// Gives an index back; there is always room for it.
    fn push(&self, index: u32);
}

/// A pool made of a peer's free list of indices over a [`Slab`].
pub struct IndexPool<F> {
    free: F,
    slab: Slab,
}

impl<F: FreeList> IndexPool<F> {
    /// `capacity` buffers of `tier`, every index pushed onto the free list
    /// `make(capacity)` builds.
    pub fn with(tier: Tier, capacity: usize, make: impl FnOnce(usize) -> F) -> Result<Self, Error> {
        let slab = Slab::new(tier, capacity)?;
        let free = make(capacity);
        for i in slab.all_indices() {
            free.push(i);
        }
        Ok(IndexPool { free, slab })
    }

    #[inline]
    fn pop(&self) -> Option<Slot<'_>> {
        let index = self.free.pop()?;
        Some(Slot {
            slab: &self.slab,
            index,
        })
    }
}

impl<'a, F: FreeList> PoolHandle for &'a IndexPool<F> {
    type Item = Slot<'a>;
    #[inline]
    fn try_get(&mut self) -> Option<Slot<'a>> {
        self.pop()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<Slot<'a>> {
        let pool: &'a IndexPool<F> = self;
        retry_with_backoff(timeout, || pool.pop())
    }
    #[inline]
    fn put(&mut self, item: Slot<'a>) {
        self.free.push(item.index);
    }
}

impl<F: FreeList> BenchPool for IndexPool<F> {
    type Handle<'a>
        = &'a IndexPool<F>
    where
        F: 'a;
    fn handle(&self) -> &IndexPool<F> {
        self
    }
    fn capacity(&self) -> usize {
        self.slab.capacity
    }
    fn drain(&self) -> Vec<usize> {
        std::iter::from_fn(|| self.free.pop())
            .map(|i| i as usize)
            .collect()
    }
}

/// A peer's buffer: an object of its pool that owns one index of the slab.
pub struct PeerItem<'a, G> {
    /// The pool's guard (returned to the pool on drop).
    guard: G,
    slab: &'a Slab,
    index: u32,
}

impl<G: Send> super::BenchItem for PeerItem<'_, G> {
    #[inline]
    fn index(&self) -> usize {
        self.index as usize
    }
    #[inline]
    fn bytes(&mut self) -> &mut [u8] {
        let offset = self.index as usize * self.slab.size;
        // The pool gives this object, and so its index, to one holder at a
        // time, and this item is that holder.
        // SAFETY: index < capacity (objects past the capacity own no buffer
        // and are never handed out), so [offset, offset + size) lies in the
        // slab; &mut self is the only borrow.
        unsafe {
            std::slice::from_raw_parts_mut(self.slab.base.as_ptr().add(offset), self.slab.size)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pools::BenchItem;

    /// Two buffers, no third, both back after the handle goes.
    fn cycle<P: BenchPool>(pool: &P) {
        let mut h = pool.handle();
        let mut a = h.try_get().unwrap();
        let mut b = h.try_get().unwrap();
        assert_ne!(a.index(), b.index());
        a.bytes()[0] = 1;
        b.bytes()[0] = 2;
        assert_eq!(a.bytes()[0], 1);
        assert_eq!(a.bytes().len(), Tier::Pico.size());
        assert!(h.try_get().is_none(), "a pool of 2 gave a third buffer");
        assert!(h.get_timeout(Duration::from_millis(1)).is_none());
        h.put(a);
        h.put(b);
        let again = h.try_get().unwrap();
        h.put(again);
        drop(h);
        let mut got = pool.drain();
        got.sort_unstable();
        assert_eq!(got, vec![0, 1]);
    }

    #[test]
    fn every_peer_hands_out_each_buffer_once_and_drains() {
        let t = Tier::Pico;
        cycle(&ShardedSlabPool::new(t, 2).unwrap());
        cycle(&LinearPool::new(t, 2).unwrap());
        cycle(&OpoolPool::new(t, 2).unwrap());
        cycle(&ObjectPool::new(t, 2).unwrap());
        cycle(&ConcurrentQueuePool::new(t, 2).unwrap());
        cycle(&ParkingLotPool::new(t, 2).unwrap());
        cycle(&LfqueuePool::new(t, 2).unwrap());
    }
}
