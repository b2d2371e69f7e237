//! Small helpers: random ids, ISO-8601 timestamps, and the two error body
//! shapes Genesys uses (`ErrorBody` on the API host, OAuth errors on login).

use std::time::SystemTime;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jiff::fmt::temporal::DateTimePrinter;
use jiff::Timestamp;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};

/// Everything but RFC 3986's unreserved characters is percent-encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A version-4 UUID string. Ids need to be unpredictable enough for a test
/// server, not reproducible: nothing seeds the sim's randomness (`rand`'s
/// thread-local generator, seeded by the OS).
pub fn uuid() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

/// An opaque token-like string of 43 url-safe characters: 32 random bytes
/// in unpadded base64url.
pub fn opaque() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// `yyyy-MM-ddTHH:mm:ss.mmmZ`, the Genesys timestamp form (milliseconds
/// truncated). Times before 1970 read as 1970; past jiff's last instant
/// (9999-12-30T22:00Z) as that instant.
pub fn iso(t: SystemTime) -> String {
    let t = Timestamp::try_from(t).unwrap_or(Timestamp::MAX);
    DateTimePrinter::new()
        .precision(Some(3))
        .timestamp_to_string(&t.max(Timestamp::UNIX_EPOCH))
}

/// A query value as Genesys writes it in URIs: `a b*` → `a%20b%2A`.
pub fn query_value(v: &str) -> String {
    utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// A Genesys `ErrorBody` response. `contextId` equals the `ININ-Correlation-Id`
/// header, which the request middleware sets from the same value.
pub fn error_body(status: u16, code: &str, message: &str, correlation: &str) -> Value {
    json!({"message": message, "code": code, "status": status, "messageParams": {}, "contextId": correlation, "details": [], "errors": []})
}

/// A 400 whose `details` name the offending field (`invalid.value`): how
/// Genesys answers a bad value in a body or a query.
pub fn field_error(corr: &str, field: &str, message: &str) -> Response {
    field_error_code(corr, "bad.request", field, message)
}

/// [`field_error`] with a code other than `bad.request`.
pub fn field_error_code(corr: &str, code: &str, field: &str, message: &str) -> Response {
    let mut body = error_body(400, code, message, corr);
    body["details"] = json!([{"errorCode": "invalid.value", "fieldName": field}]);
    json_response(400, body)
}

pub fn api_error(status: u16, code: &str, message: &str, correlation: &str) -> Response {
    json_response(status, error_body(status, code, message, correlation))
}

/// An OAuth-style token error (both `description` and `error_description`, as Genesys sends).
pub fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    json_response(
        status,
        json!({"error": error, "description": description, "error_description": description}),
    )
}

pub fn json_response(status: u16, body: Value) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn iso_formats_known_instants() {
        assert_eq!(iso(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso(UNIX_EPOCH + Duration::from_millis(1_795_398_333_123)),
            "2026-11-23T01:45:33.123Z"
        );
        assert_eq!(
            iso(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
        // Sub-millisecond digits are dropped, not rounded.
        assert_eq!(
            iso(UNIX_EPOCH + Duration::from_nanos(1_999_999_999)),
            "1970-01-01T00:00:01.999Z"
        );
        assert_eq!(
            iso(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn opaque_tokens_are_43_url_safe_characters() {
        let a = opaque();
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(a, opaque());
    }

    #[test]
    fn uuids_are_v4_shaped_and_distinct() {
        let a = uuid();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(a, uuid());
    }
}
