//! Finding the truth after an unknown outcome: one read of the agent's recent
//! conversations (`POST /api/v2/analytics/conversations/details/query`,
//! permission `analytics:conversationDetail:view`), matched by the number
//! dialled. Pure: the request is built and the answer read here; the flow
//! sends it (`Client::find_call_to`, for `placeCall`'s settle window and the
//! edge's pending handles), after looking in the agent's notification stream.
//!
//! Only the few fields the match needs are read, so the browser package pays
//! little for it.

use serde::Deserialize;

use crate::call::{ConversationId, EntityId};
use crate::error::{Attempt, Error};
use crate::http::{HttpRequest, Method};
use crate::region::Endpoints;
use crate::wire::decode;

/// Calls that started this long before the unknown outcome still match
/// (clock differences between us and Genesys).
pub const EARLY_MS: u64 = 60_000;

/// Every level of the answer (`{conversations: [{conversationId,
/// participants: [{sessions: [{dnis}]}]}]}`) read as one recursive type,
/// each level's list in `children` (a level has one of the three): one type
/// with three fields keeps the browser package's deserializer code small.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Node {
    #[serde(alias = "conversations", alias = "participants", alias = "sessions")]
    children: Vec<Node>,
    conversation_id: String,
    dnis: Option<String>,
}

/// The query for `agent`'s conversations since `since_ms` (epoch ms), oldest first.
pub fn recent_calls_request(
    endpoints: &Endpoints,
    token: &str,
    agent: &EntityId,
    since_ms: u64,
    now_ms: u64,
) -> HttpRequest {
    let from = since_ms.saturating_sub(EARLY_MS);
    let to = now_ms.max(since_ms) + EARLY_MS;
    // A fixed body with two values that need no escaping (an `EntityId` is
    // `[A-Za-z0-9-]`, the interval ISO digits): written out, it spares the
    // browser package serde's serializer for five one-off types.
    let body = [
        r#"{"interval":""#,
        &iso_utc(from),
        "/",
        &iso_utc(to),
        r#"","order":"asc","orderBy":"conversationStart","paging":{"pageSize":50,"pageNumber":1},"segmentFilters":[{"type":"and","predicates":[{"type":"dimension","dimension":"userId","value":""#,
        agent.as_str(),
        r#""}]}]}"#,
    ]
    .concat();
    HttpRequest::new(
        Method::Post,
        [
            endpoints.api_base.as_str(),
            "/api/v2/analytics/conversations/details/query",
        ]
        .concat(),
    )
    .bearer(token)
    .json(body)
}

/// The conversation in `body` that dialled `number` (E.164); the first,
/// so the earliest, if several did (the query asks for them oldest first,
/// from a minute before the POST: Genesys filters by time); `None` when none did.
pub fn find_call_to(body: &str, number: &str) -> Result<Option<ConversationId>, Error> {
    let answer: Node = decode(body).map_err(|e| Error::bad_response(&e, Attempt::Other))?;
    let found = answer.children.iter().find(|c| {
        c.children
            .iter()
            .flat_map(|p| &p.children)
            .filter_map(|s| s.dnis.as_deref())
            .any(|d| same_number(d, number))
    });
    Ok(found.and_then(|c| EntityId::parse(&c.conversation_id, "conversationId").ok()))
}

