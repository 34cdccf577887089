//! Throughput against worker threads, one line per series.

use std::collections::BTreeSet;

use super::axes::{linear_ticks, threads_axis, Axis};
use super::chart::{line_chart, visible_curves, Curve};
use super::html::slug;
use super::model::{Entry, Group};
use super::palette::Palette;
use super::Plot;
use crate::document::read::TierName;
use crate::format::fmt_count;
use crate::pools::rank as pool_rank;

/// The throughput plot of one (scenario, tier).
pub fn throughput_plot(
    scenario: &str,
    tier: &TierName,
    group: &Group,
    palette: &Palette,
) -> Result<Plot, String> {
    let threads: BTreeSet<u32> = group.keys().copied().collect();
    let mut entries: Vec<&Entry> = group.values().flatten().collect();
    // Stable sort keeps thread order within a series.
    entries.sort_by(|a, b| {
        (pool_rank(&a.result.pool), a.file).cmp(&(pool_rank(&b.result.pool), b.file))
    });
    let mut curves: Vec<Curve> = Vec::new();
    for e in entries {
        let point = ((e.result.threads as f64).log2(), e.result.ops_per_sec);
        match curves.last_mut() {
            Some(c) if c.name == e.series => c.points.push(point),
            _ => curves.push(Curve {
                name: e.series.clone(),
                style: palette.style(&e.result.pool, e.file),
                points: vec![point],
                markers: true,
            }),
        }
    }
    let max = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .fold(0.0, f64::max);
    let (top, ticks) = linear_ticks(max * 1.05, 5);
    let y = Axis {
        range: 0.0..top,
        ticks,
        light: Vec::new(),
        desc: "operations / s".into(),
        label: Box::new(fmt_count),
    };
    let title = format!("{scenario} · {tier}: throughput vs threads");
    let svg = line_chart(
        &title,
        (720, 420),
        &threads_axis(&threads),
        &y,
        &curves,
        None,
    )?;
    Ok(Plot {
        slug: slug(&format!("throughput-{scenario}-{tier}")),
        svg,
        curves: visible_curves(&curves),
    })
}
