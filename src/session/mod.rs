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
//! The house, by flow (each state is a type in the file of its flow, owns its data, and
//! returns the next state; flows never call into each other's files except to build the
//! state they move to):
//! - `context.rs`: what every state needs for the session's whole life (outputs, timer
//!   table, links, counters, RNG); `timers.rs`, `held.rs`: the timer table and the bounded
//!   queues of packets held during a move;
//! - `auth.rs`: the challenge and the account lookup;
//! - `character_screen.rs`: listing, name queries, the start of a login;
//! - `char_service.rs`: character create, delete and rename, each through a worldserver on a
//!   link of its own;
//! - `entering.rs`: placement, connect, replayed auth and PLAYER_LOGIN, loading, on a login,
//!   a handoff or a recovery;
//! - `in_world.rs`: proxying, and [`in_world::for_client`], the one rule of what a
//!   worldserver may send to the client;
//! - `moves.rs`: map change to another owner, worldserver redirect, drain, layer switch;
//! - `recovery.rs`: a lost worldserver link; `logout.rs`: shutdown;
//! - `present`: the hook to the presentation core (`crate::present`).

mod auth;
mod canary;
mod char_service;
mod character_screen;
mod config;
mod context;
mod entering;
mod game;
mod held;
mod in_world;
mod logout;
mod moves;
mod output;
mod present;
mod records;
mod recovery;
mod relay;
mod timers;

use std::time::Duration;

pub use canary::Canary;
pub use config::SessionConfig;
pub use context::PRESENT_CALLS_PENDING_MAX;
pub use output::{
    Announcement, ClaimRefused, CloseReason, Counters, Culprit, Departure, LinkId, Output,
    RequestId, SessionEvent,
};
pub use records::{
    AccountId, AccountRecord, CharacterGuid, CharacterRecord, NameRecord, SeamError,
};

use crate::cluster::WorldserverRef;
use crate::wire::packets::SystemMessage;
use crate::wire::{Decoded, Opcode, Packet};
use auth::AwaitAccount;
use character_screen::CharacterScreen;
use context::Ctx;
use entering::Entering;
use game::{InGame, Player, World};
use in_world::{InWorld, Transferring};
use logout::LoggingOut;
use moves::{AwaitRedirectReady, AwaitRelease, AwaitTransferPlacement};
use timers::Timer;

/// Identifies a session in logs, metrics and transcripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// What the session is waiting for. Public so tests and transcripts can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// SMSG_AUTH_CHALLENGE sent; waiting for CMSG_AUTH_SESSION.
    ExpectAuthSession,
    /// Waiting for the account lookup.
    AwaitAccount,
    /// Authenticated, no character in world (a character create, delete or rename may be
    /// under way).
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
    /// READY received; waiting for the old worldserver to kick the player (close the link),
    /// or for its linger after the gateway closed the link itself.
    AwaitRelease,
    /// Shutting down: logout requested from the worldserver.
    LoggingOut,
    /// Done.
    Closed,
}

// One State per session, and the in-game variants are the ones most sessions live in:
// boxing them would add an allocation per transition and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum State {
    ExpectAuthSession,
    AwaitAccount(AwaitAccount),
    CharacterScreen(CharacterScreen),
    EnteringWorld(Entering),
    InWorld(InWorld),
    Transferring(Transferring),
    AwaitTransferPlacement(AwaitTransferPlacement),
    AwaitRedirectReady(AwaitRedirectReady),
    AwaitRelease(AwaitRelease),
    LoggingOut(LoggingOut),
    Closed,
}

/// One client's session. See the module documentation for the call order.
#[derive(Debug)]
pub struct Session {
    cx: Ctx,
    state: State,
}

impl Session {
    /// Starts a session for a freshly accepted client and queues SMSG_AUTH_CHALLENGE.
    /// `server_seed` and `seed_bytes` come from the caller's seeded RNG; `unix_time` is the
    /// wall clock at accept (for SMSG_ACCOUNT_DATA_TIMES); `rng_seed` seeds the session's own
    /// RNG (backoff jitter).
    pub fn new(
        id: SessionId,
        now: Duration,
        cfg: std::sync::Arc<SessionConfig>,
        server_seed: u32,
        seed_bytes: [u8; 32],
        unix_time: u32,
        rng_seed: u64,
    ) -> Self {
        let rng = context::SessionRng::new(rng_seed);
        let mut cx = Ctx::new(id, now, cfg, server_seed, unix_time, rng);
        auth::challenge(&mut cx, now, seed_bytes);
        Self {
            cx,
            state: State::ExpectAuthSession,
        }
    }

