//! Running cases: threads, pinning, warm-up, the measured window, and the
//! worker loop of each scenario.
//!
//! A case is one scenario × tier × pool. Its threads are spawned, pinned,
//! and released together by a barrier; they run the scenario for the
//! warm-up, forget what they recorded, run for the measured window, and
//! stop. Then the pool is drained and every index must come back exactly
//! once.

use crate::document::{CaseResult, Histograms, Integrity, Latencies};
use crate::io::{IoThread, SetupError};
use crate::measure::{
    check_stamp, encode_histogram, record, stamp, write_stamp, LatencyStats, Ownership, Recorder,
    Sampler,
};
use crate::pools::{
    BenchItem, BenchPool, CachedPool, CrossbeamPool, DoubleReturn, MutexPool, NoPool, PoolHandle,
    PoolKind, IOBUF_CACHED_FIXED, IOBUF_FIXED, TRANSPORT,
};
use crate::scenario::{HoldParams, IoParams, Scenario, ScenarioKind};
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::Backoff;
use crossbeam_utils::CachePadded;
use iobuf::{BufferPool, Tier};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// How long one blocking wait lasts before the stop flag is looked at
/// again.
const WAIT_SLICE: Duration = Duration::from_millis(5);

/// What a case runs against: one of the pools, or (handoff only) nothing,
/// to measure the queue between threads alone, or (io only) an iobuf pool
/// registered with each ring as fixed buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Pool(PoolKind),
    Transport,
    /// `BufferPool` (through a `LocalCache` per thread when `cached`),
    /// registered with `iobuf::uring::FixedBuffers`, reading with
    /// READ_FIXED.
    Fixed {
        cached: bool,
    },
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Pool(p) => p.name(),
            Target::Transport => TRANSPORT,
            Target::Fixed { cached: false } => IOBUF_FIXED,
            Target::Fixed { cached: true } => IOBUF_CACHED_FIXED,
        }
    }
}

/// One case to run.
#[derive(Debug, Clone)]
pub struct Case {
    pub scenario: Scenario,
    pub tier: Tier,
    pub capacity: usize,
    /// All worker threads (handoff: producers + consumers).
    pub threads: usize,
    /// Handoff only; otherwise equal to `threads`.
    pub producers: usize,
    pub consumers: usize,
    pub target: Target,
}

impl Case {
    pub fn label(&self) -> String {
        let kind = self.scenario.kind.name();
        let name = if self.scenario.name == kind {
            kind.to_string()
        } else {
            format!("{}[{kind}]", self.scenario.name)
        };
        format!("{name}/{}/{}", self.tier, self.target.name())
    }
}

/// Settings shared by every case of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub warmup: Duration,
    pub duration: Duration,
    /// Logical CPUs in placement order; thread `i` runs on
    /// `cpus[i % len]`. Empty: no pinning.
    pub cpus: Vec<core_affinity::CoreId>,
    /// Open loop: operations per second per thread.
    pub rate: Option<f64>,
    pub sample_every: u32,
    /// Hidden test switch: the crossbeam baseline returns every n-th
    /// buffer twice, which the integrity checks must catch.
    pub fault_every: Option<u64>,
}

/// Why a case could not run.
#[derive(Debug)]
pub enum CaseError {
    /// The pool could not be built (memory refused, capacity too large).
    Pool(String),
    /// What the case needs from the system is missing: io_uring, a
    /// writable temporary directory.
    Setup(String),
    /// This case cannot run here, but the others can (an io `-fixed` row
    /// whose pool the kernel will not register): say why and go on.
    Skipped(String),
    /// A worker thread panicked (a bug in the harness or a pool), or its
    /// I/O failed.
    Worker(String),
}

/// How worker threads are placed on CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// Neighbouring threads on neighbouring logical CPUs.
    Compact,
    /// One thread per physical core (and socket) before any sibling.
    Spread,
    /// No pinning.
    None,
}

/// The CPUs this process may run on, ordered for `mode`.
pub fn placement(mode: Pin) -> Vec<core_affinity::CoreId> {
    if mode == Pin::None {
        return Vec::new();
    }
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    let read = crate::host::cpu_topology;
    // (package, core, cpu): siblings of one physical core share the first two.
    let mut topo: Vec<(usize, usize, core_affinity::CoreId)> = ids
        .into_iter()
        .map(|c| {
            (
                read(c.id, "physical_package_id").unwrap_or(0),
                read(c.id, "core_id").unwrap_or(c.id),
                c,
            )
        })
        .collect();
    topo.sort_by_key(|&(pkg, core, c)| (pkg, core, c.id));
    match mode {
        Pin::Compact | Pin::None => topo.into_iter().map(|t| t.2).collect(),
        Pin::Spread => {
            // Rank each CPU among its core's siblings, then take every core's
            // first sibling (alternating packages) before any second one.
            let mut ranked = Vec::with_capacity(topo.len());
            for (i, &(pkg, core, c)) in topo.iter().enumerate() {
                let rank = topo[..i]
                    .iter()
                    .filter(|&&(p, k, _)| p == pkg && k == core)
                    .count();
                ranked.push((rank, core, pkg, c));
            }
            ranked.sort_by_key(|&(rank, core, pkg, c)| (rank, core, pkg, c.id));
            ranked.into_iter().map(|t| t.3).collect()
        }
    }
}

