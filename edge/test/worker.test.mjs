// The edge handler in workerd (through Miniflare) against a live genesys-sim:
// the same module and entry file that `wrangler deploy` ships, here without
// the Durable Object bindings (one isolate; fleet.test.mjs has them). Run by
// scripts/test-edge.sh, which starts the simulator and builds pkg-edge first.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { workerOptions } from "../workerd-options.mjs";
import { ADA, SECRET, baseVars, clearFaults, edgeLogLines, events, fault, keeper, postsTo, simLog, sleep, visitor } from "./support.mjs";

const SIM = process.env.GENESYS_SIM_URL;
if (!SIM) throw new Error("GENESYS_SIM_URL is not set: run through scripts/test-edge.sh");
const SIGNING_KEY = "workerd-test-signing-key-0123456789abcdef";
const vars = { ...baseVars(SIM, SIGNING_KEY), CLIENT_ADDRESS_HEADER: "CF-Connecting-IP", RATE_LIMIT_PER_IP: "3/60" };

const k = keeper();

// A worker for one test only: stopped when the test is done, so the suite
// does not keep a workerd process per configuration alive.
async function withWorker(bindings, use) {
  const w = k.start(workerOptions(bindings));
  try {
    const v = visitor(w, seen);
    return await use({ dial: (number) => v.dial(number, { ip: ip() }), call: v.call });
  } finally {
    await k.stop(w);
  }
}
const seen = []; // every status line, header and body a visitor received
const issued = []; // every handle handed out
const dialled = []; // every number asked for
let mf, v;
let ipCounter = 0;
const ip = () => `198.51.100.${++ipCounter}`;
before(() => {
  mf = k.start(workerOptions(vars));
  v = visitor(mf, seen);
});
after(() => k.disposeAll());

const dial = (number, opts = {}) => {
  dialled.push(number);
  return v.dial(number, { ip: ip(), ...opts });
};
async function placed(r) {
  assert.equal(r.status, 201, r.text);
  issued.push(r.json().handle);
  return r.json();
}

test("a visitor's call streams over SSE to completed", async () => {
  // A number no other suite dials: the files run at once against one simulator.
  const { handle, statusUrl, eventsUrl } = await placed(await dial("+13175550171"));
  assert.equal(statusUrl, `/v1/calls/${handle}`);
  const sse = await v.call(eventsUrl);
  assert.equal(sse.headers.get("content-type"), "text/event-stream");
  assert.equal(sse.headers.get("x-content-type-options"), "nosniff");
  const { statuses, ended } = events(sse.text);
  assert.ok(statuses.some((s) => s.phase === "connected"), sse.text);
  assert.deepEqual([statuses.at(-1).phase, statuses.at(-1).outcome], ["ended", "completed"]);
  assert.ok(ended);
  assert.equal((await v.call(statusUrl)).json().outcome, "completed");
  assert.equal(await postsTo(SIM, "+13175550171"), 1);
});

test("busy and no-answer outcomes", async () => {
  for (const [number, outcome] of [["+13175550101", "busy"], ["+13175550102", "no-answer"]]) {
    const { eventsUrl } = await placed(await dial(number));
    assert.equal(events((await v.call(eventsUrl)).text).statuses.at(-1).outcome, outcome, number);
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
      const r = await everything.dial(number);
      assert.equal(r.status, 403, `${number}: ${r.text}`);
      assert.equal(r.json().code, "policy_denied");
      assert.equal(r.json().message, message, number);
      assert.ok(r.json().correlationId);
      assert.equal(await postsTo(SIM, number), 0, number);
    }
    // Ordinary fixed and mobile numbers of other countries are dialled.
    for (const number of ["+441212345678", "+33612345678"]) {
      assert.equal((await everything.dial(number)).status, 201, number);
      assert.equal(await postsTo(SIM, number), 1, number);
    }
  });
});

