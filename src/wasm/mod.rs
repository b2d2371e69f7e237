//! The JS API: `GenesysClient`, `startLogin`, `finishLogin`. Options cross
//! into Rust with serde-wasm-bindgen (validated by `options`), results cross
//! back the same way, and the one error type becomes a JS `GenesysError` in
//! [`to_js_error`].

mod agent;
mod callbacks;
#[cfg(feature = "edge")]
pub mod edge;
#[cfg(feature = "edge")]
pub mod job;
#[cfg(not(any(feature = "edge", feature = "wasm-serde-json")))]
pub(crate) mod json;
mod socket;
mod transport;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect, JSON};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::call::EntityId;
use crate::error::{Error, ErrorCode};
use crate::flow::{aborted, exchange_code, until_cancelled, Client};
use crate::options::{
    self, AuthInput, ClientCredentialsInput, ClientOptionsInput, FinishLoginInput,
    LoginOptionsInput, PlaceCallOptions, RequestOptions, WaitOptions,
};
use crate::pkce;
use crate::push::Tracking;
use crate::status::CallStatus;
use socket::JsConnector;
use transport::{abort_signal_fired, FetchHttp, JsClock};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Where to send requests: a region ("mypurecloud.com", "mypurecloud.ie", "eu_west_1", …) or explicit base URLs. */
export type Region = { region: string } | { apiBase: string; loginBase?: string };
export type ClientOptions = Region & {
  /** A user token (PKCE) in pages; client credentials only on servers and edge functions. */
  auth: { accessToken: string } | { clientCredentials: { clientId: string; clientSecret: string } };
  /** Per-request timeout (default 15000). */
  requestTimeoutMs?: number;
  /** The token's request budget (default 300, Genesys' limit per token per minute). */
  requestsPerMinute?: number;
  /** Poll interval for one watched call (default 1000); stretched when many calls share the budget. */
  pollIntervalMs?: number;
  /** Longest total wait for 429 Retry-After / 5xx retries of one request (default 30000). */
  maxRetryMs?: number;
  /**
   * Calls are tracked by push (the Notifications API over a WebSocket) when the host has a
   * `WebSocket`; pass a constructor where it has none (Node 20: `import { WebSocket } from "ws"`),
   * or `false` to always poll.
   */
  WebSocket?: (new (url: string) => unknown) | false;
  /** Push tracking: reconnect after this long without any frame (default 65000; Genesys heartbeats every 30 s). */
  heartbeatTimeoutMs?: number;
  /**
   * After a placeCall whose outcome is unknown (`outcome_unknown`), that number is not dialled again for this
   * long (default 120000): placeCall finds the call instead, or rejects with `call_may_be_ringing`.
   */
  settleWindowMs?: number;
};
export interface PlaceCallOptions {
  /** E.164, e.g. "+13175550100" (spaces, dashes and "tel:" are accepted). */
  phoneNumber: string;
  /** Server mode: dial on behalf of this agent (POST /api/v2/conversations/calls/user/{id}). Omit with an agent's own token. */
  onBehalfOfUserId?: string;
  callerId?: string;
  callerIdName?: string;
  callFromQueueId?: string;
  attributes?: Record<string, string>;
  signal?: AbortSignal;
}
export interface PlaceCallResult {
  conversationId: string;
  /**
   * `true` when nothing was dialled for this request: within the settle window of an `outcome_unknown` for the
   * same number, this is the call that request placed, found (in the agent's push events or by one read).
   */
  resolved?: true;
}
export type Phase = "contacting-agent" | "dialing" | "connected" | "ended";
export type Outcome = "completed" | "busy" | "no-answer" | "failed" | "agent-unavailable" | "canceled";
export interface CallLeg {
  participantId: string;
  role: "agent" | "customer" | "other";
  /** Genesys' own strings, passed through (unknown values included). */
  purpose?: string; state?: string; address?: string; name?: string; userId?: string; direction?: string;
  startTime?: string; connectedTime?: string; endTime?: string; disconnectType?: string;
  disconnectReasons?: { type: string; code?: number; phrase?: string }[];
  errorInfo?: { code?: string; message?: string };
}
export interface CallStatus {
  conversationId: string;
  phase: Phase;
  /** Present once phase is "ended". */
  outcome?: Outcome;
  agent?: CallLeg;
  customer?: CallLeg;
  otherLegs: CallLeg[];
  /** How this status arrived: pushed over the Notifications API, or polled (also getCall). */
  tracking: "push" | "poll";
  /** The CallConversation exactly as Genesys sent it (a Notifications event body when pushed). */
  raw: unknown;
}
export interface RequestOptions { signal?: AbortSignal }
export interface WaitOptions extends RequestOptions {
  /** Resolve once the call reaches this phase, or ends (default "ended"). */
  until?: "dialing" | "connected" | "ended";
  /** Reject with code "timeout" after this long (default 600000). */
  timeoutMs?: number;
  /** Called with each changed status. */
  onUpdate?: (status: CallStatus) => void;
}
export type LoginOptions = Region & { clientId: string; redirectUri: string };
export interface LoginStart { url: string; codeVerifier: string; state: string }
export type FinishLoginOptions = LoginOptions & { callbackUrl: string; codeVerifier: string; state: string };
export interface LoginToken { accessToken: string; expiresIn: number; tokenType: "bearer" }
export type ErrorCode = "invalid_input" | "auth_failed" | "user_context_required" | "forbidden" | "not_found" | "conflict"
  | "rate_limited" | "server_error" | "bad_response" | "network" | "timeout" | "aborted" | "outcome_unknown" | "policy_denied"
  | "agent_unavailable" | "call_may_be_ringing";
