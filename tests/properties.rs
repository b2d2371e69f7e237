//! Properties over arbitrary input: whatever bytes or JSON Genesys (or
//! something pretending to be Genesys) answers with, and whatever options a
//! caller passes, the client never panics; unreadable answers end as
//! `bad_response` (or `outcome_unknown` for the create-call POST, which may have
//! dialled), bad options as `invalid_input`. Fixed seeds: failures reproduce.
#![cfg(not(target_arch = "wasm32"))]

use genesys_click_to_call::auth::parse_token_response;
use genesys_click_to_call::call::parse_create_response;
use genesys_click_to_call::error::{Attempt, Error, ErrorCode};
use genesys_click_to_call::http::HttpResponse;
use genesys_click_to_call::options::{self, ClientOptionsInput, PlaceCallOptions, WaitOptions};
use genesys_click_to_call::status::{CallStatus, Snapshot};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Number, Value};

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        // Strings that look like Genesys' own values as well as noise.
        prop_oneof![
            Just("connected".to_string()),
            Just("disconnected".to_string()),
            Just("customer".to_string()),
            Just("agent".to_string()),
            Just("tel:+13175550100".to_string()),
            ".{0,24}",
        ]
        .prop_map(Value::String),
    ];
    let keys = prop_oneof![
        Just("id".to_string()),
        Just("participants".to_string()),
        Just("state".to_string()),
        Just("purpose".to_string()),
        Just("calls".to_string()),
        Just("disconnectReasons".to_string()),
        Just("code".to_string()),
        Just("user".to_string()),
        Just("access_token".to_string()),
        Just("expires_in".to_string()),
        Just("message".to_string()),
        Just("contextId".to_string()),
        "[a-zA-Z]{1,10}",
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Any JSON text, or any bytes at all (as the transport would hand them over).
fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        json().prop_map(|v| v.to_string()),
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]
}

fn runner() -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases: 2_000,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

fn ok(body: &str, status: u16) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![],
        body: body.to_string(),
    }
}

#[test]
fn any_answer_to_any_request_is_a_value_or_a_classified_error() {
    runner()
        .run(
            &(body(), prop_oneof![Just(200u16), Just(201), 100u16..600]),
            |(b, status)| {
                let r = ok(&b, status);
                let success = (200..300).contains(&status);
                if let Err(e) = parse_token_response(&r) {
                    if success {
                        prop_assert_eq!(e.code, ErrorCode::BadResponse, "{}", b);
                    }
                }
                match parse_create_response(&r) {
                    Ok(id) => prop_assert!(success && !id.as_str().is_empty()),
                    // 2xx: Genesys acted, so an unreadable answer may have dialled.
                    Err(e) if success => prop_assert_eq!(e.code, ErrorCode::OutcomeUnknown),
                    Err(_) => {}
                }
                match Snapshot::parse(&b) {
                    Ok(s) => {
                        // Derivation and serialisation are total on whatever parsed.
                        let st = CallStatus::derive(s);
                        prop_assert!(serde_json::from_str::<Value>(&st.to_json(Some(&b))).is_ok());
                    }
                    Err(e) => prop_assert_eq!(e.code, ErrorCode::BadResponse),
                }
                // Error classification reads any body without panicking.
                let e = Error::from_response(&r, Attempt::Other);
                prop_assert!(!e.message.is_empty());
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn any_options_are_accepted_or_invalid_input() {
    runner()
        .run(&json(), |v| {
            let text = v.to_string();
            for r in [
                options::from_json::<ClientOptionsInput>("GenesysClient", &text)
                    .and_then(|o| o.validate(false))
                    .map(|_| ()),
                options::from_json::<PlaceCallOptions>("placeCall", &text)
                    .and_then(|o| o.validate())
                    .map(|_| ()),
                options::from_json::<WaitOptions>("waitForCall", &text)
                    .and_then(|o| o.validate())
                    .map(|_| ()),
            ] {
                if let Err(e) = r {
                    prop_assert_eq!(e.code, ErrorCode::InvalidInput, "{}", text);
                }
            }
            Ok(())
        })
        .unwrap();
}
