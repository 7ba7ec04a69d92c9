//! Runs one scenario with one seed inside a fresh madsim runtime: the real gateway driver on
//! one node, fake worldservers and bots on others, faults from the timeline, checkers while
//! it runs, and the transcript.
//!
//! Simulated addresses (10.77.x.y) exist only inside madsim: nothing leaves the process.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use madsim::runtime::{Handle, Runtime};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use waygate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
use waygate::driver::{DriverConfig, Gateway, serve};
use waygate::peers::bot::{BotConfig, BotError, BotReport, BotStep, run_bot};
use waygate::peers::services::{FakeServices, GatewaySlot};
use waygate::peers::worldserver::{
    Buggify, FakeCharacter, FakeTiming, FakeWorldConfig, FakeWorldserver, PacketTap,
};
use waygate::present::Services;
use waygate::runtime::{Entropy, MemoryKv, Seams, StaticCluster};
use waygate::session::{AccountId, AccountRecord, CharacterGuid, CharacterRecord};
use waygate::wire::SessionKey;
use waygate::wire::packets::Position;

use crate::check::admission::AdmissionRule;
use crate::check::backoff::{self, Attempt, ConnectLog};
use crate::check::drain::DrainChecker;
use crate::check::dual_presence::DualPresence;
use crate::check::expect::{BotResult, Expectations};
use crate::check::heartbeats::{HeartbeatOrder, TWIN_SEQ_FROM};
use crate::check::held_at_heal::HeldAtHeal;
use crate::check::logins_end::LoginsEnd;
use crate::check::teardown::{ClientLinks, Teardown};
use crate::check::{Checker, Findings, guild_chat, party_frames, whispers};
use crate::scenario::{Fault, FaultKind, Scenario, Step, Swarm, WorldserverSpec};
use crate::store::GatewayStore;
use crate::transcript::{Transcript, fnv1a64};

/// Game port of every simulated node.
const GATEWAY_PORT: u16 = 8085;
const WORLD_PORT: u16 = 9101;
/// Heartbeat sequence numbers of a bot's connections start this far apart.
const BOT_ATTEMPT_SEQ_SPAN: u32 = 100_000;
/// Connections (`reconnect` steps plus one) a bot script may have; more share numbers.
const BOT_CONNECTIONS_PER_ATTEMPT_MAX: u32 = 16;

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

fn gateway_ip(g: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1 + g as u8))
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
    /// Whose account and character it plays (its own index, or its twin's).
    account: usize,
    /// The gateway every connection goes to; `None`: hop.
    gateway: Option<u32>,
    guid: u64,
    map: u32,
    start_ms: u64,
    script: Vec<(u64, Vec<BotStep>)>,
    retries: u32,
    retry_pause_ms: u64,
    /// Its character's guild (0: none).
    guild: u32,
    /// Its character's group (0: none).
    party: u32,
}

/// A bot waits this much longer than the gateway's login bound for the answer to a login
/// the realm must refuse, so that a late answer is seen (and judged late) rather than missed.
pub const LOGIN_ANSWER_SLACK_MS: u64 = 5_000;

/// A script cut at its `reconnect` steps: (pause before connecting, steps on that connection).
/// A refused login waits `login_wait_ms` for its answer.
/// Bot `bot` of `bots` (every group's, in order) names others by their place after it.
fn segments(
    script: &[Step],
    login_wait_ms: u64,
    (bot, bots): (usize, usize),
) -> Vec<(u64, Vec<BotStep>)> {
    let mut out = vec![(0, Vec::new())];
    for step in script {
        match step {
            Step::Reconnect { after_ms } => out.push((*after_ms, Vec::new())),
            Step::Whisper {
                to_next,
                count,
                interval_ms,
            } => {
                if let Some(last) = out.last_mut() {
                    last.1.push(BotStep::Whisper {
                        to: character_name((bot + to_next) % bots.max(1)),
                        count: *count,
                        interval_ms: *interval_ms,
                    });
                }
            }
            other => {
                if let Some(last) = out.last_mut() {
                    last.1.push(to_bot_step(other, login_wait_ms));
                }
            }
        }
    }
    out
}

/// The name of the character account `account` plays.
fn character_name(account: usize) -> String {
    format!("Bot{account}")
}

