//! A multi-threaded TCP echo server on tokio-uring, with its own load
//! generator: one command runs both for a few seconds and prints the
//! throughput and how often the shared pool ran dry.
//!
//! ```text
//! cargo run --release --example echo_server --features tokio-uring -- \
//!     [--threads 2] [--connections 8] [--size 1024] [--seconds 5] [--pool 4]
//!     [--thread-cache 0]
//! ```
//!
//! * `--threads` server threads, each running its own tokio-uring runtime
//!   (its own io_uring instance).
//! * All of them share **one** `Arc<BufferPool>` of `--pool` buffers (the
//!   smallest tier that holds `--size`), deliberately small so that it runs
//!   dry: a reader that finds it dry (`try_get_owned` fails) waits in
//!   `acquire_owned().await` until some thread returns a buffer.
//! * **Buffers cross threads.** Each connection is split: its reading half
//!   runs on runtime `i % threads`, its writing half (the same socket,
//!   `try_clone`d) on runtime `(i + 1) % threads`. The reader reads into a
//!   pool buffer and sends the `OwnedBuf` through a channel to the writer,
//!   which writes it back and drops it, returning it to the pool from
//!   another thread than the one that took it.
//! * `--thread-cache N` builds the pool with a per-thread cache of `N`
//!   (`BufferPool::builder(..).thread_cache(N)`): each runtime thread's
//!   gets and returns then go through its own magazine.
//! * The load generator is `--connections` client threads (blocking std
//!   sockets), each sending `--size`-byte messages, stamped with its
//!   connection and sequence number, and checking every echo, until
//!   `--seconds` have passed. Then it closes, the server drains, and the
//!   run checks that every buffer came back to the pool (exit 1 if not).
//!
//! Only loopback addresses are used, and the run stops by itself.

use iobuf_pool::{BufferPool, OwnedBuf, PoolStats, Tier};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Server threads, one tokio-uring runtime each.
    pub threads: usize,
    /// Client connections (one client thread each).
    pub connections: usize,
    /// Bytes per message.
    pub message_size: usize,
    /// How long the clients send.
    pub seconds: f64,
    /// Buffers in the shared pool.
    pub pool_capacity: usize,
    /// Buffers in flight between a connection's reader and writer.
    pub channel_depth: usize,
    /// Each thread's cache of the pool (0: none).
    pub thread_cache: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threads: 2,
            connections: 8,
            message_size: 1024,
            seconds: 5.0,
            pool_capacity: 4,
            channel_depth: 2,
            thread_cache: 0,
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Messages echoed and checked by the clients.
    pub messages: u64,
    /// Their bytes (one way).
    pub bytes: u64,
    /// From the clients' start to the last client's end.
    pub elapsed: Duration,
    /// Buffers written back by a writer.
    pub buffers_echoed: u64,
    /// Of those, how many were dropped (returned to the pool) on another
    /// thread than the one that read into them.
    pub cross_thread_returns: u64,
    /// Reads that found the pool dry and waited in `acquire_owned`.
    pub dry_waits: u64,
    /// The most `acquire` waiters a 1 ms sampler saw at once.
    pub max_waiters_seen: usize,
    /// `pool.stats()` at the end of the run, everything closed.
    pub stats_after: PoolStats,
    /// The pool's buffer size.
    pub buffer_size: usize,
    /// Its tier.
    pub tier: Tier,
}

/// Work handed to a server thread's runtime.
enum Job {
    Read {
        stream: TcpStream,
        to_writer: mpsc::Sender<(usize, OwnedBuf)>,
    },
    Write {
        stream: TcpStream,
        from_reader: mpsc::Receiver<(usize, OwnedBuf)>,
    },
}

