//! The ToCloud9 cluster mode's adapters, started in order and put behind the seams.
//!
//! 1. [`GrpcRegistry::start`] registers the gateway with servers-registry (retrying with
//!    backoff); the registry's answer is the gateway id. [`Health::mark_registered`].
//! 2. [`NatsBus::connect`] with that id (it returns at once; NATS may come up later).
//! 3. [`AuthDb::connect_lazy`], [`GrpcCharacters::connect`], [`GrpcChat::connect`] and
//!    [`GrpcGuilds::connect`]: all connect on first use.
//! 4. [`ClusterAdapters::seams`] wraps every service in [`Counted`]: its errors reach
//!    `waygate_adapter_errors_total`, and the auth DB's answers move readiness.
//! 5. Once the gateway exists, [`ClusterAdapters::subscribe`] hands it the bus's events, and
//!    [`ClusterAdapters::probe_accounts`] asks the auth DB until it answers (readiness).
//!
//! The listeners are bound before step 1 (see `main.rs`), so a port conflict fails at once
//! and the registry's first health check, right after the registration, finds the port
//! accepting.

use std::net::IpAddr;
use std::sync::Arc;

use super::auth_db::{AuthDb, AuthDbSettings, Dsn, SchemaType};
use super::fence_kv::{FENCE_KV_OP_TIMEOUT_MS, JetStreamKv, bucket_name};
use super::grpc::{
    CharactersSettings, ChatSettings, GroupsSettings, GrpcCharacters, GrpcChat, GrpcGroups,
    GrpcGuilds, GrpcRegistry, GrpcServices, GuildsSettings, RegistrySettings,
};
use super::nats::{NatsBus, NatsError, NatsSettings};
use crate::cluster::WorldserverInfo;
use crate::config::{DbSchema, ToCloud9Config};
use crate::driver::{AdapterErrors, AdapterService, Gateway};
use crate::ops::Health;
use crate::present::{ServiceAnswer, ServiceRequest};
use crate::runtime::{
    Accounts, BoxFuture, Characters, Clock, Entropy, PresentServices, Registry, Seams, TokioNet,
};
use crate::session::{
    AccountId, AccountRecord, CharacterGuid, CharacterRecord, NameRecord, SeamError,
};

/// At shutdown, how long the last events (logouts) get to reach NATS.
pub const NATS_FLUSH_TIMEOUT_MS: u64 = 2_000;

/// Until the auth DB has answered once, how often it is asked (its realm list).
pub const AUTH_DB_PROBE_EVERY_MS: u64 = 2_000;

/// Why the cluster mode could not start. Each names the service and whether a restart with
/// the same configuration can help.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// servers-registry refused the registration, or the retries ran out.
    #[error("servers-registry at {address}: {error} (retryable: {retryable})", retryable = error.retryable)]
    Registry {
        /// Where it was asked.
        address: String,
        /// What went wrong.
        error: SeamError,
    },
    /// The NATS client could not be set up (a bad URL or gateway id; NATS being down is not
    /// an error here).
    #[error("NATS: {0} (retryable: false, the configuration must change)")]
    Nats(#[from] NatsError),
    /// The auth DB's settings or DSN are refused.
    #[error("auth DB: {0} (retryable: false, the configuration must change)")]
    AuthDb(String),
    /// The characters service's address is refused.
    #[error("characters service: {0}")]
    Characters(SeamError),
    /// The chat service's address is refused.
    #[error("chat service: {0}")]
    Chat(SeamError),
    /// The guild service's address is refused.
    #[error("guild service: {0}")]
    Guilds(SeamError),
    /// The group service's address is refused.
    #[error("group service: {0}")]
    Groups(SeamError),
}

/// The started adapters of the ToCloud9 mode.
pub struct ClusterAdapters {
    /// servers-registry.
    pub registry: Arc<GrpcRegistry>,
    /// charserver.
    pub characters: Arc<GrpcCharacters>,
    /// The auth DB.
    pub accounts: Arc<AuthDb>,
    /// NATS.
    pub bus: Arc<NatsBus>,
    /// The services presentation calls (chatserver, guildserver, groupserver, charserver).
    pub services: Arc<GrpcServices>,
    /// Where account fencing keeps its records.
    pub fence: Arc<dyn crate::runtime::KvStore>,
    /// The gateway id the bus was started with.
    gateway_id: String,
}

