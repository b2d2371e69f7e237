// A bounded soak of the edge in workerd (issue #15.10): SOAK_SECONDS (default
// 150) of 200 concurrent SSE watchers, each placing a call, following its
// stream to `end`, then placing the next (a steady stream of calls), against
// a genesys-sim at real time. Every watcher must get `end`, and a chunk (an
// event or a heartbeat) at least every 15 s; workerd's memory is printed
// before and after and must stay flat. Run by scripts/test-edge.sh with its
// own simulator (EDGE_SOAK=0 skips it).
//
// Memory: the edge logs its wasm memory and the JS values it holds every 250
// requests ({"event":"memory"}); those must stay flat (no leak of the edge's
// state). workerd's resident size is printed: it climbs while V8 sizes its
// heap for 200 streams, then levels off (a 240 s run: 108 → 310 MB by 150 s,
// flat after), and the same traffic in plain JS (SOAK_CONTROL=
// edge/soak/control-worker.js) climbs too, less far.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { workerOptions } from "../workerd-options.mjs";
import { baseVars, keeper } from "../test/support.mjs";

const SIM = process.env.GENESYS_SIM_URL;
if (!SIM) throw new Error("GENESYS_SIM_URL is not set: run through scripts/test-edge.sh");
const SECONDS = Number(process.env.SOAK_SECONDS ?? 150);
const WATCHERS = Number(process.env.SOAK_WATCHERS ?? 200);
const MAX_GAP_MS = 15_000;

const k = keeper();
after(() => k.disposeAll());

// Resident memory of the workerd processes this test started (KiB).
function workerdRss() {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== process.pid || !stat.includes("(workerd)")) continue;
      total += Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]);
    } catch {}
  }
  return total;
}

// Reads one event stream to its end; returns its chunk arrival times and what it saw.
async function watch(base, eventsUrl, ip) {
  const res = await fetch(new URL(eventsUrl, base), { headers: { "cf-connecting-ip": ip } });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  const times = [performance.now()];
  let text = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    times.push(performance.now());
    text += decoder.decode(value, { stream: true });
  }
  times.push(performance.now());
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  if (!text.includes("event: end") && !watch.shown) { watch.shown = true; console.log(`soak: a stream without end: ${text.slice(0, 600)}`); }
  return { ended: text.includes("event: end"), heartbeats: text.split(": heartbeat").length - 1, gap, error: text.includes("event: error") };
}

