//! [`GrpcRegistry`]: the registry seam over ToCloud9's `v1.ServersRegistryService`.
//!
//! What ToCloud9's servers-registry does, and what follows here:
//! - `RegisterGateway` stores the gateway (id from the in-memory counter, or with Redis the
//!   FNV-1a of its health address) and health-checks it every 4 s; a failed check removes it
//!   and nothing brings it back but a new `RegisterGateway`. No RPC takes the gateway id, so
//!   no error code says "unknown gateway": the way to notice is `ListGatewaysForRealm`
//!   lacking our id (and address). [`GrpcRegistry`] checks that every
//!   `membership_check_every_ms` from its refresh and registers again when it is missing,
//!   with jittered backoff between failed attempts.
//! - `GameServerDetailed.assignedMaps` is what the map balancer gave a worldserver (what it
//!   owns); `availableMaps` is what it was configured to be able to serve (empty: any map).
//!   So `assignedMaps` -> [`WorldserverInfo::maps`]. A worldserver with no assigned map owns
//!   nothing and is left out (an empty `maps` would mean every map).
//! - A map newly assigned to a worldserver that already had maps is pending until the
//!   worldserver reports it loaded; `ListAllGameServers` does not show that, but
//!   `AvailableGameServersForMapAndRealm` does (it only returns worldservers that can take
//!   the map now; naming the worldserver as preferred asks about that one without binding a
//!   group). So maps that appeared since the last refresh, and maps still loading then, are
//!   asked about (at most `loading_probes_max` a refresh) and are
//!   [`WorldserverInfo::loading_maps`] until the registry says they are ready.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use rand_chacha::ChaCha8Rng;

use super::v1;
use super::v1::servers_registry_service_client::ServersRegistryServiceClient;
use super::{API_VERSION, bad_answer, call, lazy_channel, request};
use crate::cluster::backoff::{Backoff, Retry, RetryDecision};
use crate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
use crate::runtime::{BoxFuture, Clock, Registry};
use crate::session::SeamError;

/// The service name in every [`SeamError`] of this adapter.
const SERVICE: &str = "registry";

type Client = ServersRegistryServiceClient<tonic::transport::Channel>;

/// How to reach the registry and what to register.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrySettings {
    /// `host:port` of ToCloud9's servers-registry (`serversRegistryServiceAddress`).
    pub address: String,
    /// The realm this gateway serves (`realmID`); only its worldservers and cross-realm ones
    /// are listed.
    pub realm_id: u32,
    /// The port game clients connect to (`gamePort`).
    pub game_port: u16,
    /// The port of the health endpoint the registry checks (`healthPort`).
    pub health_port: u16,
    /// The host name clients are told (`preferredHostName`).
    pub preferred_host_name: String,
    /// Deadline of one call, connecting included.
    pub registry_call_timeout_ms: u64,
    /// Retry policy of the registration at start, and of re-registration.
    pub register_backoff: Backoff,
    /// How often the refresh checks that the registry still lists this gateway; 0: at every
    /// refresh.
    pub membership_check_every_ms: u64,
    /// Questions about maps still loading, at most, per refresh; the rest stay loading until
    /// a later refresh.
    pub loading_probes_max: usize,
}

impl RegistrySettings {
    /// Settings with the defaults for everything but what identifies the gateway.
    pub fn new(
        address: impl Into<String>,
        realm_id: u32,
        game_port: u16,
        health_port: u16,
        preferred_host_name: impl Into<String>,
    ) -> Self {
        Self {
            address: address.into(),
            realm_id,
            game_port,
            health_port,
            preferred_host_name: preferred_host_name.into(),
            registry_call_timeout_ms: 2_000,
            register_backoff: Backoff {
                min_ms: 200,
                max_ms: 5_000,
                multiplier: 2.0,
                jitter: 0.5,
                max_attempts: 30,
                deadline_ms: 120_000,
            },
            // The registry checks health every 4 s with a 15 s timeout: a removal is at most
            // about 19 s old when this notices it.
            membership_check_every_ms: 15_000,
            loading_probes_max: 64,
        }
    }

    /// The client address the registry stores for this gateway.
    fn game_address(&self) -> String {
        format!("{}:{}", self.preferred_host_name, self.game_port)
    }
}

/// The registry seam over ToCloud9's servers-registry. Build it with [`GrpcRegistry::start`].
pub struct GrpcRegistry {
    settings: RegistrySettings,
    client: Client,
    clock: Clock,
    state: Mutex<State>,
}

