//! Feature `bytes`: a frozen buffer's clones dropped on several threads at
//! once (the buffer comes back to its pool exactly once, and only after the
//! last clone), and one test per impl of the glue: `BufMut` and `Buf` for
//! both guards, `From<_> for Bytes`, `From<Error> for io::Error`, and
//! tokio's `read_buf` / `write_all_buf` on them.
#![cfg(all(feature = "bytes", not(loom)))]

use bytes::{Buf, BufMut, Bytes};
use iobuf_pool::{BufferPool, OwnedBuf, PooledBuf, Tier};
use std::sync::{Arc, Barrier};

#[test]
fn freeze_clones_dropped_on_many_threads_return_the_buffer_once() {
    const THREADS: usize = 8;
    for round in 0..200 {
        let pool = Arc::new(BufferPool::new(Tier::Pico, 2).unwrap());
        let other = pool.get_owned(); // keeps one buffer out: only ours moves
        let mut buf = pool.get_owned();
        let index = buf.index();
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

/// The `BufMut` checks, the same for both guard types.
fn buf_mut_appends_and_stops_at_capacity<B: BufMut + std::ops::Deref<Target = [u8]>>(mut buf: B) {
    assert_eq!(buf.remaining_mut(), 32); // a fresh guard is empty
    buf.put_u8(1);
    buf.put_slice(&[2; 28]);
    buf.put_bytes(3, 2);
    assert_eq!(buf.remaining_mut(), 1);
    buf.put_u8(4);
    assert_eq!(buf.len(), 32);
    assert_eq!(
        (buf[0], buf[1], buf[28], buf[29], buf[30], buf[31]),
        (1, 2, 2, 3, 3, 4)
    );
    assert_eq!(buf.chunk_mut().len(), 0);
    // Full: every put panics (BufMut's contract), and leaves the bytes.
    for put in [
        (|b: &mut B| b.put_u8(9)) as fn(&mut B),
        |b| b.put_slice(b"x"),
        |b| b.put_bytes(9, 1),
        |b| b.put_u16(9),
    ] {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| put(&mut buf)));
        assert!(caught.is_err());
        assert_eq!((buf.len(), buf[31]), (32, 4));
    }
}

#[test]
fn buf_mut_for_owned_buf() {
    let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
    buf_mut_appends_and_stops_at_capacity(pool.get_owned());
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn buf_mut_for_pooled_buf_of_a_static_pool_and_of_a_local_one() {
    static POOL: std::sync::LazyLock<BufferPool> =
        std::sync::LazyLock::new(|| BufferPool::new(Tier::Pico, 1).unwrap());
    let buf: PooledBuf<'static> = POOL.get();
    buf_mut_appends_and_stops_at_capacity(buf);
    let local = BufferPool::new(Tier::Pico, 1).unwrap();
    buf_mut_appends_and_stops_at_capacity(local.get());
    assert_eq!((POOL.stats().in_use, local.stats().in_use), (0, 0));
}

/// The `Buf` checks, the same for both guard types.
fn buf_reads_from_the_front<B: Buf + BufMut + std::ops::Deref<Target = [u8]>>(mut buf: B) {
    assert!(!buf.has_remaining()); // fresh: nothing to read
    buf.put_u32(0xDEAD_BEEF);
    buf.put_slice(b"hello, world");
    assert_eq!(buf.remaining(), 16);
    assert_eq!(buf.get_u32(), 0xDEAD_BEEF);
    assert_eq!(buf.chunk(), b"hello, world");
    buf.advance(7); // partial: the rest moves to the front
    assert_eq!(&buf[..], b"world");
    assert_eq!(buf.remaining_mut(), 32 - 5); // and the room after it grew
    let mut out = [0; 5];
    buf.copy_to_slice(&mut out);
    assert_eq!(&out, b"world");
    assert!(buf.is_empty());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| buf.advance(1)));
    assert!(caught.is_err(), "advance past the filled bytes panics");
}

#[test]
fn buf_for_owned_buf() {
    let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
    buf_reads_from_the_front(pool.get_owned());
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn buf_for_pooled_buf() {
    let pool = BufferPool::new(Tier::Pico, 1).unwrap();
    buf_reads_from_the_front(pool.get());
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn from_owned_buf_for_bytes_shares_the_buffer() {
    let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
    let mut buf: OwnedBuf = pool.get_owned();
    buf.put_slice(b"response body");
    let ptr = buf.as_ptr();
    let body = Bytes::from(buf);
    assert_eq!(&body[..], b"response body");
    assert_eq!(body.as_ptr(), ptr, "no copy");
    assert_eq!(pool.stats().in_use, 1);
    drop(body);
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn from_static_pooled_buf_for_bytes_shares_the_buffer() {
    let pool: &'static BufferPool = BufferPool::new(Tier::Pico, 1).unwrap().leak();
    let mut buf: PooledBuf<'static> = pool.get();
    buf.put_slice(b"static");
    let ptr = buf.as_ptr();
    let body: Bytes = buf.into();
    assert_eq!((&body[..], body.as_ptr()), (&b"static"[..], ptr));
    let tail = body.slice(3..);
    drop(body);
    assert_eq!(pool.stats().in_use, 1); // the slice still holds it
    drop(tail);
    assert_eq!(pool.stats().in_use, 0);
}

#[test]
fn error_converts_into_io_error_for_question_mark() {
    fn fill(buf: &mut OwnedBuf, n: usize) -> std::io::Result<usize> {
        buf.set_len(n)?;
        Ok(buf.len())
    }
    let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
    let mut buf = pool.get_owned();
    assert_eq!(fill(&mut buf, 32).unwrap(), 32);
    let err = fill(&mut buf, 33).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("33"), "{err}");
    assert_eq!(buf.len(), 32); // unchanged
}

#[test]
fn tokio_read_buf_and_write_all_buf_on_guards() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    static POOL: std::sync::LazyLock<BufferPool> =
        std::sync::LazyLock::new(|| BufferPool::new(Tier::Small, 2).unwrap());
    let owned = Arc::new(BufferPool::new(Tier::Small, 1).unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        // read_buf into a fresh guard of a static pool: the bytes read, no
        // fake end of file.
        let mut src: &[u8] = b"request line\r\n";
        let mut buf: PooledBuf<'static> = POOL.get();
        let n = src.read_buf(&mut buf).await.unwrap();
        assert_eq!(n, 14);
        assert_eq!(&buf[..], b"request line\r\n");
        // read_buf appends, as into a BytesMut.
        let mut more: &[u8] = b"more";
        more.read_buf(&mut buf).await.unwrap();
        assert_eq!(&buf[..], b"request line\r\nmore");

        // write_all_buf from an owned guard consumes it.
        let mut out: Vec<u8> = Vec::new();
        let mut reply = owned.get_owned();
        reply.put_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
        out.write_all_buf(&mut reply).await.unwrap();
        assert!(reply.is_empty());
        assert_eq!(&out[..], b"HTTP/1.1 204 No Content\r\n\r\n");
    });
    assert_eq!((POOL.stats().in_use, owned.stats().in_use), (0, 0));
}
