//! The edge handler's logic: a public-internet front for placing calls on
//! behalf of one configured agent. Pure, host-tested Rust; the runtime entry
//! files in `edge/` and the `wasm::edge` exports only translate.
//!
//! `service` is the HTTP API; `admission` (per number, per client address)
//! and `gateway` (per OAuth client: token, budget, reads) hold the state that
//! must be one for the whole fleet, reached through `fleet` — in memory, or
//! in Durable Objects on Cloudflare.

pub mod admission;
pub mod api;
pub mod config;
pub mod fleet;
pub mod gateway;
pub mod handle;
pub mod hours;
pub mod limits;
pub mod numbering;
pub mod policy;
pub mod redact;
pub mod service;

pub use config::{EdgeConfig, Misconfigured};
pub use fleet::{Fleet, LocalFleet};
pub use service::{EdgeRequest, EdgeResponse, EdgeService, NextEvent};

/// The single-instance service (tests, Deno, workerd without bindings).
pub type LocalEdge<H, C> = EdgeService<LocalFleet<H, C>>;
