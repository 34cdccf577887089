//! A thread-per-core TCP echo server on io_uring over one shared pool,
//! measured in the same run against a tokio (epoll, multi-thread) echo
//! server with a per-connection `Vec` buffer.
//!
//! The io_uring server: one thread and one io_uring per core, each with its
//! own provided-buffer ring, all fed from one `Arc<BufferPool>`. Each
//! connection has a multishot bundle receive (`RecvMultiBundle`): the kernel
//! picks pool buffers only when bytes arrive, so an idle connection holds
//! none. Each received buffer is echoed with a zero-copy send (`ZcSend`),
//! held until the kernel's notification, then handed to the *next* worker
//! thread, which drops it there: back to the pool, not to the ring that
//! received it, for any ring's refill.
//!
//! Its own clients, bounded in count and time: `--conns` connections
//! (default 64) over two client threads, each writing `--depth` messages
//! (default 1) of `--msg` bytes (default 64) at a time and reading their
//! echoes back, for `--secs` seconds (default 5) per server; then `--idle`
//! connections (default 10,000), opened by a child process and left idle,
//! to read how much the server's resident memory grows. Echoes shorter
//! than `--zc-min` bytes (default 0: none) go out with a plain copying
//! send instead of a zero-copy one. Loopback only; every wait gives up
//! with an error after 30 s without progress.
//!
//! ```text
//! cargo run --release --features io-uring --example uring_tpc_echo -- \
//!     [--conns 64] [--msg 64] [--depth 1] [--secs 5] [--idle 10000] [--threads 2] \
//!     [--zc-min 0] [--json PATH]
//! ```

use io_uring::{cqueue, opcode, types, IoUring};
use iobuf_pool::uring::{is_unavailable, BufRing, Features, ZcSend};
use iobuf_pool::{BufferPool, OwnedBuf, Tier};
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Pool buffers: 2 KiB each.
const TIER: Tier = Tier::Small;
/// Pool buffers in all (8 MiB of 2 KiB buffers).
const POOL_BUFFERS: usize = 4096;
/// Entries of each worker's provided-buffer ring.
const RING_ENTRIES: u16 = 512;
/// Bytes each tokio connection allocates for its reads.
const TOKIO_BUF: usize = 4096;
/// Most buffers one zero-copy send gathers.
const MAX_GATHER: usize = 16;
/// How long any wait may last before the run gives up with an error.
const STALL: Duration = Duration::from_secs(30);

struct Args {
    conns: usize,
    msg: usize,
    secs: u64,
    idle: usize,
    threads: usize,
    /// Messages in flight per connection (sent together, then read back).
    depth: usize,
    /// Echoes shorter than this go out with a plain (copying) send.
    zc_min: usize,
    json: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        conns: 64,
        msg: 64,
        secs: 5,
        idle: 10_000,
        threads: 2,
        depth: 1,
        zc_min: 0,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            it.next()
                .ok_or(format!("{name} needs a value"))?
                .parse::<u64>()
                .map_err(|_| format!("{name} needs a number"))
        };
        match flag.as_str() {
            "--conns" => a.conns = num("--conns")? as usize,
            "--msg" => a.msg = num("--msg")? as usize,
            "--secs" => a.secs = num("--secs")?,
            "--idle" => a.idle = num("--idle")? as usize,
            "--threads" => a.threads = num("--threads")? as usize,
            "--depth" => a.depth = num("--depth")? as usize,
            "--zc-min" => a.zc_min = num("--zc-min")? as usize,
            "--json" => a.json = Some(it.next().ok_or("--json needs a path")?),
            _ => {
                return Err(format!(
                    "unknown argument {flag}; usage: uring_tpc_echo [--conns N] [--msg BYTES] \
                     [--depth N] [--secs S] [--idle N] [--threads N] [--zc-min BYTES] [--json PATH]"
                ))
            }
        }
    }
    if a.conns < 2 || a.conns > 4096 || a.msg == 0 || a.msg > 2048 || a.secs == 0 || a.secs > 60 {
        return Err("--conns 2..=4096, --msg 1..=2048, --secs 1..=60".into());
    }
    if a.threads == 0 || a.threads > 64 || a.idle > 30_000 || a.depth == 0 || a.depth > 64 {
        return Err("--threads 1..=64, --idle 0..=30000, --depth 1..=64".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    // The idle connections are opened by a child process (this program
    // again), so that the server's process holds only its own ends and
    // the open-file limit covers 10,000 of them.
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--idle-client") {
        return match idle_client(&argv[2..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("uring_tpc_echo idle client: {e}");
                ExitCode::from(2)
            }
        };
    }
    match parse_args().and_then(|a| run(&a)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("uring_tpc_echo: {e}");
            ExitCode::from(2)
        }
    }
}

