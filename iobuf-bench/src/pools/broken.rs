//! Deliberately broken pools over the crossbeam baseline, one per kind of
//! bug the checks exist for. Each must fail a run at every check level
//! (the tests in `bench` prove it), or the checks are decoration:
//!
//! * [`DoubleReturn`]: every n-th put pushes the index twice, so two
//!   holders can get one buffer (the hidden `run --fault-every N`);
//! * [`Losing`]: every n-th put forgets the index (a leak);
//! * [`Corrupting`]: every n-th buffer handed out has a byte changed while
//!   it is held, as a pool whose memory someone else writes into would.

use super::{retry_with_backoff, BenchItem, BenchPool, CrossbeamPool, PoolHandle, Slot};
use iobuf_pool::{Error, Tier};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Whether the `n`-th call (from 0) of a counter is a faulty one.
fn nth(counter: &AtomicU64, every: u64) -> bool {
    counter.fetch_add(1, Ordering::Relaxed) % every == every - 1
}

/// Hands one buffer to two holders: every `every`-th put pushes the index
/// twice.
pub struct DoubleReturn {
    inner: CrossbeamPool,
    every: u64,
    puts: AtomicU64,
}

impl DoubleReturn {
    pub fn new(tier: Tier, capacity: usize, every: u64) -> Result<Self, Error> {
        Ok(DoubleReturn {
            inner: CrossbeamPool::new(tier, capacity)?,
            every: every.max(1),
            puts: AtomicU64::new(0),
        })
    }
}

impl<'a> PoolHandle for &'a DoubleReturn {
    type Item = Slot<'a>;
    fn try_get(&mut self) -> Option<Slot<'a>> {
        self.inner.pop()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<Slot<'a>> {
        let pool: &'a CrossbeamPool = &self.inner;
        retry_with_backoff(timeout, || pool.pop())
    }
    fn put(&mut self, item: Slot<'a>) {
        if nth(&self.puts, self.every) {
            let _ = self.inner.free.push(item.index);
        }
        let _ = self.inner.free.push(item.index);
    }
}

impl BenchPool for DoubleReturn {
    type Handle<'a> = &'a DoubleReturn;
    fn handle(&self) -> &DoubleReturn {
        self
    }
    /// Through the sound pool underneath: the injected faults are for the
    /// measured case, not for the set-up.
    fn prefault(&self) {
        self.inner.prefault();
    }
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
    fn drain(&self) -> Vec<usize> {
        self.inner.drain()
    }
}

/// Loses buffers: every `every`-th put drops the index instead of
/// returning it.
pub struct Losing {
    inner: CrossbeamPool,
    every: u64,
    puts: AtomicU64,
}

impl Losing {
    pub fn new(tier: Tier, capacity: usize, every: u64) -> Result<Self, Error> {
        Ok(Losing {
            inner: CrossbeamPool::new(tier, capacity)?,
            every: every.max(1),
            puts: AtomicU64::new(0),
        })
    }
}

impl<'a> PoolHandle for &'a Losing {
    type Item = Slot<'a>;
    fn try_get(&mut self) -> Option<Slot<'a>> {
        self.inner.pop()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<Slot<'a>> {
        let pool: &'a CrossbeamPool = &self.inner;
        retry_with_backoff(timeout, || pool.pop())
    }
    fn put(&mut self, item: Slot<'a>) {
        if !nth(&self.puts, self.every) {
            let _ = self.inner.free.push(item.index);
        }
    }
}

impl BenchPool for Losing {
    type Handle<'a> = &'a Losing;
    fn handle(&self) -> &Losing {
        self
    }
    fn prefault(&self) {
        self.inner.prefault();
    }
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
    fn drain(&self) -> Vec<usize> {
        self.inner.drain()
    }
}

/// Corrupts bytes: every `every`-th buffer handed out has its first byte
/// flipped between the holder's write and its read, as if something else
/// wrote into memory the pool had handed out.
pub struct Corrupting {
    inner: CrossbeamPool,
    every: u64,
    gets: AtomicU64,
}

impl Corrupting {
    pub fn new(tier: Tier, capacity: usize, every: u64) -> Result<Self, Error> {
        Ok(Corrupting {
            inner: CrossbeamPool::new(tier, capacity)?,
            every: every.max(1),
            gets: AtomicU64::new(0),
        })
    }

    fn pop(&self) -> Option<CorruptSlot<'_>> {
        let slot = self.inner.pop()?;
        Some(CorruptSlot {
            slot,
            corrupt: nth(&self.gets, self.every),
            reads: 0,
        })
    }
}

/// A [`Corrupting`] pool's buffer: when `corrupt`, the second look at its
/// bytes (the holder's check) finds the first byte changed.
pub struct CorruptSlot<'a> {
    slot: Slot<'a>,
    corrupt: bool,
    reads: u32,
}

impl BenchItem for CorruptSlot<'_> {
    fn index(&self) -> usize {
        self.slot.index()
    }
    fn bytes(&mut self) -> &mut [u8] {
        self.reads += 1;
        let corrupt = self.corrupt && self.reads == 2;
        let bytes = self.slot.bytes();
        if corrupt {
            bytes[0] ^= 0xA5;
        }
        bytes
    }
}

impl<'a> PoolHandle for &'a Corrupting {
    type Item = CorruptSlot<'a>;
    fn try_get(&mut self) -> Option<CorruptSlot<'a>> {
        self.pop()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<CorruptSlot<'a>> {
        let pool: &'a Corrupting = self;
        retry_with_backoff(timeout, || pool.pop())
    }
    fn put(&mut self, item: CorruptSlot<'a>) {
        let _ = self.inner.free.push(item.slot.index);
    }
}

impl BenchPool for Corrupting {
    type Handle<'a> = &'a Corrupting;
    fn handle(&self) -> &Corrupting {
        self
    }
    fn prefault(&self) {
        self.inner.prefault();
    }
    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
    fn drain(&self) -> Vec<usize> {
        self.inner.drain()
    }
}
