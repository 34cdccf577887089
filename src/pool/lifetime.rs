//! How long a pool's memory lives: until its handle *and* its last
//! [`OwnedBuf`] are gone, with no shared read-modify-write per owned get
//! or drop on a thread-cached pool.
//!
//! # Layout
//!
//! ```text
//!   BufferPool (the handle, a value)      OwnedBuf            OwnedBuf
//!   +-----------------------+          +-------------+     +-------------+
//!   | core: NonNull ------------+------ core, index  |     | core, index |
//!   +-----------------------+   |      +-------------+     +------|------+
//!                               v                                 |
//!   PoolCore (one Box) <----------------------------------------- +
//!   +----------------------------------------------------------------+
//!   | free list, slab, waiters, counters, thread caches (registry)    |
//!   | refs (on the counters' cold line): handle + owned + stocks      |
//!   +----------------------------------------------------------------+
//!   each thread's magazine of the pool (owned by the thread):
//!   +-----------------------------+
//!   | slots, len, stock (refs), … |
//!   +-----------------------------+
//! ```
//!
//! # The count
//!
//! `refs` counts references to the core: one for the handle until it
//! drops, one for each live [`OwnedBuf`], and every reference held in a
//! magazine's *stock*. It is a plain reference count (the core is freed by
//! whoever brings it to 0, and by nobody else), except that references
//! move between buffers and stocks without touching it:
//!
//! * an owned get on a thread with a magazine takes one reference from the
//!   stock, in the same section that pops the index (no read-modify-write);
//!   an empty stock first takes [`STOCK_BATCH`] from `refs` with one
//!   `fetch_add`, made while the caller holds a reference (so never from
//!   0);
//! * an owned drop gives its reference to the stock, in the same section
//!   that keeps the index; a full stock (2 × `STOCK_BATCH`) gives
//!   `STOCK_BATCH` back with one `fetch_sub`, made by the dropping thread
//!   *after* its section, as the last thing it does with the core;
//! * on a pool without a thread cache, or a thread whose magazine is
//!   claimed or of size 0, a get adds 1 and a drop subtracts 1 (the cost
//!   `Arc` had).
//!
//! So a thread that gets and drops owned buffers in balance (pairs,
//! bursts) never writes `refs`, and one that only gets or only drops
//! (hand-off) writes it once per `STOCK_BATCH` buffers.
//!
//! # Closing
//!
//! Stocks in idle threads' magazines would keep the core alive for ever
//! once the handle is gone. So the handle's drop *closes* the cache
//! ([`ThreadCaches::close`](crate::thread_cache::ThreadCaches::close)):
//! under the registry lock it claims every magazine (live, drained or
//! orphaned), makes the heavy fence, waits out each owner's section, takes
//! the indices to the ring and the stock's references to itself, and marks
//! the magazine `CLOSED` for good. No magazine registers after that. It
//! then releases the stocks' references and its own with one `fetch_sub`;
//! whoever brings `refs` to 0 frees the core. From then on every owned
//! drop finds its magazine closed and subtracts its own reference.
//!
//! # Why it is freed exactly once, and after every access
//!
//! * Every reference is counted exactly once: in `refs`' total, a stock
//!   reference and a buffer's are the same thing. A section that moves one
//!   between a buffer and a stock is either seen whole by a closing
//!   thief (the owner's Release of `busy`, the thief's Acquire) or sees
//!   the claim and moves nothing (the thread cache's light/heavy fence
//!   argument, src/thread_cache.rs). So `refs` reaches 0 once, when no
//!   buffer, stock or handle remains.
//! * Every access to the core by a thread happens while it holds a
//!   reference (the handle's or a buffer's), or before the `fetch_sub`
//!   (Release) that gives its last one up, or inside the section that
//!   gives it to a stock: the closing thief's Acquire of `busy` and its
//!   own `fetch_sub` order that section before the free. The freeing
//!   thread's `fetch_sub` is followed by an Acquire fence, as in `Arc`.
//! * After giving a reference to a stock or to `refs`, a dropping thread
//!   makes no further access to the core, and no call of its still holds
//!   a reference into it ([`ThreadCaches::with_current_of`] takes none):
//!   Miri checks this on the unit tests' owned drops.
//!
//! Checked by the loom models in `tests/loom/lifetime.rs` (the last
//! owned drop racing the handle's drop, with a thread cache's stock and an
//! exited thread's orphaned magazine in play; under loom a core access
//! the free does not come after is reported as a race, and a core never
//! freed as a leak), the unit tests in `src/pool/tests.rs` under Miri, and
//! the exactly-once stress `owned_buffers_outlive_their_pool`.
//!
//! If the kernel refuses the heavy fence when the handle drops (it agreed
//! to it when the pool was made, so this is not expected), the stocks
//! cannot be taken safely: the core is leaked, never freed early.

