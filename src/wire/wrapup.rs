//! Wrap-up on the agent participant: the codes a participant may use
//! (`GET …/participants/{pid}/wrapupcodes`, a bare array) and the participant
//! PATCH body `{"wrapup":{"code","notes"}}` (`WrapupInput`; the code is the
//! wrap-up code's **id**).

use serde::{Deserialize, Serialize};

use super::Wrapup;

/// `WrapupCode {id, name, …}`; also the JS API's `WrapUpCode`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrapupCode {
    #[serde(default)]
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `MediaParticipantRequest` with only `wrapup`, for
/// `PATCH /api/v2/conversations/calls/{cid}/participants/{pid}[/user/{userId}]`.
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantWrapup<'a> {
    pub wrapup: &'a Wrapup,
}
