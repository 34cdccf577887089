//! `iobuf-bench compare`: the regression gate.
//!
//! (About 670 lines: matching, the two decision rules and the report of
//! what decided each row belong together; the spread arithmetic is in
//! `spread.rs`.)
//!
//! Absolute throughput on a shared CI machine drifts by tens of percent from
//! one run to the next (noisy neighbours, frequency scaling, another VM
//! size), so by default the gate compares iobuf against the baselines
//! measured in the same run: if the machine is slower, crossbeam and the
//! mutex pool are slower too and the ratio holds; if iobuf alone got slower,
//! the ratio drops. Absolute changes are always printed, and `--gate
//! absolute|both` gates on them for runs on a quiet, fixed machine.
//!
//! Cases are matched by their whole configuration ([`CaseKey`]: scenario
//! name, kind and params, tier, threads, producer/consumer layout, capacity,
//! open-loop rate) and pool; anything else is listed as unmatched and never
//! gated. A figure past the threshold regresses only when the two sides'
//! spreads do not overlap (see [`spread`]).

mod spread;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::format::{fmt_change, fmt_ns, fmt_rate};
use crate::results::{self, CaseKey, CaseResult, RunDoc};
use spread::{decide, Rule, Spread, Status};

/// Kept at this path for the exporters; defined in [`crate::pools`].
pub use crate::pools::GATE_RATIOS;

/// Compare a run against a baseline run; exit 1 on a regression.
#[derive(clap::Args, Debug, Clone)]
pub struct CompareArgs {
    /// BASELINE CURRENT: the reference run (e.g. results/ci-baseline.json)
    /// and the run to check; only CURRENT with --baseline NAME.
    #[arg(value_name = "FILE", num_args = 1..=2, required = true)]
    pub files: Vec<PathBuf>,
    /// A baseline saved by `run --save-baseline NAME` (kept in
    /// target/iobuf-bench/baselines/, or $IOBUF_BENCH_BASELINES), in place
    /// of the baseline file.
    #[arg(long = "baseline", value_name = "NAME")]
    pub baseline_name: Option<String>,
    /// Another run of the baseline's configuration (repeatable; a run of
    /// another configuration is refused): each pool's figure is then its
    /// best throughput over the runs, since noise on a shared machine only
    /// ever slows a run down, and the runs give the spread.
    #[arg(long = "baseline-repeat", value_name = "FILE")]
    pub baseline_repeats: Vec<PathBuf>,
    /// Another run of the current configuration (repeatable); best of the
    /// runs and their spread, as above.
    #[arg(long = "current-repeat", value_name = "FILE")]
    pub current_repeats: Vec<PathBuf>,
    /// Largest tolerated drop, as a fraction: 0.10 flags drops of more than
    /// 10% (when the spreads do not overlap either).
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
/// nothing regressed, 1 when something did. Unreadable or malformed input,
/// an unknown baseline name or a repeat of another configuration is an
/// `Err` (exit 2).
pub fn run(args: &CompareArgs) -> Result<i32, String> {
    if !(args.threshold.is_finite() && (0.0..1.0).contains(&args.threshold)) {
        return Err(format!(
            "--threshold must be a fraction in [0, 1), e.g. 0.10 for 10%; got {}",
            args.threshold
        ));
    }
    let (baseline_path, current_path) =
        match (&args.baseline_name, args.files.as_slice()) {
            (Some(name), [current]) => (crate::baselines::find(name)?, current.clone()),
            (Some(name), _) => {
                return Err(format!(
                    "with --baseline {name} give only the current run, not two files"
                ))
            }
            (None, [baseline, current]) => (baseline.clone(), current.clone()),
            (None, _) => return Err(
                "give the baseline and the current run (or --baseline NAME and the current run)"
                    .into(),
            ),
        };
    let load_all = |first: &PathBuf, more: &[PathBuf]| {
        let runs = std::iter::once(first)
            .chain(more)
            .map(|p| results::load(p))
            .collect::<Result<Vec<_>, _>>()?;
        check_repeats(&runs)?;
        Ok::<_, String>(runs)
    };
    let baseline = load_all(&baseline_path, &args.baseline_repeats)?;
    let current = load_all(&current_path, &args.current_repeats)?;
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

/// Each case of a run with its pools: what makes two runs the same
/// configuration.
fn configuration(run: &RunDoc) -> BTreeMap<CaseKey, BTreeSet<&str>> {
    let mut map: BTreeMap<CaseKey, BTreeSet<&str>> = BTreeMap::new();
    for r in &run.results {
        map.entry(r.key()).or_default().insert(r.pool.as_str());
    }
    map
}

/// Refuses repeats that measured another configuration than the first run
/// of their side: the error is one line saying what differs.
fn check_repeats(runs: &[RunDoc]) -> Result<(), String> {
    let Some((first, repeats)) = runs.split_first() else {
        return Ok(());
    };
    let want = configuration(first);
    for rep in repeats {
        let got = configuration(rep);
        if got == want {
            continue;
        }
        let head = format!(
            "{} is not a repeat of {}",
            rep.path.display(),
            first.path.display()
        );
        let missing = want.keys().find(|k| !got.contains_key(*k));
        let extra = got.keys().find(|k| !want.contains_key(*k));
        let why = match (extra, missing) {
            (Some(e), Some(m)) => {
                let d = e.differences(m);
                if d.is_empty() {
                    format!("case {e} differs")
                } else {
                    format!("case {m} differs: {}", d.join(", "))
                }
            }
            (Some(e), None) => format!("it has case {} that the other lacks", e.detail()),
            (None, Some(m)) => format!("it lacks case {}", m.detail()),
            (None, None) => want
                .iter()
                .find_map(|(k, pools)| {
                    let other = got.get(k).filter(|g| *g != pools)?;
                    Some(format!(
                        "case {k} measured other pools ({} vs {})",
                        join(other.iter()),
                        join(pools.iter())
                    ))
                })
                .unwrap_or_else(|| "the cases differ".into()),
        };
        return Err(format!("{head}: {why}"));
    }
    Ok(())
}

fn join<'a>(it: impl Iterator<Item = &'a &'a str>) -> String {
    it.copied().collect::<Vec<_>>().join(", ")
}

/// One pool's results in one case, one per run of the side, tagged with the
/// run's index.
type Runs<'a> = Vec<(usize, &'a CaseResult)>;
type Side<'a> = BTreeMap<CaseKey, BTreeMap<String, Runs<'a>>>;

