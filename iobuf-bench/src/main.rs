//! iobuf-bench: how iobuf's pools behave under contention, against what
//! one would otherwise use.
//!
//! Exit status: 0 ok, 1 an integrity check failed, `compare` found a
//! regression, or the harness broke; 2 bad input (one line on stderr).

mod cli;
mod compare;
mod export;
mod io;
mod measure;
mod output;
mod pools;
mod report;
mod results;
mod runner;
mod scenario;

use cli::{Command, PoolChoice, RunArgs, TierChoice};
use export::json::{BenchDocument, RunConfig, SCHEMA};
use iobuf::Tier;
use output::progress::Progress;
use pools::PoolKind;
use runner::{Case, CaseError, Settings, Target};
use scenario::{Scenario, ScenarioKind};
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// Why the program stops early.
enum Failure {
    /// The user asked for something impossible: exit 2.
    Input(String),
    /// The run finished but an integrity check failed: exit 1 (the
    /// details were already printed).
    Integrity,
    /// Something broke while running: exit 1.
    Runtime(String),
    /// `compare` found a regression: exit 1 (its table says which).
    Regression,
}

fn main() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err((text, code)) => {
            if code == 0 {
                print_out(&text);
            } else {
                eprintln!("{}", text.trim_end());
            }
            return ExitCode::from(code.clamp(0, 255) as u8);
        }
    };
    let outcome = match cli.command {
        Command::Run(args) => run(&args),
        Command::List => {
            print_out(&list());
            Ok(())
        }
        Command::Compare(args) => match compare::run(&args) {
            Ok(0) => Ok(()),
            Ok(_) => Err(Failure::Regression),
            Err(msg) => Err(Failure::Input(msg)),
        },
        Command::Report(args) => report::run(&args).map_err(Failure::Input),
        Command::Export(args) => export::github::run(&args).map_err(Failure::Input),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Integrity | Failure::Regression) => ExitCode::from(1),
        Err(Failure::Runtime(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

/// Writes to stdout, ignoring a closed pipe (`| head`).
fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Every index costs this much besides its buffer: its ownership flag (a
/// cache line, 128 B) and its slots in the free lists.
const OVERHEAD_PER_BUFFER: u64 = 192;

/// The default capacity, cut for big tiers.
const DEFAULT_CAPACITY: u64 = 1024;

/// Physical memory, from /proc/meminfo; `None` where that is unreadable.
fn physical_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// The most memory a pool of the default capacity takes: contention
/// depends on buffers and threads, not bytes, and every pool of every case
/// allocates (and, today, zeroes) its slab anew.
const DEFAULT_POOL_BYTES: u64 = 1 << 30;

/// The capacity to use for `tier`: the one given, checked against
/// overflow, memory and the ring's limit; or the default, cut so that a
/// pool takes at most 1 GiB (and an eighth of memory).
fn capacity_for(tier: Tier, given: Option<u64>, memory: Option<u64>) -> Result<usize, String> {
    let size = tier.size() as u64;
    let Some(cap) = given else {
        let budget = memory.map_or(DEFAULT_POOL_BYTES, |m| (m / 8).min(DEFAULT_POOL_BYTES));
        return Ok(DEFAULT_CAPACITY
            .min(budget / (size + OVERHEAD_PER_BUFFER))
            .max(1) as usize);
    };
    let bytes = cap
        .checked_mul(size + OVERHEAD_PER_BUFFER)
        .filter(|&b| b <= isize::MAX as u64)
        .ok_or_else(|| {
            format!(
                "--capacity {cap} × {tier} buffers ({}) overflows the address space",
                runner::human_bytes(size)
            )
        })?;
    if let Some(mem) = memory {
        if bytes > mem {
            return Err(format!(
                "--capacity {cap} × {tier} buffers needs {} but this machine has {} of memory",
                runner::human_bytes(bytes),
                runner::human_bytes(mem)
            ));
        }
    }
    if cap > iobuf::MAX_CAPACITY as u64 {
        return Err(format!(
            "--capacity {cap} is above the most buffers a pool can have ({})",
            iobuf::MAX_CAPACITY
        ));
    }
    Ok(cap as usize)
}

/// Producers and consumers of a handoff case.
fn handoff_layout(
    threads: usize,
    args: &RunArgs,
    params: &scenario::HandoffParams,
) -> Result<(usize, usize), String> {
    let p = args.producers.or(params.producers);
    let c = args.consumers.or(params.consumers);
    let (p, c) = match (p, c) {
        (Some(p), Some(c)) => (p, c),
        (Some(p), None) if p < threads => (p, threads - p),
        (None, Some(c)) if c < threads => (threads - c, c),
        (Some(p), None) => {
            return Err(format!(
                "{p} producers leave no consumer among {threads} threads; give --consumers too"
            ))
        }
        (None, Some(c)) => {
            return Err(format!(
                "{c} consumers leave no producer among {threads} threads; give --producers too"
            ))
        }
        (None, None) => {
            let t = threads.max(2);
            (t / 2, t - t / 2)
        }
    };
    if p + c > cli::MAX_THREADS {
        return Err(format!(
            "{p} producers + {c} consumers is more than {} threads",
            cli::MAX_THREADS
        ));
    }
    Ok((p, c))
}

fn dedup<T: PartialEq + Copy>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn run(args: &RunArgs) -> Result<(), Failure> {
    let tiers: Vec<Tier> = dedup(args.tiers.iter().flat_map(|t| match t {
        TierChoice::All => Tier::ALL.to_vec(),
        TierChoice::One(t) => vec![*t],
    }));
    let pools: Vec<PoolKind> = dedup(args.pools.iter().flat_map(|p| match p {
        PoolChoice::All => PoolKind::ALL.to_vec(),
        PoolChoice::One(p) => vec![*p],
    }));
    let scenarios = resolve_scenarios(args)?;
    if scenarios
        .iter()
        .any(|s| matches!(s.kind, ScenarioKind::Io(_)))
    {
        io::probe().map_err(Failure::Input)?;
    }
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = args.threads.unwrap_or(logical);
    let memory = physical_memory();
    let capacities = tiers
        .iter()
        .map(|&t| capacity_for(t, args.capacity, memory).map(|c| (t, c)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::Input)?;

    let mut cases = Vec::new();
    let mut warnings = Vec::new();
    for s in &scenarios {
        let (producers, consumers, n) = match &s.kind {
            ScenarioKind::Handoff(params) => {
                let (p, c) = handoff_layout(threads, args, params).map_err(Failure::Input)?;
                if threads < 2 && args.producers.is_none() && args.consumers.is_none() {
                    warnings.push(format!(
                        "warning: {} needs a producer and a consumer: running 2 threads",
                        s.name
                    ));
                }
                (p, c, p + c)
            }
            _ => (threads, threads, threads),
        };
        for &(tier, capacity) in &capacities {
            let mut targets: Vec<Target> = pools.iter().map(|&p| Target::Pool(p)).collect();
            if matches!(s.kind, ScenarioKind::Handoff(_)) {
                targets.insert(0, Target::Transport);
            }
            if let ScenarioKind::Io(p) = &s.kind {
                if p.fixed_buffers {
                    // Each -fixed row right after its plain one.
                    targets = targets
                        .into_iter()
                        .flat_map(|t| match t {
                            Target::Pool(PoolKind::Iobuf) => {
                                vec![t, Target::Fixed { cached: false }]
                            }
                            Target::Pool(PoolKind::IobufCached) => {
                                vec![t, Target::Fixed { cached: true }]
                            }
                            _ => vec![t],
                        })
                        .collect();
                }
            }
            for target in targets {
                cases.push(Case {
                    scenario: s.clone(),
                    tier,
                    capacity,
                    threads: n,
                    producers,
                    consumers,
                    target,
                });
            }
        }
    }

    // Open --out now, so that an unwritable path fails before the run.
    let mut out_file = match &args.out {
        Some(path) => Some(std::fs::File::create(path).map_err(|e| {
            Failure::Input(format!("cannot write --out '{}': {e}", path.display()))
        })?),
        None => None,
    };

    let cpus = runner::placement(args.pin);
    let cores = core_affinity::get_core_ids().map_or(logical, |c| c.len().max(1));
    let most = cases.iter().map(|c| c.threads).max().unwrap_or(0);
    if most > cores {
        warnings.push(format!(
            "warning: {most} threads on {cores} cores: threads share cores{}, so throughput \
             and tail latency include the OS scheduler's time slices",
            if cpus.is_empty() {
                String::new()
            } else {
                " (pinning wraps around)".to_string()
            }
        ));
    }
    // Sampled while this process is idle, so the CPU time is other work.
    let meta = export::meta();
    if let Some(busy) = meta.cpu_busy_before.filter(|&b| b > 0.2) {
        warnings.push(format!(
            "warning: other processes used {:.0}% of the CPUs just before this run: expect noisy numbers",
            busy * 100.0
        ));
    }
    for w in dedup(warnings.iter().map(String::as_str)) {
        eprintln!("{w}");
    }

    let clock_cost_ns = measure::clock_cost_ns();
    let sample_every = args.sample_every.unwrap_or(measure::DEFAULT_SAMPLE_EVERY);
    let settings = Settings {
        warmup: args.warmup,
        duration: args.duration,
        cpus,
        rate: args.rate,
        sample_every,
        fault_every: args.fault_every,
    };

    let progress = Progress::new(cases.len(), args.quiet);
    let mut results = Vec::with_capacity(cases.len());
    for (i, case) in cases.iter().enumerate() {
        let label = case.label();
        progress.start_case(i, &label);
        let r = match runner::run_case(case, &settings, &mut |f| progress.tick(i, f)) {
            Ok(r) => r,
            Err(CaseError::Skipped(why)) => {
                progress.warn(&format!("warning: {why}"));
                continue;
            }
            Err(e) => {
                progress.finish();
                return Err(match e {
                    CaseError::Pool(msg) | CaseError::Setup(msg) => Failure::Input(msg),
                    CaseError::Worker(msg) | CaseError::Skipped(msg) => Failure::Runtime(msg),
                });
            }
        };
        let starved = r.per_thread_ops.iter().filter(|&&n| n == 0).count();
        if starved > 0 {
            progress.warn(&format!(
                "warning: {label}: {starved} of {} threads completed no operation while measuring (starved)",
                r.per_thread_ops.len()
            ));
        }
        results.push(r);
    }
    progress.finish();

    let doc = BenchDocument {
        schema: SCHEMA.to_string(),
        meta,
        config: RunConfig {
            tiers: tiers.iter().map(|t| t.name().to_string()).collect(),
            threads,
            cores,
            pools: pools.iter().map(|p| p.name().to_string()).collect(),
            scenarios: scenarios
                .iter()
                .map(|s| serde_json::to_value(s).unwrap_or_default())
                .collect(),
            capacity: args.capacity,
            duration_s: args.duration.as_secs_f64(),
            warmup_s: args.warmup.as_secs_f64(),
            pin: format!("{:?}", args.pin).to_lowercase(),
            producers: args.producers,
            consumers: args.consumers,
            rate: args.rate,
            sample_every: if args.rate.is_some() { 1 } else { sample_every },
            clock_cost_ns: (clock_cost_ns * 10.0).round() / 10.0,
            clock: "std::time::Instant (CLOCK_MONOTONIC)".into(),
            ops_unit: "pairs: one buffer taken and returned".into(),
            fault_every: args.fault_every,
        },
        results,
    };
    let json = export::to_json(&doc);
    if let (Some(file), Some(path)) = (out_file.as_mut(), &args.out) {
        file.write_all(json.as_bytes())
            .and_then(|_| file.flush())
            .map_err(|e| Failure::Runtime(format!("cannot write '{}': {e}", path.display())))?;
    }
    if args.json {
        print_out(&json);
    } else {
        print_out(&output::table::render(&doc));
    }

    let failed: Vec<_> = doc.results.iter().filter(|r| !r.integrity.ok()).collect();
    for r in &failed {
        let i = r.integrity;
        eprintln!(
            "error: integrity check failed in {}/{}/{}: {} duplicates, {} corrupted, {} lost",
            r.scenario, r.tier, r.pool, i.duplicates, i.corrupted, i.lost
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Integrity)
    }
}

fn resolve_scenarios(args: &RunArgs) -> Result<Vec<Scenario>, Failure> {
    let mut names: Vec<String> = Vec::new();
    for n in &args.scenarios {
        if n == "all" {
            names.extend(scenario::builtin_names().map(String::from));
        } else {
            names.push(n.clone());
        }
    }
    if names.is_empty() && args.scenario_files.is_empty() {
        names = scenario::DEFAULT_SCENARIOS.map(String::from).to_vec();
    }
    let mut out: Vec<Scenario> = Vec::new();
    for n in names {
        if out.iter().any(|s| s.name == n) {
            continue;
        }
        // The name was checked when the command line was parsed.
        let s = scenario::builtin(&n)
            .ok_or_else(|| Failure::Input(format!("unknown scenario '{n}'")))?;
        out.push(s);
    }
    for path in &args.scenario_files {
        let s = Scenario::from_file(Path::new(path)).map_err(|e| Failure::Input(e.to_string()))?;
        if out.iter().any(|o| o.name == s.name) {
            return Err(Failure::Input(format!(
                "scenario file '{}' is named '{}', like another scenario of this run; rename it",
                path.display(),
                s.name
            )));
        }
        out.push(s);
    }
    Ok(out)
}

fn list() -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "Tiers (--tier NAME, repeatable, or all):");
    for t in Tier::ALL {
        let _ = writeln!(
            s,
            "  {:<8} {:>8}",
            t.name(),
            runner::human_bytes(t.size() as u64)
        );
    }
    let _ = writeln!(s, "\nPools (--pools a,b,…, or all):");
    for p in PoolKind::ALL {
        let _ = writeln!(s, "  {:<13} {}", p.name(), p.description());
    }
    let _ = writeln!(
        s,
        "  {:<13} handoff only, always run: the producer→consumer queue with no pool, to subtract",
        pools::TRANSPORT
    );
    let _ = writeln!(
        s,
        "  {:<13} io only, with iobuf / iobuf-cached in --pools: the same pool registered with each ring \
         (iobuf::uring::FixedBuffers), reading with READ_FIXED; also {}",
        pools::IOBUF_FIXED,
        pools::IOBUF_CACHED_FIXED
    );
    let _ = writeln!(
        s,
        "\nScenarios (--scenario NAME, or --scenario-file PATH in the same JSON format):"
    );
    for sc in scenario::builtins() {
        let params = serde_json::to_value(&sc)
            .ok()
            .and_then(|v| v.get("params").cloned())
            .map(|p| p.to_string())
            .unwrap_or_default();
        let _ = writeln!(s, "  {:<8} {}", sc.name, sc.description);
        let _ = writeln!(s, "  {:<8} params: {params}", "");
    }
    let _ = writeln!(
        s,
        "\nThroughput is in pairs/s: one op is one buffer taken and returned (get + put), \
         so the numbers compare across pools and scenarios."
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_checks_overflow_memory_and_the_ring_limit() {
        let gib = 1u64 << 30;
        assert_eq!(capacity_for(Tier::Small, Some(8), Some(gib)), Ok(8));
        let e = capacity_for(Tier::Small, Some(u64::MAX), Some(gib)).unwrap_err();
        assert!(e.contains("overflows"), "{e}");
        let e = capacity_for(Tier::Titan, Some(100), Some(gib)).unwrap_err();
        assert!(e.contains("memory"), "{e}");
        let e = capacity_for(Tier::Pico, Some((1 << 30) + 1), None).unwrap_err();
        assert!(e.contains("most buffers"), "{e}");
    }

    #[test]
    fn default_capacity_shrinks_to_fit_big_tiers() {
        let mem = 16u64 << 30;
        assert_eq!(capacity_for(Tier::Small, None, Some(mem)), Ok(1024));
        assert_eq!(capacity_for(Tier::Huge, None, Some(mem)), Ok(511));
        let titan = capacity_for(Tier::Titan, None, Some(mem)).unwrap();
        assert!(titan >= 1 && (titan as u64) * (128 << 20) <= DEFAULT_POOL_BYTES);
        assert_eq!(capacity_for(Tier::Titan, None, Some(1 << 20)), Ok(1));
    }

    #[test]
    fn list_names_everything_run_accepts() {
        let text = list();
        for t in Tier::ALL {
            assert!(text.contains(t.name()));
        }
        for p in PoolKind::ALL {
            assert!(text.contains(p.name()));
        }
        for n in scenario::builtin_names() {
            assert!(text.contains(n));
        }
        assert!(text.contains(pools::IOBUF_FIXED) && text.contains(pools::IOBUF_CACHED_FIXED));
        assert!(text.contains("pairs/s"));
    }
}
