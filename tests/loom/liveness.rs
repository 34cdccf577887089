//! Exhaustive interleaving checks of the combinations that the earlier
//! models left apart: the async wait list together with the per-thread
//! cache's orphaned magazines (src/waiters.rs with src/thread_cache.rs).
//!
//! Run with `scripts/loom.sh` (or
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom --no-default-features liveness::`).
//!
//! The review's deadlock lived here: the wait list's serving loop called
//! the pool's take with the list's lock held, and on a thread-cached pool
//! that take may reclaim an exited thread's magazine and notify the list,
//! which then locked its own lock again. loom reports a model whose
//! threads all block as a deadlock, so each model fails on that code.
//!
//! Mutation these models catch (made by hand): `serve` calling `try_take`
//! with the lock held, as before the fix (both models report loom's
//! "deadlock"). Not caught: a `reclaim_orphans` that does not notify (every
//! path here that reclaims is itself a take or is followed by a serving
//! loop, so the waiters are served anyway).

use super::common::{builder, noop, Owners};
use iobuf_pool::{BufferPool, PooledBuf, Tier};
use loom::sync::Arc;
use loom::thread;
use std::future::Future;
use std::task::{Context, Poll};

/// Takes every buffer, yielding a bounded number of times while the pool
/// looks dry (loom's join returns before a joined thread's thread-locals
/// hand its magazine over), then checks each index came out once.
fn drain_and_check(pool: &BufferPool, owners: &Owners) {
    let mut held: Vec<PooledBuf<'_>> = Vec::with_capacity(pool.capacity());
    for _ in 0..6 {
        while let Some(buf) = pool.try_get() {
            owners.acquire(buf.index(), 9);
            held.push(buf);
        }
        if held.len() == pool.capacity() {
            break;
        }
        thread::yield_now();
    }
    let indices: Vec<usize> = held.iter().map(PooledBuf::index).collect();
    for &i in &indices {
        owners.release(i);
    }
    owners.check_all_back(indices);
}

/// A worker caches two buffers and exits, racing this thread's async
/// waiter queueing on the otherwise dry pool; then a thread that never used
/// the pool returns one. That return's serving loop takes an index (its
/// take may reclaim the worker's magazine and notify the list from inside
/// the loop); the waiter must complete, and every buffer come back once.
#[test]
fn exit_races_a_queued_waiter_then_a_new_thread_returns() {
    builder(2).check(|| {
        let capacity = 4;
        let pool = Arc::new(
            BufferPool::builder(Tier::Pico, capacity)
                .thread_cache(2)
                .build()
                .unwrap(),
        );
        let owners = Arc::new(Owners::new(capacity));
        let (cached_tx, cached_rx) = loom::sync::mpsc::channel::<()>();
        let worker = {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                // Its magazine of 2 takes the whole cache budget.
                let a = pool.try_get().unwrap();
                let b = pool.try_get().unwrap();
                for buf in [&a, &b] {
                    owners.acquire(buf.index(), 1);
                    owners.release(buf.index());
                }
                drop((a, b)); // both into its magazine
                cached_tx.send(()).unwrap();
                // Exits: its magazine is orphaned, racing the waiter below.
            })
        };
        cached_rx.recv().unwrap();
        let c = pool.try_get().unwrap();
        let d = pool.try_get().unwrap();
        owners.acquire(c.index(), 0);
        owners.acquire(d.index(), 0);
        let mut waiting = Box::pin(pool.acquire());
        let first = waiting.as_mut().poll(&mut Context::from_waker(&noop()));
        // A thread that never used the pool gives `c` back.
        owners.release(c.index());
        let giver = {
            let pool = Arc::clone(&pool);
            let c = c.into_raw();
            thread::spawn(move || drop(pool.guard(c).unwrap()))
        };
        let got = match first {
            Poll::Ready(buf) => buf,
            Poll::Pending => loom::future::block_on(waiting.as_mut()),
        };
        owners.acquire(got.index(), 0);
        owners.release(got.index());
        owners.release(d.index());
        drop((got, d));
        drop(waiting);
        giver.join().unwrap();
        worker.join().unwrap();
        drain_and_check(&pool, &owners);
    });
}

/// Two waiters and an orphaned magazine: the second waiter's look after
/// queueing (a take that may reclaim and notify) races a return from
/// another thread. Both waiters complete with distinct buffers.
#[test]
fn a_second_waiter_and_a_return_race_a_reclaim() {
    builder(2).check(|| {
        let capacity = 4;
        let pool = Arc::new(
            BufferPool::builder(Tier::Pico, capacity)
                .thread_cache(2)
                .build()
                .unwrap(),
        );
        let owners = Arc::new(Owners::new(capacity));
        {
            let (pool, owners) = (Arc::clone(&pool), Arc::clone(&owners));
            thread::spawn(move || {
                let a = pool.try_get().unwrap();
                let b = pool.try_get().unwrap();
                for buf in [&a, &b] {
                    owners.acquire(buf.index(), 1);
                    owners.release(buf.index());
                }
                drop((a, b));
            })
            .join()
            .unwrap();
        }
        let c = pool.try_get();
        let d = pool.try_get();
        let held: Vec<_> = [c, d].into_iter().flatten().collect();
        for buf in &held {
            owners.acquire(buf.index(), 0);
        }
        let mut first = Box::pin(pool.acquire());
        let p1 = first.as_mut().poll(&mut Context::from_waker(&noop()));
        let returner = {
            let pool = Arc::clone(&pool);
            let owners = Arc::clone(&owners);
            let raws: Vec<_> = held
                .into_iter()
                .map(|b| {
                    owners.release(b.index());
                    b.into_raw()
                })
                .collect();
            thread::spawn(move || {
                for raw in raws {
                    drop(pool.guard(raw).unwrap());
                }
            })
        };
        let mut second = Box::pin(pool.acquire());
        let p2 = second.as_mut().poll(&mut Context::from_waker(&noop()));
        let a = match p1 {
            Poll::Ready(b) => b,
            Poll::Pending => loom::future::block_on(first.as_mut()),
        };
        let b = match p2 {
            Poll::Ready(b) => b,
            Poll::Pending => loom::future::block_on(second.as_mut()),
        };
        owners.acquire(a.index(), 2);
        owners.acquire(b.index(), 3);
        owners.release(a.index());
        owners.release(b.index());
        drop((a, b, first, second));
        returner.join().unwrap();
        drain_and_check(&pool, &owners);
    });
}
