//! Pool buffers against the real kernel's io_uring: fixed buffers
//! (READ_FIXED / WRITE_FIXED, O_DIRECT) and provided-buffer rings.
//!
//! Where io_uring is unavailable (ENOSYS, EPERM), or the filesystem refuses
//! O_DIRECT, a test says so on stderr ("skipped: ... because ...") and
//! returns.
// Real system calls: not for Miri, which cannot run them.
#![cfg(all(feature = "io-uring", target_os = "linux", not(miri)))]

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use iobuf_pool::uring::{cqe_result, is_unavailable, BufRing, FixedBuffers, UringError};
use iobuf_pool::{BufferPool, PooledBuf, Tier};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

/// Prints a skip notice where `cargo test` shows it without `--nocapture`:
/// the test harness captures `eprintln!`, not direct writes to stderr.
fn skip(what: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {what} because {why}");
}

fn ring_or_skip(what: &str, entries: u32) -> Option<IoUring> {
    match IoUring::new(entries) {
        Ok(ring) => Some(ring),
        Err(e) if is_unavailable(&e) => {
            skip(what, &format!("io_uring is unavailable here ({e})"));
            None
        }
        Err(e) => panic!("IoUring::new failed: {e}"),
    }
}

/// Deterministic, position-dependent bytes, so a misplaced chunk shows.
/// A fresh guard (which starts empty) filled to its whole capacity, for
/// fixed reads and writes of whole buffers.
fn full(mut buf: PooledBuf<'_>) -> PooledBuf<'_> {
    buf.set_len(buf.capacity()).unwrap();
    buf
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Pushes `entries`, submits, and returns `(user_data, result, flags)` of
/// `entries.len()` completions.
///
/// # Safety
/// Every buffer and descriptor the entries name stays valid until this
/// returns (it waits for all their completions).
unsafe fn run(ring: &mut IoUring, entries: &[squeue::Entry]) -> Vec<(u64, i32, u32)> {
    for e in entries {
        // SAFETY: forwarded to the caller.
        unsafe { ring.submission().push(e).expect("submission queue full") };
    }
    let mut out = Vec::new();
    while out.len() < entries.len() {
        ring.submit_and_wait(entries.len() - out.len())
            .expect("io_uring_enter");
        out.extend(
            ring.completion()
                .map(|c: cqueue::Entry| (c.user_data(), c.result(), c.flags())),
        );
    }
    out.sort_by_key(|c| c.0);
    out
}

/// [`BufRing::take`] of a completion that `run` (or the loop) just reaped.
fn take(
    br: &mut BufRing,
    result: i32,
    flags: u32,
) -> Result<Option<iobuf_pool::uring::Received>, UringError> {
    // SAFETY: every caller passes the result and flags of one completion
    // reaped from the ring `br` is registered with, of an operation that
    // selected from its group, once each; or values with no buffer id
    // (flags 0), which take() does not trust with any buffer.
    unsafe { br.take(result, flags) }
}

/// Asserts that every buffer of `pool` is free: all can be taken, no more.
fn assert_all_free(pool: &BufferPool) {
    let all: Vec<_> = (0..pool.capacity()).map_while(|_| pool.try_get()).collect();
    assert_eq!(
        all.len(),
        pool.capacity(),
        "a buffer is missing from the pool"
    );
    assert!(pool.try_get().is_none());
}

#[test]
fn read_fixed_puts_the_file_bytes_into_the_pool_buffer_of_that_index() {
    let Some(mut ring) = ring_or_skip("READ_FIXED test", 16) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Medium, 4).unwrap());
    let size = pool.buffer_size();
    let data = pattern(4 * size, 7);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&data).unwrap();
    let fd = types::Fd(file.as_raw_fd());

    let fixed = FixedBuffers::register(&ring, &pool).unwrap();
    assert_eq!(fixed.len(), 4);
    let mut bufs: Vec<_> = (0..4).map(|_| full(pool.try_get().unwrap())).collect();
    // Chunk c goes to the buffer at position c, whatever its pool index:
    // a wrong index → address mapping would put bytes in the wrong buffer.
    let reads: Vec<_> = bufs
        .iter()
        .enumerate()
        .map(|(c, b)| {
            fixed
                .read_fixed(fd, b, 0..size, (c * size) as u64)
                .unwrap()
                .user_data(c as u64)
        })
        .collect();
    // SAFETY: `bufs` and `file` outlive `run`, which reaps every completion.
    let done = unsafe { run(&mut ring, &reads) };
    for (c, result, _) in done {
        assert_eq!(cqe_result(result).unwrap() as usize, size);
        let c = c as usize;
        assert_eq!(
            bufs[c].as_full(),
            &data[c * size..(c + 1) * size],
            "chunk {c}"
        );
    }
    // A read into the middle of a buffer lands there.
    bufs[0].as_full_mut().fill(0);
    let mid = fixed
        .read_fixed(fd, &bufs[0], 100..300, 5)
        .unwrap()
        .user_data(9);
    // SAFETY: as above.
    let done = unsafe { run(&mut ring, &[mid]) };
    assert_eq!(done[0].1, 200);
    assert_eq!(&bufs[0].as_full()[100..300], &data[5..205]);
    assert!(bufs[0].as_full()[..100]
        .iter()
        .chain(&bufs[0].as_full()[300..])
        .all(|&b| b == 0));

    drop(bufs);
    fixed.unregister().unwrap();
    assert_all_free(&pool);
}

