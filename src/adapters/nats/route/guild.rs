//! The guild family's payloads (CONTRACTS.md section 2.4): Go's structs, field by field.

use crate::adapters::nats::gojson::Field;
use crate::adapters::nats::gojson::Kind::{Bool, Str, U8, U32, U64, U64s};

/// `GuildEventInviteCreatedPayload`
pub(super) const GUILD_INVITE_CREATED: &[Field] = &[
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
pub(super) const GUILD_MEMBER_ADDED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("MemberGUID", U64),
    Field::new("MemberName", Str),
];

/// `GuildEventMemberLeftPayload`
pub(super) const GUILD_MEMBER_LEFT: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("MemberGUID", U64),
    Field::new("MemberName", Str),
];

/// `GuildEventMemberKickedPayload`
pub(super) const GUILD_MEMBER_KICKED: &[Field] = &[
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
pub(super) const GUILD_RANK_CREATED: &[Field] = &[
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
pub(super) const GUILD_RANK_UPDATED: &[Field] = &[
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
pub(super) const GUILD_RANK_DELETED: &[Field] = &[
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
pub(super) const GUILD_MEMBER_PROMOTE: &[Field] = &[
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
pub(super) const GUILD_MEMBER_DEMOTE: &[Field] = &[
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
pub(super) const GUILD_MOTD_UPDATED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GuildID", U64),
    Field::new("GuildName", Str),
    Field::new("MembersOnline", U64s),
    Field::new("NewMessageOfTheDay", Str),
];

/// `GuildEventNewMessagePayload`
pub(super) const GUILD_NEW_MESSAGE: &[Field] = &[
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
