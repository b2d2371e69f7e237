//! `/api/v2/notifications/*`: channels and their topic subscriptions. These go
//! through the front door like every API route (bearer token, rate limit, log).

use std::collections::BTreeSet;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};

use super::topics::{self, Verdict, TOPIC_PERMISSION};
use super::{Hub, MAX_TOPICS};
use crate::frontdoor::Corr;
use crate::util::{api_error, field_error, json_response};
use crate::{Principal, Shared};

const NOT_FOUND: &str = "The requested resource was not found.";
const MALFORMED: &str =
    "The request could not be understood by the server due to malformed syntax.";

pub async fn create_channel(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
) -> Response {
    let host = own_host(&headers).unwrap_or_else(|| sim.cfg.listen.to_string());
    let body = sim.lock().notify.create(&p, &host);
    json_response(200, body)
}

/// The `host[:port]` the client reached us at, so `connectUri` works from
/// wherever the client is (a port-0 listener, a proxy's loopback name).
fn own_host(h: &HeaderMap) -> Option<String> {
    let v = h.get("host")?.to_str().ok()?;
    let ok = !v.is_empty()
        && v.len() <= 255
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    ok.then(|| v.to_string())
}

/// One query parameter, if present (names are matched exactly).
fn param(q: &Option<String>, name: &str) -> Option<String> {
    form_urlencoded::parse(q.as_deref()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn invalid_param(corr: &str, name: &str, allowed: &str) -> Response {
    field_error(
        corr,
        name,
        &format!("Value for [{name}] is not valid. Allowable values are: {allowed}"),
    )
}

pub async fn list_channels(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    RawQuery(q): RawQuery,
) -> Response {
    // `token`: channels made with this very token; `oauthclient`: every channel
    // of this OAuth client (all its users).
    let by_client = match param(&q, "includechannels").as_deref() {
        None | Some("token") => false,
        Some("oauthclient") => true,
        Some(_) => return invalid_param(&corr, "includechannels", "token, oauthclient"),
    };
    let mut inner = sim.lock();
    let hub = &mut inner.notify;
    let ids: Vec<String> = hub.channels.keys().cloned().collect();
    let mut list: Vec<(u64, Value)> = Vec::new();
    for id in ids {
        let Some(c) = hub.live(&id) else { continue };
        let mine = if by_client {
            c.owner.client_id == p.client_id
        } else {
            c.principal.token == p.token
        };
        if mine {
            list.push((c.seq, c.json()));
        }
    }
    list.sort_by_key(|(seq, _)| *seq);
    let entities: Vec<Value> = list.into_iter().map(|(_, v)| v).collect();
    json_response(200, json!({ "entities": entities }))
}

pub async fn head_channel(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Response {
    match sim.lock().notify.owned(&id, &p) {
        Some(c) => {
            c.touch();
            StatusCode::OK.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn entities(topics: &BTreeSet<String>, rejected: Vec<Value>) -> Value {
    let mut list: Vec<Value> = topics
        .iter()
        .map(|t| json!({"id": t, "state": "Permitted"}))
        .collect();
    list.extend(rejected);
    json!({ "entities": list })
}

pub async fn get_subscriptions(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
) -> Response {
    match sim.lock().notify.owned(&id, &p) {
        Some(c) => {
            c.touch();
            json_response(200, entities(&c.topics, vec![]))
        }
        None => api_error(404, "not.found", NOT_FOUND, &corr),
    }
}

pub async fn clear_subscriptions(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
) -> Response {
    let mut inner = sim.lock();
    let hub = &mut inner.notify;
    match hub.owned(&id, &p) {
        Some(c) => c.touch(),
        None => return api_error(404, "not.found", NOT_FOUND, &corr),
    }
    hub.set_topics(&id, BTreeSet::new());
    // DELETE answers 204 with no body (UNCONFIRMED: the SDK returns void).
    StatusCode::NO_CONTENT.into_response()
}

pub async fn add_subscriptions(
    state: State<Shared>,
    p: Extension<Principal>,
    corr: Extension<Corr>,
    path: Path<String>,
    q: RawQuery,
    body: String,
) -> Response {
    change_subscriptions(state, p, corr, path, q, body, Mode::Add)
}

pub async fn replace_subscriptions(
    state: State<Shared>,
    p: Extension<Principal>,
    corr: Extension<Corr>,
    path: Path<String>,
    q: RawQuery,
    body: String,
) -> Response {
    change_subscriptions(state, p, corr, path, q, body, Mode::Replace)
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Mode {
    /// POST: add to the list.
    Add,
    /// PUT: replace the list.
    Replace,
}

pub(super) enum SubError {
    NotFound,
    /// Not a topic name (the first one, shortened for the message).
    Invalid(String),
    /// A topic this principal may not subscribe to.
    Denied,
    /// The channel would hold more than 1,000 topics.
    TooMany(usize),
}

#[allow(clippy::too_many_arguments)]
fn change_subscriptions(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: String,
    mode: Mode,
) -> Response {
    let ignore_errors = match param(&q, "ignoreErrors").map(|v| v.to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" => false,
        Some(_) => return invalid_param(&corr, "ignoreErrors", "true, false"),
    };
    // Body: `[{"id":"<topic>"}, …]`; other fields of ChannelTopic are ignored.
    let requested: Option<Vec<String>> = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Array(items)) => items
            .iter()
            .map(|i| i.get("id").and_then(Value::as_str).map(str::to_string))
            .collect(),
        _ => None,
    };
    let Some(requested) = requested else {
        return api_error(400, "bad.request", MALFORMED, &corr);
    };
    let result = subscribe(
        &mut sim.lock().notify,
        &id,
        &p,
        requested,
        mode,
        ignore_errors,
    );
    match result {
        Ok(v) => json_response(200, v),
        Err(e) => sub_error(e, &corr),
    }
}

pub(super) fn sub_error(e: SubError, corr: &str) -> Response {
    match e {
        SubError::NotFound => api_error(404, "not.found", NOT_FOUND, corr),
        SubError::Invalid(t) => api_error(
            400,
            "bad.request",
            &format!("The topic [{t}] is not a valid topic name."),
            corr,
        ),
        // The status and code for a rejected topic without ignoreErrors are
        // UNCONFIRMED; a 403 like every other missing permission is the guess.
        SubError::Denied => api_error(
            403,
            "missing.permissions",
            &format!("Unable to perform the requested action. You are missing the following permission(s): [{TOPIC_PERMISSION}]"),
            corr,
        ),
        SubError::TooMany(n) => api_error(
            400,
            "bad.request",
            &format!("A channel may be subscribed to at most {MAX_TOPICS} topics; this request would make it {n}."),
            corr,
        ),
    }
}

/// Applies a subscription change for `p` (the REST caller, or the channel's
/// owner for a socket `subscribe`). All or nothing unless `ignore_errors`,
/// which keeps the Permitted topics and lists the Rejected ones.
pub(super) fn subscribe(
    hub: &mut Hub,
    id: &str,
    p: &Principal,
    requested: Vec<String>,
    mode: Mode,
    ignore_errors: bool,
) -> Result<Value, SubError> {
    let Some(channel) = hub.owned(id, p) else {
        return Err(SubError::NotFound);
    };
    let mut seen = BTreeSet::new();
    let requested: Vec<String> = requested
        .into_iter()
        .filter(|t| seen.insert(t.clone()))
        .collect();
    if requested.len() > MAX_TOPICS {
        return Err(SubError::TooMany(requested.len()));
    }
    let mut permitted = BTreeSet::new();
    let mut rejected = Vec::new();
    for t in requested {
        match topics::check(p, &t) {
            Verdict::Permitted => {
                permitted.insert(t);
            }
            Verdict::Denied if ignore_errors => rejected.push(json!({
                "id": t, "state": "Rejected",
                "rejectionReason": format!("Missing permission(s): [{TOPIC_PERMISSION}]"),
                "missingPermissions": [TOPIC_PERMISSION],
            })),
            Verdict::Invalid if ignore_errors => rejected.push(json!({
                "id": t, "state": "Rejected",
                "rejectionReason": "Invalid topic name.",
            })),
            Verdict::Denied => return Err(SubError::Denied),
            Verdict::Invalid => return Err(SubError::Invalid(t.chars().take(120).collect())),
        }
    }
    let topics = match mode {
        Mode::Add => channel.topics.union(&permitted).cloned().collect(),
        Mode::Replace => permitted,
    };
    if topics.len() > MAX_TOPICS {
        return Err(SubError::TooMany(topics.len()));
    }
    channel.touch();
    channel.extend();
    let body = entities(&topics, rejected);
    hub.set_topics(id, topics);
    Ok(body)
}

/// A minimal catalogue: the two topics the simulator publishes.
pub async fn available_topics() -> Response {
    let topic = |id: &str, desc: &str, uri: &str| {
        json!({
            "id": id, "description": desc,
            "requiresPermissions": [TOPIC_PERMISSION],
            "permissionDetails": [{"type": "Single", "permissions": [TOPIC_PERMISSION], "allowsCurrentUser": true}],
            "requiresCurrentUser": false, "requiresCurrentUserOrPermission": true,
            "transports": ["All"], "topicParameters": ["id"],
            "publicApiTemplateUriPaths": [uri],
        })
    };
    json_response(
        200,
        json!({"entities": [
            topic("v2.users.{id}.conversations.calls", "Call conversations of a user: the whole CallConversation after every change.", "/api/v2/conversations/calls/{conversationId}"),
            topic("v2.users.{id}.conversations", "Conversations of a user (all media): the whole Conversation after every change.", "/api/v2/conversations/{conversationId}"),
        ]}),
    )
}
