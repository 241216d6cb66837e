#!/bin/sh
# quarry's developer entry point: installs the Debian packages the build needs
# (only the missing ones), configures and builds with meson, then runs a job.
#
#   ./dev.sh demo    index the bundled sample articles and run example searches
#   ./dev.sh test    build and run the whole test suite (what CI runs)
#   ./dev.sh sanitize  the same suite built with ASan and UBSan (build-asan/)
#   ./dev.sh fuzz    libFuzzer targets, FUZZ_SECONDS (60) each (build-fuzz/, clang)
#   ./dev.sh build   just install dependencies, configure and build
#   ./dev.sh deps    just install the missing Debian packages
#
# BUILD (default: build) names the build directory; MESON_ARGS adds meson options.
set -eu
cd "$(dirname "$0")"
BUILD=${BUILD:-build}

# Debian 12 packages: toolchain, the libraries quarry links, Criterion for the
# tests, zstd to unpack the shared corpora, python3 for the test summary.
PACKAGES="gcc libc6-dev pkg-config meson ninja-build python3 zstd \
libzstd-dev libxxhash-dev libstemmer-dev libutf8proc-dev libjansson-dev libcriterion-dev libsqlite3-dev"
# For `./dev.sh fuzz` only: clang, its runtime libraries (libclang_rt.fuzzer and the
# sanitizers: libclang-rt-14-dev on Debian 12) and llvm-symbolizer for stack traces.
FUZZ_PACKAGES="clang libclang-rt-14-dev llvm"

deps() {
    missing=""
    for p in $PACKAGES; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    echo "dev.sh: installing missing Debian packages:$missing" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
}

build() {
    deps
    if [ ! -f "$BUILD/build.ninja" ]; then
        # shellcheck disable=SC2086
        meson setup "$BUILD" ${MESON_ARGS:-}
    fi
    ninja -C "$BUILD"
}

summary() {
    # The plain closing line CI reads: every TAP test case counted.
    python3 - "$BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    t = json.loads(line)
    out = t.get("stdout") or ""
    cases = [l for l in out.splitlines() if l.startswith(("ok ", "not ok "))]
    if not cases:
        if t["result"] in ("OK", "EXPECTEDFAIL"): passed += 1
        elif t["result"] == "SKIP": skipped += 1
        else: failed += 1
        continue
    for l in cases:
        if "# SKIP" in l: skipped += 1
        elif l.startswith("ok "): passed += 1
        else: failed += 1
    if t["result"] not in ("OK", "EXPECTEDFAIL", "SKIP") and not any(l.startswith("not ok") for l in cases):
        failed += 1  # crashed or timed out after its last reported case
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
}

case "${1:-}" in
deps) deps ;;
build) build ;;
demo)
    build
    sh tools/demo.sh "$BUILD/tools/quarry"
    ;;
test)
    build
    status=0
    meson test -C "$BUILD" --print-errorlogs --num-processes 2 || status=$?
    summary
    exit $status
    ;;
sanitize)
    BUILD=${BUILD_ASAN:-build-asan}
    MESON_ARGS="-Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all"
    build
    status=0
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
        meson test -C "$BUILD" --print-errorlogs --num-processes 2 || status=$?
    summary
    # Criterion reports a test before its process exits, so a leak report at
    # exit does not fail it: look for any sanitizer report in the logs.
    if grep -l -E "(Address|Leak|UndefinedBehavior)Sanitizer|runtime error:" \
        "$BUILD/meson-logs/testlog.txt" >/dev/null 2>&1; then
        echo "dev.sh: sanitizer reports in $BUILD/meson-logs/testlog.txt:" >&2
        grep -E -A5 "(Address|Leak|UndefinedBehavior)Sanitizer|runtime error:" \
            "$BUILD/meson-logs/testlog.txt" | head -60 >&2
        status=1
    fi
    exit $status
    ;;
fuzz)
    PACKAGES="$PACKAGES $FUZZ_PACKAGES"
    deps
    exec sh tests/fuzz/run.sh
    ;;
*)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
