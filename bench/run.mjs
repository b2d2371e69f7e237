// make bench: this project beside the official Genesys JS SDK, measured in one
// run on this machine — payload, client flow, concurrency, edge, CPU — printed
// as a table and written to bench/RESULTS.md. Ratios compare figures from the
// same run; medians over repeated runs where a figure is timed.
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, totalmem } from "node:os";
import zlib from "node:zlib";
import { Miniflare } from "miniflare";
import { fleetOptions, workerOptions } from "../edge/workerd-options.mjs";
import { printedUrl } from "../scripts/printed-url.mjs";

const require = createRequire(import.meta.url);
const TOOLS = new URL("../.tools/bench/node_modules/", import.meta.url).pathname;
// Bench-only tools (scripts/bench.sh installs them); BENCH_ONLY=push runs without them.
const SDK_VERSION = process.env.BENCH_ONLY ? "—" : JSON.parse(readFileSync(`${TOOLS}purecloud-platform-client-v2/package.json`)).version;
const autocannon = process.env.BENCH_ONLY ? null : require(`${TOOLS}autocannon`);
const { GenesysClient } = await import("../pkg/node.js");
// Push tracking needs a WebSocket: Node 22+ has one, Node 20 takes the ws package's.
const WS = globalThis.WebSocket ?? require("ws").WebSocket;
const ADA = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";
const CC = { clientCredentials: { clientId: "sim-edge", clientSecret: "sim-edge-secret" } };
const out = [];
const say = (line = "") => { console.log(line); out.push(line); };
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startSim(args) {
  const p = spawn(process.env.GENESYS_SIM_BIN ?? "target/release/genesys-sim", ["--listen", "127.0.0.1:0", "--quiet", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  const url = await printedUrl(p, p.stderr, "genesys-sim");
  return { url, stop: () => p.kill() };
}
const simLog = async (sim) => (await (await fetch(`${sim.url}/__sim/requests`)).json()).requests;
const simReset = (sim) => fetch(`${sim.url}/__sim/reset`, { method: "POST" });
function kinds(log) {
  const k = { token: 0, create: 0, read: 0, other: 0, r429: 0, bytes: 0 };
  for (const e of log) {
    if (e.path === "/oauth/token") k.token++;
    else if (e.method === "POST" && e.path.startsWith("/api/v2/conversations/calls")) k.create++;
    else if (e.method === "GET") k.read++;
    else k.other++;
    if (e.status === 429) k.r429++;
    k.bytes += e.bytes ?? 0;
  }
  return k;
}
const farLeg = (c) => (c.participants ?? []).find((p) => p.purpose === "customer" || p.purpose === "external");

// ---------------------------------------------------------------- 1. payload
function sizes(files) {
  let raw = 0, gzip = 0, brotli = 0;
  for (const f of files) {
    const b = readFileSync(f);
    raw += b.length;
    gzip += Number(execFileSync("sh", ["-c", `gzip -9 -c '${f}' | wc -c`], { encoding: "utf8" }).trim()); // as scripts/size.sh
    brotli += zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;
  }
  return { raw, gzip, brotli };
}

function payload() {
  const ours = sizes(readdirSync("pkg").filter((f) => f.endsWith(".wasm") || f.endsWith(".js")).map((f) => `pkg/${f}`));
  const sdkDir = `${TOOLS}purecloud-platform-client-v2`;
  const browser = sizes([`${sdkDir}/dist/web-cjs/purecloud-platform-client-v2.min.js`]);
  mkdirSync("target/bench", { recursive: true });
  writeFileSync("target/bench/deep-entry.mjs",
    `export { default as ApiClient } from "${sdkDir}/src/purecloud-platform-client-v2/ApiClient.js";\n` +
    `export { default as ConversationsApi } from "${sdkDir}/src/purecloud-platform-client-v2/api/ConversationsApi.js";\n`);
  // Node built-ins sit on server-only paths in the SDK; a browser bundle leaves them out.
  const builtins = ["fs", "os", "path", "util", "http", "https", "http2", "crypto", "url", "stream", "zlib", "tty", "net", "tls", "events",
    "assert", "buffer", "child_process", "querystring", "string_decoder", "process", "dns", "module", "worker_threads"];
  execFileSync("node_modules/.bin/esbuild", ["target/bench/deep-entry.mjs", "--bundle", "--minify", "--format=esm", "--platform=browser",
    ...builtins.flatMap((b) => [`--external:${b}`, `--external:node:${b}`]), "--log-level=error", "--outfile=target/bench/sdk-deep.js"]);
  const deep = sizes(["target/bench/sdk-deep.js"]);
  say("## 1. Browser payload");
  say();
  say("| package | raw | gzip -9 | brotli -11 | gzip vs ours |");
  say("|---|---|---|---|---|");
  say(`| genesys-click-to-call (pkg/: wasm + JS) | ${kb(ours.raw)} | ${kb(ours.gzip)} | ${kb(ours.brotli)} | 1.00× |`);
  say(`| official SDK ${SDK_VERSION}, browser build | ${kb(browser.raw)} | ${kb(browser.gzip)} | ${kb(browser.brotli)} | ${ratio(browser.gzip, ours.gzip)} |`);
  say(`| official SDK, esbuild bundle of ApiClient + ConversationsApi | ${kb(deep.raw)} | ${kb(deep.gzip)} | ${kb(deep.brotli)} | ${ratio(deep.gzip, ours.gzip)} |`);
  say();
}

// ------------------------------------------------------------- 2. client flow
// `push`: track by the Notifications API; otherwise poll (WebSocket: false).
async function oursOnce(sim, number, { push = false } = {}) {
  const gc = new GenesysClient({ apiBase: sim.url, auth: CC, WebSocket: push ? WS : false });
  const t0 = performance.now();
  const { conversationId } = await gc.placeCall({ phoneNumber: number, onBehalfOfUserId: ADA });
  let connectedAt = null;
  const final = await gc.waitForCall(conversationId, { until: "ended", timeoutMs: 600_000,
    onUpdate: (s) => { if (s.phase === "connected" && !connectedAt) connectedAt = Date.now(); } });
  const endedAt = Date.now();
  return { wall: performance.now() - t0, outcome: final.outcome,
    lagConnected: connectedAt - Date.parse(final.customer.connectedTime), lagEnded: endedAt - Date.parse(final.customer.endTime) };
}

function sdkClient(sim) {
  const platformClient = require(`${TOOLS}purecloud-platform-client-v2`);
  const client = platformClient.ApiClient.instance;
  const u = new URL(sim.url);
  client.setGateway({ host: u.hostname, protocol: "http", port: Number(u.port), path_params_login: "", path_params_api: "" });
  return { platformClient, client };
}

// What an SDK user writes: log in, create, then poll every 2 s.
async function sdkOnce(sim, number, { login = true } = {}) {
  const { platformClient, client } = sdkClient(sim);
  const t0 = performance.now();
  if (login) await client.loginClientCredentialsGrant("sim-edge", "sim-edge-secret");
  const api = new platformClient.ConversationsApi();
  const { id } = await api.postConversationsCallsUserUserId(ADA, { phoneNumber: number });
  let connectedAt = null, errors = 0;
  for (;;) {
    await sleep(2000);
    let c;
    try { c = await api.getConversationsCall(id); } catch { errors++; if (errors > 200) throw new Error("gave up"); continue; }
    const far = farLeg(c);
    if (far?.state === "connected" && !connectedAt) connectedAt = Date.now();
    if (far && (far.state === "disconnected" || far.state === "terminated")) {
      return { wall: performance.now() - t0, errors, lagConnected: connectedAt ? connectedAt - Date.parse(far.connectedTime) : NaN,
        lagEnded: Date.now() - Date.parse(far.endTime) };
    }
  }
}

async function clientFlow() {
  const sim = await startSim([]);
  const runs = { ours: [], push: [], sdk: [] };
  const pushOnce = (sim, number) => oursOnce(sim, number, { push: true });
  for (let i = 0; i < 3; i++) {
    for (const [name, fn] of [["ours", oursOnce], ["push", pushOnce], ["sdk", sdkOnce]]) {
      await simReset(sim);
      const r = await fn(sim, "+13175550100");
      runs[name].push({ ...r, ...kinds(await simLog(sim)) });
    }
  }
  sim.stop();
  const row = (label, rs) => {
    const m = (k) => median(rs.map((r) => r[k]));
    return `| ${label} | ${(m("wall") / 1000).toFixed(1)} s | ${m("token")} / ${m("create")} / ${m("read")} | ${kb(m("bytes"))} | ${m("lagConnected")} ms | ${m("lagEnded")} ms |`;
  };
  say("## 2. One call, token → create → connected → ended (`+13175550100`, real-time scale; medians of 3)");
  say();
  say("| client | wall time | requests: token / create / reads | response bytes | detection lag, connected | detection lag, ended |");
  say("|---|---|---|---|---|---|");
  say(row("genesys-click-to-call in Node (default 1 s polls)", runs.ours));
  say(row("genesys-click-to-call in Node, push tracking (Notifications API)", runs.push));
  say(row(`official SDK ${SDK_VERSION} in Node, polling every 2 s`, runs.sdk));
  say();
  say("Detection lag = when the client noticed the change minus the simulator's timestamp for it. Our reads include one");
  say("`GET /api/v2/conversations/{id}` per call only when a far end ends unanswered (busy vs no-answer); here it answered.");
  say();
}

// ------------------------------------------------------------- 3. concurrency
async function concurrency() {
  const sim = await startSim([]); // Genesys' limit: 300 requests per minute per token
  say("## 3. N concurrent calls from one client, 300 requests/min/token (N distinct numbers `+1317555 4000…`: answered after 3 s, 15 s of talk)");
  say();
  say("| client | N | wall time | token requests | reads | 429s | failed waits | median detection lag, ended |");
  say("|---|---|---|---|---|---|---|---|");
  for (const n of [1, 10, 100]) {
    await simReset(sim);
    const gc = new GenesysClient({ apiBase: sim.url, auth: CC, WebSocket: false });
    const t0 = performance.now();
    const lags = [];
    let failed = 0;
    // One number per call: placeCall keeps one call in flight per number (issue #15).
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      try {
        const { conversationId } = await gc.placeCall({ phoneNumber: `+1317555${4000 + i}`, onBehalfOfUserId: ADA });
        const s = await gc.waitForCall(conversationId, { until: "ended", timeoutMs: 600_000 });
        lags.push(Date.now() - Date.parse(s.customer.endTime));
      } catch { failed++; }
    }));
    const k = kinds(await simLog(sim));
    say(`| genesys-click-to-call, polling | ${n} | ${((performance.now() - t0) / 1000).toFixed(1)} s | ${k.token} | ${k.read} | ${k.r429} | ${failed} | ${lags.length ? median(lags) : "—"} ms |`);
  }
  const push = [];
  for (const n of [1, 10, 100]) {
    const r = await pushRun(sim, n);
    push.push(r);
    say(`| genesys-click-to-call, push | ${n} | ${(r.wall / 1000).toFixed(1)} s | ${r.k.token} | ${r.reads} | ${r.k.r429} | ${r.failed} | ${r.ended.length ? median(r.ended) : "—"} ms |`);
  }
  for (const n of [1, 10, 100]) {
    await simReset(sim);
    const { client } = sdkClient(sim);
    const t0 = performance.now();
    await client.loginClientCredentialsGrant("sim-edge", "sim-edge-secret");
    const lags = [];
    let failed = 0;
    await Promise.all(Array.from({ length: n }, async (_, i) => {
      try {
        const r = await sdkOnce(sim, `+1317555${4000 + i}`, { login: false });
        lags.push(r.lagEnded);
      } catch { failed++; }
    }));
    const k = kinds(await simLog(sim));
    say(`| official SDK, 2 s polls | ${n} | ${((performance.now() - t0) / 1000).toFixed(1)} s | ${k.token} | ${k.read} | ${k.r429} | ${failed} | ${lags.length ? median(lags) : "—"} ms |`);
  }
  sim.stop();
  say();
  say("The SDK does not retry 429s; the loop above keeps polling through them (a plain loop would fail).");
  say();
  pushTable(push);
}

