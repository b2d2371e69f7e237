// Deno entry: deno run --allow-net --allow-read=. --allow-env edge/deno.js
// Listens on EDGE_HOST:EDGE_PORT (default 127.0.0.1:8787); configuration is the
// same environment variables as on Workers. No Durable Objects here: the
// edge's guarantees hold per instance (readiness and the startup log say so).
import { initSync } from "../pkg-edge/genesys_click_to_call.js";
import { handle } from "./handler.js";

initSync({ module: await Deno.readFile(new URL("../pkg-edge/genesys_click_to_call_bg.wasm", import.meta.url)) });
const env = Deno.env.toObject();
Deno.serve(
  { hostname: env.EDGE_HOST ?? "127.0.0.1", port: Number(env.EDGE_PORT ?? 8787) },
  // The connection's address counts (unless CLIENT_ADDRESS_HEADER names a trusted proxy's header).
  (request, info) => handle(request, env, info.remoteAddr.hostname),
);
