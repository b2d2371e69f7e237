//! Push tracking in the flow: the [`Socket`] a host provides (beside `Http`
//! and `Clock`), and the driver that carries out what the sans-IO
//! [`Hub`](crate::push::Hub) asks for.
//!
//! There is no background task: the library runs on whatever executor its
//! caller uses (a browser's microtasks, Node, workerd, tokio), so the futures
//! that need push — waits and placements — drive it themselves. Each one
//! holds a driver future and polls it alongside its own work; a lock lets
//! only one of them actually drive at a time, and when that one finishes,
//! the next in line takes over. Socket reads are cancellation-safe, and a
//! REST request cut short by a handover is reported to the hub, which asks
//! for it again.

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use futures_util::future::{select, Either};
use futures_util::lock::Mutex;

use super::single_flight::{SingleFlight, Turn};
use super::{Client, Clock, Http};
use crate::call::{self, ConversationId, PlaceCall};
use crate::error::{Error, ErrorCode};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::push::{Action, CallStep, Hub, IdleAction, PlaceStep, PushOptions, Tracking};
use crate::region::Endpoints;
use crate::status::{CallStatus, Phase, Snapshot};
use crate::wire::notifications::TopicRef;

/// What a socket reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketEvent {
    Opened,
    /// A text frame (binary frames are not reported).
    Message(String),
    /// Closed or failed, cleanly or not; nothing follows.
    Closed,
}

/// A WebSocket, as the host provides it: the browser's or workerd's
/// `WebSocket`, a constructor given in the options (Node 20 + `ws`), or
/// tokio-tungstenite in host tests. Dropping it closes it.
pub trait Socket {
    /// Queues a text frame (dropped silently if the socket is not open).
    fn send(&self, text: &str);
    /// The next event, in order. Must be cancellation-safe.
    fn poll_event(&self, cx: &mut Context<'_>) -> Poll<SocketEvent>;
    /// Close by itself after `ms` unless [`cancel_close`](Self::cancel_close)
    /// comes first: the hub is idle and nobody may be polling.
    fn close_after(&self, ms: u64);
    fn cancel_close(&self);
}

/// Opens sockets. Connecting is asynchronous: `Opened` or `Closed` follows.
pub trait Connector {
    fn connect(&self, url: &str) -> Result<Box<dyn Socket>, String>;
}

/// A client's push machinery: the hub, the socket it owns, and the
/// bookkeeping that lets many futures share one driver.
pub struct PushState {
    hub: RefCell<Hub>,
    connector: Option<Box<dyn Connector>>,
    socket: RefCell<Option<Box<dyn Socket>>>,
    drive_lock: Mutex<()>,
    /// Participants waiting for the link or their call to change.
    waiters: RefCell<Vec<Waiting>>,
    next_key: Cell<u64>,
    driver: RefCell<Option<Waker>>,
    kicked: Cell<bool>,
    /// `users/me`, for placements with a user token: `Some(None)` = refused.
    me: RefCell<Option<Option<String>>>,
    /// One caller asks for `me`; the others wait for its answer.
    me_asking: SingleFlight,
}

impl PushState {
    pub fn new(opts: PushOptions, connector: Option<Box<dyn Connector>>) -> PushState {
        let hub = if connector.is_some() {
            Hub::new(opts)
        } else {
            Hub::disabled()
        };
        PushState {
            hub: RefCell::new(hub),
            connector,
            socket: RefCell::new(None),
            drive_lock: Mutex::new(()),
            waiters: RefCell::new(Vec::new()),
            next_key: Cell::new(0),
            driver: RefCell::new(None),
            kicked: Cell::new(false),
            me: RefCell::new(None),
            me_asking: SingleFlight::default(),
        }
    }

    /// Read-only access to the hub (tests, diagnostics).
    pub fn hub(&self) -> std::cell::Ref<'_, Hub> {
        self.hub.borrow()
    }

    fn usable(&self, now: u64) -> bool {
        self.connector.is_some() && self.hub.borrow().fallback(now).is_none()
    }

