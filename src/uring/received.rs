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
///
/// ```
/// # use std::sync::Arc;
/// # use std::io::Write;
/// # use std::os::fd::AsRawFd;
/// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 2)?);
/// # let Ok(mut ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
/// # let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 2)?;
/// # br.fill()?;
/// # let (mut tx, rx) = std::os::unix::net::UnixStream::pair()?;
/// # tx.write_all(b"hello")?;
/// # let recv = io_uring::opcode::Recv::new(io_uring::types::Fd(rx.as_raw_fd()), std::ptr::null_mut(), 0)
/// #     .buf_group(0).build().flags(io_uring::squeue::Flags::BUFFER_SELECT);
/// # // SAFETY: `br` stays registered and `rx` open until the completion.
/// # unsafe { ring.submission().push(&recv)? };
/// # ring.submit_and_wait(1)?;
/// # let cqe = ring.completion().next().ok_or("no completion")?;
/// // SAFETY: one completion of a recv from br's group on this ring, once.
/// let mut got = unsafe { br.take(cqe.result(), cqe.flags()) }?.ok_or("eof")?;
/// assert_eq!(&got[..], b"hello");
/// got.data_mut().make_ascii_uppercase();
/// assert_eq!(&got[..], b"HELLO");
/// br.provide(got.into_buf())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping it returns the buffer to the pool at once"]
pub struct Received {
    /// Filled to the bytes received.
    pub(super) buf: OwnedBuf,
}

impl Received {
    /// The pool index (= the buffer id in the completion).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::io::Write;
    /// # use std::os::fd::AsRawFd;
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 2)?);
    /// # let Ok(mut ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 2)?;
    /// # br.fill()?;
    /// # let (mut tx, rx) = std::os::unix::net::UnixStream::pair()?;
    /// # tx.write_all(b"hello")?;
    /// # let recv = io_uring::opcode::Recv::new(io_uring::types::Fd(rx.as_raw_fd()), std::ptr::null_mut(), 0)
    /// #     .buf_group(0).build().flags(io_uring::squeue::Flags::BUFFER_SELECT);
    /// # // SAFETY: `br` stays registered and `rx` open until the completion.
    /// # unsafe { ring.submission().push(&recv)? };
    /// # ring.submit_and_wait(1)?;
    /// # let cqe = ring.completion().next().ok_or("no completion")?;
    /// // SAFETY: one completion of a recv from br's group on this ring, once.
    /// let mut got = unsafe { br.take(cqe.result(), cqe.flags()) }?.ok_or("eof")?;
    /// assert_eq!(Some(got.index() as u16), io_uring::cqueue::buffer_select(cqe.flags()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(&self) -> usize {
        self.buf.index()
    }

    /// Bytes received.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::io::Write;
    /// # use std::os::fd::AsRawFd;
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 2)?);
    /// # let Ok(mut ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 2)?;
    /// # br.fill()?;
    /// # let (mut tx, rx) = std::os::unix::net::UnixStream::pair()?;
    /// # tx.write_all(b"hello")?;
    /// # let recv = io_uring::opcode::Recv::new(io_uring::types::Fd(rx.as_raw_fd()), std::ptr::null_mut(), 0)
    /// #     .buf_group(0).build().flags(io_uring::squeue::Flags::BUFFER_SELECT);
    /// # // SAFETY: `br` stays registered and `rx` open until the completion.
    /// # unsafe { ring.submission().push(&recv)? };
    /// # ring.submit_and_wait(1)?;
    /// # let cqe = ring.completion().next().ok_or("no completion")?;
    /// // SAFETY: one completion of a recv from br's group on this ring, once.
    /// let mut got = unsafe { br.take(cqe.result(), cqe.flags()) }?.ok_or("eof")?;
    /// assert_eq!(got.len(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was received.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::io::Write;
    /// # use std::os::fd::AsRawFd;
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 2)?);
    /// # let Ok(mut ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 2)?;
    /// # br.fill()?;
    /// # let (mut tx, rx) = std::os::unix::net::UnixStream::pair()?;
    /// # tx.write_all(b"hello")?;
    /// # let recv = io_uring::opcode::Recv::new(io_uring::types::Fd(rx.as_raw_fd()), std::ptr::null_mut(), 0)
    /// #     .buf_group(0).build().flags(io_uring::squeue::Flags::BUFFER_SELECT);
    /// # // SAFETY: `br` stays registered and `rx` open until the completion.
    /// # unsafe { ring.submission().push(&recv)? };
    /// # ring.submit_and_wait(1)?;
    /// # let cqe = ring.completion().next().ok_or("no completion")?;
    /// // SAFETY: one completion of a recv from br's group on this ring, once.
    /// let mut got = unsafe { br.take(cqe.result(), cqe.flags()) }?.ok_or("eof")?;
    /// assert!(!got.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The received bytes, mutably (the kernel is done with them).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::io::Write;
    /// # use std::os::fd::AsRawFd;
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 2)?);
    /// # let Ok(mut ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 2)?;
    /// # br.fill()?;
    /// # let (mut tx, rx) = std::os::unix::net::UnixStream::pair()?;
    /// # tx.write_all(b"hello")?;
    /// # let recv = io_uring::opcode::Recv::new(io_uring::types::Fd(rx.as_raw_fd()), std::ptr::null_mut(), 0)
    /// #     .buf_group(0).build().flags(io_uring::squeue::Flags::BUFFER_SELECT);
    /// # // SAFETY: `br` stays registered and `rx` open until the completion.
    /// # unsafe { ring.submission().push(&recv)? };
    /// # ring.submit_and_wait(1)?;
    /// # let cqe = ring.completion().next().ok_or("no completion")?;
    /// // SAFETY: one completion of a recv from br's group on this ring, once.
    /// let mut got = unsafe { br.take(cqe.result(), cqe.flags()) }?.ok_or("eof")?;
    /// got.data_mut()[0] = b'J';
    /// assert_eq!(&got[..], b"jello".map(|b| if b == b'j' { b'J' } else { b }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.buf.filled_mut()
    }

    /// The buffer's guard, filled to the bytes received (its whole
    /// capacity through [`OwnedBuf::as_full_mut`]). `'static + Send`: it
    /// may be dropped on any thread, and goes back to the pool.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::io::Write;
    /// # use std::os::fd::AsRawFd;
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 2)?);
    /// # let Ok(mut ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 2)?;
    /// # br.fill()?;
    /// # let (mut tx, rx) = std::os::unix::net::UnixStream::pair()?;
    /// # tx.write_all(b"hello")?;
    /// # let recv = io_uring::opcode::Recv::new(io_uring::types::Fd(rx.as_raw_fd()), std::ptr::null_mut(), 0)
    /// #     .buf_group(0).build().flags(io_uring::squeue::Flags::BUFFER_SELECT);
    /// # // SAFETY: `br` stays registered and `rx` open until the completion.
    /// # unsafe { ring.submission().push(&recv)? };
    /// # ring.submit_and_wait(1)?;
    /// # let cqe = ring.completion().next().ok_or("no completion")?;
    /// // SAFETY: one completion of a recv from br's group on this ring, once.
    /// let mut got = unsafe { br.take(cqe.result(), cqe.flags()) }?.ok_or("eof")?;
    /// let buf = got.into_buf();
    /// std::thread::spawn(move || drop(buf)).join().unwrap(); // back to the pool
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
