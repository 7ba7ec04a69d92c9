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

use std::collections::{BTreeMap, VecDeque};
use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::wire::auth::{
    Addon, AddonList, AuthChallenge, AuthResponse, AuthResult, AuthSession, AuthSessionFields,
    compute_digest,
};
use crate::wire::codec::{Reader, WriteExt};
use crate::wire::opcode::NUM_MSG_TYPES;
use crate::wire::packets::{
    AccountDataTimes, CharEnum, CharacterLoginFailed, LoginFailure, LoginVerifyWorld,
    LogoutResponse, NewWorld, Ping, PlayerLogin, Pong, RealmSplit, RealmSplitRequest, TimeSyncReq,
    TimeSyncResp, TransferAborted, TransferPending, WirePacket,
};
use crate::wire::{
    ClientCiphers, ClientHeaderEncoder, Decoded, FrameError, Opcode, Packet, ServerHeaderDecoder,
    SessionKey,
};

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
    /// Send CMSG_PLAYER_LOGIN for [`BotConfig::character`] and wait for the first
    /// SMSG_TIME_SYNC_REQ (in world; the time is recorded in [`BotReport::login_ms`]).
    /// SMSG_CHARACTER_LOGIN_FAILED ends the script with [`BotError::LoginFailed`].
    EnterWorld,
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
}

impl BotStep {
    /// The step's name, as errors carry it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Authenticate => "authenticate",
            Self::CharacterScreen => "character screen",
            Self::EnterWorld => "enter world",
            Self::Chatter { .. } => "chatter",
            Self::Send { .. } => "send",
            Self::ChangeMap { .. } => "change map",
            Self::AbandonChangeMap { .. } => "abandon change map",
            Self::ExpectPackets { .. } => "expect packets",
            Self::EchoLoad { .. } => "echo load",
            Self::Logout => "logout",
            Self::Disconnect => "disconnect",
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
}

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
            return (bot.report, Err(e));
        }
    }
    (bot.report, Ok(()))
}

/// When the next CMSG_PING is due, and the one in flight. Pings are never closer together
/// than the interval: the next one is scheduled from the moment one is sent.
#[derive(Debug)]
struct PingClock {
    interval: Duration,
    next: Option<Instant>,
    seq: u32,
    in_flight: Option<(u32, Instant)>,
    latency_ms: u32,
}

impl PingClock {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            next: None,
            seq: 0,
            in_flight: None,
            latency_ms: 0,
        }
    }

    /// Starts the schedule: the first ping is due one interval from `now`.
    fn start(&mut self, now: Instant) {
        self.next = Some(now + self.interval);
    }

    /// No more pings.
    fn stop(&mut self) {
        self.next = None;
    }

    fn due_at(&self) -> Option<Instant> {
        self.next
    }

    /// The ping to send now, if one is due.
    fn take_due(&mut self, now: Instant) -> Option<Ping> {
        let next = self.next?;
        if now < next {
            return None;
        }
        self.seq = self.seq.wrapping_add(1);
        self.next = Some(now + self.interval);
        self.in_flight = Some((self.seq, now));
        Some(Ping {
            seq: self.seq,
            latency_ms: self.latency_ms,
        })
    }

    /// Notes a pong; the round trip in milliseconds if it answers the ping in flight.
    fn on_pong(&mut self, seq: u32, now: Instant) -> Option<u64> {
        match self.in_flight {
            Some((s, at)) if s == seq => {
                self.in_flight = None;
                let ms = millis(now.saturating_duration_since(at));
                self.latency_ms = u32::try_from(ms).unwrap_or(u32::MAX);
                Some(ms)
            }
            _ => None,
        }
    }
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
}

impl Bot {
    fn new(stream: TcpStream, cfg: BotConfig) -> Self {
        let seq_start = cfg.movement_seq_start;
        Self {
            stream: Some(stream),
            dec: ServerHeaderDecoder::for_gateway(cfg.max_body_bytes),
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
        }
    }

    async fn step(&mut self, step: &BotStep) -> Result<(), BotError> {
        tracing::trace!(account = %self.cfg.account, step = step.name(), "bot step");
        let name = step.name();
        match step {
            BotStep::Authenticate => self.authenticate(name).await,
            BotStep::CharacterScreen => self.character_screen(name).await,
            BotStep::EnterWorld => self.enter_world(name).await,
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
        }
    }

