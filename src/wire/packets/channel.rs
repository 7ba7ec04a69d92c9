//! Chat channels: the client's requests (CMSG_JOIN_CHANNEL, CMSG_LEAVE_CHANNEL,
//! CMSG_CHANNEL_LIST and CMSG_CHANNEL_DISPLAY_LIST) and what the server says of a channel
//! (SMSG_CHANNEL_NOTIFY, SMSG_CHANNEL_LIST), as AzerothCore's channel handlers read them and
//! its `Channel` class writes them.

use bytes::{BufMut, BytesMut};

use super::{CHANNEL_NAME_MAX_BYTES, WirePacket};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// Longest channel password accepted (bytes, NUL excluded).
pub const CHANNEL_PASSWORD_MAX_BYTES: usize = 128;
/// Members an SMSG_CHANNEL_LIST carries at most (a packet of 9 bytes a member stays far
/// below the 5-byte header's limit; a channel larger than this is listed in part).
pub const CHANNEL_LIST_MAX: usize = 4_096;

/// A channel's flags (`ChannelFlags`), as SMSG_CHANNEL_NOTIFY YOU_JOINED and
/// SMSG_CHANNEL_LIST carry them.
pub mod channel_flag {
    /// A player-made channel.
    pub const CUSTOM: u8 = 0x01;
    /// Trade.
    pub const TRADE: u8 = 0x04;
    /// Not the looking-for-group channel.
    pub const NOT_LFG: u8 = 0x08;
    /// A general (zone) channel.
    pub const GENERAL: u8 = 0x10;
    /// A city channel.
    pub const CITY: u8 = 0x20;
    /// Looking for group.
    pub const LFG: u8 = 0x40;
    /// Voice chat.
    pub const VOICE: u8 = 0x80;
}

/// A member's flags in a channel (`ChannelMemberFlags`).
pub mod member_flag {
    /// No rights.
    pub const NONE: u8 = 0x00;
    /// The owner.
    pub const OWNER: u8 = 0x01;
    /// A moderator.
    pub const MODERATOR: u8 = 0x02;
    /// Voiced.
    pub const VOICED: u8 = 0x04;
    /// Muted.
    pub const MUTED: u8 = 0x08;
}

/// What an SMSG_CHANNEL_NOTIFY says (`ChatNotify`).
pub mod channel_notify {
    /// Someone joined (u64 guid).
    pub const JOINED: u8 = 0x00;
    /// Someone left (u64 guid).
    pub const LEFT: u8 = 0x01;
    /// You joined (u8 channel flags, u32 channel id, u32 0).
    pub const YOU_JOINED: u8 = 0x02;
    /// You left (u32 channel id, u8 whether the channel is a built-in one).
    pub const YOU_LEFT: u8 = 0x03;
    /// Wrong password.
    pub const WRONG_PASSWORD: u8 = 0x04;
    /// You are not on that channel.
    pub const NOT_MEMBER: u8 = 0x05;
    /// You are not a moderator.
    pub const NOT_MODERATOR: u8 = 0x06;
    /// The password was changed (u64 by whom).
    pub const PASSWORD_CHANGED: u8 = 0x07;
    /// The owner changed (u64 the new owner).
    pub const OWNER_CHANGED: u8 = 0x08;
    /// No such player (cstr name).
    pub const PLAYER_NOT_FOUND: u8 = 0x09;
    /// You are not the owner.
    pub const NOT_OWNER: u8 = 0x0A;
    /// The owner is (cstr name).
    pub const CHANNEL_OWNER: u8 = 0x0B;
    /// A member's flags changed (u64 guid, u8 old flags, u8 new flags).
    pub const MODE_CHANGE: u8 = 0x0C;
    /// Announcements on (u64 by whom).
    pub const ANNOUNCEMENTS_ON: u8 = 0x0D;
    /// Announcements off (u64 by whom).
    pub const ANNOUNCEMENTS_OFF: u8 = 0x0E;
    /// Moderation on (u64 by whom).
    pub const MODERATION_ON: u8 = 0x0F;
    /// Moderation off (u64 by whom).
    pub const MODERATION_OFF: u8 = 0x10;
    /// You are muted.
    pub const MUTED: u8 = 0x11;
    /// A player was kicked (u64 kicked, u64 by whom).
    pub const PLAYER_KICKED: u8 = 0x12;
    /// You are banned.
    pub const BANNED: u8 = 0x13;
    /// A player was banned (u64 banned, u64 by whom).
    pub const PLAYER_BANNED: u8 = 0x14;
    /// A player was unbanned (u64 unbanned, u64 by whom).
    pub const PLAYER_UNBANNED: u8 = 0x15;
    /// That player is not banned (cstr name).
    pub const PLAYER_NOT_BANNED: u8 = 0x16;
    /// That player is already a member (u64 guid).
    pub const PLAYER_ALREADY_MEMBER: u8 = 0x17;
    /// You are invited (u64 by whom).
    pub const INVITE: u8 = 0x18;
    /// The invitee is of the other faction.
    pub const INVITE_WRONG_FACTION: u8 = 0x19;
    /// The channel is the other faction's.
    pub const WRONG_FACTION: u8 = 0x1A;
    /// Not a valid channel name.
    pub const INVALID_NAME: u8 = 0x1B;
    /// The channel is not moderated.
    pub const NOT_MODERATED: u8 = 0x1C;
    /// You invited a player (cstr name).
    pub const PLAYER_INVITED: u8 = 0x1D;
    /// That player is banned from the channel (cstr name).
    pub const PLAYER_INVITE_BANNED: u8 = 0x1E;
    /// You are speaking too fast.
    pub const THROTTLED: u8 = 0x1F;
    /// You are not in the right area.
    pub const NOT_IN_AREA: u8 = 0x20;
    /// You are not looking for a group.
    pub const NOT_IN_LFG: u8 = 0x21;
    /// Voice on (u64 by whom).
    pub const VOICE_ON: u8 = 0x22;
    /// Voice off (u64 by whom).
    pub const VOICE_OFF: u8 = 0x23;
}

