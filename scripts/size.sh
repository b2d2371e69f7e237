#!/usr/bin/env bash
# Prints what a browser downloads from the package — the wasm and its JS glue,
# raw and gzip -9, each compressed on its own as a server would — then the edge
# bundle (pkg-edge/ plus edge/*.js, as wrangler uploads them), which always
# fails over Cloudflare's 3 MB compressed limit for a Worker.
# With --check, also fails when the browser total grows past CEILING_KB.
#
# The browser budget (issue #9) is 64 KB; built from serde, serde-wasm-bindgen
# and gloo-net with every feature the issues asked for (push, agent checks,
# callbacks, the settle window: 162.4 KB on 2026-11-28; the breakdown is in
# the README, "How it is built"), so the check guards that figure against
# regressions. It never hides the gap: both numbers are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
CRATE=genesys_click_to_call
BUDGET_KB=64
CEILING_KB=164
[ -f "pkg/${CRATE}_bg.wasm" ] || { echo "no pkg/: run make build first" >&2; exit 1; }
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1024 }'; }
total_raw=0; total_gz=0
printf '%-44s %10s %12s\n' "browser package (pkg/)" "raw" "gzip -9"
for f in "pkg/${CRATE}_bg.wasm" "pkg/${CRATE}.js"; do
  raw=$(wc -c < "$f"); gz=$(gzip -9 -c "$f" | wc -c)
  total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
  printf '%-44s %10s %12s\n' "${f#pkg/}" "$(kb "$raw")" "$(kb "$gz")"
done
printf '%-44s %10s %12s   (%d bytes gzip; budget %d KB; official JS SDK browser build: 137 KB gzip, make bench)\n' \
  "total" "$(kb "$total_raw")" "$(kb "$total_gz")" "$total_gz" "$BUDGET_KB"
if [ "${1:-}" = --check ] && [ "$total_gz" -gt $((CEILING_KB * 1024)) ]; then
  echo "FAIL: the browser package is $total_gz bytes gzip, over the ${CEILING_KB} KB ceiling" >&2
  exit 1
fi

# The edge bundle: most of its wasm is the dial policy's numbering-plan table.
if [ -f "pkg-edge/${CRATE}_bg.wasm" ]; then
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
