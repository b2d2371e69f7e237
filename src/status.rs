//! The normalized call status, derived from Genesys participants.
//!
//! Genesys has no top-level call state: each participant (leg) has its own
//! `state`, `disconnectType`, timestamps and, on `GET /api/v2/conversations/{id}`,
//! `calls[].disconnectReasons`. This module reads both conversation shapes into
//! [`Leg`]s and derives one [`CallStatus`]: a `phase`, and when ended an `outcome`.
//! Unknown enum strings are kept as they are and never rejected.

use serde::Serialize;

use crate::error::{Attempt, Error};
pub use crate::wire::DisconnectReason;
use crate::wire::{self, Conversation, ErrorInfo, Participant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Genesys is ringing the agent's station (or no leg has started yet).
    ContactingAgent,
    /// The agent's side is up; the far end is being dialled / is ringing.
    Dialing,
    /// The far end answered.
    Connected,
    /// The far-end leg (or, if it never started, the agent leg) has ended.
    Ended,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::ContactingAgent => "contacting-agent",
            Phase::Dialing => "dialing",
            Phase::Connected => "connected",
            Phase::Ended => "ended",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The far end answered; the call has since ended (whoever hung up).
    Completed,
    Busy,
    NoAnswer,
    /// Unreachable number, network or Genesys error.
    Failed,
    /// The agent's station never answered, or the agent has none.
    AgentUnavailable,
    /// Our side hung up before the far end answered.
    Canceled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Busy => "busy",
            Outcome::NoAnswer => "no-answer",
            Outcome::Failed => "failed",
            Outcome::AgentUnavailable => "agent-unavailable",
            Outcome::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A Genesys user's leg (the agent placing the call).
    Agent,
    /// The far end: the number dialled.
    Customer,
    /// Anything else (ACD, IVR, a consult…).
    Other,
}

/// One participant's leg, whichever endpoint it was read from. Serialized as
/// the JS API's `CallLeg`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Leg {
    pub participant_id: String,
    pub role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect_type: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disconnect_reasons: Vec<DisconnectReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_info: Option<ErrorInfo>,
}

impl Leg {
    pub fn is_ended(&self) -> bool {
        matches!(self.state.as_deref(), Some("disconnected" | "terminated"))
    }

    fn state_is(&self, s: &str) -> bool {
        self.state.as_deref() == Some(s)
    }

    /// A participant of either shape. In the `Conversation` shape the media
    /// state lives on the participant's last call; the participant's own
    /// fields (the `CallConversation` shape) win where both exist.
    fn from_participant(p: Participant) -> Leg {
        let calls = p.calls.unwrap_or_default();
        let disconnect_reasons = calls
            .iter()
            .flat_map(|c| c.disconnect_reasons.iter().flatten().cloned())
            .collect();
        let last = calls.into_iter().last().unwrap_or_default();
        let user_id = p.user.and_then(|u| u.id).or(p.user_id);
        let role = match (p.purpose.as_deref(), &user_id) {
            (_, Some(_)) | (Some("agent" | "user"), _) => Role::Agent,
            (Some("customer" | "external"), None) => Role::Customer,
            _ => Role::Other,
        };
        Leg {
            participant_id: p.id,
            role,
            purpose: p.purpose,
            state: p.state.or(last.state),
            address: p
                .address
                .or_else(|| last.other.and_then(|o| o.address_normalized)),
            name: p.name,
            user_id,
            direction: p.direction.or(last.direction),
            start_time: p.start_time,
            connected_time: p.connected_time.or(last.connected_time),
            end_time: p.end_time.or(last.disconnected_time),
            disconnect_type: p.disconnect_type.or(last.disconnect_type),
            disconnect_reasons,
            error_info: p.error_info.or(last.error_info),
        }
    }
}

/// The participants of one conversation at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub conversation_id: String,
    pub legs: Vec<Leg>,
}

impl Snapshot {
    /// Reads a `CallConversation` (`GET /api/v2/conversations/calls/{id}`, the
    /// `v2.users.{id}.conversations.calls` event) or a `Conversation`
    /// (`GET /api/v2/conversations/{id}`, where state lives in `participants[].calls[]`).
    pub fn parse(body: &str) -> Result<Snapshot, Error> {
        let c: Conversation = wire::decode(body).map_err(|e| {
            Error::bad_response(
                &["conversation is not the documented shape: ", &e].concat(),
                Attempt::Other,
            )
        })?;
        Ok(Snapshot::from_conversation(c))
    }

