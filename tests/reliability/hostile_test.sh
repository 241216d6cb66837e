#!/bin/bash
# Hostile inputs (README "Reliability", promise 5): `quarry index` over a
# folder of everything a corpus should not hold, then searches over it and
# hostile queries. Nothing may crash or hang; every file is indexed or
# skipped as SPEC §1 says, and every skip is named in the summary:
#   binary files (a NUL in the first 8 KiB) skipped; a NUL after 8 KiB,
#   invalid and overlong UTF-8 indexed (bad bytes separate words); a sparse
#   1 GiB file skipped as too large, unread; one 10 MB line indexed;
#   unreadable files and folders skipped (as root, which permissions do not
#   stop, the run is made as the user nobody through setpriv or runuser, or
#   the case is skipped with a message); FIFOs, sockets, symlinks, symlink
#   loops and a symlink to a parent folder skipped, never followed; a folder
#   nested 300 deep; 100 000 empty files indexed as empty documents.
# Then a run races with a process that deletes, truncates, grows and
# replaces (by FIFOs and symlinks) the files it is reading: either outcome
# is fine for each file, but the run completes and its summary agrees with
# the index; the next run mirrors what is left exactly.
#
#   HOSTILE_EMPTY  how many empty files (default 100000)
set -u
. "$(dirname "$0")/lib.sh"

EMPTY=${HOSTILE_EMPTY:-100000}
D=$work/h/docs
IDX=$work/idx
mkdir -p "$D"/{text,bin,big,locked,locked-dir,special,loops,empty}

# ---- the corpus ----
printf 'Plain story\nGrain ships leave Odesa under a truce.\n' >"$D/text/plain.txt"
printf '\0ELF binary at the start\n' >"$D/bin/elf.bin"
{
    printf 'Late NUL\n'
    head -c 9000 /dev/zero | tr '\0' 'x' | fold -w 60
    printf '\n\0 afternul words after the byte\n'
} >"$D/text/late-nul.txt"
printf 'Broken bytes \xff\xfe title\nalpha\xff\xfebeta \xc0\xaf gamma \xe0\x80\xaf delta \xed\xa0\x80 epsilon \xf8\x88\x80\x80\x80 zeta \xc3\n\xf0\x9f\x98 omega\xc3' \
    >"$D/text/bad-utf8.txt"
truncate -s 1G "$D/big/huge.txt"
{
    yes 'filler words of a very long line' | head -n 320000 | tr '\n' ' '
    printf 'needleword'
} >"$D/big/oneline.txt"
printf 'Secret\nnobody may read this\n' >"$D/locked/secret.txt"
printf 'Hidden\nin a folder nobody may open\n' >"$D/locked-dir/hidden.txt"
chmod 000 "$D/locked/secret.txt" "$D/locked-dir"
mkfifo "$D/special/fifo"
have_socket=0
if command -v python3 >/dev/null &&
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$D/special/sock"; then
    have_socket=1
