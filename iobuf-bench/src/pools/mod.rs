//! The pools under test, behind one trait so that one harness drives them
//! all with identical work around each call.
//!
//! Every pool hands out buffers of one page-aligned slab of
//! `capacity × tier size` bytes (iobuf's own layout), so touching a buffer
//! costs the same whichever pool it came from; only the free list differs.
//! A pool's blocking get waits with the same [`iobuf_pool::sync::Backoff`] (spin, yield,
//! then capped jittered sleep) for every pool, so `burst` compares free lists,
//! not waiting policies.

use crossbeam_queue::ArrayQueue;
use iobuf_pool::mem::AlignedBuf;
use iobuf_pool::sync::Backoff;
use iobuf_pool::{BufferPool, Error, LocalCache, PooledBuf, Tier, DEFAULT_CACHE_SIZE};
use std::ptr::NonNull;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Deliberately broken pools, to prove that the checks catch them.
pub mod broken;
/// The ceiling row: a thread-local free list, no sharing on the fast path.
pub mod ceiling;
/// Row identities (also `ids::DISPLAY_ORDER`, the pools in display order).
pub mod ids;
/// The owned and async rows (`iobuf-owned`, `iobuf-async`, `iobuf-tokio`).
pub mod owned;

/// Other crates' pools over the same slab (feature `peers`).
#[cfg(feature = "peers")]
pub mod peers;

pub use broken::{Corrupting, DoubleReturn, Losing};
pub use ceiling::CeilingPool;
pub use ids::{
    is_iobuf, rank, PoolKind, CEILING, GATE_BASE, GATE_REFERENCES, IOBUF_BATCH, IOBUF_CACHED_FIXED,
    IOBUF_FIXED, IOBUF_TC_BATCH, TRANSPORT,
};

/// A buffer while a thread holds it.
pub trait BenchItem: Send {
    /// Its index in the pool, for the ownership check.
    fn index(&self) -> usize;
    /// Its bytes.
    fn bytes(&mut self) -> &mut [u8];
}

/// One thread's access to a pool.
pub trait PoolHandle {
    type Item: BenchItem;
    /// A buffer, or `None` at once.
    fn try_get(&mut self) -> Option<Self::Item>;
    /// A buffer, waiting with backoff at most `timeout`.
    fn get_timeout(&mut self, timeout: Duration) -> Option<Self::Item>;
    /// Gives a buffer back (through this thread's cache, where there is one).
    fn put(&mut self, item: Self::Item);
    /// Whether `burst` moves its batches with [`try_get_many`](Self::try_get_many)
    /// and [`put_many`](Self::put_many) (the batch rows) rather than one
    /// call per buffer.
    const BATCHES: bool = false;
    /// Up to `n` buffers at once into `out`, without waiting; how many.
    fn try_get_many(&mut self, out: &mut Vec<Self::Item>, n: usize) -> usize {
        let before = out.len();
        out.extend(std::iter::from_fn(|| self.try_get()).take(n));
        out.len() - before
    }
    /// Gives back every buffer of `items`.
    fn put_many(&mut self, items: &mut Vec<Self::Item>) {
        for item in items.drain(..) {
            self.put(item);
        }
    }
}

/// A pool under test.
pub trait BenchPool: Sync {
    type Handle<'a>: PoolHandle
    where
        Self: 'a;
    /// A handle for the calling thread.
    fn handle(&self) -> Self::Handle<'_>;
    /// Buffers whose ownership is checked; 0 for the transport stand-in,
    /// whose items are not buffers.
    fn capacity(&self) -> usize;
    /// Takes every free buffer out and gives their indices, for the
    /// exactly-once check after a case (when no thread holds anything).
    fn drain(&self) -> Vec<usize>;
    /// The iobuf pool underneath, for registering its buffers with io_uring
    /// (the `io` scenario's `-fixed` rows); `None` for the others.
    fn buffer_pool(&self) -> Option<&BufferPool> {
        None
    }
    /// Writes one byte of every page of every buffer, before the clock
    /// starts (see [`touch_every_page`]).
    fn prefault(&self)
    where
        Self: Sized,
    {
        touch_every_page(self);
    }
}

