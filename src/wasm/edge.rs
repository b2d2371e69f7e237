//! The edge handler's exports (`--features edge`):
//!
//! - `EdgeHandler`, one per isolate: wraps the host-tested `EdgeService`.
//!   With the Durable Object bindings (`CALL_NUMBERS`, `CLIENT_ADDRESSES`,
//!   `GENESYS_GATEWAY`) its coordinated state lives in those objects, reached
//!   through a `coordinate(kind, name, body)` function the shell passes;
//!   on Deno with a KV store, the desks are reached the same way (the shell
//!   runs `DeskObject` over Deno KV, `edge/deno-kv.js`) and the gateway stays
//!   in this instance; otherwise, all of it in this isolate's memory.
//! - `DeskObject` and `GatewayObject`: what the Durable Object classes in
//!   `edge/objects.js` run — the same Rust desks and gateway, fed the JSON
//!   commands the isolates send.

use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::job::Job;
use super::socket::JsConnector;
use super::to_js;
use super::transport::{FetchHttp, JsClock};
use crate::edge::admission::{AddressCommand, AddressDesk, NumberCommand, NumberDesk};
use crate::edge::config::{EdgeConfig, BODY_LIMIT, VARIABLES};
use crate::edge::fleet::{
    run_gateway, Fleet, GatewayAnswer, GatewayCommand, LocalFleet, Scope, Unavailable,
};
use crate::edge::gateway::{edge_push_options, Gateway};
use crate::edge::{EdgeRequest, EdgeService};
use crate::flow::Clock;
use crate::wire::{decode, encode};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(s: &str);
}

/// A panic aborts the wasm (panic = "abort"): say why, as a log line, first.
fn log_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = crate::wire::encode(&PanicLine {
                event: "panic",
                message: &info.to_string(),
            });
            console_error(&message);
        }))
    });
}

#[derive(Serialize)]
struct PanicLine<'a> {
    event: &'a str,
    message: &'a str,
}

/// The Durable Object bindings; all three, or none.
const BINDINGS: [&str; 3] = ["CALL_NUMBERS", "CLIENT_ADDRESSES", "GENESYS_GATEWAY"];

/// The documented string variables of the runtime's `env`.
fn variables(env: &JsValue) -> Vec<(&'static str, String)> {
    VARIABLES
        .iter()
        .filter_map(|k| {
            Reflect::get(env, &(*k).into())
                .ok()
                .and_then(|v| v.as_string())
                .map(|v| (*k, v))
        })
        .collect()
}

fn lookup(vars: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
}

/// The fleet in Durable Objects: each command is a POST of its JSON to the
/// named object, through the shell's `coordinate` (which makes a fresh stub
/// in the calling request, so no I/O object crosses requests).
struct DurableFleet {
    coordinate: Function,
    gateway: String,
}

impl DurableFleet {
    async fn send<T: Serialize, A: DeserializeOwned>(
        &self,
        kind: &str,
        name: &str,
        cmd: &T,
    ) -> Result<A, Unavailable> {
        let body = encode(cmd);
        let fail = |e: JsValue| {
            Unavailable(
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
                    .unwrap_or_else(|| "coordinator failed".into()),
            )
        };
        let p = self
            .coordinate
            .call3(&JsValue::NULL, &kind.into(), &name.into(), &body.into())
            .map_err(fail)?;
        let p: Promise = p
            .dyn_into()
            .map_err(|_| Unavailable("coordinate did not return a promise".into()))?;
        let text = JsFuture::from(p)
            .await
            .map_err(fail)?
            .as_string()
            .ok_or_else(|| Unavailable("coordinator answered no text".into()))?;
        decode(&text).map_err(Unavailable)
    }
}

enum AnyFleet {
    // Boxed: one per isolate, and the enum stays small.
    Local(Box<LocalFleet<FetchHttp, JsClock>>),
    Durable(DurableFleet),
    /// The desks through `coordinate` (Deno KV), the gateway in this instance.
    SharedDesks(DurableFleet, Box<Gateway<FetchHttp, JsClock>>),
}

static HTTP: FetchHttp = FetchHttp;
static CLOCK: JsClock = JsClock;

impl Fleet for AnyFleet {
    type Http = FetchHttp;
    type Clock = JsClock;

    fn clock(&self) -> &JsClock {
        &CLOCK
    }

