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

// Deno's fetch (2.9) sends a request again when the connection it went out on
// is reset before the answer (denoland/deno#35610) — for a create-call POST
// that is a second call. It never resends a streamed body, so the POSTs that
// create something in Genesys (calls, callbacks) go out streamed: one try,
// and a reset is an unknown outcome the settle window covers. Over HTTP/1.1
// that body is chunked (no Content-Length); genesys-sim accepts it, real
// Genesys UNCONFIRMED (HTTP/2 has no chunking: the same DATA frames).
const STREAMED_POSTS = /\/api\/v2\/conversations\//;
const plainFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  // Everything but a POST goes straight through, not copied into a new Request.
  const method = init?.method ?? (input instanceof Request ? input.method : "GET");
  if (method.toUpperCase() !== "POST") return plainFetch(input, init);
  const request = new Request(input, init);
  if (!STREAMED_POSTS.test(new URL(request.url).pathname)) return plainFetch(request);
  const body = new Blob([await request.arrayBuffer()]).stream();
  return plainFetch(request.url, { method: "POST", headers: request.headers, body, signal: request.signal, redirect: request.redirect });
};

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
