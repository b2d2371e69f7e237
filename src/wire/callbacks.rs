//! Queue callbacks and estimated wait time: the Genesys JSON shapes (see
//! `shared/genesys-callbacks-wrapup-presence.md` §1). Same rules as the rest of
//! `wire`: camelCase, absent fields omitted going out, unknown fields ignored
//! and enums kept as strings coming in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::EntityRef;

/// `CreateCallbackCommand`, for `POST /api/v2/conversations/callbacks`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCallbackCommand<'a> {
    /// The schema's only required field; one number is all `scheduleCallback` takes.
    pub callback_numbers: [&'a str; 1],
    pub queue_id: &'a str,
    /// UTC `yyyy-MM-ddTHH:mm:ss.SSSZ`; absent = "placed immediately".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_scheduled_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_user_name: Option<&'a str>,
    /// Becomes the customer participant's `attributes`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub data: &'a BTreeMap<String, String>,
}

/// `CreateCallbackResponse` and `PatchCallbackResponse`: `{conversation, callbackIdentifiers}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackResponse {
    pub conversation: EntityRef,
    pub callback_identifiers: Option<Vec<CallbackIdentifier>>,
}

/// `{type: "ACD" | "EXTERNAL" | "DIALER", id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackIdentifier {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub id: Option<String>,
}

/// `PatchCallbackRequest`, for `PATCH /api/v2/conversations/callbacks` (reschedule).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchCallbackRequest<'a> {
    pub conversation_id: &'a str,
    pub callback_scheduled_time: &'a str,
    /// The schema marks it required, but Genesys' need for it is unconfirmed and
    /// it makes the callback agent-owned, so it is sent only when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<&'a str>,
}

/// `EstimatedWaitTimePredictions`: `{results: [{intent, formula, estimatedWaitTimeSeconds}]}`.
#[derive(Debug, Clone, Deserialize)]
pub struct EstimatedWaitTimePredictions {
    pub results: Option<Vec<PredictionResults>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictionResults {
    pub intent: Option<String>,
    /// A number in the schema; read as `f64` so a fractional value is not a parse failure.
    pub estimated_wait_time_seconds: Option<f64>,
}

/// `Conversation.participants[].callbacks[]` (`Callback`); `state` adds `scheduled`.
/// (Read as part of `wire::Participant`, which carries both media.)
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackMedia {
    pub state: Option<String>,
    pub disconnect_type: Option<String>,
    pub callback_scheduled_time: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::super::{decode, encode};
    use super::*;

    #[test]
    fn create_command_is_camel_case_without_absent_fields() {
        let empty = BTreeMap::new();
        let c = CreateCallbackCommand {
            callback_numbers: ["+13175550100"],
            queue_id: "q1",
            callback_scheduled_time: None,
            callback_user_name: None,
            data: &empty,
        };
        assert_eq!(
            encode(&c),
            r#"{"callbackNumbers":["+13175550100"],"queueId":"q1"}"#
        );
    }

    #[test]
    fn responses_tolerate_nulls_and_unknown_fields() {
        let r: CallbackResponse = decode(
            r#"{"conversation":{"id":"c1","selfUri":"/x"},"callbackIdentifiers":null,"new":1}"#,
        )
        .unwrap();
        assert_eq!(r.conversation.id.as_deref(), Some("c1"));
        assert!(r.callback_identifiers.is_none());
        let p: EstimatedWaitTimePredictions = decode(r#"{"results":[{"intent":"CALLBACK","formula":"BEST","estimatedWaitTimeSeconds":12.0,"label":"x"}]}"#).unwrap();
        assert_eq!(
            p.results.unwrap()[0].estimated_wait_time_seconds,
            Some(12.0)
        );
    }
}
