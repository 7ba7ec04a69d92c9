//! A bot game client: the full 3.3.5a handshake with the header cipher, a scripted session
//! (character screen, login, movement chatter, map changes, logout), and an independent check
//! that every header it receives decrypts to a sane header.
//!
//! The bot plays a [`BotConfig::script`] of [`BotStep`]s in order over one socket and returns a
//! [`BotReport`] with the first error, if any. Whatever the step, it:
//!
//! - answers every SMSG_TIME_SYNC_REQ with CMSG_TIME_SYNC_RESP (same counter, its own ticks),
//!   and checks the counters: after the first, each is 0 (a world session starts: a login,
//!   a map entry) or the previous one plus one, and each counter 0 completes a login or a
//!   loading screen, so packets of two world sessions never interleave;
//! - checks every server header the moment it is decrypted, before its body arrives: size at
//!   least 2, body within [`BotConfig::max_body_bytes`], opcode below 0x51F (the stock client's
//!   opcode count; the cluster's own 0x51F/0x520 must never reach a client). A violation is
//!   [`BotError::HeaderDidNotDecrypt`] with the raw (still encrypted) header bytes;
//! - sends CMSG_PING once every [`PING_INTERVAL_MS`] after authenticating, never more often
//!   (a worldserver closes a connection that pings too fast);
//! - bounds every wait: each awaited reply has [`BotConfig::step_timeout_ms`], and so does each
//!   write. While a write is blocked the bot keeps reading (bounded), so a gateway that is
//!   itself blocked writing to the bot cannot deadlock with it.
//!
//! It uses only `tokio` names for sockets and time, draws randomness only from a ChaCha8 RNG
//! seeded with [`BotConfig::seed`], and flushes after every write, so the same code runs on
//! real sockets and in the madsim simulator.

mod auth;
mod chat;
mod io;
mod load;
mod ping;
mod screen;
mod shadow;
mod world;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::wire::auth::AuthResult;
use crate::wire::packets::{CharCreate, CharDelete, CharRename, LoginFailure};
use crate::wire::{ClientHeaderEncoder, Opcode, ServerHeaderDecoder, SessionKey};

use ping::PingClock;
use shadow::ShadowHeaders;

/// Server packets kept in [`BotReport::received`]; older ones are dropped.
pub const RECEIVED_LOG_MAX: usize = 8_192;
/// Default [`BotConfig::step_timeout_ms`].
pub const DEFAULT_STEP_TIMEOUT_MS: u64 = 10_000;
/// Default [`BotConfig::max_body_bytes`].
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The bot sends CMSG_PING this long after authenticating and then at this interval, never
/// more often (AzerothCore counts pings closer than 27 s as overspeed and kicks after a few).
pub const PING_INTERVAL_MS: u64 = 30_000;
/// How long a worldserver may take between SMSG_LOGOUT_RESPONSE (not instant) and
/// SMSG_LOGOUT_COMPLETE: AzerothCore's 20-second logout. Added to the step timeout.
pub const LOGOUT_DELAY_MS: u64 = 20_000;
/// Movement block after the packed guid: u32 flags, u16 flags2, u32 time, f32 x, y, z, o,
/// u32 fall time. The bot's fall time is a sequence number (1, 2, ...), so a checker can tell
/// whether each heartbeat reached exactly one worldserver, in order.
pub const MOVEMENT_INFO_BYTES: usize = 30;
/// The realm-split decision the stock client sends.
const REALM_SPLIT_DECISION: u32 = 0xFFFF_FFFF;
/// Bytes read from the socket at once.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// While a write is blocked the bot reads ahead into its buffer, up to this many bytes.
const DRAIN_WHILE_WRITING_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Longest raw header kept for an error report (the 5-byte large form).
const RAW_HEADER_MAX_BYTES: usize = 5;
/// Echo-load round-trip samples kept.
const ECHO_RTT_SAMPLES_MAX: usize = 131_072;
/// Stands in for a deadline too far away to represent.
const FAR_FUTURE_SECS: u64 = 365 * 24 * 3_600;
/// MOVEMENTFLAG_FORWARD.
const MOVEMENT_FORWARD: u32 = 0x1;
/// CHAT_MSG_SAY.
const CHAT_MSG_SAY: u32 = 1;
/// LANG_UNIVERSAL.
const LANG_UNIVERSAL: u32 = 0;

