//! Agent availability: PURECLOUD presence (read, bulk read, PATCH), presence
//! definitions, ACD routing status, stations, and `GET /users/{id}?expand=…`.
//!
//! Presence starts from the seed org and changes only through PATCH; `/__sim/reset`
//! puts it back. Routing status is derived, never stored: a queue member with a
//! station whose presence is Available or On Queue is `IDLE`, or `INTERACTING`
//! while an ACD call of theirs is up; everyone else is `OFF_QUEUE`.

use std::time::{Duration, SystemTime};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

use crate::access::require_all;
use crate::access::require_any;
use crate::frontdoor::Corr;
use crate::org::{Org, Station, User};
use crate::paging::{listing, Paging};
use crate::util::{api_error, field_error, iso, json_response};
use crate::{Inner, Principal, Shared, Sim};

const NOT_FOUND: &str = "The requested resource was not found.";
const MALFORMED: &str =
    "The request could not be understood by the server due to malformed syntax.";
/// `GET …/presences/purecloud/bulk` takes at most this many ids (Genesys: "Limit 50").
const BULK_LIMIT: usize = 50;

/// The system presences and their definition ids as seen in real orgs
/// (genesys-api.md §6.3). `systemPresence` is reported in this spelling.
const SYSTEM_PRESENCES: [(&str, &str); 10] = [
    ("Available", "6a3af858-942f-489d-9700-5f9bcdcdae9b"),
    ("Busy", "31fe3bac-dea6-44b7-bed7-47f91660a1a0"),
    ("Away", "5e5c5c66-ea97-4e7f-ac41-6424784829f2"),
    ("Break", "227b37e2-f1d0-4dd0-8f50-badd7cf6d158"),
    ("Meal", "3fd96123-badb-4f69-bc03-1b1ccc6d8014"),
    ("Meeting", "bbdff279-7ae1-48ea-bade-7831d7234c64"),
    ("Training", "d2390a99-8546-bad9-8f0a-219548e8aeb0"),
    ("On Queue", "e08eaf1b-ee47-4fa9-a231-1200e284798f"),
    ("Idle", "7ffa01cd-7866-4ad7-8faa-31e11b42f51f"),
    ("Offline", "ccf3c10a-aa2c-4845-8e8d-f59fa48c58e5"),
];

/// A presence definition, system or custom.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub id: String,
    pub name: String,
    pub system_presence: String,
    pub do_not_disturb: bool,
    pub custom: bool,
}

impl Definition {
    /// `PresenceDefinition {id, systemPresence, selfUri}` as embedded in a presence.
    fn reference(&self) -> Value {
        json!({"id": self.id, "systemPresence": self.system_presence, "selfUri": format!("/api/v2/presencedefinitions/{}", self.id)})
    }

    /// `OrganizationPresenceDefinition`, as `GET /api/v2/presence/definitions` lists it.
    fn organization_json(&self) -> Value {
        json!({
            "id": self.id, "languageLabels": {"en_US": self.name}, "systemPresence": self.system_presence,
            "deactivated": false, "type": if self.custom { "User" } else { "System" },
            "selfUri": format!("/api/v2/presence/definitions/{}", self.id)
        })
    }

    /// Whether ACD routing may offer work to a user in this presence. The seed
    /// keeps Ada "Available" yet `IDLE`, so Available counts as on queue here.
    fn routable(&self) -> bool {
        matches!(self.system_presence.as_str(), "Available" | "On Queue")
    }
}

/// A presence set through the API since the last reset.
#[derive(Debug, Clone)]
pub struct PresenceState {
    definition_id: String,
    message: String,
    modified: SystemTime,
}

/// `Available`, `available`, `ON_QUEUE`, `On Queue` and `OnQueue` all compare equal.
fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Every definition of the org: the ten system ones, then the custom ones.
pub fn definitions(org: &Org) -> Vec<Definition> {
    let system = SYSTEM_PRESENCES.iter().map(|(name, id)| Definition {
        id: id.to_string(),
        name: name.to_string(),
        system_presence: name.to_string(),
        do_not_disturb: false,
        custom: false,
    });
    let custom = org.presence_definitions.iter().map(|c| Definition {
        id: c.id.clone(),
        name: c.name.clone(),
        system_presence: SYSTEM_PRESENCES
            .iter()
            .find(|(n, _)| normalize(n) == normalize(&c.system_presence))
            .map(|(n, _)| n.to_string())
            .unwrap_or_else(|| c.system_presence.clone()),
        do_not_disturb: c.do_not_disturb,
        custom: true,
    });
    system.chain(custom).collect()
}

