//! Zero-copy sends (`SEND_ZC`) of pool buffers against the real kernel, on
//! loopback TCP: the buffer stays held after the send's first completion
//! and returns to the pool only at its notification; a send dropped before
//! its notification never returns its buffer; made-up or repeated
//! completions are errors.
#![cfg(all(feature = "io-uring", target_os = "linux", not(miri)))]

mod uring_common;

use io_uring::{cqueue, types, IoUring};
use iobuf_pool::uring::{Bundle, Features, FixedBuffers, UringError, ZcSend};
use iobuf_pool::{BufferPool, Tier};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use uring_common::{
    assert_all_free, pattern, ring_or_skip, skip, slab_watch, watch_slab_of_capacity,
    WATCHED_CAPACITY,
};

/// A connected loopback TCP pair.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (b, _) = listener.accept().unwrap();
    (a, b)
}

/// How many buffers of `pool` are free now (taken and given back).
fn free_count(pool: &BufferPool) -> usize {
    let all: Vec<_> = (0..pool.capacity()).map_while(|_| pool.try_get()).collect();
    all.len()
}

fn zc_ring(what: &str) -> Option<IoUring> {
    let ring = ring_or_skip(what, 8)?;
    match Features::probe(&ring).unwrap().require_send_zc() {
        Ok(()) => Some(ring),
        Err(e) => {
            skip(what, &e.to_string());
            None
        }
    }
}

/// Sends `send` (already built into `entry`) and drives it to its end,
/// checking that the buffer is held after the first completion; returns
/// the bytes sent and whether a notification came.
fn drive(
    ring: &mut IoUring,
    pool: &BufferPool,
    send: &mut ZcSend,
    entry: io_uring::squeue::Entry,
) -> (u32, bool) {
    // SAFETY: `send` holds the buffer until complete() returns it below;
    // the socket outlives this function.
    unsafe { ring.submission().push(&entry.user_data(5)).unwrap() };
    let mut notified = false;
    loop {
        ring.submit_and_wait(1).unwrap();
        // One completion at a time, so the state after each is checked.
        let Some(cqe) = ring.completion().next() else {
            continue;
        };
        assert_eq!(cqe.user_data(), 5);
        let (result, flags) = (cqe.result(), cqe.flags());
        notified |= cqueue::notif(flags);
        // SAFETY: a completion of this send, reaped from its ring, once.
        match unsafe { send.complete(result, flags) }.unwrap() {
            None => {
                assert!(cqueue::more(flags), "held only while a notification is due");
                assert!(send.is_pending());
                assert_eq!(
                    free_count(pool),
                    pool.capacity() - 1,
                    "after the first completion the buffer is still the kernel's"
                );
            }
            Some(done) => {
                let n = done.sent.unwrap();
                drop(done.bufs);
                return (n, notified);
            }
        }
    }
}

#[test]
fn a_zero_copy_send_holds_its_buffer_until_the_notification() {
    let Some(mut ring) = zc_ring("SEND_ZC test") else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Small, 4).unwrap());
    let (tx, mut rx) = tcp_pair();
    let data = pattern(pool.buffer_size(), 2);
    let mut buf = pool.get_owned();
    buf.as_full_mut().copy_from_slice(&data);
    buf.set_len(data.len()).unwrap();
    let mut send = ZcSend::new(buf);
    assert_eq!(&send.bufs()[0][..], &data[..]);
    assert_eq!(send.len(), data.len());
    let entry = send.entry(types::Fd(tx.as_raw_fd())).unwrap();
    let (sent, notified) = drive(&mut ring, &pool, &mut send, entry);
    assert_eq!(sent as usize, data.len());
    assert!(notified, "the buffer came back at the notification");
    assert!(!send.is_pending());
    // A completion after the end (the notification again) is refused.
    // SAFETY: refused without touching any buffer (none is held).
    let again = unsafe { send.complete(0, 1 << 3) };
    assert!(matches!(
        again,
        Err(UringError::UnexpectedCompletion { .. })
    ));
    let mut got = vec![0; data.len()];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(got, data);
    assert_all_free(&pool);
}

#[test]
fn a_zero_copy_send_of_a_fixed_buffer_also_waits_for_its_notification() {
    let Some(mut ring) = zc_ring("SEND_ZC fixed-buffer test") else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Small, 2).unwrap());
    let other = BufferPool::new(Tier::Small, 1).unwrap();
    let fixed = FixedBuffers::register(&ring, &pool).unwrap();
    let (tx, mut rx) = tcp_pair();
    let data = pattern(1000, 4);
    let mut buf = pool.get_owned();
    buf.clear();
    buf.extend_from_slice_checked(&data).unwrap();
    let mut send = ZcSend::new(buf);
    // A registration of another pool cannot carry this buffer.
    let other_ring = IoUring::new(2).unwrap();
    let other_fixed = FixedBuffers::register(&other_ring, &other).unwrap();
    assert!(matches!(
        send.entry_fixed(types::Fd(tx.as_raw_fd()), &other_fixed),
        Err(UringError::ForeignBuffer)
    ));
    let entry = send.entry_fixed(types::Fd(tx.as_raw_fd()), &fixed).unwrap();
    let (sent, _) = drive(&mut ring, &pool, &mut send, entry);
    assert_eq!(sent as usize, data.len());
    let mut got = vec![0; data.len()];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(got, data);
    drop(fixed);
    assert_all_free(&pool);
}

