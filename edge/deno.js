// Deno entry: deno run --allow-net --allow-read=. --allow-env edge/deno.js
// Listens on EDGE_HOST:EDGE_PORT (default 127.0.0.1:8787); configuration is the
// same environment variables as on Workers. No Durable Objects here:
// - with DENO_KV set (and deno run --unstable-kv), the number and address
//   desks live in Deno KV (edge/deno-kv.js), so admission — idempotency, the
//   one-call-per-number cap, the settle window, the rate limits — holds for
//   every instance sharing it; the gateway (token, Genesys budget, read cache,
//   push) stays per instance. Readiness says "guarantees":"admission".
// - without it, every guarantee holds per instance ("guarantees":"instance").
import { initSync } from "../pkg-edge/genesys_click_to_call.js";
import { handle } from "./handler.js";
import { openDesks } from "./deno-kv.js";

initSync({ module: await Deno.readFile(new URL("../pkg-edge/genesys_click_to_call_bg.wasm", import.meta.url)) });
const env = Deno.env.toObject();
// Set but unusable (no --unstable-kv, a path it may not open): this throws, and
// the process does not start — never a silent fall back to per instance.
const desks = env.DENO_KV ? await openDesks(env.DENO_KV) : undefined;
Deno.serve(
  { hostname: env.EDGE_HOST ?? "127.0.0.1", port: Number(env.EDGE_PORT ?? 8787) },
  // The connection's address counts (unless CLIENT_ADDRESS_HEADER names a trusted proxy's header).
  (request, info) => handle(request, env, info.remoteAddr.hostname, undefined, desks),
);
