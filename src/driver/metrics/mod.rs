//! Gateway counters and latency histograms, shared by every session task, and their
//! Prometheus exposition.
//!
//! - Counters are plain atomics the driver bumps; they are read at scrape time.
//! - Each latency is a prometheus-client [`Histogram`] (all time, in seconds, buckets from
//!   1 ms to 120 s) plus a small window of the most recent samples
//!   ([`LATENCY_RECENT_SAMPLES_MAX`]) from which [`MetricsSnapshot`]'s p50/p99 are exact:
//!   bucket counts could only bound a quantile by its bucket's edges (a p99 "between 1 s
//!   and 2.5 s"), which is too coarse for the demo's summary; Prometheus users get the
//!   buckets and `histogram_quantile`.
//! - [`render`] writes everything in the Prometheus text format (0.0.4, what ToCloud9's
//!   servers-registry parses) or OpenMetrics, with ToCloud9's `active_connections` gauge
//!   first and Waygate's `waygate_*` families after it.

mod exposition;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::histogram::Histogram;

use crate::session::{Counters, Culprit, SessionEvent};

pub use self::exposition::{ExpositionFormat, render};

/// Recent samples kept per latency for [`MetricsSnapshot`]'s quantiles; older ones are
/// replaced round-robin, so memory stays bounded on a long-running gateway.
pub const LATENCY_RECENT_SAMPLES_MAX: usize = 1_024;

/// Upper bounds of the latency histograms' buckets, seconds (a login is tens of
/// milliseconds to `world_login_timeout_ms`; a recovery may take up to its 120 s deadline).
pub const LATENCY_BUCKETS_SECONDS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// One latency: a Prometheus histogram (all time) and the recent samples (milliseconds).
#[derive(Debug)]
pub struct Latency {
    histogram: Histogram,
    recent: Mutex<Recent>,
}

#[derive(Debug, Default)]
struct Recent {
    samples_ms: Vec<u64>,
    next: usize,
    /// Samples recorded, all time.
    total: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            histogram: Histogram::new(LATENCY_BUCKETS_SECONDS),
            recent: Mutex::new(Recent::default()),
        }
    }
}

impl Latency {
    /// Records one sample.
    pub fn record_ms(&self, ms: u64) {
        self.histogram.observe(ms as f64 / 1_000.0);
        let mut recent = self.lock();
        if recent.samples_ms.len() < LATENCY_RECENT_SAMPLES_MAX {
            recent.samples_ms.push(ms);
        } else {
            let at = recent.next;
            recent.samples_ms[at] = ms;
        }
        recent.next = (recent.next + 1) % LATENCY_RECENT_SAMPLES_MAX;
        recent.total += 1;
    }

    /// Samples recorded, all time.
    pub fn count(&self) -> u64 {
        self.lock().total
    }

    /// The `p`-th percentile (0..=100) of the recent samples, if any (nearest rank, rounded
    /// up).
    pub fn percentile(&self, p: u32) -> Option<u64> {
        let mut sorted = self.lock().samples_ms.clone();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_unstable();
        let rank = (u64::from(p.min(100)) * (sorted.len() as u64 - 1)).div_ceil(100);
        sorted.get(rank as usize).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An external service an adapter talks to: the `service` label of
/// `waygate_adapter_errors_total`. A closed set, so the family's size is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdapterService {
    /// ToCloud9's servers-registry (gRPC).
    ServersRegistry,
    /// charserver (gRPC).
    Characters,
    /// chatserver (gRPC).
    Chat,
    /// guildserver (gRPC).
    Guilds,
    /// mailserver (gRPC).
    Mail,
    /// groupserver (gRPC).
    Group,
    /// matchmakingserver (gRPC).
    Matchmaking,
    /// auctionhouse (gRPC).
    AuctionHouse,
    /// A worldserver's sidecar (`v1.WorldServerService`, gRPC).
    Worldserver,
    /// The auth DB (MySQL/MariaDB).
    AuthDb,
    /// NATS.
    Nats,
}

impl AdapterService {
    /// Every service, in label order.
    pub const ALL: [Self; 11] = [
        Self::ServersRegistry,
        Self::Characters,
        Self::Chat,
        Self::Guilds,
        Self::Mail,
        Self::Group,
        Self::Matchmaking,
        Self::AuctionHouse,
        Self::Worldserver,
        Self::AuthDb,
        Self::Nats,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::ServersRegistry => "servers_registry",
            Self::Characters => "characters",
            Self::Chat => "chat",
            Self::Guilds => "guilds",
            Self::Mail => "mail",
            Self::Group => "group",
            Self::Matchmaking => "matchmaking",
            Self::AuctionHouse => "auction_house",
            Self::Worldserver => "worldserver",
            Self::AuthDb => "auth_db",
            Self::Nats => "nats",
        }
    }

