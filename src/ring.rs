//! A bounded, lock-free ring of buffer indices: Nikolaev's SCQ.
//!
//! (Why one file of about 1,000 lines: the algorithm, its memory-ordering
//! argument and the batch operations share every invariant below; about
//! 270 lines are unit tests.)
//!
//! The algorithm is the Scalable Circular Queue of Ruslan Nikolaev, "A
//! Scalable, Portable, and Memory-Efficient Lock-Free FIFO Queue" (DISC
//! 2019, arXiv:1908.04511), in its single-width-CAS form. It stores small
//! integers (the indices of a pool's buffers), which is exactly what a pool
//! needs, and it is written from the paper's description.
//!
//! # Why not the Go iobuf ring
//!
//! The Go library CASes bare indices into slots and tags only its empty
//! markers with a turn. A consumer that reads a slot, stalls, and then CASes
//! it can succeed after the same index was taken and put back in between:
//! two holders of one buffer. Here every slot carries the *cycle* (lap
//! number) of the position that wrote it, so a stale CAS always fails.
//!
//! # How it works
//!
//! For a capacity of up to `n = 2^k` indices the ring has `2n` slots.
//! `head` and `tail` are ever-growing 64-bit positions advanced by
//! fetch-and-add; position `p` lives in slot `p mod 2n`, in cycle
//! `p / 2n`. A slot holds one word:
//!
//! ```text
//!   | cycle (high bits) | safe (1 bit) | index (log2(2n) bits) |
//! ```
//!
//! An index field of all ones (⊥) means the slot is empty. A producer
//! (`push`) takes a tail position and CASes its cycle and index into the slot
//! if the slot is empty and from an older cycle. A consumer (`pop`) takes a
//! head position; if the slot holds an entry of exactly its cycle it takes the
//! index and marks the slot ⊥. Otherwise it moves the slot's cycle forward so
//! that a late producer cannot fill it, or, when an older entry is still
//! waiting for its consumer, clears the slot's *safe* bit so that producers
//! skip it unless the head is known to be behind them.
//!
//! With `2n` slots for at most `n` indices the producer always finds a
//! usable slot (the paper's Theorem: enqueue is lock-free), and the
//! `threshold` counter (`3n - 1`, reset by every push, decremented by every
//! failed pop) bounds how far consumers can run past producers on an empty
//! ring, which makes the whole ring lock-free rather than merely
//! obstruction-free.
//!
//! Consecutive positions are spread over different cache lines (the low
//! bits of the slot number are rotated), so threads that took neighbouring
//! positions do not contend on one line. `head`, `threshold` and `tail` each
//! sit on their own cache line.
//!
//! # Batches
//!
//! [`pop_many`](IndexRing::pop_many) and [`push_many`](IndexRing::push_many)
//! claim a run of `k` consecutive positions with one fetch-and-add of `k`
//! on `head` (resp. `tail`), where `k` single operations would take one
//! each. The thread then owns every position of the run and gives each the
//! step a single operation that had taken it would: a batch *is* `k` single
//! operations whose fetch-and-adds happened back to back and whose slot
//! steps then ran one after another, an interleaving the ring already
//! allows with `k` threads. So every argument above (cycles, the safe bit,
//! the threshold, lock-freedom) covers batches as it stands, provided the
//! batch keeps these invariants:
//!
//! * **Every claimed position gets its step.** A consumer takes the entry
//!   of its cycle, or else marks the slot exactly as `pop` does (advances
//!   an empty slot's cycle, or clears the safe bit of an older entry), even
//!   when it already has all it wanted: a position left unmarked could
//!   still be filled by its late producer, and no consumer would ever read
//!   that index (lost). A producer writes its index only into a usable slot
//!   (empty, of an older cycle, safe or with `head` not past the position).
//! * **An unusable position costs its index a fresh one.** A producer whose
//!   position a consumer passed retries that index alone, at new positions
//!   from single fetch-and-adds (the loop of `push`), until a slot takes it.
//!   No index is dropped and none is written twice.
//! * **The threshold sees what `k` pops would.** A consumer decrements it
//!   once per position that yielded nothing, after the run: `missed`
//!   decrements back to back. If no producer holds a position past the run
//!   (`tail <= end`), the ring was empty for any new consumer at that read
//!   (each entry left lies at a position some other consumer claimed), so
//!   the batch pulls `tail` up to `end` (`catch_up`) and stops. Otherwise,
//!   of the `missed` pops that decremented from `left`, the ones that saw a
//!   positive value go on: the next round claims `min(missed, left)`
//!   positions, and none if `left <= 0`. A producer batch resets the
//!   threshold once, after its last index is in, which is `k` pushes that
//!   each stalled between their slot write and their reset; a push counts
//!   as done only when it returns.
//! * **A run is at most `capacity <= n` positions**, so the positions of one
//!   run fall on distinct slots, and a large request cannot wind `head` far
//!   past `tail` (a consumer round that took every position it claimed
//!   starts the next afresh, with the threshold check a new pop makes).
//!   A producer batch longer than `capacity` is refused: it would hold an
//!   index twice.
//!
//! A batch is not one atomic step: concurrent operations may see part of
//! it. What it returns is what its single operations would have.
//!
//! # Memory ordering
//!
//! Every atomic access of the ring is `SeqCst`. The SCQ argument is made for
//! a sequentially consistent memory: its emptiness tests compare `head`,
//! `tail`, `threshold` and slot contents written by other threads (a consumer
//! that advanced `head` and then reads `tail`, a producer that read a slot and
//! then reads `head`: store-buffering patterns that acquire/release alone
//! does not order). A program whose atomics are all `SeqCst` has only
//! sequentially consistent executions (C11's SC-DRF guarantee), so the proof
//! applies as it stands. The price is nil where it matters: on x86-64 every
//! read-modify-write is a locked instruction whatever its ordering and a
//! `SeqCst` load is a plain load; on AArch64 a `SeqCst` load is the same
//! `ldar` as an acquire load. The one plain store (the threshold reset) is
//! rare.
//!
//! The guarantee a pool needs follows: the slot CAS that returns an index
//! is a release and the read that takes it an acquire, so every byte the
//! returning thread wrote to the buffer happens-before the next holder's
//! first access.
//!
//! loom models `SeqCst` loads as acquire loads, which may return values
//! that the sequentially consistent order rules out, and lets a plain store
//! land before a concurrent read-modify-write that the same thread's earlier
//! load had already seen. Under `cfg(loom)` the ring therefore reads through
//! a read-modify-write that changes nothing (`fetch_add(0)`) and makes its
//! one store a `swap`: read-modify-writes always act on the latest value,
//! which is what sequentially consistent loads and stores do. So the loom
//! models check the ring in the executions production code can have, and
//! no others (a model failing on an execution that `SeqCst` forbids would
//! only be noise).
//!
//! # Example
//!
//! ```
//! use iobuf_pool::sync::IndexRing;
//! let ring = IndexRing::full(3).unwrap();
//! let a = ring.pop().unwrap();
//! let b = ring.pop().unwrap();
//! let c = ring.pop().unwrap();
//! assert_eq!(ring.pop(), None);
//! let mut got = [a, b, c];
//! got.sort();
//! assert_eq!(got, [0, 1, 2]);
//! // SAFETY: `b` came from pop and is not in the ring.
//! unsafe { ring.push(b) }.unwrap();
//! assert_eq!(ring.pop(), Some(b));
//! ```

