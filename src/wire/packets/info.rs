//! What the server tells the player: names, the message of the day, world states, level-up
//! gains, tutorial flags, addon answers and system chat lines.

use bytes::{BufMut, BytesMut};

use super::{MOTD_LINE_MAX_BYTES, NAME_MAX_BYTES, WirePacket};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// The five declined forms of a name (Russian clients).
pub type DeclinedNames = [String; 5];

/// SMSG_NAME_QUERY_RESPONSE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameQueryResponse {
    /// The name is known.
    Found {
        /// Character guid.
        guid: u64,
        /// Character name.
        name: String,
        /// Realm name; empty for the player's own realm.
        realm: String,
        /// Race id.
        race: u8,
        /// Gender id.
        gender: u8,
        /// Class id.
        class: u8,
        /// Declined forms, when the realm uses them.
        declined: Option<Box<DeclinedNames>>,
    },
    /// No such character.
    NotFound {
        /// The guid that was asked for.
        guid: u64,
    },
}

impl WirePacket for NameQueryResponse {
    const OPCODE: Opcode = Opcode::SMSG_NAME_QUERY_RESPONSE;
    fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::NotFound { guid } => {
                out.put_packed_guid(*guid);
                out.put_u8(1);
            }
            Self::Found {
                guid,
                name,
                realm,
                race,
                gender,
                class,
                declined,
            } => {
                out.put_packed_guid(*guid);
                out.put_u8(0);
                out.put_cstr(name);
                out.put_cstr(realm);
                out.put_u8(*race);
                out.put_u8(*gender);
                out.put_u8(*class);
                match declined {
                    None => out.put_u8(0),
                    Some(names) => {
                        out.put_u8(1);
                        for n in names.iter() {
                            out.put_cstr(n);
                        }
                    }
                }
            }
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let guid = r.packed_guid("guid")?;
        if r.u8("not_found")? != 0 {
            return Ok(Self::NotFound { guid });
        }
        let name = r.cstr("name", NAME_MAX_BYTES)?.to_owned();
        let realm = r.cstr("realm", NAME_MAX_BYTES)?.to_owned();
        let race = r.u8("race")?;
        let gender = r.u8("gender")?;
        let class = r.u8("class")?;
        let declined = if r.u8("has_declined")? != 0 {
            let mut names: DeclinedNames = Default::default();
            for n in names.iter_mut() {
                *n = r.cstr("declined_name", NAME_MAX_BYTES)?.to_owned();
            }
            Some(Box::new(names))
        } else {
            None
        };
        Ok(Self::Found {
            guid,
            name,
            realm,
            race,
            gender,
            class,
            declined,
        })
    }
}

/// SMSG_MOTD: u32 n, n lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Motd {
    /// Lines of the message of the day.
    pub lines: Vec<String>,
}

impl WirePacket for Motd {
    const OPCODE: Opcode = Opcode::SMSG_MOTD;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.lines.len() as u32);
        for l in &self.lines {
            out.put_cstr(l);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let n = r.count_u32("line_count", usize::MAX, 1)?;
        let mut lines = Vec::with_capacity(n);
        for _ in 0..n {
            lines.push(r.cstr("line", MOTD_LINE_MAX_BYTES)?.to_owned());
        }
        Ok(Self { lines })
    }
}

/// SMSG_INIT_WORLD_STATES: u32 map, zone, area, u16 n, n x (u32 state, u32 value).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InitWorldStates {
    /// Map id.
    pub map: u32,
    /// Zone id.
    pub zone: u32,
    /// Area id.
    pub area: u32,
    /// World state id and value pairs, in wire order.
    pub states: Vec<(u32, u32)>,
}

impl WirePacket for InitWorldStates {
    const OPCODE: Opcode = Opcode::SMSG_INIT_WORLD_STATES;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.map);
        out.put_u32_le(self.zone);
        out.put_u32_le(self.area);
        out.put_u16_le(self.states.len().min(usize::from(u16::MAX)) as u16);
        for (id, value) in self.states.iter().take(usize::from(u16::MAX)) {
            out.put_u32_le(*id);
            out.put_u32_le(*value);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let map = r.u32("map")?;
        let zone = r.u32("zone")?;
        let area = r.u32("area")?;
        let n = r.u16("state_count")?;
        let n = r.check_count("state_count", u64::from(n), usize::MAX, 8)?;
        let mut states = Vec::with_capacity(n);
        for _ in 0..n {
            states.push((r.u32("state")?, r.u32("value")?));
        }
        Ok(Self {
            map,
            zone,
            area,
            states,
        })
    }
}

/// Power types in SMSG_LEVELUP_INFO.
pub const MAX_POWERS: usize = 7;
/// Primary stats in SMSG_LEVELUP_INFO.
pub const MAX_STATS: usize = 5;

/// SMSG_LEVELUP_INFO: u32 level, u32 health gain, 7 x u32 power gains, 5 x u32 stat gains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LevelupInfo {
    /// The new level.
    pub level: u32,
    /// Health gained.
    pub health_gain: u32,
    /// Gains per power type.
    pub power_gains: [u32; MAX_POWERS],
    /// Gains per primary stat.
    pub stat_gains: [u32; MAX_STATS],
}

