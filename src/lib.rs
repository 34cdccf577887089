//! Lock-free, tiered, page-aligned buffer pools for low-latency I/O.
//!
//! * [`Tier`]: twelve buffer sizes, powers of 4 from 32 B to 128 MiB.
//! * [`BufferPool`]: `capacity` buffers of one tier in one page-aligned
//!   slab, handed out by index through a lock-free, ABA-safe ring
//!   ([`IndexRing`], Nikolaev's SCQ) behind a one-entry reuse slot (a
//!   thread that returns a buffer and takes another gets the same one back). [`PooledBuf`] guards give the bytes without a
//!   copy and return the buffer on drop, from any thread. Typed per-tier pools
//!   ([`SmallBufferPool`] and the other eleven) also give `&mut [u8; N]`.
//! * [`BufferPool::builder`]`(..).thread_cache(n)`: a transparent per-thread
//!   cache, used by plain gets and drops (a hit makes no atomic
//!   read-modify-write); [`BufferPool::try_get_many`] /
//!   [`BufferPool::put_many`]: batches, one ring fetch-and-add per run.
//! * [`LocalCache`]: a per-thread magazine in front of the ring; a hit makes
//!   no atomic operation.
//! * [`TieredPool`]: several tiers behind one handle, picked by size.
//! * [`BoundedPool<T>`]: the same ring over any `T`.
//! * [`AlignedBuf`], [`page_size`], [`CACHE_LINE_SIZE`]: aligned memory.
//! * [`IoVec`]: the OS `struct iovec`, for readv/writev and io_uring.
//! * [`RawBuf`]: a buffer held outside a guard (an I/O in flight), an owned
//!   token that names its pool.
//! * [`OwnedBuf`]: a `'static + Send` buffer of an `Arc<BufferPool>`
//!   ([`BufferPool::get_owned`]); a [`BufferPool::leak`]ed or `static` pool
//!   gives `PooledBuf<'static>` at no reference-count cost.
//! * [`BufferPool::acquire`]: an async, runtime-agnostic wait for a buffer;
//!   [`BufferPool::stats`]: a [`PoolStats`] snapshot.
//! * feature `bytes`: `bytes::BufMut` for [`OwnedBuf`], and `freeze()` into
//!   `bytes::Bytes`, which returns the buffer when its last clone drops.
//! * `uring` (feature `io-uring`): pool buffers as io_uring fixed buffers
//!   and provided-buffer rings.
//! * feature `tokio-uring`: tokio-uring's `IoBuf`/`IoBufMut` for
//!   [`OwnedBuf`] and `PooledBuf<'static>` (`file.read_at(buf, 0).await`),
//!   and its registered-buffer collections built from pool buffers;
//!   feature `monoio`: monoio's `IoBuf`/`IoBufMut` for the same guards.
//!
//! ```
//! use iobuf_pool::{BufferPool, Tier};
//!
//! let pool = BufferPool::new(Tier::Small, 1024)?;
//! let mut buf = pool.get();          // waits with backoff if the pool is dry
//! buf[..4].copy_from_slice(b"ping");
//! std::thread::scope(|s| {
//!     s.spawn(move || drop(buf));    // another thread may return it
//! });
//! # Ok::<(), iobuf_pool::Error>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

// Every item has one public path: the crate root. Only `uring` (behind its
// feature) is a public module, and nothing of it is re-exported.
mod asymmetric_fence;
mod backoff;
mod bounded;
#[cfg(feature = "bytes")]
mod bytes_support;
mod cache;
mod error;
mod freelist;
mod iovec;
mod mem;
#[cfg(feature = "monoio")]
mod monoio_support;
mod pool;
mod ring;
mod thread_cache;
mod tier;
mod tiered;
#[cfg(feature = "tokio-uring")]
mod tokio_uring_support;
#[cfg(feature = "io-uring")]
pub mod uring;
mod waiters;

pub use backoff::Backoff;
pub use bounded::{BoundedGuard, BoundedPool};
pub use cache::{LocalCache, DEFAULT_CACHE_SIZE};
pub use error::Error;
pub use iovec::IoVec;
pub use mem::{
    aligned_block, aligned_mem, cache_line_aligned_blocks, cache_line_aligned_mem,
    page_aligned_blocks, page_size, AlignedBlocks, AlignedBuf, CACHE_LINE_SIZE,
    HUGE_PAGE_THRESHOLD, MMAP_THRESHOLD,
};
pub use pool::{
    AcquireBuf, AcquireOwned, BigBufferPool, BufferPool, BufferPoolBuilder, GiantBufferPool,
    GreatBufferPool, Held, HugeBufferPool, LargeBufferPool, MediumBufferPool, MicroBufferPool,
    NanoBufferPool, OwnedBuf, PicoBufferPool, PoolStats, PooledBuf, RawBuf, SmallBufferPool,
    TierBuf, TierPool, TitanBufferPool, VastBufferPool,
};
pub use ring::{IndexRing, MAX_CAPACITY};
pub use tier::{
    ParseTierError, Tier, BIG_SIZE, GIANT_SIZE, GREAT_SIZE, HUGE_SIZE, LARGE_SIZE, MEDIUM_SIZE,
    MICRO_SIZE, NANO_SIZE, PICO_SIZE, SMALL_SIZE, TITAN_SIZE, VAST_SIZE,
};
pub use tiered::{TieredPool, TieredPoolBuilder};
pub use waiters::{Acquire, Source, WaitList};

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
/// let huge = iobuf_pool::HugeBufferPool::new(1).unwrap();
/// let pico = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
/// let mut big = huge.get();
/// *big = pico.get(); // `*big` is [u8]
/// ```
///
/// A [`TierPool`] is not a [`BufferPool`] by `Deref`; `pool()` gives it:
/// ```compile_fail,E0308
/// let typed = iobuf_pool::SmallBufferPool::new(1).unwrap();
/// let pool: &iobuf_pool::BufferPool = &typed; // use typed.pool()
/// ```
///
/// Pushing into an [`IndexRing`] is `unsafe` (it trusts that the index is
/// out of the ring):
/// ```compile_fail,E0133
/// let ring = iobuf_pool::IndexRing::empty(2).unwrap();
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
/// Unused guards, tokens and builders are warned about (`must_use`):
/// ```compile_fail
/// #![deny(unused_must_use)]
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
/// pool.take_raw(); // leaks the buffer
/// ```
#[cfg(doctest)]
pub struct CompileFailDoctests;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