fi
ln -s self "$D/loops/self"
ln -s b "$D/loops/a"
ln -s a "$D/loops/b"
ln -s .. "$D/loops/up"
ln -s ../text/plain.txt "$D/loops/to-plain"
ln -s /nonexistent "$D/loops/dangling"
deep=$D/deep
for i in $(seq 1 300); do deep=$deep/d; done
mkdir -p "$deep" && printf 'Deep\nat the bottom of three hundred folders\n' >"$deep/bottom.txt"
for d in $(seq -w 0 $(((EMPTY + 999) / 1000 - 1))); do
    mkdir -p "$D/empty/$d"
    (cd "$D/empty/$d" && seq -w 0 999 | head -n $((EMPTY - 10#$d * 1000)) | sed 's/$/.txt/' | xargs -r touch)
done
nempty=$(find "$D/empty" -type f | wc -l)
diag "corpus: $(find "$D" | wc -l) entries, $nempty empty files"

# ---- the run, as an unprivileged user when we are root ----
as_user=()
unpriv="running as $(id -un)"
if [ "$(id -u)" -eq 0 ]; then
    if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null &&
        setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups true 2>/dev/null; then
        as_user=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
    elif id nobody >/dev/null 2>&1 && command -v runuser >/dev/null &&
        runuser -u nobody -- true 2>/dev/null; then
        as_user=(runuser -u nobody --)
    fi
    if [ ${#as_user[@]} -gt 0 ]; then
        unpriv="running as root: quarry index runs as nobody"
        chmod 755 "$work" "$work/h"
        mkdir -p "$IDX" && chmod 777 "$IDX"
    else
        unpriv="running as root and no way to run as nobody: permissions cannot be tested"
    fi
fi
diag "$unpriv"
timeout -k 10 "$QTIMEOUT" "${as_user[@]}" "$QUARRY" index -i "$IDX" -q "$D" >"$work/sum" 2>"$work/err"
st=$?
if grep -q -E "(Address|Leak|UndefinedBehavior)Sanitizer|runtime error:" "$work/err"; then
    cat "$work/err" >&2
    st=99
fi
if [ "$st" -eq 0 ]; then
    ok "quarry index over the hostile corpus completes"
else
    not_ok "quarry index over the hostile corpus: $(status_text)"
    diag "$(head -c 600 "$work/err")"
    tap_end
    exit
fi

# summary_has REASON PATH: the summary names PATH as skipped for REASON.
summary_has() {
    grep -q -F -x "  skipped $1: $2" "$work/sum"
}
field() { # field NAME: the number after "NAME:" in the summary
    awk -v f="$1:" '$1 == f { print $2; exit }' "$work/sum"
}

why=""
raw=$(awk '$1 == "raw:" { print int($2); exit }' "$work/sum")
[ "$raw" -lt 100 ] || why="$why (read $raw MB: the 1 GiB file was read)"
summary_has binary docs/bin/elf.bin || why="$why elf.bin"
summary_has "too large" docs/big/huge.txt || why="$why huge.txt"
for x in fifo $([ $have_socket -eq 1 ] && echo sock); do
    summary_has "not a regular file" "docs/special/$x" || why="$why special/$x"
done
for x in self a b up to-plain dangling; do
    summary_has "not a regular file" "docs/loops/$x" || why="$why loops/$x"
done
if [ -z "$why" ]; then
    ok "skipped and named: binary, too large (1 GiB sparse), FIFO$([ $have_socket -eq 1 ] && echo ', socket'), 6 symlinks"
else
    not_ok "skipped and named"
    diag "missing from the summary:$why"
    diag "$(grep skipped "$work/sum" | head -20)"
fi
[ $have_socket -eq 1 ] || skip "a socket in the corpus" "python3 cannot make one"

if [ "$(id -u)" -ne 0 ] || [ ${#as_user[@]} -gt 0 ]; then
    if summary_has unreadable docs/locked/secret.txt && summary_has unreadable docs/locked-dir/; then
        ok "an unreadable file and an unreadable folder are skipped and named"
    else
        not_ok "unreadable file and folder"
        diag "$(grep -i -E 'locked|unreadable' "$work/sum")"
    fi
else
    skip "unreadable files and folders" "$unpriv"
fi

# Every file not skipped is a document; the summary agrees with the index.
nskips=$(grep -c '^  skipped ' "$work/sum")
added=$(field added)
docs=$(field documents)
files=$(find "$D" -type f | wc -l)
q "$work/s.out" "$work/s.err" stats -i "$IDX"
sdocs=$(awk '$1 == "documents:" { print $2 }' "$work/s.out")
q "$work/c.out" "$work/c.err" search -i "$IDX" --count -- -zzzznotaword
# Each regular file and each other non-folder entry is a document or a skip,
# but for the two files inside the folders that are skipped whole (the
# unreadable one and the 257th level of the deep one), which the two folder
# skips stand for; as root without nobody, the unreadable ones are read.
others=$(find "$D" ! -type f ! -type d | wc -l)
if [ "$added" = "$docs" ] && [ "$docs" = "$sdocs" ] && [ "$(cat "$work/c.out")" = "$docs" ] &&
    [ $((added + nskips)) -eq $((files + others)) ]; then
    ok "summary, stats and search agree: $docs documents, $nskips skips, $files regular files"
else
    not_ok "summary, stats and search agree"
    diag "added $added, documents $docs, stats $sdocs, search $(cat "$work/c.out"), skips $nskips, files $files, others $others"
fi

# found QUERY PATH: a search for QUERY finds PATH.
found() {
    q "$work/f.out" "$work/f.err" search -i "$IDX" --json -k 5 "$1"
    [ "$st" -eq 0 ] && grep -q -F "\"path\":\"$2\"" "$work/f.out" ||
        grep -q -F "\"path\": \"$2\"" "$work/f.out"
}
why=""
found afternul docs/text/late-nul.txt || why="$why afternul"
for w in beta gamma epsilon zeta omega; do
    found "$w" docs/text/bad-utf8.txt || why="$why $w"
done
found needleword docs/big/oneline.txt || why="$why needleword"
found bottom "docs/$(cd "$D" && find deep -name bottom.txt)" || {
    grep -q -F "docs/deep/" "$work/sum" || why="$why deep (neither indexed nor named)"
}
if [ -z "$why" ]; then
    ok "a NUL after 8 KiB, invalid and overlong UTF-8 and a 10 MB line are indexed; the deep folder indexed or named"
else
    not_ok "text around bad bytes is found"
    diag "not found:$why"
fi

# Whole outputs stay valid: JSON of the bad bytes, the 10 MB title printed.
why=""
q "$work/j.out" "$work/j.err" search -i "$IDX" --json 'beta OR needleword OR afternul'
[ "$st" -eq 0 ] || why="json search: $(status_text)"
if [ -z "$why" ] && command -v python3 >/dev/null; then
    python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$work/j.out" \
        2>"$work/py.err" || why="invalid JSON: $(head -c 200 "$work/py.err")"
fi
q "$work/t.out" "$work/t.err" search -i "$IDX" needleword
line=$(wc -c <"$D/big/oneline.txt")
[ -z "$why" ] && { [ "$st" -eq 0 ] && [ "$(wc -c <"$work/t.out")" -gt "$line" ]; } ||
    why="${why:-text search of the $line-byte line: $(status_text), $(wc -c <"$work/t.out") bytes out}"
if [ -z "$why" ]; then
    ok "JSON of invalid UTF-8 is valid; the 10 MB title is printed whole"
else
    not_ok "outputs of hostile documents"
    diag "$why"
fi

q "$work/e.out" "$work/e.err" search -i "$IDX" --count -- "-zzzznotaword -needleword -grain -beta -afternul -nobody"
want=$((docs - 4))
if [ "$st" -eq 0 ] && [ "$(cat "$work/e.out")" -ge "$nempty" ] && [ "$(cat "$work/e.out")" -le "$want" ]; then
    ok "the $nempty empty files are documents (a negation-only query matches them)"
else
    not_ok "empty files as documents: $(status_text), $(cat "$work/e.out") hits, want >= $nempty"
fi

# ---- hostile queries ----
why=""
n=0
hostile_query() { # hostile_query DESCRIPTION QUERY: exit 0, 1 or 2 (with one line), nothing else
    printf '%s\n' "$2" >"$work/hq"
    q "$work/hq.out" "$work/hq.err" search -i "$IDX" --count - <"$work/hq"
    n=$((n + 1))
    if [ "$st" -gt 2 ]; then
        why="$why; $1: $(status_text) $(head -c 200 "$work/hq.err")"
    elif [ "$st" -eq 2 ] && ! one_line "$work/hq.err"; then
        why="$why; $1: $(wc -l <"$work/hq.err") lines of error"
    fi
}
rep() { # rep N TEXT: TEXT N times
    awk -v n="$1" -v t="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", t }'
}
hostile_query "empty" ""
hostile_query "punctuation only" '!!! ... ,,, ;;; ---'
hostile_query "invalid UTF-8" "$(printf 'beta\xff\xfe \xc0\xaf \xed\xa0\x80')"
hostile_query "300 nested parentheses" "$(rep 300 '(')beta$(rep 300 ')')"
hostile_query "100000 open parentheses" "$(rep 100000 '(')"
hostile_query "an unclosed quote" '"beta gamma'
hostile_query "100000 NOTs" "$(rep 100000 'NOT ')beta"
hostile_query "100000 dashes" "$(rep 100000 '-')beta"
hostile_query "20000 ORs" "beta$(rep 20000 ' OR beta')"
hostile_query "20000 words" "$(rep 20000 'beta ')"
hostile_query "2000 NEARs" "beta$(rep 2000 ' NEAR beta')"
hostile_query "2000 prefixes" "$(rep 2000 'fi* ')"
hostile_query "a 1 MB word" "$(rep 100000 'abcdefghij')"
hostile_query "a 200-word phrase" "\"$(rep 200 'filler words ')\""
hostile_query "field prefixes" "$(rep 1000 'title:')beta"
hostile_query "NUL-free control bytes" "$(printf 'beta \001\002\033[31m gamma')"
if [ -z "$why" ]; then
    ok "$n hostile queries: answers or one-line syntax errors, no crash"
else
    not_ok "hostile queries"
    diag "${why#; }"
fi

# ---- the file system changing under a run ----
R=$work/race/docs
mkdir -p "$R"
awk -v d="$R" 'BEGIN {
    for (i = 0; i < 20000; i++) {
        f = sprintf("%s/%05d.txt", d, i)
        printf "Story %d\n", i > f
        for (k = 0; k < 30; k++) printf "word%d grain talks truce\n", k > f
        close(f)
    }
}'
RIDX=$work/ridx
(exec "$QUARRY" index -i "$RIDX" --threads 1 -q "$R" >"$work/rsum" 2>"$work/rerr") &
runner=$!
# Work from the last files backwards: the run reads in path order.
for i in $(seq 19999 -1 12000); do
    f=$(printf '%s/%05d.txt' "$R" "$i")
    case $((i % 5)) in
    0) rm -f "$f" ;;
    1) : >"$f" ;;
    2) rm -f "$f" && mkfifo "$f" ;;
    3) rm -f "$f" && ln -s /etc/passwd "$f" ;;
    4) echo "grown" >>"$f" ;;
    esac
    kill -0 "$runner" 2>/dev/null || break