/// What the adapter remembers between calls. Never held across an await.
struct State {
    gateway_id: String,
    registrations: u64,
    rng: ChaCha8Rng,
    /// When the next membership check is due (since the clock's origin).
    next_membership_check: std::time::Duration,
    /// Failed re-registrations in a row, with their backoff.
    reregister_retry: Option<Retry>,
    /// Per worldserver: the maps assigned at the last refresh, and those still loading.
    maps: BTreeMap<String, TrackedMaps>,
}

#[derive(Debug, Clone, Default)]
struct TrackedMaps {
    assigned: BTreeSet<u32>,
    loading: BTreeSet<u32>,
}

/// A worldserver of the listing, before its loading maps are known.
struct Listed {
    info: WorldserverInfo,
    assigned: BTreeSet<u32>,
}

impl GrpcRegistry {
    /// Connects (lazily) and registers the gateway, retrying with `register_backoff`
    /// (jitter from `rng`). Fails with the last error when the registry refused for good or
    /// the retries ran out. Needs a runtime (tokio, or madsim under `--cfg madsim`).
    pub async fn start(
        settings: RegistrySettings,
        clock: Clock,
        rng: ChaCha8Rng,
    ) -> Result<Self, SeamError> {
        settings.register_backoff.check().map_err(|e| SeamError {
            service: SERVICE,
            detail: format!("register_backoff: {e}"),
            retryable: false,
        })?;
        let client = Client::new(lazy_channel(
            SERVICE,
            &settings.address,
            settings.registry_call_timeout_ms,
        )?);
        let registry = Self {
            settings,
            client,
            clock,
            state: Mutex::new(State {
                gateway_id: String::new(),
                registrations: 0,
                rng,
                next_membership_check: std::time::Duration::ZERO,
                reregister_retry: None,
                maps: BTreeMap::new(),
            }),
        };
        let mut retry = Retry::start(registry.settings.register_backoff, registry.clock.now());
        loop {
            let error = match registry.register_once().await {
                Ok(()) => return Ok(registry),
                Err(e) if !e.retryable => return Err(e),
                Err(e) => e,
            };
            let decision = {
                let mut state = registry.lock();
                retry.failed(registry.clock.now(), &mut state.rng)
            };
            match decision {
                RetryDecision::RetryAt(at) => {
                    tracing::warn!(error = %error, attempt = retry.attempts() - 1, "registering the gateway failed; retrying");
                    tokio::time::sleep_until(registry.clock.instant_at(at)).await;
                }
                RetryDecision::GiveUp => {
                    return Err(SeamError {
                        detail: format!(
                            "registration gave up after {} attempts: {}",
                            retry.attempts(),
                            error.detail
                        ),
                        ..error
                    });
                }
            }
        }
    }

    /// The id the registry gave this gateway at its last registration (NATS subjects and
    /// events carry it). It can change when the gateway registers again.
    pub fn gateway_id(&self) -> String {
        self.lock().gateway_id.clone()
    }

    /// Successful registrations so far: 1 after [`GrpcRegistry::start`], more after each
    /// re-registration.
    pub fn registrations(&self) -> u64 {
        self.lock().registrations
    }

