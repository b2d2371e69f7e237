// Cloudflare Workers / workerd entry. workerd cannot compile wasm at run time,
// so the module arrives precompiled (a CompiledWasm import; see wrangler.toml).
import wasm from "../pkg-edge/genesys_click_to_call_bg.wasm";
import { initSync } from "../pkg-edge/genesys_click_to_call.js";
import { handle } from "./handler.js";

export { CallNumber, ClientAddress, GenesysGateway } from "./objects.js";

initSync({ module: wasm });

export default {
  // No connection address here: the visitor's address comes only from the
  // header CLIENT_ADDRESS_HEADER names (wrangler.toml: CF-Connecting-IP, which
  // Cloudflare sets and a client cannot forge).
  fetch: (request, env, ctx) => handle(request, env, undefined, ctx),
};
