//! Adversarial checks of the io_uring layer's ownership proofs, each against
//! the real kernel: what a registration that cannot be undone (a failed
//! unregister, a leaked handle) leaves the kernel able to write, and that a
//! zero-copy send is one operation. The only `unsafe` here is pushing
//! entries whose contract the test keeps, and reading bytes the kernel
//! finished writing.
#![cfg(all(feature = "io-uring", target_os = "linux", not(miri)))]

mod uring_common;

use io_uring::{cqueue, opcode, squeue, types, IoUring};
use iobuf_pool::uring::{BufRing, Features, FixedBuffers, UringError, ZcSend};
use iobuf_pool::{BufferPool, Tier};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::sync::Arc;
use uring_common::{
    assert_all_free, pattern, ring_or_skip, skip, slab_watch, watch_slab_of_capacity,
    WATCHED_CAPACITY,
};

/// Pushes `entry`, submits, and returns its completion's result and flags.
///
/// # Safety
/// Everything `entry` names stays valid until this returns.
unsafe fn run_one(ring: &mut IoUring, entry: &io_uring::squeue::Entry) -> (i32, u32) {
    // SAFETY: forwarded to the caller.
    unsafe {
        ring.submission()
            .push(entry)
            .expect("submission queue full")
    };
    ring.submit_and_wait(1).expect("io_uring_enter");
    let c = ring.completion().next().expect("one completion");
    (c.result(), c.flags())
}

/// A `BufRing` dropped off the thread of an `IORING_SETUP_SINGLE_ISSUER`
/// ring cannot unregister (the kernel answers `EEXIST`), so its group stays
/// registered and a later recv makes the kernel write its buffers. The
/// ring then leaks them: the pool behind them must stay alive (before the
/// fix only the buffers' tokens were leaked, and the ring's `Arc` was
/// dropped, freeing the pool's slab under the kernel).
#[test]
fn a_buf_ring_that_cannot_unregister_keeps_its_pool_alive_for_the_kernel() {
    let what = "single-issuer unregister test";
    let mut ring = match IoUring::builder().setup_single_issuer().build(8) {
        Ok(ring) => ring,
        Err(e) => return skip(what, &format!("no single-issuer ring ({e})")),
    };
    let pool = Arc::new(BufferPool::new(Tier::Nano, 2).unwrap());
    let weak = Arc::downgrade(&pool);
    let mut br = BufRing::register(&ring, &pool, 5, 2).unwrap();
    assert_eq!(br.fill().unwrap(), 2);
    drop(pool);
    // Dropped on another thread: the unregister is refused.
    std::thread::spawn(move || drop(br)).join().unwrap();
    let kept = weak
        .upgrade()
        .expect("a ring whose group stays registered keeps its pool alive");
    // A pool made now, every buffer held and marked.
    let fresh = BufferPool::new(Tier::Nano, 2).unwrap();
    let mut held: Vec<_> = (0..2).map(|_| fresh.try_get().unwrap()).collect();
    for g in &mut held {
        g.as_full_mut().fill(0xAA);
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"STILL-ON").unwrap();
    let recv = opcode::Recv::new(types::Fd(rx.as_raw_fd()), std::ptr::null_mut(), 128)
        .buf_group(5)
        .build()
        .flags(io_uring::squeue::Flags::BUFFER_SELECT);
    // SAFETY: the group's buffers are the dropped ring's, leaked with their
    // pool (checked above); `rx` outlives the call.
    let (result, flags) = unsafe { run_one(&mut ring, &recv) };
    assert_eq!(result, 8, "the group is still registered: the kernel wrote");
    for g in &held {
        assert!(g.as_full().iter().all(|&b| b == 0xAA));
    }
    let bid = usize::from(cqueue::buffer_select(flags).expect("a buffer id"));
    let at = kept.buffer_ptr(bid).unwrap().as_ptr();
    // SAFETY: the pool is alive (`kept`); the kernel finished these 8
    // bytes before the completion, and the leaked buffer has no other user.
    assert_eq!(unsafe { std::slice::from_raw_parts(at, 8) }, b"STILL-ON");
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (b, _) = listener.accept().unwrap();
    (a, b)
}

