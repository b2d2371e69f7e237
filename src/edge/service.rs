//! The edge handler's HTTP API, as one service generic over the client's
//! `Http` and `Clock`: every routing, validation, policy, CORS and limit
//! decision is made here (and tested on the host against genesys-sim); the
//! runtime entry files only translate Request/Response.
//!
//! Every refusal happens before any Genesys request. Visitors get generic
//! messages and a correlation id; the log line gets the detail (never a secret).

use std::cell::{Cell, RefCell};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::Mac;

use super::api::{
    CallHandle, ErrorAnswer, Health, LogLine, PlaceCallBody, PublicStatus, SiteverifyAnswer,
    StreamError,
};
use super::config::{EdgeConfig, Misconfigured, BODY_LIMIT};
use super::handle::{self, mac};
use super::limits::{ActiveCalls, Idem, Idempotency, SlidingLimiter};
use super::policy::{mask_number, origin_allowed};
use crate::auth::Credentials;
use crate::call::{ConversationId, PlaceCall, E164};
use crate::error::{Error, ErrorCode};
use crate::flow::{Client, ClientOptions, Clock, Http};
use crate::http::{HttpRequest, Method};
use crate::status::{CallStatus, Phase};
use crate::wire::{decode, encode};

/// How long an Idempotency-Key is remembered.
const IDEMPOTENCY_TTL_MS: u64 = 24 * 3600 * 1000;
/// A placed call counts against its number's concurrency cap for at most this long.
const ACTIVE_CALL_MAX_MS: u64 = 15 * 60 * 1000;
/// An SSE comment is sent when nothing changed for this long.
pub const HEARTBEAT_MS: u64 = 15_000;

/// Which platform rate limiter a check is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    PerAddress,
    PerNumber,
}

/// What the runtime may offer beyond one isolate's memory: Cloudflare's
/// rate-limiting bindings (shared by the whole fleet) and a KV namespace for
/// Idempotency-Keys. Each method answers `None` when nothing is bound, and the
/// service then uses its in-memory equivalent.
#[allow(async_fn_in_trait)]
pub trait Platform {
    /// `Some(allowed)` from a bound limiter.
    async fn limit(&self, which: Limit, key: &str) -> Option<bool>;
    /// A stored idempotency record (a handle, or "" for an unknown outcome).
    async fn recall(&self, key: &str) -> Option<String>;
    async fn remember(&self, key: &str, value: &str, ttl_secs: u64);
}

/// Nothing bound: memory only (tests, Deno, Workers without bindings).
pub struct MemoryOnly;

impl Platform for MemoryOnly {
    async fn limit(&self, _: Limit, _: &str) -> Option<bool> {
        None
    }
    async fn recall(&self, _: &str) -> Option<String> {
        None
    }
    async fn remember(&self, _: &str, _: &str, _: u64) {}
}

/// A request as the runtime shell hands it over.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EdgeRequest {
    pub method: String,
    /// The URL path, without the query string.
    pub path: String,
    pub origin: Option<String>,
    #[serde(rename = "ip")]
    pub client_ip: String,
    pub content_type: Option<String>,
    pub idempotency_key: Option<String>,
    /// The body, read up to [`BODY_LIMIT`] + 1 bytes by the shell.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EdgeResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// For `/events`: the shell streams [`EdgeService::next_event`] for this call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// One JSON log line for the runtime's log.
    pub log: String,
}

struct Running<H, C, P> {
    cfg: EdgeConfig,
    client: Client<H, C>,
    platform: P,
    per_ip: RefCell<SlidingLimiter>,
    per_number: RefCell<SlidingLimiter>,
    active: RefCell<ActiveCalls>,
    idempotency: RefCell<Idempotency>,
    streams: Cell<u32>,
}

pub struct EdgeService<H, C, P = MemoryOnly> {
    setup: Result<Running<H, C, P>, Misconfigured>,
    requests: Cell<u64>,
}

struct StreamGuard<'a>(&'a Cell<u32>);

impl Drop for StreamGuard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
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
        detail: String::new(),
    }
}

impl<H: Http, C: Clock> EdgeService<H, C, MemoryOnly> {
    pub fn new(
        http: H,
        clock: C,
        env: impl Fn(&str) -> Option<String>,
    ) -> EdgeService<H, C, MemoryOnly> {
        EdgeService::with_platform(http, clock, MemoryOnly, env)
    }
}

