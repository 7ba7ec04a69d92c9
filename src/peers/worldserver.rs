//! A fake ToCloud9 cluster-mode AzerothCore worldserver (PROTOCOL.md section 3), awkward
//! behaviours included: the replayed auth with no reply, reading paused during the account
//! lookup with pipelined bytes left unparsed until more arrive, logged-in opcodes dropped while
//! loading or in teleport limbo, PREPARE -> save -> READY -> kick, the 60 s linger after an
//! unclean disconnect, the ping overspeed rule, map reassignment, crashes.
//!
//! All state that the gateway's safety depends on (who is in world where) lives in one shared
//! structure, so [`FakeWorldserver::presence`] is exact at every await point.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::wire::auth::{AuthChallenge, AuthResponse, AuthResult, AuthSession};
use crate::wire::codec::{Reader, WriteExt};
use crate::wire::packets::{
    AccountDataTimes, LoginVerifyWorld, LogoutResponse, MapPosition, Motd, NewWorld, Ping,
    PlayerLogin, Pong, Position, ReadyForRedirect, TimeSyncReq, TransferPending, WirePacket,
};
use crate::wire::update::{
    CompressedUpdateObject, LivingMovement, MovementBlock, Placement, TYPEID_PLAYER, UpdateBlock,
    UpdateMask, UpdateObject, update_flags,
};
use crate::wire::{ClientHeaderDecoder, Decoded, Opcode, Packet, ServerHeaderEncoder};

/// Client packets logged per character for [`FakeWorldserver::received`].
pub const RECEIVED_LOG_MAX: usize = 4_096;
/// Events kept for [`FakeWorldserver::events`].
pub const EVENT_LOG_MAX: usize = 16_384;
/// Commands queued per connection (pushes from tests, kicks).
const CONN_COMMANDS_MAX: usize = 1_024;
/// Bytes read from a socket at once.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// The `/ready` text emote that hurries a map-reassignment redirect.
const EMOTE_READY: u32 = 126;

/// A character the fake can load.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeCharacter {
    /// Guid.
    pub guid: u64,
    /// Owning account (the worldserver does not check it).
    pub account: String,
    /// Name.
    pub name: String,
    /// Map it was saved on.
    pub map: u32,
    /// Position it was saved at.
    pub position: Position,
    /// false: fails to load (socket closed with no packet).
    pub loads: bool,
}

/// The fake's timing, modelled on the real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeTiming {
    /// Account lookup after AUTH_SESSION (reading pauses meanwhile).
    pub account_lookup_ms: u64,
    /// Saving a character before READY_FOR_REDIRECT.
    pub save_ms: u64,
    /// Kick after READY_FOR_REDIRECT.
    pub kick_after_ready_ms: u64,
    /// An in-world player stays this long after an unclean disconnect.
    pub linger_ms: u64,
    /// First repeat of SMSG_TIME_SYNC_REQ after entering the world.
    pub time_sync_first_ms: u64,
    /// Later repeats.
    pub time_sync_every_ms: u64,
    /// Non-instant logout delay.
    pub logout_delay_ms: u64,
    /// Idle timeout in world.
    pub idle_in_world_ms: u64,
    /// Idle timeout at the character screen.
    pub idle_char_screen_ms: u64,
    /// Pings closer than this count as too fast; more than two in a row close the socket.
    pub ping_min_interval_ms: u64,
    /// Map reassignment: warning to redirect.
    pub map_reassign_warning_ms: u64,
    /// Map reassignment: warning to second warning.
    pub map_reassign_second_warning_ms: u64,
}

impl Default for FakeTiming {
    fn default() -> Self {
        Self {
            account_lookup_ms: 10,
            save_ms: 5,
            kick_after_ready_ms: 100,
            linger_ms: 60_000,
            time_sync_first_ms: 5_000,
            time_sync_every_ms: 10_000,
            logout_delay_ms: 20_000,
            idle_in_world_ms: 60_000,
            idle_char_screen_ms: 900_000,
            ping_min_interval_ms: 27_000,
            map_reassign_warning_ms: 60_000,
            map_reassign_second_warning_ms: 55_000,
        }
    }
}

/// How the fake is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeWorldConfig {
    /// Registry id (also seeds the fake's RNG).
    pub id: String,
    /// Accounts with a session key row; others are refused with 0x15.
    pub accounts: Vec<String>,
    /// Characters it can load.
    pub characters: Vec<FakeCharacter>,
    /// Timing.
    pub timing: FakeTiming,
    /// Echo every in-world client packet with this opcode back (benchmarks).
    pub echo_opcode: Option<Opcode>,
}