/// What one server did under the clients.
struct Measured {
    load: LoadReport,
    idle_rss_kib: Option<u64>,
    idle: usize,
}

fn run(a: &Args) -> Result<(), String> {
    let fds = raise_nofile(a.idle as u64 + 2 * a.conns as u64 + 256)?;
    let idle = a
        .idle
        .min(fds.saturating_sub(2 * a.conns as u64 + 256) as usize);
    if idle < a.idle {
        eprintln!(
            "uring_tpc_echo: only {fds} descriptors: {idle} idle connections, not {}",
            a.idle
        );
    }

    let uring = UringServer::start(a.threads, a.zc_min)?;
    let u = measure(uring.addr, &uring.accepted, a, idle);
    let stats = uring.stop();
    let (u, stats) = (u?, stats?);

    let tokio = TokioServer::start(a.threads)?;
    let t = measure(tokio.addr, &tokio.accepted, a, idle);
    tokio.stop()?;
    let t = t?;

    let pool_kib = (POOL_BUFFERS * TIER.size() / 1024) as u64;
    let line = |name: &str, m: &Measured| {
        format!(
            "{name:<28} {:>12.0} msg/s   p50 {:>6} us   p99 {:>6} us   RSS +{} KiB with {} idle",
            m.load.rate(),
            m.load.p50_us,
            m.load.p99_us,
            m.idle_rss_kib.map_or("?".into(), |k| k.to_string()),
            m.idle
        )
    };
    println!(
        "{} connections, {}-byte messages, {} in flight per connection, {} s each, {} server \
         threads, zero-copy from {} bytes, loopback",
        a.conns, a.msg, a.depth, a.secs, a.threads, a.zc_min
    );
    println!("{}", line("io_uring (shared pool, zc)", &u));
    println!("{}", line("tokio (epoll, Vec per conn)", &t));
    println!(
        "io_uring server: pool {pool_kib} KiB ({POOL_BUFFERS} x {} B); {} bundle completions \
         (longest run {} buffers), {} zero-copy sends ({} notified), {} copying sends, {} \
         buffers dropped on another thread than their ring's, ring dry {} times",
        TIER.size(),
        stats.bundles,
        stats.max_run,
        stats.zc_sends,
        stats.notified,
        stats.copy_sends,
        stats.crossed,
        stats.enobufs
    );
    if let Some(path) = &a.json {
        let rss = |m: &Measured| m.idle_rss_kib.map_or("null".into(), |k| k.to_string());
        let json = format!(
            "{{\n  \"machine\": \"2-vCPU shared VM\",\n  \"conns\": {conns}, \"msg_bytes\": {msg}, \
             \"depth\": {depth}, \"zc_min\": {zc_min}, \"secs\": {secs}, \"threads\": {threads}, \
             \"idle_conns\": {idle},\n  \"pool_kib\": {pool_kib},\n  \
             \"io_uring\": {{\"msgs_per_s\": {u_rate:.0}, \"p50_us\": {u_p50}, \"p99_us\": {u_p99}, \
             \"idle_rss_kib\": {u_rss}, \"bundles\": {bundles}, \"max_run\": {max_run}, \
             \"zc_sends\": {zc}, \"notified\": {notified}, \"copy_sends\": {copies}, \
             \"crossed\": {crossed}, \"enobufs\": {enobufs}}},\n  \
             \"tokio\": {{\"msgs_per_s\": {t_rate:.0}, \"p50_us\": {t_p50}, \"p99_us\": {t_p99}, \
             \"idle_rss_kib\": {t_rss}}}\n}}\n",
            conns = a.conns,
            msg = a.msg,
            depth = a.depth,
            zc_min = a.zc_min,
            secs = a.secs,
            threads = a.threads,
            u_rate = u.load.rate(),
            u_p50 = u.load.p50_us,
            u_p99 = u.load.p99_us,
            u_rss = rss(&u),
            bundles = stats.bundles,
            max_run = stats.max_run,
            zc = stats.zc_sends,
            notified = stats.notified,
            copies = stats.copy_sends,
            crossed = stats.crossed,
            enobufs = stats.enobufs,
            t_rate = t.load.rate(),
            t_p50 = t.load.p50_us,
            t_p99 = t.load.p99_us,
            t_rss = rss(&t),
        );
        // Written beside, then renamed: a failed run never destroys an
        // earlier result.
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, json).map_err(|e| format!("cannot write {tmp}: {e}"))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    Ok(())
}

