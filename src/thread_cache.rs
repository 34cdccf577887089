//! The transparent per-thread cache of a pool built with
//! [`BufferPoolBuilder::thread_cache`](crate::BufferPoolBuilder::thread_cache).
//!
//! Each thread that uses such a pool gets a *magazine* of its own (after
//! Bonwick and Adams, "Magazines and Vmem", USENIX 2001): a small stack of
//! free indices that only that thread touches. A get that finds an index
//! there and a put that finds room there make no atomic read-modify-write
//! and write no shared line. A get on an empty magazine refills half of it
//! from the pool's free list with one batch pop
//! ([`IndexRing::pop_many`](crate::sync::IndexRing::pop_many)); a put to a full
//! one first flushes half of it with one batch push. The user holds no
//! cache object: the pool finds the calling thread's magazine itself.
//!
//! # Finding the magazine
//!
//! Two thread-locals. `CURRENT` is a `Cell` holding the pool id and
//! magazine this thread used last; it has no destructor, so reading it is
//! a plain load at a fixed offset from the thread pointer and it can never
//! be "already destroyed". `OWNED` holds (`Arc`s of) every magazine the
//! thread has, and its destructor runs at thread exit. A get or put whose
//! pool id matches `CURRENT` uses that magazine directly; otherwise it
//! looks in `OWNED`, registering a new magazine with the pool on the
//! thread's first use of it. Pool ids are unique in the process and never
//! reused, so a stale `CURRENT` of a dropped pool is never matched.
//!
//! # Invariants
//!
//! * A magazine's slots are touched by one party at a time: its owner
//!   thread inside a *section* that found the magazine unclaimed; a
//!   *thief* (a waiting get draining the caches) that claimed it, under
//!   the registry lock; or a *reclaimer*, under the registry lock, once it
//!   is `ORPHANED` (the owner's `Release` store of `ORPHANED` and the
//!   reclaimer's `Acquire` load order the two). The next section says how
//!   the owner and a thief are ordered.
//! * `CURRENT` points only at a magazine that `OWNED` holds an `Arc` of
//!   (it is cleared before `OWNED` drops or prunes one), or at its pool's
//!   shared magazine of size 0, which lives as long as the pool; and it is
//!   followed only by a call of the pool whose id it names, which is alive.
//! * Every index in a magazine's slots is owned by it: out of the free
//!   list, in no guard or token, in no other magazine.
//! * The magazines of a pool together hold at most the pool's cache budget
//!   (half its buffers, shared with `LocalCache`s), so at least half the
//!   buffers always circulate through the shared free list.
//!
//! # Taking from a live thread
//!
//! A get that must wait may not wait for buffers that sit free in another
//! thread's magazine: that thread may be parked, blocked in a system call,
//! or never touch the pool again. So the waiting get drains every
//! magazine ([`ThreadCaches::drain`]), and the owner's path must stay
//! plain loads and stores (no read-modify-write, no fence). The protocol,
//! per magazine, with two fields:
//!
//! * `word`, written only by the owner (plain stores) while it lives: its
//!   `len`, its stock of references (src/pool/lifetime.rs) and a `busy`
//!   bit, set for the length of each *section* (every magazine method is
//!   one). Layout:
//!
//!   ```text
//!   63                               8 7            1   0
//!   +----------------------------------+--------------+----+
//!   |               len                |    stock     |busy|
//!   +----------------------------------+--------------+----+
//!   ```
//!
//! * `claim`, `OWNER` / `DRAINING` / `DRAINED` (and `CLOSING` / `CLOSED`
//!   when the pool's handle drops), written by a thief (CAS `OWNER →
//!   DRAINING`, store `DRAINED`) and by the owner (CAS `DRAINED → OWNER`,
//!   on a slow path).
//!
//! Owner, each section: load `word` (its own last store); store it with
//! `busy` set; the *light* fence; load `claim`; only if `OWNER`, touch the
//! slots; store the new `word` (`len` and stock updated, `busy` clear,
//! `Release`). A section that finds the magazine claimed touches nothing,
//! stores back the word it loaded, and passes the get or put to the shared
//! list. So a hit is two loads and two stores of the owner's own line:
//! one store opens the section, one closes it and writes the new `len`.
//!
//! Thief, under the registry lock: CAS every live magazine's `claim` from
//! `OWNER` to `DRAINING`; one *heavy* fence; then for each claimed one
//! wait until `word` reads with `busy` clear (`Acquire`), take
//! `slots[..len]` of that word to the ring, store `DRAINED` (`Release`).
//! The thief does not write `word`: a section that saw the claim may store
//! back a word it loaded before the take, so while the claim is not
//! `OWNER`, `len` is stale and nobody uses it. The owner's slow call that
//! finds `DRAINED` writes `len = 0` *before* its CAS back to `OWNER`, so
//! that `len` is true whenever the claim is `OWNER`; a later thief's claim
//! reads that CAS, so it reads the 0. (The stock is true throughout: the
//! thief leaves it to the magazine.) The closing handle and the
//! reclaimer of an exited thread's magazine read `len` only where they
//! found the claim `OWNER` ([`Magazine::holds`]).
//!
//! Why the slots have one party at a time: the light and heavy fences
//! (src/asymmetric_fence.rs: `membarrier` and a compiler fence on Linux,
//! two `SeqCst` fences elsewhere) act together as a `SeqCst` fence on both
//! sides of this store-then-load pair. So for each owner section, either
//! its load of `claim` sees `DRAINING` (the section touches nothing), or
//! the thief's load of `word` sees that section's `busy` or a later value;
//! then the thief waits for the section's closing store, whose `Release`
//! its `Acquire` reads, so the section's accesses happen before the
//! thief's. Sections that begin later see the claim until the owner's CAS
//! takes the magazine back, which reads the thief's `Release` of
//! `DRAINED`: the thief's accesses happen before the owner's next ones. A
//! section is a few instructions (or one lock-free batch of the ring): the
//! thief's wait for `busy` is short unless the owner is preempted inside
//! it, and an owner that is parked, blocked or exited is never inside one.
//!
//! The cost to the owner: two plain stores and one plain load of `claim`
//! per get or put, on its own line (before the word, a separate `busy`
//! flag made it three stores: 6.8 ns a pair against 5.2 now, in the lean
//! loop on the 2-core machine); after a drain, one CAS. Checked by the
//! loom models `drain_races_the_owner`,
//! `a_waiter_takes_a_parked_threads_cache` and
//! `a_drained_magazine_taken_back_races_a_second_drain`, the unit tests
//! `a_drain_takes_a_live_sleeping_threads_cache`,
//! `a_drained_threads_exit_gives_back_nothing_twice` and
//! `closing_after_a_drain_gives_back_nothing_twice`, and the stress
//! `drains_racing_busy_owners_hand_out_every_buffer_once`
//! (tests/no_stranding.rs). Why nothing settles in a magazine again while
//! the get waits: src/pool/cached.rs.
//!
//! # Thread exit
//!
//! `OWNED`'s destructor cannot give the indices back to the pool itself:
//! the pool may have been moved since (a `BufferPool` is a plain value) or
//! be being dropped on another thread. So it marks each magazine
//! `ORPHANED` and counts it in the pool's `orphans`, both reached through
//! `Arc`s rather than the pool's address. The pool reclaims orphaned
//! magazines (their indices go to the ring, their budget back) whenever a
//! get finds this thread's magazine and the free list dry, whenever a
//! thread registers a magazine, whenever a get starts to wait (the drain
//! reclaims them too), and in [`stats`](crate::BufferPool::stats). Nothing
//! is lost (loom: `exit_races_drain_*`, `two_exits_and_two_reclaims`); a
//! waiter is not left waiting for an exited thread's buffers, since its
//! first wait drains them (tests/no_stranding.rs, the `Exited` cases).
//!
//! # Under loom
//!
//! With `--cfg loom` the atomics, `Arc`s, the registry lock and the two
//! thread-locals are loom's (a model thread's exit then runs `OWNED`'s
//! destructor, the hand-over), and the slots are a `loom::cell::UnsafeCell`
//! reached only through [`Magazine::with_slots`], so the models in
//! `tests/loom_thread_cache.rs` check the invariants above on every
//! interleaving: a reclaimer's access to the slots that the owner's last
//! one does not happen-before is reported as a race.
//!
//! # Reentrancy
//!
//! A magazine method makes one short borrow of the slots and calls nothing
//! but the free list (a leaf: the ring and the reuse slot) while it holds
//! it. Waking waiters, which may call back into a get on this thread, and
//! every caller's code run after the borrow has ended.

