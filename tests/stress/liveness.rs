//! Liveness: no deadlock, no stall, no double hand-out and no loss when
//! the pool's features meet (thread caches, the async wait list, blocking
//! and timed gets, batches, thread churn, cancelled futures, several pools
//! per thread).
//!
//! Two parts:
//!
//! * reproducers of the defects that an outside review found (each failed
//!   before its fix, and each runs under a watchdog, so a deadlock fails
//!   the test instead of hanging CI);
//! * a randomised, seeded stress with exactly-once ledgers that fails on
//!   any stall: no operation completed for `STALL` while the pools hold
//!   free buffers. Its short form runs in `cargo test`; the long form is
//!   `IOBUF_LIVENESS_SECS=600 cargo test --release --test stress liveness -- --nocapture`
//!   (the volume it reports is in the closing note of the round that ran it).

use super::common::Rng;
use iobuf_pool::{BufferPool, PooledBuf, Tier};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `f` on its own thread and fails the test if it has not finished
/// within `limit` (a deadlock would otherwise hang the test binary).
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => panic!("{what}: no progress within {limit:?} (deadlock)"),
    }
}

/// A waker that counts its wakes.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_once<F: Future + Unpin>(f: &mut F, w: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(w))
}

/// Takes every buffer the calling thread can get and checks that each index
/// comes out once and that none is missing.
fn assert_all_back(pool: &BufferPool) {
    let held: Vec<PooledBuf<'_>> = std::iter::from_fn(|| pool.try_get()).collect();
    let distinct: HashSet<usize> = held.iter().map(PooledBuf::index).collect();
    assert_eq!(distinct.len(), held.len(), "an index came out twice");
    assert_eq!(held.len(), pool.capacity(), "buffers are missing");
}

/// A thread-cached pool whose ring the calling thread has drained (the
/// guards are returned), and a worker thread whose magazine caches the
/// other half; the worker exits when `exit` is called: the state of the
/// review's deadlock (a waiter, an exited thread's magazine, then a take
/// inside the wait list's serving loop that reclaims it).
fn pool_with_a_cache_about_to_be_orphaned(
) -> (Arc<BufferPool>, Vec<iobuf_pool::OwnedBuf>, impl FnOnce()) {
    // Budget: half of 8. The worker's magazine takes all 4 of it, so the
    // calling thread's gets go straight to the ring.
    let pool = Arc::new(
        BufferPool::builder(Tier::Pico, 8)
            .thread_cache(4)
            .build()
            .unwrap(),
    );
    let (cached_tx, cached_rx) = mpsc::channel::<()>();
    let (exit_tx, exit_rx) = mpsc::channel::<()>();
    let worker = {
        let pool = Arc::clone(&pool);
        thread::spawn(move || {
            let mine: Vec<_> = (0..4).map(|_| pool.get()).collect();
            drop(mine); // into this thread's magazine
            cached_tx.send(()).unwrap();
            exit_rx.recv().unwrap();
        })
    };
    cached_rx.recv().unwrap();
    let held: Vec<_> = std::iter::from_fn(|| pool.try_get_owned()).collect();
    assert!(
        !held.is_empty() && held.len() <= 4,
        "the worker's cache holds the rest"
    );
    let exit = move || {
        exit_tx.send(()).unwrap();
        worker.join().unwrap();
    };
    (pool, held, exit)
}

/// Review item 1: a return from a thread that never used the pool, while
/// a task waits and an exited thread's magazine holds buffers. The return's
/// serving loop takes an index; on a thread-cached pool that take reclaims
/// the orphaned magazine and notifies the wait list, whose lock the loop
/// held: a deadlock before the fix.
#[test]
fn a_return_from_a_new_thread_with_an_orphan_and_a_waiter_does_not_deadlock() {
    within(Duration::from_secs(20), "return with an orphan", || {
        let (pool, mut held, exit) = pool_with_a_cache_about_to_be_orphaned();
        let waker = Waker::from(Arc::new(Count::default()));
        let mut waiter = pool.acquire_owned();
        let got = match poll_once(&mut waiter, &waker) {
            Poll::Ready(buf) => {
                exit();
                buf
            }
            Poll::Pending => {
                exit();
                // A thread that never used the pool gives one back.
                let back = held.pop().unwrap();
                thread::spawn(move || drop(back)).join().unwrap();
                match poll_once(&mut waiter, &waker) {
                    Poll::Ready(buf) => buf,
                    Poll::Pending => panic!("the waiter was not served"),
                }
            }
        };
        drop((got, held, waiter));
        assert_all_back(&pool);
    });
}

