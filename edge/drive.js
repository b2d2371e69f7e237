// Runs a Rust job (src/wasm/job.rs) to its result from the calling request:
// poll, and between polls wait for the job's own timers and fetches to wake
// it. Nothing is polled from another request's context (workerd cancels a
// request whose I/O was started on behalf of another one).
export async function drive(job) {
  try {
    for (;;) {
      const out = job.poll();
      if (out !== undefined) return out;
      await new Promise((resolve) => job.onWake(resolve));
    }
  } finally {
    job.free();
  }
}
