//! The auth DB (MySQL/MariaDB, AzerothCore or TrinityCore schema) behind the accounts seam.
//!
//! What it reads (CONTRACTS.md section 6), with one query per CMSG_AUTH_SESSION:
//! - `account` by `username`: `id`, `username`, the session key (`session_key` in the
//!   AzerothCore schema, `session_key_auth` in TrinityCore's), `locked`, `last_ip`. The key is
//!   read at every lookup and never cached: the authserver writes a new one at every logon.
//!   A NULL key (never logged in through the authserver) answers "no such account".
//! - whether `account_banned` holds an active ban for it that has not run out (or is
//!   permanent: `unbandate = bandate`), judged by the DB's own clock as AzerothCore does, so
//!   the gateway's clock does not matter.
//! - `realmlist` (`id`, `name`) once, for the cross-realm name suffixes
//!   ([`AuthDb::realm_names`]).
//!
//! Every lookup answers within [`AuthDbSettings::lookup_timeout_ms`], well inside the session's
//! `service_timeout_ms`: a DB that is down, refuses or stops answering gives a retryable
//! [`SeamError`] from service [`SERVICE`]. A connection whose query failed or ran out of time
//! is dropped, never handed back to the pool, so a connection stuck on a dead peer cannot take
//! a pool slot for good. Numbers read from the DB are cast in SQL to one width and checked
//! here, so an unusual column type is an error that names the column, never a panic.
//!
//! The DSN is ToCloud9's (`AUTH_DB_CONNECTION`, go-sql-driver form): see [`Dsn`].

mod dsn;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::pool::PoolConnection;
use sqlx::{MySql, Row};

pub use dsn::{
    DEFAULT_AUTH_DB_CONNECTION, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SOCKET, DSN_MAX_BYTES, Dsn,
    DsnError, Endpoint,
};

use crate::runtime::{Accounts, BoxFuture};
use crate::session::{AccountId, AccountRecord, SeamError};
use crate::wire::SessionKey;
use crate::wire::crypt::SESSION_KEY_LEN;

/// The service name in every [`SeamError`] of this adapter.
pub const SERVICE: &str = "auth-db";

/// ToCloud9's environment variable for the DSN.
pub const AUTH_DB_CONNECTION_ENV: &str = "AUTH_DB_CONNECTION";

/// ToCloud9's environment variable for the schema flavour.
pub const DB_SCHEMA_TYPE_ENV: &str = "DB_SCHEMA_TYPE";

/// ToCloud9's default `DB_SCHEMA_TYPE`.
pub const DEFAULT_DB_SCHEMA_TYPE: &str = "tc";

/// Realms [`AuthDb::realm_names`] takes at most; a longer `realmlist` is an error, not a cut.
pub const REALM_NAMES_MAX: usize = 4_096;

/// Which schema the auth DB has: where the session key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaType {
    /// AzerothCore: `account.session_key`.
    AzerothCore,
    /// TrinityCore: `account.session_key_auth`. ToCloud9's default.
    #[default]
    TrinityCore,
}

impl SchemaType {
    /// The `account` column holding the 40-byte session key K.
    pub fn session_key_column(self) -> &'static str {
        match self {
            SchemaType::AzerothCore => "session_key",
            SchemaType::TrinityCore => "session_key_auth",
        }
    }

    /// The short name (`ac` or `tc`).
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::AzerothCore => "ac",
            SchemaType::TrinityCore => "tc",
        }
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SchemaType {
    type Err = AuthDbError;

    /// `ac` or `tc`, or the longer names ToCloud9 also takes (`acore`, `azeroth`,
    /// `azerothcore`, `trinity`, `trinitycore`), in any case. Anything else is refused (ToCloud9
    /// would fall back to `tc` without a word).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ac" | "acore" | "azeroth" | "azerothcore" => Ok(SchemaType::AzerothCore),
            "tc" | "trinity" | "trinitycore" => Ok(SchemaType::TrinityCore),
            _ => Err(AuthDbError::Config(format!(
                "{DB_SCHEMA_TYPE_ENV} must be `ac` (AzerothCore: account.session_key) or `tc` \
                 (TrinityCore: account.session_key_auth), not {:?}",
                truncate(s, 32)
            ))),
        }
    }
}

