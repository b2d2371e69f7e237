//! A future driven by the JS request that asked for it, not by
//! wasm-bindgen-futures' one shared task queue.
//!
//! Why: in workerd every request has its own I/O context, and a timer or a
//! fetch started while another request's code runs belongs to that other
//! request. wasm-bindgen-futures polls every ready task of the isolate from
//! one shared microtask, so now and then one request's future was polled
//! inside another's, its next timer registered there, and when that other
//! request finished, ours was never woken: workerd cancelled it as hung (the
//! edge soak showed it a few times in a thousand streams).
//!
//! A `Job` is polled only from its own request's JS (`edge/handler.js`,
//! `drive`): poll; if pending, wait on a promise the future's waker resolves —
//! and the waker is called by the job's own timers and fetches, in its own
//! request. No queue is shared, so nothing crosses.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use js_sys::Function;
use wasm_bindgen::prelude::*;

/// Set when the future is woken; resolves the JS side's waiting promise.
#[derive(Default)]
struct Signal {
    woken: Cell<bool>,
    resolve: RefCell<Option<Function>>,
}

impl Signal {
    fn wake(&self) {
        self.woken.set(true);
        // Taken first: the call may re-enter (the JS side polls at once).
        let resolve = self.resolve.borrow_mut().take();
        if let Some(f) = resolve {
            let _ = f.call0(&JsValue::NULL);
        }
    }
}

// A waker over `Rc<Signal>`: wasm32 without atomics is single-threaded, so
// an `Rc` is sound here (as in wasm-bindgen-futures' own tasks).
fn waker(signal: Rc<Signal>) -> Waker {
    unsafe fn clone(p: *const ()) -> RawWaker {
        let rc = std::mem::ManuallyDrop::new(Rc::from_raw(p as *const Signal));
        RawWaker::new(Rc::into_raw(Rc::clone(&rc)) as *const (), &VTABLE)
    }
    unsafe fn wake(p: *const ()) {
        Rc::from_raw(p as *const Signal).wake();
    }
    unsafe fn wake_by_ref(p: *const ()) {
        (*(p as *const Signal)).wake();
    }
    unsafe fn drop(p: *const ()) {
        std::mem::drop(Rc::from_raw(p as *const Signal));
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);
    unsafe { Waker::from_raw(RawWaker::new(Rc::into_raw(signal) as *const (), &VTABLE)) }
}

type Boxed = Pin<Box<dyn Future<Output = JsValue>>>;

/// An edge operation in progress. JS: `poll()` until it returns something
/// other than `undefined`, awaiting `new Promise((r) => job.onWake(r))`
/// between polls. Freed (with whatever it was waiting on) when collected.
#[wasm_bindgen]
pub struct Job {
    future: RefCell<Option<Boxed>>,
    signal: Rc<Signal>,
}

impl Job {
    pub fn new(f: impl Future<Output = JsValue> + 'static) -> Job {
        Job {
            future: RefCell::new(Some(Box::pin(f))),
            signal: Rc::new(Signal::default()),
        }
    }
}

#[wasm_bindgen]
impl Job {
    /// Polls the future: its result once done, `undefined` while it waits.
    pub fn poll(&self) -> JsValue {
        loop {
            self.signal.woken.set(false);
            let waker = waker(Rc::clone(&self.signal));
            let mut cx = Context::from_waker(&waker);
            let mut slot = self.future.borrow_mut();
            let Some(f) = slot.as_mut() else {
                return JsValue::NULL;
            };
            match f.as_mut().poll(&mut cx) {
                Poll::Ready(v) => {
                    *slot = None;
                    return v;
                }
                // Woken while polling (a result was already there): again.
                Poll::Pending if self.signal.woken.get() => continue,
                Poll::Pending => return JsValue::UNDEFINED,
            }
        }
    }

    /// Calls `resolve` at the next wake (at once if one already happened).
    #[wasm_bindgen(js_name = onWake)]
    pub fn on_wake(&self, resolve: Function) {
        if self.signal.woken.get() {
            let _ = resolve.call0(&JsValue::NULL);
        } else {
            *self.signal.resolve.borrow_mut() = Some(resolve);
        }
    }
}
