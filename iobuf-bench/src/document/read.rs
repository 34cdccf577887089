//! Read side of the run document that `iobuf-bench run --json` writes
//! (schema `iobuf-bench/1`), shared by `compare`, `report` and `export`.
//! There is one set of document types, in [`super`]: [`parse`] brings every
//! older document to the current shape first, in
//! [`super::upgrade::upgrade`], then deserialises it into those types. This
//! file adds what readers need on top: the case identity every reader
//! matches by ([`CaseKey`]), and the checks on what they compute with.
//!
//! A run written by a newer `run` with extra fields still loads (unknown
//! fields are ignored), while a file that is not a run document is refused
//! with a message naming the file and the field.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde::Deserialize;
use serde_json::Value;

/// One loaded run document.
#[derive(Debug, Clone)]
pub struct RunDoc {
    /// Where it was read from, for messages and report captions.
    pub path: PathBuf,
    /// Who ran it, where and when.
    pub meta: Meta,
    /// The run's own configuration, kept only for display.
    pub config: Value,
    /// One entry per case ([`CaseKey`]) and pool measured.
    pub results: Vec<CaseResult>,
}

pub use super::Meta;

pub use super::CaseResult;
pub use crate::measure::LatencyStats;

pub use super::Integrity;

impl fmt::Display for Integrity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} duplicate hand-outs, {} corrupted buffers, {} lost buffers",
            self.duplicates, self.corrupted, self.lost
        )
    }
}

/// The latency-measured operations, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// Taking a buffer.
    Get,
    /// Returning a buffer.
    Put,
    /// Producer's get to consumer's put.
    EndToEnd,
}

impl Op {
    /// All operations, in display order.
    pub const ALL: [Op; 3] = [Op::Get, Op::Put, Op::EndToEnd];

    /// The field name used in the run document.
    pub fn key(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::EndToEnd => "end_to_end",
        }
    }

    /// A human label.
    pub fn label(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::EndToEnd => "end-to-end",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What identifies a case across runs: its whole configuration except the
/// pool. Two results are the same case only when every field is equal; a
/// field a document does not record is `None` and matches only `None`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CaseKey {
    /// Workload name.
    pub scenario: String,
    /// Tier, ordered by buffer size where the name is a known tier.
    pub tier: TierName,
    /// Worker threads.
    pub threads: u32,
    /// Scenario kind (a file named `pairs` may be of kind `hold`).
    pub kind: Option<String>,
    /// Scenario parameters, as canonical JSON (keys sorted).
    pub params: Option<String>,
    /// Buffers in the pool.
    pub capacity: Option<u64>,
    /// `Some((producers, consumers))` where the threads split into the two
    /// roles; `None` where every thread both takes and returns.
    pub layout: Option<(u32, u32)>,
    /// Open loop rate per thread; `None`: closed loop.
    pub rate: Option<Rate>,
}

impl fmt::Display for CaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}t", self.scenario, self.tier, self.threads)
    }
}

/// An open-loop rate, ordered and compared by value (never NaN: the reader
/// refuses non-finite rates).
#[derive(Debug, Clone, Copy)]
pub struct Rate(pub f64);

impl PartialEq for Rate {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Rate {}

impl std::hash::Hash for Rate {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.0.to_bits().hash(h);
    }
}

impl Ord for Rate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl PartialOrd for Rate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl CaseKey {
    /// Each identity field as (name, value), for messages.
    fn fields(&self) -> [(&'static str, String); 7] {
        let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "unrecorded".into());
        [
            ("tier", self.tier.to_string()),
            ("threads", self.threads.to_string()),
            ("kind", opt(&self.kind)),
            ("params", opt(&self.params)),
            (
                "capacity",
                self.capacity
                    .map_or_else(|| "unrecorded".into(), |c| c.to_string()),
            ),
            (
                "layout",
                match self.layout {
                    Some((p, c)) => format!("{p} producers + {c} consumers"),
                    None => "every thread takes and returns".into(),
                },
            ),
            (
                "rate",
                match self.rate {
                    Some(r) => format!("open loop {} ops/s per thread", r.0),
                    None => "closed loop".into(),
                },
            ),
        ]
    }