/// The adapter's bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthDbSettings {
    /// Schema flavour.
    pub schema: SchemaType,
    /// Connections open at once, at most.
    pub connections_max: u32,
    /// Waiting for a pooled connection (connecting included), at most.
    pub acquire_timeout_ms: u64,
    /// One lookup end to end (connection and query), at most. Keep it well under the session's
    /// `service_timeout_ms` (5000) so the session hears the DB's error, not its own timeout.
    pub lookup_timeout_ms: u64,
    /// An idle connection is closed after this.
    pub idle_timeout_ms: u64,
    /// A connection is replaced after this, however busy.
    pub max_lifetime_ms: u64,
}

/// Largest `connections_max` accepted.
pub const CONNECTIONS_MAX_LIMIT: u32 = 256;

/// Largest `lookup_timeout_ms` and `acquire_timeout_ms` accepted.
pub const LOOKUP_TIMEOUT_MS_LIMIT: u64 = 30_000;

impl AuthDbSettings {
    /// The defaults for a schema: 8 connections, 1500 ms to get one, 2000 ms per lookup,
    /// idle connections closed after 60 s, every connection replaced after 4 min.
    pub fn new(schema: SchemaType) -> Self {
        Self {
            schema,
            connections_max: 8,
            acquire_timeout_ms: 1_500,
            lookup_timeout_ms: 2_000,
            idle_timeout_ms: 60_000,
            max_lifetime_ms: 240_000,
        }
    }

    /// Checks the bounds; the error names the setting.
    pub fn validate(&self) -> Result<(), AuthDbError> {
        let bad = |what: String| Err(AuthDbError::Config(what));
        if self.connections_max == 0 || self.connections_max > CONNECTIONS_MAX_LIMIT {
            return bad(format!(
                "auth DB connections_max must be 1..={CONNECTIONS_MAX_LIMIT}, not {}",
                self.connections_max
            ));
        }
        for (name, value) in [
            ("acquire_timeout_ms", self.acquire_timeout_ms),
            ("lookup_timeout_ms", self.lookup_timeout_ms),
        ] {
            if value == 0 || value > LOOKUP_TIMEOUT_MS_LIMIT {
                return bad(format!(
                    "auth DB {name} must be 1..={LOOKUP_TIMEOUT_MS_LIMIT}, not {value}"
                ));
            }
        }
        for (name, value) in [
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("max_lifetime_ms", self.max_lifetime_ms),
        ] {
            if value < 1_000 {
                return bad(format!("auth DB {name} must be at least 1000, not {value}"));
            }
        }
        Ok(())
    }
}

/// Building the adapter failed: a bad setting or DSN. Not retryable: the configuration must
/// change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthDbError {
    /// The DSN.
    #[error(transparent)]
    Dsn(#[from] DsnError),
    /// A setting (named in the text).
    #[error("{0}")]
    Config(String),
}

/// What the environment says, ToCloud9's way: `AUTH_DB_CONNECTION` (default
/// [`DEFAULT_AUTH_DB_CONNECTION`]) and `DB_SCHEMA_TYPE` (default `tc`). A variable that is set
/// counts even when empty (and an empty one is then an error). `get` reads one variable.
pub fn from_env_with(
    get: impl Fn(&str) -> Option<String>,
) -> Result<(Dsn, AuthDbSettings), AuthDbError> {
    let dsn = Dsn::parse(
        get(AUTH_DB_CONNECTION_ENV)
            .as_deref()
            .unwrap_or(DEFAULT_AUTH_DB_CONNECTION),
    )?;
    let schema: SchemaType = get(DB_SCHEMA_TYPE_ENV)
        .as_deref()
        .unwrap_or(DEFAULT_DB_SCHEMA_TYPE)
        .parse()?;
    Ok((dsn, AuthDbSettings::new(schema)))
}

