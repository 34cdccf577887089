//! Feature `compio`: pool buffers in real compio (io_uring driver)
//! operations on this kernel: the short-read file copy that
//! tests/tokio_uring.rs and tests/monoio.rs also run, a reused guard's
//! shorter read, writes of the filled bytes, a leaked pool's guards, and
//! tasks waiting on a dry pool. Every test checks that every buffer came
//! back to its pool.

use compio::fs::File;
use compio::io::{AsyncReadAt, AsyncWriteAtExt};
use compio::BufResult;
use iobuf_pool::{BufferPool, PooledBuf, Tier};
use std::future::Future;
use std::sync::Arc;

mod runtime_common;
use runtime_common::{
    assert_all_back, assert_copied, copy_source, pattern, temp_file_with, COPY_TIER,
};

fn block_on<F: Future>(fut: F) -> F::Output {
    compio::runtime::Runtime::new()
        .expect("a compio runtime")
        .block_on(fut)
}

/// The short-read file copy of tests/runtime_common (the same in
/// tests/tokio_uring.rs and tests/monoio.rs), with guards as they come from
/// the pool and no `clear()`: once a fresh guard per chunk, once one guard
/// reused for every chunk.
#[test]
fn short_read_file_copy_is_byte_identical() {
    let pool = Arc::new(BufferPool::new(COPY_TIER, 1).unwrap());
    let (src, data) = copy_source();
    let (fresh, reused) = (
        tempfile::NamedTempFile::new().unwrap(),
        tempfile::NamedTempFile::new().unwrap(),
    );
    block_on(async {
        let from = File::open(src.path()).await.unwrap();
        let mut to = File::create(fresh.path()).await.unwrap();
        let mut pos = 0;
        loop {
            let BufResult(res, buf) = from.read_at(pool.get_owned(), pos).await;
            let n = res.unwrap();
            if n == 0 {
                break;
            }
            let BufResult(res, buf) = to.write_all_at(buf, pos).await;
            res.unwrap();
            drop(buf); // the next get_owned gets it back, stale bytes and all
            pos += n as u64;
        }
        to.sync_all().await.unwrap();
        to.close().await.unwrap();

        let mut to = File::create(reused.path()).await.unwrap();
        let (mut buf, mut pos) = (pool.get_owned(), 0);
        loop {
            let BufResult(res, read) = from.read_at(buf, pos).await;
            let n = res.unwrap();
            if n == 0 {
                assert!(read.is_empty()); // end of file: nothing filled
                buf = read;
                break;
            }
            let BufResult(res, written) = to.write_all_at(read, pos).await;
            res.unwrap();
            buf = written;
            pos += n as u64;
        }
        drop(buf);
        to.sync_all().await.unwrap();
        to.close().await.unwrap();
        from.close().await.unwrap();
    });
    assert_copied(fresh.path(), &data);
    assert_copied(reused.path(), &data);
    assert_all_back(&pool);
}

#[test]
fn read_at_sets_the_filled_length_to_the_bytes_read() {
    let pool = Arc::new(BufferPool::new(Tier::Small, 1).unwrap());
    let data = pattern(1234, 1);
    let file = temp_file_with(&data);
    block_on(async {
        let f = File::open(file.path()).await.unwrap();
        let buf = pool.get_owned();
        assert_eq!((buf.len(), buf.capacity()), (0, 2048)); // fresh: empty
        let BufResult(res, buf) = f.read_at(buf, 0).await;
        assert_eq!(res.unwrap(), 1234);
        assert_eq!(&buf[..], &data[..]);
        let BufResult(res, buf) = f.read_at(buf, 1200).await;
        assert_eq!(res.unwrap(), 34);
        assert_eq!(&buf[..], &data[1200..]);
        drop(buf);
        f.close().await.unwrap();
    });
    assert_all_back(&pool);
}

#[test]
fn write_sends_only_the_filled_bytes_and_a_leaked_pools_guards_work() {
    let pool: &'static BufferPool = BufferPool::new(Tier::Medium, 1).unwrap().leak();
    let out = tempfile::NamedTempFile::new().unwrap();
    let data = pattern(3000, 2);
    block_on(async {
        let mut f = File::create(out.path()).await.unwrap();
        let mut buf: PooledBuf<'static> = pool.get();
        buf.extend_from_slice_checked(&data).unwrap();
        let BufResult(res, buf) = f.write_all_at(buf, 0).await;
        res.unwrap();
        assert_eq!((buf.len(), buf.capacity()), (3000, 8192));
        drop(buf);
        f.sync_all().await.unwrap();
        f.close().await.unwrap();
    });
    assert_eq!(std::fs::read(out.path()).unwrap(), data);
    assert_all_back(pool);
}

#[test]
fn tasks_wait_for_a_dry_pool() {
    let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
    let file = temp_file_with(b"one at a time");
    let path = file.path().to_owned();
    let done = block_on(async {
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (pool, path) = (Arc::clone(&pool), path.clone());
                compio::runtime::spawn(async move {
                    let f = File::open(&path).await.unwrap();
                    let buf = pool.acquire_owned().await;
                    let BufResult(res, buf) = f.read_at(buf, 0).await;
                    assert_eq!(res.unwrap(), 13);
                    assert_eq!(&buf[..], b"one at a time");
                    drop(buf);
                    f.close().await.unwrap();
                })
            })
            .collect();
        let mut done = 0;
        for t in tasks {
            t.await.unwrap();
            done += 1;
        }
        done
    });
    assert_eq!(done, 6);
    assert_eq!(pool.stats().waiters, 0);
    assert_all_back(&pool);
}
