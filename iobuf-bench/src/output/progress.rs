//! One progress bar over the whole run, on stderr. Hidden with --quiet,
//! and (by indicatif) when stderr is not a terminal or TERM is dumb.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Steps per case: the bar moves smoothly within a case.
const STEPS: u64 = 1000;

pub struct Progress {
    bar: ProgressBar,
    cases: usize,
}

impl Progress {
    pub fn new(cases: usize, quiet: bool) -> Self {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(cases as u64 * STEPS), target);
        let style = ProgressStyle::with_template(
            "{prefix:>7.bold} {msg:<36} {wide_bar:.cyan/blue} ETA {eta:>3}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("█▉▊▋▌▍▎▏ ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(100));
        Progress { bar, cases }
    }

    /// Case `i` (from 0) starts.
    pub fn start_case(&self, i: usize, label: &str) {
        self.bar.set_prefix(format!("{}/{}", i + 1, self.cases));
        self.bar.set_message(label.to_string());
        self.bar.set_position(i as u64 * STEPS);
    }

    /// Case `i` is `fraction` done.
    pub fn tick(&self, i: usize, fraction: f64) {
        let within = (fraction.clamp(0.0, 1.0) * STEPS as f64) as u64;
        self.bar
            .set_position(i as u64 * STEPS + within.min(STEPS - 1));
    }

    /// A line on stderr that does not tear the bar.
    pub fn warn(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