/// The auth DB behind [`Accounts`].
pub struct AuthDb {
    /// The pool in use and its generation. A lookup the DB did not answer replaces it: the
    /// path to the DB went silent, so every pooled connection is suspect, and one fresh pool
    /// heals at once where discarding stale connections one timed-out ping at a time would
    /// take up to `connections_max` lookup deadlines.
    pool: std::sync::RwLock<(u64, MySqlPool)>,
    options: MySqlConnectOptions,
    settings: AuthDbSettings,
    /// Where the DB is, password masked: for error texts.
    target: String,
    account_sql: String,
    realm_names: tokio::sync::OnceCell<BTreeMap<u32, String>>,
    lookups: AtomicU64,
    errors: AtomicU64,
}

impl fmt::Debug for AuthDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthDb")
            .field("target", &self.target)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// One failure on the way to an answer, before it becomes a [`SeamError`].
struct Failure {
    detail: String,
    retryable: bool,
}

impl Failure {
    fn retryable(detail: String) -> Self {
        Self {
            detail,
            retryable: true,
        }
    }

    fn fatal(detail: String) -> Self {
        Self {
            detail,
            retryable: false,
        }
    }
}

/// A lazy pool: connections open on first use.
fn new_pool(settings: &AuthDbSettings, options: MySqlConnectOptions) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(settings.connections_max)
        .min_connections(0)
        .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
        .idle_timeout(Duration::from_millis(settings.idle_timeout_ms))
        .max_lifetime(Duration::from_millis(settings.max_lifetime_ms))
        .test_before_acquire(true)
        .connect_lazy_with(options)
}

