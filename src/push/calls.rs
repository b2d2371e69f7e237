//! The calls the hub knows about: the latest status of each, merged so that a
//! late, repeated or reordered event never moves a call backwards, and the
//! bookkeeping that decides whether a call still needs a reconcile read.
//!
//! Events for calls nobody has asked about yet (the event that beats the
//! create-call response, or another client's call of the same agent) are kept
//! here too, for a while, so a call placed a moment later finds its history.

use crate::status::{CallStatus, Phase, Snapshot};

/// A small map with string keys in a `Vec`. The hub holds at most a few
/// thousand calls and topics; a linear search is fast enough, and one
/// generic `Vec` costs the browser package far less than `BTreeMap`s do.
#[derive(Debug)]
pub(crate) struct VecMap<V>(Vec<(String, V)>);

impl<V> Default for VecMap<V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<V> VecMap<V> {
    fn index(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == key)
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.index(key).map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.index(key).map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.index(key).is_some()
    }

    pub fn insert(&mut self, key: &str, value: V) {
        match self.index(key) {
            Some(i) => self.0[i].1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    pub fn get_or_insert_with(&mut self, key: &str, f: impl FnOnce() -> V) -> &mut V {
        let i = match self.index(key) {
            Some(i) => i,
            None => {
                self.0.push((key.to_string(), f()));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    pub fn retain(&mut self, mut f: impl FnMut(&V) -> bool) {
        self.0.retain(|(_, v)| f(v));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

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
    /// Bumped on anything its watchers may be waiting for (a new status, a
    /// read finished or given up), so only they are woken.
    pub stamp: u64,
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
    pub map: VecMap<Call>,
}

impl Calls {
    pub fn get(&self, id: &str) -> Option<&Call> {
        self.map.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Call> {
        self.map.get_mut(id)
    }

    pub fn entry(&mut self, id: &str, now: u64) -> &mut Call {
        let c = self.map.get_or_insert_with(id, Call::default);
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
                c.stamp += 1;
                true
            }
            None => false,
        }
    }

    /// Forgets calls nobody watches that have been quiet for `keep_ms`, and
    /// the quietest unwatched ones beyond `max` entries.
    pub fn prune(&mut self, now: u64, keep_ms: u64, max: usize) {
        let idle = |c: &Call| c.watchers == 0 && !c.reading;
        self.map
            .retain(|c| !idle(c) || now < c.touched.saturating_add(keep_ms));
        while self.map.len() > max {
            // Usually one over: a scan beats sorting (and its code in the wasm).
            let oldest = self
                .map
                .0
                .iter()
                .enumerate()
                .filter(|(_, (_, c))| idle(c))
                .min_by_key(|(_, (_, c))| c.touched)
                .map(|(i, _)| i);
            match oldest {
                Some(i) => {
                    self.map.0.swap_remove(i);
                }
                None => break,
            }
        }
    }
}
