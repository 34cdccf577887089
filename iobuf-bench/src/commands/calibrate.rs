//! `calibrate`: how much the gate of `compare` can see on this machine.
//!
//! Each trial measures one baseline run and one current run of the same
//! build (A against A), and one more current run per injected slowdown:
//! the row under test (`--slow-row`, default `iobuf`) spins after every
//! put for as long as makes it the given fraction slower, with the spin's
//! cost and the row's per-operation time measured here first, and the
//! spinning corrected after each trial from the drop it measured (so that
//! the drops injected converge on the ones asked for). Each
//! current run is compared with the trial's baseline by the gate itself
//! ([`crate::compare::compare`], same-run ratios). Reported: how often
//! A against A failed (false alarms), how often each slowdown was caught,
//! and the smallest slowdown caught in at least 19 trials of 20.
//!
//! Every run uses the `run` options given (so calibrate what CI runs),
//! with the ceiling row the gate divides by.

use crate::bench::Slowdown;
use crate::cli::RunArgs;
use crate::compare::{self, Gate};
use crate::document;
use crate::document::read as results;
use crate::exit::Failure;
use crate::export::atomic;
use crate::plan;
use serde::Serialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Options of `iobuf-bench calibrate`.
#[derive(Debug, Clone, clap::Args)]
pub struct CalibrateArgs {
    /// Trials (each: a baseline, an A-against-A run, one run per slowdown).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub trials: u32,
    /// Slowdowns to inject, fractions, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.05,0.1,0.25", value_parser = Slowdown::parse_fraction)]
    pub slowdowns: Vec<f64>,
    /// The row slowed down (one of --pools, an iobuf row).
    #[arg(long, default_value = "iobuf")]
    pub slow_row: String,
    /// Runs a side, each its own process, compared as `compare`'s
    /// `--baseline-repeat` / `--current-repeat` files are (their rounds
    /// pooled): a baseline of several processes averages the between-process
    /// shifts that one run cannot.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub repeats: u32,
    /// The gate's threshold, as `compare --threshold`.
    #[arg(long, default_value_t = 0.10)]
    pub threshold: f64,
    /// Names the machine in the JSON ("2-vCPU shared VM, ...").
    #[arg(long, default_value = "")]
    pub machine: String,
    /// Write the calibration's JSON here.
    #[arg(long = "calibration-out", value_name = "FILE")]
    pub calibration_out: Option<PathBuf>,
    /// The runs' options, as `run` takes them.
    #[command(flatten)]
    pub run: RunArgs,
}

