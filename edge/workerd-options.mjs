// How Miniflare runs edge/worker.js, the way `wrangler deploy` ships it:
// ES modules plus the wasm as a precompiled module. Shared by dev.mjs and tests.
export const workerOptions = (bindings, extra = {}) => ({
  modules: true,
  scriptPath: "edge/worker.js",
  modulesRules: [
    { type: "ESModule", include: ["**/*.js"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate: "2026-04-26",
  bindings,
  ...extra,
});
