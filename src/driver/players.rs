//! Which session plays which character on this gateway, and where its cluster events go: how
//! an event from the cluster's bus reaches its player.
//!
//! Policy: delivery never waits. An event goes into its session's bounded inbox; when the
//! inbox is full (its client or session is slow), the event is dropped for that player and
//! counted, and delivery to everyone else goes on. What an inbox holds keeps its order. The
//! gateway's sessions take events in the inbox their seam answers arrive in (one queue a
//! session, not two: each tokio queue costs its block of slots and its cache-padded state),
//! sized [`PLAYER_EVENT_QUEUE_MAX`] beyond the answers' own room; [`Players::join`] makes a
//! queue of its own of that size, for callers without an inbox.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::present::ClusterEvent;
use crate::session::{CharacterGuid, SessionId};

/// Cluster events waiting for one player, at most (in a session's inbox: beyond the room its
/// seam answers have).
pub const PLAYER_EVENT_QUEUE_MAX: usize = 256;

/// What became of one event for one player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for the player's session.
    Queued,
    /// The character is not in world through this gateway.
    NotHere,
    /// The player's queue was full: dropped (and counted).
    Dropped,
}

/// What an inbox takes: an event, tagged with the join it was delivered for (a session
/// drops what was queued for an earlier stint of its character).
pub trait FromEvent: Send + 'static {
    /// `event`, delivered for join `join`.
    fn from_event(join: u64, event: ClusterEvent) -> Self;
}

impl FromEvent for Box<ClusterEvent> {
    fn from_event(_join: u64, event: ClusterEvent) -> Self {
        Box::new(event)
    }
}

/// Who plays each character: its session, the join, and the session's inbox.
type Table<M> = BTreeMap<CharacterGuid, (SessionId, u64, mpsc::Sender<M>)>;

/// The table.
#[derive(Debug)]
pub struct Players<M = Box<ClusterEvent>> {
    by_character: Mutex<Table<M>>,
    dropped: AtomicU64,
}

impl<M> Default for Players<M> {
    fn default() -> Self {
        Self {
            by_character: Mutex::new(BTreeMap::new()),
            dropped: AtomicU64::new(0),
        }
    }
}

impl<M: FromEvent> Players<M> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table<M>> {
        self.by_character
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `session` plays `guid` from now on (a newer session replaces an older one); its
    /// events arrive on the returned queue, of its own, which holds at most
    /// [`PLAYER_EVENT_QUEUE_MAX`].
    pub fn join(&self, guid: CharacterGuid, session: SessionId) -> mpsc::Receiver<M> {
        let (tx, rx) = mpsc::channel(PLAYER_EVENT_QUEUE_MAX);
        self.join_inbox(guid, session, 0, tx);
        rx
    }

    /// `session` plays `guid` from now on; its events go into `inbox`, tagged `join`.
    pub fn join_inbox(
        &self,
        guid: CharacterGuid,
        session: SessionId,
        join: u64,
        inbox: mpsc::Sender<M>,
    ) {
        self.lock().insert(guid, (session, join, inbox));
    }

    /// `session` no longer plays `guid` (nothing changes if another session took it over).
    pub fn leave(&self, guid: CharacterGuid, session: SessionId) {
        let mut table = self.lock();
        if table.get(&guid).is_some_and(|(s, _, _)| *s == session) {
            table.remove(&guid);
        }
    }

    /// Queues `event` for `guid`'s session, without waiting.
    pub fn deliver(&self, guid: CharacterGuid, event: ClusterEvent) -> Delivery {
        let table = self.lock();
        let Some((_, join, tx)) = table.get(&guid) else {
            return Delivery::NotHere;
        };
        match tx.try_send(M::from_event(*join, event)) {
            Ok(()) => Delivery::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Delivery::Dropped
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Delivery::NotHere,
        }
    }

    /// The characters in world through this gateway, ascending.
    pub fn online(&self) -> Vec<CharacterGuid> {
        self.lock().keys().copied().collect()
    }

    /// Events dropped because a player's queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(n: u8) -> ClusterEvent {
        ClusterEvent {
            subject: "guild.message.new".into(),
            payload: Bytes::from(vec![n]),
        }
    }

    #[test]
    fn a_full_queue_drops_for_that_player_only_and_keeps_order() {
        let players: Players = Players::default();
        let (slow, fast) = (CharacterGuid(1), CharacterGuid(2));
        let mut slow_rx = players.join(slow, SessionId(1));
        let mut fast_rx = players.join(fast, SessionId(2));
        for n in 0..PLAYER_EVENT_QUEUE_MAX {
            assert_eq!(players.deliver(slow, event(n as u8)), Delivery::Queued);
        }
        assert_eq!(players.deliver(slow, event(0xFF)), Delivery::Dropped);
        assert_eq!(players.dropped(), 1);
        assert_eq!(players.deliver(fast, event(7)), Delivery::Queued);
        assert_eq!(
            fast_rx.try_recv().map(|e| e.payload),
            Ok(Bytes::from(vec![7]))
        );
        for n in 0..PLAYER_EVENT_QUEUE_MAX {
            assert_eq!(slow_rx.try_recv().map(|e| e.payload[0]), Ok(n as u8));
        }
    }

    #[test]
    fn an_older_session_leaving_does_not_unregister_the_newer_one() {
        let players: Players = Players::default();
        let guid = CharacterGuid(9);
        let _old = players.join(guid, SessionId(1));
        let mut new = players.join(guid, SessionId(2));
        players.leave(guid, SessionId(1));
        assert_eq!(players.deliver(guid, event(1)), Delivery::Queued);
        assert!(new.try_recv().is_ok());
        players.leave(guid, SessionId(2));
        assert_eq!(players.deliver(guid, event(2)), Delivery::NotHere);
        assert!(players.online().is_empty());
    }

    /// An event as a session's inbox would take it: with its join.
    #[derive(Debug, PartialEq)]
    struct Tagged(u64, u8);

    impl FromEvent for Tagged {
        fn from_event(join: u64, event: ClusterEvent) -> Self {
            Tagged(join, event.payload[0])
        }
    }

    #[test]
    fn events_go_into_the_sessions_own_inbox_tagged_with_its_join_and_a_full_inbox_drops() {
        let players: Players<Tagged> = Players::default();
        let (tx, mut rx) = mpsc::channel(2);
        players.join_inbox(CharacterGuid(3), SessionId(1), 7, tx.clone());
        assert_eq!(
            players.deliver(CharacterGuid(3), event(1)),
            Delivery::Queued
        );
        // The session's own answers share the inbox: they take room too.
        tx.try_send(Tagged(0, 0xAA)).unwrap();
        assert_eq!(
            players.deliver(CharacterGuid(3), event(2)),
            Delivery::Dropped
        );
        assert_eq!(players.dropped(), 1);
        assert_eq!(rx.try_recv(), Ok(Tagged(7, 1)));
        assert_eq!(rx.try_recv(), Ok(Tagged(0, 0xAA)));
        // A later join of the same character tags its events anew.
        players.join_inbox(CharacterGuid(3), SessionId(1), 8, tx);
        assert_eq!(
            players.deliver(CharacterGuid(3), event(3)),
            Delivery::Queued
        );
        assert_eq!(rx.try_recv(), Ok(Tagged(8, 3)));
    }
}
