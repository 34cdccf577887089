//! Reading and checking the JSON `iobuf-bench run` writes, for the CLI
//! tests (`tests/cli.rs`, `tests/cli_io.rs`).
#![allow(dead_code)]

use base64::Engine as _;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde_json::Value;

/// The binary under test.
pub fn bench() -> assert_cmd::Command {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_iobuf-bench"))
}

pub fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

pub fn count(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a whole number in {v}"))
}

/// A base64 V2 HdrHistogram as the JSON carries it.
pub fn decode(b64: &Value) -> Histogram<u64> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.as_str().expect("histogram is a string"))
        .expect("histogram is base64");
    Deserializer::new()
        .deserialize(&mut &bytes[..])
        .expect("histogram is HdrHistogram V2")
}

/// Percentiles in order, a mean, and the histogram behind them agrees.
/// Returns the number of samples.
pub fn check_latency(l: &Value, hist: &Value) -> u64 {
    let keys = ["p50", "p90", "p99", "p999", "p9999", "max"];
    let vals: Vec<u64> = keys.iter().map(|k| count(l, k)).collect();
    assert!(vals.windows(2).all(|w| w[0] <= w[1]), "not monotone: {l}");
    assert!(num(l, "mean") >= 0.0);
    let h = decode(hist);
    assert_eq!(h.len(), count(l, "samples"), "histogram and stats disagree");
    assert_eq!(h.max(), count(l, "max"));
    count(l, "samples")
}
