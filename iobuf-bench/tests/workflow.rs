//! The GitHub Actions workflow in iobuf-bench/README.md: the `run:` steps
//! between its `# bench-steps` markers are run here, in order, in a fresh
//! directory (the build step uses this test's binary instead of building
//! one), so the commands a user copies keep working.

use std::path::Path;

/// The `run:` commands between the markers, in order.
fn workflow_steps(readme: &str) -> Vec<String> {
    let begin = readme
        .find("# bench-steps: begin")
        .expect("README has the begin marker");
    let end = readme
        .find("# bench-steps: end")
        .expect("README has the end marker");
    readme[begin..end]
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- run: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_readme_workflow_runs_gates_and_exports() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("iobuf-bench/README.md");
    let steps = workflow_steps(&readme);
    assert_eq!(steps.len(), 5, "{steps:?}");
    assert!(steps[0].starts_with("cargo build --release -p iobuf-bench"));
    let bin = env!("CARGO_BIN_EXE_iobuf-bench");
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for step in &steps[1..] {
        let cmd = step.replace("target/release/iobuf-bench", bin);
        let out = std::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", &cmd])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{cmd}\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(stdout);
    }
    // The first run is its own baseline: the gate passes, and says what it
    // could have detected.
    let compare = &outputs[2];
    assert!(compare.contains("result: PASS"), "{compare}");
    assert!(compare.contains("iobuf-owned/ceiling"), "{compare}");
    assert!(compare.contains("power:"), "{compare}");
    // What github-action-benchmark reads: entries with a range.
    let bigger: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("bigger.json")).unwrap()).unwrap();
    let entries = bigger.as_array().unwrap();
    assert!(entries.iter().any(
        |e| e["name"] == "pairs/small/1t/iobuf/crossbeam throughput ratio"
            && e["range"].is_string()
    ));
}