use crate::Error;
use crossbeam_utils::CachePadded;

#[cfg(loom)]
use loom::sync::atomic::{AtomicI64, AtomicU64, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// The largest capacity a ring (and so a pool) supports.
pub const MAX_CAPACITY: usize = 1 << 30;

/// log2 of the slots that share a cache line: the rotation that spreads
/// consecutive positions over different lines.
const REMAP_BITS: u32 = (crate::mem::CACHE_LINE_SIZE / std::mem::size_of::<u64>()).trailing_zeros();

/// How often a consumer re-reads an empty slot of an older cycle before it
/// invalidates it: a producer that took the position a moment ago is likely
/// to fill it within this window, and then the consumer needs no new head
/// position. Under loom every re-read is a new branch of the model; the
/// optimisation is not needed for correctness, so it is off there.
#[cfg(not(loom))]
const EMPTY_SLOT_REREADS: u32 = 64;
#[cfg(loom)]
const EMPTY_SLOT_REREADS: u32 = 0;

/// The ring's one memory ordering (see the module docs).
const SC: Ordering = Ordering::SeqCst;

/// Reads `a` as the sequentially consistent order has it (see the module
/// docs for why loom needs a read-modify-write for that).
#[inline]
fn read(a: &AtomicU64) -> u64 {
    #[cfg(loom)]
    return a.fetch_add(0, SC);
    #[cfg(not(loom))]
    a.load(SC)
}

/// [`read`] for the threshold.
#[inline]
fn read_threshold(a: &AtomicI64) -> i64 {
    #[cfg(loom)]
    return a.fetch_add(0, SC);
    #[cfg(not(loom))]
    a.load(SC)
}

/// Stores `v` into the threshold at the end of its modification order, as
/// a sequentially consistent store does (loom: through a swap).
#[inline]
fn write_threshold(a: &AtomicI64, v: i64) {
    #[cfg(loom)]
    a.swap(v, SC);
    #[cfg(not(loom))]
    a.store(v, SC)
}

/// Wrap-around comparison of positions and cycle tags: `a` comes before `b`.
#[inline]
fn before(a: u64, b: u64) -> bool {
    (a.wrapping_sub(b) as i64) < 0
}

/// A bounded, lock-free, ABA-safe ring of the indices `0..capacity`.
///
/// It is the free list of [`BufferPool`](crate::BufferPool) and
/// [`BoundedPool`](crate::BoundedPool) (behind their one-entry reuse slot);
/// it can be used alone as an index allocator. It never holds more than
/// `capacity` indices, and each index must be in it at most once:
/// [`push`](IndexRing::push) is for returning an index that
/// [`pop`](IndexRing::pop) handed out, and is `unsafe` for that reason
/// (pushing an index that is already in the ring breaks the exactly-once
/// guarantee, and pushing more than `capacity` indices can make `push` spin
/// forever). The pools keep that contract through their guards and tokens;
/// every safe call of the ring keeps it by itself.
pub struct IndexRing {
    /// Next position a consumer takes. Grows by one per pop attempt; may run
    /// ahead of `tail` on an empty ring, until `catch_up` pulls tail forward.
    head: CachePadded<AtomicU64>,
    /// Failed pops left before the ring is reported empty without touching
    /// `head`; negative means empty. Reset to `3n - 1` by every push.
    threshold: CachePadded<AtomicI64>,
    /// Next position a producer takes. Grows by one per push attempt.
    tail: CachePadded<AtomicU64>,
    /// `2n` slots, each `cycle | safe | index` (see the module docs).
    slots: Box<[AtomicU64]>,
    /// log2 of `slots.len()`.
    slot_order: u32,
    /// Indices this ring manages: `0..capacity`, `capacity <= n`.
    capacity: usize,
}

impl IndexRing {
    /// A ring that starts holding every index `0..capacity`, so that a pool
    /// starts with every buffer free.
    ///
    /// # Errors
    /// [`Error::ZeroCapacity`], [`Error::CapacityTooLarge`] (above
    /// [`MAX_CAPACITY`]), or [`Error::AllocFailed`] for the slots.
    pub fn full(capacity: usize) -> Result<Self, Error> {
        Self::with_len(capacity, capacity)
    }

    /// A ring for indices `0..capacity` that starts empty.
    ///
    /// # Errors
    /// As [`full`](Self::full).
    pub fn empty(capacity: usize) -> Result<Self, Error> {
        Self::with_len(capacity, 0)
    }

    fn with_len(capacity: usize, filled: usize) -> Result<Self, Error> {
        if capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        if capacity > MAX_CAPACITY {
            return Err(Error::CapacityTooLarge {
                requested: capacity,
                max: MAX_CAPACITY,
            });
        }
        // n >= capacity, and n >= 2 so the index field can hold ⊥ besides
        // every real index.
        let n = capacity.next_power_of_two().max(2);
        let slot_count = 2 * n;
        let slot_order = slot_count.trailing_zeros();
        // Reserve the slots before writing any: a refusal is an error, not
        // an abort, and nothing large has been touched.
        let mut slots = Vec::new();
        slots
            .try_reserve_exact(slot_count)
            .map_err(|_| Error::AllocFailed {
                size: slot_count.saturating_mul(std::mem::size_of::<u64>()),
            })?;
        slots.extend((0..slot_count).map(|_| AtomicU64::new(u64::MAX)));
        let mut ring = IndexRing {
            head: CachePadded::new(AtomicU64::new(0)),
            threshold: CachePadded::new(AtomicI64::new(-1)),
            tail: CachePadded::new(AtomicU64::new(filled as u64)),
            slots: slots.into_boxed_slice(),
            slot_order,
            capacity,
        };
        // Unused slots stay u64::MAX: cycle -1 (before any position), safe,
        // empty. Position i < filled holds index i in cycle 0.
        for i in 0..filled {
            let slot = ring.slot_of(i as u64);
            ring.slots[slot] = AtomicU64::new(ring.safe_bit() | i as u64);
        }
        if filled > 0 {
            ring.threshold = CachePadded::new(AtomicI64::new(ring.threshold_max()));
        }
        Ok(ring)
    }

    /// The number of indices this ring manages.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of slot memory: 16 per index of the ring's power-of-two size.
    pub fn slot_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<u64>()
    }

    /// Number of slots, 2n.
    #[inline]
    fn slot_count(&self) -> u64 {
        1 << self.slot_order
    }

    /// The safe bit; also the number of slots.
    #[inline]
    fn safe_bit(&self) -> u64 {
        self.slot_count()
    }

    /// Index field mask; all ones is ⊥ (empty).
    #[inline]
    fn index_mask(&self) -> u64 {
        self.slot_count() - 1
    }

    /// Safe bit and index field together.
    #[inline]
    fn low_mask(&self) -> u64 {
        2 * self.slot_count() - 1
    }

    /// `3n - 1`, where n is half the slot count.
    #[inline]
    fn threshold_max(&self) -> i64 {
        3 * (self.slot_count() as i64 / 2) - 1
    }

    /// The cycle tag of position `p` with all low bits set, so that it
    /// compares directly with `entry | low_mask`.
    #[inline]
    fn cycle_tag(&self, p: u64) -> u64 {
        (p << 1) | self.low_mask()
    }

    /// The slot of position `p`: `p mod 2n` with its low bits rotated, so
    /// consecutive positions fall on different cache lines.
    #[inline]
    fn slot_of(&self, p: u64) -> usize {
        let mask = self.index_mask();
        let i = p & mask;
        if self.slot_order <= REMAP_BITS {
            return i as usize;
        }
        (((i << REMAP_BITS) | (i >> (self.slot_order - REMAP_BITS))) & mask) as usize
    }

    /// Takes an index out of the ring, or `None` if it is empty. Lock-free.
    #[inline]
    pub fn pop(&self) -> Option<usize> {
        if read_threshold(&self.threshold) < 0 {
            return None;
        }
        loop {
            let head = self.head.fetch_add(1, SC);
            if let Some(index) = self.take_at(head) {
                return Some(index);
            }
            // Nothing for us at this position. Is the ring empty?
            let tail = read(&self.tail);
            if !before(head.wrapping_add(1), tail) {
                self.catch_up(tail, head.wrapping_add(1));
                self.threshold.fetch_sub(1, SC);
                return None;
            }
            if self.threshold.fetch_sub(1, SC) <= 0 {
                return None;
            }
        }
    }

    /// A consumer's step at position `head`, which this thread alone took
    /// from `head`: takes the index written for this position, or marks the
    /// slot so that no producer can fill it for this position any more (its
    /// cycle moved on, or its safe bit cleared). `None`: nothing here.
    // Under loom EMPTY_SLOT_REREADS is 0, which makes its test always false.
    #[cfg_attr(loom, allow(clippy::absurd_extreme_comparisons))]
    #[inline]
    fn take_at(&self, head: u64) -> Option<usize> {
        let safe = self.safe_bit();
        let low = self.low_mask();
        let my_cycle = self.cycle_tag(head);
        let slot = &self.slots[self.slot_of(head)];
        let mut rereads = 0;
        let mut entry = read(slot);
        loop {
            let entry_cycle = entry | low;
            if entry_cycle == my_cycle {
                // Our entry: take the index, leave ⊥ with the same cycle.
                slot.fetch_or(self.index_mask(), SC);
                return Some((entry & self.index_mask()) as usize);
            }
            let replacement = if (entry | safe) != entry_cycle {
                // Holds an index of another cycle. If older, its consumer
                // is late: clear the safe bit so producers skip this slot.
                let unsafe_entry = entry & !safe;
                if unsafe_entry == entry {
                    break;
                }
                unsafe_entry
            } else {
                // Empty. If a producer has taken this position (tail is
                // past it), it is about to fill the slot: wait a moment
                // rather than give the position up. If none has, the ring
                // is simply empty here and waiting would only add latency.
                if rereads < EMPTY_SLOT_REREADS && before(head, read(&self.tail)) {
                    rereads += 1;
                    std::hint::spin_loop();
                    entry = read(slot);
                    continue;
                }
                // Advance the slot to our cycle (keeping its safe bit) so
                // that the producer of our position fails and moves on.
                my_cycle ^ (!entry & safe)
            };
            if !before(entry_cycle, my_cycle) {
                break;
            }
            match slot.compare_exchange_weak(entry, replacement, SC, SC) {
                Ok(_) => break,
                Err(current) => entry = current,
            }
        }
        None
    }

    /// Whether the ring is empty, by reads alone: the threshold says so, or
    /// no producer has taken a position that no consumer has taken.
    ///
    /// `true` means the ring held no index that a new [`pop`](Self::pop)
    /// could take at the moment `tail` was read: every index then in the ring
    /// sat at a position some consumer had already claimed. A failed `pop`
    /// writes `head`, a slot, `tail` and the threshold, lines that producers
    /// need; a waiting consumer that polls with this instead leaves them alone
    /// until there is something to take. `false` may be stale at once.
    ///
    /// ```
    /// let ring = iobuf_pool::sync::IndexRing::full(1).unwrap();
    /// assert!(!ring.looks_empty());
    /// let i = ring.pop().unwrap();
    /// assert!(ring.looks_empty());
    /// // SAFETY: `i` was just popped.
    /// unsafe { ring.push(i) }.unwrap();
    /// assert!(!ring.looks_empty());
    /// ```
    pub fn looks_empty(&self) -> bool {
        if read_threshold(&self.threshold) < 0 {
            return true;
        }
        // head first: it only grows, so a tail read later that is not past
        // it was not past the head at the moment it was read either.
        let head = read(&self.head);
        !before(head, read(&self.tail))
    }

    /// About how many indices the ring holds, by two reads (`tail - head`,
    /// clamped to `0..=capacity`): exact when nothing runs at once, a
    /// snapshot otherwise. For statistics.
    #[inline]
    pub(crate) fn approx_len(&self) -> usize {
        let head = read(&self.head);
        let tail = read(&self.tail);
        if before(head, tail) {
            (tail.wrapping_sub(head) as usize).min(self.capacity)
        } else {
            0
        }
    }

    /// Pulls `tail` up to `head` after consumers ran past it, so that the
    /// next producer does not fill a position nobody will read.
    fn catch_up(&self, mut tail: u64, mut head: u64) {
        while let Err(current) = self.tail.compare_exchange_weak(tail, head, SC, SC) {
            tail = current;
            head = read(&self.head);
            if !before(tail, head) {
                break;
            }
        }
    }

    /// Puts `index` back. Lock-free.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`]: `index >= capacity` (the ring is left
    /// untouched).
    ///
    /// # Safety
    /// `index` is out of the ring: [`pop`](Self::pop) handed it out (or the
    /// ring started [`empty`](Self::empty) and it was never pushed), and it
    /// has not been pushed since. So the ring never holds an index twice
    /// (which would hand one index to two owners) nor more than `capacity`
    /// indices (where `push` could spin forever). Breaking this is not
    /// memory-unsafe inside the ring itself, but every pool built on it
    /// relies on it for exclusive access to its buffers.
    #[inline]
    pub unsafe fn push(&self, index: usize) -> Result<(), Error> {
        if index >= self.capacity {
            return Err(Error::IndexOutOfRange {
                index,
                capacity: self.capacity,
            });
        }
        self.put_retrying(index);
        self.reset_threshold();
        Ok(())
    }

    /// Takes up to `out.len()` indices out of the ring into the front of
    /// `out` and returns how many it took. Lock-free.
    ///
    /// One fetch-and-add on `head` claims a run of positions for the whole
    /// batch (at most `capacity` positions a round; see the module docs,
    /// "Batches"), so a batch costs one contended read-modify-write on
    /// `head` instead of one per index. It returns fewer than `out.len()`
    /// only when it found the ring empty on the way, as a [`pop`](Self::pop)
    /// returning `None` would: 0 means the ring was empty. `out[got..]` is
    /// left as it was.
    ///
    /// ```
    /// use iobuf_pool::sync::IndexRing;
    /// let ring = IndexRing::full(4).unwrap();
    /// let mut out = [0; 3];
    /// assert_eq!(ring.pop_many(&mut out), 3);
    /// // More asked for than is left: only what there is.
    /// let mut rest = [0; 8];
    /// assert_eq!(ring.pop_many(&mut rest), 1);
    /// let mut all = [out[0], out[1], out[2], rest[0]];
    /// all.sort();
    /// assert_eq!(all, [0, 1, 2, 3]);
    /// assert_eq!(ring.pop_many(&mut rest), 0);
    /// ```
    pub fn pop_many(&self, out: &mut [usize]) -> usize {
        let mut got = 0;
        // Positions the next round claims; 0: start afresh, as a new pop
        // would. Always got + want <= out.len().
        let mut want = 0;
        while got < out.len() {
            if want == 0 {
                if read_threshold(&self.threshold) < 0 {
                    break;
                }
                want = (out.len() - got).min(self.capacity);
            }
            let first = self.head.fetch_add(want as u64, SC);
            let end = first.wrapping_add(want as u64);
            // Every position of the run is ours and gets the consumer's step,
            // taken or not: a position left alone could still be filled by
            // its producer, and nobody would read it.
            let mut missed = 0;
            for k in 0..want as u64 {
                match self.take_at(first.wrapping_add(k)) {
                    Some(index) => {
                        out[got] = index;
                        got += 1;
                    }
                    None => missed += 1,
                }
            }
            if missed == 0 {
                want = 0;
                continue;
            }
            // Nothing at `missed` positions. As `missed` pops would: is the
            // ring empty? One threshold decrement per empty position.
            let tail = read(&self.tail);
            if !before(end, tail) {
                self.catch_up(tail, end);
                self.threshold.fetch_sub(missed as i64, SC);
                break;
            }
            let left = self.threshold.fetch_sub(missed as i64, SC);
            if left <= 0 {
                break;
            }
            // Of `missed` pops decrementing one after another from `left`,
            // those that saw it positive go on, each with a new position.
            want = missed.min(left as usize);
        }
        got
    }

    /// Puts every index of `indices` back. Lock-free.
    ///
    /// One fetch-and-add on `tail` claims a run of `indices.len()` positions
    /// for the whole batch; an index whose position turns out unusable
    /// (a consumer passed it) goes in alone at a fresh position, as
    /// [`push`](Self::push) does (see the module docs, "Batches").
    ///
    /// # Errors
    /// With the ring left untouched: an index `>= capacity`
    /// ([`Error::IndexOutOfRange`], the first one), or more indices than
    /// `capacity` ([`Error::CapacityTooLarge`]), which cannot all be out of
    /// the ring at once.
    ///
    /// # Safety
    /// Every index of `indices` is out of the ring, as [`push`](Self::push)
    /// requires of its one index, and appears in `indices` at most once.
    /// (A slice longer than `capacity` is refused before anything is read
    /// from it, so that error never depends on this contract.)
    ///
    /// ```
    /// use iobuf_pool::sync::IndexRing;
    /// let ring = IndexRing::empty(8).unwrap();
    /// // SAFETY: the ring started empty and 5, 1, 7 are distinct.
    /// unsafe { ring.push_many(&[5, 1, 7]) }.unwrap();
    /// let mut out = [0; 8];
    /// assert_eq!(ring.pop_many(&mut out), 3);
    /// assert_eq!(out[..3], [5, 1, 7]);
    /// // SAFETY: 2 and 8 are out of the ring (8 is out of range: an error).
    /// assert!(unsafe { ring.push_many(&[2, 8]) }.is_err());
    /// assert_eq!(ring.pop(), None); // and 2 did not go in either
    /// ```
    pub unsafe fn push_many(&self, indices: &[usize]) -> Result<(), Error> {
        if indices.len() > self.capacity {
            return Err(Error::CapacityTooLarge {
                requested: indices.len(),
                max: self.capacity,
            });
        }
        if let Some(&index) = indices.iter().find(|&&i| i >= self.capacity) {
            return Err(Error::IndexOutOfRange {
                index,
                capacity: self.capacity,
            });
        }
        if indices.is_empty() {
            return Ok(());
        }
        let first = self.tail.fetch_add(indices.len() as u64, SC);
        for (k, &index) in indices.iter().enumerate() {
            if !self.put_at(first.wrapping_add(k as u64), index) {
                self.put_retrying(index);
            }
        }
        // Once, after the last index is in: as k pushes that each stalled
        // between their slot write and their reset.
        self.reset_threshold();
        Ok(())
    }

    /// Puts `index` at fresh tail positions, one at a time, until a slot
    /// takes it.
    fn put_retrying(&self, index: usize) {
        loop {
            let tail = self.tail.fetch_add(1, SC);
            if self.put_at(tail, index) {
                return;
            }
        }
    }

    /// A producer's step at position `tail`, which this thread alone took
    /// from `tail`: writes `index` into the position's slot if the slot is
    /// usable for it (empty, of an older cycle, and safe or with no consumer
    /// heading for it). `false`: unusable; the index needs a new position.
    #[inline]
    fn put_at(&self, tail: u64, index: usize) -> bool {
        let safe = self.safe_bit();
        let low = self.low_mask();
        let index_bits = index as u64 ^ self.index_mask();
        let my_cycle = self.cycle_tag(tail);
        let slot = &self.slots[self.slot_of(tail)];
        let mut entry = read(slot);
        loop {
            let entry_cycle = entry | low;
            let older = before(entry_cycle, my_cycle);
            let empty_and_safe = entry == entry_cycle;
            // An unsafe empty slot may be used only if no consumer can
            // still be heading for it: head has not passed our position.
            let empty_unsafe_but_usable =
                entry == entry_cycle ^ safe && !before(tail, read(&self.head));
            if !(older && (empty_and_safe || empty_unsafe_but_usable)) {
                return false;
            }
            // my_cycle has index bits all ones; xor puts `index` there.
            match slot.compare_exchange_weak(entry, my_cycle ^ index_bits, SC, SC) {
                Ok(_) => return true,
                Err(current) => entry = current,
            }
        }
    }

    /// Sets the threshold back to `3n - 1` after an index went in (a store
    /// only when it is not already there).
    #[inline]
    fn reset_threshold(&self) {
        let max = self.threshold_max();
        if read_threshold(&self.threshold) != max {
            write_threshold(&self.threshold, max);
        }
    }
}

