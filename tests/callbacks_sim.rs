//! Queue callbacks and estimated wait through the real client flow, against
//! genesys-sim over loopback: its request log proves one create POST per
//! schedule, and its `callback.dialled` events prove when a callback was (or
//! was never) dialled. Scheduled times run at the sim's `--time-scale` (0.02
//! here: "+60 s" is dialled 1.2 s after the create).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::{Duration, Instant};

use common::*;
use genesys_click_to_call::auth::{ClientSecret, Credentials};
use genesys_click_to_call::call::{ConversationId, EntityId, E164};
use genesys_click_to_call::callback::{
    CallbackPhase, CallbackStatus, CallbackTime, ScheduleCallback, WaitMedia,
};
use genesys_click_to_call::status::Outcome;
use genesys_click_to_call::ErrorCode;
use genesys_sim::Running;
use serde_json::{json, Value};

const SUPPORT: &str = "5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70";
const CALLBACKS: &str = "/api/v2/conversations/callbacks";

fn in_secs(secs: i64) -> CallbackTime {
    let t = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap();
    CallbackTime::from_timestamp(t)
}

fn callback(number: &str, at: Option<CallbackTime>) -> ScheduleCallback {
    let mut cb = ScheduleCallback::new(
        E164::parse(number, "phoneNumber").unwrap(),
        EntityId::parse(SUPPORT, "queueId").unwrap(),
    );
    cb.at = at;
    cb
}

async fn reset(s: &Running) {
    reqwest()
        .post(format!("{}/__sim/reset", s.url()))
        .send()
        .await
        .unwrap();
}

/// The sim's `callback.dialled` events for conversation `id`.
async fn dialled(s: &Running, id: &ConversationId) -> Vec<Value> {
    log(s)
        .await
        .into_iter()
        .filter(|e| e["event"] == "callback.dialled" && e["conversationId"] == id.as_str())
        .collect()
}

