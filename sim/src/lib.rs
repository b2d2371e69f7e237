//! genesys-sim: a local Genesys Cloud org that speaks the real wire format.
//!
//! One port serves the login host's `/oauth/*` and the API host's `/api/v2/*`,
//! the Notifications WebSocket at `/channels/{id}`, plus test hooks under
//! `/__sim/`. See the README for the seed org, the test numbers and the hooks.

// Handlers return `Result<_, Response>`: an early HTTP answer is the natural error
// here, and boxing every one would only add noise.
#![allow(clippy::result_large_err)]

mod access;
mod api;
mod callbacks;
pub mod calls;
mod details;
mod frontdoor;
mod hooks;
mod notify;
mod oauth;
pub mod org;
mod paging;
mod requestlog;
mod routing;
pub mod timestamp;
mod users;
pub mod util;
mod wrapup;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::routing::{get, patch, post};
use axum::Router;
use serde_json::Value;

use crate::calls::Call;
pub use crate::org::Org;

/// Largest request body accepted (like Genesys, bigger bodies get 413).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Log entries kept for `/__sim/requests`.
const MAX_LOG: usize = 100_000;
/// Ended calls are forgotten this long after they end.
const ENDED_CALL_TTL: Duration = Duration::from_secs(300);
/// At most this many calls are kept; the oldest go first.
const MAX_CALLS: usize = 20_000;
/// Authorization codes live this long and are single-use.
const CODE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Multiplies every scenario duration (0.05 makes a 30 s ring last 1.5 s).
    pub time_scale: f64,
    /// Lifetime of issued access tokens.
    pub token_ttl: Duration,
    /// API requests allowed per token per rate window.
    pub rate_limit: u32,
    /// The rate window (Genesys: one minute).
    pub rate_window: Duration,
    pub org: Org,
    /// No per-request log lines on stderr.
    pub quiet: bool,
    /// Every queue's estimated wait in seconds until `/__sim/queues/{id}`
    /// changes it; `None`: Genesys cannot estimate.
    pub estimated_wait: Option<u32>,
    /// Notifications heartbeat period; `None`: Genesys' 30 s × `time_scale`.
    pub heartbeat: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8089)),
            time_scale: 1.0,
            token_ttl: Duration::from_secs(86_399),
            rate_limit: 300,
            rate_window: Duration::from_secs(60),
            org: Org::seed(),
            quiet: false,
            estimated_wait: Some(90),
            heartbeat: None,
        }
    }
}

/// Who a bearer token belongs to.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token: String,
    pub client_id: String,
    /// `Some` for user tokens (PKCE); `None` for client credentials.
    pub user_id: Option<String>,
    pub permissions: Vec<String>,
}

impl Principal {
    /// Users in the seed org hold every permission; clients hold their role's.
    pub fn has_any(&self, perms: &[&str]) -> bool {
        self.user_id.is_some()
            || perms
                .iter()
                .any(|p| self.permissions.iter().any(|q| q == p))
    }

    /// The owner key of conversations this principal creates.
    pub fn owner(&self) -> String {
        match &self.user_id {
            Some(u) => format!("user:{u}"),
            None => format!("client:{}", self.client_id),
        }
    }
}

struct TokenRec {
    client_id: String,
    user_id: Option<String>,
    expires: Instant,
}

struct CodeRec {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    user_id: String,
    expires: Instant,
}

#[derive(Default)]
pub(crate) struct Inner {
    tokens: HashMap<String, TokenRec>,
    codes: HashMap<String, CodeRec>,
    calls: HashMap<String, Call>,
    rate: HashMap<String, (Instant, u32)>,
    log: VecDeque<Value>,
    seq: u64,
    faults: Vec<hooks::Fault>,
    /// Presences, callbacks and EWT settings (availability, queues, callbacks).
    routing: routing::RoutingState,
    notify: notify::Hub,
}

pub struct Sim {
    cfg: Config,
    started: Instant,
    inner: Mutex<Inner>,
}

type Shared = Arc<Sim>;

impl Sim {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock must not take the whole server down.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn issue_token(&self, client_id: &str, user_id: Option<&str>) -> String {
        let token = util::opaque();
        let mut inner = self.lock();
        if inner.tokens.len() > 100_000 {
            let now = Instant::now();
            inner.tokens.retain(|_, t| t.expires > now);
        }
        inner.tokens.insert(
            token.clone(),
            TokenRec {
                client_id: client_id.into(),
                user_id: user_id.map(str::to_string),
                expires: Instant::now() + self.cfg.token_ttl,
            },
        );
        token
    }
}

/// Builds the router for a configuration.
pub fn app(cfg: Config) -> Router {
    router(Sim::shared(cfg))
}

impl Sim {
    fn shared(cfg: Config) -> Shared {
        Arc::new(Sim {
            cfg,
            started: Instant::now(),
            inner: Mutex::new(Inner::default()),
        })
    }
}

