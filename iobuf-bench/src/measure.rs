//! Timing and checking: latency histograms, the clock's own cost, sampling,
//! and the integrity checks (an ownership flag per buffer and a payload
//! stamp in each buffer).

use base64::Engine as _;
use crossbeam_utils::CachePadded;
use hdrhistogram::serialization::{Serializer as _, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The longest latency a histogram tracks exactly (100 s); longer ones are
/// recorded as this.
const MAX_TRACKABLE_NS: u64 = 100_000_000_000;

/// The default sampling: one operation in 1024, picked at random, is timed
/// in closed loop (each picked get and put on its own, so the histograms
/// are of single operations, not of means). A timed pair reads the clock
/// four times, some 100 ns on a VM: at one in 64 that was 2 ns on every
/// pair, more than the fastest pools cost; at one in 1024 it is about
/// 0.1 ns, and a 250 ms window of a 50 M pairs/s pool still times some
/// 12,000 (p99.9 needs 1000).
pub const DEFAULT_SAMPLE_EVERY: u32 = 1024;

/// At [`CheckLevel::Sampled`], one holding in this many is checked
/// (ownership flag and payload stamps); the exactly-once drain after the
/// case checks every buffer whatever the level.
pub const SAMPLED_CHECK_EVERY: u32 = 32;

/// How much of every operation the harness checks.
///
/// The checks are what make the bench a stress tester, but at `full` they
/// cost several nanoseconds per pair (a flag on its own cache line, stamps
/// at both ends of the buffer), more than the fastest pools themselves, so
/// they compress every ratio towards 1. `sampled`, the default, checks one
/// holding in [`SAMPLED_CHECK_EVERY`] at random and still drains every pool
/// after every case: a pool that hands a buffer to two holders, loses one
/// or corrupts its bytes is still caught (see the broken adapters'
/// tests). The unchecked operations between two picks cost a countdown
/// (see [`Countdown`]) and a one-byte touch of the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckLevel {
    /// One holding in 32 checked at random, and the exactly-once drain
    /// after every case.
    #[default]
    Sampled,
    /// Every holding checked (ownership flag and stamps), for stress runs.
    Full,
    /// Nothing checked or timed per operation, only the drain after every
    /// case: the minimal loop the default level's resolution is measured
    /// against (pairs and handoff only; no latencies).
    Lean,
}

impl CheckLevel {
    /// One holding in this many is checked.
    pub fn every(self) -> u32 {
        match self {
            CheckLevel::Sampled => SAMPLED_CHECK_EVERY,
            CheckLevel::Full => 1,
            // Never, in any run's length (the lean loops do not look).
            CheckLevel::Lean => u32::MAX / 2,
        }
    }

    /// The name used on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            CheckLevel::Sampled => "sampled",
            CheckLevel::Full => "full",
            CheckLevel::Lean => "lean",
        }
    }
}

/// An empty latency histogram (1 ns to 100 s, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKABLE_NS, 3).expect("constant bounds are valid")
}

#[inline]
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(d.as_nanos().min(u64::MAX as u128) as u64);
}

/// Nanoseconds one `Instant::now()` takes on this machine: the floor under
/// every latency reported, and the cost sampling keeps off most operations.
pub fn clock_cost_ns() -> f64 {
    const CALLS: u32 = 200_000;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        let mut last = start;
        for _ in 0..CALLS {
            last = std::hint::black_box(Instant::now());
        }
        let per = (last - start).as_nanos() as f64 / CALLS as f64;
        best = best.min(per);
    }
    best
}

/// Picks, at random, which operations a worker times or checks: one
/// operation in `every` on average, at random rather than every n-th, so
/// that picking cannot fall in step with a periodic pattern (a cache
/// refilling every 32 operations, say).
///
/// Rather than a coin per operation, it draws the gap to the next pick
/// once per pick (uniform in `0..=2 × (every − 1)`, so the mean spacing is
/// `every`): the operations in between cost a countdown, which a worker's
/// inner loop keeps in a register ([`Countdown::left`] and
/// [`Countdown::skip`]).
#[derive(Debug, Clone)]
pub struct Countdown {
    /// Operations before the next picked one.
    left: u32,
    /// xorshift64 state.
    rng: u64,
    /// How many gap lengths there are: `2 × every − 1`.
    spread: u64,
}

impl Countdown {
    /// One operation in `every` (on average; `every <= 1` picks all).
    pub fn new(every: u32, seed: u64) -> Self {
        let mut c = Countdown {
            left: 0,
            rng: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            spread: 2 * u64::from(every.max(1)) - 1,
        };
        c.left = c.gap();
        c
    }

    /// Unpicked operations before the next pick.
    fn gap(&mut self) -> u32 {
        // xorshift64, then its top 32 bits scaled to 0..spread.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (((self.rng >> 32) * self.spread) >> 32) as u32
    }

