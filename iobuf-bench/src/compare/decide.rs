//! The gate's decision: per figure, the change between two sides with a
//! 95% confidence interval, and the verdict.
//!
//! A figure's samples are its rounds (a same-run ratio per round, or a
//! throughput per round), pooled over a side's repeat files. The change
//! is the ratio of the two sides' 20%-trimmed geometric means, and its
//! interval is Yuen's t-interval on the difference of the trimmed mean
//! logs (Welch's test on trimmed means, with winsorised variances):
//! logs, because a throughput's noise is multiplicative (a 10% slower
//! round is 10% slower whatever the pool's speed); Welch, because the two
//! sides need not be equally noisy; trimmed, because on a shared machine a
//! few rounds are hit by a neighbour (one row of the round slowed, its
//! ratio off by 15% or more) and a plain mean's variance is mostly theirs.
//! With fewer than 5 samples a side nothing is trimmed (Welch's test
//! itself). On 40 runs of the CI gate's case on the 2-core machine, every
//! pair compared (`iobuf-bench/README.md`, "What it can catch"), trimming
//! raised the share of 10% drops caught from 77% to 93% at the same false
//! alarms. With one sample a side there is no interval and the threshold
//! decides alone (the output says so).
//!
//! A figure regresses when its interval lies wholly below zero **and** the
//! estimated drop is past the threshold; a drop past the threshold whose
//! interval reaches zero is *unresolved* (shown, not failed: more rounds
//! resolve it). Each figure also states the smallest drop its data could
//! have detected: the drop at which this test fails 95 times in 100 (one
//! sided, at the interval's noise), or the threshold if that is larger.

use std::fmt;

/// What two sides' samples say about the change between them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// current / baseline − 1, of the geometric means.
    pub change: f64,
    /// The 95% interval of `change`; `None` with one sample a side.
    pub interval: Option<(f64, f64)>,
    /// The smallest drop (a fraction, positive) a test on these samples
    /// catches 95% of the time, before the threshold is applied; `None`
    /// with one sample a side.
    pub detectable: Option<f64>,
}

/// The estimate of `cur` against `base` (positive samples); `None` when a
/// side has no usable sample.
pub fn estimate(base: &[f64], cur: &[f64]) -> Option<Estimate> {
    let logs = |v: &[f64]| -> Option<Vec<f64>> {
        let l: Vec<f64> = v
            .iter()
            .filter(|x| x.is_finite() && **x > 0.0)
            .map(|x| x.ln())
            .collect();
        (!l.is_empty()).then_some(l)
    };
    let (b, c) = (logs(base)?, logs(cur)?);
    let (tb, tc) = (Trimmed::of(b.clone()), Trimmed::of(c.clone()));
    let d = tc.mean - tb.mean;
    let (nb, nc) = (b.len() as f64, c.len() as f64);
    let (vb, vc) = (mean_var(&b).1, mean_var(&c).1);
    // Yuen's standard error and degrees of freedom (Welch's with trimmed
    // means, winsorised variances and the kept counts); a side of one
    // sample borrows the other's variance (it has none of its own).
    let (se, df) = match (b.len() > 1, c.len() > 1) {
        (true, true) => {
            let (qb, qc) = (tb.var_of_mean, tc.var_of_mean);
            let se = (qb + qc).sqrt();
            let den = qb * qb / (tb.kept - 1.0) + qc * qc / (tc.kept - 1.0);
            let df = if den > 0.0 {
                (qb + qc).powi(2) / den
            } else {
                nb + nc - 2.0
            };
            (se, df)
        }
        (true, false) => ((vb * (1.0 / nb + 1.0)).sqrt(), nb - 1.0),
        (false, true) => ((vc * (1.0 / nc + 1.0)).sqrt(), nc - 1.0),
        (false, false) => {
            return Some(Estimate {
                change: d.exp() - 1.0,
                interval: None,
                detectable: None,
            })
        }
    };
    let t = t_quantile(0.975, df);
    let power = t_quantile(0.95, df);
    Some(Estimate {
        change: d.exp() - 1.0,
        interval: Some(((d - t * se).exp() - 1.0, (d + t * se).exp() - 1.0)),
        detectable: Some(1.0 - (-(t + power) * se).exp()),
    })
}

/// One side's 20%-trimmed mean and the variance of that mean (Yuen):
/// `g = ⌊0.2 n⌋` samples dropped at each end (none below 5 samples), the
/// rest averaged; the variance from the winsorised samples (each dropped
/// one replaced by the nearest kept one), `(n − 1) s_w² / (h (h − 1))`
/// with `h = n − 2g` kept.
struct Trimmed {
    mean: f64,
    var_of_mean: f64,
    kept: f64,
}

impl Trimmed {
    /// The share trimmed at each end.
    const SHARE: f64 = 0.2;

