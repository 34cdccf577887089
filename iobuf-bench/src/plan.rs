//! From the command line to a plan: the arguments of `run` resolved into
//! the cases to run, in order, and what to warn about before running.
//!
//! Parsing (in `cli`) only checks each argument alone; here they are
//! combined: scenarios resolved and de-duplicated, tiers and pools
//! expanded, each tier's capacity checked against memory, each handoff
//! scenario's producer/consumer layout, and the case matrix.

use crate::bench::{self, Case, Pin, Settings, Target};
use crate::cli::{self, PinMode, PoolChoice, RunArgs, TierChoice};
use crate::format::human_bytes;
use crate::host;
use crate::measure;
use crate::pools::PoolKind;
use crate::scenario::{self, HandoffParams, Scenario, ScenarioKind};
use iobuf_pool::Tier;
use std::path::Path;

/// What `run` will do.
#[derive(Debug)]
pub struct Plan {
    /// Tiers, in the order given, each once.
    pub tiers: Vec<Tier>,
    /// Pools, in the order given, each once.
    pub pools: Vec<PoolKind>,
    /// Scenarios, built-in ones first, each once.
    pub scenarios: Vec<Scenario>,
    /// `--threads`, or the logical CPUs.
    pub threads: usize,
    /// CPUs the run may use.
    pub cores: usize,
    /// Every case, in the order it runs.
    pub cases: Vec<Case>,
    /// What every case shares.
    pub settings: Settings,
    /// One line each, de-duplicated, in order.
    pub warnings: Vec<String>,
}

/// Resolves `args` into a plan; an error is bad input (exit 2).
pub fn resolve(args: &RunArgs) -> Result<Plan, String> {
    let tiers: Vec<Tier> = dedup(args.tiers.iter().flat_map(|t| match t {
        TierChoice::All => Tier::ALL.to_vec(),
        TierChoice::One(t) => vec![*t],
    }));
    let pools: Vec<PoolKind> = dedup(args.pools.iter().flat_map(|p| match p {
        PoolChoice::All => PoolKind::ALL.to_vec(),
        PoolChoice::One(p) => vec![*p],
    }));
    let scenarios = resolve_scenarios(args)?;
    let lean = args.check == measure::CheckLevel::Lean;
    if lean {
        if let Some(s) = scenarios
            .iter()
            .find(|s| !matches!(s.kind, ScenarioKind::Pairs(_) | ScenarioKind::Handoff(_)))
        {
            return Err(format!(
                "--check lean runs pairs and handoff only, not '{}' (pick them with --scenario)",
                s.name
            ));
        }
        if args.rate.is_some() {
            return Err("--check lean runs closed loop only: drop --rate".into());
        }
    }
    if scenarios
        .iter()
        .any(|s| matches!(s.kind, ScenarioKind::Io(_)))
    {
        crate::io::probe()?;
    }
    let threads = args.threads.unwrap_or_else(host::logical_cpus);
    let memory = host::physical_memory();
    let capacities = tiers
        .iter()
        .map(|&t| capacity_for(t, args.capacity, memory).map(|c| (t, c)))
        .collect::<Result<Vec<_>, _>>()?;

    let mut cases = Vec::new();
    let mut warnings = Vec::new();
    for s in &scenarios {
        let (producers, consumers, n) = match &s.kind {
            ScenarioKind::Handoff(params) => {
                let (p, c) = handoff_layout(threads, args, params)?;
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
            for target in targets(s, &pools) {
                if lean && target == Target::Pool(PoolKind::IobufTokio) {
                    warnings.push(
                        "warning: --check lean has no loop of its own for iobuf-tokio: its row \
                         is left out"
                            .into(),
                    );
                    continue;
                }
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

    let cpus = bench::placement(pin(args.pin));
    let cores = host::allowed_cpus();
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
    let settings = Settings {
        warmup: args.warmup,
        duration: args.duration,
        cpus,
        rate: args.rate,
        sample_every: args.sample_every.unwrap_or(measure::DEFAULT_SAMPLE_EVERY),
        fault_every: args.fault_every,
        check: args.check,
        fault_kind: args.fault_kind,
        slow: args.inject_slowdown.clone(),
    };
    Ok(Plan {
        tiers,
        pools,
        scenarios,
        threads,
        cores,
        cases,
        settings,
        warnings,
    })
}

impl Plan {
    /// Adds the warning that other processes were busy (`busy`: their
    /// share of the CPUs just before the run), when it matters.
    pub fn warn_if_busy(&mut self, busy: Option<f64>) {
        if let Some(busy) = busy.filter(|&b| b > 0.2) {
            self.warnings.push(format!(
                "warning: other processes used {:.0}% of the CPUs just before this run: expect noisy numbers",
                busy * 100.0
            ));
        }
    }

    /// The warnings, each once, in order.
    pub fn distinct_warnings(&self) -> Vec<&str> {
        dedup(self.warnings.iter().map(String::as_str))
    }
}

/// The bench's pinning for the command line's.
fn pin(mode: PinMode) -> Pin {
    match mode {
        PinMode::Compact => Pin::Compact,
        PinMode::Spread => Pin::Spread,
        PinMode::None => Pin::None,
    }
}

/// The rows of scenario `s`: the pools, plus the transport first
/// (handoff), plus the batch row after `iobuf` and `iobuf-tc` (burst),
/// plus each iobuf pool's `-fixed` row right after it (io with fixed
/// buffers).
fn targets(s: &Scenario, pools: &[PoolKind]) -> Vec<Target> {
    let pairs = matches!(s.kind, ScenarioKind::Pairs(_));
    let mut targets: Vec<Target> = std::iter::once(Target::Ceiling)
        .chain(
            pools
                .iter()
                .filter(|&&p| pairs || p != PoolKind::IobufTokio)
                .map(|&p| Target::Pool(p)),
        )
        .collect();
    if matches!(s.kind, ScenarioKind::Handoff(_)) {
        targets.insert(1, Target::Transport);
    }
    if matches!(s.kind, ScenarioKind::Burst(_)) {
        targets = targets
            .into_iter()
            .flat_map(|t| match t {
                Target::Pool(PoolKind::Iobuf) => vec![t, Target::Batch { cached: false }],
                Target::Pool(PoolKind::IobufThreadCache) => vec![t, Target::Batch { cached: true }],
                _ => vec![t],
            })
            .collect();
    }
    if let ScenarioKind::Io(p) = &s.kind {
        if p.fixed_buffers {
            targets = targets
                .into_iter()
                .flat_map(|t| match t {
                    Target::Pool(PoolKind::Iobuf) => vec![t, Target::Fixed { cached: false }],
                    Target::Pool(PoolKind::IobufCached) => {
                        vec![t, Target::Fixed { cached: true }]
                    }
                    _ => vec![t],
                })
                .collect();
        }
    }
    targets
}

/// Every index costs this much besides its buffer: its ownership flag (a
/// cache line, 128 B) and its slots in the free lists.
const OVERHEAD_PER_BUFFER: u64 = 192;

/// The default capacity, cut for big tiers.
const DEFAULT_CAPACITY: u64 = 1024;

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
                human_bytes(size)
            )
        })?;
    if let Some(mem) = memory {
        if bytes > mem {
            return Err(format!(
                "--capacity {cap} × {tier} buffers needs {} but this machine has {} of memory",
                human_bytes(bytes),
                human_bytes(mem)
            ));
        }
    }
    if cap > iobuf_pool::MAX_CAPACITY as u64 {
        return Err(format!(
            "--capacity {cap} is above the most buffers a pool can have ({})",
            iobuf_pool::MAX_CAPACITY
        ));
    }
    Ok(cap as usize)
}

