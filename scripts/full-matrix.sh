#!/usr/bin/env bash
# The full benchmark matrix: every tier × a range of thread counts × the
# default scenarios (pairs, handoff) × every pool, into results/full/, then
# the HTML report and the SVG plots the README shows.
#
# usage: scripts/full-matrix.sh
# env:   THREADS   thread counts (default: powers of 2 from 1 to 2 × cores, at most 64)
#        TIERS     tiers, comma-separated (default: all)
#        DURATION  measured time per case (default: 1s)
#        WARMUP    warm-up per case (default: 200ms)
#        IOBUF_BENCH_BIN  an iobuf-bench binary to use instead of building one
# writes: results/full/threads-N.json      one run document per thread count (commit these)
#         results/latest-*.svg             the README's plots (commit these)
#         target/full-matrix/report.html   the whole report (self-contained)
#         target/full-matrix/svg/          every plot as an SVG file
set -euo pipefail
cd "$(dirname "$0")/.."

cores=$(nproc)
if [[ -z "${THREADS:-}" ]]; then
    THREADS=""
    for ((t = 1; t <= 2 * cores && t <= 64; t *= 2)); do THREADS+="$t "; done
fi
TIERS=${TIERS:-all}
DURATION=${DURATION:-1s}
WARMUP=${WARMUP:-200ms}

bin=${IOBUF_BENCH_BIN:-}
if [[ -z "$bin" ]]; then
    cargo build --release --quiet --bin iobuf-bench
    bin=target/release/iobuf-bench
fi
out=results/full
page=target/full-matrix/report.html
svg=target/full-matrix/svg
rm -rf "$out" "$svg"
mkdir -p "$out" "$svg"

for t in $THREADS; do
    # handoff needs a producer and a consumer: at 1 thread it would run 2
    # and collide with the 2-thread run, so 1 thread is pairs only.
    scenarios=pairs,handoff
    [[ $t -ge 2 ]] || scenarios=pairs
    echo "== $t threads: tiers $TIERS, $scenarios"
    "$bin" run --tier "$TIERS" --scenario "$scenarios" --threads "$t" --pools all \
        --duration "$DURATION" --warmup "$WARMUP" --quiet --out "$out/threads-$t.json"
done

"$bin" report "$out"/threads-*.json --out "$page" --svg-dir "$svg" \
    --title "iobuf-bench: full matrix ($(uname -m), $cores logical cores)"

# The README's figures: each scenario's sorted same-run ratios (small
# tier, at the most threads run), and the small tier in absolute numbers.
last=${THREADS##* }
[[ -n "$last" ]] || last=$(echo $THREADS | awk '{print $NF}')
for plot in "summary-pairs-small-${last}t" "summary-handoff-small-${last}t" throughput-pairs-small throughput-handoff-small; do
    if [[ -f "$svg/$plot.svg" ]]; then
        cp "$svg/$plot.svg" "results/latest-${plot%-small-*t}.svg"
    fi
done
ls -la "$out" "$page" results/latest-*.svg
