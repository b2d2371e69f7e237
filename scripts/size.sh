#!/usr/bin/env bash
# Prints the browser package's size: the .wasm and its JS (glue and snippets),
# raw and gzip -9, each file compressed on its own as a server would.
# With --check, fails when the gzip total is over the budget.
# Then the edge bundle's (pkg-edge/ plus edge/*.js, as wrangler uploads them),
# which always fails over Cloudflare's 3 MB compressed limit for a Worker.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET_KB=45
[ -f pkg/genesys_click_to_call_bg.wasm ] || { echo "no pkg/: run make build first" >&2; exit 1; }
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1024 }'; }
total_raw=0; total_gz=0
printf '%-44s %10s %12s\n' "browser package (pkg/)" "raw" "gzip -9"
while IFS= read -r f; do
  raw=$(wc -c < "$f"); gz=$(gzip -9 -c "$f" | wc -c)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
  printf '%-44s %10s %12s\n' "${f#pkg/}" "$(kb "$raw")" "$(kb "$gz")"
done < <(find pkg -name '*.wasm' -o -name '*.js' | grep -v '\.d\.ts$' | sort)
printf '%-44s %10s %12s   (%d bytes gzip; budget %d KB; official JS SDK browser build: 137 KB gzip, make bench)\n' "total" "$(kb "$total_raw")" "$(kb "$total_gz")" "$total_gz" "$BUDGET_KB"
if [ "${1:-}" = --check ] && [ "$total_gz" -gt $((BUDGET_KB * 1024)) ]; then
  echo "FAIL: the browser package is $total_gz bytes gzip, over the ${BUDGET_KB} KB budget" >&2
  exit 1
fi

# The edge bundle: most of its wasm is the dial policy's numbering-plan table.
if [ -f pkg-edge/genesys_click_to_call_bg.wasm ]; then
  EDGE_LIMIT=$((3 * 1024 * 1024))
  edge_raw=0; edge_gz=0
  printf '%-44s %10s %12s\n' "edge bundle (pkg-edge/ + edge/)" "raw" "gzip -9"
  while IFS= read -r f; do
    raw=$(wc -c < "$f"); gz=$(gzip -9 -c "$f" | wc -c)
    edge_raw=$((edge_raw + raw)); edge_gz=$((edge_gz + gz))
    printf '%-44s %10s %12s\n' "$f" "$(kb "$raw")" "$(kb "$gz")"
  done < <({ find pkg-edge \( -name '*.wasm' -o -name '*.js' \); find edge -maxdepth 1 -name '*.js'; } | sort)
  printf '%-44s %10s %12s   (%d bytes gzip; Cloudflare Workers limit: 3 MB compressed)\n' "total" "$(kb "$edge_raw")" "$(kb "$edge_gz")" "$edge_gz"
  if [ "$edge_gz" -gt "$EDGE_LIMIT" ]; then
    echo "FAIL: the edge bundle is $edge_gz bytes gzip, over Cloudflare's 3 MB limit" >&2
    exit 1
  fi
fi
