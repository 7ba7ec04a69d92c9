//! The auth DB adapter against a real MariaDB (`ci/services/mariadb start` prints the
//! `WAYGATE_TEST_AUTH_DB` DSN). Each test makes its own database, so they run in parallel.
//! Without `WAYGATE_TEST_AUTH_DB` the tests fail under CI (`CI` set) and are skipped, with a
//! notice, elsewhere.
//!
//! The DB going away mid-run is played by a TCP relay between the adapter and the server,
//! which can forward, close every connection, or go silent (hold connections open and forward
//! nothing, as a dead host behind a live network does).
#![cfg(not(madsim))]

#[path = "common/auth_db.rs"]
mod test_db;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use sqlx::Connection;
use sqlx::mysql::MySqlConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use waygate::adapters::auth_db::{AuthDb, AuthDbSettings, Dsn, Endpoint, SERVICE, SchemaType};
use waygate::runtime::Accounts;
use waygate::session::{AccountId, SeamError};

use test_db::{CLIENT, TestDb, server_dsn};

/// The session's accounts deadline (`session.service_timeout_ms`): every answer must come
/// before it.
const SERVICE_TIMEOUT_MS: u64 = 5_000;

fn client_ip() -> IpAddr {
    CLIENT.parse().unwrap()
}

/// The test server's DSN, or `None` (with a notice) when there is none and this is not CI.
fn key_of(byte: u8) -> [u8; 40] {
    [byte; 40]
}

async fn schema_reads_its_key_column(test: &str, schema: SchemaType) {
    let Some(db) = TestDb::create(test, schema).await else {
        return;
    };
    let id = db.account(schema, "ALICE", Some(0xA1), false).await;
    let auth = db.auth_db(schema);
    let record = auth
        .lookup("ALICE", client_ip())
        .await
        .expect("lookup answers")
        .expect("ALICE exists");
    assert_eq!(record.id, AccountId(id));
    assert_eq!(record.name, "ALICE");
    assert_eq!(record.session_key.0, key_of(0xA1), "the bytes as stored");
    assert!(!record.banned && !record.locked);
    assert_eq!((auth.lookups(), auth.errors()), (1, 0));

    // The other flavour's adapter on this schema: a final error that names the setting.
    let other = match schema {
        SchemaType::AzerothCore => SchemaType::TrinityCore,
        SchemaType::TrinityCore => SchemaType::AzerothCore,
    };
    let wrong = db.auth_db(other);
    let e = wrong.lookup("ALICE", client_ip()).await.unwrap_err();
    assert_eq!(e.service, SERVICE);
    assert!(!e.retryable, "a schema mismatch is not passing: {e}");
    assert!(e.detail.contains("DB_SCHEMA_TYPE"), "{e}");
    assert_eq!(wrong.errors(), 1);
    db.drop_db().await;
}

#[tokio::test]
async fn azerothcore_schema_reads_session_key() {
    schema_reads_its_key_column("ac_schema", SchemaType::AzerothCore).await;
}

#[tokio::test]
async fn trinitycore_schema_reads_session_key_auth() {
    schema_reads_its_key_column("tc_schema", SchemaType::TrinityCore).await;
}

#[tokio::test]
async fn a_new_key_is_seen_at_the_next_lookup() {
    let schema = SchemaType::AzerothCore;
    let Some(db) = TestDb::create("rotation", schema).await else {
        return;
    };
    db.account(schema, "BOB", Some(0x01), false).await;
    let auth = db.auth_db(schema);
    for round in 1u8..=3 {
        let record = auth.lookup("BOB", client_ip()).await.unwrap().unwrap();
        assert_eq!(record.session_key.0, key_of(round), "round {round}");
        // The authserver's next logon writes a new key.
        db.exec(&format!(
            "UPDATE account SET session_key = UNHEX(REPEAT('{:02X}', 40)) WHERE username = 'BOB'",
            round + 1
        ))
        .await;
    }
    // Logged out of the authserver's view: the key is gone.
    db.exec("UPDATE account SET session_key = NULL WHERE username = 'BOB'")
        .await;
    assert_eq!(auth.lookup("BOB", client_ip()).await.unwrap(), None);
    db.drop_db().await;
}

