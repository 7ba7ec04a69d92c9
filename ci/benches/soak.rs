//! The soak benchmark (run by `ci/bench --soak`, never by `ci/run`): thousands of bots churn
//! through the real `waygate serve` binary on loopback for minutes, and the gateway process is
//! watched from outside for memory growth and descriptor leaks while latency probes time round
//! trips through it.
//!
//! Processes:
//! - the gateway under test: the real binary (`WAYGATE_BENCH_BIN`), embedded mode, accounts,
//!   characters and three static worldservers from a generated config (map 0 on `ws-ek`,
//!   map 1 on `ws-kal`, every other map on `ws-rest`, as `waygate demo`);
//! - this process (a multi-thread runtime): the three `FakeWorldserver`s, the bots (`run_bot`)
//!   and the probes. The fakes echo [`PROBE_OPCODE`] back as benchmarks ask; the bots never
//!   send it, so their movement heartbeats travel one way, as most client traffic does (an
//!   echo for every heartbeat would also make each bot's report pin a read buffer per packet:
//!   `BotReport::received` keeps slices of them).
//!
//! Each bot slot loops until the churn window ends, then finishes the script it is in: connect,
//! authenticate, character screen, enter world (map 0), chatter, `.tele` to map 1 (a handoff to
//! `ws-kal`), chatter, map 571 (`ws-rest`), chatter, map 0 (back to `ws-ek`), chatter, log out,
//! disconnect, pause. Slot starts are spread over the stagger so logins do not land at once.
//! At the defaults that is about 5,000 heartbeats a second into the gateway, 80 logins and 240
//! handoffs a second, and about a third of a core for the gateway on a 2-core machine: busy,
//! not saturated. Logins, handoffs and logouts are counted from each script's report as it
//! ends (the progress lines lag by up to one script); bots in world are counted on the fakes.
//!
//! Measured from outside the gateway, every [`SAMPLE_EVERY_MS`]: its RSS (`VmRSS` of
//! `/proc/<pid>/status`) and open descriptors (entries of `/proc/<pid>/fd`). The start sample
//! is the first one after every slot has been seen in world once (or, at the latest, a minute
//! after the stagger); the end sample is the first one at the end of the churn window, while
//! the bots are still in world; the peak is the largest of the run. Descriptors are counted
//! once before any client connects and again after every bot and probe has logged out and
//! disconnected: more at the end is a leak.
//!
//! Latency: `SOAK_PROBES` lean clients in world through the gateway send one [`PROBE_OPCODE`]
//! packet every `SOAK_PROBE_MS` and time its echo from `ws-ek`; as many lean clients do the
//! same straight to `ws-ek` (no gateway) at the same time, so `added_p99_us` is the gateway's
//! p99 minus the direct p99, both under the same churn. Only round trips sent inside the
//! churn window count.
//!
//! The gateway reads at most 1 MiB of config (`CONFIG_FILE_MAX_BYTES`), so accounts and
//! characters are written as compactly as TOML allows (base-36 names, one inline table a
//! line): about 5,100 bots fit, and a larger `SOAK_BOTS` fails at once saying so.
//!
//! Knobs (environment, defaults in brackets):
//! - `SOAK_BOTS` [5000]: bot slots;
//! - `SOAK_SECS` [600]: the churn window in seconds;
//! - `SOAK_STAGGER_SECS` [30]: slot starts are spread over this (at most half the window);
//! - `SOAK_CHATTER_MS` [1000]: in world, a bot sends one movement heartbeat every this many
//!   ms;
//! - `SOAK_LEG_PACKETS` [15]: heartbeats between two map changes (four legs a script);
//! - `SOAK_PAUSE_MS` [3000]: pause between a logout and the next login (drawn in 0.5x..1.5x);
//! - `SOAK_PROBES` [4]: latency probes through the gateway, and as many direct ones;
//! - `SOAK_PROBE_MS` [50]: each probe's round trip period.
//!
//! Prints a progress line to stderr every [`PROGRESS_EVERY_MS`], bot errors (the first
//! [`ERRORS_SHOWN_MAX`]) and a summary, then one stdout line:
//! `soak: bots=… secs=… logins=… handoffs=… logouts=… errors=… rss_start_mib=… rss_peak_mib=…
//! rss_end_mib=… rss_end_vs_start=…% fds_before=… fds_after=… fd_leak=yes|no p50_us=…
//! p99_us=… p999_us=… added_p99_us=…`. Exits non-zero only when the gateway died or no bot
//! ever reached the world.

#![allow(clippy::disallowed_methods)] // a benchmark measures wall time and runs a child process

#[path = "procfs.rs"]
mod procfs;
use procfs::{cpu_ns, open_fds, rss_kib};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use waygate::config::CONFIG_FILE_MAX_BYTES;
use waygate::peers::bot::{BotConfig, BotReport, BotStep, DEFAULT_MAX_BODY_BYTES, run_bot};
use waygate::peers::worldserver::{FakeCharacter, FakeTiming, FakeWorldConfig, FakeWorldserver};
use waygate::wire::auth::{
    AddonList, AuthChallenge, AuthResult, AuthSession, AuthSessionFields, compute_digest,
};
use waygate::wire::packets::{PlayerLogin, Position, WirePacket};
use waygate::wire::{
    ClientCiphers, ClientHeaderEncoder, Decoded, Opcode, Packet, ServerHeaderDecoder, SessionKey,
};

