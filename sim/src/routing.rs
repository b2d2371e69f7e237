//! Routing: queues, wrap-up code listings, estimated wait time, queue
//! observations, the `/__sim/queues/{id}` hook, and the state that presence,
//! callbacks and EWT keep between requests (cleared by `/__sim/reset`).

use std::collections::HashMap;
use std::time::SystemTime;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Map, Value};

use crate::access::{require_all, require_any};
use crate::callbacks::Callback;
use crate::frontdoor::Corr;
use crate::org::{Queue, WrapupCode};
use crate::paging::{listing, paging, Paging};
use crate::users::PresenceState;
use crate::util::{api_error, field_error, json_response};
use crate::{Inner, Principal, Shared, Sim};

const NOT_FOUND: &str = "The requested resource was not found.";
const MALFORMED: &str =
    "The request could not be understood by the server due to malformed syntax.";
const QUEUE_VIEW: &str = "routing:queue:view";
const WRAPUP_CODE_VIEW: &str = "routing:wrapupCode:view";
const OBSERVATION_VIEW: &str = "analytics:queueObservation:view";

/// Everything availability, callbacks and EWT remember; `Default` is the seed.
#[derive(Default)]
pub(crate) struct RoutingState {
    /// Presences PATCHed since the last reset, by user id.
    pub presences: HashMap<String, PresenceState>,
    /// The `modifiedDate` of seed presences.
    pub seed_time: Option<SystemTime>,
    pub callbacks: HashMap<String, Callback>,
    /// Per-queue EWT from the hook; `None` inside means "cannot estimate".
    pub ewt: HashMap<String, Option<u32>>,
}

fn division() -> Value {
    json!({"id": "div-home", "name": "Home", "selfUri": "/api/v2/authorization/divisions/div-home"})
}

/// `WrapupCode`, as the routing listings and `…/participants/{pid}/wrapupcodes` return it.
pub fn wrapup_code_json(c: &WrapupCode) -> Value {
    json!({"id": c.id, "name": c.name, "division": division(), "selfUri": format!("/api/v2/routing/wrapupcodes/{}", c.id)})
}

/// The participant's `wrapupPrompt` spelling of a queue's `acwSettings.wrapupPrompt`.
pub fn participant_prompt(queue_prompt: &str) -> &'static str {
    match queue_prompt {
        "OPTIONAL" => "optional",
        "MANDATORY_TIMEOUT" => "timeout",
        "MANDATORY_FORCED_TIMEOUT" => "forcedTimeout",
        "AGENT_REQUESTED" => "agentRequested",
        _ => "mandatory",
    }
}

fn queue_json(q: &Queue) -> Value {
    let n = q.members.len();
    json!({
        "id": q.id, "name": q.name, "description": q.description, "division": division(),
        "memberCount": n, "userMemberCount": n, "joinedMemberCount": n,
        "mediaSettings": {
            "call": {"alertingTimeoutSeconds": 8, "serviceLevel": {"percentage": 0.8, "durationMs": 20000}},
            "callback": {"alertingTimeoutSeconds": 30, "serviceLevel": {"percentage": 0.8, "durationMs": 20000}}
        },
        "acwSettings": {"wrapupPrompt": q.wrapup_prompt},
        "skillEvaluationMethod": "ALL", "autoAnswerOnly": false, "enableTranscription": false,
        "enableManualAssignment": false,
        "selfUri": format!("/api/v2/routing/queues/{}", q.id)
    })
}

/// Genesys name filters allow a leading and/or trailing `*`; matching ignores case.
fn name_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.to_lowercase(), name.to_lowercase());
    match (p.strip_prefix('*'), p.strip_suffix('*')) {
        (Some(_), Some(_)) if p.len() >= 2 => n.contains(&p[1..p.len() - 1]),
        (Some(rest), _) => n.ends_with(rest),
        (_, Some(rest)) => n.starts_with(rest),
        _ => n == p,
    }
}

type Params = Result<Query<Vec<(String, String)>>, QueryRejection>;

fn params(q: Params, corr: &str) -> Result<Vec<(String, String)>, Response> {
    q.map(|Query(v)| v)
        .map_err(|_| api_error(400, "bad.request", MALFORMED, corr))
}

/// A listing's query pairs and its page, or the 400 for either.
fn paged(q: Params, corr: &str) -> Result<(Vec<(String, String)>, Paging), Response> {
    let params = params(q, corr)?;
    let page = paging(&params, corr)?;
    Ok((params, page))
}

fn values<'a>(params: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn descending(params: &[(String, String)]) -> bool {
    values(params, "sortOrder")
        .last()
        .is_some_and(|o| o.eq_ignore_ascii_case("desc") || o.eq_ignore_ascii_case("descending"))
}

