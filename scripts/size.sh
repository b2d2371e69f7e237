#!/usr/bin/env bash
# Prints the browser package's size: the .wasm, its JS glue and the JS snippets
# it imports, raw and gzip -9, each file compressed on its own as a server would.
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
printf '%-44s %10s %12s   (budget %d KB; official JS SDK browser build: 141 KB gzip)\n' "total" "$(kb "$total_raw")" "$(kb "$total_gz")" "$BUDGET_KB"
