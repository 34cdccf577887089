//! [`Received`]: one buffer a completion picked from a [`BufRing`], filled
//! to the bytes the kernel wrote.

#[cfg(doc)]
use super::BufRing;
use crate::OwnedBuf;
use std::ops::Deref;

/// A buffer that a completion picked from a [`BufRing`], with the number of
/// bytes the kernel put in it. Derefs to those bytes. Dropped, the buffer
/// returns to the pool; [`into_buf`](Self::into_buf) gives the guard, for
/// [`BufRing::provide`].
#[derive(Debug)]
#[must_use = "dropping it returns the buffer to the pool at once"]
pub struct Received {
    /// Filled to the bytes received.
    pub(super) buf: OwnedBuf,
}

impl Received {
    /// The pool index (= the buffer id in the completion).
    pub fn index(&self) -> usize {
        self.buf.index()
    }

    /// Bytes received.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was received.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The received bytes, mutably.
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.buf.filled_mut()
    }

    /// The buffer's guard, filled to the bytes received (its whole
    /// capacity through [`OwnedBuf::as_full_mut`]). `'static + Send`: it
    /// may be dropped on any thread, and goes back to the pool.
    pub fn into_buf(self) -> OwnedBuf {
        self.buf
    }
}

impl Deref for Received {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.buf.filled()
    }
}
