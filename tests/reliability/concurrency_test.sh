#!/bin/bash
# Concurrency through the quarry binary (README "Reliability", promise 4):
#   1. `quarry search` and `quarry stats` run in a loop while `quarry index`
#      commits, merges and collects, again and again: every one of them
#      succeeds and sees a complete commit (its totals are those of one of
#      the two states the index alternates between); `quarry check`, which
#      is meant for an index no writer is using, passes after each run;
#   2. a second `quarry index` is refused while the first runs, with one
#      line naming the first one's pid;
#   3. a `quarry search` that opened the index keeps answering from its
#      generation while a writer removes every document and garbage
#      collection unlinks every file that generation uses (the mappings show
#      "(deleted)" in /proc), then a new search sees the new commit.
# The corpus is reuters21578 from ../shared/corpora when present, else a
# generated one of 20 000 short files.
set -u
. "$(dirname "$0")/lib.sh"

# ---- two states of a corpus folder named docs ----
B=$work/b/docs
A=$work/a/docs
if corpus_tarball reuters21578 >/dev/null; then
    mkdir -p "$work/b"
    unpack_docs reuters21578 "$work/u" && mv "$work/u/reuters21578/docs" "$work/b/"
    what="reuters21578"
else
    mkdir -p "$B"
    awk -v d="$B" 'BEGIN {
        split("grain oil talks envoy vote poll truce market bank yen dollar trade", w, " ")
        for (i = 0; i < 20000; i++) {
            f = sprintf("%s/%05d.txt", d, i)
            printf "Story %d about %s\n", i, w[i % 12 + 1] > f
            for (k = 0; k < 40; k++) printf "%s%s", w[(i * 7 + k * 3) % 12 + 1], k % 9 ? " " : "\n" > f
            close(f)
        }
    }'
    what="a generated corpus"
fi
mkdir -p "$A"
(cd "$B" && find . -type f -printf '%P\n' | LC_ALL=C sort | awk 'NR % 3 == 1' |
    xargs -d '\n' cp -l --parents -t "$A")
diag "$what: $(find "$B" -type f | wc -l) files in B, $(find "$A" -type f | wc -l) in A"
IDX=$work/idx
QUERIES=('oil' 'grain OR wheat' '"crude oil"' 'bank* -japan' 'title:trade')

# totals IDX: the queries' totals on one line (via a batch search); $st its status.
totals() {
    printf '%s\n' "${QUERIES[@]}" | timeout -k 10 "$QTIMEOUT" "$QUARRY" search -i "$1" --count - \
        >"$work/t.out" 2>"$work/t.err"
    st=$?
    tr '\n' ' ' <"$work/t.out"
}

# index DIR: one complete run over DIR, in the background; $writer its pid.
index_bg() {
    (exec "$QUARRY" index -i "$IDX" --ram 8 -q "$1" >"$work/w.out" 2>"$work/w.err") &
    writer=$!
}

# ---- reference answers of the two states ----
q "$work/o" "$work/e" index -i "$IDX" --ram 8 -q "$B"
refB=$(totals "$IDX")
docsB=$(find "$B" -type f | wc -l)
q "$work/o" "$work/e" index -i "$IDX" --ram 8 -q "$A"
refA=$(totals "$IDX")
docsA=$(find "$A" -type f | wc -l)
if [ "$refA" = "$refB" ] || [ "$st" -ne 0 ] || [ "$docsA" -eq 0 ]; then
    not_ok "the two states answer differently: A: $refA, B: $refB"
    tap_end
    exit
fi

