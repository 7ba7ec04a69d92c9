//! The gRPC adapters against in-process tonic servers on loopback that implement ToCloud9's
//! servers-registry, characters and chat contracts (only the RPCs the adapters call; the rest
//! answer UNIMPLEMENTED).

#[path = "common/tc9.rs"]
mod tc9;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use tc9::{
    FakeCharacters, FakeChat, FakeGroups, FakeGuilds, FakeRegistry, serve_characters, serve_chat,
    serve_groups, serve_guilds, serve_registry, stored,
};
use waygate::adapters::grpc::v1;
use waygate::adapters::grpc::{
    CharactersSettings, ChatSettings, GroupsSettings, GrpcCharacters, GrpcChat, GrpcGroups,
    GrpcGuilds, GrpcRegistry, GrpcServices, GuildsSettings, RegistrySettings,
};
use waygate::cluster::backoff::Backoff;
use waygate::cluster::{WorldserverId, WorldserverInfo};
use waygate::present::channels::{ChannelCall, ChannelOp, ChannelReply};
use waygate::present::chat::{Whisper, WhisperOutcome};
use waygate::present::guild::GuildMessage;
use waygate::present::{ServiceAnswer, ServiceRequest};
use waygate::runtime::{Characters, Clock, PresentServices, Registry};
use waygate::session::{AccountId, CharacterGuid, SeamError};
use waygate::wire::packets::{ChannelListMember, channel_flag, channel_notify, member_flag};

/// Any wait in these tests ends by this.
const TEST_DEADLINE_MS: u64 = 10_000;

const REALM: u32 = 1;

fn fast_backoff(max_attempts: u32) -> Backoff {
    Backoff::new(5, 20, 2.0, 0.5, max_attempts, 5_000).expect("valid policy")
}

fn settings(address: SocketAddr) -> RegistrySettings {
    let mut s = RegistrySettings::new(address.to_string(), REALM, 8085, 8900, "gw.example");
    s.registry_call_timeout_ms = 1_000;
    s.register_backoff = fast_backoff(10);
    s
}

async fn start(s: RegistrySettings) -> Result<GrpcRegistry, SeamError> {
    GrpcRegistry::start(s, Clock::new(), ChaCha8Rng::seed_from_u64(7)).await
}

fn game_server(id: &str, realm: u32, assigned: &[u32]) -> v1::GameServerDetailed {
    v1::GameServerDetailed {
        id: id.into(),
        address: format!("127.0.0.1:{}", 9000 + id.len()),
        health_address: String::new(),
        grpc_address: String::new(),
        realm_id: realm,
        is_cross_realm: false,
        active_connections: 0,
        diff: None,
        available_maps: Vec::new(),
        assigned_maps: assigned.to_vec(),
        alias: id.to_uppercase(),
    }
}

fn p99(ms: u32) -> Option<v1::game_server_detailed::Diff> {
    Some(v1::game_server_detailed::Diff {
        mean: ms / 2,
        median: ms / 2,
        percentile95: ms - 1,
        percentile99: ms,
        max: ms + 10,
    })
}

fn by_id<'a>(list: &'a [WorldserverInfo], id: &str) -> &'a WorldserverInfo {
    list.iter()
        .find(|w| w.server.id == WorldserverId(id.into()))
        .unwrap_or_else(|| panic!("{id} listed"))
}

