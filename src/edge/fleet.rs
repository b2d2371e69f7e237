//! Where the edge's coordinated state lives, behind one trait: the number and
//! address desks (`admission`) and the gateway (`gateway`).
//!
//! - [`LocalFleet`]: all of it in this instance's memory. Guarantees hold per
//!   instance (tests, Deno without DENO_KV, workerd without Durable Object
//!   bindings).
//! - On Cloudflare with the bindings, `wasm::edge` implements [`Fleet`] by
//!   sending the same commands, as JSON, to Durable Objects: one per number,
//!   one per client address, one per OAuth client. There, the same Rust types
//!   answer them (`NumberDesk::apply`, `AddressDesk::apply`, [`run_gateway`]),
//!   so the decisions are the ones tested here.
//! - On Deno with a KV store, the same desk commands go through the shell to
//!   the same desks kept in Deno KV (`edge/deno-kv.js`), and the gateway stays
//!   in the instance ([`Scope::Admission`]).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::admission::{
    AddressAnswer, AddressCommand, AddressDesk, NumberAnswer, NumberCommand, NumberDesk,
};
use super::config::EdgeConfig;
use super::gateway::{Availability, FollowUp, Gateway, Readiness, StatusView};
use crate::call::{EntityId, E164};
use crate::error::{Error, ErrorCode};
use crate::flow::{Clock, Http};

/// Whether the edge's guarantees hold for the whole fleet or this instance only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Fleet,
    /// The desks are shared (Deno KV), the gateway is not: admission —
    /// idempotency, the per-number cap, the settle window, the rate limits —
    /// holds fleet-wide; the token, the Genesys budget, the read cache and
    /// push tracking per instance.
    Admission,
    Instance,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Fleet => "fleet",
            Scope::Admission => "admission",
            Scope::Instance => "instance",
        }
    }
}

/// A coordinator could not be reached (a Durable Object failed or was reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "command",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum GatewayCommand {
    Place {
        number: String,
    },
    Read {
        conversation: String,
    },
    Watch {
        conversation: String,
        cursor: String,
        wait_ms: u64,
    },
    HangUp {
        conversation: String,
    },
    Find {
        number: String,
        since: u64,
    },
    Ready,
    /// Reads the followed calls that are due and wraps up the ended ones.
    FollowUp,
    Availability,
    ScheduleCallback {
        number: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<String>,
    },
    ReadCallback {
        conversation: String,
    },
    CancelCallback {
        conversation: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "answer",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum GatewayAnswer {
    Placed {
        conversation: String,
        /// The agent check's warnings (a lookup refused: availability unknown).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    Scheduled {
        conversation: String,
    },
    Callback {
        json: String,
        ended: bool,
    },
    FollowedUp {
        follow: FollowUp,
    },
    Available {
        availability: Availability,
    },
    Status {
        view: StatusView,
        /// The first time this gateway hands out the call's end.
        first_end: bool,
    },
    Quiet,
    Done,
    Found {
        conversation: Option<String>,
    },
    Ready {
        readiness: Readiness,
    },
    Failed {
        error: WireError,
    },
}

/// An [`Error`] on its way between a Durable Object and an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireError {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&Error> for WireError {
    fn from(e: &Error) -> WireError {
        WireError {
            code: e.code.as_str().to_string(),
            message: e.message.clone(),
            status: e.status,
            retry_after_ms: e.retry_after_ms,
            context_id: e.context_id.clone(),
            reason: e.reason.map(str::to_string),
        }
    }
}

impl From<WireError> for Error {
    fn from(w: WireError) -> Error {
        let code = ErrorCode::ALL
            .into_iter()
            .find(|c| c.as_str() == w.code)
            .unwrap_or(ErrorCode::ServerError);
        Error {
            code,
            message: w.message,
            status: w.status,
            retry_after_ms: w.retry_after_ms,
            context_id: w.context_id,
            // Only the keys this library defines cross back (they are `&'static`).
            reason: w.reason.and_then(|r| {
                crate::agent::Reason::ALL
                    .into_iter()
                    .map(crate::agent::Reason::as_str)
                    .find(|k| *k == r)
            }),
        }
    }
}

/// How the service reaches its coordinated state.
#[allow(async_fn_in_trait)]
pub trait Fleet {
    type Http: Http;
    type Clock: Clock;
    fn clock(&self) -> &Self::Clock;
    /// For requests outside Genesys (Turnstile).
    fn http(&self) -> &Self::Http;
    fn scope(&self) -> Scope;
    async fn number(&self, name: &str, cmd: NumberCommand) -> Result<NumberAnswer, Unavailable>;
    async fn address(&self, name: &str, cmd: AddressCommand) -> Result<AddressAnswer, Unavailable>;
    async fn gateway(&self, cmd: GatewayCommand) -> Result<GatewayAnswer, Unavailable>;
}

