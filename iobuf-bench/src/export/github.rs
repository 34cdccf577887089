//! `iobuf-bench export`: its arguments, and the github formats.
//!
//! The github formats are the JSON that github-action-benchmark reads with
//! its `customBiggerIsBetter` and `customSmallerIsBetter` tools: an array
//! of `{"name", "unit", "value", "range"?, "extra"?}`, one per tracked
//! figure. The action keys its history on `name`, so names are stable and
//! carry the whole case: `scenario/tier/threads/pool metric`. `range` is
//! the spread over the rounds (half the min–max), where the run has
//! rounds. The other
//! formats are in [`super::markdown`] and [`super::bmf`].

use std::path::PathBuf;

use serde::Serialize;

use super::{atomic, bmf, markdown, spread};
use crate::document::read::{self as results, CaseResult, Op, RunDoc};
use crate::pools::is_iobuf;
use crate::vs_base;

/// Convert a run to github-action-benchmark's custom JSON, a Markdown
/// table, or Bencher's BMF JSON.
#[derive(clap::Args, Debug, Clone)]
pub struct ExportArgs {
    /// github-bigger: throughput and same-run ratios (customBiggerIsBetter);
    /// github-smaller: p99 and p99.9 latencies (customSmallerIsBetter);
    /// markdown: a table for a pull-request comment; bmf: Bencher Metric
    /// Format JSON.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The run document to convert.
    pub run: PathBuf,
    /// Write here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What to export.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Throughput (ops/s) and same-run throughput ratios, for customBiggerIsBetter.
    #[value(name = "github-bigger")]
    GithubBigger,
    /// p99 and p99.9 latencies (ns), for customSmallerIsBetter.
    #[value(name = "github-smaller")]
    GithubSmaller,
    /// A GitHub-flavoured Markdown table: pool, throughput, ratio to the
    /// best baseline, p99s.
    #[value(name = "markdown")]
    Markdown,
    /// Bencher Metric Format JSON.
    #[value(name = "bmf")]
    Bmf,
}

/// One figure as github-action-benchmark reads it.
#[derive(Debug, Serialize, PartialEq)]
pub struct Entry {
    /// Stable identity of the figure across runs.
    pub name: String,
    /// Unit shown on the dashboard.
    pub unit: String,
    /// The figure.
    pub value: f64,
    /// Its spread over the rounds, `± half the min–max`, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// Free text the dashboard shows next to the value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<String>,
}

/// Writes the export (with `--out`, atomically: all of it or nothing).
pub fn run(args: &ExportArgs) -> Result<(), String> {
    let doc = results::load(&args.run)?;
    let text = match args.format {
        ExportFormat::GithubBigger | ExportFormat::GithubSmaller => {
            let entries = entries(&doc, args.format)?;
            let mut json = serde_json::to_string_pretty(&entries)
                .map_err(|e| format!("cannot serialise the export: {e}"))?;
            json.push('\n');
            json
        }
        ExportFormat::Markdown => markdown::render(&doc, &spread::load(&args.run)?)?,
        ExportFormat::Bmf => bmf::render(&doc, &spread::load(&args.run)?)?,
    };
    match &args.out {
        Some(path) => {
            if atomic::same_file(path, &args.run) {
                return Err(format!(
                    "--out {} is the input file; refusing to overwrite it",
                    path.display()
                ));
            }
            atomic::write(path, text.as_bytes())
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// A result's stable name: `scenario/tier/threads/pool`.
pub fn case_name(r: &CaseResult) -> String {
    format!("{}/{}/{}t/{}", r.scenario, r.tier, r.threads, r.pool)
}

fn case_extra(r: &CaseResult) -> Option<String> {
    let mut parts = Vec::new();
    // Only where threads split into producers and consumers (the case
    // key's layout): in pairs every thread takes and returns.
    if let Some((p, c)) = r.key().layout {
        parts.push(format!("{p} producers, {c} consumers"));
    }
    parts.push(format!("capacity {}", r.capacity));
    parts.push(format!("{} ops in {:.2} s", r.ops, r.duration_s));
    // The iobuf pools' own statistics of the measured window.
    if let Some(ps) = &r.pool_stats {
        parts.push(format!("{} failed try_gets", ps.failed_try_gets));
        parts.push(format!(
            "peak in use >= {}/{} (sampled)",
            ps.peak_in_use_sampled, ps.capacity
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The figures of one github format, in document order.
pub fn entries(doc: &RunDoc, format: ExportFormat) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    match format {
        ExportFormat::Markdown | ExportFormat::Bmf => {
            return Err(format!("{format:?} is not a github format"));
        }
        ExportFormat::GithubBigger => {
            for r in &doc.results {
                let rounds = r.round_rates();
                let range = (rounds.len() > 1).then(|| {
                    let s = vs_base::summarise(&rounds).expect("rounds are finite");
                    format!("± {:.0}", (s.max - s.min) / 2.0)
                });
                out.push(Entry {
                    name: format!("{} throughput", case_name(r)),
                    unit: "ops/s".into(),
                    value: r.ops_per_sec,
                    range,
                    extra: case_extra(r),
                });
            }
            // Ratios are what stays comparable on a dashboard fed by
            // different CI machines: every iobuf row over the base row,
            // "vs base" as everywhere (median of the per-round ratios).
            for (key, pools) in doc.by_case()? {
                let Some(base) = pools.get(vs_base::BASE) else {
                    continue;
                };
                for (pool, r) in &pools {
                    if !is_iobuf(pool) {
                        continue;
                    }
                    let Some(v) = vs_base::ratio(
                        &r.round_rates(),
                        r.ops_per_sec,
                        &base.round_rates(),
                        base.ops_per_sec,
                    ) else {
                        continue;
                    };
                    out.push(Entry {
                        name: format!("{key}/{pool}/{} throughput ratio", vs_base::BASE),
                        unit: "x".into(),
                        value: v.median,
                        range: (v.rounds > 1).then(|| format!("± {:.3}", (v.max - v.min) / 2.0)),
                        extra: Some(format!(
                            "vs {}: same-round ratio, median of {} round(s), min–max {:.3}–{:.3}",
                            vs_base::BASE,
                            v.rounds,
                            v.min,
                            v.max
                        )),
                    });
                }
            }
        }
        ExportFormat::GithubSmaller => {
            for r in &doc.results {
                for op in Op::ALL {
                    let Some(s) = r.summary(op) else { continue };
                    for (label, value) in [("p99", s.p99), ("p99.9", s.p999)] {
                        out.push(Entry {
                            name: format!("{} {} latency {label}", case_name(r), op.label()),
                            unit: "ns".into(),
                            value: value as f64,
                            range: None,
                            extra: case_extra(r),
                        });
                    }
                }
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "{}: nothing to export (no results{})",
            doc.path.display(),
            if format == ExportFormat::GithubSmaller {
                " with latency summaries"
            } else {
                ""
            }
        ));
    }
    Ok(out)
}
