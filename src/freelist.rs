//! The free indices of a pool: a one-entry reuse slot in front of the ring.
//!
//! The ring ([`IndexRing`]) costs four locked read-modify-writes per get and
//! put: a fetch-and-add on `head` and on `tail`, and an update of each slot.
//! That is the price of its scaling (no operation ever retries on another
//! thread's success), and it is twice what a CAS-based queue such as
//! crossbeam's `ArrayQueue` pays when nobody contends. Pools are mostly
//! used the uncontended way: a thread takes a buffer, fills it, hands it to
//! the kernel and gives it back.
//!
//! So a pool keeps one free index in a shared word, the *reuse slot*, and a
//! get tries that word before the ring. A put that finds the slot empty parks
//! its index there with one CAS; a get that finds it full empties it with one
//! swap: two locked instructions per get and put. A put that finds the slot
//! full goes to the ring, so the slot holds the first index returned since it
//! was last emptied. In the commonest pattern, a thread that takes a buffer
//! and gives it back before taking the next, that is the buffer it just
//! returned, still in this core's cache. When the slot is taken (or already
//! full) the operation goes to the ring, so under contention the slot serves
//! what it can and the ring the rest.
//!
//! Every free index is in exactly one of the two places, and moves between
//! them only through a holder (get, then put): a put makes an index free by
//! one successful CAS or one ring push, a get takes it by one swap or one
//! ring pop. Every get looks at the slot, so a get that starts after an index
//! was parked there finds it (or another free index). A get that finds the
//! ring empty looks at the slot once more before it reports the pool dry,
//! which catches an index parked while it was in the ring and saves the
//! caller a retry; a get that overlaps puts and gets of other threads may
//! still report the pool dry while an index is moving between the two
//! places, as any concurrent "empty" answer may be stale.
//!
//! The reuse slot changes which free buffer a get receives, not how many
//! are free; [`FreeList::fifo`] leaves it out for callers who want the
//! ring's order, and for measuring the ring alone. A per-thread cache
//! refills from the ring first and then the slot, and flushes straight to
//! the ring (its batches are not the single get the slot is for).

use crate::ring::IndexRing;
use crate::Error;
use crossbeam_utils::CachePadded;

#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicUsize, Ordering};

/// The reuse slot's "no index" value; no ring index comes near it.
const EMPTY: usize = usize::MAX;

/// A pool's free indices: the reuse slot and the ring behind it.
pub(crate) struct FreeList {
    /// A free index, or [`EMPTY`]: the first one put since a get last
    /// emptied it. An index is never both here and in `ring`. A successful
    /// CAS into it releases the returner's writes to the buffer; the swap
    /// that takes it acquires them. Every access is `SeqCst`, as the wait
    /// list's no-lost-wake-up argument needs of the write that makes an
    /// index free and the reads that find it (a returner writes the slot
    /// then reads the waiter count; a waiter writes the count then reads
    /// the slot). On x86-64 that costs nothing: the CAS and swap are locked
    /// instructions whatever their ordering and a `SeqCst` load is a plain
    /// load. `None` when the list was built without it.
    reuse: Option<CachePadded<AtomicUsize>>,
    /// Every other free index.
    ring: IndexRing,
}

impl FreeList {
    /// A list holding every index `0..capacity`, with a reuse slot.
    pub(crate) fn full(capacity: usize) -> Result<Self, Error> {
        Ok(FreeList {
            reuse: Some(CachePadded::new(AtomicUsize::new(EMPTY))),
            ring: IndexRing::full(capacity)?,
        })
    }

    /// A list holding every index `0..capacity`, without a reuse slot: every
    /// get and put goes through the ring, in its order.
    pub(crate) fn fifo(capacity: usize) -> Result<Self, Error> {
        Ok(FreeList {
            reuse: None,
            ring: IndexRing::full(capacity)?,
        })
    }

    /// The number of indices it manages.
    pub(crate) fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// About how many indices are free (the ring's
    /// [`approx_len`](IndexRing::approx_len) plus the slot): a snapshot.
    #[inline]
    pub(crate) fn approx_free(&self) -> usize {
        let parked = match &self.reuse {
            Some(slot) => usize::from(slot.load(Ordering::Relaxed) != EMPTY),
            None => 0,
        };
        (self.ring.approx_len() + parked).min(self.capacity())
    }

