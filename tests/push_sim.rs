//! Push tracking for real: the client flow with a tokio-tungstenite socket
//! against genesys-sim's Notifications API over loopback. Every test number,
//! the event that beats the POST's answer, reconnects after each socket fault
//! (each followed by one reconcile read, no final state lost), the falls back
//! to polling, and 100 concurrent calls on one channel. "No polling while
//! healthy" is read from the simulator's request log.
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "support/host_socket.rs"]
mod host_socket;

use std::time::{Duration, Instant};

use common::*;
use genesys_click_to_call::auth::{ClientSecret, Credentials};
use genesys_click_to_call::call::{ConversationId, PlaceCall};
use genesys_click_to_call::flow::{ClientOptions, WaitFor};
use genesys_click_to_call::push::{PushOptions, Tracking};
use genesys_click_to_call::status::{Outcome, Phase};
use genesys_click_to_call::ErrorCode;
use genesys_sim::Running;
use host_socket::Tungstenite;
use serde_json::Value;

// ------------------------------------------------------------------ helpers

/// Push timings scaled like the simulator (time scale 0.02: a 600 ms heartbeat).
fn push_options(sim: &Running, creds: Credentials) -> ClientOptions {
    let mut o = options(sim, creds);
    o.push = PushOptions {
        verify_ms: 300,
        connect_timeout_ms: 2_000,
        retry_backoff_ms: 50,
        min_healthy_ms: 100,
        cooldown_ms: 60_000,
        ready_timeout_ms: 3_000,
        linger_ms: 2_000,
        ..PushOptions::default()
    }
    .with_heartbeat_timeout(1_500);
    o
}

fn push_client(o: ClientOptions) -> TestClient {
    client(o).with_websocket(Box::new(Tungstenite::default()))
}

/// A push client whose channel and socket are already up: one call followed
/// to its end, so a fault armed next hits a live socket.
async fn warm_push_client(s: &Running) -> TestClient {
    let c = push_client(push_options(s, edge_creds("sim-edge-secret")));
    let warm = c
        .place_call(&on_behalf("+13175550105", ADA), never())
        .await
        .unwrap();
    follow(&c, &warm).await;
    c
}

/// `GET /api/v2/conversations/{id}` (the SIP-cause read), not `…/calls/{id}`.
fn reason_reads(log: &[Value]) -> usize {
    log.iter()
        .filter(|e| {
            e["method"] == "GET"
                && e["path"]
                    .as_str()
                    .unwrap()
                    .strip_prefix("/api/v2/conversations/")
                    .is_some_and(|rest| !rest.starts_with("calls"))
        })
        .count()
}

fn reads_of(log: &[Value], id: &ConversationId) -> usize {
    log.iter()
        .filter(|e| e["method"] == "GET" && e["path"].as_str().unwrap().ends_with(id.as_str()))
        .count()
}

/// Waits for the call to end, recording (phase, tracking) of every update.
async fn follow(
    c: &TestClient,
    id: &ConversationId,
) -> (
    genesys_click_to_call::status::CallStatus,
    Tracking,
    Vec<(Phase, Tracking)>,
) {
    let mut seen = Vec::new();
    let (st, raw, tracking) = c
        .wait_for_call(
            id,
            UNTIL_ENDED,
            |s, raw, t| {
                assert!(raw.contains(id.as_str()));
                seen.push((s.phase, t));
            },
            never(),
        )
        .await
        .unwrap();
    assert!(raw.contains(id.as_str()));
    (st, tracking, seen)
}