    fn of(mut v: Vec<f64>) -> Trimmed {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let g = (Self::SHARE * n as f64).floor() as usize;
        let h = n - 2 * g;
        let mean = v[g..n - g].iter().sum::<f64>() / h as f64;
        let (lo, hi) = (v[g], v[n - g - 1]);
        let winsorised: Vec<f64> = v.iter().map(|x| x.clamp(lo, hi)).collect();
        let var_of_mean = if h > 1 {
            (n as f64 - 1.0) * mean_var(&winsorised).1 / (h as f64 * (h as f64 - 1.0))
        } else {
            0.0
        };
        Trimmed {
            mean,
            var_of_mean,
            kept: h as f64,
        }
    }
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var)
}

/// The standard normal quantile (Acklam's rational approximation, relative
/// error below 1.2e-9), for `0 < p < 1`.
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Student's t quantile for `df` degrees of freedom: exact for 1 and 2,
/// the Cornish–Fisher expansion around the normal quantile above (good to
/// about 1% at 3 and better beyond).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let df = df.max(1.0);
    if df < 1.5 {
        return (std::f64::consts::PI * (p - 0.5)).tan();
    }
    if df < 2.5 {
        return (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
    }
    let z = normal_quantile(p);
    let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
    z + (z3 + z) / (4.0 * df)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * df * df)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * df.powi(3))
}

/// A figure's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Gated and not a regression.
    Ok,
    /// Gated, dropped past the threshold, and the interval is below zero.
    Regression,
    /// Gated and rose past the threshold, the interval above zero.
    Improved,
    /// Past the threshold, but the interval reaches zero: not decided.
    Unresolved,
    /// A ratio that moved because its denominator (the base row) moved
    /// more than its numerator: not the numerator's change.
    BaseMoved,
    /// Shown for context only.
    Info,
    /// Cannot be computed (no usable sample).
    NotApplicable,
}

impl Status {
    /// The word printed in the status column.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Regression => "REGRESSION",
            Status::Improved => "improved",
            Status::Unresolved => "unresolved",
            Status::BaseMoved => "base moved",
            Status::Info => "not gated",
            Status::NotApplicable => "n/a",
        }
    }
}

/// Which rule decided a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Not gated, or nothing to decide.
    None,
    /// The change is within the threshold.
    WithinThreshold,
    /// Past the threshold, and the 95% interval excludes zero.
    Significant,
    /// Past the threshold, but the interval includes zero.
    IntervalSpansZero,
    /// Past the threshold with one sample a side: no interval.
    ThresholdOnly,
    /// The ratio moved, but its denominator moved more.
    DenominatorMovedMore,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::None => "-",
            Rule::WithinThreshold => "within threshold",
            Rule::Significant => "past threshold, 95% interval excludes 0",
            Rule::IntervalSpansZero => "past threshold, 95% interval spans 0",
            Rule::ThresholdOnly => "threshold alone (1 sample a side)",
            Rule::DenominatorMovedMore => "the reference row moved more than this row",
        })
    }
}

/// Decides one figure from its estimate.
pub fn decide(est: Option<Estimate>, gated: bool, threshold: f64) -> (Status, Rule) {
    let Some(e) = est else {
        return (Status::NotApplicable, Rule::None);
    };
    if !gated {
        return (Status::Info, Rule::None);
    }
    // Compared in logs, so that a threshold of 10% means the same whether
    // the figure fell or rose.
    let past = |c: f64| (1.0 + c).ln().abs() > -(1.0 - threshold).ln();
    let c = e.change;
    if !past(c) {
        return (Status::Ok, Rule::WithinThreshold);
    }
    let verdict = if c < 0.0 {
        Status::Regression
    } else {
        Status::Improved
    };
    match e.interval {
        None => (verdict, Rule::ThresholdOnly),
        Some((lo, hi)) if (c < 0.0 && hi < 0.0) || (c > 0.0 && lo > 0.0) => {
            (verdict, Rule::Significant)
        }
        Some(_) => (Status::Unresolved, Rule::IntervalSpansZero),
    }
}

/// A ratio's verdict, corrected when its denominator moved more than its
/// numerator (changes `num` and `den` of the two rows alone): then the
/// ratio's move is not the numerator's, and it neither fails nor improves.
pub fn blame((status, rule): (Status, Rule), num: Option<f64>, den: Option<f64>) -> (Status, Rule) {
    let moved = |c: Option<f64>| c.map(|c| (1.0 + c).ln().abs());
    match (status, moved(num), moved(den)) {
        (Status::Regression | Status::Improved, Some(n), Some(d)) if d > n => {
            (Status::BaseMoved, Rule::DenominatorMovedMore)
        }
        _ => (status, rule),
    }
}

