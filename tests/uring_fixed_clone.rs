//! Registered buffers across rings (`IORING_REGISTER_CLONE_BUFFERS`): a
//! pool registered once, then shared with other threads' rings, where pool
//! index = fixed-buffer index too.
#![cfg(all(feature = "io-uring", target_os = "linux", not(miri)))]

mod uring_common;

use io_uring::{types, IoUring};
use iobuf_pool::uring::{cqe_result, FixedBuffers, UringError};
use iobuf_pool::{BufferPool, Tier};
use std::io::Write;
use std::os::fd::AsRawFd;
use uring_common::{assert_all_free, pattern, ring_or_skip, skip};

/// A READ_FIXED of the first `buf.capacity()` bytes of `file` into `buf`
/// through `fixed` on `ring`; returns the byte count.
fn read_into(
    ring: &mut IoUring,
    fixed: &FixedBuffers<'_>,
    file: &std::fs::File,
    buf: &iobuf_pool::PooledBuf<'_>,
) -> usize {
    let read = fixed
        .read_fixed(types::Fd(file.as_raw_fd()), buf, 0..buf.capacity(), 0)
        .unwrap();
    // SAFETY: `buf` and `file` outlive the completion reaped below.
    unsafe { ring.submission().push(&read).unwrap() };
    ring.submit_and_wait(1).unwrap();
    let c = ring.completion().next().unwrap();
    cqe_result(c.result()).unwrap() as usize
}

#[test]
fn a_registration_cloned_into_other_threads_rings_reads_into_the_same_indices() {
    let Some(first) = ring_or_skip("buffer clone test", 4) else {
        return;
    };
    let pool = BufferPool::new(Tier::Small, 3).unwrap();
    let fixed = FixedBuffers::register(&first, &pool).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    let data = pattern(pool.buffer_size(), 12);
    file.write_all(&data).unwrap();
    // Cloning into a ring that already has buffers is the kernel's EBUSY.
    match fixed.clone_to(&first) {
        Err(UringError::Unsupported { what }) => return skip("buffer clone test", what),
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EBUSY), "{e}"),
        Ok(_) => panic!("a second table on one ring"),
    }
    std::thread::scope(|s| {
        for t in 0..2 {
            let (fixed, pool, file, data) = (&fixed, &pool, &file, &data);
            s.spawn(move || {
                let mut ring = IoUring::new(4).unwrap();
                let shared = fixed.clone_to(&ring).unwrap();
                assert_eq!(shared.len(), pool.capacity());
                let mut buf = pool.get();
                buf.as_full_mut().fill(t);
                let n = read_into(&mut ring, &shared, file, &buf);
                assert_eq!(n, data.len());
                assert_eq!(buf.as_full(), &data[..], "thread {t}");
                shared.unregister().unwrap();
            });
        }
    });
    // The original still works after its clones are gone, and a clone
    // outlives the original.
    let mut second = IoUring::new(4).unwrap();
    let clone = fixed.clone_to(&second).unwrap();
    drop(fixed);
    let buf = pool.get();
    assert_eq!(read_into(&mut second, &clone, &file, &buf), data.len());
    assert_eq!(buf.as_full(), &data[..]);
    drop(buf);
    drop(clone);
    drop(first);
    assert_all_free(&pool);
}
