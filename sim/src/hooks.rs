//! Test hooks under `/__sim/`: the request log, fault injection, reset.
//!
//! `POST /__sim/faults` takes one fault or a list:
//! `{"method":"POST","path":"/api/v2/conversations/calls/*","when":"after",
//!   "status":503,"count":1}` — see the README for every field.

use std::collections::HashMap;

use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::util::json_response;
use crate::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// Instead of handling the request (Genesys did nothing).
    Before,
    /// After handling it (Genesys acted, then the answer was lost or broken).
    After,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    Delay,
    Status {
        status: u16,
        code: String,
        message: String,
        retry_after: Option<u64>,
    },
    Drop,
    Malformed,
}

#[derive(Debug, Clone)]
pub struct Fault {
    method: Option<String>,
    path: String,
    pub when: When,
    pub delay_ms: u64,
    pub action: FaultAction,
    remaining: Option<u32>,
    fraction: f64,
}

impl Fault {
    pub fn describe(&self) -> String {
        let what = match &self.action {
            FaultAction::Delay => "delay".to_string(),
            FaultAction::Status { status, .. } => format!("status {status}"),
            FaultAction::Drop => "drop".to_string(),
            FaultAction::Malformed => "malformed".to_string(),
        };
        format!(
            "{what} {} (+{} ms)",
            if self.when == When::Before {
                "before"
            } else {
                "after"
            },
            self.delay_ms
        )
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultSpec {
    method: Option<String>,
    path: String,
    when: Option<When>,
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
    retry_after: Option<u64>,
    delay_ms: Option<u64>,
    drop: Option<bool>,
    malformed: Option<bool>,
    count: Option<u32>,
    fraction: Option<f64>,
}

impl FaultSpec {
    fn into_fault(self) -> Result<Fault, String> {
        let kinds = usize::from(self.status.is_some())
            + usize::from(self.drop == Some(true))
            + usize::from(self.malformed == Some(true));
        if kinds > 1 {
            return Err("give at most one of status, drop, malformed".into());
        }
        if kinds == 0 && self.delay_ms.is_none() {
            return Err("a fault needs status, drop, malformed or delayMs".into());
        }
        let action = if let Some(status) = self.status {
            if !(400..=599).contains(&status) {
                return Err("status must be 400..599".into());
            }
            let code = self
                .code
                .unwrap_or_else(|| default_code(status).to_string());
            let message = self
                .message
                .unwrap_or_else(|| format!("Injected fault: HTTP {status}"));
            FaultAction::Status {
                status,
                code,
                message,
                retry_after: self.retry_after,
            }
        } else if self.drop == Some(true) {
            FaultAction::Drop
        } else if self.malformed == Some(true) {
            FaultAction::Malformed
        } else {
            FaultAction::Delay
        };
        let fraction = self.fraction.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&fraction) {
            return Err("fraction must be between 0 and 1".into());
        }
        Ok(Fault {
            method: self.method.map(|m| m.to_ascii_uppercase()),
            path: self.path,
            when: self.when.unwrap_or(When::Before),
            delay_ms: self.delay_ms.unwrap_or(0).min(600_000),
            action,
            remaining: match (self.count, self.fraction) {
                (Some(c), _) => Some(c),
                (None, Some(_)) => None,
                (None, None) => Some(1),
            },
            fraction,
        })
    }
}

fn default_code(status: u16) -> &'static str {
    match status {
        400 => "bad.request",
        401 => "bad.credentials",
        403 => "missing.permissions",
        404 => "not.found",
        409 => "conflict",
        429 => "too.many.requests.retry.after",
        503 => "service.unavailable",
        504 => "request.timeout",
        _ => "internal.server.error",
    }
}

/// `*` matches any run of characters (including `/`); everything else is literal.
fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, rest)) => {
            let Some(tail) = s.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| glob(rest, &tail[i..]))
        }
    }
}

/// The first armed fault matching the request, consumed.
pub fn take_fault(sim: &Shared, method: &str, path: &str) -> Option<Fault> {
    let mut inner = sim.lock();
    let idx = inner
        .faults
        .iter()
        .position(|f| f.method.as_deref().is_none_or(|m| m == method) && glob(&f.path, path))?;
    let f = &mut inner.faults[idx];
    // `fraction` was checked to be within 0..=1 when the fault was armed.
    if !rand::random_bool(f.fraction) {
        return None;
    }
    let fault = f.clone();
    if let Some(r) = &mut f.remaining {
        *r -= 1;
        if *r == 0 {
            inner.faults.remove(idx);
        }
    }
    Some(fault)
}

