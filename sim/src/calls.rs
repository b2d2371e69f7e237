//! Simulated calls. A conversation is a fixed timeline chosen at creation from
//! the agent's station and the dialled test number; its state at any moment is
//! computed from the elapsed time (scaled by `--time-scale`) and an optional
//! API hang-up. Nothing here runs on a timer (the Notifications push in
//! `notify/` only sleeps until the next transition and reads the state then).

use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Map, Value};

use crate::org::Station;
use crate::util::iso;

/// How the far end behaves, per design.md §6.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FarEnd {
    /// Answers after `answer`, hangs up `talk` after answering.
    Answers { answer: f64, talk: f64 },
    /// Ends unanswered after `after` seconds with a SIP cause.
    Fails {
        after: f64,
        sip: u16,
        phrase: &'static str,
        disconnect_type: &'static str,
    },
}

/// The far end's behaviour for a dialled number (already validated E.164).
pub fn far_end_for(number: &str) -> FarEnd {
    match number {
        "+13175550100" => FarEnd::Answers {
            answer: 2.0,
            talk: 8.0,
        },
        "+13175550101" => FarEnd::Fails {
            after: 1.0,
            sip: 486,
            phrase: "Busy Here",
            disconnect_type: "endpoint",
        },
        "+13175550102" => FarEnd::Fails {
            after: 30.0,
            sip: 480,
            phrase: "Temporarily Unavailable",
            disconnect_type: "endpoint",
        },
        "+13175550103" => FarEnd::Fails {
            after: 0.5,
            sip: 404,
            phrase: "Not Found",
            disconnect_type: "error",
        },
        "+13175550104" => FarEnd::Answers {
            answer: 1.0,
            talk: 600.0,
        },
        _ => FarEnd::Answers {
            answer: 3.0,
            talk: 15.0,
        },
    }
}

/// `+13175550105`: the agent's station never answers, whoever the agent is.
pub const STATION_NEVER_ANSWERS: &str = "+13175550105";
/// Seconds for an auto-answering station to pick up.
const AGENT_ANSWER_S: f64 = 0.5;
/// Seconds a station rings before Genesys gives up on it.
const AGENT_RING_TIMEOUT_S: f64 = 15.0;
/// Seconds before a user without a station is reported as failed.
const NO_STATION_FAIL_S: f64 = 0.5;
/// Seconds for a do-not-disturb station to reject the call.
const DND_REJECT_S: f64 = 0.5;

#[derive(Debug, Clone)]
pub struct Call {
    /// What was asked for (number, agent, owner, ids).
    pub spec: NewCall,
    created: Instant,
    created_wall: SystemTime,
    /// The agent's station as it behaves for this call (`+13175550105` overrides it).
    station: Station,
    far: FarEnd,
    /// Scaled offset of an API hang-up, if any.
    hung_up: Option<Duration>,
    /// Wrap-up state of an ACD call (see `wrapup.rs`).
    pub acw: crate::wrapup::AfterCallWork,
}

/// One leg's state at a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct LegState {
    pub state: &'static str,
    pub start: Duration,
    pub connected: Option<Duration>,
    pub end: Option<Duration>,
    pub disconnect_type: Option<&'static str>,
    pub reason: Option<(u16, &'static str)>,
    pub error: Option<(&'static str, &'static str)>,
}

#[derive(Debug, Clone)]
pub struct NewCall {
    pub id: String,
    /// Who may see it: the creating OAuth client or user.
    pub owner: String,
    pub agent_id: String,
    pub agent_name: String,
    pub station: Station,
    pub number: String,
    pub caller_id: Option<String>,
    pub caller_id_name: Option<String>,
    pub queue_id: Option<String>,
    pub attributes: Map<String, Value>,
    pub agent_pid: String,
    pub far_pid: String,
    pub scale: f64,
}

impl Call {
    pub fn new(n: NewCall) -> Call {
        let station = if n.number == STATION_NEVER_ANSWERS && n.station == Station::AutoAnswer {
            Station::NeverAnswers
        } else {
            n.station
        };
        Call {
            far: far_end_for(&n.number),
            created: Instant::now(),
            created_wall: SystemTime::now(),
            station,
            hung_up: None,
            acw: Default::default(),
            spec: n,
        }
    }

    fn secs(&self, s: f64) -> Duration {
        Duration::from_secs_f64((s * self.spec.scale).max(0.0))
    }

