// Issue #16: the worker as several isolates in one Miniflare, sharing the
// Durable Object namespaces (edge/workerd-options.mjs fleetOptions), requests
// alternating between isolates. Every guarantee must hold whichever isolate a
// request reaches, and across a restart of the objects.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fleetOptions } from "../workerd-options.mjs";
import { baseVars, clearFaults, events, fault, keeper, postsTo, simLog, startSim, visitor } from "./support.mjs";

const SIM = process.env.GENESYS_SIM_URL;
if (!SIM) throw new Error("GENESYS_SIM_URL is not set: run through scripts/test-edge.sh");
const vars = { ...baseVars(SIM, "fleet-test-signing-key-0123456789abcdef"), CLIENT_ADDRESS_HEADER: "CF-Connecting-IP", MAX_CONCURRENT_CALLS_PER_NUMBER: "1" };

const k = keeper();
const persist = mkdtempSync(join(tmpdir(), "edge-fleet-"));
after(async () => {
  await k.disposeAll();
  rmSync(persist, { recursive: true, force: true });
});

// A fleet of `n` isolates; visitors on each.
async function startFleet(overrides = {}, { n = 3, keep } = {}) {
  const mf = k.start(fleetOptions({ ...vars, ...overrides }, { isolates: n, persist: keep }));
  const on = [];
  for (let i = 0; i < n; i++) on.push(visitor(await mf.getWorker(`edge-${i}`)));
  return { mf, on, front: visitor(mf) };
}

let fleet;
before(async () => { fleet = await startFleet(); });

test("fleet: readiness says the guarantees are fleet-wide", async () => {
  for (const v of fleet.on) {
    const r = await v.call("/v1/healthz");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().guarantees, "fleet");
    assert.equal(r.json().clientAddress, "header");
    assert.equal(r.json().warnings, undefined);
  }
});

test("fleet: one Idempotency-Key on two isolates, at once and 100 ms apart: one call, one handle", async () => {
  const [a, b] = fleet.on;
  const number = "+13175551001";
  const click = (v) => v.dial(number, { key: "fleet-click-1", ip: "203.0.113.10" });
  const [x, y] = await Promise.all([click(a), click(b)]);
  await new Promise((r) => setTimeout(r, 100));
  const z = await click(b);
  for (const r of [x, y, z]) assert.equal(r.status, 201, r.text);
  assert.equal(y.json().handle, x.json().handle);
  assert.equal(z.json().handle, x.json().handle);
  assert.equal(await postsTo(SIM, number), 1);
});

test("fleet: 5 concurrent clicks for one number without a key, over the isolates, Genesys answering in 300 ms: one call", async () => {
  await clearFaults(SIM);
  await fault(SIM, { method: "POST", path: "/api/v2/conversations/calls/user/*", when: "after", delayMs: 300, count: 5 });
  const number = "+13175551002";
  const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => fleet.on[i % 3].dial(number, { ip: "203.0.113.11" })));
  await clearFaults(SIM);
  for (const r of answers) assert.equal(r.status, 201, r.text);
  assert.equal(new Set(answers.map((r) => r.json().handle)).size, 1);
  assert.equal(await postsTo(SIM, number), 1);
});

test("fleet: a fault after the POST on isolate A, a new click on isolate B: no second POST; the call is found", async () => {
  const [a, b, c] = fleet.on;
  const number = "+13175551003";
  await clearFaults(SIM);
  await fault(SIM, { method: "POST", path: "/api/v2/conversations/calls/user/*", when: "after", status: 503 });
  const first = await a.dial(number, { key: "fleet-a", ip: "203.0.113.12" });
  assert.equal(first.status, 202, first.text);
  const second = await b.dial(number, { key: "fleet-b", ip: "203.0.113.12" });
  assert.equal(second.status, 202, second.text);
  assert.equal(second.json().handle, first.json().handle);
  const stranger = await c.dial(number, { ip: "203.0.113.99" });
  assert.equal(stranger.status, 409, stranger.text);
  assert.equal(stranger.json().code, "call_may_be_ringing");
  assert.equal(await postsTo(SIM, number), 1);
  // The stream, on a third isolate, resolves to the call.
  const e = events((await c.call(first.json().eventsUrl)).text);
  assert.ok(e.pending);
  assert.deepEqual([e.statuses.at(-1)?.phase, e.statuses.at(-1)?.outcome], ["ended", "completed"]);
  assert.equal(await postsTo(SIM, number), 1);
});

