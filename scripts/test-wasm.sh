#!/usr/bin/env bash
# The wasm suite (tests/wasm_client.rs) against a live genesys-sim, in Node or
# in headless Chromium. Fails loudly if a tool is missing or if fewer tests ran
# than exist: a browser run that silently skips must not look green.
# Usage: scripts/test-wasm.sh node|browser
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: test-wasm.sh node|browser}
command -v wasm-bindgen-test-runner >/dev/null || { echo "FAIL: wasm-bindgen-test-runner missing (run scripts/setup.sh)" >&2; exit 1; }
expected=$(grep -c '^#\[wasm_bindgen_test\]' tests/wasm_client.rs)

run() {
  set -euo pipefail
  if [ "$mode" = browser ]; then
    for tool in chromium chromedriver; do
      command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed; the browser suite cannot run (run scripts/setup.sh)" >&2; exit 1; }
    done
    GENESYS_SIM_ADA_TOKEN=$(node scripts/sim-user-token.mjs "$GENESYS_SIM_URL")
    export GENESYS_SIM_ADA_TOKEN GENESYS_EXPECT_BROWSER=1 WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver
    # The whole browser run shares one timeout (default 20 s); the push suite
    # (socket faults, 100 concurrent calls) needs longer.
    export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-180}
  fi
  out=$(mktemp)
  status=0
  cargo test --target wasm32-unknown-unknown --test wasm_client 2>&1 | tee "$out" || status=$?
  passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$out" | grep -Eo '[0-9]+' | tail -1 || true)
  rm -f "$out"
  [ "$status" = 0 ] || { echo "FAIL: wasm tests ($mode) failed" >&2; exit "$status"; }
  if [ "${passed:-0}" != "$expected" ]; then
    echo "FAIL: $mode ran ${passed:-0} wasm tests, expected $expected (skipped tests count as not run)" >&2
    exit 1
  fi
  echo "wasm ($mode): $passed of $expected tests passed"
}
export -f run
export mode expected
scripts/with-sim.sh --time-scale 0.05 --rate-limit 100000 -- bash -c run
