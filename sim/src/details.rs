//! `POST /api/v2/analytics/conversations/details/query`: conversation detail
//! records, as Genesys' analytics API returns them — what a server uses to
//! find a call it cannot otherwise identify (the edge, after a create-call
//! POST whose answer was lost). Needs `analytics:conversationDetail:view`.
//!
//! Supported: `interval` (required, `start/end`), `order` (`asc`/`desc`, by
//! `conversationStart`), `paging`, and `segmentFilters` whose predicates
//! name `userId` or `dnis` dimensions (all must match). Unlike Genesys, records
//! are available at once (Genesys indexes within seconds).

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};

use crate::access::require_any;
use crate::frontdoor::Corr;
use crate::timestamp::parse_iso;
use crate::util::{api_error, field_error, json_response};
use crate::{Principal, Shared};

const DETAIL_VIEW: &str = "analytics:conversationDetail:view";
const MALFORMED: &str =
    "The request could not be understood by the server due to malformed syntax.";

pub async fn query(
    State(sim): State<Shared>,
    Extension(p): Extension<Principal>,
    Extension(Corr(corr)): Extension<Corr>,
    body: String,
) -> Response {
    if let Err(r) = require_any(&p, &[DETAIL_VIEW], &corr) {
        return r;
    }
    let Ok(Value::Object(q)) = serde_json::from_str::<Value>(&body) else {
        return api_error(400, "bad.request", MALFORMED, &corr);
    };
    let bad = |field: &str, msg: &str| field_error(&corr, field, msg);
    let Some((from, to)) = q
        .get("interval")
        .and_then(Value::as_str)
        .and_then(|i| i.split_once('/'))
        .and_then(|(a, b)| Some((parse_iso(a)?, parse_iso(b)?)))
        .filter(|(a, b)| a <= b)
    else {
        return bad(
            "interval",
            "The interval must be two ISO-8601 times, start/end.",
        );
    };
    let mut wanted: Vec<(String, String)> = Vec::new();
    for f in q
        .get("segmentFilters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for pr in f
            .get("predicates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let dim = pr.get("dimension").and_then(Value::as_str).unwrap_or("");
            let val = pr.get("value").and_then(Value::as_str).unwrap_or("");
            match dim {
                "userId" | "dnis" => wanted.push((dim.to_string(), val.to_string())),
                _ => return bad("segmentFilters", "Unsupported dimension in the simulator."),
            }
        }
    }
    let page_size = q
        .get("paging")
        .and_then(|p| p.get("pageSize"))
        .and_then(Value::as_u64)
        .unwrap_or(25)
        .clamp(1, 100) as usize;
    let page = q
        .get("paging")
        .and_then(|p| p.get("pageNumber"))
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .max(1) as usize;
    let asc = q.get("order").and_then(Value::as_str) == Some("asc");
    let mut found: Vec<(std::time::SystemTime, Value)> = {
        let inner = sim.lock();
        inner
            .calls
            .values()
            .filter(|c| {
                let started = c.created_wall();
                started >= from && started <= to
            })
            .filter(|c| {
                wanted.iter().all(|(dim, val)| match dim.as_str() {
                    "userId" => &c.spec.agent_id == val,
                    _ => c.spec.number == val.trim_start_matches("tel:"),
                })
            })
            .map(|c| (c.created_wall(), c.detail_record()))
            .collect()
    };
    found.sort_by_key(|(t, _)| *t);
    if !asc {
        found.reverse();
    }
    let total = found.len();
    let conversations: Vec<Value> = found
        .into_iter()
        .skip((page - 1) * page_size)
        .take(page_size)
        .map(|(_, v)| v)
        .collect();
    let mut out = json!({ "totalHits": total });
    if !conversations.is_empty() {
        out["conversations"] = Value::Array(conversations);
    }
    json_response(200, out)
}
