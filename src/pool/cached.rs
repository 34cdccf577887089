//! The pool's side of the per-thread cache (src/thread_cache.rs): gets and
//! returns through the calling thread's magazine, the cache budget, taking
//! buffers back from other threads' magazines for a get that waits, and
//! [`BufferPool::flush_thread_cache`] / [`BufferPool::drain_thread_caches`].
//!
//! # Nothing settles in a magazine while a get waits
//!
//! A get that waits (a task in [`acquire`](BufferPool::acquire), or a
//! blocking [`get`](BufferPool::get)/[`get_timeout`](BufferPool::get_timeout))
//! first makes itself seen (the wait list's count, or `Counters::blocked`,
//! both `SeqCst`), then drains every magazine once
//! ([`ThreadCaches::drain`]). From then on no free buffer stays in a
//! magazine where it could strand that get:
//!
//! * a return checks [`anyone_waits`](BufferPool::anyone_waits) before its
//!   section and, on a magazine a thief claimed, again after taking it back
//!   (the owner's CAS back to `OWNER` reads the thief's `Release`, which
//!   follows the waiter's count);
//! * a refill checks it inside its section (after `enter`), so a refill
//!   the drain did not see (its section began after the drain's fence)
//!   sees the count; one that began before is waited out and drained;
//! * a return whose check came before the count and whose section came
//!   after the drain's fence sees the claim and goes to the shared list.
//!
//! * a later waiter whose drain finds a magazine still `DRAINED` (its
//!   owner has not taken it back since an earlier drain) skips it; the
//!   owner's CAS back to `OWNER` and that drain's failed CAS are both
//!   `SeqCst`, and the failed one read the value the owner's replaced, so
//!   it comes first in the single order of `SeqCst` operations, after the
//!   waiter's count: the owner's look at the counts after its CAS sees
//!   the waiter. (loom treats `SeqCst` accesses as `AcqRel`, so this step
//!   is argued here, not model-checked.)
//!
//! So a waiter's buffer is either in the shared list (where the wait list
//! or the waiting loop finds it) or in a guard. Tests:
//! `tests/no_stranding.rs` (a sleeping thread's cache, blocking and async
//! waiters) and the loom model `drain_races_the_owner` in
//! `tests/loom_thread_cache.rs`.

use super::*;
use crate::thread_cache::Magazine;

/// A blocking get of a thread-cached pool, counted in
/// [`Counters::blocked`] while it waits (the count is not touched for a
/// pool without a thread cache, whose returns never skip the list).
pub(super) struct Blocked<'a>(Option<&'a StdAtomicUsize>);

impl<'a> Blocked<'a> {
    /// Counts the get as waiting, then drains the thread caches (see the
    /// module docs: the count first, so that nothing settles in a magazine
    /// after the drain).
    pub(super) fn new(pool: &'a BufferPool) -> Self {
        let counter = pool
            .core()
            .thread_cache
            .as_ref()
            .map(|_| &*pool.core().counters.blocked);
        if let Some(c) = counter {
            // SeqCst, then the waiting loop looks at the list: as an async
            // waiter's count and look (a return writes, then reads this).
            c.fetch_add(1, Ordering::SeqCst);
            pool.drain_for_waiter();
        }
        Blocked(counter)
    }
}

impl Drop for Blocked<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0 {
            c.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl BufferPool {
    /// Each thread's cache size for a pool with a thread cache (see
    /// [`BufferPoolBuilder::thread_cache`]); 0 for a pool without one.
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, Tier};
    /// let pool = BufferPool::builder(Tier::Pico, 64).thread_cache(8).build()?;
    /// assert_eq!(pool.thread_cache_size(), 8);
    /// let plain = BufferPool::builder(Tier::Pico, 64).thread_cache(0).build()?;
    /// assert_eq!(plain.thread_cache_size(), 0);
    /// # Ok::<(), iobuf_pool::Error>(())
    /// ```
    pub fn thread_cache_size(&self) -> usize {
        self.core()
            .thread_cache
            .as_ref()
            .map_or(0, ThreadCaches::size)
    }

