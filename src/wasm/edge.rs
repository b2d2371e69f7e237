//! The edge handler's exports (`--features edge`): `EdgeHandler` wraps the
//! host-tested `EdgeService`; `edge/handler.js` turns Requests into the plain
//! object `handle` takes and its JSON answer back into a Response.

use std::rc::Rc;

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;

use super::promise;
use super::transport::{FetchHttp, JsClock};
use crate::edge::config::{BODY_LIMIT, VARIABLES};
use crate::edge::{EdgeRequest, EdgeService};
use crate::json::{write_str, ObjectWriter};

/// One per isolate: the token cache, limits and idempotency keys live here.
#[wasm_bindgen]
pub struct EdgeHandler {
    svc: Rc<EdgeService<FetchHttp, JsClock>>,
}

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
        let svc = EdgeService::new(FetchHttp, JsClock, move |k| {
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
