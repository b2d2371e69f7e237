//! Shared by the host suites that drive the real client against genesys-sim:
//! a reqwest transport, a tokio clock, and helpers for the simulator's hooks.
#![allow(dead_code)]

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use genesys_click_to_call::auth::{ClientSecret, Credentials};
use genesys_click_to_call::call::{ConversationId, EntityId, PlaceCall, E164};
use genesys_click_to_call::flow::{exchange_code, Client, ClientOptions, Clock, Http, WaitFor};
use genesys_click_to_call::http::{HttpRequest, HttpResponse, TransportError};
use genesys_click_to_call::region::Endpoints;
use genesys_click_to_call::status::{CallStatus, Outcome, Phase};
use genesys_sim::{start, Config, Running};
use serde_json::Value;

pub const ADA: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";
pub const OTTO: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a02";

/// Every test number the sim knows, dialled on behalf of an agent, and the
/// outcome it must end with (Otto is never available).
pub const TEST_NUMBERS: [(&str, &str, Outcome); 7] = [
    ("+13175550100", ADA, Outcome::Completed),
    ("+13175550101", ADA, Outcome::Busy),
    ("+13175550102", ADA, Outcome::NoAnswer),
    ("+13175550103", ADA, Outcome::Failed),
    ("+13175550105", ADA, Outcome::AgentUnavailable),
    ("+13175550100", OTTO, Outcome::AgentUnavailable),
    ("+442079460958", ADA, Outcome::Completed),
];

/// The host transport: reqwest, no redirects, per-request timeout.
pub struct Reqwest(pub reqwest::Client);

impl Http for Reqwest {
    async fn send(
        &self,
        req: HttpRequest,
        timeout_ms: u64,
    ) -> Result<HttpResponse, TransportError> {
        let method = reqwest::Method::from_bytes(req.method.as_str().as_bytes()).unwrap();
        let mut rb = self
            .0
            .request(method, &req.url)
            .timeout(Duration::from_millis(timeout_ms));
        for (k, v) in &req.headers {
            rb = rb.header(k, v);
        }
        if let Some(b) = req.body {
            rb = rb.body(b);
        }
        let map = |e: reqwest::Error| {
            if e.is_timeout() {
                TransportError::Timeout
            } else {
                TransportError::Network(e.to_string())
            }
        };
        let r = rb.send().await.map_err(map)?;
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = r.text().await.map_err(map)?;
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

pub struct TokioClock(pub Instant);

impl Clock for TokioClock {
    fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await
    }
}

pub type TestClient = Client<Reqwest, TokioClock>;

/// Wall-clock time, for the edge suites (the edge asks Genesys about real
/// times: callbacks, opening hours), shiftable forward to expire handles
/// without waiting.
#[derive(Clone, Default)]
pub struct WallClock(pub Rc<Cell<u64>>);

impl Clock for WallClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + self.0.get()
    }
    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await
    }
}

/// The page origin the edge suites allow.
pub const EDGE_ORIGIN: &str = "http://127.0.0.1:8080";
/// The edge suites' client secret (genesys-sim's `sim-edge` client).
pub const EDGE_SECRET: &str = "sim-edge-secret";
/// The edge suites' handle signing key, unless a suite overrides it.
pub const EDGE_SIGNING_KEY: &str = "edge-test-signing-key-0123456789abcdef";

/// An edge's environment against `sim`, as the host edge suites share it;
/// each of `overrides` replaces or adds one variable.
pub fn edge_env(
    sim: &Running,
    overrides: &[(&str, &str)],
) -> impl Fn(&str) -> Option<String> + Clone + 'static {
    let mut vars: Vec<(String, String)> = [
        ("GENESYS_API_BASE", sim.url().as_str()),
        ("GENESYS_CLIENT_ID", "sim-edge"),
        ("GENESYS_CLIENT_SECRET", EDGE_SECRET),
        ("GENESYS_AGENT_USER_ID", ADA),
        ("ALLOWED_ORIGINS", EDGE_ORIGIN),
        ("ALLOWED_DIAL_PREFIXES", "+1317555"),
        ("HANDLE_SIGNING_KEY", EDGE_SIGNING_KEY),
        ("CLIENT_ADDRESS_HEADER", "CF-Connecting-IP"),
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
    move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

pub fn reqwest() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn sim(f: impl FnOnce(&mut Config)) -> Running {
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        time_scale: 0.02,
        quiet: true,
        ..Config::default()
    };
    f(&mut cfg);
    start(cfg).await.unwrap()
}

/// A genesys-sim whose `sim-edge` client lacks `permission`: a real
/// permission gap (Genesys answers 403), not an injected fault.
pub async fn sim_edge_lacking(permission: &str, f: impl FnOnce(&mut Config)) -> Running {
    sim(|c| {
        f(c);
        let edge = c
            .org
            .clients
            .iter_mut()
            .find(|c| c.id == "sim-edge")
            .unwrap();
        edge.permissions.retain(|p| p != permission);
    })
    .await
}

