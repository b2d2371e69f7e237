// The npm package as a stranger gets it: `npm pack` the built pkg/, install the
// tarball into a fresh project outside the repository, and use it from the
// consumer files in tests/package/consumer/ — which import only
// "genesys-click-to-call" — in Node, in a page bundled by esbuild and run in
// headless Chromium, in workerd (bundled the way wrangler bundles) and in Deno.
// Each places a call through genesys-sim and must see it end "completed".
// Run by scripts/test-package.sh (which starts the simulator).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, extname } from "node:path";
import { chromium } from "playwright-core";
import { Miniflare } from "miniflare";

const SIM = process.env.GENESYS_SIM_URL;
if (!SIM) throw new Error("GENESYS_SIM_URL is not set: run through scripts/test-package.sh");
const REPO = new URL("../../", import.meta.url).pathname;
const ADA = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";
const CHROMIUM = "/usr/bin/chromium";
const DENO = join(REPO, ".tools/node_modules/.bin/deno");
const ESBUILD = join(REPO, "node_modules/.bin/esbuild");
for (const tool of [CHROMIUM, DENO, ESBUILD]) {
  if (!existsSync(tool)) throw new Error(`${tool} is missing: run scripts/setup.sh (the package suite cannot run)`);
}

let project; // the consumer project, outside the repository
const simLog = async () => (await (await fetch(`${SIM}/__sim/requests`)).json()).requests;
const createPosts = async () =>
  (await simLog()).filter((e) => e.method === "POST" && e.path.startsWith("/api/v2/conversations/calls")).length;

before(() => {
  project = mkdtempSync(join(tmpdir(), "gc2c-consumer-"));
  const tarball = execFileSync("npm", ["pack", join(REPO, "pkg"), "--pack-destination", project, "--silent"], { encoding: "utf8" }).trim().split("\n").pop();
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", join(project, tarball)], { cwd: project });
  cpSync(join(REPO, "tests/package/consumer"), project, { recursive: true });
});
after(() => { if (project) rmSync(project, { recursive: true, force: true }); });

test("the tarball holds the package files and no repository sources", () => {
  const installed = join(project, "node_modules/genesys-click-to-call");
  const files = readdirSync(installed).sort();
  for (const f of ["package.json", "genesys_click_to_call.js", "genesys_click_to_call_bg.wasm", "genesys_click_to_call.d.ts", "node.js", "deno.js", "workerd.js"]) {
    assert.ok(files.includes(f), `${f} is in the package`);
  }
  assert.ok(!files.some((f) => f.endsWith(".rs") || f === "src" || f === "Cargo.toml"), files.join(", "));
  const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
  assert.equal(manifest.name, "genesys-click-to-call");
  assert.ok(manifest.version && manifest.license && manifest.repository && manifest.types);
  assert.deepEqual(Object.keys(manifest.exports["."]), ["types", "workerd", "deno", "node", "browser", "default"]);
  // The types document the API.
  assert.match(readFileSync(join(installed, manifest.types), "utf8"), /placeCall\(options: PlaceCallOptions\): Promise<PlaceCallResult>/);
});

function runs(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: project, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

test("Node imports the package by name and completes a call", async () => {
  const before = await createPosts();
  const out = JSON.parse(await runs(process.execPath, ["node-call.mjs"], { GENESYS_SIM_URL: SIM, AGENT: ADA }));
  assert.equal(out.outcome, "completed");
  assert.equal((await createPosts()) - before, 1);
});

test("Deno imports the package from node_modules and completes a call", async () => {
  const host = new URL(SIM).host;
  const out = JSON.parse(await runs(DENO, ["run", "--quiet", "--allow-read", `--allow-net=${host}`, "--allow-env=GENESYS_SIM_URL,AGENT", "deno-call.mjs"], { GENESYS_SIM_URL: SIM, AGENT: ADA }));
  assert.equal(out.outcome, "completed");
});

test("workerd runs a Worker bundled with the package and completes a call", async () => {
  execFileSync(ESBUILD, ["worker.js", "--bundle", "--format=esm", "--platform=neutral", "--main-fields=module,main", "--conditions=workerd,worker",
    "--loader:.wasm=copy", "--outdir=worker-dist", "--log-level=warning"], { cwd: project });
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(project, "worker-dist/worker.js"),
    // Module names are paths relative to this root: without it they start with "../" and workerd refuses them.
    modulesRoot: join(project, "worker-dist"),
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2026-04-26",
    bindings: { GENESYS_SIM_URL: SIM, AGENT: ADA },
  });
  try {
    const r = await mf.dispatchFetch("http://worker.test/");
    const body = await r.json();
    assert.equal(r.status, 200);
    assert.equal(body.outcome, "completed");
  } finally {
    await mf.dispose();
  }
});

test("a page bundled with esbuild completes an agent call in headless Chromium", async () => {
  execFileSync(ESBUILD, ["page.js", "--bundle", "--format=esm", "--platform=browser", "--loader:.wasm=file", "--outdir=page-dist", "--log-level=warning"], { cwd: project });
  cpSync(join(project, "page.html"), join(project, "page-dist/index.html"));
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  const server = createServer((req, res) => {
    const file = join(project, "page-dist", new URL(req.url, "http://x").pathname.replace(/^\/$/, "/index.html"));
    if (!file.startsWith(join(project, "page-dist")) || !existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const token = execFileSync(process.execPath, [join(REPO, "scripts/sim-user-token.mjs"), SIM], { encoding: "utf8" });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const url = `http://127.0.0.1:${server.address().port}/?sim=${encodeURIComponent(SIM)}&token=${encodeURIComponent(token)}`;
    await page.goto(url);
    await page.waitForFunction(() => document.title.startsWith("done") || document.title.startsWith("error"), null, { timeout: 60_000 });
    assert.match(await page.title(), /^done completed /);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});
