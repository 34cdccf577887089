//! Exhaustive interleaving checks of the lock-free code under loom's model
//! of the C11 memory model: one binary, one module per subject, the helpers
//! defined once (`common`).
//!
//! * `ring`: the index ring and the pool's reuse slot in front of it;
//! * `batch`: the ring's batch pops and pushes against single ones;
//! * `waiters`: the async wait list (lost wake-ups, cancellation);
//! * `thread_cache`: the per-thread magazines, thread exits and reclaims;
//! * `liveness`: the wait list together with orphaned magazines;
//! * `lifetime`: the pool's memory outliving its handle for owned buffers.
//!
//! Run with `scripts/loom.sh` (or
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom --no-default-features`);
//! each module's docs list the mutations its models catch.
#![cfg(loom)]

mod batch;
mod common;
mod lifetime;
mod liveness;
mod ring;
mod thread_cache;
mod waiters;
