//! The Notifications API (genesys-notifications.md §A): channels, topic
//! subscriptions, and the WebSocket each channel streams on. Call events come
//! from one small timer task per call that wakes at each transition of the
//! call's timeline, so an event equals a GET at that moment and its leg
//! timestamps are the transition times (receive time − timestamp = lag).
//!
//! Lock order: this state lives in `Inner` under the one simulator lock, so an
//! event is computed and queued to sockets atomically with respect to hang-ups
//! and timers; nothing here ever awaits while holding it.

mod hooks;
mod rest;
mod socket;
mod topics;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::ws::Utf8Bytes;
use axum::routing::{get, head, post};
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

use crate::calls::Call;
use crate::util::{iso, uuid};
use crate::{Inner, Principal, Shared, Sim};

/// "20 channels per user+application"; the 21st evicts one.
pub const MAX_CHANNELS_PER_OWNER: usize = 20;
/// Topics per channel; more is a 400.
pub const MAX_TOPICS: usize = 1000;
/// Channels live 24 h (wall clock, not scaled: clients read `expires`).
pub const CHANNEL_TTL: Duration = Duration::from_secs(24 * 3600);
/// Genesys' heartbeat period, before `--time-scale`.
pub const HEARTBEAT: Duration = Duration::from_secs(30);
/// Between `v2.system.socket_closing` and the close ("about 1 minute"), before `--time-scale`.
pub const SOCKET_CLOSING_GRACE: Duration = Duration::from_secs(60);
/// Frames queued for one socket; events beyond it are dropped (a reader that
/// does not read), and the last few slots are kept for control messages.
const QUEUE: usize = 512;
const CONTROL_RESERVE: usize = 16;

/// Routes for the REST API, the sockets and the `/__sim/notifications` hooks.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route(
            "/api/v2/notifications/channels",
            post(rest::create_channel).get(rest::list_channels),
        )
        .route(
            "/api/v2/notifications/channels/{id}",
            head(rest::head_channel),
        )
        .route(
            "/api/v2/notifications/channels/{id}/subscriptions",
            get(rest::get_subscriptions)
                .post(rest::add_subscriptions)
                .put(rest::replace_subscriptions)
                .delete(rest::clear_subscriptions),
        )
        .route(
            "/api/v2/notifications/availabletopics",
            get(rest::available_topics),
        )
        .route("/channels/{id}", get(socket::connect))
        .route("/__sim/notifications", get(hooks::stats))
        .route("/__sim/notifications/faults", post(hooks::inject))
}

/// Who a channel belongs to: the OAuth client, and the user for user tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Owner {
    client_id: String,
    user_id: Option<String>,
}

impl Owner {
    fn of(p: &Principal) -> Owner {
        Owner {
            client_id: p.client_id.clone(),
            user_id: p.user_id.clone(),
        }
    }
}

/// What the socket task is told to do, in order with the frames before it.
pub(crate) enum Out {
    Frame(Utf8Bytes),
    /// Send a close frame, then end.
    Close(u16, &'static str),
    /// End without a close frame: the client sees 1006.
    Abort,
    /// Send nothing (not even heartbeats or pongs) for a while, or until replaced.
    Stall(Option<Duration>),
    /// Send the `v2.system.socket_closing` frame, then close after the delay.
    Closing(Utf8Bytes, Duration),
}

struct SocketRec {
    conn: u64,
    tx: mpsc::Sender<Out>,
    /// Ends the socket task even when its queue is full.
    kill: Arc<Notify>,
    stalled: bool,
}

impl SocketRec {
    fn event(&self, f: Utf8Bytes) -> bool {
        self.tx.capacity() > CONTROL_RESERVE && self.tx.try_send(Out::Frame(f)).is_ok()
    }

    fn control(&self, o: Out) {
        if self.tx.try_send(o).is_err() {
            self.kill.notify_one();
        }
    }
}

struct Channel {
    id: String,
    connect_uri: String,
    owner: Owner,
    /// Whose rights apply to a `subscribe` sent over the socket.
    principal: Principal,
    expires: SystemTime,
    expires_at: Instant,
    last_used: Instant,
    /// Creation order, to break `last_used` ties deterministically.
    seq: u64,
    topics: BTreeSet<String>,
    socket: Option<SocketRec>,
    sent: u64,
    dropped: u64,
    opens: u64,
    /// Armed faults: events to send twice, events to hold back, the held one.
    duplicate: u32,
    reorder: u32,
    held: Option<Utf8Bytes>,
}

impl Channel {
    fn json(&self) -> Value {
        json!({"connectUri": self.connect_uri, "id": self.id, "expires": iso(self.expires)})
    }