/// A `ZcSend` stands for one operation. Before the fix, a second
/// `entry()` was safe and rebuilt a gathered send's `msghdr`, freeing the
/// one the first (pushed, not yet submitted) entry points at, and two
/// pushed entries meant the buffers came back after the first send's
/// notification while the second still read them. Now the second build
/// is refused and the first entry stays valid.
#[test]
fn a_zero_copy_send_builds_one_entry_only() {
    let what = "one-entry zero-copy send test";
    let Some(mut ring) = ring_or_skip(what, 8) else {
        return;
    };
    if let Err(e) = Features::probe(&ring).unwrap().require_send_zc() {
        return skip(what, &e.to_string());
    }
    let pool = Arc::new(BufferPool::new(Tier::Nano, 3).unwrap());
    let fixed = FixedBuffers::register(&ring, &pool).unwrap();
    let data = pattern(2 * pool.buffer_size(), 21);
    let bufs: Vec<_> = data
        .chunks(pool.buffer_size())
        .map(|c| {
            let mut b = pool.get_owned();
            b.clear();
            b.extend_from_slice_checked(c).unwrap();
            b
        })
        .collect();
    let (tx, mut rx) = tcp_pair();
    let fd = types::Fd(tx.as_raw_fd());
    let mut send = ZcSend::gather(bufs);
    let entry = send.entry(fd).unwrap().user_data(1);
    // SAFETY: `send` holds the buffers and its gather list until complete()
    // gives them back below; `tx` outlives the loop; pushed once.
    unsafe { ring.submission().push(&entry).unwrap() };
    // Pushed, not yet submitted: the kernel has not read the msghdr yet.
    assert!(matches!(send.entry(fd), Err(UringError::EntryBuilt)));
    assert!(matches!(
        send.entry_fixed(fd, &fixed),
        Err(UringError::EntryBuilt) | Err(UringError::Unsupported { .. })
    ));
    // A plain one-buffer send refuses a second fixed entry too.
    let mut one = ZcSend::new(pool.get_owned());
    let _first = one.entry_fixed(fd, &fixed).unwrap();
    assert!(matches!(one.entry(fd), Err(UringError::EntryBuilt)));
    assert!(matches!(
        one.entry_fixed(fd, &fixed),
        Err(UringError::EntryBuilt)
    ));
    drop(one.into_bufs().unwrap_err()); // built: leaked, never returned
    let done = loop {
        ring.submit_and_wait(1).unwrap();
        let c = ring.completion().next().unwrap();
        // SAFETY: a completion of `send`'s one entry, passed once.
        if let Some(done) = unsafe { send.complete(c.result(), c.flags()) }.unwrap() {
            break done;
        }
    };
    assert_eq!(done.sent.unwrap() as usize, data.len());
    let mut got = vec![0; data.len()];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(got, data, "the first entry's gather list was intact");
    drop(done.bufs);
    drop(fixed);
    // Two buffers came back; the unsubmitted-but-built one is leaked.
    let back: Vec<_> = (0..3).map_while(|_| pool.try_get()).collect();
    assert_eq!(back.len(), 2);
}

