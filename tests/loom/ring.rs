//! Exhaustive interleaving checks of the index ring and the per-thread
//! cache, under loom's model of the C11 memory model.
//!
//! Run with `scripts/loom.sh` (or
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom --no-default-features`).
//!
//! Each model runs a few threads that take indices and give them back, and
//! checks two things on every explored interleaving:
//!
//! * exactly-once ownership: a per-index flag is swapped to "held" after a
//!   take and must have been clear; it is cleared before the give-back;
//! * memory ordering: every index has a payload cell (loom's `UnsafeCell`,
//!   which reports any pair of accesses not ordered by happens-before) that
//!   the holder writes and reads back. A ring whose give-back were not a
//!   release, or whose take were not an acquire, makes loom report a data
//!   race here, which is the "bytes written before return are visible to the
//!   next holder" guarantee;
//!
//! and, after every thread is joined, that draining the ring yields every
//! index exactly once: nothing was lost or duplicated.
//!
//! The preemption bound keeps each model small enough for a 2-core machine
//! (see `builder`); `LOOM_MAX_PREEMPTIONS` overrides it.

use super::common::{builder, Owners};
use iobuf_pool::sync::IndexRing;
use iobuf_pool::{BufferPool, LocalCache, PooledBuf, Tier};
use loom::sync::Arc;
use loom::thread;

/// What a model takes indices from and gives them back to: the bare ring,
/// or a pool through its `PooledBuf` guards, which puts the pool's one-entry reuse
/// slot (src/freelist.rs) in front of the ring. Through guards the only
/// synchronisation between holders is the pool's own: a slot whose park were
/// not a release, or whose take were not an acquire, shows as a race on the
/// payload cells.
trait Free: Send + Sync + 'static {
    /// An index while a thread holds it.
    type Held<'a>
    where
        Self: 'a;
    fn full(capacity: usize) -> Self;
    fn take(&self) -> Option<Self::Held<'_>>;
    fn index(held: &Self::Held<'_>) -> usize;
    fn give_back(&self, held: Self::Held<'_>);
    /// Takes every free index out, for the exactly-once check at the end.
    fn drain(&self) -> Vec<usize>;
}

/// Pushes an index back into `ring`, failing the model on an error.
fn give(ring: &IndexRing, index: usize) {
    // SAFETY: every caller passes an index it popped from `ring` (or, on a
    // ring made empty, one never pushed), and pushes it once.
    unsafe { ring.push(index) }.unwrap()
}

impl Free for IndexRing {
    type Held<'a> = usize;
    fn full(capacity: usize) -> Self {
        IndexRing::full(capacity).unwrap()
    }
    fn take(&self) -> Option<usize> {
        self.pop()
    }
    fn index(held: &usize) -> usize {
        *held
    }
    fn give_back(&self, held: usize) {
        give(self, held);
    }
    fn drain(&self) -> Vec<usize> {
        std::iter::from_fn(|| self.pop()).collect()
    }
}

impl Free for BufferPool {
    type Held<'a> = PooledBuf<'a>;
    fn full(capacity: usize) -> Self {
        BufferPool::new(Tier::Pico, capacity).unwrap()
    }
    fn take(&self) -> Option<PooledBuf<'_>> {
        self.try_get()
    }
    fn index(held: &PooledBuf<'_>) -> usize {
        held.index()
    }
    fn give_back(&self, held: PooledBuf<'_>) {
        drop(held);
    }
    fn drain(&self) -> Vec<usize> {
        // Hold every guard until all are taken, or they would come straight back.
        let held: Vec<_> = std::iter::from_fn(|| self.try_get()).collect();
        held.iter().map(PooledBuf::index).collect()
    }
}

/// Thread `t` takes an index and gives it back `rounds[t]` times.
///
/// Unequal rounds let one thread stall inside an operation while another
/// laps the ring (a capacity-1 ring has 4 slots; 5 rounds move head and tail
/// past all of them): the stalled thread then meets slots of a newer cycle,
/// which is where a missing cycle check would let it take or overwrite an
/// entry that is not its own.
fn take_and_return<F: Free>(capacity: usize, rounds: &'static [usize], bound: usize) {
    builder(bound).check(move || {
        let free = Arc::new(F::full(capacity));
        let owners = Arc::new(Owners::new(capacity));
        let work = move |free: &F, owners: &Owners, who: usize| {
            for _ in 0..rounds[who] {
                if let Some(held) = free.take() {
                    owners.acquire(F::index(&held), who);
                    owners.release(F::index(&held));
                    free.give_back(held);
                }
            }
        };
        let handles: Vec<_> = (1..rounds.len())
            .map(|who| {
                let (free, owners) = (Arc::clone(&free), Arc::clone(&owners));
                thread::spawn(move || work(&free, &owners, who))
            })
            .collect();
        work(&free, &owners, 0);
        for h in handles {
            h.join().unwrap();
        }
        owners.check_all_back(free.drain());
    });
}

/// Every thread takes two indices before giving either back (when there are
/// two), so positions of the ring are passed over, consumed out of order,
/// and slots of an older cycle meet consumers of a newer one: the paths that
/// clear the safe bit and advance an empty slot's cycle. Through a pool, the
/// second return of a round finds the reuse slot full (or taken) and goes to
/// the ring.
fn take_two_then_return<F: Free>(threads: usize, capacity: usize, bound: usize) {
    builder(bound).check(move || {
        let free = Arc::new(F::full(capacity));
        let owners = Arc::new(Owners::new(capacity));
        let work = move |free: &F, owners: &Owners, who: usize| {
            let a = free.take();
            let b = free.take();
            for held in [&a, &b].into_iter().flatten() {
                owners.acquire(F::index(held), who);
            }
            for held in [b, a].into_iter().flatten() {
                owners.release(F::index(&held));
                free.give_back(held);
            }
        };
        let handles: Vec<_> = (1..threads)
            .map(|who| {
                let (free, owners) = (Arc::clone(&free), Arc::clone(&owners));
                thread::spawn(move || work(&free, &owners, who))
            })
            .collect();
        work(&free, &owners, 0);
        for h in handles {
            h.join().unwrap();
        }
        owners.check_all_back(free.drain());
    });
}

/// One thread only takes and passes the indices on; the other only gives
/// them back: returns from another thread, with the ring empty in between.
fn handoff(capacity: usize, items: usize, bound: usize) {
    builder(bound).check(move || {
        let ring = Arc::new(IndexRing::full(capacity).unwrap());
        let owners = Arc::new(Owners::new(capacity));
        let (tx, rx) = loom::sync::mpsc::channel::<usize>();
        let returner = {
            let (ring, owners) = (Arc::clone(&ring), Arc::clone(&owners));
            thread::spawn(move || {
                for _ in 0..items {
                    let i = rx.recv().unwrap();
                    owners.release(i);
                    give(&ring, i);
                }
            })
        };
        let mut sent = 0;
        while sent < items {
            match ring.pop() {
                Some(i) => {
                    owners.acquire(i, 0);
                    tx.send(i).unwrap();
                    sent += 1;
                }
                // Ring dry: the returner has them all; let it run.
                None => thread::yield_now(),
            }
        }
        returner.join().unwrap();
        owners.check_all_back(ring.drain());
    });
}

/// An empty ring filled by one thread while another polls it: a pop that
/// runs ahead of the tail must not make a later push unreachable.
fn fill_while_polling(capacity: usize, bound: usize) {
    builder(bound).check(move || {
        let ring = Arc::new(IndexRing::empty(capacity).unwrap());
        let owners = Arc::new(Owners::new(capacity));
        let poller = {
            let (ring, owners) = (Arc::clone(&ring), Arc::clone(&owners));
            thread::spawn(move || {
                let mut got = Vec::new();
                for _ in 0..2 {
                    if let Some(i) = ring.pop() {
                        owners.acquire(i, 1);
                        got.push(i);
                    }
                }
                got
            })
        };
        for i in 0..capacity {
            give(&ring, i);
        }
        let got = poller.join().unwrap();
        for &i in &got {
            owners.release(i);
        }
        let mut all = ring.drain();
        all.extend(got);
        owners.check_all_back(all);
    });
}

#[test]
fn two_threads_capacity_1() {
    take_and_return::<IndexRing>(1, &[2, 2], 3);
}

#[test]
fn two_threads_capacity_2() {
    take_and_return::<IndexRing>(2, &[2, 2], 3);
}

#[test]
fn two_threads_capacity_4() {
    take_and_return::<IndexRing>(4, &[2, 2], 3);
}

#[test]
fn three_threads_capacity_1() {
    take_and_return::<IndexRing>(1, &[1, 1, 1], 2);
}

#[test]
fn three_threads_capacity_2() {
    take_and_return::<IndexRing>(2, &[1, 1, 1], 2);
}

#[test]
fn three_threads_capacity_4() {
    take_and_return::<IndexRing>(4, &[1, 1, 1], 2);
}

#[test]
fn two_threads_take_two_capacity_1() {
    take_two_then_return::<IndexRing>(2, 1, 3);
}

#[test]
fn two_threads_take_two_capacity_2() {
    take_two_then_return::<IndexRing>(2, 2, 3);
}

#[test]
fn two_threads_take_two_capacity_4() {
    take_two_then_return::<IndexRing>(2, 4, 3);
}

#[test]
fn three_threads_take_two_capacity_2() {
    take_two_then_return::<IndexRing>(3, 2, 2);
}

#[test]
fn three_threads_take_two_capacity_4() {
    take_two_then_return::<IndexRing>(3, 4, 2);
}

#[test]
fn handoff_capacity_1() {
    handoff(1, 3, 3);
}

#[test]
fn handoff_capacity_2() {
    handoff(2, 4, 3);
}

#[test]
fn fill_while_polling_capacity_1() {
    fill_while_polling(1, 3);
}

#[test]
fn fill_while_polling_capacity_2() {
    fill_while_polling(2, 3);
}

#[test]
fn lapped_capacity_1() {
    take_and_return::<IndexRing>(1, &[1, 5], 2);
}

#[test]
fn lapped_capacity_2() {
    take_and_return::<IndexRing>(2, &[1, 5], 2);
}

#[test]
fn lapped_capacity_4() {
    take_and_return::<IndexRing>(4, &[1, 9], 2);
}

/// Three threads, one of which laps the ring while the other two may stall
/// inside an operation: a stalled producer meets a slot whose cycle moved on
/// (the case that exposed the need for sequentially consistent reads in the
/// model; see the ring's module docs).
#[test]
fn lapped_three_threads_capacity_1() {
    take_and_return::<IndexRing>(1, &[1, 1, 6], 3);
}

#[test]
fn lapped_three_threads_capacity_2() {
    take_and_return::<IndexRing>(2, &[1, 1, 6], 3);
}

#[test]
fn lapped_three_threads_capacity_2_longer() {
    take_and_return::<IndexRing>(2, &[1, 1, 8], 2);
}

#[test]
fn lapped_three_threads_capacity_4() {
    take_and_return::<IndexRing>(4, &[1, 1, 10], 2);
}

/// Per-thread caches over one pool: each thread takes through its cache,
/// stamps the buffer, and puts it back into its cache; dropping the caches
/// must bring every buffer home exactly once.
fn caches(capacity: usize, cache_size: usize, rounds: usize, bound: usize) {
    builder(bound).check(move || {
        let pool = Arc::new(BufferPool::new(Tier::Pico, capacity).unwrap());
        let owners = Arc::new(Owners::new(capacity));
        let work = move |pool: &BufferPool, owners: &Owners, who: usize| {
            let mut cache = LocalCache::new(pool, cache_size).unwrap();
            for _ in 0..rounds {
                if let Some(buf) = cache.try_get() {
                    owners.acquire(buf.index(), who);
                    owners.release(buf.index());
                    cache.put(buf);
                }
            }
        };
        let other = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || work(&pool, &owners, 1))
        };
        work(&pool, &owners, 0);
        other.join().unwrap();
        let back: Vec<usize> = std::iter::from_fn(|| pool.take_raw())
            .map(|r| r.into_index())
            .collect();
        owners.check_all_back(back);
    });
}

#[test]
fn caches_capacity_2() {
    caches(2, 2, 2, 2);
}

#[test]
fn caches_capacity_4() {
    caches(4, 2, 3, 2);
}

/// Caches that miss and overflow every round: a pool of 4, whose caches
/// together may hold 2, so the first two threads get a cache of one buffer
/// and a third (if any) none, going straight to the ring. Each round takes
/// two buffers and puts both back, so a cache refills from the ring and
/// flushes to it every round (with one get and one put per round, a cache
/// would hit after its first miss and the ring would see almost no
/// traffic).
fn caches_miss_and_flush(threads: usize, rounds: usize, bound: usize) {
    builder(bound).check(move || {
        let capacity = 4;
        let pool = Arc::new(BufferPool::new(Tier::Pico, capacity).unwrap());
        let owners = Arc::new(Owners::new(capacity));
        let work = move |pool: &BufferPool, owners: &Owners, who: usize| {
            let mut cache = LocalCache::new(pool, 1).unwrap();
            for _ in 0..rounds {
                let a = cache.try_get();
                let b = cache.try_get();
                for buf in [&a, &b].into_iter().flatten() {
                    owners.acquire(buf.index(), who);
                }
                for buf in [b, a].into_iter().flatten() {
                    owners.release(buf.index());
                    cache.put(buf);
                }
            }
        };
        let others: Vec<_> = (1..threads)
            .map(|who| {
                let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
                thread::spawn(move || work(&pool, &owners, who))
            })
            .collect();
        work(&pool, &owners, 0);
        for h in others {
            h.join().unwrap();
        }
        let back: Vec<usize> = std::iter::from_fn(|| pool.take_raw())
            .map(|r| r.into_index())
            .collect();
        owners.check_all_back(back);
    });
}

#[test]
fn caches_miss_and_flush_two_threads() {
    caches_miss_and_flush(2, 2, 3);
}

#[test]
fn caches_miss_and_flush_three_threads() {
    caches_miss_and_flush(3, 1, 2);
}

/// The handoff pattern through caches (issue 7): one thread only takes,
/// from its cache (refilled from the ring), and passes the indices on; the
/// other only returns them, into its own cache, which flushes to the ring
/// when full. The taker must get all `items` buffers: none may starve in
/// the returner's cache.
fn cache_handoff(capacity: usize, items: usize, bound: usize) {
    builder(bound).check(move || {
        let pool = Arc::new(BufferPool::new(Tier::Pico, capacity).unwrap());
        let owners = Arc::new(Owners::new(capacity));
        let (tx, rx) = loom::sync::mpsc::channel::<iobuf_pool::RawBuf>();
        let returner = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                let mut cache = LocalCache::new(&pool, 1).unwrap();
                for _ in 0..items {
                    let raw = rx.recv().unwrap();
                    owners.release(raw.index());
                    cache.put(pool.guard(raw).unwrap());
                }
            })
        };
        let mut cache = LocalCache::new(&pool, 1).unwrap();
        let mut sent = 0;
        while sent < items {
            match cache.try_get() {
                Some(buf) => {
                    owners.acquire(buf.index(), 0);
                    tx.send(buf.into_raw()).unwrap();
                    sent += 1;
                }
                // Dry: the returner holds them; let it run.
                None => thread::yield_now(),
            }
        }
        drop(cache);
        returner.join().unwrap();
        let back: Vec<usize> = std::iter::from_fn(|| pool.take_raw())
            .map(|r| r.into_index())
            .collect();
        owners.check_all_back(back);
    });
}

#[test]
fn cache_handoff_capacity_2() {
    cache_handoff(2, 4, 3);
}

#[test]
fn cache_handoff_capacity_4() {
    cache_handoff(4, 4, 3);
}

/// Three threads that each take and return twice: every thread can be both
/// the one that stalls and the one that moves on.
#[test]
fn three_threads_two_rounds_capacity_1() {
    take_and_return::<IndexRing>(1, &[2, 2, 2], 2);
}

#[test]
fn three_threads_two_rounds_capacity_2() {
    take_and_return::<IndexRing>(2, &[2, 2, 2], 2);
}

#[test]
fn three_threads_two_rounds_capacity_4() {
    take_and_return::<IndexRing>(4, &[2, 2, 2], 2);
}

// ------------------------------------------------------------ the pool

/// A dry pool: the main thread holds every buffer but one, another thread
/// takes and returns that one while the main thread polls. Whatever the
/// interleaving, once the other thread is joined the main thread must find
/// the buffer (parked in the reuse slot or in the ring), and nothing may be
/// handed out twice.
fn pool_dry_then_returned(capacity: usize, bound: usize) {
    builder(bound).check(move || {
        let pool = Arc::new(BufferPool::new(Tier::Pico, capacity).unwrap());
        let owners = Arc::new(Owners::new(capacity));
        let mut held: Vec<_> = (0..capacity - 1).map(|_| pool.try_get().unwrap()).collect();
        for b in &held {
            owners.acquire(b.index(), 0);
        }
        let other = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                if let Some(buf) = pool.try_get() {
                    owners.acquire(buf.index(), 1);
                    owners.release(buf.index());
                }
            })
        };
        let polled = pool.try_get();
        if let Some(b) = &polled {
            owners.acquire(b.index(), 0);
        }
        other.join().unwrap();
        let after = pool.try_get();
        if let Some(b) = &after {
            owners.acquire(b.index(), 0);
        }
        // Exactly one of the two looks found the last buffer: the poll (the
        // other thread then found nothing) or the look after the join.
        assert!(
            polled.is_some() != after.is_some(),
            "the last free buffer was missed or handed out twice"
        );
        held.extend(polled);
        held.extend(after);
        for b in &held {
            owners.release(b.index());
        }
        drop(held);
        owners.check_all_back(pool.drain());
    });
}

#[test]
fn pool_two_threads_capacity_1() {
    take_and_return::<BufferPool>(1, &[2, 2], 3);
}

#[test]
fn pool_two_threads_capacity_2() {
    take_and_return::<BufferPool>(2, &[3, 2], 3);
}

#[test]
fn pool_three_threads_capacity_1() {
    take_and_return::<BufferPool>(1, &[2, 1, 1], 2);
}

#[test]
fn pool_three_threads_capacity_2() {
    take_and_return::<BufferPool>(2, &[2, 2, 1], 2);
}

#[test]
fn pool_two_threads_take_two_capacity_2() {
    take_two_then_return::<BufferPool>(2, 2, 3);
}

#[test]
fn pool_three_threads_take_two_capacity_4() {
    take_two_then_return::<BufferPool>(3, 4, 2);
}

#[test]
fn pool_dry_then_returned_capacity_1() {
    pool_dry_then_returned(1, 3);
}

#[test]
fn pool_dry_then_returned_capacity_2() {
    pool_dry_then_returned(2, 3);
}

/// A cache refill that takes a parked index: another thread gives a buffer
/// back (parked in the empty reuse slot) while this thread's cache misses
/// and refills, first from the ring (one index left there), then from the
/// slot. Whatever the refill takes from the slot, its next holder must see
/// the returner's writes: a refill whose take from the slot is not an
/// acquire shows as a race on the payload.
fn cache_refill_takes_parked(bound: usize) {
    builder(bound).check(|| {
        let capacity = 4;
        let pool = Arc::new(BufferPool::new(Tier::Pico, capacity).unwrap());
        let owners = Arc::new(Owners::new(capacity));
        let mut taken: Vec<iobuf_pool::RawBuf> = (0..3).map(|_| pool.take_raw().unwrap()).collect();
        let kept = taken.split_off(1);
        let given_back = taken.pop().unwrap();
        for raw in &kept {
            owners.acquire(raw.index(), 0);
        }
        let returner = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                owners.acquire(given_back.index(), 1);
                owners.release(given_back.index());
                drop(pool.guard(given_back).unwrap());
            })
        };
        // A cache of 2 (the pool's budget): a miss takes one and refills one.
        let mut cache = LocalCache::new(&pool, 2).unwrap();
        let got: Vec<_> = (0..2).filter_map(|_| cache.try_get()).collect();
        for buf in &got {
            owners.acquire(buf.index(), 2);
        }
        for buf in got {
            owners.release(buf.index());
            cache.put(buf);
        }
        drop(cache);
        returner.join().unwrap();
        for raw in kept {
            owners.release(raw.index());
            pool.put_raw(raw).unwrap();
        }
        owners.check_all_back(pool.drain());
    });
}

#[test]
fn cache_refill_takes_parked_index() {
    cache_refill_takes_parked(3);
}

/// A consumer that polls with `looks_empty` (the read-only check waiting
/// gets retry with) while a producer fills an empty ring, after a failed
/// pop of its own has run `head` ahead of `tail`: the check must stop
/// saying "empty" once the push is done (a check stuck at "empty" would
/// make loom's spin loop exceed its branch limit), and the pop it lets
/// through must find the index.
fn poll_until_filled(capacity: usize, bound: usize) {
    builder(bound).check(move || {
        let ring = Arc::new(IndexRing::empty(capacity).unwrap());
        let producer = {
            let ring = Arc::clone(&ring);
            thread::spawn(move || give(&ring, capacity - 1))
        };
        let mut got = ring.pop();
        while got.is_none() {
            if !ring.looks_empty() {
                got = ring.pop();
            } else {
                thread::yield_now();
            }
        }
        producer.join().unwrap();
        assert_eq!(got, Some(capacity - 1));
        assert!(ring.looks_empty());
        assert_eq!(ring.pop(), None);
    });
}

#[test]
fn poll_until_filled_capacity_1() {
    poll_until_filled(1, 3);
}

#[test]
fn poll_until_filled_capacity_2() {
    poll_until_filled(2, 3);
}
