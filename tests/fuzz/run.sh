#!/bin/sh
# Builds quarry's libFuzzer targets with clang, ASan and UBSan (a separate
# meson build directory configured with -Dfuzz=true) and runs each one for
# a bounded time on its seed corpus. Exits non-zero when any target finds a
# crash, a leak, undefined behaviour, a broken invariant or a timeout, and
# prints the reproducer's path and the command that replays it.
#
#   tests/fuzz/run.sh [TARGET...]      default: every tests/fuzz/fuzz_*.c
#
# FUZZ_SECONDS   seconds per target (default 60)
# FUZZ_BUILD     build directory (default build-fuzz)
# FUZZ_OUT       where new inputs and findings go (default $FUZZ_BUILD/fuzz-out)
#
# Seeds: tests/fuzz/corpus/<target minus fuzz_>/ (committed) and, for
# fuzz_segment, a fresh copy from gen_seeds (so the seeds follow the current
# file formats). The run's new inputs go to $FUZZ_OUT/<target>/corpus and
# never into the repository. A finding is $FUZZ_OUT/<target>/crash-*,
# leak-*, timeout-* or oom-*; replay it with `$FUZZ_BUILD/tests/fuzz/<target>
# FILE`, and once the bug is fixed, add it to the target's seed corpus.
set -eu
cd "$(dirname "$0")/../.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
BUILD=${FUZZ_BUILD:-build-fuzz}
OUT=${FUZZ_OUT:-$BUILD/fuzz-out}

if [ $# -gt 0 ]; then
    targets="$*"
else
    targets=$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)
fi

if ! command -v clang >/dev/null 2>&1; then
    echo "run.sh: clang is missing (./dev.sh fuzz installs it)" >&2
    exit 2
fi
if [ ! -f "$BUILD/build.ninja" ]; then
    CC=clang meson setup "$BUILD" -Dfuzz=true -Dtests=disabled -Dfts5=disabled \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fno-sanitize-recover=all >/dev/null
fi
ninja -C "$BUILD" -j2 tests/fuzz/gen_seeds $(for t in $targets; do echo "tests/fuzz/$t"; done)

# Per-input limits: any one input taking > 10 s or 2 GiB is a finding.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
for t in $targets; do
    exe=$BUILD/tests/fuzz/$t
    name=${t#fuzz_}
    seeds=tests/fuzz/corpus/$name
    work=$OUT/$t
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/seeds"
    case $t in
    fuzz_segment)
        "$BUILD/tests/fuzz/gen_seeds" "$work/seeds"
        max_len=65536 ;;
    fuzz_analyzer) max_len=16384 ;;
    *) max_len=4096 ;;
    esac
    dict=""
    [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
    echo "run.sh: $t for ${SECONDS_EACH}s (seeds: $seeds)"
    rc=0
    # shellcheck disable=SC2086
    "$exe" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$work/" $dict \
        "$work/corpus" "$seeds" "$work/seeds" >"$work/log" 2>&1 || rc=$?
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done )" "$work/log" |
        sed "s/^/  /" || true
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "run.sh: $t FAILED (exit $rc); the end of $work/log:" >&2
        tail -n 60 "$work/log" >&2
        for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* \
            "$work"/slow-unit-*; do
            [ -e "$f" ] || continue
            echo "run.sh: reproducer: $f" >&2
            echo "run.sh: replay with: $exe $f" >&2
        done
    fi
done
[ "$status" -eq 0 ] && echo "run.sh: no findings in: $targets"
exit $status