/// Where a character is on this worldserver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Presence {
    /// Not here.
    Absent,
    /// Being loaded.
    Loading,
    /// In world.
    InWorld,
    /// In far-teleport limbo (still in world).
    Limbo,
    /// In world as an offline session after an unclean disconnect.
    Lingering,
}

/// Something that happened on the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldEvent {
    /// Virtual or real milliseconds since the fake was created.
    pub at_ms: u64,
    /// What.
    pub what: String,
}

#[derive(Debug, Clone)]
struct PlayerRow {
    presence: Presence,
    conn: Option<u64>,
    map: u32,
    position: Position,
    /// Bumped whenever the row changes hands, so a stale linger timer does nothing.
    generation: u64,
}

#[derive(Debug)]
enum Command {
    Push(Opcode, Bytes),
    /// Close at once, nothing more sent (crash, or a newer login of the same account).
    Drop,
    ReassignMap(u32),
}

struct Inner {
    cfg: FakeWorldConfig,
    latency_ms: u64,
    world_update_ms: u64,
    refuse_logins: bool,
    instant_logout: bool,
    crashed: bool,
    players: BTreeMap<u64, PlayerRow>,
    account_conn: BTreeMap<String, u64>,
    conns: BTreeMap<u64, mpsc::Sender<Command>>,
    received: BTreeMap<u64, VecDeque<(Opcode, Bytes)>>,
    events: VecDeque<WorldEvent>,
    rng: ChaCha8Rng,
    next_conn: u64,
}

/// A fake worldserver. Cloning shares it.
#[derive(Clone)]
pub struct FakeWorldserver {
    inner: Arc<Mutex<Inner>>,
    start: Instant,
    stop: watch::Sender<bool>,
}

