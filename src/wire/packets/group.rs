//! Groups: SMSG_GROUP_LIST (the party or raid frame's member list) and SMSG_GROUP_INVITE (the
//! invitation dialog), as AzerothCore writes them (PRESENTATION.md section 1).

use bytes::{BufMut, BytesMut};

use super::{NAME_MAX_BYTES, WirePacket};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// Members of a group, the player included, at most (a raid is 40).
pub const GROUP_MEMBERS_MAX: usize = 40;

/// The high part AzerothCore gives a group's guid (`HighGuid::Group`).
pub const GROUP_GUID_HIGH: u64 = 0x1F50 << 48;

/// `GroupType` bits of SMSG_GROUP_LIST.
pub mod group_type {
    /// A battleground group.
    pub const BG: u8 = 0x1;
    /// A raid.
    pub const RAID: u8 = 0x2;
    /// An LFG group (the LFG block follows the header).
    pub const LFG: u8 = 0x8;
    /// What AzerothCore writes in the empty list of a group that is gone.
    pub const NONE_LEFT: u8 = 0x10;
}

/// One other member in SMSG_GROUP_LIST.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupListMember {
    /// Name.
    pub name: String,
    /// Guid.
    pub guid: u64,
    /// Online state: 1 online, 0 offline.
    pub online: u8,
    /// Subgroup (0..=7).
    pub subgroup: u8,
    /// `GroupMemberFlags`: assistant, main tank, main assist.
    pub flags: u8,
    /// LFG roles.
    pub roles: u8,
}

/// The loot and difficulty part, sent when the group has other members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupLoot {
    /// Loot method.
    pub method: u8,
    /// Master looter (0 unless master loot).
    pub master_looter: u64,
    /// Loot threshold (item quality).
    pub threshold: u8,
    /// Dungeon difficulty.
    pub dungeon_difficulty: u8,
    /// Raid difficulty.
    pub raid_difficulty: u8,
    /// Dynamic heroic (0).
    pub dynamic_heroic: u8,
}

/// SMSG_GROUP_LIST (0x07D): u8 group type, u8 the player's subgroup, u8 its flags, u8 its
/// roles, [u8 LFG status, u32 dungeon when the type has LFG], u64 group guid, u32 update
/// counter, u32 other members, each (cstr name, u64 guid, u8 online, u8 subgroup, u8 flags,
/// u8 roles), u64 leader, then the loot part when there are other members. At most
/// [`GROUP_MEMBERS_MAX`] − 1 others are sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupList {
    /// [`group_type`] bits.
    pub group_type: u8,
    /// The player's subgroup.
    pub subgroup: u8,
    /// The player's flags.
    pub flags: u8,
    /// The player's roles.
    pub roles: u8,
    /// LFG status and dungeon, for an LFG group (zeros when `None`).
    pub lfg: Option<(u8, u32)>,
    /// The group's guid.
    pub group_guid: u64,
    /// Update counter (the client ignores a list older than the last it saw).
    pub counter: u32,
    /// The other members.
    pub members: Vec<GroupListMember>,
    /// The leader's guid.
    pub leader: u64,
    /// Loot and difficulty (zeros when `None`), sent when there are other members.
    pub loot: Option<GroupLoot>,
}

impl GroupList {
    /// The list of a group that is gone (after a leave, a removal or a disband), as
    /// AzerothCore writes it.
    pub fn empty(group_guid: u64, counter: u32) -> Self {
        Self {
            group_type: group_type::NONE_LEFT,
            group_guid,
            counter,
            ..Self::default()
        }
    }
}