impl AuthDb {
    /// Builds the pool without touching the DB: connections open on first use, so a gateway
    /// can start while the DB is still coming up (lookups fail, retryably, meanwhile). Must be
    /// called inside a tokio runtime.
    pub fn connect_lazy(dsn: &Dsn, settings: AuthDbSettings) -> Result<Self, AuthDbError> {
        settings.validate()?;
        let options = dsn.connect_options();
        let pool = new_pool(&settings, options.clone());
        let key = settings.schema.session_key_column();
        // Numbers are cast to one width and signedness whatever the column types are; the
        // ban is decided by the DB's clock (UNIX_TIMESTAMP), as AzerothCore's worldserver does.
        let account_sql = format!(
            "SELECT CAST(a.id AS UNSIGNED), CAST(a.username AS CHAR), a.{key}, \
             CAST(COALESCE(a.locked, 0) <> 0 AS SIGNED), CAST(a.last_ip AS CHAR), \
             CAST(EXISTS(SELECT 1 FROM account_banned b WHERE b.id = a.id AND b.active = 1 \
             AND (b.unbandate > UNIX_TIMESTAMP() OR b.unbandate = b.bandate)) AS SIGNED) \
             FROM account a WHERE a.username = ? LIMIT 1"
        );
        Ok(Self {
            pool: std::sync::RwLock::new((0, pool)),
            options,
            target: dsn.to_string(),
            settings,
            account_sql,
            realm_names: tokio::sync::OnceCell::new(),
            lookups: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &AuthDbSettings {
        &self.settings
    }

    /// Account lookups asked so far.
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    /// Lookups and realm-name loads that failed so far (each answered a [`SeamError`]).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Closes every connection; later calls fail (not retryable).
    pub async fn close(&self) {
        let (_, pool) = self.current_pool();
        pool.close().await;
    }

    /// Looks an account up (see [`Accounts::lookup`]).
    pub async fn lookup_account(
        &self,
        name: &str,
        client_ip: IpAddr,
    ) -> Result<Option<AccountRecord>, SeamError> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let answer = match self
            .run(&self.account_sql, Some(name), "the account lookup")
            .await
        {
            Ok(rows) => match rows.into_iter().next() {
                None => Ok(None),
                Some(row) => account_from_row(&row, client_ip, self.settings.schema),
            },
            Err(failure) => Err(failure),
        };
        answer.map_err(|failure| self.fail("account lookup", failure))
    }

    /// `realmlist` as id -> name, read from the DB at the first call that succeeds and kept
    /// (a failed load is not kept: the next call tries again).
    pub async fn realm_names(&self) -> Result<BTreeMap<u32, String>, SeamError> {
        self.realm_names
            .get_or_try_init(|| async {
                let sql = format!(
                    "SELECT CAST(id AS UNSIGNED), CAST(name AS CHAR) FROM realmlist \
                     ORDER BY id LIMIT {}",
                    REALM_NAMES_MAX + 1
                );
                let rows = self
                    .run(&sql, None, "loading realmlist")
                    .await
                    .map_err(|f| self.fail("realm names", f))?;
                realms_from_rows(&rows).map_err(|f| self.fail("realm names", f))
            })
            .await
            .cloned()
    }

    /// Runs one query (with `arg` bound to its one `?`, if given) on a pooled connection, the
    /// whole within `lookup_timeout_ms`.
    async fn run(
        &self,
        sql: &str,
        arg: Option<&str>,
        what: &str,
    ) -> Result<Vec<MySqlRow>, Failure> {
        let bound_ms = self.settings.lookup_timeout_ms;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(bound_ms);
        let (generation, pool) = self.current_pool();
        let mut conn: PoolConnection<MySql> =
            match tokio::time::timeout_at(deadline, pool.acquire()).await {
                Err(_) => {
                    self.replace_pool(generation);
                    return Err(Failure::retryable(format!(
                        "no connection to {} within {bound_ms} ms (lookup_timeout_ms)",
                        self.target
                    )));
                }
                Ok(Err(e)) => {
                    if matches!(e, sqlx::Error::PoolTimedOut) {
                        self.replace_pool(generation);
                    }
                    return Err(self.classify(&e, "connecting"));
                }
                Ok(Ok(conn)) => conn,
            };
        let query = match arg {
            Some(arg) => sqlx::query(sql).bind(arg),
            None => sqlx::query(sql),
        };
        match tokio::time::timeout_at(deadline, query.fetch_all(&mut *conn)).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => {
                // Whatever went wrong, this connection is not trusted again.
                drop(conn.detach());
                Err(self.classify(&e, what))
            }
            Err(_) => {
                // The query is still in flight: a pooled connection would first wait for its
                // answer (maybe forever), so it is dropped instead, and the others with it.
                drop(conn.detach());
                self.replace_pool(generation);
                Err(Failure::retryable(format!(
                    "{} did not answer {what} within {bound_ms} ms (lookup_timeout_ms)",
                    self.target
                )))
            }
        }
    }

    fn current_pool(&self) -> (u64, MySqlPool) {
        let guard = self
            .pool
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (guard.0, guard.1.clone())
    }

    /// The DB did not answer on the pool of `generation`: a fresh pool takes its place (once,
    /// however many lookups saw the silence). The old one goes when its last lookup does.
    fn replace_pool(&self, generation: u64) {
        let mut guard = self
            .pool
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if guard.0 == generation {
            *guard = (
                generation.wrapping_add(1),
                new_pool(&self.settings, self.options.clone()),
            );
        }
    }

    /// Who failed and whether to retry, from sqlx's error.
    fn classify(&self, e: &sqlx::Error, what: &str) -> Failure {
        use sqlx::Error as E;
        let target = &self.target;
        match e {
            E::PoolTimedOut => Failure::retryable(format!(
                "no connection to {target} within {} ms (acquire_timeout_ms): is it up?",
                self.settings.acquire_timeout_ms
            )),
            E::Io(io) => Failure::retryable(format!("{what}: {target}: {io}")),
            E::Protocol(_) | E::Tls(_) | E::WorkerCrashed => {
                Failure::retryable(format!("{what}: {target}: {e}"))
            }
            E::PoolClosed => Failure::fatal("the auth DB pool was closed (shutting down)".into()),
            E::Database(db) => {
                let number = db
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .map(|m| m.number());
                match number {
                    // Access denied, unknown database, unknown table or column, syntax:
                    // the configuration or the schema, not a passing fault.
                    Some(1044 | 1045 | 1049 | 1142 | 1143) => Failure::fatal(format!(
                        "{what}: {target} refused the user or database (check \
                         {AUTH_DB_CONNECTION_ENV}): {db}"
                    )),
                    Some(1054 | 1146 | 1064) => Failure::fatal(format!(
                        "{what}: {target}: the schema does not match {DB_SCHEMA_TYPE_ENV}={} \
                         (which reads account.{}): {db}",
                        self.settings.schema,
                        self.settings.schema.session_key_column()
                    )),
                    _ => Failure::retryable(format!("{what}: {target}: {db}")),
                }
            }
            E::ColumnDecode { .. }
            | E::Decode(_)
            | E::ColumnNotFound(_)
            | E::ColumnIndexOutOfBounds { .. }
            | E::TypeNotFound { .. } => Failure::fatal(format!(
                "{what}: {target} answered a value this gateway cannot read: {e}"
            )),
            _ => Failure::fatal(format!("{what}: {target}: {e}")),
        }
    }

    fn fail(&self, what: &str, failure: Failure) -> SeamError {
        self.errors.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            service = SERVICE,
            retryable = failure.retryable,
            "{what} failed: {}",
            failure.detail
        );
        SeamError {
            service: SERVICE,
            detail: failure.detail,
            retryable: failure.retryable,
        }
    }
}

