//! The client's group commands (invite, kick, leader, loot) and their result line
//! (SMSG_PARTY_COMMAND_RESULT), as AzerothCore's group handlers read and write them.
//! Commands without a body (accept, decline, leave, raid conversion) need no type.

use bytes::{BufMut, BytesMut};

use super::{NAME_MAX_BYTES, WirePacket};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// Longest kick reason accepted (bytes, NUL excluded).
pub const KICK_REASON_MAX_BYTES: usize = 256;

/// SMSG_PARTY_COMMAND_RESULT operations (AzerothCore's `PartyOperation`).
pub mod party_operation {
    /// An invitation (also the answer to a raid conversion).
    pub const INVITE: u32 = 0;
    /// A kick.
    pub const UNINVITE: u32 = 1;
    /// Leaving the group.
    pub const LEAVE: u32 = 2;
}

/// SMSG_PARTY_COMMAND_RESULT results (AzerothCore's `PartyResult`) the gateway renders.
pub mod party_result {
    /// Done.
    pub const OK: u32 = 0;
    /// No such player (online, for an invitation).
    pub const BAD_PLAYER_NAME: u32 = 1;
    /// The group is full.
    pub const GROUP_FULL: u32 = 4;
    /// The invitee is in a group already.
    pub const ALREADY_IN_GROUP: u32 = 5;
    /// Only the leader may do that.
    pub const NOT_LEADER: u32 = 7;
}

/// SMSG_PARTY_COMMAND_RESULT (0x07F): u32 operation, cstr name, u32 result, u32 value
/// (AzerothCore adds the value: a dungeon finder cooldown, else 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartyCommandResult {
    /// A [`party_operation`].
    pub operation: u32,
    /// The player it concerns (may be empty).
    pub name: String,
    /// A [`party_result`].
    pub result: u32,
    /// The extra value (0).
    pub value: u32,
}

impl WirePacket for PartyCommandResult {
    const OPCODE: Opcode = Opcode::SMSG_PARTY_COMMAND_RESULT;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.operation);
        out.put_cstr(&self.name);
        out.put_u32_le(self.result);
        out.put_u32_le(self.value);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            operation: r.u32("operation")?,
            name: r.cstr("name", NAME_MAX_BYTES)?.to_owned(),
            result: r.u32("result")?,
            value: r.u32("value")?,
        })
    }
}

/// CMSG_GROUP_INVITE (0x06E): cstr name, then a u32 the gateway does not read (0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InviteToGroup {
    /// The invitee's name as typed.
    pub name: String,
}

impl WirePacket for InviteToGroup {
    const OPCODE: Opcode = Opcode::CMSG_GROUP_INVITE;
    fn encode(&self, out: &mut BytesMut) {
        out.put_cstr(&self.name);
        out.put_u32_le(0);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let name = r.cstr("name", NAME_MAX_BYTES)?.to_owned();
        r.u32("unknown")?;
        Ok(Self { name })
    }
}

cstr_packet! {
    /// CMSG_GROUP_UNINVITE (0x075): cstr name, as typed.
    UninviteByName => CMSG_GROUP_UNINVITE, name, NAME_MAX_BYTES;
}

/// CMSG_GROUP_UNINVITE_GUID (0x076): u64 guid, cstr reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UninviteByGuid {
    /// The member.
    pub guid: u64,
    /// Why (may be empty).
    pub reason: String,
}

impl WirePacket for UninviteByGuid {
    const OPCODE: Opcode = Opcode::CMSG_GROUP_UNINVITE_GUID;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u64_le(self.guid);
        out.put_cstr(&self.reason);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            guid: r.u64("guid")?,
            reason: r.cstr("reason", KICK_REASON_MAX_BYTES)?.to_owned(),
        })
    }
}

/// CMSG_LOOT_METHOD (0x07A): u32 method, u64 master looter, u32 quality threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetLootMethod {
    /// The loot method (0 free for all .. 4 need before greed).
    pub method: u32,
    /// The master looter (master loot only).
    pub looter: u64,
    /// The item quality from which rolls start.
    pub threshold: u32,
}

impl WirePacket for SetLootMethod {
    const OPCODE: Opcode = Opcode::CMSG_LOOT_METHOD;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.method);
        out.put_u64_le(self.looter);
        out.put_u32_le(self.threshold);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            method: r.u32("method")?,
            looter: r.u64("looter")?,
            threshold: r.u32("threshold")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::packets::SetGroupLeader;

    #[test]
    fn layouts() {
        let result = PartyCommandResult {
            operation: party_operation::INVITE,
            name: "Bob".into(),
            result: party_result::ALREADY_IN_GROUP,
            value: 0,
        };
        let body = result.to_body();
        assert_eq!(
            body.as_ref(),
            [0, 0, 0, 0, b'B', b'o', b'b', 0, 5, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(PartyCommandResult::decode(&body), Ok(result));
        let invite = InviteToGroup { name: "Bob".into() };
        assert_eq!(invite.to_body().as_ref(), b"Bob\0\0\0\0\0");
        assert_eq!(InviteToGroup::decode(&invite.to_body()), Ok(invite));
        assert!(InviteToGroup::decode(b"Bob\0").is_err(), "the u32 is read");
        let loot = SetLootMethod {
            method: 2,
            looter: 9,
            threshold: 3,
        };
        assert_eq!(
            loot.to_body().as_ref(),
            [2, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]
        );
        assert_eq!(SetLootMethod::decode(&loot.to_body()), Ok(loot));
        let kick = UninviteByGuid {
            guid: 4,
            reason: "afk".into(),
        };
        assert_eq!(
            kick.to_body().as_ref(),
            [4, 0, 0, 0, 0, 0, 0, 0, b'a', b'f', b'k', 0]
        );
        assert_eq!(UninviteByGuid::decode(&kick.to_body()), Ok(kick));
        assert_eq!(
            UninviteByName::decode(b"Al\0"),
            Ok(UninviteByName { name: "Al".into() })
        );
        assert_eq!(
            SetGroupLeader::decode(&[1, 0, 0, 0, 0, 0, 0, 0]),
            Ok(SetGroupLeader { guid: 1 })
        );
        assert!(SetGroupLeader::decode(&[1, 0]).is_err());
    }
}
