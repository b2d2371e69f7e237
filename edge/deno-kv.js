// Deno KV as the edge's shared admission store (edge/deno.js, when DENO_KV is
// set): the number and address desks — the very Rust `DeskObject` the Durable
// Objects run (edge/objects.js) — kept in Deno KV, so idempotency, the
// one-call-per-number cap, the settle window and the rate limits hold for every
// instance sharing the store. The gateway (token, Genesys budget, read cache,
// push channel) is not here: Deno has no single-threaded shared object, so it
// stays in each instance.
//
// Each command is an optimistic transaction: read the desk and its
// versionstamp, apply the command, commit the new state only if nobody wrote
// the desk in between — else read again and re-apply. A command that changes
// nothing (a replay, "wait", "limited") writes nothing: its answer is the
// desk's as of the read, which was the latest (reads are strongly consistent),
// so it is ordered before any write that followed; every decision that takes
// something (a reservation, a rate-limit hit, a lookup lease) changes the
// state and commits under the check.
//
// Expiry is lazy: every `apply` prunes what has expired first (the Rust
// desks' own `expire(now)`), so the Durable Objects' alarm has no job here;
// an emptied desk is deleted, and an abandoned one vanishes by KV's expireIn.
import { DeskObject } from "../pkg-edge/genesys_click_to_call.js";

// How long a desk outlives its last write: past the longest a desk keeps a
// record (src/edge/admission.rs — Idempotency-Keys KEY_TTL_MS 24 h; ended calls
// HANDLE_TTL_SECS ≤ 24 h; rate windows ≤ 86400 s; an in-flight reservation's
// deadline and the settle window, ≤ 1 h more), with room to spare.
const KEEP_MS = 26 * 3_600_000;

// Commits tried before the command fails (the edge then answers 503 busy,
// "coordinator unavailable"): only a desk that others wrote 20 times over
// while this command retried (about a second) gets there — locally, beyond
// about 100 concurrent admissions through one desk.
const TRIES = 20;

// `spec`: DENO_KV — "default" for `Deno.openKv()` (the project's database on
// Deno Deploy), else a path (a local SQLite file several processes share) or
// a KV Connect URL. Throws when Deno runs without --unstable-kv.
export async function openDesks(spec) {
  if (typeof Deno.openKv !== "function") {
    throw new Error("DENO_KV is set but Deno.openKv is missing: run deno with --unstable-kv");
  }
  // Processes starting together on one new SQLite file can find it locked
  // while another sets it up: try again for a few seconds.
  for (let attempt = 1; ; attempt++) {
    try {
      const kv = await Deno.openKv(spec === "default" ? undefined : spec);
      return (kind, name, body) => apply(kv, kind, name, body);
    } catch (e) {
      if (!/database is locked/i.test(String(e?.message)) || attempt >= 50) throw e;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    }
  }
}

async function apply(kv, kind, name, command) {
  if (kind !== "number" && kind !== "address") throw new Error(`no ${kind} desk in Deno KV`);
  const key = ["desk", kind, name];
  for (let attempt = 1; attempt <= TRIES; attempt++) {
    try {
      const entry = await kv.get(key);
      const desk = new DeskObject(kind, entry.value ?? undefined);
      let out;
      try {
        out = desk.apply(command, Date.now());
      } finally {
        desk.free();
      }
      if (out.state === undefined) return out.answer;
      // `entry`'s versionstamp is null when the desk was absent: then the
      // check is that it still is.
      const tx = kv.atomic().check(entry);
      if (out.state === "") tx.delete(key);
      else tx.set(key, out.state, { expireIn: KEEP_MS });
      if ((await tx.commit()).ok) return out.answer;
    } catch (e) {
      // A local SQLite store shared by several processes: another one holds
      // the write lock (nothing was written). Anything else fails the command.
      if (!/database is locked/.test(e?.message)) throw e;
    }
    // Someone wrote first: read again after a short random pause, so that
    // contenders spread out instead of colliding again.
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(10 * attempt, 100)));
  }
  throw new Error(`Deno KV: the ${kind} desk kept changing (${TRIES} tries)`);
}