# ---- 1. readers during four runs (A -> B -> A -> B -> A) ----
searches=0 why=""
for target in "$B" "$A" "$B" "$A"; do
    index_bg "$target"
    while kill -0 "$writer" 2>/dev/null && [ -z "$why" ]; do
        got=$(totals "$IDX")
        searches=$((searches + 1))
        if [ "$st" -gt 1 ]; then
            why="search: exit $st: $(head -c 300 "$work/t.err")"
        elif [ "$got" != "$refA" ] && [ "$got" != "$refB" ]; then
            why="search saw neither state: $got (A: $refA, B: $refB)"
        fi
        q "$work/s.out" "$work/s.err" stats -i "$IDX"
        docs=$(awk '$1 == "documents:" { print $2 }' "$work/s.out")
        if [ -z "$why" ] && [ "$st" -ne 0 ]; then
            why="stats: $(status_text): $(head -c 300 "$work/s.err")"
        elif [ -z "$why" ] && [ "$docs" != "$docsA" ] && [ "$docs" != "$docsB" ]; then
            why="stats saw $docs documents (A: $docsA, B: $docsB)"
        fi
    done
    wait "$writer"
    ws=$?
    [ -n "$why" ] && break
    [ "$ws" -eq 0 ] || { why="the writer failed: $(head -c 300 "$work/w.err")"; break; }
    # quarry check is meant for an index no writer is using (index/check.h): after each run.
    q "$work/c.out" "$work/c.err" check -i "$IDX"
    [ "$st" -eq 0 ] && [ ! -s "$work/c.err" ] ||
        { why="check after the run: $(status_text): $(head -c 300 "$work/c.err")"; break; }
done
if [ -z "$why" ] && [ "$searches" -gt 0 ]; then
    ok "readers during four runs: $searches searches and stats, all saw a complete commit; check after each run"
else
    not_ok "readers during four runs"
    diag "${why:-no search ran while the writer did}"
fi

# ---- 2. a second writer ----
why="the first writer always ended before the second started"
for attempt in 1 2 3; do
    target=$B
    [ $((attempt % 2)) -eq 0 ] && target=$A
    index_bg "$target"
    sleep 0.2
    q "$work/2.out" "$work/2.err" index -i "$IDX" -q "$target"
    second=$st
    running=0
    kill -0 "$writer" 2>/dev/null && running=1
    wait "$writer"
    [ "$running" -eq 1 ] || continue
    why=""
    if [ "$second" -ne 4 ]; then
        why="the second writer: exit $second, want 4: $(head -c 300 "$work/2.err")"
    elif ! one_line "$work/2.err" || ! grep -q "being written by pid $writer\$" "$work/2.err"; then
        why="the second writer's message: $(cat "$work/2.err")"
    fi
    break
done
if [ -z "$why" ]; then
    ok "a second writer is refused: $(cat "$work/2.err")"
else
    not_ok "a second writer is refused"
    diag "$why"
fi

# ---- 3. a pinned reader while every file of its generation is collected ----
why=""
before=$(totals "$IDX")
mkfifo "$work/fifo"
(exec "$QUARRY" search -i "$IDX" --count - <"$work/fifo" >"$work/p.out" 2>"$work/p.err") &
reader=$!
exec 3>"$work/fifo" # the reader's stdin opens: it starts and opens the index
for _ in $(seq 1 1000); do
    grep -q 'seg-' "/proc/$reader/maps" 2>/dev/null && break
    sleep 0.01
done
if ! grep -q 'seg-' "/proc/$reader/maps" 2>/dev/null; then
    why="the reader never mapped the index"
else
    mkdir -p "$work/empty/docs"
    q "$work/o" "$work/e" index -i "$IDX" -q "$work/empty/docs"
    if [ "$st" -ne 0 ]; then
        why="the writer: $(status_text): $(head -c 300 "$work/e")"
    elif [ -n "$(find "$IDX" -maxdepth 1 -name 'seg-*')" ]; then
        why="segment files remain after every document was removed: $(cd "$IDX" && echo *)"
    elif ! grep 'seg-' "/proc/$reader/maps" | grep -q '(deleted)'; then
        why="the reader's mappings are not of removed files: $(grep seg- "/proc/$reader/maps" | head -3)"
    fi
fi
printf '%s\n' "${QUERIES[@]}" >&3
exec 3>&-
wait "$reader"
rs=$?
got=$(tr '\n' ' ' <"$work/p.out")
if [ -z "$why" ] && { [ "$rs" -ne 0 ] || [ "$got" != "$before" ]; }; then
    why="the pinned reader: exit $rs, answers '$got', want '$before': $(head -c 300 "$work/p.err")"
fi
after=$(totals "$IDX")
if [ -z "$why" ] && [ "$after" != "0 0 0 0 0 " ]; then
    why="a new reader: '$after', want no hits"
fi
if [ -z "$why" ]; then
    ok "a pinned reader answers from its generation after every file of it was collected"
else
    not_ok "a pinned reader survives garbage collection"
    diag "$why"
fi
tap_end
