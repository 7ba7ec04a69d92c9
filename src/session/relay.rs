//! The in-place relay: what a player in world sends and receives, read where the driver read
//! it. Whole packets that only pass through keep their bytes where they lie: the header is
//! re-framed in place (client headers decrypt to exactly the worldserver's plain header; a
//! worldserver's header is encrypted for the client in place, at the same length) and the
//! session asks the driver to write runs of the lent buffer ([`Output::ClientRun`],
//! [`Output::WorldRun`]). A packet the session must handle (the presenter's, a map change, a
//! logout, ...) is copied out and goes the way [`Session::handle_client_bytes`] takes it, in
//! order with the runs around it. So both ways put the same bytes on every connection, which
//! `lending_reads_and_copying_them_are_the_same_session` in `tests/session_core.rs` checks.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;

use super::in_world::{for_client, track_movement};
use super::{CloseReason, LinkId, Opcode, Packet, Session, State, Timer, close};
use crate::wire::InPlace;

impl Session {
    /// Bytes arrived from the client, in a buffer the driver lends (it may rewrite headers in
    /// it). What passes through is asked for as [`Output::WorldRun`]s of `data`: carry out
    /// every output before lending the buffer again. Takes all of `data`; a packet it ends
    /// in the middle of is kept to be finished by the next bytes.
    ///
    /// [`Output::WorldRun`]: super::Output::WorldRun
    pub fn relay_client_bytes(&mut self, now: Duration, data: &mut [u8]) {
        let mut at = 0;
        while at < data.len() {
            let State::InWorld(w) = &self.state else {
                self.handle_client_bytes(now, &data[at..]);
                break;
            };
            let link = w.w.link;
            if !self.cx.client_in.is_idle() {
                // A packet begun in an earlier read: finish it through the decoder.
                let take = self.cx.client_in.wanted().min(data.len() - at);
                self.handle_client_bytes(now, &data[at..at + take]);
                at += take;
                continue;
            }
            match self.cx.client_in.next_in_place(&mut data[at..]) {
                Ok(Some(p)) => {
                    let range = at..at + p.wire_len();
                    at = range.end;
                    self.relay_client_packet(now, link, data, range, p);
                }
                Ok(None) => break,
                Err(e) => {
                    let reason = CloseReason::ClientProtocol(e.to_string());
                    self.dispatch(|s, cx| close(s, cx, reason));
                    break;
                }
            }
        }
        self.cx.client_in.shed();
    }

    /// One whole client packet at `range` of `data`, its header decrypted, in world on `link`.
    fn relay_client_packet(
        &mut self,
        now: Duration,
        link: LinkId,
        data: &mut [u8],
        range: Range<usize>,
        p: InPlace,
    ) {
        let body = range.start + p.header_len..range.end;
        let State::InWorld(w) = &mut self.state else {
            return;
        };
        // The auth session (refused in world) and the login (a write of its own) take the
        // long way, as do the presenter's packets.
        let passes = !matches!(
            p.opcode,
            Opcode::CMSG_AUTH_SESSION | Opcode::CMSG_PLAYER_LOGIN
        ) && !w.w.game.presenter.intercepts_client(p.opcode);
        if passes {
            track_movement(&mut w.w, p.opcode, &data[body.clone()]);
            if self
                .cx
                .relay_world(link, p.opcode, data, range, p.header_len)
            {
                self.cx.counters.client_packets_in += 1;
                return;
            }
        }
        let body = Bytes::copy_from_slice(&data[body]);
        self.on_client_packet(
            now,
            Packet {
                opcode: p.opcode,
                body,
            },
        );
    }

    /// Bytes arrived from a worldserver connection, in a buffer the driver lends (see
    /// [`Self::relay_client_bytes`]); what passes through is asked for as
    /// [`Output::ClientRun`]s of `data`.
    ///
    /// [`Output::ClientRun`]: super::Output::ClientRun
    pub fn relay_world_bytes(&mut self, now: Duration, link: LinkId, data: &mut [u8]) {
        let mut at = 0;
        while at < data.len() {
            let relays = matches!(&self.state, State::InWorld(w) if w.w.link == link);
            if !relays {
                self.handle_world_bytes(now, link, &data[at..]);
                break;
            }
            let Some(l) = self.cx.link_mut(link) else {
                break;
            };
            if !l.decoder.is_idle() {
                let take = l.decoder.wanted().min(data.len() - at);
                self.handle_world_bytes(now, link, &data[at..at + take]);
                at += take;
                continue;
            }
            match l.decoder.next_in_place(&mut data[at..]) {
                Ok(Some(p)) => {
                    let range = at..at + p.wire_len();
                    at = range.end;
                    self.relay_world_packet(now, link, data, range, p);
                }
                Ok(None) => break,
                Err(e) => {
                    self.on_world_lost(now, link, format!("framing: {e}"));
                    break;
                }
            }
        }
        if let Some(l) = self.cx.link_mut(link) {
            l.decoder.shed();
        }
    }

    /// One whole worldserver packet at `range` of `data`, on the link of the player in world.
    fn relay_world_packet(
        &mut self,
        now: Duration,
        link: LinkId,
        data: &mut [u8],
        range: Range<usize>,
        p: InPlace,
    ) {
        let State::InWorld(w) = &self.state else {
            return;
        };
        // What the in-world state reads itself (map changes, logout, redirects), what the
        // presenter takes, and what may not reach the client take the long way.
        let passes = !matches!(
            p.opcode,
            Opcode::SMSG_NEW_WORLD
                | Opcode::SMSG_LOGIN_VERIFY_WORLD
                | Opcode::SMSG_LOGOUT_COMPLETE
                | Opcode::TC9_SMSG_READY_FOR_REDIRECT
        ) && !w.w.game.presenter.intercepts_world(p.opcode)
            && for_client(p.opcode);
        if passes
            && self
                .cx
                .relay_client(p.opcode, data, range.clone(), p.header_len)
        {
            self.cx.counters.world_packets_in += 1;
            let silence_ms = self.cx.cfg.world_silence_timeout_ms;
            self.cx.timers.arm(Timer::WorldSilence, now, silence_ms);
            return;
        }
        let body = Bytes::copy_from_slice(&data[range.start + p.header_len..range.end]);
        self.on_world_packet(
            now,
            link,
            Packet {
                opcode: p.opcode,
                body,
            },
        );
    }
}
