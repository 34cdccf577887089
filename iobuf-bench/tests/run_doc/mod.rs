//! Builds `iobuf-bench/1` run documents for the compare, report and export
//! tests: every field `run` writes, real V2 HdrHistograms, and numbers shaped
//! like a real run (iobuf-cached > iobuf > crossbeam > mutex), so the tests
//! exercise the same paths a real file does.
#![allow(dead_code)]

use base64::Engine as _;
use hdrhistogram::serialization::{Serializer as _, V2Serializer};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub const POOLS: [&str; 4] = ["iobuf", "iobuf-cached", "crossbeam", "mutex"];
pub const SCENARIOS: [&str; 2] = ["pairs", "handoff"];
pub const THREADS: [u32; 3] = [1, 2, 4];

/// Deterministic pseudo-random numbers in [0, 1) (xorshift), so fixtures
/// are identical on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A latency histogram: a body around `median_ns` and a heavy tail.
fn histogram(median_ns: f64, seed: u64) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 100_000_000_000, 3).unwrap();
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for _ in 0..20_000 {
        let u = rng.next();
        // Inverse of a Pareto-like tail on top of a uniform body.
        let v = median_ns * (0.6 + 0.8 * rng.next()) / (1.0 - u).powf(0.35);
        h.record(v.max(1.0) as u64).unwrap();
    }
    h
}

fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2Serializer::new().serialize(h, &mut bytes).unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn summary(h: &Histogram<u64>) -> Value {
    json!({
        "p50": h.value_at_quantile(0.5),
        "p90": h.value_at_quantile(0.9),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "p9999": h.value_at_quantile(0.9999),
        "max": h.max(),
        "mean": h.mean(),
        "samples": h.len(),
    })
}

fn base_rate(pool: &str) -> f64 {
    match pool {
        "iobuf" => 20e6,
        "iobuf-cached" => 45e6,
        "crossbeam" => 15e6,
        "mutex" => 6e6,
        _ => 10e6,
    }
}

fn base_latency(pool: &str) -> f64 {
    match pool {
        "iobuf" => 40.0,
        "iobuf-cached" => 18.0,
        "crossbeam" => 55.0,
        "mutex" => 140.0,
        _ => 80.0,
    }
}

/// One result entry.
pub fn case(scenario: &str, tier: &str, threads: u32, pool: &str) -> Value {
    let contention = (threads as f64).sqrt();
    let ops_per_sec = base_rate(pool) * contention;
    let seed = (scenario.len() as u64) << 32 ^ (threads as u64) << 16 ^ pool.len() as u64;
    let get = histogram(base_latency(pool) * contention, seed);
    let put = histogram(base_latency(pool) * 0.7 * contention, seed + 1);
    let handoff = scenario == "handoff";
    let (producers, consumers) = if handoff {
        (threads.div_ceil(2), threads / 2)
    } else {
        (threads, threads)
    };
    let mut latency = json!({ "get": summary(&get), "put": summary(&put) });
    let mut histograms = json!({ "get": encode(&get), "put": encode(&put) });
    if handoff {
        let e2e = histogram(base_latency(pool) * 6.0 * contention, seed + 2);
        latency["end_to_end"] = summary(&e2e);
        histograms["end_to_end"] = json!(encode(&e2e));
    }
    let duration_s = 0.5;
    json!({
        "scenario": scenario,
        "tier": tier,
        "threads": threads,
        "producers": producers,
        "consumers": consumers,
        "capacity": 1024,
        "pool": pool,
        "duration_s": duration_s,
        "ops": (ops_per_sec * duration_s) as u64,
        "ops_per_sec": ops_per_sec,
        "latency_ns": latency,
        "histograms": histograms,
        "per_thread_ops": (0..threads).map(|i| (ops_per_sec * duration_s) as u64 / threads as u64 + i as u64).collect::<Vec<_>>(),
        "integrity": { "duplicates": 0, "corrupted": 0, "lost": 0 },
    })
}

/// A whole run over the given cases.
pub fn doc_with(scenarios: &[&str], tiers: &[&str], threads: &[u32], pools: &[&str]) -> Value {
    let mut results = Vec::new();
    for s in scenarios {
        for t in tiers {
            for &n in threads {
                for p in pools {
                    results.push(case(s, t, n, p));
                }
            }
        }
    }
    json!({
        "schema": "iobuf-bench/1",
        "meta": {
            "version": "0.1.0",
            "git_commit": "0123456789abcdef0123456789abcdef01234567",
            "timestamp": "2025-11-26T12:00:00Z",
            "host": { "cpu_model": "Test CPU @ 3.0GHz", "logical_cores": 2, "os": "linux", "kernel": "6.1.0" }
        },
        "config": { "tiers": tiers, "duration_s": 0.5, "pin": "compact" },
        "results": results,
    })
}

/// The default fixture: 2 scenarios × small × 1, 2, 4 threads × 4 pools.
pub fn doc() -> Value {
    doc_with(&SCENARIOS, &["small"], &THREADS, &POOLS)
}

/// Multiplies one pool's throughput (and ops) by `factor` in every case.
pub fn scale_pool(doc: &mut Value, pool: &str, factor: f64) {
    for r in doc["results"].as_array_mut().unwrap() {
        if r["pool"] == pool {
            let v = r["ops_per_sec"].as_f64().unwrap() * factor;
            r["ops_per_sec"] = json!(v);
            r["ops"] = json!((r["ops"].as_f64().unwrap() * factor) as u64);
        }
    }
}

/// Writes a document into `dir` and gives its path.
/// Gives every row of `doc` the rounds `rounds_of(pool)` names, and round
/// `reported` as its headline throughput.
pub fn set_rounds(doc: &mut Value, reported: usize, rounds_of: impl Fn(&str) -> Vec<f64>) {
    for r in doc["results"].as_array_mut().unwrap() {
        let rounds = rounds_of(r["pool"].as_str().unwrap());
        r["ops_per_sec"] = serde_json::json!(rounds[reported]);
        r["rounds"] = serde_json::json!(rounds);
    }
}

pub fn write(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(doc).unwrap()).unwrap();
    path
}
