//! The `io` scenario of the real iobuf-bench binary: reads through io_uring
//! into every pool's buffers, the JSON it writes, and its bad input.
//!
//! Where io_uring is unavailable (ENOSYS, EPERM), the binary must say so in
//! one line and exit 2; the tests check that, print "skipped: ..." on
//! stderr and return.
#![cfg(all(target_os = "linux", not(miri)))]

mod json_checks;

use json_checks::{bench, check_latency, check_pool_stats, count};
use serde_json::Value;
use std::io::Write as _;

/// Runs `args`; `None` (after checking the refusal) where io_uring is
/// unavailable, else the finished process's output.
fn run_or_skip(what: &str, args: &[&str]) -> Option<std::process::Output> {
    let out = bench().args(args).output().expect("iobuf-bench runs");
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(2) && err.contains("io_uring is unavailable") {
        assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {what} because {}",
            err.trim_end()
        );
        return None;
    }
    assert!(out.status.success(), "{args:?} failed: {err}");
    Some(out)
}

fn pools(doc: &Value) -> Vec<&str> {
    doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["pool"].as_str().expect("pool"))
        .collect()
}

#[test]
fn io_reads_into_every_pool_and_checks_every_read() {
    let Some(out) = run_or_skip(
        "the io scenario",
        &[
            "run",
            "--scenario",
            "io",
            "--tier",
            "small",
            "--threads",
            "2",
            "--duration",
            "200ms",
            "--warmup",
            "50ms",
            "--json",
        ],
    ) else {
        return;
    };
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(doc["schema"], "iobuf-bench/1");
    let scenario = &doc["config"]["scenarios"][0];
    assert_eq!(scenario["kind"], "io");
    assert_eq!(scenario["params"]["queue_depth"], 1);
    // Plain READ into every pool, and iobuf's pools registered (READ_FIXED)
    // as extra rows right after their plain ones.
    let mut expected = vec![
        "ceiling",
        "iobuf",
        "iobuf-fixed",
        "iobuf-ring",
        "iobuf-fifo",
        "iobuf-cached",
        "iobuf-cached-fixed",
        "iobuf-tc",
        "iobuf-owned",
        "iobuf-async",
        "mutex",
        "crossbeam",
    ];
    // Then the other crates' pools, when the bench is built with them.
    if cfg!(feature = "peers") {
        expected.extend([
            "sharded-slab",
            "lockfree-object-pool",
            "opool",
            "object-pool",
            "concurrent-queue",
            "parking-lot",
            "lfqueue",
        ]);
    }
    assert_eq!(pools(&doc), expected);
    for r in doc["results"].as_array().unwrap() {
        let pool = r["pool"].as_str().unwrap();
        assert_eq!(r["scenario"], "io");
        assert_eq!(r["tier"], "small");
        assert_eq!(count(r, "threads"), 2);
        let ops = count(r, "ops");
        assert!(ops > 0, "{pool} read nothing");
        let per_thread: u64 = r["per_thread_ops"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(per_thread, ops, "{pool}");
        for k in ["duplicates", "corrupted", "lost"] {
            assert_eq!(r["integrity"][k], 0, "{pool}: {k}");
        }
        check_pool_stats(r);
        let (lat, hist) = (&r["latency_ns"], &r["histograms"]);
        assert!(check_latency(&lat["get"], &hist["get"]) > 0, "{pool}");
        check_latency(&lat["put"], &hist["put"]);
        let e2e = check_latency(&lat["end_to_end"], &hist["end_to_end"]);
        assert!(e2e > 0, "{pool}: no end-to-end samples");
        // The pair includes the read and its wait: never shorter than the get.
        assert!(
            count(&lat["end_to_end"], "p50") >= count(&lat["get"], "p50"),
            "{pool}: {lat}"
        );
    }
}

#[test]
fn io_is_listed_but_not_in_the_default_run() {
    let out = bench().arg("list").assert().success().get_output().clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\n  io "), "list lacks io:\n{text}");
    assert!(text.contains("iobuf-fixed") && text.contains("READ_FIXED"));
    let out = bench()
        .args([
            "run",
            "--threads",
            "2",
            "--duration",
            "5ms",
            "--warmup",
            "0s",
            "--pools",
            "iobuf",
            "--quiet",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["scenario"] != "io"));
}

#[test]
fn an_io_scenario_file_sets_depth_and_read_size_and_can_drop_fixed_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.json");
    std::fs::write(
        &path,
        r#"{"name": "io-deep", "kind": "io",
            "params": {"file_size": 65536, "read_size": 512, "queue_depth": 4, "fixed_buffers": false}}"#,
    )
    .unwrap();
    let Some(out) = run_or_skip(
        "the io scenario file",
        &[
            "run",
            "--scenario-file",
            path.to_str().unwrap(),
            "--pools",
            "iobuf,crossbeam",
            "--threads",
            "2",
            "--capacity",
            "6",
            "--duration",
            "50ms",
            "--warmup",
            "0s",
            "--quiet",
            "--json",
        ],
    ) else {
        return;
    };
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pools(&doc), ["ceiling", "iobuf", "crossbeam"]);
    for r in doc["results"].as_array().unwrap() {
        assert_eq!(r["scenario"], "io-deep");
        assert!(count(r, "ops") > 0);
        assert_eq!(r["integrity"]["corrupted"], 0);
        assert_eq!(r["integrity"]["duplicates"], 0);
        assert_eq!(r["integrity"]["lost"], 0);
    }
}

#[test]
fn bad_io_params_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (params, what) in [
        (r#"{"read_size": 12}"#, "read_size"),
        (r#"{"file_size": 1000}"#, "file_size"),
        (r#"{"queue_depth": 0}"#, "queue_depth"),
        (r#"{"fixed": true}"#, "fixed"),
    ] {
        let path = dir.path().join("bad.json");
        std::fs::write(
            &path,
            format!(r#"{{"name": "bad", "kind": "io", "params": {params}}}"#),
        )
        .unwrap();
        let out = bench()
            .args(["run", "--scenario-file", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{params}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{params}: {err}");
        assert!(err.contains(what), "{params}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
