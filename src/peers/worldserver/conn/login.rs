//! Entering and leaving the world: PLAYER_LOGIN (a load or a re-attach), the login sequence,
//! and logout.

use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::{AuthStage, CharStage, Conn, LoadOutcome, ms};
use crate::peers::worldserver::packets;
use crate::peers::worldserver::world::PlayerRow;
use crate::peers::worldserver::{KickReason, Presence, WorldEventKind};
use crate::wire::packets::{
    CharacterLoginFailed, LoginFailure, LogoutResponse, MapPosition, PlayerLogin, TimeSyncReq,
    WirePacket,
};
use crate::wire::{Opcode, Packet};

impl Conn {
    pub(super) fn on_player_login(&mut self, p: &Packet, now: Instant) {
        // A body too short for a guid is skipped, as the world loop skips a packet whose
        // handler runs off its end.
        let Ok(PlayerLogin { guid }) = PlayerLogin::decode(&p.body) else {
            return;
        };
        let AuthStage::Authed { account } = &self.auth else {
            return;
        };
        let account = account.clone();
        if self.ch != CharStage::None {
            // "Player tries to login again": kicked.
            return self.kick(KickReason::SecondLogin);
        }
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        w.log_received(self.id, guid, p.opcode, &p.body);
        if w.players
            .get(&guid)
            .is_some_and(|r| r.presence == Presence::Lingering && r.account != account)
        {
            // Offline session of this character under another account.
            let code = LoginFailure::DUPLICATE_CHARACTER;
            w.event(
                Some(self.id),
                Some(guid),
                WorldEventKind::LoginFailed { code: code.0 },
            );
            drop(w);
            return self.send_packet(&CharacterLoginFailed { reason: code });
        }
        if let Some(offline) = w.offline.get(&account).copied() {
            if offline == guid {
                let generation = w.generation();
                let Some(row) = w.players.get_mut(&guid) else {
                    return;
                };
                row.presence = Presence::InWorld;
                row.conn = Some(self.id);
                row.generation = generation;
                let at = row.at;
                w.offline.remove(&account);
                if let Some(s) = w.sessions.get_mut(&self.id) {
                    s.guid = Some(guid);
                }
                w.event(Some(self.id), Some(guid), WorldEventKind::Reattached);
                drop(w);
                self.ch = CharStage::InWorld { guid };
                self.send_login(guid, at, now);
                return;
            }
            // Another character of the account was lingering: that offline session goes.
            w.remove_player(offline, true);
            w.event(None, Some(offline), WorldEventKind::Removed { saved: true });
        }
        let busy = w.players.contains_key(&guid);
        let known = w.store.character(guid);
        let outcome = match &known {
            _ if busy => LoadOutcome::Busy,
            Some(c) if c.loads => LoadOutcome::Loads,
            _ => LoadOutcome::Fails,
        };
        if !busy && known.is_some() {
            let generation = w.generation();
            let at = w.saved_at(guid);
            w.players.insert(
                guid,
                PlayerRow {
                    presence: Presence::Loading,
                    conn: Some(self.id),
                    account,
                    at,
                    generation,
                },
            );
            if let Some(s) = w.sessions.get_mut(&self.id) {
                s.guid = Some(guid);
            }
        }
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.loading = true;
        }
        w.event(Some(self.id), Some(guid), WorldEventKind::Loading);
        drop(w);
        self.ch = CharStage::Loading {
            guid,
            until: now + ms(self.timing.load_ms) + self.world_update(),
            outcome,
        };
    }

    pub(super) fn finish_load(&mut self, now: Instant) {
        let CharStage::Loading { guid, outcome, .. } = self.ch else {
            return;
        };
        match outcome {
            LoadOutcome::Fails => return self.kick(KickReason::LoadFailed),
            LoadOutcome::Busy => return self.kick(KickReason::AlreadyOnline),
            LoadOutcome::Loads => {}
        }
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.loading = false;
        }
        let Some(row) = w.players.get_mut(&guid).filter(|r| r.conn == Some(self.id)) else {
            return;
        };
        row.presence = Presence::InWorld;
        let at = row.at;
        w.event(Some(self.id), Some(guid), WorldEventKind::InWorld);
        drop(w);
        self.ch = CharStage::InWorld { guid };
        self.send_login(guid, at, now);
    }

    /// The whole login sequence (PLAYER_LOGIN or re-attach).
    fn send_login(&mut self, guid: u64, at: MapPosition, now: Instant) {
        let motd = format!("Welcome to {}.", self.ws.inner.id);
        self.send_all(packets::login_prelude(at, self.unix_time(), &motd));
        self.send_map_entry(guid, at, now);
    }

    /// The map part: pre-map set, self-create, TIME_SYNC_REQ 0 (in world), world states.
    pub(super) fn send_map_entry(&mut self, guid: u64, at: MapPosition, now: Instant) {
        self.send_all(packets::map_entry(
            guid,
            at,
            self.unix_time(),
            self.game_ms(),
        ));
        self.send_packet(&TimeSyncReq { counter: 0 });
        self.time_sync = Some((now + ms(self.timing.time_sync_first_ms), 1));
        if self.timing.health_tick_ms > 0 {
            self.health_tick = Some((now + ms(self.timing.health_tick_ms), 0));
        }
        self.send_packet(&packets::init_world_states(at));
    }

    pub(super) fn on_logout_request(&mut self, now: Instant) {
        if self.logout_at.is_some() {
            return;
        }
        let instant = !self.ws.inner.knobs.slow_logout.load(Ordering::Relaxed);
        self.send_packet(&LogoutResponse { result: 0, instant });
        if instant {
            self.complete_logout();
        } else {
            self.logout_at = Some(now + ms(self.timing.logout_delay_ms));
        }
    }

    pub(super) fn complete_logout(&mut self) {
        self.logout_at = None;
        let Some(guid) = self.ch.guid() else {
            return;
        };
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        if w.players
            .get(&guid)
            .is_some_and(|r| r.conn == Some(self.id))
        {
            w.remove_player(guid, true);
        }
        w.event(Some(self.id), Some(guid), WorldEventKind::LoggedOut);
        drop(w);
        self.send(Opcode::SMSG_LOGOUT_COMPLETE, &[]);
        self.leave_world();
    }
}
