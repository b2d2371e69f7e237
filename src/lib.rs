//! Place an outbound Genesys Cloud call on behalf of an agent, and track it
//! until it connects or ends — from a browser, Node, workerd or Deno.
//!
//! The crate is a sans-IO core (every module but `flow` and `wasm` is pure and
//! host-tested), one orchestration (`flow`) generic over transport and clock,
//! and a thin wasm-bindgen shell (`wasm`, only on `wasm32`).

pub mod agent;
pub mod auth;
pub mod call;
pub mod callback;
// Not in the browser build: the edge handler is built separately (`--features edge`).
#[cfg(any(not(target_arch = "wasm32"), feature = "edge"))]
pub mod edge;
pub mod error;
pub mod flow;
pub mod http;
pub mod lookup;
pub mod options;
pub mod pkce;
pub mod poll;
pub mod push;
pub mod region;
pub mod retry;
pub mod settle;
pub mod status;
pub mod wire;
pub mod wrapup;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::{Error, ErrorCode};
