//! Exhaustive interleaving checks of the wait list behind the async acquire
//! ([`WaitList`], [`Acquire`]), under loom's model of the C11 memory model,
//! with an [`IndexRing`] as the free list.
//!
//! Run with `scripts/loom.sh` (or
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom --no-default-features waiters::`).
//!
//! The waiters run their futures on `loom::future::block_on`, which parks
//! the thread until the future's waker is woken: a lost wake-up leaves a
//! waiter parked for ever, and loom reports the model as deadlocked. Each
//! model checks, on every explored interleaving:
//!
//! * every waiter completes (no lost wake-up, no index kept from a waiter);
//! * exactly-once ownership and ordering: each holder swaps a per-index
//!   flag and writes and reads back a payload cell (loom's `UnsafeCell`
//!   reports accesses not ordered by happens-before), so a hand-over that
//!   did not carry the returner's writes to the next holder is a race;
//! * after every thread is joined, nobody is queued and draining the ring
//!   yields every index exactly once: a cancellation lost nothing.
//!
//! Mutations these models catch (each made by hand, each failing): dropping
//! the waiter's look at the free list after it queues (every model
//! deadlocks: the lost wake-up), a cancelled waiter that drops the index it
//! was handed (the drain finds it missing), and one that puts it back
//! without notifying (the other waiter deadlocks). What they cannot catch:
//! weakening the waiter counter's `SeqCst` orderings. The counter's reads
//! are read-modify-writes under loom (see `WaitList`'s docs), which always
//! see the latest value, and even a plain `Relaxed` load passed these
//! models; that the counter and the free list must be sequentially
//! consistent rests on the C11 argument in `WaitList`'s docs, not on loom.

use super::common::builder;
use iobuf_pool::sync::{Acquire, IndexRing, Source, WaitList};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Wake, Waker};

/// A pool's free list and wait list, without the buffers.
struct Pool {
    ring: IndexRing,
    waiters: WaitList,
    held: Vec<AtomicBool>,
    payload: Vec<UnsafeCell<usize>>,
}

impl Source for Pool {
    fn wait_list(&self) -> &WaitList {
        &self.waiters
    }
    fn try_take(&self) -> Option<usize> {
        self.ring.pop()
    }
    fn put(&self, index: usize) {
        // SAFETY: this index was taken from the ring and is returned once.
        unsafe { self.ring.push(index) }.unwrap();
    }
}

impl Pool {
    fn full(capacity: usize) -> Arc<Self> {
        Arc::new(Pool {
            ring: IndexRing::full(capacity).unwrap(),
            waiters: WaitList::new(),
            held: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            payload: (0..capacity).map(|_| UnsafeCell::new(usize::MAX)).collect(),
        })
    }

    /// Records that `who` now holds `index`; fails if someone else does,
    /// or if the previous holder's writes are not ordered before ours.
    fn hold(&self, index: usize, who: usize) {
        assert!(
            !self.held[index].swap(true, Ordering::Relaxed),
            "index {index} handed out while still held"
        );
        self.payload[index].with_mut(|p| {
            // SAFETY: loom's cell checks this access itself; the pointer is
            // valid for the cell's lifetime.
            unsafe { *p = who };
        });
        let seen = self.payload[index].with(|p| {
            // SAFETY: as above.
            unsafe { *p }
        });
        assert_eq!(
            seen, who,
            "payload of index {index} changed under its holder"
        );
    }

    /// Gives `index` back the way a pool's put does.
    fn give_back(&self, index: usize) {
        self.held[index].store(false, Ordering::Relaxed);
        self.waiters.release(self, index);
    }

    /// Waits for an index and records it as held by `who`.
    fn acquire(&self, who: usize) -> usize {
        let index = loom::future::block_on(Acquire::new(self));
        self.hold(index, who);
        index
    }

    /// Nobody queued, nothing held, every index free exactly once.
    fn check_all_back(&self) {
        assert!(!self.waiters.has_waiters(), "a waiter is still queued");
        let mut drained: Vec<usize> = std::iter::from_fn(|| self.ring.pop()).collect();
        drained.sort_unstable();
        let expected: Vec<usize> = (0..self.held.len()).collect();
        assert_eq!(drained, expected, "indices lost or duplicated");
        for (i, h) in self.held.iter().enumerate() {
            assert!(!h.load(Ordering::Relaxed), "index {i} still marked held");
        }
    }
}

/// A waker that counts its wakes, for futures polled by hand.
struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> Waker {
    Waker::from(std::sync::Arc::new(Counter(AtomicUsize::new(0))))
}

/// (a) Lost wake-up: every index but none free, one waiter and one returner
/// racing. The waiter's take, queueing and second look can fall anywhere
/// around the returner's push and its read of the waiter count; the waiter
/// must always complete, with the returned index.
fn waiter_meets_returner(capacity: usize, bound: usize) {
    builder(bound).check(move || {
        let pool = Pool::full(capacity);
        let taken: Vec<usize> = (0..capacity).map(|_| pool.ring.pop().unwrap()).collect();
        let returned = taken[0];
        for &i in &taken {
            pool.hold(i, 0);
        }
        let returner = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || {
                // The returner owns it now: its writes must reach the waiter.
                pool.held[returned].store(false, Ordering::Relaxed);
                pool.hold(returned, 1);
                pool.give_back(returned);
            })
        };
        pool.held[returned].store(false, Ordering::Relaxed);
        let got = pool.acquire(2);
        assert_eq!(got, returned, "only one index was free");
        returner.join().unwrap();
        for &i in &taken {
            pool.give_back(i);
        }
        pool.check_all_back();
    });
}

#[test]
fn lost_wakeup_capacity_1() {
    waiter_meets_returner(1, 4);
}

#[test]
fn lost_wakeup_capacity_2() {
    waiter_meets_returner(2, 4);
}

/// (b) A cancellation racing a return: a waiter polls its future once (it
/// may find the index, queue, or queue and be handed it at once) and then
/// drops it, while another thread returns the one index. If `second` is
/// set, a second waiter blocks for the index too and must get it, also when
/// the cancelled one had been handed it first. Either way, afterwards
/// nothing is queued and the index is back exactly once.
fn cancel_meets_return(second: bool, bound: usize) {
    builder(bound).check(move || {
        let pool = Pool::full(1);
        let index = pool.ring.pop().unwrap();
        let canceller = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || {
                let waker = counting_waker();
                let mut fut = Acquire::new(&*pool);
                if let Poll::Ready(i) = Pin::new(&mut fut).poll(&mut Context::from_waker(&waker)) {
                    pool.hold(i, 1);
                    pool.give_back(i);
                }
                drop(fut);
            })
        };
        let waiter = second.then(|| {
            let pool = Arc::clone(&pool);
            thread::spawn(move || {
                let i = pool.acquire(2);
                pool.give_back(i);
            })
        });
        pool.hold(index, 0);
        pool.give_back(index);
        canceller.join().unwrap();
        if let Some(w) = waiter {
            w.join().unwrap();
        }
        pool.check_all_back();
    });
}

#[test]
fn cancel_races_return() {
    cancel_meets_return(false, 4);
}

#[test]
fn cancel_races_return_with_another_waiter() {
    cancel_meets_return(true, 2);
}

/// A waiter that is handed the index and cancelled before its next poll:
/// the drop must pass the index to the other waiter, which blocks for it.
/// The canceller polls, waits until it has been woken (the hand-over),
/// and drops the future without polling it again.
#[test]
fn cancel_after_handoff_passes_the_index_on() {
    builder(4).check(|| {
        let pool = Pool::full(1);
        let index = pool.ring.pop().unwrap();
        pool.hold(index, 0);
        let waker_count = std::sync::Arc::new(Counter(AtomicUsize::new(0)));
        let waker = Waker::from(waker_count.clone());
        let mut first = Acquire::new(&*pool);
        // Queued first (the ring is dry), so the return goes to it.
        assert!(Pin::new(&mut first)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        let other = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || {
                let i = pool.acquire(2);
                pool.give_back(i);
            })
        };
        pool.give_back(index);
        // Whichever serving loop handed it over (ours, or the other
        // waiter's look after queueing) wakes `first` after unlocking.
        while waker_count.0.load(Ordering::SeqCst) == 0 {
            thread::yield_now();
        }
        drop(first);
        other.join().unwrap();
        pool.check_all_back();
    });
}

/// (c) Two waiters, one index, handed around: each waiter takes it
/// `rounds[w]` times and gives it back each time, after the main thread
/// returns it once. Every round of both must complete.
fn two_waiters_one_index(rounds: [usize; 2], bound: usize) {
    builder(bound).check(move || {
        let pool = Pool::full(1);
        let index = pool.ring.pop().unwrap();
        pool.hold(index, 0);
        let waiters: Vec<_> = (0..2)
            .map(|w| {
                let pool = Arc::clone(&pool);
                thread::spawn(move || {
                    for _ in 0..rounds[w] {
                        let i = pool.acquire(w + 1);
                        pool.give_back(i);
                    }
                })
            })
            .collect();
        pool.give_back(index);
        for w in waiters {
            w.join().unwrap();
        }
        pool.check_all_back();
    });
}

#[test]
fn two_waiters_one_index_once_each() {
    two_waiters_one_index([1, 1], 2);
}

#[test]
fn two_waiters_one_index_repeatedly() {
    two_waiters_one_index([2, 1], 2);
}

/// The real pool's return path racing a waiter: a [`iobuf_pool::BufferPool`] of
/// one buffer (reuse slot in front of the ring), held by a returner thread
/// that drops its guard while this thread awaits `acquire()`. The guard's
/// drop parks the index in the reuse slot and then reads the waiter count;
/// the waiter queues and then looks at the slot and the ring. It must
/// always complete with the one buffer, nobody queued afterwards; with a
/// FIFO pool (no slot) the same through the ring. Mutation checked by hand:
/// removing the `notify` from `BufferPool::release` makes both models
/// deadlock (the waiter is never woken).
fn pool_return_meets_acquire(fifo: bool) {
    builder(3).check(move || {
        let pool = iobuf_pool::BufferPool::builder(iobuf_pool::Tier::Pico, 1)
            .reuse_slot(!fifo)
            .build();
        let pool = Arc::new(pool.unwrap());
        let raw = pool.take_raw().unwrap();
        let returner = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || {
                let mut guard = pool.guard(raw).unwrap();
                guard.as_full_mut()[0] = 7; // must reach the waiter
                drop(guard);
            })
        };
        let got = loom::future::block_on(pool.acquire());
        assert_eq!(got.index(), 0);
        assert_eq!(
            got.as_full()[0],
            7,
            "the returner's write did not reach the waiter"
        );
        drop(got);
        returner.join().unwrap();
        assert_eq!(pool.stats().waiters, 0, "a waiter is still queued");
        assert!(pool.try_get().is_some(), "the buffer did not come back");
    });
}

#[test]
fn real_pool_return_meets_acquire() {
    pool_return_meets_acquire(false);
}

#[test]
fn real_fifo_pool_return_meets_acquire() {
    pool_return_meets_acquire(true);
}
