//! Incremental consumption (`IOU_PBUF_RING_INC`) against the real kernel:
//! one buffer filled across several receives, each completion a part;
//! parts share the buffer, which goes back to the pool only when the
//! kernel is done with it and the last part is dropped. The kernel quirks
//! `BufRing::take_part` documents are checked here: `BUF_MORE` missing at
//! end of file, and `MSG_TRUNC` over-consumption.
#![cfg(all(feature = "io-uring", target_os = "linux", not(miri)))]

mod uring_common;

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use iobuf_pool::uring::{BufRing, RecvPart, UringError};
use iobuf_pool::{BufferPool, Tier};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::Arc;
use uring_common::{assert_all_free, pattern, ring_or_skip, skip};

/// An incremental ring over `pool`, or `None` where the kernel lacks it.
fn inc_ring(ring: &IoUring, pool: &Arc<BufferPool>, bgid: u16, entries: u16) -> Option<BufRing> {
    match BufRing::register_incremental(ring, pool, bgid, entries) {
        Ok(br) => Some(br),
        Err(e @ UringError::Unsupported { .. }) => {
            skip("incremental ring test", &e.to_string());
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// One single-shot recv selecting from `bgid` with `msg_flags`; returns
/// the completion's result and flags.
fn recv_once(ring: &mut IoUring, fd: i32, bgid: u16, msg_flags: i32) -> (i32, u32) {
    let recv = opcode::Recv::new(types::Fd(fd), std::ptr::null_mut(), 0)
        .buf_group(bgid)
        .flags(msg_flags)
        .build()
        .flags(squeue::Flags::BUFFER_SELECT)
        .user_data(1);
    // SAFETY: the ring's buffers stay registered (the caller's BufRing is
    // alive) and fd open until the completion is reaped here.
    unsafe { ring.submission().push(&recv).unwrap() };
    ring.submit_and_wait(1).unwrap();
    let c = ring.completion().next().unwrap();
    (c.result(), c.flags())
}

/// [`BufRing::take_part`] of a completion `recv_once` just reaped.
fn part(br: &mut BufRing, (result, flags): (i32, u32)) -> Option<RecvPart> {
    // SAFETY: one completion of a recv from br's group on br's ring, once.
    unsafe { br.take_part(result, flags) }.unwrap()
}

fn free_count(pool: &BufferPool) -> usize {
    let all: Vec<_> = (0..pool.capacity()).map_while(|_| pool.try_get()).collect();
    all.len()
}

#[test]
fn parts_share_a_buffer_that_returns_when_the_kernel_and_the_last_part_are_done() {
    let Some(mut ring) = ring_or_skip("incremental ring test", 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Small, 2).unwrap());
    let size = pool.buffer_size();
    let Some(mut br) = inc_ring(&ring, &pool, 3, 2) else {
        return;
    };
    assert_eq!(br.fill().unwrap(), 2);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let fd = rx.as_raw_fd();
    let data = pattern(size + 64, 8);
    tx.write_all(&data[..300]).unwrap();
    let c1 = recv_once(&mut ring, fd, 3, 0);
    assert!(cqueue::buffer_more(c1.1), "the buffer has room left");
    let p1 = part(&mut br, c1).expect("a part");
    assert_eq!((p1.offset(), p1.len()), (0, 300));
    assert_eq!(&p1[..], &data[..300]);
    tx.write_all(&data[300..800]).unwrap();
    let p2 = part(&mut br, recv_once(&mut ring, fd, 3, 0)).expect("a part");
    assert_eq!(p2.index(), p1.index(), "the same buffer, further on");
    assert!(p2.shares_buffer_with(&p1));
    assert_eq!((p2.offset(), p2.len()), (300, 500));
    assert_eq!(&p2[..], &data[300..800]);
    // Both parts dropped on another thread: the kernel still owns the rest
    // of the buffer, so it stays out of the pool.
    std::thread::spawn(move || drop((p1, p2))).join().unwrap();
    assert_eq!(free_count(&pool), 0, "the kernel is not done with it");
    assert_eq!(br.len(), 2);
    // The rest of the buffer and more: the kernel fills it to the end and
    // moves on (no BUF_MORE).
    tx.write_all(&data[800..]).unwrap();
    let c3 = recv_once(&mut ring, fd, 3, 0);
    assert!(!cqueue::buffer_more(c3.1), "the buffer is used up");
    let p3 = part(&mut br, c3).expect("a part");
    assert_eq!((p3.offset(), p3.len()), (800, size - 800));
    assert_eq!(&p3[..], &data[800..size]);
    assert_eq!(br.len(), 1);
    assert_eq!(free_count(&pool), 0, "its last part is still held");
    drop(p3);
    assert_eq!(free_count(&pool), 1, "kernel done and last part dropped");
    // The next bytes go to the other buffer, from its start.
    let p4 = part(&mut br, recv_once(&mut ring, fd, 3, 0)).expect("a part");
    assert_eq!((p4.offset(), &p4[..]), (0, &data[size..]));
    drop(p4);
    drop(br);
    assert_all_free(&pool);
}

#[test]
fn end_of_file_never_ends_a_buffer_the_kernel_still_holds() {
    let Some(mut ring) = ring_or_skip("incremental EOF test", 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Small, 1).unwrap());
    let Some(mut br) = inc_ring(&ring, &pool, 4, 1) else {
        return;
    };
    br.fill().unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"abc").unwrap();
    let p = part(&mut br, recv_once(&mut ring, rx.as_raw_fd(), 4, 0)).unwrap();
    let bid = p.index() as u16;
    drop(p);
    drop(tx);
    let (result, flags) = recv_once(&mut ring, rx.as_raw_fd(), 4, 0);
    assert_eq!(result, 0, "end of file");
    eprintln!(
        "end of file: buffer id {:?}, BUF_MORE {}",
        cqueue::buffer_select(flags),
        cqueue::buffer_more(flags)
    );
    // Whatever the flags say (the kernel may name the buffer without
    // BUF_MORE here), end of file is not the end of the buffer.
    assert!(part(&mut br, (result, flags)).is_none());
    // The reported form of the quirk (liburing#1545): the buffer named, no
    // BUF_MORE, nothing consumed. Still end of file, and the buffer stays.
    // SAFETY: a result of 0 is answered before any buffer is looked at.
    let eof = unsafe { br.take_part(0, (u32::from(bid) << 16) | 1) };
    assert!(eof.unwrap().is_none());
    assert!(br.holds(bid), "the buffer is still the ring's");
    assert_eq!(free_count(&pool), 0);
    drop(br); // unregistered: now it goes back
    assert_all_free(&pool);
}