pub fn options(sim: &Running, creds: Credentials) -> ClientOptions {
    let mut o = ClientOptions::new(Endpoints::custom(&sim.url(), &sim.url()).unwrap(), creds);
    o.poll_interval_ms = 20;
    o
}

pub fn edge_creds(secret: &str) -> Credentials {
    Credentials::ClientCredentials {
        client_id: "sim-edge".into(),
        client_secret: ClientSecret::new(secret.into()),
    }
}

pub fn client(o: ClientOptions) -> TestClient {
    Client::new(Reqwest(reqwest()), TokioClock(Instant::now()), o)
}

pub fn on_behalf(number: &str, agent: &str) -> PlaceCall {
    let mut c = PlaceCall::new(E164::parse(number, "phoneNumber").unwrap());
    c.on_behalf_of = Some(EntityId::parse(agent, "onBehalfOfUserId").unwrap());
    c
}

pub fn never() -> std::future::Pending<()> {
    std::future::pending()
}

pub const UNTIL_ENDED: WaitFor = WaitFor {
    until: Phase::Ended,
    timeout_ms: 20_000,
};

pub async fn log(sim: &Running) -> Vec<Value> {
    let v: Value = serde_json::from_str(
        &reqwest()
            .get(format!("{}/__sim/requests", sim.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    v["requests"].as_array().unwrap().clone()
}

pub async fn fault(sim: &Running, spec: &str) {
    let r = reqwest()
        .post(format!("{}/__sim/faults", sim.url()))
        .body(spec.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

/// The simulator's notification counters (`GET /__sim/notifications`):
/// channels created, sockets, events dropped.
pub async fn notifications(sim: &Running) -> Value {
    let t = reqwest()
        .get(format!("{}/__sim/notifications", sim.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&t).unwrap()
}

/// Arms a fault on the notification sockets open now. One that applied to no
/// socket fails here: a survival test whose fault hit nothing proves nothing.
pub async fn notify_fault(sim: &Running, spec: &str) {
    let r = reqwest()
        .post(format!("{}/__sim/notifications/faults", sim.url()))
        .body(spec.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(
        !v["applied"].as_array().unwrap().is_empty(),
        "fault {spec} applied to nothing"
    );
}

/// A call's status read (`GET …/calls/{id}`), as push tests count reconcile reads.
pub const CALL_READ: &str = "/api/v2/conversations/calls/";

pub fn count(log: &[Value], method: &str, prefix: &str, status: Option<u64>) -> usize {
    log.iter()
        .filter(|e| {
            e["method"] == method
                && e["path"].as_str().unwrap().starts_with(prefix)
                && status.is_none_or(|s| e["status"] == s)
        })
        .count()
}

pub const CREATE: &str = "/api/v2/conversations/calls/user/";

/// The one read that resolves an unknown outcome.
pub const DETAILS_QUERY: &str = "/api/v2/analytics/conversations/details/query";

/// The faults after the create-call POST reached Genesys (the call exists).
pub const AFTER_THE_POST: [&str; 4] = [
    r#""status":503"#,
    r#""drop":true"#,
    r#""malformed":true"#,
    r#""delayMs":1500"#,
];

/// Arms `spec` (one of [`AFTER_THE_POST`]) on the next create-call POST, after Genesys acted on it.
pub async fn fault_after_create(sim: &Running, spec: &str) {
    let spec = format!(r#"{{"method":"POST","path":"{CREATE}*","when":"after",{spec}}}"#);
    fault(sim, &spec).await;
}

/// Polls every future in `futs` together on this task (the client is single-threaded by design).
pub async fn join_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

/// Waits (no callback, no abort, 10 s) until the call reaches `until`.
pub async fn wait_until(c: &TestClient, id: &ConversationId, until: Phase) -> CallStatus {
    c.wait_for_call(
        id,
        WaitFor {
            until,
            timeout_ms: 10_000,
        },
        |_, _, _| {},
        never(),
    )
    .await
    .unwrap()
    .0
}

/// The real PKCE sign-in of the simulated sign-in page, for `user`'s own token.
pub async fn user_token(s: &Running, user: &str) -> String {
    let endpoints = Endpoints::custom(&s.url(), &s.url()).unwrap();
    let verifier = genesys_click_to_call::pkce::verifier_from_random(&[9; 96]);
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
    let query = url.split_once('?').unwrap().1;
    let resp = reqwest()
        .post(format!("{}/oauth/authorize", s.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("{query}&userId={user}"))
        .send()
        .await
        .unwrap();
    let callback = resp.headers()["location"].to_str().unwrap().to_string();
    let code = genesys_click_to_call::pkce::code_from_callback(&callback, "s1").unwrap();
    exchange_code(
        &Reqwest(reqwest()),
        &endpoints,
        "sim-browser",
        redirect,
        &code,
        &verifier,
        5_000,
    )
    .await
    .unwrap()
    .access_token
}
