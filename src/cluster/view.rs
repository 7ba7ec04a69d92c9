//! The gateway's view of the cluster: worldservers, their maps and an explicit health state
//! with hysteresis, plus the selection policy. Sans-IO: observations and registry answers
//! come in with `now`; nothing is read from a clock.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::{WorldserverId, WorldserverInfo, WorldserverRef};
use crate::wire::packets::LoginFailure;

/// A worldserver's health as the gateway sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Health {
    /// Takes new players.
    Admitting,
    /// Keeps its players and its maps, admits nobody new (world loop slow, probes failing).
    Degraded,
    /// Its players are being moved away; admits nobody.
    Draining,
    /// Gone.
    Down,
}

/// One observation of a worldserver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// It answered and its world loop is within bounds.
    Healthy,
    /// It answered slowly, or its world-update time is over the bound.
    Slow,
    /// It did not answer (connect failed, metrics timed out).
    Failed,
    /// Its process is confirmed gone (the registry or an operator says so).
    ConfirmedDown,
}

/// Hysteresis thresholds: health never flips on one probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthPolicy {
    /// Consecutive bad probes (slow or failed) that take an Admitting worldserver to Degraded.
    pub bad_probes_to_degrade: u32,
    /// Consecutive failed probes that take a worldserver to Down.
    pub failed_probes_to_down: u32,
    /// Consecutive healthy probes that bring a Degraded or Down worldserver back to Admitting.
    pub good_probes_to_admit: u32,
    /// With no registry answer for this long, the view is stale: no new placements.
    pub registry_stale_after_ms: u64,
    /// A registry answer whose world-update p99 is over this is a slow probe, else a healthy
    /// one.
    pub slow_world_update_ms: u32,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            bad_probes_to_degrade: 3,
            failed_probes_to_down: 6,
            good_probes_to_admit: 3,
            registry_stale_after_ms: 30_000,
            slow_world_update_ms: 500,
        }
    }
}

/// What the gateway knows of one worldserver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldserverState {
    /// Identity, address and maps.
    pub info: WorldserverInfo,
    /// Health.
    pub health: Health,
    /// Players the gateway has placed there and not yet moved away.
    pub players: u32,
    /// Health from the probes and the registry alone, the operator's drain aside: what an
    /// undrain returns to (a worldserver that degraded before or during a drain is still
    /// degraded after it).
    base: Health,
    bad_streak: u32,
    failed_streak: u32,
    good_streak: u32,
    draining: bool,
    /// In the registry's last answer. A worldserver the registry dropped stays Down whatever
    /// the gateway's own probes say, until the registry lists it again.
    listed: bool,
}

impl WorldserverState {
    /// Health as placements see it: Down while the registry does not list it, Draining while
    /// the operator drains it (unless Down), else what the probes say.
    fn effective(&self) -> Health {
        if !self.listed {
            Health::Down
        } else if self.draining && self.base != Health::Down {
            Health::Draining
        } else {
            self.base
        }
    }
}

/// A placement request: pure input of the selection policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementRequest {
    /// The map the character is on or going to; `None`: any map (a character-screen request,
    /// which any worldserver of the realm can carry out).
    pub map: Option<u32>,
    /// The character's realm: only worldservers of that realm, or cross-realm ones, take it.
    pub realm: u32,
    /// The worldserver the registry binds the player's group to, if any.
    pub sticky: Option<WorldserverId>,
    /// Worldservers not to use (for example the one being left).
    pub exclude: Vec<WorldserverId>,
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Place the player here.
    Place(WorldserverRef),
    /// Nobody can take the player now, but someone may soon: wait (with backoff) and ask again.
    Wait(&'static str),
    /// Nobody serves the map at all: fail the login with this code.
    Refuse(LoginFailure),
}

/// The cluster view.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    policy: HealthPolicy,
    servers: BTreeMap<WorldserverId, WorldserverState>,
    refreshed_at: Option<Duration>,
}

impl ClusterView {
    /// An empty view.
    pub fn new(policy: HealthPolicy) -> Self {
        Self {
            policy,
            servers: BTreeMap::new(),
            refreshed_at: None,
        }
    }