/// A leaked `FixedBuffers` (and a leaked clone of it on another ring) no
/// longer borrows its pool, which may then be freed and its memory given
/// to a new pool. The kernel still holds the old registration, but it
/// pinned the *pages* at registration: a `READ_FIXED` through it writes
/// those pages at the offset of the address the entry names, and only
/// when that address lies in the registered buffer. So the bytes it can
/// change are the ones the entry names (the same pages, if the memory was
/// never unmapped) or pages nobody maps any more, never another buffer of
/// the new pool. Checked on both rings, for every index.
#[test]
fn leaked_fixed_buffers_and_clones_never_write_a_later_pools_other_buffers() {
    let what = "leaked fixed-buffer test";
    let Some(mut first) = ring_or_skip(what, 4) else {
        return;
    };
    let mut second = IoUring::new(4).unwrap();
    const N: usize = 4;
    let old = BufferPool::new(Tier::Small, N).unwrap();
    let old_base = old.buffer_ptr(0).unwrap().as_ptr() as usize;
    let fixed = FixedBuffers::register(&first, &old).unwrap();
    let clone = match fixed.clone_to(&second) {
        Ok(c) => c,
        Err(UringError::Unsupported { what: why }) => return skip(what, why),
        Err(e) => panic!("clone_to: {e}"),
    };
    std::mem::forget(fixed);
    std::mem::forget(clone);
    drop(old);
    let fresh = BufferPool::new(Tier::Small, N).unwrap();
    let reused = fresh.buffer_ptr(0).unwrap().as_ptr() as usize == old_base;
    let mut guards: Vec<_> = (0..N).map(|_| fresh.try_get().unwrap()).collect();
    guards.sort_by_key(|g| g.index());
    let size = fresh.buffer_size();
    let data = pattern(size, 33);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&data).unwrap();
    for ring in [&mut first, &mut second] {
        for k in 0..N {
            for g in &mut guards {
                g.as_full_mut().fill(0xAA);
            }
            let at = guards[k].as_full_mut().as_mut_ptr();
            let read =
                opcode::ReadFixed::new(types::Fd(file.as_raw_fd()), at, size as u32, k as u16)
                    .offset(0)
                    .build();
            // SAFETY: the entry names guard k's bytes, which the test owns
            // (the guard lives, untouched, until the completion is reaped);
            // `file` stays open.
            let (result, _) = unsafe { run_one(ring, &read) };
            for (j, g) in guards.iter().enumerate() {
                let bytes = g.as_full();
                if j != k {
                    assert!(
                        bytes.iter().all(|&b| b == 0xAA),
                        "buffer {j} changed by a read naming buffer {k} (reused: {reused})"
                    );
                } else if result > 0 {
                    // The same pages, or orphaned ones: the named bytes
                    // are the file's or untouched.
                    let n = result as usize;
                    assert!(
                        bytes[..n] == data[..n] || bytes.iter().all(|&b| b == 0xAA),
                        "buffer {k} holds neither the file nor its own bytes"
                    );
                }
            }
        }
    }
    drop(guards);
    assert_all_free(&fresh);
}

/// One recv selecting from `bgid` (the buffer's whole length) with
/// `msg_flags`, and `sqe_flags` added; its completion's result and flags.
fn recv_with(
    ring: &mut IoUring,
    fd: i32,
    bgid: u16,
    msg_flags: i32,
    sqe_flags: squeue::Flags,
) -> (i32, u32) {
    let recv = opcode::Recv::new(types::Fd(fd), std::ptr::null_mut(), 0)
        .buf_group(bgid)
        .flags(msg_flags)
        .build()
        .flags(squeue::Flags::BUFFER_SELECT | sqe_flags);
    // SAFETY: every buffer group `bgid` may give the kernel (the caller's
    // BufRing's, or none once unregistered) stays valid, and `fd` open,
    // until the completion is reaped here.
    unsafe { run_one(ring, &recv) }
}

