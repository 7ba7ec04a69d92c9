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

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde_yaml_ng::Value as Yaml;

use super::ConfigError;
use super::dsn::MysqlDsn;
use super::goparse;

/// How ToCloud9's Go struct types a key (it decides how text becomes a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Go `string`.
    Str,
    /// Go `int` (64-bit).
    Int,
    /// Go `uint32`.
    Uint32,
    /// Go `bool`.
    Bool,
    /// `zerolog.Level` (an `int8` with level names).
    Level,
}

/// One configuration key: its YAML path under `gateway:`, its environment variable, its
/// default (in the variable's syntax) and its Go type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// YAML key under `gateway:` (`logging.level` sits in the `logging` map).
    pub yaml: &'static str,
    /// Environment variable.
    pub env: &'static str,
    /// Default when the variable is unset and the value is zero.
    pub default: Option<&'static str>,
    kind: Kind,
}

const fn key(yaml: &'static str, env: &'static str, default: &'static str, kind: Kind) -> Key {
    Key {
        yaml,
        env,
        default: Some(default),
        kind,
    }
}

/// ToCloud9's gateway keys in its own order, then Waygate's one addition.
pub const KEYS: [Key; 20] = [
    key("port", "PORT", "8085", Kind::Str),
    key("realmId", "REALM_ID", "1", Kind::Int),
    key(
        "authDB",
        "AUTH_DB_CONNECTION",
        "trinity:trinity@tcp(127.0.0.1:3306)/auth",
        Kind::Str,
    ),
    key("dbSchemaType", "DB_SCHEMA_TYPE", "tc", Kind::Str),
    key("healthCheckPort", "HEALTH_CHECK_PORT", "8900", Kind::Str),
    key(
        "preferredHostname",
        "PREFERRED_HOSTNAME",
        "localhost",
        Kind::Str,
    ),
    key(
        "charactersServiceAddress",
        "CHAR_SERVICE_ADDRESS",
        "localhost:8991",
        Kind::Str,
    ),
    key(
        "serversRegistryServiceAddress",
        "SERVERS_REGISTRY_SERVICE_ADDRESS",
        "localhost:8999",
        Kind::Str,
    ),
    key(
        "chatServiceAddress",
        "CHAT_SERVICE_ADDRESS",
        "localhost:8992",
        Kind::Str,
    ),
    key(
        "matchmakingServiceAddress",
        "MATCHMAKING_SERVICE_ADDRESS",
        "localhost:8994",
        Kind::Str,
    ),
    key(
        "guildsServiceAddress",
        "GUILDS_SERVICE_ADDRESS",
        "localhost:8995",
        Kind::Str,
    ),
    key(
        "mailServiceAddress",
        "MAIL_SERVICE_ADDRESS",
        "localhost:8997",
        Kind::Str,
    ),
    key(
        "groupServiceAddress",
        "GROUP_SERVICE_ADDRESS",
        "localhost:8998",
        Kind::Str,
    ),
    key(
        "auctionHouseServiceAddress",
        "AUCTION_HOUSE_SERVICE_ADDRESS",
        "localhost:8993",
        Kind::Str,
    ),
    key("natsUrl", "NATS_URL", "nats://nats:4222", Kind::Str),
    key(
        "packetProcessTimeoutSecs",
        "PACKET_PROCESS_TIMEOUT_SECS",
        "20",
        Kind::Uint32,
    ),
    key(
        "showGameserverConnChangeToClient",
        "SHOW_GAMESERVER_CONN_CHANGE_TO_CLIENT",
        "true",
        Kind::Bool,
    ),
    key("logging.level", "LOG_LEVEL", "0", Kind::Level),
    key("logging.format", "LOG_FORMAT", "dev", Kind::Str),
    // Waygate's own: the admin listener (drain, layer switch). No default: off.
    Key {
        yaml: "adminListen",
        env: "WAYGATE_ADMIN_LISTEN",
        default: None,
        kind: Kind::Str,
    },
];

/// The environment variables Waygate reads in the ToCloud9 mode, besides `CONFIG_FILE`.
pub fn env_names() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|k| k.env)
}

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

/// A value of one of the Go types, before checking.
#[derive(Debug, Clone, PartialEq)]
enum Raw {
    Str(String),
    Int(i64),
    Uint(u64),
    Bool(bool),
    Level(i8),
}

impl Raw {
    fn zero(kind: Kind) -> Self {
        match kind {
            Kind::Str => Self::Str(String::new()),
            Kind::Int => Self::Int(0),
            Kind::Uint32 => Self::Uint(0),
            Kind::Bool => Self::Bool(false),
            Kind::Level => Self::Level(0),
        }
    }

