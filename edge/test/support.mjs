// Shared by the edge suites (not a test file itself): a private genesys-sim
// when a suite needs its own limits, and workers whose log lines are kept.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { Miniflare } from "miniflare";
import { printedUrl } from "../../scripts/printed-url.mjs";

export const ORIGIN = "http://127.0.0.1:8080";
export const SECRET = "sim-edge-secret";
export const ADA = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";
export const CREATE = "/api/v2/conversations/calls/user/";

export const baseVars = (sim, signingKey) => ({
  GENESYS_API_BASE: sim,
  GENESYS_CLIENT_ID: "sim-edge",
  GENESYS_CLIENT_SECRET: SECRET,
  GENESYS_AGENT_USER_ID: ADA,
  ALLOWED_ORIGINS: ORIGIN,
  ALLOWED_DIAL_PREFIXES: "+",
  HANDLE_SIGNING_KEY: signingKey,
  RATE_LIMIT_PER_IP: "1000/60",
  RATE_LIMIT_PER_NUMBER: "100/60",
  MAX_CONCURRENT_CALLS_PER_NUMBER: "100",
  GENESYS_REQUESTS_PER_MINUTE: "20000",
  POLL_INTERVAL_MS: "25",
});

// A genesys-sim of our own (the shared one allows 100000 requests a minute).
export async function startSim(args = []) {
  const p = spawn("target/debug/genesys-sim", ["--listen", "127.0.0.1:0", "--quiet", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  const url = await printedUrl(p, p.stderr, "genesys-sim");
  return { url, stop: () => p.kill() };
}

export const simLog = async (sim) => (await (await fetch(`${sim}/__sim/requests`)).json()).requests;
export const fault = (sim, spec) => fetch(`${sim}/__sim/faults`, { method: "POST", body: JSON.stringify(spec) });
// Faults left over by an earlier test (a request that never reached Genesys) must not leak into the next.
export const clearFaults = (sim) => fetch(`${sim}/__sim/faults`, { method: "DELETE" });
export const postsTo = async (sim, number) => (await simLog(sim)).filter((e) => e.method === "POST" && e.phoneNumber === number).length;

// Every line workerd printed (its own diagnostics, such as a failed body read,
// included) is checked for the client secret, `signingKey` and any sign of a
// panic or hang; returns the edge's own log lines, each checked to be JSON.
export function edgeLogLines(logs, signingKey) {
  for (const line of logs) {
    assert.ok(!line.includes(SECRET) && !line.includes(signingKey), line);
    assert.doesNotMatch(line, /"event":"panic"|hung|different request context/, line);
  }
  const ours = logs.filter((l) => l.startsWith("{"));
  for (const line of ours) JSON.parse(line);
  return ours;
}

// Miniflare instances whose workerd output (the edge's log lines) is kept in `logs`.
export function keeper() {
  const logs = [];
  const instances = [];
  const capture = (stream) => {
    let rest = "";
    stream.on("data", (d) => {
      const lines = (rest + d).split("\n");
      rest = lines.pop();
      logs.push(...lines.filter(Boolean));
    });
  };
  const stdio = { handleRuntimeStdio: (stdout, stderr) => { capture(stdout); capture(stderr); } };
  return {
    logs,
    start(options) {
      const mf = new Miniflare({ ...options, ...stdio });
      instances.push(mf);
      return mf;
    },
    async stop(mf) {
      instances.splice(instances.indexOf(mf), 1);
      await mf.dispose();
    },
    async disposeAll() {
      for (const mf of instances.splice(0)) await mf.dispose();
    },
  };
}

// A visitor's request through `on`: a Miniflare, a worker from getWorker, or
// the base URL of one listening on a port (plain fetch, own connections).
export function visitor(on, seen) {
  // A Miniflare instance, or one of its workers (getWorker).
  const send = on instanceof Miniflare ? (u, i) => on.dispatchFetch(u, i) : typeof on === "string" ? (u, i) => fetch(new URL(new URL(u).pathname, on), i) : (u, i) => on.fetch(u, i);
  const call = async (path, { method = "GET", body, headers = {}, origin = ORIGIN } = {}) => {
    const h = { ...headers };
    if (origin) h.origin = origin;
    const r = await send(`http://edge.test${path}`, { method, body, headers: h });
    const text = await r.text();
    seen?.push(`${r.status} ${[...r.headers].map((p) => p.join(": ")).join("\n")} ${text}`);
    return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) };
  };
  const dial = (phoneNumber, { key, ip, headers = {}, ...opts } = {}) =>
    call("/v1/calls", {
      ...opts,
      method: "POST",
      body: JSON.stringify({ phoneNumber }),
      headers: { "content-type": "application/json", ...(key ? { "idempotency-key": key } : {}), ...(ip ? { "cf-connecting-ip": ip } : {}), ...headers },
    });
  return { call, dial };
}

// The fields of one SSE event block ("id", "event", "data", "retry").
export function sseFields(block) {
  const f = {};
  for (const line of block.split("\n")) {
    const i = line.indexOf(": ");
    if (i > 0) f[line.slice(0, i)] ??= line.slice(i + 2);
  }
  return f;
}

// The statuses of an SSE body (with the ids they carried), and whether it said "may be ringing" first.
export function events(text) {
  const parts = text.split("\n\n").map(sseFields);
  const of = (name) => parts.filter((e) => e.event === name);
  return {
    statuses: of("status").map((e) => JSON.parse(e.data)),
    ids: of("status").map((e) => e.id),
    pending: of("pending").length > 0,
    error: of("error").map((e) => JSON.parse(e.data).code)[0],
    ended: of("end").length > 0,
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
