//! The edge handler's HTTP API, as one service over a [`Fleet`]: every
//! routing, validation, policy, CORS and admission decision is made here (and
//! tested on the host against genesys-sim); the runtime entry files only
//! translate Request/Response.
//!
//! Every refusal happens before any Genesys request. Visitors get generic
//! messages and a correlation id; the log line gets the detail (never a
//! secret, a whole number, a whole handle or a clear client address).
//!
//! Placing a call, in order: the client address's desk (its rate; a key
//! reused for another number), the dial policy, the number's desk (the same
//! key or visitor again, an unknown outcome's settle window, the cap, the
//! number's rate — and a reservation taken *before* the POST), Turnstile,
//! the create-call POST through the gateway, and the reservation settled with
//! what Genesys answered: placed, certainly not dialled, or unknown.

use std::cell::Cell;
use std::pin::pin;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::future::{select, Either};
use hmac::Mac;

use super::admission::{
    AddressAnswer, AddressCommand, NumberAnswer, NumberCommand, NumberRules, Settled,
};
use super::api::{
    AvailabilityAnswer, CallHandle, CallbackBody, CallbackHandle, ErrorAnswer, Health, LogLine,
    PlaceCallBody, RingingAnswer, SiteverifyAnswer, StartupLine, StreamError, UnavailableAnswer,
};
use super::config::{EdgeConfig, Misconfigured, BODY_LIMIT};
use super::fleet::{Fleet, GatewayAnswer, GatewayCommand, LocalFleet, Scope, Unavailable};
use super::handle::{self, digest, mac, Handle, NumberTag};
use super::hours::{OpeningHours, RefusalReason, Slot};
use super::policy::{self, origin_allowed};
use super::redact::{client_bucket, log_path, mask_number, truncate_echo};
use crate::call::{ConversationId, EntityId, E164};
use crate::callback::CallbackTime;
use crate::error::{Error, ErrorCode};
use crate::flow::{is_budget_busy, Clock, Http};
use crate::http::{HttpRequest, Method};
use crate::wire::{decode, encode};
use jiff::Timestamp;

/// An SSE chunk (an event or a heartbeat comment) at least this often, so
/// proxies that cut idle streams never do: "every 15 s", with a margin.
pub const HEARTBEAT_MS: u64 = 12_000;
/// A request that finds the same visitor's call being placed waits this long
/// at most for its outcome.
const DUPLICATE_WAIT_MS: u64 = 25_000;
/// How often an event stream for a pending call asks the number's desk.
const PENDING_POLL_MS: u64 = 1_000;

/// A streamed end tells the number's coordinator after 1–2 s (spread by the
/// conversation id): when many calls end at once, their notices do not
/// compete with the fan-out of the ends themselves (locally every object
/// shares one thread). The cap frees that much later; nothing waits on it.
const ENDED_NOTICE_MS: u64 = 1_000;
/// Callback times `/v1/availability` offers at most.
const MAX_OFFERED_SLOTS: usize = 96;

const RINGING: &str = "We could not confirm your call yet: your phone may already be ringing. Please wait before trying again.";

/// A request as the runtime shell hands it over.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EdgeRequest {
    pub method: String,
    /// The URL path, without the query string.
    pub path: String,
    pub origin: Option<String>,
    /// The value of the header `CLIENT_ADDRESS_HEADER` names, when the shell
    /// read one (it reads it only when the header is configured as trusted).
    pub address_header: Option<String>,
    /// The connection's remote address, where the runtime knows it (Deno).
    pub connection: Option<String>,
    pub content_type: Option<String>,
    pub idempotency_key: Option<String>,
    /// The body, read up to [`BODY_LIMIT`] + 1 bytes by the shell.
    pub body: String,
    /// The shell could not read the body (bad framing, a connection closed early).
    pub body_error: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EdgeResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// For `/events`: the shell streams [`EdgeService::next_event`] for this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// JSON log lines (one per request; a startup line before the first).
    pub log: String,
}

/// The next piece of an event stream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NextEvent {
    pub chunk: String,
    /// The stream to ask about next (a pending call turns into its call).
    pub stream: String,
    pub cursor: String,
    pub done: bool,
    /// With `done`: after closing the stream, the shell runs `next_event`
    /// once more on `stream`, in the background (it tells the number's
    /// coordinator the call ended — a round trip the visitor's `end` need
    /// not wait for).
    pub after: bool,
}

struct Running<F> {
    cfg: EdgeConfig,
    fleet: F,
}

pub struct EdgeService<F> {
    setup: Result<Running<F>, Misconfigured>,
    /// Per-instance random key for correlation ids (so no two instances emit
    /// the same sequence), and the count so far.
    corr_key: Vec<u8>,
    requests: Cell<u64>,
    started: Cell<bool>,
}

/// Where this request's client address came from, and its keyed digest.
struct Client {
    /// The address desk's name: a keyed digest of the address (or `shared`).
    bucket: String,
    source: &'static str,
    /// The address itself, for Turnstile's `remoteip` only (never logged).
    address: Option<String>,
}

impl Client {
    fn log(&self) -> &str {
        &self.bucket[..self.bucket.len().min(8)]
    }
}

/// A number admitted for a call or a callback: its desk and the
/// reservation's ticket and time (ms).
struct Admitted {
    tag: NumberTag,
    desk: String,
    ticket: u64,
    issued: u64,
}

/// What a request resolved to before the common headers and log are added.
struct Outcome {
    status: u16,
    body: String,
    headers: Vec<(String, String)>,
    stream: Option<String>,
    /// An error's code and the message the visitor sees; `handle` writes the
    /// body (with the correlation id) from these.
    code: Option<&'static str>,
    message: String,
    /// A handle to add to an error-shaped answer (`call_may_be_ringing`).
    handle: Option<String>,
    /// `agent_unavailable`'s reason key, and whether a callback may be offered.
    reason: Option<&'static str>,
    callbacks: bool,
    /// For the log: the detail the visitor does not see.
    detail: String,
}

fn json_error(status: u16, code: &'static str, visitor_message: &str, detail: &str) -> Outcome {
    Outcome {
        status,
        body: String::new(),
        headers: Vec::new(),
        stream: None,
        code: Some(code),
        message: visitor_message.to_string(),
        handle: None,
        reason: None,
        callbacks: false,
        detail: detail.to_string(),
    }
}

fn ok(status: u16, body: String) -> Outcome {
    Outcome {
        status,
        body,
        headers: Vec::new(),
        stream: None,
        code: None,
        message: String::new(),
        handle: None,
        reason: None,
        callbacks: false,
        detail: String::new(),
    }
}

fn retry_after(mut o: Outcome, wait_ms: u64) -> Outcome {
    let secs = wait_ms.div_ceil(1000).max(1).to_string();
    o.headers.push(("Retry-After".into(), secs));
    o
}

impl<H: Http, C: Clock> EdgeService<LocalFleet<H, C>> {
    /// Single-instance: the fleet's state lives in this instance's memory.
    pub fn new(http: H, clock: C, env: impl Fn(&str) -> Option<String>) -> Self {
        EdgeService::build(env, &instance_seed(), |cfg| {
            LocalFleet::new(http, clock, cfg)
        })
    }
}

/// A per-instance random seed on the host; the wasm shell passes its own
/// (`crypto.getRandomValues`) through [`EdgeService::build`].
fn instance_seed() -> Vec<u8> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::hash::BuildHasher;
        let a = std::collections::hash_map::RandomState::new().hash_one(1u8);
        let b = std::collections::hash_map::RandomState::new().hash_one(2u8);
        [a.to_le_bytes(), b.to_le_bytes()].concat()
    }
    #[cfg(target_arch = "wasm32")]
    {
        b"wasm-without-seed".to_vec()
    }
}

