#!/usr/bin/env bash
# `make demo`: genesys-sim on $SIM_PORT (8089) and the edge handler in workerd
# on $EDGE_PORT (8787), configured to dial the simulator's test range on behalf
# of Ada. Prints what to try; Ctrl-C or SIGTERM stops both (no orphaned workerd).
set -euo pipefail
cd "$(dirname "$0")/.."
SIM_PORT=${SIM_PORT:-8089}
EDGE_PORT=${EDGE_PORT:-8787}
WWW_PORT=${WWW_PORT:-8080}
scripts/build.sh >/dev/null
cargo build -q --release -p genesys-sim
sim_url="http://127.0.0.1:$SIM_PORT"
edge_url="http://127.0.0.1:$EDGE_PORT"

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

target/release/genesys-sim --listen "127.0.0.1:$SIM_PORT" --quiet &
pids+=($!)
# Ready when it accepts connections (any HTTP answer will do).
for _ in $(seq 50); do curl -s -o /dev/null "$sim_url/v1" && break; sleep 0.1; done
GENESYS_SIM_URL=$sim_url EDGE_PORT=$EDGE_PORT WWW_PORT=$WWW_PORT node edge/dev.mjs > >(grep -v '^{"correlationId' >&2) &
pids+=($!)
for _ in $(seq 100); do curl -s "$edge_url/v1/healthz" -o /dev/null && break; sleep 0.1; done

cat <<MSG

  genesys-sim (a local Genesys Cloud org):  $sim_url
  edge handler (workerd):                   $edge_url

  Place a call as a visitor would, then watch it:
      curl -s -X POST $edge_url/v1/calls -H 'content-type: application/json' -d '{"phoneNumber":"+13175550100"}'
      curl -N $edge_url/v1/calls/<handle>/events

  Or from Node with the library itself:
      GENESYS_SIM_URL=$sim_url node examples/node-call.mjs

  The demo page (www/) is not built yet. Stop with Ctrl-C.

MSG
wait -n "${pids[@]}"
