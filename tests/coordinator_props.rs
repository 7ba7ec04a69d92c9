//! The cluster coordinator under any sequence of session events, registry answers, connection
//! results and operator commands: no placement breaks the ledger or the health rule.
//!
//! The judge keeps its own model of what the operator drained and when the registry last
//! answered, and its own ledger fed the same session events, rather than asking the
//! coordinator.

use std::collections::BTreeSet;
use std::time::Duration;

use proptest::prelude::*;
use waygate::cluster::coordinator::{
    ConnectOutcome, Coordinator, CoordinatorConfig, PlaceRequest, PlacementClass,
};
use waygate::cluster::holds::{HoldPolicy, Holds};
use waygate::cluster::view::{Health, HealthPolicy, Selection};
use waygate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
use waygate::session::{CharacterGuid, Departure, SeamError, SessionEvent, SessionId};

/// (id, maps): two owners of map 0, one of map 1, one that serves every map.
const SERVERS: [(&str, &[u32]); 4] = [("a", &[0]), ("a2", &[0]), ("b", &[1]), ("all", &[])];
const MAPS: [u32; 3] = [0, 1, 571];
const STALE_AFTER_MS: u64 = 30_000;

fn id(i: usize) -> WorldserverId {
    WorldserverId(SERVERS[i].0.into())
}

fn info(i: usize, p99: Option<u32>) -> WorldserverInfo {
    WorldserverInfo {
        server: WorldserverRef {
            id: id(i),
            address: format!("{}:8085", SERVERS[i].0),
        },
        maps: SERVERS[i].1.to_vec(),
        world_update_p99_ms: p99,
        loading_maps: Vec::new(),
        alias: String::new(),
        realm_id: None,
        crossrealm: false,
    }
}

