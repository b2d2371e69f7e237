//! The hub: one Notifications channel, its socket and its topics, and the
//! calls followed through them.
//!
//! Life of the link: no channel → `POST channels` → channel (socket closed)
//! → open socket + `PUT subscriptions` → live once the socket has shown a
//! frame (the pong to our first ping) and the subscription for this very
//! socket is confirmed. Every time the link goes live, the topics it covers
//! get a new *coverage generation*; a call whose state was not read (or
//! placed) under its topic's current generation needs exactly one reconcile
//! read — Genesys replays nothing, so that read is how a gap is closed.

use super::calls::{Calls, Known, Reasons, VecMap};
use super::{Fallback, PushOptions, MAX_TOPICS};
use crate::status::{CallStatus, Snapshot};
use crate::wire::notifications::{
    calls_topic, calls_topic_user, parse_frame, Channel, Frame, TopicListing,
};

/// What the flow must do for the hub. REST actions are one at a time: the
/// next comes only after [`Hub::rest_result`] or [`Hub::rest_abandoned`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `POST /api/v2/notifications/channels`.
    CreateChannel,
    /// `PUT /api/v2/notifications/channels/{id}/subscriptions?ignoreErrors=true`
    /// with `[{"id":topic},…]` (PUT replaces: the list is always complete).
    Subscribe {
        channel_id: String,
        topics: Vec<String>,
    },
    /// Open a WebSocket to `connectUri` (replacing any socket the flow holds).
    Open { url: String },
    /// Send this text on the socket.
    Send(&'static str),
    /// Close the socket now; no event is expected from it afterwards.
    Close,
}

/// Sent once the socket is open, and whenever it has been quiet too long.
pub const PING: &str = r#"{"message":"ping"}"#;

/// Socket chores that must happen even when no one drives the hub: the last
/// watcher left (close the socket after `linger_ms` unless someone comes
/// back), or someone came back in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleAction {
    CloseAfter(u64),
    CancelClose,
}

/// What a watcher of one call does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStep {
    /// Something new: read it with [`Hub::known`], remember `version`.
    Deliver { version: u64 },
    /// Read the call (`GET /api/v2/conversations/calls/{id}`, plus the SIP
    /// cause if it ended unanswered) and hand it to [`Hub::read_result`].
    /// `Some(gen)`: a reconcile under that coverage generation.
    Read { reconcile: Option<u64> },
    /// Read `GET /api/v2/conversations/{id}` for the SIP cause of an
    /// unanswered end, then [`Hub::reasons_result`].
    FetchReasons,
    /// Nothing to do until the hub changes.
    Wait,
    /// Follow this call by polling.
    Poll(Fallback),
}

/// Whether a placement may dial now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceStep {
    /// The agent's topic is live under this generation: dial.
    Ready(u64),
    Wait,
    /// Dial without push.
    Fallback(Fallback),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TopicState {
    /// Not yet confirmed by a subscription answer.
    Wanted,
    Permitted,
    Rejected,
    /// Beyond the channel's 1,000 topics.
    OverLimit,
}

#[derive(Debug)]
struct Topic {
    state: TopicState,
    /// The coverage generation while the link is live and this topic confirmed.
    covered: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sock {
    Closed {
        retry_at: u64,
    },
    Connecting {
        since: u64,
    },
    Open {
        since: u64,
        last_rx: u64,
        last_ping: Option<u64>,
        verified: bool,
    },
}

#[derive(Debug)]
struct Confirmed {
    /// The socket generation the request was sent for.
    sock_gen: u64,
    at: u64,
    topics: Vec<String>,
}

#[derive(Debug)]
struct Chan {
    id: String,
    uri: String,
    sock: Sock,
    /// Bumped on each socket opened: a subscription counts for one socket.
    sock_gen: u64,
    /// A subscription request in flight, for this socket generation and list.
    sending: Option<(u64, Vec<String>)>,
    confirmed: Option<Confirmed>,
    sub_retry_at: u64,
}

#[derive(Debug)]
enum Link {
    NoChannel { retry_at: u64 },
    Creating,
    Up(Chan),
}

/// Which REST request is in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rest {
    None,
    Create,
    Subscribe,
}

