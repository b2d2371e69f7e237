//! The settle window (issue #15): from the moment a create-call POST is sent
//! until its outcome is known, its number has a call in flight. A second
//! `placeCall` for the number waits for the first's answer; after an unknown
//! outcome (a 5xx, a dropped connection, a malformed answer, a time-out), for
//! `settle_ms` every `placeCall` for it finds the call instead of dialling
//! again. Pure bookkeeping: the flow (`flow/settle.rs`) sends and looks up.

use crate::call::ConversationId;

/// How long after an unknown outcome a number is not dialled again.
pub const SETTLE_MS: u64 = 120_000;

/// A finished POST's answer is kept this long for the callers that waited on it.
const DONE_KEEP_MS: u64 = 30_000;

/// Numbers remembered at most (each is one small record); beyond this the
/// oldest finished ones go first.
const MAX_ENTRIES: usize = 1_000;

/// What `placeCall` may do for a number now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Nothing pending: send the POST under this ticket, then [`Book::settle`] it.
    Dial(u64),
    /// Another `placeCall`'s POST for the number is in flight: wait for its ticket.
    Wait(u64),
    /// An unknown outcome within the window: find the call that POST may
    /// have placed (`agent`'s calls to the number since `since`), then
    /// [`Book::resolved`]. `until`: when the window ends.
    Resolve {
        ticket: u64,
        agent: Option<String>,
        since: u64,
        until: u64,
    },
    /// The unknown outcome was resolved: this is the call.
    Placed(ConversationId),
}

/// How a POST ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    Placed(ConversationId),
    /// Refused, or never sent: certainly not dialled.
    NotDialled,
    /// Sent, outcome unknown: may have dialled.
    Unknown,
}

/// What a caller waiting for `ticket` finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    InFlight,
    /// The POST placed this call: the waiter gets it too.
    Placed(ConversationId),
    /// Anything else (not dialled, unknown, forgotten): ask [`Book::admit`] again.
    Again,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    InFlight,
    Placed { id: ConversationId, at: u64 },
    NotDialled { at: u64 },
    Unknown { until: u64 },
    Resolved { id: ConversationId, until: u64 },
}

#[derive(Debug)]
struct Entry {
    ticket: u64,
    number: String,
    agent: Option<String>,
    /// When the reservation was taken (just before the POST).
    since: u64,
    state: State,
}

impl Entry {
    /// Still holds the number (in flight, or within its window).
    fn holds(&self) -> bool {
        matches!(
            self.state,
            State::InFlight | State::Unknown { .. } | State::Resolved { .. }
        )
    }
}

/// The numbers a client has a call in flight for, or is settling.
#[derive(Debug, Default)]
pub struct Book {
    entries: Vec<Entry>,
    next: u64,
}

impl Book {
    /// What `placeCall` for `number` (dialled for `agent`, `None`: the
    /// token's own user) may do at `now`. `Dial` reserves the number.
    pub fn admit(&mut self, number: &str, agent: Option<&str>, now: u64) -> Admit {
        self.prune(now);
        if let Some(e) = self
            .entries
            .iter()
            .find(|e| e.number == number && e.holds())
        {
            return match &e.state {
                State::InFlight => Admit::Wait(e.ticket),
                State::Unknown { until } => Admit::Resolve {
                    ticket: e.ticket,
                    agent: e.agent.clone(),
                    since: e.since,
                    until: *until,
                },
                State::Resolved { id, .. } => Admit::Placed(id.clone()),
                State::Placed { .. } | State::NotDialled { .. } => unreachable!("holds()"),
            };
        }
        self.next += 1;
        if self.entries.len() >= MAX_ENTRIES {
            if let Some(i) = self.entries.iter().position(|e| !e.holds()) {
                self.entries.remove(i);
            }
        }
        self.entries.push(Entry {
            ticket: self.next,
            number: number.to_string(),
            agent: agent.map(str::to_string),
            since: now,
            state: State::InFlight,
        });
        Admit::Dial(self.next)
    }