impl Accounts for AuthDb {
    fn lookup<'a>(
        &'a self,
        name: &'a str,
        client_ip: IpAddr,
    ) -> BoxFuture<'a, Result<Option<AccountRecord>, SeamError>> {
        Box::pin(self.lookup_account(name, client_ip))
    }
}

/// The columns of the account query, in order.
fn account_from_row(
    row: &MySqlRow,
    client_ip: IpAddr,
    schema: SchemaType,
) -> Result<Option<AccountRecord>, Failure> {
    let column = |e: sqlx::Error| Failure::fatal(format!("reading an account row: {e}"));
    let id: u64 = row.try_get(0).map_err(column)?;
    let id = u32::try_from(id)
        .map_err(|_| Failure::fatal(format!("account id {id} does not fit in 32 bits")))?;
    let username: Option<String> = row.try_get(1).map_err(column)?;
    let key: Option<Vec<u8>> = row.try_get(2).map_err(column)?;
    let locked: Option<i64> = row.try_get(3).map_err(column)?;
    let last_ip: Option<String> = row.try_get(4).map_err(column)?;
    let banned: Option<i64> = row.try_get(5).map_err(column)?;

    // Never logged in through the authserver: nothing to verify against.
    let Some(key) = key else { return Ok(None) };
    let session_key = <[u8; SESSION_KEY_LEN]>::try_from(key.as_slice())
        .map(SessionKey)
        .map_err(|_| {
            Failure::fatal(format!(
                "account {id}: account.{} holds {} bytes, expected {SESSION_KEY_LEN} \
                 (is {DB_SCHEMA_TYPE_ENV}={schema} right?)",
                schema.session_key_column(),
                key.len(),
            ))
        })?;
    let locked = locked.unwrap_or(0) != 0 && !same_ip(last_ip.as_deref(), client_ip);
    Ok(Some(AccountRecord {
        id: AccountId(id),
        name: username.unwrap_or_default(),
        session_key,
        banned: banned.unwrap_or(0) != 0,
        locked,
    }))
}

/// Whether `last_ip` (as the authserver wrote it) is `client`. An address that does not parse
/// matches nothing, so a locked account with a garbled `last_ip` stays locked out.
fn same_ip(last_ip: Option<&str>, client: IpAddr) -> bool {
    last_ip
        .and_then(|s| s.trim().parse::<IpAddr>().ok())
        .is_some_and(|ip| ip.to_canonical() == client.to_canonical())
}

fn realms_from_rows(rows: &[MySqlRow]) -> Result<BTreeMap<u32, String>, Failure> {
    if rows.len() > REALM_NAMES_MAX {
        return Err(Failure::fatal(format!(
            "realmlist has more than {REALM_NAMES_MAX} realms (REALM_NAMES_MAX)"
        )));
    }
    let column = |e: sqlx::Error| Failure::fatal(format!("reading a realmlist row: {e}"));
    let mut names = BTreeMap::new();
    for row in rows {
        let id: u64 = row.try_get(0).map_err(column)?;
        let id = u32::try_from(id)
            .map_err(|_| Failure::fatal(format!("realmlist id {id} does not fit in 32 bits")))?;
        let name: Option<String> = row.try_get(1).map_err(column)?;
        names.insert(id, name.unwrap_or_default());
    }
    Ok(names)
}

