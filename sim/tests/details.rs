//! genesys-sim's conversation detail query (what the edge reads to find a
//! call whose create answer was lost): filters, permission, errors.

use genesys_sim::{start, Config};
use serde_json::{json, Value};

const ADA: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a01";
const OTTO: &str = "0b5e2f7a-6c1d-4e8f-9a3b-2c4d6e8f0a02";
const QUERY: &str = "/api/v2/analytics/conversations/details/query";

async fn token(http: &reqwest::Client, base: &str, id: &str, secret: &str) -> String {
    let text = http
        .post(format!("{base}/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r: Value = serde_json::from_str(&text).unwrap();
    r["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn details_find_the_agents_calls_by_number() {
    let sim = start(Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        time_scale: 0.02,
        quiet: true,
        ..Config::default()
    })
    .await
    .unwrap();
    let base = sim.url();
    let http = reqwest::Client::new();
    let tok = token(&http, &base, "sim-edge", "sim-edge-secret").await;
    let mut ids = Vec::new();
    for (agent, number) in [
        (ADA, "+13175550100"),
        (ADA, "+13175550142"),
        (OTTO, "+13175550100"),
    ] {
        let text = http
            .post(format!("{base}/api/v2/conversations/calls/user/{agent}"))
            .bearer_auth(&tok)
            .header("content-type", "application/json")
            .body(json!({ "phoneNumber": number }).to_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let r: Value = serde_json::from_str(&text).unwrap();
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    // The customer's leg exists once the agent's station has answered
    // (0.5 s of sim time): wait 5 s of it, so the query sees both legs.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let query = |filters: Value, interval: &str| {
        json!({"interval": interval, "order": "desc", "orderBy": "conversationStart",
               "paging": {"pageSize": 25, "pageNumber": 1},
               "segmentFilters": [{"type": "and", "predicates": filters}]})
    };
    let all = "2000-01-01T00:00:00.000Z/2100-01-01T00:00:00.000Z";
    let post = |body: Value, tok: String| {
        let http = http.clone();
        let url = format!("{base}{QUERY}");
        async move {
            let r = http
                .post(url)
                .bearer_auth(tok)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (
                status,
                serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap(),
            )
        }
    };
    let (status, ada) = post(
        query(
            json!([{"type": "dimension", "dimension": "userId", "value": ADA}]),
            all,
        ),
        tok.clone(),
    )
    .await;
    assert_eq!(status, 200, "{ada}");
    assert_eq!(ada["totalHits"], 2);
    let convs = ada["conversations"].as_array().unwrap();
    assert_eq!(convs[0]["conversationId"], ids[1].as_str(), "newest first");
    let customer = &convs[1]["participants"][1];
    assert_eq!(customer["purpose"], "customer");
    assert_eq!(customer["sessions"][0]["dnis"], "tel:+13175550100");
    assert!(convs[1]["conversationStart"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    // Both filters must match; the dnis may carry "tel:".
    let (_, both) = post(
        query(
            json!([
        {"type": "dimension", "dimension": "userId", "value": ADA},
        {"type": "dimension", "dimension": "dnis", "value": "tel:+13175550100"}]),
            all,
        ),
        tok.clone(),
    )
    .await;
    assert_eq!(both["totalHits"], 1);
    assert_eq!(both["conversations"][0]["conversationId"], ids[0].as_str());
    // An interval in the past finds nothing (and no "conversations" key, like Genesys).
    let (_, none) = post(
        query(json!([]), "2001-01-01T00:00:00Z/2001-01-02T00:00:00Z"),
        tok.clone(),
    )
    .await;
    assert_eq!(none, json!({"totalHits": 0}));
    let (status, bad) = post(json!({"segmentFilters": []}), tok.clone()).await;
    assert_eq!(
        (status, bad["details"][0]["fieldName"].as_str()),
        (400, Some("interval"))
    );
    // Without analytics:conversationDetail:view.
    let readonly = token(&http, &base, "sim-readonly", "sim-readonly-secret").await;
    let (status, denied) = post(query(json!([]), all), readonly).await;
    assert_eq!(
        (status, denied["code"].as_str()),
        (403, Some("missing.any.permissions"))
    );
}
