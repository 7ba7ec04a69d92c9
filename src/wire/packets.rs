//! Typed bodies of the packets the gateway acts on (PROTOCOL.md section 4) and of the few it
//! renders around the handshake. Every decoder is bounds-checked: it never panics and never
//! allocates more than the body it was given.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{DecodeError, Reader};
use super::opcode::Opcode;

/// A packet body that is one C string, the field `$field` of at most `$max` bytes. Defined
/// before the modules so each family can declare its own.
macro_rules! cstr_packet {
    ($(#[$doc:meta] $name:ident => $opcode:ident, $field:ident, $max:expr;)*) => {$(
        #[$doc]
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// The string the body carries.
            pub $field: String,
        }

        impl WirePacket for $name {
            const OPCODE: Opcode = Opcode::$opcode;
            fn encode(&self, out: &mut BytesMut) {
                out.put_cstr(&self.$field);
            }
            fn decode(body: &[u8]) -> Result<Self, DecodeError> {
                Ok(Self {
                    $field: Reader::new(body).cstr(stringify!($field), $max)?.to_owned(),
                })
            }
        }
    )*};
}

mod channel;
mod character;
mod chat;
mod contacts;
mod group;
mod group_commands;
mod guild;
mod guild_commands;
mod guild_ranks;
mod info;
mod party;
mod raid;
mod social;
mod timing;
mod who;
mod world;

pub use channel::{
    CHANNEL_LIST_MAX, CHANNEL_PASSWORD_MAX_BYTES, ChannelDisplayListRequest, ChannelList,
    ChannelListMember, ChannelListRequest, ChannelNotify, JoinChannel, LeaveChannel, NotifyDetail,
    channel_flag, channel_notify, member_flag,
};
pub use character::{
    AccountDataTimes, CharCreate, CharEnum, CharRename, CharRenameResult, CharacterLoginFailed,
    EnumCharacter, EnumEquipment, LoginFailure, RealmSplit, char_result,
};
pub use chat::{
    CHANNEL_NAME_MAX_BYTES, ChatMessage, ChatPlayerNotFound, ChatTarget, ClientChat, chat_tag,
    chat_type,
};
pub use contacts::{
    AddFriend, AddIgnore, CONTACTS_FRIENDS_MAX, CONTACTS_IGNORED_MAX, CONTACTS_MAX, Contact,
    ContactList, ContactListRequest, SetContactNotes, contact_flag,
};
pub use group::{
    GROUP_GUID_HIGH, GROUP_MEMBERS_MAX, GroupInvite, GroupList, GroupListMember, GroupLoot,
    group_type,
};
pub use group_commands::{
    InviteToGroup, KICK_REASON_MAX_BYTES, PartyCommandResult, SetLootMethod, UninviteByGuid,
    UninviteByName, party_operation, party_result,
};
pub use guild::{
    GUILD_BANK_TABS, GUILD_EVENT_PARAM_MAX_BYTES, GUILD_EVENT_PARAMS_MAX, GUILD_MEMBERS_MAX,
    GUILD_NOTE_MAX_BYTES, GUILD_RANKS_MAX, GuildEvent, GuildInvite, GuildRoster, RosterMember,
    RosterRank, guild_event,
};
pub use guild_commands::{
    GUILD_TEXT_MAX_BYTES, GuildAddRank, GuildCommandResult, GuildDemote, GuildInviteRequest,
    GuildPromote, GuildQuery, GuildQueryResponse, GuildRemove, GuildSetInfo, GuildSetMotd,
    GuildSetNote, guild_command, guild_error,
};
pub use guild_ranks::{GuildPermissions, GuildRankUpdate};
pub use info::{
    AddonAnswer, AddonInfo, CHAT_TEXT_MAX_BYTES, DeclinedNames, InitWorldStates, LevelupInfo,
    MAX_POWERS, MAX_STATS, Motd, NameQueryResponse, SystemMessage, TutorialFlags,
};
pub use party::{PartyMemberStats, RequestPartyMemberStats, member_status, party_field};
pub use raid::{DifficultyChanged, RaidTargetRequest, RaidTargets, TARGET_ICON_LIST, TARGET_ICONS};
pub use social::{FRIEND_NOTE_MAX_BYTES, FriendOnline, FriendStatus, friend_result};
pub use timing::{Ping, TimeSyncResp};
pub use who::{
    WHO_DISPLAY_MAX, WHO_STRING_MAX_BYTES, WHO_STRINGS_MAX, WHO_ZONES_MAX, WhoEntry, WhoList,
    WhoRequest,
};
pub use world::{
    LoginVerifyWorld, LogoutResponse, MapPosition, NewWorld, Position, TransferAborted,
    TransferPending,
};

/// Longest character or realm name accepted (bytes, NUL excluded).
pub const NAME_MAX_BYTES: usize = 64;
/// Longest MOTD line accepted (bytes, NUL excluded).
pub const MOTD_LINE_MAX_BYTES: usize = 1024;
/// Longest short free-form string (realm split date) accepted.
pub const SHORT_TEXT_MAX_BYTES: usize = 64;
/// Equipment slots listed per character in SMSG_CHAR_ENUM.
pub const CHAR_ENUM_EQUIPMENT_SLOTS: usize = 23;
/// Account data slots (bits of the account data times mask).
pub const ACCOUNT_DATA_SLOTS: usize = 8;
/// Account data mask for global data.
pub const ACCOUNT_DATA_GLOBAL_MASK: u32 = 0x15;
/// Account data mask for per-character data.
pub const ACCOUNT_DATA_PER_CHARACTER_MASK: u32 = 0xEA;

