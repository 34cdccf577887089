//! [`BoundedPool<T>`]: the same lock-free index ring over any `T`.

use crate::backoff::{retry_until, wait_for};
use crate::freelist::FreeList;
use crate::Error;
use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

/// A bounded, lock-free pool of `capacity` values of any `T`, each built
/// once by a closure and reused from then on.
///
/// ```
/// use iobuf_pool::BoundedPool;
/// let pool = BoundedPool::new(2, |i| vec![i as u8; 4]).unwrap();
/// let mut a = pool.get();
/// a.push(9);
/// let b = pool.try_get().unwrap();
/// assert!(pool.try_get().is_none());
/// drop(a);
/// let a2 = pool.try_get().unwrap();
/// assert_eq!(a2.len(), 5); // values are reused, not rebuilt
/// # drop(b);
/// ```
pub struct BoundedPool<T> {
    /// Free indices into `items` (a reuse slot in front of the ring, as in
    /// [`BufferPool`](crate::BufferPool)).
    free: FreeList,
    /// The values; `items[i]` is accessed only by the owner of index `i`.
    items: Box<[UnsafeCell<T>]>,
}

// SAFETY: the pool owns its values; moving it moves them (T: Send).
unsafe impl<T: Send> Send for BoundedPool<T> {}
// SAFETY: through &BoundedPool, each value is reached only by the one guard
// that owns its index, which may live on any thread: that needs T: Send, not
// T: Sync, because no two threads ever see one value at the same time.
unsafe impl<T: Send> Sync for BoundedPool<T> {}

impl<T> BoundedPool<T> {
    /// A pool of `capacity` values, value `i` built by `fill(i)`.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`], [`Error::CapacityTooLarge`] (above
    /// [`MAX_CAPACITY`](crate::MAX_CAPACITY)), or [`Error::AllocFailed`] for
    /// the ring or the values (checked before `fill` is called at all).
    pub fn new(capacity: usize, mut fill: impl FnMut(usize) -> T) -> Result<Self, Error> {
        let free = FreeList::full(capacity)?;
        let mut items = Vec::new();
        items
            .try_reserve_exact(capacity)
            .map_err(|_| Error::AllocFailed {
                size: capacity.saturating_mul(std::mem::size_of::<T>()),
            })?;
        items.extend((0..capacity).map(|i| UnsafeCell::new(fill(i))));
        Ok(BoundedPool {
            free,
            items: items.into_boxed_slice(),
        })
    }

    /// Number of values.
    pub fn capacity(&self) -> usize {
        self.items.len()
    }

    /// Takes a free value, or `None` at once.
    #[must_use = "dropping the guard returns the value at once"]
    pub fn try_get(&self) -> Option<BoundedGuard<'_, T>> {
        self.free
            .pop()
            .map(|index| BoundedGuard { pool: self, index })
    }

    /// Takes a free value, waiting with backoff.
    #[must_use = "dropping the guard returns the value at once"]
    pub fn get(&self) -> BoundedGuard<'_, T> {
        wait_for(|| self.try_get(), || self.free.looks_empty())
    }

    /// Takes a free value, waiting at most `timeout`.
    #[must_use = "dropping the guard returns the value at once"]
    pub fn get_timeout(&self, timeout: Duration) -> Option<BoundedGuard<'_, T>> {
        retry_until(
            Instant::now().checked_add(timeout),
            || self.try_get(),
            || self.free.looks_empty(),
        )
    }

    /// The values, once the pool is no longer shared.
    pub fn into_inner(self) -> Vec<T> {
        self.items
            .into_vec()
            .into_iter()
            .map(UnsafeCell::into_inner)
            .collect()
    }
}

impl<T> fmt::Debug for BoundedPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedPool")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

/// A value taken from a [`BoundedPool`]; goes back when dropped.
#[must_use = "dropping the guard returns the value at once"]
pub struct BoundedGuard<'a, T> {
    pool: &'a BoundedPool<T>,
    /// Owned by this guard alone.
    index: usize,
}

// SAFETY: sending the guard sends exclusive access to one T (T: Send).
unsafe impl<T: Send> Send for BoundedGuard<'_, T> {}
// SAFETY: &BoundedGuard gives only &T, which is shareable when T: Sync.
unsafe impl<T: Sync> Sync for BoundedGuard<'_, T> {}

impl<T> BoundedGuard<'_, T> {
    /// The value's index in its pool.
    pub fn index(&self) -> usize {
        self.index
    }
}

impl<T> Deref for BoundedGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard owns `index`; nobody else touches the value.
        unsafe { &*self.pool.items[self.index].get() }
    }
}

impl<T> DerefMut for BoundedGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in deref, and &mut self makes the borrow unique.
        unsafe { &mut *self.pool.items[self.index].get() }
    }
}

impl<T> Drop for BoundedGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the index is in range and owned by this guard alone, which
        // gives it up here.
        unsafe { self.pool.free.push(self.index) };
    }
}

impl<T: fmt::Debug> fmt::Debug for BoundedGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedGuard")
            .field("index", &self.index)
            .field("value", &**self)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_each_value_once_and_reuses_them() {
        let pool = BoundedPool::new(3, |i| i * 10).unwrap();
        let guards: Vec<_> = std::iter::from_fn(|| pool.try_get()).collect();
        let mut seen: Vec<usize> = guards.iter().map(|g| **g).collect();
        seen.sort();
        assert_eq!(seen, vec![0, 10, 20]);
        drop(guards);
        let mut g = pool.try_get().unwrap();
        *g += 1;
        drop(g);
        let mut all = pool.into_inner();
        all.sort();
        assert_eq!(all.iter().sum::<usize>(), 31);
    }

    #[test]
    fn zero_capacity_is_an_error() {
        assert_eq!(
            BoundedPool::new(0, |_| ()).unwrap_err(),
            Error::ZeroCapacity
        );
    }

    #[test]
    fn drops_its_values_once() {
        use std::rc::Rc;
        let token = Rc::new(());
        let pool = BoundedPool::new(4, |_| Rc::clone(&token)).unwrap();
        let g = pool.try_get().unwrap();
        assert_eq!(Rc::strong_count(&token), 5);
        drop(g);
        drop(pool);
        assert_eq!(Rc::strong_count(&token), 1);
    }

    #[cfg(not(miri))]
    #[test]
    fn get_timeout_gives_up_on_a_dry_pool() {
        let pool = BoundedPool::new(1, |_| 0u8).unwrap();
        let _held = pool.get();
        assert!(pool.get_timeout(Duration::from_millis(5)).is_none());
    }
}
