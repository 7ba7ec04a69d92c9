//! Moving a player in world to another worldserver: a map change to a map another
//! worldserver owns, a redirect the worldserver asks for, a drain, a layer switch. Every move
//! runs PREPARE_FOR_REDIRECT, READY_FOR_REDIRECT and the old worldserver's kick, then enters
//! the world on the next one; while it is decided, the client's packets and the current
//! worldserver's are held.

use std::time::Duration;

use super::context::Ctx;
use super::entering::{Entering, release_held};
use super::held::HeldQueue;
use super::in_world::{self, InWorld};
use super::timers::Timer;
use super::{
    Canary, CloseReason, InGame, LinkId, Opcode, Output, Packet, Player, RequestId, SeamError,
    SessionEvent, State, World, close, recovery,
};
use crate::cluster::{WorldserverId, WorldserverRef};
use crate::wire::packets::{NewWorld, PrepareForRedirect, ReadyForRedirect, WirePacket};

/// Where a move goes.
#[derive(Debug, Clone)]
pub(super) struct Move {
    /// The map the player will be on.
    pub(super) map: u32,
    /// The worldserver chosen before the old one let the player go, if any.
    pub(super) target: Option<WorldserverRef>,
    pub(super) started: Duration,
    /// The client is in world (no map change of its own): show it a loading screen at the
    /// cached position before the next worldserver's login.
    pub(super) loading_screen: bool,
}

/// What a move holds back: the client's packets (for the next worldserver) and the current
/// worldserver's (for the client, if the player stays).
#[derive(Debug)]
pub(super) struct Held {
    pub(super) client: HeldQueue,
    world: HeldQueue,
}

impl Held {
    pub(super) fn new(cx: &Ctx) -> Self {
        Self {
            client: HeldQueue::client(&cx.cfg),
            world: HeldQueue::world(&cx.cfg),
        }
    }
}

/// The worldport ack is held while the coordinator says who owns the destination map.
#[derive(Debug)]
pub(super) struct AwaitTransferPlacement {
    pub(super) w: World,
    map: u32,
    request: RequestId,
    ack: Packet,
    started: Duration,
    held: Held,
}

/// PREPARE_FOR_REDIRECT sent; waiting for READY_FOR_REDIRECT.
#[derive(Debug)]
pub(super) struct AwaitRedirectReady {
    pub(super) w: World,
    mv: Move,
    held: Held,
}

/// How the old worldserver lets the player go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    /// READY said it saved the player; its kick (closing the link) follows.
    Kick(LinkId),
    /// The gateway closed the link itself; the worldserver may keep the player for its
    /// linger, which the next login waits out.
    Linger,
}

/// READY received; waiting for the old worldserver to let the player go.
#[derive(Debug)]
pub(super) struct AwaitRelease {
    pub(super) player: Player,
    pub(super) game: InGame,
    mv: Move,
    from: WorldserverRef,
    release: Release,
    held: Held,
}

/// Starts moving an in-world player off its worldserver without a map change of its own
/// (drain, layer switch): PREPARE, then (on READY and the kick) a loading screen and a login
/// on `target`, or wherever the placement says.
pub(super) fn begin_move(
    cx: &mut Ctx,
    now: Duration,
    w: World,
    from: WorldserverId,
    reason: &'static str,
    target: Option<WorldserverRef>,
) -> State {
    let map = w.game.current_map();
    cx.send_world_packet(w.link, &PrepareForRedirect);
    cx.timers
        .arm(Timer::RedirectReady, now, cx.cfg.redirect_ready_timeout_ms);
    cx.event(SessionEvent::RedirectRequested { from, reason });
    let held = Held::new(cx);
    State::AwaitRedirectReady(AwaitRedirectReady {
        w,
        mv: Move {
            map,
            target,
            started: now,
            loading_screen: true,
        },
        held,
    })
}

/// Client packets while a move is under way: held for the next worldserver; pings answered
/// here.
fn on_client_packet(cx: &mut Ctx, held: &mut Held, p: Packet) -> bool {
    if p.opcode == Opcode::CMSG_PING {
        cx.pong(&p.body);
        return true;
    }
    held.client.push(p)
}

