//! Export to a GitHub-flavoured Markdown table, to paste into a pull
//! request comment: one row per result, grouped by case, with throughput
//! (and its min–max over rounds where the document has repeats), the ratio
//! to the best baseline pool measured in the same case, and the get and put
//! p99 latencies. The fastest pool of each case is in bold.

use std::fmt::Write as _;

use super::spread::Spread;
use crate::pools::is_iobuf as is_iobuf_pool;
use crate::results::{fmt_count, fmt_ns, pool_rank, CaseResult, Op, RunDoc};

/// The table's columns.
pub const HEADER: [&str; 6] = [
    "case",
    "pool",
    "pairs/s",
    "vs best baseline",
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
        let best_baseline = rows
            .iter()
            .filter(|r| !is_iobuf_pool(&r.pool))
            .max_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
        let winner = rows
            .iter()
            .max_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec))
            .map(|r| r.pool.clone());
        for r in rows.iter() {
            let mut rate = fmt_count(r.ops_per_sec);
            if let Some(sp) = spread_of(r) {
                let _ = write!(rate, " ({}–{})", fmt_count(sp.min), fmt_count(sp.max));
            }
            let ratio = match best_baseline {
                Some(b) if b.ops_per_sec > 0.0 => {
                    format!("{:.2}× {}", r.ops_per_sec / b.ops_per_sec, cell(&b.pool))
                }
                _ => "-".into(),
            };
            let p99 = |op: Op| {
                r.summary(op)
                    .filter(|x| x.p99.is_finite())
                    .map(|x| fmt_ns(x.p99))
                    .unwrap_or_else(|| "-".into())
            };
            let pool = if winner.as_deref() == Some(r.pool.as_str()) {
                format!("**{}**", cell(&r.pool))
            } else {
                cell(&r.pool)
            };
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
