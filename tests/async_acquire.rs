//! The async acquire under tokio: 1,000 tasks share 4 indices of an
//! [`IndexRing`] through [`Acquire`] and [`WaitList::release`], on a
//! current-thread and on a multi-thread runtime, with and without
//! cancellations. Every task must finish, no index may have two holders,
//! and afterwards every index is free exactly once and nobody is queued.
#![cfg(not(loom))]

use iobuf_pool::sync::{Acquire, IndexRing, Source, WaitList};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const TASKS: usize = 1000;
const BUFFERS: usize = 4;

/// Four "buffers": their free list, their wait list, and who holds them.
struct Shared {
    ring: IndexRing,
    waiters: WaitList,
    held: Vec<AtomicBool>,
    /// Completed acquisitions.
    served: AtomicUsize,
    /// Futures dropped before they completed.
    cancelled: AtomicUsize,
}

impl Source for Shared {
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

impl Shared {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            ring: IndexRing::full(BUFFERS).unwrap(),
            waiters: WaitList::new(),
            held: (0..BUFFERS).map(|_| AtomicBool::new(false)).collect(),
            served: AtomicUsize::new(0),
            cancelled: AtomicUsize::new(0),
        })
    }

    fn hold(&self, index: usize) {
        assert!(
            !self.held[index].swap(true, Ordering::SeqCst),
            "index {index} has two holders"
        );
        self.served.fetch_add(1, Ordering::SeqCst);
    }

    fn give_back(&self, index: usize) {
        assert!(self.held[index].swap(false, Ordering::SeqCst));
        self.waiters.release(self, index);
    }

    fn check_all_back(&self, served_at_least: usize) {
        assert!(!self.waiters.has_waiters(), "a waiter is still queued");
        assert_eq!(self.waiters.waiters(), 0);
        let mut free: Vec<usize> = std::iter::from_fn(|| self.ring.pop()).collect();
        free.sort_unstable();
        assert_eq!(
            free,
            (0..BUFFERS).collect::<Vec<_>>(),
            "indices lost or duplicated"
        );
        assert!(self.held.iter().all(|h| !h.load(Ordering::SeqCst)));
        assert!(self.served.load(Ordering::SeqCst) >= served_at_least);
    }
}

/// Takes an index, holds it across a yield (so others must wait), returns it.
async fn use_once(shared: Arc<Shared>) {
    let index = Acquire::new(Arc::clone(&shared)).await;
    shared.hold(index);
    tokio::task::yield_now().await;
    shared.give_back(index);
}

async fn thousand_tasks() {
    let shared = Shared::new();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| tokio::spawn(use_once(Arc::clone(&shared))))
        .collect();
    for t in tasks {
        t.await.expect("a task panicked");
    }
    shared.check_all_back(TASKS);
    assert_eq!(shared.served.load(Ordering::SeqCst), TASKS);
}

#[test]
fn thousand_tasks_four_buffers_current_thread() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), thousand_tasks()).await })
        .expect("tasks hung: a lost wake-up");
}

#[test]
fn thousand_tasks_four_buffers_multi_thread() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), thousand_tasks()).await })
        .expect("tasks hung: a lost wake-up");
}

/// Each task races its acquire against a yield (`select!` drops whichever
/// loses, including an acquire that was already handed an index) or a
/// short timeout, until it gets an index; holders keep it for a moment so
/// that returns happen while futures are being dropped.
async fn cancelling_tasks(timeouts: bool) {
    let shared = Shared::new();
    let tasks: Vec<_> = (0..TASKS)
        .map(|n| {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let index = loop {
                    let acquire = Acquire::new(Arc::clone(&shared));
                    let got = if timeouts {
                        let wait = Duration::from_micros(50 + (n as u64 % 7) * 100);
                        tokio::time::timeout(wait, acquire).await.ok()
                    } else {
                        tokio::select! {
                            i = acquire => Some(i),
                            _ = tokio::task::yield_now() => None,
                        }
                    };
                    match got {
                        Some(i) => break i,
                        None => {
                            shared.cancelled.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                };
                shared.hold(index);
                if timeouts {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                } else {
                    tokio::task::yield_now().await;
                }
                shared.give_back(index);
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a task panicked");
    }
    shared.check_all_back(TASKS);
    assert!(
        shared.cancelled.load(Ordering::SeqCst) > 0,
        "no future was cancelled: the test did not exercise cancellation"
    );
}

fn run_cancelling(multi_thread: bool, timeouts: bool) {
    let rt = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_time()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
    }
    .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), cancelling_tasks(timeouts)).await
    })
    .expect("tasks hung: a lost wake-up or a lost index");
}

#[test]
fn cancelled_by_select_current_thread() {
    run_cancelling(false, false);
}

#[test]
fn cancelled_by_select_multi_thread() {
    run_cancelling(true, false);
}

#[test]
fn cancelled_by_timeout_current_thread() {
    run_cancelling(false, true);
}

#[test]
fn cancelled_by_timeout_multi_thread() {
    run_cancelling(true, true);
}

