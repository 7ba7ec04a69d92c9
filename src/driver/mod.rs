//! Async glue: the accept loop and one task per client connection that feeds the sans-IO
//! [`Session`] and carries its outputs out. Written against tokio names only, so it runs on
//! tokio in production and inside madsim unchanged.
//!
//! - this file: [`Gateway`], what every connection task shares: the seams, the settings, the
//!   seeded entropy, the metrics, and the sans-IO cluster [`Coordinator`] behind one lock.
//!   Every cluster decision (placement, health, holds, drains, layer switches) is the
//!   coordinator's; the gateway only carries out what it asks (log, count, wake, probe).
//! - [`serve`] (`serve.rs`): the accept loop with a connection cap, the registry refresher
//!   and the reachability prober.
//! - `connection.rs`: one task per client. It owns the client socket, the session's
//!   worldserver sockets (at most two: the one it leaves and the one it joins) and a bounded
//!   channel on which seam calls and connection attempts, each spawned as its own task,
//!   answer. Reading pauses while a write is in progress, so a slow client slows only its
//!   own worldserver reads.

mod connection;
mod fence;
mod lent;
mod metrics;
mod players;
mod serve;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

pub use fence::{FenceConfig, PARKED_ACCOUNTS_MAX};
pub use metrics::{
    AdapterErrors, AdapterService, ExpositionFormat, LATENCY_BUCKETS_SECONDS,
    LATENCY_RECENT_SAMPLES_MAX, Latency, Metrics, MetricsSnapshot, render as render_metrics,
};
pub use players::{Delivery, FromEvent, PLAYER_EVENT_QUEUE_MAX, Players};
pub use serve::serve;

use crate::cluster::WorldserverId;
pub use crate::cluster::coordinator::LayerSwitchRefused;
use crate::cluster::coordinator::{ConnectOutcome, Coordinator, CoordinatorConfig, PlacementClass};
use crate::cluster::holds::HoldPolicy;
use crate::cluster::view::{ClusterView, Health, HealthPolicy};
use crate::runtime::{Entropy, Seams};
use crate::session::{CharacterGuid, Session, SessionConfig, SessionEvent, SessionId};

/// Gateway-wide settings the driver needs.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Per-session limits.
    pub session: SessionConfig,
    /// Client connections at once.
    pub max_connections: usize,
    /// A client or worldserver write that takes longer closes that connection.
    pub write_timeout_ms: u64,
    /// How long `serve` waits for sessions to close after shutdown begins.
    pub shutdown_timeout_ms: u64,
    /// The cluster view: health hysteresis, registry refresh and staleness.
    pub cluster: ClusterConfig,
}

/// How the gateway keeps its view of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Health hysteresis and registry staleness.
    pub health: HealthPolicy,
    /// How often the registry is asked for the worldservers.
    pub registry_refresh_ms: u64,
    /// A worldserver taking longer than this from PLAYER_LOGIN to in world (a login or a
    /// move) is a slow probe of it.
    pub slow_login_ms: u64,
    /// A layer switch not begun within this long is forgotten.
    pub layer_switch_request_ttl_ms: u64,
    /// A character a worldserver may still hold is free this long after the worldserver's
    /// linger (counted from when it was reachable again), for delivery skew.
    pub hold_margin_ms: u64,
    /// How long a reachability probe of a worldserver may take.
    pub probe_timeout_ms: u64,
    /// Account fencing across gateways.
    pub fence: FenceConfig,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            health: HealthPolicy::default(),
            registry_refresh_ms: 5_000,
            slow_login_ms: 2_000,
            layer_switch_request_ttl_ms: 30_000,
            hold_margin_ms: 5_000,
            probe_timeout_ms: 5_000,
            fence: FenceConfig::default(),
        }
    }
}

/// Sees every session event as it happens (the simulator's transcript, tests).
pub type EventObserver = Arc<dyn Fn(SessionId, &SessionEvent) + Send + Sync>;

/// A gateway: its seams, settings, RNG, metrics and cluster coordinator. Shared by all
/// connection tasks.
pub struct Gateway {
    seams: Seams,
    observer: Option<EventObserver>,
    cfg: DriverConfig,
    /// `cfg.session`, shared by every session rather than copied into each.
    session_cfg: Arc<SessionConfig>,
    entropy: std::sync::Mutex<Entropy>,
    metrics: Arc<Metrics>,
    next_session: AtomicU64,
    open_sessions: AtomicUsize,
    /// Every cluster decision, behind one lock.
    coordinator: std::sync::Mutex<Coordinator>,
    /// Wakes every session when the coordinator says a drain or layer switch changed. A
    /// `Notify` wakes waiters in the order they registered; tokio's `watch` picks a waiter
    /// shard with a thread-local RNG, which made the simulator's wake order differ between two
    /// runs of one seed in one thread.
    moves_changed: tokio::sync::Notify,
    /// Bumped with every `moves_changed` wake: a connection asks the coordinator for a move
    /// order only when this (or its own player's state) changed since it last asked.
    moves_epoch: std::sync::atomic::AtomicU64,
    /// Wakes the prober when a hold starts that waits for its worldserver to be reachable.
    probe_wanted: Arc<tokio::sync::Notify>,
    /// The characters in world through this gateway and their cluster-event queues.
    players: Players<Box<connection::Answer>>,
    /// Account fencing across the realm's gateways.
    fence: fence::Fence,
    /// This gateway, for tasks it spawns.
    me: std::sync::Weak<Gateway>,
}

