//! Party frames: SMSG_PARTY_MEMBER_STATS (0x07E) and SMSG_PARTY_MEMBER_STATS_FULL (0x2F2), as
//! AzerothCore writes them, for the fields a gateway renders (status, health, power, level,
//! zone), and the client's CMSG_REQUEST_PARTY_MEMBER_STATS.

use bytes::{BufMut, BytesMut};

use super::WirePacket;
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// Party frame mask bits (`GroupUpdateFlags`) this body carries.
pub mod party_field {
    /// u16 status (`GroupMemberOnlineStatus`).
    pub const STATUS: u32 = 0x1;
    /// u32 health.
    pub const CUR_HP: u32 = 0x2;
    /// u32 max health.
    pub const MAX_HP: u32 = 0x4;
    /// u8 power type.
    pub const POWER_TYPE: u32 = 0x8;
    /// u16 power.
    pub const CUR_POWER: u32 = 0x10;
    /// u16 max power.
    pub const MAX_POWER: u32 = 0x20;
    /// u16 level.
    pub const LEVEL: u32 = 0x40;
    /// u16 zone.
    pub const ZONE: u32 = 0x80;
    /// Every bit this body knows.
    pub const KNOWN: u32 = 0xFF;
}

/// `GroupMemberOnlineStatus` bits of the STATUS field.
pub mod member_status {
    /// Offline: nothing else set.
    pub const OFFLINE: u16 = 0x0;
    /// Online.
    pub const ONLINE: u16 = 0x1;
    /// Dead.
    pub const DEAD: u16 = 0x4;
    /// A ghost.
    pub const GHOST: u16 = 0x8;
    /// Away.
    pub const AFK: u16 = 0x40;
    /// Busy.
    pub const DND: u16 = 0x80;
}

/// SMSG_PARTY_MEMBER_STATS, or with `full` SMSG_PARTY_MEMBER_STATS_FULL (which starts with a
/// u8 0 in AzerothCore): packed guid, u32 mask, then the fields whose bit is set, in bit
/// order, with AzerothCore's widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartyMemberStats {
    /// The FULL variant.
    pub full: bool,
    /// The member.
    pub guid: u64,
    /// [`member_status`] bits.
    pub status: Option<u16>,
    /// Health.
    pub hp: Option<u32>,
    /// Max health.
    pub max_hp: Option<u32>,
    /// Power type.
    pub power_type: Option<u8>,
    /// Power (u16 on the wire).
    pub power: Option<u16>,
    /// Max power (u16 on the wire).
    pub max_power: Option<u16>,
    /// Level (u16 on the wire).
    pub level: Option<u16>,
    /// Zone (u16 on the wire in AzerothCore).
    pub zone: Option<u16>,
}

impl PartyMemberStats {
    /// The mask the present fields make.
    pub fn mask(&self) -> u32 {
        let bit = |present: bool, bit: u32| if present { bit } else { 0 };
        bit(self.status.is_some(), party_field::STATUS)
            | bit(self.hp.is_some(), party_field::CUR_HP)
            | bit(self.max_hp.is_some(), party_field::MAX_HP)
            | bit(self.power_type.is_some(), party_field::POWER_TYPE)
            | bit(self.power.is_some(), party_field::CUR_POWER)
            | bit(self.max_power.is_some(), party_field::MAX_POWER)
            | bit(self.level.is_some(), party_field::LEVEL)
            | bit(self.zone.is_some(), party_field::ZONE)
    }

    /// The body, under the opcode of its variant.
    pub fn render(&self) -> (Opcode, bytes::Bytes) {
        let opcode = if self.full {
            Opcode::SMSG_PARTY_MEMBER_STATS_FULL
        } else {
            Opcode::SMSG_PARTY_MEMBER_STATS
        };
        (opcode, self.to_body())
    }

