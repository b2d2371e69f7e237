//! The wasm side of `Http` and `Clock`: gloo-net's `fetch` (the global one, so
//! the same build runs in browsers, Node ≥ 20, workerd and Deno), a timeout
//! per request through an `AbortController`, and gloo-timers' `setTimeout`.
//! Dropping a request's future aborts it; dropping a sleep clears its timer.

use futures_util::future::{select, Either};
use gloo_net::http::RequestBuilder;
use gloo_timers::future::TimeoutFuture;
use js_sys::Promise;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, RequestRedirect, ResponseType};

use crate::flow::{Clock, Http};
use crate::http::{HttpRequest, HttpResponse, Method, TransportError};

/// Aborts an in-flight fetch when its future is dropped (the caller's
/// `AbortSignal` fired, or the timeout won).
struct AbortOnDrop(AbortController);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Response headers the core reads.
const KEPT_HEADERS: [&str; 2] = ["retry-after", "inin-correlation-id"];

pub struct FetchHttp;

impl FetchHttp {
    async fn fetch(req: HttpRequest, signal: &AbortSignal) -> Result<HttpResponse, String> {
        let method = match req.method {
            Method::Get => gloo_net::http::Method::GET,
            Method::Post => gloo_net::http::Method::POST,
            Method::Put => gloo_net::http::Method::PUT,
            Method::Patch => gloo_net::http::Method::PATCH,
            Method::Delete => gloo_net::http::Method::DELETE,
        };
        // Genesys never redirects an API or token request, and following one
        // could carry a token elsewhere. "manual", because workerd refuses
        // "error"; browsers then answer with an opaque redirect (status 0).
        let mut builder = RequestBuilder::new(&req.url)
            .method(method)
            .redirect(RequestRedirect::Manual)
            .abort_signal(Some(signal));
        for (k, v) in &req.headers {
            builder = builder.header(k, v);
        }
        let request = match req.body {
            Some(body) => builder.body(body),
            None => builder.build(),
        }
        .map_err(|e| e.to_string())?;
        let resp = request.send().await.map_err(|e| e.to_string())?;
        if resp.type_() == ResponseType::Opaqueredirect || (300..400).contains(&resp.status()) {
            return Err(["unexpected redirect from ", &req.url].concat());
        }
        let headers = resp.headers();
        let kept = KEPT_HEADERS
            .iter()
            .filter_map(|name| headers.get(name).map(|v| (name.to_string(), v)))
            .collect();
        Ok(HttpResponse {
            status: resp.status(),
            headers: kept,
            body: resp.text().await.map_err(|e| e.to_string())?,
        })
    }
}

impl Http for FetchHttp {
    async fn send(
        &self,
        req: HttpRequest,
        timeout_ms: u64,
    ) -> Result<HttpResponse, TransportError> {
        let controller = AbortController::new()
            .map_err(|_| TransportError::Network("AbortController is unavailable".into()))?;
        let signal = controller.signal();
        let _abort = AbortOnDrop(controller);
        let fetch = std::pin::pin!(FetchHttp::fetch(req, &signal));
        let timer = TimeoutFuture::new(timeout_ms.min(u32::MAX as u64) as u32);
        match select(fetch, timer).await {
            Either::Left((result, _)) => result.map_err(TransportError::Network),
            Either::Right(_) => Err(TransportError::Timeout),
        }
    }
}

pub struct JsClock;

impl Clock for JsClock {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    async fn sleep(&self, ms: u64) {
        TimeoutFuture::new(ms.min(u32::MAX as u64) as u32).await
    }
}

/// Completes when `signal` aborts (never, without a signal).
pub async fn abort_signal_fired(signal: Option<AbortSignal>) {
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
