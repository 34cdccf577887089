//! Feature `bytes`: a small benchmark of the `bytes` glue against
//! `BytesMut`, one run, printed (a speed check, not a test: the library's
//! speed goals are otherwise checked by iobuf-bench).
//!
//! ```sh
//! cargo run --release --features bytes --example bytes_glue
//! ```
//!
//! * `put_u8` x 1000 into an `OwnedBuf` (and a `PooledBuf<'static>`) vs
//!   into a `BytesMut` with room for them;
//! * a frame: `get_owned` + `put_slice` + `freeze` + drop, vs
//!   `BytesMut::with_capacity` + `put_slice` + `freeze` + drop (and a
//!   `static` pool's `get` + `put_slice` + `freeze`, and `Vec` -> `Bytes`).
//!
//! Each case runs `ROUNDS` rounds, alternating with the others, and
//! reports its best round (the least disturbed by other work on the
//! machine) in nanoseconds per operation.

use bytes::{BufMut, Bytes, BytesMut};
use iobuf_pool::{BufferPool, Tier};
use std::hint::black_box;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

const ROUNDS: usize = 15;
const PUTS: usize = 1000;
const PUT_ITERS: usize = 2_000;
const FRAME: usize = 512;
const FRAME_ITERS: usize = 200_000;

static STATIC_POOL: LazyLock<BufferPool> =
    LazyLock::new(|| BufferPool::new(Tier::Small, 64).expect("the pool's memory"));

/// Nanoseconds per call of `f`, run `iters` times.
fn time(iters: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn main() {
    let pool = Arc::new(BufferPool::new(Tier::Small, 64).expect("the pool's memory"));
    let frame = vec![0x5Au8; FRAME];
    type Case<'a> = (&'static str, usize, Box<dyn FnMut() + 'a>);
    let mut cases: Vec<Case> = vec![
        (
            "put_u8 x1000: BytesMut",
            PUT_ITERS,
            Box::new(|| {
                let mut b = BytesMut::with_capacity(2048);
                for i in 0..PUTS {
                    b.put_u8(black_box(i as u8));
                }
                black_box(&b);
            }),
        ),
        (
            "put_u8 x1000: OwnedBuf",
            PUT_ITERS,
            Box::new(|| {
                let mut b = pool.get_owned();
                for i in 0..PUTS {
                    b.put_u8(black_box(i as u8));
                }
                black_box(&b);
            }),
        ),
        (
            "put_u8 x1000: PooledBuf<'static>",
            PUT_ITERS,
            Box::new(|| {
                let mut b = STATIC_POOL.get();
                for i in 0..PUTS {
                    b.put_u8(black_box(i as u8));
                }
                black_box(&b);
            }),
        ),
        (
            "frame: BytesMut + put_slice + freeze",
            FRAME_ITERS,
            Box::new(|| {
                let mut b = BytesMut::with_capacity(2048);
                b.put_slice(black_box(&frame));
                black_box(b.freeze());
            }),
        ),
        (
            "frame: get_owned + put_slice + freeze",
            FRAME_ITERS,
            Box::new(|| {
                let mut b = pool.get_owned();
                b.put_slice(black_box(&frame));
                black_box(b.freeze());
            }),
        ),
        (
            "frame: static get + put_slice + freeze",
            FRAME_ITERS,
            Box::new(|| {
                let mut b = STATIC_POOL.get();
                b.put_slice(black_box(&frame));
                black_box(b.freeze());
            }),
        ),
        (
            "frame: Vec + extend + Bytes::from",
            FRAME_ITERS,
            Box::new(|| {
                let mut v = Vec::with_capacity(2048);
                v.extend_from_slice(black_box(&frame));
                black_box(Bytes::from(v));
            }),
        ),
    ];
    let mut best = vec![f64::INFINITY; cases.len()];
    for _ in 0..ROUNDS {
        for (i, (_, iters, f)) in cases.iter_mut().enumerate() {
            best[i] = best[i].min(time(*iters, f));
        }
    }
    println!("best of {ROUNDS} rounds, ns per operation (one put_u8 x1000 loop, or one frame of {FRAME} B):");
    for ((name, _, _), ns) in cases.iter().zip(&best) {
        println!("  {name:<42} {ns:>9.1}");
    }
    println!(
        "ratios: put_u8 OwnedBuf/BytesMut {:.2} (goal <= 1.5), PooledBuf<'static>/BytesMut {:.2}; \
         frame get_owned/BytesMut {:.2} (goal <= 1.2), static/BytesMut {:.2}",
        best[1] / best[0],
        best[2] / best[0],
        best[4] / best[3],
        best[5] / best[3]
    );
    assert_eq!(pool.stats().in_use, 0, "every buffer came back");
}
