#!/usr/bin/env bash
# The demo page in headless Chromium (tests/browser/demo.test.mjs) against a live
# genesys-sim and the edge handler in workerd. Fails loudly without Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium is missing (run scripts/setup.sh); the browser suite cannot run" >&2; exit 1; }
[ -f pkg/genesys_click_to_call_bg.wasm ] && [ -f pkg-edge/genesys_click_to_call_bg.wasm ] || { echo "FAIL: run scripts/build.sh first" >&2; exit 1; }
scripts/with-sim.sh --time-scale 0.1 --rate-limit 100000 -- scripts/node-tests.sh tests/browser
