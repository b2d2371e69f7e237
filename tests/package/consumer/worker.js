// A Cloudflare Worker that installed the package: bundled the way wrangler does
// (the "workerd" condition, the .wasm kept as a module import).
import { GenesysClient } from "genesys-click-to-call";

export default {
  async fetch(request, env) {
    const gc = new GenesysClient({
      apiBase: env.GENESYS_SIM_URL,
      auth: { clientCredentials: { clientId: "sim-edge", clientSecret: "sim-edge-secret" } },
    });
    const { conversationId } = await gc.placeCall({ phoneNumber: "+13175550100", onBehalfOfUserId: env.AGENT });
    const status = await gc.waitForCall(conversationId, { until: "ended", timeoutMs: 60_000 });
    return Response.json({ conversationId, outcome: status.outcome });
  },
};
