// A property/fuzz suite over the edge's request handling in workerd, over raw
// HTTP/1.1 (so framing is ours to break): methods, paths, headers, bodies and
// framing from a fixed seed, 1,200 cases. For every answer: no 5xx but the
// documented ones, every error JSON with a `code` and a correlation id,
// `nosniff` on every answer of ours, and no secret, signing key, whole number
// or whole handle in any answer or log line.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { workerOptions } from "../workerd-options.mjs";
import { SECRET, baseVars, edgeLogLines, keeper, sleep, visitor } from "./support.mjs";

const SIM = process.env.GENESYS_SIM_URL;
if (!SIM) throw new Error("GENESYS_SIM_URL is not set: run through scripts/test-edge.sh");
const SIGNING_KEY = "fuzz-test-signing-key-0123456789abcdef01234";
const CASES = Number(process.env.FUZZ_CASES ?? 1200);
const SEED = 15;
// 5xx answers the README documents (and their codes).
const DOCUMENTED_5XX = new Set(["502 server_error", "503 busy", "503 not_ready"]);

const k = keeper();
let port;
const minted = []; // valid handles, made before the fuzzing starts
const numbers = new Set(); // every number a case sent
const addresses = new Set();

before(async () => {
  const vars = {
    ...baseVars(SIM, SIGNING_KEY),
    ALLOWED_DIAL_PREFIXES: "+1317555",
    CLIENT_ADDRESS_HEADER: "CF-Connecting-IP",
    RATE_LIMIT_PER_IP: "30/600",
    RATE_LIMIT_PER_NUMBER: "5/600",
    MAX_CONCURRENT_CALLS_PER_NUMBER: "3",
  };
  const mf = k.start(workerOptions(vars, { host: "127.0.0.1", port: 0 }));
  port = Number(new URL(await mf.ready).port);
  const v = visitor(mf);
  for (const n of ["+13175550104", "+13175558100", "+13175550103"]) {
    numbers.add(n);
    const r = await v.dial(n, { ip: "198.18.0.1" });
    assert.equal(r.status, 201, r.text);
    minted.push(r.json().handle);
  }
});
after(() => k.disposeAll());

