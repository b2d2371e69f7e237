// Issue #15.3: a saturated or attacked edge answers every visitor within its
// bound. A private genesys-sim enforces the real per-token limit (60 a
// minute here), so a single 429 would show the edge overspent it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fleetOptions, workerOptions } from "../workerd-options.mjs";
import { baseVars, keeper, simLog, startSim, visitor } from "./support.mjs";

const k = keeper();
let sim;
before(async () => { sim = await startSim(["--time-scale", "0.05", "--rate-limit", "60"]); });
after(async () => { await k.disposeAll(); sim?.stop(); });

const vars = () => ({ ...baseVars(sim.url, "budget-test-signing-key-0123456789abcdef"), CLIENT_ADDRESS_HEADER: "CF-Connecting-IP", GENESYS_REQUESTS_PER_MINUTE: "60" });
const reset = () => fetch(`${sim.url}/__sim/reset`, { method: "POST" });
const timed = async (p) => { const t = performance.now(); const r = await p; return { r, ms: performance.now() - t }; };

// `bound`: the longest any answer may take (the fleet's local Durable Objects
// all share one thread of this machine: its bound is looser; see the README).
async function burst(dialers, bound = 2500) {
  // Warm: the token is fetched (a fresh edge's burst is worker.test's
  // subject); the readiness check's read of the agent takes one slot.
  assert.equal((await dialers[0].call("/v1/healthz")).status, 200);
  const answers = await Promise.all(Array.from({ length: 90 }, (_, i) => timed(dialers[i % dialers.length].dial(`+131755520${String(i).padStart(2, "0")}`, { ip: `198.51.100.${i}` }))));
  const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
  console.log(`answer times: median ${ms[45].toFixed(0)} ms, max ${ms[89].toFixed(0)} ms; 201: ${answers.filter(({ r }) => r.status === 201).map((a) => a.ms.toFixed(0)).slice(0, 5)}…`);
  for (const { r, ms } of answers) {
    assert.ok(ms < bound, `answered in ${ms.toFixed(0)} ms`);
    assert.ok([201, 503].includes(r.status), r.text);
    if (r.status === 503) {
      assert.equal(r.json().code, "busy");
      assert.ok(Number(r.headers.get("retry-after")) >= 1);
    }
  }
  return answers.filter(({ r }) => r.status === 201).length;
}

// What the budget has left for the burst: 60 minus what reached Genesys already.
const left = async () => 60 - (await simLog(sim.url)).filter((e) => e.path.startsWith("/api/")).length;

test("budget: 90 concurrent calls at 60 a minute: 60 placed, the rest 503 busy within 2.5 s, no 429", async () => {
  await reset();
  const mf = k.start(workerOptions(vars(), { host: "127.0.0.1", port: 0 }));
  const url = (await mf.ready).origin;
  const placed = await burst([visitor(url)]);
  // All but the readiness read and the one burst of agent lookups (presence,
  // routing status, station) every call of the burst shares.
  assert.equal(placed, 56, "all but the readiness read and the agent check");
  assert.equal(await left(), 0);
  assert.equal((await simLog(sim.url)).filter((e) => e.status === 429).length, 0);
  await k.stop(mf);
});

test("budget: 400 status reads of one handle cannot delay another visitor's call", async () => {
  await reset();
  const mf = k.start(workerOptions({ ...vars(), RATE_LIMIT_READS_PER_IP: "100000/60" }, { host: "127.0.0.1", port: 0 }));
  const v = visitor((await mf.ready).origin);
  const placed = await v.dial("+13175552100", { ip: "198.51.100.1" });
  assert.equal(placed.status, 201, placed.text);
  // The attacker reads as fast as 40 connections allow, 10 reads each.
  const read = () => timed(v.call(`/v1/calls/${placed.json().handle}`, { headers: { "cf-connecting-ip": "198.51.100.66" } }));
  const reads = Promise.all(Array.from({ length: 40 }, async () => { const out = []; for (let i = 0; i < 10; i++) out.push(await read()); return out; })).then((x) => x.flat());
  await new Promise((r) => setTimeout(r, 50));
  const { r, ms } = await timed(v.dial("+13175552101", { ip: "198.51.100.2" }));
  const readTimes = (await reads).map((x) => x.ms).sort((a, b) => a - b);
  console.log(`the call: ${ms.toFixed(0)} ms; ${readTimes.length} reads: median ${readTimes[200].toFixed(0)} ms, max ${readTimes[399].toFixed(0)} ms`);
  assert.equal(r.status, 201, r.text);
  assert.ok(ms < 2500, `${ms.toFixed(0)} ms`);
  for (const { r: read } of await reads) assert.ok([200, 503].includes(read.status), read.text);
  const log = await simLog(sim.url);
  assert.ok(log.filter((e) => e.method === "GET").length <= 10, "one shared read per interval, not 400");
  assert.equal(log.filter((e) => e.status === 429).length, 0);
  await k.stop(mf);
});

test("budget: the same burst over 3 isolates sharing Durable Objects: still one budget, one token", async () => {
  await reset();
  const mf = k.start(fleetOptions(vars(), { isolates: 3 }));
  await mf.ready;
  const on = [];
  for (let i = 0; i < 3; i++) on.push(visitor(await mf.getWorker(`edge-${i}`)));
  // The agent check's one lookup burst (three reads) and push's channel and
  // subscription (two requests, once) take slots of the same budget before the first POST.
  assert.equal(await burst(on, 30_000), 54);
  assert.equal(await left(), 0);
  // With the objects warm, a spent fleet budget answers busy at once (numbers
  // of their own: a burst number that got through would be replayed).
  const again = await Promise.all(Array.from({ length: 9 }, (_, i) => timed(on[i % 3].dial(`+131755521${String(i).padStart(2, "0")}`, { ip: `198.51.100.${i + 80}` }))));
  for (const { r, ms } of again) {
    assert.equal(r.status, 503, r.text);
    assert.ok(ms < 2500, `${ms.toFixed(0)} ms`);
  }
  const log = await simLog(sim.url);
  assert.equal(log.filter((e) => e.status === 429).length, 0);
  assert.equal(log.filter((e) => e.path === "/oauth/token").length, 1);
  await k.stop(mf);
});
