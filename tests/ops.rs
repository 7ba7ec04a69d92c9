//! The operations listeners on real loopback sockets, seen by a raw HTTP/1.1 client:
//! ToCloud9's `/healthcheck` and `active_connections`, readiness handles, the `waygate_*`
//! metric families, the admin listener draining a worldserver a bot plays on, and bad
//! requests answered with 4xx while the server keeps serving.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use waygate::cluster::view::Health as WorldHealth;
use waygate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
use waygate::driver::{AdapterErrors, AdapterService, DriverConfig, Gateway, serve};
use waygate::ops::{self, Health, OPS_CONNECTIONS_MAX, OPS_HEADER_READ_TIMEOUT_MS, Ops};
use waygate::peers::bot::{BotConfig, BotError, BotReport, BotStep, run_bot};
use waygate::peers::worldserver::{
    FakeCharacter, FakeTiming, FakeWorldConfig, FakeWorldserver, Presence,
};
use waygate::runtime::{Entropy, Seams, StaticCluster};
use waygate::session::{AccountId, AccountRecord, CharacterGuid, CharacterRecord, SessionConfig};
use waygate::wire::packets::Position;
use waygate::wire::{Opcode, SessionKey};

/// Every wait in this file is bounded by this.
const WAIT: Duration = Duration::from_secs(20);

const ALICE: u64 = 1;

fn key(i: u8) -> SessionKey {
    SessionKey([i; 40])
}

/// A gateway over two fake worldservers that both serve map 0 ("ws-a" owns it, "ws-b"
/// serves every map), with Alice (account A) and a banned account B.
struct Cluster {
    gateway: SocketAddr,
    gw: Arc<Gateway>,
    worlds: Vec<(WorldserverId, FakeWorldserver)>,
    _stop: tokio::sync::watch::Sender<bool>,
}

async fn cluster() -> Cluster {
    let alice = FakeCharacter {
        guid: ALICE,
        account: "A".into(),
        name: "Alice".into(),
        map: 0,
        position: Position::default(),
        loads: true,
    };
    let mut worlds = Vec::new();
    let mut infos = Vec::new();
    for (id, maps) in [("ws-a", vec![0]), ("ws-b", vec![])] {
        let fake = FakeWorldserver::new(FakeWorldConfig {
            id: id.into(),
            accounts: vec!["A".into()],
            characters: vec![alice.clone()],
            timing: FakeTiming::default(),
            echo_opcode: None,
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let serving = fake.clone();
        tokio::spawn(async move {
            let _ = serving.serve(listener).await;
        });
        infos.push(WorldserverInfo {
            server: WorldserverRef {
                id: WorldserverId(id.into()),
                address: addr.to_string(),
            },
            maps,
            world_update_p99_ms: None,
            loading_maps: Vec::new(),
            alias: format!("alias {id}"),
            realm_id: None,
            crossrealm: false,
        });
        worlds.push((WorldserverId(id.into()), fake));
    }
    let account = |id: u32, name: &str, k: u8, banned: bool| AccountRecord {
        id: AccountId(id),
        name: name.into(),
        session_key: key(k),
        banned,
        locked: false,
    };
    let cluster = Arc::new(StaticCluster::new(
        vec![account(1, "A", 1, false), account(2, "B", 2, true)],
        vec![CharacterRecord {
            guid: CharacterGuid(ALICE),
            account: AccountId(1),
            name: "Alice".into(),
            race: 1,
            class: 1,
            gender: 0,
            level: 10,
            appearance: [0; 5],
            map: 0,
            zone: 12,
            x: 0.0,
            y: 0.0,
            z: 0.0,
            guild_id: 0,
        }],
        infos,
    ));
    let gw = Gateway::new(
        Seams::embedded(cluster),
        DriverConfig {
            session: SessionConfig::default(),
            max_connections: 100,
            write_timeout_ms: 5_000,
            shutdown_timeout_ms: 1_000,
            cluster: Default::default(),
        },
        Entropy::seeded(11),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gateway = listener.local_addr().expect("addr");
    let (stop, rx) = tokio::sync::watch::channel(false);
    // The fencing lease before anything reads readiness (serve renews it from here on).
    assert!(
        gw.renew_fence().await,
        "the in-memory fencing store takes a heartbeat"
    );
    tokio::spawn(serve(gw.clone(), listener, rx));
    Cluster {
        gateway,
        gw,
        worlds,
        _stop: stop,
    }
}

/// An ops listener over `gw`; the sender stops it.
async fn start_ops(
    gw: &Arc<Gateway>,
    health: &Health,
    errors: &AdapterErrors,
) -> (
    SocketAddr,
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, rx) = tokio::sync::watch::channel(false);
    let ops = Ops {
        gateway: gw.clone(),
        health: health.clone(),
        adapter_errors: errors.clone(),
    };
    let task = tokio::spawn(async move {
        ops::serve(listener, ops, rx).await.expect("ops serves");
    });
    (addr, stop, task)
}

async fn start_admin(gw: &Arc<Gateway>) -> (SocketAddr, tokio::sync::watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, rx) = tokio::sync::watch::channel(false);
    let gw = gw.clone();
    tokio::spawn(async move {
        ops::serve_admin(listener, gw, rx)
            .await
            .expect("admin serves");
    });
    (addr, stop)
}

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

/// Sends `raw` (a whole request) and reads the answer until the server closes. `None` when
/// the server closed without a status line.
async fn exchange(addr: SocketAddr, raw: &[u8]) -> Option<Answer> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may close before reading everything (an oversize request): ignore that.
    let _ = stream.write_all(raw).await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut buf))
        .await
        .expect("the server answers and closes in time");
    if read.is_err() && buf.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(Answer {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    })
}