    /// Closes the socket at once. Dropping the stream closes it, on real sockets and in
    /// madsim alike (madsim's shutdown is a no-op).
    fn disconnect(&mut self) {
        self.stream = None;
        self.ping.stop();
        self.out.clear();
    }

    async fn authenticate(&mut self, step: &str) -> Result<(), BotError> {
        if self.authenticated {
            return Err(protocol(step, "already authenticated on this connection"));
        }
        let deadline = self.deadline();
        let p = self
            .next_packet_by(step, "SMSG_AUTH_CHALLENGE", deadline)
            .await?;
        if p.opcode != AuthChallenge::OPCODE {
            return Err(protocol(
                step,
                format!("{} instead of SMSG_AUTH_CHALLENGE", p.opcode),
            ));
        }
        let challenge = AuthChallenge::decode(&p.body)
            .map_err(|e| protocol(step, format!("SMSG_AUTH_CHALLENGE: {e}")))?;
        let client_seed = self.rng.next_u32();
        let body = AuthSession::encode(&AuthSessionFields {
            account: self.cfg.account.clone(),
            client_seed,
            realm_id: self.cfg.realm_id,
            digest: compute_digest(
                &self.cfg.account,
                client_seed,
                challenge.server_seed,
                &self.cfg.session_key,
            ),
            addon_block: addons().encode_block(),
        });
        self.send(step, AuthSession::OPCODE, &body)?;
        self.flush(step).await?;
        // Every header after the auth session is encrypted, both ways. The decoder decrypts a
        // header byte when it consumes it, so bytes already buffered are handled right.
        let ciphers = ClientCiphers::new(&self.cfg.session_key);
        self.enc.start_cipher(ciphers.outbound);
        self.dec.start_cipher(ciphers.inbound);
        loop {
            // Each answer (a queue update included) has its own deadline.
            let deadline = self.deadline();
            let p = self
                .next_packet_by(step, "SMSG_AUTH_RESPONSE", deadline)
                .await?;
            if p.opcode != AuthResponse::OPCODE {
                return Err(protocol(
                    step,
                    format!("{} instead of SMSG_AUTH_RESPONSE", p.opcode),
                ));
            }
            match AuthResponse::decode(&p.body) {
                Ok(AuthResponse::Ok(_)) => {
                    self.report.auth_result = Some(AuthResult::OK.0);
                    self.authenticated = true;
                    self.ping.start(Instant::now());
                    return Ok(());
                }
                Ok(
                    AuthResponse::Queued { position, .. } | AuthResponse::QueueUpdate { position },
                ) => {
                    self.report.auth_result = Some(AuthResult::WAIT_QUEUE.0);
                    self.report.queue_position = Some(position);
                }
                Ok(AuthResponse::Failed(code)) => {
                    self.report.auth_result = Some(code.0);
                    return Err(BotError::AuthRefused(code.0));
                }
                Err(e) => return Err(protocol(step, format!("SMSG_AUTH_RESPONSE: {e}"))),
            }
        }
    }

