// The agent console: PKCE sign-in, then calls placed from the browser with the
// wasm module and the agent's own token. The token stays in sessionStorage.
// Before dialling it shows whether the agent can take calls (checkAgent) and
// refuses a call they could not take (requireAvailableAgent); calls are placed
// for the configured queue, so after each one the agent picks a wrap-up code.
import init, { GenesysClient, startLogin, finishLogin } from "./pkg/genesys_click_to_call.js";
import { loadConfig, normalizePhone, OUTCOME_WORDS, renderTimeline } from "./config.js";

const $ = (id) => document.getElementById(id);
const config = await loadConfig();
await init();
const where = config.region ? { region: config.region } : { apiBase: config.apiBase, loginBase: config.loginBase ?? config.apiBase };
const redirectUri = location.origin + location.pathname;
const statusBox = $("call-status"), statusText = $("status-text"), timeline = statusBox.querySelector(".timeline");
// The queue calls are placed for: wrap-up codes exist only on queue (ACD) calls.
const queue = config.queueId ? { callFromQueueId: config.queueId } : {};
let client = null, conversationId = null, watch = null;

const PHASES = { "contacting-agent": "Ringing your station…", dialing: "Dialing the customer…", connected: "Connected." };
// checkAgent's reasons, in the agent's words.
const REASON_WORDS = {
  offline: "You're Offline in Genesys Cloud.",
  "do-not-disturb": "You're on Do Not Disturb.",
  busy: "Your status is Busy, so calls go to voicemail.",
  break: "You're on Break.",
  meal: "You're at a Meal.",
  meeting: "You're in a Meeting.",
  training: "You're in Training.",
  "out-of-office": "You're Out of Office.",
  "no-station": "You have no phone (station) connected.",
  "not-responding": "Genesys marked you Not Responding: go back On Queue.",
};
const REFRESH_MS = 15_000;

function fail(message) {
  $("console-error").textContent = message;
  $("console-error").hidden = !message;
}

function sessionExpired() {
  sessionStorage.removeItem("token");
  fail("Your session has expired. Sign in again.");
}

function showAvailability(state, text, detail = "") {
  $("availability").dataset.available = state;
  $("availability-text").textContent = text;
  $("availability-detail").textContent = detail;
}

// The signed-in agent's availability, as placeCall's check will see it.
async function refreshAvailability() {
  if (!client) return;
  try {
    const a = await client.checkAgent(undefined, queue);
    const seen = [a.presence && `Presence: ${a.presence}`, a.routingStatus && `routing: ${a.routingStatus}`].filter(Boolean).join(" · ");
    if (a.available === true) {
      showAvailability("true", "You can take calls.", [seen, ...a.warnings].filter(Boolean).join(" — "));
    } else if (a.available === false) {
      showAvailability("false", REASON_WORDS[a.reason] ?? `You can't take calls now (${a.reason}).`,
        "Calls are refused until you change your status in Genesys Cloud.");
    } else {
      showAvailability("unknown", "Your availability could not be checked; calls are not blocked.", a.warnings.join(" "));
    }
  } catch (e) {
    if (e.code === "auth_failed") return sessionExpired();
    showAvailability("unknown", "Your availability could not be checked.", `${e.message} (${e.code})`);
  }
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
  await refreshAvailability();
  // Presence changes in Genesys Cloud, not here: look again now and then.
  setInterval(() => { if (!conversationId) refreshAvailability(); }, REFRESH_MS);
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

$("availability-refresh").addEventListener("click", () => refreshAvailability());

// ---------------------------------------------------------------- wrap-up

const wrapUpForm = $("wrap-up");

function hideWrapUp() {
  wrapUpForm.hidden = true;
  $("wrap-up-done").hidden = true;
  $("wrap-up-error").hidden = true;
}

// After a queue call: the codes the call's agent participant may use.
async function offerWrapUp(id) {
  if (!queue.callFromQueueId) return;
  try {
    const codes = await client.wrapUpCodes(id);
    if (!codes.length) return;
    $("wrap-up-code").replaceChildren(...codes.map((c) => new Option(c.name ?? c.id, c.id)));
    $("wrap-up-notes").value = "";
    wrapUpForm.dataset.conversationId = id;
    wrapUpForm.hidden = false;
  } catch (e) {
    fail(`Could not load the wrap-up codes: ${e.message} (${e.code})`);
  }
}

wrapUpForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = wrapUpForm.dataset.conversationId, select = $("wrap-up-code");
  const notes = $("wrap-up-notes").value.trim();
  $("wrap-up-save").disabled = true;
  try {
    await client.wrapUp(id, { code: select.value, ...(notes ? { notes } : {}) });
    wrapUpForm.hidden = true;
    $("wrap-up-done").textContent = `Wrapped up: ${select.selectedOptions[0]?.text ?? select.value}.`;
    $("wrap-up-done").hidden = false;
  } catch (e) {
    if (e.code === "auth_failed") sessionExpired();
    $("wrap-up-error").textContent = `The wrap-up was not saved: ${e.message}`;
    $("wrap-up-error").hidden = false;
  } finally {
    $("wrap-up-save").disabled = false;
  }
});

// ---------------------------------------------------------------- calls

$("dial-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const number = normalizePhone($("dial").value);
  $("dial-error").hidden = !!number;
  $("dial-error").textContent = number ? "" : "Enter the number in international format, e.g. +1 317 555 0100.";
  if (!number || conversationId) return;
  fail("");
  hideWrapUp();
  $("dial-button").disabled = true;
  statusBox.hidden = false;
  delete statusBox.dataset.outcome;
  renderTimeline(timeline, "contacting-agent");
  statusText.textContent = "Placing the call…";
  statusText.className = "status-text";
  let placed = null;
  try {
    // requireAvailableAgent: no call is placed for an agent who cannot take it.
    ({ conversationId } = await client.placeCall({ phoneNumber: number, requireAvailableAgent: true, ...queue }));
    placed = conversationId;
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
    if (e.code === "agent_unavailable") {
      statusBox.hidden = true;
      fail(`${REASON_WORDS[e.reason] ?? e.message} No call was placed.`);
    } else if (e.code === "auth_failed") {
      sessionExpired();
    } else if (e.code !== "aborted") {
      fail(`${e.message} (${e.code})`);
    }
    statusText.textContent = "";
  } finally {
    conversationId = null;
    $("dial-button").disabled = false;
    $("hang-up").hidden = true;
  }
  if (placed) await offerWrapUp(placed);
  await refreshAvailability();
});

$("hang-up").addEventListener("click", async () => {
  if (!conversationId) return;
  try {
    await client.hangUp(conversationId);
  } catch (e) {
    fail(`Could not hang up: ${e.message}`);
  }
});

// Every handler is attached: buttons work from here on (tests wait for this).
document.documentElement.dataset.ready = "";

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
