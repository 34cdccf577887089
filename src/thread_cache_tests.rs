//! Unit tests of `src/thread_cache.rs` (their own file, so that the module's
//! code and its proofs read on their own).

use crate::{BufferPool, LocalCache, PooledBuf, Tier};
use std::collections::HashSet;

fn cached_pool(capacity: usize, size: usize) -> BufferPool {
    BufferPool::builder(Tier::Pico, capacity)
        .thread_cache(size)
        .build()
        .unwrap()
}

/// Takes every buffer the calling thread can get, checks that no index
/// comes out twice, and gives the indices (the buffers go back after).
fn take_each_once(pool: &BufferPool) -> HashSet<usize> {
    let held: Vec<PooledBuf<'_>> = std::iter::from_fn(|| pool.try_get()).collect();
    let distinct: HashSet<usize> = held.iter().map(PooledBuf::index).collect();
    assert_eq!(distinct.len(), held.len(), "an index came out twice");
    distinct
}

/// [`take_each_once`], and every buffer is there.
fn assert_all_back(pool: &BufferPool) {
    assert_eq!(
        take_each_once(pool).len(),
        pool.capacity(),
        "buffers are missing"
    );
}

#[test]
fn a_get_refills_half_and_a_drop_stays_on_this_thread() {
    let pool = cached_pool(256, 16);
    let a = pool.get();
    assert_eq!(pool.stats().cached, 7, "a refill of 8, one handed out");
    let first = a.index();
    drop(a);
    assert_eq!(pool.stats().cached, 8);
    assert_eq!(pool.get().index(), first, "LIFO: the one just returned");
    let s = pool.stats();
    assert_eq!((s.free, s.in_use), (256, 0));
}

#[test]
fn a_full_cache_flushes_half_to_the_ring() {
    let pool = cached_pool(64, 8);
    let mut held = Vec::new();
    pool.try_get_many(&mut held, 40);
    assert_eq!(held.len(), 40);
    drop(held); // one at a time: 8 fit, then flushes of 4
    let s = pool.stats();
    assert!(s.cached <= 8 && s.cached >= 4, "cached {}", s.cached);
    assert_eq!(s.free, 64);
    assert_all_back(&pool);
}

#[test]
fn a_buffer_dropped_on_another_thread_goes_to_that_threads_cache() {
    let pool = cached_pool(64, 8);
    let buf = pool.get();
    std::thread::scope(|s| {
        s.spawn(|| {
            drop(buf);
            // This thread's cache holds 1, the test thread's the 3
            // left of its refill of 4.
            assert_eq!(pool.stats().cached, 4);
            // This thread's cache now holds it: its next get has it.
            assert_eq!(pool.stats().in_use, 0);
        })
        .join()
        .unwrap();
    });
    // That thread exited: its cache is reclaimed, nothing is lost.
    assert_all_back(&pool);
}

#[test]
fn an_exited_threads_cache_comes_back() {
    let pool = cached_pool(32, 16);
    std::thread::scope(|s| {
        s.spawn(|| {
            let held: Vec<_> = (0..10).map(|_| pool.get()).collect();
            drop(held);
            // Two refills of 8 made 16 free here, 10 went out and came back.
            assert_eq!(pool.stats().cached, 16, "budget 16: one full cache");
        })
        .join()
        .unwrap();
    });
    // The exited thread's 16 are free; the caches' budget is back too.
    let s = pool.stats();
    assert_eq!((s.free, s.cached), (32, 0));
    assert_eq!(LocalCache::new(&pool, 100).unwrap().capacity(), 16);
    assert_all_back(&pool);
}

#[test]
fn a_blocking_get_finds_buffers_an_exited_thread_left() {
    let pool = cached_pool(4, 4); // budget 2: the worker's cache holds 2
    let held: Vec<_> = (0..2).map(|_| pool.get()).collect();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mine: Vec<_> = (0..2).map(|_| pool.get()).collect();
            drop(mine); // both into the worker's cache
        })
        .join()
        .unwrap();
    });
    // The ring is dry; the only free buffers are the orphaned two.
    let a = pool.get();
    let b = pool.get();
    assert_ne!(a.index(), b.index());
    drop((a, b, held));
}

