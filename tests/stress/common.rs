//! Helpers every stress module shares: the capacities and thread counts
//! each case covers, the operation budget, the deadline that turns a
//! deadlock into a failure, and a small seeded generator.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

#[cfg(not(miri))]
pub const CAPACITIES: [usize; 7] = [1, 2, 3, 4, 7, 16, 1024];
/// Miri interprets every access: the smallest ring, where every slot is
/// contended, and a capacity that is not a power of two.
#[cfg(miri)]
pub const CAPACITIES: [usize; 2] = [1, 3];

/// How long a case may take before it is declared deadlocked. Not a speed
/// check: every case finishes in a small fraction of this.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// Total operations of one case, shared among its threads.
pub fn total_ops() -> usize {
    std::env::var("IOBUF_STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        // Under Miri (which checks every access for data races and runs
        // some thousand times slower) a token amount still crosses threads:
        // Miri is there for the unsafe paths, not for volume.
        .unwrap_or(if cfg!(miri) { 24 } else { 120_000 })
}

pub fn cores() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get())
}

/// Two threads, and eight times as many threads as cores (three under
/// Miri, whose threads all run on one host thread anyway).
pub fn thread_counts() -> [usize; 2] {
    [2, many_threads()]
}

pub fn many_threads() -> usize {
    if cfg!(miri) {
        3
    } else {
        (8 * cores()).min(64)
    }
}

/// Runs `case` on its own thread and fails if it does not finish in time.
pub fn with_deadline(name: &str, case: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = mpsc::channel();
    let worker = thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            case();
            let _ = done_tx.send(());
        })
        .unwrap();
    match done_rx.recv_timeout(DEADLINE) {
        Ok(()) => worker.join().unwrap(),
        // The case panicked: join to re-raise its message.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(e) = worker.join() {
                std::panic::resume_unwind(e);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: not finished after {DEADLINE:?}: deadlock or starvation")
        }
    }
}

/// xorshift64: cheap per-thread choices without a shared generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: usize) -> Self {
        Rng(0x9E37_79B9_7F4A_7C15 ^ (seed as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D))
    }
    /// A generator from a 64-bit seed (a replayable run names its seed).
    #[cfg_attr(any(miri, loom), allow(dead_code))]
    pub fn seeded(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