#[test]
fn write_fixed_writes_the_pool_buffer_bytes() {
    let Some(mut ring) = ring_or_skip("WRITE_FIXED test", 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Small, 3).unwrap());
    let fixed = FixedBuffers::register(&ring, &pool).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    let data = pattern(2 * pool.buffer_size(), 3);
    let mut a = full(pool.get());
    let mut b = full(pool.get());
    a.copy_from_slice(&data[..2048]);
    b.copy_from_slice(&data[2048..]);
    let fd = types::Fd(file.as_raw_fd());
    let writes = [
        fixed
            .write_fixed(fd, &b, 0..2048, 2048)
            .unwrap()
            .user_data(1),
        fixed.write_fixed(fd, &a, 0..2048, 0).unwrap().user_data(0),
    ];
    // SAFETY: a, b and file outlive `run`.
    for (_, result, _) in unsafe { run(&mut ring, &writes) } {
        assert_eq!(cqe_result(result).unwrap(), 2048);
    }
    let mut back = Vec::new();
    file.rewind().unwrap();
    file.read_to_end(&mut back).unwrap();
    assert_eq!(back, data);
}

#[test]
fn raw_held_indices_go_back_to_the_pool_after_their_completions() {
    let Some(mut ring) = ring_or_skip("raw-index completion test", 16) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Micro, 8).unwrap());
    let fixed = FixedBuffers::register(&ring, &pool).unwrap();
    let data = pattern(8 * 512, 11);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&data).unwrap();
    let fd = types::Fd(file.as_raw_fd());

    // Each submission owns its buffer as a token from take_raw to its
    // completion; the user_data carries the bare index through the kernel.
    let raws: Vec<_> = (0..8).map(|_| pool.take_raw().unwrap()).collect();
    assert!(pool.try_get().is_none());
    let reads: Vec<_> = raws
        .iter()
        .enumerate()
        .map(|(c, raw)| {
            fixed
                .read_fixed(fd, raw, 0..512, (c * 512) as u64)
                .unwrap()
                .user_data(raw.index() as u64)
        })
        .collect();
    let order: Vec<usize> = raws.into_iter().map(|r| r.into_index()).collect();
    // SAFETY: the buffers stay out of the pool (their tokens given up for
    // indices) until `run` has reaped every completion; `file` outlives it.
    let done = unsafe { run(&mut ring, &reads) };
    for (index, result, _) in done {
        let index = index as usize;
        let c = order.iter().position(|&i| i == index).unwrap();
        assert_eq!(cqe_result(result).unwrap(), 512);
        // SAFETY: `index` came from into_index on this pool, and each
        // completion is handled once.
        let raw = unsafe { pool.raw_from_index(index) }.unwrap();
        let buf = pool.guard(raw).unwrap();
        assert_eq!(buf.as_full(), &data[c * 512..(c + 1) * 512]);
        // Completion handled: the buffer goes back, once.
        drop(buf);
    }
    assert_all_free(&pool);
}

/// Candidate directories for an O_DIRECT file: the test's target tmpdir, the
/// current directory, the OS temp dir (often tmpfs, which may refuse it).
fn direct_io_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = option_env!("CARGO_TARGET_TMPDIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Ok(d) = std::env::current_dir() {
        dirs.push(d);
    }
    dirs.push(std::env::temp_dir());
    dirs
}

