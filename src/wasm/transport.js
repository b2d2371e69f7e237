// The fetch half of the wasm transport: JS says this in far fewer bytes than
// wasm plus web-sys bindings. Rust decides everything; this only moves bytes.
// Resolves [status, retryAfter, correlationId, body]; rejects with a string:
// "timeout" (our timer fired), "aborted" (the caller's signal), or the
// network error's message.
export async function send(method, url, headers, body, timeoutMs, signal) {
  const timer = new AbortController();
  const t = setTimeout(() => timer.abort(), timeoutMs);
  const onAbort = () => timer.abort();
  signal.addEventListener("abort", onAbort);
  try {
    // Genesys never redirects an API or token request; following one could leak
    // a token. ("manual", because workerd refuses "error"; browsers answer an
    // opaque redirect with status 0.)
    const r = await fetch(url, { method, headers, body: body ?? undefined, signal: timer.signal, redirect: "manual" });
    if (r.type === "opaqueredirect" || (r.status >= 300 && r.status < 400)) throw "unexpected redirect from " + url;
    const text = await r.text();
    return [r.status, r.headers.get("retry-after"), r.headers.get("inin-correlation-id"), text];
  } catch (e) {
    throw signal.aborted ? "aborted" : timer.signal.aborted ? "timeout" : String(e?.message ?? e);
  } finally {
    clearTimeout(t);
    signal.removeEventListener("abort", onAbort);
  }
}

export function callbackParams(url) {
  const p = new URL(url).searchParams;
  return ["code", "state", "error", "error_description"].map((k) => p.get(k) ?? undefined);
}

// The one JS error type: an Error named GenesysError with code, status,
// retryAfterMs and contextId copied from the Rust error's JSON.
export function genesysError(json) {
  const fields = JSON.parse(json);
  const e = new Error(fields.message);
  e.name = "GenesysError";
  delete fields.message;
  return Object.assign(e, fields);
}
