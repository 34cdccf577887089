//! Axes and scales: a plot's data range, its labelled ticks and unlabelled
//! grid lines, and the round-number and log2-threads scales the charts use.

use std::collections::BTreeSet;
use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// One axis: data range, labelled ticks, unlabelled grid lines.
pub struct Axis {
    /// The data range shown.
    pub range: Range<f64>,
    /// Where labelled grid lines go.
    pub ticks: Vec<f64>,
    /// Where unlabelled, lighter grid lines go.
    pub light: Vec<f64>,
    /// The axis title.
    pub desc: String,
    /// A tick's label.
    pub label: Box<dyn Fn(f64) -> String>,
}

/// A linear f64 axis whose grid lines are exactly the given points (plotters'
/// own `WithKeyPoints` over f64 cannot take a label formatter).
pub struct Ticked {
    inner: RangedCoordf64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

impl Axis {
    /// The plotters coordinate of this axis.
    pub fn coord(&self) -> Ticked {
        Ticked {
            inner: self.range.clone().into(),
            bold: self.ticks.clone(),
            light: self.light.clone(),
        }
    }
}

/// Threads on a log2 axis, labelled with the thread counts measured.
pub fn threads_axis(threads: &BTreeSet<u32>) -> Axis {
    let logs: Vec<f64> = threads.iter().map(|&t| (t as f64).log2()).collect();
    let lo = logs.first().copied().unwrap_or(0.0);
    let hi = logs.last().copied().unwrap_or(0.0);
    let pad = if hi > lo { (hi - lo) * 0.06 } else { 0.5 };
    Axis {
        range: (lo - pad)..(hi + pad),
        ticks: logs,
        light: Vec::new(),
        desc: "threads".into(),
        label: Box::new(|v| format!("{}", v.exp2().round())),
    }
}

/// About `n` round ticks from 0 to `max`.
pub fn linear_ticks(max: f64, n: usize) -> (f64, Vec<f64>) {
    let max = if max > 0.0 { max } else { 1.0 };
    let raw = max / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| s * n as f64 >= max)
        .unwrap_or(10.0 * mag);
    let top = (max / step).ceil() * step;
    let ticks = (0..=((top / step).round() as usize))
        .map(|i| i as f64 * step)
        .collect();
    (top, ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_cover_the_maximum_with_round_steps() {
        let (top, ticks) = linear_ticks(7.3e6, 5);
        assert!(top >= 7.3e6);
        assert_eq!(ticks.first(), Some(&0.0));
        assert_eq!(ticks.last(), Some(&top));
        assert!(ticks.len() >= 3 && ticks.len() <= 7, "{ticks:?}");
    }

    #[test]
    fn the_threads_axis_is_labelled_with_the_counts_measured() {
        let axis = threads_axis(&BTreeSet::from([1, 4, 64]));
        assert_eq!(axis.ticks, vec![0.0, 2.0, 6.0]);
        assert_eq!((axis.label)(6.0), "64");
        assert!(axis.range.start < 0.0 && axis.range.end > 6.0);
    }
}
