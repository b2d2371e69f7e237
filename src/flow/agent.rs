//! Issue #12 in the flow: the agent-availability check before the create-call
//! POST, and wrap-up once a call has ended. Every decision is in
//! `crate::agent` and `crate::wrapup`; this file sequences the requests and
//! keeps the little state they need on the `Client`: who "me" is, a few
//! seconds of lookups per agent, and wrap-ups waiting for their call to end.

use std::cell::RefCell;
use std::future::Future;
use std::pin::pin;

use futures_util::future::join3;
use serde::{Serialize, Serializer};

use super::single_flight::{SingleFlight, Turn};
use super::{aborted, until_cancelled, Client, Clock, Http};
use crate::agent::{self, AgentCheck, AgentFacts, Lookup, AGENT_CACHE_MS};
use crate::auth::Credentials;
use crate::call::{self, ConversationId, PlaceCall, UserId};
use crate::error::{Error, ErrorCode};
use crate::status::{CallStatus, Phase, Snapshot};
use crate::wire::wrapup::WrapupCode;
use crate::wrapup::{self, WrapUp};

/// Wrap-ups waiting for their calls; beyond this the oldest is dropped, so a
/// client that never waits for its calls does not grow without bound.
const MAX_WAITING_WRAP_UPS: usize = 1_000;

/// What `placeCall` does around the create-call POST for the agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentCallOptions {
    /// Check the agent first; refuse with `agent_unavailable` (and no POST)
    /// when they cannot take the call. Unknown availability does not refuse.
    pub require_available_agent: bool,
    /// Applied to the agent participant once the call has ended (inside
    /// `wait_for_call`), exactly once.
    pub wrap_up: Option<WrapUp>,
}

/// `placeCall`'s answer: `{conversationId, agent?, resolved?}` (`agent`: the
/// check made before dialling, with its warnings, when one was asked for;
/// `resolved: true`: nothing was dialled for this request, the call is the
/// one sent moments before whose outcome was unknown, found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub conversation_id: ConversationId,
    pub agent: Option<AgentCheck>,
    pub resolved: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Serialize for Placed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct View<'a> {
            conversation_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            agent: Option<&'a AgentCheck>,
            #[serde(skip_serializing_if = "is_false")]
            resolved: bool,
        }
        View {
            conversation_id: self.conversation_id.as_str(),
            agent: self.agent.as_ref(),
            resolved: self.resolved,
        }
        .serialize(s)
    }
}

/// The `Client`'s share of issue #12.
#[derive(Default)]
pub struct AgentState {
    /// The token's own user (`/users/me`), once asked: a token's user never changes.
    me: RefCell<Option<UserId>>,
    facts: RefCell<Vec<Cached>>,
    /// Set while lookups are in flight, so concurrent checks share one burst
    /// (the second finds the cache filled): single-flight, as the token.
    lookups: SingleFlight,
    waiting: RefCell<Vec<(ConversationId, WrapUp)>>,
}

struct Cached {
    user: UserId,
    at: u64,
    facts: AgentFacts,
    warnings: Vec<String>,
}

/// A wrap-up taken out of the waiting list while it is being applied. Unless
/// it is marked applied, dropping it (a failure, or the caller's abort) puts
/// it back, so a call placed with a wrap-up is never left without one.
struct Taken<'a> {
    waiting: &'a RefCell<Vec<(ConversationId, WrapUp)>>,
    id: &'a ConversationId,
    wrap: Option<WrapUp>,
}

impl<'a> Taken<'a> {
    fn take(
        waiting: &'a RefCell<Vec<(ConversationId, WrapUp)>>,
        id: &'a ConversationId,
    ) -> Taken<'a> {
        let mut w = waiting.borrow_mut();
        let wrap = w.iter().position(|(c, _)| c == id).map(|i| w.remove(i).1);
        Taken { waiting, id, wrap }
    }

    fn applied(mut self) {
        self.wrap = None;
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if let Some(wrap) = self.wrap.take() {
            let mut w = self.waiting.borrow_mut();
            // A newer wrap-up for the call (placed meanwhile) wins.
            if !w.iter().any(|(c, _)| c == self.id) {
                w.push((self.id.clone(), wrap));
            }
        }
    }
}

