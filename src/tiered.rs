//! [`TieredPool`]: pools of several tiers behind one handle, picked by size.

use crate::backoff::{retry_until, wait_for};
use crate::pool::{BufferPool, PooledBuf};
use crate::{Error, Tier};
use std::time::{Duration, Instant};

/// Builds a [`TieredPool`].
///
/// `TieredPoolBuilder::default()` is [`TieredPool::builder()`]: no tiers,
/// fallback on.
///
/// ```
/// use iobuf_pool::{Tier, TieredPoolBuilder};
/// let pool = TieredPoolBuilder::default()
///     .tier(Tier::Pico, 1)
///     .tier(Tier::Nano, 1)
///     .build()
///     .unwrap();
/// let _a = pool.try_get_for(8).unwrap().unwrap();
/// // Pico is empty: fallback (on by default) serves it from Nano.
/// let b = pool.try_get_for(8).unwrap().unwrap();
/// assert_eq!((b.len(), b.capacity()), (8, 128));
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until build() is called"]
pub struct TieredPoolBuilder {
    tiers: Vec<(Tier, usize)>,
    fallback: bool,
}

impl Default for TieredPoolBuilder {
    fn default() -> Self {
        TieredPoolBuilder {
            tiers: Vec::new(),
            fallback: true,
        }
    }
}

impl TieredPoolBuilder {
    /// Adds a pool of `capacity` buffers of `tier`.
    pub fn tier(mut self, tier: Tier, capacity: usize) -> Self {
        self.tiers.push((tier, capacity));
        self
    }

    /// Whether a request may be served from a larger tier when the
    /// smallest fitting one is empty (default: yes).
    pub fn fallback(mut self, fallback: bool) -> Self {
        self.fallback = fallback;
        self
    }

    /// Allocates every pool.
    ///
    /// # Errors
    /// [`Error::BadTierConfig`] (no tier, or a tier named twice), or any
    /// pool's own error (see [`BufferPool::new`](crate::BufferPool::new)).
    pub fn build(mut self) -> Result<TieredPool, Error> {
        if self.tiers.is_empty() {
            return Err(Error::BadTierConfig("no tier configured"));
        }
        self.tiers.sort_by_key(|(t, _)| *t);
        if self.tiers.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Error::BadTierConfig("a tier is configured twice"));
        }
        let pools = self
            .tiers
            .iter()
            .map(|&(t, cap)| BufferPool::new(t, cap))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TieredPool {
            pools,
            fallback: self.fallback,
        })
    }
}

/// Pools of several tiers behind one handle.
///
/// [`get_for`](TieredPool::get_for) picks the smallest configured tier that
/// holds the request and, with fallback on, a larger tier when that one is
/// empty.
///
/// ```
/// use iobuf_pool::{Tier, TieredPool};
/// let pool = TieredPool::builder()
///     .tier(Tier::Small, 1)
///     .tier(Tier::Big, 4)
///     .build()
///     .unwrap();
/// let a = pool.try_get_for(1500).unwrap().unwrap();
/// assert_eq!((a.len(), a.capacity()), (1500, 2048)); // the length asked for
/// let b = pool.try_get_for(1500).unwrap().unwrap(); // small is empty: big
/// assert_eq!(b.capacity(), 32 << 10);
/// assert!(pool.try_get_for(1 << 20).is_err()); // no tier that large
/// ```
#[derive(Debug)]
pub struct TieredPool {
    /// One pool per configured tier, smallest tier first, no tier twice.
    pools: Vec<BufferPool>,
    /// Whether larger tiers serve a request when the fitting one is empty.
    fallback: bool,
}

impl TieredPool {
    /// A builder with no tiers and fallback on.
    pub fn builder() -> TieredPoolBuilder {
        TieredPoolBuilder::default()
    }

    /// The configured pools, smallest tier first.
    pub fn pools(&self) -> &[BufferPool] {
        &self.pools
    }

    /// The pool of `tier`, if configured.
    pub fn pool(&self, tier: Tier) -> Option<&BufferPool> {
        self.pools.iter().find(|p| p.tier() == tier)
    }

    /// Position of the smallest pool that holds `len` bytes.
    fn first_fit(&self, len: usize) -> Result<usize, Error> {
        self.pools
            .iter()
            .position(|p| p.buffer_size() >= len)
            .ok_or(Error::NoTierFits { len })
    }

    /// The pools a request whose smallest fitting pool is `first` may use.
    fn candidates(&self, first: usize) -> &[BufferPool] {
        if self.fallback {
            &self.pools[first..]
        } else {
            &self.pools[first..=first]
        }
    }