test("fleet: the per-address limits hold across isolates (5 per 10 min: 12 alternating calls, 7 refused; the same for status reads)", async () => {
  const limited = await startFleet({ RATE_LIMIT_PER_IP: "5/600", RATE_LIMIT_READS_PER_IP: "5/600" }, { n: 2 });
  const statuses = [];
  let statusUrl;
  for (let i = 0; i < 12; i++) {
    const r = await limited.on[i % 2].dial(`+131755510${20 + i}`, { ip: "203.0.113.13" });
    statuses.push(r.status);
    if (r.status === 201) statusUrl ??= r.json().statusUrl;
  }
  assert.equal(statuses.filter((s) => s === 201).length, 5, statuses.join(","));
  assert.equal(statuses.filter((s) => s === 429).length, 7, statuses.join(","));
  // Reads count at the address's object too, apart from calls: another
  // address reads one status 12 times, alternating isolates.
  const reads = [];
  for (let i = 0; i < 12; i++) {
    const r = await limited.on[i % 2].call(statusUrl, { headers: { "cf-connecting-ip": "203.0.113.14" } });
    reads.push(r.status);
    if (r.status === 429) {
      assert.equal(r.json().code, "rate_limited");
      assert.ok(Number(r.headers.get("retry-after")) > 0);
    }
  }
  assert.equal(reads.filter((s) => s === 200).length, 5, reads.join(","));
  assert.equal(reads.filter((s) => s === 429).length, 7, reads.join(","));
  await k.stop(limited.mf);
});

test("fleet: 600 status reads and 60 calls over 3 isolates stay inside one budget, with one token and no 429", async () => {
  const sim = await startSim(["--time-scale", "0.05", "--rate-limit", "100"]);
  try {
    const f = await startFleet({ GENESYS_API_BASE: sim.url, GENESYS_REQUESTS_PER_MINUTE: "100", RATE_LIMIT_READS_PER_IP: "10000/60" });
    const calls = await Promise.all(Array.from({ length: 60 }, (_, i) => f.on[i % 3].dial(`+131755511${String(i).padStart(2, "0")}`, { ip: `198.51.100.${i}` })));
    for (const r of calls) assert.equal(r.status, 201, r.text);
    const handles = calls.map((r) => r.json().handle);
    const reads = await Promise.all(Array.from({ length: 600 }, (_, i) => f.on[i % 3].call(`/v1/calls/${handles[i % 60]}`, { headers: { "cf-connecting-ip": "198.51.100.200" } })));
    for (const r of reads) assert.ok([200, 503].includes(r.status), r.text);
    assert.ok(reads.filter((r) => r.status === 200).length >= 10);
    const log = await simLog(sim.url);
    const api = log.filter((e) => e.path.startsWith("/api/"));
    assert.ok(api.length <= 100, `${api.length} requests reached Genesys`);
    assert.equal(log.filter((e) => e.path === "/oauth/token").length, 1, "one token for the fleet");
    assert.equal(log.filter((e) => e.status === 429).length, 0);
    await k.stop(f.mf);
  } finally {
    sim.stop();
  }
});

test("fleet: a Durable Object restart between two clicks with one key: no second call; a settle window survives it", async () => {
  const keep = join(persist, "restart");
  const number = "+13175551201";
  let f = await startFleet({}, { n: 2, keep });
  const first = await f.on[0].dial(number, { key: "restart-key", ip: "203.0.113.14" });
  assert.equal(first.status, 201, first.text);
  await clearFaults(SIM);
  await fault(SIM, { method: "POST", path: "/api/v2/conversations/calls/user/*", when: "after", drop: true });
  const unknown = await f.on[0].dial("+13175551202", { ip: "203.0.113.14" });
  assert.equal(unknown.status, 202, unknown.text);
  await k.stop(f.mf);
  f = await startFleet({}, { n: 2, keep });
  const again = await f.on[1].dial(number, { key: "restart-key", ip: "203.0.113.14" });
  assert.equal(again.status, 201, again.text);
  assert.equal(again.json().handle, first.json().handle);
  assert.equal(await postsTo(SIM, number), 1);
  const retry = await f.on[1].dial("+13175551202", { ip: "203.0.113.14" });
  assert.equal(retry.status, 202, retry.text);
  assert.equal(retry.json().handle, unknown.json().handle);
  assert.equal(await postsTo(SIM, "+13175551202"), 1);
  await k.stop(f.mf);
});

test("fleet: the front worker spreads a visitor's call and its stream over the isolates", async () => {
  const r = await fleet.front.dial("+13175551301", { ip: "203.0.113.15" });
  assert.equal(r.status, 201, r.text);
  const e = events((await fleet.front.call(r.json().eventsUrl)).text);
  assert.equal(e.statuses.at(-1).outcome, "completed");
  // The streamed end frees the number's cap (1 here) for another visitor: the
  // stream tells the number's object 1–2 s after closing, so allow it 4 s.
  let again;
  for (let i = 0; i < 80; i++) {
    again = await fleet.on[i % 3].dial("+13175551301", { ip: "203.0.113.16" });
    if (again.status !== 429) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(again.status, 201, again.text);
  assert.notEqual(again.json().handle, r.json().handle);
});