fn to_bot_step(step: &Step, login_wait_ms: u64) -> BotStep {
    match step {
        Step::Authenticate => BotStep::Authenticate,
        Step::CharacterScreen => BotStep::CharacterScreen,
        Step::EnterWorld => BotStep::EnterWorld,
        Step::EnterWorldRefused { code } => BotStep::EnterWorldRefused {
            code: *code,
            within_ms: login_wait_ms,
        },
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
        Step::AbandonChangeMap {
            map,
            x,
            y,
            z,
            leave_within_ms,
        } => BotStep::AbandonChangeMap {
            map: *map,
            x: *x,
            y: *y,
            z: *z,
            leave_within_ms: *leave_within_ms,
        },
        Step::Logout => BotStep::Logout,
        Step::GuildChat { count, interval_ms } => BotStep::GuildChat {
            count: *count,
            interval_ms: *interval_ms,
        },
        // `segments` makes these two.
        Step::Disconnect | Step::Reconnect { .. } | Step::Whisper { .. } => BotStep::Disconnect,
        Step::AwaitEviction { within_ms } => BotStep::AwaitEviction {
            within_ms: *within_ms,
        },
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
    // Tasks madsim leaves pending may hold clones of the transcript: take the lines out.
    let lines = transcript.take();
    Outcome {
        scenario: scenario.name.clone(),
        seed,
        hash: fnv1a64(lines.join("\n").as_bytes()),
        transcript: lines,
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
    let findings = Findings::new(transcript.clone(), failures, tokio::time::Instant::now());
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5157_5157);

    // The world: bots' plans, faults drawn from the seed (before anything runs: the drain
    // checker judges by the whole timeline), worldservers, the registry.
    let plans = plan_bots(&scenario, &mut rng);
    let drawn = match &scenario.swarm {
        Some(swarm) => swarm_faults(swarm, &scenario.worldservers, &mut rng),
        None => Vec::new(),
    };
    let (worlds, nodes, infos) =
        start_worlds(&handle, &scenario, seed, &plans, &findings, &transcript);
    let timeline: Vec<Fault> = scenario.faults.iter().chain(&drawn).cloned().collect();
    let rule = AdmissionRule {
        health: cluster_config().health,
        registry_refresh_ms: cluster_config().registry_refresh_ms,
        base_world_update_ms: waygate::peers::registry::BASE_WORLD_UPDATE_MS,
    };
    let drains = DrainChecker::with_rule(&timeline, &scenario.worldservers, Some(&rule));
    let heartbeats = HeartbeatOrder::default();
    for (id, fake) in &worlds {
        fake.set_packet_tap(Some(chain_taps(vec![
            heartbeats.tap(id, &findings),
            drains.tap(id, &findings),
        ])));
    }
    let partitioned: Arc<Mutex<std::collections::BTreeSet<String>>> = Arc::default();
    let heals = HeldAtHeal::new(scenario.expect.held_at_heal);
    let relays = Arc::new(start_relays(&scenario, &nodes, &partitioned));
    let registry = waygate::peers::registry::FakeRegistry::new(
        infos
            .iter()
            .cloned()
            .zip(worlds.iter().map(|(_, f)| f.clone()))
            .collect(),
    );
    let connects = ConnectLog::default();
    let gateway_slots: Vec<GatewaySlot> = (0..scenario.gateways)
        .map(|_| GatewaySlot::default())
        .collect();
    // One fencing store for the realm's gateways (NATS key-value in a real cluster), and
    // each gateway's way to it, which a fault may cut.
    let fence_store = MemoryKv::default();
    let store_ways: Vec<GatewayStore> = gateway_slots
        .iter()
        .map(|_| GatewayStore::new(fence_store.clone()))
        .collect();
    let services = scenario.chat_service.then(|| {
        let records = character_records(&plans);
        Arc::new(FakeServices {
            gateways: gateway_slots.clone(),
            characters: records.iter().map(|c| (c.name.clone(), c.guid.0)).collect(),
            guilds: records
                .iter()
                .filter(|c| c.guild_id != 0)
                .map(|c| (c.guid.0, u64::from(c.guild_id)))
                .collect(),
            groups: plans
                .iter()
                .filter(|p| p.account == p.index && p.party != 0)
                .map(|p| (p.guid, u64::from(p.party)))
                .collect(),
            latency_ms: SERVICES_LATENCY_MS,
        })
    });
    let static_cluster = Arc::new(StaticCluster::new(
        accounts(&plans),
        character_records(&plans),
        infos,
    ));
    for ((g, slot), way) in (0u32..).zip(&gateway_slots).zip(&store_ways) {
        start_gateway(
            &handle,
            GatewaySetup {
                index: g,
                scenario: &scenario,
                seed,
                cluster: static_cluster.clone(),
                registry: registry.clone(),
                partitioned: partitioned.clone(),
                relays: relays.clone(),
                fence: way.clone(),
                slot: slot.clone(),
                services: services.clone(),
                connects: connects.clone(),
            },
            &findings,
            &transcript,
        );
    }

    // The fault timeline, the scripted faults and those drawn from the seed.
    let mut faults = scenario.faults.clone();
    for f in &drawn {
        transcript.push(
            findings.now(),
            "swarm",
            format!("at {}ms {:?}", f.at_ms, f.kind),
        );
    }
    faults.extend(drawn);
    let cluster = FaultTargets {
        worlds: &worlds,
        nodes: &nodes,
        gateways: &gateway_slots,
        stores: &store_ways,
        registry: &registry,
        partitioned: &partitioned,
        heals: &heals,
    };
    for fault in faults {
        schedule_fault(fault, &cluster, &findings, &transcript);
    }

    // The bots play, watched.
    let dual_presence = DualPresence::spawn(worlds.clone(), findings.clone());
    let links = Arc::new(ClientLinks::spawn(
        worlds.clone(),
        &timeline,
        findings.clone(),
    ));
    let watch = Watch {
        findings: findings.clone(),
        transcript: transcript.clone(),
        links: links.clone(),
    };
    let party_of: BTreeMap<usize, u64> = plans
        .iter()
        .filter(|p| p.party != 0)
        .map(|p| (p.index, u64::from(p.party)))
        .collect();
    let guid_of: BTreeMap<usize, u64> = plans.iter().map(|p| (p.index, p.guid)).collect();
    let guild_of: BTreeMap<usize, u64> = plans
        .iter()
        .filter(|p| p.guild != 0)
        .map(|p| (p.index, u64::from(p.guild)))
        .collect();
    let bot_of_name: BTreeMap<String, usize> = plans
        .iter()
        .filter(|p| p.account == p.index)
        .map(|p| (character_name(p.account), p.index))
        .collect();
    let results = run_bots(&handle, &scenario, plans, seed, &watch).await;
    dual_presence.stop();

    // After the last bot.
    Teardown {
        gateways: &gateway_slots,
        worlds: &worlds,
        faults: &scenario.faults,
    }
    .check(&findings)
    .await;
    links.stop();
    let session = &scenario.session;
    for v in backoff::violations(
        &connects.attempts(),
        &session.placement_backoff,
        &session.recovery_backoff,
        session.world_linger_ms,
    ) {
        findings.fail(Checker::Backoff, v);
    }
    LoginsEnd {
        bound_ms: scenario.session.login_answer_max_ms(),
    }
    .check(&results, &findings);
    if scenario.chat_service {
        check_chat(
            &scenario,
            &results,
            (&bot_of_name, &guild_of),
            &findings,
            &transcript,
        );
        check_party(
            &scenario,
            &results,
            (&party_of, &guid_of),
            &findings,
            &transcript,
        );
    }
    let totals = Expectations {
        scenario: &scenario,
        drains: &drains,
        heals: &heals,
    }
    .check(&results, &findings);
    // What each worldserver saw, in its own order, after the run's own lines.
    for (id, fake) in &worlds {
        for e in fake.events() {
            transcript.push(Duration::from_millis(e.at_ms), id, &e.what);
        }
    }
    transcript.push(
        findings.now(),
        "sim",
        format!(
            "end: bots_ok={} logins={} handoffs={}",
            totals.ok, totals.logins, totals.handoffs
        ),
    );
    // Tasks still pending when the runtime ends are never dropped (madsim leaks them, with
    // what they hold): empty what the fakes and the gateway's slot keep alive, or every run
    // of a sweep leaks its logs, its gateway and its whole transcript.
    for (_, fake) in &worlds {
        fake.forget_logs();
    }
    for slot in &gateway_slots {
        slot.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }
}

/// The simulated cluster services' latency, each way.
const SERVICES_LATENCY_MS: u64 = 2;

/// The whisper and guild chat checkers, and the scenario's claim that whispers reached
/// players on the move.
fn check_chat(
    scenario: &Scenario,
    results: &[BotResult],
    (bot_of_name, guild_of): (&BTreeMap<String, usize>, &BTreeMap<usize, u64>),
    findings: &Findings,
    transcript: &Transcript,
) {
    let (violations, totals) = whispers::judge(results, bot_of_name);
    let (guild_violations, guild_received) = guild_chat::judge(results, guild_of);
    for v in violations.into_iter().chain(guild_violations) {
        findings.fail(Checker::Chat, v);
    }
    transcript.push(
        findings.now(),
        "sim",
        format!(
            "chat: whispers sent={} received={} received_moving={} guild_received={guild_received}",
            totals.sent, totals.received, totals.received_moving
        ),
    );
    if let Some(min) = scenario.expect.guild_lines_received
        && guild_received < min as usize
    {
        findings.fail(
            Checker::Counts,
            format!(
                "the scenario claims at least {min} guild lines reached other members; the bots received {guild_received}"
            ),
        );
    }
    if let Some(min) = scenario.expect.whispers_while_moving
        && totals.received_moving < min
    {
        findings.fail(
            Checker::Counts,
            format!(
                "the scenario claims at least {min} whispers reached players moving between worldservers; the bots received {}",
                totals.received_moving
            ),
        );
    }
}

/// The party frame checker, and the scenario's claim that frames went round.
fn check_party(
    scenario: &Scenario,
    results: &[BotResult],
    (party_of, guid_of): (&BTreeMap<usize, u64>, &BTreeMap<usize, u64>),
    findings: &Findings,
    transcript: &Transcript,
) {
    if party_of.is_empty() {
        return;
    }
    let (violations, frames) = party_frames::judge(results, party_of, guid_of);
    for v in violations {
        findings.fail(Checker::Party, v);
    }
    transcript.push(findings.now(), "sim", format!("party: frames={frames}"));
    if let Some(min) = scenario.expect.party_frames
        && frames < min as usize
    {
        findings.fail(
            Checker::Counts,
            format!(
                "the scenario claims at least {min} party frames reached the bots; they received {frames}"
            ),
        );
    }
}

/// The gateway's cluster settings in every run (the admission oracle reads its health rule).
fn cluster_config() -> waygate::driver::ClusterConfig {
    waygate::driver::ClusterConfig::default()
}

/// Every bot of the scenario: its character, map, start time and script.
fn plan_bots(scenario: &Scenario, rng: &mut ChaCha8Rng) -> Vec<BotPlan> {
    let mut plans = Vec::new();
    let mut group_start = Vec::new();
    let bots = scenario.bot_count() as usize;
    for group in &scenario.bots {
        group_start.push(plans.len());
        for k in 0..group.count as usize {
            let index = plans.len();
            let account = group.twin_of.map_or(index, |t| group_start[t] + k);
            let start_ms = group.start_after_ms
                + if group.start_spread_ms > 0 {
                    rng.next_u64() % group.start_spread_ms
                } else {
                    0
                };
            plans.push(BotPlan {
                index,
                account,
                gateway: group.gateway,
                guid: 1000 + account as u64,
                map: group.map,
                start_ms,
                script: segments(
                    &group.script,
                    scenario
                        .session
                        .login_answer_max_ms()
                        .saturating_add(LOGIN_ANSWER_SLACK_MS),
                    (index, bots),
                ),
                retries: group.retries,
                retry_pause_ms: group.retry_pause_ms,
                guild: group.guild,
                party: group.party,
            });
        }
    }
    plans
}

/// The seeded misbehaviour of fake `index` in every run of every scenario (buggify): at each
/// occasion, one chance in a hundred of a late READY, a late kick, a read stall or a refused
/// connect. The delays stay inside what the session's limits absorb (a READY within
/// `redirect_ready_timeout_ms`, a kick within `redirect_release_timeout_ms`).
fn buggify(seed: u64, index: usize) -> Buggify {
    Buggify {
        seed: seed ^ 0xB066_1F00_0000_0000 ^ (index as u64).wrapping_mul(0x9E37_79B9),
        chance_per_10k: 100,
        save_delay_max_ms: 2_000,
        kick_delay_max_ms: 1_000,
        read_stall_max_ms: 300,
        refuse_connect: true,
    }
}

/// The fake worldservers, each on a node of its own, serving.
fn start_worlds(
    handle: &Handle,
    scenario: &Scenario,
    seed: u64,
    plans: &[BotPlan],
    findings: &Findings,
    transcript: &Transcript,
) -> (
    Vec<(String, FakeWorldserver)>,
    Vec<madsim::runtime::NodeHandle>,
    Vec<WorldserverInfo>,
) {
    let characters: Vec<FakeCharacter> = plans
        .iter()
        .filter(|p| p.account == p.index)
        .map(|p| FakeCharacter {
            guid: p.guid,
            account: account_name(p.index),
            name: character_name(p.index),
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
    let mut worlds = Vec::new();
    let mut nodes = Vec::new();
    let mut infos = Vec::new();
    for (i, spec) in scenario.worldservers.iter().enumerate() {
        let fake = FakeWorldserver::new(FakeWorldConfig {
            id: spec.id.clone(),
            accounts: plans
                .iter()
                .filter(|p| p.account == p.index)
                .map(|p| account_name(p.index))
                .collect(),
            characters: characters.clone(),
            timing: FakeTiming {
                map_reassign_warning_ms: 5_000,
                map_reassign_second_warning_ms: 4_000,
                // The worldservers keep a disconnected player as long as the gateway assumes.
                linger_ms: scenario.session.world_linger_ms,
                idle_in_world_ms: spec
                    .idle_in_world_ms
                    .unwrap_or(FakeTiming::default().idle_in_world_ms),
                health_tick_ms: spec.health_tick_ms,
                ..FakeTiming::default()
            },
            echo_opcode: None,
        });
        fake.set_latency_ms(spec.latency_ms);
        fake.set_buggify(Some(buggify(seed, i)));
        let addr = SocketAddr::new(world_ip(i), WORLD_PORT);
        let node = handle
            .create_node()
            .name(spec.id.clone())
            .ip(world_ip(i))
            .build();
        let serving = fake.clone();
        let t = transcript.clone();
        let f = findings.clone();
        let id = spec.id.clone();
        nodes.push(node.clone());
        node.spawn(async move {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => {
                    let _ = serving.serve(listener).await;
                }
                Err(e) => t.push(f.now(), &id, format!("cannot listen: {e}")),
            }
        });
        infos.push(WorldserverInfo {
            server: WorldserverRef {
                id: WorldserverId(spec.id.clone()),
                address: addr.to_string(),
            },
            maps: spec.maps.clone(),
            world_update_p99_ms: None,
            loading_maps: Vec::new(),
            alias: String::new(),
            realm_id: None,
            crossrealm: false,
        });
        worlds.push((spec.id.clone(), fake));
    }
    (worlds, nodes, infos)
}

/// The bots' accounts, as the gateway's embedded cluster knows them.
fn accounts(plans: &[BotPlan]) -> Vec<AccountRecord> {
    plans
        .iter()
        .filter(|p| p.account == p.index)
        .map(|p| AccountRecord {
            id: AccountId(p.index as u32 + 1),
            name: account_name(p.index),
            session_key: session_key(p.index),
            banned: false,
            locked: false,
        })
        .collect()
}

/// The bots' characters, as the gateway's embedded cluster knows them.
fn character_records(plans: &[BotPlan]) -> Vec<CharacterRecord> {
    plans
        .iter()
        .filter(|p| p.account == p.index)
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
            guild_id: p.guild,
        })
        .collect()
}