#[derive(Debug)]
pub struct Hub {
    opts: PushOptions,
    link: Link,
    rest: Rest,
    /// The flow holds a socket the hub no longer wants: close it first.
    close_pending: bool,
    topics: VecMap<Topic>,
    calls: Calls,
    participants: u32,
    idle: Option<IdleAction>,
    /// The socket may close by itself (a `CloseAfter` was handed out).
    closing_idle: bool,
    failures: u32,
    fallback: Option<(Fallback, Option<u64>)>,
    live_since: Option<u64>,
    cov_gen: u64,
    /// Bumped on anything a watcher or placement may be waiting for.
    changes: u64,
    /// Frames that were not JSON or not the documented shape (for tests and logs).
    pub malformed_frames: u64,
}

impl Hub {
    pub fn new(opts: PushOptions) -> Hub {
        Hub {
            opts,
            link: Link::NoChannel { retry_at: 0 },
            rest: Rest::None,
            close_pending: false,
            topics: VecMap::default(),
            calls: Calls::default(),
            participants: 0,
            idle: None,
            closing_idle: false,
            failures: 0,
            fallback: None,
            live_since: None,
            cov_gen: 0,
            changes: 0,
            malformed_frames: 0,
        }
    }

    /// A hub that always answers "poll" (no `WebSocket` in this host).
    pub fn disabled() -> Hub {
        let mut h = Hub::new(PushOptions::default());
        h.fallback = Some((Fallback::NoWebSocket, None));
        h
    }

    pub fn options(&self) -> &PushOptions {
        &self.opts
    }

    /// Changes whenever the link changes (live, coverage, topics, fallback):
    /// every watcher and placement may proceed.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Changes whenever something about call `id` changes: its watchers may proceed.
    pub fn stamp(&self, id: &str) -> u64 {
        self.calls.get(id).map_or(0, |c| c.stamp)
    }

    fn call_changed(&mut self, id: &str) {
        if let Some(c) = self.calls.get_mut(id) {
            c.stamp += 1;
        }
    }

    /// Live: the socket is attached and its subscription confirmed.
    pub fn is_live(&self) -> bool {
        self.live_since.is_some()
    }

    /// The fallback in force, if any (expired cooldowns count as none).
    pub fn fallback(&self, now: u64) -> Option<Fallback> {
        match self.fallback {
            Some((f, until)) if until.is_none_or(|u| now < u) => Some(f),
            _ => None,
        }
    }

    pub fn channel_id(&self) -> Option<&str> {
        match &self.link {
            Link::Up(c) => Some(&c.id),
            _ => None,
        }
    }

    /// How many calls the hub remembers (watched, placed or buffered).
    pub fn calls_remembered(&self) -> usize {
        self.calls.map.len()
    }

    fn changed(&mut self) {
        self.changes += 1;
    }

    /// Someone is waiting or placing, and there is a topic to follow.
    fn needs_link(&self, now: u64) -> bool {
        self.participants > 0
            && self.fallback(now).is_none()
            && self
                .topics
                .values()
                .any(|t| matches!(t.state, TopicState::Wanted | TopicState::Permitted))
    }

    // ------------------------------------------------------------ participants

    /// A wait or a placement begins: the link is needed.
    pub fn enter(&mut self) {
        self.participants += 1;
        if self.participants == 1 {
            if matches!(self.idle, Some(IdleAction::CloseAfter(_))) {
                // Never handed out: nothing to cancel.
                self.idle = None;
            } else if self.closing_idle {
                self.idle = Some(IdleAction::CancelClose);
            }
        }
    }

    /// A wait or a placement ended. The last one leaving arms the linger close.
    pub fn leave(&mut self) {
        self.participants = self.participants.saturating_sub(1);
        if self.participants == 0 && self.socket_held() {
            self.idle = Some(IdleAction::CloseAfter(self.opts.linger_ms));
        }
    }

    /// The socket chore to carry out now, without a driver.
    pub fn idle_action(&mut self) -> Option<IdleAction> {
        let a = self.idle.take();
        if matches!(a, Some(IdleAction::CloseAfter(_))) {
            self.closing_idle = true;
        }
        a
    }

