//! Unit tests of `src/waiters.rs` (their own file, so that the module's
//! code and its proofs read on their own).

use super::*;
use std::sync::atomic::AtomicUsize as StdCount;
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Wake;

/// A free list of a `Vec` under a mutex (sequentially consistent, as
/// the contract asks: a mutex is).
struct VecSource {
    free: StdMutex<Vec<usize>>,
    list: WaitList,
}

impl VecSource {
    /// A source whose hand-overs are never taken back (whatever the
    /// clock does: Miri runs slowly).
    fn new(free: Vec<usize>) -> Self {
        Self::with_list(free, WaitList::with_limits(usize::MAX, Duration::MAX))
    }
    /// A source whose uncollected hand-overs may be taken back at once.
    fn revoking(free: Vec<usize>) -> Self {
        Self::with_list(free, WaitList::with_limits(usize::MAX, Duration::ZERO))
    }
    fn with_list(free: Vec<usize>, list: WaitList) -> Self {
        VecSource {
            free: StdMutex::new(free),
            list,
        }
    }
    fn free_now(&self) -> Vec<usize> {
        let mut v = self.free.lock().unwrap().clone();
        v.sort_unstable();
        v
    }
    fn table_len(&self) -> usize {
        self.list.lock().nodes.len()
    }
}

impl Source for VecSource {
    fn wait_list(&self) -> &WaitList {
        &self.list
    }
    fn try_take(&self) -> Option<usize> {
        self.free.lock().unwrap().pop()
    }
    fn put(&self, index: usize) {
        self.free.lock().unwrap().push(index);
    }
}

/// A waker that counts its wakes.
#[derive(Default)]
struct Counter(StdCount);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> (Arc<Counter>, Waker) {
    let c = Arc::new(Counter::default());
    (c.clone(), Waker::from(c))
}

fn wakes(c: &Counter) -> usize {
    c.0.load(Ordering::SeqCst)
}

fn poll<S: Source>(f: &mut Acquire<S>, w: &Waker) -> Poll<usize> {
    Pin::new(f).poll(&mut Context::from_waker(w))
}

#[test]
fn a_free_index_is_taken_at_once_without_queueing() {
    let s = VecSource::new(vec![7]);
    let (c, w) = counter();
    let mut f = Acquire::new(&s);
    assert_eq!(poll(&mut f, &w), Poll::Ready(7));
    assert_eq!(s.list.waiters(), 0);
    assert_eq!(s.table_len(), 0, "no entry allocated on the fast path");
    assert_eq!(wakes(&c), 0);
}

#[test]
fn a_dry_source_queues_and_a_release_hands_over_and_wakes() {
    let s = VecSource::new(vec![]);
    let (c, w) = counter();
    let mut f = Acquire::new(&s);
    assert_eq!(poll(&mut f, &w), Poll::Pending);
    assert!(s.list.has_waiters());
    assert_eq!(s.list.waiters(), 1);
    assert_eq!(poll(&mut f, &w), Poll::Pending, "a spurious poll waits on");
    s.list.release(&s, 3);
    assert_eq!(wakes(&c), 1);
    assert_eq!(s.free_now(), Vec::<usize>::new(), "handed over directly");
    assert!(!s.list.has_waiters());
    assert_eq!(poll(&mut f, &w), Poll::Ready(3));
    drop(f);
    assert_eq!(s.free_now(), Vec::<usize>::new());
}

#[test]
fn a_release_with_nobody_waiting_only_puts() {
    let s = VecSource::new(vec![]);
    s.list.release(&s, 1);
    s.list.release(&s, 0);
    assert_eq!(s.free_now(), vec![0, 1]);
    assert_eq!(s.table_len(), 0);
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let s = VecSource::new(vec![]);
    let ws: Vec<_> = (0..3).map(|_| counter()).collect();
    let mut fs: Vec<_> = (0..3).map(|_| Acquire::new(&s)).collect();
    for (f, (_, w)) in fs.iter_mut().zip(&ws) {
        assert_eq!(poll(f, w), Poll::Pending);
    }
    assert_eq!(s.list.waiters(), 3);
    for (k, index) in [10, 11, 12].into_iter().enumerate() {
        s.list.release(&s, index);
        for (j, (c, _)) in ws.iter().enumerate() {
            assert_eq!(wakes(c), usize::from(j <= k), "after release {k}");
        }
    }
    for ((f, (_, w)), index) in fs.iter_mut().zip(&ws).zip([10, 11, 12]) {
        assert_eq!(poll(f, w), Poll::Ready(index));
    }
}

