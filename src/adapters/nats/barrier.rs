//! The bulk barrier of `gw.char.chars-updates` (CONTRACTS.md section 2.1): the sessions'
//! state changes merged per character (a later value of a field wins), taken once a second in
//! batches of at most `per_message` characters, in guid order. A batch whose publish failed is
//! put back under whatever arrived for its characters since, so nothing newer is overwritten
//! and nothing is lost but what the bound refuses. Pure: no I/O, no clock.

use std::collections::BTreeMap;

use crate::present::state::CharacterUpdate;

/// Changes waiting to be published.
#[derive(Debug)]
pub struct UpdatesBarrier {
    pending: BTreeMap<u64, CharacterUpdate>,
    /// Characters waiting, at most; a change for one more is dropped and counted.
    characters_max: usize,
    dropped: u64,
}

impl UpdatesBarrier {
    /// An empty barrier for at most `characters_max` characters.
    pub fn new(characters_max: usize) -> Self {
        Self {
            pending: BTreeMap::new(),
            characters_max,
            dropped: 0,
        }
    }

    /// Merges a change in. False when it was dropped (the bound is reached and its
    /// character has nothing waiting).
    pub fn add(&mut self, update: &CharacterUpdate) -> bool {
        if let Some(waiting) = self.pending.get_mut(&update.guid) {
            waiting.merge(update);
            return true;
        }
        if self.pending.len() >= self.characters_max {
            self.dropped += 1;
            return false;
        }
        self.pending.insert(update.guid, *update);
        true
    }

    /// Takes everything waiting, in guid order, in batches of at most `per_message`.
    pub fn take_batches(&mut self, per_message: usize) -> Vec<Vec<CharacterUpdate>> {
        let all: Vec<CharacterUpdate> = std::mem::take(&mut self.pending).into_values().collect();
        all.chunks(per_message.max(1)).map(<[_]>::to_vec).collect()
    }

    /// Puts a batch that was not published back, under what arrived since (the newer
    /// fields win). A character the bound has no room for is dropped and counted.
    pub fn put_back(&mut self, batch: Vec<CharacterUpdate>) {
        for mut older in batch {
            if let Some(newer) = self.pending.get(&older.guid) {
                older.merge(newer);
                self.pending.insert(older.guid, older);
            } else if self.pending.len() < self.characters_max {
                self.pending.insert(older.guid, older);
            } else {
                self.dropped += 1;
            }
        }
    }

    /// Characters waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Changes dropped by the bound since start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(guid: u64) -> CharacterUpdate {
        CharacterUpdate {
            guid,
            ..CharacterUpdate::default()
        }
    }

    #[test]
    fn changes_merge_per_character_and_later_fields_win() {
        let mut b = UpdatesBarrier::new(10);
        assert!(b.add(&CharacterUpdate {
            health: Some(10),
            level: Some(5),
            ..update(1)
        }));
        assert!(b.add(&CharacterUpdate {
            health: Some(20),
            ..update(1)
        }));
        assert!(b.add(&CharacterUpdate {
            map: Some(1),
            ..update(0)
        }));
        let batches = b.take_batches(1000);
        assert_eq!(
            batches,
            vec![vec![
                CharacterUpdate {
                    map: Some(1),
                    ..update(0)
                },
                CharacterUpdate {
                    health: Some(20),
                    level: Some(5),
                    ..update(1)
                },
            ]]
        );
        assert!(b.is_empty());
    }

    #[test]
    fn batches_are_cut_at_the_message_bound() {
        let mut b = UpdatesBarrier::new(10_000);
        for guid in 0..2_500 {
            b.add(&update(guid));
        }
        let sizes: Vec<usize> = b.take_batches(1_000).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![1_000, 1_000, 500]);
    }

    #[test]
    fn a_failed_batch_comes_back_under_newer_changes() {
        let mut b = UpdatesBarrier::new(10);
        b.add(&CharacterUpdate {
            health: Some(10),
            zone: Some(12),
            ..update(1)
        });
        let batch = b.take_batches(1000).remove(0);
        b.add(&CharacterUpdate {
            health: Some(30),
            ..update(1)
        });
        b.put_back(batch);
        assert_eq!(
            b.take_batches(1000),
            vec![vec![CharacterUpdate {
                health: Some(30),
                zone: Some(12),
                ..update(1)
            }]]
        );
    }

    #[test]
    fn the_bound_drops_new_characters_and_counts_them() {
        let mut b = UpdatesBarrier::new(2);
        assert!(b.add(&update(1)));
        assert!(b.add(&update(2)));
        assert!(!b.add(&update(3)));
        assert!(b.add(&CharacterUpdate {
            level: Some(2),
            ..update(2)
        }));
        assert_eq!((b.len(), b.dropped()), (2, 1));
        b.put_back(vec![update(4)]);
        assert_eq!((b.len(), b.dropped()), (2, 2));
    }
}