/// Takes every buffer of `pool`, writes one byte of each of its pages, and
/// gives them all back.
///
/// Big slabs come from the kernel untouched, and the first write to each
/// page faults it in (zeroing it, and with transparent huge pages perhaps
/// compacting memory first). A pool that reuses the buffer returned last
/// touches one buffer; one that goes round all of them (a FIFO ring,
/// crossbeam's queue) touches the whole slab, and on a 1 GiB pool spends its
/// measured window in page faults: a comparison of kernels, not of pools.
pub(crate) fn touch_every_page<P: BenchPool>(pool: &P) {
    let mut h = pool.handle();
    let page = iobuf_pool::mem::page_size();
    // Bounded by the capacity: the transport stand-in (capacity 0) hands
    // out items forever and has no buffers.
    let mut held = Vec::with_capacity(pool.capacity());
    while held.len() < pool.capacity() {
        let Some(mut item) = h.try_get() else { break };
        let bytes = item.bytes();
        for offset in (0..bytes.len()).step_by(page) {
            // SAFETY: `offset < bytes.len()`, so the pointer is inside the
            // buffer this thread holds; volatile so the write is not elided.
            unsafe { std::ptr::write_volatile(bytes.as_mut_ptr().add(offset), 0) };
        }
        held.push(item);
    }
    for item in held {
        h.put(item);
    }
}

// ---------------------------------------------------------------- iobuf

impl BenchItem for PooledBuf<'_> {
    #[inline]
    fn index(&self) -> usize {
        PooledBuf::index(self)
    }
    /// The whole buffer, whatever its filled length (a fresh guard may
    /// start empty).
    #[inline]
    fn bytes(&mut self) -> &mut [u8] {
        self.as_full_mut()
    }
}

impl<'a> PoolHandle for &'a BufferPool {
    type Item = PooledBuf<'a>;
    #[inline]
    fn try_get(&mut self) -> Option<PooledBuf<'a>> {
        BufferPool::try_get(self)
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<PooledBuf<'a>> {
        BufferPool::get_timeout(self, timeout)
    }
    #[inline]
    fn put(&mut self, item: PooledBuf<'a>) {
        drop(item);
    }
}

pub(crate) fn drain_buffer_pool(pool: &BufferPool) -> Vec<usize> {
    // Hold every guard until all are taken, or they would come straight back.
    let held: Vec<PooledBuf<'_>> = std::iter::from_fn(|| pool.try_get()).collect();
    held.iter().map(PooledBuf::index).collect()
}

impl BenchPool for BufferPool {
    type Handle<'a> = &'a BufferPool;
    fn handle(&self) -> &BufferPool {
        self
    }
    /// Then empties this (the main) thread's cache, of a pool with a thread
    /// cache: the prefault's buffers would otherwise sit there, out of the
    /// workers' reach, for the whole case.
    fn prefault(&self) {
        touch_every_page(self);
        self.flush_thread_cache();
    }
    fn capacity(&self) -> usize {
        BufferPool::capacity(self)
    }
    fn drain(&self) -> Vec<usize> {
        drain_buffer_pool(self)
    }
    fn buffer_pool(&self) -> Option<&BufferPool> {
        Some(self)
    }
}

/// A [`BufferPool`] whose `burst` batches go through
/// [`BufferPool::try_get_many`] and [`BufferPool::put_many`].
pub struct BatchPool(pub BufferPool);

/// A thread's access to a [`BatchPool`]: the pool, with batch calls.
pub struct BatchHandle<'a>(&'a BufferPool);

impl<'a> PoolHandle for BatchHandle<'a> {
    type Item = PooledBuf<'a>;
    const BATCHES: bool = true;
    #[inline]
    fn try_get(&mut self) -> Option<PooledBuf<'a>> {
        self.0.try_get()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<PooledBuf<'a>> {
        self.0.get_timeout(timeout)
    }
    #[inline]
    fn put(&mut self, item: PooledBuf<'a>) {
        drop(item);
    }
    #[inline]
    fn try_get_many(&mut self, out: &mut Vec<PooledBuf<'a>>, n: usize) -> usize {
        self.0.try_get_many(out, n)
    }
    #[inline]
    fn put_many(&mut self, items: &mut Vec<PooledBuf<'a>>) {
        self.0.put_many(items.drain(..));
    }
}

impl BenchPool for BatchPool {
    type Handle<'a> = BatchHandle<'a>;
    fn handle(&self) -> BatchHandle<'_> {
        BatchHandle(&self.0)
    }
    fn prefault(&self) {
        self.0.prefault();
    }
    fn capacity(&self) -> usize {
        self.0.capacity()
    }
    fn drain(&self) -> Vec<usize> {
        drain_buffer_pool(&self.0)
    }
    fn buffer_pool(&self) -> Option<&BufferPool> {
        Some(&self.0)
    }
}

/// A [`BufferPool`] used through one [`LocalCache`] per thread.
pub struct CachedPool(pub BufferPool);

/// A thread's cache; dropping it at thread exit flushes it to the ring.
pub struct CacheHandle<'a>(LocalCache<'a>);