/// Raises the open-file limit toward `want` (as far as the hard limit, or
/// past it where the process may); returns the limit in force.
fn raise_nofile(want: u64) -> Result<u64, String> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into `lim`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(format!("getrlimit: {}", io::Error::last_os_error()));
    }
    if lim.rlim_cur >= want {
        return Ok(lim.rlim_cur);
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max.max(want),
    };
    // SAFETY: setrlimit reads one rlimit. Raising the hard limit needs
    // CAP_SYS_RESOURCE; without it, fall back to the hard limit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return Ok(want);
    }
    let capped = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &capped) } == 0 {
        return Ok(lim.rlim_max);
    }
    Ok(lim.rlim_cur)
}

fn measure(
    addr: SocketAddr,
    accepted: &AtomicUsize,
    a: &Args,
    idle: usize,
) -> Result<Measured, String> {
    let load = load(addr, a.conns, a.msg, a.depth, Duration::from_secs(a.secs))?;
    let idle_rss_kib = idle_rss(addr, accepted, idle)?;
    Ok(Measured {
        load,
        idle_rss_kib,
        idle,
    })
}

// ---------------------------------------------------------------- clients

struct LoadReport {
    msgs: u64,
    elapsed: Duration,
    p50_us: u32,
    p99_us: u32,
}

impl LoadReport {
    fn rate(&self) -> f64 {
        self.msgs as f64 / self.elapsed.as_secs_f64()
    }
}

