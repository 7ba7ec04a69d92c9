//! The accept loop, the registry refresher and the reachability prober.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use super::connection::run_connection;
use super::fence::spawn_fence;
use super::{Gateway, ServeReport};
use crate::session::SessionId;

/// Accepts clients until `shutdown` turns true, then asks every session to close politely
/// and waits for them, at most `shutdown_timeout_ms`.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<ServeReport> {
    let mut report = ServeReport {
        accepted: 0,
        refused: 0,
        abandoned: 0,
    };
    gateway.refresh_registry().await;
    spawn_refresher(&gateway);
    // The first heartbeat before the first client: no login waits for the lease.
    gateway.renew_fence().await;
    spawn_fence(&gateway);
    // Said only now: the view is filled and the lease held, so `/readyz` agrees.
    match listener.local_addr() {
        Ok(local) => tracing::info!(%local, "waygate serving"),
        Err(e) => tracing::info!(error = %e, "waygate serving (local address unknown)"),
    }
    // Each session task holds a clone; when all are gone, `done_rx` yields None.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    loop {
        if *shutdown.borrow() {
            break;
        }
        tokio::select! {
            biased;
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break; // the sender is gone: treat as shutdown
                }
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: log and keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                if gateway.open_sessions() >= gateway.cfg.max_connections {
                    report.refused += 1;
                    gateway.metrics.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%peer, cap = gateway.cfg.max_connections, "connection cap reached, refusing");
                    drop(stream);
                    continue;
                }
                report.accepted += 1;
                let _ = stream.set_nodelay(true);
                let gw = gateway.clone();
                let done = done_tx.clone();
                let shutdown = shutdown.clone();
                gateway.open_sessions.fetch_add(1, Ordering::Relaxed);
                let id = SessionId(gateway.next_session.fetch_add(1, Ordering::Relaxed));
                let span = tracing::info_span!("session", id = id.0, %peer);
                tokio::spawn(async move {
                    let release = run_connection(&gw, id, stream, peer.ip(), shutdown).instrument(span.clone()).await;
                    if let Some(release) = release {
                        gw.fence.release(&gw, &release).instrument(span).await;
                    }
                    gw.open_sessions.fetch_sub(1, Ordering::Relaxed);
                    drop(done);
                });
            }
        }
    }
    drop(listener);
    drop(done_tx);
    let deadline = Duration::from_millis(gateway.cfg.shutdown_timeout_ms);
    if tokio::time::timeout(deadline, done_rx.recv())
        .await
        .is_err()
    {
        report.abandoned = gateway.open_sessions();
        tracing::warn!(
            open = report.abandoned,
            "shutdown deadline passed with sessions still open"
        );
    }
    Ok(report)
}

/// Refreshes the registry every `registry_refresh_ms` and probes, whenever the coordinator
/// wants it, the worldservers that may hold characters behind lost links. Ends with the
/// gateway.
fn spawn_refresher(gateway: &Arc<Gateway>) {
    let refresher = Arc::downgrade(gateway);
    let refresh_every = Duration::from_millis(gateway.cfg.cluster.registry_refresh_ms);
    let probe_wanted = gateway.probe_wanted.clone();
    let clock = gateway.seams.clock;
    tokio::spawn(async move {
        let mut next_refresh = clock.instant_at(clock.now() + refresh_every);
        loop {
            let refresh = tokio::select! {
                biased;
                () = tokio::time::sleep_until(next_refresh) => true,
                () = probe_wanted.notified() => false,
            };
            let Some(gw) = refresher.upgrade() else {
                return;
            };
            if refresh {
                // From now, not from the last deadline: a slow registry never causes a burst.
                next_refresh = clock.instant_at(clock.now() + refresh_every);
                gw.refresh_registry().await;
            }
            probe_holders(&gw);
        }
    });
}

/// Opens and drops a connection to every worldserver the coordinator wants probed, so the
/// linger clock of the holds on it can start. Each probe is bounded by `probe_timeout_ms`.
fn probe_holders(gw: &Arc<Gateway>) {
    let probes = gw.coordinate(|c, _| c.probes());
    let timeout = Duration::from_millis(gw.cfg.cluster.probe_timeout_ms);
    for server in probes {
        let gw = gw.clone();
        tokio::spawn(async move {
            let connect = gw
                .seams
                .net
                .connect(&server.address, crate::runtime::ConnectFor::Probe);
            match tokio::time::timeout(timeout, connect).await {
                Ok(Ok(stream)) => {
                    drop(stream);
                    gw.connect_result(&server.id, Ok(()));
                }
                Ok(Err(e)) => gw.connect_result(&server.id, Err(&e)),
                Err(_) => {}
            }
        });
    }
}
