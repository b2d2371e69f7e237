//! The edge handler's exports (`--features edge`): `EdgeHandler` wraps the
//! host-tested `EdgeService`; `edge/handler.js` turns Requests into the plain
//! object `handle` takes and its JSON answer back into a Response.

use std::rc::Rc;

use js_sys::{Function, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::transport::{FetchHttp, JsClock};
use super::{promise, to_js};
use crate::edge::config::{BODY_LIMIT, VARIABLES};
use crate::edge::service::{Limit, Platform};
use crate::edge::{EdgeRequest, EdgeService};

/// Cloudflare bindings, when the Worker has them: `CALL_RATE_LIMITER` and
/// `NUMBER_RATE_LIMITER` (rate-limiting bindings, fleet-wide) and
/// `IDEMPOTENCY_KV` (a KV namespace). Missing bindings fall back to memory.
struct Bindings {
    env: JsValue,
}

impl Bindings {
    fn binding(&self, name: &str) -> Option<JsValue> {
        Reflect::get(&self.env, &name.into())
            .ok()
            .filter(|b| b.is_object())
    }

    /// Calls `binding.method(args…)` and awaits the promise it returns.
    async fn call(&self, name: &str, method: &str, args: &[JsValue]) -> Option<JsValue> {
        let b = self.binding(name)?;
        let f: Function = Reflect::get(&b, &method.into()).ok()?.dyn_into().ok()?;
        let list = js_sys::Array::new();
        for a in args {
            list.push(a);
        }
        let p: Promise = f.apply(&b, &list).ok()?.dyn_into().ok()?;
        JsFuture::from(p).await.ok()
    }
}

#[derive(Serialize)]
struct LimitKey<'a> {
    key: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KvPutOptions {
    expiration_ttl: u64,
}

impl Platform for Bindings {
    async fn limit(&self, which: Limit, key: &str) -> Option<bool> {
        let name = match which {
            Limit::PerAddress => "CALL_RATE_LIMITER",
            Limit::PerNumber => "NUMBER_RATE_LIMITER",
        };
        let out = self
            .call(name, "limit", &[to_js(&LimitKey { key })])
            .await?;
        Reflect::get(&out, &"success".into()).ok()?.as_bool()
    }

    async fn recall(&self, key: &str) -> Option<String> {
        self.call("IDEMPOTENCY_KV", "get", &[key.into()])
            .await?
            .as_string()
    }

    async fn remember(&self, key: &str, value: &str, ttl_secs: u64) {
        let options = to_js(&KvPutOptions {
            expiration_ttl: ttl_secs,
        });
        let _ = self
            .call(
                "IDEMPOTENCY_KV",
                "put",
                &[key.into(), value.into(), options],
            )
            .await;
    }
}

/// One per isolate: the token cache, limits and idempotency keys live here.
#[wasm_bindgen]
pub struct EdgeHandler {
    svc: Rc<EdgeService<FetchHttp, JsClock, Bindings>>,
}

/// A string member of a JS object (the runtime's `env`).
fn string_member(obj: &JsValue, key: &str) -> Option<String> {
    Reflect::get(obj, &key.into())
        .ok()
        .and_then(|v| v.as_string())
}

#[wasm_bindgen]
impl EdgeHandler {
    /// `env`: the runtime's environment (Workers `env`, `Deno.env.toObject()`);
    /// only the documented string variables are read.
    #[wasm_bindgen(constructor)]
    pub fn new(env: JsValue) -> EdgeHandler {
        let vars: Vec<(&str, String)> = VARIABLES
            .iter()
            .filter_map(|k| string_member(&env, k).map(|v| (*k, v)))
            .collect();
        let bindings = Bindings { env };
        let svc = EdgeService::with_platform(FetchHttp, JsClock, bindings, move |k| {
            vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        });
        EdgeHandler { svc: Rc::new(svc) }
    }

    /// The largest body `handle` reads; the shell reads at most one byte more.
    #[wasm_bindgen(js_name = bodyLimit)]
    pub fn body_limit() -> usize {
        BODY_LIMIT
    }

    /// `req`: `{method, path, origin?, ip, contentType?, idempotencyKey?, body}`.
    /// Resolves to `{status, headers: [[name, value]], body, stream?, log}`.
    pub fn handle(&self, req: JsValue) -> Promise {
        let svc = self.svc.clone();
        promise(async move {
            // The shell builds this object itself; a malformed one is a bug
            // there, answered as a bad request rather than a crash.
            let r: EdgeRequest = serde_wasm_bindgen::from_value(req).unwrap_or_default();
            let out = svc.handle(r).await;
            Ok(to_js(&out))
        })
    }

    /// The next SSE chunk for a watched call: `{chunk, cursor, done}`.
    #[wasm_bindgen(js_name = nextEvent)]
    pub fn next_event(&self, conversation: String, cursor: String) -> Promise {
        let svc = self.svc.clone();
        promise(async move {
            let (chunk, cursor, done) = svc.next_event(&conversation, &cursor).await;
            #[derive(Serialize)]
            struct Next {
                chunk: String,
                cursor: String,
                done: bool,
            }
            Ok(to_js(&Next {
                chunk,
                cursor,
                done,
            }))
        })
    }
}