impl<'a> PoolHandle for CacheHandle<'a> {
    type Item = PooledBuf<'a>;
    #[inline]
    fn try_get(&mut self) -> Option<PooledBuf<'a>> {
        self.0.try_get()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<PooledBuf<'a>> {
        self.0.get_timeout(timeout)
    }
    #[inline]
    fn put(&mut self, item: PooledBuf<'a>) {
        self.0.put(item);
    }
}

impl BenchPool for CachedPool {
    type Handle<'a> = CacheHandle<'a>;
    fn handle(&self) -> CacheHandle<'_> {
        CacheHandle(
            LocalCache::new(&self.0, DEFAULT_CACHE_SIZE)
                .expect("a cache stack of DEFAULT_CACHE_SIZE indices (512 bytes)"),
        )
    }
    fn capacity(&self) -> usize {
        self.0.capacity()
    }
    fn drain(&self) -> Vec<usize> {
        drain_buffer_pool(&self.0)
    }
    fn buffer_pool(&self) -> Option<&BufferPool> {
        Some(&self.0)
    }
}

// ------------------------------------------------------------ baselines

/// `capacity` buffers of one tier in one page-aligned block, the same
/// layout as a [`BufferPool`]'s slab.
pub struct Slab {
    /// Owns the memory; never dereferenced as a whole while slots live.
    _mem: AlignedBuf,
    /// `_mem`'s first byte; buffer `i` starts at `base + i * size`.
    base: NonNull<u8>,
    pub(crate) size: usize,
    pub(crate) capacity: usize,
}

// SAFETY: the slab owns its memory; each buffer's bytes are reached only
// through a Slot, and a free list gives each index to one Slot at a time.
unsafe impl Send for Slab {}
// SAFETY: as above; shared access never gives two holders one buffer.
unsafe impl Sync for Slab {}

impl Slab {
    pub(crate) fn new(tier: Tier, capacity: usize) -> Result<Slab, Error> {
        if capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        if capacity > u32::MAX as usize {
            return Err(Error::CapacityTooLarge {
                requested: capacity,
                max: u32::MAX as usize,
            });
        }
        let size = tier.size();
        let bytes = capacity.checked_mul(size).ok_or(Error::Overflow)?;
        let mut mem = AlignedBuf::page_aligned(bytes)?;
        let base = NonNull::new(mem.as_mut_ptr()).ok_or(Error::AllocFailed { size: bytes })?;
        Ok(Slab {
            _mem: mem,
            base,
            size,
            capacity,
        })
    }

    pub(crate) fn all_indices(&self) -> impl Iterator<Item = u32> {
        0..self.capacity as u32
    }
}

/// A baseline pool's buffer: an index into its slab.
pub struct Slot<'a> {
    pub(crate) slab: &'a Slab,
    pub(crate) index: u32,
}

impl BenchItem for Slot<'_> {
    #[inline]
    fn index(&self) -> usize {
        self.index as usize
    }
    #[inline]
    fn bytes(&mut self) -> &mut [u8] {
        let offset = self.index as usize * self.slab.size;
        // The free list hands each index to one holder until it is put back,
        // and this Slot is that holder.
        // SAFETY: index < capacity, so [offset, offset + size) lies in the
        // slab; the Slot owns the index and &mut self is the only borrow.
        unsafe {
            std::slice::from_raw_parts_mut(self.slab.base.as_ptr().add(offset), self.slab.size)
        }
    }
}

/// Tries, then waits with [`Backoff`] until `timeout`, like iobuf's own
/// `get_timeout`.
pub(crate) fn retry_with_backoff<T>(
    timeout: Duration,
    mut attempt: impl FnMut() -> Option<T>,
) -> Option<T> {
    if let Some(v) = attempt() {
        return Some(v);
    }
    let deadline = Instant::now() + timeout;
    let mut backoff = Backoff::new();
    loop {
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        backoff.wait_at_most(deadline - now);
        if let Some(v) = attempt() {
            return Some(v);
        }
    }
}

/// Baseline: a `Mutex<Vec<u32>>` free list (a stack).
pub struct MutexPool {
    free: Mutex<Vec<u32>>,
    slab: Slab,
}

impl MutexPool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        let slab = Slab::new(tier, capacity)?;
        Ok(MutexPool {
            free: Mutex::new(slab.all_indices().collect()),
            slab,
        })
    }

    #[inline]
    fn pop(&self) -> Option<Slot<'_>> {
        // The lock is never held across a panic here; ignore poisoning.
        let index = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()?;
        Some(Slot {
            slab: &self.slab,
            index,
        })
    }
}

impl<'a> PoolHandle for &'a MutexPool {
    type Item = Slot<'a>;
    #[inline]
    fn try_get(&mut self) -> Option<Slot<'a>> {
        self.pop()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<Slot<'a>> {
        let pool: &'a MutexPool = self;
        retry_with_backoff(timeout, || pool.pop())
    }
    #[inline]
    fn put(&mut self, item: Slot<'a>) {
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(item.index);
    }
}