/// Runs one gateway command (in this instance, or in the Durable Object).
pub async fn run_gateway<H: Http, C: Clock>(
    g: &Gateway<H, C>,
    cmd: GatewayCommand,
) -> GatewayAnswer {
    answer_gateway(g, cmd)
        .await
        .unwrap_or_else(|e| GatewayAnswer::Failed { error: (&e).into() })
}

/// A gateway command's answer; a bad argument or a failed request is its
/// error (one `Failed` answer, made by `run_gateway`).
async fn answer_gateway<H: Http, C: Clock>(
    g: &Gateway<H, C>,
    cmd: GatewayCommand,
) -> Result<GatewayAnswer, Error> {
    let id = |c: &str| EntityId::parse(c, "conversation");
    Ok(match cmd {
        GatewayCommand::Place { number } => {
            let (c, warnings) = g.place(&E164::parse(&number, "phoneNumber")?).await?;
            GatewayAnswer::Placed {
                conversation: c.as_str().to_string(),
                warnings,
            }
        }
        GatewayCommand::Read { conversation } => {
            let (v, first_end) = g.read(&id(&conversation)?).await?;
            GatewayAnswer::Status {
                view: (*v).clone(),
                first_end,
            }
        }
        GatewayCommand::Watch {
            conversation,
            cursor,
            wait_ms,
        } => match g
            .watch(&id(&conversation)?, &cursor, wait_ms.min(60_000))
            .await?
        {
            (Some(v), first_end) => GatewayAnswer::Status {
                view: (*v).clone(),
                first_end,
            },
            (None, _) => GatewayAnswer::Quiet,
        },
        GatewayCommand::HangUp { conversation } => {
            g.hang_up(&id(&conversation)?).await?;
            GatewayAnswer::Done
        }
        GatewayCommand::Find { number, since } => GatewayAnswer::Found {
            conversation: g
                .find(&number, since)
                .await?
                .map(|c| c.as_str().to_string()),
        },
        GatewayCommand::Ready => {
            let mut readiness = g.ready().await?;
            readiness.tracking = Some(g.tracking().as_str().to_string());
            GatewayAnswer::Ready { readiness }
        }
        GatewayCommand::FollowUp => GatewayAnswer::FollowedUp {
            follow: g.follow_up().await,
        },
        GatewayCommand::Availability => GatewayAnswer::Available {
            availability: g.availability().await?,
        },
        GatewayCommand::ScheduleCallback { number, at } => {
            let n = E164::parse(&number, "phoneNumber")?;
            let at = at
                .as_deref()
                .map(|a| crate::callback::CallbackTime::parse(a, "at"))
                .transpose()?;
            GatewayAnswer::Scheduled {
                conversation: g.schedule_callback(&n, at).await?.as_str().to_string(),
            }
        }
        GatewayCommand::ReadCallback { conversation } => {
            let (json, ended) = g.read_callback(&id(&conversation)?).await?;
            GatewayAnswer::Callback { json, ended }
        }
        GatewayCommand::CancelCallback { conversation } => {
            g.cancel_callback(&id(&conversation)?).await?;
            GatewayAnswer::Done
        }
    })
}

/// Desks kept in one instance at most; past this, new numbers or addresses
/// are refused (busy) rather than memory growing without bound.
const MAX_DESKS: usize = 50_000;

/// Desks in memory: the number's or address's state machine, by name, with
/// when each was last used.
pub struct Desks<D> {
    desks: RefCell<HashMap<String, (D, u64)>>,
    ops: Cell<u32>,
}

impl<D> Default for Desks<D> {
    // (derive would require D: Default for no reason)
    fn default() -> Self {
        Desks {
            desks: RefCell::new(HashMap::new()),
            ops: Cell::new(0),
        }
    }
}

impl<D: Default> Desks<D> {
    /// Applies `f` to the named desk at `now`; drops the desk once it holds
    /// nothing, and sweeps all of them now and then (`empty` prunes one desk
    /// and says whether anything is left). When memory is full, the desks
    /// unused longest go first, as long as `quiet` says nothing depends on
    /// them right now (only old records, no call in flight or unsettled).
    pub fn with<A>(
        &self,
        name: &str,
        now: u64,
        f: impl FnOnce(&mut D) -> A,
        empty: impl Fn(&mut D) -> bool,
        quiet: impl Fn(&D) -> bool,
    ) -> Result<A, Unavailable> {
        let mut desks = self.desks.borrow_mut();
        let n = self.ops.get().wrapping_add(1);
        self.ops.set(n);
        if n % 1024 == 0 || desks.len() >= MAX_DESKS {
            desks.retain(|_, (d, _)| !empty(d));
        }
        if desks.len() >= MAX_DESKS && !desks.contains_key(name) {
            let mut idle: Vec<(u64, String)> = desks
                .iter()
                .filter(|(_, (d, _))| quiet(d))
                .map(|(k, (_, used))| (*used, k.clone()))
                .collect();
            idle.sort_unstable();
            for (_, k) in idle.into_iter().take(MAX_DESKS / 10) {
                desks.remove(&k);
            }
            if desks.len() >= MAX_DESKS {
                return Err(Unavailable("too many desks in memory".into()));
            }
        }
        let (d, used) = desks.entry(name.to_string()).or_default();
        *used = now;
        let answer = f(d);
        if empty(d) {
            desks.remove(name);
        }
        Ok(answer)
    }

