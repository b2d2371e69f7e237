//! Issues #12 and #13 at the edge, on the host against genesys-sim over
//! loopback: the agent check before every call (`REQUIRE_AVAILABLE_AGENT`),
//! the wrap-up the edge applies to every call it placed (`WRAPUP_CODE_ID`),
//! watched or not, queue callbacks (`/v1/callbacks`) and `/v1/availability`.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::time::Duration;

use common::*;
use genesys_click_to_call::edge::{EdgeRequest, EdgeResponse, LocalEdge};
use genesys_click_to_call::flow::Clock;
use genesys_sim::Running;
use serde_json::Value;

const ORIGIN: &str = EDGE_ORIGIN;
const DORA: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a03";
const SUPPORT: &str = "5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70";
const RESOLVED: &str = "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b01";

type Edge = LocalEdge<Reqwest, WallClock>;

fn edge(s: &Running, overrides: &[(&str, &str)]) -> Edge {
    let overrides: Vec<_> = [("GENESYS_QUEUE_ID", SUPPORT)]
        .into_iter()
        .chain(overrides.iter().copied())
        .collect();
    LocalEdge::new(
        Reqwest(reqwest()),
        WallClock::default(),
        edge_env(s, &overrides),
    )
}

async fn fast_sim() -> Running {
    sim(|c| {
        c.rate_limit = 100_000;
        c.time_scale = 0.05;
    })
    .await
}

fn req(method: &str, path: &str) -> EdgeRequest {
    EdgeRequest {
        method: method.into(),
        path: path.into(),
        origin: Some(ORIGIN.into()),
        address_header: Some("203.0.113.7".into()),
        ..Default::default()
    }
}

fn post(path: &str, body: &str) -> EdgeRequest {
    EdgeRequest {
        content_type: Some("application/json".into()),
        body: body.into(),
        ..req("POST", path)
    }
}

