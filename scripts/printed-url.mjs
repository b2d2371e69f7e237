// The loopback address a child process prints when it listens (genesys-sim on
// stderr, www/server.mjs on stdout). Output arrives in chunks that may split the
// address, so the whole output so far is matched, up to the character after the
// port; a child that exits or stays silent for `timeoutMs` is an error.
export function printedUrl(child, stream, what, timeoutMs = 30_000) {
  let seen = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} printed no address in ${timeoutMs / 1000} s: ${seen}`)), timeoutMs);
    stream.on("data", (d) => {
      seen += d;
      const m = seen.match(/http:\/\/127\.0\.0\.1:\d+(?=\D)/);
      if (m) { clearTimeout(timer); resolve(m[0]); }
    });
    child.on("exit", () => { clearTimeout(timer); reject(new Error(`${what} exited`)); });
  });
}