// ---------------------------------------------------------- 3b. push tracking
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };

// N concurrent answered calls from one client tracked by push: detection lag
// = onUpdate's receive time in Node − the simulator's leg timestamp (far end
// connected, far end ended); requests from the simulator's log.
async function pushRun(sim, n) {
  await simReset(sim);
  const gc = new GenesysClient({ apiBase: sim.url, auth: CC, WebSocket: WS });
  const connected = [], ended = [], tracking = new Set();
  let failed = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    try {
      const { conversationId } = await gc.placeCall({ phoneNumber: `+1317555${4000 + i}`, onBehalfOfUserId: ADA });
      let sawConnected = false;
      const s = await gc.waitForCall(conversationId, { until: "ended", timeoutMs: 600_000, onUpdate: (u) => {
        const at = Date.now();
        tracking.add(u.tracking);
        if (u.phase === "connected" && !sawConnected) { sawConnected = true; connected.push(at - Date.parse(u.customer.connectedTime)); }
        if (u.phase === "ended") ended.push(at - Date.parse(u.customer.endTime));
      } });
      if (s.outcome !== "completed") failed++;
    } catch { failed++; }
  }));
  const wall = performance.now() - t0;
  const log = await simLog(sim);
  const k = kinds(log);
  // Reads of calls only (the log also holds the socket's `GET /channels/{id}` handshake).
  const reads = log.filter((e) => e.method === "GET" && e.path.startsWith("/api/v2/conversations/")).length;
  const notify = await (await fetch(`${sim.url}/__sim/notifications`)).json();
  return { n, wall, k, reads, failed, connected, ended, channels: notify.channelsCreated, sockets: notify.socketOpens, tracking: [...tracking].join("+") };
}