/// CMSG_JOIN_CHANNEL (0x097): u32 channel id (0 for a player-made channel), u8, u8, cstr
/// name, cstr password.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinChannel {
    /// The built-in channel's id (`ChatChannels.dbc`), 0 for a player-made one.
    pub channel_id: u32,
    /// Two bytes AzerothCore reads and ignores.
    pub unknown: [u8; 2],
    /// The channel's name.
    pub name: String,
    /// Its password, empty for none.
    pub password: String,
}

impl WirePacket for JoinChannel {
    const OPCODE: Opcode = Opcode::CMSG_JOIN_CHANNEL;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.channel_id);
        out.put_slice(&self.unknown);
        out.put_cstr(&self.name);
        out.put_cstr(&self.password);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            channel_id: r.u32("channel_id")?,
            unknown: r.array("unknown")?,
            name: r.cstr("name", CHANNEL_NAME_MAX_BYTES)?.to_owned(),
            password: r.cstr("password", CHANNEL_PASSWORD_MAX_BYTES)?.to_owned(),
        })
    }
}

/// CMSG_LEAVE_CHANNEL (0x098): u32 (unused), cstr name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaveChannel {
    /// A value AzerothCore reads and ignores.
    pub unknown: u32,
    /// The channel's name.
    pub name: String,
}

impl WirePacket for LeaveChannel {
    const OPCODE: Opcode = Opcode::CMSG_LEAVE_CHANNEL;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.unknown);
        out.put_cstr(&self.name);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            unknown: r.u32("unknown")?,
            name: r.cstr("name", CHANNEL_NAME_MAX_BYTES)?.to_owned(),
        })
    }
}

cstr_packet! {
    /// CMSG_CHANNEL_LIST (0x09A): cstr channel name (the chat frame's /chatlist).
    ChannelListRequest => CMSG_CHANNEL_LIST, channel, CHANNEL_NAME_MAX_BYTES;
    /// CMSG_CHANNEL_DISPLAY_LIST (0x3D2): cstr channel name (the social pane's channel tab).
    ChannelDisplayListRequest => CMSG_CHANNEL_DISPLAY_LIST, channel, CHANNEL_NAME_MAX_BYTES;
}

/// What follows the channel name in an SMSG_CHANNEL_NOTIFY; its [`channel_notify`] type
/// decides which shape it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyDetail {
    /// Nothing (WRONG_PASSWORD, NOT_MEMBER, MUTED, THROTTLED, ...).
    None,
    /// A guid: who joined, left, changed the password, became owner, toggled a setting,
    /// invited you, or is already a member.
    Guid(u64),
    /// YOU_JOINED: the channel's flags and id.
    YouJoined {
        /// [`channel_flag`] bits.
        flags: u8,
        /// The built-in channel's id, 0 for a player-made one.
        channel_id: u32,
    },
    /// YOU_LEFT: the channel's id and whether it is a built-in one.
    YouLeft {
        /// The built-in channel's id, 0 for a player-made one.
        channel_id: u32,
        /// 1 for a built-in channel.
        constant: u8,
    },
    /// MODE_CHANGE: whose flags changed, from what to what ([`member_flag`] bits).
    ModeChange {
        /// The member.
        guid: u64,
        /// Its flags before.
        old: u8,
        /// Its flags now.
        new: u8,
    },
    /// A name (PLAYER_NOT_FOUND, CHANNEL_OWNER, PLAYER_NOT_BANNED, PLAYER_INVITED,
    /// PLAYER_INVITE_BANNED).
    Name(String),
    /// Two guids: who was kicked, banned or unbanned, and by whom.
    TwoGuids(u64, u64),
}

