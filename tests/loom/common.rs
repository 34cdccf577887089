//! Helpers every loom model shares: the model runner with its default
//! preemption bound, the per-index ownership flags and payload cells of the
//! exactly-once and memory-ordering checks, and a waker that does nothing.

use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicBool, Ordering};
use std::task::{Wake, Waker};

/// A model runner with a preemption bound unless the environment sets one
/// (`LOOM_MAX_PREEMPTIONS`).
pub fn builder(default_bound: usize) -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(default_bound);
    }
    b
}

/// Per-index ownership flag and payload, shared by the threads of a model.
pub struct Owners {
    held: Vec<AtomicBool>,
    payload: Vec<UnsafeCell<usize>>,
}

impl Owners {
    pub fn new(capacity: usize) -> Self {
        Owners {
            held: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            payload: (0..capacity).map(|_| UnsafeCell::new(usize::MAX)).collect(),
        }
    }

    /// Records that `who` now holds `index`; fails if someone else does.
    /// Writes a stamp into the index's payload and reads it back: the
    /// previous holder's accesses must happen-before these, or loom reports
    /// a race on the cell.
    pub fn acquire(&self, index: usize, who: usize) {
        assert!(
            !self.held[index].swap(true, Ordering::Relaxed),
            "index {index} handed out while still held"
        );
        self.payload[index].with_mut(|p| {
            // SAFETY: loom's cell checks this access itself; the pointer is
            // valid for the cell's lifetime.
            unsafe { *p = who };
        });
        let seen = self.payload[index].with(|p| {
            // SAFETY: as above.
            unsafe { *p }
        });
        assert_eq!(
            seen, who,
            "payload of index {index} changed under its holder"
        );
    }

    /// Records that `index` is being given back; fails if it was not held.
    pub fn release(&self, index: usize) {
        assert!(
            self.held[index].swap(false, Ordering::Relaxed),
            "index {index} given back while not held"
        );
    }

    /// Every index exactly once in `drained`, and nothing still held.
    pub fn check_all_back(&self, mut drained: Vec<usize>) {
        drained.sort_unstable();
        let expected: Vec<usize> = (0..self.held.len()).collect();
        assert_eq!(drained, expected, "indices lost or duplicated");
        for (i, h) in self.held.iter().enumerate() {
            assert!(!h.load(Ordering::Relaxed), "index {i} still marked held");
        }
    }
}

/// A waker that does nothing: for a first, manual poll of a future that
/// `loom::future::block_on` then finishes with its own waker.
struct Noop;

impl Wake for Noop {
    fn wake(self: std::sync::Arc<Self>) {}
}

/// A [`Noop`] waker.
pub fn noop() -> Waker {
    Waker::from(std::sync::Arc::new(Noop))
}
