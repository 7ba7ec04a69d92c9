//! Which players on this gateway an event from the cluster's bus is for (CONTRACTS.md section
//! 2.4). Pure: no I/O, no clock.
//!
//! Every subscribed subject has a row in [`SUBSCRIPTIONS`]: its payload's Go struct (checked
//! the way Go's decoder checks it, [`super::gojson`]) and the field that names the receivers.
//! What ToCloud9's gateway does, and so what this does:
//!
//! | family | receivers |
//! |---|---|
//! | chat whisper | `ReceiverGUID` (the subject already names this gateway) |
//! | chat channel message, joined, left | the channel's members on this gateway ([`ChannelMembers`], by lower-cased `ChannelName`) |
//! | chat channel notify | `AffectsPlayer` when non-zero, else the channel's members |
//! | guild invite | `InviteeGUID` |
//! | guild member, rank, MOTD events | `MembersOnline` |
//! | guild message | `Receivers` |
//! | mail | `ReceiverGUID` |
//! | group invite | `InviteeGUID` |
//! | group created | every `Members[].MemberGUID` |
//! | group online, left, disband, added, leader, loot, raid | `OnlineMembers` |
//! | group message, target icons, difficulty, member stats | `Receivers` |
//! | matchmaking | `PlayersGUID`: 32-bit low GUIDs, which are this realm's character GUIDs |
//! | friends status | `NotifyPlayers` |
//! | friends added, removed, note | `PlayerGUID` |
//!
//! One difference, on purpose: ToCloud9 checks `RealmID` only for matchmaking (whose GUIDs
//! are low GUIDs, ambiguous across realms). Character GUIDs are only unique within a realm,
//! so here every payload that carries `RealmID` (all but the whisper, whose subject names the
//! gateway) reaches this gateway's players only when it names this gateway's realm.
//! ToCloud9's producers always set it to the realm the event belongs to.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::value::RawValue;

use super::gojson::Kind::{Bool, I64, LowGuidToU8, Objects, Str, U8, U32, U32s, U64, U64s};
use super::gojson::{Field, Malformed, Object};
use crate::session::CharacterGuid;

