//! The edge service end to end on the host: visitor requests through the real
//! service and client flow to genesys-sim over loopback. Every abuse case is
//! refused before Genesys is asked (the simulator's log proves it), and the
//! client secret never appears in any response or log line.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use common::*;
use genesys_click_to_call::edge::{EdgeRequest, EdgeResponse, EdgeService};
use genesys_sim::Running;
use serde_json::Value;

const ORIGIN: &str = "http://127.0.0.1:8080";
const SECRET: &str = "sim-edge-secret";

struct Edge {
    svc: EdgeService<Reqwest, TokioClock>,
    seen: RefCell<Vec<String>>,
}

fn edge(s: &Running, overrides: &[(&str, &str)]) -> Edge {
    let mut vars: Vec<(String, String)> = [
        ("GENESYS_API_BASE", s.url().as_str()),
        ("GENESYS_CLIENT_ID", "sim-edge"),
        ("GENESYS_CLIENT_SECRET", SECRET),
        ("GENESYS_AGENT_USER_ID", ADA),
        ("ALLOWED_ORIGINS", ORIGIN),
        ("ALLOWED_DIAL_PREFIXES", "+1317555"),
        (
            "HANDLE_SIGNING_KEY",
            "edge-test-signing-key-0123456789abcdef",
        ),
        ("RATE_LIMIT_PER_IP", "100/60"),
        ("RATE_LIMIT_PER_NUMBER", "100/60"),
        ("MAX_CONCURRENT_CALLS_PER_NUMBER", "100"),
        ("GENESYS_REQUESTS_PER_MINUTE", "20000"),
        ("POLL_INTERVAL_MS", "25"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        vars.retain(|(n, _)| n != k);
        vars.push((k.to_string(), v.to_string()));
    }
    let svc = EdgeService::new(Reqwest(reqwest()), TokioClock(Instant::now()), move |k| {
        vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    });
    Edge {
        svc,
        seen: RefCell::new(Vec::new()),
    }
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
        client_ip: "203.0.113.7".into(),
        ..Default::default()
    }
}

fn post(body: &str) -> EdgeRequest {
    EdgeRequest {
        content_type: Some("application/json".into()),
        body: body.into(),
        ..req("POST", "/v1/calls")
    }
}