#[test]
fn o_direct_read_fixed_into_page_aligned_pool_buffers() {
    let Some(mut ring) = ring_or_skip("O_DIRECT READ_FIXED test", 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Big, 4).unwrap());
    let size = pool.buffer_size();
    let fixed = FixedBuffers::register(&ring, &pool).unwrap();
    let data = pattern(3 * size, 5);
    let mut tried = Vec::new();
    for dir in direct_io_dirs() {
        let Ok(mut tmp) = tempfile::NamedTempFile::new_in(&dir) else {
            tried.push(format!("{}: cannot create a file", dir.display()));
            continue;
        };
        tmp.write_all(&data).unwrap();
        tmp.as_file().sync_all().unwrap();
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECT)
            .open(tmp.path())
        {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                tried.push(format!("{}: open(O_DIRECT) gives EINVAL", dir.display()));
                continue;
            }
            Err(e) => panic!("open {}: {e}", tmp.path().display()),
        };
        let fd = types::Fd(file.as_raw_fd());
        let bufs: Vec<_> = (0..3).map(|_| full(pool.get())).collect();
        let reads: Vec<_> = bufs
            .iter()
            .enumerate()
            .map(|(c, b)| {
                fixed
                    .read_fixed(fd, b, 0..size, (c * size) as u64)
                    .unwrap()
                    .user_data(c as u64)
            })
            .collect();
        // SAFETY: bufs and file outlive `run`.
        let done = unsafe { run(&mut ring, &reads) };
        if done.iter().any(|c| c.1 == -libc::EINVAL) {
            tried.push(format!("{}: the O_DIRECT read gives EINVAL", dir.display()));
            continue;
        }
        for (c, result, _) in done {
            assert_eq!(cqe_result(result).unwrap() as usize, size);
            let c = c as usize;
            assert_eq!(bufs[c].as_full(), &data[c * size..(c + 1) * size]);
        }
        // Past the end of the file: a short read, not an error.
        let tail = fixed
            .read_fixed(fd, &bufs[0], 0..size, (3 * size) as u64)
            .unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { run(&mut ring, &[tail]) }[0].1, 0);
        return;
    }
    skip(
        "O_DIRECT READ_FIXED test",
        &format!("no directory here supports O_DIRECT ({})", tried.join("; ")),
    );
}

#[test]
fn kernel_errors_surface_as_errors() {
    let Some(mut ring) = ring_or_skip("kernel error test", 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Small, 2).unwrap());
    let fixed = FixedBuffers::register(&ring, &pool).unwrap();

    // A second buffer table on the same ring: EBUSY from the kernel.
    let other = Arc::new(BufferPool::new(Tier::Small, 2).unwrap());
    let err = FixedBuffers::register(&ring, &other).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBUSY), "{err}");
    assert!(err.to_string().contains("already registered"), "{err}");

    // Bad arguments are caught before the kernel sees them.
    let fd = types::Fd(0);
    let held = pool.get();
    assert!(matches!(
        fixed.read_fixed(fd, &held, 0..4096, 0),
        Err(UringError::BadRange { .. })
    ));
    // A buffer of another pool cannot name a fixed buffer of this one.
    assert!(matches!(
        fixed.read_fixed(fd, &other.get(), 0..16, 0),
        Err(UringError::ForeignBuffer)
    ));
    // SAFETY: the entry is never pushed; the index is out of range anyway.
    assert!(matches!(
        unsafe { fixed.read_fixed_index(fd, 2, 0..16, 0) },
        Err(UringError::Pool(iobuf_pool::Error::IndexOutOfRange { .. }))
    ));
    drop(held);

    // Not a descriptor: the completion carries -EBADF.
    let buf = pool.get();
    let bad_fd = fixed.read_fixed(types::Fd(-1), &buf, 0..16, 0).unwrap();
    // An address outside the fixed buffer it names: the kernel says EFAULT.
    let other_buf = pool.get();
    let mut open = tempfile::tempfile().unwrap();
    open.write_all(&[1; 64]).unwrap();
    let outside = opcode::ReadFixed::new(
        types::Fd(open.as_raw_fd()),
        other_buf.as_ptr() as *mut u8,
        16,
        buf.index() as u16,
    )
    .build()
    .user_data(1);
    // SAFETY: buf, other_buf and `open` outlive `run`; the kernel rejects both.
    let done = unsafe { run(&mut ring, &[bad_fd, outside]) };
    let e = cqe_result(done[0].1).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
    let e = cqe_result(done[1].1).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EFAULT), "{e}");
    let io: std::io::Error = e.into();
    assert_eq!(io.raw_os_error(), Some(libc::EFAULT));
    let io: std::io::Error = FixedBuffers::register(&ring, &other).unwrap_err().into();
    assert_eq!(
        io.kind(),
        std::io::Error::from_raw_os_error(libc::EBUSY).kind()
    );
    assert!(io.to_string().contains("already registered"), "{io}");
}

