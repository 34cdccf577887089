//! Rendering a comparison: the two sides, the gate's rule, the tables of
//! same-run ratios and absolute throughput (each with its spread, change,
//! 95% interval, the smallest drop it could detect, and verdict), what
//! was not compared, and the result line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::decide::{Rule, Status};
use super::{Decided, Figure, Gate};
use crate::document::read::RunDoc;
use crate::format::{fmt_change, fmt_ns, fmt_rate};
use crate::pools::GATE_REFERENCES;

/// What the text needs besides the decisions.
pub struct Inputs<'a> {
    pub baseline: &'a [RunDoc],
    pub current: &'a [RunDoc],
    pub threshold: f64,
    pub gate: Gate,
    pub incomplete: &'a [String],
}

/// `[-12.0%, -3.1%]`.
pub fn fmt_interval(lo: f64, hi: f64) -> String {
    format!("[{}, {}]", fmt_change(lo), fmt_change(hi))
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (!v.is_empty()).then(|| {
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    })
}

/// A ratio's median with the samples' min–max: `1.333 [1.200–1.467]`.
fn ratio_cell(samples: &[f64]) -> String {
    let Some(m) = median(samples) else {
        return "n/a".into();
    };
    let (lo, hi) = min_max(samples);
    if samples.len() > 1 && lo < hi {
        format!("{m:.3} [{lo:.3}–{hi:.3}]")
    } else {
        format!("{m:.3}")
    }
}

