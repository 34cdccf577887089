//! Recv bundles (`IORING_RECVSEND_BUNDLE`) over a provided-buffer ring fed
//! from a shared pool, against the real kernel: one completion gives a run
//! of buffers in ring order, each handed out once, every one back in the
//! pool at the end.
#![cfg(all(feature = "io-uring", target_os = "linux", not(miri)))]

mod uring_common;

use io_uring::{cqueue, opcode, types};
use iobuf_pool::uring::{BufRing, Bundle, Features, UringError};
use iobuf_pool::{BufferPool, Tier};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use uring_common::{assert_all_free, pattern, ring_or_skip, skip};

/// IORING_CQE_F_BUFFER with buffer id `bid`.
fn buffer_flags(bid: u16) -> u32 {
    (u32::from(bid) << 16) | 1
}

#[test]
fn a_bundle_is_the_run_of_buffers_in_ring_order_handed_out_once() {
    let Some(mut ring) = ring_or_skip("recv bundle test", 8) else {
        return;
    };
    if let Err(e) = Features::probe(&ring).unwrap().require_bundles() {
        return skip("recv bundle test", &e.to_string());
    }
    let pool = Arc::new(BufferPool::new(Tier::Nano, 16).unwrap());
    let size = pool.buffer_size();
    let mut br = BufRing::register(&ring, &pool, 4, 16).unwrap();
    assert_eq!(br.fill().unwrap(), 16);
    // The order the ring was filled in is the order the kernel uses.
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let data = pattern(12 * size + 40, 1);
    tx.write_all(&data).unwrap();
    let recv = opcode::RecvBundle::new(types::Fd(rx.as_raw_fd()), br.bgid())
        .build()
        .user_data(1);
    // SAFETY: br stays registered and rx open until the completion is reaped.
    unsafe { ring.submission().push(&recv).unwrap() };
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    let (result, flags) = (cqe.result(), cqe.flags());
    // The kernel may stop a bundle short of the data queued; it took more
    // than one buffer, and the run covers exactly `result` bytes.
    let n = result as usize;
    assert!(n > size && n <= data.len(), "result {n}");
    let count = n.div_ceil(size);
    // SAFETY: one completion of this ring's bundle recv, taken once.
    let bundle = unsafe { br.take_bundle(result, flags) }.unwrap().unwrap();
    assert_eq!(bundle.buffers(), count);
    assert_eq!(bundle.len(), n);
    let mut got = Vec::new();
    for (k, buf) in bundle.iter().enumerate() {
        let want = if k + 1 < count {
            size
        } else {
            n - (count - 1) * size
        };
        assert_eq!(buf.len(), want);
        // Buffer id = pool index: the bytes are at that index's address.
        assert_eq!(buf.as_ptr(), pool.buffer_ptr(buf.index()).unwrap().as_ptr());
        got.extend_from_slice(&buf[..]);
    }
    assert_eq!(got, data[..n]);
    let iov_bytes: usize = bundle.io_vecs().map(|v| v.len()).sum();
    assert_eq!(iov_bytes, n);
    assert_eq!(br.len(), 16 - count);
    // The same completion again: its first buffer is no longer the ring's.
    // SAFETY: replaying a completion is what take_bundle must refuse; the
    // id it names is not in the ring any more, so nothing is handed out.
    let again = unsafe { br.take_bundle(result, flags) };
    assert!(
        matches!(again, Err(UringError::UnknownBuffer { .. })),
        "{again:?}"
    );
    assert_eq!(br.len(), 16 - count);
    // Guards cross threads and go back to the pool there.
    let indices: Vec<usize> = bundle.iter().map(|b| b.index()).collect();
    std::thread::spawn(move || drop(bundle)).join().unwrap();
    let held: Vec<_> = (0..count).map(|_| pool.try_get().unwrap()).collect();
    assert!(pool.try_get().is_none(), "the rest are still in the ring");
    let mut back: Vec<_> = held.iter().map(|b| b.index()).collect();
    back.sort_unstable();
    let mut want = indices.clone();
    want.sort_unstable();
    assert_eq!(back, want, "the bundle's buffers, and only they, are back");
    drop(held);
    drop(br);
    assert_all_free(&pool);
}