    fn socket_held(&self) -> bool {
        matches!(&self.link, Link::Up(c) if !matches!(c.sock, Sock::Closed { .. }))
    }

    // ---------------------------------------------------------------- topics

    /// Makes sure `agent`'s topic is (or will be) subscribed.
    pub fn want(&mut self, agent: &str) {
        if self.topics.contains_key(agent) {
            return;
        }
        let counted = self
            .topics
            .values()
            .filter(|t| t.state != TopicState::OverLimit && t.state != TopicState::Rejected)
            .count();
        let state = if counted >= MAX_TOPICS {
            TopicState::OverLimit
        } else {
            TopicState::Wanted
        };
        self.topics.insert(
            agent,
            Topic {
                state,
                covered: None,
            },
        );
        self.changed();
    }

    /// The topics a subscription request lists: every wanted one, sorted.
    fn topic_list(&self) -> Vec<String> {
        self.topics
            .iter()
            .filter(|(_, t)| matches!(t.state, TopicState::Wanted | TopicState::Permitted))
            .map(|(a, _)| calls_topic(a))
            .collect()
    }

    /// The coverage generation of `agent`'s topic, while live.
    pub fn coverage(&self, agent: &str) -> Option<u64> {
        self.topics.get(agent).and_then(|t| t.covered)
    }

    fn topic_fallback(&self, agent: &str) -> Option<Fallback> {
        match self.topics.get(agent).map(|t| t.state) {
            Some(TopicState::Rejected) => Some(Fallback::TopicRejected),
            Some(TopicState::OverLimit) => Some(Fallback::TopicLimit),
            _ => None,
        }
    }

    // ------------------------------------------------------------ placements

    pub fn place_step(&self, agent: &str, now: u64) -> PlaceStep {
        if let Some(f) = self.fallback(now).or_else(|| self.topic_fallback(agent)) {
            return PlaceStep::Fallback(f);
        }
        match self.coverage(agent) {
            Some(g) => PlaceStep::Ready(g),
            None => PlaceStep::Wait,
        }
    }

    /// The create-call POST answered with `id`. `gen`: the agent's coverage
    /// generation captured before the POST was sent; if it is still current,
    /// every event of the call is on the socket and no reconcile is needed.
    pub fn placed(&mut self, id: &str, agent: Option<&str>, gen: Option<u64>, now: u64) {
        let covered = agent.and_then(|a| self.coverage(a));
        let c = self.calls.entry(id, now);
        c.claimed = true;
        if c.agent.is_none() {
            c.agent = agent.map(str::to_string);
        }
        if gen.is_some() && gen == covered {
            c.synced = gen;
        }
    }

    // ----------------------------------------------------------------- calls

    pub fn watch(&mut self, id: &str, now: u64) {
        let c = self.calls.entry(id, now);
        c.claimed = true;
        c.watchers += 1;
        if let Some(a) = c.agent.clone() {
            self.want(&a);
        }
    }

    pub fn unwatch(&mut self, id: &str) {
        if let Some(c) = self.calls.get_mut(id) {
            c.watchers = c.watchers.saturating_sub(1);
        }
    }

    /// A call of `agent`'s to `number` that the agent's events show and that
    /// nobody here placed or watches (so not a call of ours): what a
    /// create-call POST sent at `since` (epoch ms) with an unknown outcome
    /// placed, if it did. Its far leg must have started no earlier than
    /// [`EARLY_MS`](crate::lookup::EARLY_MS) before the POST and not ended
    /// before it — an earlier call to the number is not this one; the
    /// earliest such if several. Unclaimed calls are forgotten after `keep_ms`.
    pub fn call_to(&self, agent: &str, number: &str, since: u64) -> Option<String> {
        let earliest = since.saturating_sub(crate::lookup::EARLY_MS);
        let instant = |t: &Option<String>| t.as_deref().and_then(crate::callback::instant_ms);
        self.calls
            .map
            .iter()
            .filter_map(|(id, c)| {
                let k = c
                    .known
                    .as_ref()
                    .filter(|_| !c.claimed && c.agent.as_deref() == Some(agent))?;
                k.status
                    .snapshot
                    .legs
                    .iter()
                    .filter(|l| {
                        l.role != crate::status::Role::Agent
                            && l.address
                                .as_deref()
                                .is_some_and(|a| crate::lookup::same_number(a, number))
                    })
                    // A time Genesys did not write counts as the POST's.
                    .map(|l| {
                        (
                            instant(&l.start_time).unwrap_or(since),
                            instant(&l.end_time),
                        )
                    })
                    .find(|(start, end)| *start >= earliest && end.is_none_or(|e| e >= since))
                    .map(|(start, _)| (start, id))
            })
            .min_by_key(|(start, _)| *start)
            .map(|(_, id)| id.clone())
    }