/// A relay on the node of each worldserver whose scenario asks that a partition hide the
/// gateway's closes from it (`partition_hides_close`): its registry address, and the relay's.
fn start_relays(
    scenario: &Scenario,
    nodes: &[madsim::runtime::NodeHandle],
    partitioned: &Arc<Mutex<std::collections::BTreeSet<String>>>,
) -> BTreeMap<String, SocketAddr> {
    let mut relays = BTreeMap::new();
    for (i, spec) in scenario.worldservers.iter().enumerate() {
        if !spec.partition_hides_close {
            continue;
        }
        let world = SocketAddr::new(world_ip(i), WORLD_PORT);
        let relay = SocketAddr::new(world_ip(i), crate::relay::RELAY_PORT);
        let partitioned = partitioned.clone();
        let key = world.to_string();
        let cut: crate::relay::Cut = Arc::new(move || {
            partitioned
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&key)
        });
        nodes[i].spawn(async move {
            if let Ok(listener) = tokio::net::TcpListener::bind(relay).await {
                crate::relay::serve(listener, world, cut).await;
            }
        });
        relays.insert(world.to_string(), relay);
    }
    relays
}

/// What the gateway under test is built from.
struct GatewaySetup<'a> {
    /// Which gateway of the realm (0 is the first).
    index: u32,
    scenario: &'a Scenario,
    seed: u64,
    cluster: Arc<StaticCluster>,
    registry: waygate::peers::registry::FakeRegistry,
    partitioned: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// Worldserver addresses the gateway reaches through a relay, and the relay's address.
    relays: Arc<BTreeMap<String, SocketAddr>>,
    /// The gateway's way to the realm's fencing store.
    fence: GatewayStore,
    /// Where the gateway is put once built.
    slot: GatewaySlot,
    /// The simulated cluster services, when the scenario runs them.
    services: Option<Arc<FakeServices>>,
    /// Where its network records connect attempts.
    connects: ConnectLog,
}