/// The cluster view, read under the coordinator's lock.
pub struct ViewGuard<'a>(std::sync::MutexGuard<'a, Coordinator>);

impl std::ops::Deref for ViewGuard<'_> {
    type Target = ClusterView;
    fn deref(&self) -> &ClusterView {
        self.0.view()
    }
}

/// What `serve` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeReport {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused at the cap.
    pub refused: u64,
    /// Sessions still open when the shutdown deadline passed.
    pub abandoned: usize,
}

impl Gateway {
    /// A gateway over these seams.
    pub fn new(seams: Seams, cfg: DriverConfig, entropy: Entropy) -> Arc<Self> {
        Self::with_observer(seams, cfg, entropy, None)
    }

    /// A gateway whose session events also go to `observer`.
    pub fn with_observer(
        seams: Seams,
        cfg: DriverConfig,
        entropy: Entropy,
        observer: Option<EventObserver>,
    ) -> Arc<Self> {
        let mut entropy = entropy;
        let instance = format!("{:016x}", entropy.next_u64());
        let fence = fence::Fence::new(
            seams.fence.clone(),
            instance,
            cfg.cluster.fence,
            seams.clock,
        );
        let coordinator = Coordinator::new(CoordinatorConfig {
            health: cfg.cluster.health,
            hold: HoldPolicy {
                linger_ms: cfg.session.world_linger_ms,
                margin_ms: cfg.cluster.hold_margin_ms,
            },
            slow_login_ms: cfg.cluster.slow_login_ms,
            layer_switch_request_ttl_ms: cfg.cluster.layer_switch_request_ttl_ms,
            realm_id: cfg.session.realm_id,
            #[cfg(feature = "canaries")]
            canary: cfg.session.canary,
        });
        Arc::new_cyclic(|me| Self {
            fence,
            me: me.clone(),
            seams,
            observer,
            session_cfg: Arc::new(cfg.session.clone()),
            cfg,
            entropy: std::sync::Mutex::new(entropy),
            metrics: Arc::new(Metrics::default()),
            next_session: AtomicU64::new(1),
            open_sessions: AtomicUsize::new(0),
            coordinator: std::sync::Mutex::new(coordinator),
            moves_changed: tokio::sync::Notify::new(),
            moves_epoch: std::sync::atomic::AtomicU64::new(0),
            probe_wanted: Arc::new(tokio::sync::Notify::new()),
            players: Players::default(),
        })
    }

    /// This gateway process's id in the fencing records (new at every start).
    pub fn fence_instance(&self) -> &str {
        self.fence.instance()
    }

    /// Whether the gateway may own accounts now: its last heartbeat reached the fencing
    /// store within `lease_ms`. While not, it admits nobody (`/readyz` says so).
    pub fn fence_ready(&self) -> bool {
        self.fence.ready()
    }

    /// Writes one fencing heartbeat now (`serve` writes the first before it accepts anyone,
    /// then one every `heartbeat_ms`); returns whether the store took it.
    pub async fn renew_fence(&self) -> bool {
        self.fence.beat(0).await
    }

    /// Lets an account go in the background (a session that closed before its claim
    /// finished).
    fn spawn_release(&self, release: fence::Release) {
        if let Some(gw) = self.me.upgrade() {
            tokio::spawn(async move { gw.fence.release(&gw, &release).await });
        }
    }

    /// The gateway's counters and histograms.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Starts or stops draining a worldserver: every player on it is moved to another
    /// worldserver for the same map, and no placement chooses it meanwhile.
    pub fn set_draining(&self, worldserver: &WorldserverId, draining: bool) {
        self.coordinate(|c, now| c.set_draining(now, worldserver, draining));
    }

    /// Moves a character to another worldserver for the same map (a layer switch, for
    /// example to join its group's layer): the next time its session is in world on another
    /// worldserver it is redirected there, behind a loading screen. A request not taken within
    /// `layer_switch_request_ttl_ms` is forgotten (the character is not on this gateway, or
    /// never got in world). Refused when the destination is unknown or not admitting.
    pub fn switch_layer(
        &self,
        guid: CharacterGuid,
        to: &WorldserverId,
    ) -> Result<(), LayerSwitchRefused> {
        self.coordinate(|c, now| c.switch_layer(now, guid, to))
    }

    /// The worldserver that may still hold `guid` in world, as the gateway-wide ledger says.
    pub fn holder(&self, guid: CharacterGuid) -> Option<WorldserverId> {
        let now = self.seams.clock.now();
        self.lock_coordinator().holder(guid, now).cloned()
    }