    /// The call's latest status.
    pub fn known(&self, id: &str) -> Option<&Known> {
        self.calls.get(id).and_then(|c| c.known.as_ref())
    }

    /// What the watcher of `id`, having seen `seen`, does next. `Read` and
    /// `FetchReasons` are handed to one watcher at a time.
    pub fn call_step(&mut self, id: &str, seen: u64, now: u64) -> CallStep {
        let fallback = self.fallback(now);
        let Hub { calls, topics, .. } = self;
        let c = calls.entry(id, now);
        if c.version > seen {
            if let Some(k) = &c.known {
                let unanswered = k.status.phase == crate::status::Phase::Ended
                    && k.status.snapshot.needs_reasons();
                match c.reasons {
                    Reasons::Untried if unanswered => {
                        c.reasons = Reasons::InFlight;
                        return CallStep::FetchReasons;
                    }
                    Reasons::InFlight => return CallStep::Wait,
                    _ => return CallStep::Deliver { version: c.version },
                }
            }
        }
        if let Some(f) = fallback {
            return CallStep::Poll(f);
        }
        let Some(agent) = c.agent.clone() else {
            if c.reading {
                return CallStep::Wait;
            }
            if c.known.is_some() {
                // A read found no agent leg: there is no topic to follow.
                return CallStep::Poll(Fallback::AgentUnknown);
            }
            c.reading = true;
            return CallStep::Read { reconcile: None };
        };
        let Some(topic) = topics.get(&agent) else {
            self.want(&agent);
            return CallStep::Wait;
        };
        match topic.state {
            TopicState::Rejected => return CallStep::Poll(Fallback::TopicRejected),
            TopicState::OverLimit => return CallStep::Poll(Fallback::TopicLimit),
            _ => {}
        }
        match topic.covered {
            Some(g) if c.synced != Some(g) && !c.reading => {
                c.reading = true;
                CallStep::Read { reconcile: Some(g) }
            }
            _ => CallStep::Wait,
        }
    }

    /// A read handed out by [`call_step`](Self::call_step) finished. `Ok`:
    /// the status read (its SIP cause already looked for). A reconcile whose
    /// generation is still current marks the call synced. A first read tells
    /// whose topic to follow.
    pub fn read_result(
        &mut self,
        id: &str,
        reconcile: Option<u64>,
        read: Option<(&CallStatus, &str)>,
        now: u64,
    ) {
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        c.reading = false;
        c.stamp += 1;
        let Some((status, raw)) = read else {
            return;
        };
        let agent = status
            .snapshot
            .leg(crate::status::Role::Agent)
            .and_then(|l| l.user_id.as_deref())
            .filter(|u| crate::call::EntityId::parse(u, "userId").is_ok())
            .map(str::to_string);
        let known = Known {
            status: status.clone(),
            raw: raw.to_string(),
        };
        let agent_ref = c.agent.clone().or(agent);
        self.calls.update(id, agent_ref.as_deref(), known, now);
        let covered = agent_ref.as_deref().and_then(|a| self.coverage(a));
        if let Some(c) = self.calls.get_mut(id) {
            if status.phase == crate::status::Phase::Ended {
                c.reasons = Reasons::Tried;
            }
            if reconcile.is_some() && reconcile == covered {
                c.synced = reconcile;
            }
        }
        if let Some(a) = agent_ref {
            self.want(&a);
        }
        self.call_changed(id);
    }