/// `MSG_TRUNC` on an incremental ring, issued from io-wq (`IOSQE_ASYNC`
/// here; the kernel also punts a receive there itself, e.g. after many
/// spurious wake-ups). There the kernel consumes the buffer's room
/// *before* receiving, so it does not over-consume: the buffers after the
/// named one stay in its ring. The completion (whole length, no
/// `BUF_MORE`) reads the same as an over-consumption ending on a buffer
/// boundary. Before the fix `take_part` charged the excess to the next
/// buffers and returned the ones it covered to the pool, where a guard got
/// one while the kernel still held it: the next receive wrote into the
/// guard. Now an excess without `BUF_MORE` never returns a buffer.
#[test]
fn a_truncated_receive_from_io_wq_never_returns_a_buffer_the_kernel_holds() {
    let what = "incremental io-wq MSG_TRUNC test";
    let Some(mut ring) = ring_or_skip(what, 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Small, 4).unwrap());
    let size = pool.buffer_size();
    let mut br = match BufRing::register_incremental(&ring, &pool, 9, 4) {
        Ok(br) => br,
        Err(UringError::Unsupported { what: why }) => return skip(what, why),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(br.fill().unwrap(), 4);
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let fd = rx.as_raw_fd();
    // Two and a half buffers' worth, cut to the first buffer.
    let long = pattern(2 * size + size / 2, 4);
    tx.send(&long).unwrap();
    let c = recv_with(&mut ring, fd, 9, libc::MSG_TRUNC, squeue::Flags::ASYNC);
    assert_eq!(c.0 as usize, long.len(), "MSG_TRUNC reports the datagram");
    // SAFETY: one completion of a recv from br's group on br's ring, once.
    let p = unsafe { br.take_part(c.0, c.1) }.unwrap().unwrap();
    assert_eq!((p.offset(), p.len()), (0, size));
    assert_eq!(&p[..], &long[..size]);
    let named = p.index();
    drop(p);
    // Every buffer the pool will give now, held and marked.
    let mut guards: Vec<_> = (0..4).map_while(|_| pool.try_get()).collect();
    for g in &mut guards {
        g.as_full_mut().fill(0xAA);
    }
    assert!(
        guards.iter().all(|g| g.index() == named),
        "only the named buffer may be back, got {:?}",
        guards.iter().map(|g| g.index()).collect::<Vec<_>>()
    );
    // The kernel's next pick is the buffer after the named one.
    let next = pattern(100, 5);
    tx.send(&next).unwrap();
    let c = recv_with(&mut ring, fd, 9, 0, squeue::Flags::empty());
    assert_eq!(c.0, 100);
    for g in &guards {
        assert!(
            g.as_full().iter().all(|&b| b == 0xAA),
            "the kernel wrote buffer {} while a guard held it",
            g.index()
        );
    }
    let bid = cqueue::buffer_select(c.1).expect("a buffer id");
    assert!(br.holds(bid), "the ring still holds the kernel's buffer");
    // Its offsets are no longer known, so the completion is refused and
    // the buffer stays with the ring (its bytes are lost, never raced).
    // SAFETY: as above.
    let refused = unsafe { br.take_part(c.0, c.1) };
    assert!(matches!(refused, Err(UringError::UnknownBuffer { .. })));
    drop(guards);
    drop(br);
    assert_all_free(&pool);
}

/// Why `take_bundle`'s contract rules out `MSG_TRUNC`: a bundle receive
/// with it on a datagram socket reports the datagram's whole length, far
/// more than the buffers the kernel used. `take_bundle` counts buffers from
/// the bytes, so it would hand out buffers still in the kernel's ring (found
/// so: 1300 guards handed out, and the next receive wrote the second one).
/// This checks that kernel behaviour, without breaking the contract: a
/// kernel that stopped reporting such lengths would fail it.
#[test]
fn a_truncated_bundle_reports_bytes_no_buffer_received() {
    let what = "truncated bundle test";
    let Some(mut ring) = ring_or_skip(what, 8) else {
        return;
    };
    if let Err(e) = Features::probe(&ring).unwrap().require_bundles() {
        return skip(what, &e.to_string());
    }
    const N: u16 = 2048;
    // Buffer ids in ring order are consecutive only when the pool hands
    // its buffers out in index order: no thread cache, no reuse slot.
    let pool = Arc::new(
        BufferPool::builder(Tier::Pico, usize::from(N))
            .thread_cache(0)
            .reuse_slot(false)
            .build()
            .unwrap(),
    );
    let size = pool.buffer_size();
    let mut br = BufRing::register(&ring, &pool, 4, N).unwrap();
    assert_eq!(br.fill().unwrap(), usize::from(N));
    let (tx, rx) = UnixDatagram::pair().unwrap();
    let fd = types::Fd(rx.as_raw_fd());
    let long = pattern(1300 * size, 6);
    tx.send(&long).unwrap();
    let recv = opcode::RecvBundle::new(fd, 4)
        .flags(libc::MSG_TRUNC)
        .build();
    // SAFETY: `br` stays registered and `rx` open until the completion.
    let (result, flags) = unsafe { run_one(&mut ring, &recv) };
    assert_eq!(
        result as usize,
        long.len(),
        "MSG_TRUNC reports the datagram"
    );
    let first = cqueue::buffer_select(flags).expect("a buffer id");
    // The next receive's first buffer shows where the kernel's head is.
    tx.send(&pattern(size, 7)).unwrap();
    let recv = opcode::RecvBundle::new(fd, 4).build();
    // SAFETY: as above.
    let (result, flags) = unsafe { run_one(&mut ring, &recv) };
    assert!(result > 0, "{result}");
    let next = cqueue::buffer_select(flags).expect("a buffer id");
    let used = usize::from(next.wrapping_sub(first));
    assert!(
        used < long.len().div_ceil(size),
        "the kernel used {used} buffers, as many as the bytes reported: \
         take_bundle could take MSG_TRUNC completions"
    );
    // The ring's buffers are all still held (nothing was taken): leak the
    // ring rather than take completions outside the contract.
    std::mem::forget(br);
}

