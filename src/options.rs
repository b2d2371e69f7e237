//! The JS API's option objects as serde types, and their validation into the
//! core's types. The wasm shell deserializes them with serde-wasm-bindgen; the
//! host tests with serde_json. Unknown keys and wrong types are `invalid_input`.
//!
//! `J` is the shell's type for values that stay JavaScript (an `AbortSignal`,
//! an `onUpdate` function, a `WebSocket` constructor): the wasm shell passes
//! them through untouched; on the host they are ignored.
//!
//! `deny_unknown_fields` applies off wasm only: serde-wasm-bindgen reads just
//! the keys a struct names, so in the browser package that branch of the
//! derived code could never run — the shell refuses unknown keys itself
//! (`wasm::refuse_unknown_keys`, the same message) before deserializing.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::auth::{ClientSecret, Credentials};
use crate::call::{EntityId, PlaceCall, E164};
use crate::callback::{CallbackTime, ScheduleCallback};
use crate::error::Error;
use crate::flow::agent::AgentCallOptions;
use crate::flow::{ClientOptions, WaitFor};
use crate::region::Endpoints;
use crate::status::Phase;
use crate::wrapup::WrapUp;

/// Where requests go: a region, or explicit base URLs.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionInput {
    pub region: Option<String>,
    pub api_base: Option<String>,
    pub login_base: Option<String>,
}

impl RegionInput {
    /// Region, or explicit base URLs (both, or an API base that also serves login).
    pub fn endpoints(&self) -> Result<Endpoints, Error> {
        match (&self.region, &self.api_base, &self.login_base) {
            (None, Some(a), Some(l)) => Endpoints::custom(a, l),
            (None, Some(a), None) => Endpoints::custom(a, a),
            (Some(r), None, None) => Endpoints::for_region(r),
            (None, None, None) => Err(Error::invalid_input(&[
                "give region (e.g. \"mypurecloud.com\") or apiBase and loginBase",
            ])),
            _ => Err(Error::invalid_input(&[
                "give either region or apiBase/loginBase, not both",
            ])),
        }
    }
}

/// `new GenesysClient(options)`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), serde(deny_unknown_fields))]
pub struct ClientOptionsInput<J = IgnoredAny> {
    pub region: Option<String>,
    pub api_base: Option<String>,
    pub login_base: Option<String>,
    pub auth: Option<AuthInput>,
    pub request_timeout_ms: Option<f64>,
    pub requests_per_minute: Option<f64>,
    pub poll_interval_ms: Option<f64>,
    pub max_retry_ms: Option<f64>,
    /// Push tracking: reconnect after this long without a frame (default 65000).
    pub heartbeat_timeout_ms: Option<f64>,
    /// After an unknown outcome, the number is not dialled again for this long (default 120000).
    pub settle_window_ms: Option<f64>,
    /// A `WebSocket` constructor for hosts without a global one (Node 20).
    #[serde(rename = "WebSocket")]
    pub web_socket: Option<J>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), serde(deny_unknown_fields))]
pub struct AuthInput {
    pub access_token: Option<String>,
    pub client_credentials: Option<ClientCredentialsInput>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), serde(deny_unknown_fields))]
