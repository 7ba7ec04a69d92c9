//! The character screen: the account's characters, account data times, the realm split, and
//! how a login fails.

use bytes::{BufMut, BytesMut};

use super::{
    ACCOUNT_DATA_SLOTS, CHAR_ENUM_EQUIPMENT_SLOTS, NAME_MAX_BYTES, SHORT_TEXT_MAX_BYTES, WirePacket,
};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// SMSG_CHARACTER_LOGIN_FAILED result codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoginFailure(pub u8);

impl LoginFailure {
    /// Realm availability is off (sent by a cluster worldserver).
    pub const WORLD_UNAVAILABLE: Self = Self(0x01);
    /// Conflict with an offline session (sent by a cluster worldserver).
    pub const OFFLINE_CONFLICT: Self = Self(0x02);
    /// A login is already in progress.
    pub const IN_PROGRESS: Self = Self(0x4C);
    /// No world server is available.
    pub const NO_WORLD: Self = Self(0x4E);
    /// The character is already logged in.
    pub const DUPLICATE_CHARACTER: Self = Self(0x4F);
    /// No instance server is available.
    pub const NO_INSTANCES: Self = Self(0x50);
    /// Generic failure.
    pub const FAILED: Self = Self(0x51);
    /// Logins are disabled.
    pub const DISABLED: Self = Self(0x52);
    /// No such character.
    pub const NO_CHARACTER: Self = Self(0x53);
    /// The character is locked for transfer.
    pub const LOCKED_FOR_TRANSFER: Self = Self(0x54);

    /// The protocol's name for the code, if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::WORLD_UNAVAILABLE => "WORLD_UNAVAILABLE",
            Self::OFFLINE_CONFLICT => "OFFLINE_CONFLICT",
            Self::IN_PROGRESS => "CHAR_LOGIN_IN_PROGRESS",
            Self::NO_WORLD => "CHAR_LOGIN_NO_WORLD",
            Self::DUPLICATE_CHARACTER => "CHAR_LOGIN_DUPLICATE_CHARACTER",
            Self::NO_INSTANCES => "CHAR_LOGIN_NO_INSTANCES",
            Self::FAILED => "CHAR_LOGIN_FAILED",
            Self::DISABLED => "CHAR_LOGIN_DISABLED",
            Self::NO_CHARACTER => "CHAR_LOGIN_NO_CHARACTER",
            Self::LOCKED_FOR_TRANSFER => "CHAR_LOGIN_LOCKED_FOR_TRANSFER",
            _ => return None,
        })
    }
}

/// SMSG_CHARACTER_LOGIN_FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharacterLoginFailed {
    /// Why.
    pub reason: LoginFailure,
}

impl WirePacket for CharacterLoginFailed {
    const OPCODE: Opcode = Opcode::SMSG_CHARACTER_LOGIN_FAILED;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.reason.0);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self {
            reason: LoginFailure(Reader::new(body).u8("reason")?),
        })
    }
}

/// SMSG_ACCOUNT_DATA_TIMES: u32 unix time, u8 1, u32 mask, one u32 per set bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountDataTimes {
    /// Server time, seconds since the Unix epoch.
    pub unix_time: u32,
    /// Which slots follow.
    pub mask: u8,
    /// Per-slot modification times; only the slots in `mask` go on the wire.
    pub times: [u32; ACCOUNT_DATA_SLOTS],
}

impl WirePacket for AccountDataTimes {
    const OPCODE: Opcode = Opcode::SMSG_ACCOUNT_DATA_TIMES;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.unix_time);
        out.put_u8(1);
        out.put_u32_le(u32::from(self.mask));
        for (slot, time) in self.times.iter().enumerate() {
            if self.mask & (1 << slot) != 0 {
                out.put_u32_le(*time);
            }
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let unix_time = r.u32("unix_time")?;
        let one = r.u8("unk1")?;
        if one != 1 {
            return Err(DecodeError::InvalidValue {
                field: "unk1",
                value: u64::from(one),
            });
        }
        let mask = r.u32("mask")?;
        let mask = u8::try_from(mask).map_err(|_| DecodeError::InvalidValue {
            field: "mask",
            value: u64::from(mask),
        })?;
        let mut times = [0u32; ACCOUNT_DATA_SLOTS];
        for (slot, time) in times.iter_mut().enumerate() {
            if mask & (1 << slot) != 0 {
                *time = r.u32("time")?;
            }
        }
        Ok(Self {
            unix_time,
            mask,
            times,
        })
    }
}

/// SMSG_REALM_SPLIT: u32 echo of the request, u32 state, cstr date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RealmSplit {
    /// The request's decision field, echoed.
    pub decision: u32,
    /// Split state (0 normal).
    pub state: u32,
    /// Split date text.
    pub date: String,
}

