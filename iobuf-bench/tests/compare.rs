//! `iobuf-bench compare`: the regression gate, run as the real binary.

mod run_doc;

use assert_cmd::Command;
use serde_json::{json, Value};
use std::path::Path;
use tempfile::TempDir;

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

fn compare(dir: &Path, baseline: &Value, current: &Value, extra: &[&str]) -> Outcome {
    let b = run_doc::write(dir, "baseline.json", baseline);
    let c = run_doc::write(dir, "current.json", current);
    compare_paths(&[b.to_str().unwrap(), c.to_str().unwrap()], extra)
}

fn compare_paths(paths: &[&str], extra: &[&str]) -> Outcome {
    let out = Command::cargo_bin("iobuf-bench")
        .unwrap()
        .arg("compare")
        .args(paths)
        .args(extra)
        .output()
        .unwrap();
    Outcome {
        code: out.status.code().expect("exited normally"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Exit 2 with exactly one line on stderr that contains every `needle`.
fn assert_rejected(o: &Outcome, needles: &[&str]) {
    assert_eq!(o.code, 2, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "one line, got:\n{}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    for n in needles {
        assert!(o.stderr.contains(n), "{n:?} not in {:?}", o.stderr);
    }
}

#[test]
fn identical_runs_pass() {
    let dir = TempDir::new().unwrap();
    let doc = run_doc::doc();
    let o = compare(dir.path(), &doc, &doc, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("gate: same-run throughput ratios"));
    assert!(o.stdout.contains("result: PASS"));
    assert!(!o.stdout.contains("REGRESSION"));
    // Every ratio of every case was compared: 2 scenarios × 3 threads × 3 ratios.
    let ratio_rows = o
        .stdout
        .lines()
        .filter(|l| {
            l.contains("iobuf/crossbeam")
                || l.contains("iobuf/mutex")
                || l.contains("iobuf-cached/crossbeam")
        })
        .filter(|l| l.trim_end().ends_with("ok"))
        .count();
    assert_eq!(ratio_rows, 18, "{}", o.stdout);
}

#[test]
fn a_40_percent_drop_in_iobuf_throughput_fails() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc();
    let mut cur = base.clone();
    run_doc::scale_pool(&mut cur, "iobuf", 0.6);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("result: FAIL"));
    // Both ratios with iobuf as numerator fail in every case; iobuf-cached's does not.
    let failing: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.contains("REGRESSION"))
        .collect();
    assert_eq!(
        failing
            .iter()
            .filter(|l| l.contains("iobuf/crossbeam"))
            .count(),
        6,
        "{}",
        o.stdout
    );
    assert_eq!(
        failing.iter().filter(|l| l.contains("iobuf/mutex")).count(),
        6
    );
    assert!(!failing.iter().any(|l| l.contains("iobuf-cached/crossbeam")));
    assert!(o.stdout.contains("-40.0%"), "{}", o.stdout);
}

#[test]
fn a_drop_in_the_cached_pool_alone_fails_on_its_ratio() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc();
    let mut cur = base.clone();
    run_doc::scale_pool(&mut cur, "iobuf-cached", 0.6);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    let failing: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.contains("REGRESSION"))
        .collect();
    assert!(
        failing.iter().all(|l| l.contains("iobuf-cached/crossbeam")),
        "{failing:?}"
    );
    assert_eq!(failing.len(), 6);
}

#[test]
fn a_slower_machine_passes_the_ratio_gate_but_not_the_absolute_one() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc();
    let mut cur = base.clone();
    for pool in run_doc::POOLS {
        run_doc::scale_pool(&mut cur, pool, 0.6);
    }
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(
        o.stdout.contains("-40.0%"),
        "absolute changes are shown: {}",
        o.stdout
    );

    let o = compare(dir.path(), &base, &cur, &["--gate", "absolute"]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(o
        .stdout
        .contains("gate: absolute throughput of iobuf's pools"));
    let failing: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.contains("REGRESSION"))
        .collect();
    // Only iobuf's own pools gate; the baselines are context.
    assert_eq!(failing.len(), 12, "{failing:?}");
    assert!(failing.iter().all(|l| l.contains(" iobuf")), "{failing:?}");

    let o = compare(dir.path(), &base, &cur, &["--gate", "both"]);
    assert_eq!(o.code, 1);
}

#[test]
fn a_faster_baseline_is_a_relative_regression() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc();
    let mut cur = base.clone();
    run_doc::scale_pool(&mut cur, "crossbeam", 1.5);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(o.stdout.contains("-33.3%"));
}

#[test]
fn the_threshold_decides() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc();
    let mut cur = base.clone();
    run_doc::scale_pool(&mut cur, "iobuf", 0.95);
    assert_eq!(compare(dir.path(), &base, &cur, &[]).code, 0);
    assert_eq!(
        compare(dir.path(), &base, &cur, &["--threshold", "0.03"]).code,
        1
    );
    let o = compare(dir.path(), &base, &cur, &["--threshold", "1.5"]);
    assert_rejected(&o, &["--threshold"]);
    let o = compare(dir.path(), &base, &cur, &["--threshold", "-0.1"]);
    assert_eq!(o.code, 2);
}

#[test]
fn an_integrity_failure_in_the_current_run_fails() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc();
    let mut cur = base.clone();
    cur["results"][5]["integrity"]["duplicates"] = json!(3);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(
        o.stdout.contains("integrity: 3 duplicate hand-outs"),
        "{}",
        o.stdout
    );
}

