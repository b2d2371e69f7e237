//! The gateway: every Genesys request the edge makes goes through one of
//! these, behind one token and one request budget per OAuth client.
//!
//! - **Fail fast.** A request waits at most `BUDGET_WAIT_MS` (2 s) for a
//!   budget slot, then fails with a `rate_limited` error without an HTTP
//!   status (`flow::is_budget_busy`), which the service answers `503 busy`.
//! - **Calls before reads.** Reads may only use the budget's read share; the
//!   create-call POST and the hang-up have the rest (`poll::RateBudget`).
//! - **One read per call per interval.** Every reader of a conversation —
//!   status GETs and SSE watchers alike — shares one upstream read per poll
//!   interval; the interval stretches with the number of calls being
//!   watched so that together they stay inside the read share. An ended
//!   call's final status is kept, so its handle no longer reaches Genesys.
//! - **Readiness.** A token and one read of the agent, cached.
//! - **The agent first.** With `REQUIRE_AVAILABLE_AGENT` (default on) every
//!   create-call POST is preceded by the flow's agent check (one budgeted
//!   burst, cached a few seconds); a refusal sends no POST.
//! - **Wrap-up, followed to the end.** With `WRAPUP_CODE_ID`, every call
//!   placed here is remembered until it ends, whether or not anyone watches
//!   it: `follow_up` (driven by the Durable Object's alarm, or by the shell's
//!   background task single-instance) reads the due ones through the shared
//!   cache and applies the wrap-up once each has ended — taken off the list
//!   before the PATCH, so exactly once.
//!
//! Single-instance, the service owns a gateway; on Cloudflare it lives in the
//! per-OAuth-client Durable Object, so the token, the budget and the read
//! cache are one for the whole fleet.
//!
//! - **Push tracking** (issue #11, with [`Gateway::with_websocket`]): the
//!   gateway's client holds ONE Notifications channel and socket for the
//!   OAuth client; the agent's topic is subscribed before each create-call
//!   POST, and every `watch` of every call is answered from that one socket
//!   (a call is read only to reconcile after a (re)subscribe). When push
//!   cannot work (no socket, topic rejected, channel refused or lost
//!   repeatedly), `watch` polls as before and writes the same views.
//!
//! No polling future here is ever woken by another request's work: waiting
//! for a read another reader started polls the cache on the waiter's own
//! timer (workerd cancels requests whose promises are resolved from another
//! request's context). Push watches are woken by whichever watch drives the
//! socket, so push runs only where requests share one I/O context: the
//! gateway's Durable Object, and Deno (`wasm::edge` gives a workerd isolate
//! without the binding no socket).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::api::PublicStatus;
use super::config::EdgeConfig;
use crate::call::{ConversationId, EntityId, PlaceCall, E164};
use crate::callback::{CallbackTime, ScheduleCallback, WaitMedia};
use crate::error::{Error, ErrorCode};
use crate::flow::agent::AgentCallOptions;
use crate::flow::single_flight::{SingleFlight, Turn};
use crate::flow::{is_budget_busy, Client, ClientOptions, Clock, Connector, Http, PushWatch};
use crate::http::{HttpRequest, Method};
use crate::push::{PushOptions, Tracking};
use crate::status::{CallStatus, Phase};
use crate::wire::{decode, encode};
use crate::wrapup::WrapUp;

/// What a visitor may see of a call, computed once per upstream read and
/// shared by every reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// The public status JSON (phases and leg states, no names or ids).
    pub json: String,
    /// Changes whenever anything shown changes (for SSE cursors).
    pub fingerprint: String,
    pub ended: bool,
}

/// Which piece of the configuration a failed readiness check points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    /// `None` when ready; otherwise what failed, by name (never a value).
    pub failing: Option<String>,
    /// How calls are followed right now: `push` or `poll`.
    #[serde(default)]
    pub tracking: Option<String>,
}

/// How long a readiness result is reused: ready, and not.
const READY_TTL_MS: u64 = 60_000;
const NOT_READY_TTL_MS: u64 = 10_000;
/// A conversation Genesys does not know is not asked about again for this long.
const MISSING_TTL_MS: u64 = 10_000;
/// Calls not read for this long are forgotten (unless ended: see `ended_keep_ms`).
const IDLE_MS: u64 = 5 * 60_000;
/// A call counts as watched (for the poll interval) while read within this.
const WATCHED_MS: u64 = 30_000;
/// At most this many calls are cached.
const MAX_ENTRIES: usize = 10_000;
/// How often a reader waiting for another reader's read looks again.
const SHARE_POLL_MS: u64 = 15;

