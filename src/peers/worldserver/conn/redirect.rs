//! Redirects: PREPARE_FOR_REDIRECT, the save, READY_FOR_REDIRECT and the kick that follows,
//! and map reassignments that redirect players unasked.

use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::{CharStage, Conn, Reassign, Redirect, ms};
use crate::peers::worldserver::packets;
use crate::peers::worldserver::{Bug, WorldEventKind};
use crate::wire::packets::ReadyForRedirect;
use crate::wire::{Opcode, Packet};

impl Conn {
    /// When a pending redirect will remove the player (bounds a linger).
    pub(super) fn release_at(&self) -> Option<Instant> {
        match self.redirect {
            Redirect::Saving { until, .. } => {
                Some(until + ms(self.timing.kick_after_ready_ms) + self.world_update())
            }
            Redirect::AwaitKick { at, .. } => at,
            Redirect::None => None,
        }
    }

    pub(super) fn on_prepare(&mut self, p: &Packet, now: Instant) {
        if self.ws.inner.knobs.ignore_prepare.load(Ordering::Relaxed) {
            return self.event(self.ch.guid(), WorldEventKind::PrepareIgnored);
        }
        match self.ch {
            CharStage::InWorld { guid } | CharStage::AwaitWorldportAck { guid, .. } => {
                self.log(guid, p);
                if self.redirect == Redirect::None {
                    self.start_save(now, false);
                }
            }
            CharStage::None | CharStage::Loading { .. } => {
                self.send_packet(&ReadyForRedirect { status: 1 });
                self.event(
                    self.ch.guid(),
                    WorldEventKind::ReadyForRedirect {
                        status: 1,
                        unsolicited: false,
                    },
                );
            }
        }
    }

    pub(super) fn start_save(&mut self, now: Instant, unsolicited: bool) {
        let slow = self.bug(Bug::SlowSave);
        self.redirect = Redirect::Saving {
            until: now + ms(self.timing.save_ms) + self.world_update() + slow,
            unsolicited,
        };
        let release_at = self.release_at();
        let ws = self.ws.clone();
        if let Some(mut w) = self.live(&ws) {
            if let Some(s) = w.sessions.get_mut(&self.id) {
                s.release_at = release_at;
            }
            w.event(Some(self.id), self.ch.guid(), WorldEventKind::Saving);
        }
    }

    /// The save is done: READY_FOR_REDIRECT 0, then the kick.
    pub(super) fn ready(&mut self, now: Instant) {
        let Redirect::Saving { unsolicited, .. } = self.redirect else {
            return;
        };
        let left =
            ms(self.timing.kick_after_ready_ms) + self.world_update() + self.bug(Bug::LateKick);
        let in_limbo = matches!(self.ch, CharStage::AwaitWorldportAck { .. });
        self.redirect = Redirect::AwaitKick {
            at: (!in_limbo).then_some(now + left),
            left,
        };
        let release_at = self.release_at();
        let guid = self.ch.guid();
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        if let Some(g) = guid
            && let Some(row) = w.players.get(&g).filter(|r| r.conn == Some(self.id))
        {
            let at = row.at;
            w.store.set(g, at);
        }
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.release_at = release_at;
        }
        w.event(
            Some(self.id),
            guid,
            WorldEventKind::ReadyForRedirect {
                status: 0,
                unsolicited,
            },
        );
        drop(w);
        self.send_packet(&ReadyForRedirect { status: 0 });
    }

    pub(super) fn on_reassign(&mut self, guid: u64, map: u32, now: Instant) {
        if self.ch != (CharStage::InWorld { guid }) || self.reassign.is_some() {
            return;
        }
        let on_map = {
            let ws = self.ws.clone();
            let Some(w) = self.live(&ws) else {
                return;
            };
            w.players.get(&guid).is_some_and(|r| r.at.map == map)
        };
        if !on_map {
            return;
        }
        let t = self.timing;
        self.send(
            Opcode::SMSG_MESSAGECHAT,
            &packets::system_message(&format!(
                "This map is moving to another server: you will be transferred in {} seconds. \
                 Type /ready to go now.",
                t.map_reassign_warning_ms / 1_000
            )),
        );
        self.event(
            Some(guid),
            WorldEventKind::ReassignWarning { map, second: false },
        );
        self.reassign = Some(Reassign {
            map,
            second_at: Some(now + ms(t.map_reassign_second_warning_ms)),
            redirect_at: now + ms(t.map_reassign_warning_ms),
        });
    }
}
