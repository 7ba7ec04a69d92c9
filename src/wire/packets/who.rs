//! /who: the client's query (CMSG_WHO) and the list it shows (SMSG_WHO), as AzerothCore reads
//! and writes them.

use bytes::{BufMut, BytesMut};

use super::{NAME_MAX_BYTES, WirePacket};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// Zones a query may name, at most (AzerothCore ignores a query with more).
pub const WHO_ZONES_MAX: usize = 10;
/// Search strings a query may carry, at most (AzerothCore ignores a query with more).
pub const WHO_STRINGS_MAX: usize = 4;
/// Longest search string accepted (bytes, NUL excluded).
pub const WHO_STRING_MAX_BYTES: usize = 128;
/// Entries one SMSG_WHO shows, at most (AzerothCore's `MaxWhoListReturns` default).
pub const WHO_DISPLAY_MAX: usize = 49;

/// CMSG_WHO (0x062): u32 level min, u32 level max, cstr player name, cstr guild name, u32 race
/// mask, u32 class mask, u32 zone count (≤ [`WHO_ZONES_MAX`]), the zone ids, u32 string count
/// (≤ [`WHO_STRINGS_MAX`]), the strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WhoRequest {
    /// Lowest level.
    pub level_min: u32,
    /// Highest level.
    pub level_max: u32,
    /// Player name (part).
    pub player_name: String,
    /// Guild name (part).
    pub guild_name: String,
    /// Races, one bit each.
    pub race_mask: u32,
    /// Classes, one bit each.
    pub class_mask: u32,
    /// Zone ids.
    pub zones: Vec<u32>,
    /// Free search strings.
    pub strings: Vec<String>,
}

impl WirePacket for WhoRequest {
    const OPCODE: Opcode = Opcode::CMSG_WHO;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.level_min);
        out.put_u32_le(self.level_max);
        out.put_cstr(&self.player_name);
        out.put_cstr(&self.guild_name);
        out.put_u32_le(self.race_mask);
        out.put_u32_le(self.class_mask);
        out.put_u32_le(self.zones.len() as u32);
        for z in &self.zones {
            out.put_u32_le(*z);
        }
        out.put_u32_le(self.strings.len() as u32);
        for s in &self.strings {
            out.put_cstr(s);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let level_min = r.u32("level_min")?;
        let level_max = r.u32("level_max")?;
        let player_name = r.cstr("player_name", NAME_MAX_BYTES)?.to_owned();
        let guild_name = r.cstr("guild_name", NAME_MAX_BYTES)?.to_owned();
        let race_mask = r.u32("race_mask")?;
        let class_mask = r.u32("class_mask")?;
        let zone_count = r.u32("zone_count")?;
        let zone_count = r.check_count("zone_count", u64::from(zone_count), WHO_ZONES_MAX, 4)?;
        let mut zones = Vec::with_capacity(zone_count);
        for _ in 0..zone_count {
            zones.push(r.u32("zone")?);
        }
        let string_count = r.u32("string_count")?;
        let string_count =
            r.check_count("string_count", u64::from(string_count), WHO_STRINGS_MAX, 1)?;
        let mut strings = Vec::with_capacity(string_count);
        for _ in 0..string_count {
            strings.push(r.cstr("string", WHO_STRING_MAX_BYTES)?.to_owned());
        }
        Ok(Self {
            level_min,
            level_max,
            player_name,
            guild_name,
            race_mask,
            class_mask,
            zones,
            strings,
        })
    }
}

/// One player in SMSG_WHO.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WhoEntry {
    /// Name.
    pub name: String,
    /// Guild name ("" for none).
    pub guild: String,
    /// Level.
    pub level: u32,
    /// Class id.
    pub class: u32,
    /// Race id.
    pub race: u32,
    /// Gender id (a byte on the wire).
    pub gender: u8,
    /// Zone id.
    pub zone: u32,
}