/// How a payload names the players it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receivers {
    /// One GUID field.
    One(&'static str),
    /// An array of GUIDs.
    Many(&'static str),
    /// A GUID field of every element of an array of structs.
    EachOf(&'static str, &'static str),
    /// An array of this realm's 32-bit low GUIDs.
    LowGuids(&'static str),
    /// The members of the channel named by `ChannelName`.
    Channel,
    /// `AffectsPlayer` when non-zero, otherwise the members of the channel.
    AffectedOrChannel,
}

/// One subject the gateway subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    /// The subject, with `{gatewayID}` where the gateway's id goes.
    pub subject: &'static str,
    /// The envelope's `t` its producer writes (never read: routing is by subject).
    pub event_type: u8,
    /// The payload's Go struct.
    pub fields: &'static [Field],
    /// Who it is for.
    pub receivers: Receivers,
}

impl Subscription {
    /// Whether the payload carries `RealmID` (and so reaches only this realm's players).
    pub fn realm_scoped(&self) -> bool {
        self.fields.iter().any(|f| f.key == "RealmID")
    }

    /// The subject with the gateway's id in place.
    pub fn subject_for(&self, gateway_id: &str) -> String {
        self.subject.replace("{gatewayID}", gateway_id)
    }
}

const fn sub(
    subject: &'static str,
    event_type: u8,
    fields: &'static [Field],
    receivers: Receivers,
) -> Subscription {
    Subscription {
        subject,
        event_type,
        fields,
        receivers,
    }
}

use Receivers::{AffectedOrChannel, Channel, EachOf, LowGuids, Many, One};

/// Every subject of CONTRACTS.md section 2.4, in its order.
pub const SUBSCRIPTIONS: &[Subscription] = &[
    sub(
        "chat.gw.{gatewayID}.income.whisper",
        1,
        CHAT_INCOMING_WHISPER,
        One("ReceiverGUID"),
    ),
    sub(
        "chat.gw.ALL.channel.message",
        2,
        CHAT_CHANNEL_MESSAGE,
        Channel,
    ),
    sub(
        "chat.gw.ALL.channel.joined",
        3,
        CHAT_CHANNEL_JOINED,
        Channel,
    ),
    sub("chat.gw.ALL.channel.left", 4, CHAT_CHANNEL_LEFT, Channel),
    sub(
        "chat.gw.ALL.channel.notify",
        5,
        CHAT_CHANNEL_NOTIFICATION,
        AffectedOrChannel,
    ),
    sub(
        "guild.invite.created",
        1,
        GUILD_INVITE_CREATED,
        One("InviteeGUID"),
    ),
    sub(
        "guild.member.added",
        2,
        GUILD_MEMBER_ADDED,
        Many("MembersOnline"),
    ),
    sub(
        "guild.member.left",
        3,
        GUILD_MEMBER_LEFT,
        Many("MembersOnline"),
    ),
    sub(
        "guild.member.kicked",
        4,
        GUILD_MEMBER_KICKED,
        Many("MembersOnline"),
    ),
    sub(
        "guild.rank.created",
        7,
        GUILD_RANK_CREATED,
        Many("MembersOnline"),
    ),
    sub(
        "guild.rank.updated",
        8,
        GUILD_RANK_UPDATED,
        Many("MembersOnline"),
    ),
    sub(
        "guild.rank.deleted",
        9,
        GUILD_RANK_DELETED,
        Many("MembersOnline"),
    ),
    sub(
        "guild.member.promoted",
        10,
        GUILD_MEMBER_PROMOTE,
        Many("MembersOnline"),
    ),
    sub(
        "guild.member.demoted",
        11,
        GUILD_MEMBER_DEMOTE,
        Many("MembersOnline"),
    ),
    sub(
        "guild.motd.updated",
        12,
        GUILD_MOTD_UPDATED,
        Many("MembersOnline"),
    ),
    sub(
        "guild.message.new",
        14,
        GUILD_NEW_MESSAGE,
        Many("Receivers"),
    ),
    sub("mail.incoming", 1, MAIL_INCOMING_MAIL, One("ReceiverGUID")),
    sub(
        "group.invite.created",
        1,
        GROUP_INVITE_CREATED,
        One("InviteeGUID"),
    ),
    sub(
        "group.created",
        2,
        GROUP_CREATED,
        EachOf("Members", "MemberGUID"),
    ),
    sub(
        "group.member.online.changed",
        3,
        GROUP_MEMBER_ONLINE_STATUS_CHANGED,
        Many("OnlineMembers"),
    ),
    sub(
        "group.member.left",
        4,
        GROUP_MEMBER_LEFT,
        Many("OnlineMembers"),
    ),
    sub("group.disband", 5, GROUP_DISBAND, Many("OnlineMembers")),
    sub(
        "group.member.added",
        6,
        GROUP_MEMBER_ADDED,
        Many("OnlineMembers"),
    ),
    sub(
        "group.leader.changed",
        7,
        GROUP_LEADER_CHANGED,
        Many("OnlineMembers"),
    ),
    sub(
        "group.loot.changed",
        8,
        GROUP_LOOT_TYPE_CHANGED,
        Many("OnlineMembers"),
    ),
    sub(
        "group.converted.raid",
        9,
        GROUP_CONVERTED_TO_RAID,
        Many("OnlineMembers"),
    ),
    sub(
        "group.message.new",
        10,
        GROUP_NEW_MESSAGE,
        Many("Receivers"),
    ),
    sub(
        "group.targeticons.new",
        11,
        GROUP_NEW_TARGET_ICON,
        Many("Receivers"),
    ),
    sub(
        "group.difficulty.changed",
        12,
        GROUP_DIFFICULTY_CHANGED,
        Many("Receivers"),
    ),
    sub(
        "group.members.updated",
        13,
        GROUP_MEMBERS_UPDATED,
        Many("Receivers"),
    ),
    sub(
        "matchmaking.pvpqueue.joined",
        1,
        MATCHMAKING_PLAYERS_QUEUED,
        LowGuids("PlayersGUID"),
    ),
    sub(
        "matchmaking.pvpqueue.invited",
        2,
        MATCHMAKING_PLAYERS_INVITED,
        LowGuids("PlayersGUID"),
    ),
    sub(
        "matchmaking.pvpqueue.invite.expired",
        3,
        MATCHMAKING_PLAYERS_INVITE_EXPIRED,
        LowGuids("PlayersGUID"),
    ),
    sub(
        "friends.status.changed",
        1,
        FRIEND_STATUS_CHANGE,
        Many("NotifyPlayers"),
    ),
    sub("friends.friend.added", 2, FRIEND_ADDED, One("PlayerGUID")),
    sub(
        "friends.friend.removed",
        3,
        FRIEND_REMOVED,
        One("PlayerGUID"),
    ),
    sub(
        "friends.note.updated",
        4,
        FRIEND_NOTE_UPDATE,
        One("PlayerGUID"),
    ),
];

/// Where one event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// These characters, each once, in the payload's order (none named: nobody).
    To(Vec<CharacterGuid>),
    /// The members of this channel (name lower-cased) on this gateway.
    Channel(String),
    /// The payload is for another realm's players.
    OtherRealm(u32),
}

