//! One case from start to end: prefault the pool, spawn and pin the
//! workers of its scenario, run the warm-up and the measured window,
//! stop, join, and add up what they recorded.

use super::handoff::{self, Transport};
use super::lean;
use super::phase::{sleep_ticking, Shared, MEASURE, STOP, WARMUP};
use super::worker::ItemOf;
use super::{aggregate, burst, io, pairs, Case, CaseError, Measurement, Settings};
use crate::document::PoolStats;
use crate::measure::{Ownership, Recorder};
use crate::pools::BenchPool;
use crate::scenario::ScenarioKind;
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Barrier;
use std::time::Instant;

pub fn drive<'p, P: BenchPool>(
    pool: &'p P,
    case: &Case,
    settings: &Settings,
    tick: &mut dyn FnMut(f64),
) -> Result<Measurement, CaseError> {
    pool.prefault();
    // The iobuf pools' own counters, read at the edges of the phases (and
    // at each progress tick of the window, for the sampled peak in use).
    let stats = || pool.buffer_pool().map(iobuf_pool::BufferPool::stats);
    let after_prefault = stats();
    let mut at_open = None;
    let mut at_close = None;
    let mut peak_in_use = 0;
    let ownership = Ownership::new(pool.capacity());
    let lean = settings.check == crate::measure::CheckLevel::Lean;
    let sample_every = if settings.rate.is_some() {
        1
    } else if lean {
        crate::measure::CheckLevel::Lean.every()
    } else {
        settings.sample_every
    };
    let sh = Shared {
        phase: CachePadded::new(AtomicU8::new(WARMUP)),
        barrier: Barrier::new(case.threads + 1),
        ownership: &ownership,
        sample_every,
        check_every: settings.check.every(),
        slowdown: settings
            .slow
            .as_ref()
            .filter(|s| s.row == case.target.name())
            .map(|s| s.fraction),
        rate: settings.rate,
        cpus: &settings.cpus,
    };
    let total = settings.warmup + settings.duration;
    let mut edges = None;
    let transport: Transport<ItemOf<'p, P>> = match &case.scenario.kind {
        ScenarioKind::Handoff(p) => {
            Transport::new(case.producers, case.consumers, p.queue_depth, p.batch)
        }
        _ => Transport::new(0, 0, 1, 1),
    };
    let mut io_threads = match &case.scenario.kind {
        ScenarioKind::Io(p) => io::io_setup(pool, case, p)?,
        _ => Vec::new(),
    };

    let joined: Vec<std::thread::Result<Recorder>> = std::thread::scope(|s| {
        let sh = &sh;
        let handles: Vec<_> = match &case.scenario.kind {
            ScenarioKind::Pairs(_) if lean => (0..case.threads)
                .map(|id| s.spawn(move || lean::pairs_worker(pool, id, sh)))
                .collect(),
            ScenarioKind::Pairs(_) => (0..case.threads)
                .map(|id| s.spawn(move || pairs::pairs_worker(pool, id, sh)))
                .collect(),
            ScenarioKind::Burst(p) => {
                let batch = p.batch_size(case.threads, case.capacity);
                (0..case.threads)
                    .map(|id| s.spawn(move || burst::burst_worker(pool, id, sh, batch)))
                    .collect()
            }
            ScenarioKind::Hold(p) => (0..case.threads)
                .map(|id| s.spawn(move || pairs::hold_worker(pool, id, sh, p)))
                .collect(),
            ScenarioKind::Io(p) => std::mem::take(&mut io_threads)
                .into_iter()
                .enumerate()
                .map(|(id, io)| s.spawn(move || io::io_worker(pool, id, sh, io, p.queue_depth)))
                .collect(),
            ScenarioKind::Handoff(_) => {
                let t = &transport;
                let producers = (0..case.producers).map(|id| {
                    s.spawn(move || match lean {
                        true => lean::producer(pool, id, sh, &t.lanes, &t.active),
                        false => handoff::producer(pool, id, sh, &t.lanes, &t.active),
                    })
                });
                let consumers = (0..case.consumers).map(|c| {
                    let id = case.producers + c;
                    s.spawn(move || match lean {
                        true => lean::consumer(pool, id, sh, &t.lanes[c], &t.active),
                        false => handoff::consumer(pool, id, sh, &t.lanes[c], &t.active),
                    })
                });
                producers.chain(consumers).collect()
            }
        };
        sh.barrier.wait();
        let started = Instant::now();
        sleep_ticking(started, settings.warmup, total, tick);
        // The pool's counters just before the window opens and just after
        // it closes: their difference is the window's (give or take the
        // operations in flight at either store).
        at_open = stats();
        // The window's edges bracket the two stores: every operation that
        // counts saw the first store before it began and ended before the
        // second (see `Worker::complete_op`), so it lies inside them.
        let opened = Instant::now();
        sh.phase.store(MEASURE, Ordering::SeqCst);
        let mut sampling_tick = |f: f64| {
            if let Some(s) = stats() {
                peak_in_use = peak_in_use.max(s.in_use);
            }
            tick(f);
        };
        sleep_ticking(
            started,
            settings.warmup + settings.duration,
            total,
            &mut sampling_tick,
        );
        sh.phase.store(STOP, Ordering::SeqCst);
        edges = Some((opened, Instant::now()));
        at_close = stats();
        handles.into_iter().map(|h| h.join()).collect()
    });

    let mut recs = Vec::with_capacity(joined.len());
    for r in joined {
        match r {
            Ok(rec) => recs.push(rec),
            Err(e) => {
                let why = e
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| e.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                return Err(CaseError::Worker(format!(
                    "a worker thread of {} panicked: {why}",
                    case.label()
                )));
            }
        }
    }
    if let Some(why) = recs.iter().find_map(|r| r.error.as_deref()) {
        return Err(CaseError::Worker(format!("{}: {why}", case.label())));
    }
    let (opened, closed) = edges.unwrap_or_else(|| {
        let now = Instant::now();
        (now, now)
    });
    // Read before `summarise` drains the pool (the drain takes every
    // buffer and ends on a failed try_get).
    let pool_stats = match (after_prefault, at_open, at_close, stats()) {
        (Some(before), Some(open), Some(close), Some(end)) => Some(PoolStats {
            capacity: end.capacity,
            high_water: end.high_water,
            peak_in_use_sampled: peak_in_use.max(open.in_use).max(close.in_use),
            in_use_end: end.in_use,
            waiters_end: end.waiters,
            failed_try_gets: close.failed_try_gets.saturating_sub(open.failed_try_gets),
            failed_try_gets_warmup: open.failed_try_gets.saturating_sub(before.failed_try_gets),
        }),
        _ => None,
    };
    let mut m = aggregate::summarise(pool, case, (opened, closed), &recs);
    m.pool_stats = pool_stats;
    Ok(m)
}