    async fn character_screen(&mut self, step: &str) -> Result<(), BotError> {
        self.send(step, Opcode::CMSG_READY_FOR_ACCOUNT_DATA_TIMES, &[])?;
        self.send(step, Opcode::CMSG_CHAR_ENUM, &[])?;
        self.send(
            step,
            RealmSplitRequest::OPCODE,
            &RealmSplitRequest {
                decision: REALM_SPLIT_DECISION,
            }
            .to_body(),
        )?;
        self.flush(step).await?;
        let mut need = vec![
            AccountDataTimes::OPCODE,
            CharEnum::OPCODE,
            RealmSplit::OPCODE,
        ];
        let mut deadline = self.deadline();
        while !need.is_empty() {
            let awaiting = need
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let p = self.next_packet_by(step, &awaiting, deadline).await?;
            if !need.contains(&p.opcode) {
                continue;
            }
            match p.opcode {
                Opcode::SMSG_CHAR_ENUM => {
                    let list = CharEnum::decode(&p.body)
                        .map_err(|e| protocol(step, format!("SMSG_CHAR_ENUM: {e}")))?;
                    if !list.characters.iter().any(|c| c.guid == self.cfg.character) {
                        return Err(protocol(
                            step,
                            format!(
                                "character {} is not in SMSG_CHAR_ENUM ({} listed)",
                                self.cfg.character,
                                list.characters.len()
                            ),
                        ));
                    }
                }
                Opcode::SMSG_REALM_SPLIT => {
                    let split = RealmSplit::decode(&p.body)
                        .map_err(|e| protocol(step, format!("SMSG_REALM_SPLIT: {e}")))?;
                    if split.decision != REALM_SPLIT_DECISION {
                        return Err(protocol(
                            step,
                            format!(
                                "SMSG_REALM_SPLIT echoes {:#x}, sent {REALM_SPLIT_DECISION:#x}",
                                split.decision
                            ),
                        ));
                    }
                }
                _ => {
                    AccountDataTimes::decode(&p.body)
                        .map_err(|e| protocol(step, format!("SMSG_ACCOUNT_DATA_TIMES: {e}")))?;
                }
            }
            need.retain(|op| *op != p.opcode);
            deadline = self.deadline();
        }
        Ok(())
    }

    async fn enter_world(&mut self, step: &str) -> Result<(), BotError> {
        let t0 = Instant::now();
        self.world_entries += 1;
        self.send(
            step,
            PlayerLogin::OPCODE,
            &PlayerLogin {
                guid: self.cfg.character,
            }
            .to_body(),
        )?;
        self.flush(step).await?;
        let deadline = self.deadline();
        let p = self
            .await_packet(
                step,
                "SMSG_TIME_SYNC_REQ",
                deadline,
                &[TimeSyncReq::OPCODE, CharacterLoginFailed::OPCODE],
            )
            .await?;
        if p.opcode == CharacterLoginFailed::OPCODE {
            let failed = CharacterLoginFailed::decode(&p.body)
                .map_err(|e| protocol(step, format!("SMSG_CHARACTER_LOGIN_FAILED: {e}")))?;
            self.report.login_failed = Some(failed.reason.0);
            return Err(BotError::LoginFailed(failed.reason.0));
        }
        self.report.logins += 1;
        self.report.login_ms.push(millis(t0.elapsed()));
        Ok(())
    }

    async fn chatter(
        &mut self,
        step: &str,
        packets: u32,
        interval_ms: u64,
        body_bytes: usize,
    ) -> Result<(), BotError> {
        let mut due = Instant::now();
        for _ in 0..packets {
            let body = self.movement(body_bytes);
            self.send(step, Opcode::MSG_MOVE_HEARTBEAT, &body)?;
            self.flush(step).await?;
            due = later(due, interval_ms);
            // Read (and answer) whatever arrives until the next packet is due. The cadence is
            // kept from the start, so slow reads do not stretch the step.
            while self.next_packet(step, due).await?.is_some() {}
        }
        Ok(())
    }

    async fn change_map(
        &mut self,
        step: &str,
        map: u32,
        x: f32,
        y: f32,
        z: f32,
    ) -> Result<(), BotError> {
        let t0 = self.teleport_until_ack(step, map, x, y, z).await?;
        let deadline = self.deadline();
        self.await_packet(step, "SMSG_TIME_SYNC_REQ", deadline, &[TimeSyncReq::OPCODE])
            .await?;
        self.report.handoffs += 1;
        self.report.handoff_ms.push(millis(t0.elapsed()));
        Ok(())
    }