    /// The whole configuration in one line: `pairs/small/4t (kind pairs,
    /// capacity 1024, closed loop)`.
    pub fn detail(&self) -> String {
        let mut parts = Vec::new();
        if let Some(k) = &self.kind {
            parts.push(format!("kind {k}"));
        }
        if let Some(p) = self.params.as_deref().filter(|p| *p != "{}") {
            parts.push(format!("params {p}"));
        }
        if let Some(c) = self.capacity {
            parts.push(format!("capacity {c}"));
        }
        if let Some((p, c)) = self.layout {
            parts.push(format!("{p}p+{c}c"));
        }
        parts.push(match self.rate {
            Some(r) => format!("rate {}/s", r.0),
            None => "closed loop".into(),
        });
        format!("{self} ({})", parts.join(", "))
    }

    /// How `self` differs from `other`, e.g. `kind hold vs pairs`; empty
    /// when they are the same case apart from the name.
    pub fn differences(&self, other: &CaseKey) -> Vec<String> {
        let mut out = Vec::new();
        if self.scenario != other.scenario {
            out.push(format!("scenario {} vs {}", self.scenario, other.scenario));
        }
        for ((name, a), (_, b)) in self.fields().into_iter().zip(other.fields()) {
            if a != b {
                out.push(format!("{name} {a} vs {b}"));
            }
        }
        out
    }
}

/// A tier name that sorts by buffer size (unknown names last, by name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TierName(pub String);

impl TierName {
    fn rank(&self) -> (usize, &str) {
        match iobuf_pool::Tier::from_str(&self.0) {
            Ok(tier) => (tier as usize, ""),
            Err(_) => (usize::MAX, self.0.as_str()),
        }
    }
}

impl Ord for TierName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for TierName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for TierName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl CaseResult {
    /// The case this result belongs to (without the pool). An empty
    /// `kind` and a null `params` are unrecorded (`None`).
    pub fn key(&self) -> CaseKey {
        let everyone =
            self.producers == self.threads as usize && self.consumers == self.threads as usize;
        let layout = (!everyone).then_some((self.producers as u32, self.consumers as u32));
        CaseKey {
            scenario: self.scenario.clone(),
            tier: TierName(self.tier.clone()),
            threads: self.threads,
            kind: (!self.kind.is_empty()).then(|| self.kind.clone()),
            params: (!self.params.is_null()).then(|| canonical_json(&self.params)),
            capacity: Some(self.capacity as u64),
            layout,
            rate: self.rate.map(Rate),
        }
    }

    /// Throughput of each round, where the document has rounds (empty
    /// otherwise); rates that are not finite and non-negative are skipped.
    pub fn round_rates(&self) -> Vec<f64> {
        self.rounds
            .iter()
            .map(|r| r.ops_per_sec)
            .filter(|v| v.is_finite() && *v >= 0.0)
            .collect()
    }

    /// Whether the case finished (only an interrupted run says otherwise).
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The summary of one operation, if measured.
    pub fn summary(&self, op: Op) -> Option<&LatencyStats> {
        match op {
            Op::Get => Some(&self.latency_ns.get),
            Op::Put => Some(&self.latency_ns.put),
            Op::EndToEnd => self.latency_ns.end_to_end.as_ref(),
        }
        // Nothing timed (`--check lean`): no latency, rather than zeros.
        // (Documents from before `samples` was written read it as 0 but
        // have real percentiles.)
        .filter(|s| s.samples > 0 || s.max > 0)
    }

    /// The serialised histogram of one operation, if present.
    pub fn histogram_text(&self, op: Op) -> Option<&str> {
        match op {
            Op::Get => Some(self.histograms.get.as_str()),
            Op::Put => Some(self.histograms.put.as_str()),
            Op::EndToEnd => self.histograms.end_to_end.as_deref(),
        }
        .filter(|text| !text.is_empty())
    }
}

