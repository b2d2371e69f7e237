// Issue #11 at the edge, in workerd: the per-OAuth-client Durable Object
// (GenesysGateway) holds ONE Notifications channel and socket and answers
// every SSE watcher of every call from it. Each test has its own
// genesys-sim, so the channel and socket counts are this test's alone.
// Without the Durable Object binding the isolate polls (a socket cannot
// outlive the request that opened it there) and writes the same frames; a
// restart of the object is survived by a reconnecting EventSource.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fleetOptions, workerOptions } from "../workerd-options.mjs";
import { baseVars, events, keeper, simLog, startSim, visitor } from "./support.mjs";

const k = keeper();
const persist = mkdtempSync(join(tmpdir(), "edge-push-"));
after(async () => {
  await k.disposeAll();
  rmSync(persist, { recursive: true, force: true });
});

const vars = (sim) => ({ ...baseVars(sim, "push-test-signing-key-0123456789abcdef"), CLIENT_ADDRESS_HEADER: "CF-Connecting-IP" });
const notifications = async (sim) => (await fetch(`${sim}/__sim/notifications`)).json();
const callReads = (log) => log.filter((e) => e.method === "GET" && e.path.startsWith("/api/v2/conversations/calls/"));
// Reads per conversation (a call's status, or its SIP cause).
function readsPerCall(log) {
  const n = new Map();
  for (const e of log) {
    const m = e.method === "GET" && e.path.match(/^\/api\/v2\/conversations\/(?:calls\/)?([0-9a-f-]{36})$/);
    if (m) n.set(m[1], (n.get(m[1]) ?? 0) + 1);
  }
  return n;
}

async function withSim(use) {
  const sim = await startSim(["--time-scale", "0.05", "--rate-limit", "100000"]);
  try {
    return await use(sim.url);
  } finally {
    sim.stop();
  }
}

// Reads an SSE response until `stop(events)` holds or the stream ends; the
// reader is cancelled either way (a visitor closing the tab).
async function readUntil(response, stop) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (stop(events(text))) break;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text;
}

test("push: 100 SSE watchers on 100 calls over 3 isolates share one channel and one socket, with no call polled", async () => {
  await withSim(async (sim) => {
    const f = k.start(fleetOptions(vars(sim), { isolates: 3 }));
    const on = [];
    for (let i = 0; i < 3; i++) on.push(visitor(await f.getWorker(`edge-${i}`)));
    const health = (await on[0].call("/v1/healthz")).json();
    assert.equal(health.tracking, "push");
    const calls = await Promise.all(Array.from({ length: 100 }, (_, i) => on[i % 3].dial(`+131755520${String(i).padStart(2, "0")}`, { ip: `198.51.100.${i + 1}` })));
    for (const r of calls) assert.equal(r.status, 201, r.text);
    const streams = await Promise.all(calls.map((r, i) => on[(i + 1) % 3].call(r.json().eventsUrl, { headers: { "cf-connecting-ip": `198.51.100.${i + 1}` } })));
    for (const s of streams) {
      const e = events(s.text);
      const last = e.statuses.at(-1);
      assert.deepEqual([last?.phase, last?.outcome, last?.tracking], ["ended", "completed", "push"], s.text);
      assert.ok(e.ended, s.text);
      assert.equal(new Set(e.ids).size, e.ids.length, `no status written twice: ${s.text}`);
    }
    const n = await notifications(sim);
    assert.equal(n.channelsCreated, 1, JSON.stringify(n));
    assert.equal(n.socketOpens, 1, JSON.stringify(n));
    const log = await simLog(sim);
    // A call placed while the channel is live is read never; one placed while
    // it was coming up (the placement waits at most 5 s) is reconciled once.
    for (const [id, reads] of readsPerCall(log)) assert.ok(reads <= 2, `${id}: ${reads} reads`);
    assert.ok(callReads(log).length <= 10, `${callReads(log).length} call reads: polling?`);
    console.log(`push: ${callReads(log).length} reconcile reads for 100 calls`);
    assert.equal(log.filter((e) => e.path === "/oauth/token").length, 1);
    await k.stop(f);
  });
});

test("push: without the Durable Object binding the isolate polls and writes the same frames", async () => {
  await withSim(async (sim) => {
    const w = k.start(workerOptions(vars(sim)));
    const v = visitor(w);
    assert.equal((await v.call("/v1/healthz")).json().tracking, "poll");
    const r = await v.dial("+13175552101", { ip: "198.51.100.150" });
    assert.equal(r.status, 201, r.text);
    const s = await v.call(r.json().eventsUrl, { headers: { "cf-connecting-ip": "198.51.100.150" } });
    const e = events(s.text);
    assert.deepEqual([e.statuses.at(-1).phase, e.statuses.at(-1).outcome, e.statuses.at(-1).tracking], ["ended", "completed", "poll"]);
    assert.ok(e.ended && e.ids.every(Boolean), s.text);
    assert.equal((await notifications(sim)).channelsCreated, 0);
    assert.ok(callReads(await simLog(sim)).length >= 1);
    await k.stop(w);
  });
});

test("push: a restart of the Durable Object is survived: the EventSource reconnects with Last-Event-ID and gets the end", async () => {
  await withSim(async (sim) => {
    const keep = join(persist, "restart");
    const ip = { "cf-connecting-ip": "198.51.100.160" };
    let f = k.start(fleetOptions(vars(sim), { isolates: 2, persist: keep }));
    let v = visitor(await f.getWorker("edge-0"));
    const r = await v.dial("+13175550104", { ip: "198.51.100.160" }); // answered, stays connected
    assert.equal(r.status, 201, r.text);
    const { eventsUrl, statusUrl } = r.json();
    const first = await f.dispatchFetch(`http://edge.test${eventsUrl}`, { headers: { origin: "http://127.0.0.1:8080", ...ip } });
    const seen = events(await readUntil(first, (e) => e.statuses.at(-1)?.phase === "connected"));
    assert.equal(seen.statuses.at(-1)?.tracking, "push");
    const lastId = seen.ids.at(-1);
    assert.ok(lastId);
    // A deploy: the objects restart (their socket goes with them).
    await k.stop(f);
    f = k.start(fleetOptions(vars(sim), { isolates: 2, persist: keep }));
    v = visitor(await f.getWorker("edge-1"));
    const hangUp = await v.call(statusUrl, { method: "DELETE", headers: ip });
    assert.ok(hangUp.status < 300, hangUp.text);
    const again = await v.call(eventsUrl, { headers: { ...ip, "last-event-id": lastId } });
    const rest = events(again.text);
    const last = rest.statuses.at(-1);
    assert.deepEqual([last?.phase, last?.outcome, last?.tracking], ["ended", "completed", "push"], again.text);
    assert.ok(rest.ended);
    assert.ok(!rest.ids.includes(lastId), "nothing already seen is written again");
    const n = await notifications(sim);
    assert.ok(n.channelsCreated >= 1 && n.channelsCreated <= 2, JSON.stringify(n));
    await k.stop(f);
  });
});
