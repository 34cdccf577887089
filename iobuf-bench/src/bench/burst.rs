//! `burst`: take up to a batch of buffers, then return them all.

use super::phase::Shared;
use super::worker::Worker;
use crate::measure::Recorder;
use crate::pools::BenchPool;

/// Takes up to `batch` buffers, then returns them all. The first get of a
/// batch waits (the blocking path, when other threads hold everything);
/// the rest only try, and a miss ends the batch early. A thread therefore
/// never waits while holding buffers, so over-committed threads cannot
/// wait for each other for ever.
pub fn burst_worker<P: BenchPool>(pool: &P, id: usize, sh: &Shared<'_>, batch: usize) -> Recorder {
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
