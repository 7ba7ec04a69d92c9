//! `waygate demo`: the gateway, three fake worldservers, a registry over them and N bots in
//! one process on real loopback sockets. The bots log in, chatter, change maps across
//! worldservers and log out while the cluster misbehaves on a fixed timeline: a worldserver's
//! world loop slows down (it degrades, new players go elsewhere) and recovers, another
//! crashes (its players are recovered elsewhere) and comes back, a third is drained (its
//! players are moved away). Every character is in one guild and a group of five: the bots
//! whisper each other, talk in guild chat and see party frames of their group, through
//! in-process fakes of ToCloud9's chatserver, guildserver and groupserver
//! (`peers::services`), wherever they play; the worldservers change their health every
//! second. A progress line runs while they play and a
//! summary table ends the run.

#![allow(clippy::disallowed_methods)] // the demo measures wall time for its report

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::cluster::view::Health;
use crate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
use crate::driver::{ClusterConfig, DriverConfig, Gateway, MetricsSnapshot, serve};
use crate::peers::bot::{BotConfig, BotReport, BotStep, run_bot};
use crate::peers::registry::FakeRegistry;
use crate::peers::services::{FakeServices, GatewaySlot};
use crate::peers::worldserver::{FakeCharacter, FakeTiming, FakeWorldConfig, FakeWorldserver};
use crate::present::Services;
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

/// What happens to the cluster while the bots play, in milliseconds from the start.
const TIMELINE: [(u64, Fault); 6] = [
    (1_500, Fault::Degrade(1)),
    (8_000, Fault::Restore(1)),
    (9_500, Fault::Crash(2)),
    (12_500, Fault::Restart(2)),
    (16_000, Fault::Drain(0)),
    (20_000, Fault::Undrain(0)),
];
/// The degraded worldserver's world-update time (the registry reports it; over the
/// gateway's 500 ms bound it is a slow probe).
const SLOW_WORLD_UPDATE_MS: u64 = 800;
/// The worldservers' linger, shortened so a crash recovery moves players within seconds.
const DEMO_LINGER_MS: u64 = 6_000;
/// Bots start this far apart, at most, in all.
const START_SPREAD_MS: u64 = 3_000;

/// A fault of the demo's timeline, on the worldserver at that index of [`WORLDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Degrade(usize),
    Restore(usize),
    Crash(usize),
    Restart(usize),
    Drain(usize),
    Undrain(usize),
}

impl Fault {
    fn label(self) -> String {
        let (what, at) = match self {
            Fault::Degrade(i) => ("degrade", i),
            Fault::Restore(i) => ("restore", i),
            Fault::Crash(i) => ("crash", i),
            Fault::Restart(i) => ("restart", i),
            Fault::Drain(i) => ("drain", i),
            Fault::Undrain(i) => ("undrain", i),
        };
        format!("{what} {}", WORLDS[at].0)
    }
}

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
    /// Faults, with when they happened (ms from the start).
    pub faults: Vec<(u64, String)>,
    /// Health changes seen (ms from the start, worldserver, before, after).
    pub health_changes: Vec<(u64, String, Health, Health)>,
    /// Each worldserver's health at the end.
    pub final_health: Vec<(String, Option<Health>)>,
    /// What the bots' whispers and guild lines came to.
    pub chat: ChatCounts,
}

/// The bots' chat, as their clients saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatCounts {
    /// Whispers sent.
    pub whispers_sent: usize,
    /// Whispers received.
    pub whispers_received: usize,
    /// Whispers their senders were told could not be delivered.
    pub whispers_undeliverable: u32,
    /// Guild lines said.
    pub guild_said: usize,
    /// Other players' guild lines received.
    pub guild_received: usize,
    /// Party frames of group members received.
    pub party_frames: usize,
}

impl ChatCounts {
    fn add(&mut self, r: &BotReport) {
        self.whispers_sent += r.whispers_sent.len();
        self.whispers_received += r.whispers_received.len();
        self.whispers_undeliverable += r.whispers_undeliverable;
        self.guild_said += r.guild_sent.len();
        self.guild_received += r.guild_received.len();
        self.party_frames += r.party_frames.len();
    }

