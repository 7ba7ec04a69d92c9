//! ToCloud9's auth DB connection string: the go-sql-driver/mysql DSN form
//! `[user[:password]@][net[(address)]]/dbname[?param=value&...]`, read into sqlx's connect
//! options.
//!
//! How the string splits (the same rules go-sql-driver applies, so a DSN that works for the Go
//! gateway means the same here): the **last** `/` ends the address part (a password may hold a
//! `/`); in front of it, the **last** `@` ends the credentials (a password may hold an `@`);
//! in the credentials, the **first** `:` ends the user name. After the `/`, the first `?` starts
//! the parameters. The database name and parameter values may be percent-escaped; the user
//! name and password are taken as written.
//!
//! Errors name the part of the DSN that is wrong and never repeat any text of it but a
//! parameter's name: whatever sits left of the last `/` may hold the password, even when the
//! string is malformed.

use std::fmt;
use std::path::PathBuf;

use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};

/// ToCloud9's default `AUTH_DB_CONNECTION`.
pub const DEFAULT_AUTH_DB_CONNECTION: &str = "trinity:trinity@tcp(127.0.0.1:3306)/auth";

/// The MySQL port when a TCP address names none.
pub const DEFAULT_PORT: u16 = 3306;

/// The host when a TCP DSN names no address.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// The socket when a `unix` DSN names no path.
pub const DEFAULT_SOCKET: &str = "/tmp/mysql.sock";

/// Longest DSN accepted, in bytes (a config value, not a document).
pub const DSN_MAX_BYTES: usize = 4_096;

/// Parameters go-sql-driver knows that change only how the Go driver itself behaves (parsing
/// of dates, client-side interpolation, ...): accepted so that a ToCloud9 DSN works unchanged,
/// and without effect here. The adapter's own bounds replace the driver's timeouts.
const NO_EFFECT_PARAMS: &[&str] = &[
    "allowAllFiles",
    "allowCleartextPasswords",
    "allowFallbackToPlaintext",
    "allowNativePasswords",
    "allowOldPasswords",
    "checkConnLiveness",
    "clientFoundRows",
    "columnsWithAlias",
    "connectionAttributes",
    "interpolateParams",
    "loc",
    "maxAllowedPacket",
    "multiStatements",
    "parseTime",
    "readTimeout",
    "rejectReadOnly",
    "serverPubKey",
    "timeTruncate",
    "timeout",
    "writeTimeout",
];

/// Where the server is.
#[derive(Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// TCP (`tcp`, `tcp4`, `tcp6`).
    Tcp {
        /// Host name or IP (no brackets).
        host: String,
        /// Port.
        port: u16,
    },
    /// A unix socket (`unix`).
    Socket(PathBuf),
}

/// A parsed DSN. `Debug` and `Display` show everything but the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Dsn {
    /// User name.
    pub user: String,
    password: Option<String>,
    /// Server address.
    pub endpoint: Endpoint,
    /// Database name (unescaped).
    pub database: String,
    /// `charset`: the connection's character set (the first of a comma list).
    pub charset: Option<String>,
    /// `collation`: the connection's collation.
    pub collation: Option<String>,
    /// Parameters accepted without effect (names only).
    pub ignored_params: Vec<String>,
}

/// What is wrong with a DSN: the part and the reason, never the DSN's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("auth DB connection string (AUTH_DB_CONNECTION): {part}: {reason}")]
pub struct DsnError {
    /// Which part: `dsn`, `user`, `address`, `network`, `port`, `database name`,
    /// `parameter \`name\``, ...
    pub part: String,
    /// What is wrong with it.
    pub reason: String,
}

fn err(part: impl Into<String>, reason: impl Into<String>) -> DsnError {
    DsnError {
        part: part.into(),
        reason: reason.into(),
    }
}

