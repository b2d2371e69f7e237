// Places a call through genesys-sim on behalf of the agent Ada and prints each
// status change until the call ends. Start the simulator first (make sim).
import { GenesysClient } from "../pkg/node.js"; // from npm: "genesys-click-to-call"

const gc = new GenesysClient({
  apiBase: process.env.GENESYS_SIM_URL ?? "http://127.0.0.1:8089", // or: region: "mypurecloud.ie"
  auth: { clientCredentials: { clientId: "sim-edge", clientSecret: "sim-edge-secret" } },
});
const ada = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";

try {
  const { conversationId } = await gc.placeCall({ phoneNumber: "+13175550100", onBehalfOfUserId: ada });
  console.log("placed", conversationId);
  const status = await gc.waitForCall(conversationId, {
    until: "ended",
    timeoutMs: 60_000,
    onUpdate: (s) => console.log(s.phase, s.outcome ?? "", "| agent:", s.agent?.state, "| customer:", s.customer?.state ?? "-"),
  });
  console.log("outcome:", status.outcome);
} catch (e) {
  console.error(`${e.code}: ${e.message}`); // e.g. outcome_unknown — never redial blindly
  process.exitCode = 1;
}
