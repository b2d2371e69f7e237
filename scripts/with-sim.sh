#!/usr/bin/env bash
# Runs a command with a genesys-sim on a free loopback port; the command finds
# the sim's URL in $GENESYS_SIM_URL. The sim is stopped however the command ends.
# Usage: scripts/with-sim.sh [sim flags --] command...
set -euo pipefail
cd "$(dirname "$0")/.."
sim_args=()
if [[ " $* " == *" -- "* ]]; then
  while [ "$1" != "--" ]; do sim_args+=("$1"); shift; done
  shift
fi
cargo build -q -p genesys-sim
log=$(mktemp)
target/debug/genesys-sim --listen 127.0.0.1:0 --quiet "${sim_args[@]}" 2>"$log" &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
  url=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+' "$log" | head -1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "${url:-}" ] || { echo "genesys-sim did not start:" >&2; cat "$log" >&2; exit 1; }
export GENESYS_SIM_URL=$url
"$@"
