//! The edge handler's own HTTP API bodies, as serde types: what visitors send,
//! what they get back, and the one JSON log line per request.

use serde::{Deserialize, Serialize};

use crate::status::{CallStatus, DisconnectReason, Leg, Outcome, Phase, Role};

/// `POST /v1/calls` body. Strict: unknown fields are refused (a field such as
/// `onBehalfOfUserId` must never be silently ignored — the agent comes from
/// configuration only).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlaceCallBody {
    pub phone_number: Option<String>,
    pub turnstile_token: Option<String>,
}

/// `201` answer of `POST /v1/calls`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallHandle<'a> {
    pub handle: &'a str,
    pub status_url: String,
    pub events_url: String,
}

impl<'a> CallHandle<'a> {
    pub fn new(handle: &'a str) -> CallHandle<'a> {
        CallHandle {
            handle,
            status_url: ["/v1/calls/", handle].concat(),
            events_url: ["/v1/calls/", handle, "/events"].concat(),
        }
    }
}

/// `POST /v1/callbacks` body: the number, and when (absent: as soon as possible).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallbackBody {
    pub phone_number: Option<String>,
    pub at: Option<String>,
    pub turnstile_token: Option<String>,
}

/// `201` answer of `POST /v1/callbacks`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackHandle<'a> {
    pub handle: &'a str,
    pub status_url: String,
    /// The time booked (UTC ISO-8601); absent: as soon as possible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<&'a str>,
}

impl<'a> CallbackHandle<'a> {
    pub fn new(handle: &'a str, scheduled_time: Option<&'a str>) -> CallbackHandle<'a> {
        CallbackHandle {
            handle,
            status_url: ["/v1/callbacks/", handle].concat(),
            scheduled_time,
        }
    }
}

/// What a visitor may see of their callback: no ids, names or numbers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicCallback<'a> {
    pub phase: crate::callback::CallbackPhase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    pub in_queue: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<&'a str>,
}

impl<'a> PublicCallback<'a> {
    pub fn of(s: &'a crate::callback::CallbackStatus) -> PublicCallback<'a> {
        PublicCallback {
            phase: s.phase,
            outcome: s.outcome,
            in_queue: s.in_queue,
            scheduled_time: s.scheduled_time.as_deref(),
        }
    }
}

/// `GET /v1/availability`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailabilityAnswer<'a> {
    /// `call-now` or `callback`.
    pub mode: &'a str,
    /// Why not `call-now`: `closed`, or the agent's reason (`offline`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_wait_seconds: Option<u64>,
    /// Whether callbacks can be booked here (a queue is configured).
    pub callbacks: bool,
    /// The next times a callback may be booked (when callbacks are offered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_slots: Option<&'a [super::hours::Slot]>,
    /// The owner's time zone, when opening hours are configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<&'a str>,
}

/// An `agent_unavailable` refusal: the error shape plus the reason key and
/// whether the visitor may book a callback instead.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnavailableAnswer<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub reason: &'a str,
    pub callbacks: bool,
    pub correlation_id: &'a str,
}

/// Every error answer: a stable code, a sentence for the visitor, and the
/// correlation id that finds the detail in the log.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorAnswer<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub correlation_id: &'a str,
}

/// `202` (and `409`) answer when an earlier request's outcome is unknown:
/// the error shape, plus the pending call's handle when it is the visitor's own.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RingingAnswer<'a> {
    pub code: &'a str,
    pub message: &'a str,
    pub correlation_id: &'a str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallHandle<'a>>,
}

/// `GET /v1/healthz` when ready.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health<'a> {
    pub ok: bool,
    /// `fleet` (Durable Objects), `admission` (the desks in Deno KV, the
    /// gateway per instance) or `instance` (each instance on its own).
    pub guarantees: &'a str,
    /// Where the visitor's address comes from: `header` (a trusted proxy's),
    /// `connection`, or `shared` (nowhere: every visitor shares one bucket).
    pub client_address: &'a str,
    /// How calls are followed right now: `push` or `poll`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub warnings: Vec<&'a str>,
}

/// Logged once per instance, on its first request.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartupLine<'a> {
    pub event: &'a str,
    pub guarantees: &'a str,
    pub client_address: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub warnings: Vec<&'a str>,
}

/// What a visitor may see of a call: phases and leg states, no names or ids.
#[derive(Debug, Serialize)]
pub struct PublicStatus<'a> {
    pub phase: Phase,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<PublicLeg<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<PublicLeg<'a>>,
    /// How this status was learned: `push` (the Notifications channel) or `poll`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicLeg<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect_type: Option<&'a str>,
    /// The far end's first SIP/Q.850 cause (busy, no answer…), code and kind only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disconnect_reason: Option<PublicReason<'a>>,
}

#[derive(Debug, Serialize)]
pub struct PublicReason<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u64>,
}

impl<'a> PublicStatus<'a> {
    pub fn of(s: &'a CallStatus) -> PublicStatus<'a> {
        let leg = |l: &'a Leg, reasons: bool| PublicLeg {
            state: l.state.as_deref(),
            connected_time: l.connected_time.as_deref(),
            end_time: l.end_time.as_deref(),
            disconnect_type: l.disconnect_type.as_deref(),
            disconnect_reason: reasons.then(|| l.disconnect_reasons.first()).flatten().map(
                |r: &'a DisconnectReason| PublicReason {
                    kind: &r.kind,
                    code: r.code,
                },
            ),
        };
        PublicStatus {
            phase: s.phase,
            outcome: s.outcome,
            agent: s.snapshot.leg(Role::Agent).map(|a| leg(a, false)),
            customer: s.snapshot.leg(Role::Customer).map(|c| leg(c, true)),
            tracking: None,
        }
    }
}

/// The `data` of an SSE `error` event.
#[derive(Debug, Serialize)]
pub struct StreamError<'a> {
    pub code: &'a str,
    pub message: &'a str,
}

/// One JSON log line per request. Never a secret, a whole number, a whole
/// handle or a clear client address.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine<'a> {
    pub correlation_id: &'a str,
    pub method: &'a str,
    /// The path with any handle cut to its first 8 characters.
    pub path: &'a str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
    /// A keyed digest of the client address (8 characters), or `shared`.
    pub client: &'a str,
}

/// Cloudflare Turnstile's siteverify answer (only what we read).
#[derive(Debug, Deserialize)]
pub struct SiteverifyAnswer {
    #[serde(default)]
    pub success: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode, encode};

    #[test]
    fn place_bodies_are_strict() {
        let b: PlaceCallBody = decode(r#"{"phoneNumber":"+13175550100"}"#).unwrap();
        assert_eq!(b.phone_number.as_deref(), Some("+13175550100"));
        assert!(decode::<PlaceCallBody>(r#"{"phoneNumber":"+1","agent":"x"}"#).is_err());
        assert!(decode::<PlaceCallBody>(r#"{"phoneNumber":1}"#).is_err());
    }

    #[test]
    fn handle_answer_shape() {
        assert_eq!(
            encode(&CallHandle::new("abc.def")),
            r#"{"handle":"abc.def","statusUrl":"/v1/calls/abc.def","eventsUrl":"/v1/calls/abc.def/events"}"#
        );
    }
}