// mulberry32: small, seedable, good enough to spread cases.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(seed) {
  const r = rng(seed);
  const int = (n) => Math.floor(r() * n);
  const pick = (xs) => xs[int(xs.length)];
  const chance = (p) => r() < p;
  const str = (n, alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~") => Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join("");
  const number = () => {
    const n = pick([
      () => `+1317555${String(int(10000)).padStart(4, "0")}`,
      () => `+1317555${String(int(10000)).padStart(4, "0")}`,
      () => `+1317555${String(int(10000)).padStart(4, "0")}`,
      () => `+1317555${String(int(10000)).padStart(4, "0")}`,
      () => `+1${int(9) + 1}${str(9, "0123456789")}`,
      () => `+44${str(10, "0123456789")}`,
      () => `+1900555${str(4, "0123456789")}`,
      () => `+88${str(10, "0123456789")}`,
      () => `+${str(16, "0123456789")}`,
      () => `tel:+1317555${str(4, "0123456789")}`,
      () => `+1 (317) 555-${str(4, "0123456789")}`,
    ])();
    numbers.add(n);
    const digits = n.replace(/\D/g, "");
    if (digits.length >= 7) numbers.add(`+${digits}`);
    return n;
  };
  const mutate = (h) => {
    const i = int(h.length);
    return pick([
      () => h.slice(0, i) + pick(["A", "-", "_", ".", "%2e"]) + h.slice(i + 1),
      () => h.slice(0, i),
      () => h + str(int(10) + 1),
      () => h.split(".").reverse().join("."),
      () => h.replace(".", ""),
    ])();
  };
  const json = (depth = 0) => {
    if (depth > 4) return pick([null, 1, "x", true]);
    return pick([
      () => ({ phoneNumber: number() }),
      () => ({ phoneNumber: number(), turnstileToken: str(int(40)) }),
      () => ({ phoneNumber: number(), [str(int(5000) + 1)]: 1 }),
      () => ({ phoneNumber: int(1e10) }),
      () => ({ phoneNumber: [number()] }),
      () => ({ phoneNumber: { value: number() } }),
      () => ({ onBehalfOfUserId: "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a02", phoneNumber: number() }),
      () => [json(depth + 1)],
      () => ({ [str(8)]: json(depth + 1) }),
      () => str(int(50)),
      () => null,
      () => int(100),
    ])();
  };
  const body = () =>
    pick([
      () => JSON.stringify(json()),
      () => JSON.stringify(json()),
      () => JSON.stringify({ phoneNumber: number() }),
      () => JSON.stringify({ phoneNumber: number() }),
      () => JSON.stringify({ phoneNumber: number() }),
      () => "[".repeat(int(3000)) + "]".repeat(int(3000)),
      () => '{"phoneNumber":"' + "\\u00".repeat(int(20)) + '"}',
      () => "\ufeff" + JSON.stringify({ phoneNumber: number() }),
      () => '{"phoneNumber":"+13175550100","phoneNumber":"+13175550101"}',
      () => str(int(6000), "{}[]\":,0123456789abc \\\n"),
      () => Buffer.from(Array.from({ length: int(200) }, () => int(256))),
      () => JSON.stringify({ phoneNumber: number(), pad: "x".repeat(4000 + int(2000)) }),
      () => "",
    ])();
  const path = () =>
    pick([
      () => "/v1/calls",
      () => "/v1/calls/",
      () => "/v1/healthz",
      () => `/v1/calls/${pick(minted)}`,
      () => `/v1/calls/${mutate(pick(minted))}`,
      () => `/v1/calls/${mutate(pick(minted))}/events`,
      () => `/v1/calls/${str(int(60))}.${str(22)}`,
      () => `/v1/calls/${str(int(60))}.${str(22)}/events`,
      () => "/v1/calls/" + "A".repeat(int(8000)),
      () => "/../../etc/passwd",
      () => "/v1/calls/%2e%2e%2f%2e%2e%2fapi%2fv2%2fusers%2fme",
      () => "/v1/%00/calls",
      () => `/v1/calls/${encodeURIComponent(number())}`,
      () => `/${encodeURIComponent(number())}`,
      () => "//v1//calls",
      () => `/v1/calls?phoneNumber=${encodeURIComponent(number())}&x=${str(int(100))}`,
      () => "/api/v2/conversations/calls",
      () => `/${encodeURIComponent("é☎" + str(int(20)))}`,
      // Not "*": workerd's own server fails to parse the asterisk form and
      // answers 500 before any worker code runs (Cloudflare's front end never
      // forwards one), so it says nothing about the edge.
    ])();
  const method = () => pick(["GET", "GET", "POST", "POST", "POST", "DELETE", "OPTIONS", "PUT", "PATCH", "HEAD", "TRACE", "FOO", "get", "P0ST", "M".repeat(int(300) + 1)]);
  const headers = (m) => {
    const h = [];
    if (chance(0.9)) h.push(["Content-Type", chance(0.6) ? "application/json" : pick(["application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", "multipart/form-data; boundary=x", "application/json;;;", "", "x".repeat(int(5000))])]);
    if (chance(0.3)) h.push(["Origin", chance(0.5) ? "http://127.0.0.1:8080" : pick(["https://evil.example", "null", "http://127.0.0.1:8080/", "x".repeat(int(3000))])]);
    if (chance(0.5)) h.push(["Idempotency-Key", pick([str(int(40) + 1), "", str(200), number(), "ключ", "a b"])]);
    if (chance(0.7)) {
      const a = pick([`198.18.${int(4)}.${int(250)}`, `2001:db8:${int(99)}::${int(99)}`, "unknown", "1.2.3.4, 5.6.7.8", str(int(100))]);
      addresses.add(a);
      h.push(["CF-Connecting-IP", a]);
    }
    if (chance(0.1)) h.push(["X-" + str(int(20) + 1), str(int(2000))]);
    if (chance(0.05)) for (let i = 0; i < 60; i++) h.push([`X-Many-${i}`, str(10)]);
    if (chance(0.05)) h.push(["Expect", "100-continue"]);
    return h;
  };
  return () => {
    // Weighted so that most cases reach the handler's deeper layers.
    const kind = r();
    const m = kind < 0.45 ? "POST" : kind < 0.7 ? pick(["GET", "GET", "DELETE", "OPTIONS"]) : method();
    const p = kind < 0.4 ? "/v1/calls" : kind < 0.7 ? pick([() => `/v1/calls/${pick(minted)}`, () => `/v1/calls/${mutate(pick(minted))}`, () => `/v1/calls/${mutate(pick(minted))}/events`, path])() : path();
    const h = headers(m);
    const b = ["POST", "PUT", "PATCH", "P0ST"].includes(m) || chance(0.1) ? body() : "";
    const bytes = Buffer.isBuffer(b) ? b : Buffer.from(b);
    const framing = chance(0.6) ? "length" : pick(["chunked", "bad-chunk", "short", "long-halfclose", "none", "both"]);
    return { m, p, h, bytes, framing };
  };
}

