// Runs a Rust job (src/wasm/job.rs) to its result from the calling request:
// poll, and between polls wait for the job's own timers and fetches to wake
// it. Nothing is polled from another request's context (workerd cancels a
// request whose I/O was started on behalf of another one).
//
// A wake that comes from another request's context (a lock released by a
// request that finished first, in the same isolate or Durable Object) may
// never reach this promise: workerd does not resolve across contexts. So the
// wait also ends after RECHECK_MS on this request's own timer and the job is
// polled again — a spurious poll is always allowed, and it bounds a lost wake
// to RECHECK_MS instead of a request that hangs (seen under load in the
// fleet suite's 600 concurrent reads).
const RECHECK_MS = 250;

export async function drive(job) {
  try {
    for (;;) {
      const out = job.poll();
      if (out !== undefined) return out;
      let timer;
      await new Promise((resolve) => {
        timer = setTimeout(resolve, RECHECK_MS);
        job.onWake(resolve);
      });
      clearTimeout(timer);
    }
  } finally {
    job.free();
  }
}
