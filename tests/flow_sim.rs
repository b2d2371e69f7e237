//! The real client flow (token → create → wait) against genesys-sim over
//! loopback HTTP: every test number, both modes, token renewal, 429s, faults
//! after the create-call POST, concurrency and the per-token budget.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::{Duration, Instant};

use common::*;
use genesys_click_to_call::auth::{ClientSecret, Credentials};
use genesys_click_to_call::call::{PlaceCall, E164};
use genesys_click_to_call::flow::agent::AgentCallOptions;
use genesys_click_to_call::flow::{exchange_code, Client, ClientOptions, WaitFor};
use genesys_click_to_call::region::Endpoints;
use genesys_click_to_call::settle::SETTLE_MS;
use genesys_click_to_call::status::{Outcome, Phase, Role};
use genesys_click_to_call::ErrorCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_test_number_reaches_its_outcome() {
    // Scenario time runs 50x fast; scale the per-token budget with it so polls
    // are as fine-grained relative to the calls as 300/min is in real time.
    let s = sim(|c| c.rate_limit = 15_000).await;
    let mut o = options(&s, edge_creds("sim-edge-secret"));
    o.requests_per_minute = 15_000;
    // Ada and Otto dial +13175550100 at once: two calls wanted here, where
    // the settle window's in-flight reservation would share one.
    o.settle_ms = 0;
    let c = client(o);
    let cases = TEST_NUMBERS;
    let runs = cases.iter().map(|(number, agent, _)| {
        let c = &c;
        async move {
            let id = c
                .place_call(&on_behalf(number, agent), never())
                .await
                .unwrap();
            let mut phases = Vec::new();
            let st = c
                .wait_for_call(
                    &id,
                    UNTIL_ENDED,
                    |s, raw, _| {
                        assert!(raw.contains(id.as_str()));
                        phases.push(s.phase);
                    },
                    never(),
                )
                .await
                .unwrap()
                .0;
            (st, phases)
        }
    });
    for ((number, agent, want), (st, phases)) in cases.iter().zip(join_all(runs.collect()).await) {
        assert_eq!(st.phase, Phase::Ended, "{number}");
        assert_eq!(st.outcome, Some(*want), "{number} via {agent}");
        assert!(
            phases.windows(2).all(|w| w[0] <= w[1]),
            "{number}: phases go forward: {phases:?}"
        );
        if *want == Outcome::Completed {
            assert!(phases.contains(&Phase::Connected), "{number}: {phases:?}");
        }
    }
    let l = log(&s).await;
    assert_eq!(
        count(&l, "POST", "/oauth/token", None),
        1,
        "one token for everything"
    );
    assert_eq!(count(&l, "POST", CREATE, None), cases.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_call_is_hung_up_through_the_api() {
    let s = sim(|_| {}).await;
    let c = client(options(&s, edge_creds("sim-edge-secret")));
    let id = c
        .place_call(&on_behalf("+13175550104", ADA), never())
        .await
        .unwrap();
    let st = wait_until(&c, &id, Phase::Connected).await;
    assert_eq!(st.phase, Phase::Connected);
    c.hang_up(&id, never()).await.unwrap();
    let (st, _) = c.get_call(&id).await.unwrap();
    assert_eq!(
        (st.phase, st.outcome),
        (Phase::Ended, Some(Outcome::Completed))
    );
    // Hanging up while the far end still rings is a cancellation.
    let id = c
        .place_call(&on_behalf("+13175550102", ADA), never())
        .await
        .unwrap();
    let ringing = wait_until(&c, &id, Phase::Dialing).await;
    assert_eq!(ringing.phase, Phase::Dialing);
    c.hang_up(&id, never()).await.unwrap();
    assert_eq!(
        c.get_call(&id).await.unwrap().0.outcome,
        Some(Outcome::Canceled)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_signed_in_with_pkce_dials_with_their_own_token() {
    let s = sim(|_| {}).await;
    let endpoints = Endpoints::custom(&s.url(), &s.url()).unwrap();
    let verifier = genesys_click_to_call::pkce::verifier_from_random(&[7; 96]);
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()).into();
    let challenge = genesys_click_to_call::pkce::challenge_from_digest(&digest);
    let redirect = "http://127.0.0.1:8080/agent.html";
    let url = genesys_click_to_call::pkce::authorize_url(
        &endpoints,
        &genesys_click_to_call::pkce::LoginRequest {
            client_id: "sim-browser",
            redirect_uri: redirect,
            challenge: &challenge,
            state: "s1",
        },
    );
    // The sign-in page's form posts the same parameters plus the chosen agent.
    let query = url.split_once('?').unwrap().1;
    let resp = reqwest()
        .post(format!("{}/oauth/authorize", s.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{query}&userId={ADA}"))
        .send()
        .await
        .unwrap();
    let callback = resp.headers()["location"].to_str().unwrap().to_string();
    let code = genesys_click_to_call::pkce::code_from_callback(&callback, "s1").unwrap();
    let token = exchange_code(
        &Reqwest(reqwest()),
        &endpoints,
        "sim-browser",
        redirect,
        &code,
        &verifier,
        5_000,
    )
    .await
    .unwrap();

    let c = client(options(&s, Credentials::AccessToken(token.access_token)));
    let call = PlaceCall::new(E164::parse("+13175550100", "phoneNumber").unwrap());
    let id = c.place_call(&call, never()).await.unwrap();
    assert_eq!(
        c.wait_for_call(&id, UNTIL_ENDED, |_, _, _| {}, never())
            .await
            .unwrap()
            .0
            .outcome,
        Some(Outcome::Completed)
    );
    assert_eq!(
        count(
            &log(&s).await,
            "POST",
            "/api/v2/conversations/calls",
            Some(200)
        ),
        1
    );
    // A reused code is refused.
    let again = exchange_code(
        &Reqwest(reqwest()),
        &endpoints,
        "sim-browser",
        redirect,
        &code,
        &verifier,
        5_000,
    )
    .await
    .unwrap_err();
    assert_eq!(again.code, ErrorCode::AuthFailed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_without_a_user_gets_a_clear_error_and_no_call() {
    let s = sim(|_| {}).await;
    let c = client(options(&s, edge_creds("sim-edge-secret")));
    let e = c
        .place_call(
            &PlaceCall::new(E164::parse("+13175550100", "p").unwrap()),
            never(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::UserContextRequired);
    assert!(e.message.contains("onBehalfOfUserId"));
    assert_eq!(e.status, Some(400));
    assert!(e.context_id.is_some());
    let bad = client(options(&s, edge_creds("wrong")));
    assert_eq!(
        bad.place_call(&on_behalf("+13175550100", ADA), never())
            .await
            .unwrap_err()
            .code,
        ErrorCode::AuthFailed
    );
    let ro = client(options(
        &s,
        Credentials::ClientCredentials {
            client_id: "sim-readonly".into(),
            client_secret: ClientSecret::new("sim-readonly-secret".into()),
        },
    ));
    assert_eq!(
        ro.place_call(&on_behalf("+13175550100", ADA), never())
            .await
            .unwrap_err()
            .code,
        ErrorCode::Forbidden
    );
    assert_eq!(
        count(
            &log(&s).await,
            "POST",
            "/api/v2/conversations/calls",
            Some(200)
        ),
        0,
        "nothing was dialled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_renewed_before_expiry_and_after_a_401() {
    let s = sim(|c| c.token_ttl = Duration::from_secs(2)).await;
    let c = client(options(&s, edge_creds("sim-edge-secret")));
    let id = c
        .place_call(&on_behalf("+13175550104", ADA), never())
        .await
        .unwrap();
    // Keep reading past the token's lifetime: the client renews early, so no 401.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(2_600) {
        c.get_call(&id).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let l = log(&s).await;
    assert_eq!(count(&l, "POST", "/oauth/token", None), 2, "renewed once");
    assert!(l.iter().all(|e| e["status"] != 401));
    // A 401 on a cached token: fetch a new token once, retry once.
    fault(&s, r#"{"method":"GET","path":"/api/v2/conversations/calls/*","status":401,"code":"bad.credentials"}"#).await;
    c.get_call(&id).await.unwrap();
    assert_eq!(count(&log(&s).await, "POST", "/oauth/token", None), 3);
    c.hang_up(&id, never()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_call_429_waits_retry_after_then_dials_once() {
    let s = sim(|_| {}).await;
    let c = client(options(&s, edge_creds("sim-edge-secret")));
    fault(&s, r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","status":429,"retryAfter":1}"#).await;
    let t0 = Instant::now();
    c.place_call(&on_behalf("+13175550100", ADA), never())
        .await
        .unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(1_000),
        "waited Retry-After"
    );
    let l = log(&s).await;
    assert_eq!(
        (
            count(&l, "POST", CREATE, Some(429)),
            count(&l, "POST", CREATE, Some(200))
        ),
        (1, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_after_the_post_reached_genesys_are_outcome_unknown_and_never_redialled() {
    let s = sim(|_| {}).await;
    let mut o = options(&s, edge_creds("sim-edge-secret"));
    o.request_timeout_ms = 400;
    for spec in [
        r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","when":"after","status":503}"#,
        r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","when":"after","status":500}"#,
        r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","when":"after","drop":true}"#,
        r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","when":"after","delayMs":1500}"#,
        r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","when":"after","malformed":true}"#,
    ] {
        reqwest()
            .post(format!("{}/__sim/reset", s.url()))
            .send()
            .await
            .unwrap();
        fault(&s, spec).await;
        // A client of its own per fault: one client would not dial the
        // number again within the settle window (see the tests below).
        let c = client(o.clone());
        let e = c
            .place_call(&on_behalf("+13175550100", ADA), never())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::OutcomeUnknown, "{spec}: {e}");
        assert!(e.message.contains("before dialling again"), "{}", e.message);
        tokio::time::sleep(Duration::from_millis(1_600)).await;
        assert_eq!(
            count(&log(&s).await, "POST", CREATE, None),
            1,
            "{spec}: exactly one create-call POST"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_retry_gateway_errors() {
    let s = sim(|_| {}).await;
    let c = client(options(&s, edge_creds("sim-edge-secret")));
    let id = c
        .place_call(&on_behalf("+13175550100", ADA), never())
        .await
        .unwrap();
    fault(
        &s,
        r#"{"method":"GET","path":"/api/v2/conversations/calls/*","status":503,"count":2}"#,
    )
    .await;
    let st = c
        .wait_for_call(&id, UNTIL_ENDED, |_, _, _| {}, never())
        .await
        .unwrap()
        .0;
    assert_eq!(st.outcome, Some(Outcome::Completed));
    assert_eq!(
        count(
            &log(&s).await,
            "GET",
            "/api/v2/conversations/calls/",
            Some(503)
        ),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_and_timeout() {
    let s = sim(|_| {}).await;
    let c = client(options(&s, edge_creds("sim-edge-secret")));
    // Aborted before anything was sent: nothing dialled.
    let e = c
        .place_call(&on_behalf("+13175550100", ADA), std::future::ready(()))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Aborted);
    // Aborted while the POST is in flight: may have dialled.
    fault(
        &s,
        r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","delayMs":800}"#,
    )
    .await;
    let e = c
        .place_call(
            &on_behalf("+13175550100", ADA),
            tokio::time::sleep(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::OutcomeUnknown);
    // A wait can be aborted, and times out with a clear error.
    let id = c
        .place_call(&on_behalf("+13175550104", ADA), never())
        .await
        .unwrap();
    let e = c
        .wait_for_call(
            &id,
            UNTIL_ENDED,
            |_, _, _| {},
            tokio::time::sleep(Duration::from_millis(150)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Aborted);
    let t0 = Instant::now();
    let e = c
        .wait_for_call(
            &id,
            WaitFor {
                until: Phase::Ended,
                timeout_ms: 300,
            },
            |_, _, _| {},
            never(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Timeout);
    assert!(e.message.contains("last phase: connected"), "{}", e.message);
    // Generous bound (shared machine): it returns at the deadline rather than polling on.
    assert!(
        t0.elapsed() < Duration::from_millis(5_000),
        "the wait ends at its deadline"
    );
    c.hang_up(&id, never()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_place_calls_share_one_token() {
    let s = sim(|c| c.rate_limit = 5_000).await;
    let mut o = options(&s, edge_creds("sim-edge-secret"));
    o.requests_per_minute = 5_000;
    let c = client(o);
    let calls: Vec<PlaceCall> = (0..1000)
        .map(|i| on_behalf(&format!("+1555{:07}", 1_000_000 + i), ADA))
        .collect();
    let results = join_all(
        calls
            .iter()
            .map(|call| c.place_call(call, never()))
            .collect(),
    )
    .await;
    assert!(results.iter().all(Result::is_ok));
    let l = log(&s).await;
    assert_eq!(
        count(&l, "POST", "/oauth/token", None),
        1,
        "single-flight token"
    );
    assert_eq!(count(&l, "POST", CREATE, Some(200)), 1000);
    assert_eq!(l.iter().filter(|e| e["status"] == 429).count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_waits_stay_inside_the_token_budget() {
    // Genesys' 300/min scaled down: 12 requests per 2 s window.
    let s = sim(|c| {
        c.rate_limit = 12;
        c.rate_window = Duration::from_secs(2);
        c.time_scale = 0.05;
    })
    .await;
    let mut o = options(&s, edge_creds("sim-edge-secret"));
    o.requests_per_minute = 12;
    o.budget_window_ms = 2_000;
    o.poll_interval_ms = 10;
    let c = client(o);
    // Six numbers: concurrent placeCalls for one number would share one call.
    let calls: Vec<PlaceCall> = (0..6)
        .map(|i| on_behalf(&format!("+1317555020{i}"), ADA))
        .collect();
    let runs = calls.iter().map(|call| {
        let c = &c;
        async move {
            let id = c.place_call(call, never()).await?;
            c.wait_for_call(&id, UNTIL_ENDED, |_, _, _| {}, never())
                .await
                .map(|(s, _, _)| s)
        }
    });
    for r in join_all(runs.collect()).await {
        assert_eq!(r.unwrap().outcome, Some(Outcome::Completed));
    }
    let l = log(&s).await;
    assert_eq!(
        l.iter().filter(|e| e["status"] == 429).count(),
        0,
        "the budget prevented every 429"
    );
    assert!(count(&l, "GET", "/api/v2/conversations/calls/", None) >= 6);
}

// ------------------------------------------------- issue #15: the settle window

const QUERY: &str = DETAILS_QUERY;

/// A client on wall-clock time (the lookup asks Genesys about real times),
/// and its clock, to be shifted past the settle window.
fn wall_client(o: ClientOptions) -> (Client<Reqwest, WallClock>, WallClock) {
    let clock = WallClock::default();
    (Client::new(Reqwest(reqwest()), clock.clone(), o), clock)
}

async fn reset(s: &genesys_sim::Running) {
    reqwest()
        .post(format!("{}/__sim/reset", s.url()))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_resolved_with_one_read_and_never_redialled() {
    let s = sim(|_| {}).await;
    let mut o = options(&s, edge_creds("sim-edge-secret"));
    o.request_timeout_ms = 400;
    for (i, spec) in AFTER_THE_POST.iter().enumerate() {
        reset(&s).await;
        let (c, _) = wall_client(o.clone());
        let number = format!("+1317555030{i}");
        let call = on_behalf(&number, ADA);
        fault_after_create(&s, spec).await;
        let e = c.place_call(&call, never()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::OutcomeUnknown, "{spec}: {e}");
        // Again, as a second click would: the call is found, not dialled.
        let placed = c
            .place_call_for_agent(&call, &AgentCallOptions::default(), never())
            .await
            .unwrap();
        assert!(placed.resolved, "{spec}");
        // It is the call to this number (the only call the sim has), followed to its end.
        let (st, raw, _) = c
            .wait_for_call(&placed.conversation_id, UNTIL_ENDED, |_, _, _| {}, never())
            .await
            .unwrap();
        assert_eq!(st.outcome, Some(Outcome::Completed), "{spec}");
        let far = st.snapshot.legs.iter().find(|l| l.role == Role::Customer);
        assert_eq!(
            far.and_then(|l| l.address.as_deref()),
            Some(format!("tel:{number}").as_str()),
            "{spec}: {raw}"
        );
        // A third time: the resolved call, with no read at all.
        let again = c.place_call(&call, never()).await.unwrap();
        assert_eq!(again, placed.conversation_id, "{spec}");
        let l = log(&s).await;
        assert_eq!(
            count(&l, "POST", CREATE, None),
            1,
            "{spec}: one create-call POST"
        );
        assert_eq!(count(&l, "POST", QUERY, Some(200)), 1, "{spec}: one read");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unresolved_outcome_is_call_may_be_ringing_until_the_window_ends() {
    let s = sim(|_| {}).await;
    let (c, clock) = wall_client(options(&s, edge_creds("sim-edge-secret")));
    let call = on_behalf("+13175550310", ADA);
    // A 5xx in place of handling: Genesys did nothing, but the client cannot know.
    fault(
        &s,
        &format!(r#"{{"method":"POST","path":"{CREATE}*","status":503}}"#),
    )
    .await;
    let e = c.place_call(&call, never()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::OutcomeUnknown, "{e}");
    // No such call: not found, so maybe still ringing.
    let e = c.place_call(&call, never()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::CallMayBeRinging, "{e}");
    assert_eq!(e.code.as_str(), "call_may_be_ringing");
    assert!(e.retry_after_ms.unwrap() > 100_000, "{e:?}");
    assert!(e.message.contains("may be ringing"), "{}", e.message);
    // The read failing says the same, whatever agent the new request names.
    fault(
        &s,
        &format!(r#"{{"method":"POST","path":"{QUERY}","status":403}}"#),
    )
    .await;
    let e = c
        .place_call(&on_behalf("+13175550310", OTTO), never())
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::CallMayBeRinging, "{e}");
    let l = log(&s).await;
    assert_eq!(count(&l, "POST", CREATE, None), 1, "never a second POST");
    assert_eq!(
        (
            count(&l, "POST", QUERY, Some(200)),
            count(&l, "POST", QUERY, Some(403))
        ),
        (1, 1)
    );
    // Another number is not held by this one.
    c.place_call(&on_behalf("+13175550311", ADA), never())
        .await
        .unwrap();
    // After the window, the number may be dialled again.
    clock.0.set(SETTLE_MS + 1_000);
    let id = c.place_call(&call, never()).await.unwrap();
    let l = log(&s).await;
    assert_eq!(count(&l, "POST", &format!("{CREATE}{ADA}"), Some(200)), 2);
    assert_eq!(
        count(&l, "POST", QUERY, None),
        2,
        "no read once the window ended"
    );
    c.hang_up(&id, never()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_place_calls_for_one_number_send_one_post() {
    let s = sim(|_| {}).await;
    let (c, _) = wall_client(options(&s, edge_creds("sim-edge-secret")));
    let call = on_behalf("+13175550320", ADA);
    let r = join_all((0..3).map(|_| c.place_call(&call, never())).collect()).await;
    assert!(r[0].is_ok(), "{r:?}");
    for e in &r[1..] {
        let e = e.as_ref().unwrap_err();
        assert_eq!(e.code, ErrorCode::CallMayBeRinging, "{e}");
        assert!(e.retry_after_ms.is_some());
    }
    assert_eq!(count(&log(&s).await, "POST", CREATE, None), 1);
    // Placed and answered: the number is free again.
    c.place_call(&call, never()).await.unwrap();
    assert_eq!(count(&log(&s).await, "POST", CREATE, None), 2);
    // In flight when its outcome turns out unknown: the second is told it
    // may be ringing, and a third finds the call.
    reset(&s).await;
    let call = on_behalf("+13175550321", ADA);
    fault(
        &s,
        &format!(r#"{{"method":"POST","path":"{CREATE}*","when":"after","status":503}}"#),
    )
    .await;
    let r = join_all(vec![
        c.place_call(&call, never()),
        c.place_call(&call, never()),
    ])
    .await;
    assert_eq!(
        r[0].as_ref().unwrap_err().code,
        ErrorCode::OutcomeUnknown,
        "{r:?}"
    );
    assert_eq!(
        r[1].as_ref().unwrap_err().code,
        ErrorCode::CallMayBeRinging,
        "{r:?}"
    );
    c.place_call(&call, never()).await.unwrap();
    let l = log(&s).await;
    assert_eq!(count(&l, "POST", CREATE, None), 1);
    assert_eq!(count(&l, "POST", QUERY, None), 1);
}