impl BenchPool for MutexPool {
    type Handle<'a> = &'a MutexPool;
    fn handle(&self) -> &MutexPool {
        self
    }
    fn capacity(&self) -> usize {
        self.slab.capacity
    }
    fn drain(&self) -> Vec<usize> {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        free.drain(..).map(|i| i as usize).collect()
    }
}

/// Baseline: a crossbeam `ArrayQueue<u32>` free list (lock-free, FIFO).
pub struct CrossbeamPool {
    pub(crate) free: ArrayQueue<u32>,
    slab: Slab,
}

impl CrossbeamPool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        let slab = Slab::new(tier, capacity)?;
        let free = ArrayQueue::new(capacity);
        for i in slab.all_indices() {
            // Cannot fail: the queue holds exactly `capacity` items.
            let _ = free.push(i);
        }
        Ok(CrossbeamPool { free, slab })
    }

    #[inline]
    pub(crate) fn pop(&self) -> Option<Slot<'_>> {
        let index = self.free.pop()?;
        Some(Slot {
            slab: &self.slab,
            index,
        })
    }
}

impl<'a> PoolHandle for &'a CrossbeamPool {
    type Item = Slot<'a>;
    #[inline]
    fn try_get(&mut self) -> Option<Slot<'a>> {
        self.pop()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<Slot<'a>> {
        let pool: &'a CrossbeamPool = self;
        retry_with_backoff(timeout, || pool.pop())
    }
    #[inline]
    fn put(&mut self, item: Slot<'a>) {
        // Cannot fail: at most `capacity` indices exist.
        let _ = self.free.push(item.index);
    }
}

impl BenchPool for CrossbeamPool {
    type Handle<'a> = &'a CrossbeamPool;
    fn handle(&self) -> &CrossbeamPool {
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

// ------------------------------------------------------------ transport

/// No pool: every get makes a small token at once, every put drops it. In
/// `handoff` this leaves only the queue between the threads (and the
/// harness's own work), which is what the `transport` row measures.
pub struct NoPool;

/// A stand-in item with room for the payload stamps.
pub struct Token([u8; 16]);

impl BenchItem for Token {
    #[inline]
    fn index(&self) -> usize {
        0
    }
    #[inline]
    fn bytes(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl PoolHandle for NoPool {
    type Item = Token;
    #[inline]
    fn try_get(&mut self) -> Option<Token> {
        Some(Token([0; 16]))
    }
    fn get_timeout(&mut self, _: Duration) -> Option<Token> {
        self.try_get()
    }
    #[inline]
    fn put(&mut self, _item: Token) {}
}

impl BenchPool for NoPool {
    type Handle<'a> = NoPool;
    fn handle(&self) -> NoPool {
        NoPool
    }
    fn capacity(&self) -> usize {
        0
    }
    fn drain(&self) -> Vec<usize> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        drop(h);
        let mut got = pool.drain();
        got.sort_unstable();
        assert_eq!(got, vec![0, 1]);
    }

    #[test]
    fn every_pool_hands_out_each_buffer_once_and_drains() {
        cycle(&BufferPool::new(Tier::Pico, 2).unwrap());
        cycle(
            &BufferPool::builder(Tier::Pico, 2)
                .thread_cache(0)
                .reuse_slot(false)
                .build()
                .unwrap(),
        );
        cycle(&MutexPool::new(Tier::Pico, 2).unwrap());
        cycle(&CrossbeamPool::new(Tier::Pico, 2).unwrap());
    }

    #[test]
    fn the_cached_pool_flushes_its_cache_when_the_handle_goes() {
        let pool = CachedPool(BufferPool::new(Tier::Pico, 8).unwrap());
        let mut h = pool.handle();
        let b = h.try_get().unwrap();
        h.put(b);
        drop(h);
        assert_eq!(pool.drain().len(), 8);
    }

    #[test]
    fn names_round_trip() {
        for p in PoolKind::ALL {
            assert_eq!(PoolKind::from_name(p.name()), Some(p));
        }
        assert_eq!(PoolKind::from_name("nope"), None);
    }

    #[test]
    fn baseline_slabs_are_page_aligned_like_iobufs() {
        let pool = MutexPool::new(Tier::Small, 4).unwrap();
        let mut h = pool.handle();
        let mut s = h.try_get().unwrap();
        let addr = s.bytes().as_ptr() as usize;
        assert_eq!(
            (addr - s.index() * Tier::Small.size()) % iobuf_pool::mem::page_size(),
            0
        );
        h.put(s);
    }
}
