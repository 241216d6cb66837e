# Shared by the reliability scripts (sourced, bash): TAP output, running the
# quarry binary with a time limit, spotting crashes and sanitizer reports,
# finding and unpacking a corpus of ../shared/corpora.
#
# Environment: QUARRY (the binary, required), QUARRY_SOURCE_ROOT (the source
# tree; corpora are looked for in $QUARRY_SOURCE_ROOT/../shared/corpora
# unless QUARRY_CORPORA says where), QTIMEOUT (seconds one quarry command
# may take before it counts as hung, default 300).

QUARRY=${QUARRY:?QUARRY must name the quarry binary}
QTIMEOUT=${QTIMEOUT:-300}
CORPORA=${QUARRY_CORPORA:-${QUARRY_SOURCE_ROOT:-.}/../shared/corpora}

tap_n=0
tap_failed=0

ok() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $*"
}

not_ok() {
    tap_n=$((tap_n + 1))
    tap_failed=$((tap_failed + 1))
    echo "not ok $tap_n - $*"
}

skip() { # skip NAME REASON
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $1 # SKIP $2"
}

diag() {
    echo "# $*"
}

# The plan goes last (TAP allows it); the exit status says whether all passed.
tap_end() {
    echo "1..$tap_n"
    [ "$tap_failed" -eq 0 ]
}

# A failed check inside a test point: say why (a TAP comment), return 1.
fail() {
    diag "$*"
    return 1
}

# q OUT ERR ARGS...: runs quarry ARGS with stdout in OUT and stderr in ERR,
# killed after QTIMEOUT seconds; $st is its exit status (124: timed out,
# > 128: died of a signal). A sanitizer report in ERR is copied to our stderr
# (where ./dev.sh sanitize looks for it) and turns $st into 99.
q() {
    local out=$1 err=$2
    shift 2
    timeout -k 10 "$QTIMEOUT" "$QUARRY" "$@" >"$out" 2>"$err"
    st=$?
    if grep -q -E "(Address|Leak|UndefinedBehavior)Sanitizer|runtime error:" "$err" 2>/dev/null; then
        cat "$err" >&2
        st=99
    fi
    return 0
}

# True when $st is an exit status quarry may give: 0..4, not a crash, hang or report.
clean_status() {
    [ "$st" -ge 0 ] && [ "$st" -le 4 ]
}

# Describes $st for a diagnostic.
status_text() {
    case $st in
    124) echo "hung (killed after ${QTIMEOUT}s)" ;;
    99) echo "sanitizer report" ;;
    *) if [ "$st" -gt 128 ]; then echo "died of signal $((st - 128))"; else echo "exit $st"; fi ;;
    esac
}

# True when FILE is exactly one line.
one_line() {
    [ "$(wc -l <"$1")" -eq 1 ]
}

# corpus_tarball NAME: prints the path of NAME's tarball; false when absent.
corpus_tarball() {
    local t="$CORPORA/$1/$1.tar.zst"
    [ -r "$t" ] || return 1
    echo "$t"
}

# unpack_docs NAME DEST: unpacks NAME's docs/ folder into DEST/NAME/docs.
unpack_docs() {
    local t
    t=$(corpus_tarball "$1") || return 1
    mkdir -p "$2" && tar --zstd -xf "$t" -C "$2" "$1/docs"
}

# A scratch directory, removed on exit (with anything made unwritable in it):
# in $TMPDIR when set, else on /dev/shm when it is a tmpfs with 2 GB free
# (creating 100 000 files there takes seconds, not a minute), else in /tmp.
# KEEP=1 keeps it, for a look after a failure.
scratch_base() {
    if [ -n "${TMPDIR:-}" ]; then
        echo "$TMPDIR"
    elif [ -d /dev/shm ] && [ -w /dev/shm ] &&
        [ "$(df --output=avail -k /dev/shm 2>/dev/null | tail -n 1)" -gt 2000000 ] 2>/dev/null; then
        echo /dev/shm
    else
        echo /tmp
    fi
}
work=$(mktemp -d "$(scratch_base)/quarry-rel-XXXXXX")
cleanup() {
    [ -n "${KEEP:-}" ] && { echo "# kept $work" >&2; return; }
    chmod -R u+rwX "$work" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