#[test]
fn too_many_buffers_is_an_error_before_the_kernel() {
    let Some(ring) = ring_or_skip("registration limit test", 4) else {
        return;
    };
    let pool =
        Arc::new(BufferPool::new(Tier::Pico, iobuf_pool::uring::MAX_FIXED_BUFFERS + 1).unwrap());
    let err = FixedBuffers::register(&ring, &pool).unwrap_err();
    assert!(
        matches!(err, UringError::TooManyBuffers { count, max } if count == 16385 && max == 16384),
        "{err}"
    );
    // The ring is untouched: a legal pool still registers.
    let ok = Arc::new(BufferPool::new(Tier::Pico, 16).unwrap());
    drop(FixedBuffers::register(&ring, &ok).unwrap());
}

/// A single-shot recv of up to one buffer, selecting from group `bgid`.
fn recv_select(fd: i32, bgid: u16, len: usize, user_data: u64) -> squeue::Entry {
    opcode::Recv::new(types::Fd(fd), std::ptr::null_mut(), len as u32)
        .buf_group(bgid)
        .build()
        .flags(squeue::Flags::BUFFER_SELECT)
        .user_data(user_data)
}

#[test]
fn buf_ring_recv_hands_back_the_pool_index_with_the_bytes() {
    let Some(mut ring) = ring_or_skip("provided-buffer ring test", 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Nano, 4).unwrap());
    let mut br = BufRing::register(&ring, &pool, 7, 4).unwrap();
    assert_eq!(br.fill().unwrap(), 4);
    assert_eq!(br.len(), 4);
    assert!(pool.try_get().is_none(), "the ring holds every buffer");

    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"hello, provided buffers").unwrap();
    let recv = recv_select(rx.as_raw_fd(), br.bgid(), pool.buffer_size(), 1);
    // SAFETY: the ring's buffers stay registered (br alive) until `run`
    // reaps the completion; rx outlives it.
    let done = unsafe { run(&mut ring, &[recv]) };
    let (_, result, flags) = done[0];
    let got = take(&mut br, result, flags).unwrap().expect("a buffer");
    assert_eq!(&got[..], b"hello, provided buffers");
    assert_eq!(got.len(), 23);
    // Buffer id = pool index: the bytes are at that index's address.
    assert_eq!(got.as_ptr(), pool.buffer_ptr(got.index()).unwrap().as_ptr());
    assert_eq!(br.len(), 3);
    // Exactly once: the ring no longer holds the buffer it handed out, so
    // the same completion again would be refused (take's check).
    assert!(!br.holds(got.index() as u16));
    assert_eq!(br.len(), 3);
    let index = got.index();
    drop(got); // back to the pool
    let again = pool.try_get().expect("the received buffer is back");
    assert_eq!(again.index(), index);
    drop(again);
    drop(br);
    assert_all_free(&pool);
}

#[test]
fn buf_ring_recycles_buffers_around_the_ring() {
    let Some(mut ring) = ring_or_skip("provided-buffer recycling test", 8) else {
        return;
    };
    // Two entries, three buffers: every message wraps the ring further. A
    // FIFO pool without a thread cache, so that a buffer dropped back is
    // the last one refilled and all three go around.
    let pool = Arc::new(
        BufferPool::builder(Tier::Nano, 3)
            .thread_cache(0)
            .reuse_slot(false)
            .build()
            .unwrap(),
    );
    let mut br = BufRing::register(&ring, &pool, 1, 2).unwrap();
    assert_eq!(br.fill().unwrap(), 2);
    let spare = pool.try_get_owned().unwrap();
    assert!(matches!(
        br.provide(spare),
        Err(UringError::RingFull { entries: 2 })
    ));
    assert_eq!(br.len(), 2);

    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut seen = std::collections::HashSet::new();
    for round in 0u64..40 {
        let msg = pattern(100, round + 1);
        tx.write_all(&msg).unwrap();
        let recv = recv_select(rx.as_raw_fd(), br.bgid(), 128, round);
        // SAFETY: br alive, rx open until the completion is reaped.
        let (_, result, flags) = unsafe { run(&mut ring, &[recv]) }[0];
        let got = take(&mut br, result, flags).unwrap().expect("a buffer");
        assert_eq!(&got[..], &msg[..], "round {round}");
        seen.insert(got.index());
        // Alternate: straight back to the ring, or through the pool.
        if round % 2 == 0 {
            br.provide(got.into_buf()).unwrap();
        } else {
            drop(got);
            br.fill().unwrap();
        }
        assert_eq!(br.len(), 2);
    }
    assert_eq!(seen.len(), 3, "every buffer went around");
    br.unregister().unwrap();
    assert_all_free(&pool);
}

