//! The cluster as the gateway sees it: worldservers and which maps they own. Sans-IO.
//!
//! - identities and map ownership (this file);
//! - [`view`]: the cluster view with an explicit health state per worldserver (hysteresis,
//!   staleness) and the selection policy;
//! - [`backoff`]: the checked retry/backoff policy;
//! - [`holds`]: the no-dual-presence ledger (which worldserver may hold each character);
//! - [`fence`]: account fencing across gateways (records, claim steps, liveness, lease);
//! - [`coordinator`]: the one value that owns the view, the ledger, the operator's drains and
//!   pending layer switches, and makes every placement and move decision.

pub mod backoff;
pub mod coordinator;
pub mod fence;
pub mod holds;
pub mod view;

use std::fmt;

/// A worldserver's registry id (ToCloud9 `Server.ID`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorldserverId(pub String);

impl fmt::Debug for WorldserverId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for WorldserverId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where to reach a worldserver: what a placement answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldserverRef {
    /// Registry id.
    pub id: WorldserverId,
    /// Game address, `host:port`, cluster mode (plain TCP).
    pub address: String,
}

/// A worldserver as the registry lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldserverInfo {
    /// Id and address.
    pub server: WorldserverRef,
    /// Maps it owns; empty means every map.
    pub maps: Vec<u32>,
    /// The 99th percentile of its world-update time, as the registry last measured it
    /// (ToCloud9's `GameServerDetailed.diff.percentile99`); `None` when the registry does not
    /// know. A worldserver never calls itself slow, so this is how its world loop is judged.
    pub world_update_p99_ms: Option<u32>,
    /// Maps assigned to it that it is still loading (ToCloud9: in `assignedMaps`, not yet in
    /// `availableMaps`): nobody is placed there on them yet.
    pub loading_maps: Vec<u32>,
    /// Its display name (ToCloud9 `alias`), for logs.
    pub alias: String,
    /// The realm it serves; `None` when the registry does not say (any realm).
    pub realm_id: Option<u32>,
    /// It serves every realm (ToCloud9 `isCrossRealm`: battlegrounds, dungeon finder).
    pub crossrealm: bool,
}

impl WorldserverInfo {
    /// Whether this worldserver serves `map`.
    pub fn serves(&self, map: u32) -> bool {
        self.maps.is_empty() || self.maps.contains(&map)
    }

    /// Whether this worldserver takes players of `realm`.
    pub fn serves_realm(&self, realm: u32) -> bool {
        self.crossrealm || self.realm_id.is_none_or(|r| r == realm)
    }
}

/// The first worldserver, in registry order, that serves `map`: a worldserver that lists the
/// map wins over one that serves every map.
pub fn owner_of(servers: &[WorldserverInfo], map: u32) -> Option<&WorldserverInfo> {
    servers
        .iter()
        .find(|w| w.maps.contains(&map))
        .or_else(|| servers.iter().find(|w| w.maps.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(id: &str, maps: &[u32]) -> WorldserverInfo {
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

    #[test]
    fn explicit_owner_beats_all_maps_node() {
        let servers = [ws("all", &[]), ws("kalimdor", &[1]), ws("ek", &[0])];
        assert_eq!(
            owner_of(&servers, 1).map(|w| w.server.id.0.as_str()),
            Some("kalimdor")
        );
        assert_eq!(
            owner_of(&servers, 571).map(|w| w.server.id.0.as_str()),
            Some("all")
        );
        assert!(owner_of(&servers[1..], 571).is_none());
    }

    #[test]
    fn a_worldserver_serves_its_maps_or_every_map_when_it_lists_none() {
        let kalimdor = ws("kalimdor", &[1, 369]);
        assert!(kalimdor.serves(1) && kalimdor.serves(369));
        assert!(!kalimdor.serves(0));
        let all = ws("all", &[]);
        assert!(all.serves(0) && all.serves(571));
    }

    #[test]
    fn a_worldserver_serves_its_realm_any_realm_when_it_names_none_or_all_when_crossrealm() {
        let mut w = ws("a", &[]);
        assert!(w.serves_realm(1) && w.serves_realm(2));
        w.realm_id = Some(1);
        assert!(w.serves_realm(1));
        assert!(!w.serves_realm(2));
        w.crossrealm = true;
        assert!(w.serves_realm(2));
    }

    #[test]
    fn an_id_prints_as_itself() {
        let id = WorldserverId("ws-1".into());
        assert_eq!(format!("{id}"), "ws-1");
        assert_eq!(format!("{id:?}"), "ws-1");
        assert_eq!(format!("{:?}", Some(&id)), "Some(ws-1)");
    }
}
