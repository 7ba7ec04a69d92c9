//! A fake ToCloud9 cluster-mode AzerothCore worldserver: the peer the gateway talks to, with
//! the awkward behaviours of PROTOCOL.md section 3 reproduced on purpose.
//!
//! What it does, in the order a gateway meets it:
//!
//! - **Handshake.** On accept: SMSG_AUTH_CHALLENGE `00 2A EC 01` + 40 bytes, the seed drawn
//!   from a ChaCha8 RNG seeded with a hash of the config id. The gateway replays the client's
//!   CMSG_AUTH_SESSION. Headers are never encrypted. A malformed session, an empty addon blob,
//!   any other opcode before it (CMSG_PING included) or a second one closes the socket; so
//!   does a header with a size outside 4..10240 or an opcode at or above 0x521.
//! - **Account lookup.** Reading pauses for `account_lookup_ms`. Unknown account: AUTH_RESPONSE
//!   0x15, then close. World closed ([`FakeWorldserver::set_refuse_logins`]): 0x0E, then
//!   close. Success sends **nothing**. The quirk: bytes that arrived in the same socket read as
//!   the AUTH_SESSION stay unparsed until more bytes arrive; bytes that arrived during the
//!   lookup are read afterwards, in order. Same account already connected: if that session is
//!   loading a character the new socket is closed, otherwise the old socket is closed and its
//!   in-world player stays as an offline session (lingers).
//! - **Login** (CMSG_PLAYER_LOGIN, no ownership check). A character the fake does not know, or
//!   one with `loads: false`, closes the socket with no packet once the load is done. A
//!   character lingering as this account's offline session is re-attached (no load); one
//!   lingering for another account gets SMSG_CHARACTER_LOGIN_FAILED 0x4F. A second login while
//!   a character is loading or in world kicks the session. The login sequence follows
//!   AzerothCore's order ([`LOGIN_PRELUDE`], then [`MAP_ENTRY`]), then SMSG_TIME_SYNC_REQ
//!   counter 0 (in world from here), then SMSG_INIT_WORLD_STATES. Time sync repeats
//!   `time_sync_first_ms` later, then every `time_sync_every_ms`.
//! - **In world.** Logged-in opcodes that arrive while loading or in far-teleport limbo are
//!   dropped, not queued. A SAY chat `.tele <map> <x> <y> <z>` sends SMSG_TRANSFER_PENDING and
//!   SMSG_NEW_WORLD and puts the player in limbo; MSG_MOVE_WORLDPORT_ACK (or the far-teleport
//!   timeout) creates the map locally without any ownership check and sends [`MAP_ENTRY`]
//!   again, TIME_SYNC_REQ counter 0 again. CMSG_LOGOUT_REQUEST answers SMSG_LOGOUT_RESPONSE
//!   and SMSG_LOGOUT_COMPLETE (at once, or `logout_delay_ms` later after
//!   [`FakeWorldserver::set_instant_logout`]`(false)`); the socket stays at the character
//!   screen. CMSG_KEEP_ALIVE is accepted and ignored.
//! - **Character screen** (an authenticated connection with no player; AzerothCore's
//!   STATUS_AUTHED opcodes, handled by the world loop). CMSG_CHAR_CREATE (cstr name, then
//!   race, class, gender, skin, face, hair style, hair color, facial hair, outfit) creates the
//!   character on map 0 with the next free guid in the store and answers SMSG_CHAR_CREATE
//!   0x2F; a name any character has (case aside) 0x32, an empty one 0x59. CMSG_CHAR_DELETE
//!   (u64 guid) removes the account's character and answers SMSG_CHAR_DELETE 0x47; as
//!   AzerothCore, it answers **nothing** for a character that is online or lingering here,
//!   unknown, or another account's. CMSG_CHAR_RENAME (u64 guid, cstr name) answers
//!   SMSG_CHAR_RENAME 0x00 with the guid and the new name; 0x59 for an empty name, and 0x30
//!   (CHAR_CREATE_ERROR) for an unknown or foreign character, a taken name or a character
//!   online or lingering here. The fake keeps no at-login flags: any character may be renamed.
//!   Names are normalized as AzerothCore does (first letter upper case, the rest lower case).
//! - **Redirect.** TC9_CMSG_PREPARE_FOR_REDIRECT with no player in world answers
//!   TC9_SMSG_READY_FOR_REDIRECT status 1 at once; otherwise the player is saved
//!   (`save_ms`), READY status 0 goes out and the session is kicked `kick_after_ready_ms`
//!   later. The kick is a player event: its clock stops while the player is in limbo. A
//!   kicked player is gone at once. [`FakeWorldserver::reassign_map`] warns the players on a
//!   map twice, then redirects them unsolicited (sooner on CMSG_TEXT_EMOTE 126, `/ready`).
//!   [`FakeWorldserver::set_ignore_prepare`] leaves PREPARE unanswered (a stuck save).
//! - **Disconnects.** A socket that closes while its player is in world (not kicked) leaves the
//!   player lingering as an offline session for `linger_ms` (or until a pending redirect
//!   kick), then saved and removed; a player loading or in limbo is dropped at once. An idle
//!   timeout or a protocol violation closes the socket the same way (AzerothCore does not mark
//!   those sessions kicked, so their players linger too).
//! - **Network thread.** CMSG_PING is answered with SMSG_PONG at once, even while loading;
//!   more than two pings in a row less than `ping_min_interval_ms` apart close the socket.
//!   Idle timeouts: `idle_in_world_ms` with a player, `idle_char_screen_ms` without; any
//!   packet except CMSG_PING resets it (CMSG_KEEP_ALIVE only with a player, as in AzerothCore).
//! - **Faults.** [`FakeWorldserver::set_latency_ms`], [`FakeWorldserver::set_world_update_ms`]
//!   (every packet the world handles, loads, saves and kicks wait that much longer),
//!   [`FakeWorldserver::set_refuse_logins`], [`FakeWorldserver::crash`] (every socket dropped,
//!   nothing saved or lingering, [`FakeWorldserver::serve`] returns; down until
//!   [`FakeWorldserver::revive`]).
//!
//! Everything the gateway's safety depends on (which character is where) lives in one shared
//! structure changed under one lock, so [`FakeWorldserver::presence`] is exact at every await
//! point. The fake uses only `tokio::` names, so it runs unchanged under madsim.

