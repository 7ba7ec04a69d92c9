//! The world loop: client packets handled in arrival order once due, by whatever state the
//! player is in; chat commands and far teleports.

use tokio::time::Instant;

use super::{CharStage, Conn, Redirect, ms};
use crate::peers::worldserver::packets::{self, TEXT_EMOTE_READY};
use crate::peers::worldserver::{Presence, WorldEventKind};
use crate::wire::packets::{MapPosition, NewWorld, TransferPending};
use crate::wire::{Opcode, Packet};

impl Conn {
    pub(super) fn run_world(&mut self, now: Instant) {
        while self.end.is_none() {
            match self.world_queue.front() {
                Some((due, _)) if *due <= now => {}
                _ => return,
            }
            if let Some((_, p)) = self.world_queue.pop_front() {
                self.handle_world(p, now);
            }
        }
    }

    fn handle_world(&mut self, p: Packet, now: Instant) {
        match p.opcode {
            Opcode::CMSG_PLAYER_LOGIN => return self.on_player_login(&p, now),
            Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT => return self.on_prepare(&p, now),
            _ => {}
        }
        match self.ch {
            CharStage::InWorld { guid } => self.in_world(guid, p, now),
            CharStage::AwaitWorldportAck { guid, .. } => {
                if p.opcode == Opcode::MSG_MOVE_WORLDPORT_ACK {
                    self.log(guid, &p);
                    self.arrive(now, false);
                } else if is_logged_in_opcode(p.opcode) {
                    self.event(Some(guid), WorldEventKind::Dropped { opcode: p.opcode });
                }
            }
            CharStage::Loading { guid, .. } => {
                if is_logged_in_opcode(p.opcode) {
                    self.event(Some(guid), WorldEventKind::Dropped { opcode: p.opcode });
                }
            }
            // Character-screen opcodes: create, delete and rename come through here in
            // cluster mode (the characters service lists them).
            CharStage::None => self.at_character_screen(&p),
        }
    }

    pub(super) fn log(&mut self, guid: u64, p: &Packet) {
        let ws = self.ws.clone();
        if let Some(mut w) = self.live(&ws) {
            w.log_received(self.id, guid, p.opcode, &p.body);
        }
    }

    fn in_world(&mut self, guid: u64, p: Packet, now: Instant) {
        if self.echo == Some(p.opcode) {
            // The benchmark's hot path: no lock, no log.
            self.send(p.opcode, &p.body);
            return;
        }
        self.log(guid, &p);
        match p.opcode {
            Opcode::CMSG_MESSAGECHAT => {
                if let Some(dest) = packets::parse_tele(&p.body) {
                    self.teleport(guid, dest, now);
                }
            }
            Opcode::CMSG_LOGOUT_REQUEST => self.on_logout_request(now),
            Opcode::CMSG_LOGOUT_CANCEL if self.logout_at.is_some() => {
                self.logout_at = None;
                self.send(Opcode::SMSG_LOGOUT_CANCEL_ACK, &[]);
            }
            Opcode::CMSG_TEXT_EMOTE
                if packets::emote_id(&p.body) == Some(TEXT_EMOTE_READY)
                    && self.reassign.is_some()
                    && self.redirect == Redirect::None =>
            {
                self.reassign = None;
                self.start_save(now, true);
            }
            _ => {}
        }
    }

    fn teleport(&mut self, guid: u64, dest: MapPosition, now: Instant) {
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        let Some(row) = w.players.get_mut(&guid).filter(|r| r.conn == Some(self.id)) else {
            return;
        };
        row.presence = Presence::Limbo;
        if let Redirect::AwaitKick { at: Some(at), .. } = self.redirect {
            // The kick is a player event: its clock stops while the player is off the map.
            self.redirect = Redirect::AwaitKick {
                at: None,
                left: at.saturating_duration_since(now),
            };
        }
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.release_at = None;
        }
        w.event(
            Some(self.id),
            Some(guid),
            WorldEventKind::Teleporting { map: dest.map },
        );
        drop(w);
        self.send_packet(&TransferPending {
            map: dest.map,
            transport: None,
        });
        self.send_packet(&NewWorld(dest));
        self.ch = CharStage::AwaitWorldportAck {
            guid,
            dest,
            timeout_at: now + ms(self.timing.teleport_timeout_far_ms),
        };
        self.time_sync = None;
        self.health_tick = None;
        if self.reassign.is_some_and(|r| r.map != dest.map) {
            self.reassign = None;
        }
    }

    /// MSG_MOVE_WORLDPORT_ACK (or the far-teleport timeout): the destination map is created
    /// here, whoever owns it, and the player enters it.
    pub(super) fn arrive(&mut self, now: Instant, timed_out: bool) {
        let CharStage::AwaitWorldportAck { guid, dest, .. } = self.ch else {
            return;
        };
        if let Redirect::AwaitKick { at: None, left } = self.redirect {
            self.redirect = Redirect::AwaitKick {
                at: Some(now + left),
                left,
            };
        }
        let release_at = self.release_at();
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        let Some(row) = w.players.get_mut(&guid).filter(|r| r.conn == Some(self.id)) else {
            return;
        };
        row.presence = Presence::InWorld;
        row.at = dest;
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.release_at = release_at;
        }
        w.event(
            Some(self.id),
            Some(guid),
            WorldEventKind::Arrived {
                map: dest.map,
                timed_out,
            },
        );
        drop(w);
        self.ch = CharStage::InWorld { guid };
        self.send_map_entry(guid, dest, now);
    }
}

/// Opcodes the worldserver handles only with a player in world (STATUS_LOGGEDIN and the
/// like). The character-screen ones, the cluster's own and the worldport ack are not.
fn is_logged_in_opcode(opcode: Opcode) -> bool {
    !matches!(
        opcode,
        Opcode::CMSG_CHAR_CREATE
            | Opcode::CMSG_CHAR_ENUM
            | Opcode::CMSG_CHAR_DELETE
            | Opcode::CMSG_CHAR_RENAME
            | Opcode::CMSG_PLAYER_LOGIN
            | Opcode::CMSG_READY_FOR_ACCOUNT_DATA_TIMES
            | Opcode::CMSG_REALM_SPLIT
            | Opcode::MSG_MOVE_WORLDPORT_ACK
            | Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT
    )
}