    pub fn from_conversation(c: Conversation) -> Snapshot {
        let mut legs: Vec<Leg> = c
            .participants
            .unwrap_or_default()
            .into_iter()
            .map(Leg::from_participant)
            .collect();
        // Some shapes carry no customer/external purpose; fall back to the first
        // non-user leg with a phone address.
        if !legs.iter().any(|l| l.role == Role::Customer) {
            if let Some(l) = legs.iter_mut().find(|l| {
                l.role == Role::Other
                    && l.user_id.is_none()
                    && l.address.as_deref().is_some_and(|a| a.starts_with("tel:"))
            }) {
                l.role = Role::Customer;
            }
        }
        Snapshot {
            conversation_id: c.id,
            legs,
        }
    }

    pub fn leg(&self, role: Role) -> Option<&Leg> {
        self.legs.iter().find(|l| l.role == role)
    }

    /// Copies `disconnectReasons` (and missing disconnect types) from a
    /// `Conversation` read of the same call, matching legs by participant id.
    pub fn merge_reasons(&mut self, other: &Snapshot) {
        for leg in &mut self.legs {
            if let Some(o) = other
                .legs
                .iter()
                .find(|o| o.participant_id == leg.participant_id)
            {
                if leg.disconnect_reasons.is_empty() {
                    leg.disconnect_reasons = o.disconnect_reasons.clone();
                }
                if leg.disconnect_type.is_none() {
                    leg.disconnect_type = o.disconnect_type.clone();
                }
            }
        }
    }

    /// True when the far end ended without answering and we have no SIP/Q.850
    /// cause yet: only then is the extra `GET /api/v2/conversations/{id}` worth it.
    pub fn needs_reasons(&self) -> bool {
        match self.leg(Role::Customer) {
            Some(f) => {
                f.is_ended()
                    && f.connected_time.is_none()
                    && f.disconnect_reasons.is_empty()
                    && f.disconnect_type.as_deref() != Some("client")
            }
            None => false,
        }
    }
}

/// The normalized status handed to pages and the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallStatus {
    pub snapshot: Snapshot,
    pub phase: Phase,
    pub outcome: Option<Outcome>,
}

/// The JS API's `CallStatus` without `raw` (each shell adds the untouched
/// Genesys JSON its own way; the edge never shows it to visitors).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallStatusView<'a> {
    pub conversation_id: &'a str,
    pub phase: Phase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<&'a Leg>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<&'a Leg>,
    pub other_legs: Vec<&'a Leg>,
}

impl CallStatus {
    pub fn derive(snapshot: Snapshot) -> CallStatus {
        let (phase, outcome) = derive_phase(&snapshot);
        CallStatus {
            snapshot,
            phase,
            outcome,
        }
    }

    /// Whether the call has reached `until` (or can no longer reach it).
    pub fn reached(&self, until: Phase) -> bool {
        self.phase >= until
    }

    /// Changes whenever anything a page would show changes; equal otherwise.
    pub fn fingerprint(&self) -> String {
        let mut f = String::from(self.phase.as_str());
        f.push('|');
        f.push_str(self.outcome.map_or("", Outcome::as_str));
        for l in &self.snapshot.legs {
            for part in [
                Some(l.participant_id.as_str()),
                l.state.as_deref(),
                l.disconnect_type.as_deref(),
                l.connected_time.as_deref(),
                l.end_time.as_deref(),
            ] {
                f.push('|');
                f.push_str(part.unwrap_or(""));
            }
            f.push_str(if l.disconnect_reasons.is_empty() {
                ""
            } else {
                "r"
            });
        }
        f
    }

    pub fn view(&self) -> CallStatusView<'_> {
        let agent = self.snapshot.leg(Role::Agent);
        let customer = self.snapshot.leg(Role::Customer);
        let is = |l: &Leg, o: Option<&Leg>| o.is_some_and(|o| o.participant_id == l.participant_id);
        CallStatusView {
            conversation_id: &self.snapshot.conversation_id,
            phase: self.phase,
            outcome: self.outcome,
            agent,
            customer,
            other_legs: self
                .snapshot
                .legs
                .iter()
                .filter(|l| !is(l, agent) && !is(l, customer))
                .collect(),
        }
    }

    /// `{conversationId, phase, outcome?, agent?, customer?, otherLegs, raw?}`.
    /// `raw` (the untouched Genesys JSON) is for trusted callers only.
    pub fn to_json(&self, raw: Option<&str>) -> String {
        #[derive(Serialize)]
        struct WithRaw<'a> {
            #[serde(flatten)]
            view: CallStatusView<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            raw: Option<&'a serde_json::value::RawValue>,
        }
        let raw = raw.and_then(|r| serde_json::from_str(r).ok());
        wire::encode(&WithRaw {
            view: self.view(),
            raw,
        })
    }
}