    /// Gives every buffer in the calling thread's cache back to the shared
    /// ring, where every thread can get it: for a thread about to go idle
    /// for long, or done with the pool. Nothing for a pool without a thread
    /// cache, or a thread that has none; it works whichever pool the thread
    /// used last (test: `flush_finds_this_pools_cache_after_another_pool`).
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
        let Some(caches) = &self.core().thread_cache else {
            return;
        };
        if !caches.make_current(self.core().id) {
            return;
        }
        let free = &self.core().free;
        // SAFETY: this thread's magazine of this pool; `flush` is the one
        // magazine method running and calls only the free list.
        let flushed = caches.with_current(self.core().id, |m| unsafe { m.flush(free) });
        if flushed.unwrap_or(0) > 0 {
            self.core().waiters.notify(&PoolSource(self));
        }
    }

    /// Takes every free buffer out of every thread's cache (running,
    /// parked, blocked or exited threads alike) and puts it in the shared
    /// ring; returns how many. Blocking and async gets do this themselves
    /// before they wait, so it is needed only before a
    /// [`try_get`](Self::try_get) that must not miss a cached buffer, or
    /// to make [`stats`](Self::stats) show every free buffer as shared.
    ///
    /// Costs a lock and, where any thread has a cache, one `membarrier`
    /// system call (Linux; a fence elsewhere): a slow path, not for every
    /// get. Nothing for a pool without a thread cache.
    ///
    /// ```
    /// use iobuf_pool::{BufferPool, Tier};
    /// let pool = BufferPool::builder(Tier::Pico, 8).thread_cache(8).build()?;
    /// std::thread::scope(|s| {
    ///     s.spawn(|| drop(pool.get())); // that thread's cache keeps it
    /// });
    /// pool.drain_thread_caches();
    /// assert_eq!(pool.stats().cached, 0);
    /// # Ok::<(), iobuf_pool::Error>(())
    /// ```
    pub fn drain_thread_caches(&self) -> usize {
        let Some(caches) = &self.core().thread_cache else {
            return 0;
        };
        let taken = caches.drain(&self.core().free, |n| self.unreserve_cache(n));
        self.release_stocks(taken.refs);
        let back = taken.indices;
        if back > 0 {
            self.core().waiters.notify(&PoolSource(self));
        }
        back
    }

    /// For a get about to wait (after it made itself seen): the thread
    /// caches' free buffers to the shared list, and the waiters served
    /// from them. Never called from inside a wait-list `Source` method.
    pub(super) fn drain_for_waiter(&self) -> usize {
        self.drain_thread_caches()
    }

    /// [`pop_index`](Self::pop_index) for a pool with a thread cache: the
    /// fast path (this thread's current magazine has an index) inline,
    /// everything else out of line.
    #[inline(always)]
    pub(super) fn pop_cached(&self, caches: &ThreadCaches) -> Option<usize> {
        // SAFETY: `with_current` hands over this thread's magazine of this
        // pool, and `pop_fast` is the one magazine method running.
        match caches.with_current(self.core().id, |m| unsafe { m.pop_fast() }) {
            Some(Some(index)) => Some(index),
            _ => self.pop_cached_slow(caches),
        }
    }

    /// A get through the thread cache that the fast path could not serve:
    /// a refill, the thread's first use of the pool (registering its
    /// magazine), a magazine a thief drained, or a dry pool.
    #[inline(never)]
    fn pop_cached_slow(&self, caches: &ThreadCaches) -> Option<usize> {
        // SAFETY: as in `pop_cached`; `refill` calls only the free list,
        // the waiters' counts (loads) and the high-water update (a leaf:
        // two loads and a rare fetch_max).
        let refill = |m: &Magazine| unsafe {
            m.refill(
                &self.core().free,
                || self.anyone_waits(),
                || self.note_refill(),
            )
        };
        let got = match caches.with_current(self.core().id, refill) {
            Some(got) => got,
            None => {
                self.reclaim_orphans(caches);
                let registered = caches.find_or_register(
                    self.core().id,
                    |want| self.reserve_cache(want),
                    |n| self.unreserve_cache(n),
                );
                match registered {
                    Some(()) => caches.with_current(self.core().id, refill).flatten(),
                    // No magazine to be had (thread-locals torn down, or
                    // memory refused): the shared list.
                    None => self.core().free.pop(),
                }
            }
        };
        got.or_else(|| self.pop_after_dry(caches))
    }

    /// This thread's magazine and the free list were dry: takes back what
    /// threads that exited left in their magazines, and tries once more.
    #[cold]
    fn pop_after_dry(&self, caches: &ThreadCaches) -> Option<usize> {
        if self.reclaim_orphans(caches) == 0 {
            return None;
        }
        self.core().free.pop()
    }

    /// Gives the indices of exited threads' magazines back to the ring and
    /// wakes waiters for them; how many came back.
    pub(super) fn reclaim_orphans(&self, caches: &ThreadCaches) -> usize {
        let taken = caches.reclaim(&self.core().free, |n| self.unreserve_cache(n));
        self.release_stocks(taken.refs);
        let back = taken.indices;
        if back > 0 {
            self.core().waiters.notify(&PoolSource(self));
        }
        back
    }

    /// [`reclaim_orphans`](Self::reclaim_orphans) for a pool that may have
    /// no thread cache (a `LocalCache` that found the list dry).
    pub(crate) fn reclaim_exited_caches(&self) -> usize {
        self.core()
            .thread_cache
            .as_ref()
            .map_or(0, |caches| self.reclaim_orphans(caches))
    }

    /// Releases references taken from exited threads' stocks
    /// (src/pool/lifetime.rs). Never the last: the caller's `&self` is a
    /// handle or an owned buffer's view, each holding one more.
    fn release_stocks(&self, refs: usize) {
        if refs > 0 {
            let before = self.core().refs().fetch_sub(refs, Ordering::Release);
            debug_assert!(before > refs, "a reclaim released the last reference");
        }
    }

    /// After a magazine refill: the high-water mark (which counts indices
    /// in magazines as in use).
    #[inline]
    pub(super) fn note_refill(&self) {
        #[cfg(not(loom))]
        self.raise_high_water();
    }

    /// Whether any get waits for a buffer now (an async waiter, or a
    /// blocking get of a thread-cached pool): one or two loads of lines
    /// that only waiters write.
    #[inline(always)]
    pub(super) fn anyone_waits(&self) -> bool {
        self.core().waiters.has_waiters()
            || self.core().counters.blocked.load(Ordering::SeqCst) != 0
    }

    /// [`give_back`](Self::give_back) for a pool with a thread cache: with
    /// nobody waiting, into this thread's magazine. (While anyone waits,
    /// returns go to the shared list, to be handed over; see the module
    /// docs for a waiter that arrives just after the check.) Not forced
    /// inline: the plain pool's drop stays small enough to inline into
    /// callers.
    ///
    /// # Safety
    /// As [`give_back`](Self::give_back).
    #[inline]
    pub(super) unsafe fn return_via_cache(&self, caches: &ThreadCaches, index: usize) {
        // This thread's magazine of this pool; `push_fast` is the one
        // magazine method running. The caller owns `index`.
        // SAFETY: so the magazine may keep it; it gives it up when kept.
        let push = |m: &Magazine| unsafe { m.push_fast(index) };
        if !self.anyone_waits() && caches.with_current(self.core().id, push) == Some(true) {
            return;
        }
        // SAFETY: forwarded.
        unsafe { self.return_via_cache_slow(caches, index) }
    }

    /// A return through the thread cache that the fast path could not
    /// take: someone waits, the magazine is full (flush half, keep it) or
    /// drained by a thief (take it back), or this thread has no current
    /// magazine of this pool (register one).
    ///
    /// # Safety
    /// As [`give_back`](Self::give_back).
    #[inline(never)]
    unsafe fn return_via_cache_slow(&self, caches: &ThreadCaches, index: usize) {
        if !self.anyone_waits() {
            // SAFETY: as in `give_back`; `push_flushing` calls only the free
            // list and the waiters' counts.
            let push = |m: &Magazine| unsafe {
                m.push_flushing(&self.core().free, index, || self.anyone_waits())
            };
            let mut put = caches.with_current(self.core().id, push);
            if put.is_none() {
                let registered = caches.find_or_register(
                    self.core().id,
                    |want| self.reserve_cache(want),
                    |n| self.unreserve_cache(n),
                );
                if registered.is_some() {
                    put = caches.with_current(self.core().id, push);
                }
            }
            match put {
                Some(Put::InCache) => return,
                Some(Put::AfterFlush) => return self.core().waiters.notify(&PoolSource(self)),
                Some(Put::Passed) | None => {}
            }
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.return_to_list(index) }
    }

    /// Reserves up to `want` indices of the cache budget, for a new
    /// magazine or [`LocalCache`](crate::LocalCache); returns how many it
    /// got.
    pub(crate) fn reserve_cache(&self, want: usize) -> usize {
        let mut left = self.core().cache_budget.load(Ordering::Relaxed);
        loop {
            let take = want.min(left);
            match self.core().cache_budget.compare_exchange_weak(
                left,
                left - take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return take,
                Err(now) => left = now,
            }
        }
    }

    /// Gives back `n` indices of the cache budget that
    /// [`reserve_cache`](Self::reserve_cache) handed out (budget, not
    /// buffers: the buffers go back through the return paths).
    pub(crate) fn unreserve_cache(&self, n: usize) {
        self.core().cache_budget.fetch_add(n, Ordering::Relaxed);
    }
}
