//! Helpers shared by the runtime integration tests (tests/tokio_uring.rs,
//! tests/monoio.rs, tests/compio.rs).

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

/// The short-read file copy every runtime test runs with the same code
/// shape: a source of `COPY_LEN` bytes, not a multiple of `COPY_TIER`'s
/// 2 KiB buffers, so the last read is short (1,234 bytes) and lands in a
/// buffer whose earlier use left a full 2 KiB of other bytes in it.
pub const COPY_LEN: usize = 2048 * 37 + 1234;

/// The tier of the copy's pool.
pub const COPY_TIER: iobuf_pool::Tier = iobuf_pool::Tier::Small;

/// The copy's source: a temp file of `COPY_LEN` pattern bytes, and them.
pub fn copy_source() -> (tempfile::NamedTempFile, Vec<u8>) {
    let data = pattern(COPY_LEN, 42);
    (temp_file_with(&data), data)
}

/// The copy's destination holds exactly `data`, byte for byte: a stale
/// tail after the last, short read would make it longer, a short write
/// shorter.
pub fn assert_copied(dst: &std::path::Path, data: &[u8]) {
    let got = std::fs::read(dst).unwrap();
    assert_eq!(got.len(), data.len(), "copied length");
    if let Some(at) = got.iter().zip(data).position(|(a, b)| a != b) {
        panic!("the copy differs from byte {at} on");
    }
}
