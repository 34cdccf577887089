//! The summary table: one block per scenario × tier × thread layout, one
//! row per pool.

use crate::export::json::{BenchDocument, CaseResult};
use crate::format::{fmt_count, fmt_ns, human_bytes};
use crate::measure::fairness;
use crate::pools::{PoolKind, TRANSPORT};
use iobuf_pool::Tier;
use std::fmt::Write as _;

/// Whether threads have two roles (handoff's producers and consumers);
/// in the other scenarios every thread takes and returns.
fn has_roles(r: &CaseResult) -> bool {
    r.has_end_to_end() && r.producers < r.per_thread_ops.len()
}

/// Fairness within each role: handoff producers and consumers are
/// compared among themselves, not with each other.
pub fn case_fairness(r: &CaseResult) -> f64 {
    if has_roles(r) {
        let (p, c) = r.per_thread_ops.split_at(r.producers);
        fairness(p).min(fairness(c))
    } else {
        fairness(&r.per_thread_ops)
    }
}

fn group_title(r: &CaseResult) -> String {
    let size = r
        .tier
        .parse::<Tier>()
        .map(|t| format!(" ({})", human_bytes(t.size() as u64)))
        .unwrap_or_default();
    let threads = if has_roles(r) {
        format!(
            "{} producer{} → {} consumer{}",
            r.producers,
            plural(r.producers),
            r.consumers,
            plural(r.consumers)
        )
    } else {
        format!("{} thread{}", r.threads, plural(r.threads as usize))
    };
    format!(
        "{} · {}{} · {} · {} buffers",
        r.scenario, r.tier, size, threads, r.capacity
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The whole table, ending in a newline.
pub fn render(doc: &BenchDocument) -> String {
    let mut groups: Vec<(String, Vec<&CaseResult>)> = Vec::new();
    for r in &doc.results {
        let key = group_title(r);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, rows)) => rows.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    let mut out = String::new();
    for (title, rows) in &groups {
        render_group(&mut out, title, rows);
        out.push('\n');
    }
    let c = &doc.config;
    let timed = match c.rate {
        Some(rate) => format!(
            "every operation is timed from its intended start (open loop, {rate} ops/s per thread)"
        ),
        None => format!(
            "1 operation in {} (picked at random) is timed",
            c.sample_every
        ),
    };
    let _ = writeln!(
        out,
        "pairs/s: buffers taken and returned per second, all threads together. \
         Latency: {timed}; one Instant::now() costs {:.0} ns here and is inside every figure.",
        c.clock_cost_ns
    );
    let _ = writeln!(
        out,
        "pairs/s: the median round's; min–max over the rounds. vs base: throughput ÷ the faster of mutex and crossbeam in the same round, median over the rounds. \
         n<100: too few timed operations for that percentile (samples: how many were timed). \
         fairness: the least-served thread's operations ÷ the most-served one's (handoff: within producers and within consumers)."
    );
    if doc
        .results
        .iter()
        .any(|r| r.scenario == "io" || r.pool.ends_with("-fixed"))
    {
        let _ = writeln!(
            out,
            "io: one pair = get a buffer, read into it through io_uring, wait for the completion, \
             check it, return it; e2e times that whole pair. Every pool reads with a plain READ; \
             a -fixed row is the same iobuf pool registered as fixed buffers (READ_FIXED), \
             so compare it with its own plain row: the baselines have no such registration here."
        );
    }
    if doc.results.iter().any(|r| r.pool_stats.is_some()) {
        let _ = writeln!(
            out,
            "pool.stats(): the iobuf rows' own counters. try_get misses: BufferPool::try_gets that found \
             the pool empty in the measured window (a LocalCache's refills and acquire() are not \
             try_gets, so iobuf-cached and iobuf-async count none there); in use ≥N/capacity: the most buffers out among readings taken about \
             every 50 ms of the window, a lower bound on its peak. The pool's lifetime high-water mark \
             is in the JSON only (pool_stats.high_water): the prefault takes every buffer, so it is the \
             capacity (lower behind a LocalCache, whose refills do not raise it)."
        );
    }
    if doc.results.iter().any(|r| r.pool == TRANSPORT) {
        let _ = writeln!(
            out,
            "transport: the handoff queue with no pool at all; the ceiling for the pools' handoff rows."
        );
    }
    out
}

/// Throughput of `r` in round `k` (its only figure in a one-round run).
fn round_rate(r: &CaseResult, k: usize) -> f64 {
    r.rounds.get(k).map_or(r.ops_per_sec, |x| x.ops_per_sec)
}

/// The least and most throughput over the rounds (the headline alone in a
/// one-round run).
fn spread(r: &CaseResult) -> (f64, f64) {
    (
        r.ops_per_sec_min.unwrap_or(r.ops_per_sec),
        r.ops_per_sec_max.unwrap_or(r.ops_per_sec),
    )
}

/// `r`'s throughput over the best baseline's, round by round; the median
/// and the range of those ratios.
fn ratio_to_baseline(r: &CaseResult, rows: &[&CaseResult]) -> Option<(f64, f64, f64)> {
    let baselines: Vec<&&CaseResult> = rows
        .iter()
        .filter(|b| PoolKind::from_name(&b.pool).is_some_and(PoolKind::is_baseline))
        .collect();
    let n = r.rounds.len().max(1);
    let mut ratios = Vec::with_capacity(n);
    for k in 0..n {
        let best = baselines
            .iter()
            .map(|b| round_rate(b, k))
            .fold(0.0, f64::max);
        if best > 0.0 {
            ratios.push(round_rate(r, k) / best);
        }
    }
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    Some((
        ratios[(ratios.len() - 1) / 2],
        ratios[0],
        ratios[ratios.len() - 1],
    ))
}

/// A percentile cell: the value, or `n<NEEDED` when fewer samples stand
/// behind it than that percentile needs to mean anything (one sample beyond
/// it: 100 for p99, 1,000 for p99.9).
fn pct(ns: u64, samples: u64, needed: u64) -> String {
    if samples == 0 {
        "–".into()
    } else if samples < needed {
        format!("n<{needed}")
    } else {
        fmt_ns(ns as f64)
    }
}

/// Which pool won the group, and whether its lead holds over the spread.
fn winner_line(rows: &[&CaseResult]) -> Option<String> {
    let mut ranked: Vec<&&CaseResult> = rows.iter().filter(|r| r.pool != TRANSPORT).collect();
    ranked.sort_by(|a, b| b.ops_per_sec.total_cmp(&a.ops_per_sec));
    let (first, second) = (ranked.first()?, ranked.get(1)?);
    let lead = if second.ops_per_sec > 0.0 {
        format!("{:.2}×", first.ops_per_sec / second.ops_per_sec)
    } else {
        "∞×".into()
    };
    let verdict = if first.rounds.len() < 2 {
        "one round, so no spread to judge by (--runs N)".to_string()
    } else if spread(first).0 <= spread(second).1 {
        "but their spreads overlap: not a clear win".to_string()
    } else {
        "and the spreads do not overlap".to_string()
    };
    Some(format!(
        "  winner: {} ({lead} {}, median of {} round{}), {verdict}",
        first.pool,
        second.pool,
        first.rounds.len().max(1),
        plural(first.rounds.len().max(1))
    ))
}

/// One footer line with the iobuf rows' own `pool.stats()`, or `None` when
/// no row of the group has them.
fn pool_stats_line(rows: &[&CaseResult]) -> Option<String> {
    let parts: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let s = r.pool_stats?;
            let mut part = format!(
                "{} try_get misses {}, in use ≥{}/{}",
                r.pool,
                fmt_count(s.failed_try_gets as f64),
                s.peak_in_use_sampled,
                s.capacity
            );
            // Both are 0 after a sound case; say so only when they are not.
            if s.in_use_end > 0 || s.waiters_end > 0 {
                let _ = write!(
                    part,
                    " (at the end: {} in use, {} waiting)",
                    s.in_use_end, s.waiters_end
                );
            }
            Some(part)
        })
        .collect();
    (!parts.is_empty()).then(|| format!("  pool.stats() in the window: {}", parts.join("; ")))
}

