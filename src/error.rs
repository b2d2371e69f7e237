//! The one error type. Every failure — bad input, a Genesys error body, an OAuth
//! error, a transport failure — becomes an [`Error`] with a stable [`ErrorCode`];
//! the wasm shell converts it to a JS error in exactly one function.
//!
//! Messages say what to do next and never contain a secret, a token or a header.

use serde::{Serialize, Serializer};

use crate::http::{HttpResponse, TransportError};
use crate::wire::{self, ErrorBody};

/// Stable, public error codes (listed in the README; pinned by a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The caller's input is wrong (bad number, unknown option, …); nothing was sent.
    InvalidInput,
    /// Credentials or token rejected (OAuth error, HTTP 401).
    AuthFailed,
    /// A client-credentials token was used where Genesys needs a user (agent) token.
    UserContextRequired,
    /// HTTP 403: the token lacks a permission.
    Forbidden,
    /// HTTP 404.
    NotFound,
    /// HTTP 409.
    Conflict,
    /// HTTP 429 that outlasted the retry budget.
    RateLimited,
    /// HTTP 5xx on a request that is safe to report as failed.
    ServerError,
    /// Genesys answered with something that is not the documented shape.
    BadResponse,
    /// The request could not be completed (connection refused, DNS, CORS, reset).
    Network,
    /// A request or a wait ran out of time.
    Timeout,
    /// The caller's AbortSignal fired.
    Aborted,
    /// The create-call POST may or may not have dialled: check before trying again.
    OutcomeUnknown,
    /// Refused by the edge handler's policy before Genesys was asked.
    PolicyDenied,
    /// The agent cannot take a call now (offline, do-not-disturb, no station, …);
    /// `reason` says which. No call was placed.
    AgentUnavailable,
    /// A call to this number was sent moments ago and its outcome is not
    /// known yet: it was not dialled again (settle window, `retryAfterMs`).
    CallMayBeRinging,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::InvalidInput,
        ErrorCode::AuthFailed,
        ErrorCode::UserContextRequired,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::ServerError,
        ErrorCode::BadResponse,
        ErrorCode::Network,
        ErrorCode::Timeout,
        ErrorCode::Aborted,
        ErrorCode::OutcomeUnknown,
        ErrorCode::PolicyDenied,
        ErrorCode::AgentUnavailable,
        ErrorCode::CallMayBeRinging,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::AuthFailed => "auth_failed",
            ErrorCode::UserContextRequired => "user_context_required",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ServerError => "server_error",
            ErrorCode::BadResponse => "bad_response",
            ErrorCode::Network => "network",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Aborted => "aborted",
            ErrorCode::OutcomeUnknown => "outcome_unknown",
            ErrorCode::PolicyDenied => "policy_denied",
            ErrorCode::AgentUnavailable => "agent_unavailable",
            ErrorCode::CallMayBeRinging => "call_may_be_ringing",
        }
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Serialized as the JS error's fields: `{code, message, status?, retryAfterMs?, contextId?, reason?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    /// The HTTP status Genesys answered with, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// How long Genesys asked us to wait (429 `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// Genesys' correlation id (`contextId` / `ININ-Correlation-Id`), for support tickets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Why, as a stable key, where the code has several causes
    /// (`agent_unavailable`: `offline`, `do-not-disturb`, `no-station`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

/// What was being attempted, which changes how a failure is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The token request.
    Token,
    /// The create-call POST: failures after sending may have dialled.
    CreateCall,
    /// The create-callback POST: failures after sending may have scheduled it.
    CreateCallback,
    /// Anything else (reads, hang-up).
    Other,
}

impl Attempt {
    /// For a request Genesys acts on once (dial, schedule): its noun, what may
    /// have happened, and what to check before trying again.
    fn acts_once(self) -> Option<(&'static str, &'static str, &'static str)> {
        match self {
            Attempt::CreateCall => Some(("call", "placed", CHECK_BEFORE_REDIAL)),
            Attempt::CreateCallback => Some(("callback", "scheduled", CHECK_BEFORE_RESCHEDULING)),
            Attempt::Token | Attempt::Other => None,
        }
    }
}

