//! What a failed, interrupted or unwritable run leaves behind, and its exit
//! status: 3 when the results cannot be written, 130 after SIGINT, and an
//! earlier `--out` file never destroyed.
#![cfg(all(target_os = "linux", not(miri)))]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_iobuf-bench"))
}

const QUICK: [&str; 10] = [
    "run",
    "--scenario",
    "pairs",
    "--pools",
    "iobuf",
    "--threads",
    "1",
    "--duration",
    "20ms",
    "--quiet",
];

#[test]
fn an_unwritable_out_exits_3_with_one_line() {
    let o = bench()
        .args(QUICK)
        .args(["--out", "/dev/full"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error:")).count(),
        1,
        "{err}"
    );
    assert!(err.contains("/dev/full"), "{err}");
    // /dev/full is still the device, not a file renamed over it.
    assert!(!Path::new("/dev/full").metadata().unwrap().is_file());
}

#[test]
fn a_full_standard_output_exits_3() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let o = bench().args(QUICK).stdout(full).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("standard output"));
}

#[test]
fn out_is_replaced_whole_on_success() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run.json");
    std::fs::write(&out, "earlier").unwrap();
    let o = bench().args(QUICK).arg("--out").arg(&out).output().unwrap();
    assert!(o.status.success(), "{o:?}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["complete"], true);
    // No temporary file left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Starts a run, sends SIGINT once `ready` holds (or after `after`), and
/// gives its exit status and standard error.
fn interrupt(args: &[&str], out: &Path, after: Duration) -> (Option<i32>, String) {
    let child = bench()
        .args(args)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    // SAFETY: kill(2) on our own child's pid, with a valid signal.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let started = Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "SIGINT did not stop the run promptly"
    );
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn sigint_before_any_case_finished_keeps_the_earlier_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("prev.json");
    std::fs::write(&out, "an earlier result").unwrap();
    let args = [
        "run",
        "--scenario",
        "pairs",
        "--pools",
        "iobuf",
        "--threads",
        "1",
        "--duration",
        "30s",
        "--quiet",
    ];
    let (code, err) = interrupt(&args, &out, Duration::from_millis(1500));
    assert_eq!(code, Some(130), "{err}");
    assert!(
        err.contains("interrupted: no case finished; nothing written"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "an earlier result");
}

#[test]
fn sigint_after_a_finished_case_writes_it_marked_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("prev.json");
    std::fs::write(&out, "an earlier result").unwrap();
    // iobuf's case ends after ~1.5 s; SIGINT lands in the mutex's window.
    let args = [
        "run",
        "--scenario",
        "pairs",
        "--pools",
        "iobuf,mutex",
        "--threads",
        "1",
        "--duration",
        "1500ms",
        "--warmup",
        "0s",
        "--quiet",
    ];
    let (code, err) = interrupt(&args, &out, Duration::from_millis(2500));
    assert_eq!(code, Some(130), "{err}");
    let lines: Vec<_> = err
        .lines()
        .filter(|l| l.starts_with("interrupted"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    if lines[0].contains("no case finished") {
        // A very slow machine: nothing finished, so nothing was written.
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "an earlier result");
        return;
    }
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(doc["complete"], false, "{doc}");
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{doc}");
    assert!(results.iter().all(|r| r["complete"] == false));
    assert!(lines[0].contains("marked incomplete"), "{err}");
}
