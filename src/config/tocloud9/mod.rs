//! ToCloud9's gateway configuration: the `gateway:` map of a ToCloud9 `config.yml` and the
//! same settings from environment variables, resolved with the rules of ToCloud9's loader
//! (cleanenv, CONTRACTS.md section 3):
//!
//! - the file is read first (keys under `gateway:`; other top-level maps, which belong to
//!   ToCloud9's other services, are ignored; anchors, aliases and `<<` merges work);
//! - an environment variable that is **set**, even to the empty text, replaces the file's
//!   value, and is parsed as Go would (`strconv` numbers with base prefixes, Go booleans,
//!   zerolog level names);
//! - a default applies only when the variable is unset **and** the value is still the zero
//!   value after the file (`""`, `0`, `false`): `realmId: 0` in the file ends up `1`, and
//!   `showGameserverConnChangeToClient: false` ends up `true`. Only the variable can force a
//!   zero.
//!
//! Then every value is checked (ToCloud9 would have failed later, or silently done
//! something else) and the error names the YAML key, the variable and where the value came
//! from. Values of `AUTH_DB_CONNECTION` are never repeated in messages or logs.

mod check;
mod keys;
mod parse;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::ConfigError;
use super::dsn::MysqlDsn;

use self::check::{check, parse_port};
pub use self::keys::{KEYS, Key, env_names};
pub use self::parse::{CONFIG_FILE_MAX_BYTES, YamlGateway};
use self::parse::{Raw, decode_yaml, parse_env_text};

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The config file.
    File,
    /// The environment variable.
    Env,
    /// The default (variable unset, value zero after the file).
    Default,
    /// Nowhere: zero, and the key has no default.
    Unset,
}

impl Origin {
    fn label(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Env => "env",
            Self::Default => "default",
            Self::Unset => "unset",
        }
    }
}

/// The auth DB schema (`DB_SCHEMA_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbSchema {
    /// TrinityCore (`tc`, `trinity`, `trinitycore`).
    TrinityCore,
    /// AzerothCore (`ac`, `acore`, `azeroth`, `azerothcore`).
    AzerothCore,
}

impl DbSchema {
    /// ToCloud9's names, in any case. ToCloud9 falls back to TrinityCore for anything else;
    /// Waygate refuses it (a typo would read the wrong session-key column).
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tc" | "trinity" | "trinitycore" => Some(Self::TrinityCore),
            "ac" | "acore" | "azeroth" | "azerothcore" => Some(Self::AzerothCore),
            _ => None,
        }
    }

    /// `tc` or `ac`.
    pub fn short(self) -> &'static str {
        match self {
            Self::TrinityCore => "tc",
            Self::AzerothCore => "ac",
        }
    }
}

/// `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `dev`: human-readable lines (Waygate's `text`).
    Dev,
    /// `json`: one JSON object a line.
    Json,
}

/// A gRPC service address, `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAddress {
    /// Host name or IP address (an IPv6 address without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl ServiceAddress {
    fn parse(s: &str) -> Option<Self> {
        let (host, port) = s.rsplit_once(':')?;
        let host = match host.strip_prefix('[') {
            Some(v6) => v6.strip_suffix(']')?,
            None if host.contains(':') => return None,
            None => host,
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return None;
        }
        Some(Self {
            host: host.to_owned(),
            port: parse_port(port)?,
        })
    }

    /// The plaintext HTTP/2 URI a gRPC client dials: `http://host:port`.
    pub fn http_uri(&self) -> String {
        format!("http://{self}")
    }
}

impl std::fmt::Display for ServiceAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The addresses of ToCloud9's gRPC services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAddresses {
    /// `CharactersService` (`CHAR_SERVICE_ADDRESS`).
    pub characters: ServiceAddress,
    /// `ServersRegistryService` (`SERVERS_REGISTRY_SERVICE_ADDRESS`).
    pub servers_registry: ServiceAddress,
    /// `ChatService` (`CHAT_SERVICE_ADDRESS`).
    pub chat: ServiceAddress,
    /// `MatchmakingService` (`MATCHMAKING_SERVICE_ADDRESS`).
    pub matchmaking: ServiceAddress,
    /// `GuildService` (`GUILDS_SERVICE_ADDRESS`).
    pub guilds: ServiceAddress,
    /// `MailService` (`MAIL_SERVICE_ADDRESS`).
    pub mail: ServiceAddress,
    /// `GroupService` (`GROUP_SERVICE_ADDRESS`).
    pub group: ServiceAddress,
    /// `AuctionHouseService` (`AUCTION_HOUSE_SERVICE_ADDRESS`).
    pub auction_house: ServiceAddress,
}

