// Cloudflare Workers / workerd entry. workerd cannot compile wasm at run time,
// so the module arrives precompiled (a CompiledWasm import; see wrangler.toml).
import wasm from "../pkg-edge/genesys_click_to_call_bg.wasm";
import { initSync } from "../pkg-edge/genesys_click_to_call.js";
import { handle } from "./handler.js";

initSync({ module: wasm });

export default {
  // Cloudflare sets cf-connecting-ip itself; clients cannot forge it there.
  fetch: (request, env) => handle(request, env, request.headers.get("cf-connecting-ip") ?? "unknown"),
};
