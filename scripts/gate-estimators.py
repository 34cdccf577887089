#!/usr/bin/env python3
"""How the gate's choices fare on real runs: every ordered pair of the runs
in results/gate-runs-2core.json (separate processes, as CI's baseline and
current are) is compared A against A, and with the current run's row
scaled down 10% and 25%, under each combination of reference row
(crossbeam, ceiling) and estimator (Welch's t on mean logs, Yuen's on 10%-
and 20%-trimmed means), at a 5% threshold, one run a side and two runs a
side (pooled). The decision rule is compare's: the drop is past the
threshold and the 95% interval lies below zero.

usage: scripts/gate-estimators.py [results/gate-runs-2core.json]
"""
import itertools
import json
import math
import statistics as st
import sys


def normal_quantile(p):
    # Bisection on the error function: slow, exact enough, no dependency.
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


Z975 = normal_quantile(0.975)


def t975(df):
    # Cornish-Fisher around the normal quantile, as the bench's t_quantile.
    z = Z975
    df = max(df, 1.0)
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df * df)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))


def trimmed(x, g_share):
    x = sorted(x)
    n = len(x)
    g = int(math.floor(g_share * n))
    h = n - 2 * g
    mean = st.mean(x[g:n - g])
    w = [min(max(v, x[g]), x[n - g - 1]) for v in x]
    return mean, (n - 1) * st.variance(w) / (h * (h - 1)), h


def test(b, c, share):
    tb, db, hb = trimmed(b, share)
    tc, dc, hc = trimmed(c, share)
    se = math.sqrt(db + dc)
    df = (db + dc) ** 2 / (db * db / (hb - 1) + dc * dc / (hc - 1))
    return tc - tb, se, df


def regresses(b, c, share, threshold=0.05):
    d, se, df = test(b, c, share)
    return d + t975(df) * se < 0 and math.exp(d) - 1 < -threshold


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "results/gate-runs-2core.json"
    runs = json.load(open(path))["runs"]

    def logs(run_ids, row, ref, scale=1.0):
        out = []
        for i in run_ids:
            out += [math.log(a * scale / b) for a, b in zip(runs[i][row], runs[i][ref])]
        return out

    print("| runs a side | reference | estimator | row | A-against-A alarms | 10% caught | 25% caught | pairs |")
    print("|---|---|---|---|---|---|---|---|")
    n = len(runs)
    for per_side in (1, 2):
        groups = [tuple(range(k, k + per_side)) for k in range(0, n - per_side + 1, per_side)]
        for ref in ("crossbeam", "ceiling"):
            for name, share in (("Welch (mean)", 0.0), ("Yuen 10%", 0.1), ("Yuen 20%", 0.2)):
                for row in ("iobuf", "iobuf-owned"):
                    fa = hit10 = hit25 = total = 0
                    for gb, gc in itertools.permutations(groups, 2):
                        b = logs(gb, row, ref)
                        fa += regresses(b, logs(gc, row, ref), share)
                        hit10 += regresses(b, logs(gc, row, ref, 0.9), share)
                        hit25 += regresses(b, logs(gc, row, ref, 0.75), share)
                        total += 1
                    print(f"| {per_side} | {ref} | {name} | {row} | {fa / total:.1%} | "
                          f"{hit10 / total:.1%} | {hit25 / total:.1%} | {total} |")


main()
