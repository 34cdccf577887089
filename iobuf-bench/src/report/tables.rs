//! The page's tables: the runs' provenance, the same-run throughput ratios,
//! and the latency summaries with integrity per pool.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::html::esc;
use super::model::{ops_per_sec, Group};
use crate::document::read::{LatencyStats, Op, RunDoc};
use crate::format::{fmt_ns, fmt_rate};
use crate::pools::rank as pool_rank;

/// Which files, commits and machines the page shows.
pub fn sources_table(docs: &[RunDoc], labels: &[String]) -> String {
    let mut s = String::from(
        "<section><h2>Runs</h2><table><tr><th>file</th><th>iobuf-bench</th><th>commit</th>\
         <th>when</th><th>host</th><th>os / kernel</th><th>cases</th></tr>",
    );
    for (doc, label) in docs.iter().zip(labels) {
        let m = &doc.meta;
        let when = m.timestamp.clone();
        let cpu = &m.host.cpu_model;
        let host = match m.host.logical_cores {
            0 => cpu.clone(),
            n if cpu.is_empty() => format!("{n} logical cores"),
            n => format!("{cpu}, {n} logical cores"),
        };
        let os = [m.host.os.as_str(), m.host.kernel.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let _ = write!(
            s,
            "<tr><td title=\"{}\">{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            esc(&doc.path.display().to_string()),
            esc(label),
            esc(&m.version),
            esc(m.git_commit.as_deref().map(|c| c.get(..12).unwrap_or(c)).unwrap_or("")),
            esc(&when),
            esc(&host),
            esc(&os),
            doc.results.len()
        );
    }
    s.push_str("</table>");
    for (doc, label) in docs.iter().zip(labels) {
        if !doc.config.is_null() {
            let _ = write!(
                s,
                "<details><summary>configuration of {}</summary><pre>{}</pre></details>",
                esc(label),
                esc(&serde_json::to_string_pretty(&doc.config).unwrap_or_default())
            );
        }
    }
    s.push_str("</section>\n");
    s
}

/// Throughput per pool and the gated same-run ratios, per thread count.
pub fn ratio_table(group: &Group, labels: &[String], side_by_side: bool) -> String {
    let pools: Vec<String> = {
        let mut set: Vec<String> = group
            .values()
            .flatten()
            .map(|e| e.result.pool.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        set.sort_by(|a, b| pool_rank(a).cmp(&pool_rank(b)));
        set
    };
    let ratios: Vec<(&str, &str)> = [
        ("iobuf", "crossbeam"),
        ("iobuf", "mutex"),
        ("iobuf-fifo", "crossbeam"),
        ("iobuf-cached", "crossbeam"),
        ("iobuf-cached", "mutex"),
    ]
    .into_iter()
    .filter(|(n, d)| pools.iter().any(|p| p == n) && pools.iter().any(|p| p == d))
    .collect();
    let mut s = String::from("<table class=\"ratios\"><tr><th>threads</th>");
    if side_by_side {
        s.push_str("<th>run</th>");
    }
    for p in &pools {
        let _ = write!(s, "<th>{} ops/s</th>", esc(p));
    }
    for (n, d) in &ratios {
        let _ = write!(s, "<th>{}&thinsp;/&thinsp;{}</th>", esc(n), esc(d));
    }
    s.push_str("</tr>");
    for (threads, entries) in group {
        let files: BTreeSet<usize> = entries.iter().map(|e| e.file).collect();
        for file in files {
            let find = |pool: &str| ops_per_sec(entries, file, pool);
            let _ = write!(s, "<tr><td class=\"num\">{threads}</td>");
            if side_by_side {
                let _ = write!(s, "<td>{}</td>", esc(&labels[file]));
            }
            for p in &pools {
                let _ = write!(
                    s,
                    "<td class=\"num\">{}</td>",
                    find(p).map(fmt_rate).unwrap_or_else(|| "-".into())
                );
            }
            for (n, d) in &ratios {
                let cell = match (find(n), find(d)) {
                    (Some(a), Some(b)) if b > 0.0 => {
                        let r = a / b;
                        let class = if r >= 1.0 { "good" } else { "bad" };
                        format!("<td class=\"num {class}\">{r:.2}&times;</td>")
                    }
                    _ => "<td class=\"num\">-</td>".into(),
                };
                s.push_str(&cell);
            }
            s.push_str("</tr>");
        }
    }
    s.push_str("</table>");
    s
}

/// Latency summaries, thread imbalance and integrity per series.
pub fn latency_table(group: &Group) -> String {
    let mut s = String::from(
        "<details><summary>latency summaries and integrity per pool</summary>\
         <table><tr><th>threads</th><th>pool</th><th>get mean</th><th>get p50</th><th>get p99</th><th>get p99.9</th>\
         <th>put p99</th><th>end-to-end p99</th><th>max get</th><th>thread imbalance</th>\
         <th>integrity</th></tr>",
    );
    for (threads, entries) in group {
        for e in entries {
            let r = e.result;
            let cell = |op: Op, pick: fn(&LatencyStats) -> f64| {
                r.summary(op)
                    .map(|x| fmt_ns(pick(x)))
                    .unwrap_or_else(|| "-".into())
            };
            let imbalance = match (r.per_thread_ops.iter().min(), r.per_thread_ops.iter().max()) {
                (Some(&lo), Some(&hi)) if hi > 0 => format!("min/max {:.2}", lo as f64 / hi as f64),
                _ => "-".into(),
            };
            let integrity = if r.integrity.is_clean() {
                "<td class=\"good\">clean</td>".to_string()
            } else {
                format!(
                    "<td class=\"bad\">{} dup, {} corrupt, {} lost</td>",
                    r.integrity.duplicates, r.integrity.corrupted, r.integrity.lost
                )
            };
            let _ = write!(
                s,
                "<tr><td class=\"num\">{threads}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{imbalance}</td>{integrity}</tr>",
                esc(&e.series),
                cell(Op::Get, |x| x.mean),
                cell(Op::Get, |x| x.p50 as f64),
                cell(Op::Get, |x| x.p99 as f64),
                cell(Op::Get, |x| x.p999 as f64),
                cell(Op::Put, |x| x.p99 as f64),
                cell(Op::EndToEnd, |x| x.p99 as f64),
                cell(Op::Get, |x| x.max as f64),
            );
        }
    }
    s.push_str("</table></details>");
    s
}
