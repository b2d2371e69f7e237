#!/usr/bin/env bash
# `make demo`: genesys-sim on $SIM_PORT (8089), the edge handler in workerd on
# $EDGE_PORT (8787), configured to dial the simulator's test range on behalf of
# Ada and to allow the page's origin, and the demo page on $WWW_PORT (8080).
# Prints the URL to open; Ctrl-C or SIGTERM stops all three (no orphaned workerd).
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
SIM_URL=$sim_url EDGE_URL=$edge_url WWW_PORT=$WWW_PORT node www/server.mjs >/dev/null &
pids+=($!)
www_url="http://127.0.0.1:$WWW_PORT"
for _ in $(seq 50); do curl -s "$www_url/" -o /dev/null && break; sleep 0.1; done

cat <<MSG

  Open the demo:  $www_url/
      visitor widget ("Call me", through the edge handler) and $www_url/agent.html
      (the agent console: sign in with PKCE, dial from the browser with the wasm module)

  genesys-sim (a local Genesys Cloud org):  $sim_url
  edge handler (workerd):                   $edge_url

  Place a call as a visitor would, then watch it:
      curl -s -X POST $edge_url/v1/calls -H 'content-type: application/json' -d '{"phoneNumber":"+13175550100"}'
      curl -N $edge_url/v1/calls/<handle>/events

  Refused by the dial policy (US and Canada, fixed and mobile), before Genesys is asked:
      curl -s -X POST $edge_url/v1/calls -H 'content-type: application/json' -d '{"phoneNumber":"+19005550100"}'
      # Premium-rate numbers can't be called.
      curl -s -X POST $edge_url/v1/calls -H 'content-type: application/json' -d '{"phoneNumber":"+18765550100"}'
      # We can only call numbers in the United States and Canada.  (Jamaica is +1 too)

  Or from Node with the library itself:
      GENESYS_SIM_URL=$sim_url node examples/node-call.mjs

  Stop with Ctrl-C.

MSG
wait -n "${pids[@]}"