/// A throughput's median with the samples' min–max relative to it:
/// `20 Mops/s [-10%, +5%]`.
fn rate_cell(samples: &[f64]) -> String {
    let Some(m) = median(samples) else {
        return "n/a".into();
    };
    let (lo, hi) = min_max(samples);
    if samples.len() > 1 && lo < hi && m > 0.0 {
        format!(
            "{} [{:+.0}%, {:+.0}%]",
            fmt_rate(m),
            (lo / m - 1.0) * 100.0,
            (hi / m - 1.0) * 100.0
        )
    } else {
        fmt_rate(m)
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

/// The change with its interval: `-35.0% [-40.1%, -29.6%]`.
fn change_cell(f: &Figure) -> String {
    match f.estimate {
        None => "n/a".into(),
        Some(e) => match e.interval {
            Some((lo, hi)) => format!("{} {}", fmt_change(e.change), fmt_interval(lo, hi)),
            None => fmt_change(e.change),
        },
    }
}

fn detect_cell(f: &Figure, threshold: f64) -> String {
    match f.detectable(threshold) {
        Some(d) => format!("{:.1}%", d * 100.0),
        None => "-".into(),
    }
}

pub(super) fn render(inp: &Inputs, d: &Decided) -> String {
    let mut out = String::new();
    let pct = inp.threshold * 100.0;
    describe_side(&mut out, "baseline:", inp.baseline);
    describe_side(&mut out, "current:", inp.current);
    describe_differences(&mut out, &inp.baseline[0], &inp.current[0]);
    // "ceiling, else crossbeam": the first both sides have.
    let refs = GATE_REFERENCES.join(", else ");
    let gate_line = match inp.gate {
        Gate::Ratio => format!(
            "gate: same-run throughput ratios (every iobuf row / {refs}, round by round); \
             a drop of more than {pct:.1}% fails. Absolute changes are shown, not gated (iobuf \
             rows without a same-run {refs} row fall back to absolute)."
        ),
        Gate::Absolute => format!(
            "gate: absolute throughput of iobuf's pools; a drop of more than {pct:.1}% fails. \
             Same-run ratios are shown, not gated."
        ),
        Gate::Both => format!(
            "gate: same-run throughput ratios (every iobuf row / {refs}) and absolute \
             throughput of iobuf's pools; a drop of more than {pct:.1}% in either fails."
        ),
    };
    let _ = writeln!(out, "{gate_line}");
    let _ = writeln!(
        out,
        "rule: a figure regresses when its drop is past the threshold and its 95% interval \
         (Welch's t on the logs of the per-round samples) lies below zero; past the threshold \
         with an interval that reaches zero is \"unresolved\" (more rounds decide it). \
         \"detects\" is the smallest drop these samples catch 95 times in 100 (at least the \
         threshold). A ratio whose reference row moved more than its own row is \"base moved\", \
         not the row's change."
    );

    let _ = writeln!(
        out,
        "\nsame-run throughput ratios (median [min–max] of the rounds):"
    );
    if d.ratios.is_empty() {
        let _ = writeln!(
            out,
            "  none: no case has an iobuf row and a reference row ({}) in both runs",
            GATE_REFERENCES.join(" or ")
        );
    } else {
        let rows: Vec<Vec<String>> = d
            .ratios
            .iter()
            .map(|f| {
                vec![
                    f.case.to_string(),
                    f.name.clone(),
                    ratio_cell(&f.base),
                    ratio_cell(&f.cur),
                    change_cell(f),
                    detect_cell(f, inp.threshold),
                    f.status.label().into(),
                    format!("{}{}", f.rule, f.note),
                ]
            })
            .collect();
        out.push_str(&table(
            &[
                "case",
                "ratio",
                "baseline",
                "current",
                "change [95% interval]",
                "detects",
                "status",
                "decided by",
            ],
            "llrrrrrl",
            &rows,
        ));
    }

    let _ = writeln!(
        out,
        "\nabsolute throughput (median [spread] of the rounds):"
    );
    let rows: Vec<Vec<String>> = d
        .absolute
        .iter()
        .map(|f| {
            vec![
                f.case.to_string(),
                f.name.clone(),
                rate_cell(&f.base),
                rate_cell(&f.cur),
                change_cell(f),
                match f.p99 {
                    Some((b, c)) => format!("{} -> {}", fmt_ns(b), fmt_ns(c)),
                    None => "-".into(),
                },
                f.status.label().into(),
                format!("{}{}", f.rule, f.note),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "case",
            "pool",
            "baseline",
            "current",
            "change [95% interval]",
            "get p99",
            "status",
            "decided by",
        ],
        "llrrrrrl",
        &rows,
    ));

    let gated: Vec<&Figure> = d
        .ratios
        .iter()
        .chain(&d.absolute)
        .filter(|f| f.gated)
        .collect();
    let threshold_only = gated
        .iter()
        .filter(|f| f.rule == Rule::ThresholdOnly)
        .count();
    if threshold_only > 0 {
        let _ = writeln!(
            out,
            "\nnote: {threshold_only} figure(s) had one sample a side (no rounds, no repeats), so \
             the threshold alone decided them; `run --runs N` or --baseline-repeat/--current-repeat \
             give intervals"
        );
    }
    let power: Vec<f64> = gated
        .iter()
        .filter_map(|f| f.detectable(inp.threshold))
        .collect();
    if !power.is_empty() {
        let (best, worst) = min_max(&power);
        let _ = writeln!(
            out,
            "\npower: on these samples the gate would catch a drop of {:.1}% in its most \
             steady figure and {:.1}% in its noisiest, 95 times in 100",
            best * 100.0,
            worst * 100.0
        );
    }
    let unresolved = gated
        .iter()
        .filter(|f| f.status == Status::Unresolved)
        .count();
    if unresolved > 0 {
        let _ = writeln!(
            out,
            "note: {unresolved} figure(s) unresolved: past the threshold, but within the noise; \
             rerun with more rounds (`run --runs N`) to decide them"
        );
    }
    for n in &d.integrity_notes {
        let _ = writeln!(out, "\n{n}");
    }
    if !d.only_base.is_empty() {
        let _ = writeln!(out, "\nin the baseline only (unmatched, not compared):");
        let _ = writeln!(out, "{}", d.only_base.join("\n"));
    }
    if !d.only_cur.is_empty() {
        let _ = writeln!(out, "\nin the current run only (unmatched, not compared):");
        let _ = writeln!(out, "{}", d.only_cur.join("\n"));
    }
    if !inp.incomplete.is_empty() {
        let _ = writeln!(
            out,
            "\nincomplete (the run was interrupted; not compared):\n{}",
            inp.incomplete.join("\n")
        );
    }
    if d.regressions.is_empty() {
        let _ = writeln!(
            out,
            "\nresult: PASS ({} case/pool pairs compared, no regression past {pct:.1}%)",
            d.common_pairs
        );
    } else {
        let _ = writeln!(
            out,
            "\nresult: FAIL, {} regression(s):",
            d.regressions.len()
        );
        for r in &d.regressions {
            let _ = writeln!(out, "  {r}");
        }
    }
    out
}

fn describe_side(out: &mut String, label: &str, runs: &[RunDoc]) {
    for (i, run) in runs.iter().enumerate() {
        let head = if i == 0 { label } else { "" };
        let _ = writeln!(out, "{head:<10}{}", run.path.display());
        if !run.describe().is_empty() {
            let _ = writeln!(out, "          {}", run.describe());
        }
    }
    if runs.len() > 1 {
        let _ = writeln!(
            out,
            "          (the rounds of these {} runs pool into one sample per figure)",
            runs.len()
        );
    }
}

/// Notes on what differs between the machines and the run settings that
/// are not part of a case's identity.
fn describe_differences(out: &mut String, base: &RunDoc, cur: &RunDoc) {
    let b: BTreeMap<_, _> = base.meta.host.settings().into_iter().collect();
    let c: BTreeMap<_, _> = cur.meta.host.settings().into_iter().collect();
    let host: Vec<String> = b
        .iter()
        .filter_map(|(k, v)| {
            let w = c.get(k)?;
            (v != w).then(|| format!("{k} {v} vs {w}"))
        })
        .collect();
    if !host.is_empty() {
        let _ = writeln!(
            out,
            "note: the machines differ ({}); absolute figures say little, same-run ratios more",
            host.join("; ")
        );
    }
    let settings: Vec<String> = ["pin", "duration_s", "warmup_s", "sample_every", "check"]
        .iter()
        .filter_map(|k| {
            let (v, w) = (base.config.get(*k)?, cur.config.get(*k)?);
            (v != w).then(|| format!("{k} {v} vs {w}"))
        })
        .collect();
    if !settings.is_empty() {
        let _ = writeln!(
            out,
            "note: the runs' settings differ ({})",
            settings.join("; ")
        );
    }
}

/// A plain-text table; `align` has one letter per column, `l` or `r`.
fn table(header: &[&str], align: &str, rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let left: Vec<bool> = align.chars().map(|c| c == 'l').collect();
    let line = |cells: Vec<&str>| {
        let mut s = String::from(" ");
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - cell.chars().count());
            s.push(' ');
            if left.get(i).copied().unwrap_or(false) {
                s.push_str(cell);
                s.push_str(&pad);
            } else {
                s.push_str(&pad);
                s.push_str(cell);
            }
            s.push(' ');
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
