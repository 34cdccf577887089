//! Running cases. A case is one scenario × tier × target (a pool, the
//! bare handoff transport, or an io fixed-buffer pool). Its threads are
//! spawned, pinned, and released together by a barrier; they run the
//! scenario for the warm-up, forget what they recorded, run for the
//! measured window, and stop. Then the pool is drained and every index
//! must come back exactly once.
//!
//! - [`topology`]: which CPUs the workers are pinned to;
//! - [`construct`]: the pool of each target;
//! - [`phase`]: the phases, what workers share, the open-loop pacer;
//! - [`worker`]: a worker's state and its instrumented calls;
//! - [`slowdown`]: `calibrate`'s known slowdown of one row;
//! - [`lean`]: the minimal loops of `--check lean`;
//! - [`drive`]: one case from start to join;
//! - [`aggregate`]: the records added up into a [`Measurement`];
//! - one file per scenario family: [`pairs`] (and hold), [`burst`],
//!   [`handoff`], [`io`]. A new scenario is a new file here, a worker
//!   function over [`worker::Worker`], and an arm in [`drive`].

mod aggregate;
mod burst;
mod construct;
mod drive;
mod handoff;
mod io;
mod lean;
mod pairs;
mod phase;
mod slowdown;
mod tokio_rows;
mod topology;
mod worker;

pub use aggregate::Measurement;
pub use construct::run_case;
pub use slowdown::Slowdown;
pub use topology::{placement, Pin};

use crate::pools::{
    PoolKind, CEILING, IOBUF_BATCH, IOBUF_CACHED_FIXED, IOBUF_FIXED, IOBUF_TC_BATCH, TRANSPORT,
};
use crate::scenario::Scenario;
use iobuf_pool::Tier;
use std::time::Duration;

/// What a case runs against: one of the pools, or (handoff only) nothing,
/// to measure the queue between threads alone, or (io only) an iobuf pool
/// registered with each ring as fixed buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Pool(PoolKind),
    /// A thread-local free list ([`crate::pools::CeilingPool`]): the
    /// harness's own limit, in every scenario.
    Ceiling,
    Transport,
    /// `BufferPool` (through a `LocalCache` per thread when `cached`),
    /// registered with `iobuf_pool::uring::FixedBuffers`, reading with
    /// READ_FIXED.
    Fixed {
        cached: bool,
    },
    /// (burst only) `BufferPool` (with a thread cache when `cached`)
    /// moving each burst with `try_get_many` / `put_many`.
    Batch {
        cached: bool,
    },
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Pool(p) => p.name(),
            Target::Ceiling => CEILING,
            Target::Transport => TRANSPORT,
            Target::Fixed { cached: false } => IOBUF_FIXED,
            Target::Fixed { cached: true } => IOBUF_CACHED_FIXED,
            Target::Batch { cached: false } => IOBUF_BATCH,
            Target::Batch { cached: true } => IOBUF_TC_BATCH,
        }
    }
}

/// One case to run.
#[derive(Debug, Clone)]
pub struct Case {
    pub scenario: Scenario,
    pub tier: Tier,
    pub capacity: usize,
    /// All worker threads (handoff: producers + consumers).
    pub threads: usize,
    /// Handoff only; otherwise equal to `threads`.
    pub producers: usize,
    pub consumers: usize,
    pub target: Target,
}

impl Case {
    pub fn label(&self) -> String {
        let kind = self.scenario.kind.name();
        let name = if self.scenario.name == kind {
            kind.to_string()
        } else {
            format!("{}[{kind}]", self.scenario.name)
        };
        format!("{name}/{}/{}", self.tier, self.target.name())
    }
}

/// Settings shared by every case of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub warmup: Duration,
    pub duration: Duration,
    /// Logical CPUs in placement order; thread `i` runs on
    /// `cpus[i % len]`. Empty: no pinning.
    pub cpus: Vec<core_affinity::CoreId>,
    /// Open loop: operations per second per thread.
    pub rate: Option<f64>,
    pub sample_every: u32,
    /// How much of every operation is checked.
    pub check: crate::measure::CheckLevel,
    /// Hidden test switch: the crossbeam baseline returns every n-th
    /// buffer twice, which the integrity checks must catch.
    pub fault_every: Option<u64>,
    /// What the broken baseline of `fault_every` does.
    pub fault_kind: crate::cli::FaultKind,
    /// `calibrate` only: the row named here is made slower by a known
    /// fraction, which the gate must catch.
    pub slow: Option<Slowdown>,
}