mod conn;
mod events;
mod packets;
mod world;

pub use packets::{SELF_CREATE_HEALTH, ticked_health};

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::wire::Opcode;
use crate::wire::packets::{MapPosition, Position, char_result};

pub use events::{CloseReason, KickReason, WorldEvent, WorldEventKind};
pub use packets::{LOGIN_PRELUDE, MAP_ENTRY};

use world::{Command, SessionRow, World};

/// Called with (character, opcode, body, presence, opened_ms) for every client packet the
/// world handles, in the order it handles them, under the fake's lock: keep it short and never
/// call back into the fake. `presence` is where the character was here when the packet
/// arrived, before the packet had any effect: a PLAYER_LOGIN that re-attaches an offline
/// session sees [`Presence::Lingering`], a fresh one [`Presence::Absent`]. `opened_ms` is when
/// this worldserver accepted the connection the packet came on (milliseconds since the fake
/// was made, the clock of its events): whoever chose this worldserver for the packet did so
/// before then.
pub type PacketTap = Arc<dyn Fn(u64, Opcode, &Bytes, Presence, u64) + Send + Sync>;

/// Client packets kept per character for [`FakeWorldserver::received`] (oldest dropped).
pub const RECEIVED_LOG_MAX_PACKETS: usize = 4_096;
/// Events kept for [`FakeWorldserver::events`] (oldest dropped).
pub const EVENT_LOG_MAX_EVENTS: usize = 16_384;
/// Open connections at most; a connection beyond this is closed at accept.
pub const CONNECTIONS_MAX: usize = 16_384;
/// Commands (pushes, reassignments) queued per connection; [`FakeWorldserver::push`] answers
/// false when the queue is full.
pub const COMMAND_QUEUE_MAX_PACKETS: usize = 4_096;
/// Client packets waiting for the world loop per connection; reading pauses while full.
pub const WORLD_QUEUE_MAX_PACKETS: usize = 4_096;

