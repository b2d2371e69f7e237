//! The JS API of issue #12: `checkAgent`, `wrapUp` and `wrapUpCodes` on
//! `GenesysClient` (a second `#[wasm_bindgen] impl` block), and the TS types
//! for them and for placeCall's `requireAvailableAgent` and `wrapUp` (merged
//! into the interfaces of `mod.rs` by TypeScript's declaration merging).

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;

use super::transport::abort_signal_fired;
use super::{
    from_js, promise, refuse_unknown_keys, reject, signal_of, to_js, to_js_error, GenesysClient, Js,
};
use crate::agent::AgentCheck;
use crate::call::EntityId;
use crate::error::Error;
use crate::flow::{aborted, until_cancelled};
use crate::options::{CheckAgentOptions, RequestOptions, WrapUpInput};

#[wasm_bindgen(typescript_custom_section)]
const TS_AGENT: &'static str = r#"
/** Why an agent can or cannot take a call: checkAgent's `reason`, and the `reason` of an "agent_unavailable" error. */
export type AgentReason = "available" | "offline" | "do-not-disturb" | "busy" | "break" | "meal" | "meeting"
  | "training" | "out-of-office" | "no-station" | "not-responding" | "unknown";
export interface AgentAvailability {
  userId: string;
  /** true: can take a call; false: cannot (see reason); null: unknown (a lookup was refused), and calls are not blocked. */
  available: boolean | null;
  reason: AgentReason;
  /** presenceDefinition.systemPresence exactly as Genesys sent it ("Available", "On Queue", "Busy", …). */
  presence?: string;
  /** ACD routing status as sent: OFF_QUEUE, IDLE, INTERACTING, NOT_RESPONDING, COMMUNICATING. */
  routingStatus?: string;
  /** The effective station's id; null when the agent has none; absent when it could not be read. */
  station?: string | null;
  /** Why availability is unknown (a lookup Genesys refused), or what to watch (Away, Idle, already on an ACD interaction). */
  warnings: string[];
}
export interface CheckAgentOptions extends RequestOptions {
  /** Check for a call placed for this queue: ACD routing status counts too. */
  callFromQueueId?: string;
}
export interface WrapUp {
  /** A wrap-up code's id (see wrapUpCodes), not its name. */
  code: string;
  notes?: string;
}
export interface WrapUpOptions extends WrapUp, RequestOptions {}
export interface WrapUpCode { id: string; name?: string }
export interface PlaceCallOptions {
  /** Check the agent first (presence, routing status, station); refuse with "agent_unavailable" and place no call when they cannot take it. */
  requireAvailableAgent?: boolean;
  /** Applied to the agent participant when the call ends (inside waitForCall), exactly once. Needs callFromQueueId. */
  wrapUp?: WrapUp;
}
export interface PlaceCallResult {
  /** The check made before dialling, with requireAvailableAgent. */
  agent?: AgentAvailability;
}
export interface GenesysError {
  /** For "agent_unavailable": why the agent cannot take the call. */
  reason?: AgentReason;
}
export interface GenesysClient {
  // Overloads merged into the class: the arguments after the first may be left out.
  checkAgent(userId?: string, options?: CheckAgentOptions): Promise<AgentAvailability>;
  wrapUpCodes(conversationId: string, options?: RequestOptions): Promise<WrapUpCode[]>;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(message: &str);
}

/// placeCall went ahead despite warnings (a lookup Genesys refused, an Away
/// agent): said on the console as well as in `result.agent.warnings`, so a
/// missing permission never goes unnoticed.
pub(super) fn warn_about(check: &AgentCheck) {
    for w in &check.warnings {
        console_warn(
            &[
                "genesys-click-to-call: placeCall for agent ",
                &check.user_id,
                ": ",
                w,
            ]
            .concat(),
        );
    }
}

