//! The settle window (issue #15): from the moment a create-call POST is sent
//! until its outcome is known, its number has a call in flight, and a second
//! `placeCall` for it is told the call may be ringing. After an unknown
//! outcome (a 5xx, a dropped connection, a malformed answer, a time-out), for
//! `settle_ms` every `placeCall` for it finds the call instead of dialling
//! again. Pure bookkeeping: the flow (`flow/settle.rs`) sends and looks up.
//! (Waiting for the first POST's answer instead would be nicer, and cost the
//! browser package more than its size budget has left.)

use crate::call::{ConversationId, UserId};

/// How long after an unknown outcome a number is not dialled again.
pub const SETTLE_MS: u64 = 120_000;

/// What `placeCall` may do for a number now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Nothing pending: send the POST under this ticket, then [`Book::settle`] it.
    Dial(u64),
    /// Another `placeCall`'s POST for the number is in flight.
    InFlight,
    /// An unknown outcome within the window: find the call that POST may
    /// have placed (`agent`'s calls to the number since `since`), then
    /// [`Book::resolved`]. `until`: when the window ends.
    Resolve {
        ticket: u64,
        agent: Option<UserId>,
        since: u64,
        until: u64,
    },
    /// The unknown outcome was resolved: this is the call.
    Placed(ConversationId),
}

/// How a POST ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Placed, or certainly not dialled (refused, never sent): the number is free.
    Known,
    /// Sent, outcome unknown: may have dialled.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    InFlight,
    Unknown { until: u64 },
    Resolved { id: ConversationId, until: u64 },
}

#[derive(Debug)]
struct Entry {
    ticket: u64,
    number: String,
    agent: Option<UserId>,
    /// When the reservation was taken (just before the POST).
    since: u64,
    state: State,
}

/// The numbers a client has a call in flight for, or is settling (each
/// forgotten once its window ends, so the book stays small).
#[derive(Debug, Default)]
pub struct Book {
    entries: Vec<Entry>,
    next: u64,
}

impl Book {
    /// What `placeCall` for `number` (dialled for `agent`, `None`: the
    /// token's own user) may do at `now`. `Dial` reserves the number.
    pub fn admit(&mut self, number: &str, agent: Option<&UserId>, now: u64) -> Admit {
        self.entries.retain(|e| match e.state {
            State::Unknown { until } | State::Resolved { until, .. } => now < until,
            State::InFlight => true,
        });
        if let Some(e) = self.entries.iter().find(|e| e.number == number) {
            return match &e.state {
                State::InFlight => Admit::InFlight,
                State::Unknown { until } => Admit::Resolve {
                    ticket: e.ticket,
                    agent: e.agent.clone(),
                    since: e.since,
                    until: *until,
                },
                State::Resolved { id, .. } => Admit::Placed(id.clone()),
            };
        }
        self.next += 1;
        self.entries.push(Entry {
            ticket: self.next,
            number: number.to_string(),
            agent: agent.cloned(),
            since: now,
            state: State::InFlight,
        });
        Admit::Dial(self.next)
    }

    /// The POST under `ticket` ended. An unknown outcome holds the number for
    /// `window_ms` from now; anything else releases it.
    pub fn settle(&mut self, ticket: u64, outcome: Settled, now: u64, window_ms: u64) {
        // Released: a window that has already ended (the next admit drops it).
        let until = match outcome {
            Settled::Known => 0,
            Settled::Unknown => now.saturating_add(window_ms),
        };
        for e in self.entries.iter_mut().filter(|e| e.ticket == ticket) {
            e.state = State::Unknown { until };
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
    fn a_number_is_held_while_its_post_is_in_flight() {
        let mut b = Book::default();
        let Admit::Dial(t) = b.admit(N, None, 0) else {
            panic!()
        };
        assert_eq!(b.admit(N, None, 5), Admit::InFlight);
        // Another number is never held by this one.
        assert!(matches!(b.admit("+13175550101", None, 5), Admit::Dial(_)));
        // Placed: released, the next placeCall dials (a new call).
        b.settle(t, Settled::Known, 10, SETTLE_MS);
        let Admit::Dial(t2) = b.admit(N, None, 12) else {
            panic!()
        };
        assert_ne!(t2, t);
        // Refused (known not to have dialled): released too.
        b.settle(t2, Settled::Known, 13, SETTLE_MS);
        assert!(matches!(b.admit(N, None, 14), Admit::Dial(_)));
    }

    #[test]
    fn an_unknown_outcome_holds_the_number_for_the_window_whatever_the_agent() {
        let mut b = Book::default();
        let (ada, otto) = (id(7), id(8));
        let Admit::Dial(t) = b.admit(N, Some(&ada), 1_000) else {
            panic!()
        };
        b.settle(t, Settled::Unknown, 1_500, SETTLE_MS);
        let resolve = Admit::Resolve {
            ticket: t,
            agent: Some(ada.clone()),
            since: 1_000,
            until: 1_500 + SETTLE_MS,
        };
        assert_eq!(b.admit(N, None, 2_000), resolve);
        assert_eq!(b.admit(N, Some(&otto), 1_499 + SETTLE_MS), resolve);
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
    fn the_book_forgets_what_has_settled() {
        let mut b = Book::default();
        for i in 0..100u64 {
            let Admit::Dial(t) = b.admit(&format!("+1555{i:07}"), None, i) else {
                panic!()
            };
            b.settle(t, Settled::Unknown, i, SETTLE_MS);
        }
        b.admit(N, None, 99 + SETTLE_MS);
        assert_eq!(b.entries.len(), 1, "only the number just reserved");
    }
}
