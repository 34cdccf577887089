//! `burst`: take up to a batch of buffers, then return them all.

use super::phase::Shared;
use super::worker::Worker;
use crate::measure::Recorder;
use crate::pools::{BenchPool, PoolHandle};

/// Takes up to `batch` buffers, then returns them all. The first get of a
/// batch waits (the blocking path, when other threads hold everything);
/// the rest only try, and a miss ends the batch early. A thread therefore
/// never waits while holding buffers, so over-committed threads cannot
/// wait for each other for ever.
pub fn burst_worker<P: BenchPool>(pool: &P, id: usize, sh: &Shared<'_>, batch: usize) -> Recorder {
    if <P::Handle<'_> as PoolHandle>::BATCHES {
        return batch_worker(pool, id, sh, batch);
    }
    let mut w = Worker::new(pool.handle(), id, sh);
    let mut held = Vec::with_capacity(batch);
    w.start();
    while w.running() {
        for k in 0..batch {
            let Some((mut item, _)) = w.get(k == 0) else {
                break;
            };
            let s = w.claim(&mut item);
            held.push((item, s, w.op_in_window()));
        }
        for (mut item, s, in_window) in held.drain(..) {
            w.unclaim(&mut item, s);
            let timed = in_window && w.sampler.hit();
            w.put(item, timed);
            w.complete(in_window);
        }
    }
    w.finish()
}

/// [`burst_worker`] for the batch rows: each burst is one `try_get_many`
/// (and, when that finds nothing, one waiting get) and one `put_many`. A
/// sampled timing covers a whole batch call; every buffer counts as one
/// operation, as in the other rows.
fn batch_worker<P: BenchPool>(pool: &P, id: usize, sh: &Shared<'_>, batch: usize) -> Recorder {
    let mut w = Worker::new(pool.handle(), id, sh);
    let mut held = Vec::with_capacity(batch);
    let mut stamps = Vec::with_capacity(batch);
    w.start();
    while w.running() {
        if w.get_many(&mut held, batch) == 0 {
            // Dry: wait for one, as the first get of a plain burst does.
            let Some((item, _)) = w.get(true) else {
                continue;
            };
            held.push(item);
        }
        let in_window = w.op_in_window();
        stamps.extend(held.iter_mut().map(|item| w.claim(item)));
        for (item, &s) in held.iter_mut().zip(&stamps) {
            w.unclaim(item, s);
        }
        let n = held.len();
        stamps.clear();
        w.put_many(&mut held, in_window);
        for _ in 0..n {
            w.complete(in_window);
        }
    }
    w.finish()
}
