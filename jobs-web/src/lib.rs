//! The web dashboard of `jobs`: queues with live counts and a throughput chart, each
//! queue's jobs by state with paging, job details (arguments, attempts, error chain,
//! progress, result, events), dead jobs with retry and delete, batches, pause and resume,
//! cancellation, and the live workers.
//!
//! It is an axum [`Router`] with its state applied, so it mounts under any path of your
//! own application. Its pages and scripts are embedded in the crate (no CDN, no Node
//! build) and every link and request in them is relative, so the prefix is yours to pick:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use jobs_core::{Client, MemoryBackend};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let client = Client::new(MemoryBackend::new()); // or a RedisBackend
//! let app = Router::new()
//!     .route("/", get(|| async { "my application" }))
//!     // The dashboard at /jobs, asking for a token (a bearer header, or a cookie set by
//!     // its login form or by opening /jobs?token=... once).
//!     .nest("/jobs", jobs_web::Dashboard::new(client).token("s3cret").router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! Options ([`Dashboard`]):
//!
//! - [`Dashboard::read_only`]: every endpoint that changes something answers `403` and the
//!   pages hide their buttons.
//! - [`Dashboard::token`]: every request needs `Authorization: Bearer <token>` or the
//!   cookie the login form sets; otherwise `401` (the pages show the login form).
//!
//! Being a `Router`, it also takes the host application's own middleware, for example
//! its own authentication in place of (or on top of) the token:
//!
//! ```
//! use axum::{Router, extract::Request, http::StatusCode, middleware::{self, Next}, response::Response};
//! use jobs_core::{Client, MemoryBackend};
//!
//! /// Lets through only requests that the front proxy marked as coming from an operator.
//! async fn operators_only(request: Request, next: Next) -> Result<Response, StatusCode> {
//!     match request.headers().get("x-role") {
//!         Some(role) if role == "operator" => Ok(next.run(request).await),
//!         _ => Err(StatusCode::FORBIDDEN),
//!     }
//! }
//!
//! let client = Client::new(MemoryBackend::new());
//! let dashboard = jobs_web::router(client).layer(middleware::from_fn(operators_only));
//! let app: Router = Router::new().nest("/admin/jobs", dashboard);
//! # let _ = app;
//! ```
//!
//! # The JSON API
//!
//! The pages are built on a JSON API under `api/` that scripts can use as well. Ids are
//! strings, names are snake_case, times are ms since the Unix epoch, and a job's
//! arguments and result are JSON values (a string when they are not JSON). Changes are
//! `POST`s with a JSON body (`{}` when there is nothing to say), which a cross-site form
//! cannot send.
//!
//! | method and path | what |
//! |---|---|
//! | `GET api/config` | `{"read_only": bool}` |
//! | `GET api/queues` | every queue with its counts and whether it is paused |
//! | `GET api/queues/{queue}` | one queue's counts |
//! | `GET api/throughput?minutes=60` | jobs ended per minute, all queues summed |
//! | `GET api/queues/{queue}/throughput?minutes=60` | the same for one queue |
//! | `GET api/queues/{queue}/jobs?state=dead&limit=50&after=CURSOR` | a page of jobs in a state (`scheduled`, `ready`, `active`, `succeeded`, `dead`); `next` is the next page's cursor |
//! | `GET api/queues/{queue}/jobs/{id}` | a job's record with its recent events |
//! | `POST api/queues/{queue}/jobs/{id}/retry`, `.../delete`, `.../cancel` | one job |
//! | `POST api/queues/{queue}/retry` `{"ids": [...]}` or `{"all": true}` | retry dead jobs |
//! | `POST api/queues/{queue}/delete` `{"ids": [...]}` | delete jobs (not running ones) |
//! | `POST api/queues/{queue}/purge` `{"state": "dead"}` | delete every job in a state |
//! | `POST api/queues/{queue}/pause`, `.../resume` | pause or resume a queue |
//! | `GET api/batches/{id}?offset=0&limit=100` | a batch's counts and a page of its members |
//! | `POST api/batches/{id}/pause`, `.../resume`, `.../cancel` | a whole batch |
//! | `GET api/workers` | the live worker processes |

mod api;
mod assets;
mod auth;
mod view;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use jobs_core::{Backend, Client};

/// The dashboard with its options; [`Dashboard::router`] makes the [`Router`] to mount.
///
/// ```
/// use jobs_core::{Client, MemoryBackend};
///
/// let client = Client::new(MemoryBackend::new());
/// let router: axum::Router = jobs_web::Dashboard::new(client)
///     .read_only(true)
///     .token("s3cret")
///     .router();
/// # let _ = router;
/// ```
pub struct Dashboard<B> {
    client: Client<B>,
    read_only: bool,
    token: Option<String>,
}

impl<B> std::fmt::Debug for Dashboard<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("read_only", &self.read_only)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Dashboard<B> {
    /// A dashboard over `client`'s store: read-write, without a token.
    pub fn new(client: Client<B>) -> Self {
        Dashboard {
            client,
            read_only: false,
            token: None,
        }
    }

    /// When true, nothing can be changed: every changing endpoint answers `403 Forbidden`
    /// and the pages hide their buttons.
    ///
    /// ```
    /// # let client = jobs_core::Client::new(jobs_core::MemoryBackend::new());
    /// let router = jobs_web::Dashboard::new(client).read_only(true).router();
    /// # let _: axum::Router = router;
    /// ```
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Requires this token on every request: `Authorization: Bearer <token>`, or the
    /// cookie set when a page is opened once with `?token=<token>` (which the login form
    /// does). Anything else answers `401 Unauthorized`.
    ///
    /// ```
    /// # let client = jobs_core::Client::new(jobs_core::MemoryBackend::new());
    /// let token = std::env::var("JOBS_WEB_TOKEN").unwrap_or_else(|_| "s3cret".into());
    /// let router = jobs_web::Dashboard::new(client).token(token).router();
    /// # let _: axum::Router = router;
    /// ```
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The router, its state applied: mount it with [`Router::nest`] or serve it alone.
    pub fn router(self) -> Router {
        let state = Arc::new(api::App {
            client: self.client,
            read_only: self.read_only,
        });
        let guard = Arc::new(auth::Guard {
            read_only: self.read_only,
            token: self.token,
        });
        api::routes(state).layer(axum::middleware::from_fn_with_state(guard, auth::guard))
    }

    /// Serves the dashboard alone on `listener` until `shutdown` completes (what
    /// `jobs web --listen ADDR` runs).
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
    /// let client = jobs_core::Client::new(jobs_core::MemoryBackend::new());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    /// jobs_web::Dashboard::new(client)
    ///     .serve(listener, jobs_core::shutdown_signal())
    ///     .await
    /// # }
    /// ```
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// The dashboard over `client`'s store with the default options (read-write, no token):
/// `Dashboard::new(client).router()`.
///
/// ```
/// use jobs_core::{Client, MemoryBackend};
///
/// let app: axum::Router = axum::Router::new()
///     .nest("/jobs", jobs_web::router(Client::new(MemoryBackend::new())));
/// # let _ = app;
/// ```
pub fn router<B: Backend>(client: Client<B>) -> Router {
    Dashboard::new(client).router()
}