/// The envelope's Go struct, less `p` (a `json.RawMessage`, which takes any value).
const ENVELOPE: &[Field] = &[Field::new("v", Str), Field::new("t", I64)];

/// The envelope's payload `p`, still JSON, as Go's gateway reads it: the body must be one JSON
/// object whose `v` is a string and `t` an integer (when given), and it must have a `p`.
pub fn open_envelope(body: &[u8]) -> Result<&RawValue, Malformed> {
    let text = std::str::from_utf8(body).map_err(|e| Malformed::Syntax(e.to_string()))?;
    let envelope = Object::parse(text, "envelope")?.ok_or(Malformed::NoPayload)?;
    envelope.check(ENVELOPE, "")?;
    envelope.last("p").ok_or(Malformed::NoPayload)
}

/// Who `payload` (the envelope's `p`) on `sub`'s subject is for, on a gateway of realm
/// `realm_id`. Refused when Go's decoder would refuse the payload.
pub fn route(sub: &Subscription, payload: &str, realm_id: u32) -> Result<Route, Malformed> {
    // `null` decodes as a zero struct in Go: realm 0, nobody named.
    let p = Object::parse(payload, "p")?.unwrap_or_default();
    p.check(sub.fields, "p")?;
    if sub.realm_scoped() {
        let realm = u32::try_from(p.uint("RealmID")).unwrap_or(u32::MAX);
        if realm != realm_id {
            return Ok(Route::OtherRealm(realm));
        }
    }
    let guids = match sub.receivers {
        Receivers::One(field) => vec![p.uint(field)],
        Receivers::Many(field) | Receivers::LowGuids(field) => p.uints(field),
        Receivers::EachOf(array, field) => p
            .objects(array)
            .iter()
            .map(|o| o.as_ref().map_or(0, |o| o.uint(field)))
            .collect(),
        Receivers::Channel => return Ok(Route::Channel(channel_key(&p.string("ChannelName")))),
        Receivers::AffectedOrChannel => match p.uint("AffectsPlayer") {
            0 => return Ok(Route::Channel(channel_key(&p.string("ChannelName")))),
            guid => vec![guid],
        },
    };
    let mut seen = BTreeSet::new();
    Ok(Route::To(
        guids
            .into_iter()
            .filter(|&g| g != 0 && seen.insert(g))
            .map(CharacterGuid)
            .collect(),
    ))
}

/// A channel's name as channels are keyed: lower-cased, as ToCloud9's gateway keys them.
pub fn channel_key(name: &str) -> String {
    name.to_lowercase()
}

/// Channels one character may be in at once, at most (the client shows ten).
pub const CHANNELS_PER_PLAYER_MAX: usize = 32;

/// Which characters on this gateway are in which chat channels: who a channel event is for.
/// ToCloud9's gateway keeps the same table, filled when the chat service confirms a join;
/// presentation fills this one (join, leave, and forget at logout).
#[derive(Debug, Default, Clone)]
pub struct ChannelMembers {
    by_channel: BTreeMap<String, BTreeSet<CharacterGuid>>,
    by_player: BTreeMap<CharacterGuid, BTreeSet<String>>,
}

impl ChannelMembers {
    /// `guid` joined channel `name`. False (and nothing changes) when it is already in
    /// [`CHANNELS_PER_PLAYER_MAX`] channels.
    pub fn join(&mut self, guid: CharacterGuid, name: &str) -> bool {
        let key = channel_key(name);
        let mine = self.by_player.entry(guid).or_default();
        if !mine.contains(&key) && mine.len() >= CHANNELS_PER_PLAYER_MAX {
            return false;
        }
        mine.insert(key.clone());
        self.by_channel.entry(key).or_default().insert(guid);
        true
    }

    /// `guid` left channel `name`.
    pub fn leave(&mut self, guid: CharacterGuid, name: &str) {
        let key = channel_key(name);
        if let Some(mine) = self.by_player.get_mut(&guid) {
            mine.remove(&key);
            if mine.is_empty() {
                self.by_player.remove(&guid);
            }
        }
        self.drop_member(&key, guid);
    }

    /// `guid` left the world: out of every channel.
    pub fn forget(&mut self, guid: CharacterGuid) {
        for key in self.by_player.remove(&guid).unwrap_or_default() {
            self.drop_member(&key, guid);
        }
    }

