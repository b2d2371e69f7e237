//! JSON in the browser package: `JSON.parse` + serde-wasm-bindgen in,
//! serde-wasm-bindgen + `JSON.stringify` out (`crate::wire` says why).

use js_sys::JSON;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub fn decode<T: DeserializeOwned>(body: &str) -> Result<T, String> {
    let v = JSON::parse(body).map_err(|_| String::from("the body is not JSON"))?;
    serde_wasm_bindgen::from_value(v).map_err(|e| e.to_string())
}

pub fn encode<T: Serialize>(value: &T) -> String {
    JSON::stringify(&super::to_js(value))
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}
