// The "Call me" widget: talks only to the edge handler, which holds the Genesys
// secret and decides what may be dialled. Live status arrives over SSE.
import { loadConfig, normalizePhone, OUTCOME_WORDS, PHASE_WORDS, renderTimeline } from "./config.js";

const $ = (id) => document.getElementById(id);
const form = $("call-form"), phone = $("phone"), error = $("phone-error");
const callButton = $("call-button"), cancelButton = $("cancel-button");
const statusBox = $("call-status"), statusText = $("status-text"), timeline = statusBox.querySelector(".timeline");
const config = await loadConfig();
// How the edge follows the call: pushed live over Genesys' Notifications API, or polled.
const trackingMode = statusBox.appendChild(Object.assign(document.createElement("small"), { className: "tracking-mode" }));

let current = null; // { handle, events } of the call on screen
// The Idempotency-Key for this number: a double click, or a retry after an
// answer that did not say "no call was placed", reuses it, so the edge never
// dials the number twice for one visitor. A new number, or a placed call,
// gets a new key.
let pending = null; // { key, number }
const RINGING = "Your call may already be ringing. Please wait a moment before trying again.";

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
    case "outcome_unknown": return "We couldn't confirm the call went through. If your phone didn't ring, you may try again.";
    case "call_may_be_ringing": return RINGING;
    case "busy": return "We're very busy — please try again in a minute.";
    case "idempotency_key_reused": return "Please try again.";
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
    if (s.tracking) {
      trackingMode.textContent = s.tracking === "push" ? "live (push)" : "polling";
      trackingMode.dataset.tracking = s.tracking;
    }
    if (s.phase === "ended") {
      say(OUTCOME_WORDS[s.outcome] ?? "The call has ended.", s.outcome === "completed" ? "good" : "bad");
      statusBox.dataset.outcome = s.outcome ?? "";
    } else {
      say(PHASE_WORDS[s.phase] ?? s.phase);
    }
  });
  // The edge could not confirm the call yet: it is finding out.
  events.addEventListener("pending", () => say(RINGING));
  events.addEventListener("end", finish);
  events.addEventListener("error", (e) => {
    // An "error" event from the edge carries a code; one from the browser is a lost connection.
    if (e.data) {
      const code = JSON.parse(e.data).code;
      say(code === "outcome_unknown" ? refusal(0, { code }) : "We lost track of the call's progress. Your phone may still ring.", "bad");
      statusBox.dataset.outcome = code;
      finish();
      return;
    }
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
  if (pending?.number !== number) pending = { key: crypto.randomUUID(), number };
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
      headers: { "content-type": "application/json", "idempotency-key": pending.key },
      body: JSON.stringify({ phoneNumber: number }),
    });
    body = await response.json().catch(() => null);
  } catch {
    // The request may have reached the edge: the retry keeps the key.
    say("We can't reach the call service. Check your connection and try again.", "bad");
    callButton.disabled = false;
    return;
  }
  // Certainly no call for this key (a refusal), or a call placed: the next click is a new request.
  // Keep the key after "may be ringing", "busy" and server errors.
  if (response.status === 201 || [400, 403, 413, 415, 422, 429].includes(response.status)) pending = null;
  if (response.status === 202 && body?.eventsUrl) {
    // Our call's outcome is not known yet: follow it; the edge finds out.
    say(RINGING);
    cancelButton.hidden = false;
    follow(body.handle, body.eventsUrl);
    return;
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
