// The agent console: PKCE sign-in, then calls placed from the browser with the
// wasm module and the agent's own token. The token stays in sessionStorage.
import init, { GenesysClient, startLogin, finishLogin } from "./pkg/genesys_click_to_call.js";
import { loadConfig, normalizePhone, OUTCOME_WORDS, renderTimeline } from "./config.js";

const $ = (id) => document.getElementById(id);
const config = await loadConfig();
await init();
const where = config.region ? { region: config.region } : { apiBase: config.apiBase, loginBase: config.loginBase ?? config.apiBase };
const redirectUri = location.origin + location.pathname;
const statusBox = $("call-status"), statusText = $("status-text"), timeline = statusBox.querySelector(".timeline");
let client = null, conversationId = null, watch = null;

const PHASES = { "contacting-agent": "Ringing your station…", dialing: "Dialing the customer…", connected: "Connected." };

function fail(message) {
  $("console-error").textContent = message;
  $("console-error").hidden = !message;
}

async function signedIn(token) {
  client = new GenesysClient({ ...where, auth: { accessToken: token } });
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  // Who is this? (A plain API call: the module does not need it.)
  const base = config.region ? `https://api.${config.region}` : where.apiBase;
  try {
    const me = await (await fetch(`${base}/api/v2/users/me`, { headers: { authorization: `Bearer ${token}` } })).json();
    $("agent-name").textContent = me.name ?? me.email ?? "you";
  } catch {
    $("agent-name").textContent = "you";
  }
}

$("sign-in").addEventListener("click", async () => {
  fail("");
  try {
    const { url, codeVerifier, state } = await startLogin({ ...where, clientId: config.clientId, redirectUri });
    sessionStorage.setItem("pkce", JSON.stringify({ codeVerifier, state }));
    location.assign(url);
  } catch (e) {
    fail(`Sign-in could not start: ${e.message}`);
  }
});

$("sign-out").addEventListener("click", () => {
  sessionStorage.removeItem("token");
  watch?.abort();
  location.replace(redirectUri);
});

$("dial-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const number = normalizePhone($("dial").value);
  $("dial-error").hidden = !!number;
  $("dial-error").textContent = number ? "" : "Enter the number in international format, e.g. +1 317 555 0100.";
  if (!number || conversationId) return;
  fail("");
  $("dial-button").disabled = true;
  statusBox.hidden = false;
  delete statusBox.dataset.outcome;
  renderTimeline(timeline, "contacting-agent");
  statusText.textContent = "Placing the call…";
  statusText.className = "status-text";
  try {
    ({ conversationId } = await client.placeCall({ phoneNumber: number }));
    $("hang-up").hidden = false;
    watch = new AbortController();
    const final = await client.waitForCall(conversationId, {
      until: "ended",
      signal: watch.signal,
      onUpdate: (s) => {
        renderTimeline(timeline, s.phase);
        statusText.textContent = PHASES[s.phase] ?? "";
      },
    });
    renderTimeline(timeline, "ended");
    statusText.textContent = final.outcome === "completed" ? "Call completed." : OUTCOME_WORDS[final.outcome] ?? "The call has ended.";
    statusText.className = `status-text ${final.outcome === "completed" ? "good" : "bad"}`;
    statusBox.dataset.outcome = final.outcome ?? "";
  } catch (e) {
    if (e.code === "auth_failed") {
      sessionStorage.removeItem("token");
      fail("Your session has expired. Sign in again.");
    } else if (e.code !== "aborted") {
      fail(`${e.message} (${e.code})`);
    }
    statusText.textContent = "";
  } finally {
    conversationId = null;
    $("dial-button").disabled = false;
    $("hang-up").hidden = true;
  }
});

$("hang-up").addEventListener("click", async () => {
  if (!conversationId) return;
  try {
    await client.hangUp(conversationId);
  } catch (e) {
    fail(`Could not hang up: ${e.message}`);
  }
});

// Back from the sign-in page with ?code=… (or ?error=…)?
const params = new URLSearchParams(location.search);
if (params.has("code") || params.has("error")) {
  const pkce = JSON.parse(sessionStorage.getItem("pkce") ?? "{}");
  sessionStorage.removeItem("pkce");
  try {
    const { accessToken } = await finishLogin({ ...where, clientId: config.clientId, redirectUri, callbackUrl: location.href, ...pkce });
    sessionStorage.setItem("token", accessToken);
  } catch (e) {
    fail(`Sign-in failed: ${e.message}`);
  }
  history.replaceState(null, "", redirectUri);
}
const token = sessionStorage.getItem("token");
if (token) await signedIn(token);
