//! The orchestration — token → create call → wait — written once, generic over
//! an [`Http`] transport and a [`Clock`], so the same code runs in wasm (fetch,
//! `setTimeout`) and on the host against `genesys-sim`.
//!
//! Every decision is delegated to the pure modules (`retry`, `poll`, `status`,
//! `auth`); this file only sequences IO.

pub mod agent;
mod callbacks;
mod push;
mod settle;
pub(crate) mod single_flight;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;

use futures_util::future::{select, Either};

use crate::auth::{self, CachedToken, Credentials};
use crate::call::{self, ConversationId, PlaceCall};
use crate::error::{Attempt, Error, ErrorCode};
use crate::http::{HttpRequest, HttpResponse, Method, TransportError};
use crate::poll::{next_poll_delay, RateBudget, GENESYS_REQUESTS_PER_MINUTE};
use crate::push::{PushOptions, Tracking};
use crate::region::Endpoints;
use crate::retry::{self, Next, RequestKind, RetryPolicy};
use crate::status::{CallStatus, Phase, Snapshot};

pub use push::{Connector, PushState, PushWatch, Socket, SocketEvent};
use single_flight::{SingleFlight, Turn};

/// Runs `work` until it finishes or `cancel` completes, whichever is first;
/// `None` means cancelled (and `work` was dropped, which cancels its IO).
pub async fn until_cancelled<T>(
    work: impl Future<Output = T>,
    cancel: impl Future<Output = ()>,
) -> Option<T> {
    match select(pin!(work), pin!(cancel)).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

/// Moves one request. Implementations apply `timeout_ms` and map failures to
/// [`TransportError`]; they never retry.
#[allow(async_fn_in_trait)]
pub trait Http {
    async fn send(&self, req: HttpRequest, timeout_ms: u64)
        -> Result<HttpResponse, TransportError>;
}

/// Time, injected: `std::time::Instant` panics on wasm32-unknown-unknown, and
/// tests want control over it anyway.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Epoch milliseconds: the settle window's lookup asks Genesys about
    /// calls since this time (a clock with another origin still keeps the
    /// window, but its lookups find nothing).
    fn now_ms(&self) -> u64;
    async fn sleep(&self, ms: u64);
}

#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub endpoints: Endpoints,
    pub credentials: Credentials,
    /// Per-request timeout.
    pub request_timeout_ms: u64,
    /// The token's request budget (Genesys: 300 per minute).
    pub requests_per_minute: u32,
    /// The budget's window; 60 s for Genesys (settable for tests of the simulator).
    pub budget_window_ms: u64,
    /// Poll interval while a single call is being watched; stretched under load.
    pub poll_interval_ms: u64,
    pub retry: RetryPolicy,
    /// Longest wait for a slot in the request budget before giving up with a
    /// `rate_limited` error that carries no HTTP status (see [`is_budget_busy`]).
    /// `None` (the library's default) waits as long as the budget needs; the
    /// edge sets a short bound so a visitor is answered instead of held.
    pub max_budget_wait_ms: Option<u64>,
    /// Push tracking's timings (used once a [`Connector`] is given).
    pub push: PushOptions,
    /// After a create-call POST with an unknown outcome, its number is not
    /// dialled again for this long: `placeCall` finds the call instead
    /// (`crate::settle`). 0 turns the window off (the edge, whose number
    /// desks keep it fleet-wide).
    pub settle_ms: u64,
}

impl ClientOptions {
    pub fn new(endpoints: Endpoints, credentials: Credentials) -> ClientOptions {
        ClientOptions {
            endpoints,
            credentials,
            request_timeout_ms: 15_000,
            requests_per_minute: GENESYS_REQUESTS_PER_MINUTE,
            budget_window_ms: 60_000,
            poll_interval_ms: 1_000,
            retry: RetryPolicy::default(),
            max_budget_wait_ms: None,
            push: PushOptions::default(),
            settle_ms: crate::settle::SETTLE_MS,
        }
    }
}

