//! `placeCall`'s settle window in the flow (issue #15; the decisions are in
//! `crate::settle`): the number is reserved before the create-call POST (a
//! concurrent `placeCall` for it is told the call may be ringing); after an
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
use crate::settle::{Admit, Book, Settled};

/// The number held while its POST is in flight; dropped, it settles the
/// POST: `unknown` as the flow judged it, or, if the caller went away
/// first, unknown once the POST was sent.
struct Reservation<'a, C: Clock> {
    book: &'a std::cell::RefCell<Book>,
    ticket: u64,
    sent: &'a Cell<bool>,
    clock: &'a C,
    window_ms: u64,
    unknown: Option<bool>,
}

impl<C: Clock> Drop for Reservation<'_, C> {
    fn drop(&mut self) {
        let outcome = match self.unknown.unwrap_or(self.sent.get()) {
            true => Settled::Unknown,
            false => Settled::Known,
        };
        let now = self.clock.now_ms();
        self.book
            .borrow_mut()
            .settle(self.ticket, outcome, now, self.window_ms);
    }
}

fn ringing(retry_after_ms: u64, why: &str) -> Error {
    let mut e = Error::new(
        ErrorCode::CallMayBeRinging,
        &[
            "not dialled: a call to this number was sent moments ago and may be ringing (",
            why,
            "); try again after retryAfterMs",
        ],
    );
    e.retry_after_ms = Some(retry_after_ms);
    e
}

impl<H: Http, C: Clock> Client<H, C> {
    /// `place_call` under the settle window: the call, and whether it is
    /// one sent moments before (resolved) rather than dialled now.
    pub(super) async fn place_settled(
        &self,
        call: &PlaceCall,
        cancel: impl Future<Output = ()>,
    ) -> Result<(ConversationId, bool), Error> {
        let window = self.opts.settle_ms;
        let mut cancel = pin!(cancel);
        let number = call.phone_number.as_str();
        let agent = call.on_behalf_of.as_ref();
        let now = self.clock.now_ms();
        // Window off: every POST under ticket 0, which the book never holds.
        let admit = match window {
            0 => Admit::Dial(0),
            _ => self.settle.borrow_mut().admit(number, agent, now),
        };
        let Admit::Dial(ticket) = admit else {
            let found = until_cancelled(self.without_post(admit, number), cancel.as_mut());
            return found.await.unwrap_or_else(|| Err(aborted("placeCall")));
        };
        let sent = Cell::new(false);
        let mut held = Reservation {
            book: &self.settle,
            ticket,
            sent: &sent,
            clock: &self.clock,
            window_ms: window,
            unknown: None,
        };
        let r = self.place_once(call, &sent, cancel.as_mut()).await;
        held.unknown = Some(matches!(&r, Err(e) if e.code == ErrorCode::OutcomeUnknown
            || (e.code == ErrorCode::Aborted && sent.get())));
        r.map(|id| (id, false))
    }

    /// What a `placeCall` the book answered without a POST gets: the call
    /// found, or `call_may_be_ringing`.
    async fn without_post(
        &self,
        admit: Admit,
        number: &str,
    ) -> Result<(ConversationId, bool), Error> {
        let (ticket, agent, since, until) = match admit {
            Admit::Resolve {
                ticket,
                agent,
                since,
                until,
            } => (ticket, agent, since, until),
            Admit::Placed(id) => return Ok((id, true)),
            _ => {
                return Err(ringing(
                    self.opts.request_timeout_ms,
                    "its placeCall awaits Genesys",
                ))
            }
        };
        let found = self.find_call_to(agent.as_ref(), number, since).await;
        let left = until.saturating_sub(self.clock.now_ms());
        match found {
            Ok(Some(id)) => {
                self.settle.borrow_mut().resolved(ticket, id.clone());
                Ok((id, true))
            }
            Ok(None) => Err(ringing(left, "not found yet")),
            Err(e) => Err(ringing(left, e.code.as_str())),
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