/// `conns` connections over two threads; each thread sends one message on
/// each of its connections, then reads every echo (checking it) and notes
/// its latency, until `secs` pass.
fn load(
    addr: SocketAddr,
    conns: usize,
    msg: usize,
    depth: usize,
    secs: Duration,
) -> Result<LoadReport, String> {
    let start = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let n = conns / 2 + (t < conns % 2) as usize;
            std::thread::spawn(move || -> io::Result<(u64, Vec<u32>)> {
                let mut streams = Vec::with_capacity(n);
                for _ in 0..n {
                    let s = TcpStream::connect(addr)?;
                    s.set_nodelay(true)?;
                    s.set_read_timeout(Some(STALL))?;
                    streams.push(s);
                }
                // `depth` messages per connection per round, written
                // together; message k of connection i in round r is all
                // bytes r + i + k.
                let mut out = vec![0u8; msg * depth];
                let mut back = vec![0u8; msg * depth];
                let mut sent_at = vec![Instant::now(); n];
                let mut lat = Vec::new();
                let mut round = 0u64;
                let deadline = Instant::now() + secs;
                let byte = |r: u64, i: usize, k: usize| (r as u8).wrapping_add((i + k) as u8);
                while Instant::now() < deadline && lat.len() < 50_000_000 {
                    for (i, s) in streams.iter_mut().enumerate() {
                        for (k, m) in out.chunks_mut(msg).enumerate() {
                            m.fill(byte(round, i, k));
                        }
                        sent_at[i] = Instant::now();
                        s.write_all(&out)?;
                    }
                    for (i, s) in streams.iter_mut().enumerate() {
                        s.read_exact(&mut back)?;
                        let us = sent_at[i].elapsed().as_micros().min(u32::MAX as u128) as u32;
                        lat.push(us);
                        for (k, m) in back.chunks(msg).enumerate() {
                            if m.iter().any(|&b| b != byte(round, i, k)) {
                                return Err(io::Error::other("an echo came back changed"));
                            }
                        }
                    }
                    round += 1;
                }
                Ok(((lat.len() * depth) as u64, lat))
            })
        })
        .collect();
    let mut msgs = 0;
    let mut lat = Vec::new();
    let mut first_err = None;
    for t in threads {
        match t.join() {
            Ok(Ok((n, l))) => {
                msgs += n;
                lat.extend(l);
            }
            Ok(Err(e)) => first_err = first_err.or(Some(format!("client: {e}"))),
            Err(_) => first_err = first_err.or(Some("a client thread panicked".into())),
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let elapsed = start.elapsed();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Ok(LoadReport {
        msgs,
        elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
    })
}

/// The process's resident set, KiB (VmRSS), where /proc says.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Opens `n` connections and leaves them idle until the server has
/// accepted them all; returns how much the resident set grew, KiB.
fn idle_rss(addr: SocketAddr, accepted: &AtomicUsize, n: usize) -> Result<Option<u64>, String> {
    if n == 0 {
        return Ok(None);
    }
    let before_accepted = accepted.load(Ordering::Acquire);
    let before = rss_kib();
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = std::process::Command::new(exe)
        .args(["--idle-client", &addr.to_string(), &n.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the idle client: {e}"))?;
    let measured = (|| {
        let mut ready = [0u8; 6];
        let out = child
            .stdout
            .as_mut()
            .ok_or("no pipe from the idle client")?;
        out.read_exact(&mut ready)
            .map_err(|e| format!("the idle client failed: {e}"))?;
        let deadline = Instant::now() + STALL;
        while accepted.load(Ordering::Acquire) < before_accepted + n {
            if Instant::now() > deadline {
                return Err("the server did not accept the idle connections".to_string());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Let the server set up its side of each (a receive armed, a task
        // parked on its read).
        std::thread::sleep(Duration::from_millis(500));
        Ok(rss_kib())
    })();
    // Closing its stdin ends the child, and with it the connections.
    drop(child.stdin.take());
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(300));
    let after = measured?;
    Ok(before.zip(after).map(|(b, a)| a.saturating_sub(b)))
}

/// The child process of [`idle_rss`]: opens `N` connections to `ADDR`,
/// says "ready", and holds them until its stdin closes.
fn idle_client(args: &[String]) -> Result<(), String> {
    let [addr, n] = args else {
        return Err("usage: --idle-client ADDR N".into());
    };
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err("loopback addresses only".into());
    }
    let n: usize = n.parse().map_err(|e| format!("{n}: {e}"))?;
    raise_nofile(n as u64 + 64)?;
    let streams = (0..n)
        .map(|_| TcpStream::connect(addr))
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| format!("connect: {e}"))?;
    let mut out = io::stdout();
    out.write_all(b"ready\n").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    let mut sink = Vec::new();
    let _ = io::stdin().read_to_end(&mut sink);
    drop(streams);
    Ok(())
}

// ------------------------------------------------------ the io_uring server

#[derive(Default, Debug, Clone, Copy)]
struct Stats {
    bundles: u64,
    max_run: usize,
    zc_sends: u64,
    notified: u64,
    copy_sends: u64,
    crossed: u64,
    enobufs: u64,
}

struct UringServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<io::Result<Stats>>>,
}

impl UringServer {
    fn start(threads: usize, zc_min: usize) -> Result<UringServer, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        // A deep accept queue for the idle connections' burst (listen again
        // on a listening socket sets its backlog).
        // SAFETY: a plain system call on a socket we own.
        unsafe { libc::listen(listener.as_raw_fd(), 4096) };
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let probe = IoUring::new(4).map_err(|e| {
            if is_unavailable(&e) {
                format!("io_uring is unavailable here: {e}")
            } else {
                format!("io_uring: {e}")
            }
        })?;
        let features = Features::probe(&probe).map_err(|e| e.to_string())?;
        features.require_bundles().map_err(|e| e.to_string())?;
        features.require_send_zc().map_err(|e| e.to_string())?;
        let pool = Arc::new(BufferPool::new(TIER, POOL_BUFFERS).map_err(|e| e.to_string())?);
        let listener = Arc::new(listener);
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        // Worker w hands its finished buffers to worker w + 1, which drops
        // them: buffers cross threads on their way back to the pool.
        let (txs, rxs): (Vec<_>, Vec<_>) =
            (0..threads).map(|_| mpsc::channel::<OwnedBuf>()).unzip();
        let workers = rxs
            .into_iter()
            .enumerate()
            .map(|(w, rx)| {
                let next = txs[(w + 1) % threads].clone();
                let (pool, listener, accepted, stop) = (
                    Arc::clone(&pool),
                    Arc::clone(&listener),
                    Arc::clone(&accepted),
                    Arc::clone(&stop),
                );
                std::thread::spawn(move || {
                    Worker::new(pool, next, rx, accepted, zc_min)?.run(&listener, &stop)
                })
            })
            .collect();
        Ok(UringServer {
            addr,
            accepted,
            stop,
            workers,
        })
    }

    fn stop(self) -> Result<Stats, String> {
        self.stop.store(true, Ordering::Release);
        let mut all = Stats::default();
        let mut err = None;
        for w in self.workers {
            match w.join() {
                Ok(Ok(s)) => {
                    all.bundles += s.bundles;
                    all.max_run = all.max_run.max(s.max_run);
                    all.zc_sends += s.zc_sends;
                    all.notified += s.notified;
                    all.copy_sends += s.copy_sends;
                    all.crossed += s.crossed;
                    all.enobufs += s.enobufs;
                }
                Ok(Err(e)) => err = err.or(Some(format!("io_uring worker: {e}"))),
                Err(_) => err = err.or(Some("an io_uring worker panicked".into())),
            }
        }
        err.map_or(Ok(all), Err)
    }
}

const ACCEPT: u64 = 0;
const RECV: u64 = 1;
const SEND: u64 = 2;

fn user_data(kind: u64, id: usize) -> u64 {
    (kind << 56) | id as u64
}

struct Conn {
    stream: TcpStream,
    /// Received buffers waiting for their echo, in order.
    queue: VecDeque<OwnedBuf>,
    /// A send is submitted and its first completion not yet seen (one at
    /// a time per connection keeps the echo in order).
    sending: bool,
    recv_armed: bool,
    eof: bool,
}

struct Worker {
    ring: IoUring,
    br: BufRing,
    conns: Vec<Option<Conn>>,
    free_conns: Vec<usize>,
    /// Sends in flight and their connections: each holds its buffer until
    /// the kernel is done with it.
    sends: Vec<Option<(Out, usize)>>,
    free_sends: Vec<usize>,
    /// Connections whose multishot receive ended on an empty ring.
    starved: Vec<usize>,
    next: mpsc::Sender<OwnedBuf>,
    from_prev: mpsc::Receiver<OwnedBuf>,
    accepted: Arc<AtomicUsize>,
    /// Echoes shorter than this are copied (a plain send).
    zc_min: usize,
    stats: Stats,
}

/// A send in flight.
enum Out {
    /// Zero-copy: the buffer is held until the notification.
    Zc(ZcSend),
    /// A plain send: the kernel has copied the bytes at its completion.
    Copy(OwnedBuf),
}

impl Worker {
    fn new(
        pool: Arc<BufferPool>,
        next: mpsc::Sender<OwnedBuf>,
        from_prev: mpsc::Receiver<OwnedBuf>,
        accepted: Arc<AtomicUsize>,
        zc_min: usize,
    ) -> io::Result<Worker> {
        let ring = IoUring::builder().setup_cqsize(16384).build(4096)?;
        let br = BufRing::register(&ring, &pool, 0, RING_ENTRIES)?;
        Ok(Worker {
            ring,
            br,
            conns: Vec::new(),
            free_conns: Vec::new(),
            sends: Vec::new(),
            free_sends: Vec::new(),
            starved: Vec::new(),
            next,
            from_prev,
            accepted,
            zc_min,
            stats: Stats::default(),
        })
    }

    /// Pushes `entry`, submitting first if the queue is full.
    ///
    /// # Safety
    /// What the entry names stays valid until its completions are reaped.
    unsafe fn push(&mut self, entry: &io_uring::squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: forwarded to the caller.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    fn arm_recv(&mut self, c: usize) -> io::Result<()> {
        let Some(conn) = self.conns[c].as_mut() else {
            return Ok(());
        };
        let fd = types::Fd(conn.stream.as_raw_fd());
        conn.recv_armed = true;
        let recv = opcode::RecvMultiBundle::new(fd, self.br.bgid())
            .build()
            .user_data(user_data(RECV, c));
        // SAFETY: the recv selects from self.br, which stays registered
        // until the worker ends; at its end the worker waits for every
        // receive to finish, or leaks the ring (see `run`). The ring holds
        // its own reference to the socket.
        unsafe { self.push(&recv) }
    }

    /// Starts the next echo of connection `c`, if none is in flight.
    fn start_send(&mut self, c: usize) -> io::Result<()> {
        let Some(conn) = self.conns[c].as_mut() else {
            return Ok(());
        };
        if conn.sending {
            return Ok(());
        }
        let Some(buf) = conn.queue.pop_front() else {
            return Ok(());
        };
        conn.sending = true;
        let fd = types::Fd(conn.stream.as_raw_fd());
        let slot = self.free_sends.pop().unwrap_or_else(|| {
            self.sends.push(None);
            self.sends.len() - 1
        });
        let (out, entry) = if buf.len() >= self.zc_min {
            // Everything queued (up to a bound) in one gathered send.
            let mut bufs = vec![buf];
            while bufs.len() < MAX_GATHER {
                match conn.queue.pop_front() {
                    Some(b) => bufs.push(b),
                    None => break,
                }
            }
            let mut send = ZcSend::gather(bufs);
            // A fresh send builds its one entry.
            let entry = send.entry(fd).map_err(io::Error::from)?;
            self.stats.zc_sends += 1;
            (Out::Zc(send), entry)
        } else {
            let entry = opcode::Send::new(fd, buf.as_ptr(), buf.len() as u32)
                .flags(libc::MSG_WAITALL)
                .build();
            self.stats.copy_sends += 1;
            (Out::Copy(buf), entry)
        };
        self.sends[slot] = Some((out, c));
        // SAFETY: the send's buffer is held in `self.sends` until the
        // kernel is done with it (a zero-copy one until its notification),
        // never dropped before (or leaked, see `run`).
        unsafe { self.push(&entry.user_data(user_data(SEND, slot))) }
    }

    fn close(&mut self, c: usize) {
        if let Some(conn) = self.conns[c].take() {
            drop(conn.queue); // buffers back to the pool
            self.free_conns.push(c);
        }
    }

    fn run(mut self, listener: &TcpListener, stop: &AtomicBool) -> io::Result<Stats> {
        let accept = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd()))
            .build()
            .user_data(user_data(ACCEPT, 0));
        // SAFETY: the accept names only the listener, which outlives the
        // worker (the server holds it until every worker is joined).
        unsafe { self.push(&accept)? };
        let wait = types::Timespec::new().nsec(5_000_000);
        let mut stop_since: Option<Instant> = None;
        loop {
            // Buffers the previous worker finished with: dropped here.
            while let Ok(buf) = self.from_prev.try_recv() {
                self.stats.crossed += 1;
                drop(buf);
            }
            self.br.fill().map_err(io::Error::from)?;
            if !self.br.is_empty() {
                for c in std::mem::take(&mut self.starved) {
                    if matches!(&self.conns[c], Some(conn) if !conn.eof && !conn.recv_armed) {
                        self.arm_recv(c)?;
                    }
                }
            }
            let busy =
                self.conns.iter().any(Option::is_some) || self.sends.iter().any(Option::is_some);
            if stop.load(Ordering::Acquire) {
                let since = *stop_since.get_or_insert_with(Instant::now);
                if !busy {
                    break;
                }
                if since.elapsed() > STALL {
                    // Operations still in flight: leak what they may touch
                    // (the ring, its buffers, the sends) rather than free it.
                    std::mem::forget(self.br);
                    std::mem::forget(self.sends);
                    return Err(io::Error::other("connections still open at the end"));
                }
            }
            let args = types::SubmitArgs::new().timespec(&wait);
            match self.ring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME) | Some(libc::EINTR)) => {}
                Err(e) => return Err(e),
            }
            let cqes: Vec<(u64, i32, u32)> = self
                .ring
                .completion()
                .map(|c| (c.user_data(), c.result(), c.flags()))
                .collect();
            for (ud, result, flags) in cqes {
                self.complete(ud, result, flags, listener)?;
            }
        }
        // Every receive has ended (every connection saw end of file) and
        // every send was notified: nothing in flight selects from the ring.
        drop(self.br);
        Ok(self.stats)
    }

    fn complete(
        &mut self,
        ud: u64,
        result: i32,
        flags: u32,
        listener: &TcpListener,
    ) -> io::Result<()> {
        let id = (ud & ((1 << 56) - 1)) as usize;
        match ud >> 56 {
            ACCEPT => {
                if !cqueue::more(flags) {
                    let accept = opcode::AcceptMulti::new(types::Fd(listener.as_raw_fd()))
                        .build()
                        .user_data(user_data(ACCEPT, 0));
                    // SAFETY: as for the first accept.
                    unsafe { self.push(&accept)? };
                }
                if result < 0 {
                    return Ok(()); // EMFILE, ECONNABORTED…: keep serving
                }
                // SAFETY: a successful accept's result is a new descriptor
                // that nothing else owns.
                let stream = unsafe { TcpStream::from_raw_fd(result) };
                let _ = stream.set_nodelay(true);
                let conn = Conn {
                    stream,
                    queue: VecDeque::new(),
                    sending: false,
                    recv_armed: false,
                    eof: false,
                };
                let c = match self.free_conns.pop() {
                    Some(c) => {
                        self.conns[c] = Some(conn);
                        c
                    }
                    None => {
                        self.conns.push(Some(conn));
                        self.conns.len() - 1
                    }
                };
                self.accepted.fetch_add(1, Ordering::AcqRel);
                self.arm_recv(c)?;
            }
            RECV => {
                let more = cqueue::more(flags);
                // SAFETY: a completion of this worker's ring, of a bundle
                // receive from self.br's group, reaped just now, once.
                let taken = unsafe { self.br.take_bundle(result, flags) };
                let Some(conn) = self.conns[id].as_mut() else {
                    return Ok(());
                };
                conn.recv_armed &= more;
                match taken {
                    Ok(Some(bundle)) => {
                        self.stats.bundles += 1;
                        self.stats.max_run = self.stats.max_run.max(bundle.buffers());
                        conn.queue.extend(bundle);
                        self.start_send(id)?;
                    }
                    Ok(None) => {
                        conn.eof = true;
                        if !more {
                            self.close(id);
                        }
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                        self.stats.enobufs += 1;
                        if !more {
                            self.starved.push(id);
                        }
                    }
                    Err(_) => {
                        conn.eof = true;
                        if !more {
                            self.close(id);
                        }
                    }
                }
            }
            _ => {
                let Some((out, c)) = self.sends.get_mut(id).and_then(Option::as_mut) else {
                    return Err(io::Error::other("a send completion with no send"));
                };
                let c = *c;
                let first = !cqueue::notif(flags);
                let (zc_buf, done, failed) = match out {
                    // SAFETY: a completion of the SEND_ZC this ZcSend
                    // built, reaped from this worker's ring, once.
                    Out::Zc(send) => {
                        match unsafe { send.complete(result, flags) }.map_err(io::Error::from)? {
                            Some(done) => (done.bufs, true, done.sent.is_err()),
                            None => (Vec::new(), false, false),
                        }
                    }
                    Out::Copy(_) => (Vec::new(), true, result < 0),
                };
                if first {
                    // Queued in the socket: the next echo may go.
                    if let Some(conn) = self.conns[c].as_mut() {
                        conn.sending = false;
                    }
                    self.start_send(c)?;
                }
                if done {
                    self.stats.notified += !first as u64;
                    // (A finished ZcSend no longer holds its buffer.)
                    let bufs = match self.sends[id].take() {
                        Some((Out::Copy(buf), _)) => vec![buf],
                        _ => zc_buf,
                    };
                    self.free_sends.push(id);
                    if failed {
                        self.close(c);
                    }
                    // The kernel is done with the pages: to the next worker.
                    for buf in bufs {
                        if let Err(mpsc::SendError(buf)) = self.next.send(buf) {
                            drop(buf);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

// --------------------------------------------------------- the tokio server

struct TokioServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<io::Result<()>>,
}

impl TokioServer {
    fn start(threads: usize) -> Result<TokioServer, String> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        // SAFETY: a plain system call on a socket we own.
        unsafe { libc::listen(listener.as_raw_fd(), 4096) };
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .map_err(|e| format!("tokio: {e}"))?;
        let (acc, st) = (Arc::clone(&accepted), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                while !st.load(Ordering::Acquire) {
                    let Ok(next) =
                        tokio::time::timeout(Duration::from_millis(20), listener.accept()).await
                    else {
                        continue;
                    };
                    let Ok((stream, _)) = next else { continue };
                    let _ = stream.set_nodelay(true);
                    acc.fetch_add(1, Ordering::AcqRel);
                    tokio::spawn(tokio_echo(stream));
                }
                Ok(())
            })
        });
        Ok(TokioServer {
            addr,
            accepted,
            stop,
            thread,
        })
    }

    fn stop(self) -> Result<(), String> {
        self.stop.store(true, Ordering::Release);
        match self.thread.join() {
            Ok(r) => r.map_err(|e| format!("tokio server: {e}")),
            Err(_) => Err("the tokio server panicked".into()),
        }
    }
}

/// The usual epoll echo: a buffer per connection, read, write it all back.
async fn tokio_echo(stream: tokio::net::TcpStream) {
    let mut buf = vec![0u8; TOKIO_BUF];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        let n = match stream.try_read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(_) => return,
        };
        let mut done = 0;
        while done < n {
            if stream.writable().await.is_err() {
                return;
            }
            match stream.try_write(&buf[done..n]) {
                Ok(k) => done += k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    }
}