/// The gateway under test on its node, with the embedded registry, its session events
/// feeding the session-event checkers.
fn start_gateway(
    handle: &Handle,
    setup: GatewaySetup<'_>,
    findings: &Findings,
    transcript: &Transcript,
) {
    let g = setup.index;
    let gateway_addr = SocketAddr::new(gateway_ip(g), GATEWAY_PORT);
    // The sender lives as long as the runtime: dropping it at the end of the run would start
    // a shutdown whose wake-ups race the end of the run.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    std::mem::forget(stop_tx);
    let t = transcript.clone();
    let f = findings.clone();
    let mut session_cfg = setup.scenario.session.clone();
    let services = setup.services;
    if services.is_some() {
        session_cfg.services = Services {
            chat: true,
            guild: true,
            group: true,
            state: true,
            ..Services::NONE
        };
    }
    // The first gateway keeps the seed its runs always had; the others draw apart.
    let seed = setup
        .seed
        .wrapping_add(u64::from(g).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let tag = if g == 0 {
        "gw".to_owned()
    } else {
        format!("gw{g}")
    };
    let fence: Arc<dyn waygate::runtime::KvStore> = Arc::new(setup.fence);
    let slot = setup.slot;
    let seams_cluster = setup.cluster;
    let seams_registry: Arc<dyn waygate::runtime::Registry> = Arc::new(setup.registry);
    let seams_net: Arc<dyn waygate::runtime::Net> = Arc::new(SimNet {
        partitioned: setup.partitioned,
        relays: setup.relays,
        gateway: g,
        log: setup.connects,
        findings: findings.clone(),
    });
    let gw_node = handle
        .create_node()
        .name(tag.clone())
        .ip(gateway_ip(g))
        .build();
    gw_node.spawn(async move {
        let mut seams = Seams {
            registry: seams_registry,
            net: seams_net,
            fence,
            ..Seams::embedded(seams_cluster)
        };
        if let Some(services) = services {
            seams.events = services.clone();
            seams.services = services;
        }
        let observer_t = t.clone();
        let observer_f = f.clone();
        let gateway = Gateway::with_observer(
            seams,
            DriverConfig {
                session: session_cfg,
                max_connections: 10_000,
                write_timeout_ms: 10_000,
                shutdown_timeout_ms: 5_000,
                cluster: cluster_config(),
            },
            Entropy::seeded(seed),
            Some(Arc::new(move |id, e| {
                observer_t.push(
                    observer_f.now(),
                    &format!("{tag}/s{}", id.0),
                    format!("{e:?}"),
                );
            })),
        );
        *slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(gateway.clone());
        match tokio::net::TcpListener::bind(gateway_addr).await {
            Ok(listener) => {
                let _ = serve(gateway, listener, stop_rx).await;
            }
            Err(e) => t.push(f.now(), "gateway", format!("cannot listen: {e}")),
        }
    });
}

/// What faults act on.
struct FaultTargets<'a> {
    worlds: &'a [(String, FakeWorldserver)],
    nodes: &'a [madsim::runtime::NodeHandle],
    gateways: &'a [GatewaySlot],
    stores: &'a [GatewayStore],
    registry: &'a waygate::peers::registry::FakeRegistry,
    partitioned: &'a Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// Where each heal records what the partitioned worldserver held.
    heals: &'a HeldAtHeal,
}