use crate::freelist::FreeList;
use crossbeam_utils::CachePadded;
#[cfg(loom)]
use loom::cell::UnsafeCell;
#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::{Arc, Mutex};
#[cfg(not(loom))]
use std::cell::UnsafeCell;
use std::cell::{Cell, RefCell};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::PoisonError;
#[cfg(not(loom))]
use std::sync::{Arc, Mutex};

/// The owner thread uses the magazine.
const ACTIVE: u8 = 0;
/// The owner thread exited; the indices wait for a reclaimer.
const ORPHANED: u8 = 1;
/// A reclaimer gave the indices back; the magazine is empty and unused.
const RECLAIMED: u8 = 2;

/// `claim`: the owner may touch the slots (inside a section).
const OWNER: u8 = 0;
/// `claim`: a thief claimed the magazine and is taking its indices; the
/// owner keeps out.
const DRAINING: u8 = 1;
/// `claim`: a thief took the indices (the magazine is empty); the owner's
/// next slow call takes the magazine back.
const DRAINED: u8 = 2;
/// `claim`: the pool's handle is closing a magazine it found `DRAINED`.
const CLOSING: u8 = 4;
/// `claim`: the pool's handle dropped and took the indices and the stock
/// (src/pool/lifetime.rs); the owner keeps out for good.
const CLOSED: u8 = 3;

/// How many references an empty stock takes from the pool's count at a
/// time, and how many a full one gives back (src/pool/lifetime.rs).
/// Small under loom, so that the models reach a refill and a shed.
#[cfg(not(loom))]
pub(crate) const STOCK_BATCH: usize = 32;
#[cfg(loom)]
pub(crate) const STOCK_BATCH: usize = 1;
/// The most references a stock keeps.
const STOCK_MAX: usize = 2 * STOCK_BATCH;

/// A magazine's `word`: bit 0 `busy`, bits 1 to 7 the stock, the rest
/// `len`. One word, so that an owner's section is one store to open it and
/// one to close it, the second also writing the new `len` and stock.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Word(usize);

impl Word {
    /// Set by the owner for the length of each section.
    const BUSY: usize = 1;
    /// The stock's bits.
    const STOCK: usize = 0x7f << 1;
    /// Where `len` starts.
    const LEN_SHIFT: u32 = 8;
    /// The largest `len` (and so magazine size) a word holds.
    const MAX_LEN: usize = usize::MAX >> Self::LEN_SHIFT;

    #[inline(always)]
    fn len(self) -> usize {
        self.0 >> Self::LEN_SHIFT
    }

    #[inline(always)]
    fn stock(self) -> usize {
        (self.0 & Self::STOCK) >> 1
    }

    /// This word with `len` replaced (`busy` clear).
    #[inline(always)]
    fn with_len(self, len: usize) -> Word {
        debug_assert!(len <= Self::MAX_LEN);
        Word(len << Self::LEN_SHIFT | self.0 & Self::STOCK)
    }

    /// This word with the stock replaced (`busy` clear).
    #[inline(always)]
    fn with_stock(self, stock: usize) -> Word {
        debug_assert!(stock <= STOCK_MAX);
        Word(self.0 & !(Self::STOCK | Self::BUSY) | stock << 1)
    }
}

// The stock's seven bits hold every stock a magazine keeps.
const _: () = assert!(STOCK_MAX <= Word::STOCK >> 1);

