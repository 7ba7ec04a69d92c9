//! Configuration. Two modes, one resolved type ([`Resolved`], found by [`resolve`] in
//! ToCloud9's lookup order, see `resolve.rs`):
//!
//! - Waygate's TOML file (this file's [`Config`]): `[gateway]`, optional `[session]`,
//!   `[cluster]`, `[ops]`, and the embedded cluster (`[[accounts]]`, `[[characters]]`,
//!   `[[worldservers]]`). Unknown keys are refused.
//! - ToCloud9's `config.yml` (`gateway:`) and environment variables, with cleanenv's rules
//!   ([`ToCloud9Config`], `tocloud9.rs`).
//!
//! Every error names the key (and the variable, for ToCloud9's); `waygate` exits 64 on one.

mod dsn;
mod goparse;
mod resolve;
mod tocloud9;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use serde::Deserialize;

pub use dsn::{MYSQL_DEFAULT_PORT, MysqlDsn};
pub use resolve::{
    CONFIG_FILE_ENV, DEFAULT_CONFIG_NAME, LogSettings, Mode, OpsSettings, Places, Resolved, Source,
    locate, resolve,
};
pub use tocloud9::{
    CONFIG_FILE_MAX_BYTES, DbSchema, Env, KEYS, Key, LogFormat, NatsUrl, Origin, ProcessEnv,
    ServiceAddress, ServiceAddresses, ToCloud9Config, YamlGateway, env_names,
};

use crate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
use crate::driver::DriverConfig;
use crate::runtime::StaticCluster;
use crate::session::{AccountId, AccountRecord, CharacterGuid, CharacterRecord, SessionConfig};
use crate::wire::SessionKey;

/// A config file that cannot be used. The message names the key.
#[derive(Debug, thiserror::Error)]
#[error("config: {0}")]
pub struct ConfigError(pub String);

/// `[gateway]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewaySection {
    /// Address game clients connect to.
    pub listen: SocketAddr,
    /// Realm this gateway serves.
    #[serde(default = "one")]
    pub realm_id: u32,
    /// Client connections at once; more are refused at accept.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// On SIGTERM/Ctrl-C: how long players get to be logged out politely before exit.
    #[serde(default = "default_shutdown_timeout_ms")]
    pub shutdown_timeout_ms: u64,
    /// A client write that does not finish in this time closes the client.
    #[serde(default = "default_client_write_timeout_ms")]
    pub client_write_timeout_ms: u64,
    /// `text` or `json`.
    #[serde(default = "default_log_format")]
    pub log_format: String,
    /// A tracing filter, e.g. `info` or `waygate=debug`.
    #[serde(default = "default_log_level")]
    pub log_level: String,
}

fn one() -> u32 {
    1
}
fn default_max_connections() -> usize {
    5_000
}
fn default_shutdown_timeout_ms() -> u64 {
    10_000
}
fn default_client_write_timeout_ms() -> u64 {
    10_000
}
fn default_log_format() -> String {
    "text".into()
}
fn default_log_level() -> String {
    "info".into()
}

impl ToCloud9Config {
    /// The driver's settings in the ToCloud9 mode: Waygate's defaults (the TOML file's) for
    /// this realm, with presentation calling ToCloud9's services within
    /// `packetProcessTimeoutSecs`.
    pub fn driver_config(&self) -> DriverConfig {
        DriverConfig {
            session: SessionConfig {
                realm_id: self.realm_id,
                present_call_timeout_ms: u64::from(self.packet_process_timeout_secs)
                    .saturating_mul(1_000),
                services: crate::present::Services::TOCLOUD9,
                ..SessionConfig::default()
            },
            max_connections: default_max_connections(),
            write_timeout_ms: default_client_write_timeout_ms(),
            shutdown_timeout_ms: default_shutdown_timeout_ms(),
            cluster: crate::driver::ClusterConfig::default(),
        }
    }
}

/// `[ops]`: the operations listeners, both off unless set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsSection {
    /// `/healthcheck`, `/livez`, `/readyz` and `/metrics` (ToCloud9's `healthCheckPort`).
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Drain and undrain worldservers, switch a character's layer (HTTP POSTs). No
    /// authentication, so a loopback address only.
    #[serde(default)]
    pub admin_listen: Option<SocketAddr>,
}

/// `[[accounts]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// Account name (matched case-insensitively).
    pub name: String,
    /// 80 hex digits: the 40-byte session key K.
    pub session_key: String,
    /// Account id; defaults to the entry's position, counting from 1.
    pub id: Option<u32>,
    /// Refused with AUTH_BANNED.
    #[serde(default)]
    pub banned: bool,
    /// Refused with AUTH_LOCKED_ENFORCED.
    #[serde(default)]
    pub locked: bool,
}