/// The player stays on its worldserver: the client's packets go to it and what it sent
/// meanwhile goes to the client, in order.
fn stay(cx: &mut Ctx, now: Duration, mut w: World, mut held: Held) -> State {
    release_held(cx, now, &mut w, &mut held.client);
    if held.world.overflowed() {
        held.world.reset();
        let Some(server) = cx.link_server(w.link) else {
            return State::InWorld(InWorld { w });
        };
        cx.drop_link(w.link);
        let detail = "held worldserver packets overflowed".into();
        return recovery::start(
            cx,
            now,
            (w.player, w.game),
            server,
            detail,
            held.client,
            true,
        );
    }
    let mut state = State::InWorld(InWorld { w });
    for p in held.world.take() {
        state = match state {
            State::InWorld(s) => s.on_world_packet(cx, now, p),
            State::Transferring(s) => s.on_world_packet(cx, now, p),
            other => other,
        };
    }
    state
}

impl AwaitTransferPlacement {
    /// The client acked SMSG_NEW_WORLD: ask who owns the destination map.
    pub(super) fn begin(cx: &mut Ctx, now: Duration, w: World, map: u32, ack: Packet) -> State {
        let request = cx.next_request();
        cx.push(Output::Place {
            request,
            guid: w.game.guid(),
            map: Some(map),
            exclude: Vec::new(),
            avoid: Vec::new(),
            prefer: None,
        });
        cx.timers
            .arm(Timer::Placement, now, cx.cfg.service_timeout_ms);
        let held = Held::new(cx);
        State::AwaitTransferPlacement(Self {
            w,
            map,
            request,
            ack,
            started: now,
            held,
        })
    }

    pub(super) fn on_client_packet(mut self, cx: &mut Ctx, _now: Duration, p: Packet) -> State {
        if on_client_packet(cx, &mut self.held, p) {
            return State::AwaitTransferPlacement(self);
        }
        close(
            State::AwaitTransferPlacement(self),
            cx,
            CloseReason::SwitchBufferOverflow,
        )
    }

    /// While the gateway decides whether the player leaves, the current worldserver's
    /// packets wait: the client must see one consistent world.
    pub(super) fn on_world_packet(mut self, _cx: &mut Ctx, p: Packet) -> State {
        let _ = self.held.world.push(p);
        State::AwaitTransferPlacement(self)
    }

    pub(super) fn on_placement(
        self,
        cx: &mut Ctx,
        now: Duration,
        request: RequestId,
        result: Result<Option<WorldserverRef>, SeamError>,
    ) -> State {
        if request != self.request {
            return State::AwaitTransferPlacement(self);
        }
        cx.timers.disarm(Timer::Placement);
        let current = cx.link_server(self.w.link);
        let (Ok(Some(target)), Some(current)) = (result, current) else {
            return self.stay(cx, now);
        };
        if target.id == current.id {
            return self.stay(cx, now);
        }
        // The old worldserver finishes the teleport (it creates the map locally), then saves
        // and releases the player.
        cx.send_world(self.w.link, self.ack.opcode, self.ack.body);
        cx.send_world_packet(self.w.link, &PrepareForRedirect);
        cx.event(SessionEvent::HandoffStarted {
            from: current.id,
            to: target.id.clone(),
            map: self.map,
        });
        cx.timers
            .arm(Timer::RedirectReady, now, cx.cfg.redirect_ready_timeout_ms);
        State::AwaitRedirectReady(AwaitRedirectReady {
            w: self.w,
            mv: Move {
                map: self.map,
                target: Some(target),
                started: self.started,
                loading_screen: false,
            },
            held: self.held,
        })
    }

    /// Nobody answered who owns the map: the current worldserver keeps the player and
    /// finishes the teleport.
    pub(super) fn placement_timed_out(self, cx: &mut Ctx, now: Duration) -> State {
        self.stay(cx, now)
    }

    /// Same owner, or nobody else can take the map: the current worldserver finishes the
    /// teleport itself.
    fn stay(self, cx: &mut Ctx, now: Duration) -> State {
        cx.send_world(self.w.link, self.ack.opcode, self.ack.body);
        stay(cx, now, self.w, self.held)
    }

    /// Its worldserver was lost: what the move held goes with the player into the recovery.
    pub(super) fn into_parts(self) -> (World, Held) {
        (self.w, self.held)
    }
}

impl AwaitRedirectReady {
    pub(super) fn on_client_packet(mut self, cx: &mut Ctx, _now: Duration, p: Packet) -> State {
        if p.opcode == Opcode::MSG_MOVE_WORLDPORT_ACK {
            // The end of a teleport that raced the move (see `on_teleport`): the old
            // worldserver kicks the player only once it has left limbo.
            cx.send_world(self.w.link, p.opcode, p.body);
            return State::AwaitRedirectReady(self);
        }
        if on_client_packet(cx, &mut self.held, p) {
            return State::AwaitRedirectReady(self);
        }
        close(
            State::AwaitRedirectReady(self),
            cx,
            CloseReason::SwitchBufferOverflow,
        )
    }

