//! Queue callbacks: create, read, reschedule, cancel (one or in bulk).
//!
//! A callback waits until its `callbackScheduledTime`; the wait from now to
//! that time is multiplied by `--time-scale`, so "+60 s" at 0.02 is dialled
//! after 1.2 s. Then it enters its queue and goes to the first member (in the
//! queue's order, preferred agents first) whose routing status is `IDLE`; if
//! there is none it waits in queue until one becomes `IDLE`. Routing creates
//! an ordinary simulated call under the callback's conversation id (agent leg
//! first, then the first callback number, which follows its test-number
//! scenario), and writes a `callback.dialled` entry to the request log.
//!
//! Each callback has one small task that sleeps until it is due; a reschedule
//! bumps the generation so the old task quietly ends, and a cancel or a reset
//! leaves it nothing to do.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Map, Value};

use crate::access::{require_all, require_any};
use crate::api::is_e164;
use crate::calls::{Call, LegState, NewCall};
use crate::frontdoor::{Corr, LogSeq};
use crate::paging::{listing, Paging};
use crate::requestlog::{annotate, event};
use crate::util::{api_error, error_body, field_error, field_error_code, iso, json_response, uuid};
use crate::{Inner, Principal, Shared, Sim, ENDED_CALL_TTL, MAX_CALLS};

const NOT_FOUND: &str = "The requested resource was not found.";
const MALFORMED: &str =
    "The request could not be understood by the server due to malformed syntax.";
const USER_CONTEXT: &str = "This request requires a user context. Client credentials cannot be used for requests to this resource.";
const CREATE: &str = "conversation:callback:create";
const EDIT: &str = "conversation:callback:edit";
const DISCONNECT: &str = "conversation:communication:disconnect";
/// How often a callback waiting in queue looks for an idle agent.
const WAIT_POLL: Duration = Duration::from_millis(25);
/// Scheduled times further out than this (after scaling) wait this long.
const MAX_DELAY: Duration = Duration::from_secs(365 * 86_400);

#[derive(Debug, Clone)]
pub struct Callback {
    pub id: String,
    owner: String,
    queue_id: String,
    numbers: Vec<String>,
    user_name: Option<String>,
    data: Map<String, Value>,
    caller_id: Option<String>,
    caller_id_name: Option<String>,
    script_id: Option<String>,
    /// Agents to offer it to first (`routingData.preferredAgentIds`, or a
    /// reschedule's `agentId`).
    preferred: Vec<String>,
    /// Only the preferred agents may take it (`AGENT_OWNED_CALLBACK`, `agentId`).
    agent_owned: bool,
    /// `callbackScheduledTime` as asked for (wall clock, not scaled).
    scheduled: SystemTime,
    created: Instant,
    created_wall: SystemTime,
    customer_pid: String,
    acd_pid: String,
    agent_pid: String,
    /// The `ACD` entry of `callbackIdentifiers`.
    callback_id: String,
    generation: u64,
    /// When it enters the queue (real time, scaled).
    due: Instant,
    /// When it was offered and dialled, and to whom.
    routed: Option<(Instant, String)>,
    cancelled: Option<Instant>,
}

/// One participant's callback media at a moment.
struct View {
    state: &'static str,
    start: SystemTime,
    connected: Option<SystemTime>,
    end: Option<SystemTime>,
    disconnect_type: Option<&'static str>,
}

impl Callback {
    fn wall(&self, at: Instant) -> SystemTime {
        self.created_wall + at.saturating_duration_since(self.created)
    }

    fn visible_to(&self, p: &Principal) -> bool {
        self.owner == p.owner()
            || p.user_id.as_deref().is_some_and(|u| {
                self.routed.as_ref().is_some_and(|(_, a)| a == u)
                    || self.preferred.iter().any(|a| a == u)
            })
    }

    /// Still to be offered: neither dialled nor cancelled.
    fn pending(&self) -> bool {
        self.routed.is_none() && self.cancelled.is_none()
    }

    fn identifiers(&self) -> Value {
        json!([{"type": "ACD", "id": self.callback_id}])
    }

    fn reference(&self) -> Value {
        json!({"id": self.id, "selfUri": format!("/api/v2/conversations/callbacks/{}", self.id)})
    }

