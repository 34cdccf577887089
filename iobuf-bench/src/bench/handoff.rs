//! `handoff`: producers take buffers and deal them round-robin to the
//! consumers' queues; consumers check and return them.
//!
//! Buffers travel in batches (`batch`, default 16; 1 sends each on its
//! own, as every paced run does). A producer fills one batch per consumer
//! and sends it when full, or before it waits for a buffer (so that no
//! consumer waits for buffers a producer sits on), and gives back what it
//! has not sent when the case stops.
//!
//! Why batches: with each buffer on its own, a queue between two cores
//! costs a few cache-line transfers per buffer (the slot, the head and the
//! tail), tens of nanoseconds each, more than the pools themselves, and
//! how many depends on whether the queue runs nearly empty or nearly full,
//! so on the speed of each end rather than its cost. On the 2-vCPU machine
//! the same case measured 4 M and 25 M pairs/s in one run; the `transport`
//! row (no pool) came out at half of crossbeam's; and removing the checks
//! reordered the pools (iobuf-cached 0.71× crossbeam at the default level,
//! 2.49× at `--check lean`). A batch moves those transfers once per 16
//! buffers, leaving the pools' own cost of moving buffers between threads
//! to decide the order. The end-to-end latency includes the wait for a
//! batch to fill (up to `batch` gets).

use super::phase::{Shared, STOP};
use super::worker::{ItemOf, Worker};
use crate::measure::{record, Recorder};
use crate::pools::BenchPool;
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::{Backoff, CachePadded};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// A buffer on its way from a producer to a consumer.
pub struct Msg<I> {
    item: I,
    /// `None`: a holding the check level does not check.
    stamp: Option<u64>,
    /// When the producer started getting it, for sampled buffers.
    t0: Option<Instant>,
}

impl<I> Msg<I> {
    /// A buffer sent unchecked and untimed (`--check lean`).
    pub fn bare(item: I) -> Self {
        Msg {
            item,
            stamp: None,
            t0: None,
        }
    }

    pub fn into_item(self) -> I {
        self.item
    }
}

/// The transport of a handoff case: one lane per consumer, which
/// producers deal buffers to round-robin, and the count of producers still
/// running.
pub struct Transport<I> {
    pub lanes: Vec<Lane<I>>,
    pub active: CachePadded<AtomicUsize>,
}

impl<I> Transport<I> {
    /// Lanes of `depth` buffers each, sent `batch` at a time.
    pub fn new(producers: usize, consumers: usize, depth: usize, batch: usize) -> Self {
        Transport {
            lanes: (0..consumers).map(|_| Lane::new(depth, batch)).collect(),
            active: CachePadded::new(AtomicUsize::new(producers)),
        }
    }
}

/// A batch of buffers on its way to a consumer (sent in order).
type Batch<I> = VecDeque<Msg<I>>;

/// One consumer's bounded queue of batches, and the emptied batches on
/// their way back to the producers (so that a batch's memory is allocated
/// once, not once a trip).
pub struct Lane<I> {
    full: ArrayQueue<Batch<I>>,
    empty: ArrayQueue<Batch<I>>,
    batch: usize,
}

impl<I> Lane<I> {
    fn new(depth: usize, batch: usize) -> Self {
        let batch = batch.clamp(1, depth.max(1));
        let slots = (depth / batch).max(1);
        Lane {
            full: ArrayQueue::new(slots),
            // The batches in the queue, one being emptied, and a few being
            // filled; more are dropped on the way back.
            empty: ArrayQueue::new(slots + 4),
            batch,
        }
    }

    fn fresh_batch(&self) -> Batch<I> {
        self.empty
            .pop()
            .unwrap_or_else(|| VecDeque::with_capacity(self.batch))
    }
}

/// A producer's end of the lanes: the lane it deals to next, and the batch
/// it is filling for each.
pub struct Sender<'t, I> {
    lanes: &'t [Lane<I>],
    next: usize,
    filling: Vec<Batch<I>>,
    /// Sends each buffer on its own, whatever the batch: a paced producer
    /// sleeps between buffers, and one buffer waiting for the next would
    /// time the pacing, not the pool.
    one_by_one: bool,
}