use super::*;
use crate::thread_cache::{RefPut, STOCK_BATCH};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicUsize as RefCount;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicUsize as RefCount;

/// A copy of a core pointer seen as the pool's handle: the one way an
/// [`OwnedBuf`], a [`CoreRef`] or an owned drop reaches the pool's methods.
/// A borrow, never a value, so the handle's `Drop` (the close) never runs
/// for it.
///
/// # Safety
/// `core`'s core stays alive for as long as the borrow lasts (the caller
/// holds one of its references for that long).
#[inline(always)]
pub(super) unsafe fn view(core: &NonNull<PoolCore>) -> &BufferPool {
    // SAFETY: `BufferPool` is `repr(transparent)` over `NonNull<PoolCore>`;
    // the core is alive by the caller's contract.
    unsafe { &*(core as *const NonNull<PoolCore> as *const BufferPool) }
}

impl BufferPool {
    /// A reference to the core for a new [`OwnedBuf`]: from this thread's
    /// stock (refilled with one `fetch_add` when empty), or 1 added to the
    /// count.
    #[inline]
    pub(super) fn take_ref(&self) {
        let core = self.core();
        if let Some(caches) = &core.thread_cache {
            let refill = || {
                core.refs().fetch_add(STOCK_BATCH, Ordering::Relaxed);
                STOCK_BATCH
            };
            // SAFETY: this thread's magazine of this pool; `take_ref` is the
            // one magazine method running, and `refill` touches only `refs`.
            if caches.with_current(core.id, |m| unsafe { m.take_ref(refill) }) == Some(true) {
                return;
            }
        }
        // Relaxed, as `Arc::clone`: the caller's reference keeps the count
        // above 0, and this thread's later accesses need no ordering.
        core.refs().fetch_add(1, Ordering::Relaxed);
    }

    /// An owned guard for an index the caller owns exclusively, with a new
    /// reference to the core.
    #[inline]
    pub(crate) fn owned_from_index(&self, index: usize) -> OwnedBuf {
        self.take_ref();
        OwnedBuf::from_parts(self.core, index)
    }

    /// An owned get's fast path: an index and a reference from this
    /// thread's magazine in one section; `None` sends the get down the
    /// ordinary path.
    #[inline(always)]
    pub(super) fn pop_owned_fast(&self) -> Option<OwnedBuf> {
        let core = self.core();
        let caches = core.thread_cache.as_ref()?;
        // SAFETY: this thread's magazine of this pool, one method running.
        let index = caches.with_current(core.id, |m| unsafe { m.pop_fast_owned() })??;
        Some(OwnedBuf::from_parts(self.core, index))
    }
}

/// An owned buffer's drop: gives `index` back to the pool and releases the
/// buffer's reference to the core, as the last access to it.
///
/// # Safety
/// The caller owns `index` of the pool whose core `core` is, exclusively,
/// and one reference to that core, and gives both up here.
#[inline(always)]
pub(super) unsafe fn drop_owned(core: NonNull<PoolCore>, index: usize) {
    // The view is used only before the reference is given up below.
    // SAFETY: the caller's reference keeps the core alive until then.
    let pool = unsafe { view(&core) };
    let (id, with_cache) = (pool.core().id, pool.core().thread_cache.is_some());
    // Nothing settles in a magazine while a get waits (src/pool/cached.rs):
    // with a waiter, the ordinary return below hands the buffer over.
    if with_cache && !pool.anyone_waits() {
        // SAFETY: this thread's magazine of the pool, one method running;
        // on `true` it took the index and the reference, and nothing below
        // touches the core.
        let kept = ThreadCaches::with_current_of(id, |m| unsafe { m.push_fast_owned(index) });
        if kept == Some(true) {
            return;
        }
    }
    // SAFETY: forwarded.
    unsafe { drop_owned_slow(core, index, with_cache) }
}

/// [`drop_owned`] past the fast path: the index back by the ordinary
/// return (the reference still held), then the reference to the stock or
/// the count.
///
/// # Safety
/// As [`drop_owned`]; `with_cache`: the pool has a thread cache.
#[inline(never)]
unsafe fn drop_owned_slow(core: NonNull<PoolCore>, index: usize, with_cache: bool) {
    let id = {
        // The view lives only in this block, while the reference is held.
        // SAFETY: the caller's reference keeps the core alive.
        let pool = unsafe { view(&core) };
        // SAFETY: forwarded: the caller owns `index` and gives it up.
        unsafe { pool.give_back(index) };
        pool.core().id
    };
    // SAFETY: the buffer's reference, given up.
    unsafe { put_ref(core, id, with_cache) }
}

