//! Rows for iobuf's owned and async paths, beside `iobuf`:
//!
//! * [`OwnedPool`] (`iobuf-owned`): `try_get_owned` /
//!   `get_owned_timeout` on `BufferPool::new`'s pool, items [`OwnedBuf`]
//!   (each holding a reference to the pool's memory, taken from and given
//!   back to the thread's cache); what that costs against `iobuf`. The
//!   `Arc` only shares the pool among the bench's threads.
//! * [`AsyncPool`] (`iobuf-async`): `BufferPool::acquire()` driven by a
//!   minimal thread-parking executor; a get that finds a buffer completes
//!   on its first poll, so this row measures the future's overhead and, on
//!   a dry pool, the wait list's hand-over.
//! * [`TokioPool`] (`iobuf-tokio`): `acquire_owned().await` in tasks of a
//!   multi-thread tokio runtime (driven by `bench::tokio_rows`, not by the
//!   thread-per-worker harness); its handle is only for the prefault and
//!   the drain.

use super::{drain_buffer_pool, BenchItem, BenchPool, PoolHandle};
use iobuf_pool::{BufferPool, Error, OwnedBuf, PooledBuf, Tier};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// A pool behind an `Arc`, handing out [`OwnedBuf`]s.
pub struct OwnedPool(pub Arc<BufferPool>);

impl OwnedPool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        Ok(OwnedPool(Arc::new(BufferPool::new(tier, capacity)?)))
    }
}

impl BenchItem for OwnedBuf {
    #[inline]
    fn index(&self) -> usize {
        OwnedBuf::index(self)
    }
    #[inline]
    fn bytes(&mut self) -> &mut [u8] {
        self.as_full_mut()
    }
}

/// One thread's handle: the pool's `Arc`, borrowed.
pub struct OwnedHandle<'a>(&'a Arc<BufferPool>);

impl PoolHandle for OwnedHandle<'_> {
    type Item = OwnedBuf;
    #[inline]
    fn try_get(&mut self) -> Option<OwnedBuf> {
        self.0.try_get_owned()
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<OwnedBuf> {
        self.0.get_owned_timeout(timeout)
    }
    #[inline]
    fn put(&mut self, item: OwnedBuf) {
        drop(item);
    }
}

impl BenchPool for OwnedPool {
    type Handle<'a> = OwnedHandle<'a>;
    fn handle(&self) -> OwnedHandle<'_> {
        OwnedHandle(&self.0)
    }
    /// Then empties this (the main) thread's cache, as for `iobuf`.
    fn prefault(&self) {
        super::touch_every_page(self);
        self.0.flush_thread_cache();
    }
    fn capacity(&self) -> usize {
        self.0.capacity()
    }
    fn drain(&self) -> Vec<usize> {
        drain_buffer_pool(&self.0)
    }
    fn buffer_pool(&self) -> Option<&BufferPool> {
        Some(&self.0)
    }
}

/// A pool whose gets go through `acquire().await`.
pub struct AsyncPool(pub BufferPool);

/// Wakes the thread that polls (a one-thread executor).
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// One thread's handle: the pool and this thread's waker, made once.
pub struct AsyncHandle<'a> {
    pool: &'a BufferPool,
    waker: Waker,
}

impl<'a> AsyncHandle<'a> {
    /// Polls `acquire()` until it completes or `deadline` passes (then the
    /// future is dropped, which is cancel-safe); `None` deadline: poll once.
    fn run(&self, deadline: Option<Instant>) -> Option<PooledBuf<'a>> {
        let mut fut = pin!(self.pool.acquire());
        let mut cx = Context::from_waker(&self.waker);
        loop {
            if let Poll::Ready(buf) = fut.as_mut().poll(&mut cx) {
                return Some(buf);
            }
            let deadline = deadline?;
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            std::thread::park_timeout(deadline - now);
        }
    }
}

impl<'a> PoolHandle for AsyncHandle<'a> {
    type Item = PooledBuf<'a>;
    #[inline]
    fn try_get(&mut self) -> Option<PooledBuf<'a>> {
        self.run(None)
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<PooledBuf<'a>> {
        // An overflowing deadline: wait as long as a Duration can say.
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        self.run(Some(deadline))
    }
    #[inline]
    fn put(&mut self, item: PooledBuf<'a>) {
        drop(item);
    }
}

impl BenchPool for AsyncPool {
    type Handle<'a> = AsyncHandle<'a>;
    /// Then empties this (the main) thread's cache, as for `iobuf`.
    fn prefault(&self) {
        super::touch_every_page(self);
        self.0.flush_thread_cache();
    }
    fn handle(&self) -> AsyncHandle<'_> {
        AsyncHandle {
            pool: &self.0,
            waker: Waker::from(Arc::new(Unpark(std::thread::current()))),
        }
    }
    fn capacity(&self) -> usize {
        self.0.capacity()
    }
    fn drain(&self) -> Vec<usize> {
        drain_buffer_pool(&self.0)
    }
    fn buffer_pool(&self) -> Option<&BufferPool> {
        Some(&self.0)
    }
}

/// An `Arc` of the default pool, for the `iobuf-tokio` row.
pub struct TokioPool(pub Arc<BufferPool>);

impl TokioPool {
    pub fn new(tier: Tier, capacity: usize) -> Result<Self, Error> {
        Ok(TokioPool(Arc::new(BufferPool::new(tier, capacity)?)))
    }
}

impl BenchPool for TokioPool {
    type Handle<'a> = OwnedHandle<'a>;
    fn handle(&self) -> OwnedHandle<'_> {
        OwnedHandle(&self.0)
    }
    /// Then empties this (the main) thread's cache, as for `iobuf`.
    fn prefault(&self) {
        super::touch_every_page(self);
        self.0.flush_thread_cache();
    }
    fn capacity(&self) -> usize {
        self.0.capacity()
    }
    fn drain(&self) -> Vec<usize> {
        drain_buffer_pool(&self.0)
    }
    fn buffer_pool(&self) -> Option<&BufferPool> {
        Some(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_and_async_rows_hand_out_and_take_back_every_buffer() {
        let owned = OwnedPool::new(Tier::Pico, 3).unwrap();
        let mut h = owned.handle();
        let a = h.try_get().unwrap();
        let b = h.get_timeout(Duration::from_millis(1)).unwrap();
        assert_ne!(a.index(), b.index());
        h.put(a);
        h.put(b);
        let mut got = owned.drain();
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2]);

        let pool = AsyncPool(BufferPool::new(Tier::Pico, 1).unwrap());
        std::thread::scope(|s| {
            let mut h = pool.handle();
            let held = h.try_get().unwrap();
            assert!(h.try_get().is_none());
            assert!(h.get_timeout(Duration::from_millis(2)).is_none());
            // A return on another thread wakes a parked waiter.
            s.spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                drop(held);
            });
            let again = h.get_timeout(Duration::from_secs(60)).unwrap();
            assert_eq!(again.index(), 0);
        });
        assert_eq!(pool.drain(), vec![0]);
    }
}