    fn index(self) -> usize {
        Self::ALL
            .iter()
            .position(|s| *s == self)
            .unwrap_or_default()
    }
}

/// Errors the adapters met, by service: a cheap clonable handle an adapter keeps and bumps
/// (created before the gateway, handed to the ops server for `/metrics`).
#[derive(Debug, Clone, Default)]
pub struct AdapterErrors(Arc<[AtomicU64; AdapterService::ALL.len()]>);

impl AdapterErrors {
    /// Counts one error talking to `service`.
    pub fn count(&self, service: AdapterService) {
        self.0[service.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Errors counted for `service`.
    pub fn get(&self, service: AdapterService) -> u64 {
        self.0[service.index()].load(Ordering::Relaxed)
    }
}

/// Everything the gateway counts.
#[derive(Debug)]
pub struct Metrics {
    /// Sessions started.
    pub sessions: AtomicU64,
    /// Connections refused at the cap.
    pub refused: AtomicU64,
    /// Characters that entered the world.
    pub logins: AtomicU64,
    /// Logins answered with SMSG_CHARACTER_LOGIN_FAILED.
    pub login_failures: AtomicU64,
    /// Completed worldserver handoffs.
    pub handoffs: AtomicU64,
    /// Handoffs abandoned (the old worldserver kept the player).
    pub handoffs_abandoned: AtomicU64,
    /// Worldserver connections lost in world.
    pub world_losses: AtomicU64,
    /// Players back in world after a loss.
    pub recoveries: AtomicU64,
    /// Sessions closed, by culprit: client, worldserver, service, gateway.
    pub closed: [AtomicU64; 4],
    /// Auth sessions refused, by the SMSG_AUTH_RESPONSE code sent (indexed by the code).
    pub auth_refusals: [AtomicU64; 256],
    /// Packets decoded from clients.
    pub client_packets_in: AtomicU64,
    /// Packets sent to clients.
    pub client_packets_out: AtomicU64,
    /// Packets decoded from worldservers.
    pub world_packets_in: AtomicU64,
    /// Packets sent to worldservers.
    pub world_packets_out: AtomicU64,
    /// Bytes read from clients.
    pub client_bytes_in: AtomicU64,
    /// Login time, PLAYER_LOGIN to in world.
    pub login: Latency,
    /// Handoff time, worldport ack to in world on the new worldserver.
    pub handoff: Latency,
    /// Moves off a worldserver without a map change of the player's own, by reason:
    /// worldserver (unsolicited READY), draining, layer switch.
    pub redirects_requested: [AtomicU64; 3],
    /// New placements, by the chosen worldserver's health at the time: Admitting, Degraded,
    /// Draining, Down (anything but the first is a bug the simulator looks for).
    pub placements: [AtomicU64; 4],
    /// Redirects whose old worldserver never released the player in time (the gateway
    /// closed the link and waited out the linger).
    pub releases_forced: AtomicU64,
    /// Placement answers "nobody can take the player now, ask again".
    pub placement_waits: AtomicU64,
    /// Placement answers "nobody serves the map".
    pub placement_refusals: AtomicU64,
    /// Worldserver health transitions seen.
    pub health_changes: AtomicU64,
    /// Backoff waits (recovery attempts and placement retries).
    pub backoff_wait: Latency,
    /// Recovery time, connection lost to back in world.
    pub recovery: Latency,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            sessions: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            login_failures: AtomicU64::new(0),
            handoffs: AtomicU64::new(0),
            handoffs_abandoned: AtomicU64::new(0),
            world_losses: AtomicU64::new(0),
            recoveries: AtomicU64::new(0),
            closed: Default::default(),
            auth_refusals: std::array::from_fn(|_| AtomicU64::new(0)),
            client_packets_in: AtomicU64::new(0),
            client_packets_out: AtomicU64::new(0),
            world_packets_in: AtomicU64::new(0),
            world_packets_out: AtomicU64::new(0),
            client_bytes_in: AtomicU64::new(0),
            login: Latency::default(),
            handoff: Latency::default(),
            redirects_requested: Default::default(),
            placements: Default::default(),
            releases_forced: AtomicU64::new(0),
            placement_waits: AtomicU64::new(0),
            placement_refusals: AtomicU64::new(0),
            health_changes: AtomicU64::new(0),
            backoff_wait: Latency::default(),
            recovery: Latency::default(),
        }
    }
}

