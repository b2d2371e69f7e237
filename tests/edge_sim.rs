//! The edge service end to end on the host: visitor requests through the real
//! service, desks and gateway to genesys-sim over loopback. Every abuse case
//! is refused before Genesys is asked (the simulator's log proves it), no
//! fault makes it dial twice, and no answer or log line holds the secret, the
//! signing key, a whole number, a whole handle or a client address.
//! "Isolates" sharing Durable Objects are services sharing one `LocalFleet`.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::*;
use genesys_click_to_call::edge::{EdgeRequest, EdgeResponse, EdgeService, Fleet, LocalFleet};
use genesys_sim::Running;
use serde_json::Value;

const ORIGIN: &str = EDGE_ORIGIN;
const SECRET: &str = EDGE_SECRET;
const SIGNING_KEY: &str = EDGE_SIGNING_KEY;
const VISITOR: &str = "203.0.113.7";

type Local = LocalFleet<Reqwest, WallClock>;

struct Edge<F = Local> {
    svc: EdgeService<F>,
    seen: RefCell<Vec<String>>,
}

fn vars(s: &Running, overrides: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    edge_env(s, overrides)
}

fn edge(s: &Running, overrides: &[(&str, &str)]) -> Edge {
    edge_at(s, overrides, WallClock::default())
}

fn edge_at(s: &Running, overrides: &[(&str, &str)], clock: WallClock) -> Edge {
    Edge {
        svc: EdgeService::new(Reqwest(reqwest()), clock, vars(s, overrides)),
        seen: RefCell::new(Vec::new()),
    }
}

