//! The run document, schema `iobuf-bench/1`: one set of types, written by
//! `run` (this file, with [`to_json`] and the conversion from a
//! [`Measurement`]) and read by compare, export, report and the baselines
//! through [`read::parse`]. A document written by an older `run` is
//! brought to the current shape first, as JSON, by [`upgrade::upgrade`]
//! (one documented step per generation of writers), so these types never
//! carry an old shape.
//!
//! Fields beyond the agreed names (`samples`, `lost`, `dry_gets`, …) are
//! additive and default when absent.

use crate::bench::Measurement;
use crate::measure::{encode_histogram, LatencyStats};
use serde::{Deserialize, Serialize};

pub mod read;
pub mod upgrade;

/// The value of the `schema` field.
pub const SCHEMA: &str = "iobuf-bench/1";

/// One run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchDocument {
    pub schema: String,
    pub meta: Meta,
    pub config: RunConfig,
    pub results: Vec<CaseResult>,
    /// `false`: the run was interrupted and `results` holds only the cases
    /// that finished before it was.
    #[serde(default = "yes")]
    pub complete: bool,
}

/// Where and when it ran. `run` records every field; a reader takes an
/// absent one as unrecorded (empty, `None`), since `meta` is only
/// displayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// iobuf's version.
    #[serde(default)]
    pub version: String,
    /// The source checkout's commit when the run started, if known.
    #[serde(default)]
    pub git_commit: Option<String>,
    /// RFC 3339, UTC.
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub host: Host,
    /// The 1-minute load average when the run started.
    #[serde(default)]
    pub load_avg_1m: Option<f64>,
    /// The share of all CPU time that other processes used in the 200 ms
    /// before the run (0 to 1): above a few percent, the numbers are noisy.
    #[serde(default)]
    pub cpu_busy_before: Option<f64>,
}

/// The machine. Fields after `kernel` are read from /proc and /sys and
/// absent where this machine does not expose them. A reader takes an absent
/// `cpu_model`, `os` or `kernel` as empty and `logical_cores` as 0: not
/// recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    #[serde(default)]
    pub cpu_model: String,
    #[serde(default)]
    pub logical_cores: usize,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub kernel: String,
    /// Distinct (package, core) pairs among the online CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_cores: Option<usize>,
    /// Logical CPUs per physical core (2 with SMT/hyperthreading on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smt_siblings: Option<usize>,
    /// NUMA nodes online.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numa_nodes: Option<usize>,
    /// The cpufreq scaling governor; several, comma-separated, when the
    /// CPUs differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_governor: Option<String>,
    /// Whether turbo/boost frequencies are enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turbo: Option<bool>,
    /// Transparent huge pages: always, madvise or never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparent_hugepages: Option<String>,
    /// RLIMIT_MEMLOCK's soft limit: bytes, or "unlimited".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rlimit_memlock: Option<MemLock>,
    /// Whether this process could set up an io_uring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_uring: Option<bool>,
    /// Why not, where it could not (e.g. "ENOSYS", "EPERM").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io_uring_error: Option<String>,
}

impl Meta {
    /// A `meta` with nothing recorded, for a document without one.
    pub fn unrecorded() -> Meta {
        Meta {
            version: String::new(),
            git_commit: None,
            timestamp: String::new(),
            host: Host::default(),
            load_avg_1m: None,
            cpu_busy_before: None,
        }
    }
}

impl Host {
    /// The machine settings that change benchmark numbers, as (name, value)
    /// for the fields this document records.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        let recorded = |s: &String| (!s.is_empty()).then(|| s.clone());
        let on_off = |b: bool, yes: &str, no: &str| if b { yes } else { no }.to_string();
        [
            ("cpu", recorded(&self.cpu_model)),
            (
                "logical cores",
                (self.logical_cores > 0).then(|| self.logical_cores.to_string()),
            ),
            ("physical cores", self.physical_cores.map(|n| n.to_string())),
            ("SMT siblings", self.smt_siblings.map(|n| n.to_string())),
            ("NUMA nodes", self.numa_nodes.map(|n| n.to_string())),
            ("governor", self.cpu_governor.clone()),
            ("turbo", self.turbo.map(|t| on_off(t, "on", "off"))),
            ("THP", self.transparent_hugepages.clone()),
            (
                "memlock",
                self.rlimit_memlock.map(|m| match m {
                    MemLock::Bytes(n) => n.to_string(),
                    MemLock::Unlimited => "unlimited".into(),
                }),
            ),
            ("kernel", recorded(&self.kernel)),
            (
                "io_uring",
                self.io_uring.map(|u| on_off(u, "available", "unavailable")),
            ),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
    }
}

