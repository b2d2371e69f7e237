// The "Call me" widget: talks only to the edge handler, which holds the Genesys
// secret and decides what may be dialled. Live status arrives over SSE.
import { loadConfig, normalizePhone, OUTCOME_WORDS, PHASE_WORDS, renderTimeline } from "./config.js";

const $ = (id) => document.getElementById(id);
const form = $("call-form"), phone = $("phone"), error = $("phone-error");
const callButton = $("call-button"), cancelButton = $("cancel-button");
const statusBox = $("call-status"), statusText = $("status-text"), timeline = statusBox.querySelector(".timeline");
const config = await loadConfig();

let current = null; // { handle, events } of the call on screen
let pendingKey = null; // the Idempotency-Key of the request in flight: a double click reuses it

function showError(message) {
  error.textContent = message;
  error.hidden = !message;
  phone.setAttribute("aria-invalid", message ? "true" : "false");
}

function say(text, tone = "") {
  statusText.textContent = text;
  statusText.className = `status-text ${tone}`;
}

function refusal(status, body) {
  switch (body?.code) {
    // The edge decides what may be dialled and says why in a visitor's words.
    case "policy_denied": return body.message || "We can't call that number from this site.";
    case "rate_limited": return `Too many attempts — please try again in ${body.retryAfter ?? "a few"} seconds.`;
    case "invalid_input": return "That doesn't look like a phone number we can call.";
    case "outcome_unknown": return "We couldn't confirm the call went through. Please wait a minute before trying again.";
    default: return status >= 500 ? "The call service is unavailable right now. Please try again later." : "Something went wrong.";
  }
}

function finish() {
  current?.events.close();
  current = null;
  callButton.disabled = false;
  cancelButton.hidden = true;
}

function follow(handle, eventsUrl) {
  const events = new EventSource(new URL(eventsUrl, config.edge));
  current = { handle, events };
  events.addEventListener("status", (e) => {
    const s = JSON.parse(e.data);
    renderTimeline(timeline, s.phase);
    if (s.phase === "ended") {
      say(OUTCOME_WORDS[s.outcome] ?? "The call has ended.", s.outcome === "completed" ? "good" : "bad");
      statusBox.dataset.outcome = s.outcome ?? "";
    } else {
      say(PHASE_WORDS[s.phase] ?? s.phase);
    }
  });
  events.addEventListener("end", finish);
  events.addEventListener("error", () => {
    // The stream closes after "end"; anything else is a lost connection.
    if (current?.events === events && events.readyState === EventSource.CLOSED) {
      say("We lost track of the call's progress. Your phone may still ring.", "bad");
      finish();
    }
  });
}

phone.addEventListener("input", () => { if (error.textContent) showError(""); });
phone.addEventListener("blur", () => {
  if (phone.value.trim() && !normalizePhone(phone.value)) showError("Enter your number in international format, e.g. +1 317 555 0100.");
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const number = normalizePhone(phone.value);
  if (!number) {
    showError("Enter your number in international format, e.g. +1 317 555 0100.");
    phone.focus();
    return;
  }
  if (current) return;
  showError("");
  pendingKey ??= crypto.randomUUID();
  callButton.disabled = true;
  statusBox.hidden = false;
  // No step is under way until the edge has accepted the call: it may refuse it.
  timeline.hidden = true;
  renderTimeline(timeline, "");
  delete statusBox.dataset.outcome;
  say("Placing your call…");
  let response, body;
  try {
    response = await fetch(new URL("/v1/calls", config.edge), {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": pendingKey },
      body: JSON.stringify({ phoneNumber: number }),
    });
    body = await response.json().catch(() => null);
  } catch {
    say("We can't reach the call service. Check your connection and try again.", "bad");
    callButton.disabled = false;
    return;
  } finally {
    pendingKey = null;
  }
  if (response.status !== 201) {
    if (body && response.headers.get("retry-after")) body.retryAfter = response.headers.get("retry-after");
    // Refused before any call: only the reason, no step marked as started.
    say(refusal(response.status, body), "bad");
    statusBox.dataset.outcome = body?.code ?? "error";
    callButton.disabled = false;
    return;
  }
  timeline.hidden = false;
  renderTimeline(timeline, "contacting-agent");
  cancelButton.hidden = false;
  follow(body.handle, body.eventsUrl);
});

cancelButton.addEventListener("click", async () => {
  if (!current) return;
  cancelButton.disabled = true;
  try {
    await fetch(new URL(`/v1/calls/${current.handle}`, config.edge), { method: "DELETE" });
  } finally {
    cancelButton.disabled = false;
  }
});
