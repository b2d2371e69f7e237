//! The API host: calls, conversations, the signed-in user, token info.
//! (Availability is in `users.rs`, queues in `routing.rs`, wrap-up in
//! `wrapup.rs`, callbacks in `callbacks.rs`.)
//! Bodies follow genesys-api.md §3–§6: camelCase, absent fields omitted,
//! `ErrorBody` on errors.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Map, Value};

use crate::calls::{Call, NewCall};
use crate::frontdoor::Corr;
use crate::org::User;
use crate::util::{api_error, field_error, json_response, uuid};
use crate::{Principal, Shared, ENDED_CALL_TTL, MAX_CALLS};

const USER_CONTEXT: &str = "This request requires a user context. Client credentials cannot be used for requests to this resource.";
const NOT_FOUND: &str = "The requested resource was not found.";
const MALFORMED: &str =
    "The request could not be understood by the server due to malformed syntax.";

pub(crate) fn is_e164(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or("");
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

pub async fn create_call_as_user(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    body: String,
) -> Response {
    let Some(user_id) = p.user_id.clone() else {
        return api_error(400, "bad.request", USER_CONTEXT, &corr);
    };
    match sim.cfg.org.user(&user_id) {
        Some(user) => create_call(&sim, &p, &corr, user.clone(), &body),
        None => api_error(404, "not.found", NOT_FOUND, &corr),
    }
}

pub async fn create_call_on_behalf(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(user_id): Path<String>,
    body: String,
) -> Response {
    const NEEDED: [&str; 2] = ["conversation:agentlessCall:add", "conversation:call:add"];
    if !p.has_any(&NEEDED) {
        let msg = "Unable to perform the requested action. You must have at least one of the following permissions assigned: [conversation:agentlessCall:add, conversation:call:add]";
        return api_error(403, "missing.any.permissions", msg, &corr);
    }
    match sim.cfg.org.user(&user_id) {
        Some(user) => create_call(&sim, &p, &corr, user.clone(), &body),
        None => api_error(404, "not.found", NOT_FOUND, &corr),
    }
}

fn create_call(sim: &Shared, p: &Principal, corr: &str, agent: User, body: &str) -> Response {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return api_error(400, "bad.request", MALFORMED, corr);
    };
    let Some(obj) = v.as_object() else {
        return api_error(400, "bad.request", MALFORMED, corr);
    };
    // Types of every CreateCallRequest field; unknown fields are ignored like Genesys does.
    const STRINGS: [&str; 12] = [
        "phoneNumber",
        "callerId",
        "callerIdName",
        "callFromQueueId",
        "callQueueId",
        "callUserId",
        "languageId",
        "routingSkillExpression",
        "uuiData",
        "externalContactId",
        "label",
        "priority",
    ];
    for f in STRINGS {
        let ok = match (f, obj.get(f)) {
            (_, None | Some(Value::Null)) => true,
            ("priority", Some(v)) => v.is_i64(),
            (_, Some(v)) => v.is_string(),
        };
        if !ok {
            return field_error(
                corr,
                f,
                &format!("Value for field [{f}] has the wrong type."),
            );
        }
    }
    for f in ["routingSkillsIds", "conversationIds", "participants"] {
        if obj.get(f).is_some_and(|v| !v.is_array() && !v.is_null()) {
            return field_error(corr, f, &format!("Value for field [{f}] must be a list."));
        }
    }
    let attributes = match obj.get("attributes") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) if m.values().all(Value::is_string) => m.clone(),
        Some(_) => {
            return field_error(
                corr,
                "attributes",
                "Value for field [attributes] must be a map of strings.",
            )
        }
    };
    for f in [
        "callQueueId",
        "callUserId",
        "participants",
        "conversationIds",
    ] {
        if obj.get(f).is_some_and(|v| !v.is_null()) {
            return field_error(
                corr,
                f,
                &format!(
                    "genesys-sim only simulates calls to a phoneNumber; [{f}] is not supported."
                ),
            );
        }
    }
    let number = obj
        .get("phoneNumber")
        .and_then(Value::as_str)
        .map(|n| n.strip_prefix("tel:").unwrap_or(n));
    let Some(number) = number.filter(|n| is_e164(n)) else {
        return field_error(corr, "phoneNumber", "The phoneNumber must be a valid phone number in E.164 format, for example +13175550100.");
    };
    let caller_id = obj
        .get("callerId")
        .and_then(Value::as_str)
        .map(str::to_string);
    if caller_id
        .as_deref()
        .is_some_and(|c| !is_e164(c.strip_prefix("tel:").unwrap_or(c)))
    {
        return field_error(
            corr,
            "callerId",
            "The callerId must be a valid phone number in E.164 format.",
        );
    }
    let id = uuid();
    let mut call = Call::new(NewCall {
        id: id.clone(),
        owner: p.owner(),
        agent_id: agent.id.clone(),
        agent_name: agent.name.clone(),
        // A do-not-disturb presence turns a working station into one that rejects.
        station: crate::users::station_for_call(sim, &agent),
        number: number.to_string(),
        caller_id,
        caller_id_name: obj
            .get("callerIdName")
            .and_then(Value::as_str)
            .map(str::to_string),
        queue_id: obj
            .get("callFromQueueId")
            .and_then(Value::as_str)
            .map(str::to_string),
        attributes,
        agent_pid: uuid(),
        far_pid: uuid(),
        scale: sim.cfg.time_scale,
    });
    call.acw = crate::wrapup::for_queue(&sim.cfg.org, call.spec.queue_id.as_deref());
    let mut inner = sim.lock();
    inner.calls.retain(|_, c| {
        c.ended_at(c.elapsed())
            .is_none_or(|e| c.elapsed().saturating_sub(e) < ENDED_CALL_TTL)
    });
    if inner.calls.len() >= MAX_CALLS {
        if let Some(oldest) = inner
            .calls
            .values()
            .max_by_key(|c| c.elapsed())
            .map(|c| c.spec.id.clone())
        {
            inner.calls.remove(&oldest);
        }
    }
    inner.calls.insert(id.clone(), call);
    drop(inner);
    crate::notify::call_created(sim, &id);
    json_response(
        200,
        json!({"id": id, "selfUri": format!("/api/v2/conversations/calls/{id}")}),
    )
}

