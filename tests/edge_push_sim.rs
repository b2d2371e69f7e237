//! The edge tracking calls by push (issue #11), on the host against
//! genesys-sim over loopback: the service's gateway holds ONE Notifications
//! channel and socket (tokio-tungstenite here, the Durable Object's
//! `WebSocket` on Workers) and every SSE watcher of every call is answered
//! from it. "One channel, no polling" is read from the simulator's request
//! log and its `/__sim/notifications` counters; each socket fault ends in the
//! right final status with one reconcile read.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "support/host_socket.rs"]
mod host_socket;

use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use genesys_click_to_call::edge::gateway::{edge_push_options, Gateway};
use genesys_click_to_call::edge::{EdgeConfig, EdgeRequest, EdgeService, LocalFleet};
use genesys_click_to_call::push::PushOptions;
use genesys_sim::Running;
use host_socket::Tungstenite;
use serde_json::Value;

const ORIGIN: &str = EDGE_ORIGIN;

type Fleet = Rc<LocalFleet<Reqwest, WallClock>>;

fn vars(s: &Running) -> impl Fn(&str) -> Option<String> {
    edge_env(
        s,
        &[
            (
                "HANDLE_SIGNING_KEY",
                "edge-push-signing-key-0123456789abcdef",
            ),
            ("RATE_LIMIT_PER_IP", "1000/60"),
        ],
    )
}

/// Push timings scaled like the simulator (time scale 0.02: a 600 ms heartbeat).
fn scaled(heartbeat_timeout_ms: u64) -> PushOptions {
    PushOptions {
        verify_ms: 300,
        connect_timeout_ms: 2_000,
        retry_backoff_ms: 50,
        min_healthy_ms: 100,
        ready_timeout_ms: 3_000,
        ..edge_push_options()
    }
    .with_heartbeat_timeout(heartbeat_timeout_ms)
}

/// An edge whose gateway tracks by push (`None`: polling, as without a socket).
fn edge(s: &Running, push: Option<PushOptions>) -> (EdgeService<Fleet>, Fleet) {
    let cfg = EdgeConfig::from_env(vars(s)).unwrap();
    let mut local = LocalFleet::new(Reqwest(reqwest()), WallClock::default(), &cfg);
    if let Some(p) = push {
        local.gateway = Gateway::new(Reqwest(reqwest()), WallClock::default(), &cfg)
            .with_websocket(Box::new(Tungstenite::default()), p);
    }
    let fleet = Rc::new(local);
    let svc = EdgeService::build(vars(s), &[7; 16], |_| fleet.clone());
    (svc, fleet)
}

fn req(ip: &str, method: &str, path: &str, body: &str) -> EdgeRequest {
    EdgeRequest {
        method: method.into(),
        path: path.into(),
        origin: Some(ORIGIN.into()),
        address_header: Some(ip.into()),
        content_type: (method == "POST").then(|| "application/json".into()),
        body: body.into(),
        ..Default::default()
    }
}

