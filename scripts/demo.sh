#!/usr/bin/env bash
# The demo as it stands: genesys-sim in the foreground on $SIM_PORT (default
# 8089), with what to try against it. The web page and the edge handler are
# not built yet (see the README's status section).
set -euo pipefail
cd "$(dirname "$0")/.."
SIM_PORT=${SIM_PORT:-8089}
scripts/build.sh >/dev/null
cargo build -q --release -p genesys-sim
url="http://127.0.0.1:$SIM_PORT"
cat <<MSG

  genesys-sim (a local Genesys Cloud org) is starting on $url
  Open $url/oauth/authorize?client_id=sim-browser&redirect_uri=http://127.0.0.1:8080/&response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=demo
  to see its sign-in page.

  In another terminal, place a call and watch it:
      GENESYS_SIM_URL=$url node examples/node-call.mjs

  The visitor page and the edge handler are not part of the demo yet.
  Stop with Ctrl-C.

MSG
exec target/release/genesys-sim --listen "127.0.0.1:$SIM_PORT"