#[test]
fn buf_ring_errors_are_errors() {
    let Some(mut ring) = ring_or_skip("provided-buffer error test", 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Nano, 2).unwrap());
    let other = Arc::new(BufferPool::new(Tier::Nano, 1).unwrap());
    for bad in [0u16, 3, 1 << 15 | 1] {
        assert!(matches!(
            BufRing::register(&ring, &pool, 0, bad),
            Err(UringError::BadRingEntries(_))
        ));
    }
    let mut br = BufRing::register(&ring, &pool, 3, 2).unwrap();
    // The group id is taken: EEXIST from the kernel.
    let err = BufRing::register(&ring, &pool, 3, 2).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST), "{err}");

    // An empty ring: the recv fails with ENOBUFS.
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"x").unwrap();
    let recv = recv_select(rx.as_raw_fd(), br.bgid(), 128, 0);
    // SAFETY: br and rx outlive `run`.
    let (_, result, flags) = unsafe { run(&mut ring, &[recv]) }[0];
    let err = take(&mut br, result, flags).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOBUFS), "{err}");

    // End of stream, no buffer: None. A positive result without one: error.
    assert!(take(&mut br, 0, 0).unwrap().is_none());
    assert!(matches!(
        take(&mut br, 5, 0),
        Err(UringError::NoBuffer { result: 5 })
    ));

    // A buffer of another pool, or an index not held raw.
    assert!(matches!(
        br.provide(other.get_owned()),
        Err(UringError::ForeignBuffer)
    ));
    assert_all_free(&other);
    let foreign = other.take_raw().unwrap();
    assert!(matches!(
        br.provide_raw(foreign),
        Err(UringError::Pool(iobuf_pool::Error::WrongPool { .. }))
    ));
    let raw = pool.take_raw().unwrap();
    br.provide_raw(raw).unwrap();
    assert_eq!(br.len(), 1);
    drop(br);
    assert_all_free(&pool);
}

#[test]
fn multishot_recv_fills_pool_buffers_until_the_peer_closes() {
    let Some(mut ring) = ring_or_skip("multishot recv test", 16) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Micro, 8).unwrap());
    let mut br = BufRing::register(&ring, &pool, 0, 8).unwrap();
    br.fill().unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let data = pattern(3000, 9);
    let recv = opcode::RecvMulti::new(types::Fd(rx.as_raw_fd()), br.bgid())
        .build()
        .user_data(42);
    // SAFETY: br and rx live until the final completion (no F_MORE) below.
    unsafe { ring.submission().push(&recv).unwrap() };
    let writer = std::thread::spawn(move || {
        for chunk in data.chunks(700) {
            tx.write_all(chunk).unwrap();
        }
        data
    });
    let mut got = Vec::new();
    let mut finished = false;
    while !finished {
        ring.submit_and_wait(1).unwrap();
        let cqes: Vec<_> = ring.completion().map(|c| (c.result(), c.flags())).collect();
        for (result, flags) in cqes {
            finished |= !cqueue::more(flags);
            match take(&mut br, result, flags).unwrap() {
                Some(rx) => {
                    got.extend_from_slice(&rx);
                    br.provide(rx.into_buf()).unwrap();
                }
                None => finished = true,
            }
        }
    }
    let data = writer.join().unwrap();
    assert_eq!(got, data);
    drop(br);
    assert_all_free(&pool);
}

#[test]
fn registrations_outlive_a_dropped_ring_and_still_unregister() {
    let Some(ring) = ring_or_skip("ring drop-order test", 4) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Nano, 4).unwrap());
    let fixed = FixedBuffers::register(&ring, &pool).unwrap();
    let mut br = BufRing::register(&ring, &pool, 0, 4).unwrap();
    assert_eq!(br.fill().unwrap(), 4);
    // The registrations hold their own descriptor of the io_uring instance:
    // dropping the IoUring first leaves them able to unregister.
    drop(ring);
    br.unregister().unwrap();
    fixed.unregister().unwrap();
    assert_all_free(&pool);
}