#[test]
fn a_new_future_does_not_overtake_a_queued_one() {
    let s = VecSource::new(vec![]);
    let (ca, wa) = counter();
    let (cb, wb) = counter();
    let mut a = Acquire::new(&s);
    assert_eq!(poll(&mut a, &wa), Poll::Pending);
    // An index appears without a notify (as from a racing returner
    // that read the counter before `a` queued).
    s.put(5);
    let mut b = Acquire::new(&s);
    assert_eq!(poll(&mut b, &wb), Poll::Pending, "b queues behind a");
    assert_eq!(wakes(&ca), 1, "b's look served a");
    // b, now at the front while a's hand-over is uncollected, may ask
    // to be polled again (to take back a forgotten hand-over), but is
    // not served before a.
    assert_eq!(poll(&mut b, &wb), Poll::Pending);
    assert_eq!(poll(&mut a, &wa), Poll::Ready(5));
    let before = wakes(&cb);
    s.list.release(&s, 5);
    assert_eq!(wakes(&cb), before + 1, "the release wakes b");
    assert_eq!(poll(&mut b, &wb), Poll::Ready(5));
}

#[test]
fn the_look_after_queueing_finds_an_index_put_unnotified() {
    let s = VecSource::new(vec![]);
    let (c, w) = counter();
    let mut f = Acquire::new(&s);
    // Simulate the interleaving: the fast take fails, then a returner
    // puts and reads a zero counter, then we queue. The look after
    // queueing must find the index.
    assert!(s.try_take().is_none());
    s.put(9);
    let list = &s.list;
    let id = list.lock().push_back(w.clone()).unwrap();
    list.waiting.fetch_add(1, SC);
    f.node = id;
    list.serve(&s);
    assert_eq!(poll(&mut f, &w), Poll::Ready(9));
    assert_eq!(wakes(&c), 1);
    assert!(!list.has_waiters());
}

#[test]
fn cancelling_a_queued_future_dequeues_it() {
    let s = VecSource::new(vec![]);
    let (c, w) = counter();
    let mut f = Acquire::new(&s);
    assert_eq!(poll(&mut f, &w), Poll::Pending);
    drop(f);
    assert!(!s.list.has_waiters());
    s.list.release(&s, 2);
    assert_eq!(s.free_now(), vec![2]);
    assert_eq!(wakes(&c), 0);
}

#[test]
fn cancelling_a_served_future_passes_the_index_on() {
    let s = VecSource::new(vec![]);
    let (ca, wa) = counter();
    let (cb, wb) = counter();
    let mut a = Acquire::new(&s);
    let mut b = Acquire::new(&s);
    assert_eq!(poll(&mut a, &wa), Poll::Pending);
    assert_eq!(poll(&mut b, &wb), Poll::Pending);
    s.list.release(&s, 4);
    assert_eq!(wakes(&ca), 1);
    drop(a); // served but never polled again
    assert_eq!(wakes(&cb), 1, "the index went on to b");
    assert_eq!(s.free_now(), Vec::<usize>::new());
    s.list.release(&s, 6);
    assert_eq!(s.free_now(), vec![6], "b is served, not queued");
    drop(b); // served with 4, nobody waits: 4 goes back
    assert_eq!(s.free_now(), vec![4, 6]);
    assert!(!s.list.has_waiters());
}

#[test]
fn an_uncollected_hand_over_is_taken_back_after_its_grace_and_the_live_future_requeues_at_the_front(
) {
    let s = VecSource::revoking(vec![]);
    let (_, wa) = counter();
    let (_, wb) = counter();
    let mut a = Acquire::new(&s);
    assert_eq!(poll(&mut a, &wa), Poll::Pending);
    s.list.release(&s, 1); // handed to a, which is slow to collect
                           // b finds the source dry, queues at the front, and takes a's stale
                           // index back, which serves it.
    let mut b = Acquire::new(&s);
    assert_eq!(poll(&mut b, &wb), Poll::Ready(1));
    // a lost its index, not its place: it queues again at the front.
    assert_eq!(poll(&mut a, &wa), Poll::Pending);
    let mut c = Acquire::new(&s);
    assert_eq!(poll(&mut c, &wb), Poll::Pending);
    s.list.release(&s, 2); // to a, the front
    assert_eq!(poll(&mut a, &wa), Poll::Ready(2));
    assert_eq!(poll(&mut c, &wb), Poll::Pending, "c was behind a");
    drop(c);
    assert!(!s.list.has_waiters());
    assert_eq!(s.free_now(), Vec::<usize>::new());
}

