//! The JS API: `GenesysClient`, `startLogin`, `finishLogin`. Each export reads
//! its options (as JSON, validated by `options`), runs the flow, and converts
//! the result — or the one error type, in [`to_js_error`] — to JS.

mod alloc;
#[cfg(feature = "edge")]
pub mod edge;
mod transport;

#[global_allocator]
static ALLOC: alloc::SizeClassAlloc = alloc::SizeClassAlloc::new();

use std::rc::Rc;

use js_sys::{Function, Promise, Reflect, JSON};
use std::future::Future;
use std::pin::Pin;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::call::{EntityId, PlaceCall};
use crate::error::Error;
use crate::flow::{exchange_code, Client};
use crate::json::{Json, ObjectWriter};
use crate::{options, pkce};
use transport::{aborted, FetchHttp, JsClock};

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
export interface PlaceCallResult { conversationId: string }
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
  /** The CallConversation exactly as Genesys sent it. */
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
  | "rate_limited" | "server_error" | "bad_response" | "network" | "timeout" | "aborted" | "outcome_unknown" | "policy_denied";
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

/// The one place an [`Error`] becomes a JS value: a `GenesysError`.
fn to_js_error(e: Error) -> JsValue {
    transport::genesys_error(&e.to_json())
}

/// A JS options value as JSON (`undefined`/`null` → `Json::Null`).
fn options_json(v: &JsValue, what: &str) -> Result<Json, Error> {
    if v.is_undefined() || v.is_null() {
        return Ok(Json::Null);
    }
    let text = JSON::stringify(v)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| Error::invalid_input(&[what, " options could not be read"]))?;
    Json::parse(&text).map_err(|_| Error::invalid_input(&[what, " options could not be read"]))
}

fn member(v: &JsValue, key: &str) -> Option<JsValue> {
    if v.is_object() {
        Reflect::get(v, &key.into())
            .ok()
            .filter(|x| !x.is_undefined() && !x.is_null())
    } else {
        None
    }
}

fn signal_of(v: &JsValue) -> Result<Option<AbortSignal>, Error> {
    match member(v, "signal") {
        None => Ok(None),
        Some(s) if s.is_instance_of::<AbortSignal>() => Ok(Some(s.unchecked_into())),
        Some(_) => Err(Error::invalid_input(&["signal must be an AbortSignal"])),
    }
}

