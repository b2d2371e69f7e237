//! `placeCall`'s settle window in the flow (issue #15; the decisions are in
//! `crate::settle`): the number is reserved before the create-call POST; a
//! concurrent `placeCall` for it waits for that POST's answer; after an
//! unknown outcome, a `placeCall` for it within the window finds the call —
//! in the agent's notification stream, else with one read of the agent's
//! recent conversations — and never dials again.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;

use super::{aborted, until_cancelled, Client, Clock, Http};
use crate::call::{ConversationId, PlaceCall, UserId};
use crate::error::{Error, ErrorCode};
use crate::lookup;
use crate::settle::{Admit, Book, Settled, Waited};

/// The warning a `placeCall` answered without a POST carries.
pub const RESOLVED: &str = "placeCall did not dial again: a call to this number whose outcome was unknown was found, and this is that call";
pub const SHARED: &str = "placeCall did not dial again: another placeCall for this number was already in flight, and this is its call";

/// How soon a caller waiting for another `placeCall`'s POST looks again
/// (doubling up to the maximum; its own timer, never woken by the other).
const WAIT_MS: u64 = 10;
const WAIT_MAX_MS: u64 = 120;

/// The number held while its POST is in flight. Dropped unsettled (the
/// caller went away), it settles as unknown if the POST was sent.
struct Reservation<'a> {
    book: &'a std::cell::RefCell<Book>,
    ticket: u64,
    sent: &'a Cell<bool>,
    now: &'a dyn Fn() -> u64,
    window_ms: u64,
    settled: bool,
}

impl Reservation<'_> {
    fn settle(&mut self, outcome: Settled) {
        self.settled = true;
        let now = (self.now)();
        self.book
            .borrow_mut()
            .settle(self.ticket, outcome, now, self.window_ms);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.settled {
            let outcome = if self.sent.get() {
                Settled::Unknown
            } else {
                Settled::NotDialled
            };
            self.settle(outcome);
        }
    }
}

fn ringing(retry_after_ms: u64, why: &str) -> Error {
    let mut e = Error::new(
        ErrorCode::CallMayBeRinging,
        &[
            "a call to this number was sent moments ago and its outcome is still unknown, so it was not dialled again: the phone may be ringing (",
            why,
            "). Try again after retryAfterMs, when the number may be dialled again. ",
            crate::error::CHECK_BEFORE_REDIAL,
        ],
    );
    e.retry_after_ms = Some(retry_after_ms);
    e
}

impl<H: Http, C: Clock> Client<H, C> {
    /// `place_call` under the settle window: the call and, when it was not
    /// dialled by this request, why (`RESOLVED`, `SHARED`).
    pub(super) async fn place_settled(
        &self,
        call: &PlaceCall,
        cancel: impl Future<Output = ()>,
    ) -> Result<(ConversationId, Option<&'static str>), Error> {
        let window = self.opts.settle_ms;
        let sent = Cell::new(false);
        if window == 0 {
            return self
                .place_once(call, &sent, cancel)
                .await
                .map(|id| (id, None));
        }
        let mut cancel = pin!(cancel);
        let number = call.phone_number.as_str();
        let agent = call.on_behalf_of.as_ref().map(|u| u.as_str());
        loop {
            let now = self.clock.now_ms();
            let admit = self.settle.borrow_mut().admit(number, agent, now);
            match admit {
                Admit::Dial(ticket) => {
                    let clock_now = || self.clock.now_ms();
                    let mut held = Reservation {
                        book: &self.settle,
                        ticket,
                        sent: &sent,
                        now: &clock_now,
                        window_ms: window,
                        settled: false,
                    };
                    let r = self.place_once(call, &sent, cancel.as_mut()).await;
                    held.settle(match &r {
                        Ok(id) => Settled::Placed(id.clone()),
                        Err(e) if e.code == ErrorCode::OutcomeUnknown => Settled::Unknown,
                        Err(e) if e.code == ErrorCode::Aborted && sent.get() => Settled::Unknown,
                        Err(_) => Settled::NotDialled,
                    });
                    return r.map(|id| (id, None));
                }
                Admit::Wait(ticket) => {
                    let waited = until_cancelled(self.wait_for_post(ticket), cancel.as_mut());
                    match waited.await {
                        None => return Err(aborted("placeCall")),
                        Some(Some(id)) => return Ok((id, Some(SHARED))),
                        // Not dialled, or unknown: decide again.
                        Some(None) => continue,
                    }
                }
                Admit::Placed(id) => return Ok((id, Some(RESOLVED))),
                Admit::Resolve {
                    ticket,
                    agent,
                    since,
                    until,
                } => {
                    let agent = agent
                        .map(|a| UserId::parse(&a, "onBehalfOfUserId"))
                        .transpose()?;
                    let find = self.find_call_to(agent.as_ref(), number, since);
                    let found = until_cancelled(find, cancel.as_mut()).await;
                    let left = until.saturating_sub(self.clock.now_ms());
                    return match found {
                        None => Err(aborted("placeCall")),
                        Some(Ok(Some(id))) => {
                            self.settle.borrow_mut().resolved(ticket, id.clone());
                            Ok((id, Some(RESOLVED)))
                        }
                        Some(Ok(None)) => Err(ringing(left, "no such call was found yet")),
                        Some(Err(e)) => Err(ringing(
                            left,
                            &["the lookup failed: ", e.code.as_str()].concat(),
                        )),
                    };
                }
            }
        }
    }

    /// Waits (on this caller's own timer) for another `placeCall`'s POST:
    /// its call, or `None` when it did not place one knowingly.
    async fn wait_for_post(&self, ticket: u64) -> Option<ConversationId> {
        let mut nap = WAIT_MS;
        loop {
            let now = self.clock.now_ms();
            match self.settle.borrow_mut().waited(ticket, now) {
                Waited::InFlight => {}
                Waited::Placed(id) => return Some(id),
                Waited::Again => return None,
            }
            self.clock.sleep(nap).await;
            nap = (nap * 2).min(WAIT_MAX_MS);
        }
    }

    /// The call `agent` (`None`: the token's own user) placed to `number`
    /// since `since` (epoch ms), if Genesys has one: first from the agent's
    /// notification stream (no request), else with one read of the agent's
    /// recent conversations (`analytics:conversationDetail:view`). What
    /// resolves an unknown outcome, here and at the edge.
    pub async fn find_call_to(
        &self,
        agent: Option<&UserId>,
        number: &str,
        since: u64,
    ) -> Result<Option<ConversationId>, Error> {
        let agent = match agent {
            Some(a) => a.clone(),
            None => self.me().await?,
        };
        if let Some(id) = self.placed_by_push(agent.as_str(), number, since).await {
            return Ok(Some(id));
        }
        let now = self.clock.now_ms();
        let e = &self.opts.endpoints;
        let resp = self
            .send_read(&|t| lookup::recent_calls_request(e, t, &agent, since, now))
            .await?;
        lookup::find_call_to(&resp.body, number, since)
    }
}