    fn is_zero(&self) -> bool {
        match self {
            Self::Str(s) => s.is_empty(),
            Self::Int(n) => *n == 0,
            Self::Uint(n) => *n == 0,
            Self::Bool(b) => !b,
            Self::Level(l) => *l == 0,
        }
    }
}

/// Longest value text repeated in an error message.
const SHOWN_VALUE_MAX_CHARS: usize = 64;

/// A value as an error message may show it: never the DSN, long values cut.
fn show(key: &Key, text: &str) -> String {
    if key.env == "AUTH_DB_CONNECTION" {
        return "(value hidden: it may hold a password)".into();
    }
    if text.chars().count() > SHOWN_VALUE_MAX_CHARS {
        let cut: String = text.chars().take(SHOWN_VALUE_MAX_CHARS).collect();
        return format!("{cut:?}...");
    }
    format!("{text:?}")
}

/// How Go reads the variable's text into the key's type.
fn parse_env_text(key: &Key, text: &str) -> Result<Raw, String> {
    match key.kind {
        Kind::Str => Ok(Raw::Str(text.to_owned())),
        Kind::Int => goparse::parse_int(text, 64)
            .map(Raw::Int)
            .map_err(|e| format!("{} is {e} (Go syntax: 42, 0x2A, 0o52)", show(key, text))),
        Kind::Uint32 => goparse::parse_uint(text, 32).map(Raw::Uint).map_err(|e| {
            format!(
                "{} is {e} (a whole number from 0 to 4294967295)",
                show(key, text)
            )
        }),
        Kind::Bool => goparse::parse_bool(text).map(Raw::Bool).ok_or_else(|| {
            format!(
                "{} is not a boolean (true, false, 1, 0, t, f, TRUE, FALSE, True, False)",
                show(key, text)
            )
        }),
        Kind::Level => goparse::parse_zerolog_level(text)
            .map(Raw::Level)
            .ok_or_else(|| {
                format!(
                    "{} is not a log level (trace, debug, info, warn, error, fatal, panic, \
                     disabled, or a number from -128 to 127)",
                    show(key, text)
                )
            }),
    }
}

/// What a YAML node is, for messages.
fn yaml_kind(v: &Yaml) -> &'static str {
    match v {
        Yaml::Null => "nothing",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(n) if n.is_f64() => "a fractional number",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a map",
        Yaml::Tagged(_) => "a tagged value",
    }
}

