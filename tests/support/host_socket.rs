//! A push `Socket` for host suites: tokio-tungstenite against genesys-sim's
//! Notifications WebSocket (shared by push_sim.rs and edge_push_sim.rs).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{Sink, Stream};
use genesys_click_to_call::flow::{Connector, Socket, SocketEvent};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Connecting = Pin<Box<dyn Future<Output = Result<Ws, ()>>>>;

enum State {
    Connecting(Connecting),
    Open(Box<Ws>),
    Closed,
}

/// A [`Socket`] over tokio-tungstenite: frames to send wait in `outbox`
/// until the driver next polls.
struct HostSocket {
    state: RefCell<State>,
    outbox: RefCell<VecDeque<String>>,
    close_at: Cell<Option<Instant>>,
}

impl Socket for HostSocket {
    fn send(&self, text: &str) {
        self.outbox.borrow_mut().push_back(text.to_string());
    }

    fn poll_event(&self, cx: &mut Context<'_>) -> Poll<SocketEvent> {
        let mut state = self.state.borrow_mut();
        if self.close_at.get().is_some_and(|t| Instant::now() >= t) {
            *state = State::Closed;
            self.close_at.set(None);
            return Poll::Ready(SocketEvent::Closed);
        }
        loop {
            match &mut *state {
                State::Connecting(f) => match f.as_mut().poll(cx) {
                    Poll::Ready(Ok(ws)) => {
                        *state = State::Open(Box::new(ws));
                        return Poll::Ready(SocketEvent::Opened);
                    }
                    Poll::Ready(Err(())) => {
                        *state = State::Closed;
                        return Poll::Ready(SocketEvent::Closed);
                    }
                    Poll::Pending => return Poll::Pending,
                },
                State::Open(ws) => {
                    let mut out = self.outbox.borrow_mut();
                    while !out.is_empty() {
                        match Pin::new(&mut **ws).poll_ready(cx) {
                            Poll::Ready(Ok(())) => {
                                let t = out.pop_front().unwrap_or_default();
                                let _ = Pin::new(&mut **ws).start_send(Message::text(t));
                            }
                            _ => break,
                        }
                    }
                    let _ = Pin::new(&mut **ws).poll_flush(cx);
                    match Pin::new(&mut **ws).poll_next(cx) {
                        Poll::Ready(Some(Ok(Message::Text(t)))) => {
                            return Poll::Ready(SocketEvent::Message(t.to_string()))
                        }
                        Poll::Ready(Some(Ok(Message::Close(_)) | Err(_)) | None) => {
                            *state = State::Closed;
                            return Poll::Ready(SocketEvent::Closed);
                        }
                        Poll::Ready(Some(Ok(_))) => continue,
                        Poll::Pending => return Poll::Pending,
                    }
                }
                State::Closed => return Poll::Pending,
            }
        }
    }

    fn close_after(&self, ms: u64) {
        self.close_at
            .set(Some(Instant::now() + Duration::from_millis(ms)));
    }

    fn cancel_close(&self) {
        self.close_at.set(None);
    }
}

/// Opens [`HostSocket`]s and counts them.
#[derive(Clone, Default)]
pub struct Tungstenite {
    pub opened: Rc<Cell<u32>>,
}

impl Connector for Tungstenite {
    fn connect(&self, url: &str) -> Result<Box<dyn Socket>, String> {
        self.opened.set(self.opened.get() + 1);
        let url = url.to_string();
        let connecting: Connecting = Box::pin(async move {
            tokio_tungstenite::connect_async(url)
                .await
                .map(|(ws, _)| ws)
                .map_err(|_| ())
        });
        Ok(Box::new(HostSocket {
            state: RefCell::new(State::Connecting(connecting)),
            outbox: RefCell::new(VecDeque::new()),
            close_at: Cell::new(None),
        }))
    }
}