/** Every rejection is an Error with name "GenesysError" and these fields. */
export interface GenesysError extends Error {
  name: "GenesysError";
  code: ErrorCode;
  /** The HTTP status Genesys answered with, if any. */
  status?: number;
  /** How long Genesys asked to wait (429). */
  retryAfterMs?: number;
  /** Genesys' correlation id, for support. */
  contextId?: string;
}
"#;

/// A JS value that stays JavaScript (an `AbortSignal`, a callback, a
/// constructor): serde-wasm-bindgen hands it over untouched.
pub struct Js(pub JsValue);

impl<'de> Deserialize<'de> for Js {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Js, D::Error> {
        serde_wasm_bindgen::preserve::deserialize(d).map(Js)
    }
}

/// Rust → JS as plain objects (maps as objects, numbers as numbers).
fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::UNDEFINED)
}

/// The one place an [`Error`] becomes a JS value: an `Error` named
/// `GenesysError` carrying `code`, `status`, `retryAfterMs` and `contextId`.
fn to_js_error(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    err.set_name("GenesysError");
    if let Ok(fields) = to_js(&e).dyn_into::<Object>() {
        Object::assign(&err, &fields);
    }
    err.into()
}

/// serde-wasm-bindgen reads only the fields a struct names, so a misspelt
/// option would be silently ignored; this refuses keys a type does not have,
/// with the same message serde_json's `deny_unknown_fields` gives on the host.
fn refuse_unknown_keys(v: &JsValue, fields: &[&str], what: &str) -> Result<(), Error> {
    if !v.is_object() {
        return Ok(());
    }
    for key in Object::keys(v.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !fields.contains(&key.as_str()) {
            let expected: Vec<String> = fields.iter().map(|f| ["`", f, "`"].concat()).collect();
            return Err(Error::invalid_input(&[
                what,
                " options: unknown field `",
                &key,
                "`, expected one of ",
                &expected.join(", "),
            ]));
        }
    }
    Ok(())
}

/// Options from JS: unknown keys refused, then serde-wasm-bindgen, with the
/// failing field's path in the message. `undefined`/`null` read as `{}`.
fn from_js<T: DeserializeOwned>(v: &JsValue, what: &str) -> Result<T, Error> {
    let fields = serde_aux::serde_introspection::serde_introspect::<T>();
    let v = options_object(v, fields, what)?;
    T::deserialize(serde_wasm_bindgen::Deserializer::from(v.clone())).map_err(|e| {
        bad_option(&v, fields, e, what, &|o| {
            T::deserialize(serde_wasm_bindgen::Deserializer::from(o)).err()
        })
    })
}

/// `from_js`'s part that does not depend on the type: `undefined`/`null` as
/// `{}`, unknown keys refused.
fn options_object(v: &JsValue, fields: &[&str], what: &str) -> Result<JsValue, Error> {
    let v = if v.is_undefined() || v.is_null() {
        Object::new().into()
    } else {
        v.clone()
    };
    refuse_unknown_keys(&v, fields, what)?;
    Ok(v)
}

/// `{path[0]: {path[1]: … value}}`.
fn nested(path: &[JsValue], value: JsValue) -> JsValue {
    path.iter().rev().fold(value, |inner, key| {
        let o = Object::new();
        let _ = Reflect::set(&o, key, &inner);
        o.into()
    })
}

