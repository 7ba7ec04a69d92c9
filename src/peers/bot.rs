//! A bot game client: the full 3.3.5a handshake with the header cipher, a scripted session
//! (character screen, login, movement chatter, map changes, logout), and an independent check
//! that every header it receives decrypts to a sane header.
//!
//! The bot answers SMSG_TIME_SYNC_REQ whenever one arrives and never pings (the worldserver
//! closes a connection that pings too often). Every wait has a deadline.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::wire::auth::{
    Addon, AddonList, AuthChallenge, AuthResponse, AuthSession, AuthSessionFields, compute_digest,
};
use crate::wire::codec::WriteExt;
use crate::wire::opcode::NUM_MSG_TYPES;
use crate::wire::packets::{
    CharEnum, CharacterLoginFailed, NewWorld, PlayerLogin, RealmSplitRequest, TimeSyncReq,
    TimeSyncResp, WirePacket,
};
use crate::wire::{
    ClientCiphers, ClientHeaderEncoder, Decoded, FrameError, Opcode, Packet, ServerHeaderDecoder,
    SessionKey,
};

/// Server packets kept in the report's log; older ones are dropped.
pub const RECEIVED_LOG_MAX: usize = 8_192;
/// Bytes read from the socket at once.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// One scripted step.
#[derive(Debug, Clone, PartialEq)]
pub enum BotStep {
    /// Challenge, auth session, AUTH_OK (a refusal ends the script).
    Authenticate,
    /// Account data times, character list (must list the bot's character), realm split.
    CharacterScreen,
    /// PLAYER_LOGIN, then wait for the first SMSG_TIME_SYNC_REQ.
    EnterWorld,
    /// Movement packets at an interval, reading whatever arrives meanwhile.
    Chatter {
        /// How many.
        packets: u32,
        /// Between two.
        interval_ms: u64,
        /// Body size (at least a realistic movement block).
        body_bytes: usize,
    },
    /// One raw packet.
    Send {
        /// Opcode.
        opcode: Opcode,
        /// Body.
        body: Bytes,
    },
    /// `.tele` to a map, answer SMSG_NEW_WORLD with MSG_MOVE_WORLDPORT_ACK, wait until in world.
    ChangeMap {
        /// Destination map.
        map: u32,
        /// Destination.
        x: f32,
        /// Destination.
        y: f32,
        /// Destination.
        z: f32,
    },
    /// Read until this many packets of this opcode arrived during the step.
    ExpectPackets {
        /// Opcode.
        opcode: Opcode,
        /// How many.
        count: u32,
    },
    /// Echo load for benchmarks: movement packets with a sequence number, at most `window` in
    /// flight, each answered by a worldserver that echoes them; records round-trip times.
    EchoLoad {
        /// Packets to send.
        packets: u32,
        /// Packets in flight at most.
        window: u32,
        /// Body size (at least 8).
        body_bytes: usize,
    },
    /// CMSG_LOGOUT_REQUEST, wait for SMSG_LOGOUT_COMPLETE.
    Logout,
    /// Close the socket at once.
    Disconnect,
}

/// A bot's settings and script.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// Account name.
    pub account: String,
    /// The account's session key.
    pub session_key: SessionKey,
    /// Realm id sent in the auth session.
    pub realm_id: u32,
    /// Seed of the bot's RNG (client seed, movement).
    pub seed: u64,
    /// Guid of the character to play.
    pub character: u64,
    /// What to do.
    pub script: Vec<BotStep>,
    /// Longest wait for any one expected reply.
    pub step_timeout_ms: u64,
    /// Largest server body accepted.
    pub max_body_bytes: usize,
}

/// What a bot saw and did.
#[derive(Debug, Clone, Default)]
pub struct BotReport {
    /// Times it entered the world.
    pub logins: u32,
    /// Map changes completed.
    pub handoffs: u32,
    /// Packets sent.
    pub packets_sent: u64,
    /// Packets received.
    pub packets_received: u64,
    /// Time from PLAYER_LOGIN to in world, per login.
    pub login_ms: Vec<u64>,
    /// Time from the worldport ack to in world, per map change.
    pub handoff_ms: Vec<u64>,
    /// The last server packets received, in order.
    pub received: VecDeque<(Opcode, Bytes)>,
    /// AUTH_RESPONSE result code, once received.
    pub auth_result: Option<u8>,
    /// SMSG_CHARACTER_LOGIN_FAILED code, if a login failed.
    pub login_failed: Option<u8>,
    /// Round-trip times of echo-load packets, in microseconds (at most 131,072 kept).
    pub echo_rtt_us: Vec<u64>,
    /// When the echo load started and ended.
    pub echo_span: Option<(tokio::time::Instant, tokio::time::Instant)>,
    /// Loading screens the bot did not ask for (the gateway recovering a lost worldserver),
    /// each answered with MSG_MOVE_WORLDPORT_ACK.
    pub unsolicited_loading_screens: u32,
}

