//! What the connections of one fake share: which character is where, which account is
//! connected on which socket, offline sessions, and the logs. It is changed only under the
//! fake's one lock, by synchronous code, so an observer never sees half a transition.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use rand_core::Rng;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{
    Bug, Buggify, EVENT_LOG_MAX_EVENTS, FakeCharacterStore, PacketTap, Presence,
    RECEIVED_LOG_MAX_PACKETS, WorldEvent, WorldEventKind,
};
use crate::wire::Opcode;
use crate::wire::packets::MapPosition;

/// A connection's number on its fake, from 1.
pub(super) type ConnId = u64;

/// Asked of a connection from outside its task.
#[derive(Debug)]
pub(super) enum Command {
    /// Send this packet if `guid` is still the connection's player.
    Push {
        guid: u64,
        opcode: Opcode,
        body: Bytes,
    },
    /// The registry took `map` away; warn `guid` if it is still there.
    Reassign { guid: u64, map: u32 },
}

/// A character that is not absent. Absent characters have no row.
#[derive(Debug, Clone)]
pub(super) struct PlayerRow {
    /// Never [`Presence::Absent`].
    pub presence: Presence,
    /// The connection it belongs to; None while lingering.
    pub conn: Option<ConnId>,
    /// The account that logged it in (the offline session belongs to it).
    pub account: String,
    /// Where it is now; written to the store when it is saved.
    pub at: MapPosition,
    /// Changes whenever the row changes hands, so a stale linger timer does nothing.
    pub generation: u64,
}

/// One open connection.
#[derive(Debug)]
pub(super) struct SessionRow {
    /// When the connection was accepted (milliseconds since the fake was made).
    pub opened_ms: u64,
    /// The authenticated account.
    pub account: Option<String>,
    /// The character loading, in world or in limbo on this connection (when it has a row).
    pub guid: Option<u64>,
    /// A PLAYER_LOGIN is loading (a newer connection of the account is refused meanwhile).
    pub loading: bool,
    /// When a pending redirect kick removes the player; bounds how long it may linger.
    pub release_at: Option<Instant>,
    /// Closed from outside (crash, shutdown, newer login of the account): the connection must
    /// drop its socket and touch nothing any more.
    pub killed: bool,
    /// Wakes the connection when `killed` is set.
    pub kill: watch::Sender<bool>,
    /// Pushes and reassignments.
    pub commands: mpsc::Sender<Command>,
}

/// A lingering player to remove after `after`, unless its row changed hands meanwhile.
#[derive(Debug, Clone, Copy)]
pub(super) struct LingerTimer {
    pub guid: u64,
    pub generation: u64,
    pub after: Duration,
}

/// The shared state.
pub(super) struct World {
    pub start: Instant,
    /// Upper-cased.
    pub accounts: BTreeSet<String>,
    pub store: FakeCharacterStore,
    /// Crashed or shut down.
    pub down: bool,
    pub players: BTreeMap<u64, PlayerRow>,
    pub sessions: BTreeMap<ConnId, SessionRow>,
    /// Authenticated account -> its connection.
    pub online: BTreeMap<String, ConnId>,
    /// Account -> its lingering character (one offline session per account).
    pub offline: BTreeMap<String, u64>,
    pub received: BTreeMap<u64, VecDeque<(Opcode, Bytes)>>,
    /// Sees every logged client packet as it is handled (simulator checkers).
    pub tap: Option<PacketTap>,
    pub events: VecDeque<WorldEvent>,
    pub rng: ChaCha8Rng,
    /// Seeded misbehaviour, with its own draws.
    pub bugs: Option<(Buggify, ChaCha8Rng)>,
    pub next_conn: ConnId,
    pub next_generation: u64,
}

impl World {
    /// Milliseconds since the fake was made: the clock of its events.
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether `bug` strikes now (drawn from the buggify seed), and for how long; logged as
    /// an event of `conn`. `None` when buggify is off or the draw spares it.
    pub fn bug(&mut self, conn: Option<ConnId>, bug: Bug) -> Option<Duration> {
        let (b, rng) = self.bugs.as_mut()?;
        let cap_ms = match bug {
            Bug::SlowSave => b.save_delay_max_ms,
            Bug::LateKick => b.kick_delay_max_ms,
            Bug::StallRead => b.read_stall_max_ms,
            Bug::RefuseConnect => u64::from(b.refuse_connect),
        };
        if cap_ms == 0 || rng.next_u32() % 10_000 >= b.chance_per_10k {
            return None;
        }
        let delay_ms = match bug {
            Bug::RefuseConnect => 0,
            _ => 1 + rng.next_u64() % cap_ms,
        };
        self.event(
            conn,
            None,
            WorldEventKind::Buggified {
                what: bug.name(),
                delay_ms,
            },
        );
        Some(Duration::from_millis(delay_ms))
    }