    fn http(&self) -> &FetchHttp {
        &HTTP
    }

    fn scope(&self) -> Scope {
        match self {
            AnyFleet::Local(_) => Scope::Instance,
            AnyFleet::Durable(_) => Scope::Fleet,
            AnyFleet::SharedDesks(..) => Scope::Admission,
        }
    }

    async fn number(
        &self,
        name: &str,
        cmd: NumberCommand,
    ) -> Result<crate::edge::admission::NumberAnswer, Unavailable> {
        match self {
            AnyFleet::Local(f) => f.number(name, cmd).await,
            AnyFleet::Durable(d) | AnyFleet::SharedDesks(d, _) => {
                d.send("number", name, &cmd).await
            }
        }
    }

    async fn address(
        &self,
        name: &str,
        cmd: AddressCommand,
    ) -> Result<crate::edge::admission::AddressAnswer, Unavailable> {
        match self {
            AnyFleet::Local(f) => f.address(name, cmd).await,
            AnyFleet::Durable(d) | AnyFleet::SharedDesks(d, _) => {
                d.send("address", name, &cmd).await
            }
        }
    }

    async fn gateway(&self, cmd: GatewayCommand) -> Result<GatewayAnswer, Unavailable> {
        match self {
            AnyFleet::Local(f) => f.gateway(cmd).await,
            AnyFleet::Durable(d) => d.send("gateway", &d.gateway, &cmd).await,
            AnyFleet::SharedDesks(_, g) => Ok(run_gateway(g, cmd).await),
        }
    }
}

/// A gateway, with push tracking over the host's `WebSocket` when there is one.
fn gateway(cfg: &EdgeConfig) -> Gateway<FetchHttp, JsClock> {
    let g = Gateway::new(FetchHttp, JsClock, cfg);
    match JsConnector::from_option(None) {
        Ok(Some(c)) => g.with_websocket(Box::new(c), edge_push_options()),
        _ => g,
    }
}

/// workerd ties every I/O object to the request that made it, so a socket
/// one visitor's request opened cannot serve another's: there, push lives
/// only in the gateway's Durable Object; an isolate on its own polls.
fn sockets_outlive_requests() -> bool {
    let agent = Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| Reflect::get(&n, &"userAgent".into()))
        .ok()
        .and_then(|a| a.as_string());
    agent.as_deref() != Some("Cloudflare-Workers")
}

/// The gateway object's name: one per OAuth client.
fn gateway_name(cfg: &EdgeConfig) -> String {
    ["oauth-client:", &cfg.client_id].concat()
}

/// One per isolate.
#[wasm_bindgen]
pub struct EdgeHandler {
    svc: Rc<EdgeService<AnyFleet>>,
    address_header: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Followed {
    #[serde(skip_serializing_if = "Option::is_none")]
    next_wake: Option<f64>,
    log: String,
}

#[wasm_bindgen]
impl EdgeHandler {
    /// `env`: the runtime's environment (Workers `env`, `Deno.env.toObject()`);
    /// only the documented variables and bindings are read. `seed`: random
    /// text for this instance's correlation ids. `coordinate(kind, name,
    /// body) → Promise<string>`: how to reach the Durable Objects — or, with
    /// `desks_only` (Deno KV), only the number and address desks, the gateway
    /// staying in this instance.
    #[wasm_bindgen(constructor)]
    pub fn new(
        env: JsValue,
        seed: String,
        coordinate: Option<Function>,
        desks_only: Option<bool>,
    ) -> EdgeHandler {
        log_panics();
        let bound = BINDINGS
            .iter()
            .filter(|b| Reflect::get(&env, &(**b).into()).is_ok_and(|v| v.is_object()))
            .count();
        let vars = variables(&env);
        let address_header = EdgeConfig::from_env(lookup(vars.clone()))
            .ok()
            .and_then(|c| c.address_header);
        let svc = match (bound, coordinate, desks_only.unwrap_or(false)) {
            (0, Some(coordinate), true) => {
                EdgeService::build(lookup(vars), seed.as_bytes(), |cfg| {
                    let desks = DurableFleet {
                        coordinate,
                        gateway: gateway_name(cfg),
                    };
                    AnyFleet::SharedDesks(desks, Box::new(gateway(cfg)))
                })
            }
            (3, Some(coordinate), false) => {
                EdgeService::build(lookup(vars), seed.as_bytes(), |cfg| {
                    AnyFleet::Durable(DurableFleet {
                        coordinate,
                        gateway: gateway_name(cfg),
                    })
                })
            }
            (0, _, false) => EdgeService::build(lookup(vars), seed.as_bytes(), |cfg| {
                let mut local = LocalFleet::new(FetchHttp, JsClock, cfg);
                if sockets_outlive_requests() {
                    local.gateway = gateway(cfg);
                }
                AnyFleet::Local(Box::new(local))
            }),
            _ => EdgeService::misconfigured(
                "CALL_NUMBERS",
                "and CLIENT_ADDRESSES and GENESYS_GATEWAY must all be bound (Durable Objects), or none",
                seed.as_bytes(),
            ),
        };
        EdgeHandler {
            svc: Rc::new(svc),
            address_header,
        }
    }

