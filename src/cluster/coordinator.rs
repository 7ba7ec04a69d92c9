//! The gateway-wide cluster coordinator, sans I/O: one value that owns the cluster view, the
//! no-dual-presence ledger, the operator's drains, the pending layer switches and the
//! placement counters, and makes every cluster decision the sessions need.
//!
//! Call order, as for a session:
//! 1. Feed what happens with the `handle_*` methods and operator commands, each with `now`:
//!    registry answers ([`Coordinator::handle_registry`]), session events
//!    ([`Coordinator::handle_session_event`]), connection and probe results
//!    ([`Coordinator::handle_connect`]), players joining or leaving a worldserver
//!    ([`Coordinator::handle_player_moved`]), drains and layer switches.
//! 2. Ask it: [`Coordinator::place`] answers a placement, [`Coordinator::move_for`] says whether
//!    a session in world must be moved off its worldserver.
//! 3. Drain the `poll_*` methods: health changes to log and count, whether sessions must be
//!    woken (a drain or layer switch changed), whether worldservers need a reachability probe.
//!
//! The driver holds it behind one lock and keeps only I/O.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use super::holds::{HoldPolicy, Holds};
use super::view::{ClusterView, Health, HealthPolicy, PlacementRequest, Probe, Selection};
use super::{WorldserverId, WorldserverInfo, WorldserverRef};
use crate::session::{CharacterGuid, Departure, SeamError, SessionEvent, SessionId};

/// Layer switches waiting at once, at most; more are refused.
pub const LAYER_SWITCHES_PENDING_MAX: usize = 65_536;
/// Health changes kept for the driver to log, at most; older ones are dropped (they are
/// counted all the same).
const HEALTH_CHANGES_PENDING_MAX: usize = 1_024;

/// What the coordinator needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// Health hysteresis and registry staleness.
    pub health: HealthPolicy,
    /// How long a worldserver may keep a character after it sees the connection close.
    pub hold: HoldPolicy,
    /// A worldserver taking longer than this from PLAYER_LOGIN to in world is a slow probe.
    pub slow_login_ms: u64,
    /// A layer switch not begun within this long is forgotten.
    pub layer_switch_request_ttl_ms: u64,
    /// The realm this gateway serves.
    pub realm_id: u32,
    /// The planted bug in force (simulator canaries only).
    #[cfg(feature = "canaries")]
    pub canary: Option<crate::session::Canary>,
}

/// A session asks where a character may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceRequest {
    /// The session asking.
    pub session: SessionId,
    /// The character.
    pub guid: CharacterGuid,
    /// The map it is on or going to; `None`: any map (a character-screen request).
    pub map: Option<u32>,
    /// Worldservers not to choose.
    pub exclude: Vec<WorldserverId>,
    /// Worldservers to choose only when no other can take the character.
    pub avoid: Vec<WorldserverId>,
    /// The worldserver chosen before (a handoff's target, a layer switch's destination):
    /// kept if it admits, serves the map and is not excluded; else the policy chooses.
    pub prefer: Option<WorldserverId>,
}

/// How a placement answer is counted: by the chosen worldserver's health, or why none was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementClass {
    /// Placed on a worldserver in this health (`Down` also stands for unknown).
    Placed(Health),
    /// Nobody can take the character now.
    Waited,
    /// Nobody serves the map.
    Refused,
}

/// What a connection attempt (a session's or a reachability probe's) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// It opened: the worldserver sees every close sent before now.
    Opened,
    /// Its host answered and nothing listens: the process is gone.
    Refused,
    /// Any other failure (a time-out, unreachable).
    Failed,
}

/// A session in world must leave its worldserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveOrder {
    /// Its worldserver is being drained: any other worldserver for the map.
    Drain(WorldserverId),
    /// A layer switch to this worldserver.
    LayerSwitch(WorldserverRef),
}

/// A worldserver's health changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    /// Which.
    pub worldserver: WorldserverId,
    /// Before (`None`: unknown).
    pub before: Option<Health>,
    /// After (`None`: unknown).
    pub after: Option<Health>,
}

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

