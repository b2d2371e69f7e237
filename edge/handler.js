// Shared by every runtime entry (worker.js, deno.js): a Request in, a Response
// out. Every decision — routing, validation, dial policy, admission, limits,
// CORS — is made by the Rust EdgeHandler; this file only translates.
import { EdgeHandler } from "../pkg-edge/genesys_click_to_call.js";
import { drive } from "./drive.js";

let handler; // one per isolate
let gatewayObject; // the gateway is a Durable Object (which follows calls itself)
let addressHeader; // the trusted client-address header, when configured
const encoder = new TextEncoder();

function randomHex(bytes) {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// How the Rust side reaches the Durable Objects (when any is bound; Rust
// checks that all three are): a fresh stub per command, made in the request
// that sends it, so no I/O object is shared between requests.
function coordinator(env) {
  const namespaces = { number: env.CALL_NUMBERS, address: env.CLIENT_ADDRESSES, gateway: env.GENESYS_GATEWAY };
  if (!namespaces.number && !namespaces.address && !namespaces.gateway) return undefined;
  return async (kind, name, body) => {
    const ns = namespaces[kind];
    const r = await ns.get(ns.idFromName(name)).fetch(`https://coordinator/${kind}`, { method: "POST", body });
    if (!r.ok) throw new Error(`coordinator answered ${r.status}`);
    return r.text();
  };
}

// Past the limit a body is read and dropped up to this much (so the client,
// still sending, gets the 413 instead of a reset connection), then cut off.
const DRAIN_LIMIT = 1 << 20;

// A body not finished within this is a bad body (a client that stops
// sending must not hold a request, and its isolate's memory, open).
const BODY_READ_MS = 10_000;

// Keeps at most `limit` + 1 bytes, so a huge body is never buffered whole.
// Throws when the body cannot be read (bad framing, a connection closed
// early, or not finished within BODY_READ_MS).
async function readCapped(request, limit) {
  if (!request.body) return "";
  const reader = request.body.getReader();
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => {
      reader.cancel().catch(() => {});
      reject(new Error("body read timed out"));
    }, BODY_READ_MS);
  });
  try {
    return await Promise.race([readAll(reader, limit), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function readAll(reader, limit) {
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      // Drained up to DRAIN_LIMIT, then cut off; Rust sees a body over its limit (413).
      while (size <= DRAIN_LIMIT) {
        const next = await reader.read().catch(() => ({ done: true }));
        if (next.done) break;
        size += next.value.byteLength;
      }
      if (size > DRAIN_LIMIT) await reader.cancel().catch(() => {});
      return " ".repeat(limit + 1);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) { bytes.set(c, offset); offset += c.byteLength; }
  return new TextDecoder().decode(bytes);
}

// Server-Sent Events: each pull asks Rust for the next chunk (a status
// change, or a heartbeat); a pending call's stream turns into its call's.
// A reconnecting EventSource sends the last `id:` it saw (the cursor) as
// Last-Event-ID: the stream resumes after it (Rust compares cursors only, so
// any text is harmless; it is capped anyway). When the call's end closes the
// stream, Rust may ask for one more step in the background (`after`: telling
// the number's coordinator, a round trip the visitor's `end` does not wait
// for); `ctx.waitUntil` keeps it going once the visitor has gone.
function events(out, lastEventId, ctx) {
  let stream = out.stream;
  let cursor = (lastEventId ?? "").slice(0, 64);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(encoder.encode(out.body));
    },
    async pull(controller) {
      for (;;) {
        const next = await drive(handler.nextEvent(stream, cursor));
        stream = next.stream;
        cursor = next.cursor;
        // Started before the stream is touched: a visitor who has gone (the
        // stream cancelled, so enqueue and close throw) must not keep the
        // number's coordinator from hearing that the call ended.
        const after = next.done && next.after ? drive(handler.nextEvent(next.stream, next.cursor)).catch(() => {}) : undefined;
        if (after) ctx?.waitUntil(after);
        try {
          if (next.chunk) controller.enqueue(encoder.encode(next.chunk));
          if (next.done) controller.close();
        } catch {
          // The visitor went away; nothing more to send.
          return after;
        }
        if (next.done) return after;
        if (next.chunk) return;
      }
    },
  });
}