/// Whether two forms of a number (`tel:+1 317…`, `+1317…`) have the same digits.
pub fn same_number(a: &str, b: &str) -> bool {
    a.chars()
        .filter(char::is_ascii_digit)
        .eq(b.chars().filter(char::is_ascii_digit))
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC). In wasm the
/// platform's `Date` writes it (`toISOString` is exactly this form), which
/// keeps the calendar arithmetic out of the browser package.
#[cfg(target_arch = "wasm32")]
pub fn iso_utc(ms: u64) -> String {
    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64))
        .to_iso_string()
        .into()
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), digit by digit.
#[cfg(not(target_arch = "wasm32"))]
pub fn iso_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    let mut out = String::with_capacity(24);
    let fields = [
        (y as u64, 4, '-'),
        (m as u64, 2, '-'),
        (d as u64, 2, 'T'),
        (t / 3600, 2, ':'),
        (t / 60 % 60, 2, ':'),
        (t % 60, 2, '.'),
        (ms % 1000, 3, 'Z'),
    ];
    for (n, width, sep) in fields {
        for p in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u64.pow(p) % 10) as u8));
        }
        out.push(sep);
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` to epoch milliseconds (what Genesys writes).
pub fn parse_iso_ms(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<u64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, sec) = (n(11..13)?, n(14..16)?, n(17..19)?);
    let frac = s.get(19..s.len() - 1).unwrap_or("");
    let millis = match frac.strip_prefix('.') {
        Some(f) if !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()) => {
            let f3: String = f.chars().chain("000".chars()).take(3).collect();
            f3.parse::<u64>().ok()?
        }
        _ if frac.is_empty() => 0,
        _ => return None,
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y as i64, mo as i64, d as i64);
    let secs = (days * 86_400) as u64 + h * 3600 + mi * 60 + sec;
    Some(secs * 1000 + millis)
}

// Howard Hinnant's civil-calendar algorithms (public domain), for UTC dates.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(not(target_arch = "wasm32"))]
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
        for ms in [0, 951_782_400_000, 1_795_000_000_123, 4_102_444_800_999] {
            assert_eq!(parse_iso_ms(&iso_utc(ms)), Some(ms), "{ms}");
        }
        assert_eq!(
            parse_iso_ms("2026-11-18T11:06:40Z"),
            Some(1_795_000_000_000)
        );
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "yesterday",
            "2026-11-18 08:26:40Z",
        ] {
            assert_eq!(parse_iso_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_query_asks_for_the_agents_recent_conversations() {
        let e = Endpoints::custom("http://sim", "http://sim").unwrap();
        let agent = EntityId::parse("0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01", "a").unwrap();
        let r = recent_calls_request(&e, "tok", &agent, 1_795_000_060_000, 1_795_000_065_000);
        assert_eq!(r.method, Method::Post);
        assert_eq!(
            r.url,
            "http://sim/api/v2/analytics/conversations/details/query"
        );
        let body = r.body.unwrap();
        // Written out, so checked as JSON: exactly this query.
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "interval": "2026-11-18T11:06:40.000Z/2026-11-18T11:08:45.000Z",
                "order": "asc",
                "orderBy": "conversationStart",
                "paging": {"pageSize": 50, "pageNumber": 1},
                "segmentFilters": [{"type": "and", "predicates": [
                    {"type": "dimension", "dimension": "userId", "value": "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01"}
                ]}]
            })
        );
        assert!(
            body.contains(r#""interval":"2026-11-18T11:06:40.000Z/2026-11-18T11:08:45.000Z""#),
            "{body}"
        );
        assert!(
            body.contains(r#""dimension":"userId","value":"0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01""#),
            "{body}"
        );
    }

    #[test]
    fn the_call_is_matched_by_the_number_dialled() {
        // Oldest first, as the query asks.
        let body = r#"{"conversations":[
          {"conversationId":"c0000000-0000-4000-8000-000000000001","conversationStart":"2026-11-18T11:07:00.000Z",
           "participants":[{"purpose":"customer","sessions":[{"dnis":"tel:+13175550199"}]}]},
          {"conversationId":"c0000000-0000-4000-8000-000000000002","conversationStart":"2026-11-18T11:07:01.000Z",
           "participants":[{"purpose":"agent","sessions":[{}]},{"purpose":"customer","sessions":[{"dnis":"tel:+13175550100"}]}]},
          {"conversationId":"c0000000-0000-4000-8000-000000000003","conversationStart":"2026-11-18T11:07:30.000Z",
           "participants":[{"purpose":"agent","sessions":[{"dnis":"tel:+13175550100","sessionDnis":"tel:+13175550100"}]}]}
        ],"totalHits":3}"#;
        let found = find_call_to(body, "+13175550100").unwrap();
        assert_eq!(
            found.unwrap().as_str(),
            "c0000000-0000-4000-8000-000000000002"
        );
        assert_eq!(
            find_call_to(body, "+1 317 555 0199")
                .unwrap()
                .unwrap()
                .as_str(),
            "c0000000-0000-4000-8000-000000000001"
        );
        assert_eq!(find_call_to(body, "+13175550142").unwrap(), None);
        assert_eq!(find_call_to("{}", "+13175550100").unwrap(), None);
        assert!(find_call_to("[", "+13175550100").is_err());
    }
}
