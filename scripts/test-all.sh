#!/usr/bin/env bash
# `make test`: every suite in order, stopping at the first failure, then one
# closing line that tallies the tests that ran across all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
step() { echo "== $*"; "$@" 2>&1 | tee -a "$log"; }
step make --no-print-directory lint
step cargo test --workspace
step scripts/build.sh
step scripts/size.sh --check
step scripts/test-package.sh
step scripts/test-wasm.sh node
step scripts/test-wasm.sh browser
step scripts/test-example.sh
step scripts/test-edge.sh
step scripts/test-browser.sh
passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{ s += $4 } END { print s + 0 }')
edge=$(grep -E '^ℹ pass [0-9]+' "$log" | awk '{ s += $3 } END { print s + 0 }')
passed=$((passed + edge))
examples=$(grep -c '^README example: ok$' "$log" || true)
echo "all suites: $((passed + examples)) passed, 0 failed"
