#!/usr/bin/env bash
# The README's Node example must be examples/node-call.mjs verbatim, and it must
# place a call through genesys-sim and print each status until "completed".
set -euo pipefail
cd "$(dirname "$0")/.."
readme_block=$(awk '/<!-- example: examples\/node-call.mjs -->/{getline; inblock=1; next} inblock && /^```$/{exit} inblock' README.md)
if [ "$readme_block" != "$(cat examples/node-call.mjs)" ]; then
  echo "FAIL: the README's example differs from examples/node-call.mjs" >&2
  diff <(echo "$readme_block") examples/node-call.mjs >&2 || true
  exit 1
fi
out=$(scripts/with-sim.sh --time-scale 0.2 -- node examples/node-call.mjs)
echo "$out"
grep -q '^connected' <<<"$out" || { echo "FAIL: the example never printed a connected status" >&2; exit 1; }
grep -q '^outcome: completed$' <<<"$out" || { echo "FAIL: the example did not end with outcome completed" >&2; exit 1; }
echo "README example: ok"
