// The floor for the edge benchmark: a minimal hand-written Worker making the
// same Genesys calls with plain fetch — token (cached), create call, read call —
// and nothing else (no validation, policy, limits, signing or CORS).
let token = null;

async function accessToken(env) {
  if (token) return token;
  const r = await fetch(`${env.GENESYS_API_BASE}/oauth/token`, {
    method: "POST",
    headers: { authorization: "Basic " + btoa(`${env.GENESYS_CLIENT_ID}:${env.GENESYS_CLIENT_SECRET}`), "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials",
  });
  token = (await r.json()).access_token;
  return token;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const auth = { authorization: `Bearer ${await accessToken(env)}`, "content-type": "application/json" };
    if (request.method === "POST" && url.pathname === "/v1/calls") {
      const { phoneNumber } = await request.json();
      const r = await fetch(`${env.GENESYS_API_BASE}/api/v2/conversations/calls/user/${env.GENESYS_AGENT_USER_ID}`, { method: "POST", headers: auth, body: JSON.stringify({ phoneNumber }) });
      const { id } = await r.json();
      return Response.json({ handle: id }, { status: 201 });
    }
    if (request.method === "GET" && url.pathname.startsWith("/v1/calls/")) {
      const r = await fetch(`${env.GENESYS_API_BASE}/api/v2/conversations/calls/${url.pathname.slice(10)}`, { headers: auth });
      return new Response(r.body, { status: r.status, headers: { "content-type": "application/json" } });
    }
    return new Response("not found", { status: 404 });
  },
};
