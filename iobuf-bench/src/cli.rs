//! The command line (clap derive). Values are checked here, at parse time,
//! so that a bad one is a usage error (exit 2, one line) before anything runs.

use crate::pools::PoolKind;
use crate::scenario;
use clap::{Args, Parser, Subcommand, ValueEnum};
use iobuf_pool::Tier;
use std::path::PathBuf;
use std::time::Duration;

/// More threads than this is a typo, not a benchmark.
pub const MAX_THREADS: usize = 4096;

/// Measure iobuf's buffer pools under contention against the usual
/// alternatives.
#[derive(Debug, Parser)]
#[command(name = "iobuf-bench", version, arg_required_else_help = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// One variant per subcommand; new ones (compare, report, …) slot in here
/// and in `main`'s dispatch.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run benchmark cases and print a summary table (or JSON).
    Run(Box<RunArgs>),
    /// List the tiers, pools and scenarios `run` accepts.
    List,
    /// Compare a run against a baseline run; exit 1 on a regression.
    Compare(crate::compare::CompareArgs),
    /// Measure the gate's power here: false alarms of A against A, and
    /// which injected slowdowns it catches.
    Calibrate(Box<crate::commands::calibrate::CalibrateArgs>),
    /// Write a self-contained HTML report with SVG plots.
    Report(crate::report::ReportArgs),
    /// Convert a run to another tool's format (github-action-benchmark).
    Export(crate::export::github::ExportArgs),
}

/// Options of `iobuf-bench run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Buffer tier: pico … titan, or `all`. Repeatable or comma-separated.
    #[arg(long = "tier", value_name = "NAME", value_parser = parse_tier_choice, value_delimiter = ',', default_value = "small")]
    pub tiers: Vec<TierChoice>,

    /// Worker threads per case [default: the number of cores].
    #[arg(long, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<usize>,

    /// A built-in scenario (see `list`), or `all`. Repeatable or
    /// comma-separated [default: pairs,handoff; none when only
    /// --scenario-file is given].
    #[arg(long = "scenario", value_name = "NAME", value_parser = parse_scenario_name, value_delimiter = ',')]
    pub scenarios: Vec<String>,

    /// A scenario in a JSON file (the format of scenarios/*.json). Repeatable.
    #[arg(long = "scenario-file", value_name = "PATH")]
    pub scenario_files: Vec<PathBuf>,

    /// Pools to compare, comma-separated, or `all`.
    #[arg(long, value_name = "LIST", value_parser = parse_pool_choice, value_delimiter = ',', default_value = "all")]
    pub pools: Vec<PoolChoice>,

    /// Buffers per pool [default: 1024, cut for big tiers so that a pool
    /// takes at most 1 GiB].
    #[arg(long, value_name = "N", value_parser = parse_capacity, allow_negative_numbers = true)]
    pub capacity: Option<u64>,

    /// Measured time per case and round (`2s`, `500ms`).
    #[arg(long, value_name = "TIME", value_parser = parse_duration, default_value = "250ms")]
    pub duration: Duration,

    /// Unmeasured time per case before the measurement (`0s` for none).
    #[arg(long, value_name = "TIME", value_parser = parse_warmup, default_value = "100ms")]
    pub warmup: Duration,

    /// Rounds: every case runs once per round, round after round (A B C,
    /// A B C, ...), and each pool reports its median and min–max over the
    /// rounds, and its ratio to the best baseline round by round.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,

    /// Thread placement: `compact` fills a core's hyperthreads first,
    /// `spread` one thread per physical core first, `none` leaves it to the
    /// OS.
    #[arg(long, value_enum, default_value_t = PinMode::Compact)]
    pub pin: PinMode,

    /// Producers in `handoff` [default: half of --threads].
    #[arg(long, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
    pub producers: Option<usize>,

    /// Consumers in `handoff` [default: --threads minus the producers].
    #[arg(long, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
    pub consumers: Option<usize>,

    /// Open loop: each thread starts this many operations per second on a
    /// fixed schedule, and latency counts from each operation's intended
    /// start (no coordinated omission).
    #[arg(long, value_name = "OPS_PER_SEC", value_parser = parse_rate, allow_negative_numbers = true)]
    pub rate: Option<f64>,

    /// Time one operation in N (a power of two), chosen at random, in
    /// closed loop [default: 1024]; every operation is timed with --rate.
    #[arg(long, value_name = "N", value_parser = parse_sample_every, allow_negative_numbers = true)]
    pub sample_every: Option<u32>,

    /// How much of every operation the harness checks: `sampled` (one
    /// holding in 32 at random, and every pool drained exactly once after
    /// every case) or `full` (every holding: ownership flag and stamps at
    /// both ends of the buffer; a stress run, slower) or `lean` (nothing
    /// per operation, no latencies: the minimal loop that `sampled`'s
    /// resolution is measured against; pairs and handoff only).
    #[arg(long, value_enum, default_value_t = crate::measure::CheckLevel::Sampled)]
    pub check: crate::measure::CheckLevel,

    /// Also write the JSON document to this file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Also keep the JSON document as the named baseline NAME (in
    /// target/iobuf-bench/baselines/, or $IOBUF_BENCH_BASELINES), for
    /// `compare --baseline NAME`. Saved only when the run succeeds.
    #[arg(long, value_name = "NAME", value_parser = crate::baselines::parse_name)]
    pub save_baseline: Option<String>,

    /// Print the JSON document on stdout instead of the table.
    #[arg(long)]
    pub json: bool,

    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,

    /// Testing the tester: the crossbeam baseline returns every N-th
    /// buffer twice, so the integrity checks must fail the run.
    #[arg(long, value_name = "N", value_parser = parse_positive, hide = true)]
    pub fault_every: Option<u64>,

    /// Testing the tester: what the broken crossbeam baseline of
    /// --fault-every does wrong every N-th time.
    #[arg(long, value_enum, default_value_t = FaultKind::Double, hide = true)]
    pub fault_kind: FaultKind,

    /// Testing the gate (`calibrate` runs each measurement as a `run` of
    /// its own process): ROW:FRACTION makes the row ROW that fraction
    /// slower (its workers wait for part of every period they work).
    #[arg(long, value_name = "ROW:FRACTION", value_parser = crate::bench::Slowdown::parse, hide = true)]
    pub inject_slowdown: Option<crate::bench::Slowdown>,
}