impl WirePacket for RealmSplit {
    const OPCODE: Opcode = Opcode::SMSG_REALM_SPLIT;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.decision);
        out.put_u32_le(self.state);
        out.put_cstr(&self.date);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            decision: r.u32("decision")?,
            state: r.u32("state")?,
            date: r.cstr("date", SHORT_TEXT_MAX_BYTES)?.to_owned(),
        })
    }
}

/// CMSG_CHAR_CREATE: cstr name, u8 race, class, gender, skin, face, hair style, hair color,
/// facial hair, outfit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharCreate {
    /// Requested name.
    pub name: String,
    /// Race, class, gender, skin, face, hair style, hair color, facial hair, outfit.
    pub appearance: [u8; 9],
}

impl WirePacket for CharCreate {
    const OPCODE: Opcode = Opcode::CMSG_CHAR_CREATE;
    fn encode(&self, out: &mut BytesMut) {
        out.put_cstr(&self.name);
        out.put_slice(&self.appearance);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            name: r.cstr("name", NAME_MAX_BYTES)?.to_owned(),
            appearance: r.array("appearance")?,
        })
    }
}

/// Result codes of SMSG_CHAR_CREATE, SMSG_CHAR_DELETE and SMSG_CHAR_RENAME (AzerothCore's
/// `ResponseCodes`, the ones the character screen meets).
pub mod char_result {
    /// RESPONSE_SUCCESS: a rename (or customize) went through.
    pub const RESPONSE_SUCCESS: u8 = 0x00;
    /// CHAR_CREATE_SUCCESS.
    pub const CHAR_CREATE_SUCCESS: u8 = 0x2F;
    /// CHAR_CREATE_ERROR: "error creating character"; AzerothCore also answers a rename with
    /// it when the character is not the account's, is not flagged for a rename, the name is
    /// taken or the character is online.
    pub const CHAR_CREATE_ERROR: u8 = 0x30;
    /// CHAR_CREATE_FAILED: "character creation failed".
    pub const CHAR_CREATE_FAILED: u8 = 0x31;
    /// CHAR_CREATE_NAME_IN_USE.
    pub const CHAR_CREATE_NAME_IN_USE: u8 = 0x32;
    /// CHAR_DELETE_SUCCESS.
    pub const CHAR_DELETE_SUCCESS: u8 = 0x47;
    /// CHAR_DELETE_FAILED.
    pub const CHAR_DELETE_FAILED: u8 = 0x48;
    /// CHAR_NAME_FAILURE: "unable to use that name".
    pub const CHAR_NAME_FAILURE: u8 = 0x58;
    /// CHAR_NAME_NO_NAME: an empty name.
    pub const CHAR_NAME_NO_NAME: u8 = 0x59;
}

/// CMSG_CHAR_RENAME: u64 guid, cstr new name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharRename {
    /// The character to rename.
    pub guid: u64,
    /// The name asked for.
    pub name: String,
}

impl WirePacket for CharRename {
    const OPCODE: Opcode = Opcode::CMSG_CHAR_RENAME;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u64_le(self.guid);
        out.put_cstr(&self.name);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            guid: r.u64("guid")?,
            name: r.cstr("name", NAME_MAX_BYTES)?.to_owned(),
        })
    }
}

/// SMSG_CHAR_RENAME: u8 result; only RESPONSE_SUCCESS (0x00) is followed by u64 guid and cstr
/// name (AzerothCore `SendCharRename`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CharRenameResult {
    /// RESPONSE_SUCCESS: the character now has this name.
    Renamed {
        /// The character.
        guid: u64,
        /// Its new name.
        name: String,
    },
    /// Any other result code, alone. `Refused(0)` is not a value: 0 is [`Self::Renamed`].
    Refused(u8),
}

impl WirePacket for CharRenameResult {
    const OPCODE: Opcode = Opcode::SMSG_CHAR_RENAME;
    fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::Renamed { guid, name } => {
                out.put_u8(char_result::RESPONSE_SUCCESS);
                out.put_u64_le(*guid);
                out.put_cstr(name);
            }
            Self::Refused(code) => out.put_u8(*code),
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        match r.u8("result")? {
            char_result::RESPONSE_SUCCESS => Ok(Self::Renamed {
                guid: r.u64("guid")?,
                name: r.cstr("name", NAME_MAX_BYTES)?.to_owned(),
            }),
            code => Ok(Self::Refused(code)),
        }
    }
}

/// One equipment slot as SMSG_CHAR_ENUM shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EnumEquipment {
    /// Item display id.
    pub display_id: u32,
    /// Inventory type.
    pub inventory_type: u8,
    /// Enchant aura id.
    pub enchant_aura: u32,
}

