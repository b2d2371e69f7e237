#!/usr/bin/env bash
# Runs the node:test files (*.test.mjs) in a folder — not its helpers, which
# node would run as tests of their own — and fails unless every test it declares
# ran and passed: a suite that finds no tests, or skips some, must not look green.
# Tests are counted as declared at the top level (`test(` at the start of a
# line); one declared any other way (in a loop, describe/it, a subtest, .skip or
# .only) is refused outright, since the count could not see it.
# Usage: scripts/node-tests.sh DIR
set -euo pipefail
dir=${1:?usage: node-tests.sh DIR}
shopt -s nullglob
files=("$dir"/*.test.mjs)
[ "${#files[@]}" -gt 0 ] || { echo "FAIL: $dir has no *.test.mjs files" >&2; exit 1; }
expected=$(cat "${files[@]}" | grep -cE '^test\(' || true)
[ "$expected" -gt 0 ] || { echo "FAIL: $dir declares no tests (test( at the start of a line)" >&2; exit 1; }
if hidden=$(grep -nE '^\s+(test|it|describe)(\.\w+)?\(|^(test|it|describe)\.\w+\(|^(it|describe)\(|\bt\.test\(' "${files[@]}"); then
  echo "FAIL: tests declared where scripts/node-tests.sh cannot count them (declare each with test( at the top level):" >&2
  echo "$hidden" >&2
  exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
node --test --test-timeout="${TEST_TIMEOUT_MS:-180000}" --test-reporter=spec "${files[@]}" 2>&1 | tee "$out" || status=$?
passed=$(grep -E '^ℹ pass [0-9]+' "$out" | awk '{ print $3 }' | tail -1)
skipped=$(grep -E '^ℹ (skipped|todo) [0-9]+' "$out" | awk '{ s += $3 } END { print s + 0 }')
[ "$status" = 0 ] || { echo "FAIL: $dir: tests failed" >&2; exit "$status"; }
# A file that ends before declaring its tests (process.exit(0) at the top, say)
# is counted by node as one passing test named by its path: never a pass here.
for f in "${files[@]}"; do
  if grep -qF "✔ $(realpath "$f") (" "$out"; then
    echo "FAIL: $f declared no test when it ran (node counted the file itself as a pass)" >&2
    exit 1
  fi
done
if [ "${passed:-0}" != "$expected" ] || [ "$skipped" != 0 ]; then
  echo "FAIL: $dir ran ${passed:-0} of $expected declared tests ($skipped skipped or todo)" >&2
  exit 1
fi
echo "$dir: $passed of $expected declared tests passed"