/// The broken pools of `--fault-every` (see `pools::broken`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FaultKind {
    /// Returns a buffer twice, so two holders get it.
    Double,
    /// Loses a returned buffer.
    Lose,
    /// Changes a held buffer's byte.
    Corrupt,
}

/// Where worker threads run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinMode {
    /// Neighbouring threads on neighbouring logical CPUs (sibling
    /// hyperthreads first).
    Compact,
    /// One thread per physical core (and socket) before any sibling.
    Spread,
    /// No pinning.
    None,
}

/// A `--tier` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierChoice {
    All,
    One(Tier),
}

/// A `--pools` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolChoice {
    All,
    One(PoolKind),
}

fn parse_tier_choice(s: &str) -> Result<TierChoice, String> {
    if s.trim().eq_ignore_ascii_case("all") {
        return Ok(TierChoice::All);
    }
    s.parse::<Tier>()
        .map(TierChoice::One)
        .map_err(|e| format!("{e}, all"))
}

fn parse_pool_choice(s: &str) -> Result<PoolChoice, String> {
    if s.trim().eq_ignore_ascii_case("all") {
        return Ok(PoolChoice::All);
    }
    PoolKind::from_name(s).map(PoolChoice::One).ok_or_else(|| {
        let names: Vec<&str> = PoolKind::ALL.iter().map(|p| p.name()).collect();
        format!("unknown pool '{s}'; valid pools: {}, all", names.join(", "))
    })
}

