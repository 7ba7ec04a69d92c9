//! Runs one scenario with one seed inside a fresh madsim runtime: the real gateway driver on
//! one node, fake worldservers and bots on others, faults from the timeline, checkers while
//! it runs, and the transcript.
//!
//! Simulated addresses (10.77.x.y) exist only inside madsim: nothing leaves the process.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::{Handle, Runtime};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use waygate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
use waygate::driver::{DriverConfig, Gateway, serve};
use waygate::peers::bot::{BotConfig, BotReport, BotStep, run_bot};
use waygate::peers::worldserver::{FakeCharacter, FakeTiming, FakeWorldConfig, FakeWorldserver};
use waygate::runtime::{Entropy, Seams, StaticCluster};
use waygate::session::{AccountId, AccountRecord, CharacterGuid, CharacterRecord, SessionEvent};
use waygate::wire::SessionKey;
use waygate::wire::packets::Position;

use crate::scenario::{FaultKind, Scenario, Step};
use crate::transcript::Transcript;

/// Game port of every simulated node.
const GATEWAY_PORT: u16 = 8085;
const WORLD_PORT: u16 = 9101;
/// Checker sampling period for cluster-wide invariants (dual presence).
const CHECK_EVERY_MS: u64 = 25;

/// What one run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Transcript lines.
    pub transcript: Vec<String>,
    /// FNV-1a of the transcript.
    pub hash: u64,
    /// Broken invariants and unmet expectations; empty means the run passed.
    pub failures: Vec<String>,
}

fn gateway_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1))
}

fn world_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 77, 1, (i + 1) as u8))
}

fn bot_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        10,
        77,
        2 + (i / 250) as u8,
        (i % 250 + 1) as u8,
    ))
}

/// Account name of bot `i`.
fn account_name(i: usize) -> String {
    format!("BOT{i}")
}

/// Deterministic session key of bot `i` (test data, not a secret).
fn session_key(i: usize) -> SessionKey {
    let mut k = [0u8; 40];
    for (j, b) in k.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(j as u8);
    }
    SessionKey(k)
}

struct BotPlan {
    index: usize,
    guid: u64,
    map: u32,
    start_ms: u64,
    script: Vec<BotStep>,
}

fn to_bot_step(step: &Step) -> BotStep {
    match step {
        Step::Authenticate => BotStep::Authenticate,
        Step::CharacterScreen => BotStep::CharacterScreen,
        Step::EnterWorld => BotStep::EnterWorld,
        Step::Chatter {
            packets,
            interval_ms,
            body_bytes,
        } => BotStep::Chatter {
            packets: *packets,
            interval_ms: *interval_ms,
            body_bytes: *body_bytes,
        },
        Step::ChangeMap { map, x, y, z } => BotStep::ChangeMap {
            map: *map,
            x: *x,
            y: *y,
            z: *z,
        },
        Step::Logout => BotStep::Logout,
        Step::Disconnect => BotStep::Disconnect,
    }
}

/// A planted bug to switch on for a run (only with the `canaries` feature).
#[cfg(feature = "canaries")]
pub type CanaryChoice = Option<waygate::session::Canary>;
/// A planted bug to switch on for a run (only with the `canaries` feature).
#[cfg(not(feature = "canaries"))]
pub type CanaryChoice = Option<std::convert::Infallible>;

/// Runs `scenario` with `seed` in a fresh runtime on the calling thread.
pub fn run(scenario: &Scenario, seed: u64) -> Outcome {
    run_with(scenario, seed, None)
}

/// Runs `scenario` with `seed`, optionally with a planted bug switched on.
pub fn run_with(scenario: &Scenario, seed: u64, canary: CanaryChoice) -> Outcome {
    #[allow(unused_mut)]
    let mut scenario = scenario.clone();
    #[cfg(feature = "canaries")]
    {
        scenario.session.canary = canary;
    }
    #[cfg(not(feature = "canaries"))]
    let _ = canary;
    let scenario = &scenario;
    let mut rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
    rt.set_time_limit(Duration::from_millis(scenario.time_limit_ms));
    let transcript = Transcript::default();
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let scenario = scenario.clone();
        let transcript = transcript.clone();
        let failures = failures.clone();
        rt.block_on(async move { drive(scenario, seed, transcript, failures).await });
    }
    let failures = failures
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Outcome {
        scenario: scenario.name.clone(),
        seed,
        hash: transcript.hash(),
        transcript: transcript.lines(),
        failures,
    }
}