/// One scripted step. Each names itself in errors with [`BotStep::name`].
#[derive(Debug, Clone, PartialEq)]
pub enum BotStep {
    /// Read SMSG_AUTH_CHALLENGE, send CMSG_AUTH_SESSION (digest over the config's key, two
    /// addons), start both header ciphers, read SMSG_AUTH_RESPONSE. AUTH_OK ends the step
    /// (queue answers are waited through); any other code is recorded in
    /// [`BotReport::auth_result`] and ends the script with [`BotError::AuthRefused`].
    Authenticate,
    /// Send CMSG_READY_FOR_ACCOUNT_DATA_TIMES, CMSG_CHAR_ENUM and CMSG_REALM_SPLIT; wait for
    /// SMSG_ACCOUNT_DATA_TIMES, SMSG_CHAR_ENUM (which must list [`BotConfig::character`]) and
    /// SMSG_REALM_SPLIT (which must echo the request), in any order.
    CharacterScreen,
    /// Send CMSG_CHAR_CREATE for a human warrior named `name` and wait for SMSG_CHAR_CREATE;
    /// a result other than `expect` (0x2F created, 0x32 name in use, ...) is a
    /// [`BotError::Protocol`]. Each result is recorded in [`BotReport::char_results`].
    CreateCharacter {
        /// The name asked for.
        name: String,
        /// The result the step expects.
        expect: u8,
    },
    /// Send CMSG_CHAR_DELETE for `guid` and wait for SMSG_CHAR_DELETE with `expect` (0x47
    /// deleted, 0x48 failed), as [`BotStep::CreateCharacter`].
    DeleteCharacter {
        /// The character.
        guid: u64,
        /// The result the step expects.
        expect: u8,
    },
    /// Send CMSG_CHAR_RENAME for `guid` and wait for SMSG_CHAR_RENAME with `expect` (0x00
    /// renamed, with the guid and the name), as [`BotStep::CreateCharacter`].
    RenameCharacter {
        /// The character.
        guid: u64,
        /// The new name.
        name: String,
        /// The result the step expects.
        expect: u8,
    },
    /// Send CMSG_PLAYER_LOGIN for [`BotConfig::character`] and wait for the first
    /// SMSG_TIME_SYNC_REQ (in world; the time is recorded in [`BotReport::login_ms`]).
    /// SMSG_CHARACTER_LOGIN_FAILED ends the script with [`BotError::LoginFailed`].
    EnterWorld,
    /// Send CMSG_PLAYER_LOGIN for a login the realm must refuse, and wait up to `within_ms`
    /// for SMSG_CHARACTER_LOGIN_FAILED with `code` (the time is recorded in
    /// [`BotReport::logins_refused_ms`]). In world, or another code, is a
    /// [`BotError::Protocol`]; no answer is a [`BotError::Timeout`], recorded in
    /// [`BotReport::logins_unanswered_ms`].
    EnterWorldRefused {
        /// The SMSG_CHARACTER_LOGIN_FAILED code expected.
        code: u8,
        /// How long the bot waits for it.
        within_ms: u64,
    },
    /// Send `packets` MSG_MOVE_HEARTBEAT packets, the first at once and then one every
    /// `interval_ms`, reading (and answering) whatever arrives in between. The step lasts
    /// about `packets * interval_ms`.
    Chatter {
        /// How many movement packets.
        packets: u32,
        /// Milliseconds from one packet to the next.
        interval_ms: u64,
        /// Body size: a realistic movement body (packed guid + [`MOVEMENT_INFO_BYTES`]), or
        /// exactly this many bytes when that is larger (zero padded).
        body_bytes: usize,
    },
    /// Send one raw packet (tests use it for a 10,000-byte client packet). A body over the
    /// client header's limit is a [`BotError::Protocol`] and nothing is sent.
    Send {
        /// Opcode.
        opcode: Opcode,
        /// Body, sent as is.
        body: Bytes,
    },
    /// Say `.tele <map> <x> <y> <z>`, expect SMSG_TRANSFER_PENDING then SMSG_NEW_WORLD for
    /// `map`, answer MSG_MOVE_WORLDPORT_ACK and wait for the next SMSG_TIME_SYNC_REQ (back in
    /// world, on whichever worldserver; the time from the ack is recorded in
    /// [`BotReport::handoff_ms`]). SMSG_TRANSFER_ABORTED is a [`BotError::Protocol`]; an
    /// SMSG_NEW_WORLD before SMSG_TRANSFER_PENDING is the gateway's own loading screen (a move
    /// that raced the teleport): acked, counted as unsolicited, and the teleport awaited. The map
    /// must differ from the current one (a same-map teleport is a near teleport, which this
    /// step does not play).
    ChangeMap {
        /// Destination map.
        map: u32,
        /// Destination x.
        x: f32,
        /// Destination y.
        y: f32,
        /// Destination z.
        z: f32,
    },
    /// A player who quits in the middle of a map change: as [`BotStep::ChangeMap`] up to the
    /// MSG_MOVE_WORLDPORT_ACK, then read (and answer) for a time drawn from the bot's RNG in
    /// `[0, leave_within_ms)` and close the socket, whatever the gateway is doing by then.
    /// Later steps fail.
    AbandonChangeMap {
        /// Destination map.
        map: u32,
        /// Destination x.
        x: f32,
        /// Destination y.
        y: f32,
        /// Destination z.
        z: f32,
        /// The close comes this long after the ack, at most.
        leave_within_ms: u64,
    },
    /// Read until `count` packets of `opcode` have arrived that no earlier `ExpectPackets`
    /// step claimed. Packets that arrived during earlier steps count, so a packet the server
    /// pushed while the bot was busy elsewhere is not missed. Each awaited packet has the
    /// step timeout.
    ExpectPackets {
        /// Opcode to count.
        opcode: Opcode,
        /// How many.
        count: u32,
    },
    /// Echo load for benchmarks: movement packets carrying a sequence number, at most
    /// `window` in flight, each answered by a worldserver that echoes them; records
    /// round-trip times in [`BotReport::echo_rtt_us`].
    EchoLoad {
        /// Packets to send.
        packets: u32,
        /// Packets in flight at most.
        window: u32,
        /// Body size (at least 8).
        body_bytes: usize,
    },
    /// Send CMSG_LOGOUT_REQUEST; expect SMSG_LOGOUT_RESPONSE with result 0, then
    /// SMSG_LOGOUT_COMPLETE (back at the character screen). A non-instant logout may take
    /// [`LOGOUT_DELAY_MS`] longer than the step timeout.
    Logout,
    /// Close the socket at once (nothing queued is sent). Later steps fail.
    Disconnect,
    /// Whisper `count` lines to the character named `to`, the first at once and then one
    /// every `interval_ms`, reading (and answering) whatever arrives in between. Each text is
    /// unique to the connection; what becomes of them is recorded in the report
    /// ([`BotReport::whispers_sent`] and the fields after it), whatever the step.
    Whisper {
        /// The receiver's character name.
        to: String,
        /// How many lines.
        count: u32,
        /// Milliseconds from one line to the next.
        interval_ms: u64,
    },
    /// Say `count` lines in guild chat, as [`BotStep::Whisper`]; what becomes of them is
    /// recorded in the report ([`BotReport::guild_sent`] and the fields after it).
    GuildChat {
        /// How many lines.
        count: u32,
        /// Milliseconds from one line to the next.
        interval_ms: u64,
    },
    /// Play on (reading and answering) until the gateway closes the connection because a
    /// newer login of the account took it over: a system message saying so must arrive
    /// before the close (recorded in [`BotReport::evicted`]). A close without it is a
    /// [`BotError::Protocol`]; no close within `within_ms` is a [`BotError::Timeout`].
    /// Later steps fail.
    AwaitEviction {
        /// How long the bot waits for it.
        within_ms: u64,
    },
}

