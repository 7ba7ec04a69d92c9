//! The hook between the in-world states and the presentation core (`crate::present`): hands
//! it the packets it intercepts, the bus's events and its services' answers, and carries out
//! what it answers.

use std::time::Duration;

use super::context::Ctx;
use super::in_world;
use super::{CharacterGuid, InGame, LinkId, World};
use crate::present::{Action, ClusterEvent, EventFate, Presenter, ServiceAnswer};
use crate::wire::Packet;

/// A client packet in world: `Some` when it goes on to the worldserver as it is.
pub(super) fn from_client(cx: &mut Ctx, now: Duration, w: &mut World, p: Packet) -> Option<Packet> {
    if !w.game.presenter.intercepts_client(p.opcode) {
        return Some(p);
    }
    let map = w.game.current_map();
    let worldserver = cx
        .server_of(w.link)
        .map(|s| s.id.0.as_str())
        .unwrap_or_default();
    w.game.presenter.placed(map, worldserver);
    let mut actions = Vec::new();
    w.game.presenter.handle_client(now, p, &mut actions);
    carry_out(cx, now, &mut w.game.presenter, Some(w.link), actions);
    None
}

/// A worldserver packet in world: `Some` when it goes on to the client as it is.
pub(super) fn from_world(cx: &mut Ctx, now: Duration, w: &mut World, p: Packet) -> Option<Packet> {
    from_world_for(cx, now, &mut w.game, Some(w.link), p)
}

/// A worldserver packet for a character in play (in world, or loading into it on `link`):
/// `Some` when it goes on to the client as it is.
pub(super) fn from_world_for(
    cx: &mut Ctx,
    now: Duration,
    game: &mut InGame,
    link: Option<LinkId>,
    p: Packet,
) -> Option<Packet> {
    if !game.presenter.intercepts_world(p.opcode) {
        return Some(p);
    }
    let mut actions = Vec::new();
    game.presenter.handle_world(now, p, &mut actions);
    carry_out(cx, now, &mut game.presenter, link, actions);
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
) -> EventFate {
    let mut actions = Vec::new();
    let fate = game.presenter.handle_event(now, &event, &mut actions);
    carry_out(cx, now, &mut game.presenter, link, actions);
    fate
}

/// The character entered the world at its login, on `link`.
pub(super) fn entered_world(cx: &mut Ctx, now: Duration, game: &mut InGame, link: LinkId) {
    let mut actions = Vec::new();
    game.presenter.entered_world(&mut actions);
    carry_out(cx, now, &mut game.presenter, Some(link), actions);
}

/// The character is on another worldserver now, on `link` (a handoff, a layer switch, a
/// recovery).
pub(super) fn moved(cx: &mut Ctx, now: Duration, game: &mut InGame, link: LinkId) {
    #[cfg(feature = "canaries")]
    if cx.canary(super::Canary::StaleStateAfterMove) {
        game.presenter.stop_reading_state();
    }
    let mut actions = Vec::new();
    game.presenter.moved(&mut actions);
    carry_out(cx, now, &mut game.presenter, Some(link), actions);
}

/// A service answered one of the presenter's calls.
pub(super) fn service_answer(
    cx: &mut Ctx,
    now: Duration,
    game: &mut InGame,
    link: Option<LinkId>,
    answer: ServiceAnswer,
) {
    let mut actions = Vec::new();
    game.presenter
        .handle_service_answer(now, answer, &mut actions);
    carry_out(cx, now, &mut game.presenter, link, actions);
}

/// Carries out the presenter's actions in order. A call that cannot be made (too many
/// pending) is answered as failed at once; what the presenter makes of that is carried out too,
/// but a call it asks for then is refused rather than tried again (no loop).
fn carry_out(
    cx: &mut Ctx,
    now: Duration,
    presenter: &mut Presenter,
    link: Option<LinkId>,
    actions: Vec<Action>,
) {
    let guid = CharacterGuid(presenter.guid());
    let mut refused = Vec::new();
    for a in actions {
        if let Some(failed) = act(cx, link, guid, a, true) {
            refused.push(failed);
        }
    }
    for failed in refused {
        let mut more = Vec::new();
        presenter.handle_service_answer(now, failed, &mut more);
        for a in more {
            let _ = act(cx, link, guid, a, false);
        }
    }
}

/// One action; `Some` is a call refused (its failed answer).
fn act(
    cx: &mut Ctx,
    link: Option<LinkId>,
    guid: CharacterGuid,
    a: Action,
    may_call: bool,
) -> Option<ServiceAnswer> {
    match a {
        Action::ToClient(opcode, body) => {
            if in_world::for_client(opcode) {
                cx.send_client_raw(opcode, body);
            }
            None
        }
        Action::ToWorld(opcode, body) => {
            if let Some(link) = link {
                cx.send_world(link, opcode, body);
            }
            None
        }
        Action::Publish(update) => {
            cx.push(super::Output::Announce(
                super::Announcement::CharacterUpdated(update),
            ));
            None
        }
        Action::Channel { name, joined } => {
            cx.push(super::Output::Announce(
                super::Announcement::ChannelMembership {
                    guid,
                    channel: name,
                    joined,
                },
            ));
            None
        }
        Action::Call(request) if may_call => cx.call_service(request).err().map(|failed| *failed),
        // What a presenter makes of a failed call never asks for another: none does.
        Action::Call(_) => None,
    }
}