    pub fn elapsed(&self) -> Duration {
        self.created.elapsed()
    }

    /// Hangs up every leg now (no-op once ended). Returns false if already ended.
    pub fn hang_up(&mut self) -> bool {
        let now = self.elapsed();
        if self.ended_at(now).is_some() {
            return false;
        }
        self.hung_up = Some(now);
        true
    }

    /// When the call ended (both legs down), if it has by `t`.
    pub fn ended_at(&self, t: Duration) -> Option<Duration> {
        let (agent, far) = self.legs_at(t);
        match far {
            Some(f) => f.end,
            None => agent.end,
        }
    }

    /// The agent leg and (once it exists) the far-end leg at offset `t`.
    pub fn legs_at(&self, t: Duration) -> (LegState, Option<LegState>) {
        let hang = self.hung_up.filter(|h| *h <= t);
        let mut agent = LegState {
            state: "contacting",
            start: Duration::ZERO,
            connected: None,
            end: None,
            disconnect_type: None,
            reason: None,
            error: None,
        };
        let answered_at = match self.station {
            Station::AutoAnswer => Some(self.secs(AGENT_ANSWER_S)),
            _ => None,
        };
        let Some(a) = answered_at.filter(|a| hang.is_none_or(|h| h >= *a)) else {
            // The agent leg never gets past contacting: it fails, or we hang up first.
            let (give_up, dtype, error) = match self.station {
                Station::None => (
                    self.secs(NO_STATION_FAIL_S),
                    "error",
                    Some((
                        "station.unavailable",
                        "The user has no station associated and cannot place calls.",
                    )),
                ),
                Station::DoNotDisturb => (self.secs(DND_REJECT_S), "endpoint.donotdisturb", None),
                _ => (self.secs(AGENT_RING_TIMEOUT_S), "transfer.noanswer", None),
            };
            let give_up = if answered_at.is_some() {
                Duration::MAX
            } else {
                give_up
            };
            match hang {
                Some(h) if h < give_up => end(&mut agent, h, "client"),
                _ if t >= give_up => {
                    end(&mut agent, give_up, dtype);
                    agent.error = error;
                }
                _ => {}
            }
            return (agent, None);
        };
        if t < a {
            return (agent, None);
        }
        agent.state = "connected";
        agent.connected = Some(a);
        let mut far = LegState {
            state: "dialing",
            start: a,
            connected: None,
            end: None,
            disconnect_type: None,
            reason: None,
            error: None,
        };
        let (natural_end, answer) = match self.far {
            FarEnd::Answers { answer, talk } => {
                (a + self.secs(answer + talk), Some(a + self.secs(answer)))
            }
            FarEnd::Fails { after, .. } => (a + self.secs(after), None),
        };
        if let Some(ans) = answer.filter(|ans| t >= *ans && hang.is_none_or(|h| h >= *ans)) {
            far.state = "connected";
            far.connected = Some(ans);
        }
        match hang {
            Some(h) if h < natural_end => {
                end(&mut agent, h, "client");
                end(&mut far, h, "peer");
            }
            _ if t >= natural_end => {
                end(&mut agent, natural_end, "peer");
                match self.far {
                    FarEnd::Answers { .. } => end(&mut far, natural_end, "endpoint"),
                    FarEnd::Fails {
                        sip,
                        phrase,
                        disconnect_type,
                        ..
                    } => {
                        end(&mut far, natural_end, disconnect_type);
                        far.reason = Some((sip, phrase));
                    }
                }
            }
            _ => {}
        }
        (agent, Some(far))
    }

    fn at(&self, d: Duration) -> String {
        iso(self.created_wall + d)
    }

    /// A leg's participant id (`!is_agent` gives its peer's).
    fn pid(&self, is_agent: bool) -> &str {
        if is_agent {
            &self.spec.agent_pid
        } else {
            &self.spec.far_pid
        }
    }

