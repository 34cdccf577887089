//! [`BufferPoolBuilder`]: a pool with options (the reuse slot, the
//! per-thread cache).

use super::*;

/// Options for a [`BufferPool`], from [`BufferPool::builder`].
///
/// The defaults give what [`BufferPool::new`] gives: the reuse slot on, no
/// thread cache.
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
    thread_cache: usize,
}

impl BufferPool {
    /// A builder for a pool of `capacity` buffers of `tier`.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(iobuf_pool::Tier::Pico, 8).build()?;
    /// assert_eq!((pool.capacity(), pool.thread_cache_size()), (8, 0));
    /// # Ok::<(), iobuf_pool::Error>(())
    /// ```
    pub fn builder(tier: Tier, capacity: usize) -> BufferPoolBuilder {
        BufferPoolBuilder {
            tier,
            capacity,
            reuse_slot: true,
            thread_cache: 0,
        }
    }

    /// Each thread's cache size for a pool built with
    /// [`BufferPoolBuilder::thread_cache`]; 0 for a pool without one.
    pub fn thread_cache_size(&self) -> usize {
        self.thread_cache.as_ref().map_or(0, ThreadCaches::size)
    }

    /// Gives every buffer in the calling thread's cache back to the shared
    /// ring, where every thread can get it: for a thread about to go idle
    /// for long, or done with the pool. Nothing for a pool without a thread
    /// cache, or a thread that has none.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::builder(iobuf_pool::Tier::Pico, 64).thread_cache(16).build()?;
    /// drop(pool.get());
    /// assert_eq!(pool.stats().cached, 8);
    /// pool.flush_thread_cache();
    /// assert_eq!(pool.stats().cached, 0);
    /// # Ok::<(), iobuf_pool::Error>(())
    /// ```
    pub fn flush_thread_cache(&self) {
        let Some(caches) = &self.thread_cache else {
            return;
        };
        // SAFETY: this thread's magazine of this pool; `flush` is the one
        // magazine method running and calls only the free list.
        let flushed = caches.with_current(self.id, |m| unsafe { m.flush(&self.free) });
        if flushed.unwrap_or(0) > 0 {
            self.waiters.notify(&PoolSource(self));
        }
    }
}

impl BufferPoolBuilder {
    /// Gives every thread that uses the pool a cache of up to `size` free
    /// buffers of its own (0, the default: none).
    ///
    /// Then plain [`get`](BufferPool::get), [`try_get`](BufferPool::try_get)
    /// and the owned and async gets take from the calling thread's cache,
    /// and a guard dropped on any thread goes into *that* thread's cache: a
    /// hit makes no atomic read-modify-write and writes no shared line. An
    /// empty cache refills half of itself from the shared ring with one
    /// batch pop; a full one gives half back with one batch push. The user
    /// holds no cache object (compare [`LocalCache`](crate::LocalCache),
    /// the explicit form).
    ///
    /// **Bounds.** The caches of a pool together (with its `LocalCache`s)
    /// hold at most half its buffers; a thread that finds that budget spent
    /// gets a cache of what is left, down to none, and goes to the ring. So
    /// at least half the buffers always circulate through the shared ring:
    /// a get on one thread is never starved for ever by buffers idle in
    /// other threads' caches, though it can find the ring dry while some
    /// sit there ([`PoolStats::cached`] counts them). While any get waits
    /// (a task in [`acquire`](BufferPool::acquire), or a blocking
    /// [`get`](BufferPool::get)), returns skip the caches and go to the
    /// shared list, where the waiter finds them.
    ///
    /// **Thread exit.** A thread's cache is given back when the thread
    /// exits: its buffers return to the ring at the next get that finds the
    /// pool dry, the next thread's first use, or the next
    /// [`stats`](BufferPool::stats). Each cache costs `8 × size` bytes plus
    /// one 128-byte record, held from a thread's first use of the pool
    /// until its exit (or, if the pool is dropped first, until that thread
    /// next starts using another thread-cached pool, or exits).
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
        self.thread_cache = size;
        self
    }

    /// Whether the pool has the one-entry reuse slot in front of its ring
    /// (the default; see [`BufferPool::new_fifo`] for a pool without it).
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

    /// The pool. Errors as [`BufferPool::new`].
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
        BufferPool::build(self.tier, self.capacity, free_list, self.thread_cache)
    }
}