fn set(mask: u8) -> Vec<WorldserverId> {
    (0..SERVERS.len())
        .filter(|i| mask & (1 << i) != 0)
        .map(id)
        .collect()
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Registry {
        listed: u8,
        slow: u8,
    },
    RegistryFails,
    LoginSent {
        session: u64,
        guid: u64,
        ws: usize,
    },
    Left {
        session: u64,
        guid: u64,
        ws: usize,
        how: u8,
    },
    Entered {
        ws: usize,
        slow: bool,
    },
    Connect {
        ws: usize,
        outcome: u8,
    },
    Drain {
        ws: usize,
        on: bool,
    },
    Place {
        session: u64,
        guid: u64,
        map: usize,
        exclude: u8,
        avoid: u8,
        prefer: Option<usize>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let ws = 0..SERVERS.len();
    prop_oneof![
        (0u64..40_000).prop_map(Op::Advance),
        (any::<u8>(), any::<u8>()).prop_map(|(listed, slow)| Op::Registry { listed, slow }),
        Just(Op::RegistryFails),
        (1u64..4, 1u64..4, ws.clone()).prop_map(|(session, guid, ws)| Op::LoginSent {
            session,
            guid,
            ws
        }),
        (1u64..4, 1u64..4, ws.clone(), 0u8..3).prop_map(|(session, guid, ws, how)| Op::Left {
            session,
            guid,
            ws,
            how
        }),
        (ws.clone(), any::<bool>()).prop_map(|(ws, slow)| Op::Entered { ws, slow }),
        (ws.clone(), 0u8..3).prop_map(|(ws, outcome)| Op::Connect { ws, outcome }),
        (ws, any::<bool>()).prop_map(|(ws, on)| Op::Drain { ws, on }),
        (
            (1u64..4, 1u64..4, 0..MAPS.len()),
            (
                any::<u8>(),
                any::<u8>(),
                proptest::option::of(0..SERVERS.len())
            ),
        )
            .prop_map(
                |((session, guid, map), (exclude, avoid, prefer))| Op::Place {
                    session,
                    guid,
                    map,
                    exclude: exclude & 0x0f & !0x01, // rarely exclude everything
                    avoid,
                    prefer,
                }
            ),
    ]
}

fn config() -> CoordinatorConfig {
    CoordinatorConfig {
        health: HealthPolicy {
            registry_stale_after_ms: STALE_AFTER_MS,
            ..HealthPolicy::default()
        },
        hold: HoldPolicy {
            linger_ms: 60_000,
            margin_ms: 5_000,
        },
        slow_login_ms: 2_000,
        layer_switch_request_ttl_ms: 30_000,
        realm_id: 1,
        #[cfg(feature = "canaries")]
        canary: None,
    }
}

/// What the judge knows from outside the coordinator.
struct Model {
    now: Duration,
    drains: BTreeSet<WorldserverId>,
    registry_ok_at: Option<Duration>,
    listed: BTreeSet<WorldserverId>,
    holds: Holds,
}

impl Model {
    fn stale(&self) -> bool {
        self.registry_ok_at
            .is_none_or(|at| self.now.saturating_sub(at) > Duration::from_millis(STALE_AFTER_MS))
    }
}

fn event(c: &mut Coordinator, m: &mut Model, session: u64, guid: u64, e: SessionEvent) {
    c.handle_session_event(m.now, SessionId(session), Some(CharacterGuid(guid)), &e);
    match e {
        SessionEvent::LoginSent { worldserver } => {
            m.holds.live(guid, &worldserver, session, m.now);
        }
        SessionEvent::CharacterLeft {
            worldserver, how, ..
        } => match how {
            Departure::Released => m.holds.released(guid, &worldserver, session),
            Departure::Refused => m.holds.refused(guid, &worldserver, session),
            Departure::Lost => m.holds.lost(guid, &worldserver, session, m.now),
        },
        _ => {}
    }
}

fn apply(c: &mut Coordinator, m: &mut Model, op: Op) -> Result<(), TestCaseError> {
    match op {
        Op::Advance(ms) => m.now += Duration::from_millis(ms),
        Op::Registry { listed, slow } => {
            let list: Vec<_> = (0..SERVERS.len())
                .filter(|i| listed & (1 << i) != 0)
                .map(|i| info(i, Some(if slow & (1 << i) != 0 { 900 } else { 100 })))
                .collect();
            c.handle_registry(m.now, Ok(&list));
            m.registry_ok_at = Some(m.now);
            m.listed = list.iter().map(|i| i.server.id.clone()).collect();
        }
        Op::RegistryFails => {
            let e = SeamError {
                service: "registry",
                detail: "unreachable".into(),
                retryable: true,
            };
            c.handle_registry(m.now, Err(&e));
        }
        Op::LoginSent { session, guid, ws } => {
            let e = SessionEvent::LoginSent {
                worldserver: id(ws),
            };
            event(c, m, session, guid, e);
        }
        Op::Left {
            session,
            guid,
            ws,
            how,
        } => {
            let how = [Departure::Released, Departure::Refused, Departure::Lost][how as usize];
            let e = SessionEvent::CharacterLeft {
                guid: CharacterGuid(guid),
                worldserver: id(ws),
                how,
            };
            event(c, m, session, guid, e);
        }
        Op::Entered { ws, slow } => {
            let e = SessionEvent::EnteredWorld {
                worldserver: id(ws),
                took_ms: 0,
                world_ms: if slow { 5_000 } else { 100 },
            };
            c.handle_session_event(m.now, SessionId(0), None, &e);
        }
        Op::Connect { ws, outcome } => {
            let outcome = [
                ConnectOutcome::Opened,
                ConnectOutcome::Refused,
                ConnectOutcome::Failed,
            ][outcome as usize];
            c.handle_connect(m.now, &id(ws), outcome);
            match outcome {
                ConnectOutcome::Opened => m.holds.reachable(&id(ws), m.now),
                ConnectOutcome::Refused => m.holds.confirmed_down(&id(ws), m.now),
                ConnectOutcome::Failed => {}
            }
        }
        Op::Drain { ws, on } => {
            c.set_draining(m.now, &id(ws), on);
            if on {
                m.drains.insert(id(ws));
            } else {
                m.drains.remove(&id(ws));
            }
        }
        Op::Place {
            session,
            guid,
            map,
            exclude,
            avoid,
            prefer,
        } => {
            let prefer = prefer.map(id);
            place(
                c,
                m,
                session,
                guid,
                MAPS[map],
                set(exclude),
                set(avoid),
                prefer,
            )?
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn place(
    c: &mut Coordinator,
    m: &Model,
    session: u64,
    guid: u64,
    map: u32,
    exclude: Vec<WorldserverId>,
    avoid: Vec<WorldserverId>,
    prefer: Option<WorldserverId>,
) -> Result<(), TestCaseError> {
    let req = PlaceRequest {
        session: SessionId(session),
        guid: CharacterGuid(guid),
        map: Some(map),
        exclude: exclude.clone(),
        avoid,
        prefer,
    };
    let (selection, class) = c.place(m.now, req);
    let holder = m.holds.holder_for(guid, session, m.now).cloned();
    match selection {
        Selection::Place(s) => {
            let health = c.view().get(&s.id).map(|st| st.health);
            prop_assert_eq!(
                class,
                PlacementClass::Placed(health.unwrap_or(Health::Down))
            );
            prop_assert!(!m.stale(), "placed on {} with a stale registry view", s.id);
            prop_assert!(m.listed.contains(&s.id), "placed on {}, not listed", s.id);
            prop_assert!(!exclude.contains(&s.id), "placed on excluded {}", s.id);
            prop_assert!(!m.drains.contains(&s.id), "placed on drained {}", s.id);
            let i = SERVERS.iter().position(|(n, _)| *n == s.id.0).unwrap();
            prop_assert!(
                SERVERS[i].1.is_empty() || SERVERS[i].1.contains(&map),
                "placed on {} which does not serve map {map}",
                s.id
            );
            match holder {
                // The ledger: back where the character may still be, nowhere else.
                Some(h) => {
                    prop_assert_eq!(&h, &s.id, "character {} held elsewhere", guid);
                    prop_assert!(
                        matches!(health, Some(Health::Admitting | Health::Degraded)),
                        "re-attach on {} while {:?}",
                        s.id,
                        health
                    );
                }
                // The health rule: nobody new on a worldserver that does not admit.
                None => prop_assert_eq!(health, Some(Health::Admitting), "new player on {}", s.id),
            }
        }
        Selection::Refuse(_) => {
            prop_assert_eq!(class, PlacementClass::Refused);
            let serves = m.listed.iter().any(|w| {
                let i = SERVERS.iter().position(|(n, _)| *n == w.0).unwrap();
                SERVERS[i].1.is_empty() || SERVERS[i].1.contains(&map)
            });
            prop_assert!(
                !serves,
                "refused map {map} though a listed worldserver serves it"
            );
        }
        Selection::Wait(_) => prop_assert_eq!(class, PlacementClass::Waited),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_placement_breaks_the_ledger_or_the_health_rule(ops in proptest::collection::vec(op(), 1..80)) {
        let mut c = Coordinator::new(config());
        let mut m = Model {
            now: Duration::from_secs(1),
            drains: BTreeSet::new(),
            registry_ok_at: None,
            listed: BTreeSet::new(),
            holds: Holds::new(config().hold),
        };
        for op in ops {
            apply(&mut c, &mut m, op)?;
            // The operator's drains reach the view that every decision asks.
            for d in &m.drains {
                if let Some(st) = c.view().get(d) {
                    prop_assert!(
                        matches!(st.health, Health::Draining | Health::Down),
                        "{} is drained but the view says {:?}", d, st.health
                    );
                }
            }
        }
    }
}

/// Regression: the operator's drain never reached the view, so a layer switch to a drained
/// worldserver was accepted and the view said Admitting.
#[test]
fn a_drain_reaches_the_view_and_refuses_layer_switches() {
    let mut c = Coordinator::new(config());
    let now = Duration::from_secs(1);
    c.handle_registry(now, Ok(&[info(0, None), info(1, None)]));
    c.set_draining(now, &id(0), true);
    assert_eq!(
        c.view().get(&id(0)).map(|s| s.health),
        Some(Health::Draining)
    );
    assert_eq!(
        c.switch_layer(now, CharacterGuid(1), &id(0)),
        Err(
            waygate::cluster::coordinator::LayerSwitchRefused::NotAdmitting(
                id(0),
                Health::Draining
            )
        )
    );
    // A registry refresh keeps it draining; undraining admits again.
    c.handle_registry(now, Ok(&[info(0, None), info(1, None)]));
    assert_eq!(
        c.view().get(&id(0)).map(|s| s.health),
        Some(Health::Draining)
    );
    c.set_draining(now, &id(0), false);
    assert_eq!(
        c.view().get(&id(0)).map(|s| s.health),
        Some(Health::Admitting)
    );
    assert_eq!(c.switch_layer(now, CharacterGuid(1), &id(0)), Ok(()));
}
