#!/bin/bash
# Crash test (README "Reliability", promise 2): `quarry index` on a real
# corpus is killed with SIGKILL at random moments; after every kill the
# index must be sound (`quarry check`), `quarry stats` and `quarry search`
# must work and answer exactly as the last commit does (the previous one,
# or the new one when the kill came after the commit), and the next
# `quarry index` must complete, answer as an uninterrupted run does, and
# leave no orphan file.
#
# The killed run takes the index from state A to state B of the corpus:
# about half of B's files are new, some are changed and some files of A are
# gone, so a run walks, reads and analyses, flushes (--ram 8), merges, marks
# deletions and commits. The kill moments are drawn with a fixed seed; of
# every six kills, two come after a random delay (up to the length of an
# uninterrupted run), and four at a file-system event seen by rel_killer
# (killer.c, inotify): the creation of a random one of the segment files
# the run writes (a flush or merge writing it), the creation of the
# manifest's temporary file (inside the commit), the rename of the new
# manifest (between the commit and its directory fsync, before garbage
# collection), and a random one of the removals (merges dropping the run's
# own segments, garbage collection). What each kill left is tallied at the
# end. One more kill interrupts the very first run of an index.
#
# Runs use one analysis thread, so that a run's segments, and with them the
# scores (N and df count deleted documents until merges drop them), are
# the same in every run: answers are compared whole, ranks, scores and
# snippets. With CRASH_THREADS > 1 only the totals are compared.
#
#   CRASH_RUNS    kills (default 60; meson test sets 12, 3 under sanitizers)
#   CRASH_SEED    seed of the kill moments (default 1)
#   CRASH_CORPUS  corpus of ../shared/corpora (default reuters21578)
#   CRASH_THREADS analysis threads of every run (default 1)
#   QUARRY        the quarry binary (meson test sets it)
#   KILLER        the rel_killer binary (meson test sets it; without it every
#                 kill is a random delay, timed by the shell)
#
# By hand: CRASH_RUNS=60 QUARRY=build/tools/quarry QUARRY_SOURCE_ROOT=. \
#          bash tests/reliability/crash_test.sh
set -u
. "$(dirname "$0")/lib.sh"

RUNS=${CRASH_RUNS:-${CRASH_RUNS_DEFAULT:-60}}
SEED=${CRASH_SEED:-1}
NAME=${CRASH_CORPUS:-reuters21578}
THREADS=${CRASH_THREADS:-1}
RAM=8

if ! corpus_tarball "$NAME" >/dev/null; then
    skip "crash test" "corpus $NAME not found in $CORPORA"
    tap_end
    exit
fi

# ---- the corpus in two states, A and B (both folders named docs) ----
unpack_docs "$NAME" "$work/b" || { not_ok "unpack $NAME"; tap_end; exit; }
B=$work/b/$NAME/docs
A=$work/a/docs
mkdir -p "$A"
(cd "$B" && find . -type f -printf '%P\n' | LC_ALL=C sort) >"$work/all"
nfiles=$(wc -l <"$work/all")
# A: every other file of B (the same inode: unchanged for the run)...
(cd "$B" && awk 'NR % 2 == 1' "$work/all" | xargs -d '\n' cp -l --parents -t "$A")
# ...of which every 20th is an older version (replaced by the run)...
awk 'NR % 40 == 1' "$work/all" >"$work/changed"
while IFS= read -r f; do
    rm -f "$A/$f"
    { cat "$B/$f"; echo "An archived copy of $f, since corrected."; } >"$A/$f"
done <"$work/changed"
# ...plus stories B no longer has (removed by the run).
mkdir -p "$A/withdrawn"
for i in $(seq 1 200); do
    printf 'Withdrawn story %d\nThis story about grain and oil was withdrawn.\n' "$i" >"$A/withdrawn/$i.txt"
done
diag "$NAME: $nfiles files in B, $(find "$A" -type f | wc -l) in A, seed $SEED, $RUNS kills, $THREADS thread(s)"

QUERIES=(
    'oil'
    '"crude oil" prices'
    'bank* -japan'
    'title:trade'
    'wheat NEAR/5 export*'
    'dollar OR yen OR mark'
    'opec -saudi'
    'withdrawn'
    'archived corrected'
)

