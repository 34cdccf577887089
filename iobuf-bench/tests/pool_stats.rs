//! `pool.stats()` in the bench: the iobuf rows of a run carry the pool's
//! own counters for the case (`pool_stats` in the JSON, a footer line in
//! the table, the github export's `extra`), and the readers load documents
//! with and without them.

mod json_checks;
mod run_doc;

use json_checks::{bench, check_pool_stats, count};
use serde_json::Value;
use tempfile::TempDir;

/// A short one-round `run` of `pools` on pico buffers.
fn run(pools: &str, threads: &str, capacity: &str, json: bool) -> std::process::Output {
    let mut c = bench();
    c.args([
        "run",
        "--scenario",
        "pairs",
        "--tier",
        "pico",
        "--threads",
        threads,
        "--capacity",
        capacity,
        "--pools",
        pools,
        "--runs",
        "1",
        "--duration",
        "150ms",
        "--warmup",
        "20ms",
        "--quiet",
    ]);
    if json {
        c.arg("--json");
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The rows of the pools asked for (the ceiling row, which every run
/// adds, has no pool of its own to count).
fn results(out: &std::process::Output) -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let all = doc["results"].as_array().expect("results");
    assert_eq!(all[0]["pool"], "ceiling");
    assert!(all[0].get("pool_stats").is_none_or(Value::is_null));
    all[1..].to_vec()
}

#[test]
fn a_dry_pool_counts_failed_try_gets_and_is_full_at_its_high_water_mark() {
    // One buffer, two threads: every get races the other thread for it.
    let out = run("iobuf,iobuf-owned,iobuf-cached,crossbeam", "2", "1", true);
    let results = results(&out);
    assert_eq!(results.len(), 4);
    for r in &results {
        let pool = r["pool"].as_str().unwrap();
        let Some(s) = check_pool_stats(r) else {
            assert_eq!(pool, "crossbeam", "only the baseline lacks pool_stats");
            continue;
        };
        assert_eq!(count(s, "capacity"), 1, "{pool}");
        // The harness saw dry gets too: the pool's count is no artefact.
        assert!(count(r, "dry_gets") > 0, "{pool}: never ran dry: {r}");
        if pool != "iobuf-cached" {
            // Both threads call BufferPool::try_get (the owned row through
            // try_get_owned), so the pool counted misses in the window,
            // and its mark reached the whole pool.
            assert!(count(s, "failed_try_gets") > 0, "{pool}: {s}");
            assert_eq!(count(s, "high_water"), 1, "{pool}: {s}");
        }
    }
}

#[test]
fn a_pool_that_never_runs_dry_counts_no_failed_try_get() {
    // One thread holds one buffer at a time out of 64.
    let out = run(
        "iobuf,iobuf-fifo,iobuf-cached,iobuf-owned,iobuf-async,mutex",
        "1",
        "64",
        true,
    );
    let results = results(&out);
    assert_eq!(results.len(), 6);
    let mut with_stats = 0;
    for r in &results {
        let pool = r["pool"].as_str().unwrap();
        let Some(s) = check_pool_stats(r) else {
            assert_eq!(pool, "mutex");
            continue;
        };
        with_stats += 1;
        assert_eq!(count(r, "dry_gets"), 0, "{pool}");
        assert_eq!(count(s, "failed_try_gets"), 0, "{pool}: {s}");
        assert_eq!(count(s, "failed_try_gets_warmup"), 0, "{pool}: {s}");
        if pool != "iobuf-cached" {
            assert_eq!(count(s, "high_water"), 64, "{pool}: the prefault took all");
        }
        // One thread, one buffer at a time; a thread cache may hold up to
        // a refill more, never the whole pool.
        let peak = count(s, "peak_in_use_sampled");
        if pool == "iobuf-cached" {
            assert!(peak <= 64, "{pool}: {s}");
        } else {
            assert!(peak <= 1, "{pool}: {s}");
        }
    }
    assert_eq!(with_stats, 5);
}

#[test]
fn the_table_prints_the_stats_of_the_iobuf_rows_only() {
    let out = run("iobuf,crossbeam", "2", "1", false);
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("pool.stats() in the window:"))
        .unwrap_or_else(|| panic!("no pool.stats() line in\n{text}"));
    assert!(line.contains("iobuf try_get misses "), "{line}");
    assert!(line.contains("in use ≥"), "{line}");
    assert!(line.ends_with("/1"), "{line}");
    assert!(!line.contains("crossbeam"), "{line}");
    // The legend says what the figures cover.
    assert!(text.contains("pool_stats.high_water"), "{text}");
}

/// `export` through the lenient reader: a document with `pool_stats`
/// carries them into the github export; one without (every file written
/// before, and the fixtures) loads as before.
#[test]
fn the_reader_loads_documents_with_and_without_pool_stats() {
    let dir = TempDir::new().unwrap();
    let with = dir.path().join("with.json");
    std::fs::write(&with, run("iobuf,crossbeam", "2", "1", true).stdout).unwrap();
    let without = run_doc::write(dir.path(), "without.json", &run_doc::doc());
    let export = |file: &std::path::Path| {
        let o = bench()
            .args(["export", "--format", "github-bigger"])
            .arg(file)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v.as_array().unwrap().clone()
    };
    let extra = |entries: &[Value], name: &str| {
        entries
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} not exported"))["extra"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let e = export(&with);
    let iobuf = extra(&e, "pairs/pico/2t/iobuf throughput");
    assert!(iobuf.contains("failed try_gets"), "{iobuf}");
    assert!(iobuf.contains("peak in use >= "), "{iobuf}");
    assert!(iobuf.contains("/1 (sampled)"), "{iobuf}");
    let crossbeam = extra(&e, "pairs/pico/2t/crossbeam throughput");
    assert!(!crossbeam.contains("try_gets"), "{crossbeam}");
    let e = export(&without);
    assert!(!extra(&e, "pairs/small/4t/iobuf throughput").contains("try_gets"));
    // A pool_stats of the wrong shape is refused, naming the entry.
    let mut doc = run_doc::doc();
    doc["results"][0]["pool_stats"] = serde_json::json!({"failed_try_gets": "many"});
    let bad = run_doc::write(dir.path(), "bad.json", &doc);
    let o = bench()
        .args(["export", "--format", "github-bigger"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("results[0]"));
}

/// Every committed run document (all written before `pool_stats`, or
/// with it) still loads.
#[test]
fn the_committed_results_still_load() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../results");
    let mut loaded = 0;
    // The current runs and the older ones kept in results/history/ (older
    // schemas and versions of the documents: they must load all the same).
    let entries = std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(dir.join("history")).unwrap());
    for entry in entries {
        let path = entry.unwrap().path();
        // Run documents only: `calibrate` writes its own schema,
        // `gate-runs-*` holds rounds taken out of run documents, and
        // `resolution-*` is scripts/resolution.py's summary.
        let calibration = path.file_name().is_some_and(|n| {
            let n = n.to_string_lossy();
            ["calibrate-", "gate-runs-", "resolution-"]
                .iter()
                .any(|p| n.starts_with(p))
        });
        if path.extension().is_none_or(|e| e != "json") || calibration {
            continue;
        }
        let o = bench()
            .args(["export", "--format", "github-bigger"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        loaded += 1;
    }
    assert!(loaded > 0, "no run documents in {}", dir.display());
}