/// JSON text with object keys sorted at every level, so equal values give
/// equal text whatever order a writer used.
pub fn canonical_json(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = serde_json::Map::new();
                for k in keys {
                    out.insert(k.clone(), sorted(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

use crate::pools::rank as pool_rank;

/// Pool names of a case in display order.
pub fn sorted_pools<'a, I: IntoIterator<Item = &'a String>>(pools: I) -> Vec<&'a String> {
    let mut v: Vec<&String> = pools.into_iter().collect();
    v.sort_by(|a, b| pool_rank(a).cmp(&pool_rank(b)));
    v
}

/// Reads and checks a run document. The error is one line naming the file.
pub fn load(path: &Path) -> Result<RunDoc, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    parse(path, &text)
}

/// Checks a run document already in memory; `path` is only for messages.
pub fn parse(path: &Path, text: &str) -> Result<RunDoc, String> {
    let shown = path.display();
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("{shown}: not valid JSON: {e}"))?;
    let mut top = super::upgrade::upgrade(value).map_err(|e| format!("{shown}: {e}"))?;
    let meta = match top.remove("meta") {
        None | Some(Value::Null) => Meta::unrecorded(),
        Some(v) => Meta::deserialize(v).map_err(|e| format!("{shown}: meta: {e}"))?,
    };
    let config = top.remove("config").unwrap_or(Value::Null);
    let Some(Value::Array(raw_results)) = top.remove("results") else {
        return Err(format!("{shown}: \"results\" is missing or not an array"));
    };
    let mut results = Vec::with_capacity(raw_results.len());
    for (i, raw) in raw_results.into_iter().enumerate() {
        // Deserialising one entry at a time lets the message say which one.
        let case =
            CaseResult::deserialize(raw).map_err(|e| format!("{shown}: results[{i}]: {e}"))?;
        if case.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return Err(format!(
                "{shown}: results[{i}]: rate must be a positive number of operations per second"
            ));
        }
        if !case.ops_per_sec.is_finite() || case.ops_per_sec < 0.0 {
            return Err(format!(
                "{shown}: results[{i}]: ops_per_sec is {} (must be a finite number >= 0)",
                case.ops_per_sec
            ));
        }
        if case.threads == 0 {
            return Err(format!("{shown}: results[{i}]: threads is 0"));
        }
        results.push(case);
    }
    Ok(RunDoc {
        path: path.to_path_buf(),
        meta,
        config,
        results,
    })
}

impl RunDoc {
    /// Results indexed by case, then pool. A (case, pool) pair measured twice
    /// makes the run ambiguous to compare, so it is an error.
    pub fn by_case(&self) -> Result<BTreeMap<CaseKey, BTreeMap<String, &CaseResult>>, String> {
        let mut map: BTreeMap<CaseKey, BTreeMap<String, &CaseResult>> = BTreeMap::new();
        for r in &self.results {
            let key = r.key();
            let pools = map.entry(key.clone()).or_default();
            if pools.insert(r.pool.clone(), r).is_some() {
                return Err(format!(
                    "{}: case {key} pool {} appears more than once",
                    self.path.display(),
                    r.pool
                ));
            }
        }
        Ok(map)
    }

    /// A short description of where and what was measured.
    pub fn describe(&self) -> String {
        let m = &self.meta;
        let mut parts = Vec::new();
        if !m.version.is_empty() {
            parts.push(format!("iobuf-bench {}", m.version));
        }
        if let Some(c) = &m.git_commit {
            parts.push(format!("commit {}", c.get(..12).unwrap_or(c)));
        }
        if !m.timestamp.is_empty() {
            parts.push(m.timestamp.clone());
        }
        let cpu = &m.host.cpu_model;
        match m.host.logical_cores {
            _ if cpu.is_empty() => {}
            0 => parts.push(cpu.clone()),
            n => parts.push(format!("{cpu} ({n} logical cores)")),
        }
        parts.join(", ")
    }
}

/// Decodes a base64 V2 HdrHistogram serialisation.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e}"))
}
