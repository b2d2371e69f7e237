//! Queue callbacks and estimated wait time, on the same token, budget and
//! retry rules as calls. Scheduling is a create like placing a call: sent at
//! most once unless Genesys certainly did not act on it (429, a 401 before any
//! work), and `outcome_unknown` when it may have.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;

use futures_util::FutureExt;

use super::{aborted, until_cancelled, Client, Clock, Http};
use crate::call::{self, ConversationId, EntityId, UserId};
use crate::callback::{
    self, CallbackStatus, CallbackTime, ScheduleCallback, ScheduledCallback, WaitMedia,
};
use crate::error::{Attempt, Error, ErrorCode, CHECK_BEFORE_RESCHEDULING};
use crate::retry::RequestKind;

impl<H: Http, C: Clock> Client<H, C> {
    /// Schedules a callback: exactly one create-callback POST, or none with an error.
    pub async fn schedule_callback(
        &self,
        cb: &ScheduleCallback,
        cancel: impl Future<Output = ()>,
    ) -> Result<ScheduledCallback, Error> {
        // A signal that already fired means "don't": report aborted without
        // sending, rather than a needless outcome_unknown once a token is cached.
        let mut cancel = pin!(cancel);
        if cancel.as_mut().now_or_never().is_some() {
            return Err(aborted("scheduleCallback"));
        }
        let sent = Cell::new(false);
        let work = async {
            let resp = self
                .send_with_retries(
                    RequestKind::CreateCallback,
                    Attempt::CreateCallback,
                    &|t| cb.request(&self.opts.endpoints, t),
                    Some(&sent),
                )
                .await?;
            callback::parse_callback_response(&resp, Attempt::CreateCallback)
        };
        match until_cancelled(work, cancel).await {
            Some(r) => r,
            None if sent.get() => Err(Error::new(
                ErrorCode::OutcomeUnknown,
                &[
                    "scheduleCallback was aborted after the request was sent; the callback may have been scheduled. ",
                    CHECK_BEFORE_RESCHEDULING,
                ],
            )),
            None => Err(aborted("scheduleCallback")),
        }
    }

    /// One read of the callback, normalized: the generic conversation
    /// (`GET /api/v2/conversations/{id}`), the one shape that carries both the
    /// callback media and, once dialled, the call's legs with their SIP causes.
    /// Returns the status and the raw JSON.
    pub async fn get_callback(
        &self,
        id: &ConversationId,
    ) -> Result<(CallbackStatus, String), Error> {
        let resp = self
            .send_read(&|t| call::get_conversation_request(&self.opts.endpoints, t, id))
            .await?;
        let status = CallbackStatus::parse(&resp.body)?;
        Ok((status, resp.body))
    }

    /// Cancels the callback (hangs up its call if it was already dialled).
    /// Idempotent: cancelling a callback that is already over succeeds.
    pub async fn cancel_callback(
        &self,
        id: &ConversationId,
        cancel: impl Future<Output = ()>,
    ) -> Result<(), Error> {
        let work = async {
            let build = |t: &str| callback::cancel_request(&self.opts.endpoints, t, id);
            let refused = match self.send_read(&build).await {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            // Genesys may refuse to disconnect a conversation that already ended
            // (unconfirmed); then the callback is over, which is what was asked.
            if matches!(refused.code, ErrorCode::InvalidInput | ErrorCode::Conflict) {
                if let Ok((st, _)) = self.get_callback(id).await {
                    if st.outcome.is_some() {
                        return Ok(());
                    }
                }
            }
            Err(refused)
        };
        until_cancelled(work, cancel)
            .await
            .unwrap_or_else(|| Err(aborted("cancelCallback")))
    }

    /// Moves a callback that has not been dialled yet to `at`; `agent` makes
    /// it that agent's own callback.
    pub async fn reschedule_callback(
        &self,
        id: &ConversationId,
        at: &CallbackTime,
        agent: Option<&UserId>,
        cancel: impl Future<Output = ()>,
    ) -> Result<ScheduledCallback, Error> {
        let work = async {
            let build =
                |t: &str| callback::reschedule_request(&self.opts.endpoints, t, id, at, agent);
            let resp = self.send_read(&build).await?;
            callback::parse_callback_response(&resp, Attempt::Other)
        };
        until_cancelled(work, cancel)
            .await
            .unwrap_or_else(|| Err(aborted("rescheduleCallback")))
    }

    /// The queue's estimated wait in seconds for `media`; `None` when Genesys
    /// cannot estimate.
    pub async fn estimated_wait(
        &self,
        queue: &EntityId,
        media: WaitMedia,
    ) -> Result<Option<u64>, Error> {
        let resp = self
            .send_read(&|t| callback::estimated_wait_request(&self.opts.endpoints, t, queue, media))
            .await?;
        callback::parse_estimated_wait(&resp.body, media)
    }
}