// -------------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_test_number_is_followed_by_push_with_no_polling() {
    let s = sim(|_| {}).await;
    let mut o = push_options(&s, edge_creds("sim-edge-secret"));
    // Ada and Otto dial +13175550100 at once: two calls wanted here, where
    // the settle window's in-flight reservation would share one.
    o.settle_ms = 0;
    let c = push_client(o);
    let cases = TEST_NUMBERS;
    let runs = cases.iter().map(|(number, agent, _)| {
        let c = &c;
        async move {
            let id = c
                .place_call(&on_behalf(number, agent), never())
                .await
                .unwrap();
            let (st, tracking, seen) = follow(c, &id).await;
            (id, st, tracking, seen)
        }
    });
    let results = join_all(runs.collect()).await;
    let l = log(&s).await;
    for ((number, agent, want), (id, st, tracking, seen)) in cases.iter().zip(&results) {
        assert_eq!(st.outcome, Some(*want), "{number} via {agent}");
        assert_eq!(*tracking, Tracking::Push, "{number}");
        assert!(
            seen.iter().all(|(_, t)| *t == Tracking::Push),
            "{number}: {seen:?}"
        );
        assert!(
            seen.windows(2).all(|w| w[0].0 < w[1].0),
            "{number}: every update moves forward: {seen:?}"
        );
        if *want == Outcome::Completed {
            assert!(seen.iter().any(|(p, _)| *p == Phase::Connected), "{number}");
        }
        // No polling: placed while the channel was live, so not even a reconcile.
        assert_eq!(
            count(&l, "GET", &format!("{CALL_READ}{}", id.as_str()), None),
            0,
            "{number}: no GET /conversations/calls/{{id}}"
        );
        // Only an unanswered far end needs its SIP cause (busy vs no answer).
        let unanswered = matches!(want, Outcome::Busy | Outcome::NoAnswer | Outcome::Failed);
        assert_eq!(reads_of(&l, id), usize::from(unanswered), "{number}");
    }
    assert_eq!(count(&l, "POST", "/oauth/token", None), 1);
    assert_eq!(count(&l, "POST", "/api/v2/notifications/channels", None), 1);
    assert_eq!(l.iter().filter(|e| e["status"] == 429).count(), 0);
    let st = notifications(&s).await;
    assert_eq!(st["channelsCreated"], 1);
    assert_eq!(st["socketOpens"], 1, "one socket for every call");
    assert_eq!(
        st["channels"][0]["topics"],
        serde_json::json!([
            format!("v2.users.{ADA}.conversations.calls"),
            format!("v2.users.{OTTO}.conversations.calls")
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_that_beats_the_post_response_is_not_lost() {
    let s = sim(|_| {}).await;
    // Warm the channel up, then hold the create-call answer back 400 ms.
    let c = warm_push_client(&s).await;
    fault(
        &s,
        r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","when":"after","delayMs":400}"#,
    )
    .await;
    let id = c
        .place_call(&on_behalf("+13175550104", ADA), never())
        .await
        .unwrap();
    // The creation event (and, 20 ms of scenario later, the answer) came
    // over the socket before the POST returned; the hub kept them by id.
    let early = c.push_state().hub().known(id.as_str()).cloned();
    assert!(
        early.is_some(),
        "events before the POST's answer were buffered"
    );
    let mut phases = Vec::new();
    let (st, _, tracking) = c
        .wait_for_call(
            &id,
            WaitFor {
                until: Phase::Connected,
                timeout_ms: 5_000,
            },
            |s, _, _| phases.push(s.phase),
            never(),
        )
        .await
        .unwrap();
    assert_eq!((st.phase, tracking), (Phase::Connected, Tracking::Push));
    c.hang_up(&id, never()).await.unwrap();
    let (st, tracking, _) = follow(&c, &id).await;
    assert_eq!(
        (st.outcome, tracking),
        (Some(Outcome::Completed), Tracking::Push)
    );
    assert_eq!(reads_of(&log(&s).await, &id), 0, "no read at all");
}

/// Places `+13175550104` (answers, stays up) and waits until connected.
/// Then, while a wait for the end runs: the socket stalls, the call is hung
/// up (its end event is dropped: only a reconcile can learn it), and `fault`
/// hits the socket (none: the watchdog notices the stall). The wait must end
/// `completed`, by push, after exactly one reconcile read.
async fn survive(fault_spec: Option<&str>) -> (Value, Vec<Value>) {
    let s = sim(|_| {}).await;
    let mut o = push_options(&s, edge_creds("sim-edge-secret"));
    // With a fault to inject, the watchdog must not beat it to the reconnect.
    o.push = o
        .push
        .with_heartbeat_timeout(if fault_spec.is_some() { 10_000 } else { 800 });
    let c = push_client(o);
    let id = c
        .place_call(&on_behalf("+13175550104", ADA), never())
        .await
        .unwrap();
    let st = wait_until(&c, &id, Phase::Connected).await;
    assert_eq!(st.phase, Phase::Connected);
    let hang_up = client(options(&s, edge_creds("sim-edge-secret")));
    let chaos = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        notify_fault(&s, r#"{"fault":"stall","durationMs":60000}"#).await;
        hang_up.hang_up(&id, never()).await.unwrap();
        assert!(
            notifications(&s).await["eventsDropped"].as_u64().unwrap() >= 1,
            "the end event was lost with the stall"
        );
        if let Some(f) = fault_spec {
            notify_fault(&s, f).await;
        }
    };
    let ((st, tracking, seen), ()) = futures_util::future::join(follow(&c, &id), chaos).await;
    let what = fault_spec.unwrap_or("stall");
    assert_eq!(
        (st.phase, st.outcome),
        (Phase::Ended, Some(Outcome::Completed)),
        "{what}: the final state is not lost"
    );
    assert_eq!(tracking, Tracking::Push, "{what}: {seen:?}");
    let l = log(&s).await;
    assert_eq!(
        count(&l, "GET", &format!("{CALL_READ}{}", id.as_str()), None),
        1,
        "{what}: exactly one reconcile read"
    );
    (notifications(&s).await, l)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_closing_reconnects_to_the_same_channel_then_reconciles() {
    let (st, l) = survive(Some(r#"{"fault":"socket_closing"}"#)).await;
    assert_eq!(st["channelsCreated"], 1);
    assert_eq!(st["socketOpens"], 2, "{st}");
    assert_eq!(count(&l, "POST", "/api/v2/notifications/channels", None), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_socket_is_replaced_by_the_watchdog_and_nothing_is_lost() {
    let (st, _) = survive(None).await;
    assert_eq!(st["channelsCreated"], 1);
    assert_eq!(st["socketOpens"], 2, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abrupt_close_is_reconnected_then_reconciled() {
    let (st, _) = survive(Some(r#"{"fault":"abrupt_close"}"#)).await;
    assert_eq!(st["channelsCreated"], 1);
    assert_eq!(st["socketOpens"], 2, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_channel_is_replaced_then_reconciled() {
    let (st, l) = survive(Some(r#"{"fault":"expire"}"#)).await;
    assert_eq!(st["channelsCreated"], 2, "a new channel: {st}");
    assert_eq!(count(&l, "POST", "/api/v2/notifications/channels", None), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_events_never_move_a_call_backwards() {
    let s = sim(|_| {}).await;
    let c = warm_push_client(&s).await;
    notify_fault(
        &s,
        r#"[{"fault":"duplicate","count":10},{"fault":"reorder","count":2}]"#,
    )
    .await;
    let id = c
        .place_call(&on_behalf("+13175550100", ADA), never())
        .await
        .unwrap();
    let (st, _, seen) = follow(&c, &id).await;
    assert_eq!(st.outcome, Some(Outcome::Completed));
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "{seen:?}");
    let n = notifications(&s).await;
    assert!(n["eventsDuplicated"].as_u64().unwrap() >= 1, "{n}");
    assert!(n["eventsReordered"].as_u64().unwrap() >= 1, "{n}");
    assert_eq!(reads_of(&log(&s).await, &id), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_topic_falls_back_to_polling() {
    // sim-edge without the topic permission: it may dial, but its agent's
    // topic comes back Rejected.
    let s = sim(|c| {
        for client in &mut c.org.clients {
            client
                .permissions
                .retain(|p| p != "conversation:communication:view");
        }
    })
    .await;
    let c = push_client(push_options(&s, edge_creds("sim-edge-secret")));
    let id = c
        .place_call(&on_behalf("+13175550100", ADA), never())
        .await
        .unwrap();
    let (st, tracking, seen) = follow(&c, &id).await;
    assert_eq!(st.outcome, Some(Outcome::Completed));
    assert_eq!(tracking, Tracking::Poll);
    assert!(seen.iter().all(|(_, t)| *t == Tracking::Poll), "{seen:?}");
    let l = log(&s).await;
    assert!(
        count(&l, "GET", &format!("{CALL_READ}{}", id.as_str()), None) >= 2,
        "polled"
    );
    let put = l
        .iter()
        .find(|e| e["method"] == "PUT")
        .expect("a subscription was tried");
    assert_eq!(put["status"], 200, "ignoreErrors: Rejected in a 200");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_channel_and_no_websocket_both_poll() {
    let s = sim(|_| {}).await;
    fault(
        &s,
        r#"{"method":"POST","path":"/api/v2/notifications/channels","status":403,"code":"missing.permissions"}"#,
    )
    .await;
    let c = push_client(push_options(&s, edge_creds("sim-edge-secret")));
    let id = c
        .place_call(&on_behalf("+13175550100", ADA), never())
        .await
        .unwrap();
    let (st, tracking, _) = follow(&c, &id).await;
    assert_eq!(
        (st.outcome, tracking),
        (Some(Outcome::Completed), Tracking::Poll)
    );
    // The refusal is for good: the next call does not ask again.
    let id2 = c
        .place_call(&on_behalf("+13175550101", ADA), never())
        .await
        .unwrap();
    assert_eq!(follow(&c, &id2).await.1, Tracking::Poll);
    assert_eq!(
        count(
            &log(&s).await,
            "POST",
            "/api/v2/notifications/channels",
            None
        ),
        1
    );
    // No WebSocket at all (Node 20 without one given).
    let plain = client(push_options(&s, edge_creds("sim-edge-secret")));
    let id = plain
        .place_call(&on_behalf("+13175550100", ADA), never())
        .await
        .unwrap();
    let (st, tracking, _) = follow(&plain, &id).await;
    assert_eq!(
        (st.outcome, tracking),
        (Some(Outcome::Completed), Tracking::Poll)
    );
    assert_eq!(notifications(&s).await["channelsCreated"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_calls_share_one_channel_with_at_most_two_reads_each() {
    let s = sim(|_| {}).await;
    let mut o = push_options(&s, edge_creds("sim-edge-secret"));
    // 25 calls to the one busy number at once: with the settle window's
    // in-flight reservation they would share one call.
    o.settle_ms = 0;
    let c = push_client(o);
    let numbers: Vec<String> = (0..100)
        .map(|i| match i % 4 {
            0 => "+13175550101".to_string(), // busy: one SIP-cause read
            _ => format!("+1317555{:04}", 2000 + i),
        })
        .collect();
    let runs = numbers.iter().map(|n| {
        let (c, s) = (&c, &s);
        async move {
            let id = c.place_call(&on_behalf(n, ADA), never()).await.unwrap();
            let mut seen = Vec::new();
            let r = c
                .wait_for_call(&id, UNTIL_ENDED, |s, _, t| seen.push((s.phase, t)), never())
                .await;
            if let Err(e) = &r {
                let st = notifications(s).await;
                panic!(
                    "{n} {}: {e} {seen:?} {:?} sent {} dropped {} dup {} reord {}",
                    id.as_str(),
                    c.push_state()
                        .hub()
                        .known(id.as_str())
                        .map(|k| k.status.phase),
                    st["eventsSent"],
                    st["eventsDropped"],
                    st["eventsDuplicated"],
                    st["eventsReordered"]
                );
            }
            let (st, _, tracking) = r.unwrap();
            (id, st, tracking)
        }
    });
    let results = join_all(runs.collect()).await;
    let l = log(&s).await;
    for (n, (id, st, tracking)) in numbers.iter().zip(&results) {
        let want = if n == "+13175550101" {
            Outcome::Busy
        } else {
            Outcome::Completed
        };
        assert_eq!((st.outcome, *tracking), (Some(want), Tracking::Push), "{n}");
        assert!(reads_of(&l, id) <= 2, "{n}: {} reads", reads_of(&l, id));
    }
    assert_eq!(count(&l, "GET", CALL_READ, None), 0, "no polling");
    assert_eq!(reason_reads(&l), 25, "one SIP-cause read per busy call");
    assert_eq!(count(&l, "POST", "/oauth/token", None), 1);
    assert_eq!(l.iter().filter(|e| e["status"] == 429).count(), 0);
    let st = notifications(&s).await;
    eprintln!(
        "STATS sent {} dropped {}",
        st["eventsSent"], st["eventsDropped"]
    );
    assert_eq!(st["channelsCreated"], 1);
    assert_eq!(st["socketOpens"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_placed_elsewhere_is_followed_after_learning_its_agent() {
    let s = sim(|_| {}).await;
    let elsewhere = client(options(&s, edge_creds("sim-edge-secret")));
    let id = elsewhere
        .place_call(&on_behalf("+13175550100", ADA), never())
        .await
        .unwrap();
    let c = push_client(push_options(&s, edge_creds("sim-edge-secret")));
    let (st, tracking, seen) = follow(&c, &id).await;
    assert_eq!(
        (st.outcome, tracking),
        (Some(Outcome::Completed), Tracking::Push)
    );
    assert!(seen.iter().any(|(p, _)| *p == Phase::Connected), "{seen:?}");
    assert_eq!(
        count(
            &log(&s).await,
            "GET",
            &format!("{CALL_READ}{}", id.as_str()),
            None
        ),
        2,
        "one read to learn the agent, one reconcile once subscribed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_agent_subscribes_their_own_topic_via_users_me() {
    let s = sim(|_| {}).await;
    let token = user_token(&s, ADA).await;
    let c = push_client(push_options(&s, Credentials::AccessToken(token)));
    for number in ["+13175550100", "+13175550101"] {
        let call = PlaceCall::new(genesys_click_to_call::call::E164::parse(number, "p").unwrap());
        let id = c.place_call(&call, never()).await.unwrap();
        let (_, tracking, _) = follow(&c, &id).await;
        assert_eq!(tracking, Tracking::Push);
        assert_eq!(
            count(
                &log(&s).await,
                "GET",
                &format!("{CALL_READ}{}", id.as_str()),
                None
            ),
            0
        );
    }
    assert_eq!(
        count(&log(&s).await, "GET", "/api/v2/users/me", None),
        1,
        "once per client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_ends_at_its_timeout_even_with_a_request_in_flight() {
    let s = sim(|_| {}).await;
    let mut o = options(&s, edge_creds("sim-edge-secret"));
    o.request_timeout_ms = 10_000;
    let c = client(o);
    let id = c
        .place_call(&on_behalf("+13175550104", ADA), never())
        .await
        .unwrap();
    fault(
        &s,
        r#"{"method":"GET","path":"/api/v2/conversations/calls/*","delayMs":3000}"#,
    )
    .await;
    let t0 = Instant::now();
    let e = c
        .wait_for_call(
            &id,
            WaitFor {
                until: Phase::Ended,
                timeout_ms: 400,
            },
            |_, _, _| {},
            never(),
        )
        .await
        .unwrap_err();
    let took = t0.elapsed();
    assert_eq!(e.code, ErrorCode::Timeout);
    assert!(e.message.contains("last phase: none yet"), "{}", e.message);
    assert!(
        took < Duration::from_millis(400 + 250),
        "timeoutMs honoured within 250 ms: {took:?}"
    );
    c.hang_up(&id, never()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_malformed_answer_is_retried_two_are_an_error() {
    let s = sim(|_| {}).await;
    let c = client(options(&s, edge_creds("sim-edge-secret")));
    for (n, ok) in [(1, true), (2, false)] {
        let id = c
            .place_call(&on_behalf("+13175550100", ADA), never())
            .await
            .unwrap();
        fault(
            &s,
            &format!(
                r#"{{"method":"GET","path":"/api/v2/conversations/calls/*","malformed":true,"count":{n}}}"#
            ),
        )
        .await;
        let r = c
            .wait_for_call(&id, UNTIL_ENDED, |_, _, _| {}, never())
            .await;
        match ok {
            true => assert_eq!(r.unwrap().0.outcome, Some(Outcome::Completed)),
            false => assert_eq!(r.unwrap_err().code, ErrorCode::BadResponse),
        }
    }
}

#[allow(dead_code)]
fn readonly() -> Credentials {
    Credentials::ClientCredentials {
        client_id: "sim-readonly".into(),
        client_secret: ClientSecret::new("sim-readonly-secret".into()),
    }
}

// ------------------------------------------------- issue #15: the settle window

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_resolved_from_the_agents_events_without_a_read() {
    let s = sim(|_| {}).await;
    let mut o = push_options(&s, edge_creds("sim-edge-secret"));
    o.request_timeout_ms = 400;
    for (i, spec) in AFTER_THE_POST.iter().enumerate() {
        let clock = WallClock::default();
        let c = genesys_click_to_call::flow::Client::new(Reqwest(reqwest()), clock, o.clone())
            .with_websocket(Box::new(Tungstenite::default()));
        let number = format!("+1317555040{i}");
        let call = on_behalf(&number, ADA);
        fault_after_create(&s, spec).await;
        let e = c.place_call(&call, never()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::OutcomeUnknown, "{spec}: {e}");
        let id = c.place_call(&call, never()).await.unwrap();
        // The call found is followed like any other: by push, to its end.
        let (st, raw, tracking) = c
            .wait_for_call(&id, UNTIL_ENDED, |_, _, _| {}, never())
            .await
            .unwrap();
        assert_eq!(
            (st.outcome, tracking),
            (Some(Outcome::Completed), Tracking::Push),
            "{spec}"
        );
        assert!(raw.contains(&number), "{spec}: {raw}");
        let l = log(&s).await;
        let posts = l
            .iter()
            .filter(|e| e["method"] == "POST" && e["phoneNumber"] == number.as_str())
            .count();
        assert_eq!(posts, 1, "{spec}: one create-call POST");
        assert_eq!(
            count(&l, "POST", DETAILS_QUERY, None),
            0,
            "{spec}: no read: the agent's events showed the call"
        );
    }
}
