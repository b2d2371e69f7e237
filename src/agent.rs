//! Can this agent take a call now? A pure decision from what Genesys reports
//! about them — PURECLOUD presence, ACD routing status, effective station —
//! plus the requests and parsers for those lookups. The flow
//! (`flow/agent.rs`) fetches; this module decides, so every combination is
//! table-tested without a network.
//!
//! The rule, in one table ([`presence_rule`], then [`decide`]):
//!
//! | systemPresence (any case/spacing) | available | reason |
//! |---|---|---|
//! | Available, On Queue | true | `available` |
//! | Away, Idle | true, with a warning | `available` |
//! | Busy with a "Do Not Disturb" definition | false | `do-not-disturb` |
//! | Busy, Break, Meal, Meeting, Training, Out of Office | false | the presence (`busy`, `break`, …) |
//! | Offline | false | `offline` |
//! | anything else | null | `unknown` (the string passes through in `presence`) |
//!
//! Then: no effective station → false, `no-station`; on an ACD call
//! (`callFromQueueId`) routing status `NOT_RESPONDING` → false,
//! `not-responding`, and `INTERACTING`/`COMMUNICATING` add a warning. A lookup
//! Genesys refused (403) is unknown: unless a known fact already blocks, the
//! answer is `available: null`, reason `unknown`, and the call may go ahead.

use serde::{Serialize, Serializer};

use crate::call::{EntityId, UserId};
use crate::error::{Attempt, Error, ErrorCode};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::region::Endpoints;
use crate::wire;
use crate::wire::users::UserLookup;

/// How long one agent's lookups are reused: a few seconds, so a burst of
/// calls (or a page refreshing its badge) costs one burst of lookups, while a
/// presence change is still seen almost at once.
pub const AGENT_CACHE_MS: u64 = 5_000;

/// Why an agent can or cannot take a call: a stable key (the JS `reason`, and
/// the `reason` of an `agent_unavailable` error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Available,
    Offline,
    DoNotDisturb,
    Busy,
    Break,
    Meal,
    Meeting,
    Training,
    OutOfOffice,
    NoStation,
    NotResponding,
    /// A lookup was refused (403) or a value is one we do not know.
    Unknown,
}

impl Reason {
    pub const ALL: [Reason; 12] = [
        Reason::Available,
        Reason::Offline,
        Reason::DoNotDisturb,
        Reason::Busy,
        Reason::Break,
        Reason::Meal,
        Reason::Meeting,
        Reason::Training,
        Reason::OutOfOffice,
        Reason::NoStation,
        Reason::NotResponding,
        Reason::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Available => "available",
            Reason::Offline => "offline",
            Reason::DoNotDisturb => "do-not-disturb",
            Reason::Busy => "busy",
            Reason::Break => "break",
            Reason::Meal => "meal",
            Reason::Meeting => "meeting",
            Reason::Training => "training",
            Reason::OutOfOffice => "out-of-office",
            Reason::NoStation => "no-station",
            Reason::NotResponding => "not-responding",
            Reason::Unknown => "unknown",
        }
    }

    /// The refusal sentence's middle part.
    fn explain(self) -> &'static str {
        match self {
            Reason::Offline => "they are Offline in Genesys Cloud",
            Reason::DoNotDisturb => "their presence is Do Not Disturb",
            Reason::Busy | Reason::Break | Reason::Meal | Reason::Meeting | Reason::Training | Reason::OutOfOffice => {
                "their presence is one in which Genesys Cloud sends calls to voicemail"
            }
            Reason::NoStation => "they have no effective station (no phone Genesys could ring)",
            Reason::NotResponding => "ACD routing marked them Not Responding (they missed an alert and must go back on queue)",
            Reason::Available | Reason::Unknown => "",
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The agent's effective station, as far as we could read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StationFact {
    /// The id of the station Genesys would ring.
    Effective(String),
    /// `effectiveStation` absent or null: nothing to ring.
    None,
    /// The lookup was refused.
    Unknown,
}

/// What the lookups found. `None` means the lookup was refused (unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFacts {
    /// `presenceDefinition.systemPresence`, exactly as Genesys sent it.
    pub presence: Option<String>,
    /// The presence definition's label (e.g. "Do Not Disturb"), when it was looked up.
    pub presence_label: Option<String>,
    /// `RoutingStatus.status`, as sent.
    pub routing_status: Option<String>,
    pub station: StationFact,
}