fn derive_phase(snap: &Snapshot) -> (Phase, Option<Outcome>) {
    let agent = snap.leg(Role::Agent);
    if let Some(far) = snap.leg(Role::Customer) {
        if far.is_ended() {
            return (Phase::Ended, Some(far_outcome(far, agent)));
        }
        if far.state_is("connected") {
            return (Phase::Connected, None);
        }
        return (Phase::Dialing, None);
    }
    match agent {
        Some(a) if a.is_ended() => {
            let outcome = if a.disconnect_type.as_deref() == Some("client") {
                Outcome::Canceled
            } else {
                Outcome::AgentUnavailable
            };
            (Phase::Ended, Some(outcome))
        }
        Some(a) if a.state_is("dialing") || a.state_is("connected") => (Phase::Dialing, None),
        Some(_) => (Phase::ContactingAgent, None),
        None if !snap.legs.is_empty() && snap.legs.iter().all(Leg::is_ended) => {
            (Phase::Ended, Some(Outcome::Failed))
        }
        None => (Phase::ContactingAgent, None),
    }
}

fn far_outcome(far: &Leg, agent: Option<&Leg>) -> Outcome {
    if far.connected_time.is_some() {
        return Outcome::Completed;
    }
    for r in &far.disconnect_reasons {
        let by_code = match (r.kind.as_str(), r.code) {
            ("sip", Some(486 | 600 | 603)) | ("q850", Some(17 | 21)) => Some(Outcome::Busy),
            ("sip", Some(408 | 480)) | ("q850", Some(18 | 19)) => Some(Outcome::NoAnswer),
            ("sip", Some(487)) => Some(Outcome::Canceled),
            ("sip", Some(400..=699)) | ("q850", Some(1..=127)) if r.code != Some(16) => {
                Some(Outcome::Failed)
            }
            _ => None,
        };
        if let Some(o) = by_code {
            return o;
        }
    }
    let agent_hung_up = agent.is_some_and(|a| a.disconnect_type.as_deref() == Some("client"));
    match far.disconnect_type.as_deref() {
        Some("client") => Outcome::Canceled,
        Some("peer") if agent_hung_up => Outcome::Canceled,
        Some("transfer.noanswer" | "timeout") => Outcome::NoAnswer,
        Some(
            "endpoint.donotdisturb" | "endpoint.dnd" | "transfer.donotdisturb" | "transfer.dnd",
        ) => Outcome::Busy,
        _ if agent_hung_up => Outcome::Canceled,
        _ => Outcome::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT: &str = r#"{"id":"pa","purpose":"agent","user":{"id":"u1","selfUri":"/api/v2/users/u1"},"direction":"outbound","startTime":"2026-11-23T10:00:00.000Z""#;

    fn call(agent_rest: &str, far: Option<&str>) -> String {
        let far = far.map(|f| format!(r#",{{"id":"pc","purpose":"customer","address":"tel:+13175550100","direction":"outbound"{f}}}"#)).unwrap_or_default();
        format!(
            r#"{{"id":"c1","participants":[{AGENT}{agent_rest}}}{far}],"recordingState":"none","selfUri":"/api/v2/conversations/calls/c1"}}"#
        )
    }

    fn status(body: &str) -> CallStatus {
        CallStatus::derive(Snapshot::parse(body).unwrap())
    }

    #[test]
    fn every_simulator_scenario_derives_the_documented_phase_and_outcome() {
        use Outcome::*;
        use Phase::*;
        let reasons = |code: u32| {
            format!(
                r#","calls":[{{"state":"disconnected","disconnectReasons":[{{"type":"sip","code":{code},"phrase":"x"}}]}}]"#
            )
        };
        let cases: Vec<(&str, String, Phase, Option<Outcome>)> = vec![
            (
                "agent station ringing",
                call(r#","state":"contacting""#, None),
                ContactingAgent,
                None,
            ),
            (
                "agent answered, far leg not yet there",
                call(r#","state":"connected""#, None),
                Dialing,
                None,
            ),
            (
                "far end ringing",
                call(r#","state":"connected""#, Some(r#","state":"dialing""#)),
                Dialing,
                None,
            ),
            (
                "far end alerting (unknown sequence)",
                call(r#","state":"connected""#, Some(r#","state":"alerting""#)),
                Dialing,
                None,
            ),
            (
                "answered",
                call(
                    r#","state":"connected""#,
                    Some(r#","state":"connected","connectedTime":"t""#),
                ),
                Connected,
                None,
            ),
            (
                "+100 far end hung up after answering",
                call(
                    r#","state":"disconnected","disconnectType":"peer""#,
                    Some(
                        r#","state":"disconnected","connectedTime":"t","endTime":"t2","disconnectType":"endpoint""#,
                    ),
                ),
                Ended,
                Some(Completed),
            ),
            (
                "+101 busy (sip 486)",
                call(
                    r#","state":"disconnected""#,
                    Some(&format!(
                        r#","state":"disconnected","disconnectType":"endpoint"{}"#,
                        reasons(486)
                    )),
                ),
                Ended,
                Some(Busy),
            ),
            (
                "+102 no answer (sip 480)",
                call(
                    r#","state":"disconnected""#,
                    Some(&format!(
                        r#","state":"disconnected","disconnectType":"endpoint"{}"#,
                        reasons(480)
                    )),
                ),
                Ended,
                Some(NoAnswer),
            ),
            (
                "+103 unreachable (sip 404)",
                call(
                    r#","state":"disconnected""#,
                    Some(&format!(
                        r#","state":"disconnected","disconnectType":"error"{}"#,
                        reasons(404)
                    )),
                ),
                Ended,
                Some(Failed),
            ),
            (
                "+105 station never answers",
                call(
                    r#","state":"disconnected","disconnectType":"transfer.noanswer""#,
                    None,
                ),
                Ended,
                Some(AgentUnavailable),
            ),
            (
                "Otto has no station",
                call(
                    r#","state":"disconnected","disconnectType":"error","errorInfo":{"code":"station.unavailable","message":"no station"}"#,
                    None,
                ),
                Ended,
                Some(AgentUnavailable),
            ),
            (
                "we hung up while the agent rang",
                call(r#","state":"disconnected","disconnectType":"client""#, None),
                Ended,
                Some(Canceled),
            ),
            (
                "we hung up while the far end rang",
                call(
                    r#","state":"disconnected","disconnectType":"client""#,
                    Some(r#","state":"disconnected","disconnectType":"peer""#),
                ),
                Ended,
                Some(Canceled),
            ),
            (
                "we hung up after answer",
                call(
                    r#","state":"disconnected","disconnectType":"client""#,
                    Some(r#","state":"disconnected","connectedTime":"t","disconnectType":"peer""#),
                ),
                Ended,
                Some(Completed),
            ),
            (
                "far end ended, cause unknown",
                call(
                    r#","state":"disconnected""#,
                    Some(r#","state":"terminated","disconnectType":"endpoint""#),
                ),
                Ended,
                Some(Failed),
            ),
            (
                "transfer.noanswer without reasons",
                call(
                    r#","state":"connected""#,
                    Some(r#","state":"disconnected","disconnectType":"transfer.noanswer""#),
                ),
                Ended,
                Some(NoAnswer),
            ),
            (
                "dnd",
                call(
                    r#","state":"connected""#,
                    Some(r#","state":"disconnected","disconnectType":"endpoint.donotdisturb""#),
                ),
                Ended,
                Some(Busy),
            ),
        ];
        for (name, body, phase, outcome) in cases {
            let st = status(&body);
            assert_eq!((st.phase, st.outcome), (phase, outcome), "{name}");
        }
    }

    #[test]
    fn q850_causes_classify_too() {
        for (code, want) in [
            (17, Outcome::Busy),
            (19, Outcome::NoAnswer),
            (18, Outcome::NoAnswer),
            (1, Outcome::Failed),
            (16, Outcome::Failed),
        ] {
            let body = call(
                r#","state":"disconnected""#,
                Some(&format!(
                    r#","state":"disconnected","calls":[{{"disconnectReasons":[{{"type":"q850","code":{code}}}]}}]"#
                )),
            );
            assert_eq!(status(&body).outcome, Some(want), "q850 {code}");
        }
    }

    /// genesys-api.md §4.3: a captured real inbound ACD call (customer, IVR, agent).
    #[test]
    fn captured_inbound_acd_call_is_connected() {
        let body = r#"{"id":"516266f7-57d5-4548-b173-0d15e6c3d350","participants":[
          {"id":"9969ea3a","name":"+61416275769","address":"tel:+61416275769","startTime":"2022-04-22T08:29:54.319Z","connectedTime":"2022-04-22T08:29:54.515Z","purpose":"customer","state":"connected","direction":"inbound","held":false,"wrapupRequired":false,"queue":{"id":"89bd","selfUri":"/api/v2/routing/queues/89bd"},"attributes":{},"provider":"Edge","muted":false,"confined":false,"recording":false,"recordingState":"none","ani":"tel:+61416275769","dnis":"tel:+61283677914"},
          {"id":"0fe05fff","purpose":"ivr","state":"terminated","disconnectType":"transfer","endTime":"2022-04-22T08:29:58.242Z"},
          {"id":"e449ce89","purpose":"agent","state":"connected","direction":"inbound","wrapupRequired":true,"wrapupPrompt":"optional","user":{"id":"c25cd065","selfUri":"/api/v2/users/c25cd065"},"alertingTimeoutMs":8000,"provider":"Edge","peer":"c196b931"}],
          "otherMediaUris":[],"recordingState":"none","selfUri":"/api/v2/conversations/calls/516266f7-57d5-4548-b173-0d15e6c3d350"}"#;
        let st = status(body);
        assert_eq!(st.phase, Phase::Connected);
        assert_eq!(
            st.snapshot.leg(Role::Agent).unwrap().user_id.as_deref(),
            Some("c25cd065")
        );
        assert_eq!(
            st.snapshot.leg(Role::Other).unwrap().purpose.as_deref(),
            Some("ivr")
        );
        let json = st.to_json(None);
        assert!(json.contains(r#""otherLegs":[{"participantId":"0fe05fff","role":"other","purpose":"ivr","state":"terminated""#), "{json}");
    }

    /// genesys-api.md §4.3: the illustrative agent-originated outbound call after answer.
    #[test]
    fn illustrative_outbound_call_after_answer() {
        let body = r#"{"id":"c0ffee00-0000-4000-8000-000000000001","participants":[
          {"id":"p-agent","purpose":"agent","state":"connected","direction":"outbound","startTime":"2026-11-23T10:00:00.000Z","connectedTime":"2026-11-23T10:00:02.100Z","user":{"id":"u-123","selfUri":"/api/v2/users/u-123"},"queue":{"id":"q-1","selfUri":"/api/v2/routing/queues/q-1"},"held":false,"wrapupRequired":true,"provider":"Edge"},
          {"id":"p-cust","purpose":"customer","address":"tel:+13175550123","name":"+13175550123","state":"connected","direction":"outbound","startTime":"2026-11-23T10:00:02.300Z","connectedTime":"2026-11-23T10:00:09.800Z","held":false,"wrapupRequired":false,"provider":"Edge"}],
          "otherMediaUris":[],"recordingState":"none","selfUri":"/api/v2/conversations/calls/c0ffee00-0000-4000-8000-000000000001"}"#;
        let st = status(body);
        assert_eq!(st.phase, Phase::Connected);
        let c = st.snapshot.leg(Role::Customer).unwrap();
        assert_eq!(
            c.connected_time.as_deref(),
            Some("2026-11-23T10:00:09.800Z")
        );
    }

    #[test]
    fn conversation_shape_reads_state_from_calls() {
        let body = r#"{"id":"c1","startTime":"x","participants":[
          {"id":"pa","purpose":"agent","userId":"u1","calls":[{"state":"disconnected","disconnectType":"peer"}]},
          {"id":"pc","purpose":"customer","address":"tel:+13175550101","calls":[{"state":"disconnected","disconnectType":"endpoint","disconnectedTime":"t9","disconnectReasons":[{"type":"sip","code":486,"phrase":"Busy Here"}]}]}]}"#;
        let st = status(body);
        assert_eq!((st.phase, st.outcome), (Phase::Ended, Some(Outcome::Busy)));
        assert_eq!(
            st.snapshot.leg(Role::Customer).unwrap().end_time.as_deref(),
            Some("t9")
        );
    }

    #[test]
    fn merging_reasons_turns_failed_into_busy() {
        let mut snap = Snapshot::parse(&call(
            r#","state":"disconnected""#,
            Some(r#","state":"disconnected","disconnectType":"endpoint""#),
        ))
        .unwrap();
        assert!(snap.needs_reasons());
        assert_eq!(
            CallStatus::derive(snap.clone()).outcome,
            Some(Outcome::Failed)
        );
        let conv = Snapshot::parse(r#"{"id":"c1","participants":[{"id":"pc","purpose":"customer","calls":[{"state":"disconnected","disconnectReasons":[{"type":"sip","code":486}]}]}]}"#).unwrap();
        snap.merge_reasons(&conv);
        assert!(!snap.needs_reasons());
        assert_eq!(CallStatus::derive(snap).outcome, Some(Outcome::Busy));
    }

    #[test]
    fn unknown_enum_values_and_fields_pass_through() {
        let body = call(
            r#","state":"parked","futureField":{"x":[1,2]}"#,
            Some(r#","state":"quantum-entangled","disconnectType":"brand.new""#),
        );
        let st = status(&body);
        assert_eq!(st.phase, Phase::Dialing);
        assert!(st.to_json(None).contains(r#""state":"quantum-entangled""#));
        let ended = call(
            r#","state":"disconnected""#,
            Some(r#","state":"terminated","disconnectType":"brand.new""#),
        );
        assert_eq!(status(&ended).outcome, Some(Outcome::Failed));
    }

    #[test]
    fn malformed_conversations_are_bad_response_not_panics() {
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"id":"c","participants":{}}"#,
            "{\"id\":",
            // Wrong member types: a conversation we cannot read is not guessed at.
            r#"{"id":"c","participants":[1,"x"]}"#,
            r#"{"id":"c","participants":[{"id":"p","state":true}]}"#,
            r#"{"id":"c","participants":[{"id":"p","calls":7}]}"#,
        ] {
            assert_eq!(
                Snapshot::parse(bad).unwrap_err().code.as_str(),
                "bad_response",
                "{bad}"
            );
        }
        // Unknown members are ignored: a leg with only an id still reads.
        let odd =
            Snapshot::parse(r#"{"id":"c","participants":[{"id":"p","x":{"y":[1]}}]}"#).unwrap();
        assert_eq!(odd.legs.len(), 1);
        assert_eq!(CallStatus::derive(odd).phase, Phase::ContactingAgent);
    }

    #[test]
    fn fallback_customer_leg_by_tel_address() {
        let body = r#"{"id":"c","participants":[{"id":"a","purpose":"user","user":{"id":"u"},"state":"connected"},{"id":"b","purpose":"outbound","address":"tel:+13175550100","state":"connected"}]}"#;
        assert_eq!(status(body).phase, Phase::Connected);
    }

    #[test]
    fn fingerprint_changes_only_when_the_call_changes() {
        let a = status(&call(
            r#","state":"connected""#,
            Some(r#","state":"dialing""#),
        ));
        let a2 = status(&call(
            r#","state":"connected","muted":true"#,
            Some(r#","state":"dialing","held":false"#),
        ));
        let b = status(&call(
            r#","state":"connected""#,
            Some(r#","state":"connected","connectedTime":"t""#),
        ));
        assert_eq!(a.fingerprint(), a2.fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn status_json_is_valid_and_embeds_raw_only_on_request() {
        let body = call(
            r#","state":"connected""#,
            Some(r#","state":"connected","connectedTime":"t""#),
        );
        let st = status(&body);
        let with: serde_json::Value = serde_json::from_str(&st.to_json(Some(&body))).unwrap();
        assert_eq!(with["phase"], "connected");
        assert_eq!(with["raw"]["id"], "c1");
        assert_eq!(with["customer"]["address"], "tel:+13175550100");
        assert_eq!(with["customer"]["role"], "customer");
        assert_eq!(with["agent"]["userId"], "u1");
        let without: serde_json::Value = serde_json::from_str(&st.to_json(None)).unwrap();
        assert!(without.get("raw").is_none());
        assert!(without["otherLegs"].as_array().unwrap().is_empty());
    }
}
