//! Unit tests of the pool, its guards, tokens and typed pools.

use super::*;
const PICO_SIZE: usize = Tier::Pico.size();
const TITAN_SIZE: usize = Tier::Titan.size();
use std::sync::Arc;

#[test]
fn capacity_is_exact_and_only_the_ring_rounds_up() {
    let pool = BufferPool::new(Tier::Pico, 3).unwrap();
    assert_eq!(pool.capacity(), 3);
    assert_eq!(pool.buffer_size(), PICO_SIZE);
    assert_eq!(pool.slab_iovec().len(), 3 * PICO_SIZE);
    assert_eq!(pool.iovecs().unwrap().len(), 3);
    let held: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
    assert_eq!(held.len(), 3);
}

#[cfg(not(miri))]
#[test]
fn three_titan_buffers_are_three_times_128_mib() {
    // The slab is mapped lazily, so this costs no real memory.
    let pool = BufferPool::new(Tier::Titan, 3).unwrap();
    assert_eq!(pool.slab_iovec().len(), 3 * TITAN_SIZE);
    assert_eq!(
        pool.slab_iovec().as_ptr() as usize % crate::mem::page_size(),
        0
    );
}

#[test]
fn bad_capacities_are_errors() {
    assert_eq!(
        BufferPool::new(Tier::Small, 0).unwrap_err(),
        Error::ZeroCapacity
    );
    // Checked before any size is computed or anything allocated.
    assert!(matches!(
        BufferPool::new(Tier::Titan, usize::MAX / 2),
        Err(Error::CapacityTooLarge { .. })
    ));
    assert!(matches!(
        BufferPool::new(Tier::Pico, crate::ring::MAX_CAPACITY + 1),
        Err(Error::CapacityTooLarge { .. })
    ));
}

#[test]
fn buffers_are_disjoint_aligned_and_keep_their_bytes() {
    let pool = BufferPool::new(Tier::Nano, 4).unwrap();
    let mut bufs: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
    for b in &mut bufs {
        let i = b.index() as u8;
        b.fill(i);
        assert_eq!(b.as_ptr() as usize % 128, 0);
    }
    for b in &bufs {
        assert!(b.iter().all(|&x| x == b.index() as u8));
    }
    let vecs = pool.iovecs().unwrap();
    for b in &bufs {
        assert_eq!(vecs[b.index()].as_ptr() as *const u8, b.as_ptr());
    }
}

#[test]
fn a_buffer_can_be_returned_from_another_thread() {
    let pool = BufferPool::new(Tier::Pico, 1).unwrap();
    let mut buf = pool.get();
    buf.as_full_mut()[0] = 42;
    std::thread::scope(|s| {
        s.spawn(move || drop(buf));
    });
    let again = pool.try_get().unwrap();
    assert_eq!(again.as_full()[0], 42);
}

#[test]
fn raw_tokens_name_their_pool_and_are_consumed() {
    let pool = BufferPool::new(Tier::Pico, 2).unwrap();
    let other = BufferPool::new(Tier::Pico, 2).unwrap();
    assert_ne!(pool.id(), other.id());
    let guard = pool.try_get().unwrap();
    let mut raw = pool.take_raw().unwrap();
    assert!(pool.take_raw().is_none());
    assert_ne!(raw.index(), guard.index());
    assert_eq!(raw.pool_id(), pool.id());
    pool.raw_bytes_mut(&mut raw).unwrap()[0] = 7;
    assert_eq!(pool.raw_bytes(&raw).unwrap()[0], 7);
    // Another pool refuses the token at every door, and is unchanged.
    assert!(matches!(
        other.raw_bytes_mut(&mut raw),
        Err(Error::WrongPool { .. })
    ));
    assert!(other.raw_bytes(&raw).is_err());
    assert!(!other.owns(&raw) && pool.owns(&raw));
    let other_raw = other.take_raw().unwrap();
    assert_eq!(
        pool.put_raw(other_raw),
        Err(Error::WrongPool {
            index: 0,
            pool_id: other.id()
        })
    );
    assert!(other.try_get().is_some()); // one left there: one leaked
                                        // The token turns back into a guard with its bytes.
    let g = pool.guard(raw).unwrap();
    assert_eq!(g.as_full()[0], 7);
    drop(g);
    drop(guard);
    let all: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
    assert_eq!(all.len(), 2);
}

