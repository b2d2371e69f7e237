// A web page that installed the package and bundles it with esbuild: the .wasm
// is emitted as an asset and its URL handed to init().
import init, { GenesysClient } from "genesys-click-to-call";
import wasmUrl from "genesys-click-to-call/wasm";

const params = new URLSearchParams(location.search);
try {
  await init({ module_or_path: wasmUrl });
  const gc = new GenesysClient({ apiBase: params.get("sim"), auth: { accessToken: params.get("token") } });
  const { conversationId } = await gc.placeCall({ phoneNumber: "+13175550100" });
  const status = await gc.waitForCall(conversationId, { until: "ended", timeoutMs: 60_000 });
  document.title = `done ${status.outcome} ${conversationId}`;
} catch (e) {
  document.title = `error ${e.code}: ${e.message}`;
}
