//! The pools under contention: guards, batches, returns from other threads,
//! raw tokens, blocking gets, caches, typed and generic pools.

use super::common::*;
use iobuf_pool::tiers::PicoBufferPool;
use iobuf_pool::{BoundedPool, BufferPool, LocalCache, PooledBuf, Tier};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

/// The exactly-once checker and the last stamp written to every index.
struct Ledger {
    held: Vec<AtomicBool>,
    /// What the last holder left in the buffer, published before the return.
    last_stamp: Vec<AtomicU64>,
    /// Stamps are never reused, so a stale buffer is told apart.
    next_stamp: AtomicU64,
}

impl Ledger {
    fn new(capacity: usize) -> Self {
        Ledger {
            held: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            last_stamp: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            next_stamp: AtomicU64::new(1),
        }
    }

    /// Records a get of `index` whose bytes are `bytes`, then stamps them.
    /// Returns the stamp to check before the return.
    fn took(&self, index: usize, bytes: &mut [u8]) -> u64 {
        assert!(
            !self.held[index].swap(true, Ordering::AcqRel),
            "index {index} handed out while still held"
        );
        // Relaxed is enough: the pool's return/get pair orders this load
        // after the previous holder's store, which is what is under test.
        let previous = self.last_stamp[index].load(Ordering::Relaxed);
        check_stamp(
            bytes,
            previous,
            index,
            "at get: the last holder's bytes are not visible",
        );
        let stamp = self.next_stamp.fetch_add(1, Ordering::Relaxed);
        fill_stamp(bytes, stamp);
        stamp
    }

    /// Checks the holder's stamp is intact and records the return.
    fn giving_back(&self, index: usize, bytes: &[u8], stamp: u64) {
        check_stamp(
            bytes,
            stamp,
            index,
            "before return: written by someone else",
        );
        self.last_stamp[index].store(stamp, Ordering::Relaxed);
        assert!(
            self.held[index].swap(false, Ordering::AcqRel),
            "index {index} returned while not held"
        );
    }

    /// Every index came back: `drained` holds each exactly once and no flag
    /// is left set.
    fn all_back(&self, mut drained: Vec<usize>) {
        drained.sort_unstable();
        let expected: Vec<usize> = (0..self.held.len()).collect();
        assert_eq!(drained, expected, "indices lost or duplicated");
        for (i, h) in self.held.iter().enumerate() {
            assert!(!h.load(Ordering::Relaxed), "index {i} still marked held");
        }
    }
}

/// Stamps the first and last 8 bytes (all of a 32-byte buffer twice over
/// is needless; the ends catch overlapping holders as well).
fn fill_stamp(bytes: &mut [u8], stamp: u64) {
    let n = bytes.len();
    let s = stamp.to_le_bytes();
    bytes[..8].copy_from_slice(&s);
    bytes[n - 8..].copy_from_slice(&(!stamp).to_le_bytes());
}

fn check_stamp(bytes: &[u8], stamp: u64, index: usize, what: &str) {
    let n = bytes.len();
    let head = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    let tail = u64::from_le_bytes(bytes[n - 8..].try_into().unwrap());
    // A fresh slab is zeroed: stamp 0 means "never held", whose tail is 0.
    let want_tail = if stamp == 0 { 0 } else { !stamp };
    assert!(
        head == stamp && tail == want_tail,
        "index {index}: {what} (want stamp {stamp}, found {head}/{})",
        !tail
    );
}

/// A buffer in someone's hands, with the stamp its holder wrote.
struct Held<'a> {
    buf: PooledBuf<'a>,
    stamp: u64,
}

fn take<'a>(ledger: &Ledger, mut buf: PooledBuf<'a>) -> Held<'a> {
    let stamp = ledger.took(buf.index(), buf.as_full_mut());
    Held { buf, stamp }
}

fn give_back(ledger: &Ledger, held: Held<'_>) {
    ledger.giving_back(held.buf.index(), held.buf.as_full(), held.stamp);
    drop(held.buf);
}

fn put_in_cache<'p>(ledger: &Ledger, cache: &mut LocalCache<'p>, held: Held<'p>) {
    ledger.giving_back(held.buf.index(), held.buf.as_full(), held.stamp);
    cache.put(held.buf);
}