pub struct ClientCredentialsInput {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// A whole number in `min..=max`, or `invalid_input` naming the option.
fn whole(v: Option<f64>, key: &str, min: u64, max: u64) -> Result<Option<u64>, Error> {
    match v {
        None => Ok(None),
        Some(x) if x.fract() == 0.0 && x >= min as f64 && x <= max as f64 => Ok(Some(x as u64)),
        Some(_) => Err(Error::invalid_input(&[
            key,
            " must be a whole number from ",
            &min.to_string(),
            " to ",
            &max.to_string(),
        ])),
    }
}

impl<J> ClientOptionsInput<J> {
    /// Validates into the flow's options. `in_browser`: client credentials are
    /// refused, since every visitor of the page could read the secret.
    pub fn validate(&self, in_browser: bool) -> Result<ClientOptions, Error> {
        let endpoints = RegionInput {
            region: self.region.clone(),
            api_base: self.api_base.clone(),
            login_base: self.login_base.clone(),
        }
        .endpoints()?;
        let auth = self.auth.as_ref().ok_or_else(|| {
            Error::invalid_input(&["auth is required: { accessToken } in pages, or { clientCredentials: { clientId, clientSecret } } on a server"])
        })?;
        let credentials = match (&auth.access_token, &auth.client_credentials) {
            (Some(t), None) if !t.is_empty() => Credentials::AccessToken(t.clone()),
            (None, Some(cc)) => {
                if in_browser {
                    return Err(Error::invalid_input(&[
                        "clientCredentials must not be used in a browser, where anyone can read the secret: use the edge handler, or startLogin (PKCE) and { accessToken }",
                    ]));
                }
                match (&cc.client_id, &cc.client_secret) {
                    (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
                        Credentials::ClientCredentials {
                            client_id: id.clone(),
                            client_secret: ClientSecret::new(secret.clone()),
                        }
                    }
                    _ => {
                        return Err(Error::invalid_input(&[
                            "clientCredentials needs clientId and clientSecret",
                        ]))
                    }
                }
            }
            _ => {
                return Err(Error::invalid_input(&[
                    "auth must have exactly one of accessToken or clientCredentials",
                ]))
            }
        };
        let mut o = ClientOptions::new(endpoints, credentials);
        if let Some(t) = whole(self.request_timeout_ms, "requestTimeoutMs", 100, 300_000)? {
            o.request_timeout_ms = t;
        }
        if let Some(r) = whole(self.requests_per_minute, "requestsPerMinute", 1, 100_000)? {
            o.requests_per_minute = r as u32;
        }
        if let Some(p) = whole(self.poll_interval_ms, "pollIntervalMs", 10, 600_000)? {
            o.poll_interval_ms = p;
        }
        if let Some(m) = whole(self.max_retry_ms, "maxRetryMs", 0, 600_000)? {
            o.retry.max_retry_ms = m;
        }
        if let Some(h) = whole(
            self.heartbeat_timeout_ms,
            "heartbeatTimeoutMs",
            1_000,
            600_000,
        )? {
            o.push = o.push.with_heartbeat_timeout(h);
        }
        if let Some(w) = whole(self.settle_window_ms, "settleWindowMs", 1_000, 3_600_000)? {
            o.settle_ms = w;
        }
        Ok(o)
    }
}

/// `placeCall(options)`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), serde(deny_unknown_fields))]
pub struct PlaceCallOptions<J = IgnoredAny> {
    pub phone_number: Option<String>,
    pub on_behalf_of_user_id: Option<String>,
    pub caller_id: Option<String>,
    pub caller_id_name: Option<String>,
    pub call_from_queue_id: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
    /// Check the agent before dialling; refuse with `agent_unavailable`.
    pub require_available_agent: Option<bool>,
    /// Applied to the agent participant when the call ends. (`J`, so the
    /// browser package has one deserializer for this and `wrapUp()`'s options.)
    pub wrap_up: Option<WrapUpInput<J>>,
    pub signal: Option<J>,
}

/// `{ code, notes? }`: placeCall's `wrapUp`, and `wrapUp(conversationId, …)`
/// (which adds `signal`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), serde(deny_unknown_fields))]
pub struct WrapUpInput<J = IgnoredAny> {
    pub code: Option<String>,
    pub notes: Option<String>,
    pub signal: Option<J>,
}

impl<J> WrapUpInput<J> {
    pub fn validate(&self, what: &str) -> Result<WrapUp, Error> {
        let code = self.code.as_deref().ok_or_else(|| {
            Error::invalid_input(&[
                what,
                ".code is required: the wrap-up code's id (see wrapUpCodes)",
            ])
        })?;
        Ok(WrapUp {
            code: EntityId::parse(code, &[what, ".code"].concat())?,
            notes: self.notes.clone(),
        })
    }
}

/// `checkAgent(userId?, options)`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), serde(deny_unknown_fields))]
pub struct CheckAgentOptions<J = IgnoredAny> {
    /// The call would be placed for this queue: routing status counts too.
    pub call_from_queue_id: Option<String>,
    pub signal: Option<J>,
}

impl<J> CheckAgentOptions<J> {
    /// Whether the check is for an ACD (queue) call.
    pub fn validate(&self) -> Result<bool, Error> {
        match &self.call_from_queue_id {
            Some(q) => EntityId::parse(q, "callFromQueueId").map(|_| true),
            None => Ok(false),
        }
    }
}

impl<J> PlaceCallOptions<J> {
    /// What happens around the POST for the agent. A wrap-up without
    /// `callFromQueueId` is refused here: wrap-up codes belong to queues, so
    /// such a call could never be wrapped up.
    pub fn agent_options(&self) -> Result<AgentCallOptions, Error> {
        let wrap_up = match &self.wrap_up {
            None => None,
            Some(_) if self.call_from_queue_id.is_none() => {
                return Err(Error::invalid_input(&[
                    "wrapUp needs callFromQueueId: Genesys has wrap-up codes only on queue (ACD) calls, so a call placed without a queue can never be wrapped up",
                ]))
            }
            Some(w) => Some(w.validate("wrapUp")?),
        };
        Ok(AgentCallOptions {
            require_available_agent: self.require_available_agent.unwrap_or(false),
            wrap_up,
        })
    }

