//! Waiting for a free index: the wait list behind an async acquire.
//!
//! The design, the integration contract and the proofs are in the docs of
//! [`WaitList`].
//!
//! Why the list, its future and its `Source` contract share one file (its
//! unit tests are in `waiters_tests.rs`): they are one protocol, and every
//! ordering argument spans all three.

#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
use std::sync::{Mutex, MutexGuard};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The counter's one ordering (see the docs of [`WaitList`]).
const SC: Ordering = Ordering::SeqCst;

/// "No entry": the end of a chain, or a future not in the queue.
const NIL: usize = usize::MAX;

/// A free list that [`Acquire`] futures wait on.
///
/// See [`WaitList`] for the obligation: `put` and `try_take` must be
/// sequentially consistent where they make an index free and find it. They
/// may call back into the wait list: it never calls them with its lock held.
pub trait Source {
    /// The wait list of this free list; the same one on every call.
    fn wait_list(&self) -> &WaitList;
    /// Takes a free index without waiting, or `None` when there is none.
    fn try_take(&self) -> Option<usize>;
    /// Makes `index` free again, without waking anyone (the wait list does
    /// that).
    fn put(&self, index: usize);
}

impl<T: Source + ?Sized> Source for &T {
    fn wait_list(&self) -> &WaitList {
        (**self).wait_list()
    }
    fn try_take(&self) -> Option<usize> {
        (**self).try_take()
    }
    fn put(&self, index: usize) {
        (**self).put(index)
    }
}

impl<T: Source + ?Sized> Source for std::sync::Arc<T> {
    fn wait_list(&self) -> &WaitList {
        (**self).wait_list()
    }
    fn try_take(&self) -> Option<usize> {
        (**self).try_take()
    }
    fn put(&self, index: usize) {
        (**self).put(index)
    }
}

/// One waiter's entry: queued (it has a waker, no index), served (an
/// index, out of the queue), revoked (its index was taken back, out of the
/// queue: its future queues again at the front when next polled), or
/// vacant (on the vacancy chain).
struct Node {
    prev: usize,
    /// The next queued entry, or for a vacant one the next vacant entry.
    next: usize,
    waker: Option<Waker>,
    handed: Option<usize>,
    /// When `handed` was set (for [`WaitList::revoke_uncollected`]).
    served_at: Option<Instant>,
    /// In the queue now.
    queued: bool,
}

/// The grace a new list gives an uncollected hand-over. Under loom, none:
/// the models then explore every revocation racing every collection, and
/// stay deterministic (loom cannot replay a clock).
const DEFAULT_GRACE: Duration = if cfg!(loom) {
    Duration::ZERO
} else {
    UNCOLLECTED_GRACE
};

/// How long a hand-over may wait to be collected before a dry get may take
/// it back: a future that was forgotten (`mem::forget`) would otherwise
/// hold its index for ever, and a live one collects within one poll of its
/// task, long before this.
pub const UNCOLLECTED_GRACE: Duration = Duration::from_millis(10);

/// The FIFO of waiters, as a doubly linked list inside a reusable table.
struct Queue {
    nodes: Vec<Node>,
    head: usize,
    tail: usize,
    /// First vacant entry.
    vacant: usize,
    /// Most entries the table may hold (a test hook for refused
    /// allocations; `usize::MAX` otherwise).
    limit: usize,
}

impl Queue {
    /// Queues a new entry at the back; gives the waker back if the table
    /// cannot grow.
    fn push_back(&mut self, waker: Waker) -> Result<usize, Waker> {
        let id = if self.vacant != NIL {
            let id = self.vacant;
            self.vacant = self.nodes[id].next;
            id
        } else {
            if self.nodes.len() >= self.limit || self.nodes.try_reserve(1).is_err() {
                return Err(waker);
            }
            self.nodes.push(Node {
                prev: NIL,
                next: NIL,
                waker: None,
                handed: None,
                served_at: None,
                queued: false,
            });
            self.nodes.len() - 1
        };
        let tail = self.tail;
        let node = &mut self.nodes[id];
        node.prev = tail;
        node.next = NIL;
        node.waker = Some(waker);
        node.handed = None;
        node.served_at = None;
        node.queued = true;
        if tail == NIL {
            self.head = id;
        } else {
            self.nodes[tail].next = id;
        }
        self.tail = id;
        Ok(id)
    }

