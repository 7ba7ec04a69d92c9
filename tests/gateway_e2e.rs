//! End to end on real loopback sockets: bot -> gateway -> fake cluster-mode worldservers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use waygate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
use waygate::driver::{Delivery, DriverConfig, Gateway, serve};
use waygate::peers::bot::{BotConfig, BotError, BotReport, BotStep, run_bot};
use waygate::peers::worldserver::{
    FakeCharacter, FakeTiming, FakeWorldConfig, FakeWorldserver, Presence,
};
use waygate::present::ClusterEvent;
use waygate::runtime::{Entropy, MemoryBus, Seams, StaticCluster};
use waygate::session::{
    AccountId, AccountRecord, Announcement, CharacterGuid, CharacterRecord, SessionConfig,
};
use waygate::wire::packets::{LoginFailure, Position, char_result};
use waygate::wire::{Opcode, SessionKey};

/// Every wait in this file is bounded by this.
const WAIT: Duration = Duration::from_secs(20);

const ALICE: u64 = 1;
const BOB: u64 = 2;

fn key(i: u8) -> SessionKey {
    SessionKey([i; 40])
}

struct Cluster {
    gateway: std::net::SocketAddr,
    gw: Arc<Gateway>,
    bus: Arc<MemoryBus>,
    worlds: Vec<FakeWorldserver>,
    _stop: tokio::sync::watch::Sender<bool>,
}