/// How yaml.v3 decodes a node into the key's Go type (null leaves the zero value).
fn decode_yaml(key: &Key, node: &Yaml) -> Result<Raw, String> {
    let node = match node {
        Yaml::Tagged(t) => &t.value,
        other => other,
    };
    if let Yaml::Null = node {
        return Ok(Raw::zero(key.kind));
    }
    let scalar_text = || -> Option<String> {
        match node {
            Yaml::String(s) => Some(s.clone()),
            Yaml::Number(n) => Some(n.to_string()),
            Yaml::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    match key.kind {
        Kind::Str => scalar_text()
            .map(Raw::Str)
            .ok_or_else(|| format!("expected a string, found {}", yaml_kind(node))),
        Kind::Int => match node {
            Yaml::Number(n) => n
                .as_i64()
                .map(Raw::Int)
                .ok_or_else(|| format!("{n} is not a whole number that fits in 64 bits")),
            other => Err(format!(
                "expected a whole number, found {}",
                yaml_kind(other)
            )),
        },
        Kind::Uint32 => match node {
            Yaml::Number(n) => n
                .as_u64()
                .filter(|&v| v <= u64::from(u32::MAX))
                .map(Raw::Uint)
                .ok_or_else(|| format!("{n} is not a whole number from 0 to 4294967295")),
            other => Err(format!(
                "expected a whole number, found {}",
                yaml_kind(other)
            )),
        },
        Kind::Bool => match node {
            Yaml::Bool(b) => Ok(Raw::Bool(*b)),
            Yaml::String(s) => goparse::parse_yaml11_bool(s)
                .map(Raw::Bool)
                .ok_or_else(|| format!("{s:?} is not a boolean (true or false)")),
            other => Err(format!(
                "expected true or false, found {}",
                yaml_kind(other)
            )),
        },
        Kind::Level => {
            let text = scalar_text()
                .ok_or_else(|| format!("expected a log level, found {}", yaml_kind(node)))?;
            goparse::parse_zerolog_level(&text)
                .map(Raw::Level)
                .ok_or_else(|| {
                    format!(
                        "{text:?} is not a log level (trace, debug, info, warn, error, fatal, \
                         panic, disabled, or a number from -128 to 127)"
                    )
                })
        }
    }
}

/// Longest config file read, bytes.
pub const CONFIG_FILE_MAX_BYTES: usize = 1 << 20;

/// The `gateway:` map of a ToCloud9 `config.yml`, merges applied, with what was ignored.
#[derive(Debug, Clone, Default)]
pub struct YamlGateway {
    gateway: Option<serde_yaml_ng::Mapping>,
    /// Keys under `gateway:` that are not ToCloud9 gateway keys (ToCloud9 ignores them too).
    pub unknown_keys: Vec<String>,
}

impl YamlGateway {
    /// Parses a file's text. `name` (the file's path) starts every error.
    pub fn parse(text: &str, name: &str) -> Result<Self, ConfigError> {
        let bad = |why: String| ConfigError(format!("{name}: {why}"));
        if text.len() > CONFIG_FILE_MAX_BYTES {
            return Err(bad(format!(
                "larger than {CONFIG_FILE_MAX_BYTES} bytes; not a gateway config"
            )));
        }
        // yaml.v3's decoder reads the first document only.
        let first = serde_yaml_ng::Deserializer::from_str(text).next();
        let mut doc: Yaml = match first {
            Some(d) => serde::Deserialize::deserialize(d)
                .map_err(|e| bad(format!("not valid YAML: {e}")))?,
            None => Yaml::Null,
        };
        if let Yaml::Null = doc {
            return Err(bad(
                "holds no YAML document (ToCloud9 refuses an empty config file too)".into(),
            ));
        }
        doc.apply_merge()
            .map_err(|e| bad(format!("a `<<` merge is malformed: {e}")))?;
        let Yaml::Mapping(mut top) = doc else {
            return Err(bad(format!(
                "the top level must be a map holding `gateway:`, not {}",
                yaml_kind(&doc)
            )));
        };
        let gateway = match top.remove("gateway") {
            None | Some(Yaml::Null) => None,
            Some(Yaml::Mapping(m)) => Some(m),
            Some(other) => {
                return Err(bad(format!(
                    "gateway: expected a map of settings, found {}",
                    yaml_kind(&other)
                )));
            }
        };
        let mut parsed = Self {
            gateway,
            unknown_keys: Vec::new(),
        };
        parsed.find_unknown_keys(name)?;
        Ok(parsed)
    }

    fn find_unknown_keys(&mut self, name: &str) -> Result<(), ConfigError> {
        let Some(map) = &self.gateway else {
            return Ok(());
        };
        let known_top = |k: &str| KEYS.iter().any(|key| key.yaml == k) || k == "logging";
        for (k, v) in map {
            let Some(k) = k.as_str() else {
                self.unknown_keys.push(format!("gateway.{}", key_text(k)));
                continue;
            };
            if !known_top(k) {
                self.unknown_keys.push(format!("gateway.{k}"));
            }
            if k == "logging" {
                match v {
                    Yaml::Null => {}
                    Yaml::Mapping(logging) => {
                        for (lk, _) in logging {
                            let lk = lk.as_str().map_or_else(|| key_text(lk), str::to_owned);
                            if lk != "level" && lk != "format" {
                                self.unknown_keys.push(format!("gateway.logging.{lk}"));
                            }
                        }
                    }
                    other => {
                        return Err(ConfigError(format!(
                            "{name}: gateway.logging: expected a map (level, format), found {}",
                            yaml_kind(other)
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The node at `path` (`port`, `logging.level`) under `gateway:`, if present.
    fn node(&self, path: &str) -> Option<&Yaml> {
        let map = self.gateway.as_ref()?;
        match path.split_once('.') {
            Some((outer, inner)) => match map.get(outer)? {
                Yaml::Mapping(m) => m.get(inner),
                _ => None,
            },
            None => map.get(path),
        }
    }
}

fn key_text(k: &Yaml) -> String {
    match k {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => yaml_kind(other).to_owned(),
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

/// Where a bad value came from, for messages.
fn from_where(key: &Key, origin: Origin, file: Option<&str>) -> String {
    match (origin, file) {
        (Origin::Env, _) => format!("env {} (gateway.{})", key.env, key.yaml),
        (Origin::File, Some(file)) => format!("{file}: gateway.{} (env {})", key.yaml, key.env),
        _ => format!("gateway.{} (env {})", key.yaml, key.env),
    }
}

/// A TCP port, 1..=65535, in decimal digits.
fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|&p| p != 0)
}

fn check(
    values: Vec<(Key, Raw, Origin)>,
    file: Option<&str>,
) -> Result<ToCloud9Config, ConfigError> {
    let from_where = |k: &Key, o: Origin| from_where(k, o, file);
    let find = |env: &str| -> (&Key, &Raw, Origin) {
        let (k, r, o) = values
            .iter()
            .find(|(k, _, _)| k.env == env)
            .expect("every key is resolved");
        (k, r, *o)
    };
    let text = |env: &str| -> (&Key, &str, Origin) {
        match find(env) {
            (k, Raw::Str(s), o) => (k, s.as_str(), o),
            (k, _, o) => (k, "", o),
        }
    };
    let port = |env: &str| -> Result<u16, ConfigError> {
        let (k, s, o) = text(env);
        parse_port(s).ok_or_else(|| {
            ConfigError(format!(
                "{}: {} is not a port (a number from 1 to 65535)",
                from_where(k, o),
                show(k, s)
            ))
        })
    };
    let service = |env: &str| -> Result<ServiceAddress, ConfigError> {
        let (k, s, o) = text(env);
        ServiceAddress::parse(s).ok_or_else(|| {
            ConfigError(format!(
                "{}: {} is not host:port (for example charserver:8087)",
                from_where(k, o),
                show(k, s)
            ))
        })
    };

    let realm_id = match find("REALM_ID") {
        (k, Raw::Int(n), o) => u32::try_from(*n).ok().filter(|&r| r != 0).ok_or_else(|| {
            ConfigError(format!(
                "{}: {n} is not a realm id (1 to 4294967295)",
                from_where(k, o)
            ))
        })?,
        _ => 1,
    };
    let auth_db = {
        let (k, s, o) = text("AUTH_DB_CONNECTION");
        MysqlDsn::parse(s, &from_where(k, o))?
    };
    let db_schema = {
        let (k, s, o) = text("DB_SCHEMA_TYPE");
        DbSchema::parse(s).ok_or_else(|| {
            ConfigError(format!(
                "{}: {} is not a schema: tc (TrinityCore) or ac (AzerothCore)",
                from_where(k, o),
                show(k, s)
            ))
        })?
    };
    let preferred_hostname = {
        let (k, s, o) = text("PREFERRED_HOSTNAME");
        if s.is_empty() || s.chars().any(char::is_whitespace) {
            return Err(ConfigError(format!(
                "{}: {} is not a host name (clients are sent <this>:<port>)",
                from_where(k, o),
                show(k, s)
            )));
        }
        s.to_owned()
    };
    let nats_url = {
        let (k, s, o) = text("NATS_URL");
        let url = NatsUrl(s.to_owned());
        if url.servers().is_empty() {
            return Err(ConfigError(format!(
                "{}: empty; give the NATS server URL (nats://host:4222)",
                from_where(k, o)
            )));
        }
        url
    };
    let packet_process_timeout_secs = match find("PACKET_PROCESS_TIMEOUT_SECS") {
        (k, Raw::Uint(n), o) => u32::try_from(*n).ok().filter(|&t| t != 0).ok_or_else(|| {
            ConfigError(format!(
                "{}: {n} seconds; it must be at least 1",
                from_where(k, o)
            ))
        })?,
        _ => 20,
    };
    let show_gameserver_conn_change_to_client = !matches!(
        find("SHOW_GAMESERVER_CONN_CHANGE_TO_CLIENT").1,
        Raw::Bool(false)
    );
    let log_level = match find("LOG_LEVEL").1 {
        Raw::Level(l) => *l,
        _ => 0,
    };
    let log_format = {
        let (k, s, o) = text("LOG_FORMAT");
        match s {
            "dev" => LogFormat::Dev,
            "json" => LogFormat::Json,
            _ => {
                return Err(ConfigError(format!(
                    "{}: {} is not a log format: dev or json",
                    from_where(k, o),
                    show(k, s)
                )));
            }
        }
    };
    let admin_listen = {
        let (k, s, o) = text("WAYGATE_ADMIN_LISTEN");
        if s.is_empty() {
            None
        } else {
            let addr: SocketAddr = s.parse().map_err(|_| {
                ConfigError(format!(
                    "{}: {} is not ip:port (for example 127.0.0.1:8901)",
                    from_where(k, o),
                    show(k, s)
                ))
            })?;
            if !addr.ip().is_loopback() {
                return Err(ConfigError(format!(
                    "{}: {addr} is not a loopback address; the admin listener has no \
                     authentication, so it binds to 127.0.0.0/8 or ::1 only",
                    from_where(k, o)
                )));
            }
            Some(addr)
        }
    };
    Ok(ToCloud9Config {
        port: port("PORT")?,
        realm_id,
        auth_db,
        db_schema,
        health_check_port: port("HEALTH_CHECK_PORT")?,
        preferred_hostname,
        services: ServiceAddresses {
            characters: service("CHAR_SERVICE_ADDRESS")?,
            servers_registry: service("SERVERS_REGISTRY_SERVICE_ADDRESS")?,
            chat: service("CHAT_SERVICE_ADDRESS")?,
            matchmaking: service("MATCHMAKING_SERVICE_ADDRESS")?,
            guilds: service("GUILDS_SERVICE_ADDRESS")?,
            mail: service("MAIL_SERVICE_ADDRESS")?,
            group: service("GROUP_SERVICE_ADDRESS")?,
            auction_house: service("AUCTION_HOUSE_SERVICE_ADDRESS")?,
        },
        nats_url,
        packet_process_timeout_secs,
        show_gameserver_conn_change_to_client,
        log_level,
        log_format,
        admin_listen,
        origins: values.iter().map(|(k, _, o)| (*k, *o)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_only(env: &[(&str, &str)]) -> Result<ToCloud9Config, ConfigError> {
        resolve(None, &env)
    }

    #[test]
    fn defaults_are_tocloud9s() {
        let c = env_only(&[]).expect("defaults are valid");
        assert_eq!(c.port, 8085);
        assert_eq!(c.realm_id, 1);
        assert_eq!(c.auth_db.masked(), "trinity:***@tcp(127.0.0.1:3306)/auth");
        assert_eq!(c.db_schema, DbSchema::TrinityCore);
        assert_eq!(c.health_check_port, 8900);
        assert_eq!(c.preferred_hostname, "localhost");
        assert_eq!(c.services.characters.to_string(), "localhost:8991");
        assert_eq!(c.services.servers_registry.to_string(), "localhost:8999");
        assert_eq!(c.services.chat.to_string(), "localhost:8992");
        assert_eq!(c.services.matchmaking.to_string(), "localhost:8994");
        assert_eq!(c.services.guilds.to_string(), "localhost:8995");
        assert_eq!(c.services.mail.to_string(), "localhost:8997");
        assert_eq!(c.services.group.to_string(), "localhost:8998");
        assert_eq!(c.services.auction_house.to_string(), "localhost:8993");
        assert_eq!(c.nats_url.0, "nats://nats:4222");
        assert_eq!(c.packet_process_timeout_secs, 20);
        assert!(c.show_gameserver_conn_change_to_client);
        assert_eq!(c.log_level, 0);
        assert_eq!(c.log_format, LogFormat::Dev);
        assert_eq!(c.admin_listen, None);
        assert!(c.origins.iter().all(|(k, o)| *o
            == if k.default.is_some() {
                Origin::Default
            } else {
                Origin::Unset
            }));
    }

    #[test]
    fn tracing_filter_follows_zerolog_levels() {
        let with = |level: &str| {
            env_only(&[("LOG_LEVEL", level)])
                .expect("valid")
                .tracing_filter()
        };
        assert_eq!(with("-1"), "warn,waygate=trace");
        assert_eq!(with("debug"), "warn,waygate=debug");
        assert_eq!(with("1"), "warn,waygate=info");
        assert_eq!(with("warn"), "warn");
        assert_eq!(with("fatal"), "error");
        assert_eq!(with("disabled"), "off");
        assert_eq!(with(""), "off", "zerolog's no-level logs nothing leveled");
    }

    #[test]
    fn service_addresses_and_nats_masking() {
        assert_eq!(
            ServiceAddress::parse("[::1]:8999").map(|a| a.http_uri()),
            Some("http://[::1]:8999".into())
        );
        for bad in [
            "",
            "charserver",
            ":8087",
            "host:0",
            "host:http",
            "::1:8999",
            "a b:1",
        ] {
            assert_eq!(ServiceAddress::parse(bad), None, "{bad:?}");
        }
        let url = NatsUrl("nats://u:secret@nats:4222, nats://tok@n2:4222,nats://n3:4222".into());
        assert_eq!(
            url.masked(),
            "nats://***@nats:4222,nats://***@n2:4222,nats://n3:4222"
        );
        assert!(!format!("{url:?}").contains("secret"));
    }
}
