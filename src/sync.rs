//! Two tiny single-threaded async helpers (wasm has one thread, and the host
//! tests drive the flow on one thread too): a lock for single-flight token
//! fetches, and a race that lets a caller's abort signal cancel an operation.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// An async mutex without data: whoever holds the guard is the one fetching.
#[derive(Default)]
pub struct AsyncLock {
    locked: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

pub struct LockGuard<'a>(&'a AsyncLock);

impl AsyncLock {
    pub fn lock(&self) -> impl Future<Output = LockGuard<'_>> {
        std::future::poll_fn(move |cx| {
            if self.locked.get() {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            } else {
                self.locked.set(true);
                Poll::Ready(LockGuard(self))
            }
        })
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.0.locked.set(false);
        // Wake everyone: a waiter that was cancelled meanwhile must not strand the rest.
        let waiters = std::mem::take(&mut *self.0.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }
}

/// Runs `work` until it finishes or `cancel` completes, whichever is first.
/// `Err(())` means cancelled (and `work` has been dropped, cancelling its IO).
pub async fn race<T>(
    work: impl Future<Output = T>,
    cancel: impl Future<Output = ()>,
) -> Result<T, ()> {
    let mut work = std::pin::pin!(work);
    let mut cancel = std::pin::pin!(cancel);
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        if let Poll::Ready(v) = Pin::new(&mut work).poll(cx) {
            return Poll::Ready(Ok(v));
        }
        if Pin::new(&mut cancel).poll(cx).is_ready() {
            return Poll::Ready(Err(()));
        }
        Poll::Pending
    })
    .await
}