fn dial(number: &str) -> EdgeRequest {
    post(&format!(r#"{{"phoneNumber":"{number}"}}"#))
}

impl Edge {
    /// Sends a request and records everything a visitor or the log could see.
    async fn send(&self, r: EdgeRequest) -> EdgeResponse {
        let resp = self.svc.handle(r).await;
        let mut seen = self.seen.borrow_mut();
        seen.push(resp.body.clone());
        seen.push(resp.log.clone());
        seen.extend(resp.headers.iter().map(|(k, v)| format!("{k}: {v}")));
        resp
    }

    fn assert_secret_never_seen(&self) {
        for s in self.seen.borrow().iter() {
            assert!(!s.contains(SECRET), "the client secret leaked: {s}");
        }
    }

    async fn place(&self, number: &str) -> String {
        let r = self.send(dial(number)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        json(&r)["handle"].as_str().unwrap().to_string()
    }

    /// Reads the SSE stream to its end: every status event, then `end`.
    async fn events(&self, handle: &str) -> Vec<Value> {
        let r = self
            .send(req("GET", &format!("/v1/calls/{handle}/events")))
            .await;
        assert_eq!(r.status, 200);
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| k == "Content-Type" && v == "text/event-stream"));
        let conversation = r.stream.expect("a stream");
        let (mut cursor, mut statuses, mut ended) = (String::new(), Vec::new(), false);
        for _ in 0..200 {
            let (chunk, next, done) = self.svc.next_event(&conversation, &cursor).await;
            self.seen.borrow_mut().push(chunk.clone());
            cursor = next;
            for event in chunk.split("\n\n").filter(|e| !e.is_empty()) {
                if let Some(data) = event.strip_prefix("event: status\ndata: ") {
                    statuses.push(serde_json::from_str(data).unwrap());
                }
                ended |= event.starts_with("event: end");
            }
            if done {
                assert!(ended, "the stream ends with an end event");
                return statuses;
            }
        }
        panic!("the stream never ended");
    }
}

fn json(r: &EdgeResponse) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

fn header<'a>(r: &'a EdgeResponse, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

async fn create_posts(s: &Running) -> usize {
    count(&log(s).await, "POST", CREATE, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_call_streams_to_completed() {
    let s = fast_sim().await;
    let e = edge(&s, &[]);
    let r = e.send(dial("+13175550100")).await;
    assert_eq!(r.status, 201);
    let body = json(&r);
    let h = body["handle"].as_str().unwrap();
    assert_eq!(body["statusUrl"], format!("/v1/calls/{h}"));
    assert_eq!(body["eventsUrl"], format!("/v1/calls/{h}/events"));
    assert_eq!(header(&r, "Access-Control-Allow-Origin"), Some(ORIGIN));
    let statuses = e.events(h).await;
    let phases: Vec<&str> = statuses
        .iter()
        .map(|s| s["phase"].as_str().unwrap())
        .collect();
    assert!(phases.contains(&"connected"), "{phases:?}");
    let last = statuses.last().unwrap();
    assert_eq!(
        (last["phase"].as_str(), last["outcome"].as_str()),
        (Some("ended"), Some("completed"))
    );
    // Visitors see states, not the agent's identity.
    let text = serde_json::to_string(&statuses).unwrap();
    assert!(!text.contains(ADA) && !text.contains("Ada"), "{text}");
    let status = e.send(req("GET", &format!("/v1/calls/{h}"))).await;
    assert_eq!(json(&status)["outcome"], "completed");
    // The call went out on behalf of the configured agent, once.
    let l = log(&s).await;
    assert_eq!(count(&l, "POST", &format!("{CREATE}{ADA}"), Some(200)), 1);
    e.assert_secret_never_seen();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_and_no_answer_outcomes() {
    let s = fast_sim().await;
    let e = edge(&s, &[]);
    for (number, outcome, sip) in [
        ("+13175550101", "busy", 486),
        ("+13175550102", "no-answer", 480),
    ] {
        let h = e.place(number).await;
        let last = e.events(&h).await.pop().unwrap();
        assert_eq!(last["outcome"], outcome, "{number}");
        assert_eq!(last["customer"]["disconnectReason"]["code"], sip);
    }
    e.assert_secret_never_seen();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_numbers_never_reach_genesys() {
    let s = fast_sim().await;
    // As an attacker would try it: every country, every prefix. libphonenumber's
    // example premium-rate, shared-cost, UAN and personal numbers are refused by type.
    let everything = edge(
        &s,
        &[("ALLOWED_COUNTRIES", "*"), ("ALLOWED_DIAL_PREFIXES", "+")],
    );
    for (number, message) in [
        ("+43900123456", "Premium-rate numbers can't be called."), // Austria 900
        ("+971900234567", "Premium-rate numbers can't be called."), // UAE 900
        ("+546001234567", "Premium-rate numbers can't be called."), // Argentina 600
        ("+611300123456", "Shared-cost numbers can't be called."), // Australia 1300
        ("+449012345678", "Premium-rate numbers can't be called."), // UK 09
        (
            "+447012345678",
            "Personal (follow-me) numbers can't be called.",
        ), // UK 070
        (
            "+33806123456",
            "Universal access (UAN) numbers can't be called.",
        ), // France
        (
            "+15002345678",
            "Personal (follow-me) numbers can't be called.",
        ), // NANP 5XX
        ("+19005550100", "Premium-rate numbers can't be called."),
        (
            "+979123456789",
            "We can't call international network or satellite numbers.",
        ),
        ("+252907123456", "We can't call numbers in Somalia."),
    ] {
        let r = everything.send(dial(number)).await;
        assert_eq!(r.status, 403, "{number}: {}", r.body);
        assert_eq!(json(&r)["code"], "policy_denied");
        assert_eq!(json(&r)["message"], message, "{number}");
        assert!(json(&r)["correlationId"].is_string());
        assert!(r.log.contains("refused"), "the log says why: {}", r.log);
        assert!(
            !r.log.contains(&number[1..]),
            "the log holds the number: {}",
            r.log
        );
    }
    // The default countries (US,CA): the Caribbean's +1 numbers are other countries.
    let narrow = edge(&s, &[("ALLOWED_DIAL_PREFIXES", "")]);
    for number in [
        "+12423456789",
        "+18765230123",
        "+16585550100",
        "+14414123456",
    ] {
        let r = narrow.send(dial(number)).await;
        assert_eq!(
            (r.status, json(&r)["code"].as_str()),
            (403, Some("policy_denied")),
            "{number}"
        );
        assert_eq!(
            json(&r)["message"],
            "We can only call numbers in the United States and Canada."
        );
    }
    // Not a valid number: its own reason.
    let r = narrow.send(dial("+1317555010")).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        json(&r)["message"],
        "That isn't a valid phone number. Please check the number."
    );
    assert!(r.log.contains("invalid_number"), "{}", r.log);
    assert_eq!(create_posts(&s).await, 0, "nothing refused was dialled");
    assert!(log(&s).await.is_empty(), "not even a token was requested");
    // A number that is dialled is masked in the log too.
    let r = narrow.send(dial("+13175550100")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.log.contains("+1 •••• ••• ••00"), "{}", r.log);
    assert!(!r.log.contains("3175550100"), "{}", r.log);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_is_exact_and_foreign_origins_are_refused() {
    let s = fast_sim().await;
    let e = edge(&s, &[]);
    let mut pre = req("OPTIONS", "/v1/calls");
    let r = e.send(pre.clone()).await;
    assert_eq!(r.status, 204);
    assert_eq!(header(&r, "Access-Control-Allow-Origin"), Some(ORIGIN));
    assert!(header(&r, "Access-Control-Allow-Headers")
        .unwrap()
        .contains("Idempotency-Key"));
    assert_eq!(header(&r, "Vary"), Some("Origin"));
    for foreign in ["https://evil.example", "http://127.0.0.1:8081", "null"] {
        pre.origin = Some(foreign.into());
        let r = e.send(pre.clone()).await;
        assert_eq!(r.status, 403, "{foreign}");
        assert!(header(&r, "Access-Control-Allow-Origin").is_none());
        let mut p = dial("+13175550100");
        p.origin = Some(foreign.into());
        assert_eq!(e.send(p).await.status, 403);
    }
    assert_eq!(create_posts(&s).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_the_concurrent_call_cap() {
    let s = fast_sim().await;
    let e = edge(&s, &[("RATE_LIMIT_PER_IP", "2/60")]);
    e.place("+13175550100").await;
    e.place("+13175550101").await;
    let r = e.send(dial("+13175550102")).await;
    assert_eq!(
        (r.status, json(&r)["code"].as_str()),
        (429, Some("rate_limited"))
    );
    let wait: u64 = header(&r, "Retry-After").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    let mut other_ip = dial("+13175550102");
    other_ip.client_ip = "198.51.100.9".into();
    assert_eq!(e.send(other_ip).await.status, 201, "limits are per address");

    let per_number = edge(&s, &[("RATE_LIMIT_PER_NUMBER", "1/60")]);
    per_number.place("+13175550101").await;
    let mut again = dial("+13175550101");
    again.client_ip = "198.51.100.10".into();
    assert_eq!(per_number.send(again).await.status, 429);

    let cap = edge(&s, &[("MAX_CONCURRENT_CALLS_PER_NUMBER", "1")]);
    let h = cap.place("+13175550104").await;
    let r = cap.send(dial("+13175550104")).await;
    assert_eq!(r.status, 429, "a call to this number is in progress");
    assert!(json(&r)["message"]
        .as_str()
        .unwrap()
        .contains("already in progress"));
    assert_eq!(
        cap.send(req("DELETE", &format!("/v1/calls/{h}")))
            .await
            .status,
        204
    );
    cap.place("+13175550104").await;
    // 2 + 1 from another address, 1 per-number, 2 under the cap.
    assert_eq!(count(&log(&s).await, "POST", CREATE, Some(200)), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_with_one_key_places_one_call() {
    let s = fast_sim().await;
    let e = edge(&s, &[]);
    let click = || EdgeRequest {
        idempotency_key: Some("click-7f3a".into()),
        ..dial("+13175550104")
    };
    // Two clicks in flight at once, then a third later.
    let (a, b) = tokio::join!(e.send(click()), e.send(click()));
    let c = e.send(click()).await;
    assert_eq!((a.status, b.status, c.status), (201, 201, 201));
    assert_eq!(json(&a)["handle"], json(&b)["handle"]);
    assert_eq!(json(&a)["handle"], json(&c)["handle"]);
    assert_eq!(header(&c, "Idempotent-Replayed"), Some("true"));
    assert_eq!(create_posts(&s).await, 1);
    // Another key is another call.
    let other = e
        .send(EdgeRequest {
            idempotency_key: Some("click-8b21".into()),
            ..dial("+13175550104")
        })
        .await;
    assert_ne!(json(&other)["handle"], json(&a)["handle"]);
    assert_eq!(create_posts(&s).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_and_foreign_handles_are_not_found() {
    let s = fast_sim().await;
    let e = edge(&s, &[]);
    let h = e.place("+13175550104").await;
    let other_key = edge(
        &s,
        &[(
            "HANDLE_SIGNING_KEY",
            "a-different-signing-key-0123456789abcdef",
        )],
    );
    let forged = {
        let mut b = h.clone().into_bytes();
        let last = b.len() - 1;
        b[last] = if b[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    for (svc, handle) in [
        (&e, forged.as_str()),
        (&other_key, h.as_str()),
        (&e, "not-a-handle"),
        (&e, "../../api/v2/users/me"),
    ] {
        for (method, path) in [
            ("GET", format!("/v1/calls/{handle}")),
            ("GET", format!("/v1/calls/{handle}/events")),
            ("DELETE", format!("/v1/calls/{handle}")),
        ] {
            let r = svc.send(req(method, &path)).await;
            assert_eq!(r.status, 404, "{method} {path}");
        }
    }
    // The real handle still works; routes outside the API do not exist.
    assert_eq!(
        e.send(req("GET", &format!("/v1/calls/{h}"))).await.status,
        200
    );
    for path in [
        "/",
        "/api/v2/conversations/calls",
        "/v1/calls/x/y/z",
        "/v2/calls",
    ] {
        assert_eq!(e.send(req("GET", path)).await.status, 404, "{path}");
    }
    let r = e.send(req("PUT", "/v1/calls")).await;
    assert_eq!(
        (r.status, header(&r, "Allow")),
        (405, Some("POST, OPTIONS"))
    );
    assert_eq!(e.send(req("GET", "/v1/healthz")).await.status, 200);
    e.send(req("DELETE", &format!("/v1/calls/{h}"))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_bodies_are_refused_without_dialling() {
    let s = fast_sim().await;
    let e = edge(&s, &[]);
    let big = format!(
        r#"{{"phoneNumber":"+13175550100","pad":"{}"}}"#,
        "x".repeat(100_000)
    );
    let cases: Vec<(EdgeRequest, u16)> = vec![
        (post(r#"{"phoneNumber":"+1317555"#), 400),
        (post(r#"{"phoneNumber":13175550100}"#), 400),
        (
            post(r#"{"phoneNumber":"+13175550100","agentId":"someone"}"#),
            400,
        ),
        (post(r#"["+13175550100"]"#), 400),
        (post(r#"{"phoneNumber":"not a number"}"#), 400),
        (post(""), 400),
        (post(&big), 413),
        (
            EdgeRequest {
                content_type: Some("text/plain".into()),
                ..dial("+13175550100")
            },
            415,
        ),
        (
            EdgeRequest {
                content_type: None,
                ..dial("+13175550100")
            },
            415,
        ),
        (
            EdgeRequest {
                idempotency_key: Some("x".repeat(500)),
                ..dial("+13175550100")
            },
            400,
        ),
    ];
    for (r, want) in cases {
        let resp = e.send(r).await;
        assert_eq!(resp.status, want, "{}", resp.body);
        assert_eq!(json(&resp)["code"], "invalid_input");
    }
    assert_eq!(create_posts(&s).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesys_failures_surface_as_clear_errors_with_one_post() {
    let s = fast_sim().await;
    let e = edge(&s, &[]);
    fault(&s, r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","when":"after","status":503}"#).await;
    let key = || EdgeRequest {
        idempotency_key: Some("k-503".into()),
        ..dial("+13175550100")
    };
    let r = e.send(key()).await;
    assert_eq!(
        (r.status, json(&r)["code"].as_str()),
        (502, Some("outcome_unknown"))
    );
    assert!(
        r.log.contains("outcome_unknown") && r.log.contains("contextId"),
        "{}",
        r.log
    );
    // Retrying with the same key must not dial again.
    assert_eq!(json(&e.send(key()).await)["code"], "outcome_unknown");
    assert_eq!(create_posts(&s).await, 1);

    fault(&s, r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","status":429,"retryAfter":60}"#).await;
    let r = e.send(dial("+13175550101")).await;
    assert_eq!(
        (r.status, json(&r)["code"].as_str()),
        (429, Some("rate_limited"))
    );
    assert_eq!(header(&r, "Retry-After"), Some("60"));
    let l = log(&s).await;
    // One POST that Genesys acted on (then failed to answer), one it refused with 429.
    assert_eq!(
        (
            count(&l, "POST", CREATE, Some(503)),
            count(&l, "POST", CREATE, Some(429)),
            count(&l, "POST", CREATE, None)
        ),
        (1, 1, 2)
    );
    e.assert_secret_never_seen();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misconfiguration_names_the_variable_on_every_request() {
    let s = fast_sim().await;
    let e = edge(&s, &[("GENESYS_CLIENT_SECRET", "")]);
    for (r, status) in [
        (dial("+13175550100"), 500),
        // healthz is what a deploy check reads: unavailable, not fine.
        (req("GET", "/v1/healthz"), 503),
        (req("GET", "/anything"), 500),
    ] {
        let resp = e.send(r).await;
        assert_eq!(resp.status, status);
        assert_eq!(json(&resp)["code"], "misconfigured");
        assert!(json(&resp)["message"]
            .as_str()
            .unwrap()
            .contains("GENESYS_CLIENT_SECRET"));
    }
    let wrong = edge(&s, &[("GENESYS_CLIENT_SECRET", "a-wrong-secret-value")]);
    let r = wrong.send(dial("+13175550100")).await;
    assert_eq!(r.status, 502);
    assert!(!r.body.contains("a-wrong-secret-value") && !r.log.contains("a-wrong-secret-value"));
    assert!(log(&s)
        .await
        .iter()
        .all(|l| l["path"] != "/api/v2/conversations/calls/user/".to_string() + ADA));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_policy_setting_makes_healthz_503() {
    let s = fast_sim().await;
    assert_eq!(
        edge(&s, &[]).send(req("GET", "/v1/healthz")).await.status,
        200
    );
    for (variable, value) in [
        ("ALLOWED_COUNTRIES", "UK"),         // not a region code
        ("ALLOWED_COUNTRIES", "US,CU"),      // wholly on the high-risk list
        ("ALLOWED_NUMBER_TYPES", "premium"), // not a type name
        ("ALLOWED_DIAL_PREFIXES", "1317"),   // not an E.164 prefix
        ("ALLOWED_DIAL_PREFIXES", "+44"),    // outside US,CA
        ("BLOCKED_DIAL_PREFIXES", "53"),     // not an E.164 prefix
    ] {
        let e = edge(&s, &[(variable, value)]);
        let r = e.send(req("GET", "/v1/healthz")).await;
        assert_eq!(r.status, 503, "{variable}={value}: {}", r.body);
        assert_eq!(json(&r)["code"], "misconfigured");
        let message = json(&r)["message"].as_str().unwrap().to_string();
        assert!(message.contains(variable), "{variable}={value}: {message}");
        assert_eq!(e.send(dial("+13175550100")).await.status, 500);
    }
    assert!(
        log(&s).await.is_empty(),
        "a misconfigured edge asks Genesys nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turnstile_fails_closed() {
    let s = fast_sim().await;
    let verify = format!("{}/__sim/turnstile/siteverify", s.url());
    let e = edge(
        &s,
        &[
            ("TURNSTILE_SECRET", "sim-turnstile-secret"),
            ("TURNSTILE_VERIFY_URL", &verify),
        ],
    );
    for body in [
        r#"{"phoneNumber":"+13175550100"}"#,
        r#"{"phoneNumber":"+13175550100","turnstileToken":"forged"}"#,
    ] {
        let r = e.send(post(body)).await;
        assert_eq!(
            (r.status, json(&r)["code"].as_str()),
            (403, Some("policy_denied")),
            "{body}"
        );
    }
    let r = e
        .send(post(
            r#"{"phoneNumber":"+13175550100","turnstileToken":"sim-turnstile-pass"}"#,
        ))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let unreachable = edge(
        &s,
        &[
            ("TURNSTILE_SECRET", "sim-turnstile-secret"),
            ("TURNSTILE_VERIFY_URL", "http://127.0.0.1:9/siteverify"),
        ],
    );
    let r = unreachable
        .send(post(
            r#"{"phoneNumber":"+13175550100","turnstileToken":"sim-turnstile-pass"}"#,
        ))
        .await;
    assert_eq!(r.status, 403, "an unreachable verifier refuses");
    assert_eq!(create_posts(&s).await, 1);
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// A stand-in for Cloudflare's bindings: a store shared between "isolates"
/// and a limiter that allows `allow` hits in all.
struct FakePlatform<'a> {
    store: &'a RefCell<Vec<(String, String)>>,
    allow: std::cell::Cell<u32>,
}

impl genesys_click_to_call::edge::service::Platform for FakePlatform<'_> {
    async fn limit(
        &self,
        which: genesys_click_to_call::edge::service::Limit,
        _: &str,
    ) -> Option<bool> {
        if which != genesys_click_to_call::edge::service::Limit::PerAddress {
            return None;
        }
        let left = self.allow.get();
        self.allow.set(left.saturating_sub(1));
        Some(left > 0)
    }
    async fn recall(&self, key: &str) -> Option<String> {
        assert!(
            !key.contains("203.0.113"),
            "the visitor's address is not stored in the clear"
        );
        self.store
            .borrow()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
    async fn remember(&self, key: &str, value: &str, ttl_secs: u64) {
        assert_eq!(ttl_secs, 86_400);
        self.store
            .borrow_mut()
            .push((key.to_string(), value.to_string()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_platform_limiter_and_shared_idempotency_store_are_used() {
    let s = fast_sim().await;
    let store = RefCell::new(Vec::new());
    let vars = |k: &str| -> Option<String> {
        let v = match k {
            "GENESYS_API_BASE" => s.url(),
            "GENESYS_CLIENT_ID" => "sim-edge".into(),
            "GENESYS_CLIENT_SECRET" => SECRET.into(),
            "GENESYS_AGENT_USER_ID" => ADA.into(),
            "ALLOWED_ORIGINS" => ORIGIN.into(),
            "ALLOWED_DIAL_PREFIXES" => "+1317555".into(),
            "HANDLE_SIGNING_KEY" => "edge-test-signing-key-0123456789abcdef".into(),
            "RATE_LIMIT_PER_IP" => "100/60".into(),
            _ => return None,
        };
        Some(v)
    };
    let isolate = |allow| {
        EdgeService::with_platform(
            Reqwest(reqwest()),
            TokioClock(Instant::now()),
            FakePlatform {
                store: &store,
                allow: std::cell::Cell::new(allow),
            },
            vars,
        )
    };
    let first = isolate(5);
    let key = || EdgeRequest {
        idempotency_key: Some("kv-key-1".into()),
        ..dial("+13175550104")
    };
    let a = first.handle(key()).await;
    assert_eq!(a.status, 201);
    // Another isolate (empty memory) replays from the shared store: no second call.
    let second = isolate(5);
    let b = second.handle(key()).await;
    assert_eq!(
        (b.status, json(&b)["handle"].clone()),
        (201, json(&a)["handle"].clone())
    );
    assert_eq!(create_posts(&s).await, 1);
    // The bound limiter decides, even though the memory limit (100/60) would allow.
    // Different numbers, so neither the per-number limit nor the concurrency cap can be what refuses.
    let strict = isolate(1);
    assert_eq!(strict.handle(dial("+13175550100")).await.status, 201);
    let r = strict.handle(dial("+13175550101")).await;
    assert_eq!(
        (r.status, json(&r)["code"].as_str()),
        (429, Some("rate_limited"))
    );
    assert!(r.log.contains("per-ip limit"), "{}", r.log);
}