/// Totals of one server thread's tasks.
#[derive(Default)]
struct ServerTotals {
    dry_waits: u64,
    echoed: u64,
    cross: u64,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Runs the server and its load for `config.seconds` and reports.
pub fn run(config: &Config) -> io::Result<Report> {
    if config.threads == 0 || config.connections == 0 || config.message_size == 0 {
        return Err(other("threads, connections and size must be at least 1"));
    }
    if config.pool_capacity == 0 || config.channel_depth == 0 {
        return Err(other("pool and channel depth must be at least 1"));
    }
    let tier = Tier::for_size(config.message_size).ok_or_else(|| other("message too large"))?;
    let pool = Arc::new(
        BufferPool::builder(tier, config.pool_capacity)
            .thread_cache(config.thread_cache)
            .build()
            .map_err(other)?,
    );

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;

    // The server threads, each with a tokio-uring runtime that runs the
    // jobs it is sent until its job channel closes and its tasks end.
    let mut job_txs = Vec::new();
    let mut servers = Vec::new();
    for me in 0..config.threads {
        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        job_txs.push(tx);
        let pool = Arc::clone(&pool);
        servers.push(
            std::thread::Builder::new()
                .name(format!("server-{me}"))
                .spawn(move || server_thread(me, pool, rx))?,
        );
    }

    // The clients: connect, wait for everyone, then send until the deadline.
    let barrier = Arc::new(Barrier::new(config.connections + 1));
    let mut clients = Vec::new();
    for id in 0..config.connections {
        let barrier = Arc::clone(&barrier);
        let (size, seconds) = (config.message_size, config.seconds);
        clients.push(
            std::thread::Builder::new()
                .name(format!("client-{id}"))
                .spawn(move || client(addr, id as u32, size, seconds, &barrier))?,
        );
    }

    // Accept every connection and split it between two runtimes.
    for i in 0..config.connections {
        let (stream, _) = listener.accept()?;
        stream.set_nodelay(true)?;
        let write_half = stream.try_clone()?;
        let (to_writer, from_reader) = mpsc::channel(config.channel_depth);
        let (r, w) = (i % config.threads, (i + 1) % config.threads);
        job_txs[r]
            .send(Job::Read { stream, to_writer })
            .map_err(|_| other("a server thread ended early"))?;
        job_txs[w]
            .send(Job::Write {
                stream: write_half,
                from_reader,
            })
            .map_err(|_| other("a server thread ended early"))?;
    }
    drop(job_txs); // the servers end once their connections do

    // A sampler of the pool's waiters while the load runs.
    let stop = Arc::new(AtomicBool::new(false));
    let max_waiters = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (pool, stop, max_waiters) = (
            Arc::clone(&pool),
            Arc::clone(&stop),
            Arc::clone(&max_waiters),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                max_waiters.fetch_max(pool.stats().waiters, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };

    barrier.wait();
    let start = Instant::now();
    let mut messages = 0;
    for c in clients {
        messages += c.join().map_err(|_| other("a client panicked"))??;
    }
    let elapsed = start.elapsed();
    let mut totals = ServerTotals::default();
    for s in servers {
        let t = s.join().map_err(|_| other("a server thread panicked"))??;
        totals.dry_waits += t.dry_waits;
        totals.echoed += t.echoed;
        totals.cross += t.cross;
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().map_err(|_| other("the sampler panicked"))?;

    Ok(Report {
        messages,
        bytes: messages * config.message_size as u64,
        elapsed,
        buffers_echoed: totals.echoed,
        cross_thread_returns: totals.cross,
        dry_waits: totals.dry_waits,
        max_waiters_seen: max_waiters.load(Ordering::Relaxed),
        stats_after: pool.stats(),
        buffer_size: pool.buffer_size(),
        tier,
    })
}

/// One server thread: a tokio-uring runtime running every job it is sent,
/// each as a task, and awaiting them all before it ends (so no operation on
/// a pool buffer is in flight when the runtime drops).
fn server_thread(
    me: usize,
    pool: Arc<BufferPool>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) -> io::Result<ServerTotals> {
    tokio_uring::start(async move {
        let mut readers = Vec::new();
        let mut writers = Vec::new();
        while let Some(job) = jobs.recv().await {
            match job {
                Job::Read { stream, to_writer } => {
                    let stream = tokio_uring::net::TcpStream::from_std(stream);
                    let pool = Arc::clone(&pool);
                    readers.push(tokio_uring::spawn(reader(me, pool, stream, to_writer)));
                }
                Job::Write {
                    stream,
                    from_reader,
                } => {
                    let stream = tokio_uring::net::TcpStream::from_std(stream);
                    writers.push(tokio_uring::spawn(writer(me, stream, from_reader)));
                }
            }
        }
        // Await every task before reporting any error: returning early
        // would drop the runtime under operations still in flight.
        let mut totals = ServerTotals::default();
        let mut first_error = None;
        for r in readers {
            match r.await.map_err(other).and_then(|r| r) {
                Ok(dry) => totals.dry_waits += dry,
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        for w in writers {
            match w.await.map_err(other).and_then(|w| w) {
                Ok((echoed, cross)) => {
                    totals.echoed += echoed;
                    totals.cross += cross;
                }
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        first_error.map_or(Ok(totals), Err)
    })
}

/// A connection's reading half: a pool buffer per read, sent on to the
/// writer. Returns how often the pool was dry.
async fn reader(
    me: usize,
    pool: Arc<BufferPool>,
    stream: tokio_uring::net::TcpStream,
    to_writer: mpsc::Sender<(usize, OwnedBuf)>,
) -> io::Result<u64> {
    let mut dry = 0;
    loop {
        let buf = match pool.try_get_owned() {
            Some(buf) => buf,
            None => {
                dry += 1;
                pool.acquire_owned().await
            }
        };
        let (res, buf) = stream.read(buf).await;
        if res? == 0 {
            return Ok(dry); // the client closed: `buf` goes back here
        }
        // The writer may run on another runtime, on another thread.
        to_writer
            .send((me, buf))
            .await
            .map_err(|_| other("the writer ended early"))?;
    }
}

/// A connection's writing half: writes back every buffer the reader sends
/// and drops it, on this thread. Returns (buffers, of which returned on
/// another thread than the reader's).
async fn writer(
    me: usize,
    stream: tokio_uring::net::TcpStream,
    mut from_reader: mpsc::Receiver<(usize, OwnedBuf)>,
) -> io::Result<(u64, u64)> {
    let (mut echoed, mut cross) = (0, 0);
    while let Some((read_on, buf)) = from_reader.recv().await {
        let (res, buf) = stream.write_all(buf).await;
        res?;
        drop(buf); // back to the pool, from this thread
        echoed += 1;
        if read_on != me {
            cross += 1;
        }
    }
    stream.shutdown(Shutdown::Write)?;
    Ok((echoed, cross))
}

/// One client: send stamped messages and check each echo until the deadline;
/// returns the messages echoed.
fn client(
    addr: SocketAddr,
    id: u32,
    size: usize,
    seconds: f64,
    barrier: &Barrier,
) -> io::Result<u64> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    // A server that stops echoing fails the run instead of hanging it.
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut msg = vec![0u8; size];
    let mut echo = vec![0u8; size];
    barrier.wait();
    let deadline = Instant::now() + Duration::from_secs_f64(seconds.max(0.0));
    let mut seq: u64 = 0;
    while Instant::now() < deadline {
        stamp(&mut msg, id, seq);
        stream.write_all(&msg)?;
        stream.read_exact(&mut echo)?;
        if echo != msg {
            return Err(other(format!("connection {id}: echo {seq} differs")));
        }
        seq += 1;
    }
    stream.shutdown(Shutdown::Write)?;
    // The server drains and closes its side: nothing more may come.
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest)?;
    if !rest.is_empty() {
        return Err(other(format!(
            "connection {id}: {} stray bytes",
            rest.len()
        )));
    }
    Ok(seq)
}

/// Fills `msg` with bytes that depend on the connection, the sequence
/// number and the offset.
fn stamp(msg: &mut [u8], id: u32, seq: u64) {
    let seed = (seq as u32).wrapping_mul(2_654_435_761) ^ id.wrapping_mul(40_503);
    for (i, b) in msg.iter_mut().enumerate() {
        *b = (seed.wrapping_add(i as u32).wrapping_mul(0x9E37_79B1) >> 24) as u8;
    }
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("bad value for {flag}: {value}");
        match flag.as_str() {
            "--threads" => config.threads = value.parse().map_err(|_| bad())?,
            "--connections" => config.connections = value.parse().map_err(|_| bad())?,
            "--size" => config.message_size = value.parse().map_err(|_| bad())?,
            "--seconds" => config.seconds = value.parse().map_err(|_| bad())?,
            "--pool" => config.pool_capacity = value.parse().map_err(|_| bad())?,
            "--depth" => config.channel_depth = value.parse().map_err(|_| bad())?,
            "--thread-cache" => config.thread_cache = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(config)
}

fn main() {
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!(
                "usage: echo_server [--threads N] [--connections N] [--size BYTES] \
                 [--seconds S] [--pool BUFFERS] [--depth N] [--thread-cache N]"
            );
            std::process::exit(2);
        }
    };
    let report = match run(&config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("echo_server: {e}");
            std::process::exit(1);
        }
    };
    let secs = report.elapsed.as_secs_f64();
    let s = report.stats_after;
    println!(
        "echo_server: {} server threads (one tokio-uring runtime each), {} connections, \
         {} B messages, {:.1} s, one shared pool of {} x {} B ({:?})",
        config.threads,
        config.connections,
        config.message_size,
        secs,
        s.capacity,
        report.buffer_size,
        report.tier
    );
    println!(
        "  throughput: {:.1} MiB/s echoed, {:.0} messages/s ({} messages in {:.2} s)",
        report.bytes as f64 / (1024.0 * 1024.0) / secs,
        report.messages as f64 / secs,
        report.messages,
        secs
    );
    println!(
        "  buffers: {} echoed, {} returned to the pool on another thread than the one that read into them",
        report.buffers_echoed, report.cross_thread_returns
    );
    println!(
        "  pool ran dry: {} reads waited in acquire_owned(); stats: failed_try_gets {}, \
         high_water {} of {}, most waiters seen {}",
        report.dry_waits, s.failed_try_gets, s.high_water, s.capacity, report.max_waiters_seen
    );
    println!("  pool.stats() at the end: {s:?}");
    if s.in_use != 0 || s.free != s.capacity || s.waiters != 0 {
        eprintln!("echo_server: NOT every buffer came back to the pool");
        std::process::exit(1);
    }
    println!("  every buffer came back to the pool");
}