    pub fn validate(&self) -> Result<PlaceCall, Error> {
        let number = self.phone_number.as_deref().ok_or_else(|| {
            Error::invalid_input(&["phoneNumber is required, e.g. \"+13175550100\""])
        })?;
        let mut call = PlaceCall::new(E164::parse(number, "phoneNumber")?);
        call.on_behalf_of = self
            .on_behalf_of_user_id
            .as_deref()
            .map(|s| EntityId::parse(s, "onBehalfOfUserId"))
            .transpose()?;
        call.caller_id = self
            .caller_id
            .as_deref()
            .map(|s| E164::parse(s, "callerId"))
            .transpose()?;
        call.caller_id_name = match &self.caller_id_name {
            Some(n) if n.chars().nth(64).is_some() || n.chars().any(char::is_control) => {
                return Err(Error::invalid_input(&[
                    "callerIdName must be at most 64 printable characters",
                ]))
            }
            n => n.clone(),
        };
        call.call_from_queue_id = self
            .call_from_queue_id
            .as_deref()
            .map(|s| EntityId::parse(s, "callFromQueueId"))
            .transpose()?;
        call.attributes = self.attributes.clone().unwrap_or_default();
        Ok(call)
    }
}

/// `getCall` / `hangUp` options.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), serde(deny_unknown_fields))]
pub struct RequestOptions<J = IgnoredAny> {
    pub signal: Option<J>,
}

/// `waitForCall(id, options)`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), serde(deny_unknown_fields))]
pub struct WaitOptions<J = IgnoredAny> {
    pub until: Option<String>,
    pub timeout_ms: Option<f64>,
    pub on_update: Option<J>,
    pub signal: Option<J>,
}

impl<J> Default for WaitOptions<J> {
    fn default() -> Self {
        WaitOptions {
            until: None,
            timeout_ms: None,
            on_update: None,
            signal: None,
        }
    }
}

impl<J> WaitOptions<J> {
    /// `until` defaults to `ended`, the timeout to 10 minutes.
    pub fn validate(&self) -> Result<WaitFor, Error> {
        let until = match self.until.as_deref() {
            None | Some("ended") => Phase::Ended,
            Some("connected") => Phase::Connected,
            Some("dialing") => Phase::Dialing,
            Some(other) => {
                return Err(Error::invalid_input(&[
                    "until must be \"dialing\", \"connected\" or \"ended\", got '",
                    other,
                    "'",
                ]))
            }
        };
        let timeout_ms = whole(self.timeout_ms, "timeoutMs", 1, 86_400_000)?.unwrap_or(600_000);
        Ok(WaitFor { until, timeout_ms })
    }
}

/// `scheduleCallback(options)`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), serde(deny_unknown_fields))]
pub struct ScheduleCallbackOptions<J = IgnoredAny> {
    pub phone_number: Option<String>,
    pub queue_id: Option<String>,
    /// ISO-8601 with an offset; the wasm shell turns a JS `Date` into one first.
    pub at: Option<String>,
    pub name: Option<String>,
    pub data: Option<BTreeMap<String, String>>,
    pub signal: Option<J>,
}

impl<J> ScheduleCallbackOptions<J> {
    pub fn validate(&self) -> Result<ScheduleCallback, Error> {
        let number = self.phone_number.as_deref().ok_or_else(|| {
            Error::invalid_input(&["phoneNumber is required, e.g. \"+13175550100\""])
        })?;
        let queue = self.queue_id.as_deref().ok_or_else(|| {
            Error::invalid_input(&[
                "queueId is required: the id of the queue whose agents call back",
            ])
        })?;
        let mut cb = ScheduleCallback::new(
            E164::parse(number, "phoneNumber")?,
            EntityId::parse(queue, "queueId")?,
        );
        cb.at = self
            .at
            .as_deref()
            .map(|s| CallbackTime::parse(s, "at"))
            .transpose()?;
        cb.name = match &self.name {
            Some(n) if n.chars().nth(100).is_some() || n.chars().any(char::is_control) => {
                return Err(Error::invalid_input(&[
                    "name must be at most 100 printable characters",
                ]))
            }
            n => n.clone(),
        };
        cb.data = self.data.clone().unwrap_or_default();
        Ok(cb)
    }
}

/// `startLogin` options.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), serde(deny_unknown_fields))]
pub struct LoginOptionsInput {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub region: Option<String>,
    pub api_base: Option<String>,
    pub login_base: Option<String>,
}

/// `finishLogin` options: the login options plus what came back.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(target_arch = "wasm32"), serde(deny_unknown_fields))]
pub struct FinishLoginInput {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub region: Option<String>,
    pub api_base: Option<String>,
    pub login_base: Option<String>,
    pub callback_url: Option<String>,
    pub code_verifier: Option<String>,
    pub state: Option<String>,
}

/// Validated `startLogin` / `finishLogin` options.
pub struct LoginOptions {
    pub endpoints: Endpoints,
    pub client_id: String,
    pub redirect_uri: String,
}

impl LoginOptionsInput {
    pub fn validate(&self) -> Result<LoginOptions, Error> {
        login_options(
            &self.region,
            &self.api_base,
            &self.login_base,
            &self.client_id,
            &self.redirect_uri,
        )
    }
}

/// A validated `finishLogin`: where to exchange, and the code to exchange.
pub struct FinishLogin {
    pub login: LoginOptions,
    pub code: String,
    pub verifier: String,
}

impl FinishLoginInput {
    pub fn validate(&self) -> Result<FinishLogin, Error> {
        let login = login_options(
            &self.region,
            &self.api_base,
            &self.login_base,
            &self.client_id,
            &self.redirect_uri,
        )?;
        let verifier = self.code_verifier.clone().unwrap_or_default();
        if verifier.len() < 43 {
            return Err(Error::invalid_input(&[
                "codeVerifier is required: pass the one startLogin returned",
            ]));
        }
        let callback = self.callback_url.as_deref().unwrap_or_default();
        if !(callback.starts_with("https://") || callback.starts_with("http://")) {
            return Err(Error::invalid_input(&[
                "callbackUrl must be the full URL the sign-in redirected to",
            ]));
        }
        let code = crate::pkce::code_from_callback(callback, self.state.as_deref().unwrap_or(""))?;
        Ok(FinishLogin {
            login,
            code,
            verifier,
        })
    }
}

fn login_options(
    region: &Option<String>,
    api_base: &Option<String>,
    login_base: &Option<String>,
    client_id: &Option<String>,
    redirect_uri: &Option<String>,
) -> Result<LoginOptions, Error> {
    let endpoints = RegionInput {
        region: region.clone(),
        api_base: api_base.clone(),
        login_base: login_base.clone(),
    }
    .endpoints()?;
    let client_id = client_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::invalid_input(&["clientId is required (the PKCE OAuth client's id)"])
        })?;
    let redirect_uri = redirect_uri
        .as_deref()
        .filter(|r| r.starts_with("https://") || r.starts_with("http://"))
        .ok_or_else(|| {
            Error::invalid_input(&[
                "redirectUri is required and must be an http(s) URL registered on the OAuth client",
            ])
        })?;
    Ok(LoginOptions {
        endpoints,
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
    })
}