    pub fn len(&self) -> usize {
        self.desks.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Everything in this instance's memory.
pub struct LocalFleet<H, C> {
    pub gateway: Gateway<H, C>,
    pub numbers: Desks<NumberDesk>,
    pub addresses: Desks<AddressDesk>,
}

impl<H: Http, C: Clock> LocalFleet<H, C> {
    pub fn new(http: H, clock: C, cfg: &EdgeConfig) -> LocalFleet<H, C> {
        LocalFleet {
            gateway: Gateway::new(http, clock, cfg),
            numbers: Desks::default(),
            addresses: Desks::default(),
        }
    }
}

impl<H: Http, C: Clock> Fleet for LocalFleet<H, C> {
    type Http = H;
    type Clock = C;

    fn clock(&self) -> &C {
        self.gateway.clock()
    }

    fn http(&self) -> &H {
        self.gateway.http()
    }

    fn scope(&self) -> Scope {
        Scope::Instance
    }

    async fn number(&self, name: &str, cmd: NumberCommand) -> Result<NumberAnswer, Unavailable> {
        let now = self.clock().now_ms();
        self.numbers.with(
            name,
            now,
            |d| d.apply(cmd, now),
            |d| {
                d.apply(NumberCommand::Expire, now);
                d.is_empty()
            },
            NumberDesk::is_quiet,
        )
    }

    async fn address(&self, name: &str, cmd: AddressCommand) -> Result<AddressAnswer, Unavailable> {
        let now = self.clock().now_ms();
        self.addresses.with(
            name,
            now,
            |d| d.apply(cmd, now),
            |d| {
                d.apply(AddressCommand::Expire, now);
                d.is_empty()
            },
            |_| true,
        )
    }

    async fn gateway(&self, cmd: GatewayCommand) -> Result<GatewayAnswer, Unavailable> {
        Ok(run_gateway(&self.gateway, cmd).await)
    }
}

/// Several services sharing one fleet: how host tests stand in for isolates
/// sharing Durable Objects (each service is one "isolate").
impl<F: Fleet> Fleet for Rc<F> {
    type Http = F::Http;
    type Clock = F::Clock;

    fn clock(&self) -> &F::Clock {
        (**self).clock()
    }

    fn http(&self) -> &F::Http {
        (**self).http()
    }

    fn scope(&self) -> Scope {
        (**self).scope()
    }

    async fn number(&self, name: &str, cmd: NumberCommand) -> Result<NumberAnswer, Unavailable> {
        (**self).number(name, cmd).await
    }

    async fn address(&self, name: &str, cmd: AddressCommand) -> Result<AddressAnswer, Unavailable> {
        (**self).address(name, cmd).await
    }

    async fn gateway(&self, cmd: GatewayCommand) -> Result<GatewayAnswer, Unavailable> {
        (**self).gateway(cmd).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desks_stay_bounded_and_the_longest_unused_quiet_ones_go_first() {
        let desks: Desks<Vec<u8>> = Desks::default();
        let busy = |d: &Vec<u8>| d.is_empty();
        // One desk that must not go (not quiet), then a full house of quiet ones.
        desks
            .with("live", 0, |d| d.push(1), |_| false, |_| true)
            .unwrap();
        for i in 1..MAX_DESKS {
            desks
                .with(&i.to_string(), i as u64, |d| d.push(0), |_| false, busy)
                .unwrap();
        }
        assert_eq!(desks.len(), MAX_DESKS);
        // Full: the oldest quiet desks make room; the live one stays.
        desks
            .with(
                "new",
                MAX_DESKS as u64,
                |d| d.push(0),
                |_| false,
                |d| d.first() == Some(&0),
            )
            .unwrap();
        assert!(desks.len() <= MAX_DESKS);
        assert!(desks.desks.borrow().contains_key("live"));
        assert!(
            !desks.desks.borrow().contains_key("1"),
            "the longest unused went"
        );
        // Nothing quiet to drop: refused, never grown.
        let full: Desks<Vec<u8>> = Desks::default();
        for i in 0..MAX_DESKS {
            full.with(&i.to_string(), 0, |d| d.push(1), |_| false, |_| false)
                .unwrap();
        }
        assert!(full
            .with("one more", 1, |_| (), |_| false, |_| false)
            .is_err());
        assert_eq!(full.len(), MAX_DESKS);
    }
}
