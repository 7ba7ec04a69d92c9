//! The group family's payloads (CONTRACTS.md section 2.4): Go's structs, field by field.

use crate::adapters::nats::gojson::Field;
use crate::adapters::nats::gojson::Kind::{Bool, Objects, Str, U8, U32, U64, U64s};

/// `GroupEventInviteCreatedPayload`
pub(super) const GROUP_INVITE_CREATED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("InviterGUID", U64),
    Field::new("InviterName", Str),
    Field::new("InviteeGUID", U64),
    Field::new("InviteeName", Str),
];

/// `GroupEventGroupCreatedPayload`
pub(super) const GROUP_CREATED: &[Field] = &[
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
pub(super) const GROUP_MEMBER_ONLINE_STATUS_CHANGED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("MemberGUID", U64),
    Field::new("IsOnline", Bool),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupMemberLeftPayload`
pub(super) const GROUP_MEMBER_LEFT: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("MemberGUID", U64),
    Field::new("MemberName", Str),
    Field::new("NewLeaderID", U64),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupDisbandPayload`
pub(super) const GROUP_DISBAND: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupMemberAddedPayload`
pub(super) const GROUP_MEMBER_ADDED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("MemberGUID", U64),
    Field::new("MemberName", Str),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupLeaderChangedPayload`
pub(super) const GROUP_LEADER_CHANGED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("PreviousLeader", U64),
    Field::new("NewLeader", U64),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupLootTypeChangedPayload`
pub(super) const GROUP_LOOT_TYPE_CHANGED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("NewLootType", U8),
    Field::new("NewLooterGUID", U64),
    Field::new("NewLooterThreshold", U8),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventGroupConvertedToRaidPayload`
pub(super) const GROUP_CONVERTED_TO_RAID: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("Leader", U64),
    Field::new("OnlineMembers", U64s),
];

/// `GroupEventNewMessagePayload`
pub(super) const GROUP_NEW_MESSAGE: &[Field] = &[
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
pub(super) const GROUP_NEW_TARGET_ICON: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("Updater", U64),
    Field::new("Target", U64),
    Field::new("IconID", U8),
    Field::new("Receivers", U64s),
];

/// `GroupEventGroupDifficultyChangedPayload`
pub(super) const GROUP_DIFFICULTY_CHANGED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("Updater", U64),
    Field::new("DungeonDifficulty", U8),
    Field::new("RaidDifficulty", U8),
    Field::new("Receivers", U64s),
];

/// `group.readycheck.started` (the seed PR's extension, CONTRACTS.md section 7).
pub(super) const GROUP_READY_CHECK_STARTED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("LeaderGUID", U64),
    Field::new("DurationMs", U32),
    Field::new("Receivers", U64s),
];

/// `group.readycheck.member.state` (section 7).
pub(super) const GROUP_READY_CHECK_MEMBER_STATE: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("MemberGUID", U64),
    Field::new("State", U8),
    Field::new("Receivers", U64s),
];

/// `group.readycheck.finished` (section 7).
pub(super) const GROUP_READY_CHECK_FINISHED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("Receivers", U64s),
];

/// `group.member.subgroup.changed` (section 7).
pub(super) const GROUP_MEMBER_SUBGROUP_CHANGED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("MemberGUID", U64),
    Field::new("SubGroup", U8),
    Field::new("Receivers", U64s),
];

/// `group.member.flags.changed` (section 7).
pub(super) const GROUP_MEMBER_FLAGS_CHANGED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("GroupID", U64),
    Field::new("MemberGUID", U64),
    Field::new("Flags", U8),
    Field::new("Roles", U8),
    Field::new("Receivers", U64s),
];

/// `GroupEventGroupMembersUpdatedPayload`
pub(super) const GROUP_MEMBERS_UPDATED: &[Field] = &[
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
