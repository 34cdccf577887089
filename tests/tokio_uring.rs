//! Feature `tokio-uring`: pool buffers in real tokio-uring operations on
//! this kernel: reads and writes of temp files, slices, buffers crossing
//! between two runtimes on two threads, a dry pool waited on with
//! `acquire_owned`, registered (fixed) buffers built from pool buffers, and
//! a short run of examples/echo_server.rs. Every test checks that every
//! buffer came back to its pool.

use iobuf_pool::{BufferPool, OwnedBuf, PooledBuf, Tier};
use std::sync::Arc;
use tokio_uring::buf::fixed::{FixedBufPool, FixedBufRegistry};
use tokio_uring::buf::{BoundedBuf, IoBuf};
use tokio_uring::fs::File;

#[path = "../examples/echo_server.rs"]
#[allow(dead_code)]
mod echo_server;

mod runtime_common;
use runtime_common::{
    assert_all_back, assert_copied, copy_source, pattern, temp_file_with, COPY_TIER,
};

#[test]
fn read_at_into_an_owned_buf() {
    let pool = Arc::new(BufferPool::new(Tier::Small, 2).unwrap()); // 2 KiB
    let data = pattern(1500, 7);
    let file = temp_file_with(&data);
    tokio_uring::start(async {
        let f = File::open(file.path()).await.unwrap();
        let buf = pool.get_owned(); // empty, as it comes from the pool
        let index = buf.index();
        let (res, buf) = f.read_at(buf, 0).await;
        assert_eq!(res.unwrap(), 1500);
        // The same guard came back, filled to the bytes read.
        assert_eq!(buf.index(), index);
        assert_eq!((buf.len(), buf.capacity()), (1500, 2048));
        assert_eq!(&buf[..], &data[..]);
        assert_eq!(pool.stats().in_use, 1);
        drop(buf);
        assert_eq!(pool.stats().in_use, 0);

        // A read at an offset past part of the file: short, and the filled
        // length says so.
        let (res, buf) = f.read_at(pool.get_owned(), 1000).await;
        assert_eq!(res.unwrap(), 500);
        assert_eq!(&buf[..], &data[1000..]);
        f.close().await.unwrap();
    });
    assert_all_back(&pool);
}

