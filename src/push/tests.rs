//! The hub driven by hand: every action it asks for, every fault path, and
//! every timer, with the time passed in (nothing sleeps).

use super::*;
use crate::status::{CallStatus, Outcome, Phase, Snapshot};

const ADA: &str = "ada-1";
const OTTO: &str = "otto-2";
const CHANNEL: &str = r#"{"connectUri":"wss://streaming.example/channels/streaming-0-aaa","id":"streaming-0-aaa","expires":"2020-08-12T12:41:54.707Z"}"#;
const CHANNEL2: &str =
    r#"{"connectUri":"wss://streaming.example/channels/streaming-0-bbb","id":"streaming-0-bbb"}"#;
const HEARTBEAT: &str =
    r#"{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}"#;
const PONG: &str = r#"{"topicName":"channel.metadata","eventBody":{"message":"pong"}}"#;

fn opts() -> PushOptions {
    PushOptions {
        heartbeat_timeout_ms: 650,
        ping_after_ms: 300,
        verify_ms: 200,
        connect_timeout_ms: 1_000,
        retry_backoff_ms: 50,
        max_failures: 3,
        min_healthy_ms: 100,
        cooldown_ms: 5_000,
        resubscribe_ms: 100_000,
        ready_timeout_ms: 500,
        linger_ms: 20,
        keep_ms: 10_000,
        max_calls: 50,
    }
}

