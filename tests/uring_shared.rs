//! One pool behind many rings: every thread's provided-buffer ring is fed
//! from one shared `Arc` pool, the kernel of ring A picks a buffer, another
//! thread drops it, and it goes back to the pool, where any ring's refill
//! can pick it up. Checked against the real kernel with an exactly-once
//! ledger: no index is handed out twice, none is given to a kernel while a
//! guard holds it (the guard's bytes never change under it), and every
//! buffer is back in the pool at the end. With a plain pool and with a
//! thread-cached one.
#![cfg(all(feature = "io-uring", target_os = "linux", not(miri)))]

mod uring_common;

use io_uring::{cqueue, opcode, types, IoUring};
use iobuf_pool::uring::{BufRing, Bundle, Received};
use iobuf_pool::{BufferPool, OwnedBuf, Tier};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use uring_common::{assert_all_free, pattern, ring_or_skip};

/// The handles move between threads: a ring may be set up on one thread
/// and driven on another, and every guard it hands out may be dropped
/// anywhere.
#[test]
fn handles_are_send() {
    fn send<T: Send + 'static>() {}
    send::<BufRing>();
    send::<Received>();
    send::<Bundle>();
    send::<OwnedBuf>();
}

const RINGS: usize = 3;
const ENTRIES: u16 = 16;
/// Fewer buffers than the rings' entries together: rings compete for
/// them, so the ones one ring's kernel used go to another's refill.
const BUFFERS: usize = 40;
const BYTES_PER_RING: usize = 150_000;

/// A guard on its way to a dropper, with the sum of its bytes when its ring
/// handed it out, and the ring that did.
struct InFlight {
    buf: OwnedBuf,
    sum: u64,
}

fn byte_sum(b: &[u8]) -> u64 {
    b.iter()
        .enumerate()
        .map(|(i, &x)| (i as u64 + 1) * u64::from(x))
        .sum()
}

