// The "Call me" widget: talks only to the edge handler, which holds the Genesys
// secret and decides what may be dialled. Live status arrives over SSE. It
// asks /v1/availability first: "Call me now" (with the queue's estimated
// wait) when someone can take the call, and "Call me back at…" (the open
// times, shown in the visitor's own time zone) when callbacks are offered.
import { loadConfig, normalizePhone, OUTCOME_WORDS, PHASE_WORDS, renderTimeline } from "./config.js";

const $ = (id) => document.getElementById(id);
const form = $("call-form"), phone = $("phone"), error = $("phone-error");
const callButton = $("call-button"), cancelButton = $("cancel-button");
const statusBox = $("call-status"), statusText = $("status-text"), timeline = statusBox.querySelector(".timeline");
const availabilityText = $("availability"), callbackBox = $("callback-box"), callbackTime = $("callback-time");
const callbackButton = $("callback-button"), callbackStatus = $("callback-status"), callbackText = $("callback-text");
const callbackCancel = $("callback-cancel");
const config = await loadConfig();
$("visitor-zone").textContent = `(your time zone: ${Intl.DateTimeFormat().resolvedOptions().timeZone})`;

let lastAvailability = null;
let booking = null; // { key, number, at }: the Idempotency-Key of the callback being booked
let callback = null; // { handle } of the booked callback

// A slot in the visitor's own time zone, e.g. "Mon, 9 Mar, 14:30".
const slotLabel = (iso) => new Date(iso).toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
const waitWords = (secs) => (secs < 90 ? "about a minute" : `about ${Math.round(secs / 60)} minutes`);

function sayCallback(text, tone = "") {
  callbackStatus.hidden = false;
  callbackText.textContent = text;
  callbackText.className = `status-text ${tone}`;
}

// The callback picker: "as soon as possible" while open, then the open times.
function offerCallbacks(a) {
  const options = [];
  if (a.reason !== "closed") {
    const wait = a.estimatedWaitSeconds != null ? ` (~${Math.max(1, Math.round(a.estimatedWaitSeconds / 60))} min)` : "";
    options.push(new Option(`As soon as possible${wait}`, ""));
  }
  for (const slot of a.nextSlots ?? []) options.push(new Option(slotLabel(slot.utc), slot.utc));
  callbackTime.replaceChildren(...options);
  callbackBox.hidden = options.length === 0;
}

function showAvailability(a) {
  lastAvailability = a;
  const wait = a.estimatedWaitSeconds != null ? ` Estimated wait: ${waitWords(a.estimatedWaitSeconds)}.` : "";
  if (a.mode === "call-now") {
    availabilityText.textContent = `We're available now.${wait}`;
    availabilityText.className = "availability";
    callButton.hidden = false;
  } else {
    const why = a.reason === "closed" ? "We're closed right now." : "No one can take your call right now.";
    availabilityText.textContent = a.callbacks ? `${why} Choose a time and we'll call you back.` : `${why} Please try again later.`;
    availabilityText.className = "availability bad";
    callButton.hidden = true;
  }
  if (a.callbacks) offerCallbacks(a);
  document.body.dataset.mode = a.mode;
}

// Unknown availability leaves "Call me now": the edge checks again before dialling.
async function checkAvailability() {
  try {
    const r = await fetch(new URL("/v1/availability", config.edge));
    if (r.ok) showAvailability(await r.json());
  } catch { /* the call itself will tell */ }
}
// Not awaited: the form's handlers must be attached before anyone can click.
checkAvailability();

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
    case "agent_unavailable": return body.callbacks ? "No one can take your call right now. Choose a time above and we'll call you back." : "No one can take your call right now. Please try again later.";
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

const BAD_FORMAT = "Enter your number in international format, e.g. +1 317 555 0100.";
const UNREACHABLE = "We can't reach the call service. Check your connection and try again.";

// The number in the field as E.164, or null after saying what is wrong with it.
function readNumber() {
  const number = normalizePhone(phone.value);
  if (!number) {
    showError(BAD_FORMAT);
    phone.focus();
    return null;
  }
  showError("");
  return number;
}

