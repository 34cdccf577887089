//! The summary: iobuf's throughput divided by crossbeam's, measured in the
//! same run, against threads, one line per tier (and file).

use std::collections::{BTreeMap, BTreeSet};

use super::axes::{linear_ticks, threads_axis, Axis};
use super::chart::{line_chart, visible_curves, Curve};
use super::html::slug;
use super::model::{ops_per_sec, Group};
use super::palette::{for_file, SERIES_COLORS};
use super::Plot;
use crate::results::TierName;

/// The summary plot of one scenario, if any case has both pools.
pub fn summary_plot(
    scenario: &str,
    groups: &BTreeMap<(String, TierName), Group>,
    labels: &[String],
    side_by_side: bool,
) -> Result<Option<Plot>, String> {
    let mut curves = Vec::new();
    let mut threads = BTreeSet::new();
    let mut max: f64 = 1.0;
    for ((s, tier), group) in groups {
        if s != scenario {
            continue;
        }
        let mut per_file: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
        for (t, entries) in group {
            let files: BTreeSet<usize> = entries.iter().map(|e| e.file).collect();
            for file in files {
                let find = |pool: &str| ops_per_sec(entries, file, pool);
                if let (Some(a), Some(b)) = (find("iobuf"), find("crossbeam")) {
                    if b > 0.0 {
                        threads.insert(*t);
                        max = max.max(a / b);
                        per_file
                            .entry(file)
                            .or_default()
                            .push(((*t as f64).log2(), a / b));
                    }
                }
            }
        }
        let tier_index = tier
            .0
            .parse::<iobuf_pool::Tier>()
            .map(|t| t as usize)
            .unwrap_or(0);
        for (file, points) in per_file {
            let base = SERIES_COLORS[tier_index % SERIES_COLORS.len()];
            let name = if side_by_side {
                format!("{} · {}", tier.0, labels[file])
            } else {
                tier.0.clone()
            };
            curves.push(Curve {
                name,
                style: for_file(base, file),
                points,
                markers: true,
            });
        }
    }
    if curves.is_empty() {
        return Ok(None);
    }
    let (top, ticks) = linear_ticks(max * 1.05, 5);
    let y = Axis {
        range: 0.0..top,
        ticks,
        light: Vec::new(),
        desc: "iobuf ÷ crossbeam throughput".into(),
        label: Box::new(|v| format!("{}×", (v * 100.0).round() / 100.0)),
    };
    let title = format!("{scenario}: iobuf throughput relative to crossbeam, per tier");
    let svg = line_chart(
        &title,
        (640, 420),
        &threads_axis(&threads),
        &y,
        &curves,
        Some(1.0),
    )?;
    Ok(Some(Plot {
        slug: slug(&format!("summary-{scenario}")),
        svg,
        curves: visible_curves(&curves),
    }))
}