/// `[[characters]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharacterEntry {
    /// Guid.
    pub guid: u64,
    /// Owning account's name.
    pub account: String,
    /// Name.
    pub name: String,
    /// Race id.
    pub race: u8,
    /// Class id.
    pub class: u8,
    /// Gender id.
    pub gender: u8,
    /// Level.
    pub level: u8,
    /// Map id.
    pub map: u32,
    /// Zone id.
    pub zone: u32,
    /// Position.
    pub x: f32,
    /// Position.
    pub y: f32,
    /// Position.
    pub z: f32,
}

/// `[[worldservers]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldserverEntry {
    /// Registry id.
    pub id: String,
    /// Cluster-mode game address.
    pub address: String,
    /// Maps it owns; empty means every map.
    #[serde(default)]
    pub maps: Vec<u32>,
    /// Display name for logs.
    #[serde(default)]
    pub alias: String,
    /// The realm it serves (default: the gateway's).
    #[serde(default)]
    pub realm_id: Option<u32>,
    /// It serves every realm.
    #[serde(default)]
    pub crossrealm: bool,
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[gateway]`.
    pub gateway: GatewaySection,
    /// `[session]`: per-session limits and deadlines.
    #[serde(default)]
    pub session: SessionConfig,
    /// `[cluster]`: health hysteresis, registry refresh and staleness.
    #[serde(default)]
    pub cluster: crate::driver::ClusterConfig,
    /// `[ops]`: health, readiness, metrics and admin listeners.
    #[serde(default)]
    pub ops: OpsSection,
    /// `[[accounts]]`.
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
    /// `[[characters]]`.
    #[serde(default)]
    pub characters: Vec<CharacterEntry>,
    /// `[[worldservers]]`.
    #[serde(default)]
    pub worldservers: Vec<WorldserverEntry>,
}

impl Config {
    /// Parses and checks a config file's text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let mut cfg: Config =
            toml::from_str(text).map_err(|e| ConfigError(e.to_string().trim_end().to_owned()))?;
        cfg.session.realm_id = cfg.gateway.realm_id;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let g = &self.gateway;
        if g.max_connections == 0 {
            return Err(ConfigError(
                "gateway.max_connections must be at least 1".into(),
            ));
        }
        if let Some(admin) = self.ops.admin_listen
            && !admin.ip().is_loopback()
        {
            return Err(ConfigError(format!(
                "ops.admin_listen {admin} is not a loopback address; the admin listener has \
                 no authentication, so it binds to 127.0.0.0/8 or ::1 only"
            )));
        }
        if tracing_subscriber::EnvFilter::try_new(&g.log_level).is_err() {
            return Err(ConfigError(format!(
                "gateway.log_level {:?} is not a tracing filter (for example \"info\" or \
                 \"warn,waygate=debug\")",
                g.log_level
            )));
        }
        if !matches!(g.log_format.as_str(), "text" | "json") {
            return Err(ConfigError(format!(
                "gateway.log_format must be \"text\" or \"json\", not {:?}",
                g.log_format
            )));
        }
        self.session
            .recovery_backoff
            .check()
            .map_err(|e| ConfigError(format!("session.recovery_backoff: {e}")))?;
        self.session
            .placement_backoff
            .check()
            .map_err(|e| ConfigError(format!("session.placement_backoff: {e}")))?;
        self.cluster
            .fence
            .check()
            .map_err(|e| ConfigError(format!("cluster.fence: {e}")))?;
        let mut names = BTreeSet::new();
        for (i, a) in self.accounts.iter().enumerate() {
            if a.name.is_empty() || a.name.len() > crate::wire::auth::ACCOUNT_NAME_MAX_BYTES {
                return Err(ConfigError(format!(
                    "accounts[{i}].name must be 1..=64 bytes"
                )));
            }
            if SessionKey::from_hex(&a.session_key).is_none() {
                return Err(ConfigError(format!(
                    "accounts[{i}].session_key must be 80 hex digits (the 40-byte K)"
                )));
            }
            if !names.insert(a.name.to_ascii_uppercase()) {
                return Err(ConfigError(format!(
                    "accounts[{i}].name {:?} is listed twice",
                    a.name
                )));
            }
        }
        let mut guids = BTreeSet::new();
        for (i, c) in self.characters.iter().enumerate() {
            if !names.contains(&c.account.to_ascii_uppercase()) {
                return Err(ConfigError(format!(
                    "characters[{i}].account {:?} is not in [[accounts]]",
                    c.account
                )));
            }
            if !guids.insert(c.guid) || c.guid == 0 {
                return Err(ConfigError(format!(
                    "characters[{i}].guid {} is zero or listed twice",
                    c.guid
                )));
            }
            if c.name.is_empty() || c.name.len() > crate::wire::packets::NAME_MAX_BYTES {
                return Err(ConfigError(format!(
                    "characters[{i}].name must be 1..=64 bytes"
                )));
            }
            if ![c.x, c.y, c.z].iter().all(|v| v.is_finite()) {
                return Err(ConfigError(format!(
                    "characters[{i}] position must be finite"
                )));
            }
        }
        let mut ids = BTreeSet::new();
        for (i, w) in self.worldservers.iter().enumerate() {
            if !ids.insert(w.id.clone()) {
                return Err(ConfigError(format!(
                    "worldservers[{i}].id {:?} is listed twice",
                    w.id
                )));
            }
            if w.address.parse::<SocketAddr>().is_err() {
                return Err(ConfigError(format!(
                    "worldservers[{i}].address {:?} is not host:port (an IP address and port)",
                    w.address
                )));
            }
        }
        Ok(())
    }

    /// The driver's settings from this file.
    pub fn driver_config(&self) -> DriverConfig {
        DriverConfig {
            session: self.session.clone(),
            max_connections: self.gateway.max_connections,
            write_timeout_ms: self.gateway.client_write_timeout_ms,
            shutdown_timeout_ms: self.gateway.shutdown_timeout_ms,
            cluster: self.cluster,
        }
    }

    /// Every setting that matters at start as `key=value` (never a session key).
    pub fn summary_lines(&self) -> Vec<String> {
        let g = &self.gateway;
        let off = |a: Option<SocketAddr>| a.map_or_else(|| "off".to_owned(), |a| a.to_string());
        let ids: Vec<&str> = self.worldservers.iter().map(|w| w.id.as_str()).collect();
        vec![
            format!("gateway.listen={}", g.listen),
            format!("gateway.realm_id={}", g.realm_id),
            format!("gateway.max_connections={}", g.max_connections),
            format!("gateway.shutdown_timeout_ms={}", g.shutdown_timeout_ms),
            format!(
                "gateway.client_write_timeout_ms={}",
                g.client_write_timeout_ms
            ),
            format!("gateway.log_format={}", g.log_format),
            format!("gateway.log_level={}", g.log_level),
            format!("ops.listen={}", off(self.ops.listen)),
            format!("ops.admin_listen={}", off(self.ops.admin_listen)),
            format!("accounts={}", self.accounts.len()),
            format!("characters={}", self.characters.len()),
            format!("worldservers=[{}]", ids.join(",")),
        ]
    }

    /// [`Self::summary_lines`] on one line.
    pub fn summary(&self) -> String {
        self.summary_lines().join(" ")
    }

    /// The embedded cluster this file describes.
    pub fn cluster(&self) -> StaticCluster {
        let ids: Vec<(String, AccountId)> = self
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| {
                (
                    a.name.to_ascii_uppercase(),
                    AccountId(a.id.unwrap_or(i as u32 + 1)),
                )
            })
            .collect();
        let id_of = |name: &str| {
            let upper = name.to_ascii_uppercase();
            ids.iter().find(|(n, _)| *n == upper).map(|(_, id)| *id)
        };
        let accounts = self
            .accounts
            .iter()
            .filter_map(|a| {
                Some(AccountRecord {
                    id: id_of(&a.name)?,
                    name: a.name.to_ascii_uppercase(),
                    session_key: SessionKey::from_hex(&a.session_key)?,
                    banned: a.banned,
                    locked: a.locked,
                })
            })
            .collect();
        let characters = self
            .characters
            .iter()
            .filter_map(|c| {
                Some(CharacterRecord {
                    guid: CharacterGuid(c.guid),
                    account: id_of(&c.account)?,
                    name: c.name.clone(),
                    race: c.race,
                    class: c.class,
                    gender: c.gender,
                    level: c.level,
                    appearance: [0; 5],
                    map: c.map,
                    zone: c.zone,
                    x: c.x,
                    y: c.y,
                    z: c.z,
                    guild_id: 0,
                })
            })
            .collect();
        let worldservers = self
            .worldservers
            .iter()
            .map(|w| WorldserverInfo {
                server: WorldserverRef {
                    id: WorldserverId(w.id.clone()),
                    address: w.address.clone(),
                },
                maps: w.maps.clone(),
                world_update_p99_ms: None,
                loading_maps: Vec::new(),
                alias: w.alias.clone(),
                realm_id: Some(w.realm_id.unwrap_or(self.gateway.realm_id)),
                crossrealm: w.crossrealm,
            })
            .collect();
        StaticCluster::new(accounts, characters, worldservers)
    }
}