impl std::fmt::Debug for IndexRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexRing")
            .field("capacity", &self.capacity)
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Pushes an index the test popped (or never pushed to an empty ring).
    fn give(ring: &IndexRing, i: usize) -> Result<(), Error> {
        // SAFETY: every caller passes an index out of the ring.
        unsafe { ring.push(i) }
    }

    fn give_many(ring: &IndexRing, indices: &[usize]) -> Result<(), Error> {
        // SAFETY: every caller passes distinct indices out of the ring (or
        // more than `capacity` of them, which is refused first).
        unsafe { ring.push_many(indices) }
    }

    fn drain(ring: &IndexRing) -> Vec<usize> {
        std::iter::from_fn(|| ring.pop()).collect()
    }

    #[test]
    fn starts_full_with_every_index_once() {
        for cap in [1, 2, 3, 4, 7, 16, 100, 1024] {
            let ring = IndexRing::full(cap).unwrap();
            let mut got = drain(&ring);
            got.sort();
            assert_eq!(got, (0..cap).collect::<Vec<_>>(), "capacity {cap}");
        }
    }

    #[test]
    fn empty_ring_pops_nothing_until_pushed() {
        let ring = IndexRing::empty(4).unwrap();
        assert_eq!(ring.pop(), None);
        give(&ring, 2).unwrap();
        assert_eq!(ring.pop(), Some(2));
        assert_eq!(ring.pop(), None);
    }

    #[test]
    fn is_fifo_single_threaded() {
        let ring = IndexRing::empty(8).unwrap();
        for i in [5, 1, 7, 0] {
            give(&ring, i).unwrap();
        }
        assert_eq!(drain(&ring), vec![5, 1, 7, 0]);
    }

    #[test]
    fn survives_many_laps() {
        // Far more operations than slots, so cycles wrap the slot array many
        // times, and pops on an empty ring push head past tail.
        for cap in [1, 2, 3, 5, 8, 33] {
            let ring = IndexRing::full(cap).unwrap();
            let mut held = Vec::new();
            let mut rng = 0x2545_F491_4F6C_DD1Du64;
            for _ in 0..if cfg!(miri) { 150 } else { 5000 } {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                if rng % 3 != 0 {
                    match ring.pop() {
                        Some(i) => {
                            assert!(!held.contains(&i), "index {i} handed out twice");
                            held.push(i);
                        }
                        None => assert_eq!(held.len(), cap, "pop failed with free indices"),
                    }
                } else if !held.is_empty() {
                    let i = held.swap_remove((rng as usize / 3) % held.len());
                    give(&ring, i).unwrap();
                }
            }
            let mut all: Vec<usize> = drain(&ring);
            all.extend(held);
            all.sort();
            assert_eq!(all, (0..cap).collect::<Vec<_>>());
        }
    }

    #[test]
    fn out_of_range_push_is_an_error_and_changes_nothing() {
        let ring = IndexRing::full(3).unwrap();
        assert_eq!(
            give(&ring, 3),
            Err(Error::IndexOutOfRange {
                index: 3,
                capacity: 3
            })
        );
        let mut got = drain(&ring);
        got.sort();
        assert_eq!(got, vec![0, 1, 2]);
    }

    #[test]
    fn empty_batches_touch_nothing() {
        let ring = IndexRing::full(3).unwrap();
        let (head, tail) = (ring.head.load(SC), ring.tail.load(SC));
        assert_eq!(ring.pop_many(&mut []), 0);
        assert_eq!(give_many(&ring, &[]), Ok(()));
        assert_eq!((ring.head.load(SC), ring.tail.load(SC)), (head, tail));
        let mut got = drain(&ring);
        got.sort();
        assert_eq!(got, vec![0, 1, 2]);
    }

    #[test]
    fn a_batch_takes_one_fetch_and_add() {
        let ring = IndexRing::full(8).unwrap();
        let mut out = [usize::MAX; 5];
        assert_eq!(ring.pop_many(&mut out), 5);
        assert_eq!(ring.head.load(SC), 5, "one run of 5 positions");
        assert_eq!(out, [0, 1, 2, 3, 4]);
        let tail = ring.tail.load(SC);
        give_many(&ring, &[4, 2, 0]).unwrap();
        assert_eq!(ring.tail.load(SC), tail + 3, "one run of 3 positions");
        assert_eq!(drain(&ring), vec![5, 6, 7, 4, 2, 0]);
    }

    #[test]
    fn a_batch_larger_than_the_ring_gets_what_there_is() {
        for cap in [1, 2, 3, 4, 7, 16] {
            let ring = IndexRing::full(cap).unwrap();
            let mut out = vec![usize::MAX; 3 * cap + 1];
            assert_eq!(ring.pop_many(&mut out), cap, "capacity {cap}");
            assert!(
                out[cap..].iter().all(|&i| i == usize::MAX),
                "tail of out untouched"
            );
            let mut got = out[..cap].to_vec();
            got.sort();
            assert_eq!(got, (0..cap).collect::<Vec<_>>());
            assert_eq!(ring.pop_many(&mut out), 0);
            assert_eq!(ring.pop(), None);
            assert_eq!(
                ring.tail.load(SC),
                ring.head.load(SC),
                "catch_up pulled tail up"
            );
            // The consumers ran past tail; catch_up must leave the next
            // pushes reachable.
            give_many(&ring, &got).unwrap();
            let mut again = drain(&ring);
            again.sort();
            assert_eq!(again, got, "capacity {cap}");
        }
    }

    #[test]
    fn a_partial_batch_leaves_the_ring_usable() {
        let ring = IndexRing::full(4).unwrap();
        let a = ring.pop().unwrap();
        let b = ring.pop().unwrap();
        let mut out = [0; 4];
        assert_eq!(ring.pop_many(&mut out), 2);
        give(&ring, b).unwrap();
        assert_eq!(ring.pop(), Some(b));
        give_many(&ring, &[a, b]).unwrap();
        assert_eq!(ring.pop_many(&mut out), 2);
        assert_eq!(out[..2], [a, b]);
    }

    #[test]
    fn batch_errors_change_nothing() {
        let ring = IndexRing::empty(3).unwrap();
        assert_eq!(
            give_many(&ring, &[0, 3, 1]),
            Err(Error::IndexOutOfRange {
                index: 3,
                capacity: 3
            })
        );
        assert_eq!(
            give_many(&ring, &[0, 1, 2, 0]),
            Err(Error::CapacityTooLarge {
                requested: 4,
                max: 3
            })
        );
        assert_eq!(ring.tail.load(SC), 0);
        assert_eq!(ring.pop(), None);
        give_many(&ring, &[2, 0, 1]).unwrap();
        assert_eq!(drain(&ring), vec![2, 0, 1]);
    }

    #[test]
    fn batches_survive_many_laps() {
        // Batches and single operations mixed over many laps, with pops on
        // an empty ring, against a model of what is held.
        for cap in [1, 2, 3, 5, 8, 33] {
            let ring = IndexRing::full(cap).unwrap();
            let mut held: Vec<usize> = Vec::new();
            let mut rng = 0x2545_F491_4F6C_DD1Du64;
            let mut out = vec![0; cap + 2];
            for _ in 0..if cfg!(miri) { 100 } else { 5000 } {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let k = (rng >> 32) as usize % (cap + 2) + 1;
                match rng % 4 {
                    0 => {
                        let free = cap - held.len();
                        let got = ring.pop_many(&mut out[..k]);
                        assert_eq!(got, k.min(free), "capacity {cap}: batch of {k}");
                        for &i in &out[..got] {
                            assert!(!held.contains(&i), "index {i} handed out twice");
                            held.push(i);
                        }
                    }
                    1 => {
                        let k = k.min(held.len());
                        let back: Vec<usize> = held.drain(..k).collect();
                        give_many(&ring, &back).unwrap();
                    }
                    2 => match ring.pop() {
                        Some(i) => {
                            assert!(!held.contains(&i), "index {i} handed out twice");
                            held.push(i);
                        }
                        None => assert_eq!(held.len(), cap, "pop failed with free indices"),
                    },
                    _ => {
                        if let Some(i) = held.pop() {
                            give(&ring, i).unwrap();
                        }
                    }
                }
            }
            let mut all: Vec<usize> = drain(&ring);
            all.extend(held);
            all.sort();
            assert_eq!(all, (0..cap).collect::<Vec<_>>());
        }
    }

    #[test]
    fn bad_capacities_are_errors() {
        assert_eq!(IndexRing::full(0).unwrap_err(), Error::ZeroCapacity);
        assert!(matches!(
            IndexRing::full(MAX_CAPACITY + 1),
            Err(Error::CapacityTooLarge { .. })
        ));
    }

    #[test]
    fn metadata_is_16_bytes_per_ring_index() {
        let ring = IndexRing::full(1024).unwrap();
        assert_eq!(ring.slot_bytes(), 1024 * 16);
    }

    #[test]
    fn slot_mapping_is_a_permutation_that_spreads_neighbours() {
        for cap in [1, 2, 4, 8, 64, 1000] {
            let ring = IndexRing::empty(cap).unwrap();
            let n = ring.slots.len();
            let mut seen = vec![false; n];
            for p in 0..n as u64 {
                let s = ring.slot_of(p);
                assert!(!seen[s]);
                seen[s] = true;
            }
            if ring.slot_order > REMAP_BITS {
                let line = 1usize << REMAP_BITS;
                assert_ne!(ring.slot_of(0) / line, ring.slot_of(1) / line);
            }
        }
    }
}