impl Error {
    pub fn new(code: ErrorCode, parts: &[&str]) -> Error {
        Error {
            code,
            message: parts.concat(),
            status: None,
            retry_after_ms: None,
            context_id: None,
            reason: None,
        }
    }

    pub fn invalid_input(parts: &[&str]) -> Error {
        Error::new(ErrorCode::InvalidInput, parts)
    }

    pub fn with_status(mut self, status: u16) -> Error {
        self.status = Some(status);
        self
    }

    /// A transport failure. For the create-call POST the request may have reached
    /// Genesys, so it is reported as `outcome_unknown`, never as a plain failure.
    pub fn from_transport(e: TransportError, attempt: Attempt) -> Error {
        let (code, what) = match e {
            TransportError::Timeout => (ErrorCode::Timeout, "Genesys did not answer in time"),
            TransportError::Aborted => (ErrorCode::Aborted, "the request was aborted"),
            TransportError::Network(_) => (ErrorCode::Network, "could not reach Genesys"),
        };
        // An abort is the caller's own doing; the shell reports it with what it knows.
        if let Some((noun, done, check)) =
            attempt.acts_once().filter(|_| code != ErrorCode::Aborted)
        {
            return Error::new(
                ErrorCode::OutcomeUnknown,
                &[
                    what,
                    " after the ",
                    noun,
                    " request was sent; the ",
                    noun,
                    " may have been ",
                    done,
                    ". ",
                    check,
                ],
            );
        }
        let detail = match &e {
            TransportError::Network(d) if !d.is_empty() => d.as_str(),
            _ => "",
        };
        let sep = if detail.is_empty() { "" } else { " (" };
        let end = if detail.is_empty() { "" } else { ")" };
        Error::new(
            code,
            &[
                what,
                sep,
                detail,
                end,
                "; check the network and the region or base URLs, then try again",
            ],
        )
    }

    /// Classifies a non-2xx answer from the API host (a Genesys `ErrorBody`) or
    /// the login host (an OAuth error body).
    pub fn from_response(resp: &HttpResponse, attempt: Attempt) -> Error {
        // Whatever the body is (HTML from a proxy, truncated JSON), the status decides.
        let body: ErrorBody = wire::decode(&resp.body).unwrap_or_default();
        let context_id = body
            .context_id
            .or_else(|| resp.header("inin-correlation-id").map(str::to_string));
        let genesys_message = body.message.or(body.error_description).unwrap_or_default();
        let oauth_error = body.error;
        let status = resp.status;
        let retry_after_ms = resp.retry_after_ms();

        if let (500..=599, Some((noun, done, check))) = (status, attempt.acts_once()) {
            return Error {
                code: ErrorCode::OutcomeUnknown,
                message: [
                    "Genesys failed while handling the ",
                    noun,
                    " request; the ",
                    noun,
                    " may have been ",
                    done,
                    ". ",
                    check,
                ]
                .concat(),
                status: Some(status),
                retry_after_ms,
                context_id,
                reason: None,
            };
        }
        let m = genesys_message.as_str();
        let (code, text): (ErrorCode, [&str; 5]) = match status {
            400 if m.contains("requires a user context") => (
                ErrorCode::UserContextRequired,
                [
                    "Genesys needs a user (agent) token for this request, and a client-credentials token has no user. ",
                    "Either pass onBehalfOfUserId (uses POST /api/v2/conversations/calls/user/{userId}) or sign the agent in with PKCE and use their accessToken.",
                    "",
                    "",
                    "",
                ],
            ),
            400 | 401 if attempt == Attempt::Token || oauth_error.is_some() => (
                ErrorCode::AuthFailed,
                [
                    "Genesys refused the credentials (",
                    oauth_error.as_deref().unwrap_or("error"),
                    if m.is_empty() { "" } else { ": " },
                    m,
                    "); check the client id, the client secret and the region, and that the OAuth client has the right grant type",
                ],
            ),
            401 => (ErrorCode::AuthFailed, ["Genesys rejected the access token (", m, "); sign in again or check the credentials", "", ""]),
            403 => (ErrorCode::Forbidden, ["Genesys refused the request: ", m, " Give the OAuth client's role (or the agent) the missing permission.", "", ""]),
            404 => (ErrorCode::NotFound, ["Genesys found no such resource (", m, "); check the conversation or user id", "", ""]),
            409 => (ErrorCode::Conflict, ["Genesys reported a conflict: ", m, "", "", ""]),
            429 => (ErrorCode::RateLimited, ["Genesys rate limit reached; wait for retryAfterMs before trying again", "", "", "", ""]),
            500..=599 => (ErrorCode::ServerError, ["Genesys had a server error (", m, "); try again shortly", "", ""]),
            400..=499 => (ErrorCode::InvalidInput, ["Genesys rejected the request: ", m, "", "", ""]),
            _ => (ErrorCode::BadResponse, ["Genesys answered with an unexpected HTTP status", "", "", "", ""]),
        };
        Error {
            code,
            message: text.concat(),
            status: Some(status),
            retry_after_ms,
            context_id,
            reason: None,
        }
    }