    pub(super) fn on_world_packet(mut self, cx: &mut Ctx, now: Duration, p: Packet) -> State {
        match p.opcode {
            Opcode::TC9_SMSG_READY_FOR_REDIRECT => {
                if cx.canary(Canary::LeakClusterOpcode) {
                    cx.send_client_raw(p.opcode, p.body.clone());
                }
                self.on_ready(cx, now, p)
            }
            Opcode::SMSG_TRANSFER_PENDING | Opcode::SMSG_NEW_WORLD => {
                self.on_teleport(cx, p);
                State::AwaitRedirectReady(self)
            }
            _ => {
                let _ = self.held.world.push(p);
                State::AwaitRedirectReady(self)
            }
        }
    }

    fn on_ready(self, cx: &mut Ctx, now: Duration, p: Packet) -> State {
        let status = ReadyForRedirect::decode(&p.body)
            .map(|r| r.status)
            .unwrap_or(1);
        cx.timers.disarm(Timer::RedirectReady);
        if status != 0 {
            return self.abandon(cx, now, format!("READY_FOR_REDIRECT status {status}"));
        }
        let Some(from) = cx.link_server(self.w.link) else {
            return State::AwaitRedirectReady(self);
        };
        let canary_close_early = cx.canary(Canary::CloseBeforeKick);
        let (w, mv, held) = (self.w, self.mv, self.held);
        let waiting = AwaitRelease::new(w, mv, from, held);
        if canary_close_early {
            return waiting.released(cx, now, true);
        }
        // Saved. The worldserver kicks the player about 100 ms later; closing the socket
        // before that would leave the player in world as an offline session (60 s linger)
        // while it logs in elsewhere. So the new worldserver is contacted only once the old
        // one has closed the link, or the release deadline passed.
        waiting.wait_for_kick(cx, now)
    }

    /// A teleport the player asked for reached the worldserver before the PREPARE of a move
    /// without a map change of its own (drain, layer switch): the worldserver holds the
    /// player in far-teleport limbo and will not kick it before the client acks the new
    /// world. So the teleport wins: the client gets what the worldserver said so far and the
    /// loading screen for the new map (its ack goes to the old worldserver), and the move
    /// continues to whoever serves the new map.
    fn on_teleport(&mut self, cx: &mut Ctx, p: Packet) {
        for held in self.held.world.take() {
            in_world::to_client(cx, held);
        }
        if p.opcode == Opcode::SMSG_NEW_WORLD
            && let Ok(nw) = NewWorld::decode(&p.body)
        {
            self.w.game.position = Some(nw.0);
            self.mv.map = nw.0.map;
            self.mv.target = None;
            self.mv.loading_screen = false;
        }
        cx.send_client_raw(p.opcode, p.body);
    }

    /// No READY in time. A map change cannot stay on a worldserver that does not own the
    /// map, and cannot log in on the owner while the old one may still hold the player in
    /// world: the gateway closes the old link itself and the login waits out the linger,
    /// behind the loading screen the client is already on. Any other move is abandoned.
    pub(super) fn ready_timed_out(self, cx: &mut Ctx, now: Duration) -> State {
        if self.mv.loading_screen {
            return self.abandon(cx, now, "READY_FOR_REDIRECT timed out".into());
        }
        let Some(from) = cx.link_server(self.w.link) else {
            return State::AwaitRedirectReady(self);
        };
        AwaitRelease::new(self.w, self.mv, from, self.held).give_up(cx, now)
    }

    /// The move is off; the player stays where it is.
    fn abandon(self, cx: &mut Ctx, now: Duration, detail: String) -> State {
        if let Some(on) = cx.link_server(self.w.link) {
            cx.event(SessionEvent::HandoffAbandoned { on: on.id, detail });
        }
        stay(cx, now, self.w, self.held)
    }

    /// Whether the client is still in world: a move without a map change of its own whose
    /// loading screen has not been shown yet.
    pub(super) fn client_in_world(&self) -> bool {
        self.mv.loading_screen
    }

    /// Its worldserver was lost: what the move held goes with the player into the recovery.
    pub(super) fn into_parts(self) -> (World, Held) {
        (self.w, self.held)
    }
}

