//! Shutdown or eviction: an in-world player is logged out politely (CMSG_LOGOUT_REQUEST,
//! then SMSG_LOGOUT_COMPLETE or the deadline), then the session closes for that reason.

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
    /// Why the session closes once logged out.
    pub(super) reason: CloseReason,
}

impl LoggingOut {
    pub(super) fn begin(cx: &mut Ctx, now: Duration, w: World, reason: CloseReason) -> State {
        cx.send_world_packet(w.link, &LogoutRequest);
        cx.timers.arm(Timer::Logout, now, cx.cfg.logout_timeout_ms);
        State::LoggingOut(Self { w, reason })
    }

    /// The logout deadline passed: close anyway.
    pub(super) fn timed_out(self, cx: &mut Ctx) -> State {
        let reason = self.reason.clone();
        close(State::LoggingOut(self), cx, reason)
    }

    /// The worldserver's packets still reach the client until the logout completes; no
    /// teleport or redirect starts now.
    pub(super) fn on_world_packet(mut self, cx: &mut Ctx, now: Duration, p: Packet) -> State {
        match in_world::on_world_packet(cx, now, &mut self.w, p) {
            Happened::LoggedOut => {
                let reason = self.reason.clone();
                close(State::LoggingOut(self), cx, reason)
            }
            Happened::Stay | Happened::NewWorld(_) | Happened::Redirected => {
                State::LoggingOut(self)
            }
        }
    }
}
