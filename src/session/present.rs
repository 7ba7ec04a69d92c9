//! The hook between the in-world states and the presentation core (`crate::present`): hands
//! it the packets it intercepts and carries out what it answers.

use std::time::Duration;

use super::context::Ctx;
use super::in_world;
use super::{InGame, LinkId, World};
use crate::present::{self, Action, ClusterEvent};
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

/// An event from the cluster's bus for this player, whatever it is doing now: what the
/// presenter renders goes to the client; what it asks of the worldserver goes there when the
/// player is on one (`link`), and is dropped during a move.
pub(super) fn cluster_event(
    cx: &mut Ctx,
    now: Duration,
    game: &mut InGame,
    link: Option<LinkId>,
    event: ClusterEvent,
) {
    let mut actions = Vec::new();
    game.presenter.handle_event(now, event, &mut actions);
    carry_out_on(cx, link, actions);
}

fn carry_out(cx: &mut Ctx, w: &World, actions: Vec<Action>) {
    carry_out_on(cx, Some(w.link), actions);
}

fn carry_out_on(cx: &mut Ctx, link: Option<LinkId>, actions: Vec<Action>) {
    for a in actions {
        match a {
            Action::ToClient(opcode, body) => {
                if in_world::for_client(opcode) {
                    cx.send_client_raw(opcode, body);
                }
            }
            Action::ToWorld(opcode, body) => {
                if let Some(link) = link {
                    cx.send_world(link, opcode, body);
                }
            }
            Action::Call(request) => match request {},
        }
    }
}
