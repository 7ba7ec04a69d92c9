//! The resolved values checked and turned into a [`ToCloud9Config`]: every error names the
//! YAML key, the variable and where the value came from.

use std::net::SocketAddr;

use super::keys::Key;
use super::parse::{Raw, show};
use super::{
    DbSchema, LogFormat, NatsUrl, Origin, ServiceAddress, ServiceAddresses, ToCloud9Config,
};
use crate::config::ConfigError;
use crate::config::dsn::MysqlDsn;

/// Where a bad value came from, for messages.
fn from_where(key: &Key, origin: Origin, file: Option<&str>) -> String {
    match (origin, file) {
        (Origin::Env, _) => format!("env {} (gateway.{})", key.env, key.yaml),
        (Origin::File, Some(file)) => format!("{file}: gateway.{} (env {})", key.yaml, key.env),
        _ => format!("gateway.{} (env {})", key.yaml, key.env),
    }
}

/// A TCP port, 1..=65535, in decimal digits.
pub(super) fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|&p| p != 0)
}

/// The resolved values, looked up by variable, and the file (if any) they were read from.
struct Resolved<'a> {
    values: &'a [(Key, Raw, Origin)],
    file: Option<&'a str>,
}

impl<'a> Resolved<'a> {
    /// Where a bad value came from, for messages ([`from_where`] with the file).
    fn source_of(&self, k: &Key, o: Origin) -> String {
        from_where(k, o, self.file)
    }

    fn find(&self, env: &str) -> (&'a Key, &'a Raw, Origin) {
        let (k, r, o) = self
            .values
            .iter()
            .find(|(k, _, _)| k.env == env)
            .expect("every key is resolved");
        (k, r, *o)
    }

    fn text(&self, env: &str) -> (&'a Key, &'a str, Origin) {
        match self.find(env) {
            (k, Raw::Str(s), o) => (k, s.as_str(), o),
            (k, _, o) => (k, "", o),
        }
    }

    fn port(&self, env: &str) -> Result<u16, ConfigError> {
        let (k, s, o) = self.text(env);
        parse_port(s).ok_or_else(|| {
            ConfigError(format!(
                "{}: {} is not a port (a number from 1 to 65535)",
                self.source_of(k, o),
                show(k, s)
            ))
        })
    }

    fn service(&self, env: &str) -> Result<ServiceAddress, ConfigError> {
        let (k, s, o) = self.text(env);
        ServiceAddress::parse(s).ok_or_else(|| {
            ConfigError(format!(
                "{}: {} is not host:port (for example charserver:8087)",
                self.source_of(k, o),
                show(k, s)
            ))
        })
    }

    /// The gRPC services' addresses, checked in [`ServiceAddresses`]' order.
    fn services(&self) -> Result<ServiceAddresses, ConfigError> {
        Ok(ServiceAddresses {
            characters: self.service("CHAR_SERVICE_ADDRESS")?,
            servers_registry: self.service("SERVERS_REGISTRY_SERVICE_ADDRESS")?,
            chat: self.service("CHAT_SERVICE_ADDRESS")?,
            matchmaking: self.service("MATCHMAKING_SERVICE_ADDRESS")?,
            guilds: self.service("GUILDS_SERVICE_ADDRESS")?,
            mail: self.service("MAIL_SERVICE_ADDRESS")?,
            group: self.service("GROUP_SERVICE_ADDRESS")?,
            auction_house: self.service("AUCTION_HOUSE_SERVICE_ADDRESS")?,
        })
    }

    fn realm_id(&self) -> Result<u32, ConfigError> {
        Ok(match self.find("REALM_ID") {
            (k, Raw::Int(n), o) => u32::try_from(*n).ok().filter(|&r| r != 0).ok_or_else(|| {
                ConfigError(format!(
                    "{}: {n} is not a realm id (1 to 4294967295)",
                    self.source_of(k, o)
                ))
            })?,
            _ => 1,
        })
    }

    fn auth_db(&self) -> Result<MysqlDsn, ConfigError> {
        let (k, s, o) = self.text("AUTH_DB_CONNECTION");
        MysqlDsn::parse(s, &self.source_of(k, o))
    }

    fn db_schema(&self) -> Result<DbSchema, ConfigError> {
        let (k, s, o) = self.text("DB_SCHEMA_TYPE");
        DbSchema::parse(s).ok_or_else(|| {
            ConfigError(format!(
                "{}: {} is not a schema: tc (TrinityCore) or ac (AzerothCore)",
                self.source_of(k, o),
                show(k, s)
            ))
        })
    }

