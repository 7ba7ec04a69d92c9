//! `waygate demo`: the gateway, three fake worldservers, the embedded registry and N bots in
//! one process on real loopback sockets. The bots log in, chatter, change maps across
//! worldservers and log out; a progress line runs while they play and a summary table ends
//! the run.

#![allow(clippy::disallowed_methods)] // the demo measures wall time for its report

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
use crate::driver::{DriverConfig, Gateway, MetricsSnapshot, serve};
use crate::peers::bot::{BotConfig, BotReport, BotStep, run_bot};
use crate::peers::worldserver::{FakeCharacter, FakeTiming, FakeWorldConfig, FakeWorldserver};
use crate::runtime::{Entropy, Seams, StaticCluster};
use crate::session::{AccountId, AccountRecord, CharacterGuid, CharacterRecord, SessionConfig};
use crate::wire::SessionKey;
use crate::wire::packets::Position;

/// How long the whole demo may take before it gives up.
const DEMO_DEADLINE_MS: u64 = 120_000;
/// Progress line period.
const PROGRESS_EVERY_MS: u64 = 250;

/// The worldservers: (id, maps). Map 0 Eastern Kingdoms, 1 Kalimdor, the third serves every
/// other map (Outland 530, Northrend 571).
const WORLDS: [(&str, &[u32]); 3] = [("ws-ek", &[0]), ("ws-kal", &[1]), ("ws-rest", &[])];

/// The teleports every bot makes, in order: across all three worldservers and back.
const ROUTE: [(u32, f32, f32, f32); 3] = [
    (1, -618.5, -4251.7, 38.7),
    (571, 5804.1, 624.8, 647.8),
    (0, -8949.9, -132.5, 83.5),
];

/// What the demo reports.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    /// Bots that ran.
    pub bots: usize,
    /// Bots whose whole script succeeded.
    pub bots_ok: usize,
    /// Errors, one line per failed bot.
    pub errors: Vec<String>,
    /// Gateway metrics at the end.
    pub metrics: MetricsSnapshot,
    /// Packets the bots sent and received.
    pub bot_packets: (u64, u64),
    /// Wall time.
    pub elapsed: Duration,
}

impl DemoSummary {
    /// The summary table.
    pub fn table(&self) -> String {
        let m = &self.metrics;
        let ms = |v: Option<u64>| v.map_or("-".to_owned(), |v| format!("{v} ms"));
        let mut t = String::new();
        let _ = writeln!(t, "waygate demo summary");
        let _ = writeln!(
            t,
            "  bots                  {:>8} ({} clean)",
            self.bots, self.bots_ok
        );
        let _ = writeln!(t, "  logins                {:>8}", m.logins);
        let _ = writeln!(
            t,
            "  handoffs              {:>8} ({} abandoned)",
            m.handoffs, m.handoffs_abandoned
        );
        let _ = writeln!(
            t,
            "  worldserver losses    {:>8} ({} recovered)",
            m.world_losses, m.recoveries
        );
        let _ = writeln!(t, "  packets client->world {:>8}", m.world_packets_out);
        let _ = writeln!(t, "  packets world->client {:>8}", m.client_packets_out);
        let _ = writeln!(
            t,
            "  login time   p50/p99  {:>8} / {}",
            ms(m.login_p50_ms),
            ms(m.login_p99_ms)
        );
        let _ = writeln!(
            t,
            "  handoff time p50/p99  {:>8} / {}",
            ms(m.handoff_p50_ms),
            ms(m.handoff_p99_ms)
        );
        let _ = writeln!(t, "  login failures        {:>8}", m.login_failures);
        let _ = writeln!(t, "  errors                {:>8}", self.errors.len());
        let _ = writeln!(
            t,
            "  wall time             {:>8.1} s",
            self.elapsed.as_secs_f64()
        );
        for e in &self.errors {
            let _ = writeln!(t, "  ! {e}");
        }
        t
    }
}

fn account(i: usize) -> String {
    format!("DEMO{i}")
}

fn key(i: usize) -> SessionKey {
    let mut k = [0u8; 40];
    for (j, b) in k.iter_mut().enumerate() {
        *b = (i as u8)
            .wrapping_mul(17)
            .wrapping_add(j as u8)
            .wrapping_add(1);
    }
    SessionKey(k)
}

fn script() -> Vec<BotStep> {
    let mut s = vec![
        BotStep::Authenticate,
        BotStep::CharacterScreen,
        BotStep::EnterWorld,
        BotStep::Chatter {
            packets: 20,
            interval_ms: 25,
            body_bytes: 32,
        },
    ];
    for (map, x, y, z) in ROUTE {
        s.push(BotStep::ChangeMap { map, x, y, z });
        s.push(BotStep::Chatter {
            packets: 20,
            interval_ms: 25,
            body_bytes: 32,
        });
    }
    s.push(BotStep::Logout);
    s
}