/// Producers and consumers of a handoff case.
fn handoff_layout(
    threads: usize,
    args: &RunArgs,
    params: &HandoffParams,
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

/// The scenarios of the run: the names given (or the defaults), then the
/// files, each name once.
fn resolve_scenarios(args: &RunArgs) -> Result<Vec<Scenario>, String> {
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
        let s = scenario::builtin(&n).ok_or_else(|| format!("unknown scenario '{n}'"))?;
        out.push(s);
    }
    for path in &args.scenario_files {
        let s = Scenario::from_file(Path::new(path)).map_err(|e| e.to_string())?;
        if out.iter().any(|o| o.name == s.name) {
            return Err(format!(
                "scenario file '{}' is named '{}', like another scenario of this run; rename it",
                path.display(),
                s.name
            ));
        }
        out.push(s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scenario measures the ceiling, first, whatever the pools
    /// asked for, so that every row of every case can be read against the
    /// harness's own limit (and marked when it reaches it).
    #[test]
    fn every_scenario_runs_the_ceiling_row_first() {
        for s in crate::scenario::builtins() {
            for pools in [&PoolKind::ALL[..], &[PoolKind::Crossbeam][..], &[][..]] {
                let t = targets(&s, pools);
                assert_eq!(t.first(), Some(&Target::Ceiling), "{}", s.name);
                assert_eq!(
                    t.iter().filter(|&&x| x == Target::Ceiling).count(),
                    1,
                    "{}",
                    s.name
                );
            }
        }
    }

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
    fn busy_warnings_appear_once_and_only_when_busy() {
        let mut plan = Plan {
            tiers: Vec::new(),
            pools: Vec::new(),
            scenarios: Vec::new(),
            threads: 1,
            cores: 1,
            cases: Vec::new(),
            settings: Settings {
                warmup: Default::default(),
                duration: Default::default(),
                cpus: Vec::new(),
                rate: None,
                sample_every: 1,
                fault_every: None,
                check: crate::measure::CheckLevel::Full,
                fault_kind: crate::cli::FaultKind::Double,
                slow: None,
            },
            warnings: Vec::new(),
        };
        plan.warn_if_busy(Some(0.1));
        assert!(plan.warnings.is_empty());
        plan.warn_if_busy(Some(0.5));
        plan.warn_if_busy(Some(0.5));
        assert_eq!(plan.distinct_warnings().len(), 1);
        assert!(plan.warnings[0].contains("50%"));
    }
}