async fn drive(
    scenario: Scenario,
    seed: u64,
    transcript: Transcript,
    failures: Arc<Mutex<Vec<String>>>,
) {
    let handle = Handle::current();
    let start = tokio::time::Instant::now();
    let at = move || start.elapsed();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5157_5157);
    let fail = {
        let failures = failures.clone();
        move |msg: String| {
            failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(msg)
        }
    };

    // The bots' accounts and characters.
    let mut plans = Vec::new();
    for group in &scenario.bots {
        for _ in 0..group.count {
            let index = plans.len();
            let start_ms = if group.start_spread_ms > 0 {
                rng.next_u64() % group.start_spread_ms
            } else {
                0
            };
            plans.push(BotPlan {
                index,
                guid: 1000 + index as u64,
                map: group.map,
                start_ms,
                script: group.script.iter().map(to_bot_step).collect(),
            });
        }
    }
    let characters: Vec<FakeCharacter> = plans
        .iter()
        .map(|p| FakeCharacter {
            guid: p.guid,
            account: account_name(p.index),
            name: format!("Bot{}", p.index),
            map: p.map,
            position: Position {
                x: 1.0,
                y: 2.0,
                z: 3.0,
                orientation: 0.0,
            },
            loads: true,
        })
        .collect();

    // Worldservers.
    let mut worlds = Vec::new();
    let mut nodes = Vec::new();
    let mut infos = Vec::new();
    for (i, spec) in scenario.worldservers.iter().enumerate() {
        let fake = FakeWorldserver::new(FakeWorldConfig {
            id: spec.id.clone(),
            accounts: plans.iter().map(|p| account_name(p.index)).collect(),
            characters: characters.clone(),
            timing: FakeTiming {
                map_reassign_warning_ms: 5_000,
                map_reassign_second_warning_ms: 4_000,
                ..FakeTiming::default()
            },
            echo_opcode: None,
        });
        fake.set_latency_ms(spec.latency_ms);
        let addr = SocketAddr::new(world_ip(i), WORLD_PORT);
        let node = handle
            .create_node()
            .name(spec.id.clone())
            .ip(world_ip(i))
            .build();
        let serving = fake.clone();
        let t = transcript.clone();
        let id = spec.id.clone();
        nodes.push(node.clone());
        node.spawn(async move {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => {
                    let _ = serving.serve(listener).await;
                }
                Err(e) => t.push(at(), &id, format!("cannot listen: {e}")),
            }
        });
        infos.push(WorldserverInfo {
            server: WorldserverRef {
                id: WorldserverId(spec.id.clone()),
                address: addr.to_string(),
            },
            maps: spec.maps.clone(),
        });
        worlds.push((spec.id.clone(), fake));
    }

    // The gateway under test, with the embedded registry.
    let accounts = plans
        .iter()
        .map(|p| AccountRecord {
            id: AccountId(p.index as u32 + 1),
            name: account_name(p.index),
            session_key: session_key(p.index),
            banned: false,
            locked: false,
        })
        .collect();
    let records = plans
        .iter()
        .map(|p| CharacterRecord {
            guid: CharacterGuid(p.guid),
            account: AccountId(p.index as u32 + 1),
            name: format!("Bot{}", p.index),
            race: 1,
            class: 1,
            gender: 0,
            level: 10,
            appearance: [0; 5],
            map: p.map,
            zone: 12,
            x: 1.0,
            y: 2.0,
            z: 3.0,
            guild_id: 0,
        })
        .collect();
    let cluster = Arc::new(StaticCluster::new(accounts, records, infos));
    let gateway_addr = SocketAddr::new(gateway_ip(), GATEWAY_PORT);
    let gateway_slot: Arc<Mutex<Option<Arc<Gateway>>>> = Arc::default();
    // The sender lives as long as the runtime: dropping it at the end of the run would start
    // a shutdown whose wake-ups race the end of the run.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    std::mem::forget(stop_tx);
    {
        let t = transcript.clone();
        let session_cfg = scenario.session.clone();
        let observer_fail = fail.clone();
        let slot = gateway_slot.clone();
        let seams_cluster = cluster.clone();
        let gw_node = handle
            .create_node()
            .name("gateway")
            .ip(gateway_ip())
            .build();
        gw_node.spawn(async move {
            let seams = Seams::embedded(seams_cluster);
            let observer_t = t.clone();
            let observer_fail = observer_fail.clone();
            let observer_slot = slot.clone();
            let backoff = session_cfg.recovery_backoff;
            let gateway = Gateway::with_observer(
                seams,
                DriverConfig {
                    session: session_cfg,
                    max_connections: 10_000,
                    write_timeout_ms: 10_000,
                    shutdown_timeout_ms: 5_000,
                    cluster: Default::default(),
                },
                Entropy::seeded(seed),
                Some(Arc::new(move |id, e| {
                    observer_t.push(at(), &format!("gw/s{}", id.0), format!("{e:?}"));
                    // No new placement on a worldserver that is not admitting.
                    if let SessionEvent::Placed { worldserver } = e {
                        let gw = observer_slot
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .clone();
                        let health = gw.and_then(|g| g.view().get(worldserver).map(|s| s.health));
                        if health != Some(waygate::cluster::view::Health::Admitting) {
                            observer_fail(format!(
                                "session {}: placed on {worldserver} while {health:?}",
                                id.0
                            ));
                        }
                    }
                    // Retries and delays stay within the policy.
                    if let SessionEvent::RecoveryAttemptFailed {
                        attempts,
                        retry_in_ms,
                        ..
                    } = e
                        && (*retry_in_ms < backoff.min_ms
                            || *retry_in_ms > backoff.max_ms
                            || *attempts > backoff.max_attempts)
                    {
                        observer_fail(format!(
                            "session {}: retry {attempts} after {retry_in_ms} ms is outside the policy {}..={} ms, {} attempts",
                            id.0, backoff.min_ms, backoff.max_ms, backoff.max_attempts
                        ));
                    }
                })),
            );
            *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(gateway.clone());
            match tokio::net::TcpListener::bind(gateway_addr).await {
                Ok(listener) => {
                    let _ = serve(gateway, listener, stop_rx).await;
                }
                Err(e) => t.push(at(), "gateway", format!("cannot listen: {e}")),
            }
        });
    }

    // Faults on the timeline.
    for fault in scenario.faults.clone() {
        let target = match &fault.kind {
            FaultKind::SlowWorld { target, .. }
            | FaultKind::RefuseLogins { target, .. }
            | FaultKind::Crash { target }
            | FaultKind::Restart { target }
            | FaultKind::Partition { target }
            | FaultKind::Heal { target }
            | FaultKind::Drain { target }
            | FaultKind::ReassignMap { target, .. } => target.clone(),
        };
        let Some(at_index) = worlds.iter().position(|(id, _)| *id == target) else {
            fail(format!("fault targets unknown worldserver {target}"));
            continue;
        };
        let fake = worlds[at_index].1.clone();
        let node = nodes[at_index].clone();
        let addr = SocketAddr::new(world_ip(at_index), WORLD_PORT);
        let t = transcript.clone();
        let gateway_slot = gateway_slot.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(fault.at_ms)).await;
            t.push(at(), "fault", format!("{:?}", fault.kind));
            match fault.kind {
                FaultKind::SlowWorld {
                    world_update_ms, ..
                } => fake.set_world_update_ms(world_update_ms),
                FaultKind::RefuseLogins { refuse, .. } => fake.set_refuse_logins(refuse),
                FaultKind::Crash { .. } => fake.crash(),
                FaultKind::Drain { target } => {
                    let gw = gateway_slot
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .clone();
                    if let Some(gw) = gw {
                        gw.set_draining(&WorldserverId(target), true);
                    }
                }
                FaultKind::ReassignMap { map, .. } => fake.reassign_map(map),
                FaultKind::Partition { .. } => madsim::net::NetSim::current().clog_node(node.id()),
                FaultKind::Heal { .. } => madsim::net::NetSim::current().unclog_node(node.id()),
                FaultKind::Restart { .. } => {
                    fake.revive();
                    let serving = fake.clone();
                    node.spawn(async move {
                        if let Ok(listener) = tokio::net::TcpListener::bind(addr).await {
                            let _ = serving.serve(listener).await;
                        }
                    });
                }
            }
        });
    }

    // Safety checker: no character in world on two worldservers at once.
    let checker_done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let worlds: Vec<(String, FakeWorldserver)> = worlds.clone();
        let done = checker_done.clone();
        let fail = fail.clone();
        let t = transcript.clone();
        tokio::spawn(async move {
            let mut reported = std::collections::BTreeSet::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let mut seen: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
                for (id, fake) in &worlds {
                    for guid in fake.in_world_guids() {
                        seen.entry(guid).or_default().push(id.clone());
                    }
                }
                for (guid, on) in seen {
                    if on.len() > 1 && reported.insert(guid) {
                        let msg = format!("dual presence: character {guid} in world on {on:?}");
                        t.push(at(), "checker", &msg);
                        fail(msg);
                    }
                }
                tokio::time::sleep(Duration::from_millis(CHECK_EVERY_MS)).await;
            }
        });
    }

    // Bots.
    let results: Arc<Mutex<Vec<(usize, BotReport, Result<(), String>, Duration)>>> = Arc::default();
    let mut joins = Vec::new();
    for plan in plans {
        let node = handle
            .create_node()
            .name(format!("bot{}", plan.index))
            .ip(bot_ip(plan.index))
            .build();
        let results = results.clone();
        let t = transcript.clone();
        let who = format!("bot{}", plan.index);
        let config = BotConfig {
            account: account_name(plan.index),
            session_key: session_key(plan.index),
            realm_id: 1,
            seed: seed.wrapping_add(plan.index as u64),
            character: plan.guid,
            script: plan.script,
            step_timeout_ms: 20_000,
            max_body_bytes: 8 * 1024 * 1024,
        };
        joins.push(node.spawn(async move {
            tokio::time::sleep(Duration::from_millis(plan.start_ms)).await;
            t.push(at(), &who, "connects");
            let outcome = match tokio::net::TcpStream::connect(gateway_addr).await {
                Ok(stream) => {
                    let (report, r) = run_bot(stream, config).await;
                    (report, r.map_err(|e| e.to_string()))
                }
                Err(e) => (BotReport::default(), Err(format!("connect: {e}"))),
            };
            match &outcome.1 {
                Ok(()) => t.push(
                    at(),
                    &who,
                    format!(
                        "done: logins={} handoffs={} sent={} received={}",
                        outcome.0.logins,
                        outcome.0.handoffs,
                        outcome.0.packets_sent,
                        outcome.0.packets_received
                    ),
                ),
                Err(e) => t.push(at(), &who, format!("failed: {e}")),
            }
            results
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((plan.index, outcome.0, outcome.1, at()));
        }));
    }
    for j in joins {
        let _ = j.await;
    }
    checker_done.store(true, std::sync::atomic::Ordering::Relaxed);

    // Liveness and expectations.
    let results = results
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let ok = results.iter().filter(|r| r.2.is_ok()).count() as u32;
    let logins: u32 = results.iter().map(|r| r.1.logins).sum();
    let handoffs: u32 = results.iter().map(|r| r.1.handoffs).sum();
    let want_ok = scenario.expect.bots_ok.unwrap_or(scenario.bot_count());
    if ok < want_ok {
        fail(format!("{ok} bots finished cleanly, expected {want_ok}"));
    }
    for (index, _, r, done_at) in &results {
        if r.is_ok() && done_at.as_millis() as u64 > scenario.slo_ms {
            fail(format!(
                "bot{index} finished at {}ms, past the {}ms SLO",
                done_at.as_millis(),
                scenario.slo_ms
            ));
        }
    }
    if let Some(want) = scenario.expect.logins
        && logins != want
    {
        fail(format!("{logins} logins, expected {want}"));
    }
    if let Some(want) = scenario.expect.handoffs
        && handoffs != want
    {
        fail(format!("{handoffs} handoffs, expected {want}"));
    }
    // What each worldserver saw, in its own order, after the run's own lines.
    for (id, fake) in &worlds {
        for e in fake.events() {
            transcript.push(Duration::from_millis(e.at_ms), id, &e.what);
        }
    }
    transcript.push(
        at(),
        "sim",
        format!("end: bots_ok={ok} logins={logins} handoffs={handoffs}"),
    );
}
