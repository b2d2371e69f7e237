//! The edge handler's logic: a public-internet front for placing calls on
//! behalf of one configured agent. Pure, host-tested Rust; the runtime entry
//! files in `edge/` and the `wasm::edge` exports only translate.

pub mod api;
pub mod config;
pub mod handle;
pub mod hours;
pub mod limits;
pub mod numbering;
pub mod policy;
pub mod service;

pub use config::{EdgeConfig, Misconfigured};
pub use service::{EdgeRequest, EdgeResponse, EdgeService};