    /// The summary's chat lines.
    fn write_lines(&self, t: &mut String) {
        let c = self;
        let _ = writeln!(
            t,
            "  whispers              {:>8} sent, {} received, {} undeliverable",
            c.whispers_sent, c.whispers_received, c.whispers_undeliverable
        );
        let _ = writeln!(
            t,
            "  guild chat            {:>8} said, {} received by other members",
            c.guild_said, c.guild_received
        );
        let _ = writeln!(
            t,
            "  party frames          {:>8} received (groups of {DEMO_GROUP_SIZE}, health from object updates)",
            c.party_frames
        );
    }
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
        let _ = writeln!(
            t,
            "  redirects asked       {:>8} (worldserver {}, draining {}, layer switch {}; {} forced)",
            m.redirects_requested.iter().sum::<u64>(),
            m.redirects_requested[0],
            m.redirects_requested[1],
            m.redirects_requested[2],
            m.releases_forced
        );
        let _ = writeln!(
            t,
            "  placements            {:>8} (on Admitting {}, Degraded {}, Draining {}, Down {})",
            m.placements.iter().sum::<u64>(),
            m.placements[0],
            m.placements[1],
            m.placements[2],
            m.placements[3]
        );
        let _ = writeln!(
            t,
            "  placement waits       {:>8} ({} refused)",
            m.placement_waits, m.placement_refusals
        );
        let _ = writeln!(
            t,
            "  backoff waits         {:>8} (p50 {}, p99 {})",
            m.backoff_waits,
            ms(m.backoff_p50_ms),
            ms(m.backoff_p99_ms)
        );
        let _ = writeln!(
            t,
            "  recovery time p50/p99 {:>8} / {}",
            ms(m.recovery_p50_ms),
            ms(m.recovery_p99_ms)
        );
        let _ = writeln!(t, "  health changes        {:>8}", m.health_changes);
        self.chat.write_lines(&mut t);
        let _ = writeln!(t, "  errors                {:>8}", self.errors.len());
        let _ = writeln!(
            t,
            "  wall time             {:>8.1} s",
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(t, "faults");
        for (at, what) in &self.faults {
            let _ = writeln!(t, "  {:>6.1} s  {what}", *at as f64 / 1000.0);
        }
        let _ = writeln!(t, "worldserver health as the gateway saw it");
        for (at, ws, before, after) in &self.health_changes {
            let _ = writeln!(
                t,
                "  {:>6.1} s  {ws:<8} {before:?} -> {after:?}",
                *at as f64 / 1000.0
            );
        }
        for (ws, health) in &self.final_health {
            let _ = writeln!(t, "  at the end {ws:<8} {health:?}");
        }
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

/// Chatter between two teleports: four seconds of movement.
const CHATTER: BotStep = BotStep::Chatter {
    packets: 40,
    interval_ms: 100,
    body_bytes: 32,
};

/// The guild every demo character is in.
const DEMO_GUILD: u32 = 1;
/// Players per group: bots 0-4 are one group, 5-9 the next, ...
const DEMO_GROUP_SIZE: usize = 5;
/// The worldservers change their players' health this often (party frames follow it).
const DEMO_HEALTH_TICK_MS: u64 = 1_000;

fn character_name(i: usize) -> String {
    format!("Demo{i}")
}

/// Chatter shortened by a one-second chat step, so the route keeps its timing against the
/// fault timeline.
const CHATTER_BESIDE_CHAT: BotStep = BotStep::Chatter {
    packets: 30,
    interval_ms: 100,
    body_bytes: 32,
};

/// Bot `i` of `bots`: in world, a few whispers to the next bot, then the route with a few
/// guild lines after the first teleport.
fn script(i: usize, bots: usize) -> Vec<BotStep> {
    let mut s = vec![
        BotStep::Authenticate,
        BotStep::CharacterScreen,
        BotStep::EnterWorld,
        CHATTER_BESIDE_CHAT,
        BotStep::Whisper {
            to: character_name((i + 1) % bots.max(1)),
            count: 5,
            interval_ms: 200,
        },
    ];
    for (k, (map, x, y, z)) in ROUTE.into_iter().enumerate() {
        s.push(BotStep::ChangeMap { map, x, y, z });
        if k == 0 {
            s.push(BotStep::GuildChat {
                count: 3,
                interval_ms: 330,
            });
            s.push(CHATTER_BESIDE_CHAT);
        } else {
            s.push(CHATTER);
        }
    }
    s.push(BotStep::Logout);
    s
}

/// Runs the demo with `bots` bots; prints progress to stderr while it runs.
pub async fn run(bots: usize) -> std::io::Result<DemoSummary> {
    let started = std::time::Instant::now();
    let (infos, fakes, addrs) = start_worldservers(bots).await?;

    let (gateway, slot) = build_gateway(bots, infos, &fakes)?;
    let metrics = gateway.metrics().clone();
    let gw = gateway.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let gateway_addr: SocketAddr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(serve(gateway, listener, stop_rx));

    let done = Arc::new(AtomicU32::new(0));
    let joins = spawn_bots(bots, gateway_addr, &done);

    // Progress while the bots play: one rewritten line on a terminal, a line a second in logs.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(DEMO_DEADLINE_MS);
    let mut stderr = std::io::stderr();
    let tty = std::io::IsTerminal::is_terminal(&stderr);
    let mut ticks = 0u64;
    let mut timeline = TIMELINE.iter().peekable();
    let mut faults = Vec::new();
    let mut active = String::from("-");
    let mut health: Vec<Option<Health>> = vec![None; WORLDS.len()];
    let mut health_changes = Vec::new();
    while (done.load(Ordering::Relaxed) as usize) < bots && tokio::time::Instant::now() < deadline {
        let now_ms = started.elapsed().as_millis() as u64;
        while let Some((at, fault)) = timeline.next_if(|(at, _)| *at <= now_ms) {
            let _ = at;
            apply(*fault, &gw, &fakes, &addrs);
            faults.push((now_ms, fault.label()));
            active = fault.label();
        }
        for (i, (id, _)) in WORLDS.iter().enumerate() {
            let now = gw
                .view()
                .get(&WorldserverId((*id).into()))
                .map(|s| s.health);
            if let (Some(before), Some(after)) = (health[i], now)
                && before != after
            {
                health_changes.push((now_ms, (*id).to_owned(), before, after));
            }
            health[i] = now;
        }
        let m = metrics.snapshot();
        let line = format!(
            "[demo {:5.1}s] last fault: {active:<15} health {}  bots done {}/{}  logins {}  handoffs {}  recovered {}  drained {}  errors {}",
            started.elapsed().as_secs_f64(),
            health_line(&health),
            done.load(Ordering::Relaxed),
            bots,
            m.logins,
            m.handoffs,
            m.recoveries,
            m.redirects_requested[1],
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

    let (errors, bots_ok, (sent, received), chat) = collect_bots(joins, deadline).await;
    // A timeline the bots outran still runs to its end, so every fault is shown healed.
    for (at, fault) in timeline {
        let wait = Duration::from_millis(*at).saturating_sub(started.elapsed());
        tokio::time::sleep(wait).await;
        apply(*fault, &gw, &fakes, &addrs);
        faults.push((started.elapsed().as_millis() as u64, fault.label()));
    }
    let final_health = worldserver_health(&gw);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    // The services hold the gateway through the slot, and the gateway holds the services.
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    Ok(DemoSummary {
        bots,
        bots_ok,
        errors,
        metrics: metrics.snapshot(),
        bot_packets: (sent, received),
        elapsed: started.elapsed(),
        faults,
        health_changes,
        final_health,
        chat,
    })
}

/// The demo's characters, one per bot, as the fake worldservers know them.
fn demo_characters(bots: usize) -> Vec<FakeCharacter> {
    (0..bots)
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
        .collect()
}

/// Starts the fake worldservers of [`WORLDS`], each on its own loopback port: what the cluster
/// is told about each, the fakes, and their addresses.
async fn start_worldservers(
    bots: usize,
) -> std::io::Result<(Vec<WorldserverInfo>, Vec<FakeWorldserver>, Vec<SocketAddr>)> {
    let characters = demo_characters(bots);
    let mut infos = Vec::new();
    let mut fakes = Vec::new();
    let mut addrs = Vec::new();
    for (id, maps) in WORLDS {
        let fake = FakeWorldserver::new(FakeWorldConfig {
            id: id.into(),
            accounts: (0..bots).map(account).collect(),
            characters: characters.clone(),
            timing: FakeTiming {
                linger_ms: DEMO_LINGER_MS,
                health_tick_ms: DEMO_HEALTH_TICK_MS,
                ..FakeTiming::default()
            },
            echo_opcode: None,
        });
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let serving = fake.clone();
        tokio::spawn(async move {
            let _ = serving.serve(listener).await;
        });
        fakes.push(fake);
        addrs.push(addr);
        infos.push(WorldserverInfo {
            server: WorldserverRef {
                id: WorldserverId(id.into()),
                address: addr.to_string(),
            },
            maps: maps.to_vec(),
            world_update_p99_ms: None,
            loading_maps: Vec::new(),
            alias: String::new(),
            realm_id: None,
            crossrealm: false,
        });
    }
    Ok((infos, fakes, addrs))
}

/// The gateway over the fakes: the bots' accounts and characters, the fakes' registry, and
/// timings short enough for the demo.
/// The gateway, on the fake services, and the slot through which those reach it.
fn build_gateway(
    bots: usize,
    infos: Vec<WorldserverInfo>,
    fakes: &[FakeWorldserver],
) -> std::io::Result<(Arc<Gateway>, GatewaySlot)> {
    let registry = FakeRegistry::new(infos.iter().cloned().zip(fakes.iter().cloned()).collect());
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
                name: character_name(i),
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
                guild_id: DEMO_GUILD,
            })
            .collect(),
        infos,
    ));
    let slot = GatewaySlot::default();
    let services = FakeServices {
        gateways: vec![slot.clone()],
        characters: (0..bots)
            .map(|i| (character_name(i), 100 + i as u64))
            .collect(),
        guilds: (0..bots)
            .map(|i| (100 + i as u64, u64::from(DEMO_GUILD)))
            .collect(),
        groups: (0..bots)
            .map(|i| (100 + i as u64, (i / DEMO_GROUP_SIZE) as u64 + 1))
            .collect(),
        latency_ms: 1,
    };
    let services = Arc::new(services);
    let seams = Seams {
        registry: Arc::new(registry),
        events: services.clone(),
        services,
        ..Seams::embedded(cluster)
    };
    let gateway = Gateway::new(
        seams,
        DriverConfig {
            session: SessionConfig {
                world_linger_ms: DEMO_LINGER_MS,
                services: Services {
                    chat: true,
                    guild: true,
                    group: true,
                    state: true,
                    ..Services::NONE
                },
                ..SessionConfig::default()
            },
            max_connections: bots + 16,
            write_timeout_ms: 10_000,
            shutdown_timeout_ms: 5_000,
            cluster: ClusterConfig {
                registry_refresh_ms: 500,
                slow_login_ms: 500,
                hold_margin_ms: 500,
                ..ClusterConfig::default()
            },
        },
        Entropy::from_os()?,
    );
    *slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(gateway.clone());
    Ok((gateway, slot))
}