    /// This session's id.
    pub fn id(&self) -> SessionId {
        self.cx.id
    }

    /// What the session waits for.
    pub fn phase(&self) -> Phase {
        match &self.state {
            State::ExpectAuthSession => Phase::ExpectAuthSession,
            State::AwaitAccount(_) => Phase::AwaitAccount,
            State::CharacterScreen(_) => Phase::CharacterScreen,
            State::EnteringWorld(_) => Phase::EnteringWorld,
            State::InWorld(_) => Phase::InWorld,
            State::Transferring(_) => Phase::Transferring,
            State::AwaitTransferPlacement(_) => Phase::AwaitTransferPlacement,
            State::AwaitRedirectReady(_) => Phase::AwaitRedirectReady,
            State::AwaitRelease(_) => Phase::AwaitRelease,
            State::LoggingOut(_) => Phase::LoggingOut,
            State::Closed => Phase::Closed,
        }
    }

    fn player(&self) -> Option<&Player> {
        player_of(&self.state)
    }

    fn game(&self) -> Option<&InGame> {
        game_of(&self.state)
    }

    /// The link whose packets reach the client, if any.
    fn active(&self) -> Option<LinkId> {
        match &self.state {
            State::InWorld(s) => Some(s.w.link),
            State::Transferring(s) => Some(s.w.link),
            State::AwaitTransferPlacement(s) => Some(s.w.link),
            State::AwaitRedirectReady(s) => Some(s.w.link),
            State::AwaitRelease(s) => s.link(),
            State::LoggingOut(s) => Some(s.w.link),
            _ => None,
        }
    }

    /// The authenticated account, once verified.
    pub fn account(&self) -> Option<&AccountRecord> {
        self.player().map(|p| &p.account)
    }

    /// The map the character entered the world on, once in world.
    pub fn map(&self) -> Option<u32> {
        self.game()?.map
    }

    /// The character in play (or being logged in), if any.
    pub fn character(&self) -> Option<CharacterGuid> {
        self.game().map(InGame::guid)
    }

    /// The worldserver whose packets reach the client now.
    pub fn worldserver(&self) -> Option<&WorldserverRef> {
        self.cx.server_of(self.active()?)
    }

    /// Whether `link` is one of the session's worldserver connections (an answer for a link
    /// it gave up on is stale).
    pub fn has_link(&self, link: LinkId) -> bool {
        self.cx.has_link(link)
    }

    /// Bytes received from the client but not yet decoded (the driver stops reading when
    /// this passes its own bound).
    pub fn client_buffered(&self) -> usize {
        self.cx.client_in.buffered()
    }

    // ----- inputs -----------------------------------------------------------------------

    /// The one place that swaps states: take, transition, put back. No early return in
    /// between.
    fn dispatch(&mut self, f: impl FnOnce(State, &mut Ctx) -> State) {
        let state = std::mem::replace(&mut self.state, State::Closed);
        self.state = f(state, &mut self.cx);
    }

    /// Bytes arrived from the client.
    pub fn handle_client_bytes(&mut self, now: Duration, data: &[u8]) {
        if matches!(self.state, State::Closed) {
            return;
        }
        self.cx.client_in.extend(data);
        self.drain_client(now);
    }

    /// The client closed its connection (or the driver gave up on it).
    pub fn handle_client_closed(&mut self, _now: Duration) {
        self.dispatch(|s, cx| close(s, cx, CloseReason::ClientGone));
    }

    /// The account lookup answered.
    pub fn handle_account(
        &mut self,
        now: Duration,
        request: RequestId,
        result: Result<Option<AccountRecord>, SeamError>,
    ) {
        if !matches!(&self.state, State::AwaitAccount(a) if a.request == request) {
            return;
        }
        self.dispatch(|s, cx| match s {
            State::AwaitAccount(a) => a.on_account(cx, now, result),
            other => other,
        });
    }