/// The gateway process is sampled this often.
const SAMPLE_EVERY_MS: u64 = 1_000;
/// A progress line this often.
const PROGRESS_EVERY_MS: u64 = 10_000;
/// The fakes' packet and event logs (kept for tests, useless here) are emptied this often.
const FORGET_LOGS_EVERY_MS: u64 = 10_000;
/// The start sample is taken this long after the stagger at the latest, even if some slot
/// was never seen in world.
const START_AFTER_STAGGER_MAX_MS: u64 = 60_000;
/// A bot's longest wait for any one reply or write.
const STEP_TIMEOUT_MS: u64 = 30_000;
/// A connect to the gateway or a fake that takes longer fails.
const CONNECT_TIMEOUT_MS: u64 = 10_000;
/// After a failed script, the slot waits this much longer before the next login.
const ERROR_BACKOFF_MS: u64 = 5_000;
/// Bot errors printed as they happen; the rest are only counted.
const ERRORS_SHOWN_MAX: usize = 10;
/// Slots get this long past the churn window, on top of one script's length, to finish.
const FINISH_GRACE_MS: u64 = 120_000;
/// After the last logout, the descriptor count may take this long to come back down.
const FD_SETTLE_MAX_MS: u64 = 15_000;
/// The descriptor count is re-read this often while it settles.
const FD_SETTLE_POLL_MS: u64 = 250;
/// The gateway must listen within this.
const GATEWAY_LISTEN_MAX_MS: u64 = 30_000;
/// Between the gateway listening and the "before" descriptor count.
const GATEWAY_SETTLE_MS: u64 = 500;
/// A direct probe waits this long after its auth session (the fake's account lookup is 10 ms
/// and bytes that arrive with the auth session wait for more bytes).
const DIRECT_LOOKUP_WAIT_MS: u64 = 100;
/// A probe's longest wait for its echo, a login or a logout.
const PROBE_TIMEOUT_MS: u64 = 10_000;
/// Round-trip samples kept per probe path.
const PROBE_SAMPLES_MAX: usize = 4_000_000;
/// Body bytes of a movement packet (bots' heartbeats and probes).
const MOVEMENT_BODY_BYTES: usize = 32;
/// What the probes send and the fakes echo: a movement opcode the gateway relays as it is and
/// the bots never send.
const PROBE_OPCODE: Opcode = Opcode::MSG_MOVE_STOP;
/// Largest server body a probe accepts.
const PROBE_MAX_BODY_BYTES: usize = 1 << 20;
/// Bytes a probe reads at once.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Extra client connections the gateway accepts beyond the bots and probes.
const CONNECTIONS_HEADROOM: usize = 64;
/// Descriptors this process needs per bot slot, about (its socket, the fake's end of the
/// gateway's worldserver link, a second link during a handoff).
const FDS_PER_BOT: u64 = 3;
/// Stagger cap: at most this share of the churn window (1/2).
const STAGGER_SHARE_OF_WINDOW_DIV: u64 = 2;

