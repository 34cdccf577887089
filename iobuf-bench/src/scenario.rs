//! Scenarios: what the worker threads do with the pool. The built-in ones
//! are the JSON files in scenarios/, compiled in; `--scenario-file` reads
//! the same format:
//!
//! ```json
//! { "name": "burst", "description": "…", "kind": "burst",
//!   "params": { "demand": 1.5 } }
//! ```
//!
//! `params` is optional; unknown fields are errors, so a typo cannot
//! silently fall back to a default.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// The built-in scenarios, in the order `list` shows them.
const BUILTIN: [(&str, &str); 6] = [
    ("pairs", include_str!("../../scenarios/pairs.json")),
    ("handoff", include_str!("../../scenarios/handoff.json")),
    ("burst", include_str!("../../scenarios/burst.json")),
    ("burst32", include_str!("../../scenarios/burst32.json")),
    ("hold", include_str!("../../scenarios/hold.json")),
    ("io", include_str!("../../scenarios/io.json")),
];

/// The scenarios `run` uses when neither --scenario nor --scenario-file is
/// given.
pub const DEFAULT_SCENARIOS: [&str; 2] = ["pairs", "handoff"];

/// Names of the built-in scenarios.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}

/// A built-in scenario by name (case-insensitive).
pub fn builtin(name: &str) -> Option<Scenario> {
    let (_, text) = BUILTIN.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))?;
    // The built-in files are checked by a unit test, so this cannot fail.
    Scenario::from_json(text).ok()
}

/// Every built-in scenario.
pub fn builtins() -> Vec<Scenario> {
    builtin_names().filter_map(builtin).collect()
}

/// A duration written as humantime text ("2ms") in scenario files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextDuration(pub Duration);

impl Serialize for TextDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for TextDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s)
            .map(TextDuration)
            .map_err(|e| serde::de::Error::custom(format!("bad duration '{s}': {e}")))
    }
}

/// `pairs`: every thread takes a buffer and returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairsParams {}

/// `handoff`: producers take and fill, consumers verify and return.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HandoffParams {
    /// Capacity of each consumer's inbound queue, in buffers.
    pub queue_depth: usize,
    /// Buffers a producer sends to one consumer at a time (1: each on its
    /// own). See `bench::handoff` for why the default batches.
    pub batch: usize,
    /// Producers, unless --producers says otherwise (default: half the
    /// threads).
    pub producers: Option<usize>,
    /// Consumers, unless --consumers says otherwise (default: the rest).
    pub consumers: Option<usize>,
}

impl Default for HandoffParams {
    fn default() -> Self {
        HandoffParams {
            queue_depth: 64,
            batch: 16,
            producers: None,
            consumers: None,
        }
    }
}

/// `burst`: take a batch, return the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BurstParams {
    /// All threads' batches together, as a multiple of the pool's
    /// capacity; above 1 the pool runs dry.
    pub demand: f64,
    /// A fixed batch size per thread instead of `demand`.
    pub batch: Option<usize>,
}

impl Default for BurstParams {
    fn default() -> Self {
        BurstParams {
            demand: 1.5,
            batch: None,
        }
    }
}

impl BurstParams {
    /// The batch each of `threads` threads takes from a pool of `capacity`.
    pub fn batch_size(&self, threads: usize, capacity: usize) -> usize {
        let k = match self.batch {
            Some(b) => b,
            None => (self.demand * capacity as f64 / threads.max(1) as f64).ceil() as usize,
        };
        k.clamp(1, capacity.max(1))
    }
}

/// `hold`: keep each buffer for a while, writing to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HoldParams {
    /// How long each buffer is held and written to.
    pub hold: TextDuration,
    /// One byte in this many is written on each pass over the buffer
    /// (64: one per cache line).
    pub touch_stride: usize,
}

impl Default for HoldParams {
    fn default() -> Self {
        HoldParams {
            hold: TextDuration(Duration::from_micros(5)),
            touch_stride: 64,
        }
    }
}

/// The largest scratch file of the `io` scenario, per thread.
pub const MAX_IO_FILE_SIZE: u64 = 1 << 30;

/// The most reads in flight per thread in the `io` scenario.
pub const MAX_IO_QUEUE_DEPTH: usize = 4096;

/// `io`: get a buffer, read part of a scratch file into it through
/// io_uring, check it, return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IoParams {
    /// Bytes of each thread's scratch file (whole pages).
    pub file_size: u64,
    /// Bytes per read (a multiple of 8, at least 16); `None`: the tier's
    /// buffer size. Capped to the buffer size and to the file.
    pub read_size: Option<usize>,
    /// Reads in flight per thread, each in its own buffer.
    pub queue_depth: usize,
    /// Also run iobuf's pools registered with each ring as fixed buffers
    /// (READ_FIXED), as extra `-fixed` rows.
    pub fixed_buffers: bool,
}

impl Default for IoParams {
    fn default() -> Self {
        IoParams {
            file_size: 4 << 20,
            read_size: None,
            queue_depth: 1,
            fixed_buffers: true,
        }
    }
}