/// The answer: the JS API's `AgentAvailability`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentCheck {
    pub user_id: String,
    /// `true`: can take the call; `false`: cannot (see `reason`); `null`:
    /// unknown (a lookup was refused), and a call may go ahead.
    pub available: Option<bool>,
    pub reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_status: Option<String>,
    /// The effective station's id; `null` when there is none; absent when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub station: Option<Option<String>>,
    /// Sentences for a log or a page: refused lookups, Away/Idle, an agent
    /// already busy on an ACD call.
    pub warnings: Vec<String>,
}

/// What a presence means for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceRule {
    /// The phone rings and the agent is expected to answer.
    Ready,
    /// The phone rings, but the agent may not be at it.
    Warn(&'static str),
    /// Genesys sends calls to voicemail (or the agent said not to disturb).
    Block(Reason),
    /// A value this library does not know.
    Unrecognized,
}

/// `Available`, `ON_QUEUE`, `On Queue`, `OnQueue` and `on-queue` compare equal:
/// Genesys spells system presences differently per surface. ASCII case only:
/// the values are ASCII, and Unicode case tables would cost the browser
/// package about 12 KB.
pub fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Whether a presence definition's label says "do not disturb". Genesys has no
/// DND system presence; orgs add a custom one (mapped onto Busy in the sim).
pub fn is_do_not_disturb(label: &str) -> bool {
    let l = normalize(label);
    l == "dnd" || l.contains("donotdisturb")
}

/// Whether the definition's label is worth a lookup: a custom DND presence is
/// mapped onto one of these, and the label changes the answer (Busy →
/// do-not-disturb; Away/Idle → blocked instead of a warning).
pub fn label_matters(system_presence: &str) -> bool {
    matches!(
        normalize(system_presence).as_str(),
        "busy" | "away" | "idle"
    )
}

/// The presence column of the table. Blocked presences are those in which
/// "Genesys Cloud sends your calls to voicemail" (help.mypurecloud.com), plus
/// a Do-Not-Disturb custom presence; Away and Idle still ring the phone.
pub fn presence_rule(system_presence: &str, label: Option<&str>) -> PresenceRule {
    if label.is_some_and(is_do_not_disturb) && label_matters(system_presence) {
        return PresenceRule::Block(Reason::DoNotDisturb);
    }
    match normalize(system_presence).as_str() {
        "available" | "onqueue" => PresenceRule::Ready,
        "away" => PresenceRule::Warn(
            "the agent's presence is Away: Genesys still rings their phone, but they may not be at it",
        ),
        "idle" => PresenceRule::Warn(
            "the agent's presence is Idle (no recent activity): Genesys still rings their phone, but they may not be at it",
        ),
        "busy" => PresenceRule::Block(Reason::Busy),
        "break" => PresenceRule::Block(Reason::Break),
        "meal" => PresenceRule::Block(Reason::Meal),
        "meeting" => PresenceRule::Block(Reason::Meeting),
        "training" => PresenceRule::Block(Reason::Training),
        "outofoffice" => PresenceRule::Block(Reason::OutOfOffice),
        "offline" => PresenceRule::Block(Reason::Offline),
        _ => PresenceRule::Unrecognized,
    }
}

/// The decision. `acd`: the call is placed for a queue (`callFromQueueId`),
/// the only case where routing status matters. `warnings` from the lookups
/// (refused ones) come first in the answer.
pub fn decide(
    user_id: &str,
    facts: &AgentFacts,
    acd: bool,
    lookup_warnings: Vec<String>,
) -> AgentCheck {
    let mut warnings = lookup_warnings;
    let rule = facts
        .presence
        .as_deref()
        .map(|p| presence_rule(p, facts.presence_label.as_deref()));
    let routing = facts.routing_status.as_deref().map(normalize);
    let (available, reason) = match (rule, &facts.station, routing.as_deref()) {
        // Known blocking facts win over unknown ones: presence first (the
        // agent's own choice, and the usual cause of a missing station)…
        (Some(PresenceRule::Block(r)), _, _) => (Some(false), r),
        // …then the phone…
        (_, StationFact::None, _) => (Some(false), Reason::NoStation),
        // …then ACD routing, for queue calls only.
        (_, _, Some("notresponding")) if acd => (Some(false), Reason::NotResponding),
        (None, _, _) | (_, StationFact::Unknown, _) => (None, Reason::Unknown),
        (_, _, None) if acd => (None, Reason::Unknown),
        (Some(PresenceRule::Unrecognized), _, _) => {
            warnings.push(
                [
                    "the agent's presence '",
                    facts.presence.as_deref().unwrap_or(""),
                    "' is not one this library knows; availability is unknown",
                ]
                .concat(),
            );
            (None, Reason::Unknown)
        }
        (Some(rule), _, routing) => {
            if let PresenceRule::Warn(w) = rule {
                warnings.push(w.to_string());
            }
            if acd && matches!(routing, Some("interacting" | "communicating")) {
                warnings.push(
                    [
                        "the agent is already handling an interaction (routing status ",
                        facts.routing_status.as_deref().unwrap_or(""),
                        ")",
                    ]
                    .concat(),
                );
            }
            (Some(true), Reason::Available)
        }
    };
    AgentCheck {
        user_id: user_id.to_string(),
        available,
        reason,
        presence: facts.presence.clone(),
        routing_status: facts.routing_status.clone(),
        station: match &facts.station {
            StationFact::Effective(id) => Some(Some(id.clone())),
            StationFact::None => Some(None),
            StationFact::Unknown => None,
        },
        warnings,
    }
}