/// The coordinator. See the module documentation for the call order.
#[derive(Debug, Clone)]
pub struct Coordinator {
    cfg: CoordinatorConfig,
    view: ClusterView,
    holds: Holds,
    /// Worldservers the operator drains: their players are moved away, nobody new goes there.
    drains: BTreeSet<WorldserverId>,
    /// Layer switches asked for and not yet begun: character, destination, when asked.
    layer_switches: BTreeMap<CharacterGuid, (WorldserverId, Duration)>,
    health_changes: VecDeque<HealthChange>,
    wake_sessions: bool,
    probe_wanted: bool,
    holds_dropped: usize,
    dropped_switch: Option<WorldserverId>,
}

impl Coordinator {
    /// A coordinator with an empty view and ledger.
    pub fn new(cfg: CoordinatorConfig) -> Self {
        Self {
            view: ClusterView::new(cfg.health),
            holds: Holds::new(cfg.hold),
            cfg,
            drains: BTreeSet::new(),
            layer_switches: BTreeMap::new(),
            health_changes: VecDeque::new(),
            wake_sessions: false,
            probe_wanted: false,
            holds_dropped: 0,
            dropped_switch: None,
        }
    }

    // ----- inputs -----------------------------------------------------------------------

    /// The registry answered a refresh. A failure changes nothing: the view keeps serving the
    /// last answer until it goes stale.
    pub fn handle_registry(
        &mut self,
        now: Duration,
        answer: Result<&[WorldserverInfo], &SeamError>,
    ) {
        let Ok(list) = answer else {
            return;
        };
        let before: Vec<_> = self
            .view
            .servers()
            .map(|s| (s.info.server.id.clone(), s.health))
            .collect();
        self.view.apply_registry(now, list);
        // A drain the operator asked for before the registry listed the worldserver.
        for id in self.drains.clone() {
            self.tell_view_draining(&id, true);
        }
        for (id, was) in before {
            let after = self.view.get(&id).map(|s| s.health);
            self.health_changed(id, Some(was), after);
        }
    }

    /// What a session event says about worldserver health (a login or move that took longer
    /// than `slow_login_ms` is a slow probe, a prompt one a healthy probe) and about who may
    /// hold a character. `guid` is the session's character.
    pub fn handle_session_event(
        &mut self,
        now: Duration,
        session: SessionId,
        guid: Option<CharacterGuid>,
        e: &SessionEvent,
    ) {
        match e {
            SessionEvent::EnteredWorld {
                worldserver,
                world_ms,
                ..
            } => self.observe_login(worldserver, *world_ms),
            SessionEvent::HandoffCompleted { to, world_ms, .. } => {
                self.observe_login(to, *world_ms)
            }
            SessionEvent::LoginSent { worldserver } => {
                if let Some(guid) = guid {
                    let dropped = self.holds.live(guid.0, worldserver, session.0, now);
                    self.holds_dropped = self.holds_dropped.saturating_add(dropped);
                }
            }
            SessionEvent::CharacterLeft {
                guid,
                worldserver,
                how,
            } => match how {
                Departure::Released => self.holds.released(guid.0, worldserver, session.0),
                Departure::Refused => self.holds.refused(guid.0, worldserver, session.0),
                Departure::Lost => {
                    self.holds.lost(guid.0, worldserver, session.0, now);
                    self.probe_wanted = true;
                }
            },
            _ => {}
        }
    }

    /// A connection to `worldserver` (a session's or a probe's) opened or failed. Opened: it
    /// can see every close sent before now. Refused: the process is gone. Either failure is
    /// a failed health probe.
    pub fn handle_connect(
        &mut self,
        now: Duration,
        worldserver: &WorldserverId,
        outcome: ConnectOutcome,
    ) {
        match outcome {
            ConnectOutcome::Opened => self.holds.reachable(worldserver, now),
            ConnectOutcome::Refused | ConnectOutcome::Failed => {
                if outcome == ConnectOutcome::Refused {
                    self.holds.confirmed_down(worldserver, now);
                }
                self.probe(worldserver, Probe::Failed);
            }
        }
    }

