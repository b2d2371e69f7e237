#!/usr/bin/env bash
# Builds the npm package pkg/ with wasm-pack (browsers and bundlers, Node,
# workerd and Deno, each through its own `exports` condition) and the edge
# handler's package pkg-edge/ (the same crate with `--features edge`), shrinks
# both with npm's binaryen wasm-opt (wasm-pack's own download of it is off in
# Cargo.toml), then prints the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
CRATE=genesys_click_to_call
OPT_FLAGS=(-Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-multivalue --enable-reference-types)

# wasm-pack must use the pinned wasm-bindgen CLI that scripts/setup.sh
# installed (--mode no-install), never download one.
pack() { # out-dir target-dir [cargo args…]
  local out=$1 dir=$2; shift 2
  rm -rf "$out"
  CARGO_TARGET_DIR=$dir wasm-pack --quiet --log-level warn build --target web --mode no-install --release \
    --out-dir "$out" --out-name "$CRATE" . -- "$@" >/dev/null
  # The browser package: wasm-bindgen's hashed import names shortened in the
  # wasm and the glue alike (≈ 4 KB gzip; scripts/short-imports.mjs says why).
  if [ "$out" = pkg ]; then
    node scripts/short-imports.mjs "$out/${CRATE}_bg.wasm" "$out/${CRATE}.js"
  fi
  # The metadata sections are only needed until wasm-opt has validated the module.
  node_modules/.bin/wasm-opt "${OPT_FLAGS[@]}" --strip-debug --strip-producers --strip-target-features \
    "$out/${CRATE}_bg.wasm" -o "$out/${CRATE}_bg.wasm"
}

pack pkg target
# The glue ships minified, as a production bundle would have it (the .d.ts
# keeps the types and docs).
node_modules/.bin/esbuild "pkg/${CRATE}.js" --minify --format=esm --log-level=warning --outfile="pkg/${CRATE}.min.js"
mv "pkg/${CRATE}.min.js" "pkg/${CRATE}.js"
node scripts/package.mjs pkg

# pkg-edge: its own target dir, so switching features does not rebuild the
# browser package each time.
pack pkg-edge target/edge --features edge
rm -f pkg-edge/package.json pkg-edge/README.md pkg-edge/.gitignore

scripts/size.sh