fn cut_name(s: &str) -> &str {
    let s = s.split('\0').next().unwrap_or_default();
    let mut end = s.len().min(NAME_MAX_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl WirePacket for GroupList {
    const OPCODE: Opcode = Opcode::SMSG_GROUP_LIST;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.group_type);
        out.put_u8(self.subgroup);
        out.put_u8(self.flags);
        out.put_u8(self.roles);
        if self.group_type & group_type::LFG != 0 {
            let (status, dungeon) = self.lfg.unwrap_or_default();
            out.put_u8(status);
            out.put_u32_le(dungeon);
        }
        out.put_u64_le(self.group_guid);
        out.put_u32_le(self.counter);
        let others = &self.members[..self.members.len().min(GROUP_MEMBERS_MAX - 1)];
        // At most 39: fits.
        out.put_u32_le(others.len() as u32);
        for m in others {
            out.put_cstr(cut_name(&m.name));
            out.put_u64_le(m.guid);
            out.put_u8(m.online);
            out.put_u8(m.subgroup);
            out.put_u8(m.flags);
            out.put_u8(m.roles);
        }
        out.put_u64_le(self.leader);
        if !others.is_empty() {
            let l = self.loot.unwrap_or_default();
            out.put_u8(l.method);
            out.put_u64_le(l.master_looter);
            out.put_u8(l.threshold);
            out.put_u8(l.dungeon_difficulty);
            out.put_u8(l.raid_difficulty);
            out.put_u8(l.dynamic_heroic);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let group_type = r.u8("group_type")?;
        let subgroup = r.u8("subgroup")?;
        let flags = r.u8("flags")?;
        let roles = r.u8("roles")?;
        let lfg = if group_type & group_type::LFG != 0 {
            Some((r.u8("lfg_status")?, r.u32("lfg_dungeon")?))
        } else {
            None
        };
        let group_guid = r.u64("group_guid")?;
        let counter = r.u32("counter")?;
        let n = r.u32("member_count")?;
        let n = r.check_count("member_count", u64::from(n), GROUP_MEMBERS_MAX - 1, 13)?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            members.push(GroupListMember {
                name: r.cstr("name", NAME_MAX_BYTES)?.to_owned(),
                guid: r.u64("guid")?,
                online: r.u8("online")?,
                subgroup: r.u8("subgroup")?,
                flags: r.u8("member_flags")?,
                roles: r.u8("member_roles")?,
            });
        }
        let leader = r.u64("leader")?;
        let loot = if members.is_empty() {
            None
        } else {
            Some(GroupLoot {
                method: r.u8("loot_method")?,
                master_looter: r.u64("master_looter")?,
                threshold: r.u8("loot_threshold")?,
                dungeon_difficulty: r.u8("dungeon_difficulty")?,
                raid_difficulty: r.u8("raid_difficulty")?,
                dynamic_heroic: r.u8("dynamic_heroic")?,
            })
        };
        Ok(Self {
            group_type,
            subgroup,
            flags,
            roles,
            lfg,
            group_guid,
            counter,
            members,
            leader,
            loot,
        })
    }
}

/// SMSG_GROUP_INVITE (0x06F): u8 status (1: can accept), cstr inviter, u32 0, u8 0, u32 0.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupInvite {
    /// 1: the player may accept; 0: it is in a group already.
    pub status: u8,
    /// Who invites.
    pub inviter: String,
}

impl WirePacket for GroupInvite {
    const OPCODE: Opcode = Opcode::SMSG_GROUP_INVITE;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.status);
        out.put_cstr(cut_name(&self.inviter));
        out.put_u32_le(0);
        out.put_u8(0);
        out.put_u32_le(0);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let status = r.u8("status")?;
        let inviter = r.cstr("inviter", NAME_MAX_BYTES)?.to_owned();
        r.u32("unknown1")?;
        r.u8("unknown2")?;
        r.u32("unknown3")?;
        Ok(Self { status, inviter })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_list_is_azerothcores() {
        let body = GroupList::empty(GROUP_GUID_HIGH | 5, 9).to_body();
        assert_eq!(
            body.as_ref(),
            [
                0x10, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0x50, 0x1F, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0
            ]
        );
        assert_eq!(
            GroupList::decode(&body),
            Ok(GroupList::empty(GROUP_GUID_HIGH | 5, 9))
        );
    }

    #[test]
    fn a_party_and_its_prefixes() {
        let list = GroupList {
            group_type: 0,
            subgroup: 0,
            flags: 0,
            roles: 0,
            lfg: None,
            group_guid: 5,
            counter: 1,
            members: vec![GroupListMember {
                name: "Bob".into(),
                guid: 9,
                online: 1,
                subgroup: 0,
                flags: 0,
                roles: 0,
            }],
            leader: 9,
            loot: Some(GroupLoot {
                method: 3,
                threshold: 2,
                ..GroupLoot::default()
            }),
        };
        let body = list.to_body();
        assert_eq!(GroupList::decode(&body), Ok(list));
        for end in 0..body.len() {
            assert!(GroupList::decode(&body[..end]).is_err(), "prefix {end}");
        }
        let invite = GroupInvite {
            status: 1,
            inviter: "Bob".into(),
        };
        let body = invite.to_body();
        assert_eq!(
            body.as_ref(),
            [1, b'B', b'o', b'b', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(GroupInvite::decode(&body), Ok(invite));
    }
}
