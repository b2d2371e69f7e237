//! The edge handler's configuration, read from the runtime's environment and
//! secrets. Anything missing or invalid is a `Misconfigured` naming the
//! variable — never its value, which may be a secret.

use super::limits::Rate;
use super::policy::{DialPolicy, PolicySettings};
use crate::auth::ClientSecret;
use crate::call::{EntityId, E164};
use crate::region::Endpoints;

/// Every variable the edge reads (documented in the README and wrangler.toml).
pub const VARIABLES: [&str; 28] = [
    "GENESYS_REGION",
    "GENESYS_API_BASE",
    "GENESYS_LOGIN_BASE",
    "GENESYS_CLIENT_ID",
    "GENESYS_CLIENT_SECRET",
    "GENESYS_AGENT_USER_ID",
    "GENESYS_CALLER_ID",
    "GENESYS_CALLER_ID_NAME",
    "GENESYS_QUEUE_ID",
    "ALLOWED_ORIGINS",
    "ALLOWED_COUNTRIES",
    "ALLOWED_NUMBER_TYPES",
    "ALLOWED_DIAL_PREFIXES",
    "BLOCKED_DIAL_PREFIXES",
    "RATE_LIMIT_PER_IP",
    "RATE_LIMIT_PER_NUMBER",
    "MAX_CONCURRENT_CALLS_PER_NUMBER",
    "HANDLE_SIGNING_KEY",
    "TURNSTILE_SECRET",
    "TURNSTILE_VERIFY_URL",
    "GENESYS_REQUESTS_PER_MINUTE",
    "POLL_INTERVAL_MS",
    "CLIENT_ADDRESS_HEADER",
    "RATE_LIMIT_READS_PER_IP",
    "SETTLE_WINDOW_SECS",
    "HANDLE_TTL_SECS",
    "GENESYS_REQUEST_TIMEOUT_MS",
    "BUDGET_WAIT_MS",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misconfigured {
    pub variable: &'static str,
    pub problem: String,
}

#[derive(Debug, Clone)]
pub struct EdgeConfig {
    pub endpoints: Endpoints,
    pub client_id: String,
    pub client_secret: ClientSecret,
    pub agent: EntityId,
    pub caller_id: Option<E164>,
    pub caller_id_name: Option<String>,
    pub queue_id: Option<EntityId>,
    pub allowed_origins: Vec<String>,
    pub dial: DialPolicy,
    pub per_ip: Rate,
    pub per_number: Rate,
    pub max_concurrent_per_number: u32,
    pub signing_key: Vec<u8>,
    pub turnstile_secret: Option<ClientSecret>,
    pub turnstile_verify_url: String,
    /// The OAuth token's request budget (Genesys: 300 per minute).
    pub requests_per_minute: u32,
    /// How often a watched call is read (stretched when many share the budget).
    pub poll_interval_ms: u64,
    /// The header a trusted proxy sets to the visitor's address (lowercase),
    /// e.g. `cf-connecting-ip` on Cloudflare; `None`: no header is trusted.
    pub address_header: Option<String>,
    /// Status reads and event streams per client address (per instance).
    pub per_ip_reads: Rate,
    /// How long an unknown outcome blocks new calls to its number.
    pub settle_ms: u64,
    /// How long a handle is valid after it was issued.
    pub handle_ttl_secs: u64,
    /// Per-request timeout towards Genesys.
    pub request_timeout_ms: u64,
    /// Longest wait for a Genesys budget slot before answering `busy`.
    pub budget_wait_ms: u64,
}

/// Largest request body the edge reads.
pub const BODY_LIMIT: usize = 4096;
const TURNSTILE_VERIFY: &str = "https://challenges.cloudflare.com/turnstile/v0/siteverify";

impl EdgeConfig {
    /// Reads the configuration through `var` (absent and empty are the same).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<EdgeConfig, Misconfigured> {
        let get = |name: &'static str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bad = |variable: &'static str, problem: &str| Misconfigured {
            variable,
            problem: problem.to_string(),
        };
        let required = |name: &'static str| get(name).ok_or_else(|| bad(name, "is required"));

        let endpoints = match (
            get("GENESYS_REGION"),
            get("GENESYS_API_BASE"),
            get("GENESYS_LOGIN_BASE"),
        ) {
            (Some(r), None, None) => Endpoints::for_region(&r).map_err(|_| {
                bad(
                    "GENESYS_REGION",
                    "is not a Genesys Cloud region such as mypurecloud.com",
                )
            })?,
            (None, Some(a), l) => Endpoints::custom(&a, l.as_deref().unwrap_or(&a))
                .map_err(|_| bad("GENESYS_API_BASE", "must be an http(s) base URL"))?,
            (None, None, _) => {
                return Err(bad(
                    "GENESYS_REGION",
                    "is required (or GENESYS_API_BASE and GENESYS_LOGIN_BASE)",
                ))
            }
            _ => {
                return Err(bad(
                    "GENESYS_REGION",
                    "cannot be combined with GENESYS_API_BASE/GENESYS_LOGIN_BASE",
                ))
            }
        };
        let agent = EntityId::parse(&required("GENESYS_AGENT_USER_ID")?, "")
            .map_err(|_| bad("GENESYS_AGENT_USER_ID", "must be a Genesys user id"))?;
        let caller_id = get("GENESYS_CALLER_ID")
            .map(|c| E164::parse(&c, ""))
            .transpose()
            .map_err(|_| bad("GENESYS_CALLER_ID", "must be an E.164 number"))?;
        let queue_id = get("GENESYS_QUEUE_ID")
            .map(|q| EntityId::parse(&q, ""))
            .transpose()
            .map_err(|_| bad("GENESYS_QUEUE_ID", "must be a Genesys queue id"))?;
        let origins = required("ALLOWED_ORIGINS")?;
        let allowed_origins: Vec<String> = origins
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_string())
            .filter(|o| !o.is_empty())
            .collect();
        if allowed_origins
            .iter()
            .any(|o| o == "*" || !(o.starts_with("https://") || o.starts_with("http://")))
        {
            return Err(bad(
                "ALLOWED_ORIGINS",
                "must list exact origins such as https://www.example.com (no '*')",
            ));
        }
        // The dial policy (src/edge/policy.rs); each setting optional, deny by default.
        let countries = get("ALLOWED_COUNTRIES");
        let number_types = get("ALLOWED_NUMBER_TYPES");
        let dial_prefixes = get("ALLOWED_DIAL_PREFIXES");
        let blocked_prefixes = get("BLOCKED_DIAL_PREFIXES");
        let dial = DialPolicy::from_settings(PolicySettings {
            countries: countries.as_deref(),
            number_types: number_types.as_deref(),
            dial_prefixes: dial_prefixes.as_deref(),
            blocked_prefixes: blocked_prefixes.as_deref(),
        })
        .map_err(|e| Misconfigured {
            variable: e.variable,
            problem: e.problem,
        })?;
        let rate = |name: &'static str, default: &str| {
            Rate::parse(&get(name).unwrap_or_else(|| default.to_string()))
                .map_err(|e| bad(name, &e))
        };
        let per_ip = rate("RATE_LIMIT_PER_IP", "5/600")?;
        let per_number = rate("RATE_LIMIT_PER_NUMBER", "3/3600")?;
        let max_concurrent_per_number = match get("MAX_CONCURRENT_CALLS_PER_NUMBER") {
            None => 1,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| bad("MAX_CONCURRENT_CALLS_PER_NUMBER", "must be 1 to 100"))?,
        };
        let number = |name: &'static str, default: u64, min: u64, max: u64| match get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    bad(
                        name,
                        &[
                            "must be a whole number from ",
                            &min.to_string(),
                            " to ",
                            &max.to_string(),
                        ]
                        .concat(),
                    )
                }),
        };
        let requests_per_minute = number("GENESYS_REQUESTS_PER_MINUTE", 300, 1, 100_000)? as u32;
        let poll_interval_ms = number("POLL_INTERVAL_MS", 1_000, 20, 60_000)?;
        let settle_ms = number("SETTLE_WINDOW_SECS", 120, 10, 3_600)? * 1000;
        let handle_ttl_secs = number("HANDLE_TTL_SECS", 7_200, 10, 86_400)?;
        let request_timeout_ms = number("GENESYS_REQUEST_TIMEOUT_MS", 15_000, 500, 60_000)?;
        let budget_wait_ms = number("BUDGET_WAIT_MS", 2_000, 0, 30_000)?;
        let per_ip_reads = rate("RATE_LIMIT_READS_PER_IP", "300/60")?;
        let address_header = match get("CLIENT_ADDRESS_HEADER") {
            None => None,
            Some(h)
                if h.eq_ignore_ascii_case("x-forwarded-for")
                    || h.eq_ignore_ascii_case("forwarded") =>
            {
                return Err(bad(
                    "CLIENT_ADDRESS_HEADER",
                    "must name a header holding one address (such as CF-Connecting-IP), not a list",
                ))
            }
            Some(h)
                if !h.is_empty()
                    && h.len() <= 64
                    && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
            {
                Some(h.to_ascii_lowercase())
            }
            Some(_) => {
                return Err(bad(
                    "CLIENT_ADDRESS_HEADER",
                    "must be a header name such as CF-Connecting-IP",
                ))
            }
        };
        let key = required("HANDLE_SIGNING_KEY")?;
        if key.len() < 32 {
            return Err(bad(
                "HANDLE_SIGNING_KEY",
                "must be at least 32 characters of random text",
            ));
        }
        Ok(EdgeConfig {
            endpoints,
            client_id: required("GENESYS_CLIENT_ID")?,
            client_secret: ClientSecret::new(required("GENESYS_CLIENT_SECRET")?),
            agent,
            caller_id,
            caller_id_name: get("GENESYS_CALLER_ID_NAME"),
            queue_id,
            allowed_origins,
            dial,
            per_ip,
            per_number,
            max_concurrent_per_number,
            signing_key: key.into_bytes(),
            turnstile_secret: get("TURNSTILE_SECRET").map(ClientSecret::new),
            turnstile_verify_url: get("TURNSTILE_VERIFY_URL")
                .unwrap_or_else(|| TURNSTILE_VERIFY.to_string()),
            requests_per_minute,
            poll_interval_ms,
            address_header,
            per_ip_reads,
            settle_ms,
            handle_ttl_secs,
            request_timeout_ms,
            budget_wait_ms,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn env(overrides: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let mut vars: Vec<(String, String)> = [
            ("GENESYS_API_BASE", "http://127.0.0.1:8089"),
            ("GENESYS_CLIENT_ID", "sim-edge"),
            ("GENESYS_CLIENT_SECRET", "sim-edge-secret"),
            (
                "GENESYS_AGENT_USER_ID",
                "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01",
            ),
            ("ALLOWED_ORIGINS", "http://127.0.0.1:8080"),
            ("ALLOWED_DIAL_PREFIXES", "+1317555"),
            (
                "HANDLE_SIGNING_KEY",
                "test-signing-key-test-signing-key-0123",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in overrides {
            vars.retain(|(n, _)| n != k);
            vars.push((k.to_string(), v.to_string()));
        }
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_complete_configuration_reads() {
        let c = EdgeConfig::from_env(env(&[
            ("GENESYS_CALLER_ID", "+13175559999"),
            ("RATE_LIMIT_PER_IP", "10/60"),
        ]))
        .unwrap();
        assert_eq!(c.endpoints.login_base, "http://127.0.0.1:8089");
        assert_eq!(
            c.per_ip,
            Rate {
                limit: 10,
                window_ms: 60_000
            }
        );
        assert_eq!(
            c.per_number,
            Rate {
                limit: 3,
                window_ms: 3_600_000
            }
        );
        assert_eq!(c.max_concurrent_per_number, 1);
        assert_eq!(
            c.address_header, None,
            "no header is trusted unless configured"
        );
        assert_eq!(
            (c.settle_ms, c.handle_ttl_secs, c.budget_wait_ms),
            (120_000, 7_200, 2_000)
        );
        let cf =
            EdgeConfig::from_env(env(&[("CLIENT_ADDRESS_HEADER", "CF-Connecting-IP")])).unwrap();
        assert_eq!(cf.address_header.as_deref(), Some("cf-connecting-ip"));
        assert_eq!(c.caller_id.unwrap().as_str(), "+13175559999");
    }

    #[test]
    fn problems_name_the_variable_never_the_value() {
        let cases: [(&str, &str, &str); 13] = [
            (
                "CLIENT_ADDRESS_HEADER",
                "X-Forwarded-For",
                "CLIENT_ADDRESS_HEADER",
            ),
            (
                "CLIENT_ADDRESS_HEADER",
                "CF Connecting IP",
                "CLIENT_ADDRESS_HEADER",
            ),
            ("SETTLE_WINDOW_SECS", "5", "SETTLE_WINDOW_SECS"),
            ("GENESYS_CLIENT_SECRET", "", "GENESYS_CLIENT_SECRET"),
            ("GENESYS_CLIENT_ID", "", "GENESYS_CLIENT_ID"),
            ("GENESYS_AGENT_USER_ID", "../x", "GENESYS_AGENT_USER_ID"),
            ("ALLOWED_ORIGINS", "*", "ALLOWED_ORIGINS"),
            ("ALLOWED_DIAL_PREFIXES", "1317", "ALLOWED_DIAL_PREFIXES"),
            ("ALLOWED_COUNTRIES", "UK", "ALLOWED_COUNTRIES"),
            (
                "HANDLE_SIGNING_KEY",
                "short-secret-value",
                "HANDLE_SIGNING_KEY",
            ),
            ("RATE_LIMIT_PER_IP", "lots", "RATE_LIMIT_PER_IP"),
            ("GENESYS_REGION", "mypurecloud.com", "GENESYS_REGION"),
            (
                "MAX_CONCURRENT_CALLS_PER_NUMBER",
                "0",
                "MAX_CONCURRENT_CALLS_PER_NUMBER",
            ),
        ];
        for (var, value, want) in cases {
            let e = EdgeConfig::from_env(env(&[(var, value)])).unwrap_err();
            assert_eq!(e.variable, want, "{var}={value}");
            if !value.is_empty() && value.len() > 3 {
                assert!(
                    !e.problem.contains(value),
                    "{var}: the value leaked into '{}'",
                    e.problem
                );
            }
        }
    }
}