#[test]
fn a_bundle_run_that_is_not_the_rings_is_refused_whole() {
    let Some(ring) = ring_or_skip("bundle run check test", 4) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Nano, 8).unwrap());
    let size = pool.buffer_size() as i32;
    let mut br = BufRing::register(&ring, &pool, 2, 8).unwrap();
    assert_eq!(br.fill().unwrap(), 8);
    // No kernel completion is involved: every call here names buffers the
    // ring still holds but claims runs that the ring's order refutes, or
    // carries no buffer at all, so take_bundle refuses without handing out.
    let ids: Vec<u16> = (0..8u16).filter(|&b| br.holds(b)).collect();
    assert_eq!(ids.len(), 8);
    // SAFETY (each call below): refused before any buffer is handed out, as
    // the assertions check.
    // A run longer than the ring holds.
    let e = unsafe { br.take_bundle(9 * size, buffer_flags(ids[0])) };
    assert!(
        matches!(e, Err(UringError::BadBundle { count: 9, .. })),
        "{e:?}"
    );
    // An empty result leaves the named buffer in the ring (the kernel
    // consumed none for it).
    assert!(unsafe { br.take_bundle(0, buffer_flags(ids[0])) }
        .unwrap()
        .is_none());
    // A negative result is the kernel's error.
    let e = unsafe { br.take_bundle(-libc::ENOBUFS, 0) }.unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS));
    // A positive result with no buffer.
    assert!(matches!(
        unsafe { br.take_bundle(5, 0) },
        Err(UringError::NoBuffer { result: 5 })
    ));
    assert_eq!(br.len(), 8, "nothing was taken");
    drop(br);
    assert_all_free(&pool);
}

#[test]
fn multishot_bundles_carry_a_stream_while_other_threads_drop_the_guards() {
    let Some(mut ring) = ring_or_skip("multishot bundle test", 16) else {
        return;
    };
    if let Err(e) = Features::probe(&ring).unwrap().require_bundles() {
        return skip("multishot bundle test", &e.to_string());
    }
    let pool = Arc::new(BufferPool::new(Tier::Nano, 24).unwrap());
    let mut br = BufRing::register(&ring, &pool, 9, 16).unwrap();
    br.fill().unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let data = pattern(200_000, 5);
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || {
            for chunk in data.chunks(1500) {
                tx.write_all(chunk).unwrap();
            }
        })
    };
    // Two dropper threads take bundles and drop their guards; the ledger
    // says which pool index a guard holds (exactly once).
    let ledger: Arc<Vec<std::sync::atomic::AtomicBool>> =
        Arc::new((0..pool.capacity()).map(|_| Default::default()).collect());
    let (to_drop, dropped) = std::sync::mpsc::channel::<Bundle>();
    let dropped = Arc::new(std::sync::Mutex::new(dropped));
    let droppers: Vec<_> = (0..2)
        .map(|_| {
            let (dropped, ledger) = (Arc::clone(&dropped), Arc::clone(&ledger));
            std::thread::spawn(move || loop {
                let next = dropped.lock().unwrap().recv();
                let Ok(bundle) = next else { return };
                for buf in bundle {
                    let was = ledger[buf.index()].swap(false, std::sync::atomic::Ordering::AcqRel);
                    assert!(was, "buffer {} dropped but not held", buf.index());
                }
            })
        })
        .collect();
    let bgid = br.bgid();
    let rx_fd = types::Fd(rx.as_raw_fd());
    let recv_entry = || {
        opcode::RecvMultiBundle::new(rx_fd, bgid)
            .build()
            .user_data(3)
    };
    let mut got = Vec::with_capacity(data.len());
    let (mut armed, mut eof, mut bundles, mut max_run) = (false, false, 0usize, 0usize);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let wait = types::Timespec::new().nsec(5_000_000);
    while !eof {
        assert!(std::time::Instant::now() < deadline, "stalled");
        br.fill().unwrap();
        if !armed && !br.is_empty() {
            // SAFETY: br stays registered and rx open until the last
            // completion of this recv (no F_MORE) is reaped below.
            unsafe { ring.submission().push(&recv_entry()).unwrap() };
            armed = true;
        }
        let args = types::SubmitArgs::new().timespec(&wait);
        match ring.submitter().submit_with_args(1, &args) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => {}
            Err(e) => panic!("{e}"),
        }
        let cqes: Vec<_> = ring.completion().map(|c| (c.result(), c.flags())).collect();
        for (result, flags) in cqes {
            armed &= cqueue::more(flags);
            // SAFETY: a completion of this ring's bundle recv, reaped just
            // now, taken once.
            match unsafe { br.take_bundle(result, flags) } {
                Ok(Some(bundle)) => {
                    bundles += 1;
                    max_run = max_run.max(bundle.buffers());
                    for buf in bundle.iter() {
                        let was =
                            ledger[buf.index()].swap(true, std::sync::atomic::Ordering::AcqRel);
                        assert!(!was, "buffer {} handed out twice", buf.index());
                        got.extend_from_slice(&buf[..]);
                    }
                    to_drop.send(bundle).unwrap();
                }
                Ok(None) => eof = true,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    writer.join().unwrap();
    drop(to_drop);
    for d in droppers {
        d.join().unwrap();
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the stream arrived intact, in order");
    assert!(max_run > 1, "some completion carried a run of buffers");
    eprintln!("{bundles} bundle completions, longest run {max_run}");
    drop(br);
    assert_all_free(&pool);
}
