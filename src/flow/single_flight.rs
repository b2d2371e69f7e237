//! Single-flight without a shared waker: concurrent callers that need the
//! same answer (the token, an agent's lookups) let one of them do the work
//! while the others wait for it to land in a cache.
//!
//! No lock and no channel: either would wake the waiting callers from the
//! working caller's task, and workerd cancels a request whose promise is
//! resolved from another request's context. So each waiter looks at the
//! cache again on its own timer instead.

use std::cell::Cell;

use crate::flow::Clock;

/// How soon a caller waiting for another caller's work looks again; each
/// look doubles the wait up to [`POLL_MAX_MS`], so a burst of waiters (on a
/// Durable Object, every wake-up is the one thread's work) costs few wakes.
const POLL_MS: u64 = 10;
const POLL_MAX_MS: u64 = 120;

/// "Someone is doing the work" for one kind of work on a `Client`.
#[derive(Default)]
pub(crate) struct SingleFlight(Cell<bool>);

/// What [`SingleFlight::enter`] found.
pub(crate) enum Turn<'a, T> {
    /// The answer is there (cached, or landed while waiting).
    Ready(T),
    /// Nobody else is working: this caller does the work while it holds the
    /// guard (dropping it, however the work ends, lets the others in).
    Mine(Working<'a>),
}

/// Clears the flag however the work ends (including cancellation).
pub(crate) struct Working<'a>(&'a Cell<bool>);

impl Drop for Working<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl SingleFlight {
    /// `cached()` if it has an answer; otherwise waits (polling on this
    /// caller's own timer) while another caller works, then looks again.
    pub(crate) async fn enter<T>(
        &self,
        clock: &impl Clock,
        cached: impl Fn() -> Option<T>,
    ) -> Turn<'_, T> {
        let mut nap = POLL_MS;
        loop {
            if let Some(t) = cached() {
                return Turn::Ready(t);
            }
            if !self.0.get() {
                break;
            }
            clock.sleep(nap).await;
            nap = (nap * 2).min(POLL_MAX_MS);
        }
        self.0.set(true);
        Turn::Mine(Working(&self.0))
    }
}