# results IDX FILE: every query's total and best hits, as JSON lines.
results() {
    local whole=(--json -k 10)
    [ "$THREADS" -eq 1 ] || whole=(--count)
    printf '%s\n' "${QUERIES[@]}" >"$work/queries"
    timeout -k 10 "$QTIMEOUT" "$QUARRY" search -i "$1" "${whole[@]}" - <"$work/queries" \
        >"$2.raw" 2>"$2.err"
    st=$?
    sed 's/"took_us": *[0-9]*, *//' "$2.raw" >"$2"
    [ "$st" -le 1 ] || { fail "search: $(status_text): $(head -c 300 "$2.err")"; return 1; }
    [ "$(wc -l <"$2")" -eq "${#QUERIES[@]}" ] || { fail "search: $(wc -l <"$2") answers"; return 1; }
}

# index IDX DIR: a complete run; $st its status.
index() {
    q "$work/index.out" "$work/index.err" index -i "$1" --ram "$RAM" --threads "$THREADS" -q "$2"
    [ "$st" -eq 0 ] || { fail "index: $(status_text): $(head -c 300 "$work/index.err")"; return 1; }
}

# sound IDX: quarry check passes; with "strict", without a single warning (no orphan file).
sound() {
    q "$work/check.out" "$work/check.err" check -i "$1"
    [ "$st" -eq 0 ] || { fail "check: $(status_text): $(head -c 400 "$work/check.err")"; return 1; }
    if [ "${2:-}" = strict ] && [ -s "$work/check.err" ]; then
        fail "check warns: $(head -c 400 "$work/check.err")"
        return 1
    fi
    q "$work/stats.out" "$work/stats.err" stats -i "$1"
    [ "$st" -eq 0 ] || { fail "stats: $(status_text): $(head -c 300 "$work/stats.err")"; return 1; }
}

# no_orphans IDX: one manifest, no temporary file (check warns about the rest).
no_orphans() {
    local m t
    m=$(find "$1" -maxdepth 1 -name 'MANIFEST-*' ! -name '*.tmp' | wc -l)
    t=$(find "$1" -maxdepth 1 -name '*.tmp' | wc -l)
    [ "$m" -eq 1 ] && [ "$t" -eq 0 ] || { fail "$m manifests, $t temporary files: $(ls "$1" | tr '\n' ' ')"; return 1; }
}

have_check=1
"$QUARRY" check --help >/dev/null 2>&1 || have_check=0
if [ "$have_check" -eq 0 ]; then
    diag "no quarry check in this build: stats and search stand in for it"
    sound() {
        q "$work/stats.out" "$work/stats.err" stats -i "$1"
        [ "$st" -eq 0 ] || { fail "stats: $(status_text)"; return 1; }
    }
fi

# ---- the two commits every kill must fall back to ----
IA=$work/idxA
IDX=$work/idx
if index "$IA" "$A" && sound "$IA" strict && results "$IA" "$work/refA"; then
    ok "state A indexed: generation 1"
else
    not_ok "state A indexed"
    tap_end
    exit
fi
KILLER=${KILLER:-}
[ -n "$KILLER" ] && [ -x "$KILLER" ] || { KILLER=""; diag "no rel_killer: every kill after a delay"; }

# killed_run WHEN N: the run A -> B under rel_killer (or the shell's timer
# for WHEN = ms without it); $outcome is "killed" or "exited S".
killed_run() {
    local cmd=("$QUARRY" index -i "$IDX" --ram "$RAM" --threads "$THREADS" -q "$B")
    if [ -n "$KILLER" ]; then
        "$KILLER" "$IDX" "$1" "$2" -- "${cmd[@]}" >"$work/run.out" 2>"$work/run.err"
        outcome=$(tail -n 1 "$work/run.out")
        return
    fi
    # In a subshell of its own, so that bash does not report the kill.
    (exec "${cmd[@]}" >"$work/run.out" 2>"$work/run.err") &
    local pid=$!
    sleep "$(awk -v n="$2" 'BEGIN { printf "%.3f", n / 1000 }')"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    local rs=$?
    if [ "$rs" -eq 137 ]; then outcome=killed; else outcome="exited $rs"; fi
}

rm -rf "$IDX" && cp -a "$IA" "$IDX"
t0=$(date +%s.%N)
counts="seg=0 tmp=0 commit=0 remove=0"
if [ -n "$KILLER" ]; then
    killed_run count 0 # "exited S seg=A tmp=B commit=C remove=D"
    read -r _ st counts <<<"$outcome"
    cp "$work/run.err" "$work/index.err"
else
    index "$IDX" "$B"
fi
T=$(echo "$t0 $(date +%s.%N)" | awk '{ printf "%.3f", $2 - $1 }')
if [ "$st" = 0 ] && results "$IDX" "$work/refB" && sound "$IDX" strict && no_orphans "$IDX"; then
    ok "uninterrupted run A -> B: ${T}s, generation 2, events: $counts"
else
    not_ok "uninterrupted run A -> B: exit $st $(head -c 300 "$work/index.err")"
    tap_end
    exit