/// `agent_unavailable`, naming the agent and the reason; nothing was sent.
pub fn refusal(check: &AgentCheck) -> Error {
    let mut e = Error::new(
        ErrorCode::AgentUnavailable,
        &[
            "agent ",
            &check.user_id,
            " cannot take a call now: ",
            check.reason.explain(),
            " (",
            check.reason.as_str(),
            "). No call was placed.",
        ],
    );
    e.reason = Some(check.reason.as_str());
    e
}

/// The warning for a lookup Genesys refused with 403: the call is not blocked
/// by our own missing permission, but nobody should be left guessing why.
pub fn refused_lookup(what: &str, e: &Error) -> String {
    [
        "could not read the agent's ",
        what,
        " (HTTP 403: ",
        &e.message,
        "); availability is unknown and calls are not blocked",
    ]
    .concat()
}

// ---------------------------------------------------------------- requests

fn get(endpoints: &Endpoints, token: &str, path: &[&str]) -> HttpRequest {
    let mut url = endpoints.api_base.clone();
    for p in path {
        url.push_str(p);
    }
    HttpRequest::new(Method::Get, url).bearer(token)
}

/// `GET /api/v2/users/me`: who a user token belongs to.
pub fn me_request(endpoints: &Endpoints, token: &str) -> HttpRequest {
    get(endpoints, token, &["/api/v2/users/me"])
}

/// `GET /api/v2/users/{id}/presences/purecloud` (no permission listed).
fn presence_request(endpoints: &Endpoints, token: &str, user: &UserId) -> HttpRequest {
    get(
        endpoints,
        token,
        &["/api/v2/users/", user.as_str(), "/presences/purecloud"],
    )
}

/// `GET /api/v2/users/{id}/routingstatus` (an unknown user reads `OFF_QUEUE`).
fn routing_status_request(endpoints: &Endpoints, token: &str, user: &UserId) -> HttpRequest {
    get(
        endpoints,
        token,
        &["/api/v2/users/", user.as_str(), "/routingstatus"],
    )
}

/// `GET /api/v2/users/{id}/station` (`telephony:otherStationAssociation:view`
/// unless it is the token's own user).
fn station_request(endpoints: &Endpoints, token: &str, user: &UserId) -> HttpRequest {
    get(
        endpoints,
        token,
        &["/api/v2/users/", user.as_str(), "/station"],
    )
}

/// `GET /api/v2/presence/definitions/{id}` (`presence:presenceDefinition:view`): the label.
fn definition_request(endpoints: &Endpoints, token: &str, id: &EntityId) -> HttpRequest {
    get(
        endpoints,
        token,
        &["/api/v2/presence/definitions/", id.as_str()],
    )
}

fn body(resp: &HttpResponse, what: &str) -> Result<UserLookup, Error> {
    wire::decode(&resp.body).map_err(|e| {
        Error::bad_response(
            &[what, " is not the documented shape: ", &e].concat(),
            Attempt::Other,
        )
    })
}

/// The user id of `/users/me`.
pub fn parse_me(resp: &HttpResponse) -> Result<UserId, Error> {
    let me = body(resp, "users/me")?;
    EntityId::parse(me.id.as_deref().unwrap_or(""), "id")
        .map_err(|_| Error::bad_response("users/me has no usable id", Attempt::Other))
}

/// `systemPresence` and the definition id (for the label lookup).
fn parse_presence(resp: &HttpResponse) -> Result<(Option<String>, Option<EntityId>), Error> {
    let d = body(resp, "presence")?
        .presence_definition
        .unwrap_or_default();
    let id = d.id.and_then(|id| EntityId::parse(&id, "id").ok());
    Ok((d.system_presence, id))
}