/// Runs one case; `tick` gets the fraction of the case's time elapsed.
pub fn run_case(
    case: &Case,
    settings: &Settings,
    tick: &mut dyn FnMut(f64),
) -> Result<CaseResult, CaseError> {
    let pool_err = |e: iobuf::Error| {
        CaseError::Pool(format!(
            "cannot build a pool of {} {} buffers ({} each): {e}",
            case.capacity,
            case.tier,
            crate::format::human_bytes(case.tier.size() as u64)
        ))
    };
    let (tier, cap) = (case.tier, case.capacity);
    match case.target {
        Target::Transport => drive(&NoPool, case, settings, tick),
        Target::Pool(PoolKind::Iobuf) => {
            let pool = BufferPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::IobufFifo) => {
            let pool = BufferPool::new_fifo(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::IobufCached) | Target::Fixed { cached: true } => {
            let pool = CachedPool(BufferPool::new(tier, cap).map_err(pool_err)?);
            drive(&pool, case, settings, tick)
        }
        Target::Fixed { cached: false } => {
            let pool = BufferPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::Mutex) => {
            let pool = MutexPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::Crossbeam) => match settings.fault_every {
            Some(every) => {
                let pool = DoubleReturn::new(tier, cap, every).map_err(pool_err)?;
                drive(&pool, case, settings, tick)
            }
            None => {
                let pool = CrossbeamPool::new(tier, cap).map_err(pool_err)?;
                drive(&pool, case, settings, tick)
            }
        },
    }
}

/// What every worker of a case shares.
struct Shared<'a> {
    phase: CachePadded<AtomicU8>,
    barrier: Barrier,
    ownership: &'a Ownership,
    sample_every: u32,
    rate: Option<f64>,
    cpus: &'a [core_affinity::CoreId],
}

impl Shared<'_> {
    /// Pins worker `id`, then waits for the others.
    fn start(&self, id: usize) {
        if !self.cpus.is_empty() {
            // A refused pin leaves the thread where the OS puts it; the
            // run still measures something meaningful.
            let _ = core_affinity::set_for_current(self.cpus[id % self.cpus.len()]);
        }
        self.barrier.wait();
    }

    #[inline]
    fn stopped(&self) -> bool {
        self.phase.load(Ordering::Relaxed) == STOP
    }
}

/// A worker's view of the phase: resets its recorder when measuring starts.
struct PhaseWatch {
    measuring: bool,
}

