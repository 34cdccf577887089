//! Metadata per buffer, the thread caches included: at most 24 bytes at a
//! power-of-two capacity (the ring's 16, the caches' at most 4 of indices,
//! the pool's own state, which lives on the heap since owned buffers may
//! outlive the handle,
//! and their records).
//!
//! A counting global allocator tracks live heap bytes. The slab (2 MiB
//! here) comes from the OS by mmap, not the allocator, so every counted
//! byte is metadata; were the slab counted, the check would fail by two
//! orders of magnitude. One test in this binary, so no other test
//! allocates while it measures.

use iobuf_pool::{BufferPool, Tier};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Barrier;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a static atomic, which allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: forwarded with the caller's own layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: forwarded with the caller's own layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::SeqCst);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

#[test]
fn metadata_per_buffer_with_thread_caches_is_at_most_24_bytes() {
    const CAPACITY: usize = 1024;
    for threads in [1, 8, 16, 64] {
        let before = live();
        let pool = BufferPool::builder(Tier::Small, CAPACITY)
            .thread_cache(64)
            .build()
            .unwrap();
        let pool_bytes = live() - before;
        let barrier = || Barrier::new(threads + 1);
        let (started, go, registered, done) = (barrier(), barrier(), barrier(), barrier());
        let cache_bytes = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        started.wait();
                        go.wait();
                        // The first use registers this thread's cache.
                        let held: Vec<_> = (0..4).map(|_| pool.get()).collect();
                        drop(held);
                        registered.wait();
                        done.wait();
                    })
                })
                .collect();
            started.wait(); // every thread spawned (its own allocations made)
            let spawned = live();
            go.wait();
            registered.wait(); // every thread has its cache
            let with_caches = live();
            done.wait();
            for w in workers {
                w.join().unwrap();
            }
            with_caches - spawned
        });
        let per_buffer = (pool_bytes + cache_bytes) as f64 / CAPACITY as f64;
        println!(
            "{threads} threads: pool {pool_bytes} B, caches {cache_bytes} B: {per_buffer:.1} B per buffer"
        );
        assert!(
            per_buffer <= 24.0,
            "{threads} threads: {per_buffer:.1} bytes of metadata per buffer"
        );
        // The ring alone is 16 bytes a buffer: the count sees it.
        assert!(pool_bytes as usize >= 16 * CAPACITY, "pool {pool_bytes} B");
    }
}
