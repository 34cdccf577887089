#!/usr/bin/env bash
# The bench's resolution (issue 23): the default check level against
# `--check lean`, the minimal loops, on the same pools in the same minutes.
# For each case (pairs at 1 and 2 threads, handoff 1 -> 1) the two levels
# alternate REPEATS times; scripts/resolution.py then compares each pool's
# ratio to crossbeam and the order of the pools.
#
# usage: scripts/resolution.sh NAME   writes results/resolution-NAME.json
#                                     and results/resolution-NAME.md
# env:   REPEATS (default 3), IOBUF_BENCH_BIN (a binary instead of building)
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/resolution.sh MACHINE-NAME}
repeats=${REPEATS:-3}
bin=${IOBUF_BENCH_BIN:-}
if [[ -z "$bin" ]]; then
    cargo build --release --quiet --bin iobuf-bench
    bin=target/release/iobuf-bench
fi
pools=crossbeam,iobuf,iobuf-tc,iobuf-cached,iobuf-owned,opool,sharded-slab,concurrent-queue,parking-lot
# The run documents stay (not committed): rerun the summary on them.
work=target/resolution-$name
rm -rf "$work"
mkdir -p "$work"
cases=("pairs 1" "pairs 2" "handoff 2")
for r in $(seq "$repeats"); do
    for c in "${cases[@]}"; do
        set -- $c
        for level in sampled lean; do
            "$bin" run -q --tier small --scenario "$1" --threads "$2" --pools "$pools" \
                --runs 5 --duration 300ms --warmup 100ms --check "$level" \
                --out "$work/$1-$2-$level-$r.json" >/dev/null
        done
    done
done
mkdir -p results
python3 scripts/resolution.py "$name, $(nproc) CPUs, $(uname -sr)" "$work"/*.json \
    --json "results/resolution-$name.json" >"results/resolution-$name.md"
cat "results/resolution-$name.md"
