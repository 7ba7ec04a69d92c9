//! The auth DB's connection string as ToCloud9 writes it: a go-sql-driver/mysql DSN,
//! `[user[:password]@][net[(addr)]]/dbname[?param=value&...]`, split the way that driver
//! splits it (the last `/` ends the address part, the last `@` before it ends the
//! credentials, the first `:` in them ends the user). The password never reaches a log:
//! [`MysqlDsn`]'s `Debug` and `Display` mask it.

use super::ConfigError;

/// MySQL's port when the address has none.
pub const MYSQL_DEFAULT_PORT: u16 = 3306;

/// A parsed go-sql-driver/mysql DSN.
#[derive(Clone, PartialEq, Eq)]
pub struct MysqlDsn {
    /// User name (may be empty).
    pub user: String,
    /// Password, `None` when the DSN has no `:` in its credentials.
    pub password: Option<String>,
    /// `tcp` (the default) or `unix`.
    pub net: String,
    /// `host:port` for `tcp` (port 3306 added when missing), a socket path for `unix`.
    pub address: String,
    /// Database name.
    pub database: String,
    /// `?key=value` parameters, in order, as written (not unescaped).
    pub params: Vec<(String, String)>,
    /// The DSN as written: what the auth DB adapter parses and connects with. Private: it
    /// holds the password.
    text: String,
}

impl MysqlDsn {
    /// Parses a DSN. Errors never repeat the DSN (it may hold a password).
    pub fn parse(dsn: &str, key: &str) -> Result<Self, ConfigError> {
        let bad = |why: &str| ConfigError(format!("{key}: {why}"));
        // The adapter's own parse too (parameters, endpoint), so `check-config` refuses
        // whatever `serve` would.
        #[cfg(not(madsim))]
        crate::adapters::auth_db::Dsn::parse(dsn)
            .map_err(|e| bad(&format!("{}: {}", e.part, e.reason)))?;
        let Some(slash) = dsn.rfind('/') else {
            return Err(bad(
                "not a MySQL DSN: the `/` before the database name is missing \
                 (user:password@tcp(host:port)/database)",
            ));
        };
        let (left, right) = (&dsn[..slash], &dsn[slash + 1..]);
        let (mut user, mut password, mut net, mut address) =
            (String::new(), None, String::new(), String::new());
        if !left.is_empty() {
            let net_part = match left.rfind('@') {
                Some(at) => {
                    let creds = &left[..at];
                    match creds.find(':') {
                        Some(colon) => {
                            user = creds[..colon].to_owned();
                            password = Some(creds[colon + 1..].to_owned());
                        }
                        None => user = creds.to_owned(),
                    }
                    &left[at + 1..]
                }
                None => left,
            };
            match net_part.find('(') {
                Some(open) => {
                    if !net_part.ends_with(')') {
                        return Err(bad(
                            "the address after the network must be closed by `)` right before `/`",
                        ));
                    }
                    net = net_part[..open].to_owned();
                    address = net_part[open + 1..net_part.len() - 1].to_owned();
                }
                None => net = net_part.to_owned(),
            }
        }
        let (database, query) = match right.find('?') {
            Some(q) => (&right[..q], Some(&right[q + 1..])),
            None => (right, None),
        };
        let mut params = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(bad("a `?` parameter has no `=`"));
            };
            params.push((k.to_owned(), v.to_owned()));
        }
        if net.is_empty() {
            net = "tcp".into();
        }
        match net.as_str() {
            "tcp" | "tcp4" | "tcp6" => {
                if address.is_empty() {
                    address = format!("127.0.0.1:{MYSQL_DEFAULT_PORT}");
                } else if !has_port(&address) {
                    address = format!("{address}:{MYSQL_DEFAULT_PORT}");
                }
            }
            "unix" => {
                if address.is_empty() {
                    address = "/tmp/mysql.sock".into();
                }
            }
            other => {
                return Err(bad(&format!("network {other:?} is not `tcp` or `unix`")));
            }
        }
        Ok(Self {
            user,
            password,
            net,
            address,
            database: database.to_owned(),
            params,
            text: dsn.to_owned(),
        })
    }

    /// The DSN as written, password included: for the auth DB adapter only, never a log.
    pub fn expose_text(&self) -> &str {
        &self.text
    }

    /// The DSN with its password replaced by `***`: safe to log.
    pub fn masked(&self) -> String {
        let mut out = self.user.clone();
        if self.password.is_some() {
            out.push_str(":***");
        }
        out.push('@');
        out.push_str(&format!("{}({})/{}", self.net, self.address, self.database));
        for (i, (k, v)) in self.params.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(&format!("{k}={v}"));
        }
        out
    }
}