test(`soak: ${WATCHERS} watchers for ${SECONDS} s — every stream ends, a chunk every 15 s, memory flat`, async () => {
  const vars = {
    ...baseVars(SIM, "soak-test-signing-key-0123456789abcdef0123"),
    ALLOWED_DIAL_PREFIXES: "+1317555",
    CLIENT_ADDRESS_HEADER: "CF-Connecting-IP",
    GENESYS_REQUESTS_PER_MINUTE: "100000",
    POLL_INTERVAL_MS: "1000",
  };
  const mf = k.start(process.env.SOAK_CONTROL
    ? { modules: true, scriptPath: process.env.SOAK_CONTROL, compatibilityDate: "2026-04-26", bindings: vars, host: "127.0.0.1", port: 0 }
    : workerOptions(vars, { host: "127.0.0.1", port: 0 }));
  const base = (await mf.ready).origin;
  let next = 0;
  const stats = { calls: 0, ended: 0, failed: 0, maxGap: 0, heartbeats: 0, refused: 0 };
  const one = async (slot) => {
    // Numbers the simulator treats as "any other": answered after 3 s, hung up 15 s later.
    const number = `+1317555${String(2000 + (next++ % 8000)).padStart(4, "0")}`;
    const ip = `10.${slot >> 8}.${slot & 255}.${next & 255}`;
    const r = await fetch(`${base}/v1/calls`, { method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": ip }, body: JSON.stringify({ phoneNumber: number }) });
    const body = await r.json();
    if (r.status !== 201) { if (!stats.refused++) console.log(`soak: first refusal ${r.status} ${JSON.stringify(body)}`); return; }
    stats.calls++;
    const w = await watch(base, body.eventsUrl, ip);
    if (w.ended) stats.ended++;
    else stats.failed++;
    stats.maxGap = Math.max(stats.maxGap, w.gap);
    stats.heartbeats += w.heartbeats;
  };
  // Warm up (and let the first calls' memory settle) before measuring.
  await Promise.all(Array.from({ length: 20 }, (_, i) => one(i)));
  const start = workerdRss();
  const until = performance.now() + SECONDS * 1000;
  // Steady state: a third of the way in, every watcher is busy.
  let before = 0;
  const mid = setTimeout(() => { before = workerdRss(); }, (SECONDS * 1000) / 3);
  const series = [];
  const sampler = setInterval(() => series.push(Math.round(workerdRss() / 1024)), 10_000);
  try {
    await Promise.all(Array.from({ length: WATCHERS }, async (_, slot) => {
      // Staggered, so calls start and end all the time.
      await new Promise((r) => setTimeout(r, (slot * 1000 * 18) / WATCHERS));
      while (performance.now() < until) await one(slot);
    }));
  } finally {
    const odd = k.logs.filter((l) => !l.startsWith("{") && !l.startsWith("stack"));
    console.log(k.logs.filter((l) => l.includes('"event":"memory"')).join("\n"));
    if (odd.length) console.log(`soak: ${odd.length} runtime log lines, e.g.\n${odd.slice(0, 6).join("\n").slice(0, 3000)}`);
  }
  const afterRss = workerdRss();
  clearTimeout(mid);
  // Then quiet: what the runtime gives back once the load is gone.
  await new Promise((r) => setTimeout(r, 30_000));
  const rested = workerdRss();
  clearInterval(sampler);
  console.log(`soak: resident memory every 10 s (MB): ${series.join(" ")}`);
  console.log(`soak: ${stats.calls} calls watched to the end by ${WATCHERS} concurrent watchers over ${SECONDS} s; ${stats.heartbeats} heartbeats; longest gap between chunks ${(stats.maxGap / 1000).toFixed(1)} s`);
  console.log(`soak: workerd resident memory ${(start / 1024).toFixed(0)} MB after warm-up, ${(before / 1024).toFixed(0)} MB at a third of the soak (all watchers busy), ${(afterRss / 1024).toFixed(0)} MB at the end, ${(rested / 1024).toFixed(0)} MB after 30 s of quiet`);
  assert.ok(!k.logs.some((l) => l.includes('"event":"panic"')), "no panic");
  assert.ok(!k.logs.some((l) => /hung|different request context/.test(l)), "no request hung or crossed contexts");
  assert.equal(stats.failed, 0, "every watcher got `end`");
  assert.equal(stats.refused, 0);
  assert.ok(stats.calls >= WATCHERS * Math.floor(SECONDS / 25), `${stats.calls} calls`);
  assert.ok(stats.heartbeats > 0, "quiet stretches were filled with heartbeats");
  assert.ok(stats.maxGap <= MAX_GAP_MS, `a ${(stats.maxGap / 1000).toFixed(1)} s gap`);
  // Flat: the edge's own state — the wasm's linear memory and the JS values
  // it holds — is what it was once every watcher was busy. (workerd's
  // resident size climbs to a plateau as V8 sizes its heap for the load, and
  // is not given back at once; it is printed, and bounded loosely.)
  const samples = k.logs.filter((l) => l.includes('"event":"memory"')).map((l) => JSON.parse(l));
  const busy = samples.filter((x) => x.requests >= WATCHERS * 2);
  assert.ok(busy.length >= 2, `${samples.length} memory samples`);
  const [first, last] = [busy[0], busy.at(-1)];
  console.log(`soak: wasm memory ${(first.wasmBytes / 2 ** 20).toFixed(1)} → ${(last.wasmBytes / 2 ** 20).toFixed(1)} MB, JS values held ${first.jsValues} → ${last.jsValues}`);
  // The wasm's linear memory never shrinks, and the gateway keeps each call's
  // last status (bounded: 10,000 entries, 5 min idle) so ended handles stay
  // off Genesys: within a 150 s soak it grows by about 1 KB per call placed
  // (measured: 2.6 → 4.5 MB over 1,581 calls), then levels. A leak of the
  // streams' state would cost far more per call than this bound.
  const perCall = (last.wasmBytes - first.wasmBytes) / Math.max(stats.calls, 1);
  console.log(`soak: wasm memory grew ${(perCall / 1024).toFixed(2)} KB per call`);
  assert.ok(perCall <= 4096 && last.wasmBytes <= 32 * 2 ** 20, "the wasm memory grows only with the bounded status cache");
  assert.ok(last.jsValues <= Math.max(first.jsValues * 1.5, WATCHERS * 10), "the JS values held stay flat");
  assert.ok(afterRss < 512 * 1024, "workerd stays well inside its memory");
});