/// A memory-lock limit: written as a number of bytes, or the string
/// "unlimited".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemLock {
    Bytes(u64),
    Unlimited,
}

impl Serialize for MemLock {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MemLock::Bytes(n) => s.serialize_u64(*n),
            MemLock::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for MemLock {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "unlimited" => Ok(MemLock::Unlimited),
            v => v
                .as_u64()
                .map(MemLock::Bytes)
                .ok_or_else(|| serde::de::Error::custom("a number of bytes or \"unlimited\"")),
        }
    }
}

/// What the run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Lower-case tier names.
    pub tiers: Vec<String>,
    /// Worker threads per case (handoff: producers + consumers).
    pub threads: u32,
    /// CPUs the run could use (its affinity mask).
    #[serde(default)]
    pub cores: usize,
    pub pools: Vec<String>,
    /// The scenario definitions used, as in scenarios/*.json.
    pub scenarios: Vec<serde_json::Value>,
    /// `--capacity` as given; `None`: 1024, cut per tier to 1 GiB a pool
    /// (each result has the capacity it used).
    pub capacity: Option<u64>,
    pub duration_s: f64,
    pub warmup_s: f64,
    /// compact, spread or none.
    pub pin: String,
    pub producers: Option<usize>,
    pub consumers: Option<usize>,
    /// Open loop: operations per second per thread; `None`: closed loop.
    pub rate: Option<f64>,
    /// One operation in this many is timed (1 in open loop).
    pub sample_every: u32,
    /// Nanoseconds one timestamp costs (`Instant::now()`), measured at
    /// start-up; every timed latency includes about one of these.
    pub clock_cost_ns: f64,
    /// The clock used.
    #[serde(default)]
    pub clock: String,
    /// What `ops` counts.
    #[serde(default)]
    pub ops_unit: String,
    /// Set only by the hidden fault-injection switch: such a run's numbers
    /// are not a benchmark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_every: Option<u64>,
    /// How much of every operation was checked: "sampled" or "full"
    /// (documents written before the levels existed checked everything).
    #[serde(default = "full_check")]
    pub check: String,
    /// Rounds of every case (`--runs`); each result carries its rounds.
    #[serde(default = "one")]
    pub runs: u32,
}

/// One case: one scenario, tier, thread count and pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    pub scenario: String,
    /// Lower-case tier name.
    pub tier: String,
    /// Worker threads in total.
    pub threads: u32,
    /// Handoff: producer threads. Other scenarios: every thread both takes
    /// and returns, so producers = consumers = threads.
    pub producers: usize,
    pub consumers: usize,
    pub capacity: usize,
    /// iobuf, iobuf-fifo, iobuf-cached, mutex, crossbeam; `transport` for the handoff
    /// queue measured alone.
    pub pool: String,
    /// The measured window, seconds.
    pub duration_s: f64,
    /// Get + put pairs: one buffer taken and returned counts 1.
    pub ops: u64,
    /// Pairs per second.
    pub ops_per_sec: f64,
    pub latency_ns: Latencies,
    pub histograms: Histograms,
    /// Operations per worker thread (handoff: producers first, counting
    /// buffers sent, then consumers, counting buffers returned).
    pub per_thread_ops: Vec<u64>,
    pub integrity: Integrity,
    /// Gets that found the pool empty: the blocking path ran, or (burst)
    /// a batch was cut short.
    #[serde(default)]
    pub dry_gets: u64,
    /// The scenario's kind ("pairs", "hold", ...): with `params`, `capacity`,
    /// the layout and `rate`, what `compare` identifies a case by. Empty
    /// where an old document's `config` did not define the scenario.
    #[serde(default)]
    pub kind: String,
    /// The scenario's parameters as resolved (defaults filled in); null
    /// where `kind` is empty.
    #[serde(default)]
    pub params: serde_json::Value,
    /// Open loop: operations per second per thread; `None` (null): closed
    /// loop. [`to_json`] fills it from the run's `config.rate`.
    #[serde(default)]
    pub rate: Option<f64>,
    /// `false` in a run that was interrupted (SIGINT): the case itself was
    /// measured to the end, but the run's set of cases is not whole, so
    /// `compare` sets it aside.
    #[serde(default = "yes")]
    pub complete: bool,
    /// With `--runs N > 1`: every round's throughput, in round order. The
    /// headline figures (`ops`, `ops_per_sec`, the latencies) are those of
    /// the median round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<Round>,
    /// The least and the most throughput over `rounds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_per_sec_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_per_sec_max: Option<f64>,
    /// What the pool's own `BufferPool::stats()` said about this case, for
    /// the rows with an iobuf pool underneath (absent for the others, and
    /// in documents written before it existed). With `--runs N > 1`: the
    /// median round's, like the headline figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_stats: Option<PoolStats>,
}

