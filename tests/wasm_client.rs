//! The wasm exports, for real: in Node and in headless Chromium, against a
//! running genesys-sim (scripts/test-wasm.sh starts it and passes its URL, and
//! for the browser an agent's PKCE token, at compile time).
#![cfg(target_arch = "wasm32")]

use genesys_click_to_call::wasm::{finish_login, start_login, GenesysClient};
use js_sys::{Function, Promise, Reflect, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

const SIM: Option<&str> = option_env!("GENESYS_SIM_URL");
/// Only for the browser run: a user token for Ada, from a PKCE sign-in.
const ADA_TOKEN: Option<&str> = option_env!("GENESYS_SIM_ADA_TOKEN");
/// Set by scripts/test-wasm.sh for the Chromium run, so a runner that quietly
/// fell back to Node would fail instead of passing.
const EXPECT_BROWSER: bool = option_env!("GENESYS_EXPECT_BROWSER").is_some();
const ADA: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";

#[wasm_bindgen(inline_js = r#"
export const inBrowser = () => typeof document !== "undefined";
export async function simLog(base) {
  return (await (await fetch(base + "/__sim/requests")).json()).requests;
}
export async function simFault(base, spec) {
  const r = await fetch(base + "/__sim/faults", { method: "POST", body: JSON.stringify(spec) });
  if (r.status !== 201) throw new Error("fault not armed: " + r.status);
}
// Submits the simulated sign-in page's form for `userId`; returns the redirect.
export async function signIn(authorizeUrl, userId) {
  const [base, query] = authorizeUrl.split("?");
  const r = await fetch(base, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
                                body: query + "&userId=" + encodeURIComponent(userId), redirect: "manual" });
  return r.headers.get("location");
}
// Hides crypto.subtle (as on an insecure page); returns a function that restores it.
export function hideSubtle() {
  Object.defineProperty(globalThis.crypto, "subtle", { value: undefined, configurable: true });
  return () => { delete globalThis.crypto.subtle; };
}
export function abortAfter(ms) { const c = new AbortController(); setTimeout(() => c.abort(), ms); return c.signal; }
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Node 20 has no global WebSocket: the ws package's constructor, given as the client option.
// (The runner copies this file to a temporary directory: resolve from the crate.)
export async function wsPackage(crateDir) {
  if (typeof document !== "undefined") return undefined;
  const { createRequire } = await import("node:module");
  return createRequire(crateDir + "/package.json")("ws").WebSocket;
}
export async function simNotifications(base) { return (await fetch(base + "/__sim/notifications")).json(); }
export async function simNotifyFault(base, spec) {
  const r = await fetch(base + "/__sim/notifications/faults", { method: "POST", body: JSON.stringify(spec) });
  if (r.status !== 200) throw new Error("notification fault not armed: " + r.status);
}
// Hides the global WebSocket (as in Node 20); returns a function that restores it.
export function hideWebSocket() {
  const had = Object.getOwnPropertyDescriptor(globalThis, "WebSocket");
  Object.defineProperty(globalThis, "WebSocket", { value: undefined, configurable: true, writable: true });
  return () => { if (had) Object.defineProperty(globalThis, "WebSocket", had); else delete globalThis.WebSocket; };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = inBrowser)]
    fn in_browser() -> bool;
    #[wasm_bindgen(js_name = simLog)]
    async fn sim_log(base: &str) -> JsValue;
    #[wasm_bindgen(js_name = simFault, catch)]
    async fn sim_fault(base: &str, spec: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = signIn)]
    async fn sign_in(authorize_url: &str, user_id: &str) -> JsValue;
    #[wasm_bindgen(js_name = hideSubtle)]
    fn hide_subtle() -> Function;
    #[wasm_bindgen(js_name = abortAfter)]
    fn abort_after(ms: u32) -> JsValue;
    async fn sleep(ms: u32);
    #[wasm_bindgen(js_name = wsPackage)]
    async fn ws_package(crate_dir: &str) -> JsValue;
    #[wasm_bindgen(js_name = simNotifications)]
    async fn sim_notifications(base: &str) -> JsValue;
    #[wasm_bindgen(js_name = simNotifyFault, catch)]
    async fn sim_notify_fault(base: &str, spec: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = hideWebSocket)]
    fn hide_web_socket() -> Function;
}

fn sim() -> &'static str {
    SIM.expect(
        "GENESYS_SIM_URL was not set at compile time: run these tests through scripts/test-wasm.sh",
    )
}

fn js(json: &str) -> JsValue {
    JSON::parse(json).unwrap()
}

fn get(v: &JsValue, path: &str) -> JsValue {
    path.split('.').fold(v.clone(), |o, k| {
        Reflect::get(&o, &k.into()).unwrap_or(JsValue::UNDEFINED)
    })
}

fn text(v: &JsValue, path: &str) -> String {
    get(v, path).as_string().unwrap_or_default()
}

async fn ok(p: Promise) -> JsValue {
    match JsFuture::from(p).await {
        Ok(v) => v,
        Err(e) => panic!("rejected: {} {}", text(&e, "code"), text(&e, "message")),
    }
}

async fn err(p: Promise) -> JsValue {
    let e = JsFuture::from(p).await.expect_err("expected a rejection");
    assert_eq!(text(&e, "name"), "GenesysError");
    assert!(e.is_instance_of::<js_sys::Error>());
    e
}

