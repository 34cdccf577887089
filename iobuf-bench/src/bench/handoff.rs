//! `handoff`: producers take buffers and deal them round-robin to the
//! consumers' queues; consumers check and return them.

use super::phase::{Shared, STOP};
use super::worker::{ItemOf, Worker};
use crate::measure::{record, Recorder};
use crate::pools::BenchPool;
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::{Backoff, CachePadded};
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
    pub fn new(producers: usize, consumers: usize, depth: usize) -> Self {
        Transport {
            lanes: (0..consumers).map(|_| Lane::new(depth)).collect(),
            active: CachePadded::new(AtomicUsize::new(producers)),
        }
    }
}

/// One consumer's bounded queue.
pub struct Lane<I> {
    queue: ArrayQueue<Msg<I>>,
}

impl<I> Lane<I> {
    fn new(depth: usize) -> Self {
        Lane {
            queue: ArrayQueue::new(depth),
        }
    }
}

/// A producer's end of the lanes: the one it deals to next.
pub struct Sender<'t, I> {
    lanes: &'t [Lane<I>],
    next: usize,
}

impl<'t, I> Sender<'t, I> {
    pub fn new(lanes: &'t [Lane<I>], id: usize) -> Self {
        Sender {
            lanes,
            next: id % lanes.len(),
        }
    }

    /// Sends `msg` to the next lane with room, round-robin, backing off
    /// after each round of full queues; gives `msg` back if the case
    /// stopped first.
    #[inline]
    pub fn send(&mut self, mut msg: Msg<I>, sh: &Shared<'_>) -> Result<(), Msg<I>> {
        let n = self.lanes.len();
        let backoff = Backoff::new();
        let mut tries = 0;
        loop {
            let k = self.next;
            self.next = if k + 1 == n { 0 } else { k + 1 };
            match self.lanes[k].queue.push(msg) {
                Ok(()) => return Ok(()),
                Err(back) => msg = back,
            }
            tries += 1;
            if tries % n == 0 {
                if sh.stopped() {
                    return Err(msg);
                }
                backoff.snooze();
            }
        }
    }
}

/// A consumer's end of its lane.
pub struct Receiver<'t, I> {
    lane: &'t Lane<I>,
    active: &'t AtomicUsize,
    backoff: Backoff,
}

impl<'t, I> Receiver<'t, I> {
    pub fn new(lane: &'t Lane<I>, active: &'t AtomicUsize) -> Self {
        Receiver {
            lane,
            active,
            backoff: Backoff::new(),
        }
    }

    /// The next buffer sent, waiting for one; `None` once every producer
    /// has stopped and the queue is empty (checked in that order, so that
    /// nothing sent is left behind).
    #[inline]
    pub fn receive(&mut self) -> Option<Msg<I>> {
        loop {
            if let Some(msg) = self.lane.queue.pop() {
                self.backoff.reset();
                return Some(msg);
            }
            if self.active.load(Ordering::Acquire) == 0 && self.lane.queue.is_empty() {
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
    let mut tx = Sender::new(lanes, id);
    w.start();
    'run: while w.running() {
        let Some((mut item, t0)) = w.get(true) else {
            break;
        };
        let stamp = w.claim(&mut item);
        let msg = Msg { item, stamp, t0 };
        if let Err(msg) = tx.send(msg, sh) {
            // Stopped: nobody will take it, give it back ourselves.
            let Msg {
                mut item, stamp, ..
            } = msg;
            w.unclaim(&mut item, stamp);
            w.put(item, false);
            break 'run;
        }
        w.complete_op();
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