/// The words of the system message an evicted player reads.
pub const EVICTION_NOTICE: &str = "logged in again elsewhere";

impl BotStep {
    /// The step's name, as errors carry it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Authenticate => "authenticate",
            Self::CharacterScreen => "character screen",
            Self::CreateCharacter { .. } => "create character",
            Self::DeleteCharacter { .. } => "delete character",
            Self::RenameCharacter { .. } => "rename character",
            Self::EnterWorld => "enter world",
            Self::EnterWorldRefused { .. } => "enter world refused",
            Self::Chatter { .. } => "chatter",
            Self::Send { .. } => "send",
            Self::ChangeMap { .. } => "change map",
            Self::AbandonChangeMap { .. } => "abandon change map",
            Self::ExpectPackets { .. } => "expect packets",
            Self::EchoLoad { .. } => "echo load",
            Self::Logout => "logout",
            Self::Disconnect => "disconnect",
            Self::AwaitEviction { .. } => "await eviction",
            Self::Whisper { .. } => "whisper",
            Self::GuildChat { .. } => "guild chat",
        }
    }
}

/// A bot's settings and script.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// Account name, sent as given (the stock client sends it upper case).
    pub account: String,
    /// The account's session key K.
    pub session_key: SessionKey,
    /// Realm id sent in the auth session.
    pub realm_id: u32,
    /// Seed of the bot's RNG (client seed, movement).
    pub seed: u64,
    /// Guid of the character to play.
    pub character: u64,
    /// What to do, in order.
    pub script: Vec<BotStep>,
    /// Longest wait for any one awaited reply, and for any one write, in milliseconds.
    pub step_timeout_ms: u64,
    /// Largest server body accepted; a header announcing more fails the header check.
    pub max_body_bytes: usize,
    /// Heartbeat sequence numbers start after this one (a player's later connections
    /// continue the count, so a checker can tell them apart).
    pub movement_seq_start: u32,
}