/// What `waitForCall` waits for.
#[derive(Debug, Clone, Copy)]
pub struct WaitFor {
    pub until: Phase,
    pub timeout_ms: u64,
}

pub struct Client<H, C> {
    http: H,
    clock: C,
    opts: ClientOptions,
    token: RefCell<Option<CachedToken>>,
    /// One caller fetches the token; the others wait for the cache.
    token_fetching: SingleFlight,
    budget: RefCell<RateBudget>,
    /// Waits that are polling (push-tracked waits spend no poll budget).
    active_waits: Cell<u32>,
    /// Issue #12: "me", per-agent availability lookups, waiting wrap-ups (flow/agent.rs).
    agent: agent::AgentState,
    /// Push tracking: one Notifications channel shared by every wait.
    push: PushState,
    /// Numbers with a create-call POST in flight or settling (issue #15, flow/settle.rs).
    settle: RefCell<crate::settle::Book>,
}

/// True for the error a bounded budget wait gives up with (the client's own
/// budget is spent), as opposed to a 429 from Genesys (which has a status).
pub fn is_budget_busy(e: &Error) -> bool {
    e.code == ErrorCode::RateLimited && e.status.is_none()
}

/// Decrements the active-wait count however the wait ends (including cancellation).
struct WaitGuard<'a>(&'a Cell<u32>);
impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

impl<H: Http, C: Clock> Client<H, C> {
    pub fn new(http: H, clock: C, opts: ClientOptions) -> Client<H, C> {
        let budget = RateBudget::new(opts.requests_per_minute, opts.budget_window_ms);
        let push = PushState::new(opts.push, None);
        Client {
            http,
            clock,
            opts,
            token: RefCell::new(None),
            token_fetching: SingleFlight::default(),
            budget: RefCell::new(budget),
            active_waits: Cell::new(0),
            agent: agent::AgentState::default(),
            push,
            settle: RefCell::default(),
        }
    }

    /// Replaces push tracking's timings (before [`with_websocket`](Self::with_websocket)).
    pub fn with_push_options(mut self, push: PushOptions) -> Client<H, C> {
        self.opts.push = push;
        self
    }

