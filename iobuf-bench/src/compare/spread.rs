//! The decision rule of the gate: a change is a regression (or an
//! improvement) only when it passes the threshold **and** the spreads of
//! the two sides do not overlap. A side's spread is the min–max of its
//! samples: the rounds of a repeated run (`run --runs N`), or one figure per
//! repeat file where the documents have no rounds. With a single sample on
//! each side there is no spread, and the threshold decides alone.

use std::fmt;

/// The samples behind one figure of one side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Lowest sample.
    pub min: f64,
    /// Highest sample.
    pub max: f64,
    /// How many samples.
    pub n: usize,
}

impl Spread {
    /// The spread of `samples`; `None` when there are none (or one is not
    /// finite).
    pub fn of(samples: &[f64]) -> Option<Spread> {
        if samples.is_empty() || samples.iter().any(|v| !v.is_finite()) {
            return None;
        }
        Some(Spread {
            min: samples.iter().copied().fold(f64::INFINITY, f64::min),
            max: samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n: samples.len(),
        })
    }

    /// Whether the two ranges share a value.
    pub fn overlaps(&self, other: &Spread) -> bool {
        self.min <= other.max && other.min <= self.max
    }
}

/// A figure's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Gated and not a regression.
    Ok,
    /// Gated, dropped past the threshold, and (where there are spreads)
    /// the spreads do not overlap.
    Regression,
    /// Gated and rose in the same sense.
    Improved,
    /// Shown for context only.
    Info,
    /// Cannot be computed (a zero denominator).
    NotApplicable,
}

impl Status {
    /// The word printed in the status column.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Regression => "REGRESSION",
            Status::Improved => "improved",
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
    /// Past the threshold, but the spreads overlap: noise.
    SpreadsOverlap,
    /// Past the threshold and the spreads are disjoint.
    Disjoint,
    /// Past the threshold with one sample a side: no spread to check.
    ThresholdOnly,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::None => "-",
            Rule::WithinThreshold => "within threshold",
            Rule::SpreadsOverlap => "past threshold, spreads overlap",
            Rule::Disjoint => "past threshold, spreads disjoint",
            Rule::ThresholdOnly => "threshold alone (1 sample a side)",
        })
    }
}

/// Decides one figure: `change` is current / baseline − 1 of the headline
/// figures, `base` and `cur` the spreads of the two sides.
pub fn decide(
    change: Option<f64>,
    gated: bool,
    threshold: f64,
    base: Option<Spread>,
    cur: Option<Spread>,
) -> (Status, Rule) {
    let Some(c) = change else {
        return (Status::NotApplicable, Rule::None);
    };
    if !gated {
        return (Status::Info, Rule::None);
    }
    if c.abs() <= threshold {
        return (Status::Ok, Rule::WithinThreshold);
    }
    let verdict = if c < 0.0 {
        Status::Regression
    } else {
        Status::Improved
    };
    match (base, cur) {
        (Some(b), Some(k)) if b.n > 1 || k.n > 1 => {
            if b.overlaps(&k) {
                (Status::Ok, Rule::SpreadsOverlap)
            } else {
                (verdict, Rule::Disjoint)
            }
        }
        _ => (verdict, Rule::ThresholdOnly),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[f64]) -> Option<Spread> {
        Spread::of(v)
    }

    #[test]
    fn spread_is_min_max_and_count() {
        let x = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((x.min, x.max, x.n), (1.0, 3.0, 3));
        assert!(Spread::of(&[]).is_none());
        assert!(Spread::of(&[1.0, f64::NAN]).is_none());
    }

    #[test]
    fn a_drop_past_the_threshold_with_overlapping_spreads_is_noise() {
        let (st, rule) = decide(Some(-0.2), true, 0.1, s(&[9.0, 10.0]), s(&[8.0, 9.5]));
        assert_eq!((st, rule), (Status::Ok, Rule::SpreadsOverlap));
    }

    #[test]
    fn a_drop_past_the_threshold_with_disjoint_spreads_regresses() {
        let (st, rule) = decide(Some(-0.2), true, 0.1, s(&[9.0, 10.0]), s(&[7.0, 8.0]));
        assert_eq!((st, rule), (Status::Regression, Rule::Disjoint));
        let (st, rule) = decide(Some(0.3), true, 0.1, s(&[9.0, 10.0]), s(&[12.0, 13.0]));
        assert_eq!((st, rule), (Status::Improved, Rule::Disjoint));
    }

    #[test]
    fn disjoint_spreads_within_the_threshold_pass() {
        let (st, rule) = decide(Some(-0.05), true, 0.1, s(&[10.0, 10.1]), s(&[9.5, 9.6]));
        assert_eq!((st, rule), (Status::Ok, Rule::WithinThreshold));
    }

    #[test]
    fn one_sample_a_side_falls_back_to_the_threshold() {
        let (st, rule) = decide(Some(-0.2), true, 0.1, s(&[10.0]), s(&[8.0]));
        assert_eq!((st, rule), (Status::Regression, Rule::ThresholdOnly));
        // One side with several samples still has a spread to check.
        let (st, rule) = decide(Some(-0.2), true, 0.1, s(&[10.0]), s(&[8.0, 10.5]));
        assert_eq!((st, rule), (Status::Ok, Rule::SpreadsOverlap));
    }

    #[test]
    fn ungated_and_undefined_figures_are_not_decided() {
        assert_eq!(
            decide(Some(-0.9), false, 0.1, None, None),
            (Status::Info, Rule::None)
        );
        assert_eq!(
            decide(None, true, 0.1, None, None),
            (Status::NotApplicable, Rule::None)
        );
    }
}
