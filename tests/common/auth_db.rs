//! A private database per test on the MariaDB of `WAYGATE_TEST_AUTH_DB` (printed by
//! `ci/services/mariadb start`), with the auth tables the gateway reads. Shared by the auth
//! DB adapter tests and the ToCloud9-mode end-to-end test.

#![allow(dead_code)] // each test binary uses part of it

use sqlx::Connection;
use sqlx::mysql::MySqlConnection;
use waygate::adapters::auth_db::{AuthDb, AuthDbSettings, Dsn, SchemaType};

/// The address accounts were last seen from.
pub const CLIENT: &str = "198.51.100.20";

pub fn server_dsn() -> Option<Dsn> {
    match std::env::var("WAYGATE_TEST_AUTH_DB") {
        Ok(text) if !text.is_empty() => {
            Some(Dsn::parse(&text).expect("WAYGATE_TEST_AUTH_DB is a go-sql-driver DSN"))
        }
        _ if std::env::var_os("CI").is_some() => panic!(
            "WAYGATE_TEST_AUTH_DB is not set under CI: ci/run must start ci/services/mariadb"
        ),
        _ => {
            // Straight to stderr, once: the harness would swallow eprintln! of a passing test.
            static NOTICE: std::sync::Once = std::sync::Once::new();
            NOTICE.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "auth_db: SKIPPED, WAYGATE_TEST_AUTH_DB is not set \
                     (eval \"$(ci/services/mariadb start)\" first)"
                );
            });
            None
        }
    }
}

/// One test's own database, dropped (best effort) when the test ends.
pub struct TestDb {
    pub admin: Dsn,
    pub dsn: Dsn,
    pub name: String,
}

impl TestDb {
    pub async fn create(test: &str, schema: SchemaType) -> Option<Self> {
        let admin = server_dsn()?;
        let name = format!("waygate_t_{test}_{}", std::process::id());
        let mut conn = MySqlConnection::connect_with(&admin.connect_options())
            .await
            .expect("the test server answers");
        for sql in [
            format!("DROP DATABASE IF EXISTS `{name}`"),
            format!("CREATE DATABASE `{name}`"),
        ] {
            sqlx::raw_sql(&sql).execute(&mut conn).await.expect(&sql);
        }
        let mut dsn = admin.clone();
        dsn.database = name.clone();
        let db = TestDb { admin, dsn, name };
        let key = schema.session_key_column();
        db.exec(&format!(
            "CREATE TABLE account (
               id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
               username VARCHAR(32) NOT NULL DEFAULT '',
               salt BINARY(32) NOT NULL DEFAULT '',
               verifier BINARY(32) NOT NULL DEFAULT '',
               {key} BINARY(40) NULL,
               locked TINYINT UNSIGNED NOT NULL DEFAULT 0,
               last_ip VARCHAR(15) NOT NULL DEFAULT '127.0.0.1',
               UNIQUE KEY idx_username (username))"
        ))
        .await;
        db.exec(
            "CREATE TABLE account_banned (
               id INT UNSIGNED NOT NULL DEFAULT 0,
               bandate INT UNSIGNED NOT NULL DEFAULT 0,
               unbandate INT UNSIGNED NOT NULL DEFAULT 0,
               bannedby VARCHAR(50) NOT NULL,
               banreason VARCHAR(255) NOT NULL,
               active TINYINT UNSIGNED NOT NULL DEFAULT 1,
               PRIMARY KEY (id, bandate))",
        )
        .await;
        db.exec(
            "CREATE TABLE realmlist (
               id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
               name VARCHAR(32) NOT NULL DEFAULT '')",
        )
        .await;
        Some(db)
    }

    pub async fn exec(&self, sql: &str) {
        let mut conn = MySqlConnection::connect_with(&self.dsn.connect_options())
            .await
            .expect("the test database answers");
        sqlx::raw_sql(sql).execute(&mut conn).await.expect(sql);
        conn.close().await.ok();
    }

    /// Adds an account; `key` is a byte the 40-byte key is filled with (`None`: NULL).
    pub async fn account(
        &self,
        schema: SchemaType,
        name: &str,
        key: Option<u8>,
        locked: bool,
    ) -> u32 {
        let key_sql = match key {
            Some(b) => format!("UNHEX(REPEAT('{b:02X}', 40))"),
            None => "NULL".into(),
        };
        let col = schema.session_key_column();
        let mut conn = MySqlConnection::connect_with(&self.dsn.connect_options())
            .await
            .expect("the test database answers");
        let done = sqlx::query(&format!(
            "INSERT INTO account (username, {col}, locked, last_ip) VALUES (?, {key_sql}, ?, ?)"
        ))
        .bind(name)
        .bind(u8::from(locked))
        .bind(CLIENT)
        .execute(&mut conn)
        .await
        .expect("insert account");
        u32::try_from(done.last_insert_id()).unwrap()
    }

    pub fn auth_db(&self, schema: SchemaType) -> AuthDb {
        AuthDb::connect_lazy(&self.dsn, AuthDbSettings::new(schema)).expect("settings are valid")
    }

    pub async fn drop_db(self) {
        if let Ok(mut conn) = MySqlConnection::connect_with(&self.admin.connect_options()).await {
            let sql = format!("DROP DATABASE IF EXISTS `{}`", self.name);
            sqlx::raw_sql(&sql).execute(&mut conn).await.ok();
        }
    }
}
