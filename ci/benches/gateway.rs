//! Gateway benchmark on loopback (run by `ci/bench`):
//!
//! 1. throughput and latency: bots -> gateway -> fake worldservers that echo, against a plain
//!    TCP relay carrying the same byte stream (same clients, same packets, same window);
//! 2. memory: a gateway in a child process holding 5,000 idle authenticated sessions; its RSS
//!    before and after, per session.
//!
//! Prints one line:
//! `bench: gateway_pps=<n> relay_pps=<n> ratio=<x> p50_us=<n> p99_us=<n> rss_kib_per_session=<n>`
//!
//! Knobs (environment): BENCH_CLIENTS (default 64), BENCH_PACKETS per client (default 5,000),
//! BENCH_WINDOW in flight per client (default 32), BENCH_IDLE_SESSIONS (default 5,000).

#![allow(clippy::disallowed_methods)] // a benchmark measures wall time and runs a child process

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use waygate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
use waygate::driver::{DriverConfig, Gateway, serve};
use waygate::peers::bot::{BotConfig, BotStep, run_bot};
use waygate::peers::worldserver::{FakeCharacter, FakeTiming, FakeWorldConfig, FakeWorldserver};
use waygate::runtime::{Entropy, Seams, StaticCluster};
use waygate::session::{AccountId, AccountRecord, CharacterGuid, CharacterRecord, SessionConfig};
use waygate::wire::auth::{
    AddonList, AuthChallenge, AuthSession, AuthSessionFields, compute_digest,
};
use waygate::wire::packets::Position;
use waygate::wire::{ClientHeaderEncoder, Decoded, Opcode, ServerHeaderDecoder, SessionKey};

/// Env var that turns this binary into the memory-measurement gateway.
const ROLE_ENV: &str = "WAYGATE_BENCH_ROLE";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn account(i: usize) -> String {
    format!("B{i}")
}

fn key(i: usize) -> SessionKey {
    let mut k = [0u8; 40];
    for (j, b) in k.iter_mut().enumerate() {
        *b = (i as u8) ^ (j as u8).wrapping_mul(7);
    }
    SessionKey(k)
}

fn cluster(n: usize, worlds: Vec<WorldserverInfo>) -> Arc<StaticCluster> {
    Arc::new(StaticCluster::new(
        (0..n)
            .map(|i| AccountRecord {
                id: AccountId(i as u32 + 1),
                name: account(i),
                session_key: key(i),
                banned: false,
                locked: false,
            })
            .collect(),
        (0..n)
            .map(|i| CharacterRecord {
                guid: CharacterGuid(i as u64 + 1),
                account: AccountId(i as u32 + 1),
                name: format!("Bench{i}"),
                race: 1,
                class: 1,
                gender: 0,
                level: 1,
                appearance: [0; 5],
                map: 0,
                zone: 12,
                x: 0.0,
                y: 0.0,
                z: 0.0,
                guild_id: 0,
            })
            .collect(),
        worlds,
    ))
}

fn gateway(cluster: Arc<StaticCluster>, max_connections: usize) -> Arc<Gateway> {
    Gateway::new(
        Seams::embedded(cluster),
        DriverConfig {
            session: SessionConfig::default(),
            max_connections,
            write_timeout_ms: 30_000,
            shutdown_timeout_ms: 1_000,
            cluster: Default::default(),
        },
        Entropy::seeded(42),
    )
}

/// Throughput through the gateway: (packets per second, sorted RTTs in µs).
async fn gateway_run(clients: usize, packets: u32, window: u32, body: usize) -> (f64, Vec<u64>) {
    let fake = FakeWorldserver::new(FakeWorldConfig {
        id: "echo".into(),
        accounts: (0..clients).map(account).collect(),
        characters: (0..clients)
            .map(|i| FakeCharacter {
                guid: i as u64 + 1,
                account: account(i),
                name: format!("Bench{i}"),
                map: 0,
                position: Position::default(),
                loads: true,
            })
            .collect(),
        timing: FakeTiming::default(),
        echo_opcode: Some(Opcode::MSG_MOVE_HEARTBEAT),
    });
    let ws_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let ws_addr = ws_listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = fake.serve(ws_listener).await;
    });
    let worlds = vec![WorldserverInfo {
        server: WorldserverRef {
            id: WorldserverId("echo".into()),
            address: ws_addr.to_string(),
        },
        maps: vec![],
        world_update_p99_ms: None,
        loading_maps: Vec::new(),
        alias: String::new(),
        realm_id: None,
        crossrealm: false,
    }];
    let gw = gateway(cluster(clients, worlds), clients + 16);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(serve(gw, listener, rx));

    let mut joins = Vec::new();
    for i in 0..clients {
        joins.push(tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.expect("connect");
            let cfg = BotConfig {
                account: account(i),
                session_key: key(i),
                realm_id: 1,
                seed: i as u64,
                character: i as u64 + 1,
                script: vec![
                    BotStep::Authenticate,
                    BotStep::EnterWorld,
                    BotStep::EchoLoad {
                        packets,
                        window,
                        body_bytes: body,
                    },
                ],
                step_timeout_ms: 60_000,
                max_body_bytes: 1 << 20,
                movement_seq_start: 0,
            };
            let (report, r) = run_bot(stream, cfg).await;
            if let Err(e) = r {
                panic!("bench bot {i}: {e}");
            }
            report
        }));
    }
    let mut rtts = Vec::new();
    let mut span: Option<(tokio::time::Instant, tokio::time::Instant)> = None;
    for j in joins {
        let report = j.await.expect("bot task");
        rtts.extend(report.echo_rtt_us);
        if let Some((a, b)) = report.echo_span {
            span = Some(match span {
                None => (a, b),
                Some((x, y)) => (x.min(a), y.max(b)),
            });
        }
    }
    let (a, b) = span.expect("the load ran");
    rtts.sort_unstable();
    let total = clients as u64 * u64::from(packets);
    (total as f64 / (b - a).as_secs_f64(), rtts)
}

