//! Opcodes of the 3.3.5a (build 12340) world protocol and of ToCloud9 cluster mode.
//!
//! [`Opcode`] is a newtype over the wire number, so an opcode the gateway has no name for
//! still travels through it untouched. The named constants are the ones the gateway, its
//! peers and its renderers act on.

use std::fmt;

/// A world-protocol opcode. Client headers carry it as a `u32`, server headers as a `u16`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Opcode(pub u32);

macro_rules! opcodes {
    ($($name:ident = $value:expr;)*) => {
        impl Opcode {
            $(
                #[doc = concat!("`", stringify!($name), "` (", stringify!($value), ").")]
                pub const $name: Opcode = Opcode($value);
            )*

            /// Every named opcode, in ascending order.
            pub const NAMED: &'static [Opcode] = &[$(Opcode::$name),*];

            /// The protocol's name for this opcode, if the gateway knows it.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

opcodes! {
    CMSG_CHAR_CREATE = 0x036;
    CMSG_CHAR_ENUM = 0x037;
    CMSG_CHAR_DELETE = 0x038;
    SMSG_CHAR_CREATE = 0x03A;
    SMSG_CHAR_ENUM = 0x03B;
    SMSG_CHAR_DELETE = 0x03C;
    CMSG_PLAYER_LOGIN = 0x03D;
    SMSG_NEW_WORLD = 0x03E;
    SMSG_TRANSFER_PENDING = 0x03F;
    SMSG_TRANSFER_ABORTED = 0x040;
    SMSG_CHARACTER_LOGIN_FAILED = 0x041;
    SMSG_LOGIN_SETTIMESPEED = 0x042;
    CMSG_PLAYER_LOGOUT = 0x04A;
    CMSG_LOGOUT_REQUEST = 0x04B;
    SMSG_LOGOUT_RESPONSE = 0x04C;
    SMSG_LOGOUT_COMPLETE = 0x04D;
    CMSG_LOGOUT_CANCEL = 0x04E;
    SMSG_LOGOUT_CANCEL_ACK = 0x04F;
    CMSG_NAME_QUERY = 0x050;
    SMSG_NAME_QUERY_RESPONSE = 0x051;
    CMSG_GUILD_QUERY = 0x054;
    SMSG_GUILD_QUERY_RESPONSE = 0x055;
    CMSG_WHO = 0x062;
    SMSG_WHO = 0x063;
    CMSG_CONTACT_LIST = 0x066;
    SMSG_CONTACT_LIST = 0x067;
    SMSG_FRIEND_STATUS = 0x068;
    CMSG_ADD_FRIEND = 0x069;
    CMSG_DEL_FRIEND = 0x06A;
    CMSG_SET_CONTACT_NOTES = 0x06B;
    CMSG_ADD_IGNORE = 0x06C;
    CMSG_DEL_IGNORE = 0x06D;
    CMSG_GROUP_INVITE = 0x06E;
    SMSG_GROUP_INVITE = 0x06F;
    CMSG_GROUP_ACCEPT = 0x072;
    CMSG_GROUP_DECLINE = 0x073;
    SMSG_GROUP_DECLINE = 0x074;
    CMSG_GROUP_UNINVITE = 0x075;
    CMSG_GROUP_UNINVITE_GUID = 0x076;
    SMSG_GROUP_UNINVITE = 0x077;
    CMSG_GROUP_SET_LEADER = 0x078;
    SMSG_GROUP_SET_LEADER = 0x079;
    CMSG_LOOT_METHOD = 0x07A;
    CMSG_GROUP_DISBAND = 0x07B;
    SMSG_GROUP_DESTROYED = 0x07C;
    SMSG_GROUP_LIST = 0x07D;
    SMSG_PARTY_MEMBER_STATS = 0x07E;
    SMSG_PARTY_COMMAND_RESULT = 0x07F;
    CMSG_GUILD_INVITE = 0x082;
    SMSG_GUILD_INVITE = 0x083;
    CMSG_GUILD_ACCEPT = 0x084;
    CMSG_GUILD_DECLINE = 0x085;
    CMSG_GUILD_ROSTER = 0x089;
    SMSG_GUILD_ROSTER = 0x08A;
    CMSG_GUILD_PROMOTE = 0x08B;
    CMSG_GUILD_DEMOTE = 0x08C;
    CMSG_GUILD_LEAVE = 0x08D;
    CMSG_GUILD_REMOVE = 0x08E;
    CMSG_GUILD_MOTD = 0x091;
    SMSG_GUILD_EVENT = 0x092;
    SMSG_GUILD_COMMAND_RESULT = 0x093;
    CMSG_MESSAGECHAT = 0x095;
    SMSG_MESSAGECHAT = 0x096;
    CMSG_JOIN_CHANNEL = 0x097;
    CMSG_LEAVE_CHANNEL = 0x098;
    SMSG_CHANNEL_NOTIFY = 0x099;
    CMSG_CHANNEL_LIST = 0x09A;
    SMSG_CHANNEL_LIST = 0x09B;
    SMSG_UPDATE_OBJECT = 0x0A9;
    SMSG_DESTROY_OBJECT = 0x0AA;
    MSG_MOVE_STOP = 0x0B7;
    MSG_MOVE_WORLDPORT_ACK = 0x0DC;
    MSG_MOVE_HEARTBEAT = 0x0EE;
    SMSG_TUTORIAL_FLAGS = 0x0FD;
    CMSG_TEXT_EMOTE = 0x104;
    SMSG_TEXT_EMOTE = 0x105;
    SMSG_LEVELUP_INFO = 0x1D4;
    CMSG_PING = 0x1DC;
    SMSG_PONG = 0x1DD;
    SMSG_AUTH_CHALLENGE = 0x1EC;
    CMSG_AUTH_SESSION = 0x1ED;
    SMSG_AUTH_RESPONSE = 0x1EE;
    CMSG_ZONEUPDATE = 0x1F4;
    SMSG_COMPRESSED_UPDATE_OBJECT = 0x1F6;
    SMSG_LFG_PLAYER_REWARD = 0x1FF;
    SMSG_LFG_TELEPORT_DENIED = 0x200;
    SMSG_ACCOUNT_DATA_TIMES = 0x209;
    CMSG_GUILD_RANK = 0x231;
    CMSG_GUILD_ADD_RANK = 0x232;
    CMSG_GUILD_DEL_RANK = 0x233;
    CMSG_GUILD_SET_PUBLIC_NOTE = 0x234;
    CMSG_GUILD_SET_OFFICER_NOTE = 0x235;
    SMSG_LOGIN_VERIFY_WORLD = 0x236;
    CMSG_SET_ACTIVE_MOVER = 0x26A;
    CMSG_GROUP_CHANGE_SUB_GROUP = 0x27E;
    CMSG_REQUEST_PARTY_MEMBER_STATS = 0x27F;
    MSG_QUERY_NEXT_MAIL_TIME = 0x284;
    SMSG_RECEIVED_MAIL = 0x285;
    CMSG_GROUP_RAID_CONVERT = 0x28E;
    CMSG_GROUP_ASSISTANT_LEADER = 0x28F;
    SMSG_LFG_OFFER_CONTINUE = 0x293;
    SMSG_CHAT_PLAYER_NOT_FOUND = 0x2A9;
    SMSG_LFG_ROLE_CHOSEN = 0x2BB;
    SMSG_INIT_WORLD_STATES = 0x2C2;
    CMSG_CHAR_RENAME = 0x2C7;
    SMSG_CHAR_RENAME = 0x2C8;
    SMSG_BATTLEFIELD_STATUS = 0x2D4;
    SMSG_WARDEN_DATA = 0x2E6;
    CMSG_WARDEN_DATA = 0x2E7;
    SMSG_ADDON_INFO = 0x2EF;
    SMSG_PARTY_MEMBER_STATS_FULL = 0x2F2;
    CMSG_GUILD_INFO_TEXT = 0x2FC;
    MSG_RAID_TARGET_UPDATE = 0x321;
    MSG_RAID_READY_CHECK = 0x322;
    MSG_SET_DUNGEON_DIFFICULTY = 0x329;
    SMSG_MOTD = 0x33D;
    CMSG_LFG_JOIN = 0x35C;
    CMSG_LFG_LEAVE = 0x35D;
    SMSG_LFG_PROPOSAL_UPDATE = 0x361;
    CMSG_LFG_PROPOSAL_RESULT = 0x362;
    SMSG_LFG_ROLE_CHECK_UPDATE = 0x363;
    SMSG_LFG_JOIN_RESULT = 0x364;
    SMSG_LFG_QUEUE_STATUS = 0x365;
    SMSG_LFG_UPDATE_PLAYER = 0x367;
    SMSG_LFG_UPDATE_PARTY = 0x368;
    CMSG_LFG_SET_ROLES = 0x36A;
    SMSG_LFG_BOOT_PROPOSAL_UPDATE = 0x36D;
    CMSG_LFD_PLAYER_LOCK_INFO_REQUEST = 0x36E;
    SMSG_LFG_PLAYER_INFO = 0x36F;
    CMSG_LFG_TELEPORT = 0x370;
    CMSG_LFD_PARTY_LOCK_INFO_REQUEST = 0x371;
    SMSG_LFG_PARTY_INFO = 0x372;
    SMSG_REALM_SPLIT = 0x38B;
    CMSG_REALM_SPLIT = 0x38C;
    MSG_PARTY_ASSIGNMENT = 0x38E;
    SMSG_TIME_SYNC_REQ = 0x390;
    CMSG_TIME_SYNC_RESP = 0x391;
    SMSG_LFG_DISABLED = 0x398;
    MSG_RAID_READY_CHECK_CONFIRM = 0x3AE;
    SMSG_GM_MESSAGECHAT = 0x3B3;
    MSG_RAID_READY_CHECK_FINISHED = 0x3C6;
    SMSG_FEATURE_SYSTEM_STATUS = 0x3C9;
    CMSG_CHANNEL_DISPLAY_LIST = 0x3D2;
    MSG_GUILD_PERMISSIONS = 0x3FD;
    CMSG_KEEP_ALIVE = 0x407;
    SMSG_LEARNED_DANCE_MOVES = 0x455;
    SMSG_AURA_UPDATE_ALL = 0x495;
    SMSG_AURA_UPDATE = 0x496;
    SMSG_CLIENTCACHE_VERSION = 0x4AB;
    MSG_SET_RAID_DIFFICULTY = 0x4EB;
    CMSG_READY_FOR_ACCOUNT_DATA_TIMES = 0x4FF;
    TC9_CMSG_PREPARE_FOR_REDIRECT = 0x51F;
    TC9_SMSG_READY_FOR_REDIRECT = 0x520;
}

/// The stock client's opcode count: a client may not send an opcode at or above this.
pub const NUM_MSG_TYPES: u32 = 0x51F;

/// The cluster build's opcode count: the worldserver closes a gateway connection that sends an
/// opcode at or above this.
pub const NUM_CLUSTER_MSG_TYPES: u32 = 0x521;

impl Opcode {
    /// ToCloud9's gateway-worldserver opcodes (0x51F and up): never on a game client's wire.
    pub fn is_cluster_internal(self) -> bool {
        self.0 >= NUM_MSG_TYPES
    }

    /// The opcode as the 16-bit field of a server header. Server opcodes are always below
    /// 0x10000; a larger value is truncated exactly as the worldserver would.
    pub fn as_u16(self) -> u16 {
        (self.0 & 0xFFFF) as u16
    }
}

impl fmt::Debug for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}(0x{:03X})", self.0),
            None => write!(f, "0x{:03X}", self.0),
        }
    }
}

impl From<u16> for Opcode {
    fn from(v: u16) -> Self {
        Opcode(u32::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_sorted() {
        for pair in Opcode::NAMED.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{} and {} out of order or equal",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn cluster_opcodes_sit_at_the_client_limit() {
        assert_eq!(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT.0, NUM_MSG_TYPES);
        assert_eq!(
            Opcode::TC9_SMSG_READY_FOR_REDIRECT.0 + 1,
            NUM_CLUSTER_MSG_TYPES
        );
    }

    #[test]
    fn display_names_known_and_numbers_unknown() {
        assert_eq!(
            Opcode::CMSG_AUTH_SESSION.to_string(),
            "CMSG_AUTH_SESSION(0x1ED)"
        );
        assert_eq!(Opcode(0x123).to_string(), "0x123");
    }
}
