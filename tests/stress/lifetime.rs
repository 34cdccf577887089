//! Owned buffers outliving their pool (src/pool/lifetime.rs): threads take
//! owned buffers through each other's buffers' view of the pool, stamp them
//! and pass them round a ring of channels while the pool's handle drops
//! mid-run; every buffer is held by one thread at a time, its bytes reach
//! the next holder, and the pool's memory is freed exactly once, after the
//! last buffer. The memory is watched through the allocator: this
//! binary's global allocator counts the live allocations of this test's
//! slab, whose size and alignment no other case uses.

use super::common::*;
use iobuf_pool::{BufferPool, OwnedBuf, Tier};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;

/// Buffers in this test's pools: 37 Pico buffers make a 1,184-byte slab,
/// page aligned, which no other case allocates.
const CAPACITY: usize = 37;

/// The system allocator, counting the live allocations of this test's
/// slab layout.
struct SlabCounter;

/// Live slabs of [`CAPACITY`] Pico buffers.
static LIVE_SLABS: AtomicUsize = AtomicUsize::new(0);

fn is_test_slab(layout: Layout) -> bool {
    layout.size() == CAPACITY * Tier::Pico.size() && layout.align() >= 4096
}

// SAFETY: every call is forwarded to `System` unchanged; the counter is a
// side effect only.
unsafe impl GlobalAlloc for SlabCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_test_slab(layout) {
            LIVE_SLABS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded: the caller's layout contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_test_slab(layout) {
            LIVE_SLABS.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_test_slab(layout) {
            LIVE_SLABS.fetch_sub(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded: `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Slabs are never reallocated; neither is anything else counted.
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: SlabCounter = SlabCounter;

/// One flag and one stamp per index.
struct Ledger {
    held: Vec<AtomicBool>,
    stamp: Vec<AtomicU64>,
    next: AtomicU64,
}

impl Ledger {
    fn new() -> Self {
        Ledger {
            held: (0..CAPACITY).map(|_| AtomicBool::new(false)).collect(),
            stamp: (0..CAPACITY).map(|_| AtomicU64::new(0)).collect(),
            next: AtomicU64::new(1),
        }
    }

    /// A get of `buf`: it was free, and holds the last holder's stamp;
    /// stamps it anew.
    fn took(&self, buf: &mut OwnedBuf) -> u64 {
        let i = buf.index();
        assert!(
            !self.held[i].swap(true, Ordering::AcqRel),
            "index {i} held twice"
        );
        let last = self.stamp[i].load(Ordering::Relaxed);
        if last != 0 {
            assert_eq!(
                buf.as_full()[..8],
                last.to_le_bytes(),
                "index {i}: a lost write"
            );
        }
        let stamp = self.next.fetch_add(1, Ordering::Relaxed);
        buf.as_full_mut()[..8].copy_from_slice(&stamp.to_le_bytes());
        stamp
    }

    /// The return of `buf`, which holds `stamp`.
    fn giving_back(&self, buf: &OwnedBuf, stamp: u64) {
        let i = buf.index();
        assert_eq!(
            buf.as_full()[..8],
            stamp.to_le_bytes(),
            "index {i}: bytes changed"
        );
        self.stamp[i].store(stamp, Ordering::Relaxed);
        assert!(
            self.held[i].swap(false, Ordering::AcqRel),
            "index {i} not held"
        );
    }
}

/// `threads` threads each start with one owned buffer (their way to the
/// pool after its handle is gone), take more through its view, and send
/// each to the next thread, which checks and drops it; this thread drops
/// the handle once every worker has started.
fn run(threads: usize, cache: usize) {
    let pool = BufferPool::builder(Tier::Pico, CAPACITY)
        .thread_cache(cache)
        .build()
        .unwrap();
    assert_eq!(
        LIVE_SLABS.load(Ordering::SeqCst),
        1,
        "a slab of an earlier round lives"
    );
    let ledger = Arc::new(Ledger::new());
    let ops = (total_ops() / threads / 4).max(4);
    let start = Arc::new(Barrier::new(threads + 1));
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..threads)
        .map(|_| mpsc::channel::<(OwnedBuf, u64)>())
        .unzip();
    let workers: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(t, rx)| {
            let tx = txs[(t + 1) % threads].clone();
            let (ledger, start) = (Arc::clone(&ledger), Arc::clone(&start));
            let mut ticket = pool.get_owned();
            thread::spawn(move || {
                let ticket_stamp = ledger.took(&mut ticket);
                start.wait();
                let check = |(buf, stamp): (OwnedBuf, u64)| {
                    ledger.giving_back(&buf, stamp);
                    drop(buf); // on this thread, not the taker's
                };
                for _ in 0..ops {
                    match ticket.pool().try_get_owned() {
                        Some(mut buf) => {
                            let stamp = ledger.took(&mut buf);
                            tx.send((buf, stamp)).unwrap();
                        }
                        None => thread::yield_now(),
                    }
                    rx.try_iter().for_each(check);
                }
                drop(tx);
                // Every sender to this thread is gone once its thread ends.
                rx.into_iter().for_each(check);
                ledger.giving_back(&ticket, ticket_stamp);
            })
        })
        .collect();
    drop(txs);
    start.wait();
    drop(pool); // mid-run: the workers' buffers keep the memory alive
    for w in workers {
        w.join().unwrap();
    }
    for (i, held) in ledger.held.iter().enumerate() {
        assert!(!held.load(Ordering::SeqCst), "index {i} never came back");
    }
    assert_eq!(
        LIVE_SLABS.load(Ordering::SeqCst),
        0,
        "the pool's memory outlived its last buffer"
    );
}

/// With a thread cache (whose stocks the handle's drop takes back from
/// running threads) and without one, at two threads and at many.
#[test]
fn owned_buffers_outlive_their_pool() {
    // One case at a time: the slab counter is this test's alone.
    with_deadline("lifetime", || {
        for cache in [4, 0] {
            for threads in thread_counts() {
                run(threads, cache);
            }
        }
    });
}