    /// Whether it has a reuse slot.
    pub(crate) fn has_reuse_slot(&self) -> bool {
        self.reuse.is_some()
    }

    /// Takes a free index, or `None` if there is none in the slot or the ring.
    #[inline]
    pub(crate) fn pop(&self) -> Option<usize> {
        // A second look at the slot after a dry ring: a put may have parked
        // an index there since the first.
        self.take_parked()
            .or_else(|| self.ring.pop())
            .or_else(|| self.take_parked())
    }

    /// [`pop`](Self::pop), calling `from_ring` after an index came from the
    /// ring (not the slot): the pool's high-water mark looks at the ring's
    /// positions only then, so a slot hit reads no shared line.
    #[cfg(not(loom))]
    #[inline]
    pub(crate) fn pop_noting_ring(&self, from_ring: impl FnOnce()) -> Option<usize> {
        if let Some(index) = self.take_parked() {
            return Some(index);
        }
        match self.ring.pop() {
            Some(index) => {
                from_ring();
                Some(index)
            }
            None => self.take_parked(),
        }
    }

    /// Takes the parked index, if the list has a slot and it holds one. The
    /// plain read first keeps a look at an empty slot from writing its line,
    /// which under contention is most looks.
    #[inline(always)]
    pub(crate) fn take_parked(&self) -> Option<usize> {
        let slot = self.reuse.as_ref()?;
        if slot.load(Ordering::SeqCst) == EMPTY {
            return None;
        }
        match slot.swap(EMPTY, Ordering::SeqCst) {
            EMPTY => None,
            index => Some(index),
        }
    }

    /// Whether the list is empty, by reads alone (the slot, then
    /// [`IndexRing::looks_empty`]); `false` may be stale at once. Waiting
    /// gets retry only when this says no, so that a waiter does not slow
    /// the threads that are giving indices back.
    #[inline]
    pub(crate) fn looks_empty(&self) -> bool {
        let slot_empty = match &self.reuse {
            Some(slot) => slot.load(Ordering::Relaxed) == EMPTY,
            None => true,
        };
        slot_empty && self.ring.looks_empty()
    }

    /// Gives back an index the caller took from this list and owns.
    ///
    /// # Safety
    /// `index < capacity`, and the caller owns it: it came out of this list
    /// and is in it neither now nor through anyone else's push.
    #[inline]
    pub(crate) unsafe fn push(&self, index: usize) {
        if !self.try_park(index) {
            // SAFETY: forwarded.
            unsafe { self.push_to_ring(index) }
        }
    }