impl<'t, I> Sender<'t, I> {
    pub fn new(lanes: &'t [Lane<I>], id: usize, sh: &Shared<'_>) -> Self {
        Sender {
            lanes,
            next: id % lanes.len(),
            filling: lanes.iter().map(Lane::fresh_batch).collect(),
            one_by_one: sh.rate.is_some(),
        }
    }

    /// Adds `msg` to the next lane's batch, round-robin, and sends the
    /// batch when it is full (to the first lane with room from there,
    /// backing off after each round of full queues). Gives `false` if the
    /// case stopped before the batch could go (it stays with the sender,
    /// see [`Sender::unsent`]).
    #[inline]
    pub fn send(&mut self, msg: Msg<I>, sh: &Shared<'_>) -> bool {
        let k = self.next;
        self.next = if k + 1 == self.lanes.len() { 0 } else { k + 1 };
        self.filling[k].push_back(msg);
        if self.filling[k].len() >= self.lanes[k].batch || self.one_by_one {
            return self.ship(k, sh);
        }
        true
    }

    /// Sends every batch begun, full or not: before the producer waits for
    /// a buffer (a consumer may be waiting for the ones it holds) and when
    /// it stops. Gives `false` if the case stopped first.
    pub fn flush(&mut self, sh: &Shared<'_>) -> bool {
        (0..self.lanes.len()).all(|k| self.filling[k].is_empty() || self.ship(k, sh))
    }

    /// Every buffer not sent (the case stopped), for the producer to give
    /// back itself.
    pub fn unsent(&mut self) -> impl Iterator<Item = Msg<I>> + '_ {
        self.filling.iter_mut().flat_map(|b| b.drain(..))
    }

    #[cold]
    fn ship(&mut self, k: usize, sh: &Shared<'_>) -> bool {
        let n = self.lanes.len();
        let mut batch = std::mem::take(&mut self.filling[k]);
        let backoff = Backoff::new();
        let mut lane = k;
        let mut tries = 0;
        loop {
            match self.lanes[lane].full.push(batch) {
                Ok(()) => {
                    self.filling[k] = self.lanes[lane].fresh_batch();
                    return true;
                }
                Err(back) => batch = back,
            }
            lane = if lane + 1 == n { 0 } else { lane + 1 };
            tries += 1;
            if tries % n == 0 {
                if sh.stopped() {
                    self.filling[k] = batch;
                    return false;
                }
                backoff.snooze();
            }
        }
    }
}

/// A consumer's end of its lane: the batch it is emptying.
pub struct Receiver<'t, I> {
    lane: &'t Lane<I>,
    active: &'t AtomicUsize,
    current: Batch<I>,
    backoff: Backoff,
}

impl<'t, I> Receiver<'t, I> {
    pub fn new(lane: &'t Lane<I>, active: &'t AtomicUsize) -> Self {
        Receiver {
            lane,
            active,
            current: VecDeque::new(),
            backoff: Backoff::new(),
        }
    }

    /// The next buffer sent, waiting for one; `None` once every producer
    /// has stopped and the queue is empty (checked in that order, so that
    /// nothing sent is left behind).
    #[inline]
    pub fn receive(&mut self) -> Option<Msg<I>> {
        match self.current.pop_front() {
            Some(msg) => Some(msg),
            None => self.next_batch(),
        }
    }

    #[cold]
    fn next_batch(&mut self) -> Option<Msg<I>> {
        loop {
            if let Some(batch) = self.lane.full.pop() {
                let done = std::mem::replace(&mut self.current, batch);
                if done.capacity() > 0 {
                    // Back to the producers; dropped if enough are there.
                    let _ = self.lane.empty.push(done);
                }
                self.backoff.reset();
                if let Some(msg) = self.current.pop_front() {
                    return Some(msg);
                }
                continue;
            }
            if self.active.load(Ordering::Acquire) == 0 && self.lane.full.is_empty() {
                return None;
            }
            self.backoff.snooze();
        }
    }
}

pub fn producer<'env, P: BenchPool>(
    pool: &'env P,
    id: usize,
    sh: &Shared<'_>,
    lanes: &[Lane<ItemOf<'env, P>>],
    active: &AtomicUsize,
) -> Recorder {
    let mut w = Worker::new(pool.handle(), id, sh);
    let mut tx = Sender::new(lanes, id, sh);
    w.start();
    while w.running() {
        let Some((mut item, t0)) = w.get_flushing(|| tx.flush(sh)) else {
            break;
        };
        let stamp = w.claim(&mut item);
        if !tx.send(Msg { item, stamp, t0 }, sh) {
            break;
        }
        w.complete_op();
    }
    // Stopped: what was not sent goes back from here.
    for Msg {
        mut item, stamp, ..
    } in tx.unsent()
    {
        w.unclaim(&mut item, stamp);
        w.put(item, false);
    }
    let rec = w.finish();
    active.fetch_sub(1, Ordering::Release);
    rec
}