// POSTs a JSON body under an Idempotency-Key: { response, body } (body null when
// not JSON), or null when the edge could not be reached (the request may have
// arrived: the caller keeps its key for the retry).
async function postWithKey(path, key, payload) {
  try {
    const response = await fetch(new URL(path, config.edge), {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(payload),
    });
    return { response, body: await response.json().catch(() => null) };
  } catch {
    return null;
  }
}

phone.addEventListener("input", () => { if (error.textContent) showError(""); });
phone.addEventListener("blur", () => {
  if (phone.value.trim() && !normalizePhone(phone.value)) showError(BAD_FORMAT);
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const number = readNumber();
  if (!number || current) return;
  if (pending?.number !== number) pending = { key: crypto.randomUUID(), number };
  callButton.disabled = true;
  statusBox.hidden = false;
  // No step is under way until the edge has accepted the call: it may refuse it.
  timeline.hidden = true;
  renderTimeline(timeline, "");
  delete statusBox.dataset.outcome;
  say("Placing your call…");
  const answer = await postWithKey("/v1/calls", pending.key, { phoneNumber: number });
  if (!answer) {
    // The request may have reached the edge: the retry keeps the key.
    say(UNREACHABLE, "bad");
    callButton.disabled = false;
    return;
  }
  const { response, body } = answer;
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
    // Nobody can take it: the callback picker replaces "Call me now" (the
    // status line, announced, says why; the availability line is not repeated).
    if (body?.code === "agent_unavailable" && body.callbacks && lastAvailability) {
      callButton.hidden = true;
      availabilityText.textContent = "";
      offerCallbacks({ ...lastAvailability, reason: body.reason });
      document.body.dataset.mode = "callback";
    }
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

callbackButton.addEventListener("click", async () => {
  const number = readNumber();
  if (!number) return;
  const at = callbackTime.value || undefined;
  // The same number and time again (a double click, a retry) keeps the key: one callback.
  if (booking?.number !== number || booking?.at !== at) booking = { key: crypto.randomUUID(), number, at };
  callbackButton.disabled = true;
  callbackCancel.hidden = true;
  delete callbackStatus.dataset.state;
  sayCallback("Booking your callback…");
  const answer = await postWithKey("/v1/callbacks", booking.key, at ? { phoneNumber: number, at } : { phoneNumber: number });
  if (!answer) {
    sayCallback(UNREACHABLE, "bad");
    callbackButton.disabled = false;
    return;
  }
  const { response, body } = answer;
  callbackButton.disabled = false;
  if (response.status === 201) {
    booking = null;
    callback = { handle: body.handle };
    sayCallback(at ? `Booked: we'll call you on ${slotLabel(at)}.` : "Booked: we'll call you as soon as an agent is free.", "good");
    callbackStatus.dataset.state = "booked";
    callbackCancel.hidden = false;
    return;
  }
  if ([400, 403, 404, 413, 415, 422, 429].includes(response.status)) booking = null;
  if (body && response.headers.get("retry-after")) body.retryAfter = response.headers.get("retry-after");
  // A refused time says why in the visitor's words (closed, too far ahead…).
  sayCallback(response.status === 422 && body?.message ? body.message : refusal(response.status, body), "bad");
  callbackStatus.dataset.state = body?.code ?? "error";
});

callbackCancel.addEventListener("click", async () => {
  if (!callback) return;
  callbackCancel.disabled = true;
  try {
    const r = await fetch(new URL(`/v1/callbacks/${callback.handle}`, config.edge), { method: "DELETE" });
    if (r.status === 204) {
      callback = null;
      sayCallback("Your callback is cancelled. We won't call you.");
      callbackStatus.dataset.state = "canceled";
      callbackCancel.hidden = true;
      callbackButton.focus();
    } else {
      sayCallback("We couldn't cancel the callback. Please try again.", "bad");
    }
  } catch {
    sayCallback(UNREACHABLE, "bad");
  } finally {
    callbackCancel.disabled = false;
  }
});

// Every handler is attached (the browser tests wait for this before clicking).
document.body.dataset.ready = "1";