    /// Operations that come before the next picked one.
    #[inline]
    pub fn left(&self) -> u32 {
        self.left
    }

    /// Passes `n` operations that are not picked (`n <= left()`).
    #[inline]
    pub fn skip(&mut self, n: u32) {
        debug_assert!(n <= self.left);
        self.left -= n;
    }

    /// Whether the next operation is picked (it is consumed either way).
    #[inline]
    pub fn hit(&mut self) -> bool {
        if self.left == 0 {
            self.left = self.gap();
            true
        } else {
            self.left -= 1;
            false
        }
    }

    /// Passes the next `n` operations, calling `picked(k)` for each picked
    /// one (`k`: its position among the `n`).
    #[inline]
    pub fn each_pick(&mut self, n: u32, mut picked: impl FnMut(u32)) {
        let mut at = 0;
        while n - at > self.left {
            at += self.left;
            picked(at);
            at += 1;
            self.left = self.gap();
        }
        self.left -= n - at;
    }
}

/// What one worker thread saw.
#[derive(Debug)]
pub struct Recorder {
    pub get: Histogram<u64>,
    pub put: Histogram<u64>,
    pub end_to_end: Histogram<u64>,
    /// Operations completed while measuring (for handoff: buffers sent by
    /// a producer, or returned by a consumer).
    pub ops: u64,
    /// Gets that found the pool empty (through this thread's cache, where
    /// there is one): a blocking wait followed, or a burst was cut short.
    pub dry_gets: u64,
    /// A buffer handed to a second holder, or returned twice; counted over
    /// the whole case, warm-up included.
    pub duplicates: u64,
    /// A buffer whose stamp was overwritten while held (io: whose read did
    /// not bring the file's bytes).
    pub corrupted: u64,
    /// Why the worker stopped early: the case failed (an I/O error, say).
    pub error: Option<String>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            get: new_histogram(),
            put: new_histogram(),
            end_to_end: new_histogram(),
            ops: 0,
            dry_gets: 0,
            duplicates: 0,
            corrupted: 0,
            error: None,
        }
    }
}

impl Recorder {
    /// Forgets the warm-up's timings and counts; keeps its integrity
    /// failures.
    pub fn start_measuring(&mut self) {
        self.get.reset();
        self.put.reset();
        self.end_to_end.reset();
        self.ops = 0;
        self.dry_gets = 0;
    }
}

/// One flag per buffer index: set while some thread holds the buffer. Each
/// flag has its own cache line, so that threads reusing their own buffers
/// (the per-thread cache) do not bounce lines between cores.
///
/// The flags are read and written with plain loads and stores, not
/// read-modify-writes, so the check adds no locked instruction to the
/// operations it checks. The pool's own hand-over orders a holder's
/// stores before the next holder's loads, so a correct pool never trips
/// it; two holders racing within nanoseconds could both miss it, but not
/// the payload stamp as well.
pub struct Ownership {
    flags: Box<[CachePadded<AtomicBool>]>,
}

impl Ownership {
    pub fn new(capacity: usize) -> Self {
        Ownership {
            flags: (0..capacity)
                .map(|_| CachePadded::new(AtomicBool::new(false)))
                .collect(),
        }
    }

    /// Marks `index` held; false if it already was (two holders) or is
    /// out of range.
    #[inline]
    pub fn take(&self, index: usize) -> bool {
        if self.flags.is_empty() {
            return true;
        }
        match self.flags.get(index) {
            Some(f) => {
                let was = f.load(Ordering::Relaxed);
                f.store(true, Ordering::Relaxed);
                !was
            }
            None => false,
        }
    }

    /// Marks `index` free; false if it was not held (a double return).
    #[inline]
    pub fn release(&self, index: usize) -> bool {
        if self.flags.is_empty() {
            return true;
        }
        match self.flags.get(index) {
            Some(f) => {
                let was = f.load(Ordering::Relaxed);
                f.store(false, Ordering::Relaxed);
                was
            }
            None => false,
        }
    }
}

/// A stamp unique to one holding of one buffer: the thread and its
/// sequence number, never zero (the slab starts zeroed).
#[inline]
pub fn stamp(thread: usize, seq: u64) -> u64 {
    (1 << 63) | ((thread as u64 & 0x7FFF) << 48) | (seq & ((1 << 48) - 1))
}

/// Writes `stamp` into the first and last 8 bytes of `bytes` (at least 16).
#[inline]
pub fn write_stamp(bytes: &mut [u8], stamp: u64) {
    let n = bytes.len();
    bytes[..8].copy_from_slice(&stamp.to_ne_bytes());
    bytes[n - 8..].copy_from_slice(&stamp.to_ne_bytes());
}

