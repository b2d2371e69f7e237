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
use crate::callback::instant_ms;
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
    conversation_start: String,
    dnis: Option<String>,
}

/// The query for `agent`'s conversations since `since_ms` (epoch ms), newest first.
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
        r#"","order":"desc","orderBy":"conversationStart","paging":{"pageSize":50,"pageNumber":1},"segmentFilters":[{"type":"and","predicates":[{"type":"dimension","dimension":"userId","value":""#,
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

/// The conversation in `body` that dialled `number` (E.164) and started no
/// earlier than [`EARLY_MS`] before `since_ms` — Genesys' interval filter is
/// coarser than that, so an earlier call to the same number that day must not
/// match — the earliest such, if several did; `None` when none did.
pub fn find_call_to(
    body: &str,
    number: &str,
    since_ms: u64,
) -> Result<Option<ConversationId>, Error> {
    let answer: Node = decode(body).map_err(|e| Error::bad_response(&e, Attempt::Other))?;
    let earliest = since_ms.saturating_sub(EARLY_MS);
    let found = answer
        .children
        .iter()
        .filter(|c| {
            c.children
                .iter()
                .flat_map(|p| &p.children)
                .filter_map(|s| s.dnis.as_deref())
                .any(|d| same_number(d, number))
        })
        // A start Genesys did not write counts as now: it is no older call.
        .map(|c| (instant_ms(&c.conversation_start).unwrap_or(since_ms), c))
        .filter(|(start, _)| *start >= earliest)
        .min_by_key(|(start, _)| *start);
    Ok(found.and_then(|(_, c)| EntityId::parse(&c.conversation_id, "conversationId").ok()))
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

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), printed by jiff.
#[cfg(not(target_arch = "wasm32"))]
pub fn iso_utc(ms: u64) -> String {
    let t = jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or(jiff::Timestamp::MAX);
    jiff::fmt::temporal::DateTimePrinter::new()
        .precision(Some(3))
        .timestamp_to_string(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_print_in_genesys_form() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
        for ms in [0, 951_782_400_000, 1_795_000_000_123, 4_102_444_800_999] {
            assert_eq!(instant_ms(&iso_utc(ms)), Some(ms), "{ms}");
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
                "order": "desc",
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
    fn the_call_is_matched_by_the_number_dialled_and_its_start() {
        // Newest first, as the query asks. The POST went out at 11:07:00.
        let since = 1_795_000_020_000;
        let body = r#"{"conversations":[
          {"conversationId":"c0000000-0000-4000-8000-000000000003","conversationStart":"2026-11-18T11:07:30.000Z",
           "participants":[{"purpose":"agent","sessions":[{"dnis":"tel:+13175550100","sessionDnis":"tel:+13175550100"}]}]},
          {"conversationId":"c0000000-0000-4000-8000-000000000002","conversationStart":"2026-11-18T11:07:01.000Z",
           "participants":[{"purpose":"agent","sessions":[{}]},{"purpose":"customer","sessions":[{"dnis":"tel:+13175550100"}]}]},
          {"conversationId":"c0000000-0000-4000-8000-000000000001","conversationStart":"2026-11-18T11:07:00.000Z",
           "participants":[{"purpose":"customer","sessions":[{"dnis":"tel:+13175550199"}]}]},
          {"conversationId":"c0000000-0000-4000-8000-000000000004","conversationStart":"2026-11-18T09:00:00.000Z",
           "participants":[{"purpose":"customer","sessions":[{"dnis":"tel:+13175550142"}]}]}
        ],"totalHits":4}"#;
        let id = |n: &str| {
            find_call_to(body, n, since)
                .unwrap()
                .map(|c| c.as_str().to_string())
        };
        // The earliest call to the number since the POST (less the clock margin).
        assert_eq!(
            id("+13175550100").as_deref(),
            Some("c0000000-0000-4000-8000-000000000002")
        );
        assert_eq!(
            id("+1 317 555 0199").as_deref(),
            Some("c0000000-0000-4000-8000-000000000001")
        );
        // A call to the number two hours earlier that day is not this POST's.
        assert_eq!(id("+13175550142"), None);
        assert_eq!(id("+13175550177"), None);
        assert_eq!(find_call_to("{}", "+13175550100", since).unwrap(), None);
        assert!(find_call_to("[", "+13175550100", since).is_err());
    }
}