    /// Puts a revoked entry (out of the queue) back at the front: it was
    /// served once and keeps its place ahead of later waiters.
    fn push_front(&mut self, id: usize) {
        let head = self.head;
        let node = &mut self.nodes[id];
        node.prev = NIL;
        node.next = head;
        node.queued = true;
        if head == NIL {
            self.tail = id;
        } else {
            self.nodes[head].prev = id;
        }
        self.head = id;
    }

    /// Takes a queued entry out of the queue.
    fn unlink(&mut self, id: usize) {
        self.nodes[id].queued = false;
        let (prev, next) = (self.nodes[id].prev, self.nodes[id].next);
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next].prev = prev;
        }
    }

    /// Puts an entry that is out of the queue on the vacancy chain; returns
    /// its waker, to be dropped after the lock is released.
    fn vacate(&mut self, id: usize) -> Option<Waker> {
        let vacant = self.vacant;
        let node = &mut self.nodes[id];
        node.handed = None;
        node.served_at = None;
        node.queued = false;
        node.prev = NIL;
        node.next = vacant;
        self.vacant = id;
        node.waker.take()
    }
}

/// The queue of tasks waiting for a free index.
///
/// A [`WaitList`] queues the tasks that found a free list dry, and an
/// [`Acquire`] future is one such task's place in it. Whoever returns an
/// index calls [`WaitList::release`] (or pushes the index itself and then
/// calls [`WaitList::notify`]); the index goes *directly* to the waiter at
/// the front of the queue, which is then woken. The free list itself is
/// anything that implements [`Source`]: an [`IndexRing`](crate::sync::IndexRing),
/// a pool's free list, a mutex-guarded `Vec`. Only `std::task` and
/// `std::future` are used, so any executor can drive the future.
///
/// # Integration contract
///
/// A pool that wants an async acquire
///
/// 1. holds a `WaitList` and implements [`Source`] for itself (or for a
///    handle to itself, such as `&Pool` or `Arc<Pool>`): `wait_list` returns
///    that list (always the same one), `try_take` is its non-waiting take of
///    a free index (`try_get` without the guard), `put` is its plain return
///    of an index to the free list, *without* notifying;
/// 2. makes every return of an index (the guard's drop, `return_index`)
///    call [`WaitList::release`]`(source, index)`, or do its own `put` and
///    then call [`WaitList::notify`]`(source)`. When nobody waits that adds
///    one atomic load to the return;
/// 3. returns [`Acquire::new`]`(source)` from its `acquire()`, or a future
///    of its own that wraps it and turns the `usize` it yields into a
///    buffer guard. Whatever the future yields, the caller owns: it goes
///    back through step 2.
///
/// The non-waiting `try_get` and the blocking `get` need no change: they
/// take from the free list as before (a blocking `get` simply competes with
/// the waiters, it never sleeps in this list).
///
/// Two rules come with `Source`, and the proofs depend on them:
///
/// * **Sequentially consistent free list.** The write that makes an index
///   free in `put`, and the reads of `try_take` that find it, must be
///   `SeqCst` operations (or be ordered by a `SeqCst` fence). This is the
///   store-buffering pattern of every "check for sleepers" protocol: the
///   returner writes the free list then reads the waiter count, the waiter
///   writes the count then reads the free list, and only a total order
///   guarantees that at least one of the two sees the other's write.
///   [`IndexRing`](crate::sync::IndexRing) qualifies (every access is `SeqCst`).
///   A free list whose put is a `Release` CAS and whose take starts with a
///   `Relaxed` load does not, on weakly ordered CPUs: make those `SeqCst`
///   (on x86-64 a CAS is a locked instruction whatever its ordering and a
///   `SeqCst` load is a plain load, so it costs nothing there), or put a
///   `fence(SeqCst)` between the put and `notify`.
/// * **Re-entry is allowed.** The list never calls `try_take` or `put` with
///   its mutex held, so either may call back into the same `WaitList` (a
///   thread-cached pool's take reclaims an exited thread's cache and
///   notifies). Before this rule, a take that notified deadlocked on the
///   list's own lock (`tests/stress/liveness.rs` and the loom model
///   `a_reclaim_inside_a_served_take_notifies_without_deadlock` check it).
///
/// # How it works
///
/// The fast check, [`WaitList::has_waiters`], is one load of a counter of
/// queued waiters. Everything else happens under a `std::sync::Mutex` that
/// guards a FIFO of entries, each with its waiter's [`Waker`] and a slot for
/// an index handed to it.
///
/// * **Return** ([`WaitList::release`]): put the index on the free list,
///   *then* read the counter. If it is not zero, take an index from the
///   free list (it may be gone, taken by a non-waiting get: then nothing is
///   owed to anyone), lock, and hand it to the front entry, which leaves
///   the queue; wake its waker after unlocking. If the queue emptied in
///   between, put the index back and look at the counter again. Repeat
///   while there are both waiters and free indices.
/// * **Wait** (the first poll of [`Acquire`] that finds nothing): lock,
///   enqueue an entry, increment the counter, unlock, and then run the same
///   serving loop as a return. This second look at the free list, after the
///   counter went up, closes the race with a returner that read the counter
///   before the increment: that returner's index was on the free list
///   before the read, so the look finds it. The index found goes to the
///   front of the queue, which is this waiter only if nobody was ahead of
///   it: a new waiter never overtakes older ones (unit tests
///   `a_new_future_does_not_overtake_a_queued_one`,
///   `waiters_are_served_first_come_first_served`; loom models in
///   `tests/loom/waiters.rs`).
/// * **Later polls** read the entry's slot: an index there is the result;
///   otherwise the stored waker is replaced if the new one would not wake
///   the same task.
/// * **Cancel** (dropping the future): an entry still queued is removed
///   and the counter decremented; an index already handed to it goes
///   straight to the next waiter (woken), or back through
///   [`WaitList::release`] if there is none. A cancelled waiter loses
///   neither an index nor a wake-up (unit tests `cancelling_*`; loom
///   models `cancel_races_return*`, `cancel_after_handoff_passes_the_index_on`).
/// * **Forgotten futures** (`mem::forget` after a first poll): an entry
///   that was handed an index and has not collected it within
///   [`UNCOLLECTED_GRACE`] can be taken back by
///   [`WaitList::revoke_uncollected`], which a pool's dry gets call, and
///   which the front waiter calls when it is polled (while another entry's
///   hand-over is uncollected, the front waiter asks to be polled again,
///   so a runtime whose only task waits behind a forgotten future still
///   gets there). A live future whose index was taken back queues again
///   at the front. So a forgotten future holds a returned index for at
///   most the grace plus the next dry get, never for ever
///   (`tests/stress/liveness.rs` `a_forgotten_queued_acquire_does_not_swallow_a_buffer`;
///   unit tests `an_uncollected_hand_over_is_taken_back_*`,
///   `a_revoked_future_dropped_owes_nothing`). A forgotten entry that was
///   never handed anything stays queued and absorbs one hand-over, once.
///
/// A first poll skips its fast take from the free list when the counter
/// says others are waiting, and queues behind them instead, so among
/// `Acquire` futures service is first come, first served: handing indices
/// over directly (rather than waking someone to race for the free list)
/// means a woken waiter that is polled within [`UNCOLLECTED_GRACE`] never
/// finds its index stolen. Non-waiting takes
/// (`try_get`, a blocking `get`) can still take an index in the short
/// window between a return's put and its serving loop; every return that
/// such a take does not intercept goes to the front waiter, so a waiter
/// moves forward with every such return and is served after at most as
/// many of them as there are waiters ahead of it.
///
/// # Memory ordering
///
/// The counter is read and written `SeqCst` (see the contract above). An
/// index handed over moves under the mutex: the returner's writes to the
/// buffer happen-before its put, the put happens-before the serving loop's
/// take (the free list's release and acquire), and the mutex orders the
/// hand-over before the waiter's read of its slot. loom models a `SeqCst`
/// load as an acquire load, which may return values that the sequentially
/// consistent order rules out; under `cfg(loom)` the counter is therefore
/// read with a `fetch_add(0)`, as [`IndexRing`](crate::sync::IndexRing) does,
/// so the models check the executions real hardware can have.
///
/// # Allocation
///
/// Entries live in a table inside the list, reused through a vacancy chain:
/// the table grows (with `try_reserve`) only when more futures wait at once
/// than ever before, and never shrinks. Polling allocates nothing, beyond
/// cloning the waker when it is first stored or replaced. If the table
/// cannot grow because an allocation is refused, the future does not fail
/// and does not panic: it tries the free list, and if that is dry asks to
/// be polled again at once (a busy wait through the executor) until an
/// index is free or the table can grow.
///
/// # Example
///
/// ```
/// use iobuf_pool::sync::{Acquire, IndexRing, Source, WaitList};
///
/// struct Pool {
///     ring: IndexRing,
///     waiters: WaitList,
/// }
///
/// impl Source for Pool {
///     fn wait_list(&self) -> &WaitList {
///         &self.waiters
///     }
///     fn try_take(&self) -> Option<usize> {
///         self.ring.pop()
///     }
///     fn put(&self, index: usize) {
///         // SAFETY: this index was taken from the ring and is returned once.
///         unsafe { self.ring.push(index) }.expect("an index this pool handed out");
///     }
/// }
///
/// let pool = std::sync::Arc::new(Pool { ring: IndexRing::full(1)?, waiters: WaitList::new() });
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     let held = Acquire::new(pool.clone()).await;
///     // Dry: this task waits until the index comes back.
///     let waiter = tokio::spawn(Acquire::new(pool.clone()));
///     tokio::task::yield_now().await;
///     assert!(pool.waiters.has_waiters());
///     pool.waiters.release(&*pool, held); // the pool's put
///     assert_eq!(waiter.await.unwrap(), held);
/// });
/// # Ok::<(), iobuf_pool::Error>(())
/// ```
///
/// # A first look
///
/// ```
/// use iobuf_pool::sync::WaitList;
/// let list = WaitList::new();
/// assert!(!list.has_waiters());
/// assert_eq!(list.waiters(), 0);
/// ```
pub struct WaitList {
    /// Entries in the queue (waiting, not yet served). Written under the
    /// lock, read without it by [`WaitList::has_waiters`].
    waiting: AtomicUsize,
    /// Entries served and not yet collected by their futures. Written under
    /// the lock, read without it by the dry paths.
    uncollected: AtomicUsize,
    /// How long a hand-over may stay uncollected before it can be taken
    /// back ([`UNCOLLECTED_GRACE`] but in tests).
    grace: Duration,
    queue: Mutex<Queue>,
}