/// Starts one task per bot, spread over [`START_SPREAD_MS`]; each adds one to `done` when its
/// script ends.
fn spawn_bots(
    bots: usize,
    gateway_addr: SocketAddr,
    done: &Arc<AtomicU32>,
) -> Vec<tokio::task::JoinHandle<(BotReport, Result<(), String>)>> {
    let mut joins = Vec::new();
    for i in 0..bots {
        let done = done.clone();
        let start_after = START_SPREAD_MS * i as u64 / bots.max(1) as u64;
        joins.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(start_after)).await;
            let config = BotConfig {
                account: account(i),
                session_key: key(i),
                realm_id: 1,
                seed: i as u64,
                character: 100 + i as u64,
                script: script(i, bots),
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
    joins
}

/// Waits for every bot until `deadline`: the errors, how many bots ran clean, the packets
/// the bots sent and received, and their chat.
async fn collect_bots(
    joins: Vec<tokio::task::JoinHandle<(BotReport, Result<(), String>)>>,
    deadline: tokio::time::Instant,
) -> (Vec<String>, usize, (u64, u64), ChatCounts) {
    let mut errors = Vec::new();
    let mut bots_ok = 0;
    let mut sent = 0;
    let mut received = 0;
    let mut chat = ChatCounts::default();
    for j in joins {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, j).await {
            Ok(Ok((report, r))) => {
                sent += report.packets_sent;
                received += report.packets_received;
                chat.add(&report);
                match r {
                    Ok(()) => bots_ok += 1,
                    Err(e) => errors.push(e),
                }
            }
            Ok(Err(e)) => errors.push(format!("bot task failed: {e}")),
            Err(_) => errors.push("bot did not finish before the demo deadline".into()),
        }
    }
    (errors, bots_ok, (sent, received), chat)
}

