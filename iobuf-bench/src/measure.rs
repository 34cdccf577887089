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

/// The default sampling: one operation in 64 is timed in closed loop.
pub const DEFAULT_SAMPLE_EVERY: u32 = 64;

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
/// tests), at a cost of one branch on a thread-local random number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckLevel {
    /// One holding in 32 checked at random, and the exactly-once drain
    /// after every case.
    #[default]
    Sampled,
    /// Every holding checked (ownership flag and stamps), for stress runs.
    Full,
}

impl CheckLevel {
    /// One holding in this many is checked.
    pub fn every(self) -> u32 {
        match self {
            CheckLevel::Sampled => SAMPLED_CHECK_EVERY,
            CheckLevel::Full => 1,
        }
    }

    /// The name used on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            CheckLevel::Sampled => "sampled",
            CheckLevel::Full => "full",
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

/// Decides, cheaply and at random, which operations are timed. Random
/// rather than every n-th, so that sampling cannot fall in step with a
/// periodic pattern (a cache refilling every 32 operations, say).
#[derive(Debug, Clone)]
pub struct Sampler {
    state: u64,
    mask: u64,
}

impl Sampler {
    /// One in `every` (a power of two); `every == 1` times everything.
    pub fn new(every: u32, seed: u64) -> Self {
        Sampler {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            mask: u64::from(every.max(1)) - 1,
        }
    }

    #[inline]
    pub fn hit(&mut self) -> bool {
        // xorshift64
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 20) & self.mask == 0
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
    fn sampler_hits_about_one_in_n() {
        let mut s = Sampler::new(16, 7);
        let hits = (0..160_000).filter(|_| s.hit()).count();
        assert!((8_000..12_000).contains(&hits), "{hits}");
        let mut all = Sampler::new(1, 7);
        assert!((0..100).all(|_| all.hit()));
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