/// What one look through the push channel found.
enum Pushed {
    /// A status the watcher did not have (and whether it is the first end).
    Status(Rc<StatusView>, bool),
    /// Nothing new within the wait (or the budget is spent).
    Quiet,
    /// Push cannot follow the call: poll.
    Poll,
}

/// How long a status read waits for the push channel's answer (a call the
/// channel has not covered yet costs one reconcile read) before reading.
const PUSH_READ_WAIT_MS: u64 = 5_000;
/// A call followed for its wrap-up is given up after this long without ending.
const FOLLOW_MAX_MS: u64 = 4 * 3_600_000;
/// A wrap-up Genesys refused is tried this many times, then given up (logged).
const WRAP_UP_ATTEMPTS: u32 = 5;
/// Calls followed at most (each is one small record).
const MAX_FOLLOWED: usize = 10_000;
/// How long the availability (agent and queue wait) is reused.
const AVAILABILITY_TTL_MS: u64 = 5_000;

/// A call placed here whose wrap-up is still to be applied (stored by the
/// Durable Object, so a restart does not lose it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Followed {
    pub conversation: String,
    pub since: u64,
    pub next_at: u64,
    #[serde(default)]
    pub attempts: u32,
}

/// What one `follow_up` pass did: when to run again, and log lines.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowUp {
    /// Epoch ms of the next due call; `None`: nothing left to follow.
    pub next_wake: Option<u64>,
    pub log: Vec<String>,
}

#[derive(Serialize)]
struct FollowLine<'a> {
    event: &'static str,
    conversation: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

/// The agent's and the queue's availability, as `/v1/availability` needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Availability {
    /// `Some(false)`: the agent cannot take a call now; `None`: unknown.
    pub agent_available: Option<bool>,
    pub reason: String,
    /// The queue's estimated wait for a callback, when Genesys can estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_wait_seconds: Option<u64>,
}

/// Just the outcome of a public status (for the wrap-up notes).
#[derive(Deserialize)]
struct OutcomeOnly {
    #[serde(default)]
    outcome: Option<String>,
}

/// The channel's socket is closed after this long with no call watched or
/// placed (an open socket keeps a Durable Object awake and billed).
const PUSH_LINGER_MS: u64 = 60_000;

#[derive(Default)]
struct Entry {
    view: Option<Rc<StatusView>>,
    fetched_at: u64,
    fetching: bool,
    wanted_at: u64,
    missing_until: u64,
    end_reported: bool,
}

pub struct Gateway<H, C> {
    client: Client<H, C>,
    agent: EntityId,
    caller_id: Option<E164>,
    caller_id_name: Option<String>,
    queue_id: Option<EntityId>,
    budget_wait_ms: u64,
    ended_keep_ms: u64,
    cache: RefCell<HashMap<String, Entry>>,
    /// (when computed, the shared poll interval).
    interval: Cell<(u64, u64)>,
    ready: RefCell<Option<(u64, Readiness)>>,
    checking: SingleFlight,
    ops: Cell<u32>,
    require_available_agent: bool,
    wrap_up: Option<WrapUp>,
    follow_ms: u64,
    followed: RefCell<Vec<Followed>>,
    availability: RefCell<Option<(u64, Availability)>>,
}

/// Clears an entry's "fetching" flag however the read ends (including when
/// the reader's request is cancelled), so another reader takes over.
struct Fetching<'a> {
    cache: &'a RefCell<HashMap<String, Entry>>,
    key: &'a str,
}

impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        if let Some(e) = self.cache.borrow_mut().get_mut(self.key) {
            e.fetching = false;
        }
    }
}

