// Runs the edge handler in workerd (Miniflare) on 127.0.0.1:$EDGE_PORT,
// configured to dial US and Canadian numbers (genesys-sim's test numbers among
// them) on behalf of Ada and to allow the demo page's origin, with the Durable
// Objects wrangler.toml binds. EDGE_ISOLATES=3 runs it as three isolates
// sharing those objects behind a round-robin front worker (what a deployed
// fleet looks like); EDGE_DURABLE_OBJECTS=0 runs one isolate without them
// (per-instance guarantees, as on Deno). Stops cleanly (workerd included) on Ctrl-C/SIGTERM.
// Usage: GENESYS_SIM_URL=http://127.0.0.1:8089 node edge/dev.mjs
import { Miniflare } from "miniflare";
import { durableObjects, fleetOptions, workerOptions } from "./workerd-options.mjs";

const sim = process.env.GENESYS_SIM_URL ?? "http://127.0.0.1:8089";
const port = Number(process.env.EDGE_PORT ?? 8787);
const isolates = Math.max(1, Number(process.env.EDGE_ISOLATES ?? 1));
const objects = process.env.EDGE_DURABLE_OBJECTS !== "0";
const origins = process.env.ALLOWED_ORIGINS ?? `http://127.0.0.1:${process.env.WWW_PORT ?? 8080},http://localhost:${process.env.WWW_PORT ?? 8080}`;
const vars = {
  GENESYS_API_BASE: sim,
  GENESYS_CLIENT_ID: "sim-edge",
  GENESYS_CLIENT_SECRET: "sim-edge-secret",
  GENESYS_AGENT_USER_ID: "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01",
  ALLOWED_ORIGINS: origins,
  // The deployed defaults: the simulator's test numbers are valid US numbers;
  // +1 900 (premium rate) and +1 876 (Jamaica) are refused with their reasons.
  ALLOWED_COUNTRIES: process.env.ALLOWED_COUNTRIES ?? "US,CA",
  ...(process.env.ALLOWED_NUMBER_TYPES ? { ALLOWED_NUMBER_TYPES: process.env.ALLOWED_NUMBER_TYPES } : {}),
  ...(process.env.ALLOWED_DIAL_PREFIXES ? { ALLOWED_DIAL_PREFIXES: process.env.ALLOWED_DIAL_PREFIXES } : {}),
  HANDLE_SIGNING_KEY: process.env.HANDLE_SIGNING_KEY ?? "dev-only-signing-key-" + Math.random().toString(36).slice(2).padEnd(16, "0"),
  RATE_LIMIT_PER_IP: process.env.RATE_LIMIT_PER_IP ?? "20/600",
};
const listen = { host: "127.0.0.1", port };
const options = objects && isolates > 1
  ? fleetOptions(vars, { isolates, front: listen })
  : workerOptions(vars, { ...listen, ...(objects ? { durableObjects: durableObjects() } : {}) });
const mf = new Miniflare(options);
const url = await mf.ready;
const shape = objects ? `${isolates} isolate(s) sharing Durable Objects` : "1 isolate, no Durable Objects (per-instance guarantees)";
console.log(`edge handler (workerd, ${shape}) listening on ${url.origin} → genesys-sim at ${sim}`);
const stop = async () => { await mf.dispose(); process.exit(0); };
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