impl<F: Fleet> EdgeService<F> {
    /// `make` builds the fleet once the configuration is known to be valid.
    pub fn build(
        env: impl Fn(&str) -> Option<String>,
        seed: &[u8],
        make: impl FnOnce(&EdgeConfig) -> F,
    ) -> EdgeService<F> {
        let setup = EdgeConfig::from_env(env).map(|cfg| Running {
            fleet: make(&cfg),
            cfg,
        });
        EdgeService {
            setup,
            corr_key: seed.to_vec(),
            requests: Cell::new(0),
            started: Cell::new(false),
        }
    }

    /// A service that answers every request `misconfigured`, naming `variable`
    /// (for problems found outside the variables, such as missing bindings).
    pub fn misconfigured(variable: &'static str, problem: &str, seed: &[u8]) -> EdgeService<F> {
        EdgeService {
            setup: Err(Misconfigured {
                variable,
                problem: problem.to_string(),
            }),
            corr_key: seed.to_vec(),
            requests: Cell::new(0),
            started: Cell::new(false),
        }
    }

    /// The fleet (for tests and the wasm shell).
    pub fn fleet(&self) -> Option<&F> {
        self.setup.as_ref().ok().map(|r| &r.fleet)
    }

    fn correlation_id(&self) -> String {
        let n = self.requests.get() + 1;
        self.requests.set(n);
        let tag = mac(&self.corr_key, &[b"corr:", &n.to_be_bytes()])
            .finalize()
            .into_bytes();
        URL_SAFE_NO_PAD.encode(&tag[..12])
    }

    pub async fn handle(&self, req: EdgeRequest) -> EdgeResponse {
        let corr = self.correlation_id();
        let mut headers = vec![
            ("Vary".to_string(), "Origin".to_string()),
            ("X-Correlation-Id".to_string(), corr.clone()),
            ("X-Content-Type-Options".to_string(), "nosniff".to_string()),
            ("Cache-Control".to_string(), "no-store".to_string()),
        ];
        let path = req.path.trim_end_matches('/');
        let mut startup = None;
        let (out, client_log) = match &self.setup {
            // A deploy check reads healthz: it is unavailable, not fine.
            Err(m) => (
                json_error(
                    if path == "/v1/healthz" { 503 } else { 500 },
                    "misconfigured",
                    &[
                        "The call service is misconfigured: ",
                        m.variable,
                        " ",
                        &m.problem,
                    ]
                    .concat(),
                    m.variable,
                ),
                "-".to_string(),
            ),
            Ok(run) => {
                let client = run.client(&req);
                if !self.started.replace(true) {
                    let (guarantees, warnings) = run.warnings(&client);
                    startup = Some(encode(&StartupLine {
                        event: "startup",
                        guarantees,
                        client_address: client.source,
                        warnings,
                    }));
                }
                let out = match req.origin.as_deref() {
                    Some(o) if origin_allowed(&run.cfg.allowed_origins, o) => {
                        headers.push(("Access-Control-Allow-Origin".into(), o.to_string()));
                        headers.push((
                            "Access-Control-Expose-Headers".into(),
                            "Retry-After, X-Correlation-Id".into(),
                        ));
                        run.route(&req, &client).await
                    }
                    // Browsers send Origin; a page from another site is refused outright.
                    Some(_) => json_error(
                        403,
                        "policy_denied",
                        "This site may not use the call service.",
                        "origin not allowed",
                    ),
                    None => run.route(&req, &client).await,
                };
                (out, client.log().to_string())
            }
        };
        let body = match (out.code, &out.handle) {
            (Some(code), None) if out.reason.is_some() => encode(&UnavailableAnswer {
                code,
                message: &out.message,
                reason: out.reason.unwrap_or("unknown"),
                callbacks: out.callbacks,
                correlation_id: &corr,
            }),
            (Some(code), Some(h)) => encode(&RingingAnswer {
                code,
                message: &out.message,
                correlation_id: &corr,
                call: Some(CallHandle::new(h)),
            }),
            // The visitor gets the correlation id with every error.
            (Some(code), None) => encode(&ErrorAnswer {
                code,
                message: &out.message,
                correlation_id: &corr,
            }),
            (None, _) => out.body,
        };
        headers.extend(out.headers);
        if !body.is_empty() {
            let ctype = if out.stream.is_some() {
                "text/event-stream"
            } else {
                "application/json"
            };
            headers.push(("Content-Type".into(), ctype.into()));
        }
        // What the visitor sent is scrubbed of anything number-like too.
        let method = scrub_numbers(&req.method.chars().take(16).collect::<String>());
        let detail = scrub_numbers(&out.detail);
        let mut log = encode(&LogLine {
            correlation_id: &corr,
            method: &method,
            path: &scrub_numbers(&log_path(&req.path)),
            status: out.status,
            code: out.code,
            detail: (!detail.is_empty()).then_some(detail.as_str()),
            client: &client_log,
        });
        if let Some(line) = startup {
            log = [line, log].join("\n");
        }
        EdgeResponse {
            status: out.status,
            headers,
            body,
            stream: out.stream,
            log,
        }
    }

    /// One pass of the wrap-up follower (see `gateway`): the shell runs it
    /// whenever the last pass said (`next_wake`, epoch ms), and logs `log`.
    /// `None` and no log when nothing is followed or the edge is misconfigured.
    pub async fn follow_up(&self) -> (Option<u64>, String) {
        let Ok(run) = &self.setup else {
            return (None, String::new());
        };
        if run.cfg.wrap_up.is_none() {
            return (None, String::new());
        }
        match run.fleet.gateway(GatewayCommand::FollowUp).await {
            Ok(GatewayAnswer::FollowedUp { follow }) => (follow.next_wake, follow.log.join("\n")),
            // The coordinator failed this once: try again shortly.
            _ => (Some(run.now() + 5_000), String::new()),
        }
    }