impl BotConfig {
    /// A config with realm 1, seed 0, [`DEFAULT_STEP_TIMEOUT_MS`] and
    /// [`DEFAULT_MAX_BODY_BYTES`].
    pub fn new(
        account: impl Into<String>,
        session_key: SessionKey,
        character: u64,
        script: Vec<BotStep>,
    ) -> Self {
        Self {
            account: account.into(),
            session_key,
            realm_id: 1,
            seed: 0,
            character,
            script,
            step_timeout_ms: DEFAULT_STEP_TIMEOUT_MS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            movement_seq_start: 0,
        }
    }
}

/// What a bot saw and did.
#[derive(Debug, Clone, Default)]
pub struct BotReport {
    /// Times it entered the world.
    pub logins: u32,
    /// Map changes completed.
    pub handoffs: u32,
    /// Logouts completed.
    pub logouts: u32,
    /// Packets sent (pings and time-sync answers included).
    pub packets_sent: u64,
    /// Server packets received (the challenge included).
    pub packets_received: u64,
    /// Milliseconds from CMSG_PLAYER_LOGIN to the first SMSG_TIME_SYNC_REQ, per login.
    pub login_ms: Vec<u64>,
    /// Milliseconds from MSG_MOVE_WORLDPORT_ACK to the next SMSG_TIME_SYNC_REQ, per map change.
    pub handoff_ms: Vec<u64>,
    /// The last [`RECEIVED_LOG_MAX`] server packets received, oldest first.
    pub received: VecDeque<(Opcode, Bytes)>,
    /// The last SMSG_AUTH_RESPONSE result code (0x0C AUTH_OK, 0x1B while queued).
    pub auth_result: Option<u8>,
    /// Queue position from the last queue answer, if the bot was queued.
    pub queue_position: Option<u32>,
    /// SMSG_CHARACTER_LOGIN_FAILED code, if a login failed.
    pub login_failed: Option<u8>,
    /// Milliseconds from CMSG_PLAYER_LOGIN to SMSG_CHARACTER_LOGIN_FAILED, per refused login.
    pub logins_refused_ms: Vec<u64>,
    /// Logins the gateway never answered (no SMSG_TIME_SYNC_REQ, no
    /// SMSG_CHARACTER_LOGIN_FAILED, no close): how long the bot waited for each before it gave
    /// up.
    pub logins_unanswered_ms: Vec<u64>,
    /// Answers to character create, delete and rename steps: opcode and result, in order.
    pub char_results: Vec<(Opcode, u8)>,
    /// SMSG_TIME_SYNC_REQ packets answered.
    pub time_syncs_answered: u64,
    /// CMSG_PING packets sent.
    pub pings_sent: u32,
    /// Round trip of the last answered ping, in milliseconds.
    pub latency_ms: Option<u64>,
    /// Round-trip times of echo-load packets, in microseconds (at most 131,072 kept).
    pub echo_rtt_us: Vec<u64>,
    /// When the echo load started and ended.
    pub echo_span: Option<(Instant, Instant)>,
    /// Loading screens the bot did not ask for (the gateway recovering a lost worldserver),
    /// each answered with MSG_MOVE_WORLDPORT_ACK as the client does.
    pub unsolicited_loading_screens: u32,
    /// Closed after being told a newer login of the account took over.
    pub evicted: bool,
    /// Whispers sent: the receiver's name and the text (at most [`REPORT_LIST_MAX`]).
    pub whispers_sent: Vec<(String, String)>,
    /// Texts of whispers received (SMSG_MESSAGECHAT of type WHISPER; at most
    /// [`REPORT_LIST_MAX`]).
    pub whispers_received: Vec<String>,
    /// Whispers received while moving between worldservers: from a teleport until back in
    /// world, or on a loading screen the bot did not ask for.
    pub whispers_received_moving: u32,
    /// Texts of the bot's own whispers that the server echoed as sent (WHISPER_INFORM; at
    /// most [`REPORT_LIST_MAX`]).
    pub whispers_informed: Vec<String>,
    /// Whispers the server reported undeliverable: SMSG_CHAT_PLAYER_NOT_FOUND, or the system
    /// line saying the chat service did not take one.
    pub whispers_undeliverable: u32,
    /// Guild chat lines said, and when (at most [`REPORT_LIST_MAX`]).
    pub guild_sent: Vec<(String, Instant)>,
    /// Texts of other players' guild lines received (at most [`REPORT_LIST_MAX`]).
    pub guild_received: Vec<String>,
    /// Texts of the bot's own guild lines echoed back as said (at most
    /// [`REPORT_LIST_MAX`]).
    pub guild_echoed: Vec<String>,
    /// Guild lines the server said it could not deliver.
    pub guild_undeliverable: u32,
    /// Party frames received (SMSG_PARTY_MEMBER_STATS and its FULL variant): the member, the
    /// health it showed if it carried one, and when (at most [`REPORT_LIST_MAX`]).
    pub party_frames: Vec<(u64, Option<u32>, Instant)>,
    /// When the bot's character was on its way between worldservers: from a teleport, or a
    /// loading screen the bot did not ask for, to the next world entry's first
    /// SMSG_TIME_SYNC_REQ (at most [`REPORT_LIST_MAX`]).
    pub moving_spans: Vec<(Instant, Instant)>,
    /// When the bot's character was in world: from the end of each login to the logout
    /// request or the close (moves between worldservers do not end a span).
    pub world_spans: Vec<(Instant, Instant)>,
}