function pushTable(rows) {
  say("## 3b. Push tracking: N concurrent answered calls from one client (N distinct numbers `+1317555 4000…`, real-time scale)");
  say();
  say("| N | tracking | detection lag connected, p50 / p95 | detection lag ended, p50 / p95 | reads per call | token requests | channels | sockets | 429s | failed |");
  say("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const lag = (xs) => xs.length ? `${pct(xs, 50)} / ${pct(xs, 95)} ms` : "—";
    say(`| ${r.n} | ${r.tracking} | ${lag(r.connected)} | ${lag(r.ended)} | ${(r.reads / r.n).toFixed(2)} | ${r.k.token} | ${r.channels} | ${r.sockets} | ${r.k.r429} | ${r.failed} |`);
  }
  say();
  say("Budgets (issue #11): lag p95 ≤ 50 ms at N = 1, 10, 100; ≤ 2 reads per answered call; 1 token request; 1 channel; 0 × 429.");
  say("Push reads: none for a call placed while the channel is live (its events all arrive on the socket); one reconcile");
  say("after a reconnect, and one `GET /api/v2/conversations/{id}` for the SIP cause when a far end ends unanswered.");
  say();
}

// -------------------------------------------------------------------- 4. edge
async function edge() {
  const sim = await startSim(["--time-scale", "0.01", "--rate-limit", "10000000"]);
  const vars = { GENESYS_API_BASE: sim.url, GENESYS_CLIENT_ID: "sim-edge", GENESYS_CLIENT_SECRET: "sim-edge-secret",
    GENESYS_AGENT_USER_ID: ADA, ALLOWED_ORIGINS: "http://127.0.0.1:8080", ALLOWED_DIAL_PREFIXES: "+1317555",
    HANDLE_SIGNING_KEY: "bench-signing-key-0123456789abcdef0123456789", RATE_LIMIT_PER_IP: "10000000/60",
    RATE_LIMIT_PER_NUMBER: "10000000/60", RATE_LIMIT_READS_PER_IP: "10000000/60", MAX_CONCURRENT_CALLS_PER_NUMBER: "100", GENESYS_REQUESTS_PER_MINUTE: "100000" };
  // The handler logs a line per request; keep the bench's output to its table.
  const quiet = { handleRuntimeStdio: (stdout, stderr) => { stdout.resume(); stderr.resume(); } };
  const targets = [
    ["genesys-click-to-call edge (wasm)", () => workerOptions(vars, { host: "127.0.0.1", port: 0, ...quiet })],
    ["floor: hand-written JS worker", () => ({ modules: true, scriptPath: "bench/floor-worker.js", compatibilityDate: "2026-04-26", bindings: vars, host: "127.0.0.1", port: 0, ...quiet })],
  ];
  const rows = [];
  for (const [name, options] of targets) {
    const cold = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const mf = new Miniflare(options());
      const url = await mf.ready;
      const first = await fetch(new URL("/v1/calls", url), { method: "POST", headers: { "content-type": "application/json" }, body: '{"phoneNumber":"+13175550103"}' });
      await first.text();
      cold.push(performance.now() - t0);
      await mf.dispose();
    }
    const mf = new Miniflare(options());
    const url = (await mf.ready).origin;
    // The status read is of an answered call (an unanswered one costs our edge a second Genesys read for its SIP cause).
    const placed = await (await fetch(`${url}/v1/calls`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"phoneNumber":"+13175550100"}' })).json();
    await sleep(200);
    const load = (opts) => autocannon({ connections: 10, duration: 8, ...opts });
    // A different number per request, so per-number limits and the concurrency cap do not answer instead.
    const post = await load({ url: `${url}/v1/calls`, method: "POST", headers: { "content-type": "application/json" },
      requests: [{ setupRequest: (req) => ({ ...req, body: JSON.stringify({ phoneNumber: `+1317555${String(Math.floor(Math.random() * 10000)).padStart(4, "0")}` }) }) }] });
    const read = await load({ url: `${url}/v1/calls/${placed.handle}` });
    await mf.dispose();
    rows.push({ name, cold: median(cold), post, read });
  }
  sim.stop();
  const [ours, floor] = rows;
  say("## 4. Edge handler in workerd (Miniflare) on loopback, against genesys-sim");
  say();
  say("| worker | cold start → first POST answered (median of 5) | POST /v1/calls req/s | p50 / p99 | GET status req/s | p50 / p99 | non-2xx |");
  say("|---|---|---|---|---|---|---|");
  for (const r of rows) {
    say(`| ${r.name} | ${r.cold.toFixed(0)} ms | ${r.post.requests.average.toFixed(0)} | ${r.post.latency.p50} / ${r.post.latency.p99} ms | ${r.read.requests.average.toFixed(0)} | ${r.read.latency.p50} / ${r.read.latency.p99} ms | ${r.post.non2xx + r.read.non2xx} |`);
  }
  say(`| ratio (ours / floor) | ${ratio(ours.cold, floor.cold)} | ${ratio(ours.post.requests.average, floor.post.requests.average)} | | ${ratio(ours.read.requests.average, floor.read.requests.average)} | | |`);
  say();
  say("10 connections, 8 s per route (autocannon); each POST dials a different number of the simulator's range.");
  say("Cold start includes starting workerd itself, the same for both;");
  say("the difference is the wasm module's compile and instantiation. The floor does no validation, policy, limits,");
  say("signing or CORS, and returns Genesys' raw body. Both rows run one isolate without Durable Objects");
  say("(the edge's per-instance mode); the next table adds the coordinator.");
  say();
  await coordinator(vars);
  await edgePush(vars);
}