/// One thread's free indices of one pool.
///
/// A magazine of size 0 (a thread that found the cache budget spent) is
/// one record per pool, shared by every such thread: each method returns
/// before it opens a section (writes its word), touches `slots` or writes
/// `len` when the size is 0, so the sharing is read-only.
pub(crate) struct Magazine {
    /// The pool it belongs to (a [`BufferPool`](crate::BufferPool) id).
    pool_id: u64,
    /// `slots[..len]` are free indices owned by this magazine; the slice's
    /// length is the magazine's size, the share of the pool's cache budget
    /// it reserved (0: every call passes through to the free list). See the
    /// module's invariants for who may touch it.
    slots: UnsafeCell<Box<[usize]>>,
    /// The owner's one word: `len` (how many of `slots` hold indices), the
    /// stock of references to the pool's core that this magazine holds
    /// for owned gets and drops (src/pool/lifetime.rs), and `busy`. See
    /// [`Word`]. Written only by the owner thread (plain loads and stores),
    /// or by a reclaimer once the owner has exited; others read it.
    word: AtomicUsize,
    /// `slots.len()`, kept apart so that reading it makes no reference
    /// into the slots.
    size: usize,
    /// `ACTIVE`, `ORPHANED` or `RECLAIMED`.
    state: AtomicU8,
    /// `OWNER`, `DRAINING`, `DRAINED`, `CLOSING` or `CLOSED`: whether a
    /// thief has claimed the magazine (the module's "Taking from a live
    /// thread").
    claim: AtomicU8,
    /// Whether the light fence may be a compiler fence
    /// (src/asymmetric_fence.rs), as chosen once per process before any
    /// magazine exists: read here, on the owner's line, rather than from a
    /// global.
    asymmetric: bool,
    /// The pool's count of orphaned magazines (shared with the pool's
    /// [`ThreadCaches`], reachable after the pool has moved or gone).
    orphans: Arc<AtomicUsize>,
}

// SAFETY: `slots` (the one non-Sync field) is touched by one thread at a
// time: its owner inside a section that found the magazine unclaimed; a
// thief holding the registry lock, after its claim, the heavy fence and an
// Acquire load of `busy` clear; or a reclaimer holding the registry lock
// after an Acquire load of ORPHANED, which the owner stored with Release
// after its last touch (module invariants). Indices are plain integers.
unsafe impl Sync for Magazine {}
// SAFETY: as above; moving the Arc to another thread (the registry's, or a
// drop at thread exit) moves no access to the slots with it.
unsafe impl Send for Magazine {}

/// What a put did with the index it was given.
pub(crate) enum Put {
    /// In the magazine.
    InCache,
    /// In the magazine, after half the magazine went to the ring: the
    /// caller must notify the pool's waiters (indices became shared-free).
    AfterFlush,
    /// Not kept (a magazine of size 0, a magazine a thief holds, or a
    /// return while someone waits): the caller returns it to the list.
    Passed,
}

impl Magazine {
    fn new(pool_id: u64, slots: Box<[usize]>, orphans: Arc<AtomicUsize>) -> Self {
        let size = slots.len();
        Magazine {
            pool_id,
            slots: UnsafeCell::new(slots),
            word: AtomicUsize::new(0),
            size,
            state: AtomicU8::new(ACTIVE),
            claim: AtomicU8::new(OWNER),
            asymmetric: crate::asymmetric_fence::is_asymmetric(),
            orphans,
        }
    }

    /// Runs `f` on the slots, for whoever may touch them: the one way any
    /// code reaches them. The borrow lives only as long as `f` runs, which
    /// lets `loom`'s cell (under `cfg(loom)`) check each access against the
    /// module's invariant; without loom it is a plain dereference, and the
    /// call and the closure inline away.
    ///
    /// # Safety
    /// The caller may touch the slots by the module's invariant (the owner
    /// inside a section that [`enter`](Self::enter) opened, a thief that
    /// claimed and waited out the owner, or the reclaimer of an
    /// `ORPHANED` magazine, both under the registry lock), and `f` makes
    /// no other access to the slots (magazine methods never nest).
    #[inline(always)]
    unsafe fn with_slots<R>(&self, f: impl FnOnce(&mut [usize]) -> R) -> R {
        #[cfg(not(loom))]
        // SAFETY: exclusive access for as long as `f` runs, by the caller's
        // contract.
        return f(unsafe { &mut *self.slots.get() });
        #[cfg(loom)]
        // SAFETY: as above; loom's cell also checks it.
        return self.slots.with_mut(|p| f(unsafe { &mut *p }));
    }

    /// The magazine's size: its share of the cache budget.
    #[inline(always)]
    fn size(&self) -> usize {
        self.size
    }

    /// Opens an owner's section: sets `busy` in the word, the light fence,
    /// then whether the magazine is unclaimed (only then may the section
    /// touch the slots and change the word). Returns the word as it was
    /// (`busy` clear) and that answer. Every call is followed by
    /// [`leave`](Self::leave).
    #[inline(always)]
    fn enter(&self) -> (Word, bool) {
        // Only this thread writes the word while it lives, so this load
        // reads its own last store.
        let word = Word(self.word.load(Ordering::Relaxed));
        self.word.store(word.0 | Word::BUSY, Ordering::Relaxed);
        crate::asymmetric_fence::light(self.asymmetric);
        (word, self.claim.load(Ordering::Relaxed) == OWNER)
    }

    /// Closes an owner's section, storing `word` (the one `enter` returned,
    /// or its successor if the section found the magazine unclaimed) with
    /// `busy` clear: `Release`, so a thief that sees `busy` clear sees every
    /// access the section made.
    #[inline(always)]
    fn leave(&self, word: Word) {
        debug_assert_eq!(word.0 & Word::BUSY, 0);
        self.word.store(word.0, Ordering::Release);
    }

    /// [`enter`](Self::enter) for the slow paths: a magazine a thief has
    /// drained is taken back first. `None` (and the section closed) while
    /// a thief holds it.
    ///
    /// Taking it back: the thief took `slots[..len]` and left the word as
    /// it was (only the owner writes it), so the owner first writes `len`
    /// 0, then CASes `DRAINED` to `OWNER`. In that order, because a later
    /// thief reads `len` as soon as it has claimed the magazine from
    /// `OWNER`; its claim reads this CAS, so it reads the 0 (the invariant:
    /// while the claim is `OWNER`, `len` is true). The CAS's Acquire pairs
    /// with the thief's Release of `DRAINED` (everything before its claim,
    /// the waiter's count among them, is visible); `SeqCst`, so that a
    /// later waiter whose drain found the magazine still `DRAINED` is seen
    /// by the owner's next look at the waiters' counts (src/pool/cached.rs).
    #[inline]
    fn enter_slow(&self) -> Option<Word> {
        let (word, mine) = self.enter();
        if mine {
            return Some(word);
        }
        self.leave(word);
        // DRAINED can change only to OWNER (this thread) or CLOSING (the
        // closing handle, which then reads only the stock, unchanged here).
        if self.claim.load(Ordering::Relaxed) != DRAINED {
            return None;
        }
        self.word.store(word.with_len(0).0, Ordering::Relaxed);
        if self
            .claim
            .compare_exchange(DRAINED, OWNER, Ordering::SeqCst, Ordering::Acquire)
            .is_err()
        {
            return None;
        }
        match self.enter() {
            (word, true) => Some(word),
            (word, false) => {
                // Claimed again in between.
                self.leave(word);
                None
            }
        }
    }