let served = 0;

// The wrap-up follower, wherever the gateway lives in this isolate (Deno,
// with or without Deno KV; workerd without Durable Objects): one loop per
// isolate, started by a request that may have placed a call, running passes
// when the last one said. In workerd it lives in that request's waitUntil (so
// at most ~30 s after the response). With the Durable Objects bound it does
// not run: the gateway object's alarm follows calls to their end instead.
let following;
function follow(ctx) {
  if (following) return;
  following = (async () => {
    try {
      for (;;) {
        const out = await drive(handler.followUp());
        if (out.log) console.log(out.log);
        if (out.nextWake === undefined) return;
        await new Promise((r) => setTimeout(r, Math.max(0, Math.min(out.nextWake - Date.now(), 60_000))));
      }
    } catch {
      // A pass failed outright: the next request starts another loop.
    } finally {
      following = undefined;
    }
  })();
  ctx?.waitUntil(following);
}

// `connection`: the connection's remote address where the runtime knows it
// (Deno). `ctx`: the Workers execution context, whose waitUntil keeps a call
// being placed going (and its outcome recorded) if the visitor goes away.
// `desks`: `(kind, name, body) → Promise<string>` for the number and address
// desks only, kept in a shared store (Deno KV, edge/deno-kv.js); the gateway
// then stays in this isolate.
export async function handle(request, env, connection, ctx, desks) {
  try {
    if (!handler) {
      const coordinate = desks ?? coordinator(env);
      gatewayObject = coordinate !== undefined && desks === undefined;
      handler = new EdgeHandler(env, randomHex(16), coordinate, desks !== undefined);
    }
    addressHeader ??= handler.addressHeader() ?? "";
    const url = new URL(request.url);
    const h = request.headers;
    let body = "";
    let bodyError = false;
    if (request.method === "POST") {
      try {
        body = await readCapped(request, EdgeHandler.bodyLimit());
      } catch {
        bodyError = true;
      }
    }
    // Every 250 requests, one line with the wasm memory and the JS values it
    // holds (a figure that keeps rising under a steady load is a leak).
    if (++served % 250 === 0) console.log(JSON.stringify({ event: "memory", requests: served, wasmBytes: EdgeHandler.memoryBytes(), jsValues: EdgeHandler.liveJsValues() }));
    const answer = drive(handler.handle({
      method: request.method,
      path: url.pathname,
      origin: h.get("origin") ?? undefined,
      addressHeader: addressHeader ? h.get(addressHeader) ?? undefined : undefined,
      connection,
      contentType: h.get("content-type") ?? undefined,
      idempotencyKey: h.get("idempotency-key") ?? undefined,
      body,
      bodyError,
    }));
    if (request.method === "POST") ctx?.waitUntil(answer.catch(() => {}));
    const out = await answer;
    console.log(out.log);
    if (request.method === "POST" && out.status === 201 && !gatewayObject) follow(ctx);
    const headers = new Headers(out.headers);
    if (!out.stream) return new Response(out.status === 204 ? null : out.body, { status: out.status, headers });
    return new Response(events(out, h.get("last-event-id"), ctx), { status: out.status, headers });
  } catch (e) {
    // A bug here, never the visitor's doing: still JSON with a code and a
    // correlation id, and a log line (the error's name only, no stack).
    const correlationId = randomHex(8);
    console.log(JSON.stringify({ correlationId, status: 500, code: "internal_error", detail: String(e?.name ?? "error") }));
    return new Response(JSON.stringify({ code: "internal_error", message: "Something went wrong on our side; please try again.", correlationId }), {
      status: 500,
      headers: { "content-type": "application/json", "x-content-type-options": "nosniff", "cache-control": "no-store", "x-correlation-id": correlationId },
    });
  }
}