/// Indexes the runs of one side by case and pool. Results an interrupted run
/// marked incomplete are set aside in `incomplete`.
fn side<'a>(runs: &'a [RunDoc], incomplete: &mut Vec<String>) -> Result<Side<'a>, String> {
    let mut out: Side = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        for (key, pools) in run.by_case()? {
            for (pool, r) in pools {
                if !r.is_complete() {
                    incomplete.push(format!("  {key} {pool} ({})", run.path.display()));
                    continue;
                }
                out.entry(key.clone())
                    .or_default()
                    .entry(pool)
                    .or_default()
                    .push((i, r));
            }
        }
    }
    Ok(out)
}

/// The result with the best throughput.
fn best<'a>(runs: &Runs<'a>) -> &'a CaseResult {
    runs.iter()
        .map(|(_, r)| *r)
        .max_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec))
        .expect("a pool entry holds at least one result")
}

/// Throughput samples of one result: its rounds, or its one figure.
fn samples(r: &CaseResult) -> Vec<f64> {
    let rounds = r.round_rates();
    if rounds.is_empty() {
        vec![r.ops_per_sec]
    } else {
        rounds
    }
}

fn throughput_spread(runs: &Runs) -> Option<Spread> {
    let all: Vec<f64> = runs.iter().flat_map(|(_, r)| samples(r)).collect();
    Spread::of(&all)
}

/// The spread of `num / den`: per round where both have as many rounds
/// (they ran round by round in one process), else one ratio per run.
fn ratio_spread(num: &Runs, den: &Runs) -> Option<Spread> {
    let mut all = Vec::new();
    for (i, n) in num {
        let Some((_, d)) = den.iter().find(|(j, _)| j == i) else {
            continue;
        };
        let (rn, rd) = (n.round_rates(), d.round_rates());
        if !rn.is_empty() && rn.len() == rd.len() {
            all.extend(
                rn.iter()
                    .zip(&rd)
                    .filter(|(_, d)| **d > 0.0)
                    .map(|(n, d)| n / d),
            );
        } else if d.ops_per_sec > 0.0 {
            all.push(n.ops_per_sec / d.ops_per_sec);
        }
    }
    Spread::of(&all)
}

fn relative_change(before: f64, after: f64) -> Option<f64> {
    (before > 0.0).then(|| after / before - 1.0)
}

