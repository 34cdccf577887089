//! Batch gets and puts: [`BufferPool::try_get_many`] and
//! [`BufferPool::put_many`], which move up to [`BufferPool::MAX_BATCH`] indices per
//! ring operation (one fetch-and-add on the ring's head or tail for the
//! whole run instead of one per buffer; see
//! [`IndexRing::pop_many`](crate::sync::IndexRing::pop_many)).

use super::*;

/// The indices of a [`BufferPool::put_many`] not yet given back; dropped
/// (normally or while the caller's iterator unwinds) it gives them back,
/// so no index is lost.
struct Batch<'a> {
    pool: &'a BufferPool,
    indices: [usize; BufferPool::MAX_BATCH],
    len: usize,
}

impl Batch<'_> {
    /// Gives back the pending indices.
    fn flush(&mut self) {
        let pending = &self.indices[..self.len];
        self.len = 0;
        // SAFETY: every pending index was given up by a guard of this pool
        // (checked in `put_many`), each once.
        unsafe { self.pool.return_batch(pending) };
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

impl BufferPool {
    /// The most indices one ring operation of [`try_get_many`](Self::try_get_many)
    /// or [`put_many`](Self::put_many) moves; longer batches take several.
    pub const MAX_BATCH: usize = 32;

    /// Takes up to `n` free buffers at once, appending their guards to `out`;
    /// returns how many it took (fewer when the pool runs dry; 0 counts as a
    /// failed `try_get` in [`stats`](Self::stats)).
    ///
    /// From this thread's cache first (a pool with a thread cache), then
    /// from the ring in runs of up to [`BufferPool::MAX_BATCH`], one fetch-and-add on
    /// the ring's head per run. It never allocates: `n` is cut to what
    /// `out` can hold without growing past the room it can reserve
    /// (reserve room beforehand to keep the call allocation-free).
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 40).unwrap();
    /// let mut bufs = Vec::with_capacity(64);
    /// assert_eq!(pool.try_get_many(&mut bufs, 64), 40); // all there is
    /// assert_eq!(pool.try_get_many(&mut bufs, 1), 0);
    /// pool.put_many(bufs.drain(..));
    /// assert_eq!(pool.stats().free, 40);
    /// ```
    pub fn try_get_many<'a>(&'a self, out: &mut Vec<PooledBuf<'a>>, n: usize) -> usize {
        // No batch can take more than the pool holds: asking for more (even
        // `usize::MAX`) must not make the reservation fail and cut the batch
        // to nothing (tests/stress/liveness.rs `a_huge_batch_request_takes_what_there_is`).
        let n = n.min(self.capacity());
        // On a refusal, whatever fits already: never a failing allocation.
        let _ = out.try_reserve(n);
        let n = n.min(out.capacity() - out.len());
        let mut chunk = [0usize; BufferPool::MAX_BATCH];
        let mut got = 0;
        while got < n {
            let want = (n - got).min(BufferPool::MAX_BATCH);
            let k = self.pop_many_indices(&mut chunk[..want]);
            // Within the capacity checked above: the pushes cannot allocate
            // (so cannot panic and lose the indices in `chunk`).
            out.extend(
                chunk[..k]
                    .iter()
                    .map(|&index| PooledBuf::from_owned_index(self, index)),
            );
            got += k;
            if k < want {
                break;
            }
        }
        if got == 0 && n > 0 {
            self.count_failed();
        }
        got
    }

    /// Up to `out.len()` owned indices into `out`: this thread's magazine,
    /// then the free list in one batch.
    fn pop_many_indices(&self, out: &mut [usize]) -> usize {
        let mut k = 0;
        if let Some(caches) = &self.core().thread_cache {
            // SAFETY: this thread's magazine of this pool; one method, which
            // calls nothing else.
            let from_mine = |m: &crate::thread_cache::Magazine| unsafe { m.pop_into(out) };
            k = match caches.with_current(self.core().id, from_mine) {
                Some(k) => k,
                None => {
                    // First use on this thread: register, so later puts
                    // keep buffers here.
                    caches.find_or_register(
                        self.core().id,
                        |want| self.reserve_cache(want),
                        |n| self.unreserve_cache(n),
                    );
                    0
                }
            };
        }
        if k < out.len() {
            let before = k;
            k += self.core().free.pop_many_into(&mut out[k..]);
            if k > before {
                self.note_refill();
            }
            if k < out.len() {
                if let Some(caches) = &self.core().thread_cache {
                    if self.reclaim_orphans(caches) > 0 {
                        k += self.core().free.pop_many_into(&mut out[k..]);
                    }
                }
            }
        }
        k
    }

    /// Gives back every buffer of `bufs`: into this thread's cache as far
    /// as it has room (a pool with a thread cache and nobody waiting), the
    /// rest to the ring in runs of up to [`BufferPool::MAX_BATCH`], one fetch-and-add
    /// on the ring's tail per run. Buffers of another pool are dropped,
    /// which returns them to their own pool. Never allocates.
    ///
    /// ```
    /// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 8).unwrap();
    /// let mut bufs = Vec::with_capacity(8);
    /// pool.try_get_many(&mut bufs, 8);
    /// assert!(pool.try_get().is_none());
    /// pool.put_many(bufs);
    /// assert_eq!(pool.stats().free, 8);
    /// ```
    pub fn put_many<'a>(&'a self, bufs: impl IntoIterator<Item = PooledBuf<'a>>) {
        let mut pending = Batch {
            pool: self,
            indices: [0; BufferPool::MAX_BATCH],
            len: 0,
        };
        for buf in bufs {
            if !std::ptr::eq(buf.pool, self) {
                drop(buf);
                continue;
            }
            pending.indices[pending.len] = buf.forget_index();
            pending.len += 1;
            if pending.len == BufferPool::MAX_BATCH {
                pending.flush();
            }
        }
        // The rest: `pending`'s drop.
    }

    /// Gives back owned indices: this thread's magazine as far as it has
    /// room, the rest to the ring in one batch.
    ///
    /// # Safety
    /// Every index is this pool's, owned by the caller, who gives it up,
    /// and appears once.
    unsafe fn return_batch(&self, indices: &[usize]) {
        if indices.is_empty() {
            return;
        }
        let mut rest = indices;
        if let Some(caches) = &self.core().thread_cache {
            if !self.anyone_waits() {
                // SAFETY: this thread's magazine of this pool; one method,
                // which calls nothing but the waiters' counts; the indices
                // are the caller's.
                let into_mine = |m: &crate::thread_cache::Magazine| unsafe {
                    m.push_up_to_room(rest, || self.anyone_waits())
                };
                if let Some(kept) = caches.with_current(self.core().id, into_mine) {
                    rest = &rest[kept..];
                }
            }
        }
        if !rest.is_empty() {
            // SAFETY: forwarded from the caller.
            unsafe { self.return_many_to_ring(rest) };
        }
    }
}