    /// A session's player left `from` and/or joined `to` (the load the policy balances).
    pub fn handle_player_moved(
        &mut self,
        from: Option<&WorldserverId>,
        to: Option<&WorldserverId>,
    ) {
        if let Some(old) = from {
            self.view.count_player(old, false);
        }
        if let Some(new) = to {
            self.view.count_player(new, true);
        }
    }

    /// The operator starts or stops draining a worldserver: every player on it is moved to
    /// another worldserver for the same map, and no placement chooses it meanwhile.
    pub fn set_draining(&mut self, _now: Duration, worldserver: &WorldserverId, draining: bool) {
        if draining {
            self.drains.insert(worldserver.clone());
        } else {
            self.drains.remove(worldserver);
        }
        let before = self.view.get(worldserver).map(|s| s.health);
        self.tell_view_draining(worldserver, draining);
        let after = self.view.get(worldserver).map(|s| s.health);
        self.health_changed(worldserver.clone(), before, after);
        self.wake_sessions = true;
    }

    /// The view's health says Draining for a drained worldserver: every placement, layer
    /// switch and re-attach asks the view.
    fn tell_view_draining(&mut self, worldserver: &WorldserverId, draining: bool) {
        #[cfg(feature = "canaries")]
        if self.cfg.canary == Some(crate::session::Canary::IgnoreOperatorDrain) {
            return;
        }
        self.view.set_draining(worldserver, draining);
    }

    /// Moves a character to another worldserver for the same map (a layer switch): the next
    /// time its session is in world on another worldserver it is redirected there. A request
    /// not taken within `layer_switch_request_ttl_ms` is forgotten (and dropped from the table
    /// when it is full). Refused when the destination is unknown or not admitting, or when
    /// [`LAYER_SWITCHES_PENDING_MAX`] unexpired requests wait.
    pub fn switch_layer(
        &mut self,
        now: Duration,
        guid: CharacterGuid,
        to: &WorldserverId,
    ) -> Result<(), LayerSwitchRefused> {
        match self.view.get(to).map(|s| s.health) {
            None => return Err(LayerSwitchRefused::UnknownWorldserver(to.clone())),
            Some(Health::Admitting) => {}
            Some(h) => return Err(LayerSwitchRefused::NotAdmitting(to.clone(), h)),
        }
        if self.layer_switches.len() >= LAYER_SWITCHES_PENDING_MAX
            && !self.layer_switches.contains_key(&guid)
        {
            // Full: forget the expired ones (only now, so a request costs O(log n)).
            let ttl = self.layer_switch_ttl();
            self.layer_switches
                .retain(|_, (_, at)| now.saturating_sub(*at) <= ttl);
            if self.layer_switches.len() >= LAYER_SWITCHES_PENDING_MAX {
                return Err(LayerSwitchRefused::TooManyPending);
            }
        }
        self.layer_switches.insert(guid, (to.clone(), now));
        self.wake_sessions = true;
        Ok(())
    }

    // ----- decisions --------------------------------------------------------------------

    /// Where a character may go: back to the worldserver that may still hold it (or nowhere
    /// yet), else the selection policy, first without the worldservers to avoid, then (if
    /// nobody else can take it) with them. Returns the answer and how to count it.
    pub fn place(&mut self, now: Duration, req: PlaceRequest) -> (Selection, PlacementClass) {
        let map = req.map;
        let selection = self.select_for(now, req);
        #[cfg(feature = "canaries")]
        let selection = self.canary_place_on_first_owner(map, selection);
        #[cfg(not(feature = "canaries"))]
        let _ = map;
        let class = match &selection {
            Selection::Place(server) => {
                PlacementClass::Placed(self.view.get(&server.id).map_or(Health::Down, |s| s.health))
            }
            Selection::Wait(_) => PlacementClass::Waited,
            Selection::Refuse(_) => PlacementClass::Refused,
        };
        (selection, class)
    }

