//! Named baselines (`run --save-baseline NAME`, `compare --baseline NAME`)
//! and what a real run writes for compare to identify its cases by, run as
//! the real binary with tiny windows (correctness, not numbers).

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;
use tempfile::TempDir;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn bench(baselines: &Path, args: &[&str]) -> Out {
    let out = Command::cargo_bin("iobuf-bench")
        .unwrap()
        .env("IOBUF_BENCH_BASELINES", baselines)
        .args(args)
        .output()
        .unwrap();
    Out {
        code: out.status.code().expect("exited normally"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A short real run of pairs on one thread, iobuf and crossbeam.
fn run(baselines: &Path, out: &Path, extra: &[&str]) -> Out {
    let mut args = vec![
        "run",
        "--tier",
        "small",
        "--pools",
        "iobuf,crossbeam",
        "--threads",
        "1",
        "--duration",
        "5ms",
        "--warmup",
        "0s",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    if !extra.contains(&"--scenario-file") {
        args.extend(["--scenario", "pairs"]);
    }
    args.extend(extra);
    let o = bench(baselines, &args);
    assert_eq!(o.code, 0, "{args:?}\n{}{}", o.stdout, o.stderr);
    o
}

fn one_line_exit_2(o: &Out, needles: &[&str]) {
    assert_eq!(o.code, 2, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.stderr.trim().lines().count(), 1, "{}", o.stderr);
    for n in needles {
        assert!(o.stderr.contains(n), "{n:?} not in {}", o.stderr);
    }
}

#[test]
fn a_saved_baseline_is_compared_by_name_and_unknown_names_list_the_known_ones() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("store");
    let first = dir.path().join("first.json");
    let o = run(&store, &first, &["--save-baseline", "main"]);
    assert!(o.stderr.contains("saved baseline 'main'"), "{}", o.stderr);
    let saved = store.join("main.json");
    assert_eq!(
        std::fs::read_to_string(&saved).unwrap(),
        std::fs::read_to_string(&first).unwrap(),
        "the baseline is the run's document"
    );
    // Saving again replaces it, and leaves no temporary file behind.
    run(
        &store,
        &dir.path().join("second.json"),
        &["--save-baseline", "main"],
    );
    run(
        &store,
        &dir.path().join("third.json"),
        &["--save-baseline", "v2"],
    );
    let names: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    let o = bench(
        &store,
        &[
            "compare",
            "--baseline",
            "main",
            first.to_str().unwrap(),
            "--threshold",
            "0.99",
        ],
    );
    assert!(o.code == 0 || o.code == 1, "{}{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains(saved.to_str().unwrap()),
        "the output names the baseline's file: {}",
        o.stdout
    );
    assert!(o.stdout.contains("pairs/small/1t"), "{}", o.stdout);

    let o = bench(
        &store,
        &["compare", "--baseline", "nope", first.to_str().unwrap()],
    );
    one_line_exit_2(&o, &["unknown baseline 'nope'", "known: main, v2"]);

    let o = bench(
        &store,
        &[
            "compare",
            "--baseline",
            "main",
            first.to_str().unwrap(),
            first.to_str().unwrap(),
        ],
    );
    one_line_exit_2(&o, &["--baseline main"]);
    let o = bench(&store, &["compare", first.to_str().unwrap()]);
    one_line_exit_2(&o, &["--baseline NAME"]);
}

#[test]
fn a_bad_baseline_name_is_refused_before_the_run() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("x.json");
    for bad in ["../escape", ".hidden", "a b"] {
        let o = bench(
            dir.path(),
            &[
                "run",
                "--save-baseline",
                bad,
                "--out",
                out.to_str().unwrap(),
            ],
        );
        one_line_exit_2(&o, &["baseline name"]);
        assert!(!out.exists(), "nothing ran");
    }
}

#[test]
fn each_result_says_its_kind_params_and_rate_and_meta_says_the_machine() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("run.json");
    run(dir.path(), &out, &[]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for r in doc["results"].as_array().unwrap() {
        assert_eq!(r["kind"], "pairs", "{r}");
        assert_eq!(r["params"], serde_json::json!({}), "{r}");
        assert!(r["rate"].is_null(), "closed loop: {r}");
        assert_eq!(r["capacity"], 1024);
    }
    let host = &doc["meta"]["host"];
    assert!(host["kernel"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(
        host["io_uring"].is_boolean(),
        "the io_uring probe is recorded: {host}"
    );
    let memlock = &host["rlimit_memlock"];
    assert!(memlock.is_u64() || memlock == "unlimited", "{host}");
    // Optional facts are absent rather than null where the machine lacks them.
    for (k, v) in host.as_object().unwrap() {
        assert!(!v.is_null(), "{k} is null");
    }
}

#[test]
fn real_runs_of_other_configurations_are_not_compared() {
    let dir = TempDir::new().unwrap();
    let pairs = dir.path().join("pairs.json");
    run(dir.path(), &pairs, &[]);
    let p = pairs.to_str().unwrap();

    // A scenario file named `pairs` whose kind is `hold`.
    let file = dir.path().join("pairs-hold.json");
    std::fs::write(
        &file,
        r#"{"name": "pairs", "kind": "hold", "params": {"hold": "1us"}}"#,
    )
    .unwrap();
    let hold = dir.path().join("hold.json");
    run(
        dir.path(),
        &hold,
        &["--scenario-file", file.to_str().unwrap()],
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&hold).unwrap()).unwrap();
    assert_eq!(doc["results"][0]["kind"], "hold");
    assert_eq!(doc["results"][0]["params"]["hold"], "1us");
    let o = bench(dir.path(), &["compare", p, hold.to_str().unwrap()]);
    one_line_exit_2(&o, &["nothing to compare", "kind pairs vs hold"]);
    assert!(!o.stdout.contains("REGRESSION"));

    let open = dir.path().join("open.json");
    run(dir.path(), &open, &["--rate", "1000"]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&open).unwrap()).unwrap();
    assert_eq!(doc["results"][0]["rate"], 1000.0);
    let o = bench(dir.path(), &["compare", p, open.to_str().unwrap()]);
    one_line_exit_2(
        &o,
        &["nothing to compare", "rate closed loop vs open loop 1000"],
    );

    let small_pool = dir.path().join("cap.json");
    run(dir.path(), &small_pool, &["--capacity", "4"]);
    let o = bench(dir.path(), &["compare", p, small_pool.to_str().unwrap()]);
    one_line_exit_2(&o, &["nothing to compare", "capacity 1024 vs 4"]);

    // And as a repeat, another configuration is refused.
    let o = bench(
        dir.path(),
        &[
            "compare",
            p,
            p,
            "--current-repeat",
            small_pool.to_str().unwrap(),
        ],
    );
    one_line_exit_2(&o, &["cap.json is not a repeat of", "capacity"]);
}
