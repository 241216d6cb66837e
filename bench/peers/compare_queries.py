#!/usr/bin/env python3
"""
quarry's query latency beside the peers' (README "Query latency against the
peers"): the same query file, the same statistic, engines interleaved.

usage: compare_queries.py QUARRY_BIN ROUNDS CORPUS [ENGINES]
  ENGINES (comma-separated) default qdef,qopt,fts5,xapian,lucene
  QFILE (env) default IDX/peersq-CORPUS.tsv: ../shared/peers/results/C/queries.tsv
  SAVE (env) writes the raw cells as JSON.
quarry: `QUARRY_BIN bench queries -i IDX --repeat 20 --json QFILE` on IDX/def-C.idx
(a plain 2-thread `quarry index`) and IDX/opt-C.idx (the same with --optimize);
the peers: PEERS/bin/ENGINE_bench query IDX/pidx-C-ENGINE QFILE --k 10 --repeat 20
--warmup 3 (lucene also --warmup-seconds 8), indexes built by
PEERS/bin/ENGINE_bench index CORPORA/C/docs IDX/pidx-C-ENGINE. Each round runs
every engine once. Per class: the median and the p99 (nearest rank) of each
query's median; each cell the median over rounds; then the all-query
median, p95 and p99. Prints a markdown table.
"""
import json, subprocess, sys, statistics
import os
PEERS = os.environ.get("PEERS", "/tmp/peers")          # a built copy of ../shared/peers
CORPORA = os.environ.get("CORPORA", "/tmp/corpora")    # C/docs unpacked from ../shared/corpora
IDX = os.environ.get("IDX", "/tmp")                    # quarry's indexes: IDX/def-C.idx, IDX/opt-C.idx

qbin, rounds, corpus = sys.argv[1], int(sys.argv[2]), sys.argv[3]
engines = (sys.argv[4] if len(sys.argv) > 4 else "qdef,qopt,fts5,xapian,lucene").split(",")
qf = os.environ.get("QFILE", f"{IDX}/peersq-{corpus}.tsv")
def run(e):
    if e in ("qdef", "qopt"):
        idx = f"{IDX}/{e[1:]}-{corpus}.idx"
        d = json.loads(subprocess.run([qbin, "bench", "queries", "-i", idx, "--repeat", "20", "--json", qf],
                                      check=True, capture_output=True, text=True).stdout)
        return [(q["class"], q["median_us"]) for q in d["per_query"]]
    cmd = [f"{PEERS}/bin/{e}_bench", "query", f"{IDX}/pidx-{corpus}-{e}", qf, "--k", "10", "--repeat", "20", "--warmup", "3"]
    if e == "lucene": cmd += ["--warmup-seconds", "8"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for l in out.splitlines():
        if l.startswith("#") or not l.strip(): continue
        f = l.split("\t")
        rows.append((f[0], float(f[4])))
    return rows
def pct(v, p):
    v = sorted(v); k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1)); return v[k]
cells = {e: [] for e in engines}
for r in range(rounds):
    for e in engines:
        rows = run(e)
        classes = []
        for c, _ in rows:
            if c not in classes: classes.append(c)
        st = {}
        for c in classes:
            v = [t for cc, t in rows if cc == c]
            st[c] = (statistics.median(v), pct(v, 99))
        allv = [t for _, t in rows]
        st["all"] = (statistics.median(allv), pct(allv, 95), pct(allv, 99))
        cells[e].append(st)
        print(f"round {r} {e}: all median {st['all'][0]:.1f}", file=sys.stderr, flush=True)
def fmt(x):
    return f"{x:,.0f}" if x >= 1000 else (f"{x:.0f}" if x >= 100 else f"{x:.1f}")
if os.environ.get("SAVE"):
    json.dump(cells, open(os.environ["SAVE"], "w"))
classes = [c for c in cells[engines[0]][0] if c != "all"]
print("| " + corpus + ": median / p99 µs | " + " | ".join(engines) + " |")
print("|---|" + "---:|" * len(engines))
for c in classes:
    row = []
    for e in engines:
        m = statistics.median(s[c][0] for s in cells[e]); p = statistics.median(s[c][1] for s in cells[e])
        row.append(f"{fmt(m)} / {fmt(p)}")
    print(f"| {c} | " + " | ".join(row) + " |")
for i, name in enumerate(("median", "p95", "p99")):
    print(f"| all: {name} | " + " | ".join(fmt(statistics.median(s['all'][i] for s in cells[e])) for e in engines) + " |")