impl PhaseWatch {
    #[inline]
    fn poll(&mut self, sh: &Shared<'_>, rec: &mut Recorder, pacer: &mut Option<Pacer>) -> u8 {
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
struct Pacer {
    start: Instant,
    /// Nanoseconds between intended starts.
    interval_ns: f64,
    n: u64,
}

impl Pacer {
    fn new(interval_ns: f64) -> Self {
        Pacer {
            start: Instant::now(),
            interval_ns,
            n: 0,
        }
    }

    fn for_rate(rate: Option<f64>) -> Option<Pacer> {
        rate.map(|r| Pacer::new(1e9 / r))
    }

    /// Waits for the next intended start and returns it. A thread behind
    /// schedule does not wait, and its lateness counts as latency.
    fn next(&mut self, sh: &Shared<'_>) -> Instant {
        let due = self.start + Duration::from_nanos((self.n as f64 * self.interval_ns) as u64);
        self.n += 1;
        loop {
            let now = Instant::now();
            if now >= due || sh.stopped() {
                return due;
            }
            let left = due - now;
            if left > Duration::from_micros(200) {
                std::thread::sleep(left - Duration::from_micros(100));
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// When this operation is timed from: its intended start (open loop), now
/// (a sampled operation), or not at all.
#[inline]
fn start_time(
    pacer: &mut Option<Pacer>,
    sampler: &mut Sampler,
    sh: &Shared<'_>,
) -> Option<Instant> {
    match pacer {
        Some(p) => Some(p.next(sh)),
        None if sampler.hit() => Some(Instant::now()),
        None => None,
    }
}

/// A buffer, or `None` once the case stops.
#[inline]
fn acquire<H: PoolHandle>(h: &mut H, sh: &Shared<'_>, rec: &mut Recorder) -> Option<H::Item> {
    if let Some(item) = h.try_get() {
        return Some(item);
    }
    rec.dry_gets += 1;
    acquire_slow(h, sh)
}

/// The first buffer of a batch waits ([`acquire`]); later ones only try,
/// counting a miss, so a thread never waits while it holds buffers.
#[inline]
fn acquire_in_batch<H: PoolHandle>(
    h: &mut H,
    first: bool,
    sh: &Shared<'_>,
    rec: &mut Recorder,
) -> Option<H::Item> {
    if first {
        return acquire(h, sh, rec);
    }
    let got = h.try_get();
    rec.dry_gets += u64::from(got.is_none());
    got
}

/// Takes a buffer ([`acquire_in_batch`]), timing the get when this
/// operation is sampled; gives the buffer and the operation's start time.
#[inline]
fn timed_get<H: PoolHandle>(
    h: &mut H,
    wait: bool,
    pacer: &mut Option<Pacer>,
    sampler: &mut Sampler,
    sh: &Shared<'_>,
    rec: &mut Recorder,
) -> Option<(H::Item, Option<Instant>)> {
    let t0 = start_time(pacer, sampler, sh);
    let item = acquire_in_batch(h, wait, sh, rec)?;
    if let Some(t0) = t0 {
        record(&mut rec.get, t0.elapsed());
    }
    Some((item, t0))
}

#[cold]
fn acquire_slow<H: PoolHandle>(h: &mut H, sh: &Shared<'_>) -> Option<H::Item> {
    loop {
        if sh.stopped() {
            return None;
        }
        if let Some(item) = h.get_timeout(WAIT_SLICE) {
            return Some(item);
        }
    }
}

/// The new holder claims the buffer and stamps it.
#[inline]
fn claim<I: BenchItem>(item: &mut I, stamp: u64, sh: &Shared<'_>, rec: &mut Recorder) {
    if !sh.ownership.take(item.index()) {
        rec.duplicates += 1;
    }
    write_stamp(item.bytes(), stamp);
}

/// The last holder checks the stamp and gives up its claim.
#[inline]
fn unclaim<I: BenchItem>(item: &mut I, stamp: u64, sh: &Shared<'_>, rec: &mut Recorder) {
    if !check_stamp(item.bytes(), stamp) {
        rec.corrupted += 1;
    }
    if !sh.ownership.release(item.index()) {
        rec.duplicates += 1;
    }
}

/// Returns `item`, timing the call when `timed`.
#[inline]
fn put_timed<H: PoolHandle>(h: &mut H, item: H::Item, timed: bool, rec: &mut Recorder) {
    if timed {
        let t = Instant::now();
        h.put(item);
        record(&mut rec.put, t.elapsed());
    } else {
        h.put(item);
    }
}

fn drive<'p, P: BenchPool>(
    pool: &'p P,
    case: &Case,
    settings: &Settings,
    tick: &mut dyn FnMut(f64),
) -> Result<CaseResult, CaseError> {
    pool.prefault();
    let ownership = Ownership::new(pool.capacity());
    let sample_every = if settings.rate.is_some() {
        1
    } else {
        settings.sample_every
    };
    let sh = Shared {
        phase: CachePadded::new(AtomicU8::new(WARMUP)),
        barrier: Barrier::new(case.threads + 1),
        ownership: &ownership,
        sample_every,
        rate: settings.rate,
        cpus: &settings.cpus,
    };
    let total = settings.warmup + settings.duration;
    let mut window = Duration::ZERO;
    let transport: Transport<ItemOf<'p, P>> = match &case.scenario.kind {
        ScenarioKind::Handoff(p) => Transport::new(case.producers, case.consumers, p.queue_depth),
        _ => Transport::new(0, 0, 1),
    };
    let mut io_threads = match &case.scenario.kind {
        ScenarioKind::Io(p) => io_setup(pool, case, p)?,
        _ => Vec::new(),
    };

    let joined: Vec<std::thread::Result<Recorder>> = std::thread::scope(|s| {
        let sh = &sh;
        let handles: Vec<_> = match &case.scenario.kind {
            ScenarioKind::Pairs(_) => (0..case.threads)
                .map(|id| s.spawn(move || pairs_worker(pool, id, sh)))
                .collect(),
            ScenarioKind::Burst(p) => {
                let batch = p.batch_size(case.threads, case.capacity);
                (0..case.threads)
                    .map(|id| s.spawn(move || burst_worker(pool, id, sh, batch)))
                    .collect()
            }
            ScenarioKind::Hold(p) => (0..case.threads)
                .map(|id| s.spawn(move || hold_worker(pool, id, sh, p)))
                .collect(),
            ScenarioKind::Io(p) => std::mem::take(&mut io_threads)
                .into_iter()
                .enumerate()
                .map(|(id, io)| s.spawn(move || io_worker(pool, id, sh, io, p.queue_depth)))
                .collect(),
            ScenarioKind::Handoff(_) => {
                let t = &transport;
                let producers = (0..case.producers)
                    .map(|id| s.spawn(move || producer(pool, id, sh, &t.queues, &t.active)));
                let consumers = (0..case.consumers).map(|c| {
                    let id = case.producers + c;
                    s.spawn(move || consumer(pool, id, sh, &t.queues[c], &t.active))
                });
                producers.chain(consumers).collect()
            }
        };
        sh.barrier.wait();
        let started = Instant::now();
        sleep_ticking(started, settings.warmup, total, tick);
        sh.phase.store(MEASURE, Ordering::Relaxed);
        let measuring = Instant::now();
        sleep_ticking(started, settings.warmup + settings.duration, total, tick);
        sh.phase.store(STOP, Ordering::Relaxed);
        window = measuring.elapsed();
        handles.into_iter().map(|h| h.join()).collect()
    });

    let mut recs = Vec::with_capacity(joined.len());
    for r in joined {
        match r {
            Ok(rec) => recs.push(rec),
            Err(e) => {
                let why = e
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| e.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                return Err(CaseError::Worker(format!(
                    "a worker thread of {} panicked: {why}",
                    case.label()
                )));
            }
        }
    }
    if let Some(why) = recs.iter().find_map(|r| r.error.as_deref()) {
        return Err(CaseError::Worker(format!("{}: {why}", case.label())));
    }
    Ok(summarise(pool, case, window, &recs))
}

/// Sleeps until `until` after `started`, reporting progress on the way.
fn sleep_ticking(started: Instant, until: Duration, total: Duration, tick: &mut dyn FnMut(f64)) {
    let step = Duration::from_millis(50);
    loop {
        let elapsed = started.elapsed();
        tick(elapsed.as_secs_f64() / total.as_secs_f64().max(1e-9));
        if elapsed >= until {
            return;
        }
        std::thread::sleep((until - elapsed).min(step));
    }
}

fn summarise<P: BenchPool>(
    pool: &P,
    case: &Case,
    window: Duration,
    recs: &[Recorder],
) -> CaseResult {
    let handoff = matches!(case.scenario.kind, ScenarioKind::Handoff(_));
    let timed_through = case.scenario.kind.has_end_to_end();
    let mut get = crate::measure::new_histogram();
    let mut put = crate::measure::new_histogram();
    let mut e2e = crate::measure::new_histogram();
    let mut integrity = Integrity::default();
    let mut dry_gets = 0;
    for r in recs {
        // Same bounds everywhere, so adding cannot fail.
        let _ = get.add(&r.get);
        let _ = put.add(&r.put);
        let _ = e2e.add(&r.end_to_end);
        integrity.duplicates += r.duplicates;
        integrity.corrupted += r.corrupted;
        dry_gets += r.dry_gets;
    }
    // Exactly once: after the case every index is free again, once.
    if pool.capacity() > 0 {
        let mut free = pool.drain();
        let taken = free.len();
        free.sort_unstable();
        free.dedup();
        let in_range = free.iter().filter(|&&i| i < pool.capacity()).count();
        integrity.duplicates += (taken - free.len()) as u64;
        integrity.lost += (pool.capacity() - in_range) as u64;
    }
    let per_thread_ops: Vec<u64> = recs.iter().map(|r| r.ops).collect();
    // Handoff: a pair completes when a consumer returns the buffer.
    let ops: u64 = if handoff {
        per_thread_ops[case.producers..].iter().sum()
    } else {
        per_thread_ops.iter().sum()
    };
    let secs = window.as_secs_f64();
    CaseResult {
        scenario: case.scenario.name.clone(),
        tier: case.tier.name().to_string(),
        threads: case.threads,
        producers: case.producers,
        consumers: case.consumers,
        capacity: case.capacity,
        pool: case.target.name().to_string(),
        duration_s: (secs * 1e6).round() / 1e6,
        ops,
        ops_per_sec: if secs > 0.0 {
            (ops as f64 / secs).round()
        } else {
            0.0
        },
        latency_ns: Latencies {
            get: LatencyStats::of(&get),
            put: LatencyStats::of(&put),
            end_to_end: timed_through.then(|| LatencyStats::of(&e2e)),
        },
        histograms: Histograms {
            get: encode_histogram(&get),
            put: encode_histogram(&put),
            end_to_end: timed_through.then(|| encode_histogram(&e2e)),
        },
        per_thread_ops,
        integrity,
        dry_gets,
    }
}

fn pairs_worker<P: BenchPool>(pool: &P, id: usize, sh: &Shared<'_>) -> Recorder {
    take_and_return_worker(pool, id, sh, |_| {})
}

/// A timed worker's own state: its recorder, the sampler that picks the
/// operations to time, the open-loop pacer (with `--rate`), and its view of
/// the phase.
fn worker_state(sh: &Shared<'_>, id: usize) -> (Recorder, Sampler, Option<Pacer>, PhaseWatch) {
    (
        Recorder::default(),
        Sampler::new(sh.sample_every, id as u64 + 1),
        Pacer::for_rate(sh.rate),
        PhaseWatch { measuring: false },
    )
}

/// One buffer at a time: take it, stamp it, `while_held` on its bytes,
/// check the stamp, return it (`pairs` does nothing while holding, `hold`
/// simulates I/O).
fn take_and_return_worker<P: BenchPool>(
    pool: &P,
    id: usize,
    sh: &Shared<'_>,
    mut while_held: impl FnMut(&mut [u8]),
) -> Recorder {
    let mut h = pool.handle();
    let (mut rec, mut sampler, mut pacer, mut watch) = worker_state(sh, id);
    let mut seq = 0u64;
    sh.start(id);
    while watch.poll(sh, &mut rec, &mut pacer) != STOP {
        let Some((mut item, t0)) = timed_get(&mut h, true, &mut pacer, &mut sampler, sh, &mut rec)
        else {
            break;
        };
        let s = stamp(id, seq);
        seq += 1;
        claim(&mut item, s, sh, &mut rec);
        while_held(item.bytes());
        unclaim(&mut item, s, sh, &mut rec);
        put_timed(&mut h, item, t0.is_some(), &mut rec);
        rec.ops += 1;
    }
    drop(h);
    rec
}

/// Takes up to `batch` buffers, then returns them all. The first get of a
/// batch waits (the blocking path, when other threads hold everything);
/// the rest only try, and a miss ends the batch early. A thread therefore
/// never waits while holding buffers, so over-committed threads cannot
/// wait for each other for ever.
fn burst_worker<P: BenchPool>(pool: &P, id: usize, sh: &Shared<'_>, batch: usize) -> Recorder {
    let mut h = pool.handle();
    let (mut rec, mut sampler, mut pacer, mut watch) = worker_state(sh, id);
    let mut seq = 0u64;
    let mut held = Vec::with_capacity(batch);
    sh.start(id);
    while watch.poll(sh, &mut rec, &mut pacer) != STOP {
        for k in 0..batch {
            let Some((mut item, _)) =
                timed_get(&mut h, k == 0, &mut pacer, &mut sampler, sh, &mut rec)
            else {
                break;
            };
            let s = stamp(id, seq);
            seq += 1;
            claim(&mut item, s, sh, &mut rec);
            held.push((item, s));
        }
        for (mut item, s) in held.drain(..) {
            unclaim(&mut item, s, sh, &mut rec);
            put_timed(&mut h, item, sampler.hit(), &mut rec);
            rec.ops += 1;
        }
    }
    drop(h);
    rec
}

fn hold_worker<P: BenchPool>(
    pool: &P,
    id: usize,
    sh: &Shared<'_>,
    params: &HoldParams,
) -> Recorder {
    take_and_return_worker(pool, id, sh, |bytes| touch(bytes, params))
}

/// Writes one byte in `touch_stride` between the two stamps, pass after
/// pass, until `hold` has passed (at least one pass).
fn touch(bytes: &mut [u8], params: &HoldParams) {
    let n = bytes.len();
    let body = &mut bytes[8..n - 8];
    let until = Instant::now() + params.hold.0;
    loop {
        for b in body.iter_mut().step_by(params.touch_stride) {
            *b = b.wrapping_add(1);
        }
        std::hint::black_box(&mut *body);
        if Instant::now() >= until {
            return;
        }
    }
}

/// Each io worker's ring and scratch file, made before the threads start
/// so that a failure is an error of the case, not of a thread, and writing
/// the files stays out of the measured time.
fn io_setup<'p, P: BenchPool>(
    pool: &'p P,
    case: &Case,
    params: &IoParams,
) -> Result<Vec<IoThread<'p>>, CaseError> {
    let fixed = match case.target {
        Target::Fixed { .. } => Some(pool.buffer_pool().ok_or_else(|| {
            CaseError::Setup(format!("{}: this pool has no fixed buffers", case.label()))
        })?),
        _ => None,
    };
    // Differs per case, so no two scratch files of a run hold the same words.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (0..case.threads)
        .map(|id| {
            IoThread::new(params, case.tier.size(), id, nonce, fixed).map_err(|e| match e {
                SetupError::Unavailable(why) | SetupError::Other(why) => CaseError::Setup(why),
                SetupError::Fixed(why) => {
                    CaseError::Skipped(format!("{} skipped: {why}", case.label()))
                }
            })
        })
        .collect()
}

/// A read in flight. Its buffer stays here, owned, until the completion
/// has been reaped: the kernel writes into it until then.
struct InFlight<I> {
    item: I,
    offset: u64,
    t0: Option<Instant>,
}

/// Submits what is queued and waits for a completion, through signals.
fn submit_and_wait(ring: &mut io_uring::IoUring) -> Result<(), String> {
    loop {
        match ring.submit_and_wait(1) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // The kernel is short of room for completions: reap what is there.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::EAGAIN)) => {
                if !ring.completion().is_empty() {
                    return Ok(());
                }
                std::thread::yield_now();
            }
            Err(e) => return Err(format!("io_uring_enter failed: {e}")),
        }
    }
}