/// Whether `host:port` (or `[v6]:port`) carries a port.
fn has_port(address: &str) -> bool {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.contains("]:");
    }
    address.matches(':').count() == 1
}

impl std::fmt::Debug for MysqlDsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MysqlDsn({})", self.masked())
    }
}

impl std::fmt::Display for MysqlDsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(dsn: &str) -> MysqlDsn {
        MysqlDsn::parse(dsn, "AUTH_DB_CONNECTION").expect("valid")
    }

    #[test]
    fn tocloud9_default_splits() {
        let d = parse("trinity:trinity@tcp(127.0.0.1:3306)/auth");
        assert_eq!(d.user, "trinity");
        assert_eq!(d.password.as_deref(), Some("trinity"));
        assert_eq!(d.net, "tcp");
        assert_eq!(d.address, "127.0.0.1:3306");
        assert_eq!(d.database, "auth");
        assert_eq!(d.masked(), "trinity:***@tcp(127.0.0.1:3306)/auth");
        assert!(!format!("{d:?}").contains("trinity@"));
    }

    #[test]
    fn passwords_may_hold_colons_ats_and_slashes() {
        let d = parse("root:p:a@s/s@tcp(db:3307)/acore_auth?timeout=5s&parseTime=true");
        assert_eq!(d.user, "root");
        assert_eq!(d.password.as_deref(), Some("p:a@s/s"));
        assert_eq!(d.address, "db:3307");
        assert_eq!(d.database, "acore_auth");
        assert_eq!(
            d.params,
            vec![
                ("timeout".into(), "5s".into()),
                ("parseTime".into(), "true".into())
            ]
        );
        let masked = d.masked();
        assert!(!masked.contains("p:a@s"), "{masked}");
        assert_eq!(
            masked,
            "root:***@tcp(db:3307)/acore_auth?timeout=5s&parseTime=true"
        );
    }

    #[test]
    fn defaults_fill_net_address_and_port() {
        let d = parse("u@/auth");
        assert_eq!(
            (d.net.as_str(), d.address.as_str()),
            ("tcp", "127.0.0.1:3306")
        );
        assert_eq!(d.password, None);
        // go-sql-driver takes a DSN without a user; the auth DB adapter (and so the config)
        // does not: a gateway always logs in as someone.
        let e = MysqlDsn::parse("/auth", "AUTH_DB_CONNECTION").expect_err("no user");
        assert!(e.to_string().contains("user"), "{e}");
        assert_eq!(parse("u@tcp(db)/auth").address, "db:3306");
        assert_eq!(parse("u@tcp([::1])/auth").address, "[::1]:3306");
        assert_eq!(parse("u@tcp([::1]:3310)/auth").address, "[::1]:3310");
        assert_eq!(
            parse("u@unix(/run/mysqld.sock)/auth").address,
            "/run/mysqld.sock"
        );
    }

    #[test]
    fn bad_dsns_are_named_without_the_password() {
        for bad in [
            "secretpw",
            "u:secretpw@tcp(db:3306/auth",
            "u:secretpw@pipe(x)/auth",
            "u:secretpw@tcp(db)/auth?novalue",
        ] {
            let e = MysqlDsn::parse(bad, "AUTH_DB_CONNECTION")
                .expect_err(bad)
                .to_string();
            assert!(e.contains("AUTH_DB_CONNECTION"), "{e}");
            assert!(!e.contains("secretpw"), "{e}");
        }
    }
}