async fn request(addr: SocketAddr, method: &str, path: &str) -> Answer {
    let raw = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    exchange(addr, raw.as_bytes())
        .await
        .unwrap_or_else(|| panic!("{method} {path}: no HTTP answer"))
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "GET", path).await
}

async fn post(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "POST", path).await
}

/// Polls `path` until `cond` holds on its answer (bounded).
async fn get_until(
    addr: SocketAddr,
    path: &str,
    what: &str,
    cond: impl Fn(&Answer) -> bool,
) -> Answer {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = get(addr, path).await;
        if cond(&answer) {
            return answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last answer: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (bounded) until `cond` holds.
async fn until(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn has_line(page: &str, line: &str) -> bool {
    page.lines().any(|l| l == line)
}

/// Alice logs in and stays in world until a SMSG_MESSAGECHAT is pushed to her.
fn alice_stays() -> BotConfig {
    let mut cfg = BotConfig::new(
        "A",
        key(1),
        ALICE,
        vec![
            BotStep::Authenticate,
            BotStep::CharacterScreen,
            BotStep::EnterWorld,
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_MESSAGECHAT,
                count: 1,
            },
        ],
    );
    cfg.step_timeout_ms = WAIT.as_millis() as u64;
    cfg
}

async fn spawn_bot(
    addr: SocketAddr,
    cfg: BotConfig,
) -> tokio::task::JoinHandle<(BotReport, Result<(), BotError>)> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    tokio::spawn(async move { run_bot(stream, cfg).await })
}

/// The worldserver Alice is in world on, once she is.
async fn alice_on(c: &Cluster) -> (WorldserverId, FakeWorldserver) {
    until("Alice in world", || {
        c.worlds
            .iter()
            .any(|(_, w)| w.presence(ALICE) == Presence::InWorld)
    })
    .await;
    c.worlds
        .iter()
        .find(|(_, w)| w.presence(ALICE) == Presence::InWorld)
        .cloned()
        .expect("found above")
}

#[tokio::test]
async fn healthcheck_is_ok_then_503_while_draining() {
    let c = cluster().await;
    let health = Health::embedded();
    let (addr, _stop, _task) = start_ops(&c.gw, &health, &AdapterErrors::default()).await;

    let ok = get(addr, "/healthcheck").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, r#"{"status":"OK"}"#, "ToCloud9's body");
    assert!(ok.headers.contains("content-type: application/json"));
    let head = request(addr, "HEAD", "/healthcheck").await;
    assert_eq!((head.status, head.body.as_str()), (200, ""));

    health.set_draining(true);
    let draining = get(addr, "/healthcheck").await;
    assert_eq!(draining.status, 503);
    assert_eq!(draining.body, r#"{"status":"DRAINING"}"#);
    assert_eq!(
        get(addr, "/livez").await.status,
        200,
        "alive while draining"
    );
    assert_eq!(get(addr, "/readyz").await.status, 503);

    health.set_draining(false);
    assert_eq!(get(addr, "/healthcheck").await.status, 200);
}

#[tokio::test]
async fn readyz_waits_for_registration_and_the_auth_db() {
    let c = cluster().await;
    let health = Health::cluster();
    let (addr, _stop, _task) = start_ops(&c.gw, &health, &AdapterErrors::default()).await;

    let r = get(addr, "/readyz").await;
    assert_eq!(r.status, 503);
    assert_eq!(
        r.body,
        r#"{"ready":false,"registered":false,"accounts":false,"fencing":true,"draining":false}"#
    );
    assert_eq!(
        get(addr, "/healthcheck").await.status,
        200,
        "healthy (the registry must reach it to register) though not ready"
    );
    health.mark_registered();
    assert_eq!(
        get(addr, "/readyz").await.status,
        503,
        "the auth DB has not answered"
    );
    health.mark_accounts_ready();
    let r = get(addr, "/readyz").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        r#"{"ready":true,"registered":true,"accounts":true,"fencing":true,"draining":false}"#
    );
    health.mark_unregistered();
    assert_eq!(get(addr, "/readyz").await.status, 503);
    health.mark_registered();
    health.mark_accounts_unready();
    assert_eq!(get(addr, "/readyz").await.status, 503);
    health.mark_accounts_ready();
    health.set_draining(true);
    assert_eq!(get(addr, "/readyz").await.status, 503);
    assert!(Health::embedded().readiness().ready());
}

#[tokio::test]
async fn metrics_count_the_connected_bot_and_the_waygate_families() {
    let c = cluster().await;
    let errors = AdapterErrors::default();
    let (addr, _stop, _task) = start_ops(&c.gw, &Health::embedded(), &errors).await;

    let idle = get(addr, "/metrics").await;
    assert_eq!(idle.status, 200);
    assert!(
        idle.headers
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        idle.headers
    );
    assert!(
        has_line(&idle.body, "# TYPE active_connections gauge"),
        "{}",
        idle.body
    );
    assert!(
        has_line(&idle.body, "active_connections 0"),
        "{}",
        idle.body
    );

    // A banned account is refused: counted by code.
    let banned = BotConfig::new("B", key(2), 9, vec![BotStep::Authenticate]);
    let (_, refused) = spawn_bot(c.gateway, banned).await.await.expect("bot task");
    assert!(
        matches!(refused, Err(BotError::AuthRefused(_))),
        "{refused:?}"
    );

    let bot = spawn_bot(c.gateway, alice_stays()).await;
    let (_, world) = alice_on(&c).await;
    errors.count(AdapterService::AuthDb);
    let page = get_until(addr, "/metrics", "one active connection", |a| {
        has_line(&a.body, "active_connections 1") && has_line(&a.body, "waygate_logins_total 1")
    })
    .await
    .body;
    for line in [
        "waygate_sessions_total 2",
        "waygate_placements_total{health=\"admitting\"} 1",
        "waygate_placements_total{health=\"degraded\"} 0",
        "waygate_auth_refusals_total{code=\"AUTH_BANNED\"} 1",
        "waygate_adapter_errors_total{service=\"auth_db\"} 1",
        "waygate_adapter_errors_total{service=\"servers_registry\"} 0",
        "waygate_login_seconds_count 1",
        "waygate_handoffs_total 0",
        "waygate_recoveries_total 0",
        "waygate_backoff_wait_seconds_count 0",
        "waygate_redirects_requested_total{reason=\"draining\"} 0",
        "waygate_sessions_closed_total{culprit=\"client\"} 1",
    ] {
        assert!(has_line(&page, line), "missing {line:?} in\n{page}");
    }
    for family in [
        "# TYPE waygate_handoff_seconds histogram",
        "# TYPE waygate_recovery_seconds histogram",
        "# TYPE waygate_world_losses_total counter",
        "# TYPE waygate_health_changes_total counter",
    ] {
        assert!(has_line(&page, family), "missing {family:?}");
    }

    assert!(!page.contains("# EOF"), "Prometheus text by default");
    let raw = "GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: application/openmetrics-text; version=1.0.0\r\nConnection: close\r\n\r\n";
    let open = exchange(addr, raw.as_bytes()).await.expect("answer");
    assert!(
        open.headers.contains("application/openmetrics-text"),
        "{}",
        open.headers
    );
    assert!(open.body.ends_with("# EOF\n"));

    // Alice leaves: the gauge follows.
    assert!(world.push(ALICE, Opcode::SMSG_MESSAGECHAT, Bytes::from_static(&[0; 8])));
    let (_, done) = tokio::time::timeout(WAIT, bot)
        .await
        .expect("bot ends")
        .expect("bot task");
    done.expect("Alice's script completes");
    get_until(addr, "/metrics", "no active connection", |a| {
        has_line(&a.body, "active_connections 0")
    })
    .await;
}

#[tokio::test]
async fn admin_drains_the_worldserver_a_bot_plays_on() {
    let c = cluster().await;
    let (admin, _stop) = start_admin(&c.gw).await;

    let list = get(admin, "/worldservers").await;
    assert_eq!(list.status, 200);
    assert!(
        list.body
            .contains(r#"{"id":"ws-a","alias":"alias ws-a","health":"Admitting","players":0}"#),
        "{}",
        list.body
    );

    let bot = spawn_bot(c.gateway, alice_stays()).await;
    let (from, _) = alice_on(&c).await;
    let (_, to_world) = c
        .worlds
        .iter()
        .find(|(id, _)| *id != from)
        .cloned()
        .expect("two worldservers");

    let drained = post(admin, &format!("/drain?worldserver={}", from.0)).await;
    assert_eq!(drained.status, 200, "{}", drained.body);
    assert_eq!(
        drained.body,
        format!(
            r#"{{"worldserver":"{}","known":true,"draining":true,"health":"Draining"}}"#,
            from.0
        )
    );
    assert_eq!(
        c.gw.view().get(&from).map(|s| s.health),
        Some(WorldHealth::Draining)
    );
    until("Alice moved off the drained worldserver", || {
        to_world.presence(ALICE) == Presence::InWorld
    })
    .await;

    // A layer switch back to the drained one is refused; to an unknown one too.
    let refused = post(admin, &format!("/layer-switch?guid={ALICE}&to={}", from.0)).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let unknown = post(admin, &format!("/layer-switch?guid={ALICE}&to=ws-zz")).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert!(unknown.body.contains("ws-zz"));
    // A worldserver the view does not list (yet) is drained when it appears.
    let pre = post(admin, "/drain?worldserver=ws-zz").await;
    assert_eq!(pre.status, 200);
    assert_eq!(
        pre.body,
        r#"{"worldserver":"ws-zz","known":false,"draining":true,"health":"unknown"}"#
    );

    let undrained = post(admin, &format!("/undrain?worldserver={}", from.0)).await;
    assert_eq!(undrained.status, 200);
    assert!(
        undrained.body.contains(r#""draining":false"#),
        "{}",
        undrained.body
    );
    assert_ne!(
        c.gw.view().get(&from).map(|s| s.health),
        Some(WorldHealth::Draining)
    );
    let accepted = post(admin, &format!("/layer-switch?guid={ALICE}&to={}", from.0)).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    assert_eq!(
        accepted.body,
        format!(r#"{{"guid":{ALICE},"to":"{}","accepted":true}}"#, from.0)
    );
    bot.abort();
}

#[tokio::test]
async fn bad_requests_get_4xx_and_never_stop_the_listeners() {
    let c = cluster().await;
    let (ops_addr, _stop, _task) =
        start_ops(&c.gw, &Health::embedded(), &AdapterErrors::default()).await;
    let (admin, _astop) = start_admin(&c.gw).await;

    let status = |a: Option<Answer>| a.map(|a| a.status);
    let many_headers: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(SocketAddr, Vec<u8>, &str, u16)> = vec![
        (ops_addr, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(), "TLS hello", 400),
        (ops_addr, b"GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), "unknown path", 404),
        (ops_addr, b"DELETE /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), "wrong method", 405),
        (ops_addr, b"POST /drain?worldserver=ws-a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), "admin route on the ops port", 404),
        (ops_addr, format!("GET /metrics HTTP/1.1\r\nHost: t\r\n{many_headers}Connection: close\r\n\r\n").into_bytes(), "too many headers", 431),
        (ops_addr, format!("GET /{} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "a".repeat(10_000)).into_bytes(), "huge request line", 431),
        (ops_addr, format!("POST /healthcheck HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n{}", "x".repeat(5_000)).into_bytes(), "body too large", 413),
        (admin, b"GET /drain?worldserver=ws-a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), "admin GET of a POST", 405),
        (admin, b"POST /drain HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), "missing parameter", 400),
        (admin, b"POST /drain?worldserver=%zz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), "bad escape", 400),
        (admin, b"POST /drain?worldserver=a&worldserver=b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), "repeated parameter", 400),
        (admin, format!("POST /drain?worldserver={} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "w".repeat(200)).into_bytes(), "id too long", 400),
        (admin, b"POST /layer-switch?guid=abc&to=ws-a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), "guid not a number", 400),
        (admin, b"POST /layer-switch?guid=0&to=ws-a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), "guid zero", 400),
        (admin, b"POST /layer-switch?guid=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), "missing to", 400),
        (admin, format!("POST /undrain?worldserver=ws-a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n800\r\n{}\r\n0\r\n\r\n", "x".repeat(2048)).into_bytes(), "chunked body too large", 413),
        (admin, b"POST /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_vec(), "unknown admin path", 404),
    ];
    for (addr, raw, what, want) in cases {
        let got = status(exchange(addr, &raw).await);
        assert_eq!(got, Some(want), "{what}");
    }
    assert_eq!(
        get(ops_addr, "/healthcheck").await.status,
        200,
        "still serving"
    );
    assert_eq!(
        get(admin, "/worldservers").await.status,
        200,
        "still serving"
    );
    assert_ne!(
        c.gw.view()
            .get(&WorldserverId("ws-a".into()))
            .map(|s| s.health),
        Some(WorldHealth::Draining),
        "no refused request drained anything"
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let c = cluster().await;
    let (addr, _stop, _task) =
        start_ops(&c.gw, &Health::embedded(), &AdapterErrors::default()).await;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(b"GET /healthcheck HTTP/1.1\r\nHost: t\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let bound = Duration::from_millis(OPS_HEADER_READ_TIMEOUT_MS) + WAIT;
    let read = tokio::time::timeout(bound, stream.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the server closes a connection stuck in its headers"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(
        !text.contains("200 OK"),
        "no answer to half a request: {text}"
    );
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_accept() {
    let c = cluster().await;
    let (addr, _stop, _task) =
        start_ops(&c.gw, &Health::embedded(), &AdapterErrors::default()).await;
    // Every permit held by an idle connection (the header timeout would free them later).
    let mut held = Vec::new();
    for _ in 0..OPS_CONNECTIONS_MAX {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /livez HTTP/1.1\r\n")
            .await
            .expect("write");
        held.push(s);
    }
    // The server accepts in order: once one over the cap is closed unanswered, all held
    // connections were accepted before it.
    let over = exchange(
        addr,
        b"GET /livez HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        over.is_none(),
        "over the cap: closed without an answer, got {over:?}"
    );
    drop(held);
    get_until(
        addr,
        "/livez",
        "serving again once the idle ones left",
        |a| a.status == 200,
    )
    .await;
}

#[tokio::test]
async fn the_listeners_stop_on_shutdown() {
    let c = cluster().await;
    let (addr, stop, task) = start_ops(&c.gw, &Health::embedded(), &AdapterErrors::default()).await;
    assert_eq!(get(addr, "/livez").await.status, 200);
    stop.send(true).expect("listener alive");
    tokio::time::timeout(WAIT, task)
        .await
        .expect("the ops listener stops in time")
        .expect("no panic");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "nothing listens once stopped"
    );
}

#[tokio::test]
async fn the_admin_listener_refuses_a_non_loopback_address() {
    let c = cluster().await;
    let listener = TcpListener::bind("0.0.0.0:0").await.expect("bind");
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let err = ops::serve_admin(listener, c.gw.clone(), rx)
        .await
        .expect_err("refused");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("loopback"), "{err}");
}

#[test]
fn os_entropy_seeds_differ() {
    let mut a = Entropy::from_os().expect("the OS gives a seed");
    let mut b = Entropy::from_os().expect("the OS gives a seed");
    let (x, y) = ([a.next_u64(), a.next_u64()], [b.next_u64(), b.next_u64()]);
    assert_ne!(x, y, "two OS seeds gave the same stream");
}