/// The NATS URL(s) (`NATS_URL`): one URL or a comma-separated list, as nats.go takes it.
/// Credentials in it are masked by `Display` and `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsUrl(pub String);

impl NatsUrl {
    /// The servers, one per comma-separated entry, trimmed.
    pub fn servers(&self) -> Vec<&str> {
        self.0
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The URL list with any `user:password@` or `token@` replaced by `***@`.
    pub fn masked(&self) -> String {
        self.servers()
            .iter()
            .map(|u| {
                let (scheme, rest) = match u.find("://") {
                    Some(i) => (&u[..i + 3], &u[i + 3..]),
                    None => ("", *u),
                };
                let host_end = rest.find('/').unwrap_or(rest.len());
                match rest[..host_end].rfind('@') {
                    Some(at) => format!("{scheme}***@{}", &rest[at + 1..]),
                    None => (*u).to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl std::fmt::Debug for NatsUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NatsUrl({})", self.masked())
    }
}

impl std::fmt::Display for NatsUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

/// ToCloud9's gateway settings, resolved and checked: everything the adapters need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToCloud9Config {
    /// Game client port (`PORT`); the gateway listens on `0.0.0.0:port` and registers it
    /// as `gamePort`.
    pub port: u16,
    /// The realm served (`REALM_ID`).
    pub realm_id: u32,
    /// The auth DB (`AUTH_DB_CONNECTION`), a go-sql-driver/mysql DSN.
    pub auth_db: MysqlDsn,
    /// The auth DB's schema (`DB_SCHEMA_TYPE`).
    pub db_schema: DbSchema,
    /// Port of `/healthcheck` and `/metrics` (`HEALTH_CHECK_PORT`), on every interface;
    /// registered as `healthPort`.
    pub health_check_port: u16,
    /// Registered as `preferredHostName`; clients are sent `<this>:<port>`
    /// (`PREFERRED_HOSTNAME`).
    pub preferred_hostname: String,
    /// ToCloud9's gRPC services.
    pub services: ServiceAddresses,
    /// NATS (`NATS_URL`).
    pub nats_url: NatsUrl,
    /// Per-opcode processing timeout for packets the gateway handles itself, seconds
    /// (`PACKET_PROCESS_TIMEOUT_SECS`, at least 1).
    pub packet_process_timeout_secs: u32,
    /// Tell the player in chat when its worldserver connection changes
    /// (`SHOW_GAMESERVER_CONN_CHANGE_TO_CLIENT`).
    pub show_gameserver_conn_change_to_client: bool,
    /// zerolog level number (`LOG_LEVEL`): -1 trace, 0 debug, 1 info, 2 warn, 3 error,
    /// 4 fatal, 5 panic, 6 no level, 7 disabled.
    pub log_level: i8,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// Waygate's admin listener (`WAYGATE_ADMIN_LISTEN`, YAML `adminListen`): a loopback
    /// address, or off.
    pub admin_listen: Option<SocketAddr>,
    /// Where each key of [`KEYS`] got its value, in that order.
    pub origins: Vec<(Key, Origin)>,
}

impl ToCloud9Config {
    /// Where game clients connect: `0.0.0.0:port` (ToCloud9 listens on tcp4, every
    /// interface).
    pub fn listen(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), self.port)
    }

    /// Where `/healthcheck` and `/metrics` are served: `0.0.0.0:healthCheckPort`.
    pub fn health_listen(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), self.health_check_port)
    }

    /// The address clients are sent and the registry stores: `preferredHostname:port`.
    pub fn client_address(&self) -> String {
        format!("{}:{}", self.preferred_hostname, self.port)
    }

    /// The tracing filter for `LOG_LEVEL`: Waygate's own lines at that level, other crates'
    /// at `warn` or above. Waygate has no fatal or panic level: 4 and 5 show errors.
    pub fn tracing_filter(&self) -> String {
        let ours = match self.log_level {
            i8::MIN..=-1 => "trace",
            0 => "debug",
            1 => "info",
            2 => "warn",
            3..=5 => "error",
            _ => return "off".into(),
        };
        match ours {
            "warn" | "error" => ours.into(),
            _ => format!("warn,waygate={ours}"),
        }
    }

    /// Every key as `yamlKey=value(origin)`, in [`KEYS`] order, the DSN's password and
    /// NATS credentials masked.
    pub fn summary_lines(&self) -> Vec<String> {
        self.origins
            .iter()
            .map(|(key, origin)| format!("{}={}({})", key.yaml, self.shown(key), origin.label()))
            .collect()
    }

    /// [`Self::summary_lines`] on one line: what the gateway logs at start.
    pub fn summary(&self) -> String {
        self.summary_lines().join(" ")
    }

    fn shown(&self, key: &Key) -> String {
        let s = &self.services;
        match key.env {
            "PORT" => self.port.to_string(),
            "REALM_ID" => self.realm_id.to_string(),
            "AUTH_DB_CONNECTION" => self.auth_db.masked(),
            "DB_SCHEMA_TYPE" => self.db_schema.short().into(),
            "HEALTH_CHECK_PORT" => self.health_check_port.to_string(),
            "PREFERRED_HOSTNAME" => self.preferred_hostname.clone(),
            "CHAR_SERVICE_ADDRESS" => s.characters.to_string(),
            "SERVERS_REGISTRY_SERVICE_ADDRESS" => s.servers_registry.to_string(),
            "CHAT_SERVICE_ADDRESS" => s.chat.to_string(),
            "MATCHMAKING_SERVICE_ADDRESS" => s.matchmaking.to_string(),
            "GUILDS_SERVICE_ADDRESS" => s.guilds.to_string(),
            "MAIL_SERVICE_ADDRESS" => s.mail.to_string(),
            "GROUP_SERVICE_ADDRESS" => s.group.to_string(),
            "AUCTION_HOUSE_SERVICE_ADDRESS" => s.auction_house.to_string(),
            "NATS_URL" => self.nats_url.masked(),
            "PACKET_PROCESS_TIMEOUT_SECS" => self.packet_process_timeout_secs.to_string(),
            "SHOW_GAMESERVER_CONN_CHANGE_TO_CLIENT" => {
                self.show_gameserver_conn_change_to_client.to_string()
            }
            "LOG_LEVEL" => self.log_level.to_string(),
            "LOG_FORMAT" => match self.log_format {
                LogFormat::Dev => "dev".into(),
                LogFormat::Json => "json".into(),
            },
            "WAYGATE_ADMIN_LISTEN" => self
                .admin_listen
                .map_or_else(|| "off".into(), |a| a.to_string()),
            _ => "?".into(),
        }
    }
}