/// `GET /api/v2/routing/queues` (`name`, `id`, `sortOrder`, paging).
pub async fn list_queues(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    query: Params,
) -> Response {
    if let Err(r) = require_any(&p, &[QUEUE_VIEW], &corr) {
        return r;
    }
    let (params, page) = match paged(query, &corr) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let names = values(&params, "name");
    let ids = values(&params, "id");
    let mut queues: Vec<&Queue> = sim
        .cfg
        .org
        .queues
        .iter()
        .filter(|q| names.iter().all(|n| name_matches(n, &q.name)))
        .filter(|q| ids.is_empty() || ids.contains(&q.id.as_str()))
        .collect();
    queues.sort_by_key(|q| q.name.to_lowercase());
    if descending(&params) {
        queues.reverse();
    }
    let all = queues.into_iter().map(queue_json).collect();
    let extra: Vec<(&str, &str)> = names.iter().map(|n| ("name", *n)).collect();
    json_response(200, listing(all, &page, "/api/v2/routing/queues", &extra))
}

pub async fn get_queue(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = require_any(&p, &[QUEUE_VIEW], &corr) {
        return r;
    }
    match sim.cfg.org.queue(&id) {
        Some(q) => json_response(200, queue_json(q)),
        None => api_error(404, "not.found", NOT_FOUND, &corr),
    }
}

/// `GET /api/v2/routing/queues/{id}/wrapupcodes` (paged, in the queue's order).
pub async fn queue_wrapup_codes(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
    query: Params,
) -> Response {
    if let Err(r) = require_all(&p, &[QUEUE_VIEW], &corr) {
        return r;
    }
    let (_, page) = match paged(query, &corr) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Some(q) = sim.cfg.org.queue(&id) else {
        return api_error(404, "not.found", NOT_FOUND, &corr);
    };
    let all = sim
        .cfg
        .org
        .queue_wrapup_codes(q)
        .into_iter()
        .map(wrapup_code_json)
        .collect();
    let path = format!("/api/v2/routing/queues/{id}/wrapupcodes");
    json_response(200, listing(all, &page, &path, &[]))
}

/// `GET /api/v2/routing/wrapupcodes` (`name`, `id`, `sortBy` name|id, `sortOrder`, paging).
pub async fn list_wrapup_codes(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    query: Params,
) -> Response {
    if let Err(r) = require_all(&p, &[WRAPUP_CODE_VIEW], &corr) {
        return r;
    }
    let (params, page) = match paged(query, &corr) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let names = values(&params, "name");
    let ids = values(&params, "id");
    let mut codes: Vec<&WrapupCode> = sim
        .cfg
        .org
        .wrapup_codes
        .iter()
        .filter(|c| names.iter().all(|n| name_matches(n, &c.name)))
        .filter(|c| ids.is_empty() || ids.contains(&c.id.as_str()))
        .collect();
    match values(&params, "sortBy").last().copied() {
        None | Some("name") => codes.sort_by_key(|c| c.name.to_lowercase()),
        Some("id") => codes.sort_by_key(|c| c.id.clone()),
        Some(other) => {
            return field_error(
                &corr,
                "sortBy",
                &format!("Value [{other}] is not valid for sortBy. Allowable values are: name, id"),
            );
        }
    }
    if descending(&params) {
        codes.reverse();
    }
    let all = codes.into_iter().map(wrapup_code_json).collect();
    let extra: Vec<(&str, &str)> = names.iter().map(|n| ("name", *n)).collect();
    json_response(
        200,
        listing(all, &page, "/api/v2/routing/wrapupcodes", &extra),
    )
}

pub async fn get_wrapup_code(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = require_all(&p, &[WRAPUP_CODE_VIEW], &corr) {
        return r;
    }
    match sim.cfg.org.wrapup_code(&id) {
        Some(c) => json_response(200, wrapup_code_json(c)),
        None => api_error(404, "not.found", NOT_FOUND, &corr),
    }
}

/// A queue's estimated wait: the hook's value if set, else `--estimated-wait`.
fn estimated_wait(sim: &Sim, inner: &Inner, queue_id: &str) -> Option<u32> {
    inner
        .routing
        .ewt
        .get(queue_id)
        .copied()
        .unwrap_or(sim.cfg.estimated_wait)
}

/// `{results:[{intent, formula, estimatedWaitTimeSeconds}]}`. When the wait is
/// unknown the result keeps its intent and formula but has no
/// `estimatedWaitTimeSeconds` (Genesys' behaviour here is UNCONFIRMED).
fn predictions(seconds: Option<u32>, intent: &str) -> Value {
    let mut r = json!({"intent": intent, "formula": "BEST"});
    if let Some(s) = seconds {
        r["estimatedWaitTimeSeconds"] = json!(s);
    }
    json!({"results": [r]})
}

