//! Queue callbacks: what `scheduleCallback` accepts (a validated number, queue
//! and UTC time), the request for each callback operation, the estimated wait
//! time, and the normalized [`CallbackStatus`] derived from a callback's
//! conversation the way [`CallStatus`](crate::status::CallStatus) is derived from a call's.

use std::collections::BTreeMap;

use serde::Serialize;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::parsing::Parsed;
use time::OffsetDateTime;

use crate::call::{ConversationId, EntityId, UserId, E164};
use crate::error::{Attempt, Error};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::region::Endpoints;
use crate::status::{CallStatus, Leg, Outcome, Phase, Role, Snapshot};
use crate::wire::callbacks::{
    CallbackResponse, CreateCallbackCommand, EstimatedWaitTimePredictions, PatchCallbackRequest,
};
use crate::wire::{self, Conversation, ConversationStateUpdate, Participant};

// ------------------------------------------------------------------ time

/// When a callback is due, in UTC, in the one form Genesys documents for
/// `callbackScheduledTime`: `yyyy-MM-ddTHH:mm:ss.SSSZ`. Only [`CallbackTime::parse`]
/// (or, on the edge, `from_timestamp`) makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackTime(String);

impl CallbackTime {
    /// Accepts ISO-8601 / RFC 3339 date-times **with** an offset:
    /// `2026-03-09T14:00:00Z`, `2026-03-09T09:00-05:00`, `2026-03-09T14:00:00.123456+0000`
    /// (what JS `Date.prototype.toISOString()` and Python's `isoformat()` write).
    /// A time without an offset is refused: whose 09:00 it is cannot be guessed.
    pub fn parse(input: &str, field: &str) -> Result<CallbackTime, Error> {
        written_time(input.trim())
            .and_then(to_utc)
            .map(CallbackTime)
            .ok_or_else(|| {
                let shown: String = input.chars().take(40).collect();
                Error::invalid_input(&[
                    field,
                    " must be a date and time with a UTC offset, such as 2026-03-09T14:00:00Z or 2026-03-09T09:00:00-05:00 (or a JS Date), got '",
                    &shown,
                    "'",
                ])
            })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The instant, for the edge's opening-hours checks.
    #[cfg(any(not(target_arch = "wasm32"), feature = "edge"))]
    pub fn timestamp(&self) -> jiff::Timestamp {
        // Always there: the string was printed by `from_timestamp`.
        self.0.parse().unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// A slot the edge picked (`hours::OpeningHours::next_open_slots`).
    #[cfg(any(not(target_arch = "wasm32"), feature = "edge"))]
    pub fn from_timestamp(t: jiff::Timestamp) -> CallbackTime {
        let mut out = String::with_capacity(24);
        // Writing to a String cannot fail. (Not `timestamp_to_string`: its
        // `unwrap` links the `Debug` of every jiff error, 36 KB gzip on the
        // edge, measured.)
        let _ = GENESYS_TIME.print_timestamp(&t, &mut out);
        CallbackTime(out)
    }
}

/// What `CallbackTime::parse` reads, one grammar for every build (the `time`
/// crate's format description): `yyyy-MM-dd`, `T`, `t` or a space,
/// `HH:mm[:ss[.f]]` with 1 to 9 fraction digits, then `Z`, `z`, `±HH:mm` or
/// `±HHmm`. No annotations (`[Europe/Dublin]`), no bare `+05`.
const CALLBACK_TIME_FORMAT: &[BorrowedFormatItem<'static>] = format_description!(
    version = 2,
    "[year]-[month]-[day][first [T][t][ ]][hour]:[minute]\
     [optional [:[second][optional [.[first \
       [[subsecond digits:9]] [[subsecond digits:8]] [[subsecond digits:7]] \
       [[subsecond digits:6]] [[subsecond digits:5]] [[subsecond digits:4]] \
       [[subsecond digits:3]] [[subsecond digits:2]] [[subsecond digits:1]]]]]]]\
     [first [Z] [z] [[offset_hour sign:mandatory]:[offset_minute]] \
       [[offset_hour sign:mandatory][offset_minute]]]"
);

/// An ISO-8601 instant Genesys wrote (`2026-11-18T11:07:00.000Z`, or with an
/// offset) as epoch milliseconds; `None` if it is not one.
pub fn instant_ms(s: &str) -> Option<u64> {
    let t = written_time(s)?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The date-time as written, with its offset. Impossible dates (Feb 30) fail
/// here, like anything the format does not describe or leaves unread.
fn written_time(s: &str) -> Option<OffsetDateTime> {
    let mut parsed = Parsed::new();
    let rest = parsed
        .parse_items(s.as_bytes(), CALLBACK_TIME_FORMAT)
        .ok()?;
    if !rest.is_empty() {
        return None;
    }
    if parsed.offset_hour().is_none() {
        // `Z`: a literal to the format, UTC to us.
        parsed.set_offset_hour(0)?;
    }
    let t = OffsetDateTime::try_from(parsed).ok()?;
    // Genesys has no use for times before Unix time; 9998 keeps any offset
    // inside four-digit years, which both jiff and `Date` then print alike.
    // The format reads offsets up to ±25:59; real ones stay within a day.
    let valid = (1970..=9998).contains(&t.year()) && t.offset().whole_hours().abs() < 24;
    valid.then_some(t)
}

/// Genesys' form: milliseconds always written, finer digits truncated (as
/// jiff's printer does), `Z` for UTC.
#[cfg(any(not(target_arch = "wasm32"), feature = "edge"))]
const GENESYS_TIME: jiff::fmt::temporal::DateTimePrinter =
    jiff::fmt::temporal::DateTimePrinter::new().precision(Some(3));

/// Host and edge: jiff prints the instant.
#[cfg(any(not(target_arch = "wasm32"), feature = "edge"))]
fn to_utc(t: OffsetDateTime) -> Option<String> {
    let nanos = i32::try_from(t.nanosecond()).ok()?;
    let instant = jiff::Timestamp::new(t.unix_timestamp(), nanos).ok()?;
    Some(CallbackTime::from_timestamp(instant).0)
}

/// Browser package: the platform's `Date` prints the instant (its
/// `toISOString()` is Genesys' form), keeping a printer out of the download.
#[cfg(all(target_arch = "wasm32", not(feature = "edge")))]
fn to_utc(t: OffsetDateTime) -> Option<String> {
    // Milliseconds since the epoch, finer digits truncated (the year is at least 1970).
    let ms = t.unix_timestamp() * 1000 + i64::from(t.millisecond());
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    Some(date.to_iso_string().into())
}

// -------------------------------------------------------------- requests

/// What `scheduleCallback` accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleCallback {
    pub phone_number: E164,
    pub queue_id: EntityId,
    /// `None`: as soon as possible (Genesys places it immediately).
    pub at: Option<CallbackTime>,
    /// `callbackUserName`: who to ask for, shown to the agent.
    pub name: Option<String>,
    /// Becomes the customer participant's attributes.
    pub data: BTreeMap<String, String>,
}

impl ScheduleCallback {
    pub fn new(phone_number: E164, queue_id: EntityId) -> ScheduleCallback {
        ScheduleCallback {
            phone_number,
            queue_id,
            at: None,
            name: None,
            data: BTreeMap::new(),
        }
    }

    /// The `CreateCallbackCommand` JSON.
    pub fn body(&self) -> String {
        wire::encode(&CreateCallbackCommand {
            callback_numbers: [self.phone_number.as_str()],
            queue_id: self.queue_id.as_str(),
            callback_scheduled_time: self.at.as_ref().map(CallbackTime::as_str),
            callback_user_name: self.name.as_deref(),
            data: &self.data,
        })
    }

    /// `POST /api/v2/conversations/callbacks`.
    pub fn request(&self, endpoints: &Endpoints, token: &str) -> HttpRequest {
        HttpRequest::new(
            Method::Post,
            url(endpoints, "/api/v2/conversations/callbacks", ""),
        )
        .bearer(token)
        .json(self.body())
    }
}

fn url(endpoints: &Endpoints, path: &str, id: &str) -> String {
    [endpoints.api_base.as_str(), path, id].concat()
}

/// A scheduled (or rescheduled) callback: its conversation, and the `ACD`
/// callback identifier Genesys returned with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledCallback {
    pub conversation_id: ConversationId,
    pub callback_id: Option<String>,
}

/// Reads `CreateCallbackResponse` / `PatchCallbackResponse`. For a create
/// (`Attempt::CreateCallback`), a 2xx without a usable id still means Genesys
/// acted, so it is `outcome_unknown`, never a retryable failure.
pub fn parse_callback_response(
    resp: &HttpResponse,
    attempt: Attempt,
) -> Result<ScheduledCallback, Error> {
    if !resp.is_success() {
        return Err(Error::from_response(resp, attempt));
    }
    let body: CallbackResponse =
        wire::decode(&resp.body).map_err(|e| Error::bad_response(&e, attempt))?;
    let conversation_id = body
        .conversation
        .id
        .as_deref()
        .and_then(|id| EntityId::parse(id, "id").ok())
        .ok_or_else(|| Error::bad_response("no usable conversation id", attempt))?;
    let ids = body.callback_identifiers.unwrap_or_default();
    let callback_id = ids
        .iter()
        .find(|i| i.kind.as_deref() == Some("ACD"))
        .or(ids.first())
        .and_then(|i| i.id.clone());
    Ok(ScheduledCallback {
        conversation_id,
        callback_id,
    })
}

/// Cancels: `PATCH /api/v2/conversations/callbacks/{id}` `{"state":"disconnected"}`.
/// Chosen over `POST …/callbacks/bulk/disconnect` because it needs only the
/// conversation id (bulk also wants the callback id, which no read returns),
/// and setting `disconnected` twice is harmless, so it may be retried.
pub fn cancel_request(endpoints: &Endpoints, token: &str, id: &ConversationId) -> HttpRequest {
    let body = wire::encode(&ConversationStateUpdate {
        state: "disconnected",
    });
    HttpRequest::new(
        Method::Patch,
        url(endpoints, "/api/v2/conversations/callbacks/", id.as_str()),
    )
    .bearer(token)
    .json(body)
}

/// Reschedules: `PATCH /api/v2/conversations/callbacks` (`PatchCallbackRequest`).
/// Sending the same time twice leaves the same schedule, so it may be retried.
pub fn reschedule_request(
    endpoints: &Endpoints,
    token: &str,
    id: &ConversationId,
    at: &CallbackTime,
    agent: Option<&UserId>,
) -> HttpRequest {
    let body = wire::encode(&PatchCallbackRequest {
        conversation_id: id.as_str(),
        callback_scheduled_time: at.as_str(),
        agent_id: agent.map(EntityId::as_str),
    });
    HttpRequest::new(
        Method::Patch,
        url(endpoints, "/api/v2/conversations/callbacks", ""),
    )
    .bearer(token)
    .json(body)
}

/// The media type an estimated wait is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMedia {
    /// How long a callback requested now waits in the queue before it is
    /// dialled — what a "call me back" page promises. The default.
    Callback,
    /// How long an inbound call would wait in the queue.
    Call,
}

