//! sharded-slab 0.1's `Pool` (a slab sharded per thread, whose entries are
//! cleared in place and reused), each entry a buffer index of the slab.
//!
//! An entry takes a buffer of the slab the first time it is created and
//! keeps it for ever, as a `Pool<Vec<u8>>` keeps its allocation. sharded-slab
//! creates an entry in the calling thread's shard, and a cleared entry goes
//! back to the shard that made it, so a thread's buffers stay with it; once
//! every buffer is bound to an entry, a thread whose shard has no free one
//! gets none (the pool is bounded like every other row).

use super::{touch_slab, PeerItem, NO_BUFFER};
use crate::pools::{retry_with_backoff, BenchPool, PoolHandle, Slab};
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;
use iobuf_pool::{Error, Tier};
use sharded_slab::{Clear, Pool};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A pool entry: the index of the buffer it owns, or [`NO_BUFFER`].
pub struct Entry(u32);

impl Default for Entry {
    fn default() -> Self {
        Entry(NO_BUFFER)
    }
}

impl Clear for Entry {
    /// Keeps the buffer, as `Vec::clear` keeps the allocation.
    fn clear(&mut self) {}
}

/// sharded-slab's `Pool<Entry>` over the slab.
pub struct ShardedSlabPool {
    pool: Pool<Entry>,
    /// Buffers no entry owns yet.
    unbound: ArrayQueue<u32>,
    /// The key each bound buffer was last handed out under, for the check
    /// after a case that every entry was cleared. One line each, so that
    /// threads storing keys of neighbouring buffers do not share a line.
    keys: Box<[CachePadded<AtomicUsize>]>,
    slab: Slab,
}

/// An entry while a thread holds it; `guard` is its key.
pub type ShardedItem<'a> = PeerItem<'a, usize>;

impl ShardedSlabPool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        let slab = Slab::new(tier, capacity)?;
        let unbound = ArrayQueue::new(capacity);
        for i in slab.all_indices() {
            // Cannot fail: the queue holds exactly `capacity` items.
            let _ = unbound.push(i);
        }
        let mut keys = Vec::new();
        keys.try_reserve_exact(capacity)
            .map_err(|_| Error::AllocFailed {
                size: capacity * std::mem::size_of::<CachePadded<AtomicUsize>>(),
            })?;
        keys.extend((0..capacity).map(|_| CachePadded::new(AtomicUsize::new(usize::MAX))));
        Ok(ShardedSlabPool {
            pool: Pool::new(),
            unbound,
            keys: keys.into_boxed_slice(),
            slab,
        })
    }
}

/// One thread's access: how many entries without a buffer its shard has.
pub struct ShardedHandle<'a> {
    pool: &'a ShardedSlabPool,
    /// Entries this thread created that own no buffer. All of them are free
    /// between calls, so a get that has passed over more than this many
    /// has seen a new one, and so the shard has no free entry with a
    /// buffer.
    without_buffer: usize,
    /// Entries without a buffer taken by the current get, cleared at its end.
    passed: Vec<usize>,
}

impl<'a> ShardedHandle<'a> {
    fn pull(&mut self) -> Option<ShardedItem<'a>> {
        let pool = self.pool;
        let found = loop {
            let mut index = NO_BUFFER;
            let Some(key) = pool.pool.create_with(|e| {
                if e.0 == NO_BUFFER {
                    if let Some(i) = pool.unbound.pop() {
                        e.0 = i;
                    }
                }
                index = e.0;
            }) else {
                break None;
            };
            if index != NO_BUFFER {
                pool.keys[index as usize].store(key, Ordering::Relaxed);
                break Some(PeerItem {
                    guard: key,
                    slab: &pool.slab,
                    index,
                });
            }
            self.passed.push(key);
            if self.passed.len() > self.without_buffer {
                self.without_buffer = self.passed.len();
                break None;
            }
        };
        for key in self.passed.drain(..) {
            pool.pool.clear(key);
        }
        found
    }
}

impl<'a> PoolHandle for ShardedHandle<'a> {
    type Item = ShardedItem<'a>;
    #[inline]
    fn try_get(&mut self) -> Option<ShardedItem<'a>> {
        self.pull()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<ShardedItem<'a>> {
        retry_with_backoff(timeout, || self.pull())
    }
    #[inline]
    fn put(&mut self, item: ShardedItem<'a>) {
        self.pool.pool.clear(item.guard);
    }
}

impl BenchPool for ShardedSlabPool {
    type Handle<'a> = ShardedHandle<'a>;
    fn handle(&self) -> ShardedHandle<'_> {
        ShardedHandle {
            pool: self,
            without_buffer: 0,
            passed: Vec::new(),
        }
    }
    fn capacity(&self) -> usize {
        self.slab.capacity
    }
    /// Directly: through the pool, the set-up thread's shard would own
    /// every buffer.
    fn prefault(&self) {
        touch_slab(&self.slab);
    }
    /// The buffers no entry owns, and those whose entry is free (its last
    /// key no longer finds it).
    fn drain(&self) -> Vec<usize> {
        let mut free: Vec<usize> = std::iter::from_fn(|| self.unbound.pop())
            .map(|i| i as usize)
            .collect();
        let mut unbound = vec![false; self.slab.capacity];
        for &i in &free {
            unbound[i] = true;
        }
        for (i, key) in self.keys.iter().enumerate() {
            let key = key.load(Ordering::Relaxed);
            if !unbound[i] && key != usize::MAX && self.pool.get(key).is_none() {
                free.push(i);
            }
        }
        free
    }
}
