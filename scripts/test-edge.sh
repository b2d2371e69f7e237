#!/usr/bin/env bash
# The edge handler in its real runtimes against a live genesys-sim: workerd
# (through Miniflare: edge/test/worker.test.mjs one isolate, fleet.test.mjs
# several sharing Durable Objects, budget.test.mjs, fuzz.test.mjs), a Deno
# smoke test (deno.test.mjs) and two Deno processes sharing Deno KV
# (deno-kv.test.mjs); then a bounded soak (edge/soak/, its own
# simulator at real time). Fails loudly when a runtime is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f pkg-edge/genesys_click_to_call_bg.wasm ] || { echo "FAIL: pkg-edge/ is missing: run scripts/build.sh" >&2; exit 1; }
for tool in node_modules/.bin/workerd .tools/node_modules/.bin/deno; do
  [ -x "$tool" ] || { echo "FAIL: $tool is not installed (run scripts/setup.sh); the edge suites cannot run" >&2; exit 1; }
done
scripts/with-sim.sh --time-scale 0.05 --rate-limit 100000 -- scripts/node-tests.sh edge/test
# The soak runs SOAK_SECONDS (150) plus warm-up and 30 s of rest: its own, longer time-out.
[ "${EDGE_SOAK:-1}" = 0 ] || TEST_TIMEOUT_MS=600000 scripts/with-sim.sh --rate-limit 10000000 -- scripts/node-tests.sh edge/soak
