//! genesys-sim over real loopback HTTP: every endpoint's success and error
//! shapes, the lifecycle of every test number, PKCE, rate limits, token expiry,
//! faults, CORS, and a fuzz pass over request parsing.

use std::time::{Duration, Instant};

use genesys_sim::{start, Config, Running};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const ADA: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";
const OTTO: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a02";

struct T {
    sim: Running,
    http: reqwest::Client,
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

struct Resp {
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    fn header(&self, n: &str) -> Option<&str> {
        self.headers.get(n).and_then(|v| v.to_str().ok())
    }
}

impl T {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.sim.url())
    }
    async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        Resp {
            status,
            headers,
            text: r.text().await.unwrap(),
        }
    }
    async fn token(&self, id: &str, secret: &str) -> Resp {
        self.send(
            self.http
                .post(self.url("/oauth/token"))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await
    }
    async fn edge_token(&self) -> String {
        self.token("sim-edge", "sim-edge-secret").await.json()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }
    async fn get(&self, tok: &str, p: &str) -> Resp {
        self.send(self.http.get(self.url(p)).bearer_auth(tok)).await
    }
    async fn post(&self, tok: &str, p: &str, body: &str) -> Resp {
        self.send(
            self.http
                .post(self.url(p))
                .bearer_auth(tok)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }
    /// `PATCH /api/v2/conversations/calls/{id}` with a state.
    async fn patch_state(&self, tok: &str, id: &str, state: &str) -> Resp {
        let body = json!({ "state": state }).to_string();
        self.send(
            self.http
                .patch(self.url(&format!("/api/v2/conversations/calls/{id}")))
                .bearer_auth(tok)
                .body(body),
        )
        .await
    }
    /// The CallConversation as JSON.
    async fn call_json(&self, tok: &str, id: &str) -> Value {
        self.get(tok, &format!("/api/v2/conversations/calls/{id}"))
            .await
            .json()
    }
    async fn dial(&self, tok: &str, user: &str, number: &str) -> String {
        let r = self
            .post(
                tok,
                &format!("/api/v2/conversations/calls/user/{user}"),
                &json!({"phoneNumber": number}).to_string(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["id"].as_str().unwrap().to_string()
    }
    async fn log(&self) -> Vec<Value> {
        self.send(self.http.get(self.url("/__sim/requests")))
            .await
            .json()["requests"]
            .as_array()
            .unwrap()
            .clone()
    }
    async fn fault(&self, spec: Value) {
        let r = self
            .send(
                self.http
                    .post(self.url("/__sim/faults"))
                    .body(spec.to_string()),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    /// PKCE sign-in as `user`, returning the user token.
    async fn sign_in(&self, user: &str) -> String {
        let verifier = "v".repeat(43) + "erifier-abcdefghijklmnop";
        let code = self
            .authorize(user, &verifier, "http://127.0.0.1:9999/cb")
            .await;
        let r = self
            .exchange(&code, &verifier, "http://127.0.0.1:9999/cb")
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["access_token"].as_str().unwrap().to_string()
    }
    async fn authorize(&self, user: &str, verifier: &str, redirect: &str) -> String {
        let r = self
            .send(
                self.http
                    .post(self.url("/oauth/authorize"))
                    .form(&authz_params(verifier, redirect, Some(user))),
            )
            .await;
        assert_eq!(r.status, 302, "{}", r.text);
        let loc = r.header("location").unwrap().to_string();
        assert!(loc.starts_with(redirect), "{loc}");
        assert!(loc.contains("state=st%201"), "{loc}");
        let code = loc
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        code.to_string()
    }
    async fn exchange(&self, code: &str, verifier: &str, redirect: &str) -> Resp {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("client_id", "sim-browser"),
            ("redirect_uri", redirect),
        ];
        self.send(self.http.post(self.url("/oauth/token")).form(&form))
            .await
    }
}

fn challenge(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn authz_params(verifier: &str, redirect: &str, user: Option<&str>) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("client_id", "sim-browser".to_string()),
        ("redirect_uri", redirect.to_string()),
        ("response_type", "code".to_string()),
        ("code_challenge", challenge(verifier)),
        ("code_challenge_method", "S256".to_string()),
        ("state", "st 1".to_string()),
    ];
    if let Some(u) = user {
        p.push(("userId", u.to_string()));
    }
    p
}

fn assert_error_body(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    let b = r.json();
    assert_eq!(b["code"], code, "{}", r.text);
    assert_eq!(b["status"], status);
    assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(
        b["contextId"].as_str(),
        r.header("inin-correlation-id"),
        "contextId must equal ININ-Correlation-Id"
    );
    assert!(b["details"].is_array() && b["errors"].is_array());
}

#[tokio::test]
async fn client_credentials_token_and_oauth_errors() {
    let t = sim_with(|_| {}).await;
    let ok = t.token("sim-edge", "sim-edge-secret").await;
    assert_eq!(ok.status, 200);
    let b = ok.json();
    assert_eq!(
        (b["token_type"].as_str(), b["expires_in"].as_u64()),
        (Some("bearer"), Some(86_399))
    );
    assert!(b.get("refresh_token").is_none());
    for (id, secret, desc) in [
        ("sim-edge", "nope", "authentication failed"),
        ("nobody", "x", "client not found"),
    ] {
        let r = t.token(id, secret).await;
        assert_eq!(r.status, 401);
        let e = r.json();
        assert_eq!(
            (
                e["error"].as_str(),
                e["description"].as_str(),
                e["error_description"].as_str()
            ),
            (Some("invalid_client"), Some(desc), Some(desc))
        );
    }
    let no_basic = t
        .send(
            t.http
                .post(t.url("/oauth/token"))
                .form(&[("grant_type", "client_credentials")]),
        )
        .await;
    assert_eq!(
        (no_basic.status, no_basic.json()["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let bad_grant = t
        .send(
            t.http
                .post(t.url("/oauth/token"))
                .form(&[("grant_type", "password")]),
        )
        .await;
    assert_eq!(
        (bad_grant.status, bad_grant.json()["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let no_grant = t
        .send(t.http.post(t.url("/oauth/token")).form(&[("x", "y")]))
        .await;
    assert_eq!(
        (no_grant.status, no_grant.json()["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let json_body = t
        .send(
            t.http
                .post(t.url("/oauth/token"))
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await;
    assert_eq!(json_body.json()["error"], "invalid_request");
}

#[tokio::test]
async fn bearer_errors_and_token_expiry() {
    let t = sim_with(|c| c.token_ttl = Duration::from_secs(1)).await;
    assert_error_body(
        &t.send(t.http.get(t.url("/api/v2/tokens/me"))).await,
        401,
        "authentication.required",
    );
    assert_error_body(
        &t.get("not-a-token", "/api/v2/tokens/me").await,
        401,
        "bad.credentials",
    );
    let tok = t.edge_token().await;
    assert_eq!(t.get(&tok, "/api/v2/tokens/me").await.status, 200);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_error_body(
        &t.get(&tok, "/api/v2/tokens/me").await,
        401,
        "credentials.expired",
    );
    assert_error_body(
        &t.get(&t.edge_token().await, "/api/v2/nothing/here").await,
        404,
        "not.found",
    );
}

#[tokio::test]
async fn create_call_modes_permissions_and_validation() {
    let t = sim_with(|_| {}).await;
    let edge = t.edge_token().await;
    let user_ctx = t
        .post(
            &edge,
            "/api/v2/conversations/calls",
            r#"{"phoneNumber":"+13175550100"}"#,
        )
        .await;
    assert_error_body(&user_ctx, 400, "bad.request");
    assert!(user_ctx.json()["message"]
        .as_str()
        .unwrap()
        .contains("requires a user context"));

    let ro = t.token("sim-readonly", "sim-readonly-secret").await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let denied = t
        .post(
            &ro,
            &format!("/api/v2/conversations/calls/user/{ADA}"),
            r#"{"phoneNumber":"+13175550100"}"#,
        )
        .await;
    assert_error_body(&denied, 403, "missing.any.permissions");
    assert!(denied.json()["message"]
        .as_str()
        .unwrap()
        .contains("conversation:agentlessCall:add"));
    assert_error_body(
        &t.post(
            &edge,
            "/api/v2/conversations/calls/user/no-such-user",
            r#"{"phoneNumber":"+13175550100"}"#,
        )
        .await,
        404,
        "not.found",
    );

    for (body, field) in [
        (r#"{"phoneNumber":"3175550100"}"#, "phoneNumber"),
        (r#"{"phoneNumber":"+1"}"#, "phoneNumber"),
        (r#"{}"#, "phoneNumber"),
        (r#"{"phoneNumber":13175550100}"#, "phoneNumber"),
        (
            r#"{"phoneNumber":"+13175550100","callerId":12}"#,
            "callerId",
        ),
        (
            r#"{"phoneNumber":"+13175550100","priority":"high"}"#,
            "priority",
        ),
        (
            r#"{"phoneNumber":"+13175550100","attributes":{"a":1}}"#,
            "attributes",
        ),
        (
            r#"{"phoneNumber":"+13175550100","callerId":"nope"}"#,
            "callerId",
        ),
    ] {
        let r = t
            .post(
                &edge,
                &format!("/api/v2/conversations/calls/user/{ADA}"),
                body,
            )
            .await;
        assert_error_body(&r, 400, "bad.request");
        assert_eq!(r.json()["details"][0]["fieldName"], field, "{body}");
    }
    assert_error_body(
        &t.post(
            &edge,
            &format!("/api/v2/conversations/calls/user/{ADA}"),
            "{not json",
        )
        .await,
        400,
        "bad.request",
    );

    // Unknown fields are ignored, tel: URIs accepted, the response is CreateCallResponse.
    let ok = t
        .post(
            &edge,
            &format!("/api/v2/conversations/calls/user/{ADA}"),
            r#"{"phoneNumber":"tel:+13175550100","somethingNew":true,"callFromQueueId":"q1"}"#,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let b = ok.json();
    let id = b["id"].as_str().unwrap();
    assert_eq!(b["selfUri"], format!("/api/v2/conversations/calls/{id}"));
    assert_eq!(b.as_object().unwrap().len(), 2);
    let call = t.call_json(&edge, id).await;
    assert_eq!(
        call["participants"][0]["purpose"], "agent",
        "a queue call makes the agent leg purpose agent"
    );
    assert_eq!(call["participants"][0]["queue"]["id"], "q1");

    // The agent's own user token dials from POST /conversations/calls.
    let ada = t.sign_in(ADA).await;
    let mine = t
        .post(
            &ada,
            "/api/v2/conversations/calls",
            r#"{"phoneNumber":"+13175550100"}"#,
        )
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
}

/// Polls a call until it ends, returning every distinct (agent state, far state).
async fn lifecycle(t: &T, tok: &str, id: &str) -> (Vec<(String, String)>, Value) {
    let mut seen: Vec<(String, String)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let c = t
            .get(tok, &format!("/api/v2/conversations/calls/{id}"))
            .await
            .json();
        let p = c["participants"].as_array().unwrap();
        let st = |i: usize| {
            p.get(i)
                .and_then(|x| x["state"].as_str())
                .unwrap_or("-")
                .to_string()
        };
        let pair = (st(0), st(1));
        if seen.last() != Some(&pair) {
            seen.push(pair.clone());
        }
        let over = p.iter().all(|x| x["state"] == "disconnected");
        if over || Instant::now() > deadline {
            return (seen, c);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn every_test_number_follows_its_lifecycle() {
    // Polling must see states that last 0.5 s × scale even on a loaded
    // machine: 0.1 gives 50 ms; the cases run concurrently to stay quick.
    let t = sim_with(|c| {
        c.time_scale = 0.1;
        c.rate_limit = 1_000_000;
    })
    .await;
    let tok = t.edge_token().await;
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
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a Vec<(String, String)>,
        Option<u64>,
        &'a str,
    );
    let cases: [Case; 5] = [
        ("+13175550100", ADA, &full, None, "endpoint"),
        ("+13175550101", ADA, &failed, Some(486), "endpoint"),
        ("+13175550102", ADA, &failed, Some(480), "endpoint"),
        ("+13175550103", ADA, &failed, Some(404), "error"),
        ("+4915123456789", ADA, &full, None, "endpoint"),
    ];
    let t = &t;
    let tok = &tok;
    futures_util::future::join_all(cases.into_iter().map(
        |(number, agent, want, sip, dtype)| async move {
            let id = t.dial(tok, agent, number).await;
            let (seen, last) = lifecycle(t, tok, &id).await;
            assert_eq!(&seen, want, "{number}");
            let far = &last["participants"][1];
            assert_eq!(far["address"], format!("tel:{number}"));
            assert_eq!(far["purpose"], "external");
            assert_eq!(far["disconnectType"], dtype, "{number}");
            assert!(far["endTime"].is_string() && far["startTime"].is_string());
            assert_eq!(
                far["connectedTime"].is_string(),
                sip.is_none(),
                "{number}: connectedTime only when answered"
            );
            assert_eq!(last["participants"][0]["disconnectType"], "peer");
            let conv = t
                .get(tok, &format!("/api/v2/conversations/{id}"))
                .await
                .json();
            assert!(conv["endTime"].is_string());
            let reasons = &conv["participants"][1]["calls"][0]["disconnectReasons"];
            assert_eq!(reasons[0]["code"].as_u64(), sip, "{number}");
            if sip.is_some() {
                assert_eq!(reasons[0]["type"], "sip");
            }
        },
    ))
    .await;
    // Agent-side failures: no far leg ever appears.
    for (number, agent, dtype) in [
        ("+13175550105", ADA, "transfer.noanswer"),
        ("+13175550100", OTTO, "error"),
    ] {
        let id = t.dial(tok, agent, number).await;
        let (seen, last) = lifecycle(t, tok, &id).await;
        assert_eq!(
            seen,
            pairs(&[("contacting", "-"), ("disconnected", "-")]),
            "{number} {agent}"
        );
        assert_eq!(last["participants"][0]["disconnectType"], dtype);
    }
}

#[tokio::test]
async fn hang_up_through_the_api_and_visibility() {
    let t = sim_with(|c| c.time_scale = 0.02).await;
    let tok = t.edge_token().await;
    let id = t.dial(&tok, ADA, "+13175550104").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = t.call_json(&tok, &id).await;
    assert_eq!(
        c["participants"][1]["state"], "connected",
        "+104 stays connected"
    );
    // Another principal cannot see it; the agent's own token can.
    let otto = t.sign_in(OTTO).await;
    assert_error_body(
        &t.get(&otto, &format!("/api/v2/conversations/calls/{id}"))
            .await,
        404,
        "not.found",
    );
    let ada = t.sign_in(ADA).await;
    assert_eq!(
        t.get(&ada, &format!("/api/v2/conversations/calls/{id}"))
            .await
            .status,
        200
    );

    let bad = t.patch_state(&tok, &id, "connected").await;
    assert_error_body(&bad, 400, "bad.request");
    let ro = t.token("sim-readonly", "sim-readonly-secret").await.json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let forbidden = t.patch_state(&ro, &id, "disconnected").await;
    assert_error_body(&forbidden, 403, "missing.any.permissions");
    let hung = t.patch_state(&tok, &id, "disconnected").await;
    assert_eq!(hung.status, 200);
    let c = t.call_json(&tok, &id).await;
    assert_eq!(
        (
            c["participants"][0]["disconnectType"].as_str(),
            c["participants"][1]["disconnectType"].as_str()
        ),
        (Some("client"), Some("peer"))
    );
    assert!(c["participants"][1]["connectedTime"].is_string());
}

#[tokio::test]
async fn pkce_end_to_end_and_its_failures() {
    let t = sim_with(|_| {}).await;
    let verifier = "correct-horse-battery-staple-0123456789-abcdef";
    let cb = "http://127.0.0.1:8080/agent.html";

    let page = t
        .send(
            t.http
                .get(t.url("/oauth/authorize"))
                .query(&authz_params(verifier, cb, None)),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("Ada Lovelace")
            && page.text.contains(ADA)
            && page.text.contains("<form")
    );

    let code = t.authorize(ADA, verifier, cb).await;
    assert_eq!(
        t.exchange(&code, "wrong-verifier-wrong-verifier-wrong-verifier-x", cb)
            .await
            .json()["error"],
        "invalid_grant"
    );
    assert_eq!(
        t.exchange(&code, verifier, cb).await.json()["error"],
        "invalid_grant",
        "a code is single-use, even after a failed attempt"
    );

    let code = t.authorize(ADA, verifier, cb).await;
    assert_eq!(
        t.exchange(&code, verifier, "http://127.0.0.1:8080/other")
            .await
            .json()["error"],
        "invalid_grant"
    );
    let code = t.authorize(ADA, verifier, cb).await;
    let ok = t.exchange(&code, verifier, cb).await;
    assert_eq!(ok.status, 200);
    let tok = ok.json()["access_token"].as_str().unwrap().to_string();
    let me = t.get(&tok, "/api/v2/users/me").await.json();
    assert_eq!(
        (me["id"].as_str(), me["name"].as_str()),
        (Some(ADA), Some("Ada Lovelace"))
    );
    assert_eq!(
        t.exchange(&code, verifier, cb).await.json()["error"],
        "invalid_grant",
        "reused code"
    );
    let info = t.get(&tok, "/api/v2/tokens/me").await.json();
    assert_eq!(info["OAuthClient"]["id"], "sim-browser");
    assert!(info["authorizedScope"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "conversations"));

    // A foreign redirect URI or unknown client gets an error page, never a redirect.
    for params in [authz_params(verifier, "http://evil.example/cb", None), {
        let mut p = authz_params(verifier, cb, None);
        p[0].1 = "nobody".into();
        p
    }] {
        let r = t
            .send(t.http.get(t.url("/oauth/authorize")).query(&params))
            .await;
        assert_eq!(r.status, 400);
        assert!(r.header("location").is_none());
    }
    // Errors with a valid redirect URI go back to it.
    let mut deny = authz_params(verifier, cb, None);
    deny.push(("deny", "1".into()));
    let r = t
        .send(t.http.post(t.url("/oauth/authorize")).form(&deny))
        .await;
    assert!(r
        .header("location")
        .unwrap()
        .contains("error=access_denied"));
    let mut no_pkce = authz_params(verifier, cb, None);
    no_pkce.retain(|(k, _)| *k != "code_challenge");
    let r = t
        .send(t.http.get(t.url("/oauth/authorize")).query(&no_pkce))
        .await;
    assert_eq!(r.status, 302);
    assert!(r
        .header("location")
        .unwrap()
        .starts_with(&format!("{cb}?error=invalid_request")));
}

#[tokio::test]
async fn users_presence_and_token_info() {
    let t = sim_with(|_| {}).await;
    let tok = t.edge_token().await;
    assert_error_body(&t.get(&tok, "/api/v2/users/me").await, 400, "bad.request");
    let p = t
        .get(&tok, &format!("/api/v2/users/{ADA}/presences/purecloud"))
        .await
        .json();
    assert_eq!(p["presenceDefinition"]["systemPresence"], "Available");
    assert_eq!(
        p["presenceDefinition"]["id"],
        "6a3af858-942f-489d-9700-5f9bcdcdae9b"
    );
    let o = t
        .get(&tok, &format!("/api/v2/users/{OTTO}/presences/purecloud"))
        .await
        .json();
    assert_eq!(o["presenceDefinition"]["systemPresence"], "Offline");
    assert_error_body(
        &t.get(&tok, "/api/v2/users/nobody/presences/purecloud")
            .await,
        404,
        "not.found",
    );
    let info = t.get(&tok, "/api/v2/tokens/me").await.json();
    assert_eq!(info["OAuthClient"]["id"], "sim-edge");
    assert_eq!(info["organization"]["name"], "Genesys Sim Org");
}

#[tokio::test]
async fn per_token_rate_limit_answers_429_with_retry_after() {
    let t = sim_with(|c| {
        c.rate_limit = 3;
        c.rate_window = Duration::from_secs(2);
    })
    .await;
    let tok = t.edge_token().await;
    for _ in 0..3 {
        assert_eq!(t.get(&tok, "/api/v2/tokens/me").await.status, 200);
    }
    let limited = t.get(&tok, "/api/v2/tokens/me").await;
    assert_error_body(&limited, 429, "too.many.requests.retry.after");
    let secs: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&secs), "{secs}");
    // Another token has its own budget.
    assert_eq!(
        t.get(&t.edge_token().await, "/api/v2/tokens/me")
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
    assert_eq!(t.get(&tok, "/api/v2/tokens/me").await.status, 200);
}

#[tokio::test]
async fn injected_faults() {
    let t = sim_with(|c| c.time_scale = 0.02).await;
    let tok = t.edge_token().await;
    let create = format!("/api/v2/conversations/calls/user/{ADA}");
    let body = r#"{"phoneNumber":"+13175550104"}"#;

    // Status before handling: Genesys did nothing, and says so with its body.
    t.fault(json!({"method": "POST", "path": "/api/v2/conversations/calls/user/*", "status": 503, "retryAfter": 2})).await;
    let r = t.post(&tok, &create, body).await;
    assert_error_body(&r, 503, "service.unavailable");
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(
        t.post(&tok, &create, body).await.status,
        200,
        "count defaults to 1"
    );

    // After handling: the hang-up happened even though the answer was an error.
    let id = t.dial(&tok, ADA, "+13175550104").await;
    t.fault(json!({"method": "PATCH", "path": "/api/v2/conversations/calls/*", "when": "after", "status": 500})).await;
    let r = t.patch_state(&tok, &id, "disconnected").await;
    assert_eq!(r.status, 500);
    let c = t.call_json(&tok, &id).await;
    assert_eq!(c["participants"][0]["state"], "disconnected");

    // Drop: no response at all.
    t.fault(json!({"path": "/api/v2/tokens/me", "drop": true}))
        .await;
    let dropped = t
        .http
        .get(t.url("/api/v2/tokens/me"))
        .bearer_auth(&tok)
        .send()
        .await;
    let failed = match dropped {
        Err(_) => true,
        Ok(r) => r.text().await.is_err(),
    };
    assert!(failed, "a dropped connection must not look like a response");

    // Malformed body with a 200.
    t.fault(json!({"path": "/api/v2/tokens/me", "malformed": true}))
        .await;
    let m = t.get(&tok, "/api/v2/tokens/me").await;
    assert_eq!(m.status, 200);
    assert!(serde_json::from_str::<Value>(&m.text).is_err());

    // Delay, and count.
    t.fault(json!({"path": "/api/v2/tokens/me", "delayMs": 300, "count": 2}))
        .await;
    for _ in 0..2 {
        let t0 = Instant::now();
        assert_eq!(t.get(&tok, "/api/v2/tokens/me").await.status, 200);
        assert!(t0.elapsed() >= Duration::from_millis(300));
    }
    t.get(&tok, "/api/v2/tokens/me").await;
    // `count` is spent: the log shows the fault on exactly the two requests before.
    let delayed: Vec<bool> = t
        .log()
        .await
        .iter()
        .rev()
        .take(3)
        .map(|e| e["fault"].as_str().is_some_and(|f| f.starts_with("delay")))
        .collect();
    assert_eq!(delayed, [false, true, true]);

    // The log records each request with client, status, fault and number dialled.
    let log = t.log().await;
    let posts: Vec<&Value> = log
        .iter()
        .filter(|e| e["method"] == "POST" && e["path"] == create)
        .collect();
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[0]["status"], 503);
    assert!(posts[0]["fault"].as_str().unwrap().contains("status 503"));
    assert!(posts
        .iter()
        .all(|e| e["phoneNumber"] == "+13175550104" && e["clientId"] == "sim-edge"));
    assert!(log.iter().any(|e| e["dropped"] == true));
    assert!(log
        .iter()
        .any(|e| e["path"] == "/oauth/token" && e["clientId"] == "sim-edge"));

    // Reset clears the log and faults but keeps tokens valid.
    t.fault(json!({"path": "/api/v2/tokens/me", "status": 500, "count": 5}))
        .await;
    t.send(t.http.post(t.url("/__sim/reset"))).await;
    assert!(t.log().await.is_empty());
    assert_eq!(t.get(&tok, "/api/v2/tokens/me").await.status, 200);
    // Bad fault specs are refused.
    let bad = t
        .send(
            t.http
                .post(t.url("/__sim/faults"))
                .body(r#"{"path":"/x","status":200}"#),
        )
        .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn cors_like_genesys() {
    let t = sim_with(|_| {}).await;
    let preflight = |origin: &str, path: &str| {
        t.http
            .request(reqwest::Method::OPTIONS, t.url(path))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
    };
    let ok = t
        .send(preflight(
            "http://127.0.0.1:8080",
            "/api/v2/conversations/calls",
        ))
        .await;
    assert_eq!(ok.status, 204);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("http://127.0.0.1:8080")
    );
    let allow = ok
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(allow.contains("authorization") && allow.contains("content-type"));
    let foreign = t
        .send(preflight(
            "https://evil.example",
            "/api/v2/conversations/calls",
        ))
        .await;
    assert_eq!(foreign.status, 403);
    assert!(foreign.header("access-control-allow-origin").is_none());
    assert_eq!(
        t.send(preflight("http://localhost:3000", "/oauth/token"))
            .await
            .status,
        204
    );

    let tok = t.edge_token().await;
    let r = t
        .send(
            t.http
                .get(t.url("/api/v2/tokens/me"))
                .bearer_auth(&tok)
                .header("origin", "http://localhost:5000"),
        )
        .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("http://localhost:5000")
    );
    assert!(r
        .header("access-control-expose-headers")
        .unwrap()
        .contains("ININ-Correlation-Id"));
    let r = t
        .send(
            t.http
                .get(t.url("/api/v2/tokens/me"))
                .bearer_auth(&tok)
                .header("origin", "https://evil.example"),
        )
        .await;
    assert!(r.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn body_cap_and_fuzzed_requests_never_break_the_server() {
    let t = sim_with(|_| {}).await;
    let tok = t.edge_token().await;
    let big = format!(
        r#"{{"phoneNumber":"+13175550100","pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let r = t
        .post(
            &tok,
            &format!("/api/v2/conversations/calls/user/{ADA}"),
            &big,
        )
        .await;
    assert_eq!(r.status, 413);

    let seeds = [
        r#"{"phoneNumber":"+13175550100","callerId":"+13175550199","attributes":{"a":"b"},"priority":3}"#,
        "grant_type=authorization_code&code=abc&code_verifier=xyz&client_id=sim-browser&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2F",
    ];
    let mut x: u64 = 0x2545F4914F6CDD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let junk = b"{}[]\",:\\%&=+0123456789abc\x00\xff\xfe ";
    for i in 0..400 {
        let seed = seeds[i % 2].as_bytes();
        let mut bytes = seed.to_vec();
        for _ in 0..(next() % 8 + 1) {
            let pos = (next() as usize) % bytes.len().max(1);
            match next() % 3 {
                0 if !bytes.is_empty() => bytes[pos] = junk[(next() as usize) % junk.len()],
                1 if !bytes.is_empty() => {
                    bytes.remove(pos);
                }
                _ => bytes.insert(pos.min(bytes.len()), junk[(next() as usize) % junk.len()]),
            }
        }
        let (path, ctype) = if i % 2 == 0 {
            (
                format!("/api/v2/conversations/calls/user/{ADA}"),
                "application/json",
            )
        } else {
            (
                "/oauth/token".to_string(),
                "application/x-www-form-urlencoded",
            )
        };
        let r = t
            .send(
                t.http
                    .post(t.url(&path))
                    .bearer_auth(&tok)
                    .header("content-type", ctype)
                    .body(bytes),
            )
            .await;
        assert!(
            r.status < 500,
            "server error {} for a fuzzed body: {}",
            r.status,
            r.text
        );
    }
    assert_eq!(
        t.get(&tok, "/api/v2/tokens/me").await.status,
        200,
        "still serving"
    );
}