/// A definition by id, or (for seed files) by custom name or system presence.
fn find_definition(org: &Org, key: &str) -> Option<Definition> {
    let all = definitions(org);
    if let Some(d) = all.iter().find(|d| d.id == key) {
        return Some(d.clone());
    }
    let k = normalize(key);
    all.iter()
        .find(|d| d.custom && normalize(&d.name) == k)
        .or_else(|| all.iter().find(|d| !d.custom && normalize(&d.name) == k))
        .cloned()
}

/// When seed presences were "set": an hour before the state was (re)created.
fn seed_time(sim: &Sim, inner: &mut Inner) -> SystemTime {
    *inner.routing.seed_time.get_or_insert_with(|| {
        SystemTime::now() - sim.started.elapsed() - Duration::from_secs(3600)
    })
}

/// A user's current presence: definition, message, modified date.
pub fn current(sim: &Sim, inner: &mut Inner, user: &User) -> (Definition, String, SystemTime) {
    let seed_time = seed_time(sim, inner);
    let org = &sim.cfg.org;
    let offline = || find_definition(org, "Offline").expect("Offline is a system presence");
    match inner.routing.presences.get(&user.id) {
        Some(s) => (
            find_definition(org, &s.definition_id).unwrap_or_else(offline),
            s.message.clone(),
            s.modified,
        ),
        None => (
            find_definition(org, &user.presence).unwrap_or_else(offline),
            String::new(),
            seed_time,
        ),
    }
}

/// The station a new call on `user`'s behalf meets: a do-not-disturb presence
/// makes an otherwise working phone reject the call.
pub fn station_for_call(sim: &Sim, user: &User) -> Station {
    let mut inner = sim.lock();
    station_in(sim, &mut inner, user)
}

/// `station_for_call` with the state already locked.
pub fn station_in(sim: &Sim, inner: &mut Inner, user: &User) -> Station {
    let (def, _, _) = current(sim, inner, user);
    if def.do_not_disturb && user.station != Station::None {
        Station::DoNotDisturb
    } else {
        user.station
    }
}

/// `RoutingStatus.status` and `startTime` (`None` for unknown users).
pub fn routing_status(
    sim: &Sim,
    inner: &mut Inner,
    user_id: &str,
) -> (&'static str, Option<SystemTime>) {
    let Some(user) = sim.cfg.org.user(user_id) else {
        return ("OFF_QUEUE", None);
    };
    let (def, _, since) = current(sim, inner, user);
    let member = sim
        .cfg
        .org
        .queues
        .iter()
        .any(|q| q.members.iter().any(|m| m == user_id));
    if !member || !def.routable() || user.station == Station::None {
        return ("OFF_QUEUE", Some(since));
    }
    let now = SystemTime::now();
    let mut idle_since = since;
    for c in inner.calls.values() {
        if c.spec.agent_id != user_id || c.spec.queue_id.is_none() {
            continue;
        }
        let elapsed = c.elapsed();
        match c.ended_at(elapsed) {
            None => return ("INTERACTING", Some(now - elapsed)),
            Some(end) => idle_since = idle_since.max(now - elapsed + end),
        }
    }
    ("IDLE", Some(idle_since))
}

fn presence_json(user_id: &str, def: &Definition, message: &str, modified: SystemTime) -> Value {
    json!({
        "source": "PURECLOUD", "sourceId": "PURECLOUD", "primary": true, "message": message,
        "presenceDefinition": def.reference(), "modifiedDate": iso(modified),
        "selfUri": format!("/api/v2/users/{user_id}/presences")
    })
}

fn user_presence(sim: &Sim, inner: &mut Inner, user: &User) -> Value {
    let (def, message, modified) = current(sim, inner, user);
    presence_json(&user.id, &def, &message, modified)
}

fn routing_status_json(sim: &Sim, inner: &mut Inner, user_id: &str) -> Value {
    let (status, since) = routing_status(sim, inner, user_id);
    let mut v = json!({"userId": user_id, "status": status});
    if let Some(t) = since {
        v["startTime"] = json!(iso(t));
    }
    v
}

