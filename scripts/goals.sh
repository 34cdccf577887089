#!/usr/bin/env bash
# The cases behind the performance goals (issue 7), run in one go, with the
# ratios the goals are stated in computed from that one run.
#
#   pairs, small tier, 1024 buffers: 1 thread, 2 threads, and 16 when the
#   machine has 16 cores; handoff 1→1 (and 8→8 on 16 cores).
#
# usage: scripts/goals.sh NAME     writes results/NAME-goals.json and prints a table
# env:   IOBUF_BENCH_BIN  a binary to use instead of building one
#        DURATION         per case (default 2s)
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/goals.sh MACHINE-NAME}
bin=${IOBUF_BENCH_BIN:-}
if [[ -z "$bin" ]]; then
    cargo build --release --quiet --bin iobuf-bench
    bin=target/release/iobuf-bench
fi
dur=${DURATION:-2s}
cores=$(nproc)
mkdir -p results target/goals
common=(--tier small --capacity 1024 --pools all --duration "$dur" --warmup 300ms --quiet)

files=()
run() {
    local out=target/goals/$1.json
    shift
    "$bin" run "${common[@]}" "$@" --out "$out" >/dev/null
    files+=("$out")
}
run pairs-1 --scenario pairs --threads 1
run pairs-2 --scenario pairs --threads 2
run handoff-1x1 --scenario handoff --producers 1 --consumers 1
if ((cores >= 16)); then
    run pairs-16 --scenario pairs --threads 16
    run handoff-8x8 --scenario handoff --producers 8 --consumers 8
fi

python3 - "results/$name-goals.json" "${files[@]}" <<'PY'
import json, sys
out, files = sys.argv[1], sys.argv[2:]
docs = [json.load(open(f)) for f in files]
merged = docs[0]
for d in docs[1:]:
    merged["results"].extend(d["results"])
merged["config"]["goals_runs"] = files
json.dump(merged, open(out, "w"), indent=2)
print(f"wrote {out}\n")
print("| scenario | threads | iobuf | iobuf-fifo | iobuf-cached | crossbeam | mutex | iobuf / crossbeam | fifo / crossbeam | cached / crossbeam | iobuf get p99.9 |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
cases = {}
for r in merged["results"]:
    cases.setdefault((r["scenario"], r["threads"]), {})[r["pool"]] = r
for (sc, th), pools in cases.items():
    m = lambda p: pools[p]["ops_per_sec"] / 1e6 if p in pools else float("nan")
    p999 = pools.get("iobuf", {}).get("latency_ns", {}).get("get", {}).get("p999")
    print(f"| {sc} | {th} | {m('iobuf'):.1f} M | {m('iobuf-fifo'):.1f} M | {m('iobuf-cached'):.1f} M | {m('crossbeam'):.1f} M | {m('mutex'):.1f} M "
          f"| {m('iobuf')/m('crossbeam'):.2f}× | {m('iobuf-fifo')/m('crossbeam'):.2f}× | {m('iobuf-cached')/m('crossbeam'):.2f}× | {p999} ns |")
PY
