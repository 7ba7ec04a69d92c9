//! The per-player state machine, sans I/O.
//!
//! A [`Session`] is one game client's connection through the gateway. It owns the client's
//! decoder and encoder (with their header ciphers) and the codecs of its worldserver
//! connections, and decides everything; the driver only moves bytes and answers seam calls.
//!
//! Call order, as in quinn-proto:
//! 1. [`Session::new`] queues SMSG_AUTH_CHALLENGE.
//! 2. Feed what happens with the `handle_*` methods, each with the current `now` (time since
//!    the driver's clock origin): bytes from the client or a worldserver, seam answers,
//!    connection results and closes, and [`Session::handle_timeout`] once `now` reaches
//!    [`Session::poll_timeout`].
//! 3. After every `handle_*`, drain [`Session::poll_output`] until it returns `None` and carry
//!    the outputs out in order.
//!
//! States are named after what they wait for; see [`Phase`].

mod canary;
mod config;
mod output;
mod records;

use std::collections::VecDeque;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

pub use canary::Canary;
pub use config::SessionConfig;
pub use output::{
    CloseReason, Counters, Culprit, Departure, LinkId, Output, RequestId, SessionEvent,
};
pub use records::{
    AccountId, AccountRecord, CharacterGuid, CharacterRecord, NameRecord, SeamError,
};

use crate::cluster::WorldserverRef;
use crate::cluster::backoff::{Retry, RetryDecision};
use crate::wire::auth::{AuthChallenge, AuthResponse, AuthResult, AuthSession, CLIENT_BUILD};
use crate::wire::packets::{
    ACCOUNT_DATA_GLOBAL_MASK, AccountDataTimes, AddonAnswer, AddonInfo, CharCreateResult,
    CharDeleteResult, CharEnum, CharacterLoginFailed, ClientCacheVersion, LoginFailure, NameQuery,
    NameQueryResponse, Ping, PlayerLogin, Pong, RealmSplit, RealmSplitRequest, TutorialFlags,
    WirePacket,
};
use crate::wire::{
    ClientHeaderDecoder, ClientHeaderEncoder, Decoded, Opcode, Packet, ServerCiphers,
    ServerHeaderDecoder, ServerHeaderEncoder,
};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// Identifies a session in logs, metrics and transcripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// SMSG_CHAR_CREATE code for a refused creation (creation is not offered by this gateway yet).
const CHAR_CREATE_ERROR: u8 = 0x30;
/// SMSG_CHAR_DELETE code for a refused deletion.
const CHAR_DELETE_FAILED: u8 = 0x48;
/// The 3.3.5a client's cache version.
const CLIENT_CACHE_VERSION: u32 = 12340;
/// Name queries answered by a seam call at once, at most; more are dropped (the client asks
/// again when it needs a name).
const NAME_QUERIES_IN_FLIGHT_MAX: usize = 32;

/// What the session is waiting for. Public so tests and transcripts can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// SMSG_AUTH_CHALLENGE sent; waiting for CMSG_AUTH_SESSION.
    ExpectAuthSession,
    /// Waiting for the account lookup.
    AwaitAccount,
    /// Authenticated, no character in world.
    CharacterScreen,
    /// Between CMSG_PLAYER_LOGIN and the worldserver's first SMSG_TIME_SYNC_REQ (also the
    /// second half of a handoff).
    EnteringWorld,
    /// In world, proxying.
    InWorld,
    /// SMSG_NEW_WORLD forwarded; waiting for the client's MSG_MOVE_WORLDPORT_ACK.
    Transferring,
    /// Worldport ack held while the registry says who owns the destination map.
    AwaitTransferPlacement,
    /// TC9_CMSG_PREPARE_FOR_REDIRECT sent; waiting for TC9_SMSG_READY_FOR_REDIRECT.
    AwaitRedirectReady,
    /// READY received; waiting for the old worldserver to kick the player (close the link).
    AwaitRelease,
    /// Shutting down: logout requested from the worldserver.
    LoggingOut,
    /// Done.
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnterStep {
    AwaitPlacement(RequestId),
    Connecting,
    AwaitChallenge,
    /// PLAYER_LOGIN sent, nothing back yet.
    LoginSent {
        nudges: u32,
    },
    /// The worldserver is sending the login sequence.
    Loading,
    /// Recovery: waiting for the next attempt (`Timer::Retry`).
    Backoff,
}

#[derive(Debug, Clone)]
enum EnterKind {
    Login,
    Handoff {
        from: WorldserverRef,
    },
    /// The worldserver connection was lost in world: log back in, on the same worldserver
    /// until its linger has passed.
    Recovery {
        from: WorldserverRef,
        lost_at: Duration,
        retry: Retry,
    },
}

#[derive(Debug, Clone)]
struct Entering {
    kind: EnterKind,
    map: u32,
    started: Duration,
    step: EnterStep,
    link: Option<LinkId>,
    /// Placement retries while no worldserver can take the player (login and handoff).
    placement_retry: Option<Retry>,
    /// The worldserver being connected to or logged in on.
    target: Option<crate::cluster::WorldserverId>,
    /// Worldservers that failed this login or move; later placements avoid them while
    /// another can take the player.
    avoid: Vec<crate::cluster::WorldserverId>,
    /// When PLAYER_LOGIN went to the current target (what the worldserver itself took is
    /// measured from here).
    login_sent_at: Option<Duration>,
}

// One State per session, and the entering variant is the one most sessions pass through:
// boxing it would add an allocation per login and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum State {
    ExpectAuthSession,
    AwaitAccount(RequestId),
    CharacterScreen,
    EnteringWorld(Entering),
    InWorld,
    Transferring {
        map: u32,
    },
    AwaitTransferPlacement {
        map: u32,
        request: RequestId,
        ack: Packet,
        started: Duration,
    },
    AwaitRedirectReady {
        map: u32,
        target: Option<WorldserverRef>,
        started: Duration,
        /// The client is in world (no map change of its own): show it a loading screen at
        /// the cached position before the next worldserver's login.
        loading_screen: bool,
    },
    AwaitRelease {
        map: u32,
        target: Option<WorldserverRef>,
        started: Duration,
        from: WorldserverRef,
        loading_screen: bool,
    },
    LoggingOut,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    PreAuth,
    Service,
    WorldHandshake,
    LoginNudge,
    WorldLogin,
    RedirectReady,
    RedirectRelease,
    Retry,
    WorldSilence,
    Logout,
}

const TIMERS: usize = 10;

impl Timer {
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug)]
struct Link {
    id: LinkId,
    server: WorldserverRef,
    decoder: ServerHeaderDecoder,
    encoder: ClientHeaderEncoder,
}

#[derive(Debug)]
enum Pending {
    Client(BytesMut),
    World(LinkId, BytesMut),
    Other(Output),
}

/// One client's session. See the module documentation for the call order.
#[derive(Debug)]
pub struct Session {
    id: SessionId,
    cfg: SessionConfig,
    state: State,
    unix_time_at_start: u32,
    started: Duration,
    server_seed: u32,
    client_in: ClientHeaderDecoder,
    client_out: ServerHeaderEncoder,
    auth: Option<AuthSession>,
    account: Option<AccountRecord>,
    characters: Option<Vec<CharacterRecord>>,
    characters_request: Option<RequestId>,
    enum_wanted: bool,
    login_wanted: Option<CharacterGuid>,
    names_in_flight: Vec<CharacterGuid>,
    character: Option<CharacterRecord>,
    login_requested_at: Duration,
    map: Option<u32>,
    position: Option<crate::wire::packets::MapPosition>,
    rng: ChaCha8Rng,
    links: Vec<Link>,
    active: Option<LinkId>,
    /// The link whose worldserver may hold the character in world (PLAYER_LOGIN went out on
    /// it and it has not released the character).
    holding: Option<LinkId>,
    next_id: u64,
    held: VecDeque<Packet>,
    held_bytes: usize,
    /// Packets from the current worldserver held while the gateway decides whether the player
    /// leaves it: dropped if it does, delivered in order if it stays.
    world_held: VecDeque<Packet>,
    world_held_bytes: usize,
    world_held_overflowed: bool,
    timers: [Option<Duration>; TIMERS],
    pending: VecDeque<Pending>,
    counters: Counters,
}

impl Session {
    /// Starts a session for a freshly accepted client and queues SMSG_AUTH_CHALLENGE.
    /// `server_seed` and `seed_bytes` come from the caller's seeded RNG; `unix_time` is the
    /// wall clock at accept (for SMSG_ACCOUNT_DATA_TIMES); `rng_seed` seeds the session's own
    /// RNG (backoff jitter).
    pub fn new(
        id: SessionId,
        now: Duration,
        cfg: SessionConfig,
        server_seed: u32,
        seed_bytes: [u8; 32],
        unix_time: u32,
        rng_seed: u64,
    ) -> Self {
        let mut s = Self {
            id,
            state: State::ExpectAuthSession,
            unix_time_at_start: unix_time,
            started: now,
            server_seed,
            client_in: ClientHeaderDecoder::for_client(),
            client_out: ServerHeaderEncoder::plain(),
            auth: None,
            account: None,
            characters: None,
            characters_request: None,
            enum_wanted: false,
            login_wanted: None,
            names_in_flight: Vec::new(),
            character: None,
            login_requested_at: now,
            map: None,
            position: None,
            rng: ChaCha8Rng::seed_from_u64(rng_seed),
            links: Vec::new(),
            active: None,
            holding: None,
            next_id: 1,
            held: VecDeque::new(),
            held_bytes: 0,
            world_held: VecDeque::new(),
            world_held_bytes: 0,
            world_held_overflowed: false,
            timers: [None; TIMERS],
            pending: VecDeque::new(),
            counters: Counters::default(),
            cfg,
        };
        s.send_client(&AuthChallengeBody(AuthChallenge {
            server_seed,
            seed_bytes,
        }));
        s.arm(Timer::PreAuth, now, s.cfg.pre_auth_timeout_ms);
        s
    }