impl IoParams {
    /// Bytes per read with buffers of `buffer_size` bytes: `read_size` (or
    /// the whole buffer), at most the buffer and the file. A multiple of 8
    /// (tier sizes, `read_size` and `file_size` all are).
    pub fn read_len(&self, buffer_size: usize) -> usize {
        let file = usize::try_from(self.file_size).unwrap_or(usize::MAX);
        self.read_size
            .unwrap_or(buffer_size)
            .min(buffer_size)
            .min(file)
    }
}

/// What the threads do. New kinds add a variant here, a parse arm in
/// [`Scenario::from_json`] and a worker file in `bench/`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "params", rename_all = "lowercase")]
pub enum ScenarioKind {
    Pairs(PairsParams),
    Handoff(HandoffParams),
    Burst(BurstParams),
    Hold(HoldParams),
    Io(IoParams),
}

impl ScenarioKind {
    const NAMES: [&'static str; 5] = ["pairs", "handoff", "burst", "hold", "io"];

    pub fn name(&self) -> &'static str {
        match self {
            ScenarioKind::Pairs(_) => "pairs",
            ScenarioKind::Handoff(_) => "handoff",
            ScenarioKind::Burst(_) => "burst",
            ScenarioKind::Hold(_) => "hold",
            ScenarioKind::Io(_) => "io",
        }
    }

    /// Whether cases time each buffer from its get to its return
    /// (`end_to_end`): handoff across threads, io across the read.
    pub fn has_end_to_end(&self) -> bool {
        matches!(self, ScenarioKind::Handoff(_) | ScenarioKind::Io(_))
    }
}

/// A scenario, built in or read from a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    #[serde(flatten)]
    pub kind: ScenarioKind,
    /// The file it came from, or `None` for a built-in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// The file format before `params` is read for its kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    kind: String,
    #[serde(default)]
    params: Option<serde_json::Value>,
}

/// Why a scenario could not be read; Display is one line.
#[derive(Debug)]
pub struct ScenarioError(String);

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn params<T: serde::de::DeserializeOwned + Default>(
    v: Option<serde_json::Value>,
) -> Result<T, String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v).map_err(|e| format!("in \"params\": {e}")),
    }
}

impl Scenario {
    /// Reads a scenario from JSON text; the error says what is wrong
    /// (serde's message, with line and column where it has them).
    pub fn from_json(text: &str) -> Result<Scenario, String> {
        let raw: RawScenario = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let name = raw.name.trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(format!(
                "\"name\" must be non-empty letters, digits, '-', '_' or '.' (got {:?})",
                raw.name
            ));
        }
        let kind = match raw.kind.as_str() {
            "pairs" => ScenarioKind::Pairs(params(raw.params)?),
            "handoff" => ScenarioKind::Handoff(params(raw.params)?),
            "burst" => ScenarioKind::Burst(params(raw.params)?),
            "hold" => ScenarioKind::Hold(params(raw.params)?),
            "io" => ScenarioKind::Io(params(raw.params)?),
            other => {
                return Err(format!(
                    "unknown \"kind\" '{other}'; expected one of {}",
                    ScenarioKind::NAMES.join(", ")
                ))
            }
        };
        validate(&kind)?;
        Ok(Scenario {
            name,
            description: raw.description,
            kind,
            file: None,
        })
    }

    /// Reads a scenario file; errors name the file and the problem.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let shown = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError(format!("cannot read scenario file '{shown}': {e}")))?;
        let mut s = Scenario::from_json(&text)
            .map_err(|e| ScenarioError(format!("malformed scenario file '{shown}': {e}")))?;
        s.file = Some(path.display().to_string());
        Ok(s)
    }
}

