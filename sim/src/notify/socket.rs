//! The WebSocket at `connectUri` (`/channels/{id}`): no auth, since the channel
//! id is the credential; one socket per channel, a newer one kicks the older;
//! JSON text frames both ways. One task per socket owns it: it writes queued
//! frames in order, heartbeats, answers pings, and carries out socket faults.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};
use tokio::time::{Instant, MissedTickBehavior};

use super::rest::{subscribe, Mode, SubError};
use super::{heartbeat_every, Hub, Out, QUEUE};
use crate::frontdoor::Corr;
use crate::util::api_error;
use crate::Shared;

const HEARTBEAT_FRAME: &str =
    r#"{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}"#;
const PONG_FRAME: &str = r#"{"topicName":"channel.metadata","eventBody":{"message":"pong"}}"#;
/// Client frames are tiny (`ping`, `subscribe`); anything bigger ends the socket.
const MAX_CLIENT_MESSAGE: usize = 256 * 1024;
/// How long a closing socket waits for the client's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

pub async fn connect(
    State(sim): State<Shared>,
    Extension(Corr(corr)): Extension<Corr>,
    Path(id): Path<String>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if sim.lock().notify.live(&id).is_none() {
        // Unknown, expired or evicted: the handshake fails, so the client
        // knows to create a new channel.
        return api_error(
            404,
            "not.found",
            "The requested resource was not found.",
            &corr,
        );
    }
    let Ok(ws) = ws else {
        return api_error(
            400,
            "bad.request",
            "This address takes WebSocket connections only.",
            &corr,
        );
    };
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| run(sim, id, socket))
}

/// How a socket task ends.
enum End {
    /// Send a close frame.
    Close(u16, &'static str),
    /// Drop the connection without a close frame (the client sees 1006).
    Abort,
    /// The client closed or the connection broke.
    Gone,
}

async fn run(sim: Shared, id: String, mut ws: WebSocket) {
    let (tx, mut rx) = mpsc::channel(QUEUE);
    let kill = Arc::new(Notify::new());
    let attached = sim.lock().notify.attach(&id, tx, kill.clone());
    let Some(conn) = attached else {
        // The channel went away between the handshake and now.
        close(&mut ws, 1000, "channel not found").await;
        return;
    };
    let every = heartbeat_every(&sim);
    let mut heartbeat = tokio::time::interval_at(Instant::now() + every, every);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // `Some(None)`: stalled until replaced; `Some(Some(t))`: until `t`.
    let mut stall: Option<Option<Instant>> = None;
    let mut closing_at: Option<Instant> = None;
    let never = || Instant::now() + Duration::from_secs(365 * 86_400);

    let end = loop {
        let stall_until = stall.flatten();
        tokio::select! {
            m = ws.recv() => match m {
                Some(Ok(Message::Text(t))) => {
                    if stall.is_some() {
                        continue;
                    }
                    let reply = client_message(&mut sim.lock().notify, &id, conn, &t);
                    if let Some(r) = reply {
                        if ws.send(Message::Text(r)).await.is_err() {
                            break End::Gone;
                        }
                    }
                }
                // Binary frames are ignored; protocol pings are answered by tungstenite.
                Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break End::Gone,
            },
            out = rx.recv() => match out {
                Some(Out::Frame(f)) => {
                    if stall.is_none() && ws.send(Message::Text(f)).await.is_err() {
                        break End::Gone;
                    }
                }
                Some(Out::Close(code, reason)) => break End::Close(code, reason),
                Some(Out::Abort) => break End::Abort,
                Some(Out::Stall(d)) => stall = Some(d.map(|d| Instant::now() + d)),
                Some(Out::Closing(f, delay)) => {
                    if ws.send(Message::Text(f)).await.is_err() {
                        break End::Gone;
                    }
                    closing_at = Some(Instant::now() + delay);
                }
                // The hub forgot this socket without a word: close politely.
                None => break End::Close(1000, "channel removed"),
            },
            _ = heartbeat.tick() => {
                let beat = stall.is_none();
                sim.lock().notify.heartbeat(&id, conn, beat);
                if beat && ws.send(Message::Text(HEARTBEAT_FRAME.into())).await.is_err() {
                    break End::Gone;
                }
            }
            _ = tokio::time::sleep_until(closing_at.unwrap_or_else(never)), if closing_at.is_some() => {
                break End::Close(1001, "socket closing");
            }
            _ = tokio::time::sleep_until(stall_until.unwrap_or_else(never)), if stall_until.is_some() => {
                stall = None;
                if let Some(s) = sim.lock().notify.socket_mut(&id, conn) {
                    s.stalled = false;
                }
            }
            _ = kill.notified() => break End::Abort,
        }
    };
    sim.lock().notify.detach(&id, conn);
    if let End::Close(code, reason) = end {
        close(&mut ws, code, reason).await;
    }
    // Dropping the socket closes the TCP connection; after `Abort` no close
    // frame was sent, which is what a 1006 is.
}

/// Sends a close frame and waits briefly for the client's, so the close is clean.
async fn close(ws: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if ws.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(m)) = ws.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Answers a client frame: `{"message":"ping"}` gets a pong; a
/// `{"message":"subscribe","topics":[…]}` (a third-party client's protocol,
/// UNCONFIRMED by Genesys' SDKs) adds topics with the channel owner's rights.
/// Anything else is ignored, as Genesys does not answer it either.
fn client_message(hub: &mut Hub, id: &str, conn: u64, text: &str) -> Option<Utf8Bytes> {
    let v: Value = serde_json::from_str(text).ok()?;
    let message = v.get("message")?.as_str()?;
    let c = hub
        .live(id)
        .filter(|c| c.socket.as_ref().is_some_and(|s| s.conn == conn))?;
    c.touch();
    match message {
        "ping" => {
            hub.stats.pongs_sent += 1;
            Some(PONG_FRAME.into())
        }
        "subscribe" => {
            let principal = c.principal.clone();
            let topics: Option<Vec<String>> = v.get("topics")?.as_array().and_then(|a| {
                a.iter()
                    .map(|t| {
                        t.as_str()
                            .or_else(|| t.get("id").and_then(Value::as_str))
                            .map(str::to_string)
                    })
                    .collect()
            });
            let result = match topics {
                Some(t) => subscribe(hub, id, &principal, t, Mode::Add, false),
                None => Err(SubError::Invalid(String::new())),
            };
            let mut reply = match result {
                Ok(_) => json!({"result": "200", "status": "subscribed"}),
                Err(SubError::NotFound) => json!({"result": "404"}),
                Err(_) => json!({"result": "400", "status": "failure"}),
            };
            if let Some(c) = v.get("correlationId") {
                reply["correlationId"] = c.clone();
            }
            Some(reply.to_string().into())
        }
        _ => None,
    }
}