/// Applies `fault` at its time of the timeline.
fn schedule_fault(
    fault: Fault,
    cluster: &FaultTargets<'_>,
    findings: &Findings,
    transcript: &Transcript,
) {
    let index = match fault.kind.target() {
        None => None,
        Some(target) => match cluster.worlds.iter().position(|(id, _)| id == target) {
            Some(i) => Some(i),
            None => {
                findings.fail(
                    Checker::Runner,
                    format!("fault targets unknown worldserver {target}"),
                );
                return;
            }
        },
    };
    let target = index.map(|i| (cluster.worlds[i].1.clone(), cluster.nodes[i].clone(), i));
    let t = transcript.clone();
    let f = findings.clone();
    let gateway_slots = cluster.gateways.to_vec();
    let stores = cluster.stores.to_vec();
    let registry = cluster.registry.clone();
    let partitioned = cluster.partitioned.clone();
    let heals = cluster.heals.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(fault.at_ms)).await;
        t.push(f.now(), "fault", format!("{:?}", fault.kind));
        // Operator commands reach every gateway of the realm.
        let gateways = || -> Vec<Arc<Gateway>> {
            gateway_slots
                .iter()
                .filter_map(|s| {
                    s.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .clone()
                })
                .collect()
        };
        if let FaultKind::Registry { reachable } = fault.kind {
            registry.set_reachable(reachable);
            return;
        }
        if let FaultKind::FenceStore { gateway, reachable } = fault.kind {
            if let Some(way) = stores.get(gateway as usize) {
                way.set_cut(!reachable);
            }
            return;
        }
        let Some((fake, node, i)) = target else {
            return;
        };
        let draining = matches!(fault.kind, FaultKind::Drain { .. });
        match fault.kind {
            FaultKind::SlowWorld {
                world_update_ms, ..
            } => fake.set_world_update_ms(world_update_ms),
            FaultKind::RefuseLogins { refuse, .. } => fake.set_refuse_logins(refuse),
            FaultKind::IgnorePrepare { ignore, .. } => fake.set_ignore_prepare(ignore),
            FaultKind::Crash { .. } => fake.crash(),
            FaultKind::Drain { target } | FaultKind::Undrain { target } => {
                for gw in gateways() {
                    gw.set_draining(&WorldserverId(target.clone()), draining);
                }
            }
            FaultKind::SwitchLayer { to, .. } => {
                // The gateway that has the character takes the switch; the others forget it.
                for guid in fake.in_world_guids() {
                    let mut refusal = None;
                    for gw in gateways() {
                        if let Err(e) =
                            gw.switch_layer(CharacterGuid(guid), &WorldserverId(to.clone()))
                        {
                            refusal = Some(e);
                        }
                    }
                    if let Some(e) = refusal {
                        t.push(f.now(), "fault", format!("guid {guid}: {e}"));
                    }
                }
            }
            FaultKind::ReassignMap { map, .. } => fake.reassign_map(map),
            FaultKind::Partition { .. } => {
                partitioned
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(SocketAddr::new(world_ip(i), WORLD_PORT).to_string());
                madsim::net::NetSim::current().clog_node(node.id())
            }
            FaultKind::Heal { target } => {
                let was_cut = partitioned
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&SocketAddr::new(world_ip(i), WORLD_PORT).to_string());
                // What the cut-off worldserver still holds, by its own count, before the
                // network carries anything again.
                if was_cut {
                    heals.healed(&target, &fake.in_world_guids(), &f, &t);
                }
                madsim::net::NetSim::current().unclog_node(node.id())
            }
            FaultKind::Restart { .. } => {
                if !fake.is_down() {
                    return;
                }
                fake.revive();
                let serving = fake.clone();
                let addr = SocketAddr::new(world_ip(i), WORLD_PORT);
                node.spawn(async move {
                    if let Ok(listener) = tokio::net::TcpListener::bind(addr).await {
                        let _ = serving.serve(listener).await;
                    }
                });
            }
            FaultKind::Registry { .. } | FaultKind::FenceStore { .. } => {}
        }
    });
}