    fn touch(&mut self) {
        self.last_used = Instant::now();
    }

    /// Resubscribing keeps a channel alive for another 24 h.
    fn extend(&mut self) {
        self.expires = SystemTime::now() + CHANNEL_TTL;
        self.expires_at = Instant::now() + CHANNEL_TTL;
    }

    /// Queues one event frame, applying the armed duplicate/reorder faults.
    fn deliver(&mut self, frame: Option<&Utf8Bytes>, stats: &mut Stats) {
        let Some((sock, f)) = self
            .socket
            .as_ref()
            .filter(|s| !s.stalled)
            .zip(frame.cloned())
        else {
            self.dropped += 1;
            stats.events_dropped += 1;
            return;
        };
        if self.reorder > 0 && self.held.is_none() {
            // Held back until the next event (or heartbeat) overtakes it.
            self.reorder -= 1;
            self.held = Some(f);
            stats.events_reordered += 1;
            return;
        }
        let copies = if self.duplicate > 0 {
            self.duplicate -= 1;
            stats.events_duplicated += 1;
            2
        } else {
            1
        };
        let held = self.held.take();
        for f in std::iter::repeat_n(f, copies).chain(held) {
            if sock.event(f) {
                self.sent += 1;
                stats.events_sent += 1;
            } else {
                self.dropped += 1;
                stats.events_dropped += 1;
            }
        }
    }

    /// Sends a held (reordered) event on its own, so it is late but not lost.
    fn flush_held(&mut self, stats: &mut Stats) {
        let Some(sock) = self.socket.as_ref().filter(|s| !s.stalled) else {
            return;
        };
        if let Some(f) = self.held.take() {
            if sock.event(f) {
                self.sent += 1;
                stats.events_sent += 1;
            } else {
                self.dropped += 1;
                stats.events_dropped += 1;
            }
        }
    }
}

/// A call's timer: what was last emitted, and a way to wake it early.
struct Watch {
    last: Option<(crate::calls::LegState, Option<crate::calls::LegState>)>,
    /// The call offset up to which every transition has been emitted.
    checked: Option<Duration>,
    poke: Arc<Notify>,
    task: Option<tokio::task::AbortHandle>,
}

#[derive(Default)]
struct Stats {
    channels_created: u64,
    channels_evicted: u64,
    channels_expired: u64,
    socket_opens: u64,
    sockets_kicked: u64,
    events_sent: u64,
    events_dropped: u64,
    events_duplicated: u64,
    events_reordered: u64,
    heartbeats_sent: u64,
    pongs_sent: u64,
}

#[derive(Default)]
pub(crate) struct Hub {
    channels: HashMap<String, Channel>,
    /// topic → subscribed channel ids, so an event touches only its subscribers.
    subscribers: HashMap<String, HashSet<String>>,
    watches: HashMap<String, Watch>,
    stats: Stats,
    seq: u64,
}

/// Why a channel stops existing.
#[derive(Clone, Copy, PartialEq)]
enum Gone {
    /// A 21st channel of the same owner replaced it.
    Evicted,
    Expired,
    Reset,
}

impl Hub {
    /// The channel if it exists and has not expired (expiry is applied lazily).
    fn live(&mut self, id: &str) -> Option<&mut Channel> {
        if self
            .channels
            .get(id)
            .is_some_and(|c| c.expires_at <= Instant::now())
        {
            self.remove(id, Gone::Expired);
        }
        self.channels.get_mut(id)
    }

    /// The channel if it exists and belongs to `p` (others' channels are 404s).
    fn owned(&mut self, id: &str, p: &Principal) -> Option<&mut Channel> {
        self.live(id).filter(|c| c.owner == Owner::of(p))
    }

    fn remove(&mut self, id: &str, why: Gone) {
        let Some(c) = self.channels.remove(id) else {
            return;
        };
        for t in &c.topics {
            self.unindex(t, id);
        }
        match why {
            Gone::Evicted => self.stats.channels_evicted += 1,
            Gone::Expired => self.stats.channels_expired += 1,
            Gone::Reset => {}
        }
        if let Some(s) = &c.socket {
            if why == Gone::Evicted {
                s.control(Out::Frame(system_frame(
                    &format!("v2.system.no_longer_subscribed.{id}"),
                    &c,
                    Some("no_longer_subscribed"),
                    Some("another_channel_subscribed"),
                    "A newer channel of this user and OAuth client replaced this one.",
                )));
            }
            let reason = match why {
                Gone::Evicted => "channel removed: a 21st channel was created",
                Gone::Expired => "channel expired",
                Gone::Reset => "simulator reset",
            };
            s.control(Out::Close(1000, reason));
        }
    }