/// Why a case could not run.
#[derive(Debug)]
pub enum CaseError {
    /// The pool could not be built (memory refused, capacity too large).
    Pool(String),
    /// What the case needs from the system is missing: io_uring, a
    /// writable temporary directory.
    Setup(String),
    /// This case cannot run here, but the others can (an io `-fixed` row
    /// whose pool the kernel will not register): say why and go on.
    Skipped(String),
    /// A worker thread panicked (a bug in the harness or a pool), or its
    /// I/O failed.
    Worker(String),
}

#[cfg(test)]
mod window_tests;

#[cfg(test)]
mod tests {
    use super::drive::drive;
    use super::*;
    use crate::document::CaseResult;
    use crate::pools::{BenchPool, DoubleReturn};
    use crate::scenario::{builtin, IoParams, ScenarioKind};
    use iobuf_pool::BufferPool;

    fn quick(scenario: &str, target: Target, threads: usize, capacity: usize) -> CaseResult {
        quick_at(
            scenario,
            target,
            threads,
            capacity,
            crate::measure::CheckLevel::Full,
        )
    }

    fn quick_at(
        scenario: &str,
        target: Target,
        threads: usize,
        capacity: usize,
        check: crate::measure::CheckLevel,
    ) -> CaseResult {
        let scenario = builtin(scenario).unwrap();
        let handoff = matches!(scenario.kind, ScenarioKind::Handoff(_));
        let (p, c) = if handoff {
            (threads / 2, threads - threads / 2)
        } else {
            (threads, threads)
        };
        let case = Case {
            scenario,
            tier: Tier::Pico,
            capacity,
            threads,
            producers: p,
            consumers: c,
            target,
        };
        let settings = Settings {
            warmup: Duration::from_millis(5),
            duration: Duration::from_millis(100),
            cpus: Vec::new(),
            rate: None,
            sample_every: 4,
            fault_every: None,
            check,
            fault_kind: crate::cli::FaultKind::Double,
            slow: None,
        };
        run_case(&case, &settings, &mut |_| {})
            .map(CaseResult::from)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn every_scenario_and_pool_runs_clean() {
        for scenario in ["pairs", "handoff", "burst", "hold"] {
            for pool in PoolKind::ALL {
                if pool == PoolKind::IobufTokio && scenario != "pairs" {
                    continue;
                }
                let r = quick(scenario, Target::Pool(pool), 3, 16);
                assert!(
                    r.integrity.is_clean(),
                    "{scenario}/{}: {:?}",
                    r.pool,
                    r.integrity
                );
                assert!(r.ops > 0, "{scenario}/{} did nothing", r.pool);
                assert_eq!(r.per_thread_ops.len(), 3);
                assert!(r.latency_ns.get.samples > 0, "{scenario}/{}", r.pool);
                assert_eq!(
                    r.latency_ns.end_to_end.is_some(),
                    scenario == "handoff",
                    "{scenario}"
                );
            }
        }
    }

    /// A pool smaller than a batch: a producer that finds the pool dry
    /// sends the batches it has begun before it waits, or no consumer would
    /// get a buffer until the case stopped. At every check level, through
    /// a thread cache, owned buffers and several producers and consumers.
    #[test]
    fn handoff_of_a_pool_smaller_than_a_batch_keeps_moving() {
        use crate::measure::CheckLevel;
        for check in [CheckLevel::Full, CheckLevel::Sampled, CheckLevel::Lean] {
            for pool in [
                PoolKind::Iobuf,
                PoolKind::IobufCached,
                PoolKind::IobufOwned,
                PoolKind::Crossbeam,
            ] {
                let r = quick_at("handoff", Target::Pool(pool), 4, 4, check);
                assert!(r.integrity.is_clean(), "{check:?} {}", r.pool);
                // Consumers returned buffers in the window (without the
                // flush, none before the case stopped).
                assert!(r.ops > 0, "{check:?} {}: {:?}", r.pool, r.per_thread_ops);
            }
        }
    }

    #[test]
    fn transport_runs_without_a_pool() {
        let r = quick("handoff", Target::Transport, 2, 1);
        assert_eq!(r.pool, "transport");
        assert!(r.ops > 0);
        assert!(r.integrity.is_clean());
    }

    #[test]
    fn prefault_gives_every_buffer_back_and_stops_on_the_transport() {
        use crate::pools::{CachedPool, CrossbeamPool, DoubleReturn, MutexPool, NoPool};
        fn check<P: BenchPool>(pool: &P) {
            pool.prefault();
            let mut got = pool.drain();
            got.sort_unstable();
            assert_eq!(got, (0..pool.capacity()).collect::<Vec<_>>());
        }
        check(&BufferPool::new(Tier::Medium, 5).unwrap());
        check(&CachedPool(BufferPool::new(Tier::Medium, 5).unwrap()));
        check(&MutexPool::new(Tier::Medium, 5).unwrap());
        check(&CrossbeamPool::new(Tier::Medium, 5).unwrap());
        NoPool.prefault();
        // The broken pool's double returns are for the measured case only.
        let broken = DoubleReturn::new(Tier::Medium, 5, 1).unwrap();
        broken.prefault();
        let mut got = broken.drain();
        got.sort_unstable();
        assert_eq!(got, (0..5).collect::<Vec<_>>());
    }

    #[test]
    fn a_pool_smaller_than_the_threads_still_finishes() {
        let r = quick("pairs", Target::Pool(PoolKind::Iobuf), 4, 1);
        assert!(r.integrity.is_clean() && r.ops > 0);
        let r = quick("burst", Target::Pool(PoolKind::IobufCached), 4, 2);
        assert!(r.integrity.is_clean() && r.ops > 0);
    }

    /// A pool that sometimes returns a buffer twice must fail the checks,
    /// or they are decoration.
    #[test]
    fn a_pool_that_returns_twice_is_caught() {
        let pool = DoubleReturn::new(Tier::Pico, 32, 7).unwrap();
        let case = Case {
            scenario: builtin("burst").unwrap(),
            tier: Tier::Pico,
            capacity: 32,
            threads: 2,
            producers: 2,
            consumers: 2,
            target: Target::Pool(PoolKind::Crossbeam),
        };
        let settings = Settings {
            warmup: Duration::ZERO,
            duration: Duration::from_millis(30),
            cpus: Vec::new(),
            rate: None,
            sample_every: 1,
            fault_every: None,
            check: crate::measure::CheckLevel::Full,
            fault_kind: crate::cli::FaultKind::Double,
            slow: None,
        };
        let r = CaseResult::from(drive(&pool, &case, &settings, &mut |_| {}).unwrap());
        assert!(r.integrity.duplicates > 0, "{:?}", r.integrity);
        assert!(!r.integrity.is_clean());
    }

    /// Runs `pool` through `scenario` at the default (sampled) check level.
    fn sampled<P: BenchPool>(pool: &P, scenario: &str, threads: usize) -> CaseResult {
        let case = Case {
            scenario: builtin(scenario).unwrap(),
            tier: Tier::Pico,
            capacity: pool.capacity(),
            threads,
            producers: threads,
            consumers: threads,
            target: Target::Pool(PoolKind::Crossbeam),
        };
        let settings = Settings {
            check: crate::measure::CheckLevel::Sampled,
            ..short_settings()
        };
        CaseResult::from(drive(pool, &case, &settings, &mut |_| {}).unwrap())
    }

    /// The default check level still catches each kind of broken pool:
    /// one that hands a buffer to two holders, one that loses buffers, one
    /// whose buffers change while held; and passes the sound ones.
    #[test]
    fn the_sampled_checks_catch_every_broken_pool() {
        use crate::pools::{CeilingPool, Corrupting, CrossbeamPool, Losing};
        for scenario in ["pairs", "burst"] {
            let r = sampled(&DoubleReturn::new(Tier::Pico, 32, 7).unwrap(), scenario, 2);
            assert!(r.integrity.duplicates > 0, "{scenario}: {:?}", r.integrity);
            let r = sampled(&Losing::new(Tier::Pico, 32, 50).unwrap(), scenario, 2);
            assert!(r.integrity.lost > 0, "{scenario}: {:?}", r.integrity);
            let r = sampled(&Corrupting::new(Tier::Pico, 32, 4).unwrap(), scenario, 2);
            assert!(r.integrity.corrupted > 0, "{scenario}: {:?}", r.integrity);
            for r in [
                sampled(&CrossbeamPool::new(Tier::Pico, 32).unwrap(), scenario, 2),
                sampled(&CeilingPool::new(Tier::Pico, 32).unwrap(), scenario, 2),
                sampled(&BufferPool::new(Tier::Pico, 32).unwrap(), scenario, 2),
            ] {
                assert!(r.integrity.is_clean() && r.ops > 0, "{scenario}: {r:?}");
            }
        }
    }

    #[test]
    fn the_ceiling_and_tokio_rows_run_clean_in_every_scenario_they_join() {
        for scenario in ["pairs", "handoff", "burst", "hold"] {
            let r = quick(scenario, Target::Ceiling, 3, 16);
            assert!(r.integrity.is_clean() && r.ops > 0, "{scenario}: {r:?}");
        }
        let r = quick("pairs", Target::Pool(PoolKind::IobufTokio), 2, 16);
        assert!(r.integrity.is_clean() && r.ops > 0, "{r:?}");
        assert_eq!(r.per_thread_ops.len(), 2);
        assert!(r.latency_ns.get.samples > 0);
    }

    fn short_settings() -> Settings {
        Settings {
            warmup: Duration::from_millis(5),
            duration: Duration::from_millis(100),
            cpus: Vec::new(),
            rate: None,
            sample_every: 4,
            fault_every: None,
            check: crate::measure::CheckLevel::Full,
            fault_kind: crate::cli::FaultKind::Double,
            slow: None,
        }
    }

    fn io_case(params: IoParams, target: Target, threads: usize, capacity: usize) -> Case {
        Case {
            scenario: Scenario {
                name: "io".into(),
                description: String::new(),
                kind: ScenarioKind::Io(params),
                file: None,
            },
            tier: Tier::Small,
            capacity,
            threads,
            producers: threads,
            consumers: threads,
            target,
        }
    }

    /// Runs an io case; `None` (with a notice) where io_uring is missing.
    fn run_io(case: &Case) -> Option<CaseResult> {
        match run_case(case, &short_settings(), &mut |_| {}) {
            Ok(r) => Some(r.into()),
            Err(CaseError::Setup(why)) if why.contains("unavailable") => {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "skipped: io case because {why}");
                None
            }
            Err(e) => panic!("{}: {e:?}", case.label()),
        }
    }

