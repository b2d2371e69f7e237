// Serves the demo page: www/ at /, the browser package (../pkg) at /pkg/, and
// /config.json pointing the page at the simulator and the edge handler.
// Usage: SIM_URL=… EDGE_URL=… WWW_PORT=8080 node www/server.mjs
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = resolve(fileURLToPath(new URL(".", import.meta.url)));
const roots = [["/pkg/", resolve(here, "..", "pkg")], ["/", here]];
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8", ".json": "application/json", ".wasm": "application/wasm", ".ts": "text/plain; charset=utf-8" };
const port = Number(process.env.WWW_PORT ?? 8080);
const config = JSON.stringify({
  edge: process.env.EDGE_URL ?? "http://127.0.0.1:8787",
  apiBase: process.env.SIM_URL ?? "http://127.0.0.1:8089",
  loginBase: process.env.SIM_URL ?? "http://127.0.0.1:8089",
  clientId: process.env.PKCE_CLIENT_ID ?? "sim-browser",
  // The agent console places its calls for this queue (the sim's Support), so they have wrap-up codes.
  queueId: process.env.QUEUE_ID ?? "5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70",
});

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
  if (path === "/config.json") {
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    return res.end(config);
  }
  const [prefix, dir] = roots.find(([p]) => path.startsWith(p));
  const file = normalize(join(dir, path.slice(prefix.length) || "index.html"));
  if (!file.startsWith(dir + sep) && file !== dir) {
    res.writeHead(403);
    return res.end();
  }
  try {
    const body = await readFile(file.endsWith(sep) ? join(file, "index.html") : file);
    res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" });
    res.end(body);
  } catch {
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  }
});
server.listen(port, "127.0.0.1", () => console.log(`demo page on http://127.0.0.1:${server.address().port}/`));
const stop = () => server.close(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
