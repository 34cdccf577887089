//! Feature `bytes`: a frozen buffer's clones dropped on several threads at
//! once; the buffer comes back to its pool exactly once, and only after the
//! last clone.
#![cfg(all(feature = "bytes", not(loom)))]

use bytes::BufMut;
use iobuf_pool::{BufferPool, Tier};
use std::sync::{Arc, Barrier};

#[test]
fn freeze_clones_dropped_on_many_threads_return_the_buffer_once() {
    const THREADS: usize = 8;
    for round in 0..200 {
        let pool = Arc::new(BufferPool::new(Tier::Pico, 2).unwrap());
        let other = pool.get_owned(); // keeps one buffer out: only ours moves
        let mut buf = pool.get_owned();
        let index = buf.index();
        buf.clear();
        buf.put_slice(b"payload");
        let bytes = buf.freeze();
        assert!(pool.try_get().is_none());
        let start = Arc::new(Barrier::new(THREADS));
        let dropped = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let clone = if t % 2 == 0 {
                    bytes.clone()
                } else {
                    bytes.slice(1..4) // slices share the owner too
                };
                let (start, dropped, pool) = (start.clone(), dropped.clone(), pool.clone());
                std::thread::spawn(move || {
                    start.wait();
                    assert!(clone.starts_with(if t % 2 == 0 { b"pay" } else { b"ayl" }));
                    drop(clone);
                    dropped.wait();
                    // Every thread's clone is gone, but `bytes` is not.
                    assert_eq!(pool.stats().in_use, 2, "returned before the last clone");
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!(pool.try_get().is_none(), "round {round}: back too early");
        // The last clone dies on yet another thread.
        std::thread::spawn(move || drop(bytes)).join().unwrap();
        drop(other);
        let all: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
        let mut got: Vec<usize> = all.iter().map(|b| b.index()).collect();
        got.sort_unstable();
        assert_eq!(got, vec![0, 1], "round {round}: lost or returned twice");
        assert!(got.contains(&index));
    }
}

#[test]
fn buf_mut_appends_and_stops_at_capacity() {
    let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
    let mut buf = pool.get_owned();
    assert_eq!(buf.remaining_mut(), 0); // a fresh guard is full
    buf.clear();
    buf.put_u8(1);
    buf.put_slice(&[2; 30]);
    assert_eq!(buf.remaining_mut(), 1);
    buf.put_u8(3);
    assert_eq!(buf.len(), 32);
    assert_eq!((buf[0], buf[1], buf[31]), (1, 2, 3));
    assert_eq!(buf.chunk_mut().len(), 0);
    assert!(buf.extend_from_slice_checked(b"x").is_err());
}
