//! Async glue: the accept loop and one task per client connection that feeds the sans-IO
//! [`Session`] and carries its outputs out. Written against tokio names only, so it runs on
//! tokio in production and inside madsim unchanged.
//!
//! Per connection, one task owns the client socket, the session's worldserver sockets (at
//! most two: the one it leaves and the one it joins) and a bounded channel on which seam
//! calls and connection attempts, each spawned as its own task, answer. Reading pauses while
//! a write is in progress, so a slow client slows only its own worldserver reads.

mod metrics;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

pub use metrics::{Metrics, MetricsSnapshot};

use std::collections::{BTreeMap, BTreeSet};

use crate::cluster::WorldserverId;
use crate::cluster::holds::{HoldPolicy, Holds};
use crate::cluster::view::{ClusterView, Health, HealthPolicy, PlacementRequest, Probe, Selection};
use crate::runtime::{Entropy, Seams};
use crate::session::{
    AccountRecord, CharacterGuid, CharacterRecord, Departure, LinkId, NameRecord, Output, Phase,
    RequestId, SeamError, Session, SessionConfig, SessionEvent, SessionId,
};

/// Bytes read from a socket at once, at most.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// A client's first read buffer: idle sessions stay small; a read that fills it grows it to
/// `READ_CHUNK_BYTES` for good.
const CLIENT_READ_START_BYTES: usize = 1024;
/// Seam answers and connection results a session can have in flight; a session never has
/// more than a handful outstanding, name queries included (they are capped at 32).
const SEAM_CHANNEL_CAPACITY: usize = 64;

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
        }
    }
}

/// Sees every session event as it happens (the simulator's transcript, tests).
pub type EventObserver = Arc<dyn Fn(SessionId, &SessionEvent) + Send + Sync>;

/// A gateway: its seams, settings, RNG and metrics. Shared by all connection tasks.
pub struct Gateway {
    seams: Seams,
    observer: Option<EventObserver>,
    cfg: DriverConfig,
    entropy: std::sync::Mutex<Entropy>,
    metrics: Arc<Metrics>,
    next_session: AtomicU64,
    open_sessions: AtomicUsize,
    /// Worldservers being drained: their players are moved away, nobody new is placed there.
    draining: std::sync::Mutex<BTreeSet<WorldserverId>>,
    /// Wakes every session when `draining` changes. A `Notify` wakes waiters in the order
    /// they registered; tokio's `watch` picks a waiter shard with a thread-local RNG, which
    /// made the simulator's wake order differ between two runs of one seed in one thread.
    moves_changed: tokio::sync::Notify,
    /// Worldservers, their maps and health, as this gateway sees them.
    view: std::sync::Mutex<ClusterView>,
    /// Which worldserver may hold each character in world (no dual presence across sessions).
    holds: std::sync::Mutex<Holds>,
    /// Wakes the prober when a hold starts that waits for its worldserver to be reachable.
    probe_wanted: Arc<tokio::sync::Notify>,
    /// Layer switches asked for and not yet begun: character, destination, when asked.
    layer_switches: std::sync::Mutex<BTreeMap<CharacterGuid, (WorldserverId, Duration)>>,
}

/// Layer switches waiting at once, at most; more are refused.
const LAYER_SWITCHES_PENDING_MAX: usize = 65_536;

/// Why a layer switch was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerSwitchRefused {
    /// The destination is not in the cluster view.
    UnknownWorldserver(WorldserverId),
    /// The destination admits nobody new now (retry later).
    NotAdmitting(WorldserverId, Health),
    /// Too many switches are waiting (retry later).
    TooManyPending,
}

