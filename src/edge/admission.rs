//! Admission: every decision about placing a call that must be taken in one
//! place, as two small state machines fed commands and the time:
//!
//! - [`NumberDesk`], one per destination number: Idempotency-Keys for calls
//!   to it, the reservation taken *before* the create-call POST, the settle
//!   window after an unknown outcome, the per-number rate and the
//!   concurrent-call cap.
//! - [`AddressDesk`], one per client address: the per-address rate and which
//!   number each of the address's Idempotency-Keys was used for.
//!
//! Single-instance, the edge keeps them in memory; on Cloudflare each lives in
//! a Durable Object (named by the number's tag or the address digest), whose
//! single thread makes every command atomic and whose storage keeps the state
//! across restarts. Both serialize to JSON for that storage; neither does IO.

use serde::{Deserialize, Serialize};

use super::limits::Rate;

/// An unknown outcome is looked up (one read of the agent's recent
/// conversations) this long after it became unknown, when Genesys has indexed it.
pub const RESOLVE_AFTER_MS: u64 = 3_000;
/// A lookup handed to a reader that never reported back is handed out again after this.
pub const LOOKUP_LEASE_MS: u64 = 15_000;
/// A placed call counts against the cap until seen ending, or this long.
pub const ACTIVE_CALL_MAX_MS: u64 = 15 * 60_000;
/// How long an Idempotency-Key is remembered.
pub const KEY_TTL_MS: u64 = 24 * 3_600_000;
/// Records kept per desk at most (a desk is one number or one address).
const MAX_RECORDS: usize = 1_000;
/// Keys an address's desk remembers (for `idempotency_key_reused`); the oldest
/// go first. Bounded so a stored desk stays well inside one stored value
/// (Deno KV: 64 KiB): ~180 bytes each. A replay of a forgotten key still meets
/// its number's record, so it never dials twice.
const ADDRESS_KEYS: usize = 200;
/// A visitor asking again while their call is being placed retries this soon.
const WAIT_MS: u64 = 150;

/// The rules for one number, sent with every admission (the desks hold no
/// configuration: an instance's configuration is the one that applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberRules {
    pub rate: Rate,
    /// Concurrent calls allowed to the number (in flight and placed together).
    pub cap: u32,
    /// How long an unknown outcome blocks the number.
    pub settle_ms: u64,
    /// A reservation whose outcome is not reported by then is treated as unknown.
    pub inflight_ms: u64,
    /// How long records are kept for the handles that refer to them.
    pub retain_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "s", rename_all = "camelCase", rename_all_fields = "camelCase")]
enum State {
    /// The create-call POST is about to be sent or in flight.
    InFlight {
        number: String,
        deadline: u64,
        settle_ms: u64,
    },
    /// Genesys created the call; `active_until` is 0 once it was seen ending.
    Placed {
        conversation: String,
        active_until: u64,
    },
    /// The POST may have dialled. `number` is kept (for the lookup) until the
    /// window ends; `lookup_at` is 0 once the one lookup was made.
    Unknown {
        number: String,
        since: u64,
        settle_until: u64,
        lookup_at: u64,
        lease_until: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Booking {
    ticket: u64,
    /// The client address digest of the visitor who asked.
    client: String,
    at: u64,
    touched: u64,
    retain_ms: u64,
    /// Once unknown, a pending handle may refer to it: kept for `retain_ms`.
    /// A call placed outright is kept only for the settle window.
    #[serde(default)]
    pending: bool,
    /// The settle window it was made with.
    #[serde(default)]
    settle_ms: u64,
    state: State,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyRecord {
    /// The Idempotency-Key's digest (never the key itself).
    key: String,
    ticket: u64,
    at: u64,
    /// The outcome, kept for the key's whole life (bookings go sooner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    conversation: Option<String>,
    #[serde(default)]
    unknown: bool,
}

/// How a reservation ended, as its instance reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Settled {
    Placed {
        conversation: String,
    },
    /// Certainly not dialled (refused before or by Genesys): the number and the key are free again.
    NotDialled,
    /// Sent, outcome unknown: the number is blocked for the settle window.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "command",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum NumberCommand {
    /// A visitor asks for a call to this number.
    Admit {
        key: Option<String>,
        client: String,
        number: String,
        rules: NumberRules,
    },
    Settle {
        ticket: u64,
        outcome: Settled,
    },
    /// A reader saw the call end (or the visitor hung up).
    Ended {
        conversation: String,
    },
    /// What a pending handle refers to now; may hand out the lookup.
    Lookup {
        ticket: u64,
    },
    /// The lookup's result: the call found, or not.
    Resolved {
        ticket: u64,
        conversation: Option<String>,
    },
    /// An alarm: prune what has expired.
    Expire,
}

/// A lookup to make: the agent's calls to `number` since `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LookupJob {
    pub number: String,
    pub since: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "answer",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum NumberAnswer {
    /// Go ahead: send the create-call POST, then settle this ticket. `at`
    /// (the reservation's time) is what every handle for it says it was
    /// issued at, so a replay gets the very same handle.
    Reserved {
        ticket: u64,
        at: u64,
    },
    /// The same request (key) or visitor again: this call.
    Replay {
        ticket: u64,
        at: u64,
        conversation: String,
    },
    /// A call for this key, visitor or cap is being placed: ask again in `ms`.
    Wait {
        ms: u64,
    },
    /// An earlier call's outcome is unknown: no new call until the window ends.
    /// `mine`: the same visitor (key or address), who may watch it.
    Ringing {
        ticket: u64,
        at: u64,
        mine: bool,
        retry_after_ms: u64,
    },
    /// The cap is reached by calls in progress.
    InProgress {
        retry_after_ms: u64,
    },
    /// The per-number rate is spent.
    Limited {
        retry_after_ms: u64,
    },
    /// What a ticket refers to (for `Lookup`).
    Placed {
        conversation: String,
    },
    InFlight,
    Unknown {
        lookup: Option<LookupJob>,
        retry_after_ms: u64,
    },
    /// The window ended without the outcome being found.
    Unresolved,
    Gone,
    Ok,
}

/// One destination number's admission state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberDesk {
    next_ticket: u64,
    hits: Vec<u64>,
    hit_window_ms: u64,
    bookings: Vec<Booking>,
    keys: Vec<KeyRecord>,
}

impl NumberDesk {
    pub fn apply(&mut self, cmd: NumberCommand, now: u64) -> NumberAnswer {
        self.expire(now);
        match cmd {
            NumberCommand::Admit {
                key,
                client,
                number,
                rules,
            } => self.admit(key, client, number, rules, now),
            NumberCommand::Settle { ticket, outcome } => {
                self.settle(ticket, outcome, now);
                NumberAnswer::Ok
            }
            NumberCommand::Ended { conversation } => {
                for b in &mut self.bookings {
                    if let State::Placed {
                        conversation: c,
                        active_until,
                    } = &mut b.state
                    {
                        if *c == conversation {
                            *active_until = 0;
                            b.touched = now;
                        }
                    }
                }
                NumberAnswer::Ok
            }
            NumberCommand::Lookup { ticket } => self.lookup(ticket, now),
            NumberCommand::Resolved {
                ticket,
                conversation,
            } => {
                self.resolved(ticket, conversation, now);
                NumberAnswer::Ok
            }
            NumberCommand::Expire => NumberAnswer::Ok,
        }
    }

