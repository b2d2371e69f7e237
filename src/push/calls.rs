//! The calls the hub knows about: the latest status of each, merged so that a
//! late, repeated or reordered event never moves a call backwards, and the
//! bookkeeping that decides whether a call still needs a reconcile read.
//!
//! Events for calls nobody has asked about yet (the event that beats the
//! create-call response, or another client's call of the same agent) are kept
//! here too, for a while, so a call placed a moment later finds its history.

use std::collections::BTreeMap;

use crate::status::{CallStatus, Phase, Snapshot};

/// A call's status as last seen, with the Genesys JSON it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub status: CallStatus,
    pub raw: String,
}

/// The one extra read (`GET /api/v2/conversations/{id}`) an unanswered call
/// needs for its SIP cause (busy vs no answer): once per call at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Reasons {
    #[default]
    Untried,
    InFlight,
    Tried,
}

#[derive(Debug, Default)]
pub(crate) struct Call {
    /// The agent whose topic carries this call, once known.
    pub agent: Option<String>,
    pub known: Option<Known>,
    /// Bumped on every accepted change; watchers compare it with what they saw.
    pub version: u64,
    /// The coverage generation under which `known` is complete: every change
    /// since has been (or will be) pushed. A mismatch means one reconcile read.
    pub synced: Option<u64>,
    /// A watcher is reading this call now (reconcile or first read).
    pub reading: bool,
    pub reasons: Reasons,
    /// Someone placed or watched it (else it is only buffered).
    pub claimed: bool,
    pub watchers: u32,
    /// Last time anything happened to it, for pruning.
    pub touched: u64,
}

/// How far a call has got, as a number that only grows while Genesys moves
/// it forward: its phase first, then each leg's state (a new leg counts too).
fn progress(s: &CallStatus) -> (Phase, u32) {
    let legs = s
        .snapshot
        .legs
        .iter()
        .map(|l| {
            1 + match l.state.as_deref() {
                Some("disconnected" | "terminated") => 3,
                Some("connected") => 2,
                Some(_) => 1,
                None => 0,
            }
        })
        .sum();
    (s.phase, legs)
}

/// Merges `new` over `old`. `None`: nothing a watcher would see changed, or
/// `new` is older than what we have (an ended call stays ended; a snapshot
/// with less progress is a late or reordered one). SIP causes already read
/// are kept: a later event without them must not turn "busy" into "failed".
pub(crate) fn merge(old: Option<&Known>, mut new: Known) -> Option<Known> {
    let Some(old) = old else {
        return Some(new);
    };
    if old.status.phase == Phase::Ended && new.status.phase != Phase::Ended {
        return None;
    }
    if progress(&new.status) < progress(&old.status) {
        return None;
    }
    let mut snap: Snapshot = new.status.snapshot;
    snap.merge_reasons(&old.status.snapshot);
    new.status = CallStatus::derive(snap);
    (new.status.fingerprint() != old.status.fingerprint()).then_some(new)
}

#[derive(Debug, Default)]
pub(crate) struct Calls {
    pub map: BTreeMap<String, Call>,
}

impl Calls {
    pub fn get(&self, id: &str) -> Option<&Call> {
        self.map.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Call> {
        self.map.get_mut(id)
    }

    pub fn entry(&mut self, id: &str, now: u64) -> &mut Call {
        let c = self.map.entry(id.to_string()).or_default();
        c.touched = now;
        c
    }

    /// Applies a status to `id`; true when watchers have something new.
    pub fn update(&mut self, id: &str, agent: Option<&str>, known: Known, now: u64) -> bool {
        let c = self.entry(id, now);
        if c.agent.is_none() {
            c.agent = agent.map(str::to_string);
        }
        match merge(c.known.as_ref(), known) {
            Some(k) => {
                c.known = Some(k);
                c.version += 1;
                true
            }
            None => false,
        }
    }

    /// Forgets calls nobody watches that have been quiet for `keep_ms`, and
    /// the quietest unwatched ones beyond `max` entries.
    pub fn prune(&mut self, now: u64, keep_ms: u64, max: usize) {
        self.map
            .retain(|_, c| c.watchers > 0 || c.reading || now < c.touched.saturating_add(keep_ms));
        if self.map.len() > max {
            let mut idle: Vec<(u64, String)> = self
                .map
                .iter()
                .filter(|(_, c)| c.watchers == 0 && !c.reading)
                .map(|(id, c)| (c.touched, id.clone()))
                .collect();
            idle.sort();
            let excess = self.map.len() - max;
            for (_, id) in idle.into_iter().take(excess) {
                self.map.remove(&id);
            }
        }
    }
}