impl ClusterAdapters {
    /// Starts them in order (module docs). Returns once registered; NATS, the auth DB and
    /// charserver connect on first use. Needs a tokio runtime.
    pub async fn start(
        cfg: &ToCloud9Config,
        clock: Clock,
        entropy: &mut Entropy,
        health: &Health,
    ) -> Result<Self, StartError> {
        let registry_address = cfg.services.servers_registry.to_string();
        let settings = RegistrySettings::new(
            registry_address.clone(),
            cfg.realm_id,
            cfg.port,
            cfg.health_check_port,
            cfg.preferred_hostname.clone(),
        );
        tracing::info!(registry = %registry_address, realm = cfg.realm_id, "registering with servers-registry");
        let registry = GrpcRegistry::start(settings, clock, entropy.child_rng())
            .await
            .map_err(|error| StartError::Registry {
                address: registry_address,
                error,
            })?;
        let gateway_id = registry.gateway_id();
        health.mark_registered();
        tracing::info!(gateway_id = %gateway_id, "registered with servers-registry");

        let bus = NatsBus::connect(NatsSettings::new(
            cfg.nats_url.servers().join(","),
            cfg.realm_id,
            gateway_id.clone(),
        ))
        .await?;

        // Account fencing across the realm's gateways lives in JetStream key-value. Without
        // JetStream, each gateway fences only its own sessions: said loudly, at start.
        let fence: Arc<dyn crate::runtime::KvStore> = match JetStreamKv::open(
            bus.client(),
            cfg.realm_id,
            FENCE_KV_OP_TIMEOUT_MS,
        )
        .await
        {
            Ok(kv) => {
                tracing::info!(bucket = %bucket_name(cfg.realm_id), "account fencing: cluster-wide, on NATS JetStream key-value");
                Arc::new(kv)
            }
            Err(e) => {
                tracing::error!(error = %e, "account fencing: JetStream unavailable, so this gateway fences only its own sessions; the same account may log in through another gateway at the same time");
                Arc::new(crate::runtime::MemoryKv::default())
            }
        };

        let dsn =
            Dsn::parse(cfg.auth_db.expose_text()).map_err(|e| StartError::AuthDb(e.to_string()))?;
        let schema = match cfg.db_schema {
            DbSchema::AzerothCore => SchemaType::AzerothCore,
            DbSchema::TrinityCore => SchemaType::TrinityCore,
        };
        let accounts = AuthDb::connect_lazy(&dsn, AuthDbSettings::new(schema))
            .map_err(|e| StartError::AuthDb(e.to_string()))?;

        let characters = GrpcCharacters::connect(CharactersSettings::new(
            cfg.services.characters.to_string(),
            cfg.realm_id,
        ))
        .map_err(StartError::Characters)?;
        let chat = GrpcChat::connect(ChatSettings::new(
            cfg.services.chat.to_string(),
            cfg.realm_id,
        ))
        .map_err(StartError::Chat)?;
        let guilds = GrpcGuilds::connect(GuildsSettings::new(
            cfg.services.guilds.to_string(),
            cfg.realm_id,
        ))
        .map_err(StartError::Guilds)?;
        let groups = GrpcGroups::connect(GroupsSettings::new(
            cfg.services.group.to_string(),
            cfg.realm_id,
        ))
        .map_err(StartError::Groups)?;

        Ok(Self {
            registry: Arc::new(registry),
            characters: Arc::new(characters.clone()),
            accounts: Arc::new(accounts),
            bus: Arc::new(bus),
            services: Arc::new(GrpcServices {
                chat,
                guilds,
                characters,
                groups,
            }),
            fence,
            gateway_id,
        })
    }

    /// The gateway id the bus publishes with.
    pub fn gateway_id(&self) -> &str {
        &self.gateway_id
    }

    /// The seams over these adapters, each counting its errors in `errors`; the auth DB's
    /// answers also move `health`'s accounts readiness.
    pub fn seams(&self, clock: Clock, errors: &AdapterErrors, health: &Health) -> Seams {
        Seams {
            clock,
            net: Arc::new(TokioNet),
            accounts: Arc::new(Counted {
                inner: self.accounts.clone(),
                service: AdapterService::AuthDb,
                errors: errors.clone(),
                health: Some(health.clone()),
            }),
            characters: Arc::new(Counted {
                inner: self.characters.clone(),
                service: AdapterService::Characters,
                errors: errors.clone(),
                health: None,
            }),
            registry: Arc::new(Counted {
                inner: self.registry.clone(),
                service: AdapterService::ServersRegistry,
                errors: errors.clone(),
                health: None,
            }),
            events: self.bus.clone(),
            services: Arc::new(Counted {
                inner: self.services.clone(),
                service: AdapterService::Chat,
                errors: errors.clone(),
                health: None,
            }),
            fence: self.fence.clone(),
        }
    }