/// `n` "isolates" sharing one set of coordinators, as Durable Objects share them.
fn fleet(s: &Running, overrides: &[(&str, &str)], n: usize) -> Vec<Edge<Rc<Local>>> {
    let cfg = genesys_click_to_call::edge::EdgeConfig::from_env(vars(s, overrides)).unwrap();
    let shared = Rc::new(LocalFleet::new(
        Reqwest(reqwest()),
        WallClock::default(),
        &cfg,
    ));
    (0..n)
        .map(|i| Edge {
            svc: EdgeService::build(vars(s, overrides), &[i as u8; 16], |_| shared.clone()),
            seen: RefCell::new(Vec::new()),
        })
        .collect()
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
        address_header: Some(VISITOR.into()),
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

fn keyed(number: &str, key: &str) -> EdgeRequest {
    EdgeRequest {
        idempotency_key: Some(key.into()),
        ..dial(number)
    }
}

fn from(ip: &str, r: EdgeRequest) -> EdgeRequest {
    EdgeRequest {
        address_header: Some(ip.into()),
        ..r
    }
}

/// What an event stream showed, to its end.
#[derive(Debug, Default)]
struct Stream {
    statuses: Vec<Value>,
    pending: bool,
    error: Option<String>,
    heartbeats: usize,
}

impl<F: Fleet> Edge<F> {
    /// Sends a request and records everything a visitor or the log could see.
    async fn send(&self, r: EdgeRequest) -> EdgeResponse {
        let resp = self.svc.handle(r).await;
        let mut seen = self.seen.borrow_mut();
        seen.push(resp.body.clone());
        seen.push(resp.log.clone());
        seen.extend(resp.headers.iter().map(|(k, v)| format!("{k}: {v}")));
        assert!(
            resp.headers
                .iter()
                .any(|(k, v)| k == "X-Content-Type-Options" && v == "nosniff"),
            "nosniff on every answer"
        );
        resp
    }

    /// Asserts that nothing seen holds a secret, a whole number or handle, or a clear address.
    fn assert_nothing_leaked(&self, numbers: &[&str], handles: &[String]) {
        for s in self.seen.borrow().iter() {
            assert!(!s.contains(SECRET), "the client secret leaked: {s}");
            assert!(!s.contains(SIGNING_KEY), "the signing key leaked: {s}");
            assert!(!s.contains(VISITOR), "a client address in clear: {s}");
            for n in numbers {
                assert!(!s.contains(&n[2..]), "a whole number: {s}");
            }
            if s.starts_with('{') && s.contains("correlationId") && s.contains("\"path\"") {
                for h in handles {
                    assert!(!s.contains(h.as_str()), "a whole handle in a log line: {s}");
                }
            }
        }
    }

    async fn place(&self, number: &str) -> String {
        let r = self.send(dial(number)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        json(&r)["handle"].as_str().unwrap().to_string()
    }

    /// Reads the SSE stream to its end.
    async fn events(&self, handle: &str) -> Stream {
        let r = self
            .send(req("GET", &format!("/v1/calls/{handle}/events")))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(header(&r, "Content-Type"), Some("text/event-stream"));
        let mut out = Stream {
            pending: r.body.contains("event: pending"),
            ..Stream::default()
        };
        let (mut stream, mut cursor) = (r.stream.expect("a stream"), String::new());
        for _ in 0..400 {
            let next = self.svc.next_event(&stream, &cursor).await;
            self.seen.borrow_mut().push(next.chunk.clone());
            for event in next.chunk.split("\n\n").filter(|e| !e.is_empty()) {
                match sse_field(event, "event") {
                    Some("status") => {
                        let data = sse_field(event, "data").unwrap();
                        out.statuses.push(serde_json::from_str(data).unwrap());
                        assert!(sse_field(event, "id").is_some(), "a status carries its id");
                    }
                    Some("error") => {
                        let v: Value =
                            serde_json::from_str(sse_field(event, "data").unwrap()).unwrap();
                        out.error = v["code"].as_str().map(str::to_string);
                    }
                    _ => {}
                }
                out.heartbeats += usize::from(event.starts_with(": heartbeat"));
            }
            if next.done {
                assert!(
                    out.error.is_some() || next.chunk.contains("event: end"),
                    "a stream ends with end or error"
                );
                if next.after {
                    // The shell's background step after closing.
                    let last = self.svc.next_event(&next.stream, &next.cursor).await;
                    assert!(last.done && last.chunk.is_empty() && !last.after);
                }
                return out;
            }
            stream = next.stream;
            cursor = next.cursor;
        }
        panic!("the stream never ended");
    }
}

/// The value of one field of an SSE event block (`id`, `event`, `data`).
fn sse_field<'a>(event: &'a str, name: &str) -> Option<&'a str> {
    event
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
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

async fn posts_to(s: &Running, number: &str) -> usize {
    log(s)
        .await
        .iter()
        .filter(|e| e["method"] == "POST" && e["phoneNumber"] == number)
        .count()
}

fn last_outcome(s: &Stream) -> (Option<&str>, Option<&str>) {
    let last = s.statuses.last().expect("a status");
    (last["phase"].as_str(), last["outcome"].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_call_streams_to_completed() {
    let s = fast_sim().await;
    let e = edge(&s, &[]);
    let r = e.send(dial("+13175550100")).await;
    assert_eq!(r.status, 201);
    let body = json(&r);
    let h = body["handle"].as_str().unwrap().to_string();
    assert_eq!(body["statusUrl"], format!("/v1/calls/{h}"));
    assert_eq!(body["eventsUrl"], format!("/v1/calls/{h}/events"));
    assert_eq!(header(&r, "Access-Control-Allow-Origin"), Some(ORIGIN));
    let stream = e.events(&h).await;
    let phases: Vec<&str> = stream
        .statuses
        .iter()
        .map(|s| s["phase"].as_str().unwrap())
        .collect();
    assert!(phases.contains(&"connected"), "{phases:?}");
    assert_eq!(last_outcome(&stream), (Some("ended"), Some("completed")));
    // Visitors see states, not the agent's identity.
    let text = serde_json::to_string(&stream.statuses).unwrap();
    assert!(!text.contains(ADA) && !text.contains("Ada"), "{text}");
    let status = e.send(req("GET", &format!("/v1/calls/{h}"))).await;
    assert_eq!(json(&status)["outcome"], "completed");
    // The call went out on behalf of the configured agent, once.
    let l = log(&s).await;
    assert_eq!(count(&l, "POST", &format!("{CREATE}{ADA}"), Some(200)), 1);
    // The log masks the number and shows a handle's prefix only.
    let logs = e.seen.borrow().join("\n");
    assert!(logs.contains("+1 •••• ••• ••00"), "{logs}");
    assert!(logs.contains(&format!("/v1/calls/{}…", &h[..8])), "{logs}");
    e.assert_nothing_leaked(&["+13175550100"], &[h]);
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
        let stream = e.events(&h).await;
        let last = stream.statuses.last().unwrap();
        assert_eq!(last["outcome"], outcome, "{number}");
        assert_eq!(last["customer"]["disconnectReason"]["code"], sip);
    }
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
    let mut numbers = Vec::new();
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
        numbers.push(number);
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
    everything.assert_nothing_leaked(&numbers, &[]);
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
    assert_eq!(
        e.send(from("198.51.100.9", dial("+13175550102")))
            .await
            .status,
        201,
        "limits are per address"
    );

    let per_number = edge(&s, &[("RATE_LIMIT_PER_NUMBER", "1/60")]);
    per_number.place("+13175550101").await;
    let again = from("198.51.100.10", dial("+13175550101"));
    assert_eq!(per_number.send(again).await.status, 429);

    let cap = edge(&s, &[("MAX_CONCURRENT_CALLS_PER_NUMBER", "1")]);
    let h = cap.place("+13175550104").await;
    // The same visitor clicking again gets their call back, not a second one…
    let mine = cap.send(dial("+13175550104")).await;
    assert_eq!(
        (mine.status, json(&mine)["handle"].as_str()),
        (201, Some(h.as_str()))
    );
    assert_eq!(header(&mine, "Idempotent-Replayed"), Some("true"));
    // …another visitor meets the cap.
    let r = cap.send(from("198.51.100.11", dial("+13175550104"))).await;
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
    // A call whose end was streamed frees the cap at once: the stream's
    // background step (`after`) tells the number's desk.
    let h = cap.place("+13175550105").await;
    assert_eq!(last_outcome(&cap.events(&h).await).0, Some("ended"));
    let r = cap.send(from("198.51.100.12", dial("+13175550105"))).await;
    assert_eq!(r.status, 201, "the ended call no longer holds the cap");
    // 2 + 1 from another address, 1 per-number, 2 under the cap, 2 after an end.
    assert_eq!(count(&log(&s).await, "POST", CREATE, Some(200)), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_with_one_key_places_one_call() {
    let s = fast_sim().await;
    let e = edge(&s, &[]);
    let click = || keyed("+13175550104", "click-7f3a");
    // Two clicks in flight at once, then a third later.
    let (a, b) = tokio::join!(e.send(click()), e.send(click()));
    let c = e.send(click()).await;
    assert_eq!((a.status, b.status, c.status), (201, 201, 201));
    assert_eq!(json(&a)["handle"], json(&b)["handle"]);
    assert_eq!(json(&a)["handle"], json(&c)["handle"]);
    assert_eq!(header(&c, "Idempotent-Replayed"), Some("true"));
    assert_eq!(create_posts(&s).await, 1);
    // Another key from another visitor is another call.
    let other = e
        .send(from("198.51.100.20", keyed("+13175550104", "click-8b21")))
        .await;
    assert_eq!(other.status, 201, "{}", other.body);
    assert_ne!(json(&other)["handle"], json(&a)["handle"]);
    assert_eq!(create_posts(&s).await, 2);
    // The same key for another number is refused, and dials nothing.
    let reused = e.send(keyed("+13175550100", "click-7f3a")).await;
    assert_eq!(
        (reused.status, json(&reused)["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    assert_eq!(create_posts(&s).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_concurrent_clicks_without_a_key_place_one_call() {
    let s = fast_sim().await;
    let e = edge(&s, &[("MAX_CONCURRENT_CALLS_PER_NUMBER", "1")]);
    // Genesys takes 300 ms to answer each create.
    fault(&s, r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","when":"after","delayMs":300,"count":5}"#).await;
    let answers = join_all((0..5).map(|_| e.send(dial("+13175550133"))).collect()).await;
    let handles: Vec<String> = answers
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.body);
            json(r)["handle"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(
        handles.iter().all(|h| h == &handles[0]),
        "one call, one handle"
    );
    assert_eq!(posts_to(&s, "+13175550133").await, 1);
}

/// Every fault after the create-call POST (the call exists in Genesys):
/// two clicks with different keys → one POST; once the edge has found the
/// call, both visitors' streams reach its final status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_resolved_not_redialled() {
    let s = fast_sim().await;
    let e = edge(&s, &[("GENESYS_REQUEST_TIMEOUT_MS", "1000")]);
    let faults = [
        ("+13175550201", r#""status":503"#),
        ("+13175550202", r#""drop":true"#),
        ("+13175550203", r#""malformed":true"#),
        ("+13175550204", r#""delayMs":2500"#),
    ];
    let run = |number: &'static str, fault_spec: &'static str, key: usize| {
        let (e, s) = (&e, &s);
        async move {
            let first = e.send(keyed(number, &format!("first-{key}"))).await;
            assert_eq!(
                (first.status, json(&first)["code"].as_str()),
                (202, Some("call_may_be_ringing")),
                "{fault_spec}: {}",
                first.body
            );
            assert!(json(&first)["correlationId"].is_string());
            let h1 = json(&first)["handle"].as_str().unwrap().to_string();
            // The widget of old cleared its key: the natural second click.
            let second = e.send(keyed(number, &format!("second-{key}"))).await;
            assert_eq!(second.status, 202, "{fault_spec}: {}", second.body);
            let h2 = json(&second)["handle"].as_str().unwrap().to_string();
            assert_eq!(h1, h2, "{fault_spec}: the pending call's handle");
            // The pending handle reads as "may be ringing" until resolved.
            let early = e.send(req("GET", &format!("/v1/calls/{h1}"))).await;
            assert!(matches!(early.status, 200 | 202), "{}", early.body);
            let (a, b) = tokio::join!(e.events(&h1), e.events(&h2));
            for stream in [&a, &b] {
                assert!(
                    stream.pending,
                    "{fault_spec}: the stream says it may be ringing first"
                );
                assert_eq!(
                    last_outcome(stream),
                    (Some("ended"), Some("completed")),
                    "{fault_spec}: {stream:?}"
                );
            }
            let _ = s;
            h1
        }
    };
    let mut handles = Vec::new();
    for (i, (number, spec)) in faults.iter().enumerate() {
        fault_after_create(&s, spec).await;
        handles.push(run(number, spec, i).await);
        assert_eq!(
            posts_to(&s, number).await,
            1,
            "{spec}: exactly one create-call POST"
        );
    }
    // The lookup is one read per unknown outcome.
    let l = log(&s).await;
    assert_eq!(count(&l, "POST", DETAILS_QUERY, Some(200)), 4);
    let numbers: Vec<&str> = faults.iter().map(|(n, _)| *n).collect();
    e.assert_nothing_leaked(&numbers, &handles);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_visitor_is_told_a_call_may_be_ringing_without_its_handle() {
    let s = fast_sim().await;
    let e = edge(&s, &[("SETTLE_WINDOW_SECS", "10")]);
    fault(&s, r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","when":"after","status":503}"#).await;
    let first = e.send(dial("+13175550211")).await;
    assert_eq!(first.status, 202);
    let other = e.send(from("198.51.100.30", dial("+13175550211"))).await;
    assert_eq!(
        (other.status, json(&other)["code"].as_str()),
        (409, Some("call_may_be_ringing"))
    );
    assert!(
        json(&other).get("handle").is_none(),
        "not another visitor's call"
    );
    let wait: u64 = header(&other, "Retry-After").unwrap().parse().unwrap();
    assert!((1..=10).contains(&wait), "{wait}");
    assert_eq!(posts_to(&s, "+13175550211").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_answers_busy_fast_and_calls_keep_their_share() {
    let s = sim(|c| {
        c.rate_limit = 60;
        c.time_scale = 0.05;
    })
    .await;
    let e = edge(&s, &[("GENESYS_REQUESTS_PER_MINUTE", "60")]);
    let started = Instant::now();
    let answers = join_all(
        (0..90)
            .map(|i| {
                let e = &e;
                async move {
                    let t = Instant::now();
                    let r = e
                        .send(from(
                            &format!("198.51.100.{}", i % 200),
                            dial(&format!("+131755503{i:02}")),
                        ))
                        .await;
                    (r, t.elapsed())
                }
            })
            .collect(),
    )
    .await;
    for (r, took) in &answers {
        assert!(*took < Duration::from_millis(2_500), "answered in {took:?}");
        assert!(matches!(r.status, 201 | 503), "{}", r.body);
        if r.status == 503 {
            assert_eq!(json(r)["code"], "busy");
            assert!(header(r, "Retry-After").is_some());
        }
    }
    let placed = answers.iter().filter(|(r, _)| r.status == 201).count();
    // The whole budget but one burst of agent lookups (presence, routing
    // status, station), shared by every call of the burst.
    assert_eq!(placed, 57, "calls may use the whole budget");
    assert!(started.elapsed() < Duration::from_secs(5));
    let l = log(&s).await;
    assert_eq!(
        l.iter().filter(|x| x["status"] == 429).count(),
        0,
        "never a 429 from Genesys"
    );

    // 400 reads of one handle, with a generous per-client read limit, cannot
    // delay another visitor's call (a fresh budget: a fresh sim and edge).
    let s = sim(|c| {
        c.rate_limit = 20;
        c.time_scale = 0.05;
    })
    .await;
    let e = edge(
        &s,
        &[
            ("GENESYS_REQUESTS_PER_MINUTE", "20"),
            ("RATE_LIMIT_READS_PER_IP", "10000/60"),
        ],
    );
    let mut handles = Vec::new();
    for i in 0..8 {
        handles.push(e.place(&format!("+131755504{i:02}")).await);
    }
    let reads = join_all(
        (0..400)
            .map(|i| e.send(req("GET", &format!("/v1/calls/{}", handles[i % 8]))))
            .collect(),
    );
    let call = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        let r = e.send(from("198.51.100.99", dial("+13175550499"))).await;
        (r, t.elapsed())
    };
    let (reads, (placed, took)) = tokio::join!(reads, call);
    assert_eq!(placed.status, 201, "{}", placed.body);
    assert!(took < Duration::from_millis(2_500), "{took:?}");
    assert!(reads.iter().all(|r| matches!(r.status, 200 | 503)));
    let l = log(&s).await;
    let reads_sent = count(&l, "GET", "/api/v2/conversations/", None);
    assert!(
        reads_sent <= 16,
        "reads stay in their share (80% of 20): {reads_sent}"
    );
    assert_eq!(l.iter().filter(|x| x["status"] == 429).count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_address_counts_only_from_a_trusted_source() {
    let s = fast_sim().await;
    // No trusted header: a forged CF-Connecting-IP changes nothing.
    let untrusted = edge(
        &s,
        &[
            ("CLIENT_ADDRESS_HEADER", ""),
            ("RATE_LIMIT_PER_IP", "5/600"),
        ],
    );
    let mut refused = 0;
    for i in 0..12 {
        let r = untrusted
            .send(from(
                &format!("192.0.2.{i}"),
                dial(&format!("+131755506{i:02}")),
            ))
            .await;
        refused += usize::from(r.status == 429);
    }
    assert!(refused >= 7, "only {refused} refused");
    let health = untrusted.send(req("GET", "/v1/healthz")).await;
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(json(&health)["clientAddress"], "shared");
    assert!(json(&health)["warnings"]
        .to_string()
        .contains("one rate-limit bucket"));
    // A connection address (Deno) counts when no header is trusted.
    let deno = edge(
        &s,
        &[
            ("CLIENT_ADDRESS_HEADER", ""),
            ("RATE_LIMIT_PER_IP", "1/600"),
        ],
    );
    let conn = |ip: &str, n: &str| EdgeRequest {
        address_header: None,
        connection: Some(ip.into()),
        ..dial(n)
    };
    assert_eq!(
        deno.send(conn("192.0.2.50", "+13175550650")).await.status,
        201
    );
    assert_eq!(
        deno.send(conn("192.0.2.51", "+13175550651")).await.status,
        201
    );
    assert_eq!(
        deno.send(conn("192.0.2.50", "+13175550652")).await.status,
        429
    );
    // One IPv6 /64 is one visitor.
    assert_eq!(
        deno.send(conn("2001:db8:1:2::1", "+13175550653"))
            .await
            .status,
        201
    );
    assert_eq!(
        deno.send(conn("2001:db8:1:2::ffff", "+13175550654"))
            .await
            .status,
        429
    );
    untrusted.assert_nothing_leaked(&[], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_expire_and_an_ended_call_no_longer_reaches_genesys() {
    let s = fast_sim().await;
    let clock = WallClock::default();
    let e = edge_at(&s, &[("HANDLE_TTL_SECS", "3600")], clock.clone());
    let h = e.place("+13175550103").await;
    let stream = e.events(&h).await;
    assert_eq!(last_outcome(&stream), (Some("ended"), Some("failed")));
    let before = log(&s).await.len();
    for _ in 0..5 {
        let r = e.send(req("GET", &format!("/v1/calls/{h}"))).await;
        assert_eq!(json(&r)["outcome"], "failed");
    }
    assert_eq!(
        e.send(req("DELETE", &format!("/v1/calls/{h}")))
            .await
            .status,
        204
    );
    assert_eq!(
        e.events(&h).await.statuses.len(),
        1,
        "the final status, from memory"
    );
    assert_eq!(log(&s).await.len(), before, "nothing reached Genesys");
    // An hour later the handle is dead.
    clock.0.set(3_600_000);
    for (m, p) in [
        ("GET", format!("/v1/calls/{h}")),
        ("DELETE", format!("/v1/calls/{h}")),
        ("GET", format!("/v1/calls/{h}/events")),
    ] {
        let r = e.send(req(m, &p)).await;
        assert_eq!(
            (r.status, json(&r)["code"].as_str()),
            (404, Some("not_found")),
            "{m} {p}"
        );
    }
    assert_eq!(log(&s).await.len(), before);
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
    let before = log(&s).await.len();
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
    assert_eq!(
        log(&s).await.len(),
        before,
        "nothing forged reached Genesys"
    );
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
    let long_field = format!(
        r#"{{"phoneNumber":"+13175550100","{}":1}}"#,
        "f".repeat(4000)
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
        (post(&long_field), 400),
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
        // The shell could not read the body (bad chunked framing, a half-close).
        (
            EdgeRequest {
                body_error: true,
                body: String::new(),
                ..dial("+13175550100")
            },
            400,
        ),
    ];
    for (r, want) in cases {
        let resp = e.send(r).await;
        assert_eq!(resp.status, want, "{}", resp.body);
        assert_eq!(json(&resp)["code"], "invalid_input");
        assert!(resp.body.len() < 600, "echoes are truncated: {}", resp.body);
        assert!(resp.log.len() < 900, "and in the log: {}", resp.log);
    }
    assert_eq!(create_posts(&s).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genesys_refusals_surface_as_clear_errors_with_one_post() {
    let s = fast_sim().await;
    let e = edge(&s, &[]);
    fault(&s, r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","status":429,"retryAfter":60}"#).await;
    let r = e.send(dial("+13175550101")).await;
    assert_eq!(
        (r.status, json(&r)["code"].as_str()),
        (429, Some("rate_limited"))
    );
    assert_eq!(header(&r, "Retry-After"), Some("60"));
    // Refused before acting: the number is free again at once.
    assert_eq!(e.send(dial("+13175550101")).await.status, 201);
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
async fn readiness_names_the_failing_piece() {
    let s = fast_sim().await;
    let good = edge(&s, &[]);
    let r = good.send(req("GET", "/v1/healthz")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["ok"], true);
    assert_eq!(json(&r)["guarantees"], "instance");
    assert!(json(&r)["warnings"].to_string().contains("per instance"));
    assert_eq!(json(&r)["clientAddress"], "header");
    // Cached: a second check sends nothing.
    let before = log(&s).await.len();
    good.send(req("GET", "/v1/healthz")).await;
    assert_eq!(log(&s).await.len(), before);

    for (overrides, names) in [
        (
            vec![("GENESYS_CLIENT_SECRET", "a-wrong-secret-value")],
            "GENESYS_CLIENT_SECRET",
        ),
        (
            vec![(
                "GENESYS_AGENT_USER_ID",
                "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0aff",
            )],
            "GENESYS_AGENT_USER_ID",
        ),
        (
            vec![("GENESYS_API_BASE", "http://127.0.0.1:9")],
            "GENESYS_API_BASE",
        ),
    ] {
        let e = edge(&s, &overrides);
        let r = e.send(req("GET", "/v1/healthz")).await;
        assert_eq!(
            (r.status, json(&r)["code"].as_str()),
            (503, Some("not_ready")),
            "{names}: {}",
            r.body
        );
        assert!(
            json(&r)["message"].as_str().unwrap().contains(names),
            "{}",
            r.body
        );
        assert!(!r.body.contains(overrides[0].1), "the value never shows");
    }
    // A call with an unknown agent is a server error, not a misleading "No such call".
    let e = edge(
        &s,
        &[(
            "GENESYS_AGENT_USER_ID",
            "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0aff",
        )],
    );
    let r = e.send(dial("+13175550100")).await;
    assert_eq!(
        (r.status, json(&r)["code"].as_str()),
        (502, Some("server_error"))
    );
    assert!(r.log.contains("GENESYS_AGENT_USER_ID"), "{}", r.log);
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
    assert_eq!(create_posts(&s).await, 0);
    // Correlation ids differ between instances, even misconfigured ones.
    let a = edge(&s, &[("GENESYS_CLIENT_SECRET", "")])
        .send(req("GET", "/"))
        .await;
    let b = edge(&s, &[("GENESYS_CLIENT_SECRET", "")])
        .send(req("GET", "/"))
        .await;
    assert_ne!(json(&a)["correlationId"], json(&b)["correlationId"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_policy_setting_makes_healthz_503() {
    let s = fast_sim().await;
    assert_eq!(
        edge(&s, &[]).send(req("GET", "/v1/healthz")).await.status,
        200
    );
    // A well-configured edge's healthz reads Genesys (readiness); the bad ones must add nothing.
    let before = log(&s).await.len();
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
    assert_eq!(
        log(&s).await.len(),
        before,
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
            r#"{"phoneNumber":"+13175550101","turnstileToken":"sim-turnstile-pass"}"#,
        ))
        .await;
    assert_eq!(r.status, 403, "an unreachable verifier refuses");
    assert_eq!(create_posts(&s).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolates_sharing_coordinators_keep_every_guarantee() {
    let s = fast_sim().await;
    let isolates = fleet(
        &s,
        &[
            ("MAX_CONCURRENT_CALLS_PER_NUMBER", "1"),
            ("RATE_LIMIT_PER_IP", "5/600"),
        ],
        2,
    );
    let (a, b) = (&isolates[0], &isolates[1]);
    // One key on two isolates at once, and 100 ms apart: one call, one handle.
    let click = || keyed("+13175550701", "fleet-key");
    let (x, y) = tokio::join!(a.send(click()), async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        b.send(click()).await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let z = b.send(click()).await;
    assert_eq!(
        (x.status, y.status, z.status),
        (201, 201, 201),
        "{} {}",
        x.body,
        y.body
    );
    assert_eq!(json(&x)["handle"], json(&y)["handle"]);
    assert_eq!(json(&x)["handle"], json(&z)["handle"]);
    assert_eq!(posts_to(&s, "+13175550701").await, 1);
    // A fault after the POST on A, a new click on B: no second POST.
    fault(&s, r#"{"method":"POST","path":"/api/v2/conversations/calls/user/*","when":"after","status":503}"#).await;
    assert_eq!(a.send(dial("+13175550702")).await.status, 202);
    let again = b.send(dial("+13175550702")).await;
    assert_eq!(
        (again.status, json(&again)["code"].as_str()),
        (202, Some("call_may_be_ringing"))
    );
    assert_eq!(posts_to(&s, "+13175550702").await, 1);
    // The per-address limit holds across isolates: 12 alternating requests, 5 allowed in all (2 used above).
    let mut refused = 0;
    for i in 0..12 {
        let on = &isolates[i % 2];
        let r = on.send(dial(&format!("+131755507{:02}", 10 + i))).await;
        refused += usize::from(r.status == 429);
    }
    assert!(refused >= 7, "{refused}");
    // One token for the fleet.
    assert_eq!(
        log(&s)
            .await
            .iter()
            .filter(|e| e["path"] == "/oauth/token")
            .count(),
        1
    );
}