    /// The members of channel `key` (see [`channel_key`]), ascending.
    pub fn members(&self, key: &str) -> Vec<CharacterGuid> {
        self.by_channel
            .get(key)
            .map(|m| m.iter().copied().collect())
            .unwrap_or_default()
    }

    fn drop_member(&mut self, key: &str, guid: CharacterGuid) {
        if let Some(members) = self.by_channel.get_mut(key) {
            members.remove(&guid);
            if members.is_empty() {
                self.by_channel.remove(key);
            }
        }
    }
}

// The payloads' Go structs (CONTRACTS.md section 2.4), field by field.

/// `ChatEventIncomingWhisperPayload`
const CHAT_INCOMING_WHISPER: &[Field] = &[
    Field::new("SenderGUID", U64),
    Field::new("SenderName", Str),
    Field::new("SenderRace", U8),
    Field::new("ReceiverGUID", U64),
    Field::new("ReceiverName", Str),
    Field::new("Language", U32),
    Field::new("Msg", Str),
];

/// `ChatEventChannelMessagePayload`
const CHAT_CHANNEL_MESSAGE: &[Field] = &[
    Field::new("RealmID", U32),
    Field::new("ChannelName", Str),
    Field::new("ChannelID", U32),
    Field::new("SenderGUID", U64),
    Field::new("SenderName", Str),
    Field::new("Language", U32),
    Field::new("Message", Str),
];

/// `ChatEventChannelJoinedPayload`
const CHAT_CHANNEL_JOINED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("ChannelName", Str),
    Field::new("ChannelID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("PlayerName", Str),
    Field::new("PlayerFlags", U8),
];

/// `ChatEventChannelLeftPayload`
const CHAT_CHANNEL_LEFT: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("ChannelName", Str),
    Field::new("ChannelID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("PlayerName", Str),
];

/// `ChatEventChannelNotificationPayload`
const CHAT_CHANNEL_NOTIFICATION: &[Field] = &[
    Field::new("RealmID", U32),
    Field::new("ChannelName", Str),
    Field::new("ChannelID", U32),
    Field::new("NotifyType", U8),
    Field::new("TargetGUID", U64),
    Field::new("TargetName", Str),
    Field::new("SecondGUID", U64),
    Field::new("OldFlags", U8),
    Field::new("NewFlags", U8),
    Field::new("ExtraData", Str),
    Field::new("AffectsPlayer", U64),
];

/// `GuildEventInviteCreatedPayload`
const GUILD_INVITE_CREATED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("InviterGUID", U64),
    Field::new("InviterName", Str),
    Field::new("InviteeGUID", U64),
    Field::new("InviteeName", Str),
];

/// `GuildEventMemberAddedPayload`
const GUILD_MEMBER_ADDED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("MemberGUID", U64),
    Field::new("MemberName", Str),
];

/// `GuildEventMemberLeftPayload`
const GUILD_MEMBER_LEFT: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("MemberGUID", U64),
    Field::new("MemberName", Str),
];

/// `GuildEventMemberKickedPayload`
const GUILD_MEMBER_KICKED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("MemberGUID", U64),
    Field::new("MemberName", Str),
    Field::new("KickerGUID", U64),
    Field::new("KickerName", Str),
];

/// `GuildEventRankCreatedPayload`
const GUILD_RANK_CREATED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("RankID", U8),
    Field::new("RankName", Str),
    Field::new("RanksCount", U8),
];

/// `GuildEventRankUpdatedPayload`
const GUILD_RANK_UPDATED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("RankID", U8),
    Field::new("RankName", Str),
    Field::new("RankRights", U32),
    Field::new("RankMoneyPerDay", U32),
    Field::new("RanksCount", U8),
];

/// `GuildEventRankDeletedPayload`
const GUILD_RANK_DELETED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("RankID", U8),
    Field::new("RankName", Str),
    Field::new("RanksCount", U8),
];

/// `GuildEventMemberPromotePayload`
const GUILD_MEMBER_PROMOTE: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("RankID", U8),
    Field::new("RankName", Str),
    Field::new("PromoterGUID", U64),
    Field::new("PromoterName", Str),
    Field::new("MemberGUID", U64),
    Field::new("MemberName", Str),
];

/// `GuildEventMemberDemotePayload`
const GUILD_MEMBER_DEMOTE: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("RankID", U8),
    Field::new("RankName", Str),
    Field::new("DemoterGUID", U64),
    Field::new("DemoterName", Str),
    Field::new("MemberGUID", U64),
    Field::new("MemberName", Str),
];