    fn unindex(&mut self, topic: &str, channel: &str) {
        if let Some(set) = self.subscribers.get_mut(topic) {
            set.remove(channel);
            if set.is_empty() {
                self.subscribers.remove(topic);
            }
        }
    }

    fn create(&mut self, p: &Principal, host: &str) -> Value {
        let now = Instant::now();
        let expired: Vec<String> = self
            .channels
            .values()
            .filter(|c| c.expires_at <= now)
            .map(|c| c.id.clone())
            .collect();
        for id in expired {
            self.remove(&id, Gone::Expired);
        }
        let owner = Owner::of(p);
        let mine: Vec<&Channel> = self
            .channels
            .values()
            .filter(|c| c.owner == owner)
            .collect();
        if mine.len() >= MAX_CHANNELS_PER_OWNER {
            // "Channels without an active connection will be removed first",
            // then the one with the oldest last-used date.
            let victim = mine
                .iter()
                .min_by_key(|c| (c.socket.is_some(), c.last_used, c.seq))
                .map(|c| c.id.clone());
            if let Some(v) = victim {
                self.remove(&v, Gone::Evicted);
            }
        }
        let id = format!("streaming-0-{}", channel_suffix());
        self.seq += 1;
        let c = Channel {
            connect_uri: format!("ws://{host}/channels/{id}"),
            id: id.clone(),
            owner,
            principal: p.clone(),
            expires: SystemTime::now() + CHANNEL_TTL,
            expires_at: now + CHANNEL_TTL,
            last_used: now,
            seq: self.seq,
            topics: BTreeSet::new(),
            socket: None,
            sent: 0,
            dropped: 0,
            opens: 0,
            duplicate: 0,
            reorder: 0,
            held: None,
        };
        let body = c.json();
        self.channels.insert(id, c);
        self.stats.channels_created += 1;
        body
    }

    /// Replaces the channel's topic set, keeping the index in step.
    fn set_topics(&mut self, id: &str, topics: BTreeSet<String>) {
        let Some(c) = self.channels.get_mut(id) else {
            return;
        };
        let old = std::mem::replace(&mut c.topics, topics.clone());
        for t in old.difference(&topics) {
            self.unindex(t, id);
        }
        for t in topics {
            self.subscribers
                .entry(t)
                .or_default()
                .insert(id.to_string());
        }
    }

    /// A new socket on a channel: it replaces (kicks) the previous one.
    fn attach(&mut self, id: &str, tx: mpsc::Sender<Out>, kill: Arc<Notify>) -> Option<u64> {
        self.seq += 1;
        let conn = self.seq;
        let c = self.live(id)?;
        c.touch();
        c.opens += 1;
        let old = c.socket.replace(SocketRec {
            conn,
            tx,
            kill,
            stalled: false,
        });
        self.stats.socket_opens += 1;
        if let Some(old) = old {
            self.stats.sockets_kicked += 1;
            old.control(Out::Close(
                1000,
                "another WebSocket connected to this channel",
            ));
        }
        Some(conn)
    }

    fn detach(&mut self, id: &str, conn: u64) {
        if let Some(c) = self.channels.get_mut(id) {
            if c.socket.as_ref().is_some_and(|s| s.conn == conn) {
                c.socket = None;
                c.touch();
            }
        }
    }

    /// A socket's heartbeat tick (`beat`: one was sent): expires the channel
    /// if its time is up, and lets a held (reordered) event go late, not never.
    fn heartbeat(&mut self, id: &str, conn: u64, beat: bool) {
        if self.live(id).is_none() {
            return;
        }
        let Hub {
            channels, stats, ..
        } = self;
        let Some(c) = channels.get_mut(id) else {
            return;
        };
        if beat && c.socket.as_ref().is_some_and(|s| s.conn == conn) {
            stats.heartbeats_sent += 1;
            c.flush_held(stats);
        }
    }

    /// The socket record of `conn`, if it is still the channel's socket.
    fn socket_mut(&mut self, id: &str, conn: u64) -> Option<&mut SocketRec> {
        self.channels
            .get_mut(id)?
            .socket
            .as_mut()
            .filter(|s| s.conn == conn)
    }