/// A plain TCP relay: copies bytes both ways between each client and the upstream.
async fn relay(listener: TcpListener, upstream: SocketAddr) {
    while let Ok((mut client, _)) = listener.accept().await {
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}

/// Echoes every byte back.
async fn echo_server(listener: TcpListener) {
    while let Ok((mut s, _)) = listener.accept().await {
        tokio::spawn(async move {
            let _ = s.set_nodelay(true);
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if s.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// The same packets (6-byte headers, same bodies, same window) through a plain relay.
async fn relay_run(clients: usize, packets: u32, window: u32, body: usize) -> f64 {
    let echo = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let echo_addr = echo.local_addr().expect("addr");
    tokio::spawn(echo_server(echo));
    let front = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let front_addr = front.local_addr().expect("addr");
    tokio::spawn(relay(front, echo_addr));
    let frame = 6 + body.max(8);
    let t0 = Instant::now();
    let mut joins = Vec::new();
    for _ in 0..clients {
        joins.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(front_addr).await.expect("connect");
            let _ = s.set_nodelay(true);
            let mut enc = ClientHeaderEncoder::plain();
            let payload = vec![0u8; body.max(8)];
            let mut out = BytesMut::new();
            let mut inbuf = BytesMut::new();
            let (mut next, mut done) = (0u32, 0u32);
            while done < packets {
                while next < packets && next - done < window.max(1) {
                    enc.encode(Opcode::MSG_MOVE_HEARTBEAT, &payload, &mut out)
                        .expect("fits");
                    next += 1;
                }
                if !out.is_empty() {
                    s.write_all(&out).await.expect("write");
                    out.clear();
                }
                inbuf.reserve(16 * 1024);
                let n = s.read_buf(&mut inbuf).await.expect("read");
                assert!(n > 0, "relay closed");
                while inbuf.len() >= frame {
                    inbuf.advance(frame);
                    done += 1;
                }
            }
        }));
    }
    for j in joins {
        j.await.expect("relay client");
    }
    (clients as u64 * u64::from(packets)) as f64 / t0.elapsed().as_secs_f64()
}

/// The child process: a gateway with `n` accounts; prints its port, then serves.
fn memory_gateway() {
    let n = env_num("BENCH_IDLE_SESSIONS", 5_000) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let gw = gateway(cluster(n, vec![]), n + 16);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("port {}", listener.local_addr().expect("addr").port());
        let (_stop, rx) = tokio::sync::watch::channel(false);
        let _ = serve(gw, listener, rx).await;
    });
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Opens `n` sessions and authenticates each; they then sit at the character screen.
async fn idle_sessions(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut open = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let mut dec = ServerHeaderDecoder::for_gateway(1 << 16);
        let challenge = loop {
            if let Decoded::Packet(p) = dec.decode().expect("decodes") {
                break p;
            }
            let n = s.read_buf(dec.buffer_mut()).await.expect("read");
            assert!(n > 0, "gateway closed a bench session");
        };
        let c = AuthChallenge::decode(&challenge.body).expect("challenge");
        let body = AuthSession::encode(&AuthSessionFields {
            account: account(i),
            client_seed: i as u32,
            realm_id: 1,
            digest: compute_digest(&account(i), i as u32, c.server_seed, &key(i)),
            addon_block: AddonList::default().encode_block(),
        });
        let mut out = BytesMut::new();
        ClientHeaderEncoder::plain()
            .encode(Opcode::CMSG_AUTH_SESSION, &body, &mut out)
            .expect("fits");
        s.write_all(&out).await.expect("write");
        // The AUTH_RESPONSE (encrypted; not decoded here) proves the session authenticated.
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "gateway refused a bench session");
        open.push(s);
    }
    open
}

fn main() {
    if std::env::var(ROLE_ENV).as_deref() == Ok("gateway") {
        return memory_gateway();
    }
    let clients = env_num("BENCH_CLIENTS", 64) as usize;
    let packets = env_num("BENCH_PACKETS", 5_000) as u32;
    let window = env_num("BENCH_WINDOW", 32) as u32;
    let idle = env_num("BENCH_IDLE_SESSIONS", 5_000) as usize;
    let body = 32;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (gateway_pps, rtts) = rt.block_on(gateway_run(clients, packets, window, body));
    let relay_pps = rt.block_on(relay_run(clients, packets, window, body));
    let pct = |p: usize| {
        rtts.get((rtts.len().saturating_sub(1)) * p / 100)
            .copied()
            .unwrap_or(0)
    };

    // Memory: a gateway in a child process, idle sessions from here.
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .env(ROLE_ENV, "gateway")
        .env("BENCH_IDLE_SESSIONS", idle.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("child gateway");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("port line");
    let port: u16 = line
        .trim()
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .expect("port");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let before = rss_kib(child.id());
    let sessions = rt.block_on(idle_sessions(addr, idle));
    let after = rss_kib(child.id());
    drop(sessions);
    let _ = child.kill();
    let _ = child.wait();
    let per_session = after.saturating_sub(before) as f64 / idle.max(1) as f64;

    println!(
        "bench: gateway_pps={:.0} relay_pps={:.0} ratio={:.2} p50_us={} p99_us={} rss_kib_per_session={:.1}",
        gateway_pps,
        relay_pps,
        gateway_pps / relay_pps,
        pct(50),
        pct(99),
        per_session
    );
}