/// A serde error as `invalid_input`: "`what`: path: problem".
pub fn invalid(what: &str, e: &dyn std::fmt::Display) -> Error {
    Error::invalid_input(&[what, " options: ", &e.to_string()])
}

/// Deserializes a JSON options text (host tests, and the shape the JS values
/// are checked against): the path of a bad field is named in the message.
pub fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| invalid(what, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(s: &str, in_browser: bool) -> Result<ClientOptions, Error> {
        from_json::<ClientOptionsInput>("GenesysClient", s)?.validate(in_browser)
    }

    fn place(s: &str) -> Result<PlaceCall, Error> {
        from_json::<PlaceCallOptions>("placeCall", s)?.validate()
    }

    #[test]
    fn client_options_both_auth_modes() {
        let o = client(
            r#"{"region":"mypurecloud.ie","auth":{"accessToken":"t"},"pollIntervalMs":500}"#,
            true,
        )
        .unwrap();
        assert_eq!(o.endpoints.api_base, "https://api.mypurecloud.ie");
        assert_eq!(o.credentials, Credentials::AccessToken("t".into()));
        assert_eq!(o.poll_interval_ms, 500);
        assert_eq!(o.push.heartbeat_timeout_ms, 65_000);
        let o = client(
            r#"{"region":"mypurecloud.ie","auth":{"accessToken":"t"},"heartbeatTimeoutMs":35000,"WebSocket":{}}"#,
            true,
        )
        .unwrap();
        assert_eq!(
            (o.push.heartbeat_timeout_ms, o.push.ping_after_ms),
            (35_000, 17_500)
        );
        assert_eq!(o.settle_ms, crate::settle::SETTLE_MS);
        let o = client(
            r#"{"region":"mypurecloud.ie","auth":{"accessToken":"t"},"settleWindowMs":300000}"#,
            true,
        )
        .unwrap();
        assert_eq!(o.settle_ms, 300_000);
        let o = client(r#"{"apiBase":"http://127.0.0.1:8089","auth":{"clientCredentials":{"clientId":"sim-edge","clientSecret":"s"}}}"#, false).unwrap();
        assert_eq!(o.endpoints.login_base, "http://127.0.0.1:8089");
        assert!(matches!(
            o.credentials,
            Credentials::ClientCredentials { .. }
        ));
    }

    #[test]
    fn secrets_are_refused_in_a_browser() {
        let e = client(r#"{"region":"mypurecloud.com","auth":{"clientCredentials":{"clientId":"a","clientSecret":"hunter2"}}}"#, true).unwrap_err();
        assert!(e.message.contains("must not be used in a browser"));
        assert!(!e.message.contains("hunter2"));
    }

    #[test]
    fn bad_client_options() {
        for (bad, needle) in [
            (r#"{"auth":{"accessToken":"t"}}"#, "give region"),
            (
                r#"{"region":"mypurecloud.com","apiBase":"http://x","auth":{"accessToken":"t"}}"#,
                "not both",
            ),
            (r#"{"region":"mypurecloud.com"}"#, "auth is required"),
            (
                r#"{"region":"mypurecloud.com","auth":{"accessToken":""}}"#,
                "exactly one",
            ),
            (
                r#"{"region":"mypurecloud.com","auth":{"accessToken":"t","clientCredentials":{}}}"#,
                "exactly one",
            ),
            (
                r#"{"region":"mypurecloud.com","auth":{"clientCredentials":{"clientId":"a"}}}"#,
                "needs clientId and clientSecret",
            ),
            (
                r#"{"region":"mypurecloud.com","auth":{"accessToken":"t"},"pollIntervalMs":-1}"#,
                "pollIntervalMs must be",
            ),
            (
                r#"{"region":"mypurecloud.com","auth":{"accessToken":"t"},"pollIntervalMs":1.5}"#,
                "pollIntervalMs must be",
            ),
            (
                r#"{"region":"mypurecloud.com","auth":{"accessToken":"t"},"heartbeatTimeoutMs":10}"#,
                "heartbeatTimeoutMs must be",
            ),
            (
                r#"{"region":"mypurecloud.com","auth":{"accessToken":"t"},"settleWindowMs":0}"#,
                "settleWindowMs must be",
            ),
            (
                r#"{"region":"mypurecloud.com","auth":{"accessToken":"t"},"regoin":"x"}"#,
                "unknown field `regoin`",
            ),
            (
                r#"{"region":"mypurecloud.com","auth":{"accessToken":7}}"#,
                "auth.accessToken: invalid type",
            ),
            (r#""x""#, "invalid type"),
        ] {
            let e = client(bad, false).unwrap_err();
            assert_eq!(e.code.as_str(), "invalid_input");
            assert!(e.message.contains(needle), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn place_call_options_validate_into_a_request() {
        let c = place(r#"{"phoneNumber":"+1 317 555 0100","onBehalfOfUserId":"u-1","callerId":"+13175559999","callerIdName":"Acme","callFromQueueId":"q-1","attributes":{"ticket":"42"},"signal":{}}"#).unwrap();
        assert_eq!(
            c.body(),
            r#"{"phoneNumber":"+13175550100","callerId":"+13175559999","callerIdName":"Acme","callFromQueueId":"q-1","attributes":{"ticket":"42"}}"#
        );
        assert_eq!(c.on_behalf_of.unwrap().as_str(), "u-1");
    }

    #[test]
    fn bad_place_call_options_are_invalid_input() {
        for (bad, needle) in [
            (
                r#"{"phonenumber":"+13175550100"}"#,
                "unknown field `phonenumber`",
            ),
            (r#"{}"#, "phoneNumber is required"),
            (
                r#"{"phoneNumber":13175550100}"#,
                "phoneNumber: invalid type",
            ),
            (
                r#"{"phoneNumber":"+13175550100","onBehalfOfUserId":"../x"}"#,
                "onBehalfOfUserId must be a Genesys id",
            ),
            (
                r#"{"phoneNumber":"+13175550100","attributes":{"a":1}}"#,
                "attributes.a: invalid type",
            ),
            (
                r#"{"phoneNumber":"+13175550100","callerId":"555"}"#,
                "callerId must be an E.164",
            ),
            (
                r#"{"phoneNumber":"+13175550100","callerIdName":"a\u0007b"}"#,
                "callerIdName must be",
            ),
            (r#"[]"#, "placeCall options: invalid"),
        ] {
            let e = place(bad).unwrap_err();
            assert_eq!(e.code.as_str(), "invalid_input");
            assert!(e.message.contains(needle), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn agent_options_of_place_call() {
        let agent =
            |s: &str| from_json::<PlaceCallOptions>("placeCall", s).and_then(|o| o.agent_options());
        let a = agent(r#"{"phoneNumber":"+13175550100"}"#).unwrap();
        assert_eq!(a, AgentCallOptions::default());
        let a = agent(r#"{"phoneNumber":"+13175550100","callFromQueueId":"q-1","requireAvailableAgent":true,"wrapUp":{"code":"c-1","notes":"n"}}"#).unwrap();
        assert!(a.require_available_agent);
        let w = a.wrap_up.unwrap();
        assert_eq!((w.code.as_str(), w.notes.as_deref()), ("c-1", Some("n")));
        for (bad, needle) in [
            (
                r#"{"phoneNumber":"+13175550100","wrapUp":{"code":"c-1"}}"#,
                "wrapUp needs callFromQueueId",
            ),
            (
                r#"{"phoneNumber":"+13175550100","callFromQueueId":"q","wrapUp":{}}"#,
                "wrapUp.code is required",
            ),
            (
                r#"{"phoneNumber":"+13175550100","callFromQueueId":"q","wrapUp":{"code":"a/b"}}"#,
                "wrapUp.code must be a Genesys id",
            ),
            (
                r#"{"phoneNumber":"+13175550100","callFromQueueId":"q","wrapUp":{"code":"c","note":"x"}}"#,
                "unknown field `note`",
            ),
            (
                r#"{"phoneNumber":"+13175550100","requireAvailableAgent":"yes"}"#,
                "requireAvailableAgent: invalid type",
            ),
        ] {
            let e = agent(bad).unwrap_err();
            assert_eq!(e.code.as_str(), "invalid_input");
            assert!(e.message.contains(needle), "{bad}: {}", e.message);
        }
        let acd =
            |s: &str| from_json::<CheckAgentOptions>("checkAgent", s).and_then(|o| o.validate());
        assert!(!acd("{}").unwrap());
        assert!(acd(r#"{"callFromQueueId":"q-1"}"#).unwrap());
        assert!(acd(r#"{"callFromQueueId":"../q"}"#).is_err());
        assert!(acd(r#"{"queueId":"q"}"#).is_err());
    }

    #[test]
    fn wait_options_defaults_and_errors() {
        let w = WaitOptions::<IgnoredAny>::default().validate().unwrap();
        assert_eq!((w.until, w.timeout_ms), (Phase::Ended, 600_000));
        let w = from_json::<WaitOptions>(
            "waitForCall",
            r#"{"until":"connected","timeoutMs":60000,"onUpdate":{}}"#,
        )
        .unwrap()
        .validate()
        .unwrap();
        assert_eq!((w.until, w.timeout_ms), (Phase::Connected, 60_000));
        let bad = |s| {
            from_json::<WaitOptions>("waitForCall", s)
                .and_then(|w| w.validate())
                .unwrap_err()
                .message
        };
        assert!(bad(r#"{"until":"answered"}"#).contains("until must be"));
        assert!(bad(r#"{"timeoutMs":0}"#).contains("timeoutMs must be"));
        assert!(bad(r#"{"timeout":5}"#).contains("unknown field `timeout`"));
    }

    #[test]
    fn schedule_callback_options_validate_into_a_request() {
        let cb = from_json::<ScheduleCallbackOptions>(
            "scheduleCallback",
            r#"{"phoneNumber":"+1 317 555 0100","queueId":"q-1","at":"2026-03-09T09:00:00-05:00","name":"Grace","data":{"orderId":"A-17"},"signal":{}}"#,
        )
        .unwrap()
        .validate()
        .unwrap();
        assert_eq!(
            cb.body(),
            r#"{"callbackNumbers":["+13175550100"],"queueId":"q-1","callbackScheduledTime":"2026-03-09T14:00:00.000Z","callbackUserName":"Grace","data":{"orderId":"A-17"}}"#
        );
        let asap = from_json::<ScheduleCallbackOptions>(
            "scheduleCallback",
            r#"{"phoneNumber":"+13175550100","queueId":"q-1","at":null}"#,
        )
        .unwrap()
        .validate()
        .unwrap();
        assert_eq!(asap.at, None);
    }

    #[test]
    fn bad_callback_options_are_invalid_input() {
        let schedule = |s| {
            from_json::<ScheduleCallbackOptions>("scheduleCallback", s)
                .and_then(|o| o.validate())
                .unwrap_err()
        };
        for (bad, needle) in [
            (r#"{"queueId":"q"}"#, "phoneNumber is required"),
            (r#"{"phoneNumber":"+13175550100"}"#, "queueId is required"),
            (
                r#"{"phoneNumber":"555-0100","queueId":"q"}"#,
                "phoneNumber must be an E.164",
            ),
            (
                r#"{"phoneNumber":"+13175550100","queueId":"q/../x"}"#,
                "queueId must be a Genesys id",
            ),
            (
                r#"{"phoneNumber":"+13175550100","queueId":"q","at":"tomorrow"}"#,
                "at must be a date and time with a UTC offset",
            ),
            (
                r#"{"phoneNumber":"+13175550100","queueId":"q","at":"2026-03-09T09:00:00"}"#,
                "at must be a date and time with a UTC offset",
            ),
            (
                r#"{"phoneNumber":"+13175550100","queueId":"q","at":1773064800000}"#,
                "at: invalid type",
            ),
            (
                r#"{"phoneNumber":"+13175550100","queueId":"q","when":"x"}"#,
                "unknown field `when`",
            ),
            (
                r#"{"phoneNumber":"+13175550100","queueId":"q","data":{"a":1}}"#,
                "data.a: invalid type",
            ),
            (
                r#"{"phoneNumber":"+13175550100","queueId":"q","name":"a\u0007"}"#,
                "name must be",
            ),
        ] {
            let e = schedule(bad);
            assert_eq!(e.code.as_str(), "invalid_input");
            assert!(e.message.contains(needle), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn login_options_need_client_and_redirect() {
        let l = from_json::<LoginOptionsInput>(
            "startLogin",
            r#"{"clientId":"c","redirectUri":"http://127.0.0.1:8080/","region":"mypurecloud.com"}"#,
        )
        .unwrap()
        .validate()
        .unwrap();
        assert_eq!(l.endpoints.login_base, "https://login.mypurecloud.com");
        for bad in [
            r#"{"clientId":"c","redirectUri":"javascript:alert(1)","region":"mypurecloud.com"}"#,
            r#"{"redirectUri":"http://x/","region":"mypurecloud.com"}"#,
            r#"{"clientId":"c","redirectUri":"http://x/","region":"mypurecloud.com","callbackUrl":"u"}"#,
        ] {
            let r = from_json::<LoginOptionsInput>("startLogin", bad).and_then(|l| l.validate());
            assert!(r.is_err(), "{bad}");
        }
    }

    #[test]
    fn finish_login_reads_the_callback() {
        let v = "v".repeat(43);
        let ok = format!(
            r#"{{"clientId":"c","redirectUri":"http://x/","apiBase":"http://h","callbackUrl":"http://x/?code=abc&state=s1","codeVerifier":"{v}","state":"s1"}}"#
        );
        let f = from_json::<FinishLoginInput>("finishLogin", &ok)
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!((f.code.as_str(), f.verifier.len()), ("abc", 43));
        let wrong_state = ok.replace(r#""state":"s1""#, r#""state":"s2""#);
        let e = from_json::<FinishLoginInput>("finishLogin", &wrong_state)
            .unwrap()
            .validate()
            .err()
            .unwrap();
        assert!(e.message.contains("state"));
    }
}
