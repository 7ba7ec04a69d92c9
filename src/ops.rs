//! Operations: health, readiness and Prometheus metrics over HTTP, and the admin listener.
//!
//! Two listeners, each with the same bounds (`http.rs`): at most [`OPS_CONNECTIONS_MAX`]
//! connections (more are closed at accept), request headers read within
//! [`OPS_HEADER_READ_TIMEOUT_MS`], at most [`OPS_REQUEST_HEADERS_MAX`] headers in
//! [`OPS_CONNECTION_BUFFER_MAX_BYTES`], bodies of at most [`OPS_REQUEST_BODY_MAX_BYTES`], and
//! no connection older than [`OPS_CONNECTION_MAX_MS`].
//!
//! - [`serve`]: ToCloud9's health port. `GET /healthcheck` answers 200 `{"status":"OK"}`
//!   (servers-registry polls it every 4 s and drops the gateway on anything else), and 503
//!   while the gateway drains for shutdown, so the registry stops sending players to it.
//!   `/livez` (the process serves), `/readyz` (registered with the registry, the auth DB has
//!   answered, the fencing lease is held, not draining) and `/metrics` (Prometheus text, `active_connections` first).
//! - [`serve_admin`] (`admin.rs`): drain and undrain a worldserver, switch a character's
//!   layer, list the worldservers. No authentication, so it refuses to listen anywhere but
//!   loopback.
//!
//! [`Health`] is the shared handle the gateway and the adapters write and the endpoints read.

mod admin;
mod http;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use admin::WORLDSERVER_ID_MAX_BYTES;
pub use http::{
    OPS_CONNECTION_BUFFER_MAX_BYTES, OPS_CONNECTION_MAX_MS, OPS_CONNECTIONS_MAX,
    OPS_HEADER_READ_TIMEOUT_MS, OPS_REQUEST_BODY_MAX_BYTES, OPS_REQUEST_HEADERS_MAX,
};

use crate::driver::{AdapterErrors, ExpositionFormat, Gateway, render_metrics};

/// The gateway's health as the endpoints report it. Clones share the state.
///
/// - draining: set when shutdown begins; `/healthcheck` and `/readyz` answer 503.
/// - registered: the gateway is registered with servers-registry (`mark_registered`, by
///   whoever calls `RegisterGateway`).
/// - accounts ready: the auth DB has answered a query (`mark_accounts_ready`).
///
/// In the embedded mode both are true from the start ([`Health::embedded`]).
#[derive(Debug, Clone)]
pub struct Health(Arc<HealthState>);

#[derive(Debug)]
struct HealthState {
    draining: AtomicBool,
    registered: AtomicBool,
    accounts_ready: AtomicBool,
}

/// What `/readyz` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// Registered with servers-registry.
    pub registered: bool,
    /// The auth DB has answered.
    pub accounts_ready: bool,
    /// Draining for shutdown.
    pub draining: bool,
}

impl Readiness {
    /// Ready to take players.
    pub fn ready(self) -> bool {
        self.registered && self.accounts_ready && !self.draining
    }
}

impl Health {
    fn new(ready: bool) -> Self {
        Self(Arc::new(HealthState {
            draining: AtomicBool::new(false),
            registered: AtomicBool::new(ready),
            accounts_ready: AtomicBool::new(ready),
        }))
    }

    /// The embedded mode: nothing to register with, accounts in the file. Ready at once.
    pub fn embedded() -> Self {
        Self::new(true)
    }

    /// The ToCloud9 mode: not ready until registered and the auth DB has answered.
    pub fn cluster() -> Self {
        Self::new(false)
    }

    /// The gateway is registered with servers-registry.
    pub fn mark_registered(&self) {
        self.0.registered.store(true, Ordering::Relaxed);
    }

    /// The registration is lost (the registry forgot the gateway): not ready until
    /// registered again.
    pub fn mark_unregistered(&self) {
        self.0.registered.store(false, Ordering::Relaxed);
    }

