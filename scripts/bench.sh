#!/usr/bin/env bash
# make bench: builds what it measures, installs the bench-only tools (the
# official Genesys JS SDK and autocannon, pinned) into .tools/bench, then runs
# bench/run.mjs, which prints the table and writes bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SDK=purecloud-platform-client-v2@262.0.0
AUTOCANNON=autocannon@8.0.0
if [ ! -f .tools/bench/node_modules/purecloud-platform-client-v2/package.json ] || [ ! -d .tools/bench/node_modules/autocannon ]; then
  echo "[bench] installing $SDK and $AUTOCANNON into .tools/bench (bench-only)"
  npm install --prefix .tools/bench --no-save --no-audit --no-fund --loglevel=error "$SDK" "$AUTOCANNON"
fi
scripts/build.sh >/dev/null
cargo build -q --release -p genesys-sim
node bench/run.mjs
