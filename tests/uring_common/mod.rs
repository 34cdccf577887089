//! Helpers the io_uring test files share: skipping where io_uring is
//! unavailable, a byte pattern, the all-back check of a pool, and an
//! allocator that watches one slab layout.
#![allow(dead_code)]

#[path = "../slab_watch/mod.rs"]
pub mod slab_watch;

/// The capacity of a pool whose memory a test watches
/// ([`watch_slab_of_capacity`]): 5 Small buffers make a 10,240-byte
/// page-aligned slab, which no other test of these binaries allocates (one
/// test per binary uses it).
pub const WATCHED_CAPACITY: usize = 5;

/// Watches the slab of a pool of [`WATCHED_CAPACITY`] Small buffers.
pub fn watch_slab_of_capacity() {
    slab_watch::watch(WATCHED_CAPACITY * iobuf_pool::Tier::Small.size());
}

use io_uring::IoUring;
use iobuf_pool::uring::is_unavailable;
use iobuf_pool::BufferPool;
use std::io::Write;

/// Prints a skip notice where `cargo test` shows it without `--nocapture`.
pub fn skip(what: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {what} because {why}");
}

/// A ring of `entries`, or `None` (with a notice) where io_uring is off.
pub fn ring_or_skip(what: &str, entries: u32) -> Option<IoUring> {
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
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
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

/// Asserts that every buffer of `pool` is free: all can be taken, no more.
pub fn assert_all_free(pool: &BufferPool) {
    pool.flush_thread_cache();
    let all: Vec<_> = (0..pool.capacity()).map_while(|_| pool.try_get()).collect();
    assert_eq!(
        all.len(),
        pool.capacity(),
        "a buffer is missing from the pool"
    );
    assert!(pool.try_get().is_none());
}
