//! Owned buffers outliving their pool (src/pool/lifetime.rs): threads take
//! owned buffers through each other's buffers' view of the pool, stamp them
//! and pass them round a ring of channels while the pool's handle drops
//! mid-run; every buffer is held by one thread at a time, its bytes reach
//! the next holder, and the pool's memory is freed exactly once, after the
//! last buffer. The memory is watched through the allocator
//! (tests/slab_watch), on this test's slab size, which no other case uses.

use super::common::*;
use super::slab_watch;
use iobuf_pool::{BufferPool, OwnedBuf, Tier};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;

/// Buffers in this test's pools: 37 Pico buffers make a 1,184-byte slab,
/// page aligned, which no other case allocates.
const CAPACITY: usize = 37;

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
    slab_watch::watch(CAPACITY * Tier::Pico.size());
    let pool = BufferPool::builder(Tier::Pico, CAPACITY)
        .thread_cache(cache)
        .build()
        .unwrap();
    assert_eq!(slab_watch::live(), 1, "a slab of an earlier round lives");
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
        slab_watch::live(),
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
