//! "vs base", defined once for the table, the JSON readers, the exports,
//! the report and the gate: a row's throughput divided by the base row's
//! ([`BASE`], crossbeam's queue of indices) **in the same round**, the
//! median over the rounds, with the rounds' min–max as its spread. A run
//! of one round has one ratio and no spread.
//!
//! Also here: whether one row's lead over another is *resolved*: the 95%
//! interval of their per-round ratio (a t-interval on its logs) excludes 1.

use crate::compare::t_quantile;
use crate::document::CaseResult;
use crate::pools::{CEILING, TRANSPORT};

/// The row every ratio divides by.
pub const BASE: &str = crate::pools::GATE_BASE;

/// A row's same-run ratio to another: median and min–max over the rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Rounds behind it.
    pub rounds: usize,
}

/// Per-round ratios of `row` to `base`: round by round where both have the
/// same number of rounds, else the one ratio of their headlines.
pub fn per_round(row: &[f64], row_headline: f64, base: &[f64], base_headline: f64) -> Vec<f64> {
    if !row.is_empty() && row.len() == base.len() {
        row.iter()
            .zip(base)
            .filter(|(_, b)| **b > 0.0)
            .map(|(r, b)| r / b)
            .collect()
    } else if base_headline > 0.0 {
        vec![row_headline / base_headline]
    } else {
        Vec::new()
    }
}

/// The median and min–max of `ratios`; `None` when empty.
pub fn summarise(ratios: &[f64]) -> Option<Ratio> {
    let mut v: Vec<f64> = ratios.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Ratio {
        median,
        min: v[0],
        max: v[n - 1],
        rounds: n,
    })
}

/// [`per_round`] then [`summarise`].
pub fn ratio(row: &[f64], row_headline: f64, base: &[f64], base_headline: f64) -> Option<Ratio> {
    summarise(&per_round(row, row_headline, base, base_headline))
}

/// Whether per-round ratios `a / b` say that `a` differs from `b`: the 95%
/// t-interval of their mean log excludes 0. `None` with fewer than two
/// rounds (nothing to judge by).
pub fn resolved(ratios: &[f64]) -> Option<bool> {
    let logs: Vec<f64> = ratios
        .iter()
        .filter(|x| x.is_finite() && **x > 0.0)
        .map(|x| x.ln())
        .collect();
    if logs.len() < 2 {
        return None;
    }
    let n = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let var = logs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let half = t_quantile(0.975, n - 1.0) * (var / n).sqrt();
    Some(mean - half > 0.0 || mean + half < 0.0)
}

/// The rows of one case that reach its ceiling row: every row but the
/// ceiling and the transport whose throughput over the ceiling's, in the
/// same round, has a median of 1 or more, with that ratio. The ceiling is
/// the harness's own limit, so such a row is not faster than the harness
/// can measure: it is noise or a harness bug, and every place that ranks
/// rows marks it rather than letting it read as a lead. Empty when the case
/// has no ceiling row.
pub fn at_or_above_ceiling<'a>(rows: &[&'a CaseResult]) -> Vec<(&'a CaseResult, Ratio)> {
    let Some(ceiling) = rows.iter().find(|r| r.pool == CEILING) else {
        return Vec::new();
    };
    rows.iter()
        .filter(|r| r.pool != CEILING && r.pool != TRANSPORT)
        .filter_map(|r| {
            let v = ratio(
                &r.round_rates(),
                r.ops_per_sec,
                &ceiling.round_rates(),
                ceiling.ops_per_sec,
            )?;
            (v.median >= 1.0).then_some((*r, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_per_round_medians_with_their_range() {
        let r = ratio(&[10.0, 20.0, 30.0], 20.0, &[10.0, 10.0, 10.0], 10.0).unwrap();
        assert_eq!((r.median, r.min, r.max, r.rounds), (2.0, 1.0, 3.0, 3));
        // Unequal rounds: the headlines alone.
        let r = ratio(&[10.0], 9.0, &[], 3.0).unwrap();
        assert_eq!((r.median, r.rounds), (3.0, 1));
        assert!(ratio(&[], 1.0, &[], 0.0).is_none());
    }

    #[test]
    fn a_lead_is_resolved_only_when_the_rounds_agree() {
        assert_eq!(resolved(&[1.5, 1.6, 1.55, 1.52]), Some(true));
        assert_eq!(resolved(&[0.7, 1.4, 0.9, 1.2]), Some(false));
        assert_eq!(resolved(&[2.0]), None);
    }

    #[test]
    fn rows_that_reach_the_ceiling_are_named_with_their_ratio() {
        let row = |pool: &str, rounds: &[f64]| {
            let mut r: CaseResult = serde_json::from_value(serde_json::json!({
                "scenario": "pairs", "tier": "small", "threads": 1, "producers": 1, "consumers": 1, "capacity": 4,
                "pool": pool, "duration_s": 1.0, "ops": 1, "ops_per_sec": rounds[1],
                "latency_ns": {"get": {"p50": 0, "p90": 0, "p99": 0, "p999": 0, "p9999": 0, "max": 0, "mean": 0.0},
                               "put": {"p50": 0, "p90": 0, "p99": 0, "p999": 0, "p9999": 0, "max": 0, "mean": 0.0}},
                "histograms": {"get": "", "put": ""},
                "per_thread_ops": [1], "integrity": {"duplicates": 0, "corrupted": 0, "lost": 0},
                "dry_gets": 0,
            }))
            .unwrap();
            r.rounds = rounds
                .iter()
                .map(|&ops_per_sec| crate::document::Round {
                    ops: 1,
                    duration_s: 1.0,
                    ops_per_sec,
                })
                .collect();
            r
        };
        let ceiling = row(CEILING, &[100.0, 100.0, 100.0]);
        // Above in two rounds of three: the median reaches it.
        let high = row("iobuf-tc", &[90.0, 101.0, 105.0]);
        let low = row("crossbeam", &[50.0, 99.0, 60.0]);
        let transport = row(TRANSPORT, &[200.0, 200.0, 200.0]);
        let rows = [&ceiling, &high, &low, &transport];
        let above = at_or_above_ceiling(&rows);
        assert_eq!(above.len(), 1, "{above:?}");
        assert_eq!(above[0].0.pool, "iobuf-tc");
        assert!((above[0].1.median - 1.01).abs() < 1e-9);
        assert!(
            at_or_above_ceiling(&[&high, &low]).is_empty(),
            "no ceiling row"
        );
    }
}
