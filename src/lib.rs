//! Lock-free, tiered, page-aligned buffer pools for low-latency I/O.
//!
//! * [`Tier`]: twelve buffer sizes, powers of 4 from 32 B to 128 MiB.
//! * [`BufferPool`]: `capacity` buffers of one tier in one page-aligned
//!   slab, handed out by index through a lock-free, ABA-safe ring
//!   ([`sync::IndexRing`], Nikolaev's SCQ). [`PooledBuf`] guards give the
//!   bytes without a copy and return the buffer on drop, from any thread;
//!   [`OwnedBuf`] is the `'static + Send` guard that keeps its pool's
//!   memory alive (no shared atomic per get or drop on a thread-cached
//!   pool).
//! * Gets: [`BufferPool::try_get`], the blocking [`BufferPool::get`] and
//!   [`BufferPool::get_timeout`], the async [`BufferPool::acquire`], and
//!   batches ([`BufferPool::try_get_many`], [`BufferPool::put_many`]).
//! * [`BufferPoolBuilder::thread_cache`]: a transparent per-thread cache
//!   used by plain gets and drops (a hit makes no atomic read-modify-write).
//! * [`TieredPool`]: several tiers behind one handle, picked by size;
//!   [`TierPool`] and [`tiers`]: one type per tier, with `&mut [u8; N]`.
//! * [`BoundedPool<T>`]: the same ring over any `T`.
//! * [`RawBuf`]: a buffer held outside a guard (an I/O in flight).
//! * [`IoVec`]: the OS `struct iovec`; [`mem`]: aligned memory;
//!   [`sync`]: the ring, the async wait list and the backoff, for pools of
//!   your own.
//! * Features: `io-uring` (module `uring`: fixed buffers and provided-buffer
//!   rings), `bytes` (`Buf`/`BufMut` for the guards, `Bytes` from them),
//!   `tokio-uring`, `monoio`, `compio` (each runtime's buffer traits: guards
//!   start empty, and on every runtime a read sets the filled length to the
//!   bytes read). `From<Error> for std::io::Error` always.
//! * [`recipes`]: a tokio server on pool buffers, many idle connections,
//!   acquire with a timeout, registered buffers, HTTP bodies.
//!
//! ```
//! use iobuf_pool::{BufferPool, Tier};
//!
//! let pool = BufferPool::new(Tier::Small, 1024)?;
//! let mut buf = pool.get();          // waits with backoff if the pool is dry
//! buf.extend_from_slice_checked(b"ping")?; // a fresh guard is empty
//! std::thread::scope(|s| {
//!     s.spawn(move || drop(buf));    // another thread may return it
//! });
//! # Ok::<(), iobuf_pool::Error>(())
//! ```
#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]

// Every item has one public path: the pools and their guards at the root,
// the toolkit in `sync`, `mem` and `tiers`, the io_uring layer in `uring`
// (behind its feature); `recipes` holds documentation only.
mod asymmetric_fence;
mod backoff;
mod bounded;
#[cfg(feature = "bytes")]
mod bytes_support;
mod cache;
#[cfg(feature = "compio")]
mod compio_support;
mod error;
mod freelist;
mod iovec;
pub mod mem;
#[cfg(feature = "monoio")]
mod monoio_support;
mod pool;
pub mod recipes;
mod ring;
mod thread_cache;
mod tier;
mod tiered;
#[cfg(feature = "tokio-uring")]
mod tokio_uring_support;
#[cfg(feature = "io-uring")]
#[cfg_attr(docsrs, doc(cfg(feature = "io-uring")))]
pub mod uring;
mod waiters;

// Crate-internal short paths for the memory helpers the pools use.
pub(crate) use mem::AlignedBuf;

pub use bounded::{BoundedGuard, BoundedPool};
pub use cache::{LocalCache, DEFAULT_CACHE_SIZE};
pub use error::Error;
pub use iovec::IoVec;
pub use pool::{
    AcquireBuf, AcquireOwned, BufferPool, BufferPoolBuilder, Held, OwnedBuf, PoolStats, PooledBuf,
    RawBuf, TierBuf, TierPool,
};
pub use ring::MAX_CAPACITY;
pub use tier::{ParseTierError, Tier};
pub use tiered::{TieredPool, TieredPoolBuilder};