#[test]
fn caches_together_hold_at_most_half_the_pool() {
    let pool = cached_pool(16, 64);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..if cfg!(miri) { 10 } else { 100 } {
                        let held: Vec<_> = std::iter::from_fn(|| pool.try_get()).take(4).collect();
                        drop(held);
                        assert!(pool.stats().cached <= 8);
                    }
                })
            })
            .collect();
        // Joined, not just left to the scope: a scoped thread's
        // thread-local destructors (which hand its cache back) may
        // still be running when the scope returns; a join waits for
        // them.
        for w in workers {
            w.join().unwrap();
        }
    });
    assert_all_back(&pool);
}

#[test]
fn owned_buffers_use_the_cache_too() {
    let pool = std::sync::Arc::new(cached_pool(64, 8));
    let a = pool.get_owned();
    let first = a.index();
    drop(a);
    assert_eq!(pool.get_owned().index(), first);
    let b = pool.get_owned();
    std::thread::spawn(move || drop(b)).join().unwrap();
    assert_all_back(&pool);
}

#[test]
fn a_pool_moved_or_dropped_before_its_threads_exit() {
    // A pool used on a thread, then moved (a BufferPool is a value):
    // the thread's exit must not reach the old address.
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let pool = cached_pool(8, 4);
    let pool = std::sync::Arc::new(pool);
    let p = std::sync::Arc::clone(&pool);
    let t = std::thread::spawn(move || {
        drop(p.get()); // registers, keeps a buffer cached
        drop(p);
        wait.recv().unwrap();
        // The pool is gone; a new one on this thread prunes the old
        // cache record.
        let other = cached_pool(8, 4);
        drop(other.get());
    });
    drop(pool); // the last Arc: the pool is dropped while the thread lives
    go.send(()).unwrap();
    t.join().unwrap();
    // Moved after use, then the user thread exits.
    let pool = cached_pool(8, 4);
    std::thread::scope(|s| {
        s.spawn(|| drop(pool.get())).join().unwrap();
    });
    let moved = Box::new(pool);
    assert_all_back(&moved);
}

#[test]
fn returns_go_to_waiters_not_the_cache() {
    use std::future::Future;
    use std::task::{Context, Poll, Wake, Waker};
    struct Noop;
    impl Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    let pool = cached_pool(4, 4);
    let held: Vec<_> = (0..4).map(|_| pool.get()).collect();
    let waker = Waker::from(std::sync::Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut waiting = Box::pin(pool.acquire());
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    assert_eq!(pool.stats().waiters, 1);
    drop(held); // the first goes to the waiter, not this thread's cache
    match waiting.as_mut().poll(&mut cx) {
        Poll::Ready(buf) => drop(buf),
        Poll::Pending => panic!("a return was kept in a cache while a task waited"),
    }
    assert_all_back(&pool);
}

#[test]
fn batches_move_every_buffer_once() {
    for pool in [
        cached_pool(100, 16),
        BufferPool::new(Tier::Pico, 100).unwrap(),
    ] {
        let mut held = Vec::with_capacity(100);
        assert_eq!(pool.try_get_many(&mut held, 70), 70);
        assert_eq!(pool.try_get_many(&mut held, 70), 30);
        assert_eq!(pool.try_get_many(&mut held, 1), 0);
        let distinct: HashSet<usize> = held.iter().map(PooledBuf::index).collect();
        assert_eq!(distinct.len(), 100);
        assert_eq!(pool.stats().failed_try_gets, 1);
        pool.put_many(held.drain(..50));
        assert_eq!(pool.stats().free, 50);
        pool.put_many(held);
        assert_eq!(pool.stats().free, 100);
        assert_all_back(&pool);
    }
}

#[test]
fn put_many_sends_foreign_buffers_home_and_survives_a_panicking_iterator() {
    let pool = cached_pool(16, 4);
    let other = BufferPool::new(Tier::Pico, 2).unwrap();
    let mut mixed = vec![other.get()];
    pool.try_get_many(&mut mixed, 5);
    pool.put_many(mixed);
    assert_eq!(other.stats().free, 2);
    assert_eq!(pool.stats().free, 16);
    // An iterator that panics half-way: the buffers it had yielded come
    // back all the same.
    let mut bufs = Vec::with_capacity(16);
    pool.try_get_many(&mut bufs, 16);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut it = bufs.into_iter();
        pool.put_many(std::iter::from_fn(|| {
            let b = it.next();
            if it.len() == 8 {
                panic!("iterator failure");
            }
            b
        }));
    }));
    assert!(result.is_err());
    assert_all_back(&pool);
}