    /// Asks the auth DB for its realm list until it answers (every
    /// [`AUTH_DB_PROBE_EVERY_MS`]), then marks the accounts ready: readiness does not wait
    /// for the first player, and the realm names (cross-realm name suffixes) are loaded
    /// before anyone needs them. Run it as a task; it ends at the first answer.
    pub async fn probe_accounts(self: Arc<Self>, errors: AdapterErrors, health: Health) {
        let mut failures = 0u64;
        loop {
            match self.accounts.realm_names().await {
                Ok(realms) => {
                    health.mark_accounts_ready();
                    tracing::info!(realms = realms.len(), "auth DB answered");
                    return;
                }
                Err(e) => {
                    failures += 1;
                    errors.count(AdapterService::AuthDb);
                    // The 1st, 2nd, 4th, 8th... failure: a DB that stays down does not flood.
                    if failures.is_power_of_two() {
                        tracing::warn!(error = %e, failures, "auth DB not answering yet; not ready");
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(AUTH_DB_PROBE_EVERY_MS)).await;
        }
    }

    /// Subscribes the bus to the cluster's events, delivered to the gateway's players.
    pub async fn subscribe(&self, gateway: Arc<Gateway>) -> Result<(), NatsError> {
        self.bus.subscribe(gateway).await
    }

    /// The registry's current gateway id when it differs from the bus's: the registry forgot
    /// this gateway and registered it again under a new id. The bus keeps publishing and
    /// listening under the old one (see the README's limits).
    pub fn gateway_id_changed(&self) -> Option<String> {
        let now = self.registry.gateway_id();
        (now != self.gateway_id).then_some(now)
    }

    /// At shutdown: the last events out (at most [`NATS_FLUSH_TIMEOUT_MS`]), the DB's
    /// connections closed.
    pub async fn stop(&self) {
        if !self.bus.flush(NATS_FLUSH_TIMEOUT_MS).await {
            tracing::warn!(
                timeout_ms = NATS_FLUSH_TIMEOUT_MS,
                stats = ?self.bus.stats(),
                "NATS: the last events were not all written out before the flush timeout"
            );
        }
        self.accounts.close().await;
    }
}

/// A seam that counts its adapter's errors (`waygate_adapter_errors_total{service}`); for
/// the auth DB, its answers also set readiness: an answer (account or not) makes the gateway
/// ready, a retryable error unready until the next answer.
struct Counted<T: ?Sized> {
    inner: Arc<T>,
    service: AdapterService,
    errors: AdapterErrors,
    health: Option<Health>,
}

impl<T: ?Sized> Counted<T> {
    fn note<V>(&self, result: Result<V, SeamError>) -> Result<V, SeamError> {
        match &result {
            Ok(_) => {
                if let Some(h) = &self.health {
                    h.mark_accounts_ready();
                }
            }
            Err(e) => {
                self.errors.count(self.service);
                if let (Some(h), true) = (&self.health, e.retryable) {
                    h.mark_accounts_unready();
                }
            }
        }
        result
    }
}

impl<T: Accounts + ?Sized> Accounts for Counted<T> {
    fn lookup<'a>(
        &'a self,
        name: &'a str,
        client_ip: IpAddr,
    ) -> BoxFuture<'a, Result<Option<AccountRecord>, SeamError>> {
        Box::pin(async move { self.note(self.inner.lookup(name, client_ip).await) })
    }
}

impl<T: Characters + ?Sized> Characters for Counted<T> {
    fn list(&self, account: AccountId) -> BoxFuture<'_, Result<Vec<CharacterRecord>, SeamError>> {
        Box::pin(async move { self.note(self.inner.list(account).await) })
    }

    fn name(&self, guid: CharacterGuid) -> BoxFuture<'_, Result<Option<NameRecord>, SeamError>> {
        Box::pin(async move { self.note(self.inner.name(guid).await) })
    }
}

impl<T: PresentServices + ?Sized> PresentServices for Counted<T> {
    fn call(&self, request: ServiceRequest) -> BoxFuture<'_, ServiceAnswer> {
        Box::pin(async move {
            // Counted under the service asked, not the wrapper's.
            let service = match request.service() {
                "guild" => AdapterService::Guilds,
                "group" => AdapterService::Group,
                "characters" => AdapterService::Characters,
                _ => AdapterService::Chat,
            };
            let answer = self.inner.call(request).await;
            if answer.failure().is_some() {
                self.errors.count(service);
            }
            answer
        })
    }
}

impl<T: Registry + ?Sized> Registry for Counted<T> {
    fn worldservers(&self) -> BoxFuture<'_, Result<Vec<WorldserverInfo>, SeamError>> {
        Box::pin(async move { self.note(self.inner.worldservers().await) })
    }
}
