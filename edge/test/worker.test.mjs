// The edge handler in workerd (through Miniflare) against a live genesys-sim:
// the same module and entry file that `wrangler deploy` ships. Run by
// scripts/test-edge.sh, which starts the simulator and builds pkg-edge first.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { workerOptions } from "../workerd-options.mjs";

const SIM = process.env.GENESYS_SIM_URL;
if (!SIM) throw new Error("GENESYS_SIM_URL is not set: run through scripts/test-edge.sh");
const ORIGIN = "http://127.0.0.1:8080";
const SECRET = "sim-edge-secret";
const ADA = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";
const vars = {
  GENESYS_API_BASE: SIM,
  GENESYS_CLIENT_ID: "sim-edge",
  GENESYS_CLIENT_SECRET: SECRET,
  GENESYS_AGENT_USER_ID: ADA,
  ALLOWED_ORIGINS: ORIGIN,
  ALLOWED_DIAL_PREFIXES: "+",
  HANDLE_SIGNING_KEY: "workerd-test-signing-key-0123456789abcdef",
  RATE_LIMIT_PER_IP: "3/60",
  RATE_LIMIT_PER_NUMBER: "100/60",
  MAX_CONCURRENT_CALLS_PER_NUMBER: "100",
  GENESYS_REQUESTS_PER_MINUTE: "20000",
  POLL_INTERVAL_MS: "25",
};

const workers = [];
function worker(bindings) {
  const mf = new Miniflare(workerOptions(bindings));
  workers.push(mf);
  return mf;
}

// A worker for one test only: disposed when the test is done, so the suite
// does not keep a workerd process per configuration alive.
async function withWorker(bindings, use) {
  const w = new Miniflare(workerOptions(bindings));
  try {
    return await use(w);
  } finally {
    await w.dispose();
  }
}

let mf;
let ipCounter = 0;
const seen = []; // every status line, header and body a visitor received
before(() => { mf = worker(vars); });
after(async () => { for (const w of workers) await w.dispose(); });

async function call(path, { method = "GET", body, headers = {}, ip, origin = ORIGIN, on = mf } = {}) {
  const h = { "cf-connecting-ip": ip ?? `198.51.100.${++ipCounter}`, ...headers };
  if (origin) h.origin = origin;
  const r = await on.dispatchFetch(`http://edge.test${path}`, { method, body, headers: h });
  const text = await r.text();
  seen.push(`${r.status} ${[...r.headers].map((p) => p.join(": ")).join("\n")} ${text}`);
  return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) };
}
const dial = (phoneNumber, opts = {}) =>
  call("/v1/calls", { ...opts, method: "POST", body: JSON.stringify({ phoneNumber }), headers: { "content-type": "application/json", ...(opts.headers ?? {}) } });

function events(text) {
  return text.split("\n\n").filter((e) => e.startsWith("event: status")).map((e) => JSON.parse(e.split("data: ")[1]));
}
async function simLog() {
  return (await (await fetch(`${SIM}/__sim/requests`)).json()).requests;
}
const postsTo = async (number) => (await simLog()).filter((e) => e.method === "POST" && e.phoneNumber === number).length;

test("a visitor's call streams over SSE to completed", async () => {
  const r = await dial("+13175550100");
  assert.equal(r.status, 201, r.text);
  const { handle, statusUrl, eventsUrl } = r.json();
  assert.equal(statusUrl, `/v1/calls/${handle}`);
  assert.equal(r.headers.get("access-control-allow-origin"), ORIGIN);
  const sse = await call(eventsUrl);
  assert.equal(sse.headers.get("content-type"), "text/event-stream");
  const statuses = events(sse.text);
  assert.ok(statuses.some((s) => s.phase === "connected"), sse.text);
  assert.deepEqual([statuses.at(-1).phase, statuses.at(-1).outcome], ["ended", "completed"]);
  assert.match(sse.text, /event: end/);
  assert.equal((await call(statusUrl)).json().outcome, "completed");
  assert.equal(await postsTo("+13175550100"), 1);
});

test("busy and no-answer outcomes", async () => {
  for (const [number, outcome] of [["+13175550101", "busy"], ["+13175550102", "no-answer"]]) {
    const { eventsUrl } = (await dial(number)).json();
    assert.equal(events((await call(eventsUrl)).text).at(-1).outcome, outcome, number);
  }
});

