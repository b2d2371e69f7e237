#!/usr/bin/env bash
# Prints the browser package's size: the .wasm and its JS (glue and snippets),
# raw and gzip -9, each file compressed on its own as a server would.
# With --check, fails when the gzip total is over the budget.
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
