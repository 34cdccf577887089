//! The provided-buffer ring: [`BufRing`], a buffer group fed from a shared
//! pool (`IORING_REGISTER_PBUF_RING`), buffer id = pool index.

use super::part::PartShared;
use super::sys::{
    dup_ring_fd, register_raw, BufReg, RingEntry, IORING_UNREGISTER_PBUF_RING, IOU_PBUF_RING_INC,
};
#[cfg(doc)]
use super::FixedBuffers;
use super::{
    cqe_result, Bundle, Received, RecvPart, UringError, MAX_BUF_RING_ENTRIES, MAX_BUF_RING_INDEX,
};
use crate::{AlignedBuf, BufferPool, Error, OwnedBuf, RawBuf};
use io_uring::{cqueue, squeue, IoUring};
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

/// A provided-buffer ring (buffer group `bgid`) fed from a pool: buffer id =
/// pool index.
///
/// Buffers given to the ring ([`provide`](Self::provide),
/// [`fill`](Self::fill)) are held as [`RawBuf`] tokens that this ring alone
/// owns while the kernel may pick them: no safe call elsewhere can reach
/// them. [`take`](Self::take) turns a completion that picked
/// one into a [`Received`] guard; from there the buffer goes back to the
/// pool on drop, or to the ring with [`provide`](Self::provide): each
/// completion hands a buffer out once. Dropping the ring unregisters it and
/// returns the buffers it still holds to the pool.
///
/// One producer: providing takes `&mut self`. It keeps a duplicate of the
/// ring's descriptor, like [`FixedBuffers`]. If the kernel refuses the
/// unregister in `Drop`, the ring leaks its memory, its buffers and a
/// reference to the pool, since the group stays registered.
///
/// # One pool behind many rings
/// Every thread of a thread-per-core server registers its own `BufRing`
/// with its own io_uring, all from one `Arc<BufferPool>` (plain or
/// thread-cached). A buffer ring A's kernel picked comes out of
/// [`take`](Self::take) as an [`OwnedBuf`], which may be moved to and
/// dropped on any thread: it goes back to the *pool*, not to ring A, and
/// the next [`fill`](Self::fill) of any ring may hand it to that ring's
/// kernel. A ring only ever holds indices it took from the pool (or was
/// given by move), each as the one token of that index, so no ring gives
/// its kernel an index that a guard, a token or another ring holds.
/// `BufRing` is `Send`: it can be set up on one thread and driven on
/// another (on a ring made with `IORING_SETUP_SINGLE_ISSUER`, the kernel
/// refuses registering and unregistering from other threads: register and
/// drop it on the submitting thread, or the drop's unregister fails and it
/// leaks its buffers rather than free them under the kernel).
/// `tests/uring_shared.rs` checks this with three rings on three threads
/// and two more threads dropping their guards.
///
/// It holds the pool's [`Arc`]: leaked with `mem::forget`, it is never
/// unregistered, and the pool stays alive for the kernel's sake. A borrowed
/// pool is refused at compile time:
///
/// ```compile_fail,E0308
/// let ring = io_uring::IoUring::new(8).unwrap();
/// let pool = iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4).unwrap();
/// let br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 4);
/// ```
#[must_use = "dropping the ring unregisters it at once"]
pub struct BufRing {
    pool: Arc<BufferPool>,
    /// `None` once unregistered.
    ring_fd: Option<OwnedFd>,
    /// `entries` ring entries, page aligned (the kernel pins these pages and
    /// reads the entries and the tail). `None` only if it had to be leaked.
    mem: Option<AlignedBuf>,
    /// A power of two, at most [`MAX_BUF_RING_ENTRIES`].
    entries: u16,
    bgid: u16,
    /// Our copy of the tail last published to the kernel (wraps at 2^16,
    /// as the kernel's does).
    tail: u16,
    /// Entries written after `tail`, not yet published.
    unpublished: u16,
    /// Buffers published and not yet seen in a completion. Never above
    /// `entries`, so a slot is never overwritten before the kernel has
    /// consumed it.
    in_ring: usize,
    /// `held[i]`: the token of pool index `i` while it is in the ring, and
    /// the ring position (tail count) it was written at. One slot per
    /// possible buffer id (at most [`MAX_BUF_RING_INDEX`] + 1).
    held: Vec<Option<InRing>>,
    /// `slots[p & (entries - 1)]`: the buffer id last written at ring
    /// position `p`, so a bundle's run can be followed in ring order.
    slots: Vec<u16>,
    /// Registered with `IOU_PBUF_RING_INC`: completions are parts.
    incremental: bool,
    /// Incremental rings only: `consumed[i]`, the bytes of buffer `i` the
    /// kernel has reported (and so handed out as parts) since it was
    /// written to the ring. Empty for other rings.
    consumed: Vec<u32>,
}

/// A buffer the ring holds: its token and where it sits in ring order.
#[derive(Debug)]
struct InRing {
    token: Token,
    /// The tail count it was written at (wraps at 2^16, like the tail).
    pos: u16,
}

/// How the ring holds a buffer's index.
#[derive(Debug)]
enum Token {
    /// Whole, untouched by the kernel so far: the one token of the index.
    Raw(RawBuf),
    /// Partly consumed (an incremental ring): the index is owned by the
    /// shared buffer, which the parts handed out hold too; the ring's
    /// clone stands for the kernel, which may still write the rest.
    Shared(Arc<PartShared>),
}

