// A control for the soak's memory figure (SOAK_CONTROL=edge/soak/control-worker.js):
// the same visitor and Genesys traffic in plain JS, no wasm, no limits —
// whatever its workerd grows by under the same load is the runtime's, not the edge's.
let token;
async function tok(env) {
  if (token) return token;
  const r = await fetch(`${env.GENESYS_API_BASE}/oauth/token`, { method: "POST", headers: { authorization: "Basic " + btoa("sim-edge:sim-edge-secret"), "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" });
  token = (await r.json()).access_token;
  return token;
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const h = { authorization: `Bearer ${await tok(env)}`, "content-type": "application/json" };
    if (request.method === "POST") {
      const { phoneNumber } = await request.json();
      const r = await fetch(`${env.GENESYS_API_BASE}/api/v2/conversations/calls/user/${env.GENESYS_AGENT_USER_ID}`, { method: "POST", headers: h, body: JSON.stringify({ phoneNumber }) });
      const { id } = await r.json();
      return Response.json({ handle: id, eventsUrl: `/v1/calls/${id}/events` }, { status: 201 });
    }
    const id = url.pathname.split("/")[3];
    const enc = new TextEncoder();
    let last = "", quiet = 0;
    return new Response(new ReadableStream({
      async pull(c) {
        for (;;) {
          await new Promise((r) => setTimeout(r, 1000));
          const s = await (await fetch(`${env.GENESYS_API_BASE}/api/v2/conversations/calls/${id}`, { headers: h })).text();
          const far = (JSON.parse(s).participants ?? []).find((p) => p.purpose === "customer" || p.purpose === "external");
          const ended = far && ["disconnected", "terminated"].includes(far.state);
          if (s !== last) { last = s; c.enqueue(enc.encode(`event: status\ndata: ${s.length}\n\n`)); if (ended) { c.enqueue(enc.encode("event: end\ndata: {}\n\n")); c.close(); } return; }
          if (++quiet % 12 === 0) { c.enqueue(enc.encode(": heartbeat\n\n")); return; }
        }
      },
    }), { headers: { "content-type": "text/event-stream" } });
  },
};
