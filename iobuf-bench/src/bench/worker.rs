//! One worker thread's state and its instrumented calls: get (waiting or
//! only trying, timed when sampled or paced), claim and unclaim (the
//! exactly-once and stamp checks), and put.

use super::phase::{Pacer, PhaseWatch, Shared, MEASURE, STOP};
use crate::measure::{check_stamp, record, stamp, write_stamp, Recorder, Sampler};
use crate::pools::{BenchItem, BenchPool, PoolHandle};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long one blocking wait lasts before the stop flag is looked at
/// again.
const WAIT_SLICE: Duration = Duration::from_millis(5);

/// The buffers a pool `P` hands out.
pub type ItemOf<'a, P> = <<P as BenchPool>::Handle<'a> as PoolHandle>::Item;

/// A worker: its handle on the pool, what it recorded, the sampler that
/// picks the operations to time, the open-loop pacer (with `--rate`), and
/// its view of the phase.
pub struct Worker<'s, H: PoolHandle> {
    pub h: H,
    pub sh: &'s Shared<'s>,
    pub rec: Recorder,
    pub sampler: Sampler,
    /// Picks the holdings that are checked (every one at `--check full`).
    checker: Sampler,
    pub pacer: Option<Pacer>,
    watch: PhaseWatch,
    /// Whether the operation in progress started inside the measured
    /// window (this worker had seen the window open before it began). Only
    /// such operations are counted and timed, and only if they also end
    /// before the window closes (see [`Worker::complete_op`]).
    op_in_window: bool,
    id: usize,
    seq: u64,
}

impl<'s, H: PoolHandle> Worker<'s, H> {
    /// Worker `id`, paced when the case has a rate.
    pub fn new(h: H, id: usize, sh: &'s Shared<'s>) -> Self {
        Worker {
            h,
            sh,
            rec: Recorder::default(),
            sampler: Sampler::new(sh.sample_every, id as u64 + 1),
            checker: Sampler::new(sh.check_every, (id as u64 + 1) << 32 | 0x5eed),
            pacer: Pacer::for_rate(sh.rate),
            watch: PhaseWatch { measuring: false },
            op_in_window: false,
            id,
            seq: 0,
        }
    }

    /// A worker that starts nothing on a schedule (handoff's consumers).
    pub fn unpaced(h: H, id: usize, sh: &'s Shared<'s>) -> Self {
        Worker {
            pacer: None,
            ..Worker::new(h, id, sh)
        }
    }

    /// Pins this thread and waits for the others.
    pub fn start(&self) {
        self.sh.start(self.id);
    }

    /// The phase now (resetting what was recorded when measuring starts).
    #[inline]
    pub fn phase(&mut self) -> u8 {
        self.watch.poll(self.sh, &mut self.rec, &mut self.pacer)
    }

    /// Whether the case still runs.
    #[inline]
    pub fn running(&mut self) -> bool {
        self.phase() != STOP
    }

    /// Marks the start of an operation that does not begin with a get
    /// (a handoff consumer's receive): it counts only if the window was
    /// already open.
    #[inline]
    pub fn begin_op(&mut self) {
        self.op_in_window = self.watch.measuring;
    }

    /// Counts the operation just finished if it started inside the
    /// measured window and the window is still open now that it has ended:
    /// operations that straddle either edge of the window count for
    /// nothing, whatever the ratio of threads to cores (a worker the
    /// scheduler kept off a core until after the window counts nothing).
    #[inline]
    pub fn complete_op(&mut self) {
        self.complete(self.op_in_window);
    }

    /// Whether the operation in progress started inside the window (for
    /// workers that hold several at once: see [`Worker::complete`]).
    #[inline]
    pub fn op_in_window(&self) -> bool {
        self.op_in_window
    }

    /// [`Worker::complete_op`] for an operation whose start was recorded
    /// with [`Worker::op_in_window`] at its get.
    #[inline]
    pub fn complete(&mut self, started_in_window: bool) {
        if started_in_window && self.sh.phase.load(Ordering::SeqCst) == MEASURE {
            self.rec.ops += 1;
        }
    }

    /// When this operation is timed from: its intended start (open loop),
    /// now (a sampled operation), or not at all. The outer `None`: the
    /// case stopped while this worker waited for its next intended start,
    /// so the operation is never offered.
    #[inline]
    fn start_time(&mut self) -> Option<Option<Instant>> {
        match &mut self.pacer {
            Some(p) => p.next(self.sh).map(Some),
            None if self.sampler.hit() => Some(Some(Instant::now())),
            None => Some(None),
        }
    }

    /// Takes a buffer, timing the get when this operation is sampled;
    /// gives the buffer and the operation's start time. `wait`: wait for
    /// one (until the case stops); otherwise only try, counting a miss, so
    /// that a thread never waits while it holds buffers.
    #[inline]
    pub fn get(&mut self, wait: bool) -> Option<(H::Item, Option<Instant>)> {
        self.op_in_window = self.watch.measuring;
        let t0 = self.start_time()?;
        let item = match self.h.try_get() {
            Some(item) => item,
            None => {
                self.rec.dry_gets += 1;
                if !wait {
                    return None;
                }
                self.wait_for_buffer()?
            }
        };
        // Only operations that started inside the window are timed.
        let t0 = t0.filter(|_| self.op_in_window);
        if let Some(t0) = t0 {
            record(&mut self.rec.get, t0.elapsed());
        }
        Some((item, t0))
    }

