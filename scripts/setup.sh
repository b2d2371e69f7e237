#!/usr/bin/env bash
# Installs what the build, tests and demo need, skipping whatever is already
# there at the right version. Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(grep -Eo 'wasm-bindgen = "=[0-9.]+"' Cargo.toml | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+')
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# The CLI must equal the crate's wasm-bindgen exactly, or the glue is wrong.
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once per machine)"
  # No --locked: the registry lacks a crate version its lock file names.
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
fi

# wasm-pack builds the npm package; it uses the wasm-bindgen CLI above (--mode no-install).
WASM_PACK_VERSION=0.15.1
if [ "$(wasm-pack --version 2>/dev/null | awk '{print $2}')" != "$WASM_PACK_VERSION" ]; then
  say "installing wasm-pack $WASM_PACK_VERSION (about 3 minutes, once per machine)"
  cargo install wasm-pack --locked --version "=$WASM_PACK_VERSION"
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  say "installing Debian's chromium and chromium-driver (browser tests)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# npm packages pinned in package-lock.json (binaryen's wasm-opt; never Debian's).
if [ ! -x node_modules/.bin/wasm-opt ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
fi
# Deno lives outside package-lock.json: its package lists optional builds for
# every platform, which this registry does not all carry, and npm ci would refuse.
DENO_VERSION=2.9.0
if [ "$(.tools/node_modules/.bin/deno --version 2>/dev/null | head -1 | awk '{print $2}')" != "$DENO_VERSION" ]; then
  say "installing deno $DENO_VERSION into .tools/ (the edge handler's Deno test)"
  npm install --prefix .tools --no-save --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION"
fi
say "ready: $(rustc --version | cut -d' ' -f1-2), wasm-bindgen $WASM_BINDGEN_VERSION, wasm-pack $WASM_PACK_VERSION, $(chromium --version 2>/dev/null | head -1), node $(node --version)"