fn listing(entries: &[(&str, &str)]) -> String {
    let e: Vec<String> = entries
        .iter()
        .map(|(agent, state)| {
            format!(r#"{{"id":"v2.users.{agent}.conversations.calls","state":"{state}"}}"#)
        })
        .collect();
    format!(r#"{{"entities":[{}]}}"#, e.join(","))
}

/// A call of `agent` as Genesys shows it: the agent leg, then maybe the far end.
fn conversation(id: &str, agent: &str, agent_state: &str, far: Option<&str>) -> String {
    let far = far
        .map(|f| format!(r#",{{"id":"pc","purpose":"customer","address":"tel:+13175550100"{f}}}"#))
        .unwrap_or_default();
    format!(
        r#"{{"id":"{id}","participants":[{{"id":"pa","purpose":"agent","user":{{"id":"{agent}"}},"state":"{agent_state}"}}{far}]}}"#
    )
}

fn event(agent: &str, body: &str) -> String {
    format!(
        r#"{{"topicName":"v2.users.{agent}.conversations.calls","version":"2","eventBody":{body},"metadata":{{"CorrelationId":"x"}}}}"#
    )
}

/// The life of an answered call (`+13175550100`), one snapshot per state.
fn answered(id: &str) -> Vec<String> {
    vec![
        conversation(id, ADA, "contacting", None),
        conversation(id, ADA, "connected", Some(r#","state":"dialing""#)),
        conversation(
            id,
            ADA,
            "connected",
            Some(r#","state":"connected","connectedTime":"t1""#),
        ),
        conversation(
            id,
            ADA,
            "disconnected",
            Some(
                r#","state":"disconnected","connectedTime":"t1","endTime":"t2","disconnectType":"endpoint""#,
            ),
        ),
    ]
}

fn status(body: &str) -> CallStatus {
    CallStatus::derive(Snapshot::parse(body).unwrap())
}

/// The hub plus a clock.
struct T {
    hub: Hub,
    now: u64,
}

impl T {
    fn new() -> T {
        T {
            hub: Hub::new(opts()),
            now: 1_000,
        }
    }

    fn at(&mut self, t: u64) -> &mut T {
        self.now = t;
        self
    }

    fn advance(&mut self, ms: u64) -> &mut T {
        self.now += ms;
        self
    }

    fn actions(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(a) = self.hub.poll_action(self.now) {
            out.push(a);
            assert!(out.len() < 20, "runaway actions: {out:?}");
        }
        out
    }

    fn rest(&mut self, r: Result<&str, Option<u16>>) {
        self.hub.rest_result(self.now, r);
    }

    fn frame(&mut self, text: &str) {
        self.hub.socket_message(self.now, text);
    }

    fn subscribe_all(&mut self) -> Vec<String> {
        let acts = self.actions();
        let topics = acts
            .iter()
            .find_map(|a| match a {
                Action::Subscribe { topics, .. } => Some(topics.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no subscription in {acts:?}"));
        topics
    }

    /// From nothing to live for `agent`: channel, socket + subscription, pong.
    fn live(&mut self, agent: &str) -> u64 {
        self.hub.enter();
        self.hub.want(agent);
        assert_eq!(self.actions(), vec![Action::CreateChannel]);
        self.rest(Ok(CHANNEL));
        let acts = self.actions();
        assert_eq!(
            acts,
            vec![
                Action::Open {
                    url: "wss://streaming.example/channels/streaming-0-aaa".into()
                },
                Action::Subscribe {
                    channel_id: "streaming-0-aaa".into(),
                    topics: vec![format!("v2.users.{agent}.conversations.calls")],
                },
            ]
        );
        self.hub.socket_opened(self.now);
        assert_eq!(self.actions(), vec![Action::Send(hub_ping())]);
        self.frame(PONG);
        self.rest(Ok(&listing(&[(agent, "Permitted")])));
        assert!(self.hub.is_live());
        match self.hub.place_step(agent, self.now) {
            PlaceStep::Ready(g) => g,
            s => panic!("{s:?}"),
        }
    }

    /// After a reconnect: socket + subscription again, then pong.
    fn relive(&mut self, agent_list: &[(&str, &str)]) {
        self.relive_after(Vec::new(), agent_list)
    }

    /// [`relive`](Self::relive), with the actions already taken from the hub.
    fn relive_after(&mut self, mut acts: Vec<Action>, agent_list: &[(&str, &str)]) {
        acts.extend(self.actions());
        assert!(
            acts.iter().any(|a| matches!(a, Action::Open { .. })),
            "{acts:?}"
        );
        assert!(
            acts.iter().any(|a| matches!(a, Action::Subscribe { .. })),
            "{acts:?}"
        );
        self.hub.socket_opened(self.now);
        assert_eq!(self.actions(), vec![Action::Send(hub_ping())]);
        self.frame(PONG);
        self.rest(Ok(&listing(agent_list)));
        assert!(self.hub.is_live());
    }

    fn step(&mut self, id: &str, seen: u64) -> CallStep {
        self.hub.call_step(id, seen, self.now)
    }

    /// Watches `id` until nothing is left to do; returns the statuses
    /// delivered (phase, outcome) and the reads it was asked to make.
    fn deliveries(&mut self, id: &str, seen: &mut u64) -> Vec<(Phase, Option<Outcome>)> {
        let mut out = Vec::new();
        loop {
            match self.step(id, *seen) {
                CallStep::Deliver { version } => {
                    *seen = version;
                    let s = &self.hub.known(id).unwrap().status;
                    out.push((s.phase, s.outcome));
                }
                CallStep::Wait => return out,
                s => panic!("unexpected {s:?}"),
            }
        }
    }
}

fn hub_ping() -> &'static str {
    r#"{"message":"ping"}"#
}

#[test]
fn first_use_creates_one_channel_then_goes_live_only_with_pong_and_subscription() {
    // Both orders: the pong before the subscription answer, and after.
    for pong_first in [true, false] {
        let mut t = T::new();
        assert_eq!(t.actions(), vec![], "nothing happens without a participant");
        t.hub.enter();
        t.hub.want(ADA);
        assert_eq!(t.hub.place_step(ADA, t.now), PlaceStep::Wait);
        assert_eq!(t.actions(), vec![Action::CreateChannel]);
        assert_eq!(t.actions(), vec![], "one request at a time");
        t.rest(Ok(CHANNEL));
        assert_eq!(t.hub.channel_id(), Some("streaming-0-aaa"));
        let acts = t.actions();
        assert_eq!(acts.len(), 2, "{acts:?}");
        t.hub.socket_opened(t.now);
        assert_eq!(t.actions(), vec![Action::Send(hub_ping())]);
        if pong_first {
            t.frame(PONG);
            assert_eq!(t.hub.place_step(ADA, t.now), PlaceStep::Wait);
            t.rest(Ok(&listing(&[(ADA, "Permitted")])));
        } else {
            t.rest(Ok(&listing(&[(ADA, "Permitted")])));
            assert_eq!(
                t.hub.place_step(ADA, t.now),
                PlaceStep::Wait,
                "the server may not have attached the socket yet"
            );
            t.frame(PONG);
        }
        assert!(matches!(t.hub.place_step(ADA, t.now), PlaceStep::Ready(_)));
        assert_eq!(t.actions(), vec![], "live and quiet");
    }
}

#[test]
fn a_socket_without_any_frame_counts_as_live_after_verify_ms() {
    let mut t = T::new();
    t.hub.enter();
    t.hub.want(ADA);
    t.actions();
    t.rest(Ok(CHANNEL));
    t.actions();
    t.hub.socket_opened(t.now);
    t.actions();
    t.rest(Ok(&listing(&[(ADA, "Permitted")])));
    assert_eq!(t.hub.next_wake(t.now), Some(t.now + 200));
    t.advance(199);
    t.actions();
    assert!(!t.hub.is_live());
    t.advance(1);
    t.actions();
    assert!(t.hub.is_live());
}

#[test]
fn a_call_placed_while_live_is_followed_with_no_read() {
    let mut t = T::new();
    let g = t.live(ADA);
    t.hub.placed("c1", Some(ADA), Some(g), t.now);
    t.hub.watch("c1", t.now);
    let mut seen = 0;
    assert_eq!(t.step("c1", seen), CallStep::Wait, "synced: no reconcile");
    let mut phases = Vec::new();
    for body in answered("c1") {
        t.frame(&event(ADA, &body));
        phases.extend(t.deliveries("c1", &mut seen));
    }
    assert_eq!(
        phases,
        vec![
            (Phase::ContactingAgent, None),
            (Phase::Dialing, None),
            (Phase::Connected, None),
            (Phase::Ended, Some(Outcome::Completed)),
        ]
    );
}

#[test]
fn the_event_that_beats_the_post_response_is_buffered_by_id() {
    let mut t = T::new();
    let g = t.live(ADA);
    let bodies = answered("c1");
    t.frame(&event(ADA, &bodies[0]));
    t.frame(&event(ADA, &bodies[1]));
    // Another call of the same agent, nobody's: buffered too, never delivered here.
    t.frame(&event(ADA, &answered("other")[0]));
    t.hub.placed("c1", Some(ADA), Some(g), t.now);
    t.hub.watch("c1", t.now);
    let mut seen = 0;
    assert_eq!(
        t.deliveries("c1", &mut seen),
        vec![(Phase::Dialing, None)],
        "the latest buffered state, at once, without a read"
    );
}

#[test]
fn a_call_placed_before_push_was_live_is_reconciled_once() {
    let mut t = T::new();
    t.hub.enter();
    t.hub.want(ADA);
    // Readiness timed out: dialled without coverage.
    t.hub.placed("c1", Some(ADA), None, t.now);
    t.hub.watch("c1", t.now);
    assert_eq!(
        t.step("c1", 0),
        CallStep::Wait,
        "nothing to reconcile under yet"
    );
    t.actions();
    t.rest(Ok(CHANNEL));
    t.relive(&[(ADA, "Permitted")]);
    let g = t.hub.coverage(ADA).unwrap();
    assert_eq!(t.step("c1", 0), CallStep::Read { reconcile: Some(g) });
    assert_eq!(t.step("c1", 0), CallStep::Wait, "one reader at a time");
    let st = status(&answered("c1")[1]);
    t.hub.read_result("c1", Some(g), Some((&st, "{}")), t.now);
    let mut seen = 0;
    assert_eq!(t.deliveries("c1", &mut seen), vec![(Phase::Dialing, None)]);
    assert_eq!(t.step("c1", seen), CallStep::Wait, "synced: no second read");
}

fn reconnect_case(fault: &str) {
    let mut t = T::new();
    let g1 = t.live(ADA);
    t.hub.placed("c1", Some(ADA), Some(g1), t.now);
    t.hub.watch("c1", t.now);
    let bodies = answered("c1");
    t.frame(&event(ADA, &bodies[1]));
    let mut seen = 0;
    assert_eq!(t.deliveries("c1", &mut seen), vec![(Phase::Dialing, None)]);
    t.advance(150); // healthy for longer than min_healthy_ms
    let last_rx = t.now;
    t.frame(HEARTBEAT);
    let mut acts = Vec::new();
    match fault {
        "socket_closing" => {
            t.frame(r#"{"topicName":"v2.system.socket_closing","eventBody":{}}"#);
            acts = t.actions();
            assert_eq!(acts.remove(0), Action::Close, "the old socket goes first");
        }
        "abrupt_close" => t.hub.socket_closed(t.now),
        "stall" => {
            // Silence: a ping after ping_after_ms, then the watchdog.
            t.advance(300);
            assert_eq!(t.actions(), vec![Action::Send(hub_ping())]);
            assert_eq!(t.hub.next_wake(t.now), Some(t.now + 300), "the next ping");
            t.at(last_rx + 600);
            assert_eq!(t.actions(), vec![Action::Send(hub_ping())]);
            assert_eq!(t.hub.next_wake(t.now), Some(last_rx + 650), "the watchdog");
            t.at(last_rx + 649);
            assert_eq!(t.actions(), vec![]);
            assert!(t.hub.is_live());
            t.at(last_rx + 650);
            acts = t.actions();
            assert_eq!(acts.remove(0), Action::Close);
        }
        _ => unreachable!(),
    }
    assert!(!t.hub.is_live());
    assert_eq!(t.hub.place_step(ADA, t.now), PlaceStep::Wait);
    // Meanwhile the call answered and ended: those events were lost.
    t.relive_after(acts, &[(ADA, "Permitted")]);
    let g2 = t.hub.coverage(ADA).unwrap();
    assert_ne!(g1, g2);
    assert_eq!(
        t.hub.channel_id(),
        Some("streaming-0-aaa"),
        "{fault}: same channel, same connectUri"
    );
    assert_eq!(
        t.step("c1", seen),
        CallStep::Read {
            reconcile: Some(g2)
        }
    );
    let ended = status(&bodies[3]);
    t.hub
        .read_result("c1", Some(g2), Some((&ended, "{}")), t.now);
    assert_eq!(
        t.deliveries("c1", &mut seen),
        vec![(Phase::Ended, Some(Outcome::Completed))],
        "{fault}: the final state is not lost"
    );
    // Late events from before the gap change nothing.
    t.frame(&event(ADA, &bodies[2]));
    assert_eq!(t.deliveries("c1", &mut seen), vec![]);
}

#[test]
fn reconnect_after_socket_closing_then_one_reconcile() {
    reconnect_case("socket_closing");
}

#[test]
fn reconnect_after_an_abrupt_close_then_one_reconcile() {
    reconnect_case("abrupt_close");
}

#[test]
fn reconnect_after_a_stall_then_one_reconcile() {
    reconnect_case("stall");
}

#[test]
fn heartbeats_keep_the_watchdog_quiet_and_pings_only_go_out_on_silence() {
    let mut t = T::new();
    t.live(ADA);
    for _ in 0..10 {
        t.advance(250);
        t.frame(HEARTBEAT);
        assert_eq!(
            t.actions(),
            vec![],
            "heartbeats every 250 ms: no ping needed"
        );
    }
    assert!(t.hub.is_live());
    t.advance(300);
    assert_eq!(t.actions(), vec![Action::Send(hub_ping())]);
    t.advance(10);
    t.frame(PONG);
    t.advance(300);
    assert_eq!(t.actions(), vec![Action::Send(hub_ping())]);
    assert!(t.hub.is_live());
}

#[test]
fn a_failed_handshake_makes_a_new_channel_and_repeated_failures_fall_back() {
    let mut t = T::new();
    t.live(ADA);
    t.advance(150);
    t.hub.socket_closed(t.now); // healthy socket lost: reopen at once
    let acts = t.actions();
    assert!(matches!(acts[0], Action::Open { .. }), "{acts:?}");
    // The handshake fails (a 404 for an expired channel looks like this).
    t.hub.socket_closed(t.now);
    assert_eq!(t.actions(), vec![], "backing off");
    // (The subscription renewed with the reopen answers for the old channel.)
    t.rest(Ok(&listing(&[(ADA, "Permitted")])));
    assert_eq!(t.hub.next_wake(t.now), Some(t.now + 50));
    t.advance(50);
    assert_eq!(t.actions(), vec![Action::CreateChannel], "a new channel");
    t.rest(Ok(CHANNEL2));
    t.actions();
    t.hub.socket_closed(t.now); // fails again
    t.rest(Err(None));
    t.advance(100);
    assert_eq!(t.actions(), vec![Action::CreateChannel]);
    t.rest(Err(Some(503)));
    assert_eq!(t.hub.fallback(t.now), Some(Fallback::Unreachable));
    assert_eq!(
        t.hub.place_step(ADA, t.now),
        PlaceStep::Fallback(Fallback::Unreachable)
    );
    t.hub.watch("c1", t.now);
    assert_eq!(t.step("c1", 0), CallStep::Poll(Fallback::Unreachable));
    // After the cooldown, push is tried again from scratch.
    assert_eq!(t.hub.next_wake(t.now), Some(t.now + 5_000));
    t.advance(5_000);
    assert_eq!(t.actions(), vec![Action::CreateChannel]);
}

#[test]
fn a_socket_that_keeps_dropping_right_after_going_live_ends_in_polling() {
    let mut t = T::new();
    t.live(ADA);
    for i in 0..3 {
        t.advance(10); // not healthy for min_healthy_ms
        t.hub.socket_closed(t.now);
        if i < 2 {
            t.advance(1_000);
            t.relive(&[(ADA, "Permitted")]);
        }
    }
    assert_eq!(t.hub.fallback(t.now), Some(Fallback::Unreachable));
}

#[test]
fn the_socket_must_open_in_time() {
    let mut t = T::new();
    t.hub.enter();
    t.hub.want(ADA);
    t.actions();
    t.rest(Ok(CHANNEL));
    t.actions();
    assert_eq!(t.hub.next_wake(t.now), Some(t.now + 1_000));
    t.rest(Ok(&listing(&[(ADA, "Permitted")])));
    t.advance(1_000);
    assert_eq!(t.actions(), vec![Action::Close]);
    t.advance(50);
    assert_eq!(t.actions(), vec![Action::CreateChannel]);
}

#[test]
fn refusals_fall_back_to_polling_for_good() {
    // The channel POST refused.
    let mut t = T::new();
    t.hub.enter();
    t.hub.want(ADA);
    t.actions();
    t.rest(Err(Some(403)));
    assert_eq!(t.hub.fallback(t.now), Some(Fallback::ChannelRefused));
    t.advance(1_000_000);
    assert_eq!(t.actions(), vec![]);
    assert_eq!(t.hub.next_wake(t.now), None);
    assert_eq!(
        t.hub.place_step(ADA, t.now),
        PlaceStep::Fallback(Fallback::ChannelRefused)
    );
    // The subscription refused as a whole: the socket is closed too.
    let mut t = T::new();
    t.hub.enter();
    t.hub.want(ADA);
    t.actions();
    t.rest(Ok(CHANNEL));
    t.actions();
    t.hub.socket_opened(t.now);
    t.actions();
    t.rest(Err(Some(403)));
    assert_eq!(t.hub.fallback(t.now), Some(Fallback::SubscribeRefused));
    assert_eq!(t.actions(), vec![Action::Close]);
    // 429 and 5xx are not refusals: retried with backoff.
    let mut t = T::new();
    t.hub.enter();
    t.hub.want(ADA);
    t.actions();
    t.rest(Err(Some(429)));
    assert_eq!(t.hub.fallback(t.now), None);
    t.advance(50);
    assert_eq!(t.actions(), vec![Action::CreateChannel]);
}

#[test]
fn a_rejected_topic_polls_that_agent_only() {
    let mut t = T::new();
    t.live(ADA);
    t.hub.want(OTTO);
    let topics = t.subscribe_all();
    assert_eq!(topics.len(), 2, "PUT lists every topic: {topics:?}");
    t.rest(Ok(&listing(&[(ADA, "Permitted"), (OTTO, "Rejected")])));
    assert_eq!(
        t.hub.place_step(OTTO, t.now),
        PlaceStep::Fallback(Fallback::TopicRejected)
    );
    assert!(matches!(t.hub.place_step(ADA, t.now), PlaceStep::Ready(_)));
    t.hub.placed("c2", Some(OTTO), None, t.now);
    t.hub.watch("c2", t.now);
    assert_eq!(t.step("c2", 0), CallStep::Poll(Fallback::TopicRejected));
    // A topic missing from the answer is treated as rejected.
    let mut t = T::new();
    t.hub.enter();
    t.hub.want(ADA);
    t.actions();
    t.rest(Ok(CHANNEL));
    t.actions();
    t.hub.socket_opened(t.now);
    t.frame(PONG);
    t.rest(Ok(r#"{"entities":[]}"#));
    assert_eq!(
        t.hub.place_step(ADA, t.now),
        PlaceStep::Fallback(Fallback::TopicRejected)
    );
}

#[test]
fn a_new_agent_is_added_by_put_without_disturbing_the_others() {
    let mut t = T::new();
    let g = t.live(ADA);
    t.hub.placed("c1", Some(ADA), Some(g), t.now);
    t.hub.watch("c1", t.now);
    t.hub.want(OTTO);
    assert_eq!(t.hub.place_step(OTTO, t.now), PlaceStep::Wait);
    t.subscribe_all();
    t.rest(Ok(&listing(&[(ADA, "Permitted"), (OTTO, "Permitted")])));
    assert!(matches!(t.hub.place_step(OTTO, t.now), PlaceStep::Ready(_)));
    assert_eq!(t.hub.coverage(ADA), Some(g), "Ada stayed covered");
    assert_eq!(t.step("c1", 0), CallStep::Wait, "so c1 needs no reconcile");
}

#[test]
fn a_vanished_channel_is_replaced() {
    // Subscription 404: the channel expired between requests.
    let mut t = T::new();
    t.live(ADA);
    t.hub.want(OTTO);
    t.subscribe_all();
    t.rest(Err(Some(404)));
    assert_eq!(t.actions(), vec![Action::Close, Action::CreateChannel]);
    // Evicted (a 21st channel elsewhere): Genesys says so on the socket.
    let mut t = T::new();
    t.live(ADA);
    t.frame(r#"{"topicName":"v2.system.no_longer_subscribed.streaming-0-aaa","eventBody":{}}"#);
    assert!(!t.hub.is_live());
    assert_eq!(t.actions(), vec![Action::Close, Action::CreateChannel]);
    t.rest(Ok(CHANNEL2));
    t.relive(&[(ADA, "Permitted")]);
    assert_eq!(t.hub.channel_id(), Some("streaming-0-bbb"));
}

#[test]
fn resubscribes_before_the_channel_expires() {
    // Relative clock (host): every resubscribe_ms.
    let mut t = T::new();
    t.live(ADA);
    let put_at = t.now;
    assert_eq!(t.hub.next_wake(t.now), Some(t.now + 300), "a ping first");
    t.frame(HEARTBEAT);
    for _ in 0..(100_000 / 250) {
        t.advance(250);
        t.frame(HEARTBEAT);
        let acts = t.actions();
        if t.now < put_at + 100_000 {
            assert_eq!(acts, vec![]);
        } else {
            assert_eq!(acts.len(), 1);
            assert!(matches!(acts[0], Action::Subscribe { .. }));
            break;
        }
    }
    assert!(t.hub.is_live(), "renewing does not interrupt coverage");
    t.rest(Ok(&listing(&[(ADA, "Permitted")])));
    assert!(t.hub.is_live());
}

#[test]
fn duplicated_and_reordered_events_never_move_a_call_backwards() {
    let mut t = T::new();
    let g = t.live(ADA);
    t.hub.placed("c1", Some(ADA), Some(g), t.now);
    t.hub.watch("c1", t.now);
    let b = answered("c1");
    let mut seen = 0;
    let mut delivered = Vec::new();
    // Duplicates, then the end before the answer (reorder), then a late dialing.
    for i in [0, 0, 1, 1, 3, 2, 1, 3, 0] {
        t.frame(&event(ADA, &b[i]));
        delivered.extend(t.deliveries("c1", &mut seen));
    }
    assert_eq!(
        delivered,
        vec![
            (Phase::ContactingAgent, None),
            (Phase::Dialing, None),
            (Phase::Ended, Some(Outcome::Completed)),
        ]
    );
}

#[test]
fn busy_needs_one_sip_cause_read_before_the_end_is_shown() {
    let mut t = T::new();
    let g = t.live(ADA);
    t.hub.placed("c1", Some(ADA), Some(g), t.now);
    t.hub.watch("c1", t.now);
    let busy = conversation(
        "c1",
        ADA,
        "disconnected",
        Some(r#","state":"disconnected","disconnectType":"endpoint""#),
    );
    t.frame(&event(ADA, &busy));
    assert_eq!(t.step("c1", 0), CallStep::FetchReasons);
    assert_eq!(t.step("c1", 0), CallStep::Wait, "one reader");
    let conv = Snapshot::parse(r#"{"id":"c1","participants":[{"id":"pc","purpose":"customer","calls":[{"state":"disconnected","disconnectReasons":[{"type":"sip","code":486}]}]}]}"#).unwrap();
    t.hub.reasons_result("c1", Some(&conv));
    let mut seen = 0;
    assert_eq!(
        t.deliveries("c1", &mut seen),
        vec![(Phase::Ended, Some(Outcome::Busy))]
    );
    // A duplicate end without causes keeps "busy"; no second read.
    t.frame(&event(ADA, &busy));
    assert_eq!(t.step("c1", seen), CallStep::Wait);
    assert_eq!(
        t.hub.known("c1").unwrap().status.outcome,
        Some(Outcome::Busy)
    );
    // A failed cause read leaves the status as it is, delivered once.
    let mut t = T::new();
    let g = t.live(ADA);
    t.hub.placed("c2", Some(ADA), Some(g), t.now);
    t.hub.watch("c2", t.now);
    t.frame(&event(ADA, &busy.replace("c1", "c2")));
    assert_eq!(t.step("c2", 0), CallStep::FetchReasons);
    t.hub.reasons_abandoned("c2");
    assert_eq!(
        t.step("c2", 0),
        CallStep::FetchReasons,
        "abandoned: asked again"
    );
    t.hub.reasons_result("c2", None);
    let mut seen = 0;
    assert_eq!(
        t.deliveries("c2", &mut seen),
        vec![(Phase::Ended, Some(Outcome::Failed))]
    );
}

#[test]
fn waiting_for_a_call_of_unknown_agent_learns_the_agent_from_one_read() {
    let mut t = T::new();
    t.hub.enter();
    t.hub.watch("c9", t.now);
    assert_eq!(t.step("c9", 0), CallStep::Read { reconcile: None });
    assert_eq!(t.actions(), vec![], "no topic yet: no channel");
    let st = status(&answered("c9")[1]);
    t.hub.read_result("c9", None, Some((&st, "{}")), t.now);
    let mut seen = 0;
    assert_eq!(t.deliveries("c9", &mut seen), vec![(Phase::Dialing, None)]);
    // Now the agent's topic is wanted: the link comes up, then one reconcile.
    assert_eq!(t.actions(), vec![Action::CreateChannel]);
    t.rest(Ok(CHANNEL));
    t.relive(&[(ADA, "Permitted")]);
    let g = t.hub.coverage(ADA).unwrap();
    assert_eq!(t.step("c9", seen), CallStep::Read { reconcile: Some(g) });
    t.hub.read_result("c9", Some(g), Some((&st, "{}")), t.now);
    assert_eq!(t.step("c9", seen), CallStep::Wait);
    // A call whose read shows no agent leg cannot be pushed.
    t.hub.watch("c8", t.now);
    assert_eq!(t.step("c8", 0), CallStep::Read { reconcile: None });
    let no_agent =
        status(r#"{"id":"c8","participants":[{"id":"x","purpose":"ivr","state":"connected"}]}"#);
    t.hub
        .read_result("c8", None, Some((&no_agent, "{}")), t.now);
    assert_eq!(t.step("c8", 0), CallStep::Deliver { version: 1 });
    assert_eq!(t.step("c8", 1), CallStep::Poll(Fallback::AgentUnknown));
}

#[test]
fn an_abandoned_read_is_handed_to_the_next_watcher() {
    let mut t = T::new();
    t.hub.enter();
    t.hub.want(ADA);
    t.hub.placed("c1", Some(ADA), None, t.now);
    t.hub.watch("c1", t.now);
    t.actions();
    t.rest(Ok(CHANNEL));
    t.relive(&[(ADA, "Permitted")]);
    let g = t.hub.coverage(ADA).unwrap();
    assert_eq!(t.step("c1", 0), CallStep::Read { reconcile: Some(g) });
    t.hub.read_abandoned("c1");
    assert_eq!(t.step("c1", 0), CallStep::Read { reconcile: Some(g) });
    // A reconcile that finishes after the link dropped again does not count.
    t.advance(150);
    t.hub.socket_closed(t.now);
    let st = status(&answered("c1")[1]);
    t.hub.read_result("c1", Some(g), Some((&st, "{}")), t.now);
    t.relive(&[(ADA, "Permitted")]);
    let g2 = t.hub.coverage(ADA).unwrap();
    assert_eq!(t.step("c1", 0), CallStep::Deliver { version: 1 });
    assert_eq!(
        t.step("c1", 1),
        CallStep::Read {
            reconcile: Some(g2)
        }
    );
}

#[test]
fn abandoned_rest_requests_are_asked_for_again() {
    let mut t = T::new();
    t.hub.enter();
    t.hub.want(ADA);
    assert_eq!(t.actions(), vec![Action::CreateChannel]);
    t.hub.rest_abandoned(t.now);
    assert_eq!(t.actions(), vec![Action::CreateChannel]);
    t.rest(Ok(CHANNEL));
    let acts = t.actions();
    assert_eq!(acts.len(), 2);
    t.hub.rest_abandoned(t.now);
    assert!(matches!(t.actions()[..], [Action::Subscribe { .. }]));
}

#[test]
fn an_idle_socket_lingers_then_closes_and_is_reopened_on_demand() {
    let mut t = T::new();
    t.live(ADA);
    t.hub.leave();
    assert_eq!(t.hub.idle_action(), Some(IdleAction::CloseAfter(20)));
    assert_eq!(t.hub.idle_action(), None);
    assert_eq!(t.actions(), vec![], "idle: nothing to drive");
    assert_eq!(t.hub.next_wake(t.now), None);
    // Someone comes back in time: the close is cancelled.
    t.hub.enter();
    assert_eq!(t.hub.idle_action(), Some(IdleAction::CancelClose));
    t.hub.leave();
    assert_eq!(t.hub.idle_action(), Some(IdleAction::CloseAfter(20)));
    // The linger close happened; it is not a failure.
    t.advance(20);
    t.hub.socket_closed(t.now);
    t.hub.enter();
    assert_eq!(
        t.hub.idle_action(),
        None,
        "closed already: nothing to cancel"
    );
    let acts = t.actions();
    assert!(matches!(acts[0], Action::Open { .. }), "{acts:?}");
    assert_eq!(t.hub.fallback(t.now), None);
    // A leave and enter before anyone handled the close: nothing to do.
    let mut t = T::new();
    t.live(ADA);
    t.hub.leave();
    t.hub.enter();
    assert_eq!(t.hub.idle_action(), None);
}

#[test]
fn hostile_frames_are_counted_not_trusted() {
    let mut t = T::new();
    let g = t.live(ADA);
    t.hub.placed("c1", Some(ADA), Some(g), t.now);
    t.hub.watch("c1", t.now);
    for bad in [
        "",
        "]",
        "null",
        "\"x\"",
        "{\"topicName\":[]}",
        r#"{"topicName":"v2.users.ada-1.conversations.calls","eventBody":{"id":5}}"#,
        r#"{"topicName":"v2.users.ada-1.conversations.calls","eventBody":{"id":"c1","participants":"x"}}"#,
    ] {
        t.frame(bad);
    }
    assert_eq!(t.hub.malformed_frames, 7);
    // Events on a topic we never asked for are ignored.
    t.frame(&event("mallory", &answered("c1")[3]));
    assert_eq!(t.step("c1", 0), CallStep::Wait);
    assert!(t.hub.is_live());
    // A frame too big to read may have been an event: reconnect and reconcile.
    t.frame(&format!(
        r#"{{"topicName":"x","eventBody":"{}"}}"#,
        "y".repeat(crate::wire::notifications::MAX_FRAME_BYTES)
    ));
    assert!(!t.hub.is_live());
    assert_eq!(t.actions()[0], Action::Close);
}

#[test]
fn buffered_calls_are_forgotten_when_nobody_claims_them() {
    let mut t = T::new();
    t.live(ADA);
    for i in 0..60 {
        t.frame(&event(ADA, &answered(&format!("n{i}"))[0]));
    }
    t.advance(1);
    t.actions();
    assert_eq!(t.hub.calls_remembered(), 50, "at most max_calls");
    t.advance(10_000);
    t.actions();
    assert!(t.hub.calls_remembered() == 0, "quiet for keep_ms");
}

#[test]
fn topics_beyond_a_channels_limit_are_polled() {
    let mut t = T::new();
    t.live(ADA);
    for i in 0..MAX_TOPICS {
        t.hub.want(&format!("a{i}"));
    }
    assert_eq!(
        t.hub.place_step("a999", t.now),
        PlaceStep::Fallback(Fallback::TopicLimit)
    );
    assert_eq!(t.subscribe_all().len(), MAX_TOPICS);
}

#[test]
fn a_disabled_hub_always_polls() {
    let mut h = Hub::disabled();
    h.enter();
    h.want(ADA);
    assert_eq!(h.poll_action(0), None);
    assert_eq!(
        h.place_step(ADA, 0),
        PlaceStep::Fallback(Fallback::NoWebSocket)
    );
    h.watch("c", 0);
    assert_eq!(
        h.call_step("c", 0, 0),
        CallStep::Poll(Fallback::NoWebSocket)
    );
}

#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever order, duplication or loss the socket applies to a call's
        /// events, what a watcher sees only moves forward, and once the end
        /// arrives it is the end.
        #[test]
        fn delivered_phases_never_go_backwards(order in proptest::collection::vec(0usize..4, 0..24)) {
            let mut t = T::new();
            let g = t.live(ADA);
            t.hub.placed("c1", Some(ADA), Some(g), t.now);
            t.hub.watch("c1", t.now);
            let b = answered("c1");
            let mut seen = 0;
            let mut delivered = Vec::new();
            for i in &order {
                t.frame(&event(ADA, &b[*i]));
                delivered.extend(t.deliveries("c1", &mut seen));
            }
            prop_assert!(delivered.windows(2).all(|w| w[0].0 < w[1].0), "{:?}", delivered);
            if order.contains(&3) {
                prop_assert_eq!(delivered.last().copied(), Some((Phase::Ended, Some(Outcome::Completed))));
            }
        }

        /// The hub never panics, whatever frames and events arrive in whatever order.
        #[test]
        fn no_input_sequence_panics(ops in proptest::collection::vec((0u8..9, any::<String>(), 0u64..2_000), 0..60)) {
            let mut t = T::new();
            t.hub.enter();
            t.hub.want(ADA);
            for (op, text, dt) in ops {
                t.advance(dt);
                match op {
                    0 => t.frame(&text),
                    1 => t.hub.socket_opened(t.now),
                    2 => t.hub.socket_closed(t.now),
                    3 => t.rest(Ok(CHANNEL)),
                    4 => t.rest(Ok(&listing(&[(ADA, "Permitted")]))),
                    5 => t.rest(Err(Some(503))),
                    6 => t.frame(PONG),
                    7 => { let _ = t.step("c1", 0); }
                    _ => { let _ = t.hub.next_wake(t.now); }
                }
                let mut n = 0;
                while t.hub.poll_action(t.now).is_some() { n += 1; prop_assert!(n < 20); }
            }
        }
    }
}

#[test]
fn an_unknown_outcome_matches_only_a_call_started_around_its_post() {
    let mut t = T::new();
    t.live(ADA);
    // The POST with the unknown outcome went out at 11:07:00.
    let since = 1_795_000_020_000;
    let far = |start: &str, end: Option<&str>| {
        let end = end
            .map(|e| format!(r#","endTime":"{e}""#))
            .unwrap_or_default();
        format!(r#","state":"dialing","startTime":"{start}"{end}"#)
    };
    // An earlier call to the same number, over before the POST.
    let old = far("2026-11-18T10:50:00.000Z", Some("2026-11-18T10:55:00.000Z"));
    t.frame(&event(
        ADA,
        &conversation("old", ADA, "connected", Some(&old)),
    ));
    assert_eq!(t.hub.call_to(ADA, "+13175550100", since), None);
    // One that began a minute or more before the POST is not it either.
    let early = far("2026-11-18T11:05:30.000Z", None);
    t.frame(&event(
        ADA,
        &conversation("early", ADA, "connected", Some(&early)),
    ));
    assert_eq!(t.hub.call_to(ADA, "+13175550100", since), None);
    // The POST's call, then a later one: the earliest since the POST wins.
    let later = far("2026-11-18T11:07:20.000Z", None);
    t.frame(&event(
        ADA,
        &conversation("later", ADA, "connected", Some(&later)),
    ));
    let mine = far("2026-11-18T11:07:01.000Z", None);
    t.frame(&event(
        ADA,
        &conversation("mine", ADA, "connected", Some(&mine)),
    ));
    assert_eq!(
        t.hub.call_to(ADA, "+13175550100", since).as_deref(),
        Some("mine")
    );
    assert_eq!(
        t.hub.call_to(ADA, "+13175550199", since),
        None,
        "another number"
    );
    assert_eq!(
        t.hub.call_to(OTTO, "+13175550100", since),
        None,
        "another agent"
    );
}