done
timeout -k 10 "$QTIMEOUT" tail --pid="$runner" -f /dev/null
wait "$runner"
st=$?
why=""
if [ "$st" -ne 0 ]; then
    why="the racing run: $(status_text): $(head -c 300 "$work/rerr")"
else
    cp "$work/rsum" "$work/sum"
    radded=$(field added)
    rdocs=$(field documents)
    q "$work/s.out" "$work/s.err" stats -i "$RIDX"
    sdocs=$(awk '$1 == "documents:" { print $2 }' "$work/s.out")
    q "$work/c.out" "$work/c.err" check -i "$RIDX"
    if [ "$st" -ne 0 ]; then
        why="check after the racing run: $(head -c 300 "$work/c.err")"
    elif [ "$radded" != "$rdocs" ] || [ "$rdocs" != "$sdocs" ] || [ "$rdocs" -gt 20000 ]; then
        why="summary and index disagree: added $radded, documents $rdocs, stats $sdocs"
    fi
fi
if [ -z "$why" ]; then
    ok "a run racing with deletions, truncations and replacements completes: $rdocs documents, $(grep -c '^  skipped' "$work/rsum") skips"
    diag "$(grep '^skipped:' "$work/rsum")"
else
    not_ok "a run racing with a deleter"
    diag "$why"
fi
# The next run mirrors what is left: every regular file, no FIFO, no symlink.
q "$work/o" "$work/e" index -i "$RIDX" --threads 1 -q "$R"
cp "$work/o" "$work/sum"
left=$(find "$R" -type f | wc -l)
if [ "$st" -eq 0 ] && [ "$(field documents)" = "$left" ]; then
    ok "the next run mirrors the folder: $left documents"
else
    not_ok "the next run mirrors the folder: $(status_text), $(field documents) documents, $left files"
    diag "$(head -c 300 "$work/e")"
fi
tap_end