/// The reads that have completed: check each buffer against the file,
/// give up its claim and return it. `count`: while measuring (not while
/// draining after the window).
fn reap<H: PoolHandle>(
    io: &mut IoThread<'_>,
    slots: &mut [Option<InFlight<H::Item>>],
    free: &mut Vec<usize>,
    h: &mut H,
    sh: &Shared<'_>,
    rec: &mut Recorder,
    count: bool,
) {
    let (seed, len) = (io.seed(), io.read_len());
    for cqe in io.ring.completion() {
        let k = cqe.user_data() as usize;
        let Some(InFlight {
            mut item,
            offset,
            t0,
        }) = slots.get_mut(k).and_then(Option::take)
        else {
            rec.error.get_or_insert_with(|| {
                format!("a completion for read {k}, which is not in flight")
            });
            continue;
        };
        free.push(k);
        match iobuf::uring::cqe_result(cqe.result()) {
            Ok(n) => {
                if !crate::io::verify(item.bytes(), seed, offset, len, n as usize) {
                    rec.corrupted += 1;
                }
            }
            Err(e) => {
                rec.error
                    .get_or_insert_with(|| format!("a read of the scratch file failed: {e}"));
            }
        }
        if !sh.ownership.release(item.index()) {
            rec.duplicates += 1;
        }
        let timed = count && t0.is_some();
        put_timed(h, item, timed, rec);
        if count {
            if let Some(t0) = t0 {
                record(&mut rec.end_to_end, t0.elapsed());
            }
            rec.ops += 1;
        }
    }
}