/// Why a bot stopped. Every variant names the step it happened in.
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
    /// The gateway closed the connection.
    #[error("{step}: connection closed by the gateway")]
    Closed {
        /// Step.
        step: String,
    },
    /// An expected reply did not come in time.
    #[error("{step}: nothing after {waited_ms} ms")]
    Timeout {
        /// Step.
        step: String,
        /// How long it waited.
        waited_ms: u64,
    },
    /// A server header did not decrypt to a sane header: the cipher streams diverged.
    #[error("{step}: header of packet #{index} did not decrypt: {detail}")]
    HeaderDidNotDecrypt {
        /// Step.
        step: String,
        /// Index of the packet in the stream.
        index: u64,
        /// What was wrong.
        detail: String,
    },
    /// Authentication refused.
    #[error("authenticate: refused with code {0:#04x}")]
    AuthRefused(u8),
    /// Login refused.
    #[error("enter world: SMSG_CHARACTER_LOGIN_FAILED {0:#04x}")]
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

struct Bot {
    stream: TcpStream,
    dec: ServerHeaderDecoder,
    enc: ClientHeaderEncoder,
    cfg: BotConfig,
    rng: ChaCha8Rng,
    report: BotReport,
    out: BytesMut,
    started: tokio::time::Instant,
    /// A `.tele` is under way: SMSG_NEW_WORLD is the step's own business.
    expect_new_world: bool,
}

/// Plays `config.script` over `stream` (connected to a gateway). Always returns the report,
/// with the error that ended the script, if any.
pub async fn run_bot(stream: TcpStream, config: BotConfig) -> (BotReport, Result<(), BotError>) {
    let _ = stream.set_nodelay(true);
    let mut bot = Bot {
        stream,
        dec: ServerHeaderDecoder::for_gateway(config.max_body_bytes),
        enc: ClientHeaderEncoder::plain(),
        rng: ChaCha8Rng::seed_from_u64(config.seed),
        cfg: config,
        report: BotReport::default(),
        out: BytesMut::new(),
        started: tokio::time::Instant::now(),
        expect_new_world: false,
    };
    let script = bot.cfg.script.clone();
    let mut result = Ok(());
    for step in &script {
        if let Err(e) = bot.step(step).await {
            result = Err(e);
            break;
        }
    }
    (bot.report, result)
}

impl Bot {
    async fn step(&mut self, step: &BotStep) -> Result<(), BotError> {
        match step {
            BotStep::Authenticate => self.authenticate().await,
            BotStep::CharacterScreen => self.character_screen().await,
            BotStep::EnterWorld => self.enter_world().await,
            BotStep::Chatter {
                packets,
                interval_ms,
                body_bytes,
            } => self.chatter(*packets, *interval_ms, *body_bytes).await,
            BotStep::Send { opcode, body } => {
                self.send(*opcode, body)?;
                self.flush("send").await
            }
            BotStep::ChangeMap { map, x, y, z } => self.change_map(*map, *x, *y, *z).await,
            BotStep::ExpectPackets { opcode, count } => {
                let mut seen = 0;
                while seen < *count {
                    if self.recv("expect packets").await?.opcode == *opcode {
                        seen += 1;
                    }
                }
                Ok(())
            }
            BotStep::EchoLoad {
                packets,
                window,
                body_bytes,
            } => self.echo_load(*packets, *window, *body_bytes).await,
            BotStep::Logout => {
                self.send(Opcode::CMSG_LOGOUT_REQUEST, &[])?;
                self.flush("logout").await?;
                self.recv_until("logout", |p| p.opcode == Opcode::SMSG_LOGOUT_COMPLETE)
                    .await
                    .map(|_| ())
            }
            BotStep::Disconnect => {
                let _ = self.stream.shutdown().await;
                Ok(())
            }
        }
    }