/// `BufferPool::stats()` over one case (one round). The pool is built anew
/// for every case and round, so nothing here comes from another case; but
/// the harness prefaults it (takes every buffer once, before the warm-up)
/// and cannot reset the pool's counters, so each field says which phases
/// it covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolStats {
    /// The pool's capacity.
    pub capacity: usize,
    /// The pool's high-water mark at the end of the case: its whole life,
    /// so the prefault is included, and it equals `capacity` because the
    /// prefault takes every buffer. Behind a thread cache (the `-cached`
    /// rows) it is lower: the cache's refills do not raise it. Use
    /// `peak_in_use_sampled` for the measured window.
    pub high_water: usize,
    /// The most buffers in use among the readings taken at the window's
    /// opening, at each progress tick (about every 50 ms) and at its close:
    /// a lower bound on the window's true peak.
    pub peak_in_use_sampled: usize,
    /// Buffers still out of the free list after every worker finished
    /// (their caches flushed), before the exactly-once drain: 0 unless a
    /// buffer leaked.
    pub in_use_end: usize,
    /// Tasks still waiting in `acquire` after the workers finished.
    pub waiters_end: usize,
    /// `try_get`s (and `try_get_owned`s) that found the pool dry in the
    /// measured window (from the reading just before it opened to the one
    /// just after it closed). A thread cache's refills and `acquire()` are
    /// not `try_get`s: the `-cached` and async rows count none.
    pub failed_try_gets: u64,
    /// The same during the warm-up (the prefault excluded).
    pub failed_try_gets_warmup: u64,
}

/// One round of a case (see [`CaseResult::rounds`]). In a document that
/// recorded only each round's throughput, the upgrade step sets `ops` and
/// `duration_s` to 0 (unrecorded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub ops: u64,
    pub duration_s: f64,
    pub ops_per_sec: f64,
}