/// A waiter handed an index and dropped before it runs again passes the
/// index to the next waiter: with one index, two queued waiters, and the
/// first one aborted after the return, the second still gets it.
#[test]
fn an_aborted_waiter_passes_its_index_on() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let shared = Shared::new();
        let mut all: Vec<usize> = (0..BUFFERS).map(|_| shared.ring.pop().unwrap()).collect();
        for &i in &all {
            shared.hold(i);
        }
        let first = tokio::spawn(Acquire::new(Arc::clone(&shared)));
        tokio::task::yield_now().await;
        let second = tokio::spawn(Acquire::new(Arc::clone(&shared)));
        tokio::task::yield_now().await;
        assert_eq!(shared.waiters.waiters(), 2);
        let returned = all.pop().unwrap();
        shared.give_back(returned);
        // `first` was handed the index and woken, but has not run yet.
        assert_eq!(shared.waiters.waiters(), 1);
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled());
        assert_eq!(second.await.unwrap(), returned);
        shared.hold(returned);
        all.push(returned);
        for i in all {
            shared.give_back(i);
        }
        shared.check_all_back(BUFFERS + 1);
    });
}

/// The same on a real [`iobuf_pool::BufferPool`]: 1,000 tasks share its 4
/// buffers through `acquire_owned` (spawned tasks need `'static`), some
/// cancelled by a timeout, while other returns come from `try_get` guards
/// and raw tokens (every return path notifies). Checks exclusive holding,
/// that every task finishes, and that every buffer comes back with nobody
/// left waiting.
mod real_pool {
    use iobuf_pool::{BufferPool, Tier};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    struct Ledger {
        held: Vec<AtomicBool>,
        served: AtomicUsize,
    }

    async fn run(pool: Arc<BufferPool>, ledger: Arc<Ledger>) {
        let mut tasks = Vec::new();
        for t in 0..super::TASKS {
            let (pool, ledger) = (pool.clone(), ledger.clone());
            tasks.push(tokio::spawn(async move {
                let acquire = pool.acquire_owned();
                let mut buf = if t % 7 == 3 {
                    // Some give up waiting; a buffer handed to a dropped
                    // future passes on.
                    match tokio::time::timeout(Duration::from_micros(50), acquire).await {
                        Ok(b) => b,
                        Err(_) => return,
                    }
                } else {
                    acquire.await
                };
                let i = buf.index();
                assert!(!ledger.held[i].swap(true, Ordering::SeqCst), "two holders");
                buf.clear();
                buf.extend_from_slice_checked(&(t as u32).to_le_bytes())
                    .unwrap();
                tokio::task::yield_now().await;
                assert_eq!(&buf[..], &(t as u32).to_le_bytes());
                ledger.served.fetch_add(1, Ordering::SeqCst);
                assert!(ledger.held[i].swap(false, Ordering::SeqCst));
                match t % 3 {
                    0 => drop(buf),
                    1 => pool.put_raw(buf.into_raw()).unwrap(),
                    _ => {
                        // Through a borrowed guard's drop.
                        let raw = buf.into_raw();
                        drop(pool.guard(raw).unwrap());
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    }

    fn check(multi_thread: bool) {
        let pool = Arc::new(BufferPool::new(Tier::Pico, super::BUFFERS).unwrap());
        let ledger = Arc::new(Ledger {
            held: (0..super::BUFFERS)
                .map(|_| AtomicBool::new(false))
                .collect(),
            served: AtomicUsize::new(0),
        });
        let rt = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .enable_time()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
        }
        .unwrap();
        rt.block_on(run(pool.clone(), ledger.clone()));
        let not_cancelled = (0..super::TASKS).filter(|t| t % 7 != 3).count();
        assert!(ledger.served.load(Ordering::SeqCst) >= not_cancelled);
        let stats = pool.stats();
        assert_eq!((stats.in_use, stats.waiters), (0, 0));
        // The workers' thread caches may hold some: a try_get does not
        // take them from other threads, a drain does.
        pool.drain_thread_caches();
        let all: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
        let mut idx: Vec<usize> = all.iter().map(|b| b.index()).collect();
        idx.sort_unstable();
        assert_eq!(idx, (0..super::BUFFERS).collect::<Vec<_>>());
    }

    #[test]
    fn thousand_tasks_four_pool_buffers_current_thread() {
        check(false);
    }

    #[test]
    fn thousand_tasks_four_pool_buffers_multi_thread() {
        check(true);
    }

    /// A borrowed `acquire()` in one task is served by a return from a
    /// blocking thread's guard.
    #[test]
    fn borrowed_acquire_is_woken_by_a_return_on_another_thread() {
        let pool: &'static BufferPool = BufferPool::new(Tier::Pico, 1).unwrap().leak();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let held = pool.get();
        let i = held.index();
        let returner = std::thread::spawn(move || {
            while pool.stats().waiters == 0 {
                std::thread::yield_now();
            }
            drop(held);
        });
        let got = rt.block_on(pool.acquire());
        assert_eq!(got.index(), i);
        returner.join().unwrap();
    }
}

/// An `acquire_owned` future keeps the pool's memory alive like an owned
/// buffer: the pool's handle drops while it waits on a worker thread, and
/// a return from another task serves it; with a thread cache (whose close
/// takes the workers' stocks back) and without one.
#[test]
fn an_owned_acquire_outlives_the_pool_handle() {
    for cache in [0, 2] {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let pool = iobuf_pool::BufferPool::builder(iobuf_pool::Tier::Pico, 8)
            .thread_cache(cache)
            .build()
            .unwrap();
        rt.block_on(async move {
            let held: Vec<_> = (0..8).map(|_| pool.get_owned()).collect();
            let waiter = tokio::spawn(pool.acquire_owned());
            while pool.stats().waiters == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            drop(pool);
            tokio::spawn(async move { drop(held) }).await.unwrap();
            let buf = waiter.await.unwrap();
            assert_eq!(buf.pool().capacity(), 8, "cache {cache}");
            assert!(buf.pool().stats().in_use >= 1);
        });
    }
}
