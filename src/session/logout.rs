//! Shutdown: an in-world player is logged out politely (CMSG_LOGOUT_REQUEST, then
//! SMSG_LOGOUT_COMPLETE or the deadline), then the session closes.

use std::time::Duration;

use super::context::Ctx;
use super::in_world::{self, Happened};
use super::timers::Timer;
use super::{CloseReason, Packet, State, World, close};
use crate::wire::packets::LogoutRequest;

/// Shutting down: logout requested from the worldserver.
#[derive(Debug)]
pub(super) struct LoggingOut {
    pub(super) w: World,
}

impl LoggingOut {
    pub(super) fn begin(cx: &mut Ctx, now: Duration, w: World) -> State {
        cx.send_world_packet(w.link, &LogoutRequest);
        cx.timers.arm(Timer::Logout, now, cx.cfg.logout_timeout_ms);
        State::LoggingOut(Self { w })
    }

    /// The worldserver's packets still reach the client until the logout completes; no
    /// teleport or redirect starts now.
    pub(super) fn on_world_packet(mut self, cx: &mut Ctx, now: Duration, p: Packet) -> State {
        match in_world::on_world_packet(cx, now, &mut self.w, p) {
            Happened::LoggedOut => close(State::LoggingOut(self), cx, CloseReason::Shutdown),
            Happened::Stay | Happened::NewWorld(_) | Happened::Redirected => {
                State::LoggingOut(self)
            }
        }
    }
}
