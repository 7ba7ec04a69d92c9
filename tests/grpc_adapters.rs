//! The gRPC adapters against in-process tonic servers on loopback that implement ToCloud9's
//! servers-registry and characters contracts (only the RPCs the adapters call; the rest
//! answer UNIMPLEMENTED).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};
use waygate::adapters::grpc::v1;
use waygate::adapters::grpc::v1::characters_service_server::{
    CharactersService, CharactersServiceServer,
};
use waygate::adapters::grpc::v1::servers_registry_service_server::{
    ServersRegistryService, ServersRegistryServiceServer,
};
use waygate::adapters::grpc::{CharactersSettings, GrpcCharacters, GrpcRegistry, RegistrySettings};
use waygate::cluster::backoff::Backoff;
use waygate::cluster::{WorldserverId, WorldserverInfo};
use waygate::runtime::{Characters, Clock, Registry};
use waygate::session::{AccountId, CharacterGuid, SeamError};

/// Any wait in these tests ends by this.
const TEST_DEADLINE_MS: u64 = 10_000;

// ---------------------------------------------------------------------------------------
// A servers-registry.

#[derive(Default)]
struct RegistryData {
    /// RegisterGateway fails with UNAVAILABLE this many times first.
    fail_registrations: u32,
    /// ... or always with this code.
    refuse_registrations: Option<tonic::Code>,
    register_requests: Vec<v1::RegisterGatewayRequest>,
    next_gateway_id: u32,
    gateways: Vec<v1::GatewayServerDetailed>,
    game_servers: Vec<v1::GameServerDetailed>,
    /// (worldserver id, map): assigned but not loaded yet.
    pending: BTreeSet<(String, u32)>,
    availability_questions: Vec<v1::AvailableGameServersForMapAndRealmRequest>,
    layers: Vec<v1::MapLayerConfiguration>,
}

#[derive(Clone, Default)]
struct FakeRegistry(Arc<Mutex<RegistryData>>);

impl FakeRegistry {
    fn data(&self) -> std::sync::MutexGuard<'_, RegistryData> {
        self.0.lock().expect("fake registry lock")
    }
}

#[tonic::async_trait]
impl ServersRegistryService for FakeRegistry {
    async fn register_gateway(
        &self,
        request: Request<v1::RegisterGatewayRequest>,
    ) -> Result<Response<v1::RegisterGatewayResponse>, Status> {
        let r = request.into_inner();
        let mut d = self.data();
        d.register_requests.push(r.clone());
        if let Some(code) = d.refuse_registrations {
            return Err(Status::new(code, "refused"));
        }
        if d.fail_registrations > 0 {
            d.fail_registrations -= 1;
            return Err(Status::unavailable("not yet"));
        }
        d.next_gateway_id += 1;
        let id = d.next_gateway_id.to_string();
        d.gateways.push(v1::GatewayServerDetailed {
            id: id.clone(),
            address: format!("{}:{}", r.preferred_host_name, r.game_port),
            health_address: format!("127.0.0.1:{}", r.health_port),
            realm_id: r.realm_id,
            active_connections: 0,
        });
        Ok(Response::new(v1::RegisterGatewayResponse {
            api: "0.0.1".into(),
            id,
        }))
    }

    async fn list_gateways_for_realm(
        &self,
        request: Request<v1::ListGatewaysForRealmRequest>,
    ) -> Result<Response<v1::ListGatewaysForRealmResponse>, Status> {
        let realm = request.into_inner().realm_id;
        let gateways = self
            .data()
            .gateways
            .iter()
            .filter(|g| g.realm_id == realm)
            .cloned()
            .collect();
        Ok(Response::new(v1::ListGatewaysForRealmResponse {
            api: "0.0.1".into(),
            gateways,
        }))
    }

    async fn list_all_game_servers(
        &self,
        _request: Request<v1::ListAllGameServersRequest>,
    ) -> Result<Response<v1::ListGameServersResponse>, Status> {
        Ok(Response::new(v1::ListGameServersResponse {
            api: "0.0.1".into(),
            game_servers: self.data().game_servers.clone(),
        }))
    }

    /// As ToCloud9's: worldservers that can take the map now (assigned, not pending); for a
    /// realm, the preferred one only when one is named.
    async fn available_game_servers_for_map_and_realm(
        &self,
        request: Request<v1::AvailableGameServersForMapAndRealmRequest>,
    ) -> Result<Response<v1::AvailableGameServersForMapAndRealmResponse>, Status> {
        let r = request.into_inner();
        let mut d = self.data();
        d.availability_questions.push(r.clone());
        let game_servers = d
            .game_servers
            .iter()
            .filter(|g| {
                g.is_cross_realm == r.is_cross_realm
                    && (r.is_cross_realm || g.realm_id == r.realm_id)
                    && g.assigned_maps.contains(&r.map_id)
                    && !d.pending.contains(&(g.id.clone(), r.map_id))
                    && (r.is_cross_realm
                        || r.preferred_game_server_alias.is_empty()
                        || g.address == r.preferred_game_server_alias)
            })
            .map(|g| v1::Server {
                address: g.address.clone(),
                realm_id: g.realm_id,
                is_cross_realm: g.is_cross_realm,
                grpc_address: g.grpc_address.clone(),
                id: g.id.clone(),
                alias: g.alias.clone(),
            })
            .collect();
        Ok(Response::new(
            v1::AvailableGameServersForMapAndRealmResponse {
                api: "0.0.1".into(),
                game_servers,
            },
        ))
    }

