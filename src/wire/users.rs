//! The agent-availability lookups — `UserPresence` (`presenceDefinition`),
//! `RoutingStatus` (`status`), `UserStations` (`effectiveStation`), an
//! `OrganizationPresenceDefinition` (`languageLabels`) and `/users/me` (`id`) —
//! read through one shape. In the browser package every serde type is a
//! deserializer of its own, and these answers differ only in which optional
//! field is present; whatever an answer lacks stays `None`, and everything
//! else Genesys sends is ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserLookup {
    /// `/users/me`, a presence definition, a station.
    pub id: Option<String>,
    /// `UserPresence.presenceDefinition`: `{id, systemPresence}`.
    pub presence_definition: Option<Box<UserLookup>>,
    /// Spelled differently per surface ("On Queue", "ON_QUEUE", "OnQueue"):
    /// kept as sent and compared with `agent::normalize`.
    pub system_presence: Option<String>,
    /// `GET /api/v2/presence/definitions/{id}`: the definition's names by language.
    pub language_labels: Option<BTreeMap<String, String>>,
    /// `RoutingStatus.status` ∈ OFF_QUEUE, IDLE, INTERACTING, NOT_RESPONDING,
    /// COMMUNICATING (kept as a string).
    pub status: Option<String>,
    /// `UserStations.effectiveStation`: absent (Genesys omits nulls, so a user
    /// without a station gets `{}`) or `{id, name, …}`.
    pub effective_station: Option<Box<UserLookup>>,
}