    /// A 2xx whose body is not the documented shape.
    pub fn bad_response(what: &str, attempt: Attempt) -> Error {
        if let Some((noun, done, check)) = attempt.acts_once() {
            return Error::new(
                ErrorCode::OutcomeUnknown,
                &[
                    "Genesys accepted the ",
                    noun,
                    " request but its answer was unreadable (",
                    what,
                    "); the ",
                    noun,
                    " was probably ",
                    done,
                    ". ",
                    check,
                ],
            );
        }
        Error::new(
            ErrorCode::BadResponse,
            &["Genesys answered with an unexpected body: ", what],
        )
    }

    /// The error as a JSON object: `{code, message, status?, retryAfterMs?, contextId?}`.
    pub fn to_json(&self) -> String {
        wire::encode(self)
    }
}

pub const CHECK_BEFORE_REDIAL: &str =
    "Check the agent's active calls (or the conversation list) before dialling again, so the customer is not called twice.";

pub const CHECK_BEFORE_RESCHEDULING: &str =
    "Look for it among the queue's callbacks before scheduling again, so the customer is not called back twice.";

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code.as_str())?;
        f.write_str(": ")?;
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("ININ-Correlation-Id".into(), "corr-1".into())],
            body: body.into(),
        }
    }

    #[test]
    fn error_codes_are_stable_public_api() {
        let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            codes,
            [
                "invalid_input",
                "auth_failed",
                "user_context_required",
                "forbidden",
                "not_found",
                "conflict",
                "rate_limited",
                "server_error",
                "bad_response",
                "network",
                "timeout",
                "aborted",
                "outcome_unknown",
                "policy_denied",
                "agent_unavailable",
                "call_may_be_ringing"
            ]
        );
    }

    #[test]
    fn classifies_genesys_error_bodies() {
        let user_ctx = r#"{"message":"This request requires a user context. Client credentials cannot be used for requests to this resource.","code":"bad.request","status":400,"contextId":"ctx-9"}"#;
        let cases: [(u16, &str, Attempt, ErrorCode); 12] = [
            (
                400,
                user_ctx,
                Attempt::CreateCall,
                ErrorCode::UserContextRequired,
            ),
            (
                400,
                r#"{"message":"phoneNumber is invalid","code":"bad.request","status":400}"#,
                Attempt::CreateCall,
                ErrorCode::InvalidInput,
            ),
            (
                401,
                r#"{"error":"invalid_client","description":"authentication failed","error_description":"authentication failed"}"#,
                Attempt::Token,
                ErrorCode::AuthFailed,
            ),
            (
                400,
                r#"{"error":"invalid_grant","error_description":"code expired"}"#,
                Attempt::Token,
                ErrorCode::AuthFailed,
            ),
            (
                401,
                r#"{"message":"Invalid login credentials.","code":"bad.credentials","status":401}"#,
                Attempt::Other,
                ErrorCode::AuthFailed,
            ),
            (
                403,
                r#"{"message":"You must have at least one of the following permissions assigned: [conversation:agentlessCall:add]","code":"missing.any.permissions","status":403}"#,
                Attempt::CreateCall,
                ErrorCode::Forbidden,
            ),
            (
                404,
                r#"{"message":"The requested resource was not found.","code":"not.found","status":404}"#,
                Attempt::Other,
                ErrorCode::NotFound,
            ),
            (
                409,
                r#"{"message":"conflict","code":"conflict","status":409}"#,
                Attempt::CreateCall,
                ErrorCode::Conflict,
            ),
            (
                429,
                r#"{"message":"Rate limit exceeded","code":"too.many.requests.retry.after","status":429}"#,
                Attempt::Other,
                ErrorCode::RateLimited,
            ),
            (
                503,
                r#"{"message":"down","code":"service.unavailable","status":503}"#,
                Attempt::Other,
                ErrorCode::ServerError,
            ),
            (
                503,
                r#"{"message":"down","code":"service.unavailable","status":503}"#,
                Attempt::CreateCall,
                ErrorCode::OutcomeUnknown,
            ),
            (
                500,
                "<html>not json</html>",
                Attempt::CreateCall,
                ErrorCode::OutcomeUnknown,
            ),
        ];
        for (status, body, attempt, want) in cases {
            let e = Error::from_response(&resp(status, body), attempt);
            assert_eq!(e.code, want, "{status} {body}");
            assert_eq!(e.status, Some(status));
        }
    }

    #[test]
    fn context_id_prefers_body_then_header() {
        let e = Error::from_response(
            &resp(404, r#"{"message":"x","contextId":"from-body"}"#),
            Attempt::Other,
        );
        assert_eq!(e.context_id.as_deref(), Some("from-body"));
        let e = Error::from_response(&resp(404, "{}"), Attempt::Other);
        assert_eq!(e.context_id.as_deref(), Some("corr-1"));
    }

    #[test]
    fn user_context_message_names_the_right_mode() {
        let e = Error::from_response(
            &resp(
                400,
                r#"{"message":"This request requires a user context."}"#,
            ),
            Attempt::CreateCall,
        );
        assert!(e.message.contains("onBehalfOfUserId"));
        assert!(e.message.contains("PKCE"));
    }

    #[test]
    fn transport_failures_during_create_call_are_outcome_unknown() {
        for t in [
            TransportError::Timeout,
            TransportError::Network("reset".into()),
        ] {
            assert_eq!(
                Error::from_transport(t.clone(), Attempt::CreateCall).code,
                ErrorCode::OutcomeUnknown
            );
            assert_ne!(
                Error::from_transport(t, Attempt::Other).code,
                ErrorCode::OutcomeUnknown
            );
        }
        assert_eq!(
            Error::from_transport(TransportError::Aborted, Attempt::CreateCall).code,
            ErrorCode::Aborted
        );
    }

    #[test]
    fn callback_creates_that_may_have_acted_are_outcome_unknown_in_callback_words() {
        let e = Error::from_response(&resp(503, "{}"), Attempt::CreateCallback);
        assert_eq!(e.code, ErrorCode::OutcomeUnknown);
        assert!(
            e.message.contains("the callback may have been scheduled"),
            "{}",
            e.message
        );
        assert!(e.message.contains("scheduling again"));
        let e = Error::from_transport(TransportError::Timeout, Attempt::CreateCallback);
        assert_eq!(e.code, ErrorCode::OutcomeUnknown);
        assert!(
            e.message.contains("after the callback request was sent"),
            "{}",
            e.message
        );
        assert_eq!(
            Error::bad_response("x", Attempt::CreateCallback).code,
            ErrorCode::OutcomeUnknown
        );
        // 4xx: Genesys refused it, so nothing was scheduled.
        let e = Error::from_response(
            &resp(400, r#"{"message":"bad queue"}"#),
            Attempt::CreateCallback,
        );
        assert_eq!(e.code, ErrorCode::InvalidInput);
        // The call wording is unchanged.
        let e = Error::from_response(&resp(500, "{}"), Attempt::CreateCall);
        assert!(e.message.starts_with("Genesys failed while handling the call request; the call may have been placed. Check the agent's"), "{}", e.message);
    }

    #[test]
    fn retry_after_is_carried() {
        let mut r = resp(429, "{}");
        r.headers.push(("Retry-After".into(), "42".into()));
        assert_eq!(
            Error::from_response(&r, Attempt::Other).retry_after_ms,
            Some(42_000)
        );
    }
}
