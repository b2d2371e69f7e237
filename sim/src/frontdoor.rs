//! What every request passes through: a correlation id, CORS, the body cap,
//! bearer-token checks and the per-token rate limit for `/api/v2/*`, injected
//! faults, and the request log.

use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{json, Value};

use crate::hooks::{FaultAction, When};
use crate::util::{api_error, iso, uuid};
use crate::{Principal, Shared, MAX_BODY_BYTES, MAX_LOG};

/// The correlation id of the current request, for handlers.
#[derive(Clone)]
pub struct Corr(pub String);

/// The request's `seq` in `/__sim/requests`, for handlers that add fields to it.
#[derive(Clone, Copy)]
pub struct LogSeq(pub u64);

pub async fn frontdoor(State(sim): State<Shared>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let corr = uuid();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let origin = req
        .headers()
        .get("origin")
        .and_then(|o| o.to_str().ok())
        .map(str::to_string);
    let is_api = path.starts_with("/api/v2/");
    let is_hook = path.starts_with("/__sim/");

    // CORS: preflights are answered here, before anything else.
    let cors_ok = origin
        .as_deref()
        .is_some_and(|o| cors_allowed(&sim, &path, o));
    let ex = Exchange {
        sim: sim.clone(),
        corr: corr.clone(),
        cors_origin: origin.clone().filter(|_| cors_ok),
        method: method.clone(),
        path: path.clone(),
        started,
        is_hook,
    };
    if method == Method::OPTIONS && req.headers().contains_key("access-control-request-method") {
        let mut r = if cors_ok {
            StatusCode::NO_CONTENT.into_response()
        } else {
            StatusCode::FORBIDDEN.into_response()
        };
        if cors_ok {
            preflight_headers(
                r.headers_mut(),
                origin.as_deref().unwrap_or_default(),
                req.headers(),
            );
        }
        return ex.finish(r, None, None);
    }

    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            let r = api_error(
                413,
                "request.entity.too.large",
                "The request body is larger than the 1 MB limit.",
                &corr,
            );
            return ex.finish(r, None, None);
        }
    };
    if is_hook {
        let mut req = Request::from_parts(parts, Body::from(bytes));
        req.extensions_mut().insert(Corr(corr.clone()));
        let r = next.run(req).await;
        return ex.finish(r, None, None);
    }

    let mut log = LogInfo {
        client_id: None,
        phone_number: None,
        fault: None,
        seq: 0,
    };
    if method == Method::POST
        && path.starts_with("/api/v2/conversations/calls")
        && !path.ends_with("/participants")
    {
        log.phone_number = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
            v.get("phoneNumber")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    }
    if path == "/oauth/token" {
        log.client_id = oauth_client_id(&parts.headers, &bytes);
    }

    // Bearer token and rate limit for the API host.
    let mut principal = None;
    if is_api {
        match authenticate(&sim, &parts.headers, &corr) {
            Ok(p) => {
                log.client_id = Some(p.client_id.clone());
                if let Some(retry_after) = rate_limited(&sim, &p.token) {
                    let mut r = api_error(
                        429,
                        "too.many.requests.retry.after",
                        &format!("Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds"),
                        &corr,
                    );
                    r.headers_mut()
                        .insert("retry-after", HeaderValue::from(retry_after));
                    return ex.finish(r, Some(log), None);
                }
                principal = Some(p);
            }
            Err(r) => return ex.finish(r, Some(log), None),
        }
    }

    let fault = crate::hooks::take_fault(&sim, method.as_str(), &path);
    if let Some(f) = &fault {
        log.fault = Some(f.describe());
    }
    // From here on the request may do something (create a call), so it is in the
    // log from its arrival: a client that gives up must not hide it.
    log.seq = arrive(&sim, &method, &path, &log);
    let _abandon = Abandoned {
        sim: sim.clone(),
        seq: log.seq,
    };
    let mut dropped = false;
    let before = fault.as_ref().filter(|f| f.when == When::Before);
    if let Some(f) = before {
        tokio::time::sleep(Duration::from_millis(f.delay_ms)).await;
        if let Some(r) = fault_response(&f.action, &corr, &mut dropped) {
            return ex.finish(r, Some(log), Some(dropped));
        }
    }

    let mut req = Request::from_parts(parts, Body::from(bytes));
    req.extensions_mut().insert(Corr(corr.clone()));
    req.extensions_mut().insert(LogSeq(log.seq));
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    let mut r = next.run(req).await;

    if let Some(f) = fault.as_ref().filter(|f| f.when == When::After) {
        tokio::time::sleep(Duration::from_millis(f.delay_ms)).await;
        if let Some(replaced) = fault_response(&f.action, &corr, &mut dropped) {
            r = replaced;
        }
    }
    ex.finish(r, Some(log), Some(dropped))
}