    /// This session's id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// What the session waits for.
    pub fn phase(&self) -> Phase {
        match &self.state {
            State::ExpectAuthSession => Phase::ExpectAuthSession,
            State::AwaitAccount(_) => Phase::AwaitAccount,
            State::CharacterScreen => Phase::CharacterScreen,
            State::EnteringWorld(_) => Phase::EnteringWorld,
            State::InWorld => Phase::InWorld,
            State::Transferring { .. } => Phase::Transferring,
            State::AwaitTransferPlacement { .. } => Phase::AwaitTransferPlacement,
            State::AwaitRedirectReady { .. } => Phase::AwaitRedirectReady,
            State::AwaitRelease { .. } => Phase::AwaitRelease,
            State::LoggingOut => Phase::LoggingOut,
            State::Closed => Phase::Closed,
        }
    }

    /// The authenticated account, once verified.
    pub fn account(&self) -> Option<&AccountRecord> {
        self.account.as_ref()
    }

    /// The map the character is on (or entering), once a login started.
    pub fn map(&self) -> Option<u32> {
        self.map
    }

    /// The worldserver whose packets reach the client now.
    pub fn worldserver(&self) -> Option<&WorldserverRef> {
        let active = self.active?;
        self.links
            .iter()
            .find(|l| l.id == active)
            .map(|l| &l.server)
    }

    /// Whether `link` is one of the session's worldserver connections (an answer for a link
    /// it gave up on is stale).
    pub fn has_link(&self, link: LinkId) -> bool {
        self.links.iter().any(|l| l.id == link)
    }

    /// Bytes received from the client but not yet decoded (the driver stops reading when
    /// this passes its own bound).
    pub fn client_buffered(&self) -> usize {
        self.client_in.buffered()
    }

    // ----- inputs -----------------------------------------------------------------------