/// Index of a redirect reason in [`Metrics::redirects_requested`].
fn redirect_slot(reason: &str) -> usize {
    match reason {
        "worldserver" => 0,
        "draining" => 1,
        _ => 2,
    }
}

/// Label values of [`Metrics::redirects_requested`], [`Metrics::placements`] and
/// [`Metrics::closed`], in slot order.
const REDIRECT_REASONS: [&str; 3] = ["worldserver", "draining", "layer_switch"];
const PLACEMENT_HEALTHS: [&str; 4] = ["admitting", "degraded", "draining", "down"];
const CLOSE_CULPRITS: [&str; 4] = ["client", "worldserver", "service", "gateway"];

/// A point-in-time copy of [`Metrics`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    /// Sessions started.
    pub sessions: u64,
    /// Connections refused at the cap.
    pub refused: u64,
    /// Characters that entered the world.
    pub logins: u64,
    /// Login failures.
    pub login_failures: u64,
    /// Completed handoffs.
    pub handoffs: u64,
    /// Abandoned handoffs.
    pub handoffs_abandoned: u64,
    /// Worldserver connections lost in world.
    pub world_losses: u64,
    /// Recoveries completed.
    pub recoveries: u64,
    /// Sessions closed by the client, a worldserver, a service, the gateway.
    pub closed: [u64; 4],
    /// Packets from clients.
    pub client_packets_in: u64,
    /// Packets to clients.
    pub client_packets_out: u64,
    /// Packets from worldservers.
    pub world_packets_in: u64,
    /// Packets to worldservers.
    pub world_packets_out: u64,
    /// Login p50 (ms), over the recent samples.
    pub login_p50_ms: Option<u64>,
    /// Login p99 (ms), over the recent samples.
    pub login_p99_ms: Option<u64>,
    /// Handoff p50 (ms), over the recent samples.
    pub handoff_p50_ms: Option<u64>,
    /// Handoff p99 (ms), over the recent samples.
    pub handoff_p99_ms: Option<u64>,
    /// Redirects requested by the worldserver, by draining, by a layer switch.
    pub redirects_requested: [u64; 3],
    /// Placements on an Admitting, Degraded, Draining, Down worldserver.
    pub placements: [u64; 4],
    /// Forced releases.
    pub releases_forced: u64,
    /// Placement waits.
    pub placement_waits: u64,
    /// Placement refusals.
    pub placement_refusals: u64,
    /// Health transitions.
    pub health_changes: u64,
    /// Backoff waits recorded, all time.
    pub backoff_waits: u64,
    /// Backoff wait p50 (ms), over the recent samples.
    pub backoff_p50_ms: Option<u64>,
    /// Backoff wait p99 (ms), over the recent samples.
    pub backoff_p99_ms: Option<u64>,
    /// Recovery p50 (ms), over the recent samples.
    pub recovery_p50_ms: Option<u64>,
    /// Recovery p99 (ms), over the recent samples.
    pub recovery_p99_ms: Option<u64>,
}