impl<H: Http, C: Clock> Client<H, C> {
    /// The user the token belongs to (`GET /api/v2/users/me`), asked once.
    pub async fn me(&self) -> Result<UserId, Error> {
        if let Some(me) = self.agent.me.borrow().clone() {
            return Ok(me);
        }
        let resp = self
            .send_read(&|t: &str| agent::me_request(&self.opts.endpoints, t))
            .await
            .map_err(|mut e| {
                if e.code == ErrorCode::UserContextRequired {
                    e.message = "a client-credentials token has no agent of its own: pass the agent's user id (checkAgent(userId), or placeCall's onBehalfOfUserId)".into();
                }
                e
            })?;
        let me = agent::parse_me(&resp)?;
        *self.agent.me.borrow_mut() = Some(me.clone());
        Ok(me)
    }

    /// Can `user` (default: the token's own agent) take a call now? `acd`: the
    /// call would be placed for a queue (`callFromQueueId`), where routing
    /// status counts too. Lookups are shared for `AGENT_CACHE_MS` per agent.
    pub async fn check_agent(&self, user: Option<&UserId>, acd: bool) -> Result<AgentCheck, Error> {
        let user = match user {
            Some(u) => u.clone(),
            None => self.me().await?,
        };
        let (facts, warnings) = self.agent_facts(&user).await?;
        Ok(agent::decide(user.as_str(), &facts, acd, warnings))
    }

    fn cached_facts(&self, user: &UserId) -> Option<(AgentFacts, Vec<String>)> {
        let now = self.clock.now_ms();
        self.agent
            .facts
            .borrow()
            .iter()
            .find(|c| &c.user == user && now.saturating_sub(c.at) < AGENT_CACHE_MS)
            .map(|c| (c.facts.clone(), c.warnings.clone()))
    }

    /// Presence, routing status and station in one concurrent burst (each a
    /// budgeted request), then the presence's label where it can say "do not
    /// disturb" (`agent::Lookups` decides what to ask; this only sends).
    async fn agent_facts(&self, user: &UserId) -> Result<(AgentFacts, Vec<String>), Error> {
        let cached = || self.cached_facts(user);
        let _burst = match self.agent.lookups.enter(&self.clock, cached).await {
            Turn::Ready(hit) => return Ok(hit),
            Turn::Mine(working) => working,
        };
        let e = &self.opts.endpoints;
        let mut plan = agent::Lookups::new(user.clone());
        let p = &plan;
        let [presence, routing, station] = agent::BURST;
        let answers = join3(
            self.send_read(&|t: &str| p.request(presence, e, t)),
            self.send_read(&|t: &str| p.request(routing, e, t)),
            self.send_read(&|t: &str| p.request(station, e, t)),
        )
        .await;
        plan.read(presence, answers.0)?;
        plan.read(routing, answers.1)?;
        plan.read(station, answers.2)?;
        if plan.wants_label() {
            let p = &plan;
            let answer = self
                .send_read(&|t: &str| p.request(Lookup::Definition, e, t))
                .await;
            plan.read(Lookup::Definition, answer)?;
        }
        let (facts, warnings) = plan.finish();
        let now = self.clock.now_ms();
        let mut cache = self.agent.facts.borrow_mut();
        cache.retain(|c| &c.user != user && now.saturating_sub(c.at) < AGENT_CACHE_MS);
        cache.push(Cached {
            user: user.clone(),
            at: now,
            facts: facts.clone(),
            warnings: warnings.clone(),
        });
        Ok((facts, warnings))
    }

    /// `placeCall` with the agent's side: the availability check before the
    /// POST (refused → `agent_unavailable`, no POST), then the POST (exactly
    /// one, as `place_call`, settle window included), then the wrap-up
    /// remembered for `wait_for_call`.
    pub async fn place_call_for_agent(
        &self,
        call: &PlaceCall,
        opts: &AgentCallOptions,
        cancel: impl Future<Output = ()>,
    ) -> Result<Placed, Error> {
        let mut cancel = pin!(cancel);
        let agent = if opts.require_available_agent {
            let acd = call.call_from_queue_id.is_some();
            let check = self.check_agent(call.on_behalf_of.as_ref(), acd);
            let check = until_cancelled(check, cancel.as_mut())
                .await
                .unwrap_or_else(|| Err(aborted("placeCall")))?;
            if check.available == Some(false) {
                return Err(agent::refusal(&check));
            }
            Some(check)
        } else {
            None
        };
        let (conversation_id, resolved) = self.place_settled(call, cancel.as_mut()).await?;
        if let Some(w) = &opts.wrap_up {
            let mut waiting = self.agent.waiting.borrow_mut();
            if waiting.len() >= MAX_WAITING_WRAP_UPS {
                waiting.remove(0);
            }
            waiting.push((conversation_id.clone(), w.clone()));
        }
        Ok(Placed {
            conversation_id,
            agent,
            resolved,
        })
    }

