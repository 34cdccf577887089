//! One worker thread's state and its instrumented calls: get (waiting or
//! only trying, timed when sampled or paced), claim and unclaim (the
//! exactly-once and stamp checks), and put.
//!
//! Which operations are timed and which are checked is decided by two
//! [`Countdown`]s, one pick per operation each. Between two picks the
//! operations are *plain*: neither timed nor checked. A scenario's inner
//! loop runs those through the handle directly ([`Worker::plain_run`],
//! [`Worker::skip_plain`], [`Worker::put_plain`]), so that at the default
//! check level the harness adds a countdown, a one-byte touch and the
//! pool's own calls to most operations, and the instrumented calls only to
//! the picked ones. Operations are counted a block at a time
//! ([`Worker::begin_block`], [`Worker::complete_block`]), with the same
//! window rule as one at a time.

use super::phase::{Pacer, PhaseWatch, Shared, MEASURE, STOP};
use super::slowdown::Injector;
use crate::measure::{check_stamp, record, stamp, write_stamp, Countdown, Recorder};
use crate::pools::{BenchItem, BenchPool, PoolHandle};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long one blocking wait lasts before the stop flag is looked at
/// again.
const WAIT_SLICE: Duration = Duration::from_millis(5);

/// The buffers a pool `P` hands out.
pub type ItemOf<'a, P> = <<P as BenchPool>::Handle<'a> as PoolHandle>::Item;