    /// The wasm module's linear memory, in bytes (it grows, never shrinks: a
    /// figure that keeps rising under a steady load is a leak).
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes() -> f64 {
        wasm_bindgen::memory()
            .dyn_into::<js_sys::WebAssembly::Memory>()
            .map(|m| {
                m.buffer()
                    .unchecked_into::<js_sys::ArrayBuffer>()
                    .byte_length() as f64
            })
            .unwrap_or(0.0)
    }

    /// JS values the wasm holds (a figure that keeps rising is a leak of them).
    #[wasm_bindgen(js_name = liveJsValues)]
    pub fn live_js_values() -> u32 {
        wasm_bindgen::externref_heap_live_count()
    }

    /// The largest body `handle` reads; the shell reads at most one byte more.
    #[wasm_bindgen(js_name = bodyLimit)]
    pub fn body_limit() -> usize {
        BODY_LIMIT
    }

    /// The header a trusted proxy sets to the visitor's address (lowercase),
    /// when `CLIENT_ADDRESS_HEADER` names one; the shell reads only that one.
    #[wasm_bindgen(js_name = addressHeader)]
    pub fn address_header(&self) -> Option<String> {
        self.address_header.clone()
    }

    /// `req`: `{method, path, origin?, addressHeader?, connection?,
    /// contentType?, idempotencyKey?, body, bodyError?}`. A job (driven by
    /// the asking request, see `job`) ending in `{status, headers: [[name,
    /// value]], body, stream?, log}`.
    pub fn handle(&self, req: JsValue) -> Job {
        // The shell builds this object itself; a malformed one is a bug
        // there, answered as a bad request rather than a crash.
        let r: EdgeRequest = serde_wasm_bindgen::from_value(req).unwrap_or_default();
        let svc = self.svc.clone();
        Job::new(async move { to_js(&svc.handle(r).await) })
    }

    /// One pass of the wrap-up follower, where the gateway is in this
    /// instance (without Durable Objects, or with only the desks shared): a
    /// job ending in `{nextWake?, log}` — run it again at `nextWake` (epoch
    /// ms), print `log` when not empty.
    #[wasm_bindgen(js_name = followUp)]
    pub fn follow_up(&self) -> Job {
        let svc = self.svc.clone();
        Job::new(async move {
            let (next_wake, log) = svc.follow_up().await;
            to_js(&Followed {
                next_wake: next_wake.map(|w| w as f64),
                log,
            })
        })
    }

    /// The next SSE chunk of a stream: a job ending in `{chunk, stream, cursor, done, after}`.
    #[wasm_bindgen(js_name = nextEvent)]
    pub fn next_event(&self, stream: String, cursor: String) -> Job {
        let svc = self.svc.clone();
        Job::new(async move { to_js(&svc.next_event(&stream, &cursor).await) })
    }
}

/// What a desk object answers a command with.
#[derive(Serialize)]
struct Applied {
    answer: String,
    /// The new state to store: absent when unchanged, "" when the desk is
    /// empty (delete everything).
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    /// When to wake for expiry (epoch ms); 0: no alarm needed.
    alarm: f64,
}

enum Desk {
    Number(NumberDesk),
    Address(AddressDesk),
}

/// A number's or a client address's admission desk, as a Durable Object
/// runs it: state in, commands applied synchronously (so each is atomic on
/// the object's one thread), state out for storage.
#[wasm_bindgen]
pub struct DeskObject {
    desk: Desk,
    stored: String,
}

#[wasm_bindgen]
impl DeskObject {
    /// `kind`: "number" or "address"; `state`: what `apply` last gave to store.
    #[wasm_bindgen(constructor)]
    pub fn new(kind: &str, state: Option<String>) -> DeskObject {
        log_panics();
        let stored = state.unwrap_or_default();
        let desk = match kind {
            "number" => Desk::Number(decode(&stored).unwrap_or_default()),
            _ => Desk::Address(decode(&stored).unwrap_or_default()),
        };
        DeskObject { desk, stored }
    }