impl AwaitRelease {
    fn new(w: World, mv: Move, from: WorldserverRef, held: Held) -> Self {
        Self {
            player: w.player,
            game: w.game,
            mv,
            from,
            release: Release::Kick(w.link),
            held,
        }
    }

    /// An unsolicited READY: the worldserver saved the player; wait for its kick, then any
    /// worldserver for the map but this one, behind a loading screen.
    pub(super) fn waiting_for_kick(
        cx: &mut Ctx,
        now: Duration,
        w: World,
        mv: Move,
        from: WorldserverRef,
    ) -> State {
        let held = Held::new(cx);
        Self::new(w, mv, from, held).wait_for_kick(cx, now)
    }

    fn wait_for_kick(self, cx: &mut Ctx, now: Duration) -> State {
        cx.timers.arm(
            Timer::RedirectRelease,
            now,
            cx.cfg.redirect_release_timeout_ms,
        );
        State::AwaitRelease(self)
    }

    /// The link still open to the worldserver being left, if any.
    pub(super) fn link(&self) -> Option<LinkId> {
        match self.release {
            Release::Kick(link) => Some(link),
            Release::Linger => None,
        }
    }

    pub(super) fn on_client_packet(mut self, cx: &mut Ctx, _now: Duration, p: Packet) -> State {
        if p.opcode == Opcode::MSG_MOVE_WORLDPORT_ACK {
            // The end of a teleport that raced the move: the old worldserver kicks the player
            // only once it has left limbo.
            if let Some(link) = self.link() {
                cx.send_world(link, p.opcode, p.body);
            }
            return State::AwaitRelease(self);
        }
        if on_client_packet(cx, &mut self.held, p) {
            return State::AwaitRelease(self);
        }
        close(
            State::AwaitRelease(self),
            cx,
            CloseReason::SwitchBufferOverflow,
        )
    }

    /// READY said the player is saved, but the kick is late.
    pub(super) fn kick_timed_out(self, cx: &mut Ctx, now: Duration) -> State {
        if self.link().is_none() {
            return State::AwaitRelease(self);
        }
        self.give_up(cx, now)
    }

    /// The old worldserver did not let the player go in time (no READY, or READY without
    /// the kick): the gateway closes the link itself, so the worldserver keeps the player at
    /// most for its linger, and the next login waits that out behind the loading screen.
    fn give_up(mut self, cx: &mut Ctx, now: Duration) -> State {
        if let Some(link) = self.link() {
            cx.drop_link(link);
        }
        self.release = Release::Linger;
        cx.timers.disarm(Timer::WorldSilence);
        let wait_ms = if cx.canary(Canary::SkipLinger) {
            0
        } else {
            cx.cfg.world_linger_ms
        };
        cx.event(SessionEvent::ReleaseForced {
            from: self.from.id.clone(),
            wait_ms,
        });
        cx.timers.arm(Timer::LingerWait, now, wait_ms);
        State::AwaitRelease(self)
    }

    /// The old worldserver released the player (`confirmed`: the kick after READY status 0),
    /// or the gateway gave up on it and waited out its linger: log in on the next one. Only
    /// a confirmed release goes straight to the target chosen before; otherwise the placement
    /// asks the gateway-wide ledger whether the old one may still hold the character.
    pub(super) fn released(mut self, cx: &mut Ctx, now: Duration, confirmed: bool) -> State {
        cx.timers.disarm(Timer::RedirectRelease);
        if let Some(link) = self.link().filter(|l| cx.has_link(*l)) {
            if confirmed {
                cx.release_link(link);
            } else {
                cx.drop_link(link);
            }
        }
        let target = self.mv.target.take().filter(|_| confirmed);
        let old_world = self.held.world.take();
        if cx.canary(Canary::ForwardOldWorld) {
            for p in old_world {
                cx.send_client_raw(p.opcode, p.body);
            }
        }
        let loading_screen = self.mv.loading_screen;
        let at = self.game.cached_position();
        let w = (self.player, self.game);
        let (map, started) = (self.mv.map, self.mv.started);
        if loading_screen {
            // Moved away without a map change of its own (the worldserver asked, it drains,
            // or a layer switch): a loading screen at the cached position while the player
            // logs in on the next worldserver.
            cx.send_client(&NewWorld(at));
        }
        Entering::handoff(
            cx,
            now,
            w,
            self.from,
            map,
            started,
            target,
            self.held.client,
        )
    }
}