struct LogInfo {
    client_id: Option<String>,
    phone_number: Option<String>,
    fault: Option<String>,
    /// The log entry written on arrival (0: none yet).
    seq: u64,
}

/// Marks a logged request `abandoned` if its handling is dropped before an
/// answer (the client went away mid-request); a no-op once it has a status.
struct Abandoned {
    sim: Shared,
    seq: u64,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        let mut inner = self.sim.lock();
        if let Some(e) = inner.log.iter_mut().rev().find(|e| e["seq"] == self.seq) {
            if e.get("status").is_none() {
                e["abandoned"] = json!(true);
            }
        }
    }
}

fn entry(
    seq: u64,
    sim: &Shared,
    method: &Method,
    path: &str,
    info: &LogInfo,
) -> serde_json::Map<String, Value> {
    let mut e = serde_json::Map::new();
    e.insert("seq".into(), json!(seq));
    e.insert("time".into(), json!(iso(std::time::SystemTime::now())));
    e.insert(
        "elapsedMs".into(),
        json!(sim.started.elapsed().as_millis() as u64),
    );
    e.insert("method".into(), json!(method.as_str()));
    e.insert("path".into(), json!(path));
    if let Some(c) = &info.client_id {
        e.insert("clientId".into(), json!(c));
    }
    if let Some(p) = &info.phone_number {
        e.insert("phoneNumber".into(), json!(p));
    }
    if let Some(f) = &info.fault {
        e.insert("fault".into(), json!(f));
    }
    e
}

fn push(inner: &mut crate::Inner, e: serde_json::Map<String, Value>) {
    inner.log.push_back(Value::Object(e));
    if inner.log.len() > MAX_LOG {
        inner.log.pop_front();
    }
}

fn arrive(sim: &Shared, method: &Method, path: &str, info: &LogInfo) -> u64 {
    let mut inner = sim.lock();
    inner.seq += 1;
    let seq = inner.seq;
    let e = entry(seq, sim, method, path, info);
    push(&mut inner, e);
    seq
}

fn cors_allowed(sim: &Shared, path: &str, origin: &str) -> bool {
    if path == "/oauth/token" {
        // Only public (PKCE) clients' origins: a secret must never be used from a page.
        sim.cfg
            .org
            .clients
            .iter()
            .any(|c| c.secret.is_none() && c.allows_origin(origin))
    } else {
        sim.cfg.org.origin_allowed(origin)
    }
}

fn preflight_headers(h: &mut HeaderMap, origin: &str, req: &HeaderMap) {
    const ALLOWED: [&str; 4] = ["authorization", "content-type", "accept", "idempotency-key"];
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    let requested = req
        .get("access-control-request-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok: Vec<&str> = requested
        .split(',')
        .map(str::trim)
        .filter(|x| ALLOWED.contains(&x.to_ascii_lowercase().as_str()))
        .collect();
    let allow = if ok.is_empty() {
        "Authorization, Content-Type".to_string()
    } else {
        ok.join(", ")
    };
    if let Ok(v) = HeaderValue::from_str(&allow) {
        h.insert("access-control-allow-headers", v);
    }
    h.insert("access-control-max-age", HeaderValue::from_static("600"));
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert("access-control-allow-origin", v);
    }
    h.insert("vary", HeaderValue::from_static("Origin"));
}

fn oauth_client_id(h: &HeaderMap, body: &Bytes) -> Option<String> {
    if let Some((id, _)) = basic_credentials(h) {
        return Some(id);
    }
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "client_id")
        .map(|(_, v)| v.into_owned())
}

/// `Authorization: Basic base64(id:secret)`.
pub fn basic_credentials(h: &HeaderMap) -> Option<(String, String)> {
    let v = h.get("authorization")?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (id, secret) = s.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

fn authenticate(sim: &Shared, h: &HeaderMap, corr: &str) -> Result<Principal, Response> {
    let bearer = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim().to_string())
        })
        .filter(|t| !t.is_empty());
    let Some(token) = bearer else {
        return Err(api_error(
            401,
            "authentication.required",
            "No authentication bearer token specified in authorization header.",
            corr,
        ));
    };
    let inner = sim.lock();
    let Some(rec) = inner.tokens.get(&token) else {
        return Err(api_error(
            401,
            "bad.credentials",
            "Invalid login credentials.",
            corr,
        ));
    };
    if rec.expires <= Instant::now() {
        return Err(api_error(
            401,
            "credentials.expired",
            "The supplied credentials are expired and cannot be used.",
            corr,
        ));
    }
    let permissions = sim
        .cfg
        .org
        .client(&rec.client_id)
        .map(|c| c.permissions.clone())
        .unwrap_or_default();
    Ok(Principal {
        token,
        client_id: rec.client_id.clone(),
        user_id: rec.user_id.clone(),
        permissions,
    })
}