#[test]
fn a_hand_over_within_its_grace_is_not_taken_back() {
    let s = VecSource::new(vec![]);
    let (_, w) = counter();
    let mut a = Acquire::new(&s);
    assert_eq!(poll(&mut a, &w), Poll::Pending);
    s.list.release(&s, 3);
    assert_eq!(s.list.revoke_uncollected(&s), 0);
    assert_eq!(poll(&mut a, &w), Poll::Ready(3));
}

#[test]
fn a_revoked_future_dropped_owes_nothing() {
    let s = VecSource::revoking(vec![]);
    let (_, w) = counter();
    let mut a = Acquire::new(&s);
    assert_eq!(poll(&mut a, &w), Poll::Pending);
    s.list.release(&s, 3);
    assert_eq!(s.list.revoke_uncollected(&s), 1);
    assert_eq!(s.free_now(), vec![3], "nobody waits: back to the free list");
    drop(a);
    assert!(!s.list.has_waiters());
    assert_eq!(s.list.uncollected.load(Ordering::Relaxed), 0);
    assert_eq!(s.free_now(), vec![3]);
}

#[test]
fn a_changed_waker_replaces_the_stored_one() {
    let s = VecSource::new(vec![]);
    let (c1, w1) = counter();
    let (c2, w2) = counter();
    let mut f = Acquire::new(&s);
    assert_eq!(poll(&mut f, &w1), Poll::Pending);
    assert_eq!(poll(&mut f, &w2), Poll::Pending);
    s.list.release(&s, 0);
    assert_eq!((wakes(&c1), wakes(&c2)), (0, 1));
    assert_eq!(poll(&mut f, &w2), Poll::Ready(0));
}

#[test]
fn entries_are_reused_not_reallocated() {
    let s = VecSource::new(vec![]);
    let (_, w) = counter();
    for round in 0..100 {
        let mut a = Acquire::new(&s);
        let mut b = Acquire::new(&s);
        assert_eq!(poll(&mut a, &w), Poll::Pending);
        assert_eq!(poll(&mut b, &w), Poll::Pending);
        if round % 2 == 0 {
            s.list.release(&s, round);
            assert_eq!(poll(&mut a, &w), Poll::Ready(round));
            // The index stays out, so every round starts dry.
        }
    }
    assert_eq!(s.table_len(), 2, "the most that ever waited at once");
    assert!(!s.list.has_waiters());
    assert_eq!(s.free_now(), Vec::<usize>::new());
}

#[test]
fn a_refused_table_growth_busy_polls_instead_of_failing() {
    let s = VecSource::with_list(vec![], WaitList::with_limits(0, Duration::MAX));
    let (c, w) = counter();
    let mut f = Acquire::new(&s);
    assert_eq!(poll(&mut f, &w), Poll::Pending);
    assert_eq!(wakes(&c), 1, "asks to be polled again at once");
    assert!(!s.list.has_waiters());
    s.list.release(&s, 8);
    assert_eq!(poll(&mut f, &w), Poll::Ready(8));
}

#[test]
fn polling_after_completion_acquires_again() {
    let s = VecSource::new(vec![1, 2]);
    let (_, w) = counter();
    let mut f = Acquire::new(&s);
    let a = poll(&mut f, &w);
    let b = poll(&mut f, &w);
    assert_eq!((a, b), (Poll::Ready(2), Poll::Ready(1)));
    assert_eq!(poll(&mut f, &w), Poll::Pending);
    drop(f);
    assert!(!s.list.has_waiters());
}

#[test]
fn threads_sharing_one_index_all_finish() {
    // A tiny executor per thread: poll, park until woken.
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    fn block_on<F: Future + Unpin>(mut f: F) -> F::Output {
        let w = Waker::from(Arc::new(Unpark(std::thread::current())));
        loop {
            if let Poll::Ready(v) = Pin::new(&mut f).poll(&mut Context::from_waker(&w)) {
                return v;
            }
            std::thread::park();
        }
    }
    let s = Arc::new(VecSource::new(vec![0]));
    let rounds = if cfg!(miri) { 3 } else { 200 };
    let held = Arc::new(StdCount::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (s, held) = (s.clone(), held.clone());
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    let i = block_on(Acquire::new(&*s));
                    assert_eq!(held.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                    held.fetch_sub(1, Ordering::SeqCst);
                    s.list.release(&*s, i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.free_now(), vec![0]);
    assert!(!s.list.has_waiters());
}
