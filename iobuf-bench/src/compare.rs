//! `iobuf-bench compare`: the regression gate.
//!
//! Absolute throughput on a shared CI machine drifts by tens of percent from
//! one run to the next (noisy neighbours, frequency scaling, another VM
//! size), so by default the gate compares iobuf against the baselines
//! measured in the same run: if the machine is slower, crossbeam and the
//! mutex pool are slower too and the ratio holds; if iobuf alone got slower,
//! the ratio drops. Absolute changes are always printed, and `--gate
//! absolute|both` gates on them for runs on a quiet, fixed machine.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::format::{fmt_change, fmt_ns, fmt_rate};
use crate::results::{self, CaseKey, CaseResult, RunDoc};

/// Kept at this path for the exporters; defined in [`crate::pools`].
pub use crate::pools::GATE_RATIOS;

/// Compare a run against a baseline run; exit 1 on a regression.
#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// The reference run (e.g. results/ci-baseline.json).
    pub baseline: PathBuf,
    /// The run to check.
    pub current: PathBuf,
    /// Another run of the baseline's configuration (repeatable): each pool's
    /// figure is then its best throughput over the runs, since noise on a
    /// shared machine only ever slows a run down.
    #[arg(long = "baseline-repeat", value_name = "FILE")]
    pub baseline_repeats: Vec<PathBuf>,
    /// Another run of the current configuration (repeatable); best of the runs, as above.
    #[arg(long = "current-repeat", value_name = "FILE")]
    pub current_repeats: Vec<PathBuf>,
    /// Largest tolerated drop, as a fraction: 0.10 flags drops of more than 10%.
    #[arg(long, default_value_t = 0.10)]
    pub threshold: f64,
    /// Which figure fails the gate: same-run ratios (robust on shared
    /// machines), absolute throughput of iobuf's pools, or both.
    #[arg(long, value_enum, default_value_t = Gate::Ratio)]
    pub gate: Gate,
}

/// The figure the gate decides on.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// iobuf / crossbeam, iobuf / mutex, iobuf-fifo / crossbeam, iobuf-cached / crossbeam, measured in the same run.
    Ratio,
    /// Absolute throughput of iobuf's pools.
    Absolute,
    /// Both of the above.
    Both,
}

impl Gate {
    fn ratios(self) -> bool {
        matches!(self, Gate::Ratio | Gate::Both)
    }

    fn absolute(self) -> bool {
        matches!(self, Gate::Absolute | Gate::Both)
    }
}

/// Runs the comparison, prints the tables, and gives the exit code: 0 when
/// nothing regressed, 1 when something did. Unreadable or malformed input is
/// an `Err` (exit 2).
pub fn run(args: &CompareArgs) -> Result<i32, String> {
    if !(args.threshold.is_finite() && (0.0..1.0).contains(&args.threshold)) {
        return Err(format!(
            "--threshold must be a fraction in [0, 1), e.g. 0.10 for 10%; got {}",
            args.threshold
        ));
    }
    let load_all = |first: &PathBuf, more: &[PathBuf]| {
        std::iter::once(first)
            .chain(more)
            .map(|p| results::load(p))
            .collect::<Result<Vec<_>, _>>()
    };
    let baseline = load_all(&args.baseline, &args.baseline_repeats)?;
    let current = load_all(&args.current, &args.current_repeats)?;
    let outcome = compare(&baseline, &current, args.threshold, args.gate)?;
    print!("{}", outcome.text);
    Ok(if outcome.regressions.is_empty() { 0 } else { 1 })
}

/// What a comparison found.
pub struct Outcome {
    /// The printed tables and verdict.
    pub text: String,
    /// One line per regression; empty means the gate passes.
    pub regressions: Vec<String>,
}

/// A figure's verdict.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Gated and within the threshold.
    Ok,
    /// Gated and dropped past the threshold.
    Regression,
    /// Gated and rose past the threshold.
    Improved,
    /// Shown for context only.
    Info,
    /// Cannot be computed (a zero denominator).
    NotApplicable,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Regression => "REGRESSION",
            Status::Improved => "improved",
            Status::Info => "not gated",
            Status::NotApplicable => "n/a",
        }
    }
}

fn judge(change: Option<f64>, gated: bool, threshold: f64) -> Status {
    match change {
        None => Status::NotApplicable,
        Some(_) if !gated => Status::Info,
        Some(c) if c < -threshold => Status::Regression,
        Some(c) if c > threshold => Status::Improved,
        Some(_) => Status::Ok,
    }
}