/// Every bot on a node of its own, its script cut at its reconnects, retried as the
/// scenario allows; waits for all of them.
/// Milliseconds of the run so far.
fn millis_now(f: &Findings) -> u64 {
    u64::try_from(f.now().as_millis()).unwrap_or(u64::MAX)
}

/// What watches the bots: the checkers' findings, the transcript, and the per-client
/// teardown check (told when each client connects and closes).
#[derive(Clone)]
struct Watch {
    findings: Findings,
    transcript: Transcript,
    links: Arc<ClientLinks>,
}

async fn run_bots(
    handle: &Handle,
    scenario: &Scenario,
    plans: Vec<BotPlan>,
    seed: u64,
    watch: &Watch,
) -> Vec<BotResult> {
    let gateways = scenario.gateways.max(1);
    let results: Arc<Mutex<Vec<BotResult>>> = Arc::default();
    let mut joins = Vec::new();
    for plan in plans {
        let node = handle
            .create_node()
            .name(format!("bot{}", plan.index))
            .ip(bot_ip(plan.index))
            .build();
        let results = results.clone();
        let w = watch.clone();
        let (t, f) = (watch.transcript.clone(), watch.findings.clone());
        let who = format!("bot{}", plan.index);
        let config = BotConfig {
            account: account_name(plan.account),
            session_key: session_key(plan.account),
            realm_id: 1,
            seed: seed.wrapping_add(plan.index as u64),
            character: plan.guid,
            script: Vec::new(),
            step_timeout_ms: scenario.bot_step_timeout_ms,
            max_body_bytes: 8 * 1024 * 1024,
            movement_seq_start: 0,
        };
        joins.push(node.spawn(async move {
            tokio::time::sleep(Duration::from_millis(plan.start_ms)).await;
            let (total, result) = play(&plan, &config, gateways, &who, &w).await;
            match &result {
                Ok(()) => t.push(
                    f.now(),
                    &who,
                    format!(
                        "done: logins={} handoffs={} sent={} received={}",
                        total.logins, total.handoffs, total.packets_sent, total.packets_received
                    ),
                ),
                Err(e) => t.push(f.now(), &who, format!("failed: {e}")),
            }
            results
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((plan.index, total, result, f.now()));
        }));
    }
    for j in joins {
        let _ = j.await;
    }
    results
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// One bot's whole script, attempts included: its summed report and how it ended.
async fn play(
    plan: &BotPlan,
    config: &BotConfig,
    gateways: u32,
    who: &str,
    watch: &Watch,
) -> (BotReport, Result<(), String>) {
    let (t, f) = (&watch.transcript, &watch.findings);
    let mut total = BotReport::default();
    let mut attempt = 0u32;
    let result = loop {
        let mut r = Ok(());
        for (k, (pause_ms, steps)) in plan.script.iter().enumerate() {
            if *pause_ms > 0 {
                tokio::time::sleep(Duration::from_millis(*pause_ms)).await;
            }
            let g = plan.gateway.unwrap_or_else(|| {
                let hop = plan.index as u64 + u64::from(attempt) + k as u64;
                u32::try_from(hop % u64::from(gateways)).unwrap_or(0)
            });
            let gateway_addr = SocketAddr::new(gateway_ip(g), GATEWAY_PORT);
            if gateways > 1 {
                t.push(f.now(), who, format!("connects to gw{g}"));
            } else {
                t.push(f.now(), who, "connects");
            }
            // Every connection of every attempt numbers its heartbeats apart.
            let connection = attempt
                .saturating_mul(BOT_CONNECTIONS_PER_ATTEMPT_MAX)
                .saturating_add(u32::try_from(k).unwrap_or(u32::MAX));
            let config = BotConfig {
                seed: config
                    .seed
                    .wrapping_add(u64::from(attempt) << 32)
                    .wrapping_add((k as u64) << 48),
                movement_seq_start: connection
                    .saturating_mul(BOT_ATTEMPT_SEQ_SPAN)
                    .saturating_add(if plan.account == plan.index {
                        0
                    } else {
                        TWIN_SEQ_FROM
                    }),
                script: steps.clone(),
                ..config.clone()
            };
            let account = config.account.clone();
            let client = watch.links.opened(&account, millis_now(f));
            let connected = tokio::net::TcpStream::connect(gateway_addr).await;
            let (report, step_result) = match connected {
                Ok(stream) => {
                    let (report, r) = run_bot(stream, config).await;
                    // run_bot dropped the socket: the client is closed.
                    watch.links.closed(&account, client, millis_now(f));
                    // What no client may receive: the bots' own protocol checks are a checker.
                    if let Err(
                        e @ (BotError::HeaderDidNotDecrypt { .. } | BotError::Protocol { .. }),
                    ) = &r
                    {
                        f.fail(Checker::ClientProtocol, format!("{who}: {e}"));
                    }
                    (report, r.map_err(|e| e.to_string()))
                }
                Err(e) => {
                    watch.links.closed(&account, client, millis_now(f));
                    (BotReport::default(), Err(format!("connect: {e}")))
                }
            };
            total.logins += report.logins;
            total.handoffs += report.handoffs;
            total.packets_sent += report.packets_sent;
            total.packets_received += report.packets_received;
            total.evicted |= report.evicted;
            total.whispers_sent.extend(report.whispers_sent);
            total.whispers_received.extend(report.whispers_received);
            total.whispers_informed.extend(report.whispers_informed);
            total.whispers_received_moving += report.whispers_received_moving;
            total.whispers_undeliverable += report.whispers_undeliverable;
            total.guild_sent.extend(report.guild_sent);
            total.guild_received.extend(report.guild_received);
            total.guild_echoed.extend(report.guild_echoed);
            total.guild_undeliverable += report.guild_undeliverable;
            total.world_spans.extend(report.world_spans);
            total.party_frames.extend(report.party_frames);
            total.moving_spans.extend(report.moving_spans);
            total.login_ms.extend(report.login_ms);
            total.logins_refused_ms.extend(report.logins_refused_ms);
            total
                .logins_unanswered_ms
                .extend(report.logins_unanswered_ms);
            if step_result.is_err() {
                r = step_result;
                break;
            }
        }
        match r {
            Err(e) if attempt < plan.retries => {
                t.push(f.now(), who, format!("failed: {e}; starts again"));
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(plan.retry_pause_ms)).await;
            }
            r => break r,
        }
    };
    (total, result)
}

