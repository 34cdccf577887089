//! The ring's batch operations (`IndexRing::pop_many`, `push_many`) mixed
//! with single `pop`/`push`.

use super::common::*;
use iobuf_pool::sync::IndexRing;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Barrier};
use std::thread;

/// The exactly-once checker: per index a held flag, a payload word only
/// its holder touches, and the stamp the last holder left there.
struct Ledger {
    held: Vec<AtomicBool>,
    payload: Vec<UnsafeCell<u64>>,
    last_stamp: Vec<AtomicU64>,
    next_stamp: AtomicU64,
}

// SAFETY: a payload word is accessed only by the thread that holds its
// index, which the held flags check; handing an index over goes through
// the ring, whose push/pop order the accesses (that order is under test).
unsafe impl Sync for Ledger {}

impl Ledger {
    fn new(capacity: usize) -> Self {
        Ledger {
            held: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            payload: (0..capacity).map(|_| UnsafeCell::new(0)).collect(),
            last_stamp: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            next_stamp: AtomicU64::new(1),
        }
    }

    /// Records a take of `index` and stamps it; returns the stamp.
    fn took(&self, index: usize) -> u64 {
        assert!(
            !self.held[index].swap(true, Ordering::AcqRel),
            "index {index} handed out while still held"
        );
        // Relaxed: the ring's push/pop pair must order this after the last
        // holder's store, which is what is under test.
        let previous = self.last_stamp[index].load(Ordering::Relaxed);
        let p = self.payload[index].get();
        // SAFETY: this thread holds `index` (the flag above), so no other
        // thread accesses its payload until it is given back.
        let seen = unsafe { *p };
        assert_eq!(
            seen, previous,
            "index {index}: the last holder's write is not visible"
        );
        let stamp = self.next_stamp.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { *p = stamp };
        stamp
    }

    /// Checks the holder's stamp and records the give-back.
    fn giving_back(&self, index: usize, stamp: u64) {
        // SAFETY: this thread still holds `index`.
        let seen = unsafe { *self.payload[index].get() };
        assert_eq!(seen, stamp, "index {index}: written by someone else");
        self.last_stamp[index].store(stamp, Ordering::Relaxed);
        assert!(
            self.held[index].swap(false, Ordering::AcqRel),
            "index {index} returned while not held"
        );
    }

    /// `drained` holds every index exactly once and no flag is left set.
    fn all_back(&self, mut drained: Vec<usize>) {
        drained.sort_unstable();
        let expected: Vec<usize> = (0..self.held.len()).collect();
        assert_eq!(drained, expected, "indices lost or duplicated");
        for (i, h) in self.held.iter().enumerate() {
            assert!(!h.load(Ordering::Relaxed), "index {i} still marked held");
        }
    }
}

fn drain(ring: &IndexRing) -> Vec<usize> {
    std::iter::from_fn(|| ring.pop()).collect()
}

/// Pops a batch of up to `k`, recording each index in `held`.
fn take_batch(ring: &IndexRing, ledger: &Ledger, k: usize, held: &mut Vec<(usize, u64)>) {
    let mut out = vec![usize::MAX; k];
    let got = ring.pop_many(&mut out);
    assert!(got <= k.min(ring.capacity()), "a batch of {k} took {got}");
    assert!(
        out[got..].iter().all(|&i| i == usize::MAX),
        "out[got..] written"
    );
    for &i in &out[..got] {
        held.push((i, ledger.took(i)));
    }
}

/// Gives the last `k` of `held` back as one batch.
fn give_batch(ring: &IndexRing, ledger: &Ledger, k: usize, held: &mut Vec<(usize, u64)>) {
    let back: Vec<usize> = held
        .drain(held.len() - k..)
        .map(|(i, stamp)| {
            ledger.giving_back(i, stamp);
            i
        })
        .collect();
    // SAFETY: these indices were taken from the ring, each is returned once.
    unsafe { ring.push_many(&back) }.unwrap();
}

