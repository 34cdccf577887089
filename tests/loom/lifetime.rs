//! The lifetime of a pool's memory (src/pool/lifetime.rs): the core lives
//! until the handle *and* the last `OwnedBuf` are gone, and references move
//! between owned buffers and thread caches' stocks without touching the
//! shared count.
//!
//! Under `cfg(loom)` every access to the core through `BufferPool::core`
//! reads a loom cell that the free writes, so an access that the free does
//! not come after (a use after free) is reported as a causality
//! violation; a core that is never freed leaks the loom `Arc`s its thread
//! cache holds, which loom reports at the end of the execution; a second
//! free would be a double free of the `Box`. Stocks refill and shed one
//! reference at a time under loom (`STOCK_BATCH` is 1), so the models
//! reach both.
//!
//! Mutations these models catch (each made by hand, each failing):
//! `release`'s `fetch_sub` `Relaxed` instead of `Release` (loom's
//! causality check: an owned drop's accesses do not come before the free);
//! the close not taking the stocks, a magazine registering after the
//! close, and the close leaving magazines `DRAINED` instead of `CLOSED`
//! (so that their owners take them back and stock references nobody takes
//! again): each leaks the core, which every model reports ("Arc leaked").

use super::common::builder;
use iobuf_pool::{BufferPool, Tier};
use loom::thread;

/// A pool of `capacity` buffers, each thread with a magazine of `cache`
/// (0: no thread cache). The caches' budget is half the pool, so
/// `capacity` is `4 × cache × threads` for every thread to get a magazine
/// (a thread that finds the budget spent shares the pool's magazine of
/// size 0, which keeps no stock).
fn pool(capacity: usize, cache: usize) -> BufferPool {
    BufferPool::builder(Tier::Pico, capacity)
        .thread_cache(cache)
        .build()
        .unwrap()
}

/// The last owned buffer dropped on another thread while the handle drops
/// here, with and without a thread cache: whichever comes last frees the
/// core, once, after the other's accesses.
#[test]
fn the_last_owned_drop_races_the_handles_drop() {
    for cache in [0, 2] {
        builder(3).check(move || {
            let pool = pool(8, cache);
            let buf = pool.get_owned();
            let t = thread::spawn(move || drop(buf));
            drop(pool);
            t.join().unwrap();
        });
    }
}

/// A thread that gets and drops owned buffers through its own magazine
/// (its stock refills, then takes the dropped buffers' references) and
/// exits, leaving an orphaned magazine with a stock, while the handle
/// drops here: the close must take the stock whether the thread is still
/// running, has just orphaned its magazine, or a reclaim got there first.
#[test]
fn an_exiting_threads_stock_races_the_close() {
    builder(3).check(|| {
        let pool = pool(8, 2);
        let held = pool.get_owned();
        let t = thread::spawn(move || {
            let view = held.pool();
            let a = view.get_owned();
            let b = view.try_get_owned();
            drop(a);
            drop(b);
            drop(held);
        });
        drop(pool);
        t.join().unwrap();
    });
}

/// Two threads drop owned buffers (each through its own magazine, one
/// shedding a full stock) while the handle drops: exactly one of the three
/// frees the core.
#[test]
fn two_owned_drops_and_the_close_free_once() {
    builder(2).check(|| {
        let pool = pool(12, 2);
        let a = pool.get_owned();
        let b = pool.get_owned();
        let c = pool.get_owned();
        let t1 = thread::spawn(move || {
            // This thread's stock takes `a`'s reference, then `c`'s and
            // sheds (a stock holds at most 2 under loom).
            let extra = a.pool().get_owned();
            drop(extra);
            drop(a);
            drop(c);
        });
        let t2 = thread::spawn(move || drop(b));
        drop(pool);
        t1.join().unwrap();
        t2.join().unwrap();
    });
}
