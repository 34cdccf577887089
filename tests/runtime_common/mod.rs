//! Helpers shared by the runtime integration tests (tests/tokio_uring.rs,
//! tests/monoio.rs).

use iobuf_pool::BufferPool;
use std::io::Write;

/// A pattern that differs at every offset of a buffer, so that a shifted or
/// partial copy does not pass.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A temporary file holding `bytes`.
pub fn temp_file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

/// Every buffer of `pool` is free, and really takeable, every one of them.
pub fn assert_all_back(pool: &BufferPool) {
    let s = pool.stats();
    assert_eq!((s.in_use, s.free), (0, s.capacity), "{s:?}");
    let held: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
    assert_eq!(held.len(), pool.capacity());
}
