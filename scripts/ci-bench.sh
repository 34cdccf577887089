#!/usr/bin/env bash
# The CI regression gate: a short benchmark (about 30 s once built) compared
# against the committed baseline with `iobuf-bench compare`.
#
# What it measures: the pairs scenario (take a buffer, return it) on the
# small and big tiers, one thread, every pool, three times. The gate is on
# ratios measured in the same session (iobuf / crossbeam, iobuf / mutex,
# iobuf-fifo / crossbeam, iobuf-cached / crossbeam), which survive a slower CI machine; each pool's
# figure is its best of the three runs, because noise on a shared machine
# only ever slows a run down. Contended cases (2+ threads) are not gated: on
# a 2-core CI machine they measure the scheduler (the same binary's ratios
# swung by 3× between runs there); run them with scripts/full-matrix.sh on
# a quiet machine.
#
# usage: scripts/ci-bench.sh            run and compare (exit 0 pass, 1 regression, 2 bad input)
#        scripts/ci-bench.sh --update   run and make these runs the new baseline
# env:   IOBUF_CI_THRESHOLD  largest tolerated drop (default 0.25)
#        IOBUF_BENCH_BIN     an iobuf-bench binary to use instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."

threshold=${IOBUF_CI_THRESHOLD:-0.25}
runs=3
# The baseline's runs: ci-baseline.json, then ci-baseline.repeat-2.json, ...
baseline_file() { if [[ $1 == 1 ]]; then echo results/ci-baseline.json; else echo "results/ci-baseline.repeat-$1.json"; fi; }
work=target/ci-bench
mkdir -p "$work"

bin=${IOBUF_BENCH_BIN:-}
if [[ -z "$bin" ]]; then
    cargo build --release --quiet --bin iobuf-bench
    bin=target/release/iobuf-bench
fi

# Keep in step with the baseline: cases are matched by their whole
# configuration (scenario kind and params, tier, capacity, threads, rate, pool).
bench() {
    # `run` exits 1 on an integrity failure; compare reports that as a
    # regression, so carry on to the comparison either way.
    "$bin" run --tier small,big --scenario pairs --threads 1 --runs 1 \
        --pools iobuf,iobuf-fifo,iobuf-cached,mutex,crossbeam \
        --duration 1s --warmup 200ms --quiet --out "$1" >"$1.txt" ||
        echo "iobuf-bench run exited $? (see $1.txt)" >&2
    cat "$1.txt"
}

if [[ "${1:-}" == "--update" ]]; then
    mkdir -p results
    for ((i = 1; i <= runs; i++)); do
        bench "$work/new-baseline-$i.json"
        cp "$work/new-baseline-$i.json" "$(baseline_file "$i")"
        echo "wrote $(baseline_file "$i")"
    done
    exit 0
fi

if [[ ! -f $(baseline_file 1) ]]; then
    echo "$(baseline_file 1) is missing; record one with: scripts/ci-bench.sh --update" >&2
    exit 2
fi

args=("$(baseline_file 1)" "$work/current-1.json")
for ((i = 1; i <= runs; i++)); do
    bench "$work/current-$i.json"
    if ((i > 1)); then
        args+=(--current-repeat "$work/current-$i.json")
        if [[ -f $(baseline_file "$i") ]]; then
            args+=(--baseline-repeat "$(baseline_file "$i")")
        fi
    fi
done
exec "$bin" compare "${args[@]}" --threshold "$threshold"