// One request over its own connection; resolves to the raw answer ("" if none).
function send({ m, p, h, bytes, framing }) {
  const lines = [`${m} ${p} HTTP/1.1`, "Host: edge.test", "Connection: close", ...h.map(([k, v]) => `${k}: ${v}`)];
  let payload = bytes;
  let halfClose = false;
  switch (framing) {
    case "length": lines.push(`Content-Length: ${bytes.length}`); break;
    case "chunked": lines.push("Transfer-Encoding: chunked"); payload = Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from("\r\n0\r\n\r\n")]); break;
    case "bad-chunk": lines.push("Transfer-Encoding: chunked"); payload = Buffer.concat([Buffer.from("zz\r\n"), bytes, Buffer.from("\r\n0\r\n\r\n")]); break;
    case "short": lines.push(`Content-Length: ${Math.max(0, bytes.length - 3)}`); break;
    case "long-halfclose": lines.push(`Content-Length: ${bytes.length + 50}`); halfClose = true; break;
    case "both": lines.push(`Content-Length: ${bytes.length}`, "Transfer-Encoding: chunked"); break;
    default: payload = Buffer.alloc(0);
  }
  return new Promise((resolve) => {
    const chunks = [];
    const s = net.connect(port, "127.0.0.1", () => {
      s.write(Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n"), payload]));
      if (halfClose) s.end();
    });
    const done = () => { clearTimeout(timer); s.destroy(); resolve(Buffer.concat(chunks).toString("latin1")); };
    const timer = setTimeout(done, 4000);
    // Done as soon as one whole answer is in (the runtime may keep the connection open).
    const complete = (raw) => {
      const end = raw.indexOf("\r\n\r\n");
      if (end < 0) return false;
      const head = raw.slice(0, end).toLowerCase();
      if (m === "HEAD" || / (204|304) /.test(head.split("\r\n")[0])) return true;
      const cl = head.match(/\r\ncontent-length: *(\d+)/);
      if (cl) return raw.length - end - 4 >= Number(cl[1]);
      if (/\r\ntransfer-encoding: *chunked/.test(head)) return raw.endsWith("\r\n0\r\n\r\n");
      return false;
    };
    s.on("data", (d) => { chunks.push(d); if (complete(Buffer.concat(chunks).toString("latin1"))) done(); });
    s.on("close", done);
    s.on("error", done);
  });
}