/// Review item 1, second trigger: a new `acquire()` polled while one task
/// waits, with an exited thread's magazine pending.
#[test]
fn a_second_waiter_with_an_orphan_does_not_deadlock() {
    within(
        Duration::from_secs(20),
        "second waiter with an orphan",
        || {
            let (pool, held, exit) = pool_with_a_cache_about_to_be_orphaned();
            let waker = Waker::from(Arc::new(Count::default()));
            let mut first = pool.acquire_owned();
            let first_early = poll_once(&mut first, &waker);
            exit();
            // The second waiter's look after queueing takes an index, which
            // reclaims the orphan and notifies.
            let mut second = pool.acquire_owned();
            let b = poll_once(&mut second, &waker);
            let a = match first_early {
                Poll::Ready(a) => a,
                Poll::Pending => match poll_once(&mut first, &waker) {
                    Poll::Ready(a) => a,
                    Poll::Pending => panic!("first waiter not served"),
                },
            };
            let b = match b {
                Poll::Ready(b) => b,
                Poll::Pending => match poll_once(&mut second, &waker) {
                    Poll::Ready(b) => b,
                    Poll::Pending => panic!("second waiter not served"),
                },
            };
            assert_ne!(a.index(), b.index());
            drop((a, b, held, first, second));
            assert_all_back(&pool);
        },
    );
}

/// Review item 5: a queued `acquire()` future that is forgotten
/// (`mem::forget`) swallowed the next buffer anyone returned, for ever. Now
/// the hand-over is taken back by the next dry get once its grace
/// (`UNCOLLECTED_GRACE`) is over: blocking, timed, try and async gets all
/// get the buffer.
#[test]
fn a_forgotten_queued_acquire_does_not_swallow_a_buffer() {
    for cache in [0, 4] {
        let pool = Arc::new(
            BufferPool::builder(Tier::Pico, 2)
                .thread_cache(cache)
                .build()
                .unwrap(),
        );
        let held: Vec<_> = std::iter::from_fn(|| pool.try_get_owned()).collect();
        assert_eq!(held.len(), 2);
        let waker = Waker::from(Arc::new(Count::default()));
        let mut forgotten = pool.acquire_owned();
        assert!(poll_once(&mut forgotten, &waker).is_pending());
        std::mem::forget(forgotten);
        let mut held = held;
        drop(held.pop()); // handed to the forgotten future
                          // A blocking get with a timeout finds it after the grace.
        let got = pool
            .get_owned_timeout(Duration::from_secs(2))
            .expect("the forgotten future's buffer came back");
        drop(got);
        // The same through an async waiter that queues behind a forgotten one.
        let mut forgotten = pool.acquire_owned();
        let Poll::Ready(one) = poll_once(&mut pool.acquire_owned(), &waker) else {
            panic!("a free buffer is there");
        };
        assert!(poll_once(&mut forgotten, &waker).is_pending());
        std::mem::forget(forgotten);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let late = pool.acquire_owned();
        drop(held.pop()); // to the forgotten future
        let got = rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), late).await });
        let got = got.expect("an async waiter behind a forgotten future is served");
        drop((got, one));
        thread::sleep(iobuf_pool::sync::UNCOLLECTED_GRACE);
        assert_all_back(&pool);
    }
}