fn relative_change(before: f64, after: f64) -> Option<f64> {
    (before > 0.0).then(|| after / before - 1.0)
}

fn ratio(pools: &BTreeMap<String, &CaseResult>, num: &str, den: &str) -> Option<f64> {
    let n = pools.get(num)?.ops_per_sec;
    let d = pools.get(den)?.ops_per_sec;
    (d > 0.0).then(|| n / d)
}

type ByCase<'a> = BTreeMap<CaseKey, BTreeMap<String, &'a CaseResult>>;

/// Merges repeated runs of one configuration: per case and pool, the result
/// with the best throughput.
fn best_of(runs: &[RunDoc]) -> Result<ByCase<'_>, String> {
    let mut best: ByCase = BTreeMap::new();
    for run in runs {
        for (key, pools) in run.by_case()? {
            let slot = best.entry(key).or_default();
            for (pool, r) in pools {
                let keep = slot
                    .get(&pool)
                    .is_some_and(|old| old.ops_per_sec >= r.ops_per_sec);
                if !keep {
                    slot.insert(pool, r);
                }
            }
        }
    }
    Ok(best)
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
            "          (each pool's best throughput over these {} runs)",
            runs.len()
        );
    }
}

/// Compares runs: `baseline` and `current` each hold one run or several
/// repeats of one configuration (best of them counts); neither is empty.
pub fn compare(
    baseline: &[RunDoc],
    current: &[RunDoc],
    threshold: f64,
    gate: Gate,
) -> Result<Outcome, String> {
    let base = best_of(baseline)?;
    let cur = best_of(current)?;
    let common_pairs = base
        .iter()
        .filter_map(|(key, pools)| cur.get(key).map(|c| (pools, c)))
        .map(|(b, c)| b.keys().filter(|p| c.contains_key(*p)).count())
        .sum::<usize>();
    if common_pairs == 0 {
        return Err(format!(
            "{} and {} have no case (scenario, tier, threads, pool) in common; nothing to compare",
            baseline[0].path.display(),
            current[0].path.display()
        ));
    }

    let mut out = String::new();
    let mut regressions = Vec::new();
    let pct = threshold * 100.0;
    describe_side(&mut out, "baseline:", baseline);
    describe_side(&mut out, "current:", current);
    if baseline[0].meta.host != current[0].meta.host {
        let _ = writeln!(
            out,
            "note: the runs come from different hosts; absolute figures say little, same-run ratios more"
        );
    }
    let gate_line = match gate {
        Gate::Ratio => format!(
            "gate: same-run throughput ratios ({}); a drop of more than {pct:.1}% fails. \
             Absolute changes are shown, not gated (iobuf pools without a same-run baseline \
             fall back to absolute).",
            ratio_names()
        ),
        Gate::Absolute => format!(
            "gate: absolute throughput of iobuf's pools; a drop of more than {pct:.1}% fails. \
             Same-run ratios are shown, not gated."
        ),
        Gate::Both => format!(
            "gate: same-run throughput ratios ({}) and absolute throughput of iobuf's pools; \
             a drop of more than {pct:.1}% in either fails.",
            ratio_names()
        ),
    };
    let _ = writeln!(out, "{gate_line}");

    // Same-run ratios.
    let mut ratio_rows = Vec::new();
    let mut has_ratio: BTreeMap<(CaseKey, &str), bool> = BTreeMap::new();
    for (key, bpools) in &base {
        let Some(cpools) = cur.get(key) else { continue };
        for (num, den) in GATE_RATIOS {
            let (Some(b), Some(c)) = (ratio(bpools, num, den), ratio(cpools, num, den)) else {
                continue;
            };
            has_ratio.insert((key.clone(), num), true);
            let change = relative_change(b, c);
            let status = judge(change, gate.ratios(), threshold);
            if status == Status::Regression {
                regressions.push(format!(
                    "{key} {num}/{den} throughput ratio {b:.3} -> {c:.3} ({})",
                    fmt_change(change.unwrap_or(0.0))
                ));
            }
            ratio_rows.push(vec![
                key.to_string(),
                format!("{num}/{den}"),
                format!("{b:.3}"),
                format!("{c:.3}"),
                change.map(fmt_change).unwrap_or_else(|| "n/a".into()),
                status.label().into(),
            ]);
        }
    }
    let _ = writeln!(out, "\nsame-run throughput ratios:");
    if ratio_rows.is_empty() {
        let _ = writeln!(
            out,
            "  none: no case has iobuf and a baseline pool in both runs"
        );
    } else {
        out.push_str(&table(
            &["case", "ratio", "baseline", "current", "change", "status"],
            &ratio_rows,
        ));
    }

    // Absolute throughput, with p99 get latency for context.
    let mut abs_rows = Vec::new();
    for (key, bpools) in &base {
        let Some(cpools) = cur.get(key) else { continue };
        for pool in results::sorted_pools(bpools.keys()) {
            let b = bpools[pool];
            let Some(c) = cpools.get(pool) else { continue };
            let ours = crate::pools::is_iobuf(pool);
            let fallback =
                gate == Gate::Ratio && !has_ratio.contains_key(&(key.clone(), pool.as_str()));
            let gated = ours && (gate.absolute() || fallback);
            let change = relative_change(b.ops_per_sec, c.ops_per_sec);
            let status = judge(change, gated, threshold);
            if status == Status::Regression {
                regressions.push(format!(
                    "{key} {pool} throughput {} -> {} ({}){}",
                    fmt_rate(b.ops_per_sec),
                    fmt_rate(c.ops_per_sec),
                    fmt_change(change.unwrap_or(0.0)),
                    if fallback && !gate.absolute() {
                        " [absolute: no same-run baseline]"
                    } else {
                        ""
                    }
                ));
            }
            let p99 = |r: &CaseResult| r.latency_ns.get.map(|s| fmt_ns(s.p99));
            abs_rows.push(vec![
                key.to_string(),
                pool.clone(),
                fmt_rate(b.ops_per_sec),
                fmt_rate(c.ops_per_sec),
                change.map(fmt_change).unwrap_or_else(|| "n/a".into()),
                match (p99(b), p99(c)) {
                    (Some(x), Some(y)) => format!("{x} -> {y}"),
                    _ => "-".into(),
                },
                status.label().into(),
            ]);
        }
    }
    let _ = writeln!(out, "\nabsolute throughput:");
    out.push_str(&table(
        &[
            "case", "pool", "baseline", "current", "change", "get p99", "status",
        ],
        &abs_rows,
    ));

    // Exactly-once failures are bugs, whatever the speed.
    for r in current.iter().flat_map(|run| &run.results) {
        if !r.integrity.is_clean() {
            regressions.push(format!("{} {} integrity: {}", r.key(), r.pool, r.integrity));
        }
    }
    for r in baseline.iter().flat_map(|run| &run.results) {
        if !r.integrity.is_clean() {
            let _ = writeln!(
                out,
                "\nnote: the baseline itself has integrity failures in {} {}: {}",
                r.key(),
                r.pool,
                r.integrity
            );
        }
    }

    let missing = |from: &ByCase, other: &ByCase| {
        let mut lines = Vec::new();
        for (key, pools) in from {
            let gone: Vec<&str> = results::sorted_pools(pools.keys())
                .into_iter()
                .filter(|p| !other.get(key).is_some_and(|o| o.contains_key(*p)))
                .map(String::as_str)
                .collect();
            if !gone.is_empty() {
                lines.push(format!("  {key}: {}", gone.join(", ")));
            }
        }
        lines
    };
    let only_base = missing(&base, &cur);
    let only_cur = missing(&cur, &base);
    if !only_base.is_empty() {
        let _ = writeln!(out, "\nin the baseline only (not compared):");
        let _ = writeln!(out, "{}", only_base.join("\n"));
    }
    if !only_cur.is_empty() {
        let _ = writeln!(out, "\nin the current run only (not compared):");
        let _ = writeln!(out, "{}", only_cur.join("\n"));
    }

    if regressions.is_empty() {
        let _ = writeln!(
            out,
            "\nresult: PASS ({common_pairs} case/pool pairs compared, nothing dropped more than {pct:.1}%)"
        );
    } else {
        let _ = writeln!(out, "\nresult: FAIL, {} regression(s):", regressions.len());
        for r in &regressions {
            let _ = writeln!(out, "  {r}");
        }
    }
    Ok(Outcome {
        text: out,
        regressions,
    })
}

fn ratio_names() -> String {
    GATE_RATIOS
        .iter()
        .map(|(n, d)| format!("{n}/{d}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A plain-text table: first column left-aligned, the rest right-aligned.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from(" ");
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let pad = w - cell.chars().count();
            s.push(' ');
            if i < 2 {
                s.push_str(cell);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
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