fn parse_scenario_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("all") || scenario::builtin(s).is_some() {
        return Ok(s.to_ascii_lowercase());
    }
    let names: Vec<&str> = scenario::builtin_names().collect();
    Err(format!(
        "unknown scenario '{s}'; built-in scenarios: {}, all (or give a file with --scenario-file)",
        names.join(", ")
    ))
}

fn parse_positive(s: &str) -> Result<u64, String> {
    let n: u64 = s.trim().parse().map_err(|e: std::num::ParseIntError| {
        if *e.kind() == std::num::IntErrorKind::PosOverflow {
            format!("'{s}' is too large")
        } else {
            format!("'{s}' is not a whole number")
        }
    })?;
    if n == 0 {
        return Err("must be at least 1".into());
    }
    Ok(n)
}

fn parse_threads(s: &str) -> Result<usize, String> {
    let n = parse_positive(s)?;
    if n > MAX_THREADS as u64 {
        return Err(format!("at most {MAX_THREADS} threads"));
    }
    Ok(n as usize)
}

fn parse_capacity(s: &str) -> Result<u64, String> {
    parse_positive(s)
}

fn parse_sample_every(s: &str) -> Result<u32, String> {
    let n = parse_positive(s)?;
    if !n.is_power_of_two() || n > 1 << 20 {
        return Err(format!("'{s}' must be a power of two up to 1048576"));
    }
    Ok(n as u32)
}

fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if !(r.is_finite() && r > 0.0) {
        return Err("must be a positive number of operations per second".into());
    }
    if r > 1e9 {
        return Err("at most 1e9 operations per second per thread".into());
    }
    Ok(r)
}

/// `2s`, `500ms`, `1m 30s` (humantime's syntax).
fn parse_any_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("'{s}' is not a duration ({e}); write e.g. 2s or 500ms"))?;
    if d > Duration::from_secs(24 * 3600) {
        return Err("at most 24h".into());
    }
    Ok(d)
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = parse_any_duration(s)?;
    if d < Duration::from_millis(1) {
        return Err("must be at least 1ms".into());
    }
    Ok(d)
}

fn parse_warmup(s: &str) -> Result<Duration, String> {
    parse_any_duration(s)
}

/// Parses the command line; a usage error comes back as one line of text
/// (clap's own rendering spans several) and the exit code clap chose.
pub fn parse() -> Result<Cli, (String, i32)> {
    Cli::try_parse().map_err(|e| {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                (e.render().to_string(), e.exit_code())
            }
            _ => (first_paragraph(&e.render().to_string()), 2),
        }
    })
}

/// clap's message up to its first blank line, joined into one line.
fn first_paragraph(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_paragraph_joins_lines_until_a_blank_one() {
        let msg =
            "error: the following required arguments were not provided:\n  --x <X>\n\nUsage: a\n";
        assert_eq!(
            first_paragraph(msg),
            "error: the following required arguments were not provided: --x <X>"
        );
    }

    #[test]
    fn durations_parse_and_reject() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
        assert_eq!(parse_warmup("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn counts_reject_zero_and_garbage() {
        assert!(parse_threads("0").is_err());
        assert!(parse_threads("-1").is_err());
        assert!(parse_threads("99999").is_err());
        assert_eq!(parse_threads("16"), Ok(16));
        assert!(parse_capacity("0").is_err());
        assert!(parse_sample_every("3").is_err());
        assert_eq!(parse_sample_every("16"), Ok(16));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("nan").is_err());
    }

    #[test]
    fn names_are_case_insensitive_and_all_is_accepted() {
        assert_eq!(parse_tier_choice("ALL"), Ok(TierChoice::All));
        assert_eq!(parse_tier_choice("Big"), Ok(TierChoice::One(Tier::Big)));
        assert!(parse_tier_choice("tiny")
            .unwrap_err()
            .contains("valid tiers"));
        assert!(parse_pool_choice("boost").unwrap_err().contains("iobuf"));
        assert_eq!(
            parse_pool_choice("Mutex"),
            Ok(PoolChoice::One(PoolKind::Mutex))
        );
    }
}
