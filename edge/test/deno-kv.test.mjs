// Issue #16: Deno with DENO_KV — two `deno run` processes of edge/deno.js
// sharing one Deno KV (a SQLite file in a temp dir), requests alternating
// between them, against a private genesys-sim. Admission (idempotency, one
// call per number, the settle window, the rate limits) must hold whichever
// process a request reaches, and across a restart of one. Run by
// scripts/test-edge.sh (which needs deno: it fails when deno is missing).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { printedUrl } from "../../scripts/printed-url.mjs";
import { baseVars, clearFaults, events, fault, postsTo, SECRET, simLog, sleep, startSim, visitor } from "./support.mjs";

const DENO = ".tools/node_modules/.bin/deno";
const KEY = "deno-kv-test-signing-key-0123456789abcdef";
const dir = mkdtempSync(join(tmpdir(), "edge-deno-kv-"));
const running = new Set();
const started = [];
let sim, vars;

// One edge process; `kv`: the DENO_KV file (the same file: the same store).
async function startEdge(kv, overrides = {}) {
  const p = spawn(DENO, ["run", "--unstable-kv", "--allow-net=127.0.0.1", `--allow-read=.,${dir}`, `--allow-write=${dir}`, "--allow-env", "edge/deno.js"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DENO_NO_UPDATE_CHECK: "1", EDGE_PORT: "0", DENO_KV: kv, ...vars, ...overrides },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const edge = { p, output: "", exited: new Promise((r) => p.on("exit", r)) };
  p.stdout.on("data", (d) => (edge.output += d));
  p.stderr.on("data", (d) => (edge.output += d));
  running.add(edge);
  started.push(edge);
  // Deno.serve says where it listens (EDGE_PORT 0: a free port).
  edge.base = await printedUrl(p, p.stderr, "deno edge").catch((e) => { throw new Error(`${e.message}\n${edge.output}`); });
  edge.v = visitor(edge.base);
  return edge;
}

async function stopEdge(edge) {
  edge.p.kill();
  await edge.exited;
  running.delete(edge);
}

let a, b;
before(async () => {
  sim = await startSim(["--time-scale", "0.05", "--rate-limit", "100000"]);
  vars = {
    ...baseVars(sim.url, KEY),
    MAX_CONCURRENT_CALLS_PER_NUMBER: "1",
    // The Support queue and its "Resolved" code: each process's follower wraps its calls up.
    GENESYS_QUEUE_ID: "5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70", WRAPUP_CODE_ID: "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b01",
    WRAPUP_NOTES: "deno-kv-test {conversationId}",
  };
  const kv = join(dir, "shared.sqlite");
  [a, b] = await Promise.all([startEdge(kv), startEdge(kv)]);
});
after(async () => {
  for (const edge of running) await stopEdge(edge);
  if (process.env.EDGE_DEBUG) for (const edge of started) console.log(edge.output);
  sim?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("deno kv: readiness says admission is shared and the gateway is per instance", async () => {
  for (const edge of [a, b]) {
    const r = await edge.v.call("/v1/healthz");
    assert.equal(r.status, 200, r.text);
    const health = r.json();
    assert.equal(health.guarantees, "admission");
    assert.equal(health.clientAddress, "connection");
    assert.equal(health.tracking, "push");
    assert.match(health.warnings.join(" "), /token, request budget and read cache are per instance/);
    assert.match(edge.output, /"event":"startup","guarantees":"admission"/);
  }
});

test("deno kv: one Idempotency-Key on two processes, at once and 100 ms apart: one call, one handle, wrapped up once", async () => {
  const number = "+13175551601";
  const click = (edge) => edge.v.dial(number, { key: "deno-kv-click-1" });
  const [x, y] = await Promise.all([click(a), click(b)]);
  await sleep(100);
  const z = await click(a);
  const w = await click(b);
  for (const r of [x, y, z, w]) assert.equal(r.status, 201, r.text);
  for (const r of [y, z, w]) assert.equal(r.json().handle, x.json().handle);
  assert.equal(await postsTo(sim.url, number), 1);
  // The handle reads on either process (each through its own gateway) to the call's end.
  const e = events((await b.v.call(x.json().eventsUrl)).text);
  assert.deepEqual([e.statuses.at(-1)?.phase, e.statuses.at(-1)?.outcome], ["ended", "completed"]);
  // Wrapped up once: only the process that placed the call follows it.
  const wrapUps = async () => (await simLog(sim.url)).filter((r) => r.method === "PATCH" && r.wrapup?.notes?.startsWith("deno-kv-test"));
  for (let i = 0; i < 50 && (await wrapUps()).length === 0; i++) await sleep(100);
  await sleep(1_000);
  assert.equal((await wrapUps()).length, 1);
  assert.equal(await postsTo(sim.url, number), 1);
});

test("deno kv: 5 concurrent clicks for one number without a key, over both processes, Genesys answering in 300 ms: one call", async () => {
  await clearFaults(sim.url);
  await fault(sim.url, { method: "POST", path: "/api/v2/conversations/calls/user/*", when: "after", delayMs: 300, count: 5 });
  const number = "+13175551602";
  const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => [a, b][i % 2].v.dial(number)));
  await clearFaults(sim.url);
  for (const r of answers) assert.equal(r.status, 201, r.text);
  assert.equal(new Set(answers.map((r) => r.json().handle)).size, 1);
  assert.equal(await postsTo(sim.url, number), 1);
});

test("deno kv: the per-address limit holds across processes (5 per 10 min: 12 alternating requests, 7 refused)", async () => {
  // A pair of their own (a store of their own): the limit is the only one counting this address.
  const kv = join(dir, "limited.sqlite");
  const pair = await Promise.all([startEdge(kv, { RATE_LIMIT_PER_IP: "5/600" }), startEdge(kv, { RATE_LIMIT_PER_IP: "5/600" })]);
  try {
    const statuses = [];
    for (let i = 0; i < 12; i++) {
      const r = await pair[i % 2].v.dial(`+131755516${20 + i}`);
      statuses.push(r.status);
    }
    assert.equal(statuses.filter((s) => s === 201).length, 5, statuses.join(","));
    assert.equal(statuses.filter((s) => s === 429).length, 7, statuses.join(","));
  } finally {
    for (const edge of pair) await stopEdge(edge);
  }
});

test("deno kv: a process restart between two clicks with one key: no second call; a settle window survives it", async () => {
  const number = "+13175551603";
  const first = await a.v.dial(number, { key: "deno-kv-restart" });
  assert.equal(first.status, 201, first.text);
  await clearFaults(sim.url);
  // Genesys dialled, then answered 503: the outcome is unknown.
  await fault(sim.url, { method: "POST", path: "/api/v2/conversations/calls/user/*", when: "after", status: 503 });
  const unknown = await a.v.dial("+13175551604");
  assert.equal(unknown.status, 202, unknown.text);
  await clearFaults(sim.url);
  // Both processes go; the store stays.
  await Promise.all([stopEdge(a), stopEdge(b)]);
  const kv = join(dir, "shared.sqlite");
  [a, b] = await Promise.all([startEdge(kv), startEdge(kv)]);
  for (const edge of [a, b]) {
    const again = await edge.v.dial(number, { key: "deno-kv-restart" });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.json().handle, first.json().handle);
  }
  assert.equal(await postsTo(sim.url, number), 1);
  // The call placed before the restart reads to its end on a process that never placed it.
  const e = events((await b.v.call(first.json().eventsUrl)).text);
  assert.deepEqual([e.statuses.at(-1)?.phase, e.statuses.at(-1)?.outcome], ["ended", "completed"]);
  const retry = await b.v.dial("+13175551604");
  assert.equal(retry.status, 202, retry.text);
  assert.equal(retry.json().handle, unknown.json().handle);
  assert.equal(await postsTo(sim.url, "+13175551604"), 1);
  // Nothing any process printed holds the client secret or the signing key.
  for (const edge of started) assert.ok(!edge.output.includes(SECRET) && !edge.output.includes(KEY));
});