    /// Genesys' convention: `agent`/`customer` on ACD (queue) calls, `user`/`external` otherwise.
    fn purpose(&self, is_agent: bool) -> &'static str {
        match (is_agent, self.spec.queue_id.is_some()) {
            (true, true) => "agent",
            (true, false) => "user",
            (false, true) => "customer",
            (false, false) => "external",
        }
    }

    /// When the call was created (wall clock).
    pub fn created_wall(&self) -> SystemTime {
        self.created_wall
    }

    /// The call as a conversation detail record of the analytics API
    /// (`details.rs`): participants with one voice session each, DNIS = the number dialled.
    pub fn detail_record(&self) -> Value {
        let now = self.elapsed();
        let (agent, far) = self.legs_at(now);
        let end = far.as_ref().and_then(|f| f.end).or(agent.end);
        let tel = format!("tel:{}", self.spec.number);
        let session = |leg: &LegState, purpose: &str, pid: &str| {
            let mut segment =
                json!({"segmentStart": self.at(leg.start), "segmentType": "interact"});
            if let Some(e) = leg.end {
                segment["segmentEnd"] = json!(self.at(e));
                if let Some(d) = leg.disconnect_type {
                    segment["disconnectType"] = json!(d);
                }
            }
            let mut p = json!({
                "participantId": pid,
                "purpose": purpose,
                "sessions": [{
                    "mediaType": "voice",
                    "direction": "outbound",
                    "dnis": tel,
                    "sessionDnis": tel,
                    "sessionId": format!("{pid}-session"),
                    "segments": [segment],
                }],
            });
            if purpose == "agent" {
                p["userId"] = json!(self.spec.agent_id);
            }
            p
        };
        let mut participants = vec![session(&agent, "agent", &self.spec.agent_pid)];
        if let Some(f) = &far {
            participants.push(session(f, "customer", &self.spec.far_pid));
        }
        let mut c = json!({
            "conversationId": self.spec.id,
            "conversationStart": self.at(Duration::ZERO),
            "originatingDirection": "outbound",
            "participants": participants,
        });
        if let Some(e) = end {
            c["conversationEnd"] = json!(self.at(e));
        }
        c
    }

    /// `CallConversation`, as `GET /api/v2/conversations/calls/{id}` returns it.
    pub fn call_conversation(&self) -> Value {
        self.call_conversation_at(self.elapsed())
    }

    /// `CallConversation` at offset `t`: a Notifications event and a GET at the
    /// same moment must agree, so both are built from one instant.
    pub fn call_conversation_at(&self, t: Duration) -> Value {
        let (agent, far) = self.legs_at(t);
        let mut participants = vec![self.media_participant(&agent, true)];
        if let Some(f) = &far {
            participants.push(self.media_participant(f, false));
        }
        json!({
            "id": self.spec.id,
            "participants": participants,
            "otherMediaUris": [],
            "recordingState": "none",
            "selfUri": format!("/api/v2/conversations/calls/{}", self.spec.id),
        })
    }

    fn media_participant(&self, leg: &LegState, is_agent: bool) -> Value {
        let mut p = Map::new();
        let tel = format!("tel:{}", self.spec.number);
        p.insert("id".into(), json!(self.pid(is_agent)));
        if is_agent {
            p.insert("name".into(), json!(self.spec.agent_name));
        } else {
            p.insert("name".into(), json!(self.spec.number));
            p.insert("address".into(), json!(tel));
        }
        p.insert("startTime".into(), json!(self.at(leg.start)));
        if let Some(c) = leg.connected {
            p.insert("connectedTime".into(), json!(self.at(c)));
        }
        if let Some(e) = leg.end {
            p.insert("endTime".into(), json!(self.at(e)));
        }
        p.insert("purpose".into(), json!(self.purpose(is_agent)));
        p.insert("state".into(), json!(leg.state));
        p.insert("direction".into(), json!("outbound"));
        if let Some(d) = leg.disconnect_type {
            p.insert("disconnectType".into(), json!(d));
        }
        p.insert("held".into(), json!(false));
        p.insert(
            "wrapupRequired".into(),
            json!(is_agent && self.spec.queue_id.is_some()),
        );
        if is_agent {
            crate::wrapup::agent_fields(&mut p, &self.acw, leg.end.map(|e| self.created_wall + e));
            p.insert(
                "user".into(),
                json!({"id": self.spec.agent_id, "selfUri": format!("/api/v2/users/{}", self.spec.agent_id)}),
            );
        }
        if let Some(q) = &self.spec.queue_id {
            p.insert(
                "queue".into(),
                json!({"id": q, "selfUri": format!("/api/v2/routing/queues/{q}")}),
            );
        }
        if !is_agent {
            p.insert(
                "attributes".into(),
                Value::Object(self.spec.attributes.clone()),
            );
            p.insert("dnis".into(), json!(tel));
            if let Some(c) = &self.spec.caller_id {
                p.insert("ani".into(), json!(format!("tel:{c}")));
            }
        }
        if let Some((code, message)) = leg.error {
            p.insert(
                "errorInfo".into(),
                json!({"code": code, "message": message}),
            );
        }
        p.insert("provider".into(), json!("Edge"));
        p.insert("muted".into(), json!(false));
        p.insert("confined".into(), json!(false));
        p.insert("recording".into(), json!(false));
        p.insert("recordingState".into(), json!("none"));
        p.insert("peer".into(), json!(self.pid(!is_agent)));
        Value::Object(p)
    }

    /// `Conversation`, as `GET /api/v2/conversations/{id}` returns it: state in
    /// `participants[].calls[]`, with `disconnectReasons`.
    pub fn conversation(&self) -> Value {
        self.conversation_at(self.elapsed())
    }

    /// `Conversation` at offset `now` (see `call_conversation_at`).
    pub fn conversation_at(&self, now: Duration) -> Value {
        let (agent, far) = self.legs_at(now);
        let mut participants = vec![self.participant(&agent, true)];
        if let Some(f) = &far {
            participants.push(self.participant(f, false));
        }
        let mut c = Map::new();
        c.insert("id".into(), json!(self.spec.id));
        c.insert("startTime".into(), json!(self.at(Duration::ZERO)));
        if let Some(e) = self.ended_at(now) {
            c.insert("endTime".into(), json!(self.at(e)));
        }
        c.insert("participants".into(), Value::Array(participants));
        c.insert("recordingState".into(), json!("NONE"));
        c.insert("divisions".into(), json!([]));
        c.insert(
            "selfUri".into(),
            json!(format!("/api/v2/conversations/{}", self.spec.id)),
        );
        Value::Object(c)
    }

    fn participant(&self, leg: &LegState, is_agent: bool) -> Value {
        let tel = format!("tel:{}", self.spec.number);
        let mut call = Map::new();
        call.insert("state".into(), json!(leg.state));
        call.insert("id".into(), json!(format!("{}-call", self.pid(is_agent))));
        call.insert("direction".into(), json!("outbound"));
        call.insert("recording".into(), json!(false));
        call.insert("recordingState".into(), json!("none"));
        call.insert("muted".into(), json!(false));
        call.insert("confined".into(), json!(false));
        call.insert("held".into(), json!(false));
        if let Some(d) = leg.disconnect_type {
            call.insert("disconnectType".into(), json!(d));
        }
        if let Some(c) = leg.connected {
            call.insert("connectedTime".into(), json!(self.at(c)));
        }
        if let Some(e) = leg.end {
            call.insert("disconnectedTime".into(), json!(self.at(e)));
        }
        if let Some((code, phrase)) = leg.reason {
            call.insert(
                "disconnectReasons".into(),
                json!([{"type": "sip", "code": code, "phrase": phrase}]),
            );
        }
        if let Some((code, message)) = leg.error {
            call.insert(
                "errorInfo".into(),
                json!({"code": code, "message": message}),
            );
        }
        call.insert("provider".into(), json!("Edge"));
        if !is_agent {
            call.insert(
                "other".into(),
                json!({"addressNormalized": tel, "addressRaw": tel}),
            );
        }
        let mut p = Map::new();
        p.insert("id".into(), json!(self.pid(is_agent)));
        p.insert("startTime".into(), json!(self.at(leg.start)));
        if let Some(e) = leg.end {
            p.insert("endTime".into(), json!(self.at(e)));
        }
        if let Some(c) = leg.connected {
            p.insert("connectedTime".into(), json!(self.at(c)));
        }
        if is_agent {
            p.insert("name".into(), json!(self.spec.agent_name));
            p.insert(
                "userUri".into(),
                json!(format!("/api/v2/users/{}", self.spec.agent_id)),
            );
            p.insert("userId".into(), json!(self.spec.agent_id));
        } else {
            p.insert("name".into(), json!(self.spec.number));
            p.insert("address".into(), json!(tel));
            p.insert("dnis".into(), json!(tel));
        }
        if let Some(q) = &self.spec.queue_id {
            p.insert("queueId".into(), json!(q));
        }
        p.insert("purpose".into(), json!(self.purpose(is_agent)));
        p.insert(
            "participantType".into(),
            json!(if is_agent { "Internal" } else { "External" }),
        );
        p.insert(
            "wrapupRequired".into(),
            json!(is_agent && self.spec.queue_id.is_some()),
        );
        if is_agent {
            crate::wrapup::agent_fields(&mut p, &self.acw, leg.end.map(|e| self.created_wall + e));
        }
        p.insert(
            "attributes".into(),
            if is_agent {
                json!({})
            } else {
                Value::Object(self.spec.attributes.clone())
            },
        );
        p.insert("calls".into(), json!([Value::Object(call)]));
        Value::Object(p)
    }
}

