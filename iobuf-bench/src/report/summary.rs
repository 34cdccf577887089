//! The summary: per scenario, one bar chart per thread count (of the small
//! tier, or the first tier the scenario ran), each pool's "vs base" (its
//! throughput over crossbeam's in the same round, median over the rounds)
//! as a bar, sorted, with the rounds' min–max as a whisker; the ceiling row
//! marked (grey, dashed, "harness limit"), the winner named, and whether its lead
//! is resolved (the 95% interval of its per-round ratio to the runner-up
//! excludes 1).
//!
//! Drawn as plain SVG rather than through plotters: each bar's outline is
//! a 2-px polyline in the bar's colour (a "data curve" the browser check
//! counts and contrast-checks), every colour from the palette's distinct
//! series colours, darkened for a second lap, never lightened.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::html::{esc, slug};
use super::model::{Entry, Group};
use super::palette::{contrast, BACKGROUND, MIN_CONTRAST, SERIES_COLORS};
use super::Plot;
use crate::document::read::{CaseResult, TierName};
use crate::pools::{CEILING, TRANSPORT};
use crate::vs_base;
use plotters::style::RGBColor;

/// One bar.
struct Bar {
    name: String,
    ratio: vs_base::Ratio,
    ceiling: bool,
}

/// The summary plots of one scenario, with their captions.
pub fn summary_plots(
    scenario: &str,
    groups: &BTreeMap<(String, TierName), Group>,
) -> Result<Vec<(Plot, String)>, String> {
    let tiers: Vec<&TierName> = groups
        .keys()
        .filter(|(s, _)| s == scenario)
        .map(|(_, t)| t)
        .collect();
    let Some(tier) = tiers
        .iter()
        .find(|t| t.0 == "small")
        .or_else(|| tiers.first())
    else {
        return Ok(Vec::new());
    };
    let group = &groups[&(scenario.to_string(), (*tier).clone())];
    let mut out = Vec::new();
    for (threads, entries) in group {
        // Each file's rows over its own crossbeam row.
        let mut bars = Vec::new();
        let mut rates: BTreeMap<String, (Vec<f64>, f64)> = BTreeMap::new();
        for e in entries {
            let Some(base) = entries
                .iter()
                .find(|b| b.file == e.file && b.result.pool == vs_base::BASE)
            else {
                continue;
            };
            if e.result.pool == TRANSPORT {
                continue;
            }
            let Some(ratio) = vs_base::ratio(
                &e.result.round_rates(),
                e.result.ops_per_sec,
                &base.result.round_rates(),
                base.result.ops_per_sec,
            ) else {
                continue;
            };
            rates.insert(
                e.series.clone(),
                (e.result.round_rates(), e.result.ops_per_sec),
            );
            bars.push(Bar {
                name: e.series.clone(),
                ratio,
                ceiling: e.result.pool == CEILING,
            });
        }
        if bars.is_empty() {
            continue;
        }
        bars.sort_by(|a, b| b.ratio.median.total_cmp(&a.ratio.median));
        let pools: Vec<&Bar> = bars.iter().filter(|b| !b.ceiling).collect();
        let verdict = match (pools.first(), pools.get(1)) {
            (Some(w), Some(r)) => {
                let (wr, wh) = &rates[&w.name];
                let (rr, rh) = &rates[&r.name];
                let resolved = vs_base::resolved(&vs_base::per_round(wr, *wh, rr, *rh));
                format!(
                    "winner: {} ({}), {}",
                    w.name,
                    match resolved {
                        Some(true) => "resolved",
                        Some(false) => "unresolved",
                        None => "unresolved: one round",
                    },
                    format_args!(
                        "{:.2}× {}",
                        w.ratio.median / r.ratio.median.max(1e-12),
                        r.name
                    )
                )
            }
            (Some(w), None) => format!("only {}", w.name),
            _ => "no pool".into(),
        };
        let verdict = match above_ceiling(entries) {
            Some(note) => format!("{verdict}; {note}"),
            None => verdict,
        };
        let title = format!("{scenario} · {} · {threads} thread(s)", tier.0);
        let svg = bar_chart(&title, &verdict, &bars)?;
        let plot = Plot {
            slug: slug(&format!("summary-{scenario}-{}-{threads}t", tier.0)),
            svg,
            curves: bars.len(),
        };
        let caption = format!(
            "{scenario}, tier {}, {threads} thread(s): each row's throughput ÷ crossbeam's in the \
             same round (bar: median over the rounds; whisker: min–max), sorted; the grey, dashed \
             ceiling row is the harness's own limit. {verdict}.",
            tier.0
        );
        out.push((plot, caption));
    }
    Ok(out)
}