#[test]
fn into_raw_and_back_to_a_guard() {
    let pool = BufferPool::new(Tier::Pico, 1).unwrap();
    let raw = pool.get().into_raw();
    assert!(pool.try_get().is_none());
    assert_eq!(
        pool.buffer_ptr(raw.index()).unwrap().as_ptr(),
        pool.slab_iovec().as_ptr()
    );
    assert!(pool.buffer_ptr(1).is_err());
    let guard = pool.guard(raw).unwrap();
    drop(guard);
    assert!(pool.try_get().is_some());
}

#[test]
fn an_index_round_trip_is_checked_for_range() {
    let pool = BufferPool::new(Tier::Pico, 2).unwrap();
    let i = pool.take_raw().unwrap().into_index();
    // SAFETY: `i` came from into_index on this pool; rebuilt once. The
    // second call fails its range check before making anything.
    let raw = unsafe { pool.raw_from_index(i) }.unwrap();
    assert!(matches!(
        // SAFETY: out of range, so refused before anything is made.
        unsafe { pool.raw_from_index(2) },
        Err(Error::IndexOutOfRange { .. })
    ));
    pool.put_raw(raw).unwrap();
    let all: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
    assert_eq!(all.len(), 2);
}

/// Registration paths make no reference to the whole slab: under Miri
/// (Stacked and Tree Borrows) this fails if `slab_iovec` or `iovecs`
/// reborrowed the slab while a guard's `&mut` to its buffer is alive
/// and written, on this thread and on another.
#[test]
fn registration_vectors_do_not_borrow_the_slab() {
    let pool = BufferPool::new(Tier::Pico, 4).unwrap();
    let mut a = pool.get();
    let bytes: &mut [u8] = a.as_full_mut();
    bytes[0] = 1;
    let whole = pool.slab_iovec();
    let each = pool.iovecs().unwrap();
    bytes[1] = 2; // the &mut is still valid after both calls
    assert_eq!(whole.len(), 4 * PICO_SIZE);
    assert_eq!(each[a.index()].as_ptr() as *const u8, a.as_full().as_ptr());
    std::thread::scope(|s| {
        let mut b = pool.get();
        let writer = s.spawn(move || {
            b.as_full_mut().fill(9);
            b
        });
        for _ in 0..10 {
            let _ = pool.slab_iovec();
            let _ = pool.iovecs().unwrap();
        }
        let b = writer.join().unwrap();
        assert!(b.as_full().iter().all(|&x| x == 9));
    });
    assert_eq!(a.as_full()[..2], [1, 2]);
}

#[test]
fn typed_guards_deref_to_exactly_their_bytes() {
    let pool = crate::tiers::HugeBufferPool::new(1).unwrap();
    let mut b = pool.get();
    assert_eq!((b.len(), b.capacity()), (0, crate::tier::HUGE_SIZE));
    assert_eq!(b.as_array_mut().len(), b.capacity());
    let tp = crate::tiers::PicoBufferPool::new(1).unwrap();
    assert_eq!(tp.pool().tier(), Tier::Pico);
    assert_eq!(tp.get().as_array().len(), PICO_SIZE);
}

#[cfg(not(miri))]
#[test]
fn get_timeout_gives_up_on_a_dry_pool() {
    let pool = BufferPool::new(Tier::Pico, 1).unwrap();
    let _held = pool.get();
    assert!(pool.get_timeout(Duration::from_millis(5)).is_none());
}

#[test]
fn typed_pools_give_arrays_of_their_tier() {
    let pool = crate::tiers::PicoBufferPool::new(2).unwrap();
    assert_eq!(crate::tiers::PicoBufferPool::TIER, Tier::Pico);
    let mut b = pool.try_get().unwrap();
    let arr: &mut [u8; 32] = b.as_array_mut();
    arr[31] = 5;
    assert_eq!(b.as_array()[31], 5);
    assert_eq!(b.into_buf().capacity(), 32);
    assert_eq!(crate::tiers::TitanBufferPool::TIER.size(), TITAN_SIZE);
}

