//! Matching: which results of the two sides are the same case and pool.
//! Cases are matched by their whole configuration ([`CaseKey`]: scenario
//! name, kind and params, tier, threads, producer/consumer layout,
//! capacity, open-loop rate) and pool; anything else is listed as
//! unmatched and never gated. A side's repeat files must measure its first
//! file's configuration.

use std::collections::{BTreeMap, BTreeSet};

use crate::document::read::{self as results, CaseKey, CaseResult, RunDoc};

/// Each case of a run with its pools: what makes two runs the same
/// configuration.
fn configuration(run: &RunDoc) -> BTreeMap<CaseKey, BTreeSet<&str>> {
    let mut map: BTreeMap<CaseKey, BTreeSet<&str>> = BTreeMap::new();
    for r in &run.results {
        map.entry(r.key()).or_default().insert(r.pool.as_str());
    }
    map
}

/// Refuses repeats that measured another configuration than the first run
/// of their side: the error is one line saying what differs.
pub fn check_repeats(runs: &[RunDoc]) -> Result<(), String> {
    let Some((first, repeats)) = runs.split_first() else {
        return Ok(());
    };
    let want = configuration(first);
    for rep in repeats {
        let got = configuration(rep);
        if got == want {
            continue;
        }
        let head = format!(
            "{} is not a repeat of {}",
            rep.path.display(),
            first.path.display()
        );
        let missing = want.keys().find(|k| !got.contains_key(*k));
        let extra = got.keys().find(|k| !want.contains_key(*k));
        let why = match (extra, missing) {
            (Some(e), Some(m)) => {
                let d = e.differences(m);
                if d.is_empty() {
                    format!("case {e} differs")
                } else {
                    format!("case {m} differs: {}", d.join(", "))
                }
            }
            (Some(e), None) => format!("it has case {} that the other lacks", e.detail()),
            (None, Some(m)) => format!("it lacks case {}", m.detail()),
            (None, None) => want
                .iter()
                .find_map(|(k, pools)| {
                    let other = got.get(k).filter(|g| *g != pools)?;
                    Some(format!(
                        "case {k} measured other pools ({} vs {})",
                        join(other.iter()),
                        join(pools.iter())
                    ))
                })
                .unwrap_or_else(|| "the cases differ".into()),
        };
        return Err(format!("{head}: {why}"));
    }
    Ok(())
}

fn join<'a>(it: impl Iterator<Item = &'a &'a str>) -> String {
    it.copied().collect::<Vec<_>>().join(", ")
}

/// One pool's results in one case, one per run of the side, tagged with the
/// run's index.
pub type Runs<'a> = Vec<(usize, &'a CaseResult)>;
pub type Side<'a> = BTreeMap<CaseKey, BTreeMap<String, Runs<'a>>>;

/// Indexes the runs of one side by case and pool. Results an interrupted run
/// marked incomplete are set aside in `incomplete`.
pub fn side<'a>(runs: &'a [RunDoc], incomplete: &mut Vec<String>) -> Result<Side<'a>, String> {
    let mut out: Side = BTreeMap::new();
    for (i, run) in runs.iter().enumerate() {
        for (key, pools) in run.by_case()? {
            for (pool, r) in pools {
                if !r.is_complete() {
                    incomplete.push(format!("  {key} {pool} ({})", run.path.display()));
                    continue;
                }
                out.entry(key.clone())
                    .or_default()
                    .entry(pool)
                    .or_default()
                    .push((i, r));
            }
        }
    }
    Ok(out)
}

/// The case of `other` most like `key` (same scenario name, fewest
/// differences), with what differs.
pub fn closest<'a, V>(
    key: &CaseKey,
    other: &'a BTreeMap<CaseKey, V>,
) -> Option<(&'a CaseKey, Vec<String>)> {
    other
        .keys()
        .filter(|k| k.scenario == key.scenario)
        .map(|k| (k, key.differences(k)))
        .min_by_key(|(k, d)| (k.threads != key.threads, k.tier != key.tier, d.len()))
}

/// Throughput samples of one result: its rounds, or its one figure.
fn samples(r: &CaseResult) -> Vec<f64> {
    let rounds = r.round_rates();
    if rounds.is_empty() {
        vec![r.ops_per_sec]
    } else {
        rounds
    }
}

/// A pool's throughput samples over a side's runs.
pub fn rate_samples(runs: &Runs) -> Vec<f64> {
    runs.iter().flat_map(|(_, r)| samples(r)).collect()
}

/// The samples of `num / den`: per round where both have as many rounds
/// (they ran round by round in one process, so each round's ratio shares
/// that round's machine), else one ratio per run.
pub fn ratio_samples(num: &Runs, den: &Runs) -> Vec<f64> {
    let mut all = Vec::new();
    for (i, n) in num {
        let Some((_, d)) = den.iter().find(|(j, _)| j == i) else {
            continue;
        };
        let (rn, rd) = (n.round_rates(), d.round_rates());
        if !rn.is_empty() && rn.len() == rd.len() {
            all.extend(
                rn.iter()
                    .zip(&rd)
                    .filter(|(_, d)| **d > 0.0)
                    .map(|(n, d)| n / d),
            );
        } else if d.ops_per_sec > 0.0 {
            all.push(n.ops_per_sec / d.ops_per_sec);
        }
    }
    all
}

/// The (case, pools) of `from` that `other` lacks, one line each, with the
/// closest case of `other` where the whole case is missing.
pub fn unmatched(from: &Side, other: &Side, other_name: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, pools) in from {
        let gone: Vec<&str> = results::sorted_pools(pools.keys())
            .into_iter()
            .filter(|p| !other.get(key).is_some_and(|o| o.contains_key(*p)))
            .map(String::as_str)
            .collect();
        if gone.is_empty() {
            continue;
        }
        let why = if other.contains_key(key) {
            String::new()
        } else {
            match closest(key, other) {
                Some((o, d)) if !d.is_empty() => {
                    format!("  [vs {other_name}'s {o}: {}]", d.join(", "))
                }
                _ => String::new(),
            }
        };
        lines.push(format!("  {key}: {}{why}", gone.join(", ")));
    }
    lines
}