    /// The fast get: the top index, or `None` when the magazine is empty
    /// (or claimed by a thief).
    ///
    /// # Safety
    /// The caller is the owner thread, and no other magazine method of it
    /// is running.
    #[inline(always)]
    pub(crate) unsafe fn pop_fast(&self) -> Option<usize> {
        // SAFETY: forwarded.
        unsafe { self.pop_top::<false>() }
    }

    /// [`pop_fast`](Self::pop_fast), and with `OWNED` one reference from
    /// the stock too (`None` if either is empty): one section for both.
    ///
    /// # Safety
    /// As [`pop_fast`](Self::pop_fast).
    #[inline(always)]
    unsafe fn pop_top<const OWNED: bool>(&self) -> Option<usize> {
        // The shared magazine of size 0: no section, so that the threads
        // that share it do not all write its word.
        if self.size() == 0 {
            return None;
        }
        let (word, mine) = self.enter();
        let (n, stock) = (word.len(), if OWNED { word.stock() } else { 1 });
        if !mine || n == 0 || stock == 0 {
            self.leave(word);
            return None;
        }
        // SAFETY: the section is open on an unclaimed magazine, by the
        // owner; `n - 1 < n <= size`, and the inner block only reads that
        // slot.
        let index = unsafe { self.with_slots(|slots| *slots.get_unchecked(n - 1)) };
        // One less index, and with `OWNED` one less reference: `n` and
        // `stock` are at least 1, so neither field borrows from the other.
        let taken = (1 << Word::LEN_SHIFT) + if OWNED { 1 << 1 } else { 0 };
        self.leave(Word(word.0 - taken));
        Some(index)
    }

    /// The fast put: keeps `index` if there is room; `false` otherwise
    /// (also when a thief holds the magazine).
    ///
    /// # Safety
    /// As [`pop_fast`](Self::pop_fast); also the caller owns `index`, an
    /// index of this magazine's pool, and gives it up when this returns
    /// `true`.
    #[inline(always)]
    pub(crate) unsafe fn push_fast(&self, index: usize) -> bool {
        // SAFETY: forwarded.
        unsafe { self.push_top::<false>(index) }
    }

    /// [`push_fast`](Self::push_fast), and with `OWNED` one reference into
    /// the stock too (`false`, nothing kept, unless there is room for
    /// both): one section for both.
    ///
    /// # Safety
    /// As [`push_fast`](Self::push_fast); with `OWNED` the caller also gives
    /// up one reference to the pool's core when this returns `true`.
    #[inline(always)]
    unsafe fn push_top<const OWNED: bool>(&self, index: usize) -> bool {
        if self.size() == 0 {
            return false;
        }
        let (word, mine) = self.enter();
        let (n, stock) = (word.len(), if OWNED { word.stock() } else { 0 });
        if !mine || n >= self.size() || stock >= STOCK_MAX {
            self.leave(word);
            return false;
        }
        // SAFETY: as in `pop_top`; `n < size`, and the inner block only
        // writes that slot.
        unsafe { self.with_slots(|slots| *slots.get_unchecked_mut(n) = index) };
        // One more index, and with `OWNED` one more reference: `n < size
        // <= MAX_LEN` and `stock < STOCK_MAX`, so neither field overflows.
        let added = (1 << Word::LEN_SHIFT) + if OWNED { 1 << 1 } else { 0 };
        self.leave(Word(word.0 + added));
        true
    }

    /// The get after [`pop_fast`](Self::pop_fast) found nothing: refills
    /// half the magazine from `free` (one batch pop) and hands out one;
    /// `None` when `free` is dry too. A magazine of size 0, one a thief
    /// holds, and any magazine while `anyone_waits()` (nothing may settle
    /// in a magazine while a get waits) pass the get to `free`. `on_refill`
    /// runs after a refill took indices.
    ///
    /// # Safety
    /// As [`pop_fast`](Self::pop_fast); `free` is its pool's list, and
    /// `anyone_waits` and `on_refill` call no magazine method.
    pub(crate) unsafe fn refill(
        &self,
        free: &FreeList,
        anyone_waits: impl FnOnce() -> bool,
        on_refill: impl FnOnce(),
    ) -> Option<usize> {
        let size = self.size();
        if size == 0 {
            return free.pop();
        }
        let Some(word) = self.enter_slow() else {
            return free.pop();
        };
        let n = word.len();
        if n > 0 {
            // SAFETY: the section is open on an unclaimed magazine.
            let index = unsafe { self.with_slots(|slots| slots[n - 1]) };
            self.leave(word.with_len(n - 1));
            return Some(index);
        }
        if anyone_waits() {
            self.leave(word);
            return free.pop();
        }
        // Half the magazine (at least one), the last of them for the caller.
        let batch = (size / 2).max(1);
        // SAFETY: the section is open on an unclaimed, empty magazine; only
        // `free` (which never calls back) runs while the borrow lives.
        let got = unsafe { self.with_slots(|slots| free.pop_many_into(&mut slots[..batch])) };
        let index = if got == 0 {
            None
        } else {
            // SAFETY: as above; `got - 1 < batch <= size`.
            Some(unsafe { self.with_slots(|slots| slots[got - 1]) })
        };
        self.leave(word.with_len(got.saturating_sub(1)));
        if index.is_some() {
            on_refill();
        }
        index
    }

    /// Up to `out.len()` free indices from the magazine alone (no refill),
    /// into `out`; returns how many.
    ///
    /// # Safety
    /// As [`pop_fast`](Self::pop_fast).
    #[inline]
    pub(crate) unsafe fn pop_into(&self, out: &mut [usize]) -> usize {
        if self.size() == 0 {
            return 0;
        }
        let Some(word) = self.enter_slow() else {
            return 0;
        };
        let len = word.len();
        let n = out.len().min(len);
        if n > 0 {
            // SAFETY: the section is open on an unclaimed magazine; the
            // closure touches only the slots and `out`.
            unsafe { self.with_slots(|slots| out[..n].copy_from_slice(&slots[len - n..len])) };
        }
        self.leave(word.with_len(len - n));
        n
    }