fn drain(pool: &BufferPool) -> Vec<usize> {
    // Blocking gets with a bound, not `try_get`: a scoped thread's
    // thread-local destructors (which hand its cache back) may still run
    // after the scope returns, and a waiting get reclaims or drains what
    // other threads' caches hold; `try_get` never waits for that.
    let mut bufs: Vec<PooledBuf<'_>> = Vec::with_capacity(pool.capacity());
    while bufs.len() < pool.capacity() {
        match pool.get_timeout(Duration::from_secs(5)) {
            Some(b) => bufs.push(b),
            None => break,
        }
    }
    bufs.extend(std::iter::from_fn(|| pool.try_get()));
    bufs.iter().map(PooledBuf::index).collect()
}

/// Every thread holds up to three buffers at a time (blocking `get` only
/// while it holds none, so it never waits on itself), returns them in
/// random order, and each capacity and thread count is covered, with the
/// reuse slot (`new`) and without it (`reuse_slot(false)`).
#[test]
fn guards_are_exclusive_and_all_come_back() {
    for (capacity, threads, make) in pool_cases() {
        with_deadline("guards", move || {
            let pool = make(Tier::Pico, capacity).unwrap();
            let ledger = Ledger::new(capacity);
            let ops = total_ops() / threads;
            let start = Barrier::new(threads);
            thread::scope(|s| {
                let workers: Vec<_> = (0..threads)
                    .map(|t| {
                        let (pool, ledger, start) = (&pool, &ledger, &start);
                        s.spawn(move || {
                            start.wait();
                            let mut rng = Rng::new(t);
                            let mut mine: Vec<Held<'_>> = Vec::new();
                            for _ in 0..ops {
                                if mine.is_empty() {
                                    mine.push(take(ledger, pool.get()));
                                } else if mine.len() < 3 && rng.below(2) == 0 {
                                    if let Some(b) = pool.try_get() {
                                        mine.push(take(ledger, b));
                                    }
                                } else {
                                    let k = rng.below(mine.len());
                                    give_back(ledger, mine.swap_remove(k));
                                }
                            }
                            for h in mine {
                                give_back(ledger, h);
                            }
                        })
                    })
                    .collect();
                join_all(workers);
            });
            ledger.all_back(drain(&pool));
        });
    }
}

/// How a case builds its pool.
type Make = fn(Tier, usize) -> Result<BufferPool, iobuf_pool::Error>;

/// With the reuse slot, without it, and with a thread cache of 4 and of 64
/// (the cache's budget, half the pool, cuts those for small capacities).
#[cfg(not(miri))]
const MAKERS: [Make; 4] = [
    BufferPool::new,
    |t, c| {
        BufferPool::builder(t, c)
            .thread_cache(0)
            .reuse_slot(false)
            .build()
    },
    |t, c| BufferPool::builder(t, c).thread_cache(4).build(),
    |t, c| BufferPool::builder(t, c).thread_cache(64).build(),
];
/// Under Miri (about 10^4 times slower): the pool as users get it, and one
/// with a thread cache (at capacities 1 and 3 its budget makes a cache of
/// 0 or 1, both edge cases of the magazine).
#[cfg(miri)]
const MAKERS: [Make; 2] = [BufferPool::new, |t, c| {
    BufferPool::builder(t, c).thread_cache(4).build()
}];

/// Every capacity × thread count × pool maker.
fn pool_cases() -> impl Iterator<Item = (usize, usize, Make)> {
    CAPACITIES.into_iter().flat_map(|capacity| {
        thread_counts()
            .into_iter()
            .flat_map(move |t| MAKERS.map(|m| (capacity, t, m)))
    })
}

/// Joins scoped threads before their scope ends: a join waits for a
/// thread's thread-local destructors (which hand a thread cache back), the
/// end of a scope does not.
fn join_all<T>(workers: Vec<thread::ScopedJoinHandle<'_, T>>) {
    for w in workers {
        if let Err(e) = w.join() {
            std::panic::resume_unwind(e);
        }
    }
}