pub fn consumer<'env, P: BenchPool>(
    pool: &'env P,
    id: usize,
    sh: &Shared<'_>,
    lane: &Lane<ItemOf<'env, P>>,
    active: &AtomicUsize,
) -> Recorder {
    let mut w = Worker::unpaced(pool.handle(), id, sh);
    let mut rx = Receiver::new(lane, active);
    w.start();
    while let Some(msg) = rx.receive() {
        let phase = w.phase();
        w.begin_op();
        let Msg {
            mut item,
            stamp,
            t0,
        } = msg;
        w.unclaim(&mut item, stamp);
        if phase == STOP {
            // Draining after the window: return, do not count.
            w.put(item, false);
            continue;
        }
        match t0.filter(|_| w.op_in_window()) {
            Some(t0) => {
                let t = Instant::now();
                w.put(item, false);
                let done = Instant::now();
                record(&mut w.rec.put, done - t);
                record(&mut w.rec.end_to_end, done - t0);
            }
            // The producer's sampling decides: put and end-to-end are timed
            // for the same buffers.
            None => w.put(item, false),
        }
        w.complete_op();
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::super::phase::WARMUP;
    use super::*;
    use crate::measure::Ownership;
    use std::sync::atomic::AtomicU8;
    use std::sync::Barrier;

    fn shared(ownership: &Ownership, rate: Option<f64>) -> Shared<'_> {
        Shared {
            phase: CachePadded::new(AtomicU8::new(WARMUP)),
            barrier: Barrier::new(1),
            ownership,
            sample_every: 1024,
            check_every: 32,
            slowdown: None,
            rate,
            cpus: &[],
        }
    }

    /// Every buffer in `lane`'s queue, in the order sent.
    fn items(lane: &Lane<u32>) -> Vec<u32> {
        let mut got = Vec::new();
        while let Some(batch) = lane.full.pop() {
            got.extend(batch.into_iter().map(Msg::into_item));
        }
        got
    }

    /// A batch goes when it is full, a flush sends what was begun, and a
    /// paced producer sends every buffer on its own; a stopped case keeps
    /// what could not go for the producer to give back.
    #[test]
    fn batches_go_full_or_flushed_and_one_by_one_when_paced() {
        let ownership = Ownership::new(0);
        let t = Transport::<u32>::new(1, 1, 64, 16);
        let lane = &t.lanes[0];

        let sh = shared(&ownership, None);
        let mut tx = Sender::new(&t.lanes, 0, &sh);
        for i in 0..15 {
            assert!(tx.send(Msg::bare(i), &sh));
        }
        assert!(lane.full.is_empty(), "a batch went before it was full");
        assert!(tx.send(Msg::bare(15), &sh));
        assert_eq!(lane.full.len(), 1);
        assert_eq!(items(lane), (0..16).collect::<Vec<_>>());
        assert!(tx.send(Msg::bare(16), &sh) && tx.flush(&sh));
        assert_eq!(items(lane), [16]);

        let paced = shared(&ownership, Some(1000.0));
        let mut tx = Sender::new(&t.lanes, 0, &paced);
        assert!(tx.send(Msg::bare(17), &paced));
        assert_eq!(lane.full.len(), 1, "a paced buffer waited");
        assert!(tx.send(Msg::bare(18), &paced));
        assert_eq!(items(lane), [17, 18]);

        // The queue holds four batches: four paced buffers fill it, and once
        // the case has stopped the fifth stays with the sender.
        paced.phase.store(STOP, Ordering::SeqCst);
        let mut tx = Sender::new(&t.lanes, 0, &paced);
        for i in 0..4 {
            assert!(tx.send(Msg::bare(i), &paced));
        }
        assert!(!tx.send(Msg::bare(99), &paced));
        assert_eq!(tx.unsent().map(Msg::into_item).collect::<Vec<_>>(), [99]);
    }
}