/// The rows that reach their own file's ceiling row (see
/// [`vs_base::at_or_above_ceiling`]), as a note for the verdict; `None`
/// when none does.
fn above_ceiling(entries: &[Entry<'_>]) -> Option<String> {
    let mut files: Vec<usize> = entries.iter().map(|e| e.file).collect();
    files.sort_unstable();
    files.dedup();
    let names: Vec<String> = files
        .iter()
        .flat_map(|&f| {
            let rows: Vec<&CaseResult> = entries
                .iter()
                .filter(|e| e.file == f)
                .map(|e| e.result)
                .collect();
            vs_base::at_or_above_ceiling(&rows)
                .into_iter()
                .filter_map(|(r, v)| {
                    let e = entries
                        .iter()
                        .find(|e| e.file == f && std::ptr::eq(e.result, r))?;
                    Some(format!("{} {:.2}× the ceiling", e.series, v.median))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    (!names.is_empty()).then(|| {
        format!(
            "AT OR ABOVE THE CEILING (noise or a harness bug, not a lead): {}",
            names.join(", ")
        )
    })
}

/// Colour of the `i`-th bar: the series colours in order, darkened on
/// each further lap (darkening only raises their contrast with white).
fn color(i: usize) -> RGBColor {
    let base = SERIES_COLORS[i % SERIES_COLORS.len()];
    let lap = (i / SERIES_COLORS.len()) as f64;
    let k = 0.7f64.powf(lap);
    let d = |v: u8| (f64::from(v) * k).round() as u8;
    RGBColor(d(base.0), d(base.1), d(base.2))
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// The SVG of sorted horizontal bars with whiskers and a line at 1×.
fn bar_chart(title: &str, verdict: &str, bars: &[Bar]) -> Result<String, String> {
    const W: f64 = 640.0;
    const LEFT: f64 = 190.0;
    const RIGHT: f64 = 70.0;
    const TOP: f64 = 56.0;
    const ROW: f64 = 24.0;
    let h = TOP + ROW * bars.len() as f64 + 40.0;
    let max = bars
        .iter()
        .map(|b| b.ratio.max.max(b.ratio.median))
        .fold(1.0f64, f64::max)
        * 1.05;
    let x = |v: f64| LEFT + (W - LEFT - RIGHT) * v / max;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\">\
         <rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{h}\" fill=\"{}\"/>\
         <text x=\"{}\" y=\"22\" font-family=\"sans-serif\" font-size=\"17\" text-anchor=\"middle\">{}</text>\
         <text x=\"{}\" y=\"42\" font-family=\"sans-serif\" font-size=\"13\" text-anchor=\"middle\">{}</text>",
        hex(BACKGROUND),
        W / 2.0,
        esc(title),
        W / 2.0,
        esc(verdict)
    );
    for (i, b) in bars.iter().enumerate() {
        let c = color(i);
        if contrast(c, BACKGROUND) < MIN_CONTRAST {
            return Err(format!("bar {} would be nearly invisible", b.name));
        }
        let y0 = TOP + ROW * i as f64 + 3.0;
        let y1 = y0 + ROW - 6.0;
        let (x0, x1) = (x(0.0), x(b.ratio.median));
        // The ceiling: grey and dashed (nothing referenced by url(), which
        // the page's self-containment check refuses).
        let (fill, dash) = if b.ceiling {
            ("#BBBBBB".to_string(), " stroke-dasharray=\"6 3\"")
        } else {
            (hex(c), "")
        };
        let label = if b.ceiling {
            format!("{} (harness limit)", b.name)
        } else {
            b.name.clone()
        };
        let _ = write!(
            s,
            "<rect x=\"{x0:.1}\" y=\"{y0:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" fill-opacity=\"0.35\"/>\
             <polyline points=\"{x0:.1},{y0:.1} {x1:.1},{y0:.1} {x1:.1},{y1:.1} {x0:.1},{y1:.1} {x0:.1},{y0:.1}\" \
             fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash}/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"13\" text-anchor=\"end\">{}</text>",
            x1 - x0,
            y1 - y0,
            hex(c),
            LEFT - 6.0,
            y1 - 4.0,
            esc(&label)
        );
        if b.ratio.rounds > 1 && b.ratio.max > b.ratio.min {
            let (wl, wr, ym) = (x(b.ratio.min), x(b.ratio.max), (y0 + y1) / 2.0);
            let _ = write!(
                s,
                "<path d=\"M{wl:.1},{ym:.1}H{wr:.1}M{wl:.1},{:.1}V{:.1}M{wr:.1},{:.1}V{:.1}\" stroke=\"#222222\" stroke-width=\"1\" fill=\"none\"/>",
                ym - 5.0,
                ym + 5.0,
                ym - 5.0,
                ym + 5.0
            );
        }
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"12\">{:.2}×</text>",
            x(b.ratio.max.max(b.ratio.median)) + 4.0,
            y1 - 4.0,
            b.ratio.median
        );
    }
    // 1×: the base row.
    let one = x(1.0);
    let bottom = TOP + ROW * bars.len() as f64;
    let _ = write!(
        s,
        "<path d=\"M{one:.1},{:.1}V{bottom:.1}\" stroke=\"#555555\" stroke-width=\"1\" stroke-dasharray=\"4 3\"/>\
         <text x=\"{one:.1}\" y=\"{:.1}\" font-family=\"sans-serif\" font-size=\"12\" text-anchor=\"middle\">1× = crossbeam, same round</text></svg>",
        TOP - 4.0,
        bottom + 16.0
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_colours_stay_distinct_and_visible_for_many_rows() {
        let colours: Vec<RGBColor> = (0..30).map(color).collect();
        for (i, c) in colours.iter().enumerate() {
            assert!(contrast(*c, BACKGROUND) >= MIN_CONTRAST, "{i}: {c:?}");
            assert!(!colours[..i].contains(c), "{i} repeats");
        }
    }
}