/// The pool's batch calls mixed with single ones: each thread takes a
/// random batch with `try_get_many` (or one buffer with `try_get`), and
/// gives back a random part of what it holds with `put_many` (or drops one),
/// on every pool maker (the thread-cache ones serve batches from the
/// thread's cache first).
#[test]
fn pool_batches_are_exclusive_and_all_come_back() {
    for (capacity, threads, make) in pool_cases() {
        with_deadline("pool batches", move || {
            let pool = make(Tier::Pico, capacity).unwrap();
            let ledger = Ledger::new(capacity);
            let ops = total_ops() / 4 / threads;
            thread::scope(|s| {
                let workers: Vec<_> = (0..threads)
                    .map(|t| {
                        let (pool, ledger) = (&pool, &ledger);
                        s.spawn(move || {
                            let mut rng = Rng::new(t);
                            let mut mine: Vec<Held<'_>> = Vec::new();
                            let mut got = Vec::with_capacity(8);
                            for _ in 0..ops {
                                if mine.len() < 8 && rng.below(2) == 0 {
                                    if rng.below(4) == 0 {
                                        got.extend(pool.try_get());
                                    } else {
                                        let k = 1 + rng.below(8 - mine.len());
                                        pool.try_get_many(&mut got, k);
                                    }
                                    mine.extend(got.drain(..).map(|b| take(ledger, b)));
                                } else if !mine.is_empty() {
                                    let k = 1 + rng.below(mine.len());
                                    let back: Vec<PooledBuf<'_>> = mine
                                        .drain(..k)
                                        .map(|h| {
                                            ledger.giving_back(
                                                h.buf.index(),
                                                h.buf.as_full(),
                                                h.stamp,
                                            );
                                            h.buf
                                        })
                                        .collect();
                                    pool.put_many(back);
                                }
                            }
                            for h in mine {
                                give_back(ledger, h);
                            }
                        })
                    })
                    .collect();
                join_all(workers);
            });
            ledger.all_back(drain(&pool));
        });
    }
}

