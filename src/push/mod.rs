//! Push call tracking over the Genesys Notifications API, as a sans-IO state
//! machine ([`Hub`]): the flow feeds it socket events, REST answers and the
//! time; it answers with what to send ([`Action`]), when to wake up, and, per
//! watched call, what to do next ([`CallStep`]). No IO, no JS, no clock of
//! its own, so every timing and fault rule is unit-tested without sleeping.
//!
//! The shape (genesys-notifications.md §E): one channel per client, opened
//! lazily; one topic per agent (`v2.users.{id}.conversations.calls`),
//! subscribed before the create-call POST; events buffered by conversation
//! id; after every (re)subscribe one reconcile read per watched call; a
//! heartbeat watchdog; reconnects to the same `connectUri`; and a clean fall
//! back to polling when push cannot work.

mod calls;
mod hub;

pub use calls::Known;
pub use hub::{Action, CallStep, Hub, IdleAction, PlaceStep};

use serde::Serialize;

/// How a status was followed: pushed over the Notifications API, or polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tracking {
    Push,
    Poll,
}

impl Tracking {
    pub fn as_str(self) -> &'static str {
        match self {
            Tracking::Push => "push",
            Tracking::Poll => "poll",
        }
    }
}

/// Why a call is polled instead of pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The host has no `WebSocket` and none was given (Node 20), or push was turned off.
    NoWebSocket,
    /// `POST /api/v2/notifications/channels` was refused (4xx).
    ChannelRefused,
    /// The subscription request was refused as a whole (4xx other than 404).
    SubscribeRefused,
    /// This agent's topic came back `Rejected` (missing permission).
    TopicRejected,
    /// More agents than a channel's 1,000 topics.
    TopicLimit,
    /// The channel or its socket failed `max_failures` times in a row; push is
    /// tried again after `cooldown_ms`.
    Unreachable,
    /// The call's agent could not be learned, so there is no topic to follow.
    AgentUnknown,
}

impl Fallback {
    pub fn as_str(self) -> &'static str {
        match self {
            Fallback::NoWebSocket => "no_websocket",
            Fallback::ChannelRefused => "channel_refused",
            Fallback::SubscribeRefused => "subscribe_refused",
            Fallback::TopicRejected => "topic_rejected",
            Fallback::TopicLimit => "topic_limit",
            Fallback::Unreachable => "unreachable",
            Fallback::AgentUnknown => "agent_unknown",
        }
    }
}

/// Timings and limits. The defaults follow Genesys (heartbeat every 30 s,
/// channels live 24 h); tests scale them down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushOptions {
    /// No frame at all for this long: the socket is dead, reconnect. Genesys
    /// heartbeats every 30 s; 65 s tolerates one lost heartbeat.
    pub heartbeat_timeout_ms: u64,
    /// Nothing received for this long: send `{"message":"ping"}` (its pong
    /// proves the socket alive before the watchdog has to decide).
    pub ping_after_ms: u64,
    /// A new socket is live once any frame arrives (the pong to the ping sent
    /// on open proves the server attached it); without one, after this long.
    pub verify_ms: u64,
    /// The socket must open within this long.
    pub connect_timeout_ms: u64,
    /// First wait after a failed attempt; doubles per consecutive failure.
    pub retry_backoff_ms: u64,
    /// Consecutive failed attempts (channel, subscription or socket) before
    /// falling back to polling.
    pub max_failures: u32,
    /// A socket must stay live this long before its failures are forgiven.
    pub min_healthy_ms: u64,
    /// After [`Fallback::Unreachable`], push is tried again after this long.
    pub cooldown_ms: u64,
    /// Resubscribe (which extends the channel's documented 24 h) at this interval.
    pub resubscribe_ms: u64,
    /// `placeCall` waits at most this long for the channel before it dials
    /// anyway (the call is then reconciled once push is up).
    pub ready_timeout_ms: u64,
    /// An idle socket (no wait, no placement) is closed after this long, so a
    /// Node process can exit and an unused socket costs nothing.
    pub linger_ms: u64,
    /// Calls nobody watches are forgotten after this long without news.
    pub keep_ms: u64,
    /// At most this many calls are remembered.
    pub max_calls: usize,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            heartbeat_timeout_ms: 65_000,
            ping_after_ms: 30_000,
            verify_ms: 2_000,
            connect_timeout_ms: 10_000,
            retry_backoff_ms: 500,
            max_failures: 3,
            min_healthy_ms: 10_000,
            cooldown_ms: 60_000,
            resubscribe_ms: 23 * 3_600_000,
            ready_timeout_ms: 5_000,
            linger_ms: 2_000,
            keep_ms: 120_000,
            max_calls: 2_000,
        }
    }
}

impl PushOptions {
    /// Sets the watchdog and derives the ping interval from it (about half).
    pub fn with_heartbeat_timeout(mut self, ms: u64) -> PushOptions {
        self.heartbeat_timeout_ms = ms;
        self.ping_after_ms = (ms / 2).max(1);
        self
    }
}

/// A channel's topic limit.
pub const MAX_TOPICS: usize = 1_000;

#[cfg(test)]
mod tests;