async fn place(svc: &EdgeService<Fleet>, ip: &str, number: &str) -> String {
    let body = format!(r#"{{"phoneNumber":"{number}"}}"#);
    let r = svc.handle(req(ip, "POST", "/v1/calls", &body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    v["handle"].as_str().unwrap().to_string()
}

/// The value of one field of an SSE event block.
fn field<'a>(event: &'a str, name: &str) -> Option<&'a str> {
    event
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
}

/// What a watcher saw: each status (with its `id:`), and whether `end` came.
#[derive(Debug, Default)]
struct Seen {
    statuses: Vec<(String, Value)>,
    ended: bool,
    /// The stream and cursor to resume from (what an EventSource keeps).
    stream: String,
    cursor: String,
}

/// Opens the call's SSE stream and reads it until `stop` says so or it ends.
async fn watch(
    svc: &EdgeService<Fleet>,
    ip: &str,
    handle: &str,
    cursor: &str,
    stop: impl Fn(&Seen) -> bool,
) -> Seen {
    let r = svc
        .handle(req(ip, "GET", &format!("/v1/calls/{handle}/events"), ""))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.starts_with("retry: "), "{}", r.body);
    let mut seen = Seen {
        stream: r.stream.expect("a stream"),
        cursor: cursor.to_string(),
        ..Seen::default()
    };
    for _ in 0..400 {
        let next = svc.next_event(&seen.stream, &seen.cursor).await;
        for event in next.chunk.split("\n\n").filter(|e| !e.is_empty()) {
            match field(event, "event") {
                Some("status") => {
                    let id = field(event, "id").expect("a status carries its id");
                    assert!(field(event, "retry").is_some(), "and retry");
                    let data = serde_json::from_str(field(event, "data").unwrap()).unwrap();
                    seen.statuses.push((id.to_string(), data));
                }
                Some("end") => seen.ended = true,
                Some(other) => panic!("unexpected {other}: {}", next.chunk),
                None => {}
            }
        }
        if next.done {
            assert!(seen.ended, "{}", next.chunk);
            if next.after {
                // The shell's background step after closing.
                svc.next_event(&next.stream, &next.cursor).await;
            }
            return seen;
        }
        seen.stream = next.stream;
        seen.cursor = next.cursor;
        if stop(&seen) {
            return seen;
        }
    }
    panic!("the stream never ended: {seen:?}");
}

/// Reads of each conversation (`…/calls/{id}` and the SIP-cause
/// `…/conversations/{id}`), by conversation id.
fn reads_by_call(log: &[Value]) -> HashMap<String, usize> {
    let mut reads = HashMap::new();
    for e in log.iter().filter(|e| e["method"] == "GET") {
        let path = e["path"].as_str().unwrap_or("");
        if let Some(rest) = path.strip_prefix("/api/v2/conversations/") {
            let id = rest.trim_start_matches("calls/");
            if !id.contains('/') && !id.contains('?') && !id.is_empty() && id != "calls" {
                *reads.entry(id.to_string()).or_insert(0) += 1;
            }
        }
    }
    reads
}

fn last(seen: &Seen) -> (&str, &str, &str) {
    let (_, v) = seen.statuses.last().expect("a status");
    (
        v["phase"].as_str().unwrap_or(""),
        v["outcome"].as_str().unwrap_or(""),
        v["tracking"].as_str().unwrap_or(""),
    )
}