/// A client the way this environment should use one: client credentials on a
/// server runtime (Node, with the ws package as its WebSocket), the agent's
/// own token in a page (Chromium, with the browser's WebSocket).
async fn client() -> (GenesysClient, Option<&'static str>) {
    client_with(r#""pollIntervalMs":50"#).await
}

/// [`client`] with extra options (a JSON fragment).
async fn client_with(extra: &str) -> (GenesysClient, Option<&'static str>) {
    assert_eq!(
        in_browser(),
        EXPECT_BROWSER,
        "running in the wrong environment"
    );
    let (auth, on_behalf) = if in_browser() {
        let token = ADA_TOKEN.expect("GENESYS_SIM_ADA_TOKEN was not set at compile time: run through scripts/test-wasm.sh browser");
        (format!(r#"{{"accessToken":"{token}"}}"#), None)
    } else {
        (
            r#"{"clientCredentials":{"clientId":"sim-edge","clientSecret":"sim-edge-secret"}}"#
                .to_string(),
            Some(ADA),
        )
    };
    let opts = js(&format!(
        r#"{{"apiBase":"{}","auth":{auth},{extra}}}"#,
        sim()
    ));
    let ws = ws_package(env!("CARGO_MANIFEST_DIR")).await;
    if !ws.is_undefined() {
        Reflect::set(&opts, &"WebSocket".into(), &ws).unwrap();
    }
    (
        GenesysClient::new(opts).unwrap_or_else(|e| panic!("{}", text(&e, "message"))),
        on_behalf,
    )
}

fn call_options(number: &str, on_behalf: Option<&str>) -> JsValue {
    match on_behalf {
        Some(u) => js(&format!(
            r#"{{"phoneNumber":"{number}","onBehalfOfUserId":"{u}"}}"#
        )),
        None => js(&format!(r#"{{"phoneNumber":"{number}"}}"#)),
    }
}

#[wasm_bindgen_test]
async fn place_call_and_follow_it_to_completed_with_on_update() {
    let (c, on_behalf) = client().await;
    let placed = ok(c.place_call(call_options("+13175550100", on_behalf))).await;
    let id = text(&placed, "conversationId");
    assert_eq!(id.len(), 36);

    let phases = js_sys::Array::new();
    let seen = phases.clone();
    let on_update = Closure::<dyn FnMut(JsValue)>::new(move |s: JsValue| {
        seen.push(&get(&s, "phase"));
    });
    let opts = js(r#"{"until":"ended","timeoutMs":30000}"#);
    Reflect::set(
        &opts,
        &"onUpdate".into(),
        on_update.as_ref().unchecked_ref::<Function>(),
    )
    .unwrap();
    let status = ok(c.wait_for_call(&id, opts)).await;

    assert_eq!(
        (text(&status, "phase"), text(&status, "outcome")),
        ("ended".into(), "completed".into())
    );
    assert_eq!(text(&status, "conversationId"), id);
    assert_eq!(text(&status, "customer.address"), "tel:+13175550100");
    assert_eq!(text(&status, "agent.userId"), ADA);
    assert_eq!(
        text(&status, "raw.id"),
        id,
        "the raw CallConversation is passed through"
    );
    let seen: Vec<String> = phases.iter().filter_map(|p| p.as_string()).collect();
    assert!(
        seen.contains(&"connected".to_string()) && seen.last().map(String::as_str) == Some("ended"),
        "{seen:?}"
    );
    // getCall reads the same call once.
    let again = ok(c.get_call(&id, JsValue::UNDEFINED)).await;
    assert_eq!(text(&again, "outcome"), "completed");
}

#[wasm_bindgen_test]
async fn busy_number_ends_with_outcome_busy() {
    let (c, on_behalf) = client().await;
    let id = text(
        &ok(c.place_call(call_options("+13175550101", on_behalf))).await,
        "conversationId",
    );
    let status = ok(c.wait_for_call(&id, JsValue::UNDEFINED)).await;
    assert_eq!(text(&status, "outcome"), "busy");
    assert_eq!(
        get(&status, "customer.disconnectReasons.0.code").as_f64(),
        Some(486.0)
    );
}

#[wasm_bindgen_test]
async fn abort_signal_stops_a_wait_and_hang_up_ends_the_call() {
    let (c, on_behalf) = client().await;
    let id = text(
        &ok(c.place_call(call_options("+13175550104", on_behalf))).await,
        "conversationId",
    );
    let opts = js(r#"{"until":"ended"}"#);
    Reflect::set(&opts, &"signal".into(), &abort_after(300)).unwrap();
    let e = err(c.wait_for_call(&id, opts)).await;
    assert_eq!(text(&e, "code"), "aborted");
    let connected =
        ok(c.wait_for_call(&id, js(r#"{"until":"connected","timeoutMs":10000}"#))).await;
    assert_eq!(text(&connected, "phase"), "connected");
    ok(c.hang_up(&id, JsValue::UNDEFINED)).await;
    let after = ok(c.get_call(&id, JsValue::UNDEFINED)).await;
    assert_eq!(
        (text(&after, "phase"), text(&after, "outcome")),
        ("ended".into(), "completed".into())
    );
    assert_eq!(text(&after, "agent.disconnectType"), "client");
}

#[wasm_bindgen_test]
async fn bad_input_is_rejected_before_any_request() {
    let (c, on_behalf) = client().await;
    for (opts, needle) in [
        (
            call_options("555-0100", on_behalf),
            "phoneNumber must be an E.164",
        ),
        (
            js(r#"{"phonenumber":"+13175550100"}"#),
            "unknown field `phonenumber`",
        ),
        (
            js(r#"{"phoneNumber":13175550100}"#),
            "placeCall options: phoneNumber: invalid type",
        ),
        (
            JsValue::from_str("+13175550100"),
            "placeCall options: invalid type",
        ),
    ] {
        let e = err(c.place_call(opts)).await;
        assert_eq!(text(&e, "code"), "invalid_input");
        assert!(
            text(&e, "message").contains(needle),
            "{}",
            text(&e, "message")
        );
    }
    let e = err(c.wait_for_call("../../users/me", JsValue::UNDEFINED)).await;
    assert_eq!(text(&e, "code"), "invalid_input");
    let e = GenesysClient::new(js(r#"{"auth":{"accessToken":"t"}}"#))
        .err()
        .expect("no region");
    assert_eq!(text(&e, "code"), "invalid_input");
}

#[wasm_bindgen_test]
async fn genesys_errors_carry_code_status_and_context_id() {
    let bad = GenesysClient::new(js(&format!(
        r#"{{"apiBase":"{}","auth":{{"accessToken":"not-a-token"}}}}"#,
        sim()
    )))
    .unwrap();
    let e = err(bad.place_call(js(r#"{"phoneNumber":"+13175550100"}"#))).await;
    assert_eq!(text(&e, "code"), "auth_failed");
    assert_eq!(get(&e, "status").as_f64(), Some(401.0));
    assert_eq!(
        text(&e, "contextId").len(),
        36,
        "Genesys' correlation id is passed on"
    );
}

/// A 503 after the next create-call POST reached Genesys (the call exists).
async fn fault_after_the_post(on_behalf: Option<&str>) {
    let path = if on_behalf.is_some() {
        "/api/v2/conversations/calls/user/*"
    } else {
        "/api/v2/conversations/calls"
    };
    sim_fault(
        sim(),
        js(&format!(
            r#"{{"method":"POST","path":"{path}","when":"after","status":503}}"#
        )),
    )
    .await
    .unwrap();
}

#[wasm_bindgen_test]
async fn a_5xx_after_the_post_is_outcome_unknown_with_exactly_one_post() {
    let (c, on_behalf) = client().await;
    let number = if in_browser() {
        "+15550007001"
    } else {
        "+15550007002"
    };
    fault_after_the_post(on_behalf).await;
    let e = err(c.place_call(call_options(number, on_behalf))).await;
    assert_eq!(text(&e, "code"), "outcome_unknown");
    assert_eq!(posts_to(number).await, 1, "never dialled twice");
}

#[wasm_bindgen_test]
async fn an_unknown_outcome_is_resolved_in_the_settle_window_not_redialled() {
    let (c, on_behalf) = client().await;
    let number = if in_browser() {
        "+15550007011"
    } else {
        "+15550007012"
    };
    fault_after_the_post(on_behalf).await;
    let e = err(c.place_call(call_options(number, on_behalf))).await;
    assert_eq!(text(&e, "code"), "outcome_unknown");
    // Again: the call is found (one analytics read, its interval written by
    // the platform's Date), not dialled.
    let placed = ok(c.place_call(call_options(number, on_behalf))).await;
    assert_eq!(
        Reflect::get(&placed, &"resolved".into()).unwrap(),
        JsValue::TRUE
    );
    assert!(!text(&placed, "conversationId").is_empty());
    assert_eq!(posts_to(number).await, 1, "never dialled twice");
}

#[wasm_bindgen_test]
async fn environment_specific_auth_rules() {
    let creds = format!(
        r#"{{"apiBase":"{}","auth":{{"clientCredentials":{{"clientId":"sim-edge","clientSecret":"wrong"}}}}}}"#,
        sim()
    );
    if in_browser() {
        // A secret must never be used from a page.
        let e = GenesysClient::new(js(&creds))
            .err()
            .expect("refused in a browser");
        assert_eq!(text(&e, "code"), "invalid_input");
        assert!(text(&e, "message").contains("must not be used in a browser"));
    } else {
        let c = GenesysClient::new(js(&creds)).unwrap();
        let e = err(c.place_call(call_options("+13175550100", Some(ADA)))).await;
        assert_eq!(text(&e, "code"), "auth_failed");
        assert!(
            !text(&e, "message").contains("wrong"),
            "the secret never appears in an error"
        );
        // Client credentials without onBehalfOfUserId: the right mode is named.
        let good = client().await.0;
        let e = err(good.place_call(call_options("+13175550100", None))).await;
        assert_eq!(text(&e, "code"), "user_context_required");
    }
}

#[wasm_bindgen_test]
async fn pkce_sign_in_then_the_agent_dials_with_their_own_token() {
    let login = js(&format!(
        r#"{{"apiBase":"{}","clientId":"sim-browser","redirectUri":"http://127.0.0.1:8080/agent.html"}}"#,
        sim()
    ));
    let started = ok(start_login(login.clone())).await;
    let url = text(&started, "url");
    assert!(
        url.contains("code_challenge_method=S256") && url.contains("response_type=code"),
        "{url}"
    );
    assert_eq!(text(&started, "codeVerifier").len(), 128);
    let finish_with = |callback: &str| {
        js(&format!(
            r#"{{"apiBase":"{}","clientId":"sim-browser","redirectUri":"http://127.0.0.1:8080/agent.html","callbackUrl":"{callback}","codeVerifier":"{}","state":"{}"}}"#,
            sim(),
            text(&started, "codeVerifier"),
            text(&started, "state")
        ))
    };
    // The callback is checked before any request: state, errors, malformed URLs.
    let e = err(finish_login(finish_with(
        "http://127.0.0.1:8080/agent.html?code=x&state=forged",
    )))
    .await;
    assert_eq!(text(&e, "code"), "invalid_input");
    let e = err(finish_login(finish_with(&format!(
        "http://127.0.0.1:8080/agent.html?error=access_denied&state={}",
        text(&started, "state")
    ))))
    .await;
    assert_eq!(text(&e, "code"), "auth_failed");
    let e = err(finish_login(finish_with("not a url"))).await;
    assert_eq!(text(&e, "code"), "invalid_input");
    if in_browser() {
        // A test page cannot read the sign-in page's cross-origin redirect; the
        // browser run dials with a PKCE token obtained the same way (client()).
        return;
    }
    let callback = sign_in(&url, ADA).await.as_string().expect("a redirect");
    let finish = finish_with(&callback);
    let token = ok(finish_login(finish.clone())).await;
    assert_eq!(text(&token, "tokenType"), "bearer");
    let c = GenesysClient::new(js(&format!(
        r#"{{"apiBase":"{}","auth":{{"accessToken":"{}"}},"pollIntervalMs":50}}"#,
        sim(),
        text(&token, "accessToken")
    )))
    .unwrap();
    let id = text(
        &ok(c.place_call(js(r#"{"phoneNumber":"+13175550100"}"#))).await,
        "conversationId",
    );
    assert_eq!(
        text(
            &ok(c.wait_for_call(&id, JsValue::UNDEFINED)).await,
            "outcome"
        ),
        "completed"
    );
    // The code was single-use.
    let e = err(finish_login(finish)).await;
    assert_eq!(text(&e, "code"), "auth_failed");
}

#[wasm_bindgen_test]
async fn start_login_without_webcrypto_is_a_genesys_error() {
    let login = js(&format!(
        r#"{{"apiBase":"{}","clientId":"sim-browser","redirectUri":"http://127.0.0.1:8080/agent.html"}}"#,
        sim()
    ));
    let restore = hide_subtle();
    let outcome = JsFuture::from(start_login(login.clone())).await;
    restore.call0(&JsValue::NULL).unwrap();
    let e = outcome.expect_err("no WebCrypto, no sign-in");
    assert_eq!(text(&e, "name"), "GenesysError");
    assert_eq!(text(&e, "code"), "invalid_input");
    assert!(text(&e, "message").contains("WebCrypto"));
    // …and with WebCrypto back, sign-in starts again.
    ok(start_login(login)).await;
}

// ------------------------------------------------------------- push tracking

/// `GET /api/v2/conversations/calls/{id}` (polls and reconciles) and every
/// read of the call (those plus the SIP-cause `GET /api/v2/conversations/{id}`).
async fn reads(id: &str) -> (usize, usize) {
    let log: js_sys::Array = sim_log(sim()).await.unchecked_into();
    reads_in(&log, id)
}

fn reads_in(log: &js_sys::Array, id: &str) -> (usize, usize) {
    let call = ["/api/v2/conversations/calls/", id].concat();
    let gets = log.iter().filter(|e| text(e, "method") == "GET");
    let all: Vec<String> = gets
        .map(|e| text(&e, "path"))
        .filter(|p| p.ends_with(id))
        .collect();
    (all.iter().filter(|p| **p == call).count(), all.len())
}

async fn notifications() -> JsValue {
    sim_notifications(sim()).await
}

fn number(v: &JsValue, path: &str) -> u64 {
    get(v, path).as_f64().unwrap_or(-1.0) as u64
}

/// Waits for the call until `until`, collecting the `tracking` of every update.
async fn follow_until(
    c: &GenesysClient,
    id: &str,
    until: &str,
    timeout_ms: u32,
) -> (JsValue, Vec<String>) {
    let seen = js_sys::Array::new();
    let sink = seen.clone();
    let on_update = Closure::<dyn FnMut(JsValue)>::new(move |s: JsValue| {
        sink.push(&get(&s, "tracking"));
    });
    let opts = js(&format!(
        r#"{{"until":"{until}","timeoutMs":{timeout_ms}}}"#
    ));
    Reflect::set(
        &opts,
        &"onUpdate".into(),
        on_update.as_ref().unchecked_ref::<Function>(),
    )
    .unwrap();
    let status = ok(c.wait_for_call(id, opts)).await;
    let seen = seen.iter().filter_map(|t| t.as_string()).collect();
    (status, seen)
}

async fn place(c: &GenesysClient, number: &str, on_behalf: Option<&str>) -> String {
    text(
        &ok(c.place_call(call_options(number, on_behalf))).await,
        "conversationId",
    )
}

#[wasm_bindgen_test]
async fn push_follows_every_test_number_with_no_call_reads() {
    let (c, on_behalf) = client().await;
    let cases = [
        ("+13175550100", "completed"),
        ("+13175550101", "busy"),
        ("+13175550102", "no-answer"),
        ("+13175550103", "failed"),
        ("+13175550105", "agent-unavailable"),
    ];
    let runs = cases.iter().map(|(n, _)| {
        let c = &c;
        async move {
            let id = place(c, n, on_behalf).await;
            let (status, seen) = follow_until(c, &id, "ended", 30_000).await;
            (id, status, seen)
        }
    });
    for ((n, want), (id, status, seen)) in
        cases.iter().zip(futures_util::future::join_all(runs).await)
    {
        assert_eq!(text(&status, "outcome"), *want, "{n}");
        assert_eq!(text(&status, "tracking"), "push", "{n}");
        assert!(
            !seen.is_empty() && seen.iter().all(|t| t == "push"),
            "{n}: {seen:?}"
        );
        let (call_reads, all_reads) = reads(&id).await;
        assert_eq!(call_reads, 0, "{n}: no polling, no reconcile");
        let unanswered = matches!(*want, "busy" | "no-answer" | "failed");
        assert_eq!(
            all_reads,
            usize::from(unanswered),
            "{n}: only the SIP cause"
        );
    }
    if on_behalf.is_some() {
        // Client credentials: another agent's topic is added to the same channel.
        let id = place(
            &c,
            "+13175550100",
            Some("0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a02"),
        )
        .await;
        let (status, _) = follow_until(&c, &id, "ended", 30_000).await;
        assert_eq!(
            (text(&status, "outcome"), text(&status, "tracking")),
            ("agent-unavailable".into(), "push".into())
        );
    }
}

#[wasm_bindgen_test]
async fn the_events_that_beat_the_post_response_are_kept() {
    let (c, on_behalf) = client().await;
    // Bring the channel up first, so the next POST is the one held back.
    let warm = place(&c, "+13175550105", on_behalf).await;
    follow_until(&c, &warm, "ended", 30_000).await;
    let path = if on_behalf.is_some() {
        "/api/v2/conversations/calls/user/*"
    } else {
        "/api/v2/conversations/calls"
    };
    sim_fault(
        sim(),
        js(&format!(
            r#"{{"method":"POST","path":"{path}","when":"after","delayMs":400}}"#
        )),
    )
    .await
    .unwrap();
    let id = place(&c, "+13175550104", on_behalf).await;
    // The call was created, answered by the agent and by the far end while
    // its POST was held back: only those early events can say "connected".
    let (status, seen) = follow_until(&c, &id, "connected", 3_000).await;
    assert_eq!(
        (text(&status, "phase"), text(&status, "tracking")),
        ("connected".into(), "push".into()),
        "{seen:?}"
    );
    ok(c.hang_up(&id, JsValue::UNDEFINED)).await;
    let (status, _) = follow_until(&c, &id, "ended", 10_000).await;
    assert_eq!(text(&status, "outcome"), "completed");
    assert_eq!(reads(&id).await, (0, 0), "not a single read of the call");
}

#[wasm_bindgen_test]
async fn socket_faults_end_in_a_reconnect_and_one_reconcile() {
    // For each fault: the socket stalls, the call is hung up (its end event
    // is lost with the stall), then the fault hits. Only a reconcile after the
    // reconnect can learn the end. No fault: the heartbeat watchdog notices.
    for fault in [Some("socket_closing"), Some("abrupt_close"), None] {
        let heartbeat = if fault.is_some() { 30_000 } else { 3_000 };
        let (c, on_behalf) = client_with(&format!(
            r#""pollIntervalMs":50,"heartbeatTimeoutMs":{heartbeat}"#
        ))
        .await;
        let id = place(&c, "+13175550104", on_behalf).await;
        let (status, _) = follow_until(&c, &id, "connected", 10_000).await;
        assert_eq!(text(&status, "tracking"), "push");
        let opts = js(r#"{"until":"ended","timeoutMs":20000}"#);
        let waiting = JsFuture::from(c.wait_for_call(&id, opts));
        let chaos = async {
            sleep(100).await;
            let dropped = number(&notifications().await, "eventsDropped");
            sim_notify_fault(sim(), js(r#"{"fault":"stall","durationMs":60000}"#))
                .await
                .unwrap();
            ok(c.hang_up(&id, JsValue::UNDEFINED)).await;
            assert!(
                number(&notifications().await, "eventsDropped") > dropped,
                "the end event was lost with the stall"
            );
            if let Some(f) = fault {
                sim_notify_fault(sim(), js(&format!(r#"{{"fault":"{f}"}}"#)))
                    .await
                    .unwrap();
            }
        };
        let (status, ()) = futures_util::future::join(waiting, chaos).await;
        let status = status.unwrap_or_else(|e| panic!("{fault:?}: {}", text(&e, "message")));
        assert_eq!(
            (text(&status, "outcome"), text(&status, "tracking")),
            ("completed".into(), "push".into()),
            "{fault:?}: the final state is not lost"
        );
        assert_eq!(reads(&id).await.0, 1, "{fault:?}: exactly one reconcile");
    }
}

#[wasm_bindgen_test]
async fn polling_takes_over_without_a_websocket_or_when_push_is_refused() {
    let (auth, on_behalf) = if in_browser() {
        (
            format!(r#"{{"accessToken":"{}"}}"#, ADA_TOKEN.unwrap_or_default()),
            None,
        )
    } else {
        (
            r#"{"clientCredentials":{"clientId":"sim-edge","clientSecret":"sim-edge-secret"}}"#
                .to_string(),
            Some(ADA),
        )
    };
    let opts = |extra: &str| {
        js(&format!(
            r#"{{"apiBase":"{}","auth":{auth},"pollIntervalMs":50{extra}}}"#,
            sim()
        ))
    };
    // No WebSocket in the host (Node 20; here hidden in Chromium too), none given.
    let restore = hide_web_socket();
    let bare = GenesysClient::new(opts(""));
    restore.call0(&JsValue::NULL).unwrap();
    // Push turned off explicitly.
    let off = GenesysClient::new(opts(r#","WebSocket":false"#)).unwrap();
    for c in [bare.unwrap(), off] {
        let id = place(&c, "+13175550100", on_behalf).await;
        let (status, seen) = follow_until(&c, &id, "ended", 30_000).await;
        assert_eq!(
            (text(&status, "outcome"), text(&status, "tracking")),
            ("completed".into(), "poll".into())
        );
        assert!(seen.iter().all(|t| t == "poll"), "{seen:?}");
        assert!(reads(&id).await.0 >= 2, "polled");
    }
    let e = GenesysClient::new(opts(r#","WebSocket":42"#))
        .err()
        .expect("not a constructor");
    assert_eq!(text(&e, "code"), "invalid_input");
    assert!(text(&e, "message").contains("WebSocket must be"));
    // Genesys refuses the channel (4xx): polling, for good.
    sim_fault(
        sim(),
        js(r#"{"method":"POST","path":"/api/v2/notifications/channels","status":403,"code":"missing.permissions"}"#),
    )
    .await
    .unwrap();
    let (c, on_behalf) = client().await;
    let id = place(&c, "+13175550100", on_behalf).await;
    let (status, _) = follow_until(&c, &id, "ended", 30_000).await;
    assert_eq!(text(&status, "tracking"), "poll");
    assert_eq!(text(&status, "outcome"), "completed");
}

#[wasm_bindgen_test]
async fn a_hundred_concurrent_calls_share_one_channel_then_the_socket_closes_when_idle() {
    let (c, on_behalf) = client().await;
    let before = number(&notifications().await, "channelsCreated");
    let offset = if in_browser() { 5_000 } else { 6_000 };
    let numbers: Vec<String> = (0..100)
        .map(|i| format!("+1317555{}", offset + i))
        .collect();
    let runs = numbers.iter().map(|n| {
        let c = &c;
        async move {
            let id = place(c, n, on_behalf).await;
            let (status, seen) = follow_until(c, &id, "ended", 60_000).await;
            (id, status, seen)
        }
    });
    let results = futures_util::future::join_all(runs).await;
    let log: js_sys::Array = sim_log(sim()).await.unchecked_into();
    for (n, (id, status, seen)) in numbers.iter().zip(&results) {
        assert_eq!(text(status, "outcome"), "completed", "{n}");
        assert_eq!(text(status, "tracking"), "push", "{n}: {seen:?}");
        let (call_reads, all_reads) = reads_in(&log, id);
        assert!(all_reads <= 2, "{n}: at most two reads");
        assert_eq!(call_reads, 0, "{n}: no polling");
    }
    let after = notifications().await;
    assert_eq!(
        number(&after, "channelsCreated"),
        before + 1,
        "one channel for all"
    );
    // Idle: the socket closes after its linger (2 s), so a Node process can exit.
    sleep(2_600).await;
    assert_eq!(number(&notifications().await, "connectedSockets"), 0);
}

/// Arbitrary JS values as options — objects with the real option names and
/// junk, arrays, functions, symbols, BigInts, NaN, dates, `null`, `undefined` —
/// are refused as `invalid_input` GenesysErrors, never an exception from the
/// wasm (other tests run beside this one, so "nothing sent" is proven on the
/// host, tests/properties.rs and tests/flow_sim.rs). Fixed seed.
#[wasm_bindgen_test]
async fn arbitrary_js_values_as_options_are_invalid_input() {
    #[wasm_bindgen(inline_js = r#"
    export function junk(seed) {
      let s = seed >>> 0;
      const rnd = (n) => { s = (s * 1664525 + 1013904223) >>> 0; return s % n; };
      const keys = ["phoneNumber", "onBehalfOfUserId", "region", "apiBase", "auth", "accessToken",
        "clientCredentials", "until", "timeoutMs", "signal", "onUpdate", "attributes", "x", "__proto__", "constructor"];
      const leaf = () => [null, undefined, true, 0, -1, 1.5, NaN, Infinity, 2n ** 70n, "", "+1", "+13175550100x",
        "tel:", "x".repeat(5000), Symbol("s"), () => {}, new Date(0), new Uint8Array(3), new Map([["a", 1]]),
        new AbortController().signal][rnd(20)];
      const value = (depth) => {
        if (depth > 3 || rnd(3) === 0) return leaf();
        if (rnd(4) === 0) return Array.from({ length: rnd(4) }, () => value(depth + 1));
        const o = {};
        for (let i = rnd(5); i > 0; i--) o[keys[rnd(keys.length)]] = value(depth + 1);
        return o;
      };
      return value(0);
    }
    "#)]
    extern "C" {
        fn junk(seed: u32) -> JsValue;
    }
    let (c, _) = client().await;
    let mut refused = 0;
    for seed in 0..300u32 {
        let v = junk(seed);
        // One at a time: a rejected promise nobody awaits yet would be an
        // unhandled rejection in Node.
        for which in 0..6 {
            let p = match which {
                0 => c.place_call(v.clone()),
                1 => c.wait_for_call("c0ffee00-0000-4000-8000-000000000001", v.clone()),
                2 => start_login(v.clone()),
                3 => finish_login(v.clone()),
                // Never valid: junk has no queueId.
                4 => c.schedule_callback(v.clone()),
                _ => c.get_callback("c0ffee00-0000-4000-8000-000000000001", Some(v.clone())),
            };
            let e = err(p).await;
            let code = text(&e, "code");
            // Junk can happen to be valid wait or read options ({}, null…): then
            // Genesys is really asked, and knows no such conversation.
            let valid_wait = (which == 1 || which == 5) && code == "not_found";
            assert!(
                code == "invalid_input" || valid_wait,
                "seed {seed}: {code}: {}",
                text(&e, "message")
            );
            refused += 1;
        }
        if let Err(e) = GenesysClient::new(v) {
            assert_eq!(text(&e, "code"), "invalid_input", "seed {seed}");
        }
    }
    assert_eq!(refused, 1800);
}

// ------------------------------------------------------------- callbacks
// (SUPPORT, the queue, is defined with the issue #12 tests.)

#[wasm_bindgen(inline_js = r#"
// A whole second `secs` from now, as a Date (the sim echoes times to the millisecond).
export const dateIn = (secs) => new Date(Math.ceil((Date.now() + secs * 1000) / 1000) * 1000);
export const invalidDate = () => new Date(NaN);
// Passes `instanceof Date` without being one: its methods throw.
export const fakeDate = () => Object.create(Date.prototype);
// The same instant written with a -05:00 offset, as a server in New York might.
export function withOffset(date) {
  const local = new Date(date.getTime() - 5 * 3600 * 1000).toISOString().slice(0, 19);
  return local + "-05:00";
}
export async function simQueue(base, id, seconds) {
  const r = await fetch(base + "/__sim/queues/" + id, { method: "POST", body: JSON.stringify({ estimatedWaitSeconds: seconds }) });
  if (r.status !== 200) throw new Error("queue hook: " + r.status);
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = dateIn)]
    fn date_in(secs: u32) -> js_sys::Date;
    #[wasm_bindgen(js_name = invalidDate)]
    fn invalid_date() -> js_sys::Date;
    #[wasm_bindgen(js_name = fakeDate)]
    fn fake_date() -> JsValue;
    #[wasm_bindgen(js_name = withOffset)]
    fn with_offset(date: &js_sys::Date) -> String;
    #[wasm_bindgen(js_name = simQueue)]
    async fn sim_queue(base: &str, id: &str, seconds: JsValue);
}

fn callback_options(number: &str, at: &JsValue) -> JsValue {
    let o = js(&format!(
        r#"{{"phoneNumber":"{number}","queueId":"{SUPPORT}"}}"#
    ));
    if !at.is_undefined() {
        Reflect::set(&o, &"at".into(), at).unwrap();
    }
    o
}

async fn sim_entries(pred: impl Fn(&JsValue) -> bool) -> Vec<JsValue> {
    let log: js_sys::Array = sim_log(sim()).await.unchecked_into();
    log.iter().filter(|e| pred(e)).collect()
}

async fn dialled(id: &str) -> usize {
    sim_entries(|e| text(e, "event") == "callback.dialled" && text(e, "conversationId") == id)
        .await
        .len()
}

#[wasm_bindgen_test]
async fn schedule_a_callback_for_a_date_and_follow_it_to_completed() {
    let (c, _) = client().await;
    // Any other valid number answers after 3 s and hangs up after 15 s (scaled).
    let number = if in_browser() {
        "+15550008001"
    } else {
        "+15550008002"
    };
    let at = date_in(20); // 1 s at the suite's time scale (0.05)
    let placed = ok(c.schedule_callback(callback_options(number, &at.clone().into()))).await;
    let id = text(&placed, "conversationId");
    assert_eq!(id.len(), 36);
    assert!(!text(&placed, "callbackId").is_empty());
    let creates = sim_entries(|e| {
        text(e, "path") == "/api/v2/conversations/callbacks" && text(e, "phoneNumber") == number
    })
    .await;
    assert_eq!(creates.len(), 1, "one create POST");
    let iso: String = at.to_iso_string().into();
    assert_eq!(
        text(&creates[0], "callbackScheduledTime"),
        iso,
        "the Date, in UTC"
    );

    let first = ok(c.get_callback(&id, None)).await;
    assert_eq!(text(&first, "phase"), "scheduled");
    assert_eq!(get(&first, "inQueue").as_bool(), Some(false));
    assert_eq!(text(&first, "scheduledTime"), iso);
    assert_eq!(
        text(&first, "raw.id"),
        id,
        "the raw Conversation is passed through"
    );
    assert_eq!(dialled(&id).await, 0);

    let mut phases: Vec<String> = vec![];
    let last = loop {
        let st = ok(c.get_callback(&id, None)).await;
        let phase = text(&st, "phase");
        if phases.last() != Some(&phase) {
            phases.push(phase.clone());
        }
        if phase == "ended" {
            break st;
        }
        assert!(phases.len() < 5 && get(&st, "outcome").is_undefined());
        sleep(40).await;
    };
    assert_eq!(phases, ["scheduled", "dialing", "connected", "ended"]);
    assert_eq!(text(&last, "outcome"), "completed");
    assert_eq!(text(&last, "customer.address"), ["tel:", number].concat());
    assert_eq!(text(&last, "agent.userId"), ADA);
    assert_eq!(dialled(&id).await, 1, "dialled once");
}

#[wasm_bindgen_test]
async fn a_cancelled_callback_reads_canceled_and_is_never_dialled() {
    let (c, _) = client().await;
    let number = if in_browser() {
        "+15550008003"
    } else {
        "+15550008004"
    };
    let at = date_in(20);
    // An ISO string with an offset is sent as the same instant in UTC.
    let placed = ok(c.schedule_callback(callback_options(number, &with_offset(&at).into()))).await;
    let id = text(&placed, "conversationId");
    let create =
        sim_entries(|e| text(e, "conversationId") == id && text(e, "method") == "POST").await;
    assert_eq!(
        text(&create[0], "callbackScheduledTime"),
        String::from(at.to_iso_string())
    );
    ok(c.cancel_callback(&id, None)).await;
    let st = ok(c.get_callback(&id, None)).await;
    assert_eq!(
        (text(&st, "phase"), text(&st, "outcome")),
        ("ended".into(), "canceled".into())
    );
    // Idempotent.
    ok(c.cancel_callback(&id, Some(js("{}")))).await;
    // Well past its time (1 s scaled), it was never dialled.
    sleep(1_800).await;
    assert_eq!(dialled(&id).await, 0, "cancelled, yet dialled");
    assert_eq!(
        text(&ok(c.get_callback(&id, None)).await, "outcome"),
        "canceled"
    );
}

#[wasm_bindgen_test]
async fn callback_inputs_are_checked_before_any_request() {
    let (c, _) = client().await;
    let number = "+15550008009";
    for (opts, needle) in [
        (
            callback_options(number, &fake_date()),
            "at is an invalid Date",
        ),
        (
            callback_options(number, &invalid_date().into()),
            "at is an invalid Date",
        ),
        (
            callback_options(number, &"2026-02-30T10:00:00Z".into()),
            "at must be a date and time with a UTC offset",
        ),
        (
            callback_options(number, &"2026-03-09T10:00:00".into()),
            "at must be a date and time with a UTC offset",
        ),
        (
            callback_options(number, &JsValue::from_f64(1.7e12)),
            "scheduleCallback options: at: invalid type",
        ),
        (
            js(r#"{"phoneNumber":"+15550008009"}"#),
            "queueId is required",
        ),
        (
            js(r#"{"phoneNumber":"+15550008009","queueId":"q","when":1}"#),
            "unknown field `when`",
        ),
        (
            js(r#"{"phoneNumber":"555","queueId":"q"}"#),
            "phoneNumber must be an E.164",
        ),
    ] {
        let e = err(c.schedule_callback(opts)).await;
        assert_eq!(text(&e, "code"), "invalid_input");
        assert!(
            text(&e, "message").contains(needle),
            "{}",
            text(&e, "message")
        );
    }
    let e = err(c.get_callback("../../users/me", None)).await;
    assert_eq!(text(&e, "code"), "invalid_input");
    let e = err(c.estimated_wait("not a queue", None)).await;
    assert!(text(&e, "message").contains("queueId must be a Genesys id"));
    assert!(
        sim_entries(|e| text(e, "phoneNumber") == number)
            .await
            .is_empty(),
        "nothing was sent"
    );
}

/// The browser package reads callback times with the host's grammar (the
/// `time` crate) and prints them with the platform's `Date`: the answers of
/// the host's table in src/callback.rs, milliseconds truncated.
#[wasm_bindgen_test]
fn callback_times_read_and_print_as_on_the_host() {
    use genesys_click_to_call::callback::CallbackTime;
    for (input, want) in [
        ("2026-03-09T14:00:00Z", "2026-03-09T14:00:00.000Z"),
        ("2026-03-09T09:00-05:00", "2026-03-09T14:00:00.000Z"),
        ("2026-03-09T15:30:00+0130", "2026-03-09T14:00:00.000Z"),
        ("2026-03-09t14:00:00.123456789z", "2026-03-09T14:00:00.123Z"),
        ("2026-03-09 14:00:00.5+00:00", "2026-03-09T14:00:00.500Z"),
        ("2026-03-10T13:59:00+23:59", "2026-03-09T14:00:00.000Z"),
        ("2024-02-29T23:30:00-01:00", "2024-03-01T00:30:00.000Z"),
        ("9998-12-31T23:59:59.999-23:59", "9999-01-01T23:58:59.999Z"),
    ] {
        let got = CallbackTime::parse(input, "at").map(|t| t.as_str().to_string());
        assert_eq!(got.ok().as_deref(), Some(want), "{input}");
    }
    for bad in [
        "2026-03-09T14:00:00",
        "2026-02-30T14:00:00Z",
        "2026-03-09T14:00:60Z",
        "2026-03-09T14:00:00.1234567890Z",
        "2026-03-09T14:00:00+24:00",
        "2026-03-09T14:00:00+05",
        "2026-03-09T14:00:00Z[Europe/Dublin]",
        "1969-12-31T23:00:00Z",
    ] {
        assert!(CallbackTime::parse(bad, "at").is_err(), "{bad}");
    }
}

#[wasm_bindgen_test]
async fn estimated_wait_is_seconds_or_null() {
    let (c, _) = client().await;
    sim_queue(sim(), SUPPORT, JsValue::from_f64(45.0)).await;
    let secs = ok(c.estimated_wait(SUPPORT, None)).await;
    assert_eq!(secs.as_f64(), Some(45.0));
    let secs = ok(c.estimated_wait(SUPPORT, Some(js("{}")))).await;
    assert_eq!(secs.as_f64(), Some(45.0));
    sim_queue(sim(), SUPPORT, JsValue::NULL).await;
    assert!(ok(c.estimated_wait(SUPPORT, None)).await.is_null());
    sim_queue(sim(), SUPPORT, JsValue::from_f64(90.0)).await;
}

#[wasm_bindgen_test]
async fn a_5xx_after_the_callback_post_is_outcome_unknown_with_exactly_one_post() {
    let (c, _) = client().await;
    let number = if in_browser() {
        "+15550008005"
    } else {
        "+15550008006"
    };
    sim_fault(
        sim(),
        js(r#"{"method":"POST","path":"/api/v2/conversations/callbacks","when":"after","status":503}"#),
    )
    .await
    .unwrap();
    let e = err(c.schedule_callback(callback_options(number, &JsValue::UNDEFINED))).await;
    assert_eq!(text(&e, "code"), "outcome_unknown");
    assert!(text(&e, "message").contains("callback may have been scheduled"));
    let posts = sim_entries(|e| {
        text(e, "path") == "/api/v2/conversations/callbacks" && text(e, "phoneNumber") == number
    })
    .await;
    assert_eq!(posts.len(), 1, "never scheduled twice");
}

// ------------------------------------------------------------------ issue #12
// Agent availability before the create-call POST, and wrap-up after the call.

const OTTO: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a02";
const DORA: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a03";
const SUPPORT: &str = "5f1c0a2e-8b3d-4c7e-9a1f-2b3c4d5e6f70";
const RESOLVED: &str = "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b01";
const SALE_MADE: &str = "7a2e4c6b-1d3f-4e5a-8b7c-9d0e1f2a3b03";

#[wasm_bindgen(inline_js = r#"
// Records console.warn calls until the returned function is called.
export function captureWarnings() {
  const seen = [], original = console.warn;
  console.warn = (...args) => { seen.push(args.join(" ")); };
  return { seen, restore: () => { console.warn = original; } };
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = captureWarnings)]
    fn capture_warnings() -> JsValue;
}

/// A number of its own per environment, so the sim's log tells the runs apart.
fn env_number(node: &str, browser: &str) -> &'static str {
    let n = if in_browser() { browser } else { node };
    Box::leak(n.to_string().into_boxed_str())
}

async fn log_entries() -> Vec<JsValue> {
    let log: js_sys::Array = sim_log(sim()).await.unchecked_into();
    log.iter().collect()
}

async fn posts_to(number: &str) -> usize {
    log_entries()
        .await
        .iter()
        .filter(|e| text(e, "method") == "POST" && text(e, "phoneNumber") == number)
        .count()
}

async fn wrap_up_patches(conversation_id: &str) -> Vec<JsValue> {
    log_entries()
        .await
        .into_iter()
        .filter(|e| {
            text(e, "method") == "PATCH"
                && text(e, "path").contains(conversation_id)
                && !get(e, "wrapup").is_undefined()
        })
        .collect()
}

#[wasm_bindgen_test]
async fn check_agent_reads_presence_routing_status_and_station() {
    let (c, on_behalf) = client().await;
    let ada = ok(c.check_agent(Some(ADA.into()), None)).await;
    assert_eq!(get(&ada, "available").as_bool(), Some(true));
    assert_eq!(text(&ada, "reason"), "available");
    assert_eq!(text(&ada, "presence"), "Available");
    assert_eq!(text(&ada, "routingStatus"), "IDLE");
    assert!(!text(&ada, "station").is_empty());
    let otto = ok(c.check_agent(Some(OTTO.into()), None)).await;
    assert_eq!(get(&otto, "available").as_bool(), Some(false));
    assert_eq!(text(&otto, "reason"), "offline");
    assert!(
        get(&otto, "station").is_null(),
        "no station is null, not absent"
    );
    let dora = ok(c.check_agent(Some(DORA.into()), None)).await;
    assert_eq!(
        (text(&dora, "reason"), text(&dora, "presence")),
        ("do-not-disturb".into(), "Busy".into())
    );
    // Without a user id: the signed-in agent; a client-credentials token has none.
    if on_behalf.is_none() {
        let me = ok(c.check_agent(None, None)).await;
        assert_eq!(text(&me, "userId"), ADA);
    } else {
        let e = err(c.check_agent(None, None)).await;
        assert_eq!(text(&e, "code"), "user_context_required");
    }
    let e = err(c.check_agent(Some("../users".into()), None)).await;
    assert_eq!(text(&e, "code"), "invalid_input");
    let e = err(c.check_agent(None, Some(js(r#"{"queueId":"x"}"#)))).await;
    assert!(text(&e, "message").contains("unknown field `queueId`"));
}

#[wasm_bindgen_test]
async fn require_available_agent_refuses_otto_and_dora_before_any_post() {
    let (c, on_behalf) = client().await;
    for (agent, reason, n) in [
        (OTTO, "offline", env_number("+13175551201", "+13175551202")),
        (
            DORA,
            "do-not-disturb",
            env_number("+13175551203", "+13175551204"),
        ),
    ] {
        let opts = js(&format!(
            r#"{{"phoneNumber":"{n}","onBehalfOfUserId":"{agent}","requireAvailableAgent":true}}"#
        ));
        let e = err(c.place_call(opts)).await;
        assert_eq!(text(&e, "code"), "agent_unavailable");
        assert_eq!(text(&e, "reason"), reason);
        assert!(text(&e, "message").contains("No call was placed"));
        assert_eq!(posts_to(n).await, 0, "{agent}: no create-call POST");
    }
    // Ada can take it: one POST, and the check comes back with the call.
    let n = env_number("+13175551205", "+13175551206");
    let opts = call_options(n, on_behalf);
    Reflect::set(&opts, &"requireAvailableAgent".into(), &JsValue::TRUE).unwrap();
    let placed = ok(c.place_call(opts)).await;
    assert_eq!(text(&placed, "agent.reason"), "available");
    assert_eq!(text(&placed, "agent.userId"), ADA);
    assert_eq!(posts_to(n).await, 1);
}

#[wasm_bindgen_test]
async fn a_refused_lookup_lets_the_call_go_ahead_and_says_so() {
    let (c, on_behalf) = client().await;
    sim_fault(
        sim(),
        js(&format!(
            r#"{{"method":"GET","path":"/api/v2/users/{ADA}/station","status":403,"code":"missing.any.permissions","message":"You must have at least one of the following permissions assigned: [telephony:otherStationAssociation:view]"}}"#
        )),
    )
    .await
    .unwrap();
    let n = env_number("+13175551207", "+13175551208");
    let opts = call_options(n, on_behalf);
    Reflect::set(&opts, &"requireAvailableAgent".into(), &JsValue::TRUE).unwrap();
    let warnings = capture_warnings();
    let placed = JsFuture::from(c.place_call(opts)).await;
    get(&warnings, "restore")
        .unchecked_into::<Function>()
        .call0(&JsValue::NULL)
        .unwrap();
    let placed = placed.unwrap_or_else(|e| panic!("rejected: {}", text(&e, "message")));
    assert!(get(&placed, "agent.available").is_null());
    assert_eq!(text(&placed, "agent.reason"), "unknown");
    let w = text(&placed, "agent.warnings.0");
    assert!(w.contains("station") && w.contains("403"), "{w}");
    let seen = text(&warnings, "seen.0");
    assert!(
        seen.contains("genesys-click-to-call")
            && seen.contains("telephony:otherStationAssociation:view"),
        "{seen}"
    );
    assert_eq!(posts_to(n).await, 1, "the call went ahead");
}

#[wasm_bindgen_test]
async fn wrap_up_given_to_place_call_is_applied_once_when_the_call_ends() {
    let (c, on_behalf) = client().await;
    let opts = call_options(env_number("+13175551209", "+13175551210"), on_behalf);
    Reflect::set(&opts, &"callFromQueueId".into(), &SUPPORT.into()).unwrap();
    Reflect::set(
        &opts,
        &"wrapUp".into(),
        &js(&format!(r#"{{"code":"{RESOLVED}","notes":"sorted"}}"#)),
    )
    .unwrap();
    let id = text(&ok(c.place_call(opts)).await, "conversationId");
    let status = ok(c.wait_for_call(&id, JsValue::UNDEFINED)).await;
    assert_eq!(text(&status, "outcome"), "completed");
    ok(c.wait_for_call(&id, JsValue::UNDEFINED)).await;
    let patches = wrap_up_patches(&id).await;
    assert_eq!(patches.len(), 1, "exactly one wrap-up");
    assert_eq!(text(&patches[0], "wrapup.code"), RESOLVED);
    assert_eq!(text(&patches[0], "wrapup.notes"), "sorted");
    assert_eq!(
        text(&patches[0], "path").contains("/user/"),
        on_behalf.is_some(),
        "the on-behalf form only for client credentials"
    );
    let codes: js_sys::Array = ok(c.wrap_up_codes(&id, None)).await.unchecked_into();
    let names: Vec<String> = codes.iter().map(|c| text(&c, "name")).collect();
    assert_eq!(names, ["Resolved", "Call back later"]);
}

#[wasm_bindgen_test]
async fn wrong_codes_and_queue_less_calls_are_clear_errors() {
    let (c, on_behalf) = client().await;
    // wrapUp without callFromQueueId: refused before any request.
    let n = env_number("+13175551211", "+13175551212");
    let opts = call_options(n, on_behalf);
    Reflect::set(
        &opts,
        &"wrapUp".into(),
        &js(&format!(r#"{{"code":"{RESOLVED}"}}"#)),
    )
    .unwrap();
    let e = err(c.place_call(opts)).await;
    assert_eq!(text(&e, "code"), "invalid_input");
    assert!(text(&e, "message").contains("wrapUp needs callFromQueueId"));
    let opts = call_options(n, on_behalf);
    Reflect::set(&opts, &"callFromQueueId".into(), &SUPPORT.into()).unwrap();
    Reflect::set(
        &opts,
        &"wrapUp".into(),
        &js(r#"{"code":"x","note":"typo"}"#),
    )
    .unwrap();
    let e = err(c.place_call(opts)).await;
    assert!(
        text(&e, "message").contains("unknown field `note`"),
        "{}",
        text(&e, "message")
    );
    assert_eq!(posts_to(n).await, 0);
    // A call from the queue, then a code of another queue: refused, nothing patched.
    let opts = call_options(n, on_behalf);
    Reflect::set(&opts, &"callFromQueueId".into(), &SUPPORT.into()).unwrap();
    let id = text(&ok(c.place_call(opts)).await, "conversationId");
    ok(c.wait_for_call(&id, JsValue::UNDEFINED)).await;
    let e = err(c.wrap_up(&id, js(&format!(r#"{{"code":"{SALE_MADE}"}}"#)))).await;
    assert_eq!(text(&e, "code"), "invalid_input");
    assert!(
        text(&e, "message").contains("Resolved ("),
        "{}",
        text(&e, "message")
    );
    let e = err(c.wrap_up(&id, js("{}"))).await;
    assert!(text(&e, "message").contains("wrapUp.code is required"));
    assert_eq!(wrap_up_patches(&id).await.len(), 0);
    ok(c.wrap_up(&id, js(&format!(r#"{{"code":"{RESOLVED}"}}"#)))).await;
    assert_eq!(wrap_up_patches(&id).await.len(), 1);
    // A call without a queue has no codes, and wrap-up says why.
    let id = text(
        &ok(c.place_call(call_options(n, on_behalf))).await,
        "conversationId",
    );
    let codes: js_sys::Array = ok(c.wrap_up_codes(&id, None)).await.unchecked_into();
    assert_eq!(codes.length(), 0);
    let e = err(c.wrap_up(&id, js(&format!(r#"{{"code":"{RESOLVED}"}}"#)))).await;
    assert!(text(&e, "message").contains("callFromQueueId"));
    ok(c.hang_up(&id, JsValue::UNDEFINED)).await;
}
