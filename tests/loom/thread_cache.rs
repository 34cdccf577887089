//! Exhaustive interleaving checks of the transparent per-thread cache
//! (`BufferPool::builder(..).thread_cache(n)`, src/thread_cache.rs), under
//! loom's model of the C11 memory model.
//!
//! Run with `scripts/loom.sh` (or
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom --no-default-features thread_cache::`).
//!
//! Under `cfg(loom)` the cache's magazines live in loom's thread-locals
//! (destroyed when a model thread finishes, which runs the hand-over of its
//! magazines), its atomics, `Arc`s and registry lock are loom's, and its
//! slots are a loom `UnsafeCell`: loom reports any two accesses to a
//! magazine's slots that happens-before does not order, so the owner's
//! last writes must reach a reclaimer through the `ORPHANED` hand-over.
//! Each model also checks, on every explored interleaving:
//!
//! * exactly-once ownership and ordering of the buffers themselves (the
//!   per-index flags and payload cells of `common::Owners`);
//! * after every thread is joined, that taking buffers until the pool is
//!   dry yields every index exactly once: nothing stayed behind in an
//!   exited thread's cache, nothing came out twice;
//! * for the waiter model, that the waiter completes: loom reports a model
//!   whose only thread left is parked as a deadlock (a lost wake-up).
//!
//! Mutations these models catch (each made by hand, each failing; see the
//! doc of each model): the thread-exit hand-over (`Magazine::orphan`)
//! published `Relaxed` instead of `Release`, or read `Relaxed` instead of
//! `Acquire` by the reclaimer: the reclaimer then may read a stale `len` of
//! 0 and retire the magazine with an index still in it, which the models
//! report as a buffer missing; with `len` read by a read-modify-write (so
//! never stale) the same mutation shows as loom's "concurrent write
//! accesses to `UnsafeCell`" on the slots. Also: a reclaim that does not
//! flush the orphaned slots (every model: a buffer missing), a reclaim of
//! magazines still `ACTIVE` (the three-thread model), and returns that keep
//! a buffer in the cache while a task waits (the waiter model deadlocks).
//!
//! The drain (a waiting get taking a live thread's magazine) is modelled
//! with its asymmetric fence as a `SeqCst` fence on each side (loom cannot
//! run `membarrier`; src/asymmetric_fence.rs argues why a `SeqCst` fence at
//! the owner's light fence is the weakest placement the kernel's barrier
//! can have): `drain_races_the_owner` and
//! `a_waiter_takes_a_parked_threads_cache`.
//!
//! Sizes: pools of 2 or 4 buffers, magazines of 1 or 2, two or three threads;
//! the preemption bound is 4 for two threads (well under a second each)
//! and 2 for three (seconds; 3 takes over a minute on 2 cores).

use super::common::{builder, Owners};
use iobuf_pool::{BufferPool, PooledBuf, Tier};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::task::{Context, Poll, Wake, Waker};

/// A pool of `capacity` buffers whose threads each get a magazine of
/// `cache` (within the budget of half the pool).
fn cached_pool(capacity: usize, cache: usize) -> BufferPool {
    BufferPool::builder(Tier::Pico, capacity)
        .thread_cache(cache)
        .build()
        .unwrap()
}

/// Stamps `buf` as held by `who`, then marks it given back (the caller
/// drops it next).
fn touch(owners: &Owners, buf: &PooledBuf<'_>, who: usize) {
    owners.acquire(buf.index(), who);
    owners.release(buf.index());
}

/// Makes up to `tries` gets while other threads run, adding what they
/// take to `held` (stamped for `who`, still marked held) and yielding to
/// the others when the pool looks dry (their caches hold the rest until
/// they exit). Bounded rather than until every buffer is in: a spin whose
/// exit needed a value loom may keep stale would only exceed loom's branch
/// limit, where a bounded one lets a weakened ordering show as a race.
fn take_while_running<'p>(
    pool: &'p BufferPool,
    owners: &Owners,
    who: usize,
    held: &mut Vec<PooledBuf<'p>>,
    tries: usize,
) {
    for _ in 0..tries {
        if held.len() == pool.capacity() {
            return;
        }
        match pool.try_get() {
            Some(buf) => {
                owners.acquire(buf.index(), who);
                held.push(buf);
            }
            None => thread::yield_now(),
        }
    }
}

/// Once every other thread is joined: takes the rest of the buffers into
/// `held` (stamped for `who`). loom's `join` returns before the joined
/// thread's thread-locals are destroyed (that is, before its exit hands its
/// magazines over), so a get may still find the pool dry: it yields to let
/// the exiting threads finish, a bounded number of times (each yield lets
/// them run; the preemption bound limits how often they are interrupted).
/// A buffer still missing after that was lost.
fn take_rest<'p>(pool: &'p BufferPool, owners: &Owners, who: usize, held: &mut Vec<PooledBuf<'p>>) {
    let mut dry = 0;
    while held.len() < pool.capacity() {
        match pool.try_get() {
            Some(buf) => {
                owners.acquire(buf.index(), who);
                held.push(buf);
            }
            None if dry < 8 => {
                dry += 1;
                thread::yield_now();
            }
            None => panic!(
                "buffers missing though every other thread has exited: held {}, {:?}",
                held.len(),
                pool.stats()
            ),
        }
    }
}

/// Checks that `held` is every index once, and lets them go.
fn check_and_return(owners: &Owners, held: Vec<PooledBuf<'_>>) {
    let indices: Vec<usize> = held.iter().map(PooledBuf::index).collect();
    for &i in &indices {
        owners.release(i);
    }
    owners.check_all_back(indices);
    drop(held);
}

/// Once every other thread is joined: [`take_rest`] from nothing, then
/// [`check_and_return`].
fn all_back_once(pool: &BufferPool, owners: &Owners) {
    let mut held = Vec::with_capacity(pool.capacity());
    take_rest(pool, owners, 0, &mut held);
    check_and_return(owners, held);
}

/// A worker takes and returns `rounds` buffers through its cache (the
/// first get registers its magazine and refills it, the next ones hit it,
/// each return stays in it), then exits with its magazine holding one.
/// Meanwhile this thread takes every buffer, yielding while the pool looks
/// dry: it can have the last only by reclaiming the exited worker's
/// magazine, racing the worker's exit. Every index must come out once.
///
/// Caught by hand: `Magazine::orphan` with both its writes `Relaxed`, and
/// the reclaimer's two loads (`has_orphans`, the state) `Relaxed` (either
/// way the reclaimer may read the owner's `len` stale and lose the cached
/// index: a buffer missing; with `len` read by a read-modify-write, loom
/// reports the race on the slots instead), and a `reclaim` that drops the
/// orphaned magazine without flushing it (a buffer missing).
fn exit_races_drain(rounds: usize, bound: usize) {
    builder(bound).check(move || {
        let capacity = 4;
        let pool = Arc::new(cached_pool(capacity, 1));
        let owners = Arc::new(Owners::new(capacity));
        let worker = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                for _ in 0..rounds {
                    if let Some(buf) = pool.try_get() {
                        touch(&owners, &buf, 1);
                        drop(buf);
                    }
                }
            })
        };
        let mut held = Vec::with_capacity(capacity);
        take_while_running(&pool, &owners, 0, &mut held, capacity + 1);
        worker.join().unwrap();
        take_rest(&pool, &owners, 0, &mut held);
        check_and_return(&owners, held);
    });
}

#[test]
fn exit_races_drain_one_round() {
    exit_races_drain(1, 4);
}

#[test]
fn exit_races_drain_two_rounds() {
    exit_races_drain(2, 4);
}

/// Buffers dropped on the other thread: each thread takes one through its
/// own cache and hands it to the other (this thread's at the spawn, the
/// worker's through a channel); each drops the one it got, into its own
/// cache (the worker's first use of the pool for a return registers its
/// magazine there). The worker exits with the main thread's buffer in its
/// magazine; once it is joined, this thread takes every buffer (its own
/// cache, the ring, and a reclaim of the worker's magazine): each index
/// once, and the stamps each holder wrote reach the next.
///
/// Caught by hand: a reclaim that drops the orphaned magazine without
/// flushing it (a buffer missing).
#[test]
fn cross_thread_drops_come_back() {
    builder(4).check(|| {
        let capacity = 4;
        // Magazines of 1: the budget of 2 gives each thread one.
        let pool = Arc::new(cached_pool(capacity, 1));
        let owners = Arc::new(Owners::new(capacity));
        let mine = pool.take_raw().unwrap();
        let (tx, rx) = loom::sync::mpsc::channel();
        let worker = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                let theirs = pool.take_raw().unwrap();
                tx.send(theirs).unwrap();
                let buf = pool.guard(mine).unwrap();
                touch(&owners, &buf, 1);
                drop(buf); // into the worker's cache
            })
        };
        let buf = pool.guard(rx.recv().unwrap()).unwrap();
        touch(&owners, &buf, 0);
        drop(buf); // into this thread's cache
        worker.join().unwrap();
        all_back_once(&pool, &owners);
    });
}

/// Three threads: two workers each take and return a buffer through their
/// own cache and exit, while this thread first reads `stats` (a reclaim)
/// and then takes every buffer (more reclaims): reclaims race each other's
/// hand-overs and the exits, and a magazine must be reclaimed once, by one
/// reclaimer, after its owner's last touch.
///
/// Caught by hand: `Magazine::orphan`'s state store alone made `Relaxed`,
/// which the two-thread models cannot catch (there the orphan count's
/// `Release` increment, made after the store, orders it): here the other
/// worker's increment lets the reclaimer in while this magazine's `len`
/// and slots are not ordered before it (a buffer missing); and a reclaim
/// that also takes magazines still `ACTIVE` (a buffer missing).
#[test]
fn two_exits_and_two_reclaims() {
    builder(2).check(|| {
        let capacity = 4;
        let pool = Arc::new(cached_pool(capacity, 1));
        let owners = Arc::new(Owners::new(capacity));
        let workers: Vec<_> = (1..3)
            .map(|who| {
                let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
                thread::spawn(move || {
                    if let Some(buf) = pool.try_get() {
                        touch(&owners, &buf, who);
                        drop(buf);
                    }
                })
            })
            .collect();
        let s = pool.stats();
        assert_eq!(s.free + s.in_use, capacity);
        assert!(s.cached <= capacity / 2, "caches over budget: {s:?}");
        let mut held = Vec::with_capacity(capacity);
        take_while_running(&pool, &owners, 0, &mut held, capacity + 1);
        for w in workers {
            w.join().unwrap();
        }
        take_rest(&pool, &owners, 0, &mut held);
        check_and_return(&owners, held);
    });
}

/// A waker that does nothing: for the first, manual poll of a future that
/// `block_on` then finishes (it polls with its own waker, which replaces
/// this one).
struct Noop;

impl Wake for Noop {
    fn wake(self: std::sync::Arc<Self>) {}
}

/// An async waiter against a returning thread that has a cache with room.
/// The worker takes two buffers (its magazine of 2 registers first, so it
/// has the pool's whole cache budget), this thread the other two, so the
/// pool is dry. The worker returns one while this thread queues its
/// `acquire` (that return may see the waiter or not); once this thread has
/// queued (a channel says so), the worker returns the second, which must
/// see the waiter and go to the shared list and the waiter, not its cache.
/// The waiter must complete (else loom reports a deadlock), and after the
/// join every buffer comes back once.
///
/// Caught by hand: removing the `anyone_waits()` checks from
/// `BufferPool::release` and `release_cached_slow` (both returns stay in
/// the worker's magazine, which nobody reclaims while this thread is
/// parked: deadlock).
#[test]
fn returns_skip_the_cache_while_a_task_waits() {
    builder(4).check(|| {
        let capacity = 4;
        let pool = Arc::new(cached_pool(capacity, 2));
        let owners = Arc::new(Owners::new(capacity));
        let (ready_tx, ready_rx) = loom::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = loom::sync::mpsc::channel::<()>();
        let worker = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                let a = pool.try_get().unwrap();
                let b = pool.try_get().unwrap();
                owners.acquire(a.index(), 1);
                owners.acquire(b.index(), 1);
                ready_tx.send(()).unwrap();
                owners.release(a.index());
                drop(a); // races the waiter's arrival
                go_rx.recv().unwrap();
                owners.release(b.index());
                drop(b); // the waiter has queued (or been served by `a`)
            })
        };
        ready_rx.recv().unwrap();
        // The ring's last two (the worker's magazine holds at most `a`).
        let c = pool.try_get().unwrap();
        let d = pool.try_get().unwrap();
        owners.acquire(c.index(), 0);
        owners.acquire(d.index(), 0);
        let mut waiting = Box::pin(pool.acquire());
        let waker = Waker::from(std::sync::Arc::new(Noop));
        let first = waiting.as_mut().poll(&mut Context::from_waker(&waker));
        go_tx.send(()).unwrap();
        let got = match first {
            Poll::Ready(buf) => buf,
            Poll::Pending => loom::future::block_on(waiting.as_mut()),
        };
        owners.acquire(got.index(), 0);
        for buf in [&got, &c, &d] {
            owners.release(buf.index());
        }
        drop((got, c, d));
        drop(waiting);
        worker.join().unwrap();
        assert_eq!(pool.stats().waiters, 0, "a waiter is still queued");
        all_back_once(&pool, &owners);
    });
}

/// A drain (another thread taking a live thread's cache) racing the
/// owner's own gets and returns through it: the protocol of
/// src/thread_cache.rs, "Taking from a live thread". The worker takes and
/// returns a buffer twice through its magazine (a registration and refill,
/// then, once the magazine holds one, a hit and a put, racing this
/// thread's drain of every cache); this thread then
/// takes every buffer it can while the worker runs, and the rest once it
/// has exited. loom reports any access to the slots that the owner's
/// section and the drain do not order (the owner's `busy`/`claim`, the
/// asymmetric fence modelled as a `SeqCst` fence on both sides, see
/// src/asymmetric_fence.rs); the ledger reports a buffer handed out twice
/// or lost.
///
/// Caught by hand: the owner's light fence removed (loom: concurrent
/// accesses to the slots, or a buffer with two holders); the drain not
/// waiting for `busy` to clear (the same).
#[test]
fn drain_races_the_owner() {
    builder(3).check(|| {
        let capacity = 4;
        let pool = Arc::new(cached_pool(capacity, 2));
        let owners = Arc::new(Owners::new(capacity));
        let (ready_tx, ready_rx) = loom::sync::mpsc::channel::<()>();
        let worker = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                // Register, refill, and keep one in the magazine.
                let buf = pool.try_get().unwrap();
                touch(&owners, &buf, 1);
                drop(buf);
                ready_tx.send(()).unwrap();
                // A hit and a put: two sections racing the drain.
                if let Some(buf) = pool.try_get() {
                    touch(&owners, &buf, 1);
                    drop(buf);
                }
            })
        };
        ready_rx.recv().unwrap();
        pool.drain_thread_caches();
        let mut held = Vec::with_capacity(capacity);
        take_while_running(&pool, &owners, 0, &mut held, 2);
        worker.join().unwrap();
        take_rest(&pool, &owners, 0, &mut held);
        check_and_return(&owners, held);
    });
}

/// A drained magazine taken back racing a second drain: the worker keeps
/// one buffer in its magazine, this thread drains it (the index goes to
/// the ring; the magazine's word still counts it, since only the owner
/// writes the word), then the worker's next get takes the magazine back
/// (it must write `len` 0 before its CAS to `OWNER`) while this thread
/// drains again. Neither the worker nor the second drain may use the
/// stale count: the ledger reports the index handed out twice.
///
/// Caught by hand: no `len` of 0 written on taking the magazine back (the
/// worker pops the drained index again); the 0 written after the CAS
/// instead of before (the second drain gives the drained index to the ring
/// a second time).
#[test]
fn a_drained_magazine_taken_back_races_a_second_drain() {
    builder(3).check(|| {
        let capacity = 4;
        let pool = Arc::new(cached_pool(capacity, 2));
        let owners = Arc::new(Owners::new(capacity));
        let (ready_tx, ready_rx) = loom::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = loom::sync::mpsc::channel::<()>();
        let worker = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                // Register, refill, and keep one in the magazine.
                let buf = pool.try_get().unwrap();
                touch(&owners, &buf, 1);
                drop(buf);
                ready_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                // The magazine is drained: this get takes it back.
                let buf = pool.try_get().unwrap();
                touch(&owners, &buf, 1);
                drop(buf);
            })
        };
        ready_rx.recv().unwrap();
        assert_eq!(pool.drain_thread_caches(), 1);
        go_tx.send(()).unwrap();
        pool.drain_thread_caches();
        worker.join().unwrap();
        all_back_once(&pool, &owners);
    });
}

/// The stranding scene in small: the worker's cache is the only place a
/// free buffer can be (it takes one through its cache and returns it,
/// racing this thread's `acquire`), and then it stays parked until this
/// thread is done. The waiter must complete without the worker's help
/// (loom reports a deadlock otherwise): its first wait drains the
/// worker's cache, and a return that comes later sees the waiter. Every
/// buffer comes back once.
///
/// Caught by hand: `poll_draining` not draining (deadlock: the buffer
/// stays in the parked worker's cache); a return whose section follows
/// the drain keeping the buffer (no `anyone_waits` after taking a
/// drained magazine back: deadlock).
#[test]
fn a_waiter_takes_a_parked_threads_cache() {
    builder(3).check(|| {
        let capacity = 2;
        // Budget 1: the worker's magazine holds one; this thread gets none.
        let pool = Arc::new(cached_pool(capacity, 2));
        let owners = Arc::new(Owners::new(capacity));
        let (ready_tx, ready_rx) = loom::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = loom::sync::mpsc::channel::<()>();
        let worker = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                let a = pool.try_get().unwrap();
                owners.acquire(a.index(), 1);
                ready_tx.send(()).unwrap();
                owners.release(a.index());
                drop(a); // races the waiter: its cache, or the list
                done_rx.recv().unwrap(); // parked until the waiter is done
            })
        };
        ready_rx.recv().unwrap();
        let c = pool.try_get().unwrap();
        owners.acquire(c.index(), 0);
        let got = loom::future::block_on(pool.acquire());
        owners.acquire(got.index(), 0);
        done_tx.send(()).unwrap();
        for buf in [&got, &c] {
            owners.release(buf.index());
        }
        drop((got, c));
        worker.join().unwrap();
        all_back_once(&pool, &owners);
    });
}

/// A drain racing the owner's exit: the worker keeps one buffer in its
/// magazine and exits (its thread-local destructor orphans the magazine)
/// while this thread drains every cache; the drain and the later reclaim
/// must take the buffer once between them (a drained orphan holds
/// nothing; an orphan the drain missed is reclaimed). Every buffer comes
/// back once.
#[test]
fn drain_races_an_exit() {
    builder(3).check(|| {
        let capacity = 4;
        let pool = Arc::new(cached_pool(capacity, 2));
        let owners = Arc::new(Owners::new(capacity));
        let (ready_tx, ready_rx) = loom::sync::mpsc::channel::<()>();
        let worker = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                let buf = pool.try_get().unwrap();
                touch(&owners, &buf, 1);
                drop(buf);
                ready_tx.send(()).unwrap();
                // Exits: OWNED's destructor orphans the magazine.
            })
        };
        ready_rx.recv().unwrap();
        pool.drain_thread_caches();
        worker.join().unwrap();
        all_back_once(&pool, &owners);
    });
}
