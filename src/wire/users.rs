//! Agent availability lookups: `UserPresence`, `RoutingStatus`, `UserStations`
//! and an `OrganizationPresenceDefinition`'s labels. Only the fields the
//! availability decision reads; everything else Genesys sends is ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::EntityRef;

/// `GET /api/v2/users/{id}/presences/purecloud`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPresence {
    pub presence_definition: Option<PresenceDefinition>,
}

/// `PresenceDefinition {id, systemPresence}` embedded in a presence, and
/// `GET /api/v2/presence/definitions/{id}` (which adds `languageLabels`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceDefinition {
    pub id: Option<String>,
    /// Spelled differently per surface ("On Queue", "ON_QUEUE", "OnQueue"):
    /// kept as sent and compared with `agent::normalize`.
    pub system_presence: Option<String>,
    pub language_labels: Option<BTreeMap<String, String>>,
}

/// `GET /api/v2/users/{id}/routingstatus`: `status` ∈ OFF_QUEUE, IDLE,
/// INTERACTING, NOT_RESPONDING, COMMUNICATING (kept as a string).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RoutingStatus {
    pub status: Option<String>,
}

/// `GET /api/v2/users/{id}/station`: Genesys omits nulls, so a user without a
/// station gets `{}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserStations {
    pub effective_station: Option<EntityRef>,
}