#[cfg(all(target_os = "linux", not(miri)))]
#[test]
fn linux_uses_membarrier_so_the_owner_path_has_no_fence() {
    // A thread-cached pool chooses the fences; on a Linux that has
    // membarrier (every kernel since 4.14, this machine's) the light
    // fence must be the compiler fence, not the fallback.
    let _pool = cached_pool(8, 4);
    assert!(crate::asymmetric_fence::is_asymmetric());
}

#[test]
fn flush_finds_this_pools_cache_after_another_pool() {
    // Issue 20, defect 3: the thread used `a`, then `b`; flushing `a`
    // did nothing, since only the last-used pool's cache was looked at.
    let a = cached_pool(64, 16);
    let b = cached_pool(64, 16);
    drop(a.get());
    drop(b.get());
    assert_eq!(a.stats().cached, 8);
    a.flush_thread_cache();
    assert_eq!(a.stats().cached, 0, "a's cache stayed put");
    assert_eq!(b.stats().cached, 8, "b's cache is not a's");
    assert_all_back(&a);
}

#[test]
fn a_drain_takes_a_live_sleeping_threads_cache() {
    // A live thread's cache (not an exited one's): the drain takes it
    // while the thread waits, and the thread's next get and put work
    // (its magazine is taken back).
    let pool = cached_pool(8, 8); // budget 4
    let (filled, fill) = std::sync::mpsc::channel::<()>();
    let (resume, wait) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let pool = &pool;
        let worker = s.spawn(move || {
            let mine: Vec<_> = (0..4).map(|_| pool.get()).collect();
            drop(mine);
            filled.send(()).unwrap();
            wait.recv().unwrap();
            // Drained: its magazine is empty and is taken back.
            let again = pool.get();
            drop(again);
            assert_eq!(pool.stats().cached, 2, "a refill of 2, and the return");
        });
        fill.recv().unwrap();
        assert_eq!(pool.stats().cached, 4);
        assert_eq!(pool.drain_thread_caches(), 4);
        assert_eq!(pool.stats().cached, 0);
        // Every buffer, from this thread, while the worker sleeps.
        assert_all_back(pool);
        resume.send(()).unwrap();
        worker.join().unwrap();
    });
    assert_all_back(&pool);
}

#[test]
fn the_default_pool_has_a_thread_cache_and_zero_opts_out() {
    let pool = BufferPool::new(Tier::Pico, 1024).unwrap();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(pool.thread_cache_size(), (1024 / (2 * cpus)).min(64));
    let plain = BufferPool::builder(Tier::Pico, 1024)
        .thread_cache(0)
        .build()
        .unwrap();
    assert_eq!(plain.thread_cache_size(), 0);
    // Too small to share: no cache.
    assert_eq!(
        BufferPool::new(Tier::Pico, 1).unwrap().thread_cache_size(),
        0
    );
}

/// After a drain, a magazine's word still counts the indices the thief
/// took (only the owner writes it): whoever comes next must not use that
/// count. Here the owner exits without taking the magazine back, and the
/// reclaim of its orphan must give back nothing twice.
#[test]
fn a_drained_threads_exit_gives_back_nothing_twice() {
    let pool = cached_pool(8, 8); // budget 4
    let (filled, fill) = std::sync::mpsc::channel::<()>();
    let (exit, wait) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let pool = &pool;
        let worker = s.spawn(move || {
            drop((0..4).map(|_| pool.get()).collect::<Vec<_>>());
            filled.send(()).unwrap();
            wait.recv().unwrap();
        });
        fill.recv().unwrap();
        assert_eq!(pool.drain_thread_caches(), 4);
        exit.send(()).unwrap();
        worker.join().unwrap();
    });
    // The orphan (claimed DRAINED) is reclaimed here: no index again.
    assert_eq!(pool.stats().cached, 0);
    assert_all_back(&pool);
}

/// The same stale count at the pool's close: the handle drops while this
/// thread's drained magazine is still `DRAINED`, and an owned buffer keeps
/// the pool's memory alive; every index must come out once through it.
#[test]
fn closing_after_a_drain_gives_back_nothing_twice() {
    let pool = cached_pool(8, 8);
    let keep = pool.get_owned();
    drop((0..3).map(|_| pool.get_owned()).collect::<Vec<_>>());
    assert!(pool.drain_thread_caches() > 0);
    drop(pool);
    let taken = take_each_once(keep.pool());
    assert_eq!(taken.len(), 7, "every buffer but the one held");
    assert!(!taken.contains(&keep.index()));
}
