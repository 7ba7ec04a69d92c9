//! Entering the world on a worldserver: placement, connect, the replayed auth session and
//! PLAYER_LOGIN, the login sequence, until the first SMSG_TIME_SYNC_REQ. The same flow serves
//! a login, the second half of a handoff and each attempt of a recovery; they differ in
//! [`EnterKind`], which decides what a failure leads to.

use std::time::Duration;

use bytes::Bytes;

use super::character_screen::{CharacterScreen, on_name_query};
use super::context::{Ctx, millis};
use super::held::HeldQueue;
use super::in_world::{self, InWorld};
use super::present;
use super::timers::Timer;
use super::{
    Canary, CloseReason, InGame, LinkId, Opcode, Output, Packet, Player, RequestId, SeamError,
    SessionEvent, State, World, close,
};
use crate::cluster::backoff::{Retry, RetryDecision};
use crate::cluster::{WorldserverId, WorldserverRef};
use crate::wire::auth::AuthResponse;
use crate::wire::packets::{
    CharacterLoginFailed, LoginFailure, LoginVerifyWorld, PlayerLogin, SystemMessage, WirePacket,
};

/// Why the player is entering the world.
#[derive(Debug, Clone)]
pub(super) enum EnterKind {
    /// The client sent PLAYER_LOGIN.
    Login,
    /// The old worldserver let the player go; it logs in on the next one.
    Handoff { from: WorldserverRef },
    /// The worldserver connection was lost in world: log back in, on the same worldserver
    /// until its linger has passed.
    Recovery {
        from: WorldserverRef,
        lost_at: Duration,
        retry: Retry,
    },
}

/// One connection attempt to a worldserver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attempt {
    link: LinkId,
    /// When PLAYER_LOGIN went out (what the worldserver itself took is measured from here).
    login_sent_at: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Waiting for the coordinator's answer.
    AwaitPlacement(RequestId),
    /// Waiting for the next attempt (`Timer::BackoffWait`).
    Backoff,
    Connecting(Attempt, WorldserverId),
    AwaitChallenge(Attempt, WorldserverId),
    /// PLAYER_LOGIN sent, nothing back yet.
    LoginSent(Attempt, WorldserverId, u32),
    /// The worldserver is sending the login sequence.
    Loading(Attempt, WorldserverId),
}

impl Step {
    fn attempt(&self) -> Option<(Attempt, &WorldserverId)> {
        match self {
            Step::AwaitPlacement(_) | Step::Backoff => None,
            Step::Connecting(a, w)
            | Step::AwaitChallenge(a, w)
            | Step::LoginSent(a, w, _)
            | Step::Loading(a, w) => Some((*a, w)),
        }
    }
}

/// Between a placement and the first SMSG_TIME_SYNC_REQ.
#[derive(Debug)]
pub(super) struct Entering {
    pub(super) player: Player,
    pub(super) game: InGame,
    kind: EnterKind,
    map: u32,
    started: Duration,
    step: Step,
    /// Worldservers that failed this login or move; later placements avoid them while
    /// another can take the player.
    avoid: Vec<WorldserverId>,
    /// Placement retries while no worldserver can take the player (login and handoff).
    placement_retry: Option<Retry>,
    /// Client packets held until the player is in world.
    held: HeldQueue,
}

impl Entering {
    /// A login: ask where the character goes.
    pub(super) fn login(cx: &mut Ctx, now: Duration, player: Player, game: InGame) -> State {
        let map = game.character.map;
        let held = HeldQueue::client(&cx.cfg);
        let mut e = Self::new(player, game, EnterKind::Login, map, now, held);
        let request = e.request_placement(cx, now, Vec::new());
        e.step = Step::AwaitPlacement(request);
        cx.timers
            .arm(Timer::WorldLogin, now, cx.cfg.world_login_timeout_ms);
        State::EnteringWorld(e)
    }