#[test]
fn stats_count_use_misses_and_the_high_water_mark() {
    for pool in [
        BufferPool::new(Tier::Pico, 3).unwrap(),
        BufferPool::builder(Tier::Pico, 3)
            .thread_cache(0)
            .reuse_slot(false)
            .build()
            .unwrap(),
    ] {
        let s = pool.stats();
        assert_eq!((s.capacity, s.free, s.in_use, s.high_water), (3, 3, 0, 0));
        let held: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
        assert_eq!(held.len(), 3);
        assert!(pool.try_get().is_none());
        let s = pool.stats();
        assert_eq!((s.free, s.in_use, s.high_water), (0, 3, 3));
        // The loop above failed once, plus this one.
        assert_eq!(s.failed_try_gets, 2);
        drop(held);
        let one = pool.try_get().unwrap();
        let s = pool.stats();
        assert_eq!((s.free, s.in_use, s.high_water, s.waiters), (2, 1, 3, 0));
        // Blocking and owned gets do not count as failed try_gets.
        drop(one);
        let _g = pool.get_timeout(Duration::from_millis(1)).unwrap();
        assert_eq!(pool.stats().failed_try_gets, 2);
    }
}

#[test]
fn filled_length_write_and_full_access() {
    use std::io::Write;
    let pool = BufferPool::new(Tier::Pico, 1).unwrap();
    let mut b = pool.get();
    assert_eq!((b.len(), b.capacity(), b.spare_mut().len()), (0, 32, 32));
    b.write_all(b"0123456789").unwrap();
    assert_eq!(&b[..], b"0123456789");
    // Short when full: 22 bytes of room for 30.
    assert_eq!(b.write(&[b'x'; 30]).unwrap(), 22);
    assert_eq!(b.write(b"y").unwrap(), 0);
    assert!(b.write_all(b"y").is_err());
    assert_eq!(b.len(), 32);
    assert_eq!(
        b.set_len(33),
        Err(Error::LengthTooLarge {
            len: 33,
            capacity: 32
        })
    );
    b.set_len(2).unwrap();
    assert_eq!(&b[..], b"01");
    assert_eq!(&b.as_full()[..10], b"0123456789"); // the bytes stay
    b.as_full_mut()[2] = b'!';
    b.set_len(3).unwrap();
    assert_eq!(&b[..], b"01!");
    // A guard rebuilt from a token starts empty, as every guard; the bytes
    // stay in the buffer.
    let raw = b.into_raw();
    let g = pool.guard(raw).unwrap();
    assert_eq!(g.len(), 0);
    assert_eq!(&g.as_full()[..3], b"01!");
}

/// The core's reference count, and a flag set when the core is freed.
fn refs_and_freed(pool: &BufferPool) -> (usize, Arc<std::sync::atomic::AtomicBool>) {
    let core = pool.core();
    (core.refs().load(Ordering::SeqCst), Arc::clone(&core.freed))
}

/// A pool of 8 Pico buffers with a thread cache of 4, or none.
fn owned_test_pool(cache: usize) -> BufferPool {
    BufferPool::builder(Tier::Pico, 8)
        .thread_cache(cache)
        .build()
        .unwrap()
}

#[test]
fn owned_guards_outlive_their_pool_which_is_freed_once_by_the_last() {
    for cache in [0, 4] {
        let pool = owned_test_pool(cache);
        let (_, freed) = refs_and_freed(&pool);
        let mut a = pool.get_owned();
        a.extend_from_slice_checked(b"abc").unwrap();
        let b = pool.get_owned();
        drop(pool); // the guards keep the memory
        assert!(
            !freed.load(Ordering::SeqCst),
            "cache {cache}: freed under live guards"
        );
        // The guard's view of its pool still works, and its gets are
        // served from the buffers returned since.
        assert_eq!(a.pool().capacity(), 8);
        assert!(a.pool().try_get().is_some());
        let c = a.pool().get_owned();
        let t = std::thread::spawn(move || {
            assert_eq!(&a[..], b"abc");
            drop(a); // on another thread, which has no cache of the pool
            drop(c);
        });
        t.join().unwrap();
        assert!(
            !freed.load(Ordering::SeqCst),
            "cache {cache}: freed under `b`"
        );
        drop(b);
        assert!(
            freed.load(Ordering::SeqCst),
            "cache {cache}: not freed by the last guard"
        );
    }
}

