# The two commands a newcomer needs: `make demo` and `make test`.
# Each installs what it needs first (scripts/setup.sh, idempotent).
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -euo pipefail -c
SIM_PORT ?= 8089

.PHONY: setup build size test test-host test-wasm-node test-wasm-browser test-example test-package test-edge test-browser lint demo sim edge bench

setup:
	scripts/setup.sh

## Build the npm package pkg/ (wasm-pack; browsers, Node, workerd, Deno) and pkg-edge/, print the sizes.
build: setup
	scripts/build.sh

size:
	scripts/size.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --features edge --target-dir target/edge -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib --features bench-exports -- -D warnings

## Host tests: the core, genesys-sim, and the client flow against genesys-sim over loopback.
test-host:
	cargo test --workspace

test-wasm-node:
	scripts/test-wasm.sh node

## Headless Chromium; fails (never skips) when Chromium or its driver is missing.
test-wasm-browser:
	scripts/test-wasm.sh browser

test-example:
	scripts/test-example.sh

## The npm package from the outside: npm pack, install into a fresh project, use it in Node, Chromium, workerd, Deno.
test-package:
	scripts/test-package.sh

## The demo page in headless Chromium (visitor widget via the edge, agent console via PKCE); needs `make build`.
test-browser:
	scripts/test-browser.sh

## The edge handler in workerd (Miniflare) and Deno against genesys-sim; needs `make build`.
test-edge:
	scripts/test-edge.sh

## Everything, from a fresh clone.
test: setup
	@scripts/test-all.sh

## Side-by-side benchmarks with the official Genesys JS SDK; prints a table and writes bench/RESULTS.md.
bench: setup
	scripts/bench.sh

## The simulator alone, in the foreground.
sim:
	cargo run -q -p genesys-sim --release -- --listen 127.0.0.1:$(SIM_PORT)

## genesys-sim + the edge handler in workerd (the page, www/, is issue #5); prints what to open and run.
demo: setup
	scripts/demo.sh

## The edge handler alone in workerd, against a simulator already running on SIM_PORT.
edge:
	GENESYS_SIM_URL=http://127.0.0.1:$(SIM_PORT) node edge/dev.mjs