impl<H: Http, C: Clock> Gateway<H, C> {
    pub fn new(http: H, clock: C, cfg: &EdgeConfig) -> Gateway<H, C> {
        let creds = crate::auth::Credentials::ClientCredentials {
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
        };
        let mut opts = ClientOptions::new(cfg.endpoints.clone(), creds);
        opts.requests_per_minute = cfg.requests_per_minute;
        opts.poll_interval_ms = cfg.poll_interval_ms;
        opts.request_timeout_ms = cfg.request_timeout_ms;
        // A visitor is answered within the bound, never held for a slot or a
        // long Retry-After.
        opts.max_budget_wait_ms = Some(cfg.budget_wait_ms);
        opts.retry.max_retry_ms = cfg.budget_wait_ms;
        opts.push = edge_push_options();
        // The number desks keep the settle window fleet-wide (admission.rs),
        // with the deployment's own length; one per gateway would second-guess them.
        opts.settle_ms = 0;
        Gateway {
            client: Client::new(http, clock, opts),
            agent: cfg.agent.clone(),
            caller_id: cfg.caller_id.clone(),
            caller_id_name: cfg.caller_id_name.clone(),
            queue_id: cfg.queue_id.clone(),
            budget_wait_ms: cfg.budget_wait_ms,
            ended_keep_ms: cfg.handle_ttl_secs * 1000,
            cache: RefCell::new(HashMap::new()),
            interval: Cell::new((0, cfg.poll_interval_ms)),
            ready: RefCell::new(None),
            checking: SingleFlight::default(),
            ops: Cell::new(0),
            require_available_agent: cfg.require_available_agent,
            wrap_up: cfg.wrap_up.clone(),
            // A few status reads' worth: an ended call is wrapped up within seconds.
            follow_ms: (cfg.poll_interval_ms * 5).clamp(100, 30_000),
            followed: RefCell::new(Vec::new()),
            availability: RefCell::new(None),
        }
    }

    /// Follows calls by push over sockets from `connector` (one channel and
    /// one socket for this gateway), polling only as the fall-back. `push`:
    /// the timings ([`edge_push_options`] in production; tests scale them).
    pub fn with_websocket(
        mut self,
        connector: Box<dyn Connector>,
        push: PushOptions,
    ) -> Gateway<H, C> {
        self.client = self
            .client
            .with_push_options(push)
            .with_websocket(connector);
        self
    }

    /// How calls are followed right now.
    pub fn tracking(&self) -> Tracking {
        if self.client.push_usable() {
            Tracking::Push
        } else {
            Tracking::Poll
        }
    }

    /// The client (tests read its push hub through it).
    pub fn client(&self) -> &Client<H, C> {
        &self.client
    }

    pub fn clock(&self) -> &C {
        self.client.clock()
    }

    pub fn http(&self) -> &H {
        self.client.http()
    }

    fn now(&self) -> u64 {
        self.client.clock().now_ms()
    }

    /// The budget's send times (persisted by the Durable Object).
    pub fn budget_sent(&self) -> Vec<u64> {
        self.client.budget_sent()
    }

    pub fn restore_budget(&self, sent: Vec<u64>) {
        self.client.restore_budget(sent)
    }

    /// The create-call POST on behalf of the configured agent: exactly one,
    /// or none with an error (`outcome_unknown` when it may have dialled).
    /// First the agent check (when required): `agent_unavailable` sends no
    /// POST; an unknown availability (a lookup refused with 403) lets the
    /// call go ahead, and its warnings come back for the log.
    pub async fn place(&self, number: &E164) -> Result<(ConversationId, Vec<String>), Error> {
        let mut call = PlaceCall::new(number.clone());
        call.on_behalf_of = Some(self.agent.clone());
        call.caller_id = self.caller_id.clone();
        call.caller_id_name = self.caller_id_name.clone();
        call.call_from_queue_id = self.queue_id.clone();
        // The check is made here (one at a time, see `agent_check`), then
        // the flow's place_call_for_agent sends the POST.
        let check = if self.require_available_agent {
            let check = self.agent_check().await?;
            if check.available == Some(false) {
                return Err(crate::agent::refusal(&check));
            }
            Some(check)
        } else {
            None
        };
        let opts = AgentCallOptions {
            require_available_agent: false,
            wrap_up: None,
        };
        let mut placed = self
            .client
            .place_call_for_agent(&call, &opts, std::future::pending())
            .await?;
        placed.agent = check;
        if self.wrap_up.is_some() {
            let now = self.now();
            let mut followed = self.followed.borrow_mut();
            if followed.len() >= MAX_FOLLOWED {
                followed.remove(0);
            }
            followed.push(Followed {
                conversation: placed.conversation_id.as_str().to_string(),
                since: now,
                next_at: now + self.follow_ms,
                attempts: 0,
            });
        }
        let warnings = placed.agent.map(|a| a.warnings).unwrap_or_default();
        Ok((placed.conversation_id, warnings))
    }

    /// Calls whose wrap-up is still to be applied (the Durable Object stores them).
    pub fn followed(&self) -> Vec<Followed> {
        self.followed.borrow().clone()
    }