impl std::fmt::Display for LayerSwitchRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownWorldserver(w) => write!(f, "layer switch to unknown worldserver {w}"),
            Self::NotAdmitting(w, h) => write!(f, "layer switch to {w}, which is {h:?}"),
            Self::TooManyPending => write!(
                f,
                "layer switch refused: {LAYER_SWITCHES_PENDING_MAX} already waiting"
            ),
        }
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
        let health = cfg.cluster.health;
        let hold_policy = HoldPolicy {
            linger_ms: cfg.session.world_linger_ms,
            margin_ms: cfg.cluster.hold_margin_ms,
        };
        Arc::new(Self {
            seams,
            observer,
            cfg,
            entropy: std::sync::Mutex::new(entropy),
            metrics: Arc::new(Metrics::default()),
            next_session: AtomicU64::new(1),
            open_sessions: AtomicUsize::new(0),
            draining: std::sync::Mutex::new(BTreeSet::new()),
            moves_changed: tokio::sync::Notify::new(),
            view: std::sync::Mutex::new(ClusterView::new(health)),
            layer_switches: std::sync::Mutex::new(BTreeMap::new()),
            holds: std::sync::Mutex::new(Holds::new(hold_policy)),
            probe_wanted: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// The gateway's counters and histograms.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Starts or stops draining a worldserver: every player on it is moved to another
    /// worldserver for the same map, and no placement chooses it meanwhile.
    pub fn set_draining(&self, worldserver: &WorldserverId, draining: bool) {
        {
            let mut set = self.draining_set();
            if draining {
                set.insert(worldserver.clone());
            } else {
                set.remove(worldserver);
            }
        }
        self.moves_changed.notify_waiters();
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
        let health = self.view().get(to).map(|s| s.health);
        match health {
            None => return Err(LayerSwitchRefused::UnknownWorldserver(to.clone())),
            Some(Health::Admitting) => {}
            Some(h) => return Err(LayerSwitchRefused::NotAdmitting(to.clone(), h)),
        }
        let now = self.seams.clock.now();
        let ttl = Duration::from_millis(self.cfg.cluster.layer_switch_request_ttl_ms);
        {
            let mut pending = self.layer_switches_map();
            pending.retain(|_, (_, at)| now.saturating_sub(*at) <= ttl);
            if pending.len() >= LAYER_SWITCHES_PENDING_MAX && !pending.contains_key(&guid) {
                return Err(LayerSwitchRefused::TooManyPending);
            }
            pending.insert(guid, (to.clone(), now));
        }
        self.moves_changed.notify_waiters();
        Ok(())
    }

    /// Takes the layer switch waiting for `guid`, if one is and it is not too old.
    fn take_layer_switch(&self, guid: CharacterGuid) -> Option<WorldserverId> {
        let (to, at) = self.layer_switches_map().remove(&guid)?;
        let ttl = Duration::from_millis(self.cfg.cluster.layer_switch_request_ttl_ms);
        (self.seams.clock.now().saturating_sub(at) <= ttl).then_some(to)
    }

    fn layer_switches_map(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<CharacterGuid, (WorldserverId, Duration)>> {
        self.layer_switches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The worldserver that may still hold `guid` in world, as the gateway-wide ledger says.
    pub fn holder(&self, guid: CharacterGuid) -> Option<WorldserverId> {
        self.holds().holder(guid.0, self.seams.clock.now()).cloned()
    }

    /// The cluster view.
    pub fn view(&self) -> std::sync::MutexGuard<'_, ClusterView> {
        self.view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Asks the registry for the worldservers; the view keeps serving the last answer (until
    /// it goes stale) when the registry does not answer.
    pub async fn refresh_registry(&self) {
        match self.seams.registry.worldservers().await {
            Ok(list) => {
                let mut view = self.view();
                let before: Vec<_> = view
                    .servers()
                    .map(|s| (s.info.server.id.clone(), s.health))
                    .collect();
                view.apply_registry(self.seams.clock.now(), &list);
                for (id, was) in before {
                    let now = view.get(&id).map(|s| s.health);
                    if now != Some(was) {
                        self.metrics.health_changes.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(worldserver = %id, before = ?was, after = ?now, "worldserver health changed");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "registry refresh failed; serving the last view"),
        }
    }

    /// What a session event says about a worldserver's health: a login or move that took
    /// longer than `slow_login_ms` is a slow probe, a prompt one a healthy probe.
    fn observe_health(&self, e: &SessionEvent) {
        let (server, took_ms) = match e {
            SessionEvent::EnteredWorld {
                worldserver,
                world_ms,
                ..
            } => (worldserver, *world_ms),
            SessionEvent::HandoffCompleted { to, world_ms, .. } => (to, *world_ms),
            _ => return,
        };
        let probe = if took_ms > self.cfg.cluster.slow_login_ms {
            Probe::Slow
        } else {
            Probe::Healthy
        };
        self.probe(server, probe);
    }

    fn holds(&self) -> std::sync::MutexGuard<'_, Holds> {
        self.holds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What a session event says about who may hold a character.
    fn observe_holds(&self, session: SessionId, guid: Option<CharacterGuid>, e: &SessionEvent) {
        let now = self.seams.clock.now();
        match e {
            SessionEvent::LoginSent { worldserver } => {
                if let Some(guid) = guid {
                    let dropped = self.holds().live(guid.0, worldserver, session.0, now);
                    if dropped > 0 {
                        tracing::error!(
                            dropped,
                            "character hold ledger full: dropped the oldest lingering holds"
                        );
                    }
                }
            }
            SessionEvent::CharacterLeft {
                guid,
                worldserver,
                how,
            } => match how {
                Departure::Released => self.holds().released(guid.0, worldserver, session.0),
                Departure::Refused => self.holds().refused(guid.0, worldserver, session.0),
                Departure::Lost => {
                    self.holds().lost(guid.0, worldserver, session.0, now);
                    self.probe_wanted.notify_one();
                }
            },
            _ => {}
        }
    }

    /// What a connection attempt says about a worldserver. Opened: it can see every close
    /// sent before now. Refused: its host answered and nothing listens, so the process is
    /// gone (a partitioned or dead host times out instead). Either failure is a failed
    /// health probe.
    fn connect_result(&self, worldserver: &WorldserverId, result: Result<(), &io::Error>) {
        let now = self.seams.clock.now();
        match result {
            Ok(()) => self.holds().reachable(worldserver, now),
            Err(e) => {
                if e.kind() == io::ErrorKind::ConnectionRefused {
                    self.holds().confirmed_down(worldserver, now);
                }
                self.probe(worldserver, Probe::Failed);
            }
        }
    }

    /// Opens and drops a connection to every worldserver that may hold a character behind a
    /// lost link and has not been reachable since, so the linger clock of those holds can
    /// start. Each probe is bounded by `probe_timeout_ms`.
    async fn probe_holders(self: &Arc<Self>) {
        let waiting = self.holds().unconfirmed();
        if waiting.is_empty() {
            return;
        }
        let addresses: Vec<(WorldserverId, String)> = {
            let view = self.view();
            waiting
                .into_iter()
                .filter_map(|w| view.get(&w).map(|s| (w, s.info.server.address.clone())))
                .collect()
        };
        let timeout = Duration::from_millis(self.cfg.cluster.probe_timeout_ms);
        for (worldserver, address) in addresses {
            let gw = self.clone();
            tokio::spawn(async move {
                let connect = gw.seams.net.connect(&address);
                match tokio::time::timeout(timeout, connect).await {
                    Ok(Ok(stream)) => {
                        drop(stream);
                        gw.connect_result(&worldserver, Ok(()));
                    }
                    Ok(Err(e)) => gw.connect_result(&worldserver, Err(&e)),
                    Err(_) => {}
                }
            });
        }
    }

    /// Feeds one observation of a worldserver to the view.
    fn probe(&self, server: &WorldserverId, probe: Probe) {
        let mut view = self.view();
        let before = view.get(server).map(|s| s.health);
        let after = view.observe(server, probe);
        drop(view);
        if before != after {
            self.metrics.health_changes.fetch_add(1, Ordering::Relaxed);
            tracing::info!(worldserver = %server, ?before, ?after, "worldserver health changed");
        }
    }

    /// The selection for a character: on the worldserver that may still hold it, or nowhere
    /// yet; otherwise the policy (see [`Gateway::select_avoiding`]).
    fn select_for(
        &self,
        session: SessionId,
        guid: CharacterGuid,
        now: Duration,
        map: u32,
        exclude: Vec<WorldserverId>,
        avoid: Vec<WorldserverId>,
    ) -> Selection {
        let holder = self.holds().holder_for(guid.0, session.0, now).cloned();
        #[cfg(feature = "canaries")]
        let holder =
            holder.filter(|_| self.cfg.session.canary != Some(crate::session::Canary::IgnoreHolds));
        let Some(holder) = holder else {
            return self.select_avoiding(now, map, exclude, avoid);
        };
        if exclude.contains(&holder) {
            return Selection::Wait("the character may still be in world where it cannot go");
        }
        let view = self.view();
        if view.is_stale(now) {
            return Selection::Wait("registry view is stale");
        }
        match view.get(&holder) {
            // Back where it may still be: that re-attaches it. A degraded worldserver keeps
            // its players, and this is one of them.
            Some(s)
                if matches!(s.health, Health::Admitting | Health::Degraded)
                    && s.info.serves(map) =>
            {
                Selection::Place(s.info.server.clone())
            }
            _ => Selection::Wait("the character may still be in world on another worldserver"),
        }
    }

    /// The selection policy, first without the worldservers to avoid, then (if nobody else
    /// can take the character) with them.
    fn select_avoiding(
        &self,
        now: Duration,
        map: u32,
        exclude: Vec<WorldserverId>,
        avoid: Vec<WorldserverId>,
    ) -> Selection {
        let view = self.view();
        let mut request = PlacementRequest {
            map,
            realm: self.cfg.session.realm_id,
            sticky: None,
            exclude,
        };
        if avoid.is_empty() {
            return view.select(now, &request);
        }
        let strict = request.exclude.len();
        request.exclude.extend(avoid);
        match view.select(now, &request) {
            Selection::Place(s) => Selection::Place(s),
            _ => {
                request.exclude.truncate(strict);
                view.select(now, &request)
            }
        }
    }

    /// Counts a placement answer, by the chosen worldserver's health.
    fn count_placement(&self, selection: &Selection) {
        let m = &self.metrics;
        match selection {
            Selection::Place(server) => {
                let health = self.view().get(&server.id).map(|s| s.health);
                let at = match health {
                    Some(Health::Admitting) => 0,
                    Some(Health::Degraded) => 1,
                    Some(Health::Draining) => 2,
                    Some(Health::Down) | None => 3,
                };
                m.placements[at].fetch_add(1, Ordering::Relaxed);
            }
            Selection::Wait(_) => {
                m.placement_waits.fetch_add(1, Ordering::Relaxed);
            }
            Selection::Refuse(_) => {
                m.placement_refusals.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn draining_set(&self) -> std::sync::MutexGuard<'_, BTreeSet<WorldserverId>> {
        self.draining
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Client connections open now.
    pub fn open_sessions(&self) -> usize {
        self.open_sessions.load(Ordering::Relaxed)
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
}

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
    let refresher = Arc::downgrade(&gateway);
    let refresh_every = Duration::from_millis(gateway.cfg.cluster.registry_refresh_ms);
    let probe_wanted = gateway.probe_wanted.clone();
    let gateway_clock = gateway.seams.clock;
    tokio::spawn(async move {
        let clock = gateway_clock;
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
            gw.probe_holders().await;
        }
    });
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
                    run_connection(&gw, id, stream, shutdown).instrument(span).await;
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

/// A seam answer or connection result, routed back to the session task.
enum Answer {
    Account(RequestId, Result<Option<AccountRecord>, SeamError>),
    Characters(RequestId, Result<Vec<CharacterRecord>, SeamError>),
    Name(CharacterGuid, Result<Option<NameRecord>, SeamError>),
    Connected(LinkId, WorldserverId, io::Result<TcpStream>),
}

struct WorldSocket {
    link: LinkId,
    stream: TcpStream,
    buf: BytesMut,
}

/// Serves one client connection until its session closes.
async fn run_connection(
    gw: &Gateway,
    id: SessionId,
    mut client: TcpStream,
    mut shutdown: watch::Receiver<bool>,
) {
    let clock = gw.seams.clock;
    let (seed, seed_bytes, rng_seed) = gw.draw_seeds();
    let mut session = Session::new(
        id,
        clock.now(),
        gw.cfg.session.clone(),
        seed,
        seed_bytes,
        clock.unix_secs(),
        rng_seed,
    );
    let (tx, mut rx) = mpsc::channel::<Answer>(SEAM_CHANNEL_CAPACITY);
    let mut worlds: [Option<WorldSocket>; 2] = [None, None];
    let mut client_buf = BytesMut::with_capacity(CLIENT_READ_START_BYTES);
    let mut shutting_down = false;
    let mut placed_on: Option<WorldserverId> = None;
    gw.metrics.sessions.fetch_add(1, Ordering::Relaxed);

    loop {
        // Carry out everything the session asked for, in order.
        let mut client_closed = false;
        while let Some(out) = session.poll_output() {
            match out {
                Output::Client(bytes) => {
                    if write_with_deadline(&mut client, &bytes, gw.cfg.write_timeout_ms)
                        .await
                        .is_err()
                    {
                        session.handle_client_closed(clock.now());
                    }
                }
                Output::World { link, bytes } => {
                    if bytes.is_empty() {
                        continue;
                    }
                    let Some(w) = worlds.iter_mut().flatten().find(|w| w.link == link) else {
                        continue;
                    };
                    if write_with_deadline(&mut w.stream, &bytes, gw.cfg.write_timeout_ms)
                        .await
                        .is_err()
                    {
                        close_world(&mut worlds, link);
                        session.handle_world_closed(clock.now(), link);
                    }
                }
                Output::LookupAccount { request, name } => {
                    let tx = tx.clone();
                    let accounts = gw.seams.accounts.clone();
                    tokio::spawn(async move {
                        let r = accounts.lookup(&name).await;
                        let _ = tx.send(Answer::Account(request, r)).await;
                    });
                }
                Output::ListCharacters { request, account } => {
                    let tx = tx.clone();
                    let characters = gw.seams.characters.clone();
                    tokio::spawn(async move {
                        let r = characters.list(account).await;
                        let _ = tx.send(Answer::Characters(request, r)).await;
                    });
                }
                Output::QueryName { guid } => {
                    let tx = tx.clone();
                    let characters = gw.seams.characters.clone();
                    tokio::spawn(async move {
                        let r = characters.name(guid).await;
                        let _ = tx.send(Answer::Name(guid, r)).await;
                    });
                }
                Output::Place {
                    request,
                    guid,
                    map,
                    mut exclude,
                    avoid,
                } => {
                    // The selection policy over the gateway's own view of the cluster.
                    #[cfg(feature = "canaries")]
                    let ignore_drain =
                        gw.cfg.session.canary == Some(crate::session::Canary::IgnoreOperatorDrain);
                    #[cfg(not(feature = "canaries"))]
                    let ignore_drain = false;
                    if !ignore_drain {
                        exclude.extend(gw.draining_set().iter().cloned());
                    }
                    let now = clock.now();
                    let selection = gw.select_for(id, guid, now, map, exclude, avoid);
                    #[cfg(feature = "canaries")]
                    let selection = if gw.cfg.session.canary
                        == Some(crate::session::Canary::PlaceOnDegraded)
                    {
                        let servers: Vec<_> = gw.view().servers().map(|s| s.info.clone()).collect();
                        crate::cluster::owner_of(&servers, map)
                            .map(|w| Selection::Place(w.server.clone()))
                            .unwrap_or(selection)
                    } else {
                        selection
                    };
                    gw.count_placement(&selection);
                    let answer = match selection {
                        Selection::Place(server) => Ok(Some(server)),
                        Selection::Refuse(_) => Ok(None),
                        Selection::Wait(reason) => Err(SeamError {
                            service: "placement",
                            detail: reason.into(),
                            retryable: true,
                        }),
                    };
                    session.handle_placement(now, request, answer);
                }
                Output::Connect { link, worldserver } => {
                    let tx = tx.clone();
                    let net = gw.seams.net.clone();
                    tokio::spawn(async move {
                        let r = net.connect(&worldserver.address).await;
                        let _ = tx.send(Answer::Connected(link, worldserver.id, r)).await;
                    });
                }
                Output::CloseWorld { link } => close_world(&mut worlds, link),
                Output::CloseClient { reason } => {
                    tracing::info!(?reason, culprit = ?reason.culprit(), "session closed");
                    client_closed = true;
                }
                Output::Event(e) => {
                    if let Some(observe) = &gw.observer {
                        observe(id, &e);
                    }
                    gw.observe_health(&e);
                    gw.observe_holds(id, session.character(), &e);
                    gw.metrics.record(&e);
                }
            }
        }
        gw.metrics.absorb(session.take_counters());
        let now_on = session.worldserver().map(|w| w.id.clone());
        if now_on != placed_on {
            let mut view = gw.view();
            if let Some(old) = &placed_on {
                view.count_player(old, false);
            }
            if let Some(new) = &now_on {
                view.count_player(new, true);
            }
            placed_on = now_on;
        }
        if client_closed {
            if let Some(old) = &placed_on {
                gw.view().count_player(old, false);
            }
            break;
        }
        // A player on a draining worldserver is moved off it.
        let on_draining = session
            .worldserver()
            .map(|w| w.id.clone())
            .filter(|id| gw.draining_set().contains(id));
        if let Some(id) = on_draining {
            session.handle_drain(clock.now(), &id);
            if session.has_output() {
                continue;
            }
        }
        // A layer switch asked for this character starts once it is in world.
        if session.phase() == Phase::InWorld
            && let Some(guid) = session.character()
            && let Some(to) = gw.take_layer_switch(guid)
        {
            let target = {
                let view = gw.view();
                let map = session.map();
                view.get(&to)
                    .filter(|s| s.health == Health::Admitting)
                    .filter(|s| map.is_some_and(|m| s.info.serves(m)))
                    .map(|s| s.info.server.clone())
            };
            match target {
                Some(target) => {
                    if session.handle_layer_switch(clock.now(), target) {
                        continue;
                    }
                }
                None => tracing::warn!(
                    worldserver = %to,
                    "layer switch dropped: the destination no longer admits or serves the map"
                ),
            }
        }

        let deadline = session.poll_timeout().map(|at| clock.instant_at(at));
        let (w0, w1) = {
            let [a, b] = &mut worlds;
            (a.as_mut(), b.as_mut())
        };
        tokio::select! {
            biased;
            changed = shutdown.changed(), if !shutting_down => {
                let _ = changed;
                shutting_down = true;
                session.begin_shutdown(clock.now());
            }
            () = gw.moves_changed.notified() => {}
            answer = rx.recv() => {
                // `tx` lives in this function, so the channel never closes here.
                if let Some(answer) = answer {
                    if let Answer::Connected(_, server, result) = &answer {
                        gw.connect_result(server, result.as_ref().map(|_| ()));
                    }
                    deliver(&mut session, &mut worlds, clock.now(), answer);
                }
            }
            r = read_some(w0) => on_world_read(&mut session, &mut worlds, clock.now(), 0, r),
            r = read_some(w1) => on_world_read(&mut session, &mut worlds, clock.now(), 1, r),
            r = client.read_buf(&mut client_buf) => {
                match r {
                    Ok(0) | Err(_) => session.handle_client_closed(clock.now()),
                    Ok(n) => {
                        gw.metrics.client_bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                        session.handle_client_bytes(clock.now(), &client_buf);
                        let full = client_buf.len() == client_buf.capacity();
                        client_buf.clear();
                        if full && client_buf.capacity() < READ_CHUNK_BYTES {
                            client_buf.reserve(READ_CHUNK_BYTES);
                        }
                    }
                }
            }
            () = sleep_until_opt(deadline) => session.handle_timeout(clock.now()),
        }
    }
    let _ = client.shutdown().await;
}

/// Reads from one world slot; pends forever for an empty slot so the select ignores it.
async fn read_some(slot: Option<&mut WorldSocket>) -> io::Result<usize> {
    match slot {
        Some(w) => {
            w.buf.reserve(READ_CHUNK_BYTES);
            w.stream.read_buf(&mut w.buf).await
        }
        None => std::future::pending().await,
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn on_world_read(
    session: &mut Session,
    worlds: &mut [Option<WorldSocket>; 2],
    now: Duration,
    slot: usize,
    r: io::Result<usize>,
) {
    let Some(w) = worlds[slot].as_mut() else {
        return;
    };
    let link = w.link;
    match r {
        Ok(0) | Err(_) => {
            worlds[slot] = None;
            session.handle_world_closed(now, link);
        }
        Ok(_) => {
            let data = w.buf.split();
            session.handle_world_bytes(now, link, &data);
        }
    }
}

fn deliver(
    session: &mut Session,
    worlds: &mut [Option<WorldSocket>; 2],
    now: Duration,
    answer: Answer,
) {
    match answer {
        Answer::Account(r, result) => session.handle_account(now, r, result),
        Answer::Characters(r, result) => session.handle_characters(now, r, result),
        Answer::Name(guid, result) => session.handle_name(now, guid, result),
        Answer::Connected(link, _, Ok(stream)) => {
            if !session.has_link(link) {
                // The session gave up on this attempt meanwhile; dropping the stream closes it.
                return;
            }
            if let Some(slot) = worlds.iter_mut().find(|s| s.is_none()) {
                *slot = Some(WorldSocket {
                    link,
                    stream,
                    buf: BytesMut::with_capacity(READ_CHUNK_BYTES),
                });
                session.handle_world_connected(now, link, Ok(()));
            } else {
                // Both slots busy: the session never asks for a third link, so this is a
                // stale answer; dropping the stream closes it.
                session.handle_world_connected(now, link, Err("no free link slot".into()));
            }
        }
        Answer::Connected(link, _, Err(e)) => {
            session.handle_world_connected(now, link, Err(e.to_string()))
        }
    }
}

fn close_world(worlds: &mut [Option<WorldSocket>; 2], link: LinkId) {
    for slot in worlds.iter_mut() {
        if slot.as_ref().is_some_and(|w| w.link == link) {
            *slot = None; // dropping the stream closes the connection
        }
    }
}

async fn write_with_deadline(
    stream: &mut TcpStream,
    bytes: &[u8],
    timeout_ms: u64,
) -> io::Result<()> {
    let write = async {
        stream.write_all(bytes).await?;
        stream.flush().await
    };
    match tokio::time::timeout(Duration::from_millis(timeout_ms), write).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "write deadline passed",
        )),
    }
}

/// Logs a session event at a level that fits it.
pub fn log_event(e: &SessionEvent) {
    match e {
        SessionEvent::LoginFailed { .. } | SessionEvent::HandoffAbandoned { .. } => {
            tracing::warn!(event = ?e)
        }
        _ => tracing::debug!(event = ?e),
    }
}