    /// Customer, ACD and agent views now; `call` is the dialled call, if any.
    fn views(&self, call: Option<&Call>) -> (View, Option<View>, Option<View>) {
        let now = Instant::now();
        let due_wall = self.wall(self.due);
        let mut customer = View {
            state: "scheduled",
            start: self.created_wall,
            connected: None,
            end: None,
            disconnect_type: None,
        };
        let acd_since = |end: Option<(SystemTime, &'static str)>| View {
            state: if end.is_some() {
                "disconnected"
            } else {
                "connected"
            },
            start: due_wall,
            connected: Some(due_wall),
            end: end.map(|e| e.0),
            disconnect_type: end.map(|e| e.1),
        };
        if let Some(c) = self.cancelled {
            let at = self.wall(c);
            customer.state = "disconnected";
            customer.end = Some(at);
            customer.disconnect_type = Some("client");
            let acd = (self.due <= c).then(|| acd_since(Some((at, "peer"))));
            if acd.is_some() {
                customer.connected = Some(due_wall);
            }
            return (customer, acd, None);
        }
        let Some((routed_at, _)) = &self.routed else {
            if now >= self.due {
                customer.state = "connected";
                customer.connected = Some(due_wall);
                return (customer, Some(acd_since(None)), None);
            }
            return (customer, None, None);
        };
        let routed_wall = self.wall(*routed_at);
        customer.state = "connected";
        customer.connected = Some(due_wall);
        let acd = acd_since(Some((routed_wall, "transfer")));
        let Some(call) = call else {
            // The call is gone (it cannot be, short of a reset): report it ended.
            customer.state = "disconnected";
            customer.end = Some(routed_wall);
            customer.disconnect_type = Some("error");
            return (customer, Some(acd), None);
        };
        let at = |d: Duration| routed_wall + d;
        let (a, far) = call.legs_at(call.elapsed());
        let agent = View {
            state: match a.state {
                "contacting" => "alerting",
                s => s,
            },
            start: routed_wall,
            connected: a.connected.map(at),
            end: a.end.map(at),
            disconnect_type: a.disconnect_type,
        };
        if let Some(end) = call.ended_at(call.elapsed()) {
            customer.state = "disconnected";
            customer.end = Some(at(end));
            customer.disconnect_type = Some(
                far.as_ref()
                    .and_then(|f: &LegState| f.disconnect_type)
                    .unwrap_or("peer"),
            );
        }
        (customer, Some(acd), Some(agent))
    }

    /// The fields every callback participant carries.
    fn callback_fields(&self, p: &mut Map<String, Value>) {
        p.insert("callbackNumbers".into(), json!(self.numbers));
        if let Some(n) = &self.user_name {
            p.insert("callbackUserName".into(), json!(n));
        }
        p.insert("callbackScheduledTime".into(), json!(iso(self.scheduled)));
        p.insert("skipEnabled".into(), json!(false));
        p.insert("timeoutSeconds".into(), json!(0));
    }

    fn times(p: &mut Map<String, Value>, v: &View, end_key: &str) {
        if let Some(c) = v.connected {
            p.insert("connectedTime".into(), json!(iso(c)));
        }
        if let Some(e) = v.end {
            p.insert(end_key.into(), json!(iso(e)));
        }
        if let Some(d) = v.disconnect_type {
            p.insert("disconnectType".into(), json!(d));
        }
    }

    /// `CallbackConversation`, as `GET /api/v2/conversations/callbacks/{id}` returns it.
    fn callback_conversation(&self, sim: &Sim, call: Option<&Call>) -> Value {
        let (customer, acd, agent) = self.views(call);
        let queue = self.queue_ref(sim);
        let mut participants = Vec::new();
        let mut push =
            |pid: &str, purpose: &str, v: &View, extra: &dyn Fn(&mut Map<String, Value>)| {
                let mut p = Map::new();
                p.insert("id".into(), json!(pid));
                p.insert("startTime".into(), json!(iso(v.start)));
                Self::times(&mut p, v, "endTime");
                p.insert("purpose".into(), json!(purpose));
                p.insert("state".into(), json!(v.state));
                p.insert("direction".into(), json!("inbound"));
                p.insert("held".into(), json!(false));
                p.insert("wrapupRequired".into(), json!(purpose == "agent"));
                p.insert("queue".into(), queue.clone());
                p.insert("provider".into(), json!("PureCloud Callback"));
                self.callback_fields(&mut p);
                extra(&mut p);
                participants.push(Value::Object(p));
            };
        push(&self.customer_pid, "customer", &customer, &|p| {
            let first = self.numbers.first().cloned().unwrap_or_default();
            p.insert(
                "name".into(),
                json!(self.user_name.clone().unwrap_or_else(|| first.clone())),
            );
            p.insert("address".into(), json!(format!("tel:{first}")));
            p.insert("attributes".into(), Value::Object(self.data.clone()));
            if let Some(s) = &self.script_id {
                p.insert(
                    "script".into(),
                    json!({"id": s, "selfUri": format!("/api/v2/scripts/{s}")}),
                );
            }
        });
        if let Some(v) = &acd {
            push(&self.acd_pid, "acd", v, &|p| {
                p.insert("name".into(), queue["name"].clone());
                p.insert("attributes".into(), json!({}));
            });
        }
        if let (Some(v), Some((_, agent_id))) = (&agent, &self.routed) {
            let name = sim
                .cfg
                .org
                .user(agent_id)
                .map(|u| u.name.clone())
                .unwrap_or_default();
            push(&self.agent_pid, "agent", v, &|p| {
                p.insert("name".into(), json!(name));
                p.insert(
                    "user".into(),
                    json!({"id": agent_id, "selfUri": format!("/api/v2/users/{agent_id}")}),
                );
                p.insert("attributes".into(), json!({}));
                if let Some(c) = call {
                    crate::wrapup::agent_fields(p, &c.acw, v.end);
                }
            });
        }
        json!({
            "id": self.id, "participants": participants, "otherMediaUris": [],
            "recordingState": "none", "selfUri": format!("/api/v2/conversations/callbacks/{}", self.id)
        })
    }

