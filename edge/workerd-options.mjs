// How Miniflare runs edge/worker.js, the way `wrangler deploy` ships it:
// ES modules plus the wasm as a precompiled module. Shared by dev.mjs, the
// tests and the bench.
export const COMPATIBILITY_DATE = "2026-04-26";

export const workerOptions = (bindings, extra = {}) => ({
  modules: true,
  scriptPath: "edge/worker.js",
  modulesRules: [
    { type: "ESModule", include: ["**/*.js"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  compatibilityDate: COMPATIBILITY_DATE,
  bindings,
  ...extra,
});

// The Durable Object bindings wrangler.toml declares. `owner`: the worker
// whose classes hold the objects (absent: this worker's own).
export const durableObjects = (owner) => {
  const bind = (className) => ({ className, useSQLite: true, ...(owner ? { scriptName: owner } : {}) });
  return { CALL_NUMBERS: bind("CallNumber"), CLIENT_ADDRESSES: bind("ClientAddress"), GENESYS_GATEWAY: bind("GenesysGateway") };
};

// Spreads requests over the isolates in turn.
const FRONT = `let next = 0;
export default { fetch(request, env) { return env["EDGE_" + (next++ % Number(env.ISOLATES))].fetch(request); } };`;

// A fleet in one Miniflare: `isolates` workers running edge/worker.js — each
// its own V8 isolate with its own wasm memory — sharing the Durable Objects
// of the first, behind a front worker that round-robins (it gets
// `front` options such as host and port). Workers are named edge-0, edge-1, …
export function fleetOptions(bindings, { isolates = 3, front = {}, persist, extra = {} } = {}) {
  const names = Array.from({ length: isolates }, (_, i) => `edge-${i}`);
  return {
    ...(persist ? { durableObjectsPersist: persist } : {}),
    workers: [
      {
        name: "front",
        modules: true,
        script: FRONT,
        compatibilityDate: COMPATIBILITY_DATE,
        bindings: { ISOLATES: String(isolates) },
        serviceBindings: Object.fromEntries(names.map((n, i) => [`EDGE_${i}`, n])),
        ...front,
      },
      ...names.map((name, i) => workerOptions(bindings, { name, durableObjects: durableObjects(i === 0 ? undefined : "edge-0"), ...extra })),
    ],
  };
}
