#!/usr/bin/env bash
# The CI gate's power on this machine, in the two conditions the bench's
# goals name: nothing else running ("quiet"), and one other CPU-bound
# process running ("loaded": a busy loop started here for the length of
# the run). Each runs `iobuf-bench calibrate` with the gate's own settings
# (scripts/ci-bench.sh: pairs, small tier, one thread, interleaved rounds
# of 100 ms, the same-run ratio to the ceiling row), over the default pool's row
# and the owned row, and writes the false-alarm rate of A against A and
# how often each injected slowdown of the `iobuf` row was caught.
#
# usage: scripts/calibrate.sh NAME   writes results/calibrate-NAME-quiet.json
#                                    and results/calibrate-NAME-loaded.json
# env:   TRIALS      trials per condition (default 20)
#        ROUNDS      rounds per run (default: ci-bench.sh's, 10)
#        THRESHOLD   the gate's threshold (default: ci-bench.sh's, 0.10)
#        CONDITIONS  which to run (default "quiet loaded")
#        REPEATS     runs a side, each its own process (default 1)
#        SUFFIX      appended to the file names (for runs at other settings)
#        IOBUF_BENCH_BIN  a binary to use instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/calibrate.sh MACHINE-NAME}
trials=${TRIALS:-20}
rounds=${ROUNDS:-10}
threshold=${THRESHOLD:-0.10}
repeats=${REPEATS:-1}
conditions=${CONDITIONS:-quiet loaded}
suffix=${SUFFIX:-}
bin=${IOBUF_BENCH_BIN:-}
if [[ -z "$bin" ]]; then
    cargo build --release --quiet --bin iobuf-bench
    bin=target/release/iobuf-bench
fi
mkdir -p results
machine="$name: $(nproc) CPUs, $(uname -sr)"
calibrate() {
    "$bin" calibrate --trials "$trials" --slowdowns 0.05,0.1,0.25 --slow-row iobuf \
        --repeats "$repeats" --threshold "$threshold" --tier small --scenario pairs --threads 1 --runs "$rounds" \
        --pools iobuf,iobuf-owned,crossbeam --duration 100ms --warmup 30ms \
        --machine "$machine, $1" --calibration-out "results/calibrate-$name-$1$suffix.json"
}
for condition in $conditions; do
    case $condition in
    quiet) calibrate quiet ;;
    loaded)
        # One other CPU-bound process: a shell busy loop, stopped on any exit.
        (while :; do :; done) &
        hog=$!
        trap 'kill $hog 2>/dev/null || true' EXIT
        calibrate loaded
        kill $hog
        trap - EXIT
        ;;
    *) echo "unknown condition '$condition' (quiet, loaded)" >&2; exit 2 ;;
    esac
done