    /// The put after [`push_fast`](Self::push_fast) found no room: flushes
    /// half the magazine to `free`'s ring (one batch push), then keeps
    /// `index`. A magazine of size 0 or one a thief holds keeps nothing,
    /// nor does any while `anyone_waits()`.
    ///
    /// # Safety
    /// As [`push_fast`](Self::push_fast), and `free` is its pool's list;
    /// `anyone_waits` calls no magazine method.
    pub(crate) unsafe fn push_flushing(
        &self,
        free: &FreeList,
        index: usize,
        anyone_waits: impl FnOnce() -> bool,
    ) -> Put {
        let size = self.size();
        if size == 0 {
            return Put::Passed;
        }
        let Some(word) = self.enter_slow() else {
            return Put::Passed;
        };
        if anyone_waits() {
            self.leave(word);
            return Put::Passed;
        }
        let n = word.len();
        if n < size {
            // SAFETY: the section is open on an unclaimed magazine; `n <
            // size`.
            unsafe { self.with_slots(|slots| slots[n] = index) };
            self.leave(word.with_len(n + 1));
            return Put::InCache;
        }
        // Half (at least one, so that a magazine of one has room after).
        let keep = size - (size / 2).max(1);
        let flush_half = |slots: &mut [usize]| {
            // SAFETY: the magazine owns each index of `slots[keep..size]` (it
            // is full), each once, all of `free`'s pool; they leave it right
            // after.
            unsafe { free.push_many_to_ring(&slots[keep..size]) };
            slots[keep] = index;
        };
        // SAFETY: the section is open on an unclaimed magazine; only `free`
        // runs while the borrow lives.
        unsafe { self.with_slots(flush_half) };
        self.leave(word.with_len(keep + 1));
        Put::AfterFlush
    }

    /// Keeps as many of `indices` as there is room for (no flush); returns
    /// how many, taken from the front. Keeps none while `anyone_waits()`.
    ///
    /// # Safety
    /// As [`push_fast`](Self::push_fast), for every index, each appearing
    /// once; `anyone_waits` calls no magazine method.
    #[inline]
    pub(crate) unsafe fn push_up_to_room(
        &self,
        indices: &[usize],
        anyone_waits: impl FnOnce() -> bool,
    ) -> usize {
        if self.size() == 0 {
            return 0;
        }
        let Some(word) = self.enter_slow() else {
            return 0;
        };
        let len = word.len();
        let n = if anyone_waits() {
            0
        } else {
            indices.len().min(self.size() - len)
        };
        if n > 0 {
            // SAFETY: the section is open on an unclaimed magazine; the
            // closure touches only the slots and `indices`.
            unsafe { self.with_slots(|slots| slots[len..len + n].copy_from_slice(&indices[..n])) };
        }
        self.leave(word.with_len(len + n));
        n
    }

    /// The fast owned get: the top index and one reference from the stock
    /// (src/pool/lifetime.rs), or `None` when either is empty (or the
    /// magazine is claimed).
    ///
    /// # Safety
    /// As [`pop_fast`](Self::pop_fast); the caller holds a reference to
    /// the pool's core for the call.
    #[inline(always)]
    pub(crate) unsafe fn pop_fast_owned(&self) -> Option<usize> {
        // SAFETY: forwarded.
        unsafe { self.pop_top::<true>() }
    }

    /// The fast owned drop: keeps `index` and the dropped buffer's
    /// reference if there is room for both; `false` (nothing kept)
    /// otherwise. After `true` the caller may not touch the pool's core:
    /// the reference it held is the stock's now.
    ///
    /// # Safety
    /// As [`push_fast`](Self::push_fast); the caller holds one reference
    /// to the pool's core and gives it up (with `index`) when this returns
    /// `true`.
    #[inline(always)]
    pub(crate) unsafe fn push_fast_owned(&self, index: usize) -> bool {
        // SAFETY: forwarded.
        unsafe { self.push_top::<true>(index) }
    }

    /// One reference from the stock for an owned get; an empty stock is
    /// first refilled with `refill()` references (at least 1), which the
    /// caller has just added to the pool's count. `false` (nothing taken,
    /// `refill` not called) for a magazine of size 0 or one claimed.
    ///
    /// # Safety
    /// As [`pop_fast`](Self::pop_fast); the caller holds a reference to
    /// the pool's core for the call, and `refill` calls no magazine method.
    #[inline]
    pub(crate) unsafe fn take_ref(&self, refill: impl FnOnce() -> usize) -> bool {
        if self.size() == 0 {
            return false;
        }
        let Some(word) = self.enter_slow() else {
            return false;
        };
        let stock = match word.stock() {
            0 => refill(),
            n => n,
        };
        self.leave(word.with_stock(stock - 1));
        true
    }

    /// Gives a dropped owned buffer's reference to the stock. A full
    /// stock gives [`STOCK_BATCH`] back: [`RefPut::Shed`], which the
    /// caller releases from the pool's count. After [`RefPut::Kept`] the
    /// caller may not touch the pool's core.
    ///
    /// # Safety
    /// As [`push_fast`](Self::push_fast), for the reference instead of an
    /// index.
    #[inline]
    pub(crate) unsafe fn put_ref(&self) -> RefPut {
        if self.size() == 0 {
            return RefPut::Passed;
        }
        let Some(word) = self.enter_slow() else {
            return RefPut::Passed;
        };
        let stock = word.stock() + 1;
        let (stock, put) = if stock > STOCK_MAX {
            (stock - STOCK_BATCH, RefPut::Shed(STOCK_BATCH))
        } else {
            (stock, RefPut::Kept)
        };
        self.leave(word.with_stock(stock));
        put
    }

    /// The owner's flush: gives every index to `free`'s ring; how many.
    ///
    /// # Safety
    /// As [`pop_fast`](Self::pop_fast), and `free` is its pool's list.
    pub(crate) unsafe fn flush(&self, free: &FreeList) -> usize {
        if self.size() == 0 {
            return 0;
        }
        let Some(word) = self.enter_slow() else {
            return 0;
        };
        // SAFETY: the section is open on an unclaimed magazine, whose `len`
        // is true.
        let n = unsafe { self.give_indices(free, word.len()) };
        self.leave(word.with_len(0));
        n
    }

