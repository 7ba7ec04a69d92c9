//! The config file: `[gateway]`, optional `[session]`, and the embedded cluster
//! (`[[accounts]]`, `[[characters]]`, `[[worldservers]]`). Errors name the key.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use serde::Deserialize;

use crate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
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
