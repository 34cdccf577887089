#!/usr/bin/env bash
# The loom models (every tests/loom*.rs): the index ring and the per-thread
# cache (tests/loom.rs), the ring's batches (tests/loom_batch.rs), the async acquire's wait list
# (tests/loom_waiters.rs), the transparent thread cache's magazines, thread
# exits and reclaims (tests/loom_thread_cache.rs): every interleaving within
# the preemption bound.
# LOOM_MAX_PREEMPTIONS overrides the bounds the tests choose; further
# arguments go to every test binary (a test name filter, for example).
set -euo pipefail
cd "$(dirname "$0")/.."
tests=()
for f in tests/loom*.rs; do
    tests+=(--test "$(basename "$f" .rs)")
done
# Its own target directory: --cfg loom rebuilds everything, and sharing
# target/ would throw away the ordinary build each time.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo test -p iobuf-pool --release "${tests[@]}" --no-default-features "$@"
