//! A case's workers' records added up into one [`Measurement`], with the
//! exactly-once check of the pool after the case.

use super::Case;
use crate::document::PoolStats;
use crate::measure::{new_histogram, Recorder};
use crate::pools::BenchPool;
use crate::scenario::ScenarioKind;
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// What one case measured; [`crate::document`] turns it into a result of
/// the run document.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub case: Case,
    /// The measured window, as it really lasted (from just before it opened
    /// to just after it closed: see `drive`).
    pub window: Duration,
    /// When the window opened and closed (the window tests compare every
    /// counted operation's timestamps with them).
    #[cfg_attr(not(test), allow(dead_code))]
    pub window_edges: (Instant, Instant),
    /// Pairs completed in the window (handoff: buffers consumers returned).
    pub ops: u64,
    /// Per worker thread (handoff: producers first, then consumers).
    pub per_thread_ops: Vec<u64>,
    pub get: Histogram<u64>,
    pub put: Histogram<u64>,
    /// From the get to the put on another thread or after a read; `None`
    /// where the scenario does not time it.
    pub end_to_end: Option<Histogram<u64>>,
    /// A buffer held by two threads at once, or returned twice.
    pub duplicates: u64,
    /// A buffer whose stamp (or read) was wrong while held.
    pub corrupted: u64,
    /// Buffers missing from the pool after the case.
    pub lost: u64,
    /// Gets that found the pool empty.
    pub dry_gets: u64,
    /// The iobuf pool's own statistics for this case (`drive` fills them
    /// in); `None` for pools that are not a `BufferPool` underneath.
    pub pool_stats: Option<PoolStats>,
}

/// Adds up `recs` and checks that every index of `pool` is free once.
pub fn summarise<P: BenchPool>(
    pool: &P,
    case: &Case,
    window_edges: (Instant, Instant),
    recs: &[Recorder],
) -> Measurement {
    let handoff = matches!(case.scenario.kind, ScenarioKind::Handoff(_));
    let mut get = new_histogram();
    let mut put = new_histogram();
    let mut e2e = new_histogram();
    let (mut duplicates, mut corrupted, mut lost, mut dry_gets) = (0, 0, 0, 0);
    for r in recs {
        // Same bounds everywhere, so adding cannot fail.
        let _ = get.add(&r.get);
        let _ = put.add(&r.put);
        let _ = e2e.add(&r.end_to_end);
        duplicates += r.duplicates;
        corrupted += r.corrupted;
        dry_gets += r.dry_gets;
    }
    // Exactly once: after the case every index is free again, once.
    if pool.capacity() > 0 {
        let mut free = pool.drain();
        let taken = free.len();
        free.sort_unstable();
        free.dedup();
        let in_range = free.iter().filter(|&&i| i < pool.capacity()).count();
        duplicates += (taken - free.len()) as u64;
        lost += (pool.capacity() - in_range) as u64;
    }
    let per_thread_ops: Vec<u64> = recs.iter().map(|r| r.ops).collect();
    // Handoff: a pair completes when a consumer returns the buffer.
    let ops: u64 = if handoff {
        per_thread_ops[case.producers..].iter().sum()
    } else {
        per_thread_ops.iter().sum()
    };
    Measurement {
        case: case.clone(),
        window: window_edges.1 - window_edges.0,
        window_edges,
        ops,
        per_thread_ops,
        get,
        put,
        end_to_end: case.scenario.kind.has_end_to_end().then_some(e2e),
        duplicates,
        corrupted,
        lost,
        dry_gets,
        pool_stats: None,
    }
}