    fn queue_ref(&self, sim: &Sim) -> Value {
        let mut q = json!({"id": self.queue_id, "selfUri": format!("/api/v2/routing/queues/{}", self.queue_id)});
        if let Some(queue) = sim.cfg.org.queue(&self.queue_id) {
            q["name"] = json!(queue.name);
        }
        q
    }

    /// `Conversation`, as `GET /api/v2/conversations/{id}` returns it: each
    /// participant's `callbacks[]` and, once dialled, `calls[]`.
    fn conversation(&self, sim: &Sim, call: Option<&Call>) -> Value {
        let (customer, acd, agent) = self.views(call);
        let call_view = call.map(Call::conversation);
        let calls_of = |pid: &str| -> Value {
            call_view
                .as_ref()
                .and_then(|c| c["participants"].as_array())
                .and_then(|ps| ps.iter().find(|p| p["id"] == pid))
                .map(|p| p["calls"].clone())
                .unwrap_or_else(|| json!([]))
        };
        let queue_name = sim.cfg.org.queue(&self.queue_id).map(|q| q.name.clone());
        let mut participants = Vec::new();
        let mut push = |pid: &str,
                        purpose: &str,
                        kind: &str,
                        v: &View,
                        extra: &dyn Fn(&mut Map<String, Value>)| {
            let mut media = Map::new();
            media.insert("state".into(), json!(v.state));
            media.insert("id".into(), json!(format!("{pid}-callback")));
            media.insert("direction".into(), json!("inbound"));
            media.insert("held".into(), json!(false));
            Self::times(&mut media, v, "disconnectedTime");
            self.callback_fields(&mut media);
            media.insert("provider".into(), json!("PureCloud Callback"));
            let mut p = Map::new();
            p.insert("id".into(), json!(pid));
            p.insert("startTime".into(), json!(iso(v.start)));
            if let Some(c) = v.connected {
                p.insert("connectedTime".into(), json!(iso(c)));
            }
            if let Some(e) = v.end {
                p.insert("endTime".into(), json!(iso(e)));
            }
            p.insert("purpose".into(), json!(purpose));
            p.insert("participantType".into(), json!(kind));
            p.insert("queueId".into(), json!(self.queue_id));
            if let Some(n) = &queue_name {
                p.insert("queueName".into(), json!(n));
            }
            p.insert("wrapupRequired".into(), json!(purpose == "agent"));
            extra(&mut p);
            p.insert("callbacks".into(), json!([Value::Object(media)]));
            p.insert("calls".into(), calls_of(pid));
            participants.push(Value::Object(p));
        };
        push(
            &self.customer_pid,
            "customer",
            "External",
            &customer,
            &|p| {
                let first = self.numbers.first().cloned().unwrap_or_default();
                p.insert(
                    "name".into(),
                    json!(self.user_name.clone().unwrap_or_else(|| first.clone())),
                );
                p.insert("address".into(), json!(format!("tel:{first}")));
                p.insert("attributes".into(), Value::Object(self.data.clone()));
            },
        );
        if let Some(v) = &acd {
            push(&self.acd_pid, "acd", "Acd", v, &|p| {
                p.insert("attributes".into(), json!({}));
            });
        }
        if let (Some(v), Some((_, agent_id))) = (&agent, &self.routed) {
            push(&self.agent_pid, "agent", "Internal", v, &|p| {
                p.insert("userId".into(), json!(agent_id));
                p.insert("userUri".into(), json!(format!("/api/v2/users/{agent_id}")));
                p.insert("attributes".into(), json!({}));
                if let Some(c) = call {
                    crate::wrapup::agent_fields(p, &c.acw, v.end);
                }
            });
        }
        let mut c = Map::new();
        c.insert("id".into(), json!(self.id));
        c.insert("startTime".into(), json!(iso(self.created_wall)));
        if let Some(e) = customer.end {
            c.insert("endTime".into(), json!(iso(e)));
        }
        c.insert("participants".into(), Value::Array(participants));
        c.insert("recordingState".into(), json!("NONE"));
        c.insert("divisions".into(), json!([]));
        c.insert(
            "selfUri".into(),
            json!(format!("/api/v2/conversations/{}", self.id)),
        );
        Value::Object(c)
    }
}

/// How long to wait (real time) for a scheduled wall-clock time.
fn delay_until(scheduled: SystemTime, scale: f64) -> Duration {
    let ahead = scheduled
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    let secs = (ahead.as_secs_f64() * scale).clamp(0.0, MAX_DELAY.as_secs_f64());
    Duration::from_secs_f64(secs)
}