    #[cold]
    fn wait_for_buffer(&mut self) -> Option<H::Item> {
        loop {
            if self.sh.stopped() {
                return None;
            }
            if let Some(item) = self.h.get_timeout(WAIT_SLICE) {
                return Some(item);
            }
        }
    }

    /// This worker claims `item` and stamps it when this holding is one
    /// the check level checks; gives the stamp, `None` when unchecked.
    #[inline]
    pub fn claim(&mut self, item: &mut H::Item) -> Option<u64> {
        if !self.checker.hit() {
            return None;
        }
        let s = stamp(self.id, self.seq);
        self.seq += 1;
        self.take_ownership(item);
        write_stamp(item.bytes(), s);
        Some(s)
    }

    /// Marks `item` held, counting a duplicate if it already was.
    #[inline]
    pub fn take_ownership(&mut self, item: &H::Item) {
        if !self.sh.ownership.take(item.index()) {
            self.rec.duplicates += 1;
        }
    }

    /// Marks `item` free, counting a duplicate if it already was.
    #[inline]
    pub fn release_ownership(&mut self, item: &H::Item) {
        if !self.sh.ownership.release(item.index()) {
            self.rec.duplicates += 1;
        }
    }

    /// The last holder checks the stamp and gives up its claim (nothing
    /// for an unchecked holding).
    #[inline]
    pub fn unclaim(&mut self, item: &mut H::Item, stamp: Option<u64>) {
        let Some(stamp) = stamp else { return };
        if !check_stamp(item.bytes(), stamp) {
            self.rec.corrupted += 1;
        }
        self.release_ownership(item);
    }

    /// Up to `n` buffers in one batch call into `out` (without waiting),
    /// timing the call when this batch is sampled; how many. Fewer than
    /// `n` counts one dry get.
    #[inline]
    pub fn get_many(&mut self, out: &mut Vec<H::Item>, n: usize) -> usize {
        self.op_in_window = self.watch.measuring;
        let timed = self.op_in_window && self.sampler.hit();
        let t0 = timed.then(Instant::now);
        let got = self.h.try_get_many(out, n);
        if let Some(t0) = t0 {
            record(&mut self.rec.get, t0.elapsed());
        }
        if got < n {
            self.rec.dry_gets += 1;
        }
        got
    }

    /// Returns every buffer of `items` in one batch call, timing it when
    /// `in_window` and sampled.
    #[inline]
    pub fn put_many(&mut self, items: &mut Vec<H::Item>, in_window: bool) {
        if in_window && self.sampler.hit() {
            let t = Instant::now();
            self.h.put_many(items);
            record(&mut self.rec.put, t.elapsed());
        } else {
            self.h.put_many(items);
        }
    }

    /// Returns `item`, timing the call when `timed`.
    #[inline]
    pub fn put(&mut self, item: H::Item, timed: bool) {
        if timed {
            let t = Instant::now();
            self.h.put(item);
            self.injected_delay();
            record(&mut self.rec.put, t.elapsed());
        } else {
            self.h.put(item);
            self.injected_delay();
        }
    }

    /// `calibrate`'s known slowdown, as if this row's put cost more: a
    /// fixed number of spins.
    #[inline]
    fn injected_delay(&self) {
        if self.sh.extra_spins > 0 {
            spin(self.sh.extra_spins);
        }
    }

    /// Drops the handle (a cache flushes back to the pool) and gives what
    /// was recorded.
    pub fn finish(mut self) -> Recorder {
        drop(self.h);
        if !self.watch.measuring {
            // This worker never saw the window open (the scheduler kept it
            // off a core, or the window was shorter than its first
            // operation): everything it timed and counted was warm-up.
            self.rec.start_measuring();
        }
        self.rec
    }
}

/// `n` iterations of a loop the compiler cannot remove, about a nanosecond
/// each (a dependent add through `black_box`; not `spin_loop`, whose PAUSE
/// takes tens of nanoseconds on some CPUs, too coarse for a known
/// slowdown): a delay whose cost per iteration `calibrate` measures with
/// [`spin_cost_ns`].
#[inline(never)]
pub fn spin(n: u32) {
    let mut x = 0u64;
    for i in 0..n {
        x = std::hint::black_box(x.wrapping_add(u64::from(i)));
    }
    std::hint::black_box(x);
}

/// Nanoseconds one iteration of [`spin`] takes here (the median of a few
/// tries, so that neither a preempted try nor a lucky one decides).
pub fn spin_cost_ns() -> f64 {
    const N: u32 = 2_000_000;
    let mut tries: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            spin(N);
            t.elapsed().as_nanos() as f64 / f64::from(N)
        })
        .collect();
    tries.sort_by(f64::total_cmp);
    tries[tries.len() / 2]
}