#[test]
fn a_send_dropped_before_its_notification_never_returns_its_buffer() {
    let Some(mut ring) = zc_ring("SEND_ZC early drop test") else {
        return;
    };
    watch_slab_of_capacity();
    let pool = BufferPool::new(Tier::Small, WATCHED_CAPACITY).unwrap();
    assert_eq!(slab_watch::live(), 1);
    let (tx, mut rx) = tcp_pair();
    let mut buf = pool.get_owned();
    buf.as_full_mut().fill(7);
    // The whole buffer, whether fresh guards start full or empty.
    buf.set_len(buf.capacity()).unwrap();
    let mut send = ZcSend::new(buf);
    let entry = send.entry(types::Fd(tx.as_raw_fd())).unwrap().user_data(1);
    // A built entry may have been pushed: the buffer cannot be taken back.
    let mut send = send.into_bufs().unwrap_err();
    // SAFETY: the buffer stays held (by `send`, then leaked by its drop)
    // until the kernel is done; tx outlives the completions below.
    unsafe { ring.submission().push(&entry).unwrap() };
    ring.submit_and_wait(1).unwrap();
    let first = ring.completion().next().unwrap();
    // SAFETY: this send's first completion, once.
    let step = unsafe { send.complete(first.result(), first.flags()) }.unwrap();
    assert!(step.is_none(), "a notification is due");
    // The same first completion again is refused.
    // SAFETY: refused; the buffer stays held.
    let again = unsafe { send.complete(first.result(), first.flags()) };
    assert!(matches!(
        again,
        Err(UringError::UnexpectedCompletion { .. })
    ));
    drop(send); // before the notification: the buffer is leaked, not returned
    let mut sink = vec![0; pool.buffer_size()];
    rx.read_exact(&mut sink).unwrap();
    // Wait for the notification; the buffer still does not come back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        ring.submit_and_wait(1).unwrap();
        if ring.completion().any(|c| cqueue::notif(c.flags())) {
            break;
        }
        assert!(std::time::Instant::now() < deadline);
    }
    assert_eq!(
        free_count(&pool),
        WATCHED_CAPACITY - 1,
        "the dropped send's buffer stays out"
    );
    drop(pool);
    assert_eq!(
        slab_watch::live(),
        1,
        "the leaked buffer keeps its pool's memory alive"
    );
}

#[test]
fn an_unsubmitted_send_gives_its_buffer_back() {
    let pool = Arc::new(BufferPool::new(Tier::Pico, 1).unwrap());
    let send = ZcSend::new(pool.get_owned());
    assert!(pool.try_get().is_none());
    drop(send.into_bufs().unwrap());
    assert_all_free(&pool);
    // Dropping one that was never submitted returns it too.
    drop(ZcSend::new(pool.get_owned()));
    assert_all_free(&pool);
}

#[test]
fn a_gathered_zero_copy_send_holds_every_buffer_until_the_notification() {
    let Some(mut ring) = zc_ring("SENDMSG_ZC test") else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Small, 4).unwrap());
    let (tx, mut rx) = tcp_pair();
    let data = pattern(3 * pool.buffer_size() - 100, 7);
    let bufs: Vec<_> = data
        .chunks(pool.buffer_size())
        .map(|chunk| {
            let mut b = pool.get_owned();
            b.clear();
            b.extend_from_slice_checked(chunk).unwrap();
            b
        })
        .collect();
    let mut send = ZcSend::gather(Bundle::from_guards(bufs));
    assert_eq!((send.bufs().len(), send.len()), (3, data.len()));
    let entry = send.entry(types::Fd(tx.as_raw_fd())).unwrap().user_data(5);
    // SAFETY: `send` holds the buffers and its gather list until
    // complete() returns them below; tx outlives it.
    unsafe { ring.submission().push(&entry).unwrap() };
    let mut got = vec![0; data.len()];
    let reader = std::thread::spawn(move || {
        rx.read_exact(&mut got).unwrap();
        got
    });
    let done = loop {
        ring.submit_and_wait(1).unwrap();
        let Some(cqe) = ring.completion().next() else {
            continue;
        };
        // SAFETY: a completion of this send, reaped from its ring, once.
        match unsafe { send.complete(cqe.result(), cqe.flags()) }.unwrap() {
            None => assert_eq!(
                free_count(&pool),
                1,
                "all three buffers stay the kernel's until the notification"
            ),
            Some(done) => break done,
        }
    };
    assert_eq!(done.bufs.len(), 3);
    assert_eq!(done.sent.unwrap() as usize, data.len());
    drop(done.bufs);
    assert_eq!(reader.join().unwrap(), data);
    assert_all_free(&pool);
}