#[test]
fn safe_code_cannot_take_over_a_buffer_the_kernel_holds() {
    let Some(mut ring) = ring_or_skip("kernel-held takeover test", 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Nano, 2).unwrap());
    let mut br = BufRing::register(&ring, &pool, 5, 2).unwrap();
    assert_eq!(br.fill().unwrap(), 2);
    // Both buffers are the kernel's now. Every safe way to a buffer of the
    // pool comes back empty: its gets, its raw tokens, a cache over it.
    assert!(pool.try_get().is_none());
    assert!(pool.take_raw().is_none());
    assert!(pool
        .get_timeout(std::time::Duration::from_millis(1))
        .is_none());
    let mut cache = iobuf_pool::LocalCache::new(&pool, 2).unwrap();
    assert!(cache.try_get().is_none());
    drop(cache);
    // A token of another pool does not open this one, at any index.
    let other = Arc::new(BufferPool::new(Tier::Nano, 2).unwrap());
    let mut stranger = other.take_raw().unwrap();
    assert!(pool.raw_bytes_mut(&mut stranger).is_err());
    assert!(matches!(
        pool.guard(stranger),
        Err(iobuf_pool::Error::WrongPool { .. })
    ));
    // Invented completions: ids the ring does not hold are refused, and the
    // ring is unchanged.
    for bid in [2u16, 7, u16::MAX] {
        assert!(!br.holds(bid));
        let flags = (u32::from(bid) << 16) | 1; // IORING_CQE_F_BUFFER
        assert!(matches!(
            take(&mut br, 4, flags),
            Err(UringError::UnknownBuffer { .. })
        ));
    }
    assert_eq!(br.len(), 2);
    // The kernel's own completion still finds its buffer intact.
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"mine").unwrap();
    let recv = recv_select(rx.as_raw_fd(), br.bgid(), 128, 9);
    // SAFETY: br and rx outlive `run`.
    let (_, result, flags) = unsafe { run(&mut ring, &[recv]) }[0];
    let got = take(&mut br, result, flags).unwrap().expect("a buffer");
    assert_eq!(&got[..], b"mine");
    drop(got);
    drop(br);
    assert_all_free(&pool);
}

/// Issue 20 item 2: a leaked (`mem::forget`) ring never unregisters its
/// group, so the kernel keeps its buffers' addresses; the pool behind them
/// must stay alive, and a recv selecting from the leaked group must land in
/// that pool, never in a pool made after it.
#[test]
fn a_forgotten_buf_ring_keeps_its_pool_alive_for_the_kernel() {
    let Some(mut ring) = ring_or_skip("forgotten ring test", 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Nano, 2).unwrap());
    let mut br = BufRing::register(&ring, &pool, 11, 2).unwrap();
    assert_eq!(br.fill().unwrap(), 2);
    let weak = Arc::downgrade(&pool);
    std::mem::forget(br);
    drop(pool);
    // The leaked ring still holds the pool's Arc.
    let kept = weak
        .upgrade()
        .expect("a forgotten ring keeps its pool alive");
    assert_eq!(Arc::strong_count(&kept), 2);
    // A new pool of the same shape (the old mapping's addresses are free
    // for it), every buffer held and marked.
    let fresh = BufferPool::new(Tier::Nano, 2).unwrap();
    let mut held: Vec<_> = (0..2).map(|_| fresh.try_get().unwrap()).collect();
    for g in &mut held {
        g.as_full_mut().fill(0xAA);
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"KERNEL!!").unwrap();
    let recv = recv_select(rx.as_raw_fd(), 11, 128, 1);
    // SAFETY: the group's buffers are the forgotten ring's; rx outlives run.
    let (_, result, flags) = unsafe { run(&mut ring, &[recv]) }[0];
    assert_eq!(result, 8, "the recv selected a buffer of the leaked group");
    assert!(cqueue::buffer_select(flags).is_some());
    for g in &held {
        assert!(
            g.as_full().iter().all(|&b| b == 0xAA),
            "the kernel wrote into a live guard of another pool"
        );
    }
    // It landed in the kept pool, in the buffer the completion names.
    let bid = usize::from(cqueue::buffer_select(flags).unwrap());
    let at = kept.buffer_ptr(bid).unwrap().as_ptr();
    // SAFETY: the pool is alive (`kept`); the kernel finished writing these
    // 8 bytes before the completion was reaped, and the buffer stays with
    // the leaked ring, so nothing else writes them.
    let landed = unsafe { std::slice::from_raw_parts(at, 8) };
    assert_eq!(landed, b"KERNEL!!");
}