impl WirePacket for LevelupInfo {
    const OPCODE: Opcode = Opcode::SMSG_LEVELUP_INFO;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.level);
        out.put_u32_le(self.health_gain);
        for v in self.power_gains.iter().chain(self.stat_gains.iter()) {
            out.put_u32_le(*v);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let mut out = Self {
            level: r.u32("level")?,
            health_gain: r.u32("health_gain")?,
            ..Self::default()
        };
        for v in out.power_gains.iter_mut() {
            *v = r.u32("power_gain")?;
        }
        for v in out.stat_gains.iter_mut() {
            *v = r.u32("stat_gain")?;
        }
        Ok(out)
    }
}

/// SMSG_TUTORIAL_FLAGS: 8 x u32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TutorialFlags {
    /// The tutorial bitmask words.
    pub words: [u32; 8],
}

impl WirePacket for TutorialFlags {
    const OPCODE: Opcode = Opcode::SMSG_TUTORIAL_FLAGS;
    fn encode(&self, out: &mut BytesMut) {
        for w in self.words {
            out.put_u32_le(w);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let mut words = [0u32; 8];
        for w in words.iter_mut() {
            *w = r.u32("tutorial_word")?;
        }
        Ok(Self { words })
    }
}

/// One addon answer in SMSG_ADDON_INFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonAnswer {
    /// Addon state (2 = Blizzard-signed or normal).
    pub state: u8,
    /// Whether a CRC check result follows.
    pub crc_checked: bool,
    /// The addon's public key, sent when its CRC differs from the standard key's.
    pub public_key: Option<Box<[u8; 256]>>,
    /// Unknown u32 (0).
    pub unknown: u32,
    /// Update URL, when sent.
    pub url: Option<String>,
}

/// SMSG_ADDON_INFO: one answer per addon the client listed, then banned addons (u32 count,
/// always 0 from the gateway).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddonInfo {
    /// One answer per addon, in the client's order.
    pub answers: Vec<AddonAnswer>,
}

impl AddonInfo {
    /// Appends the body.
    pub fn encode(&self, out: &mut BytesMut) {
        for a in &self.answers {
            out.put_u8(a.state);
            out.put_u8(u8::from(a.crc_checked));
            if a.crc_checked {
                match &a.public_key {
                    Some(key) => {
                        out.put_u8(1);
                        out.put_slice(&key[..]);
                    }
                    None => out.put_u8(0),
                }
                out.put_u32_le(a.unknown);
            }
            match &a.url {
                Some(url) => {
                    out.put_u8(1);
                    out.put_cstr(url);
                }
                None => out.put_u8(0),
            }
        }
        out.put_u32_le(0);
    }

    /// Parses a body that answers `addon_count` addons (the body does not say how many).
    pub fn decode(body: &[u8], addon_count: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let n = r.check_count("addon_count", addon_count as u64, usize::MAX, 3)?;
        let mut answers = Vec::with_capacity(n);
        for _ in 0..n {
            let state = r.u8("state")?;
            let crc_checked = r.u8("crc_checked")? != 0;
            let mut public_key = None;
            let mut unknown = 0;
            if crc_checked {
                if r.u8("has_key")? != 0 {
                    public_key = Some(Box::new(r.array::<256>("public_key")?));
                }
                unknown = r.u32("unknown")?;
            }
            let url = if r.u8("has_url")? != 0 {
                Some(r.cstr("url", MOTD_LINE_MAX_BYTES)?.to_owned())
            } else {
                None
            };
            answers.push(AddonAnswer {
                state,
                crc_checked,
                public_key,
                unknown,
                url,
            });
        }
        let banned = r.u32("banned_count")?;
        if banned != 0 {
            return Err(DecodeError::InvalidValue {
                field: "banned_count",
                value: u64::from(banned),
            });
        }
        Ok(Self { answers })
    }
}

/// SMSG_MESSAGECHAT of type SYSTEM (0x00): the yellow system line in the chat frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemMessage {
    /// The text.
    pub text: String,
}

/// Longest chat text accepted (bytes, NUL excluded).
pub const CHAT_TEXT_MAX_BYTES: usize = 4096;

impl WirePacket for SystemMessage {
    const OPCODE: Opcode = Opcode::SMSG_MESSAGECHAT;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(0); // CHAT_MSG_SYSTEM
        out.put_u32_le(0); // LANG_UNIVERSAL
        out.put_u64_le(0); // sender
        out.put_u32_le(0); // flags
        out.put_u64_le(0); // receiver
        // Cut at the cap on a character boundary, so the text stays UTF-8.
        let mut cut = self.text.len().min(CHAT_TEXT_MAX_BYTES);
        while !self.text.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = &self.text.as_bytes()[..cut];
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        out.put_u32_le(end as u32 + 1);
        out.put_slice(&text[..end]);
        out.put_u8(0);
        out.put_u8(0); // chat tag
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let kind = r.u8("type")?;
        if kind != 0 {
            return Err(DecodeError::InvalidValue {
                field: "type",
                value: u64::from(kind),
            });
        }
        r.u32("language")?;
        r.u64("sender")?;
        r.u32("flags")?;
        r.u64("receiver")?;
        let len = r.u32("text_len")? as usize;
        if len == 0 || len > CHAT_TEXT_MAX_BYTES + 1 {
            return Err(DecodeError::TooLarge {
                field: "text_len",
                value: len as u64,
                limit: CHAT_TEXT_MAX_BYTES as u64 + 1,
            });
        }
        let text = r.cstr("text", len - 1)?.to_owned();
        r.u8("chat_tag")?;
        Ok(Self { text })
    }
}
