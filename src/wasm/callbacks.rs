//! The callback exports on `GenesysClient`: `scheduleCallback`, `getCallback`,
//! `cancelCallback`, `estimatedWait`. They translate JS to the core's types and
//! back; every decision is in `callback` and `flow`. (Rescheduling is in the
//! flow for the edge; it is not exported, to keep the browser package small.)

use js_sys::{Object, Promise, Reflect, JSON};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::transport::abort_signal_fired;
use super::{from_js, promise, reject, signal_of, to_js, to_js_error, GenesysClient, Js};
use crate::call::EntityId;
use crate::callback::{CallbackStatus, ScheduledCallback, WaitMedia};
use crate::error::Error;
use crate::flow::{aborted, until_cancelled};
use crate::options::{RequestOptions, ScheduleCallbackOptions};

#[wasm_bindgen(typescript_custom_section)]
const TS_CALLBACK_TYPES: &'static str = r#"
export interface ScheduleCallbackOptions {
  /** E.164, e.g. "+13175550100" (spaces, dashes and "tel:" are accepted). */
  phoneNumber: string;
  /** The queue whose agents call back. */
  queueId: string;
  /** When to call back: a Date, or ISO-8601 with an offset ("2026-03-09T09:00:00-05:00"); sent to Genesys in UTC. Omit for as soon as possible. */
  at?: Date | string;
  /** Who to ask for (callbackUserName), shown to the agent. */
  name?: string;
  /** Attached to the callback (the customer participant's attributes). */
  data?: Record<string, string>;
  signal?: AbortSignal;
}
export interface ScheduledCallback {
  conversationId: string;
  /** Genesys' ACD callback identifier. */
  callbackId?: string;
}
export type CallbackPhase = "scheduled" | "dialing" | "connected" | "ended";
export interface CallbackStatus {
  conversationId: string;
  phase: CallbackPhase;
  /** Present once phase is "ended"; "canceled" after cancelCallback, "failed" if it ended undialled otherwise. */
  outcome?: Outcome;
  /** Its time has come and it waits in the queue for an agent (phase "scheduled"). */
  inQueue: boolean;
  /** callbackScheduledTime, as Genesys returned it (UTC). */
  scheduledTime?: string;
  /** Once dialled: the call's legs, as in CallStatus. */
  agent?: CallLeg;
  customer?: CallLeg;
  /** The Conversation exactly as Genesys sent it (numbers, name and data included). */
  raw: unknown;
}
export interface GenesysClient {
  // Overloads merged into the class: the options may be left out.
  getCallback(conversationId: string, options?: RequestOptions): Promise<CallbackStatus>;
  cancelCallback(conversationId: string, options?: RequestOptions): Promise<void>;
  estimatedWait(queueId: string, options?: RequestOptions): Promise<number | null>;
}
"#;

/// A JS `Date` in `at` becomes its ISO string (an invalid Date is refused), so
/// the core only ever reads strings. Every JS call here can fail without
/// throwing through the wasm: options may be anything.
fn at_as_string(options: &JsValue) -> Result<JsValue, Error> {
    if !options.is_object() {
        return Ok(options.clone());
    }
    let at = Reflect::get(options, &"at".into()).unwrap_or(JsValue::UNDEFINED);
    if !at.is_instance_of::<js_sys::Date>() {
        return Ok(options.clone());
    }
    // toISOString throws for an invalid Date, and for an object that merely
    // has Date's prototype: both are refused.
    let iso = Reflect::get(&at, &"toISOString".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .and_then(|f| f.call0(&at).ok())
        .filter(JsValue::is_string)
        .ok_or_else(|| Error::invalid_input(&["at is an invalid Date"]))?;
    // A copy with the string in place of the Date; own keys are defined, not
    // assigned, so a key named "__proto__" stays a key.
    let copy = Object::new();
    let define = |key: &JsValue, value: &JsValue| {
        let d = Object::new();
        let _ = Reflect::set(&d, &"value".into(), value);
        let _ = Reflect::set(&d, &"enumerable".into(), &JsValue::TRUE);
        let _ = Reflect::define_property(&copy, key, &d);
    };
    for key in Object::keys(options.unchecked_ref::<Object>()).iter() {
        let value = if key.as_string().as_deref() == Some("at") {
            iso.clone()
        } else {
            Reflect::get(options, &key).unwrap_or(JsValue::UNDEFINED)
        };
        define(&key, &value);
    }
    Ok(copy.into())
}

fn scheduled_to_js(s: &ScheduledCallback) -> JsValue {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Scheduled<'a> {
        conversation_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        callback_id: Option<&'a str>,
    }
    to_js(&Scheduled {
        conversation_id: s.conversation_id.as_str(),
        callback_id: s.callback_id.as_deref(),
    })
}

