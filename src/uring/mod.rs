//! io_uring with pool buffers (feature `io-uring`, Linux).
//!
//! One concern per file, each named in its first doc line: the errors
//! (`error`: [`UringError`]), the kernel ABI beyond the `io-uring` crate
//! (`sys`), the feature probe (`features`: [`Features`]), fixed buffers
//! (`fixed`: [`FixedBuffers`]), the provided-buffer ring (`buf_ring`:
//! [`BufRing`]) and what its completions give: one buffer (`received`:
//! [`Received`]), a bundle's run of buffers (`bundle`: [`Bundle`]), a part
//! of an incrementally filled buffer (`part`: [`RecvPart`]); and the
//! zero-copy send (`send_zc`: [`ZcSend`]). The ownership rules they share
//! are argued here once.
//!
//! Beyond one ring and one runtime:
//! * **One pool behind many rings**: every thread's [`BufRing`] fed from one
//!   `Arc<BufferPool>`; a buffer one ring's kernel picked may be dropped on
//!   any thread and goes back to the pool, for any ring's refill.
//! * **Bundles** ([`BufRing::take_bundle`]): one completion, a run of
//!   buffers in ring order, as one [`Bundle`] of guards and their `IoVec`s.
//! * **Incremental consumption** ([`BufRing::register_incremental`],
//!   [`BufRing::take_part`]): parts of one buffer share it until the kernel
//!   is done and the last part drops.
//! * **Zero-copy send** ([`ZcSend`]): the buffer is held until the kernel's
//!   notification completion.
//! * **Registered buffers across rings** ([`FixedBuffers::clone_to`]).
//! * A kernel without a feature gives [`UringError::Unsupported`], found by
//!   probing ([`Features`]) or by the kernel refusing the registration,
//!   never by reading its version.
//!
//! * [`FixedBuffers`] registers every buffer of a [`BufferPool`] with a ring
//!   (`IORING_REGISTER_BUFFERS`), in index order, so that **pool index =
//!   fixed-buffer index** for `READ_FIXED` / `WRITE_FIXED`. The kernel pins
//!   the pages once, instead of mapping them on every operation.
//! * [`BufRing`] is a provided-buffer ring (`IORING_REGISTER_PBUF_RING`) fed
//!   from a pool: **buffer id = pool index**. Operations with
//!   `IOSQE_BUFFER_SELECT` (a multishot `recv`, say) pick a buffer when data
//!   arrives, and [`BufRing::take`] turns their completion back into a
//!   [`OwnedBuf`] guard of that index, which returns to the pool on drop (on
//!   any thread) or goes back to the ring with [`BufRing::provide`]:
//!   exactly once, by move.
//!   While a buffer is in the ring, the ring holds its [`RawBuf`] token, so
//!   no safe call (a pool get, [`BufferPool::guard`]) can reach it.
//!
//! A [`BufRing`] holds the pool's [`Arc`], not a borrow: a ring that is
//! leaked (`mem::forget`) never unregisters, and the kernel keeps the
//! buffers' *addresses* for as long as the io_uring instance lives, writing
//! to them whenever a recv selects one. A borrow ends at `forget` and would
//! let the pool be freed under the kernel; the `Arc` leaked with the ring
//! keeps its memory for good; so does a ring whose unregister the kernel
//! refuses (dropped off the thread of an `IORING_SETUP_SINGLE_ISSUER`
//! ring). [`FixedBuffers`] borrows the pool: the kernel pins their *pages*
//! at registration and never follows the addresses again, so a leaked
//! registration cannot reach a new owner of that memory.
//! Both keep a duplicate of the ring's descriptor, so they can unregister on drop without
//! borrowing the [`IoUring`] (whose submission and completion queues need
//! `&mut`). The duplicate names the same io_uring instance even if the
//! original descriptor number is closed and reused.
//!
//! Kernel failures come back as [`UringError`], never as panics: failed
//! registrations, and negative completion results through [`cqe_result`] or
//! [`BufRing::take`].
//!
//! # Safety contract of submissions
//! Pushing an entry onto a submission queue is `unsafe` in the `io-uring`
//! crate: the caller promises that the memory it names stays valid until
//! the operation completes. With pool buffers that means: keep the buffer
//! owned (a live guard, or a [`RawBuf`] token from
//! [`BufferPool::take_raw`]), and do not touch its bytes through it, until
//! its completion has been reaped; and do not drop a [`BufRing`] while
//! operations selecting from its group are in flight.
//!
//! The entry builders of [`FixedBuffers`] take the guard or token by
//! reference, so the index they encode is one the caller holds. The calls
//! that trust a completion ([`BufRing::take`], [`BufRing::take_bundle`],
//! [`BufRing::take_part`], [`ZcSend::complete`]) are `unsafe`: a buffer id
//! or a flag alone cannot tell a buffer the kernel has picked (or let go
//! of) from one it still holds. What they can check, they do: an id the
//! ring does not hold, a bundle run that is not the ring's order, a
//! completion of the other kind of ring, or one after the operation ended
//! is an error, and nothing is handed out. What they cannot check is in
//! their `# Safety` sections, each found against the kernel
//! (`tests/uring_soundness.rs`): a bundle's completions go to
//! [`BufRing::take_bundle`] only, never with `MSG_TRUNC` (its length counts
//! bytes no buffer received); an incremental ring's `MSG_TRUNC` receives
//! ask for the whole buffer. A [`ZcSend`] builds one entry, pushed once.
//!
//! ```no_run
//! use io_uring::{types, IoUring};
//! use iobuf_pool::uring::{cqe_result, FixedBuffers};
//! use iobuf_pool::{BufferPool, Tier};
//! use std::os::fd::AsRawFd;
//!
//! let pool = BufferPool::new(Tier::Large, 8)?;
//! let mut ring = IoUring::new(8)?;
//! let fixed = FixedBuffers::register(&ring, &pool)?;
//! let file = std::fs::File::open("/etc/hostname")?;
//! let buf = pool.get();
//! let read = fixed.read_fixed(types::Fd(file.as_raw_fd()), &buf, 0..buf.capacity(), 0)?;
//! // SAFETY: `buf` (and so its bytes) lives until the completion is reaped
//! // below; `file` stays open as long.
//! unsafe { ring.submission().push(&read)? };
//! ring.submit_and_wait(1)?;
//! let cqe = ring.completion().next().expect("one completion");
//! let n = cqe_result(cqe.result())? as usize;
//! println!("{:?}", String::from_utf8_lossy(&buf.as_full()[..n]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod buf_ring;
mod bundle;
mod error;
mod features;
mod fixed;
mod part;
mod received;
mod send_zc;
mod sys;

