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

/// The queues of a handoff case: one bounded queue per consumer, which
/// producers deal buffers to round-robin, and the count of producers still
/// running.
pub struct Transport<I> {
    pub queues: Vec<ArrayQueue<Msg<I>>>,
    pub active: CachePadded<AtomicUsize>,
}

impl<I> Transport<I> {
    pub fn new(producers: usize, consumers: usize, depth: usize) -> Self {
        Transport {
            queues: (0..consumers).map(|_| ArrayQueue::new(depth)).collect(),
            active: CachePadded::new(AtomicUsize::new(producers)),
        }
    }
}

pub fn producer<'env, P: BenchPool>(
    pool: &'env P,
    id: usize,
    sh: &Shared<'_>,
    queues: &[ArrayQueue<Msg<ItemOf<'env, P>>>],
    active: &AtomicUsize,
) -> Recorder {
    let mut w = Worker::new(pool.handle(), id, sh);
    let mut next = id % queues.len();
    w.start();
    'run: while w.running() {
        let Some((mut item, t0)) = w.get(true) else {
            break;
        };
        let stamp = w.claim(&mut item);
        let mut msg = Msg { item, stamp, t0 };
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
                    w.unclaim(&mut item, stamp);
                    w.put(item, false);
                    break 'run;
                }
                backoff.snooze();
            }
        }
        next = (next + 1) % queues.len();
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
    queue: &ArrayQueue<Msg<ItemOf<'env, P>>>,
    active: &AtomicUsize,
) -> Recorder {
    let mut w = Worker::unpaced(pool.handle(), id, sh);
    let backoff = Backoff::new();
    w.start();
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
