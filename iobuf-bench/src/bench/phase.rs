//! The phases of a case (warm-up, measuring, stop), what every worker
//! shares, and the open-loop pacer.

use crate::measure::{Ownership, Recorder};
use crossbeam_utils::CachePadded;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

pub const WARMUP: u8 = 0;
pub const MEASURE: u8 = 1;
pub const STOP: u8 = 2;

/// What every worker of a case shares.
pub struct Shared<'a> {
    pub phase: CachePadded<AtomicU8>,
    pub barrier: Barrier,
    pub ownership: &'a Ownership,
    pub sample_every: u32,
    /// One holding in this many is checked (1: every one).
    pub check_every: u32,
    /// `calibrate`'s injected slowdown of this case's row: the fraction of
    /// its throughput taken away (see [`super::slowdown`]).
    pub slowdown: Option<f64>,
    pub rate: Option<f64>,
    pub cpus: &'a [core_affinity::CoreId],
}

impl Shared<'_> {
    /// Pins worker `id`, then waits for the others.
    pub fn start(&self, id: usize) {
        if !self.cpus.is_empty() {
            // A refused pin leaves the thread where the OS puts it; the
            // run still measures something meaningful.
            let _ = core_affinity::set_for_current(self.cpus[id % self.cpus.len()]);
        }
        self.barrier.wait();
    }

    #[inline]
    pub fn stopped(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == STOP
    }
}

/// A worker's view of the phase: resets its recorder when measuring starts.
pub struct PhaseWatch {
    pub measuring: bool,
}

impl PhaseWatch {
    #[inline]
    pub fn poll(&mut self, sh: &Shared<'_>, rec: &mut Recorder, pacer: &mut Option<Pacer>) -> u8 {
        let p = sh.phase.load(Ordering::Relaxed);
        if p == MEASURE && !self.measuring {
            self.measuring = true;
            rec.start_measuring();
            if let Some(pacer) = pacer {
                *pacer = Pacer::new(pacer.interval_ns);
            }
        }
        p
    }
}

/// Open loop: the intended start of each operation on a fixed schedule.
pub struct Pacer {
    start: Instant,
    /// Nanoseconds between intended starts.
    interval_ns: f64,
    n: u64,
}

impl Pacer {
    /// The first operation is due one interval after the schedule starts,
    /// so a window of length `d` offers `floor(d × rate)` operations per
    /// thread, never one more.
    fn new(interval_ns: f64) -> Self {
        Pacer {
            start: Instant::now(),
            interval_ns,
            n: 1,
        }
    }

    pub fn for_rate(rate: Option<f64>) -> Option<Pacer> {
        rate.map(|r| Pacer::new(1e9 / r))
    }

    /// Waits for the next intended start and returns it. A thread behind
    /// schedule does not wait, and its lateness counts as latency. `None`:
    /// the case stopped before the operation was due, so it is not offered.
    pub fn next(&mut self, sh: &Shared<'_>) -> Option<Instant> {
        let due = self.start + Duration::from_nanos((self.n as f64 * self.interval_ns) as u64);
        self.n += 1;
        loop {
            let now = Instant::now();
            if now >= due {
                return Some(due);
            }
            if sh.stopped() {
                return None;
            }
            let left = due - now;
            if left > Duration::from_micros(200) {
                // In slices, so that a slow schedule does not hold up the
                // end of the case.
                std::thread::sleep(
                    (left - Duration::from_micros(100)).min(Duration::from_millis(5)),
                );
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// Sleeps until `until` after `started`, reporting progress on the way.
pub fn sleep_ticking(
    started: Instant,
    until: Duration,
    total: Duration,
    tick: &mut dyn FnMut(f64),
) {
    let step = Duration::from_millis(50);
    loop {
        let elapsed = started.elapsed();
        tick(elapsed.as_secs_f64() / total.as_secs_f64().max(1e-9));
        if elapsed >= until || crate::interrupt::interrupted() {
            return;
        }
        std::thread::sleep((until - elapsed).min(step));
    }
}