impl<H: Http, C: Clock, P: Platform> EdgeService<H, C, P> {
    pub fn with_platform(
        http: H,
        clock: C,
        platform: P,
        env: impl Fn(&str) -> Option<String>,
    ) -> EdgeService<H, C, P> {
        let setup = EdgeConfig::from_env(env).map(|cfg| {
            let creds = Credentials::ClientCredentials {
                client_id: cfg.client_id.clone(),
                client_secret: cfg.client_secret.clone(),
            };
            let mut opts = ClientOptions::new(cfg.endpoints.clone(), creds);
            opts.requests_per_minute = cfg.requests_per_minute;
            opts.poll_interval_ms = cfg.poll_interval_ms;
            let client = Client::new(http, clock, opts);
            Running {
                per_ip: RefCell::new(SlidingLimiter::new(cfg.per_ip)),
                per_number: RefCell::new(SlidingLimiter::new(cfg.per_number)),
                active: RefCell::new(ActiveCalls::default()),
                idempotency: RefCell::new(Idempotency::default()),
                streams: Cell::new(0),
                cfg,
                client,
                platform,
            }
        });
        EdgeService {
            setup,
            requests: Cell::new(0),
        }
    }

    fn correlation_id(&self, now: u64) -> String {
        let n = self.requests.get() + 1;
        self.requests.set(n);
        let key = self
            .setup
            .as_ref()
            .map(|r| r.cfg.signing_key.as_slice())
            .unwrap_or(b"unconfigured");
        let tag = mac(key, &[&n.to_be_bytes(), &now.to_be_bytes()])
            .finalize()
            .into_bytes();
        URL_SAFE_NO_PAD.encode(&tag[..12])
    }

