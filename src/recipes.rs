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
//! served one message at a time, never have more than a couple of buffers
//! out.
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
//! rt.block_on(async {
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
//!     for (i, client) in clients.iter_mut().enumerate() {
//!         let msg = format!("hello from {i}");
//!         client.write_all(msg.as_bytes()).await?;
//!         let mut back = vec![0; msg.len()];
//!         client.read_exact(&mut back).await?;
//!         assert_eq!(back, msg.as_bytes());
//!     }
//!     drop(clients);
//!     server.await.expect("the task ran")
//! })?;
//! let s = pool.stats();
//! assert!(s.high_water <= 4, "{s:?}"); // not 64: idle connections hold nothing
//! assert_eq!(s.in_use, 0);
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
