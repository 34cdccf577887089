//! `calibrate`'s known slowdown: one row made slower by a given fraction,
//! so that the gate can be shown to catch it.
//!
//! The row's workers wait, after every [`PERIOD`] operations, for
//! `d / (1 - d)` of the time those operations took: the row then does the
//! same work in `1 / (1 - d)` of the time, and its throughput drops by the
//! fraction `d` whatever one of its operations costs. Two clock reads a
//! period are the whole bookkeeping, and nothing is added to the other
//! rows or to an operation between periods.
//!
//! Why not a delay per operation: a put that spins a fixed count, or a
//! fraction of one on average, costs its own bookkeeping on every
//! operation, and a 10% drop of a 5 ns pair is half a nanosecond. The
//! spinning put this replaced slowed the default pool's row by 12-13% when
//! asked for 10% (its floor), and its drop did not grow in proportion to
//! the spinning (1/16 of a spin a put: 4%; 2/16: 32%).
//!
//! Where a row runs on several threads, each waits its own share, and the
//! others may run faster meanwhile (less contention): the row's drop is
//! then at most `d`. `calibrate` measures and reports the drop it got.

use std::time::Instant;

/// Operations between two waits: about 20 µs of the fastest rows' work
/// (so a 10% wait is 2 µs, long beside the clock read that ends it),
/// milliseconds of the slowest.
pub const PERIOD: u64 = 4096;

/// A slowdown asked for on the command line: the row, and the fraction of
/// its throughput to take away (in `(0, 0.9)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Slowdown {
    pub row: String,
    pub fraction: f64,
}

impl Slowdown {
    /// `ROW:FRACTION`, as `--inject-slowdown` takes it.
    pub fn parse(s: &str) -> Result<Slowdown, String> {
        let (row, f) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' is not ROW:FRACTION"))?;
        Ok(Slowdown {
            row: row.to_string(),
            fraction: Slowdown::parse_fraction(f)?,
        })
    }

    /// A fraction of throughput to take away, in (0, 0.9): as
    /// `--inject-slowdown` and `calibrate --slowdowns` take it.
    pub fn parse_fraction(s: &str) -> Result<f64, String> {
        let v: f64 = s
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not a fraction"))?;
        if !(v > 0.0 && v < 0.9) {
            return Err(format!("'{s}': a slowdown is a fraction in (0, 0.9)"));
        }
        Ok(v)
    }
}

/// One worker's side of a [`Slowdown`]: the work since its last wait.
#[derive(Debug)]
pub struct Injector {
    /// Time waited per unit of time worked: `d / (1 - d)`.
    wait_per_work: f64,
    /// Operations since the last wait.
    ops: u64,
    /// When the last wait ended.
    since: Instant,
}

impl Injector {
    /// A worker's injector for a drop of `fraction`.
    pub fn new(fraction: f64) -> Injector {
        Injector {
            wait_per_work: wait_per_work(fraction),
            ops: 0,
            since: Instant::now(),
        }
    }

    /// Counts `n` operations done, and waits when a period is full.
    #[inline]
    pub fn after(&mut self, n: u64) {
        self.ops += n;
        if self.ops >= PERIOD {
            self.wait();
        }
    }

    #[cold]
    #[inline(never)]
    fn wait(&mut self) {
        let now = Instant::now();
        let until = now + (now - self.since).mul_f64(self.wait_per_work);
        // Busy, not asleep: a sleep's wake-up takes longer than most waits
        // here, and a busy wait keeps the row's core as its work would.
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        self.ops = 0;
        self.since = Instant::now();
    }
}

/// How long to wait per unit of time worked to take away `fraction` of the
/// throughput: work `w` then takes `w / (1 - fraction)`.
pub fn wait_per_work(fraction: f64) -> f64 {
    fraction / (1.0 - fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The throughput left after working `worked` and waiting as an injector
    /// for `fraction` does, as a fraction of the throughput without the wait.
    fn throughput_left(worked: Duration, fraction: f64) -> f64 {
        let waited = worked.mul_f64(wait_per_work(fraction));
        worked.as_secs_f64() / (worked + waited).as_secs_f64()
    }

    #[test]
    fn the_wait_takes_away_the_fraction_asked_for() {
        for f in [0.05, 0.1, 0.25, 0.5, 0.9] {
            for worked in [Duration::from_micros(20), Duration::from_millis(3)] {
                // Within the nanosecond a `Duration` rounds to.
                let left = throughput_left(worked, f);
                assert!((left - (1.0 - f)).abs() < 1e-4, "{f} {worked:?}: {left}");
            }
        }
    }

    #[test]
    fn an_injector_waits_once_a_period_is_full() {
        let mut inj = Injector::new(0.5);
        let start = inj.since;
        inj.after(PERIOD - 1);
        assert_eq!(inj.ops, PERIOD - 1);
        assert_eq!(inj.since, start, "no wait before the period is full");
        // Half of the throughput away: the wait is as long as the work, so
        // the period (work and wait) lasts at least twice the work.
        std::thread::sleep(Duration::from_millis(2));
        let before = Instant::now();
        inj.after(1);
        assert_eq!(inj.ops, 0);
        assert!(
            inj.since - before >= before - start,
            "waited {:?} after {:?} of work",
            inj.since - before,
            before - start
        );
    }

    #[test]
    fn a_slowdown_is_a_row_and_a_fraction() {
        assert_eq!(
            Slowdown::parse("iobuf:0.1"),
            Ok(Slowdown {
                row: "iobuf".into(),
                fraction: 0.1
            })
        );
        for bad in ["iobuf", "iobuf:x", "iobuf:0", "iobuf:1.5", "iobuf:-0.1"] {
            assert!(Slowdown::parse(bad).is_err(), "{bad}");
        }
    }
}
