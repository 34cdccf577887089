#!/usr/bin/env bash
# The CI regression gate: a short benchmark (well under a minute once built)
# compared against results/ci-baseline.json with `iobuf-bench compare`.
#
# The gate is on same-run ratios (iobuf / crossbeam, iobuf / mutex,
# iobuf-cached / crossbeam), which survive a slower or busier CI machine;
# absolute changes are printed for context. A shared machine still
# jitters, so a failing comparison is measured once more and the gate fails
# only if the second run regresses too: a real regression repeats, noise
# seldom does.
#
# usage: scripts/ci-bench.sh            run and compare (exit 0 pass, 1 regression, 2 bad input)
#        scripts/ci-bench.sh --update   run and make this run the new baseline
# env:   IOBUF_CI_THRESHOLD  largest tolerated drop (default 0.25)
set -euo pipefail
cd "$(dirname "$0")/.."

threshold=${IOBUF_CI_THRESHOLD:-0.25}
baseline=results/ci-baseline.json
work=target/ci-bench
mkdir -p "$work"

cargo build --release --quiet --bin iobuf-bench
bin=target/release/iobuf-bench

# Keep these in step with the baseline: cases are matched by scenario, tier,
# threads and pool.
bench() {
    "$bin" run --tier small,big --scenario pairs,handoff --threads 2 --pools all \
        --duration 1s --warmup 200ms --quiet --out "$1" >"$1.txt"
}

if [[ "${1:-}" == "--update" ]]; then
    bench "$work/new-baseline.json"
    cat "$work/new-baseline.json.txt"
    cp "$work/new-baseline.json" "$baseline"
    echo "wrote $baseline"
    exit 0
fi

if [[ ! -f "$baseline" ]]; then
    echo "$baseline is missing; make one with: scripts/ci-bench.sh --update" >&2
    exit 2
fi

status=0
for attempt in 1 2; do
    current=$work/current-$attempt.json
    # `run` exits 1 on an integrity failure; compare reports it as a
    # regression, so carry on to the comparison either way.
    bench "$current" || echo "iobuf-bench run exited $? (see $current.txt)" >&2
    cat "$current.txt"
    status=0
    "$bin" compare "$baseline" "$current" --threshold "$threshold" || status=$?
    if [[ $status != 1 ]]; then
        break
    fi
    [[ $attempt == 2 ]] || echo "regression on attempt $attempt; measuring once more to rule out noise"
done
exit "$status"