    /// The account claim answered (see [`Output::ClaimAccount`]).
    pub fn handle_claim(
        &mut self,
        now: Duration,
        request: RequestId,
        result: Result<(), ClaimRefused>,
    ) {
        if !matches!(&self.state, State::AwaitAccount(a) if a.request == request && a.verified.is_some())
        {
            return;
        }
        self.dispatch(|s, cx| match s {
            State::AwaitAccount(a) => a.on_claim(cx, result),
            other => other,
        });
        // Bytes the client pipelined behind its auth session are decrypted from here on.
        self.drain_client(now);
    }

    /// The session lost its account: a newer login took it over, or the gateway can no
    /// longer guarantee it owns it (`detail` says which). An in-world player is told why and
    /// logged out politely; otherwise the session closes at once.
    pub fn handle_evicted(&mut self, now: Duration, detail: &str) {
        let reason = CloseReason::Evicted(detail.to_owned());
        self.dispatch(|s, cx| match s {
            State::InWorld(InWorld { w }) | State::Transferring(Transferring { w, .. }) => {
                cx.send_client(&SystemMessage {
                    text: format!("Disconnected: {detail}."),
                });
                LoggingOut::begin(cx, now, w, reason)
            }
            s @ (State::LoggingOut(_) | State::Closed) => s,
            s => close(s, cx, reason),
        });
    }

    /// The characters service answered a listing.
    pub fn handle_characters(
        &mut self,
        now: Duration,
        request: RequestId,
        result: Result<Vec<CharacterRecord>, SeamError>,
    ) {
        self.dispatch(|s, cx| match s {
            State::CharacterScreen(c) => c.on_characters(cx, now, request, result),
            other => other,
        });
    }

    /// A name lookup answered.
    pub fn handle_name(
        &mut self,
        _now: Duration,
        guid: CharacterGuid,
        result: Result<Option<NameRecord>, SeamError>,
    ) {
        if !self.cx.name_answered(guid) || matches!(self.state, State::Closed) {
            return;
        }
        character_screen::answer_name(&mut self.cx, guid, result);
    }

    /// The coordinator answered a placement.
    pub fn handle_placement(
        &mut self,
        now: Duration,
        request: RequestId,
        result: Result<Option<WorldserverRef>, SeamError>,
    ) {
        self.dispatch(|s, cx| match s {
            State::CharacterScreen(c) => c.on_placement(cx, now, request, result),
            State::EnteringWorld(e) => e.on_placement(cx, now, request, result),
            State::AwaitTransferPlacement(m) => m.on_placement(cx, now, request, result),
            other => other,
        });
    }

    /// A connection the session asked for opened, or failed.
    pub fn handle_world_connected(
        &mut self,
        now: Duration,
        link: LinkId,
        result: Result<(), String>,
    ) {
        self.dispatch(|s, cx| match s {
            State::CharacterScreen(c) => c.on_connected(cx, now, link, result),
            State::EnteringWorld(e) => e.on_connected(cx, now, link, result),
            other => other,
        });
    }