/// Every thread mixes `pop_many` (sometimes asking more than the ring
/// holds), `push_many`, `pop` and `push`, holding up to a few batches'
/// worth at a time, and gives everything back at the end.
#[test]
fn batches_and_singles_are_exclusive_and_all_come_back() {
    for capacity in CAPACITIES {
        for threads in thread_counts() {
            with_deadline("batches", move || {
                let ring = IndexRing::full(capacity).unwrap();
                let ledger = Ledger::new(capacity);
                let ops = total_ops() / threads;
                let start = Barrier::new(threads);
                thread::scope(|s| {
                    for t in 0..threads {
                        let (ring, ledger, start) = (&ring, &ledger, &start);
                        s.spawn(move || {
                            let mut rng = Rng::new(t);
                            let mut held = Vec::new();
                            // Batches up to 8, or past the capacity on small rings.
                            let max_k = (capacity + 1).min(8);
                            start.wait();
                            for _ in 0..ops {
                                let k = 1 + rng.below(max_k);
                                match rng.below(4) {
                                    0 if held.len() < 2 * max_k => {
                                        take_batch(ring, ledger, k, &mut held)
                                    }
                                    1 if !held.is_empty() => {
                                        give_batch(ring, ledger, k.min(held.len()), &mut held)
                                    }
                                    2 if held.len() < 2 * max_k => {
                                        if let Some(i) = ring.pop() {
                                            held.push((i, ledger.took(i)));
                                        }
                                    }
                                    _ => {
                                        if let Some((i, stamp)) = held.pop() {
                                            ledger.giving_back(i, stamp);
                                            // SAFETY: this index was taken from the ring and is returned once.
                                            unsafe { ring.push(i) }.unwrap();
                                        }
                                    }
                                }
                            }
                            let n = held.len();
                            give_batch(ring, ledger, n, &mut held);
                        });
                    }
                });
                ledger.all_back(drain(&ring));
            });
        }
    }
}

/// Batches taken on one thread and given back, as a batch or one by one,
/// on the next: returns from other threads while the ring runs dry, so
/// batch pops run past the tail and batch pushes meet passed positions.
#[test]
fn batches_cross_threads() {
    for capacity in CAPACITIES {
        let threads = 4;
        with_deadline("batches-cross", move || {
            let ring = IndexRing::full(capacity).unwrap();
            let ledger = Ledger::new(capacity);
            let ops = total_ops() / 4 / threads;
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..threads)
                .map(|_| mpsc::channel::<Vec<(usize, u64)>>())
                .unzip();
            let finished = AtomicUsize::new(0);
            let start = Barrier::new(threads);
            thread::scope(|s| {
                for (t, rx) in rxs.into_iter().enumerate() {
                    let tx = txs[(t + 1) % threads].clone();
                    let (ring, ledger, finished, start) = (&ring, &ledger, &finished, &start);
                    s.spawn(move || {
                        let mut rng = Rng::new(t);
                        let drain_mailbox = |rng: &mut Rng| {
                            for mut batch in rx.try_iter() {
                                if rng.below(2) == 0 {
                                    let n = batch.len();
                                    give_batch(ring, ledger, n, &mut batch);
                                } else {
                                    for (i, stamp) in batch {
                                        ledger.giving_back(i, stamp);
                                        // SAFETY: this index was taken from the ring and is returned once.
                                        unsafe { ring.push(i) }.unwrap();
                                    }
                                }
                            }
                        };
                        start.wait();
                        for _ in 0..ops {
                            let mut held = Vec::new();
                            take_batch(ring, ledger, 1 + rng.below(capacity.min(8)), &mut held);
                            if held.is_empty() {
                                drain_mailbox(&mut rng);
                                thread::yield_now();
                                continue;
                            }
                            tx.send(held).unwrap();
                            drain_mailbox(&mut rng);
                        }
                        drop(tx);
                        finished.fetch_add(1, Ordering::AcqRel);
                        while finished.load(Ordering::Acquire) < threads {
                            drain_mailbox(&mut rng);
                            thread::yield_now();
                        }
                        drain_mailbox(&mut rng);
                    });
                }
                drop(txs);
            });
            ledger.all_back(drain(&ring));
        });
    }
}