/// A worker: its handle on the pool, what it recorded, the countdowns that
/// pick the operations to time and to check, the open-loop pacer (with
/// `--rate`), and its view of the phase.
pub struct Worker<'s, H: PoolHandle> {
    pub h: H,
    pub sh: &'s Shared<'s>,
    pub rec: Recorder,
    /// Picks the operations that are timed (every one with `--rate`).
    timer: Countdown,
    /// Picks the holdings that are checked (every one at `--check full`).
    checker: Countdown,
    /// `calibrate`'s injected slowdown of this row (none for every other).
    slowdown: Option<Injector>,
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
            timer: Countdown::new(sh.sample_every, id as u64 + 1),
            checker: Countdown::new(sh.check_every, (id as u64 + 1) << 32 | 0x5eed),
            slowdown: sh.slowdown.map(Injector::new),
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
        if let Some(s) = &mut self.slowdown {
            s.after(1);
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
            None if self.timer.hit() => Some(Some(Instant::now())),
            None => Some(None),
        }
    }

    /// Takes a buffer, timing the get when this operation is sampled;
    /// gives the buffer and the operation's start time. `wait`: wait for
    /// one (until the case stops); otherwise only try, counting a miss, so
    /// that a thread never waits while it holds buffers.
    #[inline]
    pub fn get(&mut self, wait: bool) -> Option<(H::Item, Option<Instant>)> {
        self.get_or(wait, || true)
    }

    /// [`Worker::get`], waiting, with `before_wait` run first if the pool
    /// is dry (a handoff producer sends the buffers it holds back, which a
    /// consumer may need to return before any comes free).
    #[inline]
    pub fn get_flushing(
        &mut self,
        before_wait: impl FnOnce() -> bool,
    ) -> Option<(H::Item, Option<Instant>)> {
        self.get_or(true, before_wait)
    }

    #[inline]
    fn get_or(
        &mut self,
        wait: bool,
        before_wait: impl FnOnce() -> bool,
    ) -> Option<(H::Item, Option<Instant>)> {
        self.op_in_window = self.watch.measuring;
        let t0 = self.start_time()?;
        let item = match self.h.try_get() {
            Some(item) => item,
            None => {
                self.rec.dry_gets += 1;
                if !wait || !before_wait() {
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
        Some(self.claim_now(item))
    }

    /// Claims and stamps `item` whatever the checker says; gives the stamp.
    #[inline]
    fn claim_now(&mut self, item: &mut H::Item) -> u64 {
        let s = stamp(self.id, self.seq);
        self.seq += 1;
        self.take_ownership(item);
        write_stamp(item.bytes(), s);
        s
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
    ///
    /// The call is timed when the timer picks one of the operations it
    /// may serve (so a batch of `n` is timed about `n` times as often as a
    /// single get): the timing is the whole call's. Gives how many it got
    /// and whether it was timed (the matching [`Worker::put_many`] is timed
    /// too). The caller claims the checked ones with [`Worker::claim_picked`].
    #[inline]
    pub fn get_many(&mut self, out: &mut Vec<H::Item>, n: usize) -> (usize, bool) {
        self.op_in_window = self.watch.measuring;
        let timed = self.op_in_window && (self.timer.left() as usize) < n;
        let t0 = timed.then(Instant::now);
        let got = self.h.try_get_many(out, n);
        if let Some(t0) = t0 {
            record(&mut self.rec.get, t0.elapsed());
        }
        if got < n {
            self.rec.dry_gets += 1;
        }
        let got32 = u32::try_from(got).unwrap_or(u32::MAX);
        self.timer.each_pick(got32, |_| {});
        (got, timed)
    }

    /// Claims (see [`Worker::claim`]) the holdings of `items` that the
    /// checker picks, pushing `(position, stamp)` for each onto `claimed`.
    #[inline]
    pub fn claim_picked(&mut self, items: &mut [H::Item], claimed: &mut Vec<(usize, u64)>) {
        let n = u32::try_from(items.len()).unwrap_or(u32::MAX);
        let mut picked = std::mem::take(claimed);
        self.checker.each_pick(n, |k| picked.push((k as usize, 0)));
        for (k, s) in &mut picked {
            *s = self.claim_now(&mut items[*k]);
        }
        *claimed = picked;
    }

    /// Returns every buffer of `items` in one batch call, timing it when
    /// `timed`.
    #[inline]
    pub fn put_many(&mut self, items: &mut Vec<H::Item>, timed: bool) {
        if timed {
            let t = Instant::now();
            self.h.put_many(items);
            record(&mut self.rec.put, t.elapsed());
        } else {
            self.h.put_many(items);
        }
    }

    /// Operations before the next one the timer or the checker picks: the
    /// caller may run that many through [`Worker::h`] directly (taking,
    /// touching with [`touch`], [`Worker::put_plain`]), then passes them
    /// with [`Worker::skip_plain`].
    #[inline]
    pub fn plain_run(&self) -> u32 {
        if self.pacer.is_some() {
            // Every paced operation waits for its intended start.
            return 0;
        }
        self.timer.left().min(self.checker.left())
    }

    /// Passes `n` plain operations (at most [`Worker::plain_run`]).
    #[inline]
    pub fn skip_plain(&mut self, n: u32) {
        self.timer.skip(n);
        self.checker.skip(n);
    }

    /// Returns a plain operation's buffer.
    #[inline]
    pub fn put_plain(&mut self, item: H::Item) {
        self.h.put(item);
    }

    /// Starts a block of operations counted together: whether it starts
    /// inside the measured window (see [`Worker::complete_block`]).
    #[inline]
    pub fn begin_block(&mut self) -> bool {
        self.op_in_window = self.watch.measuring;
        self.op_in_window
    }

    /// Counts the `n` operations of a block begun with
    /// [`Worker::begin_block`] if it started inside the window and the
    /// window is still open: the rule of [`Worker::complete_op`], for a
    /// block at a time (one look at the phase per block; a block that
    /// straddles either edge counts for nothing).
    #[inline]
    pub fn complete_block(&mut self, started_in_window: bool, n: u64) {
        if started_in_window && self.sh.phase.load(Ordering::SeqCst) == MEASURE {
            self.rec.ops += n;
        }
        if let Some(s) = &mut self.slowdown {
            s.after(n);
        }
    }

    /// Returns `item`, timing the call when `timed`.
    #[inline]
    pub fn put(&mut self, item: H::Item, timed: bool) {
        if timed {
            let t = Instant::now();
            self.h.put(item);
            record(&mut self.rec.put, t.elapsed());
        } else {
            self.h.put(item);
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

/// What every holding does with its buffer at least: writes one byte in
/// the middle (between the stamps at both ends), as a user of the buffer
/// would, so that a pool whose buffers are cold pays for it. A plain
/// store, not a read-modify-write: a pool that hands the same buffer out
/// again would otherwise chain every operation to the previous one's
/// store through store forwarding, a cost of the harness, not the pool.
#[inline]
pub fn touch(bytes: &mut [u8]) {
    let mid = bytes.len() / 2;
    if let Some(b) = bytes.get_mut(mid) {
        *b = 1;
    }
}