    /// The watcher gave up its read (cancelled or failed): another may read.
    pub fn read_abandoned(&mut self, id: &str) {
        if let Some(c) = self.calls.get_mut(id) {
            c.reading = false;
        }
        self.call_changed(id);
    }

    /// The SIP-cause read finished (`None`: it failed; the status stands).
    pub fn reasons_result(&mut self, id: &str, conversation: Option<&Snapshot>) {
        let Some(c) = self.calls.get_mut(id) else {
            return;
        };
        c.reasons = Reasons::Tried;
        if let (Some(k), Some(other)) = (c.known.as_mut(), conversation) {
            let mut snap = k.status.snapshot.clone();
            snap.merge_reasons(other);
            k.status = CallStatus::derive(snap);
        }
        self.call_changed(id);
    }

    pub fn reasons_abandoned(&mut self, id: &str) {
        if let Some(c) = self.calls.get_mut(id) {
            if c.reasons == Reasons::InFlight {
                c.reasons = Reasons::Untried;
            }
        }
        self.call_changed(id);
    }

    // ------------------------------------------------------------ the link

    /// The next thing to do for the link at `now`, if any. Call repeatedly
    /// until `None`, then sleep until [`next_wake`](Self::next_wake) or an event.
    pub fn poll_action(&mut self, now: u64) -> Option<Action> {
        if self.close_pending {
            self.close_pending = false;
            return Some(Action::Close);
        }
        self.expire_fallback(now);
        if self.fallback(now).is_some() {
            if self.socket_held() {
                self.lose_socket(now, now);
                return Some(Action::Close);
            }
            return None;
        }
        if !self.needs_link(now) {
            return None;
        }
        self.calls
            .prune(now, self.opts.keep_ms, self.opts.max_calls);
        self.forgive(now);
        let opts = self.opts;
        let wanted = self.topic_list();
        match &mut self.link {
            Link::NoChannel { retry_at } => {
                if now >= *retry_at && self.rest == Rest::None {
                    self.link = Link::Creating;
                    self.rest = Rest::Create;
                    return Some(Action::CreateChannel);
                }
                None
            }
            Link::Creating => None,
            Link::Up(chan) => {
                match &mut chan.sock {
                    Sock::Closed { retry_at } if now >= *retry_at => {
                        chan.sock = Sock::Connecting { since: now };
                        chan.sock_gen += 1;
                        return Some(Action::Open {
                            url: chan.uri.clone(),
                        });
                    }
                    Sock::Closed { .. } => return None,
                    Sock::Connecting { since } => {
                        if now >= since.saturating_add(opts.connect_timeout_ms) {
                            self.socket_failed(now);
                            return Some(Action::Close);
                        }
                    }
                    Sock::Open {
                        since,
                        last_rx,
                        last_ping,
                        verified,
                    } => {
                        if now >= last_rx.saturating_add(opts.heartbeat_timeout_ms) {
                            // Silence: the socket is dead even if it looks open.
                            self.socket_ended(now);
                            return Some(Action::Close);
                        }
                        if last_ping.is_none() {
                            *last_ping = Some(now);
                            return Some(Action::Send(PING));
                        }
                        if !*verified && now >= since.saturating_add(opts.verify_ms) {
                            *verified = true;
                            self.refresh(now);
                            return self.poll_action(now);
                        }
                        let quiet_since = (*last_rx).max(last_ping.unwrap_or(0));
                        if *verified && now >= quiet_since.saturating_add(opts.ping_after_ms) {
                            *last_ping = Some(now);
                            return Some(Action::Send(PING));
                        }
                    }
                }
                let due = match &chan.confirmed {
                    None => true,
                    Some(c) => {
                        c.sock_gen != chan.sock_gen
                            || c.topics != wanted
                            || now >= c.at.saturating_add(resubscribe_in(&opts))
                    }
                };
                if due
                    && !wanted.is_empty()
                    && chan.sending.is_none()
                    && self.rest == Rest::None
                    && now >= chan.sub_retry_at
                {
                    chan.sending = Some((chan.sock_gen, wanted.clone()));
                    self.rest = Rest::Subscribe;
                    return Some(Action::Subscribe {
                        channel_id: chan.id.clone(),
                        topics: wanted,
                    });
                }
                None
            }
        }
    }