fn dial(number: &str) -> EdgeRequest {
    post("/v1/calls", &format!(r#"{{"phoneNumber":"{number}"}}"#))
}

fn json(r: &EdgeResponse) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

fn wrap_up_patches(l: &[Value]) -> Vec<Value> {
    l.iter()
        .filter(|e| {
            e["method"] == "PATCH"
                && e["path"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("/api/v2/conversations/calls/")
                && e.get("wrapup").is_some()
        })
        .cloned()
        .collect()
}

/// Runs the wrap-up follower as the shell does (each pass when the last one
/// said) until nothing is followed, or `limit` passes.
async fn follow(e: &Edge, limit: usize) -> Vec<String> {
    let mut logs = Vec::new();
    for _ in 0..limit {
        let (next, log) = e.follow_up().await;
        if !log.is_empty() {
            logs.push(log);
        }
        let Some(at) = next else { break };
        let wait = at.saturating_sub(WallClock::default().now_ms()).min(2_000);
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    logs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otto_and_dora_are_refused_with_no_create_call_post() {
    let s = fast_sim().await;
    for (agent, reason) in [(OTTO, "offline"), (DORA, "do-not-disturb")] {
        let e = edge(&s, &[("GENESYS_AGENT_USER_ID", agent)]);
        let r = e.handle(dial("+13175550100")).await;
        assert_eq!(r.status, 409, "{}", r.body);
        let body = json(&r);
        assert_eq!(body["code"], "agent_unavailable");
        assert_eq!(body["reason"], reason);
        assert_eq!(body["message"], "No one can take your call right now.");
        assert_eq!(body["callbacks"], true, "a queue is configured");
        assert!(body["correlationId"]
            .as_str()
            .is_some_and(|c| !c.is_empty()));
        assert!(r.log.contains("agent_unavailable"), "{}", r.log);
        // The refusal gave the number back: the next click is refused the same way, not rate-limited.
        let again = e.handle(dial("+13175550100")).await;
        assert_eq!(json(&again)["code"], "agent_unavailable");
    }
    assert_eq!(count(&log(&s).await, "POST", CREATE, None), 0);
    // Ada dials; with the check off, Otto is dialled too (and fails later, as before).
    let ada = edge(&s, &[]);
    assert_eq!(ada.handle(dial("+13175550100")).await.status, 201);
    let unchecked = edge(
        &s,
        &[
            ("GENESYS_AGENT_USER_ID", OTTO),
            ("REQUIRE_AVAILABLE_AGENT", "false"),
        ],
    );
    assert_eq!(unchecked.handle(dial("+13175550101")).await.status, 201);
    assert_eq!(count(&log(&s).await, "POST", CREATE, None), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_on_an_agent_lookup_lets_the_call_go_ahead_and_is_logged() {
    let s = sim_edge_lacking("telephony:otherStationAssociation:view", |c| {
        c.rate_limit = 100_000;
    })
    .await;
    let e = edge(&s, &[]);
    let r = e.handle(dial("+13175550100")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.log.contains("agent check") && r.log.contains("403") && r.log.contains("station"),
        "{}",
        r.log
    );
    assert!(
        !r.body.contains("403"),
        "the visitor sees a call, not our misconfiguration"
    );
    assert_eq!(count(&log(&s).await, "POST", CREATE, Some(200)), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_wrapped_up_exactly_once_watched_or_not() {
    let s = fast_sim().await;
    let e = edge(
        &s,
        &[
            ("WRAPUP_CODE_ID", RESOLVED),
            ("WRAPUP_NOTES", "click-to-call: {outcome}"),
        ],
    );
    // Two calls; nobody ever reads the first one's status or stream.
    let unwatched = e.handle(dial("+13175550100")).await;
    assert_eq!(unwatched.status, 201, "{}", unwatched.body);
    let watched = e.handle(dial("+13175550101")).await;
    let h = json(&watched)["handle"].as_str().unwrap().to_string();
    // The visitor watching the second one reads it to its end meanwhile.
    let watch = async {
        for _ in 0..400 {
            let r = e.handle(req("GET", &format!("/v1/calls/{h}"))).await;
            if json(&r)["phase"] == "ended" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the watched call never ended");
    };
    let (logs, ()) = tokio::join!(follow(&e, 400), watch);
    let logs = logs.join("\n");
    assert_eq!(logs.matches("wrap-up applied").count(), 2, "{logs}");
    let l = log(&s).await;
    let patches = wrap_up_patches(&l);
    assert_eq!(patches.len(), 2, "{patches:#?}");
    let mut conversations: Vec<&str> = patches
        .iter()
        .map(|p| p["path"].as_str().unwrap().split('/').nth(5).unwrap())
        .collect();
    conversations.dedup();
    assert_eq!(conversations.len(), 2, "one per call");
    for p in &patches {
        assert_eq!(p["wrapup"]["code"], RESOLVED);
        let notes = p["wrapup"]["notes"].as_str().unwrap();
        assert!(
            notes == "click-to-call: completed" || notes == "click-to-call: busy",
            "{notes}"
        );
        assert!(
            p["path"].as_str().unwrap().contains("/user/"),
            "on behalf of the agent"
        );
    }
    // Nothing is followed any more: more passes send nothing.
    assert_eq!(e.follow_up().await, (None, String::new()));
    assert_eq!(wrap_up_patches(&log(&s).await).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrap_up_settings_are_checked_at_startup() {
    let s = fast_sim().await;
    for (vars, variable) in [
        (vec![("WRAPUP_CODE_ID", "not an id")], "WRAPUP_CODE_ID"),
        (vec![("WRAPUP_NOTES", "x")], "WRAPUP_NOTES"),
        (
            vec![("REQUIRE_AVAILABLE_AGENT", "maybe")],
            "REQUIRE_AVAILABLE_AGENT",
        ),
        (vec![("OPENING_HOURS", "Mon-Fri 9-5")], "OPENING_HOURS"),
    ] {
        let r = edge(&s, &vars).handle(req("GET", "/v1/healthz")).await;
        assert_eq!(r.status, 503, "{vars:?}");
        assert!(
            json(&r)["message"].as_str().unwrap().contains(variable),
            "{}",
            r.body
        );
    }
    // A wrap-up code needs a queue: codes belong to queues.
    let e = edge(
        &s,
        &[("WRAPUP_CODE_ID", RESOLVED), ("GENESYS_QUEUE_ID", "")],
    );
    let r = e.handle(req("GET", "/v1/healthz")).await;
    // Not ready, like the settings above: a ready answer naming the queue is no refusal.
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        json(&r)["message"]
            .as_str()
            .unwrap()
            .contains("GENESYS_QUEUE_ID"),
        "{}",
        r.body
    );
}

const CALLBACKS: &str = "/api/v2/conversations/callbacks";

fn book(body: &str) -> EdgeRequest {
    post("/v1/callbacks", body)
}

fn iso_in(secs: i64) -> String {
    jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

async fn callback_posts(s: &Running) -> usize {
    count(&log(s).await, "POST", CALLBACKS, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_are_booked_once_read_and_cancelled_with_their_own_handles() {
    let s = fast_sim().await;
    let e = edge(&s, &[]);
    let at = iso_in(3_600);
    let body = format!(r#"{{"phoneNumber":"+13175550100","at":"{at}"}}"#);
    let keyed = || EdgeRequest {
        idempotency_key: Some("cb-1".into()),
        ..book(&body)
    };
    let r = e.handle(keyed()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let b = json(&r);
    let h = b["handle"].as_str().unwrap().to_string();
    assert_eq!(b["statusUrl"], format!("/v1/callbacks/{h}"));
    assert!(b["scheduledTime"].as_str().unwrap().starts_with(&at[..16]));
    assert!(r.headers.iter().any(|(k, _)| k == "X-Correlation-Id"));
    // The same key again: the same callback, not a second one.
    let again = e.handle(keyed()).await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(json(&again)["handle"], h.as_str());
    assert_eq!(callback_posts(&s).await, 1);
    let created = log(&s)
        .await
        .into_iter()
        .find(|x| x["method"] == "POST" && x["path"] == CALLBACKS)
        .unwrap();
    assert_eq!(created["status"], 200);

    let status = e.handle(req("GET", &format!("/v1/callbacks/{h}"))).await;
    assert_eq!(status.status, 200, "{}", status.body);
    let st = json(&status);
    assert_eq!(st["phase"], "scheduled");
    assert!(
        st.get("conversationId").is_none(),
        "no ids for visitors: {st}"
    );
    // A callback's handle is no call's, and a call's is no callback's.
    let call = e.handle(dial("+13175550101")).await;
    let call_handle = json(&call)["handle"].as_str().unwrap().to_string();
    for path in [
        format!("/v1/calls/{h}"),
        format!("/v1/callbacks/{call_handle}"),
    ] {
        let r = e.handle(req("GET", &path)).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert_eq!(json(&r)["code"], "not_found");
    }
    let gone = e.handle(req("DELETE", &format!("/v1/callbacks/{h}"))).await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    let st = json(&e.handle(req("GET", &format!("/v1/callbacks/{h}"))).await);
    assert_eq!(
        (st["phase"].as_str(), st["outcome"].as_str()),
        (Some("ended"), Some("canceled"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_callback_times_and_numbers_book_nothing() {
    let s = fast_sim().await;
    // Open one hour a day, three hours from now: closed now.
    let open = (jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .hour()
        + 3)
        % 24;
    let hours = format!("Daily {open:02}:00-{:02}:00 UTC", open + 1);
    let e = edge(&s, &[("OPENING_HOURS", &hours)]);
    let past = iso_in(-3_600);
    let far = iso_in(20 * 86_400);
    for (body, status, says) in [
        (
            r#"{"phoneNumber":"+13175550100"}"#.to_string(),
            422,
            "closed right now",
        ),
        (
            format!(r#"{{"phoneNumber":"+13175550100","at":"{far}"}}"#),
            422,
            "at most 14 days",
        ),
        (
            format!(r#"{{"phoneNumber":"+13175550100","at":"{past}"}}"#),
            422,
            "already passed",
        ),
        (
            r#"{"phoneNumber":"+13175550100","at":"tomorrow"}"#.to_string(),
            400,
            "2026-03-09T14:00:00Z",
        ),
        (
            r#"{"phoneNumber":"+13175550100","when":"now"}"#.to_string(),
            400,
            "JSON object",
        ),
    ] {
        let r = e.handle(book(&body)).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        let b = json(&r);
        assert!(
            b["message"].as_str().unwrap().contains(says),
            "{body}: {}",
            r.body
        );
        assert!(b["correlationId"].as_str().is_some());
    }
    assert_eq!(callback_posts(&s).await, 0);
    // The page is offered the open hour's times, and one of them books.
    let a = json(&e.handle(req("GET", "/v1/availability")).await);
    assert_eq!(a["mode"], "callback", "{a}");
    assert_eq!(a["reason"], "closed");
    assert_eq!(a["timeZone"], "UTC");
    let slots = a["nextSlots"].as_array().unwrap();
    assert!(!slots.is_empty());
    for slot in slots {
        let t: jiff::Timestamp = slot["utc"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            jiff::tz::TimeZone::UTC.to_datetime(t).hour(),
            open,
            "{slot}"
        );
    }
    let first = slots[0]["utc"].as_str().unwrap();
    // A number the dial policy refuses, at a good time: refused all the same.
    let r = e
        .handle(book(&format!(
            r#"{{"phoneNumber":"+19005550100","at":"{first}"}}"#
        )))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(json(&r)["code"], "policy_denied");
    assert_eq!(callback_posts(&s).await, 0);
    let r = e
        .handle(book(&format!(
            r#"{{"phoneNumber":"+13175550100","at":"{first}"}}"#
        )))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(callback_posts(&s).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_says_call_now_or_callback_with_the_wait() {
    let s = fast_sim().await;
    reqwest()
        .post(format!("{}/__sim/queues/{SUPPORT}", s.url()))
        .header("content-type", "application/json")
        .body(r#"{"estimatedWaitSeconds":30}"#)
        .send()
        .await
        .unwrap();
    let ada = edge(&s, &[]);
    for _ in 0..5 {
        let r = ada.handle(req("GET", "/v1/availability")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let a = json(&r);
        assert_eq!(a["mode"], "call-now", "{a}");
        assert_eq!(a["estimatedWaitSeconds"], 30);
        assert_eq!(a["callbacks"], true);
        assert!(!a["nextSlots"].as_array().unwrap().is_empty());
    }
    // Five page views, one burst of lookups and one estimate.
    let l = log(&s).await;
    assert_eq!(
        count(&l, "GET", &format!("/api/v2/users/{ADA}/presences"), None),
        1
    );
    assert_eq!(count(&l, "GET", "/api/v2/routing/queues/", None), 1);
    let otto = edge(&s, &[("GENESYS_AGENT_USER_ID", OTTO)]);
    let a = json(&otto.handle(req("GET", "/v1/availability")).await);
    assert_eq!(
        (a["mode"].as_str(), a["reason"].as_str()),
        (Some("callback"), Some("offline"))
    );
    // No queue: no callbacks, and nothing to offer when nobody can take a call.
    let none = edge(
        &s,
        &[("GENESYS_AGENT_USER_ID", OTTO), ("GENESYS_QUEUE_ID", "")],
    );
    let a = json(&none.handle(req("GET", "/v1/availability")).await);
    assert_eq!(
        (a["mode"].as_str(), a["callbacks"].as_bool()),
        (Some("unavailable"), Some(false))
    );
    assert!(a.get("nextSlots").is_none());
    let r = none.handle(book(r#"{"phoneNumber":"+13175550100"}"#)).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = none.handle(dial("+13175550100")).await;
    assert_eq!(json(&r)["callbacks"], false);
}
