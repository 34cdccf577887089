//! [`BufferPoolBuilder`]: a pool with options (the reuse slot, the
//! per-thread cache).

use super::*;

/// Options for a [`BufferPool`], from [`BufferPool::builder`].
///
/// The defaults give what [`BufferPool::new`] gives: the reuse slot on,
/// and a thread cache sized from the capacity and the number of CPUs
/// (see [`thread_cache`](Self::thread_cache)).
///
/// ```
/// use iobuf_pool::{BufferPool, Tier};
/// let pool = BufferPool::builder(Tier::Small, 1024).thread_cache(64).build()?;
/// assert_eq!(pool.thread_cache_size(), 64);
/// let buf = pool.get(); // from this thread's cache (refilled from the ring)
/// drop(buf);            // back into this thread's cache: no atomic operation
/// assert_eq!(pool.stats().cached, 32);
/// # Ok::<(), iobuf_pool::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct BufferPoolBuilder {
    tier: Tier,
    capacity: usize,
    reuse_slot: bool,
    /// Each thread's magazine size; `None`: sized as `BufferPool::new`
    /// sizes it.
    thread_cache: Option<usize>,
}

impl BufferPool {
    /// A builder for a pool of `capacity` buffers of `tier`.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(iobuf_pool::Tier::Pico, 8).thread_cache(0).build()?;
    /// assert_eq!((pool.capacity(), pool.thread_cache_size()), (8, 0));
    /// # Ok::<(), iobuf_pool::Error>(())
    /// ```
    pub fn builder(tier: Tier, capacity: usize) -> BufferPoolBuilder {
        BufferPoolBuilder {
            tier,
            capacity,
            reuse_slot: true,
            thread_cache: None,
        }
    }
}

impl BufferPoolBuilder {
    /// Gives every thread that uses the pool a cache of up to `size` free
    /// buffers of its own; `0` opts out. Without this call the size is
    /// what [`BufferPool::new`] picks: `capacity / (2 × CPUs)`, at most
    /// 64.
    ///
    /// Then plain [`get`](BufferPool::get), [`try_get`](BufferPool::try_get)
    /// and the owned and async gets take from the calling thread's cache,
    /// and a guard dropped on any thread goes into *that* thread's cache: a
    /// hit makes no atomic read-modify-write, no fence, and writes no
    /// shared line. An empty cache refills half of itself from the shared
    /// ring with one batch pop; a full one gives half back with one batch
    /// push. The user holds no cache object.
    ///
    /// **Bounds.** The caches of a pool together (with its `LocalCache`s)
    /// hold at most half its buffers; a thread that finds that budget spent
    /// gets a cache of what is left, down to none, and goes to the ring.
    ///
    /// **No stranding.** A get that waits ([`get`](BufferPool::get),
    /// [`get_timeout`](BufferPool::get_timeout), their owned forms,
    /// [`acquire`](BufferPool::acquire), [`acquire_owned`](BufferPool::acquire_owned))
    /// first takes every free buffer out of every thread's cache, whether
    /// that thread runs, sleeps, blocks or has exited, and while it waits
    /// returns and refills skip the caches; so it never waits for a buffer
    /// that sits free in a cache (tests: `tests/no_stranding.rs`). A
    /// [`try_get`](BufferPool::try_get) does not wait, and does not drain
    /// other threads' caches: it can fail while buffers sit in them, and
    /// [`PoolStats::failed_try_gets`] counts it
    /// ([`drain_thread_caches`](BufferPool::drain_thread_caches) first, if
    /// that matters). How a thread's cache is taken without a fence on its
    /// own path: src/thread_cache.rs.
    ///
    /// **Thread exit.** A thread's cache is given back when the thread
    /// exits: its buffers return to the ring at the next get that finds
    /// the pool dry, the next thread's first use, the next wait, or the
    /// next [`stats`](BufferPool::stats) (tests:
    /// `an_exited_threads_cache_comes_back`,
    /// `a_blocking_get_finds_buffers_an_exited_thread_left`). Each cache
    /// costs `8 × size` bytes plus one 128-byte record, held from a
    /// thread's first use of the pool until its exit (or, if the pool is
    /// dropped first, until that thread next starts using another
    /// thread-cached pool, or exits).
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, Tier};
    /// let pool = BufferPool::builder(Tier::Pico, 64).thread_cache(8).build()?;
    /// let a = pool.get();
    /// let first = a.index();
    /// drop(a);
    /// assert_eq!(pool.get().index(), first); // this thread's cache, LIFO
    /// std::thread::scope(|s| {
    ///     s.spawn(|| drop(pool.get())); // that thread's own cache
    /// });
    /// // Every buffer is accounted for: free (shared or cached) or held.
    /// let s = pool.stats();
    /// assert_eq!(s.free + s.in_use, 64);
    /// # Ok::<(), iobuf_pool::Error>(())
    /// ```
    pub fn thread_cache(mut self, size: usize) -> Self {
        self.thread_cache = Some(size);
        self
    }

    /// Whether the pool has the one-entry reuse slot in front of its ring
    /// (the default).
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(iobuf_pool::Tier::Pico, 2).reuse_slot(false).build()?;
    /// assert!(!pool.has_reuse_slot());
    /// # Ok::<(), iobuf_pool::Error>(())
    /// ```
    pub fn reuse_slot(mut self, on: bool) -> Self {
        self.reuse_slot = on;
        self
    }

    /// The pool.
    ///
    /// # Errors
    /// As [`BufferPool::new`].
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, Error, Tier};
    /// let err = BufferPool::builder(Tier::Pico, 0).thread_cache(8).build();
    /// assert_eq!(err.unwrap_err(), Error::ZeroCapacity);
    /// ```
    pub fn build(self) -> Result<BufferPool, Error> {
        let free_list = if self.reuse_slot {
            FreeList::full
        } else {
            FreeList::fifo
        };
        let cache = self
            .thread_cache
            .unwrap_or_else(|| default_thread_cache(self.capacity));
        BufferPool::build(self.tier, self.capacity, free_list, cache)
    }
}