/// Gets a buffer, reads part of this thread's file into it through its
/// ring, waits for the completion, checks it and returns the buffer;
/// `depth` reads in flight at most. Only the first get of a round may wait
/// for a buffer, so a thread never waits while holding some (as in burst).
fn io_worker<P: BenchPool>(
    pool: &P,
    id: usize,
    sh: &Shared<'_>,
    mut io: IoThread<'_>,
    depth: usize,
) -> Recorder {
    let mut h = pool.handle();
    let (mut rec, mut sampler, mut pacer, mut watch) = worker_state(sh, id);
    let mut slots: Vec<Option<InFlight<ItemOf<'_, P>>>> = (0..depth).map(|_| None).collect();
    let mut free: Vec<usize> = (0..depth).rev().collect();
    sh.start(id);
    while watch.poll(sh, &mut rec, &mut pacer) != STOP && rec.error.is_none() {
        while let Some(&k) = free.last() {
            let first = free.len() == depth;
            let Some((mut item, t0)) =
                timed_get(&mut h, first, &mut pacer, &mut sampler, sh, &mut rec)
            else {
                break;
            };
            if !sh.ownership.take(item.index()) {
                rec.duplicates += 1;
            }
            let offset = io.next_offset();
            let bytes = item.bytes();
            crate::io::poison(bytes, io.seed(), offset, io.read_len());
            let pushed = io
                .read_entry(bytes.as_mut_ptr(), item.index(), offset, k as u64)
                .and_then(|entry| {
                    // The buffer's owner (`item`) goes into slots[k] and
                    // leaves it only in `reap`, after the completion, or is
                    // leaked below if the ring fails.
                    // SAFETY: so the bytes stay valid until the completion is
                    // reaped; the file lives in `io` as long as the ring.
                    unsafe { io.ring.submission().push(&entry) }
                        .map_err(|_| "the submission queue is full".to_string())
                });
            if let Err(why) = pushed {
                // Never submitted: the buffer goes back as it is.
                sh.ownership.release(item.index());
                h.put(item);
                rec.error.get_or_insert(why);
                break;
            }
            free.pop();
            slots[k] = Some(InFlight { item, offset, t0 });
        }
        if free.len() == depth {
            // Nothing in flight: the case stopped while waiting for a buffer.
            break;
        }
        if let Err(why) = submit_and_wait(&mut io.ring) {
            return abandon(rec, why, io, slots);
        }
        reap(&mut io, &mut slots, &mut free, &mut h, sh, &mut rec, true);
    }
    // Every read in flight completes before its buffer goes back.
    while free.len() < depth {
        if let Err(why) = submit_and_wait(&mut io.ring) {
            return abandon(rec, why, io, slots);
        }
        reap(&mut io, &mut slots, &mut free, &mut h, sh, &mut rec, false);
    }
    drop(h);
    rec
}