/// What calibrate found, as written to JSON.
#[derive(Debug, Serialize)]
pub struct Calibration {
    pub schema: &'static str,
    pub machine: String,
    pub meta: document::Meta,
    pub settings: serde_json::Value,
    pub a_vs_a: AvsA,
    pub slowdowns: Vec<Caught>,
    /// The smallest injected slowdown caught in at least 95% of trials.
    pub smallest_caught_19_of_20: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct AvsA {
    pub trials: u32,
    pub false_alarms: u32,
    pub false_alarm_rate: f64,
    /// The median, over trials, of the smallest drop the gate could have
    /// detected in the slowed row's ratio.
    pub detectable_median: Option<f64>,
    /// Each false alarm's first regression line.
    pub alarms: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Caught {
    pub slowdown: f64,
    pub trials: u32,
    pub caught: u32,
    pub caught_rate: f64,
    /// The median measured drop of the slowed row's ratio.
    pub measured_drop_median: Option<f64>,
}

/// Runs `calibrate`.
pub fn run(args: &CalibrateArgs) -> Result<(), Failure> {
    compare::check_threshold(args.threshold).map_err(Failure::Input)?;
    let plan = plan::resolve(&args.run).map_err(Failure::Input)?;
    let names: Vec<&str> = plan.cases.iter().map(|c| c.target.name()).collect();
    if !names.contains(&args.slow_row.as_str()) || !crate::pools::is_iobuf(&args.slow_row) {
        return Err(Failure::Input(format!(
            "--slow-row '{}' is not an iobuf row of this run (rows: {})",
            args.slow_row,
            names.join(", ")
        )));
    }
    if let Some(path) = &args.calibration_out {
        atomic::check_writable(path).map_err(|e| {
            Failure::Input(format!(
                "cannot write --calibration-out '{}': {e}",
                path.display()
            ))
        })?;
    }
    crate::interrupt::install();
    let meta = crate::host::meta();
    let options = run_options();
    let say = |line: String| {
        if !args.run.quiet {
            eprintln!("{line}");
        }
    };

    let mut alarms = Vec::new();
    let mut false_alarms = 0;
    let mut detectable = Vec::new();
    let mut caught = vec![0u32; args.slowdowns.len()];
    let mut drops: Vec<Vec<f64>> = vec![Vec::new(); args.slowdowns.len()];
    for trial in 0..args.trials {
        let base = measure_side(&options, None, "baseline", args.repeats)?;
        let again = measure_side(&options, None, "current", args.repeats)?;
        let outcome = compare::compare(&base, &again, args.threshold, Gate::Ratio)
            .map_err(Failure::Runtime)?;
        if let Some(first) = outcome.regressions.first() {
            false_alarms += 1;
            alarms.push(first.clone());
        }
        if let Some(d) =
            slowed_figure(&outcome, &args.slow_row).and_then(|f| f.detectable(args.threshold))
        {
            detectable.push(d);
        }
        let mut line = format!(
            "trial {}/{}: A vs A {}",
            trial + 1,
            args.trials,
            if outcome.regressions.is_empty() {
                "pass"
            } else {
                "FALSE ALARM"
            }
        );
        for (k, &s) in args.slowdowns.iter().enumerate() {
            let slow = Slowdown {
                row: args.slow_row.clone(),
                fraction: s,
            };
            let slowed = measure_side(&options, Some(&slow), "slowed", args.repeats)?;
            let o = compare::compare(&base, &slowed, args.threshold, Gate::Ratio)
                .map_err(Failure::Runtime)?;
            let fig = slowed_figure(&o, &args.slow_row);
            let hit = fig.is_some_and(|f| f.status == compare::Status::Regression);
            caught[k] += u32::from(hit);
            if let Some(e) = fig.and_then(|f| f.estimate) {
                drops[k].push(-e.change);
            }
            line.push_str(&format!(
                ", -{:.0}% {}",
                s * 100.0,
                if hit { "caught" } else { "missed" }
            ));
        }
        say(line);
        if crate::interrupt::interrupted() {
            return Err(Failure::Interrupted);
        }
    }

    let n = args.trials;
    let slowdowns: Vec<Caught> = args
        .slowdowns
        .iter()
        .enumerate()
        .map(|(k, &s)| Caught {
            slowdown: s,
            trials: n,
            caught: caught[k],
            caught_rate: f64::from(caught[k]) / f64::from(n),
            measured_drop_median: crate::vs_base::summarise(&drops[k]).map(|r| r.median),
        })
        .collect();
    let smallest = slowdowns
        .iter()
        .filter(|c| f64::from(c.caught) >= 0.95 * f64::from(n))
        .map(|c| c.slowdown)
        .fold(None, |a: Option<f64>, s| Some(a.map_or(s, |a| a.min(s))));
    let cal = Calibration {
        schema: "iobuf-bench-calibrate/2",
        machine: args.machine.clone(),
        meta,
        settings: serde_json::json!({
            "trials": n,
            "threshold": args.threshold,
            "slow_row": args.slow_row,
            "gate": "ratio",
            "cases": plan.cases.iter().map(|c| c.label()).collect::<Vec<_>>(),
            "runs": args.run.runs,
            "repeats": args.repeats,
            "duration_s": args.run.duration.as_secs_f64(),
            "warmup_s": args.run.warmup.as_secs_f64(),
            "check": args.run.check.name(),
            "injection": "a wait of d/(1-d) of the row's working time every 4096 operations",
        }),
        a_vs_a: AvsA {
            trials: n,
            false_alarms,
            false_alarm_rate: f64::from(false_alarms) / f64::from(n),
            detectable_median: crate::vs_base::summarise(&detectable).map(|r| r.median),
            alarms,
        },
        slowdowns,
        smallest_caught_19_of_20: smallest,
    };
    let text = render(&cal);
    crate::print_out(&text).map_err(|e| Failure::Output(format!("standard output: {e}")))?;
    if let Some(path) = &args.calibration_out {
        let mut json = serde_json::to_string_pretty(&cal)
            .map_err(|e| Failure::Runtime(format!("cannot serialise: {e}")))?;
        json.push('\n');
        atomic::write(path, json.as_bytes()).map_err(Failure::Output)?;
    }
    Ok(())
}

/// The gated ratio figure of the slowed row (its first case).
fn slowed_figure<'a>(o: &'a compare::Outcome, row: &str) -> Option<&'a compare::Figure> {
    let prefix = format!("{row}/");
    o.gated.iter().find(|f| {
        f.name
            .strip_prefix(&prefix)
            .is_some_and(|r| crate::pools::GATE_REFERENCES.contains(&r))
    })
}

