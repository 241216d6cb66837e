#!/usr/bin/env python3
"""
An interleaved A/B of two quarry binaries' `quarry index` wall time on a
fresh index, the evidence for an indexing-speed change.

usage: ab_index.py CORPUS_DIR THREADS ROUNDS BIN_A BIN_B [WORKDIR]
Prints per binary: min / median / max wall s, median CPU s (user+sys of the child),
and index bytes (must match)."""
import os, resource, shutil, statistics, subprocess, sys, time
corpus, threads, rounds, a, b = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
work = sys.argv[6] if len(sys.argv) > 6 else "/tmp/quarry-ixab"
os.makedirs(work, exist_ok=True)
res = {a: [], b: []}; cpu = {a: [], b: []}; size = {}
def du(p):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(p) for f in fs)
for r in range(rounds):
    for binp in ([a, b] if r % 2 == 0 else [b, a]):
        idx = os.path.join(work, "ix"); shutil.rmtree(idx, ignore_errors=True)
        subprocess.run(["sync"])
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([binp, "index", "-q", "--threads", threads, "-i", idx, corpus], check=True, stdout=subprocess.DEVNULL)
        t = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res[binp].append(t); cpu[binp].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        size[binp] = du(idx)
for name, binp in (("A", a), ("B", b)):
    v = res[binp]
    print(f"{name} {binp}: wall min {min(v):.3f} med {statistics.median(v):.3f} max {max(v):.3f}  cpu med {statistics.median(cpu[binp]):.3f}  bytes {size[binp]}")
ma, mb = statistics.median(res[a]), statistics.median(res[b])
print(f"B vs A median: {100*(mb-ma)/ma:+.1f} %   min: {100*(min(res[b])-min(res[a]))/min(res[a]):+.1f} %")