#[tokio::test]
async fn registration_retries_until_the_registry_answers_and_keeps_the_id() {
    let fake = FakeRegistry::default();
    fake.data().fail_registrations = 3;
    let server = serve_registry(fake.clone(), None).await;

    let registry = start(settings(server.address)).await.expect("registered");

    assert_eq!(registry.gateway_id(), "1");
    assert_eq!(registry.registrations(), 1);
    let requests = fake.data().register_requests.clone();
    assert_eq!(requests.len(), 4, "three failures, then success");
    for r in &requests {
        assert_eq!(
            r,
            &v1::RegisterGatewayRequest {
                api: "0.0.1".into(),
                game_port: 8085,
                health_port: 8900,
                realm_id: REALM,
                is_cross_realm: false,
                preferred_host_name: "gw.example".into(),
            }
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn registration_gives_up_after_the_policy_and_never_retries_a_refusal() {
    let fake = FakeRegistry::default();
    fake.data().fail_registrations = u32::MAX;
    let server = serve_registry(fake.clone(), None).await;
    let mut s = settings(server.address);
    s.register_backoff = fast_backoff(3);
    let e = start(s.clone()).await.err().expect("gives up");
    assert_eq!(e.service, "registry");
    assert!(e.retryable, "{e}");
    assert!(e.detail.contains("after 3 attempts"), "{e}");
    assert_eq!(fake.data().register_requests.len(), 3);

    fake.data().refuse_registrations = Some(tonic::Code::InvalidArgument);
    fake.data().register_requests.clear();
    let e = start(s).await.err().expect("refused");
    assert!(!e.retryable, "{e}");
    assert!(
        e.detail.starts_with("RegisterGateway: InvalidArgument"),
        "{e}"
    );
    assert_eq!(fake.data().register_requests.len(), 1, "a refusal is final");
    server.stop().await;
}

#[tokio::test]
async fn the_gateway_registers_again_when_the_registry_forgot_it() {
    let fake = FakeRegistry::default();
    fake.data().game_servers = vec![game_server("ek", REALM, &[0])];
    let server = serve_registry(fake.clone(), None).await;
    let mut s = settings(server.address);
    s.membership_check_every_ms = 0;
    let registry = start(s).await.expect("registered");
    assert_eq!(registry.gateway_id(), "1");

    // Still listed: no second registration.
    registry.worldservers().await.expect("listing");
    assert_eq!(registry.registrations(), 1);
    assert_eq!(fake.data().register_requests.len(), 1);

    // The registry's health check removed it.
    fake.data().gateways.clear();
    let list = registry.worldservers().await.expect("listing");
    assert_eq!(list.len(), 1, "the refresh still answers");
    assert_eq!(registry.registrations(), 2);
    assert_eq!(registry.gateway_id(), "2", "the new id is kept");
    assert_eq!(fake.data().register_requests.len(), 2);

    // Another gateway under our old id (an in-memory registry that restarted) is not us.
    {
        let mut d = fake.data();
        d.gateways.clear();
        d.gateways.push(v1::GatewayServerDetailed {
            id: "2".into(),
            address: "elsewhere:8085".into(),
            health_address: String::new(),
            realm_id: REALM,
            active_connections: 0,
        });
    }
    registry.worldservers().await.expect("listing");
    assert_eq!(registry.registrations(), 3);
    assert_eq!(registry.gateway_id(), "3");
    server.stop().await;
}

#[tokio::test]
async fn a_restarted_registry_hears_from_the_gateway_again() {
    let first = FakeRegistry::default();
    let server = serve_registry(first.clone(), None).await;
    let address = server.address;
    let mut s = settings(address);
    s.membership_check_every_ms = 0;
    let registry = start(s).await.expect("registered");
    server.stop().await;

    // Down: the refresh fails, retryable, and names the registry.
    let e = registry.worldservers().await.expect_err("registry is down");
    assert_eq!(e.service, "registry");
    assert!(e.retryable, "{e}");

    // Back on the same address with nothing remembered. The failed check above scheduled
    // the next one by the backoff (at most max_ms = 20 ms away): poll until it runs.
    let second = FakeRegistry::default();
    second.data().next_gateway_id = 40;
    let server = serve_registry(second.clone(), Some(address)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(TEST_DEADLINE_MS);
    while registry.gateway_id() != "41" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never registered again"
        );
        let _ = registry.worldservers().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(registry.registrations(), 2);
    assert_eq!(second.data().register_requests.len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn worldservers_are_this_realms_and_cross_realm_ones_with_their_maps_and_p99() {
    let fake = FakeRegistry::default();
    {
        let mut d = fake.data();
        let mut ek = game_server("ek", REALM, &[0]);
        ek.available_maps = vec![0, 1];
        ek.diff = p99(40);
        let kalimdor = game_server("kalimdor", REALM, &[1, 369]);
        let other_realm = game_server("other", 2, &[0]);
        let mut cross = game_server("cross", 0, &[489, 529]);
        cross.is_cross_realm = true;
        cross.diff = p99(700);
        let idle = game_server("idle", REALM, &[]);
        let mut unmeasured = game_server("unmeasured", REALM, &[530]);
        unmeasured.diff = Some(v1::game_server_detailed::Diff::default());
        d.game_servers = vec![ek, kalimdor, other_realm, cross, idle, unmeasured];
    }
    let server = serve_registry(fake.clone(), None).await;
    let registry = start(settings(server.address)).await.expect("registered");

    let list = registry.worldservers().await.expect("listing");

    let ids: Vec<&str> = list.iter().map(|w| w.server.id.0.as_str()).collect();
    assert_eq!(
        ids,
        ["ek", "kalimdor", "cross", "unmeasured"],
        "registry order; other realms and worldservers with no map left out"
    );
    let ek = by_id(&list, "ek");
    assert_eq!(ek.maps, [0], "owned = assigned, not what it could serve");
    assert_eq!(ek.server.address, "127.0.0.1:9002");
    assert_eq!(ek.alias, "EK");
    assert_eq!(ek.realm_id, Some(REALM));
    assert!(!ek.crossrealm);
    assert_eq!(ek.world_update_p99_ms, Some(40));
    assert!(ek.loading_maps.is_empty());
    assert_eq!(by_id(&list, "kalimdor").maps, [1, 369]);
    assert_eq!(by_id(&list, "kalimdor").world_update_p99_ms, None);
    let cross = by_id(&list, "cross");
    assert!(cross.crossrealm);
    assert_eq!(cross.realm_id, None);
    assert_eq!(cross.world_update_p99_ms, Some(700));
    assert_eq!(
        by_id(&list, "unmeasured").world_update_p99_ms,
        None,
        "an all-zero diff was never measured"
    );
    assert!(
        fake.data().availability_questions.is_empty(),
        "nothing to ask on the first listing"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_newly_assigned_map_is_loading_until_the_registry_says_it_is_ready() {
    let fake = FakeRegistry::default();
    fake.data().game_servers = vec![
        game_server("ek", REALM, &[0]),
        game_server("kalimdor", REALM, &[1]),
    ];
    let server = serve_registry(fake.clone(), None).await;
    let registry = start(settings(server.address)).await.expect("registered");
    registry.worldservers().await.expect("first listing");

    // Kalimdor's map moves to EK, which has not loaded it yet.
    {
        let mut d = fake.data();
        d.game_servers = vec![
            game_server("ek", REALM, &[0, 1]),
            game_server("kalimdor", REALM, &[]),
        ];
        d.pending.insert(("ek".into(), 1));
    }
    let list = registry.worldservers().await.expect("listing");
    let ek = by_id(&list, "ek");
    assert_eq!(ek.maps, [0, 1]);
    assert_eq!(ek.loading_maps, [1]);
    {
        let d = fake.data();
        assert_eq!(
            d.availability_questions.len(),
            1,
            "only the new map is asked"
        );
        let q = &d.availability_questions[0];
        assert_eq!(
            (q.realm_id, q.map_id, q.is_cross_realm, q.group_id),
            (REALM, 1, false, 0)
        );
        assert_eq!(
            q.preferred_game_server_alias, ek.server.address,
            "asks about EK itself"
        );
    }

    // Still loading at the next refresh.
    let list = registry.worldservers().await.expect("listing");
    assert_eq!(by_id(&list, "ek").loading_maps, [1]);
    assert_eq!(fake.data().availability_questions.len(), 2);

    // Loaded.
    fake.data().pending.clear();
    let list = registry.worldservers().await.expect("listing");
    assert!(by_id(&list, "ek").loading_maps.is_empty());
    assert_eq!(fake.data().availability_questions.len(), 3);

    // Settled: no more questions.
    registry.worldservers().await.expect("listing");
    assert_eq!(fake.data().availability_questions.len(), 3);
    server.stop().await;
}

#[tokio::test]
async fn questions_about_loading_maps_are_capped_per_refresh() {
    let fake = FakeRegistry::default();
    fake.data().game_servers = vec![game_server("ek", REALM, &[0])];
    let server = serve_registry(fake.clone(), None).await;
    let mut s = settings(server.address);
    s.loading_probes_max = 2;
    let registry = start(s).await.expect("registered");
    registry.worldservers().await.expect("first listing");

    // Five maps arrive, all loaded already; only two can be confirmed per refresh, and the
    // others count as loading until they are.
    fake.data().game_servers = vec![game_server("ek", REALM, &[0, 1, 30, 33, 34, 36])];
    let list = registry.worldservers().await.expect("listing");
    assert_eq!(fake.data().availability_questions.len(), 2);
    assert_eq!(by_id(&list, "ek").loading_maps, [33, 34, 36]);
    let list = registry.worldservers().await.expect("listing");
    assert_eq!(by_id(&list, "ek").loading_maps, [36]);
    assert_eq!(fake.data().availability_questions.len(), 4);
    let list = registry.worldservers().await.expect("listing");
    assert!(by_id(&list, "ek").loading_maps.is_empty());
    assert_eq!(fake.data().availability_questions.len(), 5);
    server.stop().await;
}

#[tokio::test]
async fn map_layers_come_from_the_layer_configuration() {
    let fake = FakeRegistry::default();
    fake.data().layers = vec![
        v1::MapLayerConfiguration {
            map_id: 0,
            layer_count: 2,
        },
        v1::MapLayerConfiguration {
            map_id: 1,
            layer_count: 3,
        },
    ];
    let server = serve_registry(fake.clone(), None).await;
    let registry = start(settings(server.address)).await.expect("registered");
    let layers = registry.map_layers().await.expect("layers");
    assert_eq!(layers.into_iter().collect::<Vec<_>>(), [(0, 2), (1, 3)]);

    fake.data().layers.push(v1::MapLayerConfiguration {
        map_id: 0,
        layer_count: 5,
    });
    let e = registry.map_layers().await.expect_err("duplicate map");
    assert!(!e.retryable);
    assert!(e.detail.contains("map 0 listed twice"), "{e}");
    server.stop().await;
}

#[tokio::test]
async fn a_listing_without_ids_is_a_final_error() {
    let fake = FakeRegistry::default();
    fake.data().game_servers = vec![game_server("", REALM, &[0])];
    let server = serve_registry(fake.clone(), None).await;
    let registry = start(settings(server.address)).await.expect("registered");
    let e = registry.worldservers().await.expect_err("bad listing");
    assert_eq!(e.service, "registry");
    assert!(!e.retryable);
    assert!(
        e.detail.starts_with("ListAllGameServers: bad answer"),
        "{e}"
    );
    server.stop().await;
}

/// A port where nothing listens: connections are refused.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    listener.local_addr().expect("address")
}

#[tokio::test]
async fn a_registry_that_is_down_is_a_retryable_error_within_the_deadline() {
    let mut s = settings(closed_port().await);
    s.register_backoff = fast_backoff(2);
    let began = tokio::time::Instant::now();
    let e = start(s.clone()).await.err().expect("down");
    assert_eq!(e.service, "registry");
    assert!(e.retryable, "{e}");
    // Two attempts of at most the call deadline each, and one wait of at most 20 ms.
    let bound = Duration::from_millis(2 * s.registry_call_timeout_ms + 20);
    assert!(began.elapsed() <= bound, "took {:?}", began.elapsed());
}

#[tokio::test]
async fn a_registry_that_hangs_costs_the_call_deadline_and_no_more() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    let acceptor = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            keep.lock().expect("lock").push(stream);
        }
    });
    let mut s = settings(address);
    s.registry_call_timeout_ms = 300;
    s.register_backoff = fast_backoff(1);
    let began = tokio::time::Instant::now();
    let e = start(s).await.err().expect("hangs");
    let took = began.elapsed();
    assert_eq!(e.service, "registry");
    assert!(e.retryable, "{e}");
    // Either the call's own deadline or the connect deadline (the same 300 ms, which also
    // covers the HTTP/2 handshake) ends it first.
    assert!(e.detail.contains("RegisterGateway"), "{e}");
    assert!(took >= Duration::from_millis(300), "took {took:?}");
    assert!(took < Duration::from_millis(2_000), "took {took:?}");
    acceptor.abort();
}

fn characters(address: SocketAddr) -> GrpcCharacters {
    let mut s = CharactersSettings::new(address.to_string(), REALM);
    s.characters_call_timeout_ms = 1_000;
    GrpcCharacters::connect(s).expect("client")
}

#[tokio::test]
async fn characters_are_listed_as_records() {
    let fake = FakeCharacters::default();
    fake.data().stored = vec![
        (REALM, stored(10, 5, "Thrall")),
        (REALM, stored(11, 6, "Jaina")),
        (2, stored(12, 5, "Elsewhere")),
    ];
    let server = serve_characters(fake.clone()).await;
    let chars = characters(server.address);

    let list = chars.list(AccountId(5)).await.expect("list");
    assert_eq!(list.len(), 1, "this account, this realm");
    let c = &list[0];
    assert_eq!(c.guid, CharacterGuid(10));
    assert_eq!(c.account, AccountId(5));
    assert_eq!(c.name, "Thrall");
    assert_eq!((c.race, c.class, c.gender, c.level), (2, 1, 1, 80));
    assert_eq!(c.appearance, [3, 4, 5, 6, 7]);
    assert_eq!((c.map, c.zone, c.guild_id), (1, 1637, 9));
    assert_eq!((c.x, c.y, c.z), (1.5, -2.5, 30.0));
    assert!(chars.list(AccountId(99)).await.expect("empty").is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_listing_the_client_cannot_be_shown_is_a_final_error() {
    let fake = FakeCharacters::default();
    let mut bad = stored(10, 5, "Thrall");
    bad.race = 300;
    fake.data().stored = vec![(REALM, bad)];
    let server = serve_characters(fake.clone()).await;
    let chars = characters(server.address);
    let e = chars
        .list(AccountId(5))
        .await
        .expect_err("race over a byte");
    assert_eq!(e.service, "characters");
    assert!(!e.retryable);
    assert!(e.detail.contains("race 300"), "{e}");

    fake.data().stored = vec![(REALM, stored(10, 5, ""))];
    let e = chars.list(AccountId(5)).await.expect_err("empty name");
    assert!(e.detail.contains("name of 0 bytes"), "{e}");
    server.stop().await;
}

#[tokio::test]
async fn names_come_from_the_online_registry_then_the_database() {
    let fake = FakeCharacters::default();
    {
        let mut d = fake.data();
        d.online = vec![
            v1::short_characters_data_by_gui_ds_response::ShortCharData {
                realm_id: REALM,
                is_online: true,
                gateway_id: "1".into(),
                char_guid: 10,
                char_name: "Thrall".into(),
                char_race: 2,
                char_class: 7,
                char_gender: 0,
                char_lvl: 80,
                char_zone: 0,
                char_map: 0,
                char_guild_id: 0,
                account_id: 5,
            },
            v1::short_characters_data_by_gui_ds_response::ShortCharData {
                realm_id: 3,
                is_online: true,
                gateway_id: "9".into(),
                char_guid: 42,
                char_name: "Visitor".into(),
                char_race: 1,
                char_class: 2,
                char_gender: 1,
                char_lvl: 70,
                char_zone: 0,
                char_map: 0,
                char_guild_id: 0,
                account_id: 8,
            },
        ];
        d.stored = vec![(REALM, stored(11, 6, "Jaina"))];
    }
    let server = serve_characters(fake.clone()).await;
    let chars = characters(server.address);

    let online = chars.name(CharacterGuid(10)).await.expect("online");
    let online = online.expect("known");
    assert_eq!(
        (
            online.name.as_str(),
            online.race,
            online.class,
            online.gender
        ),
        ("Thrall", 2, 7, 0)
    );
    assert!(
        fake.data().stored_questions.is_empty(),
        "online: no database look-up"
    );

    let offline = chars.name(CharacterGuid(11)).await.expect("offline");
    let offline = offline.expect("known");
    assert_eq!(offline.guid, CharacterGuid(11));
    assert_eq!(
        (
            offline.name.as_str(),
            offline.race,
            offline.class,
            offline.gender
        ),
        ("Jaina", 2, 1, 1)
    );

    assert_eq!(chars.name(CharacterGuid(77)).await.expect("unknown"), None);

    // A cross-realm guid: realm 3 in bits 32..48, the counter below.
    let cross = CharacterGuid((3 << 32) | 42);
    let visitor = chars
        .name(cross)
        .await
        .expect("cross-realm")
        .expect("known");
    assert_eq!(visitor.guid, cross);
    assert_eq!(visitor.name, "Visitor");
    let q = fake.data().online_questions.last().cloned().expect("asked");
    assert_eq!((q.realm_id, q.gui_ds.as_slice()), (3, &[42u64][..]));
    server.stop().await;
}

#[tokio::test]
async fn ownership_and_account_data() {
    let fake = FakeCharacters::default();
    {
        let mut d = fake.data();
        d.stored = vec![
            (REALM, stored(10, 5, "Thrall")),
            (REALM, stored(12, 0, "Nobody")),
        ];
        d.account_data = vec![v1::AccountData {
            r#type: 7,
            time: 1_700_000_000,
            data: "SET x 1".into(),
        }];
    }
    let server = serve_characters(fake.clone()).await;
    let chars = characters(server.address);

    assert!(
        chars
            .owns(AccountId(5), CharacterGuid(10))
            .await
            .expect("owner")
    );
    assert!(
        !chars
            .owns(AccountId(6), CharacterGuid(10))
            .await
            .expect("not the owner")
    );
    assert!(
        !chars
            .owns(AccountId(5), CharacterGuid(99))
            .await
            .expect("no such character")
    );
    let e = chars
        .owns(AccountId(5), CharacterGuid(12))
        .await
        .expect_err("owner unknown");
    assert!(!e.retryable);
    let c = chars
        .character_to_login(CharacterGuid(10))
        .await
        .expect("look-up")
        .expect("exists");
    assert_eq!((c.name.as_str(), c.map), ("Thrall", 1));

    let data = chars
        .account_data(AccountId(5))
        .await
        .expect("account data");
    assert_eq!(data.len(), 1);
    assert_eq!(
        (data[0].kind, data[0].time, data[0].data.as_str()),
        (7, 1_700_000_000, "SET x 1")
    );
    fake.data().account_data[0].r#type = 8;
    let e = chars
        .account_data(AccountId(5))
        .await
        .expect_err("bad type");
    assert!(e.detail.contains("account data type 8"), "{e}");
    server.stop().await;
}

#[tokio::test]
async fn a_characters_service_that_is_down_is_a_retryable_error() {
    let chars = characters(closed_port().await);
    let began = tokio::time::Instant::now();
    let e = chars.list(AccountId(5)).await.expect_err("down");
    assert_eq!(e.service, "characters");
    assert!(e.retryable, "{e}");
    assert!(e.detail.starts_with("CharactersToLoginForAccount"), "{e}");
    assert!(began.elapsed() <= Duration::from_millis(1_000 + 100));
}

fn whisper(to: &str) -> Whisper {
    Whisper {
        sender: 5,
        sender_name: "Alice".into(),
        sender_race: 4,
        language: 7,
        receiver_name: to.into(),
        message: "hé ✓".into(),
    }
}

fn chat_client(address: SocketAddr) -> GrpcChat {
    let mut s = ChatSettings::new(address.to_string(), REALM);
    s.chat_call_timeout_ms = 1_000;
    GrpcChat::connect(s).expect("a valid address")
}

#[tokio::test]
async fn whispers_go_to_chatserver_with_every_field_and_its_answers_are_read() {
    let fake = FakeChat::default();
    fake.data().online = vec![("Bob".into(), 77)];
    let server = serve_chat(fake.clone()).await;
    let chat = chat_client(server.address);
    assert_eq!(
        chat.whisper(&whisper("Bob")).await,
        Ok(WhisperOutcome::Delivered { receiver: 77 })
    );
    assert_eq!(
        chat.whisper(&whisper("Nobody")).await,
        Ok(WhisperOutcome::NotFound)
    );
    let sent = fake.data().whispers.first().cloned().expect("asked");
    assert_eq!(
        sent,
        v1::SendWhisperMessageRequest {
            api: "0.0.1".into(),
            realm_id: REALM,
            sender_guid: 5,
            sender_name: "Alice".into(),
            sender_race: 4,
            language: 7,
            receiver_name: "Bob".into(),
            msg: "hé ✓".into(),
        }
    );
    // A status the contract does not have is a final error, not a delivery.
    fake.data().status_override = Some(1);
    let e = chat.whisper(&whisper("Bob")).await.expect_err("refused");
    assert!(!e.retryable && e.service == "chat", "{e}");
    // Behind the seam, every outcome is an answer carrying its whisper.
    let services = GrpcServices {
        chat,
        guilds: GrpcGuilds::connect(GuildsSettings::new(closed_port().await.to_string(), REALM))
            .expect("a valid address"),
        characters: characters_client(closed_port().await),
        groups: groups_client(closed_port().await),
    };
    let answer = services.call(ServiceRequest::Whisper(whisper("Bob"))).await;
    let ServiceAnswer::Whisper {
        whisper: w,
        outcome,
    } = answer
    else {
        panic!("{answer:?}")
    };
    assert_eq!(w, whisper("Bob"));
    assert!(matches!(outcome, WhisperOutcome::Failed(_)), "{outcome:?}");
    server.stop().await;
}

fn channel_call(channel: &str, op: ChannelOp) -> ChannelCall {
    ChannelCall {
        player: 5,
        player_name: "Alice".into(),
        team: 1,
        channel: channel.into(),
        op,
    }
}

#[tokio::test]
async fn channel_calls_go_to_chatserver_and_their_statuses_become_azerothcores_notices() {
    let fake = FakeChat::default();
    let server = serve_chat(fake.clone()).await;
    let chat = chat_client(server.address);
    let join = channel_call(
        "Pugs",
        ChannelOp::Join {
            id: 0,
            password: "pw".into(),
            flags: channel_flag::CUSTOM,
        },
    );
    assert_eq!(
        chat.channel(&join).await,
        Ok(ChannelReply::Joined {
            id: 0,
            flags: channel_flag::CUSTOM,
            member_flags: member_flag::OWNER | member_flag::MODERATOR,
        }),
        "the first member owns it"
    );
    let say = channel_call(
        "pugs",
        ChannelOp::Say {
            language: 7,
            message: "lfm ✓".into(),
        },
    );
    assert_eq!(chat.channel(&say).await, Ok(ChannelReply::Done));
    assert_eq!(
        chat.channel(&channel_call("Pugs", ChannelOp::List)).await,
        Ok(ChannelReply::Members(vec![ChannelListMember {
            guid: 5,
            flags: member_flag::OWNER | member_flag::MODERATOR,
        }]))
    );
    let leave = channel_call("Pugs", ChannelOp::Leave { tell_client: true });
    assert_eq!(chat.channel(&leave).await, Ok(ChannelReply::Done));
    assert_eq!(
        chat.channel(&leave).await,
        Ok(ChannelReply::Refused(channel_notify::NOT_MEMBER))
    );
    assert_eq!(
        chat.channel(&say).await,
        Ok(ChannelReply::Refused(channel_notify::NOT_MEMBER))
    );
    assert_eq!(
        fake.data().channel_calls,
        vec![
            "join Pugs 1 id=0 flags=1 pw=pw",
            "say pugs 7 lfm ✓",
            "list Pugs",
            "leave Pugs",
            "leave Pugs",
            "say pugs 7 lfm ✓",
        ]
    );
    server.stop().await;
    // Behind the seam, a chatserver that is down is a failed answer carrying its call.
    let services = GrpcServices {
        chat: chat_client(closed_port().await),
        guilds: GrpcGuilds::connect(GuildsSettings::new(closed_port().await.to_string(), REALM))
            .expect("a valid address"),
        characters: characters_client(closed_port().await),
        groups: groups_client(closed_port().await),
    };
    let answer = services.call(ServiceRequest::Channel(join.clone())).await;
    let ServiceAnswer::Channel { call, outcome } = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(call, join);
    let detail = outcome.expect_err("down");
    assert!(detail.contains("JoinChannel"), "{detail}");
}

#[tokio::test]
async fn a_chat_service_that_is_down_is_a_retryable_chat_error() {
    let chat = chat_client(closed_port().await);
    let e = tokio::time::timeout(
        Duration::from_millis(TEST_DEADLINE_MS),
        chat.whisper(&whisper("Bob")),
    )
    .await
    .expect("the call's own deadline ends it")
    .expect_err("down");
    assert!(e.retryable && e.service == "chat", "{e}");
}

#[tokio::test]
async fn guild_lines_go_to_guildserver_and_its_refusals_are_failed_answers() {
    let fake = FakeGuilds::default();
    let server = serve_guilds(fake.clone()).await;
    let mut settings = GuildsSettings::new(server.address.to_string(), REALM);
    settings.guilds_call_timeout_ms = 1_000;
    let guilds = GrpcGuilds::connect(settings).expect("a valid address");
    let line = GuildMessage {
        sender: 5,
        language: 7,
        message: "for the guild ✓".into(),
        officer: false,
    };
    assert_eq!(guilds.send_message(&line).await, Ok(()));
    assert_eq!(
        fake.data().messages,
        vec![v1::SendGuildMessageParams {
            api: "0.0.1".into(),
            realm_id: REALM,
            sender_guid: 5,
            is_officer_message: false,
            message: "for the guild ✓".into(),
            language: 7,
        }]
    );
    fake.data().refuse = Some(tonic::Code::PermissionDenied);
    let services = GrpcServices {
        chat: chat_client(closed_port().await),
        guilds,
        characters: characters_client(closed_port().await),
        groups: groups_client(closed_port().await),
    };
    let answer = services
        .call(ServiceRequest::GuildMessage(line.clone()))
        .await;
    let ServiceAnswer::GuildMessage { message, outcome } = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(message, line);
    let detail = outcome.expect_err("refused");
    assert!(
        detail.contains("SendGuildMessage") && detail.contains("guild"),
        "{detail}"
    );
    server.stop().await;
}

fn characters_client(address: SocketAddr) -> GrpcCharacters {
    let mut s = CharactersSettings::new(address.to_string(), REALM);
    s.characters_call_timeout_ms = 1_000;
    GrpcCharacters::connect(s).expect("a valid address")
}

#[tokio::test]
async fn who_asks_charserver_with_every_filter_and_renders_what_the_client_can_show() {
    use waygate::wire::packets::{WHO_DISPLAY_MAX, WhoEntry, WhoRequest};
    let fake = FakeCharacters::default();
    let item = |n: u32| v1::who_query_response::WhoItem {
        guid: u64::from(n),
        name: format!("P{n}\0junk"),
        guild: "G".into(),
        lvl: 80,
        class: 4,
        race: 2,
        gender: 300,
        zone_id: 12,
    };
    fake.data().who = (60, (0..55).map(item).collect());
    let server = serve_characters(fake.clone()).await;
    let characters = characters_client(server.address);
    let q = WhoRequest {
        level_min: 10,
        level_max: 80,
        player_name: "p".into(),
        guild_name: "g".into(),
        race_mask: 3,
        class_mask: 5,
        zones: vec![12, 14],
        strings: vec!["x".into()],
    };
    let list = characters.who(7, &q).await.expect("answers");
    assert_eq!(list.matches, 60);
    assert_eq!(
        list.entries.len(),
        WHO_DISPLAY_MAX,
        "what one SMSG_WHO shows"
    );
    assert_eq!(
        list.entries[1],
        WhoEntry {
            name: "P1".into(),
            guild: "G".into(),
            level: 80,
            class: 4,
            race: 2,
            gender: u8::MAX,
            zone: 12,
        }
    );
    let asked = fake.data().who_questions.first().cloned().expect("asked");
    assert_eq!(
        asked,
        v1::WhoQueryRequest {
            api: "0.0.1".into(),
            character_guid: 7,
            realm_id: REALM,
            lvl_min: 10,
            lvl_max: 80,
            player_name: "p".into(),
            guild_name: "g".into(),
            race_mask: 3,
            class_mask: 5,
            zones: vec![12, 14],
            strings: vec!["x".into()],
        }
    );
    server.stop().await;
}

fn groups_client(address: SocketAddr) -> GrpcGroups {
    let mut s = GroupsSettings::new(address.to_string(), REALM);
    s.groups_call_timeout_ms = 1_000;
    GrpcGroups::connect(s).expect("a valid address")
}

#[tokio::test]
async fn a_group_is_read_and_checked() {
    use waygate::present::group::GroupMember;
    let fake = FakeGroups::default();
    let member = |guid: u64| v1::get_group_response::GroupMember {
        guid,
        flags: 1,
        name: format!("M{guid}\0x"),
        is_online: guid.is_multiple_of(2),
        sub_group: guid as u32 / 5,
        roles: 300,
    };
    fake.data().groups = vec![v1::get_group_response::Group {
        id: 5,
        leader: 2,
        loot_method: 2,
        looter: 0,
        loot_threshold: 2,
        group_type: 2,
        difficulty: 0,
        raid_difficulty: 1,
        master_looter: 2,
        target_icons_list: Vec::new(),
        members: (1..=45).map(member).collect(),
    }];
    let server = serve_groups(fake.clone()).await;
    let groups = groups_client(server.address);
    let g = groups.get_group(5).await.expect("answers");
    assert_eq!(
        (g.id, g.leader, g.group_type, g.raid_difficulty),
        (5, 2, 2, 1)
    );
    assert_eq!(g.members.len(), 40, "a raid at most");
    assert_eq!(
        g.members[1],
        GroupMember {
            guid: 2,
            name: "M2".into(),
            online: true,
            subgroup: 0,
            flags: 1,
            roles: u8::MAX,
        }
    );
    assert_eq!(
        fake.data().asked.first().map(|r| (r.realm_id, r.group_id)),
        Some((REALM, 5))
    );
    // No such group, or an id that does not fit groupserver's u32: final errors.
    let e = groups.get_group(6).await.expect_err("no group");
    assert!(!e.retryable, "{e}");
    let e = groups
        .get_group(u64::from(u32::MAX) + 1)
        .await
        .expect_err("too large");
    assert!(!e.retryable, "{e}");
    server.stop().await;
}

#[tokio::test]
async fn a_roster_is_read_as_the_client_shows_it() {
    use waygate::wire::packets::{GUILD_RANKS_MAX, RosterMember};
    let fake = FakeGuilds::default();
    let member = |guid: u64, status: u32| v1::get_roster_info_response::Member {
        guid,
        name: format!("M{guid}\0x"),
        status,
        rank_id: 1,
        lvl: 300,
        class_id: 4,
        gender: 1,
        area_id: 12,
        logout_time: 1_000_000 - 86_400 * 2,
        note: "n".into(),
        officer_note: "o".into(),
    };
    let rank = |id: u32| v1::get_roster_info_response::Rank {
        id,
        flags: 0x10 + id,
        gold_limit: id * 100,
    };
    fake.data().rosters = vec![v1::get_roster_info_response::Guild {
        id: 9,
        welcome_text: "Raid at 8".into(),
        info_text: "info".into(),
        members: vec![member(1, 1), member(2, 0)],
        ranks: (0..12).rev().map(rank).collect(),
    }];
    let server = serve_guilds(fake.clone()).await;
    let guilds = GrpcGuilds::connect(GuildsSettings::new(server.address.to_string(), REALM))
        .expect("a valid address");
    let roster = guilds.roster(9, 1_000_000).await.expect("answers");
    assert_eq!(
        (roster.motd.as_str(), roster.info.as_str()),
        ("Raid at 8", "info")
    );
    assert_eq!(roster.ranks.len(), GUILD_RANKS_MAX, "at most 10, by id");
    assert_eq!(
        (roster.ranks[3].rights, roster.ranks[3].gold_per_day),
        (0x13, 300)
    );
    assert_eq!(
        roster.members[1],
        RosterMember {
            guid: 2,
            name: "M2".into(),
            rank: 1,
            level: u8::MAX,
            class: 4,
            gender: 1,
            zone: 12,
            days_offline: Some(2.0),
            note: "n".into(),
            officer_note: "o".into(),
        }
    );
    assert_eq!(roster.members[0].days_offline, None, "online");
    assert!(guilds.roster(10, 0).await.is_err(), "no such guild");
    server.stop().await;
}

#[tokio::test]
async fn the_friend_list_is_charservers_with_its_result_codes() {
    use waygate::present::contacts::{ContactCall, ContactOp, ContactReply, ListedFriend};
    use waygate::wire::packets::FriendOnline;
    let fake = FakeCharacters::default();
    fake.data().stored = vec![(REALM, stored(42, 9, "Bob")), (REALM, stored(43, 9, "Cid"))];
    fake.data().whereabouts = vec![(42, 1519, 79, 2)];
    let server = serve_characters(fake.clone()).await;
    let characters = characters_client(server.address);
    let ask = |op: ContactOp| {
        let characters = characters.clone();
        async move {
            characters
                .contacts(&ContactCall { player: 7, op })
                .await
                .expect("answers")
        }
    };
    let find = |name: &str| ContactOp::FindIgnore { name: name.into() };
    assert_eq!(ask(find("Bob")).await, ContactReply::Found(Some(42)));
    assert_eq!(ask(find("Nobody")).await, ContactReply::Found(None));
    let add = |guid: u64| ContactOp::AddFriend {
        guid,
        name: String::new(),
        note: "n".into(),
    };
    let bob_online = FriendOnline {
        status: 1,
        area: 1519,
        level: 79,
        class: 2,
    };
    assert_eq!(
        ask(add(42)).await,
        ContactReply::Added {
            result: 0x06,
            online: bob_online,
        }
    );
    assert!(matches!(
        ask(add(43)).await,
        ContactReply::Added { result: 0x07, .. }
    ));
    assert!(matches!(
        ask(add(42)).await,
        ContactReply::Added { result: 0x08, .. }
    ));
    let note = ContactOp::SetNote {
        guid: 43,
        note: "later".into(),
    };
    assert_eq!(ask(note).await, ContactReply::Done);
    assert_eq!(
        ask(ContactOp::Ignore { guid: 50 }).await,
        ContactReply::Ignored(0x0E)
    );
    assert_eq!(
        ask(ContactOp::Ignore { guid: 50 }).await,
        ContactReply::Ignored(0x0D)
    );
    let list = ContactOp::List {
        flags: 7,
        fallback: None,
    };
    assert_eq!(
        ask(list.clone()).await,
        ContactReply::List {
            friends: vec![
                ListedFriend {
                    guid: 42,
                    note: "n".into(),
                    online: bob_online,
                },
                ListedFriend {
                    guid: 43,
                    note: "later".into(),
                    online: FriendOnline::default(),
                },
            ],
            ignored: vec![50],
        }
    );
    assert_eq!(
        ask(ContactOp::RemoveFriend { guid: 42 }).await,
        ContactReply::Done
    );
    assert_eq!(
        ask(ContactOp::Unignore { guid: 50 }).await,
        ContactReply::Done
    );
    let ContactReply::List { friends, ignored } = ask(list).await else {
        panic!("a list")
    };
    assert_eq!(
        (friends.iter().map(|f| f.guid).collect::<Vec<_>>(), ignored),
        (vec![43], vec![])
    );
    server.stop().await;

    let down = characters_client(closed_port().await);
    let e = down
        .contacts(&ContactCall {
            player: 7,
            op: ContactOp::RemoveFriend { guid: 1 },
        })
        .await
        .expect_err("down");
    assert_eq!(e.service, "characters");
    assert!(e.detail.starts_with("RemoveFriend"), "{e}");
}

/// Player 7's group command `op`, answered.
async fn command_of_7(
    client: &GrpcGroups,
    characters: &GrpcCharacters,
    op: waygate::present::group::commands::GroupOp,
) -> waygate::present::group::commands::GroupReply {
    let c = waygate::present::group::commands::GroupCall { player: 7, op };
    client.command(characters, &c).await.expect("answers")
}

/// The seed PR's ready check calls: made when groupserver has them, and UNIMPLEMENTED (an
/// upstream groupserver) is an answer of its own, not a failure.
#[tokio::test]
async fn ready_checks_reach_groupserver_or_say_it_lacks_them() {
    use waygate::present::group::commands::{GroupCall, GroupOp, GroupReply, ReadyCheckStep};
    let chars_server = serve_characters(FakeCharacters::default()).await;
    let groups = FakeGroups::default();
    let groups_server = serve_groups(groups.clone()).await;
    let characters = characters_client(chars_server.address);
    let client = groups_client(groups_server.address);
    let steps = [
        ReadyCheckStep::Start,
        ReadyCheckStep::Answer(false),
        ReadyCheckStep::Finish,
    ];
    for has_them in [false, true] {
        groups.data().ready_checks = has_them;
        for step in steps {
            let c = GroupCall {
                player: 7,
                op: GroupOp::ReadyCheck(step),
            };
            let reply = client.command(&characters, &c).await.expect("answers");
            let expected = if has_them {
                GroupReply::Done
            } else {
                GroupReply::Unimplemented
            };
            assert_eq!(reply, expected, "{step:?}");
        }
    }
    assert_eq!(
        groups.data().commands,
        ["ready-start 7 35000", "ready-state 7 2", "ready-finish 7"]
    );
}

/// Subgroups and member flags (the seed PR's extensions): a flag is changed on the member's
/// flags as groupserver lists them, its roles kept.
#[tokio::test]
async fn subgroups_and_member_flags_reach_groupserver_or_say_it_lacks_them() {
    use waygate::present::group::commands::{GroupOp, GroupReply, member_flag};
    let chars_server = serve_characters(FakeCharacters::default()).await;
    let groups = FakeGroups::default();
    let member = |guid: u64, flags: u32| v1::get_group_response::GroupMember {
        guid,
        flags,
        name: format!("M{guid}"),
        is_online: true,
        sub_group: 0,
        roles: 2,
    };
    groups.data().groups = vec![v1::get_group_response::Group {
        id: 5,
        leader: 7,
        members: vec![member(7, 0), member(42, member_flag::MAIN_TANK.into())],
        ..Default::default()
    }];
    let groups_server = serve_groups(groups.clone()).await;
    let characters = characters_client(chars_server.address);
    let client = groups_client(groups_server.address);
    let ask = |op: GroupOp| command_of_7(&client, &characters, op);
    let subgroup = GroupOp::SetSubgroup {
        guid: 42,
        subgroup: 3,
        sent: bytes::Bytes::new(),
    };
    let flag = |flag: u8, apply: bool, guid: u64| GroupOp::SetMemberFlag {
        guid,
        flag,
        apply,
        sent: (
            waygate::wire::Opcode::MSG_PARTY_ASSIGNMENT,
            bytes::Bytes::new(),
        ),
    };
    assert_eq!(ask(subgroup.clone()).await, GroupReply::Unimplemented);
    assert_eq!(
        ask(flag(member_flag::ASSISTANT, true, 42)).await,
        GroupReply::Unimplemented
    );
    groups.data().ready_checks = true;
    assert_eq!(ask(subgroup).await, GroupReply::Done);
    assert_eq!(
        ask(flag(member_flag::ASSISTANT, true, 42)).await,
        GroupReply::Done
    );
    assert_eq!(
        ask(flag(member_flag::MAIN_TANK, false, 42)).await,
        GroupReply::Done
    );
    assert_eq!(
        ask(flag(member_flag::ASSISTANT, true, 99)).await,
        GroupReply::Done,
        "a member the group does not list is left alone"
    );
    assert_eq!(
        groups.data().commands,
        ["subgroup 7 42 3", "flags 7 42 3 2", "flags 7 42 0 2"]
    );
}

#[tokio::test]
async fn group_commands_go_to_groupserver_after_charservers_name_lookups() {
    use waygate::present::group::commands::{GroupCall, GroupOp, GroupReply, Whereabouts};
    use waygate::wire::packets::SetLootMethod;
    let chars = FakeCharacters::default();
    chars.data().stored = vec![(REALM, stored(42, 9, "Bob")), (REALM, stored(43, 9, "Cid"))];
    chars.data().whereabouts = vec![(42, 1, 2, 3)];
    let chars_server = serve_characters(chars.clone()).await;
    let groups = FakeGroups::default();
    groups.data().invite_status = 2;
    let groups_server = serve_groups(groups.clone()).await;
    let characters = characters_client(chars_server.address);
    let client = groups_client(groups_server.address);
    let ask = |op: GroupOp| command_of_7(&client, &characters, op);
    let at = Whereabouts {
        map: 571,
        worldserver: "ws-2".into(),
    };
    let invitee = |name: &str| GroupOp::FindInvitee {
        name: name.into(),
        inviter_name: "Eeto".into(),
        at: at.clone(),
    };
    assert_eq!(ask(invitee("Bob")).await, GroupReply::Found(Some(42)));
    assert_eq!(
        ask(invitee("Cid")).await,
        GroupReply::Found(None),
        "an invitation needs the invitee online"
    );
    let kicked = GroupOp::FindKicked { name: "Cid".into() };
    assert_eq!(ask(kicked).await, GroupReply::Found(Some(43)));
    let invite = GroupOp::Invite {
        guid: 42,
        name: "Bob".into(),
        inviter_name: "Eeto".into(),
        at,
    };
    assert_eq!(ask(invite).await, GroupReply::Invited(2));
    assert_eq!(
        groups.data().invites,
        vec![v1::InviteParams {
            api: "0.0.1".into(),
            realm_id: REALM,
            inviter: 7,
            invited: 42,
            inviter_name: "Eeto".into(),
            invited_name: "Bob".into(),
            inviter_map_id: 571,
            inviter_game_server_id: "ws-2".into(),
        }]
    );
    assert_eq!(ask(GroupOp::Accept).await, GroupReply::Accepted(0));
    let kick = GroupOp::Uninvite {
        guid: 43,
        name: "Cid".into(),
        reason: "afk".into(),
    };
    assert_eq!(ask(kick).await, GroupReply::Uninvited(0));
    let leave = GroupOp::Leave {
        name: "Eeto".into(),
    };
    for op in [
        GroupOp::ConvertToRaid,
        GroupOp::SetLeader { guid: 42 },
        GroupOp::SetLoot(SetLootMethod {
            method: 1,
            looter: 0,
            threshold: 2,
        }),
        leave,
    ] {
        assert_eq!(ask(op).await, GroupReply::Done);
    }
    assert_eq!(
        groups.data().commands,
        [
            "accept 7",
            "uninvite 7 43 afk",
            "raid 7",
            "leader 7 42",
            "loot 7 1 0 2",
            "leave 7"
        ]
    );
    assert_eq!(
        ask(GroupOp::TargetIcons).await,
        GroupReply::Icons(vec![]),
        "no group"
    );
    groups.data().player_groups = vec![(7, 4)];
    assert_eq!(client.group_of(7).await.expect("answers"), 4);
    assert_eq!(client.group_of(8).await.expect("answers"), 0);
    groups.data().groups = vec![v1::get_group_response::Group {
        id: 4,
        target_icons_list: (1..=10).collect(),
        members: vec![v1::get_group_response::GroupMember {
            guid: 7,
            ..Default::default()
        }],
        ..Default::default()
    }];
    assert_eq!(
        ask(GroupOp::TargetIcons).await,
        GroupReply::Icons((1..=8).collect()),
        "at most the eight icons"
    );
    let icon = GroupOp::SetTargetIcon { icon: 7, target: 9 };
    assert_eq!(ask(icon).await, GroupReply::Done);
    let dungeon = GroupOp::SetDifficulty {
        raid: false,
        difficulty: 1,
    };
    assert_eq!(ask(dungeon).await, GroupReply::DifficultySet(0));
    let raid = GroupOp::SetDifficulty {
        raid: true,
        difficulty: 3,
    };
    assert_eq!(ask(raid).await, GroupReply::DifficultySet(1));
    assert_eq!(
        groups.data().commands[6..],
        ["icon 7 7 9", "dungeon 7 1", "raid-difficulty 7 3"]
    );
    groups_server.stop().await;
    let e = client
        .command(
            &characters,
            &GroupCall {
                player: 7,
                op: GroupOp::ConvertToRaid,
            },
        )
        .await
        .expect_err("down");
    assert_eq!(e.service, "group");
    assert!(e.detail.starts_with("ConvertToRaid"), "{e}");
    chars_server.stop().await;
}

#[tokio::test]
async fn guild_commands_go_to_guildserver_and_its_invite_refusals_become_guild_errors() {
    use waygate::present::guild::commands::{
        GuildCall, GuildOp, GuildReply, Joiner, MemberCommand,
    };
    use waygate::wire::packets::{GuildQueryResponse, guild_error};
    let chars = FakeCharacters::default();
    chars.data().stored = vec![(REALM, stored(42, 9, "Bob"))];
    chars.data().whereabouts = vec![(42, 1, 2, 3)];
    let chars_server = serve_characters(chars.clone()).await;
    let fake = FakeGuilds::default();
    fake.data().infos = vec![v1::GetInfoResponse {
        api: "0.0.1".into(),
        guild_id: 9,
        guild_name: "Nine\0junk".into(),
        emblem_style: 1,
        emblem_color: 2,
        border_style: 3,
        border_color: 4,
        background_color: 5,
        rank_names: (0..12).map(|i| format!("R{i}")).collect(),
    }];
    fake.data().joins = 9;
    let server = serve_guilds(fake.clone()).await;
    let characters = characters_client(chars_server.address);
    let guilds = GrpcGuilds::connect(GuildsSettings::new(server.address.to_string(), REALM))
        .expect("a valid address");
    let ask = |op: GuildOp| {
        let (guilds, characters) = (guilds.clone(), characters.clone());
        async move {
            guilds
                .command(&characters, &GuildCall { player: 7, op })
                .await
        }
    };
    let query = |guild_id: u32| GuildOp::Query {
        guild_id,
        query: Default::default(),
    };
    assert_eq!(
        ask(query(9)).await.expect("answers"),
        GuildReply::Info(Box::new(GuildQueryResponse {
            guild_id: 9,
            name: "Nine".into(),
            ranks: (0..10).map(|i| format!("R{i}")).collect(),
            emblem: [1, 2, 3, 4, 5],
        }))
    );
    let e = ask(query(8)).await.expect_err("no such guild");
    assert!(e.detail.starts_with("GetGuildInfo"), "{e}");
    let find = |name: &str| GuildOp::FindInvitee { name: name.into() };
    assert_eq!(
        ask(find("Bob")).await.expect("answers"),
        GuildReply::Found(Some(42))
    );
    let invite = || GuildOp::Invite {
        guid: 42,
        name: "Bob".into(),
    };
    assert_eq!(
        ask(invite()).await.expect("answers"),
        GuildReply::Invited(guild_error::SUCCESS)
    );
    for (code, error) in [
        (
            tonic::Code::FailedPrecondition,
            guild_error::ALREADY_IN_GUILD_S,
        ),
        (tonic::Code::PermissionDenied, guild_error::PERMISSIONS),
        (tonic::Code::NotFound, guild_error::PLAYER_NOT_IN_GUILD),
    ] {
        fake.data().invite_refusal = Some(code);
        assert_eq!(
            ask(invite()).await.expect("answers"),
            GuildReply::Invited(error),
            "{code:?}"
        );
    }
    fake.data().invite_refusal = Some(tonic::Code::Internal);
    let e = ask(invite())
        .await
        .expect_err("not a refusal the client can be told");
    assert!(e.detail.starts_with("InviteMember"), "{e}");
    let joiner = Joiner {
        name: "Eeto".into(),
        level: 80,
        ..Joiner::default()
    };
    assert_eq!(
        ask(GuildOp::Accept(joiner)).await.expect("answers"),
        GuildReply::Joined(9)
    );
    let member = |command| GuildOp::Member {
        command,
        guid: 42,
        name: "Bob".into(),
        note: "n".into(),
    };
    for op in [
        GuildOp::Leave,
        member(MemberCommand::Remove),
        member(MemberCommand::Promote),
        member(MemberCommand::Demote),
        member(MemberCommand::PublicNote),
        member(MemberCommand::OfficerNote),
        GuildOp::Motd("m".into()),
        GuildOp::Info("i".into()),
    ] {
        assert_eq!(ask(op).await.expect("answers"), GuildReply::Done);
    }
    assert_eq!(
        fake.data().commands,
        [
            "invite 7 42 Bob",
            "accept 7 Eeto 80",
            "leave 7",
            "kick 7 42",
            "promote 7 42",
            "demote 7 42",
            "note 7 42 n",
            "officer 7 42 n",
            "motd 7 m",
            "info 7 i"
        ]
    );
    let rank = GuildOp::UpdateRank {
        rank: 2,
        name: "Raider".into(),
        rights: 67,
        gold_per_day: 100,
    };
    for op in [rank, GuildOp::AddRank("Alt".into()), GuildOp::DeleteRank] {
        assert_eq!(ask(op).await.expect("answers"), GuildReply::Done);
    }
    assert_eq!(
        fake.data().commands[10..],
        ["rank 7 2 Raider 67 100", "addrank 7 Alt", "delrank 7"]
    );
    fake.data().rosters = vec![v1::get_roster_info_response::Guild {
        id: 9,
        members: vec![v1::get_roster_info_response::Member {
            guid: 7,
            name: "Eeto".into(),
            rank_id: 1,
            ..Default::default()
        }],
        ranks: vec![
            v1::get_roster_info_response::Rank {
                id: 0,
                flags: 0xFFFF,
                gold_limit: 0,
            },
            v1::get_roster_info_response::Rank {
                id: 1,
                flags: 0x43,
                gold_limit: 50,
            },
        ],
        ..Default::default()
    }];
    let Ok(GuildReply::Roster(roster)) = ask(GuildOp::Permissions(9)).await else {
        panic!("a roster")
    };
    let permissions = waygate::present::guild::commands::permissions_of(7, &roster);
    assert_eq!(
        permissions.map(|p| (p.rank, p.rights, p.gold_per_day)),
        Some((1, 0x43, 50))
    );
    fake.data().refuse = Some(tonic::Code::Unknown);
    let e = ask(GuildOp::Leave).await.expect_err("refused");
    assert_eq!(e.service, "guild");
    assert!(e.detail.starts_with("Leave"), "{e}");
    server.stop().await;
    chars_server.stop().await;
}