fn end(leg: &mut LegState, at: Duration, dtype: &'static str) {
    leg.state = "disconnected";
    leg.end = Some(at);
    leg.disconnect_type = Some(dtype);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(number: &str, station: Station) -> Call {
        Call::new(NewCall {
            id: "c".into(),
            owner: "o".into(),
            agent_id: "a".into(),
            agent_name: "Ada".into(),
            station,
            number: number.into(),
            caller_id: None,
            caller_id_name: None,
            queue_id: None,
            attributes: Map::new(),
            agent_pid: "pa".into(),
            far_pid: "pf".into(),
            scale: 1.0,
        })
    }

    fn states(c: &Call, t: f64) -> (&'static str, Option<&'static str>) {
        let (a, f) = c.legs_at(Duration::from_secs_f64(t));
        (a.state, f.map(|f| f.state))
    }

    #[test]
    fn completed_call_timeline() {
        let c = call("+13175550100", Station::AutoAnswer);
        assert_eq!(states(&c, 0.1), ("contacting", None));
        assert_eq!(states(&c, 0.6), ("connected", Some("dialing")));
        assert_eq!(states(&c, 2.6), ("connected", Some("connected")));
        assert_eq!(states(&c, 10.6), ("disconnected", Some("disconnected")));
        let (_, f) = c.legs_at(Duration::from_secs(11));
        let f = f.unwrap();
        assert_eq!(
            (f.disconnect_type, f.connected.is_some()),
            (Some("endpoint"), true)
        );
    }

    #[test]
    fn failures_carry_sip_causes() {
        for (n, sip, at) in [
            ("+13175550101", 486, 1.6),
            ("+13175550102", 480, 30.6),
            ("+13175550103", 404, 1.1),
        ] {
            let c = call(n, Station::AutoAnswer);
            let (_, f) = c.legs_at(Duration::from_secs_f64(at));
            assert_eq!(f.unwrap().reason.map(|r| r.0), Some(sip), "{n}");
        }
    }

    #[test]
    fn agent_side_failures_have_no_far_leg() {
        let otto = call("+13175550100", Station::None);
        let (a, f) = otto.legs_at(Duration::from_secs(1));
        assert_eq!(
            (a.state, a.disconnect_type, f.is_none()),
            ("disconnected", Some("error"), true)
        );
        let never = call(STATION_NEVER_ANSWERS, Station::AutoAnswer);
        assert_eq!(states(&never, 14.0), ("contacting", None));
        assert_eq!(
            never.legs_at(Duration::from_secs(16)).0.disconnect_type,
            Some("transfer.noanswer")
        );
    }

    #[test]
    fn a_do_not_disturb_station_rejects_the_call() {
        let dora = call("+13175550100", Station::DoNotDisturb);
        assert_eq!(states(&dora, 0.1), ("contacting", None));
        let (a, f) = dora.legs_at(Duration::from_secs(1));
        assert_eq!(
            (a.state, a.disconnect_type, a.error, f.is_none()),
            ("disconnected", Some("endpoint.donotdisturb"), None, true)
        );
    }

    #[test]
    fn hang_up_ends_both_legs() {
        let mut c = call("+13175550104", Station::AutoAnswer);
        c.hung_up = Some(Duration::from_secs(3));
        let (a, f) = c.legs_at(Duration::from_secs(4));
        let f = f.unwrap();
        assert_eq!(
            (a.disconnect_type, f.disconnect_type, f.connected.is_some()),
            (Some("client"), Some("peer"), true)
        );
        assert_eq!(
            c.ended_at(Duration::from_secs(4)),
            Some(Duration::from_secs(3))
        );
    }
}