/// `UserStations`: absent members are what Genesys means by "null" (it omits
/// nulls), so a user without a station gets `{}`.
fn stations_json(sim: &Sim, inner: &mut Inner, user: &User) -> Value {
    if user.station == Station::None {
        return json!({});
    }
    let id = user
        .station_id
        .clone()
        .unwrap_or_else(|| format!("station-{}", user.id));
    let station = json!({
        "id": id, "name": format!("WebRTC - {}", user.name), "type": "inin_webrtc_softphone",
        "associatedUser": {"id": user.id, "name": user.name, "selfUri": format!("/api/v2/users/{}", user.id)},
        "associatedDate": iso(seed_time(sim, inner)),
        "defaultUser": {"id": user.id, "selfUri": format!("/api/v2/users/{}", user.id)},
        "providerInfo": {}, "webRtcCallAppearances": 100
    });
    json!({
        "associatedStation": station, "effectiveStation": station,
        "defaultStation": station, "lastAssociatedStation": station
    })
}

pub async fn get_presence(
    State(sim): State<Shared>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
) -> Response {
    let Some(u) = sim.cfg.org.user(&id) else {
        return api_error(404, "not.found", NOT_FOUND, &corr);
    };
    let mut inner = sim.lock();
    json_response(200, user_presence(&sim, &mut inner, u))
}

/// `PATCH /api/v2/users/{id}/presences/purecloud`: `presenceDefinition.id`,
/// `message` and/or `primary` (no permission, like Genesys).
pub async fn patch_presence(
    State(sim): State<Shared>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
    body: String,
) -> Response {
    let Some(user) = sim.cfg.org.user(&id) else {
        return api_error(404, "not.found", NOT_FOUND, &corr);
    };
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(&body) else {
        return api_error(400, "bad.request", MALFORMED, &corr);
    };
    let definition = match obj.get("presenceDefinition") {
        None | Some(Value::Null) => None,
        Some(d) => match d.get("id").and_then(Value::as_str) {
            Some(def_id) => {
                match find_definition(&sim.cfg.org, def_id).filter(|d| d.id == def_id) {
                    Some(d) => Some(d),
                    None => {
                        return field_error(
                            &corr,
                            "presenceDefinition.id",
                            &format!("The presence definition [{def_id}] does not exist."),
                        )
                    }
                }
            }
            None => {
                return field_error(
                    &corr,
                    "presenceDefinition.id",
                    "presenceDefinition.id is required.",
                )
            }
        },
    };
    let message = match obj.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) => Some(m.clone()),
        Some(_) => return field_error(&corr, "message", "message must be a string."),
    };
    let primary = match obj.get("primary") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return field_error(&corr, "primary", "primary must be a boolean."),
    };
    if definition.is_none() && message.is_none() && primary.is_none() {
        return field_error(
            &corr,
            "presenceDefinition",
            "Give presenceDefinition.id, message or primary.",
        );
    }
    let mut inner = sim.lock();
    let (cur, cur_message, _) = current(&sim, &mut inner, user);
    let def = definition.unwrap_or(cur);
    let state = PresenceState {
        definition_id: def.id.clone(),
        message: message.unwrap_or(cur_message),
        modified: SystemTime::now(),
    };
    inner.routing.presences.insert(user.id.clone(), state);
    json_response(200, user_presence(&sim, &mut inner, user))
}

/// `GET /api/v2/users/presences/purecloud/bulk?id=a,b` (or `id=a&id=b`): a bare
/// array of `UcUserPresence`; unknown ids are left out.
pub async fn bulk_presences(
    State(sim): State<Shared>,
    Extension(Corr(corr)): Extension<Corr>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return api_error(400, "bad.request", MALFORMED, &corr);
    };
    let ids: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "id")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.is_empty() {
        return field_error(&corr, "id", "Give at least one user id in id.");
    }
    if ids.len() > BULK_LIMIT {
        return field_error(
            &corr,
            "id",
            &format!("At most {BULK_LIMIT} user ids may be requested at once."),
        );
    }
    let mut inner = sim.lock();
    let list: Vec<Value> = ids
        .iter()
        .filter_map(|id| sim.cfg.org.user(id))
        .map(|u| {
            let (def, message, modified) = current(&sim, &mut inner, u);
            json!({
                "userId": u.id, "source": "PURECLOUD", "sourceId": "PURECLOUD",
                "presenceDefinition": def.reference(), "message": message, "modifiedDate": iso(modified)
            })
        })
        .collect();
    json_response(200, Value::Array(list))
}