impl WaitMedia {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitMedia::Callback => "callback",
            WaitMedia::Call => "call",
        }
    }

    fn intent(self) -> &'static str {
        match self {
            WaitMedia::Callback => "CALLBACK",
            WaitMedia::Call => "CALL",
        }
    }
}

/// `GET /api/v2/routing/queues/{id}/mediatypes/{call|callback}/estimatedwaittime`.
pub fn estimated_wait_request(
    endpoints: &Endpoints,
    token: &str,
    queue: &EntityId,
    media: WaitMedia,
) -> HttpRequest {
    HttpRequest::new(
        Method::Get,
        [
            endpoints.api_base.as_str(),
            "/api/v2/routing/queues/",
            queue.as_str(),
            "/mediatypes/",
            media.as_str(),
            "/estimatedwaittime",
        ]
        .concat(),
    )
    .bearer(token)
}

/// Seconds, from the result for `media`'s intent (else the first result with
/// a value); `None` when Genesys cannot estimate (no `estimatedWaitTimeSeconds`).
pub fn parse_estimated_wait(body: &str, media: WaitMedia) -> Result<Option<u64>, Error> {
    let p: EstimatedWaitTimePredictions = wire::decode(body).map_err(|e| {
        Error::bad_response(
            &["estimated wait is not the documented shape: ", &e].concat(),
            Attempt::Other,
        )
    })?;
    let results = p.results.unwrap_or_default();
    let with_value = || {
        results
            .iter()
            .filter(|r| r.estimated_wait_time_seconds.is_some())
    };
    let pick = with_value()
        .find(|r| r.intent.as_deref() == Some(media.intent()))
        .or_else(|| with_value().next());
    Ok(pick
        .and_then(|r| r.estimated_wait_time_seconds)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| s.round().min(u32::MAX as f64) as u64))
}