    /// When the hub next needs [`poll_action`](Self::poll_action) called,
    /// absent any event.
    pub fn next_wake(&self, now: u64) -> Option<u64> {
        if let Some((_, Some(until))) = self.fallback {
            if now < until {
                return Some(until);
            }
        }
        if !self.needs_link(now) {
            return None;
        }
        let opts = &self.opts;
        let mut wake: Option<u64> = None;
        let mut at = |t: u64| wake = Some(wake.map_or(t, |w| w.min(t)));
        if self.failures > 0 {
            if let Some(s) = self.live_since {
                at(s.saturating_add(opts.min_healthy_ms));
            }
        }
        match &self.link {
            Link::NoChannel { retry_at } => at(*retry_at),
            Link::Creating => {}
            Link::Up(chan) => {
                match chan.sock {
                    Sock::Closed { retry_at } => at(retry_at),
                    Sock::Connecting { since } => at(since.saturating_add(opts.connect_timeout_ms)),
                    Sock::Open {
                        since,
                        last_rx,
                        last_ping,
                        verified,
                    } => {
                        at(last_rx.saturating_add(opts.heartbeat_timeout_ms));
                        if !verified {
                            at(since.saturating_add(opts.verify_ms));
                        } else {
                            let quiet_since = last_rx.max(last_ping.unwrap_or(0));
                            at(quiet_since.saturating_add(opts.ping_after_ms));
                        }
                    }
                }
                if chan.sending.is_none() {
                    match &chan.confirmed {
                        Some(c) if c.sock_gen == chan.sock_gen => {
                            at(c.at.saturating_add(resubscribe_in(opts)))
                        }
                        _ => at(chan.sub_retry_at),
                    }
                }
            }
        }
        wake
    }

    /// A REST request handed out by [`poll_action`](Self::poll_action)
    /// answered: `Ok(body)` for a 2xx, `Err(Some(status))` for an error
    /// answer, `Err(None)` when none came (network, timeout).
    pub fn rest_result(&mut self, now: u64, result: Result<&str, Option<u16>>) {
        let which = std::mem::replace(&mut self.rest, Rest::None);
        match which {
            Rest::None => {}
            Rest::Create => self.channel_created(now, result),
            Rest::Subscribe => self.subscribed(now, result),
        }
        self.refresh(now);
    }

    /// The REST request was dropped unanswered (its driver went away): it
    /// will be handed out again.
    pub fn rest_abandoned(&mut self, now: u64) {
        match std::mem::replace(&mut self.rest, Rest::None) {
            Rest::Create => self.link = Link::NoChannel { retry_at: now },
            Rest::Subscribe => {
                if let Link::Up(c) = &mut self.link {
                    c.sending = None;
                }
            }
            Rest::None => {}
        }
    }

    fn channel_created(&mut self, now: u64, result: Result<&str, Option<u16>>) {
        let channel = match result {
            Ok(body) => crate::wire::decode::<Channel>(body).ok().filter(|c| {
                (c.connect_uri.starts_with("wss://") || c.connect_uri.starts_with("ws://"))
                    && !c.id.is_empty()
            }),
            Err(Some(status)) if refused(status) => {
                return self.fall_back(Fallback::ChannelRefused, None, now);
            }
            Err(_) => None,
        };
        let Some(c) = channel else {
            self.link = Link::NoChannel { retry_at: now };
            return self.failed(now);
        };
        self.link = Link::Up(Chan {
            id: c.id,
            uri: c.connect_uri,
            sock: Sock::Closed { retry_at: now },
            sock_gen: 0,
            sending: None,
            confirmed: None,
            sub_retry_at: now,
        });
    }