fn parse_routing_status(resp: &HttpResponse) -> Result<Option<String>, Error> {
    Ok(body(resp, "routing status")?.status)
}

fn parse_station(resp: &HttpResponse) -> Result<StationFact, Error> {
    Ok(
        match body(resp, "station")?.effective_station.and_then(|e| e.id) {
            Some(id) if !id.is_empty() => StationFact::Effective(id),
            _ => StationFact::None,
        },
    )
}

/// A label of the definition: the one that says "do not disturb" if any, else the first.
fn parse_definition_label(resp: &HttpResponse) -> Result<Option<String>, Error> {
    let labels = body(resp, "presence definition")?
        .language_labels
        .unwrap_or_default();
    let dnd = labels.values().find(|l| is_do_not_disturb(l));
    Ok(dnd.or_else(|| labels.values().next()).cloned())
}

// ------------------------------------------------------------ the burst

/// One of the lookups behind a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Presence,
    RoutingStatus,
    Station,
    /// The presence definition, for its label ("Do Not Disturb").
    Definition,
}

/// The lookups sent together for every check.
pub const BURST: [Lookup; 3] = [Lookup::Presence, Lookup::RoutingStatus, Lookup::Station];

impl Lookup {
    fn what(self) -> &'static str {
        match self {
            Lookup::Presence => "presence",
            Lookup::RoutingStatus => "routing status",
            Lookup::Station => "station",
            Lookup::Definition => "presence definition",
        }
    }
}

/// One agent's lookups as a small sans-IO plan: the [`BURST`] of three goes
/// out together, then the presence definition if [`Lookups::wants_label`]
/// (its label can change the answer); [`Lookups::read`] takes each answer and
/// [`Lookups::finish`] gives the facts. The flow only sends (concurrently,
/// under the token's budget), so every rule here is tested without a network.
#[derive(Debug)]
pub struct Lookups {
    user: UserId,
    facts: AgentFacts,
    definition: Option<EntityId>,
    warnings: Vec<String>,
}

impl Lookups {
    pub fn new(user: UserId) -> Lookups {
        Lookups {
            user,
            facts: AgentFacts {
                presence: None,
                presence_label: None,
                routing_status: None,
                station: StationFact::Unknown,
            },
            definition: None,
            warnings: Vec::new(),
        }
    }

    /// After the burst: whether to look the presence definition up, because
    /// it is a custom one on a presence a "Do Not Disturb" is mapped onto.
    pub fn wants_label(&self) -> bool {
        self.definition.is_some()
            && self.facts.presence_label.is_none()
            && self.facts.presence.as_deref().is_some_and(label_matters)
    }

    pub fn request(&self, which: Lookup, endpoints: &Endpoints, token: &str) -> HttpRequest {
        match (which, &self.definition) {
            (Lookup::Presence, _) => presence_request(endpoints, token, &self.user),
            (Lookup::RoutingStatus, _) => routing_status_request(endpoints, token, &self.user),
            (Lookup::Station, _) => station_request(endpoints, token, &self.user),
            (Lookup::Definition, Some(d)) => definition_request(endpoints, token, d),
            // `next` never asks for it without an id; an empty id would 404.
            (Lookup::Definition, None) => definition_request(endpoints, token, &self.user),
        }
    }