    /// The registry answered with the current list. Known worldservers keep their health and
    /// counters; new ones start Admitting; ones missing from the list are Down until it lists
    /// them again (and healthy probes bring them back). A measured
    /// world-update time is one probe of each worldserver (slow over the policy's bound).
    pub fn apply_registry(&mut self, now: Duration, list: &[WorldserverInfo]) {
        for info in list {
            self.servers
                .entry(info.server.id.clone())
                .and_modify(|s| {
                    s.info = info.clone();
                    s.listed = true;
                })
                .or_insert_with(|| WorldserverState {
                    info: info.clone(),
                    health: Health::Admitting,
                    players: 0,
                    base: Health::Admitting,
                    bad_streak: 0,
                    failed_streak: 0,
                    good_streak: 0,
                    draining: false,
                    listed: true,
                });
        }
        for (id, s) in self.servers.iter_mut() {
            if !list.iter().any(|i| &i.server.id == id) {
                s.base = Health::Down;
                s.listed = false;
                s.health = s.effective();
            }
        }
        for info in list {
            if let Some(p99) = info.world_update_p99_ms {
                let probe = if p99 > self.policy.slow_world_update_ms {
                    Probe::Slow
                } else {
                    Probe::Healthy
                };
                self.observe(&info.server.id, probe);
            }
        }
        self.refreshed_at = Some(now);
    }

    /// Whether the view is too old to place anyone.
    pub fn is_stale(&self, now: Duration) -> bool {
        match self.refreshed_at {
            None => true,
            Some(at) => {
                now.saturating_sub(at) > Duration::from_millis(self.policy.registry_stale_after_ms)
            }
        }
    }

    /// One observation of a worldserver. Returns the health after it.
    pub fn observe(&mut self, id: &WorldserverId, probe: Probe) -> Option<Health> {
        let p = self.policy;
        let s = self.servers.get_mut(id)?;
        match probe {
            Probe::Healthy => {
                s.bad_streak = 0;
                s.failed_streak = 0;
                s.good_streak = s.good_streak.saturating_add(1);
                if matches!(s.base, Health::Degraded | Health::Down)
                    && s.good_streak >= p.good_probes_to_admit
                {
                    s.base = Health::Admitting;
                }
            }
            Probe::Slow | Probe::Failed => {
                s.good_streak = 0;
                s.bad_streak = s.bad_streak.saturating_add(1);
                if probe == Probe::Failed {
                    s.failed_streak = s.failed_streak.saturating_add(1);
                } else {
                    s.failed_streak = 0;
                }
                if s.failed_streak >= p.failed_probes_to_down {
                    s.base = Health::Down;
                } else if s.base == Health::Admitting && s.bad_streak >= p.bad_probes_to_degrade {
                    s.base = Health::Degraded;
                }
            }
            Probe::ConfirmedDown => {
                s.good_streak = 0;
                s.base = Health::Down;
            }
        }
        s.health = s.effective();
        Some(s.health)
    }

    /// An operator (or the registry) starts or stops draining a worldserver.
    pub fn set_draining(&mut self, id: &WorldserverId, draining: bool) {
        if let Some(s) = self.servers.get_mut(id) {
            s.draining = draining;
            s.health = s.effective();
        }
    }

    /// A player was placed on, or left, a worldserver.
    pub fn count_player(&mut self, id: &WorldserverId, joined: bool) {
        if let Some(s) = self.servers.get_mut(id) {
            s.players = if joined {
                s.players.saturating_add(1)
            } else {
                s.players.saturating_sub(1)
            };
        }
    }

    /// A worldserver's state.
    pub fn get(&self, id: &WorldserverId) -> Option<&WorldserverState> {
        self.servers.get(id)
    }

    /// All worldservers, ordered by id.
    pub fn servers(&self) -> impl Iterator<Item = &WorldserverState> {
        self.servers.values()
    }

