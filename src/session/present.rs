//! The hook between the in-world states and the presentation core (`crate::present`): hands
//! it the packets it intercepts and carries out what it answers.

use std::time::Duration;

use super::World;
use super::context::Ctx;
use super::in_world;
use crate::present::{self, Action};
use crate::wire::Packet;

/// A client packet in world: `Some` when it goes on to the worldserver as it is.
pub(super) fn from_client(cx: &mut Ctx, now: Duration, w: &mut World, p: Packet) -> Option<Packet> {
    if !present::intercepts_client(p.opcode) {
        return Some(p);
    }
    let mut actions = Vec::new();
    w.game.presenter.handle_client(now, p, &mut actions);
    carry_out(cx, w, actions);
    None
}

/// A worldserver packet in world: `Some` when it goes on to the client as it is.
pub(super) fn from_world(cx: &mut Ctx, now: Duration, w: &mut World, p: Packet) -> Option<Packet> {
    if !present::intercepts_world(p.opcode) {
        return Some(p);
    }
    let mut actions = Vec::new();
    w.game.presenter.handle_world(now, p, &mut actions);
    carry_out(cx, w, actions);
    None
}

fn carry_out(cx: &mut Ctx, w: &World, actions: Vec<Action>) {
    for a in actions {
        match a {
            Action::ToClient(opcode, body) => {
                if in_world::for_client(opcode) {
                    cx.send_client_raw(opcode, body);
                }
            }
            Action::ToWorld(opcode, body) => cx.send_world(w.link, opcode, body),
            Action::Call(request) => match request {},
        }
    }
}