impl Default for WaitList {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for WaitList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitList")
            .field("waiters", &self.waiters())
            .finish()
    }
}

impl WaitList {
    /// An empty wait list. Allocates nothing until a task waits.
    pub fn new() -> Self {
        Self::with_limits(usize::MAX, DEFAULT_GRACE)
    }

    /// A list whose table holds at most `limit` entries (a test hook for
    /// refused allocations) and whose hand-overs may be taken back after
    /// `grace` (tests fix it, so that a slow run such as Miri's cannot
    /// change what they check).
    fn with_limits(limit: usize, grace: Duration) -> Self {
        WaitList {
            waiting: AtomicUsize::new(0),
            uncollected: AtomicUsize::new(0),
            grace,
            queue: Mutex::new(Queue {
                nodes: Vec::new(),
                head: NIL,
                tail: NIL,
                vacant: NIL,
                limit,
            }),
        }
    }

    /// Whether any task is queued: one atomic load, the whole cost of a
    /// return when nobody waits.
    #[inline]
    pub fn has_waiters(&self) -> bool {
        #[cfg(loom)]
        return self.waiting.fetch_add(0, SC) != 0;
        #[cfg(not(loom))]
        return self.waiting.load(SC) != 0;
    }

    /// Whether an index was handed to a future that has not collected it
    /// yet (see [`revoke_uncollected`](Self::revoke_uncollected)): one load.
    #[inline]
    pub(crate) fn has_uncollected(&self) -> bool {
        self.uncollected.load(Ordering::Relaxed) != 0
    }