/// serde-wasm-bindgen's errors do not say where the bad value is. Only on this
/// error path, the same deserializer (`check`) runs again on one-key copies of
/// the options — `{key: value}` for each field in declaration order, then
/// `{key: {inner: value}}` inside a plain object whose type is right (`{key:
/// {}}` passes) — and the deepest copy that still fails names the field
/// (every option is optional, so a copy fails only for its own key). The
/// message is that copy's error, "path: problem", as serde_path_to_error
/// words it on the host.
#[inline(never)]
fn bad_option(
    v: &JsValue,
    fields: &[&str],
    e: serde_wasm_bindgen::Error,
    what: &str,
    check: &dyn Fn(JsValue) -> Option<serde_wasm_bindgen::Error>,
) -> Error {
    let mut path: Vec<JsValue> = Vec::new();
    let mut error = e;
    let mut here = v.clone();
    let mut keys: Vec<JsValue> = fields.iter().map(|f| JsValue::from_str(f)).collect();
    while here.is_object() && !js_sys::Array::is_array(&here) {
        let failing = keys.iter().find_map(|key| {
            let value = Reflect::get(&here, key).unwrap_or(JsValue::UNDEFINED);
            path.push(key.clone());
            let e = check(nested(&path, value.clone()));
            path.pop();
            e.map(|e| (key.clone(), value, e))
        });
        let Some((key, value, e)) = failing else {
            break;
        };
        path.push(key);
        error = e;
        if !value.is_object() || check(nested(&path, Object::new().into())).is_some() {
            break;
        }
        keys = Object::keys(value.unchecked_ref::<Object>())
            .iter()
            .collect();
        here = value;
    }
    let path: Vec<String> = path.iter().filter_map(JsValue::as_string).collect();
    // serde-wasm-bindgen's errors print as JS errors ("Error: invalid type…").
    let text = error.to_string().replacen("Error: ", "", 1);
    let text = if path.is_empty() {
        text
    } else {
        [path.join("."), text].join(": ")
    };
    options::invalid(what, &text)
}

fn signal_of(s: Option<Js>) -> Result<Option<AbortSignal>, Error> {
    match s {
        None => Ok(None),
        Some(Js(v)) if v.is_undefined() || v.is_null() => Ok(None),
        Some(Js(v)) => v
            .dyn_into::<AbortSignal>()
            .map(Some)
            .map_err(|_| Error::invalid_input(&["signal must be an AbortSignal"])),
    }
}

/// A `CallStatus` for JS: the normalized view, how it was tracked, and
/// `raw`, the conversation exactly as Genesys sent it.
fn status_to_js(status: &CallStatus, raw: &str, tracking: Tracking) -> JsValue {
    let obj = to_js(&status.view());
    let raw = JSON::parse(raw).unwrap_or(JsValue::NULL);
    let _ = Reflect::set(&obj, &"tracking".into(), &tracking.as_str().into());
    let _ = Reflect::set(&obj, &"raw".into(), &raw);
    obj
}

/// Every export's future goes through this one boxed instantiation of
/// `future_to_promise`, instead of one copy of its machinery per export.
fn promise(f: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let boxed: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>> = Box::pin(f);
    wasm_bindgen_futures::future_to_promise(boxed)
}

fn reject(e: Error) -> Promise {
    Promise::reject(&to_js_error(e))
}

fn in_browser() -> bool {
    Reflect::has(&js_sys::global(), &"document".into()).unwrap_or(false)
}

/// Places and tracks Genesys Cloud calls. One instance shares one token and
/// one request budget across all its calls.
#[wasm_bindgen]
pub struct GenesysClient {
    inner: Rc<Client<FetchHttp, JsClock>>,
}

