//! The production binary in the ToCloud9 mode, configured by ToCloud9's environment
//! variables alone, against a real MariaDB (`WAYGATE_TEST_AUTH_DB`), a real nats-server
//! (`WAYGATE_TEST_NATS_URL`), in-process servers-registry, charserver, chatserver, guildserver
//! and groupserver fakes, and a fake worldserver that the registry lists. A bot logs in with the
//! session key from the DB and enters the world on the registry's worldserver. There it
//! whispers through chatserver and hears a whisper from NATS, chats in its guild through
//! guildserver, reads its roster and hears a guildmate and the MOTD, sees the group list from groupserver's
//! events and its answer, chats in that group through groupserver, sees a group member's
//! party frame, asks /who of charserver, and
//! logs out. Its state reaches `gw.char.chars-updates`; the logged-in and logged-out events
//! reach NATS with every key; `/healthcheck`, `/readyz` and `/metrics` answer; SIGTERM stops
//! it cleanly. Without the two servers the test fails under
//! CI and is skipped elsewhere (`ci/services/mariadb start`, `ci/services/nats start`).

#![cfg(not(madsim))]

#[path = "common/child.rs"]
mod child;
#[path = "common/nats.rs"]
mod nats;
#[path = "common/tc9.rs"]
mod tc9;
#[path = "common/auth_db.rs"]
mod test_db;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use waygate::adapters::auth_db::SchemaType;
use waygate::adapters::grpc::v1;
use waygate::peers::bot::{BotConfig, BotStep, run_bot};
use waygate::peers::worldserver::{
    FakeCharacter, FakeTiming, FakeWorldConfig, FakeWorldserver, Presence,
};
use waygate::wire::packets::{
    AddFriend, ChannelList, ChannelListRequest, ChannelNotify, ChatMessage, ChatPlayerNotFound,
    ChatTarget, ClientChat, ContactList, ContactListRequest, FriendOnline, FriendStatus, GroupList,
    GuildCommandResult, GuildEvent, GuildInviteRequest, GuildQuery, GuildQueryResponse,
    GuildRoster, GuildSetMotd, InviteToGroup, JoinChannel, LeaveChannel, PartyCommandResult,
    PartyMemberStats, Position, RaidTargets, SetLootMethod, WhoList, WhoRequest, WirePacket,
    channel_notify, chat_type, contact_flag, friend_result, guild_command, guild_error,
    guild_event, member_status, party_operation, party_result,
};
use waygate::wire::{Opcode, SessionKey};

use child::{Running, http_blocking, wait_until};
use tc9::{
    FakeCharacters, FakeChat, FakeGroups, FakeGuilds, FakeRegistry, serve_characters, serve_chat,
    serve_groups, serve_guilds, serve_registry, stored,
};
use test_db::TestDb;

/// Any wait of this test ends by this.
const WAIT: Duration = Duration::from_secs(30);
const GUID: u64 = 1;
const KEY_BYTE: u8 = 0x5A;
/// A player on another gateway, whom chatserver knows.
const BOB: u64 = 77;

fn party_line(text: &str) -> Bytes {
    ClientChat {
        kind: u32::from(chat_type::PARTY),
        language: 7,
        target: ChatTarget::None,
        message: text.into(),
    }
    .to_body()
}

fn guild_line(text: &str) -> Bytes {
    ClientChat {
        kind: u32::from(chat_type::GUILD),
        language: 7,
        target: ChatTarget::None,
        message: text.into(),
    }
    .to_body()
}

fn whisper_to(to: &str, text: &str) -> Bytes {
    ClientChat {
        kind: u32::from(chat_type::WHISPER),
        language: 7,
        target: ChatTarget::Whisper(to.into()),
        message: text.into(),
    }
    .to_body()
}

/// A port nothing listens on now (bound, read, released).
async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr").port()
}

/// `WAYGATE_TEST_AUTH_DB` with the database replaced: the DSN text the gateway is given.
fn dsn_for(database: &str) -> String {
    let admin = std::env::var("WAYGATE_TEST_AUTH_DB").expect("checked by TestDb");
    let (left, right) = admin.rsplit_once('/').expect("a go-sql-driver DSN");
    match right.split_once('?') {
        Some((_, params)) => format!("{left}/{database}?{params}"),
        None => format!("{left}/{database}"),
    }
}

/// One NATS message, as written and as JSON, within [`WAIT`].
async fn next_event(sub: &mut async_nats::Subscriber, what: &str) -> (String, Value) {
    let msg = tokio::time::timeout(WAIT, sub.next())
        .await
        .unwrap_or_else(|_| panic!("no {what} event on NATS within {WAIT:?}"))
        .expect("subscription open");
    let raw = String::from_utf8(msg.payload.to_vec()).expect("UTF-8");
    let json = serde_json::from_str(&raw).expect("the event is JSON");
    (raw, json)
}