/// The first `max` characters of `s`, for error texts.
fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_types_parse_like_tocloud9_but_refuse_the_unknown() {
        for s in ["ac", "AC", " acore ", "azeroth", "AzerothCore"] {
            assert_eq!(s.parse::<SchemaType>().unwrap(), SchemaType::AzerothCore);
        }
        for s in ["tc", "TC", "trinity", "TrinityCore"] {
            assert_eq!(s.parse::<SchemaType>().unwrap(), SchemaType::TrinityCore);
        }
        for s in ["", "mangos", "a c", "ac;drop"] {
            let e = s.parse::<SchemaType>().unwrap_err().to_string();
            assert!(e.contains(DB_SCHEMA_TYPE_ENV) && e.contains("`ac`"), "{e}");
        }
        assert_eq!(SchemaType::AzerothCore.session_key_column(), "session_key");
        assert_eq!(
            SchemaType::TrinityCore.session_key_column(),
            "session_key_auth"
        );
        assert_eq!(SchemaType::default(), SchemaType::TrinityCore);
    }

    #[test]
    fn env_defaults_are_tocloud9s() {
        let (dsn, settings) = from_env_with(|_| None).unwrap();
        assert_eq!(dsn, Dsn::parse(DEFAULT_AUTH_DB_CONNECTION).unwrap());
        assert_eq!(settings.schema, SchemaType::TrinityCore);
        let (dsn, settings) = from_env_with(|k| match k {
            AUTH_DB_CONNECTION_ENV => Some("acore:acore@tcp(db:3306)/acore_auth".into()),
            DB_SCHEMA_TYPE_ENV => Some("ac".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(dsn.database, "acore_auth");
        assert_eq!(settings.schema, SchemaType::AzerothCore);
        // Set but empty counts as set.
        let e = from_env_with(|k| (k == AUTH_DB_CONNECTION_ENV).then(String::new)).unwrap_err();
        assert!(matches!(e, AuthDbError::Dsn(_)), "{e}");
        let e = from_env_with(|k| (k == DB_SCHEMA_TYPE_ENV).then(String::new)).unwrap_err();
        assert!(matches!(e, AuthDbError::Config(_)), "{e}");
    }

    #[test]
    fn settings_bounds_are_checked() {
        let ok = AuthDbSettings::new(SchemaType::AzerothCore);
        ok.validate().unwrap();
        assert!(ok.lookup_timeout_ms < 5_000, "inside service_timeout_ms");
        type Change = fn(&mut AuthDbSettings);
        let cases: [(&str, Change); 6] = [
            ("connections_max", |s| s.connections_max = 0),
            ("connections_max", |s| s.connections_max = 100_000),
            ("acquire_timeout_ms", |s| s.acquire_timeout_ms = 0),
            ("lookup_timeout_ms", |s| s.lookup_timeout_ms = 3_600_000),
            ("idle_timeout_ms", |s| s.idle_timeout_ms = 0),
            ("max_lifetime_ms", |s| s.max_lifetime_ms = 10),
        ];
        for (name, change) in cases {
            let mut s = ok.clone();
            change(&mut s);
            let e = s.validate().unwrap_err().to_string();
            assert!(e.contains(name), "{name}: {e}");
        }
    }

    #[test]
    fn ip_lock_comparison() {
        let v4: IpAddr = "203.0.113.7".parse().unwrap();
        assert!(same_ip(Some("203.0.113.7"), v4));
        assert!(same_ip(Some(" 203.0.113.7 "), v4));
        assert!(!same_ip(Some("203.0.113.8"), v4));
        assert!(!same_ip(None, v4));
        assert!(!same_ip(Some(""), v4));
        assert!(!same_ip(Some("not an ip"), v4));
        // A v4 client seen through a dual-stack listener.
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap();
        assert!(same_ip(Some("203.0.113.7"), mapped));
    }
}