    /// The first half of a map change: `.tele`, SMSG_TRANSFER_PENDING, SMSG_NEW_WORLD, then
    /// MSG_MOVE_WORLDPORT_ACK. Returns when the ack went out.
    async fn teleport_until_ack(
        &mut self,
        step: &str,
        map: u32,
        x: f32,
        y: f32,
        z: f32,
    ) -> Result<Instant, BotError> {
        let mut chat = BytesMut::new();
        chat.put_u32_le(CHAT_MSG_SAY);
        chat.put_u32_le(LANG_UNIVERSAL);
        chat.put_cstr(&format!(".tele {map} {x} {y} {z}"));
        self.send(step, Opcode::CMSG_MESSAGECHAT, &chat)?;
        self.flush(step).await?;
        let transfer = [
            TransferPending::OPCODE,
            NewWorld::OPCODE,
            TransferAborted::OPCODE,
        ];
        let deadline = self.deadline();
        self.expect_new_world = true;
        let p = loop {
            let p = self
                .await_packet(step, "SMSG_TRANSFER_PENDING", deadline, &transfer)
                .await;
            match p {
                // A loading screen before the teleport's own: the gateway moved the player
                // (a drain, a layer switch) while the `.tele` waited. Load, say so, and wait
                // on: the teleport follows on the next worldserver.
                Ok(p) if p.opcode == NewWorld::OPCODE => {
                    self.report.unsolicited_loading_screens += 1;
                    self.send(step, Opcode::MSG_MOVE_WORLDPORT_ACK, &[])?;
                    self.flush(step).await?;
                }
                Ok(p) => break p,
                Err(e) => {
                    self.expect_new_world = false;
                    return Err(e);
                }
            }
        };
        self.check_transfer(step, &p, TransferPending::OPCODE)?;
        let pending = TransferPending::decode(&p.body)
            .map_err(|e| protocol(step, format!("SMSG_TRANSFER_PENDING: {e}")))?;
        if pending.map != map {
            return Err(protocol(
                step,
                format!("SMSG_TRANSFER_PENDING for map {}, asked {map}", pending.map),
            ));
        }
        let deadline = self.deadline();
        let p = self
            .await_packet(step, "SMSG_NEW_WORLD", deadline, &transfer)
            .await;
        self.expect_new_world = false;
        let p = p?;
        self.check_transfer(step, &p, NewWorld::OPCODE)?;
        let arrived = NewWorld::decode(&p.body)
            .map_err(|e| protocol(step, format!("SMSG_NEW_WORLD: {e}")))?;
        if arrived.0.map != map {
            return Err(protocol(
                step,
                format!("SMSG_NEW_WORLD for map {}, asked {map}", arrived.0.map),
            ));
        }
        let t0 = Instant::now();
        self.send(step, Opcode::MSG_MOVE_WORLDPORT_ACK, &[])?;
        self.flush(step).await?;
        Ok(t0)
    }

    /// `p` must be `want`; a transfer abort or the other transfer packet is an error.
    fn check_transfer(&self, step: &str, p: &Packet, want: Opcode) -> Result<(), BotError> {
        if p.opcode == want {
            return Ok(());
        }
        if p.opcode == TransferAborted::OPCODE {
            let detail = match TransferAborted::decode(&p.body) {
                Ok(a) => format!(
                    "SMSG_TRANSFER_ABORTED for map {} with reason {:#04x}",
                    a.map, a.reason
                ),
                Err(e) => format!("SMSG_TRANSFER_ABORTED: {e}"),
            };
            return Err(protocol(step, detail));
        }
        Err(protocol(
            step,
            format!("{} while waiting for {want}", p.opcode),
        ))
    }

    async fn expect_packets(
        &mut self,
        step: &str,
        opcode: Opcode,
        count: u32,
    ) -> Result<(), BotError> {
        let awaiting = format!("{count} x {opcode}");
        let mut deadline = self.deadline();
        loop {
            let seen = self.seen.get(&opcode).copied().unwrap_or(0);
            let claimed = self.claimed.entry(opcode).or_insert(0);
            if seen.saturating_sub(*claimed) >= u64::from(count) {
                *claimed += u64::from(count);
                return Ok(());
            }
            let p = self.next_packet_by(step, &awaiting, deadline).await?;
            if p.opcode == opcode {
                deadline = self.deadline();
            }
        }
    }

