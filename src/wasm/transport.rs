//! The wasm side of `Http` and `Clock`: the global `fetch` (browsers, Node ≥ 18,
//! workerd, Deno) through `transport.js`, with an AbortController per request,
//! and `setTimeout`.
//! Dropping a request's future aborts it; dropping a sleep clears its timer.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal};

use crate::flow::{Clock, Http};
use crate::http::{HttpRequest, HttpResponse, TransportError};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Clears a timer when dropped (after it fired this is harmless). Keeping Node
/// from waiting on timers nobody listens to any more.
struct Timer(JsValue);
impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.0);
    }
}

/// Aborts an in-flight fetch when its future is dropped (caller's AbortSignal).
struct AbortOnDrop(AbortController);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[wasm_bindgen(module = "/src/wasm/transport.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn send(
        method: &str,
        url: &str,
        headers: js_sys::Array,
        body: Option<String>,
        timeout_ms: f64,
        signal: &AbortSignal,
    ) -> Result<JsValue, JsValue>;
    /// Throws on a malformed URL, hence `catch`.
    #[wasm_bindgen(catch, js_name = callbackParams)]
    pub fn callback_params(url: &str) -> Result<Vec<JsValue>, JsValue>;
    #[wasm_bindgen(js_name = genesysError)]
    pub fn genesys_error(json: &str) -> JsValue;
}

pub struct FetchHttp;

impl Http for FetchHttp {
    async fn send(
        &self,
        req: HttpRequest,
        timeout_ms: u64,
    ) -> Result<HttpResponse, TransportError> {
        let headers = js_sys::Array::new();
        for (k, v) in &req.headers {
            headers.push(&js_sys::Array::of2(&k.into(), &v.into()));
        }
        let controller = AbortController::new()
            .map_err(|_| TransportError::Network("AbortController is unavailable".into()))?;
        let signal = controller.signal();
        let _abort = AbortOnDrop(controller);
        let out = send(
            req.method.as_str(),
            &req.url,
            headers,
            req.body,
            timeout_ms as f64,
            &signal,
        )
        .await
        // transport.js rejects with "timeout", "aborted" or the network message.
        .map_err(|e| match e.as_string().as_deref() {
            Some("timeout") => TransportError::Timeout,
            Some("aborted") => TransportError::Aborted,
            other => TransportError::Network(other.unwrap_or_default().to_string()),
        })?;
        let out: js_sys::Array = out.unchecked_into();
        let mut headers = Vec::new();
        for (i, name) in [(1, "retry-after"), (2, "inin-correlation-id")] {
            if let Some(v) = out.get(i).as_string() {
                headers.push((name.to_string(), v));
            }
        }
        Ok(HttpResponse {
            status: out.get(0).as_f64().unwrap_or(0.0) as u16,
            headers,
            body: out.get(3).as_string().unwrap_or_default(),
        })
    }
}

pub struct JsClock;

impl Clock for JsClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    async fn sleep(&self, ms: u64) {
        let mut timer = JsValue::UNDEFINED;
        let promise = Promise::new(&mut |resolve, _| timer = set_timeout(&resolve, ms as f64));
        let _timer = Timer(timer);
        let _ = JsFuture::from(promise).await;
    }
}

/// Completes when `signal` aborts (never, without a signal).
pub async fn aborted(signal: Option<AbortSignal>) {
    let Some(signal) = signal else {
        return std::future::pending().await;
    };
    if signal.aborted() {
        return;
    }
    let promise = Promise::new(&mut |resolve, _| {
        let _ = signal.add_event_listener_with_callback("abort", &resolve);
    });
    let _ = JsFuture::from(promise).await;
}