/// Starts the task that offers callback `id` (at `generation`) when it is due.
fn schedule(sim: &Shared, id: String, generation: u64, due: Instant) {
    // A weak handle: a stopped simulator's pending callbacks must not keep it alive.
    let weak = Arc::downgrade(sim);
    tokio::spawn(async move {
        tokio::time::sleep_until(due.into()).await;
        loop {
            let Some(sim) = weak.upgrade() else { return };
            if !offer(&sim, &id, generation) {
                return;
            }
            drop(sim);
            tokio::time::sleep(WAIT_POLL).await;
        }
    });
}

/// Offers a due callback to an idle agent and dials it. Returns whether it is
/// still waiting (no idle agent yet).
fn offer(sim: &Shared, id: &str, generation: u64) -> bool {
    let mut inner = sim.lock();
    let Some(cb) = inner.routing.callbacks.get(id) else {
        return false;
    };
    if cb.generation != generation || !cb.pending() {
        return false;
    }
    let cb = cb.clone();
    let members = sim
        .cfg
        .org
        .queue(&cb.queue_id)
        .map(|q| q.members.clone())
        .unwrap_or_default();
    let mut candidates = cb.preferred.clone();
    if !cb.agent_owned {
        candidates.extend(members.into_iter().filter(|m| !cb.preferred.contains(m)));
    }
    let agent = candidates
        .into_iter()
        .find(|u| crate::users::routing_status(sim, &mut inner, u).0 == "IDLE");
    let Some(user) = agent.and_then(|a| sim.cfg.org.user(&a)) else {
        return true;
    };
    let number = cb.numbers.first().cloned().unwrap_or_default();
    let mut call = Call::new(NewCall {
        id: cb.id.clone(),
        owner: cb.owner.clone(),
        agent_id: user.id.clone(),
        agent_name: user.name.clone(),
        station: crate::users::station_in(sim, &mut inner, user),
        number: number.clone(),
        caller_id: cb.caller_id.clone(),
        caller_id_name: cb.caller_id_name.clone(),
        queue_id: Some(cb.queue_id.clone()),
        attributes: cb.data.clone(),
        agent_pid: cb.agent_pid.clone(),
        far_pid: cb.customer_pid.clone(),
        scale: sim.cfg.time_scale,
    });
    call.acw = crate::wrapup::for_queue(&sim.cfg.org, Some(&cb.queue_id));
    inner.calls.insert(cb.id.clone(), call);
    if let Some(c) = inner.routing.callbacks.get_mut(id) {
        c.routed = Some((Instant::now(), user.id.clone()));
    }
    let mut fields = Map::new();
    fields.insert("conversationId".into(), json!(cb.id));
    fields.insert("phoneNumber".into(), json!(number));
    fields.insert("queueId".into(), json!(cb.queue_id));
    fields.insert("userId".into(), json!(user.id));
    event(sim, &mut inner, "callback.dialled", fields);
    drop(inner);
    // The dialled callback is a call like any other: push its progress too.
    crate::notify::call_created(sim, &cb.id);
    false
}

/// Keeps memory bounded like calls: a callback is forgotten once its call is
/// (ended calls go after `ENDED_CALL_TTL`), or that long after a cancel; past
/// `MAX_CALLS` the oldest go first.
fn forget_finished(inner: &mut Inner) {
    let now = Instant::now();
    let calls = &inner.calls;
    inner
        .routing
        .callbacks
        .retain(|id, c| match (c.cancelled, &c.routed) {
            (Some(at), _) => now.duration_since(at) < ENDED_CALL_TTL,
            (None, Some(_)) => calls.contains_key(id),
            (None, None) => true,
        });
    while inner.routing.callbacks.len() >= MAX_CALLS {
        let oldest = inner
            .routing
            .callbacks
            .values()
            .min_by_key(|c| c.created)
            .map(|c| c.id.clone());
        match oldest {
            Some(id) => inner.routing.callbacks.remove(&id),
            None => break,
        };
    }
}

/// Callbacks of `queue_id` in queue now, waiting for an agent.
pub fn waiting_in(inner: &Inner, queue_id: &str) -> usize {
    let now = Instant::now();
    inner
        .routing
        .callbacks
        .values()
        .filter(|c| c.queue_id == queue_id && c.pending() && c.due <= now)
        .count()
}

/// `GET /api/v2/conversations/{id}` for a callback conversation (`None`: not one, or not visible).
pub fn conversation_json(sim: &Sim, p: &Principal, id: &str) -> Option<Value> {
    let inner = sim.lock();
    let cb = inner
        .routing
        .callbacks
        .get(id)
        .filter(|c| c.visible_to(p))?;
    Some(cb.conversation(sim, inner.calls.get(id)))
}

fn calling_code(country: &str) -> Option<&'static str> {
    Some(match country.to_ascii_uppercase().as_str() {
        "US" | "CA" | "PR" => "1",
        "GB" => "44",
        "IE" => "353",
        "DE" => "49",
        "FR" => "33",
        "NL" => "31",
        "ES" => "34",
        "IT" => "39",
        "AU" => "61",
        "NZ" => "64",
        "IN" => "91",
        "JP" => "81",
        "BR" => "55",
        "MX" => "52",
        _ => return None,
    })
}