    async fn get_map_layer_configuration(
        &self,
        _request: Request<v1::GetMapLayerConfigurationRequest>,
    ) -> Result<Response<v1::GetMapLayerConfigurationResponse>, Status> {
        Ok(Response::new(v1::GetMapLayerConfigurationResponse {
            api: "0.0.1".into(),
            maps: self.data().layers.clone(),
        }))
    }
}

/// A running in-process server; dropping it does not stop it, [`Running::stop`] does.
struct Running {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_millis(TEST_DEADLINE_MS), self.task)
            .await
            .expect("server stops in time")
            .expect("server task");
    }
}

async fn serve_registry(fake: FakeRegistry, at: Option<SocketAddr>) -> Running {
    let listener = tokio::net::TcpListener::bind(at.unwrap_or(([127, 0, 0, 1], 0).into()))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(ServersRegistryServiceServer::new(fake))
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .expect("registry serves");
    });
    Running {
        address,
        stop,
        task,
    }
}

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

// ---------------------------------------------------------------------------------------
// A characters service.

#[derive(Default)]
struct CharactersData {
    /// (realm, character) -> stored character.
    stored: Vec<(u32, v1::LogInCharacter)>,
    /// Online characters (by realm and counter).
    online: Vec<v1::short_characters_data_by_gui_ds_response::ShortCharData>,
    account_data: Vec<v1::AccountData>,
    online_questions: Vec<v1::ShortCharactersDataByGuiDsRequest>,
    stored_questions: Vec<v1::CharactersToLoginByGuidRequest>,
}

#[derive(Clone, Default)]
struct FakeCharacters(Arc<Mutex<CharactersData>>);

impl FakeCharacters {
    fn data(&self) -> std::sync::MutexGuard<'_, CharactersData> {
        self.0.lock().expect("fake characters lock")
    }
}

#[tonic::async_trait]
impl CharactersService for FakeCharacters {
    async fn characters_to_login_for_account(
        &self,
        request: Request<v1::CharactersToLoginForAccountRequest>,
    ) -> Result<Response<v1::CharactersToLoginForAccountResponse>, Status> {
        let r = request.into_inner();
        let characters = self
            .data()
            .stored
            .iter()
            .filter(|(realm, c)| *realm == r.realm_id && c.account_id == r.account_id)
            .map(|(_, c)| c.clone())
            .collect();
        Ok(Response::new(v1::CharactersToLoginForAccountResponse {
            api: "0.0.1".into(),
            characters,
        }))
    }

    async fn characters_to_login_by_guid(
        &self,
        request: Request<v1::CharactersToLoginByGuidRequest>,
    ) -> Result<Response<v1::CharactersToLoginByGuidResponse>, Status> {
        let r = request.into_inner();
        let mut d = self.data();
        d.stored_questions.push(r.clone());
        let character = d
            .stored
            .iter()
            .find(|(realm, c)| *realm == r.realm_id && c.guid == r.character_guid)
            .map(|(_, c)| c.clone());
        Ok(Response::new(v1::CharactersToLoginByGuidResponse {
            api: "0.0.1".into(),
            character,
        }))
    }

    async fn short_online_characters_data_by_gui_ds(
        &self,
        request: Request<v1::ShortCharactersDataByGuiDsRequest>,
    ) -> Result<Response<v1::ShortCharactersDataByGuiDsResponse>, Status> {
        let r = request.into_inner();
        let mut d = self.data();
        d.online_questions.push(r.clone());
        let characters = d
            .online
            .iter()
            .filter(|c| c.realm_id == r.realm_id && r.gui_ds.contains(&c.char_guid))
            .cloned()
            .collect();
        Ok(Response::new(v1::ShortCharactersDataByGuiDsResponse {
            api: "0.0.1".into(),
            characters,
        }))
    }

    async fn account_data_for_account(
        &self,
        _request: Request<v1::AccountDataForAccountRequest>,
    ) -> Result<Response<v1::AccountDataForAccountResponse>, Status> {
        Ok(Response::new(v1::AccountDataForAccountResponse {
            api: "0.0.1".into(),
            account_data: self.data().account_data.clone(),
        }))
    }
}

async fn serve_characters(fake: FakeCharacters) -> Running {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(CharactersServiceServer::new(fake))
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .expect("characters serves");
    });
    Running {
        address,
        stop,
        task,
    }
}

fn characters(address: SocketAddr) -> GrpcCharacters {
    let mut s = CharactersSettings::new(address.to_string(), REALM);
    s.characters_call_timeout_ms = 1_000;
    GrpcCharacters::connect(s).expect("client")
}

fn stored(guid: u64, account: u32, name: &str) -> v1::LogInCharacter {
    v1::LogInCharacter {
        guid,
        name: name.into(),
        race: 2,
        class: 1,
        gender: 1,
        skin: 3,
        face: 4,
        hair_style: 5,
        hair_color: 6,
        facial_style: 7,
        level: 80,
        zone: 1637,
        map: 1,
        position_x: 1.5,
        position_y: -2.5,
        position_z: 30.0,
        guild_id: 9,
        player_flags: 0,
        at_login: 0,
        pet_entry: 0,
        pet_model_id: 0,
        pet_level: 0,
        banned: false,
        equipments: Vec::new(),
        account_id: account,
    }
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