fi
if cmp -s "$work/refA" "$work/refB"; then
    not_ok "the run changes the answers"
fi
NEWMAN=MANIFEST-0000000000000002

# ---- the kills ----
count_of() { # count_of KIND: how many KIND events the uninterrupted run made
    local c=${counts#*"$1"=}
    echo "${c%% *}"
}
SEGS=$(count_of seg)
REMOVES=$(count_of remove)
RANDOM=$SEED
declare -A tally
for k in $(seq 1 "$RUNS"); do
    r=$RANDOM
    # The first four already reach every phase (the sanitizer build makes four).
    case $((k % 6)) in
    1) when=tmp n=1 ;;
    3) when=commit n=1 ;;
    4) when=seg n=$((r % (SEGS > 0 ? SEGS : 1) + 1)) ;;
    0) when=remove n=$((r % (REMOVES > 0 ? REMOVES : 1) + 1)) ;;
    *) when=ms n=$(awk -v t="$T" -v r="$r" 'BEGIN { printf "%d", t * 1000 * r / 32768 }') ;;
    esac
    [ -z "$KILLER" ] && [ "$when" != ms ] &&
        when=ms n=$(awk -v t="$T" -v r="$r" 'BEGIN { printf "%d", t * 1000 * (0.8 + 0.25 * r / 32768) }')
    rm -rf "$IDX" && cp -a "$IA" "$IDX"
    killed_run "$when" "$n"
    # What the kill left.
    if [ "$outcome" != killed ]; then
        state="finished before the kill ($outcome)"
    elif [ -e "$IDX/$NEWMAN" ]; then
        state="after the commit"
    elif [ -e "$IDX/$NEWMAN.tmp" ]; then
        state="inside the commit"
    elif [ -n "$(comm -13 <(ls "$IA") <(ls "$IDX"))" ]; then
        state="new segment files, not committed"
    else
        state="before the first new segment"
    fi
    tally[$state]=$((${tally[$state]:-0} + 1))
    want=$work/refA
    [ -e "$IDX/$NEWMAN" ] && want=$work/refB
    why=""
    if [ "$outcome" != killed ] && [ "$outcome" != "exited 0" ]; then
        why="the run failed by itself: $(head -c 300 "$work/run.err")"
    elif ! sound "$IDX" >"$work/why" || ! results "$IDX" "$work/got" >>"$work/why"; then
        why="after the kill: $(cat "$work/why")"
    elif ! cmp -s "$work/got" "$want"; then
        why="after the kill the answers are not those of $(basename "$want"): $(diff "$want" "$work/got" | head -c 300)"
    elif ! index "$IDX" "$B" >"$work/why" || ! results "$IDX" "$work/got" >>"$work/why" ||
        ! sound "$IDX" strict >>"$work/why" || ! no_orphans "$IDX" >>"$work/why"; then
        why="the next run: $(cat "$work/why")"
    elif ! cmp -s "$work/got" "$work/refB"; then
        why="after the next run the answers differ: $(diff "$work/refB" "$work/got" | head -c 300)"
    fi
    if [ -z "$why" ]; then
        ok "kill $k ($when $n): $state; sound, last commit served, next run complete"
    else
        not_ok "kill $k ($when $n): $state"
        diag "$why"
    fi
done
# ---- a kill during the very first run: no index yet, then a complete one ----
IF=$work/idxF
rm -rf "$IF" && mkdir "$IF"
IDX=$IF killed_run seg $((SEGS / 2 + 1))
why=""
q "$work/s.out" "$work/s.err" search -i "$IF" oil
if [ "$outcome" != killed ]; then
    why="the run was not killed: $outcome"
elif [ "$st" -ne 3 ] || ! one_line "$work/s.err"; then
    why="search before any commit: $(status_text), $(head -c 300 "$work/s.err") (want exit 3, one line)"
elif ! index "$IF" "$B" >"$work/why" || ! sound "$IF" strict >>"$work/why" ||
    ! no_orphans "$IF" >>"$work/why" || ! results "$IF" "$work/got" >>"$work/why"; then
    why="the next run: $(cat "$work/why")"
else
    rm -rf "$work/idxG"
    index "$work/idxG" "$B" && results "$work/idxG" "$work/refG"
    cmp -s "$work/got" "$work/refG" || why="the answers differ from a run never killed"
fi
if [ -z "$why" ]; then
    ok "kill during the first run: search says there is no index; the next run completes"
else
    not_ok "kill during the first run"
    diag "$why"
fi

for s in "${!tally[@]}"; do
    diag "kills $s: ${tally[$s]}"
done
tap_end
