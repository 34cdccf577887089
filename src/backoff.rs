//! Waiting for a dry pool: spin, then yield, then sleep.
//!
//! A three-stage progress model: *strike* (the first try, made by
//! the caller), *spin* (a busy wait that stays on the core, for a buffer
//! that will be back within nanoseconds), *adapt* (yield the core, then
//! sleep with an exponentially growing, capped, jittered interval, for a
//! pool that stays dry while I/O completes). The first two stages are
//! crossbeam-utils' [`Backoff`](crossbeam_utils::Backoff).

use std::time::{Duration, Instant};

/// The first sleep once spinning and yielding are exhausted.
pub(crate) const MIN_SLEEP: Duration = Duration::from_micros(20);
/// The longest single sleep.
pub(crate) const MAX_SLEEP: Duration = Duration::from_millis(1);

/// A three-stage backoff for one waiter.
///
/// ```
/// let mut b = iobuf_pool::sync::Backoff::new();
/// for _ in 0..20 {
///     b.wait(); // spins, yields, then sleeps at most Backoff::MAX_SLEEP
/// }
/// assert!(b.is_sleeping());
/// ```
#[derive(Debug)]
pub struct Backoff {
    /// Spin and yield stages.
    spin: crossbeam_utils::Backoff,
    /// The next sleep once `spin` is completed; within [MIN_SLEEP, MAX_SLEEP].
    sleep: Duration,
    /// xorshift state for jitter; never zero.
    rng: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    /// The first sleep once spinning and yielding are exhausted: 20 µs.
    pub const MIN_SLEEP: Duration = MIN_SLEEP;
    /// The longest single sleep: 1 ms.
    pub const MAX_SLEEP: Duration = MAX_SLEEP;

    /// A fresh backoff, starting with spinning.
    pub fn new() -> Self {
        // Seed the jitter from a global sequence and this frame's address,
        // so that waiters started together do not sleep in lock-step.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let local = 0u8;
        let seed = (&local as *const u8 as u64) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Backoff {
            spin: crossbeam_utils::Backoff::new(),
            sleep: MIN_SLEEP,
            rng: seed | 1,
        }
    }

    /// Whether the spin and yield stages are over and [`wait`](Self::wait)
    /// now sleeps.
    pub fn is_sleeping(&self) -> bool {
        self.spin.is_completed()
    }

    /// Waits once: a spin, a yield, or a sleep, by stage.
    pub fn wait(&mut self) {
        self.wait_at_most(MAX_SLEEP);
    }

    /// Waits once, sleeping no longer than `limit`.
    pub fn wait_at_most(&mut self, limit: Duration) {
        if !self.spin.is_completed() {
            self.spin.snooze();
            return;
        }
        // Jitter: sleep between half and all of the current interval.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let nanos = self.sleep.as_nanos() as u64;
        let jittered = Duration::from_nanos(nanos / 2 + self.rng % (nanos / 2 + 1));
        std::thread::sleep(jittered.min(limit));
        self.sleep = (self.sleep * 2).min(MAX_SLEEP);
    }

    /// Starts again from spinning (after a success).
    pub fn reset(&mut self) {
        self.spin.reset();
        self.sleep = MIN_SLEEP;
    }
}

/// Calls `attempt` until it gives a value, backing off between tries.
///
/// The first try always runs `attempt`; later ones run it only when
/// `looks_dry` (reads alone) says there may be something to take, so that
/// a waiter does not keep writing the lines that returning threads need.
pub(crate) fn wait_for<T>(
    mut attempt: impl FnMut() -> Option<T>,
    mut looks_dry: impl FnMut() -> bool,
) -> T {
    loop {
        // Without a deadline, retry_until returns only with a value.
        if let Some(v) = retry_until(None, &mut attempt, &mut looks_dry) {
            return v;
        }
    }
}

/// [`wait_for`] that gives up at `deadline` (never, for `None`).
pub(crate) fn retry_until<T>(
    deadline: Option<Instant>,
    mut attempt: impl FnMut() -> Option<T>,
    mut looks_dry: impl FnMut() -> bool,
) -> Option<T> {
    if let Some(v) = attempt() {
        return Some(v);
    }
    let mut backoff = Backoff::new();
    loop {
        let limit = match deadline {
            None => MAX_SLEEP,
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return None;
                }
                d - now
            }
        };
        backoff.wait_at_most(limit);
        if looks_dry() {
            continue;
        }
        if let Some(v) = attempt() {
            return Some(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_sleeping_and_resets() {
        let mut b = Backoff::new();
        assert!(!b.is_sleeping());
        for _ in 0..64 {
            b.wait_at_most(Duration::from_micros(1));
        }
        assert!(b.is_sleeping());
        b.reset();
        assert!(!b.is_sleeping());
    }

    #[test]
    fn retry_until_returns_the_first_success() {
        let mut n = 0;
        let got = retry_until(
            None,
            || {
                n += 1;
                (n == 5).then_some(n)
            },
            || false,
        );
        assert_eq!(got, Some(5));
    }

    #[test]
    fn retries_only_once_the_pool_no_longer_looks_dry() {
        // The first attempt always runs; the next ones wait for the check.
        let (attempts, checks) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        let got = wait_for(
            || {
                attempts.set(attempts.get() + 1);
                (checks.get() > 3).then_some(attempts.get())
            },
            || {
                checks.set(checks.get() + 1);
                checks.get() <= 3
            },
        );
        assert_eq!(got, 2, "attempted while the check said dry");
        assert_eq!(checks.get(), 4);
    }

    #[cfg(not(miri))]
    #[test]
    fn retry_until_gives_up_at_the_deadline() {
        let start = Instant::now();
        let got: Option<()> =
            retry_until(Some(start + Duration::from_millis(20)), || None, || false);
        assert_eq!(got, None);
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