    /// Applies one JSON command at `now` (epoch ms): `{answer, state?, alarm}`.
    pub fn apply(&mut self, command: &str, now: f64) -> JsValue {
        let now = now as u64;
        let (answer, state, wake, empty) = match &mut self.desk {
            Desk::Number(d) => {
                let answer = match decode::<NumberCommand>(command) {
                    Ok(c) => encode(&d.apply(c, now)),
                    Err(_) => "{\"answer\":\"invalid\"}".into(),
                };
                (answer, encode(d), d.next_wake(), d.is_empty())
            }
            Desk::Address(d) => {
                let answer = match decode::<AddressCommand>(command) {
                    Ok(c) => encode(&d.apply(c, now)),
                    Err(_) => "{\"answer\":\"invalid\"}".into(),
                };
                (answer, encode(d), d.next_wake(), d.is_empty())
            }
        };
        let state = if empty { String::new() } else { state };
        let changed = state != self.stored;
        if changed {
            self.stored = state.clone();
        }
        to_js(&Applied {
            answer,
            state: changed.then_some(state),
            alarm: wake.map_or(0.0, |w| w as f64),
        })
    }
}

/// The per-OAuth-client gateway as its Durable Object runs it: one token, one
/// budget and one read cache for every isolate of the fleet.
#[wasm_bindgen]
pub struct GatewayObject {
    gateway: Option<Rc<Gateway<FetchHttp, JsClock>>>,
}

#[wasm_bindgen]
impl GatewayObject {
    #[wasm_bindgen(constructor)]
    pub fn new(env: JsValue) -> GatewayObject {
        log_panics();
        let gateway = EdgeConfig::from_env(lookup(variables(&env)))
            .ok()
            .map(|cfg| Rc::new(gateway(&cfg)));
        GatewayObject { gateway }
    }

    /// Runs one JSON command: a job ending in the JSON answer.
    pub fn run(&self, command: String) -> Job {
        let gateway = self.gateway.clone();
        Job::new(async move {
            let answer = match (gateway, decode::<GatewayCommand>(&command)) {
                (Some(g), Ok(cmd)) => encode(&run_gateway(&g, cmd).await),
                _ => "{\"answer\":\"invalid\"}".into(),
            };
            answer.into()
        })
    }

    /// The budget's send times (JSON), to store after each command.
    #[wasm_bindgen(js_name = budgetState)]
    pub fn budget_state(&self) -> String {
        self.gateway
            .as_ref()
            .map(|g| encode(&g.budget_sent()))
            .unwrap_or_default()
    }

    /// The calls followed for their wrap-up (JSON), to store after each command.
    #[wasm_bindgen(js_name = followState)]
    pub fn follow_state(&self) -> String {
        self.gateway
            .as_ref()
            .map(|g| encode(&g.followed()))
            .unwrap_or_default()
    }

    /// Restores what `followState` gave.
    #[wasm_bindgen(js_name = restoreFollow)]
    pub fn restore_follow(&self, state: &str) {
        if let (Some(g), Ok(f)) = (&self.gateway, decode(state)) {
            g.restore_followed(f);
        }
    }

    /// When the follower is next due (epoch ms; 0: nothing followed): the alarm.
    #[wasm_bindgen(js_name = nextWake)]
    pub fn next_wake(&self) -> f64 {
        self.gateway
            .as_ref()
            .and_then(|g| g.next_follow_up())
            .map_or(0.0, |w| w as f64)
    }

    /// Restores what `budgetState` gave (after a restart or a deploy).
    #[wasm_bindgen(js_name = restoreBudget)]
    pub fn restore_budget(&self, state: &str) {
        if let (Some(g), Ok(sent)) = (&self.gateway, decode::<Vec<u64>>(state)) {
            // Only the current window matters.
            let now = JsClock.now_ms();
            g.restore_budget(sent.into_iter().filter(|&t| t + 120_000 > now).collect());
        }
    }
}
