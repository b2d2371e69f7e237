//! Genesys entity listings: `pageSize`/`pageNumber` in the query, and
//! `{entities, pageSize, pageNumber, total, pageCount, firstUri, selfUri,
//! lastUri, nextUri?, previousUri?}` in the answer.

use axum::response::Response;
use serde_json::{json, Value};

use crate::util::{field_error, query_value};

/// Page size when the query gives none (Genesys' default).
const DEFAULT_PAGE_SIZE: usize = 25;
/// The largest page size accepted.
const MAX_PAGE_SIZE: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paging {
    pub size: usize,
    pub number: usize,
}

/// Reads `pageSize` (1–500, default 25) and `pageNumber` (≥ 1, default 1).
pub fn paging(params: &[(String, String)], corr: &str) -> Result<Paging, Response> {
    let get = |k: &str| params.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v);
    let size = match get("pageSize") {
        None => DEFAULT_PAGE_SIZE,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                return Err(field_error(
                    corr,
                    "pageSize",
                    &format!("pageSize must be a whole number from 1 to {MAX_PAGE_SIZE}."),
                ))
            }
        },
    };
    let number = match get("pageNumber") {
        None => 1,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(field_error(
                    corr,
                    "pageNumber",
                    "pageNumber must be a whole number of at least 1.",
                ))
            }
        },
    };
    Ok(Paging { size, number })
}

/// One page of `all` as an entity listing; `extra` query parameters (filters)
/// are repeated in every URI so following `nextUri` keeps them.
pub fn listing(all: Vec<Value>, page: &Paging, path: &str, extra: &[(&str, &str)]) -> Value {
    let total = all.len();
    let page_count = total.div_ceil(page.size).max(1);
    let uri = |n: usize| {
        let mut q = format!("{path}?pageSize={}&pageNumber={n}", page.size);
        for (k, v) in extra {
            q.push_str(&format!("&{k}={}", query_value(v)));
        }
        q
    };
    let start = page.size.saturating_mul(page.number - 1).min(total);
    let end = start.saturating_add(page.size).min(total);
    let entities: Vec<Value> = all.into_iter().skip(start).take(end - start).collect();
    let mut v = json!({
        "entities": entities, "pageSize": page.size, "pageNumber": page.number, "total": total,
        "pageCount": page_count, "firstUri": uri(1), "selfUri": uri(page.number), "lastUri": uri(page_count),
    });
    if page.number < page_count {
        v["nextUri"] = json!(uri(page.number + 1));
    }
    if page.number > 1 {
        v["previousUri"] = json!(uri((page.number - 1).min(page_count)));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pages_and_uris() {
        let all: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let p = Paging { size: 2, number: 2 };
        let v = listing(all.clone(), &p, "/x", &[("name", "a b*")]);
        assert_eq!(v["entities"], json!([2, 3]));
        assert_eq!(
            (v["total"].as_u64(), v["pageCount"].as_u64()),
            (Some(5), Some(3))
        );
        assert_eq!(v["nextUri"], "/x?pageSize=2&pageNumber=3&name=a%20b%2A");
        assert_eq!(v["previousUri"], "/x?pageSize=2&pageNumber=1&name=a%20b%2A");
        let last = listing(all.clone(), &Paging { size: 2, number: 3 }, "/x", &[]);
        assert_eq!(last["entities"], json!([4]));
        assert!(last.get("nextUri").is_none());
        let beyond = listing(all, &Paging { size: 2, number: 9 }, "/x", &[]);
        assert_eq!(beyond["entities"], json!([]));
        let empty = listing(
            vec![],
            &Paging {
                size: 25,
                number: 1,
            },
            "/x",
            &[],
        );
        assert_eq!(
            (empty["pageCount"].as_u64(), empty["total"].as_u64()),
            (Some(1), Some(0))
        );
    }

    #[test]
    fn page_parameters_are_checked() {
        assert_eq!(
            paging(&params(&[]), "c").unwrap(),
            Paging {
                size: 25,
                number: 1
            }
        );
        assert_eq!(
            paging(&params(&[("pageSize", "1"), ("pageNumber", "3")]), "c").unwrap(),
            Paging { size: 1, number: 3 }
        );
        for bad in [
            ("pageSize", "0"),
            ("pageSize", "501"),
            ("pageSize", "x"),
            ("pageNumber", "0"),
            ("pageNumber", "-1"),
            ("pageNumber", "99999999999999999999999"),
        ] {
            assert!(paging(&params(&[bad]), "c").is_err(), "{bad:?}");
        }
    }
}
