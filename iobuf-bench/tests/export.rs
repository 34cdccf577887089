//! `iobuf-bench export --format github-bigger|github-smaller`: the JSON
//! github-action-benchmark's custom tools read.

mod run_doc;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

fn export(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("iobuf-bench")
        .unwrap()
        .arg("export")
        .args(args)
        .output()
        .unwrap()
}

fn entries(stdout: &[u8]) -> Vec<Value> {
    let v: Value = serde_json::from_slice(stdout).unwrap();
    v.as_array().expect("a JSON array").clone()
}

fn find<'a>(entries: &'a [Value], name: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {entries:#?}"))
}

#[test]
fn bigger_is_throughput_and_same_run_ratios() {
    let dir = TempDir::new().unwrap();
    let doc = run_doc::doc();
    let file = run_doc::write(dir.path(), "run.json", &doc);
    let o = export(&["--format", "github-bigger", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e = entries(&o.stdout);
    // 24 results plus 3 ratios in each of the 6 (scenario, threads) cases.
    assert_eq!(e.len(), 24 + 18);
    for entry in &e {
        let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        assert!(keys
            .iter()
            .all(|k| ["name", "unit", "value", "extra"].contains(&k.as_str())));
        assert!(entry["value"].as_f64().unwrap() > 0.0);
    }
    let t = find(&e, "pairs/small/4t/iobuf throughput");
    assert_eq!(t["unit"], "ops/s");
    let source = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scenario"] == "pairs" && r["threads"] == 4 && r["pool"] == "iobuf")
        .unwrap();
    assert_eq!(t["value"], source["ops_per_sec"]);
    assert!(t["extra"].as_str().unwrap().contains("capacity 1024"));
    let r = find(&e, "handoff/small/2t/iobuf/crossbeam throughput ratio");
    assert_eq!(r["unit"], "x");
    assert!((r["value"].as_f64().unwrap() - 20.0 / 15.0).abs() < 1e-9);
}

#[test]
fn smaller_is_p99_and_p999_latency_written_to_a_file() {
    let dir = TempDir::new().unwrap();
    let doc = run_doc::doc();
    let file = run_doc::write(dir.path(), "run.json", &doc);
    let out = dir.path().join("smaller.json");
    let o = export(&[
        "--format",
        "github-smaller",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
    let e = entries(&std::fs::read(&out).unwrap());
    // get and put in every result, end-to-end in handoff's 12; two percentiles each.
    assert_eq!(e.len(), (24 * 2 + 12) * 2);
    assert!(e.iter().all(|x| x["unit"] == "ns"));
    let p99 = find(&e, "handoff/small/1t/mutex end-to-end latency p99");
    let expected = doc["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["scenario"] == "handoff" && r["threads"] == 1 && r["pool"] == "mutex")
        .unwrap()["latency_ns"]["end_to_end"]["p99"]
        .as_f64()
        .unwrap();
    assert_eq!(p99["value"].as_f64().unwrap(), expected);
    find(&e, "pairs/small/2t/iobuf get latency p99.9");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = TempDir::new().unwrap();
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    let o = export(&["--format", "github-bigger", garbage.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("garbage.json") && stderr.contains("not valid JSON"));
    assert!(o.stdout.is_empty());

    let file = run_doc::write(dir.path(), "run.json", &run_doc::doc());
    let o = export(&["--format", "csv", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}