    #[test]
    fn io_reads_check_and_return_through_every_pool() {
        let mut targets: Vec<Target> = PoolKind::ALL
            .iter()
            .filter(|&&p| p != PoolKind::IobufTokio)
            .map(|&p| Target::Pool(p))
            .collect();
        targets.push(Target::Ceiling);
        targets.push(Target::Fixed { cached: false });
        targets.push(Target::Fixed { cached: true });
        for target in targets {
            let Some(r) = run_io(&io_case(IoParams::default(), target, 2, 16)) else {
                return;
            };
            assert_eq!(r.pool, target.name());
            assert!(r.integrity.is_clean(), "{}: {:?}", r.pool, r.integrity);
            assert!(r.ops > 0, "{} read nothing", r.pool);
            assert_eq!(r.per_thread_ops.iter().sum::<u64>(), r.ops);
            let e2e = r.latency_ns.end_to_end.expect("io times end to end");
            assert!(e2e.samples > 0 && r.latency_ns.get.samples > 0);
            // The whole pair includes the read, so it cannot be shorter than
            // the get and the put together (medians, on the same samples).
            assert!(e2e.p50 >= r.latency_ns.get.p50, "{}: {e2e:?}", r.pool);
            assert!(r.histograms.end_to_end.is_some());
        }
    }

