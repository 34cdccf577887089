//! TCP echo over loopback: the server receives into pool buffers picked by
//! the kernel from a provided-buffer ring (multishot recv), sends them back
//! gathered into one vectored `sendmsg` (pool buffers as `IoVec`s), and
//! re-provides them. A client thread streams a pattern and checks
//! every echoed byte. Prints the throughput.
//!
//! ```text
//! cargo run --release --features io-uring --example uring_echo -- [--mib N] [--secs S] [--buffers N]
//! ```
//!
//! Binds 127.0.0.1 only. Bounded: it sends `--mib` MiB (default 256) or for
//! `--secs` seconds (default 10), whichever ends first, then stops; either
//! side gives up with an error after 20 s without progress.

use io_uring::{cqueue, opcode, types, IoUring};
use iobuf_pool::uring::{cqe_result, is_unavailable, BufRing, Received};
use iobuf_pool::{BufferPool, IoVec, OwnedBuf, Tier};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes per receive buffer.
const TIER: Tier = Tier::Large; // 128 KiB
/// How long either side waits for the other before giving up.
const STALL: Duration = Duration::from_secs(20);
/// The buffer group of the ring.
const BGID: u16 = 0;
/// user_data of the multishot recv.
const RECV: u64 = 1;
/// user_data of the send in flight.
const SEND: u64 = 2;

struct Args {
    mib: u64,
    secs: u64,
    buffers: u16,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        mib: 256,
        secs: 10,
        buffers: 64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or(format!("{name} needs a value"))?
                .parse::<u64>()
                .map_err(|_| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--mib" => args.mib = value("--mib")?,
            "--secs" => args.secs = value("--secs")?,
            "--buffers" => {
                args.buffers = u16::try_from(value("--buffers")?).map_err(|e| e.to_string())?
            }
            _ => {
                return Err(
                    "usage: uring_echo [--mib N] [--secs S] [--buffers N (power of two)]".into(),
                )
            }
        }
    }
    if args.mib == 0 || args.secs == 0 || !args.buffers.is_power_of_two() || args.buffers > 4096 {
        return Err("--mib and --secs must be > 0, --buffers a power of two up to 4096".into());
    }
    Ok(args)
}

/// The byte the client sends at stream position `pos`.
fn pattern(pos: u64) -> u8 {
    (pos ^ (pos >> 11) ^ (pos >> 23)) as u8
}

struct ClientReport {
    sent: u64,
    received: u64,
    elapsed: Duration,
}

/// Streams the pattern until `total` bytes or `deadline`, then half-closes;
/// reads the echo, checks every byte, until the server closes.
fn client(addr: SocketAddr, total: u64, deadline: Instant) -> io::Result<ClientReport> {
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    // Never hang: a stalled server ends the read with an error.
    stream.set_read_timeout(Some(STALL))?;
    let mut reader = stream.try_clone()?;
    let start = Instant::now();
    let writer = std::thread::spawn(move || -> io::Result<u64> {
        let mut stream = stream;
        let mut block = vec![0u8; 64 << 10];
        let mut pos = 0u64;
        while pos < total && Instant::now() < deadline {
            let n = (total - pos).min(block.len() as u64) as usize;
            for (i, b) in block[..n].iter_mut().enumerate() {
                *b = pattern(pos + i as u64);
            }
            stream.write_all(&block[..n])?;
            pos += n as u64;
        }
        stream.shutdown(Shutdown::Write)?;
        Ok(pos)
    });
    let mut buf = vec![0u8; 256 << 10];
    let mut received = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no echo for {} s", STALL.as_secs()),
                ))
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        if let Some(i) = (0..n).find(|&i| buf[i] != pattern(received + i as u64)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("echoed byte {} is wrong", received + i as u64),
            ));
        }
        received += n as u64;
    }
    let elapsed = start.elapsed();
    let sent = writer
        .join()
        .map_err(|_| io::Error::other("the writer thread panicked"))??;
    Ok(ClientReport {
        sent,
        received,
        elapsed,
    })
}

fn accept_until(listener: &TcpListener, deadline: Instant) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
}

