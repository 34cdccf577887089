//! `run`: plan the cases, run them one by one with a progress bar, then
//! write the document (`--out`, `--json`) or the table, and fail on any
//! integrity error.

use crate::bench::{self, CaseError};
use crate::cli::RunArgs;
use crate::document::{self, BenchDocument, CaseResult, RunConfig, SCHEMA};
use crate::exit::Failure;
use crate::export::atomic;
use crate::output::progress::Progress;
use crate::plan::{self, Plan};
use crate::{host, interrupt, measure, output};

/// After SIGINT: writes the finished cases, marked incomplete, to `--out`
/// (or nothing, when none finished), and says in one line what was written.
fn interrupted(args: &RunArgs, doc: &BenchDocument, json: &str, planned: usize) -> Failure {
    let done = doc.results.len();
    let line = match (&args.out, done) {
        (_, 0) => "interrupted: no case finished; nothing written".to_string(),
        (Some(path), _) => match atomic::write(path, json.as_bytes()) {
            Ok(()) => format!(
                "interrupted: {done} of {planned} cases finished; written to {} marked incomplete",
                path.display()
            ),
            Err(e) => format!("interrupted: {done} of {planned} cases finished; {e}"),
        },
        (None, _) => {
            format!("interrupted: {done} of {planned} cases finished; nothing written (no --out)")
        }
    };
    eprintln!("{line}");
    Failure::Interrupted
}

/// Runs `run`.
pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let mut plan = plan::resolve(args).map_err(Failure::Input)?;

    // An unwritable --out fails before the run; the file itself is only
    // written (atomically) at the end, so an earlier result survives a run
    // that fails or is interrupted.
    if let Some(path) = &args.out {
        atomic::check_writable(path)
            .map_err(|e| Failure::Input(format!("cannot write --out '{}': {e}", path.display())))?;
    }
    crate::interrupt::install();

    // Sampled while this process is idle, so the CPU time is other work.
    let meta = host::meta();
    plan.warn_if_busy(meta.cpu_busy_before);
    for w in plan.distinct_warnings() {
        eprintln!("{w}");
    }
    if let Some(line) = host::warning_line(&meta, &host::load_of(&plan, &meta.host)) {
        eprintln!("{line}");
    }

    let clock_cost_ns = measure::clock_cost_ns();
    let progress = Progress::new(plan.cases.len() * args.runs as usize, args.quiet);
    let mut results = measure_rounds(&plan, args.runs as usize, &progress)?;
    progress.finish();

    let complete = !interrupt::interrupted();
    if !complete {
        for r in &mut results {
            r.complete = false;
        }
    }
    let doc = BenchDocument {
        schema: SCHEMA.to_string(),
        meta,
        config: config(args, &plan, clock_cost_ns),
        results,
        complete,
    };
    let json = document::to_json(&doc);
    if !complete {
        return Err(interrupted(args, &doc, &json, plan.cases.len()));
    }
    if let Some(path) = &args.out {
        atomic::write(path, json.as_bytes()).map_err(Failure::Output)?;
    }
    let shown = if args.json {
        json.clone()
    } else {
        output::table::render(&doc)
    };
    crate::print_out(&shown).map_err(|e| Failure::Output(format!("standard output: {e}")))?;

    let failed: Vec<_> = doc
        .results
        .iter()
        .filter(|r| !r.integrity.is_clean())
        .collect();
    for r in &failed {
        let i = r.integrity;
        eprintln!(
            "error: integrity check failed in {}/{}/{}: {} duplicates, {} corrupted, {} lost",
            r.scenario, r.tier, r.pool, i.duplicates, i.corrupted, i.lost
        );
    }
    if failed.is_empty() {
        if let Some(name) = &args.save_baseline {
            let path = crate::baselines::save(name, &json).map_err(Failure::Runtime)?;
            eprintln!("saved baseline '{name}' as {}", path.display());
        }
        Ok(())
    } else {
        Err(Failure::Integrity)
    }
}

/// Runs every case of `plan` once per round, round after round (A B C,
/// A B C, ...), so that a slow spell of the machine hits every pool, not
/// one; gives each case's rounds folded into one result. Stops early
/// (with what finished) after SIGINT.
pub fn measure_rounds(
    plan: &Plan,
    runs: usize,
    progress: &Progress,
) -> Result<Vec<CaseResult>, Failure> {
    // rounds[c]: case c's result in each round so far.
    let mut rounds: Vec<Vec<CaseResult>> = vec![Vec::new(); plan.cases.len()];
    let mut skipped = vec![false; plan.cases.len()];
    'rounds: for round in 0..runs {
        for (c, case) in plan.cases.iter().enumerate() {
            if skipped[c] {
                continue;
            }
            let i = round * plan.cases.len() + c;
            let label = case.label();
            progress.start_case(i, &label);
            let r = match bench::run_case(case, &plan.settings, &mut |f| progress.tick(i, f)) {
                // Cut short by SIGINT: its window is not the one asked for.
                Ok(_) if interrupt::interrupted() => break 'rounds,
                Ok(m) => CaseResult::from(m),
                Err(CaseError::Skipped(why)) => {
                    progress.warn(&format!("warning: {why}"));
                    skipped[c] = true;
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
            rounds[c].push(r);
        }
    }
    Ok(rounds
        .into_iter()
        .filter_map(CaseResult::from_rounds)
        .collect())
}

/// The document's `config`: what the run used.
pub fn config(args: &RunArgs, plan: &Plan, clock_cost_ns: f64) -> RunConfig {
    RunConfig {
        tiers: plan.tiers.iter().map(|t| t.name().to_string()).collect(),
        // At most cli::MAX_THREADS.
        threads: plan.threads as u32,
        cores: plan.cores,
        pools: plan.pools.iter().map(|p| p.name().to_string()).collect(),
        scenarios: plan
            .scenarios
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
        sample_every: if args.rate.is_some() {
            1
        } else {
            plan.settings.sample_every
        },
        clock_cost_ns: (clock_cost_ns * 10.0).round() / 10.0,
        clock: "std::time::Instant (CLOCK_MONOTONIC)".into(),
        ops_unit: "pairs: one buffer taken and returned".into(),
        fault_every: args.fault_every,
        runs: args.runs,
        check: args.check.name().into(),
    }
}
