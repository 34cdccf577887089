#!/usr/bin/env bash
# The loom models of the index ring and the per-thread cache
# (tests/loom.rs) and of the ring's batch operations (tests/loom_batch.rs):
# every interleaving within the preemption bound.
# LOOM_MAX_PREEMPTIONS overrides the bounds the tests choose.
set -euo pipefail
cd "$(dirname "$0")/.."
# Its own target directory: --cfg loom rebuilds everything, and sharing
# target/ would throw away the ordinary build each time.
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo test -p iobuf --release --test loom --test loom_batch --no-default-features "$@"
