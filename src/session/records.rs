//! What the seams answer the session core with: accounts, characters, names.

use crate::wire::SessionKey;
use crate::wire::packets::{EnumCharacter, EnumEquipment};

/// An account id (auth DB `account.id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u32);

/// A character guid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CharacterGuid(pub u64);

/// An account as the Accounts seam returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Account id.
    pub id: AccountId,
    /// Upper-case account name.
    pub name: String,
    /// The session key K the authserver stored.
    pub session_key: SessionKey,
    /// Banned accounts are refused with AUTH_BANNED.
    pub banned: bool,
    /// Locked accounts are refused with AUTH_LOCKED_ENFORCED.
    pub locked: bool,
}

/// A character as the characters service returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct CharacterRecord {
    /// Guid.
    pub guid: CharacterGuid,
    /// Owning account.
    pub account: AccountId,
    /// Name.
    pub name: String,
    /// Race id.
    pub race: u8,
    /// Class id.
    pub class: u8,
    /// Gender id.
    pub gender: u8,
    /// Level.
    pub level: u8,
    /// Appearance: skin, face, hair style, hair color, facial hair.
    pub appearance: [u8; 5],
    /// Map id.
    pub map: u32,
    /// Zone id.
    pub zone: u32,
    /// Position.
    pub x: f32,
    /// Position.
    pub y: f32,
    /// Position.
    pub z: f32,
    /// Guild id, 0 for none.
    pub guild_id: u32,
}

impl CharacterRecord {
    /// The SMSG_CHAR_ENUM entry for this character.
    pub fn to_enum(&self) -> EnumCharacter {
        let [skin, face, hair_style, hair_color, facial_hair] = self.appearance;
        EnumCharacter {
            guid: self.guid.0,
            name: self.name.clone(),
            race: self.race,
            class: self.class,
            gender: self.gender,
            skin,
            face,
            hair_style,
            hair_color,
            facial_hair,
            level: self.level,
            zone: self.zone,
            map: self.map,
            x: self.x,
            y: self.y,
            z: self.z,
            guild_id: self.guild_id,
            char_flags: 0,
            customize_flags: 0,
            first_login: 0,
            pet_display: 0,
            pet_level: 0,
            pet_family: 0,
            equipment: [EnumEquipment::default(); crate::wire::packets::CHAR_ENUM_EQUIPMENT_SLOTS],
        }
    }
}

/// What a name query needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameRecord {
    /// Guid.
    pub guid: CharacterGuid,
    /// Name.
    pub name: String,
    /// Race id.
    pub race: u8,
    /// Gender id.
    pub gender: u8,
    /// Class id.
    pub class: u8,
}

impl From<&CharacterRecord> for NameRecord {
    fn from(c: &CharacterRecord) -> Self {
        Self {
            guid: c.guid,
            name: c.name.clone(),
            race: c.race,
            gender: c.gender,
            class: c.class,
        }
    }
}

/// A seam call that failed: who failed and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{service} failed ({}): {detail}", if *.retryable { "retryable" } else { "final" })]
pub struct SeamError {
    /// Which service.
    pub service: &'static str,
    /// What happened.
    pub detail: String,
    /// Whether a retry may succeed.
    pub retryable: bool,
}