impl Dsn {
    /// Parses a go-sql-driver DSN.
    pub fn parse(text: &str) -> Result<Self, DsnError> {
        if text.trim().is_empty() {
            return Err(err("dsn", "is empty"));
        }
        if text.len() > DSN_MAX_BYTES {
            return Err(err("dsn", format!("is longer than {DSN_MAX_BYTES} bytes")));
        }
        if text.chars().any(char::is_control) {
            return Err(err("dsn", "holds a control character (a stray newline?)"));
        }
        let Some(slash) = text.rfind('/') else {
            return Err(err(
                "dsn",
                "has no '/' before the database name (expected user:password@tcp(host:port)/dbname)",
            ));
        };
        let (left, right) = (&text[..slash], &text[slash + 1..]);

        // Credentials: up to the last '@' left of the slash.
        let (user, password, net_part) = match left.rfind('@') {
            Some(at) => {
                let creds = &left[..at];
                let (user, password) = match creds.find(':') {
                    Some(colon) => (&creds[..colon], Some(creds[colon + 1..].to_owned())),
                    None => (creds, None),
                };
                (user, password, &left[at + 1..])
            }
            None => ("", None, left),
        };
        if user.is_empty() {
            return Err(err(
                "user",
                "is empty (expected user:password@ before the address)",
            ));
        }
        let endpoint = parse_endpoint(net_part)?;

        let (db_raw, params_raw) = match right.find('?') {
            Some(q) => (&right[..q], Some(&right[q + 1..])),
            None => (right, None),
        };
        let database = percent_decode(db_raw, false)
            .ok_or_else(|| err("database name", "has a bad %-escape"))?;
        if database.is_empty() {
            return Err(err(
                "database name",
                "is empty (the auth DB's name goes after the last '/')",
            ));
        }

        let mut dsn = Dsn {
            user: user.to_owned(),
            password,
            endpoint,
            database,
            charset: None,
            collation: None,
            ignored_params: Vec::new(),
        };
        if let Some(params) = params_raw {
            dsn.apply_params(params)?;
        }
        Ok(dsn)
    }

