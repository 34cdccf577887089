//! Exhaustive interleaving checks of the ring's batch operations
//! (`IndexRing::pop_many`, `IndexRing::push_many`), under loom's model of the
//! C11 memory model: batches against single pops and pushes, against other
//! batches, batches larger than what the ring holds, and batches on an
//! empty ring that a producer fills.
//!
//! Run with `scripts/loom.sh` (or
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom --no-default-features batch::`).
//!
//! Every model checks, on every explored interleaving, exactly-once
//! ownership (a per-index flag set on a take that must have been clear,
//! cleared on the give-back that must have been set) and memory ordering
//! (each holder writes and reads the index's loom `UnsafeCell`, so a take
//! that is not an acquire of the previous give-back shows as a race), and,
//! after the threads are joined, that draining the ring yields every index
//! exactly once. The preemption bounds keep each model small enough for a
//! 2-core machine; `LOOM_MAX_PREEMPTIONS` overrides them.

use super::common::{builder, Owners};
use iobuf_pool::sync::IndexRing;
use loom::sync::Arc;
use loom::thread;

/// How a thread of a model takes and gives back.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// `pop` one, then `push` it.
    Single,
    /// `pop` two, then `push` them in the other order (positions consumed
    /// out of order, slots of an older cycle met by newer consumers).
    SingleTwo,
    /// `pop_many` of this many, then `push_many` of what it got.
    Batch(usize),
}

fn drain(ring: &IndexRing) -> Vec<usize> {
    std::iter::from_fn(|| ring.pop()).collect()
}

/// Takes a batch of up to `k` and records the holder of each index.
fn take_batch(ring: &IndexRing, owners: &Owners, who: usize, k: usize) -> Vec<usize> {
    let mut out = vec![usize::MAX; k];
    let got = ring.pop_many(&mut out);
    assert!(got <= k.min(ring.capacity()), "took {got} of {k}");
    out.truncate(got);
    for &i in &out {
        owners.acquire(i, who);
    }
    out
}

/// Gives a batch back.
fn give_batch(ring: &IndexRing, owners: &Owners, held: &[usize]) {
    for &i in held {
        owners.release(i);
    }
    // SAFETY: these indices were taken from the ring, each is returned once.
    unsafe { ring.push_many(held) }.unwrap();
}

fn round(ring: &IndexRing, owners: &Owners, who: usize, op: Op) {
    match op {
        Op::Single => {
            if let Some(i) = ring.pop() {
                owners.acquire(i, who);
                owners.release(i);
                // SAFETY: this index was taken from the ring and is returned once.
                unsafe { ring.push(i) }.unwrap();
            }
        }
        Op::SingleTwo => {
            let got: Vec<usize> = [ring.pop(), ring.pop()].into_iter().flatten().collect();
            for &i in &got {
                owners.acquire(i, who);
            }
            for &i in got.iter().rev() {
                owners.release(i);
                // SAFETY: this index was taken from the ring and is returned once.
                unsafe { ring.push(i) }.unwrap();
            }
        }
        Op::Batch(k) => {
            let held = take_batch(ring, owners, who, k);
            give_batch(ring, owners, &held);
        }
    }
}

/// Thread `t` runs `plan[t].0`, `plan[t].1` times, on a full ring.
fn mixed(capacity: usize, plan: &'static [(Op, usize)], bound: usize) {
    builder(bound).check(move || {
        let ring = Arc::new(IndexRing::full(capacity).unwrap());
        let owners = Arc::new(Owners::new(capacity));
        let work = move |ring: &IndexRing, owners: &Owners, who: usize| {
            let (op, rounds) = plan[who];
            for _ in 0..rounds {
                round(ring, owners, who, op);
            }
        };
        let handles: Vec<_> = (1..plan.len())
            .map(|who| {
                let (ring, owners) = (Arc::clone(&ring), Arc::clone(&owners));
                thread::spawn(move || work(&ring, &owners, who))
            })
            .collect();
        work(&ring, &owners, 0);
        for h in handles {
            h.join().unwrap();
        }
        owners.check_all_back(drain(&ring));
    });
}

/// The main thread holds all but one index; another thread batch-takes
/// and gives back what it finds while the main thread batch-polls. Once the
/// other thread is joined the last free index must be found by exactly one
/// of the poll and a look after the join: a batch that reports fewer while
/// an index sits in the ring (a threshold or catch-up slip) fails here.
fn dry_then_returned(capacity: usize, k: usize, bound: usize) {
    builder(bound).check(move || {
        let ring = Arc::new(IndexRing::full(capacity).unwrap());
        let owners = Arc::new(Owners::new(capacity));
        let mut held: Vec<usize> = (0..capacity - 1).map(|_| ring.pop().unwrap()).collect();
        for &i in &held {
            owners.acquire(i, 0);
        }
        let other = {
            let (ring, owners) = (Arc::clone(&ring), Arc::clone(&owners));
            thread::spawn(move || {
                let got = take_batch(&ring, &owners, 1, k);
                assert!(got.len() <= 1);
                give_batch(&ring, &owners, &got);
            })
        };
        let polled = take_batch(&ring, &owners, 0, k);
        other.join().unwrap();
        let after = take_batch(&ring, &owners, 0, k);
        assert_eq!(
            polled.len() + after.len(),
            1,
            "the last free index was missed or handed out twice"
        );
        held.extend(polled);
        held.extend(after);
        give_batch(&ring, &owners, &held);
        owners.check_all_back(drain(&ring));
    });
}

/// An empty ring that one thread fills with a batch while another polls
/// it with batches that run past the tail: the fill must stay reachable
/// (a batch that left one of its positions unmarked, or did not pull the
/// tail up, would lose an index or make it unreachable).
fn fill_while_batch_polling(capacity: usize, k: usize, fill_in_one: bool, bound: usize) {
    builder(bound).check(move || {
        let ring = Arc::new(IndexRing::empty(capacity).unwrap());
        let owners = Arc::new(Owners::new(capacity));
        let poller = {
            let (ring, owners) = (Arc::clone(&ring), Arc::clone(&owners));
            thread::spawn(move || {
                let mut got = take_batch(&ring, &owners, 1, k);
                got.extend(take_batch(&ring, &owners, 1, k));
                got
            })
        };
        let all: Vec<usize> = (0..capacity).collect();
        if fill_in_one {
            // SAFETY: these indices were taken from the ring, each is returned once.
            unsafe { ring.push_many(&all) }.unwrap();
        } else {
            for &i in &all {
                // SAFETY: this index was taken from the ring and is returned once.
                unsafe { ring.push(i) }.unwrap();
            }
        }
        let got = poller.join().unwrap();
        for &i in &got {
            owners.release(i);
        }
        let mut back = drain(&ring);
        back.extend(got);
        owners.check_all_back(back);
    });
}

/// A batch producer whose run of positions consumers pass before it
/// writes: the main thread holds every index, hands them to a returner
/// thread that gives them back as one batch, while the main thread polls
/// with single pops (which run `head` past `tail` on the empty ring, so the
/// batch's positions can be unusable and its indices must go in again at
/// fresh positions). The poller must get every index back.
fn batch_return_while_polling(capacity: usize, bound: usize) {
    builder(bound).check(move || {
        let ring = Arc::new(IndexRing::full(capacity).unwrap());
        let owners = Arc::new(Owners::new(capacity));
        let held = take_batch(&ring, &owners, 0, capacity);
        assert_eq!(held.len(), capacity);
        assert_eq!(ring.pop(), None);
        for &i in &held {
            owners.release(i);
        }
        let returner = {
            let ring = Arc::clone(&ring);
            // SAFETY: these indices were taken from the ring, each is returned once.
            thread::spawn(move || unsafe { ring.push_many(&held) }.unwrap())
        };
        let mut got = Vec::new();
        while got.len() < capacity {
            match ring.pop() {
                Some(i) => {
                    owners.acquire(i, 0);
                    got.push(i);
                }
                None => thread::yield_now(),
            }
        }
        returner.join().unwrap();
        assert_eq!(ring.pop(), None);
        for &i in &got {
            owners.release(i);
        }
        owners.check_all_back(got);
    });
}

// ------------------------------------------- batches against single ops

#[test]
fn batch_vs_single_capacity_1() {
    mixed(1, &[(Op::Batch(1), 2), (Op::Single, 2)], 3);
}

#[test]
fn batch_vs_single_capacity_2() {
    mixed(2, &[(Op::Batch(2), 2), (Op::Single, 2)], 3);
}

#[test]
fn batch_vs_single_capacity_4() {
    mixed(4, &[(Op::Batch(3), 1), (Op::Single, 2)], 3);
}

#[test]
fn batch_vs_single_two_capacity_2() {
    mixed(2, &[(Op::Batch(2), 1), (Op::SingleTwo, 1)], 3);
}

#[test]
fn batch_vs_single_two_capacity_4() {
    mixed(4, &[(Op::Batch(2), 2), (Op::SingleTwo, 1)], 2);
}

/// The single thread laps the ring (a capacity-1 ring has 4 slots) while
/// the batch may stall inside its run and meet slots of a newer cycle.
#[test]
fn batch_lapped_by_single_capacity_1() {
    mixed(1, &[(Op::Batch(1), 1), (Op::Single, 5)], 2);
}

#[test]
fn batch_lapped_by_single_capacity_2() {
    mixed(2, &[(Op::Batch(2), 1), (Op::Single, 5)], 2);
}

#[test]
fn single_lapped_by_batches_capacity_2() {
    mixed(2, &[(Op::Single, 1), (Op::Batch(2), 4)], 2);
}

#[test]
fn batch_between_two_singles_capacity_2() {
    mixed(2, &[(Op::Batch(2), 1), (Op::Single, 1), (Op::Single, 1)], 2);
}

// ------------------------------------------------ batches against batches

#[test]
fn batch_vs_batch_capacity_1() {
    mixed(1, &[(Op::Batch(1), 2), (Op::Batch(1), 2)], 3);
}

#[test]
fn batch_vs_batch_capacity_2() {
    mixed(2, &[(Op::Batch(2), 2), (Op::Batch(2), 1)], 3);
}

#[test]
fn batch_vs_batch_capacity_4() {
    mixed(4, &[(Op::Batch(3), 1), (Op::Batch(2), 1)], 3);
}

#[test]
fn three_batches_capacity_2() {
    mixed(
        2,
        &[(Op::Batch(1), 1), (Op::Batch(2), 1), (Op::Batch(2), 1)],
        2,
    );
}

// ------------------------------- batches larger than what the ring holds

#[test]
fn oversized_batches_capacity_1() {
    mixed(1, &[(Op::Batch(3), 2), (Op::Single, 2)], 3);
}

#[test]
fn oversized_batches_capacity_2() {
    mixed(2, &[(Op::Batch(4), 1), (Op::Batch(3), 1)], 3);
}

#[test]
fn oversized_batch_capacity_4() {
    mixed(4, &[(Op::Batch(6), 1), (Op::SingleTwo, 1)], 2);
}

#[test]
fn dry_then_returned_capacity_1() {
    dry_then_returned(1, 2, 3);
}

#[test]
fn dry_then_returned_capacity_2() {
    dry_then_returned(2, 2, 3);
}

#[test]
fn dry_then_returned_capacity_4() {
    dry_then_returned(4, 3, 2);
}

// ------------------------------------------------ empty rings, filled

#[test]
fn fill_while_batch_polling_capacity_1() {
    fill_while_batch_polling(1, 2, true, 3);
}

#[test]
fn fill_while_batch_polling_capacity_2() {
    fill_while_batch_polling(2, 2, true, 3);
}

#[test]
fn single_fill_while_batch_polling_capacity_2() {
    fill_while_batch_polling(2, 2, false, 3);
}

#[test]
fn fill_while_batch_polling_capacity_4() {
    fill_while_batch_polling(4, 3, true, 2);
}

#[test]
fn batch_return_while_polling_capacity_1() {
    batch_return_while_polling(1, 3);
}

#[test]
fn batch_return_while_polling_capacity_2() {
    batch_return_while_polling(2, 3);
}