    /// The next Server-Sent Events chunk of a stream `handle` opened: a
    /// `status` event when anything changed since `cursor` (then `end` once
    /// the call has ended), or a heartbeat comment after [`HEARTBEAT_MS`] of
    /// quiet, whatever the Genesys budget does. A pending call's stream turns
    /// into its call's once the outcome is found (`stream` changes).
    pub async fn next_event(&self, stream: &str, cursor: &str) -> NextEvent {
        let end = |chunk: String| NextEvent {
            chunk,
            stream: String::new(),
            cursor: String::new(),
            done: true,
            after: false,
        };
        let Ok(run) = &self.setup else {
            return end(String::new());
        };
        let Some(target) = StreamRef::parse(stream) else {
            return end(String::new());
        };
        let heartbeat = |stream: &str, cursor: &str| NextEvent {
            chunk: ": heartbeat\n\n".into(),
            stream: stream.to_string(),
            cursor: cursor.to_string(),
            done: false,
            after: false,
        };
        let clock = run.fleet.clock();
        match target {
            StreamRef::Ended { tag, id } => {
                let spread = id
                    .as_str()
                    .bytes()
                    .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                clock
                    .sleep(ENDED_NOTICE_MS + spread % ENDED_NOTICE_MS)
                    .await;
                run.ended(&tag, &id).await;
                end(String::new())
            }
            StreamRef::Call { tag, id } => {
                let watch = run.fleet.gateway(GatewayCommand::Watch {
                    conversation: id.as_str().to_string(),
                    cursor: cursor.to_string(),
                    wait_ms: HEARTBEAT_MS,
                });
                // The gateway answers after HEARTBEAT_MS of quiet; this catches
                // a coordinator that does not.
                let answer = match select(pin!(watch), pin!(clock.sleep(HEARTBEAT_MS + 500))).await
                {
                    Either::Left((a, _)) => a,
                    Either::Right(_) => return heartbeat(stream, cursor),
                };
                match answer {
                    Ok(GatewayAnswer::Status { view, first_end }) => {
                        // `id:` is the cursor: a reconnecting EventSource sends
                        // it back as Last-Event-ID and resumes from there (an
                        // ended call it already saw gets only its `end`).
                        let mut chunk = if view.fingerprint == cursor {
                            String::new()
                        } else {
                            [
                                "id: ",
                                &view.fingerprint,
                                "\nretry: 3000\nevent: status\ndata: ",
                                &view.json,
                                "\n\n",
                            ]
                            .concat()
                        };
                        if view.ended {
                            chunk.push_str("event: end\ndata: {}\n\n");
                        }
                        // The first end seen frees the number's cap: told by
                        // the shell's background step, after the visitor has
                        // the `end`.
                        NextEvent {
                            chunk,
                            stream: if first_end {
                                StreamRef::ended_ref(&tag, &id)
                            } else {
                                stream.to_string()
                            },
                            cursor: view.fingerprint,
                            done: view.ended,
                            after: first_end,
                        }
                    }
                    Ok(GatewayAnswer::Failed { error }) => {
                        let e: Error = error.into();
                        if is_budget_busy(&e) {
                            return heartbeat(stream, cursor);
                        }
                        let data = encode(&StreamError {
                            code: e.code.as_str(),
                            message: "The call's status is unavailable.",
                        });
                        end(["event: error\ndata: ", &data, "\n\n"].concat())
                    }
                    // Quiet, or the coordinator failed this once: keep the stream alive.
                    _ => heartbeat(stream, cursor),
                }
            }
            StreamRef::Pending { tag, ticket } => {
                let started = clock.now_ms();
                loop {
                    match run.resolve(&tag, ticket).await {
                        Resolution::Call(id) => {
                            return NextEvent {
                                chunk: String::new(),
                                stream: StreamRef::call_ref(&tag, &id),
                                cursor: String::new(),
                                done: false,
                                after: false,
                            }
                        }
                        Resolution::Unresolved => {
                            let data = encode(&StreamError {
                                code: "outcome_unknown",
                                message: "We could not confirm whether your call was placed. If your phone did not ring, you may try again.",
                            });
                            return end(["event: error\ndata: ", &data, "\n\n"].concat());
                        }
                        Resolution::Waiting(_) | Resolution::Unavailable => {}
                    }
                    let spent = clock.now_ms().saturating_sub(started);
                    if spent >= HEARTBEAT_MS {
                        return heartbeat(stream, cursor);
                    }
                    clock.sleep(PENDING_POLL_MS.min(HEARTBEAT_MS - spent)).await;
                }
            }
        }
    }
}

/// What an event stream follows: a placed call, or a reservation whose
/// outcome is being resolved. Held by the shell between pulls, never shown.
enum StreamRef {
    Call {
        tag: NumberTag,
        id: ConversationId,
    },
    Pending {
        tag: NumberTag,
        ticket: u64,
    },
    /// The call's end was streamed: tell the number's coordinator.
    Ended {
        tag: NumberTag,
        id: ConversationId,
    },
}

impl StreamRef {
    fn call_ref(tag: &NumberTag, id: &ConversationId) -> String {
        ["c:", &tag.name(), ":", id.as_str()].concat()
    }

    fn ended_ref(tag: &NumberTag, id: &ConversationId) -> String {
        ["e:", &tag.name(), ":", id.as_str()].concat()
    }

    fn pending_ref(tag: &NumberTag, ticket: u64) -> String {
        ["p:", &tag.name(), ":", &ticket.to_string()].concat()
    }

    fn parse(s: &str) -> Option<StreamRef> {
        let mut parts = s.splitn(3, ':');
        let (kind, tag, rest) = (parts.next()?, parts.next()?, parts.next()?);
        let tag = NumberTag::from_name(tag)?;
        match kind {
            "c" => Some(StreamRef::Call {
                tag,
                id: EntityId::parse(rest, "conversation").ok()?,
            }),
            "e" => Some(StreamRef::Ended {
                tag,
                id: EntityId::parse(rest, "conversation").ok()?,
            }),
            "p" => Some(StreamRef::Pending {
                tag,
                ticket: rest.parse().ok()?,
            }),
            _ => None,
        }
    }
}

/// What a pending handle refers to now.
enum Resolution {
    Call(ConversationId),
    /// Not known yet; ask again in about this long.
    Waiting(u64),
    /// The settle window ended without the outcome being found.
    Unresolved,
    Unavailable,
}

/// How long the number's admission may take before its outcome is
/// certainly reported (or presumed unknown): a token fetch, a budget wait,
/// the POST, a 429 retry, and a margin.
fn inflight_ms(cfg: &EdgeConfig) -> u64 {
    2 * cfg.request_timeout_ms + 2 * cfg.budget_wait_ms + 5_000
}

impl<F: Fleet> Running<F> {
    fn now(&self) -> u64 {
        self.fleet.clock().now_ms()
    }

    fn now_secs(&self) -> u64 {
        self.now() / 1000
    }

    /// The client address, from the one source this deployment trusts.
    fn client(&self, req: &EdgeRequest) -> Client {
        let (raw, source) = match &self.cfg.address_header {
            Some(_) => (req.address_header.as_deref(), "header"),
            None if req.connection.is_some() => (req.connection.as_deref(), "connection"),
            None => (None, "shared"),
        };
        let address = raw
            .filter(|a| client_bucket(a).is_some())
            .map(str::to_string);
        let bucket = raw
            .and_then(client_bucket)
            .map(|b| digest(&self.cfg.signing_key, &[b"address:", b.as_bytes()], 12))
            // Unknown: every such visitor shares one bucket (readiness warns).
            .unwrap_or_else(|| "shared".to_string());
        Client {
            bucket,
            source,
            address,
        }
    }

    fn warnings(&self, client: &Client) -> (&'static str, Vec<&'static str>) {
        let scope = self.fleet.scope();
        let mut warnings = Vec::new();
        match scope {
            Scope::Instance => warnings.push("guarantees are per instance: without the Durable Object bindings (Workers) or DENO_KV (Deno), idempotency, the one-call-per-number cap, the settle window, rate limits and the Genesys budget are not shared between instances"),
            Scope::Admission => warnings.push("the Genesys token, request budget and read cache are per instance: only admission (idempotency, the one-call-per-number cap, the settle window, rate limits) is shared between instances"),
            Scope::Fleet => {}
        }
        if client.source == "shared" {
            warnings.push("no trusted client address: every visitor shares one rate-limit bucket (set CLIENT_ADDRESS_HEADER when a proxy such as Cloudflare sets one)");
        }
        (scope.as_str(), warnings)
    }