    /// The hook in `wait_for_call`: once the call has ended, applies the
    /// wrap-up `placeCall` was given, exactly once per call (a second wait
    /// finds nothing waiting). On failure it stays waiting and the wait
    /// rejects, so it is never lost silently.
    pub(super) async fn apply_waiting_wrap_up(
        &self,
        id: &ConversationId,
        status: &CallStatus,
    ) -> Result<(), Error> {
        if status.phase != Phase::Ended {
            return Ok(());
        }
        let taken = Taken::take(&self.agent.waiting, id);
        let Some(wrap) = taken.wrap.clone() else {
            return Ok(());
        };
        self.apply_wrap_up(id, &status.snapshot, &wrap)
            .await
            .map_err(|mut e| {
                let outcome = status.outcome.map_or("unknown", |o| o.as_str());
                e.message = [
                    "the call ended (outcome ",
                    outcome,
                    "), but its wrap-up failed: ",
                    &e.message,
                    ". The wrap-up is still pending: waitForCall tries again, or call wrapUp(conversationId, { code }) with a valid code",
                ]
                .concat();
                e
            })?;
        taken.applied();
        Ok(())
    }

    /// Applies `wrap` to the agent participant now (during or after the call).
    /// It replaces a wrap-up waiting for this call, so only one is applied.
    pub async fn wrap_up(&self, id: &ConversationId, wrap: &WrapUp) -> Result<(), Error> {
        let taken = Taken::take(&self.agent.waiting, id);
        let snapshot = self.read_call(id).await?;
        self.apply_wrap_up(id, &snapshot, wrap).await?;
        taken.applied();
        Ok(())
    }

    /// The wrap-up codes of the call's agent participant (the queue's codes;
    /// `[]` for a call placed without `callFromQueueId`).
    pub async fn wrap_up_codes(&self, id: &ConversationId) -> Result<Vec<WrapupCode>, Error> {
        let agent = wrapup::agent_leg(&self.read_call(id).await?)?;
        let e = &self.opts.endpoints;
        let resp = self
            .send_read(&|t: &str| wrapup::codes_request(e, t, id, &agent))
            .await?;
        wrapup::parse_codes(&resp)
    }

    /// One `GET /api/v2/conversations/calls/{id}`, for its participants.
    async fn read_call(&self, id: &ConversationId) -> Result<Snapshot, Error> {
        let resp = self
            .send_read(&|t: &str| call::get_call_request(&self.opts.endpoints, t, id))
            .await?;
        Snapshot::parse(&resp.body)
    }

    /// Codes first (no codes, or not one of them: refused before the PATCH),
    /// then the PATCH: the `/user/{userId}` form for a client-credentials
    /// token, which acts on behalf of the agent; the plain form for the
    /// agent's own token.
    async fn apply_wrap_up(
        &self,
        id: &ConversationId,
        snapshot: &Snapshot,
        wrap: &WrapUp,
    ) -> Result<(), Error> {
        let agent = wrapup::agent_leg(snapshot)?;
        let e = &self.opts.endpoints;
        match self
            .send_read(&|t: &str| wrapup::codes_request(e, t, id, &agent))
            .await
        {
            Ok(resp) => wrapup::check_code(&wrapup::parse_codes(&resp)?, &wrap.code)?,
            // Not allowed to list them: Genesys judges the PATCH itself.
            Err(err) if err.code == ErrorCode::Forbidden => {}
            Err(err) => return Err(err),
        }
        let on_behalf = match self.opts.credentials {
            Credentials::ClientCredentials { .. } => agent.user_id.as_ref(),
            Credentials::AccessToken(_) => None,
        };
        self.send_read(&|t: &str| {
            wrapup::apply_request(e, t, id, &agent.participant_id, on_behalf, wrap)
        })
        .await
        .map_err(wrapup::rejected)?;
        Ok(())
    }
}
