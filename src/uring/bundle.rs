//! [`Bundle`]: the run of buffers one bundle receive
//! (`IORING_RECVSEND_BUNDLE`) filled, in ring order.

#[cfg(doc)]
use super::BufRing;
use crate::{IoVec, OwnedBuf};

/// The buffers one bundle completion filled, in the order the kernel filled
/// them (ring order), from [`BufRing::take_bundle`]. Each guard is filled to
/// its part of the received bytes: every one whole but the last.
///
/// The guards are [`OwnedBuf`]s: `Send`, each returns to the pool when
/// dropped, on any thread, independently of the others.
///
/// ```
/// # use std::sync::Arc;
/// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 2).unwrap());
/// # let bundle = iobuf_pool::uring::Bundle::from_guards(vec![pool.get_owned()]);
/// let mut bytes = Vec::new();
/// for buf in bundle.iter() {
///     bytes.extend_from_slice(&buf[..]);
/// }
/// assert_eq!(bytes.len(), bundle.len());
/// let iovecs: Vec<_> = bundle.io_vecs().collect(); // for a writev / sendmsg
/// assert_eq!(iovecs.len(), bundle.buffers());
/// ```
#[derive(Debug)]
#[must_use = "dropping the bundle returns its buffers to the pool at once"]
pub struct Bundle {
    bufs: Vec<OwnedBuf>,
    len: usize,
}

impl Bundle {
    pub(super) fn new(bufs: Vec<OwnedBuf>, len: usize) -> Self {
        Bundle { bufs, len }
    }

    /// A bundle of guards the caller already owns, each at its filled
    /// length (to hand received and built buffers to the same code).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 2).unwrap());
    /// let mut a = pool.get_owned();
    /// a.clear();
    /// a.extend_from_slice_checked(b"abc").unwrap();
    /// let bundle = iobuf_pool::uring::Bundle::from_guards(vec![a]);
    /// assert_eq!(bundle.len(), 3);
    /// ```
    pub fn from_guards(bufs: Vec<OwnedBuf>) -> Self {
        let len = bufs.iter().map(|b| b.len()).sum();
        Bundle { bufs, len }
    }

    /// Bytes received, over all the buffers.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let bundle = iobuf_pool::uring::Bundle::from_guards(vec![pool.get_owned()]);
    /// assert_eq!(bundle.len(), bundle.iter().map(|b| b.len()).sum::<usize>());
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte was received (never, for a bundle from a ring).
    ///
    /// ```
    /// let bundle = iobuf_pool::uring::Bundle::from_guards(Vec::new());
    /// assert!(bundle.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many buffers.
    ///
    /// ```
    /// let bundle = iobuf_pool::uring::Bundle::from_guards(Vec::new());
    /// assert_eq!(bundle.buffers(), 0);
    /// ```
    pub fn buffers(&self) -> usize {
        self.bufs.len()
    }

    /// The guards, in ring order.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let bundle = iobuf_pool::uring::Bundle::from_guards(vec![pool.get_owned()]);
    /// assert_eq!(bundle.iter().next().unwrap().index(), 0);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, OwnedBuf> {
        self.bufs.iter()
    }

    /// One [`IoVec`] per buffer over its filled bytes, in ring order: a
    /// gather list for `writev` / `sendmsg` that echoes the bundle without a
    /// copy. They point into the guards, so use them while `self` lives.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let bundle = iobuf_pool::uring::Bundle::from_guards(vec![pool.get_owned()]);
    /// assert_eq!(bundle.io_vecs().map(|v| v.len()).sum::<usize>(), bundle.len());
    /// ```
    pub fn io_vecs(&self) -> impl Iterator<Item = IoVec> + '_ {
        self.bufs.iter().map(|b| IoVec::from_slice(b.filled()))
    }

    /// The guards, to keep, move or drop one by one.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1).unwrap());
    /// let bundle = iobuf_pool::uring::Bundle::from_guards(vec![pool.get_owned()]);
    /// let guards = bundle.into_guards();
    /// std::thread::spawn(move || drop(guards)).join().unwrap();
    /// assert!(pool.try_get().is_some());
    /// ```
    pub fn into_guards(self) -> Vec<OwnedBuf> {
        self.bufs
    }
}

impl From<Vec<OwnedBuf>> for Bundle {
    fn from(bufs: Vec<OwnedBuf>) -> Self {
        Bundle::from_guards(bufs)
    }
}

impl IntoIterator for Bundle {
    type Item = OwnedBuf;
    type IntoIter = std::vec::IntoIter<OwnedBuf>;
    fn into_iter(self) -> Self::IntoIter {
        self.bufs.into_iter()
    }
}

impl<'a> IntoIterator for &'a Bundle {
    type Item = &'a OwnedBuf;
    type IntoIter = std::slice::Iter<'a, OwnedBuf>;
    fn into_iter(self) -> Self::IntoIter {
        self.bufs.iter()
    }
}