#[derive(Default)]
struct ServerReport {
    bytes: u64,
    recvs: u64,
    sends: u64,
    enobufs: u64,
}

/// Most received buffers gathered into one `sendmsg`.
const MAX_GATHER: usize = 16;

/// The bytes being sent back: the buffers received so far, gathered into
/// one vectored `sendmsg`. One send is in flight at a time, since two sends
/// on one TCP socket may complete out of order.
struct Sending {
    /// The received buffers and their lengths, in stream order.
    bufs: Vec<(OwnedBuf, usize)>,
    /// Bytes of `bufs` already sent.
    sent: usize,
    /// The vectors of what is left to send; `msg` points to them.
    iovecs: Vec<IoVec>,
    /// Boxed: the kernel reads it after the submission returns.
    msg: Box<libc::msghdr>,
}

impl Sending {
    fn new(bufs: Vec<(OwnedBuf, usize)>) -> Self {
        // SAFETY: msghdr is plain data; all zeroes is an empty message.
        let msg = Box::new(unsafe { std::mem::zeroed::<libc::msghdr>() });
        Sending {
            bufs,
            sent: 0,
            iovecs: Vec::with_capacity(MAX_GATHER),
            msg,
        }
    }

    fn total(&self) -> usize {
        self.bufs.iter().map(|(_, len)| len).sum()
    }

    /// A `sendmsg` of every byte not yet sent.
    fn entry(&mut self, fd: types::Fd) -> io_uring::squeue::Entry {
        self.iovecs.clear();
        let mut skip = self.sent;
        for (buf, len) in &self.bufs {
            if skip >= *len {
                skip -= len;
                continue;
            }
            self.iovecs.push(IoVec::from_slice(&buf[skip..*len]));
            skip = 0;
        }
        let (iov, n) = IoVec::addr_len(&self.iovecs);
        self.msg.msg_iov = iov as *mut libc::iovec;
        self.msg.msg_iovlen = n as _;
        opcode::SendMsg::new(fd, &*self.msg).build().user_data(SEND)
    }
}