impl CaseResult {
    /// The round results of one case (in round order) as one result: the
    /// median round's, carrying every round's throughput. `None` if empty.
    pub fn from_rounds(mut rounds: Vec<CaseResult>) -> Option<CaseResult> {
        if rounds.len() <= 1 {
            return rounds.pop();
        }
        let all: Vec<Round> = rounds
            .iter()
            .map(|r| Round {
                ops: r.ops,
                duration_s: r.duration_s,
                ops_per_sec: r.ops_per_sec,
            })
            .collect();
        let mut order: Vec<usize> = (0..rounds.len()).collect();
        order.sort_by(|&a, &b| rounds[a].ops_per_sec.total_cmp(&rounds[b].ops_per_sec));
        let (lo, hi) = (
            rounds[order[0]].ops_per_sec,
            rounds[order[order.len() - 1]].ops_per_sec,
        );
        // Integrity over every round: a duplicate in any round fails it.
        let mut integrity = Integrity::default();
        for r in &rounds {
            integrity.duplicates += r.integrity.duplicates;
            integrity.corrupted += r.integrity.corrupted;
            integrity.lost += r.integrity.lost;
        }
        let median = order[(order.len() - 1) / 2];
        let mut m = rounds.swap_remove(median);
        m.integrity = integrity;
        m.rounds = all;
        m.ops_per_sec_min = Some(lo);
        m.ops_per_sec_max = Some(hi);
        Some(m)
    }
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

fn full_check() -> String {
    "full".into()
}

impl CaseResult {
    /// Whether buffers went from one thread to another (handoff's shape).
    pub fn has_end_to_end(&self) -> bool {
        self.latency_ns.end_to_end.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latencies {
    pub get: LatencyStats,
    pub put: LatencyStats,
    /// Handoff only: from the producer's get to the consumer's put.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_to_end: Option<LatencyStats>,
}

/// HdrHistogram V2 serialisations, base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    pub get: String,
    pub put: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_to_end: Option<String>,
}

/// Any non-zero count fails the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integrity {
    /// A buffer held by two threads at once, or returned twice.
    pub duplicates: u64,
    /// A buffer whose payload stamp changed while it was held.
    pub corrupted: u64,
    /// Buffers missing from the pool after the case (exactly-once check).
    #[serde(default)]
    pub lost: u64,
}

impl Integrity {
    /// Whether the run saw no double hand-out, corruption or loss.
    pub fn is_clean(&self) -> bool {
        self.duplicates == 0 && self.corrupted == 0 && self.lost == 0
    }
}

/// The document as pretty JSON, ending in a newline.
/// Each case result carries the run's open-loop rate (`config.rate`), so
/// that a result read alone says what it measured.
pub fn to_json(doc: &BenchDocument) -> String {
    let mut stamped;
    let mut doc = doc;
    if doc.results.iter().any(|r| r.rate != doc.config.rate) {
        stamped = doc.clone();
        for r in &mut stamped.results {
            r.rate = r.rate.or(stamped.config.rate);
        }
        doc = &stamped;
    }
    // Serialising these plain types cannot fail (no maps with non-string
    // keys, no failing Serialize impls).
    let mut s = serde_json::to_string_pretty(doc).unwrap_or_default();
    s.push('\n');
    s
}

/// The `params` of a scenario kind as JSON (`{}` for kinds without any).
fn scenario_params(kind: &crate::scenario::ScenarioKind) -> serde_json::Value {
    serde_json::to_value(kind)
        .ok()
        .and_then(|mut v| v.get_mut("params").map(serde_json::Value::take))
        .filter(|p| !p.is_null())
        .unwrap_or_else(|| serde_json::Value::Object(Default::default()))
}

impl From<Measurement> for CaseResult {
    fn from(m: Measurement) -> Self {
        let case = &m.case;
        let secs = m.window.as_secs_f64();
        CaseResult {
            scenario: case.scenario.name.clone(),
            tier: case.tier.name().to_string(),
            // At most cli::MAX_THREADS.
            threads: case.threads as u32,
            producers: case.producers,
            consumers: case.consumers,
            capacity: case.capacity,
            pool: case.target.name().to_string(),
            duration_s: (secs * 1e6).round() / 1e6,
            ops: m.ops,
            ops_per_sec: if secs > 0.0 {
                (m.ops as f64 / secs).round()
            } else {
                0.0
            },
            latency_ns: Latencies {
                get: LatencyStats::of(&m.get),
                put: LatencyStats::of(&m.put),
                end_to_end: m.end_to_end.as_ref().map(LatencyStats::of),
            },
            histograms: Histograms {
                get: encode_histogram(&m.get),
                put: encode_histogram(&m.put),
                end_to_end: m.end_to_end.as_ref().map(encode_histogram),
            },
            per_thread_ops: m.per_thread_ops,
            integrity: Integrity {
                duplicates: m.duplicates,
                corrupted: m.corrupted,
                lost: m.lost,
            },
            dry_gets: m.dry_gets,
            kind: case.scenario.kind.name().to_string(),
            params: scenario_params(&case.scenario.kind),
            rate: None,
            complete: true,
            rounds: Vec::new(),
            ops_per_sec_min: None,
            ops_per_sec_max: None,
            pool_stats: m.pool_stats,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(ops_per_sec: f64, failed: u64) -> CaseResult {
        CaseResult {
            scenario: "pairs".into(),
            tier: "pico".into(),
            threads: 2,
            producers: 2,
            consumers: 2,
            capacity: 4,
            pool: "iobuf".into(),
            duration_s: 1.0,
            ops: ops_per_sec as u64,
            ops_per_sec,
            latency_ns: Latencies {
                get: LatencyStats::default(),
                put: LatencyStats::default(),
                end_to_end: None,
            },
            histograms: Histograms {
                get: String::new(),
                put: String::new(),
                end_to_end: None,
            },
            per_thread_ops: vec![1, 1],
            integrity: Integrity::default(),
            dry_gets: failed,
            kind: "pairs".into(),
            params: serde_json::json!({}),
            rate: None,
            complete: true,
            rounds: Vec::new(),
            ops_per_sec_min: None,
            ops_per_sec_max: None,
            pool_stats: Some(PoolStats {
                capacity: 4,
                high_water: 4,
                failed_try_gets: failed,
                ..PoolStats::default()
            }),
        }
    }

    #[test]
    fn rounds_keep_the_median_rounds_pool_stats() {
        let m = CaseResult::from_rounds(vec![result(3.0, 30), result(1.0, 10), result(2.0, 20)])
            .unwrap();
        assert_eq!(m.ops_per_sec, 2.0);
        assert_eq!(m.pool_stats.unwrap().failed_try_gets, 20);
    }

    #[test]
    fn pool_stats_are_optional_in_both_directions() {
        let with = serde_json::to_value(result(1.0, 7)).unwrap();
        assert_eq!(with["pool_stats"]["failed_try_gets"], 7);
        assert_eq!(with["pool_stats"]["high_water"], 4);
        let mut without = result(1.0, 0);
        without.pool_stats = None;
        let mut v = serde_json::to_value(&without).unwrap();
        assert!(v.get("pool_stats").is_none(), "written as absent, not null");
        // An older document's result, without the field, reads as None.
        v.as_object_mut().unwrap().remove("pool_stats");
        let back: CaseResult = serde_json::from_value(v).unwrap();
        assert_eq!(back, without);
        let back: CaseResult = serde_json::from_value(with).unwrap();
        assert_eq!(back.pool_stats.unwrap().failed_try_gets, 7);
    }
}