    /// Whether a session must be moved off its worldserver now: `on` is where its player is,
    /// `in_world` whether it is in world with nothing else under way, `map` the map it is on.
    /// A drain comes first; a layer switch asked for the character is taken (and forgotten)
    /// here, and dropped when its destination no longer admits or serves the map (see
    /// [`Coordinator::poll_dropped_switch`]).
    pub fn move_for(
        &mut self,
        now: Duration,
        guid: Option<CharacterGuid>,
        on: Option<&WorldserverId>,
        in_world: bool,
        map: Option<u32>,
    ) -> Option<MoveOrder> {
        let on = on?;
        if self.drains.contains(on) {
            return in_world.then(|| MoveOrder::Drain(on.clone()));
        }
        if !in_world {
            return None;
        }
        let guid = guid?;
        let (to, at) = self.layer_switches.remove(&guid)?;
        if now.saturating_sub(at) > self.layer_switch_ttl() {
            return None;
        }
        let target = self
            .view
            .get(&to)
            .filter(|s| s.health == Health::Admitting)
            .filter(|s| map.is_some_and(|m| s.info.serves(m)))
            .map(|s| s.info.server.clone());
        match target {
            Some(target) => Some(MoveOrder::LayerSwitch(target)),
            None => {
                self.dropped_switch = Some(to);
                None
            }
        }
    }

    // ----- outputs ----------------------------------------------------------------------

    /// The next health change to log and count.
    pub fn poll_health_change(&mut self) -> Option<HealthChange> {
        self.health_changes.pop_front()
    }

    /// Whether sessions must be woken to look at [`Coordinator::move_for`] again (a drain or
    /// a layer switch changed). Reading it clears it.
    pub fn poll_wake_sessions(&mut self) -> bool {
        std::mem::take(&mut self.wake_sessions)
    }

    /// Whether a lost link left a hold whose worldserver needs a reachability probe soon.
    /// Reading it clears it.
    pub fn poll_probe_wanted(&mut self) -> bool {
        std::mem::take(&mut self.probe_wanted)
    }

    /// Worldservers that may hold a character behind a lost link and have not been reachable
    /// since: open and drop a connection to each (answer with [`Coordinator::handle_connect`])
    /// so the linger clock of those holds can start.
    pub fn probes(&self) -> Vec<WorldserverRef> {
        self.holds
            .unconfirmed()
            .into_iter()
            .filter_map(|w| self.view.get(&w).map(|s| s.info.server.clone()))
            .collect()
    }

    /// Ledger entries dropped to stay within its bound since the last call.
    pub fn poll_holds_dropped(&mut self) -> usize {
        std::mem::take(&mut self.holds_dropped)
    }

    /// A layer switch taken by [`Coordinator::move_for`] whose destination no longer admits or
    /// serves the map, if any since the last call.
    pub fn poll_dropped_switch(&mut self) -> Option<WorldserverId> {
        self.dropped_switch.take()
    }

    // ----- queries ----------------------------------------------------------------------

    /// The cluster view.
    pub fn view(&self) -> &ClusterView {
        &self.view
    }

    /// The worldserver that may still hold `guid` in world, as the ledger says.
    pub fn holder(&self, guid: CharacterGuid, now: Duration) -> Option<&WorldserverId> {
        self.holds.holder(guid.0, now)
    }

    /// Imports holds another gateway handed over with an account (see
    /// [`super::holds::Holds::import`]).
    pub fn import_holds(
        &mut self,
        now: Duration,
        holds: &[(CharacterGuid, WorldserverId, Option<u64>)],
    ) {
        #[cfg(feature = "canaries")]
        if self.cfg.canary == Some(crate::session::Canary::ForgetFencedHolds) {
            return;
        }
        for (guid, worldserver, left_ms) in holds {
            let dropped = self.holds.import(guid.0, worldserver, *left_ms, now);
            self.holds_dropped = self.holds_dropped.saturating_add(dropped);
        }
    }

    /// Where `guid` may still be held, and for how much longer (see
    /// [`super::holds::Holds::hold_left`]).
    pub fn hold_left(
        &self,
        guid: CharacterGuid,
        now: Duration,
    ) -> Option<(&WorldserverId, Option<u64>)> {
        self.holds.hold_left(guid.0, now)
    }