#[test]
fn cases_missing_on_one_side_are_listed_not_fatal() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc();
    let mut cur = base.clone();
    cur["results"]
        .as_array_mut()
        .unwrap()
        .retain(|r| !(r["threads"] == 4 && r["scenario"] == "handoff"));
    let mut extra = run_doc::case("pairs", "big", 2, "iobuf");
    extra["ops_per_sec"] = json!(1.0);
    cur["results"].as_array_mut().unwrap().push(extra);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(o.stdout.contains("in the baseline only"));
    assert!(o
        .stdout
        .contains("handoff/small/4t: iobuf, iobuf-cached, crossbeam, mutex"));
    assert!(o.stdout.contains("in the current run only"));
    assert!(o.stdout.contains("pairs/big/2t: iobuf"));
}

#[test]
fn without_a_same_run_baseline_iobuf_falls_back_to_absolute() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc_with(&["pairs"], &["small"], &[2], &["iobuf", "iobuf-cached"]);
    let mut cur = base.clone();
    run_doc::scale_pool(&mut cur, "iobuf", 0.6);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(
        o.stdout.contains("[absolute: no same-run baseline]"),
        "{}",
        o.stdout
    );
}

#[test]
fn unknown_fields_are_accepted() {
    let dir = TempDir::new().unwrap();
    let mut doc = run_doc::doc();
    doc["future_field"] = json!({"x": 1});
    doc["meta"]["host"]["numa_nodes"] = json!(2);
    doc["results"][0]["timeouts"] = json!(0);
    doc["results"][0]["latency_ns"]["get"]["stddev"] = json!(1.5);
    let o = compare(dir.path(), &doc, &doc, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
}

#[test]
fn garbage_is_rejected_with_one_line_naming_the_file() {
    let dir = TempDir::new().unwrap();
    let good = run_doc::write(dir.path(), "good.json", &run_doc::doc());
    let good = good.to_str().unwrap();
    let bad = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };

    let p = bad("noise.json", "\u{1f}\u{8b}garbage, not json {{{");
    assert_rejected(
        &compare_paths(&[good, &p], &[]),
        &["noise.json", "not valid JSON"],
    );

    let p = bad("empty.json", "");
    assert_rejected(
        &compare_paths(&[&p, good], &[]),
        &["empty.json", "not valid JSON"],
    );

    let p = bad("array.json", "[1, 2, 3]");
    assert_rejected(
        &compare_paths(&[good, &p], &[]),
        &["array.json", "not an iobuf-bench run document"],
    );

    let mut doc = run_doc::doc();
    doc["schema"] = json!("iobuf-bench/99");
    let p = bad("future.json", &doc.to_string());
    assert_rejected(
        &compare_paths(&[good, &p], &[]),
        &["future.json", "unsupported schema", "iobuf-bench/99"],
    );

    let mut doc = run_doc::doc();
    doc["results"][2]
        .as_object_mut()
        .unwrap()
        .remove("ops_per_sec");
    let p = bad("missing.json", &doc.to_string());
    assert_rejected(
        &compare_paths(&[good, &p], &[]),
        &["missing.json", "results[2]", "ops_per_sec"],
    );

    let mut doc = run_doc::doc();
    doc["results"][0]["threads"] = json!("four");
    let p = bad("typed.json", &doc.to_string());
    assert_rejected(
        &compare_paths(&[good, &p], &[]),
        &["typed.json", "results[0]"],
    );

    let mut doc = run_doc::doc();
    doc["results"][1]["ops_per_sec"] = json!(-5.0);
    let p = bad("negative.json", &doc.to_string());
    assert_rejected(
        &compare_paths(&[good, &p], &[]),
        &["negative.json", "ops_per_sec"],
    );

    let mut doc = run_doc::doc();
    let dup = doc["results"][0].clone();
    doc["results"].as_array_mut().unwrap().push(dup);
    let p = bad("dup.json", &doc.to_string());
    assert_rejected(
        &compare_paths(&[good, &p], &[]),
        &["dup.json", "more than once"],
    );

    let missing = dir.path().join("does-not-exist.json");
    assert_rejected(
        &compare_paths(&[good, missing.to_str().unwrap()], &[]),
        &["does-not-exist.json", "cannot read"],
    );

    let other = run_doc::doc_with(&["hold"], &["big"], &[8], &run_doc::POOLS);
    let p = bad("disjoint.json", &other.to_string());
    assert_rejected(&compare_paths(&[good, &p], &[]), &["nothing to compare"]);
}

#[test]
fn repeated_runs_count_each_pools_best() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc();
    let b = run_doc::write(dir.path(), "baseline.json", &base);
    let mut noisy = base.clone();
    run_doc::scale_pool(&mut noisy, "iobuf", 0.6);
    let n = run_doc::write(dir.path(), "noisy.json", &noisy);
    let fine = run_doc::write(dir.path(), "fine.json", &base);
    let (b, n, fine) = (
        b.to_str().unwrap(),
        n.to_str().unwrap(),
        fine.to_str().unwrap(),
    );

    // One slow run among repeats is noise: the best run counts.
    let o = compare_paths(&[b, n], &["--current-repeat", fine]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(o.stdout.contains("best throughput over these 2 runs"));
    // Slow in every repeat is a regression.
    let o = compare_paths(&[b, n], &["--current-repeat", n]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    // A slow baseline run is outvoted the same way (no false "improved").
    let o = compare_paths(&[n, fine], &["--baseline-repeat", b]);
    assert_eq!(o.code, 0);
    assert!(!o.stdout.contains("improved"), "{}", o.stdout);
    // A bad repeat is bad input.
    let o = compare_paths(&[b, fine], &["--current-repeat", "/nonexistent/run.json"]);
    assert_rejected(&o, &["/nonexistent/run.json"]);
}