/// The ring failed with reads in flight: whether the kernel will still
/// write into their buffers is unknown, so the buffers and the ring are
/// leaked rather than reused or freed, and the case fails (the run stops
/// at once).
#[cold]
fn abandon<I>(
    mut rec: Recorder,
    why: String,
    io: IoThread<'_>,
    slots: Vec<Option<InFlight<I>>>,
) -> Recorder {
    std::mem::forget(slots);
    std::mem::forget(io);
    rec.error.get_or_insert(why);
    rec
}

/// A buffer on its way from a producer to a consumer.
struct Msg<I> {
    item: I,
    stamp: u64,
    /// When the producer started getting it, for sampled buffers.
    t0: Option<Instant>,
}

type ItemOf<'a, P> = <<P as BenchPool>::Handle<'a> as PoolHandle>::Item;

/// The queues of a handoff case: one bounded queue per consumer, which
/// producers deal buffers to round-robin, and the count of producers still
/// running.
struct Transport<I> {
    queues: Vec<ArrayQueue<Msg<I>>>,
    active: CachePadded<AtomicUsize>,
}

impl<I> Transport<I> {
    fn new(producers: usize, consumers: usize, depth: usize) -> Self {
        Transport {
            queues: (0..consumers).map(|_| ArrayQueue::new(depth)).collect(),
            active: CachePadded::new(AtomicUsize::new(producers)),
        }
    }
}

fn producer<'env, P: BenchPool>(
    pool: &'env P,
    id: usize,
    sh: &Shared<'_>,
    queues: &[ArrayQueue<Msg<ItemOf<'env, P>>>],
    active: &AtomicUsize,
) -> Recorder {
    let mut h = pool.handle();
    let (mut rec, mut sampler, mut pacer, mut watch) = worker_state(sh, id);
    let mut seq = 0u64;
    let mut next = id % queues.len();
    sh.start(id);
    'run: while watch.poll(sh, &mut rec, &mut pacer) != STOP {
        let Some((mut item, t0)) = timed_get(&mut h, true, &mut pacer, &mut sampler, sh, &mut rec)
        else {
            break;
        };
        let s = stamp(id, seq);
        seq += 1;
        claim(&mut item, s, sh, &mut rec);
        let mut msg = Msg { item, stamp: s, t0 };
        let backoff = Backoff::new();
        let mut tries = 0;
        loop {
            match queues[next].push(msg) {
                Ok(()) => break,
                Err(back) => msg = back,
            }
            next = (next + 1) % queues.len();
            tries += 1;
            if tries % queues.len() == 0 {
                if sh.stopped() {
                    // Nobody will take it: give it back ourselves.
                    let Msg {
                        mut item, stamp, ..
                    } = msg;
                    unclaim(&mut item, stamp, sh, &mut rec);
                    h.put(item);
                    break 'run;
                }
                backoff.snooze();
            }
        }
        next = (next + 1) % queues.len();
        rec.ops += 1;
    }
    drop(h);
    active.fetch_sub(1, Ordering::Release);
    rec
}

