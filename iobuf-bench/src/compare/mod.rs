//! `iobuf-bench compare`: the regression gate, in three steps:
//! [`matching`] pairs the two sides' results by case and pool, [`decide`]
//! turns each figure's samples into a change with a 95% interval and a
//! verdict, and [`render`] prints the tables and the result.
//!
//! Absolute throughput on a shared CI machine drifts by tens of percent
//! from one run to the next (noisy neighbours, frequency scaling, another
//! VM size), so by default every iobuf row is gated by its same-run ratio
//! to a reference row ([`GATE_REFERENCES`]: the ceiling, or crossbeam's
//! queue in documents without one), round by round: if the machine is
//! slower, the reference row is slower too and the ratio holds; if the
//! iobuf row alone got slower, the ratio drops. A ratio that moved because
//! the reference row moved more than the iobuf row is reported as that,
//! not as the iobuf row's change. Absolute changes are always printed, and
//! `--gate absolute|both` gates on them for runs on a quiet, fixed machine.

mod decide;
mod matching;
mod render;

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::document::read::{self as results, CaseKey, CaseResult, RunDoc};
use crate::pools::{is_iobuf, GATE_REFERENCES};
use decide::{blame, decide, estimate, smallest_detectable, Estimate, Rule};
use matching::{check_repeats, closest, rate_samples, ratio_samples, side, unmatched, Side};

pub use decide::{t_quantile, Status};

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
    /// another configuration is refused): its rounds join the baseline's
    /// samples.
    #[arg(long = "baseline-repeat", value_name = "FILE")]
    pub baseline_repeats: Vec<PathBuf>,
    /// Another run of the current configuration (repeatable): its rounds
    /// join the current samples.
    #[arg(long = "current-repeat", value_name = "FILE")]
    pub current_repeats: Vec<PathBuf>,
    /// Largest tolerated drop, as a fraction: 0.10 flags drops of more than
    /// 10% (when the 95% interval excludes no change as well).
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
    /// Every iobuf row over crossbeam, round by round in the same run.
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

/// Checks `--threshold`: a fraction in [0, 1).
pub fn check_threshold(threshold: f64) -> Result<(), String> {
    if threshold.is_finite() && (0.0..1.0).contains(&threshold) {
        Ok(())
    } else {
        Err(format!(
            "--threshold must be a fraction in [0, 1), e.g. 0.10 for 10%; got {threshold}"
        ))
    }
}

/// Runs the comparison, prints the tables, and gives the exit code: 0 when
/// nothing regressed, 1 when something did. Unreadable or malformed input,
/// an unknown baseline name or a repeat of another configuration is an
/// `Err` (exit 2).
pub fn run(args: &CompareArgs) -> Result<i32, String> {
    check_threshold(args.threshold)?;
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
    /// Every figure the gate decided on (gated rows only).
    pub gated: Vec<Figure>,
}

/// One compared figure: a same-run ratio, or a pool's absolute throughput.
#[derive(Debug, Clone)]
pub struct Figure {
    pub case: CaseKey,
    /// `iobuf/crossbeam`, or the pool's name.
    pub name: String,
    /// The baseline's and current samples (per round, over repeats).
    pub base: Vec<f64>,
    pub cur: Vec<f64>,
    pub estimate: Option<Estimate>,
    pub status: Status,
    pub rule: Rule,
    /// Whether this figure can fail the gate.
    pub gated: bool,
    /// Said after the rule: why the row was gated this way, or what moved.
    pub note: String,
    /// Get p99 before and after (absolute rows).
    pub p99: Option<(f64, f64)>,
}

impl Figure {
    /// The smallest drop the gate could have caught on this figure.
    pub fn detectable(&self, threshold: f64) -> Option<f64> {
        self.estimate
            .as_ref()
            .and_then(|e| smallest_detectable(e, threshold))
    }
}

/// What [`decide_all`] found: the figures, and what was not compared.
struct Decided {
    ratios: Vec<Figure>,
    absolute: Vec<Figure>,
    regressions: Vec<String>,
    integrity_notes: Vec<String>,
    only_base: Vec<String>,
    only_cur: Vec<String>,
    common_pairs: usize,
}

/// Compares runs: `baseline` and `current` each hold one run or several
/// repeats of one configuration (their rounds pool into one sample per
/// side); neither is empty.
pub fn compare(
    baseline: &[RunDoc],
    current: &[RunDoc],
    threshold: f64,
    gate: Gate,
) -> Result<Outcome, String> {
    let mut incomplete = Vec::new();
    let base = side(baseline, &mut incomplete)?;
    let cur = side(current, &mut incomplete)?;
    let d = decide_all(&base, &cur, baseline, current, threshold, gate);
    if d.common_pairs == 0 {
        let hint = base
            .keys()
            .find_map(|k| {
                let (o, diff) = closest(k, &cur)?;
                (!diff.is_empty()).then(|| format!(" ({k} vs {o}: {})", diff.join(", ")))
            })
            .unwrap_or_default();
        return Err(format!(
            "{} and {} have no case (scenario, kind and params, tier, threads, layout, capacity, rate, pool) in common; nothing to compare{hint}",
            baseline[0].path.display(),
            current[0].path.display()
        ));
    }
    let text = render::render(
        &render::Inputs {
            baseline,
            current,
            threshold,
            gate,
            incomplete: &incomplete,
        },
        &d,
    );
    let gated = d
        .ratios
        .iter()
        .chain(&d.absolute)
        .filter(|f| f.gated)
        .cloned()
        .collect();
    Ok(Outcome {
        text,
        regressions: d.regressions,
        gated,
    })
}