    pub async fn handle(&self, req: EdgeRequest) -> EdgeResponse {
        let now = self
            .setup
            .as_ref()
            .map(|r| r.client.clock().now_ms())
            .unwrap_or(0);
        let corr = self.correlation_id(now);
        let mut headers = vec![
            ("Vary".to_string(), "Origin".to_string()),
            ("X-Correlation-Id".to_string(), corr.clone()),
        ];
        let out = match &self.setup {
            // A deploy check reads healthz: it is unavailable, not fine.
            Err(m) => json_error(
                if req.path.trim_end_matches('/') == "/v1/healthz" {
                    503
                } else {
                    500
                },
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
            Ok(run) => {
                match req.origin.as_deref() {
                    Some(o) if origin_allowed(&run.cfg.allowed_origins, o) => {
                        headers.push(("Access-Control-Allow-Origin".into(), o.to_string()));
                        headers.push((
                            "Access-Control-Expose-Headers".into(),
                            "Retry-After, X-Correlation-Id".into(),
                        ));
                        run.route(&req).await
                    }
                    // Browsers send Origin; a page from another site is refused outright.
                    Some(o) => json_error(
                        403,
                        "policy_denied",
                        "This site may not use the call service.",
                        &["origin not allowed: ", o].concat(),
                    ),
                    None => run.route(&req).await,
                }
            }
        };
        let body = match out.code {
            // The visitor gets the correlation id with every error.
            Some(code) => encode(&ErrorAnswer {
                code,
                message: &out.message,
                correlation_id: &corr,
            }),
            None => out.body,
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
        headers.push(("Cache-Control".into(), "no-store".into()));
        let log = encode(&LogLine {
            correlation_id: &corr,
            method: &req.method,
            path: &req.path,
            status: out.status,
            code: out.code,
            detail: (!out.detail.is_empty()).then_some(out.detail.as_str()),
            ip: &req.client_ip,
        });
        EdgeResponse {
            status: out.status,
            headers,
            body,
            stream: out.stream,
            log,
        }
    }

    /// The next Server-Sent Events chunk for a call being watched: a `status`
    /// event when anything changed since `cursor` (then `end` once the call has
    /// ended), or a heartbeat comment after [`HEARTBEAT_MS`] of quiet. Returns
    /// (chunk, new cursor, done).
    pub async fn next_event(&self, conversation: &str, cursor: &str) -> (String, String, bool) {
        let Ok(run) = &self.setup else {
            return (String::new(), String::new(), true);
        };
        let Ok(id) = crate::call::EntityId::parse(conversation, "conversation") else {
            return (String::new(), String::new(), true);
        };
        run.streams.set(run.streams.get() + 1);
        // Decremented however the wait ends, including when the stream is dropped.
        let _watching = StreamGuard(&run.streams);
        run.next_event(&id, cursor).await
    }
}

impl<H: Http, C: Clock, P: Platform> Running<H, C, P> {
    fn now(&self) -> u64 {
        self.client.clock().now_ms()
    }

    async fn route(&self, req: &EdgeRequest) -> Outcome {
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
        let allow = match (path, handle, events) {
            ("/v1/healthz", _, _) => "GET, OPTIONS",
            ("/v1/calls", _, _) => "POST, OPTIONS",
            (_, Some(_), false) => "GET, DELETE, OPTIONS",
            (_, Some(_), true) => "GET, OPTIONS",
            _ => return json_error(404, "not_found", "No such resource.", "unknown path"),
        };
        if req.method == "OPTIONS" {
            let mut o = ok(204, String::new());
            o.headers = vec![
                ("Access-Control-Allow-Methods".into(), allow.into()),
                (
                    "Access-Control-Allow-Headers".into(),
                    "Content-Type, Idempotency-Key".into(),
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
        match (req.method.as_str(), handle, events) {
            ("POST", None, _) => self.place(req).await,
            (_, None, _) => ok(200, encode(&Health { ok: true })),
            (method, Some(h), events) => match handle::verify(&self.cfg.signing_key, h) {
                None => json_error(404, "not_found", "No such call.", "bad or foreign handle"),
                Some(id) if events => {
                    let mut o = ok(200, "retry: 3000\n\n".into());
                    o.stream = Some(id.as_str().to_string());
                    o
                }
                Some(id) if method == "GET" => self.status(&id).await,
                Some(id) => self.hang_up(&id).await,
            },
        }
    }

    async fn place(&self, req: &EdgeRequest) -> Outcome {
        if req.body.len() > BODY_LIMIT {
            return json_error(
                413,
                "invalid_input",
                "The request is too large.",
                "body over the limit",
            );
        }
        if !req.content_type.as_deref().is_some_and(|c| {
            c.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        }) {
            return json_error(
                415,
                "invalid_input",
                "Send JSON (Content-Type: application/json).",
                "content type",
            );
        }
        let (number, turnstile_token) = match parse_place_body(&req.body) {
            Ok(x) => x,
            Err(e) => return json_error(400, "invalid_input", &e.message, &e.message),
        };
        let digits = number.as_str();
        let ip = req.client_ip.as_str();
        let key = match req.idempotency_key.as_deref() {
            Some(k)
                if k.is_empty() || k.len() > 128 || !k.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                return json_error(
                    400,
                    "invalid_input",
                    "Idempotency-Key must be 1 to 128 printable characters.",
                    "bad idempotency key",
                )
            }
            k => k,
        };
        // A repeat of a request that already placed its call: the same answer, no new call.
        if let Some(k) = key {
            if let Some(replay) = self.replay(ip, k).await {
                return replay;
            }
        }
        if let Err(refusal) = self.admit(ip, &number, turnstile_token.as_deref()).await {
            // Refused before any call: the key may be used again.
            if let Some(k) = key {
                self.idempotency.borrow_mut().abandon(ip, k);
            }
            return refusal;
        }
        let mut call = PlaceCall::new(number.clone());
        call.on_behalf_of = Some(self.cfg.agent.clone());
        call.caller_id = self.cfg.caller_id.clone();
        call.caller_id_name = self.cfg.caller_id_name.clone();
        call.call_from_queue_id = self.cfg.queue_id.clone();
        match self.client.place_call(&call, std::future::pending()).await {
            Ok(id) => {
                let h = handle::sign(&self.cfg.signing_key, &id);
                self.active
                    .borrow_mut()
                    .add(digits, id.as_str(), self.now());
                if let Some(k) = key {
                    self.remember_key(ip, k, &h).await;
                }
                let mut o = ok(201, handle_body(&h));
                o.detail = ["placed ", id.as_str(), " to ", &mask_number(&number)].concat();
                o
            }
            Err(e) => {
                if let Some(k) = key {
                    if e.code == ErrorCode::OutcomeUnknown {
                        // The call may exist: the key must never dial again.
                        self.remember_key(ip, k, "").await;
                    } else {
                        self.idempotency.borrow_mut().abandon(ip, k);
                    }
                }
                upstream_error(&e)
            }
        }
    }

    /// Every check a call must pass before Genesys is asked, in order: the
    /// caller's rate, the dial policy, the number's rate, the concurrency cap,
    /// and Turnstile when configured.
    async fn admit(
        &self,
        ip: &str,
        number: &E164,
        turnstile_token: Option<&str>,
    ) -> Result<(), Outcome> {
        let digits = number.as_str();
        let now = self.now();
        self.check_limit(Limit::PerAddress, ip, now)
            .await
            .map_err(|wait| {
                rate_limited(
                    wait,
                    "Too many calls from your network; try again later.",
                    "per-ip limit",
                )
            })?;
        // The dial policy (src/edge/policy.rs): the visitor reads its reason;
        // the log names country and type, never the whole number.
        self.cfg.dial.check(number).map_err(|refused| {
            json_error(
                403,
                "policy_denied",
                &refused.visitor_message,
                &refused.log_detail,
            )
        })?;
        self.check_limit(Limit::PerNumber, digits, now)
            .await
            .map_err(|wait| {
                rate_limited(
                    wait,
                    "This number was called too often; try again later.",
                    "per-number limit",
                )
            })?;
        if self
            .active
            .borrow_mut()
            .count(digits, now, ACTIVE_CALL_MAX_MS)
            >= self.cfg.max_concurrent_per_number as usize
        {
            return Err(rate_limited(
                30_000,
                "A call to this number is already in progress.",
                "concurrent-call cap",
            ));
        }
        if let Some(secret) = &self.cfg.turnstile_secret {
            if !self
                .turnstile_ok(secret.expose(), turnstile_token, ip)
                .await
            {
                return Err(json_error(
                    403,
                    "policy_denied",
                    "The human check failed; reload the page and try again.",
                    "turnstile refused or unreachable",
                ));
            }
        }
        Ok(())
    }

    /// `Some(answer)` when this key already placed (or is placing) its call.
    async fn replay(&self, ip: &str, key: &str) -> Option<Outcome> {
        // A double click arrives while the first request is still placing the call: wait for it.
        for _ in 0..600 {
            let mut state =
                self.idempotency
                    .borrow_mut()
                    .begin(ip, key, self.now(), IDEMPOTENCY_TTL_MS);
            if state == Idem::New {
                // Another isolate may have placed it: ask the shared store, if bound.
                if let Some(h) = self.platform.recall(&self.shared_key(ip, key)).await {
                    self.idempotency
                        .borrow_mut()
                        .finish(ip, key, &h, self.now());
                    state = Idem::Done(h);
                }
            }
            match state {
                Idem::New => return None,
                Idem::Done(h) if h.is_empty() => {
                    return Some(json_error(
                        502,
                        "outcome_unknown",
                        "We could not confirm whether the call was placed. Please wait for it before trying again.",
                        "idempotent replay of an unknown outcome",
                    ))
                }
                Idem::Done(h) => {
                    let mut o = ok(201, handle_body(&h));
                    o.headers.push(("Idempotent-Replayed".into(), "true".into()));
                    o.detail = "idempotent replay".into();
                    return Some(o);
                }
                Idem::Pending => self.client.clock().sleep(50).await,
            }
        }
        Some(json_error(
            409,
            "conflict",
            "The same request is still being handled.",
            "idempotency key still pending",
        ))
    }

    /// A bound platform limiter decides when there is one; memory otherwise.
    async fn check_limit(&self, which: Limit, key: &str, now: u64) -> Result<(), u64> {
        let (namespaced, memory) = match which {
            Limit::PerAddress => (["ip:", key].concat(), &self.per_ip),
            Limit::PerNumber => (["number:", key].concat(), &self.per_number),
        };
        match self.platform.limit(which, &namespaced).await {
            Some(true) => Ok(()),
            // The binding does not say when; its periods are 10 or 60 s.
            Some(false) => Err(60_000),
            None => memory.borrow_mut().hit(key, now),
        }
    }

    /// The shared-store key for an Idempotency-Key: keyed by HMAC, so neither
    /// the visitor's address nor their key is stored in the clear.
    fn shared_key(&self, ip: &str, key: &str) -> String {
        let tag = mac(
            &self.cfg.signing_key,
            &[ip.as_bytes(), b"\0", key.as_bytes()],
        )
        .finalize()
        .into_bytes();
        ["idem:", &URL_SAFE_NO_PAD.encode(&tag[..18])].concat()
    }

    /// Records what an Idempotency-Key led to (a handle, or "" for an unknown
    /// outcome), in memory and in the shared store when one is bound.
    async fn remember_key(&self, ip: &str, key: &str, handle: &str) {
        self.idempotency
            .borrow_mut()
            .finish(ip, key, handle, self.now());
        self.platform
            .remember(&self.shared_key(ip, key), handle, IDEMPOTENCY_TTL_MS / 1000)
            .await;
    }

    /// Cloudflare Turnstile siteverify; fails closed on any error.
    async fn turnstile_ok(&self, secret: &str, token: Option<&str>, ip: &str) -> bool {
        let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 2048) else {
            return false;
        };
        let req = HttpRequest::new(Method::Post, self.cfg.turnstile_verify_url.clone()).form(&[
            ("secret", secret),
            ("response", token),
            ("remoteip", ip),
        ]);
        match self.client.http().send(req, 5_000).await {
            Ok(r) if r.is_success() => decode::<SiteverifyAnswer>(&r.body).is_ok_and(|a| a.success),
            _ => false,
        }
    }

    async fn status(&self, id: &ConversationId) -> Outcome {
        match self.client.get_call(id).await {
            Ok((status, _)) => {
                if status.phase == Phase::Ended {
                    self.active.borrow_mut().ended(id.as_str());
                }
                ok(200, public_status(&status))
            }
            Err(e) => upstream_error(&e),
        }
    }

    async fn hang_up(&self, id: &ConversationId) -> Outcome {
        match self.client.hang_up(id, std::future::pending()).await {
            Ok(()) => {
                self.active.borrow_mut().ended(id.as_str());
                ok(204, String::new())
            }
            Err(e) => upstream_error(&e),
        }
    }

    async fn next_event(&self, id: &ConversationId, cursor: &str) -> (String, String, bool) {
        let started = self.now();
        loop {
            match self.client.get_call(id).await {
                Ok((status, _)) => {
                    let fp = status.fingerprint();
                    if fp != cursor {
                        let mut chunk =
                            ["event: status\ndata: ", &public_status(&status), "\n\n"].concat();
                        let done = status.phase == Phase::Ended;
                        if done {
                            self.active.borrow_mut().ended(id.as_str());
                            chunk.push_str("event: end\ndata: {}\n\n");
                        }
                        return (chunk, fp, done);
                    }
                }
                Err(e) => {
                    let data = encode(&StreamError {
                        code: e.code.as_str(),
                        message: "The call's status is unavailable.",
                    });
                    return (
                        ["event: error\ndata: ", &data, "\n\n"].concat(),
                        cursor.to_string(),
                        true,
                    );
                }
            }
            if self.now().saturating_sub(started) >= HEARTBEAT_MS {
                return (": heartbeat\n\n".into(), cursor.to_string(), false);
            }
            let wait = self.client.poll_interval_ms(self.streams.get());
            self.client.clock().sleep(wait.min(HEARTBEAT_MS)).await;
        }
    }
}

fn handle_body(h: &str) -> String {
    encode(&CallHandle::new(h))
}

fn rate_limited(wait_ms: u64, visitor: &str, detail: &str) -> Outcome {
    let mut o = json_error(429, "rate_limited", visitor, detail);
    let secs = wait_ms.div_ceil(1000).max(1).to_string();
    o.headers.push(("Retry-After".into(), secs));
    o
}

/// Genesys failed: a generic message for the visitor, the real one in the log.
fn upstream_error(e: &Error) -> Outcome {
    let mut detail = String::from(e.code.as_str());
    detail.push_str(": ");
    detail.push_str(&e.message);
    if let Some(c) = &e.context_id {
        detail.push_str(" (Genesys contextId ");
        detail.push_str(c);
        detail.push(')');
    }
    match e.code {
        ErrorCode::NotFound => json_error(404, "not_found", "No such call.", &detail),
        ErrorCode::OutcomeUnknown => {
            json_error(502, "outcome_unknown", "We could not confirm whether the call was placed. Please wait for it before trying again.", &detail)
        }
        ErrorCode::RateLimited => rate_limited(e.retry_after_ms.unwrap_or(30_000), "The call service is busy; try again shortly.", &detail),
        _ => json_error(502, "server_error", "The call service is unavailable right now; please try again later.", &detail),
    }
}

/// Strict JSON: an object with `phoneNumber` and, for Turnstile, `turnstileToken`.
fn parse_place_body(body: &str) -> Result<(E164, Option<String>), Error> {
    let v: PlaceCallBody = decode(body).map_err(|e| {
        Error::invalid_input(&[
            "The body must be a JSON object such as {\"phoneNumber\":\"+13175550100\"} (",
            &e,
            ").",
        ])
    })?;
    let number = v
        .phone_number
        .ok_or_else(|| Error::invalid_input(&["phoneNumber is required."]))?;
    Ok((E164::parse(&number, "phoneNumber")?, v.turnstile_token))
}

/// What a visitor may see of a call: phases and leg states, no names or ids.
fn public_status(s: &CallStatus) -> String {
    encode(&PublicStatus::of(s))
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
            assert_eq!(
                parse_place_body(bad).unwrap_err().code,
                ErrorCode::InvalidInput,
                "{bad}"
            );
        }
    }
}