/// Runs the demo with `bots` bots; prints progress to stderr while it runs.
pub async fn run(bots: usize) -> std::io::Result<DemoSummary> {
    let started = std::time::Instant::now();
    let characters: Vec<FakeCharacter> = (0..bots)
        .map(|i| FakeCharacter {
            guid: 100 + i as u64,
            account: account(i),
            name: format!("Demo{i}"),
            map: 0,
            position: Position {
                x: -8949.9,
                y: -132.5,
                z: 83.5,
                orientation: 0.0,
            },
            loads: true,
        })
        .collect();

    let mut infos = Vec::new();
    for (id, maps) in WORLDS {
        let fake = FakeWorldserver::new(FakeWorldConfig {
            id: id.into(),
            accounts: (0..bots).map(account).collect(),
            characters: characters.clone(),
            timing: FakeTiming::default(),
            echo_opcode: None,
        });
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = fake.serve(listener).await;
        });
        infos.push(WorldserverInfo {
            server: WorldserverRef {
                id: WorldserverId(id.into()),
                address: addr.to_string(),
            },
            maps: maps.to_vec(),
            world_update_p99_ms: None,
            loading_maps: Vec::new(),
        });
    }

    let cluster = Arc::new(StaticCluster::new(
        (0..bots)
            .map(|i| AccountRecord {
                id: AccountId(i as u32 + 1),
                name: account(i),
                session_key: key(i),
                banned: false,
                locked: false,
            })
            .collect(),
        (0..bots)
            .map(|i| CharacterRecord {
                guid: CharacterGuid(100 + i as u64),
                account: AccountId(i as u32 + 1),
                name: format!("Demo{i}"),
                race: 1,
                class: 1,
                gender: 0,
                level: 10,
                appearance: [0; 5],
                map: 0,
                zone: 12,
                x: -8949.9,
                y: -132.5,
                z: 83.5,
                guild_id: 0,
            })
            .collect(),
        infos,
    ));
    let seams = Seams::embedded(cluster);
    let gateway = Gateway::new(
        seams,
        DriverConfig {
            session: SessionConfig::default(),
            max_connections: bots + 16,
            write_timeout_ms: 10_000,
            shutdown_timeout_ms: 5_000,
            cluster: Default::default(),
        },
        Entropy::from_os()?,
    );
    let metrics = gateway.metrics().clone();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let gateway_addr: SocketAddr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(serve(gateway, listener, stop_rx));

    let done = Arc::new(AtomicU32::new(0));
    let mut joins = Vec::new();
    for i in 0..bots {
        let done = done.clone();
        joins.push(tokio::spawn(async move {
            let config = BotConfig {
                account: account(i),
                session_key: key(i),
                realm_id: 1,
                seed: i as u64,
                character: 100 + i as u64,
                script: script(),
                step_timeout_ms: 20_000,
                max_body_bytes: 8 * 1024 * 1024,
                movement_seq_start: 0,
            };
            let r = match tokio::net::TcpStream::connect(gateway_addr).await {
                Ok(stream) => {
                    let (report, r) = run_bot(stream, config).await;
                    (report, r.map_err(|e| format!("bot {i}: {e}")))
                }
                Err(e) => (BotReport::default(), Err(format!("bot {i}: connect: {e}"))),
            };
            done.fetch_add(1, Ordering::Relaxed);
            r
        }));
    }

    // Progress while the bots play: one rewritten line on a terminal, a line a second in logs.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(DEMO_DEADLINE_MS);
    let mut stderr = std::io::stderr();
    let tty = std::io::IsTerminal::is_terminal(&stderr);
    let mut ticks = 0u64;
    while (done.load(Ordering::Relaxed) as usize) < bots && tokio::time::Instant::now() < deadline {
        let m = metrics.snapshot();
        let line = format!(
            "[demo {:5.1}s] bots done {}/{}  logins {}  handoffs {}  packets c->w {}  w->c {}  errors {}",
            started.elapsed().as_secs_f64(),
            done.load(Ordering::Relaxed),
            bots,
            m.logins,
            m.handoffs,
            m.world_packets_out,
            m.client_packets_out,
            m.login_failures + m.closed[1] + m.closed[2],
        );
        if tty {
            let _ = write!(stderr, "\r{line}   ");
            let _ = stderr.flush();
        } else if ticks.is_multiple_of(1_000 / PROGRESS_EVERY_MS) {
            let _ = writeln!(stderr, "{line}");
        }
        ticks += 1;
        tokio::time::sleep(Duration::from_millis(PROGRESS_EVERY_MS)).await;
    }
    if tty {
        let _ = writeln!(stderr);
    }

    let mut errors = Vec::new();
    let mut bots_ok = 0;
    let mut sent = 0;
    let mut received = 0;
    for j in joins {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, j).await {
            Ok(Ok((report, r))) => {
                sent += report.packets_sent;
                received += report.packets_received;
                match r {
                    Ok(()) => bots_ok += 1,
                    Err(e) => errors.push(e),
                }
            }
            Ok(Err(e)) => errors.push(format!("bot task failed: {e}")),
            Err(_) => errors.push("bot did not finish before the demo deadline".into()),
        }
    }
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    Ok(DemoSummary {
        bots,
        bots_ok,
        errors,
        metrics: metrics.snapshot(),
        bot_packets: (sent, received),
        elapsed: started.elapsed(),
    })
}