/// Counts a request against the token's window; `Some(seconds)` when over the limit.
fn rate_limited(sim: &Shared, token: &str) -> Option<u64> {
    let window = sim.cfg.rate_window;
    let mut inner = sim.lock();
    let now = Instant::now();
    let entry = inner.rate.entry(token.to_string()).or_insert((now, 0));
    if now.duration_since(entry.0) >= window {
        *entry = (now, 0);
    }
    if entry.1 >= sim.cfg.rate_limit {
        let left = window.saturating_sub(now.duration_since(entry.0));
        return Some(left.as_secs_f64().ceil().max(1.0) as u64);
    }
    entry.1 += 1;
    None
}

fn fault_response(action: &FaultAction, corr: &str, dropped: &mut bool) -> Option<Response> {
    match action {
        FaultAction::Delay => None,
        FaultAction::Status {
            status,
            code,
            message,
            retry_after,
        } => {
            let mut r = api_error(*status, code, message, corr);
            if let Some(s) = retry_after {
                r.headers_mut().insert("retry-after", HeaderValue::from(*s));
            }
            Some(r)
        }
        FaultAction::Malformed => {
            let mut r = (StatusCode::OK, "{\"id\": \"c0ffee00-trunc").into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            Some(r)
        }
        FaultAction::Drop => {
            *dropped = true;
            // A body that fails at once makes hyper abort the connection: the
            // client sees a reset, not a response.
            let stream = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by fault"))
            });
            Some(Response::new(Body::from_stream(stream)))
        }
    }
}

/// One request's context, for answering it and logging it the same way on
/// every path (preflight, cap, auth, rate limit, fault, handler).
struct Exchange {
    sim: Shared,
    corr: String,
    cors_origin: Option<String>,
    method: Method,
    path: String,
    started: Instant,
    is_hook: bool,
}

impl Exchange {
    fn finish(&self, mut r: Response, log: Option<LogInfo>, dropped: Option<bool>) -> Response {
        let (sim, corr, cors_origin, method, path, started, is_hook) = (
            &self.sim,
            self.corr.as_str(),
            self.cors_origin.as_deref(),
            &self.method,
            self.path.as_str(),
            self.started,
            self.is_hook,
        );
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(corr) {
            h.insert("inin-correlation-id", v);
        }
        if let Some(o) = cors_origin.and_then(|o| HeaderValue::from_str(o).ok()) {
            h.insert("access-control-allow-origin", o);
            h.insert(
                "access-control-expose-headers",
                HeaderValue::from_static("ININ-Correlation-Id, Retry-After"),
            );
            h.append("vary", HeaderValue::from_static("Origin"));
        }
        if is_hook {
            return r;
        }
        let status = r.status().as_u16();
        // Response size, for the benchmarks' bytes-per-call figures.
        let bytes = axum::body::HttpBody::size_hint(r.body()).exact();
        let dropped = dropped.unwrap_or(false);
        let info = log.unwrap_or(LogInfo {
            client_id: None,
            phone_number: None,
            fault: None,
            seq: 0,
        });
        if !sim.cfg.quiet {
            eprintln!(
                "{} {} {} {} {}ms client={} corr={}",
                iso(std::time::SystemTime::now()),
                method,
                path,
                if dropped {
                    "dropped".to_string()
                } else {
                    status.to_string()
                },
                started.elapsed().as_millis(),
                info.client_id.as_deref().unwrap_or("-"),
                corr
            );
        }
        let mut inner = sim.lock();
        let existing = (info.seq > 0)
            .then(|| inner.log.iter_mut().rev().find(|e| e["seq"] == info.seq))
            .flatten();
        let e = match existing {
            Some(e) => e,
            None => {
                inner.seq += 1;
                let seq = inner.seq;
                let e = entry(seq, sim, method, path, &info);
                push(&mut inner, e);
                inner.log.back_mut().expect("just pushed")
            }
        };
        e["status"] = json!(status);
        e["correlationId"] = json!(corr);
        if let Some(len) = bytes {
            e["bytes"] = json!(len);
        }
        if dropped {
            e["dropped"] = json!(true);
        }
        r
    }
}