    /// Changes the hub from a participant, then lets the driver and the
    /// other participants know.
    fn update<R>(&self, f: impl FnOnce(&mut Hub) -> R) -> R {
        let r = f(&mut self.hub.borrow_mut());
        self.kick();
        self.notify();
        r
    }

    fn kick(&self) {
        self.kicked.set(true);
        if let Some(w) = self.driver.borrow_mut().take() {
            w.wake();
        }
    }

    /// Wakes the participants whose call, or the link, changed: with 100
    /// calls on one socket, an event wakes its own watcher, not all of them.
    fn notify(&self) {
        let mut woken = Vec::new();
        {
            let hub = self.hub.borrow();
            self.waiters.borrow_mut().retain(|w| {
                if seen(&hub, w.id.as_deref()) == w.seen {
                    return true;
                }
                woken.push(w.waker.clone());
                false
            });
        }
        for w in woken {
            w.wake();
        }
    }

    /// Completes once the link, or call `id`, changes from how it is now.
    fn changed<'a>(&'a self, id: Option<&'a str>) -> Changed<'a> {
        let key = self.next_key.get();
        self.next_key.set(key + 1);
        Changed {
            push: self,
            id,
            seen: seen(&self.hub.borrow(), id),
            key,
        }
    }

    /// The socket chore the hub wants done now, even with nobody driving.
    fn idle_chores(&self) {
        let action = self.hub.borrow_mut().idle_action();
        if let (Some(a), Some(s)) = (action, self.socket.borrow().as_ref()) {
            match a {
                IdleAction::CloseAfter(ms) => s.close_after(ms),
                IdleAction::CancelClose => s.cancel_close(),
            }
        }
    }

    fn enter(&self, watch: Option<(&str, u64)>) -> Participant<'_> {
        self.update(|h| {
            h.enter();
            if let Some((id, now)) = watch {
                h.watch(id, now);
            }
        });
        self.idle_chores();
        Participant {
            push: self,
            watching: watch.map(|(id, _)| id.to_string()),
        }
    }
}

/// What a participant last saw: its call's stamp and the link's change count.
fn seen(hub: &Hub, id: Option<&str>) -> (u64, u64) {
    (id.map_or(0, |i| hub.stamp(i)), hub.changes())
}

struct Waiting {
    key: u64,
    id: Option<String>,
    seen: (u64, u64),
    waker: Waker,
}

/// See [`PushState::changed`]; unregisters itself when dropped.
struct Changed<'a> {
    push: &'a PushState,
    id: Option<&'a str>,
    seen: (u64, u64),
    key: u64,
}

impl Future for Changed<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if seen(&self.push.hub.borrow(), self.id) != self.seen {
            return Poll::Ready(());
        }
        let mut waiters = self.push.waiters.borrow_mut();
        match waiters.iter_mut().find(|w| w.key == self.key) {
            Some(w) => w.waker.clone_from(cx.waker()),
            None => waiters.push(Waiting {
                key: self.key,
                id: self.id.map(str::to_string),
                seen: self.seen,
                waker: cx.waker().clone(),
            }),
        }
        Poll::Pending
    }
}

impl Drop for Changed<'_> {
    fn drop(&mut self) {
        self.push.waiters.borrow_mut().retain(|w| w.key != self.key);
    }
}

/// A wait or placement in progress; leaving (however it ends) may arm the
/// idle close.
struct Participant<'a> {
    push: &'a PushState,
    watching: Option<String>,
}

impl Drop for Participant<'_> {
    fn drop(&mut self) {
        let watching = self.watching.take();
        self.push.update(|h| {
            if let Some(id) = &watching {
                h.unwatch(id);
            }
            h.leave();
        });
        self.push.idle_chores();
    }
}

/// Tells the hub a read it handed out was dropped unfinished.
struct ReadGuard<'a> {
    push: &'a PushState,
    id: &'a str,
    reasons: bool,
    armed: bool,
}