test("US,CA: the Caribbean's +1 numbers are other countries, refused before Genesys is asked", async () => {
  await withWorker({ ...vars, ALLOWED_COUNTRIES: "US,CA", ALLOWED_DIAL_PREFIXES: "" }, async (usca) => {
    for (const number of ["+12423456789", "+18765230123", "+16585550100", "+18092345678", "+14414123456", "+12464123456"]) {
      const r = await usca.dial(number);
      assert.equal(r.status, 403, `${number}: ${r.text}`);
      assert.equal(r.json().message, "We can only call numbers in the United States and Canada.");
      assert.equal(await postsTo(SIM, number), 0, number);
    }
    for (const number of ["+19005550100", "+15002345678"]) {
      assert.equal((await usca.dial(number)).status, 403, number);
      assert.equal(await postsTo(SIM, number), 0, number);
    }
    const r = await usca.dial("+16135550123"); // Ottawa
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
    const r = await withWorker({ ...vars, [variable]: value }, (bad) => bad.call("/v1/healthz"));
    assert.equal(r.status, 503, `${variable}=${value}: ${r.text}`);
    assert.equal(r.json().code, "misconfigured");
    assert.match(r.json().message, new RegExp(variable));
  }
  assert.equal((await v.call("/v1/healthz")).status, 200);
});

test("a foreign origin is refused; preflights answer the allowed one exactly", async () => {
  const pre = await v.call("/v1/calls", { method: "OPTIONS", headers: { "access-control-request-method": "POST" } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "http://127.0.0.1:8080");
  assert.equal(pre.headers.get("vary"), "Origin");
  const foreign = await dial("+13175550100", { origin: "https://evil.example" });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.headers.get("access-control-allow-origin"), null);
});

// Issue #15.1: today 1 × 201, 9 × workerd's plain-text 500, and 10 calls placed.
test("a fresh edge serves a burst like a warm one: 10 calls, then 10 reads and 10 event streams", async () => {
  const fresh = k.start(workerOptions(vars));
  const f = visitor(fresh, seen);
  const numbers = Array.from({ length: 10 }, (_, i) => `+1317555081${i}`);
  const answers = await Promise.all(numbers.map((n) => f.dial(n, { ip: ip() })));
  for (const r of answers) assert.equal(r.status, 201, r.text);
  for (const n of numbers) assert.equal(await postsTo(SIM, n), 1, n);
  const handles = answers.map((r) => r.json().handle);
  issued.push(...handles);
  // Another fresh isolate (same signing key) for the reads: every request waits for its first token.
  const reader = k.start(workerOptions(vars));
  const g = visitor(reader, seen);
  const [reads, streams] = await Promise.all([
    Promise.all(handles.map((h) => g.call(`/v1/calls/${h}`))),
    Promise.all(handles.map((h) => g.call(`/v1/calls/${h}/events`))),
  ]);
  for (const r of reads) assert.equal(r.status, 200, r.text);
  for (const s of streams) {
    assert.equal(s.status, 200, s.text);
    assert.ok(events(s.text).ended, s.text);
  }
  await k.stop(fresh);
  await k.stop(reader);
});

test("per-address rate limit, from the trusted header", async () => {
  const addr = "203.0.113.50";
  for (let i = 0; i < 3; i++) await placed(await dial(`+1317555090${i}`, { ip: addr }));
  const r = await dial("+13175550903", { ip: addr });
  assert.equal(r.status, 429);
  assert.equal(r.json().code, "rate_limited");
  assert.ok(Number(r.headers.get("retry-after")) >= 1);
});

// Issue #15.4: today 40 of 40 pass a 20-per-window limit by rotating the header.
test("without a trusted proxy a client-sent CF-Connecting-IP counts for nothing", async () => {
  const untrusted = k.start(workerOptions({ ...vars, CLIENT_ADDRESS_HEADER: "", RATE_LIMIT_PER_IP: "5/600" }));
  const u = visitor(untrusted, seen);
  let refused = 0;
  for (let i = 0; i < 12; i++) {
    const r = await u.dial(`+131755509${10 + i}`, { ip: `192.0.2.${i}` });
    if (r.status === 429) refused++;
    else assert.equal(r.status, 201, r.text);
  }
  assert.ok(refused >= 7, `only ${refused} refused`);
  const health = await u.call("/v1/healthz");
  assert.equal(health.status, 200, health.text);
  assert.equal(health.json().clientAddress, "shared");
  assert.match(health.json().warnings.join(" "), /one rate-limit bucket/);
  await k.stop(untrusted);
});

// Issue #15.3: today 5 concurrent clicks with 300 ms Genesys latency place 3 to 5 calls.
test("5 concurrent clicks for one number without a key, Genesys answering in 300 ms: one call", async () => {
  const capped = k.start(workerOptions({ ...vars, MAX_CONCURRENT_CALLS_PER_NUMBER: "1", RATE_LIMIT_PER_IP: "100/60" }));
  const c = visitor(capped, seen);
  await clearFaults(SIM);
  await fault(SIM, { method: "POST", path: "/api/v2/conversations/calls/user/*", when: "after", delayMs: 300, count: 5 });
  const number = "+13175550933";
  const answers = await Promise.all(Array.from({ length: 5 }, () => c.dial(number, { ip: "203.0.113.70" })));
  for (const r of answers) assert.equal(r.status, 201, r.text);
  assert.equal(new Set(answers.map((r) => r.json().handle)).size, 1);
  assert.equal(await postsTo(SIM, number), 1);
  issued.push(answers[0].json().handle);
  await clearFaults(SIM);
  await k.stop(capped);
});

test("a double click with one Idempotency-Key places one call; the key for another number is refused", async () => {
  const number = "+13175550177";
  const addr = "203.0.113.60";
  const [a, b] = await Promise.all([dial(number, { key: "double-click-1", ip: addr }), dial(number, { key: "double-click-1", ip: addr })]);
  await placed(a);
  assert.equal(b.status, 201);
  assert.equal(a.json().handle, b.json().handle);
  assert.equal(await postsTo(SIM, number), 1);
  const reused = await dial("+13175550178", { key: "double-click-1", ip: addr });
  assert.equal(reused.status, 422);
  assert.equal(reused.json().code, "idempotency_key_reused");
  assert.equal(await postsTo(SIM, "+13175550178"), 0);
});

// Issue #15.2: today every fault kind gives 2 create-call POSTs for 2 clicks.
test("every fault after the POST: two clicks with different keys, one POST, both streams reach the final status", async () => {
  const quick = k.start(workerOptions({ ...vars, GENESYS_REQUEST_TIMEOUT_MS: "1000" }));
  const q = visitor(quick, seen);
  const kinds = [["+13175550941", { status: 503 }], ["+13175550942", { drop: true }], ["+13175550943", { malformed: true }], ["+13175550944", { delayMs: 2500 }]];
  await clearFaults(SIM);
  for (const [number, spec] of kinds) {
    await fault(SIM, { method: "POST", path: "/api/v2/conversations/calls/user/*", when: "after", ...spec });
    const addr = ip();
    const first = await q.dial(number, { key: `first-${number}`, ip: addr });
    assert.equal(first.status, 202, `${JSON.stringify(spec)}: ${first.text}`);
    assert.equal(first.json().code, "call_may_be_ringing");
    const second = await q.dial(number, { key: `second-${number}`, ip: addr });
    assert.equal(second.status, 202, second.text);
    assert.equal(second.json().handle, first.json().handle);
    issued.push(first.json().handle);
    const [a, b] = await Promise.all([q.call(first.json().eventsUrl), q.call(second.json().eventsUrl)]);
    for (const s of [a, b]) {
      const e = events(s.text);
      assert.ok(e.pending, s.text);
      assert.deepEqual([e.statuses.at(-1)?.phase, e.statuses.at(-1)?.outcome], ["ended", "completed"], `${JSON.stringify(spec)}: ${s.text}`);
    }
    assert.equal(await postsTo(SIM, number), 1, JSON.stringify(spec));
  }
  await k.stop(quick);
});

test("tampered handles and unknown routes are 404, and reach nothing upstream", async () => {
  const { handle } = await placed(await dial("+13175550104"));
  const forged = handle.slice(0, -1) + (handle.endsWith("A") ? "B" : "A");
  const before = (await simLog(SIM)).length;
  for (const path of [`/v1/calls/${forged}`, `/v1/calls/${forged}/events`, "/v1/calls/x", "/api/v2/conversations/calls", "/"]) {
    assert.equal((await v.call(path)).status, 404, path);
  }
  assert.equal((await v.call(`/v1/calls/${forged}`, { method: "DELETE" })).status, 404);
  assert.equal((await simLog(SIM)).length, before);
  assert.equal((await v.call(`/v1/calls/${handle}`, { method: "DELETE" })).status, 204);
});

test("an ended call's handle no longer reaches Genesys", async () => {
  const { handle, eventsUrl } = await placed(await dial("+13175550103"));
  assert.equal(events((await v.call(eventsUrl)).text).statuses.at(-1).outcome, "failed");
  const before = (await simLog(SIM)).length;
  for (let i = 0; i < 3; i++) assert.equal((await v.call(`/v1/calls/${handle}`)).json().outcome, "failed");
  assert.equal((await v.call(`/v1/calls/${handle}`, { method: "DELETE" })).status, 204);
  assert.equal((await simLog(SIM)).length, before, "no read, no hang-up PATCH");
});

test("junk bodies are refused without dialling", async () => {
  const post = (body, type = "application/json") => v.call("/v1/calls", { method: "POST", body, headers: { "content-type": type, "cf-connecting-ip": ip() } });
  for (const [body, status] of [
    ['{"phoneNumber":"+1317', 400],
    ['{"phoneNumber":13175550188}', 400],
    ['{"phoneNumber":"+13175550188","agent":"x"}', 400],
    [JSON.stringify({ phoneNumber: "+13175550188", ["f".repeat(4000)]: 1 }), 400],
    [JSON.stringify({ phoneNumber: "+13175550188", pad: "x".repeat(100_000) }), 413],
  ]) {
    const r = await post(body);
    assert.equal(r.status, status, body.slice(0, 60));
    assert.equal(r.json().code, "invalid_input");
    assert.ok(r.text.length < 600, "unknown field names are truncated");
  }
  assert.equal((await post('{"phoneNumber":"+13175550188"}', "text/plain")).status, 415);
  assert.equal(await postsTo(SIM, "+13175550188"), 0);
});

// Issue #15.6: today a plain-text 500 with a stack trace and file paths, and no log line.
test("a broken request body is a JSON 400 with a code, and logged", async () => {
  const served = k.start(workerOptions(vars, { host: "127.0.0.1", port: 0 }));
  const { port } = new URL(await served.ready);
  const raw = (text, halfClose) => new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => {
      s.write(text);
      if (halfClose) s.end();
    });
    let out = "";
    s.on("data", (d) => { out += d; if (/\r\n\r\n/.test(out) && /"correlationId"|HTTP\/1\.1 4/.test(out) && out.includes("}")) s.end(); });
    s.on("end", () => resolve(out));
    s.on("close", () => resolve(out));
    s.on("error", reject);
    setTimeout(() => { s.destroy(); resolve(out); }, 3000);
  });
  const head = "POST /v1/calls HTTP/1.1\r\nHost: edge.test\r\nContent-Type: application/json\r\n";
  for (const [name, text, halfClose] of [
    ["an invalid chunk size", `${head}Transfer-Encoding: chunked\r\n\r\nzz\r\n{"phoneNumber":"+13175550100"}\r\n0\r\n\r\n`, false],
    ["a Content-Length then a half-close", `${head}Content-Length: 100\r\n\r\n{"phoneNumber":"+1317`, true],
  ]) {
    const out = await raw(text, halfClose);
    const status = Number(out.match(/^HTTP\/1\.1 (\d+)/)?.[1]);
    assert.equal(status, 400, `${name}: ${out}`);
    assert.doesNotMatch(out, /at \w+ \(|\/work\/|file:\/\//, `${name}: no stack or paths`);
    const body = JSON.parse(out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1));
    assert.equal(body.code, "invalid_input", name);
    assert.ok(body.correlationId);
    await sleep(50);
    assert.ok(k.logs.some((l) => l.includes(body.correlationId) && l.includes("body read failed")), `${name}: logged`);
  }
  await k.stop(served);
});