    fn admit(
        &mut self,
        key: Option<String>,
        client: String,
        number: String,
        rules: NumberRules,
        now: u64,
    ) -> NumberAnswer {
        // 1. The same request again: the same answer, never a second call.
        if let Some(k) = &key {
            if let Some(rec) = self.keys.iter().find(|r| &r.key == k) {
                let (ticket, at) = (rec.ticket, rec.at);
                return match self.bookings.iter().find(|b| b.ticket == ticket) {
                    Some(b) => match &b.state {
                        State::InFlight { .. } => NumberAnswer::Wait { ms: WAIT_MS },
                        State::Placed { conversation, .. } => NumberAnswer::Replay {
                            ticket,
                            at: b.at,
                            conversation: conversation.clone(),
                        },
                        State::Unknown { settle_until, .. } => NumberAnswer::Ringing {
                            ticket,
                            at: b.at,
                            mine: true,
                            retry_after_ms: settle_until.saturating_sub(now),
                        },
                    },
                    None => match &rec.conversation {
                        Some(c) => NumberAnswer::Replay {
                            ticket,
                            at,
                            conversation: c.clone(),
                        },
                        None => NumberAnswer::Ringing {
                            ticket,
                            at,
                            mine: true,
                            retry_after_ms: 0,
                        },
                    },
                };
            }
        }
        // 2. An unknown outcome blocks the number for its window, whatever the key.
        if let Some(b) =
            self.bookings.iter().rev().find(
                |b| matches!(b.state, State::Unknown { settle_until, .. } if now < settle_until),
            )
        {
            let State::Unknown { settle_until, .. } = b.state else {
                unreachable!()
            };
            return NumberAnswer::Ringing {
                ticket: b.ticket,
                at: b.at,
                mine: b.client == client,
                retry_after_ms: settle_until - now,
            };
        }
        // 3. The same visitor again while their call is placed or just was.
        for b in self.bookings.iter().rev().filter(|b| b.client == client) {
            match &b.state {
                State::InFlight { .. } => return NumberAnswer::Wait { ms: WAIT_MS },
                State::Placed {
                    conversation,
                    active_until,
                } if *active_until > now && now < b.at + rules.settle_ms => {
                    return NumberAnswer::Replay {
                        ticket: b.ticket,
                        at: b.at,
                        conversation: conversation.clone(),
                    }
                }
                _ => {}
            }
        }
        // 4. The cap counts calls being placed as well as calls in progress.
        let in_flight = self
            .bookings
            .iter()
            .filter(|b| matches!(b.state, State::InFlight { .. }))
            .count();
        let active: Vec<u64> = self
            .bookings
            .iter()
            .filter_map(|b| match b.state {
                State::Placed { active_until, .. } if active_until > now => Some(active_until),
                _ => None,
            })
            .collect();
        if in_flight + active.len() >= rules.cap.max(1) as usize {
            if in_flight > 0 {
                return NumberAnswer::Wait { ms: WAIT_MS };
            }
            let soonest = active.iter().min().copied().unwrap_or(now);
            return NumberAnswer::InProgress {
                retry_after_ms: (soonest - now).clamp(1_000, 30_000),
            };
        }
        // 5. The per-number rate.
        let window = rules.rate.window_ms;
        self.hit_window_ms = window;
        self.hits.retain(|&t| t + window > now);
        if self.hits.len() >= rules.rate.limit as usize {
            let oldest = self.hits[self.hits.len() - rules.rate.limit as usize];
            return NumberAnswer::Limited {
                retry_after_ms: oldest + window - now,
            };
        }
        // 6. Reserve before the POST: from here until its outcome is known the
        // number has a call in flight.
        let ticket = self.next_ticket.max(now);
        self.next_ticket = ticket + 1;
        self.hits.push(now);
        self.bookings.push(Booking {
            ticket,
            client,
            at: now,
            touched: now,
            retain_ms: rules.retain_ms.max(rules.settle_ms),
            pending: false,
            settle_ms: rules.settle_ms,
            state: State::InFlight {
                number,
                deadline: now + rules.inflight_ms,
                settle_ms: rules.settle_ms,
            },
        });
        if let Some(key) = key {
            self.keys.push(KeyRecord {
                key,
                ticket,
                at: now,
                conversation: None,
                unknown: false,
            });
        }
        self.bound();
        NumberAnswer::Reserved { ticket, at: now }
    }

