//! The configuration keys: ToCloud9's gateway keys (YAML path, environment variable,
//! default, Go type) and Waygate's one addition.

/// How ToCloud9's Go struct types a key (it decides how text becomes a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
    pub(super) kind: Kind,
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
