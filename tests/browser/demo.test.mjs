// The demo page in real (headless) Chromium: the visitor widget through the
// edge handler in workerd, and the agent console through the PKCE sign-in page,
// all against a live genesys-sim. Run by scripts/test-browser.sh.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { workerOptions } from "../../edge/workerd-options.mjs";
import { SIM, SHOTS, ADA, launchChromium, servePages, newPage, simLog } from "./support.mjs";

let browser, edge, www, pageUrl;

before(async () => {
  // The page server first (its origin goes into the edge's CORS list)…
  const first = await servePages({ edgeUrl: "pending" });
  pageUrl = first.url;
  first.p.kill();
  // …but it needs the edge's URL too: start the edge, then the server again on the same port.
  const port = new URL(pageUrl).port;
  edge = new Miniflare(workerOptions({
    GENESYS_API_BASE: SIM, GENESYS_CLIENT_ID: "sim-edge", GENESYS_CLIENT_SECRET: "sim-edge-secret", GENESYS_AGENT_USER_ID: ADA,
    ALLOWED_ORIGINS: pageUrl, ALLOWED_COUNTRIES: "US,CA", ALLOWED_DIAL_PREFIXES: "+1317555", HANDLE_SIGNING_KEY: "browser-test-signing-key-0123456789abcdef",
    RATE_LIMIT_PER_IP: "100/60", RATE_LIMIT_PER_NUMBER: "100/60", MAX_CONCURRENT_CALLS_PER_NUMBER: "10", POLL_INTERVAL_MS: "100",
    GENESYS_REQUESTS_PER_MINUTE: "20000",
  }, { host: "127.0.0.1", port: 0 }));
  const edgeUrl = (await edge.ready).origin;
  ({ p: www } = await servePages({ port, edgeUrl }));
  browser = await launchChromium();
  console.log(`screenshots: ${process.cwd()}/${SHOTS}`);
});

after(async () => {
  await browser?.close();
  www?.kill();
  await edge?.dispose();
});

/// A fresh page that records console errors and failed requests.
async function open(path, viewport = { width: 1100, height: 760 }) {
  const page = await newPage(browser, { viewport });
  await page.goto(pageUrl + path);
  // The widget marks when its handlers are attached: never click into the void under load.
  if (path === "/") await page.waitForSelector("body[data-ready]");
  return page;
}

const postsTo = async (number) => (await simLog()).filter((e) => e.method === "POST" && e.phoneNumber === number).length;

async function visitorCall(number, outcomeName, viewport) {
  const page = await open("/", viewport);
  await page.fill("#phone", number);
  await page.click("#call-button");
  await page.waitForSelector("#call-status[data-outcome]", { timeout: 20_000 });
  await page.screenshot({ path: `${SHOTS}/visitor-${outcomeName}.png`, fullPage: true });
  return page;
}

test("visitor: +13175550100 rings, connects and completes", async () => {
  const page = await visitorCall("+1 317 555 0100", "completed");
  assert.equal(await page.getAttribute("#call-status", "data-outcome"), "completed");
  assert.match(await page.textContent("#status-text"), /ended/i);
  assert.equal(await page.locator(".timeline li.done").count(), 4, "every step of the timeline was reached");
  assert.equal(await page.getAttribute("#call-status", "aria-live"), "polite");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("visitor: busy and no answer are said in plain words", async () => {
  for (const [number, outcome, words] of [["+13175550101", "busy", /busy/i], ["+13175550102", "no-answer", /nobody answered/i]]) {
    const page = await visitorCall(number, outcome);
    assert.equal(await page.getAttribute("#call-status", "data-outcome"), outcome);
    assert.match(await page.textContent("#status-text"), words);
    assert.deepEqual(page.errors, [], number);
    await page.close();
  }
});

test("visitor: premium-rate and Caribbean numbers are refused with the edge's reason, no step under way, never dialled", async () => {
  for (const [number, reason, shot] of [
    ["+19005550100", "Premium-rate numbers can't be called.", "visitor-refused"],
    ["+18765550100", "We can only call numbers in the United States and Canada.", "visitor-refused-caribbean"],
  ]) {
    const page = await open("/");
    await page.fill("#phone", number);
    await page.click("#call-button");
    await page.waitForSelector("#call-status[data-outcome]");
    assert.equal(await page.getAttribute("#call-status", "data-outcome"), "policy_denied");
    assert.equal(await page.textContent("#status-text"), reason);
    // Nothing started: no timeline step is marked current or done, and none shows.
    assert.equal(await page.locator(".timeline li.current, .timeline li.done").count(), 0);
    assert.equal(await page.locator(".timeline").isVisible(), false);
    await page.screenshot({ path: `${SHOTS}/${shot}.png`, fullPage: true });
    assert.equal(await postsTo(number), 0);
    // The refusal is an expected 403 the browser logs as a failed resource; nothing else.
    assert.deepEqual(page.errors.filter((e) => !/status of 403/.test(e)), []);
    await page.close();
  }
});

test("visitor: inline validation catches a bad number before any request", async () => {
  const page = await open("/");
  await page.fill("#phone", "555-0100");
  await page.locator("#phone").blur();
  assert.equal(await page.getAttribute("#phone", "aria-invalid"), "true");
  assert.ok(await page.isVisible("#phone-error"));
  await page.click("#call-button");
  assert.ok(await page.isHidden("#call-status"));
  assert.equal(await postsTo("+5550100"), 0);
  await page.keyboard.press("Tab");
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("visitor: a double click places one call", async () => {
  const page = await open("/");
  await page.fill("#phone", "+13175550177");
  await page.dblclick("#call-button");
  await page.waitForSelector("#call-status[data-outcome]", { timeout: 20_000 });
  assert.equal(await postsTo("+13175550177"), 1);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test("visitor widget on a phone-width screen", async () => {
  const page = await visitorCall("+13175550100", "phone-width", { width: 390, height: 844 });
  const box = await page.locator(".card").first().boundingBox();
  assert.ok(box.width <= 390, `the card fits the screen (${box.width}px)`);
  await page.close();
});

test("agent: PKCE sign-in, a call that connects, hang-up, sign-out", async () => {
  const page = await open("/agent.html");
  await page.click("#sign-in");
  await page.waitForURL(/\/oauth\/authorize/);
  await page.click(`button[data-user="${ADA}"]`);
  await page.waitForSelector("#signed-in:not([hidden])");
  assert.equal(await page.textContent("#agent-name"), "Ada Lovelace");
  assert.equal(new URL(page.url()).search, "", "the code is removed from the address bar");
  assert.equal(await page.evaluate(() => localStorage.length), 0, "no token in localStorage");
  await page.fill("#dial", "+13175550104");
  await page.click("#dial-button");
  await page.waitForFunction(() => document.querySelector("#status-text").textContent.startsWith("Connected"), null, { timeout: 15_000 });
  await page.screenshot({ path: `${SHOTS}/agent-connected.png`, fullPage: true });
  await page.click("#hang-up");
  await page.waitForSelector("#call-status[data-outcome]");
  assert.equal(await page.getAttribute("#call-status", "data-outcome"), "completed");
  await page.screenshot({ path: `${SHOTS}/agent-ended.png`, fullPage: true });
  const agentCalls = (await simLog()).filter((e) => e.method === "POST" && e.path === "/api/v2/conversations/calls" && e.phoneNumber === "+13175550104");
  assert.equal(agentCalls.length, 1, "placed from the browser with the agent's own token");
  await page.click("#sign-out");
  await page.waitForSelector("#signed-out:not([hidden])");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("token")), null);
  assert.deepEqual(page.errors, []);
  await page.close();
});
