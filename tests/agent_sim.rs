//! Issue #12 against genesys-sim over loopback: the availability check before
//! the create-call POST (Otto and Dora refused with zero POSTs, Ada dials, a
//! 403 on a lookup lets the call go ahead and says so) and wrap-up (applied
//! exactly once per call, wrong codes and non-queue calls refused clearly).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::cell::Cell;
use std::time::{Duration, Instant};

use common::*;
use genesys_click_to_call::agent::Reason;
use genesys_click_to_call::auth::Credentials;
use genesys_click_to_call::call::{EntityId, PlaceCall, E164};
use genesys_click_to_call::flow::agent::{AgentCallOptions, Placed};
use genesys_click_to_call::flow::{Client, Clock};
use genesys_click_to_call::status::{Outcome, Phase};
use genesys_click_to_call::wrapup::WrapUp;
use genesys_click_to_call::{Error, ErrorCode};
use genesys_sim::Running;
use serde_json::Value;

const DORA: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a03";
const SUPPORT: &str = "5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70";
const RESOLVED: &str = "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b01";
const CALL_BACK_LATER: &str = "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b02";
/// Sales' code: valid in the org, not on a Support call.
const SALE_MADE: &str = "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b03";
const MEETING: &str = "bbdff279-7ae1-48ea-bade-7831d7234c64";

fn id(s: &str) -> EntityId {
    EntityId::parse(s, "id").unwrap()
}

fn checked() -> AgentCallOptions {
    AgentCallOptions {
        require_available_agent: true,
        wrap_up: None,
    }
}

fn wrap(code: &str, notes: Option<&str>) -> WrapUp {
    WrapUp {
        code: id(code),
        notes: notes.map(str::to_string),
    }
}

/// An ACD call from the Support queue, on behalf of `agent`.
fn from_support(number: &str, agent: &str) -> PlaceCall {
    let mut c = on_behalf(number, agent);
    c.call_from_queue_id = Some(id(SUPPORT));
    c
}

fn edge(s: &Running) -> TestClient {
    client(options(s, edge_creds("sim-edge-secret")))
}

/// Log entries of one method whose path starts with `prefix` and contains `part`.
fn requests<'a>(l: &'a [Value], method: &str, prefix: &str, part: &str) -> Vec<&'a Value> {
    l.iter()
        .filter(|e| {
            let path = e["path"].as_str().unwrap_or("");
            e["method"] == method && path.starts_with(prefix) && path.contains(part)
        })
        .collect()
}

fn wrap_up_patches(l: &[Value]) -> Vec<&Value> {
    requests(l, "PATCH", "/api/v2/conversations/calls/", "/participants/")
        .into_iter()
        .filter(|e| e.get("wrapup").is_some())
        .collect()
}