/// An E.164 number from what a client sent: E.164 (`tel:` allowed, spaces,
/// dashes, dots and brackets ignored), or a national number plus `countryCode`
/// (Genesys' sample widget sends `"3173449777"` with `"US"`).
pub fn normalize_number(raw: &str, country: Option<&str>) -> Option<String> {
    let raw = raw.strip_prefix("tel:").unwrap_or(raw);
    let cleaned: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    if cleaned.starts_with('+') {
        return is_e164(&cleaned).then_some(cleaned);
    }
    if cleaned.is_empty() || !cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cc = calling_code(country?)?;
    let national = if cc == "1" {
        let n = cleaned.strip_prefix('1').filter(|n| n.len() == 10);
        n.unwrap_or(&cleaned)
    } else {
        cleaned.trim_start_matches('0')
    };
    if cc == "1" && national.len() != 10 {
        return None;
    }
    let e = format!("+{cc}{national}");
    is_e164(&e).then_some(e)
}

fn opt_string(obj: &Map<String, Value>, f: &str, corr: &str) -> Result<Option<String>, Response> {
    match obj.get(f) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(field_error(
            corr,
            f,
            &format!("Value for field [{f}] must be a string."),
        )),
    }
}

fn numbers(
    obj: &Map<String, Value>,
    country: Option<&str>,
    corr: &str,
) -> Result<Option<Vec<String>>, Response> {
    let list = match obj.get("callbackNumbers") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(_) => {
            return Err(field_error(
                corr,
                "callbackNumbers",
                "callbackNumbers must be a non-empty list of phone numbers.",
            ))
        }
    };
    let mut out = Vec::new();
    for n in list {
        let raw = n.as_str().unwrap_or_default();
        match normalize_number(raw, country) {
            Some(e) => out.push(e),
            None => {
                return Err(field_error(
                    corr,
                    "callbackNumbers",
                    &format!("The callback number [{raw}] is not a valid phone number: use E.164 (+13175550100) or a national number with countryCode."),
                ))
            }
        }
    }
    Ok(Some(out))
}

fn scheduled_time(obj: &Map<String, Value>, corr: &str) -> Result<Option<SystemTime>, Response> {
    match obj.get("callbackScheduledTime") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match crate::timestamp::parse_iso(s) {
            Some(t) => Ok(Some(t)),
            None => Err(field_error_code(
                corr,
                "invalid.date",
                "callbackScheduledTime",
                "Dates must be specified as ISO-8601 strings. For example: yyyy-MM-ddTHH:mm:ss.SSSZ",
            )),
        },
        Some(_) => Err(field_error_code(
            corr,
            "invalid.date",
            "callbackScheduledTime",
            "Dates must be specified as ISO-8601 strings. For example: yyyy-MM-ddTHH:mm:ss.SSSZ",
        )),
    }
}

fn known_queue(sim: &Sim, id: &str, field: &str, corr: &str) -> Result<String, Response> {
    match sim.cfg.org.queue(id) {
        Some(q) => Ok(q.id.clone()),
        None => Err(field_error(
            corr,
            field,
            &format!("The queue [{id}] does not exist."),
        )),
    }
}

fn known_users(sim: &Sim, ids: &[String], field: &str, corr: &str) -> Result<(), Response> {
    match ids.iter().find(|u| sim.cfg.org.user(u).is_none()) {
        Some(u) => Err(field_error(
            corr,
            field,
            &format!("The user [{u}] does not exist."),
        )),
        None => Ok(()),
    }
}