    /// Gives `slots[..len]` to `free`'s ring (the word is not written:
    /// the caller does, or leaves it to be ignored); returns `len`.
    ///
    /// # Safety
    /// The caller may touch the slots (see [`with_slots`](Self::with_slots))
    /// and owns their first `len` indices, which it gives up; `free` is its
    /// pool's list.
    unsafe fn give_indices(&self, free: &FreeList, len: usize) -> usize {
        if len == 0 {
            return 0;
        }
        let flush_all = |slots: &mut [usize]| {
            // SAFETY: the caller owns each index of `slots[..len]`, each
            // once, all of `free`'s pool; they leave it right after.
            unsafe { free.push_many_to_ring(&slots[..len]) }
        };
        // SAFETY: forwarded from the caller; only `free` runs while the
        // borrow lives.
        unsafe { self.with_slots(flush_all) };
        len
    }

    /// For a thief that claimed the magazine and made the heavy fence:
    /// waits until no owner section is open (`busy` clear, `Acquire`, so
    /// every access of the sections before is visible) and returns the
    /// word.
    fn wait_idle(&self) -> Word {
        loop {
            let word = Word(self.word.load(Ordering::Acquire));
            if word.0 & Word::BUSY == 0 {
                return word;
            }
            yield_now();
        }
    }

    /// What the magazine holds, by `word`, for a party that claimed it
    /// from `claim` (or found `claim` on an orphan) and may touch the
    /// slots: `len` is true only while the claim is `OWNER` (after a drain
    /// the word still counts the indices the thief took, until the owner
    /// takes the magazine back); the stock is true until the magazine is
    /// closed.
    fn holds(word: Word, claim: u8) -> Word {
        match claim {
            OWNER => word.with_len(word.len()),
            DRAINED => word.with_len(0),
            _ => Word(0),
        }
    }

    /// At thread exit: hands the indices over to a reclaimer.
    fn orphan(&self) {
        self.state.store(ORPHANED, Ordering::Release);
        self.orphans.fetch_add(1, Ordering::Release);
    }
}
/// What [`Magazine::put_ref`] did with a dropped owned buffer's reference.
pub(crate) enum RefPut {
    /// The stock keeps it.
    Kept,
    /// The stock kept it and was full: the caller releases this many
    /// references from the pool's count.
    Shed(usize),
    /// Not kept (a magazine of size 0, or claimed): the caller releases it.
    Passed,
}

/// What a reclaim or a drain took out of magazines.
#[derive(Default)]
pub(crate) struct Taken {
    /// Free indices, now in the ring.
    pub(crate) indices: usize,
    /// References to the pool's core from orphaned magazines' stocks, now
    /// the caller's to release.
    pub(crate) refs: usize,
}

/// The magazines of one pool: its side of the thread cache.
pub(crate) struct ThreadCaches {
    /// The size each new magazine asks of the pool's cache budget.
    size: usize,
    /// Every magazine of the pool not yet reclaimed. Locked only on slow
    /// paths: a thread's first use of the pool, a reclaim, `stats`.
    registry: Mutex<Vec<Arc<CachePadded<Magazine>>>>,
    /// Magazines `ORPHANED` and not yet reclaimed (shared with them).
    orphans: Arc<AtomicUsize>,
    /// The magazine of size 0 every thread that finds the budget spent
    /// shares: no record per such thread.
    zero: Arc<CachePadded<Magazine>>,
    /// Set, under the registry lock, when the pool's handle drops
    /// ([`close`](Self::close)): no magazine registers after it.
    closed: AtomicBool,
}

/// Every magazine this thread owns; dropped (at thread exit) it orphans
/// them all.
struct Owned(RefCell<Vec<Arc<CachePadded<Magazine>>>>);

impl Drop for Owned {
    fn drop(&mut self) {
        // First, so that no later get or put (another thread-local's
        // destructor dropping a guard) follows CURRENT into a magazine
        // that is no longer this thread's.
        set_current(NO_MAGAZINE);
        for magazine in self.0.get_mut().drain(..) {
            magazine.orphan();
        }
    }
}

/// Lets the owner a thief waits for run.
fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}

/// `CURRENT` when this thread has used no thread-cached pool yet (pool ids
/// start at 1).
const NO_MAGAZINE: (u64, *const Magazine) = (0, std::ptr::null());

#[cfg(not(loom))]
thread_local! {
    /// The pool id and magazine this thread used last. No destructor: a
    /// plain load, valid until the thread's very end.
    static CURRENT: Cell<(u64, *const Magazine)> = const { Cell::new(NO_MAGAZINE) };
    /// This thread's magazines.
    static OWNED: Owned = const { Owned(RefCell::new(Vec::new())) };
}

// Under loom: loom's thread-locals (one per model thread, destroyed when
// it finishes, which is what lets the models see a thread's exit), which
// take no `const` initialiser.
#[cfg(loom)]
loom::thread_local! {
    /// The pool id and magazine this thread used last.
    static CURRENT: Cell<(u64, *const Magazine)> = Cell::new(NO_MAGAZINE);
    /// This thread's magazines.
    static OWNED: Owned = Owned(RefCell::new(Vec::new()));
}

/// `CURRENT`'s value: a plain thread-local load. Under loom, whose
/// thread-locals are all destroyed together at a thread's end (before any
/// of their destructors runs), `NO_MAGAZINE` once `CURRENT` is gone.
#[inline(always)]
fn current() -> (u64, *const Magazine) {
    #[cfg(not(loom))]
    return CURRENT.with(Cell::get);
    #[cfg(loom)]
    return CURRENT.try_with(Cell::get).unwrap_or(NO_MAGAZINE);
}

/// Sets `CURRENT` (under loom, nothing once it is gone: nobody can read
/// it then).
#[inline]
fn set_current(value: (u64, *const Magazine)) {
    #[cfg(not(loom))]
    CURRENT.with(|c| c.set(value));
    #[cfg(loom)]
    let _ = CURRENT.try_with(|c| c.set(value));
}

impl ThreadCaches {
    /// No magazines yet; each new one asks for `size` indices of the
    /// budget. `size > 0`.
    pub(crate) fn new(pool_id: u64, size: usize) -> Self {
        crate::asymmetric_fence::init();
        let orphans = Arc::new(AtomicUsize::new(0));
        ThreadCaches {
            // A word counts at most MAX_LEN (2^56 on 64-bit targets): no
            // pool has that many buffers there.
            size: size.min(Word::MAX_LEN),
            registry: Mutex::new(Vec::new()),
            zero: Arc::new(CachePadded::new(Magazine::new(
                pool_id,
                Box::new([]),
                Arc::clone(&orphans),
            ))),
            orphans,
            closed: AtomicBool::new(false),
        }
    }