    /// The realm's layer configuration (`GetMapLayerConfiguration`): map id -> layers.
    pub async fn map_layers(&self) -> Result<BTreeMap<u32, u32>, SeamError> {
        const RPC: &str = "GetMapLayerConfiguration";
        let timeout_ms = self.settings.registry_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.get_map_layer_configuration(request(
                v1::GetMapLayerConfigurationRequest {
                    api: API_VERSION.into(),
                    realm_id: self.settings.realm_id,
                },
                timeout_ms,
            )),
        )
        .await?;
        let mut layers = BTreeMap::new();
        for m in answer.maps {
            if layers.insert(m.map_id, m.layer_count).is_some() {
                return Err(bad_answer(
                    SERVICE,
                    RPC,
                    format!("map {} listed twice", m.map_id),
                ));
            }
        }
        Ok(layers)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One `RegisterGateway` (CONTRACTS.md section 4: `isCrossRealm` unset); keeps the id.
    async fn register_once(&self) -> Result<(), SeamError> {
        const RPC: &str = "RegisterGateway";
        let s = &self.settings;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            s.registry_call_timeout_ms,
            client.register_gateway(request(
                v1::RegisterGatewayRequest {
                    api: API_VERSION.into(),
                    game_port: u32::from(s.game_port),
                    health_port: u32::from(s.health_port),
                    realm_id: s.realm_id,
                    is_cross_realm: false,
                    preferred_host_name: s.preferred_host_name.clone(),
                },
                s.registry_call_timeout_ms,
            )),
        )
        .await?;
        if answer.id.is_empty() {
            return Err(bad_answer(SERVICE, RPC, "no gateway id".into()));
        }
        let now = self.clock.now();
        let mut state = self.lock();
        if !state.gateway_id.is_empty() && state.gateway_id != answer.id {
            tracing::warn!(old = %state.gateway_id, new = %answer.id, "the registry gave this gateway a new id");
        }
        tracing::info!(gateway_id = %answer.id, "registered with the servers registry");
        state.gateway_id = answer.id;
        state.registrations += 1;
        state.reregister_retry = None;
        state.next_membership_check =
            now + std::time::Duration::from_millis(s.membership_check_every_ms);
        Ok(())
    }

    /// Whether the registry still lists this gateway (id and address) for its realm.
    async fn still_listed(&self) -> Result<bool, SeamError> {
        let timeout_ms = self.settings.registry_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            "ListGatewaysForRealm",
            timeout_ms,
            client.list_gateways_for_realm(request(
                v1::ListGatewaysForRealmRequest {
                    api: API_VERSION.into(),
                    realm_id: self.settings.realm_id,
                },
                timeout_ms,
            )),
        )
        .await?;
        let id = self.gateway_id();
        let address = self.settings.game_address();
        Ok(answer
            .gateways
            .iter()
            .any(|g| g.id == id && g.address == address))
    }

    /// When due: checks that the registry still lists this gateway and registers again when
    /// it does not. Failures only move the next attempt (jittered backoff, then the normal
    /// interval once the policy is used up); the refresh itself goes on.
    async fn keep_registered(&self) {
        let now = self.clock.now();
        if now < self.lock().next_membership_check {
            return;
        }
        let result = match self.still_listed().await {
            Ok(true) => {
                let mut state = self.lock();
                state.reregister_retry = None;
                state.next_membership_check =
                    now + std::time::Duration::from_millis(self.settings.membership_check_every_ms);
                return;
            }
            Ok(false) => {
                tracing::warn!(gateway_id = %self.gateway_id(), "the registry no longer lists this gateway; registering again");
                self.register_once().await
            }
            Err(e) => Err(e),
        };
        if let Err(error) = result {
            let now = self.clock.now();
            let mut state = self.lock();
            let policy = self.settings.register_backoff;
            let State {
                rng,
                reregister_retry,
                ..
            } = &mut *state;
            let retry = reregister_retry.get_or_insert_with(|| Retry::start(policy, now));
            let next = match retry.failed(now, rng) {
                RetryDecision::RetryAt(at) => at,
                RetryDecision::GiveUp => {
                    *reregister_retry = None;
                    now + std::time::Duration::from_millis(
                        self.settings.membership_check_every_ms.max(policy.max_ms),
                    )
                }
            };
            state.next_membership_check = next;
            tracing::warn!(error = %error, "keeping the gateway registered failed");
        }
    }

    /// `ListAllGameServers`, validated, this realm's and cross-realm worldservers only.
    async fn list(&self) -> Result<Vec<Listed>, SeamError> {
        const RPC: &str = "ListAllGameServers";
        let timeout_ms = self.settings.registry_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            RPC,
            timeout_ms,
            client.list_all_game_servers(request(
                v1::ListAllGameServersRequest {
                    api: API_VERSION.into(),
                },
                timeout_ms,
            )),
        )
        .await?;
        let mut seen = BTreeSet::new();
        let mut listed = Vec::new();
        for gs in answer.game_servers {
            if gs.id.is_empty() || gs.address.is_empty() {
                return Err(bad_answer(
                    SERVICE,
                    RPC,
                    format!(
                        "a worldserver without id or address (id {:?}, address {:?})",
                        gs.id, gs.address
                    ),
                ));
            }
            if !seen.insert(gs.id.clone()) {
                return Err(bad_answer(
                    SERVICE,
                    RPC,
                    format!("worldserver {:?} listed twice", gs.id),
                ));
            }
            if !(gs.is_cross_realm || gs.realm_id == self.settings.realm_id) {
                continue;
            }
            if gs.assigned_maps.is_empty() {
                tracing::debug!(worldserver = %gs.id, "listed with no assigned map; it owns nothing");
                continue;
            }
            let assigned: BTreeSet<u32> = gs.assigned_maps.iter().copied().collect();
            // The registry fills `diff` from its metrics scrape; all zeros: not measured yet.
            let world_update_p99_ms = gs
                .diff
                .filter(|d| d.max != 0 || d.percentile99 != 0 || d.mean != 0)
                .map(|d| d.percentile99);
            listed.push(Listed {
                info: WorldserverInfo {
                    server: WorldserverRef {
                        id: WorldserverId(gs.id),
                        address: gs.address,
                    },
                    maps: assigned.iter().copied().collect(),
                    world_update_p99_ms,
                    loading_maps: Vec::new(),
                    alias: gs.alias,
                    realm_id: (!gs.is_cross_realm).then_some(gs.realm_id),
                    crossrealm: gs.is_cross_realm,
                },
                assigned,
            });
        }
        Ok(listed)
    }

    /// Whether the registry says `server` can take players on `map` now (it is assigned and
    /// loaded there).
    async fn map_ready(&self, server: &WorldserverInfo, map: u32) -> Result<bool, SeamError> {
        let timeout_ms = self.settings.registry_call_timeout_ms;
        let mut client = self.client.clone();
        let answer = call(
            SERVICE,
            "AvailableGameServersForMapAndRealm",
            timeout_ms,
            client.available_game_servers_for_map_and_realm(request(
                v1::AvailableGameServersForMapAndRealmRequest {
                    api: API_VERSION.into(),
                    realm_id: server.realm_id.unwrap_or(self.settings.realm_id),
                    map_id: map,
                    is_cross_realm: server.crossrealm,
                    group_id: 0,
                    preferred_game_server_alias: server.server.address.clone(),
                },
                timeout_ms,
            )),
        )
        .await?;
        Ok(answer
            .game_servers
            .iter()
            .any(|g| g.id == server.server.id.0))
    }

    async fn refresh(&self) -> Result<Vec<WorldserverInfo>, SeamError> {
        self.keep_registered().await;
        let listed = self.list().await?;

        // Which maps to ask about: new on a worldserver seen before, or still loading.
        let mut questions: Vec<(usize, u32)> = Vec::new();
        {
            let state = self.lock();
            for (i, l) in listed.iter().enumerate() {
                let Some(before) = state.maps.get(&l.info.server.id.0) else {
                    continue;
                };
                for &map in &l.assigned {
                    if !before.assigned.contains(&map) || before.loading.contains(&map) {
                        questions.push((i, map));
                    }
                }
            }
        }
        let mut loading: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); listed.len()];
        let mut asked = 0usize;
        let mut registry_failing = false;
        for (i, map) in questions {
            let ready = if registry_failing || asked >= self.settings.loading_probes_max {
                false
            } else {
                asked += 1;
                match self.map_ready(&listed[i].info, map).await {
                    Ok(ready) => ready,
                    Err(e) => {
                        // Counted as loading, and no more questions this refresh.
                        tracing::warn!(error = %e, "asking whether a map is loaded failed");
                        registry_failing = true;
                        false
                    }
                }
            };
            if !ready {
                loading[i].insert(map);
            }
        }

        let mut state = self.lock();
        state.maps = listed
            .iter()
            .zip(&loading)
            .map(|(l, loading)| {
                (
                    l.info.server.id.0.clone(),
                    TrackedMaps {
                        assigned: l.assigned.clone(),
                        loading: loading.clone(),
                    },
                )
            })
            .collect();
        Ok(listed
            .into_iter()
            .zip(loading)
            .map(|(mut l, loading)| {
                l.info.loading_maps = loading.into_iter().collect();
                l.info
            })
            .collect())
    }
}

/// One refresh: the membership check when due (and a re-registration when the registry
/// forgot the gateway), `ListAllGameServers`, then the loading-map questions, stopping at the
/// first that fails. Against a registry that hangs it costs at most three call deadlines
/// (`3 × registry_call_timeout_ms`); against one that refuses connections, next to nothing.
impl Registry for GrpcRegistry {
    fn worldservers(&self) -> BoxFuture<'_, Result<Vec<WorldserverInfo>, SeamError>> {
        Box::pin(self.refresh())
    }
}
