//! The summary table: one block per scenario × tier × thread layout, one
//! row per pool.

use crate::document::{BenchDocument, CaseResult};
use crate::format::{fmt_count, fmt_ns, human_bytes};
use crate::measure::fairness;
use crate::pools::{CEILING, TRANSPORT};
use crate::vs_base;
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
        "pairs/s: the median round's; min–max over the rounds. vs base: throughput ÷ crossbeam's in the same round, median over the rounds (the same in the JSON readers, the exports, the report and compare). \
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
    if doc.results.iter().any(|r| r.pool == CEILING) {
        let _ = writeln!(
            out,
            "ceiling: a thread-local free list through the same worker and checks: what this harness can \
             measure at most; a row near it is as fast as the bench can tell (check level: {}).",
            c.check
        );
    }
    out
}

/// The least and most throughput over the rounds (the headline alone in a
/// one-round run).
fn spread(r: &CaseResult) -> (f64, f64) {
    (
        r.ops_per_sec_min.unwrap_or(r.ops_per_sec),
        r.ops_per_sec_max.unwrap_or(r.ops_per_sec),
    )
}

/// A row's throughput per round (its headline alone in a one-round run).
fn rates(r: &CaseResult) -> Vec<f64> {
    r.rounds.iter().map(|x| x.ops_per_sec).collect()
}

/// "vs base" (see [`crate::vs_base`]): `r`'s throughput over the base
/// row's in the same round, median and min–max over the rounds.
fn vs_base(r: &CaseResult, rows: &[&CaseResult]) -> Option<vs_base::Ratio> {
    let base = rows.iter().find(|b| b.pool == vs_base::BASE)?;
    vs_base::ratio(&rates(r), r.ops_per_sec, &rates(base), base.ops_per_sec)
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

/// Which pool won the group (the ceiling and the transport are the
/// harness, not pools), and whether its lead is resolved: the 95%
/// interval of its per-round ratio to the runner-up excludes 1.
fn winner_line(rows: &[&CaseResult]) -> Option<String> {
    let mut ranked: Vec<&&CaseResult> = rows
        .iter()
        .filter(|r| r.pool != TRANSPORT && r.pool != CEILING)
        .collect();
    ranked.sort_by(|a, b| b.ops_per_sec.total_cmp(&a.ops_per_sec));
    let (first, second) = (ranked.first()?, ranked.get(1)?);
    let lead = if second.ops_per_sec > 0.0 {
        format!("{:.2}×", first.ops_per_sec / second.ops_per_sec)
    } else {
        "∞×".into()
    };
    let per_round = vs_base::per_round(
        &rates(first),
        first.ops_per_sec,
        &rates(second),
        second.ops_per_sec,
    );
    let verdict = match vs_base::resolved(&per_round) {
        None => "one round, so unresolved (--runs N)",
        Some(false) => "unresolved: the rounds do not agree on the order",
        Some(true) => "resolved (95% interval of the per-round ratio excludes 1)",
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
        let ratio = match vs_base(r, rows) {
            Some(v) if r.pool != TRANSPORT => format!("{:.2}×", v.median),
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
    if let Some(line) = ceiling_line(rows) {
        let _ = writeln!(out, "{line}");
    }
}

/// The rows that reach the ceiling (see [`vs_base::at_or_above_ceiling`]),
/// or `None` when no row does.
fn ceiling_line(rows: &[&CaseResult]) -> Option<String> {
    let above = vs_base::at_or_above_ceiling(rows);
    if above.is_empty() {
        return None;
    }
    let names: Vec<String> = above
        .iter()
        .map(|(r, v)| format!("{} {:.2}× the ceiling", r.pool, v.median))
        .collect();
    Some(format!(
        "  AT OR ABOVE THE CEILING: {} (median of the same-round ratios): the ceiling is the harness's own limit, \
         so this is noise or a harness bug, not a lead; rerun with more --runs",
        names.join(", ")
    ))
}