// Issue #15.8: today {"ok":true} with a wrong secret, an unknown agent or an unreachable API.
test("readiness obtains a token and reads the agent, naming the failing piece", async () => {
  const ok = await v.call("/v1/healthz");
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json().ok, true);
  assert.equal(ok.json().guarantees, "instance");
  assert.match(ok.json().warnings.join(" "), /per instance/);
  for (const [override, names] of [
    [{ GENESYS_CLIENT_SECRET: "a-wrong-secret-value" }, /GENESYS_CLIENT_SECRET/],
    [{ GENESYS_AGENT_USER_ID: "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0aff" }, /GENESYS_AGENT_USER_ID/],
    [{ GENESYS_API_BASE: "http://127.0.0.1:9" }, /GENESYS_API_BASE/],
  ]) {
    const broken = k.start(workerOptions({ ...vars, ...override }));
    const r = await visitor(broken, seen).call("/v1/healthz");
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json().code, "not_ready");
    assert.match(r.json().message, names);
    assert.ok(!r.text.includes(Object.values(override)[0]), "never the value");
    await k.stop(broken);
  }
});

test("a 429 from Genesys is rate_limited, and frees the number", async () => {
  await clearFaults(SIM);
  await fault(SIM, { method: "POST", path: "/api/v2/conversations/calls/user/*", status: 429, retryAfter: 60 });
  const limited = await dial("+13175550155");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "60");
  await placed(await dial("+13175550155"));
});

