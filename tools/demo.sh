#!/bin/sh
# The demo: indexes the bundled sample articles into a fresh index and runs a
# handful of searches that show the query language. Usage:
#   tools/demo.sh [PATH/TO/quarry]
set -eu
QUARRY=${1:-build/tools/quarry}
HERE=$(cd "$(dirname "$0")/.." && pwd)
INDEX=${DEMO_INDEX:-$(mktemp -d "${TMPDIR:-/tmp}/quarry-demo.XXXXXX")/quarry.idx}

echo "== quarry index -i $INDEX samples/articles"
"$QUARRY" index --quiet -i "$INDEX" "$HERE/samples/articles"
echo
for q in '"cease-fire" AND crimea' 'ceasefire' 'ukrain* -russia' 'title:talks' \
         'putin NEAR/5 zelensky' '(sanctions OR embargo) AND oil'; do
    echo "== quarry search -k 3 '$q'"
    "$QUARRY" search -i "$INDEX" -k 3 "$q" || true
    echo
done
echo "== quarry search --count 'grain'"
"$QUARRY" search -i "$INDEX" --count grain || true
echo
echo "== how quarry analyses a headline (quarry analyze):"
"$QUARRY" analyze "Zelenskyy’s envoy rejects a 24-hour cease-fire in Gdańsk talks"
echo
echo "== quarry stats"
"$QUARRY" stats -i "$INDEX"