/// Entries a report keeps in each of its chat, party frame and span lists, at most (a
/// script that makes more is judged on the first ones).
pub const REPORT_LIST_MAX: usize = 4_096;

/// Why a bot stopped. Every variant names the step it happened in ([`BotError::step`]).
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The socket failed.
    #[error("{step}: i/o: {source}")]
    Io {
        /// Step.
        step: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The gateway closed the connection, or the script had already disconnected.
    #[error("{step}: connection closed")]
    Closed {
        /// Step.
        step: String,
    },
    /// An awaited reply (or a write) did not complete in time.
    #[error("{step}: no {awaiting} after {waited_ms} ms")]
    Timeout {
        /// Step.
        step: String,
        /// How long it waited, in milliseconds.
        waited_ms: u64,
        /// What it waited for.
        awaiting: String,
    },
    /// A server header did not decrypt to a sane header: the cipher streams diverged, or the
    /// gateway let a cluster opcode through.
    #[error("{step}: header of server packet #{index} ({raw:02x?}) did not decrypt: {detail}")]
    HeaderDidNotDecrypt {
        /// Step.
        step: String,
        /// Index of the packet in the server stream (0 is the challenge).
        index: u64,
        /// The header bytes as received, before decryption (4 or 5 bytes).
        raw: Vec<u8>,
        /// What was wrong with the decrypted header.
        detail: String,
    },
    /// SMSG_AUTH_RESPONSE refused the session with this code (step "authenticate").
    #[error("authenticate: refused with {0:#04x} ({name})", name = auth_result_name(*.0))]
    AuthRefused(u8),
    /// SMSG_CHARACTER_LOGIN_FAILED with this code (step "enter world").
    #[error("enter world: login failed with {0:#04x} ({name})", name = login_failure_name(*.0))]
    LoginFailed(u8),
    /// The server said something the script cannot accept.
    #[error("{step}: {detail}")]
    Protocol {
        /// Step.
        step: String,
        /// What.
        detail: String,
    },
}

