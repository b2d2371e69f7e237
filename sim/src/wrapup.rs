//! Wrap-up on ACD calls: the after-call-work fields of the agent participant,
//! applying a code (PATCH participant, its on-behalf twin, POST
//! communications/{commId}/wrapup) and reading it back (`…/wrapup`,
//! `…/wrapupcodes`). The same handlers serve `/conversations/callbacks/…`,
//! whose dialled call lives under the callback's conversation id.
//!
//! Decisions where Genesys is UNCONFIRMED: a code that is not one of the
//! queue's → 400 `bad.request` naming it; wrap-up on a non-ACD call or on the
//! customer leg → 400; a second wrap-up replaces the first (each one is in
//! the request log); writes answer 202 with no body.

use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Map, Value};

use crate::access::require_any;
use crate::api::with_call;
use crate::calls::Call;
use crate::frontdoor::{Corr, LogSeq};
use crate::org::Org;
use crate::requestlog::annotate;
use crate::routing::{participant_prompt, wrapup_code_json};
use crate::util::{api_error, field_error, iso, json_response};
use crate::{Principal, Shared};

const NOT_FOUND: &str = "The requested resource was not found.";
const MALFORMED: &str =
    "The request could not be understood by the server due to malformed syntax.";
/// Who may PATCH a participant (genesys-api.md §2.6).
const PATCH_PERMS: [&str; 3] = [
    "conversation:participant:wrapup",
    "conversation:call:record",
    "conversation:communication:disconnect",
];
/// The on-behalf twin also accepts the agentless permission.
const ON_BEHALF_PERMS: [&str; 4] = [
    "conversation:participant:wrapup",
    "conversation:call:record",
    "conversation:communication:disconnect",
    "conversation:agentlessCall:add",
];
const WRAPUP_PERMS: [&str; 1] = ["conversation:participant:wrapup"];

/// A call's after-call work, kept on the `Call` so every view shows it.
#[derive(Debug, Clone, Default)]
pub struct AfterCallWork {
    /// Placed with `callFromQueueId` (or a callback): the agent must wrap up.
    pub acd: bool,
    /// `wrapupPrompt` from the queue's ACW settings (known queues only).
    pub prompt: Option<&'static str>,
    /// The `Wrapup` shown on the agent participant, once applied.
    pub wrapup: Option<Map<String, Value>>,
    pub applied: Option<SystemTime>,
}

/// After-call work for a new call from `queue_id` (`None`: not an ACD call).
pub fn for_queue(org: &Org, queue_id: Option<&str>) -> AfterCallWork {
    AfterCallWork {
        acd: queue_id.is_some(),
        prompt: queue_id
            .and_then(|q| org.queue(q))
            .map(|q| participant_prompt(&q.wrapup_prompt)),
        ..AfterCallWork::default()
    }
}

/// Adds `wrapupPrompt`, `startAcwTime`, `wrapup` and `endAcwTime` to an agent
/// participant of an ACD call; ACW starts when the agent's leg ends.
pub fn agent_fields(p: &mut Map<String, Value>, acw: &AfterCallWork, ended: Option<SystemTime>) {
    if !acw.acd {
        return;
    }
    if let Some(prompt) = acw.prompt {
        p.insert("wrapupPrompt".into(), json!(prompt));
    }
    if let Some(end) = ended {
        p.insert("startAcwTime".into(), json!(iso(end)));
        if let Some(applied) = acw.applied {
            p.insert("endAcwTime".into(), json!(iso(applied.max(end))));
        }
    }
    if let Some(w) = &acw.wrapup {
        p.insert("wrapup".into(), Value::Object(w.clone()));
    }
}

/// A checked `WrapupInput` (code still to be matched against the queue).
struct WrapupInput {
    code: String,
    fields: Map<String, Value>,
}

/// Checks the types of a `WrapupInput`; `prefix` names its place in the body.
fn parse_input(v: &Value, prefix: &str, corr: &str) -> Result<WrapupInput, Response> {
    let name = |f: &str| format!("{prefix}{f}");
    let Some(obj) = v.as_object() else {
        return Err(field_error(
            corr,
            prefix.trim_end_matches('.'),
            "The wrap-up must be an object.",
        ));
    };
    let code = match obj.get("code") {
        Some(Value::String(c)) if !c.is_empty() => c.clone(),
        _ => {
            return Err(field_error(
                corr,
                &name("code"),
                "The wrap-up code (a wrap-up code id) is required.",
            ))
        }
    };
    let mut fields = Map::new();
    for (f, v) in obj {
        let ok = match (f.as_str(), v) {
            (_, Value::Null) => continue,
            ("code", _) => continue,
            ("name" | "notes", Value::String(_)) => true,
            ("tags", Value::Array(a)) => a.iter().all(Value::is_string),
            ("durationSeconds", n) => n.as_u64().is_some(),
            ("endTime", Value::String(s)) => crate::timestamp::parse_iso(s).is_some(),
            ("provisional" | "disableEndTimeUpdates", Value::Bool(_)) => true,
            (
                "name" | "notes" | "tags" | "endTime" | "provisional" | "disableEndTimeUpdates",
                _,
            ) => false,
            _ => continue, // Unknown fields are ignored, as Genesys does.
        };
        if !ok {
            return Err(field_error(
                corr,
                &name(f),
                &format!("Value for field [{}] has the wrong type.", name(f)),
            ));
        }
        if f != "disableEndTimeUpdates" {
            fields.insert(f.clone(), v.clone());
        }
    }
    Ok(WrapupInput { code, fields })
}

