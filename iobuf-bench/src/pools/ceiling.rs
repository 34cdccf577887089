//! The `ceiling` row: what the harness itself can do when the pool costs
//! next to nothing. Each thread keeps its own free list (a `Vec` of
//! indices) and touches nothing shared while it has buffers to give and
//! room to take them back; only when its list runs dry or overflows does it
//! move a chunk of indices (up to [`CHUNK`], less for small pools, so that
//! a list never sits on much of the pool) from or to a locked spare list. Every row of a
//! scenario can be read against it, as handoff's rows are against
//! `transport`: a pool near the ceiling is as fast as this harness can
//! tell.
//!
//! It batches ([`PoolHandle::BATCHES`]): in `burst` it moves each burst
//! with one `try_get_many` and one `put_many`, the path the batch rows
//! (`iobuf-batch`, `iobuf-tc-batch`) take, which costs less per buffer than
//! single calls; so it stays above both kinds of row.

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

    /// Moves every index past the first chunk to the spare list.
    #[cold]
    fn spill(&mut self) {
        let keep = self.pool.chunk.min(self.local.len());
        self.pool.spare().extend(self.local.drain(keep..));
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
    const BATCHES: bool = true;
    /// From the thread's list, topped up from the spare list with what it
    /// lacks (one lock) when it has fewer than `n`.
    #[inline]
    fn try_get_many(&mut self, out: &mut Vec<Slot<'a>>, n: usize) -> usize {
        if self.local.len() < n {
            self.top_up(n);
        }
        let from = self.local.len().saturating_sub(n);
        let slab = &self.pool.slab;
        let got = self.local.len() - from;
        out.extend(self.local.drain(from..).map(|index| Slot { slab, index }));
        got
    }
    #[inline]
    fn put_many(&mut self, items: &mut Vec<Slot<'a>>) {
        self.local.extend(items.drain(..).map(|s| s.index));
        if self.local.len() >= 2 * self.pool.chunk {
            self.spill();
        }
    }
}

impl CeilingHandle<'_> {
    /// Moves up to `n − local.len()` indices from the spare list.
    #[cold]
    fn top_up(&mut self, n: usize) {
        let mut spare = self.pool.spare();
        let want = n - self.local.len();
        let from = spare.len().saturating_sub(want);
        self.local.extend(spare.drain(from..));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pools::BenchItem;

    /// Batches and single calls share one list: every index goes out once
    /// and comes back, through the spare list when a burst is bigger than a
    /// thread's list.
    #[test]
    fn batch_calls_hand_out_each_buffer_once() {
        let pool = CeilingPool::new(Tier::Pico, 100).unwrap();
        let mut h = pool.handle();
        let mut held = Vec::new();
        assert_eq!(h.try_get_many(&mut held, 70), 70);
        held.push(h.try_get().unwrap());
        assert_eq!(h.try_get_many(&mut held, 50), 29, "only 29 are left");
        assert!(h.try_get().is_none());
        let mut seen: Vec<usize> = held.iter().map(BenchItem::index).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        h.put_many(&mut held);
        assert!(held.is_empty());
        assert!(h.local.len() < 2 * pool.chunk, "the overflow went back");
        drop(h);
        let mut back = pool.drain();
        back.sort_unstable();
        assert_eq!(back, (0..100).collect::<Vec<_>>());
    }
}