/// A checked `CreateCallbackCommand`.
fn parse_create(sim: &Sim, p: &Principal, body: &str, corr: &str) -> Result<Callback, Response> {
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(body) else {
        return Err(api_error(400, "bad.request", MALFORMED, corr));
    };
    let country = opt_string(&obj, "countryCode", corr)?;
    let Some(numbers) = numbers(&obj, country.as_deref(), corr)? else {
        return Err(field_error(
            corr,
            "callbackNumbers",
            "callbackNumbers is required.",
        ));
    };
    let routing = match obj.get("routingData") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(field_error(
                corr,
                "routingData",
                "routingData must be an object.",
            ))
        }
    };
    let queue_id = match (
        opt_string(&obj, "queueId", corr)?,
        opt_string(&routing, "queueId", corr)?,
    ) {
        (Some(q), _) => known_queue(sim, &q, "queueId", corr)?,
        (None, Some(q)) => known_queue(sim, &q, "routingData.queueId", corr)?,
        (None, None) => {
            return Err(field_error(
                corr,
                "queueId",
                "Either queueId or routingData.queueId is required.",
            ))
        }
    };
    let preferred: Vec<String> = match routing.get("preferredAgentIds") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(_) => {
            return Err(field_error(
                corr,
                "routingData.preferredAgentIds",
                "preferredAgentIds must be a list of user ids.",
            ))
        }
    };
    known_users(sim, &preferred, "routingData.preferredAgentIds", corr)?;
    let agent_owned = !preferred.is_empty()
        && routing
            .get("routingFlags")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x == "AGENT_OWNED_CALLBACK"));
    let data = match obj.get("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) if m.values().all(Value::is_string) => m.clone(),
        Some(_) => return Err(field_error(corr, "data", "data must be a map of strings.")),
    };
    let caller_id = opt_string(&obj, "callerId", corr)?;
    if caller_id
        .as_deref()
        .is_some_and(|c| normalize_number(c, None).is_none())
    {
        return Err(field_error(
            corr,
            "callerId",
            "The callerId must be a valid phone number in E.164 format.",
        ));
    }
    let now_wall = SystemTime::now();
    let scheduled = scheduled_time(&obj, corr)?.unwrap_or(now_wall);
    let now = Instant::now();
    Ok(Callback {
        id: uuid(),
        owner: p.owner(),
        queue_id,
        numbers,
        user_name: opt_string(&obj, "callbackUserName", corr)?,
        data,
        caller_id,
        caller_id_name: opt_string(&obj, "callerIdName", corr)?,
        script_id: opt_string(&obj, "scriptId", corr)?,
        preferred,
        agent_owned,
        scheduled,
        created: now,
        created_wall: now_wall,
        customer_pid: uuid(),
        acd_pid: uuid(),
        agent_pid: uuid(),
        callback_id: uuid(),
        generation: 0,
        due: now + delay_until(scheduled, sim.cfg.time_scale),
        routed: None,
        cancelled: None,
    })
}

/// `POST /api/v2/conversations/callbacks` → 200 `CreateCallbackResponse`
/// (200 rather than 201 is UNCONFIRMED).
pub async fn create(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Extension(LogSeq(seq)): Extension<LogSeq>,
    body: String,
) -> Response {
    if let Err(r) = require_all(&p, &[CREATE], &corr) {
        return r;
    }
    let cb = match parse_create(&sim, &p, &body, &corr) {
        Ok(cb) => cb,
        Err(r) => return r,
    };
    let mut note = Map::new();
    note.insert("conversationId".into(), json!(cb.id));
    note.insert("phoneNumber".into(), json!(cb.numbers[0]));
    note.insert("callbackNumbers".into(), json!(cb.numbers));
    note.insert("queueId".into(), json!(cb.queue_id));
    note.insert("callbackScheduledTime".into(), json!(iso(cb.scheduled)));
    annotate(&sim, seq, note);
    let answer = json!({"conversation": cb.reference(), "callbackIdentifiers": cb.identifiers()});
    let (id, due) = (cb.id.clone(), cb.due);
    let mut guard = sim.lock();
    forget_finished(&mut guard);
    guard.routing.callbacks.insert(id.clone(), cb);
    drop(guard);
    schedule(&sim, id, 0, due);
    json_response(200, answer)
}

/// `GET /api/v2/conversations/callbacks/{id}` → `CallbackConversation`.
pub async fn get(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
) -> Response {
    let inner = sim.lock();
    match inner
        .routing
        .callbacks
        .get(&id)
        .filter(|c| c.visible_to(&p))
    {
        Some(cb) => json_response(200, cb.callback_conversation(&sim, inner.calls.get(&id))),
        None => api_error(404, "not.found", NOT_FOUND, &corr),
    }
}

/// `GET /api/v2/conversations/callbacks`: the signed-in agent's callbacks that
/// are not over (user tokens only, as in Genesys).
pub async fn list_mine(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
) -> Response {
    let Some(user) = p.user_id.clone() else {
        return api_error(400, "bad.request", USER_CONTEXT, &corr);
    };
    let inner = sim.lock();
    let mut mine: Vec<&Callback> = inner
        .routing
        .callbacks
        .values()
        .filter(|c| c.routed.as_ref().is_some_and(|(_, a)| *a == user))
        .filter(|c| {
            inner
                .calls
                .get(&c.id)
                .is_some_and(|call| call.ended_at(call.elapsed()).is_none())
        })
        .collect();
    mine.sort_by_key(|c| c.created);
    let all: Vec<Value> = mine
        .iter()
        .map(|c| c.callback_conversation(&sim, inner.calls.get(&c.id)))
        .collect();
    let page = Paging {
        size: all.len().max(1),
        number: 1,
    };
    json_response(
        200,
        listing(all, &page, "/api/v2/conversations/callbacks", &[]),
    )
}

/// Disconnects a callback: before it is dialled it is cancelled and never
/// will be; after, its call is hung up. Idempotent.
fn disconnect(inner: &mut Inner, id: &str) {
    let Some(cb) = inner.routing.callbacks.get_mut(id) else {
        return;
    };
    if cb.routed.is_none() {
        if cb.cancelled.is_none() {
            cb.cancelled = Some(Instant::now());
        }
        return;
    }
    if let Some(call) = inner.calls.get_mut(id) {
        call.hang_up();
    }
}