/// A packet body with a fixed opcode.
pub trait WirePacket: Sized {
    /// The opcode this body travels under.
    const OPCODE: Opcode;

    /// Appends the body to `out`.
    fn encode(&self, out: &mut BytesMut);

    /// Parses a body.
    fn decode(body: &[u8]) -> Result<Self, DecodeError>;

    /// The body as fresh bytes.
    fn to_body(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

macro_rules! empty_packet {
    ($(#[$doc:meta] $name:ident => $opcode:ident;)*) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl WirePacket for $name {
            const OPCODE: Opcode = Opcode::$opcode;
            fn encode(&self, _out: &mut BytesMut) {}
            fn decode(_body: &[u8]) -> Result<Self, DecodeError> {
                // Trailing bytes are ignored, as the worldserver does.
                Ok(Self)
            }
        }
    )*};
}

macro_rules! guid_packet {
    ($(#[$doc:meta] $name:ident => $opcode:ident;)*) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name {
            /// The guid the body carries.
            pub guid: u64,
        }

        impl WirePacket for $name {
            const OPCODE: Opcode = Opcode::$opcode;
            fn encode(&self, out: &mut BytesMut) {
                out.put_u64_le(self.guid);
            }
            fn decode(body: &[u8]) -> Result<Self, DecodeError> {
                Ok(Self {
                    guid: Reader::new(body).u64("guid")?,
                })
            }
        }
    )*};
}

guid_packet! {
    /// CMSG_DEL_FRIEND (0x06A): u64 guid, the friend to remove.
    DelFriend => CMSG_DEL_FRIEND;
    /// CMSG_DEL_IGNORE (0x06D): u64 guid, the character to stop ignoring.
    DelIgnore => CMSG_DEL_IGNORE;
    /// CMSG_GROUP_SET_LEADER (0x078): u64 guid, the new leader.
    SetGroupLeader => CMSG_GROUP_SET_LEADER;
}

empty_packet! {
    /// CMSG_CHAR_ENUM: list my characters.
    CharEnumRequest => CMSG_CHAR_ENUM;
    /// MSG_MOVE_WORLDPORT_ACK: the client finished loading after SMSG_NEW_WORLD.
    WorldportAck => MSG_MOVE_WORLDPORT_ACK;
    /// CMSG_LOGOUT_REQUEST.
    LogoutRequest => CMSG_LOGOUT_REQUEST;
    /// SMSG_LOGOUT_COMPLETE.
    LogoutComplete => SMSG_LOGOUT_COMPLETE;
    /// CMSG_READY_FOR_ACCOUNT_DATA_TIMES.
    ReadyForAccountDataTimes => CMSG_READY_FOR_ACCOUNT_DATA_TIMES;
    /// TC9_CMSG_PREPARE_FOR_REDIRECT: ask a worldserver to save and release the player.
    PrepareForRedirect => TC9_CMSG_PREPARE_FOR_REDIRECT;
}

macro_rules! single_field_packet {
    ($(#[$doc:meta] $name:ident => $opcode:ident { $field:ident : $ty:ty, $get:ident, $put:ident };)*) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name {
            #[allow(missing_docs)]
            pub $field: $ty,
        }

        impl WirePacket for $name {
            const OPCODE: Opcode = Opcode::$opcode;
            fn encode(&self, out: &mut BytesMut) {
                out.$put(self.$field);
            }
            fn decode(body: &[u8]) -> Result<Self, DecodeError> {
                let mut r = Reader::new(body);
                Ok(Self { $field: r.$get(stringify!($field))? })
            }
        }
    )*};
}

single_field_packet! {
    /// SMSG_CHAR_CREATE: u8 result (0x2F success).
    CharCreateResult => SMSG_CHAR_CREATE { result: u8, u8, put_u8 };
    /// CMSG_CHAR_DELETE: u64 guid.
    CharDelete => CMSG_CHAR_DELETE { guid: u64, u64, put_u64_le };
    /// SMSG_CHAR_DELETE: u8 result (0x47 success).
    CharDeleteResult => SMSG_CHAR_DELETE { result: u8, u8, put_u8 };
    /// CMSG_PLAYER_LOGIN: u64 guid (trailing bytes ignored).
    PlayerLogin => CMSG_PLAYER_LOGIN { guid: u64, u64, put_u64_le };
    /// SMSG_PONG: echoes the ping's sequence number.
    Pong => SMSG_PONG { seq: u32, u32, put_u32_le };
    /// SMSG_TIME_SYNC_REQ: u32 counter.
    TimeSyncReq => SMSG_TIME_SYNC_REQ { counter: u32, u32, put_u32_le };
    /// CMSG_REALM_SPLIT: u32 decision.
    RealmSplitRequest => CMSG_REALM_SPLIT { decision: u32, u32, put_u32_le };
    /// CMSG_NAME_QUERY: u64 guid (plain, not packed).
    NameQuery => CMSG_NAME_QUERY { guid: u64, u64, put_u64_le };
    /// TC9_SMSG_READY_FOR_REDIRECT: u8 status (0 released, 1 failed).
    ReadyForRedirect => TC9_SMSG_READY_FOR_REDIRECT { status: u8, u8, put_u8 };
    /// SMSG_CLIENTCACHE_VERSION: u32 version.
    ClientCacheVersion => SMSG_CLIENTCACHE_VERSION { version: u32, u32, put_u32_le };
}