/// The short-read file copy of tests/runtime_common (the same in
/// tests/monoio.rs and tests/compio.rs), with guards as they come from the
/// pool and no `clear()`: once a fresh guard per chunk, once one guard
/// reused for every chunk.
#[test]
fn short_read_file_copy_is_byte_identical() {
    let pool = Arc::new(BufferPool::new(COPY_TIER, 1).unwrap());
    let (src, data) = copy_source();
    let (fresh, reused) = (
        tempfile::NamedTempFile::new().unwrap(),
        tempfile::NamedTempFile::new().unwrap(),
    );
    tokio_uring::start(async {
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
fn a_reused_guard_holds_only_the_bytes_of_its_last_read() {
    // The one read contract: a read sets the filled length (tokio-uring's
    // Vec only raises it, and would keep the first read's tail).
    let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
    let file = temp_file_with(b"abcdefghij");
    tokio_uring::start(async {
        let f = File::open(file.path()).await.unwrap();
        let (res, buf) = f.read_at(pool.get_owned(), 0).await;
        assert_eq!(res.unwrap(), 10);
        assert_eq!(&buf[..], b"abcdefghij");
        let (res, buf) = f.read_at(buf, 7).await;
        assert_eq!(res.unwrap(), 3);
        assert_eq!(&buf[..], b"hij");
        let (res, buf) = f.read_at(buf, 10).await; // end of file
        assert_eq!(res.unwrap(), 0);
        assert!(buf.is_empty());
        f.close().await.unwrap();
    });
    assert_all_back(&pool);
}

#[test]
fn read_into_a_slice_sets_the_filled_length_past_the_prefix() {
    let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
    let file = temp_file_with(b"payload");
    tokio_uring::start(async {
        let f = File::open(file.path()).await.unwrap();
        let mut buf = pool.get_owned();
        buf.extend_from_slice_checked(b"hdr:").unwrap();
        // Read after the 4 filled bytes, into the spare capacity.
        let (res, slice) = f.read_at(buf.slice(4..), 0).await;
        assert_eq!(res.unwrap(), 7);
        let buf: OwnedBuf = slice.into_inner();
        assert_eq!(&buf[..], b"hdr:payload");
        f.close().await.unwrap();
    });
    assert_all_back(&pool);
}

#[test]
fn write_sends_only_the_filled_bytes() {
    let pool = Arc::new(BufferPool::new(Tier::Medium, 1).unwrap()); // 8 KiB
    let file = tempfile::NamedTempFile::new().unwrap();
    let data = pattern(5000, 3);
    tokio_uring::start(async {
        let f = File::create(file.path()).await.unwrap();
        let mut buf = pool.get_owned();
        buf.extend_from_slice_checked(&data).unwrap();
        assert_eq!(
            (IoBuf::bytes_init(&buf), IoBuf::bytes_total(&buf)),
            (5000, 8192)
        );
        let (res, buf) = f.write_all_at(buf, 0).await;
        res.unwrap();
        assert_eq!(buf.len(), 5000); // a write leaves the filled length alone
        drop(buf);
        f.sync_all().await.unwrap();
        f.close().await.unwrap();
    });
    assert_eq!(std::fs::read(file.path()).unwrap(), data);
    assert_all_back(&pool);
}

#[test]
fn a_leaked_pools_guards_work_too() {
    let pool: &'static BufferPool = BufferPool::new(Tier::Small, 1).unwrap().leak();
    let data = pattern(700, 11);
    let file = temp_file_with(&data);
    let out = tempfile::NamedTempFile::new().unwrap();
    tokio_uring::start(async {
        let f = File::open(file.path()).await.unwrap();
        let buf: PooledBuf<'static> = pool.get();
        let (res, buf) = f.read_at(buf, 0).await;
        assert_eq!(res.unwrap(), 700);
        assert_eq!(&buf[..], &data[..]);
        let g = File::create(out.path()).await.unwrap();
        let (res, buf) = g.write_all_at(buf, 0).await;
        res.unwrap();
        drop(buf);
        g.sync_all().await.unwrap();
        g.close().await.unwrap();
        f.close().await.unwrap();
    });
    assert_eq!(std::fs::read(out.path()).unwrap(), data);
    assert_all_back(pool);
}

#[test]
fn buffers_cross_from_one_runtime_thread_to_another() {
    // Thread A reads chunks of a file into pool buffers on its runtime and
    // sends the guards to thread B, whose runtime writes them to another
    // file and drops them there: they return to the pool from thread B.
    const CHUNK: usize = 2048;
    const CHUNKS: usize = 24;
    let pool = Arc::new(BufferPool::new(Tier::Small, 3).unwrap());
    let data = pattern(CHUNK * CHUNKS - 100, 5);
    let src = temp_file_with(&data);
    let dst = tempfile::NamedTempFile::new().unwrap();
    let (tx, rx) = std::sync::mpsc::sync_channel::<(u64, OwnedBuf)>(2);

    let reader = {
        let pool = Arc::clone(&pool);
        let path = src.path().to_owned();
        std::thread::spawn(move || {
            tokio_uring::start(async move {
                let f = File::open(&path).await.unwrap();
                let mut pos = 0u64;
                loop {
                    // Three buffers, two in the channel, one at the writer:
                    // the pool runs dry and the read waits for a return.
                    let buf = pool.acquire_owned().await;
                    let (res, buf) = f.read_at(buf, pos).await;
                    let n = res.unwrap();
                    if n == 0 {
                        break;
                    }
                    assert_eq!(buf.len(), n);
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
            tokio_uring::start(async move {
                let f = File::create(&path).await.unwrap();
                let mut chunks = 0;
                // A blocking recv on this runtime's thread: it has nothing
                // else to run meanwhile.
                while let Ok((pos, buf)) = rx.recv() {
                    let (res, buf) = f.write_all_at(buf, pos).await;
                    res.unwrap();
                    drop(buf); // returned from this thread
                    chunks += 1;
                }
                f.sync_all().await.unwrap();
                f.close().await.unwrap();
                chunks
            })
        })
    };
    let read = reader.join().unwrap();
    let chunks = writer.join().unwrap();
    assert_eq!(read as usize, data.len());
    assert_eq!(chunks, CHUNKS);
    assert_eq!(std::fs::read(dst.path()).unwrap(), data);
    assert_eq!(pool.stats().high_water, 3);
    assert_all_back(&pool);
}

#[test]
fn tasks_on_one_runtime_wait_for_a_dry_pool() {
    // One buffer, eight tasks that each read the file into it: they take
    // turns through acquire_owned().await, none is lost.
    let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
    let file = temp_file_with(b"turn by turn");
    let path = file.path().to_owned();
    let done = tokio_uring::start(async {
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let pool = Arc::clone(&pool);
            let path = path.clone();
            tasks.push(tokio_uring::spawn(async move {
                let f = File::open(&path).await.unwrap();
                let buf = pool.acquire_owned().await;
                let (res, buf) = f.read_at(buf, 0).await;
                assert_eq!(res.unwrap(), 12);
                assert_eq!(&buf[..], b"turn by turn");
                drop(buf);
                f.close().await.unwrap();
            }));
        }
        let mut done = 0;
        for t in tasks {
            t.await.unwrap();
            done += 1;
        }
        done
    });
    assert_eq!(done, 8);
    assert_eq!(pool.stats().waiters, 0);
    assert_all_back(&pool);
}

#[test]
fn fixed_buffer_registry_from_pool_buffers() {
    let pool = Arc::new(BufferPool::new(Tier::Small, 4).unwrap());
    let data = pattern(1800, 9);
    let file = temp_file_with(&data);
    let out = tempfile::NamedTempFile::new().unwrap();
    tokio_uring::start(async {
        let mut guards: Vec<OwnedBuf> = std::iter::from_fn(|| pool.try_get_owned()).collect();
        guards.sort_by_key(|b| b.index());
        let registry = FixedBufRegistry::new(guards);
        registry.register().unwrap();
        // The registry holds every guard: the pool is dry meanwhile.
        assert_eq!(pool.stats().in_use, 4);

        let f = File::open(file.path()).await.unwrap();
        let fixed = registry.check_out(2).unwrap();
        assert!(registry.check_out(2).is_none()); // one handle per buffer
        assert_eq!(fixed.buf_index(), 2);
        // Registry index = pool index: the same memory.
        assert_eq!(
            IoBuf::stable_ptr(&fixed),
            pool.buffer_ptr(2).unwrap().as_ptr()
        );
        assert_eq!(IoBuf::bytes_init(&fixed), 0); // the guard's filled length
        let (res, fixed) = f.read_fixed_at(fixed, 0).await;
        assert_eq!(res.unwrap(), 1800);
        assert_eq!(&fixed[..], &data[..]);

        let g = File::create(out.path()).await.unwrap();
        let (res, fixed) = g.write_fixed_all_at(fixed, 0).await;
        res.unwrap();
        drop(fixed);
        g.sync_all().await.unwrap();
        g.close().await.unwrap();
        f.close().await.unwrap();
        drop(registry);
        // Still registered with the runtime, which holds the collection.
        assert_eq!(pool.stats().in_use, 4);
    });
    assert_eq!(std::fs::read(out.path()).unwrap(), data);
    assert_all_back(&pool);
}

#[test]
fn fixed_buffer_pool_from_pool_buffers_and_unregister() {
    let pool = Arc::new(BufferPool::new(Tier::Nano, 2).unwrap()); // 128 B
    let file = temp_file_with(b"0123456789");
    tokio_uring::start(async {
        let guards: Vec<OwnedBuf> = (0..2).map(|_| pool.get_owned()).collect();
        let fixed_pool = FixedBufPool::new(guards);
        fixed_pool.register().unwrap();
        let f = File::open(file.path()).await.unwrap();
        let a = fixed_pool.try_next(128).unwrap();
        let b = fixed_pool.next(128).await;
        assert!(fixed_pool.try_next(128).is_none()); // both out
        let (res, a) = f.read_fixed_at(a, 2).await;
        assert_eq!(&a[..res.unwrap()], b"23456789");
        let (res, b) = f.read_fixed_at(b, 0).await;
        assert_eq!(&b[..res.unwrap()], b"0123456789");
        drop((a, b));
        assert!(fixed_pool.try_next(128).is_some()); // back in the fixed pool
        f.close().await.unwrap();
        // Unregistered: the collection is the last holder of the guards.
        fixed_pool.unregister().unwrap();
        assert_eq!(pool.stats().in_use, 2);
        drop(fixed_pool);
        assert_eq!(pool.stats().in_use, 0);
    });
    assert_all_back(&pool);
}

#[test]
fn echo_server_short_run_returns_every_buffer() {
    // examples/echo_server.rs itself, briefly: 2 server runtimes, 4
    // connections on a pool of 3 buffers (so it runs dry), 0.5 s.
    let config = echo_server::Config {
        threads: 2,
        connections: 4,
        message_size: 1024,
        seconds: 0.5,
        pool_capacity: 3,
        ..echo_server::Config::default()
    };
    let report = echo_server::run(&config).unwrap();
    assert!(report.messages > 0, "{report:?}");
    // Every message took at least one buffer, read on one thread and
    // written back (and returned) on the other.
    assert!(report.buffers_echoed >= report.messages, "{report:?}");
    assert!(report.cross_thread_returns > 0, "{report:?}");
    let s = report.stats_after;
    assert_eq!((s.in_use, s.free, s.waiters), (0, 3, 0), "{s:?}");
    assert_eq!(s.high_water, 3); // 4 connections on 3 buffers: it ran dry
}

#[test]
fn echo_server_with_thread_caches_returns_every_buffer() {
    // The same with a thread-cached pool: reads take from the reading
    // runtime thread's cache, the writer's drop fills the writing thread's
    // cache, and when the server threads exit their caches come back.
    let config = echo_server::Config {
        threads: 2,
        connections: 4,
        message_size: 1024,
        seconds: 0.5,
        pool_capacity: 16,
        thread_cache: 4,
        ..echo_server::Config::default()
    };
    let report = echo_server::run(&config).unwrap();
    assert!(report.messages > 0, "{report:?}");
    assert!(report.cross_thread_returns > 0, "{report:?}");
    let s = report.stats_after;
    assert_eq!((s.in_use, s.free, s.waiters), (0, 16, 0), "{s:?}");
}