    pub fn restore_followed(&self, f: Vec<Followed>) {
        *self.followed.borrow_mut() = f;
    }

    /// When `follow_up` is next due (epoch ms), if anything is followed.
    pub fn next_follow_up(&self) -> Option<u64> {
        self.followed.borrow().iter().map(|f| f.next_at).min()
    }

    /// Reads every followed call that is due (through the shared cache) and
    /// wraps up those that ended. Each is taken off the list before its
    /// wrap-up is sent, so two passes never apply it twice; a failure puts it
    /// back for a later pass (at most `WRAP_UP_ATTEMPTS` times).
    pub async fn follow_up(&self) -> FollowUp {
        let mut log = Vec::new();
        let Some(wrap) = self.wrap_up.clone() else {
            self.followed.borrow_mut().clear();
            return FollowUp::default();
        };
        let now = self.now();
        let due: Vec<Followed> = {
            let mut followed = self.followed.borrow_mut();
            let (due, later): (Vec<_>, Vec<_>) = followed.drain(..).partition(|f| f.next_at <= now);
            *followed = later;
            due
        };
        let line = |event, f: &Followed, e: Option<&Error>| {
            let detail = e.map(|e| [e.code.as_str(), ": ", &e.message].concat());
            encode(&FollowLine {
                event,
                conversation: &f.conversation,
                code: Some(wrap.code.as_str()),
                detail: detail.as_deref(),
            })
        };
        for mut f in due {
            let Ok(id) = EntityId::parse(&f.conversation, "conversation") else {
                continue;
            };
            let again = |f: &mut Followed, after: u64| {
                f.next_at = self.now() + after;
                self.followed.borrow_mut().push(f.clone());
            };
            let view = match self.read_shared(&id, false).await {
                Ok((v, _)) => v,
                Err(e) if is_budget_busy(&e) => {
                    again(&mut f, 1_000);
                    continue;
                }
                Err(e) if e.code == ErrorCode::NotFound => {
                    log.push(line("wrap-up dropped", &f, Some(&e)));
                    continue;
                }
                Err(e) => {
                    f.attempts += 1;
                    if f.attempts >= WRAP_UP_ATTEMPTS {
                        log.push(line("wrap-up dropped", &f, Some(&e)));
                    } else {
                        let backoff = self.follow_ms * u64::from(f.attempts + 1);
                        again(&mut f, backoff);
                    }
                    continue;
                }
            };
            if !view.ended {
                if self.now().saturating_sub(f.since) >= FOLLOW_MAX_MS {
                    log.push(line("wrap-up dropped: the call never ended", &f, None));
                } else {
                    again(&mut f, self.follow_ms);
                }
                continue;
            }
            let outcome = decode::<OutcomeOnly>(&view.json)
                .ok()
                .and_then(|o| o.outcome)
                .unwrap_or_else(|| "unknown".into());
            let this = WrapUp {
                code: wrap.code.clone(),
                notes: wrap.notes.as_ref().map(|n| {
                    n.replace("{conversationId}", id.as_str())
                        .replace("{outcome}", &outcome)
                }),
            };
            match self.client.wrap_up(&id, &this).await {
                Ok(()) => log.push(line("wrap-up applied", &f, None)),
                Err(e) if is_budget_busy(&e) => again(&mut f, 1_000),
                Err(e) => {
                    f.attempts += 1;
                    if f.attempts >= WRAP_UP_ATTEMPTS {
                        log.push(line("wrap-up dropped", &f, Some(&e)));
                    } else {
                        log.push(line("wrap-up failed, will retry", &f, Some(&e)));
                        let backoff = self.follow_ms * u64::from(f.attempts + 1);
                        again(&mut f, backoff);
                    }
                }
            }
        }
        FollowUp {
            next_wake: self.next_follow_up(),
            log,
        }
    }

    /// The flow's agent check (single-flight there: a burst shares one set
    /// of lookups, each waiter on its own timer).
    async fn agent_check(&self) -> Result<crate::agent::AgentCheck, Error> {
        self.client
            .check_agent(Some(&self.agent), self.queue_id.is_some())
            .await
    }