    /// Bytes arrived from a worldserver connection.
    pub fn handle_world_bytes(&mut self, now: Duration, link: LinkId, data: &[u8]) {
        let Some(l) = self.cx.link_mut(link) else {
            return;
        };
        l.decoder.extend(data);
        loop {
            let Some(l) = self.cx.link_mut(link) else {
                return;
            };
            match l.decoder.decode() {
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
        if self.cx.has_link(link) {
            self.on_world_lost(now, link, "connection closed".into());
        }
    }

    /// The gateway is shutting down: log an in-world player out politely, then close.
    pub fn begin_shutdown(&mut self, now: Duration) {
        self.dispatch(|s, cx| match s {
            State::InWorld(InWorld { w }) | State::Transferring(Transferring { w, .. }) => {
                LoggingOut::begin(cx, now, w, CloseReason::Shutdown)
            }
            s @ (State::LoggingOut(_) | State::Closed) => s,
            s => close(s, cx, CloseReason::Shutdown),
        });
    }

    /// The gateway moves the player off a worldserver that is draining: PREPARE, READY, the
    /// kick, then another worldserver for the same map.
    pub fn handle_drain(&mut self, now: Duration, worldserver: &crate::cluster::WorldserverId) {
        if self.worldserver().is_none_or(|w| &w.id != worldserver) {
            return;
        }
        let from = worldserver.clone();
        self.dispatch(|s, cx| match s {
            State::InWorld(InWorld { w }) => moves::begin_move(cx, now, w, from, "draining", None),
            other => other,
        });
    }

    /// The gateway moves the player to another worldserver that serves the same map (a layer
    /// switch, say to join a group's layer): PREPARE, READY, the kick, a loading screen at the
    /// cached position, then a login on `target`. Ignored unless the player is in world on
    /// another worldserver; returns whether the switch began.
    pub fn handle_layer_switch(&mut self, now: Duration, target: WorldserverRef) -> bool {
        let Some(from) = self.worldserver().map(|w| w.id.clone()) else {
            return false;
        };
        if !matches!(self.state, State::InWorld(_)) || from == target.id {
            return false;
        }
        self.dispatch(|s, cx| match s {
            State::InWorld(InWorld { w }) => {
                moves::begin_move(cx, now, w, from, "layer switch", Some(target))
            }
            other => other,
        });
        true
    }

    /// An event from the cluster's bus for this session's character: handed to its
    /// presenter; returns what became of it. Ignored when no character is in play.
    pub fn handle_cluster_event(
        &mut self,
        now: Duration,
        event: crate::present::ClusterEvent,
    ) -> crate::present::EventFate {
        if self.cx.canary(Canary::DropEventsWhileMoving) && !matches!(self.state, State::InWorld(_))
        {
            return crate::present::EventFate::NotForMe;
        }
        let link = self.active();
        let Some(game) = game_mut_of(&mut self.state) else {
            return crate::present::EventFate::NotForMe;
        };
        present::cluster_event(&mut self.cx, now, game, link, event)
    }

    /// A cluster service answered one of presentation's calls (`Output::CallService`).
    /// Ignored when it was not asked, or when no character is in play any more.
    pub fn handle_service_answer(
        &mut self,
        now: Duration,
        request: RequestId,
        answer: crate::present::ServiceAnswer,
    ) {
        if !self.cx.call_answered(request) {
            return;
        }
        let link = self.active();
        if let Some(game) = game_mut_of(&mut self.state) {
            present::service_answer(&mut self.cx, now, game, link, answer);
        }
    }

    /// The earliest deadline, if any.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.cx.timers.next()
    }

    /// Fires every deadline at or before `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        for timer in Timer::ALL {
            if self.cx.timers.take_due(timer, now) {
                self.on_timer(now, timer);
            }
        }
    }

    /// Packets moved since the last call.
    pub fn take_counters(&mut self) -> Counters {
        std::mem::take(&mut self.cx.counters)
    }

    /// Whether `poll_output` has something.
    pub fn has_output(&self) -> bool {
        self.cx.has_output()
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.cx.poll_output()
    }

    // ----- routing ----------------------------------------------------------------------

    fn drain_client(&mut self, now: Duration) {
        loop {
            match &self.state {
                State::AwaitAccount(_) => {
                    // The cipher starts at the next header; nothing more is decoded until
                    // the account is known. Bound what the client may pile up meanwhile.
                    if self.cx.client_in.buffered() > self.cx.cfg.pre_auth_buffer_max_bytes {
                        let reason = CloseReason::ClientProtocol(
                            "sent too much before authentication finished".into(),
                        );
                        self.dispatch(|s, cx| close(s, cx, reason));
                    }
                    return;
                }
                State::Closed => return,
                _ => {}
            }
            match self.cx.client_in.decode() {
                Ok(Decoded::Packet(p)) => self.on_client_packet(now, p),
                Ok(Decoded::NeedMore(_)) => return,
                Err(e) => {
                    let reason = CloseReason::ClientProtocol(e.to_string());
                    return self.dispatch(|s, cx| close(s, cx, reason));
                }
            }
        }
    }

    fn on_client_packet(&mut self, now: Duration, p: Packet) {
        self.cx.counters.client_packets_in += 1;
        self.dispatch(|s, cx| {
            if p.opcode == Opcode::CMSG_AUTH_SESSION && !matches!(s, State::ExpectAuthSession) {
                let reason = CloseReason::ClientProtocol("second CMSG_AUTH_SESSION".into());
                return close(s, cx, reason);
            }
            match s {
                State::ExpectAuthSession => auth::on_auth_session(cx, now, p),
                s @ (State::AwaitAccount(_) | State::Closed | State::LoggingOut(_)) => s,
                State::CharacterScreen(c) => c.on_client_packet(cx, now, p),
                State::EnteringWorld(e) => e.on_client_packet(cx, now, p),
                State::InWorld(w) => w.on_client_packet(cx, now, p),
                State::Transferring(t) => t.on_client_packet(cx, now, p),
                State::AwaitTransferPlacement(m) => m.on_client_packet(cx, now, p),
                State::AwaitRedirectReady(m) => m.on_client_packet(cx, now, p),
                State::AwaitRelease(m) => m.on_client_packet(cx, now, p),
            }
        });
    }

    fn on_world_packet(&mut self, now: Duration, link: LinkId, p: Packet) {
        self.cx.counters.world_packets_in += 1;
        if let State::CharacterScreen(c) = &self.state
            && c.service_link() == Some(link)
        {
            return self.dispatch(|s, cx| match s {
                State::CharacterScreen(c) => c.on_service_packet(cx, now, p),
                other => other,
            });
        }
        if let State::EnteringWorld(e) = &self.state
            && e.link() == Some(link)
        {
            return self.dispatch(|s, cx| match s {
                State::EnteringWorld(e) => e.on_world_packet(cx, now, p),
                other => other,
            });
        }
        if Some(link) != self.active() {
            return; // an old link being closed: nothing from it reaches the client
        }
        // Anything from the worldserver proves the link alive (it sends a time sync every
        // 10 s in world).
        let silence_ms = self.cx.cfg.world_silence_timeout_ms;
        self.cx.timers.arm(Timer::WorldSilence, now, silence_ms);
        self.dispatch(|s, cx| match s {
            State::InWorld(w) => w.on_world_packet(cx, now, p),
            State::Transferring(t) => t.on_world_packet(cx, now, p),
            State::LoggingOut(l) => l.on_world_packet(cx, now, p),
            State::AwaitTransferPlacement(m) => m.on_world_packet(cx, p),
            State::AwaitRedirectReady(m) => m.on_world_packet(cx, now, p),
            // Released: nothing more from the old worldserver reaches the client.
            other => other,
        });
    }

    fn on_world_lost(&mut self, now: Duration, link: LinkId, detail: String) {
        let Some(server) = self.cx.link_server(link) else {
            return;
        };
        let active = self.active() == Some(link);
        self.dispatch(|s, cx| match s {
            State::EnteringWorld(e) if e.link() == Some(link) => {
                cx.drop_link(link);
                e.on_link_lost(cx, now, &server, detail)
            }
            State::CharacterScreen(c) if c.service_link() == Some(link) => {
                cx.drop_link(link);
                c.on_service_lost(cx, now, &server, detail)
            }
            // The kick after READY status 0: the worldserver let the character go.
            State::AwaitRelease(m) if active => {
                cx.release_link(link);
                m.released(cx, now, true)
            }
            s if !active => {
                cx.drop_link(link);
                s
            }
            s => {
                cx.drop_link(link);
                recovery::world_lost(s, cx, now, server, detail)
            }
        });
    }

    fn on_timer(&mut self, now: Duration, timer: Timer) {
        self.dispatch(|s, cx| match (timer, s) {
            (Timer::PreAuth, s @ (State::ExpectAuthSession | State::AwaitAccount(_))) => {
                close(s, cx, CloseReason::PreAuthTimeout)
            }
            (Timer::AccountLookup, State::AwaitAccount(a)) => a.timed_out(cx),
            (Timer::Characters, State::CharacterScreen(c)) => c.timed_out(cx),
            (
                Timer::Placement
                | Timer::WorldHandshake
                | Timer::CharService
                | Timer::CharServiceNudge,
                State::CharacterScreen(c),
            ) => c.service_timer(cx, now, timer),
            (Timer::Placement, State::EnteringWorld(e)) => e.placement_timed_out(cx, now),
            (Timer::Placement, State::AwaitTransferPlacement(m)) => m.placement_timed_out(cx, now),
            (Timer::WorldHandshake, State::EnteringWorld(e)) => e.handshake_timed_out(cx, now),
            (Timer::LoginNudge, State::EnteringWorld(e)) => e.nudge(cx, now),
            (Timer::WorldLogin, State::EnteringWorld(e)) => e.login_timed_out(cx, now),
            (Timer::BackoffWait, State::EnteringWorld(e)) => e.backoff_over(cx, now),
            (Timer::RecoveryDeadline, State::EnteringWorld(e)) => e.recovery_deadline(cx, now),
            (Timer::RedirectReady, State::AwaitRedirectReady(m)) => m.ready_timed_out(cx, now),
            (Timer::RedirectRelease, State::AwaitRelease(m)) => m.kick_timed_out(cx, now),
            (Timer::LingerWait, State::AwaitRelease(m)) => m.released(cx, now, false),
            (Timer::WorldSilence, s @ (State::InWorld(_) | State::Transferring(_))) => {
                silent(s, cx, now)
            }
            (Timer::Logout, State::LoggingOut(l)) => l.timed_out(cx),
            (Timer::AccountClaim, State::AwaitAccount(a)) if a.verified.is_some() => {
                a.claim_timed_out(cx)
            }
            (_, other) => other,
        });
    }
}

