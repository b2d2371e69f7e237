// A Node service that installed the package from npm: no init, no paths.
import { GenesysClient } from "genesys-click-to-call";

const gc = new GenesysClient({
  apiBase: process.env.GENESYS_SIM_URL,
  auth: { clientCredentials: { clientId: "sim-edge", clientSecret: "sim-edge-secret" } },
});
const { conversationId } = await gc.placeCall({ phoneNumber: "+13175550100", onBehalfOfUserId: process.env.AGENT });
const status = await gc.waitForCall(conversationId, { until: "ended", timeoutMs: 60_000 });
console.log(JSON.stringify({ conversationId, outcome: status.outcome }));
