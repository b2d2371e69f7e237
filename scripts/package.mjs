// Completes the npm package wasm-pack wrote (pkg/package.json): one entry per
// host, chosen by `exports` conditions, each initialising the module the way
// its runtime allows:
//   browsers and bundlers → the wasm-pack module itself (`await init()`, or
//                           `init({ module_or_path })` with a bundled .wasm URL)
//   workerd (Cloudflare)  → workerd.js: the .wasm imported as a compiled module
//                           (workerd cannot compile wasm at run time)
//   Deno                  → deno.js: reads the .wasm next to it
//   Node                  → node.js: reads the .wasm next to it
// The three host entries initialise on import, so `GenesysClient` is usable at
// once; they are the only files with side effects.
// Usage: node scripts/package.mjs pkg
import { readFileSync, writeFileSync } from "node:fs";

const dir = process.argv[2] ?? "pkg";
const crate = "genesys_click_to_call";
const manifest = JSON.parse(readFileSync(`${dir}/package.json`, "utf8"));

const header = (host) =>
  `// ${host} entry of genesys-click-to-call: initialises the wasm module on import.\n` +
  `import { initSync } from "./${crate}.js";\n`;
const entries = {
  "node.js":
    header("Node") +
    `import { readFileSync } from "node:fs";\n` +
    `initSync({ module: readFileSync(new URL("./${crate}_bg.wasm", import.meta.url)) });\n`,
  "deno.js":
    header("Deno") +
    `initSync({ module: await Deno.readFile(new URL("./${crate}_bg.wasm", import.meta.url)) });\n`,
  "workerd.js":
    header("workerd (Cloudflare Workers)") +
    `import wasm from "./${crate}_bg.wasm";\n` +
    `initSync({ module: wasm });\n`,
};
for (const [file, body] of Object.entries(entries)) {
  writeFileSync(`${dir}/${file}`, body + `export * from "./${crate}.js";\n`);
}

const types = `./${crate}.d.ts`;
const host = (file) => ({ types, default: `./${file}` });
Object.assign(manifest, {
  type: "module",
  main: `./${crate}.js`,
  module: `./${crate}.js`,
  types,
  exports: {
    ".": {
      types,
      workerd: host("workerd.js"),
      deno: host("deno.js"),
      node: host("node.js"),
      browser: { types, default: `./${crate}.js` },
      default: `./${crate}.js`,
    },
    // For bundlers that emit the .wasm as an asset: `import wasmUrl from
    // "genesys-click-to-call/wasm"` then `await init({ module_or_path: wasmUrl })`.
    "./wasm": `./${crate}_bg.wasm`,
    "./package.json": "./package.json",
  },
  files: [`${crate}_bg.wasm`, `${crate}_bg.wasm.d.ts`, `${crate}.js`, `${crate}.d.ts`, ...Object.keys(entries), "README.md"],
  sideEffects: Object.keys(entries).map((f) => `./${f}`),
  engines: { node: ">=20" },
});
writeFileSync(`${dir}/package.json`, JSON.stringify(manifest, null, 2) + "\n");