/// Buffers are returned by a different thread than the one that took them:
/// each thread passes what it takes to the next thread in a circle, which
/// checks and drops it. Takers never block on the pool (a taker blocked
/// while its own mailbox holds the last buffer would wait forever); they
/// empty their mailbox and retry.
#[test]
fn returns_from_other_threads() {
    for (capacity, threads, make) in pool_cases() {
        {
            with_deadline("cross-thread", move || {
                let pool = make(Tier::Pico, capacity).unwrap();
                let ledger = Ledger::new(capacity);
                let ops = total_ops() / threads;
                let (txs, rxs): (Vec<_>, Vec<_>) =
                    (0..threads).map(|_| mpsc::channel::<Held<'_>>()).unzip();
                let finished = AtomicUsize::new(0);
                let start = Barrier::new(threads);
                thread::scope(|s| {
                    let mut workers = Vec::new();
                    for (t, rx) in rxs.into_iter().enumerate() {
                        let tx = txs[(t + 1) % threads].clone();
                        let (pool, ledger, finished) = (&pool, &ledger, &finished);
                        let start = &start;
                        workers.push(s.spawn(move || {
                            start.wait();
                            let drain_mailbox = || {
                                for h in rx.try_iter() {
                                    give_back(ledger, h);
                                }
                            };
                            for _ in 0..ops {
                                let b = loop {
                                    match pool.try_get() {
                                        Some(b) => break b,
                                        None => {
                                            drain_mailbox();
                                            thread::yield_now();
                                        }
                                    }
                                };
                                tx.send(take(ledger, b)).unwrap();
                                drain_mailbox();
                            }
                            drop(tx);
                            // Keep returning what others pass on until every
                            // thread has finished taking.
                            finished.fetch_add(1, Ordering::AcqRel);
                            while finished.load(Ordering::Acquire) < threads {
                                drain_mailbox();
                                thread::yield_now();
                            }
                            drain_mailbox();
                        }));
                    }
                    drop(txs);
                    join_all(workers);
                });
                ledger.all_back(drain(&pool));
            });
        }
    }
}

/// Blocking `get` with far more threads than buffers finishes: every
/// waiter is eventually served, and every buffer is back at the end.
#[test]
fn blocking_get_with_more_threads_than_buffers_finishes() {
    for capacity in [1, 2, 3, 4, 7] {
        let threads = many_threads().max(capacity + 1);
        with_deadline("blocking get", move || {
            let pool = BufferPool::new(Tier::Pico, capacity).unwrap();
            let ledger = Ledger::new(capacity);
            let ops = total_ops() / 4 / threads;
            let served = AtomicUsize::new(0);
            let start = Barrier::new(threads);
            thread::scope(|s| {
                for _ in 0..threads {
                    let (pool, ledger, served) = (&pool, &ledger, &served);
                    let start = &start;
                    s.spawn(move || {
                        start.wait();
                        for _ in 0..ops {
                            let h = take(ledger, pool.get());
                            // Hold it across a reschedule, so the others
                            // really find the pool dry and wait.
                            thread::yield_now();
                            give_back(ledger, h);
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            });
            assert_eq!(served.load(Ordering::Relaxed), threads * ops);
            ledger.all_back(drain(&pool));
        });
    }
}

/// Raw tokens under contention: buffers taken as `RawBuf` on one thread,
/// written through `raw_bytes_mut`, sent to another thread and returned
/// there (or turned back into guards); the ledger checks each is held once.
#[test]
fn raw_indices_cross_threads() {
    for capacity in [1, 3, 16] {
        let threads = 4;
        with_deadline("raw", move || {
            let pool = BufferPool::new(Tier::Pico, capacity).unwrap();
            let ledger = Ledger::new(capacity);
            let ops = total_ops() / 2 / threads;
            let (txs, rxs): (Vec<_>, Vec<_>) = (0..threads)
                .map(|_| mpsc::channel::<(iobuf_pool::RawBuf, u64)>())
                .unzip();
            let finished = AtomicUsize::new(0);
            let start = Barrier::new(threads);
            thread::scope(|s| {
                for (t, rx) in rxs.into_iter().enumerate() {
                    let tx = txs[(t + 1) % threads].clone();
                    let (pool, ledger, finished) = (&pool, &ledger, &finished);
                    let start = &start;
                    s.spawn(move || {
                        start.wait();
                        let mut rng = Rng::new(t);
                        let mut drain_mailbox = || {
                            for (mut raw, stamp) in rx.try_iter() {
                                let i = raw.index();
                                let bytes = pool.raw_bytes_mut(&mut raw).unwrap();
                                ledger.giving_back(i, bytes, stamp);
                                if rng.below(2) == 0 {
                                    pool.put_raw(raw).unwrap();
                                } else {
                                    drop(pool.guard(raw).unwrap());
                                }
                            }
                        };
                        for _ in 0..ops {
                            let mut raw = loop {
                                match pool.take_raw() {
                                    Some(raw) => break raw,
                                    None => {
                                        drain_mailbox();
                                        thread::yield_now();
                                    }
                                }
                            };
                            let i = raw.index();
                            let bytes = pool.raw_bytes_mut(&mut raw).unwrap();
                            let stamp = ledger.took(i, bytes);
                            tx.send((raw, stamp)).unwrap();
                            drain_mailbox();
                        }
                        drop(tx);
                        finished.fetch_add(1, Ordering::AcqRel);
                        while finished.load(Ordering::Acquire) < threads {
                            drain_mailbox();
                            thread::yield_now();
                        }
                        drain_mailbox();
                    });
                }
                drop(txs);
            });
            ledger.all_back(drain(&pool));
        });
    }
}

/// Threads with their own caches take and keep buffers, put them back into
/// their cache, and also pass some to a neighbour that puts them into *its*
/// cache: buffers migrate between caches and the ring. Dropping the caches
/// must bring every buffer home.
#[test]
fn caches_are_exclusive_and_flush_everything_home() {
    for capacity in CAPACITIES {
        for threads in thread_counts() {
            with_deadline("caches", move || {
                let pool = BufferPool::new(Tier::Pico, capacity).unwrap();
                let ledger = Ledger::new(capacity);
                let ops = total_ops() / threads;
                let (txs, rxs): (Vec<_>, Vec<_>) =
                    (0..threads).map(|_| mpsc::channel::<Held<'_>>()).unzip();
                let finished = AtomicUsize::new(0);
                let start = Barrier::new(threads);
                thread::scope(|s| {
                    for (t, rx) in rxs.into_iter().enumerate() {
                        let tx = txs[(t + 1) % threads].clone();
                        let (pool, ledger, finished) = (&pool, &ledger, &finished);
                        let start = &start;
                        s.spawn(move || {
                            start.wait();
                            let mut rng = Rng::new(t);
                            // Sizes vary so that full, empty and zero-sized
                            // caches all occur.
                            let mut cache = LocalCache::new(pool, [0, 1, 2, 8, 64][t % 5]).unwrap();
                            for _ in 0..ops {
                                for h in rx.try_iter() {
                                    put_in_cache(ledger, &mut cache, h);
                                }
                                let Some(b) = cache.try_get() else {
                                    thread::yield_now();
                                    continue;
                                };
                                let h = take(ledger, b);
                                match rng.below(3) {
                                    0 => tx.send(h).unwrap(),
                                    1 => give_back(ledger, h),
                                    _ => put_in_cache(ledger, &mut cache, h),
                                }
                            }
                            drop(tx);
                            finished.fetch_add(1, Ordering::AcqRel);
                            while finished.load(Ordering::Acquire) < threads {
                                for h in rx.try_iter() {
                                    put_in_cache(ledger, &mut cache, h);
                                }
                                thread::yield_now();
                            }
                            for h in rx.try_iter() {
                                put_in_cache(ledger, &mut cache, h);
                            }
                            drop(cache);
                        });
                    }
                    drop(txs);
                });
                ledger.all_back(drain(&pool));
            });
        }
    }
}

/// The handoff pattern through caches: takers only take (blocking `get` on
/// their cache) and send; returners only receive and `put` into theirs. The
/// returners' caches fill and flush to the ring, so the takers never starve
/// while buffers sit idle in a cache.
#[test]
fn cache_handoff_does_not_starve() {
    for capacity in CAPACITIES {
        let mut pair_counts = vec![1, many_threads() / 2];
        pair_counts.dedup();
        for pairs in pair_counts {
            with_deadline("handoff", move || {
                let pool = BufferPool::new(Tier::Pico, capacity).unwrap();
                let ledger = Ledger::new(capacity);
                let items = total_ops() / 2 / pairs;
                let start = Barrier::new(2 * pairs);
                thread::scope(|s| {
                    for _ in 0..pairs {
                        let (tx, rx) = mpsc::channel::<Held<'_>>();
                        let (pool, ledger, start) = (&pool, &ledger, &start);
                        s.spawn(move || {
                            start.wait();
                            let mut cache = LocalCache::new(pool, 16).unwrap();
                            for _ in 0..items {
                                tx.send(take(ledger, cache.get())).unwrap();
                            }
                        });
                        s.spawn(move || {
                            start.wait();
                            let mut cache = LocalCache::new(pool, 16).unwrap();
                            for h in rx {
                                ledger.giving_back(h.buf.index(), h.buf.as_full(), h.stamp);
                                cache.put(h.buf);
                            }
                        });
                    }
                });
                ledger.all_back(drain(&pool));
            });
        }
    }
}

/// A typed pool's array view is the same exclusive buffer.
#[test]
fn tier_pool_arrays_are_exclusive() {
    for capacity in [1, 4, 16] {
        let threads = many_threads();
        with_deadline("tier pool", move || {
            let pool = PicoBufferPool::new(capacity).unwrap();
            let ledger = Ledger::new(capacity);
            let ops = total_ops() / 2 / threads;
            let start = Barrier::new(threads);
            thread::scope(|s| {
                for _ in 0..threads {
                    let (pool, ledger, start) = (&pool, &ledger, &start);
                    s.spawn(move || {
                        start.wait();
                        for _ in 0..ops {
                            let mut b = pool.get();
                            let i = b.index();
                            let arr: &mut [u8; 32] = b.as_array_mut();
                            let stamp = ledger.took(i, arr);
                            thread::yield_now();
                            ledger.giving_back(i, b.as_array(), stamp);
                        }
                    });
                }
            });
            ledger.all_back(drain(pool.pool()));
        });
    }
}

/// `BoundedPool<T>` under the same checks, with values that notice being
/// touched by two holders (a stamp and its complement) and guards returned
/// from other threads.
#[test]
fn bounded_pool_values_are_exclusive() {
    struct Slot {
        stamp: u64,
        check: u64,
        uses: u64,
    }
    for capacity in CAPACITIES {
        for threads in thread_counts() {
            with_deadline("bounded", move || {
                let pool = BoundedPool::new(capacity, |_| Slot {
                    stamp: 0,
                    check: !0,
                    uses: 0,
                })
                .unwrap();
                let held: Vec<AtomicBool> = (0..capacity).map(|_| AtomicBool::new(false)).collect();
                let next = AtomicU64::new(1);
                let ops = total_ops() / threads;
                let (tx, rx) = mpsc::channel();
                let rx = std::sync::Mutex::new(rx);
                let start = Barrier::new(threads);
                thread::scope(|s| {
                    for t in 0..threads {
                        let (pool, held, next, tx, rx) = (&pool, &held, &next, tx.clone(), &rx);
                        let start = &start;
                        s.spawn(move || {
                            start.wait();
                            let mut rng = Rng::new(t);
                            let give = |g: iobuf_pool::BoundedGuard<'_, Slot>, stamp: u64| {
                                assert!(g.stamp == stamp && g.check == !stamp, "value touched");
                                assert!(held[g.index()].swap(false, Ordering::AcqRel));
                                drop(g);
                            };
                            for _ in 0..ops {
                                let Some(mut g) = pool.try_get() else {
                                    // Dry: return what others passed on.
                                    if let Ok((g, stamp)) = rx.lock().unwrap().try_recv() {
                                        give(g, stamp);
                                    }
                                    thread::yield_now();
                                    continue;
                                };
                                assert!(!held[g.index()].swap(true, Ordering::AcqRel));
                                assert_eq!(g.check, !g.stamp, "previous holder's write lost");
                                let stamp = next.fetch_add(1, Ordering::Relaxed);
                                g.stamp = stamp;
                                g.check = !stamp;
                                g.uses += 1;
                                if rng.below(2) == 0 {
                                    tx.send((g, stamp)).unwrap();
                                } else {
                                    give(g, stamp);
                                }
                            }
                        });
                    }
                    drop(tx);
                });
                // Everything passed on and not yet returned comes back now.
                for (g, stamp) in rx.into_inner().unwrap().try_iter() {
                    assert!(g.stamp == stamp && g.check == !stamp);
                    assert!(held[g.index()].swap(false, Ordering::AcqRel));
                }
                let guards: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
                let mut got: Vec<usize> = guards.iter().map(|g| g.index()).collect();
                got.sort_unstable();
                assert_eq!(got, (0..capacity).collect::<Vec<_>>());
                drop(guards);
                let uses: u64 = pool.into_inner().iter().map(|v| v.uses).sum();
                assert!(uses > 0);
            });
        }
    }
}

/// The ring alone, shared through an `Arc` and driven with `push`/`pop`
/// from many threads; a sanity check of the payload-free path.
#[test]
fn ring_alone_under_contention() {
    for capacity in CAPACITIES {
        let threads = many_threads();
        with_deadline("ring", move || {
            let ring = Arc::new(iobuf_pool::sync::IndexRing::full(capacity).unwrap());
            let held: Arc<Vec<AtomicBool>> =
                Arc::new((0..capacity).map(|_| AtomicBool::new(false)).collect());
            let ops = total_ops() / threads;
            let start = Arc::new(Barrier::new(threads));
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let (ring, held) = (Arc::clone(&ring), Arc::clone(&held));
                    let start = Arc::clone(&start);
                    thread::spawn(move || {
                        start.wait();
                        for _ in 0..ops {
                            if let Some(i) = ring.pop() {
                                assert!(!held[i].swap(true, Ordering::AcqRel));
                                assert!(held[i].swap(false, Ordering::AcqRel));
                                // SAFETY: `i` was just popped by this thread.
                                unsafe { ring.push(i) }.unwrap();
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            let mut all: Vec<usize> = std::iter::from_fn(|| ring.pop()).collect();
            all.sort_unstable();
            assert_eq!(all, (0..capacity).collect::<Vec<_>>());
        });
    }
}

/// Owned buffers ([`iobuf_pool::OwnedBuf`] from an `Arc` pool, and
/// `PooledBuf<'static>` from a leaked pool) moved into `std::thread::spawn`
/// threads (not scoped) and passed round a ring of channels: each is
/// returned by a thread other than the one that took it, exactly once, with
/// its stamp intact.
#[test]
fn owned_buffers_cross_spawned_threads() {
    for capacity in CAPACITIES {
        for threads in thread_counts() {
            with_deadline("owned", move || {
                let pool = Arc::new(BufferPool::new(Tier::Pico, capacity).unwrap());
                let ledger = Arc::new(Ledger::new(capacity));
                run_owned_ring(threads, &ledger, {
                    let pool = pool.clone();
                    move || pool.try_get_owned()
                });
                ledger.all_back(drain(&pool));
                assert_eq!(pool.stats().in_use, 0);
                // The same with a thread cache: each drop goes into the
                // dropping thread's cache, and every thread's cache comes
                // back when it exits.
                let pool = Arc::new(
                    BufferPool::builder(Tier::Pico, capacity)
                        .thread_cache(64)
                        .build()
                        .unwrap(),
                );
                let ledger = Arc::new(Ledger::new(capacity));
                run_owned_ring(threads, &ledger, {
                    let pool = pool.clone();
                    move || pool.try_get_owned()
                });
                ledger.all_back(drain(&pool));
                assert_eq!(pool.stats().in_use, 0);
                // The same through a leaked pool's 'static guards (leaked
                // as `BufferPool::leak` does, but keeping the Box's own
                // pointer so the test can free it at the end).
                let raw_pool =
                    Box::into_raw(Box::new(BufferPool::new(Tier::Pico, capacity).unwrap()));
                // SAFETY: from Box::into_raw, valid until the Box::from_raw
                // below, after every user is gone.
                let leaked: &'static BufferPool = unsafe { &*raw_pool };
                let ledger = Arc::new(Ledger::new(capacity));
                run_owned_ring(threads, &ledger, move || leaked.try_get());
                ledger.all_back(drain(leaked));
                // SAFETY: `raw_pool` came from Box::into_raw; every thread
                // that used it is joined and every guard of it dropped (the
                // drain above took and gave back every buffer), so nothing
                // refers to the pool any more: freeing it here keeps Miri's
                // leak check clean.
                drop(unsafe { Box::from_raw(raw_pool) });
            });
        }
    }
}

/// A guard that owns its buffer without borrowing anything.
trait OwnedGuard: Send + 'static {
    fn index(&self) -> usize;
    fn full_mut(&mut self) -> &mut [u8];
}

impl OwnedGuard for iobuf_pool::OwnedBuf {
    fn index(&self) -> usize {
        iobuf_pool::OwnedBuf::index(self)
    }
    fn full_mut(&mut self) -> &mut [u8] {
        self.as_full_mut()
    }
}

impl OwnedGuard for PooledBuf<'static> {
    fn index(&self) -> usize {
        PooledBuf::index(self)
    }
    fn full_mut(&mut self) -> &mut [u8] {
        self.as_full_mut()
    }
}

/// `threads` spawned threads take with `try_get`, stamp, and send each
/// buffer to the next thread, which checks and returns it.
fn run_owned_ring<G: OwnedGuard>(
    threads: usize,
    ledger: &Arc<Ledger>,
    try_get: impl Fn() -> Option<G> + Send + Sync + Clone + 'static,
) {
    let ops = total_ops() / threads;
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..threads).map(|_| mpsc::channel::<(G, u64)>()).unzip();
    let finished = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(t, rx)| {
            let tx = txs[(t + 1) % threads].clone();
            let (ledger, finished, start) = (ledger.clone(), finished.clone(), start.clone());
            let try_get = try_get.clone();
            thread::spawn(move || {
                start.wait();
                let drain_mailbox = || {
                    for (mut g, stamp) in rx.try_iter() {
                        let i = g.index();
                        ledger.giving_back(i, g.full_mut(), stamp);
                        drop(g); // returned on this thread, not the taker's
                    }
                };
                for _ in 0..ops {
                    let mut g = loop {
                        match try_get() {
                            Some(g) => break g,
                            None => {
                                drain_mailbox();
                                thread::yield_now();
                            }
                        }
                    };
                    let i = g.index();
                    let stamp = ledger.took(i, g.full_mut());
                    tx.send((g, stamp)).unwrap();
                    drain_mailbox();
                }
                drop(tx);
                finished.fetch_add(1, Ordering::AcqRel);
                while finished.load(Ordering::Acquire) < threads {
                    drain_mailbox();
                    thread::yield_now();
                }
                drain_mailbox();
            })
        })
        .collect();
    drop(txs);
    for h in handles {
        h.join().unwrap();
    }
}
