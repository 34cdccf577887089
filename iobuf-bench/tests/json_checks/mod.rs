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

/// The rows measured on an iobuf `BufferPool` underneath: each must carry
/// `pool_stats`.
pub const ROWS_WITH_POOL_STATS: [&str; 10] = [
    "iobuf",
    "iobuf-fifo",
    "iobuf-cached",
    "iobuf-tc",
    "iobuf-batch",
    "iobuf-tc-batch",
    "iobuf-owned",
    "iobuf-async",
    "iobuf-fixed",
    "iobuf-cached-fixed",
];

/// A result's `pool_stats`: present on every iobuf row, absent on the
/// others (their pools have no such counters), and where present every
/// field is a whole number that agrees with the case. Returns it, if any.
pub fn check_pool_stats(r: &Value) -> Option<&Value> {
    let pool = r["pool"].as_str().expect("pool");
    let s = &r["pool_stats"];
    if s.is_null() {
        assert!(
            !ROWS_WITH_POOL_STATS.contains(&pool),
            "{pool} has no pool_stats"
        );
        assert!(r.get("pool_stats").is_none(), "{pool}: null pool_stats");
        return None;
    }
    assert!(
        pool.starts_with("iobuf"),
        "{pool} is not an iobuf pool: {s}"
    );
    let keys: Vec<&str> = s
        .as_object()
        .expect("pool_stats is an object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = [
        "capacity",
        "high_water",
        "peak_in_use_sampled",
        "in_use_end",
        "waiters_end",
        "failed_try_gets",
        "failed_try_gets_warmup",
    ];
    want.sort_unstable();
    let mut got = keys.clone();
    got.sort_unstable();
    assert_eq!(got, want, "{pool}: pool_stats fields");
    let capacity = count(s, "capacity");
    assert_eq!(capacity, count(r, "capacity"), "{pool}: {s}");
    // The prefault takes every buffer once, so the lifetime mark is full;
    // except behind a LocalCache (`-cached` rows), whose refills take
    // buffers from the free list without passing the mark (the library
    // does not raise it there), so it only stays within the capacity. A
    // pool's own thread cache (`iobuf-tc`) raises it on every refill.
    if pool.contains("cached") {
        assert!(count(s, "high_water") <= capacity, "{pool}: {s}");
    } else {
        assert_eq!(count(s, "high_water"), capacity, "{pool}: {s}");
    }
    assert!(count(s, "peak_in_use_sampled") <= capacity, "{pool}: {s}");
    // After the workers joined, every buffer is back and nobody waits.
    assert_eq!(count(s, "in_use_end"), 0, "{pool}: {s}");
    assert_eq!(count(s, "waiters_end"), 0, "{pool}: {s}");
    count(s, "failed_try_gets");
    count(s, "failed_try_gets_warmup");
    Some(s)
}