#[tokio::test]
async fn unknown_account_null_key_and_bad_key_length() {
    let schema = SchemaType::TrinityCore;
    let Some(db) = TestDb::create("unknown", schema).await else {
        return;
    };
    db.account(schema, "NOKEY", None, false).await;
    let short = db.account(schema, "SHORTKEY", Some(0x05), false).await;
    let auth = db.auth_db(schema);
    assert_eq!(auth.lookup("NOBODY", client_ip()).await.unwrap(), None);
    assert_eq!(auth.lookup("", client_ip()).await.unwrap(), None);
    assert_eq!(auth.lookup("NOKEY", client_ip()).await.unwrap(), None);
    // A name with quotes and wildcards is a value, not SQL.
    assert_eq!(auth.lookup("' OR '1'='1", client_ip()).await.unwrap(), None);
    assert_eq!(auth.lookup("%", client_ip()).await.unwrap(), None);
    assert_eq!(auth.errors(), 0);
    // BINARY(40) pads whatever is stored to 40 bytes; a VARBINARY column can hold a key of
    // the wrong length, which is refused, naming the column.
    db.exec("ALTER TABLE account MODIFY session_key_auth VARBINARY(40) NULL")
        .await;
    db.exec(&format!(
        "UPDATE account SET session_key_auth = UNHEX('0102') WHERE id = {short}"
    ))
    .await;
    let e = auth.lookup("SHORTKEY", client_ip()).await.unwrap_err();
    assert!(!e.retryable, "{e}");
    assert!(
        e.detail.contains("2 bytes") && e.detail.contains("session_key_auth"),
        "{e}"
    );
    assert_eq!(auth.errors(), 1);
    db.drop_db().await;
}

#[tokio::test]
async fn bans_active_expired_permanent_inactive() {
    let schema = SchemaType::AzerothCore;
    let Some(db) = TestDb::create("bans", schema).await else {
        return;
    };
    let mut ids = BTreeMap::new();
    for name in [
        "ACTIVE",
        "EXPIRED",
        "PERMANENT",
        "INACTIVE",
        "NEVER",
        "MIXED",
        "LIFTEDPERM",
    ] {
        ids.insert(name, db.account(schema, name, Some(0x10), false).await);
    }
    let now = "UNIX_TIMESTAMP()";
    let ban = |name: &str, bandate: String, unbandate: String, active: u8| {
        format!(
            "INSERT INTO account_banned (id, bandate, unbandate, bannedby, banreason, active) \
             VALUES ({}, {bandate}, {unbandate}, 'GM', 'test', {active})",
            ids[name]
        )
    };
    for sql in [
        ban("ACTIVE", format!("{now} - 60"), format!("{now} + 3600"), 1),
        ban(
            "EXPIRED",
            format!("{now} - 7200"),
            format!("{now} - 3600"),
            1,
        ),
        ban("PERMANENT", format!("{now} - 60"), format!("{now} - 60"), 1),
        ban(
            "INACTIVE",
            format!("{now} - 60"),
            format!("{now} + 3600"),
            0,
        ),
        // An old expired ban and a current one: the current one counts.
        ban("MIXED", format!("{now} - 9000"), format!("{now} - 8000"), 1),
        ban("MIXED", format!("{now} - 60"), format!("{now} + 600"), 1),
        // A permanent ban that was lifted (active = 0).
        ban(
            "LIFTEDPERM",
            format!("{now} - 60"),
            format!("{now} - 60"),
            0,
        ),
    ] {
        db.exec(&sql).await;
    }
    let auth = db.auth_db(schema);
    let mut seen = BTreeMap::new();
    for name in ids.keys() {
        let record = auth.lookup(name, client_ip()).await.unwrap().unwrap();
        assert!(!record.locked);
        seen.insert(*name, record.banned);
    }
    let expected = BTreeMap::from([
        ("ACTIVE", true),
        ("EXPIRED", false),
        ("INACTIVE", false),
        ("LIFTEDPERM", false),
        ("MIXED", true),
        ("NEVER", false),
        ("PERMANENT", true),
    ]);
    assert_eq!(seen, expected);
    db.drop_db().await;
}