impl BotError {
    /// The name of the step the error happened in.
    pub fn step(&self) -> &str {
        match self {
            Self::Io { step, .. }
            | Self::Closed { step }
            | Self::Timeout { step, .. }
            | Self::HeaderDidNotDecrypt { step, .. }
            | Self::Protocol { step, .. } => step,
            Self::AuthRefused(_) => BotStep::Authenticate.name(),
            Self::LoginFailed(_) => BotStep::EnterWorld.name(),
        }
    }
}

fn auth_result_name(code: u8) -> &'static str {
    AuthResult(code).name().unwrap_or("unknown")
}

fn login_failure_name(code: u8) -> &'static str {
    LoginFailure(code).name().unwrap_or("unknown")
}

/// Plays `config.script` over `stream` (connected to a gateway). Always returns the report,
/// with the error that ended the script, if any. The socket is closed on return.
pub async fn run_bot(
    stream: TcpStream,
    mut config: BotConfig,
) -> (BotReport, Result<(), BotError>) {
    let _ = stream.set_nodelay(true);
    let script = std::mem::take(&mut config.script);
    let mut bot = Bot::new(stream, config);
    for step in &script {
        if let Err(e) = bot.step(step).await {
            tracing::debug!(account = %bot.cfg.account, error = %e, "bot stopped");
            bot.left_world();
            return (bot.report, Err(e));
        }
    }
    bot.left_world();
    (bot.report, Ok(()))
}

/// Where the bot's character stands, for realistic movement bodies.
#[derive(Debug, Clone, Copy, Default)]
struct Walk {
    x: f32,
    y: f32,
    z: f32,
}