impl NotifyDetail {
    /// The shape AzerothCore gives a notification of type `kind`, filled from what an event
    /// carries: `target` (the member concerned), `second` (who acted), `name`, and a mode
    /// change's flags. Types AzerothCore never sends get no detail.
    pub fn for_kind(kind: u8, target: u64, second: u64, name: &str, flags: (u8, u8)) -> Self {
        use channel_notify as n;
        match kind {
            n::JOINED
            | n::LEFT
            | n::PASSWORD_CHANGED
            | n::OWNER_CHANGED
            | n::ANNOUNCEMENTS_ON
            | n::ANNOUNCEMENTS_OFF
            | n::MODERATION_ON
            | n::MODERATION_OFF
            | n::PLAYER_ALREADY_MEMBER
            | n::INVITE
            | n::VOICE_ON
            | n::VOICE_OFF => Self::Guid(target),
            n::YOU_JOINED => Self::YouJoined {
                flags: flags.1,
                channel_id: 0,
            },
            n::YOU_LEFT => Self::YouLeft {
                channel_id: 0,
                constant: 0,
            },
            n::MODE_CHANGE => Self::ModeChange {
                guid: target,
                old: flags.0,
                new: flags.1,
            },
            n::PLAYER_NOT_FOUND
            | n::CHANNEL_OWNER
            | n::PLAYER_NOT_BANNED
            | n::PLAYER_INVITED
            | n::PLAYER_INVITE_BANNED => Self::Name(name.to_owned()),
            n::PLAYER_KICKED | n::PLAYER_BANNED | n::PLAYER_UNBANNED => {
                Self::TwoGuids(target, second)
            }
            _ => Self::None,
        }
    }

    fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::None => {}
            Self::Guid(guid) => out.put_u64_le(*guid),
            Self::YouJoined { flags, channel_id } => {
                out.put_u8(*flags);
                out.put_u32_le(*channel_id);
                out.put_u32_le(0);
            }
            Self::YouLeft {
                channel_id,
                constant,
            } => {
                out.put_u32_le(*channel_id);
                out.put_u8(*constant);
            }
            Self::ModeChange { guid, old, new } => {
                out.put_u64_le(*guid);
                out.put_u8(*old);
                out.put_u8(*new);
            }
            Self::Name(name) => out.put_cstr(name),
            Self::TwoGuids(a, b) => {
                out.put_u64_le(*a);
                out.put_u64_le(*b);
            }
        }
    }

    fn decode(kind: u8, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match Self::for_kind(kind, 0, 0, "", (0, 0)) {
            Self::None => Self::None,
            Self::Guid(_) => Self::Guid(r.u64("guid")?),
            Self::YouJoined { .. } => {
                let flags = r.u8("channel_flags")?;
                let channel_id = r.u32("channel_id")?;
                r.u32("unused")?;
                Self::YouJoined { flags, channel_id }
            }
            Self::YouLeft { .. } => Self::YouLeft {
                channel_id: r.u32("channel_id")?,
                constant: r.u8("constant")?,
            },
            Self::ModeChange { .. } => Self::ModeChange {
                guid: r.u64("guid")?,
                old: r.u8("old_flags")?,
                new: r.u8("new_flags")?,
            },
            Self::Name(_) => Self::Name(r.cstr("name", CHANNEL_NAME_MAX_BYTES)?.to_owned()),
            Self::TwoGuids(..) => Self::TwoGuids(r.u64("guid")?, r.u64("by_guid")?),
        })
    }
}

/// SMSG_CHANNEL_NOTIFY (0x099): u8 type, cstr channel name, then what the type carries
/// ([`NotifyDetail`]). A detail that disagrees with the type is sent as given; decoding reads
/// the shape the type has in AzerothCore and ignores trailing bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelNotify {
    /// A [`channel_notify`] value.
    pub kind: u8,
    /// The channel's name.
    pub channel: String,
    /// What the type carries.
    pub detail: NotifyDetail,
}

impl ChannelNotify {
    /// A notification whose type carries nothing but the channel's name, or whose detail
    /// [`NotifyDetail::for_kind`] fills from `target` and `name`.
    pub fn simple(kind: u8, channel: &str, target: u64, name: &str) -> Self {
        Self {
            kind,
            channel: channel.to_owned(),
            detail: NotifyDetail::for_kind(kind, target, 0, name, (0, 0)),
        }
    }
}