#[test]
fn a_thread_cached_pool_moves_owned_references_without_touching_the_count() {
    let pool = owned_test_pool(4);
    let (before, _) = refs_and_freed(&pool);
    assert_eq!(before, 1, "the handle's own");
    let first = pool.get_owned();
    let (refilled, _) = refs_and_freed(&pool);
    drop(first);
    // Fewer under Miri, which checks every access and runs far slower.
    for _ in 0..if cfg!(miri) { 40 } else { 1000 } {
        let a = pool.get_owned();
        let b = pool.try_get_owned().unwrap();
        drop((a, b));
    }
    // One refill of the stock, then nothing: gets and drops in balance on
    // one thread move references between buffers and the stock only.
    assert_eq!(refs_and_freed(&pool).0, refilled);
    assert!(refilled > 1);
    // A plain pool counts each owned buffer.
    let plain = owned_test_pool(0);
    let held = plain.get_owned();
    assert_eq!(refs_and_freed(&plain).0, 2);
    drop(held);
    assert_eq!(refs_and_freed(&plain).0, 1);
}

#[test]
fn handing_owned_buffers_between_threads_keeps_the_count_bounded() {
    let pool = owned_test_pool(4);
    let (tx, rx) = std::sync::mpsc::sync_channel::<OwnedBuf>(2);
    let sink = std::thread::spawn(move || {
        let mut n = 0;
        for buf in rx {
            drop(buf); // the drops fill this thread's stock, which sheds
            n += 1;
        }
        n
    });
    let sent = if cfg!(miri) { 40 } else { 500 };
    for _ in 0..sent {
        tx.send(pool.get_owned()).unwrap();
    }
    drop(tx);
    assert_eq!(sink.join().unwrap(), sent);
    let (refs, freed) = refs_and_freed(&pool);
    // The handle, and what the two stocks (this thread's and the exited
    // sink's, orphaned) hold: at most two full stocks.
    let most = 1 + 2 * 2 * crate::thread_cache::STOCK_BATCH;
    assert!(refs <= most, "{refs} references with no buffer out");
    drop(pool);
    assert!(
        freed.load(Ordering::SeqCst),
        "the stocks kept the core alive"
    );
}

#[test]
fn closing_takes_the_stock_of_a_live_idle_thread() {
    let pool = owned_test_pool(4);
    let (_, freed) = refs_and_freed(&pool);
    let held = pool.get_owned();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let idle = std::thread::spawn(move || {
        drop(held.pool().get_owned()); // this thread's stock holds references
        ready_tx.send(()).unwrap();
        go_rx.recv().unwrap(); // parked, alive, while the pool drops
        held
    });
    ready_rx.recv().unwrap();
    let refs = refs_and_freed(&pool).0;
    assert!(
        refs > 2,
        "the idle thread's stock holds references ({refs})"
    );
    drop(pool);
    assert!(!freed.load(Ordering::SeqCst), "`held` is alive");
    go_tx.send(()).unwrap();
    let held = idle.join().unwrap();
    drop(held); // the last one: the idle thread's stock was taken at close
    assert!(freed.load(Ordering::SeqCst));
}

#[test]
fn into_raw_gives_up_the_owned_reference() {
    let pool = owned_test_pool(0);
    let raw = pool.get_owned().into_raw();
    assert_eq!(
        refs_and_freed(&pool).0,
        1,
        "into_raw released its reference"
    );
    pool.put_raw(raw).unwrap();
    assert!(pool.try_get().is_some());
    let arc = Arc::new(owned_test_pool(4));
    let buf = arc.get_owned(); // through an Arc, as before
    drop(arc);
    assert_eq!(buf.pool().capacity(), 8);
}

#[test]
fn guards_are_send_and_pools_sync() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<PooledBuf<'static>>();
    sync::<BufferPool>();
    send::<BufferPool>();
}
