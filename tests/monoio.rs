//! Feature `monoio`: pool buffers in real monoio (io_uring driver)
//! operations on this kernel: reads and writes of temp files, a leaked
//! pool's guards, buffers crossing between two runtimes on two threads,
//! and tasks waiting on a dry pool. Every test checks that every buffer
//! came back to its pool.

use iobuf_pool::{BufferPool, OwnedBuf, PooledBuf, Tier};
use monoio::fs::File;
use monoio::{IoUringDriver, RuntimeBuilder};
use std::future::Future;
use std::sync::Arc;

fn block_on<F: Future>(fut: F) -> F::Output {
    RuntimeBuilder::<IoUringDriver>::new()
        .build()
        .expect("an io_uring runtime")
        .block_on(fut)
}

mod runtime_common;
use runtime_common::{
    assert_all_back, assert_copied, copy_source, pattern, temp_file_with, COPY_TIER,
};

#[test]
fn read_at_sets_the_filled_length_to_the_bytes_read() {
    let pool = Arc::new(BufferPool::new(Tier::Small, 1).unwrap());
    let data = pattern(1234, 1);
    let file = temp_file_with(&data);
    block_on(async {
        let f = File::open(file.path()).await.unwrap();
        let buf = pool.get_owned();
        assert_eq!((buf.len(), buf.capacity()), (0, 2048)); // fresh: empty
        let (res, buf) = f.read_at(buf, 0).await;
        assert_eq!(res.unwrap(), 1234);
        assert_eq!((buf.len(), buf.capacity()), (1234, 2048));
        assert_eq!(&buf[..], &data[..]);
        let (res, buf) = f.read_at(buf, 1200).await;
        assert_eq!(res.unwrap(), 34);
        assert_eq!(&buf[..], &data[1200..]);
        drop(buf);
        f.close().await.unwrap();
    });
    assert_all_back(&pool);
}

/// The short-read file copy of tests/runtime_common (the same in
/// tests/tokio_uring.rs and tests/compio.rs), with guards as they come from
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
        let to = File::create(fresh.path()).await.unwrap();
        let mut pos = 0;
        loop {
            let (res, buf) = from.read_at(pool.get_owned(), pos).await;
            let n = res.unwrap();
            if n == 0 {
                break;
            }
            let (res, buf) = to.write_all_at(buf, pos).await;
            res.unwrap();
            drop(buf); // the next get_owned gets it back, stale bytes and all
            pos += n as u64;
        }
        to.sync_all().await.unwrap();
        to.close().await.unwrap();

        let to = File::create(reused.path()).await.unwrap();
        let (mut buf, mut pos) = (pool.get_owned(), 0);
        loop {
            let (res, read) = from.read_at(buf, pos).await;
            let n = res.unwrap();
            if n == 0 {
                assert!(read.is_empty()); // end of file: nothing filled
                buf = read;
                break;
            }
            let (res, written) = to.write_all_at(read, pos).await;
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
fn write_sends_only_the_filled_bytes() {
    let pool = Arc::new(BufferPool::new(Tier::Medium, 1).unwrap());
    let out = tempfile::NamedTempFile::new().unwrap();
    let data = pattern(3000, 2);
    block_on(async {
        let f = File::create(out.path()).await.unwrap();
        let mut buf = pool.get_owned();
        buf.extend_from_slice_checked(&data).unwrap();
        let (res, buf) = f.write_all_at(buf, 0).await;
        res.unwrap();
        assert_eq!(buf.len(), 3000);
        drop(buf);
        f.sync_all().await.unwrap();
        f.close().await.unwrap();
    });
    assert_eq!(std::fs::read(out.path()).unwrap(), data);
    assert_all_back(&pool);
}

#[test]
fn a_leaked_pools_guards_work_too() {
    let pool: &'static BufferPool = BufferPool::new(Tier::Micro, 1).unwrap().leak();
    let data = pattern(400, 3);
    let file = temp_file_with(&data);
    block_on(async {
        let f = File::open(file.path()).await.unwrap();
        let buf: PooledBuf<'static> = pool.get();
        let (res, buf) = f.read_at(buf, 0).await;
        assert_eq!(res.unwrap(), 400);
        assert_eq!(&buf[..], &data[..]);
        drop(buf);
        f.close().await.unwrap();
    });
    assert_all_back(pool);
}

#[test]
fn buffers_cross_from_one_runtime_thread_to_another() {
    const CHUNK: usize = 512;
    let pool = Arc::new(BufferPool::new(Tier::Micro, 2).unwrap()); // 512 B
    let data = pattern(CHUNK * 20 + 77, 4);
    let src = temp_file_with(&data);
    let dst = tempfile::NamedTempFile::new().unwrap();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(u64, OwnedBuf)>(1);
    let reader = {
        let pool = Arc::clone(&pool);
        let path = src.path().to_owned();
        std::thread::spawn(move || {
            block_on(async move {
                let f = File::open(&path).await.unwrap();
                let mut pos = 0u64;
                loop {
                    let buf = pool.acquire_owned().await; // dry: waits for thread B
                    let (res, buf) = f.read_at(buf, pos).await;
                    let n = res.unwrap();
                    if n == 0 {
                        break;
                    }
                    tx.send((pos, buf)).unwrap();
                    pos += n as u64;
                }
                f.close().await.unwrap();
                pos
            })
        })
    };
    let writer = {
        let path = dst.path().to_owned();
        std::thread::spawn(move || {
            block_on(async move {
                let f = File::create(&path).await.unwrap();
                while let Ok((pos, buf)) = rx.recv() {
                    let (res, buf) = f.write_all_at(buf, pos).await;
                    res.unwrap();
                    drop(buf); // returned from this thread
                }
                f.sync_all().await.unwrap();
                f.close().await.unwrap();
            })
        })
    };
    assert_eq!(reader.join().unwrap() as usize, data.len());
    writer.join().unwrap();
    assert_eq!(std::fs::read(dst.path()).unwrap(), data);
    assert_eq!(pool.stats().high_water, 2);
    assert_all_back(&pool);
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
                monoio::spawn(async move {
                    let f = File::open(&path).await.unwrap();
                    let buf = pool.acquire_owned().await;
                    let (res, buf) = f.read_at(buf, 0).await;
                    assert_eq!(res.unwrap(), 13);
                    assert_eq!(&buf[..], b"one at a time");
                    drop(buf);
                    f.close().await.unwrap();
                })
            })
            .collect();
        let mut done = 0;
        for t in tasks {
            t.await;
            done += 1;
        }
        done
    });
    assert_eq!(done, 6);
    assert_eq!(pool.stats().waiters, 0);
    assert_all_back(&pool);
}
