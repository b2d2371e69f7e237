//! OAuth: the client-credentials token request, token responses, and when a
//! cached token must be renewed. Pure functions; the flow does the IO.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::error::{Attempt, Error};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::region::Endpoints;
use crate::wire::{self, TokenResponse};

/// An OAuth client secret. It never prints itself, so it cannot leak through
/// `Debug`, `Display` or an error message.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(s: String) -> ClientSecret {
        ClientSecret(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// How the client authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Server-side only (the edge handler): the client fetches and renews tokens.
    ClientCredentials {
        client_id: String,
        client_secret: ClientSecret,
    },
    /// A token obtained elsewhere (PKCE sign-in, the agent's app). Not renewable.
    AccessToken(String),
}

/// A token as answered by `POST /oauth/token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub access_token: String,
    pub expires_in_secs: u64,
}

/// `POST {login}/oauth/token` with HTTP Basic and `grant_type=client_credentials`
/// (no scope, no org: the organisation is implied by the client).
pub fn client_credentials_request(
    endpoints: &Endpoints,
    client_id: &str,
    secret: &ClientSecret,
) -> HttpRequest {
    let basic = STANDARD.encode([client_id, ":", secret.expose()].concat());
    HttpRequest::new(
        Method::Post,
        [endpoints.login_base.as_str(), "/oauth/token"].concat(),
    )
    .header("Authorization", &["Basic ", &basic].concat())
    .form(&[("grant_type", "client_credentials")])
}

/// Reads a token response (any grant). Non-2xx answers become `auth_failed`,
/// `rate_limited` or `server_error` with Genesys' OAuth error text.
pub fn parse_token_response(resp: &HttpResponse) -> Result<Token, Error> {
    if !resp.is_success() {
        return Err(Error::from_response(resp, Attempt::Token));
    }
    let body: TokenResponse = wire::decode(&resp.body).map_err(|e| {
        Error::bad_response(
            &["token response is not the documented shape: ", &e].concat(),
            Attempt::Token,
        )
    })?;
    let access_token = body
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::bad_response("token response has no access_token", Attempt::Token))?;
    if let Some(tt) = &body.token_type {
        if !tt.eq_ignore_ascii_case("bearer") {
            return Err(Error::bad_response(
                "token_type is not bearer",
                Attempt::Token,
            ));
        }
    }
    // Genesys always sends expires_in; if it ever does not, assume the shortest
    // lifetime an OAuth client can be configured with (300 s) so we renew early.
    Ok(Token {
        access_token,
        expires_in_secs: body.expires_in.unwrap_or(300),
    })
}

/// A token held by the client, with the time it was obtained.
#[derive(Debug, Clone)]
pub struct CachedToken {
    pub value: String,
    pub obtained_at_ms: u64,
    pub lifetime_ms: u64,
}

impl CachedToken {
    pub fn new(token: Token, now_ms: u64) -> CachedToken {
        CachedToken {
            value: token.access_token,
            obtained_at_ms: now_ms,
            lifetime_ms: token.expires_in_secs.saturating_mul(1000),
        }
    }

    /// Renew this long before expiry: a tenth of the lifetime, capped at 5 minutes,
    /// so a 24-hour token renews 5 minutes early and a 10-second one 1 second early.
    pub fn renewal_margin_ms(&self) -> u64 {
        (self.lifetime_ms / 10).min(300_000)
    }

    /// Whether the token may still be used for a new request at `now_ms`.
    pub fn is_fresh(&self, now_ms: u64) -> bool {
        let renew_at = self.obtained_at_ms + self.lifetime_ms - self.renewal_margin_ms();
        now_ms < renew_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim() -> Endpoints {
        Endpoints::custom("http://127.0.0.1:8089", "http://127.0.0.1:8089").unwrap()
    }

    #[test]
    fn client_credentials_request_matches_the_sdks() {
        let r = client_credentials_request(
            &sim(),
            "sim-edge",
            &ClientSecret::new("sim-edge-secret".into()),
        );
        assert_eq!(r.method, Method::Post);
        assert_eq!(r.url, "http://127.0.0.1:8089/oauth/token");
        assert_eq!(r.body.as_deref(), Some("grant_type=client_credentials"));
        let auth = r
            .headers
            .iter()
            .find(|(k, _)| k == "Authorization")
            .unwrap();
        assert_eq!(auth.1, "Basic c2ltLWVkZ2U6c2ltLWVkZ2Utc2VjcmV0");
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| k == "Content-Type" && v == "application/x-www-form-urlencoded"));
    }

    #[test]
    fn secret_never_prints() {
        let c = Credentials::ClientCredentials {
            client_id: "id".into(),
            client_secret: ClientSecret::new("hunter2".into()),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn parses_token_responses() {
        let ok = HttpResponse {
            status: 200,
            headers: vec![],
            body: r#"{"access_token":"abc","token_type":"bearer","expires_in":86399}"#.into(),
        };
        assert_eq!(
            parse_token_response(&ok).unwrap(),
            Token {
                access_token: "abc".into(),
                expires_in_secs: 86399
            }
        );
        let upper = HttpResponse {
            body: r#"{"access_token":"abc","token_type":"Bearer"}"#.into(),
            ..ok.clone()
        };
        assert_eq!(parse_token_response(&upper).unwrap().expires_in_secs, 300);
        for bad in [
            r#"{"token_type":"bearer"}"#,
            r#"{"access_token":""}"#,
            "nope",
            r#"{"access_token":"a","token_type":"mac"}"#,
        ] {
            let r = HttpResponse {
                body: bad.into(),
                ..ok.clone()
            };
            assert_eq!(
                parse_token_response(&r).unwrap_err().code.as_str(),
                "bad_response",
                "{bad}"
            );
        }
        let denied = HttpResponse { status: 401, headers: vec![], body: r#"{"error":"invalid_client","description":"authentication failed","error_description":"authentication failed"}"#.into() };
        let e = parse_token_response(&denied).unwrap_err();
        assert_eq!(e.code.as_str(), "auth_failed");
        assert!(e.message.contains("invalid_client"));
    }

    #[test]
    fn renewal_happens_shortly_before_expiry() {
        let day = CachedToken::new(
            Token {
                access_token: "t".into(),
                expires_in_secs: 86_399,
            },
            1_000,
        );
        assert_eq!(day.renewal_margin_ms(), 300_000);
        assert!(day.is_fresh(1_000 + 86_399_000 - 300_001));
        assert!(!day.is_fresh(1_000 + 86_399_000 - 300_000));
        let short = CachedToken::new(
            Token {
                access_token: "t".into(),
                expires_in_secs: 10,
            },
            0,
        );
        assert!(short.is_fresh(8_999));
        assert!(!short.is_fresh(9_000));
    }
}
