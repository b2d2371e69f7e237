//! `/__sim/notifications`: the counters tests assert on, and the socket and
//! channel faults a push client must survive.
//!
//! `POST /__sim/notifications/faults` takes one fault or a list:
//! `{"fault":"socket_closing"|"stall"|"abrupt_close"|"expire"|"duplicate"|"reorder",
//!   "channelId":"streaming-0-…", "count":1, "delayMs":…, "durationMs":…}`;
//! without `channelId` it applies to every channel. See the README.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{system_frame, Gone, Out, SOCKET_CLOSING_GRACE};
use crate::util::json_response;
use crate::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    /// `v2.system.socket_closing`, then a close after `delayMs` (default 60 s × time scale).
    SocketClosing,
    /// Nothing more on the socket (no events, heartbeats or pongs), which stays open.
    Stall,
    /// The TCP connection drops without a close frame.
    AbruptClose,
    /// The channel expires now: its socket is closed and it 404s from then on.
    Expire,
    /// The next `count` events are sent twice.
    Duplicate,
    /// The next `count` events are each held back and sent after the one after them.
    Reorder,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Spec {
    fault: Kind,
    channel_id: Option<String>,
    count: Option<u32>,
    delay_ms: Option<u64>,
    duration_ms: Option<u64>,
}

/// Longest delay or duration a fault may ask for.
const MAX_MS: u64 = 3_600_000;

pub async fn inject(State(sim): State<Shared>, body: String) -> Response {
    let specs: Result<Vec<Spec>, String> = match serde_json::from_str::<Value>(&body) {
        Ok(Value::Array(a)) => a
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
            .collect(),
        Ok(v) => serde_json::from_value(v)
            .map(|s| vec![s])
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let specs = match specs {
        Ok(s) => s,
        Err(e) => return json_response(400, json!({ "error": e })),
    };
    for s in &specs {
        if s.delay_ms.or(s.duration_ms).is_some_and(|ms| ms > MAX_MS) {
            return json_response(
                400,
                json!({"error": "delayMs and durationMs are at most 3600000"}),
            );
        }
        if s.count == Some(0) {
            return json_response(400, json!({"error": "count must be at least 1"}));
        }
    }
    let default_closing = SOCKET_CLOSING_GRACE.mul_f64(sim.cfg.time_scale);
    let mut inner = sim.lock();
    let hub = &mut inner.notify;
    let mut applied = Vec::new();
    for s in specs {
        let targets: Vec<String> = match &s.channel_id {
            Some(id) => {
                if hub.live(id).is_none() {
                    return json_response(
                        404,
                        json!({"error": format!("no channel {id}"), "applied": applied}),
                    );
                }
                vec![id.clone()]
            }
            None => hub.channels.keys().cloned().collect(),
        };
        for id in targets {
            if s.fault == Kind::Expire {
                hub.remove(&id, Gone::Expired);
                applied.push(json!({"fault": "expire", "channelId": id}));
                continue;
            }
            let Some(c) = hub.channels.get_mut(&id) else {
                continue;
            };
            let count = s.count.unwrap_or(1);
            let done = match s.fault {
                Kind::Duplicate => {
                    c.duplicate = c.duplicate.saturating_add(count);
                    true
                }
                Kind::Reorder => {
                    c.reorder = c.reorder.saturating_add(count);
                    true
                }
                // Handled above, before the channel lookup.
                Kind::Expire => false,
                socket_fault => {
                    let frame = (socket_fault == Kind::SocketClosing).then(|| {
                        system_frame(
                            "v2.system.socket_closing",
                            c,
                            None,
                            None,
                            "This WebSocket is closing for maintenance; reconnect to the same connectUri.",
                        )
                    });
                    match c.socket.as_mut() {
                        // Socket faults need a socket; channels without one are skipped.
                        None => false,
                        Some(sock) => {
                            let out = match socket_fault {
                                Kind::SocketClosing => Out::Closing(
                                    frame.unwrap_or_default(),
                                    s.delay_ms
                                        .map(Duration::from_millis)
                                        .unwrap_or(default_closing),
                                ),
                                Kind::Stall => {
                                    sock.stalled = true;
                                    Out::Stall(s.duration_ms.map(Duration::from_millis))
                                }
                                _ => Out::Abort,
                            };
                            sock.control(out);
                            true
                        }
                    }
                }
            };
            if done {
                applied.push(json!({"fault": kind_name(s.fault), "channelId": id}));
            }
        }
    }
    json_response(200, json!({ "applied": applied }))
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::SocketClosing => "socket_closing",
        Kind::Stall => "stall",
        Kind::AbruptClose => "abrupt_close",
        Kind::Expire => "expire",
        Kind::Duplicate => "duplicate",
        Kind::Reorder => "reorder",
    }
}

/// `GET /__sim/notifications`: channels per owner, sockets, subscriptions and
/// event counters (`eventsDropped` counts events for channels with no socket,
/// a stalled one, or a full queue).
pub async fn stats(State(sim): State<Shared>) -> Response {
    let mut inner = sim.lock();
    let timers = inner.notify.watches.len();
    let hub = &mut inner.notify;
    let now = Instant::now();
    let expired: Vec<String> = hub
        .channels
        .values()
        .filter(|c| c.expires_at <= now)
        .map(|c| c.id.clone())
        .collect();
    for id in expired {
        hub.remove(&id, Gone::Expired);
    }
    let mut chans: Vec<&super::Channel> = hub.channels.values().collect();
    chans.sort_by_key(|c| c.seq);
    let mut owners: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
    for c in &chans {
        *owners
            .entry((c.owner.client_id.clone(), c.owner.user_id.clone()))
            .or_default() += 1;
    }
    let channels: Vec<Value> = chans
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "connectUri": c.connect_uri, "clientId": c.owner.client_id,
                "userId": c.owner.user_id, "expires": crate::util::iso(c.expires),
                "connected": c.socket.is_some(),
                "stalled": c.socket.as_ref().is_some_and(|s| s.stalled),
                "topics": c.topics.iter().collect::<Vec<_>>(),
                "eventsSent": c.sent, "eventsDropped": c.dropped, "socketOpens": c.opens,
            })
        })
        .collect();
    let owners: Vec<Value> = owners
        .into_iter()
        .map(|((client, user), n)| json!({"clientId": client, "userId": user, "channels": n}))
        .collect();
    let st = &hub.stats;
    json_response(
        200,
        json!({
            "channels": channels,
            "owners": owners,
            "channelCount": chans.len(),
            "connectedSockets": chans.iter().filter(|c| c.socket.is_some()).count(),
            "subscriptions": chans.iter().map(|c| c.topics.len()).sum::<usize>(),
            "callTimers": timers,
            "channelsCreated": st.channels_created,
            "channelsEvicted": st.channels_evicted,
            "channelsExpired": st.channels_expired,
            "socketOpens": st.socket_opens,
            "socketsKicked": st.sockets_kicked,
            "eventsSent": st.events_sent,
            "eventsDropped": st.events_dropped,
            "eventsDuplicated": st.events_duplicated,
            "eventsReordered": st.events_reordered,
            "heartbeatsSent": st.heartbeats_sent,
            "pongsSent": st.pongs_sent,
        }),
    )
}