/// `GuildEventMOTDUpdatedPayload`
const GUILD_MOTD_UPDATED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("NewMessageOfTheDay", Str),
];

/// `GuildEventNewMessagePayload`
const GUILD_NEW_MESSAGE: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("SenderGUID", U64),
    Field::new("SenderName", Str),
    Field::new("Language", U32),
    Field::new("Msg", Str),
    Field::new("ForOfficers", Bool),
    Field::new("Receivers", U64s),
];

/// `MailEventIncomingMailPayload`
const MAIL_INCOMING_MAIL: &[Field] = &[
    Field::new("RealmID", U32),
    Field::new("SenderGUID", U64),
    Field::new("ReceiverGUID", U64),
    Field::new("DeliveryTimestamp", I64),
    Field::new("MailID", U32),
];

/// `GroupEventInviteCreatedPayload`
const GROUP_INVITE_CREATED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("InviterGUID", U64),
    Field::new("InviterName", Str),
    Field::new("InviteeGUID", U64),
    Field::new("InviteeName", Str),
];

/// `GroupEventGroupCreatedPayload`
const GROUP_CREATED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("LeaderGUID", U64),
    Field::new("LootMethod", U8),
    Field::new("LooterGUID", U64),
    Field::new("LootThreshold", U8),
    Field::new("GroupType", U8),
    Field::new("Difficulty", U8),
    Field::new("RaidDifficulty", U8),
    Field::new("MasterLooterGuid", U64),
    Field::new("Members", Objects(GROUP_MEMBER)),
];

/// `GroupMember`
const GROUP_MEMBER: &[Field] = &[
    Field::new("MemberGUID", U64),
    Field::new("MemberFlags", U8),
    Field::new("MemberName", Str),
    Field::new("IsOnline", Bool),
    Field::new("SubGroup", U8),
    Field::new("Roles", U8),
];

/// `GroupEventGroupMemberOnlineStatusChangedPayload`
const GROUP_MEMBER_ONLINE_STATUS_CHANGED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("MemberGUID", U64),
    Field::new("IsOnline", Bool),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupMemberLeftPayload`
const GROUP_MEMBER_LEFT: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("MemberGUID", U64),
    Field::new("MemberName", Str),
    Field::new("NewLeaderID", U64),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupDisbandPayload`
const GROUP_DISBAND: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupMemberAddedPayload`
const GROUP_MEMBER_ADDED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("MemberGUID", U64),
    Field::new("MemberName", Str),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupLeaderChangedPayload`
const GROUP_LEADER_CHANGED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("PreviousLeader", U64),
    Field::new("NewLeader", U64),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupLootTypeChangedPayload`
const GROUP_LOOT_TYPE_CHANGED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("NewLootType", U8),
    Field::new("NewLooterGUID", U64),
    Field::new("NewLooterThreshold", U8),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupConvertedToRaidPayload`