    /// The agent's availability and the queue's estimated callback wait,
    /// shared for a few seconds (so every page view can ask).
    pub async fn availability(&self) -> Result<Availability, Error> {
        let now = self.now();
        if let Some((at, a)) = self.availability.borrow().as_ref() {
            if now.saturating_sub(*at) < AVAILABILITY_TTL_MS {
                return Ok(a.clone());
            }
        }
        let check = self.agent_check().await?;
        let estimated_wait_seconds = match &self.queue_id {
            Some(q) => match self.client.estimated_wait(q, WaitMedia::Callback).await {
                Ok(w) => w,
                // An estimate is a nicety: without it the page shows none.
                Err(e) if is_budget_busy(&e) => return Err(e),
                Err(_) => None,
            },
            None => None,
        };
        let a = Availability {
            agent_available: check.available,
            reason: check.reason.as_str().to_string(),
            estimated_wait_seconds,
        };
        *self.availability.borrow_mut() = Some((self.now(), a.clone()));
        Ok(a)
    }

    /// A queue callback to `number` at `at` (`None`: as soon as possible):
    /// exactly one create POST, or none with an error.
    pub async fn schedule_callback(
        &self,
        number: &E164,
        at: Option<CallbackTime>,
    ) -> Result<ConversationId, Error> {
        let Some(queue) = &self.queue_id else {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                &["callbacks need GENESYS_QUEUE_ID"],
            ));
        };
        let mut cb = ScheduleCallback::new(number.clone(), queue.clone());
        cb.at = at;
        let scheduled = self
            .client
            .schedule_callback(&cb, std::future::pending())
            .await?;
        Ok(scheduled.conversation_id)
    }

    /// The callback's normalized status JSON, and whether it is over.
    pub async fn read_callback(&self, id: &ConversationId) -> Result<(String, bool), Error> {
        let (status, _) = self.client.get_callback(id).await?;
        Ok((
            encode(&super::api::PublicCallback::of(&status)),
            status.phase == crate::callback::CallbackPhase::Ended,
        ))
    }

    pub async fn cancel_callback(&self, id: &ConversationId) -> Result<(), Error> {
        self.client
            .cancel_callback(id, std::future::pending())
            .await
    }

    /// The call's status, from the shared cache when it is fresh. The flag is
    /// true the first time this gateway hands out an ended status (so the
    /// number's coordinator is told once).
    /// While push is live the status comes from the channel (a call it has
    /// not covered yet is reconciled once, then followed): no polling.
    pub async fn read(&self, id: &ConversationId) -> Result<(Rc<StatusView>, bool), Error> {
        if self.client.push_usable() {
            // Any status is news to a reader with no cursor.
            if let Pushed::Status(v, first_end) = self.watch_push(id, "", PUSH_READ_WAIT_MS).await?
            {
                return Ok((v, first_end));
            }
        }
        self.read_shared(id, true).await
    }

    /// `read`; `report`: false for the wrap-up follower, which must not take
    /// the "first end" that tells the number's coordinator from a watcher.
    async fn read_shared(
        &self,
        id: &ConversationId,
        report: bool,
    ) -> Result<(Rc<StatusView>, bool), Error> {
        self.housekeeping();
        let key = id.as_str();
        let mut waited = 0u64;
        loop {
            let now = self.now();
            let fresh = self.interval_ms(now);
            {
                let mut cache = self.cache.borrow_mut();
                let e = cache.entry(key.to_string()).or_default();
                e.wanted_at = now;
                if now < e.missing_until {
                    return Err(missing());
                }
                if let Some(v) = &e.view {
                    if v.ended || now.saturating_sub(e.fetched_at) < fresh {
                        let first_end = report && v.ended && !e.end_reported;
                        e.end_reported |= report && v.ended;
                        return Ok((v.clone(), first_end));
                    }
                }
                if !e.fetching {
                    e.fetching = true;
                    break;
                }
                // Another reader is reading it: serve what we have, or wait
                // (polling on our own timer) within the bound.
                if let Some(v) = &e.view {
                    return Ok((v.clone(), false));
                }
            }
            if waited >= self.budget_wait_ms {
                return Err(busy(1_000));
            }
            self.client.clock().sleep(SHARE_POLL_MS).await;
            waited += SHARE_POLL_MS;
        }
        let _fetching = Fetching {
            cache: &self.cache,
            key,
        };
        let result = self.client.get_call(id).await;
        let now = self.now();
        let mut cache = self.cache.borrow_mut();
        let e = cache.entry(key.to_string()).or_default();
        match result {
            Ok((status, _raw)) => Ok(keep(e, &status, Tracking::Poll, now, report)),
            // The budget is spent: what we knew is better than nothing.
            Err(err) if is_budget_busy(&err) => match &e.view {
                Some(v) => Ok((v.clone(), false)),
                None => Err(err),
            },
            Err(err) => {
                if err.code == ErrorCode::NotFound {
                    e.missing_until = now + MISSING_TTL_MS;
                }
                Err(err)
            }
        }
    }

    /// Waits up to `wait_ms` for the call's status to differ from `cursor`:
    /// `Some` with the new status, or `None` after `wait_ms` of quiet. A spent
    /// budget is quiet, not an error (the watcher's heartbeats go on).
    ///
    /// An ended call is answered even when `cursor` is its own (a stream
    /// resumed with `Last-Event-ID` after the end still gets its `end`).
    pub async fn watch(
        &self,
        id: &ConversationId,
        cursor: &str,
        wait_ms: u64,
    ) -> Result<(Option<Rc<StatusView>>, bool), Error> {
        let started = self.now();
        if self.client.push_usable() {
            match self.watch_push(id, cursor, wait_ms).await? {
                Pushed::Status(v, first_end) => return Ok((Some(v), first_end)),
                Pushed::Quiet => return Ok((None, false)),
                // Push cannot follow it: poll for what is left of the wait.
                Pushed::Poll => {}
            }
        }
        loop {
            match self.read_shared(id, true).await {
                Ok((v, first_end)) if v.fingerprint != cursor || v.ended => {
                    return Ok((Some(v), first_end))
                }
                Ok(_) => {}
                Err(e) if is_budget_busy(&e) => {}
                Err(e) => return Err(e),
            }
            let now = self.now();
            let spent = now.saturating_sub(started);
            if spent >= wait_ms {
                return Ok((None, false));
            }
            // Sleep until the shared status is due for a refresh.
            let due = {
                let cache = self.cache.borrow();
                let fetched = cache.get(id.as_str()).map_or(0, |e| e.fetched_at);
                (fetched + self.interval_ms(now)).saturating_sub(now)
            };
            // Not `clamp`: it panics when less than SHARE_POLL_MS is left.
            let nap = due.max(SHARE_POLL_MS).min(wait_ms - spent);
            self.client.clock().sleep(nap).await;
        }
    }

    /// `watch` through the push channel. A spent budget is quiet, not an error.
    async fn watch_push(
        &self,
        id: &ConversationId,
        cursor: &str,
        wait_ms: u64,
    ) -> Result<Pushed, Error> {
        self.housekeeping();
        let is_new = |s: &CallStatus| short_fingerprint(&s.fingerprint()) != cursor;
        match self.client.watch_by_push(id, wait_ms, &is_new).await {
            Ok(PushWatch::Changed(status)) => {
                let now = self.now();
                let mut cache = self.cache.borrow_mut();
                let e = cache.entry(id.as_str().to_string()).or_default();
                e.wanted_at = now;
                let (v, first_end) = keep(e, &status, Tracking::Push, now, true);
                Ok(Pushed::Status(v, first_end))
            }
            Ok(PushWatch::Quiet) => Ok(Pushed::Quiet),
            Ok(PushWatch::Poll) => Ok(Pushed::Poll),
            Err(e) if is_budget_busy(&e) => Ok(Pushed::Quiet),
            Err(e) => Err(e),
        }
    }

    /// Hangs the call up; an ended call is not sent to Genesys again.
    pub async fn hang_up(&self, id: &ConversationId) -> Result<(), Error> {
        let ended = self
            .cache
            .borrow()
            .get(id.as_str())
            .and_then(|e| e.view.as_ref())
            .is_some_and(|v| v.ended);
        if ended {
            return Ok(());
        }
        self.client.hang_up(id, std::future::pending()).await?;
        // The next read fetches the new state.
        if let Some(e) = self.cache.borrow_mut().get_mut(id.as_str()) {
            e.fetched_at = 0;
        }
        Ok(())
    }

    /// The conversation that dialled `number` around `since_ms`, if Genesys
    /// has one: from the agent's events when the push channel has seen it
    /// (no request), else the one read that resolves an unknown outcome.
    pub async fn find(&self, number: &str, since_ms: u64) -> Result<Option<ConversationId>, Error> {
        self.client
            .find_call_to(Some(&self.agent), number, since_ms)
            .await
    }

    /// A token and one read of the agent, cached; `failing` names the piece.
    pub async fn ready(&self) -> Result<Readiness, Error> {
        let cached = || {
            let now = self.now();
            self.ready.borrow().as_ref().and_then(|(at, r)| {
                let ttl = if r.failing.is_none() {
                    READY_TTL_MS
                } else {
                    NOT_READY_TTL_MS
                };
                (now < at + ttl).then(|| r.clone())
            })
        };
        let _checking = match self.checking.enter(self.client.clock(), cached).await {
            Turn::Ready(r) => return Ok(r),
            Turn::Mine(working) => working,
        };
        let failing = match self.client.access_token(None).await {
            Err(e) => Some(piece(&e, "credentials")),
            Ok(_) => {
                let endpoints = &self.client.options().endpoints;
                let agent = &self.agent;
                let user = |t: &str| {
                    HttpRequest::new(
                        Method::Get,
                        [
                            endpoints.api_base.as_str(),
                            "/api/v2/users/",
                            agent.as_str(),
                        ]
                        .concat(),
                    )
                    .bearer(t)
                };
                match self.client.send_read(&user).await {
                    Ok(_) => None,
                    Err(e) if is_budget_busy(&e) => return Err(e),
                    Err(e) => Some(piece(&e, "agent")),
                }
            }
        };
        let r = Readiness {
            failing: failing.map(str::to_string),
            tracking: None,
        };
        *self.ready.borrow_mut() = Some((self.now(), r.clone()));
        Ok(r)
    }

    /// The interval at which one call is read: the configured one, stretched
    /// so that every watched call together stays in the read share.
    fn interval_ms(&self, now: u64) -> u64 {
        let (at, ms) = self.interval.get();
        if at != 0 && now.saturating_sub(at) < 500 {
            return ms;
        }
        let watched = self
            .cache
            .borrow()
            .values()
            .filter(|e| {
                now.saturating_sub(e.wanted_at) < WATCHED_MS
                    && !e.view.as_ref().is_some_and(|v| v.ended)
            })
            .count();
        let ms = self
            .client
            .poll_interval_ms(watched.min(u32::MAX as usize) as u32);
        self.interval.set((now.max(1), ms));
        ms
    }

    /// Keeps the cache bounded: idle calls go, ended ones after the handle TTL.
    fn housekeeping(&self) {
        let n = self.ops.get().wrapping_add(1);
        self.ops.set(n);
        let len = self.cache.borrow().len();
        if n % 256 != 0 && len < MAX_ENTRIES {
            return;
        }
        let now = self.now();
        let keep_ended = self.ended_keep_ms;
        let mut cache = self.cache.borrow_mut();
        cache.retain(|_, e| {
            e.fetching
                || match &e.view {
                    Some(v) if v.ended => now.saturating_sub(e.fetched_at) < keep_ended,
                    _ => now.saturating_sub(e.wanted_at) < IDLE_MS,
                }
        });
        if cache.len() >= MAX_ENTRIES {
            let mut by_age: Vec<(u64, String)> = cache
                .iter()
                .filter(|(_, e)| !e.fetching)
                .map(|(k, e)| (e.wanted_at, k.clone()))
                .collect();
            by_age.sort_unstable();
            for (_, k) in by_age.into_iter().take(MAX_ENTRIES / 10) {
                cache.remove(&k);
            }
        }
    }

    /// Cached calls (for tests of memory bounds).
    pub fn cached_calls(&self) -> usize {
        self.cache.borrow().len()
    }
}

