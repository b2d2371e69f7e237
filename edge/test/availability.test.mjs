// Issues #12 and #13 in workerd: the agent check before every call, the
// wrap-up the edge applies to every call it placed (the gateway Durable
// Object's alarm follows calls nobody watches; without the objects, the
// isolate's follower in the placing request's waitUntil), and callbacks with
// availability. Run by scripts/test-edge.sh (genesys-sim at --time-scale 0.05).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { fleetOptions, workerOptions, durableObjects } from "../workerd-options.mjs";
import { baseVars, keeper, postsTo, simLog, sleep, visitor } from "./support.mjs";

const SIM = process.env.GENESYS_SIM_URL;
if (!SIM) throw new Error("GENESYS_SIM_URL is not set: run through scripts/test-edge.sh");
const OTTO = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a02";
const DORA = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a03";
const SUPPORT = "5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70";
const RESOLVED = "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b01";
const vars = { ...baseVars(SIM, "availability-test-signing-key-0123456789"), CLIENT_ADDRESS_HEADER: "CF-Connecting-IP", GENESYS_QUEUE_ID: SUPPORT };

const k = keeper();
after(() => k.disposeAll());

test("agent: Otto and Dora are refused with their reasons and zero create-call POSTs", async () => {
  for (const [agent, reason] of [[OTTO, "offline"], [DORA, "do-not-disturb"]]) {
    const mf = k.start(fleetOptions({ ...vars, GENESYS_AGENT_USER_ID: agent }, { isolates: 2 }));
    const v = visitor(mf);
    for (let i = 0; i < 2; i++) {
      const r = await v.dial("+13175557199", { ip: `203.0.113.${40 + i}` });
      assert.equal(r.status, 409, r.text);
      const b = r.json();
      assert.equal(b.code, "agent_unavailable");
      assert.equal(b.reason, reason);
      assert.equal(b.message, "No one can take your call right now.");
      assert.equal(b.callbacks, true);
      assert.ok(b.correlationId);
    }
    assert.equal(await postsTo(SIM, "+13175557199"), 0, `${reason}: nothing dialled`);
    await k.stop(mf);
  }
});

// Waits until `n` wrap-up PATCHes carry `marker` in their notes (then a little longer, to catch a second one).
async function wrapUps(marker, n) {
  const mine = async () => (await simLog(SIM)).filter((e) => e.method === "PATCH" && e.wrapup?.notes?.includes(marker));
  for (let i = 0; i < 150 && (await mine()).length < n; i++) await sleep(100);
  await sleep(1_500);
  return mine();
}

// Places two calls and waits for their wrap-ups; nobody reads either call.
async function wrappedUpOnce(options) {
  const marker = `wt-${Math.random().toString(36).slice(2, 8)}`;
  const mf = k.start(options({ ...vars, WRAPUP_CODE_ID: RESOLVED, WRAPUP_NOTES: `${marker} {conversationId} {outcome}` }));
  const v = visitor(mf);
  for (const [i, number] of ["+13175557100", "+13175557101"].entries()) {
    const r = await v.dial(number, { ip: `203.0.113.${50 + i}` });
    assert.equal(r.status, 201, r.text);
  }
  const patches = await wrapUps(marker, 2);
  assert.equal(patches.length, 2, JSON.stringify(patches));
  const conversations = new Set(patches.map((p) => p.wrapup.notes.split(" ")[1]));
  assert.equal(conversations.size, 2, "one per call");
  for (const p of patches) {
    assert.equal(p.wrapup.code, RESOLVED);
    assert.ok(p.status >= 200 && p.status < 300, `Genesys accepted the wrap-up: ${JSON.stringify(p)}`);
    assert.ok(p.path.includes("/user/"), "on behalf of the agent");
    assert.match(p.wrapup.notes, / completed$/);
  }
  await k.stop(mf);
}

test("wrap-up: every call placed is wrapped up exactly once, nobody reading its status, through the gateway object's alarm (Durable Objects)", () =>
  wrappedUpOnce((b) => fleetOptions(b, { isolates: 2 })));

test("wrap-up: every call placed is wrapped up exactly once, nobody reading its status, through the isolate's follower (no Durable Objects)", () =>
  wrappedUpOnce((b) => workerOptions(b)));

test("callbacks: booked once per key, read and cancelled with a callback handle; availability offers slots", async () => {
  const mf = k.start(workerOptions({ ...vars, OPENING_HOURS: "Daily 00:00-24:00 UTC" }, { durableObjects: durableObjects() }));
  const v = visitor(mf);
  const a = await v.call("/v1/availability");
  assert.equal(a.status, 200, a.text);
  assert.equal(a.json().mode, "call-now");
  assert.equal(a.json().timeZone, "UTC");
  const slot = a.json().nextSlots[1].utc;
  const book = () => v.call("/v1/callbacks", {
    method: "POST",
    body: JSON.stringify({ phoneNumber: "+13175557104", at: slot }),
    headers: { "content-type": "application/json", "idempotency-key": "workerd-cb-1", "cf-connecting-ip": "203.0.113.60" },
  });
  const before = (await simLog(SIM)).filter((e) => e.method === "POST" && e.path === "/api/v2/conversations/callbacks").length;
  const [x, y] = [await book(), await book()];
  assert.equal(x.status, 201, x.text);
  assert.equal(y.json().handle, x.json().handle);
  const after = (await simLog(SIM)).filter((e) => e.method === "POST" && e.path === "/api/v2/conversations/callbacks").length;
  assert.equal(after - before, 1);
  const h = x.json().handle;
  assert.equal((await v.call(`/v1/callbacks/${h}`)).json().phase, "scheduled");
  assert.equal((await v.call(`/v1/calls/${h}`)).status, 404, "a callback handle is no call handle");
  assert.equal((await v.call(`/v1/callbacks/${h}`, { method: "DELETE" })).status, 204);
  assert.equal((await v.call(`/v1/callbacks/${h}`)).json().outcome, "canceled");
  const late = await v.call("/v1/callbacks", {
    method: "POST",
    body: JSON.stringify({ phoneNumber: "+13175557104", at: new Date(Date.now() + 30 * 86_400_000).toISOString() }),
    headers: { "content-type": "application/json", "cf-connecting-ip": "203.0.113.61" },
  });
  assert.equal(late.status, 422, late.text);
  assert.equal(late.json().code, "invalid_input");
  await k.stop(mf);
});