/// Review item 6: a batch get asked for more than can ever be reserved
/// still takes what the pool has.
#[test]
fn a_huge_batch_request_takes_what_there_is() {
    for pool in [
        BufferPool::new(Tier::Pico, 8).unwrap(),
        BufferPool::builder(Tier::Pico, 8)
            .thread_cache(4)
            .build()
            .unwrap(),
    ] {
        let mut out = Vec::new();
        assert_eq!(pool.try_get_many(&mut out, usize::MAX), 8);
        assert_eq!(out.len(), 8);
        drop(out);
        assert_all_back(&pool);
    }
}

// ---------------------------------------------------------------------------
// The randomised liveness stress.
// ---------------------------------------------------------------------------

/// No completed operation for this long while buffers are free is a stall.
const STALL: Duration = Duration::from_secs(10);

/// One pool under test with its exactly-once ledger: a flag per index,
/// set while some holder owns it.
struct Tracked {
    pool: Arc<BufferPool>,
    owned: Vec<AtomicBool>,
}

impl Tracked {
    fn new(pool: BufferPool) -> Arc<Self> {
        let owned = (0..pool.capacity())
            .map(|_| AtomicBool::new(false))
            .collect();
        Arc::new(Tracked {
            pool: Arc::new(pool),
            owned,
        })
    }
    /// Records that `index` was handed to a holder: it must have been free.
    fn take(&self, index: usize, stamp: u8, bytes: &mut [u8]) {
        assert!(
            !self.owned[index].swap(true, Ordering::SeqCst),
            "index {index} handed out twice"
        );
        bytes[0] = stamp;
    }
    /// Records that the holder gives `index` back: it must have held it.
    fn give(&self, index: usize, stamp: u8, bytes: &[u8]) {
        assert_eq!(bytes[0], stamp, "index {index} written by another holder");
        assert!(
            self.owned[index].swap(false, Ordering::SeqCst),
            "index {index} given back twice"
        );
    }
}

struct Shared {
    pools: Vec<Arc<Tracked>>,
    progress: AtomicU64,
    stop: AtomicBool,
    threads_exited: AtomicU64,
    forgotten: AtomicU64,
}

impl Shared {
    fn done(&self) {
        self.progress.fetch_add(1, Ordering::Relaxed);
    }
}

/// Holds `buf` for a moment (a short spin or a yield), checking ownership.
fn hold(t: &Tracked, mut buf: iobuf_pool::OwnedBuf, rng: &mut Rng) {
    let stamp = rng.next() as u8;
    t.take(buf.index(), stamp, buf.as_full_mut());
    if rng.below(8) == 0 {
        thread::yield_now();
    }
    t.give(buf.index(), stamp, buf.as_full());
}

fn hold_borrowed(t: &Tracked, mut buf: PooledBuf<'_>, rng: &mut Rng) {
    let stamp = rng.next() as u8;
    t.take(buf.index(), stamp, buf.as_full_mut());
    t.give(buf.index(), stamp, buf.as_full());
}