impl WirePacket for ChannelNotify {
    const OPCODE: Opcode = Opcode::SMSG_CHANNEL_NOTIFY;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.kind);
        out.put_cstr(&self.channel);
        self.detail.encode(out);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let kind = r.u8("type")?;
        let channel = r.cstr("channel", CHANNEL_NAME_MAX_BYTES)?.to_owned();
        let detail = NotifyDetail::decode(kind, &mut r)?;
        Ok(Self {
            kind,
            channel,
            detail,
        })
    }
}

/// One member in an SMSG_CHANNEL_LIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelListMember {
    /// The member's guid.
    pub guid: u64,
    /// Its [`member_flag`] bits.
    pub flags: u8,
}

/// SMSG_CHANNEL_LIST (0x09B): u8 1, cstr channel name, u8 channel flags, u32 count, then per
/// member u64 guid and u8 flags. At most [`CHANNEL_LIST_MAX`] members are sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelList {
    /// The channel's name.
    pub channel: String,
    /// Its [`channel_flag`] bits.
    pub flags: u8,
    /// Its members.
    pub members: Vec<ChannelListMember>,
}

impl WirePacket for ChannelList {
    const OPCODE: Opcode = Opcode::SMSG_CHANNEL_LIST;
    fn encode(&self, out: &mut BytesMut) {
        let members = &self.members[..self.members.len().min(CHANNEL_LIST_MAX)];
        out.put_u8(1);
        out.put_cstr(&self.channel);
        out.put_u8(self.flags);
        out.put_u32_le(members.len() as u32);
        for m in members {
            out.put_u64_le(m.guid);
            out.put_u8(m.flags);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        r.u8("display")?;
        let channel = r.cstr("channel", CHANNEL_NAME_MAX_BYTES)?.to_owned();
        let flags = r.u8("flags")?;
        let n = r.count_u32("count", CHANNEL_LIST_MAX, 9)?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            members.push(ChannelListMember {
                guid: r.u64("guid")?,
                flags: r.u8("member_flags")?,
            });
        }
        Ok(Self {
            channel,
            flags,
            members,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn you_joined_is_written_as_azerothcore_writes_it() {
        let n = ChannelNotify {
            kind: channel_notify::YOU_JOINED,
            channel: "General - Elwynn Forest".into(),
            detail: NotifyDetail::YouJoined {
                flags: channel_flag::GENERAL | channel_flag::NOT_LFG,
                channel_id: 1,
            },
        };
        let body = n.to_body();
        let mut want = vec![0x02];
        want.extend_from_slice(b"General - Elwynn Forest\0");
        want.extend_from_slice(&[0x18, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&body[..], &want[..]);
        assert_eq!(ChannelNotify::decode(&body).expect("decodes"), n);
    }

    #[test]
    fn each_type_has_azerothcores_shape() {
        use channel_notify as n;
        let name_only = [
            n::NOT_MEMBER,
            n::WRONG_PASSWORD,
            n::MUTED,
            n::THROTTLED,
            0x30,
        ];
        for kind in name_only {
            assert_eq!(
                NotifyDetail::for_kind(kind, 5, 6, "x", (1, 2)),
                NotifyDetail::None
            );
        }
        assert_eq!(
            NotifyDetail::for_kind(n::MODE_CHANGE, 5, 6, "x", (2, 3)),
            NotifyDetail::ModeChange {
                guid: 5,
                old: 2,
                new: 3
            }
        );
        assert_eq!(
            NotifyDetail::for_kind(n::PLAYER_KICKED, 5, 6, "x", (0, 0)),
            NotifyDetail::TwoGuids(5, 6)
        );
        assert_eq!(
            NotifyDetail::for_kind(n::PLAYER_NOT_FOUND, 5, 6, "Bob", (0, 0)),
            NotifyDetail::Name("Bob".into())
        );
        assert_eq!(
            NotifyDetail::for_kind(n::OWNER_CHANGED, 5, 6, "x", (0, 0)),
            NotifyDetail::Guid(5)
        );
    }

    #[test]
    fn a_list_round_trips_and_a_lying_count_is_refused() {
        let list = ChannelList {
            channel: "pugs".into(),
            flags: channel_flag::CUSTOM,
            members: vec![
                ChannelListMember {
                    guid: 7,
                    flags: member_flag::OWNER | member_flag::MODERATOR,
                },
                ChannelListMember { guid: 9, flags: 0 },
            ],
        };
        let body = list.to_body();
        assert_eq!(body[0], 1);
        assert_eq!(ChannelList::decode(&body).expect("decodes"), list);
        let mut lying = body.to_vec();
        let count_at = 1 + "pugs".len() + 1 + 1;
        lying[count_at] = 3;
        assert!(ChannelList::decode(&lying).is_err());
    }
}
