//! Genesys Cloud's JSON shapes, as serde types — the only place the wire
//! format is spelled out. Going out: camelCase, absent fields omitted. Coming
//! in: unknown fields ignored, and every Genesys enum (`state`, `purpose`,
//! `disconnectType`, …) kept as the `String` Genesys sent, so a value added by
//! Genesys tomorrow passes through instead of failing the parse.
//!
//! Bodies are decoded with serde_json from the response text on the host and
//! in the edge build. The browser package instead decodes with the platform's
//! `JSON.parse` and serde-wasm-bindgen, and encodes with serde-wasm-bindgen and
//! `JSON.stringify`, because measurement (`make bench`, "JSON in wasm") put the
//! choice this way: serde_json on the text made the browser wasm 17 KB gzip
//! larger (121 vs 104 KB: its parser and writer drop out otherwise) and was
//! only about 1.4× faster per answer (≈135 vs ≈185 µs from a CallConversation to
//! a JS status in Node) — a few statuses per call, against every page load.
//! The edge keeps serde_json: there speed counts and size does not.

use std::collections::BTreeMap;

pub mod notifications;
pub mod users;
pub mod wrapup;

#[cfg(not(all(
    target_arch = "wasm32",
    not(any(feature = "edge", feature = "wasm-serde-json"))
)))]
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub mod callbacks;

/// Decodes a JSON body into a wire type. The error text is for logs and error
/// messages (it never contains the body).
#[cfg(not(all(
    target_arch = "wasm32",
    not(any(feature = "edge", feature = "wasm-serde-json"))
)))]
pub fn decode<T: DeserializeOwned>(body: &str) -> Result<T, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
}

/// Encodes a wire type. Infallible for the types in this module (string keys only).
#[cfg(not(all(
    target_arch = "wasm32",
    not(any(feature = "edge", feature = "wasm-serde-json"))
)))]
pub fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

// The browser package: the platform's JSON.parse/JSON.stringify with
// serde-wasm-bindgen (see the module comment for why).
#[cfg(all(
    target_arch = "wasm32",
    not(any(feature = "edge", feature = "wasm-serde-json"))
))]
pub use crate::wasm::json::{decode, encode};

fn is_false(b: &bool) -> bool {
    !*b
}

// ------------------------------------------------------------------ OAuth

/// `POST /oauth/token` answer, any grant (OAuth's snake_case names).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenResponse {
    pub access_token: Option<String>,
    pub token_type: Option<String>,
    pub expires_in: Option<u64>,
}

/// Genesys' `ErrorBody` and the login host's OAuth error, read together: every
/// field is optional, so whichever arrived is what is there.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub message: Option<String>,
    pub code: Option<String>,
    pub context_id: Option<String>,
    /// OAuth: `invalid_client`, `invalid_grant`, …
    pub error: Option<String>,
    #[serde(rename = "error_description")]
    pub error_description: Option<String>,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    pub error_code: Option<String>,
    pub field_name: Option<String>,
}

// ---------------------------------------------------------------- calls

/// `CreateCallRequest`, for `POST /api/v2/conversations/calls[/user/{userId}]`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCallRequest<'a> {
    pub phone_number: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_id_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_from_queue_id: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: &'a BTreeMap<String, String>,
}

/// `CreateCallResponse {id, name, selfUri}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCallResponse {
    pub id: String,
}

/// `{"state":"disconnected"}` for `PATCH /api/v2/conversations/calls/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct ConversationStateUpdate<'a> {
    pub state: &'a str,
}

/// `CallConversation` (`GET /api/v2/conversations/calls/{id}`, the
/// `v2.users.{id}.conversations.calls` event) and `Conversation`
/// (`GET /api/v2/conversations/{id}`, state in `participants[].calls[]`) — one
/// type reads both; the fields one shape lacks stay empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub id: String,
    pub participants: Option<Vec<Participant>>,
}

/// A participant: `CallMediaParticipant` fields plus the `Conversation` shape's
/// `userId`, `calls[]` and `callbacks[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    #[serde(default)]
    pub id: String,
    pub purpose: Option<String>,
    pub state: Option<String>,
    pub address: Option<String>,
    pub name: Option<String>,
    pub user: Option<EntityRef>,
    pub user_id: Option<String>,
    pub direction: Option<String>,
    pub start_time: Option<String>,
    pub connected_time: Option<String>,
    pub end_time: Option<String>,
    pub disconnect_type: Option<String>,
    pub error_info: Option<ErrorInfo>,
    pub calls: Option<Vec<CallMedia>>,
    /// A callback's conversation: the participant's callback media.
    pub callbacks: Option<Vec<callbacks::CallbackMedia>>,
}

/// `Conversation.participants[].calls[]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallMedia {
    pub state: Option<String>,
    pub direction: Option<String>,
    pub connected_time: Option<String>,
    pub disconnected_time: Option<String>,
    pub disconnect_type: Option<String>,
    pub disconnect_reasons: Option<Vec<DisconnectReason>>,
    pub other: Option<Address>,
    pub error_info: Option<ErrorInfo>,
}

/// `{type: "sip"|"q850", code, phrase}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectReason {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phrase: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `DomainEntityRef` / `UriReference`: `{id, name?, selfUri?}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRef {
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub address_normalized: Option<String>,
}

/// `Wrapup` / `WrapupInput` / `AssignedWrapupCode`: the code is the wrap-up code's **id**.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wrapup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub provisional: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_call_request_is_camel_case_without_absent_fields() {
        let empty = BTreeMap::new();
        let r = CreateCallRequest {
            phone_number: "+13175550100",
            caller_id: None,
            caller_id_name: Some("Acme"),
            call_from_queue_id: None,
            attributes: &empty,
        };
        assert_eq!(
            encode(&r),
            r#"{"phoneNumber":"+13175550100","callerIdName":"Acme"}"#
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_unknown_enums_kept() {
        let c: Conversation = decode(
            r#"{"id":"c1","brandNew":{"x":[1,2]},"participants":[{"id":"p","state":"teleporting","purpose":"hologram","futureField":true}]}"#,
        )
        .unwrap();
        let p = &c.participants.unwrap()[0];
        assert_eq!(p.state.as_deref(), Some("teleporting"));
        assert_eq!(p.purpose.as_deref(), Some("hologram"));
    }

    #[test]
    fn nulls_read_as_absent() {
        let c: Conversation =
            decode(r#"{"id":"c1","participants":[{"id":"p","state":null,"calls":null}]}"#).unwrap();
        let p = &c.participants.unwrap()[0];
        assert!(p.state.is_none() && p.calls.is_none());
        let c: Conversation = decode(r#"{"id":"c1","participants":null}"#).unwrap();
        assert!(c.participants.is_none());
    }

    #[test]
    fn error_bodies_of_both_hosts() {
        let g: ErrorBody = decode(r#"{"message":"m","code":"bad.request","status":400,"contextId":"ctx","details":[{"fieldName":"phoneNumber"}],"errors":[]}"#).unwrap();
        assert_eq!(g.context_id.as_deref(), Some("ctx"));
        assert_eq!(g.details[0].field_name.as_deref(), Some("phoneNumber"));
        let o: ErrorBody = decode(r#"{"error":"invalid_client","description":"d","error_description":"authentication failed"}"#).unwrap();
        assert_eq!(o.error.as_deref(), Some("invalid_client"));
        assert_eq!(
            o.error_description.as_deref(),
            Some("authentication failed")
        );
    }
}