/// One worker thread's operations until `stop`: a random mix over random
/// pools of blocking, timed, try and batch gets, flushes, and short-lived
/// threads that use a pool and exit (their caches become orphans).
fn sync_worker(shared: Arc<Shared>, seed: u64) -> u64 {
    let mut rng = Rng::seeded(seed);
    let mut ops = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let t = &shared.pools[rng.below(shared.pools.len())];
        match rng.below(10) {
            0..=2 => {
                let buf = t.pool.get_owned();
                hold(t, buf, &mut rng);
            }
            3 => {
                if let Some(buf) = t.pool.get_owned_timeout(Duration::from_millis(5)) {
                    hold(t, buf, &mut rng);
                }
            }
            4 => {
                if let Some(buf) = t.pool.try_get() {
                    hold_borrowed(t, buf, &mut rng);
                }
            }
            5 => {
                let mut bufs = Vec::with_capacity(8);
                let n = 1 + rng.below(6);
                t.pool.try_get_many(&mut bufs, n);
                let stamp = rng.next() as u8;
                for b in &mut bufs {
                    t.take(b.index(), stamp, b.as_full_mut());
                }
                for b in &bufs {
                    t.give(b.index(), stamp, b.as_full());
                }
                t.pool.put_many(bufs);
            }
            6 => t.pool.flush_thread_cache(),
            7 => {
                // Thread churn: a thread that uses one or two pools and
                // exits, leaving whatever its caches hold.
                let (a, b) = (
                    Arc::clone(t),
                    Arc::clone(&shared.pools[rng.below(shared.pools.len())]),
                );
                let mut r = Rng::seeded(rng.next());
                thread::spawn(move || {
                    for _ in 0..1 + r.below(4) {
                        let buf = a.pool.get_owned();
                        hold(&a, buf, &mut r);
                        if let Some(buf) = b.pool.try_get_owned() {
                            hold(&b, buf, &mut r);
                        }
                    }
                })
                .join()
                .unwrap();
                shared.threads_exited.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                // Hold one while taking another of a second pool (several
                // pools per thread, interleaved).
                let first = t.pool.get_owned();
                let u = &shared.pools[rng.below(shared.pools.len())];
                let stamp = rng.next() as u8;
                let mut first = first;
                t.take(first.index(), stamp, first.as_full_mut());
                if let Some(second) = u.pool.get_owned_timeout(Duration::from_millis(2)) {
                    hold(u, second, &mut rng);
                }
                t.give(first.index(), stamp, first.as_full());
            }
        }
        ops += 1;
        shared.done();
    }
    ops
}