    /// How many tasks are queued now (a snapshot, for statistics).
    pub fn waiters(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Returns `index`: puts it on `source`'s free list, then, if anyone
    /// waits, hands a free index to the longest-waiting task and wakes it.
    ///
    /// This is what a pool's put calls. `source.wait_list()` must be this
    /// list.
    ///
    /// ```
    /// use iobuf_pool::sync::{Acquire, IndexRing, Source, WaitList};
    /// struct Ring(IndexRing, WaitList);
    /// impl Source for Ring {
    ///     fn wait_list(&self) -> &WaitList { &self.1 }
    ///     fn try_take(&self) -> Option<usize> { self.0.pop() }
    ///     fn put(&self, i: usize) { /* SAFETY: a taken index, returned once */ unsafe { self.0.push(i) }.unwrap() }
    /// }
    /// let ring = Ring(IndexRing::full(2)?, WaitList::new());
    /// let i = ring.try_take().unwrap();
    /// ring.1.release(&ring, i); // nobody waits: a push and one load
    /// assert!(ring.try_take().is_some() && ring.try_take().is_some());
    /// # Ok::<(), iobuf_pool::Error>(())
    /// ```
    #[inline]
    pub fn release<S: Source + ?Sized>(&self, source: &S, index: usize) {
        source.put(index);
        self.notify(source);
    }

    /// For a caller that has already put an index on `source`'s free list
    /// (with a sequentially consistent write): if anyone waits, hands free
    /// indices to the waiters, longest-waiting first, and wakes them.
    #[inline]
    pub fn notify<S: Source + ?Sized>(&self, source: &S) {
        if self.has_waiters() {
            self.serve(source);
        }
    }

    /// The lock; a poisoned one is taken as it is (no code that can panic
    /// runs while the queue is half-updated).
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `index` to the front entry, if there is one; returns the
    /// waker to wake after unlocking, or gives the index back.
    fn hand_front(&self, q: &mut Queue, index: usize) -> Result<Option<Waker>, usize> {
        let id = q.head;
        if id == NIL {
            return Err(index);
        }
        q.unlink(id);
        self.waiting.fetch_sub(1, SC);
        self.uncollected.fetch_add(1, Ordering::Relaxed);
        let node = &mut q.nodes[id];
        node.handed = Some(index);
        node.served_at = Some(Instant::now());
        Ok(node.waker.take())
    }

    /// Takes back the indices handed to futures that have not collected
    /// them within [`UNCOLLECTED_GRACE`], and returns them through
    /// [`release`](Self::release) (to the next waiter, or the free list);
    /// returns how many. A pool's dry paths call this: a future that was
    /// forgotten (`mem::forget`) after being queued would otherwise keep the
    /// next returned index for ever. A live future whose index was taken
    /// back queues again at the front when it is next polled, so it loses
    /// its index but not its place.
    ///
    /// Costs one load when nothing is uncollected.
    ///
    /// ```
    /// use iobuf_pool::sync::{Acquire, IndexRing, Source, WaitList, UNCOLLECTED_GRACE};
    /// use std::future::Future;
    /// struct Ring(IndexRing, WaitList);
    /// impl Source for Ring {
    ///     fn wait_list(&self) -> &WaitList { &self.1 }
    ///     fn try_take(&self) -> Option<usize> { self.0.pop() }
    ///     fn put(&self, i: usize) { /* SAFETY: a taken index, returned once */ unsafe { self.0.push(i) }.unwrap() }
    /// }
    /// let ring = Ring(IndexRing::full(1)?, WaitList::new());
    /// let held = ring.try_take().unwrap();
    /// let waker = std::task::Waker::noop();
    /// let mut forgotten = Box::pin(Acquire::new(&ring));
    /// let _ = forgotten.as_mut().poll(&mut std::task::Context::from_waker(&waker));
    /// ring.1.release(&ring, held); // handed to the queued future...
    /// std::mem::forget(forgotten); // ...which is never polled again
    /// assert!(ring.try_take().is_none());
    /// std::thread::sleep(UNCOLLECTED_GRACE);
    /// assert_eq!(ring.1.revoke_uncollected(&ring), 1);
    /// assert_eq!(ring.try_take(), Some(held));
    /// # Ok::<(), iobuf_pool::Error>(())
    /// ```
    #[cold]
    pub fn revoke_uncollected<S: Source + ?Sized>(&self, source: &S) -> usize {
        if self.uncollected.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        let mut revoked = 0;
        loop {
            let index = {
                let mut q = self.lock();
                let stale = q.nodes.iter_mut().find(|n| {
                    n.handed.is_some() && n.served_at.is_some_and(|t| t.elapsed() >= self.grace)
                });
                let Some(node) = stale else { break };
                node.served_at = None;
                self.uncollected.fetch_sub(1, Ordering::Relaxed);
                node.handed.take()
            };
            if let Some(index) = index {
                revoked += 1;
                self.release(source, index);
            }
        }
        revoked
    }

    /// While there are both waiters and free indices: hand one over, wake
    /// its waiter (outside the lock).
    ///
    /// The source is called with the lock *released*: a source's take may
    /// itself return indices and notify this list (a thread-cached pool
    /// reclaims exited threads' magazines inside its take), and a nested
    /// `serve` then simply takes the lock. An index taken while the queue
    /// emptied goes back, and the loop looks at the counter again: a waiter
    /// that queued meanwhile either finds it (its look after queueing) or
    /// is seen here (the put is a sequentially consistent write followed by
    /// the counter's load, the store-buffering pair of the contract).
    #[cold]
    fn serve<S: Source + ?Sized>(&self, source: &S) {
        while self.has_waiters() {
            let Some(index) = source.try_take() else {
                return;
            };
            let handed = {
                let mut q = self.lock();
                self.hand_front(&mut q, index)
            };
            match handed {
                Ok(Some(waker)) => waker.wake(),
                Ok(None) => {}
                // Nobody is queued any more (cancelled or served by another
                // returner): never lose the index.
                Err(index) => source.put(index),
            }
        }
    }
}

/// A future that yields a free index of its [`Source`], waiting in the
/// source's [`WaitList`] while there is none.
///
/// Cancel-safe: dropping it before it completes loses no index and no
/// wake-up (an index already handed to it goes to the next waiter). It
/// yields the index once; polling it again after that starts a new
/// acquisition. The index is the caller's: give it back with
/// [`WaitList::release`].
///
/// ```
/// use iobuf_pool::sync::{Acquire, IndexRing, Source, WaitList};
/// use std::sync::Arc;
///
/// struct Ring(IndexRing, WaitList);
/// impl Source for Ring {
///     fn wait_list(&self) -> &WaitList { &self.1 }
///     fn try_take(&self) -> Option<usize> { self.0.pop() }
///     fn put(&self, i: usize) { /* SAFETY: a taken index, returned once */ unsafe { self.0.push(i) }.unwrap() }
/// }
///
/// let ring = Arc::new(Ring(IndexRing::full(1)?, WaitList::new()));
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// rt.block_on(async {
///     let held = Acquire::new(ring.clone()).await;
///     // The ring is dry: this task waits until the index comes back.
///     let waiter = tokio::spawn(Acquire::new(ring.clone()));
///     tokio::task::yield_now().await;
///     assert_eq!(ring.1.waiters(), 1);
///     ring.1.release(&*ring, held);
///     assert_eq!(waiter.await.unwrap(), held);
/// });
/// # Ok::<(), iobuf_pool::Error>(())
/// ```
pub struct Acquire<S: Source> {
    source: S,
    /// Our entry in the wait list, or [`NIL`] while not queued.
    node: usize,
}

// No field is structurally pinned: `poll` only ever uses `&S`.
impl<S: Source> Unpin for Acquire<S> {}

impl<S: Source> fmt::Debug for Acquire<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("queued", &(self.node != NIL))
            .finish()
    }
}

