#!/usr/bin/env python3
"""
An interleaved A/B of two quarry binaries' query latency, the evidence for a
query-speed change (this VM's speed drifts by up to 40 % over minutes).

usage: ab_queries.py INDEX QFILE ROUNDS BIN_A BIN_B [REPEAT]
Each round runs `BIN bench queries --repeat REPEAT --json QFILE` for A then B
(order alternates per round). Per query: the min over rounds of its per-run
median. Per class: median and p99 (nearest rank = max of 20) of those.
Also checks both binaries report the same total per query."""
import json, subprocess, sys, statistics
idx, qf, rounds, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
rep = sys.argv[6] if len(sys.argv) > 6 else "20"
best = {a: {}, b: {}}; totals = {a: {}, b: {}}; order = []
for r in range(rounds):
    for binp in ([a, b] if r % 2 == 0 else [b, a]):
        out = subprocess.run([binp, "bench", "queries", "-i", idx, "--repeat", rep, "--json", qf],
                             check=True, capture_output=True, text=True).stdout
        d = json.loads(out)
        for i, q in enumerate(d["per_query"]):
            key = (i, q["class"], q["query"])
            if key not in order: order.append(key)
            best[binp][key] = min(best[binp].get(key, 1e18), q["median_us"])
            totals[binp][key] = q["total"]
def pct(v, p):
    v = sorted(v); k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1)); return v[k]
classes = []
for k in order:
    if k[1] not in classes: classes.append(k[1])
mism = [k for k in order if totals[a][k] != totals[b][k]]
print(f"{'class':<12} {'A med':>8} {'B med':>8} {'d%':>6} | {'A p99':>8} {'B p99':>8} {'d%':>6}")
alla, allb = [], []
for c in classes + ["ALL"]:
    ks = [k for k in order if c == "ALL" or k[1] == c]
    va = [best[a][k] for k in ks]; vb = [best[b][k] for k in ks]
    ma, mb = statistics.median(va), statistics.median(vb)
    pa, pb = pct(va, 99), pct(vb, 99)
    print(f"{c:<12} {ma:8.1f} {mb:8.1f} {100*(mb-ma)/ma:6.1f} | {pa:8.1f} {pb:8.1f} {100*(pb-pa)/pa:6.1f}")
print("total mismatches:", len(mism), mism[:5])