fn serve(stream: &TcpStream, buffers: u16) -> io::Result<ServerReport> {
    // One Arc leaked on purpose: the pool lives as long as the process, so no
    // operation still in flight when an error returns early can outlive its
    // buffers.
    let pool = Arc::new(BufferPool::new(TIER, buffers.into()).map_err(io::Error::other)?);
    std::mem::forget(Arc::clone(&pool));
    let mut ring = IoUring::new(64).map_err(|e| {
        if is_unavailable(&e) {
            io::Error::new(e.kind(), format!("io_uring is unavailable here: {e}"))
        } else {
            e
        }
    })?;
    let mut br = BufRing::register(&ring, &pool, BGID, buffers)?;
    br.fill()?;
    let fd = types::Fd(stream.as_raw_fd());
    let mut report = ServerReport::default();
    let mut queue: VecDeque<Received> = VecDeque::new();
    let mut sending: Option<Sending> = None;
    let (mut recv_armed, mut eof) = (false, false);
    let wait = types::Timespec::new().sec(1);
    let mut last_progress = Instant::now();
    let serve_loop = || -> io::Result<ServerReport> {
        loop {
            // The multishot recv ends when the ring runs dry (ENOBUFS): arm it
            // again once a buffer is back.
            if !recv_armed && !eof && !br.is_empty() {
                let recv = opcode::RecvMulti::new(fd, BGID).build().user_data(RECV);
                // `br` stays registered until this function returns, normally
                // after the recv's last completion (no F_MORE); the ring holds
                // its own reference to the socket.
                // SAFETY: the buffers it may pick are the never-freed pool's.
                unsafe { push(&mut ring, &recv)? };
                recv_armed = true;
            }
            if sending.is_none() && !queue.is_empty() {
                let take = queue.len().min(MAX_GATHER);
                let bufs = queue
                    .drain(..take)
                    .map(|rx| (rx.len(), rx.into_buf()))
                    .map(|(n, buf)| (buf, n))
                    .collect();
                let s = sending.insert(Sending::new(bufs));
                report.sends += 1;
                // SAFETY: the buffers, the vectors and the msghdr are kept in
                // `sending` until this send's completion, and the pool is never
                // freed.
                unsafe { push(&mut ring, &s.entry(fd))? };
            }
            if eof && !recv_armed && sending.is_none() && queue.is_empty() {
                return Ok(report);
            }
            // Progress, not a fixed deadline, decides: an overloaded machine
            // is slow, not stuck.
            if last_progress.elapsed() > STALL {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no completion for {} s", STALL.as_secs()),
                ));
            }
            let args = types::SubmitArgs::new().timespec(&wait);
            match ring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ETIME) => continue,
                Err(e) => return Err(e),
            }
            let cqes: Vec<_> = ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags()))
                .collect();
            if !cqes.is_empty() {
                last_progress = Instant::now();
            }
            for (user_data, result, flags) in cqes {
                if user_data == RECV {
                    recv_armed &= cqueue::more(flags);
                    // SAFETY: result and flags are of this completion, just
                    // reaped from the ring `br` is registered with, of the
                    // multishot recv that selects from its group.
                    match unsafe { br.take(result, flags) } {
                        Ok(Some(rx)) if !rx.is_empty() => {
                            report.recvs += 1;
                            report.bytes += rx.len() as u64;
                            queue.push_back(rx);
                        }
                        // End of stream (with or without a buffer).
                        Ok(_) => eof = true,
                        Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => report.enobufs += 1,
                        Err(e) => return Err(e.into()),
                    }
                    continue;
                }
                let n = cqe_result(result)? as usize;
                let Some(s) = sending.as_mut() else {
                    return Err(io::Error::other("a send completion with no send"));
                };
                s.sent += n;
                if s.sent < s.total() {
                    // SAFETY: as for the first send of these buffers.
                    unsafe { push(&mut ring, &s.entry(fd))? };
                } else if let Some(done) = sending.take() {
                    for (buf, _) in done.bufs {
                        br.provide(buf)?;
                    }
                }
            }
        }
    };
    let result = serve_loop();
    if result.is_err() {
        // The send may still be in flight: its buffers are the leaked pool's,
        // but its msghdr and vectors are ours; never free them.
        std::mem::forget(sending.take());
    }
    result
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

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    // Written, not println!ed: a closed stdout (`| head`) is an error, not a
    // panic.
    let mut out = io::stdout().lock();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let send_deadline = Instant::now() + Duration::from_secs(args.secs);
    let total = args.mib << 20;
    let client = std::thread::spawn(move || client(addr, total, send_deadline));
    let stream = accept_until(&listener, Instant::now() + STALL)?;
    let served = serve(&stream, args.buffers);
    // The client sees EOF once the server's socket closes.
    drop(stream);
    let client = client.join().map_err(|_| "the client thread panicked")?;
    let (served, report) = match (served, client) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(s), Ok(_)) => return Err(format!("server: {s}").into()),
        (Ok(_), Err(c)) => return Err(format!("client: {c}").into()),
        // Either may be the cause of the other: say both.
        (Err(s), Err(c)) => return Err(format!("server: {s}; client: {c}").into()),
    };
    if report.received != report.sent || served.bytes != report.sent {
        return Err(format!(
            "sent {} bytes, server received {}, echoed back {}",
            report.sent, served.bytes, report.received
        )
        .into());
    }
    writeln!(
        out,
        "echoed {:.1} MiB over 127.0.0.1 in {:.3} s: {:.0} MiB/s each way, every byte checked",
        mib(report.received),
        report.elapsed.as_secs_f64(),
        mib(report.received) / report.elapsed.as_secs_f64(),
    )?;
    writeln!(
        out,
        "server: {} multishot recv completions into {} × {} KiB pool buffers from a provided-buffer ring (avg {:.1} KiB), sent back in {} sendmsg calls; the ring ran dry {} times",
        served.recvs,
        args.buffers,
        TIER.size() >> 10,
        served.bytes as f64 / served.recvs.max(1) as f64 / 1024.0,
        served.sends,
        served.enobufs,
    )?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("uring_echo: {e}");
            ExitCode::from(2)
        }
    }
}
