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
    // Every iobuf row of every case was gated by its ratio to crossbeam:
    // 2 scenarios × 3 threads × 2 iobuf rows.
    let ratio_rows = o
        .stdout
        .lines()
        .filter(|l| l.contains("iobuf/crossbeam") || l.contains("iobuf-cached/crossbeam"))
        .filter(|l| l.contains(" ok ") && l.trim_end().ends_with("within threshold"))
        .count();
    assert_eq!(ratio_rows, 12, "{}", o.stdout);
    assert!(
        !o.stdout.contains("iobuf/mutex"),
        "one base row: {}",
        o.stdout
    );
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
    // iobuf's ratio fails in every case; iobuf-cached's does not.
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
    assert_eq!(failing.len(), 6, "{failing:?}");
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

/// A noisy base row moves every ratio; that is not the iobuf rows' change.
#[test]
fn a_ratio_moved_by_its_base_row_is_reported_as_the_base_moving() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc();
    let mut cur = base.clone();
    run_doc::scale_pool(&mut cur, "crossbeam", 1.5);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    let r = row(&o.stdout, &["pairs/small/1t", "iobuf/crossbeam"]);
    assert!(r.contains("-33.3%") && r.contains("base moved"), "{r}");
    assert!(r.contains("(crossbeam +50.0%, iobuf +0.0%)"), "{r}");
    assert!(!o.stdout.contains("improved"), "{}", o.stdout);
    // The same with a slower base row: no false "improved" either.
    let mut cur = base.clone();
    run_doc::scale_pool(&mut cur, "crossbeam", 0.57);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(!o.stdout.contains("improved"), "{}", o.stdout);
    // Both moved, the iobuf row more: its own change, and it fails.
    let mut cur = base.clone();
    run_doc::scale_pool(&mut cur, "crossbeam", 0.9);
    run_doc::scale_pool(&mut cur, "iobuf", 0.6);
    assert_eq!(compare(dir.path(), &base, &cur, &[]).code, 1);
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
        o.stdout
            .contains("[absolute: no same-run ceiling or crossbeam row]"),
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

    // Repeats pool their samples: one slow run among two is too noisy to
    // decide on (unresolved, not a failure).
    let o = compare_paths(&[b, n], &["--current-repeat", fine]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(o
        .stdout
        .contains("the rounds of these 2 runs pool into one sample"));
    assert!(
        row(&o.stdout, &["pairs/small/1t", "iobuf/crossbeam"]).contains("unresolved"),
        "{}",
        o.stdout
    );
    // Slow in every repeat is a regression.
    let o = compare_paths(&[b, n], &["--current-repeat", n]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    // A slow baseline run does not make a false "improved".
    let o = compare_paths(&[n, fine], &["--baseline-repeat", b]);
    assert_eq!(o.code, 0);
    assert!(!o.stdout.contains("improved"), "{}", o.stdout);
    // A bad repeat is bad input.
    let o = compare_paths(&[b, fine], &["--current-repeat", "/nonexistent/run.json"]);
    assert_rejected(&o, &["/nonexistent/run.json"]);
}

// ---- identity: a case is its whole configuration -------------------------

/// Applies `f` to every result for which `pick` holds.
fn edit(doc: &mut Value, pick: impl Fn(&Value) -> bool, f: impl Fn(&mut Value)) {
    for r in doc["results"].as_array_mut().unwrap() {
        if pick(r) {
            f(r);
        }
    }
}

/// The default fixture with each result's kind and params written the way
/// `run` writes them.
fn doc_with_identity() -> Value {
    let mut doc = run_doc::doc();
    edit(
        &mut doc,
        |_| true,
        |r| {
            let handoff = r["scenario"] == "handoff";
            r["kind"] = r["scenario"].clone();
            r["params"] = if handoff {
                json!({"queue_depth": 64, "producers": null, "consumers": null})
            } else {
                json!({})
            };
            r["rate"] = Value::Null;
        },
    );
    doc
}

fn threads_2(r: &Value) -> bool {
    r["threads"] == 2 && r["scenario"] == "pairs"
}

/// The current run differs from the baseline in one field of the pairs/2t
/// cases, and those cases are also much slower: they must be listed as
/// unmatched and never gated, while everything else still compares.
fn assert_unmatched_not_regression(cur: &Value, needle: &str) {
    let dir = TempDir::new().unwrap();
    let base = doc_with_identity();
    let o = compare(dir.path(), &base, cur, &["--gate", "both"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(!o.stdout.contains("REGRESSION"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("in the current run only (unmatched, not compared):"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("in the baseline only"), "{}", o.stdout);
    let listed = o
        .stdout
        .lines()
        .find(|l| l.contains("pairs/") && l.contains("[vs the baseline's"))
        .unwrap_or_else(|| panic!("no unmatched line with a reason:\n{}", o.stdout));
    assert!(listed.contains(needle), "{needle:?} not in {listed:?}");
    // The other cases were compared: pairs/1t and 4t, handoff at every count.
    assert!(find_row(&o.stdout, &["pairs/small/1t", "iobuf/crossbeam"]).is_some());
    assert!(find_row(&o.stdout, &["pairs/small/2t", "iobuf/crossbeam"]).is_none());
}

fn slow(r: &mut Value) {
    let v = r["ops_per_sec"].as_f64().unwrap();
    r["ops_per_sec"] = json!(v * if r["pool"] == "iobuf" { 0.065 } else { 1.0 });
}

#[test]
fn a_pairs_named_scenario_of_kind_hold_is_unmatched_not_a_regression() {
    let mut cur = doc_with_identity();
    edit(&mut cur, threads_2, |r| {
        r["kind"] = json!("hold");
        r["params"] = json!({"hold": "5us", "touch_stride": 64});
        slow(r);
    });
    assert_unmatched_not_regression(&cur, "kind hold vs pairs");
}

#[test]
fn different_params_are_unmatched() {
    let mut base = doc_with_identity();
    let mut cur = base.clone();
    edit(
        &mut base,
        |r| r["scenario"] == "handoff",
        |r| r["params"]["queue_depth"] = json!(64),
    );
    edit(
        &mut cur,
        |r| r["scenario"] == "handoff",
        |r| {
            r["params"]["queue_depth"] = json!(8);
            slow(r);
        },
    );
    let dir = TempDir::new().unwrap();
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(!o.stdout.contains("REGRESSION"), "{}", o.stdout);
    assert!(o.stdout.contains("queue_depth\":8"), "{}", o.stdout);
}

#[test]
fn a_different_capacity_is_unmatched_not_a_regression() {
    let mut cur = doc_with_identity();
    edit(&mut cur, threads_2, |r| {
        r["capacity"] = json!(1);
        slow(r);
    });
    assert_unmatched_not_regression(&cur, "capacity 1 vs 1024");
}

#[test]
fn an_open_loop_run_is_unmatched_with_a_closed_loop_one() {
    let mut cur = doc_with_identity();
    edit(&mut cur, threads_2, |r| {
        r["rate"] = json!(1000.0);
        slow(r);
    });
    assert_unmatched_not_regression(&cur, "rate open loop 1000 ops/s per thread vs closed loop");
}

#[test]
fn a_different_tier_is_unmatched_not_a_regression() {
    let mut cur = doc_with_identity();
    edit(&mut cur, threads_2, |r| {
        r["tier"] = json!("big");
        slow(r);
    });
    assert_unmatched_not_regression(&cur, "tier big vs small");
}

#[test]
fn a_different_producer_consumer_layout_is_unmatched() {
    let base = doc_with_identity();
    let mut cur = base.clone();
    edit(
        &mut cur,
        |r| r["scenario"] == "handoff" && r["threads"] == 4,
        |r| {
            r["producers"] = json!(1);
            r["consumers"] = json!(3);
            slow(r);
        },
    );
    let dir = TempDir::new().unwrap();
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(!o.stdout.contains("REGRESSION"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("layout 1 producers + 3 consumers vs 2 producers + 2 consumers"),
        "{}",
        o.stdout
    );
}

#[test]
fn identity_comes_from_config_in_documents_without_per_case_fields() {
    // Documents written before results carried kind and rate still say them
    // once in `config`.
    let dir = TempDir::new().unwrap();
    let mut base = run_doc::doc_with(&["pairs"], &["small"], &[1], &run_doc::POOLS);
    base["config"]["scenarios"] = json!([{"name": "pairs", "kind": "pairs", "params": {}}]);
    base["config"]["rate"] = Value::Null;
    let mut hold = base.clone();
    hold["config"]["scenarios"] =
        json!([{"name": "pairs", "kind": "hold", "params": {"hold": "5us", "touch_stride": 64}}]);
    edit(&mut hold, |_| true, slow);
    let o = compare(dir.path(), &base, &hold, &[]);
    assert_rejected(&o, &["nothing to compare", "kind pairs vs hold"]);

    let mut open = base.clone();
    open["config"]["rate"] = json!(1.0);
    let o = compare(dir.path(), &base, &open, &[]);
    assert_rejected(&o, &["nothing to compare", "rate"]);

    // The same configuration, written both ways, matches.
    let mut new_style = base.clone();
    edit(
        &mut new_style,
        |_| true,
        |r| {
            r["kind"] = json!("pairs");
            r["params"] = json!({});
            r["rate"] = Value::Null;
        },
    );
    let o = compare(dir.path(), &base, &new_style, &[]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(!o.stdout.contains("unmatched"), "{}", o.stdout);
}

#[test]
fn a_repeat_of_another_configuration_is_refused() {
    let dir = TempDir::new().unwrap();
    let base = doc_with_identity();
    let b = run_doc::write(dir.path(), "baseline.json", &base);
    let c = run_doc::write(dir.path(), "current.json", &base);
    let (b, c) = (b.to_str().unwrap(), c.to_str().unwrap());
    type Change = fn(&mut Value);
    let cases: [(&str, Change, &str); 4] = [
        ("kind.json", |r| r["kind"] = json!("hold"), "kind"),
        ("capacity.json", |r| r["capacity"] = json!(1), "capacity"),
        ("rate.json", |r| r["rate"] = json!(50.0), "rate"),
        ("tier.json", |r| r["tier"] = json!("big"), "tier"),
    ];
    for (name, change, needle) in cases {
        let mut other = base.clone();
        edit(&mut other, threads_2, change);
        let p = run_doc::write(dir.path(), name, &other);
        let p = p.to_str().unwrap();
        for flag in ["--current-repeat", "--baseline-repeat"] {
            let o = compare_paths(&[b, c], &[flag, p]);
            assert_rejected(&o, &[name, "is not a repeat of", needle]);
        }
    }
    // A repeat lacking a pool is another configuration too.
    let mut fewer = base.clone();
    fewer["results"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["pool"] != "mutex");
    let p = run_doc::write(dir.path(), "fewer.json", &fewer);
    let o = compare_paths(&[b, c], &["--current-repeat", p.to_str().unwrap()]);
    assert_rejected(&o, &["fewer.json", "is not a repeat of", "mutex"]);
}

// ---- the spread rule -------------------------------------------------------

/// One case (pairs/small/1t) with iobuf's and crossbeam's per-round
/// throughput; the headline is the median, as `run --runs N` writes it.
fn rounds_doc(iobuf: &[f64], crossbeam: &[f64], as_objects: bool) -> Value {
    let mut doc = run_doc::doc_with(&["pairs"], &["small"], &[1], &["iobuf", "crossbeam"]);
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for r in doc["results"].as_array_mut().unwrap() {
        let rounds = if r["pool"] == "iobuf" {
            iobuf
        } else {
            crossbeam
        };
        r["ops_per_sec"] = json!(median(rounds));
        r["rounds"] = if as_objects {
            json!(rounds
                .iter()
                .map(|v| json!({"ops_per_sec": v, "duration_s": 0.1}))
                .collect::<Vec<_>>())
        } else {
            json!(rounds)
        };
        r["complete"] = json!(true);
    }
    doc
}

/// The table row whose first cells are `cells`.
fn find_row<'a>(stdout: &'a str, cells: &[&str]) -> Option<&'a str> {
    stdout.lines().find(|l| {
        let mut words = l.split_whitespace();
        cells.iter().all(|c| words.next() == Some(c))
    })
}

fn row<'a>(stdout: &'a str, cells: &[&str]) -> &'a str {
    find_row(stdout, cells).unwrap_or_else(|| panic!("no row {cells:?}:\n{stdout}"))
}

#[test]
fn a_drop_past_the_threshold_within_the_noise_is_unresolved_not_a_regression() {
    let dir = TempDir::new().unwrap();
    // iobuf/crossbeam per round: 1.2, 1.33, 1.47 before; 1.0, 1.13, 1.27 after.
    let base = rounds_doc(&[18e6, 20e6, 22e6], &[15e6, 15e6, 15e6], true);
    let cur = rounds_doc(&[15e6, 17e6, 19e6], &[15e6, 15e6, 15e6], true);
    let o = compare(dir.path(), &base, &cur, &["--gate", "both"]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    let ratio = row(&o.stdout, &["pairs/small/1t", "iobuf/crossbeam"]);
    assert!(ratio.contains("-15.1%"), "{ratio}");
    assert!(ratio.contains(" unresolved "), "{ratio}");
    assert!(
        ratio.contains("past threshold, 95% interval spans 0"),
        "{ratio}"
    );
    assert!(
        ratio.contains("1.333 [1.200–1.467]"),
        "the spread is shown: {ratio}"
    );
    let abs = row(&o.stdout, &["pairs/small/1t", "iobuf"]);
    assert!(abs.contains("95% interval spans 0"), "{abs}");
    assert!(!o.stdout.contains("threshold alone"), "{}", o.stdout);
    assert!(o.stdout.contains("figure(s) unresolved"), "{}", o.stdout);
    // The smallest drop these rounds could detect is stated, and it is
    // more than this drop.
    let power = o
        .stdout
        .lines()
        .find(|l| l.starts_with("power:"))
        .unwrap_or_else(|| panic!("{}", o.stdout));
    assert!(power.contains("95 times in 100"), "{power}");
}

#[test]
fn a_drop_past_the_threshold_outside_the_noise_is_a_regression() {
    let dir = TempDir::new().unwrap();
    // After: 0.8, 0.87, 0.93 against 1.2, 1.33, 1.47.
    let base = rounds_doc(&[18e6, 20e6, 22e6], &[15e6, 15e6, 15e6], true);
    let cur = rounds_doc(&[12e6, 13e6, 14e6], &[15e6, 15e6, 15e6], false);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    let ratio = row(&o.stdout, &["pairs/small/1t", "iobuf/crossbeam"]);
    assert!(ratio.contains("REGRESSION"), "{ratio}");
    assert!(ratio.contains("95% interval excludes 0"), "{ratio}");
    let verdict = o
        .stdout
        .lines()
        .find(|l| {
            l.contains("iobuf/crossbeam throughput ratio -34.9%") && l.contains("%, 95% interval [")
        })
        .unwrap_or_else(|| panic!("the verdict names the change and interval: {}", o.stdout));
    assert!(
        verdict.contains("(past threshold, 95% interval excludes 0)"),
        "{verdict}"
    );
    // Significant but within the threshold passes: the threshold still counts.
    let cur = rounds_doc(&[19.0e6, 19.2e6, 19.4e6], &[15e6, 15e6, 15e6], true);
    let base = rounds_doc(&[19.6e6, 20e6, 20.2e6], &[15e6, 15e6, 15e6], true);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(row(&o.stdout, &["pairs/small/1t", "iobuf/crossbeam"]).contains("within threshold"));
}

#[test]
fn an_improvement_needs_an_interval_above_zero_too() {
    let dir = TempDir::new().unwrap();
    let base = rounds_doc(&[18e6, 20e6, 22e6], &[15e6, 15e6, 15e6], true);
    let cur = rounds_doc(&[21e6, 23e6, 25e6], &[15e6, 15e6, 15e6], true);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 0);
    let ratio = row(&o.stdout, &["pairs/small/1t", "iobuf/crossbeam"]);
    assert!(!ratio.contains("improved"), "within the noise: {ratio}");
    let cur = rounds_doc(&[30e6, 31e6, 32e6], &[15e6, 15e6, 15e6], true);
    let o = compare(dir.path(), &base, &cur, &[]);
    assert!(
        row(&o.stdout, &["pairs/small/1t", "iobuf/crossbeam"]).contains("improved"),
        "{}",
        o.stdout
    );
}

#[test]
fn repeat_files_give_the_spread_where_documents_have_no_rounds() {
    let dir = TempDir::new().unwrap();
    let base = run_doc::doc();
    let mut low = base.clone();
    run_doc::scale_pool(&mut low, "iobuf", 0.8);
    let mut cur = base.clone();
    run_doc::scale_pool(&mut cur, "iobuf", 0.85);
    let b = run_doc::write(dir.path(), "baseline.json", &base);
    let l = run_doc::write(dir.path(), "low.json", &low);
    let c = run_doc::write(dir.path(), "current.json", &cur);
    let (b, l, c) = (
        b.to_str().unwrap(),
        l.to_str().unwrap(),
        c.to_str().unwrap(),
    );
    // -15% against the baseline's best run, but its own runs span
    // 0.8–1.0: within the noise.
    let o = compare_paths(&[b, c], &["--baseline-repeat", l]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(
        !row(&o.stdout, &["pairs/small/1t", "iobuf/crossbeam"]).contains("REGRESSION"),
        "{}",
        o.stdout
    );
    // Without the repeat there is one sample a side: the threshold alone
    // decides, and the output says so.
    let o = compare_paths(&[b, c], &[]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(
        row(&o.stdout, &["pairs/small/1t", "iobuf/crossbeam"])
            .contains("threshold alone (1 sample a side)"),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout.contains("the threshold alone decided them"),
        "{}",
        o.stdout
    );
}

#[test]
fn incomplete_cases_are_not_compared() {
    let dir = TempDir::new().unwrap();
    let base = rounds_doc(&[18e6, 20e6, 22e6], &[15e6, 15e6, 15e6], true);
    let mut cur = rounds_doc(&[1e6, 1e6], &[15e6, 15e6], true);
    edit(
        &mut cur,
        |r| r["pool"] == "iobuf",
        |r| r["complete"] = json!(false),
    );
    let o = compare(dir.path(), &base, &cur, &["--gate", "both"]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(
        o.stdout.contains("incomplete (the run was interrupted"),
        "{}",
        o.stdout
    );
    assert!(!o.stdout.contains("REGRESSION"), "{}", o.stdout);
}

#[test]
fn machine_and_setting_differences_are_noted() {
    let dir = TempDir::new().unwrap();
    let mut base = doc_with_identity();
    base["meta"]["host"]["cpu_governor"] = json!("performance");
    base["meta"]["host"]["turbo"] = json!(false);
    base["config"]["pin"] = json!("compact");
    let mut cur = base.clone();
    cur["meta"]["host"]["cpu_governor"] = json!("powersave");
    cur["meta"]["host"]["turbo"] = json!(true);
    cur["config"]["pin"] = json!("spread");
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    let note = o
        .stdout
        .lines()
        .find(|l| l.starts_with("note: the machines differ"))
        .unwrap_or_else(|| panic!("{}", o.stdout));
    assert!(note.contains("governor performance vs powersave"), "{note}");
    assert!(note.contains("turbo off vs on"), "{note}");
    assert!(
        o.stdout
            .contains("note: the runs' settings differ (pin \"compact\" vs \"spread\")"),
        "{}",
        o.stdout
    );
    // The same machine says nothing.
    let o = compare(dir.path(), &base, &base, &[]);
    assert!(!o.stdout.contains("note:"), "{}", o.stdout);
}

#[test]
fn throughput_spreads_are_shown_relative_to_the_headline() {
    let dir = TempDir::new().unwrap();
    let base = rounds_doc(&[18e6, 20e6, 22e6], &[15e6, 15e6, 15e6], true);
    let o = compare(dir.path(), &base, &base, &["--gate", "absolute"]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    let r = row(&o.stdout, &["pairs/small/1t", "iobuf"]);
    assert!(r.contains("20 Mops/s [-10%, +10%]"), "{r}");
    // Equal rounds have no spread to show.
    let r = row(&o.stdout, &["pairs/small/1t", "crossbeam"]);
    assert!(!r.contains("Mops/s ["), "{r}");
}

/// Runs at different check levels measure different harness costs: the
/// comparison says so.
#[test]
fn different_check_levels_are_noted() {
    let dir = TempDir::new().unwrap();
    let mut base = run_doc::doc();
    base["config"]["check"] = json!("full");
    let mut cur = base.clone();
    cur["config"]["check"] = json!("sampled");
    let o = compare(dir.path(), &base, &cur, &[]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(
        o.stdout
            .contains("note: the runs' settings differ (check \"full\" vs \"sampled\")"),
        "{}",
        o.stdout
    );
}