    fn attempt(&self, first: usize) -> Option<PooledBuf<'_>> {
        self.candidates(first).iter().find_map(BufferPool::try_get)
    }

    /// Whether every pool a request may use looks dry, by reads alone.
    fn looks_dry(&self, first: usize) -> bool {
        self.candidates(first).iter().all(BufferPool::looks_dry)
    }

    /// A buffer of at least `len` bytes, or `Ok(None)` at once if none is
    /// free.
    ///
    /// # Errors
    /// [`Error::NoTierFits`]: no configured tier holds `len` bytes.
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn try_get_for(&self, len: usize) -> Result<Option<PooledBuf<'_>>, Error> {
        let first = self.first_fit(len)?;
        Ok(self.attempt(first).map(|b| filled_to(b, len)))
    }

    /// A buffer of at least `len` bytes, waiting with backoff.
    ///
    /// # Errors
    /// [`Error::NoTierFits`]: no configured tier holds `len` bytes.
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get_for(&self, len: usize) -> Result<PooledBuf<'_>, Error> {
        let first = self.first_fit(len)?;
        let buf = wait_for(|| self.attempt(first), || self.looks_dry(first));
        Ok(filled_to(buf, len))
    }

    /// A buffer of at least `len` bytes, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`Error::NoTierFits`]: no configured tier holds `len` bytes.
    #[must_use = "dropping the guard returns the buffer at once"]
    pub fn get_for_timeout(
        &self,
        len: usize,
        timeout: Duration,
    ) -> Result<Option<PooledBuf<'_>>, Error> {
        let first = self.first_fit(len)?;
        Ok(retry_until(
            Instant::now().checked_add(timeout),
            || self.attempt(first),
            || self.looks_dry(first),
        )
        .map(|b| filled_to(b, len)))
    }
}

/// A guard of a pool that holds `len` bytes, with its filled length set to
/// `len` (its capacity stays the tier's).
fn filled_to(mut buf: PooledBuf<'_>, len: usize) -> PooledBuf<'_> {
    // Cannot fail: the pool was picked because its buffers hold `len`.
    let _ = buf.set_len(len.min(buf.capacity()));
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_smallest_fitting_tier() {
        let pool = TieredPool::builder()
            .tier(Tier::Big, 2)
            .tier(Tier::Pico, 2)
            .tier(Tier::Small, 2)
            .build()
            .unwrap();
        assert_eq!(
            pool.try_get_for(0).unwrap().unwrap().pool().tier(),
            Tier::Pico
        );
        assert_eq!(
            pool.try_get_for(33).unwrap().unwrap().pool().tier(),
            Tier::Small
        );
        assert_eq!(
            pool.try_get_for(2049).unwrap().unwrap().pool().tier(),
            Tier::Big
        );
        assert_eq!(
            pool.try_get_for((32 << 10) + 1).unwrap_err(),
            Error::NoTierFits {
                len: (32 << 10) + 1
            }
        );
    }

    #[test]
    fn falls_back_only_when_allowed() {
        for fallback in [true, false] {
            let pool = TieredPool::builder()
                .tier(Tier::Pico, 1)
                .tier(Tier::Nano, 1)
                .fallback(fallback)
                .build()
                .unwrap();
            let _a = pool.try_get_for(10).unwrap().unwrap();
            let b = pool.try_get_for(10).unwrap();
            assert_eq!(b.is_some(), fallback);
            if let Some(b) = b {
                assert_eq!(b.pool().tier(), Tier::Nano);
            }
        }
    }

    #[test]
    fn the_default_builder_is_builder() {
        let d = TieredPoolBuilder::default();
        let b = TieredPool::builder();
        assert!(d.fallback && b.fallback);
        assert_eq!(d.tiers, b.tiers);
    }

    #[test]
    fn bad_configurations_are_errors() {
        assert!(matches!(
            TieredPool::builder().build(),
            Err(Error::BadTierConfig(_))
        ));
        assert!(matches!(
            TieredPool::builder()
                .tier(Tier::Pico, 1)
                .tier(Tier::Pico, 2)
                .build(),
            Err(Error::BadTierConfig(_))
        ));
        assert_eq!(
            TieredPool::builder()
                .tier(Tier::Pico, 0)
                .build()
                .unwrap_err(),
            Error::ZeroCapacity
        );
    }

    #[cfg(not(miri))]
    #[test]
    fn timeouts_give_up() {
        let pool = TieredPool::builder().tier(Tier::Pico, 1).build().unwrap();
        let _held = pool.get_for(1).unwrap();
        assert!(pool
            .get_for_timeout(1, Duration::from_millis(5))
            .unwrap()
            .is_none());
    }
}