/// Each worldserver's health as the gateway sees it now.
fn worldserver_health(gw: &Gateway) -> Vec<(String, Option<Health>)> {
    WORLDS
        .iter()
        .map(|(id, _)| {
            let h = gw
                .view()
                .get(&WorldserverId((*id).into()))
                .map(|s| s.health);
            ((*id).to_owned(), h)
        })
        .collect()
}

/// Carries out one fault of the timeline.
fn apply(fault: Fault, gw: &Gateway, fakes: &[FakeWorldserver], addrs: &[SocketAddr]) {
    match fault {
        Fault::Degrade(i) => fakes[i].set_world_update_ms(SLOW_WORLD_UPDATE_MS),
        Fault::Restore(i) => fakes[i].set_world_update_ms(0),
        Fault::Crash(i) => fakes[i].crash(),
        Fault::Restart(i) => {
            fakes[i].revive();
            let serving = fakes[i].clone();
            let addr = addrs[i];
            tokio::spawn(async move {
                match TcpListener::bind(addr).await {
                    Ok(listener) => {
                        let _ = serving.serve(listener).await;
                    }
                    Err(e) => {
                        tracing::warn!(%addr, error = %e, "demo: restarted worldserver cannot listen")
                    }
                }
            });
        }
        Fault::Drain(i) => gw.set_draining(&WorldserverId(WORLDS[i].0.into()), true),
        Fault::Undrain(i) => gw.set_draining(&WorldserverId(WORLDS[i].0.into()), false),
    }
}

/// `ek:Admitting kal:Degraded ...` for the progress line.
fn health_line(health: &[Option<Health>]) -> String {
    WORLDS
        .iter()
        .zip(health)
        .map(|((id, _), h)| {
            let short = id.trim_start_matches("ws-");
            match h {
                Some(h) => format!("{short}:{h:?}"),
                None => format!("{short}:?"),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