fn ratio(pools: &BTreeMap<String, Runs>, num: &str, den: &str) -> Option<f64> {
    let n = best(pools.get(num)?).ops_per_sec;
    let d = best(pools.get(den)?).ops_per_sec;
    (d > 0.0).then(|| n / d)
}

/// A ratio with its spread where the samples differ: `1.333 [1.200–1.467]`.
fn with_spread(value: f64, spread: Option<Spread>) -> String {
    match spread {
        Some(s) if s.n > 1 && s.min < s.max => {
            format!("{value:.3} [{:.3}–{:.3}]", s.min, s.max)
        }
        _ => format!("{value:.3}"),
    }
}

/// A throughput with its spread relative to it where the samples differ:
/// `20 Mops/s [-10%, +5%]`.
fn rate_with_spread(value: f64, spread: Option<Spread>) -> String {
    match spread {
        Some(s) if s.n > 1 && s.min < s.max && value > 0.0 => format!(
            "{} [{:+.0}%, {:+.0}%]",
            fmt_rate(value),
            (s.min / value - 1.0) * 100.0,
            (s.max / value - 1.0) * 100.0
        ),
        _ => fmt_rate(value),
    }
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
            "          (each pool's best throughput over these {} runs; their spread is min–max over the runs' rounds or figures)",
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
    let settings: Vec<String> = ["pin", "duration_s", "warmup_s", "sample_every"]
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

/// The case of `other` most like `key` (same scenario name, fewest
/// differences), with what differs.
fn closest<'a, V>(
    key: &CaseKey,
    other: &'a BTreeMap<CaseKey, V>,
) -> Option<(&'a CaseKey, Vec<String>)> {
    other
        .keys()
        .filter(|k| k.scenario == key.scenario)
        .map(|k| (k, key.differences(k)))
        .min_by_key(|(k, d)| (k.threads != key.threads, k.tier != key.tier, d.len()))
}

