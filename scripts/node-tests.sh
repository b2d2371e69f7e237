#!/usr/bin/env bash
# Runs the node:test files (*.test.mjs) in a folder — not its helpers, which
# node would run as tests of their own — and fails unless every test it declares
# ran and passed: a suite that finds no tests, or skips some, must not look green.
# Usage: scripts/node-tests.sh DIR
set -euo pipefail
dir=${1:?usage: node-tests.sh DIR}
expected=$(cat "$dir"/*.test.mjs | grep -cE '^test\(')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
node --test --test-timeout="${TEST_TIMEOUT_MS:-180000}" --test-reporter=spec "$dir"/*.test.mjs 2>&1 | tee "$out" || status=$?
passed=$(grep -E '^ℹ pass [0-9]+' "$out" | awk '{ print $3 }' | tail -1)
skipped=$(grep -E '^ℹ (skipped|todo) [0-9]+' "$out" | awk '{ s += $3 } END { print s + 0 }')
[ "$status" = 0 ] || { echo "FAIL: $dir: tests failed" >&2; exit "$status"; }
if [ "${passed:-0}" != "$expected" ] || [ "$skipped" != 0 ]; then
  echo "FAIL: $dir ran ${passed:-0} of $expected declared tests ($skipped skipped or todo)" >&2
  exit 1
fi