fn consumer<'env, P: BenchPool>(
    pool: &'env P,
    id: usize,
    sh: &Shared<'_>,
    queue: &ArrayQueue<Msg<ItemOf<'env, P>>>,
    active: &AtomicUsize,
) -> Recorder {
    let mut h = pool.handle();
    let mut rec = Recorder::default();
    let mut no_pacer = None;
    let mut watch = PhaseWatch { measuring: false };
    let backoff = Backoff::new();
    sh.start(id);
    loop {
        let Some(msg) = queue.pop() else {
            // Done once every producer has stopped and the queue is empty
            // (checked in that order, so that nothing sent is left behind).
            if active.load(Ordering::Acquire) == 0 && queue.is_empty() {
                break;
            }
            backoff.snooze();
            continue;
        };
        backoff.reset();
        let phase = watch.poll(sh, &mut rec, &mut no_pacer);
        let Msg {
            mut item,
            stamp,
            t0,
        } = msg;
        unclaim(&mut item, stamp, sh, &mut rec);
        if phase == STOP {
            // Draining after the window: return, do not count.
            h.put(item);
            continue;
        }
        match t0 {
            Some(t0) => {
                let t = Instant::now();
                h.put(item);
                let done = Instant::now();
                record(&mut rec.put, done - t);
                record(&mut rec.end_to_end, done - t0);
            }
            // The producer's sampling decides: put and end-to-end are timed
            // for the same buffers.
            None => h.put(item),
        }
        rec.ops += 1;
    }
    drop(h);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{builtin, IoParams};

    fn quick(scenario: &str, target: Target, threads: usize, capacity: usize) -> CaseResult {
        let scenario = builtin(scenario).unwrap();
        let handoff = matches!(scenario.kind, ScenarioKind::Handoff(_));
        let (p, c) = if handoff {
            (threads / 2, threads - threads / 2)
        } else {
            (threads, threads)
        };
        let case = Case {
            scenario,
            tier: Tier::Pico,
            capacity,
            threads,
            producers: p,
            consumers: c,
            target,
        };
        let settings = Settings {
            warmup: Duration::from_millis(5),
            duration: Duration::from_millis(40),
            cpus: Vec::new(),
            rate: None,
            sample_every: 4,
            fault_every: None,
        };
        run_case(&case, &settings, &mut |_| {}).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn every_scenario_and_pool_runs_clean() {
        for scenario in ["pairs", "handoff", "burst", "hold"] {
            for pool in PoolKind::ALL {
                let r = quick(scenario, Target::Pool(pool), 3, 16);
                assert!(r.integrity.ok(), "{scenario}/{}: {:?}", r.pool, r.integrity);
                assert!(r.ops > 0, "{scenario}/{} did nothing", r.pool);
                assert_eq!(r.per_thread_ops.len(), 3);
                assert!(r.latency_ns.get.samples > 0, "{scenario}/{}", r.pool);
                assert_eq!(
                    r.latency_ns.end_to_end.is_some(),
                    scenario == "handoff",
                    "{scenario}"
                );
            }
        }
    }

    #[test]
    fn transport_runs_without_a_pool() {
        let r = quick("handoff", Target::Transport, 2, 1);
        assert_eq!(r.pool, "transport");
        assert!(r.ops > 0);
        assert!(r.integrity.ok());
    }

    #[test]
    fn prefault_gives_every_buffer_back_and_stops_on_the_transport() {
        use crate::pools::{CachedPool, CrossbeamPool, DoubleReturn, MutexPool, NoPool};
        fn check<P: BenchPool>(pool: &P) {
            pool.prefault();
            let mut got = pool.drain();
            got.sort_unstable();
            assert_eq!(got, (0..pool.capacity()).collect::<Vec<_>>());
        }
        check(&BufferPool::new(Tier::Medium, 5).unwrap());
        check(&CachedPool(BufferPool::new(Tier::Medium, 5).unwrap()));
        check(&MutexPool::new(Tier::Medium, 5).unwrap());
        check(&CrossbeamPool::new(Tier::Medium, 5).unwrap());
        NoPool.prefault();
        // The broken pool's double returns are for the measured case only.
        let broken = DoubleReturn::new(Tier::Medium, 5, 1).unwrap();
        broken.prefault();
        let mut got = broken.drain();
        got.sort_unstable();
        assert_eq!(got, (0..5).collect::<Vec<_>>());
    }

    #[test]
    fn a_pool_smaller_than_the_threads_still_finishes() {
        let r = quick("pairs", Target::Pool(PoolKind::Iobuf), 4, 1);
        assert!(r.integrity.ok() && r.ops > 0);
        let r = quick("burst", Target::Pool(PoolKind::IobufCached), 4, 2);
        assert!(r.integrity.ok() && r.ops > 0);
    }

    /// A pool that sometimes returns a buffer twice must fail the checks,
    /// or they are decoration.
    #[test]
    fn a_pool_that_returns_twice_is_caught() {
        let pool = DoubleReturn::new(Tier::Pico, 32, 7).unwrap();
        let case = Case {
            scenario: builtin("burst").unwrap(),
            tier: Tier::Pico,
            capacity: 32,
            threads: 2,
            producers: 2,
            consumers: 2,
            target: Target::Pool(PoolKind::Crossbeam),
        };
        let settings = Settings {
            warmup: Duration::ZERO,
            duration: Duration::from_millis(30),
            cpus: Vec::new(),
            rate: None,
            sample_every: 1,
            fault_every: None,
        };
        let r = drive(&pool, &case, &settings, &mut |_| {}).unwrap();
        assert!(r.integrity.duplicates > 0, "{:?}", r.integrity);
        assert!(!r.integrity.ok());
    }

    fn short_settings() -> Settings {
        Settings {
            warmup: Duration::from_millis(5),
            duration: Duration::from_millis(40),
            cpus: Vec::new(),
            rate: None,
            sample_every: 4,
            fault_every: None,
        }
    }

    fn io_case(params: IoParams, target: Target, threads: usize, capacity: usize) -> Case {
        Case {
            scenario: Scenario {
                name: "io".into(),
                description: String::new(),
                kind: ScenarioKind::Io(params),
                file: None,
            },
            tier: Tier::Small,
            capacity,
            threads,
            producers: threads,
            consumers: threads,
            target,
        }
    }

    /// Runs an io case; `None` (with a notice) where io_uring is missing.
    fn run_io(case: &Case) -> Option<CaseResult> {
        match run_case(case, &short_settings(), &mut |_| {}) {
            Ok(r) => Some(r),
            Err(CaseError::Setup(why)) if why.contains("unavailable") => {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "skipped: io case because {why}");
                None
            }
            Err(e) => panic!("{}: {e:?}", case.label()),
        }
    }

    #[test]
    fn io_reads_check_and_return_through_every_pool() {
        let mut targets: Vec<Target> = PoolKind::ALL.iter().map(|&p| Target::Pool(p)).collect();
        targets.push(Target::Fixed { cached: false });
        targets.push(Target::Fixed { cached: true });
        for target in targets {
            let Some(r) = run_io(&io_case(IoParams::default(), target, 2, 16)) else {
                return;
            };
            assert_eq!(r.pool, target.name());
            assert!(r.integrity.ok(), "{}: {:?}", r.pool, r.integrity);
            assert!(r.ops > 0, "{} read nothing", r.pool);
            assert_eq!(r.per_thread_ops.iter().sum::<u64>(), r.ops);
            let e2e = r.latency_ns.end_to_end.expect("io times end to end");
            assert!(e2e.samples > 0 && r.latency_ns.get.samples > 0);
            // The whole pair includes the read, so it cannot be shorter than
            // the get and the put together (medians, on the same samples).
            assert!(e2e.p50 >= r.latency_ns.get.p50, "{}: {e2e:?}", r.pool);
            assert!(r.histograms.end_to_end.is_some());
        }
    }

    #[test]
    fn io_keeps_several_reads_in_flight_even_from_a_small_pool() {
        let deep = IoParams {
            queue_depth: 8,
            read_size: Some(512),
            ..IoParams::default()
        };
        for (target, capacity) in [
            (Target::Pool(PoolKind::Crossbeam), 64),
            (Target::Fixed { cached: true }, 64),
            // Fewer buffers than 2 threads × 8 reads: gets run dry, and no
            // thread waits for a buffer while holding others.
            (Target::Pool(PoolKind::Iobuf), 5),
        ] {
            let Some(r) = run_io(&io_case(deep.clone(), target, 2, capacity)) else {
                return;
            };
            assert!(r.integrity.ok() && r.ops > 0, "{}: {r:?}", r.pool);
            if capacity == 5 {
                assert!(r.dry_gets > 0, "a pool of 5 never ran dry");
            }
        }
    }

    /// A buffer handed to two threads at once gets two reads into it: the
    /// io checks must notice, or they are decoration.
    #[test]
    fn io_with_a_pool_that_returns_twice_is_caught() {
        let case = io_case(IoParams::default(), Target::Pool(PoolKind::Crossbeam), 2, 8);
        let pool = DoubleReturn::new(Tier::Small, 8, 3).unwrap();
        let r = match drive(&pool, &case, &short_settings(), &mut |_| {}) {
            Ok(r) => r,
            Err(CaseError::Setup(why)) if why.contains("unavailable") => return,
            Err(e) => panic!("{e:?}"),
        };
        assert!(r.integrity.duplicates > 0, "{:?}", r.integrity);
    }

    #[test]
    fn spread_and_compact_place_every_allowed_cpu_once() {
        let mut a: Vec<usize> = placement(Pin::Compact).iter().map(|c| c.id).collect();
        let mut b: Vec<usize> = placement(Pin::Spread).iter().map(|c| c.id).collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        assert!(!a.is_empty());
        assert!(placement(Pin::None).is_empty());
    }
}