/// Flips a user's presence the way the demo and an admin would (any token will do).
async fn set_presence(s: &Running, user: &str, definition: &str) {
    let token = edge(s).access_token(None).await.unwrap();
    let r = reqwest()
        .patch(format!(
            "{}/api/v2/users/{user}/presences/purecloud",
            s.url()
        ))
        .bearer_auth(token)
        .body(format!(
            r#"{{"presenceDefinition":{{"id":"{definition}"}}}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn refused(c: &TestClient, call: &PlaceCall) -> Error {
    c.place_call_for_agent(call, &checked(), never())
        .await
        .unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otto_and_dora_are_refused_before_any_post_and_ada_dials() {
    let s = sim(|_| {}).await;
    let c = edge(&s);
    let e = refused(&c, &on_behalf("+13175550100", OTTO)).await;
    assert_eq!(
        (e.code, e.reason),
        (ErrorCode::AgentUnavailable, Some("offline"))
    );
    assert!(
        e.message.contains(OTTO) && e.message.contains("No call was placed"),
        "{}",
        e.message
    );
    let e = refused(&c, &from_support("+13175550100", DORA)).await;
    assert_eq!(
        (e.code, e.reason),
        (ErrorCode::AgentUnavailable, Some("do-not-disturb"))
    );
    let l = log(&s).await;
    assert_eq!(
        count(&l, "POST", CREATE, None),
        0,
        "no create-call POST for Otto or Dora"
    );
    // Dora's presence is Busy; its definition's label is what says Do Not Disturb.
    assert_eq!(
        requests(&l, "GET", "/api/v2/presence/definitions/", "").len(),
        1
    );

    let placed = c
        .place_call_for_agent(&on_behalf("+13175550100", ADA), &checked(), never())
        .await
        .unwrap();
    let agent = placed.agent.clone().unwrap();
    assert_eq!(
        (agent.available, agent.reason),
        (Some(true), Reason::Available)
    );
    assert_eq!(agent.presence.as_deref(), Some("Available"));
    assert_eq!(agent.routing_status.as_deref(), Some("IDLE"));
    assert!(
        matches!(agent.station, Some(Some(_))),
        "{:?}",
        agent.station
    );
    assert!(agent.warnings.is_empty(), "{:?}", agent.warnings);
    let l = log(&s).await;
    let posts = requests(&l, "POST", CREATE, "");
    assert_eq!(posts.len(), 1);
    // The three lookups for Ada went out before her POST.
    let post_seq = posts[0]["seq"].as_u64().unwrap();
    for part in ["/presences/purecloud", "/routingstatus", "/station"] {
        let got = requests(&l, "GET", &format!("/api/v2/users/{ADA}"), part);
        assert_eq!(got.len(), 1, "{part}");
        assert!(
            got[0]["seq"].as_u64().unwrap() < post_seq,
            "{part} before the POST"
        );
    }
    let st = c
        .wait_for_call(&placed.conversation_id, UNTIL_ENDED, |_, _, _| {}, never())
        .await
        .unwrap()
        .0;
    assert_eq!(st.outcome, Some(Outcome::Completed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voicemail_presences_refuse_and_the_check_is_opt_in() {
    let s = sim(|_| {}).await;
    set_presence(&s, ADA, MEETING).await;
    let c = edge(&s);
    let check = c.check_agent(Some(&id(ADA)), false).await.unwrap();
    assert_eq!(
        (check.available, check.reason),
        (Some(false), Reason::Meeting)
    );
    assert_eq!(check.presence.as_deref(), Some("Meeting"));
    let e = refused(&c, &on_behalf("+13175550100", ADA)).await;
    assert_eq!(e.reason, Some("meeting"));
    assert_eq!(count(&log(&s).await, "POST", CREATE, None), 0);
    // Without requireAvailableAgent nothing is checked and the call is placed.
    let placed = c
        .place_call_for_agent(
            &on_behalf("+13175550100", ADA),
            &AgentCallOptions::default(),
            never(),
        )
        .await
        .unwrap();
    assert!(placed.agent.is_none());
    assert_eq!(count(&log(&s).await, "POST", CREATE, None), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_on_the_station_lookup_lets_the_call_go_ahead_and_says_why() {
    // A real permission gap, not an injected fault: sim-edge without the
    // permission to read other users' stations.
    let s = sim_edge_lacking("telephony:otherStationAssociation:view", |_| {}).await;
    let c = edge(&s);
    let placed = c
        .place_call_for_agent(&on_behalf("+13175550100", ADA), &checked(), never())
        .await
        .unwrap();
    let agent = placed.agent.unwrap();
    assert_eq!((agent.available, agent.reason), (None, Reason::Unknown));
    assert_eq!(agent.station, None, "unknown, not 'no station'");
    assert_eq!(agent.warnings.len(), 1);
    let w = &agent.warnings[0];
    assert!(
        w.contains("station")
            && w.contains("403")
            && w.contains("telephony:otherStationAssociation:view")
            && w.contains("not blocked"),
        "{w}"
    );
    let l = log(&s).await;
    assert_eq!(
        requests(&l, "GET", "/api/v2/users/", "/station")[0]["status"],
        403
    );
    assert_eq!(
        count(&l, "POST", CREATE, Some(200)),
        1,
        "the call went ahead"
    );
    // A fact that is known still refuses: Otto is Offline whatever his station.
    let e = refused(&c, &on_behalf("+13175550100", OTTO)).await;
    assert_eq!(e.reason, Some("offline"));
    assert_eq!(count(&log(&s).await, "POST", CREATE, None), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_lookup_failures_stop_the_call_instead_of_guessing() {
    let s = sim(|_| {}).await;
    let c = edge(&s);
    fault(&s, &format!(r#"{{"method":"GET","path":"/api/v2/users/{ADA}/routingstatus","status":500,"count":1}}"#)).await;
    let e = refused(&c, &on_behalf("+13175550100", ADA)).await;
    assert_eq!(e.code, ErrorCode::ServerError);
    assert_eq!(count(&log(&s).await, "POST", CREATE, None), 0);
    // Nothing half-read was cached: the next check reads again and dials.
    c.place_call_for_agent(&on_behalf("+13175550100", ADA), &checked(), never())
        .await
        .unwrap();
    assert_eq!(count(&log(&s).await, "POST", CREATE, None), 1);
}

/// Real time plus a jump the test controls, to step past the cache.
struct JumpClock(TokioClock, Cell<u64>);

impl Clock for JumpClock {
    fn now_ms(&self) -> u64 {
        self.0.now_ms() + self.1.get()
    }
    async fn sleep(&self, ms: u64) {
        self.0.sleep(ms).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_are_one_burst_shared_by_concurrent_checks_and_cached_briefly() {
    let s = sim(|_| {}).await;
    let c = Client::new(
        Reqwest(reqwest()),
        JumpClock(TokioClock(Instant::now()), Cell::new(0)),
        options(&s, edge_creds("sim-edge-secret")),
    );
    let ada = id(ADA);
    let checks = (0..5).map(|_| c.check_agent(Some(&ada), false)).collect();
    for r in join_all(checks).await {
        assert_eq!(r.unwrap().available, Some(true));
    }
    let lookups = |l: &[Value]| requests(l, "GET", &format!("/api/v2/users/{ADA}/"), "").len();
    assert_eq!(
        lookups(&log(&s).await),
        3,
        "presence, routing status, station: once"
    );
    // A presence change is seen once the few seconds are over.
    set_presence(&s, ADA, MEETING).await;
    assert_eq!(
        c.check_agent(Some(&ada), false).await.unwrap().available,
        Some(true),
        "cached"
    );
    c.clock().1.set(6_000);
    let again = c.check_agent(Some(&ada), false).await.unwrap();
    assert_eq!(
        (again.available, again.reason),
        (Some(false), Reason::Meeting)
    );
    assert_eq!(lookups(&log(&s).await), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_agent_without_a_user_is_the_signed_in_agent() {
    let s = sim(|_| {}).await;
    let e = edge(&s).check_agent(None, false).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::UserContextRequired);
    assert!(e.message.contains("checkAgent(userId)"), "{}", e.message);
    let otto = client(options(
        &s,
        Credentials::AccessToken(user_token(&s, OTTO).await),
    ));
    let check = otto.check_agent(None, false).await.unwrap();
    assert_eq!(
        (check.user_id.as_str(), check.reason),
        (OTTO, Reason::Offline)
    );
    assert_eq!(
        check.station,
        Some(None),
        "no station, read with his own token"
    );
    // The signed-in agent dialling with requireAvailableAgent: refused, no POST.
    let call = PlaceCall::new(E164::parse("+13175550100", "phoneNumber").unwrap());
    let e = otto
        .place_call_for_agent(&call, &checked(), never())
        .await
        .unwrap_err();
    assert_eq!(e.reason, Some("offline"));
    let l = log(&s).await;
    assert_eq!(count(&l, "POST", "/api/v2/conversations/calls", None), 0);
    assert_eq!(
        count(&l, "GET", "/api/v2/users/me", Some(200)),
        1,
        "me is asked once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_an_acd_call_routing_status_counts() {
    let s = sim(|_| {}).await;
    let c = edge(&s);
    let id1 = c
        .place_call(&from_support("+13175550104", ADA), never())
        .await
        .unwrap();
    wait_until(&c, &id1, Phase::Connected).await;
    // A fresh client (no cache): Ada is INTERACTING on her first queue call.
    let check = edge(&s).check_agent(Some(&id(ADA)), true).await.unwrap();
    assert_eq!(check.routing_status.as_deref(), Some("INTERACTING"));
    assert_eq!(check.available, Some(true));
    assert!(
        check.warnings.iter().any(|w| w.contains("INTERACTING")),
        "{:?}",
        check.warnings
    );
    let plain = edge(&s).check_agent(Some(&id(ADA)), false).await.unwrap();
    assert!(
        plain.warnings.is_empty(),
        "not a queue call: routing status ignored"
    );
    c.hang_up(&id1, never()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_during_the_check_places_nothing() {
    let s = sim(|_| {}).await;
    fault(
        &s,
        r#"{"method":"GET","path":"/api/v2/users/*/station","delayMs":2000}"#,
    )
    .await;
    let c = edge(&s);
    let e = c
        .place_call_for_agent(
            &on_behalf("+13175550100", ADA),
            &checked(),
            tokio::time::sleep(Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Aborted);
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert_eq!(count(&log(&s).await, "POST", CREATE, None), 0);
}

async fn place_and_wait(
    c: &TestClient,
    call: &PlaceCall,
    w: Option<WrapUp>,
) -> (Placed, Result<Outcome, Error>) {
    let opts = AgentCallOptions {
        require_available_agent: false,
        wrap_up: w,
    };
    let placed = c.place_call_for_agent(call, &opts, never()).await.unwrap();
    let end = c
        .wait_for_call(&placed.conversation_id, UNTIL_ENDED, |_, _, _| {}, never())
        .await
        .map(|(st, _, _)| st.outcome.unwrap());
    (placed, end)
}

async fn assigned_wrap_up(s: &Running, c: &TestClient, cid: &str) -> Value {
    let (st, _) = c.get_call(&id(cid)).await.unwrap();
    let pid = &st
        .snapshot
        .legs
        .iter()
        .find(|l| l.user_id.is_some())
        .unwrap()
        .participant_id;
    // The sim's own reader, with a token of the same client (calls are visible to their owner).
    let token = c.access_token(None).await.unwrap();
    let body = reqwest()
        .get(format!(
            "{}/api/v2/conversations/calls/{cid}/participants/{pid}/wrapup",
            s.url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrap_up_is_applied_exactly_once_per_call_on_behalf_of_the_agent() {
    let s = sim(|_| {}).await;
    let c = edge(&s);
    let (placed, end) = place_and_wait(
        &c,
        &from_support("+13175550100", ADA),
        Some(wrap(RESOLVED, Some("fixed"))),
    )
    .await;
    assert_eq!(end.unwrap(), Outcome::Completed);
    let cid = placed.conversation_id.as_str();
    let l = log(&s).await;
    let patches = wrap_up_patches(&l);
    assert_eq!(patches.len(), 1, "exactly one wrap-up");
    assert!(
        patches[0]["path"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/user/{ADA}")),
        "on-behalf form for client credentials"
    );
    assert_eq!(patches[0]["status"], 202);
    assert_eq!(
        patches[0]["wrapup"],
        serde_json::json!({"code": RESOLVED, "notes": "fixed"})
    );
    // A second wait, and a third, apply nothing more.
    for _ in 0..2 {
        c.wait_for_call(&placed.conversation_id, UNTIL_ENDED, |_, _, _| {}, never())
            .await
            .unwrap();
    }
    assert_eq!(wrap_up_patches(&log(&s).await).len(), 1);
    let got = assigned_wrap_up(&s, &c, cid).await;
    assert_eq!(
        (got["code"].as_str(), got["notes"].as_str()),
        (Some(RESOLVED), Some("fixed"))
    );
    // Two calls with wrap-ups, waited on together: one each.
    let calls = [
        from_support("+13175550101", ADA),
        from_support("+13175550103", ADA),
    ];
    let runs = calls
        .iter()
        .map(|call| place_and_wait(&c, call, Some(wrap(CALL_BACK_LATER, None))))
        .collect();
    for (_, end) in join_all(runs).await {
        end.unwrap();
    }
    let l = log(&s).await;
    assert_eq!(wrap_up_patches(&l).len(), 3);
    assert_eq!(
        wrap_up_patches(&l)
            .iter()
            .filter(|p| p["wrapup"]["code"] == CALL_BACK_LATER)
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signed_in_agent_wraps_up_with_the_plain_patch() {
    let s = sim(|_| {}).await;
    let c = client(options(
        &s,
        Credentials::AccessToken(user_token(&s, ADA).await),
    ));
    let mut call = PlaceCall::new(E164::parse("+13175550100", "phoneNumber").unwrap());
    call.call_from_queue_id = Some(id(SUPPORT));
    let (placed, end) = place_and_wait(&c, &call, Some(wrap(RESOLVED, None))).await;
    end.unwrap();
    let codes = c.wrap_up_codes(&placed.conversation_id).await.unwrap();
    let ids: Vec<&str> = codes.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, [RESOLVED, CALL_BACK_LATER]);
    assert_eq!(codes[0].name.as_deref(), Some("Resolved"));
    let l = log(&s).await;
    let patches = wrap_up_patches(&l);
    assert_eq!(patches.len(), 1);
    assert!(
        !patches[0]["path"].as_str().unwrap().contains("/user/"),
        "{}",
        patches[0]["path"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_code_is_a_clear_error_and_stays_pending_until_fixed() {
    let s = sim(|_| {}).await;
    let c = edge(&s);
    // Sale made belongs to Sales, not Support: refused before any PATCH.
    let (placed, end) = place_and_wait(
        &c,
        &from_support("+13175550100", ADA),
        Some(wrap(SALE_MADE, None)),
    )
    .await;
    let e = end.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    for needle in [
        "the call ended (outcome completed)",
        SALE_MADE,
        "Resolved (",
        "Call back later (",
        "still pending",
    ] {
        assert!(e.message.contains(needle), "{needle}: {}", e.message);
    }
    assert_eq!(wrap_up_patches(&log(&s).await).len(), 0);
    // The explicit call, with a code of the queue, replaces it: one PATCH, and
    // later waits have nothing left to apply.
    let cid = &placed.conversation_id;
    let e = c.wrap_up(cid, &wrap("not-a-code", None)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    c.wrap_up(cid, &wrap(CALL_BACK_LATER, Some("ring Tuesday")))
        .await
        .unwrap();
    c.wait_for_call(cid, UNTIL_ENDED, |_, _, _| {}, never())
        .await
        .unwrap();
    let l = log(&s).await;
    assert_eq!(wrap_up_patches(&l).len(), 1);
    assert_eq!(wrap_up_patches(&l)[0]["wrapup"]["code"], CALL_BACK_LATER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesys_refusing_the_patch_is_invalid_input_not_a_silent_no_op() {
    let s = sim(|_| {}).await;
    let c = edge(&s);
    let (placed, _) = place_and_wait(&c, &from_support("+13175550100", ADA), None).await;
    fault(&s, r#"{"method":"PATCH","path":"/api/v2/conversations/calls/*","status":400,"message":"The wrap-up code is not valid for this participant."}"#).await;
    let e = c
        .wrap_up(&placed.conversation_id, &wrap(RESOLVED, None))
        .await
        .unwrap_err();
    assert_eq!((e.code, e.status), (ErrorCode::InvalidInput, Some(400)));
    assert!(
        e.message.starts_with(
            "the wrap-up was not applied: Genesys rejected the request: The wrap-up code"
        ),
        "{}",
        e.message
    );
    assert!(e.context_id.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_a_queue_has_no_codes_and_wrap_up_is_refused() {
    let s = sim(|_| {}).await;
    let c = edge(&s);
    let (placed, end) = place_and_wait(&c, &on_behalf("+13175550100", ADA), None).await;
    end.unwrap();
    let cid = &placed.conversation_id;
    assert!(c.wrap_up_codes(cid).await.unwrap().is_empty());
    let e = c.wrap_up(cid, &wrap(RESOLVED, None)).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput);
    assert!(
        e.message.contains("callFromQueueId") && e.message.contains("nothing was sent"),
        "{}",
        e.message
    );
    assert_eq!(wrap_up_patches(&log(&s).await).len(), 0);
    let e = c
        .wrap_up(
            &id("00000000-0000-0000-0000-000000000000"),
            &wrap(RESOLVED, None),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
}