/// One ring thread: its own io_uring and buffer ring (fed from `pool`), a
/// multishot recv on its socket until the peer closes; each received buffer
/// is checked against the ledger (not held by anyone), marked held, and
/// sent to the droppers. Returns the bytes received, in order, and the pool
/// indices this ring's kernel picked.
fn ring_thread(
    pool: Arc<BufferPool>,
    rx: UnixStream,
    ledger: Arc<Vec<AtomicU8>>,
    to_drop: mpsc::Sender<InFlight>,
) -> (Vec<u8>, Vec<usize>) {
    let mut ring = IoUring::new(32).unwrap();
    let mut br = BufRing::register(&ring, &pool, 1, ENTRIES).unwrap();
    let fd = types::Fd(rx.as_raw_fd());
    let (mut got, mut picked) = (Vec::new(), Vec::new());
    let (mut armed, mut eof) = (false, false);
    let deadline = Instant::now() + Duration::from_secs(60);
    let wait = types::Timespec::new().nsec(2_000_000);
    while !eof {
        assert!(Instant::now() < deadline, "ring thread stalled");
        // Refill from the shared pool: whatever any thread has returned.
        br.fill().unwrap();
        if !armed && !br.is_empty() {
            let recv = opcode::RecvMulti::new(fd, br.bgid()).build().user_data(7);
            // SAFETY: br stays registered and rx open until this recv's last
            // completion (no F_MORE) is reaped: the loop runs until EOF,
            // which is such a completion.
            unsafe { ring.submission().push(&recv).unwrap() };
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
            // SAFETY: a completion of this thread's ring, of the recv that
            // selects from br's group, reaped just now and taken once.
            match unsafe { br.take(result, flags) } {
                Ok(Some(rx)) if rx.is_empty() => eof = true,
                Ok(Some(rx)) => {
                    let index = rx.index();
                    let was = ledger[index].swap(1, Ordering::AcqRel);
                    assert_eq!(was, 0, "buffer {index} handed out while held");
                    got.extend_from_slice(&rx);
                    picked.push(index);
                    let sum = byte_sum(&rx);
                    to_drop
                        .send(InFlight {
                            buf: rx.into_buf(),
                            sum,
                        })
                        .unwrap();
                }
                Ok(None) => eof = true,
                // The ring ran dry: the multishot recv ended; re-armed above
                // once the pool gives buffers back.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    drop(br); // unregisters; the buffers still in it go back to the pool
    (got, picked)
}

fn shared_pool_across_rings(pool: BufferPool) {
    if ring_or_skip("shared-pool rings test", 4).is_none() {
        return;
    }
    let pool = Arc::new(pool);
    let ledger: Arc<Vec<AtomicU8>> = Arc::new((0..BUFFERS).map(|_| AtomicU8::new(0)).collect());
    let (to_drop, dropped) = mpsc::channel::<InFlight>();
    let dropped = Arc::new(Mutex::new(dropped));
    // Two dropper threads: each guard is checked unchanged since its ring
    // handed it out (no kernel wrote into it while held), cleared in the
    // ledger, and dropped here, far from the ring that picked it.
    let droppers: Vec<_> = (0..2)
        .map(|d| {
            let (dropped, ledger) = (Arc::clone(&dropped), Arc::clone(&ledger));
            std::thread::spawn(move || {
                let mut n = 0u64;
                loop {
                    let next = dropped.lock().unwrap().recv();
                    let Ok(InFlight { buf, sum }) = next else {
                        return n;
                    };
                    if (n + d) % 3 == 0 {
                        std::thread::yield_now(); // hold it a while
                    }
                    assert_eq!(byte_sum(&buf[..]), sum, "a held buffer changed");
                    let was = ledger[buf.index()].swap(0, Ordering::AcqRel);
                    assert_eq!(was, 1, "buffer {} dropped but not held", buf.index());
                    drop(buf);
                    n += 1;
                }
            })
        })
        .collect();
    let mut rings = Vec::new();
    let mut writers = Vec::new();
    for r in 0..RINGS {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let data = pattern(BYTES_PER_RING, r as u64 + 11);
        writers.push(std::thread::spawn({
            let data = data.clone();
            move || {
                for (k, chunk) in data.chunks(97 + 13 * r).enumerate() {
                    tx.write_all(chunk).unwrap();
                    if k % 64 == 0 {
                        std::thread::yield_now();
                    }
                }
            }
        }));
        let (pool, ledger, to_drop) = (Arc::clone(&pool), Arc::clone(&ledger), to_drop.clone());
        rings.push((
            data,
            std::thread::spawn(move || ring_thread(pool, rx, ledger, to_drop)),
        ));
    }
    drop(to_drop);
    let mut pickers: Vec<Vec<usize>> = vec![Vec::new(); BUFFERS];
    let mut received = 0;
    for (r, (data, ring)) in rings.into_iter().enumerate() {
        let (got, picked) = ring.join().unwrap();
        assert!(got == data, "ring {r}: the stream arrived intact");
        received += picked.len();
        for i in picked {
            if !pickers[i].contains(&r) {
                pickers[i].push(r);
            }
        }
    }
    for w in writers {
        w.join().unwrap();
    }
    let dropped: u64 = droppers.into_iter().map(|d| d.join().unwrap()).sum();
    assert_eq!(
        dropped as usize, received,
        "every guard handed out was dropped once"
    );
    assert!(
        pickers.iter().any(|p| p.len() > 1),
        "some buffer was picked by two rings' kernels (reused through the pool)"
    );
    assert!(ledger.iter().all(|l| l.load(Ordering::Acquire) == 0));
    assert_all_free(&pool);
}

#[test]
fn one_plain_pool_feeds_three_rings_while_other_threads_drop_the_guards() {
    shared_pool_across_rings(BufferPool::new(Tier::Nano, BUFFERS).unwrap());
}

#[test]
fn one_thread_cached_pool_feeds_three_rings_while_other_threads_drop_the_guards() {
    shared_pool_across_rings(
        BufferPool::builder(Tier::Nano, BUFFERS)
            .thread_cache(4)
            .build()
            .unwrap(),
    );
}

/// Rings fed from one pool hold disjoint indices, so a completion handed
/// to the wrong ring names a buffer that ring does not hold: refused, and
/// the right ring still takes it.
#[test]
fn a_completion_given_to_the_wrong_ring_is_refused() {
    let Some(mut ring_a) = ring_or_skip("wrong-ring test", 4) else {
        return;
    };
    let ring_b = IoUring::new(4).unwrap();
    let pool = Arc::new(BufferPool::new(Tier::Nano, 8).unwrap());
    // The same group id on both instances: only the ring's own ledger can
    // tell their completions apart.
    let mut a = BufRing::register(&ring_a, &pool, 1, 4).unwrap();
    let mut b = BufRing::register(&ring_b, &pool, 1, 4).unwrap();
    assert_eq!((a.fill().unwrap(), b.fill().unwrap()), (4, 4));
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"for ring a").unwrap();
    let recv = opcode::Recv::new(types::Fd(rx.as_raw_fd()), std::ptr::null_mut(), 64)
        .buf_group(1)
        .build()
        .flags(io_uring::squeue::Flags::BUFFER_SELECT);
    // SAFETY: `a` stays registered and rx open until the completion below.
    unsafe { ring_a.submission().push(&recv).unwrap() };
    ring_a.submit_and_wait(1).unwrap();
    let c = ring_a.completion().next().unwrap();
    let (result, flags) = (c.result(), c.flags());
    // SAFETY: `b` holds none of `a`'s buffers (one pool, each index in one
    // ring), so this wrong-ring completion is refused, nothing handed out.
    let wrong = unsafe { b.take(result, flags) };
    assert!(
        matches!(
            wrong,
            Err(iobuf_pool::uring::UringError::UnknownBuffer { .. })
        ),
        "{wrong:?}"
    );
    assert_eq!(b.len(), 4);
    // SAFETY: the completion of a's recv, reaped from a's ring, taken once.
    let got = unsafe { a.take(result, flags) }.unwrap().unwrap();
    assert_eq!(&got[..], b"for ring a");
    drop((got, a, b));
    assert_all_free(&pool);
}

/// A buffer dropped on a thread that has no ring sits in that thread's
/// cache (the default pool is thread-cached); a ring whose pool looks dry
/// takes it back on its next fill, while that thread is alive and parked.
#[test]
fn a_fill_reaches_buffers_cached_by_a_parked_thread() {
    let Some(ring) = ring_or_skip("fill through other threads' caches", 8) else {
        return;
    };
    let pool = Arc::new(
        BufferPool::builder(Tier::Nano, 8)
            .thread_cache(4)
            .build()
            .unwrap(),
    );
    let (cached_tx, cached_rx) = mpsc::channel();
    let (exit_tx, exit_rx) = mpsc::channel::<()>();
    let parked = {
        let pool = Arc::clone(&pool);
        std::thread::spawn(move || {
            let held: Vec<OwnedBuf> = (0..4).map(|_| pool.get_owned()).collect();
            drop(held); // into this thread's cache
            cached_tx.send(pool.stats().cached).unwrap();
            exit_rx.recv().unwrap();
        })
    };
    assert!(
        cached_rx.recv().unwrap() > 0,
        "the parked thread caches buffers"
    );
    let mut br = BufRing::register(&ring, &pool, 9, 8).unwrap();
    assert_eq!(br.fill().unwrap(), 8, "every buffer reaches the ring");
    assert_eq!(pool.stats().cached, 0);
    drop(br);
    exit_tx.send(()).unwrap();
    parked.join().unwrap();
    assert_all_free(&pool);
}
