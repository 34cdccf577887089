//! Recipes: how pool buffers fit the programs people write. Documentation
//! only; every recipe is a doctest that runs (servers on the loopback
//! address) under `cargo test --all-features`, and compiles to nothing
//! without the features it names.
//!
//! * [A tokio server that reads into pool buffers](#a-tokio-server-that-reads-into-pool-buffers)
//! * [Many idle connections: readiness first, then a buffer](#many-idle-connections-readiness-first-then-a-buffer)
//! * [Acquire with a timeout; a dry pool or a leak?](#acquire-with-a-timeout-a-dry-pool-or-a-leak)
//! * [Registered buffers with tokio-uring](#registered-buffers-with-tokio-uring)
//! * [A pool buffer as an HTTP response body](#a-pool-buffer-as-an-http-response-body)
//!
//! io_uring (feature `io-uring`, module `uring`). Each recipe returns early
//! where io_uring is off (`uring::is_unavailable`, shown in the first) or
//! the kernel lacks the feature (the others hide their `IoUring::new`):
//! * [One pool behind many rings](#one-pool-behind-many-rings)
//! * [Recv bundles: one completion, a run of buffers](#recv-bundles-one-completion-a-run-of-buffers)
//! * [Incremental consumption: parts of one buffer](#incremental-consumption-parts-of-one-buffer)
//! * [Zero-copy send: the buffer returns at the notification](#zero-copy-send-the-buffer-returns-at-the-notification)
//! * [Registered buffers across rings](#registered-buffers-across-rings)
//!
//! # A tokio server that reads into pool buffers
//! A `static` pool gives `PooledBuf<'static>` guards, which move into tasks
//! without a reference count. A fresh guard is empty, as a `BytesMut` is,
//! so tokio's `read_buf` fills it (a full buffer would make `read_buf`
//! return 0, which looks like the end of the stream), and `write_all_buf`
//! sends and consumes it (feature `bytes`).
//!
//! ```
//! # #[cfg(feature = "bytes")]
//! # fn main() -> std::io::Result<()> {
//! use iobuf_pool::{BufferPool, Tier};
//! use std::sync::LazyLock;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tokio::net::{TcpListener, TcpStream};
//!
//! static POOL: LazyLock<BufferPool> =
//!     LazyLock::new(|| BufferPool::new(Tier::Small, 64).expect("the pool's memory"));
//!
//! /// One connection: a pool buffer per read, written back, then returned.
//! async fn echo(mut stream: TcpStream) -> std::io::Result<()> {
//!     loop {
//!         let mut buf = POOL.acquire().await; // waits, without blocking, if the pool is dry
//!         if stream.read_buf(&mut buf).await? == 0 {
//!             return Ok(()); // the peer closed
//!         }
//!         stream.write_all_buf(&mut buf).await?;
//!     } // each `buf` goes back to the pool at the end of its turn
//! }
//!
//! let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_io().build()?;
//! rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = tokio::spawn(async move {
//!         let mut conns = Vec::new();
//!         for _ in 0..4 {
//!             let (stream, _) = listener.accept().await?;
//!             conns.push(tokio::spawn(echo(stream)));
//!         }
//!         for c in conns {
//!             c.await.expect("the task ran")?;
//!         }
//!         Ok::<_, std::io::Error>(())
//!     });
//!     for i in 0..4u8 {
//!         let mut client = TcpStream::connect(addr).await?;
//!         let msg = [i; 5000]; // more than one 2 KiB buffer
//!         client.write_all(&msg).await?;
//!         let mut back = vec![0; msg.len()];
//!         client.read_exact(&mut back).await?;
//!         assert_eq!(back, msg);
//!     } // each client closes here, and its server task ends
//!     server.await.expect("the task ran")
//! })?;
//! assert_eq!(POOL.stats().in_use, 0); // every buffer came back
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "bytes"))]
//! # fn main() {}
//! ```
//!
//! # Many idle connections: readiness first, then a buffer
//! A server that takes a buffer and then awaits a read holds one buffer per
//! *idle* connection: 64 quiet connections pin 64 buffers. Await
//! readiness first (`readable()`), holding nothing, and take a buffer only
//! when there is something to read; `try_read` then reads without waiting,
//! and the buffer goes back before the next wait. Here 64 connections,
//! served one message at a time, never hold more than a couple of buffers
//! (`stats().in_use`: the buffers held; `high_water` also counts the free
//! buffers parked in a default pool's per-thread caches).
//!
//! ```
//! use iobuf_pool::{BufferPool, Tier};
//! use std::sync::Arc;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tokio::net::{TcpListener, TcpStream};
//!
//! /// One connection: idle without a buffer; a buffer only to read and echo.
//! async fn echo(pool: Arc<BufferPool>, mut stream: TcpStream) -> std::io::Result<()> {
//!     loop {
//!         stream.readable().await?; // idle here, holding no buffer
//!         let mut buf = pool.acquire_owned().await;
//!         match stream.try_read(buf.as_full_mut()) {
//!             Ok(0) => return Ok(()), // the peer closed
//!             Ok(n) => {
//!                 buf.set_len(n)?;
//!                 stream.write_all(&buf).await?;
//!             }
//!             // A spurious wake-up: the buffer goes straight back.
//!             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
//!             Err(e) => return Err(e),
//!         }
//!     }
//! }
//!
//! let pool = Arc::new(BufferPool::new(Tier::Small, 64)?);
//! let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_io().build()?;
//! let most = rt.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = {
//!         let pool = Arc::clone(&pool);
//!         tokio::spawn(async move {
//!             let mut conns = Vec::new();
//!             for _ in 0..64 {
//!                 let (stream, _) = listener.accept().await?;
//!                 conns.push(tokio::spawn(echo(Arc::clone(&pool), stream)));
//!             }
//!             for c in conns {
//!                 c.await.expect("the task ran")?;
//!             }
//!             Ok::<_, std::io::Error>(())
//!         })
//!     };
//!     let mut clients = Vec::new();
//!     for _ in 0..64 {
//!         clients.push(TcpStream::connect(addr).await?); // 64 idle connections
//!     }
//!     let mut most = 0; // buffers held, seen after each round trip
//!     for (i, client) in clients.iter_mut().enumerate() {
//!         let msg = format!("hello from {i}");
//!         client.write_all(msg.as_bytes()).await?;
//!         let mut back = vec![0; msg.len()];
//!         client.read_exact(&mut back).await?;
//!         assert_eq!(back, msg.as_bytes());
//!         most = most.max(pool.stats().in_use);
//!     }
//!     drop(clients);
//!     server.await.expect("the task ran")?;
//!     Ok::<_, std::io::Error>(most)
//! })?;
//! assert!(most <= 4, "{most}"); // not 64: idle connections hold nothing
//! assert_eq!(pool.stats().in_use, 0);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Acquire with a timeout; a dry pool or a leak?
//! `acquire` waits as long as the pool is dry, silently. Bound the wait
//! with the runtime's timeout (dropping the future leaves no waiter and
//! loses no buffer), and say in the error what the pool looked like:
//! [`stats()`](crate::BufferPool::stats).
//!
//! * **Dry** (too little pool for the load): `in_use == capacity` and
//!   `waiters > 0` while busy, but `in_use` falls back as the work ends.
//!   Raise the capacity, or bound the work in flight.
//! * **Leaked** (buffers that never come back: a guard kept in a
//!   long-lived structure, a `mem::forget`, a `RawBuf` never given back):
//!   at a quiet moment, with no work in flight, `in_use` is still above
//!   what the program holds on purpose, and it grows from one quiet moment
//!   to the next.
//!
//! ```
//! use iobuf_pool::{BufferPool, OwnedBuf, Tier};
//! use std::{io, sync::Arc, time::Duration};
//!
//! /// `acquire_owned`, giving up after `limit` with an error that says why.
//! async fn acquire_within(pool: &Arc<BufferPool>, limit: Duration) -> io::Result<OwnedBuf> {
//!     match tokio::time::timeout(limit, pool.acquire_owned()).await {
//!         Ok(buf) => Ok(buf),
//!         Err(_elapsed) => {
//!             let s = pool.stats();
//!             Err(io::Error::new(
//!                 io::ErrorKind::TimedOut,
//!                 format!(
//!                     "no pool buffer in {limit:?}: {} of {} in use, {} other tasks waiting",
//!                     s.in_use, s.capacity, s.waiters
//!                 ),
//!             ))
//!         }
//!     }
//! }
//!
//! let pool = Arc::new(BufferPool::new(Tier::Small, 2)?);
//! let limit = Duration::from_millis(20);
//! let rt = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
//! rt.block_on(async {
//!     // Dry: both buffers are out with work in flight.
//!     let work = (acquire_within(&pool, limit).await?, acquire_within(&pool, limit).await?);
//!     let err = acquire_within(&pool, limit).await.unwrap_err();
//!     assert_eq!(err.kind(), io::ErrorKind::TimedOut);
//!     assert!(err.to_string().contains("2 of 2 in use, 0 other tasks waiting"), "{err}");
//!     assert_eq!(pool.stats().waiters, 0); // the timed-out wait left nothing behind
//!     drop(work); // the work ends...
//!     assert_eq!(pool.stats().in_use, 0); // ...and at a quiet moment all is back: dry, not leaked
//!
//!     // A leak: a buffer that never comes back.
//!     std::mem::forget(acquire_within(&pool, limit).await?);
//!     assert_eq!(pool.stats().in_use, 1); // quiet, yet one is out: look for the leak
//!     Ok::<_, io::Error>(())
//! })?;
//! # Ok::<(), io::Error>(())
//! ```
//!
//! # Registered buffers with tokio-uring
//! tokio-uring's `FixedBufPool` can be built from pool guards (feature
//! `tokio-uring`). Two rules make it correct:
//! * **Use the count a read returns.** A registered buffer's length is
//!   tokio-uring's, kept across check-outs and only ever raised by a read
//!   (its `FixedBuf`, not this crate's guard): after a long read and a
//!   shorter one, `&fixed[..]` ends in the long read's bytes. Look at
//!   `&fixed[..n]`; write `fixed.slice(..n)`.
//! * **Share it in an `Rc`.** `FixedBufPool<OwnedBuf>` is not `Clone`
//!   (tokio-uring's derive asks `OwnedBuf: Clone`, and a buffer cannot be
//!   cloned); an `Rc` shares it between the runtime's tasks.
//!
//! The guards come back to the pool when the `FixedBufPool`, its
//! `FixedBuf`s and the runtime are gone.
//!
//! ```
//! # #[cfg(feature = "tokio-uring")]
//! # fn main() -> std::io::Result<()> {
//! use iobuf_pool::{BufferPool, OwnedBuf, Tier};
//! use std::{rc::Rc, sync::Arc};
//! use tokio_uring::buf::{fixed::FixedBufPool, BoundedBuf};
//! use tokio_uring::fs::File;
//!
//! let pool = Arc::new(BufferPool::new(Tier::Small, 1)?);
//! let dir = tempfile::tempdir()?;
//! let (src, dst) = (dir.path().join("src"), dir.path().join("dst"));
//! std::fs::write(&src, b"a longer first line\nshort\n")?;
//! tokio_uring::start(async {
//!     let fixed: Rc<FixedBufPool<OwnedBuf>> = Rc::new(FixedBufPool::new([pool.get_owned()]));
//!     fixed.register()?;
//!     let file = Rc::new(File::open(&src).await?);
//!
//!     // Two tasks share the registered buffer (one buffer: they take turns).
//!     let tasks: Vec<_> = [(0, 26), (20, 6)]
//!         .into_iter()
//!         .map(|(pos, want)| {
//!             let (fixed, file) = (Rc::clone(&fixed), Rc::clone(&file));
//!             tokio_uring::spawn(async move {
//!                 let buf = fixed.next(2048).await; // waits while the other task has it
//!                 let (res, buf) = file.read_fixed_at(buf, pos).await;
//!                 let n = res?;
//!                 assert_eq!(n, want);
//!                 Ok::<_, std::io::Error>(buf[..n].to_vec()) // the count, not buf.len()
//!             })
//!         })
//!         .collect();
//!     for t in tasks {
//!         t.await.expect("the task ran")?;
//!     }
//!
//!     // The pitfall, shown: a short read after a long one.
//!     let (res, buf) = file.read_fixed_at(fixed.next(2048).await, 0).await;
//!     assert_eq!(res?, 26);
//!     drop(buf); // checked in, with tokio-uring's length 26
//!     let (res, buf) = file.read_fixed_at(fixed.next(2048).await, 20).await;
//!     let n = res?;
//!     assert_eq!((n, buf.len()), (6, 26)); // buf.len() is not this read's
//!     assert_eq!(&buf[..n], b"short\n");
//!     let out = File::create(&dst).await?;
//!     let (res, _buf) = out.write_fixed_all_at(buf.slice(..n), 0).await; // only the n bytes
//!     res?;
//!     out.sync_all().await?;
//!     out.close().await
//! })?;
//! assert_eq!(std::fs::read(&dst)?, b"short\n");
//! assert_eq!(pool.stats().in_use, 0); // back once the runtime has ended
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "tokio-uring"))]
//! # fn main() {}
//! ```
//!
//! # A pool buffer as an HTTP response body
//! axum's `Body::from`, hyper's `Full::new` and most HTTP bodies take
//! `impl Into<Bytes>`; a guard converts without a copy (feature `bytes`),
//! and goes back to the pool when the server drops the body after sending
//! it. With axum the handler is the same, returning `Body::from(buf)` or
//! the `Bytes` itself, which is a response.
//!
//! ```
//! # #[cfg(feature = "bytes")]
//! # fn main() {
//! use bytes::{BufMut, Bytes};
//! use iobuf_pool::{BufferPool, Tier};
//! use std::io::Write;
//! use std::sync::LazyLock;
//!
//! static POOL: LazyLock<BufferPool> =
//!     LazyLock::new(|| BufferPool::new(Tier::Small, 16).expect("the pool's memory"));
//!
//! /// What a framework's body does with the handler's value (axum's
//! /// `Body::from`, hyper's `Full::new`): `impl Into<Bytes>`.
//! fn response_body(body: impl Into<Bytes>) -> Bytes {
//!     body.into()
//! }
//!
//! /// A handler: renders into a pool buffer, hands it over without a copy.
//! fn get_user(id: u32) -> Bytes {
//!     let mut buf = POOL.get(); // empty
//!     buf.put_slice(b"{\"id\":");
//!     write!(buf, "{id}}}").expect("room in a 2 KiB buffer");
//!     response_body(buf)
//! }
//!
//! let body = get_user(7);
//! assert_eq!(&body[..], b"{\"id\":7}");
//! assert_eq!(POOL.stats().in_use, 1); // held while the response is sent
//! let _content_length = body.len();
//! drop(body); // the server is done with it
//! assert_eq!(POOL.stats().in_use, 0);
//! # }
//! # #[cfg(not(feature = "bytes"))]
//! # fn main() {}
//! ```
//!
//! # One pool behind many rings
//! A thread-per-core server has an io_uring per thread. Give each its own
//! provided-buffer ring (`uring::BufRing`), all fed from one
//! `Arc<BufferPool>`: the kernel picks a buffer only when data arrives, so
//! buffer memory follows the traffic, not the connections. A buffer that
//! ring A's kernel picked is an `OwnedBuf` once taken: it may be dropped on
//! any thread, and goes back to the *pool*, where any ring's next `fill`
//! can pick it up. (A socket pair stands in for each thread's connection.)
//!
//! A default pool has per-thread caches: a buffer dropped on a ring's
//! thread feeds that ring's next `fill` first. One dropped on a thread
//! without a ring may wait in that thread's cache (at most
//! `thread_cache_size()` of them), which no ring's `fill` takes from:
//! count them in the pool's size, or build it with `.thread_cache(0)`.
//!
//! ```
//! # #[cfg(feature = "io-uring")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use io_uring::{opcode, squeue, types, IoUring};
//! use iobuf_pool::uring::{is_unavailable, BufRing};
//! use iobuf_pool::{BufferPool, OwnedBuf, Tier};
//! use std::io::{self, Write};
//! use std::os::{fd::AsRawFd, unix::net::UnixStream};
//! use std::sync::{mpsc, Arc};
//!
//! /// One thread: its own ring, fed from `pool`; one receive, whose buffer
//! /// goes to the other thread, and the other thread's buffer dropped here.
//! fn worker(
//!     pool: &Arc<BufferPool>,
//!     to: mpsc::Sender<OwnedBuf>,
//!     from: mpsc::Receiver<OwnedBuf>,
//! ) -> io::Result<()> {
//!     let mut ring = IoUring::new(4)?;
//!     let mut br = BufRing::register(&ring, pool, 0, 4)?; // group 0 of this ring
//!     assert_eq!(br.fill()?, 4); // half the pool, waiting for the kernel to pick
//!     let (mut peer, sock) = UnixStream::pair()?;
//!     peer.write_all(b"hello")?;
//!     let recv = opcode::Recv::new(types::Fd(sock.as_raw_fd()), std::ptr::null_mut(), 0)
//!         .buf_group(br.bgid())
//!         .build()
//!         .flags(squeue::Flags::BUFFER_SELECT); // the kernel picks the buffer
//!     // SAFETY: `br` stays registered and `sock` open until the completion
//!     // is reaped below.
//!     unsafe { ring.submission().push(&recv) }.map_err(io::Error::other)?;
//!     ring.submit_and_wait(1)?;
//!     let cqe = ring.completion().next().expect("one completion");
//!     // SAFETY: the one completion of this ring's recv from br's group, taken once.
//!     let got = unsafe { br.take(cqe.result(), cqe.flags()) }?.expect("bytes, not end of stream");
//!     assert_eq!(&got[..], b"hello");
//!     to.send(got.into_buf()).expect("the other thread waits for it");
//!     drop(from.recv().expect("the other ring's buffer")); // to the pool, not to its ring
//!     assert_eq!(br.fill()?, 1); // and a refill here can take it
//!     Ok(())
//! } // `br` drops: its buffers go back to the pool
//!
//! if let Err(e) = IoUring::new(4) {
//!     return if is_unavailable(&e) { Ok(()) } else { Err(e.into()) }; // io_uring is off here
//! }
//! let pool = Arc::new(BufferPool::new(Tier::Small, 8)?);
//! let ((to_b, from_a), (to_a, from_b)) = (mpsc::channel(), mpsc::channel());
//! std::thread::scope(|s| {
//!     let a = s.spawn(|| worker(&pool, to_b, from_b));
//!     let b = s.spawn(|| worker(&pool, to_a, from_a));
//!     a.join().expect("thread a ran").and(b.join().expect("thread b ran"))
//! })?;
//! let s = pool.stats();
//! assert_eq!((s.in_use, s.free), (0, 8)); // every buffer back, exactly once
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "io-uring"))]
//! # fn main() {}
//! ```
//!
//! # Recv bundles: one completion, a run of buffers
//! A bundle receive (`IORING_RECVSEND_BUNDLE`, Linux 6.10) fills as many
//! ring buffers as the data needs, in ring order, and completes once: fewer
//! completions for large messages, and small buffers that waste little on
//! small ones. `BufRing::take_bundle` gives the run as one `uring::Bundle`:
//! its guards, each full but the last, and their `IoVec`s, a gather list
//! that echoes the bundle without a copy.
//!
//! ```
//! # #[cfg(feature = "io-uring")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use io_uring::{opcode, types, IoUring};
//! use iobuf_pool::uring::{cqe_result, BufRing, Features};
//! # use iobuf_pool::uring::is_unavailable;
//! use iobuf_pool::{BufferPool, IoVec, Tier};
//! use std::io::{Read, Write};
//! use std::os::{fd::AsRawFd, unix::net::UnixStream};
//! use std::sync::Arc;
//!
//! # let mut ring = match IoUring::new(8) {
//! #     Err(e) if is_unavailable(&e) => return Ok(()), // io_uring is off here
//! #     r => r?,
//! # };
//! if !Features::probe(&ring)?.bundles() {
//!     return Ok(()); // a kernel before 6.10
//! }
//! let pool = Arc::new(BufferPool::new(Tier::Nano, 16)?); // 128-byte buffers
//! let mut br = BufRing::register(&ring, &pool, 0, 16)?;
//! let (mut client, server) = UnixStream::pair()?;
//! let msg: Vec<u8> = (0..1000u32).map(|i| i as u8).collect(); // 8 buffers' worth
//! client.write_all(&msg)?;
//! let fd = types::Fd(server.as_raw_fd());
//! let mut got = 0;
//! while got < msg.len() {
//!     // (The kernel may end a bundle before the data queued does.)
//!     br.fill()?; // what came back to the pool since
//!     let recv = opcode::RecvBundle::new(fd, br.bgid()).build();
//!     // SAFETY: `br` stays registered and `server` open until the
//!     // completion is reaped below.
//!     unsafe { ring.submission().push(&recv)? };
//!     ring.submit_and_wait(1)?;
//!     let cqe = ring.completion().next().ok_or("no completion")?;
//!     // SAFETY: the one completion of this ring's bundle recv from br's group, taken once.
//!     let bundle = unsafe { br.take_bundle(cqe.result(), cqe.flags()) }?.ok_or("end of stream")?;
//!     assert_eq!(bundle.buffers(), bundle.len().div_ceil(128)); // each full but the last
//!     for buf in &bundle {
//!         assert_eq!(&buf[..], &msg[got..got + buf.len()]); // in ring order
//!         got += buf.len();
//!     }
//!     // Echo it: its IoVecs are a writev's gather list.
//!     let iov: Vec<IoVec> = bundle.io_vecs().collect();
//!     let (iov_ptr, iov_len) = IoVec::addr_len(&iov);
//!     let echo = opcode::Writev::new(fd, iov_ptr, iov_len as u32).offset(u64::MAX).build();
//!     // SAFETY: `iov` and the bundle's buffers it points into live until the
//!     // completion is reaped below; the kernel only reads them.
//!     unsafe { ring.submission().push(&echo)? };
//!     ring.submit_and_wait(1)?;
//!     let cqe = ring.completion().next().ok_or("no completion")?;
//!     assert_eq!(cqe_result(cqe.result())? as usize, bundle.len());
//! } // each bundle's buffers go back to the pool here
//! let mut back = vec![0; msg.len()];
//! client.read_exact(&mut back)?;
//! assert_eq!(back, msg);
//! drop(br);
//! assert_eq!(pool.stats().in_use, 0);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "io-uring"))]
//! # fn main() {}
//! ```
//!
//! # Incremental consumption: parts of one buffer
//! With an incremental ring (`BufRing::register_incremental`,
//! `IOU_PBUF_RING_INC`, Linux 6.12) the kernel fills one buffer across
//! several receives: large buffers without a large one per small message.
//! Each completion is a `uring::RecvPart` (`BufRing::take_part`), the
//! range after the previous part of that buffer. The parts share the
//! buffer, which goes back to the pool once the kernel is done with it (a
//! completion without `IORING_CQE_F_BUF_MORE`) *and* its last part drops.
//!
//! ```
//! # #[cfg(feature = "io-uring")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use io_uring::{opcode, squeue, types, IoUring};
//! use iobuf_pool::uring::{BufRing, RecvPart, UringError};
//! # use iobuf_pool::uring::is_unavailable;
//! use iobuf_pool::{BufferPool, Tier};
//! use std::io::Write;
//! use std::os::{fd::AsRawFd, unix::net::UnixStream};
//! use std::sync::Arc;
//!
//! # let mut ring = match IoUring::new(8) {
//! #     Err(e) if is_unavailable(&e) => return Ok(()), // io_uring is off here
//! #     r => r?,
//! # };
//! let pool = Arc::new(BufferPool::new(Tier::Small, 2)?); // 2 KiB buffers
//! let mut br = match BufRing::register_incremental(&ring, &pool, 0, 2) {
//!     Err(UringError::Unsupported { .. }) => return Ok(()), // a kernel before 6.12
//!     r => r?,
//! };
//! br.fill()?;
//! let (mut client, server) = UnixStream::pair()?;
//! // Sends `msg`, and receives it with a recv that the kernel serves from `br`.
//! let mut next_part = |msg: &[u8]| -> Result<RecvPart, Box<dyn std::error::Error>> {
//!     client.write_all(msg)?;
//!     let recv = opcode::Recv::new(types::Fd(server.as_raw_fd()), std::ptr::null_mut(), 0)
//!         .buf_group(br.bgid())
//!         .build()
//!         .flags(squeue::Flags::BUFFER_SELECT);
//!     // SAFETY: `br` and `server` live until the completion is reaped below.
//!     unsafe { ring.submission().push(&recv)? };
//!     ring.submit_and_wait(1)?;
//!     let cqe = ring.completion().next().ok_or("no completion")?;
//!     // SAFETY: the one completion of this ring's recv from br's group, taken once.
//!     let part = unsafe { br.take_part(cqe.result(), cqe.flags()) }?;
//!     Ok(part.ok_or("end of stream")?)
//! };
//! let (a, b) = (next_part(b"GET /a\n")?, next_part(b"GET /b\n")?);
//! assert_eq!((&a[..], a.offset()), (&b"GET /a\n"[..], 0));
//! assert_eq!((&b[..], b.offset()), (&b"GET /b\n"[..], 7)); // right after it
//! assert!(b.shares_buffer_with(&a)); // one buffer, two messages
//! drop((a, b));
//! assert_eq!(pool.stats().in_use, 2); // not back: the kernel still fills the rest
//! let rest = next_part(&[b'.'; 2048 - 14])?; // fills it: no IORING_CQE_F_BUF_MORE
//! assert_eq!(rest.offset(), 14);
//! drop(rest); // the kernel is done with the buffer, and this was its last part
//! assert_eq!(pool.stats().in_use, 1); // back; the other buffer waits in the ring
//! drop(br);
//! assert_eq!(pool.stats().in_use, 0);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "io-uring"))]
//! # fn main() {}
//! ```
//!
//! # Zero-copy send: the buffer returns at the notification
//! `SEND_ZC` sends from the buffer's own pages and completes twice: first
//! the bytes sent (with `IORING_CQE_F_MORE`), while the network stack may
//! still read the pages, then the notification (`IORING_CQE_F_NOTIF`). A
//! `uring::ZcSend` holds the buffer from the entry to the notification: no
//! safe call reaches it in between, and only `complete` hands it back, at
//! the notification. Dropped before, it leaks the buffer rather than free
//! pages the kernel may still read.
//!
//! ```
//! # #[cfg(feature = "io-uring")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use io_uring::{types, IoUring};
//! use iobuf_pool::uring::{Features, ZcSend};
//! # use iobuf_pool::uring::is_unavailable;
//! use iobuf_pool::{BufferPool, Tier};
//! use std::io::Read;
//! use std::net::{TcpListener, TcpStream};
//! use std::os::fd::AsRawFd;
//! use std::sync::Arc;
//!
//! # let mut ring = match IoUring::new(8) {
//! #     Err(e) if is_unavailable(&e) => return Ok(()), // io_uring is off here
//! #     r => r?,
//! # };
//! if !Features::probe(&ring)?.send_zc() {
//!     return Ok(()); // a kernel before 6.0
//! }
//! let pool = Arc::new(BufferPool::new(Tier::Small, 4)?);
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let client = TcpStream::connect(listener.local_addr()?)?;
//! let (mut server, _) = listener.accept()?;
//! let mut buf = pool.get_owned();
//! buf.extend_from_slice_checked(b"a response")?; // a fresh guard is empty
//! let mut send = ZcSend::new(buf); // the buffer is out of reach from here on
//! let entry = send.entry(types::Fd(client.as_raw_fd()))?.user_data(1); // one entry, once
//! // SAFETY: `send` holds the buffer until `complete` hands it back below,
//! // and `client` stays open as long.
//! unsafe { ring.submission().push(&entry)? };
//! let done = loop {
//!     ring.submit_and_wait(1)?;
//!     let cqe = ring.completion().next().ok_or("no completion")?;
//!     // SAFETY: a completion of this send's entry (the ring's only
//!     // operation), each passed once.
//!     match unsafe { send.complete(cqe.result(), cqe.flags()) }? {
//!         // Sent, but the kernel may still read the pages: still held.
//!         None => assert_eq!((send.is_pending(), pool.stats().in_use), (true, 1)),
//!         Some(done) => break done, // the notification
//!     }
//! };
//! assert_eq!(done.sent?, 10);
//! drop(done.bufs); // now it goes back
//! assert_eq!(pool.stats().in_use, 0);
//! let mut got = [0; 10];
//! server.read_exact(&mut got)?;
//! assert_eq!(&got, b"a response");
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "io-uring"))]
//! # fn main() {}
//! ```
//!
//! # Registered buffers across rings
//! Registered (fixed) buffers have their pages pinned once, not on every
//! operation. Register a pool once (`uring::FixedBuffers::register`) and
//! share that table with every thread's ring (`FixedBuffers::clone_to`,
//! `IORING_REGISTER_CLONE_BUFFERS`, Linux 6.12): pool index = fixed-buffer
//! index on every ring, so each thread can use any guard of the pool in a
//! `READ_FIXED` or `WRITE_FIXED`.
//!
//! ```
//! # #[cfg(feature = "io-uring")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use io_uring::{types, IoUring};
//! use iobuf_pool::uring::{cqe_result, FixedBuffers, UringError};
//! # use iobuf_pool::uring::is_unavailable;
//! use iobuf_pool::{BufferPool, Tier};
//! use std::io::{self, Write};
//! use std::os::fd::AsRawFd;
//!
//! # let first = match IoUring::new(4) {
//! #     Err(e) if is_unavailable(&e) => return Ok(()), // io_uring is off here
//! #     r => r?,
//! # };
//! let pool = BufferPool::new(Tier::Small, 4)?;
//! let fixed = FixedBuffers::register(&first, &pool)?; // pinned once
//! let mut workers = Vec::new();
//! for _ in 0..2 {
//!     let ring = IoUring::new(4)?; // a worker thread's ring
//!     match fixed.clone_to(&ring) {
//!         Ok(shared) => workers.push((ring, shared)),
//!         Err(UringError::Unsupported { .. }) => return Ok(()), // a kernel before 6.12
//!         Err(e) => return Err(e.into()),
//!     }
//! }
//! let mut file = tempfile::tempfile()?;
//! file.write_all(b"read by every thread")?;
//! std::thread::scope(|s| {
//!     let threads: Vec<_> = workers
//!         .into_iter()
//!         .map(|(mut ring, shared)| {
//!             let (pool, file) = (&pool, &file);
//!             s.spawn(move || -> io::Result<()> {
//!                 let buf = pool.get(); // any buffer: registered on this ring too
//!                 let fd = types::Fd(file.as_raw_fd());
//!                 let read = shared.read_fixed(fd, &buf, 0..buf.capacity(), 0)?;
//!                 // SAFETY: `buf` and `file` outlive the completion reaped below.
//!                 unsafe { ring.submission().push(&read) }.map_err(io::Error::other)?;
//!                 ring.submit_and_wait(1)?;
//!                 let cqe = ring.completion().next().expect("one completion");
//!                 let n = cqe_result(cqe.result())? as usize;
//!                 assert_eq!(&buf.as_full()[..n], b"read by every thread");
//!                 Ok(())
//!             }) // this thread's clone is unregistered as it ends
//!         })
//!         .collect();
//!     threads.into_iter().try_for_each(|t| t.join().expect("the thread ran"))
//! })?;
//! drop(fixed);
//! assert_eq!(pool.stats().in_use, 0);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "io-uring"))]
//! # fn main() {}
//! ```