fn get(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

impl Metrics {
    /// Counts one session event.
    pub fn record(&self, e: &SessionEvent) {
        super::log_event(e);
        match e {
            SessionEvent::EnteredWorld { took_ms, .. } => {
                self.logins.fetch_add(1, Ordering::Relaxed);
                self.login.record_ms(*took_ms);
            }
            SessionEvent::LoginFailed { .. } => {
                self.login_failures.fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::HandoffCompleted { took_ms, .. } => {
                self.handoffs.fetch_add(1, Ordering::Relaxed);
                self.handoff.record_ms(*took_ms);
            }
            SessionEvent::HandoffAbandoned { .. } => {
                self.handoffs_abandoned.fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::RecoveryStarted { .. } => {
                self.world_losses.fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::Recovered { took_ms, .. } => {
                self.recoveries.fetch_add(1, Ordering::Relaxed);
                self.recovery.record_ms(*took_ms);
            }
            SessionEvent::ReleaseForced { .. } => {
                self.releases_forced.fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::RedirectRequested { reason, .. } => {
                self.redirects_requested[redirect_slot(reason)].fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::RecoveryAttemptFailed { retry_in_ms, .. }
            | SessionEvent::PlacementWaiting { retry_in_ms, .. } => {
                self.backoff_wait.record_ms(*retry_in_ms);
            }
            SessionEvent::Closed { reason } => {
                if let crate::session::CloseReason::AuthRejected(code, _) = reason {
                    self.auth_refusals[usize::from(code.0)].fetch_add(1, Ordering::Relaxed);
                }
                let at = match reason.culprit() {
                    Culprit::Client => 0,
                    Culprit::Worldserver => 1,
                    Culprit::Service => 2,
                    Culprit::Gateway => 3,
                };
                self.closed[at].fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Adds a session's packet counters.
    pub fn absorb(&self, c: Counters) {
        self.client_packets_in
            .fetch_add(c.client_packets_in, Ordering::Relaxed);
        self.client_packets_out
            .fetch_add(c.client_packets_out, Ordering::Relaxed);
        self.world_packets_in
            .fetch_add(c.world_packets_in, Ordering::Relaxed);
        self.world_packets_out
            .fetch_add(c.world_packets_out, Ordering::Relaxed);
    }

    /// Copies everything out.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let all = |a: &[AtomicU64]| -> Vec<u64> { a.iter().map(get).collect() };
        let placements = all(&self.placements);
        let redirects = all(&self.redirects_requested);
        let closed = all(&self.closed);
        MetricsSnapshot {
            sessions: get(&self.sessions),
            refused: get(&self.refused),
            logins: get(&self.logins),
            login_failures: get(&self.login_failures),
            handoffs: get(&self.handoffs),
            handoffs_abandoned: get(&self.handoffs_abandoned),
            world_losses: get(&self.world_losses),
            recoveries: get(&self.recoveries),
            closed: [closed[0], closed[1], closed[2], closed[3]],
            client_packets_in: get(&self.client_packets_in),
            client_packets_out: get(&self.client_packets_out),
            world_packets_in: get(&self.world_packets_in),
            world_packets_out: get(&self.world_packets_out),
            login_p50_ms: self.login.percentile(50),
            login_p99_ms: self.login.percentile(99),
            handoff_p50_ms: self.handoff.percentile(50),
            handoff_p99_ms: self.handoff.percentile(99),
            redirects_requested: [redirects[0], redirects[1], redirects[2]],
            placements: [placements[0], placements[1], placements[2], placements[3]],
            releases_forced: get(&self.releases_forced),
            placement_waits: get(&self.placement_waits),
            placement_refusals: get(&self.placement_refusals),
            health_changes: get(&self.health_changes),
            backoff_waits: self.backoff_wait.count(),
            backoff_p50_ms: self.backoff_wait.percentile(50),
            backoff_p99_ms: self.backoff_wait.percentile(99),
            recovery_p50_ms: self.recovery.percentile(50),
            recovery_p99_ms: self.recovery.percentile(99),
        }
    }
}