/// Push timings at the edge: Genesys' defaults, but the socket lingers a
/// minute after the last watcher (SSE pulls come and go between events).
pub fn edge_push_options() -> PushOptions {
    PushOptions {
        linger_ms: PUSH_LINGER_MS,
        ..PushOptions::default()
    }
}

/// Stores a status just learned (read or pushed) as the call's shared view;
/// the flag is true the first time an ended status is handed out.
/// Caches a status read or pushed. `report`: whether this reader may take the
/// call's "first end" (the wrap-up follower must not: a watcher reports it).
fn keep(
    e: &mut Entry,
    status: &CallStatus,
    tracking: Tracking,
    now: u64,
    report: bool,
) -> (Rc<StatusView>, bool) {
    let mut public = PublicStatus::of(status);
    public.tracking = Some(tracking.as_str());
    let view = Rc::new(StatusView {
        json: encode(&public),
        fingerprint: short_fingerprint(&status.fingerprint()),
        ended: status.phase == Phase::Ended,
    });
    e.view = Some(view.clone());
    e.fetched_at = now;
    let first_end = report && view.ended && !e.end_reported;
    e.end_reported |= report && view.ended;
    (view, first_end)
}

/// A status fingerprint as a 16-character cursor: SSE cursors travel with
/// every event pull (and between isolates and the gateway object), so they
/// are kept short. `DefaultHasher::new()` has fixed keys: the same status
/// gives the same cursor in every instance.
fn short_fingerprint(long: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    long.hash(&mut h);
    format!("{:016x}", h.finish())
}