/// Gives up one reference to `core` without a buffer.
///
/// # Safety
/// As [`release`] for one reference.
unsafe fn drop_ref(core: NonNull<PoolCore>) {
    // SAFETY: the caller's reference keeps the core alive for these reads.
    let (id, with_cache) = unsafe {
        let c = core.as_ref();
        (c.id, c.thread_cache.is_some())
    };
    // SAFETY: forwarded.
    unsafe { put_ref(core, id, with_cache) }
}

/// Gives one reference to this thread's stock of the pool, or releases it
/// (with what a full stock sheds).
///
/// # Safety
/// As [`release`] for one reference; `id` and `with_cache` are the core's.
unsafe fn put_ref(core: NonNull<PoolCore>, id: u64, with_cache: bool) {
    let put = if with_cache {
        // SAFETY: this thread's magazine of the pool, one method running;
        // on `Kept` the stock took the reference and nothing below touches
        // the core.
        ThreadCaches::with_current_of(id, |m| unsafe { m.put_ref() })
    } else {
        None
    };
    match put {
        Some(RefPut::Kept) => {}
        // SAFETY: the stock gave these up to this thread.
        Some(RefPut::Shed(n)) => unsafe { release(core, n) },
        // SAFETY: the buffer's own reference.
        Some(RefPut::Passed) | None => unsafe { release(core, 1) },
    }
}

/// Gives up `n` references to `core`, freeing it if they were the last.
///
/// # Safety
/// The caller holds `n` references to `core` and gives them up; it makes
/// no access to the core after this, and no reference into it is an
/// argument of a call still running.
pub(super) unsafe fn release(core: NonNull<PoolCore>, n: usize) {
    // SAFETY: the caller's references keep the core alive until the
    // fetch_sub, the last access unless it frees.
    let refs: &RefCount = unsafe { core.as_ref().refs() };
    // Release: this thread's accesses to the core happen before the free
    // by whoever brings the count to 0.
    if refs.fetch_sub(n, Ordering::Release) != n {
        return;
    }
    // Acquire: every other thread's accesses (each before its Release
    // above) happen before the free.
    #[cfg(not(loom))]
    std::sync::atomic::fence(Ordering::Acquire);
    #[cfg(loom)]
    loom::sync::atomic::fence(Ordering::Acquire);
    // SAFETY: the count reached 0: no handle, buffer or stock refers to
    // the core any more, and every access to it happens before this. It
    // came from `Box::leak` in `BufferPool::build`.
    unsafe {
        #[cfg(loom)]
        core.as_ref().alive.with_mut(|_| ());
        #[cfg(all(test, not(loom)))]
        assert!(
            !core.as_ref().freed.swap(true, Ordering::Relaxed),
            "freed twice"
        );
        drop(Box::from_raw(core.as_ptr()));
    }
}

/// A counted reference to a pool's core without a buffer: what an
/// [`AcquireOwned`](crate::AcquireOwned) future holds while it waits, so
/// that it is `'static` and outlives the pool's handle as an [`OwnedBuf`]
/// does. Taken from this thread's stock and given back to the dropping
/// thread's, as a buffer's reference is.
pub(super) struct CoreRef(NonNull<PoolCore>);

impl CoreRef {
    /// A new reference to `pool`'s core.
    pub(super) fn new(pool: &BufferPool) -> Self {
        pool.take_ref();
        CoreRef(pool.core)
    }

    /// The pool, through this reference's copy of the pointer (as
    /// [`OwnedBuf::pool`]).
    pub(super) fn pool(&self) -> &BufferPool {
        // SAFETY: this reference keeps the core alive while the borrow lasts.
        unsafe { view(&self.0) }
    }
}

impl Drop for CoreRef {
    fn drop(&mut self) {
        // SAFETY: one reference, this one, given up; nothing after.
        unsafe { drop_ref(self.0) }
    }
}

// SAFETY: a counted reference to a core whose shared state is thread-safe
// (`BufferPool` is `Send + Sync`); it owns no buffer.
unsafe impl Send for CoreRef {}
// SAFETY: as above; `&CoreRef` gives only a `&BufferPool` view.
unsafe impl Sync for CoreRef {}

impl Drop for BufferPool {
    /// Closes the thread cache (its stocks' references come back here),
    /// then releases them and the handle's own reference: the core is freed
    /// now, or by the last [`OwnedBuf`]'s drop.
    fn drop(&mut self) {
        let core = self.core();
        let stocks = match &core.thread_cache {
            Some(caches) => match caches.close(&core.free) {
                Some(refs) => refs,
                // The fence was refused: leak the core (module docs).
                None => return,
            },
            None => 0,
        };
        // SAFETY: the handle's reference and the stocks', given up; this
        // frame's `core` is not used again.
        unsafe { release(self.core, stocks + 1) };
    }
}
