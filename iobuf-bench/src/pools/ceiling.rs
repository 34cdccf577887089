//! The `ceiling` row: what the harness itself can do when the pool costs
//! next to nothing. Each thread keeps its own free list (a `Vec` of
//! indices) and touches nothing shared while it has buffers to give and
//! room to take them back; only when its list runs dry or overflows does it
//! move a chunk of indices (up to [`CHUNK`], less for small pools, so that
//! a list never sits on much of the pool) from or to a locked spare list. Every row of a
//! scenario can be read against it, as handoff's rows are against
//! `transport`: a pool near the ceiling is as fast as this harness can
//! tell.

use super::{retry_with_backoff, BenchPool, PoolHandle, Slab, Slot};
use iobuf_pool::{Error, Tier};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Indices moved at once between a thread's list and the spare list.
pub const CHUNK: usize = 32;

/// A free list per thread over one slab, with a shared spare list.
pub struct CeilingPool {
    spare: Mutex<Vec<u32>>,
    slab: Slab,
    /// Indices moved at once: [`CHUNK`], or an eighth of a small pool.
    chunk: usize,
}

impl CeilingPool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        let slab = Slab::new(tier, capacity)?;
        Ok(CeilingPool {
            spare: Mutex::new(slab.all_indices().collect()),
            chunk: (capacity / 16).clamp(1, CHUNK),
            slab,
        })
    }

    fn spare(&self) -> std::sync::MutexGuard<'_, Vec<u32>> {
        // Nothing panics while the lock is held; ignore poisoning.
        self.spare.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One thread's free list; dropping it gives its indices back.
pub struct CeilingHandle<'a> {
    pool: &'a CeilingPool,
    local: Vec<u32>,
}

impl<'a> CeilingHandle<'a> {
    #[inline]
    fn pop(&mut self) -> Option<Slot<'a>> {
        let index = match self.local.pop() {
            Some(i) => i,
            None => self.refill()?,
        };
        Some(Slot {
            slab: &self.pool.slab,
            index,
        })
    }

    #[cold]
    fn refill(&mut self) -> Option<u32> {
        let mut spare = self.pool.spare();
        let from = spare.len().saturating_sub(self.pool.chunk);
        self.local.extend(spare.drain(from..));
        drop(spare);
        self.local.pop()
    }

    #[cold]
    fn spill(&mut self) {
        let from = self.local.len() - self.pool.chunk;
        self.pool.spare().extend(self.local.drain(from..));
    }
}

impl<'a> PoolHandle for CeilingHandle<'a> {
    type Item = Slot<'a>;
    #[inline]
    fn try_get(&mut self) -> Option<Slot<'a>> {
        self.pop()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<Slot<'a>> {
        retry_with_backoff(timeout, || self.pop())
    }
    #[inline]
    fn put(&mut self, item: Slot<'a>) {
        self.local.push(item.index);
        if self.local.len() >= 2 * self.pool.chunk {
            self.spill();
        }
    }
}

impl Drop for CeilingHandle<'_> {
    fn drop(&mut self) {
        self.pool.spare().append(&mut self.local);
    }
}

impl BenchPool for CeilingPool {
    type Handle<'a> = CeilingHandle<'a>;
    fn handle(&self) -> CeilingHandle<'_> {
        CeilingHandle {
            pool: self,
            local: Vec::with_capacity(2 * self.chunk),
        }
    }
    fn capacity(&self) -> usize {
        self.slab.capacity
    }
    fn drain(&self) -> Vec<usize> {
        self.spare().drain(..).map(|i| i as usize).collect()
    }
}
