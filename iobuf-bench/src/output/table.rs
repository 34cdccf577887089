//! The summary table: one block per scenario × tier × thread layout, one
//! row per pool.

use crate::export::json::{BenchDocument, CaseResult};
use crate::format::{fmt_count, fmt_ns, human_bytes};
use crate::measure::fairness;
use crate::pools::{PoolKind, TRANSPORT};
use iobuf::Tier;
use std::fmt::Write as _;

/// Throughput of the fastest baseline among `rows`.
pub fn best_baseline(rows: &[&CaseResult]) -> Option<f64> {
    rows.iter()
        .filter(|r| PoolKind::from_name(&r.pool).is_some_and(PoolKind::is_baseline))
        .map(|r| r.ops_per_sec)
        .fold(None, |best, x| Some(best.map_or(x, |b: f64| b.max(x))))
}

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
        "vs best baseline: throughput ÷ the faster of mutex and crossbeam. \
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
    if doc.results.iter().any(|r| r.pool == TRANSPORT) {
        let _ = writeln!(
            out,
            "transport: the handoff queue with no pool at all; the ceiling for the pools' handoff rows."
        );
    }
    out
}

fn render_group(out: &mut String, title: &str, rows: &[&CaseResult]) {
    let handoff = rows.iter().any(|r| r.has_end_to_end());
    let best = best_baseline(rows);
    let _ = writeln!(out, "{title}");
    // Wide enough for every pool name of the group (iobuf-cached-fixed).
    let w = rows.iter().map(|r| r.pool.len()).fold(13, usize::max);
    let mut header = format!(
        "  {:<w$} {:>10} {:>9}   {:>8} {:>8} {:>8}   {:>8} {:>8} {:>8}",
        "pool", "pairs/s", "vs base", "get p50", "p99", "p99.9", "put p50", "p99", "p99.9"
    );
    if handoff {
        let _ = write!(header, "   {:>8} {:>8}", "e2e p50", "p99");
    }
    let _ = write!(header, "   {:>8}", "fairness");
    let _ = writeln!(out, "{header}");
    let mut dry = Vec::new();
    for r in rows {
        let ratio = match best {
            Some(b) if b > 0.0 && r.pool != TRANSPORT => format!("{:.2}×", r.ops_per_sec / b),
            _ => "–".into(),
        };
        let l = &r.latency_ns;
        let mut line = format!(
            "  {:<w$} {:>10} {:>9}   {:>8} {:>8} {:>8}   {:>8} {:>8} {:>8}",
            r.pool,
            fmt_count(r.ops_per_sec),
            ratio,
            fmt_ns(l.get.p50 as f64),
            fmt_ns(l.get.p99 as f64),
            fmt_ns(l.get.p999 as f64),
            fmt_ns(l.put.p50 as f64),
            fmt_ns(l.put.p99 as f64),
            fmt_ns(l.put.p999 as f64),
        );
        if handoff {
            let e = l.end_to_end.unwrap_or_default();
            let _ = write!(
                line,
                "   {:>8} {:>8}",
                fmt_ns(e.p50 as f64),
                fmt_ns(e.p99 as f64)
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
}
