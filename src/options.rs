//! The JS API's option objects, read from JSON so their validation is plain
//! host-tested Rust. Unknown keys and wrong types are `invalid_input` errors.

use crate::auth::{ClientSecret, Credentials};
use crate::call::{check_keys, opt_string};
use crate::error::Error;
use crate::flow::{ClientOptions, WaitFor};
use crate::json::{u64_string, Json};
use crate::region::Endpoints;
use crate::status::Phase;

/// Region, or explicit base URLs (both or neither).
pub fn endpoints(v: &Json) -> Result<Endpoints, Error> {
    let region = opt_string(v, "region")?;
    let api = opt_string(v, "apiBase")?;
    let login = opt_string(v, "loginBase")?;
    match (region, api, login) {
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

fn opt_u64(v: &Json, key: &str, min: u64, max: u64) -> Result<Option<u64>, Error> {
    match v.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(n) => match n.as_u64() {
            Some(x) if (min..=max).contains(&x) => Ok(Some(x)),
            _ => Err(Error::invalid_input(&[
                key,
                " must be a whole number from ",
                &u64_string(min),
                " to ",
                &u64_string(max),
            ])),
        },
    }
}

/// `new GenesysClient(options)`.
pub fn client_options(v: &Json, in_browser: bool) -> Result<ClientOptions, Error> {
    if v.as_object().is_none() {
        return Err(Error::invalid_input(&[
            "GenesysClient expects an options object",
        ]));
    }
    let members = v.as_object().unwrap_or(&[]);
    check_keys(
        members,
        &[
            "region",
            "apiBase",
            "loginBase",
            "auth",
            "requestTimeoutMs",
            "requestsPerMinute",
            "pollIntervalMs",
            "maxRetryMs",
        ],
        "GenesysClient",
    )?;
    let endpoints = endpoints(v)?;
    let auth = v.get("auth").filter(|a| a.as_object().is_some()).ok_or_else(|| {
        Error::invalid_input(&["auth is required: { accessToken } in pages, or { clientCredentials: { clientId, clientSecret } } on a server"])
    })?;
    check_keys(
        auth.as_object().unwrap_or(&[]),
        &["accessToken", "clientCredentials"],
        "auth",
    )?;
    let credentials = match (
        opt_string(auth, "accessToken")?,
        auth.get("clientCredentials"),
    ) {
        (Some(t), None) if !t.is_empty() => Credentials::AccessToken(t.to_string()),
        (None, Some(cc)) => {
            if in_browser {
                // The secret would be readable by every visitor of the page.
                return Err(Error::invalid_input(&[
                    "clientCredentials must not be used in a browser, where anyone can read the secret: use the edge handler, or startLogin (PKCE) and { accessToken }",
                ]));
            }
            check_keys(
                cc.as_object().unwrap_or(&[]),
                &["clientId", "clientSecret"],
                "clientCredentials",
            )?;
            let id = opt_string(cc, "clientId")?.filter(|s| !s.is_empty());
            let secret = opt_string(cc, "clientSecret")?.filter(|s| !s.is_empty());
            match (id, secret) {
                (Some(id), Some(secret)) => Credentials::ClientCredentials {
                    client_id: id.to_string(),
                    client_secret: ClientSecret::new(secret.to_string()),
                },
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
    if let Some(t) = opt_u64(v, "requestTimeoutMs", 100, 300_000)? {
        o.request_timeout_ms = t;
    }
    if let Some(r) = opt_u64(v, "requestsPerMinute", 1, 100_000)? {
        o.requests_per_minute = r as u32;
    }
    if let Some(p) = opt_u64(v, "pollIntervalMs", 10, 600_000)? {
        o.poll_interval_ms = p;
    }
    if let Some(m) = opt_u64(v, "maxRetryMs", 0, 600_000)? {
        o.retry.max_retry_ms = m;
    }
    Ok(o)
}

/// `waitForCall(id, { until, timeoutMs })`: until defaults to `ended`, the
/// timeout to 10 minutes.
pub fn wait_options(v: &Json) -> Result<WaitFor, Error> {
    if matches!(v, Json::Null) {
        return Ok(WaitFor {
            until: Phase::Ended,
            timeout_ms: 600_000,
        });
    }
    check_keys(
        v.as_object()
            .ok_or_else(|| Error::invalid_input(&["waitForCall options must be an object"]))?,
        &["until", "timeoutMs"],
        "waitForCall",
    )?;
    let until = match opt_string(v, "until")? {
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
    let timeout_ms = opt_u64(v, "timeoutMs", 1, 86_400_000)?.unwrap_or(600_000);
    Ok(WaitFor { until, timeout_ms })
}

/// `startLogin` / `finishLogin` options.
pub struct LoginOptions {
    pub endpoints: Endpoints,
    pub client_id: String,
    pub redirect_uri: String,
}

pub fn login_options(v: &Json, extra: &[&str]) -> Result<LoginOptions, Error> {
    let mut allowed = vec!["clientId", "redirectUri", "region", "apiBase", "loginBase"];
    allowed.extend_from_slice(extra);
    check_keys(
        v.as_object()
            .ok_or_else(|| Error::invalid_input(&["login options must be an object"]))?,
        &allowed,
        "login",
    )?;
    let endpoints = endpoints(v)?;
    let client_id = opt_string(v, "clientId")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::invalid_input(&["clientId is required (the PKCE OAuth client's id)"])
        })?;
    let redirect_uri = opt_string(v, "redirectUri")?
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

#[cfg(test)]
mod tests {
    use super::*;

    fn j(s: &str) -> Json {
        Json::parse(s).unwrap()
    }

    #[test]
    fn client_options_both_auth_modes() {
        let o = client_options(
            &j(r#"{"region":"mypurecloud.ie","auth":{"accessToken":"t"},"pollIntervalMs":500}"#),
            true,
        )
        .unwrap();
        assert_eq!(o.endpoints.api_base, "https://api.mypurecloud.ie");
        assert_eq!(o.credentials, Credentials::AccessToken("t".into()));
        assert_eq!(o.poll_interval_ms, 500);
        let o = client_options(&j(r#"{"apiBase":"http://127.0.0.1:8089","auth":{"clientCredentials":{"clientId":"sim-edge","clientSecret":"s"}}}"#), false).unwrap();
        assert_eq!(o.endpoints.login_base, "http://127.0.0.1:8089");
        assert!(matches!(
            o.credentials,
            Credentials::ClientCredentials { .. }
        ));
    }

    #[test]
    fn secrets_are_refused_in_a_browser() {
        let e = client_options(&j(r#"{"region":"mypurecloud.com","auth":{"clientCredentials":{"clientId":"a","clientSecret":"hunter2"}}}"#), true).unwrap_err();
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
                r#"{"region":"mypurecloud.com","auth":{"accessToken":"t"},"regoin":"x"}"#,
                "unknown option 'regoin'",
            ),
            (r#""x""#, "options object"),
        ] {
            let e = client_options(&j(bad), false).unwrap_err();
            assert!(e.message.contains(needle), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn wait_options_defaults_and_errors() {
        let w = wait_options(&Json::Null).unwrap();
        assert_eq!((w.until, w.timeout_ms), (Phase::Ended, 600_000));
        let w = wait_options(&j(
            r#"{"until":"connected","timeoutMs":60000,"onUpdate":{}}"#,
        ))
        .unwrap();
        assert_eq!((w.until, w.timeout_ms), (Phase::Connected, 60_000));
        assert!(wait_options(&j(r#"{"until":"answered"}"#))
            .unwrap_err()
            .message
            .contains("until must be"));
        assert!(wait_options(&j(r#"{"timeoutMs":0}"#)).is_err());
    }

    #[test]
    fn login_options_need_client_and_redirect() {
        let l = login_options(&j(r#"{"clientId":"c","redirectUri":"http://127.0.0.1:8080/","region":"mypurecloud.com"}"#), &[]).unwrap();
        assert_eq!(l.endpoints.login_base, "https://login.mypurecloud.com");
        assert!(login_options(
            &j(
                r#"{"clientId":"c","redirectUri":"javascript:alert(1)","region":"mypurecloud.com"}"#
            ),
            &[]
        )
        .is_err());
        assert!(login_options(
            &j(r#"{"redirectUri":"http://x/","region":"mypurecloud.com"}"#),
            &[]
        )
        .is_err());
        assert!(login_options(&j(r#"{"clientId":"c","redirectUri":"http://x/","region":"mypurecloud.com","callbackUrl":"u"}"#), &["callbackUrl"]).is_ok());
    }
}