/// Two worldservers: ws-ek owns map 0, ws-kal map 1. Alice (account A) and Bob (account B).
async fn cluster() -> Cluster {
    let characters = vec![
        FakeCharacter {
            guid: ALICE,
            account: "A".into(),
            name: "Alice".into(),
            map: 0,
            position: Position::default(),
            loads: true,
        },
        FakeCharacter {
            guid: BOB,
            account: "B".into(),
            name: "Bob".into(),
            map: 0,
            position: Position::default(),
            loads: true,
        },
    ];
    let mut worlds = Vec::new();
    let mut infos = Vec::new();
    for (id, maps) in [("ws-ek", vec![0]), ("ws-kal", vec![1])] {
        let fake = FakeWorldserver::new(FakeWorldConfig {
            id: id.into(),
            accounts: vec!["A".into(), "B".into()],
            characters: characters.clone(),
            timing: FakeTiming::default(),
            echo_opcode: None,
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let serving = fake.clone();
        tokio::spawn(async move {
            let _ = serving.serve(listener).await;
        });
        infos.push(WorldserverInfo {
            server: WorldserverRef {
                id: WorldserverId(id.into()),
                address: addr.to_string(),
            },
            maps,
            world_update_p99_ms: None,
            loading_maps: Vec::new(),
            alias: String::new(),
            realm_id: None,
            crossrealm: false,
        });
        worlds.push(fake);
    }
    let record = |guid: u64, account: u32, name: &str| CharacterRecord {
        guid: CharacterGuid(guid),
        account: AccountId(account),
        name: name.into(),
        race: 1,
        class: 1,
        gender: 0,
        level: 10,
        appearance: [0; 5],
        map: 0,
        zone: 12,
        x: 0.0,
        y: 0.0,
        z: 0.0,
        guild_id: 0,
    };
    let account = |id: u32, name: &str, k: u8| AccountRecord {
        id: AccountId(id),
        name: name.into(),
        session_key: key(k),
        banned: false,
        locked: false,
    };
    let cluster = Arc::new(StaticCluster::new(
        vec![account(1, "A", 1), account(2, "B", 2)],
        vec![record(ALICE, 1, "Alice"), record(BOB, 2, "Bob")],
        infos,
    ));
    let bus = Arc::new(MemoryBus::default());
    let seams = Seams {
        events: bus.clone(),
        ..Seams::embedded(cluster)
    };
    let gateway = Gateway::new(
        seams,
        DriverConfig {
            session: SessionConfig::default(),
            max_connections: 100,
            write_timeout_ms: 5_000,
            shutdown_timeout_ms: 1_000,
            cluster: Default::default(),
        },
        Entropy::seeded(7),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(serve(gateway.clone(), listener, rx));
    Cluster {
        gateway: addr,
        gw: gateway,
        bus,
        worlds,
        _stop: stop,
    }
}

fn alice(script: Vec<BotStep>) -> BotConfig {
    BotConfig {
        account: "A".into(),
        session_key: key(1),
        realm_id: 1,
        seed: 1,
        character: ALICE,
        script,
        step_timeout_ms: 10_000,
        max_body_bytes: 1 << 22,
        movement_seq_start: 0,
    }
}

async fn play(c: &Cluster, cfg: BotConfig) -> (BotReport, Result<(), BotError>) {
    let stream = TcpStream::connect(c.gateway).await.expect("connect");
    tokio::time::timeout(WAIT, run_bot(stream, cfg))
        .await
        .expect("bot finishes in time")
}

/// Waits (bounded) until `cond` holds.
async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_thousand_packets_each_way_arrive_intact_and_in_order() {
    let c = cluster().await;
    let mut script = vec![
        BotStep::Authenticate,
        BotStep::CharacterScreen,
        BotStep::EnterWorld,
    ];
    let body = |i: u32, len: usize| -> Bytes {
        let mut v = i.to_le_bytes().to_vec();
        v.resize(len.max(4), (i % 251) as u8);
        v.into()
    };
    let sent: Vec<Bytes> = (0..1_000u32)
        .map(|i| {
            body(
                i,
                if i == 500 {
                    10_000
                } else {
                    8 + (i as usize % 64)
                },
            )
        })
        .collect();
    for b in &sent {
        script.push(BotStep::Send {
            opcode: Opcode::MSG_MOVE_HEARTBEAT,
            body: b.clone(),
        });
    }
    script.push(BotStep::ExpectPackets {
        opcode: Opcode::SMSG_MESSAGECHAT,
        count: 1_000,
    });
    let ek = c.worlds[0].clone();
    let pushed: Vec<Bytes> = (0..1_000u32)
        .map(|i| {
            body(
                i,
                if i == 700 {
                    40 * 1024
                } else {
                    16 + (i as usize % 200)
                },
            )
        })
        .collect();
    let to_push = pushed.clone();
    let pusher = tokio::spawn(async move {
        until("Alice in world on ws-ek", || {
            ek.presence(ALICE) == Presence::InWorld
        })
        .await;
        for b in to_push {
            assert!(ek.push(ALICE, Opcode::SMSG_MESSAGECHAT, b));
        }
    });
    let (report, result) = play(&c, alice(script)).await;
    result.expect("the bot's script completes");
    pusher.await.expect("pusher");
    let got: Vec<Bytes> = report
        .received
        .iter()
        .filter(|(op, _)| *op == Opcode::SMSG_MESSAGECHAT)
        .map(|(_, b)| b.clone())
        .collect();
    assert_eq!(got.len(), 1_000);
    assert!(
        got == pushed,
        "server packets arrive intact and in order (40 KiB one included)"
    );
    let ek = &c.worlds[0];
    until("the world handled every client packet", || {
        ek.received(ALICE)
            .iter()
            .filter(|(op, _)| *op == Opcode::MSG_MOVE_HEARTBEAT)
            .count()
            == 1_000
    })
    .await;
    let world_got: Vec<Bytes> = ek
        .received(ALICE)
        .into_iter()
        .filter(|(op, _)| *op == Opcode::MSG_MOVE_HEARTBEAT)
        .map(|(_, b)| b)
        .collect();
    assert!(
        world_got == sent,
        "client packets arrive intact and in order (10,000-byte one included)"
    );
}

#[tokio::test]
async fn map_change_moves_the_bot_between_worldservers() {
    let c = cluster().await;
    let script = vec![
        BotStep::Authenticate,
        BotStep::CharacterScreen,
        BotStep::EnterWorld,
        BotStep::ChangeMap {
            map: 1,
            x: 1.0,
            y: 2.0,
            z: 3.0,
        },
        BotStep::Chatter {
            packets: 3,
            interval_ms: 10,
            body_bytes: 32,
        },
        BotStep::Logout,
    ];
    let (report, result) = play(&c, alice(script)).await;
    result.expect("the bot's script completes");
    assert_eq!((report.logins, report.handoffs), (1, 1));
    let (ek, kal) = (&c.worlds[0], &c.worlds[1]);
    assert_eq!(
        ek.presence(ALICE),
        Presence::Absent,
        "released by the old worldserver"
    );
    assert!(
        kal.received(ALICE)
            .iter()
            .any(|(op, _)| *op == Opcode::MSG_MOVE_HEARTBEAT)
    );
    assert!(
        kal.received(ALICE)
            .iter()
            .any(|(op, _)| *op == Opcode::CMSG_LOGOUT_REQUEST)
    );
}

#[tokio::test]
async fn login_of_another_accounts_character_fails_without_a_worldserver() {
    let c = cluster().await;
    let mut cfg = alice(vec![
        BotStep::Authenticate,
        BotStep::CharacterScreen,
        BotStep::EnterWorld,
    ]);
    cfg.character = BOB;
    // The character screen step insists the character is listed; skip it for this attack.
    cfg.script = vec![BotStep::Authenticate, BotStep::EnterWorld];
    let (report, result) = play(&c, cfg).await;
    assert!(
        matches!(result, Err(BotError::LoginFailed(code)) if code == LoginFailure::NO_CHARACTER.0)
    );
    assert_eq!(report.login_failed, Some(LoginFailure::NO_CHARACTER.0));
    for w in &c.worlds {
        assert_eq!(w.connections(), 0, "no worldserver was contacted");
        assert_eq!(w.presence(BOB), Presence::Absent);
    }
}

#[tokio::test]
async fn logout_and_disconnect_close_the_worldserver_connection() {
    let c = cluster().await;
    let script = vec![
        BotStep::Authenticate,
        BotStep::CharacterScreen,
        BotStep::EnterWorld,
        BotStep::Disconnect,
    ];
    let (_, result) = play(&c, alice(script)).await;
    result.expect("script");
    let ek = c.worlds[0].clone();
    until("the gateway closed its worldserver connection", || {
        ek.connections() == 0
    })
    .await;
    // An unclean close in world leaves the player lingering, as the real server does.
    assert_eq!(ek.presence(ALICE), Presence::Lingering);
}

#[tokio::test]
async fn a_player_who_quits_in_world_stays_held_by_its_worldserver() {
    let c = cluster().await;
    until("the registry view", || c.gw.view().servers().count() == 2).await;
    assert_eq!(
        c.gw.switch_layer(CharacterGuid(ALICE), &WorldserverId("ws-nowhere".into())),
        Err(waygate::driver::LayerSwitchRefused::UnknownWorldserver(
            WorldserverId("ws-nowhere".into())
        ))
    );
    let (_, r) = play(
        &c,
        alice(vec![
            BotStep::Authenticate,
            BotStep::CharacterScreen,
            BotStep::EnterWorld,
            BotStep::Disconnect,
        ]),
    )
    .await;
    r.expect("script");
    until("the session ends", || c.gw.open_sessions() == 0).await;
    // The worldserver keeps Alice in world for its linger: the ledger keeps her there too.
    until("the worldserver lingers the player", || {
        c.worlds[0].presence(ALICE) == waygate::peers::worldserver::Presence::Lingering
    })
    .await;
    assert_eq!(
        c.gw.holder(CharacterGuid(ALICE)),
        Some(WorldserverId("ws-ek".into()))
    );
    // Coming back re-attaches her on the same worldserver.
    let (report, r) = play(
        &c,
        alice(vec![
            BotStep::Authenticate,
            BotStep::CharacterScreen,
            BotStep::EnterWorld,
            BotStep::Logout,
        ]),
    )
    .await;
    r.expect("script");
    assert_eq!(report.logins, 1);
    until("the logout releases her", || {
        c.gw.holder(CharacterGuid(ALICE)).is_none()
    })
    .await;
}

/// The event bus hears the login and, when the client goes away in world, the logout; while
/// the character is in world, cluster events for it reach its session's queue.
#[tokio::test]
async fn a_login_and_its_end_are_announced_and_events_reach_the_player() {
    let c = cluster().await;
    let script = vec![
        BotStep::Authenticate,
        BotStep::CharacterScreen,
        BotStep::EnterWorld,
        BotStep::Disconnect,
    ];
    let (_, result) = play(&c, alice(script)).await;
    result.expect("script");
    until("the logout is announced", || c.bus.published().len() == 2).await;
    let published = c.bus.published();
    assert!(
        matches!(&published[0], Announcement::LoggedIn { account, character }
            if *account == AccountId(1) && character.guid == CharacterGuid(ALICE)),
        "{published:?}"
    );
    assert!(
        matches!(&published[1], Announcement::LoggedOut { guid, name, .. }
            if *guid == CharacterGuid(ALICE) && name == "Alice"),
        "{published:?}"
    );
    let event = ClusterEvent {
        subject: "guild.message.new".into(),
        payload: Bytes::from_static(b"{}"),
    };
    assert_eq!(
        c.gw.players().deliver(CharacterGuid(ALICE), event),
        Delivery::NotHere,
        "nobody to deliver to once the character left"
    );
}

/// Character create and delete go through a worldserver: the gateway opens a connection of
/// its own to one, replays the auth session, forwards the request and relays the answer.
/// The embedded StaticCluster lists the characters of its config, so the created one is not
/// in the next SMSG_CHAR_ENUM: the fake worldserver's store says it exists.
#[tokio::test]
async fn a_character_is_created_then_deleted_through_a_worldserver() {
    let c = cluster().await;
    until("the registry view", || c.gw.view().servers().count() == 2).await;
    let created = BotStep::CreateCharacter {
        name: "Dora".into(),
        expect: char_result::CHAR_CREATE_SUCCESS,
    };
    let taken = BotStep::CreateCharacter {
        name: "DORA".into(),
        expect: char_result::CHAR_CREATE_NAME_IN_USE,
    };
    let (report, result) = play(
        &c,
        alice(vec![
            BotStep::Authenticate,
            BotStep::CharacterScreen,
            created,
            taken,
            // The listing is asked again after a change and still lists Alice.
            BotStep::CharacterScreen,
        ]),
    )
    .await;
    result.expect("the bot's script completes");
    assert_eq!(
        report.char_results,
        vec![
            (Opcode::SMSG_CHAR_CREATE, char_result::CHAR_CREATE_SUCCESS),
            (
                Opcode::SMSG_CHAR_CREATE,
                char_result::CHAR_CREATE_NAME_IN_USE
            )
        ]
    );
    let dora = |w: &FakeWorldserver| w.characters().into_iter().find(|ch| ch.name == "Dora");
    let stored = c
        .worlds
        .iter()
        .find_map(dora)
        .expect("a worldserver stored Dora");
    assert_eq!(stored.account, "A");
    until("the gateway closed its worldserver connections", || {
        c.worlds.iter().all(|w| w.connections() == 0)
    })
    .await;
    let (report, result) = play(
        &c,
        alice(vec![
            BotStep::Authenticate,
            BotStep::CharacterScreen,
            BotStep::DeleteCharacter {
                guid: stored.guid,
                expect: char_result::CHAR_DELETE_SUCCESS,
            },
            BotStep::CharacterScreen,
            BotStep::EnterWorld,
            BotStep::Logout,
        ]),
    )
    .await;
    result.expect("the bot's script completes");
    assert_eq!(
        report.char_results,
        vec![(Opcode::SMSG_CHAR_DELETE, char_result::CHAR_DELETE_SUCCESS)]
    );
    assert_eq!(report.logins, 1, "the login works after the requests");
    assert!(c.worlds.iter().all(|w| dora(w).is_none()), "deleted");
}
