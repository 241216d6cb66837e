#!/usr/bin/env python3
"""
quarry's indexing beside the peers' (README "Indexing against the peers").

usage: compare_index.py QUARRY_BIN CORPUS ROUNDS [ENGINES]
  ENGINES default q1,q2,fts5,lucene (qN: quarry with N threads; xapian is slow:
  give it alone for one round). WORK (env, default /tmp/quarry-ixcmp) holds the
  fresh index directories.
Each round runs every engine once on CORPORA/CORPUS/docs into a fresh
directory: `quarry index -q --threads N`, or PEERS/bin/ENGINE_bench index.
Wall time around the process (JVM start included), CPU and peak RSS from
wait4. Prints a markdown table: the median round's wall (and every round's),
docs/s, MB/s, median CPU, the largest peak RSS, index MB, and the index less
its stored text (quarry's .sto; the peers store no body). Raw rounds go to
WORK/ix-CORPUS-TIME.json.
"""
import json, resource, shutil, statistics, subprocess, sys, time
import os
PEERS = os.environ.get("PEERS", "/tmp/peers")          # a built copy of ../shared/peers
CORPORA = os.environ.get("CORPORA", "/tmp/corpora")    # C/docs unpacked from ../shared/corpora
IDX = os.environ.get("IDX", "/tmp")                    # quarry's indexes: IDX/def-C.idx, IDX/opt-C.idx
WORK = os.environ.get("WORK", "/tmp/quarry-ixcmp")

qbin, corpus, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
engines = (sys.argv[4] if len(sys.argv) > 4 else "q1,q2,fts5,lucene").split(",")
src = f"{CORPORA}/{corpus}/docs"
raw = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(src) for f in fs)
ndocs = sum(len(fs) for _, _, fs in os.walk(src))
def du(p, skip=None):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(p) for f in fs
               if not (skip and f.endswith(skip)))
res = {e: [] for e in engines}
for r in range(rounds):
    for e in engines:
        out = f"{WORK}/{e}"; shutil.rmtree(out, ignore_errors=True); os.makedirs(WORK, exist_ok=True)
        if e.startswith("q"):
            cmd = [qbin, "index", "-q", "--threads", e[1:], "-i", out, src]
        else:
            cmd = [f"{PEERS}/bin/{e}_bench", "index", src, out]
        subprocess.run(["sync"])
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        t = time.perf_counter() - t0
        assert status == 0, (e, status)
        res[e].append(dict(wall=t, cpu=ru.ru_utime + ru.ru_stime, rss=ru.ru_maxrss / 1024,
                           size=du(out) / 1e6, notext=du(out, ".sto") / 1e6))
        print(f"round {r} {e}: {t:.3f} s", file=sys.stderr, flush=True)
json.dump(res, open(f"{WORK}/ix-{corpus}-{int(time.time())}.json", "w"))
print(f"{corpus}: {ndocs} docs, {raw/1e6:.2f} MB")
print("| engine | wall s (rounds) | docs/s | MB/s | CPU s | peak RSS MB | index MB | without text MB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for e in engines:
    v = res[e]; w = statistics.median(x["wall"] for x in v)
    print(f"| {e} | {w:.2f} ({', '.join('%.2f' % x['wall'] for x in v)}) | {ndocs/w:,.0f} | {raw/1e6/w:.1f} | "
          f"{statistics.median(x['cpu'] for x in v):.2f} | {max(x['rss'] for x in v):.0f} | {v[-1]['size']:.2f} | {v[-1]['notext']:.2f} |")