    /// Takes one answer. A 403 leaves that fact unknown and says so in a
    /// warning (our own missing permission must not block calls, nor go
    /// unnoticed); any other failure is the check's error.
    pub fn read(
        &mut self,
        which: Lookup,
        answer: Result<HttpResponse, Error>,
    ) -> Result<(), Error> {
        let resp = match answer {
            Ok(r) => r,
            Err(e) if e.code == ErrorCode::Forbidden => {
                self.warnings.push(refused_lookup(which.what(), &e));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        match which {
            Lookup::Presence => {
                (self.facts.presence, self.definition) = parse_presence(&resp)?;
            }
            Lookup::RoutingStatus => self.facts.routing_status = parse_routing_status(&resp)?,
            Lookup::Station => self.facts.station = parse_station(&resp)?,
            Lookup::Definition => self.facts.presence_label = parse_definition_label(&resp)?,
        }
        Ok(())
    }

    /// The facts, and the warnings for lookups Genesys refused.
    pub fn finish(self) -> (AgentFacts, Vec<String>) {
        (self.facts, self.warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(
        presence: Option<&str>,
        label: Option<&str>,
        routing: Option<&str>,
        station: StationFact,
    ) -> AgentFacts {
        AgentFacts {
            presence: presence.map(str::to_string),
            presence_label: label.map(str::to_string),
            routing_status: routing.map(str::to_string),
            station,
        }
    }

    fn st() -> StationFact {
        StationFact::Effective("s1".into())
    }

    #[test]
    fn every_presence_of_the_reference_against_a_working_station() {
        use Reason::*;
        // (systemPresence as some surface spells it, available, reason, warns)
        let table: [(&str, Option<bool>, Reason, bool); 26] = [
            ("Available", Some(true), Available, false),
            ("AVAILABLE", Some(true), Available, false),
            ("On Queue", Some(true), Available, false),
            ("ON_QUEUE", Some(true), Available, false),
            ("OnQueue", Some(true), Available, false),
            ("on-queue", Some(true), Available, false),
            ("Away", Some(true), Available, true),
            ("AWAY", Some(true), Available, true),
            ("Idle", Some(true), Available, true),
            ("Busy", Some(false), Busy, false),
            ("BUSY", Some(false), Busy, false),
            ("Break", Some(false), Break, false),
            ("Meal", Some(false), Meal, false),
            ("MEAL", Some(false), Meal, false),
            ("Meeting", Some(false), Meeting, false),
            ("Training", Some(false), Training, false),
            ("Out of Office", Some(false), OutOfOffice, false),
            ("OUT_OF_OFFICE", Some(false), OutOfOffice, false),
            ("Offline", Some(false), Offline, false),
            ("OFFLINE", Some(false), Offline, false),
            (" offline ", Some(false), Offline, false),
            ("Teleporting", None, Unknown, true),
            ("", None, Unknown, true),
            ("Availableish", None, Unknown, true),
            ("Off line", Some(false), Offline, false),
            ("busy", Some(false), Busy, false),
        ];
        for (presence, available, reason, warns) in table {
            for acd in [false, true] {
                let c = decide(
                    "u1",
                    &facts(Some(presence), None, Some("IDLE"), st()),
                    acd,
                    vec![],
                );
                assert_eq!(
                    (c.available, c.reason),
                    (available, reason),
                    "{presence:?} acd={acd}"
                );
                assert_eq!(
                    !c.warnings.is_empty(),
                    warns,
                    "{presence:?}: {:?}",
                    c.warnings
                );
                assert_eq!(
                    c.presence.as_deref(),
                    Some(presence),
                    "passed through as sent"
                );
            }
        }
    }

    #[test]
    fn a_do_not_disturb_definition_blocks_whatever_it_is_mapped_onto() {
        for (system, label) in [
            ("Busy", "Do Not Disturb"),
            ("BUSY", "do-not-disturb"),
            ("Away", "DND"),
            ("Idle", "Please do not disturb"),
        ] {
            let c = decide(
                "u1",
                &facts(Some(system), Some(label), Some("OFF_QUEUE"), st()),
                false,
                vec![],
            );
            assert_eq!(
                (c.available, c.reason),
                (Some(false), Reason::DoNotDisturb),
                "{system}/{label}"
            );
        }
        // A plain Busy label is Busy; a DND label on Available is not consulted
        // (the flow never looks it up there, and a ready agent stays ready).
        let c = decide(
            "u1",
            &facts(Some("Busy"), Some("Busy"), None, st()),
            false,
            vec![],
        );
        assert_eq!(c.reason, Reason::Busy);
        let c = decide(
            "u1",
            &facts(Some("Available"), Some("DND"), None, st()),
            false,
            vec![],
        );
        assert_eq!(c.reason, Reason::Available);
    }

    #[test]
    fn stations_routing_and_unknowns_combine_in_one_order() {
        use Reason::*;
        use StationFact as S;
        let none = || S::None;
        let unknown = || S::Unknown;
        // (presence, station, routing, acd) → (available, reason)
        type Row<'a> = (
            Option<&'a str>,
            StationFact,
            Option<&'a str>,
            bool,
            Option<bool>,
            Reason,
        );
        let table: Vec<Row> = vec![
            // The seed agents: Ada, Otto (offline, no station), Dora (DND is covered above).
            (
                Some("Available"),
                st(),
                Some("IDLE"),
                false,
                Some(true),
                Available,
            ),
            (
                Some("Offline"),
                none(),
                Some("OFF_QUEUE"),
                false,
                Some(false),
                Offline,
            ),
            (
                Some("Offline"),
                none(),
                Some("OFF_QUEUE"),
                true,
                Some(false),
                Offline,
            ),
            // No station blocks an otherwise available agent.
            (
                Some("Available"),
                none(),
                Some("IDLE"),
                false,
                Some(false),
                NoStation,
            ),
            (
                Some("On Queue"),
                none(),
                Some("IDLE"),
                true,
                Some(false),
                NoStation,
            ),
            (None, none(), None, false, Some(false), NoStation),
            // Routing status only counts on ACD calls.
            (
                Some("Available"),
                st(),
                Some("NOT_RESPONDING"),
                false,
                Some(true),
                Available,
            ),
            (
                Some("Available"),
                st(),
                Some("NOT_RESPONDING"),
                true,
                Some(false),
                NotResponding,
            ),
            (
                Some("On Queue"),
                st(),
                Some("not responding"),
                true,
                Some(false),
                NotResponding,
            ),
            (
                Some("Available"),
                st(),
                Some("OFF_QUEUE"),
                true,
                Some(true),
                Available,
            ),
            (
                Some("Available"),
                st(),
                Some("IDLE"),
                true,
                Some(true),
                Available,
            ),
            (
                Some("Available"),
                st(),
                Some("INTERACTING"),
                true,
                Some(true),
                Available,
            ),
            (
                Some("Available"),
                st(),
                Some("COMMUNICATING"),
                true,
                Some(true),
                Available,
            ),
            (
                Some("Available"),
                st(),
                Some("SOMETHING_NEW"),
                true,
                Some(true),
                Available,
            ),
            (Some("Available"), st(), None, false, Some(true), Available),
            (Some("Available"), st(), None, true, None, Unknown),
            // Refused lookups: unknown, unless something known already blocks.
            (
                Some("Available"),
                unknown(),
                Some("IDLE"),
                false,
                None,
                Unknown,
            ),
            (None, st(), Some("IDLE"), false, None, Unknown),
            (None, unknown(), None, true, None, Unknown),
            (
                Some("Offline"),
                unknown(),
                None,
                false,
                Some(false),
                Offline,
            ),
            (Some("Meeting"), unknown(), None, true, Some(false), Meeting),
            (
                None,
                st(),
                Some("NOT_RESPONDING"),
                true,
                Some(false),
                NotResponding,
            ),
            (
                Some("Teleporting"),
                none(),
                None,
                false,
                Some(false),
                NoStation,
            ),
        ];
        for (presence, station, routing, acd, available, reason) in table {
            let f = facts(presence, None, routing, station);
            let c = decide("u1", &f, acd, vec![]);
            assert_eq!(
                (c.available, c.reason),
                (available, reason),
                "{f:?} acd={acd}"
            );
        }
    }

    #[test]
    fn warnings_say_why_without_blocking() {
        let c = decide(
            "u1",
            &facts(
                Some("Available"),
                None,
                Some("INTERACTING"),
                StationFact::Unknown,
            ),
            true,
            vec!["could not read the agent's station".into()],
        );
        assert_eq!(c.available, None);
        assert_eq!(c.warnings, ["could not read the agent's station"]);
        let c = decide(
            "u1",
            &facts(Some("Away"), None, Some("INTERACTING"), st()),
            true,
            vec![],
        );
        assert_eq!(c.available, Some(true));
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(c.warnings[1].contains("INTERACTING"));
        let c = decide(
            "u1",
            &facts(Some("Available"), None, Some("INTERACTING"), st()),
            false,
            vec![],
        );
        assert!(
            c.warnings.is_empty(),
            "routing status is ignored off ACD calls"
        );
    }

    #[test]
    fn the_answer_serializes_as_the_js_type() {
        let c = decide(
            "u1",
            &facts(Some("Offline"), None, Some("OFF_QUEUE"), StationFact::None),
            false,
            vec![],
        );
        assert_eq!(
            wire::encode(&c),
            r#"{"userId":"u1","available":false,"reason":"offline","presence":"Offline","routingStatus":"OFF_QUEUE","station":null,"warnings":[]}"#
        );
        let c = decide(
            "u1",
            &facts(None, None, None, StationFact::Unknown),
            false,
            vec![],
        );
        assert_eq!(
            wire::encode(&c),
            r#"{"userId":"u1","available":null,"reason":"unknown","warnings":[]}"#
        );
        let c = decide(
            "u1",
            &facts(Some("Available"), None, Some("IDLE"), st()),
            false,
            vec![],
        );
        assert!(wire::encode(&c).contains(r#""available":true,"reason":"available""#));
        assert!(wire::encode(&c).contains(r#""station":"s1""#));
    }

    #[test]
    fn refusal_names_agent_and_reason() {
        for (presence, station, reason) in [
            ("Offline", StationFact::None, "offline"),
            ("Available", StationFact::None, "no-station"),
            ("Training", st(), "training"),
        ] {
            let c = decide(
                "agent-7",
                &facts(Some(presence), None, None, station),
                false,
                vec![],
            );
            let e = refusal(&c);
            assert_eq!(e.code, ErrorCode::AgentUnavailable);
            assert_eq!(e.reason, Some(reason));
            assert!(
                e.message
                    .starts_with("agent agent-7 cannot take a call now: "),
                "{}",
                e.message
            );
            assert!(e.message.contains(reason) && e.message.ends_with("No call was placed."));
            assert!(e.to_json().contains(&format!(r#""reason":"{reason}""#)));
        }
    }

    fn ok(body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: vec![],
            body: body.into(),
        }
    }

    #[test]
    fn parses_the_lookups_and_tolerates_missing_fields() {
        let (p, id) = parse_presence(&ok(r#"{"source":"PURECLOUD","presenceDefinition":{"id":"9d1c4b7e-2f3a-4d5b-8c6e-7a8b9c0d1e2f","systemPresence":"Busy","selfUri":"/x"},"message":"","primary":true}"#)).unwrap();
        assert_eq!(
            (p.as_deref(), id.unwrap().as_str()),
            (Some("Busy"), "9d1c4b7e-2f3a-4d5b-8c6e-7a8b9c0d1e2f")
        );
        assert_eq!(parse_presence(&ok("{}")).unwrap(), (None, None));
        let (_, id) = parse_presence(&ok(
            r#"{"presenceDefinition":{"id":"../../x","systemPresence":"Busy"}}"#,
        ))
        .unwrap();
        assert!(id.is_none(), "an id that could change a path is dropped");
        assert_eq!(
            parse_routing_status(&ok(r#"{"userId":"u","status":"IDLE","startTime":"t"}"#))
                .unwrap()
                .as_deref(),
            Some("IDLE")
        );
        assert_eq!(parse_station(&ok("{}")).unwrap(), StationFact::None);
        assert_eq!(
            parse_station(&ok(
                r#"{"effectiveStation":null,"defaultStation":{"id":"d"}}"#
            ))
            .unwrap(),
            StationFact::None
        );
        assert_eq!(
            parse_station(&ok(r#"{"effectiveStation":{"id":"s9","name":"WebRTC"}}"#)).unwrap(),
            StationFact::Effective("s9".into())
        );
        assert_eq!(
            parse_me(&ok(
                r#"{"id":"0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01","name":"Ada"}"#
            ))
            .unwrap()
            .as_str(),
            "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01"
        );
        assert_eq!(
            parse_me(&ok("{}")).unwrap_err().code,
            ErrorCode::BadResponse
        );
        assert_eq!(
            parse_definition_label(&ok(r#"{"id":"d","languageLabels":{"en_US":"Do Not Disturb","fr":"Ne pas déranger"},"systemPresence":"Busy","type":"User"}"#)).unwrap().as_deref(),
            Some("Do Not Disturb")
        );
        assert_eq!(parse_definition_label(&ok(r#"{"id":"d"}"#)).unwrap(), None);
        for garbage in ["", "[]", "not json", r#"{"status":7}"#] {
            assert_eq!(
                parse_routing_status(&ok(garbage)).unwrap_err().code,
                ErrorCode::BadResponse,
                "{garbage}"
            );
        }
    }

    fn status(code: u16, body: &str) -> Result<HttpResponse, Error> {
        let r = HttpResponse {
            status: code,
            headers: vec![],
            body: body.into(),
        };
        if r.is_success() {
            Ok(r)
        } else {
            Err(Error::from_response(&r, Attempt::Other))
        }
    }

    type Found = (AgentFacts, Vec<String>);

    /// Runs a plan against canned answers as the flow does; returns what was asked.
    fn run(answers: &[(Lookup, u16, &str)]) -> (Vec<Lookup>, Result<Found, Error>) {
        let mut plan = Lookups::new(EntityId::parse("u1", "id").unwrap());
        let mut asked = BURST.to_vec();
        let answer = |k: Lookup| {
            let (_, code, body) = answers.iter().find(|(l, _, _)| *l == k).unwrap();
            status(*code, body)
        };
        for k in BURST {
            if let Err(e) = plan.read(k, answer(k)) {
                return (asked, Err(e));
            }
        }
        if plan.wants_label() {
            asked.push(Lookup::Definition);
            if let Err(e) = plan.read(Lookup::Definition, answer(Lookup::Definition)) {
                return (asked, Err(e));
            }
        }
        (asked, Ok(plan.finish()))
    }

    const PRESENCE_BUSY: &str = r#"{"presenceDefinition":{"id":"9d1c4b7e-2f3a-4d5b-8c6e-7a8b9c0d1e2f","systemPresence":"Busy"}}"#;
    const FORBIDDEN: &str = r#"{"message":"You are missing the following permission(s): [telephony:otherStationAssociation:view]","code":"missing.permissions","status":403}"#;

    #[test]
    fn the_plan_is_one_burst_then_the_label_only_where_it_matters() {
        use Lookup::*;
        let answers = [
            (Presence, 200, PRESENCE_BUSY),
            (RoutingStatus, 200, r#"{"status":"OFF_QUEUE"}"#),
            (Station, 200, r#"{"effectiveStation":{"id":"s3"}}"#),
            (
                Definition,
                200,
                r#"{"languageLabels":{"en_US":"Do Not Disturb"}}"#,
            ),
        ];
        let (asked, facts) = run(&answers);
        assert_eq!(asked, [Presence, RoutingStatus, Station, Definition]);
        let (facts, warnings) = facts.unwrap();
        assert_eq!(facts.presence_label.as_deref(), Some("Do Not Disturb"));
        assert_eq!(
            decide("u1", &facts, false, warnings).reason,
            Reason::DoNotDisturb
        );
        // Available: no label lookup.
        let mut available = answers;
        available[0] = (
            Presence,
            200,
            r#"{"presenceDefinition":{"id":"6a3af858-942f-489d-9700-5f9bcdcdae9b","systemPresence":"Available"}}"#,
        );
        assert_eq!(run(&available).0, [Presence, RoutingStatus, Station]);
    }

    #[test]
    fn a_403_is_unknown_with_a_warning_and_anything_else_fails_the_check() {
        use Lookup::*;
        let mut answers = [
            (
                Presence,
                200,
                r#"{"presenceDefinition":{"systemPresence":"Available"}}"#,
            ),
            (RoutingStatus, 200, r#"{"status":"IDLE"}"#),
            (Station, 403, FORBIDDEN),
            (Definition, 200, "{}"),
        ];
        let (facts, warnings) = run(&answers).1.unwrap();
        assert_eq!(facts.station, StationFact::Unknown);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].starts_with("could not read the agent's station (HTTP 403: "),
            "{}",
            warnings[0]
        );
        assert!(warnings[0].contains("telephony:otherStationAssociation:view"));
        let c = decide("u1", &facts, false, warnings);
        assert_eq!((c.available, c.reason), (None, Reason::Unknown));
        // A refused definition lookup: Busy stays Busy (still blocked), with a warning.
        answers[0] = (Presence, 200, PRESENCE_BUSY);
        answers[2] = (Station, 200, "{}");
        answers[3] = (Definition, 403, FORBIDDEN);
        let (facts, warnings) = run(&answers).1.unwrap();
        assert_eq!(
            decide("u1", &facts, false, warnings.clone()).reason,
            Reason::Busy
        );
        assert!(warnings[0].contains("presence definition"));
        for (code, want) in [
            (500, ErrorCode::ServerError),
            (404, ErrorCode::NotFound),
            (401, ErrorCode::AuthFailed),
        ] {
            answers[1] = (RoutingStatus, code, "{}");
            assert_eq!(run(&answers).1.unwrap_err().code, want, "{code}");
        }
        answers[1] = (RoutingStatus, 200, "<html>");
        assert_eq!(run(&answers).1.unwrap_err().code, ErrorCode::BadResponse);
    }

    #[test]
    fn lookup_urls() {
        let e = Endpoints::custom("http://h", "http://h").unwrap();
        let u = EntityId::parse("u1", "id").unwrap();
        assert_eq!(
            presence_request(&e, "t", &u).url,
            "http://h/api/v2/users/u1/presences/purecloud"
        );
        assert_eq!(
            routing_status_request(&e, "t", &u).url,
            "http://h/api/v2/users/u1/routingstatus"
        );
        assert_eq!(
            station_request(&e, "t", &u).url,
            "http://h/api/v2/users/u1/station"
        );
        assert_eq!(me_request(&e, "t").url, "http://h/api/v2/users/me");
        assert_eq!(
            definition_request(&e, "t", &u).url,
            "http://h/api/v2/presence/definitions/u1"
        );
        assert_eq!(me_request(&e, "t").method, Method::Get);
    }
}