// ---------------------------------------------------------------- status

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallbackPhase {
    /// Waiting for its time, or (with `inQueue`) for an agent.
    Scheduled,
    /// An agent has it: their phone is ringing, or the customer's is.
    Dialing,
    /// The customer answered.
    Connected,
    /// Over; `outcome` says how.
    Ended,
}

impl CallbackPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackPhase::Scheduled => "scheduled",
            CallbackPhase::Dialing => "dialing",
            CallbackPhase::Connected => "connected",
            CallbackPhase::Ended => "ended",
        }
    }
}

/// The normalized status of a callback. Serialized as the JS API's
/// `CallbackStatus` (the wasm shell adds `raw`, where the callback's numbers,
/// name and attributes are for whoever needs them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackStatus {
    pub conversation_id: String,
    pub phase: CallbackPhase,
    /// Present once `phase` is `ended`: `CallStatus`'s outcomes, from the
    /// callback's call when it was dialled; `canceled` or `failed` when it never was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Its time has come and it waits in its queue for an agent.
    pub in_queue: bool,
    /// `callbackScheduledTime`, as Genesys returned it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<String>,
    /// Once dialled: the agent's leg of the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<Leg>,
    /// Once dialled: the customer's leg of the call (with SIP causes when it failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<Leg>,
}

fn ended(state: Option<&str>) -> bool {
    matches!(state, Some("disconnected" | "terminated"))
}

fn has_purpose(p: &Participant, purposes: &[&str]) -> bool {
    p.purpose.as_deref().is_some_and(|x| purposes.contains(&x))
}

/// A participant's callback media: its last `callbacks[]` entry (`Conversation`
/// shape), else the participant's own state (`CallbackConversation` shape).
fn callback_media(p: &Participant) -> (Option<&str>, Option<&str>) {
    match p.callbacks.as_ref().and_then(|c| c.last()) {
        Some(m) => (m.state.as_deref(), m.disconnect_type.as_deref()),
        None => (p.state.as_deref(), p.disconnect_type.as_deref()),
    }
}

impl CallbackStatus {
    /// Reads a callback's `Conversation` (`GET /api/v2/conversations/{id}`).
    pub fn parse(body: &str) -> Result<CallbackStatus, Error> {
        let c: Conversation = wire::decode(body).map_err(|e| {
            Error::bad_response(
                &["callback conversation is not the documented shape: ", &e].concat(),
                Attempt::Other,
            )
        })?;
        Ok(CallbackStatus::derive(c))
    }

