//! The edge handler's exports (`--features edge`): `EdgeHandler` wraps the
//! host-tested `EdgeService`; `edge/handler.js` turns Requests into the plain
//! object `handle` takes and its JSON answer back into a Response.

use std::rc::Rc;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use super::promise;
use super::transport::{FetchHttp, JsClock};
use crate::edge::config::{BODY_LIMIT, VARIABLES};
use crate::edge::service::{Limit, Platform};
use crate::edge::{EdgeRequest, EdgeService};
use crate::json::{write_str, ObjectWriter};

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

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &(*k).into(), v);
    }
    o.into()
}

impl Platform for Bindings {
    async fn limit(&self, which: Limit, key: &str) -> Option<bool> {
        let name = match which {
            Limit::PerAddress => "CALL_RATE_LIMITER",
            Limit::PerNumber => "NUMBER_RATE_LIMITER",
        };
        let out = self
            .call(name, "limit", &[object(&[("key", key.into())])])
            .await?;
        Reflect::get(&out, &"success".into()).ok()?.as_bool()
    }

    async fn recall(&self, key: &str) -> Option<String> {
        self.call("IDEMPOTENCY_KV", "get", &[key.into()])
            .await?
            .as_string()
    }

    async fn remember(&self, key: &str, value: &str, ttl_secs: u64) {
        let options = object(&[("expirationTtl", (ttl_secs as f64).into())]);
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

/// A string member of a JS object (the shell's shared `member`, as text).
fn string_member(obj: &JsValue, key: &str) -> Option<String> {
    super::member(obj, key).and_then(|v| v.as_string())
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
    /// Resolves to JSON text: `{status, headers: [[name, value]], body, stream?, log}`.
    pub fn handle(&self, req: JsValue) -> Promise {
        let r = EdgeRequest {
            method: string_member(&req, "method").unwrap_or_default(),
            path: string_member(&req, "path").unwrap_or_default(),
            origin: string_member(&req, "origin"),
            client_ip: string_member(&req, "ip").unwrap_or_else(|| "unknown".into()),
            content_type: string_member(&req, "contentType"),
            idempotency_key: string_member(&req, "idempotencyKey"),
            body: string_member(&req, "body").unwrap_or_default(),
        };
        let svc = self.svc.clone();
        promise(async move {
            let out = svc.handle(r).await;
            let mut headers = String::from("[");
            for (i, (k, v)) in out.headers.iter().enumerate() {
                if i > 0 {
                    headers.push(',');
                }
                headers.push('[');
                write_str(&mut headers, k);
                headers.push(',');
                write_str(&mut headers, v);
                headers.push(']');
            }
            headers.push(']');
            let mut w = ObjectWriter::new();
            w.num("status", out.status as u64)
                .raw("headers", &headers)
                .str("body", &out.body)
                .opt_str("stream", out.stream.as_deref())
                .raw("log", &out.log);
            Ok(JsValue::from_str(&w.finish()))
        })
    }

    /// The next SSE chunk for a watched call: JSON text `{chunk, cursor, done}`.
    #[wasm_bindgen(js_name = nextEvent)]
    pub fn next_event(&self, conversation: String, cursor: String) -> Promise {
        let svc = self.svc.clone();
        promise(async move {
            let (chunk, cursor, done) = svc.next_event(&conversation, &cursor).await;
            Ok(JsValue::from_str(
                &ObjectWriter::new()
                    .str("chunk", &chunk)
                    .str("cursor", &cursor)
                    .bool("done", done)
                    .finish(),
            ))
        })
    }
}