/// `GET /api/v2/users/{id}/routingstatus`: an unknown user is `OFF_QUEUE`, not 404.
pub async fn get_routing_status(State(sim): State<Shared>, Path(id): Path<String>) -> Response {
    let mut inner = sim.lock();
    json_response(200, routing_status_json(&sim, &mut inner, &id))
}

/// Reading another user's station needs `telephony:otherStationAssociation:view`;
/// a user token reading its own never does (and user tokens hold everything anyway).
const STATION_VIEW: &str = "telephony:otherStationAssociation:view";

pub async fn get_station(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
) -> Response {
    if p.user_id.as_deref() != Some(id.as_str()) {
        if let Err(r) = require_any(&p, &[STATION_VIEW], &corr) {
            return r;
        }
    }
    let Some(u) = sim.cfg.org.user(&id) else {
        return api_error(404, "not.found", NOT_FOUND, &corr);
    };
    let mut inner = sim.lock();
    json_response(200, stations_json(&sim, &mut inner, u))
}

/// `GET /api/v2/users/{id}?expand=presence,routingStatus,station`. Expands are
/// "best effort" in Genesys: the station is left out, not refused, without
/// the permission.
pub async fn get_user(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Some(u) = sim.cfg.org.user(&id) else {
        return api_error(404, "not.found", NOT_FOUND, &corr);
    };
    let params = query.map(|Query(q)| q).unwrap_or_default();
    let expands: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "expand")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .collect();
    let mut user = crate::api::user_json(u);
    let mut inner = sim.lock();
    if expands.contains(&"presence") {
        user["presence"] = user_presence(&sim, &mut inner, u);
    }
    if expands.contains(&"routingStatus") {
        user["routingStatus"] = routing_status_json(&sim, &mut inner, &u.id);
    }
    let own = p.user_id.as_deref() == Some(u.id.as_str());
    if expands.contains(&"station") && (own || p.has_any(&[STATION_VIEW])) {
        user["station"] = stations_json(&sim, &mut inner, u);
    }
    json_response(200, user)
}

const DEFINITION_VIEW: &str = "presence:presenceDefinition:view";

/// `GET /api/v2/presence/definitions`: system and custom definitions (how a
/// client finds the id of "Do Not Disturb" to PATCH a presence with).
pub async fn list_definitions(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
) -> Response {
    if let Err(r) = require_all(&p, &[DEFINITION_VIEW], &corr) {
        return r;
    }
    let all: Vec<Value> = definitions(&sim.cfg.org)
        .iter()
        .map(Definition::organization_json)
        .collect();
    let page = Paging {
        size: all.len().max(1),
        number: 1,
    };
    json_response(
        200,
        listing(all, &page, "/api/v2/presence/definitions", &[]),
    )
}

pub async fn get_definition(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = require_all(&p, &[DEFINITION_VIEW], &corr) {
        return r;
    }
    match definitions(&sim.cfg.org).iter().find(|d| d.id == id) {
        Some(d) => json_response(200, d.organization_json()),
        None => api_error(404, "not.found", NOT_FOUND, &corr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_resolve_by_id_name_and_any_casing() {
        let org = Org::seed();
        let dnd = find_definition(&org, "Do Not Disturb").unwrap();
        assert!(dnd.custom && dnd.do_not_disturb);
        assert_eq!(dnd.system_presence, "Busy");
        assert_eq!(find_definition(&org, &dnd.id), Some(dnd));
        for k in [
            "On Queue",
            "ON_QUEUE",
            "onqueue",
            "e08eaf1b-ee47-4fa9-a231-1200e284798f",
        ] {
            assert_eq!(
                find_definition(&org, k).map(|d| d.system_presence),
                Some("On Queue".to_string()),
                "{k}"
            );
        }
        assert!(find_definition(&org, "Snoozing").is_none());
        assert_eq!(definitions(&org).len(), 11);
    }
}
