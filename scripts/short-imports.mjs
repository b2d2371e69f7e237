// Shortens the names the browser package's wasm imports its JS functions by.
// wasm-bindgen names each import after its function plus a 16-hex-digit hash
// (`__wbg_get_6b7bd52aca3f9671`), about 125 of them, and every name is spelt
// twice — in the wasm's import section and as a key of the glue's imports
// object — where gzip cannot squeeze random hex: ≈ 4 KB gzip of the package.
// Here the import module becomes "a" and the names a, b, …, aa, …; the wasm is
// rewritten with binaryen's own API (the npm binaryen build.sh already uses),
// the glue by replacing each old name once. Exports are left alone, so
// `init()`'s `InitOutput` stays as wasm-bindgen declared it.
//
// Every old name must be found exactly once in the glue, and the module's key
// too, or this fails (a wasm-bindgen that shapes its glue differently must
// stop the build, never ship a module whose imports do not resolve).
// Usage: node scripts/short-imports.mjs pkg/<crate>_bg.wasm pkg/<crate>.js
import { readFileSync, writeFileSync } from "node:fs";
import binaryen from "binaryen";

const [wasmPath, jsPath] = process.argv.slice(2);
const fail = (why) => {
  console.error(`short-imports: ${why}`);
  process.exit(1);
};

const mod = binaryen.readBinary(readFileSync(wasmPath));
// The features build.sh's wasm-opt enables (Features.All would change the encoding).
const F = binaryen.Features;
mod.setFeatures(F.BulkMemory | F.BulkMemoryOpt | F.NontrappingFPToInt | F.SignExt | F.MutableGlobals | F.Multivalue | F.ReferenceTypes);
const imports = [];
for (let i = 0; i < mod.getNumFunctions(); i++) {
  const info = binaryen.getFunctionInfo(mod.getFunctionByIndex(i));
  if (info.module) imports.push(info);
}
const modules = new Set(imports.map((f) => f.module));
if (modules.size !== 1) fail(`expected one import module, found ${[...modules].join(", ") || "none"}`);
const [oldModule] = modules;

// a … z, A … Z, then two letters: never a JS keyword problem as object keys.
const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const short = (n) => (n < letters.length ? letters[n] : short(Math.floor(n / letters.length) - 1) + letters[n % letters.length]);

let js = readFileSync(jsPath, "utf8");
const replaceOnce = (from, to) => {
  const at = js.indexOf(from);
  if (at < 0 || js.indexOf(from, at + 1) >= 0) fail(`expected ${from} exactly once in ${jsPath}`);
  js = js.slice(0, at) + to + js.slice(at + from.length);
};
replaceOnce(`"${oldModule}": import0`, `"a": import0`);
imports.forEach((f, n) => {
  mod.removeFunction(f.name);
  mod.addFunctionImport(f.name, "a", short(n), f.params, f.results);
  // The glue defines each import as `name: function(…)`.
  replaceOnce(`${f.base}: function(`, `${short(n)}: function(`);
});
if (!mod.validate()) fail("the rewritten module does not validate");
writeFileSync(wasmPath, mod.emitBinary());
writeFileSync(jsPath, js);
mod.dispose();
