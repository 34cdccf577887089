//! File copy: O_DIRECT reads into page-aligned pool buffers, writes through
//! io_uring fixed buffers (READ_FIXED then WRITE_FIXED per chunk, `--depth`
//! chunks in flight). Prints the throughput.
//!
//! ```text
//! cargo run --release --features io-uring --example uring_copy -- [SRC DST] [--mib N] [--depth N] [--dir DIR]
//! ```
//!
//! Without SRC and DST it copies a generated file of `--mib` MiB (default
//! 256) inside `--dir` (default: the OS temp dir), checks the copy byte for
//! byte, and deletes both.

use io_uring::{types, IoUring};
use iobuf_pool::uring::{cqe_result, is_unavailable, FixedBuffers};
use iobuf_pool::{BufferPool, Tier};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Chunk size: one pool buffer.
const TIER: Tier = Tier::Great; // 512 KiB

struct Args {
    paths: Option<(PathBuf, PathBuf)>,
    mib: usize,
    depth: usize,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut args = Args {
        paths: None,
        mib: 256,
        depth: 16,
        dir: std::env::temp_dir(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--mib" => args.mib = parse_num(&value("--mib")?)?,
            "--depth" => args.depth = parse_num(&value("--depth")?)?,
            "--dir" => args.dir = PathBuf::from(value("--dir")?),
            "-h" | "--help" => {
                return Err("usage: uring_copy [SRC DST] [--mib N] [--depth N] [--dir DIR]".into())
            }
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => positional.push(PathBuf::from(a)),
        }
    }
    match positional.len() {
        0 => {}
        2 => args.paths = Some((positional[0].clone(), positional[1].clone())),
        _ => return Err("give both SRC and DST, or neither".into()),
    }
    if args.mib == 0 || args.depth == 0 || args.depth > 4096 {
        return Err("--mib must be > 0 and --depth in 1..=4096".into());
    }
    Ok(args)
}

fn parse_num(s: &str) -> Result<usize, String> {
    s.parse().map_err(|_| format!("not a number: {s}"))
}

/// A file of `len` pseudo-random bytes, flushed to the device.
fn make_source(path: &Path, len: usize) -> io::Result<()> {
    let mut f = File::create(path)?;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for w in block.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(block.len());
        f.write_all(&block[..n])?;
        left -= n;
    }
    f.sync_all()
}

/// Opens `path` with O_DIRECT, or, where the filesystem refuses it, says
/// so and opens it buffered.
fn open_source(path: &Path) -> io::Result<(File, bool)> {
    let context = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
    {
        Ok(f) => Ok((f, true)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            eprintln!(
                "note: {} refuses O_DIRECT (EINVAL); reading through the page cache",
                path.display()
            );
            Ok((File::open(path).map_err(context)?, false))
        }
        Err(e) => Err(context(e)),
    }
}

/// One chunk of the file in one pool buffer: `[offset, offset + len)`,
/// `filled` bytes read so far, `written` of them written.
#[derive(Clone, Copy, Default)]
struct Chunk {
    offset: u64,
    len: usize,
    filled: usize,
    written: usize,
    writing: bool,
}

struct Copied {
    bytes: u64,
    elapsed: Duration,
    fsync: Duration,
    direct: bool,
}