    /// The derivation (a table in the README and in the tests below), from the
    /// generic `Conversation`, where each participant carries its `callbacks[]`
    /// and, once dialled, its `calls[]`:
    /// 1. Any participant has `calls[]` → it was dialled: the call's status
    ///    decides (`CallStatus`: agent or far end ringing → `dialing`,
    ///    answered → `connected`, ended → `ended` with the call's outcome,
    ///    busy vs no-answer from the SIP causes the same read carries).
    /// 2. Else the customer's callback media ended → never dialled: `ended`,
    ///    `canceled` when disconnected by a client (a cancel), else `failed`.
    /// 3. Else an agent participant is active → `dialing` (offered or accepted,
    ///    not yet dialled).
    /// 4. Else `scheduled`; `inQueue` once its media is connected (its time has
    ///    come) or an `acd` participant holds it.
    ///
    /// A `CallbackConversation` (`GET …/conversations/callbacks/{id}`) keeps the
    /// callback media's state on the participant itself and is read the same
    /// way, but it has no `calls[]`: after dialling it can only say `dialing`,
    /// which is why the flow reads the generic conversation.
    pub fn derive(c: Conversation) -> CallbackStatus {
        let parts = c.participants.unwrap_or_default();
        let customer = parts
            .iter()
            .find(|p| has_purpose(p, &["customer", "external"]))
            .or_else(|| parts.iter().find(|p| p.callbacks.is_some()));
        let (cb_state, cb_disconnect) = customer.map(callback_media).unwrap_or_default();
        let scheduled_time = customer.and_then(|p| {
            p.callbacks
                .as_ref()?
                .last()?
                .callback_scheduled_time
                .clone()
        });
        let active = |purposes: &[&str]| {
            parts
                .iter()
                .any(|p| has_purpose(p, purposes) && !ended(callback_media(p).0))
        };
        let in_queue_state = matches!(
            cb_state,
            Some("connected" | "alerting" | "offering" | "contacting" | "dialing")
        ) || active(&["acd"]);
        let (cb_ended, agent_active) = (ended(cb_state), active(&["agent", "user"]));
        let canceled = cb_disconnect == Some("client");

        // The call legs: the participants with call media, derived as a call is.
        // Only `calls[]` may speak for the call: a participant's own times and
        // state span its callback media too (its `connectedTime` is when the
        // callback entered the queue, not when the customer answered).
        let calls: Vec<Participant> = parts
            .into_iter()
            .filter(|p| p.calls.as_ref().is_some_and(|c| !c.is_empty()))
            .map(|p| Participant {
                state: None,
                direction: None,
                connected_time: None,
                end_time: None,
                disconnect_type: None,
                error_info: None,
                ..p
            })
            .collect();
        let (phase, outcome, agent, customer) = if !calls.is_empty() {
            let call = CallStatus::derive(Snapshot::from_conversation(Conversation {
                id: String::new(),
                participants: Some(calls),
            }));
            let phase = match call.phase {
                Phase::Ended => CallbackPhase::Ended,
                Phase::Connected => CallbackPhase::Connected,
                Phase::ContactingAgent | Phase::Dialing => CallbackPhase::Dialing,
            };
            let leg = |r| call.snapshot.leg(r).cloned();
            (phase, call.outcome, leg(Role::Agent), leg(Role::Customer))
        } else if cb_ended {
            let outcome = if canceled {
                Outcome::Canceled
            } else {
                Outcome::Failed
            };
            (CallbackPhase::Ended, Some(outcome), None, None)
        } else if agent_active {
            (CallbackPhase::Dialing, None, None, None)
        } else {
            (CallbackPhase::Scheduled, None, None, None)
        };
        CallbackStatus {
            conversation_id: c.id,
            phase,
            outcome,
            in_queue: phase == CallbackPhase::Scheduled && in_queue_state,
            scheduled_time,
            agent,
            customer,
        }
    }