impl BufRing {
    /// Allocates a ring of `entries` entries and registers it as buffer
    /// group `bgid` of `ring`. It starts empty: [`fill`](Self::fill) it.
    ///
    /// # Errors
    /// [`UringError::BadRingEntries`]: `entries` not a power of two in
    /// 1..=[`MAX_BUF_RING_ENTRIES`]. [`UringError::BufferTooLarge`]: buffers
    /// larger than a u32 length. [`UringError::Pool`]: the ring's memory
    /// could not be allocated. [`UringError::Register`]: the kernel's
    /// refusal (`EEXIST`: the group id is taken; `EINVAL`: a kernel older
    /// than 5.19).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let Ok(ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let br = iobuf_pool::uring::BufRing::register(&ring, &pool, 7, 4)?;
    /// assert_eq!((br.bgid(), br.entries(), br.len()), (7, 4, 0));
    /// // The group id is taken now:
    /// assert!(iobuf_pool::uring::BufRing::register(&ring, &pool, 7, 4).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register<S, C>(
        ring: &IoUring<S, C>,
        pool: &Arc<BufferPool>,
        bgid: u16,
        entries: u16,
    ) -> Result<Self, UringError>
    where
        S: squeue::EntryMarker,
        C: cqueue::EntryMarker,
    {
        Self::register_with(ring, pool, bgid, entries, false)
    }

    /// [`register`](Self::register) with incremental consumption
    /// (`IOU_PBUF_RING_INC`, Linux 6.12): the kernel fills a buffer across
    /// several receives, each completion naming a *part* of it, taken with
    /// [`take_part`](Self::take_part) (and only with it).
    ///
    /// # Errors
    /// As [`register`](Self::register); a kernel without incremental rings
    /// (it refuses the flag with `EINVAL`: probed by trying, not by
    /// version) is [`UringError::Unsupported`].
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 8)?);
    /// let ring = io_uring::IoUring::new(8)?;
    /// let mut br = iobuf_pool::uring::BufRing::register_incremental(&ring, &pool, 0, 8)?;
    /// br.fill()?;
    /// assert!(br.is_incremental());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn register_incremental<S, C>(
        ring: &IoUring<S, C>,
        pool: &Arc<BufferPool>,
        bgid: u16,
        entries: u16,
    ) -> Result<Self, UringError>
    where
        S: squeue::EntryMarker,
        C: cqueue::EntryMarker,
    {
        Self::register_with(ring, pool, bgid, entries, true)
    }

    fn register_with<S, C>(
        ring: &IoUring<S, C>,
        pool: &Arc<BufferPool>,
        bgid: u16,
        entries: u16,
        incremental: bool,
    ) -> Result<Self, UringError>
    where
        S: squeue::EntryMarker,
        C: cqueue::EntryMarker,
    {
        if entries == 0 || !entries.is_power_of_two() || entries > MAX_BUF_RING_ENTRIES {
            return Err(UringError::BadRingEntries(entries.into()));
        }
        if u32::try_from(pool.buffer_size()).is_err() {
            return Err(UringError::BufferTooLarge {
                size: pool.buffer_size(),
                max: u32::MAX as usize,
            });
        }
        let bytes = (usize::from(entries) * std::mem::size_of::<RingEntry>())
            .next_multiple_of(crate::mem::page_size());
        let ids = pool.capacity().min(MAX_BUF_RING_INDEX + 1);
        let mut held = Vec::new();
        held.try_reserve_exact(ids)
            .map_err(|_| Error::AllocFailed {
                size: ids.saturating_mul(std::mem::size_of::<Option<InRing>>()),
            })?;
        held.resize_with(ids, || None);
        let mut slots = Vec::new();
        slots
            .try_reserve_exact(usize::from(entries))
            .map_err(|_| Error::AllocFailed {
                size: usize::from(entries) * 2,
            })?;
        slots.resize(usize::from(entries), 0);
        let mut consumed = Vec::new();
        if incremental {
            consumed
                .try_reserve_exact(ids)
                .map_err(|_| Error::AllocFailed { size: ids * 4 })?;
            consumed.resize(ids, 0);
        }
        let mem = AlignedBuf::page_aligned(bytes)?;
        let ring_fd = dup_ring_fd(ring, "the ring descriptor")?;
        // `mem` is page aligned and zeroed (tail 0, no buffers). If the
        // registration fails here, the kernel keeps nothing.
        // SAFETY: `mem` holds `entries` entries and is owned by the value
        // returned, which unregisters before freeing it (or leaks it).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                mem.base().as_ptr() as u64,
                entries,
                bgid,
                if incremental { IOU_PBUF_RING_INC } else { 0 },
            )
        }
        .map_err(|source| {
            if incremental && source.raw_os_error() == Some(libc::EINVAL) {
                UringError::Unsupported {
                    what: "incremental provided-buffer rings (IOU_PBUF_RING_INC)",
                }
            } else {
                UringError::Register {
                    what: "a provided-buffer ring",
                    source,
                }
            }
        })?;
        Ok(BufRing {
            pool: Arc::clone(pool),
            ring_fd: Some(ring_fd),
            mem: Some(mem),
            entries,
            bgid,
            tail: 0,
            unpublished: 0,
            in_ring: 0,
            held,
            slots,
            incremental,
            consumed,
        })
    }

    /// The buffer group id, for `buf_group` in submissions.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let Ok(ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let br = iobuf_pool::uring::BufRing::register(&ring, &pool, 3, 4)?;
    /// let recv = io_uring::opcode::RecvMulti::new(io_uring::types::Fd(0), br.bgid()).build();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bgid(&self) -> u16 {
        self.bgid
    }

    /// Number of entries.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let Ok(ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 8)?;
    /// assert_eq!(br.entries(), 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn entries(&self) -> u16 {
        self.entries
    }

    /// Buffers given to the ring and not yet seen in a completion.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let Ok(ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 2)?;
    /// br.fill()?;
    /// assert_eq!(br.len(), 2); // the ring's size, though the pool has 4
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> usize {
        self.in_ring
    }

    /// Whether the ring holds no buffer (a selecting operation would fail
    /// with `ENOBUFS`).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let Ok(ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 4)?;
    /// assert!(br.is_empty());
    /// br.fill()?;
    /// assert!(!br.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.in_ring == 0
    }

    /// The pool it is fed from.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let Ok(ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 4)?;
    /// assert!(Arc::ptr_eq(br.pool(), &pool));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pool(&self) -> &Arc<BufferPool> {
        &self.pool
    }

    /// Writes the entry for `raw` (a token of this pool, handed to the ring)
    /// at the next free slot, not yet visible to the kernel. The caller has
    /// checked `in_ring < entries` and `index <= MAX_BUF_RING_INDEX`. On
    /// error the token comes back.
    fn write_entry(&mut self, raw: RawBuf) -> Result<(), (UringError, RawBuf)> {
        let index = raw.index();
        let base = match &self.mem {
            Some(mem) => mem.base().as_ptr() as *mut RingEntry,
            // Cannot happen: `mem` is taken only while the ring is dropped.
            None => {
                return Err((
                    UringError::RingFull {
                        entries: self.entries,
                    },
                    raw,
                ))
            }
        };
        if index >= self.held.len() {
            return Err((UringError::IndexTooLarge { index }, raw));
        }
        let addr = match self.pool.buffer_ptr(index) {
            Ok(p) => p.as_ptr() as u64,
            Err(e) => return Err((e.into(), raw)),
        };
        let pos = self.tail.wrapping_add(self.unpublished);
        let slot = usize::from(pos) & usize::from(self.entries - 1);
        // The slot is free: fewer than `entries` buffers are in the ring (the
        // caller checked), so the kernel has consumed what was there, and it
        // reads only slots below the published tail, which this is not yet.
        // Fields are written one by one to leave entry 0's `resv` (the tail).
        // SAFETY: slot < entries, inside `mem`, and free (above).
        unsafe {
            let entry = base.add(slot);
            std::ptr::addr_of_mut!((*entry).addr).write(addr);
            std::ptr::addr_of_mut!((*entry).len).write(self.pool.buffer_size() as u32);
            std::ptr::addr_of_mut!((*entry).bid).write(index as u16);
        }
        self.held[index] = Some(InRing {
            token: Token::Raw(raw),
            pos,
        });
        if let Some(c) = self.consumed.get_mut(index) {
            *c = 0;
        }
        self.slots[slot] = index as u16;
        self.in_ring += 1;
        self.unpublished += 1;
        Ok(())
    }

    /// Makes the written entries visible to the kernel.
    ///
    /// Memory ordering: the tail is stored with `Release`, so the entry
    /// writes before it are visible to whoever reads the new tail with
    /// `Acquire`, as the kernel does (`smp_load_acquire(&br->tail)` when it
    /// selects a buffer). Without it the kernel could see the new tail and
    /// read a stale address from the slot.
    fn publish(&mut self) {
        if self.unpublished == 0 {
            return;
        }
        let Some(mem) = &self.mem else { return };
        let new_tail = self.tail.wrapping_add(self.unpublished);
        let tail_ptr = (mem.base().as_ptr() as *mut RingEntry).cast::<u8>();
        // SAFETY: entry 0's `resv` (offset 14, 2-aligned, inside `mem`) is the
        // ring's tail; the kernel only reads it, we are its one writer, and
        // it is only ever accessed atomically from this side.
        let tail = unsafe { AtomicU16::from_ptr(tail_ptr.add(14).cast::<u16>()) };
        tail.store(new_tail, Ordering::Release);
        self.tail = new_tail;
        self.unpublished = 0;
    }

    fn check_room(&self, index: usize) -> Result<(), UringError> {
        if index > MAX_BUF_RING_INDEX {
            return Err(UringError::IndexTooLarge { index });
        }
        if self.in_ring >= usize::from(self.entries) {
            return Err(UringError::RingFull {
                entries: self.entries,
            });
        }
        Ok(())
    }

    /// Gives `buf` to the ring, for the kernel to pick.
    ///
    /// # Errors
    /// The buffer then goes back to its pool as it is dropped.
    /// [`UringError::ForeignBuffer`]: it belongs to another pool.
    /// [`UringError::IndexTooLarge`]: its index exceeds
    /// [`MAX_BUF_RING_INDEX`]. [`UringError::RingFull`]: every entry holds a
    /// buffer.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let Ok(ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 1)?;
    /// br.provide(pool.get_owned())?;
    /// assert!(br.holds(0));
    /// assert!(br.provide(pool.get_owned()).is_err()); // full: back to the pool
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn provide(&mut self, buf: OwnedBuf) -> Result<(), UringError> {
        if buf.pool().id() != self.pool.id() {
            return Err(UringError::ForeignBuffer);
        }
        self.check_room(buf.index())?;
        if let Err((e, raw)) = self.write_entry(buf.into_raw()) {
            // Ours (checked above): back to the pool.
            let _ = self.pool.put_raw(raw);
            return Err(e);
        }
        self.publish();
        Ok(())
    }

    /// Gives a buffer held as a [`RawBuf`] of this ring's pool to the ring.
    ///
    /// # Errors
    /// As [`provide`](Self::provide); a token of another pool is
    /// [`Error::WrongPool`] (in [`UringError::Pool`]; the token is dropped
    /// and its buffer stays out of its own pool).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let Ok(ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 4)?;
    /// let raw = pool.take_raw().ok_or("pool dry")?;
    /// br.provide_raw(raw)?;
    /// assert_eq!(br.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn provide_raw(&mut self, raw: RawBuf) -> Result<(), UringError> {
        if !self.pool.owns(&raw) {
            return Err(Error::WrongPool {
                index: raw.index(),
                pool_id: raw.pool_id(),
            }
            .into());
        }
        self.provide(self.owned_guard(raw))
    }

    /// The guard of a token of this ring's pool (checked by the caller).
    fn owned_guard(&self, raw: RawBuf) -> OwnedBuf {
        // The token owned its index exclusively; now the guard does.
        self.pool.owned_from_index(raw.into_index())
    }

    /// Whether completions of this ring are parts
    /// ([`register_incremental`](Self::register_incremental)).
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 8).unwrap());
    /// # let ring = io_uring::IoUring::new(8).unwrap();
    /// let br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 8).unwrap();
    /// assert!(!br.is_incremental());
    /// ```
    pub fn is_incremental(&self) -> bool {
        self.incremental
    }

    /// Takes whole buffer `bid` out of the ring (the kernel has consumed
    /// its slot): its token, or `None` if the ring does not hold it whole.
    fn take_whole(&mut self, bid: u16) -> Option<RawBuf> {
        let slot = self.held.get_mut(usize::from(bid))?;
        match slot.take() {
            Some(InRing {
                token: Token::Raw(raw),
                ..
            }) => {
                self.in_ring -= 1;
                Some(raw)
            }
            other => {
                *slot = other;
                None
            }
        }
    }

    /// The kernel is done with buffer `i` (its slot is consumed): the ring
    /// lets go of it. A whole one goes back to the pool; a shared one when
    /// its last part drops.
    fn retire(&mut self, i: usize) {
        match self.held.get_mut(i).and_then(Option::take) {
            Some(InRing {
                token: Token::Raw(raw),
                ..
            }) => {
                self.in_ring -= 1;
                // Cannot fail: the ring holds only tokens of its pool.
                let _ = self.pool.put_raw(raw);
            }
            Some(InRing {
                token: Token::Shared(shared),
                ..
            }) => {
                self.in_ring -= 1;
                drop(shared);
            }
            None => {}
        }
    }

    /// Buffer `i` (held by the ring) as a shared buffer, made from its
    /// token at its first part; a new reference to it.
    fn share(&mut self, i: usize) -> Option<Arc<PartShared>> {
        let slot = self.held.get_mut(i)?;
        let InRing { token, pos } = slot.take()?;
        let shared = match token {
            Token::Raw(raw) => Arc::new(PartShared::new(Arc::clone(&self.pool), raw)),
            Token::Shared(shared) => shared,
        };
        let out = Arc::clone(&shared);
        *slot = Some(InRing {
            token: Token::Shared(shared),
            pos,
        });
        Some(out)
    }

    /// Reads a completion of a receive from an *incremental* ring
    /// ([`register_incremental`](Self::register_incremental)): the part of
    /// the named buffer the kernel filled, from where the previous part of
    /// that buffer ended.
    ///
    /// Parts of one buffer share it ([`RecvPart`]); it goes back to the pool
    /// when the kernel is done with it *and* its last part is dropped. The
    /// kernel is done when a completion with bytes has no
    /// `IORING_CQE_F_BUF_MORE` (the buffer is used up; the next receive
    /// takes the next buffer).
    ///
    /// Kernel behaviours handled:
    /// * **`BUF_MORE` missing at end of file** (liburing#1545, #1553): the
    ///   completion of a zero-byte receive carries the buffer id without
    ///   `BUF_MORE`, yet the kernel consumed nothing and the buffer stays at
    ///   the ring's head. A result of 0 is taken as end of stream and
    ///   *never* as the end of the buffer: `Ok(None)`, the buffer stays in
    ///   the ring (a negative result likewise: the kernel's error).
    /// * **`MSG_TRUNC` over-consumption** (liburing#1619): with `MSG_TRUNC`
    ///   a receive reports the datagram's full length, more than the buffer
    ///   had room for, and the kernel advances its ring by that many bytes,
    ///   into the buffers after this one. The part is clamped to the bytes
    ///   that fit in the buffer, and the excess is charged to the following
    ///   buffers in ring order, as the kernel does: those it used up go
    ///   back to the pool (no completion will name them), the one it
    ///   entered keeps its place with its start moved on. (That
    ///   completion's `BUF_MORE` describes the buffer the excess entered;
    ///   the named one is used up.) `tests/uring_incremental.rs` checks
    ///   this model against the kernel: a kernel that stopped
    ///   over-consuming would fail it. A receive issued from io-wq
    ///   (`IOSQE_ASYNC`, or punted there by the kernel) does not
    ///   over-consume, and its completion cannot be told from an excess
    ///   ending on a buffer boundary (no `BUF_MORE`): then the buffers the
    ///   excess would cover stay in the ring, never handed out nor
    ///   returned, until it is unregistered (their bytes, if the kernel
    ///   still fills them, are refused as below), rather than go back to
    ///   the pool while the kernel may hold them
    ///   (`tests/uring_soundness.rs`).
    /// * **A receive that asks for fewer bytes than the buffer has left,
    ///   from io-wq**: the kernel then moves the buffer on by the length
    ///   asked for, not the bytes received, so the next part's offset is
    ///   wrong (never overlapping bytes the kernel may write: ours stays
    ///   behind its). Ask for the buffer's length (`len` 0) on an
    ///   incremental ring.
    /// * **A bundle receive** on an incremental ring: the kernel moves on
    ///   by the bytes, through the buffers after the named one, as for
    ///   `MSG_TRUNC` above; the part covers the named buffer only, and the
    ///   bytes in the buffers after it are skipped. Use plain receives.
    /// * **A failed receive from io-wq** names a buffer (the kernel took
    ///   its room before receiving); one that failed in the kernel's own
    ///   context names none. A failed completion cannot show which, so the
    ///   named buffer is kept in the ring, not returned, until the ring is
    ///   unregistered: a buffer lost for the ring's life, never one the
    ///   kernel may still write.
    /// * A completion that names a buffer with nothing left in it (the
    ///   kernel kept `BUF_MORE` on a full buffer) is refused
    ///   ([`UringError::UnknownBuffer`]); that buffer stays in the ring
    ///   until the ring is dropped.
    ///
    /// # Errors
    /// [`UringError::WrongRingKind`]: a plain ring.
    /// [`UringError::Completion`]: a negative result (the kernel's error).
    /// [`UringError::NoBuffer`]: a positive result with no buffer.
    /// [`UringError::UnknownBuffer`]: a buffer id the ring does not hold,
    /// or one with no room left.
    ///
    /// ```
    /// use io_uring::{opcode, squeue, types, IoUring};
    /// use std::io::Write;
    /// use std::os::fd::AsRawFd;
    /// # use std::sync::Arc;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Small, 2)?);
    /// let Ok(mut ring) = IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// let Ok(mut br) = iobuf_pool::uring::BufRing::register_incremental(&ring, &pool, 0, 2)
    /// else {
    ///     return Ok(()); // a kernel before 6.12
    /// };
    /// br.fill()?;
    /// let (mut tx, rx) = std::os::unix::net::UnixStream::pair()?;
    /// let mut parts = Vec::new();
    /// for msg in [&b"one"[..], b"two"] {
    ///     tx.write_all(msg)?;
    ///     // `len` 0: the buffer's whole room.
    ///     let recv = opcode::Recv::new(types::Fd(rx.as_raw_fd()), std::ptr::null_mut(), 0)
    ///         .buf_group(br.bgid())
    ///         .build()
    ///         .flags(squeue::Flags::BUFFER_SELECT);
    ///     // SAFETY: `br` stays registered and `rx` open until the completion.
    ///     unsafe { ring.submission().push(&recv)? };
    ///     ring.submit_and_wait(1)?;
    ///     let cqe = ring.completion().next().ok_or("no completion")?;
    ///     // SAFETY: one completion of a recv from br's group on this ring, once.
    ///     parts.push(unsafe { br.take_part(cqe.result(), cqe.flags()) }?.ok_or("eof")?);
    /// }
    /// assert_eq!((&parts[0][..], &parts[1][..]), (&b"one"[..], &b"two"[..]));
    /// assert!(parts[0].shares_buffer_with(&parts[1])); // one buffer, two parts
    /// assert_eq!(parts[1].offset(), 3);
    /// # Ok(()) }
    /// ```
    ///
    /// # Safety
    /// As [`take`](Self::take): the values of one completion of a receive
    /// from this ring's group, reaped from the io_uring instance it is
    /// registered with, each passed once. A replayed completion would
    /// hand out a part the kernel has not written yet and may write while
    /// it is read. And a receive with `MSG_TRUNC` asks for at least the
    /// pool's buffer size (`len` 0 does): issued from io-wq with a shorter
    /// length, its completion (the datagram's length, `BUF_MORE`) reads
    /// the same as an over-consumption, yet the kernel keeps the buffer
    /// and goes on writing it past the length asked for.
    pub unsafe fn take_part(
        &mut self,
        result: i32,
        flags: u32,
    ) -> Result<Option<RecvPart>, UringError> {
        if !self.incremental {
            return Err(UringError::WrongRingKind { incremental: false });
        }
        if result <= 0 {
            return match result {
                0 => Ok(None),
                r => Err(UringError::Completion(io::Error::from_raw_os_error(-r))),
            };
        }
        let Some(bid) = cqueue::buffer_select(flags) else {
            return Err(UringError::NoBuffer { result });
        };
        let i = usize::from(bid);
        let Some(pos) = self.held.get(i).and_then(Option::as_ref).map(|e| e.pos) else {
            return Err(UringError::UnknownBuffer { bid });
        };
        let size = self.pool.buffer_size();
        let start = self.consumed[i] as usize;
        if start >= size {
            return Err(UringError::UnknownBuffer { bid });
        }
        let reported = result as usize;
        let len = reported.min(size - start);
        self.consumed[i] = (start + len) as u32;
        let Some(shared) = self.share(i) else {
            return Err(UringError::UnknownBuffer { bid });
        };
        // MSG_TRUNC over-consumption: the kernel moved its head past this
        // buffer by the excess, through the next buffers in ring order.
        let mut excess = reported - len;
        // Done with it: no BUF_MORE, or used up (`BUF_MORE` then describes
        // the last buffer the excess entered, not this one; the kernel
        // commits byte by byte and leaves a buffer as soon as it has no
        // room left, so a used-up buffer is never at its head).
        if !cqueue::buffer_more(flags) || excess > 0 || start + len >= size {
            self.retire(i);
        }
        // Whether the kernel surely over-consumed. With `BUF_MORE` it did:
        // the flag describes the buffer the excess ended in (from io-wq,
        // where the kernel takes a buffer's room before receiving, a
        // `MSG_TRUNC` receive of the whole buffer never has `BUF_MORE`).
        // Without it, the excess either ended on a buffer boundary (an
        // over-consumption) or was never consumed (io-wq): then the
        // buffers it would cover are kept, never handed out nor returned.
        let charged = cqueue::buffer_more(flags);
        let mask = usize::from(self.entries - 1);
        let mut at = pos;
        while excess > 0 {
            at = at.wrapping_add(1);
            let id = usize::from(self.slots[usize::from(at) & mask]);
            if !matches!(self.held.get(id), Some(Some(e)) if e.pos == at) {
                break;
            }
            let used = self.consumed[id] as usize;
            let step = excess.min(size - used);
            excess -= step;
            if !charged {
                // Unknown: mark it full, so no part is made of it (the
                // kernel may still write any of it) and it stays held
                // until the ring is unregistered.
                self.consumed[id] = size as u32;
                continue;
            }
            self.consumed[id] = (used + step) as u32;
            if used + step >= size {
                self.retire(id);
            }
        }
        Ok(Some(RecvPart::new(shared, start, len)))
    }

    /// Whether buffer id `bid` is in this ring: given to it and not yet
    /// taken back by [`take`](Self::take).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let Ok(ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 4)?;
    /// assert!(!br.holds(0));
    /// br.fill()?;
    /// assert!(br.holds(0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn holds(&self, bid: u16) -> bool {
        matches!(self.held.get(usize::from(bid)), Some(Some(_)))
    }

    /// Takes free buffers from the pool until the ring is full or the pool
    /// is dry, and publishes them with one tail update. Returns how many.
    ///
    /// A buffer picked by this ring's kernel and dropped on another thread
    /// may sit in that thread's cache (a thread-cached pool, the default).
    /// When the pool looks dry while threads' caches hold buffers
    /// ([`PoolStats::cached`](crate::PoolStats::cached)), the fill takes
    /// them back once
    /// ([`BufferPool::drain_thread_caches`](crate::BufferPool::drain_thread_caches),
    /// one asymmetric fence) and goes on: any ring's refill can reuse a
    /// buffer, wherever it was dropped. A pool whose buffers are all in use
    /// costs the fill no fence.
    ///
    /// # Errors
    /// [`UringError::IndexTooLarge`]: a pool index above
    /// [`MAX_BUF_RING_INDEX`] (a pool of more than 65536 buffers); the
    /// buffers given before it stay in the ring, and are published.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let Ok(ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 8)?;
    /// assert_eq!(br.fill()?, 4); // the pool ran dry first
    /// assert_eq!(br.fill()?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fill(&mut self) -> Result<usize, UringError> {
        let mut added = 0;
        let mut drained = false;
        let result = loop {
            if self.in_ring >= usize::from(self.entries) {
                break Ok(added);
            }
            let raw = match self.pool.take_raw() {
                Some(raw) => raw,
                None if !drained && self.pool.stats().cached > 0 => {
                    drained = true;
                    if self.pool.drain_thread_caches() == 0 {
                        break Ok(added);
                    }
                    continue;
                }
                None => break Ok(added),
            };
            if let Err(e) = self.check_room(raw.index()) {
                // Cannot fail: the token is of this pool, just taken.
                let _ = self.pool.put_raw(raw);
                break Err(e);
            }
            if let Err((e, raw)) = self.write_entry(raw) {
                let _ = self.pool.put_raw(raw);
                break Err(e);
            }
            added += 1;
        };
        self.publish();
        result
    }

    /// Reads a completion of an operation that selected from this group:
    /// its `result` and `flags` (`cqe.result()`, `cqe.flags()`).
    ///
    /// * A buffer was picked (`IORING_CQE_F_BUFFER`): `Ok(Some(received))`,
    ///   the buffer with its `result` bytes, now owned by the caller. (If the
    ///   result is also negative, the buffer goes back to the pool and the
    ///   error is returned.)
    /// * No buffer and a result of 0 (end of stream): `Ok(None)`.
    /// * No buffer and a negative result: the kernel's error, e.g. `ENOBUFS`
    ///   when the ring ran dry.
    ///
    /// # Errors
    /// [`UringError::Completion`]: a negative result (the kernel's error).
    /// [`UringError::UnknownBuffer`]: a buffer id this ring does not hold
    /// (the same completion taken twice, or another group's).
    /// [`UringError::NoBuffer`]: a positive result without a buffer.
    /// [`UringError::WrongRingKind`]: an incremental ring (use
    /// [`take_part`](Self::take_part)).
    ///
    /// ```
    /// use io_uring::{opcode, squeue, types, IoUring};
    /// use std::io::Write;
    /// use std::os::fd::AsRawFd;
    /// # use std::sync::Arc;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let Ok(mut ring) = IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 4)?;
    /// br.fill()?;
    /// let (mut tx, rx) = std::os::unix::net::UnixStream::pair()?;
    /// tx.write_all(b"hello")?;
    /// let recv = opcode::Recv::new(types::Fd(rx.as_raw_fd()), std::ptr::null_mut(), 0)
    ///     .buf_group(br.bgid())
    ///     .build()
    ///     .flags(squeue::Flags::BUFFER_SELECT);
    /// // SAFETY: `br` stays registered and `rx` open until the completion.
    /// unsafe { ring.submission().push(&recv)? };
    /// ring.submit_and_wait(1)?;
    /// let cqe = ring.completion().next().ok_or("no completion")?;
    /// // SAFETY: one completion of a (not bundle) recv from br's group on
    /// // this ring, passed once.
    /// let got = unsafe { br.take(cqe.result(), cqe.flags()) }?.ok_or("end of stream")?;
    /// assert_eq!(&got[..], b"hello");
    /// br.provide(got.into_buf())?; // back to the ring, for the next recv
    /// # Ok(()) }
    /// ```
    ///
    /// # Safety
    /// `result` and `flags` are those of one completion, reaped from the
    /// io_uring instance this ring is registered with, of an operation that
    /// selected from this ring's group and is not a bundle (a bundle's
    /// completions go to [`take_bundle`](Self::take_bundle): its end of
    /// stream names a buffer the kernel did not consume, which `take` would
    /// hand out while it still sits at the ring's head); and each
    /// completion is passed here once. A buffer id alone cannot tell a buffer the kernel has picked
    /// from one still waiting in the ring: an invented or replayed id of a
    /// buffer the ring holds would hand out a buffer the kernel may still
    /// write. (An id the ring does not hold is an error whatever the
    /// caller passes.)
    pub unsafe fn take(&mut self, result: i32, flags: u32) -> Result<Option<Received>, UringError> {
        let Some(bid) = cqueue::buffer_select(flags) else {
            return match result {
                0 => Ok(None),
                r if r < 0 => Err(UringError::Completion(io::Error::from_raw_os_error(-r))),
                r => Err(UringError::NoBuffer { result: r }),
            };
        };
        if self.incremental {
            return Err(UringError::WrongRingKind { incremental: true });
        }
        let Some(raw) = self.take_whole(bid) else {
            return Err(UringError::UnknownBuffer { bid });
        };
        // By the contract, the kernel has picked this buffer and is done
        // with it: the ring's token becomes the caller's guard.
        // (Only tokens of this ring's pool are ever stored in `held`.)
        let mut buf = self.owned_guard(raw);
        let len = cqe_result(result)? as usize;
        // Cannot fail: clamped to the buffer's size.
        let _ = buf.set_len(len.min(buf.capacity()));
        Ok(Some(Received { buf }))
    }

    /// Reads the completion of a *bundle* receive (`RecvBundle`,
    /// `RecvMultiBundle`: `IORING_RECVSEND_BUNDLE`) that selected from this
    /// group: one completion, a run of buffers in ring order.
    ///
    /// The completion names the first buffer; the kernel filled the buffers
    /// that follow it in the ring, each to its whole size but the last, so
    /// `result` bytes took `ceil(result / buffer_size)` of them. They come
    /// back as one [`Bundle`], `result` bytes over its guards.
    ///
    /// * Buffers and a positive result: `Ok(Some(bundle))`.
    /// * A result of 0 (end of stream), with or without a buffer id:
    ///   `Ok(None)`. The kernel sets `IORING_CQE_F_BUFFER` on a bundle's
    ///   empty completion too, but consumes no buffer for it (it counts the
    ///   buffers a bundle used from the bytes, and 0 bytes used none), so
    ///   the named buffer stays in the ring.
    /// * A negative result: the kernel's error (`ENOBUFS`: the ring ran dry);
    ///   any buffer id is likewise left in the ring.
    ///
    /// # Errors
    /// Taking nothing: [`UringError::Completion`]: a negative result.
    /// [`UringError::NoBuffer`]: a positive result without a buffer.
    /// [`UringError::UnknownBuffer`]: the first id is not in this ring.
    /// [`UringError::BadBundle`]: the run it starts is not the ring's
    /// order of buffers still held (a completion of another group, or one
    /// already taken). [`UringError::WrongRingKind`]: an incremental ring.
    /// [`UringError::Pool`]: the bundle's list could not be allocated.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// use io_uring::{opcode, types, IoUring};
    /// use iobuf_pool::uring::BufRing;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 16)?);
    /// let mut ring = IoUring::new(8)?;
    /// let mut br = BufRing::register(&ring, &pool, 0, 16)?;
    /// br.fill()?;
    /// # let fd = 0;
    /// let recv = opcode::RecvBundle::new(types::Fd(fd), br.bgid()).build();
    /// // SAFETY: `br` stays registered and `fd` open until the completion.
    /// unsafe { ring.submission().push(&recv)? };
    /// ring.submit_and_wait(1)?;
    /// let cqe = ring.completion().next().ok_or("no completion")?;
    /// // SAFETY: one completion of this ring, of a bundle recv from br's
    /// // group, passed once.
    /// if let Some(bundle) = unsafe { br.take_bundle(cqe.result(), cqe.flags()) }? {
    ///     for buf in bundle.iter() {
    ///         println!("buffer {}: {} bytes", buf.index(), buf.len());
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Safety
    /// As [`take`](Self::take): the values of one completion of a bundle
    /// receive from this ring's group, reaped from the io_uring instance it
    /// is registered with, passed once. And the receive does not use
    /// `MSG_TRUNC`: with it, a datagram socket's completion reports the
    /// datagram's length, more than the buffers the kernel used could
    /// hold, and the run counted from it would take buffers the kernel
    /// still holds (`tests/uring_soundness.rs` shows the kernel doing so).
    pub unsafe fn take_bundle(
        &mut self,
        result: i32,
        flags: u32,
    ) -> Result<Option<Bundle>, UringError> {
        if self.incremental {
            return Err(UringError::WrongRingKind { incremental: true });
        }
        if result <= 0 {
            return match result {
                0 => Ok(None),
                r => Err(UringError::Completion(io::Error::from_raw_os_error(-r))),
            };
        }
        let Some(bid) = cqueue::buffer_select(flags) else {
            return Err(UringError::NoBuffer { result });
        };
        let Some(first) = self.held.get(usize::from(bid)).and_then(Option::as_ref) else {
            return Err(UringError::UnknownBuffer { bid });
        };
        let size = self.pool.buffer_size();
        let count = (result as usize).div_ceil(size);
        // Check the whole run before taking any of it: each position from
        // the first on holds, in `slots`, a buffer still in the ring that
        // was written at exactly that position.
        let start = first.pos;
        let mask = usize::from(self.entries - 1);
        let run_ok = count <= self.in_ring
            && (0..count).all(|k| {
                let pos = start.wrapping_add(k as u16);
                let id = self.slots[usize::from(pos) & mask];
                matches!(self.held.get(usize::from(id)), Some(Some(r)) if r.pos == pos)
            });
        if !run_ok {
            return Err(UringError::BadBundle { bid, count });
        }
        let mut bufs = Vec::new();
        bufs.try_reserve_exact(count)
            .map_err(|_| Error::AllocFailed {
                size: count * std::mem::size_of::<OwnedBuf>(),
            })?;
        let mut left = result as usize;
        for k in 0..count {
            let pos = start.wrapping_add(k as u16);
            let id = self.slots[usize::from(pos) & mask];
            // Present: checked above, and nothing was taken since.
            let Some(raw) = self.take_whole(id) else {
                continue;
            };
            // By the contract, the kernel filled this buffer and is done
            // with it.
            let mut buf = self.owned_guard(raw);
            let len = left.min(size);
            // Cannot fail: len <= size.
            let _ = buf.set_len(len);
            left -= len;
            bufs.push(buf);
        }
        Ok(Some(Bundle::new(bufs, result as usize)))
    }

    /// Unregisters the group now, reporting the kernel's answer, and gives
    /// the buffers still in the ring back to the pool.
    ///
    /// # Errors
    /// [`UringError::Register`]: the kernel refused (`EEXIST`: not the
    /// thread of an `IORING_SETUP_SINGLE_ISSUER` ring). The group then
    /// stays registered, so the ring memory, its buffers and a reference to
    /// the pool are leaked, since the kernel may still use them.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let Ok(ring) = io_uring::IoUring::new(8) else { return Ok(()) }; // no io_uring here
    /// # let pool = Arc::new(iobuf_pool::BufferPool::new(iobuf_pool::Tier::Nano, 4)?);
    /// let mut br = iobuf_pool::uring::BufRing::register(&ring, &pool, 0, 4)?;
    /// br.fill()?;
    /// br.unregister()?;
    /// assert!(pool.try_get().is_some()); // its buffers are back
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unregister(mut self) -> Result<(), UringError> {
        self.release().map_err(|source| UringError::Register {
            what: "a provided-buffer ring (unregister)",
            source,
        })
    }

    /// Unregisters, then frees the ring memory and returns its buffers; or,
    /// if the kernel may still use them, leaks both.
    fn release(&mut self) -> io::Result<()> {
        let Some(fd) = self.ring_fd.take() else {
            return Ok(());
        };
        let reg = BufReg {
            bgid: self.bgid,
            ..BufReg::default()
        };
        // SAFETY: IORING_UNREGISTER_PBUF_RING reads one io_uring_buf_reg,
        // which `reg` is (layout checked above), alive for the call.
        let result = unsafe {
            register_raw(
                &fd,
                IORING_UNREGISTER_PBUF_RING,
                (&reg as *const BufReg).cast(),
                1,
            )
        };
        match result {
            // ENOENT / EINVAL: the group is not registered (any more): the
            // kernel no longer reads the ring, as after a success.
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EINVAL)) => {}
            Err(e) => {
                std::mem::forget(self.mem.take());
                // The group stays registered: a later recv selecting from
                // it makes the kernel write these buffers' addresses, so the
                // pool's slab must outlive the io_uring instance. Our `Arc`
                // is dropped after this; a leaked clone keeps the pool.
                std::mem::forget(Arc::clone(&self.pool));
                // Dropping the raw tokens keeps their buffers out of the
                // pool for good: the kernel may still write them. A shared
                // buffer's clone is leaked, so its parts' drops never
                // return it either.
                for held in self.held.iter_mut() {
                    if let Some(InRing {
                        token: Token::Shared(shared),
                        ..
                    }) = held.take()
                    {
                        std::mem::forget(shared);
                    }
                }
                self.held.clear();
                self.in_ring = 0;
                return Err(e);
            }
        }
        for held in self.held.iter_mut() {
            match held.take() {
                // Cannot fail: the ring holds only tokens of its pool.
                Some(InRing {
                    token: Token::Raw(raw),
                    ..
                }) => drop(self.pool.put_raw(raw)),
                // The kernel is done with it: the parts still out return it
                // when the last one drops (now, if none is).
                Some(InRing {
                    token: Token::Shared(shared),
                    ..
                }) => drop(shared),
                None => {}
            }
        }
        self.in_ring = 0;
        Ok(())
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // A failure cannot be reported from drop; release() leaked what the
        // kernel may still touch.
        let _ = self.release();
    }
}

impl fmt::Debug for BufRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufRing")
            .field("bgid", &self.bgid)
            .field("entries", &self.entries)
            .field("in_ring", &self.in_ring)
            .field("registered", &self.ring_fd.is_some())
            .finish()
    }
}
