// The edge's Durable Object classes (bound in wrangler.toml). Each runs the
// same Rust as a single instance does — a number's or a client address's
// admission desk, or the OAuth client's gateway — fed the JSON commands the
// isolates send. The object's single thread makes each desk command atomic;
// its storage keeps the state across restarts and deploys; alarms expire it.
import { DeskObject, GatewayObject } from "../pkg-edge/genesys_click_to_call.js";
import { drive } from "./drive.js";

class Desk {
  constructor(ctx, kind) {
    this.ctx = ctx;
    ctx.blockConcurrencyWhile(async () => {
      this.desk = new DeskObject(kind, (await ctx.storage.get("state")) ?? undefined);
    });
  }

  async fetch(request) {
    return new Response(this.apply(await request.text()));
  }

  async alarm() {
    this.apply('{"command":"expire"}');
  }

  // Applied synchronously, then stored: the output gate holds the answer
  // until the write is durable.
  apply(command) {
    const out = this.desk.apply(command, Date.now());
    const storage = this.ctx.storage;
    if (out.state === "") {
      storage.deleteAll();
      storage.deleteAlarm();
    } else if (out.state !== undefined) {
      storage.put("state", out.state);
    }
    if (out.alarm) storage.setAlarm(out.alarm);
    return out.answer;
  }
}

// One per destination number: idempotency, reservation, settle window, cap, rate.
export class CallNumber extends Desk {
  constructor(ctx) {
    super(ctx, "number");
  }
}

// One per client address: the per-address rate, and which number each key was for.
export class ClientAddress extends Desk {
  constructor(ctx) {
    super(ctx, "address");
  }
}

// One per OAuth client: the token, the Genesys request budget (stored, so a
// restart does not reset it), the shared read cache, and push tracking's one
// Notifications channel and WebSocket for the fleet (opened by the Rust
// gateway through the global WebSocket: in a Durable Object every request
// shares the object's I/O context, so the socket serves every watcher). A
// restart loses the socket; the watchers' next pulls reopen it and reconcile.
export class GenesysGateway {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.gateway = new GatewayObject(env);
    this.budget = "";
    this.follow = "";
    this.alarmAt = 0;
    ctx.blockConcurrencyWhile(async () => {
      // One storage read for both (get with keys answers a Map).
      const saved = await ctx.storage.get(["budget", "follow"]);
      if (saved.get("budget")) this.gateway.restoreBudget(saved.get("budget"));
      if (saved.get("follow")) this.gateway.restoreFollow(saved.get("follow"));
    });
  }

  async fetch(request) {
    const answer = await drive(this.gateway.run(await request.text()));
    await this.store();
    return new Response(answer);
  }

  // The wrap-up follower: every call placed with WRAPUP_CODE_ID is read when
  // due and wrapped up once it has ended, watched or not.
  async alarm() {
    this.alarmAt = 0;
    const answer = JSON.parse(await drive(this.gateway.run('{"command":"followUp"}')));
    for (const line of answer.follow?.log ?? []) console.log(line);
    await this.store();
  }

  // The budget and the followed calls survive a restart; the alarm is set
  // whenever a followed call is due.
  async store() {
    const storage = this.ctx.storage;
    const budget = this.gateway.budgetState();
    if (budget !== this.budget) {
      this.budget = budget;
      storage.put("budget", budget);
    }
    const follow = this.gateway.followState();
    if (follow !== this.follow) {
      this.follow = follow;
      storage.put("follow", follow);
    }
    const wake = this.gateway.nextWake();
    if (wake > 0 && wake !== this.alarmAt) {
      this.alarmAt = wake;
      storage.setAlarm(wake);
    }
  }
}