    /// Appends to the bounded event log.
    pub fn event(&mut self, conn: Option<ConnId>, guid: Option<u64>, kind: WorldEventKind) {
        let at_ms = self.elapsed_ms();
        let mut what = String::new();
        if let Some(c) = conn {
            what.push_str(&format!("conn {c} "));
        }
        if let Some(g) = guid {
            what.push_str(&format!("guid {g} "));
        }
        what.push_str(&kind.to_string());
        if self.events.len() >= EVENT_LOG_MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(WorldEvent {
            at_ms,
            conn,
            guid,
            kind,
            what,
        });
    }

    /// Logs a client packet the world handled for `guid`; only characters the fake knows get a
    /// log, so a peer cannot grow the map with made-up guids.
    pub fn log_received(&mut self, conn: ConnId, guid: u64, opcode: Opcode, body: &Bytes) {
        if self.store.character(guid).is_none() {
            return;
        }
        let log = self.received.entry(guid).or_default();
        if log.len() >= RECEIVED_LOG_MAX_PACKETS {
            log.pop_front();
        }
        // A copy: a slice would keep the whole read buffer it came from alive.
        log.push_back((opcode, Bytes::copy_from_slice(body)));
        if let Some(tap) = &self.tap {
            let presence = self
                .players
                .get(&guid)
                .map_or(Presence::Absent, |r| r.presence);
            let opened_ms = self.sessions.get(&conn).map_or(0, |s| s.opened_ms);
            tap(guid, opcode, body, presence, opened_ms);
        }
    }

    pub fn is_killed(&self, conn: ConnId) -> bool {
        self.sessions.get(&conn).is_none_or(|s| s.killed)
    }

    pub fn kill(&mut self, conn: ConnId) {
        if let Some(s) = self.sessions.get_mut(&conn) {
            s.killed = true;
            s.kill.send_replace(true);
        }
    }

    pub fn kill_all(&mut self) {
        for s in self.sessions.values_mut() {
            s.killed = true;
            s.kill.send_replace(true);
        }
    }

    pub fn generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    /// Where a character starts a login: the store, else the config.
    pub fn saved_at(&self, guid: u64) -> MapPosition {
        self.store.get(guid).unwrap_or_else(|| {
            self.store
                .character(guid)
                .map(|c| MapPosition {
                    map: c.map,
                    position: c.position,
                })
                .unwrap_or_default()
        })
    }

    /// Removes a character (saving it first if `save`) and unlinks it from its session and
    /// its account's offline slot. False if it was not here.
    pub fn remove_player(&mut self, guid: u64, save: bool) -> bool {
        let Some(row) = self.players.remove(&guid) else {
            return false;
        };
        if save {
            self.store.set(guid, row.at);
        }
        if let Some(s) = row.conn.and_then(|c| self.sessions.get_mut(&c))
            && s.guid == Some(guid)
        {
            s.guid = None;
            s.loading = false;
            s.release_at = None;
        }
        if self.offline.get(&row.account) == Some(&guid) {
            self.offline.remove(&row.account);
        }
        true
    }

    /// The socket of `conn` is gone (or about to be). Its player, if in world and
    /// `may_linger`, stays as the account's offline session for `linger_ms` (or until a
    /// pending redirect kick), and the caller starts the returned timer; a player loading or
    /// in limbo is removed at once.
    pub fn release_session_player(
        &mut self,
        conn: ConnId,
        may_linger: bool,
        now: Instant,
        linger_ms: u64,
    ) -> Option<LingerTimer> {
        let (guid, release_at) = {
            let s = self.sessions.get_mut(&conn)?;
            s.loading = false;
            let guid = s.guid.take()?;
            (guid, s.release_at.take())
        };
        let row = self.players.get(&guid)?;
        if row.conn != Some(conn) {
            return None;
        }
        if row.presence != Presence::InWorld || !may_linger {
            let saved = row.presence != Presence::Loading;
            self.remove_player(guid, saved);
            self.event(Some(conn), Some(guid), WorldEventKind::Removed { saved });
            return None;
        }
        let account = row.account.clone();
        if let Some(older) = self.offline.get(&account).copied()
            && older != guid
        {
            // One offline session per account: logging a character in removes the account's
            // older one, so this only guards the invariant.
            self.remove_player(older, true);
            self.event(None, Some(older), WorldEventKind::Removed { saved: true });
        }
        let mut after = Duration::from_millis(linger_ms);
        if let Some(at) = release_at {
            after = after.min(at.saturating_duration_since(now));
        }
        let generation = self.generation();
        if let Some(row) = self.players.get_mut(&guid) {
            row.presence = Presence::Lingering;
            row.conn = None;
            row.generation = generation;
        }
        self.offline.insert(account, guid);
        let for_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        self.event(Some(conn), Some(guid), WorldEventKind::Lingering { for_ms });
        Some(LingerTimer {
            guid,
            generation,
            after,
        })
    }
}