fn decide_all(
    base: &Side,
    cur: &Side,
    baseline: &[RunDoc],
    current: &[RunDoc],
    threshold: f64,
    gate: Gate,
) -> Decided {
    let mut regressions = Vec::new();
    let mut ratios = Vec::new();
    let mut has_ratio: BTreeSet<(CaseKey, String)> = BTreeSet::new();
    let mut common_pairs = 0;
    for (key, bpools) in base {
        let Some(cpools) = cur.get(key) else { continue };
        common_pairs += bpools.keys().filter(|p| cpools.contains_key(*p)).count();
        let Some((reference, bden, cden)) = GATE_REFERENCES
            .iter()
            .find_map(|r| Some((*r, bpools.get(*r)?, cpools.get(*r)?)))
        else {
            continue;
        };
        for pool in results::sorted_pools(bpools.keys()) {
            let (true, Some(cnum)) = (is_iobuf(pool), cpools.get(pool)) else {
                continue;
            };
            let bnum = &bpools[pool];
            has_ratio.insert((key.clone(), pool.clone()));
            let (bs, cs) = (ratio_samples(bnum, bden), ratio_samples(cnum, cden));
            let est = estimate(&bs, &cs);
            let num = estimate(&rate_samples(bnum), &rate_samples(cnum)).map(|e| e.change);
            let den = estimate(&rate_samples(bden), &rate_samples(cden)).map(|e| e.change);
            let (status, rule) = blame(decide(est, gate.ratios(), threshold), num, den);
            let note = match (status, num, den) {
                (Status::BaseMoved, Some(n), Some(d)) => format!(
                    " ({reference} {}, {pool} {})",
                    crate::format::fmt_change(d),
                    crate::format::fmt_change(n)
                ),
                _ => String::new(),
            };
            let name = format!("{pool}/{reference}");
            if status == Status::Regression {
                regressions.push(regression_line(key, &name, "throughput ratio", est, rule));
            }
            ratios.push(Figure {
                case: key.clone(),
                name,
                base: bs,
                cur: cs,
                estimate: est,
                status,
                rule,
                gated: gate.ratios(),
                note,
                p99: None,
            });
        }
    }

    let mut absolute = Vec::new();
    for (key, bpools) in base {
        let Some(cpools) = cur.get(key) else { continue };
        for pool in results::sorted_pools(bpools.keys()) {
            let bruns = &bpools[pool];
            let Some(cruns) = cpools.get(pool) else {
                continue;
            };
            let fallback = gate == Gate::Ratio && !has_ratio.contains(&(key.clone(), pool.clone()));
            let gated = is_iobuf(pool) && (gate.absolute() || fallback);
            let (bs, cs) = (rate_samples(bruns), rate_samples(cruns));
            let est = estimate(&bs, &cs);
            let (status, rule) = decide(est, gated, threshold);
            let note = if gated && fallback && !gate.absolute() {
                format!(
                    " [absolute: no same-run {} row]",
                    GATE_REFERENCES.join(" or ")
                )
            } else {
                String::new()
            };
            if status == Status::Regression {
                let mut line = regression_line(key, pool, "throughput", est, rule);
                line.push_str(&note);
                regressions.push(line);
            }
            let p99 = |runs: &matching::Runs| Some(median_result(runs).latency_ns.get.p99 as f64);
            absolute.push(Figure {
                case: key.clone(),
                name: pool.clone(),
                base: bs,
                cur: cs,
                estimate: est,
                status,
                rule,
                gated,
                note,
                p99: p99(bruns).zip(p99(cruns)),
            });
        }
    }

    // Exactly-once failures are bugs, whatever the speed.
    for r in current.iter().flat_map(|run| &run.results) {
        if !r.integrity.is_clean() {
            regressions.push(format!("{} {} integrity: {}", r.key(), r.pool, r.integrity));
        }
    }
    let integrity_notes = baseline
        .iter()
        .flat_map(|run| &run.results)
        .filter(|r| !r.integrity.is_clean())
        .map(|r| {
            format!(
                "note: the baseline itself has integrity failures in {} {}: {}",
                r.key(),
                r.pool,
                r.integrity
            )
        })
        .collect();
    Decided {
        ratios,
        absolute,
        regressions,
        integrity_notes,
        only_base: unmatched(base, cur, "the current run"),
        only_cur: unmatched(cur, base, "the baseline"),
        common_pairs,
    }
}

/// The result whose throughput is the side's median (for the latency
/// shown beside a throughput).
fn median_result<'a>(runs: &matching::Runs<'a>) -> &'a CaseResult {
    let mut v: Vec<&CaseResult> = runs.iter().map(|(_, r)| *r).collect();
    v.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
    v[v.len() / 2]
}

fn regression_line(
    key: &CaseKey,
    name: &str,
    what: &str,
    est: Option<Estimate>,
    rule: Rule,
) -> String {
    let change = est.map(|e| e.change).unwrap_or(0.0);
    let interval = est
        .and_then(|e| e.interval)
        .map(|(lo, hi)| format!(", 95% interval {}", render::fmt_interval(lo, hi)))
        .unwrap_or_default();
    format!(
        "{key} {name} {what} {}{interval} ({rule})",
        crate::format::fmt_change(change)
    )
}