    /// Tracks calls by push over sockets from `connector`, falling back to
    /// polling when push cannot work. Without one, every wait polls.
    pub fn with_websocket(mut self, connector: Box<dyn Connector>) -> Client<H, C> {
        self.push = PushState::new(self.opts.push, Some(connector));
        self
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// The transport, for requests outside Genesys (the edge's Turnstile check).
    #[cfg(any(not(target_arch = "wasm32"), feature = "edge"))]
    pub fn http(&self) -> &H {
        &self.http
    }

    #[cfg(any(not(target_arch = "wasm32"), feature = "edge"))]
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The poll interval when `watchers` streams share this client's budget.
    #[cfg(any(not(target_arch = "wasm32"), feature = "edge"))]
    pub fn poll_interval_ms(&self, watchers: u32) -> u64 {
        self.budget.borrow().poll_interval_ms(
            self.opts.poll_interval_ms,
            watchers + self.active_waits.get(),
        )
    }

    /// A usable access token. Client-credentials tokens are fetched once per
    /// lifetime for all concurrent callers (single-flight) and renewed shortly
    /// before expiry; `refused` names a token Genesys just rejected with 401.
    pub async fn access_token(&self, refused: Option<&str>) -> Result<String, Error> {
        let (client_id, secret) = match &self.opts.credentials {
            Credentials::AccessToken(t) => return Ok(t.clone()),
            Credentials::ClientCredentials {
                client_id,
                client_secret,
            } => (client_id, client_secret),
        };
        let cached = || {
            let now = self.clock.now_ms();
            self.token
                .borrow()
                .as_ref()
                .filter(|t| t.is_fresh(now) && Some(t.value.as_str()) != refused)
                .map(|t| t.value.clone())
        };
        let _fetching = match self.token_fetching.enter(&self.clock, cached).await {
            Turn::Ready(t) => return Ok(t),
            Turn::Mine(working) => working,
        };
        let req = auth::client_credentials_request(&self.opts.endpoints, client_id, secret);
        // Boxed: send_with_retries itself awaits access_token for API requests.
        let build = |_: &str| req.clone();
        let send: std::pin::Pin<Box<dyn Future<Output = Result<HttpResponse, Error>> + '_>> =
            Box::pin(self.send_with_retries(RequestKind::Token, Attempt::Token, &build, None));
        let resp = send.await?;
        let token = auth::parse_token_response(&resp)?;
        let value = token.access_token.clone();
        *self.token.borrow_mut() = Some(CachedToken::new(token, self.clock.now_ms()));
        Ok(value)
    }

    /// Waits for a slot in the per-token budget, then claims it. Reads may
    /// only use the read share; `priority` requests (create-call, hang-up) may
    /// use the whole budget. With `max_budget_wait_ms` set, a slot further away
    /// than that is not waited for: the error says when to try again.
    async fn budget_slot(&self, priority: bool) -> Result<(), Error> {
        let mut waited = 0u64;
        loop {
            let now = self.clock.now_ms();
            let wait = self.budget.borrow_mut().wait_ms_for(now, priority);
            if wait == 0 {
                self.budget.borrow_mut().record(now);
                return Ok(());
            }
            if let Some(bound) = self.opts.max_budget_wait_ms {
                if waited.saturating_add(wait) > bound {
                    let mut e = Error::new(
                        ErrorCode::RateLimited,
                        &["the request budget for this token is spent; try again after retryAfterMs"],
                    );
                    e.retry_after_ms = Some(wait);
                    return Err(e);
                }
            }
            self.clock.sleep(wait).await;
            waited += wait;
        }
    }

    /// The budget's send times, for a coordinator that persists them.
    #[cfg(any(not(target_arch = "wasm32"), feature = "edge"))]
    pub fn budget_sent(&self) -> Vec<u64> {
        self.budget.borrow().sent().to_vec()
    }

    /// Restores send times saved by [`budget_sent`](Self::budget_sent).
    #[cfg(any(not(target_arch = "wasm32"), feature = "edge"))]
    pub fn restore_budget(&self, sent: Vec<u64>) {
        self.budget.borrow_mut().restore(sent);
    }

    /// Sends a request built by `build(token)` under the retry rules. API
    /// requests carry the cached token and take a budget slot; the token
    /// request (`RequestKind::Token`) does neither, and its non-2xx answers are
    /// returned for `parse_token_response` to classify.
    /// `sent` is set just before the first byte of the request leaves.
    async fn send_with_retries(
        &self,
        kind: RequestKind,
        attempt: Attempt,
        // `dyn`, not generic: one copy of this state machine in the wasm, not one per caller.
        build: &dyn Fn(&str) -> HttpRequest,
        sent: Option<&Cell<bool>>,
    ) -> Result<HttpResponse, Error> {
        let api = kind != RequestKind::Token;
        let mut token = if api {
            self.access_token(None).await?
        } else {
            String::new()
        };
        let can_refresh =
            api && matches!(self.opts.credentials, Credentials::ClientCredentials { .. });
        let (mut retries, mut slept, mut refreshed) = (0u32, 0u64, false);
        // Calls and hang-ups may use the share reads cannot take.
        let priority = kind == RequestKind::CreateCall || build("").method != Method::Get;
        loop {
            if api {
                self.budget_slot(priority).await?;
            }
            if let Some(s) = sent {
                s.set(true);
            }
            let result = self
                .http
                .send(build(&token), self.opts.request_timeout_ms)
                .await;
            match retry::decide(
                &self.opts.retry,
                kind,
                retries,
                slept,
                &result,
                can_refresh && !refreshed,
            ) {
                Next::Done => {
                    return match result {
                        Ok(r) if r.is_success() || !api => Ok(r),
                        Ok(r) => Err(Error::from_response(&r, attempt)),
                        Err(e) => Err(Error::from_transport(e, attempt)),
                    }
                }
                Next::RefreshTokenThenRetry => {
                    refreshed = true;
                    token = self.access_token(Some(&token)).await?;
                }
                Next::RetryIn(ms) => {
                    self.clock.sleep(ms).await;
                    slept += ms;
                    retries += 1;
                }
            }
        }
    }

    /// Places the call: exactly one create-call POST, or none with an error.
    /// Within the settle window of an unknown outcome for the same number
    /// (or while another `place_call` for it is in flight), no POST: the
    /// call that one placed, or `call_may_be_ringing` (flow/settle.rs).
    pub async fn place_call(
        &self,
        call: &PlaceCall,
        cancel: impl Future<Output = ()>,
    ) -> Result<ConversationId, Error> {
        self.place_settled(call, cancel).await.map(|(id, _)| id)
    }

    /// The one create-call POST. `sent` is set as it leaves.
    async fn place_once(
        &self,
        call: &PlaceCall,
        sent: &Cell<bool>,
        cancel: impl Future<Output = ()>,
    ) -> Result<ConversationId, Error> {
        let post = async {
            let resp = self
                .send_with_retries(
                    RequestKind::CreateCall,
                    Attempt::CreateCall,
                    &|t| call.request(&self.opts.endpoints, t),
                    Some(sent),
                )
                .await?;
            call::parse_create_response(&resp)
        };
        // The agent's topic is subscribed before the POST (when push works).
        let work = self.place_with_push(call, post);
        match until_cancelled(work, cancel).await {
            Some(r) => r,
            None if sent.get() => Err(Error::new(
                ErrorCode::OutcomeUnknown,
                &["placeCall was aborted after the call request was sent; the call may have been placed. ", crate::error::CHECK_BEFORE_REDIAL],
            )),
            None => Err(aborted("placeCall")),
        }
    }

    /// One read of the call, normalized. When the far end ended without
    /// answering, the generic conversation is read once more for its SIP/Q.850
    /// causes (busy vs no answer); if that read fails the status stands as is.
    pub async fn get_call(&self, id: &ConversationId) -> Result<(CallStatus, String), Error> {
        let resp = self
            .send_read(&|t| call::get_call_request(&self.opts.endpoints, t, id))
            .await?;
        let mut snap = Snapshot::parse(&resp.body)?;
        if snap.needs_reasons() {
            if let Some(other) = self.read_reasons(id).await {
                snap.merge_reasons(&other);
            }
        }
        Ok((CallStatus::derive(snap), resp.body))
    }

    /// Follows the call until it reaches `wait.until` (or ends), calling
    /// `on_update` with each changed status and how it was tracked. Pushed
    /// over the client's Notifications channel while that is healthy;
    /// otherwise polled, sharing the token's budget with every other wait.
    /// Returns the last status, its raw JSON and how it was tracked. Ends at
    /// `wait.timeout_ms` even with a request in flight.
    pub async fn wait_for_call(
        &self,
        id: &ConversationId,
        wait: WaitFor,
        mut on_update: impl FnMut(&CallStatus, &str, Tracking),
        cancel: impl Future<Output = ()>,
    ) -> Result<(CallStatus, String, Tracking), Error> {
        let deadline = self.clock.now_ms().saturating_add(wait.timeout_ms);
        let last_phase = Cell::new(None);
        let mut last_fingerprint = String::new();
        // Push and polling both report through here: an update is shown once,
        // whichever way it came.
        let mut deliver = |status: &CallStatus, raw: &str, tracking: Tracking| {
            last_phase.set(Some(status.phase));
            let fp = status.fingerprint();
            if fp != last_fingerprint {
                on_update(status, raw, tracking);
                last_fingerprint = fp;
            }
        };
        let work = async {
            if let Some((status, raw)) = self.wait_by_push(id, wait.until, &mut deliver).await? {
                return Ok((status, raw, Tracking::Push));
            }
            self.wait_by_polling(id, wait.until, deadline, &mut deliver)
                .await
                .map(|(status, raw)| (status, raw, Tracking::Poll))
        };
        let timer = self
            .clock
            .sleep(deadline.saturating_sub(self.clock.now_ms()));
        let result = match until_cancelled(until_cancelled(work, timer), cancel).await {
            None => Err(aborted("waitForCall")),
            Some(None) => Err(timed_out(wait.until, last_phase.get())),
            Some(Some(r)) => r,
        };
        // Call-end hooks: a wrap-up given to placeCall is applied once the
        // call has ended (issue #12, flow/agent.rs).
        let (status, raw, tracking) = result?;
        self.apply_waiting_wrap_up(id, &status).await?;
        Ok((status, raw, tracking))
    }

    /// Polls until the call reaches `until`, every poll interval (stretched
    /// when many waits share the budget). One malformed answer is retried.
    async fn wait_by_polling(
        &self,
        id: &ConversationId,
        until: Phase,
        deadline: u64,
        deliver: &mut dyn FnMut(&CallStatus, &str, Tracking),
    ) -> Result<(CallStatus, String), Error> {
        self.active_waits.set(self.active_waits.get() + 1);
        let _guard = WaitGuard(&self.active_waits);
        let mut malformed = false;
        let mut last = None;
        loop {
            match self.get_call(id).await {
                Ok((status, raw)) => {
                    malformed = false;
                    deliver(&status, &raw, Tracking::Poll);
                    if status.reached(until) {
                        return Ok((status, raw));
                    }
                    last = Some(status.phase);
                }
                Err(e) if e.code == ErrorCode::BadResponse && !malformed => malformed = true,
                Err(e) => return Err(e),
            }
            let now = self.clock.now_ms();
            if now >= deadline {
                return Err(timed_out(until, last));
            }
            let interval = self
                .budget
                .borrow()
                .poll_interval_ms(self.opts.poll_interval_ms, self.active_waits.get());
            self.clock
                .sleep(next_poll_delay(interval, now, deadline))
                .await;
        }
    }

    /// Hangs up every leg of the call.
    pub async fn hang_up(
        &self,
        id: &ConversationId,
        cancel: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let build = |t: &str| call::hang_up_request(&self.opts.endpoints, t, id);
        let work = self.send_read(&build);
        until_cancelled(work, cancel)
            .await
            .unwrap_or_else(|| Err(aborted("hangUp")))
            .map(|_| ())
    }
}

impl<H: Http, C: Clock> Client<H, C> {
    /// Sends a read or an idempotent write (the flow's own reads, the edge's
    /// readiness read, its lookup of an unknown outcome) under the token, the
    /// budget and the retry rules.
    pub async fn send_read(
        &self,
        build: &dyn Fn(&str) -> HttpRequest,
    ) -> Result<HttpResponse, Error> {
        self.send_with_retries(RequestKind::Idempotent, Attempt::Other, build, None)
            .await
    }
}

fn timed_out(until: Phase, last: Option<Phase>) -> Error {
    Error::new(
        ErrorCode::Timeout,
        &[
            "the call did not reach '",
            until.as_str(),
            "' in time (last phase: ",
            last.map_or("none yet", Phase::as_str),
            "); it may still be in progress",
        ],
    )
}

pub fn aborted(what: &str) -> Error {
    Error::new(
        ErrorCode::Aborted,
        &[what, " was aborted by its AbortSignal"],
    )
}

/// The PKCE code exchange (`finishLogin`): one token request, no secret.
pub async fn exchange_code<H: Http>(
    http: &H,
    endpoints: &Endpoints,
    client_id: &str,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
    timeout_ms: u64,
) -> Result<auth::Token, Error> {
    let req =
        crate::pkce::code_exchange_request(endpoints, client_id, redirect_uri, code, verifier);
    let resp = http
        .send(req, timeout_ms)
        .await
        .map_err(|e| Error::from_transport(e, Attempt::Token))?;
    auth::parse_token_response(&resp)
}
