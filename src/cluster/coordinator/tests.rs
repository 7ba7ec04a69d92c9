//! The coordinator's inputs one at a time, judged by what it answers and polls.

use super::*;
use crate::cluster::WorldserverRef;

fn id(name: &str) -> WorldserverId {
    WorldserverId(name.into())
}

fn info(name: &str, maps: &[u32]) -> WorldserverInfo {
    WorldserverInfo {
        server: WorldserverRef {
            id: id(name),
            address: format!("{name}:8085"),
        },
        maps: maps.to_vec(),
        world_update_p99_ms: None,
        loading_maps: Vec::new(),
        alias: String::new(),
        realm_id: Some(1),
        crossrealm: false,
    }
}

fn config() -> CoordinatorConfig {
    CoordinatorConfig {
        health: HealthPolicy::default(),
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

const T0: Duration = Duration::from_secs(100);

/// A coordinator that knows worldservers "a" (maps 0 and 1) and "b" (every map).
fn two() -> Coordinator {
    let mut c = Coordinator::new(config());
    c.handle_registry(T0, Ok(&[info("a", &[0, 1]), info("b", &[])]));
    c
}

fn health(c: &Coordinator, name: &str) -> Option<Health> {
    c.view().get(&id(name)).map(|s| s.health)
}

fn changes(c: &mut Coordinator) -> Vec<(String, Option<Health>, Option<Health>)> {
    std::iter::from_fn(|| c.poll_health_change())
        .map(|h| (h.worldserver.0, h.before, h.after))
        .collect()
}

fn event(c: &mut Coordinator, session: u64, e: SessionEvent) {
    c.handle_session_event(T0, SessionId(session), Some(CharacterGuid(7)), &e);
}

#[test]
fn refusals_say_what_was_refused() {
    assert_eq!(
        LayerSwitchRefused::UnknownWorldserver(id("x")).to_string(),
        "layer switch to unknown worldserver x"
    );
    assert_eq!(
        LayerSwitchRefused::NotAdmitting(id("x"), Health::Draining).to_string(),
        "layer switch to x, which is Draining"
    );
    assert_eq!(
        LayerSwitchRefused::TooManyPending.to_string(),
        format!("layer switch refused: {LAYER_SWITCHES_PENDING_MAX} already waiting")
    );
}

#[test]
fn slow_logins_and_handoffs_degrade_a_worldserver_and_prompt_ones_bring_it_back() {
    let mut c = two();
    let slow = config().slow_login_ms + 1;
    for _ in 0..3 {
        let e = SessionEvent::EnteredWorld {
            worldserver: id("a"),
            took_ms: slow,
            world_ms: slow,
        };
        event(&mut c, 1, e);
    }
    assert_eq!(health(&c, "a"), Some(Health::Degraded));
    assert_eq!(
        changes(&mut c),
        vec![(
            "a".to_owned(),
            Some(Health::Admitting),
            Some(Health::Degraded)
        )]
    );
    for _ in 0..3 {
        let e = SessionEvent::HandoffCompleted {
            from: id("b"),
            to: id("a"),
            took_ms: 1,
            world_ms: config().slow_login_ms,
        };
        event(&mut c, 1, e);
    }
    assert_eq!(
        health(&c, "a"),
        Some(Health::Admitting),
        "at the bound is prompt"
    );
    for _ in 0..3 {
        let e = SessionEvent::HandoffCompleted {
            from: id("a"),
            to: id("b"),
            took_ms: 1,
            world_ms: slow,
        };
        event(&mut c, 1, e);
    }
    assert_eq!(health(&c, "b"), Some(Health::Degraded));
    assert_eq!(health(&c, "a"), Some(Health::Admitting));
}

#[test]
fn a_character_left_frees_its_hold_or_leaves_it_lingering() {
    let mut c = two();
    let guid = CharacterGuid(7);
    let left = |how| SessionEvent::CharacterLeft {
        guid,
        worldserver: id("a"),
        how,
    };
    event(
        &mut c,
        1,
        SessionEvent::LoginSent {
            worldserver: id("a"),
        },
    );
    assert_eq!(c.holder(guid, T0), Some(&id("a")));
    event(&mut c, 1, left(Departure::Released));
    assert_eq!(c.holder(guid, T0), None);

    event(
        &mut c,
        2,
        SessionEvent::LoginSent {
            worldserver: id("a"),
        },
    );
    event(&mut c, 2, left(Departure::Refused));
    assert_eq!(c.holder(guid, T0), None, "a refused login took nothing");
    assert!(!c.poll_probe_wanted());

    event(
        &mut c,
        3,
        SessionEvent::LoginSent {
            worldserver: id("a"),
        },
    );
    event(&mut c, 3, left(Departure::Lost));
    assert_eq!(c.holder(guid, T0), Some(&id("a")), "it may linger there");
    assert!(c.poll_probe_wanted());
    assert!(!c.poll_probe_wanted(), "reading clears it");
    assert_eq!(c.probes(), vec![info("a", &[0, 1]).server]);
    // Reachable now: the linger clock runs, and the hold ends after linger and margin.
    c.handle_connect(T0, &id("a"), ConnectOutcome::Opened);
    assert!(c.probes().is_empty());
    assert_eq!(c.holder(guid, T0 + Duration::from_secs(64)), Some(&id("a")));
    assert_eq!(c.holder(guid, T0 + Duration::from_secs(66)), None);
}

#[test]
fn a_session_event_without_a_character_holds_nothing() {
    let mut c = two();
    let e = SessionEvent::LoginSent {
        worldserver: id("a"),
    };
    c.handle_session_event(T0, SessionId(1), None, &e);
    assert_eq!(c.holder(CharacterGuid(7), T0), None);
}

#[test]
fn a_refused_connection_ends_lingering_holds_and_failures_take_a_worldserver_down() {
    let mut c = two();
    let guid = CharacterGuid(7);
    event(
        &mut c,
        1,
        SessionEvent::LoginSent {
            worldserver: id("a"),
        },
    );
    let lost = SessionEvent::CharacterLeft {
        guid,
        worldserver: id("a"),
        how: Departure::Lost,
    };
    event(&mut c, 1, lost);
    c.handle_connect(
        T0 + Duration::from_secs(1),
        &id("a"),
        ConnectOutcome::Refused,
    );
    assert_eq!(
        c.holder(guid, T0 + Duration::from_secs(1)),
        None,
        "the process that lingered it is gone"
    );
    assert_eq!(health(&c, "a"), Some(Health::Admitting), "one failure");
    for _ in 0..2 {
        c.handle_connect(T0, &id("a"), ConnectOutcome::Failed);
    }
    assert_eq!(health(&c, "a"), Some(Health::Degraded), "three failures");
    for _ in 0..3 {
        c.handle_connect(T0, &id("a"), ConnectOutcome::Failed);
    }
    assert_eq!(health(&c, "a"), Some(Health::Down), "six failures");
    // A failed connection does not end a hold: the process may still be there.
    event(
        &mut c,
        2,
        SessionEvent::LoginSent {
            worldserver: id("b"),
        },
    );
    event(
        &mut c,
        2,
        SessionEvent::CharacterLeft {
            guid,
            worldserver: id("b"),
            how: Departure::Lost,
        },
    );
    c.handle_connect(T0, &id("b"), ConnectOutcome::Failed);
    assert_eq!(c.holder(guid, T0), Some(&id("b")));
    assert_eq!(c.probes(), vec![info("b", &[]).server]);
}

#[test]
fn players_moving_are_the_load_the_view_counts() {
    let mut c = two();
    let players = |c: &Coordinator, name: &str| c.view().get(&id(name)).map(|s| s.players);
    c.handle_player_moved(None, Some(&id("a")));
    c.handle_player_moved(None, Some(&id("a")));
    assert_eq!((players(&c, "a"), players(&c, "b")), (Some(2), Some(0)));
    c.handle_player_moved(Some(&id("a")), Some(&id("b")));
    assert_eq!((players(&c, "a"), players(&c, "b")), (Some(1), Some(1)));
    c.handle_player_moved(Some(&id("b")), None);
    assert_eq!((players(&c, "a"), players(&c, "b")), (Some(1), Some(0)));
}

#[test]
fn a_layer_switch_is_kept_until_its_time_to_live_and_taken_once() {
    let mut c = two();
    let (one, two_) = (CharacterGuid(1), CharacterGuid(2));
    assert_eq!(c.switch_layer(T0, one, &id("b")), Ok(()));
    assert!(c.poll_wake_sessions());
    // Another request a moment later keeps the first.
    let later = T0 + Duration::from_secs(1);
    assert_eq!(c.switch_layer(later, two_, &id("b")), Ok(()));
    let order = c.move_for(later, Some(one), Some(&id("a")), true, Some(0));
    assert_eq!(order, Some(MoveOrder::LayerSwitch(info("b", &[]).server)));
    assert_eq!(
        c.move_for(later, Some(one), Some(&id("a")), true, Some(0)),
        None,
        "taken once"
    );
    // Not taken within its time to live: forgotten.
    let ttl = Duration::from_millis(config().layer_switch_request_ttl_ms);
    let expired = later + ttl + Duration::from_millis(1);
    assert_eq!(
        c.move_for(expired, Some(two_), Some(&id("a")), true, Some(0)),
        None,
        "expired"
    );
    assert_eq!(
        c.switch_layer(T0, one, &id("nowhere")),
        Err(LayerSwitchRefused::UnknownWorldserver(id("nowhere")))
    );
}

#[test]
fn pending_layer_switches_have_a_bound_that_a_repeated_request_does_not_hit() {
    let mut c = two();
    for g in 0..LAYER_SWITCHES_PENDING_MAX as u64 {
        assert_eq!(c.switch_layer(T0, CharacterGuid(g), &id("b")), Ok(()));
    }
    let full = CharacterGuid(LAYER_SWITCHES_PENDING_MAX as u64);
    assert_eq!(
        c.switch_layer(T0, full, &id("b")),
        Err(LayerSwitchRefused::TooManyPending)
    );
    assert_eq!(c.switch_layer(T0, CharacterGuid(0), &id("b")), Ok(()));
    // Once they expire, the full table makes room.
    let ttl = Duration::from_millis(config().layer_switch_request_ttl_ms);
    assert_eq!(
        c.switch_layer(T0 + ttl, full, &id("b")),
        Err(LayerSwitchRefused::TooManyPending)
    );
    let expired = T0 + ttl + Duration::from_millis(1);
    assert_eq!(c.switch_layer(expired, full, &id("b")), Ok(()));
    let order = c.move_for(expired, Some(full), Some(&id("a")), true, Some(0));
    assert_eq!(order, Some(MoveOrder::LayerSwitch(info("b", &[]).server)));
}

#[test]
fn a_layer_switch_is_good_through_its_time_to_live_and_only_in_world() {
    let mut c = two();
    let one = CharacterGuid(1);
    let ttl = Duration::from_millis(config().layer_switch_request_ttl_ms);
    assert_eq!(c.switch_layer(T0, one, &id("b")), Ok(()));
    assert_eq!(
        c.move_for(T0, Some(one), Some(&id("a")), false, Some(0)),
        None,
        "not while anything else is under way"
    );
    let order = c.move_for(T0 + ttl, Some(one), Some(&id("a")), true, Some(0));
    assert_eq!(order, Some(MoveOrder::LayerSwitch(info("b", &[]).server)));
    assert_eq!(c.poll_dropped_switch(), None);
}

#[test]
fn a_switch_whose_destination_stopped_admitting_is_dropped_and_said() {
    let mut c = two();
    let one = CharacterGuid(1);
    assert_eq!(c.switch_layer(T0, one, &id("b")), Ok(()));
    c.set_draining(T0, &id("b"), true);
    assert_eq!(
        c.move_for(T0, Some(one), Some(&id("a")), true, Some(0)),
        None
    );
    assert_eq!(c.poll_dropped_switch(), Some(id("b")));
    assert_eq!(c.poll_dropped_switch(), None, "reading clears it");
    // A switch to a worldserver that does not serve the map is dropped too.
    c.set_draining(T0, &id("b"), false);
    assert_eq!(c.switch_layer(T0, one, &id("a")), Ok(()));
    assert_eq!(
        c.move_for(T0, Some(one), Some(&id("b")), true, Some(571)),
        None
    );
    assert_eq!(c.poll_dropped_switch(), Some(id("a")));
}

#[test]
fn a_drain_moves_players_in_world_and_is_listed() {
    let mut c = two();
    assert!(c.drains().is_empty());
    c.set_draining(T0, &id("a"), true);
    assert_eq!(c.drains().iter().collect::<Vec<_>>(), vec![&id("a")]);
    assert!(c.poll_wake_sessions());
    assert!(!c.poll_wake_sessions(), "reading clears it");
    assert_eq!(
        c.move_for(T0, None, Some(&id("a")), true, None),
        Some(MoveOrder::Drain(id("a")))
    );
    assert_eq!(c.move_for(T0, None, Some(&id("a")), false, None), None);
    assert_eq!(c.move_for(T0, None, Some(&id("b")), true, None), None);
    assert_eq!(c.move_for(T0, None, None, true, None), None);
    c.set_draining(T0, &id("a"), false);
    assert!(c.drains().is_empty());
}

#[test]
fn imported_holds_are_honoured_and_their_time_left_told() {
    let mut c = two();
    let guid = CharacterGuid(7);
    c.import_holds(T0, &[(guid, id("a"), Some(10_000))]);
    assert_eq!(c.holder(guid, T0), Some(&id("a")));
    assert_eq!(c.hold_left(guid, T0), Some((&id("a"), Some(10_000))));
    assert_eq!(c.holder(guid, T0 + Duration::from_millis(10_001)), None);
    assert_eq!(c.poll_holds_dropped(), 0);
}

#[test]
fn holds_dropped_past_the_ledgers_bound_are_counted_once() {
    use crate::cluster::holds::HOLDS_MAX;
    let mut c = two();
    let holds: Vec<_> = (0..=HOLDS_MAX as u64)
        .map(|g| (CharacterGuid(g), id("a"), Some(60_000)))
        .collect();
    c.import_holds(T0, &holds);
    assert_eq!(c.poll_holds_dropped(), 1);
    assert_eq!(c.poll_holds_dropped(), 0, "reading clears it");
}

#[test]
fn health_changes_wait_in_order_until_polled() {
    let mut c = two();
    c.set_draining(T0, &id("a"), true);
    c.set_draining(T0, &id("b"), true);
    assert_eq!(
        changes(&mut c),
        vec![
            (
                "a".to_owned(),
                Some(Health::Admitting),
                Some(Health::Draining)
            ),
            (
                "b".to_owned(),
                Some(Health::Admitting),
                Some(Health::Draining)
            ),
        ]
    );
}

fn request(session: u64, map: u32, avoid: &[&str]) -> PlaceRequest {
    PlaceRequest {
        session: SessionId(session),
        guid: CharacterGuid(7),
        map: Some(map),
        exclude: Vec::new(),
        avoid: avoid.iter().map(|w| id(w)).collect(),
        prefer: None,
    }
}

#[test]
fn a_character_that_may_still_be_in_world_goes_back_there() {
    let mut c = two();
    event(
        &mut c,
        1,
        SessionEvent::LoginSent {
            worldserver: id("a"),
        },
    );
    let lost = SessionEvent::CharacterLeft {
        guid: CharacterGuid(7),
        worldserver: id("a"),
        how: Departure::Lost,
    };
    event(&mut c, 1, lost);
    // Another session for the same character: back to "a", admitting or degraded.
    let (selection, _) = c.place(T0, request(2, 0, &[]));
    assert_eq!(selection, Selection::Place(info("a", &[0, 1]).server));
    for _ in 0..3 {
        c.handle_connect(T0, &id("a"), ConnectOutcome::Failed);
    }
    assert_eq!(health(&c, "a"), Some(Health::Degraded));
    let (selection, _) = c.place(T0, request(2, 0, &[]));
    assert_eq!(selection, Selection::Place(info("a", &[0, 1]).server));
    // A map "a" does not serve: it waits rather than go elsewhere.
    let (selection, class) = c.place(T0, request(2, 571, &[]));
    assert!(matches!(selection, Selection::Wait(_)), "{selection:?}");
    assert_eq!(class, PlacementClass::Waited);
}

#[test]
fn an_avoided_worldserver_is_chosen_only_when_nobody_else_can_take_the_character() {
    let mut c = Coordinator::new(config());
    c.handle_registry(T0, Ok(&[info("a", &[0]), info("c", &[0])]));
    for _ in 0..3 {
        c.handle_player_moved(None, Some(&id("c")));
    }
    // "a" is the less loaded owner; avoiding it takes "c".
    let (selection, _) = c.place(T0, request(1, 0, &[]));
    assert_eq!(selection, Selection::Place(info("a", &[0]).server));
    let (selection, _) = c.place(T0, request(1, 0, &["a"]));
    assert_eq!(selection, Selection::Place(info("c", &[0]).server));
    // Avoiding both: still placed, on the policy's choice.
    let (selection, _) = c.place(T0, request(1, 0, &["a", "c"]));
    assert_eq!(selection, Selection::Place(info("a", &[0]).server));
}
