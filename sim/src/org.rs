//! The simulated organisation: OAuth clients, users, custom presences, queues
//! and wrap-up codes. The built-in seed is `seed-org.json`; `--org FILE`
//! replaces it with a file of the same shape.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    pub organization: Organization,
    pub clients: Vec<OAuthClient>,
    pub users: Vec<User>,
    /// Custom (secondary) presences; the ten system ones are built in.
    #[serde(default)]
    pub presence_definitions: Vec<CustomPresence>,
    #[serde(default)]
    pub queues: Vec<Queue>,
    #[serde(default)]
    pub wrapup_codes: Vec<WrapupCode>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClient {
    pub id: String,
    /// Absent for public (PKCE) clients.
    pub secret: Option<String>,
    pub name: String,
    pub grants: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Station {
    /// A station that auto-answers: the call goes straight on to the far end.
    AutoAnswer,
    /// A station that rings but is never answered.
    NeverAnswers,
    /// No station: the agent leg fails at once.
    None,
    /// A station set to do-not-disturb: it rejects the call at once
    /// (`disconnectType` `endpoint.donotdisturb`). Users get it from a
    /// presence marked `doNotDisturb`, or an org file can set it directly.
    DoNotDisturb,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    /// Seed presence: a system presence (Available, Offline, Busy, …) or the
    /// name or id of one of the org's `presenceDefinitions`.
    pub presence: String,
    pub station: Station,
    /// The station's id in `/users/{id}/station`; derived from the user id if absent.
    #[serde(default)]
    pub station_id: Option<String>,
}

/// A custom presence, shown as `presenceDefinition {id, systemPresence}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomPresence {
    pub id: String,
    pub name: String,
    /// The system presence it maps onto (what `systemPresence` reports).
    pub system_presence: String,
    /// Whether a user in this presence has a do-not-disturb phone: calls on
    /// their behalf are rejected by their station.
    #[serde(default)]
    pub do_not_disturb: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// User ids, in routing order.
    #[serde(default)]
    pub members: Vec<String>,
    /// Ids from the org's `wrapupCodes`.
    #[serde(default)]
    pub wrapup_codes: Vec<String>,
    /// `acwSettings.wrapupPrompt`: MANDATORY, OPTIONAL, MANDATORY_TIMEOUT,
    /// MANDATORY_FORCED_TIMEOUT or AGENT_REQUESTED.
    #[serde(default = "default_wrapup_prompt")]
    pub wrapup_prompt: String,
}

fn default_wrapup_prompt() -> String {
    "MANDATORY".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct WrapupCode {
    pub id: String,
    pub name: String,
}

impl Org {
    pub fn seed() -> Org {
        serde_json::from_str(include_str!("seed-org.json")).expect("the built-in seed org is valid")
    }

    pub fn from_file(path: &str) -> Result<Org, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("{path} is not a valid org file: {e}"))
    }

    pub fn client(&self, id: &str) -> Option<&OAuthClient> {
        self.clients.iter().find(|c| c.id == id)
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn queue(&self, id: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.id == id)
    }

    pub fn wrapup_code(&self, id: &str) -> Option<&WrapupCode> {
        self.wrapup_codes.iter().find(|c| c.id == id)
    }

    /// A queue's wrap-up codes, in the queue's order (unknown ids skipped).
    pub fn queue_wrapup_codes(&self, queue: &Queue) -> Vec<&WrapupCode> {
        queue
            .wrapup_codes
            .iter()
            .filter_map(|id| self.wrapup_code(id))
            .collect()
    }

    /// Whether any client lists `origin` (CORS on the API host is per org).
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.clients.iter().any(|c| c.allows_origin(origin))
    }
}

impl OAuthClient {
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|p| url_matches(p, origin, false))
    }

    pub fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|p| url_matches(p, uri, true))
    }
}

/// Matches `pattern` such as `http://127.0.0.1:*` against an origin (no path)
/// or, with `with_path`, a URL whose path and query may follow. `*` stands for
/// any port; everything else must match exactly.
fn url_matches(pattern: &str, candidate: &str, with_path: bool) -> bool {
    let (scheme_host, port_pat) = match pattern.rsplit_once(':') {
        Some((sh, p)) if !p.starts_with('/') && sh.contains("://") => (sh, Some(p)),
        _ => (pattern, None),
    };
    let Some(rest) = candidate.strip_prefix(scheme_host) else {
        return false;
    };
    let (port, tail) = match rest.strip_prefix(':') {
        Some(r) => {
            let end = r.find(['/', '?', '#']).unwrap_or(r.len());
            (Some(&r[..end]), &r[end..])
        }
        None => (None, rest),
    };
    let port_ok = match (port_pat, port) {
        (Some("*"), Some(p)) => !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
        (Some("*"), None) => true,
        (Some(want), Some(p)) => want == p,
        (None, None) => true,
        _ => false,
    };
    port_ok
        && if with_path {
            tail.is_empty() || tail.starts_with(['/', '?'])
        } else {
            tail.is_empty()
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_matches_the_design() {
        let org = Org::seed();
        assert_eq!(
            org.client("sim-edge").unwrap().secret.as_deref(),
            Some("sim-edge-secret")
        );
        assert!(org.client("sim-browser").unwrap().secret.is_none());
        assert_eq!(
            org.user("0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01")
                .unwrap()
                .station,
            Station::AutoAnswer
        );
        assert_eq!(
            org.user("0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a02")
                .unwrap()
                .station,
            Station::None
        );
    }

    #[test]
    fn origin_and_redirect_patterns() {
        let c = Org::seed().client("sim-browser").unwrap().clone();
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:3000",
            "http://127.0.0.1",
        ] {
            assert!(c.allows_origin(ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1.evil.com",
            "https://127.0.0.1:8080",
            "http://127.0.0.1:80x",
            "http://127.0.0.1:8080/",
            "http://evil.com",
            "null",
        ] {
            assert!(!c.allows_origin(bad), "{bad}");
        }
        assert!(c.allows_redirect("http://127.0.0.1:8080/agent.html?x=1"));
        assert!(c.allows_redirect("http://localhost:1/"));
        assert!(!c.allows_redirect("http://127.0.0.1.evil.com/cb"));
        assert!(!c.allows_redirect("http://127.0.0.1:8080@evil.com/cb"));
    }
}