/// Asserts that `object` has exactly `keys`, and that `raw` writes them in that order (as
/// Go's encoding/json writes a struct's fields).
fn assert_keys_in_order(raw: &str, object: &Value, keys: &[&str]) {
    let mut have: Vec<&str> = object
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let mut want = keys.to_vec();
    have.sort_unstable();
    want.sort_unstable();
    assert_eq!(have, want, "{raw}");
    let at: Vec<usize> = keys
        .iter()
        .map(|k| raw.find(&format!("\"{k}\":")).expect("written"))
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "{keys:?} in order in {raw}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_a_player_in_the_tocloud9_mode() {
    let Some(nats) = nats::nats_url("tocloud9_e2e") else {
        return;
    };
    let Some(db) = TestDb::create("e2e", SchemaType::AzerothCore).await else {
        return;
    };
    // A realm of its own: other runs on the same nats-server publish other realms.
    let realm = 50_000 + std::process::id() % 10_000;
    let account = db
        .account(SchemaType::AzerothCore, "E2EPLAYER", Some(KEY_BYTE), false)
        .await;

    // The worldserver the registry lists for map 0.
    let world = FakeWorldserver::new(FakeWorldConfig {
        id: "ws-1".into(),
        accounts: vec!["E2EPLAYER".into()],
        characters: vec![FakeCharacter {
            guid: GUID,
            account: "E2EPLAYER".into(),
            name: "Eeto".into(),
            map: 0,
            position: Position::default(),
            loads: true,
        }],
        timing: FakeTiming::default(),
        echo_opcode: None,
    });
    let world_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let world_addr = world_listener.local_addr().expect("addr");
    let serving = world.clone();
    tokio::spawn(async move {
        let _ = serving.serve(world_listener).await;
    });

    let registry = FakeRegistry::default();
    registry.data().game_servers = vec![v1::GameServerDetailed {
        id: "ws-1".into(),
        address: world_addr.to_string(),
        health_address: String::new(),
        grpc_address: String::new(),
        realm_id: realm,
        is_cross_realm: false,
        active_connections: 0,
        diff: None,
        available_maps: Vec::new(),
        assigned_maps: vec![0],
        alias: "WS1".into(),
    }];
    let registry_server = serve_registry(registry.clone(), None).await;
    let characters = FakeCharacters::default();
    let mut eeto = stored(GUID, account, "Eeto");
    eeto.map = 0;
    eeto.zone = 12;
    // Bob, of another account, is stored and online elsewhere: the friend list finds him.
    characters.data().stored = vec![(realm, eeto), (realm, stored(BOB, account + 1, "Bob"))];
    characters.data().whereabouts = vec![(BOB, 1519, 79, 2)];
    characters.data().who = (
        1,
        vec![v1::who_query_response::WhoItem {
            guid: BOB,
            name: "Bob".into(),
            guild: "Nine".into(),
            lvl: 79,
            class: 2,
            race: 1,
            gender: 0,
            zone_id: 1519,
        }],
    );
    let characters_server = serve_characters(characters.clone()).await;
    // chatserver knows one other player online (on another gateway).
    let chat = FakeChat::default();
    chat.data().online = vec![("Bob".into(), BOB)];
    let chat_server = serve_chat(chat.clone()).await;
    let guilds = FakeGuilds::default();
    guilds.data().infos = vec![v1::GetInfoResponse {
        api: "0.0.1".into(),
        guild_id: 9,
        guild_name: "Nine".into(),
        emblem_style: 1,
        emblem_color: 2,
        border_style: 3,
        border_color: 4,
        background_color: 5,
        rank_names: vec!["GM".into(), "Member".into()],
    }];
    guilds.data().rosters = vec![v1::get_roster_info_response::Guild {
        id: 9,
        welcome_text: "Raid at 8".into(),
        info_text: String::new(),
        members: vec![v1::get_roster_info_response::Member {
            guid: BOB,
            name: "Bob".into(),
            status: 1,
            rank_id: 0,
            lvl: 79,
            class_id: 2,
            gender: 0,
            area_id: 1519,
            logout_time: 0,
            note: "tank".into(),
            officer_note: String::new(),
        }],
        ranks: vec![v1::get_roster_info_response::Rank {
            id: 0,
            flags: 0xFF,
            gold_limit: 0,
        }],
    }];
    let guilds_server = serve_guilds(guilds.clone()).await;
    // groupserver knows Eeto's group with Bob.
    let groups = FakeGroups::default();
    let member = |guid: u64, name: &str| v1::get_group_response::GroupMember {
        guid,
        flags: 0,
        name: name.into(),
        is_online: true,
        sub_group: 0,
        roles: 0,
    };
    groups.data().groups = vec![v1::get_group_response::Group {
        id: 4,
        leader: BOB,
        loot_method: 3,
        looter: 0,
        loot_threshold: 2,
        group_type: 0,
        difficulty: 0,
        raid_difficulty: 0,
        master_looter: 0,
        target_icons_list: vec![0, 0, 0, 0, 0, 0, 0, BOB],
        members: vec![member(GUID, "Eeto"), member(BOB, "Bob"), member(78, "Cid")],
    }];
    let groups_server = serve_groups(groups.clone()).await;

    let bus = async_nats::connect(nats.as_str())
        .await
        .expect("NATS answers");
    let mut logged_in = bus.subscribe("gw.char.logged-in").await.expect("sub");
    let mut logged_out = bus.subscribe("gw.char.logged-out").await.expect("sub");
    let mut chars_updates = bus.subscribe("gw.char.chars-updates").await.expect("sub");
    bus.flush().await.expect("flush");

    let (port, health_port) = (free_port().await, free_port().await);
    let scratch = std::env::temp_dir().join(format!("waygate-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let env = [
        ("PORT", port.to_string()),
        ("HEALTH_CHECK_PORT", health_port.to_string()),
        ("REALM_ID", realm.to_string()),
        ("PREFERRED_HOSTNAME", "127.0.0.1".into()),
        ("AUTH_DB_CONNECTION", dsn_for(&db.name)),
        ("DB_SCHEMA_TYPE", "ac".into()),
        (
            "SERVERS_REGISTRY_SERVICE_ADDRESS",
            registry_server.address.to_string(),
        ),
        (
            "CHAR_SERVICE_ADDRESS",
            characters_server.address.to_string(),
        ),
        ("CHAT_SERVICE_ADDRESS", chat_server.address.to_string()),
        ("GUILDS_SERVICE_ADDRESS", guilds_server.address.to_string()),
        ("GROUP_SERVICE_ADDRESS", groups_server.address.to_string()),
        ("NATS_URL", nats.clone()),
        ("LOG_LEVEL", "1".into()),
    ];
    // The environment alone: no config file where the lookup goes (a scratch directory,
    // nothing inherited but PATH).
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_waygate"));
    cmd.arg("serve")
        .current_dir(&scratch)
        .env_clear()
        .envs(std::env::var_os("PATH").map(|p| ("PATH".to_owned(), p)))
        .envs(env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let mut gateway = Running::spawn(&mut cmd);
    let lines = gateway.lines();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let kept = log.clone();
    let (serving_tx, serving_rx) = std::sync::mpsc::channel();
    tokio::task::spawn_blocking(move || {
        for line in lines {
            if line.contains("waygate serving") {
                let _ = serving_tx.send(());
            }
            kept.lock().expect("log").push(line);
        }
    });
    let dump = || log.lock().expect("log").join("\n");
    assert!(
        tokio::task::block_in_place(|| serving_rx.recv_timeout(WAIT)).is_ok(),
        "the gateway never said it was serving:\n{}",
        dump()
    );

    // Registered as ToCloud9's gateway registers.
    let register = registry.data().register_requests.first().cloned();
    let register = register.expect("RegisterGateway was called");
    assert_eq!(register.realm_id, realm);
    assert_eq!(register.game_port, u32::from(port));
    assert_eq!(register.health_port, u32::from(health_port));
    assert_eq!(register.preferred_host_name, "127.0.0.1");

    let ops = format!("127.0.0.1:{health_port}");
    let http = |path: &'static str| {
        let ops = ops.clone();
        tokio::task::block_in_place(move || http_blocking(&ops, "GET", path))
    };
    assert_eq!(http("/healthcheck"), (200, r#"{"status":"OK"}"#.into()));
    // Registered, and the auth DB answers (the gateway asks it at start, not at the first
    // login): ready.
    let ready =
        r#"{"ready":true,"registered":true,"accounts":true,"fencing":true,"draining":false}"#;
    tokio::task::block_in_place(|| {
        wait_until("/readyz ready", || {
            http_blocking(&ops, "GET", "/readyz") == (200, ready.to_owned())
        })
    });

    // The player: the session key is the DB's, the character the charserver's.
    let mut bot = BotConfig::new(
        "E2EPLAYER",
        SessionKey([KEY_BYTE; 40]),
        GUID,
        vec![
            BotStep::Authenticate,
            BotStep::CharacterScreen,
            BotStep::EnterWorld,
            // Eeto is in guild 9: its message of the day and roster come from guildserver
            // as it enters the world.
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_GUILD_EVENT,
                count: 1,
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_GUILD_ROSTER,
                count: 1,
            },
            // Whispers go through chatserver: one to a player online elsewhere, one to
            // nobody.
            BotStep::Send {
                opcode: Opcode::CMSG_MESSAGECHAT,
                body: whisper_to("bob", "hi"),
            },
            BotStep::Send {
                opcode: Opcode::CMSG_MESSAGECHAT,
                body: whisper_to("nobody", "hello?"),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_CHAT_PLAYER_NOT_FOUND,
                count: 1,
            },
            // Eeto is in guild 9: guild chat goes through guildserver.
            BotStep::Send {
                opcode: Opcode::CMSG_MESSAGECHAT,
                body: guild_line("for the guild"),
            },
            // The roster comes from guildserver.
            BotStep::Send {
                opcode: Opcode::CMSG_GUILD_ROSTER,
                body: Bytes::new(),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_GUILD_ROSTER,
                count: 1,
            },
            // The whisper's own line, the guild line's echo, the worldserver's chat line,
            // Bob's whisper and Bob's guild line from NATS.
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_MESSAGECHAT,
                count: 5,
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_GUILD_EVENT,
                count: 1,
            },
            // /who asks charserver.
            BotStep::Send {
                opcode: Opcode::CMSG_WHO,
                body: WhoRequest {
                    level_max: 80,
                    player_name: "bo".into(),
                    ..WhoRequest::default()
                }
                .to_body(),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_WHO,
                count: 1,
            },
            // The friend list is charserver's: Bob is found by name, added, and listed.
            BotStep::Send {
                opcode: Opcode::CMSG_ADD_FRIEND,
                body: AddFriend {
                    name: "bOB".into(),
                    note: "tank".into(),
                }
                .to_body(),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_FRIEND_STATUS,
                count: 1,
            },
            BotStep::Send {
                opcode: Opcode::CMSG_CONTACT_LIST,
                body: ContactListRequest {
                    flags: contact_flag::ALL,
                }
                .to_body(),
            },
            // The first came as the character entered the world (the worldserver's list,
            // replaced by charserver's, empty then).
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_CONTACT_LIST,
                count: 2,
            },
            // The group Bob made: its list from the event, then again from groupserver when
            // Cid joins.
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_GROUP_LIST,
                count: 2,
            },
            // In that group, party chat goes through groupserver and is echoed.
            BotStep::Send {
                opcode: Opcode::CMSG_MESSAGECHAT,
                body: party_line("inc"),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_MESSAGECHAT,
                count: 1,
            },
            // Bob's party frame, from groupserver.
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_PARTY_MEMBER_STATS,
                count: 1,
            },
            // Guild commands are guildserver's: the query, an invitation, the message of
            // the day, then a note (which brings the roster again).
            BotStep::Send {
                opcode: Opcode::CMSG_GUILD_QUERY,
                body: GuildQuery { guild_id: 9 }.to_body(),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_GUILD_QUERY_RESPONSE,
                count: 1,
            },
            BotStep::Send {
                opcode: Opcode::CMSG_GUILD_INVITE,
                body: GuildInviteRequest { name: "bob".into() }.to_body(),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_GUILD_COMMAND_RESULT,
                count: 1,
            },
            BotStep::Send {
                opcode: Opcode::CMSG_GUILD_MOTD,
                body: GuildSetMotd {
                    text: "Raid at 9".into(),
                }
                .to_body(),
            },
            BotStep::Send {
                opcode: Opcode::CMSG_GUILD_SET_PUBLIC_NOTE,
                body: Bytes::from_static(b"bob\0tank\0"),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_GUILD_ROSTER,
                count: 1,
            },
            // Group commands are groupserver's: an invitation (Bob is online elsewhere), a
            // loot method, then leaving; each answered as AzerothCore words it.
            BotStep::Send {
                opcode: Opcode::CMSG_GROUP_INVITE,
                body: InviteToGroup { name: "bob".into() }.to_body(),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_PARTY_COMMAND_RESULT,
                count: 1,
            },
            BotStep::Send {
                opcode: Opcode::CMSG_LOOT_METHOD,
                body: SetLootMethod {
                    method: 2,
                    looter: BOB,
                    threshold: 3,
                }
                .to_body(),
            },
            // In a groupserver group, the difficulty and the target icons are its too.
            BotStep::Send {
                opcode: Opcode::MSG_SET_DUNGEON_DIFFICULTY,
                body: Bytes::from_static(&[1, 0, 0, 0]),
            },
            BotStep::Send {
                opcode: Opcode::MSG_RAID_TARGET_UPDATE,
                body: Bytes::from_static(&[0xFF]),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::MSG_RAID_TARGET_UPDATE,
                count: 1,
            },
            BotStep::Send {
                opcode: Opcode::CMSG_GROUP_DISBAND,
                body: Bytes::new(),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_PARTY_COMMAND_RESULT,
                count: 1,
            },
            // A player-made channel is chatserver's: joined (its first member owns it),
            // a line echoed, Bob's line heard from the bus, its member list, then left.
            BotStep::Send {
                opcode: Opcode::CMSG_JOIN_CHANNEL,
                body: JoinChannel {
                    name: "Pugs".into(),
                    ..JoinChannel::default()
                }
                .to_body(),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_CHANNEL_NOTIFY,
                count: 2,
            },
            BotStep::Send {
                opcode: Opcode::CMSG_MESSAGECHAT,
                body: ClientChat {
                    kind: u32::from(chat_type::CHANNEL),
                    language: 7,
                    target: ChatTarget::Channel("pugs".into()),
                    message: "lfm".into(),
                }
                .to_body(),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_MESSAGECHAT,
                count: 2,
            },
            BotStep::Send {
                opcode: Opcode::CMSG_CHANNEL_LIST,
                body: ChannelListRequest {
                    channel: "Pugs".into(),
                }
                .to_body(),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_CHANNEL_LIST,
                count: 1,
            },
            BotStep::Send {
                opcode: Opcode::CMSG_LEAVE_CHANNEL,
                body: LeaveChannel {
                    unknown: 0,
                    name: "Pugs".into(),
                }
                .to_body(),
            },
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_CHANNEL_NOTIFY,
                count: 1,
            },
            BotStep::Logout,
        ],
    );
    bot.realm_id = realm;
    bot.step_timeout_ms = WAIT.as_millis() as u64;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let stream = TcpStream::connect(addr)
        .await
        .expect("the game port accepts");
    let player = tokio::spawn(async move { run_bot(stream, bot).await });

    let (raw, event) = next_event(&mut logged_in, "gw.char.logged-in").await;
    assert_keys_in_order(&raw, &event, &["v", "t", "p"]);
    assert_eq!(event["v"], "0.0.1");
    assert_eq!(event["t"], 1);
    let p = &event["p"];
    assert_keys_in_order(
        &raw,
        p,
        &[
            "RealmID",
            "GatewayID",
            "CharGUID",
            "CharName",
            "CharRace",
            "CharClass",
            "CharGender",
            "CharLevel",
            "CharZone",
            "CharMap",
            "CharPosX",
            "CharPosY",
            "CharPosZ",
            "CharGuildID",
            "AccountID",
        ],
    );
    assert_eq!(p["RealmID"], realm);
    assert_eq!(p["GatewayID"], "1", "the id the registry gave");
    assert_eq!(p["CharGUID"], GUID);
    assert_eq!(p["CharName"], "Eeto");
    assert_eq!(p["CharRace"], 2);
    assert_eq!(p["CharClass"], 1);
    assert_eq!(p["CharGender"], 1);
    assert_eq!(p["CharLevel"], 80);
    assert_eq!(p["CharZone"], 12);
    assert_eq!(p["CharMap"], 0);
    assert_eq!(p["CharGuildID"], 9);
    assert_eq!(p["AccountID"], account);

    // In world on the worldserver the registry listed.
    wait_until("the player in world on ws-1", || {
        world.presence(GUID) == Presence::InWorld
    });
    let (status, metrics) = http("/metrics");
    assert_eq!(status, 200);
    for line in [
        "active_connections 1",
        "waygate_sessions_total 1",
        "waygate_logins_total 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"waygate_adapter_errors_total{service="auth_db"} 0"#),
        "{metrics}"
    );

    // The player's own state, read from the worldserver's packets, reaches the cluster
    // within a flush (1 s): the fake's create block (level 10, 1200 health, a rage bar of
    // 1000 and no rage) and its world states (map 0, zone 12).
    let (raw, event) = next_event(&mut chars_updates, "gw.char.chars-updates").await;
    assert_keys_in_order(&raw, &event, &["v", "t", "p"]);
    assert_eq!(event["t"], 3);
    let p = &event["p"];
    assert_keys_in_order(&raw, p, &["RealmID", "GatewayID", "Updates"]);
    assert_eq!(
        (p["RealmID"].clone(), p["GatewayID"].clone()),
        (realm.into(), "1".into())
    );
    let mine: Vec<&Value> = p["Updates"]
        .as_array()
        .expect("an array")
        .iter()
        .filter(|u| u["i"] == GUID)
        .collect();
    let [update] = mine.as_slice() else {
        panic!("one update for the player: {raw}")
    };
    for (key, value) in [
        ("l", 10),
        ("h", 1_200),
        ("hm", 1_200),
        ("pt", 1),
        ("p", 0),
        ("pm", 1_000),
        ("m", 0),
        ("z", 12),
    ] {
        assert_eq!(update[key], value, "{key} in {raw}");
    }

    // A chat line from the worldserver and a whisper from chatserver (on this gateway's
    // subject) reach the player, who then logs out.
    assert!(world.push(GUID, Opcode::SMSG_MESSAGECHAT, Bytes::from_static(&[0; 8])));
    let incoming = format!(
        r#"{{"v":"0.0.1","t":1,"p":{{"SenderGUID":{BOB},"SenderName":"Bob","SenderRace":2,"ReceiverGUID":{GUID},"ReceiverName":"Eeto","Language":7,"Msg":"psst"}}}}"#
    );
    bus.publish("chat.gw.1.income.whisper", incoming.into())
        .await
        .expect("publish");
    let guild_line_in = format!(
        r#"{{"v":"0.0.1","t":14,"p":{{"ServiceID":"g1","RealmID":{realm},"GuildID":9,"SenderGUID":{BOB},"SenderName":"Bob","Language":7,"Msg":"hail","ForOfficers":false,"Receivers":[{GUID},{BOB}]}}}}"#
    );
    bus.publish("guild.message.new", guild_line_in.into())
        .await
        .expect("publish");
    let motd = format!(
        r#"{{"v":"0.0.1","t":12,"p":{{"ServiceID":"g1","RealmID":{realm},"GuildID":9,"GuildName":"Nine","MembersOnline":[{GUID}],"NewMessageOfTheDay":"Raid at 9"}}}}"#
    );
    bus.publish("guild.motd.updated", motd.into())
        .await
        .expect("publish");
    let created = format!(
        r#"{{"v":"0.0.1","t":2,"p":{{"ServiceID":"gr1","RealmID":{realm},"GroupID":4,"LeaderGUID":{BOB},"LootMethod":3,"LooterGUID":0,"LootThreshold":2,"GroupType":0,"Difficulty":0,"RaidDifficulty":0,"MasterLooterGuid":0,"Members":[{{"MemberGUID":{BOB},"MemberFlags":0,"MemberName":"Bob","IsOnline":true,"SubGroup":0,"Roles":0}},{{"MemberGUID":{GUID},"MemberFlags":0,"MemberName":"Eeto","IsOnline":true,"SubGroup":0,"Roles":0}}]}}}}"#
    );
    bus.publish("group.created", created.into())
        .await
        .expect("publish");
    let added = format!(
        r#"{{"v":"0.0.1","t":6,"p":{{"ServiceID":"gr1","RealmID":{realm},"GroupID":4,"MemberGUID":78,"MemberName":"Cid","OnlineMembers":[{GUID},{BOB},78]}}}}"#
    );
    bus.publish("group.member.added", added.into())
        .await
        .expect("publish");
    let frames = format!(
        r#"{{"v":"0.0.1","t":13,"p":{{"ServiceID":"gr1","RealmID":{realm},"GroupID":4,"Updates":[{{"MemberGUID":{BOB},"Level":79,"CurHP":900,"MaxHP":1000}}],"Receivers":[{GUID}]}}}}"#
    );
    bus.publish("group.members.updated", frames.into())
        .await
        .expect("publish");
    bus.flush().await.expect("flush");
    // Bob's line in "Pugs" once the player has spoken there (so it is a member by then:
    // the gateway knew it joined before the client heard YOU_JOINED).
    let channel_line = {
        let (chat, bus) = (chat.clone(), bus.clone());
        tokio::spawn(async move {
            let spoke = || {
                chat.data()
                    .channel_calls
                    .iter()
                    .any(|c| c.starts_with("say pugs"))
            };
            let began = tokio::time::Instant::now();
            while !spoke() {
                assert!(began.elapsed() < WAIT * 2, "the player never spoke in Pugs");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let line = format!(
                r#"{{"v":"0.0.1","t":2,"p":{{"RealmID":{realm},"ChannelName":"Pugs","ChannelID":0,"SenderGUID":{BOB},"SenderName":"Bob","Language":7,"Message":"me too"}}}}"#
            );
            bus.publish("chat.gw.ALL.channel.message", line.into())
                .await
                .expect("publish");
            bus.flush().await.expect("flush");
        })
    };
    let (report, result) = tokio::time::timeout(WAIT * 2, player)
        .await
        .unwrap_or_else(|_| panic!("the bot ends within the wait\n{}", dump()))
        .expect("bot task");
    assert!(result.is_ok(), "{result:?} {report:?}\n{}", dump());
    channel_line.await.expect("the channel line was published");
    let sent = chat.data().whispers.clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    // Eeto is an orc: the Horde's channels (team 1).
    assert_eq!(
        chat.data().channel_calls,
        vec![
            "join Pugs 1 id=0 flags=1 pw=",
            "say pugs 7 lfm",
            "list Pugs",
            "leave Pugs",
        ]
    );
    let channel_lines: Vec<(u64, Option<String>, String)> = report
        .received
        .iter()
        .filter(|(opcode, _)| *opcode == Opcode::SMSG_MESSAGECHAT)
        .filter_map(|(_, body)| ChatMessage::decode(body).ok())
        .filter(|l| l.kind == chat_type::CHANNEL)
        .map(|l| (l.sender, l.channel, l.message))
        .collect();
    assert_eq!(
        channel_lines,
        vec![
            (GUID, Some("Pugs".into()), "lfm".into()),
            (BOB, Some("Pugs".into()), "me too".into()),
        ]
    );
    let notices: Vec<ChannelNotify> = report
        .received
        .iter()
        .filter(|(opcode, _)| *opcode == Opcode::SMSG_CHANNEL_NOTIFY)
        .map(|(_, body)| ChannelNotify::decode(body).expect("decodes"))
        .collect();
    assert_eq!(
        notices.iter().map(|n| n.kind).collect::<Vec<_>>(),
        vec![
            channel_notify::YOU_JOINED,
            channel_notify::MODE_CHANGE,
            channel_notify::YOU_LEFT
        ]
    );
    let list = report
        .received
        .iter()
        .find(|(opcode, _)| *opcode == Opcode::SMSG_CHANNEL_LIST)
        .map(|(_, body)| ChannelList::decode(body).expect("decodes"))
        .expect("the member list");
    assert_eq!(
        (list.channel.as_str(), list.flags, list.members.len()),
        ("Pugs", 0x01, 1)
    );
    assert_eq!(
        (
            sent[0].realm_id,
            sent[0].sender_guid,
            sent[0].sender_name.as_str(),
            sent[0].sender_race,
            sent[0].receiver_name.as_str(),
            sent[0].msg.as_str(),
        ),
        (realm, GUID, "Eeto", 2, "Bob", "hi")
    );
    let lines: Vec<ChatMessage> = report
        .received
        .iter()
        .filter(|(opcode, _)| *opcode == Opcode::SMSG_MESSAGECHAT)
        .filter_map(|(_, body)| ChatMessage::decode(body).ok())
        .collect();
    let inform = lines
        .iter()
        .find(|l| l.kind == chat_type::WHISPER_INFORM)
        .expect("the whisper's own line");
    assert_eq!((inform.sender, inform.message.as_str()), (BOB, "hi"));
    let heard = lines
        .iter()
        .find(|l| l.kind == chat_type::WHISPER)
        .expect("Bob's whisper");
    assert_eq!((heard.sender, heard.message.as_str()), (BOB, "psst"));
    let guild_lines: Vec<(u64, &str)> = lines
        .iter()
        .filter(|l| l.kind == chat_type::GUILD)
        .map(|l| (l.sender, l.message.as_str()))
        .collect();
    assert_eq!(guild_lines, vec![(GUID, "for the guild"), (BOB, "hail")]);
    let sent = guilds.data().messages.clone();
    assert_eq!(
        sent.iter()
            .map(|m| (
                m.realm_id,
                m.sender_guid,
                m.message.as_str(),
                m.is_officer_message
            ))
            .collect::<Vec<_>>(),
        vec![(realm, GUID, "for the guild", false)]
    );
    let roster = report
        .received
        .iter()
        .find(|(opcode, _)| *opcode == Opcode::SMSG_GUILD_ROSTER)
        .map(|(_, body)| GuildRoster::decode(body).expect("decodes"));
    assert_eq!(
        roster.map(|r| (
            r.motd,
            r.members
                .into_iter()
                .map(|m| (m.name, m.note))
                .collect::<Vec<_>>()
        )),
        Some((
            "Raid at 8".to_owned(),
            vec![("Bob".to_owned(), "tank".to_owned())]
        ))
    );
    let motds: Vec<(u8, Vec<String>)> = report
        .received
        .iter()
        .filter(|(opcode, _)| *opcode == Opcode::SMSG_GUILD_EVENT)
        .map(|(_, body)| GuildEvent::decode(body).expect("decodes"))
        .map(|e| (e.event, e.params))
        .collect();
    assert_eq!(
        motds,
        vec![
            (guild_event::MOTD, vec!["Raid at 8".to_owned()]),
            (guild_event::MOTD, vec!["Raid at 9".to_owned()]),
        ],
        "guildserver's at login, then the event's"
    );
    let lists: Vec<GroupList> = report
        .received
        .iter()
        .filter(|(opcode, _)| *opcode == Opcode::SMSG_GROUP_LIST)
        .map(|(_, body)| GroupList::decode(body).expect("decodes"))
        .collect();
    let seen: Vec<(u32, u64, Vec<String>)> = lists
        .iter()
        .map(|l| {
            (
                l.counter,
                l.leader,
                l.members.iter().map(|m| m.name.clone()).collect(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, BOB, vec!["Bob".to_owned()]),
            (2, BOB, vec!["Bob".to_owned(), "Cid".to_owned()]),
        ]
    );
    assert_eq!(
        groups
            .data()
            .asked
            .iter()
            .map(|r| (r.realm_id, r.group_id))
            .collect::<Vec<_>>(),
        vec![(realm, 4)]
    );
    let frame = report
        .received
        .iter()
        .find(|(opcode, _)| *opcode == Opcode::SMSG_PARTY_MEMBER_STATS)
        .map(|(opcode, body)| PartyMemberStats::decode_as(*opcode, body).expect("decodes"));
    assert_eq!(
        frame.map(|f| (f.guid, f.status, f.level, f.hp, f.max_hp)),
        Some((
            BOB,
            Some(member_status::ONLINE),
            Some(79),
            Some(900),
            Some(1_000)
        ))
    );
    let who = report
        .received
        .iter()
        .find(|(opcode, _)| *opcode == Opcode::SMSG_WHO)
        .map(|(_, body)| WhoList::decode(body).expect("decodes"));
    assert_eq!(
        who.map(|w| (
            w.matches,
            w.entries
                .into_iter()
                .map(|e| (e.name, e.level, e.zone))
                .collect::<Vec<_>>()
        )),
        Some((1, vec![("Bob".to_owned(), 79, 1519)]))
    );
    let received = |opcode: Opcode| {
        report
            .received
            .iter()
            .rfind(|(o, _)| *o == opcode)
            .map(|(_, body)| body.clone())
            .unwrap_or_else(|| panic!("no {opcode:?}"))
    };
    let bob_online = FriendOnline {
        status: 1,
        area: 1519,
        level: 79,
        class: 2,
    };
    assert_eq!(
        FriendStatus::decode(&received(Opcode::SMSG_FRIEND_STATUS)),
        Ok(FriendStatus {
            result: friend_result::ADDED_ONLINE,
            guid: BOB,
            note: "tank".into(),
            online: Some(bob_online),
        })
    );
    let contacts = ContactList::decode(&received(Opcode::SMSG_CONTACT_LIST)).expect("decodes");
    assert_eq!(
        contacts
            .contacts
            .iter()
            .map(|c| (c.guid, c.flags, c.note.as_str(), c.online))
            .collect::<Vec<_>>(),
        vec![(BOB, contact_flag::FRIEND, "tank", Some(bob_online))]
    );
    assert_eq!(
        characters.data().friends,
        vec![(GUID, BOB, "tank".to_owned())]
    );
    let results: Vec<PartyCommandResult> = report
        .received
        .iter()
        .filter(|(o, _)| *o == Opcode::SMSG_PARTY_COMMAND_RESULT)
        .map(|(_, body)| PartyCommandResult::decode(body).expect("decodes"))
        .collect();
    assert_eq!(
        results
            .iter()
            .map(|r| (r.operation, r.name.as_str(), r.result))
            .collect::<Vec<_>>(),
        vec![
            (party_operation::INVITE, "Bob", party_result::OK),
            (party_operation::LEAVE, "Eeto", party_result::OK),
        ]
    );
    assert_eq!(
        GuildQueryResponse::decode(&received(Opcode::SMSG_GUILD_QUERY_RESPONSE)),
        Ok(GuildQueryResponse {
            guild_id: 9,
            name: "Nine".into(),
            ranks: vec!["GM".into(), "Member".into()],
            emblem: [1, 2, 3, 4, 5],
        })
    );
    assert_eq!(
        GuildCommandResult::decode(&received(Opcode::SMSG_GUILD_COMMAND_RESULT)),
        Ok(GuildCommandResult {
            command: guild_command::INVITE,
            param: "Bob".into(),
            error: guild_error::SUCCESS,
        })
    );
    assert_eq!(
        guilds.data().commands,
        vec![
            format!("invite {GUID} {BOB} Bob"),
            format!("motd {GUID} Raid at 9"),
            format!("note {GUID} {BOB} tank"),
        ]
    );
    assert_eq!(
        RaidTargets::decode(&received(Opcode::MSG_RAID_TARGET_UPDATE)),
        Ok(RaidTargets::List(vec![(7, BOB)])),
        "the skull on Bob, from groupserver"
    );
    let invites = groups.data().invites.clone();
    assert_eq!(
        invites
            .iter()
            .map(|i| (
                i.inviter,
                i.invited,
                i.inviter_name.as_str(),
                i.invited_name.as_str(),
                i.inviter_map_id,
                i.inviter_game_server_id.as_str(),
                i.realm_id
            ))
            .collect::<Vec<_>>(),
        vec![(GUID, BOB, "Eeto", "Bob", 0, "ws-1", realm)]
    );
    assert_eq!(
        groups.data().commands,
        vec![
            format!("loot {GUID} 2 {BOB} 3"),
            format!("dungeon {GUID} 1"),
            format!("leave {GUID}")
        ]
    );
    let asked = characters.data().who_questions.clone();
    assert_eq!(
        asked
            .iter()
            .map(|q| (
                q.character_guid,
                q.realm_id,
                q.player_name.as_str(),
                q.lvl_max
            ))
            .collect::<Vec<_>>(),
        vec![(GUID, realm, "bo", 80)]
    );
    let not_found = report
        .received
        .iter()
        .find(|(opcode, _)| *opcode == Opcode::SMSG_CHAT_PLAYER_NOT_FOUND)
        .map(|(_, body)| ChatPlayerNotFound::decode(body).expect("decodes").name);
    assert_eq!(not_found.as_deref(), Some("Nobody"));
    let (raw, event) = next_event(&mut logged_out, "gw.char.logged-out").await;
    assert_eq!(event["t"], 2);
    let p = &event["p"];
    assert_keys_in_order(
        &raw,
        p,
        &[
            "RealmID",
            "GatewayID",
            "CharGUID",
            "CharName",
            "CharGuildID",
            "AccountID",
        ],
    );
    assert_eq!(
        (p["CharGUID"].clone(), p["AccountID"].clone()),
        (GUID.into(), account.into())
    );

    let status = Command::new("kill")
        .args(["-TERM", &gateway.child().id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let code = tokio::task::block_in_place(|| gateway.exit_code(WAIT));
    assert_eq!(code, Some(0), "{}", dump());
    assert!(dump().contains("waygate stopped"), "{}", dump());

    registry_server.stop().await;
    characters_server.stop().await;
    chat_server.stop().await;
    guilds_server.stop().await;
    groups_server.stop().await;
    db.drop_db().await;
}
