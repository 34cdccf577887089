//! The async acquire path: [`BufferPool::acquire`] and
//! [`BufferPool::acquire_owned`], their futures [`AcquireBuf`] and
//! [`AcquireOwned`], and the pool as the wait list's [`Source`].

use super::*;
use crate::waiters::{Acquire, Source};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

impl BufferPool {
    /// Waits for a free buffer without blocking the thread: a future that
    /// any executor can drive, woken when a buffer comes back.
    ///
    /// Waiters are served first come, first served, each returned buffer
    /// handed directly to the longest waiter. Cancel-safe: dropping the
    /// future loses neither a buffer nor a wake-up (a buffer already handed
    /// to it goes to the next waiter). A return costs one extra atomic load
    /// while nobody waits.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// rt.block_on(async {
    ///     let held = pool.acquire().await;
    ///     let second = pool.acquire(); // dry: would wait
    ///     drop(held);                   // ... until this return
    ///     assert_eq!(second.await.capacity(), 32);
    /// });
    /// ```
    pub fn acquire(&self) -> AcquireBuf<'_> {
        AcquireBuf {
            inner: Acquire::new(PoolSource(self)),
            drained: false,
        }
    }

    /// [`acquire`](Self::acquire) for an [`OwnedBuf`]: the future (and the
    /// buffer it yields) is `'static + Send` and keeps the pool's memory
    /// alive, for spawned tasks; it is served by returned buffers even if
    /// the pool's handle is dropped while it waits.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
    /// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    /// rt.block_on(async {
    ///     let held = pool.acquire_owned().await;
    ///     let waiter = tokio::spawn(pool.acquire_owned());
    ///     drop(held);
    ///     assert_eq!(waiter.await.unwrap().capacity(), 32);
    /// });
    /// ```
    pub fn acquire_owned(&self) -> AcquireOwned {
        AcquireOwned {
            inner: Acquire::new(OwnedSource(lifetime::CoreRef::new(self))),
            drained: false,
        }
    }
}

/// The pool as the wait list's [`Source`]. Private: `put` trusts that the
/// index is owned, and only the pool's own wait list and futures (which
/// return only indices this source handed out) ever call it.
pub(super) struct PoolSource<'a>(pub(super) &'a BufferPool);

impl Source for PoolSource<'_> {
    fn wait_list(&self) -> &WaitList {
        &self.0.core().waiters
    }
    fn try_take(&self) -> Option<usize> {
        self.0.pop_index()
    }
    fn put(&self, index: usize) {
        // SAFETY: the wait list calls `put` only with an index that
        // `try_take` gave it (or a future it was handed to) and that nobody
        // else holds; it is in range since the free list handed it out.
        unsafe { self.0.core().free.push(index) }
    }
}

/// [`PoolSource`] holding a reference to the pool's core, for
/// [`AcquireOwned`].
struct OwnedSource(lifetime::CoreRef);

impl Source for OwnedSource {
    fn wait_list(&self) -> &WaitList {
        &self.0.pool().core().waiters
    }
    fn try_take(&self) -> Option<usize> {
        PoolSource(self.0.pool()).try_take()
    }
    fn put(&self, index: usize) {
        PoolSource(self.0.pool()).put(index)
    }
}

/// The future of [`BufferPool::acquire`]: yields a [`PooledBuf`] once one is
/// free. Cancel-safe (dropping it loses no buffer and no wake-up).
///
/// ```
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap();
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let buf = rt.block_on(pool.acquire());
/// assert_eq!(buf.index(), 0);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct AcquireBuf<'a> {
    inner: Acquire<PoolSource<'a>>,
    /// Whether this acquisition has drained the thread caches (once, after
    /// it first waited).
    drained: bool,
}

/// Polls `inner`; the first time it waits, drains the pool's thread caches
/// (the waiter is queued, so counted: see src/pool/cached.rs) and, if that
/// freed buffers (whose return served the queue), polls once more.
fn poll_draining<S: Source>(
    inner: &mut Acquire<S>,
    drained: &mut bool,
    pool: impl FnOnce(&S) -> &BufferPool,
    cx: &mut Context<'_>,
) -> Poll<usize> {
    let polled = Pin::new(&mut *inner).poll(cx);
    if polled.is_ready() {
        *drained = false;
        return polled;
    }
    let pool = pool(inner.source());
    if *drained || pool.core().thread_cache.is_none() {
        return polled;
    }
    *drained = true;
    if pool.drain_for_waiter() == 0 {
        return polled;
    }
    let polled = Pin::new(&mut *inner).poll(cx);
    if polled.is_ready() {
        *drained = false;
    }
    polled
}

impl<'a> Future for AcquireBuf<'a> {
    type Output = PooledBuf<'a>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<PooledBuf<'a>> {
        let this = self.get_mut();
        let pool = this.inner.source().0;
        poll_draining(&mut this.inner, &mut this.drained, |s| s.0, cx)
            .map(|index| PooledBuf::from_owned_index(pool, index))
    }
}

impl fmt::Debug for AcquireBuf<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireBuf").finish_non_exhaustive()
    }
}

/// The future of [`BufferPool::acquire_owned`]: yields an [`OwnedBuf`] once
/// one is free; `'static + Send`. Cancel-safe.
///
/// ```
/// use std::sync::Arc;
/// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let buf = rt.block_on(async { tokio::spawn(pool.acquire_owned()).await.unwrap() });
/// assert_eq!(buf.index(), 0);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct AcquireOwned {
    inner: Acquire<OwnedSource>,
    /// As [`AcquireBuf`]'s.
    drained: bool,
}

impl Future for AcquireOwned {
    type Output = OwnedBuf;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<OwnedBuf> {
        let this = self.get_mut();
        match poll_draining(&mut this.inner, &mut this.drained, |s| s.0.pool(), cx) {
            Poll::Ready(index) => Poll::Ready(this.inner.source().0.pool().owned_from_index(index)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl fmt::Debug for AcquireOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOwned").finish_non_exhaustive()
    }
}