fn intent_for(media_type: &str) -> Option<&'static str> {
    Some(match media_type.to_ascii_lowercase().as_str() {
        "all" => "ALL",
        "call" => "CALL",
        "callback" => "CALLBACK",
        "chat" => "CHAT",
        "email" => "EMAIL",
        "message" => "MESSAGE",
        "videocomm" => "VIDEOCOMM",
        _ => return None,
    })
}

/// `GET /api/v2/routing/queues/{id}/mediatypes/{mediaType}/estimatedwaittime`.
pub async fn media_type_ewt(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path((id, media_type)): Path<(String, String)>,
) -> Response {
    if let Err(r) = require_all(&p, &[QUEUE_VIEW], &corr) {
        return r;
    }
    let Some(intent) = intent_for(&media_type) else {
        return field_error(&corr, "mediaType", &format!("Value [{media_type}] is not valid for mediaType. Allowable values are: all, call, callback, chat, email, message, videoComm"));
    };
    if sim.cfg.org.queue(&id).is_none() {
        return api_error(404, "not.found", NOT_FOUND, &corr);
    }
    let inner = sim.lock();
    json_response(200, predictions(estimated_wait(&sim, &inner, &id), intent))
}

/// `GET /api/v2/routing/queues/{id}/estimatedwaittime[?conversationId=]`.
pub async fn queue_ewt(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = require_all(&p, &[QUEUE_VIEW], &corr) {
        return r;
    }
    if sim.cfg.org.queue(&id).is_none() {
        return api_error(404, "not.found", NOT_FOUND, &corr);
    }
    let inner = sim.lock();
    json_response(200, predictions(estimated_wait(&sim, &inner, &id), "ALL"))
}

/// Observation metrics the sim can answer.
const METRICS: [&str; 8] = [
    "oOnQueueUsers",
    "oOffQueueUsers",
    "oMemberUsers",
    "oActiveUsers",
    "oUserRoutingStatuses",
    "oUserPresences",
    "oWaiting",
    "oInteracting",
];

fn queue_ids_in(filter: &Value, out: &mut Vec<String>) {
    for p in filter["predicates"].as_array().into_iter().flatten() {
        let dimension = p.get("dimension").and_then(Value::as_str);
        if dimension == Some("queueId") {
            if let Some(v) = p.get("value").and_then(Value::as_str) {
                out.push(v.to_string());
            }
        }
    }
    for c in filter["clauses"].as_array().into_iter().flatten() {
        queue_ids_in(c, out);
    }
}

fn count_entry(metric: &str, qualifier: Option<&str>, count: usize) -> Value {
    let mut e = json!({"metric": metric, "stats": {"count": count}});
    if let Some(q) = qualifier {
        e["qualifier"] = json!(q);
    }
    e
}