    /// The size each magazine asks for.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The calling thread's magazine of pool `pool_id`, if it is the one
    /// this thread used last: the fast path, one thread-local load.
    ///
    /// Hands the magazine to `f`, which the caller writes so that it holds
    /// the module's obligations (one magazine method at a time, only the
    /// free list called inside).
    #[inline(always)]
    pub(crate) fn with_current<R>(
        &self,
        pool_id: u64,
        f: impl FnOnce(&Magazine) -> R,
    ) -> Option<R> {
        Self::with_current_of(pool_id, f)
    }

    /// [`with_current`](Self::with_current) without a `ThreadCaches`
    /// reference, for an owned buffer's drop: the magazine may take the
    /// buffer's reference to the pool's core, after which the core may be
    /// freed by another thread while `f` is still returning, so no
    /// reference into the core may be an argument of this call. The
    /// caller knows that pool `pool_id` has a thread cache and was alive
    /// when the call began.
    #[inline(always)]
    pub(crate) fn with_current_of<R>(pool_id: u64, f: impl FnOnce(&Magazine) -> R) -> Option<R> {
        let (id, magazine) = current();
        if id == pool_id {
            // CURRENT names pool `pool_id`, which was alive when the call
            // began, and points at a magazine OWNED holds an Arc of (alive
            // as long as this thread) or at that pool's shared magazine of
            // size 0, which lives as long as the pool's core (module
            // invariant; `f` makes no access to it after a magazine took
            // the caller's reference, since size-0 magazines take none).
            // SAFETY: so it is alive, and usable by this thread.
            let magazine = unsafe { &*magazine };
            return Some(f(magazine));
        }
        None
    }

    /// Makes this thread's magazine of pool `pool_id` `CURRENT` if the
    /// thread has one (it may have used other pools since); no
    /// registration. Whether it has one.
    #[cold]
    pub(crate) fn make_current(&self, pool_id: u64) -> bool {
        if current().0 == pool_id {
            return true;
        }
        let found = OWNED
            .try_with(|owned| {
                let mine = owned.0.try_borrow().ok()?;
                let m = mine.iter().find(|m| m.pool_id == pool_id)?;
                Some(&***m as *const Magazine)
            })
            .ok()
            .flatten();
        match found {
            // OWNED holds an Arc of it: the CURRENT invariant.
            Some(magazine) => {
                set_current((pool_id, magazine));
                true
            }
            None => false,
        }
    }

    /// This thread's magazine of the pool, registering one (via `register`,
    /// which reserves the budget) on the thread's first use, and making it
    /// `CURRENT`; `None` while this thread's thread-locals are being torn
    /// down, or when the registration's memory was refused.
    #[cold]
    pub(crate) fn find_or_register(
        &self,
        pool_id: u64,
        reserve: impl FnOnce(usize) -> usize,
        unreserve: impl FnOnce(usize),
    ) -> Option<()> {
        let magazine: *const Magazine = OWNED
            .try_with(|owned| {
                let mut mine = owned.0.try_borrow_mut().ok()?;
                if let Some(m) = mine.iter().find(|m| m.pool_id == pool_id) {
                    return Some(&***m as *const Magazine);
                }
                // Magazines of dropped pools: only this thread holds them.
                // CURRENT may point at one: clear it before it is freed.
                set_current(NO_MAGAZINE);
                mine.retain(|m| Arc::strong_count(m) > 1);
                let size = reserve(self.size);
                if size == 0 {
                    // The pool's shared magazine of size 0, which holds
                    // nothing: not kept in OWNED (no memory per thread). It
                    // lives as long as the pool, and CURRENT is only ever
                    // followed by a call of the pool of that id, so alive.
                    return Some(&**self.zero as *const Magazine);
                }
                if mine.try_reserve(1).is_err() {
                    unreserve(size);
                    return None;
                }
                let mut slots = Vec::new();
                if slots.try_reserve_exact(size).is_err() {
                    unreserve(size);
                    return None;
                }
                // Within the capacity: no allocation, and none to shrink.
                slots.resize(size, 0);
                let magazine = Arc::new(CachePadded::new(Magazine::new(
                    pool_id,
                    slots.into_boxed_slice(),
                    Arc::clone(&self.orphans),
                )));
                let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
                // After the handle dropped, a magazine's stock would keep
                // the core alive with nobody left to take it back.
                if self.closed.load(Ordering::Relaxed) || registry.try_reserve(1).is_err() {
                    unreserve(size);
                    return None;
                }
                registry.push(Arc::clone(&magazine));
                drop(registry);
                let ptr = &**magazine as *const Magazine;
                // Cannot allocate: reserved above.
                mine.push(magazine);
                Some(ptr)
            })
            .ok()
            .flatten()?;
        set_current((pool_id, magazine));
        Some(())
    }

    /// Whether some magazine's thread exited and left indices to reclaim.
    #[inline]
    pub(crate) fn has_orphans(&self) -> bool {
        self.orphans.load(Ordering::Acquire) != 0
    }

    /// Gives the indices of every orphaned magazine back to `free`'s ring
    /// and their budget back through `unreserve`; returns how many indices
    /// came back. The caller notifies the pool's waiters when it is not 0.
    #[cold]
    pub(crate) fn reclaim(&self, free: &FreeList, unreserve: impl FnMut(usize)) -> Taken {
        if !self.has_orphans() {
            return Taken::default();
        }
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        self.reclaim_locked(&mut registry, free, unreserve)
    }

    /// [`reclaim`](Self::reclaim) with the registry locked.
    fn reclaim_locked(
        &self,
        registry: &mut Vec<Arc<CachePadded<Magazine>>>,
        free: &FreeList,
        mut unreserve: impl FnMut(usize),
    ) -> Taken {
        let mut back = Taken::default();
        registry.retain(|m| {
            if m.state.load(Ordering::Acquire) != ORPHANED {
                return true;
            }
            // ORPHANED (Acquire) after the owner's last touch (Release): its
            // thread has exited, and this reclaimer holds the registry lock
            // (so no thief is inside it either: thieves hold the lock too,
            // and leave the claim OWNER, DRAINED or CLOSED).
            let held = Magazine::holds(
                Word(m.word.load(Ordering::Relaxed)),
                m.claim.load(Ordering::Relaxed),
            );
            // SAFETY: so it alone touches the slots, and owns the first
            // `len` indices; `free` is this pool's.
            back.indices += unsafe { m.give_indices(free, held.len()) };
            back.refs += held.stock();
            // The owner is gone: the reclaimer may write the word.
            m.word.store(0, Ordering::Relaxed);
            m.state.store(RECLAIMED, Ordering::Relaxed);
            self.orphans.fetch_sub(1, Ordering::Relaxed);
            unreserve(m.size());
            false
        });
        back
    }