    /// The auth DB answered.
    pub fn mark_accounts_ready(&self) {
        self.0.accounts_ready.store(true, Ordering::Relaxed);
    }

    /// The auth DB stopped answering.
    pub fn mark_accounts_unready(&self) {
        self.0.accounts_ready.store(false, Ordering::Relaxed);
    }

    /// Starts (or ends) draining: `/healthcheck` and `/readyz` answer 503 meanwhile.
    pub fn set_draining(&self, draining: bool) {
        self.0.draining.store(draining, Ordering::Relaxed);
    }

    /// Whether the gateway drains.
    pub fn is_draining(&self) -> bool {
        self.0.draining.load(Ordering::Relaxed)
    }

    /// The three flags.
    pub fn readiness(&self) -> Readiness {
        Readiness {
            registered: self.0.registered.load(Ordering::Relaxed),
            accounts_ready: self.0.accounts_ready.load(Ordering::Relaxed),
            draining: self.is_draining(),
        }
    }
}

/// What the health port serves from.
#[derive(Clone)]
pub struct Ops {
    /// The gateway (open connections, counters).
    pub gateway: Arc<Gateway>,
    /// Health and readiness.
    pub health: Health,
    /// The adapters' error counters.
    pub adapter_errors: AdapterErrors,
}

/// Serves `/healthcheck`, `/livez`, `/readyz` and `/metrics` on `listener` until `shutdown`
/// turns true (or its sender is dropped).
pub async fn serve(
    listener: TcpListener,
    ops: Ops,
    shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let ops = Arc::new(ops);
    http::serve_bounded("ops", listener, shutdown, move |req| {
        let ops = ops.clone();
        async move { route_ops(&ops, req) }
    })
    .await
}

/// Serves the admin endpoints on `listener` (which must be on loopback) until `shutdown`
/// turns true. See `admin.rs` for the routes.
pub async fn serve_admin(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let local = listener.local_addr()?;
    if !local.ip().is_loopback() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the admin listener has no authentication; {local} is not loopback"),
        ));
    }
    http::serve_bounded("admin", listener, shutdown, move |req| {
        let gateway = gateway.clone();
        async move { admin::route(&gateway, req).await }
    })
    .await
}

/// The health port's routes.
fn route_ops(ops: &Ops, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if let Some(refused) = http::refuse_body(&req) {
        return refused;
    }
    let head = req.method() == Method::HEAD;
    let get = req.method() == Method::GET || head;
    let response = match req.uri().path() {
        // Like ToCloud9's, any method: servers-registry only ever GETs it.
        "/healthcheck" => {
            if ops.health.is_draining() {
                http::json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"status":"DRAINING"}"#.into(),
                )
            } else {
                http::json(StatusCode::OK, r#"{"status":"OK"}"#.into())
            }
        }
        "/livez" | "/readyz" | "/metrics" if !get => http::method_not_allowed("GET, HEAD"),
        "/livez" => http::json(StatusCode::OK, r#"{"status":"OK"}"#.into()),
        "/readyz" => {
            let r = ops.health.readiness();
            // A gateway whose fencing lease lapsed admits nobody: not ready either.
            let fencing = ops.gateway.fence_ready();
            let ready = r.ready() && fencing;
            let status = if ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            http::json(
                status,
                format!(
                    r#"{{"ready":{},"registered":{},"accounts":{},"fencing":{},"draining":{}}}"#,
                    ready, r.registered, r.accounts_ready, fencing, r.draining
                ),
            )
        }
        "/metrics" => {
            let format = if http::accepts_openmetrics(&req) {
                ExpositionFormat::OpenMetrics
            } else {
                ExpositionFormat::Prometheus
            };
            let page = render_metrics(
                ops.gateway.metrics(),
                &ops.adapter_errors,
                ops.gateway.open_sessions() as u64,
                format,
            );
            http::text(StatusCode::OK, format.content_type(), page)
        }
        _ => http::error(StatusCode::NOT_FOUND, "no such endpoint"),
    };
    if head {
        http::without_body(response)
    } else {
        response
    }
}