/// `POST /api/v2/analytics/queues/observations/query`: member routing statuses
/// and presences, callbacks waiting, ACD conversations in progress. Results
/// are grouped by `queueId` only; qualifiers with a zero count are left out.
pub async fn observations(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    body: String,
) -> Response {
    if let Err(r) = require_any(&p, &[OBSERVATION_VIEW], &corr) {
        return r;
    }
    let Ok(Value::Object(q)) = serde_json::from_str::<Value>(&body) else {
        return api_error(400, "bad.request", MALFORMED, &corr);
    };
    let field = |name: &str, msg: &str| field_error(&corr, name, msg);
    let mut queue_ids = Vec::new();
    if let Some(f) = q.get("filter") {
        queue_ids_in(f, &mut queue_ids);
    }
    if queue_ids.is_empty() {
        return field(
            "filter",
            "The filter must name at least one queueId (dimension queueId).",
        );
    }
    let metrics: Vec<&str> = match q.get("metrics").and_then(Value::as_array) {
        Some(m) if !m.is_empty() => match m.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
            Some(m) => m,
            None => return field("metrics", "metrics must be a list of metric names."),
        },
        _ => return field("metrics", "metrics must be a non-empty list."),
    };
    if let Some(bad) = metrics.iter().find(|m| !METRICS.contains(m)) {
        return field(
            "metrics",
            &format!(
                "genesys-sim does not observe [{bad}]. Supported: {}",
                METRICS.join(", ")
            ),
        );
    }
    let mut inner = sim.lock();
    let mut results = Vec::new();
    for qid in &queue_ids {
        let Some(queue) = sim.cfg.org.queue(qid) else {
            continue;
        };
        let mut statuses: Vec<(&'static str, usize)> = Vec::new();
        let mut presences: Vec<(String, usize)> = Vec::new();
        for m in &queue.members {
            let (status, _) = crate::users::routing_status(&sim, &mut inner, m);
            match statuses.iter_mut().find(|(s, _)| *s == status) {
                Some(e) => e.1 += 1,
                None => statuses.push((status, 1)),
            }
            if let Some(u) = sim.cfg.org.user(m) {
                let (def, _, _) = crate::users::current(&sim, &mut inner, u);
                match presences.iter_mut().find(|(d, _)| *d == def.id) {
                    Some(e) => e.1 += 1,
                    None => presences.push((def.id, 1)),
                }
            }
        }
        let waiting = crate::callbacks::waiting_in(&inner, qid);
        let interacting = inner
            .calls
            .values()
            .filter(|c| c.spec.queue_id.as_deref() == Some(qid.as_str()))
            .filter(|c| c.ended_at(c.elapsed()).is_none())
            .count();
        let count_of = |s: &str| {
            statuses
                .iter()
                .find(|(x, _)| *x == s)
                .map_or(0, |(_, n)| *n)
        };
        let mut data = Vec::new();
        for metric in &metrics {
            match *metric {
                "oOnQueueUsers" => {
                    for (s, n) in statuses.iter().filter(|(s, _)| *s != "OFF_QUEUE") {
                        data.push(count_entry(metric, Some(s), *n));
                    }
                }
                "oUserRoutingStatuses" => {
                    for (s, n) in &statuses {
                        data.push(count_entry(metric, Some(s), *n));
                    }
                }
                "oUserPresences" => {
                    for (d, n) in &presences {
                        data.push(count_entry(metric, Some(d), *n));
                    }
                }
                "oOffQueueUsers" => data.push(count_entry(metric, None, count_of("OFF_QUEUE"))),
                "oMemberUsers" | "oActiveUsers" => {
                    data.push(count_entry(metric, None, queue.members.len()))
                }
                "oWaiting" => data.push(count_entry(metric, None, waiting)),
                _ => data.push(count_entry(metric, None, interacting)),
            }
        }
        results.push(json!({"group": {"queueId": qid}, "data": data}));
    }
    json_response(200, json!({"results": results}))
}

/// `GET /__sim/queues/{id}`: the queue's EWT setting and callbacks waiting.
pub async fn hook_get_queue(State(sim): State<Shared>, Path(id): Path<String>) -> Response {
    let Some(q) = sim.cfg.org.queue(&id) else {
        return json_response(404, json!({"error": format!("no queue {id}")}));
    };
    let inner = sim.lock();
    json_response(
        200,
        json!({"id": q.id, "name": q.name, "estimatedWaitSeconds": estimated_wait(&sim, &inner, &id), "waiting": crate::callbacks::waiting_in(&inner, &id)}),
    )
}

/// `POST /__sim/queues/{id}` `{"estimatedWaitSeconds": n | null}`; null makes
/// the queue's EWT unknown.
pub async fn hook_set_queue(
    State(sim): State<Shared>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    if sim.cfg.org.queue(&id).is_none() {
        return json_response(404, json!({"error": format!("no queue {id}")}));
    }
    let obj: Map<String, Value> = match serde_json::from_str(&body) {
        Ok(Value::Object(o)) => o,
        _ => return json_response(400, json!({"error": "give a JSON object"})),
    };
    let seconds = match obj.get("estimatedWaitSeconds") {
        Some(Value::Null) => None,
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                return json_response(
                    400,
                    json!({"error": "estimatedWaitSeconds must be a whole number of seconds or null"}),
                )
            }
        },
        None => return json_response(400, json!({"error": "give estimatedWaitSeconds"})),
    };
    sim.lock().routing.ewt.insert(id.clone(), seconds);
    json_response(200, json!({"id": id, "estimatedWaitSeconds": seconds}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_filters_take_asterisks_at_either_end() {
        for (p, n, want) in [
            ("Support", "support", true),
            ("Sup*", "Support", true),
            ("*port", "Support", true),
            ("*ppo*", "Support", true),
            ("*", "Support", true),
            ("Sales", "Support", false),
            ("S*s", "Sales", false),
        ] {
            assert_eq!(name_matches(p, n), want, "{p} {n}");
        }
    }

    #[test]
    fn prompts_use_participant_casing() {
        assert_eq!(participant_prompt("MANDATORY"), "mandatory");
        assert_eq!(participant_prompt("OPTIONAL"), "optional");
        assert_eq!(participant_prompt("MANDATORY_TIMEOUT"), "timeout");
    }
}
