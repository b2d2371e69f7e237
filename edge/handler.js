// Shared by every runtime entry (worker.js, deno.js): a Request in, a Response
// out. Every decision — routing, validation, dial policy, limits, CORS — is
// made by the Rust EdgeHandler; this file only translates.
import { EdgeHandler } from "../pkg-edge/genesys_click_to_call.js";

let handler; // one per isolate: it holds the token cache, limits and idempotency keys
const encoder = new TextEncoder();

// Reads at most `limit` + 1 bytes, so a huge body is never buffered whole.
async function readCapped(request, limit) {
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return " ".repeat(limit + 1);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) { bytes.set(c, offset); offset += c.byteLength; }
  return new TextDecoder().decode(bytes);
}

export async function handle(request, env, clientIp) {
  handler ??= new EdgeHandler(env);
  const url = new URL(request.url);
  const h = request.headers;
  const out = await handler.handle({
    method: request.method,
    path: url.pathname,
    origin: h.get("origin") ?? undefined,
    ip: clientIp,
    contentType: h.get("content-type") ?? undefined,
    idempotencyKey: h.get("idempotency-key") ?? undefined,
    body: request.method === "POST" ? await readCapped(request, EdgeHandler.bodyLimit()) : "",
  });
  console.log(JSON.stringify(out.log));
  const headers = new Headers(out.headers);
  if (!out.stream) {
    return new Response(out.status === 204 ? null : out.body, { status: out.status, headers });
  }
  // Server-Sent Events: each pull asks Rust for the next chunk (a status
  // change, or a heartbeat); the stream closes after the final status.
  let cursor = "";
  const stream = new ReadableStream({
    start(controller) {
      controller.enqueue(encoder.encode(out.body));
    },
    async pull(controller) {
      const next = await handler.nextEvent(out.stream, cursor);
      cursor = next.cursor;
      if (next.chunk) controller.enqueue(encoder.encode(next.chunk));
      if (next.done) controller.close();
    },
  });
  return new Response(stream, { status: out.status, headers });
}