    /// Where `guid` may still be held and for how much longer, as the ledger says.
    pub fn hold_left(&self, guid: CharacterGuid) -> Option<(WorldserverId, Option<u64>)> {
        let now = self.seams.clock.now();
        self.lock_coordinator()
            .hold_left(guid, now)
            .map(|(w, left)| (w.clone(), left))
    }

    /// The cluster view.
    pub fn view(&self) -> ViewGuard<'_> {
        ViewGuard(self.lock_coordinator())
    }

    /// Asks the registry for the worldservers; the view keeps serving the last answer (until
    /// it goes stale) when the registry does not answer.
    pub async fn refresh_registry(&self) {
        let answer = self.seams.registry.worldservers().await;
        if let Err(e) = &answer {
            tracing::warn!(error = %e, "registry refresh failed; serving the last view");
        }
        self.coordinate(|c, now| c.handle_registry(now, answer.as_deref()));
    }

    /// The characters in world through this gateway, and their cluster-event queues: the
    /// event bus delivers through [`Players::deliver`].
    pub fn players(&self) -> &Players<Box<connection::Answer>> {
        &self.players
    }

    /// Client connections open now.
    pub fn open_sessions(&self) -> usize {
        self.open_sessions.load(Ordering::Relaxed)
    }

    fn lock_coordinator(&self) -> std::sync::MutexGuard<'_, Coordinator> {
        self.coordinator
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the coordinator at the clock's `now`, then carries out what it asks: health
    /// changes are logged and counted, sessions woken, the prober woken.
    fn coordinate<R>(&self, f: impl FnOnce(&mut Coordinator, Duration) -> R) -> R {
        let mut c = self.lock_coordinator();
        let r = f(&mut c, self.seams.clock.now());
        while let Some(change) = c.poll_health_change() {
            self.metrics.health_changes.fetch_add(1, Ordering::Relaxed);
            tracing::info!(worldserver = %change.worldserver, before = ?change.before, after = ?change.after, "worldserver health changed");
        }
        let dropped = c.poll_holds_dropped();
        if dropped > 0 {
            tracing::error!(
                dropped,
                "character hold ledger full: dropped the oldest lingering holds"
            );
        }
        if let Some(to) = c.poll_dropped_switch() {
            tracing::warn!(
                worldserver = %to,
                "layer switch dropped: the destination no longer admits or serves the map"
            );
        }
        let wake = c.poll_wake_sessions();
        let probe = c.poll_probe_wanted();
        drop(c);
        if wake {
            self.moves_epoch.fetch_add(1, Ordering::Release);
            self.moves_changed.notify_waiters();
        }
        if probe {
            self.probe_wanted.notify_one();
        }
        r
    }

    /// What a connection attempt says about a worldserver (see [`ConnectOutcome`]).
    fn connect_result(&self, worldserver: &WorldserverId, result: Result<(), &io::Error>) {
        let outcome = match result {
            Ok(()) => ConnectOutcome::Opened,
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => ConnectOutcome::Refused,
            Err(_) => ConnectOutcome::Failed,
        };
        self.coordinate(|c, now| c.handle_connect(now, worldserver, outcome));
    }

    /// Counts a placement answer, by the chosen worldserver's health.
    fn count_placement(&self, class: PlacementClass) {
        let m = &self.metrics;
        let counter = match class {
            PlacementClass::Placed(Health::Admitting) => &m.placements[0],
            PlacementClass::Placed(Health::Degraded) => &m.placements[1],
            PlacementClass::Placed(Health::Draining) => &m.placements[2],
            PlacementClass::Placed(Health::Down) => &m.placements[3],
            PlacementClass::Waited => &m.placement_waits,
            PlacementClass::Refused => &m.placement_refusals,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The challenge seed, its 32 bytes, and the seed of the session's own RNG.
    fn draw_seeds(&self) -> (u32, [u8; 32], u64) {
        let mut bytes = [0u8; 32];
        let mut rng = self
            .entropy
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seed = rng.next_u32();
        rng.fill(&mut bytes);
        (seed, bytes, rng.next_u64())
    }

    /// A new session for a freshly accepted client.
    fn new_session(&self, id: SessionId) -> Session {
        let clock = self.seams.clock;
        let (seed, seed_bytes, rng_seed) = self.draw_seeds();
        Session::new(
            id,
            clock.now(),
            Arc::clone(&self.session_cfg),
            seed,
            seed_bytes,
            clock.unix_secs(),
            rng_seed,
        )
    }
}

/// Logs a session event at a level that fits it.
pub fn log_event(e: &SessionEvent) {
    match e {
        SessionEvent::LoginFailed { .. }
        | SessionEvent::HandoffAbandoned { .. }
        | SessionEvent::CharServiceFailed { .. } => {
            tracing::warn!(event = ?e)
        }
        _ => tracing::debug!(event = ?e),
    }
}