    async fn route(&self, req: &EdgeRequest, client: &Client) -> Outcome {
        if req.body_error {
            return json_error(
                400,
                "invalid_input",
                "The request body could not be read.",
                "body read failed (framing or connection)",
            );
        }
        let path = req.path.trim_end_matches('/');
        let call = path
            .strip_prefix("/v1/calls/")
            .filter(|rest| !rest.is_empty());
        let (handle, events) = match call
            .map(|c| c.strip_suffix("/events").map_or((c, false), |h| (h, true)))
        {
            Some((h, e)) if !h.contains('/') => (Some(h), e),
            Some(_) => return json_error(404, "not_found", "No such resource.", "unknown path"),
            None => (None, false),
        };
        let callback = path
            .strip_prefix("/v1/callbacks/")
            .filter(|rest| !rest.is_empty());
        let allow = match (path, handle, events, callback) {
            ("/v1/healthz", _, _, _) => "GET, OPTIONS",
            ("/v1/calls", _, _, _) => "POST, OPTIONS",
            ("/v1/availability", _, _, _) => "GET, OPTIONS",
            ("/v1/callbacks", _, _, _) => "POST, OPTIONS",
            (_, None, _, Some(h)) if !h.contains('/') => "GET, DELETE, OPTIONS",
            (_, Some(_), false, _) => "GET, DELETE, OPTIONS",
            (_, Some(_), true, _) => "GET, OPTIONS",
            _ => return json_error(404, "not_found", "No such resource.", "unknown path"),
        };
        if req.method == "OPTIONS" {
            let mut o = ok(204, String::new());
            o.headers = vec![
                ("Access-Control-Allow-Methods".into(), allow.into()),
                (
                    "Access-Control-Allow-Headers".into(),
                    // Last-Event-ID: a reconnecting EventSource resumes its stream.
                    "Content-Type, Idempotency-Key, Last-Event-ID".into(),
                ),
                ("Access-Control-Max-Age".into(), "600".into()),
            ];
            return o;
        }
        if !allow.split(", ").any(|m| m == req.method) {
            let mut o = json_error(
                405,
                "invalid_input",
                "Method not allowed.",
                "method not allowed",
            );
            o.headers.push(("Allow".into(), allow.into()));
            return o;
        }
        if path == "/v1/availability" {
            if let Some(o) = self.read_refused(client).await {
                return o;
            }
            return self.availability().await;
        }
        if path == "/v1/callbacks" || callback.is_some() {
            if self.cfg.queue_id.is_none() {
                return json_error(
                    404,
                    "not_found",
                    "Callbacks are not offered here.",
                    "no GENESYS_QUEUE_ID: callbacks are off",
                );
            }
            let Some(h) = callback else {
                return self.schedule(req, client).await;
            };
            let target = handle::verify(
                &self.cfg.signing_key,
                h,
                self.now_secs(),
                self.cfg
                    .handle_ttl_secs
                    .max(self.cfg.callback_max_ahead_ms / 1000 + 86_400),
            );
            let Some(Handle::Callback { id, .. }) = target else {
                return json_error(
                    404,
                    "not_found",
                    "No such callback.",
                    "bad, foreign, expired or not a callback handle",
                );
            };
            if req.method == "GET" {
                if let Some(o) = self.read_refused(client).await {
                    return o;
                }
                return self.callback_status(&id).await;
            }
            return self.cancel_callback(&id).await;
        }
        let Some(h) = handle else {
            return match req.method.as_str() {
                "POST" => self.place(req, client).await,
                _ => self.ready(client).await,
            };
        };
        let Some(target) = handle::verify(
            &self.cfg.signing_key,
            h,
            self.now_secs(),
            self.cfg.handle_ttl_secs,
        ) else {
            return json_error(
                404,
                "not_found",
                "No such call.",
                "bad, foreign or expired handle",
            );
        };
        if req.method == "GET" {
            if let Some(o) = self.read_refused(client).await {
                return o;
            }
        }
        match (target, req.method.as_str(), events) {
            // A callback's handle is not a call's.
            (Handle::Callback { .. }, _, _) => json_error(
                404,
                "not_found",
                "No such call.",
                "a callback handle on a call route",
            ),
            (Handle::Call { id, number }, _, true) => {
                let mut o = ok(200, "retry: 3000\n\n".into());
                o.stream = Some(StreamRef::call_ref(&number, &id));
                o
            }
            (Handle::Pending { ticket, number }, _, true) => {
                let data = encode(&StreamError {
                    code: "call_may_be_ringing",
                    message: RINGING,
                });
                let mut o = ok(
                    200,
                    ["retry: 3000\n\nevent: pending\ndata: ", &data, "\n\n"].concat(),
                );
                o.stream = Some(StreamRef::pending_ref(&number, ticket));
                o
            }
            (Handle::Call { id, number }, "GET", _) => self.status(&number, &id).await,
            (Handle::Call { id, number }, _, _) => self.hang_up(&number, &id).await,
            (Handle::Pending { ticket, number }, method, _) => match self.resolve(&number, ticket).await {
                Resolution::Call(id) if method == "GET" => self.status(&number, &id).await,
                Resolution::Call(id) => self.hang_up(&number, &id).await,
                Resolution::Waiting(wait) => retry_after(
                    json_error(
                        if method == "GET" { 202 } else { 409 },
                        "call_may_be_ringing",
                        RINGING,
                        "pending call not resolved yet",
                    ),
                    wait.clamp(1_000, 5_000),
                ),
                Resolution::Unresolved => json_error(
                    410,
                    "outcome_unknown",
                    "We could not confirm whether your call was placed. If your phone did not ring, you may try again.",
                    "settle window ended unresolved",
                ),
                Resolution::Unavailable => unavailable("number coordinator"),
            },
        }
    }

