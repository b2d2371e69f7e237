// Shared by the browser suites (not a test file: scripts/node-tests.sh runs only
// *.test.mjs): the simulator's URL, Chromium, the page server, and pages that
// record their errors. Importing it fails loudly when the suite cannot run.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { printedUrl } from "../../scripts/printed-url.mjs";

export const SIM = process.env.GENESYS_SIM_URL;
if (!SIM) throw new Error("GENESYS_SIM_URL is not set: run through scripts/test-browser.sh");
const CHROMIUM = "/usr/bin/chromium";
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the browser suite cannot run (scripts/setup.sh installs it)`);
export const SHOTS = "target/screenshots";
export const ADA = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";
export const OTTO = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a02";

/// Headless Chromium, with the screenshot folder ready.
export function launchChromium() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/// www/server.mjs on `port` (0: any), talking to the simulator and `edgeUrl`; resolves once it listens.
export function servePages({ port = 0, edgeUrl } = {}) {
  const env = { ...process.env, WWW_PORT: String(port), SIM_URL: SIM, ...(edgeUrl ? { EDGE_URL: edgeUrl } : {}) };
  const p = spawn(process.execPath, ["www/server.mjs"], { env, stdio: ["ignore", "pipe", "inherit"] });
  return printedUrl(p, p.stdout, "the page server").then((url) => ({ p, url }));
}

/// A new page whose console errors and uncaught exceptions collect in `page.errors`.
export async function newPage(browser, options) {
  const page = await browser.newPage(options);
  page.errors = [];
  page.on("console", (m) => { if (m.type() === "error") page.errors.push(m.text()); });
  page.on("pageerror", (e) => page.errors.push(String(e)));
  return page;
}

export const simLog = async () => (await (await fetch(`${SIM}/__sim/requests`)).json()).requests;
