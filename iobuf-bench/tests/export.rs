//! `iobuf-bench export`: the JSON github-action-benchmark's custom tools
//! read (github-bigger, github-smaller), a GitHub-flavoured Markdown table
//! (markdown) and Bencher Metric Format JSON (bmf), each checked against
//! its format's documented shape; and `--out` written atomically.

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
    // 24 results plus a ratio to crossbeam for each of the 2 iobuf rows in
    // each of the 6 (scenario, threads) cases.
    assert_eq!(e.len(), 24 + 12);
    for entry in &e {
        let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        assert!(keys
            .iter()
            .all(|k| ["name", "unit", "value", "range", "extra"].contains(&k.as_str())));
        // One round: no spread, so no range.
        assert!(entry.get("range").is_none(), "{entry}");
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
    // Every thread of pairs takes and returns: no producer/consumer split.
    assert!(
        !t["extra"].as_str().unwrap().contains("producers"),
        "{}",
        t["extra"]
    );
    let r = find(&e, "handoff/small/2t/iobuf/crossbeam throughput ratio");
    assert_eq!(r["unit"], "x");
    assert!((r["value"].as_f64().unwrap() - 20.0 / 15.0).abs() < 1e-9);
    assert!(
        find(
            &e,
            "handoff/small/2t/iobuf-cached/crossbeam throughput ratio"
        )["unit"]
            == "x"
    );
}

