#!/usr/bin/env bash
# Miri over the library's unit tests (ring, pools, cache, memory, IoVec)
# and the exactly-once stress tests at a size Miri can run: undefined
# behaviour, data races and aliasing violations in the unsafe code.
# Skips with a plain message where the nightly toolchain has no Miri.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly miri --version >/dev/null 2>&1; then
    # A fresh machine: the nightly toolchain is there, its Miri may not be.
    rustup component add miri rust-src --toolchain nightly >/dev/null 2>&1 || true
fi
if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "Miri could not be installed for nightly; skipping (rustup component add miri rust-src --toolchain nightly)"
    exit 0
fi
export CARGO_TARGET_DIR=target/miri
# Real threads and the clock are used by the blocking-get paths.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
# The lib tests include the raw-token ownership and registration tests
# (src/pool/: tokens of another pool, into_raw/guard round trips,
# slab_iovec/iovecs while guards hold &mut to their buffers).
# tests/alloc_limits.rs is not run here: it spawns processes and calls
# setrlimit, which Miri cannot.
cargo +nightly miri test -p iobuf-pool --no-default-features --lib
# Every stress case of the pools and the ring's batches, shrunk under Miri
# (fewer operations, capacities 1 and 3, at most 3 threads; see
# tests/stress/common.rs): Miri runs each thread interleaving it picks at the
# instruction level, about 10^4 times slower, and checks every access to the
# buffers for data races. The liveness module (real time, a runtime) is not
# built under Miri.
cargo +nightly miri test -p iobuf-pool --no-default-features --test stress