    fn settle(&mut self, ticket: u64, outcome: Settled, now: u64) {
        let Some(i) = self.bookings.iter().position(|b| b.ticket == ticket) else {
            return;
        };
        match outcome {
            Settled::Placed { conversation } => self.place(i, conversation, now),
            Settled::NotDialled => {
                self.bookings.remove(i);
                self.keys.retain(|r| r.ticket != ticket);
            }
            Settled::Unknown => {
                let b = &mut self.bookings[i];
                if let State::InFlight {
                    number, settle_ms, ..
                } = &b.state
                {
                    b.state = unknown(number.clone(), now, *settle_ms);
                    b.touched = now;
                    b.pending = true;
                }
                for r in self.keys.iter_mut().filter(|r| r.ticket == ticket) {
                    r.unknown = true;
                }
            }
        }
    }

    fn place(&mut self, i: usize, conversation: String, now: u64) {
        let b = &mut self.bookings[i];
        for r in self.keys.iter_mut().filter(|r| r.ticket == b.ticket) {
            r.conversation = Some(conversation.clone());
            r.unknown = false;
        }
        b.state = State::Placed {
            conversation,
            active_until: now + ACTIVE_CALL_MAX_MS,
        };
        b.touched = now;
    }

    fn lookup(&mut self, ticket: u64, now: u64) -> NumberAnswer {
        let Some(b) = self.bookings.iter_mut().find(|b| b.ticket == ticket) else {
            return NumberAnswer::Gone;
        };
        match &mut b.state {
            State::InFlight { .. } => NumberAnswer::InFlight,
            State::Placed { conversation, .. } => NumberAnswer::Placed {
                conversation: conversation.clone(),
            },
            State::Unknown { settle_until, .. } if now >= *settle_until => NumberAnswer::Unresolved,
            State::Unknown {
                number,
                since,
                settle_until,
                lookup_at,
                lease_until,
            } => {
                let retry_after_ms = *settle_until - now;
                if *lookup_at != 0 && now >= *lookup_at && now >= *lease_until {
                    *lease_until = now + LOOKUP_LEASE_MS;
                    return NumberAnswer::Unknown {
                        lookup: Some(LookupJob {
                            number: number.clone(),
                            since: *since,
                        }),
                        retry_after_ms,
                    };
                }
                NumberAnswer::Unknown {
                    lookup: None,
                    retry_after_ms,
                }
            }
        }
    }

    fn resolved(&mut self, ticket: u64, conversation: Option<String>, now: u64) {
        let Some(i) = self.bookings.iter().position(|b| b.ticket == ticket) else {
            return;
        };
        if !matches!(self.bookings[i].state, State::Unknown { .. }) {
            return;
        }
        match conversation {
            Some(c) => self.place(i, c, now),
            None => {
                // The one lookup found nothing (yet): the window runs its course.
                if let State::Unknown {
                    lookup_at,
                    lease_until,
                    ..
                } = &mut self.bookings[i].state
                {
                    *lookup_at = 0;
                    *lease_until = 0;
                }
            }
        }
    }