// libphonenumber's example numbers (the numbering plans' own), by what they are.
const REFUSED_EVERYWHERE = [
  ["+43900123456", "Premium-rate numbers can't be called."], // Austria 900
  ["+971900234567", "Premium-rate numbers can't be called."], // UAE 900
  ["+546001234567", "Premium-rate numbers can't be called."], // Argentina 600
  ["+611300123456", "Shared-cost numbers can't be called."], // Australia 1300
  ["+4918012345", "Shared-cost numbers can't be called."], // Germany 180
  ["+449012345678", "Premium-rate numbers can't be called."], // UK 09
  ["+447012345678", "Personal (follow-me) numbers can't be called."], // UK 070
  ["+33806123456", "Universal access (UAN) numbers can't be called."], // France 806
  ["+15002345678", "Personal (follow-me) numbers can't be called."], // NANP 5XX
  ["+19005550100", "Premium-rate numbers can't be called."], // NANP 900
  ["+979123456789", "We can't call international network or satellite numbers."],
  ["+881612345678", "We can't call international network or satellite numbers."],
  ["+252907123456", "We can't call numbers in Somalia."], // the high-risk list
  ["+1317555010", "That isn't a valid phone number. Please check the number."], // too short
];

test("with every country and prefix allowed, premium, shared-cost, UAN and personal numbers never reach Genesys", async () => {
  await withWorker({ ...vars, ALLOWED_COUNTRIES: "*", ALLOWED_DIAL_PREFIXES: "+" }, async (everything) => {
    for (const [number, message] of REFUSED_EVERYWHERE) {
      const r = await dial(number, { on: everything });
      assert.equal(r.status, 403, `${number}: ${r.text}`);
      assert.equal(r.json().code, "policy_denied");
      assert.equal(r.json().message, message, number);
      assert.ok(r.json().correlationId);
      assert.equal(await postsTo(number), 0, number);
    }
    // Ordinary fixed and mobile numbers of other countries are dialled.
    for (const number of ["+441212345678", "+33612345678"]) {
      assert.equal((await dial(number, { on: everything })).status, 201, number);
      assert.equal(await postsTo(number), 1, number);
    }
  });
});

test("US,CA: the Caribbean's +1 numbers are other countries, refused before Genesys is asked", async () => {
  await withWorker({ ...vars, ALLOWED_COUNTRIES: "US,CA", ALLOWED_DIAL_PREFIXES: "" }, async (usca) => {
    for (const number of ["+12423456789", "+18765230123", "+16585550100", "+18092345678", "+14414123456", "+12464123456"]) {
      const r = await dial(number, { on: usca });
      assert.equal(r.status, 403, `${number}: ${r.text}`);
      assert.equal(r.json().message, "We can only call numbers in the United States and Canada.");
      assert.equal(await postsTo(number), 0, number);
    }
    for (const number of ["+19005550100", "+15002345678"]) {
      assert.equal((await dial(number, { on: usca })).status, 403, number);
      assert.equal(await postsTo(number), 0, number);
    }
    const r = await dial("+16135550123", { on: usca }); // Ottawa
    assert.equal(r.status, 201, r.text);
  });
});

test("each kind of bad policy setting makes healthz 503 misconfigured, naming the variable", async () => {
  for (const [variable, value] of [
    ["ALLOWED_COUNTRIES", "UK"], // not a region code
    ["ALLOWED_COUNTRIES", "US,CU"], // wholly on the high-risk list
    ["ALLOWED_NUMBER_TYPES", "premium"], // not a type name
    ["ALLOWED_DIAL_PREFIXES", "1317"], // not an E.164 prefix
    ["ALLOWED_DIAL_PREFIXES", "+44"], // outside US,CA (the default countries)
    ["BLOCKED_DIAL_PREFIXES", "53"], // not an E.164 prefix
  ]) {
    const r = await withWorker({ ...vars, [variable]: value }, (bad) => call("/v1/healthz", { on: bad }));
    assert.equal(r.status, 503, `${variable}=${value}: ${r.text}`);
    assert.equal(r.json().code, "misconfigured");
    assert.match(r.json().message, new RegExp(variable));
  }
  assert.equal((await call("/v1/healthz")).status, 200);
});

test("a foreign origin is refused; preflights answer the allowed one exactly", async () => {
  const pre = await call("/v1/calls", { method: "OPTIONS", headers: { "access-control-request-method": "POST" } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), ORIGIN);
  assert.equal(pre.headers.get("vary"), "Origin");
  const foreign = await dial("+13175550100", { origin: "https://evil.example" });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.headers.get("access-control-allow-origin"), null);
});

test("per-address rate limit", async () => {
  const ip = "203.0.113.50";
  for (let i = 0; i < 3; i++) assert.equal((await dial("+13175550104", { ip })).status, 201);
  const r = await dial("+13175550104", { ip });
  assert.equal(r.status, 429);
  assert.equal(r.json().code, "rate_limited");
  assert.ok(Number(r.headers.get("retry-after")) >= 1);
});

test("a double click with one Idempotency-Key places one call", async () => {
  const number = "+13175550177";
  const headers = { "idempotency-key": "double-click-1" };
  const ip = "203.0.113.60";
  const [a, b] = await Promise.all([dial(number, { headers, ip }), dial(number, { headers, ip })]);
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  assert.equal(a.json().handle, b.json().handle);
  assert.equal(await postsTo(number), 1);
});