fn render_group(out: &mut String, title: &str, rows: &[&CaseResult]) {
    let handoff = rows.iter().any(|r| r.has_end_to_end());
    let _ = writeln!(out, "{title}");
    // Wide enough for every pool name of the group (iobuf-cached-fixed).
    let w = rows.iter().map(|r| r.pool.len()).fold(13, usize::max);
    let mut header = format!(
        "  {:<w$} {:>10} {:>15} {:>9}   {:>8} {:>8} {:>8} {:>7}   {:>8} {:>8} {:>8}",
        "pool",
        "pairs/s",
        "min–max",
        "vs base",
        "get p50",
        "p99",
        "p99.9",
        "samples",
        "put p50",
        "p99",
        "p99.9"
    );
    if handoff {
        let _ = write!(header, "   {:>8} {:>8}", "e2e p50", "p99");
    }
    let _ = write!(header, "   {:>8}", "fairness");
    let _ = writeln!(out, "{header}");
    let mut dry = Vec::new();
    for r in rows {
        let ratio = match ratio_to_baseline(r, rows) {
            Some((m, _, _)) if r.pool != TRANSPORT => format!("{m:.2}×"),
            _ => "–".into(),
        };
        let range = if r.rounds.len() > 1 {
            let (lo, hi) = spread(r);
            format!("{}–{}", fmt_count(lo), fmt_count(hi))
        } else {
            "–".into()
        };
        let l = &r.latency_ns;
        let mut line = format!(
            "  {:<w$} {:>10} {:>15} {:>9}   {:>8} {:>8} {:>8} {:>7}   {:>8} {:>8} {:>8}",
            r.pool,
            fmt_count(r.ops_per_sec),
            range,
            ratio,
            pct(l.get.p50, l.get.samples, 1),
            pct(l.get.p99, l.get.samples, 100),
            pct(l.get.p999, l.get.samples, 1000),
            fmt_count(l.get.samples as f64),
            pct(l.put.p50, l.put.samples, 1),
            pct(l.put.p99, l.put.samples, 100),
            pct(l.put.p999, l.put.samples, 1000),
        );
        if handoff {
            let e = l.end_to_end.unwrap_or_default();
            let _ = write!(
                line,
                "   {:>8} {:>8}",
                pct(e.p50, e.samples, 1),
                pct(e.p99, e.samples, 100)
            );
        }
        let _ = write!(line, "   {:>7.0}%", case_fairness(r) * 100.0);
        if !r.integrity.is_clean() {
            let i = r.integrity;
            let _ = write!(
                line,
                "   INTEGRITY FAILED: {} duplicates, {} corrupted, {} lost",
                i.duplicates, i.corrupted, i.lost
            );
        }
        let _ = writeln!(out, "{line}");
        if r.dry_gets > 0 {
            dry.push(format!("{} {}", r.pool, r.dry_gets));
        }
    }
    if !dry.is_empty() {
        let _ = writeln!(out, "  gets that found the pool empty: {}", dry.join(", "));
    }
    if let Some(line) = pool_stats_line(rows) {
        let _ = writeln!(out, "{line}");
    }
    if let Some(line) = winner_line(rows) {
        let _ = writeln!(out, "{line}");
    }
}
