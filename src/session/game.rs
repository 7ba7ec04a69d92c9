//! What a session knows of the player once authenticated ([`Player`]), of the character in
//! play ([`InGame`]), and of both in world on one link ([`World`]).

use std::time::Duration;

use super::{AccountId, AccountRecord, Announcement, CharacterGuid, CharacterRecord, LinkId};
use crate::wire::auth::AuthSession;
use crate::wire::packets::{MapPosition, Position};

/// Who is playing: valid from authentication on.
#[derive(Debug, Clone)]
pub(super) struct Player {
    /// The client's auth session, replayed to every worldserver.
    pub(super) auth: AuthSession,
    pub(super) account: AccountRecord,
    /// The account's characters, once listed.
    pub(super) characters: Option<Vec<CharacterRecord>>,
}

impl Player {
    pub(super) fn character(&self, guid: CharacterGuid) -> Option<&CharacterRecord> {
        self.characters.as_ref()?.iter().find(|c| c.guid == guid)
    }
}

/// The character in play: valid from its login until it logs out.
#[derive(Debug, Clone)]
pub(super) struct InGame {
    pub(super) character: CharacterRecord,
    /// When the client sent PLAYER_LOGIN.
    pub(super) login_requested_at: Duration,
    /// The map it entered the world on (set once in world).
    pub(super) map: Option<u32>,
    /// Where it is, as far as the gateway knows: the last position the worldserver or the
    /// client's movement said.
    pub(super) position: Option<MapPosition>,
    /// Its presentation state.
    pub(super) presenter: crate::present::Presenter,
}

impl InGame {
    pub(super) fn guid(&self) -> CharacterGuid {
        self.character.guid
    }

    /// The cluster hears that the character entered the world, where it is now.
    pub(super) fn logged_in(&self, account: AccountId) -> Announcement {
        let mut character = self.character.clone();
        if let Some(at) = self.position {
            character.map = at.map;
            character.x = at.position.x;
            character.y = at.position.y;
            character.z = at.position.z;
        }
        Announcement::LoggedIn { account, character }
    }

    /// The cluster hears that the character left the world.
    pub(super) fn logged_out(&self, account: AccountId) -> Announcement {
        Announcement::LoggedOut {
            account,
            guid: self.character.guid,
            name: self.character.name.clone(),
            guild_id: self.character.guild_id,
        }
    }

    /// Whether the cluster was told the character is in world (it entered once).
    pub(super) fn announced(&self) -> bool {
        self.map.is_some()
    }

    /// The map the character is on: the last position's, else the one it entered on.
    pub(super) fn current_map(&self) -> u32 {
        self.position.map(|p| p.map).or(self.map).unwrap_or(0)
    }

    /// The last known position, else the character record's.
    pub(super) fn cached_position(&self) -> MapPosition {
        self.position.unwrap_or(MapPosition {
            map: self.map.unwrap_or(self.character.map),
            position: Position {
                x: self.character.x,
                y: self.character.y,
                z: self.character.z,
                orientation: 0.0,
            },
        })
    }
}

/// A player in world on one worldserver link: what the in-world states share.
#[derive(Debug, Clone)]
pub(super) struct World {
    pub(super) player: Player,
    pub(super) game: InGame,
    /// The link whose packets reach the client.
    pub(super) link: LinkId,
}