    /// Takes the free indices out of every magazine of the pool, live or
    /// orphaned, whatever its thread is doing (running, parked, blocked,
    /// exited), and gives them to `free`'s ring; returns how many. The
    /// protocol is the module's "Taking from a live thread". Orphans'
    /// budget goes back through `unreserve`. The caller notifies the
    /// pool's waiters when it is not 0.
    ///
    /// Costs the registry lock, a CAS per live magazine and one heavy
    /// fence (a `membarrier` system call); the owners then each pay one
    /// CAS on their next slow call. For waiting gets, never a hot path.
    #[cold]
    pub(crate) fn drain(&self, free: &FreeList, unreserve: impl FnMut(usize)) -> Taken {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let mut back = self.reclaim_locked(&mut registry, free, unreserve);
        // Claim every live magazine, empty-looking ones too: an owner may
        // be refilling one right now (its `len` read here could be stale),
        // and the claim is what makes it either finish before the take
        // below or see the claim and keep out.
        let mut claimed = 0;
        for m in registry.iter() {
            if m.state.load(Ordering::Acquire) == ACTIVE
                && m.claim
                    .compare_exchange(OWNER, DRAINING, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                claimed += 1;
            }
        }
        if claimed == 0 {
            return back;
        }
        let fenced = crate::asymmetric_fence::heavy();
        for m in registry.iter() {
            if m.claim.load(Ordering::Relaxed) != DRAINING {
                continue;
            }
            if fenced {
                // An owner section that began before the fence and saw the
                // magazine unclaimed is short (a few loads and stores, or
                // one batch of the lock-free ring): wait it out.
                let word = m.wait_idle();
                // Claimed from OWNER (by this thief, under the registry
                // lock), the heavy fence, and `busy` seen clear with
                // Acquire: every owner section either ended before (its
                // Release read here) or starts after and sees the claim
                // (module docs), and `len` is true. The owner may also
                // have exited meanwhile (then its thread touches nothing).
                let held = Magazine::holds(word, OWNER);
                // SAFETY: so this thief alone touches the slots and owns
                // their first `len` indices; `free` is this pool's.
                back.indices += unsafe { m.give_indices(free, held.len()) };
                // The word is left as it is (only the owner writes it; the
                // stock stays the magazine's). Release: the owner's CAS
                // back to OWNER comes after the take.
                m.claim.store(DRAINED, Ordering::Release);
            } else {
                // The kernel refused the fence (after agreeing to it at
                // registration): nothing is known about the owner, so
                // take nothing and hand the magazine back untouched.
                m.claim.store(OWNER, Ordering::Release);
            }
        }
        back
    }

    /// For the drop of the pool's handle (src/pool/lifetime.rs): takes
    /// every magazine's indices to `free`'s ring and its stock of
    /// references, and closes every magazine for good (`CLOSED`: its owner
    /// keeps out and passes owned drops to the pool's count), so that no
    /// stock is left that nobody would take back; no magazine registers
    /// after it. Returns the references taken, for the caller to release;
    /// `None` when the kernel refused the heavy fence, after which nothing
    /// is known of the owners, nothing is taken and the caller must leak
    /// the core (its references never reach 0).
    ///
    /// The protocol is [`drain`](Self::drain)'s, for every magazine,
    /// orphaned ones and ones an earlier drain left `DRAINED` included.
    #[cold]
    pub(crate) fn close(&self, free: &FreeList) -> Option<usize> {
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        self.closed.store(true, Ordering::Relaxed);
        for m in registry.iter() {
            // Only this thread writes DRAINING or CLOSING (under the lock);
            // the owner turns DRAINED into OWNER, never the other way. One
            // claimed from OWNER becomes DRAINING, one from DRAINED
            // CLOSING: the second's `len` is stale.
            while m
                .claim
                .compare_exchange(OWNER, DRAINING, Ordering::SeqCst, Ordering::Relaxed)
                .is_err()
                && m.claim
                    .compare_exchange(DRAINED, CLOSING, Ordering::SeqCst, Ordering::Relaxed)
                    .is_err()
            {}
        }
        if registry.is_empty() {
            return Some(0);
        }
        if !crate::asymmetric_fence::heavy() {
            // Nothing taken; each magazine goes back as it was (the
            // owner's next CAS or section reads nothing of this thread's
            // but the store).
            for m in registry.iter() {
                let was = match m.claim.load(Ordering::Relaxed) {
                    DRAINING => OWNER,
                    _ => DRAINED,
                };
                m.claim.store(was, Ordering::Release);
            }
            return None;
        }
        let mut refs = 0;
        for m in registry.iter() {
            let was = match m.claim.load(Ordering::Relaxed) {
                DRAINING => OWNER,
                _ => DRAINED,
            };
            // Claimed under the registry lock, the heavy fence, `busy` seen
            // clear with Acquire: as in `drain`, this thread alone touches
            // the magazine (an orphaned one's owner touches nothing).
            let held = Magazine::holds(m.wait_idle(), was);
            // SAFETY: so it may touch the slots, and owns their first `len`
            // indices; `free` is this pool's.
            unsafe { m.give_indices(free, held.len()) };
            refs += held.stock();
            // For good: `enter_slow` takes back only DRAINED.
            m.claim.store(CLOSED, Ordering::Release);
        }
        Some(refs)
    }

    /// About how many free indices sit in magazines now (live and
    /// orphaned): a snapshot.
    pub(crate) fn cached(&self) -> usize {
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        // `len` is true while the claim is OWNER (see `holds`).
        registry
            .iter()
            .filter(|m| m.claim.load(Ordering::Acquire) == OWNER)
            .map(|m| Word(m.word.load(Ordering::Relaxed)).len())
            .sum()
    }
}

#[cfg(all(test, not(loom)))]
#[path = "thread_cache_tests.rs"]
mod tests;