    fn apply_params(&mut self, params: &str) -> Result<(), DsnError> {
        for pair in params.split('&').filter(|p| !p.is_empty()) {
            let Some((key, raw_value)) = pair.split_once('=') else {
                return Err(err("parameters", "a parameter has no '=value'"));
            };
            if key.is_empty()
                || !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                return Err(err(
                    "parameters",
                    "a parameter name is empty or not made of letters, digits and '_'",
                ));
            }
            let part = format!("parameter `{key}`");
            let value =
                percent_decode(raw_value, true).ok_or_else(|| err(&part, "has a bad %-escape"))?;
            match key {
                "charset" => {
                    // go-sql-driver tries a comma list in order; the first is what a current
                    // server takes.
                    let first = value.split(',').next().unwrap_or("").trim();
                    if first.is_empty() || !is_word(first) {
                        return Err(err(&part, "must name a character set, e.g. utf8mb4"));
                    }
                    self.charset = Some(first.to_owned());
                }
                "collation" => {
                    if !is_word(&value) {
                        return Err(err(&part, "must name a collation, e.g. utf8mb4_general_ci"));
                    }
                    self.collation = Some(value);
                }
                "tls" => match value.as_str() {
                    "false" | "0" | "" => {}
                    _ => {
                        return Err(err(
                            &part,
                            "TLS to the auth DB is not built into this gateway; use tls=false \
                             and a private network or a local socket",
                        ));
                    }
                },
                _ if NO_EFFECT_PARAMS.contains(&key) => self.ignored_params.push(key.to_owned()),
                _ => {
                    return Err(err(
                        &part,
                        "is not supported (go-sql-driver would set it as a session variable; \
                         this gateway sets none)",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether a password was given.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// sqlx's connect options for this DSN: no TLS (go-sql-driver's default), the charset and
    /// collation when given.
    pub fn connect_options(&self) -> MySqlConnectOptions {
        let mut options = MySqlConnectOptions::new()
            .username(&self.user)
            .database(&self.database)
            .ssl_mode(MySqlSslMode::Disabled);
        if let Some(password) = &self.password {
            options = options.password(password);
        }
        options = match &self.endpoint {
            Endpoint::Tcp { host, port } => options.host(host).port(*port),
            Endpoint::Socket(path) => options.socket(path),
        };
        if let Some(charset) = &self.charset {
            options = options.charset(charset);
        }
        if let Some(collation) = &self.collation {
            options = options.collation(collation);
        }
        options
    }
}

impl fmt::Display for Dsn {
    /// The DSN with the password masked: safe for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.user)?;
        if self.password.is_some() {
            f.write_str(":***")?;
        }
        match &self.endpoint {
            Endpoint::Tcp { host, port } if host.contains(':') => {
                write!(f, "@tcp([{host}]:{port})")?
            }
            Endpoint::Tcp { host, port } => write!(f, "@tcp({host}:{port})")?,
            Endpoint::Socket(path) => write!(f, "@unix({})", path.display())?,
        }
        write!(f, "/{}", self.database)
    }
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dsn")
            .field("dsn", &format_args!("{self}"))
            .field("charset", &self.charset)
            .field("collation", &self.collation)
            .field("ignored_params", &self.ignored_params)
            .finish()
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "tcp {host} port {port}"),
            Endpoint::Socket(path) => write!(f, "unix socket {}", path.display()),
        }
    }
}

/// `net[(address)]`, empty for the defaults.
fn parse_endpoint(part: &str) -> Result<Endpoint, DsnError> {
    let (net, address) = match part.find('(') {
        Some(open) => {
            if !part.ends_with(')') {
                return Err(err(
                    "address",
                    "must be closed by ')' right before the '/' (a '/' or '@' in the password?)",
                ));
            }
            (&part[..open], Some(&part[open + 1..part.len() - 1]))
        }
        None => (part, None),
    };
    match net {
        "" | "tcp" | "tcp4" | "tcp6" => parse_tcp_address(address.unwrap_or("")),
        "unix" => {
            let path = address.filter(|a| !a.is_empty()).unwrap_or(DEFAULT_SOCKET);
            Ok(Endpoint::Socket(PathBuf::from(path)))
        }
        _ => Err(err(
            "network",
            "must be tcp or unix (as in tcp(host:port)); is the '@' after the password missing?",
        )),
    }
}

fn parse_tcp_address(address: &str) -> Result<Endpoint, DsnError> {
    if address.is_empty() {
        return Ok(Endpoint::Tcp {
            host: DEFAULT_HOST.to_owned(),
            port: DEFAULT_PORT,
        });
    }
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        // [v6] or [v6]:port
        let Some(close) = rest.find(']') else {
            return Err(err("address", "an IPv6 address opened with '[' has no ']'"));
        };
        let after = &rest[close + 1..];
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| err("address", "expected ':port' after ']'"))?,
            ),
        };
        (&rest[..close], port)
    } else if address.matches(':').count() > 1 {
        // A bare IPv6 address: no port.
        (address, None)
    } else {
        match address.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (address, None),
        }
    };
    if host.is_empty() {
        return Err(err("address", "has an empty host"));
    }
    if host
        .chars()
        .any(|c| c.is_whitespace() || c == '@' || c == '/')
    {
        return Err(err("address", "the host holds a space, '@' or '/'"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(err("port", "must be a number from 1 to 65535")),
        },
    };
    Ok(Endpoint::Tcp {
        host: host.to_owned(),
        port,
    })
}

