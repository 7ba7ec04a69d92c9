//! A lost worldserver link in world (closed, broken, or silent): the player goes back to the
//! same worldserver (re-attach) until its linger has passed, and only then anywhere that
//! serves the map, with bounded, jittered backoff. The attempts themselves are
//! [`Entering`]'s, with [`super::entering::EnterKind::Recovery`].

use std::time::Duration;

use super::context::Ctx;
use super::entering::Entering;
use super::held::HeldQueue;
use super::in_world::{InWorld, Transferring};
use super::timers::Timer;
use super::{Canary, CloseReason, InGame, LinkId, Player, SessionEvent, State, World, close};
use crate::cluster::WorldserverRef;
use crate::wire::packets::{NewWorld, SystemMessage};

/// The link to the player's worldserver was lost (the caller dropped it).
pub(super) fn world_lost(
    s: State,
    cx: &mut Ctx,
    now: Duration,
    from: WorldserverRef,
    detail: String,
) -> State {
    match s {
        State::InWorld(InWorld { w }) => {
            let held = HeldQueue::client(&cx.cfg);
            start(cx, now, (w.player, w.game), from, detail, held, true)
        }
        State::Transferring(Transferring { w, .. }) => {
            let held = HeldQueue::client(&cx.cfg);
            start(cx, now, (w.player, w.game), from, detail, held, false)
        }
        State::AwaitTransferPlacement(m) => {
            let (w, held) = m.into_parts();
            start(
                cx,
                now,
                (w.player, w.game),
                from,
                detail,
                held.client,
                false,
            )
        }
        State::AwaitRedirectReady(m) => {
            // A move the worldserver asked for (drain, layer switch, redirect) shows its
            // loading screen only after READY: until then the client is still in world.
            let showing_world = m.client_in_world();
            let (w, held) = m.into_parts();
            start(
                cx,
                now,
                (w.player, w.game),
                from,
                detail,
                held.client,
                showing_world,
            )
        }
        // Logging out (or anything else holding the link): the session cannot go on.
        s => {
            let reason = CloseReason::WorldLost {
                worldserver: from.id,
                detail,
            };
            close(s, cx, reason)
        }
    }
}

/// Starts a recovery. What the lost worldserver said while the gateway held it belongs to a
/// world the player will not see again; the client's held packets go to the next one.
/// `showing_world`: the client is in world (not on a loading screen already), so it gets a
/// loading screen while the gateway reconnects.
pub(super) fn start(
    cx: &mut Ctx,
    now: Duration,
    w: (Player, InGame),
    from: WorldserverRef,
    detail: String,
    held: HeldQueue,
    showing_world: bool,
) -> State {
    if cx.canary(Canary::ReuseDeadLink) {
        // Keeps writing to a connection that no longer exists.
        let (player, game) = w;
        let link = LinkId(u64::MAX);
        return State::InWorld(InWorld {
            w: World { player, game, link },
        });
    }
    cx.timers.disarm_all(&[
        Timer::Placement,
        Timer::RedirectReady,
        Timer::RedirectRelease,
    ]);
    cx.event(SessionEvent::RecoveryStarted {
        from: from.id.clone(),
        detail,
    });
    cx.send_client(&SystemMessage {
        text: "Lost the connection to the world server; reconnecting...".into(),
    });
    if showing_world {
        // A loading screen while the gateway reconnects.
        cx.send_client(&NewWorld(w.1.cached_position()));
    }
    Entering::recovery(cx, now, w, from, held)
}
