//! The wasm side of `Socket`: a JS `WebSocket` — the host's global one
//! (browsers, Node ≥ 22, workerd, Deno) or a constructor given as the
//! `WebSocket` client option (Node 20 with the `ws` package). It is used
//! duck-typed (`send`, `close`, `addEventListener`), so any object with the
//! standard WebSocket interface works, whatever its prototype.
//!
//! Events are queued by the JS listeners and taken by the push driver when it
//! next polls; nobody needs to be polling for the socket to keep working.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use gloo_timers::callback::Timeout;
use js_sys::{Array, Function, JsString, Reflect};
use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::flow::{Connector, Socket, SocketEvent};
use crate::wire::notifications::MAX_FRAME_BYTES;

#[wasm_bindgen]
extern "C" {
    /// Any object with the WebSocket interface (methods are looked up by name).
    type JsWebSocket;
    #[wasm_bindgen(method, catch)]
    fn send(this: &JsWebSocket, data: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &JsWebSocket, code: u16, reason: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = addEventListener)]
    fn add_listener(this: &JsWebSocket, kind: &str, f: &Function) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = removeEventListener)]
    fn remove_listener(this: &JsWebSocket, kind: &str, f: &Function) -> Result<(), JsValue>;
}

/// Events waiting for the driver; beyond this the reader has fallen too far
/// behind, and the socket is closed (a gap the hub reconnects and reconciles).
const MAX_QUEUED: usize = 4_096;

#[derive(Default)]
struct Queue {
    events: VecDeque<SocketEvent>,
    waker: Option<Waker>,
    closed: bool,
}

impl Queue {
    fn push(&mut self, e: SocketEvent) {
        if self.closed {
            return;
        }
        self.closed = e == SocketEvent::Closed;
        self.events.push_back(e);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

type Listener = Closure<dyn FnMut(JsValue)>;

pub struct JsSocket {
    ws: Rc<JsWebSocket>,
    queue: Rc<RefCell<Queue>>,
    listeners: Vec<(&'static str, Listener)>,
    linger: RefCell<Option<Timeout>>,
}

impl Socket for JsSocket {
    fn send(&self, text: &str) {
        // Throws if not open: the hub only sends once open, and a socket
        // closing under us reports itself through the close event.
        let _ = self.ws.send(text);
    }

    fn poll_event(&self, cx: &mut Context<'_>) -> Poll<SocketEvent> {
        let mut q = self.queue.borrow_mut();
        match q.events.pop_front() {
            Some(e) => Poll::Ready(e),
            None => {
                q.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn close_after(&self, ms: u64) {
        let ws = self.ws.clone();
        let t = Timeout::new(ms.min(u32::MAX as u64) as u32, move || {
            let _ = ws.close(1000, "idle");
        });
        *self.linger.borrow_mut() = Some(t);
    }

    fn cancel_close(&self) {
        // Dropping a gloo Timeout clears it.
        self.linger.borrow_mut().take();
    }
}

impl Drop for JsSocket {
    fn drop(&mut self) {
        // Detach first: a JS event must never reach a dropped closure.
        for (kind, f) in &self.listeners {
            let _ = self.ws.remove_listener(kind, f.as_ref().unchecked_ref());
        }
        if !self.queue.borrow().closed {
            let _ = self.ws.close(1000, "done");
        }
    }
}

/// Opens sockets with a JS `WebSocket` constructor.
pub struct JsConnector {
    ctor: Function,
}

impl JsConnector {
    /// From the `WebSocket` option: a constructor to use, `false` for no push,
    /// or absent for the host's global `WebSocket`. `Ok(None)`: no WebSocket
    /// here (Node 20 without one given), so calls are polled.
    pub fn from_option(option: Option<JsValue>) -> Result<Option<JsConnector>, Error> {
        let given = option.filter(|v| !v.is_undefined() && !v.is_null());
        let ctor = match given {
            Some(v) if v.is_function() => v,
            Some(v) if v.as_bool() == Some(false) => return Ok(None),
            Some(_) => {
                return Err(Error::invalid_input(&[
                    "WebSocket must be a WebSocket constructor (e.g. the ws package's), or false for no push",
                ]))
            }
            None => match Reflect::get(&js_sys::global(), &"WebSocket".into()) {
                Ok(v) if v.is_function() => v,
                _ => return Ok(None),
            },
        };
        Ok(Some(JsConnector {
            ctor: ctor.unchecked_into(),
        }))
    }
}

impl Connector for JsConnector {
    fn connect(&self, url: &str) -> Result<Box<dyn Socket>, String> {
        let ws: JsWebSocket = Reflect::construct(&self.ctor, &Array::of1(&url.into()))
            .map_err(|_| String::from("the WebSocket constructor threw"))?
            .unchecked_into();
        let ws = Rc::new(ws);
        let queue = Rc::new(RefCell::new(Queue::default()));
        let mut listeners: Vec<(&'static str, Listener)> = Vec::new();
        let on = |kind: &'static str, f: Box<dyn FnMut(JsValue)>| (kind, Closure::wrap(f));

        let q = queue.clone();
        listeners.push(on(
            "open",
            Box::new(move |_| q.borrow_mut().push(SocketEvent::Opened)),
        ));
        let (q, w) = (queue.clone(), ws.clone());
        listeners.push(on(
            "message",
            Box::new(move |ev: JsValue| {
                let data = Reflect::get(&ev, &"data".into()).unwrap_or(JsValue::UNDEFINED);
                // Text frames only; binary frames are not part of the protocol.
                let Some(text) = data.dyn_ref::<JsString>() else {
                    return;
                };
                let mut q = q.borrow_mut();
                // Too big to read, or too far behind: a gap. Close; the hub
                // reconnects and reconciles.
                if text.length() as usize > MAX_FRAME_BYTES || q.events.len() >= MAX_QUEUED {
                    q.push(SocketEvent::Closed);
                    let _ = w.close(1000, "client cannot keep up");
                    return;
                }
                q.push(SocketEvent::Message(String::from(text)));
            }),
        ));
        for kind in ["close", "error"] {
            let q = queue.clone();
            listeners.push(on(
                kind,
                Box::new(move |_| q.borrow_mut().push(SocketEvent::Closed)),
            ));
        }
        let socket = JsSocket {
            ws,
            queue,
            listeners,
            linger: RefCell::new(None),
        };
        for (kind, f) in &socket.listeners {
            if socket
                .ws
                .add_listener(kind, f.as_ref().unchecked_ref())
                .is_err()
            {
                // Dropping `socket` detaches what was attached and closes it.
                return Err(String::from("the WebSocket has no addEventListener"));
            }
        }
        Ok(Box::new(socket))
    }
}