    /// Parks `index` in the reuse slot if the list has one and it is empty;
    /// whether it did (then the index is the list's). The caller owns
    /// `index`, as for [`push`](Self::push), and keeps it on `false`.
    #[inline(always)]
    pub(crate) fn try_park(&self, index: usize) -> bool {
        debug_assert!(index < self.capacity());
        match &self.reuse {
            Some(slot) => {
                slot.load(Ordering::SeqCst) == EMPTY
                    && slot
                        .compare_exchange(EMPTY, index, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
            }
            None => false,
        }
    }

    /// Gives back an owned index to the ring (past the slot).
    ///
    /// # Safety
    /// As [`push`](Self::push).
    pub(crate) unsafe fn push_to_ring(&self, index: usize) {
        // SAFETY: the caller owns `index`, out of the slot and the ring.
        // Cannot fail: the index is in range (the caller's contract).
        let _ = unsafe { self.ring.push(index) };
    }

    /// Takes up to `n` free indices from the ring (then the slot) into `out`,
    /// for a per-thread cache's refill: one [`IndexRing::pop_many`] (one
    /// fetch-and-add on the ring's head for the batch) into the vector's
    /// spare capacity, so it never allocates; `n` is clamped to that spare
    /// capacity. Returns how many it took.
    pub(crate) fn pop_into(&self, out: &mut Vec<usize>, n: usize) -> usize {
        let before = out.len();
        let n = n.min(out.capacity() - before);
        // Within the capacity: no allocation.
        out.resize(before + n, 0);
        let got = self.ring.pop_many(&mut out[before..]);
        out.truncate(before + got);
        if got < n {
            out.extend(self.take_parked());
        }
        out.len() - before
    }

    /// Takes up to `out.len()` free indices into `out` (the ring in one
    /// [`IndexRing::pop_many`], then the slot); returns how many.
    pub(crate) fn pop_many_into(&self, out: &mut [usize]) -> usize {
        let mut got = self.ring.pop_many(out);
        if got < out.len() {
            if let Some(index) = self.take_parked() {
                out[got] = index;
                got += 1;
            }
        }
        got
    }

    /// Gives back owned indices straight to the ring with one
    /// [`IndexRing::push_many`] (a cache's batch flush: the reuse slot is
    /// for the next single get, not a batch).
    ///
    /// # Safety
    /// Every index is one the caller owns, as for [`push`](Self::push), and
    /// appears at most once.
    pub(crate) unsafe fn push_many_to_ring(&self, indices: &[usize]) {
        // SAFETY: forwarded from the caller. Cannot fail: the indices are
        // in range and, all being out of the list, at most capacity many.
        let _ = unsafe { self.ring.push_many(indices) };
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Gives back an index the test took from `list`.
    fn give(list: &FreeList, i: usize) {
        // SAFETY: every caller below passes an index it popped from `list`
        // and holds.
        unsafe { list.push(i) }
    }

    fn drain(list: &FreeList) -> Vec<usize> {
        let mut got: Vec<usize> = std::iter::from_fn(|| list.pop()).collect();
        got.sort();
        got
    }

    #[test]
    fn starts_full_and_hands_each_index_out_once() {
        let big = if cfg!(miri) { 64 } else { 1024 };
        for cap in [1, 2, 3, big] {
            for list in [FreeList::full(cap).unwrap(), FreeList::fifo(cap).unwrap()] {
                assert_eq!(drain(&list), (0..cap).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn a_parked_index_goes_out_first() {
        let list = FreeList::full(8).unwrap();
        let a = list.pop().unwrap();
        let b = list.pop().unwrap();
        give(&list, b);
        give(&list, a); // the slot is full: a goes to the ring
        assert_eq!(list.pop(), Some(b));
        // Without the slot the ring's order holds: b was pushed first.
        let fifo = FreeList::fifo(8).unwrap();
        let a = fifo.pop().unwrap();
        let b = fifo.pop().unwrap();
        give(&fifo, b);
        give(&fifo, a);
        let order: Vec<usize> = std::iter::from_fn(|| fifo.pop()).collect();
        assert_eq!(order.len(), 8);
        assert_eq!(order[6..], [b, a]);
        assert!(list.has_reuse_slot() && !fifo.has_reuse_slot());
    }

    #[test]
    fn a_dry_ring_still_finds_the_parked_index() {
        let list = FreeList::full(2).unwrap();
        let a = list.pop().unwrap();
        let b = list.pop().unwrap();
        assert_eq!(list.pop(), None);
        give(&list, a); // parked in the slot
        assert_eq!(list.pop(), Some(a));
        give(&list, a);
        give(&list, b); // slot full: b to the ring
        let mut out = Vec::with_capacity(4); // pop_into fills spare capacity only
        assert_eq!(list.pop_into(&mut out, 4), 2);
        out.sort();
        assert_eq!(out, vec![a, b]);
        assert_eq!(list.pop(), None);
    }

    #[test]
    fn looks_empty_exactly_when_nothing_is_free() {
        for list in [FreeList::full(3).unwrap(), FreeList::fifo(3).unwrap()] {
            let mut held = Vec::new();
            while !list.looks_empty() {
                held.push(list.pop().expect("looked non-empty but gave nothing"));
            }
            assert_eq!(held.len(), 3);
            assert_eq!(list.pop(), None); // runs head past tail
            assert!(list.looks_empty());
            for i in held {
                give(&list, i); // the first one parks in the slot
                assert!(!list.looks_empty());
            }
            assert_eq!(drain(&list), vec![0, 1, 2]);
        }
    }
}
