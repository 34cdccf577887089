//! `burst`: take up to a batch of buffers, then return them all.

use super::phase::Shared;
use super::worker::{touch, Worker};
use crate::measure::Recorder;
use crate::pools::{BenchItem, BenchPool, PoolHandle};

/// Takes up to `batch` buffers, then returns them all. The first get of a
/// batch waits (the blocking path, when other threads hold everything);
/// the rest only try, and a miss ends the batch early. A thread therefore
/// never waits while holding buffers, so over-committed threads cannot
/// wait for each other for ever. A burst's operations are counted together
/// (see [`Worker::complete_block`]); the plain ones go through the handle
/// directly, the picked ones through the instrumented calls.
pub fn burst_worker<P: BenchPool>(pool: &P, id: usize, sh: &Shared<'_>, batch: usize) -> Recorder {
    if <P::Handle<'_> as PoolHandle>::BATCHES {
        return batch_worker(pool, id, sh, batch);
    }
    let mut w = Worker::new(pool.handle(), id, sh);
    // Each buffer held, with its stamp (checked holdings) and whether its
    // operation is timed.
    let mut held = Vec::with_capacity(batch);
    w.start();
    while w.running() {
        let in_window = w.begin_block();
        while held.len() < batch {
            let first = held.is_empty();
            if w.plain_run() > 0 {
                if let Some(mut item) = w.h.try_get() {
                    w.skip_plain(1);
                    touch(item.bytes());
                    held.push((item, None, false));
                    continue;
                }
                if !first {
                    w.rec.dry_gets += 1;
                    break;
                }
            }
            // Picked, or the first get of the burst found the pool dry:
            // through the instrumented get, which waits.
            let Some((mut item, t0)) = w.get(first) else {
                break;
            };
            let s = w.claim(&mut item);
            touch(item.bytes());
            held.push((item, s, t0.is_some()));
        }
        let n = held.len() as u64;
        for (mut item, s, timed) in held.drain(..) {
            w.unclaim(&mut item, s);
            w.put(item, timed);
        }
        w.complete_block(in_window, n);
    }
    w.finish()
}

/// [`burst_worker`] for the handles that batch (the batch rows, and the
/// ceiling): each burst is one `try_get_many` (and, when that finds
/// nothing, one waiting get) and one `put_many`. A timing covers a whole
/// batch call (see [`Worker::get_many`]); every buffer counts as one
/// operation, as in the other rows.
fn batch_worker<P: BenchPool>(pool: &P, id: usize, sh: &Shared<'_>, batch: usize) -> Recorder {
    let mut w = Worker::new(pool.handle(), id, sh);
    let mut held = Vec::with_capacity(batch);
    let mut claimed = Vec::new();
    w.start();
    while w.running() {
        let in_window = w.begin_block();
        let (got, mut timed) = w.get_many(&mut held, batch);
        if got == 0 {
            // Dry: wait for one, as the first get of a plain burst does.
            let Some((item, t0)) = w.get(true) else {
                continue;
            };
            held.push(item);
            timed = t0.is_some();
        }
        w.claim_picked(&mut held, &mut claimed);
        for item in &mut held {
            touch(item.bytes());
        }
        for &(k, s) in &claimed {
            w.unclaim(&mut held[k], Some(s));
        }
        claimed.clear();
        let n = held.len() as u64;
        w.put_many(&mut held, timed);
        w.complete_block(in_window, n);
    }
    w.finish()
}