/// A charset or collation name.
fn is_word(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `%XX` decoding; with `plus_is_space`, '+' is a space (query values). `None`: a bad escape
/// or bytes that are not UTF-8.
fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Endpoint {
        Endpoint::Tcp {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn tocloud9_default_parses() {
        let dsn = Dsn::parse(DEFAULT_AUTH_DB_CONNECTION).unwrap();
        assert_eq!(dsn.user, "trinity");
        assert_eq!(dsn.password.as_deref(), Some("trinity"));
        assert_eq!(dsn.endpoint, tcp("127.0.0.1", 3306));
        assert_eq!(dsn.database, "auth");
        let options = dsn.connect_options();
        assert_eq!(options.get_host(), "127.0.0.1");
        assert_eq!(options.get_port(), 3306);
        assert_eq!(options.get_username(), "trinity");
        assert_eq!(options.get_database(), Some("auth"));
        assert!(matches!(options.get_ssl_mode(), MySqlSslMode::Disabled));
    }

    #[test]
    fn password_may_hold_at_colon_and_slash() {
        let dsn = Dsn::parse("acore:p@ss:w/rd@tcp(db.example:3307)/acore_auth").unwrap();
        assert_eq!(dsn.user, "acore");
        assert_eq!(dsn.password.as_deref(), Some("p@ss:w/rd"));
        assert_eq!(dsn.endpoint, tcp("db.example", 3307));
        assert_eq!(dsn.database, "acore_auth");
    }

    #[test]
    fn user_without_password_and_empty_password() {
        let dsn = Dsn::parse("root@tcp(10.0.0.5)/auth").unwrap();
        assert_eq!(dsn.password, None);
        assert!(!dsn.has_password());
        assert_eq!(dsn.endpoint, tcp("10.0.0.5", DEFAULT_PORT));
        let dsn = Dsn::parse("root:@tcp(h:1)/auth").unwrap();
        assert_eq!(dsn.password.as_deref(), Some(""));
    }

    #[test]
    fn default_address_and_networks() {
        assert_eq!(
            Dsn::parse("u:p@/auth").unwrap().endpoint,
            tcp(DEFAULT_HOST, DEFAULT_PORT)
        );
        assert_eq!(
            Dsn::parse("u:p@tcp/auth").unwrap().endpoint,
            tcp(DEFAULT_HOST, DEFAULT_PORT)
        );
        assert_eq!(
            Dsn::parse("u:p@tcp4(h:33)/auth").unwrap().endpoint,
            tcp("h", 33)
        );
        assert_eq!(
            Dsn::parse("u:p@(h:34)/auth").unwrap().endpoint,
            tcp("h", 34)
        );
        assert_eq!(
            Dsn::parse("u:p@unix(/run/mysqld/mysqld.sock)/auth")
                .unwrap()
                .endpoint,
            Endpoint::Socket(PathBuf::from("/run/mysqld/mysqld.sock"))
        );
        assert_eq!(
            Dsn::parse("u:p@unix/auth").unwrap().endpoint,
            Endpoint::Socket(PathBuf::from(DEFAULT_SOCKET))
        );
    }

    #[test]
    fn ipv6_addresses() {
        assert_eq!(
            Dsn::parse("u:p@tcp([::1]:3310)/auth").unwrap().endpoint,
            tcp("::1", 3310)
        );
        assert_eq!(
            Dsn::parse("u:p@tcp([fe80::1])/auth").unwrap().endpoint,
            tcp("fe80::1", DEFAULT_PORT)
        );
        assert_eq!(
            Dsn::parse("u:p@tcp(::1)/auth").unwrap().endpoint,
            tcp("::1", DEFAULT_PORT)
        );
        let dsn = Dsn::parse("u:p@tcp([::1]:3310)/auth").unwrap();
        assert_eq!(dsn.to_string(), "u:***@tcp([::1]:3310)/auth");
    }

    #[test]
    fn params_known_ignored_and_escaped() {
        let dsn = Dsn::parse(
            "u:p@tcp(h:1)/my%20auth?charset=utf8mb4,utf8&collation=utf8mb4_general_ci\
             &parseTime=true&loc=Europe%2FParis&timeout=5s&tls=false",
        )
        .unwrap();
        assert_eq!(dsn.database, "my auth");
        assert_eq!(dsn.charset.as_deref(), Some("utf8mb4"));
        assert_eq!(dsn.collation.as_deref(), Some("utf8mb4_general_ci"));
        assert_eq!(dsn.ignored_params, ["parseTime", "loc", "timeout"]);
        let options = dsn.connect_options();
        assert_eq!(options.get_charset(), "utf8mb4");
        assert_eq!(options.get_collation(), Some("utf8mb4_general_ci"));
        assert_eq!(options.get_database(), Some("my auth"));
    }

    #[test]
    fn bad_input_names_the_part() {
        let cases: &[(&str, &str)] = &[
            ("", "dsn"),
            ("   ", "dsn"),
            ("u:p@tcp(h:1)", "dsn"),
            ("u:p@tcp(h:1)/auth\n", "dsn"),
            (":p@tcp(h:1)/auth", "user"),
            ("tcp(h:1)/auth", "user"),
            ("u:p@tcp(h:1)/", "database name"),
            ("u:p@tcp(h:1)/a%zz", "database name"),
            ("u:p@tcp(h:99999)/auth", "port"),
            ("u:p@tcp(h:0)/auth", "port"),
            ("u:p@tcp(h:abc)/auth", "port"),
            ("u:p@tcp(:3306)/auth", "address"),
            ("u:p@tcp(h:1/auth", "address"),
            ("u:p@tcp([::1:1)/auth", "address"),
            ("u:p@tcp([::1]x)/auth", "address"),
            ("u:p@udp(h:1)/auth", "network"),
            ("u:p@tcp(h:1)/auth?tls=true", "parameter `tls`"),
            ("u:p@tcp(h:1)/auth?tls=skip-verify", "parameter `tls`"),
            ("u:p@tcp(h:1)/auth?sql_mode=ANSI", "parameter `sql_mode`"),
            ("u:p@tcp(h:1)/auth?charset=", "parameter `charset`"),
            ("u:p@tcp(h:1)/auth?charset=utf8;drop", "parameter `charset`"),
            ("u:p@tcp(h:1)/auth?collation=x%2", "parameter `collation`"),
            ("u:p@tcp(h:1)/auth?parseTime", "parameters"),
            ("u:p@tcp(h:1)/auth?=1", "parameters"),
        ];
        for (text, part) in cases {
            let e = Dsn::parse(text).expect_err(text);
            assert_eq!(e.part, *part, "{text:?}: {e}");
            assert!(e.to_string().contains("AUTH_DB_CONNECTION"), "{e}");
        }
        let long = format!("u:p@tcp(h:1)/{}", "a".repeat(DSN_MAX_BYTES));
        assert_eq!(Dsn::parse(&long).unwrap_err().part, "dsn");
    }

    #[test]
    fn the_password_is_never_echoed() {
        let secret = "Sup3rS3cret";
        let bad = [
            format!("u:{secret}tcp(h:1)/auth"), // '@' forgotten: the password lands in `net`
            format!("u:{secret}@tcp(h:x)/auth"),
            format!("u:{secret}@tcp(h:1/auth"),
            format!("u:{secret}@tcp(h:1)/"),
            format!("u:{secret}@tcp(h:1)"),
            format!("u:{secret}/x@tcp(h:1)"), // a '/' in the password and no database
            format!("u:{secret}@tcp(h:1)/auth?tls=true"),
            format!("u:{secret}@tcp(h:1)/auth?x={secret}"),
            format!(":{secret}@tcp(h:1)/auth"),
        ];
        for text in &bad {
            let e = Dsn::parse(text).expect_err(text);
            assert!(!e.to_string().contains(secret), "{e}");
            assert!(!format!("{e:?}").contains(secret), "{e:?}");
        }
        let good = Dsn::parse(&format!("u:{secret}@tcp(h:1)/auth")).unwrap();
        assert!(!good.to_string().contains(secret));
        assert!(!format!("{good:?}").contains(secret));
        assert_eq!(good.to_string(), "u:***@tcp(h:1)/auth");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%41+b", true).as_deref(), Some("aA b"));
        assert_eq!(percent_decode("a%41+b", false).as_deref(), Some("aA+b"));
        assert_eq!(percent_decode("%", false), None);
        assert_eq!(percent_decode("%4", false), None);
        assert_eq!(percent_decode("%g1", false), None);
        assert_eq!(percent_decode("%ff", false), None); // not UTF-8
        assert_eq!(percent_decode("%c3%a9", false).as_deref(), Some("é"));
    }
}