/// Parts of an incremental ring's buffer outlive the ring and every other
/// handle of the pool: they keep the pool alive and their bytes readable,
/// and the last one returns the buffer (here: frees the pool).
#[test]
fn parts_outlive_their_ring_and_the_pools_other_handles() {
    let what = "parts outliving their ring test";
    let Some(mut ring) = ring_or_skip(what, 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Small, 2).unwrap());
    let mut br = match BufRing::register_incremental(&ring, &pool, 6, 2) {
        Ok(br) => br,
        Err(UringError::Unsupported { what: why }) => return skip(what, why),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(br.fill().unwrap(), 2);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut parts = Vec::new();
    for msg in [&b"abc"[..], b"defg"] {
        tx.write_all(msg).unwrap();
        let c = recv_with(&mut ring, rx.as_raw_fd(), 6, 0, squeue::Flags::empty());
        // SAFETY: one completion of a recv from br's group on br's ring, once.
        parts.push(unsafe { br.take_part(c.0, c.1) }.unwrap().unwrap());
    }
    let weak = Arc::downgrade(&pool);
    drop(br); // unregistered: the kernel lets go of the buffer
    drop(ring);
    drop(pool);
    assert!(weak.upgrade().is_some(), "the parts keep the pool");
    let second = parts.pop().unwrap();
    let first = parts.pop().unwrap();
    let reader = std::thread::spawn(move || {
        assert_eq!(&second[..], b"defg");
        drop(second);
    });
    assert_eq!(&first[..], b"abc");
    reader.join().unwrap();
    assert!(weak.upgrade().is_some(), "one part is left");
    drop(first);
    assert!(weak.upgrade().is_none(), "the last part let the pool go");
}

/// A zero-copy send leaked after its entry was built keeps its buffer out
/// of the pool, and the pool's memory alive, for good.
#[test]
fn a_forgotten_zero_copy_send_keeps_its_buffer_and_its_pool() {
    watch_slab_of_capacity();
    let pool = BufferPool::new(Tier::Small, WATCHED_CAPACITY).unwrap();
    assert_eq!(slab_watch::live(), 1);
    let mut send = ZcSend::new(pool.get_owned());
    let _entry = send.entry(types::Fd(-1)).unwrap();
    std::mem::forget(send);
    let free: Vec<_> = (0..WATCHED_CAPACITY)
        .map_while(|_| pool.try_get())
        .collect();
    assert_eq!(
        free.len(),
        WATCHED_CAPACITY - 1,
        "the sent buffer stays out of the pool"
    );
    drop(free);
    drop(pool);
    assert_eq!(
        slab_watch::live(),
        1,
        "the leaked send keeps the pool's memory"
    );
}

/// A `BufRing` dropped on another thread (a plain ring) unregisters there:
/// its buffers go back to the pool, and a recv selecting the group after
/// finds none (`ENOBUFS`), so the kernel writes none of them.
#[test]
fn a_buf_ring_dropped_on_another_thread_unregisters_before_returning_buffers() {
    let Some(mut ring) = ring_or_skip("cross-thread drop test", 8) else {
        return;
    };
    let pool = Arc::new(BufferPool::new(Tier::Nano, 4).unwrap());
    let mut br = BufRing::register(&ring, &pool, 8, 4).unwrap();
    assert_eq!(br.fill().unwrap(), 4);
    std::thread::spawn(move || drop(br)).join().unwrap();
    let mut held: Vec<_> = (0..4).map(|_| pool.try_get().unwrap()).collect();
    for g in &mut held {
        g.as_full_mut().fill(0xAA);
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"nowhere").unwrap();
    let (result, flags) = recv_with(&mut ring, rx.as_raw_fd(), 8, 0, squeue::Flags::empty());
    assert_eq!(result, -libc::ENOBUFS, "the group is gone");
    assert!(cqueue::buffer_select(flags).is_none());
    for g in &held {
        assert!(g.as_full().iter().all(|&b| b == 0xAA));
    }
    drop(held);
    assert_all_free(&pool);
}