pub use buf_ring::BufRing;
pub use bundle::Bundle;
pub use error::{cqe_result, is_unavailable, UringError};
pub use features::Features;
pub use fixed::FixedBuffers;
pub use part::RecvPart;
pub use received::Received;
pub use send_zc::{ZcDone, ZcSend};

#[cfg(doc)]
use crate::{BufferPool, OwnedBuf, RawBuf};
#[cfg(doc)]
use io_uring::IoUring;
#[cfg(doc)]
use std::sync::Arc;

/// Most buffers one `IORING_REGISTER_BUFFERS` call takes (the kernel's
/// `IORING_MAX_REG_BUFFERS`).
///
/// ```
/// use iobuf_pool::uring::{FixedBuffers, UringError, MAX_FIXED_BUFFERS};
/// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
/// let big = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, MAX_FIXED_BUFFERS + 1)?;
/// let refused = FixedBuffers::register(&ring, &big);
/// assert!(matches!(refused, Err(UringError::TooManyBuffers { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_FIXED_BUFFERS: usize = 1 << 14;

/// Largest single registered buffer the kernel accepts (1 GiB).
///
/// ```
/// assert!(iobuf_pool::Tier::Huge.size() <= iobuf_pool::uring::MAX_FIXED_BUFFER_SIZE);
/// ```
pub const MAX_FIXED_BUFFER_SIZE: usize = 1 << 30;

/// Most entries of a provided-buffer ring.
///
/// ```
/// use iobuf_pool::uring::{BufRing, MAX_BUF_RING_ENTRIES};
/// # let Ok(ring) = io_uring::IoUring::new(4) else { return Ok(()) }; // no io_uring here
/// # let pool = std::sync::Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Pico, 1)?);
/// // The largest ring; anything else is refused before the kernel is asked.
/// let br = BufRing::register(&ring, &pool, 0, MAX_BUF_RING_ENTRIES)?;
/// assert!(BufRing::register(&ring, &pool, 1, MAX_BUF_RING_ENTRIES + 1).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_BUF_RING_ENTRIES: u16 = 1 << 15;

/// Largest pool index a provided-buffer ring can carry: buffer ids are u16.
///
/// ```
/// assert_eq!(iobuf_pool::uring::MAX_BUF_RING_INDEX, u16::MAX as usize);
/// ```
pub const MAX_BUF_RING_INDEX: usize = u16::MAX as usize;
