//! When to try a request again. One pure function decides, from what was sent
//! and what came back; the flow only carries the decision out.
//!
//! The create-call POST is special: it is retried only when Genesys certainly did
//! not act on it (429, or a 401 answered before any work). Anything else after it
//! was sent may have dialled, so it is never sent twice.

use crate::http::{HttpResponse, TransportError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `POST /oauth/token`: no side effect, safe to repeat.
    Token,
    /// The create-call POST: dials a phone; never repeated unless certainly not acted on.
    CreateCall,
    /// The create-callback POST: schedules a call back; the same rule as `CreateCall`.
    CreateCallback,
    /// GETs, and the hang-up PATCH (setting `disconnected` twice is harmless).
    Idempotent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Hand the result (success or error) to the caller.
    Done,
    /// Sleep this long, then send again.
    RetryIn(u64),
    /// Fetch a new token (the cached one was refused), then send again at once.
    RefreshTokenThenRetry,
}

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Total sleeping allowed across retries of one operation.
    pub max_retry_ms: u64,
    /// Retries of 5xx / network failures for idempotent requests.
    pub max_transient_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retry_ms: 30_000,
            max_transient_retries: 3,
        }
    }
}

/// `Retry-After` default when a 429 carries none (the Java/.NET SDKs use 3 s).
pub const DEFAULT_RETRY_AFTER_MS: u64 = 3_000;

/// Decides what to do after attempt number `retries` (0 for the first send) of a
/// request of `kind`, having slept `slept_ms` so far. `can_refresh` is true when
/// the token is a cached client-credentials token not yet refreshed for this request.
pub fn decide(
    policy: &RetryPolicy,
    kind: RequestKind,
    retries: u32,
    slept_ms: u64,
    result: &Result<HttpResponse, TransportError>,
    can_refresh: bool,
) -> Next {
    let within_budget = |ms: u64| slept_ms.saturating_add(ms) <= policy.max_retry_ms;
    let backoff = || 500u64 << retries.min(4);
    match result {
        Ok(r) if r.is_success() => Next::Done,
        Ok(r) if r.status == 401 && can_refresh && kind != RequestKind::Token => {
            Next::RefreshTokenThenRetry
        }
        Ok(r) if r.status == 429 => {
            let wait = r.retry_after_ms().unwrap_or(DEFAULT_RETRY_AFTER_MS);
            if within_budget(wait) {
                Next::RetryIn(wait)
            } else {
                Next::Done
            }
        }
        _ if matches!(kind, RequestKind::CreateCall | RequestKind::CreateCallback) => Next::Done,
        Ok(r)
            if matches!(r.status, 502..=504)
                && retries < policy.max_transient_retries
                && within_budget(backoff()) =>
        {
            Next::RetryIn(backoff())
        }
        Err(TransportError::Network(_) | TransportError::Timeout)
            if retries < policy.max_transient_retries && within_budget(backoff()) =>
        {
            Next::RetryIn(backoff())
        }
        _ => Next::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestKind::*;

    fn status(code: u16, retry_after: Option<&str>) -> Result<HttpResponse, TransportError> {
        let headers = retry_after
            .map(|v| vec![("Retry-After".to_string(), v.to_string())])
            .unwrap_or_default();
        Ok(HttpResponse {
            status: code,
            headers,
            body: String::new(),
        })
    }

    #[test]
    fn create_call_is_never_repeated_when_genesys_may_have_acted() {
        let p = RetryPolicy::default();
        for r in [
            status(500, None),
            status(502, None),
            status(503, Some("1")),
            status(504, None),
            Err(TransportError::Timeout),
            Err(TransportError::Network("reset".into())),
        ] {
            assert_eq!(decide(&p, CreateCall, 0, 0, &r, true), Next::Done, "{r:?}");
        }
    }

    #[test]
    fn create_callback_follows_the_create_call_rule() {
        let p = RetryPolicy::default();
        for r in [
            status(500, None),
            status(503, Some("1")),
            Err(TransportError::Timeout),
            Err(TransportError::Network("reset".into())),
        ] {
            assert_eq!(
                decide(&p, CreateCallback, 0, 0, &r, true),
                Next::Done,
                "{r:?}"
            );
        }
        assert_eq!(
            decide(&p, CreateCallback, 0, 0, &status(429, Some("2")), true),
            Next::RetryIn(2_000)
        );
        assert_eq!(
            decide(&p, CreateCallback, 0, 0, &status(401, None), true),
            Next::RefreshTokenThenRetry
        );
    }

    #[test]
    fn create_call_retries_429_and_refreshes_on_401() {
        let p = RetryPolicy::default();
        assert_eq!(
            decide(&p, CreateCall, 0, 0, &status(429, Some("2")), true),
            Next::RetryIn(2_000)
        );
        assert_eq!(
            decide(&p, CreateCall, 0, 0, &status(401, None), true),
            Next::RefreshTokenThenRetry
        );
        assert_eq!(
            decide(&p, CreateCall, 1, 0, &status(401, None), false),
            Next::Done
        );
    }

    #[test]
    fn retry_after_is_bounded_by_the_total_budget() {
        let p = RetryPolicy {
            max_retry_ms: 10_000,
            max_transient_retries: 3,
        };
        assert_eq!(
            decide(&p, Idempotent, 0, 0, &status(429, Some("10")), false),
            Next::RetryIn(10_000)
        );
        assert_eq!(
            decide(&p, Idempotent, 1, 1, &status(429, Some("10")), false),
            Next::Done
        );
        assert_eq!(
            decide(&p, Idempotent, 0, 0, &status(429, None), false),
            Next::RetryIn(DEFAULT_RETRY_AFTER_MS)
        );
        assert_eq!(
            decide(&p, Idempotent, 0, 0, &status(429, Some("60")), false),
            Next::Done
        );
    }

    #[test]
    fn reads_retry_gateway_errors_and_network_failures_with_backoff() {
        let p = RetryPolicy::default();
        assert_eq!(
            decide(&p, Idempotent, 0, 0, &status(503, None), false),
            Next::RetryIn(500)
        );
        assert_eq!(
            decide(&p, Idempotent, 1, 500, &status(502, None), false),
            Next::RetryIn(1_000)
        );
        assert_eq!(
            decide(&p, Token, 2, 1_500, &Err(TransportError::Timeout), false),
            Next::RetryIn(2_000)
        );
        assert_eq!(
            decide(&p, Idempotent, 3, 3_500, &status(504, None), false),
            Next::Done
        );
        assert_eq!(
            decide(&p, Idempotent, 0, 0, &status(500, None), false),
            Next::Done
        );
        assert_eq!(
            decide(&p, Idempotent, 0, 0, &Err(TransportError::Aborted), false),
            Next::Done
        );
    }

    #[test]
    fn client_errors_are_final() {
        let p = RetryPolicy::default();
        for code in [400, 403, 404, 409] {
            assert_eq!(
                decide(&p, Idempotent, 0, 0, &status(code, None), true),
                Next::Done
            );
        }
        // A token request answered 401 is a credential problem, not a stale token.
        assert_eq!(
            decide(&p, Token, 0, 0, &status(401, None), true),
            Next::Done
        );
    }
}