test("deno: a connection reset after the create-call POST sends it once (Deno's fetch would resend it), and the visitor hears it may be ringing", async () => {
  const number = "+13175551605";
  await clearFaults(sim.url);
  // Genesys dialled, then the connection was reset before any answer.
  await fault(sim.url, { method: "POST", path: "/api/v2/conversations/calls/user/*", when: "after", drop: true, count: 1 });
  const first = await a.v.dial(number, { key: "deno-drop-1" });
  await clearFaults(sim.url);
  assert.equal(first.status, 202, first.text);
  assert.equal(first.json().code, "call_may_be_ringing");
  const again = await b.v.dial(number, { key: "deno-drop-2" });
  assert.equal(again.status, 202, again.text);
  assert.equal(again.json().handle, first.json().handle);
  assert.equal(await postsTo(sim.url, number), 1);
});

test("deno kv: DENO_KV without --unstable-kv does not start (no silent fall back to per instance)", async () => {
  const p = spawn(DENO, ["run", "--allow-net=127.0.0.1", `--allow-read=.,${dir}`, `--allow-write=${dir}`, "--allow-env", "edge/deno.js"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DENO_NO_UPDATE_CHECK: "1", EDGE_PORT: "0", DENO_KV: join(dir, "never.sqlite"), ...vars },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  p.stdout.on("data", (d) => (output += d));
  p.stderr.on("data", (d) => (output += d));
  // Refusing to start takes well under a second; one that serves instead is stopped after 15 s (and fails).
  const timer = setTimeout(() => p.kill(), 15_000);
  const code = await new Promise((r) => p.on("exit", r));
  clearTimeout(timer);
  assert.notEqual(code, 0, output);
  assert.match(output, /--unstable-kv/);
  assert.doesNotMatch(output, /Listening/);
});
