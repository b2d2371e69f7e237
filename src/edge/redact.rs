//! What the edge's answers and log lines may show of personal data: numbers
//! masked to their country code and last two digits, handles cut to a prefix,
//! client addresses replaced by a keyed digest, echoed field names truncated.

use super::{handle, policy};
use crate::call::E164;

/// Masks a number-like string as the dial policy masks numbers
/// (`+1 •••• ••• ••00`: the country calling code from libphonenumber's data
/// and the last two digits); anything that is not an E.164 number is `+•••`.
pub fn mask_number(e164: &str) -> String {
    E164::parse(e164, "number").map_or_else(|_| "+•••".into(), |n| policy::mask_number(&n))
}

/// A request path as a log line may show it: any segment long enough to be a
/// handle (a call's, a callback's, or one sent to an unknown route) is cut to
/// its 8-character prefix, whatever the route.
pub fn log_path(path: &str) -> String {
    let shown: String = path.chars().take(200).collect();
    shown
        .split('/')
        .map(|segment| {
            if segment.chars().count() > HANDLE_LIKE {
                [handle::log_prefix(segment), "…"].concat()
            } else {
                segment.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Route names are shorter than this; handles are far longer.
const HANDLE_LIKE: usize = 12;

/// The client address as limits count it: an IPv6 address by its /64 (one
/// subscriber usually holds a whole /64), an IPv4 address as is. Anything
/// that does not parse as an address is `None`.
pub fn client_bucket(address: &str) -> Option<String> {
    let a = address.trim();
    let a = a
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(a);
    match a.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => Some(v4.to_string()),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => Some(v4.to_string()),
            None => {
                let s = v6.segments();
                let mut out = String::with_capacity(24);
                for (i, seg) in s[..4].iter().enumerate() {
                    if i > 0 {
                        out.push(':');
                    }
                    out.push_str(&format!("{seg:x}"));
                }
                out.push_str("::/64");
                Some(out)
            }
        },
    }
}

/// Serde's "unknown field `…`" messages echo what the visitor sent: keep the
/// message, cut any quoted name to 32 characters and the whole to 300.
pub fn truncate_echo(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(320));
    let mut inside = false;
    let mut run = 0usize;
    for c in message.chars() {
        if c == '`' {
            inside = !inside;
            if !inside && run > 32 {
                out.push('…');
            }
            run = 0;
            out.push(c);
            continue;
        }
        if inside {
            run += 1;
            if run > 32 {
                continue;
            }
        }
        out.push(c);
        if out.len() >= 300 {
            out.push('…');
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_country_code_and_last_two_digits() {
        assert_eq!(mask_number("+13175550100"), "+1 •••• ••• ••00");
        assert_eq!(mask_number("+442071234567"), "+44 •••• ••• ••67");
        assert_eq!(mask_number("+35312345678"), "+353 •••• ••• ••78");
        assert_eq!(mask_number("+79991234567"), "+7 •••• ••• ••67");
        assert_eq!(mask_number("nonsense"), "+•••");
        for n in ["+13175550100", "+442071234567"] {
            assert!(!mask_number(n).contains(&n[3..n.len() - 2]));
        }
    }

    #[test]
    fn log_paths_cut_handles() {
        assert_eq!(
            log_path("/v1/calls/ABCDEFGHIJKLMNOP.qrstuvwxyz/events"),
            "/v1/calls/ABCDEFGH…/events"
        );
        assert_eq!(
            log_path("/v1/calls/ABCDEFGHIJKLMNOP"),
            "/v1/calls/ABCDEFGH…"
        );
        assert_eq!(
            log_path("/v1/callbacks/A2sKrSHBf7pK5ON9TTRjODFh.zsf-XGZWjmdAXuCWLTc7Pg"),
            "/v1/callbacks/A2sKrSHB…"
        );
        assert_eq!(
            log_path("/v1/anything/ABCDEFGHIJKLMNOPQ/x"),
            "/v1/anything/ABCDEFGH…/x"
        );
        assert_eq!(log_path("/v1/availability"), "/v1/availability");
        assert_eq!(log_path("/v1/calls"), "/v1/calls");
        assert_eq!(log_path("/v1/healthz"), "/v1/healthz");
        assert!(log_path(&"/x".repeat(1000)).chars().count() <= 200);
    }

    #[test]
    fn client_buckets() {
        assert_eq!(client_bucket("203.0.113.7").as_deref(), Some("203.0.113.7"));
        assert_eq!(
            client_bucket("2001:db8:1:2:3:4:5:6").as_deref(),
            Some("2001:db8:1:2::/64")
        );
        assert_eq!(
            client_bucket("2001:db8:1:2:ffff::1"),
            client_bucket("2001:db8:1:2::9"),
            "one /64, one bucket"
        );
        assert_eq!(client_bucket("::ffff:1.2.3.4").as_deref(), Some("1.2.3.4"));
        assert_eq!(client_bucket("[::1]").as_deref(), Some("0:0:0:0::/64"));
        for bad in ["", "unknown", "1.2.3", "evil, 1.2.3.4", "1.2.3.4:80"] {
            assert_eq!(client_bucket(bad), None, "{bad}");
        }
    }

    #[test]
    fn echoed_names_are_truncated() {
        let long = format!(
            "unknown field `{}`, expected `phoneNumber`",
            "x".repeat(4000)
        );
        let t = truncate_echo(&long);
        assert!(t.len() < 120, "{t}");
        assert!(t.contains("expected `phoneNumber`"));
        assert_eq!(truncate_echo("plain"), "plain");
    }
}