impl<S: Source> Acquire<S> {
    /// A future for a free index of `source`. Does nothing until polled.
    pub fn new(source: S) -> Self {
        Acquire { source, node: NIL }
    }

    /// The source this future takes from.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// First poll (or first after completion): take, or queue and look again.
    fn start(&mut self, cx: &mut Context<'_>) -> Poll<usize> {
        let list = self.source.wait_list();
        // Queue behind waiters that are already there rather than overtake them.
        if !list.has_waiters() {
            if let Some(index) = self.source.try_take() {
                return Poll::Ready(index);
            }
        }
        let waker = cx.waker().clone();
        let queued = {
            let mut q = list.lock();
            let queued = q.push_back(waker);
            if queued.is_ok() {
                // Under the lock, so the count matches the queue.
                list.waiting.fetch_add(1, SC);
            }
            queued
        };
        match queued {
            Ok(id) => self.node = id,
            Err(waker) => {
                drop(waker);
                // The table cannot grow: retry through the executor.
                if let Some(index) = self.source.try_take() {
                    return Poll::Ready(index);
                }
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
        // The look after the counter went up: serves the front waiter (us,
        // if nobody is ahead) from any index a returner put before it read
        // the counter.
        list.serve(&self.source);
        self.check(cx)
    }

    /// A queued future's poll: an index handed to us, or wait on.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<usize> {
        if let Some(index) = self.collect() {
            return Poll::Ready(index);
        }
        let list = self.source.wait_list();
        // At the front while another future's hand-over is uncollected (it
        // may have been forgotten): take it back once its grace is over,
        // which serves us; until then, ask to be polled again.
        let front = list.lock().head == self.node;
        if front && list.uncollected.load(Ordering::Relaxed) != 0 {
            list.revoke_uncollected(&self.source);
            if let Some(index) = Self::collect_for(&self.source, self.node) {
                self.node = NIL;
                return Poll::Ready(index);
            }
            if list.uncollected.load(Ordering::Relaxed) != 0 {
                cx.waker().wake_by_ref();
            }
        }
        let mut q = list.lock();
        let id = self.node;
        if let Some(index) = q.nodes[id].handed {
            // Served since the look above.
            list.uncollected.fetch_sub(1, Ordering::Relaxed);
            let old = q.vacate(id);
            drop(q);
            drop(old);
            self.node = NIL;
            return Poll::Ready(index);
        }
        let node = &mut q.nodes[id];
        let stale = match &node.waker {
            Some(w) => !w.will_wake(cx.waker()),
            None => true,
        };
        let old = if stale {
            node.waker.replace(cx.waker().clone())
        } else {
            None
        };
        drop(q);
        drop(old);
        Poll::Pending
    }
}

impl<S: Source> Acquire<S> {
    /// Our index if one was handed to us (then the entry is vacated); if
    /// ours was taken back (revoked), queues us again at the front and
    /// looks at the free list once more.
    fn collect(&mut self) -> Option<usize> {
        let index = Self::collect_for(&self.source, self.node)?;
        self.node = NIL;
        Some(index)
    }

