//! In world: proxying both ways, the cached position, the worldserver's own map changes and
//! redirects, and logout. Also the one rule of what a worldserver may send to the client.

use std::time::Duration;

use super::character_screen::CharacterScreen;
use super::context::Ctx;
use super::moves::{AwaitRelease, AwaitTransferPlacement, Move};
use super::present;
use super::{Opcode, Output, Packet, SessionEvent, State, World};
use crate::wire::packets::{LoginVerifyWorld, NewWorld, Position, ReadyForRedirect, WirePacket};

/// Whether a worldserver packet may reach the client. The worldserver's side of the gateway
/// link (cluster-internal opcodes, its auth challenge and answer) never does; everything else
/// may. Every path from a worldserver to the client asks this.
pub(super) fn for_client(opcode: Opcode) -> bool {
    !(opcode.is_cluster_internal()
        || opcode == Opcode::SMSG_AUTH_CHALLENGE
        || opcode == Opcode::SMSG_AUTH_RESPONSE)
}

/// Forwards a worldserver packet to the client if [`for_client`] allows it.
pub(super) fn to_client(cx: &mut Ctx, p: Packet) {
    if for_client(p.opcode) {
        cx.send_client_raw(p.opcode, p.body);
    }
}

/// In world, proxying.
#[derive(Debug)]
pub(super) struct InWorld {
    pub(super) w: World,
}

/// SMSG_NEW_WORLD forwarded; waiting for the client's MSG_MOVE_WORLDPORT_ACK.
#[derive(Debug)]
pub(super) struct Transferring {
    pub(super) w: World,
    /// The destination map.
    pub(super) map: u32,
}

/// What a worldserver packet did to a player in world.
pub(super) enum Happened {
    /// Nothing that changes the state.
    Stay,
    /// SMSG_NEW_WORLD to this map (already forwarded).
    NewWorld(u32),
    /// SMSG_LOGOUT_COMPLETE (forwarded; the link released).
    LoggedOut,
    /// An unsolicited READY_FOR_REDIRECT status 0: the worldserver saved the player and its
    /// kick follows.
    Redirected,
}

/// What every in-world state does with a packet from its worldserver.
pub(super) fn on_world_packet(cx: &mut Ctx, now: Duration, w: &mut World, p: Packet) -> Happened {
    match p.opcode {
        Opcode::SMSG_NEW_WORLD => {
            let map = NewWorld::decode(&p.body).ok().map(|nw| {
                w.game.position = Some(nw.0);
                nw.0.map
            });
            cx.send_client_raw(p.opcode, p.body);
            map.map_or(Happened::Stay, Happened::NewWorld)
        }
        Opcode::SMSG_LOGIN_VERIFY_WORLD => {
            if let Ok(v) = LoginVerifyWorld::decode(&p.body) {
                w.game.position = Some(v.0);
            }
            cx.send_client_raw(p.opcode, p.body);
            Happened::Stay
        }
        Opcode::SMSG_LOGOUT_COMPLETE => {
            cx.send_client_raw(p.opcode, p.body);
            cx.release_link(w.link);
            cx.push(Output::Announce(w.game.logged_out(w.player.account.id)));
            cx.event(SessionEvent::LoggedOut);
            Happened::LoggedOut
        }
        Opcode::TC9_SMSG_READY_FOR_REDIRECT => {
            // Unsolicited: the registry moved the map away and the worldserver saved the
            // player; its kick follows. Status 1 changes nothing.
            let released = ReadyForRedirect::decode(&p.body).is_ok_and(|r| r.status == 0);
            if released {
                Happened::Redirected
            } else {
                Happened::Stay
            }
        }
        _ => match present::from_world(cx, now, w, p) {
            Some(p) => {
                to_client(cx, p);
                Happened::Stay
            }
            None => Happened::Stay,
        },
    }
}

impl InWorld {
    pub(super) fn on_client_packet(mut self, cx: &mut Ctx, now: Duration, p: Packet) -> State {
        track_movement(&mut self.w, p.opcode, &p.body);
        if let Some(p) = present::from_client(cx, now, &mut self.w, p) {
            cx.send_world(self.w.link, p.opcode, p.body);
        }
        State::InWorld(self)
    }

    pub(super) fn on_world_packet(mut self, cx: &mut Ctx, now: Duration, p: Packet) -> State {
        match on_world_packet(cx, now, &mut self.w, p) {
            Happened::Stay => State::InWorld(self),
            Happened::NewWorld(map) => State::Transferring(Transferring { w: self.w, map }),
            Happened::LoggedOut => CharacterScreen::after_logout(self.w.player),
            Happened::Redirected => self.redirected(cx, now),
        }
    }

    /// The worldserver asked for the player to be moved (it saved it; its kick follows):
    /// wait for the kick, then any worldserver for the map but this one, behind a loading
    /// screen.
    fn redirected(self, cx: &mut Ctx, now: Duration) -> State {
        let Some(from) = cx.link_server(self.w.link) else {
            return State::InWorld(self);
        };
        cx.event(SessionEvent::RedirectRequested {
            from: from.id.clone(),
            reason: "worldserver",
        });
        let mv = Move {
            map: self.w.game.current_map(),
            target: None,
            started: now,
            loading_screen: true,
        };
        AwaitRelease::waiting_for_kick(cx, now, self.w, mv, from)
    }
}

impl Transferring {
    pub(super) fn on_client_packet(mut self, cx: &mut Ctx, now: Duration, p: Packet) -> State {
        if p.opcode == Opcode::MSG_MOVE_WORLDPORT_ACK {
            return AwaitTransferPlacement::begin(cx, now, self.w, self.map, p);
        }
        if let Some(p) = present::from_client(cx, now, &mut self.w, p) {
            cx.send_world(self.w.link, p.opcode, p.body);
        }
        State::Transferring(self)
    }

    pub(super) fn on_world_packet(mut self, cx: &mut Ctx, now: Duration, p: Packet) -> State {
        match on_world_packet(cx, now, &mut self.w, p) {
            Happened::Stay => State::Transferring(self),
            Happened::NewWorld(map) => State::Transferring(Transferring { w: self.w, map }),
            Happened::LoggedOut => CharacterScreen::after_logout(self.w.player),
            // Only a player in world (not mid-teleport) is redirected this way.
            Happened::Redirected => State::Transferring(self),
        }
    }
}

/// Keeps the cached position current from the client's own movement packets.
pub(super) fn track_movement(w: &mut World, opcode: Opcode, body: &[u8]) {
    let movement = matches!(opcode, Opcode::MSG_MOVE_HEARTBEAT | Opcode::MSG_MOVE_STOP);
    let Some(pos) = w.game.position.as_mut() else {
        return;
    };
    if !movement {
        return;
    }
    let mut r = crate::wire::codec::Reader::new(body);
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
        pos.position = Position {
            x,
            y,
            z,
            orientation: o,
        };
    }
}
