//! The `io` scenario's I/O side: per worker thread an io_uring instance and
//! a scratch file whose every 8-byte word is known, so that a read can be
//! checked without keeping a copy of the file.
//!
//! The scratch file is unnamed (`tempfile::tempfile`, in `$TMPDIR`): the
//! system removes it when the case closes it, even if the run is killed.
//! It is written just before the case, so reads come from the page cache:
//! the kernel's share of each operation is a system call and a copy, not a
//! disk.

use crate::scenario::IoParams;
use io_uring::{opcode, squeue, types, IoUring};
use iobuf_pool::uring::{is_unavailable, FixedBuffers};
use iobuf_pool::BufferPool;
use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::AsRawFd;

/// The word the scratch file with `seed` holds at byte `offset` (a
/// multiple of 8). Multiplying by an odd constant is a bijection, so every
/// offset of one file holds a different word, and a read that lands at the
/// wrong offset shows; the seed differs per thread and case, so bytes from
/// another thread's file show too.
#[inline]
pub fn pattern_word(seed: u64, offset: u64) -> u64 {
    (offset ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Where a read of `len` bytes (a multiple of 8, at least 8) is checked:
/// its first, middle and last words.
#[inline]
fn check_points(len: usize) -> [usize; 3] {
    [0, (len / 2) & !7, len - 8]
}

#[inline]
fn word_at(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Overwrites the words [`verify`] will look at with what the file does
/// not hold there, so that a read that never lands (or lands short) cannot
/// pass on what the buffer held before.
#[inline]
pub fn poison(bytes: &mut [u8], seed: u64, file_offset: u64, len: usize) {
    for at in check_points(len) {
        let bad = !pattern_word(seed, file_offset + at as u64);
        bytes[at..at + 8].copy_from_slice(&bad.to_le_bytes());
    }
}

/// Whether a read of `len` bytes at `file_offset` that returned `got`
/// bytes brought the file's bytes into `bytes`.
#[inline]
pub fn verify(bytes: &[u8], seed: u64, file_offset: u64, len: usize, got: usize) -> bool {
    got == len
        && check_points(len)
            .into_iter()
            .all(|at| word_at(bytes, at) == pattern_word(seed, file_offset + at as u64))
}

/// A scratch file of `size` bytes (a multiple of 8) holding
/// [`pattern_word`]s, unnamed in `$TMPDIR`.
pub fn scratch_file(size: u64, seed: u64) -> io::Result<File> {
    const CHUNK: u64 = 64 << 10;
    let mut file = tempfile::tempfile()?;
    let mut chunk = Vec::with_capacity(CHUNK as usize);
    let mut offset = 0;
    while offset < size {
        let end = (offset + CHUNK).min(size);
        chunk.clear();
        for at in (offset..end).step_by(8) {
            chunk.extend_from_slice(&pattern_word(seed, at).to_le_bytes());
        }
        file.write_all(&chunk)?;
        offset = end;
    }
    Ok(file)
}

/// splitmix64: spreads consecutive inputs over all 64 bits.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Why a thread's I/O could not be set up.
#[derive(Debug)]
pub enum SetupError {
    /// io_uring is missing or switched off here: the scenario cannot run.
    Unavailable(String),
    /// The pool could not be registered as fixed buffers (locked-memory
    /// limit, too many or too large buffers): its `-fixed` row cannot run.
    Fixed(String),
    /// Anything else: the scratch file could not be written, ….
    Other(String),
}

/// Checks that io_uring works here, before any case runs.
pub fn probe() -> Result<(), String> {
    match IoUring::new(1) {
        Ok(_) => Ok(()),
        Err(e) if is_unavailable(&e) => Err(format!(
            "io_uring is unavailable here ({e}); the io scenario needs it \
             (run the others with --scenario pairs,handoff,burst,hold)"
        )),
        Err(e) => Err(format!("cannot create an io_uring instance: {e}")),
    }
}

/// One worker's ring, file, and (for the `-fixed` rows) the pool
/// registered with the ring.
pub struct IoThread<'p> {
    pub ring: IoUring,
    file: File,
    seed: u64,
    read_len: usize,
    /// Read-sized steps that fit in the file.
    steps: u64,
    next_step: u64,
    fixed: Option<FixedBuffers<'p>>,
}

impl<'p> IoThread<'p> {
    /// Sets up worker `id`'s I/O for buffers of `buffer_size` bytes;
    /// `nonce` differs per case, so that no two files of a run match.
    pub fn new(
        params: &IoParams,
        buffer_size: usize,
        id: usize,
        nonce: u64,
        fixed: Option<&'p BufferPool>,
    ) -> Result<Self, SetupError> {
        let entries = params.queue_depth.next_power_of_two() as u32;
        let ring = IoUring::new(entries).map_err(|e| {
            if is_unavailable(&e) {
                SetupError::Unavailable(format!(
                    "io_uring is unavailable here ({e}); the io scenario needs it"
                ))
            } else {
                SetupError::Other(format!("cannot create an io_uring instance: {e}"))
            }
        })?;
        let fixed = match fixed {
            Some(pool) => Some(
                FixedBuffers::register(&ring, pool)
                    .map_err(|e| SetupError::Fixed(e.to_string()))?,
            ),
            None => None,
        };
        let seed = mix(nonce ^ mix(id as u64));
        let file = scratch_file(params.file_size, seed).map_err(|e| {
            SetupError::Other(format!(
                "cannot write the io scenario's scratch file in {}: {e}",
                std::env::temp_dir().display()
            ))
        })?;
        let read_len = params.read_len(buffer_size);
        Ok(IoThread {
            ring,
            file,
            seed,
            read_len,
            steps: (params.file_size / read_len as u64).max(1),
            next_step: 0,
            fixed,
        })
    }

    /// The file's pattern seed, for [`poison`] and [`verify`].
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Bytes per read.
    pub fn read_len(&self) -> usize {
        self.read_len
    }

    /// The next read's file offset: through the file in read-sized steps,
    /// wrapping at its end.
    pub fn next_offset(&mut self) -> u64 {
        let step = self.next_step;
        self.next_step = (step + 1) % self.steps;
        step * self.read_len as u64
    }

    /// The read of [`read_len`](Self::read_len) bytes at `offset` into
    /// `buf`, which is the start of pool buffer `index`: a READ_FIXED of
    /// that index where the pool is registered, a plain READ otherwise.
    /// Building it is safe; pushing it promises that the buffer stays owned
    /// until its completion.
    pub fn read_entry(
        &self,
        buf: *mut u8,
        index: usize,
        offset: u64,
        user_data: u64,
    ) -> Result<squeue::Entry, String> {
        let fd = types::Fd(self.file.as_raw_fd());
        let entry = match &self.fixed {
            // SAFETY: the caller owns buffer `index` (its guard) until the
            // entry's completion, the promise it makes when it pushes it.
            Some(fixed) => unsafe { fixed.read_fixed_index(fd, index, 0..self.read_len, offset) }
                .map_err(|e| e.to_string())?,
            // read_len ≤ the buffer ≤ 1 GiB (the file's limit), so it fits.
            None => opcode::Read::new(fd, buf, self.read_len as u32)
                .offset(offset)
                .build(),
        };
        Ok(entry.user_data(user_data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn the_scratch_file_holds_its_pattern_and_reads_check() {
        let seed = mix(7);
        let file = scratch_file(3 * 4096, seed).unwrap();
        assert_eq!(file.metadata().unwrap().len(), 3 * 4096);
        let mut buf = vec![0u8; 2048];
        file.read_exact_at(&mut buf, 4096).unwrap();
        assert_eq!(word_at(&buf, 8), pattern_word(seed, 4096 + 8));
        assert!(verify(&buf, seed, 4096, 2048, 2048));
        // Short, misplaced, or another file's: all caught.
        assert!(!verify(&buf, seed, 4096, 2048, 2040));
        assert!(!verify(&buf, seed, 4096 + 2048, 2048, 2048));
        assert!(!verify(&buf, mix(8), 4096, 2048, 2048));
        // One flipped byte in any checked word is caught.
        for at in check_points(2048) {
            let mut bad = buf.clone();
            bad[at + 3] ^= 0x40;
            assert!(!verify(&bad, seed, 4096, 2048, 2048), "word at {at}");
        }
    }

    #[test]
    fn a_poisoned_buffer_fails_until_the_read_lands() {
        let seed = mix(1);
        let file = scratch_file(4096, seed).unwrap();
        let mut buf = vec![0u8; 64];
        file.read_exact_at(&mut buf, 128).unwrap();
        assert!(verify(&buf, seed, 128, 64, 64));
        // The same bytes left over from an earlier holding must not pass.
        poison(&mut buf, seed, 128, 64);
        assert!(!verify(&buf, seed, 128, 64, 64));
        file.read_exact_at(&mut buf, 128).unwrap();
        assert!(verify(&buf, seed, 128, 64, 64));
        // The smallest read: 16 bytes, two words, both checked.
        assert_eq!(check_points(16), [0, 8, 8]);
    }

    #[test]
    fn offsets_step_through_the_file_and_wrap() {
        let params = IoParams {
            file_size: 4096,
            read_size: Some(1024),
            ..IoParams::default()
        };
        let mut io = match IoThread::new(&params, 2048, 0, 1, None) {
            Ok(io) => io,
            Err(SetupError::Unavailable(why)) => {
                let _ = writeln!(std::io::stderr(), "skipped: offsets test because {why}");
                return;
            }
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(io.read_len(), 1024);
        let offsets: Vec<u64> = (0..6).map(|_| io.next_offset()).collect();
        assert_eq!(offsets, [0, 1024, 2048, 3072, 0, 1024]);
    }
}