/// A character the fake can load.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeCharacter {
    /// Guid.
    pub guid: u64,
    /// Owning account (kept, never checked at login: the cluster build trusts the gateway).
    pub account: String,
    /// Name.
    pub name: String,
    /// Map it was saved on.
    pub map: u32,
    /// Position it was saved at.
    pub position: Position,
    /// false: the character fails to load (the socket closes with no packet).
    pub loads: bool,
}

/// The fake's timing, modelled on the real server. Defaults are the real values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeTiming {
    /// Account lookup after AUTH_SESSION; reading pauses meanwhile (10).
    pub account_lookup_ms: u64,
    /// Saving a character before READY_FOR_REDIRECT (5).
    pub save_ms: u64,
    /// Kick after READY_FOR_REDIRECT status 0 (100).
    pub kick_after_ready_ms: u64,
    /// An in-world player stays this long after an unclean disconnect (60,000).
    pub linger_ms: u64,
    /// First repeat of SMSG_TIME_SYNC_REQ after entering the world (5,000).
    pub time_sync_first_ms: u64,
    /// Later repeats (10,000).
    pub time_sync_every_ms: u64,
    /// Logout delay when the character is not resting (20,000).
    pub logout_delay_ms: u64,
    /// Idle timeout with a player (60,000).
    pub idle_in_world_ms: u64,
    /// Idle timeout at the character screen (900,000).
    pub idle_char_screen_ms: u64,
    /// Pings closer together than this are too fast; more than two in a row close (27,000).
    pub ping_min_interval_ms: u64,
    /// Map reassignment: first warning to the unsolicited redirect (60,000).
    pub map_reassign_warning_ms: u64,
    /// Map reassignment: first warning to the second one (55,000).
    pub map_reassign_second_warning_ms: u64,
    /// Loading a character from the database before the world loop picks it up (10).
    pub load_ms: u64,
    /// A far teleport nobody acknowledges completes on its own after this (AzerothCore
    /// `TeleportTimeoutFar`, 45,000).
    pub teleport_timeout_far_ms: u64,
    /// An in-world player's health changes this often, each change an SMSG_UPDATE_OBJECT
    /// (`packets::ticked_health`); 0: never (0).
    pub health_tick_ms: u64,
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
            load_ms: 10,
            teleport_timeout_far_ms: 45_000,
            health_tick_ms: 0,
        }
    }
}

/// Misbehaviour a real worldserver shows now and then, drawn from a seed (the simulator's
/// buggify). Each has `chance_per_10k` at each occasion; a delay is drawn uniformly in
/// `1..=cap`. None of them reorders what TCP keeps in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buggify {
    /// Seed of the draws (kept apart from the fake's challenges, which stay as they were).
    pub seed: u64,
    /// Chance of each misbehaviour at each occasion, per ten thousand.
    pub chance_per_10k: u32,
    /// A save before READY_FOR_REDIRECT takes up to this much longer: a late READY.
    pub save_delay_max_ms: u64,
    /// The kick after READY_FOR_REDIRECT comes up to this much later.
    pub kick_delay_max_ms: u64,
    /// After a read, reading stalls up to this long (a busy network thread).
    pub read_stall_max_ms: u64,
    /// A connection may be closed at accept, before its challenge (a refused connect).
    pub refuse_connect: bool,
}

/// One kind of [`Buggify`] misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bug {
    /// [`Buggify::save_delay_max_ms`].
    SlowSave,
    /// [`Buggify::kick_delay_max_ms`].
    LateKick,
    /// [`Buggify::read_stall_max_ms`].
    StallRead,
    /// [`Buggify::refuse_connect`].
    RefuseConnect,
}

impl Bug {
    fn name(self) -> &'static str {
        match self {
            Self::SlowSave => "slow save",
            Self::LateKick => "late kick",
            Self::StallRead => "read stall",
            Self::RefuseConnect => "refused connect",
        }
    }
}