#[test]
fn msg_trunc_over_consumption_is_charged_to_the_next_buffers() {
    let Some(mut ring) = ring_or_skip("incremental MSG_TRUNC test", 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Small, 4).unwrap());
    let size = pool.buffer_size();
    let Some(mut br) = inc_ring(&ring, &pool, 5, 4) else {
        return;
    };
    assert_eq!(br.fill().unwrap(), 4);
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let fd = rx.as_raw_fd();
    // 1000 bytes into the first buffer, then a datagram longer than the
    // room left: it is cut to the room, and MSG_TRUNC reports its length.
    let first = pattern(1000, 1);
    tx.send(&first).unwrap();
    let p1 = part(&mut br, recv_once(&mut ring, fd, 5, 0)).unwrap();
    assert_eq!(&p1[..], &first[..]);
    let long = pattern(size - 1000 + 300, 2);
    tx.send(&long).unwrap();
    let c2 = recv_once(&mut ring, fd, 5, libc::MSG_TRUNC);
    assert_eq!(
        c2.0 as usize,
        long.len(),
        "MSG_TRUNC reports the whole datagram"
    );
    let p2 = part(&mut br, c2).unwrap();
    assert_eq!(p2.index(), p1.index());
    assert_eq!(
        (p2.offset(), p2.len()),
        (1000, size - 1000),
        "clamped to the room"
    );
    assert_eq!(&p2[..], &long[..size - 1000]);
    // The kernel moved its head by the whole length: 300 bytes into the
    // next buffer. The next datagram lands there, after them, and the part
    // says so.
    let next = pattern(200, 3);
    tx.send(&next).unwrap();
    let c3 = recv_once(&mut ring, fd, 5, 0);
    let p3 = part(&mut br, c3).unwrap();
    assert_ne!(p3.index(), p1.index());
    assert_eq!(p3.offset(), 300, "the over-consumed bytes are skipped");
    assert_eq!(&p3[..], &next[..]);
    drop((p1, p2, p3));
    assert_eq!(free_count(&pool), 1, "the first buffer is back");
    drop(br);
    assert_all_free(&pool);
}

