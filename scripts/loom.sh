#!/usr/bin/env bash
# The loom models (tests/loom/: the index ring and the reuse slot, the
# ring's batches, the async acquire's wait list, the transparent thread
# cache's magazines, thread exits and reclaims, and the wait list with
# orphaned magazines): every interleaving within the preemption bound.
# LOOM_MAX_PREEMPTIONS overrides the bounds the models choose; further
# arguments go to the test binary (a test name filter, for example).
set -euo pipefail
cd "$(dirname "$0")/.."
# Its own target directory: --cfg loom rebuilds everything, and sharing
# target/ would throw away the ordinary build each time.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo test -p iobuf-pool --release --test loom --no-default-features -- "$@"
