#!/usr/bin/env bash
# The cases behind the performance goals, run in one go, and the goals'
# ratios computed from that one run: each ratio is a row's throughput over
# crossbeam's in the same round (rounds interleave every row of a case),
# median over the rounds, with the rounds' min-max beside it ("vs base",
# as everywhere in iobuf-bench). At the default check level (sampled), so
# that the harness's own cost does not compress the ratios; the ceiling
# row (a thread-local free list through the same harness) is the most any
# row can show.
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

# Issue 19's goals, in all six modes: the default pool (`iobuf`, what
# BufferPool::new gives) and OwnedBuf on it (`iobuf-owned`) ahead of every
# peer row, and the owned path at least 0.67x the borrowed one.
MODES = [("pairs", "1"), ("pairs", "2"), ("pairs", "8"), ("burst32", "1"), ("burst32", "2"), ("handoff", "1->1")]
for c in MODES:
    peers = [(p, ratios(c, p)) for p in PEERS if ratios(c, p)]
    if peers:
        best_name, best = max(peers, key=lambda x: x[1][0])
    else:
        best_name, best = "none", (0, 0, 0)
    goal(f"default pool ahead of every peer (best: {best_name} {best[0]:.2f}×)", c, "iobuf", lambda v: v > best[0])
    goal(f"owned buffers ahead of every peer (best: {best_name} {best[0]:.2f}×)", c, "iobuf-owned", lambda v: v > best[0])
    own, ref = ratios(c, "iobuf-owned"), ratios(c, "iobuf")
    if own and ref:
        goal(f"owned ≥ 0.67× borrowed (borrowed {ref[0]:.2f}×)", c, "iobuf-owned", lambda v: v >= 0.67 * ref[0])
    others = [ratios(c, p)[0] for p in cases.get(c, {}) if p not in ("ceiling", "transport") and ratios(c, p)]
    top = max(others, default=0)
    goal(f"the ceiling above every row (highest row {top:.2f}×)", c, "ceiling", lambda v: v > top)
if ("pairs", "16") in cases:
    goal("default pool ≥ 300×", ("pairs", "16"), "iobuf", lambda v: v >= 300)
    goal("owned buffers ≥ 300×", ("pairs", "16"), "iobuf-owned", lambda v: v >= 300)
    goal("default pool ≥ 3×", ("handoff", "8->8"), "iobuf", lambda v: v >= 3)

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
