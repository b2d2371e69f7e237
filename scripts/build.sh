#!/usr/bin/env bash
# Builds the wasm packages: pkg/ (--target web: browsers,
# workerd, Deno; JS minified) and pkg-node/ (--target nodejs: require() in Node),
# both shrunk with wasm-opt -Oz from npm's binaryen, then prints the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
CRATE=genesys_click_to_call
cargo build --release --target wasm32-unknown-unknown --lib --quiet
WASM=target/wasm32-unknown-unknown/release/$CRATE.wasm
OPT_FLAGS=(-Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals --enable-multivalue --enable-reference-types)
for target in web nodejs; do
  out=pkg; [ "$target" = nodejs ] && out=pkg-node
  rm -rf "$out"
  wasm-bindgen --target "$target" --out-dir "$out" "$WASM"
  # The metadata sections are only needed until wasm-opt has validated the module.
  node_modules/.bin/wasm-opt "${OPT_FLAGS[@]}" --strip-producers --strip-target-features "$out/${CRATE}_bg.wasm" -o "$out/${CRATE}_bg.wasm"
done
# Ship the browser package's JS as one minified file, as a production bundle
# would be (the .d.ts keeps the types and docs); Node's copy stays readable.
node_modules/.bin/esbuild pkg/${CRATE}.js --bundle --minify --format=esm --log-level=warning --outfile=pkg/${CRATE}.min.js
mv pkg/${CRATE}.min.js pkg/${CRATE}.js
rm -rf pkg/snippets
# pkg-node: wasm-bindgen's CommonJS glue would require() the ESM snippet, which
# Node refuses; bundle both into one CommonJS file (kept readable).
sed -i -E 's/require\(String\.raw`([^`]*)`\)/require("\1")/' pkg-node/${CRATE}.js
node_modules/.bin/esbuild pkg-node/${CRATE}.js --bundle --platform=node --format=cjs --log-level=warning --outfile=pkg-node/${CRATE}.cjs.js
mv pkg-node/${CRATE}.cjs.js pkg-node/${CRATE}.js
rm -rf pkg-node/snippets
# pkg-node is CommonJS even if a parent package.json says "type": "module".
echo '{ "type": "commonjs" }' > pkg-node/package.json
# pkg-edge: the same crate with the edge handler's exports, for workerd and
# Deno (edge/worker.js, edge/deno.js). Its own target dir, so switching
# features does not rebuild the browser package each time.
cargo build --release --target wasm32-unknown-unknown --lib --features edge --target-dir target/edge --quiet
rm -rf pkg-edge
wasm-bindgen --target web --out-dir pkg-edge target/edge/wasm32-unknown-unknown/release/$CRATE.wasm
node_modules/.bin/wasm-opt "${OPT_FLAGS[@]}" --strip-producers --strip-target-features "pkg-edge/${CRATE}_bg.wasm" -o "pkg-edge/${CRATE}_bg.wasm"
scripts/size.sh