/// Async tasks on a runtime: acquires, acquires cancelled by a timeout,
/// and acquires raced against a sleep (dropped whichever way it went).
async fn async_worker(shared: Arc<Shared>, seed: u64) -> u64 {
    let mut rng = Rng::seeded(seed);
    let mut ops = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let t = Arc::clone(&shared.pools[rng.below(shared.pools.len())]);
        match rng.below(5) {
            0 | 1 => {
                let buf = t.pool.acquire_owned().await;
                hold(&t, buf, &mut rng);
            }
            4 if rng.below(8) == 0 => {
                // A future polled once, then forgotten: if it was queued,
                // the next return is handed to it and must be taken back.
                let mut f = t.pool.acquire_owned();
                let waker = Waker::from(Arc::new(Count::default()));
                match poll_once(&mut f, &waker) {
                    Poll::Ready(buf) => hold(&t, buf, &mut rng),
                    Poll::Pending => {
                        std::mem::forget(f);
                        shared.forgotten.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            2 => {
                let got =
                    tokio::time::timeout(Duration::from_micros(200), t.pool.acquire_owned()).await;
                if let Ok(buf) = got {
                    hold(&t, buf, &mut rng);
                }
            }
            _ => {
                let buf = t.pool.acquire_owned().await;
                // Hold across an await point, so the buffer moves between
                // worker threads on a multi-thread runtime.
                let stamp = rng.next() as u8;
                let mut buf = buf;
                t.take(buf.index(), stamp, buf.as_full_mut());
                tokio::task::yield_now().await;
                t.give(buf.index(), stamp, buf.as_full());
            }
        }
        ops += 1;
        shared.done();
    }
    ops
}

fn liveness_pools(rng: &mut Rng) -> Vec<Arc<Tracked>> {
    let mut pools = Vec::new();
    for k in 0..4 {
        let capacity = 2 + rng.below(14);
        let pool = match k % 2 {
            0 => BufferPool::builder(Tier::Pico, capacity)
                .thread_cache(1 + rng.below(8))
                .build()
                .unwrap(),
            _ => BufferPool::builder(Tier::Pico, capacity)
                .thread_cache(0)
                .build()
                .unwrap(),
        };
        pools.push(Tracked::new(pool));
    }
    pools
}

/// One run of the stress for `secs` with `seed`; returns (operations,
/// threads that exited).
fn liveness_run(seed: u64, duration: Duration) -> (u64, u64, u64) {
    let mut rng = Rng::seeded(seed);
    let shared = Arc::new(Shared {
        pools: liveness_pools(&mut rng),
        progress: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        threads_exited: AtomicU64::new(0),
        forgotten: AtomicU64::new(0),
    });
    let mut handles = Vec::new();
    for k in 0..3 {
        let (s, seed) = (Arc::clone(&shared), rng.next());
        handles.push(thread::spawn(move || {
            let _ = k;
            sync_worker(s, seed)
        }));
    }
    // A current-thread runtime with several tasks, and a multi-thread one.
    {
        let (s, seed) = (Arc::clone(&shared), rng.next());
        handles.push(thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(async move {
                let tasks: Vec<_> = (0..3)
                    .map(|k| tokio::spawn(async_worker(Arc::clone(&s), seed ^ k)))
                    .collect();
                let mut total = 0;
                for t in tasks {
                    total += t.await.unwrap();
                }
                total
            })
        }));
    }
    {
        let (s, seed) = (Arc::clone(&shared), rng.next());
        handles.push(thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(async move {
                let tasks: Vec<_> = (0..4)
                    .map(|k| tokio::spawn(async_worker(Arc::clone(&s), seed ^ (k + 17))))
                    .collect();
                let mut total = 0;
                for t in tasks {
                    total += t.await.unwrap();
                }
                total
            })
        }));
    }
    // The watchdog: progress must move while any pool has a free buffer.
    let start = Instant::now();
    let mut last = (shared.progress.load(Ordering::Relaxed), Instant::now());
    while start.elapsed() < duration {
        thread::sleep(Duration::from_millis(50));
        let now = shared.progress.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > STALL {
            let stats: Vec<_> = shared.pools.iter().map(|t| t.pool.stats()).collect();
            panic!("seed {seed:#x}: no operation completed for {STALL:?}; pools: {stats:#?}");
        }
    }
    shared.stop.store(true, Ordering::SeqCst);
    // Waiters blocked on a dry pool finish as others return: bounded.
    let ops: u64 = within(STALL * 2, "workers stopping", move || {
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    for t in &shared.pools {
        assert!(
            t.owned.iter().all(|o| !o.load(Ordering::SeqCst)),
            "a holder never gave back"
        );
        // Forgotten futures still queued get the next returns, which come
        // back after their grace: cycle every buffer until none is queued.
        for _ in 0..100 {
            if t.pool.stats().waiters == 0 {
                break;
            }
            thread::sleep(iobuf_pool::sync::UNCOLLECTED_GRACE);
            let all: Vec<_> = std::iter::from_fn(|| t.pool.try_get()).collect();
            drop(all);
        }
        assert_eq!(
            t.pool.stats().waiters,
            0,
            "queued forgotten futures were never served"
        );
        thread::sleep(iobuf_pool::sync::UNCOLLECTED_GRACE);
        assert_all_back(&t.pool);
    }
    (
        ops,
        shared.threads_exited.load(Ordering::Relaxed),
        shared.forgotten.load(Ordering::Relaxed),
    )
}

/// The short form (a few seconds in `cargo test`); `IOBUF_LIVENESS_SECS`
/// sets the long form's length, `IOBUF_LIVENESS_SEED` a seed to replay.
#[test]
fn liveness_stress() {
    let secs: u64 = std::env::var("IOBUF_LIVENESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let seed: u64 = std::env::var("IOBUF_LIVENESS_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    // Several seeds per run: each run is at most 30 s, so a long form is
    // many runs with fresh pools (and a failure names a short replay).
    let deadline = Instant::now() + Duration::from_secs(secs);
    let (mut ops, mut exits, mut forgotten, mut runs) = (0, 0, 0, 0u64);
    let mut rng = Rng::seeded(seed);
    while Instant::now() < deadline || runs == 0 {
        let s = rng.next();
        let left = deadline.saturating_duration_since(Instant::now());
        let (o, e, f) = liveness_run(
            s,
            left.clamp(Duration::from_secs(1), Duration::from_secs(30)),
        );
        ops += o;
        forgotten += f;
        exits += e;
        runs += 1;
    }
    eprintln!(
        "liveness: seed {seed:#x}: {runs} runs, {ops} operations, {exits} thread exits, \
         {forgotten} forgotten futures"
    );
    assert!(ops > 0);
}
