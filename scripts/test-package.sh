#!/usr/bin/env bash
# The npm package from the outside (tests/package): npm pack, install the
# tarball into a fresh project that cannot see this repository, and use it in
# Node, a page bundled by esbuild in headless Chromium, workerd and Deno,
# against a live genesys-sim. Fails loudly when a tool or pkg/ is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f pkg/genesys_click_to_call_bg.wasm ] && [ -f pkg/package.json ] || { echo "FAIL: pkg/ is missing: run scripts/build.sh" >&2; exit 1; }
scripts/with-sim.sh --time-scale 0.05 --rate-limit 100000 -- scripts/node-tests.sh tests/package