/// SMSG_WHO (0x063): u32 entries shown, u32 matches in all, then per entry cstr name, cstr
/// guild, u32 level, u32 class, u32 race, u8 gender, u32 zone. At most [`WHO_DISPLAY_MAX`]
/// entries are sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WhoList {
    /// Matches in all (may exceed the entries shown).
    pub matches: u32,
    /// The entries shown.
    pub entries: Vec<WhoEntry>,
}

impl WirePacket for WhoList {
    const OPCODE: Opcode = Opcode::SMSG_WHO;
    fn encode(&self, out: &mut BytesMut) {
        let shown = &self.entries[..self.entries.len().min(WHO_DISPLAY_MAX)];
        // At most WHO_DISPLAY_MAX: fits.
        out.put_u32_le(shown.len() as u32);
        out.put_u32_le(self.matches);
        for e in shown {
            out.put_cstr(&e.name);
            out.put_cstr(&e.guild);
            out.put_u32_le(e.level);
            out.put_u32_le(e.class);
            out.put_u32_le(e.race);
            out.put_u8(e.gender);
            out.put_u32_le(e.zone);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let shown = r.u32("display_count")?;
        let matches = r.u32("match_count")?;
        let shown = r.check_count("display_count", u64::from(shown), WHO_DISPLAY_MAX, 19)?;
        let mut entries = Vec::with_capacity(shown);
        for _ in 0..shown {
            entries.push(WhoEntry {
                name: r.cstr("name", NAME_MAX_BYTES)?.to_owned(),
                guild: r.cstr("guild", NAME_MAX_BYTES)?.to_owned(),
                level: r.u32("level")?,
                class: r.u32("class")?,
                race: r.u32("race")?,
                gender: r.u8("gender")?,
                zone: r.u32("zone")?,
            });
        }
        Ok(Self { matches, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let q = WhoRequest {
            level_min: 1,
            level_max: 80,
            player_name: "al".into(),
            guild_name: String::new(),
            race_mask: 0xFFFF_FFFF,
            class_mask: 2,
            zones: vec![12],
            strings: vec!["x".into()],
        };
        let body = q.to_body();
        assert_eq!(
            body.as_ref(),
            [
                1, 0, 0, 0, 80, 0, 0, 0, b'a', b'l', 0, 0, 255, 255, 255, 255, 2, 0, 0, 0, 1, 0, 0,
                0, 12, 0, 0, 0, 1, 0, 0, 0, b'x', 0
            ]
        );
        assert_eq!(WhoRequest::decode(&body), Ok(q));
        let list = WhoList {
            matches: 3,
            entries: vec![WhoEntry {
                name: "Al".into(),
                guild: "G".into(),
                level: 80,
                class: 4,
                race: 2,
                gender: 1,
                zone: 12,
            }],
        };
        let body = list.to_body();
        assert_eq!(
            body.as_ref(),
            [
                1, 0, 0, 0, 3, 0, 0, 0, b'A', b'l', 0, b'G', 0, 80, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0,
                0, 1, 12, 0, 0, 0
            ]
        );
        assert_eq!(WhoList::decode(&body), Ok(list));
        for end in 0..body.len() {
            assert!(WhoList::decode(&body[..end]).is_err(), "prefix {end}");
        }
    }

    #[test]
    fn bounds() {
        let mut q = WhoRequest {
            zones: vec![0; WHO_ZONES_MAX + 1],
            ..WhoRequest::default()
        };
        assert!(WhoRequest::decode(&q.to_body()).is_err());
        q.zones.clear();
        q.strings = vec![String::new(); WHO_STRINGS_MAX + 1];
        assert!(WhoRequest::decode(&q.to_body()).is_err());
        let many = WhoList {
            matches: 100,
            entries: vec![WhoEntry::default(); WHO_DISPLAY_MAX + 5],
        };
        let back = WhoList::decode(&many.to_body()).expect("decodes");
        assert_eq!((back.matches, back.entries.len()), (100, WHO_DISPLAY_MAX));
    }
}