    #[test]
    fn io_keeps_several_reads_in_flight_even_from_a_small_pool() {
        let deep = IoParams {
            queue_depth: 8,
            read_size: Some(512),
            ..IoParams::default()
        };
        for (target, capacity) in [
            (Target::Pool(PoolKind::Crossbeam), 64),
            (Target::Fixed { cached: true }, 64),
            // Fewer buffers than 2 threads × 8 reads: gets run dry, and no
            // thread waits for a buffer while holding others.
            (Target::Pool(PoolKind::Iobuf), 5),
        ] {
            let Some(r) = run_io(&io_case(deep.clone(), target, 2, capacity)) else {
                return;
            };
            assert!(r.integrity.is_clean() && r.ops > 0, "{}: {r:?}", r.pool);
            if capacity == 5 {
                assert!(r.dry_gets > 0, "a pool of 5 never ran dry");
            }
        }
    }

    /// A buffer handed to two threads at once gets two reads into it: the
    /// io checks must notice, or they are decoration.
    #[test]
    fn io_with_a_pool_that_returns_twice_is_caught() {
        let case = io_case(IoParams::default(), Target::Pool(PoolKind::Crossbeam), 2, 8);
        let pool = DoubleReturn::new(Tier::Small, 8, 3).unwrap();
        let r = match drive(&pool, &case, &short_settings(), &mut |_| {}) {
            Ok(r) => CaseResult::from(r),
            Err(CaseError::Setup(why)) if why.contains("unavailable") => return,
            Err(e) => panic!("{e:?}"),
        };
        assert!(r.integrity.duplicates > 0, "{:?}", r.integrity);
    }
}