/// `PATCH /api/v2/conversations/callbacks/{id}` `{"state":"disconnected"}`
/// (extra fields such as `participants:[]` are tolerated) → `Conversation`.
pub async fn patch_one(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Extension(LogSeq(seq)): Extension<LogSeq>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    if let Err(r) = require_any(&p, &[DISCONNECT], &corr) {
        return r;
    }
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(&body) else {
        return api_error(400, "bad.request", MALFORMED, &corr);
    };
    if obj.get("state").and_then(Value::as_str) != Some("disconnected") {
        return field_error(
            &corr,
            "state",
            "Value [state] is not valid. On update, 'disconnected' will disconnect the conversation. No other values are valid.",
        );
    }
    let mut note = Map::new();
    note.insert("conversationId".into(), json!(id));
    annotate(&sim, seq, note);
    let mut inner = sim.lock();
    if !inner
        .routing
        .callbacks
        .get(&id)
        .is_some_and(|c| c.visible_to(&p))
    {
        return api_error(404, "not.found", NOT_FOUND, &corr);
    }
    disconnect(&mut inner, &id);
    let cb = &inner.routing.callbacks[&id];
    json_response(200, cb.conversation(&sim, inner.calls.get(&id)))
}

/// `POST /api/v2/conversations/callbacks/bulk/disconnect`: all or nothing;
/// 202 with no body.
pub async fn bulk_disconnect(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Extension(LogSeq(seq)): Extension<LogSeq>,
    body: String,
) -> Response {
    if let Err(r) = require_any(&p, &[DISCONNECT], &corr) {
        return r;
    }
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(&body) else {
        return api_error(400, "bad.request", MALFORMED, &corr);
    };
    const FIELD: &str = "callbackDisconnectIdentifiers";
    let Some(list) = obj
        .get(FIELD)
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        return field_error(
            &corr,
            FIELD,
            "callbackDisconnectIdentifiers must be a non-empty list.",
        );
    };
    let mut ids = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let get = |f: &str| {
            item.get(f)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let (Some(cid), Some(cbid)) = (get("conversationId"), get("callbackId")) else {
            return field_error(
                &corr,
                &format!("{FIELD}[{i}]"),
                "Each identifier needs conversationId and callbackId.",
            );
        };
        ids.push((cid.to_string(), cbid.to_string()));
    }
    let mut note = Map::new();
    note.insert(
        "conversationIds".into(),
        json!(ids.iter().map(|(c, _)| c).collect::<Vec<_>>()),
    );
    annotate(&sim, seq, note);
    let mut inner = sim.lock();
    for (i, (cid, cbid)) in ids.iter().enumerate() {
        let ok = inner
            .routing
            .callbacks
            .get(cid)
            .is_some_and(|c| c.visible_to(&p) && c.callback_id == *cbid);
        if !ok {
            return field_error(
                &corr,
                &format!("{FIELD}[{i}]"),
                &format!("No callback [{cbid}] in conversation [{cid}]; nothing was disconnected."),
            );
        }
    }
    for (cid, _) in &ids {
        disconnect(&mut inner, cid);
    }
    StatusCode::ACCEPTED.into_response()
}

/// Applies one `PatchCallbackRequest`; `Err((status, code, field, message))`.
fn reschedule(
    sim: &Shared,
    p: &Principal,
    req: &Value,
) -> Result<Value, (u16, &'static str, Option<String>, String)> {
    let bad = |field: &str, msg: String| (400, "bad.request", Some(field.to_string()), msg);
    let Some(obj) = req.as_object() else {
        return Err((400, "bad.request", None, MALFORMED.to_string()));
    };
    let s = |f: &str| -> Result<Option<String>, (u16, &'static str, Option<String>, String)> {
        match obj.get(f) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(v)) => Ok(Some(v.clone())),
            Some(_) => Err(bad(f, format!("Value for field [{f}] must be a string."))),
        }
    };
    let Some(cid) = s("conversationId")? else {
        return Err(bad("conversationId", "conversationId is required.".into()));
    };
    let agent = s("agentId")?;
    if let Some(a) = &agent {
        if sim.cfg.org.user(a).is_none() {
            return Err(bad("agentId", format!("The user [{a}] does not exist.")));
        }
    }
    let queue = match s("queueId")? {
        Some(q) if sim.cfg.org.queue(&q).is_none() => {
            return Err(bad("queueId", format!("The queue [{q}] does not exist.")))
        }
        q => q,
    };
    let when = match obj.get("callbackScheduledTime") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(crate::timestamp::parse_iso) {
            Some(t) => Some(t),
            None => {
                return Err((
                    400,
                    "invalid.date",
                    Some("callbackScheduledTime".into()),
                    "Dates must be specified as ISO-8601 strings. For example: yyyy-MM-ddTHH:mm:ss.SSSZ".into(),
                ))
            }
        },
    };
    let country = s("countryCode")?;
    let new_numbers = match obj.get("callbackNumbers") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) if !a.is_empty() => {
            let mut out = Vec::new();
            for n in a {
                let raw = n.as_str().unwrap_or_default();
                match normalize_number(raw, country.as_deref()) {
                    Some(e) => out.push(e),
                    None => {
                        return Err(bad(
                            "callbackNumbers",
                            format!("The callback number [{raw}] is not a valid phone number."),
                        ))
                    }
                }
            }
            Some(out)
        }
        Some(_) => {
            return Err(bad(
                "callbackNumbers",
                "callbackNumbers must be a non-empty list of phone numbers.".into(),
            ))
        }
    };
    let mut inner = sim.lock();
    let Some(cb) = inner
        .routing
        .callbacks
        .get_mut(&cid)
        .filter(|c| c.visible_to(p))
    else {
        return Err((404, "not.found", None, NOT_FOUND.to_string()));
    };
    if !cb.pending() {
        return Err(bad(
            "conversationId",
            format!("The callback [{cid}] has already been dialled or disconnected and cannot be rescheduled."),
        ));
    }
    if let Some(a) = agent {
        cb.preferred = vec![a];
        cb.agent_owned = true;
    }
    if let Some(q) = queue {
        cb.queue_id = q;
    }
    if let Some(n) = new_numbers {
        cb.numbers = n;
    }
    if let Some(t) = when {
        cb.scheduled = t;
        cb.due = Instant::now() + delay_until(t, sim.cfg.time_scale);
    }
    // A new generation retires the old task, which may be asleep on the old time.
    cb.generation += 1;
    let (generation, due) = (cb.generation, cb.due);
    let answer = json!({"conversation": cb.reference(), "callbackIdentifiers": cb.identifiers()});
    drop(inner);
    schedule(sim, cid, generation, due);
    Ok(answer)
}