/// FNV-1a of the id: each fake's RNG differs, and is the same on every run.
fn seed_of(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

impl FakeWorldserver {
    /// A fake worldserver, not yet serving.
    pub fn new(config: FakeWorldConfig) -> Self {
        let players = config
            .characters
            .iter()
            .map(|c| {
                (
                    c.guid,
                    PlayerRow {
                        presence: Presence::Absent,
                        conn: None,
                        map: c.map,
                        position: c.position,
                        generation: 0,
                    },
                )
            })
            .collect();
        let (stop, _) = watch::channel(false);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                rng: ChaCha8Rng::seed_from_u64(seed_of(&config.id)),
                cfg: config,
                latency_ms: 0,
                world_update_ms: 0,
                refuse_logins: false,
                instant_logout: true,
                crashed: false,
                players,
                account_conn: BTreeMap::new(),
                conns: BTreeMap::new(),
                received: BTreeMap::new(),
                events: VecDeque::new(),
                next_conn: 1,
            })),
            start: Instant::now(),
            stop,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn event(&self, what: String) {
        let at_ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut g = self.lock();
        if g.events.len() == EVENT_LOG_MAX {
            g.events.pop_front();
        }
        g.events.push_back(WorldEvent { at_ms, what });
    }

    /// Accepts gateway connections until [`Self::crash`].
    pub async fn serve(&self, listener: TcpListener) -> std::io::Result<()> {
        let mut stop = self.stop.subscribe();
        loop {
            if *stop.borrow() || self.lock().crashed {
                return Ok(());
            }
            tokio::select! {
                biased;
                _ = stop.changed() => return Ok(()),
                accepted = listener.accept() => {
                    let (stream, _) = accepted?;
                    let _ = stream.set_nodelay(true);
                    let (tx, rx) = mpsc::channel(CONN_COMMANDS_MAX);
                    let id = {
                        let mut g = self.lock();
                        let id = g.next_conn;
                        g.next_conn += 1;
                        g.conns.insert(id, tx);
                        id
                    };
                    let me = self.clone();
                    tokio::spawn(async move {
                        Conn::new(me.clone(), id, stream, rx).run().await;
                        me.lock().conns.remove(&id);
                    });
                }
            }
        }
    }

    /// Delay before each outbound batch.
    pub fn set_latency_ms(&self, ms: u64) {
        self.lock().latency_ms = ms;
    }

    /// World-loop slowness: delays logins, saves and teleports.
    pub fn set_world_update_ms(&self, ms: u64) {
        self.lock().world_update_ms = ms;
    }

    /// World closed: auth sessions are answered 0x0E and closed.
    pub fn set_refuse_logins(&self, refuse: bool) {
        self.lock().refuse_logins = refuse;
    }

    /// Whether logouts complete at once (resting) or after the logout delay.
    pub fn set_instant_logout(&self, instant: bool) {
        self.lock().instant_logout = instant;
    }

    /// The process dies: every socket closes abruptly, nothing lingers, `serve` returns.
    pub fn crash(&self) {
        let conns: Vec<mpsc::Sender<Command>> = {
            let mut g = self.lock();
            g.crashed = true;
            for row in g.players.values_mut() {
                row.presence = Presence::Absent;
                row.conn = None;
                row.generation += 1;
            }
            g.account_conn.clear();
            g.conns.values().cloned().collect()
        };
        for tx in conns {
            let _ = tx.try_send(Command::Drop);
        }
        self.stop.send_replace(true);
        self.event("crash".into());
    }

    /// The process comes back after a crash (empty: nobody in world); call `serve` again.
    pub fn revive(&self) {
        self.lock().crashed = false;
        self.stop.send_replace(false);
        self.event("restarted".into());
    }

    /// The registry took `map` away: its players get warnings, then an unsolicited
    /// READY_FOR_REDIRECT and the kick.
    pub fn reassign_map(&self, map: u32) {
        let conns: Vec<mpsc::Sender<Command>> = self.lock().conns.values().cloned().collect();
        for tx in conns {
            let _ = tx.try_send(Command::ReassignMap(map));
        }
        self.event(format!("map {map} reassigned away"));
    }

    /// Sends a packet to an in-world character; false if it is not online here.
    pub fn push(&self, guid: u64, opcode: Opcode, body: Bytes) -> bool {
        let tx = {
            let g = self.lock();
            let Some(row) = g.players.get(&guid) else {
                return false;
            };
            if !matches!(row.presence, Presence::InWorld | Presence::Limbo) {
                return false;
            }
            row.conn.and_then(|c| g.conns.get(&c).cloned())
        };
        tx.is_some_and(|tx| tx.try_send(Command::Push(opcode, body)).is_ok())
    }

    /// Where a character is.
    pub fn presence(&self, guid: u64) -> Presence {
        self.lock()
            .players
            .get(&guid)
            .map_or(Presence::Absent, |r| r.presence)
    }

    /// Characters in world here (in world, in limbo or lingering), sorted.
    pub fn in_world_guids(&self) -> Vec<u64> {
        self.lock()
            .players
            .iter()
            .filter(|(_, r)| {
                matches!(
                    r.presence,
                    Presence::InWorld | Presence::Limbo | Presence::Lingering
                )
            })
            .map(|(g, _)| *g)
            .collect()
    }

    /// Client packets the world handled for a character, in order (the last 4,096).
    pub fn received(&self, guid: u64) -> Vec<(Opcode, Bytes)> {
        self.lock()
            .received
            .get(&guid)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// What happened, oldest first (bounded).
    pub fn events(&self) -> Vec<WorldEvent> {
        self.lock().events.iter().cloned().collect()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.lock().conns.len()
    }

    fn timing(&self) -> FakeTiming {
        self.lock().cfg.timing
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    /// Challenge sent, waiting for the auth session.
    AwaitAuth,
    /// Account lookup running; reading paused until `until`.
    Lookup { until: Instant },
    /// At the character screen.
    CharScreen,
    /// Loading `guid` until `until`.
    Loading { guid: u64, until: Instant },
    /// In world.
    InWorld { guid: u64 },
    /// Far-teleport limbo, waiting for the worldport ack.
    Limbo {
        guid: u64,
        map: u32,
        position: Position,
    },
    /// Logging out; complete at `until`.
    LoggingOut { guid: u64, until: Instant },
}

struct Conn {
    ws: FakeWorldserver,
    id: u64,
    stream: TcpStream,
    rx: mpsc::Receiver<Command>,
    dec: ClientHeaderDecoder,
    enc: ServerHeaderEncoder,
    out: BytesMut,
    stage: Stage,
    account: Option<String>,
    /// Bytes that arrived in the same read as the auth session stay unparsed until more come.
    stash_until_more: bool,
    time_sync_at: Option<Instant>,
    time_sync_counter: u32,
    save_done_at: Option<Instant>,
    kick_at: Option<Instant>,
    kicked: bool,
    idle_at: Instant,
    last_ping: Option<Instant>,
    fast_pings: u32,
    reassign: Option<(u32, Instant, Instant)>,
    echo: Option<Opcode>,
    timing: FakeTiming,
}

impl Conn {
    fn new(ws: FakeWorldserver, id: u64, stream: TcpStream, rx: mpsc::Receiver<Command>) -> Self {
        let idle = Instant::now() + Duration::from_millis(ws.timing().idle_char_screen_ms);
        let (echo, timing) = {
            let g = ws.lock();
            (g.cfg.echo_opcode, g.cfg.timing)
        };
        Self {
            echo,
            timing,
            ws,
            id,
            stream,
            rx,
            dec: ClientHeaderDecoder::for_gateway(),
            enc: ServerHeaderEncoder::plain(),
            out: BytesMut::new(),
            stage: Stage::AwaitAuth,
            account: None,
            stash_until_more: false,
            time_sync_at: None,
            time_sync_counter: 0,
            save_done_at: None,
            kick_at: None,
            kicked: false,
            idle_at: idle,
            last_ping: None,
            fast_pings: 0,
            reassign: None,
        }
    }

    fn timing(&self) -> FakeTiming {
        self.timing
    }

    async fn run(mut self) {
        let mut challenge = BytesMut::new();
        let (seed, bytes) = {
            let mut g = self.ws.lock();
            let seed = g.rng.next_u32();
            let mut b = [0u8; 32];
            g.rng.fill_bytes(&mut b);
            (seed, b)
        };
        AuthChallenge {
            server_seed: seed,
            seed_bytes: bytes,
        }
        .encode(&mut challenge);
        self.send(Opcode::SMSG_AUTH_CHALLENGE, &challenge);
        let mut closed_cleanly = self.flush().await.is_ok();
        while closed_cleanly {
            match self.turn().await {
                Ok(true) => {}
                Ok(false) => break,
                Err(()) => {
                    closed_cleanly = false;
                }
            }
        }
        self.on_socket_gone();
    }

    /// One turn of the connection loop. Ok(false): close now.
    async fn turn(&mut self) -> Result<bool, ()> {
        let deadline = self.next_deadline();
        let reading = !matches!(self.stage, Stage::Lookup { .. });
        self.dec.buffer_mut().reserve(READ_CHUNK_BYTES);
        tokio::select! {
            biased;
            cmd = self.rx.recv() => match cmd {
                None | Some(Command::Drop) => return Ok(false),
                Some(Command::Push(op, body)) => self.send(op, &body),
                Some(Command::ReassignMap(map)) => self.on_reassign(map),
            },
            () = sleep_until(deadline) => {
                if !self.on_timers() {
                    let _ = self.flush().await;
                    return Ok(false);
                }
            }
            r = self.stream.read_buf(self.dec.buffer_mut()), if reading => match r {
                Ok(0) | Err(_) => return Err(()),
                Ok(_) => {
                    self.stash_until_more = false;
                    if !self.process() {
                        let _ = self.flush().await;
                        return Ok(false);
                    }
                }
            },
        }
        self.flush().await.map_err(|_| ())?;
        Ok(!self.kicked)
    }

    fn next_deadline(&self) -> Option<Instant> {
        let stage = match self.stage {
            Stage::Lookup { until }
            | Stage::Loading { until, .. }
            | Stage::LoggingOut { until, .. } => Some(until),
            _ => None,
        };
        [
            stage,
            self.time_sync_at,
            self.save_done_at,
            self.kick_at
                .filter(|_| !matches!(self.stage, Stage::Limbo { .. })),
            Some(self.idle_at),
            self.reassign.map(|(_, second, _)| second),
            self.reassign.map(|(_, _, ready)| ready),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires due timers; false: close the socket.
    fn on_timers(&mut self) -> bool {
        let now = Instant::now();
        match self.stage {
            Stage::Lookup { until } if until <= now => {
                self.stage = Stage::CharScreen;
                // The quirk: what arrived with the auth session waits for more bytes.
                self.stash_until_more = self.dec.buffered() > 0;
            }
            Stage::Loading { guid, until } if until <= now => self.finish_login(guid),
            Stage::LoggingOut { guid, until } if until <= now => self.complete_logout(guid),
            _ => {}
        }
        if self.time_sync_at.is_some_and(|t| t <= now) {
            self.time_sync_counter += 1;
            self.send_packet(&TimeSyncReq {
                counter: self.time_sync_counter,
            });
            self.time_sync_at = Some(now + Duration::from_millis(self.timing().time_sync_every_ms));
        }
        if self.save_done_at.is_some_and(|t| t <= now) {
            self.save_done_at = None;
            self.send_packet(&ReadyForRedirect { status: 0 });
            self.kick_at = Some(now + Duration::from_millis(self.timing().kick_after_ready_ms));
            self.ws
                .event(format!("conn {} READY_FOR_REDIRECT 0", self.id));
        }
        if let Some((map, second, ready)) = self.reassign {
            if second <= now {
                self.system_message(&format!(
                    "Map {map} is moving: you will be transferred soon."
                ));
                self.reassign =
                    Some((map, Instant::now() + Duration::from_secs(3_600 * 24), ready));
            }
            if ready <= now {
                self.reassign = None;
                self.redirect_now("map reassigned");
            }
        }
        if self.kick_at.is_some_and(|t| t <= now) && !matches!(self.stage, Stage::Limbo { .. }) {
            self.kick_at = None;
            self.kick("kicked after redirect");
            return false;
        }
        if self.idle_at <= now {
            self.kick("idle timeout");
            return false;
        }
        true
    }

    /// Decodes and handles buffered packets; false: close the socket.
    fn process(&mut self) -> bool {
        loop {
            if self.stash_until_more || matches!(self.stage, Stage::Lookup { .. }) {
                return true;
            }
            let p = match self.dec.decode() {
                Ok(Decoded::Packet(p)) => p,
                Ok(Decoded::NeedMore(_)) => return true,
                Err(e) => {
                    self.ws.event(format!("conn {} closed: {e}", self.id));
                    return false;
                }
            };
            if !self.handle(p) {
                return false;
            }
        }
    }

    /// Handles one packet; false: close the socket.
    fn handle(&mut self, p: Packet) -> bool {
        if matches!(self.stage, Stage::AwaitAuth) {
            return self.on_auth_session(p);
        }
        if p.opcode == Opcode::CMSG_AUTH_SESSION {
            self.ws
                .event(format!("conn {} closed: second AUTH_SESSION", self.id));
            return false;
        }
        if p.opcode == Opcode::CMSG_PING {
            return self.on_ping(&p);
        }
        if p.opcode == Opcode::CMSG_KEEP_ALIVE {
            return true;
        }
        if p.opcode == Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT
            && !matches!(self.stage, Stage::InWorld { .. } | Stage::Limbo { .. })
        {
            // Nobody in world on this connection: refused at once.
            self.send_packet(&ReadyForRedirect { status: 1 });
            return true;
        }
        self.idle_at = Instant::now()
            + Duration::from_millis(match self.stage {
                Stage::InWorld { .. } | Stage::Limbo { .. } => self.timing().idle_in_world_ms,
                _ => self.timing().idle_char_screen_ms,
            });
        match self.stage {
            Stage::AwaitAuth | Stage::Lookup { .. } => true,
            Stage::CharScreen => {
                if p.opcode == Opcode::CMSG_PLAYER_LOGIN {
                    return self.on_player_login(&p);
                }
                true
            }
            // Logged-in opcodes are dropped while loading.
            Stage::Loading { .. } => true,
            Stage::LoggingOut { .. } => true,
            Stage::Limbo {
                guid,
                map,
                position,
            } => {
                if p.opcode == Opcode::MSG_MOVE_WORLDPORT_ACK {
                    self.log_received(guid, &p);
                    {
                        let mut g = self.ws.lock();
                        if let Some(row) = g.players.get_mut(&guid) {
                            row.map = map;
                            row.position = position;
                            row.presence = Presence::InWorld;
                        }
                    }
                    self.ws
                        .event(format!("conn {} guid {guid} arrived on map {map}", self.id));
                    self.stage = Stage::InWorld { guid };
                    self.send_login_sequence(guid);
                } else if p.opcode == Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT {
                    self.start_save(guid);
                }
                // Everything else is dropped in limbo.
                true
            }
            Stage::InWorld { guid } => self.in_world(guid, p),
        }
    }

    fn on_auth_session(&mut self, p: Packet) -> bool {
        if p.opcode != Opcode::CMSG_AUTH_SESSION {
            self.ws
                .event(format!("conn {} closed: {} before auth", self.id, p.opcode));
            return false;
        }
        let Ok(auth) = AuthSession::decode(p.body) else {
            return false;
        };
        if auth.addon_block.is_empty() {
            self.ws
                .event(format!("conn {} closed: empty addon blob", self.id));
            return false;
        }
        let (known, refuse) = {
            let g = self.ws.lock();
            (
                g.cfg
                    .accounts
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&auth.account)),
                g.refuse_logins,
            )
        };
        if !known {
            self.send_auth_error(AuthResult::UNKNOWN_ACCOUNT);
            self.ws
                .event(format!("conn {} unknown account {}", self.id, auth.account));
            self.kicked = true;
            return true;
        }
        if refuse {
            self.send_auth_error(AuthResult::REJECT);
            self.kicked = true;
            return true;
        }
        // Same account already connected here.
        let old = {
            let g = self.ws.lock();
            g.account_conn
                .get(&auth.account.to_ascii_uppercase())
                .copied()
                .filter(|c| *c != self.id)
                .map(|c| (c, g.conns.get(&c).cloned()))
        };
        if let Some((old_id, tx)) = old {
            let loading = self
                .ws
                .lock()
                .players
                .values()
                .any(|r| r.conn == Some(old_id) && r.presence == Presence::Loading);
            if loading {
                self.ws
                    .event(format!("conn {} closed: account busy loading", self.id));
                return false;
            }
            if let Some(tx) = tx {
                let _ = tx.try_send(Command::Drop);
            }
        }
        let account = auth.account.to_ascii_uppercase();
        self.ws.lock().account_conn.insert(account.clone(), self.id);
        self.account = Some(account);
        let lookup = self.timing().account_lookup_ms;
        self.stage = Stage::Lookup {
            until: Instant::now() + Duration::from_millis(lookup),
        };
        self.ws
            .event(format!("conn {} authenticated {}", self.id, auth.account));
        true
    }

    fn on_ping(&mut self, p: &Packet) -> bool {
        let now = Instant::now();
        if let Some(last) = self.last_ping {
            if now.duration_since(last) < Duration::from_millis(self.timing().ping_min_interval_ms)
            {
                self.fast_pings += 1;
                if self.fast_pings > 2 {
                    self.ws
                        .event(format!("conn {} closed: ping overspeed", self.id));
                    return false;
                }
            } else {
                self.fast_pings = 0;
            }
        }
        self.last_ping = Some(now);
        let seq = Ping::decode(&p.body).map(|p| p.seq).unwrap_or(0);
        self.send_packet(&Pong { seq });
        true
    }

    fn on_player_login(&mut self, p: &Packet) -> bool {
        let Ok(login) = PlayerLogin::decode(&p.body) else {
            return false;
        };
        let guid = login.guid;
        let world_update = self.ws.lock().world_update_ms;
        let loads = self
            .ws
            .lock()
            .cfg
            .characters
            .iter()
            .any(|c| c.guid == guid && c.loads);
        if !loads {
            self.ws
                .event(format!("conn {} guid {guid} failed to load", self.id));
            return false;
        }
        let reattach = {
            let mut g = self.ws.lock();
            let Some(row) = g.players.get_mut(&guid) else {
                return false;
            };
            let reattach = row.presence == Presence::Lingering;
            if matches!(
                row.presence,
                Presence::InWorld | Presence::Limbo | Presence::Loading
            ) && row.conn != Some(self.id)
            {
                // Online on another live connection: the real server refuses the second login.
                drop(g);
                self.ws
                    .event(format!("conn {} guid {guid} already online", self.id));
                return false;
            }
            row.generation += 1;
            row.conn = Some(self.id);
            row.presence = if reattach {
                Presence::InWorld
            } else {
                Presence::Loading
            };
            reattach
        };
        self.ws.event(format!(
            "conn {} guid {guid} {}",
            self.id,
            if reattach { "re-attached" } else { "loading" }
        ));
        self.stage = Stage::Loading {
            guid,
            until: Instant::now() + Duration::from_millis(world_update + 1),
        };
        true
    }

    fn finish_login(&mut self, guid: u64) {
        {
            let mut g = self.ws.lock();
            if let Some(row) = g.players.get_mut(&guid) {
                row.presence = Presence::InWorld;
            }
        }
        self.stage = Stage::InWorld { guid };
        self.idle_at = Instant::now() + Duration::from_millis(self.timing().idle_in_world_ms);
        self.ws
            .event(format!("conn {} guid {guid} in world", self.id));
        self.send_login_sequence(guid);
    }

    /// The login sequence in the real order, ending in world with TIME_SYNC_REQ 0.
    fn send_login_sequence(&mut self, guid: u64) {
        let (map, position) = {
            let g = self.ws.lock();
            g.players
                .get(&guid)
                .map_or((0, Position::default()), |r| (r.map, r.position))
        };
        self.send(Opcode::MSG_SET_DUNGEON_DIFFICULTY, &[0u8; 12]);
        self.send_packet(&LoginVerifyWorld(MapPosition { map, position }));
        self.send_packet(&AccountDataTimes {
            unix_time: 1_700_000_000,
            mask: 0xEA,
            times: [0; 8],
        });
        self.send(Opcode::SMSG_FEATURE_SYSTEM_STATUS, &[2, 0]);
        self.send_packet(&Motd {
            lines: vec!["Welcome to the fake cluster.".into()],
        });
        self.send(Opcode::SMSG_LEARNED_DANCE_MOVES, &[0u8; 8]);
        // A slice of the pre-map set.
        self.send(
            Opcode::SMSG_LOGIN_SETTIMESPEED,
            &[0, 0, 0, 0, 0x89, 0x88, 0x88, 0x3C, 0, 0, 0, 0],
        );
        self.send(
            Opcode::SMSG_COMPRESSED_UPDATE_OBJECT,
            &self_create(guid, position),
        );
        self.time_sync_counter = 0;
        self.send_packet(&TimeSyncReq { counter: 0 });
        self.time_sync_at =
            Some(Instant::now() + Duration::from_millis(self.timing().time_sync_first_ms));
        let mut states = BytesMut::new();
        states.put_u32_le(map);
        states.put_u32_le(12);
        states.put_u32_le(12);
        states.put_u16_le(0);
        self.send(Opcode::SMSG_INIT_WORLD_STATES, &states);
    }

    fn in_world(&mut self, guid: u64, p: Packet) -> bool {
        // The echo path takes no lock: it is the benchmark's hot path.
        if self.echo == Some(p.opcode) {
            self.send(p.opcode, &p.body);
            return true;
        }
        self.log_received(guid, &p);
        match p.opcode {
            Opcode::CMSG_MESSAGECHAT => {
                if let Some((map, position)) = parse_tele(&p.body) {
                    self.send_packet(&TransferPending {
                        map,
                        transport: None,
                    });
                    self.send_packet(&NewWorld(MapPosition { map, position }));
                    {
                        let mut g = self.ws.lock();
                        if let Some(row) = g.players.get_mut(&guid) {
                            row.presence = Presence::Limbo;
                        }
                    }
                    self.time_sync_at = None;
                    self.stage = Stage::Limbo {
                        guid,
                        map,
                        position,
                    };
                    self.ws.event(format!(
                        "conn {} guid {guid} teleporting to map {map}",
                        self.id
                    ));
                }
            }
            Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT => self.start_save(guid),
            Opcode::CMSG_LOGOUT_REQUEST => {
                let instant = self.ws.lock().instant_logout;
                self.send_packet(&LogoutResponse { result: 0, instant });
                if instant {
                    self.complete_logout(guid);
                } else {
                    self.stage = Stage::LoggingOut {
                        guid,
                        until: Instant::now()
                            + Duration::from_millis(self.timing().logout_delay_ms),
                    };
                }
            }
            Opcode::CMSG_TEXT_EMOTE => {
                let id = Reader::new(&p.body).u32("emote").unwrap_or(0);
                if id == EMOTE_READY && self.reassign.is_some() {
                    self.reassign = None;
                    self.redirect_now("player is ready");
                }
            }
            _ => {}
        }
        true
    }

    fn start_save(&mut self, guid: u64) {
        if self.save_done_at.is_none() && self.kick_at.is_none() {
            let delay = self.timing().save_ms + self.ws.lock().world_update_ms;
            self.save_done_at = Some(Instant::now() + Duration::from_millis(delay));
            self.ws
                .event(format!("conn {} guid {guid} saving for redirect", self.id));
        }
    }

    fn complete_logout(&mut self, guid: u64) {
        self.send(Opcode::SMSG_LOGOUT_COMPLETE, &[]);
        {
            let mut g = self.ws.lock();
            if let Some(row) = g.players.get_mut(&guid) {
                row.presence = Presence::Absent;
                row.conn = None;
                row.generation += 1;
            }
        }
        self.time_sync_at = None;
        self.stage = Stage::CharScreen;
        self.ws
            .event(format!("conn {} guid {guid} logged out", self.id));
    }

    fn on_reassign(&mut self, map: u32) {
        let Stage::InWorld { guid } = self.stage else {
            return;
        };
        let on_map = self
            .ws
            .lock()
            .players
            .get(&guid)
            .is_some_and(|r| r.map == map);
        if !on_map {
            return;
        }
        let t = self.timing();
        let now = Instant::now();
        self.system_message(&format!("Map {map} is moving: you will be transferred."));
        self.reassign = Some((
            map,
            now + Duration::from_millis(t.map_reassign_second_warning_ms),
            now + Duration::from_millis(t.map_reassign_warning_ms),
        ));
    }

    fn redirect_now(&mut self, why: &str) {
        self.send_packet(&ReadyForRedirect { status: 0 });
        self.kick_at =
            Some(Instant::now() + Duration::from_millis(self.timing().kick_after_ready_ms));
        self.ws.event(format!(
            "conn {} unsolicited READY_FOR_REDIRECT ({why})",
            self.id
        ));
    }

    fn kick(&mut self, why: &str) {
        self.kicked = true;
        let guid = match self.stage {
            Stage::InWorld { guid } | Stage::Limbo { guid, .. } | Stage::Loading { guid, .. } => {
                Some(guid)
            }
            Stage::LoggingOut { guid, .. } => Some(guid),
            _ => None,
        };
        if let Some(guid) = guid {
            let mut g = self.ws.lock();
            if let Some(row) = g.players.get_mut(&guid)
                && row.conn == Some(self.id)
            {
                row.presence = Presence::Absent;
                row.conn = None;
                row.generation += 1;
            }
        }
        self.stage = Stage::CharScreen;
        self.ws.event(format!("conn {} kicked: {why}", self.id));
    }

    /// The socket is gone: an in-world player lingers; anything else is dropped at once.
    fn on_socket_gone(&mut self) {
        let guid = match self.stage {
            Stage::InWorld { guid } if !self.kicked => Some((guid, true)),
            Stage::InWorld { guid } | Stage::Limbo { guid, .. } | Stage::Loading { guid, .. } => {
                Some((guid, false))
            }
            Stage::LoggingOut { guid, .. } => Some((guid, false)),
            _ => None,
        };
        if let Some(account) = &self.account {
            let mut g = self.ws.lock();
            if g.account_conn.get(account) == Some(&self.id) {
                g.account_conn.remove(account);
            }
        }
        let Some((guid, linger)) = guid else {
            return;
        };
        let generation = {
            let mut g = self.ws.lock();
            let Some(row) = g.players.get_mut(&guid) else {
                return;
            };
            if row.conn != Some(self.id) {
                return;
            }
            row.conn = None;
            row.generation += 1;
            row.presence = if linger {
                Presence::Lingering
            } else {
                Presence::Absent
            };
            row.generation
        };
        if !linger {
            self.ws
                .event(format!("conn {} closed; guid {guid} dropped", self.id));
            return;
        }
        self.ws
            .event(format!("conn {} closed; guid {guid} lingers", self.id));
        let ws = self.ws.clone();
        let linger_ms = self.timing().linger_ms;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(linger_ms)).await;
            let expired = {
                let mut g = ws.lock();
                match g.players.get_mut(&guid) {
                    Some(row)
                        if row.generation == generation && row.presence == Presence::Lingering =>
                    {
                        row.presence = Presence::Absent;
                        row.generation += 1;
                        true
                    }
                    _ => false,
                }
            };
            if expired {
                ws.event(format!("guid {guid} linger expired; saved and removed"));
            }
        });
    }

    fn log_received(&self, guid: u64, p: &Packet) {
        let mut g = self.ws.lock();
        let q = g.received.entry(guid).or_default();
        if q.len() == RECEIVED_LOG_MAX {
            q.pop_front();
        }
        q.push_back((p.opcode, p.body.clone()));
    }

    fn system_message(&mut self, text: &str) {
        let mut b = BytesMut::new();
        b.put_u8(0); // CHAT_MSG_SYSTEM
        b.put_u32_le(0); // LANG_UNIVERSAL
        b.put_u64_le(0);
        b.put_u32_le(0);
        b.put_u64_le(0);
        b.put_u32_le(text.len() as u32 + 1);
        b.put_cstr(text);
        b.put_u8(0);
        self.send(Opcode::SMSG_MESSAGECHAT, &b);
    }

    fn send_auth_error(&mut self, code: AuthResult) {
        let mut b = BytesMut::new();
        AuthResponse::Failed(code).encode(&mut b);
        self.send(Opcode::SMSG_AUTH_RESPONSE, &b);
    }

    fn send_packet<P: WirePacket>(&mut self, p: &P) {
        self.send(P::OPCODE, &p.to_body());
    }

    fn send(&mut self, opcode: Opcode, body: &[u8]) {
        // Bodies the fake builds always fit a server header.
        let _ = self.enc.encode(opcode, body, &mut self.out);
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let latency = self.ws.lock().latency_ms;
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        let bytes = self.out.split();
        self.stream.write_all(&bytes).await?;
        self.stream.flush().await
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// `.tele <map> <x> <y> <z>` in a SAY chat body.
fn parse_tele(body: &[u8]) -> Option<(u32, Position)> {
    let mut r = Reader::new(body);
    let _kind = r.u32("type").ok()?;
    let _lang = r.u32("lang").ok()?;
    let text = r.cstr("text", 255).ok()?;
    let mut words = text.strip_prefix(".tele ")?.split_whitespace();
    let map = words.next()?.parse().ok()?;
    let x = words.next()?.parse().ok()?;
    let y = words.next()?.parse().ok()?;
    let z = words.next()?.parse().ok()?;
    Some((
        map,
        Position {
            x,
            y,
            z,
            orientation: 0.0,
        },
    ))
}

/// The self-create update object, compressed as the worldserver sends it.
fn self_create(guid: u64, position: Position) -> Bytes {
    let living = LivingMovement {
        position,
        speeds: [
            2.5,
            7.0,
            4.5,
            4.72,
            2.5,
            7.0,
            4.5,
            std::f32::consts::PI,
            std::f32::consts::PI,
        ],
        ..LivingMovement::default()
    };
    let update = UpdateObject {
        blocks: vec![UpdateBlock::Create {
            kind: 3,
            guid,
            type_id: TYPEID_PLAYER,
            movement: Box::new(MovementBlock {
                flags: update_flags::SELF | update_flags::LIVING,
                placement: Placement::Living(Box::new(living)),
                ..MovementBlock::default()
            }),
            mask: UpdateMask {
                block_count: 5,
                values: vec![
                    (0x17, 0x0001_0101), // race, class, gender
                    (0x18, 1_000),       // health
                    (0x20, 1_000),       // max health
                    (0x36, 10),          // level
                ],
            },
        }],
    };
    CompressedUpdateObject::compress(&update.to_body())
}