/// The smallest drop the gate could have caught on this figure: the
/// data's detectable drop, or the threshold if that is larger.
pub fn smallest_detectable(est: &Estimate, threshold: f64) -> Option<f64> {
    est.detectable.map(|d| d.max(threshold))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        for (df, want) in [
            (1.0, 12.706),
            (2.0, 4.303),
            (4.0, 2.776),
            (9.0, 2.262),
            (30.0, 2.042),
        ] {
            let got = t_quantile(0.975, df);
            assert!((got - want).abs() / want < 0.01, "df {df}: {got} vs {want}");
        }
        assert!((t_quantile(0.95, 1e9) - 1.6449).abs() < 1e-3);
        assert!((normal_quantile(0.975) - 1.95996).abs() < 1e-4);
    }

    #[test]
    fn a_clear_drop_is_a_regression_and_says_what_it_could_see() {
        let base = [1.00, 1.02, 0.98, 1.01, 0.99];
        let cur = [0.80, 0.81, 0.79, 0.80, 0.82];
        let e = estimate(&base, &cur).unwrap();
        assert!((e.change + 0.196).abs() < 0.01, "{e:?}");
        let (lo, hi) = e.interval.unwrap();
        assert!(lo < e.change && e.change < hi && hi < 0.0, "{e:?}");
        assert_eq!(
            decide(Some(e), true, 0.1),
            (Status::Regression, Rule::Significant)
        );
        let d = e.detectable.unwrap();
        assert!(d > 0.0 && d < 0.1, "tight rounds detect small drops: {d}");
        assert_eq!(smallest_detectable(&e, 0.1), Some(0.1));
    }

    /// Rounds a neighbour hit (one per side here, off by 30%) are trimmed:
    /// a clear 10% drop in the other rounds is still caught, where the
    /// plain mean's interval (Welch's, 20% trimming off) spans zero.
    #[test]
    fn a_round_a_neighbour_hit_does_not_hide_a_drop() {
        let jitter = [1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 1.01, 0.99, 1.0];
        let mut base: Vec<f64> = jitter.to_vec();
        base.push(0.7);
        let mut cur: Vec<f64> = jitter.iter().map(|x| x * 0.9).collect();
        cur.push(1.3);
        let e = estimate(&base, &cur).unwrap();
        assert!((e.change + 0.1).abs() < 0.01, "{e:?}");
        assert_eq!(
            decide(Some(e), true, 0.05),
            (Status::Regression, Rule::Significant)
        );
        // The same samples under a plain mean: the two stray rounds make
        // the interval span zero.
        let plain = |v: &[f64]| -> (f64, f64) {
            let l: Vec<f64> = v.iter().map(|x| x.ln()).collect();
            mean_var(&l)
        };
        let ((mb, vb), (mc, vc)) = (plain(&base), plain(&cur));
        let se = (vb / 10.0 + vc / 10.0).sqrt();
        assert!(mc - mb + 2.1 * se > 0.0, "a plain mean caught it too");
    }

    #[test]
    fn a_drop_within_the_noise_is_unresolved_not_a_failure() {
        let base = [1.0, 1.4, 0.7];
        let cur = [0.8, 1.1, 0.6];
        let e = estimate(&base, &cur).unwrap();
        assert!(e.change < -0.1);
        assert_eq!(
            decide(Some(e), true, 0.1),
            (Status::Unresolved, Rule::IntervalSpansZero)
        );
        assert!(e.detectable.unwrap() > 0.3, "{e:?}");
    }

    #[test]
    fn within_the_threshold_passes_even_when_significant() {
        let e = estimate(&[1.0, 1.001, 0.999], &[0.95, 0.951, 0.949]).unwrap();
        assert_eq!(
            decide(Some(e), true, 0.1),
            (Status::Ok, Rule::WithinThreshold)
        );
    }

    #[test]
    fn one_sample_a_side_leaves_the_threshold_alone() {
        let e = estimate(&[10.0], &[8.0]).unwrap();
        assert_eq!(e.interval, None);
        assert_eq!(
            decide(Some(e), true, 0.1),
            (Status::Regression, Rule::ThresholdOnly)
        );
        // One side with several samples still gives an interval.
        let e = estimate(&[10.0], &[8.0, 10.5, 7.0]).unwrap();
        assert!(e.interval.is_some());
    }

    #[test]
    fn a_ratio_moved_by_its_denominator_is_not_the_numerators_change() {
        let verdict = (Status::Improved, Rule::Significant);
        assert_eq!(
            blame(verdict, Some(0.02), Some(-0.43)),
            (Status::BaseMoved, Rule::DenominatorMovedMore)
        );
        assert_eq!(blame(verdict, Some(0.5), Some(0.1)), verdict);
        let ok = (Status::Ok, Rule::WithinThreshold);
        assert_eq!(blame(ok, Some(0.0), Some(0.5)), ok);
    }

    #[test]
    fn ungated_and_undefined_figures_are_not_decided() {
        let e = estimate(&[1.0], &[0.1]);
        assert_eq!(decide(e, false, 0.1), (Status::Info, Rule::None));
        assert_eq!(decide(None, true, 0.1), (Status::NotApplicable, Rule::None));
        assert!(estimate(&[], &[1.0]).is_none());
    }
}