async fn wait_dialled(s: &Running, id: &ConversationId, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(e) = dialled(s, id).await.pop() {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "{} was never dialled",
            id.as_str()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the callback until it ends, returning every distinct phase seen and the last status.
async fn follow(c: &TestClient, id: &ConversationId) -> (Vec<CallbackPhase>, CallbackStatus) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut phases: Vec<CallbackPhase> = Vec::new();
    loop {
        let (st, raw) = c.get_callback(id).await.unwrap();
        assert!(raw.contains(id.as_str()));
        if phases.last() != Some(&st.phase) {
            phases.push(st.phase);
        }
        if st.phase == CallbackPhase::Ended {
            return (phases, st);
        }
        assert!(Instant::now() < deadline, "still {:?}", st.phase);
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

fn edge_client(s: &Running) -> TestClient {
    client(options(s, edge_creds("sim-edge-secret")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_callback_is_dialled_at_its_time_and_completes() {
    let s = sim(|_| {}).await;
    let c = edge_client(&s);
    let at = in_secs(60);
    let mut cb = callback("+13175550100", Some(at.clone()));
    cb.name = Some("Grace".into());
    cb.data.insert("orderId".into(), "A-17".into());
    let placed = c.schedule_callback(&cb, never()).await.unwrap();
    assert_eq!(placed.conversation_id.as_str().len(), 36);
    assert!(placed.callback_id.is_some());

    let l = log(&s).await;
    let creates: Vec<&Value> = l
        .iter()
        .filter(|e| e["method"] == "POST" && e["path"] == CALLBACKS)
        .collect();
    assert_eq!(creates.len(), 1, "one create POST");
    assert_eq!(
        creates[0]["conversationId"],
        placed.conversation_id.as_str()
    );
    assert_eq!(creates[0]["phoneNumber"], "+13175550100");
    // The sim writes the time back as it parsed it (whole seconds kept).
    assert_eq!(
        creates[0]["callbackScheduledTime"].as_str().unwrap()[..19],
        at.as_str()[..19]
    );

    let (st, raw) = c.get_callback(&placed.conversation_id).await.unwrap();
    assert_eq!((st.phase, st.in_queue), (CallbackPhase::Scheduled, false));
    assert_eq!(
        st.scheduled_time.as_deref().map(|t| &t[..19]),
        Some(&at.as_str()[..19])
    );
    // The name and data reached Genesys (they are in the raw conversation).
    let raw: Value = serde_json::from_str(&raw).unwrap();
    let customer = &raw["participants"][0];
    assert_eq!(customer["callbacks"][0]["callbackUserName"], "Grace");
    assert_eq!(
        customer["callbacks"][0]["callbackNumbers"],
        json!(["+13175550100"])
    );
    assert_eq!(customer["attributes"], json!({"orderId": "A-17"}));
    assert_eq!(customer["queueId"], SUPPORT);
    assert!(dialled(&s, &placed.conversation_id).await.is_empty());

    let (phases, done) = follow(&c, &placed.conversation_id).await;
    assert_eq!(done.outcome, Some(Outcome::Completed));
    assert_eq!(
        phases,
        [
            CallbackPhase::Scheduled,
            CallbackPhase::Dialing,
            CallbackPhase::Connected,
            CallbackPhase::Ended
        ],
        "phases in order"
    );
    assert_eq!(done.agent.as_ref().unwrap().user_id.as_deref(), Some(ADA));
    assert_eq!(
        done.customer.as_ref().unwrap().address.as_deref(),
        Some("tel:+13175550100")
    );
    // Dialled at its (scaled) time: 60 s × 0.02 = 1.2 s after the create.
    let dial = wait_dialled(&s, &placed.conversation_id, 1).await;
    let waited = dial["elapsedMs"].as_u64().unwrap() - creates[0]["elapsedMs"].as_u64().unwrap();
    assert!(
        (1_100..4_000).contains(&waited),
        "dialled after {waited} ms"
    );
    assert_eq!(
        dialled(&s, &placed.conversation_id).await.len(),
        1,
        "dialled once"
    );
    assert_eq!(count(&log(&s).await, "POST", CALLBACKS, None), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_soon_as_possible_callbacks_reach_the_call_outcomes() {
    let s = sim(|_| {}).await;
    let c = edge_client(&s);
    // One at a time: Ada, the one idle agent, takes them in turn.
    for (number, want) in [
        ("+13175550101", Outcome::Busy),
        ("+13175550102", Outcome::NoAnswer),
        ("+13175550103", Outcome::Failed),
    ] {
        let placed = c
            .schedule_callback(&callback(number, None), never())
            .await
            .unwrap();
        let (_, st) = follow(&c, &placed.conversation_id).await;
        assert_eq!(st.outcome, Some(want), "{number}");
        assert_eq!(
            dialled(&s, &placed.conversation_id).await.len(),
            1,
            "{number}"
        );
    }
    let l = log(&s).await;
    let create = l
        .iter()
        .find(|e| e["method"] == "POST" && e["path"] == CALLBACKS)
        .unwrap();
    assert!(
        create.get("callbackScheduledTime").is_some(),
        "the sim fills in now"
    );
    assert_eq!(count(&l, "POST", CALLBACKS, None), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_before_the_time_means_never_dialled() {
    let s = sim(|_| {}).await;
    let c = edge_client(&s);
    let at = in_secs(60);
    let doomed = c
        .schedule_callback(&callback("+13175550100", Some(at.clone())), never())
        .await
        .unwrap();
    c.cancel_callback(&doomed.conversation_id, never())
        .await
        .unwrap();
    let (st, _) = c.get_callback(&doomed.conversation_id).await.unwrap();
    assert_eq!(
        (st.phase, st.outcome),
        (CallbackPhase::Ended, Some(Outcome::Canceled))
    );
    // Idempotent: a second cancel is fine.
    c.cancel_callback(&doomed.conversation_id, never())
        .await
        .unwrap();
    // A control due at the same moment proves the time passed: it is dialled, the cancelled one is not.
    let control = c
        .schedule_callback(&callback("+13175550100", Some(at)), never())
        .await
        .unwrap();
    wait_dialled(&s, &control.conversation_id, 6).await;
    assert!(
        dialled(&s, &doomed.conversation_id).await.is_empty(),
        "cancelled, yet dialled"
    );
    let l = log(&s).await;
    assert_eq!(
        count(
            &l,
            "PATCH",
            &format!("{CALLBACKS}/{}", doomed.conversation_id.as_str()),
            Some(200)
        ),
        2
    );
    assert_eq!(
        c.get_callback(&doomed.conversation_id)
            .await
            .unwrap()
            .0
            .outcome,
        Some(Outcome::Canceled)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_dialled_callback_hangs_up_its_call() {
    let s = sim(|_| {}).await;
    let c = edge_client(&s);
    // +13175550104 answers and stays connected until hung up.
    let placed = c
        .schedule_callback(&callback("+13175550104", None), never())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while c
        .get_callback(&placed.conversation_id)
        .await
        .unwrap()
        .0
        .phase
        != CallbackPhase::Connected
    {
        assert!(Instant::now() < deadline, "never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.cancel_callback(&placed.conversation_id, never())
        .await
        .unwrap();
    let (_, st) = follow(&c, &placed.conversation_id).await;
    assert_eq!(
        st.outcome,
        Some(Outcome::Completed),
        "it was answered before the hang-up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_tolerates_a_refusal_for_a_callback_already_over() {
    let s = sim(|_| {}).await;
    let c = edge_client(&s);
    let placed = c
        .schedule_callback(&callback("+13175550100", Some(in_secs(600))), never())
        .await
        .unwrap();
    let id = &placed.conversation_id;
    // A pending callback whose cancel is refused: the refusal stands.
    fault(
        &s,
        r#"{"method":"PATCH","path":"/api/v2/conversations/callbacks/*","status":409,"count":1}"#,
    )
    .await;
    let e = c.cancel_callback(id, never()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
    assert_eq!(
        c.get_callback(id).await.unwrap().0.phase,
        CallbackPhase::Scheduled
    );
    // Once it is over, a refused cancel still succeeds: what was asked for holds.
    c.cancel_callback(id, never()).await.unwrap();
    fault(
        &s,
        r#"{"method":"PATCH","path":"/api/v2/conversations/callbacks/*","status":400,"count":1}"#,
    )
    .await;
    c.cancel_callback(id, never()).await.unwrap();
    // A bad id is refused before any request.
    assert!(EntityId::parse("../x", "conversationId").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reschedule_moves_the_dial_time_both_ways() {
    let s = sim(|_| {}).await;
    let c = edge_client(&s);
    // Earlier: from +600 s (12 s here) to +5 s (0.1 s).
    let early = c
        .schedule_callback(&callback("+13175550101", Some(in_secs(600))), never())
        .await
        .unwrap();
    let moved = c
        .reschedule_callback(&early.conversation_id, &in_secs(5), None, never())
        .await
        .unwrap();
    assert_eq!(moved.conversation_id, early.conversation_id);
    assert_eq!(moved.callback_id, early.callback_id);
    wait_dialled(&s, &early.conversation_id, 3).await;
    // Once dialled it cannot move; Genesys says why.
    let e = c
        .reschedule_callback(&early.conversation_id, &in_secs(60), None, never())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(e.message.contains("cannot be rescheduled"), "{}", e.message);

    // Later: from +25 s (0.5 s) to +150 s (3 s). A control at +40 s (0.8 s)
    // goes first; were the old time still live, `late` would go before it.
    let late = c
        .schedule_callback(&callback("+13175550101", Some(in_secs(25))), never())
        .await
        .unwrap();
    c.reschedule_callback(&late.conversation_id, &in_secs(150), None, never())
        .await
        .unwrap();
    let control = c
        .schedule_callback(&callback("+13175550101", Some(in_secs(40))), never())
        .await
        .unwrap();
    wait_dialled(&s, &control.conversation_id, 4).await;
    assert!(
        dialled(&s, &late.conversation_id).await.is_empty(),
        "moved later, not yet dialled"
    );
    let (st, _) = c.get_callback(&late.conversation_id).await.unwrap();
    assert_eq!(st.phase, CallbackPhase::Scheduled);
    wait_dialled(&s, &late.conversation_id, 8).await;
    let l = log(&s).await;
    let patches: Vec<&Value> = l
        .iter()
        .filter(|e| e["method"] == "PATCH" && e["path"] == CALLBACKS)
        .collect();
    assert_eq!(patches.len(), 3);
    assert!(
        patches.iter().all(|p| p.get("agentId").is_none()),
        "no agentId unless asked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimated_wait_passes_through() {
    let s = sim(|_| {}).await;
    let c = edge_client(&s);
    let support = EntityId::parse(SUPPORT, "queueId").unwrap();
    assert_eq!(
        c.estimated_wait(&support, WaitMedia::Callback)
            .await
            .unwrap(),
        Some(90)
    );
    let set = |v: Value| {
        let url = format!("{}/__sim/queues/{SUPPORT}", s.url());
        async move {
            let r = reqwest()
                .post(url)
                .body(v.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    set(json!({"estimatedWaitSeconds": 30})).await;
    assert_eq!(
        c.estimated_wait(&support, WaitMedia::Callback)
            .await
            .unwrap(),
        Some(30)
    );
    assert_eq!(
        c.estimated_wait(&support, WaitMedia::Call).await.unwrap(),
        Some(30)
    );
    set(json!({"estimatedWaitSeconds": null})).await;
    assert_eq!(
        c.estimated_wait(&support, WaitMedia::Callback)
            .await
            .unwrap(),
        None
    );
    let l = log(&s).await;
    assert_eq!(
        count(
            &l,
            "GET",
            &format!("/api/v2/routing/queues/{SUPPORT}/mediatypes/callback/estimatedwaittime"),
            Some(200)
        ),
        3
    );
    assert_eq!(
        count(
            &l,
            "GET",
            &format!("/api/v2/routing/queues/{SUPPORT}/mediatypes/call/estimatedwaittime"),
            Some(200)
        ),
        1
    );
    let unknown = EntityId::parse("5f1c0a2e-0000-4c7e-9a1f-2b3c4d5e6f70", "queueId").unwrap();
    assert_eq!(
        c.estimated_wait(&unknown, WaitMedia::Callback)
            .await
            .unwrap_err()
            .code,
        ErrorCode::NotFound
    );
    let ro = client(options(
        &s,
        Credentials::ClientCredentials {
            client_id: "sim-readonly".into(),
            client_secret: ClientSecret::new("sim-readonly-secret".into()),
        },
    ));
    assert_eq!(
        ro.estimated_wait(&support, WaitMedia::Callback)
            .await
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_may_have_acted_is_outcome_unknown_and_never_sent_twice() {
    let s = sim(|_| {}).await;
    let mut o = options(&s, edge_creds("sim-edge-secret"));
    o.request_timeout_ms = 400;
    let c = client(o);
    for spec in [
        r#"{"method":"POST","path":"/api/v2/conversations/callbacks","when":"after","status":503}"#,
        r#"{"method":"POST","path":"/api/v2/conversations/callbacks","when":"after","status":500}"#,
        r#"{"method":"POST","path":"/api/v2/conversations/callbacks","when":"after","drop":true}"#,
        r#"{"method":"POST","path":"/api/v2/conversations/callbacks","when":"after","delayMs":1500}"#,
        r#"{"method":"POST","path":"/api/v2/conversations/callbacks","when":"after","malformed":true}"#,
    ] {
        reset(&s).await;
        fault(&s, spec).await;
        let e = c
            .schedule_callback(&callback("+13175550100", None), never())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::OutcomeUnknown, "{spec}: {e}");
        assert!(
            e.message.contains("before scheduling again"),
            "{}",
            e.message
        );
        tokio::time::sleep(Duration::from_millis(1_600)).await;
        let l = log(&s).await;
        assert_eq!(
            count(&l, "POST", CALLBACKS, None),
            1,
            "{spec}: exactly one create POST"
        );
        // Genesys did act: the one callback was dialled, once.
        assert_eq!(
            l.iter()
                .filter(|e| e["event"] == "callback.dialled")
                .count(),
            1,
            "{spec}"
        );
    }

    // A 429 before acting is retried after Retry-After: one callback, two POSTs.
    reset(&s).await;
    fault(
        &s,
        r#"{"method":"POST","path":"/api/v2/conversations/callbacks","status":429,"retryAfter":1}"#,
    )
    .await;
    let t0 = Instant::now();
    let placed = c
        .schedule_callback(&callback("+13175550100", None), never())
        .await
        .unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(1_000),
        "waited Retry-After"
    );
    let l = log(&s).await;
    assert_eq!(
        (
            count(&l, "POST", CALLBACKS, Some(429)),
            count(&l, "POST", CALLBACKS, Some(200))
        ),
        (1, 1)
    );
    wait_dialled(&s, &placed.conversation_id, 3).await;

    // Aborted: before sending, nothing happened; while in flight, it may have.
    reset(&s).await;
    let e = c
        .schedule_callback(&callback("+13175550100", None), std::future::ready(()))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Aborted);
    fault(
        &s,
        r#"{"method":"POST","path":"/api/v2/conversations/callbacks","delayMs":300}"#,
    )
    .await;
    let e = c
        .schedule_callback(
            &callback("+13175550100", None),
            tokio::time::sleep(Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OutcomeUnknown);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(count(&log(&s).await, "POST", CALLBACKS, None), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesys_refusals_are_clear_and_schedule_nothing() {
    let s = sim(|_| {}).await;
    let c = edge_client(&s);
    let mut bad_queue = callback("+13175550100", None);
    bad_queue.queue_id =
        EntityId::parse("5f1c0a2e-0000-4c7e-9a1f-2b3c4d5e6f70", "queueId").unwrap();
    let e = c.schedule_callback(&bad_queue, never()).await.unwrap_err();
    assert_eq!((e.code, e.status), (ErrorCode::InvalidInput, Some(400)));
    assert!(e.message.contains("does not exist"), "{}", e.message);
    assert!(e.context_id.is_some());
    let ro = client(options(
        &s,
        Credentials::ClientCredentials {
            client_id: "sim-readonly".into(),
            client_secret: ClientSecret::new("sim-readonly-secret".into()),
        },
    ));
    let e = ro
        .schedule_callback(&callback("+13175550100", None), never())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert!(
        e.message.contains("conversation:callback:create"),
        "{}",
        e.message
    );
    let missing = EntityId::parse("0b5e2f7a-0000-4e8f-9a3b-2c4d6e8f0a01", "id").unwrap();
    assert_eq!(
        c.get_callback(&missing).await.unwrap_err().code,
        ErrorCode::NotFound
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        log(&s)
            .await
            .iter()
            .filter(|e| e["event"] == "callback.dialled")
            .count(),
        0
    );
}
