// The agent console's availability and wrap-up (issue #12) in real (headless)
// Chromium against a live genesys-sim: the signed-in agent sees whether they
// can take calls before dialling, a call they could not take is refused before
// any create-call POST, and a queue call ends with a wrap-up picked on the page
// and applied exactly once. Run by scripts/test-browser.sh.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { SIM, SHOTS, ADA, OTTO, launchChromium, servePages, newPage, simLog } from "./support.mjs";

const DORA = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a03";
const CALL_BACK_LATER = "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b02";
const AVAILABLE = "6a3af858-942f-489d-9700-5f9bcdcdae9b";
const DO_NOT_DISTURB = "9d1c4b7e-2f3a-4d5b-8c6e-7a8b9c0d1e2f";

let browser, www, pageUrl;

before(async () => {
  ({ p: www, url: pageUrl } = await servePages());
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  www?.kill();
});

/// The agent console, signed in as `userId` through the simulated sign-in page.
async function signIn(userId) {
  const page = await newPage(browser, { viewport: { width: 1100, height: 820 } });
  await page.goto(pageUrl + "/agent.html");
  // The module loads asynchronously: a click before its handlers are attached would be lost.
  await page.waitForSelector("html[data-ready]", { state: "attached" });
  await page.click("#sign-in");
  await page.waitForURL(/\/oauth\/authorize/);
  await page.click(`button[data-user="${userId}"]`);
  await page.waitForSelector("#signed-in:not([hidden])");
  await page.waitForSelector("#availability:not([data-available=''])");
  return page;
}

async function setPresence(userId, definitionId) {
  const token = await fetch(`${SIM}/oauth/token`, {
    method: "POST",
    headers: { authorization: "Basic " + Buffer.from("sim-edge:sim-edge-secret").toString("base64") },
    body: new URLSearchParams({ grant_type: "client_credentials" }),
  }).then((r) => r.json());
  const r = await fetch(`${SIM}/api/v2/users/${userId}/presences/purecloud`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${token.access_token}`, "content-type": "application/json" },
    body: JSON.stringify({ presenceDefinition: { id: definitionId } }),
  });
  assert.equal(r.status, 200);
}

test("agent console: Ada sees she can take calls, dials for the queue, and wraps up once", async () => {
  const page = await signIn(ADA);
  assert.equal(await page.getAttribute("#availability", "data-available"), "true");
  assert.match(await page.textContent("#availability-text"), /You can take calls/);
  assert.match(await page.textContent("#availability-detail"), /Presence: Available/);
  await page.screenshot({ path: `${SHOTS}/agent-available.png`, fullPage: true });

  await page.fill("#dial", "+13175550131");
  await page.click("#dial-button");
  await page.waitForSelector("#call-status[data-outcome]", { timeout: 20_000 });
  assert.equal(await page.getAttribute("#call-status", "data-outcome"), "completed");
  await page.waitForSelector("#wrap-up:not([hidden])");
  const options = await page.$$eval("#wrap-up-code option", (os) => os.map((o) => [o.value, o.textContent]));
  assert.deepEqual(options.map(([, name]) => name), ["Resolved", "Call back later"], "the Support queue's codes");
  await page.selectOption("#wrap-up-code", CALL_BACK_LATER);
  await page.fill("#wrap-up-notes", "Customer asked for Tuesday");
  await page.screenshot({ path: `${SHOTS}/agent-wrap-up.png`, fullPage: true });
  await page.click("#wrap-up-save");
  await page.waitForSelector("#wrap-up-done:not([hidden])");
  assert.equal(await page.textContent("#wrap-up-done"), "Wrapped up: Call back later.");
  assert.ok(await page.isHidden("#wrap-up"));
  await page.screenshot({ path: `${SHOTS}/agent-wrapped-up.png`, fullPage: true });

  const log = await simLog();
  const posts = log.filter((e) => e.method === "POST" && e.phoneNumber === "+13175550131");
  assert.equal(posts.length, 1, "one call, placed with the agent's own token");
  assert.equal(posts[0].path, "/api/v2/conversations/calls");
  const lookups = log.filter((e) => e.method === "GET" && e.path === `/api/v2/users/${ADA}/presences/purecloud` && e.seq < posts[0].seq);
  assert.ok(lookups.length >= 1, "the availability check ran before the POST");
  const conversationId = (await page.evaluate(() => document.getElementById("wrap-up").dataset.conversationId));
  const wrapUps = log.filter((e) => e.method === "PATCH" && e.wrapup && e.path.includes(conversationId));
  assert.equal(wrapUps.length, 1, "wrapped up exactly once");
  assert.deepEqual(wrapUps[0].wrapup, { code: CALL_BACK_LATER, notes: "Customer asked for Tuesday" });
  assert.ok(!wrapUps[0].path.includes("/user/"), "the agent's own token uses the plain participant PATCH");
  assert.equal(wrapUps[0].status, 202);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("agent console: Otto (offline) and Dora (do not disturb) are told so, and their calls are never placed", async () => {
  for (const [user, name, words, number] of [
    [OTTO, "offline", /Offline/, "+13175550132"],
    [DORA, "dnd", /Do Not Disturb/, "+13175550133"],
  ]) {
    const page = await signIn(user);
    assert.equal(await page.getAttribute("#availability", "data-available"), "false", name);
    assert.match(await page.textContent("#availability-text"), words);
    await page.fill("#dial", number);
    await page.click("#dial-button");
    await page.waitForSelector("#console-error:not([hidden])");
    const message = await page.textContent("#console-error");
    assert.match(message, words);
    assert.match(message, /No call was placed/);
    assert.ok(await page.isHidden("#call-status"), "no call progress for a call that was not placed");
    await page.screenshot({ path: `${SHOTS}/agent-${name}-refused.png`, fullPage: true });
    const posts = (await simLog()).filter((e) => e.method === "POST" && e.phoneNumber === number);
    assert.equal(posts.length, 0, `${name}: zero create-call POSTs`);
    assert.deepEqual(page.errors, [], name);
    await page.close();
  }
});

test("agent console: a presence change in Genesys shows after Refresh", async () => {
  const page = await signIn(DORA);
  try {
    assert.equal(await page.getAttribute("#availability", "data-available"), "false");
    await setPresence(DORA, AVAILABLE);
    // The client reuses an agent's lookups for a few seconds (one burst per check).
    await new Promise((r) => setTimeout(r, 5_200));
    await page.click("#availability-refresh");
    await page.waitForSelector("#availability[data-available='true']");
    assert.match(await page.textContent("#availability-text"), /You can take calls/);
    await page.screenshot({ path: `${SHOTS}/agent-refreshed.png`, fullPage: true });
    assert.deepEqual(page.errors, []);
  } finally {
    await setPresence(DORA, DO_NOT_DISTURB);
    await page.close();
  }
});
