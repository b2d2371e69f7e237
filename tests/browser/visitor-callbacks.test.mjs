// The visitor widget's availability and callbacks in real (headless) Chromium,
// through the edge handler in workerd against a live genesys-sim: "Call me
// now" with the queue's wait while Ada can take calls; "No one can take your
// call right now" and "Call me back at…" when the agent is Otto (offline);
// booking, confirmation and cancel, a refused time, at phone width too.
// Run by scripts/test-browser.sh.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { workerOptions } from "../../edge/workerd-options.mjs";
import { SIM, SHOTS, ADA, OTTO, launchChromium, servePages, newPage, simLog } from "./support.mjs";
const SUPPORT = "5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70";

let browser;
const stops = [];

// A page server and its edge (for `agent`), the page's origin allowed.
async function startDemo(agent) {
  const first = await servePages({ edgeUrl: "pending" });
  first.p.kill();
  const edge = new Miniflare(workerOptions({
    GENESYS_API_BASE: SIM, GENESYS_CLIENT_ID: "sim-edge", GENESYS_CLIENT_SECRET: "sim-edge-secret", GENESYS_AGENT_USER_ID: agent,
    GENESYS_QUEUE_ID: SUPPORT, ALLOWED_ORIGINS: first.url, ALLOWED_COUNTRIES: "US,CA", ALLOWED_DIAL_PREFIXES: "+1317555",
    HANDLE_SIGNING_KEY: "browser-callbacks-signing-key-0123456789", RATE_LIMIT_PER_IP: "100/60", RATE_LIMIT_PER_NUMBER: "100/60",
    MAX_CONCURRENT_CALLS_PER_NUMBER: "10", POLL_INTERVAL_MS: "100", GENESYS_REQUESTS_PER_MINUTE: "20000",
    OPENING_HOURS: "Daily 00:00-24:00 UTC", CALLBACK_SLOT_MINUTES: "60", CALLBACK_MAX_DAYS_AHEAD: "2",
  }, { host: "127.0.0.1", port: 0 }));
  const edgeUrl = (await edge.ready).origin;
  const www = await servePages({ port: new URL(first.url).port, edgeUrl });
  stops.push(() => www.p.kill(), () => edge.dispose());
  return www.url;
}

let ada, otto;
before(async () => {
  await fetch(`${SIM}/__sim/queues/${SUPPORT}`, { method: "POST", body: JSON.stringify({ estimatedWaitSeconds: 240 }) });
  ada = await startDemo(ADA);
  otto = await startDemo(OTTO);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  for (const stop of stops) await stop();
});

async function open(url, viewport = { width: 1100, height: 820 }) {
  const page = await newPage(browser, { viewport, timezoneId: "Europe/Dublin", locale: "en-IE" });
  await page.goto(url);
  await page.waitForSelector("body[data-mode]");
  return page;
}

const callbackPosts = async () => (await simLog()).filter((e) => e.method === "POST" && e.path === "/api/v2/conversations/callbacks").length;
// The edge's cancel: `PATCH …/callbacks/{id}` {"state":"disconnected"}, answered 2xx by Genesys.
const callbackCancels = async () => (await simLog()).filter((e) => e.method === "PATCH" && e.path.startsWith("/api/v2/conversations/callbacks/") && e.status < 300).length;

