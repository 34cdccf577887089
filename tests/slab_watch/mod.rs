//! A global allocator that counts the live allocations of one watched slab
//! size (page aligned): the one way to see from outside a pool that its
//! memory is freed, or kept, once its handle is gone. A test binary that
//! includes this module picks one size no other test of it allocates.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The watched size in bytes (0: none).
static WATCHED: AtomicUsize = AtomicUsize::new(0);
/// Live page-aligned allocations of the watched size.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Watches page-aligned allocations of `bytes`.
pub fn watch(bytes: usize) {
    WATCHED.store(bytes, Ordering::SeqCst);
}

/// How many watched slabs are alive now.
pub fn live() -> usize {
    LIVE.load(Ordering::SeqCst)
}

/// The system allocator, counting the watched slabs.
struct SlabCounter;

fn is_watched(layout: Layout) -> bool {
    layout.align() >= 4096 && layout.size() == WATCHED.load(Ordering::Relaxed)
}

// SAFETY: every call is forwarded to `System` unchanged; the counter is a
// side effect only.
unsafe impl GlobalAlloc for SlabCounter {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_watched(layout) {
            LIVE.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded: the caller's layout contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_watched(layout) {
            LIVE.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_watched(layout) {
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
        // SAFETY: forwarded: `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: SlabCounter = SlabCounter;
