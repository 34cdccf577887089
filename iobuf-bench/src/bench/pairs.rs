//! `pairs` and `hold`: one buffer at a time, taken, stamped, held (for
//! `hold`, touched for a while as I/O would), checked and returned.

use super::phase::Shared;
use super::worker::Worker;
use crate::measure::Recorder;
use crate::pools::{BenchItem, BenchPool};
use crate::scenario::HoldParams;
use std::time::Instant;

pub fn pairs_worker<P: BenchPool>(pool: &P, id: usize, sh: &Shared<'_>) -> Recorder {
    take_and_return(pool, id, sh, |_| {})
}

pub fn hold_worker<P: BenchPool>(
    pool: &P,
    id: usize,
    sh: &Shared<'_>,
    params: &HoldParams,
) -> Recorder {
    take_and_return(pool, id, sh, |bytes| touch(bytes, params))
}

/// One buffer at a time: take it, stamp it, `while_held` on its bytes,
/// check the stamp, return it.
fn take_and_return<P: BenchPool>(
    pool: &P,
    id: usize,
    sh: &Shared<'_>,
    mut while_held: impl FnMut(&mut [u8]),
) -> Recorder {
    let mut w = Worker::new(pool.handle(), id, sh);
    w.start();
    while w.running() {
        let Some((mut item, t0)) = w.get(true) else {
            break;
        };
        let s = w.claim(&mut item);
        while_held(item.bytes());
        w.unclaim(&mut item, s);
        w.put(item, t0.is_some());
        w.complete_op();
    }
    w.finish()
}

/// Writes one byte in `touch_stride` between the two stamps, pass after
/// pass, until `hold` has passed (at least one pass).
fn touch(bytes: &mut [u8], params: &HoldParams) {
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
