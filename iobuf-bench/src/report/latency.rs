//! Latency percentile curves (HdrHistogram style): per case and operation,
//! one curve per series, percentile on a log scale of 1/(1-p), ns on a log
//! scale. Drawn from the full histogram where the document has one, else
//! from its summary percentiles.

use super::axes::Axis;
use super::chart::{line_chart, visible_curves, Curve};
use super::html::slug;
use super::model::Entry;
use super::palette::Palette;
use super::Plot;
use crate::document::read::{self as results, CaseResult, Op, TierName};
use crate::format::fmt_ns;

/// Furthest percentile axis position: 99.9999%.
const MAX_NINES: f64 = 6.0;

/// Percentile curve of one series as (nines, log10 ns): nines is
/// -log10(1 - q), so 1 is p90, 2 is p99, 3 is p99.9.
fn percentile_curve(
    r: &CaseResult,
    op: Op,
    warnings: &mut Vec<String>,
) -> Option<(Vec<(f64, f64)>, bool)> {
    let log_ns = |v: f64| v.max(1.0).log10();
    if let Some(text) = r.histogram_text(op) {
        match results::decode_histogram(text) {
            Ok(h) if !h.is_empty() => {
                let floor = 1.0 / h.len() as f64;
                let mut points: Vec<(f64, f64)> = h
                    .iter_quantiles(4)
                    .map(|v| {
                        let tail = (1.0 - v.quantile_iterated_to()).max(floor);
                        (
                            (-tail.log10()).min(MAX_NINES),
                            log_ns(v.value_iterated_to() as f64),
                        )
                    })
                    .collect();
                points.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
                return Some((points, false));
            }
            Ok(_) => {}
            Err(e) => warnings.push(format!(
                "{} {} {}: {e}; drawing its summary percentiles instead",
                r.key(),
                r.pool,
                op.label()
            )),
        }
    }
    let s = r.summary(op)?;
    let mut points = vec![
        (-(0.5f64).log10(), log_ns(s.p50 as f64)),
        (1.0, log_ns(s.p90 as f64)),
        (2.0, log_ns(s.p99 as f64)),
        (3.0, log_ns(s.p999 as f64)),
        (4.0, log_ns(s.p9999 as f64)),
    ];
    let max_at = match r.ops {
        0 => 5.0,
        n => (n as f64).log10().clamp(4.5, MAX_NINES),
    };
    points.push((max_at, log_ns(s.max as f64)));
    Some((points, true))
}

/// The percentile plot of one case and operation, if any series has it.
#[allow(clippy::too_many_arguments)]
pub fn latency_plot(
    scenario: &str,
    tier: &TierName,
    threads: u32,
    op: Op,
    entries: &[Entry],
    palette: &Palette,
    warnings: &mut Vec<String>,
) -> Result<Option<Plot>, String> {
    let mut curves = Vec::new();
    for e in entries {
        if let Some((points, markers)) = percentile_curve(e.result, op, warnings) {
            curves.push(Curve {
                name: e.series.clone(),
                style: palette.style(&e.result.pool, e.file),
                points,
                markers,
            });
        }
    }
    if curves.is_empty() {
        return Ok(None);
    }
    let all = curves.iter().flat_map(|c| c.points.iter());
    let x_max = all
        .clone()
        .map(|p| p.0)
        .fold(2.0, f64::max)
        .ceil()
        .min(MAX_NINES);
    let y_lo = all
        .clone()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .floor();
    let mut y_hi = all.map(|p| p.1).fold(f64::NEG_INFINITY, f64::max).ceil();
    if y_hi <= y_lo {
        y_hi = y_lo + 1.0;
    }
    let x = Axis {
        range: 0.0..x_max,
        ticks: (0..=x_max as i32).map(f64::from).collect(),
        // The median, unlabelled: its label would collide with 0%.
        light: vec![-(0.5f64).log10()],
        desc: "percentile".into(),
        label: Box::new(|v| {
            let q = 1.0 - 10f64.powf(-v);
            let s = format!("{:.4}", q * 100.0);
            format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
        }),
    };
    let decades = (y_hi - y_lo) as i32;
    let mut y_ticks = Vec::new();
    let mut y_light = Vec::new();
    for d in (y_lo as i32)..=(y_hi as i32) {
        y_ticks.push(f64::from(d));
        for m in [2.0f64, 5.0] {
            let v = f64::from(d) + m.log10();
            if v < y_hi {
                if decades <= 2 {
                    y_ticks.push(v);
                } else {
                    y_light.push(v);
                }
            }
        }
    }
    let y = Axis {
        range: y_lo..y_hi,
        ticks: y_ticks,
        light: y_light,
        desc: format!("{} latency", op.label()),
        label: Box::new(|v| fmt_ns(10f64.powf(v))),
    };
    let title = format!(
        "{scenario} · {tier} · {threads} threads: {} latency",
        op.label()
    );
    let svg = line_chart(&title, (640, 400), &x, &y, &curves, None)?;
    Ok(Some(Plot {
        slug: slug(&format!(
            "latency-{scenario}-{tier}-{threads}t-{}",
            op.key()
        )),
        svg,
        curves: visible_curves(&curves),
    }))
}