/// Which leg a participant id names.
enum Leg {
    Agent,
    Far,
}

fn leg_of(call: &Call, pid: &str) -> Option<Leg> {
    if call.spec.agent_pid == pid {
        Some(Leg::Agent)
    } else if call.spec.far_pid == pid {
        Some(Leg::Far)
    } else {
        None
    }
}

/// Applies a wrap-up to participant `pid` of call `cid`.
fn apply(
    sim: &Shared,
    p: &Principal,
    corr: &str,
    (cid, pid, comm): (&str, &str, Option<&str>),
    input: WrapupInput,
    field: &str,
) -> Result<(), Response> {
    let org = &sim.cfg.org;
    let outcome = with_call(sim, p, cid, |call| {
        let Some(leg) = leg_of(call, pid) else {
            return Err(api_error(404, "not.found", NOT_FOUND, corr));
        };
        if comm.is_some_and(|c| c != format!("{pid}-call")) {
            return Err(api_error(404, "not.found", NOT_FOUND, corr));
        }
        if matches!(leg, Leg::Far) {
            return Err(api_error(400, "bad.request", &format!("Participant [{pid}] is the external party: wrap-up is applied to the agent participant."), corr));
        }
        let Some(queue_id) = call.spec.queue_id.clone().filter(|_| call.acw.acd) else {
            return Err(api_error(400, "bad.request", &format!("Participant [{pid}] has no wrap-up: the call is not an ACD call (it was placed without callFromQueueId)."), corr));
        };
        let valid = org
            .queue(&queue_id)
            .is_some_and(|q| q.wrapup_codes.contains(&input.code));
        let Some(code) = org.wrapup_code(&input.code).filter(|_| valid) else {
            return Err(field_error(
                corr,
                field,
                &format!(
                    "The wrap-up code [{}] is not valid for queue [{queue_id}].",
                    input.code
                ),
            ));
        };
        let mut w = Map::new();
        w.insert("code".into(), json!(code.id));
        w.insert("name".into(), json!(code.name));
        for (k, v) in &input.fields {
            if k != "name" {
                w.insert(k.clone(), v.clone());
            }
        }
        // A second wrap-up replaces the first, as Genesys overwrites it.
        call.acw.wrapup = Some(w);
        call.acw.applied = Some(SystemTime::now());
        Ok(())
    });
    outcome.unwrap_or_else(|| Err(api_error(404, "not.found", NOT_FOUND, corr)))
}

/// The request log's record of a wrap-up: `{code, notes}`.
fn log_wrapup(sim: &Shared, seq: u64, input: &WrapupInput) {
    let mut w = Map::new();
    w.insert("code".into(), json!(input.code));
    if let Some(n) = input.fields.get("notes") {
        w.insert("notes".into(), n.clone());
    }
    let mut note = Map::new();
    note.insert("wrapup".into(), Value::Object(w));
    annotate(sim, seq, note);
}

fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

/// The body of a participant PATCH (`MediaParticipantRequest`).
fn patch(
    sim: &Shared,
    p: &Principal,
    corr: &str,
    seq: u64,
    (cid, pid): (&str, &str),
    body: &str,
) -> Response {
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(body) else {
        return api_error(400, "bad.request", MALFORMED, corr);
    };
    for f in ["recording", "muted", "confined", "held", "wrapupSkipped"] {
        if obj.get(f).is_some_and(|v| !v.is_boolean() && !v.is_null()) {
            return field_error(
                corr,
                f,
                &format!("Value for field [{f}] must be a boolean."),
            );
        }
    }
    let hang_up = match obj.get("state") {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) if s == "disconnected" => true,
        Some(_) => {
            return field_error(
                corr,
                "state",
                "Value [state] is not valid. genesys-sim accepts: disconnected",
            )
        }
    };
    let input = match obj.get("wrapup") {
        None | Some(Value::Null) => None,
        Some(w) => match parse_input(w, "wrapup.", corr) {
            Ok(i) => Some(i),
            Err(r) => return r,
        },
    };
    if let Some(input) = input {
        log_wrapup(sim, seq, &input);
        if let Err(r) = apply(sim, p, corr, (cid, pid, None), input, "wrapup.code") {
            return r;
        }
    }
    let found = with_call(sim, p, cid, |call| {
        let known = leg_of(call, pid).is_some();
        if known && hang_up {
            call.hang_up();
        }
        known
    });
    match found {
        Some(true) => accepted(),
        _ => api_error(404, "not.found", NOT_FOUND, corr),
    }
}