fn json_to_js(text: &str) -> JsValue {
    JSON::parse(text).unwrap_or(JsValue::NULL)
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
        let opts = options_json(&options, "GenesysClient")
            .and_then(|j| options::client_options(&j, in_browser()))
            .map_err(to_js_error)?;
        Ok(GenesysClient {
            inner: Rc::new(Client::new(FetchHttp, JsClock, opts)),
        })
    }

    /// Places the call; resolves once Genesys has created the conversation.
    #[wasm_bindgen(js_name = placeCall, unchecked_return_type = "Promise<PlaceCallResult>")]
    pub fn place_call(
        &self,
        #[wasm_bindgen(unchecked_param_type = "PlaceCallOptions")] options: JsValue,
    ) -> Promise {
        let parsed = options_json(&options, "placeCall")
            .and_then(|j| PlaceCall::from_json(&j))
            .and_then(|c| Ok((c, signal_of(&options)?)));
        let (call, signal) = match parsed {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            let id = client
                .place_call(&call, aborted(signal))
                .await
                .map_err(to_js_error)?;
            Ok(json_to_js(
                &ObjectWriter::new()
                    .str("conversationId", id.as_str())
                    .finish(),
            ))
        })
    }

    /// One read of the call's normalized status.
    #[wasm_bindgen(js_name = getCall, unchecked_return_type = "Promise<CallStatus>")]
    pub fn get_call(
        &self,
        conversation_id: &str,
        #[wasm_bindgen(unchecked_param_type = "RequestOptions")] options: JsValue,
    ) -> Promise {
        let (id, signal) = match EntityId::parse(conversation_id, "conversationId")
            .and_then(|id| Ok((id, signal_of(&options)?)))
        {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            let work = client.get_call(&id);
            let (status, raw) = crate::sync::race(work, aborted(signal))
                .await
                .unwrap_or_else(|()| {
                    Err(Error::new(
                        crate::ErrorCode::Aborted,
                        &["getCall was aborted by its AbortSignal"],
                    ))
                })
                .map_err(to_js_error)?;
            Ok(json_to_js(&status.to_json(Some(&raw))))
        })
    }

    /// Polls until the call reaches `until` (default "ended") or ends, calling
    /// `onUpdate` on every change. Resolves with the last status.
    #[wasm_bindgen(js_name = waitForCall, unchecked_return_type = "Promise<CallStatus>")]
    pub fn wait_for_call(
        &self,
        conversation_id: &str,
        #[wasm_bindgen(unchecked_param_type = "WaitOptions")] options: JsValue,
    ) -> Promise {
        let parsed = EntityId::parse(conversation_id, "conversationId").and_then(|id| {
            let wait = options::wait_options(&options_json(&options, "waitForCall")?)?;
            let on_update = match member(&options, "onUpdate") {
                None => None,
                Some(f) if f.is_function() => Some(f.unchecked_into::<Function>()),
                Some(_) => return Err(Error::invalid_input(&["onUpdate must be a function"])),
            };
            Ok((id, wait, on_update, signal_of(&options)?))
        });
        let (id, wait, on_update, signal) = match parsed {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            let (status, raw) = client
                .wait_for_call(
                    &id,
                    wait,
                    |s, raw| {
                        if let Some(f) = &on_update {
                            // A throwing callback must not break the wait.
                            let _ = f.call1(&JsValue::NULL, &json_to_js(&s.to_json(Some(raw))));
                        }
                    },
                    aborted(signal),
                )
                .await
                .map_err(to_js_error)?;
            Ok(json_to_js(&status.to_json(Some(&raw))))
        })
    }

    /// Hangs up every leg of the call.
    #[wasm_bindgen(js_name = hangUp, unchecked_return_type = "Promise<void>")]
    pub fn hang_up(
        &self,
        conversation_id: &str,
        #[wasm_bindgen(unchecked_param_type = "RequestOptions")] options: JsValue,
    ) -> Promise {
        let (id, signal) = match EntityId::parse(conversation_id, "conversationId")
            .and_then(|id| Ok((id, signal_of(&options)?)))
        {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            client
                .hang_up(&id, aborted(signal))
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
        match options_json(&options, "startLogin").and_then(|j| options::login_options(&j, &[])) {
            Ok(l) => l,
            Err(e) => return reject(e),
        };
    promise(async move {
        let no_crypto = || {
            to_js_error(Error::new(
                crate::ErrorCode::InvalidInput,
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
        let state = crate::base64::encode_url(&random[..16]);
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
        Ok(json_to_js(
            &ObjectWriter::new()
                .str("url", &url)
                .str("codeVerifier", &verifier)
                .str("state", &state)
                .finish(),
        ))
    })
}

/// Completes the sign-in from the URL Genesys redirected back to.
#[wasm_bindgen(js_name = finishLogin, unchecked_return_type = "Promise<LoginToken>")]
pub fn finish_login(
    #[wasm_bindgen(unchecked_param_type = "FinishLoginOptions")] options: JsValue,
) -> Promise {
    let parsed = options_json(&options, "finishLogin").and_then(|j| {
        let login = options::login_options(&j, &["callbackUrl", "codeVerifier", "state"])?;
        let field =
            |k: &str| crate::call::opt_string(&j, k).map(|s| s.unwrap_or_default().to_string());
        let (callback, verifier, state) = (
            field("callbackUrl")?,
            field("codeVerifier")?,
            field("state")?,
        );
        if verifier.len() < 43 {
            return Err(Error::invalid_input(&[
                "codeVerifier is required: pass the one startLogin returned",
            ]));
        }
        let p: Vec<Option<String>> = transport::callback_params(&callback)
            .map_err(|_| {
                Error::invalid_input(&[
                    "callbackUrl must be the full URL the sign-in redirected to",
                ])
            })?
            .iter()
            .map(|v| v.as_string())
            .collect();
        let get = |i: usize| p.get(i).and_then(|v| v.as_deref());
        let code = pkce::code_from_params(get(0), get(1), get(2), get(3), &state)?;
        Ok((login, code, verifier))
    });
    let (login, code, verifier) = match parsed {
        Ok(x) => x,
        Err(e) => return reject(e),
    };
    promise(async move {
        let token = exchange_code(
            &FetchHttp,
            &login.endpoints,
            &login.client_id,
            &login.redirect_uri,
            &code,
            &verifier,
            15_000,
        )
        .await
        .map_err(to_js_error)?;
        Ok(json_to_js(
            &ObjectWriter::new()
                .str("accessToken", &token.access_token)
                .num("expiresIn", token.expires_in_secs)
                .str("tokenType", "bearer")
                .finish(),
        ))
    })
}
