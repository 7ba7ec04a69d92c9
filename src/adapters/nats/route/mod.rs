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

mod channel;
mod chat;
mod friends;
mod group;
mod guild;
mod mail;
mod matchmaking;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde_json::value::RawValue;

use super::gojson::Kind::{I64, Str};
use super::gojson::{Field, Malformed, Object};
use crate::session::CharacterGuid;

pub use self::channel::{CHANNELS_PER_PLAYER_MAX, ChannelMembers, channel_key};
use self::chat::{
    CHAT_CHANNEL_JOINED, CHAT_CHANNEL_LEFT, CHAT_CHANNEL_MESSAGE, CHAT_CHANNEL_NOTIFICATION,
    CHAT_INCOMING_WHISPER,
};
use self::friends::{FRIEND_ADDED, FRIEND_NOTE_UPDATE, FRIEND_REMOVED, FRIEND_STATUS_CHANGE};
use self::group::{
    GROUP_CONVERTED_TO_RAID, GROUP_CREATED, GROUP_DIFFICULTY_CHANGED, GROUP_DISBAND,
    GROUP_INVITE_CREATED, GROUP_LEADER_CHANGED, GROUP_LOOT_TYPE_CHANGED, GROUP_MEMBER_ADDED,
    GROUP_MEMBER_FLAGS_CHANGED, GROUP_MEMBER_LEFT, GROUP_MEMBER_ONLINE_STATUS_CHANGED,
    GROUP_MEMBER_SUBGROUP_CHANGED, GROUP_MEMBERS_UPDATED, GROUP_NEW_MESSAGE, GROUP_NEW_TARGET_ICON,
    GROUP_READY_CHECK_FINISHED, GROUP_READY_CHECK_MEMBER_STATE, GROUP_READY_CHECK_STARTED,
};
use self::guild::{
    GUILD_INVITE_CREATED, GUILD_MEMBER_ADDED, GUILD_MEMBER_DEMOTE, GUILD_MEMBER_KICKED,
    GUILD_MEMBER_LEFT, GUILD_MEMBER_PROMOTE, GUILD_MOTD_UPDATED, GUILD_NEW_MESSAGE,
    GUILD_RANK_CREATED, GUILD_RANK_DELETED, GUILD_RANK_UPDATED,
};
use self::mail::MAIL_INCOMING_MAIL;
use self::matchmaking::{
    MATCHMAKING_PLAYERS_INVITE_EXPIRED, MATCHMAKING_PLAYERS_INVITED, MATCHMAKING_PLAYERS_QUEUED,
};

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

/// Every subject of CONTRACTS.md section 2.4, in its order, and the ready check, subgroup and
/// member flag events of section 7 (the seed PR's extension).
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
    // The seed PR's ready check events (CONTRACTS.md section 7; its own `t` numbers).
    sub(
        "group.readycheck.started",
        13,
        GROUP_READY_CHECK_STARTED,
        Many("Receivers"),
    ),
    sub(
        "group.readycheck.member.state",
        14,
        GROUP_READY_CHECK_MEMBER_STATE,
        Many("Receivers"),
    ),
    sub(
        "group.readycheck.finished",
        15,
        GROUP_READY_CHECK_FINISHED,
        Many("Receivers"),
    ),
    sub(
        "group.member.subgroup.changed",
        16,
        GROUP_MEMBER_SUBGROUP_CHANGED,
        Many("Receivers"),
    ),
    sub(
        "group.member.flags.changed",
        17,
        GROUP_MEMBER_FLAGS_CHANGED,
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