fn router(sim: Shared) -> Router {
    Router::new()
        .merge(notify::routes())
        .route("/oauth/token", post(oauth::token))
        .route(
            "/oauth/authorize",
            get(oauth::authorize_page).post(oauth::authorize_submit),
        )
        .route(
            "/api/v2/conversations/calls",
            post(api::create_call_as_user),
        )
        .route(
            "/api/v2/conversations/calls/user/{user_id}",
            post(api::create_call_on_behalf),
        )
        .route(
            "/api/v2/conversations/calls/{id}",
            get(api::get_call).patch(api::patch_call),
        )
        .route("/api/v2/conversations/{id}", get(api::get_conversation))
        .route(
            "/api/v2/analytics/conversations/details/query",
            post(details::query),
        )
        .route("/api/v2/users/me", get(api::users_me))
        .merge(acd_routes())
        .route("/api/v2/tokens/me", get(api::tokens_me))
        .route("/__sim/requests", get(hooks::requests))
        .route(
            "/__sim/faults",
            post(hooks::add_faults)
                .get(hooks::list_faults)
                .delete(hooks::clear_faults),
        )
        .route(
            "/__sim/queues/{id}",
            get(routing::hook_get_queue).post(routing::hook_set_queue),
        )
        .route("/__sim/reset", post(hooks::reset))
        .route("/__sim/turnstile/siteverify", post(hooks::turnstile))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            frontdoor::frontdoor,
        ))
        .with_state(sim)
}

/// Availability, queues, wrap-up and callbacks (their own modules, one table).
fn acd_routes() -> Router<Shared> {
    const CALL: &str = "/api/v2/conversations/calls/{cid}/participants/{pid}";
    const CALLBACK: &str = "/api/v2/conversations/callbacks/{cid}/participants/{pid}";
    let mut r = Router::new()
        .route("/api/v2/users/{id}", get(users::get_user))
        .route(
            "/api/v2/users/{id}/presences/purecloud",
            get(users::get_presence).patch(users::patch_presence),
        )
        .route(
            "/api/v2/users/presences/purecloud/bulk",
            get(users::bulk_presences),
        )
        .route(
            "/api/v2/users/{id}/routingstatus",
            get(users::get_routing_status),
        )
        .route("/api/v2/users/{id}/station", get(users::get_station))
        .route("/api/v2/presence/definitions", get(users::list_definitions))
        .route(
            "/api/v2/presence/definitions/{id}",
            get(users::get_definition),
        )
        .route("/api/v2/routing/queues", get(routing::list_queues))
        .route("/api/v2/routing/queues/{id}", get(routing::get_queue))
        .route(
            "/api/v2/routing/queues/{id}/wrapupcodes",
            get(routing::queue_wrapup_codes),
        )
        .route(
            "/api/v2/routing/queues/{id}/estimatedwaittime",
            get(routing::queue_ewt),
        )
        .route(
            "/api/v2/routing/queues/{id}/mediatypes/{media}/estimatedwaittime",
            get(routing::media_type_ewt),
        )
        .route(
            "/api/v2/routing/wrapupcodes",
            get(routing::list_wrapup_codes),
        )
        .route(
            "/api/v2/routing/wrapupcodes/{id}",
            get(routing::get_wrapup_code),
        )
        .route(
            "/api/v2/analytics/queues/observations/query",
            post(routing::observations),
        )
        .route(
            &format!("{CALL}/user/{{uid}}"),
            patch(wrapup::patch_participant_on_behalf),
        )
        .route(
            "/api/v2/conversations/callbacks",
            get(callbacks::list_mine)
                .post(callbacks::create)
                .patch(callbacks::patch_many),
        )
        .route(
            "/api/v2/conversations/callbacks/{id}",
            get(callbacks::get).patch(callbacks::patch_one),
        )
        .route(
            "/api/v2/conversations/callbacks/bulk/disconnect",
            post(callbacks::bulk_disconnect),
        )
        .route(
            "/api/v2/conversations/callbacks/bulk/update",
            post(callbacks::bulk_update),
        );
    // Wrap-up reads and writes are the same for a call and a callback's call.
    for base in [CALL, CALLBACK] {
        r = r
            .route(base, patch(wrapup::patch_participant))
            .route(&format!("{base}/wrapup"), get(wrapup::get_wrapup))
            .route(
                &format!("{base}/wrapupcodes"),
                get(wrapup::get_wrapup_codes),
            )
            .route(
                &format!("{base}/communications/{{comm}}/wrapup"),
                get(wrapup::get_communication_wrapup).post(wrapup::post_communication_wrapup),
            );
    }
    r
}

/// Serves until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    cfg: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sim = Sim::shared(cfg);
    let result = axum::serve(listener, router(sim.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    // Upgraded WebSockets outlive the HTTP server: close them with 1001.
    notify::shutdown(&sim).await;
    result
}

/// A simulator running in the background of the current tokio runtime (tests).
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Starts a simulator on `cfg.listen` (use port 0 for a free port).
pub async fn start(cfg: Config) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, cfg, async move {
        let _ = rx.await;
    }));
    Ok(Running {
        addr,
        stop: Some(tx),
    })
}
