//! `--check lean`: the scenarios' minimal loops, the reference the default
//! level's resolution is measured against (`results/harness-resolution-*`).
//!
//! A lean worker calls the pool's handle and writes one byte of each
//! buffer, and nothing else: no countdown, no ownership flag or stamps, no
//! clock. What it keeps of the harness is what any fair loop needs: the
//! same adapters over the pools, the same pinning and window (operations
//! counted a block at a time, as at the default level), and for handoff
//! the same transport. The exactly-once drain still ends every case, so a
//! pool that loses a buffer or hands one out twice is still caught; one
//! that corrupts bytes is not.
//!
//! Pairs and handoff only: the two families whose rankings the bench's
//! goals compare with a lean loop.

use super::handoff::{Lane, Msg, Receiver, Sender};
use super::phase::Shared;
use super::worker::{touch, ItemOf, Worker};
use crate::measure::Recorder;
use crate::pools::{BenchItem, BenchPool, PoolHandle};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Operations counted together (one look at the phase each), as in the
/// default level's `pairs`; a get that finds the pool dry ends its block.
const BLOCK: u64 = 256;

/// A buffer, and whether the pool was dry; `None` once the case stopped.
/// A dry pool is waited on as at the default level (`before_wait` first),
/// and the caller ends its block, so that a waiting thread's operations
/// still count one by one.
#[inline]
fn take<H: PoolHandle>(
    w: &mut Worker<'_, H>,
    before_wait: impl FnOnce() -> bool,
) -> Option<(H::Item, bool)> {
    match w.h.try_get() {
        Some(item) => Some((item, false)),
        None => w.get_flushing(before_wait).map(|(item, _)| (item, true)),
    }
}

/// Takes a buffer, touches it, returns it.
pub fn pairs_worker<P: BenchPool>(pool: &P, id: usize, sh: &Shared<'_>) -> Recorder {
    let mut w = Worker::new(pool.handle(), id, sh);
    w.start();
    'run: while w.running() {
        let in_window = w.begin_block();
        let mut done = 0;
        while done < BLOCK {
            let Some((mut item, dry)) = take(&mut w, || true) else {
                break 'run;
            };
            touch(item.bytes());
            w.h.put(item);
            done += 1;
            if dry {
                break;
            }
        }
        w.complete_block(in_window, done);
    }
    w.finish()
}

/// Takes a buffer, touches it, sends it.
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
    'run: while w.running() {
        let in_window = w.begin_block();
        let mut done = 0;
        while done < BLOCK {
            let Some((mut item, dry)) = take(&mut w, || tx.flush(sh)) else {
                break 'run;
            };
            touch(item.bytes());
            if !tx.send(Msg::bare(item), sh) {
                break 'run;
            }
            done += 1;
            if dry {
                break;
            }
        }
        w.complete_block(in_window, done);
    }
    for msg in tx.unsent() {
        w.h.put(msg.into_item());
    }
    let rec = w.finish();
    active.fetch_sub(1, Ordering::Release);
    rec
}

/// Receives a buffer, returns it.
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
    // One operation at a time, as at the default level: a consumer waits
    // for its buffers, and a block of them could straddle the window.
    while let Some(msg) = rx.receive() {
        w.phase();
        w.begin_op();
        w.h.put(msg.into_item());
        w.complete_op();
    }
    w.finish()
}