/// Compares runs: `baseline` and `current` each hold one run or several
/// repeats of one configuration (best of them counts, all of them give the
/// spread); neither is empty.
pub fn compare(
    baseline: &[RunDoc],
    current: &[RunDoc],
    threshold: f64,
    gate: Gate,
) -> Result<Outcome, String> {
    let mut incomplete = Vec::new();
    let base = side(baseline, &mut incomplete)?;
    let cur = side(current, &mut incomplete)?;
    let common_pairs = base
        .iter()
        .filter_map(|(key, pools)| cur.get(key).map(|c| (pools, c)))
        .map(|(b, c)| b.keys().filter(|p| c.contains_key(*p)).count())
        .sum::<usize>();
    if common_pairs == 0 {
        let hint = base
            .keys()
            .find_map(|k| {
                let (o, d) = closest(k, &cur)?;
                (!d.is_empty()).then(|| format!(" ({k} vs {o}: {})", d.join(", ")))
            })
            .unwrap_or_default();
        return Err(format!(
            "{} and {} have no case (scenario, kind and params, tier, threads, layout, capacity, rate, pool) in common; nothing to compare{hint}",
            baseline[0].path.display(),
            current[0].path.display()
        ));
    }

    let mut out = String::new();
    let mut regressions = Vec::new();
    let pct = threshold * 100.0;
    describe_side(&mut out, "baseline:", baseline);
    describe_side(&mut out, "current:", current);
    describe_differences(&mut out, &baseline[0], &current[0]);
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
    let _ = writeln!(
        out,
        "rule: past the threshold is a regression only when the two sides' spreads \
         (min–max over rounds, or over repeat files) do not overlap; with one sample \
         a side the threshold decides alone. The \"decided by\" column says which rule did."
    );
    let mut threshold_only = 0usize;

    // Same-run ratios.
    let mut ratio_rows = Vec::new();
    let mut has_ratio: BTreeSet<(CaseKey, &str)> = BTreeSet::new();
    for (key, bpools) in &base {
        let Some(cpools) = cur.get(key) else { continue };
        for (num, den) in GATE_RATIOS {
            let (Some(b), Some(c)) = (ratio(bpools, num, den), ratio(cpools, num, den)) else {
                continue;
            };
            has_ratio.insert((key.clone(), num));
            let bs = ratio_spread(&bpools[num], &bpools[den]);
            let cs = ratio_spread(&cpools[num], &cpools[den]);
            let change = relative_change(b, c);
            let (status, rule) = decide(change, gate.ratios(), threshold, bs, cs);
            threshold_only += usize::from(rule == Rule::ThresholdOnly);
            if status == Status::Regression {
                regressions.push(format!(
                    "{key} {num}/{den} throughput ratio {b:.3} -> {c:.3} ({}; {rule})",
                    fmt_change(change.unwrap_or(0.0))
                ));
            }
            ratio_rows.push(vec![
                key.to_string(),
                format!("{num}/{den}"),
                with_spread(b, bs),
                with_spread(c, cs),
                change.map(fmt_change).unwrap_or_else(|| "n/a".into()),
                status.label().into(),
                rule.to_string(),
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
            &[
                "case",
                "ratio",
                "baseline",
                "current",
                "change",
                "status",
                "decided by",
            ],
            "llrrrrl",
            &ratio_rows,
        ));
    }

    // Absolute throughput, with p99 get latency for context.
    let mut abs_rows = Vec::new();
    for (key, bpools) in &base {
        let Some(cpools) = cur.get(key) else { continue };
        for pool in results::sorted_pools(bpools.keys()) {
            let bruns = &bpools[pool];
            let Some(cruns) = cpools.get(pool) else {
                continue;
            };
            let (b, c) = (best(bruns), best(cruns));
            let ours = crate::pools::is_iobuf(pool);
            let fallback =
                gate == Gate::Ratio && !has_ratio.contains(&(key.clone(), pool.as_str()));
            let gated = ours && (gate.absolute() || fallback);
            let (bs, cs) = (throughput_spread(bruns), throughput_spread(cruns));
            let change = relative_change(b.ops_per_sec, c.ops_per_sec);
            let (status, rule) = decide(change, gated, threshold, bs, cs);
            threshold_only += usize::from(rule == Rule::ThresholdOnly);
            if status == Status::Regression {
                regressions.push(format!(
                    "{key} {pool} throughput {} -> {} ({}; {rule}){}",
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
                rate_with_spread(b.ops_per_sec, bs),
                rate_with_spread(c.ops_per_sec, cs),
                change.map(fmt_change).unwrap_or_else(|| "n/a".into()),
                match (p99(b), p99(c)) {
                    (Some(x), Some(y)) => format!("{x} -> {y}"),
                    _ => "-".into(),
                },
                status.label().into(),
                rule.to_string(),
            ]);
        }
    }
    let _ = writeln!(out, "\nabsolute throughput:");
    out.push_str(&table(
        &[
            "case",
            "pool",
            "baseline",
            "current",
            "change",
            "get p99",
            "status",
            "decided by",
        ],
        "llrrrrrl",
        &abs_rows,
    ));
    if threshold_only > 0 {
        let _ = writeln!(
            out,
            "\nnote: {threshold_only} figure(s) had one sample a side (no rounds, no repeats), so \
             the threshold alone decided them; `run --runs N` or --baseline-repeat/--current-repeat \
             give spreads"
        );
    }

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

    let unmatched = |from: &Side, other: &Side, other_name: &str| {
        let mut lines = Vec::new();
        for (key, pools) in from {
            let gone: Vec<&str> = results::sorted_pools(pools.keys())
                .into_iter()
                .filter(|p| !other.get(key).is_some_and(|o| o.contains_key(*p)))
                .map(String::as_str)
                .collect();
            if gone.is_empty() {
                continue;
            }
            let why = if other.contains_key(key) {
                String::new()
            } else {
                match closest(key, other) {
                    Some((o, d)) if !d.is_empty() => {
                        format!("  [vs {other_name}'s {o}: {}]", d.join(", "))
                    }
                    _ => String::new(),
                }
            };
            lines.push(format!("  {key}: {}{why}", gone.join(", ")));
        }
        lines
    };
    let only_base = unmatched(&base, &cur, "the current run");
    let only_cur = unmatched(&cur, &base, "the baseline");
    if !only_base.is_empty() {
        let _ = writeln!(out, "\nin the baseline only (unmatched, not compared):");
        let _ = writeln!(out, "{}", only_base.join("\n"));
    }
    if !only_cur.is_empty() {
        let _ = writeln!(out, "\nin the current run only (unmatched, not compared):");
        let _ = writeln!(out, "{}", only_cur.join("\n"));
    }
    if !incomplete.is_empty() {
        let _ = writeln!(
            out,
            "\nincomplete (the run was interrupted; not compared):\n{}",
            incomplete.join("\n")
        );
    }

    if regressions.is_empty() {
        let _ = writeln!(
            out,
            "\nresult: PASS ({common_pairs} case/pool pairs compared, no regression past {pct:.1}%)"
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