#[tokio::test]
async fn ip_lock_refuses_only_another_address() {
    let schema = SchemaType::TrinityCore;
    let Some(db) = TestDb::create("iplock", schema).await else {
        return;
    };
    db.account(schema, "LOCKED", Some(0x20), true).await;
    db.account(schema, "OPEN", Some(0x21), false).await;
    db.account(schema, "GARBLED", Some(0x22), true).await;
    db.exec("UPDATE account SET last_ip = 'not-an-ip' WHERE username = 'GARBLED'")
        .await;
    let auth = db.auth_db(schema);
    let other: IpAddr = "203.0.113.9".parse().unwrap();
    let mapped: IpAddr = format!("::ffff:{CLIENT}").parse().unwrap();
    let locked = |name: &'static str, ip: IpAddr| {
        let auth = &auth;
        async move { auth.lookup(name, ip).await.unwrap().unwrap().locked }
    };
    assert!(!locked("LOCKED", client_ip()).await, "its last address");
    assert!(
        !locked("LOCKED", mapped).await,
        "the same address, dual-stack"
    );
    assert!(locked("LOCKED", other).await, "another address");
    assert!(!locked("OPEN", other).await, "not locked: any address");
    assert!(locked("GARBLED", client_ip()).await, "no address matches");
    db.drop_db().await;
}

#[tokio::test]
async fn realm_names_are_loaded_once() {
    let schema = SchemaType::AzerothCore;
    let Some(db) = TestDb::create("realms", schema).await else {
        return;
    };
    db.exec("INSERT INTO realmlist (id, name) VALUES (1, 'Azeroth'), (7, 'Outland')")
        .await;
    let auth = db.auth_db(schema);
    let names = auth.realm_names().await.unwrap();
    assert_eq!(
        names,
        BTreeMap::from([(1, "Azeroth".to_owned()), (7, "Outland".to_owned())])
    );
    db.exec("INSERT INTO realmlist (id, name) VALUES (9, 'Northrend')")
        .await;
    assert_eq!(
        auth.realm_names().await.unwrap(),
        names,
        "kept from the first load"
    );
    // A fresh adapter reads the table again.
    assert_eq!(db.auth_db(schema).realm_names().await.unwrap().len(), 3);
    db.drop_db().await;
}

#[tokio::test]
async fn many_lookups_share_a_small_pool() {
    let schema = SchemaType::AzerothCore;
    let Some(db) = TestDb::create("pool", schema).await else {
        return;
    };
    for i in 0..8u8 {
        db.account(schema, &format!("P{i}"), Some(0x30 + i), false)
            .await;
    }
    let settings = AuthDbSettings {
        connections_max: 2,
        ..AuthDbSettings::new(schema)
    };
    let auth = std::sync::Arc::new(AuthDb::connect_lazy(&db.dsn, settings).unwrap());
    // Warm the pool, then time lookups one after another.
    auth.lookup("P0", client_ip()).await.unwrap().unwrap();
    let rounds = 200u32;
    let mut took = Vec::with_capacity(rounds as usize);
    for i in 0..rounds {
        let name = format!("P{}", i % 8);
        let started = Instant::now();
        let record = auth.lookup(&name, client_ip()).await.unwrap().unwrap();
        took.push(started.elapsed());
        assert_eq!(record.session_key.0, key_of(0x30 + (i % 8) as u8));
    }
    took.sort();
    let mean = took.iter().sum::<Duration>() / rounds;
    eprintln!(
        "auth_db: {rounds} sequential lookups: mean {mean:?}, p50 {:?}, p99 {:?}, max {:?}",
        took[took.len() / 2],
        took[took.len() * 99 / 100],
        took[took.len() - 1]
    );
    // 64 at once on 2 connections: they queue for the pool, all answer.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64u8 {
        let auth = auth.clone();
        tasks.spawn(async move {
            let name = format!("P{}", i % 8);
            let record = auth.lookup(&name, client_ip()).await.unwrap().unwrap();
            assert_eq!(record.session_key.0, key_of(0x30 + i % 8));
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("lookup task");
    }
    assert_eq!(auth.errors(), 0);
    auth.close().await;
    db.drop_db().await;
}

#[tokio::test]
async fn nothing_listening_is_retryable_within_the_bound() {
    if server_dsn().is_none() {
        return;
    }
    // A port that was just free: nothing answers there.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let dsn = Dsn::parse(&format!("u:secret-pw@tcp(127.0.0.1:{port})/auth")).unwrap();
    let auth = AuthDb::connect_lazy(&dsn, AuthDbSettings::new(SchemaType::AzerothCore)).unwrap();
    let started = Instant::now();
    let e = auth.lookup("ALICE", client_ip()).await.unwrap_err();
    let took = started.elapsed();
    assert_retryable_in_bound(&e, took, auth.settings());
    assert!(!e.detail.contains("secret-pw"), "{e}");
    assert!(e.detail.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert_eq!(auth.errors(), 1);
    let e = auth.realm_names().await.unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(auth.errors(), 2);
}

fn assert_retryable_in_bound(e: &SeamError, took: Duration, settings: &AuthDbSettings) {
    assert_eq!(e.service, SERVICE, "{e}");
    assert!(e.retryable, "{e}");
    // The adapter's own bound, plus scheduling slack; and always inside the session's.
    let bound = Duration::from_millis(settings.lookup_timeout_ms + 500);
    assert!(
        took <= bound,
        "answered after {took:?}, bound {bound:?}: {e}"
    );
    assert!(took < Duration::from_millis(SERVICE_TIMEOUT_MS));
}

// --- the DB going away mid-run ---------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Relay both ways.
    Forward,
    /// Close every connection, and each new one as soon as it opens.
    Close,
    /// Hold every connection open and relay nothing (a dead host behind a live network).
    /// Connections caught silent stay so until the relay is dropped, as a vanished host's do:
    /// only connections opened later reach the server again.
    Silent,
}

/// A TCP relay in front of the test server.
struct Relay {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Forward);
        let modes = mode.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay_one(client, upstream, modes.subscribe()));
            }
        });
        Relay { addr, mode, task }
    }

    fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
        self.set(Mode::Close);
    }
}

