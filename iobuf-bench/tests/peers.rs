//! The peers (feature `peers`): `list` names them with their crate and
//! version, `--pools` takes them, and each runs pairs, handoff and burst
//! through the harness with its integrity checks clean.
#![cfg(feature = "peers")]

mod json_checks;

use json_checks::bench;
use serde_json::Value;

/// The peers' row names and the crate each names in `list`.
const PEERS: [(&str, &str); 7] = [
    ("sharded-slab", "sharded-slab 0.1"),
    ("lockfree-object-pool", "lockfree-object-pool 0.1"),
    ("opool", "opool 0.2"),
    ("object-pool", "object-pool 0.6"),
    ("concurrent-queue", "concurrent-queue 2."),
    ("parking-lot", "parking_lot 0.12"),
    ("lfqueue", "lfqueue 0.8"),
];

fn names() -> String {
    PEERS.map(|(n, _)| n).join(",")
}

#[test]
fn list_names_each_peer_with_its_crate_and_version() {
    let out = bench().arg("list").assert().success().get_output().clone();
    let text = String::from_utf8(out.stdout).unwrap();
    for (name, krate) in PEERS {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("list has no row {name}:\n{text}"));
        assert!(line.contains(krate), "{name}: {line}");
    }
}

/// Runs every peer through `scenarios` at `threads` threads and checks
/// that each row is there, did work, and found no duplicate, corrupted or
/// lost buffer.
fn runs_clean(scenarios: &str, threads: &str, capacity: &str) {
    let out = bench()
        .args(["run", "--duration", "30ms", "--warmup", "5ms", "--quiet"])
        .args(["--tier", "small", "--capacity", capacity])
        .args(["--threads", threads, "--scenario", scenarios])
        .args(["--pools", &names(), "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let results = doc["results"].as_array().unwrap();
    for scenario in scenarios.split(',') {
        for (name, _) in PEERS {
            let r = results
                .iter()
                .find(|r| r["scenario"] == scenario && r["pool"] == name)
                .unwrap_or_else(|| panic!("no {scenario}/{name} row"));
            for k in ["duplicates", "corrupted", "lost"] {
                assert_eq!(
                    r["integrity"][k], 0,
                    "{scenario}/{name}: {}",
                    r["integrity"]
                );
            }
            assert!(
                r["ops"].as_u64().unwrap() > 0,
                "{scenario}/{name} did nothing"
            );
        }
    }
}

#[test]
fn every_peer_runs_pairs_and_handoff_clean() {
    runs_clean("pairs,handoff", "2", "1024");
}

#[test]
fn every_peer_runs_bursts_bigger_than_the_pool_clean() {
    // A burst of 32 against 16 buffers shared by 3 threads: gets find the
    // pool empty, and sharded-slab's threads compete for unbound buffers.
    runs_clean("burst", "3", "16");
}