fn missing() -> Error {
    Error::new(ErrorCode::NotFound, &["Genesys has no such conversation"])
}

/// The fail-fast answer's error: the budget (or a shared read) is not
/// available within the bound.
pub fn busy(retry_after_ms: u64) -> Error {
    let mut e = Error::new(
        ErrorCode::RateLimited,
        &["the request budget is spent; try again after retryAfterMs"],
    );
    e.retry_after_ms = Some(retry_after_ms);
    e
}

/// Which configuration piece an error of the readiness check points at.
fn piece(e: &Error, step: &'static str) -> &'static str {
    match e.code {
        ErrorCode::Network | ErrorCode::Timeout => "api",
        ErrorCode::AuthFailed => "credentials",
        ErrorCode::Forbidden => "permissions",
        ErrorCode::NotFound | ErrorCode::InvalidInput if step == "agent" => "agent",
        _ => "genesys",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{HttpResponse, TransportError};
    use std::cell::Cell;

    /// Genesys answering at once: a token, then the same connected call.
    struct Canned;
    impl Http for Canned {
        async fn send(&self, req: HttpRequest, _: u64) -> Result<HttpResponse, TransportError> {
            let body = if req.url.ends_with("/oauth/token") {
                r#"{"access_token":"t","token_type":"bearer","expires_in":86400}"#
            } else {
                r#"{"id":"c0ffee00-0000-4000-8000-000000000001","participants":[
                  {"id":"a","purpose":"agent","state":"connected","connectedTime":"2026-01-01T00:00:00Z"},
                  {"id":"b","purpose":"customer","state":"connected","connectedTime":"2026-01-01T00:00:01Z"}]}"#
            };
            Ok(HttpResponse {
                status: 200,
                headers: vec![],
                body: body.into(),
            })
        }
    }

    /// Time that moves only when slept.
    #[derive(Default)]
    struct Manual(Cell<u64>);
    impl Clock for Manual {
        fn now_ms(&self) -> u64 {
            self.0.get()
        }
        async fn sleep(&self, ms: u64) {
            self.0.set(self.0.get() + ms);
        }
    }

    fn gateway() -> Gateway<Canned, Manual> {
        let cfg = EdgeConfig::from_env(crate::edge::config::tests::env(&[])).unwrap();
        Gateway::new(Canned, Manual::default(), &cfg)
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        // Canned and Manual never pend: one poll finishes it.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match std::pin::pin!(f).poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("pending"),
        }
    }

    #[test]
    fn watch_ends_on_time_whatever_is_left_of_the_wait() {
        let g = gateway();
        let id = EntityId::parse("c0ffee00-0000-4000-8000-000000000001", "c").unwrap();
        let (first, _) = block_on(g.watch(&id, "", 1_000)).unwrap();
        let fp = first.unwrap().fingerprint.clone();
        // Nothing changes: quiet after the wait, for waits shorter than one poll step too.
        for wait in [1, 5, 14, 15, 16, 999] {
            let before = g.clock().now_ms();
            assert!(
                block_on(g.watch(&id, &fp, wait)).unwrap().0.is_none(),
                "{wait}"
            );
            assert!(
                g.clock().now_ms() - before <= wait + SHARE_POLL_MS,
                "{wait}"
            );
        }
    }

    #[test]
    fn readers_share_one_upstream_read_per_interval() {
        let g = gateway();
        let id = EntityId::parse("c0ffee00-0000-4000-8000-000000000001", "c").unwrap();
        for _ in 0..100 {
            block_on(g.read(&id)).unwrap();
        }
        // One token request and one read: the budget saw one API request.
        assert_eq!(g.budget_sent().len(), 1);
        block_on(g.clock().sleep(2_000));
        block_on(g.read(&id)).unwrap();
        assert_eq!(
            g.budget_sent().len(),
            2,
            "a new read once the interval passed"
        );
    }
}