    fn preferred_hostname(&self) -> Result<String, ConfigError> {
        let (k, s, o) = self.text("PREFERRED_HOSTNAME");
        if s.is_empty() || s.chars().any(char::is_whitespace) {
            return Err(ConfigError(format!(
                "{}: {} is not a host name (clients are sent <this>:<port>)",
                self.source_of(k, o),
                show(k, s)
            )));
        }
        Ok(s.to_owned())
    }

    fn nats_url(&self) -> Result<NatsUrl, ConfigError> {
        let (k, s, o) = self.text("NATS_URL");
        let url = NatsUrl(s.to_owned());
        if url.servers().is_empty() {
            return Err(ConfigError(format!(
                "{}: empty; give the NATS server URL (nats://host:4222)",
                self.source_of(k, o)
            )));
        }
        Ok(url)
    }

    fn packet_process_timeout_secs(&self) -> Result<u32, ConfigError> {
        Ok(match self.find("PACKET_PROCESS_TIMEOUT_SECS") {
            (k, Raw::Uint(n), o) => {
                u32::try_from(*n).ok().filter(|&t| t != 0).ok_or_else(|| {
                    ConfigError(format!(
                        "{}: {n} seconds; it must be at least 1",
                        self.source_of(k, o)
                    ))
                })?
            }
            _ => 20,
        })
    }

    fn show_gameserver_conn_change_to_client(&self) -> bool {
        !matches!(
            self.find("SHOW_GAMESERVER_CONN_CHANGE_TO_CLIENT").1,
            Raw::Bool(false)
        )
    }

    fn log_level(&self) -> i8 {
        match self.find("LOG_LEVEL").1 {
            Raw::Level(l) => *l,
            _ => 0,
        }
    }

    fn log_format(&self) -> Result<LogFormat, ConfigError> {
        let (k, s, o) = self.text("LOG_FORMAT");
        match s {
            "dev" => Ok(LogFormat::Dev),
            "json" => Ok(LogFormat::Json),
            _ => Err(ConfigError(format!(
                "{}: {} is not a log format: dev or json",
                self.source_of(k, o),
                show(k, s)
            ))),
        }
    }

    fn admin_listen(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let (k, s, o) = self.text("WAYGATE_ADMIN_LISTEN");
        if s.is_empty() {
            return Ok(None);
        }
        let addr: SocketAddr = s.parse().map_err(|_| {
            ConfigError(format!(
                "{}: {} is not ip:port (for example 127.0.0.1:8901)",
                self.source_of(k, o),
                show(k, s)
            ))
        })?;
        if !addr.ip().is_loopback() {
            return Err(ConfigError(format!(
                "{}: {addr} is not a loopback address; the admin listener has no \
                 authentication, so it binds to 127.0.0.0/8 or ::1 only",
                self.source_of(k, o)
            )));
        }
        Ok(Some(addr))
    }
}

/// Checks every resolved value, in a fixed order (the first bad one is the error), and
/// builds the config.
pub(super) fn check(
    values: Vec<(Key, Raw, Origin)>,
    file: Option<&str>,
) -> Result<ToCloud9Config, ConfigError> {
    let v = Resolved {
        values: &values,
        file,
    };
    let realm_id = v.realm_id()?;
    let auth_db = v.auth_db()?;
    let db_schema = v.db_schema()?;
    let preferred_hostname = v.preferred_hostname()?;
    let nats_url = v.nats_url()?;
    let packet_process_timeout_secs = v.packet_process_timeout_secs()?;
    let show_gameserver_conn_change_to_client = v.show_gameserver_conn_change_to_client();
    let log_level = v.log_level();
    let log_format = v.log_format()?;
    let admin_listen = v.admin_listen()?;
    Ok(ToCloud9Config {
        port: v.port("PORT")?,
        realm_id,
        auth_db,
        db_schema,
        health_check_port: v.port("HEALTH_CHECK_PORT")?,
        preferred_hostname,
        services: v.services()?,
        nats_url,
        packet_process_timeout_secs,
        show_gameserver_conn_change_to_client,
        log_level,
        log_format,
        admin_listen,
        origins: values.iter().map(|(k, _, o)| (*k, *o)).collect(),
    })
}