/// Whether both copies of `stamp` are intact.
#[inline]
pub fn check_stamp(bytes: &[u8], stamp: u64) -> bool {
    let n = bytes.len();
    let s = stamp.to_ne_bytes();
    bytes[..8] == s && bytes[n - 8..] == s
}

/// Latency summary, nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
    pub mean: f64,
    /// Timed operations behind these numbers.
    #[serde(default)]
    pub samples: u64,
}

impl LatencyStats {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencyStats::default();
        }
        LatencyStats {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
            mean: (h.mean() * 10.0).round() / 10.0,
            samples: h.len(),
        }
    }
}

/// The histogram in HdrHistogram's V2 encoding, base64: readable by the
/// HdrHistogram libraries of every language.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2Serializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        // Writing into a Vec cannot fail; an empty string marks the
        // impossible case rather than aborting a finished run.
        Err(_) => String::new(),
    }
}

/// The least-served thread's operations as a fraction of the most-served
/// one's: 1.0 is perfectly fair, 0.0 means some thread starved.
pub fn fairness(per_thread: &[u64]) -> f64 {
    let max = per_thread.iter().copied().max().unwrap_or(0);
    let min = per_thread.iter().copied().min().unwrap_or(0);
    if max == 0 {
        return 0.0;
    }
    min as f64 / max as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::Deserializer;

    #[test]
    fn ownership_catches_a_second_holder_and_a_double_return() {
        let o = Ownership::new(4);
        assert!(o.take(1));
        assert!(!o.take(1), "second holder not caught");
        assert!(o.release(1));
        assert!(!o.release(1), "double return not caught");
        assert!(!o.take(4), "out of range accepted");
        assert!(Ownership::new(0).take(123), "unchecked stand-in must pass");
    }

    #[test]
    fn stamps_catch_overwrites_at_either_end() {
        let mut b = vec![0u8; 64];
        let s = stamp(3, 42);
        write_stamp(&mut b, s);
        assert!(check_stamp(&b, s));
        assert!(!check_stamp(&b, stamp(3, 43)));
        b[63] ^= 1;
        assert!(!check_stamp(&b, s));
        assert_ne!(stamp(0, 0), 0);
        assert_ne!(stamp(1, 5), stamp(2, 5));
    }

    #[test]
    fn countdown_picks_about_one_in_n() {
        let mut s = Countdown::new(16, 7);
        let hits = (0..160_000).filter(|_| s.hit()).count();
        assert!((9_000..11_000).contains(&hits), "{hits}");
        let mut all = Countdown::new(1, 7);
        assert!((0..100).all(|_| all.hit()));
        assert_eq!(all.left(), 0);
    }

    /// Skipping the unpicked run and walking a batch with `each_pick`
    /// pick the same operations as one `hit` per operation.
    #[test]
    fn countdown_skip_and_each_pick_agree_with_hit() {
        for every in [1, 2, 32, 1024] {
            let mut one = Countdown::new(every, 99);
            let by_hit: Vec<u32> = (0..50_000).filter(|_| one.hit()).collect();
            let mut fast = Countdown::new(every, 99);
            let mut by_skip = Vec::new();
            let mut at = 0u32;
            while at < 50_000 {
                let run = fast.left().min(50_000 - at);
                fast.skip(run);
                at += run;
                if at < 50_000 && fast.hit() {
                    by_skip.push(at);
                    at += 1;
                }
            }
            assert_eq!(by_hit, by_skip, "every {every}");
            let mut batched = Countdown::new(every, 99);
            let mut by_batch = Vec::new();
            for start in (0..50_000).step_by(37) {
                let n = 37.min(50_000 - start);
                batched.each_pick(n, |k| by_batch.push(start + k));
            }
            assert_eq!(by_hit, by_batch, "every {every}");
        }
    }

    #[test]
    fn stats_and_encoding_round_trip() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v).unwrap();
        }
        let s = LatencyStats::of(&h);
        assert!((495..=505).contains(&s.p50), "{s:?}");
        assert!((985..=1000).contains(&s.p99), "{s:?}");
        assert_eq!(s.samples, 1000);
        let text = encode_histogram(&h);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let back: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
        assert_eq!(back.len(), 1000);
        assert_eq!(back.max(), h.max());
        assert_eq!(LatencyStats::of(&new_histogram()), LatencyStats::default());
    }

    #[test]
    fn fairness_is_min_over_max() {
        assert_eq!(fairness(&[10, 5]), 0.5);
        assert_eq!(fairness(&[0, 5]), 0.0);
        assert_eq!(fairness(&[]), 0.0);
    }

    #[test]
    fn the_clock_costs_something_finite() {
        let c = clock_cost_ns();
        assert!(c.is_finite() && c < 100_000.0, "{c}");
    }
}