async fn relay_one(mut client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Close => return,
        Mode::Silent => {
            held_until_close(&mut mode).await;
            return;
        }
        Mode::Forward => {}
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let left_forward = async {
        loop {
            if mode.changed().await.is_err() {
                return Mode::Close;
            }
            let now = *mode.borrow_and_update();
            if now != Mode::Forward {
                return now;
            }
        }
    };
    let next = tokio::select! {
        biased;
        next = left_forward => next,
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
    };
    if next == Mode::Silent {
        // Both sockets stay open and nothing is relayed.
        held_until_close(&mut mode).await;
    }
}

/// Waits until the relay closes everything (or is gone).
async fn held_until_close(mode: &mut watch::Receiver<Mode>) {
    while mode.changed().await.is_ok() {
        if *mode.borrow_and_update() == Mode::Close {
            return;
        }
    }
}

fn upstream_of(dsn: &Dsn) -> SocketAddr {
    match &dsn.endpoint {
        Endpoint::Tcp { host, port } => format!("{host}:{port}")
            .parse()
            .expect("the test server is on a loopback IP"),
        Endpoint::Socket(_) => panic!("the test server is reached over TCP"),
    }
}

/// Polls until a lookup succeeds again, within a deadline (the pool must heal by itself).
async fn until_answered(auth: &AuthDb, name: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        match auth.lookup(name, client_ip()).await {
            Ok(Some(_)) => return started.elapsed(),
            Ok(None) => panic!("{name} vanished"),
            Err(e) => {
                assert!(e.retryable, "{e}");
                assert!(
                    started.elapsed() < within,
                    "still failing after {within:?}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn db_behind_relay(test: &str) -> Option<(TestDb, Relay, std::sync::Arc<AuthDb>)> {
    let schema = SchemaType::AzerothCore;
    let db = TestDb::create(test, schema).await?;
    for i in 0..4u8 {
        db.account(schema, &format!("R{i}"), Some(0x40 + i), false)
            .await;
    }
    let relay = Relay::start(upstream_of(&db.dsn)).await;
    let mut via_relay = db.dsn.clone();
    via_relay.endpoint = Endpoint::Tcp {
        host: "127.0.0.1".into(),
        port: relay.addr.port(),
    };
    let settings = AuthDbSettings {
        connections_max: 4,
        ..AuthDbSettings::new(schema)
    };
    let auth = std::sync::Arc::new(AuthDb::connect_lazy(&via_relay, settings).unwrap());
    // Fill the pool: these connections are the ones the outage catches.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16u8 {
        let auth = auth.clone();
        tasks.spawn(async move {
            auth.lookup(&format!("R{}", i % 4), client_ip())
                .await
                .unwrap()
                .unwrap();
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("warm-up lookup");
    }
    Some((db, relay, auth))
}

/// Many lookups at once (more than the pool holds) while the DB is out: each one answers a
/// retryable error within the bound.
async fn all_fail_within_bound(auth: &std::sync::Arc<AuthDb>, at_once: u8) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..at_once {
        let auth = auth.clone();
        tasks.spawn(async move {
            let started = Instant::now();
            let answer = auth.lookup(&format!("R{}", i % 4), client_ip()).await;
            (answer, started.elapsed())
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (answer, took) = done.expect("lookup task");
        let e = answer.expect_err("the DB is out");
        assert_retryable_in_bound(&e, took, auth.settings());
    }
}

#[tokio::test]
async fn db_closing_connections_mid_run_is_retryable_and_heals() {
    let Some((db, relay, auth)) = db_behind_relay("closes").await else {
        return;
    };
    let errors_before = auth.errors();
    relay.set(Mode::Close);
    all_fail_within_bound(&auth, 12).await;
    assert_eq!(auth.errors() - errors_before, 12, "every failure counted");
    relay.set(Mode::Forward);
    let healed = until_answered(&auth, "R1", Duration::from_secs(10)).await;
    eprintln!("auth_db: answering again {healed:?} after the DB came back");
    drop(relay);
    db.drop_db().await;
}

#[tokio::test]
async fn db_going_silent_mid_run_is_retryable_and_heals() {
    let Some((db, relay, auth)) = db_behind_relay("silent").await else {
        return;
    };
    relay.set(Mode::Silent);
    all_fail_within_bound(&auth, 12).await;
    // Still silent: a second wave must not find the pool stuck on the first one's
    // connections (each answers within the bound again).
    all_fail_within_bound(&auth, 6).await;
    relay.set(Mode::Forward);
    until_answered(&auth, "R2", Duration::from_secs(10)).await;
    // And the whole pool works again, not just one connection.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16u8 {
        let auth = auth.clone();
        tasks.spawn(async move { auth.lookup(&format!("R{}", i % 4), client_ip()).await });
    }
    while let Some(done) = tasks.join_next().await {
        let record = done.expect("lookup task").expect("healed").expect("exists");
        assert!(!record.banned);
    }
    drop(relay);
    db.drop_db().await;
}

#[tokio::test]
async fn db_going_silent_mid_query_leaks_no_pool_slot() {
    let Some((db, relay, auth)) = db_behind_relay("midquery").await else {
        return;
    };
    // Hold the lookups inside the server: a write lock on `account` makes each SELECT wait.
    let mut admin = MySqlConnection::connect_with(&db.dsn.connect_options())
        .await
        .unwrap();
    sqlx::raw_sql("LOCK TABLES account WRITE")
        .execute(&mut admin)
        .await
        .unwrap();
    let pool_max = auth.settings().connections_max;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..(2 * pool_max) {
        let auth = auth.clone();
        tasks.spawn(async move {
            let started = Instant::now();
            let answer = auth.lookup(&format!("R{}", i % 4), client_ip()).await;
            (answer, started.elapsed())
        });
    }
    // Every pooled connection has its query in the server (observed, not assumed).
    let waiting_sql = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
         WHERE DB = '{}' AND STATE LIKE '%lock%' AND INFO LIKE 'SELECT%'",
        db.name
    );
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let waiting: i64 = sqlx::query_scalar(&waiting_sql)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if waiting == i64::from(pool_max) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} of {pool_max} queries reached the server"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The network dies with those queries in flight; the server answers them into the void.
    relay.set(Mode::Silent);
    sqlx::raw_sql("UNLOCK TABLES")
        .execute(&mut admin)
        .await
        .unwrap();
    while let Some(done) = tasks.join_next().await {
        let (answer, took) = done.expect("lookup task");
        let e = answer.expect_err("no answer comes through");
        assert_retryable_in_bound(&e, took, auth.settings());
    }
    // Back: the pool must not be stuck on the connections that never got their answer.
    relay.set(Mode::Forward);
    until_answered(&auth, "R3", Duration::from_secs(10)).await;
    admin.close().await.ok();
    drop(relay);
    db.drop_db().await;
}