/// A partition looks like this: no close, no bytes. Treated as a loss.
fn silent(s: State, cx: &mut Ctx, now: Duration) -> State {
    let (State::InWorld(InWorld { w }) | State::Transferring(Transferring { w, .. })) = &s else {
        return s;
    };
    let link = w.link;
    let Some(server) = cx.link_server(link) else {
        return s;
    };
    cx.drop_link(link);
    recovery::world_lost(s, cx, now, server, "worldserver silent".into())
}

/// Ends the session from any state: every link closed, every timer disarmed, whatever the
/// state held dropped with it.
fn close(s: State, cx: &mut Ctx, reason: CloseReason) -> State {
    if matches!(s, State::Closed) {
        return s;
    }
    if let (Some(player), Some(game)) = (player_of(&s), game_of(&s))
        && game.announced()
    {
        cx.push(Output::Announce(game.logged_out(player.account.id)));
    }
    drop(s);
    cx.drop_all_links();
    cx.timers.clear();
    cx.event(SessionEvent::Closed {
        reason: reason.clone(),
    });
    cx.push(Output::CloseClient { reason });
    State::Closed
}

/// Who is playing, in any state that knows.
fn player_of(s: &State) -> Option<&Player> {
    match s {
        State::ExpectAuthSession | State::AwaitAccount(_) | State::Closed => None,
        State::CharacterScreen(s) => Some(&s.player),
        State::EnteringWorld(s) => Some(&s.player),
        State::InWorld(s) => Some(&s.w.player),
        State::Transferring(s) => Some(&s.w.player),
        State::AwaitTransferPlacement(s) => Some(&s.w.player),
        State::AwaitRedirectReady(s) => Some(&s.w.player),
        State::AwaitRelease(s) => Some(&s.player),
        State::LoggingOut(s) => Some(&s.w.player),
    }
}