/// How a fake is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeWorldConfig {
    /// Registry id; also seeds the fake's RNG (so its challenges are the same on every run).
    pub id: String,
    /// Accounts with a session key row (case-insensitive); others get AUTH_RESPONSE 0x15.
    pub accounts: Vec<String>,
    /// Characters it can load.
    pub characters: Vec<FakeCharacter>,
    /// Timing.
    pub timing: FakeTiming,
    /// Benchmarks: every client packet with this opcode that reaches an in-world player is sent
    /// straight back with the same opcode and body (and not logged in
    /// [`FakeWorldserver::received`]).
    pub echo_opcode: Option<Opcode>,
}

/// Where a character is on one fake worldserver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Presence {
    /// Not here.
    Absent,
    /// PLAYER_LOGIN accepted, loading; not in world yet.
    Loading,
    /// In world with a connection.
    InWorld,
    /// In far-teleport limbo (counts as in world: the player object exists).
    Limbo,
    /// In world as an offline session after an unclean disconnect.
    Lingering,
}

impl Presence {
    /// Whether the character counts as in world here (in world, in limbo or lingering).
    pub fn in_world(self) -> bool {
        matches!(self, Self::InWorld | Self::Limbo | Self::Lingering)
    }
}

/// The characters database of a realm, which its worldservers share: which characters exist
/// (those of the configs, then those created with CMSG_CHAR_CREATE) and where each was last
/// saved. [`FakeWorldserver::new`] gives each fake its own; [`FakeWorldserver::with_store`]
/// lets fakes share one, so a character saved on a map by one fake is loaded there by the next,
/// and one created or deleted through one fake is created or deleted for all.
#[derive(Debug, Clone, Default)]
pub struct FakeCharacterStore {
    rows: Arc<Mutex<StoreRows>>,
}

/// The store's tables.
#[derive(Debug, Default)]
struct StoreRows {
    /// Where each character was last saved.
    saved: BTreeMap<u64, MapPosition>,
    /// The characters that exist, by guid.
    roster: BTreeMap<u64, FakeCharacter>,
}

impl FakeCharacterStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, StoreRows> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where a character was last saved.
    pub fn get(&self, guid: u64) -> Option<MapPosition> {
        self.lock().saved.get(&guid).copied()
    }

    /// Records a save.
    pub fn set(&self, guid: u64, at: MapPosition) {
        self.lock().saved.insert(guid, at);
    }

    /// A character that exists.
    pub fn character(&self, guid: u64) -> Option<FakeCharacter> {
        self.lock().roster.get(&guid).cloned()
    }

    /// Every character that exists, by ascending guid.
    pub fn characters(&self) -> Vec<FakeCharacter> {
        self.lock().roster.values().cloned().collect()
    }

    /// A config's character, unless the store already has one with its guid.
    fn seed(&self, c: &FakeCharacter) {
        let mut rows = self.lock();
        rows.saved.entry(c.guid).or_insert(MapPosition {
            map: c.map,
            position: c.position,
        });
        rows.roster.entry(c.guid).or_insert_with(|| c.clone());
    }

    /// Creates a character named `name` (already normalized) for `account` on map 0 with the
    /// next free guid, unless a character has that name whatever its case: then
    /// CHAR_CREATE_NAME_IN_USE.
    fn create(&self, account: &str, name: &str) -> Result<u64, u8> {
        let mut rows = self.lock();
        if rows
            .roster
            .values()
            .any(|c| c.name.eq_ignore_ascii_case(name))
        {
            return Err(char_result::CHAR_CREATE_NAME_IN_USE);
        }
        let guid = rows.roster.keys().next_back().map_or(1, |g| g + 1);
        let at = MapPosition::default();
        rows.roster.insert(
            guid,
            FakeCharacter {
                guid,
                account: account.into(),
                name: name.into(),
                map: at.map,
                position: at.position,
                loads: true,
            },
        );
        rows.saved.insert(guid, at);
        Ok(guid)
    }

    /// Deletes `account`'s character `guid`; false if the account has no such character.
    fn delete(&self, account: &str, guid: u64) -> bool {
        let mut rows = self.lock();
        if !rows
            .roster
            .get(&guid)
            .is_some_and(|c| c.account.eq_ignore_ascii_case(account))
        {
            return false;
        }
        rows.roster.remove(&guid);
        rows.saved.remove(&guid);
        true
    }

    /// Renames `account`'s character `guid` to `name` (already normalized); false if the
    /// account has no such character or a character has that name whatever its case (the
    /// character itself included, as AzerothCore's query has it).
    fn rename(&self, account: &str, guid: u64, name: &str) -> bool {
        let mut rows = self.lock();
        let taken = rows
            .roster
            .values()
            .any(|c| c.name.eq_ignore_ascii_case(name));
        match rows.roster.get_mut(&guid) {
            Some(c) if c.account.eq_ignore_ascii_case(account) && !taken => {
                c.name = name.into();
                true
            }
            _ => false,
        }
    }
}

