//! Which session plays which character on this gateway, with a bounded queue of cluster
//! events for each: how an event from the cluster's bus reaches its player.
//!
//! Policy: a queue holds at most [`PLAYER_EVENT_QUEUE_MAX`] events. Delivery never waits: when
//! a player's queue is full (its client or session is slow), the new event is dropped for that
//! player and counted, and delivery to everyone else goes on. What a queue holds keeps its
//! order.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::present::ClusterEvent;
use crate::session::{CharacterGuid, SessionId};

/// Cluster events waiting for one player, at most.
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

/// Who plays each character, and where its events go.
type Table = BTreeMap<CharacterGuid, (SessionId, mpsc::Sender<Box<ClusterEvent>>)>;

/// The table.
#[derive(Debug, Default)]
pub struct Players {
    by_character: Mutex<Table>,
    dropped: AtomicU64,
}

impl Players {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.by_character
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `session` plays `guid` from now on (a newer session replaces an older one); its
    /// events arrive on the returned queue. Events are boxed: a queue's first block of slots
    /// is allocated with it, and boxes keep that small for every player in world.
    pub fn join(
        &self,
        guid: CharacterGuid,
        session: SessionId,
    ) -> mpsc::Receiver<Box<ClusterEvent>> {
        let (tx, rx) = mpsc::channel(PLAYER_EVENT_QUEUE_MAX);
        self.lock().insert(guid, (session, tx));
        rx
    }

    /// `session` no longer plays `guid` (nothing changes if another session took it over).
    pub fn leave(&self, guid: CharacterGuid, session: SessionId) {
        let mut table = self.lock();
        if table.get(&guid).is_some_and(|(s, _)| *s == session) {
            table.remove(&guid);
        }
    }

    /// Queues `event` for `guid`'s session, without waiting.
    pub fn deliver(&self, guid: CharacterGuid, event: ClusterEvent) -> Delivery {
        let table = self.lock();
        let Some((_, tx)) = table.get(&guid) else {
            return Delivery::NotHere;
        };
        match tx.try_send(Box::new(event)) {
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
        let players = Players::default();
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
        let players = Players::default();
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
}