// Issue #11 at the edge: N visitors each follow their own call over SSE,
// through 3 isolates sharing the Durable Objects (the gateway object holds
// the one Notifications channel and socket) beside one isolate without them
// (polling). Detection lag = when the visitor's SSE event arrived minus the
// simulator's leg timestamp for it (connectedTime / endTime). Real-time scale.
async function edgePush(vars) {
  const quiet = { handleRuntimeStdio: (stdout, stderr) => { stdout.resume(); stderr.resume(); } };
  const shapes = [
    ["3 isolates + Durable Objects", (v) => ({ ...fleetOptions(v, { isolates: 3, front: { host: "127.0.0.1", port: 0 } }), ...quiet })],
    ["1 isolate, no Durable Objects", (v) => workerOptions(v, { host: "127.0.0.1", port: 0, ...quiet })],
  ];
  const rows = [];
  for (const [name, options] of shapes) {
    for (const n of [1, 10, 100]) {
      const sim = await startSim(["--rate-limit", "10000000"]);
      const v = { ...vars, GENESYS_API_BASE: sim.url, CLIENT_ADDRESS_HEADER: "CF-Connecting-IP", POLL_INTERVAL_MS: "1000" };
      const mf = new Miniflare(options(v));
      const url = (await mf.ready).origin;
      await (await fetch(`${url}/v1/healthz`)).text(); // the token, before measuring
      const connected = [], ended = [], tracking = new Set();
      let failed = 0;
      await Promise.all(Array.from({ length: n }, async (_, i) => {
        const headers = { "content-type": "application/json", "cf-connecting-ip": `10.77.${i >> 8}.${i & 255}` };
        try {
          const placed = await (await fetch(`${url}/v1/calls`, { method: "POST", headers, body: JSON.stringify({ phoneNumber: `+1317555${3000 + i}` }) })).json();
          const r = await fetch(`${url}${placed.eventsUrl}`, { headers });
          const reader = r.body.getReader();
          const decoder = new TextDecoder();
          let buf = "", sawConnected = false, outcome;
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            const at = Date.now();
            buf += decoder.decode(value, { stream: true });
            const blocks = buf.split("\n\n");
            buf = blocks.pop();
            for (const b of blocks) {
              const data = b.split("\n").find((l) => l.startsWith("data: "))?.slice(6);
              if (!b.includes("event: status") || !data) continue;
              const st = JSON.parse(data);
              tracking.add(st.tracking);
              if (st.phase === "connected" && !sawConnected && st.customer?.connectedTime) { sawConnected = true; connected.push(at - Date.parse(st.customer.connectedTime)); }
              if (st.phase === "ended" && st.customer?.endTime) { ended.push(at - Date.parse(st.customer.endTime)); outcome = st.outcome; }
            }
          }
          if (outcome !== "completed") failed++;
        } catch { failed++; }
      }));
      const log = await simLog(sim);
      const reads = log.filter((e) => e.method === "GET" && e.path.startsWith("/api/v2/conversations/")).length;
      const notify = await (await fetch(`${sim.url}/__sim/notifications`)).json();
      await mf.dispose();
      sim.stop();
      rows.push({ name, n, connected, ended, reads, failed, channels: notify.channelsCreated, sockets: notify.socketOpens, tracking: [...tracking].join("+"), r429: log.filter((e) => e.status === 429).length });
    }
  }
  const lag = (xs) => xs.length ? `${pct(xs, 50)} / ${pct(xs, 95)} ms` : "—";
  say("## 4c. Edge call tracking over SSE: push (gateway object) beside polling, workerd via Miniflare, real-time scale");
  say();
  say("| shape | N | tracking | lag connected, p50 / p95 | lag ended, p50 / p95 | reads per call | channels | sockets | 429s | failed |");
  say("|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) say(`| ${r.name} | ${r.n} | ${r.tracking} | ${lag(r.connected)} | ${lag(r.ended)} | ${(r.reads / r.n).toFixed(2)} | ${r.channels} | ${r.sockets} | ${r.r429} | ${r.failed} |`);
  say();
  say("N visitors, each placing one answered call and following it over SSE (`+1317555 3000…`). Lag = the SSE event's");
  say("arrival minus the simulator's leg timestamp (ms resolution). Polling rows use POLL_INTERVAL_MS=1000.");
  say();
}