/// The character in play, in any state that has one.
fn game_of(s: &State) -> Option<&InGame> {
    match s {
        State::ExpectAuthSession
        | State::AwaitAccount(_)
        | State::CharacterScreen(_)
        | State::Closed => None,
        State::EnteringWorld(s) => Some(&s.game),
        State::InWorld(s) => Some(&s.w.game),
        State::Transferring(s) => Some(&s.w.game),
        State::AwaitTransferPlacement(s) => Some(&s.w.game),
        State::AwaitRedirectReady(s) => Some(&s.w.game),
        State::AwaitRelease(s) => Some(&s.game),
        State::LoggingOut(s) => Some(&s.w.game),
    }
}

/// The character in play, in any state that has one, to change it.
fn game_mut_of(s: &mut State) -> Option<&mut InGame> {
    match s {
        State::ExpectAuthSession
        | State::AwaitAccount(_)
        | State::CharacterScreen(_)
        | State::Closed => None,
        State::EnteringWorld(s) => Some(&mut s.game),
        State::InWorld(s) => Some(&mut s.w.game),
        State::Transferring(s) => Some(&mut s.w.game),
        State::AwaitTransferPlacement(s) => Some(&mut s.w.game),
        State::AwaitRedirectReady(s) => Some(&mut s.w.game),
        State::AwaitRelease(s) => Some(&mut s.game),
        State::LoggingOut(s) => Some(&mut s.w.game),
    }
}
