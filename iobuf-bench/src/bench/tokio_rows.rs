//! The `iobuf-tokio` row: `acquire_owned().await` in tasks of a
//! multi-thread tokio runtime with one worker thread per case thread, one
//! task per worker, each taking a buffer, checking it (at the case's check
//! level), and dropping it, over and over: the async I/O path with real
//! worker threads, wake-ups and work stealing, rather than the
//! thread-per-worker harness of the other rows.
//!
//! The tasks are not pinned (tokio places them), start without a barrier
//! (a blocked worker thread could hold a second task behind it; the
//! warm-up covers the start), and count only the operations that start and
//! end inside the window, as the other rows do.

use super::phase::{sleep_ticking, MEASURE, STOP, WARMUP};
use super::{aggregate, Case, CaseError, Measurement, Settings};
use crate::measure::{check_stamp, record, stamp, write_stamp, Countdown, Ownership, Recorder};
use crate::pools::owned::TokioPool;
use crate::pools::BenchPool;
use crossbeam_utils::CachePadded;
use iobuf_pool::BufferPool;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Operations between a task's voluntary yields, so that a task that
/// always finds a buffer still lets its worker run others.
const YIELD_EVERY: u32 = 256;

/// What the tasks share.
struct TaskShared {
    phase: CachePadded<AtomicU8>,
    started: AtomicUsize,
    ownership: Ownership,
    sample_every: u32,
    check_every: u32,
}

pub fn drive_tokio(
    pool: &TokioPool,
    case: &Case,
    settings: &Settings,
    tick: &mut dyn FnMut(f64),
) -> Result<Measurement, CaseError> {
    pool.prefault();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(case.threads)
        .thread_name("iobuf-bench-tokio")
        .build()
        .map_err(|e| CaseError::Setup(format!("cannot start a tokio runtime: {e}")))?;
    let sh = Arc::new(TaskShared {
        phase: CachePadded::new(AtomicU8::new(WARMUP)),
        started: AtomicUsize::new(0),
        ownership: Ownership::new(pool.capacity()),
        sample_every: settings.sample_every,
        check_every: settings.check.every(),
    });
    let tasks: Vec<_> = (0..case.threads)
        .map(|id| rt.spawn(pairs_task(Arc::clone(&pool.0), id, Arc::clone(&sh))))
        .collect();
    // Every task is running before the warm-up's clock starts.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sh.started.load(Ordering::Acquire) < case.threads {
        if Instant::now() > deadline {
            sh.phase.store(STOP, Ordering::SeqCst);
            return Err(CaseError::Worker(format!(
                "{}: the tokio tasks did not all start within 10 s",
                case.label()
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let total = settings.warmup + settings.duration;
    let started = Instant::now();
    sleep_ticking(started, settings.warmup, total, tick);
    let opened = Instant::now();
    sh.phase.store(MEASURE, Ordering::SeqCst);
    sleep_ticking(started, total, total, tick);
    sh.phase.store(STOP, Ordering::SeqCst);
    let closed = Instant::now();
    let mut recs = Vec::with_capacity(tasks.len());
    for t in tasks {
        match rt.block_on(t) {
            Ok(rec) => recs.push(rec),
            Err(e) => {
                return Err(CaseError::Worker(format!(
                    "a task of {} failed: {e}",
                    case.label()
                )))
            }
        }
    }
    drop(rt);
    Ok(aggregate::summarise(pool, case, (opened, closed), &recs))
}

/// One task: take, check, drop, until the case stops.
async fn pairs_task(pool: Arc<BufferPool>, id: usize, sh: Arc<TaskShared>) -> Recorder {
    let mut rec = Recorder::default();
    let mut sampler = Countdown::new(sh.sample_every, id as u64 + 1);
    let mut checker = Countdown::new(sh.check_every, ((id as u64 + 1) << 32) | 0x5eed);
    let mut measuring = false;
    let mut seq = 0u64;
    let mut since_yield = 0u32;
    sh.started.fetch_add(1, Ordering::Release);
    loop {
        let phase = sh.phase.load(Ordering::Relaxed);
        if phase == STOP {
            break;
        }
        if phase == MEASURE && !measuring {
            measuring = true;
            rec.start_measuring();
        }
        let in_window = measuring;
        let t0 = (in_window && sampler.hit()).then(Instant::now);
        let mut buf = pool.acquire_owned().await;
        if let Some(t0) = t0 {
            record(&mut rec.get, t0.elapsed());
        }
        if checker.hit() {
            let index = buf.index();
            if !sh.ownership.take(index) {
                rec.duplicates += 1;
            }
            let s = stamp(id, seq);
            seq += 1;
            write_stamp(buf.as_full_mut(), s);
            std::hint::black_box(&mut buf);
            if !check_stamp(buf.as_full(), s) {
                rec.corrupted += 1;
            }
            if !sh.ownership.release(index) {
                rec.duplicates += 1;
            }
        }
        match t0 {
            Some(_) => {
                let t = Instant::now();
                drop(buf);
                record(&mut rec.put, t.elapsed());
            }
            None => drop(buf),
        }
        if in_window && sh.phase.load(Ordering::SeqCst) == MEASURE {
            rec.ops += 1;
        }
        since_yield += 1;
        if since_yield == YIELD_EVERY {
            since_yield = 0;
            tokio::task::yield_now().await;
        }
    }
    if !measuring {
        rec.start_measuring();
    }
    rec
}