fn callback_status_to_js(status: &CallbackStatus, raw: &str) -> JsValue {
    let obj = to_js(status);
    let raw = JSON::parse(raw).unwrap_or(JsValue::NULL);
    let _ = Reflect::set(&obj, &"raw".into(), &raw);
    obj
}

fn request_options(
    id: &str,
    field: &str,
    options: Option<JsValue>,
    what: &str,
) -> Result<(EntityId, Option<web_sys::AbortSignal>), Error> {
    let id = EntityId::parse(id, field)?;
    let o: RequestOptions<Js> = from_js(&options.unwrap_or(JsValue::UNDEFINED), what)?;
    Ok((id, signal_of(o.signal)?))
}

#[wasm_bindgen]
impl GenesysClient {
    /// Schedules a queue callback; resolves once Genesys has created it. Like
    /// placeCall, the request is never sent twice: a failure after it may have
    /// reached Genesys rejects with "outcome_unknown".
    #[wasm_bindgen(js_name = scheduleCallback, unchecked_return_type = "Promise<ScheduledCallback>")]
    pub fn schedule_callback(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ScheduleCallbackOptions")] options: JsValue,
    ) -> Promise {
        let parsed = at_as_string(&options)
            .and_then(|o| from_js::<ScheduleCallbackOptions<Js>>(&o, "scheduleCallback"))
            .and_then(|o| Ok((o.validate()?, signal_of(o.signal)?)));
        let (cb, signal) = match parsed {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            let placed = client
                .schedule_callback(&cb, abort_signal_fired(signal))
                .await
                .map_err(to_js_error)?;
            Ok(scheduled_to_js(&placed))
        })
    }

    /// One read of the callback's normalized status.
    #[wasm_bindgen(js_name = getCallback, unchecked_return_type = "Promise<CallbackStatus>")]
    pub fn get_callback(
        &self,
        conversation_id: &str,
        #[wasm_bindgen(unchecked_param_type = "RequestOptions")] options: Option<JsValue>,
    ) -> Promise {
        let (id, signal) =
            match request_options(conversation_id, "conversationId", options, "getCallback") {
                Ok(x) => x,
                Err(e) => return reject(e),
            };
        let client = self.inner.clone();
        promise(async move {
            let (status, raw) =
                until_cancelled(client.get_callback(&id), abort_signal_fired(signal))
                    .await
                    .unwrap_or_else(|| Err(aborted("getCallback")))
                    .map_err(to_js_error)?;
            Ok(callback_status_to_js(&status, &raw))
        })
    }

    /// Cancels the callback; it then reads phase "ended", outcome "canceled"
    /// (if it was already dialled, its call is hung up). Idempotent.
    #[wasm_bindgen(js_name = cancelCallback, unchecked_return_type = "Promise<void>")]
    pub fn cancel_callback(
        &self,
        conversation_id: &str,
        #[wasm_bindgen(unchecked_param_type = "RequestOptions")] options: Option<JsValue>,
    ) -> Promise {
        let (id, signal) =
            match request_options(conversation_id, "conversationId", options, "cancelCallback") {
                Ok(x) => x,
                Err(e) => return reject(e),
            };
        let client = self.inner.clone();
        promise(async move {
            client
                .cancel_callback(&id, abort_signal_fired(signal))
                .await
                .map_err(to_js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// How long a callback requested now would wait in the queue, in seconds
    /// (Genesys' estimate for the `callback` media type); null when Genesys
    /// cannot estimate.
    #[wasm_bindgen(js_name = estimatedWait, unchecked_return_type = "Promise<number | null>")]
    pub fn estimated_wait(
        &self,
        queue_id: &str,
        #[wasm_bindgen(unchecked_param_type = "RequestOptions")] options: Option<JsValue>,
    ) -> Promise {
        let (queue, signal) = match request_options(queue_id, "queueId", options, "estimatedWait") {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            let seconds = until_cancelled(
                client.estimated_wait(&queue, WaitMedia::Callback),
                abort_signal_fired(signal),
            )
            .await
            .unwrap_or_else(|| Err(aborted("estimatedWait")))
            .map_err(to_js_error)?;
            Ok(seconds.map_or(JsValue::NULL, |s| JsValue::from_f64(s as f64)))
        })
    }
}