#[wasm_bindgen]
impl GenesysClient {
    /// Throws a `GenesysError` (`invalid_input`) for bad options, including
    /// client credentials inside a browser page.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "ClientOptions")] options: JsValue,
    ) -> Result<GenesysClient, JsValue> {
        let opts = (|| {
            let input: ClientOptionsInput<Js> = from_js(&options, "GenesysClient")?;
            let auth = Reflect::get(&options, &"auth".into()).unwrap_or(JsValue::UNDEFINED);
            refuse_unknown_keys(
                &auth,
                serde_aux::serde_introspection::serde_introspect::<AuthInput>(),
                "auth",
            )?;
            let cc = Reflect::get(&auth, &"clientCredentials".into()).unwrap_or(JsValue::UNDEFINED);
            refuse_unknown_keys(
                &cc,
                serde_aux::serde_introspection::serde_introspect::<ClientCredentialsInput>(),
                "clientCredentials",
            )?;
            let opts = input.validate(in_browser())?;
            let connector = JsConnector::from_option(input.web_socket.map(|Js(v)| v))?;
            Ok::<_, Error>((opts, connector))
        })()
        .map_err(to_js_error)?;
        let (opts, connector) = opts;
        let client = Client::new(FetchHttp, JsClock, opts);
        let client = match connector {
            Some(c) => client.with_websocket(Box::new(c)),
            None => client,
        };
        Ok(GenesysClient {
            inner: Rc::new(client),
        })
    }

    /// Places the call; resolves once Genesys has created the conversation.
    #[wasm_bindgen(js_name = placeCall, unchecked_return_type = "Promise<PlaceCallResult>")]
    pub fn place_call(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PlaceCallOptions")] options: JsValue,
    ) -> Promise {
        let parsed = from_js::<PlaceCallOptions<Js>>(&options, "placeCall").and_then(|o| {
            agent::refuse_unknown_wrap_up_keys(&options)?;
            Ok((o.validate()?, o.agent_options()?, signal_of(o.signal)?))
        });
        let (call, for_agent, signal) = match parsed {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            // Issue #12: the agent check before the POST, the wrap-up after it (flow/agent.rs).
            let placed = client
                .place_call_for_agent(&call, &for_agent, abort_signal_fired(signal))
                .await
                .map_err(to_js_error)?;
            if let Some(check) = &placed.agent {
                agent::warn_about(check);
            }
            Ok(to_js(&placed))
        })
    }

    /// One read of the call's normalized status.
    #[wasm_bindgen(js_name = getCall, unchecked_return_type = "Promise<CallStatus>")]
    pub fn get_call(
        &self,
        conversation_id: &str,
        #[wasm_bindgen(unchecked_param_type = "RequestOptions")] options: JsValue,
    ) -> Promise {
        let (id, signal) = match EntityId::parse(conversation_id, "conversationId").and_then(|id| {
            let o: RequestOptions<Js> = from_js(&options, "getCall")?;
            Ok((id, signal_of(o.signal)?))
        }) {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            let (status, raw) = until_cancelled(client.get_call(&id), abort_signal_fired(signal))
                .await
                .unwrap_or_else(|| Err(aborted("getCall")))
                .map_err(to_js_error)?;
            Ok(status_to_js(&status, &raw, Tracking::Poll))
        })
    }

    /// Follows the call until it reaches `until` (default "ended") or ends,
    /// calling `onUpdate` on every change. Resolves with the last status.
    #[wasm_bindgen(js_name = waitForCall, unchecked_return_type = "Promise<CallStatus>")]
    pub fn wait_for_call(
        &self,
        conversation_id: &str,
        #[wasm_bindgen(unchecked_param_type = "WaitOptions")] options: JsValue,
    ) -> Promise {
        let parsed = EntityId::parse(conversation_id, "conversationId").and_then(|id| {
            let o: WaitOptions<Js> = from_js(&options, "waitForCall")?;
            let wait = o.validate()?;
            let on_update = match o.on_update {
                None => None,
                Some(Js(f)) if f.is_undefined() || f.is_null() => None,
                Some(Js(f)) if f.is_function() => Some(f.unchecked_into::<Function>()),
                Some(_) => return Err(Error::invalid_input(&["onUpdate must be a function"])),
            };
            Ok((id, wait, on_update, signal_of(o.signal)?))
        });
        let (id, wait, on_update, signal) = match parsed {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            let (status, raw, tracking) = client
                .wait_for_call(
                    &id,
                    wait,
                    |s, raw, tracking| {
                        if let Some(f) = &on_update {
                            // A throwing callback must not break the wait.
                            let _ = f.call1(&JsValue::NULL, &status_to_js(s, raw, tracking));
                        }
                    },
                    abort_signal_fired(signal),
                )
                .await
                .map_err(to_js_error)?;
            Ok(status_to_js(&status, &raw, tracking))
        })
    }

    /// Hangs up every leg of the call.
    #[wasm_bindgen(js_name = hangUp, unchecked_return_type = "Promise<void>")]
    pub fn hang_up(
        &self,
        conversation_id: &str,
        #[wasm_bindgen(unchecked_param_type = "RequestOptions")] options: JsValue,
    ) -> Promise {
        let (id, signal) = match EntityId::parse(conversation_id, "conversationId").and_then(|id| {
            let o: RequestOptions<Js> = from_js(&options, "hangUp")?;
            Ok((id, signal_of(o.signal)?))
        }) {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            client
                .hang_up(&id, abort_signal_fired(signal))
                .await
                .map_err(to_js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

// `crypto.subtle` exists only on secure pages; without it `digest` throws, and
// that must become a GenesysError, not an exception through the wasm.
// (`getRandomValues` is available everywhere this runs.)
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
    #[wasm_bindgen(catch, js_namespace = ["crypto", "subtle"], js_name = digest)]
    fn subtle_digest(algorithm: &str, data: &[u8]) -> Result<Promise, JsValue>;
}

/// Starts an Authorization Code + PKCE sign-in: returns the URL to open and
/// the verifier and state to keep (e.g. in sessionStorage) for `finishLogin`.
#[wasm_bindgen(js_name = startLogin, unchecked_return_type = "Promise<LoginStart>")]
pub fn start_login(
    #[wasm_bindgen(unchecked_param_type = "LoginOptions")] options: JsValue,
) -> Promise {
    let login =
        match from_js::<LoginOptionsInput>(&options, "startLogin").and_then(|o| o.validate()) {
            Ok(l) => l,
            Err(e) => return reject(e),
        };
    promise(async move {
        let no_crypto = || {
            to_js_error(Error::new(
                ErrorCode::InvalidInput,
                &["startLogin needs WebCrypto: open the page over https:// or on localhost"],
            ))
        };
        let mut random = [0u8; 96];
        get_random_values(&mut random);
        let verifier = pkce::verifier_from_random(&random);
        let digest =
            JsFuture::from(subtle_digest("SHA-256", verifier.as_bytes()).map_err(|_| no_crypto())?)
                .await
                .map_err(|_| no_crypto())?;
        // SHA-256 is always 32 bytes.
        let mut sha = [0u8; 32];
        js_sys::Uint8Array::new(&digest).copy_to(&mut sha);
        let mut state_random = [0u8; 16];
        state_random.copy_from_slice(&random[..16]);
        let state = pkce::state_from_random(&state_random);
        let challenge = pkce::challenge_from_digest(&sha);
        let url = pkce::authorize_url(
            &login.endpoints,
            &pkce::LoginRequest {
                client_id: &login.client_id,
                redirect_uri: &login.redirect_uri,
                challenge: &challenge,
                state: &state,
            },
        );
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct LoginStart<'a> {
            url: &'a str,
            code_verifier: &'a str,
            state: &'a str,
        }
        Ok(to_js(&LoginStart {
            url: &url,
            code_verifier: &verifier,
            state: &state,
        }))
    })
}

/// Completes the sign-in from the URL Genesys redirected back to.
#[wasm_bindgen(js_name = finishLogin, unchecked_return_type = "Promise<LoginToken>")]
pub fn finish_login(
    #[wasm_bindgen(unchecked_param_type = "FinishLoginOptions")] options: JsValue,
) -> Promise {
    let finish =
        match from_js::<FinishLoginInput>(&options, "finishLogin").and_then(|o| o.validate()) {
            Ok(f) => f,
            Err(e) => return reject(e),
        };
    promise(async move {
        let token = exchange_code(
            &FetchHttp,
            &finish.login.endpoints,
            &finish.login.client_id,
            &finish.login.redirect_uri,
            &finish.code,
            &finish.verifier,
            15_000,
        )
        .await
        .map_err(to_js_error)?;
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct LoginToken<'a> {
            access_token: &'a str,
            expires_in: u64,
            token_type: &'a str,
        }
        Ok(to_js(&LoginToken {
            access_token: &token.access_token,
            expires_in: token.expires_in_secs,
            token_type: "bearer",
        }))
    })
}

/// Bench only (`--features bench-exports`, make bench "JSON in wasm"): what
/// `getCall` does with an answer — decode, derive, build the JS status — `n`
/// times, so the bench can time the codec choice inside wasm.
#[cfg(feature = "bench-exports")]
#[wasm_bindgen(js_name = benchStatus)]
pub fn bench_status(text: &str, n: u32) -> bool {
    let mut ok = true;
    for _ in 0..n {
        match crate::status::Snapshot::parse(text) {
            Ok(s) => {
                let status = CallStatus::derive(s);
                ok &= !status_to_js(&status, text, Tracking::Poll).is_undefined();
            }
            Err(_) => ok = false,
        }
    }
    ok
}
