//! `pairs` and `hold`: one buffer at a time, taken, touched (for `hold`,
//! for a while, as I/O would) and returned; the picked holdings are also
//! stamped and checked, the picked operations timed.

use super::phase::Shared;
use super::worker::{touch, Worker};
use crate::measure::Recorder;
use crate::pools::{BenchItem, BenchPool, PoolHandle};
use crate::scenario::HoldParams;
use std::time::Instant;

/// Operations counted together in `pairs` (one look at the phase each).
/// Short enough that the block a window edge cuts (and so does not count)
/// is a few microseconds of work.
const PAIRS_BLOCK: u32 = 256;

pub fn pairs_worker<P: BenchPool>(pool: &P, id: usize, sh: &Shared<'_>) -> Recorder {
    take_and_return(pool, id, sh, PAIRS_BLOCK, touch)
}

pub fn hold_worker<P: BenchPool>(
    pool: &P,
    id: usize,
    sh: &Shared<'_>,
    params: &HoldParams,
) -> Recorder {
    // Blocks of one: an operation here takes microseconds.
    take_and_return(pool, id, sh, 1, |bytes| touch_for(bytes, params))
}

/// One buffer at a time: take it, `while_held` on its bytes, return it;
/// the picked operations are also timed, or claimed and stamped before
/// `while_held` and checked after. Operations are counted `block` at a
/// time; a get that finds the pool dry ends its block, so that a waiting
/// thread's operations still count one by one.
fn take_and_return<P: BenchPool>(
    pool: &P,
    id: usize,
    sh: &Shared<'_>,
    block: u32,
    mut while_held: impl FnMut(&mut [u8]),
) -> Recorder {
    let mut w = Worker::new(pool.handle(), id, sh);
    // Paced: every operation waits for its start, one block each.
    let block = if w.pacer.is_some() { 1 } else { block };
    w.start();
    'run: while w.running() {
        let in_window = w.begin_block();
        let mut done = 0;
        while done < block {
            // The plain operations up to the next picked one: the pool's
            // own calls and the touch, nothing else.
            let plain = w.plain_run().min(block - done);
            let mut k = 0;
            while k < plain {
                let Some(mut item) = w.h.try_get() else { break };
                while_held(item.bytes());
                w.put_plain(item);
                k += 1;
            }
            w.skip_plain(k);
            done += k;
            if done == block {
                break;
            }
            // The picked operation, or a plain one whose get found the
            // pool dry: through the instrumented calls (which wait).
            let dry = k < plain;
            let Some((mut item, t0)) = w.get(true) else {
                break 'run;
            };
            let s = w.claim(&mut item);
            while_held(item.bytes());
            w.unclaim(&mut item, s);
            w.put(item, t0.is_some());
            done += 1;
            if dry {
                break;
            }
        }
        w.complete_block(in_window, u64::from(done));
    }
    w.finish()
}

/// Writes one byte in `touch_stride` between the two stamps, pass after
/// pass, until `hold` has passed (at least one pass).
fn touch_for(bytes: &mut [u8], params: &HoldParams) {
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