    /// The POST under `ticket` ended. An unknown outcome holds the number for
    /// `window_ms` from now; anything else releases it.
    pub fn settle(&mut self, ticket: u64, outcome: Settled, now: u64, window_ms: u64) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.ticket == ticket) {
            e.state = match outcome {
                Settled::Placed(id) => State::Placed { id, at: now },
                Settled::NotDialled => State::NotDialled { at: now },
                Settled::Unknown => State::Unknown {
                    until: now.saturating_add(window_ms),
                },
            };
        }
    }

    /// The call the unknown outcome under `ticket` placed was found: every
    /// `placeCall` for the number gets it until the window ends.
    pub fn resolved(&mut self, ticket: u64, id: ConversationId) {
        if let Some(e) = self.entries.iter_mut().find(|e| e.ticket == ticket) {
            if let State::Unknown { until } = e.state {
                e.state = State::Resolved { id, until };
            }
        }
    }

    /// What a caller waiting for `ticket` finds at `now`.
    pub fn waited(&mut self, ticket: u64, now: u64) -> Waited {
        self.prune(now);
        match self
            .entries
            .iter()
            .find(|e| e.ticket == ticket)
            .map(|e| &e.state)
        {
            Some(State::InFlight) => Waited::InFlight,
            Some(State::Placed { id, .. }) => Waited::Placed(id.clone()),
            _ => Waited::Again,
        }
    }

    fn prune(&mut self, now: u64) {
        self.entries.retain(|e| match &e.state {
            State::InFlight => true,
            State::Placed { at, .. } | State::NotDialled { at } => {
                now < at.saturating_add(DONE_KEEP_MS)
            }
            State::Unknown { until } | State::Resolved { until, .. } => now < *until,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::EntityId;

    const N: &str = "+13175550100";

    fn id(n: u8) -> ConversationId {
        EntityId::parse(&format!("c0000000-0000-4000-8000-00000000000{n}"), "c").unwrap()
    }

    #[test]
    fn a_second_place_call_waits_for_the_first_and_gets_its_call() {
        let mut b = Book::default();
        let Admit::Dial(t) = b.admit(N, None, 0) else {
            panic!()
        };
        assert_eq!(b.admit(N, None, 5), Admit::Wait(t));
        assert_eq!(b.waited(t, 6), Waited::InFlight);
        b.settle(t, Settled::Placed(id(1)), 10, SETTLE_MS);
        assert_eq!(b.waited(t, 11), Waited::Placed(id(1)));
        // Placed and released: the next placeCall dials (a new call).
        assert!(matches!(b.admit(N, None, 12), Admit::Dial(t2) if t2 != t));
        // Another number is never held by this one.
        assert!(matches!(b.admit("+13175550101", None, 12), Admit::Dial(_)));
    }

    #[test]
    fn a_failure_known_not_to_have_dialled_releases_the_number() {
        let mut b = Book::default();
        let Admit::Dial(t) = b.admit(N, None, 0) else {
            panic!()
        };
        b.settle(t, Settled::NotDialled, 1, SETTLE_MS);
        assert_eq!(b.waited(t, 2), Waited::Again);
        assert!(matches!(b.admit(N, None, 2), Admit::Dial(_)));
    }

    #[test]
    fn an_unknown_outcome_holds_the_number_for_the_window_whatever_the_agent() {
        let mut b = Book::default();
        let Admit::Dial(t) = b.admit(N, Some("ada"), 1_000) else {
            panic!()
        };
        b.settle(t, Settled::Unknown, 1_500, SETTLE_MS);
        assert_eq!(b.waited(t, 1_600), Waited::Again);
        let resolve = Admit::Resolve {
            ticket: t,
            agent: Some("ada".into()),
            since: 1_000,
            until: 1_500 + SETTLE_MS,
        };
        assert_eq!(b.admit(N, None, 2_000), resolve);
        assert_eq!(b.admit(N, Some("otto"), 1_499 + SETTLE_MS), resolve);
        // Not found: still held. Found: every later placeCall gets that call.
        b.resolved(t, id(2));
        assert_eq!(b.admit(N, None, 3_000), Admit::Placed(id(2)));
        // After the window, dialling again is allowed.
        assert!(matches!(
            b.admit(N, None, 1_500 + SETTLE_MS),
            Admit::Dial(_)
        ));
    }

    #[test]
    fn finished_answers_are_forgotten_and_the_book_stays_bounded() {
        let mut b = Book::default();
        let Admit::Dial(t) = b.admit(N, None, 0) else {
            panic!()
        };
        b.settle(t, Settled::Placed(id(1)), 0, SETTLE_MS);
        assert_eq!(b.waited(t, DONE_KEEP_MS), Waited::Again);
        for i in 0..(MAX_ENTRIES as u64 + 10) {
            let Admit::Dial(t) = b.admit(&format!("+1555{i:07}"), None, 1) else {
                panic!()
            };
            b.settle(t, Settled::NotDialled, 1, SETTLE_MS);
        }
        assert!(b.entries.len() <= MAX_ENTRIES);
    }
}
