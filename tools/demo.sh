#!/bin/sh
# The demo: analyses the bundled sample articles with `quarry analyze` and
# prints their most frequent terms. Usage: tools/demo.sh PATH/TO/quarry
set -eu
QUARRY=${1:-build/tools/quarry}
DIR=$(dirname "$0")/../samples/articles
echo "== quarry analyze on $(find "$DIR" -type f | wc -l) sample articles"
echo "== the 25 most frequent terms (stemmed, english):"
find "$DIR" -type f | sort | while read -r f; do "$QUARRY" analyze - < "$f"; done |
    cut -f2 | sort | uniq -c | sort -k1,1nr -k2 | head -25
echo "== how a headline is analysed:"
"$QUARRY" analyze "Zelenskyy’s envoy rejects a 24-hour cease-fire in Gdańsk talks"