    fn publish(&mut self, call: &Call, t: Duration) {
        let user = &call.spec.agent_id;
        for (topic, shape) in [
            (topics::calls_topic(user), Shape::Calls),
            (topics::conversations_topic(user), Shape::Conversation),
        ] {
            let Some(ids) = self.subscribers.get(&topic) else {
                continue;
            };
            // Build the JSON only when some socket will take it.
            let live = ids.iter().any(|id| {
                self.channels
                    .get(id)
                    .and_then(|c| c.socket.as_ref())
                    .is_some_and(|s| !s.stalled)
            });
            let frame = live.then(|| envelope(&topic, event_body(call, t, shape)));
            for id in ids {
                if let Some(c) = self.channels.get_mut(id) {
                    c.deliver(frame.as_ref(), &mut self.stats);
                }
            }
        }
    }

    /// Closes every socket, cancels every call timer and forgets everything.
    pub(crate) fn reset(&mut self) {
        let ids: Vec<String> = self.channels.keys().cloned().collect();
        for id in ids {
            self.remove(&id, Gone::Reset);
        }
        for w in self.watches.values() {
            if let Some(t) = &w.task {
                t.abort();
            }
        }
        *self = Hub::default();
    }

    fn connected(&self) -> usize {
        self.channels
            .values()
            .filter(|c| c.socket.is_some())
            .count()
    }
}

#[derive(Clone, Copy)]
enum Shape {
    /// `v2.users.{id}.conversations.calls`: the `CallConversation` shape.
    Calls,
    /// `v2.users.{id}.conversations`: the `Conversation` shape (`calls[]`).
    Conversation,
}

/// The event body: what a GET returns at `t`, without `selfUri`s (the event
/// models have none; genesys-notifications.md "Event body compared with REST").
fn event_body(call: &Call, t: Duration, shape: Shape) -> Value {
    let mut v = match shape {
        Shape::Calls => call.call_conversation_at(t),
        Shape::Conversation => call.conversation_at(t),
    };
    strip_self_uris(&mut v);
    v
}

pub(crate) fn strip_self_uris(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("selfUri");
            m.values_mut().for_each(strip_self_uris);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_self_uris),
        _ => {}
    }
}

fn envelope(topic: &str, body: Value) -> Utf8Bytes {
    json!({"topicName": topic, "version": "2", "eventBody": body, "metadata": {"CorrelationId": uuid()}})
        .to_string()
        .into()
}

/// A `SystemMessageSystemMessage` frame. Field values are UNCONFIRMED.
fn system_frame(
    topic: &str,
    c: &Channel,
    kind: Option<&str>,
    reason: Option<&str>,
    message: &str,
) -> Utf8Bytes {
    let mut body = json!({
        "channelId": c.id, "correlationId": uuid(), "oauthClientId": c.owner.client_id,
        "message": message, "data": {},
    });
    if let Some(u) = &c.owner.user_id {
        body["userId"] = json!(u);
    }
    if let Some(k) = kind {
        body["systemTopicType"] = json!(k);
    }
    if let Some(r) = reason {
        body["reason"] = json!(r);
    }
    json!({"topicName": topic, "eventBody": body})
        .to_string()
        .into()
}

/// The lowercase base-36 tail of a channel id, as in `streaming-0-fmtdmf8c…`.
fn channel_suffix() -> String {
    use rand::seq::IndexedRandom;
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..26)
        .map(|_| char::from(*A.choose(&mut rng).unwrap_or(&b'0')))
        .collect()
}

/// The heartbeat period: `--heartbeat-secs`, else 30 s × `--time-scale`.
fn heartbeat_every(sim: &Sim) -> Duration {
    sim.cfg
        .heartbeat
        .unwrap_or_else(|| HEARTBEAT.mul_f64(sim.cfg.time_scale))
        .max(Duration::from_millis(10))
}

/// Emits one snapshot per state change since the last call, each built at
/// its transition time: a timer that wakes late (a busy machine) still sends
/// every state, in order, exactly as a GET at that moment would have shown it.
/// Called with the simulator lock held, so one call's events are totally ordered.
fn emit(inner: &mut Inner, id: &str) {
    let Inner { calls, notify, .. } = inner;
    let Some(call) = calls.get(id) else {
        return;
    };
    let now = call.elapsed();
    let Some(w) = notify.watches.get_mut(id) else {
        return;
    };
    // The first emission starts at the call's creation (offset 0), however
    // late the creating request got here.
    let mut times: Vec<Duration> = transitions(call)
        .into_iter()
        .chain(w.checked.is_none().then_some(Duration::ZERO))
        .filter(|t| *t <= now && w.checked.is_none_or(|c| *t > c))
        .collect();
    times.sort();
    times.push(now);
    w.checked = Some(now);
    let mut due = Vec::new();
    for t in times {
        let legs = call.legs_at(t);
        if w.last.as_ref() != Some(&legs) {
            w.last = Some(legs);
            due.push(t);
        }
    }
    for t in due {
        notify.publish(call, t);
    }
}