impl Drop for ReadGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let (id, reasons) = (self.id, self.reasons);
            self.push.update(|h| {
                if reasons {
                    h.reasons_abandoned(id)
                } else {
                    h.read_abandoned(id)
                }
            });
        }
    }
}

/// Runs `work` while also polling `drive` (which never finishes), so a
/// participant keeps the hub going while it waits for its own request.
/// (`dyn`: one small copy per output type in the wasm, not one per call site.)
async fn with_drive<T>(
    mut work: Pin<&mut dyn Future<Output = T>>,
    mut drive: Pin<&mut dyn Future<Output = Infallible>>,
) -> T {
    poll_fn(|cx| {
        if let Poll::Ready(v) = work.as_mut().poll(cx) {
            return Poll::Ready(v);
        }
        match drive.as_mut().poll(cx) {
            Poll::Ready(never) => match never {},
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Builds the hub's REST requests.
fn rest_request(endpoints: &Endpoints, token: &str, action: &Action) -> HttpRequest {
    let base = endpoints.api_base.as_str();
    match action {
        Action::Subscribe { channel_id, topics } => {
            let body: Vec<TopicRef> = topics.iter().map(|t| TopicRef { id: t }).collect();
            HttpRequest::new(
                Method::Put,
                [
                    base,
                    "/api/v2/notifications/channels/",
                    channel_id,
                    "/subscriptions?ignoreErrors=true",
                ]
                .concat(),
            )
            .bearer(token)
            .json(crate::wire::encode(&body))
        }
        _ => HttpRequest::new(
            Method::Post,
            [base, "/api/v2/notifications/channels"].concat(),
        )
        .bearer(token),
    }
}

/// What woke the driver.
enum Woke {
    Rest(Result<HttpResponse, Error>),
    /// Every event that was ready, in order (one wake-up for a burst).
    Socket(Vec<SocketEvent>),
    Kicked,
    Timer,
}

/// How long a settle-window lookup drives a live socket for the events of
/// the call it looks for (queued while nobody drove it).
const PUSH_LOOK_MS: u64 = 300;

/// Socket events handled per wake-up at most, so timers still get a turn.
const EVENT_BATCH: usize = 64;

type RestFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, Error>> + 'a>>;

/// Reports an in-flight REST request the driver dropped (handover, cancel).
struct RestSlot<'a, C: Clock> {
    fut: Option<RestFuture<'a>>,
    push: &'a PushState,
    clock: &'a C,
}

impl<C: Clock> Drop for RestSlot<'_, C> {
    fn drop(&mut self) {
        if self.fut.take().is_some() {
            self.push.update(|h| h.rest_abandoned(self.clock.now_ms()));
        }
    }
}

impl<H: Http, C: Clock> Client<H, C> {
    /// Drives the hub forever (or waits for the lock to): carries out its
    /// actions and feeds it socket events, REST answers and timers. Poll it
    /// beside your own work with [`with_drive`]; drop it when done.
    async fn drive_push(&self) -> Infallible {
        let push = &self.push;
        if push.connector.is_none() {
            return std::future::pending().await;
        }
        let _driving = push.drive_lock.lock().await;
        let mut rest = RestSlot {
            fut: None,
            push,
            clock: &self.clock,
        };
        loop {
            let now = self.clock.now_ms();
            loop {
                let action = push.hub.borrow_mut().poll_action(now);
                let Some(action) = action else { break };
                match action {
                    Action::CreateChannel | Action::Subscribe { .. } => {
                        rest.fut = Some(Box::pin(self.push_rest(action)));
                    }
                    Action::Open { url } => {
                        let opened = push.connector.as_ref().map(|c| c.connect(&url));
                        match opened {
                            Some(Ok(s)) => *push.socket.borrow_mut() = Some(s),
                            _ => {
                                push.socket.borrow_mut().take();
                                push.hub.borrow_mut().socket_closed(now);
                            }
                        }
                    }
                    Action::Send(text) => {
                        if let Some(s) = push.socket.borrow().as_ref() {
                            s.send(text);
                        }
                    }
                    Action::Close => {
                        push.socket.borrow_mut().take();
                    }
                }
            }
            push.notify();
            let wake_at = push.hub.borrow().next_wake(now);
            let events = poll_fn(|cx: &mut Context<'_>| {
                if let Some(f) = rest.fut.as_mut() {
                    if let Poll::Ready(r) = f.as_mut().poll(cx) {
                        rest.fut = None;
                        return Poll::Ready(Woke::Rest(r));
                    }
                }
                if let Some(s) = push.socket.borrow().as_ref() {
                    let mut ready = Vec::new();
                    while ready.len() < EVENT_BATCH {
                        match s.poll_event(cx) {
                            Poll::Ready(e) => {
                                let closed = e == SocketEvent::Closed;
                                ready.push(e);
                                if closed {
                                    break;
                                }
                            }
                            Poll::Pending => break,
                        }
                    }
                    if !ready.is_empty() {
                        return Poll::Ready(Woke::Socket(ready));
                    }
                }
                if push.kicked.replace(false) {
                    return Poll::Ready(Woke::Kicked);
                }
                *push.driver.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            });
            let woke = match wake_at {
                Some(at) => {
                    let timer = self.clock.sleep(at.saturating_sub(now).max(1));
                    match select(pin!(events), pin!(timer)).await {
                        Either::Left((w, _)) => w,
                        Either::Right(_) => Woke::Timer,
                    }
                }
                None => events.await,
            };
            let now = self.clock.now_ms();
            let mut hub = push.hub.borrow_mut();
            match woke {
                Woke::Rest(r) => {
                    let answer = match &r {
                        Ok(resp) => Ok(resp.body.as_str()),
                        Err(e) => Err(e.status),
                    };
                    hub.rest_result(now, answer);
                }
                Woke::Socket(events) => {
                    for e in events {
                        match e {
                            SocketEvent::Opened => hub.socket_opened(now),
                            SocketEvent::Message(text) => hub.socket_message(now, &text),
                            SocketEvent::Closed => {
                                push.socket.borrow_mut().take();
                                hub.socket_closed(now);
                            }
                        }
                    }
                }
                Woke::Kicked | Woke::Timer => {}
            }
        }
    }

    async fn push_rest(&self, action: Action) -> Result<HttpResponse, Error> {
        let build = |t: &str| rest_request(&self.opts.endpoints, t, &action);
        self.send_read(&build).await
    }

    /// The signed-in user's id for their topic: the client's one cached
    /// `GET /api/v2/users/me` (flow/agent.rs). A refusal will not change, so it
    /// is remembered as "no topic"; anything else is asked again next time.
    async fn me_for_push(&self) -> Option<String> {
        let cached = || self.push.me.borrow().clone();
        let _once = match self.push.me_asking.enter(&self.clock, cached).await {
            Turn::Ready(me) => return me,
            Turn::Mine(asking) => asking,
        };
        let me = match self.me().await {
            Ok(u) => Some(u.as_str().to_string()),
            Err(e)
                if e.status
                    .is_some_and(|s| (400..500).contains(&s) && s != 429) =>
            {
                None
            }
            Err(_) => return None,
        };
        *self.push.me.borrow_mut() = Some(me.clone());
        me
    }

    /// Places the call with push prepared first: the agent's topic is
    /// subscribed and its socket live before the POST, so no event of the new
    /// call can be missed (events that beat the POST's answer are buffered).
    /// Without push, or if it is not up within `ready_timeout_ms`, the call
    /// is placed anyway and its watcher reconciles or polls.
    pub(super) async fn place_with_push(
        &self,
        call: &PlaceCall,
        post: impl Future<Output = Result<ConversationId, Error>>,
    ) -> Result<ConversationId, Error> {
        if !self.push.usable(self.clock.now_ms()) {
            return post.await;
        }
        let _placing = self.push.enter(None);
        let mut drive = pin!(self.drive_push());
        let agent = match &call.on_behalf_of {
            Some(u) => Some(u.as_str().to_string()),
            None => with_drive(pin!(self.me_for_push()), drive.as_mut()).await,
        };
        let mut gen = None;
        if let Some(agent) = &agent {
            self.push.update(|h| h.want(agent));
            let deadline = self
                .clock
                .now_ms()
                .saturating_add(self.push.hub.borrow().options().ready_timeout_ms);
            loop {
                let now = self.clock.now_ms();
                match self.push.hub.borrow().place_step(agent, now) {
                    PlaceStep::Ready(g) => {
                        gen = Some(g);
                        break;
                    }
                    PlaceStep::Fallback(_) => break,
                    PlaceStep::Wait if now >= deadline => break,
                    PlaceStep::Wait => {}
                }
                let changed = self.push.changed(None);
                let timer = self.clock.sleep(deadline - now);
                with_drive(pin!(select(pin!(changed), pin!(timer))), drive.as_mut()).await;
            }
        }
        let id = with_drive(pin!(post), drive.as_mut()).await?;
        let now = self.clock.now_ms();
        self.push
            .update(|h| h.placed(id.as_str(), agent.as_deref(), gen, now));
        Ok(id)
    }

    /// Follows the call by push until it reaches `until`. `Ok(None)`: push
    /// cannot follow it (no `WebSocket`, refused, rejected, unreachable), so
    /// the caller polls instead.
    pub(super) async fn wait_by_push(
        &self,
        id: &ConversationId,
        until: Phase,
        deliver: &mut dyn FnMut(&CallStatus, &str, Tracking),
    ) -> Result<Option<(CallStatus, String)>, Error> {
        let push = &self.push;
        if !push.usable(self.clock.now_ms()) {
            return Ok(None);
        }
        let _watching = push.enter(Some((id.as_str(), self.clock.now_ms())));
        let mut drive = pin!(self.drive_push());
        let mut seen = 0;
        let mut malformed = false;
        loop {
            let now = self.clock.now_ms();
            let step = push.hub.borrow_mut().call_step(id.as_str(), seen, now);
            match step {
                CallStep::Deliver { version } => {
                    seen = version;
                    let known = push.hub.borrow().known(id.as_str()).cloned();
                    if let Some(k) = known {
                        deliver(&k.status, &k.raw, Tracking::Push);
                        if k.status.reached(until) {
                            return Ok(Some((k.status, k.raw)));
                        }
                    }
                }
                CallStep::Read { reconcile } => {
                    let mut guard = ReadGuard {
                        push,
                        id: id.as_str(),
                        reasons: false,
                        armed: true,
                    };
                    let r = with_drive(pin!(self.get_call(id)), drive.as_mut()).await;
                    guard.armed = false;
                    let now = self.clock.now_ms();
                    match r {
                        Ok((status, raw)) => {
                            malformed = false;
                            push.update(|h| {
                                h.read_result(id.as_str(), reconcile, Some((&status, &raw)), now)
                            });
                        }
                        // One malformed answer is retried (after a poll interval).
                        Err(e) if e.code == ErrorCode::BadResponse && !malformed => {
                            malformed = true;
                            push.update(|h| h.read_result(id.as_str(), reconcile, None, now));
                            let pause = self.clock.sleep(self.opts.poll_interval_ms);
                            with_drive(pin!(pause), drive.as_mut()).await;
                        }
                        Err(e) => {
                            push.update(|h| h.read_result(id.as_str(), reconcile, None, now));
                            return Err(e);
                        }
                    }
                }
                CallStep::FetchReasons => {
                    let mut guard = ReadGuard {
                        push,
                        id: id.as_str(),
                        reasons: true,
                        armed: true,
                    };
                    let conv = with_drive(pin!(self.read_reasons(id)), drive.as_mut()).await;
                    guard.armed = false;
                    push.update(|h| h.reasons_result(id.as_str(), conv.as_ref()));
                }
                CallStep::Wait => {
                    with_drive(pin!(push.changed(Some(id.as_str()))), drive.as_mut()).await;
                }
                CallStep::Poll(_) => return Ok(None),
            }
        }
    }

    /// `GET /api/v2/conversations/{id}`: the SIP/Q.850 causes of an
    /// unanswered end (busy vs no answer). `None` if the read fails.
    pub(super) async fn read_reasons(&self, id: &ConversationId) -> Option<Snapshot> {
        let conv = self
            .send_read(&|t| call::get_conversation_request(&self.opts.endpoints, t, id))
            .await;
        conv.ok().and_then(|r| Snapshot::parse(&r.body).ok())
    }

    /// The call `agent`'s events show going to `number` since `since` (the
    /// POST, epoch ms), not placed or watched here (a POST with an unknown
    /// outcome's), claimed as placed so
    /// it is followed like any other. Events still queued on the socket are
    /// read first: while the agent's topic is live, this drives it for
    /// `PUSH_LOOK_MS`. `None`: push has not seen such a call (or cannot).
    pub(super) async fn placed_by_push(
        &self,
        agent: &str,
        number: &str,
        since: u64,
    ) -> Option<ConversationId> {
        let look = || self.push.hub.borrow().call_to(agent, number, since);
        let mut found = look();
        let live = self.push.hub.borrow().coverage(agent).is_some();
        if found.is_none() && live && self.push.usable(self.clock.now_ms()) {
            let _looking = self.push.enter(None);
            let drive = pin!(self.drive_push());
            with_drive(pin!(self.clock.sleep(PUSH_LOOK_MS)), drive).await;
            found = look();
        }
        let id = ConversationId::parse(&found?, "conversationId").ok()?;
        let now = self.clock.now_ms();
        self.push
            .update(|h| h.placed(id.as_str(), Some(agent), None, now));
        Some(id)
    }

    /// The push state (tests and diagnostics read the hub through it).
    pub fn push_state(&self) -> &PushState {
        &self.push
    }
}

/// What one bounded push watch of a call saw (see [`Client::watch_by_push`]).
#[derive(Debug, Clone, PartialEq)]
pub enum PushWatch {
    /// A status the caller did not have yet, or the call's final one.
    Changed(CallStatus),
    /// Nothing new within the wait.
    Quiet,
    /// Push cannot follow this call (no `WebSocket`, refused, rejected,
    /// unreachable): the caller polls instead.
    Poll,
}

impl<H: Http, C: Clock> Client<H, C> {
    /// Whether a wait started now would be pushed (a socket can be opened and
    /// no fall-back is in force): what a status page shows as the live mode.
    pub fn push_usable(&self) -> bool {
        self.push.usable(self.clock.now_ms())
    }

    /// One bounded look at call `id` through the shared channel, for servers
    /// that hand a call's progress out in pieces (the edge's SSE pulls): waits
    /// at most `wait_ms` for a status `is_new` accepts, or the final one.
    /// Every watch shares the client's one channel and socket; a call already
    /// reconciled under the channel's current coverage is not read again, so a
    /// stream of watches costs no reads while the channel is healthy.
    pub async fn watch_by_push(
        &self,
        id: &ConversationId,
        wait_ms: u64,
        is_new: &dyn Fn(&CallStatus) -> bool,
    ) -> Result<PushWatch, Error> {
        let found: RefCell<Option<CallStatus>> = RefCell::new(None);
        let mut deliver = |s: &CallStatus, _: &str, _: Tracking| {
            if found.borrow().is_none() && is_new(s) {
                *found.borrow_mut() = Some(s.clone());
            }
        };
        let mut follow = pin!(self.wait_by_push(id, Phase::Ended, &mut deliver));
        let mut timer = pin!(self.clock.sleep(wait_ms));
        poll_fn(|cx| {
            let done = follow.as_mut().poll(cx);
            if let Some(s) = found.borrow_mut().take() {
                return Poll::Ready(Ok(PushWatch::Changed(s)));
            }
            match done {
                Poll::Ready(Ok(Some((s, _)))) => return Poll::Ready(Ok(PushWatch::Changed(s))),
                Poll::Ready(Ok(None)) => return Poll::Ready(Ok(PushWatch::Poll)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
            match timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Ok(PushWatch::Quiet)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}