function parse(raw) {
  const end = raw.indexOf("\r\n\r\n");
  if (!raw.startsWith("HTTP/1.1 ") || end < 0) return null;
  const [statusLine, ...headerLines] = raw.slice(0, end).split("\r\n");
  const headers = new Map(headerLines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  let body = raw.slice(end + 4);
  if (headers.get("transfer-encoding") === "chunked") {
    let out = "";
    for (;;) {
      const nl = body.indexOf("\r\n");
      const size = parseInt(body.slice(0, nl), 16);
      if (!size) break;
      out += body.slice(nl + 2, nl + 2 + size);
      body = body.slice(nl + 4 + size);
    }
    body = out;
  } else if (headers.has("content-length")) {
    // A second answer may follow on the connection (a short Content-Length left bytes behind).
    body = body.slice(0, Number(headers.get("content-length")));
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body: Buffer.from(body, "latin1").toString("utf8") };
}

test(`fuzz: ${CASES} requests from seed ${SEED} — no undocumented 5xx, JSON errors with a code, nothing leaked`, async () => {
  const next = generator(SEED);
  const cases = Array.from({ length: CASES }, next);
  const tally = new Map();
  let i = 0;
  const worker = async () => {
    while (i < cases.length) {
      const c = cases[i++];
      const t0 = performance.now();
      const raw = await send(c);
      const took = performance.now() - t0;
      if (took > 3000) tally.set(`slow ${c.framing} ${c.m.slice(0, 8)}`, (tally.get(`slow ${c.framing} ${c.m.slice(0, 8)}`) ?? 0) + 1);
      const r = parse(raw);
      const what = `${c.m.slice(0, 20)} ${c.p.slice(0, 80)} (${c.framing})`;
      // kj's HTTP server closes on some garbage without answering: not a 5xx, and nothing of ours.
      if (!r) { tally.set("no answer", (tally.get("no answer") ?? 0) + 1); continue; }
      tally.set(r.status, (tally.get(r.status) ?? 0) + 1);
      const ours = r.headers.has("x-correlation-id");
      let code;
      if (ours) {
        assert.equal(r.headers.get("x-content-type-options"), "nosniff", what);
        if ((r.status >= 400 || r.status === 202) && c.m !== "HEAD") {
          const b = JSON.parse(r.body);
          code = b.code;
          assert.ok(typeof b.code === "string" && b.correlationId, `${what}: ${r.body}`);
        }
      }
      if (ours) {
        if (r.status >= 500) assert.ok(DOCUMENTED_5XX.has(`${r.status} ${code}`), `${what}: ${r.status} ${r.body}`);
      } else {
        // The runtime's HTTP layer answered before the worker ran (workerd's
        // kj-http: a malformed request 400, headers too large 431, an unknown
        // method token 501 — Cloudflare's edge answers those itself too).
        assert.ok([400, 413, 431, 501].includes(r.status), `${what}: the runtime answered ${r.status} ${r.body}`);
        if (r.status === 501) assert.ok(!/^(GET|POST|PUT|DELETE|PATCH|OPTIONS|HEAD)$/.test(c.m), what);
        tally.set(`runtime ${r.status}`, (tally.get(`runtime ${r.status}`) ?? 0) + 1);
      }
      const text = raw.toString();
      assert.ok(!text.includes(SECRET) && !text.includes(SIGNING_KEY), what);
      for (const h of minted) assert.ok(!text.includes(h), `${what}: a handle in the answer`);
      assert.doesNotMatch(text, /at \w+ \(|\/work\/|file:\/\//, `${what}: a stack or a path`);
      // (The example in invalid_input messages is the one number an answer names.)
      const shown = r.body.replace(/such as (\{\\"phoneNumber\\":\\")?\+13175550100/g, "");
      for (const n of numbers) if (n.length >= 8) assert.ok(!shown.includes(n), `${what}: a number echoed: ${r.body}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: 12 }, worker));
  } finally {
    console.log("answers by status:", JSON.stringify(Object.fromEntries(tally)));
  }
  assert.ok((tally.get(201) ?? 0) > 0 && (tally.get(400) ?? 0) > 50 && (tally.get(404) ?? 0) > 50, "the cases reach every layer");
  await sleep(200);
  const ours = edgeLogLines(k.logs, SIGNING_KEY);
  assert.ok(ours.length > CASES / 2, `${ours.length} log lines`);
  for (const line of ours) {
    for (const h of minted) assert.ok(!line.includes(h), `a whole handle: ${line}`);
    for (const n of numbers) {
      const digits = n.replace(/\D/g, "");
      if (digits.length >= 8) assert.ok(!line.includes(n) && !line.includes(digits), `a whole number: ${line}`);
    }
    for (const a of addresses) if (/\d+\.\d+\.\d+\.\d+|::/.test(a)) assert.ok(!line.includes(a), `an address in clear: ${line}`);
  }
});