fn reschedule_error(
    corr: &str,
    (status, code, field, message): (u16, &'static str, Option<String>, String),
) -> Response {
    let mut body = error_body(status, code, &message, corr);
    if let Some(f) = field {
        body["details"] = json!([{"errorCode": "invalid.value", "fieldName": f}]);
    }
    json_response(status, body)
}

/// `PATCH /api/v2/conversations/callbacks` (reschedule) → `PatchCallbackResponse`.
pub async fn patch_many(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Extension(LogSeq(seq)): Extension<LogSeq>,
    body: String,
) -> Response {
    if let Err(r) = require_any(&p, &[EDIT], &corr) {
        return r;
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return api_error(400, "bad.request", MALFORMED, &corr);
    };
    let mut note = Map::new();
    for f in ["conversationId", "callbackScheduledTime", "agentId"] {
        if let Some(x) = v.get(f).filter(|x| x.is_string()) {
            note.insert(f.into(), x.clone());
        }
    }
    annotate(&sim, seq, note);
    match reschedule(&sim, &p, &v) {
        Ok(answer) => json_response(200, answer),
        Err(e) => reschedule_error(&corr, e),
    }
}

/// `POST /api/v2/conversations/callbacks/bulk/update` → `{results, errorCount, errorIndexes}`.
pub async fn bulk_update(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    body: String,
) -> Response {
    if let Err(r) = require_any(&p, &[EDIT], &corr) {
        return r;
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return api_error(400, "bad.request", MALFORMED, &corr);
    };
    let Some(list) = v.get("patchCallbackRequests").and_then(Value::as_array) else {
        return field_error(
            &corr,
            "patchCallbackRequests",
            "patchCallbackRequests must be a list.",
        );
    };
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for (i, req) in list.iter().enumerate() {
        match reschedule(&sim, &p, req) {
            Ok(r) => results.push(r),
            Err(_) => errors.push(i),
        }
    }
    json_response(
        200,
        json!({"results": results, "errorCount": errors.len(), "errorIndexes": errors}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_normalize_to_e164() {
        for (raw, cc, want) in [
            ("+13175550100", None, Some("+13175550100")),
            ("tel:+1 317-555-0100", None, Some("+13175550100")),
            ("3173449777", Some("US"), Some("+13173449777")),
            ("(317) 344-9777", Some("us"), Some("+13173449777")),
            ("13173449777", Some("US"), Some("+13173449777")),
            ("020 7946 0018", Some("GB"), Some("+442079460018")),
            ("3173449777", None, None),
            ("317344977", Some("US"), None),
            ("3173449777", Some("ZZ"), None),
            ("+1", None, None),
            ("", Some("US"), None),
            ("abc", Some("US"), None),
        ] {
            assert_eq!(normalize_number(raw, cc).as_deref(), want, "{raw} {cc:?}");
        }
    }

    #[test]
    fn delays_scale_and_stay_bounded() {
        let in_a_minute = SystemTime::now() + Duration::from_secs(60);
        let d = delay_until(in_a_minute, 0.02);
        assert!(
            d <= Duration::from_millis(1200) && d >= Duration::from_millis(1100),
            "{d:?}"
        );
        let past = SystemTime::now() - Duration::from_secs(60);
        assert_eq!(delay_until(past, 1.0), Duration::ZERO);
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799);
        assert_eq!(delay_until(far, 1.0), MAX_DELAY);
    }
}
