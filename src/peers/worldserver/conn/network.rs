//! The network thread's share of a connection: decoding what was read, the handshake, pings
//! and the idle timer. Everything else is queued for the world loop.

use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use tokio::time::Instant;

use super::{AuthStage, Conn, OVERSPEED_PINGS_MAX, ms};
use crate::peers::worldserver::{CloseReason, WORLD_QUEUE_MAX_PACKETS, WorldEventKind};
use crate::wire::auth::{AuthResponse, AuthResult, AuthSession};
use crate::wire::packets::{Ping, Pong, WirePacket};
use crate::wire::{Decoded, FrameError, Opcode, Packet};

impl Conn {
    /// Runs the world on what is due, and decodes and dispatches buffered packets, until the
    /// buffer runs dry or reading has to stop.
    pub(super) fn process(&mut self, now: Instant) {
        loop {
            self.run_world(now);
            if self.end.is_some()
                || self.hold_until_more
                || matches!(self.auth, AuthStage::AccountLookup { .. })
                || self.world_queue.len() >= WORLD_QUEUE_MAX_PACKETS
            {
                return;
            }
            match self.dec.decode() {
                Ok(Decoded::Packet(p)) => self.on_packet(p, now),
                Ok(Decoded::NeedMore(_)) => return,
                Err(e) => {
                    self.close(match e {
                        FrameError::ClientSize { size, .. } => CloseReason::BadSize(size),
                        FrameError::ClientOpcode { opcode, .. } => CloseReason::BadOpcode(opcode),
                        _ => CloseReason::BadFrame,
                    });
                    return;
                }
            }
        }
    }

    /// The network thread's share: handshake, ping and keep-alive at once; the rest queued
    /// for the world loop.
    fn on_packet(&mut self, p: Packet, now: Instant) {
        match p.opcode {
            Opcode::CMSG_PING => self.on_ping(&p.body, now),
            Opcode::CMSG_AUTH_SESSION => match self.auth {
                AuthStage::ExpectAuthSession => self.on_auth_session(p.body, now),
                _ => self.close(CloseReason::SecondAuthSession),
            },
            opcode if self.auth == AuthStage::ExpectAuthSession => {
                self.close(CloseReason::NotAuthenticated(opcode));
            }
            Opcode::CMSG_KEEP_ALIVE => {
                // Resets the idle timer only with a player, as AzerothCore does.
                if self.ch.has_player() {
                    self.idle_at = Some(now + ms(self.timing.idle_in_world_ms));
                }
            }
            opcode => {
                if opcode != Opcode::CMSG_WARDEN_DATA {
                    self.reset_idle(now);
                }
                let mut due = now + self.world_update();
                if let Some((last, _)) = self.world_queue.back() {
                    due = due.max(*last);
                }
                self.world_queue.push_back((due, p));
            }
        }
    }

    fn reset_idle(&mut self, now: Instant) {
        let idle_ms = if self.ch.has_player() {
            self.timing.idle_in_world_ms
        } else {
            self.timing.idle_char_screen_ms
        };
        self.idle_at = Some(now + ms(idle_ms));
    }

    fn on_ping(&mut self, body: &[u8], now: Instant) {
        let Ok(ping) = Ping::decode(body) else {
            return self.close(CloseReason::MalformedPing);
        };
        if let Some(last) = self.last_ping {
            if now.saturating_duration_since(last) < ms(self.timing.ping_min_interval_ms) {
                self.fast_pings += 1;
                if self.fast_pings > OVERSPEED_PINGS_MAX {
                    self.last_ping = Some(now);
                    return self.close(CloseReason::PingOverspeed);
                }
            } else {
                self.fast_pings = 0;
            }
        }
        self.last_ping = Some(now);
        if !matches!(self.auth, AuthStage::Authed { .. }) {
            return self.close(CloseReason::NotAuthenticated(Opcode::CMSG_PING));
        }
        self.send_packet(&Pong { seq: ping.seq });
    }

    fn on_auth_session(&mut self, body: Bytes, now: Instant) {
        let Ok(session) = AuthSession::decode(body) else {
            return self.close(CloseReason::MalformedAuthSession);
        };
        if session.addon_block.is_empty() {
            return self.close(CloseReason::EmptyAddonBlob);
        }
        let account = session.account.to_ascii_uppercase();
        self.event(
            None,
            WorldEventKind::LookupStarted {
                account: account.clone(),
            },
        );
        self.auth = AuthStage::AccountLookup {
            account,
            until: now + ms(self.timing.account_lookup_ms),
        };
    }

    pub(super) fn complete_lookup(&mut self, now: Instant) {
        let AuthStage::AccountLookup { account, .. } =
            std::mem::replace(&mut self.auth, AuthStage::ExpectAuthSession)
        else {
            return;
        };
        let refuse = self.ws.inner.knobs.refuse_logins.load(Ordering::Relaxed);
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        let refusal = if !w.accounts.contains(&account) {
            Some((AuthResult::UNKNOWN_ACCOUNT, CloseReason::UnknownAccount))
        } else if refuse {
            Some((AuthResult::REJECT, CloseReason::WorldClosed))
        } else {
            None
        };
        if let Some((code, reason)) = refusal {
            w.event(
                Some(self.id),
                None,
                WorldEventKind::AuthRefused { code: code.0 },
            );
            drop(w);
            let mut b = BytesMut::new();
            AuthResponse::Failed(code).encode(&mut b);
            self.send(Opcode::SMSG_AUTH_RESPONSE, &b);
            return self.close(reason);
        }
        let mut linger = None;
        if let Some(old) = w.online.get(&account).copied().filter(|c| *c != self.id) {
            if w.sessions.get(&old).is_some_and(|s| s.loading) {
                drop(w);
                return self.close(CloseReason::AccountBusyLoading);
            }
            // The older socket closes without a kick: its in-world player becomes the
            // account's offline session.
            linger = w.release_session_player(old, true, now, self.timing.linger_ms);
            w.kill(old);
            w.event(Some(old), None, WorldEventKind::TakenOver { by: self.id });
        }
        w.online.insert(account.clone(), self.id);
        if let Some(s) = w.sessions.get_mut(&self.id) {
            s.account = Some(account.clone());
        }
        w.event(
            Some(self.id),
            None,
            WorldEventKind::Authenticated {
                account: account.clone(),
            },
        );
        let held = self.dec.buffered();
        if held > 0 {
            w.event(
                Some(self.id),
                None,
                WorldEventKind::HeldUntilMoreBytes { bytes: held },
            );
        }
        drop(w);
        if let Some(t) = linger {
            self.ws.spawn_linger(t);
        }
        self.auth = AuthStage::Authed { account };
        self.hold_until_more = held > 0;
        self.reset_idle(now);
    }
}