/// Every moment the call's state changes on its current timeline.
fn transitions(call: &Call) -> Vec<Duration> {
    // The final state holds every leg timestamp the timeline will reach.
    let (agent, far) = call.legs_at(Duration::MAX);
    let mut times = vec![agent.connected, agent.end];
    if let Some(f) = far {
        times.extend([Some(f.start), f.connected, f.end]);
    }
    times.into_iter().flatten().collect()
}

/// A call was created: emit its first snapshot now (before the HTTP response
/// is written, as Genesys can) and start its timer.
pub(crate) fn call_created(sim: &Shared, id: &str) {
    let poke = Arc::new(Notify::new());
    let mut inner = sim.lock();
    inner.notify.watches.insert(
        id.to_string(),
        Watch {
            last: None,
            checked: None,
            poke: poke.clone(),
            task: None,
        },
    );
    emit(&mut inner, id);
    let task = tokio::spawn(watch_call(Arc::downgrade(sim), id.to_string(), poke));
    if let Some(w) = inner.notify.watches.get_mut(id) {
        w.task = Some(task.abort_handle());
    }
}

/// A call changed outside its timeline (a hang-up): emit now, and wake its
/// timer so it reschedules (or ends) at once.
pub(crate) fn call_changed(sim: &Shared, id: &str) {
    let mut inner = sim.lock();
    emit(&mut inner, id);
    if let Some(w) = inner.notify.watches.get(id) {
        w.poke.notify_one();
    }
}

/// The next moment the call's state changes after `emitted` (the instant the
/// last emission covered), or `None` once it is over. Measured from what was
/// emitted, not from a fresh clock read: a transition that passes between the
/// emission and this check must still be emitted, not skipped.
fn next_transition(call: &Call, emitted: Option<Duration>) -> Option<Duration> {
    transitions(call)
        .into_iter()
        .filter(|t| emitted.is_none_or(|e| *t > e))
        .min()
}

/// One call's timer: sleeps until the next transition, emits, repeats; ends
/// when the call is over or forgotten. Holds the simulator weakly.
async fn watch_call(sim: Weak<Sim>, id: String, poke: Arc<Notify>) {
    loop {
        let wait = {
            let Some(sim) = sim.upgrade() else { return };
            let mut inner = sim.lock();
            // Catch up first: the task may start (or wake) after transitions.
            emit(&mut inner, &id);
            let Some(emitted) = inner.notify.watches.get(&id).map(|w| w.checked) else {
                return; // forgotten (reset, or the call was dropped)
            };
            let next = inner
                .calls
                .get(&id)
                .and_then(|c| next_transition(c, emitted).map(|t| t.saturating_sub(c.elapsed())));
            match next {
                Some(w) => w,
                None => {
                    // Over (every transition emitted above), or forgotten.
                    inner.notify.watches.remove(&id);
                    return;
                }
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = poke.notified() => {}
        }
    }
}

/// Closes every socket with 1001 (going away) and stops the timers, then
/// waits briefly for the socket tasks to send their close frames.
pub(crate) async fn shutdown(sim: &Shared) {
    {
        let mut inner = sim.lock();
        for c in inner.notify.channels.values_mut() {
            if let Some(s) = &c.socket {
                s.control(Out::Close(1001, "server shutting down"));
            }
        }
        for w in inner.notify.watches.values() {
            if let Some(t) = &w.task {
                t.abort();
            }
        }
        inner.notify.watches.clear();
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while sim.lock().notify.connected() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_uris_are_stripped_everywhere() {
        let mut v =
            json!({"selfUri": "/x", "participants": [{"user": {"id": "u", "selfUri": "/u"}}]});
        strip_self_uris(&mut v);
        assert_eq!(v, json!({"participants": [{"user": {"id": "u"}}]}));
    }

    #[test]
    fn channel_ids_look_like_genesys() {
        let s = channel_suffix();
        assert_eq!(s.len(), 26);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    }
}