fn copy(src: &Path, dst: &Path, depth: usize) -> io::Result<Copied> {
    let (input, direct) = open_source(src)?;
    let output = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(dst)?;
    let size = input.metadata()?.len();
    output.set_len(size)?;
    // Leaked on purpose: the pool lives as long as the process, so no read
    // still in flight when an error returns early can outlive its buffer.
    let pool: &'static BufferPool =
        Box::leak(Box::new(BufferPool::new(TIER, depth).map_err(invalid)?));
    let chunk = pool.buffer_size();
    let mut ring = IoUring::new(depth as u32).map_err(|e| {
        if is_unavailable(&e) {
            io::Error::new(e.kind(), format!("io_uring is unavailable here: {e}"))
        } else {
            e
        }
    })?;
    let fixed = FixedBuffers::register(&ring, pool)?;
    let (rfd, wfd) = (types::Fd(input.as_raw_fd()), types::Fd(output.as_raw_fd()));
    // chunks[i]: what pool buffer i is doing; user_data = i.
    let mut chunks = vec![Chunk::default(); depth];
    // held[i]: the token of pool buffer i while its chunk is in flight.
    let mut held: Vec<Option<iobuf_pool::RawBuf>> = (0..depth).map(|_| None).collect();
    let mut next_offset = 0u64;
    let mut in_flight = 0usize;
    let start = Instant::now();
    loop {
        // Start a chunk in every free buffer.
        while next_offset < size {
            let Some(raw) = pool.take_raw() else {
                break;
            };
            let index = raw.index();
            let len = (size - next_offset).min(chunk as u64) as usize;
            chunks[index] = Chunk {
                offset: next_offset,
                len,
                ..Chunk::default()
            };
            // O_DIRECT wants whole blocks: ask for the full buffer even at the
            // end of the file; the read comes back short there.
            let read = fixed.read_fixed(rfd, &raw, 0..chunk, next_offset)?;
            held[index] = Some(raw);
            // The loop ends normally only when nothing is in flight, and the
            // ring holds its own references to the files.
            // SAFETY: the buffer's token stays in `held` until this chunk's
            // last completion, and the pool is never freed.
            unsafe { push(&mut ring, &read.user_data(index as u64))? };
            in_flight += 1;
            next_offset += len as u64;
        }
        if in_flight == 0 {
            break;
        }
        ring.submit_and_wait(1)?;
        let done: Vec<(u64, i32)> = ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        for (user_data, result) in done {
            let index = user_data as usize;
            let n = cqe_result(result)? as usize;
            let c = &mut chunks[index];
            let Some(raw) = held.get(index).and_then(Option::as_ref) else {
                return Err(io::Error::other("a completion for no chunk in flight"));
            };
            if !c.writing {
                if n == 0 && c.filled < c.len {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the source shrank during the copy",
                    ));
                }
                c.filled = (c.filled + n).min(c.len);
                c.writing = c.filled == c.len;
            } else {
                c.written += n;
            }
            let next = if !c.writing {
                // A short read before the chunk's end: read the rest.
                fixed.read_fixed(rfd, raw, c.filled..chunk, c.offset + c.filled as u64)?
            } else if c.written < c.len {
                fixed.write_fixed(wfd, raw, c.written..c.len, c.offset + c.written as u64)?
            } else {
                if let Some(raw) = held[index].take() {
                    pool.put_raw(raw).map_err(invalid)?;
                }
                in_flight -= 1;
                continue;
            };
            // SAFETY: as above: the token stays held until its chunk is done.
            unsafe { push(&mut ring, &next.user_data(user_data))? };
        }
    }
    let elapsed = start.elapsed();
    let synced = Instant::now();
    output.sync_all()?;
    fixed.unregister()?;
    Ok(Copied {
        bytes: size,
        elapsed,
        fsync: synced.elapsed(),
        direct,
    })
}

fn invalid(e: iobuf_pool::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}

/// Pushes one entry, submitting first if the queue is full.
///
/// # Safety
/// As `SubmissionQueue::push`: what the entry names outlives the operation.
unsafe fn push(ring: &mut IoUring, entry: &io_uring::squeue::Entry) -> io::Result<()> {
    loop {
        // SAFETY: forwarded to the caller.
        if unsafe { ring.submission().push(entry) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}

/// Reads until `buf` is full or the end of the file; returns the count.
fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn same_contents(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut fa, mut fb) = (File::open(a)?, File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let (na, nb) = (read_full(&mut fa, &mut ba)?, read_full(&mut fb, &mut bb)?);
        if ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / d.as_secs_f64()
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    // Written, not println!ed: a closed stdout (`| head`) is an error, not a
    // panic.
    let mut out = io::stdout().lock();
    let (src, dst, _dir) = match &args.paths {
        Some((s, d)) => (s.clone(), d.clone(), None),
        None => {
            let dir = tempfile::Builder::new()
                .prefix("uring_copy")
                .tempdir_in(&args.dir)?;
            let src = dir.path().join("src");
            make_source(&src, args.mib << 20)?;
            (src, dir.path().join("dst"), Some(dir))
        }
    };
    let c = copy(&src, &dst, args.depth)?;
    writeln!(
        out,
        "copied {} bytes ({:.1} MiB) in {:.3} s: {:.0} MiB/s ({} reads, READ_FIXED + WRITE_FIXED, {} × {} KiB pool buffers in flight)",
        c.bytes,
        c.bytes as f64 / (1 << 20) as f64,
        c.elapsed.as_secs_f64(),
        mib_per_s(c.bytes, c.elapsed),
        if c.direct { "O_DIRECT" } else { "buffered" },
        args.depth,
        TIER.size() >> 10,
    )?;
    writeln!(
        out,
        "then fsync of the copy: {:.3} s; copy + fsync: {:.0} MiB/s",
        c.fsync.as_secs_f64(),
        mib_per_s(c.bytes, c.elapsed + c.fsync),
    )?;
    if args.paths.is_none() {
        if !same_contents(&src, &dst)? {
            return Err("the copy differs from the source".into());
        }
        writeln!(out, "verified: the copy is byte-identical")?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("uring_copy: {e}");
            ExitCode::from(2)
        }
    }
}