    async fn logout(&mut self, step: &str) -> Result<(), BotError> {
        self.send(step, Opcode::CMSG_LOGOUT_REQUEST, &[])?;
        self.flush(step).await?;
        let logout = [LogoutResponse::OPCODE, Opcode::SMSG_LOGOUT_COMPLETE];
        let deadline = self.deadline();
        let p = self
            .await_packet(step, "SMSG_LOGOUT_RESPONSE", deadline, &logout)
            .await?;
        if p.opcode != LogoutResponse::OPCODE {
            return Err(protocol(
                step,
                "SMSG_LOGOUT_COMPLETE before SMSG_LOGOUT_RESPONSE",
            ));
        }
        let response = LogoutResponse::decode(&p.body)
            .map_err(|e| protocol(step, format!("SMSG_LOGOUT_RESPONSE: {e}")))?;
        if response.result != 0 {
            return Err(protocol(
                step,
                format!("logout refused with result {}", response.result),
            ));
        }
        let wait_ms = if response.instant {
            self.cfg.step_timeout_ms
        } else {
            self.cfg.step_timeout_ms.saturating_add(LOGOUT_DELAY_MS)
        };
        let deadline = later(Instant::now(), wait_ms);
        loop {
            let Some(p) = self.next_packet(step, deadline).await? else {
                return Err(timeout(step, "SMSG_LOGOUT_COMPLETE", wait_ms));
            };
            if p.opcode == Opcode::SMSG_LOGOUT_COMPLETE {
                break;
            }
        }
        self.report.logouts += 1;
        Ok(())
    }

    async fn echo_load(
        &mut self,
        step: &str,
        packets: u32,
        window: u32,
        body_bytes: usize,
    ) -> Result<(), BotError> {
        /// A marker that tells echo-load bodies from movement chatter.
        const ECHO_MARK: u32 = 0xEC40_EC40;
        let mut sent_at: VecDeque<Instant> = VecDeque::new();
        let load_started = Instant::now();
        let mut next = 0u32;
        let mut done = 0u32;
        while done < packets {
            while next < packets && next - done < window.max(1) {
                let mut body = BytesMut::with_capacity(body_bytes.max(8));
                body.put_u32_le(ECHO_MARK);
                body.put_u32_le(next);
                body.resize(body_bytes.max(8), 0);
                self.send(step, Opcode::MSG_MOVE_HEARTBEAT, &body)?;
                sent_at.push_back(Instant::now());
                next += 1;
            }
            self.flush(step).await?;
            // Wait for one packet, then take everything else already received, so the next
            // window refill goes out as one write.
            let deadline = self.deadline();
            let first = self.next_packet_by(step, "an echo", deadline).await?;
            let mut batch = vec![first];
            while let Some(p) = self.take_buffered(step)? {
                batch.push(p);
            }
            for p in batch {
                let mut r = Reader::new(&p.body);
                if p.opcode != Opcode::MSG_MOVE_HEARTBEAT || r.u32("mark").ok() != Some(ECHO_MARK) {
                    continue;
                }
                let seq = r.u32("seq").unwrap_or(u32::MAX);
                if seq != done {
                    return Err(protocol(
                        step,
                        format!("echo {seq} arrived, expected {done}"),
                    ));
                }
                if let Some(t) = sent_at.pop_front()
                    && self.report.echo_rtt_us.len() < ECHO_RTT_SAMPLES_MAX
                {
                    self.report
                        .echo_rtt_us
                        .push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                done += 1;
            }
        }
        self.report.echo_span = Some((load_started, Instant::now()));
        Ok(())
    }

    /// A movement body: packed guid, flags, flags2, time, position, facing, fall time; zero
    /// padded to `len` when that is longer. The character walks a little between packets.
    fn movement(&mut self, len: usize) -> BytesMut {
        let step = |r: u32| (r % 201) as f32 / 100.0 - 1.0;
        self.walk.x += step(self.rng.next_u32());
        self.walk.y += step(self.rng.next_u32());
        let facing = (self.rng.next_u32() % 6_283) as f32 / 1_000.0;
        let mut b = BytesMut::with_capacity(len.max(9 + MOVEMENT_INFO_BYTES));
        b.put_packed_guid(self.cfg.character);
        b.put_u32_le(MOVEMENT_FORWARD);
        b.put_u16_le(0);
        b.put_u32_le(self.ticks_ms());
        b.put_f32_le(self.walk.x);
        b.put_f32_le(self.walk.y);
        b.put_f32_le(self.walk.z);
        b.put_f32_le(facing);
        self.movement_seq = self.movement_seq.wrapping_add(1);
        b.put_u32_le(self.movement_seq);
        if b.len() < len {
            b.resize(len, 0);
        }
        b
    }

    /// The client's tick count: milliseconds since the bot started, wrapping like a u32.
    fn ticks_ms(&self) -> u32 {
        millis(self.started.elapsed()) as u32
    }

    /// The deadline for one awaited reply, from now.
    fn deadline(&self) -> Instant {
        later(Instant::now(), self.cfg.step_timeout_ms)
    }

    /// Queues one packet; it leaves with the next [`Self::flush`].
    fn send(&mut self, step: &str, opcode: Opcode, body: &[u8]) -> Result<(), BotError> {
        self.enc
            .encode(opcode, body, &mut self.out)
            .map_err(|e| protocol(step, format!("cannot send {opcode}: {e}")))?;
        self.report.packets_sent += 1;
        Ok(())
    }

    /// Writes everything queued (and a ping, if one is due), within the step timeout.
    async fn flush(&mut self, step: &str) -> Result<(), BotError> {
        if self.stream.is_some()
            && let Some(ping) = self.ping.take_due(Instant::now())
        {
            self.send(step, Ping::OPCODE, &ping.to_body())?;
            self.report.pings_sent += 1;
        }
        if self.out.is_empty() {
            return Ok(());
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(BotError::Closed { step: step.into() });
        };
        // Clamped: madsim's timer adds the duration to its clock unchecked.
        let wait = Duration::from_millis(self.cfg.step_timeout_ms.min(FAR_FUTURE_SECS * 1_000));
        let result =
            tokio::time::timeout(wait, write_draining(stream, &mut self.dec, &self.out)).await;
        self.out.clear();
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(BotError::Io {
                step: step.into(),
                source,
            }),
            Err(_) => Err(timeout(
                step,
                "room to write (the gateway is not reading)",
                self.cfg.step_timeout_ms,
            )),
        }
    }