    /// The worldservers the operator drains now.
    pub fn drains(&self) -> &BTreeSet<WorldserverId> {
        &self.drains
    }

    // ----- internals --------------------------------------------------------------------

    fn layer_switch_ttl(&self) -> Duration {
        Duration::from_millis(self.cfg.layer_switch_request_ttl_ms)
    }

    fn observe_login(&mut self, worldserver: &WorldserverId, took_ms: u64) {
        let probe = if took_ms > self.cfg.slow_login_ms {
            Probe::Slow
        } else {
            Probe::Healthy
        };
        self.probe(worldserver, probe);
    }

    /// Feeds one observation of a worldserver to the view.
    fn probe(&mut self, worldserver: &WorldserverId, probe: Probe) {
        let before = self.view.get(worldserver).map(|s| s.health);
        let after = self.view.observe(worldserver, probe);
        self.health_changed(worldserver.clone(), before, after);
    }

    fn health_changed(
        &mut self,
        worldserver: WorldserverId,
        before: Option<Health>,
        after: Option<Health>,
    ) {
        if before == after {
            return;
        }
        if self.health_changes.len() >= HEALTH_CHANGES_PENDING_MAX {
            self.health_changes.pop_front();
        }
        self.health_changes.push_back(HealthChange {
            worldserver,
            before,
            after,
        });
    }

    /// The ledger first: a character that may still be in world somewhere goes back there
    /// (which re-attaches it) or waits.
    fn select_for(&self, now: Duration, req: PlaceRequest) -> Selection {
        let holder = self
            .holds
            .holder_for(req.guid.0, req.session.0, now)
            .cloned();
        #[cfg(feature = "canaries")]
        let holder =
            holder.filter(|_| self.cfg.canary != Some(crate::session::Canary::IgnoreHolds));
        let Some(holder) = holder else {
            return self.select_avoiding(now, req);
        };
        if req.exclude.contains(&holder) {
            return Selection::Wait("the character may still be in world where it cannot go");
        }
        if self.view.is_stale(now) {
            return Selection::Wait("registry view is stale");
        }
        match self.view.get(&holder) {
            // Back where it may still be: that re-attaches it. A degraded worldserver keeps
            // its players, and this is one of them.
            Some(s)
                if matches!(s.health, Health::Admitting | Health::Degraded)
                    && req.map.is_none_or(|m| s.info.serves(m)) =>
            {
                Selection::Place(s.info.server.clone())
            }
            _ => Selection::Wait("the character may still be in world on another worldserver"),
        }
    }

    fn select_avoiding(&self, now: Duration, req: PlaceRequest) -> Selection {
        if let Some(p) = &req.prefer
            && !self.view.is_stale(now)
            && !req.exclude.contains(p)
            && let Some(s) = self.view.get(p)
            && s.health == Health::Admitting
            && req.map.is_none_or(|m| s.info.serves(m))
            && s.info.serves_realm(self.cfg.realm_id)
        {
            return Selection::Place(s.info.server.clone());
        }
        let mut request = PlacementRequest {
            map: req.map,
            realm: self.cfg.realm_id,
            sticky: None,
            exclude: req.exclude,
        };
        if req.avoid.is_empty() {
            return self.view.select(now, &request);
        }
        let strict = request.exclude.len();
        request.exclude.extend(req.avoid);
        match self.view.select(now, &request) {
            Selection::Place(s) => Selection::Place(s),
            _ => {
                request.exclude.truncate(strict);
                self.view.select(now, &request)
            }
        }
    }

    /// Canary: new players go to the map's first owner whatever its health.
    #[cfg(feature = "canaries")]
    fn canary_place_on_first_owner(&self, map: Option<u32>, selection: Selection) -> Selection {
        let Some(map) = map else {
            return selection;
        };
        if self.cfg.canary != Some(crate::session::Canary::PlaceOnDegraded) {
            return selection;
        }
        let servers: Vec<_> = self.view.servers().map(|s| s.info.clone()).collect();
        super::owner_of(&servers, map)
            .map(|w| Selection::Place(w.server.clone()))
            .unwrap_or(selection)
    }
}

#[cfg(test)]
mod tests;