    /// Bytes arrived from the client.
    pub fn handle_client_bytes(&mut self, now: Duration, data: &[u8]) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.client_in.extend(data);
        self.drain_client(now);
    }

    /// The client closed its connection (or the driver gave up on it).
    pub fn handle_client_closed(&mut self, _now: Duration) {
        self.close(CloseReason::ClientGone);
    }

    /// The account lookup answered.
    pub fn handle_account(
        &mut self,
        now: Duration,
        request: RequestId,
        result: Result<Option<AccountRecord>, SeamError>,
    ) {
        if !matches!(self.state, State::AwaitAccount(r) if r == request) {
            return;
        }
        let Some(auth) = self.auth.as_ref() else {
            return;
        };
        let record = match result {
            Err(e) => return self.reject_auth(AuthResult::DB_BUSY, e.to_string()),
            Ok(None) => {
                return self.reject_auth(AuthResult::UNKNOWN_ACCOUNT, "unknown account".into());
            }
            Ok(Some(r)) => r,
        };
        // As AzerothCore does: once the account is known, the cipher starts with the stored
        // key, so every later answer (a refusal included) has an encrypted header. A client
        // holding the same key can read why it was refused.
        let ciphers = ServerCiphers::new(&record.session_key);
        self.client_out.start_cipher(ciphers.outbound);
        self.client_in.start_cipher(ciphers.inbound);
        if !auth.verify(self.server_seed, &record.session_key) {
            return self.reject_auth(AuthResult::FAILED, "digest mismatch".into());
        }
        if record.banned {
            return self.reject_auth(AuthResult::BANNED, "account banned".into());
        }
        if record.locked {
            return self.reject_auth(AuthResult::LOCKED_ENFORCED, "account locked".into());
        }
        let addon_answers = auth
            .addons(self.cfg.addon_inflated_max_bytes)
            .map(|list| list.addons.len())
            .unwrap_or(0);
        self.send_client(&AuthResponseBody(AuthResponse::ok()));
        self.send_client(&AddonInfoBody(AddonInfo {
            answers: (0..addon_answers)
                .map(|_| AddonAnswer {
                    state: 2,
                    crc_checked: true,
                    public_key: None,
                    unknown: 0,
                    url: None,
                })
                .collect(),
        }));
        self.send_client(&ClientCacheVersion {
            version: CLIENT_CACHE_VERSION,
        });
        self.send_client(&TutorialFlags { words: [0; 8] });
        self.disarm(Timer::PreAuth);
        self.disarm(Timer::Service);
        self.event(SessionEvent::Authenticated { account: record.id });
        self.account = Some(record);
        self.state = State::CharacterScreen;
        // Bytes the client pipelined behind its auth session are decrypted from here on.
        self.drain_client(now);
    }

    /// The characters service answered a listing.
    pub fn handle_characters(
        &mut self,
        now: Duration,
        request: RequestId,
        result: Result<Vec<CharacterRecord>, SeamError>,
    ) {
        if self.characters_request != Some(request) {
            return;
        }
        self.characters_request = None;
        self.disarm(Timer::Service);
        let list = match result {
            Ok(list) => list,
            Err(e) => {
                return self.close(CloseReason::ServiceUnavailable(e.to_string()));
            }
        };
        let account = self.account.as_ref().map(|a| a.id);
        // Only the account's own characters, whatever the service said.
        let list: Vec<_> = list
            .into_iter()
            .filter(|c| Some(c.account) == account)
            .collect();
        self.characters = Some(list);
        if std::mem::take(&mut self.enum_wanted) {
            self.send_char_enum();
        }
        if let Some(guid) = self.login_wanted.take() {
            self.start_login(now, guid);
        }
    }

    /// A name lookup answered.
    pub fn handle_name(
        &mut self,
        _now: Duration,
        guid: CharacterGuid,
        result: Result<Option<NameRecord>, SeamError>,
    ) {
        let Some(at) = self.names_in_flight.iter().position(|g| *g == guid) else {
            return;
        };
        self.names_in_flight.remove(at);
        if matches!(self.state, State::Closed) {
            return;
        }
        let answer = match result {
            Ok(Some(n)) => name_response(&n),
            // A failed lookup is answered like an unknown name; the client asks again later.
            Ok(None) | Err(_) => NameQueryResponse::NotFound { guid: guid.0 },
        };
        self.send_client(&answer);
    }

    /// The registry answered a placement.
    pub fn handle_placement(
        &mut self,
        now: Duration,
        request: RequestId,
        result: Result<Option<WorldserverRef>, SeamError>,
    ) {
        match &self.state {
            State::EnteringWorld(e) if e.step == EnterStep::AwaitPlacement(request) => {
                self.disarm(Timer::Service);
                match result {
                    Ok(Some(server)) => {
                        self.event(SessionEvent::Placed {
                            worldserver: server.id.clone(),
                        });
                        self.connect(now, server)
                    }
                    Ok(None) => self.fail_entering(
                        now,
                        LoginFailure::NO_WORLD,
                        "no worldserver serves the map".into(),
                    ),
                    Err(e) if e.retryable => self.wait_for_placement(now, e.detail),
                    Err(e) => self.fail_entering(now, LoginFailure::NO_WORLD, e.to_string()),
                }
            }
            State::AwaitTransferPlacement { request: r, .. } if *r == request => {
                self.disarm(Timer::Service);
                let State::AwaitTransferPlacement {
                    map, ack, started, ..
                } = std::mem::replace(&mut self.state, State::Closed)
                else {
                    unreachable!("matched above");
                };
                let current = self.worldserver().cloned();
                match (result, current) {
                    (Ok(Some(target)), Some(current)) if target.id != current.id => {
                        // The old worldserver finishes the teleport (it creates the map
                        // locally), then saves and releases the player.
                        self.forward_to_world(ack);
                        let prepare = crate::wire::packets::PrepareForRedirect;
                        self.send_active_world(&prepare);
                        self.event(SessionEvent::HandoffStarted {
                            from: current.id.clone(),
                            to: target.id.clone(),
                            map,
                        });
                        self.arm(
                            Timer::RedirectReady,
                            now,
                            self.cfg.redirect_ready_timeout_ms,
                        );
                        self.state = State::AwaitRedirectReady {
                            map,
                            target: Some(target),
                            started,
                            loading_screen: false,
                        };
                    }
                    _ => {
                        // Same owner, or nobody else can take the map: the current worldserver
                        // finishes the teleport itself.
                        self.forward_to_world(ack);
                        self.state = State::InWorld;
                        self.release_held();
                        self.release_world_held(now);
                    }
                }
            }
            _ => {}
        }
    }

    /// A connection the session asked for opened, or failed.
    pub fn handle_world_connected(
        &mut self,
        now: Duration,
        link: LinkId,
        result: Result<(), String>,
    ) {
        let State::EnteringWorld(e) = &self.state else {
            return;
        };
        if e.link != Some(link) || e.step != EnterStep::Connecting {
            return;
        }
        match result {
            Ok(()) => {
                if let State::EnteringWorld(e) = &mut self.state {
                    e.step = EnterStep::AwaitChallenge;
                }
            }
            Err(detail) => {
                self.drop_link(link);
                self.fail_entering(now, LoginFailure::NO_WORLD, format!("connect: {detail}"));
            }
        }
    }

    /// Bytes arrived from a worldserver connection.
    pub fn handle_world_bytes(&mut self, now: Duration, link: LinkId, data: &[u8]) {
        let Some(at) = self.links.iter().position(|l| l.id == link) else {
            return;
        };
        self.links[at].decoder.extend(data);
        loop {
            let Some(at) = self.links.iter().position(|l| l.id == link) else {
                return;
            };
            match self.links[at].decoder.decode() {
                Ok(Decoded::Packet(p)) => self.on_world_packet(now, link, p),
                Ok(Decoded::NeedMore(_)) => return,
                Err(e) => return self.on_world_lost(now, link, format!("framing: {e}")),
            }
            if matches!(self.state, State::Closed) {
                return;
            }
        }
    }

    /// A worldserver connection closed.
    pub fn handle_world_closed(&mut self, now: Duration, link: LinkId) {
        if self.links.iter().any(|l| l.id == link) {
            self.on_world_lost(now, link, "connection closed".into());
        }
    }

    /// The gateway is shutting down: log an in-world player out politely, then close.
    pub fn begin_shutdown(&mut self, now: Duration) {
        match self.state {
            State::InWorld | State::Transferring { .. } if self.active.is_some() => {
                self.send_active_world(&crate::wire::packets::LogoutRequest);
                self.arm(Timer::Logout, now, self.cfg.logout_timeout_ms);
                self.state = State::LoggingOut;
            }
            State::LoggingOut | State::Closed => {}
            _ => self.close(CloseReason::Shutdown),
        }
    }

    /// The earliest deadline, if any.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.timers.iter().flatten().min().copied()
    }

    /// Fires every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        for timer in [
            Timer::PreAuth,
            Timer::Service,
            Timer::WorldHandshake,
            Timer::LoginNudge,
            Timer::WorldLogin,
            Timer::RedirectReady,
            Timer::RedirectRelease,
            Timer::Retry,
            Timer::WorldSilence,
            Timer::Logout,
        ] {
            if matches!(self.timers[timer.index()], Some(at) if at <= now) {
                self.timers[timer.index()] = None;
                self.on_timer(now, timer);
            }
        }
    }

    /// Packets moved since the last call.
    pub fn take_counters(&mut self) -> Counters {
        std::mem::take(&mut self.counters)
    }

    /// Whether `poll_output` has something.
    pub fn has_output(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        Some(match self.pending.pop_front()? {
            Pending::Client(b) => Output::Client(b.freeze()),
            Pending::World(link, b) => Output::World {
                link,
                bytes: b.freeze(),
            },
            Pending::Other(o) => o,
        })
    }

    // ----- client side ------------------------------------------------------------------

    fn drain_client(&mut self, now: Duration) {
        loop {
            match self.state {
                State::AwaitAccount(_) => {
                    // The cipher starts at the next header; nothing more is decoded until
                    // the account is known. Bound what the client may pile up meanwhile.
                    if self.client_in.buffered() > self.cfg.pre_auth_buffer_max_bytes {
                        self.close(CloseReason::ClientProtocol(
                            "sent too much before authentication finished".into(),
                        ));
                    }
                    return;
                }
                State::Closed => return,
                _ => {}
            }
            match self.client_in.decode() {
                Ok(Decoded::Packet(p)) => self.on_client_packet(now, p),
                Ok(Decoded::NeedMore(_)) => return,
                Err(e) => return self.close(CloseReason::ClientProtocol(e.to_string())),
            }
        }
    }

    fn on_client_packet(&mut self, now: Duration, p: Packet) {
        self.counters.client_packets_in += 1;
        if p.opcode == Opcode::CMSG_AUTH_SESSION && !matches!(self.state, State::ExpectAuthSession)
        {
            return self.close(CloseReason::ClientProtocol(
                "second CMSG_AUTH_SESSION".into(),
            ));
        }
        match &self.state {
            State::ExpectAuthSession => self.on_auth_session(p),
            State::AwaitAccount(_) | State::Closed => {}
            State::CharacterScreen => self.on_character_screen_packet(now, p),
            State::EnteringWorld(e) => {
                let link_ready = matches!(e.step, EnterStep::LoginSent { .. } | EnterStep::Loading);
                if p.opcode == Opcode::CMSG_NAME_QUERY {
                    self.on_name_query(&p);
                } else if p.opcode == Opcode::MSG_MOVE_WORLDPORT_ACK {
                    // The client finished the loading screen the gateway showed it; the
                    // worldserver it logs in to expects no ack.
                } else if p.opcode == Opcode::CMSG_PING && link_ready {
                    self.forward_to_link(e.link, p);
                } else if p.opcode == Opcode::CMSG_PING {
                    self.pong(&p);
                } else {
                    self.hold(p);
                }
            }
            State::InWorld => {
                self.track_movement(&p);
                self.forward_to_world(p);
            }
            State::Transferring { map } => {
                let map = *map;
                if p.opcode == Opcode::MSG_MOVE_WORLDPORT_ACK {
                    let request = self.request_placement(now, map, Vec::new());
                    self.state = State::AwaitTransferPlacement {
                        map,
                        request,
                        ack: p,
                        started: now,
                    };
                } else {
                    self.forward_to_world(p);
                }
            }
            State::AwaitRedirectReady { .. } | State::AwaitRelease { .. }
                if p.opcode == Opcode::MSG_MOVE_WORLDPORT_ACK =>
            {
                // The end of a teleport that raced the move (see `on_teleport_during_move`):
                // the old worldserver kicks the player only once it has left limbo.
                self.forward_to_world(p);
            }
            State::AwaitTransferPlacement { .. }
            | State::AwaitRedirectReady { .. }
            | State::AwaitRelease { .. } => {
                if p.opcode == Opcode::CMSG_PING {
                    self.pong(&p);
                } else {
                    self.hold(p);
                }
            }
            State::LoggingOut => {}
        }
    }

    fn on_auth_session(&mut self, p: Packet) {
        if p.opcode != Opcode::CMSG_AUTH_SESSION {
            return self.close(CloseReason::ClientProtocol(format!(
                "{} before CMSG_AUTH_SESSION",
                p.opcode
            )));
        }
        let auth = match AuthSession::decode(p.body) {
            Ok(a) => a,
            Err(e) => {
                return self.close(CloseReason::ClientProtocol(format!(
                    "CMSG_AUTH_SESSION: {e}"
                )));
            }
        };
        if auth.build != CLIENT_BUILD {
            let build = auth.build;
            return self.reject_auth(
                AuthResult::VERSION_MISMATCH,
                format!("client build {build}, expected {CLIENT_BUILD}"),
            );
        }
        let request = self.next_request();
        self.push(Output::LookupAccount {
            request,
            name: auth.account.clone(),
        });
        self.auth = Some(auth);
        self.state = State::AwaitAccount(request);
    }

    fn on_character_screen_packet(&mut self, now: Duration, p: Packet) {
        match p.opcode {
            Opcode::CMSG_CHAR_ENUM => {
                if self.characters.is_some() {
                    self.send_char_enum();
                } else {
                    self.enum_wanted = true;
                    self.request_characters(now);
                }
            }
            Opcode::CMSG_PLAYER_LOGIN => match PlayerLogin::decode(&p.body) {
                Ok(login) => {
                    let guid = CharacterGuid(login.guid);
                    if self.characters.is_some() {
                        self.start_login(now, guid);
                    } else {
                        self.login_wanted = Some(guid);
                        self.request_characters(now);
                    }
                }
                Err(e) => self.close(CloseReason::ClientProtocol(format!("PLAYER_LOGIN: {e}"))),
            },
            Opcode::CMSG_REALM_SPLIT => {
                let decision = RealmSplitRequest::decode(&p.body)
                    .map(|r| r.decision)
                    .unwrap_or(0);
                self.send_client(&RealmSplit {
                    decision,
                    state: 0,
                    date: "01/01/01".into(),
                });
            }
            Opcode::CMSG_READY_FOR_ACCOUNT_DATA_TIMES => {
                let elapsed = self.elapsed_secs(now);
                self.send_client(&AccountDataTimes {
                    unix_time: self.unix_time_at_start.saturating_add(elapsed),
                    mask: ACCOUNT_DATA_GLOBAL_MASK as u8,
                    times: [0; 8],
                });
            }
            Opcode::CMSG_NAME_QUERY => self.on_name_query(&p),
            Opcode::CMSG_PING => self.pong(&p),
            Opcode::CMSG_CHAR_CREATE => self.send_client(&CharCreateResult {
                result: CHAR_CREATE_ERROR,
            }),
            Opcode::CMSG_CHAR_DELETE => self.send_client(&CharDeleteResult {
                result: CHAR_DELETE_FAILED,
            }),
            // Anything else has no worldserver to go to at the character screen.
            _ => {}
        }
    }

    fn on_name_query(&mut self, p: &Packet) {
        let Ok(q) = NameQuery::decode(&p.body) else {
            return;
        };
        let guid = CharacterGuid(q.guid);
        let own = self
            .characters
            .as_ref()
            .and_then(|list| list.iter().find(|c| c.guid == guid))
            .map(NameRecord::from);
        if let Some(record) = own {
            self.send_client(&name_response(&record));
        } else if self.names_in_flight.len() < NAME_QUERIES_IN_FLIGHT_MAX
            && !self.names_in_flight.contains(&guid)
        {
            self.names_in_flight.push(guid);
            self.push(Output::QueryName { guid });
        }
    }

    /// Asks the registry for a worldserver for the character on `map`, under the service
    /// deadline.
    fn request_placement(
        &mut self,
        now: Duration,
        map: u32,
        exclude: Vec<crate::cluster::WorldserverId>,
    ) -> RequestId {
        self.request_placement_avoiding(now, map, exclude, Vec::new())
    }

    /// As [`Session::request_placement`], preferring any worldserver but those in `avoid`.
    fn request_placement_avoiding(
        &mut self,
        now: Duration,
        map: u32,
        exclude: Vec<crate::cluster::WorldserverId>,
        avoid: Vec<crate::cluster::WorldserverId>,
    ) -> RequestId {
        let guid = self
            .character
            .as_ref()
            .map(|c| c.guid)
            .unwrap_or(CharacterGuid(0));
        let request = self.next_request();
        self.push(Output::Place {
            request,
            guid,
            map,
            exclude,
            avoid,
        });
        self.arm(Timer::Service, now, self.cfg.service_timeout_ms);
        request
    }

    fn request_characters(&mut self, now: Duration) {
        if self.characters_request.is_some() {
            return;
        }
        let Some(account) = self.account.as_ref().map(|a| a.id) else {
            return;
        };
        let request = self.next_request();
        self.characters_request = Some(request);
        self.push(Output::ListCharacters { request, account });
        self.arm(Timer::Service, now, self.cfg.service_timeout_ms);
    }

    fn send_char_enum(&mut self) {
        let characters = self
            .characters
            .as_ref()
            .map(|list| list.iter().map(CharacterRecord::to_enum).collect())
            .unwrap_or_default();
        self.send_client(&CharEnum { characters });
    }

    fn start_login(&mut self, now: Duration, guid: CharacterGuid) {
        let Some(character) = self
            .characters
            .as_ref()
            .and_then(|list| list.iter().find(|c| c.guid == guid))
            .cloned()
        else {
            // Not this account's character: refused here, no worldserver is contacted.
            self.send_client(&CharacterLoginFailed {
                reason: LoginFailure::NO_CHARACTER,
            });
            self.event(SessionEvent::LoginFailed {
                code: LoginFailure::NO_CHARACTER,
                detail: format!("guid {} is not on this account", guid.0),
            });
            return;
        };
        let map = character.map;
        self.event(SessionEvent::LoginStarted { guid, map });
        self.character = Some(character);
        self.login_requested_at = now;
        self.begin_entering(now, EnterKind::Login, map);
    }

    fn begin_entering(&mut self, now: Duration, kind: EnterKind, map: u32) {
        let request = self.request_placement(now, map, Vec::new());
        self.arm(Timer::WorldLogin, now, self.cfg.world_login_timeout_ms);
        self.state = State::EnteringWorld(Entering {
            kind,
            map,
            started: now,
            step: EnterStep::AwaitPlacement(request),
            link: None,
            placement_retry: None,
            target: None,
            avoid: Vec::new(),
            login_sent_at: None,
        });
    }

    fn connect(&mut self, now: Duration, server: WorldserverRef) {
        let link = LinkId(self.next_id());
        self.links.push(Link {
            id: link,
            server: server.clone(),
            decoder: ServerHeaderDecoder::for_worldserver(self.cfg.world_body_max_bytes),
            encoder: ClientHeaderEncoder::plain(),
        });
        if let State::EnteringWorld(e) = &mut self.state {
            e.step = EnterStep::Connecting;
            e.link = Some(link);
            e.target = Some(server.id.clone());
        }
        self.push(Output::Connect {
            link,
            worldserver: server,
        });
        self.arm(
            Timer::WorldHandshake,
            now,
            self.cfg.world_handshake_timeout_ms,
        );
        // Every attempt has the whole login deadline, retries included.
        self.arm(Timer::WorldLogin, now, self.cfg.world_login_timeout_ms);
    }

    // ----- worldserver side -------------------------------------------------------------

    fn on_world_packet(&mut self, now: Duration, link: LinkId, p: Packet) {
        self.counters.world_packets_in += 1;
        let entering_link = match &self.state {
            State::EnteringWorld(e) if e.link == Some(link) => Some(e.step),
            _ => None,
        };
        if let Some(step) = entering_link {
            return self.on_entering_packet(now, link, step, p);
        }
        if Some(link) != self.active {
            return; // an old link being closed: nothing from it reaches the client
        }
        // Anything from the worldserver proves the link alive (it sends a time sync every
        // 10 s in world).
        self.arm(Timer::WorldSilence, now, self.cfg.world_silence_timeout_ms);
        match &self.state {
            State::InWorld | State::Transferring { .. } | State::LoggingOut => {
                self.on_in_world_packet(now, p)
            }
            State::AwaitRedirectReady { .. } if p.opcode == Opcode::TC9_SMSG_READY_FOR_REDIRECT => {
                if self.canary(Canary::LeakClusterOpcode) {
                    self.send_client_raw(p.opcode, p.body.clone());
                }
                self.on_redirect_ready(now, link, p)
            }
            State::AwaitRedirectReady { .. }
                if matches!(
                    p.opcode,
                    Opcode::SMSG_TRANSFER_PENDING | Opcode::SMSG_NEW_WORLD
                ) =>
            {
                self.on_teleport_during_move(p)
            }
            // While the gateway decides whether the player leaves, the current worldserver's
            // packets wait: the client must see one consistent world.
            State::AwaitTransferPlacement { .. } | State::AwaitRedirectReady { .. } => {
                self.hold_world(p)
            }
            // Released: nothing more from the old worldserver reaches the client.
            _ => {}
        }
    }

    fn on_entering_packet(&mut self, now: Duration, link: LinkId, step: EnterStep, p: Packet) {
        match step {
            EnterStep::AwaitPlacement(_) | EnterStep::Connecting | EnterStep::Backoff => {}
            EnterStep::AwaitChallenge => {
                if p.opcode != Opcode::SMSG_AUTH_CHALLENGE {
                    return self.on_world_lost(
                        now,
                        link,
                        format!("{} before SMSG_AUTH_CHALLENGE", p.opcode),
                    );
                }
                self.disarm(Timer::WorldHandshake);
                let Some(raw) = self.auth.as_ref().map(|a| a.raw.clone()) else {
                    return;
                };
                // Replayed auth session, then the login as a write of its own.
                self.send_world(link, Opcode::CMSG_AUTH_SESSION, raw);
                let guid = self.character.as_ref().map(|c| c.guid.0).unwrap_or(0);
                self.send_world(link, PlayerLogin::OPCODE, PlayerLogin { guid }.to_body());
                self.holding = Some(link);
                if let State::EnteringWorld(e) = &mut self.state {
                    e.login_sent_at = Some(now);
                }
                self.arm(Timer::LoginNudge, now, self.cfg.world_login_nudge_ms);
                if let Some(server) = self.link_server(link) {
                    self.event(SessionEvent::LoginSent {
                        worldserver: server.id,
                    });
                }
                self.set_step(EnterStep::LoginSent { nudges: 0 });
            }
            EnterStep::LoginSent { .. } | EnterStep::Loading => {
                self.disarm(Timer::LoginNudge);
                self.set_step(EnterStep::Loading);
                self.on_loading_packet(now, link, p);
            }
        }
    }

    fn on_loading_packet(&mut self, now: Duration, link: LinkId, p: Packet) {
        match p.opcode {
            Opcode::SMSG_AUTH_RESPONSE => {
                let code = AuthResponse::decode(&p.body);
                // Refused at the handshake: the worldserver never read PLAYER_LOGIN.
                self.set_step(EnterStep::AwaitChallenge);
                self.leave(link, Departure::Refused);
                self.drop_link(link);
                self.fail_entering(
                    now,
                    LoginFailure::NO_WORLD,
                    format!("worldserver refused the replayed auth: {code:?}"),
                );
            }
            Opcode::SMSG_CHARACTER_LOGIN_FAILED => {
                let code = CharacterLoginFailed::decode(&p.body)
                    .map(|f| f.reason)
                    .unwrap_or(LoginFailure::FAILED);
                self.leave(link, Departure::Refused);
                self.drop_link(link);
                self.fail_entering(now, code, "worldserver refused the login".into());
            }
            Opcode::SMSG_TIME_SYNC_REQ => {
                self.send_client_raw(p.opcode, p.body);
                self.enter_world(now, link);
            }
            Opcode::SMSG_LOGIN_VERIFY_WORLD => {
                if let Ok(v) = crate::wire::packets::LoginVerifyWorld::decode(&p.body) {
                    self.position = Some(v.0);
                }
                self.send_client_raw(p.opcode, p.body);
            }
            // The worldserver's side of the gateway link: never the client's business.
            op if op.is_cluster_internal() || op == Opcode::SMSG_AUTH_CHALLENGE => {}
            _ => self.send_client_raw(p.opcode, p.body),
        }
    }

    fn enter_world(&mut self, now: Duration, link: LinkId) {
        let State::EnteringWorld(e) = std::mem::replace(&mut self.state, State::InWorld) else {
            return;
        };
        self.disarm(Timer::WorldLogin);
        self.disarm(Timer::WorldHandshake);
        self.active = Some(link);
        self.map = Some(e.map);
        self.arm(Timer::WorldSilence, now, self.cfg.world_silence_timeout_ms);
        let Some(server) = self.link_server(link) else {
            return;
        };
        let world_ms = millis(now.saturating_sub(e.login_sent_at.unwrap_or(now)));
        match e.kind {
            EnterKind::Login => self.event(SessionEvent::EnteredWorld {
                worldserver: server.id,
                took_ms: millis(now.saturating_sub(self.login_requested_at)),
                world_ms,
            }),
            EnterKind::Handoff { from, .. } => self.event(SessionEvent::HandoffCompleted {
                from: from.id,
                to: server.id,
                took_ms: millis(now.saturating_sub(e.started)),
                world_ms,
            }),
            EnterKind::Recovery {
                from,
                lost_at,
                retry,
            } => {
                self.disarm(Timer::Retry);
                self.send_client(&crate::wire::packets::SystemMessage {
                    text: "Reconnected to the world.".into(),
                });
                self.event(SessionEvent::Recovered {
                    from: from.id,
                    to: server.id,
                    attempts: retry.attempts(),
                    took_ms: millis(now.saturating_sub(lost_at)),
                });
            }
        }
        self.release_held();
    }

    fn on_in_world_packet(&mut self, now: Duration, p: Packet) {
        match p.opcode {
            Opcode::SMSG_NEW_WORLD => {
                if let Ok(nw) = crate::wire::packets::NewWorld::decode(&p.body)
                    && !matches!(self.state, State::LoggingOut)
                {
                    self.position = Some(nw.0);
                    self.state = State::Transferring { map: nw.0.map };
                }
                self.send_client_raw(p.opcode, p.body);
            }
            Opcode::SMSG_LOGIN_VERIFY_WORLD => {
                if let Ok(v) = crate::wire::packets::LoginVerifyWorld::decode(&p.body) {
                    self.position = Some(v.0);
                }
                self.send_client_raw(p.opcode, p.body);
            }
            Opcode::SMSG_LOGOUT_COMPLETE => {
                self.send_client_raw(p.opcode, p.body);
                if let Some(link) = self.active.take() {
                    self.release_link(link);
                }
                self.character = None;
                self.event(SessionEvent::LoggedOut);
                if matches!(self.state, State::LoggingOut) {
                    self.close(CloseReason::Shutdown);
                } else {
                    self.state = State::CharacterScreen;
                }
            }
            Opcode::TC9_SMSG_READY_FOR_REDIRECT => {
                // Unsolicited: the registry moved the map away and the worldserver saved the
                // player; its kick follows. Status 1 changes nothing.
                let released = crate::wire::packets::ReadyForRedirect::decode(&p.body)
                    .is_ok_and(|r| r.status == 0);
                if let (true, State::InWorld, Some(from)) =
                    (released, &self.state, self.worldserver().cloned())
                {
                    let map = self.position.map(|p| p.map).or(self.map).unwrap_or(0);
                    self.event(SessionEvent::RedirectRequested {
                        from: from.id.clone(),
                        reason: "worldserver",
                    });
                    self.arm(
                        Timer::RedirectRelease,
                        now,
                        self.cfg.redirect_release_timeout_ms,
                    );
                    self.state = State::AwaitRelease {
                        map,
                        target: None,
                        started: now,
                        from,
                        loading_screen: true,
                    };
                }
            }
            // The worldserver's side of the gateway link: never the client's business.
            op if op.is_cluster_internal()
                || op == Opcode::SMSG_AUTH_CHALLENGE
                || op == Opcode::SMSG_AUTH_RESPONSE => {}
            _ => {
                let _ = now;
                self.send_client_raw(p.opcode, p.body);
            }
        }
    }

    fn on_redirect_ready(&mut self, now: Duration, link: LinkId, p: Packet) {
        let status = crate::wire::packets::ReadyForRedirect::decode(&p.body)
            .map(|r| r.status)
            .unwrap_or(1);
        self.disarm(Timer::RedirectReady);
        if status != 0 {
            return self.abandon_redirect(now, format!("READY_FOR_REDIRECT status {status}"));
        }
        let Some(from) = self.link_server(link) else {
            return;
        };
        if !self.await_release(from) {
            return;
        }
        if self.canary(Canary::CloseBeforeKick) {
            return self.released(now, true);
        }
        // Saved. The worldserver kicks the player about 100 ms later; closing the socket
        // before that would leave the player in world as an offline session (60 s linger)
        // while it logs in elsewhere. So the new worldserver is contacted only once the old
        // one has closed the link, or the release deadline passed.
        self.arm(
            Timer::RedirectRelease,
            now,
            self.cfg.redirect_release_timeout_ms,
        );
    }

    /// Moves from waiting for READY to waiting for `from` to let the player go, keeping the
    /// move's map, target and start. False (and nothing changed) in any other state.
    fn await_release(&mut self, from: WorldserverRef) -> bool {
        let State::AwaitRedirectReady {
            map,
            target,
            started,
            loading_screen,
        } = &mut self.state
        else {
            return false;
        };
        self.state = State::AwaitRelease {
            map: *map,
            target: target.take(),
            started: *started,
            from,
            loading_screen: *loading_screen,
        };
        true
    }

    /// The old worldserver released the player (`confirmed`: the kick after READY status 0),
    /// or the gateway gave up on it and waited out its linger: log in on the next one. Only
    /// a confirmed release goes straight to the target chosen before; otherwise the placement
    /// asks the gateway-wide ledger whether the old one may still hold the character.
    fn released(&mut self, now: Duration, confirmed: bool) {
        self.disarm(Timer::RedirectRelease);
        let State::AwaitRelease {
            map,
            target,
            started,
            from,
            loading_screen,
        } = std::mem::replace(&mut self.state, State::Closed)
        else {
            return;
        };
        if let Some(old) = self.active.take() {
            if confirmed {
                self.release_link(old);
            } else {
                self.drop_link(old);
            }
        }
        let target = target.filter(|_| confirmed);
        if self.canary(Canary::ForwardOldWorld) {
            for p in std::mem::take(&mut self.world_held) {
                self.send_client_raw(p.opcode, p.body);
            }
        }
        self.world_held.clear();
        self.world_held_bytes = 0;
        self.world_held_overflowed = false;
        self.arm(Timer::WorldLogin, now, self.cfg.world_login_timeout_ms);
        let exclude = vec![from.id.clone()];
        self.state = State::EnteringWorld(Entering {
            kind: EnterKind::Handoff { from },
            map,
            started,
            step: EnterStep::Connecting,
            link: None,
            placement_retry: None,
            target: None,
            avoid: Vec::new(),
            login_sent_at: None,
        });
        if loading_screen && let Some(at) = self.cached_position() {
            // Moved away without a map change of its own (the worldserver asked, it drains,
            // or a layer switch): a loading screen at the cached position while the player
            // logs in on the next worldserver.
            self.send_client(&crate::wire::packets::NewWorld(at));
        }
        match target {
            Some(target) => self.connect(now, target),
            None => {
                // Whoever serves the map, but not the worldserver being left.
                let request = self.request_placement(now, map, exclude);
                self.set_step(EnterStep::AwaitPlacement(request));
            }
        }
    }

    /// The gateway moves the player off a worldserver that is draining: PREPARE, READY, the
    /// kick, then another worldserver for the same map.
    pub fn handle_drain(&mut self, now: Duration, worldserver: &crate::cluster::WorldserverId) {
        if !matches!(self.state, State::InWorld)
            || self.worldserver().is_none_or(|w| &w.id != worldserver)
        {
            return;
        }
        self.begin_move(now, worldserver.clone(), "draining", None);
    }

    /// The gateway moves the player to another worldserver that serves the same map (a layer
    /// switch, say to join a group's layer): PREPARE, READY, the kick, a loading screen at the
    /// cached position, then a login on `target`. Ignored unless the player is in world on
    /// another worldserver; returns whether the switch began.
    pub fn handle_layer_switch(&mut self, now: Duration, target: WorldserverRef) -> bool {
        let Some(from) = self.worldserver().cloned() else {
            return false;
        };
        if !matches!(self.state, State::InWorld) || from.id == target.id {
            return false;
        }
        self.begin_move(now, from.id, "layer switch", Some(target));
        true
    }

    /// Starts moving an in-world player off its worldserver without a map change of its own:
    /// PREPARE, then (on READY and the kick) a loading screen and a login on `target`, or
    /// wherever the placement says.
    fn begin_move(
        &mut self,
        now: Duration,
        from: crate::cluster::WorldserverId,
        reason: &'static str,
        target: Option<WorldserverRef>,
    ) {
        let map = self.position.map(|p| p.map).or(self.map).unwrap_or(0);
        self.send_active_world(&crate::wire::packets::PrepareForRedirect);
        self.arm(
            Timer::RedirectReady,
            now,
            self.cfg.redirect_ready_timeout_ms,
        );
        self.event(SessionEvent::RedirectRequested { from, reason });
        self.state = State::AwaitRedirectReady {
            map,
            target,
            started: now,
            loading_screen: true,
        };
    }

    /// The character in play (or being logged in), if any.
    pub fn character(&self) -> Option<CharacterGuid> {
        self.character.as_ref().map(|c| c.guid)
    }

    /// A map change whose old worldserver never answered PREPARE: the player cannot stay
    /// there (it does not own the map), and cannot log in on the owner while the old one may
    /// still hold it in world. So the gateway closes the old link itself and the login on
    /// the owner waits out the old worldserver's linger, behind the loading screen the
    /// client is already on.
    fn force_release(&mut self, now: Duration) {
        // In this state the active link is the one being left (its loss starts a recovery).
        let Some(from) = self.worldserver().cloned() else {
            return;
        };
        if self.await_release(from) {
            self.give_up_on_release(now);
        }
    }

    /// The old worldserver did not let the player go in time (no READY, or READY without the
    /// kick): the gateway closes the link itself, so the worldserver keeps the player at most
    /// for its linger, and the next login waits that out behind the loading screen.
    fn give_up_on_release(&mut self, now: Duration) {
        let State::AwaitRelease { from, .. } = &self.state else {
            return;
        };
        let from = from.id.clone();
        if let Some(old) = self.active.take() {
            self.drop_link(old);
        }
        self.disarm(Timer::WorldSilence);
        let wait_ms = if self.canary(Canary::SkipLinger) {
            0
        } else {
            self.cfg.world_linger_ms
        };
        self.event(SessionEvent::ReleaseForced { from, wait_ms });
        self.arm(Timer::RedirectRelease, now, wait_ms);
    }

    /// A teleport the player asked for reached the worldserver before the PREPARE of a move
    /// without a map change of its own (drain, layer switch): the worldserver holds the player
    /// in far-teleport limbo and will not kick it before the client acks the new world. So the
    /// teleport wins: the client gets what the worldserver said so far and the loading screen
    /// for the new map (its ack goes to the old worldserver), and the move continues to
    /// whoever serves the new map.
    fn on_teleport_during_move(&mut self, p: Packet) {
        for held in std::mem::take(&mut self.world_held) {
            // Only what is the client's business (the held queue may hold cluster packets).
            if !held.opcode.is_cluster_internal() && held.opcode != Opcode::SMSG_AUTH_CHALLENGE {
                self.send_client_raw(held.opcode, held.body);
            }
        }
        self.world_held_bytes = 0;
        self.world_held_overflowed = false;
        if p.opcode == Opcode::SMSG_NEW_WORLD
            && let Ok(nw) = crate::wire::packets::NewWorld::decode(&p.body)
        {
            self.position = Some(nw.0);
            if let State::AwaitRedirectReady {
                map,
                target,
                loading_screen,
                ..
            } = &mut self.state
            {
                *map = nw.0.map;
                *target = None;
                *loading_screen = false;
            }
        }
        self.send_client_raw(p.opcode, p.body);
    }

    fn abandon_redirect(&mut self, now: Duration, detail: String) {
        if let Some(on) = self.worldserver().cloned() {
            self.event(SessionEvent::HandoffAbandoned { on: on.id, detail });
        }
        self.state = State::InWorld;
        self.release_held();
        self.release_world_held(now);
    }

    /// Holds a packet of the worldserver the player may be leaving. Past the switch bounds
    /// the oldest are dropped and the fact remembered: a player who then stays is told the
    /// truth by a reconnect rather than shown a world with a hole in it.
    fn hold_world(&mut self, p: Packet) {
        let bytes = p.body.len() + 4;
        if self.world_held.len() >= self.cfg.switch_buffer_max_packets
            || self.world_held_bytes + bytes > self.cfg.switch_buffer_max_bytes
        {
            if let Some(old) = self.world_held.pop_front() {
                self.world_held_bytes -= old.body.len() + 4;
            }
            self.world_held_overflowed = true;
        }
        self.world_held_bytes += bytes;
        self.world_held.push_back(p);
    }

    /// The player stays on its worldserver: what it sent meanwhile goes to the client in order.
    fn release_world_held(&mut self, now: Duration) {
        self.world_held_bytes = 0;
        if std::mem::take(&mut self.world_held_overflowed) {
            self.world_held.clear();
            if let Some(server) = self.worldserver().cloned() {
                self.start_recovery(now, server, "held worldserver packets overflowed".into());
            }
            return;
        }
        while let Some(p) = self.world_held.pop_front() {
            self.on_in_world_packet(now, p);
        }
    }

    fn on_world_lost(&mut self, now: Duration, link: LinkId, detail: String) {
        let server = self.link_server(link);
        let was_active = self.active == Some(link);
        if was_active && matches!(self.state, State::AwaitRelease { .. }) {
            // The kick after READY status 0: the worldserver let the character go.
            self.release_link(link);
        } else {
            self.drop_link(link);
        }
        let Some(server) = server else {
            return;
        };
        match &self.state {
            State::EnteringWorld(e) if e.link == Some(link) => {
                self.fail_entering(
                    now,
                    LoginFailure::FAILED,
                    format!("{}: {detail}", server.id),
                );
            }
            // The kick after READY: the player is released.
            State::AwaitRelease { .. } if was_active => self.released(now, true),
            State::InWorld
            | State::Transferring { .. }
            | State::AwaitTransferPlacement { .. }
            | State::AwaitRedirectReady { .. }
                if was_active =>
            {
                self.start_recovery(now, server, detail)
            }
            _ if was_active => {
                self.close(CloseReason::WorldLost {
                    worldserver: server.id,
                    detail,
                });
            }
            _ => {}
        }
    }

    /// The connection to the player's worldserver was lost in world. The worldserver may keep
    /// the player in world for its linger, and a partition looks exactly like a crash: so the
    /// player goes back to the same worldserver (re-attach) until the linger has passed, and
    /// only then anywhere that serves the map.
    fn start_recovery(&mut self, now: Duration, from: WorldserverRef, detail: String) {
        if self.canary(Canary::ReuseDeadLink) {
            // Keeps writing to a connection that no longer exists.
            self.active = Some(LinkId(u64::MAX));
            self.state = State::InWorld;
            return;
        }
        let showing_world = matches!(self.state, State::InWorld);
        let map = self.position.map(|p| p.map).or(self.map).unwrap_or(0);
        for t in [Timer::Service, Timer::RedirectReady, Timer::RedirectRelease] {
            self.disarm(t);
        }
        // What the lost worldserver said while the gateway held it belongs to a world the
        // player will not see again.
        self.world_held.clear();
        self.world_held_bytes = 0;
        self.world_held_overflowed = false;
        self.event(SessionEvent::RecoveryStarted {
            from: from.id.clone(),
            detail,
        });
        self.send_client(&crate::wire::packets::SystemMessage {
            text: "Lost the connection to the world server; reconnecting...".into(),
        });
        if showing_world && let Some(at) = self.cached_position() {
            // A loading screen while the gateway reconnects.
            self.send_client(&crate::wire::packets::NewWorld(at));
        }
        let retry = Retry::start(self.cfg.recovery_backoff, now);
        self.state = State::EnteringWorld(Entering {
            kind: EnterKind::Recovery {
                from: from.clone(),
                lost_at: now,
                retry,
            },
            map,
            started: now,
            step: EnterStep::Connecting,
            link: None,
            placement_retry: None,
            target: None,
            avoid: Vec::new(),
            login_sent_at: None,
        });
        self.timers[Timer::Retry.index()] = Some(retry.deadline());
        self.connect(now, from);
    }

    /// The backoff wait is over (or the recovery deadline passed).
    fn retry_recovery(&mut self, now: Duration) {
        let State::EnteringWorld(e) = &self.state else {
            return;
        };
        if !matches!(e.kind, EnterKind::Recovery { .. }) {
            if e.step == EnterStep::Backoff {
                let map = e.map;
                let exclude = match &e.kind {
                    EnterKind::Handoff { from } => vec![from.id.clone()],
                    _ => Vec::new(),
                };
                let avoid = e.avoid.clone();
                let request = self.request_placement_avoiding(now, map, exclude, avoid);
                self.set_step(EnterStep::AwaitPlacement(request));
            }
            return;
        }
        let EnterKind::Recovery {
            from,
            lost_at,
            retry,
        } = &e.kind
        else {
            return;
        };
        if e.step != EnterStep::Backoff {
            // The overall deadline passed while an attempt was running.
            if now >= retry.deadline() {
                let worldserver = from.id.clone();
                self.close(CloseReason::WorldLost {
                    worldserver,
                    detail: "recovery deadline passed".into(),
                });
            }
            return;
        }
        let (from, lost_at, map) = (from.clone(), *lost_at, e.map);
        self.timers[Timer::Retry.index()] = Some(retry.deadline());
        let linger_passed =
            now.saturating_sub(lost_at) >= Duration::from_millis(self.cfg.world_linger_ms);
        if linger_passed || self.canary(Canary::SkipLinger) {
            // Anywhere that serves the map, the lost worldserver last: the gateway-wide ledger
            // keeps the character off the others until the lost one can have let it go.
            let request =
                self.request_placement_avoiding(now, map, Vec::new(), vec![from.id.clone()]);
            self.set_step(EnterStep::AwaitPlacement(request));
        } else {
            self.connect(now, from);
        }
    }

    /// Where the player is, as far as the gateway knows: the last position the worldserver
    /// or the client's movement said, else the character record's.
    fn cached_position(&self) -> Option<crate::wire::packets::MapPosition> {
        self.position.or_else(|| {
            self.character
                .as_ref()
                .map(|c| crate::wire::packets::MapPosition {
                    map: self.map.unwrap_or(c.map),
                    position: crate::wire::packets::Position {
                        x: c.x,
                        y: c.y,
                        z: c.z,
                        orientation: 0.0,
                    },
                })
        })
    }

    /// Nobody can take the player now but someone may soon (every owner degraded or
    /// draining, the registry view stale): ask again with backoff until the placement
    /// deadline, then fail with NO_WORLD. A recovery uses its own retry instead.
    fn wait_for_placement(&mut self, now: Duration, detail: String) {
        let State::EnteringWorld(e) = &mut self.state else {
            return;
        };
        if matches!(e.kind, EnterKind::Recovery { .. }) {
            return self.fail_entering(now, LoginFailure::NO_WORLD, detail);
        }
        let policy = self.cfg.placement_backoff;
        let retry = e
            .placement_retry
            .get_or_insert_with(|| Retry::start(policy, now));
        match retry.failed(now, &mut self.rng) {
            RetryDecision::RetryAt(at) => {
                e.step = EnterStep::Backoff;
                self.timers[Timer::Retry.index()] = Some(at);
                self.event(SessionEvent::PlacementWaiting {
                    detail,
                    retry_in_ms: millis(at.saturating_sub(now)),
                });
            }
            RetryDecision::GiveUp => match &e.kind {
                EnterKind::Handoff { from, .. } => {
                    // The old worldserver released the player and nobody took it in time.
                    let worldserver = from.id.clone();
                    self.close(CloseReason::WorldLost {
                        worldserver,
                        detail: format!("handoff found no worldserver in time: {detail}"),
                    });
                }
                _ => {
                    // Out of placement time: this login is over (and is not another attempt
                    // to place elsewhere).
                    e.step = EnterStep::Backoff;
                    self.fail_entering(now, LoginFailure::NO_WORLD, detail)
                }
            },
        }
    }

    /// Keeps the cached position current from the client's own movement packets.
    fn track_movement(&mut self, p: &Packet) {
        let movement = matches!(p.opcode, Opcode::MSG_MOVE_HEARTBEAT | Opcode::MSG_MOVE_STOP);
        let Some(pos) = self.position.as_mut() else {
            return;
        };
        if !movement {
            return;
        }
        let mut r = crate::wire::codec::Reader::new(&p.body);
        let parsed = (|| {
            r.packed_guid("guid").ok()?;
            r.u32("flags").ok()?;
            r.u16("flags2").ok()?;
            r.u32("time").ok()?;
            Some([
                r.f32("x").ok()?,
                r.f32("y").ok()?,
                r.f32("z").ok()?,
                r.f32("o").ok()?,
            ])
        })();
        if let Some([x, y, z, o]) = parsed
            && [x, y, z, o].iter().all(|v| v.is_finite())
        {
            pos.position = crate::wire::packets::Position {
                x,
                y,
                z,
                orientation: o,
            };
        }
    }

    fn fail_entering(&mut self, now: Duration, code: LoginFailure, detail: String) {
        let State::EnteringWorld(mut e) =
            std::mem::replace(&mut self.state, State::CharacterScreen)
        else {
            return;
        };
        // Before PLAYER_LOGIN was read the failed worldserver cannot hold the character, so
        // a login may go elsewhere at once.
        let before_login = matches!(e.step, EnterStep::Connecting | EnterStep::AwaitChallenge);
        // Whatever happens next, this attempt is over.
        if let Some(link) = e.link.take() {
            self.drop_link(link);
        }
        for t in [
            Timer::Service,
            Timer::WorldHandshake,
            Timer::LoginNudge,
            Timer::WorldLogin,
        ] {
            self.disarm(t);
        }
        let login_elsewhere = matches!(e.kind, EnterKind::Login) && before_login;
        if matches!(e.kind, EnterKind::Handoff { .. }) || login_elsewhere {
            // A handoff: the old worldserver has let the player go and the new one failed.
            // A login: the worldserver failed before it read PLAYER_LOGIN. Either way another
            // worldserver (this one only if no other can), with backoff, until the
            // placement deadline.
            if let Some(failed) = e.target.take()
                && !e.avoid.contains(&failed)
            {
                e.avoid.push(failed);
            }
            self.state = State::EnteringWorld(e);
            let _ = code;
            return self.wait_for_placement(now, detail);
        }
        if let EnterKind::Recovery { from, retry, .. } = &mut e.kind {
            let decision = retry.failed(now, &mut self.rng);
            #[cfg(feature = "canaries")]
            let decision = match decision {
                RetryDecision::RetryAt(_) if self.cfg.canary == Some(Canary::UncappedBackoff) => {
                    let wait = self
                        .cfg
                        .recovery_backoff
                        .min_ms
                        .saturating_mul(1 << retry.attempts().min(30));
                    RetryDecision::RetryAt(now + Duration::from_millis(wait))
                }
                other => other,
            };
            match decision {
                RetryDecision::RetryAt(at) => {
                    let attempts = retry.attempts() - 1;
                    self.timers[Timer::Retry.index()] = Some(at);
                    e.step = EnterStep::Backoff;
                    self.state = State::EnteringWorld(e);
                    self.event(SessionEvent::RecoveryAttemptFailed {
                        attempts,
                        detail,
                        retry_in_ms: millis(at.saturating_sub(now)),
                    });
                }
                RetryDecision::GiveUp => {
                    let attempts = retry.attempts();
                    let worldserver = from.id.clone();
                    self.close(CloseReason::WorldLost {
                        worldserver,
                        detail: format!("recovery gave up after {attempts} attempts: {detail}"),
                    });
                }
            }
            return;
        }
        match e.kind {
            EnterKind::Login => {
                self.held.clear();
                self.held_bytes = 0;
                self.character = None;
                self.send_client(&CharacterLoginFailed { reason: code });
                self.event(SessionEvent::LoginFailed { code, detail });
            }
            EnterKind::Recovery { .. } | EnterKind::Handoff { .. } => {
                unreachable!("recoveries and handoffs retry above")
            }
        }
    }

    // ----- timers -----------------------------------------------------------------------

    fn on_timer(&mut self, now: Duration, timer: Timer) {
        match timer {
            Timer::PreAuth => {
                if matches!(
                    self.state,
                    State::ExpectAuthSession | State::AwaitAccount(_)
                ) {
                    self.close(CloseReason::PreAuthTimeout);
                }
            }
            Timer::Service => match &self.state {
                State::AwaitAccount(_) => {
                    self.reject_auth(AuthResult::DB_BUSY, "account lookup timed out".into())
                }
                State::EnteringWorld(_) => {
                    self.fail_entering(now, LoginFailure::NO_WORLD, "placement timed out".into())
                }
                State::AwaitTransferPlacement { .. } => {
                    // Nobody answered who owns the map: the current worldserver keeps the
                    // player and finishes the teleport.
                    if let State::AwaitTransferPlacement { ack, .. } =
                        std::mem::replace(&mut self.state, State::InWorld)
                    {
                        self.forward_to_world(ack);
                        self.release_held();
                        self.release_world_held(now);
                    }
                }
                _ if self.characters_request.is_some() => self.close(
                    CloseReason::ServiceUnavailable("characters service timed out".into()),
                ),
                _ => {}
            },
            Timer::WorldHandshake => {
                if let State::EnteringWorld(e) = &self.state
                    && matches!(e.step, EnterStep::Connecting | EnterStep::AwaitChallenge)
                {
                    self.fail_entering(
                        now,
                        LoginFailure::NO_WORLD,
                        "worldserver handshake timed out".into(),
                    );
                }
            }
            Timer::LoginNudge => {
                let State::EnteringWorld(e) = &self.state else {
                    return;
                };
                let (EnterStep::LoginSent { nudges }, Some(link)) = (e.step, e.link) else {
                    return;
                };
                self.send_world(link, Opcode::CMSG_KEEP_ALIVE, Bytes::new());
                if let Some(server) = self.link_server(link) {
                    self.event(SessionEvent::LoginNudged {
                        worldserver: server.id,
                    });
                }
                let nudges = nudges + 1;
                self.set_step(EnterStep::LoginSent { nudges });
                if nudges < self.cfg.world_login_nudges_max {
                    // Doubling: a worldserver whose account lookup is slow is not flooded.
                    let after = self
                        .cfg
                        .world_login_nudge_ms
                        .saturating_mul(1 << nudges.min(16));
                    self.arm(Timer::LoginNudge, now, after);
                }
            }
            Timer::WorldLogin => {
                if matches!(self.state, State::EnteringWorld(_)) {
                    self.fail_entering(now, LoginFailure::FAILED, "login timed out".into());
                }
            }
            Timer::RedirectReady => match &self.state {
                State::AwaitRedirectReady {
                    loading_screen: false,
                    ..
                } => self.force_release(now),
                State::AwaitRedirectReady { .. } => {
                    self.abandon_redirect(now, "READY_FOR_REDIRECT timed out".into())
                }
                _ => {}
            },
            Timer::Retry => self.retry_recovery(now),
            Timer::WorldSilence => {
                // A partition looks like this: no close, no bytes. Treat it as a loss.
                if let Some(link) = self.active
                    && matches!(self.state, State::InWorld | State::Transferring { .. })
                {
                    self.on_world_lost(now, link, "worldserver silent".into());
                }
            }
            Timer::RedirectRelease => {
                if matches!(self.state, State::AwaitRelease { .. }) {
                    if self.active.is_some() {
                        // READY said the player is saved; the kick is late.
                        self.give_up_on_release(now);
                    } else {
                        // The linger the gateway waited out after closing the link itself.
                        self.released(now, false);
                    }
                }
            }
            Timer::Logout => {
                if matches!(self.state, State::LoggingOut) {
                    self.close(CloseReason::Shutdown);
                }
            }
        }
    }

    fn arm(&mut self, timer: Timer, now: Duration, after_ms: u64) {
        self.timers[timer.index()] = Some(now + Duration::from_millis(after_ms));
    }

    fn disarm(&mut self, timer: Timer) {
        self.timers[timer.index()] = None;
    }

    // ----- helpers ----------------------------------------------------------------------

    fn reject_auth(&mut self, code: AuthResult, detail: String) {
        let _ = detail;
        self.send_client(&AuthResponseBody(AuthResponse::Failed(code)));
        self.close(CloseReason::AuthRejected(code));
    }

    fn close(&mut self, reason: CloseReason) {
        if matches!(self.state, State::Closed) {
            return;
        }
        for link in self.links.iter().map(|l| l.id).collect::<Vec<_>>() {
            self.drop_link(link);
        }
        self.active = None;
        self.timers = [None; TIMERS];
        self.held.clear();
        self.held_bytes = 0;
        self.state = State::Closed;
        self.event(SessionEvent::Closed {
            reason: reason.clone(),
        });
        self.push(Output::CloseClient { reason });
    }

    fn hold(&mut self, p: Packet) {
        let bytes = p.body.len() + 6;
        if self.held.len() >= self.cfg.switch_buffer_max_packets
            || self.held_bytes + bytes > self.cfg.switch_buffer_max_bytes
        {
            return self.close(CloseReason::SwitchBufferOverflow);
        }
        self.held_bytes += bytes;
        self.held.push_back(p);
    }

    fn release_held(&mut self) {
        self.held_bytes = 0;
        if self.canary(Canary::ReorderHeld) {
            while let Some(p) = self.held.pop_back() {
                self.forward_to_world(p);
            }
        }
        while let Some(p) = self.held.pop_front() {
            self.forward_to_world(p);
        }
    }

    fn pong(&mut self, p: &Packet) {
        if let Ok(ping) = Ping::decode(&p.body) {
            self.send_client(&Pong { seq: ping.seq });
        }
    }

    fn forward_to_world(&mut self, p: Packet) {
        self.forward_to_link(self.active, p);
    }

    fn forward_to_link(&mut self, link: Option<LinkId>, p: Packet) {
        if let Some(link) = link {
            self.send_world(link, p.opcode, p.body);
        }
    }

    fn send_active_world<P: WirePacket>(&mut self, packet: &P) {
        if let Some(link) = self.active {
            self.send_world(link, P::OPCODE, packet.to_body());
        }
    }

    fn send_world(&mut self, link: LinkId, opcode: Opcode, body: Bytes) {
        let Some(l) = self.links.iter_mut().find(|l| l.id == link) else {
            return;
        };
        // Client bodies are at most 10,235 bytes, which the 6-byte header always carries.
        let Ok(frame) = l.encoder.frame(opcode, body) else {
            return;
        };
        self.counters.world_packets_out += 1;
        // The auth session and the login must not share one write (worldserver quirk).
        let separate = opcode == Opcode::CMSG_AUTH_SESSION || opcode == Opcode::CMSG_PLAYER_LOGIN;
        match self.pending.back_mut() {
            Some(Pending::World(l, buf)) if *l == link && !separate => frame.write_to(buf),
            _ => {
                let mut buf = BytesMut::with_capacity(frame.wire_len());
                frame.write_to(&mut buf);
                self.pending.push_back(Pending::World(link, buf));
                if separate {
                    // Seal it so the next packet starts a new write.
                    self.pending
                        .push_back(Pending::World(link, BytesMut::new()));
                }
            }
        }
    }

    fn send_client<P: ClientBody>(&mut self, packet: &P) {
        let mut body = BytesMut::new();
        packet.encode_body(&mut body);
        self.send_client_raw(packet.opcode(), body.freeze());
    }

    fn send_client_raw(&mut self, opcode: Opcode, body: Bytes) {
        let Ok(frame) = self.client_out.frame(opcode, body) else {
            return; // larger than any server header can carry: the worldserver's bug, dropped
        };
        self.counters.client_packets_out += 1;
        match self.pending.back_mut() {
            Some(Pending::Client(buf)) => frame.write_to(buf),
            _ => {
                let mut buf = BytesMut::with_capacity(frame.wire_len());
                frame.write_to(&mut buf);
                self.pending.push_back(Pending::Client(buf));
            }
        }
    }

    fn push(&mut self, o: Output) {
        self.pending.push_back(Pending::Other(o));
    }

    fn event(&mut self, e: SessionEvent) {
        self.push(Output::Event(e));
    }

    /// The worldserver confirmed it let the character go (logout complete, READY status 0
    /// and the kick): closes the link without leaving a hold behind.
    fn release_link(&mut self, link: LinkId) {
        self.leave(link, Departure::Released);
        self.drop_link(link);
    }

    /// Closes a link. If its worldserver may hold the character, it may keep it in world for
    /// its linger: the gateway-wide ledger hears of it.
    fn drop_link(&mut self, link: LinkId) {
        self.leave(link, Departure::Lost);
        if let Some(at) = self.links.iter().position(|l| l.id == link) {
            self.links.remove(at);
            self.push(Output::CloseWorld { link });
        }
        if self.active == Some(link) {
            self.active = None;
        }
    }

    fn leave(&mut self, link: LinkId, how: Departure) {
        if self.holding != Some(link) {
            return;
        }
        self.holding = None;
        let (Some(server), Some(guid)) = (self.link_server(link), self.character()) else {
            return;
        };
        self.event(SessionEvent::CharacterLeft {
            guid,
            worldserver: server.id,
            how,
        });
    }

    fn link_server(&self, link: LinkId) -> Option<WorldserverRef> {
        self.links
            .iter()
            .find(|l| l.id == link)
            .map(|l| l.server.clone())
    }

    fn set_step(&mut self, step: EnterStep) {
        if let State::EnteringWorld(e) = &mut self.state {
            e.step = step;
        }
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn next_request(&mut self) -> RequestId {
        RequestId(self.next_id())
    }

    /// Whether a planted bug is switched on (never, without the `canaries` feature).
    #[cfg(feature = "canaries")]
    fn canary(&self, c: Canary) -> bool {
        self.cfg.canary == Some(c)
    }

    #[cfg(not(feature = "canaries"))]
    fn canary(&self, _c: Canary) -> bool {
        false
    }

    fn elapsed_secs(&self, now: Duration) -> u32 {
        u32::try_from(now.saturating_sub(self.started).as_secs()).unwrap_or(u32::MAX)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn name_response(n: &NameRecord) -> NameQueryResponse {
    NameQueryResponse::Found {
        guid: n.guid.0,
        name: n.name.clone(),
        realm: String::new(),
        race: n.race,
        gender: n.gender,
        class: n.class,
        declined: None,
    }
}

/// Anything the session renders for the client.
trait ClientBody {
    fn opcode(&self) -> Opcode;
    fn encode_body(&self, out: &mut BytesMut);
}

impl<P: WirePacket> ClientBody for P {
    fn opcode(&self) -> Opcode {
        P::OPCODE
    }
    fn encode_body(&self, out: &mut BytesMut) {
        self.encode(out);
    }
}

struct AuthChallengeBody(AuthChallenge);
struct AuthResponseBody(AuthResponse);
struct AddonInfoBody(AddonInfo);

impl ClientBody for AuthChallengeBody {
    fn opcode(&self) -> Opcode {
        AuthChallenge::OPCODE
    }
    fn encode_body(&self, out: &mut BytesMut) {
        self.0.encode(out);
    }
}

impl ClientBody for AuthResponseBody {
    fn opcode(&self) -> Opcode {
        AuthResponse::OPCODE
    }
    fn encode_body(&self, out: &mut BytesMut) {
        self.0.encode(out);
    }
}

impl ClientBody for AddonInfoBody {
    fn opcode(&self) -> Opcode {
        Opcode::SMSG_ADDON_INFO
    }
    fn encode_body(&self, out: &mut BytesMut) {
        self.0.encode(out);
    }
}
