//! Real file I/O through pool buffers, without io_uring: `writev`/`readv`
//! with [`PooledBuf::as_iovec`], and `O_DIRECT` reads into the page-aligned slab.
//!
//! Where the filesystem refuses O_DIRECT, the test says so on stderr
//! ("skipped: ... because ...") and returns.
// Real system calls: not for Miri, which cannot run them.
#![cfg(all(unix, not(miri)))]

use iobuf_pool::{BufferPool, IoVec, Tier};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Prints where `cargo test` shows it without `--nocapture` (the harness
/// captures `eprintln!`, not direct writes to stderr).
fn skip(what: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {what} because {why}");
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ (i >> 9) as u8 ^ seed)
        .collect()
}

fn check(r: libc::ssize_t) -> usize {
    assert!(r >= 0, "{}", std::io::Error::last_os_error());
    r as usize
}

#[test]
fn writev_then_readv_through_pool_buffers() {
    let pool = BufferPool::new(Tier::Small, 6).unwrap();
    let size = pool.buffer_size();
    let data = pattern(3 * size, 1);
    let mut out: Vec<_> = (0..3).map(|_| pool.get()).collect();
    for (buf, chunk) in out.iter_mut().zip(data.chunks(size)) {
        buf.copy_from_slice(chunk);
    }
    let vecs: Vec<IoVec> = out.iter_mut().map(|b| b.as_iovec()).collect();
    let (ptr, n) = IoVec::addr_len(&vecs);
    let mut file = tempfile::tempfile().unwrap();
    // SAFETY: the vectors describe the live buffers in `out`, which nothing
    // else touches during the call.
    let written = check(unsafe { libc::writev(file.as_raw_fd(), ptr, n as libc::c_int) });
    assert_eq!(written, 3 * size);
    let mut back = Vec::new();
    file.rewind().unwrap();
    file.read_to_end(&mut back).unwrap();
    assert_eq!(back, data);

    // Read it back into three other buffers, in a different order.
    let mut inn: Vec<_> = (0..3).map(|_| pool.get()).collect();
    inn.reverse();
    let vecs: Vec<IoVec> = inn.iter_mut().map(|b| b.as_iovec()).collect();
    let raw = IoVec::as_raw_slice(&vecs);
    file.rewind().unwrap();
    // SAFETY: as above, for `inn`.
    let read = check(unsafe { libc::readv(file.as_raw_fd(), raw.as_ptr(), raw.len() as i32) });
    assert_eq!(read, 3 * size);
    for (buf, chunk) in inn.iter().zip(data.chunks(size)) {
        assert_eq!(&buf[..], chunk);
    }
    drop((out, inn));
    assert_eq!(
        (0..6).map_while(|_| pool.try_get()).count(),
        6,
        "every buffer back"
    );
}

/// Opens `path` for reading with O_DIRECT; `Ok(None)` where the filesystem
/// refuses it (EINVAL).
fn open_direct(path: &std::path::Path) -> std::io::Result<Option<std::fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
    {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The test's target tmpdir, the current directory, the OS temp dir.
fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = option_env!("CARGO_TARGET_TMPDIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Ok(d) = std::env::current_dir() {
        dirs.push(d);
    }
    dirs.push(std::env::temp_dir());
    dirs
}

/// O_DIRECT reads of `data` from a file in `dir` into pool buffers, checked.
/// `Err(why)` where this directory's filesystem refuses O_DIRECT.
#[cfg(target_os = "linux")]
fn direct_reads_in(dir: &std::path::Path, pool: &BufferPool, data: &[u8]) -> Result<(), String> {
    let size = pool.buffer_size();
    let page = iobuf_pool::page_size();
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| format!("{}: cannot create a file ({e})", dir.display()))?;
    tmp.write_all(data).unwrap();
    tmp.as_file().sync_all().unwrap();
    let file = open_direct(tmp.path())
        .unwrap()
        .ok_or_else(|| format!("{}: open(O_DIRECT) gives EINVAL", dir.display()))?;
    // Every pool buffer starts on a page: each is a valid O_DIRECT target
    // on its own.
    let mut bufs: Vec<_> = (0..4).map(|_| pool.get()).collect();
    assert!(bufs.iter().all(|b| b.as_ptr() as usize % page == 0));
    // One pread per buffer at an aligned offset, out of order...
    for (c, buf) in bufs.iter_mut().enumerate().rev() {
        // SAFETY: `buf` is a live guard, exclusively ours, for the call.
        let r = unsafe {
            libc::pread(
                file.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                size,
                (c * size) as libc::off_t,
            )
        };
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
            return Err(format!("{}: the O_DIRECT read gives EINVAL", dir.display()));
        }
        assert_eq!(check(r), size);
        assert_eq!(&buf[..], &data[c * size..(c + 1) * size], "chunk {c}");
    }
    // ...then the whole file with one preadv into all four.
    for buf in &mut bufs {
        buf.fill(0);
    }
    let vecs: Vec<IoVec> = bufs.iter_mut().map(|b| b.as_iovec()).collect();
    let (ptr, n) = IoVec::addr_len(&vecs);
    // SAFETY: the vectors describe the live guards in `bufs`.
    let r = unsafe { libc::preadv(file.as_raw_fd(), ptr, n as libc::c_int, 0) };
    assert_eq!(check(r), 4 * size);
    let joined: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
    assert_eq!(joined, data);
    Ok(())
}

#[cfg(target_os = "linux")]
#[test]
fn o_direct_pread_and_preadv_into_page_aligned_pool_buffers() {
    let pool = BufferPool::new(Tier::Large, 4).unwrap();
    assert_eq!(
        pool.slab_iovec().as_ptr() as usize % iobuf_pool::page_size(),
        0
    );
    let data = pattern(4 * pool.buffer_size(), 9);
    let mut tried = Vec::new();
    for dir in candidate_dirs() {
        match direct_reads_in(&dir, &pool, &data) {
            Ok(()) => return,
            Err(why) => tried.push(why),
        }
    }
    skip(
        "O_DIRECT read test",
        &format!("no directory here supports O_DIRECT ({})", tried.join("; ")),
    );
}