/// The `run` options calibrate was given: its command line after
/// `calibrate`, less its own options and the run's outputs.
fn run_options() -> Vec<OsString> {
    /// Calibrate's own options and the run's outputs, each with a value.
    const SKIPPED: [&str; 9] = [
        "--trials",
        "--repeats",
        "--slowdowns",
        "--slow-row",
        "--threshold",
        "--machine",
        "--calibration-out",
        "--out",
        "--save-baseline",
    ];
    let all: Vec<OsString> = std::env::args_os().collect();
    let start = all
        .iter()
        .position(|a| a == "calibrate")
        .map_or(all.len(), |i| i + 1);
    let mut out = Vec::new();
    let mut rest = all[start..].iter();
    while let Some(arg) = rest.next() {
        let text = arg.to_string_lossy();
        let (name, inline) = match text.split_once('=') {
            Some((name, _)) => (name, true),
            None => (&*text, false),
        };
        if SKIPPED.contains(&name) {
            if !inline {
                rest.next();
            }
            continue;
        }
        // Flags `measure` sets itself.
        if ["--json", "--quiet", "-q"].contains(&name) {
            continue;
        }
        out.push(arg.clone());
    }
    out
}

/// `repeats` runs of `options`: one side of a comparison.
fn measure_side(
    options: &[OsString],
    slow: Option<&Slowdown>,
    name: &str,
    repeats: u32,
) -> Result<Vec<results::RunDoc>, Failure> {
    (0..repeats).map(|_| measure(options, slow, name)).collect()
}

/// One run of `options` (with `slow` injected), as the document `compare`
/// reads: a `run` of this binary in a process of its own, as CI measures
/// the baseline and the current build in processes of their own. In one
/// process the runs share an allocator's history, and the rows whose speed
/// depends on where their buffers land (crossbeam's cycle through 2 MiB)
/// stay put between runs; across processes they do not, and a calibration
/// in one process saw none of the false alarms that pairs of separate runs
/// raised (`iobuf-bench/README.md`, "What it can catch").
fn measure(
    options: &[OsString],
    slow: Option<&Slowdown>,
    name: &str,
) -> Result<results::RunDoc, Failure> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "iobuf-bench-calibrate-{}-{}.json",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let exe = std::env::current_exe()
        .map_err(|e| Failure::Runtime(format!("cannot find this program to run it: {e}")))?;
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .args(options)
        .args(["--quiet", "--out"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(s) = slow {
        cmd.arg("--inject-slowdown")
            .arg(format!("{}:{}", s.row, s.fraction));
    }
    let out = cmd
        .output()
        .map_err(|e| Failure::Runtime(format!("cannot start a measuring run: {e}")))?;
    let text = std::fs::read_to_string(&path);
    let _ = std::fs::remove_file(&path);
    if crate::interrupt::interrupted() {
        return Err(Failure::Interrupted);
    }
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = stderr.lines().last().unwrap_or("no message");
        return Err(Failure::Runtime(format!(
            "a measuring run failed ({}): {why}; calibrate needs a sound build",
            out.status
        )));
    }
    let text =
        text.map_err(|e| Failure::Runtime(format!("cannot read {}: {e}", path.display())))?;
    results::parse(Path::new(name), &text).map_err(Failure::Runtime)
}

/// The human summary.
fn render(c: &Calibration) -> String {
    let mut s = format!(
        "calibration of the gate (same-run ratios, threshold {:.0}%) on {}\n",
        c.settings["threshold"].as_f64().unwrap_or(0.0) * 100.0,
        if c.machine.is_empty() {
            "this machine"
        } else {
            &c.machine
        }
    );
    s.push_str(&format!(
        "A against A: {} false alarm(s) in {} trials ({:.0}%)",
        c.a_vs_a.false_alarms,
        c.a_vs_a.trials,
        c.a_vs_a.false_alarm_rate * 100.0
    ));
    if let Some(d) = c.a_vs_a.detectable_median {
        s.push_str(&format!(
            "; the data could detect drops of {:.1}% (median over trials)",
            d * 100.0
        ));
    }
    s.push('\n');
    for k in &c.slowdowns {
        s.push_str(&format!(
            "slowdown {:.0}% of {}: caught {} of {} ({:.0}%), measured drop {}\n",
            k.slowdown * 100.0,
            c.settings["slow_row"].as_str().unwrap_or("?"),
            k.caught,
            k.trials,
            k.caught_rate * 100.0,
            k.measured_drop_median
                .map_or("n/a".into(), |d| format!("{:.1}%", d * 100.0))
        ));
    }
    s.push_str(&match c.smallest_caught_19_of_20 {
        Some(v) => format!(
            "smallest slowdown caught in at least 19 of 20 trials: {:.0}%\n",
            v * 100.0
        ),
        None => "no slowdown tried was caught in 19 of 20 trials\n".into(),
    });
    s
}