    /// Packets until one of `opcodes` arrives, before `deadline`.
    async fn await_packet(
        &mut self,
        step: &str,
        awaiting: &str,
        deadline: Instant,
        opcodes: &[Opcode],
    ) -> Result<Packet, BotError> {
        loop {
            let p = self.next_packet_by(step, awaiting, deadline).await?;
            if opcodes.contains(&p.opcode) {
                return Ok(p);
            }
        }
    }

    /// The next packet before `deadline`, or a timeout naming `awaiting`.
    async fn next_packet_by(
        &mut self,
        step: &str,
        awaiting: &str,
        deadline: Instant,
    ) -> Result<Packet, BotError> {
        match self.next_packet(step, deadline).await? {
            Some(p) => Ok(p),
            None => Err(timeout(step, awaiting, self.cfg.step_timeout_ms)),
        }
    }

    /// The next packet, or None at `deadline`. Answers time syncs and sends due pings on the
    /// way; every header is checked by [`Self::take_buffered`].
    async fn next_packet(
        &mut self,
        step: &str,
        deadline: Instant,
    ) -> Result<Option<Packet>, BotError> {
        loop {
            if let Some(p) = self.take_buffered(step)? {
                // A time-sync answer may be queued.
                self.flush(step).await?;
                return Ok(Some(p));
            }
            // Sends a ping if one is due.
            self.flush(step).await?;
            let now = Instant::now();
            let wake = match self.ping.due_at() {
                Some(ping) => deadline.min(ping),
                None => deadline,
            };
            let Some(stream) = self.stream.as_mut() else {
                return Err(BotError::Closed { step: step.into() });
            };
            let buf = self.dec.buffer_mut();
            buf.reserve(READ_CHUNK_BYTES);
            let left = wake.saturating_duration_since(now);
            match tokio::time::timeout(left, stream.read_buf(buf)).await {
                Err(_) => {
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
                Ok(Ok(0)) => return Err(BotError::Closed { step: step.into() }),
                Ok(Ok(_)) => {}
                Ok(Err(source)) => {
                    return Err(BotError::Io {
                        step: step.into(),
                        source,
                    });
                }
            }
        }
    }

    /// The next packet already received, if a whole one is buffered. Checks each header as
    /// soon as it is decrypted (before its body), logs the packet, and queues the answer to a
    /// time sync (sent with the next flush).
    fn take_buffered(&mut self, step: &str) -> Result<Option<Packet>, BotError> {
        let index = self.report.packets_received;
        // Keep the raw bytes of a header the decoder may consume in this call.
        let mut snap = [0u8; RAW_HEADER_MAX_BYTES];
        let mut snap_len = 0;
        if self.dec.pending_header().is_none() {
            let buf = self.dec.buffer_mut();
            snap_len = buf.len().min(RAW_HEADER_MAX_BYTES - self.raw_header.len());
            snap[..snap_len].copy_from_slice(&buf[..snap_len]);
        }
        let before = self.dec.buffered();
        let decoded = self.dec.decode();
        let body_len = match &decoded {
            Ok(Decoded::Packet(p)) => p.body.len(),
            _ => 0,
        };
        let header_bytes = before
            .saturating_sub(self.dec.buffered())
            .saturating_sub(body_len)
            .min(snap_len);
        self.raw_header.extend_from_slice(&snap[..header_bytes]);
        let header = match &decoded {
            Ok(Decoded::Packet(p)) => Some(p.opcode),
            Ok(Decoded::NeedMore(_)) => self.dec.pending_header().map(|(op, _)| op),
            Err(_) => None,
        };
        if let Some(opcode) = header
            && opcode.0 >= NUM_MSG_TYPES
        {
            return Err(BotError::HeaderDidNotDecrypt {
                step: step.into(),
                index,
                raw: std::mem::take(&mut self.raw_header),
                detail: format!(
                    "opcode {opcode} is not a client opcode (limit 0x{NUM_MSG_TYPES:03X})"
                ),
            });
        }
        let p = match decoded {
            Ok(Decoded::Packet(p)) => p,
            Ok(Decoded::NeedMore(_)) => return Ok(None),
            Err(e @ (FrameError::ServerSize { .. } | FrameError::ServerBodyTooLarge { .. })) => {
                return Err(BotError::HeaderDidNotDecrypt {
                    step: step.into(),
                    index,
                    raw: std::mem::take(&mut self.raw_header),
                    detail: e.to_string(),
                });
            }
            Err(e) => return Err(protocol(step, e.to_string())),
        };
        self.raw_header.clear();
        self.report.packets_received += 1;
        *self.seen.entry(p.opcode).or_insert(0) += 1;
        if self.report.received.len() >= RECEIVED_LOG_MAX {
            self.report.received.pop_front();
        }
        self.report.received.push_back((p.opcode, p.body.clone()));
        self.on_any_packet(step, &p)?;
        Ok(Some(p))
    }

    /// What the bot does with a packet whatever the step.
    fn on_any_packet(&mut self, step: &str, p: &Packet) -> Result<(), BotError> {
        match p.opcode {
            Opcode::SMSG_TIME_SYNC_REQ => {
                let req = TimeSyncReq::decode(&p.body)
                    .map_err(|e| protocol(step, format!("SMSG_TIME_SYNC_REQ: {e}")))?;
                if let Some(last) = self.last_time_sync
                    && req.counter != 0
                    && req.counter != last.wrapping_add(1)
                {
                    return Err(protocol(
                        step,
                        format!(
                            "SMSG_TIME_SYNC_REQ counter {} after {:?}: two world sessions interleave",
                            req.counter, self.last_time_sync
                        ),
                    ));
                }
                if req.counter == 0 {
                    // Every world session starts with a login or a loading screen: a second
                    // start without one means two worldservers' packets reached the client.
                    if self.world_entries == 0 {
                        return Err(protocol(
                            step,
                            "SMSG_TIME_SYNC_REQ counter 0 without a login or loading screen before it",
                        ));
                    }
                    self.world_entries -= 1;
                }
                self.last_time_sync = Some(req.counter);
                let resp = TimeSyncResp {
                    counter: req.counter,
                    client_ticks_ms: self.ticks_ms(),
                };
                self.send(step, TimeSyncResp::OPCODE, &resp.to_body())?;
                self.report.time_syncs_answered += 1;
            }
            Opcode::SMSG_PONG => {
                if let Ok(pong) = Pong::decode(&p.body)
                    && let Some(ms) = self.ping.on_pong(pong.seq, Instant::now())
                {
                    self.report.latency_ms = Some(ms);
                }
            }
            Opcode::SMSG_LOGIN_VERIFY_WORLD => {
                if let Ok(v) = LoginVerifyWorld::decode(&p.body) {
                    self.walk_to(v.0.position.x, v.0.position.y, v.0.position.z);
                }
            }
            Opcode::SMSG_NEW_WORLD => {
                self.world_entries += 1;
                if let Ok(v) = NewWorld::decode(&p.body) {
                    self.walk_to(v.0.position.x, v.0.position.y, v.0.position.z);
                }
                if !self.expect_new_world {
                    // A loading screen nobody asked for: load, and say so.
                    self.report.unsolicited_loading_screens += 1;
                    self.send(step, Opcode::MSG_MOVE_WORLDPORT_ACK, &[])?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn walk_to(&mut self, x: f32, y: f32, z: f32) {
        self.walk = Walk { x, y, z };
    }
}

/// The two addons the bot lists in its auth session.
fn addons() -> AddonList {
    /// CRC of the standard Blizzard addon key.
    const BLIZZARD_KEY_CRC: u32 = 0x4C1C_776D;
    let addon = |name: &str| Addon {
        name: name.into(),
        enabled: 1,
        crc: BLIZZARD_KEY_CRC,
        unknown: 0,
    };
    AddonList {
        addons: vec![addon("Blizzard_AchievementUI"), addon("Blizzard_AuctionUI")],
        time: Some(0),
    }
}

/// Writes and flushes `bytes`. While the socket will not take more, reads into the decoder's
/// buffer (up to [`DRAIN_WHILE_WRITING_MAX_BYTES`]) so the peer is never stuck writing to us
/// while we are stuck writing to it. End of stream or a read error met here stops the
/// reading; the next read reports it.
async fn write_draining(
    stream: &mut TcpStream,
    dec: &mut ServerHeaderDecoder,
    bytes: &[u8],
) -> std::io::Result<()> {
    let mut written = 0;
    let mut reading = true;
    poll_fn(|cx| {
        loop {
            if written < bytes.len() {
                match Pin::new(&mut *stream).poll_write(cx, &bytes[written..]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                    }
                    Poll::Ready(Ok(n)) => {
                        written += n;
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            } else if let Poll::Ready(r) = Pin::new(&mut *stream).poll_flush(cx) {
                return Poll::Ready(r);
            }
            if !reading || dec.buffered() >= DRAIN_WHILE_WRITING_MAX_BYTES {
                return Poll::Pending;
            }
            let buf = dec.buffer_mut();
            let start = buf.len();
            buf.resize(start + READ_CHUNK_BYTES, 0);
            let mut read = ReadBuf::new(&mut buf[start..]);
            let polled = Pin::new(&mut *stream).poll_read(cx, &mut read);
            let n = read.filled().len();
            buf.truncate(start + n);
            match polled {
                // Got some: try the write again, then read more.
                Poll::Ready(Ok(())) if n > 0 => {}
                Poll::Ready(_) => reading = false,
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_are_never_closer_than_the_interval() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut clock = PingClock::new(Duration::from_millis(PING_INTERVAL_MS));
        assert!(clock.take_due(at(60_000)).is_none(), "not before start");
        clock.start(t0);
        assert!(clock.take_due(at(29_999)).is_none());
        let first = clock.take_due(at(30_000)).expect("due at 30 s");
        assert_eq!((first.seq, first.latency_ms), (1, 0));
        assert!(clock.take_due(at(30_000)).is_none(), "one per interval");
        assert!(clock.take_due(at(59_999)).is_none());
        // A late ping pushes the next one: still 30 s apart.
        assert_eq!(clock.take_due(at(75_000)).map(|p| p.seq), Some(2));
        assert!(clock.take_due(at(104_999)).is_none());
        assert_eq!(clock.on_pong(1, at(75_010)), None, "stale pong");
        assert_eq!(clock.on_pong(2, at(75_040)), Some(40));
        let third = clock.take_due(at(105_000)).expect("due");
        assert_eq!((third.seq, third.latency_ms), (3, 40));
        clock.stop();
        assert!(clock.take_due(at(1_000_000)).is_none());
    }
}