// Issue #16: calls admitted through the Durable Objects (one per number, one
// per client address, one per OAuth client), with 1 and 3 isolates, beside
// the same edge without them. Every call is a new number and a new address,
// so every call also creates two objects: the worst case.
async function coordinator(vars) {
  const sim = await startSim(["--time-scale", "0.01", "--rate-limit", "10000000"]);
  const v = { ...vars, GENESYS_API_BASE: sim.url, CLIENT_ADDRESS_HEADER: "CF-Connecting-IP" };
  const quiet = { handleRuntimeStdio: (stdout, stderr) => { stdout.resume(); stderr.resume(); } };
  const shapes = [
    ["1 isolate, no Durable Objects (per instance)", () => workerOptions(v, { host: "127.0.0.1", port: 0, ...quiet })],
    ["1 isolate + Durable Objects", () => ({ ...fleetOptions(v, { isolates: 1, front: { host: "127.0.0.1", port: 0 } }), ...quiet })],
    ["3 isolates + Durable Objects", () => ({ ...fleetOptions(v, { isolates: 3, front: { host: "127.0.0.1", port: 0 } }), ...quiet })],
  ];
  const rows = [];
  let n = 0;
  for (const [name, options] of shapes) {
    const mf = new Miniflare(options());
    const url = (await mf.ready).origin;
    await (await fetch(`${url}/v1/healthz`)).text(); // the token, before measuring
    const r = await autocannon({ connections: 10, duration: 8, url: `${url}/v1/calls`, method: "POST",
      requests: [{ setupRequest: (req) => { n++; return { ...req, headers: { "content-type": "application/json", "cf-connecting-ip": `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` }, body: JSON.stringify({ phoneNumber: `+1317555${String(n % 10000).padStart(4, "0")}` }) }; } }] });
    // Status reads of one call: in the fleet every read asks the gateway object (its cache answers).
    const placed = await (await fetch(`${url}/v1/calls`, { method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": "10.200.0.1" }, body: '{"phoneNumber":"+13175550104"}' })).json();
    const reads = await autocannon({ connections: 10, duration: 5, url: `${url}/v1/calls/${placed.handle}`, headers: { "cf-connecting-ip": "10.200.0.2" } });
    // One call at a time: the latency a visitor sees without queueing.
    const lat = [];
    for (let i = 0; i < 30; i++) {
      n++;
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/calls`, { method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": `10.99.${(n >> 8) & 255}.${n & 255}` }, body: JSON.stringify({ phoneNumber: `+1317555${String(n % 10000).padStart(4, "0")}` }) });
      await res.text();
      lat.push(performance.now() - t0);
    }
    await mf.dispose();
    rows.push({ name, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, single: median(lat), reads: reads.requests.average, readsNon2xx: reads.non2xx });
  }
  sim.stop();
  const base = rows[0].single;
  say("## 4b. Calls admitted through the coordinator (Durable Objects), workerd via Miniflare");
  say();
  say("| shape | POST /v1/calls admitted per second | p50 / p99 under load | one call alone (median of 30) | added per call | GET status per second (one call) |");
  say("|---|---|---|---|---|---|");
  for (const r of rows) say(`| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50} / ${r.p99} ms | ${r.single.toFixed(1)} ms | ${r === rows[0] ? "—" : `+${(r.single - base).toFixed(1)} ms`} | ${r.reads.toFixed(0)} |`);
  say();
  say("10 connections, 8 s (autocannon); every call a new number and address, so each also creates its number's and");
  say("its address's objects (the worst case). A call makes 4 object round trips (address, number, gateway, settle).");
  say("Locally all objects share one workerd thread with the isolates; on Cloudflare each object runs on its own.");
  say(`Non-2xx answers (busy, limits): ${rows.map((r) => r.non2xx + r.readsNon2xx).join(" / ")}. With the objects, every status read`);
  say("asks the one gateway object (its shared cache answers): that column is the gateway object's read ceiling here.");
  say();
}

// --------------------------------------------------------------------- 5. CPU
function cpu() {
  const table = execFileSync("cargo", ["bench", "--quiet", "--bench", "status"], { encoding: "utf8" }).trim();
  say("## 5. CPU inside the module (native build of the same code, `cargo bench --bench status`, medians of 9 rounds)");
  say();
  for (const line of table.split("\n")) say(line);
  say();
  // The edge's dial policy (libphonenumber's numbering plans): budget 50 µs per number.
  const policy = execFileSync("cargo", ["bench", "--quiet", "--bench", "policy"], { encoding: "utf8" }).trim();
  for (const line of policy.split("\n")) say(line);
  say();
}

// ------------------------------------------------------------ 6. JSON in wasm
// The browser package decodes Genesys' answers with JSON.parse +
// serde-wasm-bindgen; the alternative is serde_json on the response text. Both
// are built here (feature wasm-serde-json) and compared on size and on the time
// getCall spends turning one 1,187-byte CallConversation into a JS status.
async function jsonInWasm() {
  const OPT = ["-Oz", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext", "--enable-mutable-globals",
    "--enable-multivalue", "--enable-reference-types", "--strip-debug", "--strip-producers", "--strip-target-features"];
  const variant = (features, dir) => {
    execFileSync("cargo", ["build", "--quiet", "--release", "--target", "wasm32-unknown-unknown", "--lib", "--target-dir", `target/bench-${dir}`,
      ...(features ? ["--features", features] : [])], { stdio: "inherit" });
    const out = `target/bench/${dir}`;
    execFileSync("wasm-bindgen", ["--target", "web", "--out-dir", out, `target/bench-${dir}/wasm32-unknown-unknown/release/genesys_click_to_call.wasm`]);
    execFileSync("node_modules/.bin/wasm-opt", [...OPT, `${out}/genesys_click_to_call_bg.wasm`, "-o", `${out}/genesys_click_to_call_bg.wasm`]);
    writeFileSync(`${out}/package.json`, '{ "type": "module" }\n');
    return out;
  };
  const rows = [];
  for (const [label, features] of [["JSON.parse + serde-wasm-bindgen (shipped)", ""], ["serde_json on the text", "wasm-serde-json"]]) {
    const sizeDir = variant(features, features ? "sj-size" : "js-size");
    const size = sizes([`${sizeDir}/genesys_click_to_call_bg.wasm`]);
    const speedDir = variant([features, "bench-exports"].filter(Boolean).join(","), features ? "sj-speed" : "js-speed");
    const mod = await import(new URL(`../${speedDir}/genesys_click_to_call.js`, import.meta.url));
    mod.initSync({ module: readFileSync(`${speedDir}/genesys_click_to_call_bg.wasm`) });
    const text = readFileSync("benches/snapshot.json", "utf8");
    if (!mod.benchStatus(text, 1)) throw new Error("benchStatus could not read the snapshot");
    const n = 5000;
    const times = [];
    for (let i = 0; i < 7; i++) { const t0 = performance.now(); mod.benchStatus(text, n); times.push(performance.now() - t0); }
    rows.push({ label, size, us: (median(times) * 1000) / n });
  }
  const [js, sj] = rows;
  say("## 6. JSON in wasm: how the browser package decodes Genesys' answers");
  say();
  say("| decoder | wasm gzip -9 | µs per CallConversation → JS status (Node, median of 7 × 5,000) |");
  say("|---|---|---|");
  for (const r of rows) say(`| ${r.label} | ${kb(r.size.gzip)} | ${r.us.toFixed(1)} |`);
  say(`| ratio (serde_json / shipped) | ${ratio(sj.size.gzip, js.size.gzip)} | ${ratio(sj.us, js.us)} |`);
  say();
  say("The shipped decoder leaves serde_json's parser and writer out of the browser wasm; the edge keeps serde_json.");
  say();
}

const started = new Date();
const rustc = execFileSync("rustc", ["--version"], { encoding: "utf8" }).trim();
say("# Benchmarks: genesys-click-to-call beside the official Genesys JS SDK");
say();
say(`Measured ${started.toISOString()} with \`make bench\` on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB;`);
say(`${rustc}, node ${process.version}, official SDK purecloud-platform-client-v2 ${SDK_VERSION}, workerd via miniflare, genesys-sim.`);
say("The machine is shared and noisy: compare ratios within this run, not absolute figures across runs.");
say();
// BENCH_ONLY=push node bench/run.mjs: only the push rows (written to target/bench/push.md).
if (process.env.BENCH_ONLY === "push") {
  const sim = await startSim([]);
  const rows = [];
  for (const n of [1, 10, 100]) rows.push(await pushRun(sim, n));
  sim.stop();
  pushTable(rows);
  mkdirSync("target/bench", { recursive: true });
  writeFileSync("target/bench/push.md", out.join("\n") + "\n");
  process.exit(0);
}
// `node bench/run.mjs edge` runs the edge section alone (no RESULTS.md);
// `BENCH_ONLY=1 node bench/run.mjs edge-push` only its SSE tracking rows.
const only = process.argv[2];
if (!only || only === "payload") payload();
if (!only || only === "client") await clientFlow();
if (!only || only === "concurrency") await concurrency();
if (!only || only === "edge") await edge();
if (only === "edge-push") await edgePush({ GENESYS_CLIENT_ID: "sim-edge", GENESYS_CLIENT_SECRET: "sim-edge-secret", GENESYS_AGENT_USER_ID: ADA,
  ALLOWED_ORIGINS: "http://127.0.0.1:8080", ALLOWED_DIAL_PREFIXES: "+1317555", HANDLE_SIGNING_KEY: "bench-signing-key-0123456789abcdef0123456789",
  RATE_LIMIT_PER_IP: "10000000/60", RATE_LIMIT_PER_NUMBER: "10000000/60", RATE_LIMIT_READS_PER_IP: "10000000/60", MAX_CONCURRENT_CALLS_PER_NUMBER: "100", GENESYS_REQUESTS_PER_MINUTE: "100000" });
if (!only || only === "cpu") cpu();
if (!only || only === "json") await jsonInWasm();
say(`Total bench time: ${((Date.now() - started) / 60000).toFixed(1)} min.`);
if (!only) {
  writeFileSync("bench/RESULTS.md", out.join("\n") + "\n");
  console.log("\nwritten to bench/RESULTS.md");
}
process.exit(0);
