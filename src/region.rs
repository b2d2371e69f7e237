//! Genesys Cloud regions and the API / login base URLs derived from them.
//!
//! The SDKs derive `https://api.<env>` and `https://login.<env>` from the region's
//! environment name; explicit base URLs override that (the simulator, proxies).

use crate::error::Error;

/// Every region the official SDKs know: (SDK enum name, environment host suffix).
pub const REGIONS: [(&str, &str); 18] = [
    ("us_east_1", "mypurecloud.com"),
    ("eu_west_1", "mypurecloud.ie"),
    ("ap_southeast_2", "mypurecloud.com.au"),
    ("ap_northeast_1", "mypurecloud.jp"),
    ("eu_central_1", "mypurecloud.de"),
    ("us_west_2", "usw2.pure.cloud"),
    ("ca_central_1", "cac1.pure.cloud"),
    ("ap_northeast_2", "apne2.pure.cloud"),
    ("eu_west_2", "euw2.pure.cloud"),
    ("ap_south_1", "aps1.pure.cloud"),
    ("us_east_2", "use2.us-gov-pure.cloud"),
    ("sa_east_1", "sae1.pure.cloud"),
    ("me_central_1", "mec1.pure.cloud"),
    ("ap_northeast_3", "apne3.pure.cloud"),
    ("eu_central_2", "euc2.pure.cloud"),
    ("mx_central_1", "mxc1.pure.cloud"),
    ("ap_southeast_1", "apse1.pure.cloud"),
    ("eusc_de_east_1", "edee1.eusc-pure.cloud"),
];

/// Where requests go: the API host and the login (OAuth) host, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub api_base: String,
    pub login_base: String,
}

impl Endpoints {
    /// From a region given as an environment (`mypurecloud.ie`), an SDK enum name
    /// (`eu_west_1`), or a host such as `https://api.mypurecloud.ie/`.
    pub fn for_region(region: &str) -> Result<Endpoints, Error> {
        let r = region.trim();
        let r = r
            .strip_prefix("https://")
            .unwrap_or(r)
            .trim_end_matches('/');
        let r = r
            .strip_prefix("api.")
            .or_else(|| r.strip_prefix("login."))
            .unwrap_or(r);
        let env = REGIONS
            .iter()
            .find(|(name, env)| r.eq_ignore_ascii_case(env) || r.eq_ignore_ascii_case(name))
            .map(|(_, env)| *env)
            .ok_or_else(|| {
                Error::invalid_input(&[
                    "unknown region '",
                    region,
                    "'; use an environment such as 'mypurecloud.com' or 'mypurecloud.ie', or give apiBase and loginBase",
                ])
            })?;
        Ok(Endpoints {
            api_base: ["https://api.", env].concat(),
            login_base: ["https://login.", env].concat(),
        })
    }

    /// From explicit base URLs (e.g. the simulator's `http://127.0.0.1:8089` for both).
    pub fn custom(api_base: &str, login_base: &str) -> Result<Endpoints, Error> {
        Ok(Endpoints {
            api_base: base_url(api_base, "apiBase")?,
            login_base: base_url(login_base, "loginBase")?,
        })
    }
}

fn base_url(url: &str, field: &str) -> Result<String, Error> {
    let u = url.trim().trim_end_matches('/');
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(u.to_string()),
        _ => Err(Error::invalid_input(&[
            field,
            " must be an http(s) URL such as https://api.mypurecloud.com, got '",
            url,
            "'",
        ])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_spelling_resolves() {
        for (name, env) in REGIONS {
            let want = Endpoints {
                api_base: format!("https://api.{env}"),
                login_base: format!("https://login.{env}"),
            };
            for spelling in [
                env.to_string(),
                name.to_string(),
                format!("https://api.{env}/"),
                format!("login.{env}"),
            ] {
                assert_eq!(
                    Endpoints::for_region(&spelling).unwrap(),
                    want,
                    "{spelling}"
                );
            }
        }
    }

    #[test]
    fn unknown_region_is_invalid_input() {
        let e = Endpoints::for_region("mypurecloud.example").unwrap_err();
        assert_eq!(e.code.as_str(), "invalid_input");
        assert!(e.message.contains("mypurecloud.example"));
    }

    #[test]
    fn custom_bases_are_trimmed_and_checked() {
        let e = Endpoints::custom("http://127.0.0.1:8089/", "http://127.0.0.1:8089").unwrap();
        assert_eq!(e.api_base, "http://127.0.0.1:8089");
        assert!(Endpoints::custom("ftp://x", "http://y").is_err());
        assert!(Endpoints::custom("http://", "http://y").is_err());
    }
}