    /// `{conversationId, phase, outcome?, inQueue, scheduledTime?, agent?, customer?}`, without `raw`.
    pub fn to_json(&self) -> String {
        wire::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e() -> Endpoints {
        Endpoints::custom("http://h", "http://h").unwrap()
    }

    #[test]
    fn callback_times_normalize_to_utc_milliseconds() {
        for (input, want) in [
            ("2026-03-09T14:00:00Z", "2026-03-09T14:00:00.000Z"),
            ("2026-03-09T14:00:00.000Z", "2026-03-09T14:00:00.000Z"),
            ("2026-03-09T09:00:00-05:00", "2026-03-09T14:00:00.000Z"),
            ("2026-03-09T09:00-05:00", "2026-03-09T14:00:00.000Z"),
            ("2026-03-09T15:30:00+0130", "2026-03-09T14:00:00.000Z"),
            ("2026-03-09t14:00:00.123456789z", "2026-03-09T14:00:00.123Z"),
            ("2026-03-09 14:00:00.5+00:00", "2026-03-09T14:00:00.500Z"),
            ("2026-03-09T14:00:00.12-00:00", "2026-03-09T14:00:00.120Z"),
            (
                "2026-03-09T14:00:00.1239999+00:00",
                "2026-03-09T14:00:00.123Z",
            ),
            ("2026-03-10T13:59:00+23:59", "2026-03-09T14:00:00.000Z"),
            ("9998-12-31T23:59:59.999-23:59", "9999-01-01T23:58:59.999Z"),
            (" 2026-03-09T14:00:00Z ", "2026-03-09T14:00:00.000Z"),
            // Crossing midnight, a month end and a leap day.
            ("2024-02-29T23:30:00-01:00", "2024-03-01T00:30:00.000Z"),
            ("2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00.000Z"),
            // The US spring-forward morning: 09:00 EDT is 13:00Z.
            ("2026-03-08T09:00:00-04:00", "2026-03-08T13:00:00.000Z"),
        ] {
            assert_eq!(
                CallbackTime::parse(input, "at").unwrap().as_str(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn unparsable_or_ambiguous_times_are_invalid_input_naming_the_field() {
        for bad in [
            "",
            "tomorrow at 9",
            "2026-03-09",
            "2026-03-09T14:00:00",
            "2026-03-09T14:00",
            "2026-02-30T14:00:00Z",
            "2025-02-29T14:00:00Z",
            "2026-13-01T14:00:00Z",
            "2026-03-09T24:00:00Z",
            "2026-03-09T14:60:00Z",
            "2026-03-09T14:00:61Z",
            "2026-03-09T14:00:00.Z",
            "2026-03-09T14:00:00.1234567890Z",
            "2026-03-09T14:00:00+25:00",
            "2026-03-09T14:00:00+05",
            "2026-03-09T14:00:00 UTC",
            "2026-03-09T14:00:00Z[Europe/Dublin]",
            "1969-12-31T23:00:00Z",
            "+02026-03-09T14:00:00Z",
            "2026-03-09T14:00:00-05:00\u{0}",
            "２０２６-03-09T14:00:00Z",
        ] {
            let err = CallbackTime::parse(bad, "at").unwrap_err();
            assert_eq!(err.code.as_str(), "invalid_input", "{bad}");
            assert!(
                err.message
                    .starts_with("at must be a date and time with a UTC offset"),
                "{bad}"
            );
        }
        let huge = "9".repeat(100_000);
        assert!(CallbackTime::parse(&huge, "at").unwrap_err().message.len() < 300);
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            // What jiff writes as RFC 3339, at any offset within a day and
            // with 0 to 9 fraction digits, names the same instant to us
            // (milliseconds kept, finer digits truncated).
            #[test]
            fn what_jiff_writes_reads_back_as_the_same_instant(
                secs in 86_400i64..253_339_228_800,
                nanos in prop_oneof![Just(0i32), 0i32..1_000_000_000],
                offset_minutes in -1439i32..=1439,
            ) {
                let t = jiff::Timestamp::new(secs, nanos).unwrap();
                let offset = jiff::tz::Offset::from_seconds(offset_minutes * 60).unwrap();
                let written = t.display_with_offset(offset).to_string();
                let read = CallbackTime::parse(&written, "at").unwrap();
                prop_assert_eq!(read.timestamp().as_millisecond(), t.as_millisecond());
                prop_assert_eq!(read.as_str().len(), 24);
            }

            #[test]
            fn parse_never_panics(s in "[0-9T:.+Zz -]{0,40}|.{0,60}") {
                let _ = CallbackTime::parse(&s, "at");
            }
        }
    }

    #[cfg(any(not(target_arch = "wasm32"), feature = "edge"))]
    #[test]
    fn callback_time_round_trips_through_jiff() {
        let t = CallbackTime::parse("2026-11-01T01:30:00-05:00", "at").unwrap();
        assert_eq!(t.timestamp().as_second(), 1_793_514_600);
        assert_eq!(CallbackTime::from_timestamp(t.timestamp()), t);
    }

    #[test]
    fn create_callback_body_and_url() {
        let mut cb = ScheduleCallback::new(
            E164::parse("+1 317 555 0100", "phoneNumber").unwrap(),
            EntityId::parse("5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70", "queueId").unwrap(),
        );
        assert_eq!(
            cb.body(),
            r#"{"callbackNumbers":["+13175550100"],"queueId":"5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70"}"#
        );
        cb.at = Some(CallbackTime::parse("2026-03-09T09:00:00-05:00", "at").unwrap());
        cb.name = Some("Grace".into());
        cb.data.insert("orderId".into(), "A-17".into());
        assert_eq!(
            cb.body(),
            r#"{"callbackNumbers":["+13175550100"],"queueId":"5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70","callbackScheduledTime":"2026-03-09T14:00:00.000Z","callbackUserName":"Grace","data":{"orderId":"A-17"}}"#
        );
        let r = cb.request(&e(), "tok");
        assert_eq!(
            (r.method, r.url.as_str()),
            (Method::Post, "http://h/api/v2/conversations/callbacks")
        );
    }

    #[test]
    fn callback_responses() {
        let ok = |body: &str| HttpResponse {
            status: 200,
            headers: vec![],
            body: body.into(),
        };
        let r = parse_callback_response(
            &ok(r#"{"conversation":{"id":"c-1","selfUri":"/api/v2/conversations/callbacks/c-1"},"callbackIdentifiers":[{"type":"EXTERNAL","id":"x"},{"type":"ACD","id":"cb-1"}]}"#),
            Attempt::CreateCallback,
        )
        .unwrap();
        assert_eq!(
            (r.conversation_id.as_str(), r.callback_id.as_deref()),
            ("c-1", Some("cb-1"))
        );
        let r = parse_callback_response(
            &ok(r#"{"conversation":{"id":"c-1"}}"#),
            Attempt::CreateCallback,
        )
        .unwrap();
        assert_eq!(r.callback_id, None);
        // Genesys acted (2xx) but the answer is unusable: the create may have happened.
        for garbled in [
            "{\"conversation\":",
            r#"{"conversation":{}}"#,
            r#"{"conversation":{"id":"../x"}}"#,
        ] {
            let e = parse_callback_response(&ok(garbled), Attempt::CreateCallback).unwrap_err();
            assert_eq!(e.code.as_str(), "outcome_unknown", "{garbled}");
            assert!(e.message.contains("callback"), "{}", e.message);
        }
        let e = parse_callback_response(&ok("{}"), Attempt::Other).unwrap_err();
        assert_eq!(e.code.as_str(), "bad_response");
    }

    #[test]
    fn cancel_reschedule_and_wait_requests() {
        let id = EntityId::parse("c1", "id").unwrap();
        let r = cancel_request(&e(), "t", &id);
        assert_eq!(
            (r.method, r.url.as_str(), r.body.as_deref()),
            (
                Method::Patch,
                "http://h/api/v2/conversations/callbacks/c1",
                Some(r#"{"state":"disconnected"}"#)
            )
        );
        let at = CallbackTime::parse("2026-03-09T14:00:00Z", "at").unwrap();
        let r = reschedule_request(&e(), "t", &id, &at, None);
        assert_eq!(
            (r.method, r.url.as_str(), r.body.as_deref()),
            (
                Method::Patch,
                "http://h/api/v2/conversations/callbacks",
                Some(
                    r#"{"conversationId":"c1","callbackScheduledTime":"2026-03-09T14:00:00.000Z"}"#
                )
            )
        );
        let ada = EntityId::parse("u1", "agentId").unwrap();
        assert!(reschedule_request(&e(), "t", &id, &at, Some(&ada))
            .body
            .unwrap()
            .ends_with(r#","agentId":"u1"}"#));
        let q = EntityId::parse("q1", "queueId").unwrap();
        assert_eq!(
            estimated_wait_request(&e(), "t", &q, WaitMedia::Callback).url,
            "http://h/api/v2/routing/queues/q1/mediatypes/callback/estimatedwaittime"
        );
        assert_eq!(
            estimated_wait_request(&e(), "t", &q, WaitMedia::Call).url,
            "http://h/api/v2/routing/queues/q1/mediatypes/call/estimatedwaittime"
        );
    }

    #[test]
    fn estimated_wait_passes_seconds_through_and_null_when_unknown() {
        let cb = WaitMedia::Callback;
        for (body, want) in [
            (
                r#"{"results":[{"intent":"CALLBACK","formula":"BEST","estimatedWaitTimeSeconds":90}]}"#,
                Some(90),
            ),
            (
                r#"{"results":[{"intent":"CALLBACK","formula":"BEST","estimatedWaitTimeSeconds":0}]}"#,
                Some(0),
            ),
            (
                r#"{"results":[{"intent":"CALLBACK","formula":"BEST","estimatedWaitTimeSeconds":12.6}]}"#,
                Some(13),
            ),
            // Several intents: the asked-for one wins; else the first with a value.
            (
                r#"{"results":[{"intent":"CALL","estimatedWaitTimeSeconds":5},{"intent":"CALLBACK","estimatedWaitTimeSeconds":300}]}"#,
                Some(300),
            ),
            (
                r#"{"results":[{"intent":"ALL"},{"intent":"ALL","estimatedWaitTimeSeconds":42}]}"#,
                Some(42),
            ),
            // Cannot estimate.
            (
                r#"{"results":[{"intent":"CALLBACK","formula":"BEST"}]}"#,
                None,
            ),
            (
                r#"{"results":[{"intent":"CALLBACK","estimatedWaitTimeSeconds":null}]}"#,
                None,
            ),
            (
                r#"{"results":[{"intent":"CALLBACK","estimatedWaitTimeSeconds":-1}]}"#,
                None,
            ),
            (r#"{"results":[]}"#, None),
            (r#"{}"#, None),
        ] {
            assert_eq!(parse_estimated_wait(body, cb).unwrap(), want, "{body}");
        }
        for bad in [
            "",
            "[]",
            r#"{"results":{}}"#,
            r#"{"results":[{"estimatedWaitTimeSeconds":"90"}]}"#,
        ] {
            assert_eq!(
                parse_estimated_wait(bad, cb).unwrap_err().code.as_str(),
                "bad_response",
                "{bad}"
            );
        }
    }

    // ----------------------------------------------------------- status

    const SCHEDULED_AT: &str = "2026-03-09T14:00:00.000Z";

    /// A callback `Conversation` as genesys-sim and Genesys write it: the
    /// customer's callback media (state, disconnectType) and optional call
    /// media per participant; `acd` and `agent` participants when given.
    fn conv(
        customer_cb: &str,
        customer_calls: &str,
        acd: Option<&str>,
        agent: Option<(&str, &str)>,
    ) -> String {
        let cb_media = |state: &str| {
            format!(
                r#"[{{"state":{state},"id":"m","direction":"inbound","callbackNumbers":["+13175550100"],"callbackUserName":"Grace","callbackScheduledTime":"{SCHEDULED_AT}"}}]"#
            )
        };
        let mut parts = vec![format!(
            r#"{{"id":"pc","purpose":"customer","participantType":"External","address":"tel:+13175550100","queueId":"q1","startTime":"t0","connectedTime":"t-queued","callbacks":{},"calls":[{customer_calls}]}}"#,
            cb_media(customer_cb)
        )];
        if let Some(a) = acd {
            parts.push(format!(
                r#"{{"id":"pq","purpose":"acd","queueId":"q1","callbacks":{},"calls":[]}}"#,
                cb_media(a)
            ));
        }
        if let Some((state, calls)) = agent {
            parts.push(format!(
                r#"{{"id":"pa","purpose":"agent","userId":"u1","queueId":"q1","callbacks":{},"calls":[{calls}]}}"#,
                cb_media(state)
            ));
        }
        format!(r#"{{"id":"c1","participants":[{}]}}"#, parts.join(","))
    }

    fn derive(body: &str) -> CallbackStatus {
        CallbackStatus::parse(body).unwrap()
    }

    #[test]
    fn status_derivation_table() {
        use CallbackPhase::*;
        let sip = |code: u32| format!(r#","disconnectReasons":[{{"type":"sip","code":{code}}}]"#);
        let agent_up = r#"{"state":"connected","connectedTime":"t1"}"#;
        let agent_down = r#"{"state":"disconnected","connectedTime":"t1","disconnectType":"peer"}"#;
        let cases: Vec<(&str, String, CallbackPhase, Option<Outcome>, bool)> = vec![
            (
                "waiting for its time",
                conv(r#""scheduled""#, "", None, None),
                Scheduled,
                None,
                false,
            ),
            (
                "its time came: in queue",
                conv(r#""connected""#, "", Some(r#""connected""#), None),
                Scheduled,
                None,
                true,
            ),
            (
                "in queue, media state not yet updated",
                conv(r#""scheduled""#, "", Some(r#""connected""#), None),
                Scheduled,
                None,
                true,
            ),
            (
                "offered to an agent, not dialled",
                conv(
                    r#""connected""#,
                    "",
                    Some(r#""disconnected""#),
                    Some((r#""alerting""#, "")),
                ),
                Dialing,
                None,
                false,
            ),
            (
                "agent's phone ringing",
                conv(
                    r#""connected""#,
                    "",
                    Some(r#""disconnected""#),
                    Some((r#""alerting""#, r#"{"state":"contacting"}"#)),
                ),
                Dialing,
                None,
                false,
            ),
            (
                "customer's phone ringing",
                conv(
                    r#""connected""#,
                    r#"{"state":"dialing"}"#,
                    Some(r#""disconnected""#),
                    Some((r#""connected""#, agent_up)),
                ),
                Dialing,
                None,
                false,
            ),
            (
                "customer answered",
                conv(
                    r#""connected""#,
                    r#"{"state":"connected","connectedTime":"t2"}"#,
                    None,
                    Some((r#""connected""#, agent_up)),
                ),
                Connected,
                None,
                false,
            ),
            (
                "completed",
                conv(
                    r#""disconnected""#,
                    r#"{"state":"disconnected","connectedTime":"t2","disconnectedTime":"t3","disconnectType":"endpoint"}"#,
                    None,
                    Some((r#""disconnected""#, agent_down)),
                ),
                Ended,
                Some(Outcome::Completed),
                false,
            ),
            (
                "busy (SIP 486)",
                conv(
                    r#""disconnected""#,
                    &format!(
                        r#"{{"state":"disconnected","disconnectType":"endpoint"{}}}"#,
                        sip(486)
                    ),
                    None,
                    Some((r#""disconnected""#, agent_down)),
                ),
                Ended,
                Some(Outcome::Busy),
                false,
            ),
            (
                "no answer (SIP 480)",
                conv(
                    r#""disconnected""#,
                    &format!(
                        r#"{{"state":"disconnected","disconnectType":"endpoint"{}}}"#,
                        sip(480)
                    ),
                    None,
                    Some((r#""disconnected""#, agent_down)),
                ),
                Ended,
                Some(Outcome::NoAnswer),
                false,
            ),
            (
                "unreachable (SIP 404)",
                conv(
                    r#""disconnected""#,
                    &format!(
                        r#"{{"state":"disconnected","disconnectType":"error"{}}}"#,
                        sip(404)
                    ),
                    None,
                    Some((r#""disconnected""#, agent_down)),
                ),
                Ended,
                Some(Outcome::Failed),
                false,
            ),
            (
                "agent's station never answered",
                conv(
                    r#""disconnected""#,
                    "",
                    None,
                    Some((
                        r#""disconnected""#,
                        r#"{"state":"disconnected","disconnectType":"transfer.noanswer"}"#,
                    )),
                ),
                Ended,
                Some(Outcome::AgentUnavailable),
                false,
            ),
            (
                "cancelled after dialling, while ringing",
                conv(
                    r#""disconnected""#,
                    r#"{"state":"disconnected","disconnectType":"peer"}"#,
                    None,
                    Some((
                        r#""disconnected""#,
                        r#"{"state":"disconnected","disconnectType":"client"}"#,
                    )),
                ),
                Ended,
                Some(Outcome::Canceled),
                false,
            ),
            (
                "cancelled before its time",
                conv(
                    r#""disconnected","disconnectType":"client""#,
                    "",
                    None,
                    None,
                ),
                Ended,
                Some(Outcome::Canceled),
                false,
            ),
            (
                "cancelled while in queue",
                conv(
                    r#""disconnected","disconnectType":"client""#,
                    "",
                    Some(r#""disconnected","disconnectType":"peer""#),
                    None,
                ),
                Ended,
                Some(Outcome::Canceled),
                false,
            ),
            (
                "ended undialled for another reason",
                conv(
                    r#""disconnected","disconnectType":"uncallable""#,
                    "",
                    None,
                    None,
                ),
                Ended,
                Some(Outcome::Failed),
                false,
            ),
            (
                "unknown callback state",
                conv(r#""teleporting""#, "", None, None),
                Scheduled,
                None,
                false,
            ),
        ];
        for (name, body, phase, outcome, in_queue) in cases {
            let st = derive(&body);
            assert_eq!(
                (st.phase, st.outcome, st.in_queue),
                (phase, outcome, in_queue),
                "{name}"
            );
            assert_eq!(st.scheduled_time.as_deref(), Some(SCHEDULED_AT), "{name}");
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let dialled = !v["participants"][0]["calls"].as_array().unwrap().is_empty();
            assert_eq!(
                st.customer.is_some(),
                dialled,
                "{name}: the customer's leg once dialled"
            );
        }
    }

    #[test]
    fn a_dialled_callback_carries_its_call_legs() {
        let st = derive(&conv(
            r#""disconnected""#,
            r#"{"state":"disconnected","disconnectType":"endpoint","disconnectReasons":[{"type":"sip","code":486,"phrase":"Busy Here"}]}"#,
            None,
            Some((
                r#""disconnected""#,
                r#"{"state":"disconnected","disconnectType":"peer"}"#,
            )),
        ));
        let customer = st.customer.as_ref().unwrap();
        assert_eq!(customer.disconnect_reasons[0].code, Some(486));
        assert_eq!(customer.address.as_deref(), Some("tel:+13175550100"));
        assert_eq!(st.agent.as_ref().unwrap().user_id.as_deref(), Some("u1"));
        let json: serde_json::Value = serde_json::from_str(&st.to_json()).unwrap();
        assert_eq!(json["phase"], "ended");
        assert_eq!(json["outcome"], "busy");
        assert_eq!(json["inQueue"], false);
        assert_eq!(json["scheduledTime"], SCHEDULED_AT);
        assert_eq!(json["customer"]["disconnectReasons"][0]["code"], 486);
    }

    /// `GET /api/v2/conversations/callbacks/{id}` (`CallbackConversation`):
    /// the callback media's state sits on the participant itself.
    #[test]
    fn callback_conversation_shape_reads_before_dialling() {
        let scheduled = r#"{"id":"c1","participants":[{"id":"pc","purpose":"customer","state":"scheduled","direction":"inbound","queue":{"id":"q1","name":"Support"},"callbackNumbers":["+13175550100"],"callbackScheduledTime":"2026-03-09T14:00:00.000Z","provider":"PureCloud Callback"}]}"#;
        let st = derive(scheduled);
        assert_eq!((st.phase, st.in_queue), (CallbackPhase::Scheduled, false));
        let queued = scheduled.replace(r#""state":"scheduled""#, r#""state":"connected""#);
        assert!(derive(&queued).in_queue);
        let cancelled = scheduled.replace(
            r#""state":"scheduled""#,
            r#""state":"disconnected","disconnectType":"client""#,
        );
        assert_eq!(
            (derive(&cancelled).phase, derive(&cancelled).outcome),
            (CallbackPhase::Ended, Some(Outcome::Canceled))
        );
        let offered = r#"{"id":"c1","participants":[{"id":"pc","purpose":"customer","state":"connected","callbackNumbers":["+13175550100"]},{"id":"pa","purpose":"agent","state":"alerting","user":{"id":"u1"}}]}"#;
        assert_eq!(derive(offered).phase, CallbackPhase::Dialing);
    }

    #[test]
    fn malformed_callback_conversations_are_bad_response_not_panics() {
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"id":"c","participants":{}}"#,
            r#"{"id":"c","participants":[{"callbacks":7}]}"#,
            r#"{"id":"c","participants":[{"callbacks":[{"state":1}]}]}"#,
            r#"{"id":"c","participants":[{"calls":[{"disconnectReasons":"x"}]}]}"#,
        ] {
            assert_eq!(
                CallbackStatus::parse(bad).unwrap_err().code.as_str(),
                "bad_response",
                "{bad}"
            );
        }
        // Odd but well-typed: no participants, nulls, unknown members.
        for odd in [
            r#"{"id":"c","participants":null}"#,
            r#"{"id":"c","participants":[]}"#,
            r#"{"id":"c","participants":[{"id":"p","callbacks":null,"calls":null,"x":{"y":1}}]}"#,
            r#"{"id":"c","participants":[{"id":"p","purpose":"customer","callbacks":[]}]}"#,
        ] {
            let st = CallbackStatus::parse(odd).unwrap();
            assert_eq!(
                (st.phase, st.outcome),
                (CallbackPhase::Scheduled, None),
                "{odd}"
            );
        }
    }
}
