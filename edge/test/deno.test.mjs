// Smoke test: the same edge module under Deno (edge/deno.js), over real HTTP,
// against a live genesys-sim. Run by scripts/test-edge.sh.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { events } from "./support.mjs";

const SIM = process.env.GENESYS_SIM_URL;
if (!SIM) throw new Error("GENESYS_SIM_URL is not set: run through scripts/test-edge.sh");
const ORIGIN = "http://127.0.0.1:8080";
let deno, base;

const freePort = () => new Promise((resolve) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

before(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  deno = spawn(".tools/node_modules/.bin/deno", ["run", "--allow-net=127.0.0.1", "--allow-read=.", "--allow-env", "edge/deno.js"], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, DENO_NO_UPDATE_CHECK: "1",
      EDGE_PORT: String(port), GENESYS_API_BASE: SIM, GENESYS_CLIENT_ID: "sim-edge", GENESYS_CLIENT_SECRET: "sim-edge-secret",
      GENESYS_AGENT_USER_ID: "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01", ALLOWED_ORIGINS: ORIGIN, ALLOWED_DIAL_PREFIXES: "+1317555",
      HANDLE_SIGNING_KEY: "deno-test-signing-key-0123456789abcdef0123", GENESYS_REQUESTS_PER_MINUTE: "20000", POLL_INTERVAL_MS: "25",
      RATE_LIMIT_PER_IP: "3/600",
      // The Support queue and its "Resolved" code: the isolate's follower wraps calls up.
      GENESYS_QUEUE_ID: "5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70", WRAPUP_CODE_ID: "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b01",
      WRAPUP_NOTES: "deno-test {conversationId}",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  deno.stdout.on("data", (d) => (output += d));
  deno.stderr.on("data", (d) => (output += d));
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${base}/v1/healthz`)).ok) return; } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`deno edge did not start:\n${output}`);
});
after(() => deno?.kill());

test("deno: a call streams to completed, pushed by the module-level hub; policy and CORS hold", async () => {
  // Its own number: the workerd suite runs at the same time against the same simulator.
  const r = await fetch(`${base}/v1/calls`, { method: "POST", headers: { origin: ORIGIN, "content-type": "application/json" }, body: '{"phoneNumber":"+13175550142"}' });
  assert.equal(r.status, 201);
  const { eventsUrl } = await r.json();
  const sse = await (await fetch(base + eventsUrl, { headers: { origin: ORIGIN } })).text();
  const last = events(sse).statuses.at(-1);
  assert.deepEqual([last.phase, last.outcome, last.tracking], ["ended", "completed", "push"]);
  // Wrapped up once by the isolate's follower (Deno: no Durable Objects).
  const wrapUps = async () => (await (await fetch(`${SIM}/__sim/requests`)).json()).requests.filter((e) => e.method === "PATCH" && e.wrapup?.notes?.startsWith("deno-test"));
  for (let i = 0; i < 50 && (await wrapUps()).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1_000));
  assert.equal((await wrapUps()).length, 1);
  const premium = await fetch(`${base}/v1/calls`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"phoneNumber":"+19005550100"}' });
  assert.equal(premium.status, 403);
  const foreign = await fetch(`${base}/v1/calls`, { method: "POST", headers: { origin: "https://evil.example", "content-type": "application/json" }, body: '{"phoneNumber":"+13175550100"}' });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.headers.get("x-content-type-options"), "nosniff");
});

test("deno: per-instance guarantees are said out loud; the connection's address counts", async () => {
  const health = await (await fetch(`${base}/v1/healthz`)).json();
  assert.equal(health.ok, true);
  assert.equal(health.guarantees, "instance");
  assert.equal(health.clientAddress, "connection");
  assert.equal(health.tracking, "push", "Deno's WebSocket outlives a request: one hub per instance");
  assert.match(health.warnings.join(" "), /per instance/);
  // RATE_LIMIT_PER_IP is 3 per window here, and the first test used 2 (a call and a refused
  // premium number); a forged CF-Connecting-IP does not reset it.
  const statuses = [];
  for (let i = 0; i < 4; i++) {
    const r = await fetch(`${base}/v1/calls`, { method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": `192.0.2.${i}` }, body: `{"phoneNumber":"+1317555015${i}"}` });
    statuses.push(r.status);
    await r.text();
  }
  assert.deepEqual(statuses, [201, 429, 429, 429]);
});