    /// The selection policy, a pure function of the view and the request:
    /// 1. a stale view places nobody (wait);
    /// 2. among Admitting worldservers that list the map, the sticky one if it is among them,
    ///    else the least loaded (ties: lowest id);
    /// 3. else, when an Admitting owner is still loading the map, wait for it (the map is
    ///    about to be ready where the registry wants it);
    /// 4. else the least loaded Admitting worldserver that serves every map;
    /// 5. else wait if some owner may come back (Degraded, Draining, Down), or refuse with
    ///    NO_WORLD when nobody serves the map at all.
    ///
    /// A request for any map (`map: None`) counts every worldserver of the realm as an owner:
    /// the least loaded Admitting one, else wait or refuse as above.
    pub fn select(&self, now: Duration, req: &PlacementRequest) -> Selection {
        if self.is_stale(now) {
            return Selection::Wait("registry view is stale");
        }
        let usable = |s: &&WorldserverState| {
            s.health == Health::Admitting && !req.exclude.contains(&s.info.server.id)
        };
        let owners: Vec<&WorldserverState> = self
            .servers
            .values()
            .filter(|s| {
                req.map.is_none_or(|m| s.info.maps.contains(&m)) && s.info.serves_realm(req.realm)
            })
            .collect();
        let least_loaded = |list: Vec<&WorldserverState>| {
            list.into_iter()
                .min_by(|a, b| (a.players, &a.info.server.id).cmp(&(b.players, &b.info.server.id)))
                .map(|s| s.info.server.clone())
        };
        let loading =
            |s: &&WorldserverState| req.map.is_some_and(|m| s.info.loading_maps.contains(&m));
        let admitting_owners: Vec<&WorldserverState> = owners
            .iter()
            .copied()
            .filter(usable)
            .filter(|s| !loading(s))
            .collect();
        if let Some(sticky) = &req.sticky
            && let Some(s) = admitting_owners
                .iter()
                .find(|s| &s.info.server.id == sticky)
        {
            return Selection::Place(s.info.server.clone());
        }
        if let Some(s) = least_loaded(admitting_owners) {
            return Selection::Place(s);
        }
        if owners.iter().any(|s| usable(s) && loading(s)) {
            return Selection::Wait("the map is still loading on its owner");
        }
        let all_maps: Vec<&WorldserverState> = self
            .servers
            .values()
            .filter(|s| s.info.maps.is_empty() && s.info.serves_realm(req.realm))
            .collect();
        if let Some(s) = least_loaded(all_maps.iter().copied().filter(usable).collect()) {
            return Selection::Place(s);
        }
        if owners.is_empty() && all_maps.is_empty() {
            Selection::Refuse(LoginFailure::NO_WORLD)
        } else {
            Selection::Wait("no admitting worldserver serves the map")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn info(id: &str, maps: &[u32]) -> WorldserverInfo {
        WorldserverInfo {
            server: WorldserverRef {
                id: WorldserverId(id.into()),
                address: format!("{id}:1"),
            },
            maps: maps.to_vec(),
            world_update_p99_ms: None,
            loading_maps: Vec::new(),
            alias: String::new(),
            realm_id: None,
            crossrealm: false,
        }
    }

    fn id(s: &str) -> WorldserverId {
        WorldserverId(s.into())
    }

    fn req(map: u32) -> PlacementRequest {
        PlacementRequest {
            map: Some(map),
            realm: 1,
            sticky: None,
            exclude: vec![],
        }
    }

    const NOW: Duration = Duration::from_secs(1);

    #[test]
    fn one_bad_probe_never_flips_health() {
        let mut v = ClusterView::new(HealthPolicy::default());
        v.apply_registry(NOW, &[info("a", &[0])]);
        assert_eq!(v.observe(&id("a"), Probe::Failed), Some(Health::Admitting));
        assert_eq!(v.observe(&id("a"), Probe::Healthy), Some(Health::Admitting));
        assert_eq!(v.observe(&id("a"), Probe::Slow), Some(Health::Admitting));
        assert_eq!(v.observe(&id("a"), Probe::Slow), Some(Health::Admitting));
        assert_eq!(v.observe(&id("a"), Probe::Slow), Some(Health::Degraded));
        // Coming back takes m good probes in a row.
        assert_eq!(v.observe(&id("a"), Probe::Healthy), Some(Health::Degraded));
        assert_eq!(v.observe(&id("a"), Probe::Healthy), Some(Health::Degraded));
        assert_eq!(v.observe(&id("a"), Probe::Healthy), Some(Health::Admitting));
        for _ in 0..5 {
            v.observe(&id("a"), Probe::Failed);
        }
        assert_eq!(v.observe(&id("a"), Probe::Failed), Some(Health::Down));
    }

    #[test]
    fn degraded_owner_falls_back_to_an_all_maps_node() {
        let mut v = ClusterView::new(HealthPolicy::default());
        v.apply_registry(NOW, &[info("ek", &[0]), info("any", &[])]);
        assert_eq!(
            v.select(NOW, &req(0)),
            Selection::Place(info("ek", &[0]).server)
        );
        for _ in 0..3 {
            v.observe(&id("ek"), Probe::Slow);
        }
        assert_eq!(
            v.select(NOW, &req(0)),
            Selection::Place(info("any", &[]).server)
        );
    }

    #[test]
    fn nobody_admitting_waits_and_nobody_serving_refuses() {
        let mut v = ClusterView::new(HealthPolicy::default());
        v.apply_registry(NOW, &[info("ek", &[0])]);
        v.set_draining(&id("ek"), true);
        assert!(matches!(v.select(NOW, &req(0)), Selection::Wait(_)));
        assert_eq!(
            v.select(NOW, &req(1)),
            Selection::Refuse(LoginFailure::NO_WORLD)
        );
    }

    /// Found by the simulator's admission oracle (swarm seed 524): an undrain made a
    /// worldserver whose world was slow (Degraded before and during the drain) Admitting at
    /// once, without the good probes the rule asks for.
    #[test]
    fn an_undrain_returns_to_the_health_the_probes_say() {
        let mut v = ClusterView::new(HealthPolicy::default());
        v.apply_registry(NOW, &[info("ek", &[0])]);
        let p = HealthPolicy::default();
        for _ in 0..p.bad_probes_to_degrade {
            v.observe(&id("ek"), Probe::Slow);
        }
        v.set_draining(&id("ek"), true);
        assert_eq!(v.get(&id("ek")).map(|s| s.health), Some(Health::Draining));
        v.set_draining(&id("ek"), false);
        assert_eq!(
            v.get(&id("ek")).map(|s| s.health),
            Some(Health::Degraded),
            "still slow: degraded, not admitting"
        );
        // Degrading while drained counts too.
        let mut v = ClusterView::new(p);
        v.apply_registry(NOW, &[info("ek", &[0])]);
        v.set_draining(&id("ek"), true);
        for _ in 0..p.bad_probes_to_degrade {
            v.observe(&id("ek"), Probe::Slow);
        }
        v.set_draining(&id("ek"), false);
        assert_eq!(v.get(&id("ek")).map(|s| s.health), Some(Health::Degraded));
        for _ in 0..p.good_probes_to_admit {
            v.observe(&id("ek"), Probe::Healthy);
        }
        assert_eq!(v.get(&id("ek")).map(|s| s.health), Some(Health::Admitting));
    }

    #[test]
    fn stale_view_places_nobody() {
        let mut v = ClusterView::new(HealthPolicy::default());
        v.apply_registry(NOW, &[info("ek", &[0])]);
        let later =
            NOW + Duration::from_millis(HealthPolicy::default().registry_stale_after_ms + 1);
        assert!(matches!(v.select(later, &req(0)), Selection::Wait(_)));
        v.apply_registry(later, &[info("ek", &[0])]);
        assert!(matches!(v.select(later, &req(0)), Selection::Place(_)));
    }

    #[test]
    fn only_worldservers_of_the_realm_or_cross_realm_ones_take_a_player() {
        let mut v = ClusterView::new(HealthPolicy::default());
        let mut other = info("other", &[0]);
        other.realm_id = Some(2);
        v.apply_registry(NOW, &[other.clone()]);
        assert_eq!(
            v.select(NOW, &req(0)),
            Selection::Refuse(LoginFailure::NO_WORLD),
            "another realm's worldserver serves nobody here"
        );
        let mut cross = info("cross", &[]);
        cross.realm_id = Some(2);
        cross.crossrealm = true;
        let mut own = info("own", &[0]);
        own.realm_id = Some(1);
        v.apply_registry(NOW, &[other.clone(), cross.clone()]);
        assert!(matches!(v.select(NOW, &req(0)), Selection::Place(w) if w.id == id("cross")));
        v.apply_registry(NOW, &[other, cross, own]);
        assert!(matches!(v.select(NOW, &req(0)), Selection::Place(w) if w.id == id("own")));
    }

    #[test]
    fn a_map_still_loading_on_its_owner_waits_rather_than_going_elsewhere() {
        let mut v = ClusterView::new(HealthPolicy::default());
        let mut ek = info("ek", &[0]);
        ek.loading_maps = vec![0];
        v.apply_registry(NOW, &[ek.clone(), info("any", &[])]);
        assert!(matches!(v.select(NOW, &req(0)), Selection::Wait(_)));
        ek.loading_maps.clear();
        v.apply_registry(NOW, &[ek, info("any", &[])]);
        assert!(matches!(v.select(NOW, &req(0)), Selection::Place(w) if w.id == id("ek")));
    }

    #[test]
    fn registry_world_update_time_degrades_and_restores_with_hysteresis() {
        let p = HealthPolicy::default();
        let mut v = ClusterView::new(p);
        let measured = |ms: u32| {
            let mut i = info("ek", &[0]);
            i.world_update_p99_ms = Some(ms);
            i
        };
        let slow = p.slow_world_update_ms + 1;
        let health = |v: &ClusterView| v.get(&id("ek")).map(|s| s.health);
        for n in 1..p.bad_probes_to_degrade {
            v.apply_registry(NOW, &[measured(slow)]);
            assert_eq!(
                health(&v),
                Some(Health::Admitting),
                "after {n} slow answers"
            );
        }
        v.apply_registry(NOW, &[measured(slow)]);
        assert_eq!(health(&v), Some(Health::Degraded));
        // An answer without a measurement is no probe at all.
        v.apply_registry(NOW, &[info("ek", &[0])]);
        for _ in 1..p.good_probes_to_admit {
            v.apply_registry(NOW, &[measured(p.slow_world_update_ms)]);
            assert_eq!(health(&v), Some(Health::Degraded));
        }
        v.apply_registry(NOW, &[measured(p.slow_world_update_ms)]);
        assert_eq!(health(&v), Some(Health::Admitting));
    }

    /// Regression (found by the coordinator's property test): a worldserver the registry
    /// dropped came back to Admitting after three healthy logins that had been placed there
    /// before, and took new players the registry no longer knew about.
    #[test]
    fn a_worldserver_the_registry_dropped_stays_down_until_listed_again() {
        let p = HealthPolicy::default();
        let mut v = ClusterView::new(p);
        v.apply_registry(NOW, &[info("ek", &[0]), info("any", &[])]);
        v.apply_registry(NOW, &[info("any", &[])]);
        for _ in 0..p.good_probes_to_admit * 2 {
            assert_eq!(v.observe(&id("ek"), Probe::Healthy), Some(Health::Down));
        }
        assert!(matches!(v.select(NOW, &req(0)), Selection::Place(w) if w.id == id("any")));
        // Listed again: back through the usual hysteresis.
        v.apply_registry(NOW, &[info("ek", &[0]), info("any", &[])]);
        for _ in 0..p.good_probes_to_admit {
            v.observe(&id("ek"), Probe::Healthy);
        }
        assert_eq!(v.get(&id("ek")).map(|s| s.health), Some(Health::Admitting));
    }

    #[test]
    fn a_worldserver_of_other_maps_or_another_realm_never_takes_the_map() {
        let mut other_realm = info("far", &[]);
        other_realm.realm_id = Some(2);
        let mut v = ClusterView::new(HealthPolicy::default());
        v.apply_registry(NOW, &[info("ek", &[0]), info("kal", &[1]), other_realm]);
        v.set_draining(&id("ek"), true);
        // Neither the owner of map 1 nor another realm's all-maps node is a fallback.
        assert!(matches!(v.select(NOW, &req(0)), Selection::Wait(_)));
        // An owner that loads the map but may not admit anyone is no reason to wait: the
        // realm's all-maps node takes the player.
        let mut loading = info("ek", &[0]);
        loading.loading_maps = vec![0];
        let mut v = ClusterView::new(HealthPolicy::default());
        v.apply_registry(NOW, &[loading, info("any", &[])]);
        v.set_draining(&id("ek"), true);
        assert_eq!(
            v.select(NOW, &req(0)),
            Selection::Place(info("any", &[]).server)
        );
    }

    #[test]
    fn the_view_goes_stale_only_after_the_policys_bound() {
        let policy = HealthPolicy::default();
        let bound = Duration::from_millis(policy.registry_stale_after_ms);
        let mut v = ClusterView::new(policy);
        assert!(v.is_stale(NOW), "never refreshed");
        v.apply_registry(NOW, &[info("b", &[1]), info("a", &[0])]);
        assert!(!v.is_stale(NOW + bound));
        assert!(v.is_stale(NOW + bound + Duration::from_millis(1)));
        let ids: Vec<&str> = v.servers().map(|s| s.info.server.id.0.as_str()).collect();
        assert_eq!(ids, vec!["a", "b"], "every worldserver, in id order");
    }

    #[test]
    fn sticky_group_binding_wins_among_admitting_owners() {
        let mut v = ClusterView::new(HealthPolicy::default());
        v.apply_registry(NOW, &[info("a", &[0]), info("b", &[0])]);
        v.count_player(&id("b"), true);
        assert_eq!(
            v.select(NOW, &req(0)),
            Selection::Place(info("a", &[0]).server)
        );
        let sticky = PlacementRequest {
            sticky: Some(id("b")),
            ..req(0)
        };
        assert_eq!(
            v.select(NOW, &sticky),
            Selection::Place(info("b", &[0]).server)
        );
    }

    #[test]
    fn any_map_takes_the_least_loaded_admitting_worldserver_of_the_realm() {
        let mut v = ClusterView::new(HealthPolicy::default());
        let mut other_realm = info("c", &[]);
        other_realm.realm_id = Some(2);
        v.apply_registry(NOW, &[info("a", &[0]), info("b", &[1]), other_realm]);
        v.count_player(&id("a"), true);
        let any = PlacementRequest {
            map: None,
            ..req(0)
        };
        assert_eq!(
            v.select(NOW, &any),
            Selection::Place(info("b", &[1]).server)
        );
        let not_b = PlacementRequest {
            exclude: vec![id("b")],
            ..any.clone()
        };
        assert_eq!(
            v.select(NOW, &not_b),
            Selection::Place(info("a", &[0]).server)
        );
        v.set_draining(&id("a"), true);
        assert!(matches!(v.select(NOW, &not_b), Selection::Wait(_)));
        let later = NOW + Duration::from_secs(3_600);
        assert!(
            matches!(v.select(later, &any), Selection::Wait(_)),
            "stale view"
        );
        let mut fresh = ClusterView::new(HealthPolicy::default());
        fresh.apply_registry(NOW, &[]);
        assert_eq!(
            fresh.select(NOW, &any),
            Selection::Refuse(LoginFailure::NO_WORLD)
        );
    }

    fn health() -> impl Strategy<Value = Option<Probe>> {
        prop_oneof![
            Just(None),
            Just(Some(Probe::Slow)),
            Just(Some(Probe::Failed)),
            Just(Some(Probe::ConfirmedDown)),
        ]
    }

    proptest! {
        /// Never a Degraded, Draining or Down choice while an Admitting one could serve; always
        /// an owner of the map or an all-maps node.
        #[test]
        fn selection_is_safe(
            servers in prop::collection::vec(
                (prop::collection::vec(0u32..4, 0..3), health(), any::<bool>(), 0u32..50),
                1..7,
            ),
            map in 0u32..5,
        ) {
            let mut v = ClusterView::new(HealthPolicy::default());
            let infos: Vec<WorldserverInfo> = servers
                .iter()
                .enumerate()
                .map(|(i, (maps, ..))| info(&format!("w{i}"), maps))
                .collect();
            v.apply_registry(NOW, &infos);
            for (i, (_, probe, drain, players)) in servers.iter().enumerate() {
                let wid = id(&format!("w{i}"));
                if let Some(p) = probe {
                    for _ in 0..10 {
                        v.observe(&wid, *p);
                    }
                }
                v.set_draining(&wid, *drain);
                for _ in 0..*players {
                    v.count_player(&wid, true);
                }
            }
            let serves = |s: &WorldserverState| s.info.maps.contains(&map) || s.info.maps.is_empty();
            let any_admitting = v.servers().any(|s| serves(s) && s.health == Health::Admitting);
            match v.select(NOW, &req(map)) {
                Selection::Place(chosen) => {
                    let s = v.get(&chosen.id).expect("chosen exists");
                    prop_assert_eq!(s.health, Health::Admitting);
                    prop_assert!(serves(s), "chosen does not serve the map");
                    // An explicit owner that admits is always preferred to an all-maps node.
                    let owner_admits = v.servers().any(|s| s.info.maps.contains(&map) && s.health == Health::Admitting);
                    if owner_admits {
                        prop_assert!(s.info.maps.contains(&map));
                    }
                }
                Selection::Wait(_) | Selection::Refuse(_) => prop_assert!(!any_admitting),
            }
        }
    }
}