    /// What `/v1/calls` and `/v1/callbacks` check the same way before
    /// anything else: a JSON body within the limit, and the Idempotency-Key
    /// (returned as a keyed digest; `kind` keeps a call's and a callback's
    /// keys apart).
    fn front_door(&self, req: &EdgeRequest, kind: &[u8]) -> Result<Option<String>, Box<Outcome>> {
        if req.body.len() > BODY_LIMIT {
            return Err(Box::new(json_error(
                413,
                "invalid_input",
                "The request is too large.",
                "body over the limit",
            )));
        }
        if !req.content_type.as_deref().is_some_and(|c| {
            c.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        }) {
            return Err(Box::new(json_error(
                415,
                "invalid_input",
                "Send JSON (Content-Type: application/json).",
                "content type",
            )));
        }
        match req.idempotency_key.as_deref() {
            Some(k)
                if k.is_empty() || k.len() > 128 || !k.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Err(Box::new(json_error(
                    400,
                    "invalid_input",
                    "Idempotency-Key must be 1 to 128 printable characters.",
                    "bad idempotency key",
                )))
            }
            // Stored as a keyed digest only.
            k => Ok(k.map(|k| digest(&self.cfg.signing_key, &[kind, k.as_bytes()], 18))),
        }
    }

    /// The client address's desk: its rate, and a key reused for another number.
    async fn admit_address(
        &self,
        client: &Client,
        key: &Option<String>,
        desk: &str,
    ) -> Result<(), Outcome> {
        match self
            .fleet
            .address(
                &client.bucket,
                AddressCommand::Admit {
                    key: key.clone(),
                    number: desk.to_string(),
                    rate: self.cfg.per_ip,
                },
            )
            .await
        {
            Err(u) => Err(unavailable(&u.0)),
            Ok(AddressAnswer::Reused) => Err(json_error(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used for another number; use a new key for a new number.",
                "idempotency key reused with another number",
            )),
            Ok(AddressAnswer::Limited { retry_after_ms }) => Err(retry_after(
                json_error(
                    429,
                    "rate_limited",
                    "Too many calls from your network; try again later.",
                    "per-ip limit",
                ),
                retry_after_ms,
            )),
            Ok(_) => Ok(()),
        }
    }

    /// The admission a call and a callback share, in order: the client
    /// address (its rate, a key reused for another number), the dial policy,
    /// the number's desk (a reservation), then Turnstile when configured.
    /// A refusal after the address step gives the key back; one after the
    /// reservation also settles it as not dialled.
    async fn admit(
        &self,
        client: &Client,
        key: &Option<String>,
        number: &E164,
        turnstile_token: Option<&str>,
        callback: bool,
    ) -> Result<Admitted, Outcome> {
        let tag = NumberTag::of(&self.cfg.signing_key, number);
        let desk = tag.name();

        // 1. The client address: its rate, and a key reused for another number.
        self.admit_address(client, key, &desk).await?;

        // 2. The dial policy (src/edge/policy.rs): the visitor reads its
        // reason; the log names country and type, never the whole number.
        if let Err(refused) = self.cfg.dial.check(number) {
            return Err(self
                .refuse(
                    client,
                    key,
                    json_error(
                        403,
                        "policy_denied",
                        &refused.visitor_message,
                        &refused.log_detail,
                    ),
                )
                .await);
        }

        // 3. The number: the same key or visitor again, an unknown outcome's
        // window, the cap and the number's rate; then a reservation.
        let (ticket, issued) = match self
            .admit_number(&tag, key.clone(), client, number, callback)
            .await
        {
            Ok(t) => t,
            Err((o, forget)) => {
                return Err(if forget {
                    self.refuse(client, key, o).await
                } else {
                    o
                })
            }
        };

        // 4. Turnstile, when configured.
        if let Some(secret) = &self.cfg.turnstile_secret {
            if !self
                .turnstile_ok(secret.expose(), turnstile_token, client)
                .await
            {
                self.settle(&desk, ticket, Settled::NotDialled).await;
                return Err(self
                    .refuse(
                        client,
                        key,
                        json_error(
                            403,
                            "policy_denied",
                            "The human check failed; reload the page and try again.",
                            "turnstile refused or unreachable",
                        ),
                    )
                    .await);
            }
        }
        Ok(Admitted {
            tag,
            desk,
            ticket,
            issued,
        })
    }

    /// A refusal after the address step: the Idempotency-Key goes back, so a
    /// retry may use it.
    async fn refuse(&self, client: &Client, key: &Option<String>, o: Outcome) -> Outcome {
        if let Some(k) = key {
            let _ = self
                .fleet
                .address(&client.bucket, AddressCommand::Forget { key: k.clone() })
                .await;
        }
        o
    }

    /// Reports a reservation's outcome to the number's desk. A lost report is
    /// covered: the reservation's deadline turns it unknown.
    async fn settle(&self, desk: &str, ticket: u64, outcome: Settled) {
        let _ = self
            .fleet
            .number(desk, NumberCommand::Settle { ticket, outcome })
            .await;
    }

    async fn place(&self, req: &EdgeRequest, client: &Client) -> Outcome {
        let key = match self.front_door(req, b"key:") {
            Ok(k) => k,
            Err(o) => return *o,
        };
        let (number, turnstile_token) = match parse_place_body(&req.body) {
            Ok(x) => x,
            Err(e) => return json_error(400, "invalid_input", &e.message, &e.message),
        };
        let Admitted {
            tag,
            desk,
            ticket,
            issued,
        } = match self
            .admit(client, &key, &number, turnstile_token.as_deref(), false)
            .await
        {
            Ok(a) => a,
            Err(o) => return o,
        };
        let masked = policy::mask_number(&number);
        let refuse = |o: Outcome| self.refuse(client, &key, o);
        let settle = |outcome: Settled| self.settle(&desk, ticket, outcome);

        // 5. The call.
        let answer = self
            .fleet
            .gateway(GatewayCommand::Place {
                number: number.as_str().to_string(),
            })
            .await;
        match answer {
            Ok(GatewayAnswer::Placed {
                conversation,
                warnings,
            }) => {
                let Ok(id) = EntityId::parse(&conversation, "conversation") else {
                    settle(Settled::Unknown).await;
                    return self.ringing(&tag, ticket, issued, "placed, unreadable id");
                };
                settle(Settled::Placed {
                    conversation: conversation.clone(),
                })
                .await;
                let h = handle::sign_call(&self.cfg.signing_key, &id, tag, issued / 1000);
                let mut o = ok(201, encode(&CallHandle::new(&h)));
                o.detail = ["placed to ", &masked].concat();
                // A refused lookup never blocks a call, but it is never silent.
                for w in &warnings {
                    o.detail.push_str("; agent check: ");
                    o.detail.push_str(w);
                }
                o
            }
            Ok(GatewayAnswer::Failed { error }) => {
                let e: Error = error.into();
                if e.code == ErrorCode::OutcomeUnknown {
                    settle(Settled::Unknown).await;
                    return self.ringing(&tag, ticket, issued, &upstream_detail(&e));
                }
                if e.code == ErrorCode::AgentUnavailable {
                    settle(Settled::NotDialled).await;
                    return refuse(
                        self.agent_unavailable(e.reason.unwrap_or("unknown"), &e.message),
                    )
                    .await;
                }
                settle(Settled::NotDialled).await;
                refuse(place_error(&e)).await
            }
            // The gateway failed mid-request (a Durable Object reset): the POST
            // may have gone out.
            Ok(_) | Err(Unavailable(_)) => {
                settle(Settled::Unknown).await;
                self.ringing(
                    &tag,
                    ticket,
                    issued,
                    "gateway unavailable during the call request",
                )
            }
        }
    }

    /// The per-client read limit (status reads, streams, availability),
    /// counted at the client address's desk: fleet-wide with the Durable
    /// Objects, like the call limit.
    async fn read_refused(&self, client: &Client) -> Option<Outcome> {
        let rate = self.cfg.per_ip_reads;
        match self
            .fleet
            .address(&client.bucket, AddressCommand::Read { rate })
            .await
        {
            Ok(AddressAnswer::Limited { retry_after_ms }) => Some(retry_after(
                json_error(
                    429,
                    "rate_limited",
                    "Too many status requests; try again shortly.",
                    "per-client read limit",
                ),
                retry_after_ms,
            )),
            Ok(_) => None,
            Err(u) => Some(unavailable(&u.0)),
        }
    }

    /// `OPENING_HOURS`, or always open (parsed once per instance, not per request).
    fn hours(&self) -> &OpeningHours {
        static ALWAYS: std::sync::OnceLock<OpeningHours> = std::sync::OnceLock::new();
        self.cfg.opening_hours.as_ref().unwrap_or_else(|| {
            ALWAYS.get_or_init(|| {
                OpeningHours::parse("Daily 00:00-24:00 UTC").expect("a valid constant")
            })
        })
    }

    fn now_ts(&self) -> Timestamp {
        Timestamp::from_millisecond(i64::try_from(self.now()).unwrap_or(i64::MAX))
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// `GET /v1/availability`: call now, or book a callback (and when).
    /// Opening hours come from this instance's clock; the agent and the
    /// queue's wait from the gateway, shared for a few seconds.
    async fn availability(&self) -> Outcome {
        let now = self.now_ts();
        let hours = self.hours();
        let open = hours.is_open(now);
        let callbacks = self.cfg.queue_id.is_some();
        let (agent, agent_reason, wait) = if open {
            match self.fleet.gateway(GatewayCommand::Availability).await {
                Ok(GatewayAnswer::Available { availability: a }) => {
                    (a.agent_available, a.reason, a.estimated_wait_seconds)
                }
                // Unknown: the call itself checks again.
                _ => (None, "unknown".to_string(), None),
            }
        } else {
            (None, "closed".to_string(), None)
        };
        let call_now = open && agent != Some(false);
        let mode = match (call_now, callbacks) {
            (true, _) => "call-now",
            (false, true) => "callback",
            (false, false) => "unavailable",
        };
        let max_ahead = std::time::Duration::from_millis(self.cfg.callback_max_ahead_ms);
        let slots: Vec<Slot> = if callbacks {
            hours
                .next_open_slots(now, MAX_OFFERED_SLOTS, self.cfg.callback_slot_minutes)
                .into_iter()
                .filter(|s| {
                    CallbackTime::parse(&s.utc, "slot")
                        .is_ok_and(|t| hours.allowed(t.timestamp(), now, max_ahead).is_ok())
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut o = ok(
            200,
            encode(&AvailabilityAnswer {
                mode,
                reason: (!call_now).then_some(agent_reason.as_str()),
                estimated_wait_seconds: wait,
                callbacks,
                next_slots: callbacks.then_some(slots.as_slice()),
                time_zone: self.cfg.opening_hours.as_ref().map(|h| h.zone()),
            }),
        );
        o.detail = ["mode ", mode].concat();
        o
    }

    /// `POST /v1/callbacks`: a queue callback, under the same desks, dial
    /// policy, Idempotency-Key and Turnstile as a call; its time inside
    /// opening hours and not too far ahead (422 otherwise, nothing booked).
    async fn schedule(&self, req: &EdgeRequest, client: &Client) -> Outcome {
        let key = match self.front_door(req, b"callback-key:") {
            Ok(k) => k,
            Err(o) => return *o,
        };
        let (number, at, turnstile_token) = match parse_callback_body(&req.body) {
            Ok(x) => x,
            Err(e) => return json_error(400, "invalid_input", &e.message, &e.message),
        };
        let now = self.now_ts();
        let when = at.as_ref().map_or(now, CallbackTime::timestamp);
        let max_ahead = std::time::Duration::from_millis(self.cfg.callback_max_ahead_ms);
        if let Err(refused) = self.hours().allowed(when, now, max_ahead) {
            let reason = match refused.reason {
                RefusalReason::Past => "past",
                RefusalReason::TooFarAhead => "too far ahead",
                RefusalReason::Closed => "closed",
            };
            return json_error(
                422,
                "invalid_input",
                &refused.message,
                &["callback time refused: ", reason].concat(),
            );
        }
        let Admitted {
            tag,
            desk,
            ticket,
            issued,
        } = match self
            .admit(client, &key, &number, turnstile_token.as_deref(), true)
            .await
        {
            Ok(a) => a,
            Err(o) => return o,
        };
        let masked = policy::mask_number(&number);
        let refuse = |o: Outcome| self.refuse(client, &key, o);
        let settle = |outcome: Settled| self.settle(&desk, ticket, outcome);
        let not_sure = |detail: &str| {
            retry_after(
                json_error(
                    202,
                    "outcome_unknown",
                    "We could not confirm that your callback was booked. Please wait a few minutes before trying again.",
                    detail,
                ),
                self.cfg.settle_ms,
            )
        };
        let answer = self
            .fleet
            .gateway(GatewayCommand::ScheduleCallback {
                number: number.as_str().to_string(),
                at: at.as_ref().map(|a| a.as_str().to_string()),
            })
            .await;
        match answer {
            Ok(GatewayAnswer::Scheduled { conversation }) => {
                let Ok(id) = EntityId::parse(&conversation, "conversation") else {
                    settle(Settled::Unknown).await;
                    return not_sure("scheduled, unreadable id");
                };
                settle(Settled::Placed {
                    conversation: conversation.clone(),
                })
                .await;
                // A booked callback is no call in progress: the number's cap is free.
                let _ = self
                    .fleet
                    .number(&desk, NumberCommand::Ended { conversation })
                    .await;
                let h = handle::sign_callback(&self.cfg.signing_key, &id, tag, issued / 1000);
                let mut o = ok(
                    201,
                    encode(&CallbackHandle::new(
                        &h,
                        at.as_ref().map(CallbackTime::as_str),
                    )),
                );
                o.detail = ["callback booked for ", &masked].concat();
                o
            }
            Ok(GatewayAnswer::Failed { error }) => {
                let e: Error = error.into();
                if e.code == ErrorCode::OutcomeUnknown {
                    settle(Settled::Unknown).await;
                    return not_sure(&upstream_detail(&e));
                }
                settle(Settled::NotDialled).await;
                refuse(place_error(&e)).await
            }
            Ok(_) | Err(Unavailable(_)) => {
                settle(Settled::Unknown).await;
                not_sure("gateway unavailable during the callback request")
            }
        }
    }

    async fn callback_status(&self, id: &ConversationId) -> Outcome {
        let answer = self
            .fleet
            .gateway(GatewayCommand::ReadCallback {
                conversation: id.as_str().to_string(),
            })
            .await;
        match answer {
            Ok(GatewayAnswer::Callback { json, .. }) => ok(200, json),
            Ok(GatewayAnswer::Failed { error }) => read_error(&error.into()),
            Ok(_) => unavailable("unexpected answer"),
            Err(u) => unavailable(&u.0),
        }
    }

    async fn cancel_callback(&self, id: &ConversationId) -> Outcome {
        let answer = self
            .fleet
            .gateway(GatewayCommand::CancelCallback {
                conversation: id.as_str().to_string(),
            })
            .await;
        match answer {
            Ok(GatewayAnswer::Done) => ok(204, String::new()),
            Ok(GatewayAnswer::Failed { error }) => read_error(&error.into()),
            Ok(_) => unavailable("unexpected answer"),
            Err(u) => unavailable(&u.0),
        }
    }

    /// The visitor's own call whose outcome is unknown: its pending handle.
    fn ringing(&self, tag: &NumberTag, ticket: u64, issued_ms: u64, detail: &str) -> Outcome {
        let mut o = json_error(202, "call_may_be_ringing", RINGING, detail);
        o.handle = Some(handle::sign_pending(
            &self.cfg.signing_key,
            ticket,
            *tag,
            issued_ms / 1000,
        ));
        o
    }

    /// `409 agent_unavailable`: nobody can take the call now; nothing was
    /// dialled. The body adds the reason key and whether callbacks are offered.
    fn agent_unavailable(&self, reason: &'static str, detail: &str) -> Outcome {
        let mut o = json_error(
            409,
            "agent_unavailable",
            "No one can take your call right now.",
            detail,
        );
        o.reason = Some(reason);
        o.callbacks = self.cfg.queue_id.is_some();
        o
    }

    /// Asks the number's desk until it reserves (the ticket and its time),
    /// answers, or refuses. `Err((answer, give the key back))`.
    async fn admit_number(
        &self,
        tag: &NumberTag,
        key: Option<String>,
        client: &Client,
        number: &E164,
        callback: bool,
    ) -> Result<(u64, u64), (Outcome, bool)> {
        let keyed = key.is_some();
        let desk = tag.name();
        let rules = NumberRules {
            rate: self.cfg.per_number,
            cap: self.cfg.max_concurrent_per_number,
            settle_ms: self.cfg.settle_ms,
            inflight_ms: inflight_ms(&self.cfg),
            retain_ms: self.cfg.handle_ttl_secs * 1000,
        };
        let started = self.now();
        loop {
            let answer = self
                .fleet
                .number(
                    &desk,
                    NumberCommand::Admit {
                        key: key.clone(),
                        client: client.bucket.clone(),
                        number: number.as_str().to_string(),
                        rules,
                    },
                )
                .await;
            return match answer {
                Ok(NumberAnswer::Reserved { ticket, at }) => Ok((ticket, at)),
                Ok(NumberAnswer::Wait { ms }) => {
                    if self.now().saturating_sub(started) >= DUPLICATE_WAIT_MS {
                        return Err((
                            json_error(
                                409,
                                "conflict",
                                "The same request is still being handled.",
                                "a call for this visitor is still being placed",
                            ),
                            true,
                        ));
                    }
                    self.fleet.clock().sleep(ms).await;
                    continue;
                }
                // Without a key, a replay is the visitor's call in progress:
                // not a callback.
                Ok(NumberAnswer::Replay { .. }) if callback && !keyed => Err((
                    json_error(
                        409,
                        "conflict",
                        "A call to this number is in progress.",
                        "callback asked during the visitor's call",
                    ),
                    true,
                )),
                Ok(NumberAnswer::Replay {
                    conversation, at, ..
                }) => {
                    let Ok(id) = EntityId::parse(&conversation, "conversation") else {
                        return Err((unavailable("bad record"), false));
                    };
                    let mut o = if callback {
                        let h = handle::sign_callback(&self.cfg.signing_key, &id, *tag, at / 1000);
                        ok(201, encode(&CallbackHandle::new(&h, None)))
                    } else {
                        let h = handle::sign_call(&self.cfg.signing_key, &id, *tag, at / 1000);
                        ok(201, encode(&CallHandle::new(&h)))
                    };
                    o.headers.push(("Idempotent-Replayed".into(), "true".into()));
                    o.detail = "replay of the visitor's call".into();
                    Err((o, false))
                }
                Ok(NumberAnswer::Ringing {
                    ticket,
                    at,
                    mine: true,
                    ..
                }) if !callback => Err((
                    self.ringing(tag, ticket, at, "settle window: same visitor"),
                    false,
                )),
                Ok(NumberAnswer::Ringing {
                    mine: true,
                    retry_after_ms,
                    ..
                }) => Err((
                    retry_after(
                        json_error(
                            409,
                            "outcome_unknown",
                            "We could not confirm your earlier request; please wait before trying again.",
                            "settle window: same visitor (callback)",
                        ),
                        retry_after_ms,
                    ),
                    false,
                )),
                Ok(NumberAnswer::Ringing { retry_after_ms, .. }) => Err((
                    retry_after(
                        json_error(
                            409,
                            "call_may_be_ringing",
                            "A call to this number may already be ringing; please wait before trying again.",
                            "settle window: another visitor",
                        ),
                        retry_after_ms,
                    ),
                    true,
                )),
                Ok(NumberAnswer::InProgress { retry_after_ms }) => Err((
                    retry_after(
                        json_error(
                            429,
                            "rate_limited",
                            "A call to this number is already in progress.",
                            "concurrent-call cap",
                        ),
                        retry_after_ms,
                    ),
                    true,
                )),
                Ok(NumberAnswer::Limited { retry_after_ms }) => Err((
                    retry_after(
                        json_error(
                            429,
                            "rate_limited",
                            "This number was called too often; try again later.",
                            "per-number limit",
                        ),
                        retry_after_ms,
                    ),
                    true,
                )),
                Ok(_) => Err((unavailable("unexpected answer"), true)),
                Err(u) => Err((unavailable(&u.0), true)),
            };
        }
    }

    /// What a pending handle refers to now; makes the one lookup when due.
    async fn resolve(&self, tag: &NumberTag, ticket: u64) -> Resolution {
        let desk = tag.name();
        match self
            .fleet
            .number(&desk, NumberCommand::Lookup { ticket })
            .await
        {
            Ok(NumberAnswer::Placed { conversation }) => {
                EntityId::parse(&conversation, "c").map_or(Resolution::Unresolved, Resolution::Call)
            }
            Ok(NumberAnswer::InFlight) => Resolution::Waiting(1_000),
            Ok(NumberAnswer::Unknown {
                lookup: Some(job),
                retry_after_ms,
            }) => {
                let found = self
                    .fleet
                    .gateway(GatewayCommand::Find {
                        number: job.number,
                        since: job.since,
                    })
                    .await;
                match found {
                    Ok(GatewayAnswer::Found { conversation }) => {
                        let _ = self
                            .fleet
                            .number(
                                &desk,
                                NumberCommand::Resolved {
                                    ticket,
                                    conversation: conversation.clone(),
                                },
                            )
                            .await;
                        match conversation.and_then(|c| EntityId::parse(&c, "c").ok()) {
                            Some(id) => Resolution::Call(id),
                            None => Resolution::Waiting(retry_after_ms),
                        }
                    }
                    // The read failed (busy, Genesys down): the lease runs out
                    // and a later reader tries again.
                    _ => Resolution::Waiting(retry_after_ms),
                }
            }
            Ok(NumberAnswer::Unknown { retry_after_ms, .. }) => Resolution::Waiting(retry_after_ms),
            Ok(NumberAnswer::Unresolved | NumberAnswer::Gone) => Resolution::Unresolved,
            Ok(_) | Err(_) => Resolution::Unavailable,
        }
    }

    /// Tells the number's desk the call ended (it no longer counts against the cap).
    async fn ended(&self, tag: &NumberTag, id: &ConversationId) {
        let _ = self
            .fleet
            .number(
                &tag.name(),
                NumberCommand::Ended {
                    conversation: id.as_str().to_string(),
                },
            )
            .await;
    }

    /// Cloudflare Turnstile siteverify; fails closed on any error.
    async fn turnstile_ok(&self, secret: &str, token: Option<&str>, client: &Client) -> bool {
        let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 2048) else {
            return false;
        };
        let mut form = vec![("secret", secret), ("response", token)];
        if let Some(a) = &client.address {
            form.push(("remoteip", a));
        }
        let req = HttpRequest::new(Method::Post, self.cfg.turnstile_verify_url.clone()).form(&form);
        match self.fleet.http().send(req, 5_000).await {
            Ok(r) if r.is_success() => decode::<SiteverifyAnswer>(&r.body).is_ok_and(|a| a.success),
            _ => false,
        }
    }

    async fn status(&self, tag: &NumberTag, id: &ConversationId) -> Outcome {
        let answer = self
            .fleet
            .gateway(GatewayCommand::Read {
                conversation: id.as_str().to_string(),
            })
            .await;
        match answer {
            Ok(GatewayAnswer::Status { view, first_end }) => {
                if first_end {
                    self.ended(tag, id).await;
                }
                ok(200, view.json)
            }
            Ok(GatewayAnswer::Failed { error }) => read_error(&error.into()),
            Ok(_) => unavailable("unexpected answer"),
            Err(u) => unavailable(&u.0),
        }
    }

    async fn hang_up(&self, tag: &NumberTag, id: &ConversationId) -> Outcome {
        let answer = self
            .fleet
            .gateway(GatewayCommand::HangUp {
                conversation: id.as_str().to_string(),
            })
            .await;
        match answer {
            Ok(GatewayAnswer::Done) => {
                self.ended(tag, id).await;
                ok(204, String::new())
            }
            Ok(GatewayAnswer::Failed { error }) => read_error(&error.into()),
            Ok(_) => unavailable("unexpected answer"),
            Err(u) => unavailable(&u.0),
        }
    }

    /// `GET /v1/healthz`: a token and one read of the agent (cached), and
    /// what the guarantees are.
    async fn ready(&self, client: &Client) -> Outcome {
        let (guarantees, warnings) = self.warnings(client);
        match self.fleet.gateway(GatewayCommand::Ready).await {
            Ok(GatewayAnswer::Ready { readiness }) => match readiness.failing.as_deref() {
                None => ok(
                    200,
                    encode(&Health {
                        ok: true,
                        guarantees,
                        client_address: client.source,
                        tracking: readiness.tracking.as_deref(),
                        warnings,
                    }),
                ),
                Some(piece) => {
                    let (message, detail) = match piece {
                        "credentials" => ("Genesys refused the client credentials: check GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET.", "readiness: token refused"),
                        "api" => ("Genesys is unreachable: check GENESYS_REGION (or GENESYS_API_BASE and GENESYS_LOGIN_BASE).", "readiness: Genesys unreachable"),
                        "agent" => ("Genesys does not know the agent: check GENESYS_AGENT_USER_ID.", "readiness: agent not found"),
                        "permissions" => ("The OAuth client lacks a permission it needs (see the README).", "readiness: permission missing"),
                        _ => ("Genesys is failing; try again shortly.", "readiness: Genesys error"),
                    };
                    json_error(503, "not_ready", message, detail)
                }
            },
            Ok(GatewayAnswer::Failed { error }) => read_error(&error.into()),
            Ok(_) => unavailable("unexpected answer"),
            Err(u) => unavailable(&u.0),
        }
    }
}

/// A coordinator could not answer: fail closed, and fast.
fn unavailable(detail: &str) -> Outcome {
    retry_after(
        json_error(
            503,
            "busy",
            "We're very busy — please try again in a minute.",
            &["coordinator unavailable: ", detail].concat(),
        ),
        5_000,
    )
}

fn busy(e: &Error) -> Outcome {
    retry_after(
        json_error(
            503,
            "busy",
            "We're very busy — please try again in a minute.",
            "Genesys request budget spent",
        ),
        e.retry_after_ms.unwrap_or(1_000),
    )
}

fn upstream_detail(e: &Error) -> String {
    let mut detail = String::from(e.code.as_str());
    detail.push_str(": ");
    detail.push_str(&e.message);
    if let Some(c) = &e.context_id {
        detail.push_str(" (Genesys contextId ");
        detail.push_str(c);
        detail.push(')');
    }
    detail
}

/// A failed create-call POST that certainly did not dial.
fn place_error(e: &Error) -> Outcome {
    let detail = upstream_detail(e);
    let unavailable = "The call service is unavailable right now; please try again later.";
    match e.code {
        _ if is_budget_busy(e) => busy(e),
        ErrorCode::RateLimited => retry_after(
            json_error(
                429,
                "rate_limited",
                "The call service is busy; try again shortly.",
                &detail,
            ),
            e.retry_after_ms.unwrap_or(30_000),
        ),
        // Configuration problems say which piece, in the log only.
        ErrorCode::NotFound => json_error(
            502,
            "server_error",
            unavailable,
            &[&detail, " [check GENESYS_AGENT_USER_ID]"].concat(),
        ),
        ErrorCode::AuthFailed => json_error(
            502,
            "server_error",
            unavailable,
            &[&detail, " [check GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET]"].concat(),
        ),
        _ => json_error(502, "server_error", unavailable, &detail),
    }
}

/// A failed read or hang-up.
fn read_error(e: &Error) -> Outcome {
    let detail = upstream_detail(e);
    match e.code {
        _ if is_budget_busy(e) => busy(e),
        ErrorCode::NotFound => json_error(404, "not_found", "No such call.", &detail),
        ErrorCode::RateLimited => retry_after(
            json_error(
                429,
                "rate_limited",
                "The call service is busy; try again shortly.",
                &detail,
            ),
            e.retry_after_ms.unwrap_or(30_000),
        ),
        _ => json_error(
            502,
            "server_error",
            "The call service is unavailable right now; please try again later.",
            &detail,
        ),
    }
}

/// Masks any phone-number-like run (7 or more digits, with an optional `+`)
/// in a log detail, whatever Genesys put in its message.
fn scrub_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = run.trim_start_matches('+').len();
        if digits >= 7 {
            out.push_str(&mask_number(&["+", run.trim_start_matches('+')].concat()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() || (c == '+' && run.is_empty()) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Strict JSON: an object with `phoneNumber` and, for Turnstile, `turnstileToken`.
/// Messages never echo the number, and echo field names only truncated.
fn parse_place_body(body: &str) -> Result<(E164, Option<String>), Error> {
    let v: PlaceCallBody = decode(body).map_err(|e| {
        Error::invalid_input(&[
            "The body must be a JSON object such as {\"phoneNumber\":\"+13175550100\"} (",
            &truncate_echo(&e),
            ").",
        ])
    })?;
    let number = v
        .phone_number
        .ok_or_else(|| Error::invalid_input(&["phoneNumber is required."]))?;
    let number = E164::parse(&number, "phoneNumber").map_err(|_| {
        Error::invalid_input(&["phoneNumber must be an international number such as +13175550100."])
    })?;
    Ok((number, v.turnstile_token))
}

/// Strict JSON: `phoneNumber`, optional `at` (ISO-8601 with an offset; absent:
/// as soon as possible) and, for Turnstile, `turnstileToken`.
fn parse_callback_body(body: &str) -> Result<(E164, Option<CallbackTime>, Option<String>), Error> {
    let v: CallbackBody = decode(body).map_err(|e| {
        Error::invalid_input(&[
            "The body must be a JSON object such as {\"phoneNumber\":\"+13175550100\",\"at\":\"2026-03-09T14:00:00Z\"} (",
            &truncate_echo(&e),
            ").",
        ])
    })?;
    let number = v
        .phone_number
        .ok_or_else(|| Error::invalid_input(&["phoneNumber is required."]))?;
    let number = E164::parse(&number, "phoneNumber").map_err(|_| {
        Error::invalid_input(&["phoneNumber must be an international number such as +13175550100."])
    })?;
    let at =
        v.at.map(|a| {
            CallbackTime::parse(&a, "at").map_err(|_| {
                Error::invalid_input(&[
                    "at must be a date and time with its offset, such as 2026-03-09T14:00:00Z.",
                ])
            })
        })
        .transpose()?;
    Ok((number, at, v.turnstile_token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_bodies_are_strict() {
        assert_eq!(
            parse_place_body(r#"{"phoneNumber":"+13175550100"}"#)
                .unwrap()
                .0
                .as_str(),
            "+13175550100"
        );
        assert_eq!(
            parse_place_body(r#"{"phoneNumber":"+13175550100","turnstileToken":"t"}"#)
                .unwrap()
                .1
                .as_deref(),
            Some("t")
        );
        for bad in [
            "",
            "{",
            "[]",
            r#"{"phoneNumber":13175550100}"#,
            r#"{"phoneNumber":"+13175550100","agent":"someone-else"}"#,
            r#"{"phoneNumber":"+13175550100","onBehalfOfUserId":"x"}"#,
            r#"{"phoneNumber":"+13175550100","signal":{}}"#,
            r#"{"phoneNumber":"call me"}"#,
            r#"{}"#,
        ] {
            let e = parse_place_body(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}");
        }
        let long = format!(
            r#"{{"phoneNumber":"+13175550100","{}":1}}"#,
            "f".repeat(4000)
        );
        assert!(parse_place_body(&long).unwrap_err().message.len() < 400);
        let e = parse_place_body(r#"{"phoneNumber":"+1317555010099999"}"#).unwrap_err();
        assert!(!e.message.contains("1317555010099999"), "{}", e.message);
    }

    #[test]
    fn log_details_never_hold_a_number() {
        assert_eq!(
            scrub_numbers("refused +13175550100 and 4470123456789 (contextId 1234)"),
            "refused +1 •••• ••• ••00 and +44 •••• ••• ••89 (contextId 1234)"
        );
    }

    #[test]
    fn stream_refs_round_trip() {
        let tag = NumberTag([7; 8]);
        let id = EntityId::parse("c0ffee00-0000-4000-8000-000000000001", "c").unwrap();
        assert!(matches!(
            StreamRef::parse(&StreamRef::call_ref(&tag, &id)),
            Some(StreamRef::Call { tag: t, id: i }) if t == tag && i == id
        ));
        assert!(matches!(
            StreamRef::parse(&StreamRef::pending_ref(&tag, 42)),
            Some(StreamRef::Pending { ticket: 42, .. })
        ));
        for bad in [
            "",
            "c:",
            "x:AAAAAAAAAAA:1",
            "p:AAAAAAAAAAA:zz",
            "c:AAAA:../x",
        ] {
            assert!(StreamRef::parse(bad).is_none(), "{bad}");
        }
    }
}
