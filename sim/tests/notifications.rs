//! genesys-sim's Notifications API over real loopback HTTP and a real
//! WebSocket client: every endpoint's shape, the call snapshots pushed for
//! every test number, heartbeats and pongs, the limits (21st channel, 1,001st
//! topic, one socket per channel), permissions, and every injected fault.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use genesys_sim::{start, Config, Running};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const ADA: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";
const OTTO: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a02";
const PERMISSION: &str = "conversation:communication:view";
const CHANNELS: &str = "/api/v2/notifications/channels";

fn calls_topic(u: &str) -> String {
    format!("v2.users.{u}.conversations.calls")
}

fn conv_topic(u: &str) -> String {
    format!("v2.users.{u}.conversations")
}

struct T {
    sim: Running,
    http: reqwest::Client,
}

struct Resp {
    status: u16,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

async fn sim_with(f: impl FnOnce(&mut Config)) -> T {
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        time_scale: 0.02,
        quiet: true,
        ..Config::default()
    };
    f(&mut cfg);
    let sim = start(cfg).await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    T { sim, http }
}

async fn sim() -> T {
    sim_with(|_| {}).await
}

impl T {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.sim.url())
    }
    async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        Resp {
            status,
            text: r.text().await.unwrap(),
        }
    }
    async fn token(&self, id: &str, secret: &str) -> String {
        let r = self
            .send(
                self.http
                    .post(self.url("/oauth/token"))
                    .basic_auth(id, Some(secret))
                    .form(&[("grant_type", "client_credentials")]),
            )
            .await;
        r.json()["access_token"].as_str().unwrap().to_string()
    }
    async fn edge(&self) -> String {
        self.token("sim-edge", "sim-edge-secret").await
    }
    async fn readonly(&self) -> String {
        self.token("sim-readonly", "sim-readonly-secret").await
    }
    /// PKCE sign-in as `user` with the public `sim-browser` client.
    async fn sign_in(&self, user: &str) -> String {
        use base64::Engine;
        use sha2::Digest;
        let verifier = "correct-horse-battery-staple-0123456789-abcdef";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        let cb = "http://127.0.0.1:9999/cb";
        let r = self
            .http
            .post(self.url("/oauth/authorize"))
            .form(&[
                ("client_id", "sim-browser"),
                ("redirect_uri", cb),
                ("response_type", "code"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("userId", user),
            ])
            .send()
            .await
            .unwrap();
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let code = loc
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("client_id", "sim-browser"),
            ("redirect_uri", cb),
        ];
        let r = self
            .send(self.http.post(self.url("/oauth/token")).form(&form))
            .await;
        r.json()["access_token"].as_str().unwrap().to_string()
    }
    async fn req(&self, method: &str, tok: &str, p: &str, body: Option<String>) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(m, self.url(p)).bearer_auth(tok);
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b);
        }
        self.send(rb).await
    }
    async fn get(&self, tok: &str, p: &str) -> Resp {
        self.req("GET", tok, p, None).await
    }
    /// A new channel: `(id, connectUri)`.
    async fn channel(&self, tok: &str) -> (String, String) {
        let r = self.req("POST", tok, CHANNELS, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let c = r.json();
        (
            c["id"].as_str().unwrap().to_string(),
            c["connectUri"].as_str().unwrap().to_string(),
        )
    }
    /// POST (add) or PUT (replace) `[{"id":topic}, …]`.
    async fn subscribe(
        &self,
        method: &str,
        tok: &str,
        ch: &str,
        topics: &[String],
        q: &str,
    ) -> Resp {
        let body: Vec<Value> = topics.iter().map(|t| json!({ "id": t })).collect();
        self.req(
            method,
            tok,
            &format!("{CHANNELS}/{ch}/subscriptions{q}"),
            Some(Value::Array(body).to_string()),
        )
        .await
    }
    async fn topics(&self, tok: &str, ch: &str) -> Vec<String> {
        let r = self
            .get(tok, &format!("{CHANNELS}/{ch}/subscriptions"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["state"], "Permitted");
                e["id"].as_str().unwrap().to_string()
            })
            .collect()
    }
    async fn head(&self, tok: &str, ch: &str) -> u16 {
        self.req("HEAD", tok, &format!("{CHANNELS}/{ch}"), None)
            .await
            .status
    }
    async fn dial(&self, tok: &str, user: &str, number: &str) -> String {
        let r = self
            .req(
                "POST",
                tok,
                &format!("/api/v2/conversations/calls/user/{user}"),
                Some(json!({ "phoneNumber": number }).to_string()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["id"].as_str().unwrap().to_string()
    }
    async fn stats(&self) -> Value {
        self.send(self.http.get(self.url("/__sim/notifications")))
            .await
            .json()
    }
    async fn fault(&self, spec: Value) -> Resp {
        self.send(
            self.http
                .post(self.url("/__sim/notifications/faults"))
                .body(spec.to_string()),
        )
        .await
    }
    /// Polls the stats hook until `f` holds (or fails after 5 s).
    async fn stats_until(&self, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let s = self.stats().await;
            if f(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {s:#}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn assert_error_body(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    let b = r.json();
    assert_eq!(b["code"], code, "{}", r.text);
    assert_eq!(b["status"], status);
    assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(b["contextId"].is_string() && b["details"].is_array() && b["errors"].is_array());
}

/// What the client saw next on the socket.
#[derive(Debug)]
enum Frame {
    Json(Value),
    /// A close frame with its code.
    Close(Option<u16>),
    /// The connection ended without a close frame (1006 in a browser).
    Broken(String),
    End,
}

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Ws {
    s: Stream,
}

impl Ws {
    /// Connects and proves the socket is attached (a pong came back), so no
    /// event placed after this can race the attachment.
    async fn open(uri: &str) -> Ws {
        let (s, _) = tokio_tungstenite::connect_async(uri).await.unwrap();
        let mut ws = Ws { s };
        ws.ping().await;
        ws
    }
    async fn send(&mut self, text: &str) {
        self.s.send(Message::text(text)).await.unwrap();
    }
    async fn ping(&mut self) {
        self.send(r#"{"message":"ping"}"#).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self
                .next(deadline.saturating_duration_since(Instant::now()))
                .await
            {
                Some(Frame::Json(v)) if v["eventBody"]["message"] == "pong" => {
                    assert_eq!(
                        v,
                        json!({"topicName":"channel.metadata","eventBody":{"message":"pong"}})
                    );
                    return;
                }
                Some(Frame::Json(_)) => {}
                other => panic!("no pong: {other:?}"),
            }
        }
    }
    /// The next frame within `within`; `None` if nothing came.
    async fn next(&mut self, within: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let m = tokio::time::timeout_at(deadline, self.s.next())
                .await
                .ok()?;
            return Some(match m {
                Some(Ok(Message::Text(t))) => {
                    Frame::Json(serde_json::from_str(t.as_str()).unwrap())
                }
                Some(Ok(Message::Close(f))) => Frame::Close(f.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(e)) => Frame::Broken(e.to_string()),
                None => Frame::End,
            });
        }
    }
    /// The next non-heartbeat JSON frame within `within`.
    async fn event(&mut self, within: Duration) -> Option<Value> {
        let deadline = Instant::now() + within;
        loop {
            match self
                .next(deadline.saturating_duration_since(Instant::now()))
                .await?
            {
                Frame::Json(v) if v["topicName"] == "channel.metadata" => {}
                Frame::Json(v) => return Some(v),
                other => panic!("socket ended while waiting for an event: {other:?}"),
            }
        }
    }
    /// Waits for the socket to close, returning how it ended.
    async fn closed(&mut self, within: Duration) -> Frame {
        let deadline = Instant::now() + within;
        loop {
            match self
                .next(deadline.saturating_duration_since(Instant::now()))
                .await
            {
                Some(Frame::Json(_)) => {}
                Some(end) => return end,
                None => panic!("the socket did not close within {within:?}"),
            }
        }
    }
}

/// `(agent state, far state or "-")` of a `.calls` snapshot.
fn states(body: &Value) -> (String, String) {
    let p = body["participants"].as_array().unwrap();
    let st = |i: usize| {
        p.get(i)
            .and_then(|x| x["state"].as_str())
            .unwrap_or("-")
            .to_string()
    };
    (st(0), st(1))
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn ended(body: &Value) -> bool {
    let p = body["participants"].as_array().unwrap();
    p.iter().all(|x| {
        x["state"] == "disconnected"
            || x["calls"]
                .as_array()
                .is_some_and(|c| c.iter().all(|c| c["state"] == "disconnected"))
    })
}

fn strip_self_uris(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("selfUri");
            m.values_mut().for_each(strip_self_uris);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_self_uris),
        _ => {}
    }
}

/// Milliseconds since the epoch of a Genesys `yyyy-MM-ddTHH:mm:ss.mmmZ`.
fn iso_ms(s: &str) -> i64 {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    ((days * 24 + n(11, 13)) * 60 + n(14, 16)) * 60_000 + n(17, 19) * 1000 + n(20, 23)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn assert_envelope(e: &Value, topic: &str) {
    assert_eq!(e["topicName"], topic);
    assert_eq!(e["version"], "2");
    let corr = e["metadata"]["CorrelationId"].as_str().unwrap();
    assert_eq!((corr.len(), &corr[14..15]), (36, "4"), "{corr}");
    assert_eq!(
        e.as_object().unwrap().len(),
        4,
        "exactly the four envelope fields: {e}"
    );
}

#[tokio::test]
async fn channel_and_subscription_endpoints_have_genesys_shapes() {
    let t = sim().await;
    let tok = t.edge().await;
    let r = t.req("POST", &tok, CHANNELS, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = r.json();
    assert_eq!(c.as_object().unwrap().len(), 3, "{c}");
    let id = c["id"].as_str().unwrap();
    let suffix = id.strip_prefix("streaming-0-").unwrap();
    assert!(
        suffix.len() >= 20
            && suffix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_eq!(
        c["connectUri"],
        format!("ws://{}/channels/{id}", t.sim.addr)
    );
    let day = 24 * 3600 * 1000;
    let expires = iso_ms(c["expires"].as_str().unwrap());
    assert!(
        (expires - (now_ms() + day)).abs() < 5_000,
        "expires = now + 24 h: {c}"
    );

    // Listing: by token (default) and by OAuth client.
    let other = t.edge().await;
    let listed = |r: Resp| -> Vec<String> {
        r.json()["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(listed(t.get(&tok, CHANNELS).await), [id]);
    assert_eq!(
        listed(
            t.get(&tok, &format!("{CHANNELS}?includechannels=token"))
                .await
        ),
        [id]
    );
    assert!(listed(t.get(&other, CHANNELS).await).is_empty());
    assert_eq!(
        listed(
            t.get(&other, &format!("{CHANNELS}?includechannels=oauthclient"))
                .await
        ),
        [id]
    );
    let bad = t
        .get(&tok, &format!("{CHANNELS}?includechannels=everything"))
        .await;
    assert_error_body(&bad, 400, "bad.request");
    assert_eq!(bad.json()["details"][0]["fieldName"], "includechannels");
    assert_eq!(t.get(&tok, CHANNELS).await.json()["entities"][0], c);

    // HEAD: 200 for a live channel of yours, 404 for unknown ones and others'.
    assert_eq!(t.head(&tok, id).await, 200);
    assert_eq!(t.head(&tok, "streaming-0-nope").await, 404);
    assert_eq!(t.head(&t.readonly().await, id).await, 404);

    // Subscriptions: GET, POST adds, PUT replaces, DELETE clears.
    let subs = format!("{CHANNELS}/{id}/subscriptions");
    assert_eq!(t.get(&tok, &subs).await.json(), json!({"entities": []}));
    let r = t.subscribe("POST", &tok, id, &[calls_topic(ADA)], "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"entities": [{"id": calls_topic(ADA), "state": "Permitted"}]})
    );
    let r = t.subscribe("POST", &tok, id, &[conv_topic(ADA)], "").await;
    assert_eq!(
        r.json()["entities"].as_array().unwrap().len(),
        2,
        "POST adds: {}",
        r.text
    );
    // GET lists the topics in name order.
    assert_eq!(
        t.topics(&tok, id).await,
        [conv_topic(ADA), calls_topic(ADA)]
    );
    let presence = format!("v2.users.{ADA}.presence");
    let r = t
        .subscribe("PUT", &tok, id, std::slice::from_ref(&presence), "")
        .await;
    assert_eq!(
        r.json(),
        json!({"entities": [{"id": presence, "state": "Permitted"}]})
    );
    assert_eq!(t.topics(&tok, id).await, std::slice::from_ref(&presence));
    let del = t.req("DELETE", &tok, &subs, None).await;
    assert_eq!((del.status, del.text.as_str()), (204, ""));
    assert!(t.topics(&tok, id).await.is_empty());

    // Resubscribing extends `expires`.
    tokio::time::sleep(Duration::from_millis(5)).await;
    t.subscribe("PUT", &tok, id, &[calls_topic(ADA)], "").await;
    let later = iso_ms(
        t.get(&tok, CHANNELS).await.json()["entities"][0]["expires"]
            .as_str()
            .unwrap(),
    );
    assert!(later > expires, "{later} > {expires}");

    // Bodies that are not `[{"id":"…"}]`, and bad parameters.
    for body in [
        "",
        "{}",
        "not json",
        "[1]",
        r#"[{"id":3}]"#,
        r#"[{"name":"x"}]"#,
        r#"{"id":"v2.users.a.presence"}"#,
    ] {
        let r = t.req("POST", &tok, &subs, Some(body.to_string())).await;
        assert_error_body(&r, 400, "bad.request");
    }
    let r = t
        .subscribe(
            "POST",
            &tok,
            id,
            &[calls_topic(ADA)],
            "?ignoreErrors=perhaps",
        )
        .await;
    assert_error_body(&r, 400, "bad.request");
    // A malformed topic: 400, or Rejected with ignoreErrors.
    let r = t
        .subscribe("POST", &tok, id, &["v2.users..x".into()], "")
        .await;
    assert_error_body(&r, 400, "bad.request");
    let r = t
        .subscribe(
            "POST",
            &tok,
            id,
            &["not a topic".into()],
            "?ignoreErrors=true",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rejected = &r.json()["entities"][1];
    assert_eq!(
        (rejected["id"].as_str(), rejected["state"].as_str()),
        (Some("not a topic"), Some("Rejected"))
    );
    assert!(rejected["rejectionReason"].is_string());
    assert_eq!(
        t.topics(&tok, id).await,
        [calls_topic(ADA)],
        "rejected topics are not kept"
    );

    // Unknown channels, and no token.
    for m in ["GET", "POST", "PUT", "DELETE"] {
        let body = (m == "POST" || m == "PUT").then(|| "[]".to_string());
        let r = t
            .req(
                m,
                &tok,
                &format!("{CHANNELS}/streaming-0-nope/subscriptions"),
                body,
            )
            .await;
        assert_error_body(&r, 404, "not.found");
    }
    let r = t.send(t.http.post(t.url(CHANNELS))).await;
    assert_error_body(&r, 401, "authentication.required");
    let r = t.get(&tok, &format!("{CHANNELS}/{id}")).await;
    assert_error_body(&r, 405, "method.not.allowed");

    // The topic catalogue.
    let cat = t
        .get(&tok, "/api/v2/notifications/availabletopics")
        .await
        .json();
    let calls = cat["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "v2.users.{id}.conversations.calls")
        .expect("the calls topic is listed");
    assert_eq!(calls["requiresPermissions"], json!([PERMISSION]));
    assert_eq!(calls["requiresCurrentUserOrPermission"], true);

    // The socket address takes WebSockets only, and only for live channels.
    let r = t.send(t.http.get(t.url(&format!("/channels/{id}")))).await;
    assert_error_body(&r, 400, "bad.request");
    let r = t
        .send(t.http.get(t.url("/channels/streaming-0-nope")))
        .await;
    assert_error_body(&r, 404, "not.found");
    assert!(tokio_tungstenite::connect_async(format!(
        "ws://{}/channels/streaming-0-nope",
        t.sim.addr
    ))
    .await
    .is_err());
}

/// Dials every test number at once on one channel and checks each call's
/// pushed snapshots: the sequence, the envelope, the timestamps, and that the
/// last snapshot equals a GET.
#[tokio::test]
async fn every_test_number_pushes_full_snapshots_ending_disconnected() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    let topics = [calls_topic(ADA), conv_topic(ADA), calls_topic(OTTO)];
    assert_eq!(t.subscribe("PUT", &tok, &ch, &topics, "").await.status, 200);
    let mut ws = Ws::open(&uri).await;

    let full = pairs(&[
        ("contacting", "-"),
        ("connected", "dialing"),
        ("connected", "connected"),
        ("disconnected", "disconnected"),
    ]);
    let failed = pairs(&[
        ("contacting", "-"),
        ("connected", "dialing"),
        ("disconnected", "disconnected"),
    ]);
    let agent_failed = pairs(&[("contacting", "-"), ("disconnected", "-")]);
    let cases = [
        ("+13175550100", ADA, &full, "endpoint"),
        ("+13175550101", ADA, &failed, "endpoint"),
        ("+13175550102", ADA, &failed, "endpoint"),
        ("+13175550103", ADA, &failed, "error"),
        // Connected until hung up through the API (below).
        ("+13175550104", ADA, &full, "peer"),
        ("+13175550105", ADA, &agent_failed, ""),
        ("+4915123456789", ADA, &full, "endpoint"),
        ("+13175550100", OTTO, &agent_failed, ""),
    ];
    let mut ids = Vec::new();
    for (number, agent, _, _) in &cases {
        ids.push(t.dial(&tok, agent, number).await);
    }
    let hang_up = ids[4].clone();
    // (event, receive time in epoch ms) per conversation and topic.
    let mut seen: HashMap<(String, String), Vec<(Value, i64)>> = HashMap::new();
    let done = |seen: &HashMap<(String, String), Vec<(Value, i64)>>| {
        cases.iter().zip(&ids).all(|((_, agent, _, _), id)| {
            let mut topics = vec![calls_topic(agent)];
            if *agent == ADA {
                topics.push(conv_topic(agent));
            }
            topics.iter().all(|topic| {
                seen.get(&(id.clone(), topic.clone()))
                    .and_then(|v| v.last())
                    .is_some_and(|(e, _)| ended(&e["eventBody"]))
            })
        })
    };
    let mut hung = false;
    while !done(&seen) {
        let e = ws
            .event(Duration::from_secs(10))
            .await
            .expect("events until every call has ended");
        let topic = e["topicName"].as_str().unwrap().to_string();
        let id = e["eventBody"]["id"].as_str().unwrap().to_string();
        assert_envelope(&e, &topic);
        if !hung
            && id == hang_up
            && topic == calls_topic(ADA)
            && states(&e["eventBody"]).1 == "connected"
        {
            hung = true;
            let r = t
                .req(
                    "PATCH",
                    &tok,
                    &format!("/api/v2/conversations/calls/{id}"),
                    Some(r#"{"state":"disconnected"}"#.into()),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        seen.entry((id, topic)).or_default().push((e, now_ms()));
    }

    for ((number, agent, want, far_dtype), id) in cases.iter().zip(&ids) {
        let events = &seen[&(id.clone(), calls_topic(agent))];
        let got: Vec<(String, String)> = events
            .iter()
            .map(|(e, _)| states(&e["eventBody"]))
            .collect();
        assert_eq!(&got, *want, "{number} for {agent}");
        // The last snapshot is exactly what a GET returns now, minus selfUri.
        let mut rest = t
            .get(&tok, &format!("/api/v2/conversations/calls/{id}"))
            .await
            .json();
        strip_self_uris(&mut rest);
        let last = &events.last().unwrap().0["eventBody"];
        assert_eq!(last, &rest, "{number}: last event = GET");
        if !far_dtype.is_empty() {
            assert_eq!(
                last["participants"][1]["disconnectType"], *far_dtype,
                "{number}"
            );
        }
        // Leg timestamps are the transition times: every event agrees with the
        // final one, and arrives shortly after the newest time it reports (the
        // transition that caused it), never before.
        for (e, received) in events {
            let mut newest = 0;
            for (i, p) in e["eventBody"]["participants"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
            {
                for k in ["startTime", "connectedTime", "endTime"] {
                    if let Some(ts) = p[k].as_str() {
                        assert_eq!(p[k], rest["participants"][i][k], "{number} {k}");
                        newest = newest.max(iso_ms(ts));
                    }
                }
            }
            let lag = received - newest;
            assert!((0..2_000).contains(&lag), "{number}: lag {lag} ms");
        }
        if *agent == ADA {
            let conv = &seen[&(id.clone(), conv_topic(ADA))];
            assert_eq!(
                conv.len(),
                events.len(),
                "{number}: one event per change on each topic"
            );
            let mut rest = t
                .get(&tok, &format!("/api/v2/conversations/{id}"))
                .await
                .json();
            strip_self_uris(&mut rest);
            assert_eq!(
                conv.last().unwrap().0["eventBody"],
                rest,
                "{number}: the .conversations shape"
            );
            assert!(rest["participants"][0]["calls"].is_array());
        }
    }
    assert!(
        !seen.contains_key(&(ids[7].clone(), calls_topic(ADA))),
        "Otto's call is not on Ada's topic"
    );
    // Every timer ends with its call.
    t.stats_until("call timers to end", |s| s["callTimers"] == 0)
        .await;
}

#[tokio::test]
async fn heartbeats_follow_the_time_scale_and_ping_gets_pong() {
    // 30 s × 0.01 = 300 ms.
    let t = sim_with(|c| c.time_scale = 0.01).await;
    let tok = t.edge().await;
    let (_, uri) = t.channel(&tok).await;
    let mut ws = Ws::open(&uri).await;
    let t0 = Instant::now();
    for _ in 0..2 {
        match ws.next(Duration::from_secs(3)).await {
            Some(Frame::Json(v)) => assert_eq!(
                v,
                json!({"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}})
            ),
            other => panic!("expected a heartbeat, got {other:?}"),
        }
    }
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    ws.ping().await;
    let s = t.stats().await;
    assert!(
        s["heartbeatsSent"].as_u64().unwrap() >= 2 && s["pongsSent"].as_u64().unwrap() >= 2,
        "{s}"
    );

    // `--heartbeat-secs` overrides the scaled period.
    let t = sim_with(|c| {
        c.time_scale = 1.0;
        c.heartbeat = Some(Duration::from_millis(100));
    })
    .await;
    let (_, uri) = t.channel(&t.edge().await).await;
    let mut ws = Ws::open(&uri).await;
    let t0 = Instant::now();
    for _ in 0..3 {
        assert!(
            matches!(ws.next(Duration::from_secs(2)).await, Some(Frame::Json(v)) if v["eventBody"]["message"] == "WebSocket Heartbeat")
        );
    }
    assert!(t0.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_second_socket_kicks_the_first() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    t.subscribe("PUT", &tok, &ch, &[calls_topic(ADA)], "").await;
    let mut first = Ws::open(&uri).await;
    let mut second = Ws::open(&uri).await;
    assert!(matches!(
        first.closed(Duration::from_secs(3)).await,
        Frame::Close(Some(1000))
    ));
    second.ping().await;
    let s = t.stats().await;
    assert_eq!(
        (
            s["connectedSockets"].as_u64(),
            s["socketOpens"].as_u64(),
            s["socketsKicked"].as_u64()
        ),
        (Some(1), Some(2), Some(1)),
        "{s}"
    );
    // Events go to the new socket.
    let id = t.dial(&tok, ADA, "+13175550103").await;
    assert_eq!(
        second.event(Duration::from_secs(3)).await.unwrap()["eventBody"]["id"],
        id
    );
}

#[tokio::test]
async fn a_21st_channel_evicts_unconnected_then_oldest_used() {
    let t = sim().await;
    let tok = t.edge().await;
    // Another owner's channel (Ada's user token) is never touched.
    let ada = t.sign_in(ADA).await;
    let (ada_ch, _) = t.channel(&ada).await;

    let mut chans = Vec::new();
    for _ in 0..20 {
        chans.push(t.channel(&tok).await);
    }
    let mut sockets = vec![Ws::open(&chans[0].1).await];
    let (c20, uri20) = t.channel(&tok).await;
    // chans[1] was the oldest channel without a connection.
    assert_eq!(t.head(&tok, &chans[1].0).await, 404);
    for c in [&chans[0].0, &chans[2].0, &c20] {
        assert_eq!(t.head(&tok, c).await, 200);
    }
    let s = t.stats().await;
    assert_eq!(s["channelsEvicted"], 1);
    let edge_owner = s["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["clientId"] == "sim-edge")
        .unwrap()
        .clone();
    assert_eq!(
        edge_owner,
        json!({"clientId": "sim-edge", "userId": null, "channels": 20})
    );

    // Now every channel has a socket: the oldest-used one (chans[0]) goes, and
    // its socket hears why before it is closed.
    for (_, uri) in &chans[2..] {
        sockets.push(Ws::open(uri).await);
    }
    sockets.push(Ws::open(&uri20).await);
    assert_eq!(t.stats().await["connectedSockets"], 20);
    t.channel(&tok).await;
    let e = sockets[0].event(Duration::from_secs(3)).await.unwrap();
    assert_eq!(
        e["topicName"],
        format!("v2.system.no_longer_subscribed.{}", chans[0].0)
    );
    assert_eq!(e["eventBody"]["channelId"], chans[0].0);
    assert_eq!(e["eventBody"]["systemTopicType"], "no_longer_subscribed");
    assert!(matches!(
        sockets[0].closed(Duration::from_secs(3)).await,
        Frame::Close(Some(1000))
    ));
    assert_eq!(t.head(&tok, &chans[0].0).await, 404);
    sockets[1].ping().await;
    assert_eq!(t.head(&ada, &ada_ch).await, 200);
    assert_eq!(t.stats().await["channelsEvicted"], 2);
}

#[tokio::test]
async fn more_than_1000_topics_is_a_400() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, _) = t.channel(&tok).await;
    let topics: Vec<String> = (0..1000)
        .map(|i| format!("v2.users.u{i}.presence"))
        .collect();
    let r = t.subscribe("PUT", &tok, &ch, &topics, "").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["entities"].as_array().unwrap().len(), 1000);
    let r = t
        .subscribe("POST", &tok, &ch, &["v2.users.one.more".into()], "")
        .await;
    assert_error_body(&r, 400, "bad.request");
    assert_eq!(
        t.topics(&tok, &ch).await.len(),
        1000,
        "a refused request changes nothing"
    );
    // Topics already there do not count twice.
    assert_eq!(
        t.subscribe("POST", &tok, &ch, &topics[..10], "")
            .await
            .status,
        200
    );
    let mut dup = topics.clone();
    dup.push(topics[0].clone());
    assert_eq!(t.subscribe("PUT", &tok, &ch, &dup, "").await.status, 200);
    let mut over = topics.clone();
    over.push("v2.users.u1000.presence".into());
    assert_error_body(
        &t.subscribe("PUT", &tok, &ch, &over, "").await,
        400,
        "bad.request",
    );
    assert_eq!(t.stats().await["subscriptions"], 1000);
}

#[tokio::test]
async fn topics_need_the_permission_unless_they_are_your_own() {
    let t = sim().await;
    let ro = t.readonly().await;
    let (ch, uri) = t.channel(&ro).await;
    let r = t.subscribe("POST", &ro, &ch, &[calls_topic(ADA)], "").await;
    assert_error_body(&r, 403, "missing.permissions");
    assert!(r.json()["message"].as_str().unwrap().contains(PERMISSION));
    assert!(t.topics(&ro, &ch).await.is_empty());

    let presence = format!("v2.users.{ADA}.presence");
    let r = t
        .subscribe(
            "POST",
            &ro,
            &ch,
            &[calls_topic(ADA), presence.clone()],
            "?ignoreErrors=true",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["entities"],
        json!([
            {"id": presence, "state": "Permitted"},
            {"id": calls_topic(ADA), "state": "Rejected",
             "rejectionReason": format!("Missing permission(s): [{PERMISSION}]"), "missingPermissions": [PERMISSION]}
        ])
    );
    assert_eq!(t.topics(&ro, &ch).await, std::slice::from_ref(&presence));
    // Without ignoreErrors the whole request fails: nothing is replaced.
    let r = t
        .subscribe(
            "PUT",
            &ro,
            &ch,
            &[conv_topic(ADA), format!("v2.users.{OTTO}.presence")],
            "",
        )
        .await;
    assert_error_body(&r, 403, "missing.permissions");
    assert_eq!(t.topics(&ro, &ch).await, [presence]);
    // The socket `subscribe` message uses the channel owner's rights too.
    let mut ws = Ws::open(&uri).await;
    ws.send(
        &json!({"message": "subscribe", "topics": [calls_topic(ADA)], "correlationId": "c-1"})
            .to_string(),
    )
    .await;
    assert_eq!(
        ws.event(Duration::from_secs(3)).await.unwrap(),
        json!({"result": "400", "status": "failure", "correlationId": "c-1"})
    );

    // sim-edge has the permission; a user needs none for their own topics.
    let edge = t.edge().await;
    let (ech, _) = t.channel(&edge).await;
    assert_eq!(
        t.subscribe("POST", &edge, &ech, &[calls_topic(ADA)], "")
            .await
            .status,
        200
    );
    let ada = t.sign_in(ADA).await;
    let (ach, auri) = t.channel(&ada).await;
    let r = t
        .subscribe("POST", &ada, &ach, &[calls_topic(ADA), conv_topic(ADA)], "")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut ws = Ws::open(&auri).await;
    ws.send(&json!({"message": "subscribe", "topics": [format!("v2.users.{ADA}.station")], "correlationId": 7}).to_string()).await;
    assert_eq!(
        ws.event(Duration::from_secs(3)).await.unwrap(),
        json!({"result": "200", "status": "subscribed", "correlationId": 7})
    );
    assert_eq!(t.topics(&ada, &ach).await.len(), 3);
    // Ada's own call, placed with her token, arrives on her channel.
    let r = t
        .req(
            "POST",
            &ada,
            "/api/v2/conversations/calls",
            Some(r#"{"phoneNumber":"+13175550103"}"#.into()),
        )
        .await;
    let id = r.json()["id"].as_str().unwrap().to_string();
    let e = ws.event(Duration::from_secs(3)).await.unwrap();
    assert_eq!(e["eventBody"]["id"], id);
}

#[tokio::test]
async fn events_are_dropped_while_no_socket_is_connected() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    t.subscribe("PUT", &tok, &ch, &[calls_topic(ADA)], "").await;
    let id = t.dial(&tok, ADA, "+13175550103").await;
    // contacting, dialing, disconnected: three events, none delivered.
    let s = t
        .stats_until("three dropped events", |s| s["eventsDropped"] == 3)
        .await;
    assert_eq!(s["eventsSent"], 0);
    assert_eq!(s["channels"][0]["eventsDropped"], 3);
    let c = t
        .get(&tok, &format!("/api/v2/conversations/calls/{id}"))
        .await
        .json();
    assert!(ended(&c));
    // Nothing is replayed to a socket that connects later.
    let mut ws = Ws::open(&uri).await;
    assert!(ws.event(Duration::from_millis(300)).await.is_none());
    t.stats_until("the timer to end", |s| s["callTimers"] == 0)
        .await;
}

#[tokio::test]
async fn fault_socket_closing_warns_then_closes_and_the_channel_survives() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    t.subscribe("PUT", &tok, &ch, &[calls_topic(ADA)], "").await;
    let mut ws = Ws::open(&uri).await;
    let r = t
        .fault(json!({"fault": "socket_closing", "channelId": ch, "delayMs": 300}))
        .await;
    assert_eq!(
        (r.status, r.json()["applied"][0]["channelId"].as_str()),
        (200, Some(ch.as_str()))
    );
    let t0 = Instant::now();
    let e = ws.event(Duration::from_secs(3)).await.unwrap();
    assert_eq!(e["topicName"], "v2.system.socket_closing");
    assert_eq!(e["eventBody"]["channelId"], ch);
    assert_eq!(e["eventBody"]["oauthClientId"], "sim-edge");
    // Still usable until the close.
    ws.ping().await;
    assert!(matches!(
        ws.closed(Duration::from_secs(3)).await,
        Frame::Close(Some(1001))
    ));
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    // Reconnecting to the same connectUri keeps the subscriptions.
    let mut again = Ws::open(&uri).await;
    let id = t.dial(&tok, ADA, "+13175550103").await;
    assert_eq!(
        again.event(Duration::from_secs(3)).await.unwrap()["eventBody"]["id"],
        id
    );

    // The default delay is Genesys' minute × the time scale (1.2 s here).
    t.fault(json!({"fault": "socket_closing"})).await;
    let t0 = Instant::now();
    loop {
        let e = again.event(Duration::from_secs(3)).await.unwrap();
        if e["topicName"] == "v2.system.socket_closing" {
            break;
        }
    }
    assert!(matches!(
        again.closed(Duration::from_secs(5)).await,
        Frame::Close(Some(1001))
    ));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(1_100) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test]
async fn fault_stall_silences_the_socket_without_closing_it() {
    let t = sim_with(|c| c.heartbeat = Some(Duration::from_millis(100))).await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    t.subscribe("PUT", &tok, &ch, &[calls_topic(ADA)], "").await;
    let mut ws = Ws::open(&uri).await;
    assert_eq!(t.fault(json!({"fault": "stall"})).await.status, 200);
    ws.send(r#"{"message":"ping"}"#).await;
    t.dial(&tok, ADA, "+13175550103").await;
    // Five heartbeat periods of silence: no heartbeat, no pong, no event, no close.
    let heard = ws.next(Duration::from_millis(500)).await;
    // A heartbeat already on the wire when the fault landed may still arrive.
    if let Some(Frame::Json(v)) = &heard {
        assert_eq!(v["eventBody"]["message"], "WebSocket Heartbeat");
        assert!(ws.next(Duration::from_millis(500)).await.is_none());
    } else {
        assert!(heard.is_none(), "{heard:?}");
    }
    let s = t
        .stats_until("dropped events", |s| s["eventsDropped"] == 3)
        .await;
    assert_eq!(
        (
            s["channels"][0]["stalled"].as_bool(),
            s["connectedSockets"].as_u64()
        ),
        (Some(true), Some(1))
    );
    // The client's watchdog reconnects: the new socket works.
    let mut again = Ws::open(&uri).await;
    assert!(matches!(
        ws.closed(Duration::from_secs(3)).await,
        Frame::Close(_) | Frame::End
    ));
    again.ping().await;

    // A stall with a duration ends by itself.
    t.fault(json!({"fault": "stall", "channelId": ch, "durationMs": 300}))
        .await;
    let t0 = Instant::now();
    loop {
        match again.next(Duration::from_secs(3)).await {
            Some(Frame::Json(v)) if t0.elapsed() < Duration::from_millis(50) => {
                assert_eq!(v["eventBody"]["message"], "WebSocket Heartbeat")
            }
            Some(Frame::Json(v)) => {
                assert_eq!(v["eventBody"]["message"], "WebSocket Heartbeat");
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    again.ping().await;
}

#[tokio::test]
async fn fault_abrupt_close_drops_the_connection_without_a_close_frame() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    let mut ws = Ws::open(&uri).await;
    let r = t
        .fault(json!({"fault": "abrupt_close", "channelId": ch}))
        .await;
    assert_eq!(r.json()["applied"].as_array().unwrap().len(), 1);
    match ws.closed(Duration::from_secs(3)).await {
        Frame::Broken(e) => assert!(e.contains("without closing handshake"), "{e}"),
        other => panic!("expected a connection reset without a close frame, got {other:?}"),
    }
    assert_eq!(t.head(&tok, &ch).await, 200, "the channel itself lives on");
    t.stats_until("the socket to detach", |s| s["connectedSockets"] == 0)
        .await;
    let _again = Ws::open(&uri).await;
    // Socket faults need a socket: a channel without one is skipped.
    let (_, _) = t.channel(&tok).await;
    let r = t.fault(json!({"fault": "abrupt_close"})).await;
    assert_eq!(r.json()["applied"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn fault_expire_closes_the_socket_and_the_channel_404s() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    t.subscribe("PUT", &tok, &ch, &[calls_topic(ADA)], "").await;
    let mut ws = Ws::open(&uri).await;
    assert_eq!(
        t.fault(json!({"fault": "expire", "channelId": ch}))
            .await
            .status,
        200
    );
    assert!(matches!(
        ws.closed(Duration::from_secs(3)).await,
        Frame::Close(Some(1000))
    ));
    assert_eq!(t.head(&tok, &ch).await, 404);
    assert_error_body(
        &t.get(&tok, &format!("{CHANNELS}/{ch}/subscriptions")).await,
        404,
        "not.found",
    );
    assert!(
        tokio_tungstenite::connect_async(uri.as_str())
            .await
            .is_err(),
        "the handshake fails"
    );
    assert!(t.get(&tok, CHANNELS).await.json()["entities"]
        .as_array()
        .unwrap()
        .is_empty());
    let s = t.stats().await;
    assert_eq!(
        (s["channelsExpired"].as_u64(), s["channelCount"].as_u64()),
        (Some(1), Some(0))
    );
    // The dial after expiry reaches no one.
    t.dial(&tok, ADA, "+13175550103").await;
    assert_eq!(
        t.stats().await["eventsDropped"],
        0,
        "an expired channel is not subscribed"
    );
}

#[tokio::test]
async fn fault_duplicate_sends_the_next_events_twice() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    t.subscribe("PUT", &tok, &ch, &[calls_topic(ADA)], "").await;
    let mut ws = Ws::open(&uri).await;
    t.fault(json!({"fault": "duplicate", "channelId": ch, "count": 2}))
        .await;
    t.dial(&tok, ADA, "+13175550103").await;
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(ws.event(Duration::from_secs(3)).await.unwrap());
    }
    assert_eq!(
        got[0], got[1],
        "a duplicate is the same frame, CorrelationId included"
    );
    assert_eq!(got[2], got[3]);
    let seq: Vec<_> = got.iter().map(|e| states(&e["eventBody"])).collect();
    assert_eq!(
        seq,
        pairs(&[
            ("contacting", "-"),
            ("contacting", "-"),
            ("connected", "dialing"),
            ("connected", "dialing"),
            ("disconnected", "disconnected")
        ])
    );
    assert!(ws.event(Duration::from_millis(200)).await.is_none());
    assert_eq!(t.stats().await["eventsDuplicated"], 2);
}

#[tokio::test]
async fn fault_reorder_delivers_an_event_after_the_next_one() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    t.subscribe("PUT", &tok, &ch, &[calls_topic(ADA)], "").await;
    let mut ws = Ws::open(&uri).await;
    t.fault(json!({"fault": "reorder", "channelId": ch})).await;
    t.dial(&tok, ADA, "+13175550103").await;
    let mut seq = Vec::new();
    for _ in 0..3 {
        seq.push(states(
            &ws.event(Duration::from_secs(3)).await.unwrap()["eventBody"],
        ));
    }
    assert_eq!(
        seq,
        pairs(&[
            ("connected", "dialing"),
            ("contacting", "-"),
            ("disconnected", "disconnected")
        ])
    );
    assert_eq!(t.stats().await["eventsReordered"], 1);
}

/// The create-call `after` fault with a delay holds the HTTP answer back
/// after the call exists, so the creation event deterministically wins.
#[tokio::test]
async fn an_event_can_arrive_before_the_create_call_response() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    t.subscribe("PUT", &tok, &ch, &[calls_topic(ADA)], "").await;
    let mut ws = Ws::open(&uri).await;
    let r = t
        .send(t.http.post(t.url("/__sim/faults")).body(
            json!({"method": "POST", "path": "/api/v2/conversations/calls/user/*", "when": "after", "delayMs": 400}).to_string(),
        ))
        .await;
    assert_eq!(r.status, 201);
    let post = t
        .http
        .post(t.url(&format!("/api/v2/conversations/calls/user/{ADA}")))
        .bearer_auth(&tok)
        .body(r#"{"phoneNumber":"+13175550104"}"#)
        .send();
    let post = tokio::spawn(async move {
        serde_json::from_str::<Value>(&post.await.unwrap().text().await.unwrap()).unwrap()
    });
    let e = ws.event(Duration::from_secs(3)).await.unwrap();
    assert!(!post.is_finished(), "the event came first");
    assert_eq!(states(&e["eventBody"]).0, "contacting");
    let created = post.await.unwrap();
    assert_eq!(e["eventBody"]["id"], created["id"]);
}

#[tokio::test]
async fn the_fault_hook_validates_its_input() {
    let t = sim().await;
    for (body, status) in [
        ("not json", 400),
        (r#"{"fault":"meteor"}"#, 400),
        (r#"{"fault":"stall","bogus":1}"#, 400),
        (r#"{"fault":"duplicate","count":0}"#, 400),
        (r#"{"fault":"stall","durationMs":99999999999}"#, 400),
        (r#"{"fault":"stall","channelId":"streaming-0-nope"}"#, 404),
        (r#"[{"fault":"duplicate"},{"fault":"reorder"}]"#, 200),
    ] {
        let r = t
            .send(t.http.post(t.url("/__sim/notifications/faults")).body(body))
            .await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
    }
}

#[tokio::test]
async fn reset_closes_sockets_forgets_channels_and_cancels_timers() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    t.subscribe("PUT", &tok, &ch, &[calls_topic(ADA)], "").await;
    let mut ws = Ws::open(&uri).await;
    t.dial(&tok, ADA, "+13175550104").await;
    ws.event(Duration::from_secs(3)).await.unwrap();
    assert_eq!(t.stats().await["callTimers"], 1);
    t.send(t.http.post(t.url("/__sim/reset"))).await;
    assert!(matches!(
        ws.closed(Duration::from_secs(3)).await,
        Frame::Close(Some(1000))
    ));
    assert_eq!(
        t.head(&tok, &ch).await,
        404,
        "the token still works; the channel is gone"
    );
    let s = t.stats().await;
    assert_eq!(
        (
            s["channelCount"].as_u64(),
            s["callTimers"].as_u64(),
            s["channelsCreated"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{s}"
    );
}

#[tokio::test]
async fn a_hundred_calls_share_one_channel() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    t.subscribe("PUT", &tok, &ch, &[calls_topic(ADA)], "").await;
    let mut ws = Ws::open(&uri).await;
    let mut dials = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (http, url, tok) = (
            t.http.clone(),
            t.url(&format!("/api/v2/conversations/calls/user/{ADA}")),
            tok.clone(),
        );
        dials.spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(tok)
                .body(r#"{"phoneNumber":"+13175550103"}"#)
                .send()
                .await
                .unwrap();
            let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            v["id"].as_str().unwrap().to_string()
        });
    }
    let ids: std::collections::HashSet<String> = dials.join_all().await.into_iter().collect();
    let mut events: HashMap<String, usize> = HashMap::new();
    let mut ended_n = 0;
    while ended_n < 100 {
        let Some(e) = ws.event(Duration::from_secs(10)).await else {
            panic!("{ended_n} calls ended; {events:?}; {:#}", t.stats().await);
        };
        let id = e["eventBody"]["id"].as_str().unwrap().to_string();
        assert!(ids.contains(&id));
        *events.entry(id).or_default() += 1;
        if ended(&e["eventBody"]) {
            ended_n += 1;
        }
    }
    assert!(events.values().all(|n| *n == 3), "{events:?}");
    let s = t
        .stats_until("timers to end", |s| s["callTimers"] == 0)
        .await;
    assert_eq!(
        (
            s["channelsCreated"].as_u64(),
            s["channelCount"].as_u64(),
            s["eventsSent"].as_u64(),
            s["eventsDropped"].as_u64()
        ),
        (Some(1), Some(1), Some(300), Some(0)),
        "{s}"
    );
}

#[tokio::test]
async fn hostile_input_never_breaks_the_server() {
    let t = sim().await;
    let tok = t.edge().await;
    let (ch, uri) = t.channel(&tok).await;
    let subs = format!("{CHANNELS}/{ch}/subscriptions");
    let seed = format!(
        r#"[{{"id":"{}"}},{{"id":"v2.users.x.presence"}}]"#,
        calls_topic(ADA)
    );
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let junk = b"{}[]\",:\\.%0a \x00\xff";
    for i in 0..200 {
        let mut bytes = seed.as_bytes().to_vec();
        for _ in 0..(next() % 6 + 1) {
            let pos = (next() as usize) % bytes.len().max(1);
            match next() % 3 {
                0 if !bytes.is_empty() => bytes[pos] = junk[(next() as usize) % junk.len()],
                1 if !bytes.is_empty() => {
                    bytes.remove(pos);
                }
                _ => bytes.insert(pos.min(bytes.len()), junk[(next() as usize) % junk.len()]),
            }
        }
        let m = if i % 2 == 0 {
            reqwest::Method::POST
        } else {
            reqwest::Method::PUT
        };
        let r = t
            .send(
                t.http
                    .request(m, t.url(&subs))
                    .bearer_auth(&tok)
                    .body(bytes),
            )
            .await;
        assert!(r.status < 500, "{}: {}", r.status, r.text);
    }
    for path in [
        "/channels/%00",
        "/channels/..%2F..",
        &format!("/channels/{}", "x".repeat(8000)),
        &format!("{CHANNELS}/%FF/subscriptions"),
    ] {
        let r = t.send(t.http.get(t.url(path)).bearer_auth(&tok)).await;
        assert!((400..500).contains(&r.status), "{path}: {}", r.status);
    }
    // Garbage on the socket is ignored; an oversized frame ends only that socket.
    let mut ws = Ws::open(&uri).await;
    ws.s.send(Message::binary(vec![0u8, 1, 2])).await.unwrap();
    for junk in [
        "",
        "nope",
        "[]",
        "{}",
        r#"{"message":5}"#,
        r#"{"message":"dance"}"#,
        r#"{"message":"subscribe","topics":"x"}"#,
    ] {
        ws.send(junk).await;
    }
    let e = ws.event(Duration::from_secs(3)).await.unwrap();
    assert_eq!(
        e,
        json!({"result": "400", "status": "failure"}),
        "only the bad subscribe is answered"
    );
    ws.ping().await;
    let _ = ws.s.send(Message::text("x".repeat(300 * 1024))).await;
    assert!(!matches!(
        ws.closed(Duration::from_secs(3)).await,
        Frame::Json(_)
    ));
    Ws::open(&uri).await;
    assert_eq!(t.get(&tok, &subs).await.status, 200, "still serving");
}

#[tokio::test]
async fn stopping_the_simulator_closes_sockets_with_1001() {
    let t = sim().await;
    let (_, uri) = t.channel(&t.edge().await).await;
    let mut ws = Ws::open(&uri).await;
    drop(t);
    assert!(matches!(
        ws.closed(Duration::from_secs(3)).await,
        Frame::Close(Some(1001))
    ));
}
