#!/usr/bin/env bash
# The CI regression gate: a short benchmark (well under a minute once built)
# compared against results/ci-baseline.json with `iobuf-bench compare`.
#
# The gate is on same-run ratios (iobuf / crossbeam, iobuf / mutex,
# iobuf-cached / crossbeam), which survive a slower or busier CI machine;
# absolute changes are printed for context. A shared machine still
# jitters, so a failing comparison is measured once more and the gate fails
# only if the same figure regresses in both runs: a real regression
# repeats, noise seldom hits the same figure twice. Integrity failures fail
# at once.
#
# usage: scripts/ci-bench.sh            run and compare (exit 0 pass, 1 regression, 2 bad input)
#        scripts/ci-bench.sh --update   run and make this run the new baseline
# env:   IOBUF_CI_THRESHOLD  largest tolerated drop (default 0.25)
#        IOBUF_BENCH_BIN     an iobuf-bench binary to use instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."

threshold=${IOBUF_CI_THRESHOLD:-0.25}
baseline=results/ci-baseline.json
work=target/ci-bench
mkdir -p "$work"

bin=${IOBUF_BENCH_BIN:-}
if [[ -z "$bin" ]]; then
    cargo build --release --quiet --bin iobuf-bench
    bin=target/release/iobuf-bench
fi

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

# The figures a comparison failed on ("case ratio" or "case pool"), one a line.
failed_figures() {
    sed -n '/^result: FAIL/,$p' "$1" | tail -n +2 | awk '{print $1, $2}' | sort -u
}

compare_run() { # attempt number -> compare's exit status; output in $work/compare-N.txt
    local current=$work/current-$1.json
    # `run` exits 1 on an integrity failure; compare reports it as a
    # regression, so carry on to the comparison either way.
    bench "$current" || echo "iobuf-bench run exited $? (see $current.txt)" >&2
    cat "$current.txt"
    local rc=0
    "$bin" compare "$baseline" "$current" --threshold "$threshold" >"$work/compare-$1.txt" || rc=$?
    cat "$work/compare-$1.txt"
    return $rc
}

status=0
compare_run 1 || status=$?
if [[ $status != 1 ]]; then
    exit "$status"
fi
if grep -q ' integrity: ' "$work/compare-1.txt"; then
    echo "FAIL: integrity failures are bugs, not noise"
    exit 1
fi
echo
echo "== regression on the first run; measuring once more to tell a real one from noise"
compare_run 2 || status=$?
if [[ $status == 2 ]]; then
    exit 2
fi
both=$(comm -12 <(failed_figures "$work/compare-1.txt") <(failed_figures "$work/compare-2.txt"))
if [[ -n "$both" ]]; then
    echo "FAIL: regressed in both runs:"
    echo "$both" | sed 's/^/  /'
    exit 1
fi
echo "PASS: no figure regressed in both runs (the first run's drops were noise)"
exit 0
