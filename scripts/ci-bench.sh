#!/usr/bin/env bash
# The CI regression gate: a short benchmark (about 15 s once built) compared
# against the committed baseline with `iobuf-bench compare`.
#
# What it measures: pairs (take a buffer, return it) on the small tier, one
# thread, every iobuf row that runs in pairs and crossbeam, in interleaved
# rounds (every row once per round, round after round), and the ceiling row
# that every run has. The gate is on each iobuf row's throughput over the
# ceiling's in the same round, which survives a slower or busier CI machine;
# `compare` decides with a 95% interval (Yuen's t on 20%-trimmed means) of
# the per-round ratios and prints the smallest drop the data could detect.
# What the gate can catch on this machine is measured by `iobuf-bench
# calibrate` (scripts/calibrate.sh, results/calibrate-2core-*.json; see
# iobuf-bench/README.md).
# Contended cases (2+ threads) are not gated: on a 2-core CI machine they
# measure the scheduler; run them with scripts/full-matrix.sh on a quiet
# machine.
#
# usage: scripts/ci-bench.sh            run and compare (exit 0 pass, 1 regression, 2 bad input)
#        scripts/ci-bench.sh --update   run and make this run the new baseline
# env:   IOBUF_CI_THRESHOLD  largest tolerated drop (default 0.10)
#        IOBUF_CI_ROUNDS     rounds (default 10)
#        IOBUF_BENCH_BIN     an iobuf-bench binary to use instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."

threshold=${IOBUF_CI_THRESHOLD:-0.10}
rounds=${IOBUF_CI_ROUNDS:-10}
baseline=results/ci-baseline.json
work=target/ci-bench
mkdir -p "$work"

bin=${IOBUF_BENCH_BIN:-}
if [[ -z "$bin" ]]; then
    # Without the peers (not gated) and without debug info: the gate's
    # build is most of its time on a fresh 2-core runner. Its own target
    # directory, so that other release builds keep their settings.
    start=$(date +%s)
    CARGO_PROFILE_RELEASE_DEBUG=0 cargo build --release --quiet -p iobuf-bench \
        --no-default-features --target-dir target/ci-gate
    bin=target/ci-gate/release/iobuf-bench
    echo "built the bench in $(($(date +%s) - start)) s"
fi

# Keep in step with the baseline: cases are matched by their whole
# configuration (scenario kind and params, tier, capacity, threads, rate, pool).
bench() {
    # `run` exits 1 on an integrity failure; compare reports that as a
    # regression, so carry on to the comparison either way.
    "$bin" run --tier small --scenario pairs --threads 1 --runs "$rounds" \
        --pools iobuf,iobuf-ring,iobuf-tc,iobuf-owned,iobuf-async,iobuf-tokio,crossbeam \
        --duration 100ms --warmup 30ms --quiet --out "$1" >"$1.txt" ||
        echo "iobuf-bench run exited $? (see $1.txt)" >&2
    cat "$1.txt"
}

if [[ "${1:-}" == "--update" ]]; then
    mkdir -p results
    bench "$work/new-baseline.json"
    cp "$work/new-baseline.json" "$baseline"
    echo "wrote $baseline"
    exit 0
fi

if [[ ! -f $baseline ]]; then
    echo "$baseline is missing; record one with: scripts/ci-bench.sh --update" >&2
    exit 2
fi

bench "$work/current.json"
exec "$bin" compare "$baseline" "$work/current.json" --threshold "$threshold"
