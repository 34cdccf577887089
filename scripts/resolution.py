#!/usr/bin/env python3
"""Summarises scripts/resolution.sh: for each case, each pool's ratio to
crossbeam at the default check level (`sampled`) and at `--check lean`,
the ratio of the two, and whether the two levels order the pools alike.

A pool's ratio in one run is the median over its rounds of its throughput
over crossbeam's in the same round (as `run` reports it); over the
repeats, the median of those, with their range.

usage: scripts/resolution.py MACHINE RUN.json... [--json OUT.json]
"""
import itertools
import json
import statistics as st
import sys


def run_ratios(doc, reference="crossbeam"):
    rows = {r["pool"]: r for r in doc["results"]}
    base = rows.get(reference)
    out = {}
    for pool, r in rows.items():
        if base is None or pool == "transport":
            continue
        rounds = [a["ops_per_sec"] / b["ops_per_sec"]
                  for a, b in zip(r["rounds"], base["rounds"]) if b["ops_per_sec"] > 0]
        if rounds:
            out[pool] = st.median(rounds)
    return out


def main():
    args = sys.argv[1:]
    out_json = None
    if "--json" in args:
        k = args.index("--json")
        out_json = args[k + 1]
        del args[k:k + 2]
    machine, files = args[0], args[1:]
    runs = {}
    over_ceiling = {}
    for f in files:
        doc = json.load(open(f))
        r0 = doc["results"][0]
        case = f"{r0['scenario']} {r0['threads']}t"
        level = doc["config"]["check"]
        runs.setdefault(case, {}).setdefault(level, []).append(run_ratios(doc))
        over_ceiling.setdefault(case, {}).setdefault(level, []).append(run_ratios(doc, "ceiling"))

    summary = {"machine": machine, "cases": {}}
    print(f"# The bench's resolution: default check level against `--check lean`\n")
    print(f"Machine: {machine}. Made by `scripts/resolution.sh` and "
          "`scripts/resolution.py`: each figure is a pool's throughput over "
          "crossbeam's in the same round (median of 5 rounds of 300 ms), "
          "then the median (and range) over the repeats, the two levels "
          "run alternately; the last column divides by the ceiling row "
          "instead of crossbeam. "
          "\n")
    for case, levels in runs.items():
        pools = sorted({p for lv in levels.values() for run in lv for p in run})
        table = {}
        for level, rs in levels.items():
            for p in pools:
                vals = [r[p] for r in rs if p in r]
                if vals:
                    table.setdefault(p, {})[level] = {
                        "median": st.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}
        print(f"## {case}\n")
        # The same, over the ceiling row: a steadier reference where
        # crossbeam's own speed swings (contended, two threads).
        ceil = {}
        for level, rs in over_ceiling[case].items():
            for p in pools:
                vals = [r[p] for r in rs if p in r]
                if vals:
                    ceil.setdefault(p, {})[level] = st.median(vals)
        print("| pool | sampled (default) | lean | sampled ÷ lean | the same over the ceiling row |")
        print("|---|---|---|---|---|")
        order = sorted(pools, key=lambda p: -table[p].get("lean", {"median": 0})["median"])
        for p in order:
            cells = []
            for level in ("sampled", "lean"):
                v = table[p].get(level)
                cells.append(f"{v['median']:.2f}× ({v['min']:.2f}–{v['max']:.2f})" if v else "–")
            s, l = table[p].get("sampled"), table[p].get("lean")
            q = f"{s['median'] / l['median']:.2f}" if s and l else "–"
            c = ceil.get(p, {})
            qc = f"{c['sampled'] / c['lean']:.2f}" if "sampled" in c and "lean" in c else "–"
            print(f"| {p} | {cells[0]} | {cells[1]} | {q} | {qc} |")
        # Order: pairs of pools that the levels rank differently, with the
        # size of each level's gap (a gap within the repeats' ranges is noise).
        flips = []
        ranked = [p for p in order if p != "ceiling"]
        for a, b in itertools.combinations(ranked, 2):
            sa, sb = table[a].get("sampled"), table[b].get("sampled")
            la, lb = table[a].get("lean"), table[b].get("lean")
            if not (sa and sb and la and lb):
                continue
            if (sa["median"] - sb["median"]) * (la["median"] - lb["median"]) < 0:
                separated = lambda x, y: x["min"] > y["max"] or y["min"] > x["max"]
                flips.append({"pools": [a, b],
                              "sampled": [sa["median"], sb["median"]],
                              "lean": [la["median"], lb["median"]],
                              "separated_in_both": separated(sa, sb) and separated(la, lb)})
        n_pairs = len(ranked) * (len(ranked) - 1) // 2
        print()
        print(f"Pairs of pools ordered differently by the two levels: {len(flips)} of {n_pairs}"
              + (", of which the repeats' ranges separate both levels' gaps in "
                 f"{sum(f['separated_in_both'] for f in flips)}" if flips else "") + ".")
        for f in flips:
            a, b = f["pools"]
            print(f"- {a} / {b}: sampled {f['sampled'][0]:.2f}× vs {f['sampled'][1]:.2f}×, "
                  f"lean {f['lean'][0]:.2f}× vs {f['lean'][1]:.2f}×")
        for level in ("sampled", "lean"):
            top = max((p for p in ranked if level in table[p]), key=lambda p: table[p][level]["median"])
            c = table.get("ceiling", {}).get(level)
            if c:
                above = c["median"] > table[top][level]["median"]
                print(f"- {level}: ceiling {c['median']:.2f}×, highest pool {top} "
                      f"{table[top][level]['median']:.2f}×: the ceiling is "
                      f"{'above' if above else '**not** above'} every pool")
        print()
        summary["cases"][case] = {"ratios": table, "over_ceiling": ceil, "flips": flips}
    if out_json:
        with open(out_json, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")


main()