/// placeCall's nested `wrapUp`: serde-wasm-bindgen reads only the keys a type
/// names, so a misspelt one (`note`) is refused here, as on the host.
pub(super) fn refuse_unknown_wrap_up_keys(options: &JsValue) -> Result<(), Error> {
    if !options.is_object() {
        return Ok(());
    }
    let w = Reflect::get(options, &"wrapUp".into()).unwrap_or(JsValue::UNDEFINED);
    refuse_unknown_keys(&w, &["code", "notes"], "wrapUp")
}

#[wasm_bindgen]
impl GenesysClient {
    /// Can the agent (default: the signed-in one) take a call now? Presence,
    /// routing status and station in one burst, reused for a few seconds.
    #[wasm_bindgen(js_name = checkAgent, unchecked_return_type = "Promise<AgentAvailability>")]
    pub fn check_agent(
        &self,
        #[wasm_bindgen(js_name = userId)] user_id: Option<String>,
        #[wasm_bindgen(unchecked_param_type = "CheckAgentOptions")] options: Option<JsValue>,
    ) -> Promise {
        let options = options.unwrap_or(JsValue::UNDEFINED);
        let parsed = (|| {
            let user = user_id
                .as_deref()
                .map(|u| EntityId::parse(u, "userId"))
                .transpose()?;
            let o: CheckAgentOptions<Js> = from_js(&options, "checkAgent")?;
            Ok((user, o.validate()?, signal_of(o.signal)?))
        })();
        let (user, acd, signal) = match parsed {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            let check = until_cancelled(
                client.check_agent(user.as_ref(), acd),
                abort_signal_fired(signal),
            )
            .await
            .unwrap_or_else(|| Err(aborted("checkAgent")))
            .map_err(to_js_error)?;
            Ok(to_js(&check))
        })
    }

    /// Applies a wrap-up code to the call's agent participant now (during or
    /// after the call); it replaces a wrap-up given to placeCall. Refused with
    /// `invalid_input` before any PATCH when the call has no such code.
    #[wasm_bindgen(js_name = wrapUp, unchecked_return_type = "Promise<void>")]
    pub fn wrap_up(
        &self,
        #[wasm_bindgen(js_name = conversationId)] conversation_id: &str,
        #[wasm_bindgen(unchecked_param_type = "WrapUpOptions")] options: JsValue,
    ) -> Promise {
        let parsed = EntityId::parse(conversation_id, "conversationId").and_then(|id| {
            let o: WrapUpInput<Js> = from_js(&options, "wrapUp")?;
            Ok((id, o.validate("wrapUp")?, signal_of(o.signal)?))
        });
        let (id, wrap, signal) = match parsed {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            until_cancelled(client.wrap_up(&id, &wrap), abort_signal_fired(signal))
                .await
                .unwrap_or_else(|| Err(aborted("wrapUp")))
                .map_err(to_js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The wrap-up codes the call's agent may use: the queue's codes, `[]`
    /// for a call placed without `callFromQueueId`.
    #[wasm_bindgen(js_name = wrapUpCodes, unchecked_return_type = "Promise<WrapUpCode[]>")]
    pub fn wrap_up_codes(
        &self,
        #[wasm_bindgen(js_name = conversationId)] conversation_id: &str,
        #[wasm_bindgen(unchecked_param_type = "RequestOptions")] options: Option<JsValue>,
    ) -> Promise {
        let options = options.unwrap_or(JsValue::UNDEFINED);
        let parsed = EntityId::parse(conversation_id, "conversationId").and_then(|id| {
            let o: RequestOptions<Js> = from_js(&options, "wrapUpCodes")?;
            Ok((id, signal_of(o.signal)?))
        });
        let (id, signal) = match parsed {
            Ok(x) => x,
            Err(e) => return reject(e),
        };
        let client = self.inner.clone();
        promise(async move {
            let codes = until_cancelled(client.wrap_up_codes(&id), abort_signal_fired(signal))
                .await
                .unwrap_or_else(|| Err(aborted("wrapUpCodes")))
                .map_err(to_js_error)?;
            Ok(to_js(&codes))
        })
    }
}