    /// Moves overdue reservations to unknown and forgets what has expired.
    fn expire(&mut self, now: u64) {
        for b in &mut self.bookings {
            match &mut b.state {
                State::InFlight {
                    number,
                    deadline,
                    settle_ms,
                } if now >= *deadline => {
                    // Its instance never said how the POST went (it may have
                    // died): assume it dialled.
                    let at = *deadline;
                    let settle_ms = *settle_ms;
                    b.state = unknown(std::mem::take(number), at, settle_ms);
                    b.touched = at;
                    b.pending = true;
                    for r in self.keys.iter_mut().filter(|r| r.ticket == b.ticket) {
                        r.unknown = true;
                    }
                }
                State::Unknown {
                    number,
                    settle_until,
                    ..
                } if now >= *settle_until && !number.is_empty() => {
                    // The number is only needed for the lookup.
                    number.clear();
                }
                State::Placed { active_until, .. }
                    if *active_until != 0 && now >= *active_until =>
                {
                    *active_until = 0;
                }
                _ => {}
            }
        }
        self.bookings.retain(|b| match &b.state {
            State::InFlight { .. } => true,
            State::Unknown { settle_until, .. } if now < *settle_until => true,
            State::Placed { active_until, .. } if *active_until != 0 => true,
            // A call placed outright: only "the same visitor again" needs it.
            State::Placed { .. } if !b.pending => now < b.at.saturating_add(b.settle_ms),
            _ => now < b.touched.saturating_add(b.retain_ms),
        });
        self.keys.retain(|r| now < r.at + KEY_TTL_MS);
        let window = self.hit_window_ms;
        self.hits.retain(|&t| t + window > now);
    }

    fn bound(&mut self) {
        if self.bookings.len() > MAX_RECORDS {
            // The oldest settled records go first; live ones are never dropped.
            let excess = self.bookings.len() - MAX_RECORDS;
            let mut dropped = 0;
            self.bookings.retain(|b| {
                let settled = matches!(
                    b.state,
                    State::Placed {
                        active_until: 0,
                        ..
                    }
                );
                if settled && dropped < excess {
                    dropped += 1;
                    false
                } else {
                    true
                }
            });
        }
        if self.keys.len() > MAX_RECORDS {
            let excess = self.keys.len() - MAX_RECORDS;
            self.keys.drain(..excess);
        }
    }

    /// When something next expires (for an alarm); `None` when the desk is empty.
    pub fn next_wake(&self) -> Option<u64> {
        let bookings = self.bookings.iter().map(|b| match &b.state {
            State::InFlight { deadline, .. } => *deadline,
            State::Unknown { settle_until, .. } => *settle_until,
            State::Placed { active_until, .. } if *active_until != 0 => *active_until,
            State::Placed { .. } => b.touched.saturating_add(b.retain_ms),
        });
        let keys = self.keys.iter().map(|r| r.at + KEY_TTL_MS);
        let hits = self.hits.first().map(|t| t + self.hit_window_ms);
        bookings.chain(keys).chain(hits).min()
    }

    pub fn is_empty(&self) -> bool {
        self.bookings.is_empty() && self.keys.is_empty() && self.hits.is_empty()
    }