    fn subscribed(&mut self, now: u64, result: Result<&str, Option<u16>>) {
        let Link::Up(chan) = &mut self.link else {
            return;
        };
        let Some((sock_gen, sent)) = chan.sending.take() else {
            return;
        };
        let listing = match result {
            Ok(body) => crate::wire::decode::<TopicListing>(body).ok(),
            Err(Some(404)) => {
                // The channel is gone (expired, evicted): make a new one.
                self.lose_socket(now, now);
                self.close_pending |= true;
                self.link = Link::NoChannel { retry_at: now };
                return;
            }
            Err(Some(status)) if refused(status) => {
                return self.fall_back(Fallback::SubscribeRefused, None, now);
            }
            Err(_) => None,
        };
        let Some(listing) = listing else {
            return self.failed(now);
        };
        for topic in &sent {
            let Some(agent) = calls_topic_user(topic) else {
                continue;
            };
            let entity = listing.entities.iter().find(|e| &e.id == topic);
            let permitted = entity.is_some_and(|e| e.state.as_deref() != Some("Rejected"));
            if let Some(t) = self.topics.get_mut(agent) {
                if permitted {
                    if t.state == TopicState::Wanted {
                        t.state = TopicState::Permitted;
                    }
                } else {
                    // Rejected, or missing from the answer: this agent is polled.
                    t.state = TopicState::Rejected;
                    t.covered = None;
                }
            }
        }
        chan.confirmed = Some(Confirmed {
            sock_gen,
            at: now,
            topics: sent,
        });
        self.changed();
    }

    /// The flow's socket opened.
    pub fn socket_opened(&mut self, now: u64) {
        self.closing_idle = false;
        if let Link::Up(chan) = &mut self.link {
            if matches!(chan.sock, Sock::Connecting { .. }) {
                chan.sock = Sock::Open {
                    since: now,
                    last_rx: now,
                    last_ping: None,
                    verified: false,
                };
            }
        }
    }

    /// A text frame arrived.
    pub fn socket_message(&mut self, now: u64, text: &str) {
        let Link::Up(chan) = &mut self.link else {
            return;
        };
        let Sock::Open {
            last_rx, verified, ..
        } = &mut chan.sock
        else {
            return;
        };
        *last_rx = now;
        *verified = true;
        match parse_frame(text) {
            Frame::Heartbeat | Frame::Pong | Frame::Ignored => {}
            Frame::Malformed => self.malformed_frames += 1,
            // A frame we could not read may have been an event: a gap, so
            // reconnect (and reconcile) rather than guess.
            Frame::Oversize | Frame::SocketClosing => {
                self.lose_socket(now, now);
                self.close_pending = true;
            }
            Frame::NoLongerSubscribed => {
                self.lose_socket(now, now);
                self.close_pending = true;
                self.link = Link::NoChannel { retry_at: now };
            }
            Frame::CallEvent {
                user_id,
                conversation,
                raw,
            } => {
                if self.topics.contains_key(&user_id) {
                    let id = conversation.id.clone();
                    let known = Known {
                        status: CallStatus::derive(Snapshot::from_conversation(conversation)),
                        raw,
                    };
                    // Only this call's watchers are woken (update bumps its stamp).
                    self.calls.update(&id, Some(&user_id), known, now);
                }
            }
        }
        self.refresh(now);
    }

    /// The socket closed (or never opened).
    pub fn socket_closed(&mut self, now: u64) {
        let Link::Up(chan) = &mut self.link else {
            return;
        };
        match chan.sock {
            Sock::Closed { .. } => return,
            _ if self.closing_idle => {
                // Our own linger close: expected; reopen when needed.
                chan.sock = Sock::Closed { retry_at: now };
                self.closing_idle = false;
            }
            Sock::Connecting { .. } => self.socket_failed(now),
            Sock::Open { .. } => self.socket_ended(now),
        }
        self.refresh(now);
    }

    // -------------------------------------------------------------- helpers

    /// The socket is gone; reopen at `retry_at`.
    fn lose_socket(&mut self, now: u64, retry_at: u64) {
        if let Link::Up(chan) = &mut self.link {
            chan.sock = Sock::Closed { retry_at };
        }
        self.refresh(now);
    }

