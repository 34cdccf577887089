//! Export to a GitHub-flavoured Markdown table, to paste into a pull
//! request comment: one row per result, grouped by case, with throughput
//! (and its min–max over rounds where the document has repeats), "vs base"
//! (the ratio to crossbeam in the same round, median and min–max over the
//! rounds), and the get and put p99 latencies. The fastest pool of each
//! case (the ceiling and transport rows are the harness, not pools) is in
//! bold when its lead over the runner-up is resolved, and marked
//! "(unresolved)" when it is not. A row that reaches the ceiling row (the
//! harness's own limit: noise or a harness bug) is marked "(at or above the
//! ceiling: R×)".

use std::fmt::Write as _;

use super::spread::Spread;
use crate::document::read::{CaseResult, Op, RunDoc};
use crate::format::{fmt_count, fmt_ns};
use crate::pools::rank as pool_rank;
use crate::pools::{CEILING, TRANSPORT};
use crate::vs_base;

/// The table's columns.
pub const HEADER: [&str; 6] = [
    "case",
    "pool",
    "pairs/s",
    "vs crossbeam (same round)",
    "get p99",
    "put p99",
];

/// The Markdown table of a run; `spreads[i]` is the spread of
/// `doc.results[i]`.
pub fn render(doc: &RunDoc, spreads: &[Option<Spread>]) -> Result<String, String> {
    if doc.results.is_empty() {
        return Err(format!(
            "{}: nothing to export (no results)",
            doc.path.display()
        ));
    }
    let cases = doc.by_case()?;
    let spread_of = |r: &CaseResult| {
        doc.results
            .iter()
            .position(|x| std::ptr::eq(x, r))
            .and_then(|i| spreads.get(i).copied().flatten())
    };
    let mut s = String::new();
    let _ = writeln!(s, "| {} |", HEADER.join(" | "));
    let _ = writeln!(
        s,
        "|{}",
        HEADER
            .iter()
            .enumerate()
            .map(|(i, _)| if i < 2 { " --- |" } else { " ---: |" })
            .collect::<String>()
    );
    for (key, pools) in &cases {
        let mut rows: Vec<&CaseResult> = pools.values().copied().collect();
        rows.sort_by(|a, b| pool_rank(&a.pool).cmp(&pool_rank(&b.pool)));
        let base = rows.iter().find(|r| r.pool == vs_base::BASE);
        let mut ranked: Vec<&&CaseResult> = rows
            .iter()
            .filter(|r| r.pool != CEILING && r.pool != TRANSPORT)
            .collect();
        ranked.sort_by(|a, b| b.ops_per_sec.total_cmp(&a.ops_per_sec));
        let winner = ranked.first().map(|r| r.pool.clone());
        let above = vs_base::at_or_above_ceiling(&rows);
        let resolved = match (ranked.first(), ranked.get(1)) {
            (Some(a), Some(b)) => vs_base::resolved(&vs_base::per_round(
                &a.round_rates(),
                a.ops_per_sec,
                &b.round_rates(),
                b.ops_per_sec,
            ))
            .unwrap_or(false),
            _ => true,
        };
        for r in rows.iter() {
            let mut rate = fmt_count(r.ops_per_sec);
            if let Some(sp) = spread_of(r) {
                let _ = write!(rate, " ({}–{})", fmt_count(sp.min), fmt_count(sp.max));
            }
            let ratio = base
                .and_then(|b| {
                    vs_base::ratio(
                        &r.round_rates(),
                        r.ops_per_sec,
                        &b.round_rates(),
                        b.ops_per_sec,
                    )
                })
                .map(|v| {
                    if v.rounds > 1 {
                        format!("{:.2}× ({:.2}–{:.2})", v.median, v.min, v.max)
                    } else {
                        format!("{:.2}×", v.median)
                    }
                })
                .unwrap_or_else(|| "-".into());
            let p99 = |op: Op| {
                r.summary(op)
                    .map(|x| fmt_ns(x.p99 as f64))
                    .unwrap_or_else(|| "-".into())
            };
            let mut pool = match (winner.as_deref() == Some(r.pool.as_str()), resolved) {
                (true, true) => format!("**{}**", cell(&r.pool)),
                (true, false) => format!("{} (unresolved)", cell(&r.pool)),
                _ => cell(&r.pool),
            };
            if let Some((_, v)) = above.iter().find(|(a, _)| std::ptr::eq(*a, *r)) {
                let _ = write!(pool, " (at or above the ceiling: {:.2}×)", v.median);
            }
            let _ = writeln!(
                s,
                "| {} | {pool} | {rate} | {ratio} | {} | {} |",
                cell(&key.to_string()),
                p99(Op::Get),
                p99(Op::Put)
            );
        }
    }
    Ok(s)
}

/// Text made safe for a table cell: no pipe or line break ends it early.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