    /// [`collect`](Self::collect) for entry `id` of `source`'s list; the
    /// caller forgets `id` when this returns an index.
    fn collect_for(source: &S, id: usize) -> Option<usize> {
        let list = source.wait_list();
        let mut q = list.lock();
        if let Some(index) = q.nodes[id].handed {
            list.uncollected.fetch_sub(1, Ordering::Relaxed);
            let old = q.vacate(id);
            drop(q);
            drop(old);
            return Some(index);
        }
        if q.nodes[id].queued {
            return None;
        }
        // Revoked: back at the front, counted, and the look after queueing.
        q.push_front(id);
        list.waiting.fetch_add(1, SC);
        drop(q);
        list.serve(source);
        let mut q = list.lock();
        let index = q.nodes[id].handed?;
        list.uncollected.fetch_sub(1, Ordering::Relaxed);
        let old = q.vacate(id);
        drop(q);
        drop(old);
        Some(index)
    }
}

impl<S: Source> Future for Acquire<S> {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let this = self.get_mut();
        if this.node == NIL {
            this.start(cx)
        } else {
            this.check(cx)
        }
    }
}

impl<S: Source> Drop for Acquire<S> {
    fn drop(&mut self) {
        let id = self.node;
        if id == NIL {
            return;
        }
        self.node = NIL;
        let list = self.source.wait_list();
        let mut q = list.lock();
        let handed = q.nodes[id].handed;
        if handed.is_some() {
            list.uncollected.fetch_sub(1, Ordering::Relaxed);
        } else if q.nodes[id].queued {
            q.unlink(id);
            list.waiting.fetch_sub(1, SC);
        }
        // (Neither: revoked, already out of the queue and owed nothing.)
        let old = q.vacate(id);
        // An index handed to us but never yielded: straight to the next
        // waiter, or back to the free list if there is none.
        let pass_on = handed.map(|index| list.hand_front(&mut q, index));
        drop(q);
        drop(old);
        match pass_on {
            Some(Ok(Some(waker))) => waker.wake(),
            Some(Err(index)) => list.release(&self.source, index),
            Some(Ok(None)) | None => {}
        }
    }
}

#[cfg(all(test, not(loom)))]
#[path = "waiters_tests.rs"]
mod tests;