#[test]
fn plain_and_incremental_calls_do_not_mix() {
    let Some(ring) = ring_or_skip("ring kind test", 4) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Small, 2).unwrap());
    let Some(mut inc) = inc_ring(&ring, &pool, 6, 1) else {
        return;
    };
    let mut plain = BufRing::register(&ring, &pool, 7, 1).unwrap();
    inc.fill().unwrap();
    plain.fill().unwrap();
    // SAFETY (all four): refused before any buffer is looked at.
    unsafe {
        assert!(matches!(
            inc.take(4, 1),
            Err(UringError::WrongRingKind { incremental: true })
        ));
        assert!(matches!(
            inc.take_bundle(4, 1),
            Err(UringError::WrongRingKind { incremental: true })
        ));
        assert!(matches!(
            plain.take_part(4, 1),
            Err(UringError::WrongRingKind { incremental: false })
        ));
        // A buffer id the incremental ring does not hold.
        assert!(matches!(
            inc.take_part(4, (9 << 16) | 1),
            Err(UringError::UnknownBuffer { bid: 9 })
        ));
    }
    drop((inc, plain));
    assert_all_free(&pool);
}

#[test]
fn a_multishot_stream_through_parts_dropped_on_another_thread_returns_every_buffer() {
    let Some(mut ring) = ring_or_skip("incremental stream test", 16) else {
        return;
    };
    // Buffers much larger than each write, so receives take parts.
    let pool = Arc::new(BufferPool::new(Tier::Big, 6).unwrap());
    let Some(mut br) = inc_ring(&ring, &pool, 8, 4) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let data = pattern(300_000, 6);
    // The first writes wait until the reader has taken a part since: on a
    // loaded machine a reader that falls behind takes whole buffers, and
    // the test would not see a buffer carry more than one part.
    let (ack_tx, ack_rx) = std::sync::mpsc::channel::<()>();
    let writer = {
        let data = data.clone();
        std::thread::spawn(move || {
            for (k, chunk) in data.chunks(333).enumerate() {
                tx.write_all(chunk).unwrap();
                if k < 16 {
                    let _ = ack_rx.recv_timeout(std::time::Duration::from_secs(5));
                }
                if k % 8 == 0 {
                    std::thread::yield_now();
                }
            }
        })
    };
    let (to_drop, dropped) = std::sync::mpsc::channel::<RecvPart>();
    let dropper = std::thread::spawn(move || dropped.iter().count());
    let fd = types::Fd(rx.as_raw_fd());
    let (mut got, mut parts, mut shared) = (Vec::new(), 0usize, 0usize);
    let mut last: Option<(usize, usize)> = None; // (index, end) of the last part
    let (mut armed, mut eof) = (false, false);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let wait = types::Timespec::new().nsec(2_000_000);
    while !eof {
        assert!(std::time::Instant::now() < deadline, "stalled");
        br.fill().unwrap();
        if !armed && !br.is_empty() {
            let recv = opcode::RecvMulti::new(fd, 8).build().user_data(2);
            // SAFETY: br registered and rx open until the recv's last
            // completion is reaped (the loop runs to end of file).
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
            // SAFETY: a completion of this ring's recv, reaped now, once.
            match unsafe { br.take_part(result, flags) } {
                Ok(Some(p)) => {
                    parts += 1;
                    let _ = ack_tx.send(());
                    // A part continues its buffer where the last one ended.
                    if let Some((index, end)) = last {
                        if index == p.index() && p.offset() > 0 {
                            assert_eq!(p.offset(), end, "parts of a buffer are contiguous");
                            shared += 1;
                        }
                    }
                    last = Some((p.index(), p.offset() + p.len()));
                    got.extend_from_slice(&p);
                    to_drop.send(p).unwrap();
                }
                Ok(None) => eof = true,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
    writer.join().unwrap();
    drop(to_drop);
    assert_eq!(dropper.join().unwrap(), parts);
    assert!(got == data, "the stream arrived intact");
    assert!(shared > 0, "some buffer carried more than one part");
    drop(br);
    assert_all_free(&pool);
}