/// Knobs read on every packet without the lock.
#[derive(Debug, Default)]
struct Knobs {
    latency_ms: AtomicU64,
    world_update_ms: AtomicU64,
    refuse_logins: AtomicBool,
    slow_logout: AtomicBool,
    ignore_prepare: AtomicBool,
}

struct Inner {
    id: String,
    /// The fake's clock origin: event times and packet timestamps count from here.
    start: Instant,
    timing: FakeTiming,
    echo: Option<Opcode>,
    knobs: Knobs,
    world: Mutex<World>,
    /// True while down (crashed or shut down); `serve` returns when it flips on.
    stop: watch::Sender<bool>,
}

/// A fake worldserver. Cloning is cheap and shares the fake.
#[derive(Clone)]
pub struct FakeWorldserver {
    inner: Arc<Inner>,
}

impl fmt::Debug for FakeWorldserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeWorldserver")
            .field("id", &self.inner.id)
            .finish_non_exhaustive()
    }
}

/// FNV-1a of the id: every fake draws different challenges, the same ones on every run.
fn seed_of(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl FakeWorldserver {
    /// A fake worldserver with its own characters store, not serving yet. Call it inside the
    /// runtime: the fake's clock starts here.
    pub fn new(config: FakeWorldConfig) -> Self {
        Self::with_store(config, FakeCharacterStore::new())
    }

    /// A fake worldserver that loads and saves characters in `store` (shared with other fakes).
    /// Characters the store does not know yet start where `config` puts them.
    pub fn with_store(config: FakeWorldConfig, store: FakeCharacterStore) -> Self {
        for c in &config.characters {
            store.seed(c);
        }
        let start = Instant::now();
        let world = World {
            start,
            accounts: config
                .accounts
                .iter()
                .map(|a| a.to_ascii_uppercase())
                .collect::<BTreeSet<_>>(),
            store,
            down: false,
            players: BTreeMap::new(),
            sessions: BTreeMap::new(),
            online: BTreeMap::new(),
            offline: BTreeMap::new(),
            received: BTreeMap::new(),
            tap: None,
            events: VecDeque::new(),
            rng: ChaCha8Rng::seed_from_u64(seed_of(&config.id)),
            bugs: None,
            next_conn: 1,
            next_generation: 0,
        };
        let (stop, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                id: config.id,
                start,
                timing: config.timing,
                echo: config.echo_opcode,
                knobs: Knobs::default(),
                world: Mutex::new(world),
                stop,
            }),
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.inner
            .world
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The registry id it was built with.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// Accepts gateway connections until [`Self::crash`] or [`Self::shutdown`]; returns at
    /// once while the fake is down. An accept error ends it with the error.
    pub async fn serve(&self, listener: TcpListener) -> std::io::Result<()> {
        let mut stop = self.inner.stop.subscribe();
        loop {
            if *stop.borrow_and_update() {
                return Ok(());
            }
            tokio::select! {
                biased;
                _ = stop.changed() => {}
                accepted = listener.accept() => {
                    let (stream, _) = accepted?;
                    self.start_connection(stream);
                }
            }
        }
    }

    fn start_connection(&self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let (kill_tx, kill_rx) = watch::channel(false);
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE_MAX_PACKETS);
        let (id, seed, seed_bytes) = {
            let mut w = self.world();
            if w.down || w.sessions.len() >= CONNECTIONS_MAX {
                // Dropping the stream closes it.
                return;
            }
            if w.bug(None, Bug::RefuseConnect).is_some() {
                return;
            }
            let id = w.next_conn;
            w.next_conn += 1;
            let seed = w.rng.next_u32();
            let mut seed_bytes = [0u8; 32];
            w.rng.fill_bytes(&mut seed_bytes);
            let opened_ms = w.elapsed_ms();
            w.sessions.insert(
                id,
                SessionRow {
                    opened_ms,
                    account: None,
                    guid: None,
                    loading: false,
                    release_at: None,
                    killed: false,
                    kill: kill_tx,
                    commands: cmd_tx,
                },
            );
            w.event(Some(id), None, WorldEventKind::Accepted);
            (id, seed, seed_bytes)
        };
        let conn = conn::Conn::new(self.clone(), id, stream, cmd_rx, kill_rx);
        tokio::spawn(conn.run(seed, seed_bytes));
    }

    /// Removes a lingering player when its timer runs out, unless the row changed hands
    /// meanwhile (re-attached, crashed away).
    fn spawn_linger(&self, t: world::LingerTimer) {
        let ws = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(t.after).await;
            let mut w = ws.world();
            let current = w
                .players
                .get(&t.guid)
                .is_some_and(|r| r.generation == t.generation && r.presence == Presence::Lingering);
            if current {
                w.remove_player(t.guid, true);
                w.event(None, Some(t.guid), WorldEventKind::LingerEnded);
            }
        });
    }

    /// Delay before each outbound batch of every connection (a slow or distant server).
    pub fn set_latency_ms(&self, ms: u64) {
        self.inner.knobs.latency_ms.store(ms, Ordering::Relaxed);
    }

    /// World-loop slowness: every client packet the world handles (PLAYER_LOGIN included),
    /// every load, save and kick waits this much longer. Pings are still answered at once.
    pub fn set_world_update_ms(&self, ms: u64) {
        self.inner
            .knobs
            .world_update_ms
            .store(ms, Ordering::Relaxed);
    }

    /// The world-loop slowness set by [`FakeWorldserver::set_world_update_ms`].
    pub fn world_update_ms(&self) -> u64 {
        self.inner.knobs.world_update_ms.load(Ordering::Relaxed)
    }

    /// Switches seeded misbehaviour on (or off with `None`).
    pub fn set_buggify(&self, buggify: Option<Buggify>) {
        self.world().bugs = buggify.map(|b| (b, ChaCha8Rng::seed_from_u64(b.seed)));
    }

    /// A stuck save: TC9_CMSG_PREPARE_FOR_REDIRECT is read and never answered (no READY, no
    /// kick), as a worldserver whose character save hangs. The player stays in world.
    pub fn set_ignore_prepare(&self, ignore: bool) {
        self.inner
            .knobs
            .ignore_prepare
            .store(ignore, Ordering::Relaxed);
    }

    /// World closed: auth sessions finishing their lookup from now on get 0x0E and a close.
    pub fn set_refuse_logins(&self, refuse: bool) {
        self.inner
            .knobs
            .refuse_logins
            .store(refuse, Ordering::Relaxed);
    }

    /// Whether logouts complete at once (the character is resting: the default) or after
    /// `logout_delay_ms`.
    pub fn set_instant_logout(&self, instant: bool) {
        self.inner
            .knobs
            .slow_logout
            .store(!instant, Ordering::Relaxed);
    }

    /// The process dies: every socket is dropped at once with nothing more sent, every player
    /// (lingering ones included) vanishes unsaved, and [`Self::serve`] returns. The fake stays
    /// down until [`Self::revive`].
    pub fn crash(&self) {
        let mut w = self.world();
        if w.down {
            return;
        }
        w.down = true;
        w.players.clear();
        w.online.clear();
        w.offline.clear();
        w.kill_all();
        w.event(None, None, WorldEventKind::Crashed);
        self.inner.stop.send_replace(true);
    }

    /// The process stops cleanly: every player (lingering ones included) is saved and
    /// removed, every socket is closed, and [`Self::serve`] returns. Down until
    /// [`Self::revive`].
    pub fn shutdown(&self) {
        let mut w = self.world();
        if w.down {
            return;
        }
        w.down = true;
        let guids: Vec<u64> = w.players.keys().copied().collect();
        for guid in guids {
            w.remove_player(guid, true);
        }
        w.online.clear();
        w.offline.clear();
        w.kill_all();
        w.event(None, None, WorldEventKind::ShutDown);
        self.inner.stop.send_replace(true);
    }

    /// The process starts again after [`Self::crash`] or [`Self::shutdown`]: nobody in world,
    /// the characters store as last saved. Call [`Self::serve`] again with a new listener.
    pub fn revive(&self) {
        let mut w = self.world();
        if !w.down {
            return;
        }
        w.down = false;
        w.event(None, None, WorldEventKind::Revived);
        self.inner.stop.send_replace(false);
    }

    /// The registry took `map` away: players in world on it get a system-message warning,
    /// a second one `map_reassign_second_warning_ms` later, and after
    /// `map_reassign_warning_ms` (sooner if they send CMSG_TEXT_EMOTE 126) they are saved,
    /// sent an unsolicited READY_FOR_REDIRECT status 0 and kicked.
    pub fn reassign_map(&self, map: u32) {
        let w = self.world();
        for (guid, row) in &w.players {
            if row.presence != Presence::InWorld || row.at.map != map {
                continue;
            }
            if let Some(s) = row.conn.and_then(|c| w.sessions.get(&c)) {
                // Only a connection thousands of commands behind misses it.
                let _ = s.commands.try_send(Command::Reassign { guid: *guid, map });
            }
        }
    }

    /// Sends a packet to an in-world (or in-limbo) character's connection. False when the
    /// character is not online here or its connection's queue is full.
    pub fn push(&self, guid: u64, opcode: Opcode, body: Bytes) -> bool {
        let w = self.world();
        let Some(row) = w.players.get(&guid) else {
            return false;
        };
        if !matches!(row.presence, Presence::InWorld | Presence::Limbo) {
            return false;
        }
        row.conn.and_then(|c| w.sessions.get(&c)).is_some_and(|s| {
            s.commands
                .try_send(Command::Push { guid, opcode, body })
                .is_ok()
        })
    }

    /// Where a character is, exactly, right now.
    pub fn presence(&self, guid: u64) -> Presence {
        self.world()
            .players
            .get(&guid)
            .map_or(Presence::Absent, |r| r.presence)
    }

    /// Characters in world here (in world, in limbo or lingering), ascending.
    pub fn in_world_guids(&self) -> Vec<u64> {
        self.world()
            .players
            .iter()
            .filter(|(_, r)| r.presence.in_world())
            .map(|(g, _)| *g)
            .collect()
    }

    /// Client packets the world handled for a character, in order (the last
    /// [`RECEIVED_LOG_MAX_PACKETS`]). Dropped packets, pings, keep-alives and echoed packets
    /// are not in it.
    pub fn received(&self, guid: u64) -> Vec<(Opcode, Bytes)> {
        self.world()
            .received
            .get(&guid)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Installs (or removes) the tap that sees every client packet logged for
    /// [`FakeWorldserver::received`], as it is handled.
    pub fn set_packet_tap(&self, tap: Option<PacketTap>) {
        self.world().tap = tap;
    }

    /// Empties the event and packet logs and removes the packet tap (a simulator run is over
    /// and has read them).
    pub fn forget_logs(&self) {
        let mut w = self.world();
        w.events.clear();
        w.received.clear();
        w.tap = None;
    }

    /// What happened, oldest first (the last [`EVENT_LOG_MAX_EVENTS`]).
    pub fn events(&self) -> Vec<WorldEvent> {
        self.world().events.iter().cloned().collect()
    }

    /// The characters that exist in its store (created and deleted ones accounted for), by
    /// ascending guid.
    pub fn characters(&self) -> Vec<FakeCharacter> {
        self.world().store.characters()
    }

    /// The connections open now: id, the account it authenticated (once it has), and when
    /// it was accepted (milliseconds since the fake was made), by ascending id.
    pub fn open_connections(&self) -> Vec<(u64, Option<String>, u64)> {
        self.world()
            .sessions
            .iter()
            .map(|(id, s)| (*id, s.account.clone(), s.opened_ms))
            .collect()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.world().sessions.len()
    }

    /// Whether the fake is down (crashed or shut down, not revived).
    pub fn is_down(&self) -> bool {
        self.world().down
    }
}
