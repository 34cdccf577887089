//! Multi-threaded stress tests with exactly-once ownership ledgers: one
//! binary, one module per subject, the helpers defined once (`common`).
//!
//! Every case keeps one flag per buffer index: swapped to "held" right after
//! a get (it must have been clear) and back right before the return (it
//! must have been set). Holders stamp the bytes they own and check the
//! stamp before returning; a new holder checks the last holder's stamp. Two
//! holders at once, a lost write, or bytes not yet visible to the next
//! holder fail a test; after the threads stop, draining the pool must give
//! every index exactly once.
//!
//! * `pool`: the pools under contention (guards, batches, cross-thread
//!   returns, raw tokens, blocking gets, caches, typed and generic pools);
//! * `lifetime`: owned buffers outliving their pool's handle;
//! * `ring_batch`: the ring's batch operations mixed with single ones;
//! * `liveness`: no deadlock, stall, double hand-out or loss when the
//!   features meet (thread caches, the wait list, blocking, timed and async
//!   gets, batches, thread churn, cancelled and forgotten futures).
//!
//! The work is a fixed number of operations per case; `IOBUF_STRESS_OPS`
//! scales it. Under Miri (`scripts/miri.sh`) the cases shrink and the
//! liveness module, which needs real time and a runtime, is skipped.

mod common;
mod lifetime;
#[cfg(not(any(miri, loom)))]
mod liveness;
mod pool;
mod ring_batch;
#[path = "../slab_watch/mod.rs"]
mod slab_watch;