/// Draws a swarm's faults: each one a fault and its heal, on a worldserver that is not a
/// spare, inside the window. Ordered by time.
fn swarm_faults(swarm: &Swarm, servers: &[WorldserverSpec], rng: &mut ChaCha8Rng) -> Vec<Fault> {
    let targets: Vec<&WorldserverSpec> = servers
        .iter()
        .filter(|w| !swarm.spare.contains(&w.id))
        .collect();
    let mut out = Vec::new();
    if targets.is_empty() {
        return out;
    }
    let span = swarm.until_ms - swarm.from_ms;
    for _ in 0..swarm.faults {
        let w = targets[(rng.next_u64() % targets.len() as u64) as usize];
        let target = w.id.clone();
        let at_ms = swarm.from_ms + rng.next_u64() % span;
        let heal_ms = at_ms + 1 + rng.next_u64() % swarm.fault_max_ms;
        let (hit, heal) = match rng.next_u64() % 8 {
            0 => (
                FaultKind::SlowWorld {
                    target: target.clone(),
                    world_update_ms: 1_000 + rng.next_u64() % 2_000,
                },
                FaultKind::SlowWorld {
                    target,
                    world_update_ms: 0,
                },
            ),
            1 => (
                FaultKind::Crash {
                    target: target.clone(),
                },
                FaultKind::Restart { target },
            ),
            2 => (
                FaultKind::Partition {
                    target: target.clone(),
                },
                FaultKind::Heal { target },
            ),
            3 => (
                FaultKind::Drain {
                    target: target.clone(),
                },
                FaultKind::Undrain { target },
            ),
            4 => (
                FaultKind::RefuseLogins {
                    target: target.clone(),
                    refuse: true,
                },
                FaultKind::RefuseLogins {
                    target,
                    refuse: false,
                },
            ),
            5 => (
                FaultKind::IgnorePrepare {
                    target: target.clone(),
                    ignore: true,
                },
                FaultKind::IgnorePrepare {
                    target,
                    ignore: false,
                },
            ),
            6 => {
                // Its players go to another worldserver that serves their map.
                let others: Vec<&WorldserverSpec> = servers
                    .iter()
                    .filter(|o| o.id != w.id && (o.maps.is_empty() || o.maps == w.maps))
                    .collect();
                if others.is_empty() {
                    continue;
                }
                let to = others[(rng.next_u64() % others.len() as u64) as usize]
                    .id
                    .clone();
                out.push(Fault {
                    at_ms,
                    kind: FaultKind::SwitchLayer { target, to },
                });
                continue;
            }
            _ => (
                FaultKind::Registry { reachable: false },
                FaultKind::Registry { reachable: true },
            ),
        };
        out.push(Fault { at_ms, kind: hit });
        out.push(Fault {
            at_ms: heal_ms,
            kind: heal,
        });
    }
    out.sort_by_key(|f| f.at_ms);
    out
}