/// `PATCH /api/v2/conversations/{calls|callbacks}/{cid}/participants/{pid}`.
pub async fn patch_participant(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Extension(LogSeq(seq)): Extension<LogSeq>,
    Path((cid, pid)): Path<(String, String)>,
    body: String,
) -> Response {
    if let Err(r) = require_any(&p, &PATCH_PERMS, &corr) {
        return r;
    }
    patch(&sim, &p, &corr, seq, (&cid, &pid), &body)
}

/// `PATCH /api/v2/conversations/calls/{cid}/participants/{pid}/user/{userId}`:
/// the same update made on behalf of a user.
pub async fn patch_participant_on_behalf(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Extension(LogSeq(seq)): Extension<LogSeq>,
    Path((cid, pid, user_id)): Path<(String, String, String)>,
    body: String,
) -> Response {
    if let Err(r) = require_any(&p, &ON_BEHALF_PERMS, &corr) {
        return r;
    }
    if sim.cfg.org.user(&user_id).is_none() {
        return api_error(404, "not.found", NOT_FOUND, &corr);
    }
    patch(&sim, &p, &corr, seq, (&cid, &pid), &body)
}

/// `POST …/participants/{pid}/communications/{commId}/wrapup` with a `WrapupInput`.
pub async fn post_communication_wrapup(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Extension(LogSeq(seq)): Extension<LogSeq>,
    Path((cid, pid, comm)): Path<(String, String, String)>,
    body: String,
) -> Response {
    if let Err(r) = require_any(&p, &WRAPUP_PERMS, &corr) {
        return r;
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return api_error(400, "bad.request", MALFORMED, &corr);
    };
    let input = match parse_input(&v, "", &corr) {
        Ok(i) => i,
        Err(r) => return r,
    };
    log_wrapup(&sim, seq, &input);
    match apply(&sim, &p, &corr, (&cid, &pid, Some(&comm)), input, "code") {
        Ok(()) => accepted(),
        Err(r) => r,
    }
}

/// `AssignedWrapupCode` of a participant: `{}` until a wrap-up is applied.
fn assigned(
    sim: &Shared,
    p: &Principal,
    corr: &str,
    (cid, pid, comm): (&str, &str, Option<&str>),
) -> Response {
    let found = with_call(sim, p, cid, |call| {
        let leg = leg_of(call, pid)?;
        if comm.is_some_and(|c| c != format!("{pid}-call")) {
            return None;
        }
        let mut out = Map::new();
        if let (Leg::Agent, Some(w)) = (leg, &call.acw.wrapup) {
            for k in ["code", "notes", "tags", "durationSeconds", "endTime"] {
                if let Some(v) = w.get(k) {
                    out.insert(k.into(), v.clone());
                }
            }
        }
        Some(Value::Object(out))
    });
    match found.flatten() {
        Some(v) => json_response(200, v),
        None => api_error(404, "not.found", NOT_FOUND, corr),
    }
}

/// `GET …/participants/{pid}/wrapup`.
pub async fn get_wrapup(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path((cid, pid)): Path<(String, String)>,
) -> Response {
    assigned(&sim, &p, &corr, (&cid, &pid, None))
}

/// `GET …/participants/{pid}/communications/{commId}/wrapup`.
pub async fn get_communication_wrapup(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path((cid, pid, comm)): Path<(String, String, String)>,
) -> Response {
    assigned(&sim, &p, &corr, (&cid, &pid, Some(&comm)))
}

/// `GET …/participants/{pid}/wrapupcodes`: a bare array, the queue's codes for
/// the agent of an ACD call and `[]` otherwise.
pub async fn get_wrapup_codes(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path((cid, pid)): Path<(String, String)>,
) -> Response {
    let org = &sim.cfg.org;
    let found = with_call(&sim, &p, &cid, |call| {
        let leg = leg_of(call, &pid)?;
        let queue = call
            .spec
            .queue_id
            .as_deref()
            .filter(|_| matches!(leg, Leg::Agent) && call.acw.acd)
            .and_then(|q| org.queue(q));
        let codes: Vec<Value> = queue
            .map(|q| {
                org.queue_wrapup_codes(q)
                    .into_iter()
                    .map(wrapup_code_json)
                    .collect()
            })
            .unwrap_or_default();
        Some(Value::Array(codes))
    });
    match found.flatten() {
        Some(v) => json_response(200, v),
        None => api_error(404, "not.found", NOT_FOUND, &corr),
    }
}
