#!/usr/bin/env bash
# The cases behind the performance goals, run in one go, and the goals'
# ratios computed from that one run: each ratio is a row's throughput over
# crossbeam's in the same round (rounds interleave every row of a case),
# median over the rounds, with the rounds' min-max beside it.
#
#   small tier, 1024 buffers, every pool (peers included):
#   pairs at 1, 2 and 8 threads; burst32 (batches of 32) at 1 and 2
#   threads; handoff 1->1; and on a 16-core machine pairs at 16 threads
#   and handoff 8->8.
#
# usage: scripts/goals.sh NAME   writes results/NAME-goals.json and
#                                results/NAME-goals.md (the goals table)
# env:   IOBUF_BENCH_BIN  a binary to use instead of building one
#        DURATION         per case and round (default 600ms)
#        RUNS             rounds (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/goals.sh MACHINE-NAME}
bin=${IOBUF_BENCH_BIN:-}
if [[ -z "$bin" ]]; then
    cargo build --release --quiet --bin iobuf-bench
    bin=target/release/iobuf-bench
fi
dur=${DURATION:-600ms}
runs=${RUNS:-5}
cores=$(nproc)
mkdir -p results target/goals
common=(--tier small --capacity 1024 --pools all --duration "$dur" --warmup 150ms --runs "$runs" --quiet)

files=()
run() {
    local out=target/goals/$1.json
    shift
    "$bin" run "${common[@]}" "$@" --out "$out" >/dev/null
    files+=("$out")
}
run pairs-1 --scenario pairs --threads 1
run pairs-2 --scenario pairs --threads 2
run pairs-8 --scenario pairs --threads 8
run burst32-1 --scenario burst32 --threads 1
run burst32-2 --scenario burst32 --threads 2
run handoff-1x1 --scenario handoff --producers 1 --consumers 1
if ((cores >= 16)); then
    run pairs-16 --scenario pairs --threads 16
    run handoff-8x8 --scenario handoff --producers 8 --consumers 8
fi

python3 - "results/$name-goals.json" "results/$name-goals.md" "$name" "${files[@]}" <<'PY'
import json, statistics, sys
out, md, name, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
docs = [json.load(open(f)) for f in files]
merged = docs[0]
for d in docs[1:]:
    merged["results"].extend(d["results"])
merged["config"]["goals_runs"] = files
json.dump(merged, open(out, "w"), indent=2)

PEERS = ["sharded-slab", "lockfree-object-pool", "opool", "object-pool",
         "concurrent-queue", "parking-lot", "lfqueue"]
cases = {}
for r in merged["results"]:
    if r["scenario"] == "handoff":
        key = ("handoff", f'{r["producers"]}->{r["consumers"]}')
    else:
        key = (r["scenario"], str(r["threads"]))
    cases.setdefault(key, {})[r["pool"]] = r

def ratios(case, pool):
    rows = cases.get(case, {})
    if pool not in rows or "crossbeam" not in rows:
        return None
    a = [x["ops_per_sec"] for x in rows[pool]["rounds"]]
    b = [x["ops_per_sec"] for x in rows["crossbeam"]["rounds"]]
    per = [x / y for x, y in zip(a, b) if y > 0]
    return (statistics.median(per), min(per), max(per)) if per else None

def fmt(r):
    return "n/a" if r is None else f"{r[0]:.2f}× ({r[1]:.2f}–{r[2]:.2f})"

lines = [f"Goals on {name}: each figure is the row's throughput ÷ crossbeam's in the same round, median of {merged['config'].get('runs', '?')} rounds (min–max over the rounds); small tier, 1024 buffers.", "",
         "| goal | case | row | ratio to crossbeam | met |", "|---|---|---|---|---|"]
def goal(text, case, pool, test):
    r = ratios(case, pool)
    ok = "not measured" if r is None else ("yes" if test(r[0]) else "**no**")
    lines.append(f"| {text} | {case[0]} {case[1]} | {pool} | {fmt(r)} | {ok} |")

for t in ["1", "2", "8"]:
    c = ("pairs", t)
    best_peer = max((ratios(c, p) or (0, 0, 0) for p in PEERS), key=lambda x: x[0])
    best_name = max(PEERS, key=lambda p: (ratios(c, p) or (0,))[0])
    goal(f"thread-cached pool ahead of every peer (best: {best_name} {best_peer[0]:.2f}×)", c, "iobuf-tc", lambda v: v > best_peer[0])
goal("thread-cached pool ≥ 5×", ("pairs", "2"), "iobuf-tc", lambda v: v >= 5)
goal("pool without a thread cache ≥ 1.2×", ("pairs", "1"), "iobuf", lambda v: v >= 1.2)
for t in ["1", "2"]:
    c = ("burst32", t)
    goal("batch row ≥ 2×", c, "iobuf-tc-batch", lambda v: v >= 2)
    goal("batch row, no thread cache ≥ 2×", c, "iobuf-batch", lambda v: v >= 2)
    goal("plain pool ≥ 1×", c, "iobuf", lambda v: v >= 1)
    goal("plain thread-cached pool ≥ 1×", c, "iobuf-tc", lambda v: v >= 1)
goal("pool ≥ 1×", ("handoff", "1->1"), "iobuf", lambda v: v >= 1)
goal("thread-cached pool ≥ 1×", ("handoff", "1->1"), "iobuf-tc", lambda v: v >= 1)
if ("pairs", "16") in cases:
    goal("thread-cached pool ≥ 300×", ("pairs", "16"), "iobuf-tc", lambda v: v >= 300)
    goal("pool without a thread cache ≥ 5×", ("pairs", "16"), "iobuf", lambda v: v >= 5)
    goal("pool ≥ 3×", ("handoff", "8->8"), "iobuf", lambda v: v >= 3)

lines += ["", "Every row, same ratio:", "", "| case | " + " | ".join(sorted({p for c in cases.values() for p in c})) + " |"]
pools = sorted({p for c in cases.values() for p in c})
lines.append("|---|" + "---|" * len(pools))
for c in cases:
    lines.append(f"| {c[0]} {c[1]} | " + " | ".join(fmt(ratios(c, p)).split(" ")[0] if ratios(c, p) else "–" for p in pools) + " |")
text = "\n".join(lines) + "\n"
open(md, "w").write(text)
print(f"wrote {out} and {md}\n")
print(text)
PY
