// Where the page sends its requests. Defaults come from config.json (written
// by the demo server); query parameters override them, so the same files work
// against a real org: ?edge=https://calls.example.com&region=mypurecloud.ie&clientId=<PKCE client id>&queueId=<queue>
export async function loadConfig() {
  let file = {};
  try {
    const r = await fetch("config.json", { cache: "no-store" });
    if (r.ok) file = await r.json();
  } catch { /* no config file: query parameters only */ }
  const q = new URLSearchParams(location.search);
  const pick = (k) => q.get(k) ?? file[k] ?? undefined;
  return { edge: pick("edge"), region: pick("region"), apiBase: pick("apiBase"), loginBase: pick("loginBase"), clientId: pick("clientId"),
    queueId: pick("queueId") };
}

// Same rule as the library's E.164 check, so the page can say so before sending.
export function normalizePhone(input) {
  const t = input.trim().replace(/^tel:/, "");
  if (!/^\+[0-9 ().-]+$/.test(t)) return null;
  const n = "+" + t.slice(1).replace(/[ ().-]/g, "");
  return /^\+[1-9][0-9]{6,14}$/.test(n) ? n : null;
}

export const OUTCOME_WORDS = {
  completed: "The call has ended. Thanks for talking to us!",
  busy: "Your line was busy. Try again in a moment.",
  "no-answer": "We called but nobody answered.",
  failed: "We couldn't reach that number.",
  "agent-unavailable": "No agent could take the call right now. Please try again later.",
  canceled: "The call was canceled.",
};

export const PHASE_WORDS = {
  "contacting-agent": "Calling our agent…",
  dialing: "Our agent is calling you now…",
  connected: "You're connected.",
};

// Marks the timeline up to `phase`.
export function renderTimeline(list, phase) {
  const steps = [...list.querySelectorAll("li")];
  const at = steps.findIndex((li) => li.dataset.step === phase);
  steps.forEach((li, i) => {
    li.classList.toggle("done", i < at || (phase === "ended" && i === at));
    li.classList.toggle("current", i === at && phase !== "ended");
  });
}
