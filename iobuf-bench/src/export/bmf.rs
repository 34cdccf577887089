//! Export to Bencher Metric Format (BMF) JSON, what `bencher run --adapter
//! json` reads:
//!
//! ```json
//! { "<benchmark name>": { "<measure>": { "value": 1.0, "lower_value": 0.9, "upper_value": 1.1 } } }
//! ```
//!
//! One benchmark per result, named like the github exports
//! (`scenario/tier/threads/pool`). Measures: `throughput` (operations per
//! second; `lower_value` and `upper_value` are the slowest and fastest
//! round where the document has repeats, and absent otherwise), and
//! `latency` and `latency-p99` (the get latency's median and p99, in ns),
//! and, for every row of a case that has the base row, `vs-crossbeam`:
//! "vs base" as everywhere (the median of the per-round ratios to
//! crossbeam, `lower_value`/`upper_value` their min and max).

use std::collections::BTreeMap;

use serde::Serialize;

use super::github::case_name;
use super::spread::Spread;
use crate::document::read::{Op, RunDoc};

/// One measure's figure.
#[derive(Debug, Serialize, PartialEq)]
pub struct Metric {
    /// The figure.
    pub value: f64,
    /// The low end of its spread, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_value: Option<f64>,
    /// The high end of its spread, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upper_value: Option<f64>,
}

impl Metric {
    fn plain(value: f64) -> Metric {
        Metric {
            value,
            lower_value: None,
            upper_value: None,
        }
    }
}

/// Benchmark name → measure → figure.
pub type Bmf = BTreeMap<String, BTreeMap<&'static str, Metric>>;

/// The BMF of a run; `spreads[i]` is the spread of `doc.results[i]`.
pub fn build(doc: &RunDoc, spreads: &[Option<Spread>]) -> Result<Bmf, String> {
    let mut out = Bmf::new();
    for (i, r) in doc.results.iter().enumerate() {
        let mut measures = BTreeMap::new();
        let spread = spreads.get(i).copied().flatten();
        measures.insert(
            "throughput",
            Metric {
                value: r.ops_per_sec,
                lower_value: spread.map(|s| s.min),
                upper_value: spread.map(|s| s.max),
            },
        );
        if r.pool != crate::vs_base::BASE {
            let base = doc
                .results
                .iter()
                .find(|b| b.pool == crate::vs_base::BASE && b.key() == r.key());
            if let Some(v) = base.and_then(|b| {
                crate::vs_base::ratio(
                    &r.round_rates(),
                    r.ops_per_sec,
                    &b.round_rates(),
                    b.ops_per_sec,
                )
            }) {
                let spread = v.rounds > 1;
                measures.insert(
                    "vs-crossbeam",
                    Metric {
                        value: v.median,
                        lower_value: spread.then_some(v.min),
                        upper_value: spread.then_some(v.max),
                    },
                );
            }
        }
        if let Some(s) = r.summary(Op::Get) {
            measures.insert("latency", Metric::plain(s.p50 as f64));
            measures.insert("latency-p99", Metric::plain(s.p99 as f64));
        }
        let name = case_name(r);
        if out.insert(name.clone(), measures).is_some() {
            return Err(format!(
                "{}: {name} appears more than once",
                doc.path.display()
            ));
        }
    }
    if out.is_empty() {
        return Err(format!(
            "{}: nothing to export (no results)",
            doc.path.display()
        ));
    }
    Ok(out)
}

/// [`build`] as pretty JSON ending in a newline.
pub fn render(doc: &RunDoc, spreads: &[Option<Spread>]) -> Result<String, String> {
    let bmf = build(doc, spreads)?;
    let mut json = serde_json::to_string_pretty(&bmf)
        .map_err(|e| format!("cannot serialise the export: {e}"))?;
    json.push('\n');
    Ok(json)
}