fn validate(kind: &ScenarioKind) -> Result<(), String> {
    let bad = |what: &str| Err(format!("in \"params\": {what}"));
    match kind {
        ScenarioKind::Pairs(_) => Ok(()),
        ScenarioKind::Handoff(p) => {
            if p.queue_depth == 0 || p.queue_depth > 1 << 20 {
                return bad("queue_depth must be between 1 and 1048576");
            }
            if p.batch == 0 || p.batch > p.queue_depth {
                return bad("batch must be between 1 and queue_depth");
            }
            if p.producers == Some(0) || p.consumers == Some(0) {
                return bad("producers and consumers must be at least 1");
            }
            Ok(())
        }
        ScenarioKind::Burst(p) => {
            if !(p.demand.is_finite() && p.demand > 0.0 && p.demand <= 1000.0) {
                return bad("demand must be a number above 0 and at most 1000");
            }
            if p.batch == Some(0) {
                return bad("batch must be at least 1");
            }
            Ok(())
        }
        ScenarioKind::Hold(p) => {
            if p.hold.0 > Duration::from_secs(1) {
                return bad("hold must be at most 1s");
            }
            if p.touch_stride == 0 {
                return bad("touch_stride must be at least 1");
            }
            Ok(())
        }
        ScenarioKind::Io(p) => {
            if p.file_size < 4096 || p.file_size > MAX_IO_FILE_SIZE || p.file_size % 4096 != 0 {
                return bad("file_size must be a multiple of 4096 from 4096 to 1073741824");
            }
            if let Some(r) = p.read_size {
                if r < 16 || r % 8 != 0 || r as u64 > MAX_IO_FILE_SIZE {
                    return bad("read_size must be a multiple of 8 from 16 to 1073741824");
                }
            }
            if p.queue_depth == 0 || p.queue_depth > MAX_IO_QUEUE_DEPTH {
                return bad("queue_depth must be between 1 and 4096");
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_parses_under_its_own_name() {
        for (name, text) in BUILTIN {
            let s = Scenario::from_json(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(s.name, name);
            // Its kind, or a variant of it named after it (burst32).
            assert!(
                name.starts_with(s.kind.name()),
                "{name} is a {}",
                s.kind.name()
            );
            assert!(!s.description.is_empty(), "{name} has no description");
        }
        assert_eq!(builtins().len(), BUILTIN.len());
        for d in DEFAULT_SCENARIOS {
            assert!(builtin(d).is_some());
        }
    }

    #[test]
    fn params_are_optional_and_typos_are_errors() {
        let s = Scenario::from_json(r#"{"name":"b","kind":"burst"}"#).unwrap();
        assert_eq!(s.kind, ScenarioKind::Burst(BurstParams::default()));
        let e =
            Scenario::from_json(r#"{"name":"b","kind":"burst","params":{"demnd":2}}"#).unwrap_err();
        assert!(e.contains("demnd"), "{e}");
        let e = Scenario::from_json(r#"{"name":"b","kind":"teleport"}"#).unwrap_err();
        assert!(e.contains("teleport") && e.contains("handoff"), "{e}");
        let e = Scenario::from_json(r#"{"name":"b","kind":"hold","params":{"hold":"soon"}}"#)
            .unwrap_err();
        assert!(e.contains("soon"), "{e}");
        let e = Scenario::from_json(r#"{"name":"","kind":"pairs"}"#).unwrap_err();
        assert!(e.contains("name"), "{e}");
        let e = Scenario::from_json(
            r#"{"name":"x","kind":"handoff","params":{"queue_depth":8,"batch":9}}"#,
        )
        .unwrap_err();
        assert!(e.contains("batch"), "{e}");
        let e = Scenario::from_json(r#"{"name":"x","kind":"handoff","params":{"queue_depth":0}}"#)
            .unwrap_err();
        assert!(e.contains("queue_depth"), "{e}");
        assert!(Scenario::from_json("{").is_err());
    }

    #[test]
    fn burst_batches_overcommit_but_never_exceed_the_pool() {
        let p = BurstParams::default();
        assert_eq!(p.batch_size(16, 1024), 96);
        assert!(16 * p.batch_size(16, 1024) > 1024);
        assert_eq!(p.batch_size(1, 1024), 1024);
        assert_eq!(p.batch_size(4, 1), 1);
    }

    #[test]
    fn io_params_check_sizes_and_cap_the_read() {
        let s = builtin("io").unwrap();
        let ScenarioKind::Io(p) = &s.kind else {
            panic!("io is {:?}", s.kind)
        };
        assert_eq!(p, &IoParams::default());
        assert!(s.kind.has_end_to_end());
        assert!(!builtin("pairs").unwrap().kind.has_end_to_end());
        assert!(
            !DEFAULT_SCENARIOS.contains(&"io"),
            "io must stay out of the default run"
        );
        // The whole buffer by default, at most the file.
        assert_eq!(p.read_len(2048), 2048);
        assert_eq!(p.read_len(128 << 20), 4 << 20);
        let small = IoParams {
            read_size: Some(512),
            ..IoParams::default()
        };
        assert_eq!(small.read_len(2048), 512);
        assert_eq!(small.read_len(32), 32);
        for (params, what) in [
            (r#"{"file_size":1000}"#, "file_size"),
            (r#"{"file_size":0}"#, "file_size"),
            (r#"{"read_size":12}"#, "read_size"),
            (r#"{"read_size":100}"#, "read_size"),
            (r#"{"queue_depth":0}"#, "queue_depth"),
            (r#"{"depth":2}"#, "depth"),
        ] {
            let text = format!(r#"{{"name":"x","kind":"io","params":{params}}}"#);
            let e = Scenario::from_json(&text).unwrap_err();
            assert!(e.contains(what), "{params}: {e}");
        }
        let ok = Scenario::from_json(
            r#"{"name":"x","kind":"io","params":{"read_size":4096,"queue_depth":8,"fixed_buffers":false}}"#,
        )
        .unwrap();
        assert_eq!(
            ok.kind,
            ScenarioKind::Io(IoParams {
                read_size: Some(4096),
                queue_depth: 8,
                fixed_buffers: false,
                ..IoParams::default()
            })
        );
    }

    #[test]
    fn serialises_with_kind_and_params() {
        let v = serde_json::to_value(builtin("hold").unwrap()).unwrap();
        assert_eq!(v["kind"], "hold");
        assert_eq!(v["params"]["touch_stride"], 64);
        assert!(v.get("file").is_none());
    }
}