struct Bot {
    /// None once the script disconnected.
    stream: Option<TcpStream>,
    dec: ServerHeaderDecoder,
    /// A second reader of every server header, independent of `src/wire`.
    shadow: ShadowHeaders,
    enc: ClientHeaderEncoder,
    cfg: BotConfig,
    rng: ChaCha8Rng,
    report: BotReport,
    /// Encoded packets not yet written; written by `flush`.
    out: BytesMut,
    started: Instant,
    authenticated: bool,
    ping: PingClock,
    /// Raw bytes of the header being decoded (consumed by the decoder, not yet a packet).
    raw_header: Vec<u8>,
    /// Packets received per opcode.
    seen: BTreeMap<Opcode, u64>,
    /// Packets per opcode claimed by `ExpectPackets` steps.
    claimed: BTreeMap<Opcode, u64>,
    walk: Walk,
    /// Heartbeats sent so far (the last one's sequence number).
    movement_seq: u32,
    /// The last SMSG_TIME_SYNC_REQ counter seen.
    last_time_sync: Option<u32>,
    /// World entries under way (logins sent, loading screens shown) that no
    /// SMSG_TIME_SYNC_REQ counter 0 has completed yet.
    world_entries: u32,
    /// A `.tele` is under way: its SMSG_NEW_WORLD is the step's own business.
    expect_new_world: bool,
    /// Chat lines said on this connection (numbers their texts).
    lines_said: u32,
    /// Since when the character is in world, while it is.
    in_world_since: Option<Instant>,
    /// Since when the character is on its way between worldservers, while it is.
    moving_since: Option<Instant>,
}

impl Bot {
    fn new(stream: TcpStream, cfg: BotConfig) -> Self {
        let seq_start = cfg.movement_seq_start;
        Self {
            stream: Some(stream),
            dec: ServerHeaderDecoder::for_gateway(cfg.max_body_bytes),
            shadow: ShadowHeaders::plain(),
            enc: ClientHeaderEncoder::plain(),
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            cfg,
            report: BotReport::default(),
            out: BytesMut::new(),
            started: Instant::now(),
            authenticated: false,
            ping: PingClock::new(Duration::from_millis(PING_INTERVAL_MS)),
            raw_header: Vec::with_capacity(RAW_HEADER_MAX_BYTES),
            seen: BTreeMap::new(),
            claimed: BTreeMap::new(),
            walk: Walk::default(),
            movement_seq: seq_start,
            last_time_sync: None,
            world_entries: 0,
            expect_new_world: false,
            lines_said: 0,
            in_world_since: None,
            moving_since: None,
        }
    }

    async fn step(&mut self, step: &BotStep) -> Result<(), BotError> {
        tracing::trace!(account = %self.cfg.account, step = step.name(), "bot step");
        let name = step.name();
        match step {
            BotStep::Authenticate => self.authenticate(name).await,
            BotStep::CharacterScreen => self.character_screen(name).await,
            BotStep::EnterWorld => self.enter_world(name).await,
            BotStep::EnterWorldRefused { code, within_ms } => {
                self.enter_world_refused(name, *code, *within_ms).await
            }
            BotStep::CreateCharacter { name: n, expect } => {
                let body = CharCreate {
                    name: n.clone(),
                    // Human, warrior, male; skin, face, hair, facial hair and outfit 0.
                    appearance: [1, 1, 0, 0, 0, 0, 0, 0, 0],
                };
                self.char_request(name, &body, *expect).await
            }
            BotStep::DeleteCharacter { guid, expect } => {
                self.char_request(name, &CharDelete { guid: *guid }, *expect)
                    .await
            }
            BotStep::RenameCharacter {
                guid,
                name: n,
                expect,
            } => {
                let body = CharRename {
                    guid: *guid,
                    name: n.clone(),
                };
                self.char_request(name, &body, *expect).await
            }
            BotStep::Chatter {
                packets,
                interval_ms,
                body_bytes,
            } => {
                self.chatter(name, *packets, *interval_ms, *body_bytes)
                    .await
            }
            BotStep::Send { opcode, body } => {
                self.send(name, *opcode, body)?;
                self.flush(name).await
            }
            BotStep::ChangeMap { map, x, y, z } => self.change_map(name, *map, *x, *y, *z).await,
            BotStep::ExpectPackets { opcode, count } => {
                self.expect_packets(name, *opcode, *count).await
            }
            BotStep::EchoLoad {
                packets,
                window,
                body_bytes,
            } => self.echo_load(name, *packets, *window, *body_bytes).await,
            BotStep::Logout => self.logout(name).await,
            BotStep::AbandonChangeMap {
                map,
                x,
                y,
                z,
                leave_within_ms,
            } => {
                self.teleport_until_ack(name, *map, *x, *y, *z).await?;
                let linger = self.rng.next_u64() % (*leave_within_ms).max(1);
                let until = later(Instant::now(), linger);
                while self.next_packet(name, until).await?.is_some() {}
                self.disconnect();
                Ok(())
            }
            BotStep::Disconnect => {
                self.disconnect();
                Ok(())
            }
            BotStep::AwaitEviction { within_ms } => self.await_eviction(name, *within_ms).await,
            BotStep::Whisper {
                to,
                count,
                interval_ms,
            } => self.whisper(name, to, *count, *interval_ms).await,
            BotStep::GuildChat { count, interval_ms } => {
                self.guild_chat(name, *count, *interval_ms).await
            }
        }
    }

