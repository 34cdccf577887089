//! The get/return paths allocate nothing: a counting global allocator sees
//! zero allocations across many operations of every kind, after warm-up.
//!
//! Only this thread's allocations are counted, so the test harness's own
//! threads cannot disturb the count.

use iobuf_pool::sync::IndexRing;
use iobuf_pool::tiers::SmallBufferPool;
use iobuf_pool::{BoundedPool, BufferPool, LocalCache, Tier, TieredPool};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a thread-local Cell, which allocates nothing itself.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: forwarded with the caller's own layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: forwarded with the caller's own layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|a| a.set(a.get() + 1));
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const ROUNDS: usize = 10_000;

/// A thread's first get or return on a thread-cached pool (what
/// `BufferPool::new` gives) registers the thread's magazine, its one
/// allocation (ARCHITECTURE.md, invariant 5); every later one allocates
/// nothing.
fn warm_up(pool: &BufferPool) {
    drop(pool.try_get());
}

#[test]
fn the_counter_sees_allocations() {
    // The check below would pass vacuously if the counter were broken.
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 10]))) >= 1);
}

#[test]
fn buffer_pool_get_and_return_allocate_nothing() {
    let pool = BufferPool::new(Tier::Small, 8).unwrap();
    warm_up(&pool);
    let n = allocations_in(|| {
        for i in 0..ROUNDS {
            let mut a = pool.try_get().unwrap();
            let b = pool.get();
            a.as_full_mut()[0] = i as u8;
            drop(b);
            drop(a);
            let t = pool
                .get_timeout(std::time::Duration::from_millis(1))
                .unwrap();
            drop(t);
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn owned_and_static_get_and_return_allocate_nothing() {
    let pool = std::sync::Arc::new(BufferPool::new(Tier::Small, 8).unwrap());
    let leaked: &'static BufferPool = BufferPool::new(Tier::Pico, 4).unwrap().leak();
    warm_up(&pool);
    warm_up(leaked);
    let n = allocations_in(|| {
        for i in 0..ROUNDS {
            let mut a = pool.try_get_owned().unwrap();
            let b = pool.get_owned();
            a.clear();
            a.extend_from_slice_checked(&[i as u8]).unwrap();
            drop(b);
            drop(a);
            let t = pool
                .get_owned_timeout(std::time::Duration::from_millis(1))
                .unwrap();
            pool.put_raw(t.into_raw()).unwrap(); // drops the Arc clone only
            let s: iobuf_pool::PooledBuf<'static> = leaked.get();
            drop(s);
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn thread_cache_hits_misses_flushes_and_batches_allocate_nothing() {
    let pool = std::sync::Arc::new(
        BufferPool::builder(Tier::Pico, 64)
            .thread_cache(16)
            .build()
            .unwrap(),
    );
    // Warm-up: this thread's first use registers its cache (one record
    // and its slots, allocated once).
    drop(pool.get());
    let mut batch = Vec::with_capacity(40);
    let n = allocations_in(|| {
        for _ in 0..ROUNDS {
            drop(pool.get()); // a hit
            drop(pool.get_owned()); // owned guards use the cache too
                                    // Misses (refills) and flushes: more than the cache holds.
            let many: [_; 20] = std::array::from_fn(|_| pool.try_get().unwrap());
            drop(many);
            pool.try_get_many(&mut batch, 40);
            pool.put_many(batch.drain(..));
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn raw_token_take_and_return_allocate_nothing() {
    let pool = BufferPool::new(Tier::Pico, 4).unwrap();
    warm_up(&pool);
    let n = allocations_in(|| {
        for _ in 0..ROUNDS {
            let mut raw = pool.take_raw().unwrap();
            pool.raw_bytes_mut(&mut raw).unwrap()[0] = 1;
            pool.put_raw(raw).unwrap();
            let raw = pool.get().into_raw();
            drop(pool.guard(raw).unwrap());
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn cache_hits_and_misses_allocate_nothing() {
    let pool = BufferPool::new(Tier::Pico, 64).unwrap();
    let mut cache = LocalCache::new(&pool, 16).unwrap();
    // Warm-up: the cache's stack was sized at creation.
    let b = cache.get();
    cache.put(b);
    let n = allocations_in(|| {
        for _ in 0..ROUNDS {
            let b = cache.get();
            cache.put(b);
            // Misses and flushes too: take more than the cache holds.
            let many: [_; 20] = std::array::from_fn(|_| cache.get());
            for b in many {
                cache.put(b);
            }
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn typed_and_generic_pools_allocate_nothing() {
    let typed = SmallBufferPool::new(2).unwrap();
    let generic = BoundedPool::new(2, |i| i).unwrap();
    let ring = IndexRing::full(3).unwrap();
    let n = allocations_in(|| {
        for _ in 0..ROUNDS {
            let mut t = typed.get();
            t.as_array_mut()[0] = 1;
            drop(t);
            let g = generic.try_get().unwrap();
            drop(g);
            let i = ring.pop().unwrap();
            // SAFETY: `i` was just popped.
            unsafe { ring.push(i) }.unwrap();
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn waiting_on_a_dry_pool_allocates_nothing() {
    // The backoff path: spin, yield, then jittered sleeps, until the
    // deadline. A few rounds, since each sleeps through the whole schedule.
    let pool = BufferPool::new(Tier::Pico, 1).unwrap();
    let held = pool.get();
    let n = allocations_in(|| {
        for _ in 0..5 {
            let got = pool.get_timeout(std::time::Duration::from_micros(300));
            assert!(got.is_none());
        }
    });
    assert_eq!(n, 0);
    drop(held);
}

#[test]
fn tiered_pool_get_for_allocates_nothing() {
    let tiered = TieredPool::builder()
        .tier(Tier::Pico, 4)
        .tier(Tier::Small, 4)
        .fallback(true)
        .build()
        .unwrap();
    // Warm-up, in case anything is set up on first use (each tier's
    // thread cache registers this thread's magazine).
    drop(tiered.get_for(100).unwrap());
    drop(tiered.get_for(10).unwrap());
    let n = allocations_in(|| {
        for _ in 0..ROUNDS {
            let a = tiered.get_for(100).unwrap();
            let b = tiered.try_get_for(10).unwrap().unwrap();
            assert!(a.len() >= 100 && b.len() >= 10);
        }
    });
    assert_eq!(n, 0);
}
