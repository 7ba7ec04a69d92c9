//! Chat channel membership on this gateway: who a channel event is for.

use std::collections::{BTreeMap, BTreeSet};

use crate::session::CharacterGuid;

pub use crate::present::channels::{CHANNELS_PER_PLAYER_MAX, channel_key};

/// Which characters on this gateway are in which chat channels: who a channel event is for.
/// ToCloud9's gateway keeps the same table, filled when the chat service confirms a join;
/// presentation fills this one ([`crate::session::Announcement::ChannelMembership`]: a join
/// chatserver confirmed, a leave), and the bus forgets a character at its logout.
#[derive(Debug, Default, Clone)]
pub struct ChannelMembers {
    by_channel: BTreeMap<String, BTreeSet<CharacterGuid>>,
    by_player: BTreeMap<CharacterGuid, BTreeSet<String>>,
}

impl ChannelMembers {
    /// `guid` joined channel `name`. False (and nothing changes) when it is already in
    /// [`CHANNELS_PER_PLAYER_MAX`] channels.
    pub fn join(&mut self, guid: CharacterGuid, name: &str) -> bool {
        let key = channel_key(name);
        let mine = self.by_player.entry(guid).or_default();
        if !mine.contains(&key) && mine.len() >= CHANNELS_PER_PLAYER_MAX {
            return false;
        }
        mine.insert(key.clone());
        self.by_channel.entry(key).or_default().insert(guid);
        true
    }

    /// `guid` left channel `name`.
    pub fn leave(&mut self, guid: CharacterGuid, name: &str) {
        let key = channel_key(name);
        if let Some(mine) = self.by_player.get_mut(&guid) {
            mine.remove(&key);
            if mine.is_empty() {
                self.by_player.remove(&guid);
            }
        }
        self.drop_member(&key, guid);
    }

    /// `guid` left the world: out of every channel.
    pub fn forget(&mut self, guid: CharacterGuid) {
        for key in self.by_player.remove(&guid).unwrap_or_default() {
            self.drop_member(&key, guid);
        }
    }

    /// The members of channel `key` (see [`channel_key`]), ascending.
    pub fn members(&self, key: &str) -> Vec<CharacterGuid> {
        self.by_channel
            .get(key)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default()
    }

    fn drop_member(&mut self, key: &str, guid: CharacterGuid) {
        if let Some(members) = self.by_channel.get_mut(key) {
            members.remove(&guid);
            if members.is_empty() {
                self.by_channel.remove(key);
            }
        }
    }
}