/// The lock-free parts under the pools, for building pools of your own:
/// the index ring, the async wait list and its future, and the waiting
/// loop's backoff.
///
/// ```
/// use iobuf_pool::sync::IndexRing;
/// let ring = IndexRing::full(2)?;
/// let i = ring.pop().unwrap();
/// // SAFETY: `i` was popped from this ring and is pushed back once.
/// unsafe { ring.push(i) }?;
/// # Ok::<(), iobuf_pool::Error>(())
/// ```
pub mod sync {
    pub use crate::backoff::Backoff;
    pub use crate::ring::IndexRing;
    pub use crate::waiters::{Acquire, Source, WaitList, UNCOLLECTED_GRACE};
}

/// One pool type per tier, each a [`TierPool`] whose guards also give
/// `&mut [u8; N]` (the Go seed's `NewSmallBufferPool` and the rest).
///
/// ```
/// let pool = iobuf_pool::tiers::SmallBufferPool::new(4)?;
/// let mut buf = pool.get();
/// let bytes: &mut [u8; 2048] = buf.as_array_mut();
/// bytes[0] = 1;
/// # Ok::<(), iobuf_pool::Error>(())
/// ```
pub mod tiers {
    pub use crate::pool::{
        BigBufferPool, GiantBufferPool, GreatBufferPool, HugeBufferPool, LargeBufferPool,
        MediumBufferPool, MicroBufferPool, NanoBufferPool, PicoBufferPool, SmallBufferPool,
        TitanBufferPool, VastBufferPool,
    };
}

/// What the types forbid, as doctests that must fail to compile. Each one
/// below compiles once the marked line is removed or changed as its comment
/// says; the `compile_fail` checks that the line itself is refused.
///
/// A [`RawBuf`] cannot be copied or cloned, so one token cannot be given
/// back twice:
/// ```compile_fail,E0599
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
/// let raw = pool.take_raw().unwrap();
/// let copy = raw.clone(); // no Clone
/// # let _ = (pool.put_raw(raw), copy);
/// ```
///
/// A [`TierBuf`] derefs to bytes, not to a guard that could be swapped:
/// ```compile_fail,E0308
/// let huge = iobuf_pool::tiers::HugeBufferPool::new(1).unwrap();
/// let pico = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
/// let mut big = huge.get();
/// *big = pico.get(); // `*big` is [u8]
/// ```
///
/// A [`TierPool`] is not a [`BufferPool`] by `Deref`; `pool()` gives it:
/// ```compile_fail,E0308
/// let typed = iobuf_pool::tiers::SmallBufferPool::new(1).unwrap();
/// let pool: &iobuf_pool::BufferPool = &typed; // use typed.pool()
/// ```
///
/// Pushing into an [`IndexRing`] is `unsafe` (it trusts that the index is
/// out of the ring):
/// ```compile_fail,E0133
/// let ring = iobuf_pool::sync::IndexRing::empty(2).unwrap();
/// ring.push(0).unwrap(); // needs unsafe { ... } with a SAFETY argument
/// ```
///
/// A guard cannot outlive its pool:
/// ```compile_fail,E0597
/// let buf = {
///     let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
///     pool.get()
/// };
/// ```
///
/// An owned buffer's view of its pool lives no longer than the buffer (the
/// buffer's reference is what keeps the pool's memory alive once the
/// pool's handle is gone):
/// ```compile_fail,E0505
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 2).unwrap();
/// let buf = pool.get_owned();
/// drop(pool);
/// let view = buf.pool();
/// drop(buf);
/// let _ = view.try_get(); // `view` borrows `buf`
/// ```
///
/// Unused guards, tokens and builders are warned about (`must_use`):
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
/// pool.take_raw(); // leaks the buffer
/// ```
#[cfg_attr(
    feature = "bytes",
    doc = r#"
Only a `&'static` pool's guard becomes a `bytes::Bytes`, which may outlive
any borrow (a local pool's guard: use an `OwnedBuf`):
```compile_fail,E0597
let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
let body: bytes::Bytes = pool.get().into(); // `pool` is not 'static
```
"#
)]
#[cfg_attr(
    feature = "tokio-uring",
    doc = r#"
A runtime takes only `'static` guards (`OwnedBuf`, `PooledBuf<'static>`):
the kernel may write into the buffer after a borrow of a local pool ends:
```compile_fail,E0597
let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
tokio_uring::start(async {
    let file = tokio_uring::fs::File::open("/dev/null").await.unwrap();
    let _ = file.read_at(pool.get(), 0).await; // `pool` is not 'static
});
```
"#
)]
#[cfg(doctest)]
pub struct CompileFailDoctests;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
