#!/usr/bin/env bash
# Prints what a browser downloads from the package — the wasm and its JS glue,
# raw and gzip -9, each compressed on its own as a server would — and the edge
# package's size beside Cloudflare's 3 MB limit for a Worker.
# With --check, fails when the browser total grows past CEILING_KB.
#
# The budget (issue #9) is 64 KB; with serde, serde-wasm-bindgen, gloo-net and
# the default allocator the package measures about 109 KB (the breakdown is in
# bench/RESULTS.md, "Browser payload"), so the check guards that figure against
# regressions until the budget is decided. It never hides the gap: both numbers
# are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
CRATE=genesys_click_to_call
BUDGET_KB=64
# Push call tracking (issue #11: the Notifications hub, its socket and the
# push-aware waits) added 20.8 KB gzip: 109.7 -> 127.5 KB.
CEILING_KB=130
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
if [ -f "pkg-edge/${CRATE}_bg.wasm" ]; then
  edge_raw=$(( $(wc -c < "pkg-edge/${CRATE}_bg.wasm") + $(wc -c < "pkg-edge/${CRATE}.js") ))
  edge_gz=$(( $(gzip -9 -c "pkg-edge/${CRATE}_bg.wasm" | wc -c) + $(gzip -9 -c "pkg-edge/${CRATE}.js" | wc -c) ))
  printf '%-44s %10s %12s   (Cloudflare Workers limit: 3 MB compressed)\n' "edge package (pkg-edge/)" "$(kb "$edge_raw")" "$(kb "$edge_gz")"
fi
if [ "${1:-}" = --check ] && [ "$total_gz" -gt $((CEILING_KB * 1024)) ]; then
  echo "FAIL: the browser package is $total_gz bytes gzip, over the ${CEILING_KB} KB ceiling" >&2
  exit 1
fi