    /// An open socket closed or went silent. A healthy one (live for
    /// `min_healthy_ms`) is reopened at once; one that was not counts as a
    /// failure, so a socket that keeps dropping ends in polling.
    fn socket_ended(&mut self, now: u64) {
        let healthy = self
            .live_since
            .is_some_and(|s| now >= s.saturating_add(self.opts.min_healthy_ms));
        self.forgive(now);
        self.lose_socket(now, now);
        if !healthy {
            self.failed(now);
        }
    }

    /// The socket never opened: most often the channel is gone (a 404 on
    /// the handshake looks like any failure to a WebSocket), so the next
    /// attempt makes a new one.
    fn socket_failed(&mut self, now: u64) {
        self.lose_socket(now, now);
        self.link = Link::NoChannel { retry_at: now };
        self.failed(now);
    }

    /// One more consecutive failure: back off, or fall back after too many.
    fn failed(&mut self, now: u64) {
        self.failures += 1;
        if self.failures >= self.opts.max_failures {
            let until = now.saturating_add(self.opts.cooldown_ms);
            return self.fall_back(Fallback::Unreachable, Some(until), now);
        }
        let shift = (self.failures - 1).min(10);
        let retry_at = now.saturating_add(self.opts.retry_backoff_ms << shift);
        match &mut self.link {
            Link::NoChannel { retry_at: r } => *r = retry_at,
            Link::Up(chan) => {
                if let Sock::Closed { retry_at: r } = &mut chan.sock {
                    *r = retry_at;
                }
                chan.sub_retry_at = retry_at;
            }
            Link::Creating => {}
        }
    }

    fn fall_back(&mut self, f: Fallback, until: Option<u64>, now: u64) {
        self.fallback = Some((f, until));
        self.failures = 0;
        if self.socket_held() {
            self.lose_socket(now, now);
            self.close_pending = true;
        }
        if until.is_none() {
            self.link = Link::NoChannel { retry_at: now };
        }
        self.refresh(now);
        self.changed();
    }

    fn expire_fallback(&mut self, now: u64) {
        if let Some((_, Some(until))) = self.fallback {
            if now >= until {
                self.fallback = None;
                self.failures = 0;
                self.link = Link::NoChannel { retry_at: now };
                self.changed();
            }
        }
    }

    /// A socket that stayed live long enough clears the failure count.
    fn forgive(&mut self, now: u64) {
        if self
            .live_since
            .is_some_and(|s| now >= s.saturating_add(self.opts.min_healthy_ms))
        {
            self.failures = 0;
        }
    }

    /// Recomputes liveness and coverage after any link change.
    fn refresh(&mut self, now: u64) {
        let live = match &self.link {
            Link::Up(chan) => {
                matches!(chan.sock, Sock::Open { verified: true, .. })
                    && chan
                        .confirmed
                        .as_ref()
                        .is_some_and(|c| c.sock_gen == chan.sock_gen)
            }
            _ => false,
        } && self.fallback(now).is_none();
        if !live {
            if self.live_since.take().is_some() {
                for t in self.topics.values_mut() {
                    t.covered = None;
                }
                self.changed();
            }
            return;
        }
        if self.live_since.is_none() {
            self.live_since = Some(now);
        }
        let newly: Vec<&mut Topic> = self
            .topics
            .values_mut()
            .filter(|t| t.state == TopicState::Permitted && t.covered.is_none())
            .collect();
        if !newly.is_empty() {
            // A fresh generation: every call of these topics reconciles once.
            self.cov_gen += 1;
            for t in newly {
                t.covered = Some(self.cov_gen);
            }
            self.changed();
        }
    }
}

/// A client error other than throttling or a timeout: asking again will not help.
fn refused(status: u16) -> bool {
    (400..500).contains(&status) && status != 408 && status != 429
}

/// How long after a subscription to renew it. Genesys documents a channel's
/// life as 24 hours, extended by each (re)subscription; renewing on that
/// documented figure (23 h by default) needs no reading of `expires` and no
/// trust in the page's clock.
fn resubscribe_in(opts: &PushOptions) -> u64 {
    opts.resubscribe_ms.max(1)
}