    async fn await_eviction(&mut self, name: &str, within_ms: u64) -> Result<(), BotError> {
        let until = later(Instant::now(), within_ms);
        let mut told = false;
        loop {
            match self.next_packet(name, until).await {
                Ok(Some(p)) => {
                    if p.opcode == Opcode::SMSG_MESSAGECHAT
                        && p.body.first() == Some(&0)
                        && p.body
                            .windows(EVICTION_NOTICE.len())
                            .any(|w| w == EVICTION_NOTICE.as_bytes())
                    {
                        told = true;
                    }
                }
                Ok(None) => return Err(timeout(name, "eviction", within_ms)),
                Err(BotError::Closed { .. }) if told => {
                    self.report.evicted = true;
                    self.disconnect();
                    return Ok(());
                }
                Err(BotError::Closed { .. }) => {
                    return Err(protocol(name, "closed without being told why"));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Closes the socket at once. Dropping the stream closes it, on real sockets and in
    /// madsim alike (madsim's shutdown is a no-op).
    fn disconnect(&mut self) {
        self.left_world();
        self.stream = None;
        self.ping.stop();
        self.out.clear();
    }
}

impl Bot {
    /// The character is in world from now on (a login ended).
    fn entered_world(&mut self) {
        self.in_world_since.get_or_insert_with(Instant::now);
    }

    /// The character starts moving between worldservers, if it is in world.
    fn moving(&mut self) {
        if self.in_world_since.is_some() {
            self.moving_since.get_or_insert_with(Instant::now);
        }
    }

    /// The character arrived (a world entry completed), if it was moving.
    fn arrived(&mut self) {
        if let Some(since) = self.moving_since.take()
            && self.report.moving_spans.len() < REPORT_LIST_MAX
        {
            self.report.moving_spans.push((since, Instant::now()));
        }
    }

    /// The character's time in world ends now (a logout asked, a close), if it was there.
    fn left_world(&mut self) {
        self.arrived();
        if let Some(since) = self.in_world_since.take()
            && self.report.world_spans.len() < REPORT_LIST_MAX
        {
            self.report.world_spans.push((since, Instant::now()));
        }
    }
}

fn protocol(step: &str, detail: impl Into<String>) -> BotError {
    BotError::Protocol {
        step: step.into(),
        detail: detail.into(),
    }
}

fn timeout(step: &str, awaiting: &str, waited_ms: u64) -> BotError {
    BotError::Timeout {
        step: step.into(),
        waited_ms,
        awaiting: awaiting.into(),
    }
}

/// `from` plus `ms` milliseconds; a year from `from` if that would overflow (a config may say
/// `u64::MAX` for "no limit").
fn later(from: Instant, ms: u64) -> Instant {
    from.checked_add(Duration::from_millis(ms))
        .unwrap_or_else(|| from + Duration::from_secs(FAR_FUTURE_SECS))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