    async fn authenticate(&mut self) -> Result<(), BotError> {
        let challenge = self.recv("authenticate").await?;
        if challenge.opcode != Opcode::SMSG_AUTH_CHALLENGE {
            return Err(self.protocol(
                "authenticate",
                format!("{} instead of the challenge", challenge.opcode),
            ));
        }
        let challenge = AuthChallenge::decode(&challenge.body)
            .map_err(|e| self.protocol("authenticate", format!("challenge: {e}")))?;
        let client_seed = self.rng.next_u32();
        let addons = AddonList {
            addons: vec![
                Addon {
                    name: "Blizzard_AchievementUI".into(),
                    enabled: 1,
                    crc: 0x4C1C_776D,
                    unknown: 0,
                },
                Addon {
                    name: "Blizzard_AuctionUI".into(),
                    enabled: 1,
                    crc: 0x4C1C_776D,
                    unknown: 0,
                },
            ],
            time: Some(0),
        };
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
            addon_block: addons.encode_block(),
        });
        self.send(Opcode::CMSG_AUTH_SESSION, &body)?;
        self.flush("authenticate").await?;
        // Everything after the auth session is encrypted, both ways.
        let ciphers = ClientCiphers::new(&self.cfg.session_key);
        self.enc.start_cipher(ciphers.outbound);
        self.dec.start_cipher(ciphers.inbound);
        let response = self.recv("authenticate").await?;
        if response.opcode != Opcode::SMSG_AUTH_RESPONSE {
            return Err(self.protocol(
                "authenticate",
                format!("{} instead of AUTH_RESPONSE", response.opcode),
            ));
        }
        match AuthResponse::decode(&response.body) {
            Ok(AuthResponse::Ok(_)) => {
                self.report.auth_result = Some(0x0C);
                Ok(())
            }
            Ok(AuthResponse::Failed(code)) => {
                self.report.auth_result = Some(code.0);
                Err(BotError::AuthRefused(code.0))
            }
            Ok(other) => Err(self.protocol("authenticate", format!("unexpected {other:?}"))),
            Err(e) => Err(self.protocol("authenticate", format!("AUTH_RESPONSE: {e}"))),
        }
    }

    async fn character_screen(&mut self) -> Result<(), BotError> {
        const STEP: &str = "character screen";
        self.send(Opcode::CMSG_READY_FOR_ACCOUNT_DATA_TIMES, &[])?;
        self.send(Opcode::CMSG_CHAR_ENUM, &[])?;
        self.send(
            RealmSplitRequest::OPCODE,
            &RealmSplitRequest {
                decision: 0xFFFF_FFFF,
            }
            .to_body(),
        )?;
        self.flush(STEP).await?;
        let mut need = [
            Opcode::SMSG_ACCOUNT_DATA_TIMES,
            Opcode::SMSG_CHAR_ENUM,
            Opcode::SMSG_REALM_SPLIT,
        ]
        .to_vec();
        while !need.is_empty() {
            let p = self.recv(STEP).await?;
            if p.opcode == Opcode::SMSG_CHAR_ENUM {
                let list = CharEnum::decode(&p.body)
                    .map_err(|e| self.protocol(STEP, format!("CHAR_ENUM: {e}")))?;
                if !list.characters.iter().any(|c| c.guid == self.cfg.character) {
                    return Err(self.protocol(
                        STEP,
                        format!("character {} is not listed", self.cfg.character),
                    ));
                }
            }
            need.retain(|op| *op != p.opcode);
        }
        Ok(())
    }

    async fn enter_world(&mut self) -> Result<(), BotError> {
        const STEP: &str = "enter world";
        let t0 = tokio::time::Instant::now();
        self.send(
            PlayerLogin::OPCODE,
            &PlayerLogin {
                guid: self.cfg.character,
            }
            .to_body(),
        )?;
        self.flush(STEP).await?;
        let p = self
            .recv_until(STEP, |p| {
                p.opcode == Opcode::SMSG_TIME_SYNC_REQ
                    || p.opcode == Opcode::SMSG_CHARACTER_LOGIN_FAILED
            })
            .await?;
        if p.opcode == Opcode::SMSG_CHARACTER_LOGIN_FAILED {
            let code = CharacterLoginFailed::decode(&p.body)
                .map(|f| f.reason.0)
                .unwrap_or(0);
            self.report.login_failed = Some(code);
            return Err(BotError::LoginFailed(code));
        }
        self.report.logins += 1;
        self.report.login_ms.push(millis(t0.elapsed()));
        Ok(())
    }

    async fn chatter(
        &mut self,
        packets: u32,
        interval_ms: u64,
        body_bytes: usize,
    ) -> Result<(), BotError> {
        const STEP: &str = "chatter";
        for _ in 0..packets {
            let body = self.movement(body_bytes);
            self.send(Opcode::MSG_MOVE_HEARTBEAT, &body)?;
            self.flush(STEP).await?;
            let until = tokio::time::Instant::now() + Duration::from_millis(interval_ms);
            // Read (and answer) whatever arrives until the next packet is due.
            while tokio::time::Instant::now() < until {
                if self.recv_before(STEP, until).await?.is_none() {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn echo_load(
        &mut self,
        packets: u32,
        window: u32,
        body_bytes: usize,
    ) -> Result<(), BotError> {
        const STEP: &str = "echo load";
        /// A marker that tells echo-load bodies from movement chatter.
        const ECHO_MARK: u32 = 0xEC40_EC40;
        let mut sent_at: VecDeque<tokio::time::Instant> = VecDeque::new();
        let load_started = tokio::time::Instant::now();
        let mut next = 0u32;
        let mut done = 0u32;
        while done < packets {
            while next < packets && next - done < window.max(1) {
                let mut body = BytesMut::with_capacity(body_bytes.max(8));
                body.put_u32_le(ECHO_MARK);
                body.put_u32_le(next);
                body.resize(body_bytes.max(8), 0);
                self.send(Opcode::MSG_MOVE_HEARTBEAT, &body)?;
                sent_at.push_back(tokio::time::Instant::now());
                next += 1;
            }
            self.flush(STEP).await?;
            // Wait for one packet, then take everything else already received, so the next
            // window refill goes out as one write.
            let first = self.recv(STEP).await?;
            let mut batch = vec![first];
            while let Some(p) = self.take_buffered(STEP)? {
                batch.push(p);
            }
            for p in batch {
                let mut r = crate::wire::codec::Reader::new(&p.body);
                if p.opcode != Opcode::MSG_MOVE_HEARTBEAT || r.u32("mark").ok() != Some(ECHO_MARK) {
                    continue;
                }
                let seq = r.u32("seq").unwrap_or(u32::MAX);
                if seq != done {
                    return Err(self.protocol(STEP, format!("echo {seq} arrived, expected {done}")));
                }
                if let Some(t) = sent_at.pop_front()
                    && self.report.echo_rtt_us.len() < RECEIVED_LOG_MAX * 16
                {
                    self.report
                        .echo_rtt_us
                        .push(u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
                }
                done += 1;
            }
        }
        self.report.echo_span = Some((load_started, tokio::time::Instant::now()));
        Ok(())
    }

    async fn change_map(&mut self, map: u32, x: f32, y: f32, z: f32) -> Result<(), BotError> {
        const STEP: &str = "change map";
        let mut chat = BytesMut::new();
        chat.put_u32_le(1); // SAY
        chat.put_u32_le(0); // universal
        chat.put_cstr(&format!(".tele {map} {x} {y} {z}"));
        self.send(Opcode::CMSG_MESSAGECHAT, &chat)?;
        self.flush(STEP).await?;
        self.expect_new_world = true;
        let p = self
            .recv_until(STEP, |p| p.opcode == Opcode::SMSG_NEW_WORLD)
            .await;
        self.expect_new_world = false;
        let p = p?;
        let arrived = NewWorld::decode(&p.body)
            .map_err(|e| self.protocol(STEP, format!("NEW_WORLD: {e}")))?;
        if arrived.0.map != map {
            return Err(self.protocol(
                STEP,
                format!("NEW_WORLD for map {}, asked {map}", arrived.0.map),
            ));
        }
        let t0 = tokio::time::Instant::now();
        self.send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[])?;
        self.flush(STEP).await?;
        self.recv_until(STEP, |p| p.opcode == Opcode::SMSG_TIME_SYNC_REQ)
            .await?;
        self.report.handoffs += 1;
        self.report.handoff_ms.push(millis(t0.elapsed()));
        Ok(())
    }

    /// A movement body: packed guid, flags, time, position, fall time; padded to `len`.
    fn movement(&mut self, len: usize) -> BytesMut {
        let mut b = BytesMut::new();
        b.put_packed_guid(self.cfg.character);
        b.put_u32_le(0x1); // forward
        b.put_u16_le(0);
        b.put_u32_le(millis(self.started.elapsed()) as u32);
        for _ in 0..4 {
            b.put_f32_le((self.rng.next_u32() % 10_000) as f32 / 10.0);
        }
        b.put_u32_le(0);
        while b.len() < len {
            b.put_u8(0);
        }
        b
    }

    fn send(&mut self, opcode: Opcode, body: &[u8]) -> Result<(), BotError> {
        self.enc
            .encode(opcode, body, &mut self.out)
            .map_err(|e| self.protocol("send", e.to_string()))?;
        self.report.packets_sent += 1;
        Ok(())
    }

    async fn flush(&mut self, step: &str) -> Result<(), BotError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let bytes = self.out.split();
        let write = async {
            self.stream.write_all(&bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(Duration::from_millis(self.cfg.step_timeout_ms), write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(BotError::Io {
                step: step.into(),
                source,
            }),
            Err(_) => Err(BotError::Timeout {
                step: step.into(),
                waited_ms: self.cfg.step_timeout_ms,
            }),
        }
    }

    /// The next packet, within the step timeout.
    async fn recv(&mut self, step: &str) -> Result<Packet, BotError> {
        let until = tokio::time::Instant::now() + Duration::from_millis(self.cfg.step_timeout_ms);
        match self.recv_before(step, until).await? {
            Some(p) => Ok(p),
            None => Err(BotError::Timeout {
                step: step.into(),
                waited_ms: self.cfg.step_timeout_ms,
            }),
        }
    }

    /// Packets until one matches, within the step timeout overall.
    async fn recv_until(
        &mut self,
        step: &str,
        want: impl Fn(&Packet) -> bool,
    ) -> Result<Packet, BotError> {
        let until = tokio::time::Instant::now() + Duration::from_millis(self.cfg.step_timeout_ms);
        loop {
            match self.recv_before(step, until).await? {
                Some(p) if want(&p) => return Ok(p),
                Some(_) => {}
                None => {
                    return Err(BotError::Timeout {
                        step: step.into(),
                        waited_ms: self.cfg.step_timeout_ms,
                    });
                }
            }
        }
    }

    /// The next packet, or None at `until`. Answers time syncs and checks every header.
    async fn recv_before(
        &mut self,
        step: &str,
        until: tokio::time::Instant,
    ) -> Result<Option<Packet>, BotError> {
        loop {
            if let Some(p) = self.take_buffered(step)? {
                // A time-sync answer may be queued.
                self.flush(step).await?;
                return Ok(Some(p));
            }
            let buf = self.dec.buffer_mut();
            buf.reserve(READ_CHUNK_BYTES);
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.stream.read_buf(buf)).await {
                Err(_) => return Ok(None),
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

    /// The next packet already received, if a whole one is buffered. Checks its header,
    /// logs it and queues the answer to a time sync (sent with the next flush).
    fn take_buffered(&mut self, step: &str) -> Result<Option<Packet>, BotError> {
        match self.dec.decode() {
            Ok(Decoded::Packet(p)) => {
                let index = self.report.packets_received;
                self.report.packets_received += 1;
                if p.opcode.0 >= NUM_MSG_TYPES {
                    return Err(BotError::HeaderDidNotDecrypt {
                        step: step.into(),
                        index,
                        detail: format!("opcode {} is not a client-facing opcode", p.opcode),
                    });
                }
                if self.report.received.len() == RECEIVED_LOG_MAX {
                    self.report.received.pop_front();
                }
                self.report.received.push_back((p.opcode, p.body.clone()));
                if p.opcode == Opcode::SMSG_TIME_SYNC_REQ
                    && let Ok(req) = TimeSyncReq::decode(&p.body)
                {
                    let resp = TimeSyncResp {
                        counter: req.counter,
                        client_ticks_ms: millis(self.started.elapsed()) as u32,
                    };
                    self.send(TimeSyncResp::OPCODE, &resp.to_body())?;
                }
                if p.opcode == Opcode::SMSG_NEW_WORLD && !self.expect_new_world {
                    // A loading screen nobody asked for: load, and say so.
                    self.report.unsolicited_loading_screens += 1;
                    self.send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[])?;
                }
                Ok(Some(p))
            }
            Ok(Decoded::NeedMore(_)) => match self.dec.pending_header() {
                // A header is judged as soon as it is decrypted, before its body arrives.
                Some((opcode, _)) if opcode.0 >= NUM_MSG_TYPES => {
                    Err(BotError::HeaderDidNotDecrypt {
                        step: step.into(),
                        index: self.report.packets_received,
                        detail: format!("opcode {opcode} is not a client-facing opcode"),
                    })
                }
                _ => Ok(None),
            },
            Err(e @ (FrameError::ServerSize { .. } | FrameError::ServerBodyTooLarge { .. })) => {
                Err(BotError::HeaderDidNotDecrypt {
                    step: step.into(),
                    index: self.report.packets_received,
                    detail: e.to_string(),
                })
            }
            Err(e) => Err(self.protocol(step, e.to_string())),
        }
    }

    fn protocol(&self, step: &str, detail: String) -> BotError {
        BotError::Protocol {
            step: step.into(),
            detail,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