async fn healthz(svc: &EdgeService<Fleet>) -> Value {
    let r = svc
        .handle(req("198.51.100.1", "GET", "/v1/healthz", ""))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_watchers_on_a_hundred_calls_share_one_channel_and_one_socket() {
    let s = sim(|c| c.rate_limit = 100_000).await;
    let (svc, _fleet) = edge(&s, Some(scaled(1_500)));
    assert_eq!(healthz(&svc).await["tracking"], "push");
    let numbers: Vec<String> = (0..100)
        .map(|i| match i % 4 {
            0 => "+13175550101".to_string(), // busy: one SIP-cause read
            _ => format!("+1317555{:04}", 2000 + i),
        })
        .collect();
    let runs = numbers.iter().enumerate().map(|(i, n)| {
        let svc = &svc;
        async move {
            let ip = format!("203.0.113.{}", i + 1);
            let handle = place(svc, &ip, n).await;
            watch(svc, &ip, &handle, "", |_| false).await
        }
    });
    let seen = join_all(runs.collect()).await;
    let l = log(&s).await;
    for (n, w) in numbers.iter().zip(&seen) {
        let want = if n == "+13175550101" {
            "busy"
        } else {
            "completed"
        };
        assert_eq!(last(w), ("ended", want, "push"), "{n}: {w:?}");
        assert!(w.ended);
        // Every id a watcher saw is distinct: no status written twice.
        let mut ids: Vec<&str> = w.statuses.iter().map(|(id, _)| id.as_str()).collect();
        ids.dedup();
        assert_eq!(ids.len(), w.statuses.len(), "{n}: {w:?}");
    }
    let posts = l
        .iter()
        .filter(|e| e["method"] == "POST" && e["phoneNumber"].is_string());
    assert_eq!(posts.count(), 100);
    for (id, n) in reads_by_call(&l) {
        assert!(n <= 2, "{id}: {n} reads");
    }
    // A call placed while the channel is live is never read; under load one
    // placed before it was (the placement waits at most ready_timeout_ms) is
    // reconciled once. Polling would read every call again and again.
    assert!(
        count(&l, "GET", CALL_READ, None) <= 10,
        "no call polled while the channel is healthy"
    );
    assert_eq!(count(&l, "POST", "/oauth/token", None), 1);
    assert_eq!(l.iter().filter(|e| e["status"] == 429).count(), 0);
    let st = notifications(&s).await;
    assert_eq!(st["channelsCreated"], 1, "{st}");
    assert_eq!(st["socketOpens"], 1, "{st}");
}

/// A call stays connected; the stream is watched until it shows so, then
/// the socket stalls (events dropped), the visitor hangs up (its end event is
/// lost with the stall) and `fault` hits the socket (none: the watchdog
/// notices the stall). A visitor that reconnects with its Last-Event-ID must
/// get the end, by push, after one reconcile read, and no status twice.
async fn survive(fault: Option<&str>) -> Value {
    let s = sim(|c| c.rate_limit = 100_000).await;
    let (svc, _fleet) = edge(&s, Some(scaled(if fault.is_some() { 10_000 } else { 800 })));
    let ip = "203.0.113.9";
    let handle = place(&svc, ip, "+13175550104").await;
    let first = watch(&svc, ip, &handle, "", |w| {
        w.statuses
            .last()
            .is_some_and(|(_, v)| v["phase"] == "connected")
    })
    .await;
    let what = fault.unwrap_or("stall");
    assert_eq!(last(&first).2, "push", "{what}: {first:?}");
    notify_fault(&s, r#"{"fault":"stall","durationMs":60000}"#).await;
    let r = svc
        .handle(req(ip, "DELETE", &format!("/v1/calls/{handle}"), ""))
        .await;
    assert!(r.status < 300, "{what}: hang up {} {}", r.status, r.body);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        notifications(&s).await["eventsDropped"].as_u64().unwrap() >= 1,
        "{what}: the end event was lost with the stall"
    );
    if let Some(f) = fault {
        notify_fault(&s, f).await;
    }
    // The visitor's EventSource reconnects, sending the last id it saw.
    let (last_id, _) = first.statuses.last().unwrap();
    let rest = watch(&svc, ip, &handle, last_id, |_| false).await;
    assert_eq!(
        last(&rest),
        ("ended", "completed", "push"),
        "{what}: {rest:?}"
    );
    assert!(
        rest.statuses.iter().all(|(id, _)| id != last_id),
        "{what}: nothing seen before is written again"
    );
    let l = log(&s).await;
    assert_eq!(
        count(&l, "GET", CALL_READ, None),
        1,
        "{what}: exactly one reconcile read"
    );
    notifications(&s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_closing_is_survived_with_one_reconcile() {
    let st = survive(Some(r#"{"fault":"socket_closing"}"#)).await;
    assert_eq!(st["channelsCreated"], 1, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_socket_is_replaced_by_the_watchdog() {
    let st = survive(None).await;
    assert_eq!(st["channelsCreated"], 1, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abrupt_close_is_survived_with_one_reconcile() {
    let st = survive(Some(r#"{"fault":"abrupt_close"}"#)).await;
    assert_eq!(st["channelsCreated"], 1, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_stream_after_the_end_gets_only_the_end() {
    let s = sim(|c| c.rate_limit = 100_000).await;
    let (svc, _fleet) = edge(&s, Some(scaled(1_500)));
    let ip = "203.0.113.10";
    let handle = place(&svc, ip, "+13175552001").await;
    let all = watch(&svc, ip, &handle, "", |_| false).await;
    let (last_id, _) = all.statuses.last().unwrap();
    let again = watch(&svc, ip, &handle, last_id, |_| false).await;
    assert!(again.ended);
    assert!(again.statuses.is_empty(), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_socket_the_same_frames_are_polled() {
    let s = sim(|c| c.rate_limit = 100_000).await;
    let (svc, _fleet) = edge(&s, None);
    assert_eq!(healthz(&svc).await["tracking"], "poll");
    let ip = "203.0.113.11";
    let handle = place(&svc, ip, "+13175552002").await;
    let w = watch(&svc, ip, &handle, "", |_| false).await;
    assert_eq!(last(&w), ("ended", "completed", "poll"));
    assert_eq!(notifications(&s).await["channelsCreated"], 0);
    assert!(count(&log(&s).await, "GET", CALL_READ, None) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reads_are_answered_from_the_channel_without_polling() {
    let s = sim(|c| c.rate_limit = 100_000).await;
    let (svc, _fleet) = edge(&s, Some(scaled(1_500)));
    let ip = "203.0.113.12";
    let handle = place(&svc, ip, "+13175552003").await;
    let mut phases = Vec::new();
    for _ in 0..400 {
        let r = svc
            .handle(req(ip, "GET", &format!("/v1/calls/{handle}"), ""))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["tracking"], "push", "{v}");
        let phase = v["phase"].as_str().unwrap().to_string();
        if phases.last() != Some(&phase) {
            phases.push(phase.clone());
        }
        if phase == "ended" {
            assert_eq!(v["outcome"], "completed");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        phases.last().map(String::as_str),
        Some("ended"),
        "{phases:?}"
    );
    assert!(phases.len() >= 2, "the reads followed the call: {phases:?}");
    // Dozens of status reads, and Genesys was not read once for this call:
    // it was placed while the channel was live, so every event came by push.
    let l = log(&s).await;
    assert_eq!(count(&l, "GET", CALL_READ, None), 0);
    assert_eq!(notifications(&s).await["channelsCreated"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_resolved_from_push_without_a_read() {
    let s = sim(|c| c.rate_limit = 100_000).await;
    // The lookup comes 3 s after the unknown outcome, and nobody drives the
    // socket meanwhile: a watchdog shorter than that would drop it (and the
    // events queued on it) first, as Genesys' 65 s one never does.
    let (svc, _fleet) = edge(&s, Some(scaled(10_000)));
    let ip = "203.0.113.12";
    let number = "+13175552003";
    fault(
        &s,
        &format!(r#"{{"method":"POST","path":"{CREATE}*","when":"after","status":503}}"#),
    )
    .await;
    let body = format!(r#"{{"phoneNumber":"{number}"}}"#);
    let r = svc.handle(req(ip, "POST", "/v1/calls", &body)).await;
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (r.status, v["code"].as_str()),
        (202, Some("call_may_be_ringing")),
        "{}",
        r.body
    );
    let handle = v["handle"].as_str().unwrap();
    // The pending handle's stream: "pending" until the call is found, then the call.
    let r = svc
        .handle(req(ip, "GET", &format!("/v1/calls/{handle}/events"), ""))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (mut stream, mut cursor) = (r.stream.expect("a stream"), String::new());
    let mut statuses: Vec<Value> = Vec::new();
    for _ in 0..400 {
        let next = svc.next_event(&stream, &cursor).await;
        for event in next.chunk.split("\n\n").filter(|e| !e.is_empty()) {
            if field(event, "event") == Some("status") {
                statuses.push(serde_json::from_str(field(event, "data").unwrap()).unwrap());
            }
        }
        if next.done {
            break;
        }
        (stream, cursor) = (next.stream, next.cursor);
    }
    let end = statuses.last().expect("the call was found");
    assert_eq!(
        (
            end["phase"].as_str(),
            end["outcome"].as_str(),
            end["tracking"].as_str()
        ),
        (Some("ended"), Some("completed"), Some("push")),
        "{statuses:?}"
    );
    let l = log(&s).await;
    assert_eq!(count(&l, "POST", CREATE, None), 1, "one create-call POST");
    assert_eq!(
        count(&l, "POST", DETAILS_QUERY, None),
        0,
        "no read: the agent's events showed the call"
    );
}