/// The environment, as the resolver sees it.
pub trait Env {
    /// The variable's value: `Ok(None)` when unset, `Ok(Some(""))` when set to nothing. A
    /// value that is not UTF-8 is an error naming the variable.
    fn var(&self, name: &str) -> Result<Option<String>, ConfigError>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Result<Option<String>, ConfigError> {
        match std::env::var_os(name) {
            None => Ok(None),
            Some(v) => v
                .into_string()
                .map(Some)
                .map_err(|_| ConfigError(format!("env {name}: the value is not valid UTF-8"))),
        }
    }
}

impl Env for &[(&str, &str)] {
    fn var(&self, name: &str) -> Result<Option<String>, ConfigError> {
        Ok(self
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned()))
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn var(&self, name: &str) -> Result<Option<String>, ConfigError> {
        (&self[..]).var(name)
    }
}

impl Env for std::collections::BTreeMap<String, String> {
    fn var(&self, name: &str) -> Result<Option<String>, ConfigError> {
        Ok(self.get(name).cloned())
    }
}

/// Resolves every key from the file (if any) and the environment, with cleanenv's rules,
/// then checks the values. `file_name` names the file in errors.
pub fn resolve(
    file: Option<(&YamlGateway, &str)>,
    env: &dyn Env,
) -> Result<ToCloud9Config, ConfigError> {
    let mut values = Vec::with_capacity(KEYS.len());
    for key in &KEYS {
        let mut raw = Raw::zero(key.kind);
        let mut origin = Origin::Unset;
        if let Some((yaml, name)) = file
            && let Some(node) = yaml.node(key.yaml)
        {
            raw = decode_yaml(key, node).map_err(|why| {
                ConfigError(format!(
                    "{name}: gateway.{} (env {}): {why}",
                    key.yaml, key.env
                ))
            })?;
            origin = Origin::File;
        }
        match env.var(key.env)? {
            Some(text) => {
                raw = parse_env_text(key, &text).map_err(|why| {
                    ConfigError(format!("env {} (gateway.{}): {why}", key.env, key.yaml))
                })?;
                origin = Origin::Env;
            }
            None if raw.is_zero() => {
                if let Some(default) = key.default {
                    raw = parse_env_text(key, default)
                        .map_err(|why| ConfigError(format!("default of {}: {why}", key.env)))?;
                    origin = Origin::Default;
                }
            }
            None => {}
        }
        values.push((*key, raw, origin));
    }
    check(values, file.map(|(_, name)| name))
}