/// One tap that calls each of `taps` in turn (a fake holds a single tap).
fn chain_taps(taps: Vec<PacketTap>) -> PacketTap {
    Arc::new(move |guid, opcode, body, presence, opened_ms| {
        for tap in &taps {
            tap(guid, opcode, body, presence, opened_ms);
        }
    })
}

/// Outbound connections as the gateway sees them in the simulator: madsim refuses a connect
/// to a clogged node at once, but a real partition (or a dead host) makes a connect time out,
/// and only a live host with nothing listening refuses. The gateway relies on that
/// difference, so partitioned worldservers time out here.
struct SimNet {
    partitioned: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// Worldservers reached through a relay (see [`crate::relay`]).
    relays: Arc<BTreeMap<String, SocketAddr>>,
    /// Which gateway's network this is.
    gateway: u32,
    /// Where every attempt is recorded (the backoff oracle reads it).
    log: ConnectLog,
    /// The run's clock.
    findings: Findings,
}

/// How long a connect to a partitioned worldserver takes to fail.
const PARTITIONED_CONNECT_TIMEOUT_MS: u64 = 3_000;

impl waygate::runtime::Net for SimNet {
    fn connect<'a>(
        &'a self,
        address: &'a str,
        who: waygate::runtime::ConnectFor,
    ) -> waygate::runtime::BoxFuture<'a, std::io::Result<tokio::net::TcpStream>> {
        Box::pin(async move {
            let began_ms = millis_now(&self.findings);
            let r = self.carry(address).await;
            self.log.push(Attempt {
                gateway: self.gateway,
                who,
                address: address.to_owned(),
                began_ms,
                ended_ms: millis_now(&self.findings),
                failed: r.is_err(),
            });
            r
        })
    }
}

impl SimNet {
    /// The connect itself, as a real network would carry it.
    async fn carry(&self, address: &str) -> std::io::Result<tokio::net::TcpStream> {
        let cut = self
            .partitioned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(address);
        let timed_out = || {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out (partitioned)",
            )
        };
        let began = tokio::time::Instant::now();
        let bound = Duration::from_millis(PARTITIONED_CONNECT_TIMEOUT_MS);
        if cut {
            tokio::time::sleep(bound).await;
            return Err(timed_out());
        }
        let r = match self.relays.get(address) {
            Some(relay) => tokio::net::TcpStream::connect(*relay).await,
            None => tokio::net::TcpStream::connect(address).await,
        };
        // A partition that began while the connect was in flight: madsim refuses it at
        // once, but on a real network it times out like any connect into a partition.
        let cut_now = self
            .partitioned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(address);
        match r {
            Err(e) if cut_now && e.kind() == std::io::ErrorKind::ConnectionRefused => {
                tokio::time::sleep_until(began + bound).await;
                Err(timed_out())
            }
            r => r,
        }
    }
}