/// With rounds, throughput and ratios carry their spread as `range`, and
/// the ratio is the median of the per-round ratios ("vs base").
#[test]
fn bigger_carries_the_rounds_spread_as_range() {
    let dir = TempDir::new().unwrap();
    let mut doc = run_doc::doc_with(&["pairs"], &["small"], &[1], &["iobuf", "crossbeam"]);
    for r in doc["results"].as_array_mut().unwrap() {
        let rounds: Vec<f64> = if r["pool"] == "iobuf" {
            vec![30e6, 20e6, 40e6]
        } else {
            vec![10e6, 10e6, 20e6]
        };
        r["rounds"] = serde_json::json!(rounds);
        r["ops_per_sec"] = serde_json::json!(rounds[0]);
    }
    let file = run_doc::write(dir.path(), "run.json", &doc);
    let o = export(&["--format", "github-bigger", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e = entries(&o.stdout);
    let t = find(&e, "pairs/small/1t/iobuf throughput");
    assert_eq!(t["range"], "± 10000000");
    // Per round: 3, 2, 2: median 2, min–max 2–3.
    let r = find(&e, "pairs/small/1t/iobuf/crossbeam throughput ratio");
    assert_eq!(r["value"].as_f64().unwrap(), 2.0);
    assert_eq!(r["range"], "± 0.500");
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

/// The cells of one Markdown table row, or `None` if it is not a row.
fn cells(line: &str) -> Option<Vec<String>> {
    let inner = line.strip_prefix('|')?.strip_suffix('|')?;
    // A `\|` inside a cell is text, not a separator.
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    Some(out.into_iter().map(|c| c.trim().to_string()).collect())
}

#[test]
fn markdown_is_one_gfm_table_with_a_row_per_result() {
    let dir = TempDir::new().unwrap();
    let file = run_doc::write(dir.path(), "run.json", &run_doc::doc());
    let o = export(&["--format", "markdown", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // GFM: a header row, a delimiter row with as many cells, then body rows.
    let header = cells(lines[0]).expect("header row");
    assert_eq!(
        header,
        [
            "case",
            "pool",
            "pairs/s",
            "vs crossbeam (same round)",
            "get p99",
            "put p99"
        ]
    );
    let delimiter = cells(lines[1]).expect("delimiter row");
    assert_eq!(delimiter.len(), header.len());
    for d in &delimiter {
        let core = d.trim_start_matches(':').trim_end_matches(':');
        assert!(core.len() >= 3 && core.chars().all(|c| c == '-'), "{d:?}");
    }
    let body: Vec<Vec<String>> = lines[2..].iter().map(|l| cells(l).expect(l)).collect();
    assert_eq!(body.len(), 24);
    assert!(body.iter().all(|row| row.len() == header.len()));
    // pairs/small/4t: iobuf-cached (45M·2) is fastest, but one round cannot
    // resolve its lead; every ratio is to crossbeam.
    let case: Vec<&Vec<String>> = body.iter().filter(|r| r[0] == "pairs/small/4t").collect();
    assert_eq!(case.len(), 4);
    assert_eq!(case[0][1], "iobuf");
    assert_eq!(case[0][2], "40M");
    assert_eq!(case[0][3], "1.33×");
    assert_eq!(case[1][1], "iobuf-cached (unresolved)");
    assert!(case[3][3].starts_with("0.40×"), "{:?}", case[3]);
    assert!(case[0][4].ends_with("ns") || case[0][4].ends_with("µs"));
}

/// With rounds that agree, the winner is resolved (bold) and every ratio
/// carries its per-round min–max.
#[test]
fn markdown_bolds_a_resolved_winner_and_shows_the_ratios_spread() {
    let dir = TempDir::new().unwrap();
    let mut doc = run_doc::doc_with(&["pairs"], &["small"], &[1], &["iobuf", "crossbeam"]);
    for r in doc["results"].as_array_mut().unwrap() {
        let rounds: Vec<f64> = if r["pool"] == "iobuf" {
            vec![30e6, 32e6, 31e6]
        } else {
            vec![10e6, 11e6, 10.5e6]
        };
        r["rounds"] = serde_json::json!(rounds);
        r["ops_per_sec"] = serde_json::json!(rounds[2]);
    }
    let file = run_doc::write(dir.path(), "run.json", &doc);
    let o = export(&["--format", "markdown", file.to_str().unwrap()]);
    let text = String::from_utf8(o.stdout).unwrap();
    let body: Vec<Vec<String>> = text.lines().skip(2).map(|l| cells(l).unwrap()).collect();
    assert_eq!(body[0][1], "**iobuf**", "{text}");
    assert_eq!(body[0][3], "2.95× (2.91–3.00)", "{text}");
}

/// A row that reaches the ceiling row (the harness's own limit) is marked
/// with its ratio to it, never shown as a plain lead; rows below it are not.
#[test]
fn markdown_marks_a_row_at_or_above_the_ceiling() {
    let dir = TempDir::new().unwrap();
    let mut doc = run_doc::doc_with(
        &["pairs"],
        &["small"],
        &[1],
        &["ceiling", "iobuf", "crossbeam"],
    );
    run_doc::set_rounds(&mut doc, 1, |pool| match pool {
        "ceiling" => vec![100e6, 100e6, 100e6],
        "iobuf" => vec![99e6, 104e6, 105e6],
        _ => vec![10e6, 11e6, 10.5e6],
    });
    let file = run_doc::write(dir.path(), "run.json", &doc);
    let o = export(&["--format", "markdown", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let body: Vec<Vec<String>> = text.lines().skip(2).map(|l| cells(l).unwrap()).collect();
    let pool = |name: &str| {
        body.iter()
            .find(|row| row[1].split(' ').next().unwrap().trim_matches('*') == name)
            .map(|row| row[1].clone())
            .unwrap_or_else(|| panic!("{name} not in {text}"))
    };
    assert!(
        pool("iobuf").ends_with("(at or above the ceiling: 1.04×)"),
        "{text}"
    );
    assert!(!pool("crossbeam").contains("ceiling"), "{text}");
    assert_eq!(pool("ceiling"), "ceiling", "{text}");
}

/// Checks `v` against the Bencher Metric Format: an object of benchmarks,
/// each an object of measures, each `{"value": number, "lower_value"?:
/// number, "upper_value"?: number}` and nothing else.
fn assert_bmf(v: &Value) {
    let benchmarks = v.as_object().expect("BMF is a JSON object");
    assert!(!benchmarks.is_empty());
    for (name, measures) in benchmarks {
        assert!(!name.is_empty());
        let measures = measures.as_object().expect("measures object");
        assert!(!measures.is_empty(), "{name}");
        for (measure, metric) in measures {
            let metric = metric.as_object().expect("metric object");
            for key in metric.keys() {
                assert!(
                    ["value", "lower_value", "upper_value"].contains(&key.as_str()),
                    "{name} {measure}: {key}"
                );
            }
            let value = metric["value"].as_f64().expect("value is a number");
            if let Some(lo) = metric.get("lower_value") {
                assert!(lo.as_f64().unwrap() <= value, "{name} {measure}");
            }
            if let Some(hi) = metric.get("upper_value") {
                assert!(hi.as_f64().unwrap() >= value, "{name} {measure}");
            }
        }
    }
}

#[test]
fn bmf_has_a_benchmark_per_result_and_bounds_only_from_repeats() {
    let dir = TempDir::new().unwrap();
    let mut doc = run_doc::doc();
    let file = run_doc::write(dir.path(), "run.json", &doc);
    let o = export(&["--format", "bmf", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_bmf(&v);
    assert_eq!(v.as_object().unwrap().len(), 24);
    let t = &v["pairs/small/4t/iobuf"]["throughput"];
    assert_eq!(t["value"].as_f64().unwrap(), 40e6);
    // One round: no spread, so no bounds.
    assert!(t.get("lower_value").is_none() && t.get("upper_value").is_none());
    // "vs base" as everywhere: to crossbeam in the same round.
    let vs = &v["pairs/small/4t/iobuf"]["vs-crossbeam"];
    assert!(
        (vs["value"].as_f64().unwrap() - 40.0 / 30.0).abs() < 1e-9,
        "{vs}"
    );
    assert!(v["pairs/small/4t/crossbeam"].get("vs-crossbeam").is_none());
    assert!(
        v["handoff/small/2t/mutex"]["latency"]["value"]
            .as_f64()
            .unwrap()
            > 0.0
    );

    // Repeated rounds: the bounds are the slowest and fastest round.
    let r = doc["results"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["scenario"] == "pairs" && r["threads"] == 4 && r["pool"] == "iobuf")
        .unwrap();
    r["rounds"] = serde_json::json!([
        {"ops_per_sec": 38e6}, {"ops_per_sec": 40e6}, {"ops_per_sec": 43e6}
    ]);
    let file = run_doc::write(dir.path(), "rounds.json", &doc);
    let out = dir.path().join("bmf.json");
    let o = export(&[
        "--format",
        "bmf",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_bmf(&v);
    let t = &v["pairs/small/4t/iobuf"]["throughput"];
    assert_eq!(t["lower_value"].as_f64().unwrap(), 38e6);
    assert_eq!(t["upper_value"].as_f64().unwrap(), 43e6);

    // The markdown table shows the same spread.
    let o = export(&["--format", "markdown", file.to_str().unwrap()]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("| 40M (38M–43M) |"), "{text}");
}

#[test]
fn out_is_written_atomically_and_never_over_the_input() {
    let dir = TempDir::new().unwrap();
    let file = run_doc::write(dir.path(), "run.json", &run_doc::doc());
    let before = std::fs::read(&file).unwrap();
    let o = export(&[
        "--format",
        "markdown",
        file.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // A failed export leaves the previous output as it was.
    let out = dir.path().join("table.md");
    std::fs::write(&out, "previous").unwrap();
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "not json").unwrap();
    let o = export(&[
        "--format",
        "bmf",
        garbage.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous");
    let o = export(&[
        "--format",
        "markdown",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .starts_with("| case |"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}