const GROUP_CONVERTED_TO_RAID: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("Leader", U64),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventNewMessagePayload`
const GROUP_NEW_MESSAGE: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("SenderGUID", U64),
    Field::new("SenderName", Str),
    Field::new("Language", U32),
    Field::new("Msg", Str),
    Field::new("MessageType", U8),
    Field::new("Receivers", U64s),
];

/// `GroupEventNewTargetIconPayload`
const GROUP_NEW_TARGET_ICON: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("Updater", U64),
    Field::new("Target", U64),
    Field::new("IconID", U8),
    Field::new("Receivers", U64s),
];

/// `GroupEventGroupDifficultyChangedPayload`
const GROUP_DIFFICULTY_CHANGED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("Updater", U64),
    Field::new("DungeonDifficulty", U8),
    Field::new("RaidDifficulty", U8),
    Field::new("Receivers", U64s),
];

/// `GroupEventGroupMembersUpdatedPayload`
const GROUP_MEMBERS_UPDATED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("Updates", Objects(GROUP_MEMBER_STATS_UPDATE)),
    Field::new("Receivers", U64s),
];

/// `GroupMemberStatsUpdate`
const GROUP_MEMBER_STATS_UPDATE: &[Field] = &[
    Field::new("MemberGUID", U64),
    Field::new("IsOnline", Bool),
    Field::new("Level", U8),
    Field::new("Zone", U32),
    Field::new("CurHP", U32),
    Field::new("MaxHP", U32),
    Field::new("PowerType", U8),
    Field::new("CurPower", U32),
    Field::new("MaxPower", U32),
];

/// `MatchmakingEventPlayersQueuedPayload`
const MATCHMAKING_PLAYERS_QUEUED: &[Field] = &[
    Field::new("RealmID", U32),
    Field::new("PlayersGUID", U32s),
    Field::new("QueueSlotByPlayer", LowGuidToU8),
    Field::new("ArenaType", U8),
    Field::new("IsRated", Bool),
    Field::new("PVPQueueMinLVL", U8),
    Field::new("PVPQueueMaxLVL", U8),
    Field::new("TypeID", U8),
    Field::new("AverageWaitingTimeMilliseconds", U32),
];

/// `MatchmakingEventPlayersInvitedPayload`
const MATCHMAKING_PLAYERS_INVITED: &[Field] = &[
    Field::new("RealmID", U32),
    Field::new("PlayersGUID", U32s),
    Field::new("QueueSlotByPlayer", LowGuidToU8),
    Field::new("ArenaType", U8),
    Field::new("IsRated", Bool),
    Field::new("PVPQueueMinLVL", U8),
    Field::new("PVPQueueMaxLVL", U8),
    Field::new("TypeID", U8),
    Field::new("MapID", U32),
    Field::new("TimeToAcceptMilliseconds", U32),
];

/// `MatchmakingEventPlayersInviteExpiredPayload`
const MATCHMAKING_PLAYERS_INVITE_EXPIRED: &[Field] = &[
    Field::new("RealmID", U32),
    Field::new("PlayersGUID", U32s),
    Field::new("QueueSlotByPlayer", LowGuidToU8),
];

/// `FriendEventStatusChangePayload`
const FRIEND_STATUS_CHANGE: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("Status", U8),
    Field::new("Area", U32),
    Field::new("Level", U32),
    Field::new("ClassID", U32),
    Field::new("NotifyPlayers", U64s),
];

/// `FriendEventAddedPayload`
const FRIEND_ADDED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("FriendGUID", U64),
    Field::new("FriendName", Str),
    Field::new("Note", Str),
];

/// `FriendEventRemovedPayload`
const FRIEND_REMOVED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("FriendGUID", U64),
];

/// `FriendEventNoteUpdatePayload`
const FRIEND_NOTE_UPDATE: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("FriendGUID", U64),
    Field::new("Note", Str),
];

#[cfg(test)]
mod tests {
    use super::*;

    const REALM: u32 = 1;

    fn subscription(subject: &str) -> &'static Subscription {
        SUBSCRIPTIONS
            .iter()
            .find(|s| s.subject == subject)
            .unwrap_or_else(|| panic!("{subject} is not subscribed"))
    }

    fn to(subject: &str, payload: &str) -> Route {
        route(subscription(subject), payload, REALM).unwrap()
    }

    fn guids(list: &[u64]) -> Route {
        Route::To(list.iter().copied().map(CharacterGuid).collect())
    }

    #[test]
    fn the_subject_list_is_section_2_4() {
        assert_eq!(SUBSCRIPTIONS.len(), 37);
        let unique: BTreeSet<_> = SUBSCRIPTIONS.iter().map(|s| s.subject).collect();
        assert_eq!(unique.len(), SUBSCRIPTIONS.len());
        let whisper = subscription("chat.gw.{gatewayID}.income.whisper");
        assert_eq!(whisper.subject_for("42"), "chat.gw.42.income.whisper");
        assert!(
            !whisper.realm_scoped(),
            "the whisper payload has no RealmID"
        );
        assert!(
            SUBSCRIPTIONS
                .iter()
                .filter(|s| s.subject != whisper.subject)
                .all(|s| s.realm_scoped())
        );
        // Every receiver field is a field of its payload.
        for s in SUBSCRIPTIONS {
            let named: Vec<&str> = match s.receivers {
                One(f) | Many(f) | LowGuids(f) => vec![f],
                EachOf(a, _) => vec![a],
                Channel => vec!["ChannelName"],
                AffectedOrChannel => vec!["ChannelName", "AffectsPlayer"],
            };
            for f in named {
                assert!(s.fields.iter().any(|x| x.key == f), "{}: {f}", s.subject);
            }
        }
    }

    #[test]
    fn chat() {
        let whisper = "chat.gw.{gatewayID}.income.whisper";
        assert_eq!(
            to(whisper, r#"{"SenderGUID":2,"ReceiverGUID":3,"Msg":"hi"}"#),
            guids(&[3])
        );
        assert_eq!(to(whisper, r#"{"receiverguid":3}"#), guids(&[3]));
        assert_eq!(to(whisper, "{}"), guids(&[]));
        let channel = r#"{"RealmID":1,"ChannelName":"Trade - City","SenderGUID":2}"#;
        for subject in [
            "chat.gw.ALL.channel.message",
            "chat.gw.ALL.channel.joined",
            "chat.gw.ALL.channel.left",
        ] {
            assert_eq!(to(subject, channel), Route::Channel("trade - city".into()));
        }
        let notify = "chat.gw.ALL.channel.notify";
        assert_eq!(
            to(
                notify,
                r#"{"RealmID":1,"ChannelName":"World","AffectsPlayer":0,"TargetGUID":4}"#
            ),
            Route::Channel("world".into())
        );
        assert_eq!(
            to(
                notify,
                r#"{"RealmID":1,"ChannelName":"World","AffectsPlayer":9}"#
            ),
            guids(&[9])
        );
        assert_eq!(
            to(notify, r#"{"RealmID":2,"AffectsPlayer":9}"#),
            Route::OtherRealm(2)
        );
    }

    #[test]
    fn guild() {
        assert_eq!(
            to(
                "guild.invite.created",
                r#"{"RealmID":1,"InviterGUID":2,"InviteeGUID":3}"#
            ),
            guids(&[3])
        );
        for subject in [
            "guild.member.added",
            "guild.member.left",
            "guild.member.kicked",
            "guild.rank.created",
            "guild.rank.updated",
            "guild.rank.deleted",
            "guild.member.promoted",
            "guild.member.demoted",
            "guild.motd.updated",
        ] {
            assert_eq!(
                to(
                    subject,
                    r#"{"RealmID":1,"MemberGUID":8,"MembersOnline":[4,5,4]}"#
                ),
                guids(&[4, 5]),
                "{subject}"
            );
            assert_eq!(
                to(subject, r#"{"RealmID":1,"MembersOnline":null}"#),
                guids(&[])
            );
        }
        assert_eq!(
            to(
                "guild.message.new",
                r#"{"RealmID":1,"SenderGUID":2,"ForOfficers":true,"Receivers":[2,6]}"#
            ),
            guids(&[2, 6])
        );
        assert!(
            route(
                subscription("guild.message.new"),
                r#"{"ForOfficers":1}"#,
                REALM
            )
            .is_err()
        );
    }

    #[test]
    fn mail() {
        let p =
            r#"{"RealmID":1,"SenderGUID":2,"ReceiverGUID":7,"DeliveryTimestamp":-5,"MailID":1}"#;
        assert_eq!(to("mail.incoming", p), guids(&[7]));
        assert_eq!(
            to("mail.incoming", r#"{"RealmID":3,"ReceiverGUID":7}"#),
            Route::OtherRealm(3)
        );
    }

    #[test]
    fn group() {
        assert_eq!(
            to(
                "group.invite.created",
                r#"{"RealmID":1,"InviterGUID":2,"InviteeGUID":3}"#
            ),
            guids(&[3])
        );
        let created = r#"{"RealmID":1,"GroupID":1,"LeaderGUID":2,"Members":[
            {"MemberGUID":2,"IsOnline":true},{"MemberGUID":3,"IsOnline":false},null,{"memberguid":4}]}"#;
        assert_eq!(to("group.created", created), guids(&[2, 3, 4]));
        assert!(
            route(
                subscription("group.created"),
                r#"{"Members":[{"SubGroup":256}]}"#,
                REALM
            )
            .is_err()
        );
        for subject in [
            "group.member.online.changed",
            "group.member.left",
            "group.disband",
            "group.member.added",
            "group.leader.changed",
            "group.loot.changed",
            "group.converted.raid",
        ] {
            assert_eq!(
                to(
                    subject,
                    r#"{"RealmID":1,"GroupID":9,"MemberGUID":8,"OnlineMembers":[2,3]}"#
                ),
                guids(&[2, 3]),
                "{subject}"
            );
        }
        for subject in [
            "group.message.new",
            "group.targeticons.new",
            "group.difficulty.changed",
            "group.members.updated",
        ] {
            assert_eq!(
                to(subject, r#"{"RealmID":1,"GroupID":9,"Receivers":[3,0,2]}"#),
                guids(&[3, 2]),
                "{subject}"
            );
        }
        let stats = r#"{"RealmID":1,"Updates":[{"MemberGUID":2,"IsOnline":null,"Level":80}],"Receivers":[3]}"#;
        assert_eq!(to("group.members.updated", stats), guids(&[3]));
        let bad = r#"{"RealmID":1,"Updates":[{"CurHP":-1}],"Receivers":[3]}"#;
        assert!(route(subscription("group.members.updated"), bad, REALM).is_err());
    }

    #[test]
    fn matchmaking_low_guids_count_only_on_this_realm() {
        for subject in [
            "matchmaking.pvpqueue.joined",
            "matchmaking.pvpqueue.invited",
            "matchmaking.pvpqueue.invite.expired",
        ] {
            let p = r#"{"RealmID":1,"PlayersGUID":[11,4294967295],"QueueSlotByPlayer":{"11":0,"4294967295":2}}"#;
            assert_eq!(to(subject, p), guids(&[11, 0xFFFF_FFFF]), "{subject}");
            let elsewhere = r#"{"RealmID":2,"PlayersGUID":[11]}"#;
            assert_eq!(to(subject, elsewhere), Route::OtherRealm(2));
            assert_eq!(to(subject, r#"{"PlayersGUID":[11]}"#), Route::OtherRealm(0));
            let wide = r#"{"RealmID":1,"PlayersGUID":[4294967296]}"#;
            assert!(
                route(subscription(subject), wide, REALM).is_err(),
                "a low GUID is 32-bit"
            );
            let bad_key = r#"{"RealmID":1,"QueueSlotByPlayer":{"-1":0}}"#;
            assert!(route(subscription(subject), bad_key, REALM).is_err());
        }
    }

    #[test]
    fn friends() {
        assert_eq!(
            to(
                "friends.status.changed",
                r#"{"RealmID":1,"PlayerGUID":2,"Status":1,"NotifyPlayers":[5,6]}"#
            ),
            guids(&[5, 6])
        );
        assert_eq!(
            to(
                "friends.status.changed",
                r#"{"RealmID":1,"NotifyPlayers":null}"#
            ),
            guids(&[])
        );
        for subject in [
            "friends.friend.added",
            "friends.friend.removed",
            "friends.note.updated",
        ] {
            assert_eq!(
                to(
                    subject,
                    r#"{"RealmID":1,"PlayerGUID":2,"FriendGUID":3,"Note":"n"}"#
                ),
                guids(&[2]),
                "{subject}"
            );
        }
    }

    #[test]
    fn a_null_payload_names_nobody() {
        assert_eq!(to("chat.gw.{gatewayID}.income.whisper", "null"), guids(&[]));
        assert_eq!(to("guild.motd.updated", "null"), Route::OtherRealm(0));
        assert!(route(subscription("guild.motd.updated"), "5", REALM).is_err());
    }

    #[test]
    fn the_envelope_is_read_as_go_reads_it() {
        let p = open_envelope(br#"{"V":"0.0.1","T":1,"P":{"a":1},"extra":[]}"#).unwrap();
        assert_eq!(p.get(), r#"{"a":1}"#);
        let p = open_envelope(br#"{"p":{"a":1},"p":null}"#).unwrap();
        assert_eq!(p.get(), "null", "the last p wins, null included");
        let p = open_envelope(br#"{"v":null,"t":null,"p":{}}"#).unwrap();
        assert_eq!(p.get(), "{}");
        assert_eq!(
            open_envelope(br#"{"v":"0.0.1","t":1}"#).unwrap_err(),
            Malformed::NoPayload
        );
        assert_eq!(open_envelope(b"null").unwrap_err(), Malformed::NoPayload);
        assert!(open_envelope(br#"{"t":1.5,"p":{}}"#).is_err());
        assert!(open_envelope(br#"{"v":["x"],"p":{}}"#).is_err());
        assert!(open_envelope(b"{\"p\":{}").is_err());
    }

    #[test]
    fn channel_members_follow_joins_leaves_and_logouts() {
        let mut c = ChannelMembers::default();
        let (a, b) = (CharacterGuid(1), CharacterGuid(2));
        assert!(c.join(a, "General - Elwynn"));
        assert!(c.join(b, "general - elwynn"));
        assert!(c.join(a, "Trade"));
        assert_eq!(c.members("general - elwynn"), vec![a, b]);
        c.leave(b, "GENERAL - ELWYNN");
        assert_eq!(c.members("general - elwynn"), vec![a]);
        c.forget(a);
        assert!(c.members("general - elwynn").is_empty());
        assert!(c.members("trade").is_empty());
        for n in 0..CHANNELS_PER_PLAYER_MAX {
            assert!(c.join(a, &format!("c{n}")));
        }
        assert!(!c.join(a, "one too many"));
        assert!(
            c.join(a, "C0"),
            "re-joining a channel it is in is not one more"
        );
    }
}