/// A call is visible to whoever created it and to its agent's own user tokens.
pub(crate) fn with_call<T>(
    sim: &Shared,
    p: &Principal,
    id: &str,
    f: impl FnOnce(&mut Call) -> T,
) -> Option<T> {
    let mut inner = sim.lock();
    let call = inner.calls.get_mut(id)?;
    let visible =
        call.spec.owner == p.owner() || p.user_id.as_deref() == Some(call.spec.agent_id.as_str());
    visible.then(|| f(call))
}

pub async fn get_call(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
) -> Response {
    match with_call(&sim, &p, &id, |c| c.call_conversation()) {
        Some(v) => json_response(200, v),
        None => api_error(404, "not.found", NOT_FOUND, &corr),
    }
}

pub async fn get_conversation(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
) -> Response {
    if !p.has_any(&["conversation:communication:view"]) {
        let msg = "Unable to perform the requested action. You are missing the following permission(s): [conversation:communication:view]";
        return api_error(403, "missing.permissions", msg, &corr);
    }
    if let Some(v) = crate::callbacks::conversation_json(&sim, &p, &id) {
        return json_response(200, v);
    }
    match with_call(&sim, &p, &id, |c| c.conversation()) {
        Some(v) => json_response(200, v),
        None => api_error(404, "not.found", NOT_FOUND, &corr),
    }
}

pub async fn patch_call(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    if !p.has_any(&["conversation:communication:disconnect"]) {
        let msg = "Unable to perform the requested action. You must have at least one of the following permissions assigned: [conversation:communication:disconnect]";
        return api_error(403, "missing.any.permissions", msg, &corr);
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return api_error(400, "bad.request", MALFORMED, &corr);
    };
    match v.get("state").and_then(Value::as_str) {
        Some("disconnected") => {}
        _ => {
            return field_error(
                &corr,
                "state",
                "Value [state] is not valid. Allowable values are: disconnected",
            )
        }
    }
    match with_call(&sim, &p, &id, |c| {
        c.hang_up();
        c.conversation()
    }) {
        Some(v) => {
            crate::notify::call_changed(&sim, &id);
            json_response(200, v)
        }
        None => api_error(404, "not.found", NOT_FOUND, &corr),
    }
}

pub(crate) fn user_json(u: &User) -> Value {
    json!({
        "id": u.id, "name": u.name, "division": {"id": "div-home", "name": "Home"}, "chat": {"jabberId": format!("{}@sim.example", u.id)},
        "email": u.email, "state": "active", "username": u.email, "version": 1, "acdAutoAnswer": false,
        "selfUri": format!("/api/v2/users/{}", u.id)
    })
}

pub async fn users_me(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
) -> Response {
    match p.user_id.as_deref().and_then(|u| sim.cfg.org.user(u)) {
        Some(u) => json_response(200, user_json(u)),
        None => api_error(400, "bad.request", USER_CONTEXT, &corr),
    }
}

pub async fn tokens_me(State(sim): State<Shared>, Extension(p): Extension<Principal>) -> Response {
    let org = json!({"id": sim.cfg.org.organization.id, "name": sim.cfg.org.organization.name, "selfUri": format!("/api/v2/organizations/{}", sim.cfg.org.organization.id)});
    let client = sim.cfg.org.client(&p.client_id);
    let scopes: Vec<String> = match (&p.user_id, client) {
        (Some(_), Some(c)) => c.scopes.clone(),
        _ => vec![],
    };
    let idle =
        crate::util::iso(std::time::SystemTime::now() + std::time::Duration::from_secs(86_400));
    let mut info = json!({
        "organization": org, "homeOrganization": org, "authorizedScope": scopes,
        "OAuthClient": {"id": p.client_id, "name": client.map(|c| c.name.clone()).unwrap_or_default(), "organization": {"id": sim.cfg.org.organization.id}},
        "dateTokenIdles": idle,
    });
    if p.user_id.is_none() {
        info.as_object_mut().map(|o| o.remove("dateTokenIdles"));
    }
    json_response(200, info)
}

pub async fn not_found(Extension(Corr(corr)): Extension<Corr>) -> Response {
    api_error(404, "not.found", NOT_FOUND, &corr)
}

pub async fn method_not_allowed(Extension(Corr(corr)): Extension<Corr>) -> Response {
    api_error(
        405,
        "method.not.allowed",
        "The HTTP method is not allowed for this resource.",
        &corr,
    )
}