test("visitor: someone can take the call: 'Call me now' with the wait, and a callback booked, confirmed and cancelled by keyboard", async () => {
  const page = await open(ada);
  assert.equal(await page.getAttribute("body", "data-mode"), "call-now");
  assert.match(await page.textContent("#availability"), /available now\. Estimated wait: about 4 minutes/);
  assert.ok(await page.isVisible("#call-button"));
  assert.ok(await page.isVisible("#callback-box"));
  // The picker: as soon as possible, then the open times in the visitor's zone.
  const options = await page.$$eval("#callback-time option", (o) => o.map((x) => ({ value: x.value, text: x.textContent })));
  assert.match(options[0].text, /As soon as possible \(~4 min\)/);
  assert.ok(options.length > 2 && options.length <= 50, `${options.length}`);
  assert.equal(await page.textContent("#visitor-zone"), "(your time zone: Europe/Dublin)");
  const slot = options[2];
  const before = await callbackPosts();
  // Keyboard only: type the number, pick the time, book.
  await page.focus("#phone");
  await page.keyboard.type("+1 317 555 7104");
  await page.selectOption("#callback-time", slot.value);
  await page.focus("#callback-button");
  await page.keyboard.press("Enter");
  await page.waitForSelector('#callback-status[data-state="booked"]');
  assert.match(await page.textContent("#callback-text"), new RegExp(`Booked: we'll call you on ${slot.text.replace(/[()]/g, ".")}`));
  assert.equal(await callbackPosts(), before + 1);
  assert.equal(await page.getAttribute("#callback-status", "aria-live"), "polite");
  await page.screenshot({ path: `${SHOTS}/visitor-callback-booked.png`, fullPage: true });
  const cancelsBefore = await callbackCancels();
  await page.focus("#callback-cancel");
  await page.keyboard.press("Enter");
  await page.waitForSelector('#callback-status[data-state="canceled"]');
  assert.match(await page.textContent("#callback-text"), /cancelled/);
  // "Cancelled" on the page is only true if Genesys was told.
  assert.equal(await callbackCancels(), cancelsBefore + 1, "one cancel reached Genesys");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("visitor: nobody can take the call: the widget says so and offers only callbacks, at phone width", async () => {
  const page = await open(otto, { width: 375, height: 760 });
  assert.equal(await page.getAttribute("body", "data-mode"), "callback");
  assert.match(await page.textContent("#availability"), /No one can take your call right now\. Choose a time and we'll call you back\./);
  assert.equal(await page.isVisible("#call-button"), false, "no 'Call me now' when nobody can answer");
  assert.ok(await page.isVisible("#callback-time"));
  // Nothing wider than the screen.
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375));
  await page.screenshot({ path: `${SHOTS}/visitor-callback-phone.png`, fullPage: true });
  // A premium number is refused by the edge, nothing booked.
  const before = await callbackPosts();
  await page.fill("#phone", "+1 900 555 0100");
  await page.click("#callback-button");
  await page.waitForSelector('#callback-status[data-state="policy_denied"]');
  assert.equal(await callbackPosts(), before);
  assert.deepEqual(page.errors.filter((e) => !/status of 403/.test(e)), []);
  await page.close();
});

test("visitor: a time the edge refuses is said in plain words, nothing booked", async () => {
  const page = await open(ada);
  const before = await callbackPosts();
  // A time past CALLBACK_MAX_DAYS_AHEAD, as a stale page or a crafted option would send it.
  await page.evaluate(() => {
    const far = new Date(Date.now() + 5 * 86_400_000).toISOString();
    document.querySelector("#callback-time").append(new Option("later", far));
    document.querySelector("#callback-time").value = far;
  });
  await page.fill("#phone", "+1 317 555 7104");
  await page.click("#callback-button");
  await page.waitForSelector('#callback-status[data-state="invalid_input"]');
  assert.match(await page.textContent("#callback-text"), /at most 2 days ahead/);
  assert.equal(await callbackPosts(), before);
  await page.close();
});

test("visitor: a call the edge refuses for availability says so plainly and offers a callback instead", async () => {
  // The page thinks someone is free (an availability answer from a moment
  // ago); by the click Otto is the agent, offline: the edge refuses the call.
  const page = await browser.newPage({ viewport: { width: 1100, height: 820 } });
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  await page.route("**/v1/availability", (route) => route.fulfill({
    status: 200,
    headers: { "content-type": "application/json", "access-control-allow-origin": "*" },
    body: JSON.stringify({ mode: "call-now", callbacks: true, nextSlots: [{ utc: new Date(Date.now() + 3_600_000).toISOString() }] }),
  }));
  await page.goto(otto);
  await page.waitForSelector('body[data-mode="call-now"]');
  assert.equal(await page.isVisible("#call-button"), true);
  await page.fill("#phone", "+1 317 555 7105");
  await page.click("#call-button");
  await page.waitForSelector('#call-status[data-outcome="agent_unavailable"]');
  assert.equal(await page.textContent("#status-text"), "No one can take your call right now. Choose a time above and we'll call you back.");
  assert.equal(await page.getAttribute("#call-status", "aria-live"), "polite");
  // Nothing under way, and the callback picker instead of "Call me now".
  assert.equal(await page.isVisible("#call-status .timeline"), false);
  assert.equal(await page.isVisible("#call-button"), false);
  assert.ok(await page.isVisible("#callback-time"));
  await page.screenshot({ path: `${SHOTS}/visitor-agent-unavailable.png`, fullPage: true });
  // Refused by the edge's own check, not by Genesys after dialling: no create-call POST.
  const log = await simLog();
  assert.equal(log.filter((e) => e.method === "POST" && e.phoneNumber === "+13175557105").length, 0, "never dialled");
  assert.ok(log.some((e) => e.method === "GET" && e.path === `/api/v2/users/${OTTO}/presences/purecloud`), "Otto's presence was read");
  assert.deepEqual(page.errors, []);
  await page.close();
});