/// The worldservers: (id, maps). Map 0 Eastern Kingdoms, 1 Kalimdor, the third serves every
/// other map (an empty list is every map).
const WORLDS: [(&str, &[u32]); 3] = [("ws-ek", &[0]), ("ws-kal", &[1]), ("ws-rest", &[])];
/// Where every character starts (map 0, `ws-ek`; the origin, so the config writes it short).
const HOME: (u32, f32, f32, f32) = (0, 0.0, 0.0, 0.0);
/// Zone of [`HOME`].
const HOME_ZONE: u32 = 12;
/// The map changes of a script, in order: to `ws-kal`, to `ws-rest`, back to `ws-ek`.
const ROUTE: [(u32, f32, f32, f32); 3] = [
    (1, -618.5, -4251.7, 38.7),
    (571, 5804.1, 624.8, 647.8),
    (0, -8949.9, -132.5, 83.5),
];
/// Characters of the base-36 account names.
const BASE36_DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Bytes of config per identity, about (for the buffer's first allocation).
const CONFIG_BYTES_PER_IDENTITY: usize = 210;

// ----- settings -----------------------------------------------------------------------------

/// The run's settings, from the environment.
#[derive(Debug, Clone)]
struct Knobs {
    bots: usize,
    secs: u64,
    stagger_secs: u64,
    chatter_ms: u64,
    leg_packets: u32,
    pause_ms: u64,
    probes: usize,
    probe_ms: u64,
}

/// A number from the environment, or `default` when unset or unreadable.
fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

impl Knobs {
    /// Reads the `SOAK_*` variables.
    fn from_env() -> Self {
        let secs = env_num("SOAK_SECS", 600).max(1);
        Self {
            bots: env_num("SOAK_BOTS", 5_000).max(1) as usize,
            secs,
            stagger_secs: env_num("SOAK_STAGGER_SECS", 30).min(secs / STAGGER_SHARE_OF_WINDOW_DIV),
            chatter_ms: env_num("SOAK_CHATTER_MS", 1_000).max(1),
            leg_packets: env_num("SOAK_LEG_PACKETS", 15).max(1) as u32,
            pause_ms: env_num("SOAK_PAUSE_MS", 3_000),
            probes: env_num("SOAK_PROBES", 4) as usize,
            probe_ms: env_num("SOAK_PROBE_MS", 50).max(1),
        }
    }

    /// Accounts and characters: the bots, then the gateway probes, then the direct probes.
    fn identities(&self) -> usize {
        self.bots + 2 * self.probes
    }

    /// The identity of gateway probe `j`.
    fn gateway_probe(&self, j: usize) -> usize {
        self.bots + j
    }

    /// The identity of direct probe `j`.
    fn direct_probe(&self, j: usize) -> usize {
        self.bots + self.probes + j
    }

    /// One script's length in world, about.
    fn script_ms(&self) -> u64 {
        (ROUTE.len() as u64 + 1) * u64::from(self.leg_packets) * self.chatter_ms
    }
}

/// One bot's script: in world on map 0, three map changes across the worldservers, logout.
fn script(knobs: &Knobs) -> Vec<BotStep> {
    let chatter = BotStep::Chatter {
        packets: knobs.leg_packets,
        interval_ms: knobs.chatter_ms,
        body_bytes: MOVEMENT_BODY_BYTES,
    };
    let mut s = vec![
        BotStep::Authenticate,
        BotStep::CharacterScreen,
        BotStep::EnterWorld,
        chatter.clone(),
    ];
    for (map, x, y, z) in ROUTE {
        s.push(BotStep::ChangeMap { map, x, y, z });
        s.push(chatter.clone());
    }
    s.push(BotStep::Logout);
    s
}

// ----- identities ---------------------------------------------------------------------------

/// SplitMix64: a well-mixed number from `x` (keys, seeds, pauses).
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Account name of identity `i`, also its character's name: `i` in base 36 (upper case), as
/// short as can be, since the gateway's config file holds at most 1 MiB.
fn account(i: usize) -> String {
    let mut digits = Vec::new();
    let mut n = i;
    loop {
        digits.push(BASE36_DIGITS[n % 36]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.iter().rev().map(|&d| char::from(d)).collect()
}

/// Character guid of identity `i`.
fn guid(i: usize) -> u64 {
    i as u64 + 1
}

/// Session key of identity `i`.
fn key(i: usize) -> SessionKey {
    let mut k = [0u8; 40];
    for (j, chunk) in k.chunks_mut(8).enumerate() {
        let word = mix((i as u64) << 8 | j as u64).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    SessionKey(k)
}

// ----- the fake worldservers ----------------------------------------------------------------

/// The fakes of [`WORLDS`], serving on loopback. Cloning shares them.
#[derive(Clone)]
struct Cluster {
    fakes: Vec<FakeWorldserver>,
    addrs: Vec<SocketAddr>,
}

impl Cluster {
    /// Starts one fake per [`WORLDS`] entry, each knowing every identity's account and
    /// character (at [`HOME`]) and echoing [`PROBE_OPCODE`].
    async fn start(identities: usize) -> Self {
        let (map, x, y, z) = HOME;
        let characters: Vec<FakeCharacter> = (0..identities)
            .map(|i| FakeCharacter {
                guid: guid(i),
                account: account(i),
                name: account(i),
                map,
                position: Position {
                    x,
                    y,
                    z,
                    orientation: 0.0,
                },
                loads: true,
            })
            .collect();
        let accounts: Vec<String> = (0..identities).map(account).collect();
        let mut fakes = Vec::new();
        let mut addrs = Vec::new();
        for (id, _) in WORLDS {
            let fake = FakeWorldserver::new(FakeWorldConfig {
                id: id.into(),
                accounts: accounts.clone(),
                characters: characters.clone(),
                timing: FakeTiming::default(),
                echo_opcode: Some(PROBE_OPCODE),
            });
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port for a fake worldserver");
            addrs.push(listener.local_addr().expect("the fake's address"));
            let serving = fake.clone();
            tokio::spawn(async move {
                if let Err(e) = serving.serve(listener).await {
                    eprintln!("soak: fake worldserver {} stopped: {e}", serving.id());
                }
            });
            fakes.push(fake);
        }
        Self { fakes, addrs }
    }

    /// The bots (identities below `bots`) in world on any fake now, each once, in `out`.
    fn bots_in_world(&self, bots: usize, out: &mut Vec<usize>) {
        out.clear();
        for fake in &self.fakes {
            out.extend(
                fake.in_world_guids()
                    .into_iter()
                    .filter_map(|g| usize::try_from(g.checked_sub(1)?).ok())
                    .filter(|&i| i < bots),
            );
        }
        out.sort_unstable();
        out.dedup();
    }

    /// Empties the fakes' packet and event logs (their memory would grow with the run).
    fn forget_logs(&self) {
        for fake in &self.fakes {
            fake.forget_logs();
        }
    }
}

// ----- the gateway process ------------------------------------------------------------------

/// The `waygate serve` config: an account and a character per client identity (the bots and
/// the gateway probes) at [`HOME`], the three fakes as static worldservers, logs at warn.
/// Accounts and characters are inline tables, one a line, as short as TOML allows: the
/// gateway reads at most [`CONFIG_FILE_MAX_BYTES`] (1 MiB) of config, which holds about 5,100
/// identities written this way (and about 3,500 in the long form of `waygate.example.toml`).
fn gateway_config(listen: u16, knobs: &Knobs, worlds: &[SocketAddr]) -> String {
    let clients = knobs.bots + knobs.probes;
    let mut c = String::with_capacity(clients * CONFIG_BYTES_PER_IDENTITY);
    c.push_str("accounts = [\n");
    for i in 0..clients {
        let hex: String = key(i).0.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(c, "{{name=\"{}\",session_key=\"{hex}\"}},", account(i));
    }
    c.push_str("]\ncharacters = [\n");
    let (map, x, y, z) = HOME;
    for i in 0..clients {
        let _ = writeln!(
            c,
            "{{guid={},account=\"{a}\",name=\"{a}\",race=1,class=1,gender=0,level=1,map={map},zone={HOME_ZONE},x={x},y={y},z={z}}},",
            guid(i),
            a = account(i),
        );
    }
    let _ = write!(
        c,
        "]\n[gateway]\nlisten = \"127.0.0.1:{listen}\"\nmax_connections = {}\nlog_level = \"warn\"\n",
        clients + CONNECTIONS_HEADROOM
    );
    for ((id, maps), addr) in WORLDS.iter().zip(worlds) {
        let _ = write!(
            c,
            "[[worldservers]]\nid = \"{id}\"\naddress = \"{addr}\"\nmaps = {maps:?}\n"
        );
    }
    c
}

/// The gateway child process; killed when dropped.
struct Gateway {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Gateway {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Why the process ended, if it has.
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("cannot be waited for: {e}")),
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Writes `config` into `dir` and starts `$WAYGATE_BENCH_BIN serve --config …` with its logs
/// (stderr) in `dir/gateway.log`; returns once it listens on `port`.
fn spawn_gateway(config: &str, port: u16, dir: &Path) -> Result<Gateway, String> {
    let bin = std::env::var_os("WAYGATE_BENCH_BIN")
        .map(PathBuf::from)
        .expect("WAYGATE_BENCH_BIN: the waygate binary (ci/bench builds it)");
    let path = dir.join("soak.toml");
    std::fs::write(&path, config).expect("config written");
    let log = dir.join("gateway.log");
    let child = Command::new(bin)
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(File::create(&log).expect("gateway log file"))
        .spawn()
        .expect("waygate serve");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut gateway = Gateway { child, addr, log };
    let began = std::time::Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        if let Some(status) = gateway.exited() {
            let said = std::fs::read_to_string(&gateway.log).unwrap_or_default();
            return Err(format!(
                "the gateway exited before listening ({status}): {}",
                said.trim()
            ));
        }
        if began.elapsed() >= Duration::from_millis(GATEWAY_LISTEN_MAX_MS) {
            return Err(format!(
                "the gateway did not listen within {GATEWAY_LISTEN_MAX_MS} ms"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(gateway)
}

// ----- measuring a process from outside -----------------------------------------------------

/// This process's soft limit on open descriptors, if `/proc` says.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// KiB as MiB.
fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One look at the gateway process.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Milliseconds since the slots started.
    at_ms: u64,
    rss_kib: u64,
    fds: u64,
}

/// A process's CPU share between two looks, in percent of one core.
struct CpuMeter {
    pid: u32,
    last_ns: u64,
    last_at: Instant,
}

impl CpuMeter {
    fn new(pid: u32) -> Self {
        Self {
            pid,
            last_ns: cpu_ns(pid),
            last_at: Instant::now(),
        }
    }

    /// Percent of one core since the last call.
    fn percent(&mut self) -> f64 {
        let (ns, at) = (cpu_ns(self.pid), Instant::now());
        let wall = at.duration_since(self.last_at).as_nanos().max(1) as f64;
        let p = ns.saturating_sub(self.last_ns) as f64 * 100.0 / wall;
        (self.last_ns, self.last_at) = (ns, at);
        p
    }
}

// ----- the bots -----------------------------------------------------------------------------

/// What the bots did, summed over every script as it ends.
#[derive(Default)]
struct Tally {
    logins: AtomicU64,
    handoffs: AtomicU64,
    logouts: AtomicU64,
    errors: AtomicU64,
    packets: AtomicU64,
    scripts: AtomicU64,
    slots_done: AtomicUsize,
    first_errors: Mutex<Vec<String>>,
}

impl Tally {
    /// Adds one script's report.
    fn add(&self, r: &BotReport) {
        self.logins
            .fetch_add(u64::from(r.logins), Ordering::Relaxed);
        self.handoffs
            .fetch_add(u64::from(r.handoffs), Ordering::Relaxed);
        self.logouts
            .fetch_add(u64::from(r.logouts), Ordering::Relaxed);
        self.packets
            .fetch_add(r.packets_sent + r.packets_received, Ordering::Relaxed);
        self.scripts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an error; the first [`ERRORS_SHOWN_MAX`] are printed and kept.
    fn error(&self, what: String) {
        let n = self.errors.fetch_add(1, Ordering::Relaxed);
        if (n as usize) < ERRORS_SHOWN_MAX {
            eprintln!("soak error: {what}");
            self.first_errors
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(what);
        }
    }

    /// The first error, or nothing.
    fn first_error(&self) -> String {
        self.first_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first()
            .cloned()
            .unwrap_or_default()
    }

    /// A counter's value now.
    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What every slot shares.
struct Plan {
    knobs: Knobs,
    gateway: SocketAddr,
    script: Vec<BotStep>,
    /// When the slots started.
    began: Instant,
    /// No slot starts a script after this.
    churn_end: Instant,
    tally: Tally,
}

impl Plan {
    /// When slot `i` starts: spread evenly over the stagger.
    fn start_of(&self, i: usize) -> Instant {
        let stagger_ms = self.knobs.stagger_secs * 1_000;
        self.began + Duration::from_millis(stagger_ms * i as u64 / self.knobs.bots as u64)
    }

    /// The pause after script `cycle` of slot `i`: 0.5x to 1.5x `SOAK_PAUSE_MS`.
    fn pause_after(&self, i: usize, cycle: u64) -> Duration {
        let base = self.knobs.pause_ms;
        let draw = mix((i as u64) << 32 ^ cycle) % (base + 1);
        Duration::from_millis(base / 2 + draw)
    }
}

/// One bot slot: scripts back to back, each followed by a pause, until the churn window ends.
async fn slot(plan: Arc<Plan>, i: usize) {
    tokio::time::sleep_until(plan.start_of(i)).await;
    let mut cycle = 0u64;
    while Instant::now() < plan.churn_end {
        let ok = play_once(&plan, i, cycle).await;
        cycle += 1;
        if Instant::now() >= plan.churn_end {
            break;
        }
        let mut pause = plan.pause_after(i, cycle);
        if !ok {
            pause += Duration::from_millis(ERROR_BACKOFF_MS);
        }
        tokio::time::sleep(pause).await;
    }
    plan.tally.slots_done.fetch_add(1, Ordering::Relaxed);
}

/// Connects and plays the script once; false if it failed (the error is tallied).
async fn play_once(plan: &Plan, i: usize, cycle: u64) -> bool {
    let connect = tokio::time::timeout(
        Duration::from_millis(CONNECT_TIMEOUT_MS),
        TcpStream::connect(plan.gateway),
    );
    let stream = match connect.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            plan.tally
                .error(format!("bot {i} script {cycle}: connect: {e}"));
            return false;
        }
        Err(_) => {
            plan.tally
                .error(format!("bot {i} script {cycle}: connect timed out"));
            return false;
        }
    };
    let config = BotConfig {
        account: account(i),
        session_key: key(i),
        realm_id: 1,
        seed: mix((i as u64) << 32 | cycle),
        character: guid(i),
        script: plan.script.clone(),
        step_timeout_ms: STEP_TIMEOUT_MS,
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        movement_seq_start: 0,
    };
    let (report, result) = run_bot(stream, config).await;
    plan.tally.add(&report);
    match result {
        Ok(()) => true,
        Err(e) => {
            plan.tally.error(format!("bot {i} script {cycle}: {e}"));
            false
        }
    }
}

// ----- the latency probes -------------------------------------------------------------------

/// A lean client in world: headers encrypted through the gateway, plain straight to a fake.
struct Probe {
    stream: TcpStream,
    dec: ServerHeaderDecoder,
    enc: ClientHeaderEncoder,
    out: BytesMut,
}

impl Probe {
    /// Connects to `addr` (the gateway when `through_gateway`, else a fake) as identity `i`
    /// and enters the world.
    async fn enter(addr: SocketAddr, i: usize, through_gateway: bool) -> Result<Self, String> {
        let connect = tokio::time::timeout(
            Duration::from_millis(CONNECT_TIMEOUT_MS),
            TcpStream::connect(addr),
        );
        let stream = match connect.await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(format!("connect: {e}")),
            Err(_) => return Err("connect timed out".into()),
        };
        let _ = stream.set_nodelay(true);
        let mut p = Self {
            stream,
            dec: ServerHeaderDecoder::for_gateway(PROBE_MAX_BODY_BYTES),
            enc: ClientHeaderEncoder::plain(),
            out: BytesMut::new(),
        };
        let challenge = p.expect(Opcode::SMSG_AUTH_CHALLENGE).await?;
        let challenge = AuthChallenge::decode(&challenge.body)
            .map_err(|e| format!("SMSG_AUTH_CHALLENGE: {e}"))?;
        let client_seed = mix(i as u64) as u32;
        let body = AuthSession::encode(&AuthSessionFields {
            account: account(i),
            client_seed,
            realm_id: 1,
            digest: compute_digest(&account(i), client_seed, challenge.server_seed, &key(i)),
            addon_block: AddonList::default().encode_block(),
        });
        p.send(Opcode::CMSG_AUTH_SESSION, &body).await?;
        if through_gateway {
            let ciphers = ClientCiphers::new(&key(i));
            p.enc.start_cipher(ciphers.outbound);
            p.dec.start_cipher(ciphers.inbound);
            let answer = p.expect(Opcode::SMSG_AUTH_RESPONSE).await?;
            if answer.body.first() != Some(&AuthResult::OK.0) {
                return Err(format!("auth refused: {:02x?}", answer.body.first()));
            }
        } else {
            // A fake answers a good auth session with nothing.
            tokio::time::sleep(Duration::from_millis(DIRECT_LOOKUP_WAIT_MS)).await;
        }
        let login = PlayerLogin { guid: guid(i) };
        p.send(PlayerLogin::OPCODE, &login.to_body()).await?;
        p.expect(Opcode::SMSG_TIME_SYNC_REQ).await?;
        Ok(p)
    }

    /// Sends one packet.
    async fn send(&mut self, opcode: Opcode, body: &[u8]) -> Result<(), String> {
        self.out.clear();
        self.enc
            .encode(opcode, body, &mut self.out)
            .map_err(|e| format!("encode {opcode}: {e}"))?;
        self.stream
            .write_all(&self.out)
            .await
            .map_err(|e| format!("write: {e}"))
    }

    /// The next packet, within [`PROBE_TIMEOUT_MS`].
    async fn next(&mut self) -> Result<Packet, String> {
        let deadline = Instant::now() + Duration::from_millis(PROBE_TIMEOUT_MS);
        loop {
            match self.dec.decode() {
                Ok(Decoded::Packet(p)) => return Ok(p),
                Ok(Decoded::NeedMore(_)) => {}
                Err(e) => return Err(format!("server header: {e}")),
            }
            let buf = self.dec.buffer_mut();
            buf.reserve(READ_CHUNK_BYTES);
            match tokio::time::timeout_at(deadline, self.stream.read_buf(buf)).await {
                Err(_) => return Err(format!("nothing for {PROBE_TIMEOUT_MS} ms")),
                Ok(Ok(0)) => return Err("connection closed".into()),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Packets until one with `opcode`.
    async fn expect(&mut self, opcode: Opcode) -> Result<Packet, String> {
        loop {
            let p = self
                .next()
                .await
                .map_err(|e| format!("waiting for {opcode}: {e}"))?;
            if p.opcode == opcode {
                return Ok(p);
            }
        }
    }

    /// One [`PROBE_OPCODE`] packet carrying `seq`, and the time until its echo comes back.
    async fn round_trip(&mut self, seq: u64) -> Result<Duration, String> {
        let mut body = [0u8; MOVEMENT_BODY_BYTES];
        body[..8].copy_from_slice(&seq.to_le_bytes());
        let sent = Instant::now();
        self.send(PROBE_OPCODE, &body).await?;
        loop {
            let p = self.expect(PROBE_OPCODE).await?;
            if p.body.get(..8) == Some(&seq.to_le_bytes()[..]) {
                return Ok(sent.elapsed());
            }
        }
    }

    /// Logs out politely and closes.
    async fn logout(mut self) -> Result<(), String> {
        self.send(Opcode::CMSG_LOGOUT_REQUEST, &[]).await?;
        self.expect(Opcode::SMSG_LOGOUT_COMPLETE).await?;
        Ok(())
    }
}

/// Round trips of one probe path, in microseconds.
type Rtts = Arc<Mutex<Vec<u64>>>;

/// One probe: in world, a round trip every `SOAK_PROBE_MS` until `stop`; round trips sent
/// inside the churn window land in `rtts`. Then a logout.
async fn run_probe(
    plan: Arc<Plan>,
    addr: SocketAddr,
    i: usize,
    through_gateway: bool,
    stop: Arc<AtomicBool>,
    rtts: Rtts,
) {
    let path = if through_gateway { "gateway" } else { "direct" };
    let mut probe = match Probe::enter(addr, i, through_gateway).await {
        Ok(p) => p,
        Err(e) => return plan.tally.error(format!("{path} probe {i}: {e}")),
    };
    let mut tick = tokio::time::interval(Duration::from_millis(plan.knobs.probe_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let at = Instant::now();
        match probe.round_trip(seq).await {
            Ok(rtt) => {
                if at >= plan.began && at < plan.churn_end {
                    let mut v = rtts.lock().unwrap_or_else(PoisonError::into_inner);
                    if v.len() < PROBE_SAMPLES_MAX {
                        v.push(u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX));
                    }
                }
            }
            Err(e) => return plan.tally.error(format!("{path} probe {i}: {e}")),
        }
        seq += 1;
    }
    if let Err(e) = probe.logout().await {
        plan.tally.error(format!("{path} probe {i}: logout: {e}"));
    }
}

/// The probes of both paths while they run.
struct Probes {
    stop: Arc<AtomicBool>,
    through: Rtts,
    direct: Rtts,
    tasks: Vec<JoinHandle<()>>,
}

impl Probes {
    /// Starts `SOAK_PROBES` probes through the gateway and as many straight to `direct_to`.
    fn start(plan: &Arc<Plan>, direct_to: SocketAddr) -> Self {
        let mut p = Self {
            stop: Arc::new(AtomicBool::new(false)),
            through: Rtts::default(),
            direct: Rtts::default(),
            tasks: Vec::new(),
        };
        for j in 0..plan.knobs.probes {
            let paths = [
                (plan.gateway, plan.knobs.gateway_probe(j), true, &p.through),
                (direct_to, plan.knobs.direct_probe(j), false, &p.direct),
            ];
            for (addr, i, through, rtts) in paths {
                let probe = run_probe(plan.clone(), addr, i, through, p.stop.clone(), rtts.clone());
                p.tasks.push(tokio::spawn(probe));
            }
        }
        p
    }

    /// Stops the probes (each logs out) and returns both paths' percentiles: through the
    /// gateway, then direct.
    async fn finish(self) -> (Percentiles, Percentiles) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_millis(2 * PROBE_TIMEOUT_MS), t).await;
        }
        (percentiles(&self.through), percentiles(&self.direct))
    }
}

/// How many round trips, and their p50, p99 and p99.9 in microseconds.
type Percentiles = (usize, [Option<u64>; 3]);

/// The value at quantile `q` of sorted samples.
fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(at).copied()
}

/// p50, p99, p99.9 of a probe path, in microseconds.
fn percentiles(rtts: &Rtts) -> Percentiles {
    let mut v = rtts.lock().unwrap_or_else(PoisonError::into_inner).clone();
    v.sort_unstable();
    (
        v.len(),
        [quantile(&v, 0.50), quantile(&v, 0.99), quantile(&v, 0.999)],
    )
}

/// A number, or `n/a`.
fn or_na(v: Option<impl std::fmt::Display>) -> String {
    v.map_or_else(|| "n/a".into(), |v| v.to_string())
}

// ----- the run ------------------------------------------------------------------------------

/// The gateway watched every [`SAMPLE_EVERY_MS`] while the slots play.
struct Watch {
    samples: Vec<Sample>,
    /// Slots seen in world at least once.
    seen: Vec<bool>,
    seen_count: usize,
    /// Index in `samples` of the start and end samples, once taken.
    start: Option<usize>,
    end: Option<usize>,
    /// Why the start sample was taken when it was.
    start_reason: &'static str,
    in_world: usize,
    scratch: Vec<usize>,
}

impl Watch {
    fn new(bots: usize) -> Self {
        Self {
            samples: Vec::new(),
            seen: vec![false; bots],
            seen_count: 0,
            start: None,
            end: None,
            start_reason: "",
            in_world: 0,
            scratch: Vec::new(),
        }
    }

    /// Takes one sample of the gateway and of who is in world; None if the gateway is gone.
    fn sample(&mut self, plan: &Plan, cluster: &Cluster, pid: u32) -> Option<Sample> {
        let now = Instant::now();
        let s = Sample {
            at_ms: now.saturating_duration_since(plan.began).as_millis() as u64,
            rss_kib: rss_kib(pid)?,
            fds: open_fds(pid)?,
        };
        cluster.bots_in_world(plan.knobs.bots, &mut self.scratch);
        self.in_world = self.scratch.len();
        for &i in &self.scratch {
            if !self.seen[i] {
                self.seen[i] = true;
                self.seen_count += 1;
            }
        }
        self.samples.push(s);
        let index = self.samples.len() - 1;
        let stagger_end = plan.began + Duration::from_secs(plan.knobs.stagger_secs);
        if self.start.is_none() {
            if self.seen_count == plan.knobs.bots {
                self.start = Some(index);
                self.start_reason = "every slot seen in world once";
            } else if now >= stagger_end + Duration::from_millis(START_AFTER_STAGGER_MAX_MS)
                || now >= plan.churn_end
            {
                self.start = Some(index);
                self.start_reason = "not every slot seen in world: taken at the ramp's deadline";
            }
        }
        if self.end.is_none() && now >= plan.churn_end {
            self.end = Some(index);
        }
        Some(s)
    }
}

/// What the run ends with, for the `soak:` line.
struct Outcome {
    rss: [u64; 3],
    fds_before: u64,
    fds_after: u64,
    gateway: Percentiles,
    direct: Percentiles,
}

fn main() {
    let knobs = Knobs::from_env();
    let dir = std::env::temp_dir().join(format!("waygate-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let need = FDS_PER_BOT * knobs.bots as u64;
    if let Some(limit) = open_files_limit()
        && limit < need
    {
        eprintln!(
            "soak: warning: {limit} open files allowed, about {need} needed (raise `ulimit -n`)"
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let code = rt.block_on(run(knobs, &dir));
    std::process::exit(code);
}

/// The whole soak; the process's exit code.
async fn run(knobs: Knobs, dir: &Path) -> i32 {
    let cluster = Cluster::start(knobs.identities()).await;
    let port = free_port();
    let config = gateway_config(port, &knobs, &cluster.addrs);
    if config.len() > CONFIG_FILE_MAX_BYTES {
        println!(
            "soak: failed: {} bots need a {}-byte gateway config; the gateway reads at most {CONFIG_FILE_MAX_BYTES}",
            knobs.bots,
            config.len()
        );
        let _ = std::fs::remove_dir_all(dir);
        return 1;
    }
    let mut gateway = match spawn_gateway(&config, port, dir) {
        Ok(g) => g,
        Err(e) => {
            println!("soak: failed: {e}");
            return 1;
        }
    };
    drop(config);
    tokio::time::sleep(Duration::from_millis(GATEWAY_SETTLE_MS)).await;
    let pid = gateway.pid();
    let Some(fds_before) = open_fds(pid) else {
        println!("soak: failed: the gateway is gone before the first bot");
        return 1;
    };
    announce(&knobs, pid, fds_before);
    let began = Instant::now();
    let plan = Arc::new(Plan {
        script: script(&knobs),
        gateway: gateway.addr,
        began,
        churn_end: began + Duration::from_secs(knobs.secs),
        knobs,
        tally: Tally::default(),
    });
    let probes = Probes::start(&plan, cluster.addrs[0]);
    let slots: Vec<JoinHandle<()>> = (0..plan.knobs.bots)
        .map(|i| tokio::spawn(slot(plan.clone(), i)))
        .collect();
    let watch = match watch_slots(&plan, &cluster, &mut gateway).await {
        Ok(w) => w,
        Err(code) => return code,
    };
    for s in &slots {
        s.abort();
    }
    let (through, direct) = probes.finish().await;
    let slots_ms = began.elapsed().as_millis().max(1) as f64;
    let fds_after = settle_fds(pid, fds_before).await;
    let rss_after = rss_kib(pid).unwrap_or(0);
    if let Some(status) = gateway.exited() {
        println!(
            "soak: failed: the gateway exited ({status}) at the end; see {}",
            gateway.log.display()
        );
        return 1;
    }
    if watch.seen_count == 0 {
        println!(
            "soak: failed: no bot reached the world (first error: {})",
            plan.tally.first_error()
        );
        return 1;
    }
    let outcome = Outcome {
        rss: rss_marks(&watch),
        fds_before,
        fds_after,
        gateway: through,
        direct,
    };
    summarize(&plan, &watch, &outcome, rss_after, slots_ms);
    report_gateway_log(&gateway.log);
    drop(gateway);
    let _ = std::fs::remove_dir_all(dir);
    println!("{}", soak_line(&plan, &outcome));
    0
}

/// The first line on stderr: the settings and the gateway before any client.
fn announce(knobs: &Knobs, pid: u32, fds: u64) {
    eprintln!(
        "soak start: {} bots for {} s (stagger {} s, a heartbeat every {} ms, {} a leg, pause {} ms), {} probes each way every {} ms; gateway pid {pid}, {fds} fds, {:.1} MiB",
        knobs.bots,
        knobs.secs,
        knobs.stagger_secs,
        knobs.chatter_ms,
        knobs.leg_packets,
        knobs.pause_ms,
        knobs.probes,
        knobs.probe_ms,
        mib(rss_kib(pid).unwrap_or(0)),
    );
}

/// Samples the gateway until every slot is done (or the grace after the churn window runs
/// out), printing progress: what it saw, or the exit code if the gateway died. The sampling
/// (thousands of `/proc` entries, the fakes' locks) runs on the blocking pool, off the
/// runtime's workers, so it does not delay the probes it would measure.
async fn watch_slots(
    plan: &Arc<Plan>,
    cluster: &Cluster,
    gateway: &mut Gateway,
) -> Result<Watch, i32> {
    let mut watch = Watch::new(plan.knobs.bots);
    let pid = gateway.pid();
    let finish_by = plan.churn_end
        + Duration::from_millis(plan.knobs.script_ms() + plan.knobs.pause_ms + FINISH_GRACE_MS);
    let mut tick = tokio::time::interval(Duration::from_millis(SAMPLE_EVERY_MS));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut gw_cpu = CpuMeter::new(pid);
    let mut own_cpu = CpuMeter::new(std::process::id());
    let mut next_progress = plan.began + Duration::from_millis(PROGRESS_EVERY_MS);
    let mut next_forget = plan.began + Duration::from_millis(FORGET_LOGS_EVERY_MS);
    loop {
        tick.tick().await;
        let dead = gateway.exited();
        let now = Instant::now();
        let forget = now >= next_forget;
        if forget {
            next_forget += Duration::from_millis(FORGET_LOGS_EVERY_MS);
        }
        let (p, c) = (plan.clone(), cluster.clone());
        let sampled = tokio::task::spawn_blocking(move || {
            let s = watch.sample(&p, &c, pid);
            if forget {
                c.forget_logs();
            }
            (watch, s)
        });
        let sample;
        (watch, sample) = sampled.await.expect("the sampler");
        let (Some(s), None) = (sample, &dead) else {
            println!(
                "soak: failed: the gateway exited unasked ({}) after {} s; see {}",
                dead.unwrap_or_else(|| "gone".into()),
                plan.began.elapsed().as_secs(),
                gateway.log.display()
            );
            return Err(1);
        };
        let done = plan.tally.slots_done.load(Ordering::Relaxed);
        if now >= next_progress {
            next_progress += Duration::from_millis(PROGRESS_EVERY_MS);
            progress(plan, &watch, &s, gw_cpu.percent(), own_cpu.percent());
        }
        if done >= plan.knobs.bots {
            return Ok(watch);
        }
        if now >= finish_by {
            let left = plan.knobs.bots - done;
            for _ in 0..left {
                plan.tally
                    .error("a bot slot did not finish its last script in time".into());
            }
            return Ok(watch);
        }
    }
}

/// One progress line on stderr.
fn progress(plan: &Plan, watch: &Watch, s: &Sample, gw_cpu: f64, own_cpu: f64) {
    let t = &plan.tally;
    eprintln!(
        "soak {:>4}s: in_world={} seen={}/{} logins={} handoffs={} logouts={} errors={} rss_mib={:.1} fds={} gw_cpu={:.0}% self_cpu={:.0}% self_rss_mib={:.0}",
        s.at_ms / 1_000,
        watch.in_world,
        watch.seen_count,
        plan.knobs.bots,
        Tally::get(&t.logins),
        Tally::get(&t.handoffs),
        Tally::get(&t.logouts),
        Tally::get(&t.errors),
        mib(s.rss_kib),
        s.fds,
        gw_cpu,
        own_cpu,
        mib(rss_kib(std::process::id()).unwrap_or(0)),
    );
}

/// Re-reads the gateway's descriptors until they are back to `before` or
/// [`FD_SETTLE_MAX_MS`] passed; the last count.
async fn settle_fds(pid: u32, before: u64) -> u64 {
    let until = Instant::now() + Duration::from_millis(FD_SETTLE_MAX_MS);
    loop {
        let fds = open_fds(pid).unwrap_or(u64::MAX);
        if fds <= before || Instant::now() >= until {
            return fds;
        }
        tokio::time::sleep(Duration::from_millis(FD_SETTLE_POLL_MS)).await;
    }
}

/// RSS at the start sample, the peak, and the end sample (KiB).
fn rss_marks(watch: &Watch) -> [u64; 3] {
    let at = |i: Option<usize>| {
        i.and_then(|i| watch.samples.get(i))
            .map_or(0, |s| s.rss_kib)
    };
    let peak = watch.samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    [at(watch.start), peak, at(watch.end)]
}

/// The summary lines on stderr: when the marks were taken, throughput, probes, errors.
fn summarize(plan: &Plan, watch: &Watch, o: &Outcome, rss_after: u64, slots_ms: f64) {
    let t = &plan.tally;
    let when = |i: Option<usize>| {
        i.and_then(|i| watch.samples.get(i))
            .map_or("never".to_owned(), |s| format!("{} s", s.at_ms / 1_000))
    };
    eprintln!(
        "soak summary: start sample at {} ({}), end sample at {}; {} scripts; bot packets {} ({:.0}/s through the gateway, both directions)",
        when(watch.start),
        watch.start_reason,
        when(watch.end),
        Tally::get(&t.scripts),
        Tally::get(&t.packets),
        Tally::get(&t.packets) as f64 * 1_000.0 / slots_ms,
    );
    let show = |(n, p): Percentiles| {
        format!(
            "n={n} p50/p99/p99.9 {}/{}/{} us",
            or_na(p[0]),
            or_na(p[1]),
            or_na(p[2])
        )
    };
    eprintln!(
        "soak summary: probes through the gateway {}; straight to ws-ek {}; gateway RSS after the last logout {:.1} MiB",
        show(o.gateway),
        show(o.direct),
        mib(rss_after),
    );
    let errors = t
        .first_errors
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let mut by_step: BTreeMap<String, usize> = BTreeMap::new();
    for e in errors.iter() {
        let step = e.split(": ").nth(1).unwrap_or("?").to_owned();
        *by_step.entry(step).or_insert(0) += 1;
    }
    if !by_step.is_empty() {
        eprintln!(
            "soak summary: {} errors; the first {} by step: {by_step:?}",
            Tally::get(&t.errors),
            errors.len()
        );
    }
}

/// Prints how many lines the gateway logged (warn and above) and the first few.
fn report_gateway_log(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return;
    }
    eprintln!("soak gateway log: {} lines, the first:", lines.len());
    for l in lines.iter().take(ERRORS_SHOWN_MAX) {
        eprintln!("soak gateway log: {l}");
    }
}

/// The one stdout line.
fn soak_line(plan: &Plan, o: &Outcome) -> String {
    let t = &plan.tally;
    let [start, peak, end] = o.rss;
    let vs = if start > 0 {
        format!("{:+.1}", (end as f64 - start as f64) * 100.0 / start as f64)
    } else {
        "n/a".into()
    };
    let added = match (o.gateway.1[1], o.direct.1[1]) {
        (Some(g), Some(d)) => (g as i64 - d as i64).to_string(),
        _ => "n/a".into(),
    };
    format!(
        "soak: bots={} secs={} logins={} handoffs={} logouts={} errors={} rss_start_mib={:.1} rss_peak_mib={:.1} rss_end_mib={:.1} rss_end_vs_start={vs}% fds_before={} fds_after={} fd_leak={} p50_us={} p99_us={} p999_us={} added_p99_us={added}",
        plan.knobs.bots,
        plan.knobs.secs,
        Tally::get(&t.logins),
        Tally::get(&t.handoffs),
        Tally::get(&t.logouts),
        Tally::get(&t.errors),
        mib(start),
        mib(peak),
        mib(end),
        o.fds_before,
        o.fds_after,
        if o.fds_after > o.fds_before {
            "yes"
        } else {
            "no"
        },
        or_na(o.gateway.1[0]),
        or_na(o.gateway.1[1]),
        or_na(o.gateway.1[2]),
    )
}