/// One character in SMSG_CHAR_ENUM.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnumCharacter {
    /// Character guid.
    pub guid: u64,
    /// Name.
    pub name: String,
    /// Race id.
    pub race: u8,
    /// Class id.
    pub class: u8,
    /// Gender id.
    pub gender: u8,
    /// Skin.
    pub skin: u8,
    /// Face.
    pub face: u8,
    /// Hair style.
    pub hair_style: u8,
    /// Hair color.
    pub hair_color: u8,
    /// Facial hair.
    pub facial_hair: u8,
    /// Level.
    pub level: u8,
    /// Zone id.
    pub zone: u32,
    /// Map id.
    pub map: u32,
    /// X.
    pub x: f32,
    /// Y.
    pub y: f32,
    /// Z.
    pub z: f32,
    /// Guild id (0 = none).
    pub guild_id: u32,
    /// Character flags.
    pub char_flags: u32,
    /// Customization flags.
    pub customize_flags: u32,
    /// Whether this is the first login.
    pub first_login: u8,
    /// Pet display id.
    pub pet_display: u32,
    /// Pet level.
    pub pet_level: u32,
    /// Pet family.
    pub pet_family: u32,
    /// Equipment, one entry per slot.
    pub equipment: [EnumEquipment; CHAR_ENUM_EQUIPMENT_SLOTS],
}

/// Smallest encoding of one [`EnumCharacter`]: everything but the name's text.
const ENUM_CHARACTER_MIN_BYTES: usize =
    8 + 1 + 9 + 8 + 12 + 12 + 1 + 12 + CHAR_ENUM_EQUIPMENT_SLOTS * 9;

/// SMSG_CHAR_ENUM.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CharEnum {
    /// The account's characters on this realm, in display order.
    pub characters: Vec<EnumCharacter>,
}

impl WirePacket for CharEnum {
    const OPCODE: Opcode = Opcode::SMSG_CHAR_ENUM;
    fn encode(&self, out: &mut BytesMut) {
        let n = self.characters.len().min(usize::from(u8::MAX));
        out.put_u8(n as u8);
        for c in self.characters.iter().take(n) {
            out.put_u64_le(c.guid);
            out.put_cstr(&c.name);
            out.put_slice(&[
                c.race,
                c.class,
                c.gender,
                c.skin,
                c.face,
                c.hair_style,
                c.hair_color,
                c.facial_hair,
                c.level,
            ]);
            out.put_u32_le(c.zone);
            out.put_u32_le(c.map);
            out.put_f32_le(c.x);
            out.put_f32_le(c.y);
            out.put_f32_le(c.z);
            out.put_u32_le(c.guild_id);
            out.put_u32_le(c.char_flags);
            out.put_u32_le(c.customize_flags);
            out.put_u8(c.first_login);
            out.put_u32_le(c.pet_display);
            out.put_u32_le(c.pet_level);
            out.put_u32_le(c.pet_family);
            for e in &c.equipment {
                out.put_u32_le(e.display_id);
                out.put_u8(e.inventory_type);
                out.put_u32_le(e.enchant_aura);
            }
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let n = r.u8("character_count")?;
        let n = r.check_count(
            "character_count",
            u64::from(n),
            usize::MAX,
            ENUM_CHARACTER_MIN_BYTES,
        )?;
        let mut characters = Vec::with_capacity(n);
        for _ in 0..n {
            let guid = r.u64("guid")?;
            let name = r.cstr("name", NAME_MAX_BYTES)?.to_owned();
            let [
                race,
                class,
                gender,
                skin,
                face,
                hair_style,
                hair_color,
                facial_hair,
                level,
            ] = r.array::<9>("appearance")?;
            let mut c = EnumCharacter {
                guid,
                name,
                race,
                class,
                gender,
                skin,
                face,
                hair_style,
                hair_color,
                facial_hair,
                level,
                zone: r.u32("zone")?,
                map: r.u32("map")?,
                x: r.f32("x")?,
                y: r.f32("y")?,
                z: r.f32("z")?,
                guild_id: r.u32("guild_id")?,
                char_flags: r.u32("char_flags")?,
                customize_flags: r.u32("customize_flags")?,
                first_login: r.u8("first_login")?,
                pet_display: r.u32("pet_display")?,
                pet_level: r.u32("pet_level")?,
                pet_family: r.u32("pet_family")?,
                equipment: Default::default(),
            };
            for e in c.equipment.iter_mut() {
                *e = EnumEquipment {
                    display_id: r.u32("display_id")?,
                    inventory_type: r.u8("inventory_type")?,
                    enchant_aura: r.u32("enchant_aura")?,
                };
            }
            characters.push(c);
        }
        Ok(Self { characters })
    }
}
