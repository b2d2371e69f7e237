//! Authorization Code + PKCE for a public browser client: verifier, challenge,
//! the authorize URL, the callback, and the code-exchange request.
//!
//! SHA-256 and randomness are inputs: the wasm shell takes them from WebCrypto,
//! which costs no bytes in the package.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::{Error, ErrorCode};
use crate::http::{parse_query, HttpRequest, Method};
use crate::region::Endpoints;

/// A verifier from 96 random bytes: 128 characters of `[A-Za-z0-9-_]`, the
/// maximum RFC 7636 allows (and the official SDK's default length).
pub fn verifier_from_random(random: &[u8; 96]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// `base64url(SHA-256(verifier))` without padding, given the digest.
pub fn challenge_from_digest(sha256_of_verifier: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(sha256_of_verifier)
}

/// The sign-in's `state`: 16 random bytes, base64url.
pub fn state_from_random(random: &[u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// What the page needs to start a sign-in.
pub struct LoginRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub challenge: &'a str,
    pub state: &'a str,
}

/// `https://login.<env>/oauth/authorize?…&response_type=code&code_challenge_method=S256`.
pub fn authorize_url(endpoints: &Endpoints, req: &LoginRequest) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", req.client_id),
            ("redirect_uri", req.redirect_uri),
            ("response_type", "code"),
            ("code_challenge", req.challenge),
            ("code_challenge_method", "S256"),
            ("state", req.state),
        ])
        .finish();
    [endpoints.login_base.as_str(), "/oauth/authorize?", &query].concat()
}

/// Reads the redirect back from the login host: `?code=…&state=…` or
/// `?error=…&error_description=…` in the query string. The state must match.
pub fn code_from_callback(callback_url: &str, expected_state: &str) -> Result<String, Error> {
    let query = callback_url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    let params = parse_query(query);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    code_from_params(
        get("code"),
        get("state"),
        get("error"),
        get("error_description"),
        expected_state,
    )
}

/// The same decision from already-decoded parameters (the wasm shell decodes
/// with the platform's `URL`, which costs no bytes).
pub fn code_from_params(
    code: Option<&str>,
    state: Option<&str>,
    error: Option<&str>,
    error_description: Option<&str>,
    expected_state: &str,
) -> Result<String, Error> {
    if let Some(err) = error {
        return Err(Error::new(
            ErrorCode::AuthFailed,
            &[
                "sign-in failed: ",
                err,
                " ",
                error_description.unwrap_or(""),
            ],
        ));
    }
    if state != Some(expected_state) {
        return Err(Error::invalid_input(&["the sign-in callback's state does not match the one this page started with; start the sign-in again"]));
    }
    match code {
        Some(code) if !code.is_empty() => Ok(code.to_string()),
        _ => Err(Error::invalid_input(&[
            "the sign-in callback URL has no code parameter",
        ])),
    }
}

/// The code exchange: no secret, no Basic header; the verifier proves the caller.
pub fn code_exchange_request(
    endpoints: &Endpoints,
    client_id: &str,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
) -> HttpRequest {
    HttpRequest::new(
        Method::Post,
        [endpoints.login_base.as_str(), "/oauth/token"].concat(),
    )
    .form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
    ])
}

// sha2 is not in the browser build (it hashes with WebCrypto); the host has it.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn rfc7636_appendix_b_vector() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let digest: [u8; 32] = Sha256::digest(verifier.as_bytes()).into();
        assert_eq!(
            challenge_from_digest(&digest),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_has_the_allowed_length_and_alphabet() {
        let v = verifier_from_random(&[0xAB; 96]);
        assert_eq!(v.len(), 128);
        assert!(v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn authorize_url_carries_every_parameter_encoded() {
        let e = Endpoints::for_region("mypurecloud.ie").unwrap();
        let url = authorize_url(
            &e,
            &LoginRequest {
                client_id: "cid",
                redirect_uri: "http://127.0.0.1:8080/agent.html",
                challenge: "ch",
                state: "s t",
            },
        );
        assert_eq!(
            url,
            "https://login.mypurecloud.ie/oauth/authorize?client_id=cid&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fagent.html&response_type=code&code_challenge=ch&code_challenge_method=S256&state=s+t"
        );
    }

    #[test]
    fn callback_parsing() {
        assert_eq!(
            code_from_callback("http://x/cb?code=abc&state=s1", "s1").unwrap(),
            "abc"
        );
        assert_eq!(
            code_from_callback("http://x/cb?state=s1&code=a%2Bb#frag", "s1").unwrap(),
            "a+b"
        );
        assert_eq!(
            code_from_callback("http://x/cb?code=abc&state=other", "s1")
                .unwrap_err()
                .code
                .as_str(),
            "invalid_input"
        );
        let e = code_from_callback(
            "http://x/cb?error=access_denied&error_description=user+cancelled&state=s1",
            "s1",
        )
        .unwrap_err();
        assert_eq!(e.code.as_str(), "auth_failed");
        assert!(e.message.contains("user cancelled"));
        assert!(code_from_callback("http://x/cb?state=s1", "s1").is_err());
    }

    #[test]
    fn code_exchange_sends_no_secret() {
        let e = Endpoints::custom("http://h", "http://h").unwrap();
        let r = code_exchange_request(&e, "sim-browser", "http://127.0.0.1:1/cb", "c0de", "ver");
        assert_eq!(r.body.as_deref(), Some("grant_type=authorization_code&code=c0de&code_verifier=ver&client_id=sim-browser&redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2Fcb"));
        assert!(!r.headers.iter().any(|(k, _)| k == "Authorization"));
    }
}