test("missing configuration answers misconfigured naming the variable", async () => {
  const broken = k.start(workerOptions({ ...vars, GENESYS_CLIENT_SECRET: "" }));
  const b = visitor(broken, seen);
  const health = await b.call("/v1/healthz");
  assert.equal(health.status, 503);
  assert.equal(health.json().code, "misconfigured");
  assert.match(health.json().message, /GENESYS_CLIENT_SECRET/);
  assert.equal((await b.call("/v1/calls", { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).status, 500);
  await k.stop(broken);
});

test("no answer or log line holds the secret, the signing key, a whole number, a whole handle or an address", async () => {
  await sleep(100);
  assert.ok(seen.length > 60 && k.logs.length > 60, `${seen.length} answers, ${k.logs.length} log lines`);
  for (const s of seen) {
    assert.ok(!s.includes(SECRET) && !s.includes(SIGNING_KEY), s);
    assert.ok(!s.includes(ADA), s);
  }
  // workerd's own diagnostics (a failed body read) go to the runtime's log too: checked for secrets only.
  const ours = edgeLogLines(k.logs, SIGNING_KEY);
  for (const line of ours) {
    for (const h of issued) assert.ok(!line.includes(h), `a whole handle: ${line}`);
    for (const n of dialled) assert.ok(!line.includes(n) && !line.includes(n.slice(2)), `a whole number: ${line}`);
    assert.doesNotMatch(line, /198\.51\.100\.|203\.0\.113\.|192\.0\.2\./, `an address in clear: ${line}`);
    assert.doesNotMatch(line, /at \w+ \(|\/work\//, `a stack trace: ${line}`);
  }
  assert.ok(ours.some((l) => l.includes('"event":"startup"') && l.includes('"guarantees":"instance"')), "the startup line says per instance");
  assert.ok(ours.some((l) => l.includes("•")), "numbers appear masked");
});

test("a body that stops arriving is answered 400 within its read deadline, and nothing is dialled", async () => {
  const number = "+13175550191";
  const enc = new TextEncoder();
  let stop;
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(enc.encode(`{"phoneNumber":"${number}"`));
      stop = () => controller.close();
    },
  });
  const started = Date.now();
  const r = await mf.dispatchFetch("http://edge.test/v1/calls", {
    method: "POST",
    body,
    duplex: "half",
    headers: { origin: "http://127.0.0.1:8080", "content-type": "application/json", "cf-connecting-ip": ip() },
  });
  const text = await r.text();
  stop();
  assert.equal(r.status, 400, text);
  assert.equal(JSON.parse(text).code, "invalid_input");
  assert.ok(Date.now() - started < 30_000, `answered after ${Date.now() - started} ms`);
  assert.equal(await postsTo(SIM, number), 0);
});