    /// The second half of a handoff: on `target` (chosen before the old worldserver let the
    /// player go) if the coordinator says it may still take the player (a drain may have begun
    /// meanwhile), else wherever the placement says, `from` only as the last resort.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn handoff(
        cx: &mut Ctx,
        now: Duration,
        w: (Player, InGame),
        from: WorldserverRef,
        map: u32,
        started: Duration,
        target: Option<WorldserverRef>,
        held: HeldQueue,
    ) -> State {
        cx.timers
            .arm(Timer::WorldLogin, now, cx.cfg.world_login_timeout_ms);
        // Whoever serves the map; the worldserver being left only if nobody else can (it
        // released the player cleanly, so taking it back is a login like any other).
        let avoid = vec![from.id.clone()];
        let mut e = Self::new(w.0, w.1, EnterKind::Handoff { from }, map, started, held);
        let prefer = target.map(|t| t.id);
        let request = e.request_placement_avoiding(cx, now, Vec::new(), avoid, prefer);
        e.step = Step::AwaitPlacement(request);
        State::EnteringWorld(e)
    }

    /// A recovery's first attempt: back to the worldserver that was lost.
    pub(super) fn recovery(
        cx: &mut Ctx,
        now: Duration,
        w: (Player, InGame),
        from: WorldserverRef,
        held: HeldQueue,
    ) -> State {
        let map = w.1.current_map();
        let retry = Retry::start(cx.cfg.recovery_backoff, now);
        cx.timers.arm_at(Timer::RecoveryDeadline, retry.deadline());
        let kind = EnterKind::Recovery {
            from: from.clone(),
            lost_at: now,
            retry,
        };
        let mut e = Self::new(w.0, w.1, kind, map, now, held);
        e.connect(cx, now, from);
        State::EnteringWorld(e)
    }

    fn new(
        player: Player,
        game: InGame,
        kind: EnterKind,
        map: u32,
        started: Duration,
        held: HeldQueue,
    ) -> Self {
        Self {
            player,
            game,
            kind,
            map,
            started,
            step: Step::Backoff,
            avoid: Vec::new(),
            placement_retry: None,
            held,
        }
    }

    /// The link of the attempt under way, if any.
    pub(super) fn link(&self) -> Option<LinkId> {
        self.step.attempt().map(|(a, _)| a.link)
    }

    // ----- inputs -----------------------------------------------------------------------

    pub(super) fn on_client_packet(mut self, cx: &mut Ctx, _now: Duration, p: Packet) -> State {
        let ready = matches!(self.step, Step::LoginSent(..) | Step::Loading(..));
        match p.opcode {
            Opcode::CMSG_NAME_QUERY => on_name_query(cx, &self.player, &p),
            // The client finished the loading screen the gateway showed it; the worldserver
            // it logs in to expects no ack.
            Opcode::MSG_MOVE_WORLDPORT_ACK => {}
            Opcode::CMSG_PING if ready => {
                if let Some(link) = self.link() {
                    cx.send_world(link, p.opcode, p.body);
                }
            }
            Opcode::CMSG_PING => cx.pong(&p.body),
            _ => {
                if !self.held.push(p) {
                    return close(
                        State::EnteringWorld(self),
                        cx,
                        CloseReason::SwitchBufferOverflow,
                    );
                }
            }
        }
        State::EnteringWorld(self)
    }

    /// The coordinator answered a placement.
    pub(super) fn on_placement(
        self,
        cx: &mut Ctx,
        now: Duration,
        request: RequestId,
        result: Result<Option<WorldserverRef>, SeamError>,
    ) -> State {
        if self.step != Step::AwaitPlacement(request) {
            return State::EnteringWorld(self);
        }
        cx.timers.disarm(Timer::Placement);
        match result {
            Ok(Some(server)) => {
                cx.event(SessionEvent::Placed {
                    worldserver: server.id.clone(),
                });
                let mut e = self;
                e.connect(cx, now, server);
                State::EnteringWorld(e)
            }
            Ok(None) => {
                let detail = "no worldserver serves the map".into();
                self.fail(cx, now, LoginFailure::NO_WORLD, detail)
            }
            Err(e) if e.retryable => self.wait_for_placement(cx, now, e.detail),
            Err(e) => self.fail(cx, now, LoginFailure::NO_WORLD, e.to_string()),
        }
    }

    /// The connection of the attempt opened, or failed.
    pub(super) fn on_connected(
        mut self,
        cx: &mut Ctx,
        now: Duration,
        link: LinkId,
        result: Result<(), String>,
    ) -> State {
        let Step::Connecting(a, target) = &self.step else {
            return State::EnteringWorld(self);
        };
        if a.link != link {
            return State::EnteringWorld(self);
        }
        match result {
            Ok(()) => {
                self.step = Step::AwaitChallenge(*a, target.clone());
                State::EnteringWorld(self)
            }
            Err(detail) => {
                cx.drop_link(link);
                self.fail(
                    cx,
                    now,
                    LoginFailure::NO_WORLD,
                    format!("connect: {detail}"),
                )
            }
        }
    }

    /// A packet on the attempt's link.
    pub(super) fn on_world_packet(mut self, cx: &mut Ctx, now: Duration, p: Packet) -> State {
        match self.step.clone() {
            Step::AwaitPlacement(_) | Step::Backoff | Step::Connecting(..) => {
                State::EnteringWorld(self)
            }
            Step::AwaitChallenge(a, target) => {
                if p.opcode != Opcode::SMSG_AUTH_CHALLENGE {
                    let server = cx.link_server(a.link);
                    cx.drop_link(a.link);
                    let detail = format!("{} before SMSG_AUTH_CHALLENGE", p.opcode);
                    return match server {
                        Some(server) => self.on_link_lost(cx, now, &server, detail),
                        None => State::EnteringWorld(self),
                    };
                }
                self.send_login(cx, now, a, target);
                State::EnteringWorld(self)
            }
            Step::LoginSent(a, target, _) | Step::Loading(a, target) => {
                cx.timers.disarm(Timer::LoginNudge);
                self.step = Step::Loading(a, target);
                self.on_loading_packet(cx, now, a, p)
            }
        }
    }

    /// The attempt's link was lost (closed, or it broke the protocol); the caller dropped it.
    pub(super) fn on_link_lost(
        self,
        cx: &mut Ctx,
        now: Duration,
        server: &WorldserverRef,
        detail: String,
    ) -> State {
        let detail = format!("{}: {detail}", server.id);
        self.fail(cx, now, LoginFailure::FAILED, detail)
    }

    // ----- timers -----------------------------------------------------------------------

    pub(super) fn placement_timed_out(self, cx: &mut Ctx, now: Duration) -> State {
        let detail = "placement timed out".into();
        self.fail(cx, now, LoginFailure::NO_WORLD, detail)
    }

    pub(super) fn handshake_timed_out(self, cx: &mut Ctx, now: Duration) -> State {
        if !matches!(self.step, Step::Connecting(..) | Step::AwaitChallenge(..)) {
            return State::EnteringWorld(self);
        }
        let detail = "worldserver handshake timed out".into();
        self.fail(cx, now, LoginFailure::NO_WORLD, detail)
    }

    pub(super) fn login_timed_out(self, cx: &mut Ctx, now: Duration) -> State {
        self.fail(cx, now, LoginFailure::FAILED, "login timed out".into())
    }

    /// PLAYER_LOGIN unanswered: a CMSG_KEEP_ALIVE makes a worldserver that pipelined the
    /// auth session and the login read the latter.
    pub(super) fn nudge(mut self, cx: &mut Ctx, now: Duration) -> State {
        let Step::LoginSent(a, target, nudges) = &self.step else {
            return State::EnteringWorld(self);
        };
        let (a, nudges) = (*a, nudges + 1);
        cx.send_world(a.link, Opcode::CMSG_KEEP_ALIVE, Bytes::new());
        if let Some(server) = cx.link_server(a.link) {
            cx.event(SessionEvent::LoginNudged {
                worldserver: server.id,
            });
        }
        self.step = Step::LoginSent(a, target.clone(), nudges);
        if nudges < cx.cfg.world_login_nudges_max {
            // Doubling: a worldserver whose account lookup is slow is not flooded.
            let after = cx
                .cfg
                .world_login_nudge_ms
                .saturating_mul(1 << nudges.min(16));
            cx.timers.arm(Timer::LoginNudge, now, after);
        }
        State::EnteringWorld(self)
    }

    /// The backoff wait is over: the next attempt.
    pub(super) fn backoff_over(mut self, cx: &mut Ctx, now: Duration) -> State {
        if self.step != Step::Backoff {
            return State::EnteringWorld(self);
        }
        let (exclude, avoid) = match &self.kind {
            EnterKind::Login => (Vec::new(), self.avoid.clone()),
            EnterKind::Handoff { from } => {
                let mut avoid = self.avoid.clone();
                if !avoid.contains(&from.id) {
                    avoid.push(from.id.clone());
                }
                (Vec::new(), avoid)
            }
            EnterKind::Recovery { from, lost_at, .. } => {
                let linger_passed =
                    now.saturating_sub(*lost_at) >= Duration::from_millis(cx.cfg.world_linger_ms);
                if !linger_passed && !cx.canary(Canary::SkipLinger) {
                    let from = from.clone();
                    self.connect(cx, now, from);
                    return State::EnteringWorld(self);
                }
                // Anywhere that serves the map, the lost worldserver last: the gateway-wide
                // ledger keeps the character off the others until the lost one can have let
                // it go.
                (Vec::new(), vec![from.id.clone()])
            }
        };
        let request = self.request_placement_avoiding(cx, now, exclude, avoid, None);
        self.step = Step::AwaitPlacement(request);
        State::EnteringWorld(self)
    }

    /// The recovery's overall deadline passed: an attempt still under way is the last.
    pub(super) fn recovery_deadline(self, cx: &mut Ctx, _now: Duration) -> State {
        let EnterKind::Recovery { from, .. } = &self.kind else {
            return State::EnteringWorld(self);
        };
        if self.step == Step::Backoff {
            // The policy never schedules an attempt past the deadline; the attempt it did
            // schedule ends the recovery if it fails.
            return State::EnteringWorld(self);
        }
        let reason = CloseReason::WorldLost {
            worldserver: from.id.clone(),
            detail: "recovery deadline passed".into(),
        };
        close(State::EnteringWorld(self), cx, reason)
    }

    // ----- the attempt ------------------------------------------------------------------

    fn request_placement(
        &mut self,
        cx: &mut Ctx,
        now: Duration,
        exclude: Vec<WorldserverId>,
    ) -> RequestId {
        self.request_placement_avoiding(cx, now, exclude, Vec::new(), None)
    }

    /// Asks the coordinator for a worldserver for the character on the map, preferring any
    /// but those in `avoid`, and `prefer` if it may still take the character, under the
    /// service deadline.
    fn request_placement_avoiding(
        &mut self,
        cx: &mut Ctx,
        now: Duration,
        exclude: Vec<WorldserverId>,
        avoid: Vec<WorldserverId>,
        prefer: Option<WorldserverId>,
    ) -> RequestId {
        let request = cx.next_request();
        cx.push(Output::Place {
            request,
            guid: self.game.guid(),
            map: Some(self.map),
            exclude,
            avoid,
            prefer,
        });
        cx.timers
            .arm(Timer::Placement, now, cx.cfg.service_timeout_ms);
        request
    }

    fn connect(&mut self, cx: &mut Ctx, now: Duration, server: WorldserverRef) {
        let target = server.id.clone();
        let link = cx.connect(server);
        let attempt = Attempt {
            link,
            login_sent_at: None,
        };
        self.step = Step::Connecting(attempt, target);
        cx.timers.arm(
            Timer::WorldHandshake,
            now,
            cx.cfg.world_handshake_timeout_ms,
        );
        // Every attempt has the whole login deadline, retries included.
        cx.timers
            .arm(Timer::WorldLogin, now, cx.cfg.world_login_timeout_ms);
    }

    /// The worldserver's challenge: the replayed auth session, then the login as a write of
    /// its own.
    fn send_login(&mut self, cx: &mut Ctx, now: Duration, a: Attempt, target: WorldserverId) {
        cx.timers.disarm(Timer::WorldHandshake);
        cx.send_world(
            a.link,
            Opcode::CMSG_AUTH_SESSION,
            self.player.auth.raw.clone(),
        );
        let guid = self.game.guid();
        cx.send_world_packet(a.link, &PlayerLogin { guid: guid.0 });
        cx.hold_on(a.link, guid);
        let a = Attempt {
            login_sent_at: Some(now),
            ..a
        };
        cx.timers
            .arm(Timer::LoginNudge, now, cx.cfg.world_login_nudge_ms);
        if let Some(server) = cx.link_server(a.link) {
            cx.event(SessionEvent::LoginSent {
                worldserver: server.id,
            });
        }
        self.step = Step::LoginSent(a, target, 0);
    }

    fn on_loading_packet(mut self, cx: &mut Ctx, now: Duration, a: Attempt, p: Packet) -> State {
        match p.opcode {
            Opcode::SMSG_AUTH_RESPONSE => {
                let code = AuthResponse::decode(&p.body);
                // Refused at the handshake: the worldserver never read PLAYER_LOGIN.
                if let Some((_, target)) = self.step.attempt() {
                    self.step = Step::AwaitChallenge(a, target.clone());
                }
                cx.refused_on(a.link);
                let detail = format!("worldserver refused the replayed auth: {code:?}");
                self.fail(cx, now, LoginFailure::NO_WORLD, detail)
            }
            Opcode::SMSG_CHARACTER_LOGIN_FAILED => {
                let code = CharacterLoginFailed::decode(&p.body)
                    .map(|f| f.reason)
                    .unwrap_or(LoginFailure::FAILED);
                cx.refused_on(a.link);
                self.fail(cx, now, code, "worldserver refused the login".into())
            }
            Opcode::SMSG_TIME_SYNC_REQ => {
                cx.send_client_raw(p.opcode, p.body);
                self.enter_world(cx, now, a)
            }
            Opcode::SMSG_LOGIN_VERIFY_WORLD => {
                if let Ok(v) = LoginVerifyWorld::decode(&p.body) {
                    self.game.position = Some(v.0);
                }
                cx.send_client_raw(p.opcode, p.body);
                State::EnteringWorld(self)
            }
            _ => {
                // The player's own create block comes while it loads: presentation reads it.
                if let Some(p) = present::from_world_for(cx, now, &mut self.game, Some(a.link), p) {
                    in_world::to_client(cx, p);
                }
                State::EnteringWorld(self)
            }
        }
    }

    /// The first SMSG_TIME_SYNC_REQ: in world.
    fn enter_world(mut self, cx: &mut Ctx, now: Duration, a: Attempt) -> State {
        cx.timers
            .disarm_all(&[Timer::WorldLogin, Timer::WorldHandshake]);
        self.game.map = Some(self.map);
        cx.timers
            .arm(Timer::WorldSilence, now, cx.cfg.world_silence_timeout_ms);
        let mut world = World {
            player: self.player,
            game: self.game,
            link: a.link,
        };
        let Some(server) = cx.link_server(a.link) else {
            return State::InWorld(InWorld { w: world });
        };
        let world_ms = millis(now.saturating_sub(a.login_sent_at.unwrap_or(now)));
        match self.kind {
            EnterKind::Login => {
                cx.event(SessionEvent::EnteredWorld {
                    worldserver: server.id,
                    took_ms: millis(now.saturating_sub(world.game.login_requested_at)),
                    world_ms,
                });
                let account = world.player.account.id;
                cx.push(Output::Announce(world.game.logged_in(account)));
                super::present::entered_world(cx, now, &mut world.game, world.link);
            }
            EnterKind::Handoff { from } => {
                cx.event(SessionEvent::HandoffCompleted {
                    from: from.id,
                    to: server.id,
                    took_ms: millis(now.saturating_sub(self.started)),
                    world_ms,
                });
                super::present::moved(cx, now, &mut world.game, world.link);
            }
            EnterKind::Recovery {
                from,
                lost_at,
                retry,
            } => {
                cx.timers
                    .disarm_all(&[Timer::BackoffWait, Timer::RecoveryDeadline]);
                cx.send_client(&SystemMessage {
                    text: "Reconnected to the world.".into(),
                });
                cx.event(SessionEvent::Recovered {
                    from: from.id,
                    to: server.id,
                    attempts: retry.attempts(),
                    took_ms: millis(now.saturating_sub(lost_at)),
                });
                super::present::moved(cx, now, &mut world.game, world.link);
            }
        }
        release_held(cx, now, &mut world, &mut self.held);
        State::InWorld(InWorld { w: world })
    }

    // ----- failure ----------------------------------------------------------------------

    /// The attempt failed. What follows depends on the kind: a handoff, or a login whose
    /// worldserver failed before it read PLAYER_LOGIN, tries another worldserver; a recovery
    /// retries with backoff; any other login failure goes to the client.
    fn fail(mut self, cx: &mut Ctx, now: Duration, code: LoginFailure, detail: String) -> State {
        // Before PLAYER_LOGIN was read the failed worldserver cannot hold the character, so
        // a login may go elsewhere at once.
        let before_login = matches!(self.step, Step::Connecting(..) | Step::AwaitChallenge(..));
        let failed = self.step.attempt().map(|(a, w)| (a.link, w.clone()));
        // Whatever happens next, this attempt is over.
        if let Some((link, _)) = &failed {
            cx.drop_link(*link);
        }
        cx.timers.disarm_all(&[
            Timer::Placement,
            Timer::WorldHandshake,
            Timer::LoginNudge,
            Timer::WorldLogin,
        ]);
        let login_elsewhere = matches!(self.kind, EnterKind::Login) && before_login;
        if matches!(self.kind, EnterKind::Handoff { .. }) || login_elsewhere {
            // A handoff: the old worldserver has let the player go and the new one failed.
            // A login: the worldserver failed before it read PLAYER_LOGIN. Either way another
            // worldserver (this one only if no other can), with backoff, until the
            // placement deadline.
            if let Some((_, failed)) = failed
                && !self.avoid.contains(&failed)
            {
                self.avoid.push(failed);
            }
            return self.wait_for_placement(cx, now, detail);
        }
        if matches!(self.kind, EnterKind::Recovery { .. }) {
            return self.retry_recovery(cx, now, detail);
        }
        if !cx.canary(Canary::SwallowLoginFailure) {
            cx.send_client(&CharacterLoginFailed { reason: code });
            cx.event(SessionEvent::LoginFailed { code, detail });
        }
        CharacterScreen::after_logout(self.player)
    }

    /// A recovery attempt failed: the next one after the backoff, or the end.
    fn retry_recovery(mut self, cx: &mut Ctx, now: Duration, detail: String) -> State {
        let EnterKind::Recovery { from, retry, .. } = &mut self.kind else {
            return State::EnteringWorld(self);
        };
        let decision = cx.rng.draw(|rng| retry.failed(now, rng));
        #[cfg(feature = "canaries")]
        let decision = match decision {
            RetryDecision::RetryAt(_) if cx.canary(Canary::UncappedBackoff) => {
                let wait = cx
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
                cx.timers.arm_at(Timer::BackoffWait, at);
                self.step = Step::Backoff;
                cx.event(SessionEvent::RecoveryAttemptFailed {
                    attempts,
                    detail,
                    retry_in_ms: millis(at.saturating_sub(now)),
                });
                State::EnteringWorld(self)
            }
            RetryDecision::GiveUp => {
                let attempts = retry.attempts();
                let reason = CloseReason::WorldLost {
                    worldserver: from.id.clone(),
                    detail: format!("recovery gave up after {attempts} attempts: {detail}"),
                };
                close(State::EnteringWorld(self), cx, reason)
            }
        }
    }

    /// Nobody can take the player now but someone may soon (every owner degraded or
    /// draining, the registry view stale): ask again with backoff until the placement
    /// deadline, then fail with NO_WORLD. A recovery uses its own retry instead.
    fn wait_for_placement(mut self, cx: &mut Ctx, now: Duration, detail: String) -> State {
        if matches!(self.kind, EnterKind::Recovery { .. }) {
            return self.fail(cx, now, LoginFailure::NO_WORLD, detail);
        }
        let policy = cx.cfg.placement_backoff;
        let retry = self
            .placement_retry
            .get_or_insert_with(|| Retry::start(policy, now));
        match cx.rng.draw(|rng| retry.failed(now, rng)) {
            RetryDecision::RetryAt(at) => {
                self.step = Step::Backoff;
                cx.timers.arm_at(Timer::BackoffWait, at);
                cx.event(SessionEvent::PlacementWaiting {
                    detail,
                    retry_in_ms: millis(at.saturating_sub(now)),
                });
                State::EnteringWorld(self)
            }
            RetryDecision::GiveUp => match &self.kind {
                EnterKind::Handoff { from } => {
                    // The old worldserver released the player and nobody took it in time.
                    let reason = CloseReason::WorldLost {
                        worldserver: from.id.clone(),
                        detail: format!("handoff found no worldserver in time: {detail}"),
                    };
                    close(State::EnteringWorld(self), cx, reason)
                }
                _ => {
                    // Out of placement time: this login is over (and is not another attempt
                    // to place elsewhere).
                    self.step = Step::Backoff;
                    self.fail(cx, now, LoginFailure::NO_WORLD, detail)
                }
            },
        }
    }
}

/// The client packets held while the player was on its way go on now, in order, as if they
/// had arrived in world: presentation takes what it intercepts (a whisper goes to the chat
/// service, not to a worldserver that cannot deliver it), the worldserver the rest.
pub(super) fn release_held(cx: &mut Ctx, now: Duration, w: &mut World, held: &mut HeldQueue) {
    let mut packets = held.take();
    if cx.canary(Canary::ReorderHeld) {
        while let Some(p) = packets.pop_back() {
            cx.send_world(w.link, p.opcode, p.body);
        }
    }
    while let Some(p) = packets.pop_front() {
        if let Some(p) = super::present::from_client(cx, now, w, p) {
            cx.send_world(w.link, p.opcode, p.body);
        }
    }
}