pub async fn requests(State(sim): State<Shared>) -> Response {
    let inner = sim.lock();
    json_response(
        200,
        json!({"requests": inner.log.iter().collect::<Vec<_>>()}),
    )
}

pub async fn add_faults(State(sim): State<Shared>, body: String) -> Response {
    let parsed: Result<Vec<FaultSpec>, String> = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Array(a)) => a
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
            .collect(),
        Ok(v) => serde_json::from_value(v)
            .map(|s| vec![s])
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let faults: Result<Vec<Fault>, String> =
        parsed.and_then(|specs| specs.into_iter().map(FaultSpec::into_fault).collect());
    match faults {
        Ok(fs) => {
            let n = fs.len();
            sim.lock().faults.extend(fs);
            json_response(201, json!({"armed": n}))
        }
        Err(e) => json_response(400, json!({"error": e})),
    }
}

pub async fn list_faults(State(sim): State<Shared>) -> Response {
    let inner = sim.lock();
    let list: Vec<Value> = inner.faults.iter().map(|f| json!({"method": f.method, "path": f.path, "fault": f.describe(), "remaining": f.remaining})).collect();
    json_response(200, json!({"faults": list}))
}

pub async fn clear_faults(State(sim): State<Shared>) -> Response {
    sim.lock().faults.clear();
    json_response(200, json!({"faults": []}))
}

/// Forgets calls, codes, rate counters, faults, the log and Notifications
/// channels (sockets closed, call timers cancelled), and puts presences,
/// callbacks (never dialled now) and EWT back to the seed. Issued tokens stay
/// valid, so a client under test keeps working across a reset.
pub async fn reset(State(sim): State<Shared>) -> Response {
    let mut inner = sim.lock();
    inner.routing = Default::default();
    inner.calls.clear();
    inner.codes.clear();
    inner.rate.clear();
    inner.faults.clear();
    inner.log.clear();
    inner.notify.reset();
    json_response(200, json!({"reset": true}))
}

/// A stand-in for Cloudflare Turnstile's siteverify, for edge tests: succeeds
/// only for secret `sim-turnstile-secret` and token `sim-turnstile-pass`.
pub async fn turnstile(form: Result<Form<HashMap<String, String>>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let get = |k: &str| form.get(k).map(String::as_str);
    let ok = get("secret") == Some("sim-turnstile-secret")
        && get("response") == Some("sim-turnstile-pass");
    let codes: Vec<&str> = if ok {
        vec![]
    } else {
        vec!["invalid-input-response"]
    };
    json_response(200, json!({"success": ok, "error-codes": codes}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matching() {
        assert!(glob(
            "/api/v2/conversations/calls/*",
            "/api/v2/conversations/calls/user/abc"
        ));
        assert!(glob("*", "/anything"));
        assert!(glob("/a/*/c", "/a/b/c"));
        assert!(!glob("/a/*/c", "/a/b/d"));
        assert!(glob("/oauth/token", "/oauth/token"));
        assert!(!glob("/oauth/token", "/oauth/tokens"));
    }

    #[test]
    fn specs_are_validated() {
        let spec = |s: &str| {
            serde_json::from_str::<FaultSpec>(s)
                .map_err(|e| e.to_string())
                .and_then(FaultSpec::into_fault)
        };
        assert!(spec(r#"{"path":"/x","status":503}"#).is_ok());
        assert!(spec(r#"{"path":"/x","delayMs":100}"#).is_ok());
        assert!(spec(r#"{"path":"/x"}"#).is_err());
        assert!(spec(r#"{"path":"/x","status":200}"#).is_err());
        assert!(spec(r#"{"path":"/x","status":503,"drop":true}"#).is_err());
        assert!(spec(r#"{"path":"/x","status":503,"bogus":1}"#).is_err());
        assert!(spec(r#"{"path":"/x","drop":true,"fraction":1.5}"#).is_err());
    }
}