    /// Nothing here is in flight, unsettled or active: forgetting the desk
    /// (when memory is full) loses only old records.
    pub fn is_quiet(&self) -> bool {
        self.bookings.iter().all(|b| {
            matches!(
                b.state,
                State::Placed {
                    active_until: 0,
                    ..
                }
            )
        })
    }
}

fn unknown(number: String, since: u64, settle_ms: u64) -> State {
    State::Unknown {
        number,
        since,
        settle_until: since + settle_ms,
        lookup_at: since + RESOLVE_AFTER_MS,
        lease_until: 0,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "command",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum AddressCommand {
    /// A call request from this address, for `number` (its tag).
    Admit {
        key: Option<String>,
        number: String,
        rate: Rate,
    },
    /// The key's call was refused before dialling: it may be used again.
    Forget {
        key: String,
    },
    /// A status read, an event stream or an availability check: counted
    /// against `rate` (answered `Allowed` or `Limited`).
    Read {
        rate: Rate,
    },
    Expire,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "answer",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum AddressAnswer {
    /// A new request, counted.
    Allowed,
    /// A key this address used before for this number: not counted again.
    Replay,
    /// A key this address used for another number.
    Reused,
    Limited {
        retry_after_ms: u64,
    },
    Ok,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddressKey {
    key: String,
    number: String,
    at: u64,
}

/// One client address's admission state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressDesk {
    hits: Vec<u64>,
    window_ms: u64,
    keys: Vec<AddressKey>,
    /// Reads, under their own rate, counted per tenth of its window as
    /// `(tenth's start, hits)`: at most 11 entries however high the limit,
    /// so a stored desk stays small (absent from states stored before reads
    /// were counted here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    reads: Vec<(u64, u32)>,
    #[serde(default)]
    reads_window_ms: u64,
}

/// Counts a hit at `now` in a sliding window of `rate`, or says how long
/// until one would be allowed. `hits` is kept sorted (appended in order).
fn slide(hits: &mut Vec<u64>, rate: Rate, now: u64) -> Result<(), u64> {
    let window = rate.window_ms;
    hits.retain(|&t| t + window > now);
    if hits.len() >= rate.limit as usize {
        let oldest = hits[hits.len() - rate.limit as usize];
        return Err(oldest + window - now);
    }
    hits.push(now);
    Ok(())
}

/// [`slide`] for counts per tenth of the window: a hit counts from the start
/// of its tenth, so it leaves the window up to a tenth early (a burst may get
/// `limit` hits in nine tenths of the window, never more).
fn slide_tenths(tenths: &mut Vec<(u64, u32)>, rate: Rate, now: u64) -> Result<(), u64> {
    let window = rate.window_ms;
    let tenth = (window / 10).max(1);
    tenths.retain(|&(t, _)| t + window > now);
    let counted: u64 = tenths.iter().map(|&(_, n)| u64::from(n)).sum();
    if counted >= u64::from(rate.limit) {
        // When enough of the oldest tenths have left for one more hit.
        let mut freed = 0;
        for &(t, n) in tenths.iter() {
            freed += u64::from(n);
            if counted - freed < u64::from(rate.limit) {
                return Err(t + window - now);
            }
        }
    }
    let start = now - now % tenth;
    match tenths.last_mut() {
        Some((t, n)) if *t == start => *n += 1,
        _ => tenths.push((start, 1)),
    }
    Ok(())
}

impl AddressDesk {
    pub fn apply(&mut self, cmd: AddressCommand, now: u64) -> AddressAnswer {
        self.expire(now);
        match cmd {
            AddressCommand::Admit { key, number, rate } => {
                if let Some(k) = &key {
                    if let Some(r) = self.keys.iter().find(|r| &r.key == k) {
                        return if r.number == number {
                            AddressAnswer::Replay
                        } else {
                            AddressAnswer::Reused
                        };
                    }
                }
                self.window_ms = rate.window_ms;
                if let Err(retry_after_ms) = slide(&mut self.hits, rate, now) {
                    return AddressAnswer::Limited { retry_after_ms };
                }
                if let Some(key) = key {
                    self.keys.push(AddressKey {
                        key,
                        number,
                        at: now,
                    });
                    if self.keys.len() > ADDRESS_KEYS {
                        self.keys.remove(0);
                    }
                }
                AddressAnswer::Allowed
            }
            AddressCommand::Forget { key } => {
                self.keys.retain(|r| r.key != key);
                AddressAnswer::Ok
            }
            AddressCommand::Read { rate } => {
                self.reads_window_ms = rate.window_ms;
                match slide_tenths(&mut self.reads, rate, now) {
                    Ok(()) => AddressAnswer::Allowed,
                    Err(retry_after_ms) => AddressAnswer::Limited { retry_after_ms },
                }
            }
            AddressCommand::Expire => AddressAnswer::Ok,
        }
    }

    fn expire(&mut self, now: u64) {
        let window = self.window_ms;
        self.hits.retain(|&t| t + window > now);
        self.keys.retain(|r| now < r.at + KEY_TTL_MS);
        let reads = self.reads_window_ms;
        self.reads.retain(|&(t, _)| t + reads > now);
    }

    pub fn next_wake(&self) -> Option<u64> {
        let hits = self.hits.first().map(|t| t + self.window_ms);
        let keys = self.keys.iter().map(|r| r.at + KEY_TTL_MS);
        let reads = self.reads.first().map(|(t, _)| t + self.reads_window_ms);
        hits.into_iter().chain(keys).chain(reads).min()
    }

    pub fn is_empty(&self) -> bool {
        self.hits.is_empty() && self.keys.is_empty() && self.reads.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const N: &str = "+13175550100";

    fn rules() -> NumberRules {
        NumberRules {
            rate: Rate {
                limit: 100,
                window_ms: 60_000,
            },
            cap: 1,
            settle_ms: 120_000,
            inflight_ms: 45_000,
            retain_ms: 7_200_000,
        }
    }

    fn admit(d: &mut NumberDesk, key: Option<&str>, client: &str, now: u64) -> NumberAnswer {
        d.apply(
            NumberCommand::Admit {
                key: key.map(str::to_string),
                client: client.into(),
                number: N.into(),
                rules: rules(),
            },
            now,
        )
    }

    fn settle(d: &mut NumberDesk, ticket: u64, outcome: Settled, now: u64) {
        assert_eq!(
            d.apply(NumberCommand::Settle { ticket, outcome }, now),
            NumberAnswer::Ok
        );
    }

    fn reserved(a: NumberAnswer) -> u64 {
        match a {
            NumberAnswer::Reserved { ticket, .. } => ticket,
            other => panic!("expected a reservation, got {other:?}"),
        }
    }

    #[test]
    fn concurrent_clicks_reserve_once() {
        let mut d = NumberDesk::default();
        let t = reserved(admit(&mut d, None, "a", 0));
        // Everyone else asks while the POST is in flight.
        for (key, client) in [(None, "a"), (Some("k2"), "a"), (None, "b")] {
            assert_eq!(
                admit(&mut d, key, client, 10),
                NumberAnswer::Wait { ms: WAIT_MS }
            );
        }
        settle(
            &mut d,
            t,
            Settled::Placed {
                conversation: "c1".into(),
            },
            300,
        );
        assert_eq!(
            admit(&mut d, None, "a", 400),
            NumberAnswer::Replay {
                ticket: t,
                at: 0,
                conversation: "c1".into()
            },
            "the same visitor gets their call"
        );
        assert!(
            matches!(
                admit(&mut d, None, "b", 400),
                NumberAnswer::InProgress { .. }
            ),
            "another visitor meets the cap"
        );
    }

    #[test]
    fn an_unknown_outcome_blocks_the_number_for_the_window() {
        let mut d = NumberDesk::default();
        let t = reserved(admit(&mut d, Some("k1"), "a", 0));
        settle(&mut d, t, Settled::Unknown, 100);
        for (key, client, mine) in [
            (Some("k1"), "z", true),
            (Some("k2"), "a", true),
            (None, "a", true),
            (None, "b", false),
        ] {
            assert_eq!(
                admit(&mut d, key, client, 1_000),
                NumberAnswer::Ringing {
                    ticket: t,
                    at: 0,
                    mine,
                    retry_after_ms: 119_100
                },
                "{key:?} {client}"
            );
        }
        // The window over, the number may be called again — but never by the same key.
        assert!(matches!(
            admit(&mut d, None, "b", 120_100),
            NumberAnswer::Reserved { .. }
        ));
        assert!(matches!(
            admit(&mut d, Some("k1"), "a", 120_200),
            NumberAnswer::Ringing { mine: true, .. }
        ));
    }

    #[test]
    fn the_lookup_is_handed_out_once_and_resolves_the_call() {
        let mut d = NumberDesk::default();
        let t = reserved(admit(&mut d, Some("k1"), "a", 0));
        assert_eq!(
            d.apply(NumberCommand::Lookup { ticket: t }, 10),
            NumberAnswer::InFlight
        );
        settle(&mut d, t, Settled::Unknown, 100);
        assert!(matches!(
            d.apply(NumberCommand::Lookup { ticket: t }, 200),
            NumberAnswer::Unknown { lookup: None, .. }
        ));
        let job = match d.apply(NumberCommand::Lookup { ticket: t }, 100 + RESOLVE_AFTER_MS) {
            NumberAnswer::Unknown {
                lookup: Some(job), ..
            } => job,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            job,
            LookupJob {
                number: N.into(),
                since: 100
            }
        );
        assert!(
            matches!(
                d.apply(NumberCommand::Lookup { ticket: t }, 3_200),
                NumberAnswer::Unknown { lookup: None, .. }
            ),
            "leased to one reader"
        );
        d.apply(
            NumberCommand::Resolved {
                ticket: t,
                conversation: Some("c9".into()),
            },
            3_300,
        );
        assert_eq!(
            d.apply(NumberCommand::Lookup { ticket: t }, 3_400),
            NumberAnswer::Placed {
                conversation: "c9".into()
            }
        );
        assert_eq!(
            admit(&mut d, Some("k1"), "a", 3_500),
            NumberAnswer::Replay {
                ticket: t,
                at: 0,
                conversation: "c9".into()
            },
            "the key now replays the resolved call"
        );
        d.apply(
            NumberCommand::Ended {
                conversation: "c9".into(),
            },
            4_000,
        );
        assert!(matches!(
            admit(&mut d, None, "b", 4_100),
            NumberAnswer::Reserved { .. }
        ));
    }

    #[test]
    fn a_lookup_that_finds_nothing_leaves_the_window_running() {
        let mut d = NumberDesk::default();
        let t = reserved(admit(&mut d, None, "a", 0));
        settle(&mut d, t, Settled::Unknown, 0);
        assert!(matches!(
            d.apply(NumberCommand::Lookup { ticket: t }, RESOLVE_AFTER_MS),
            NumberAnswer::Unknown {
                lookup: Some(_),
                ..
            }
        ));
        d.apply(
            NumberCommand::Resolved {
                ticket: t,
                conversation: None,
            },
            4_000,
        );
        assert!(
            matches!(
                d.apply(NumberCommand::Lookup { ticket: t }, 100_000),
                NumberAnswer::Unknown { lookup: None, .. }
            ),
            "one lookup only"
        );
        assert!(matches!(
            admit(&mut d, None, "b", 60_000),
            NumberAnswer::Ringing { .. }
        ));
        assert_eq!(
            d.apply(NumberCommand::Lookup { ticket: t }, 120_000),
            NumberAnswer::Unresolved
        );
    }

    #[test]
    fn a_reservation_never_reported_becomes_unknown() {
        let mut d = NumberDesk::default();
        let t = reserved(admit(&mut d, None, "a", 0));
        // The instance died after sending the POST.
        assert!(matches!(
            admit(&mut d, None, "b", 45_000),
            NumberAnswer::Ringing {
                mine: false,
                retry_after_ms: 120_000,
                ..
            }
        ));
        // A late report still tells the truth.
        settle(
            &mut d,
            t,
            Settled::Placed {
                conversation: "c1".into(),
            },
            46_000,
        );
        assert!(matches!(
            admit(&mut d, None, "b", 46_100),
            NumberAnswer::InProgress { .. }
        ));
    }

    #[test]
    fn a_refusal_frees_the_number_and_the_key() {
        let mut d = NumberDesk::default();
        let t = reserved(admit(&mut d, Some("k"), "a", 0));
        settle(&mut d, t, Settled::NotDialled, 10);
        assert!(matches!(
            admit(&mut d, Some("k"), "a", 20),
            NumberAnswer::Reserved { .. }
        ));
    }

    #[test]
    fn the_per_number_rate_counts_new_calls_only() {
        let mut d = NumberDesk::default();
        let mut r = rules();
        r.rate = Rate {
            limit: 2,
            window_ms: 1_000,
        };
        r.cap = 10;
        let go = |d: &mut NumberDesk, key: &str, client: &str, now| {
            d.apply(
                NumberCommand::Admit {
                    key: Some(key.into()),
                    client: client.into(),
                    number: N.into(),
                    rules: r,
                },
                now,
            )
        };
        for (i, k) in ["a", "b"].iter().enumerate() {
            let t = reserved(go(&mut d, k, k, i as u64));
            settle(
                &mut d,
                t,
                Settled::Placed {
                    conversation: k.to_string(),
                },
                5,
            );
        }
        assert!(
            matches!(go(&mut d, "a", "a", 10), NumberAnswer::Replay { .. }),
            "a replay is free"
        );
        assert_eq!(
            go(&mut d, "c", "c", 10),
            NumberAnswer::Limited {
                retry_after_ms: 990
            }
        );
        assert!(matches!(
            go(&mut d, "c", "c", 1_000),
            NumberAnswer::Reserved { .. }
        ));
    }

    #[test]
    fn state_round_trips_through_json_and_empties() {
        let mut d = NumberDesk::default();
        let t = reserved(admit(&mut d, Some("k"), "a", 0));
        settle(&mut d, t, Settled::Unknown, 1);
        let text = crate::wire::encode(&d);
        assert!(!text.contains("\"k\"") || text.contains("\"key\":\"k\""));
        let back: NumberDesk = crate::wire::decode(&text).unwrap();
        assert_eq!(back, d);
        assert_eq!(d.next_wake(), Some(60_000), "the rate window ends first");
        d.apply(NumberCommand::Expire, KEY_TTL_MS + 10);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(d.next_wake(), None);
    }

    #[test]
    fn addresses_count_new_requests_and_catch_reused_keys() {
        let mut a = AddressDesk::default();
        let rate = Rate {
            limit: 2,
            window_ms: 600_000,
        };
        let go = |a: &mut AddressDesk, key: Option<&str>, number: &str, now| {
            a.apply(
                AddressCommand::Admit {
                    key: key.map(str::to_string),
                    number: number.into(),
                    rate,
                },
                now,
            )
        };
        assert_eq!(go(&mut a, Some("k"), "n1", 0), AddressAnswer::Allowed);
        assert_eq!(go(&mut a, Some("k"), "n1", 1), AddressAnswer::Replay);
        assert_eq!(go(&mut a, Some("k"), "n2", 2), AddressAnswer::Reused);
        assert_eq!(go(&mut a, None, "n2", 3), AddressAnswer::Allowed);
        assert_eq!(
            go(&mut a, None, "n3", 4),
            AddressAnswer::Limited {
                retry_after_ms: 599_996
            }
        );
        a.apply(AddressCommand::Forget { key: "k".into() }, 5);
        assert!(matches!(
            go(&mut a, Some("k"), "n2", 6),
            AddressAnswer::Limited { .. }
        ));
        a.apply(AddressCommand::Expire, KEY_TTL_MS + 10);
        assert!(a.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Step {
        Admit { key: Option<u8>, client: u8 },
        Settle { pick: u8, outcome: u8 },
        Ended { pick: u8 },
        Lookup { pick: u8, found: bool },
        Wait { ms: u32 },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (proptest::option::of(0u8..4), 0u8..3)
                .prop_map(|(key, client)| Step::Admit { key, client }),
            (any::<u8>(), 0u8..3).prop_map(|(pick, outcome)| Step::Settle { pick, outcome }),
            any::<u8>().prop_map(|pick| Step::Ended { pick }),
            (any::<u8>(), any::<bool>()).prop_map(|(pick, found)| Step::Lookup { pick, found }),
            (0u32..200_000).prop_map(|ms| Step::Wait { ms }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1_000, rng_seed: proptest::test_runner::RngSeed::Fixed(15), ..ProptestConfig::default() })]
        /// Whatever visitors, instances and Genesys do, with a cap of one:
        /// never a reservation while a call is in flight, active, or inside an
        /// unknown outcome's window; one key, one reservation (until refused);
        /// and the state survives its JSON form.
        #[test]
        fn exactly_once_under_any_sequence(steps in proptest::collection::vec(step(), 1..60)) {
            let mut d = NumberDesk::default();
            let mut now = 0u64;
            let mut tickets: Vec<u64> = Vec::new();
            let mut key_tickets: std::collections::HashMap<u8, u64> = Default::default();
            for s in steps {
                let in_flight = |d: &mut NumberDesk, t: u64, now: u64| {
                    matches!(d.apply(NumberCommand::Lookup { ticket: t }, now), NumberAnswer::InFlight)
                };
                match s {
                    Step::Admit { key, client } => {
                        let mut before = d.clone();
                        before.expire(now);
                        let blocked = before.bookings.iter().any(|b| match b.state {
                            State::InFlight { .. } => true,
                            State::Placed { active_until, .. } => active_until > now,
                            State::Unknown { settle_until, .. } => now < settle_until,
                        });
                        let a = admit(&mut d, key.map(|k| ["k", &k.to_string()].concat()).as_deref(), &client.to_string(), now);
                        if let NumberAnswer::Reserved { ticket, .. } = a {
                            prop_assert!(!blocked, "reserved while another call was in flight, active or unsettled");
                            if let Some(k) = key {
                                prop_assert!(!key_tickets.contains_key(&k), "one key, two reservations");
                                key_tickets.insert(k, ticket);
                            }
                            tickets.push(ticket);
                        }
                    }
                    Step::Settle { pick, outcome } if !tickets.is_empty() => {
                        let t = tickets[pick as usize % tickets.len()];
                        // Only the instance holding a reservation reports on it.
                        if in_flight(&mut d, t, now) {
                            let o = match outcome { 0 => Settled::Placed { conversation: t.to_string() }, 1 => Settled::NotDialled, _ => Settled::Unknown };
                            if o == Settled::NotDialled {
                                key_tickets.retain(|_, v| *v != t);
                            }
                            settle(&mut d, t, o, now);
                        }
                    }
                    Step::Ended { pick } if !tickets.is_empty() => {
                        let t = tickets[pick as usize % tickets.len()];
                        d.apply(NumberCommand::Ended { conversation: t.to_string() }, now);
                    }
                    Step::Lookup { pick, found } if !tickets.is_empty() => {
                        let t = tickets[pick as usize % tickets.len()];
                        if let NumberAnswer::Unknown { lookup: Some(_), .. } = d.apply(NumberCommand::Lookup { ticket: t }, now) {
                            d.apply(NumberCommand::Resolved { ticket: t, conversation: found.then(|| t.to_string()) }, now);
                        }
                    }
                    Step::Wait { ms } => now += ms as u64,
                    _ => {}
                }
                let busy = d.bookings.iter().filter(|b| match b.state {
                    State::InFlight { .. } => true,
                    State::Placed { active_until, .. } => active_until > now,
                    State::Unknown { .. } => false,
                }).count();
                prop_assert!(busy <= 1, "{} calls against a cap of one", busy);
                let back: NumberDesk = crate::wire::decode(&crate::wire::encode(&d)).unwrap();
                prop_assert_eq!(&back, &d);
            }
        }
    }

    #[test]
    fn reads_have_their_own_sliding_window_at_the_address_desk() {
        let reads = Rate {
            limit: 2,
            window_ms: 1_000,
        };
        let calls = Rate {
            limit: 1,
            window_ms: 60_000,
        };
        let read = |a: &mut AddressDesk, now| a.apply(AddressCommand::Read { rate: reads }, now);
        let mut a = AddressDesk::default();
        assert_eq!(read(&mut a, 0), AddressAnswer::Allowed);
        assert_eq!(read(&mut a, 100), AddressAnswer::Allowed);
        assert_eq!(
            read(&mut a, 200),
            AddressAnswer::Limited {
                retry_after_ms: 800
            }
        );
        // Reads do not spend the call allowance, nor calls the reads'.
        let admit = AddressCommand::Admit {
            key: None,
            number: N.into(),
            rate: calls,
        };
        assert_eq!(a.apply(admit, 300), AddressAnswer::Allowed);
        assert_eq!(
            a.next_wake(),
            Some(1_000),
            "the first read leaves the window"
        );
        assert_eq!(read(&mut a, 1_000), AddressAnswer::Allowed);
        // A stored desk survives the round trip, and one stored before reads
        // were counted still loads.
        let back: AddressDesk = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
        let old: AddressDesk =
            serde_json::from_str(r#"{"hits":[1],"windowMs":60000,"keys":[]}"#).unwrap();
        assert!(old.reads.is_empty() && !old.is_empty());
        a.apply(AddressCommand::Expire, 70_000);
        assert!(a.is_empty(), "everything expires");
        // However high the limit, the stored reads stay a few entries, and
        // an address's remembered keys are bounded too.
        let many = Rate {
            limit: 1_000_000,
            window_ms: 60_000,
        };
        for i in 0..20_000u64 {
            let answer = a.apply(AddressCommand::Read { rate: many }, 100_000 + i * 5);
            assert_eq!(answer, AddressAnswer::Allowed);
            if i < 1_000 {
                let admit = AddressCommand::Admit {
                    key: Some(format!("key-{i:0>120}")),
                    number: N.into(),
                    rate: many,
                };
                a.apply(admit, 100_000 + i * 5);
            }
        }
        assert!(a.reads.len() <= 11, "{}", a.reads.len());
        assert!(a.keys.len() <= ADDRESS_KEYS);
        assert!(serde_json::to_string(&a).unwrap().len() < 48 * 1024);
    }
}