test("tampered handles and unknown routes are 404", async () => {
  const { handle } = (await dial("+13175550104")).json();
  const forged = handle.slice(0, -1) + (handle.endsWith("A") ? "B" : "A");
  for (const path of [`/v1/calls/${forged}`, `/v1/calls/${forged}/events`, "/v1/calls/x", "/api/v2/conversations/calls", "/"]) {
    assert.equal((await call(path)).status, 404, path);
  }
  assert.equal((await call(`/v1/calls/${forged}`, { method: "DELETE" })).status, 404);
  assert.equal((await call(`/v1/calls/${handle}`, { method: "DELETE" })).status, 204);
});

test("junk bodies are refused without dialling", async () => {
  const post = (body, type = "application/json") => call("/v1/calls", { method: "POST", body, headers: { "content-type": type } });
  for (const [body, status] of [
    ['{"phoneNumber":"+1317', 400],
    ['{"phoneNumber":13175550188}', 400],
    ['{"phoneNumber":"+13175550188","agent":"x"}', 400],
    [JSON.stringify({ phoneNumber: "+13175550188", pad: "x".repeat(100_000) }), 413],
  ]) {
    const r = await post(body);
    assert.equal(r.status, status, body.slice(0, 60));
    assert.equal(r.json().code, "invalid_input");
  }
  assert.equal((await post('{"phoneNumber":"+13175550188"}', "text/plain")).status, 415);
  assert.equal(await postsTo("+13175550188"), 0);
});

test("a 5xx after the POST is outcome_unknown with exactly one POST; a 429 is rate_limited", async () => {
  const fault = (spec) => fetch(`${SIM}/__sim/faults`, { method: "POST", body: JSON.stringify(spec) });
  await fault({ method: "POST", path: "/api/v2/conversations/calls/user/*", when: "after", status: 503 });
  const r = await dial("+13175550166");
  assert.equal(r.status, 502);
  assert.equal(r.json().code, "outcome_unknown");
  assert.equal(await postsTo("+13175550166"), 1);
  await fault({ method: "POST", path: "/api/v2/conversations/calls/user/*", status: 429, retryAfter: 60 });
  const limited = await dial("+13175550155");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "60");
});

test("Cloudflare bindings: KV idempotency across isolates, the fleet-wide rate limiter", async () => {
  const options = (name) => workerOptions({ ...vars, RATE_LIMIT_PER_IP: "100/60" }, {
    name,
    kvNamespaces: { IDEMPOTENCY_KV: "idempotency-shared" },
    ratelimits: { CALL_RATE_LIMITER: { simple: { limit: 2, period: 60 } } },
  });
  const fleet = new Miniflare({ workers: [options("isolate-a"), options("isolate-b")] });
  workers.push(fleet);
  const [a, b] = [await fleet.getWorker("isolate-a"), await fleet.getWorker("isolate-b")];
  const post = async (w, number, ip, key) => {
    const headers = { "content-type": "application/json", origin: ORIGIN, "cf-connecting-ip": ip };
    if (key) headers["idempotency-key"] = key;
    const r = await w.fetch("http://edge.test/v1/calls", { method: "POST", headers, body: JSON.stringify({ phoneNumber: number }) });
    const text = await r.text();
    seen.push(text);
    return { status: r.status, json: JSON.parse(text) };
  };
  // The same click reaching two isolates: the second replays from KV, no second call.
  const first = await post(a, "+13175550133", "203.0.113.80", "kv-click");
  const second = await post(b, "+13175550133", "203.0.113.80", "kv-click");
  assert.equal(first.status, 201);
  assert.equal(second.status, 201);
  assert.equal(second.json.handle, first.json.handle);
  assert.equal(await postsTo("+13175550133"), 1);
  // The bound limiter (2 per minute) refuses the third call, though memory allows 100.
  const ip = "203.0.113.81";
  assert.equal((await post(a, "+13175550134", ip)).status, 201);
  assert.equal((await post(a, "+13175550135", ip)).status, 201);
  const third = await post(a, "+13175550136", ip);
  assert.equal(third.status, 429);
  assert.equal(third.json.code, "rate_limited");
});

test("missing configuration names the variable: healthz 503, every other request 500", async () => {
  const broken = worker({ ...vars, GENESYS_CLIENT_SECRET: "" });
  const r = await call("/v1/healthz", { on: broken });
  assert.equal(r.status, 503);
  assert.equal(r.json().code, "misconfigured");
  assert.match(r.json().message, /GENESYS_CLIENT_SECRET/);
  assert.equal((await dial("+13175550100", { on: broken })).status, 500);
});

test("the client secret never appears in any response", () => {
  assert.ok(seen.length > 30);
  for (const s of seen) assert.ok(!s.includes(SECRET), s);
});
