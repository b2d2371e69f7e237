// A Deno program using the package from node_modules (the "deno" export condition).
import { GenesysClient } from "genesys-click-to-call";

const gc = new GenesysClient({
  apiBase: Deno.env.get("GENESYS_SIM_URL"),
  auth: { clientCredentials: { clientId: "sim-edge", clientSecret: "sim-edge-secret" } },
});
const { conversationId } = await gc.placeCall({ phoneNumber: "+13175550100", onBehalfOfUserId: Deno.env.get("AGENT") });
const status = await gc.waitForCall(conversationId, { until: "ended", timeoutMs: 60_000 });
console.log(JSON.stringify({ conversationId, outcome: status.outcome }));