    /// Decodes either variant.
    pub fn decode_as(opcode: Opcode, body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let full = opcode == Opcode::SMSG_PARTY_MEMBER_STATS_FULL;
        if full {
            r.u8("full_marker")?;
        }
        let guid = r.packed_guid("guid")?;
        let mask = r.u32("mask")?;
        if mask & !party_field::KNOWN != 0 {
            return Err(DecodeError::InvalidValue {
                field: "mask",
                value: u64::from(mask),
            });
        }
        let has = |bit: u32| mask & bit != 0;
        let mut s = Self {
            full,
            guid,
            ..Self::default()
        };
        if has(party_field::STATUS) {
            s.status = Some(r.u16("status")?);
        }
        if has(party_field::CUR_HP) {
            s.hp = Some(r.u32("cur_hp")?);
        }
        if has(party_field::MAX_HP) {
            s.max_hp = Some(r.u32("max_hp")?);
        }
        if has(party_field::POWER_TYPE) {
            s.power_type = Some(r.u8("power_type")?);
        }
        if has(party_field::CUR_POWER) {
            s.power = Some(r.u16("cur_power")?);
        }
        if has(party_field::MAX_POWER) {
            s.max_power = Some(r.u16("max_power")?);
        }
        if has(party_field::LEVEL) {
            s.level = Some(r.u16("level")?);
        }
        if has(party_field::ZONE) {
            s.zone = Some(r.u16("zone")?);
        }
        Ok(s)
    }
}

impl WirePacket for PartyMemberStats {
    const OPCODE: Opcode = Opcode::SMSG_PARTY_MEMBER_STATS;
    fn encode(&self, out: &mut BytesMut) {
        if self.full {
            out.put_u8(0);
        }
        out.put_packed_guid(self.guid);
        out.put_u32_le(self.mask());
        if let Some(v) = self.status {
            out.put_u16_le(v);
        }
        if let Some(v) = self.hp {
            out.put_u32_le(v);
        }
        if let Some(v) = self.max_hp {
            out.put_u32_le(v);
        }
        if let Some(v) = self.power_type {
            out.put_u8(v);
        }
        if let Some(v) = self.power {
            out.put_u16_le(v);
        }
        if let Some(v) = self.max_power {
            out.put_u16_le(v);
        }
        if let Some(v) = self.level {
            out.put_u16_le(v);
        }
        if let Some(v) = self.zone {
            out.put_u16_le(v);
        }
    }
    /// Decodes the incremental variant (see [`PartyMemberStats::decode_as`] for both).
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_as(Opcode::SMSG_PARTY_MEMBER_STATS, body)
    }
}

/// CMSG_REQUEST_PARTY_MEMBER_STATS (0x27F): u64 guid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestPartyMemberStats {
    /// The member asked about.
    pub guid: u64,
}

impl WirePacket for RequestPartyMemberStats {
    const OPCODE: Opcode = Opcode::CMSG_REQUEST_PARTY_MEMBER_STATS;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u64_le(self.guid);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            guid: r.u64("guid")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let s = PartyMemberStats {
            full: false,
            guid: 0x2A,
            status: Some(member_status::ONLINE),
            hp: Some(1_000),
            max_hp: None,
            power_type: Some(0),
            power: Some(500),
            max_power: None,
            level: Some(80),
            zone: Some(12),
        };
        let body = s.to_body();
        assert_eq!(
            body.as_ref(),
            [
                0x01, 0x2A, // packed guid
                0xDB, 0, 0, 0, // mask 1|2|8|0x10|0x40|0x80
                1, 0, // status
                0xE8, 3, 0, 0, // hp
                0, // power type
                0xF4, 1, // power
                80, 0, // level
                12, 0, // zone
            ]
        );
        assert_eq!(PartyMemberStats::decode(&body), Ok(s));
        let full = PartyMemberStats { full: true, ..s };
        let (opcode, body) = full.render();
        assert_eq!(opcode, Opcode::SMSG_PARTY_MEMBER_STATS_FULL);
        assert_eq!(body[0], 0, "AzerothCore's leading byte");
        assert_eq!(PartyMemberStats::decode_as(opcode, &body), Ok(full));
        for end in 0..body.len() {
            assert!(PartyMemberStats::decode_as(opcode, &body[..end]).is_err());
        }
        // Pet and aura fields are not this body's.
        assert!(PartyMemberStats::decode(&[1, 2, 0, 2, 0, 0]).is_err());
    }
}
