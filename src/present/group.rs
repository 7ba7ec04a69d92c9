//! Groups across worldservers, from ToCloud9's groupserver events.
//!
//! - `group.invite.created` → the invitee's SMSG_GROUP_INVITE (status 0 when it is in a
//!   group already, as AzerothCore tells the client).
//! - `group.created` → SMSG_GROUP_LIST from the event's own member list.
//! - `group.member.added`, `.member.online.changed`, `.leader.changed`, `.loot.changed`,
//!   `.converted.raid`, the seed PR's `.member.subgroup.changed` and `.member.flags.changed`,
//!   and `.member.left` for someone else → groupserver's `GetGroup`, then
//!   SMSG_GROUP_LIST from its answer (a failed call leaves the list as it was).
//! - `group.member.left` for the player → SMSG_GROUP_UNINVITE and the empty list;
//!   `group.disband` → the empty list and SMSG_GROUP_DESTROYED.
//! - As the character enters the world: groupserver's `GetGroupIDByPlayer`, then (in a
//!   group) `GetGroup` and its list, as ToCloud9's gateway does at login.
//! - `group.message.new` → SMSG_MESSAGECHAT of its type for everyone but the sender.
//! - `group.targeticons.new` → MSG_RAID_TARGET_UPDATE (who set which icon on what).
//! - `group.difficulty.changed` → MSG_SET_DUNGEON_DIFFICULTY and/or MSG_SET_RAID_DIFFICULTY
//!   (whichever the event carries), as the group's.
//! - The seed PR's ready check events (CONTRACTS.md section 7): `group.readycheck.started` →
//!   MSG_RAID_READY_CHECK (the leader's guid), `.member.state` → MSG_RAID_READY_CHECK_CONFIRM
//!   (the member's guid and 1 ready or 0 not; a member still waiting shows nothing),
//!   `.finished` → MSG_RAID_READY_CHECK_FINISHED, as AzerothCore lays them out.
//!
//! - A player in a group (as far as this gateway knows) chatting in PARTY, PARTY_LEADER, RAID,
//!   RAID_LEADER or RAID_WARNING goes to groupserver's `SendMessage`; once it is taken the
//!   sender sees its own line (a system line when groupserver fails).
//!
//! Every list carries the next value of this player's update counter, so the client never
//! takes an older list for a newer one. The group's guid is AzerothCore's (`HighGuid::Group`
//! over groupserver's id). The member list is the player's view: it is left out of it, and its
//! own subgroup, flags and roles go in the header. Group commands (invite, accept, leave, ...)
//! go to groupserver too ([`commands`]).

use super::gojson::{Field, Kind, Object};
use super::{Action, EventFate, Me, ServiceRequest, chat_line, payload_object, system_line};
use crate::wire::Opcode;
use crate::wire::packets::{
    ClientChat, DifficultyChanged, GROUP_GUID_HIGH, GROUP_MEMBERS_MAX, GroupInvite, GroupList,
    GroupListMember, GroupLoot, RaidTargets, WirePacket, chat_type,
};

/// A group chat line on its way through groupserver: what `SendMessage` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMessage {
    /// The sender's guid.
    pub sender: u64,
    /// The chat type (PARTY, PARTY_LEADER, RAID, RAID_LEADER or RAID_WARNING).
    pub kind: u8,
    /// The language id the client chose.
    pub language: u32,
    /// The text.
    pub message: String,
}

/// The system line a sender sees when groupserver could not take its line.
pub const UNDELIVERED_LINE: &str =
    "Your group message was not delivered: the group service is not answering.";

/// The chat types that go to groupserver.
const GROUP_CHAT: [u8; 5] = [
    chat_type::PARTY,
    chat_type::PARTY_LEADER,
    chat_type::RAID,
    chat_type::RAID_LEADER,
    chat_type::RAID_WARNING,
];

/// A decoded CMSG_MESSAGECHAT; `false` when it is not this family's (the caller goes on).
pub(super) fn from_client(
    me: &Me,
    group: &GroupState,
    chat: &ClientChat,
    out: &mut Vec<Action>,
) -> bool {
    let Some(kind) = u8::try_from(chat.kind)
        .ok()
        .filter(|k| GROUP_CHAT.contains(k))
    else {
        return false;
    };
    if group.id.is_none() {
        return false;
    }
    if chat.message.is_empty() {
        return true; // AzerothCore drops an empty line
    }
    out.push(Action::Call(ServiceRequest::GroupMessage(GroupMessage {
        sender: me.guid,
        kind,
        language: chat.language,
        message: chat.message.clone(),
    })));
    true
}

/// groupserver said which group the character entering the world is in (0: none; `Err`:
/// the call failed, and the client hears of its group with the next event): the list follows
/// from `GetGroup`.
pub(super) fn group_of(
    group: &mut GroupState,
    outcome: Result<u64, String>,
    out: &mut Vec<Action>,
) {
    if let Ok(id) = outcome
        && id != 0
    {
        group.id = Some(id);
        out.push(Action::Call(ServiceRequest::GetGroup(id)));
    }
}

/// groupserver answered a group chat line (`Err`: the call failed).
pub(super) fn message_answered(
    message: GroupMessage,
    outcome: &Result<(), String>,
    out: &mut Vec<Action>,
) {
    out.push(match outcome {
        Ok(()) => chat_line(
            message.kind,
            message.language,
            message.sender,
            message.message,
        ),
        Err(_) => system_line(UNDELIVERED_LINE),
    });
}

/// AzerothCore's master-loot method: only then is the master looter's guid sent.
const MASTER_LOOT: u8 = 2;

/// One member as groupserver describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupMember {
    /// Guid.
    pub guid: u64,
    /// Name.
    pub name: String,
    /// Online.
    pub online: bool,
    /// Subgroup.
    pub subgroup: u8,
    /// `GroupMemberFlags`.
    pub flags: u8,
    /// LFG roles.
    pub roles: u8,
}

/// A group as groupserver describes it (its `GetGroup` answer, or a `group.created` event).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupSnapshot {
    /// groupserver's id.
    pub id: u64,
    /// Leader.
    pub leader: u64,
    /// Group type bits.
    pub group_type: u8,
    /// Loot method.
    pub loot_method: u8,
    /// Loot threshold.
    pub loot_threshold: u8,
    /// Master looter.
    pub master_looter: u64,
    /// Dungeon difficulty.
    pub difficulty: u8,
    /// Raid difficulty.
    pub raid_difficulty: u8,
    /// Members, the player included, at most [`GROUP_MEMBERS_MAX`].
    pub members: Vec<GroupMember>,
}

/// The player's group, as far as this gateway knows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupState {
    /// groupserver's id of the player's group.
    pub id: Option<u64>,
    /// The last update counter sent.
    pub counter: u32,
}

impl GroupState {
    fn next_counter(&mut self) -> u32 {
        self.counter = self.counter.wrapping_add(1);
        self.counter
    }

    /// The list for `me`, with the next counter.
    fn list(&mut self, me: &Me, g: &GroupSnapshot) -> GroupList {
        let mine = g.members.iter().find(|m| m.guid == me.guid);
        let members: Vec<GroupListMember> = g
            .members
            .iter()
            .filter(|m| m.guid != me.guid)
            .take(GROUP_MEMBERS_MAX - 1)
            .map(|m| GroupListMember {
                name: m.name.clone(),
                guid: m.guid,
                online: u8::from(m.online),
                subgroup: m.subgroup,
                flags: m.flags,
                roles: m.roles,
            })
            .collect();
        GroupList {
            group_type: g.group_type,
            subgroup: mine.map_or(0, |m| m.subgroup),
            flags: mine.map_or(0, |m| m.flags),
            roles: mine.map_or(0, |m| m.roles),
            lfg: None,
            group_guid: GROUP_GUID_HIGH | g.id,
            counter: self.next_counter(),
            members,
            leader: g.leader,
            loot: Some(GroupLoot {
                method: g.loot_method,
                master_looter: if g.loot_method == MASTER_LOOT {
                    g.master_looter
                } else {
                    0
                },
                threshold: g.loot_threshold,
                dungeon_difficulty: g.difficulty,
                raid_difficulty: g.raid_difficulty,
                dynamic_heroic: 0,
            }),
        }
    }

    /// The empty list of the group that is gone.
    fn gone(&mut self, id: u64) -> Action {
        let list = GroupList::empty(GROUP_GUID_HIGH | id, self.next_counter());
        Action::ToClient(GroupList::OPCODE, list.to_body())
    }
}

/// The group events presentation renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventKind {
    InviteCreated,
    Created,
    Disband,
    MemberLeft,
    /// Anything that only needs the list again.
    Refresh,
    MessageNew,
    TargetIcon,
    Difficulty,
    /// The seed PR's ready check (CONTRACTS.md section 7).
    ReadyCheckStarted,
    ReadyCheckState,
    ReadyCheckFinished,
}

/// Which group event a subject carries, if presentation renders it.
pub(super) fn event_kind(subject: &str) -> Option<EventKind> {
    Some(match subject {
        "group.invite.created" => EventKind::InviteCreated,
        "group.created" => EventKind::Created,
        "group.disband" => EventKind::Disband,
        "group.member.left" => EventKind::MemberLeft,
        "group.member.added"
        | "group.member.online.changed"
        | "group.leader.changed"
        | "group.loot.changed"
        | "group.converted.raid"
        | "group.member.subgroup.changed"
        | "group.member.flags.changed" => EventKind::Refresh,
        "group.message.new" => EventKind::MessageNew,
        "group.targeticons.new" => EventKind::TargetIcon,
        "group.difficulty.changed" => EventKind::Difficulty,
        "group.readycheck.started" => EventKind::ReadyCheckStarted,
        "group.readycheck.member.state" => EventKind::ReadyCheckState,
        "group.readycheck.finished" => EventKind::ReadyCheckFinished,
        _ => return None,
    })
}

const MEMBER: &[Field] = &[
    Field::new("MemberGUID", Kind::U64),
    Field::new("MemberFlags", Kind::U8),
    Field::new("MemberName", Kind::Str),
    Field::new("IsOnline", Kind::Bool),
    Field::new("SubGroup", Kind::U8),
    Field::new("Roles", Kind::U8),
];

/// The fields read (the payloads carry more; unknown keys are ignored).
const FIELDS: &[Field] = &[
    Field::new("GroupID", Kind::U64),
    Field::new("InviterName", Kind::Str),
    Field::new("InviteeGUID", Kind::U64),
    Field::new("LeaderGUID", Kind::U64),
    Field::new("LootMethod", Kind::U8),
    Field::new("LootThreshold", Kind::U8),
    Field::new("GroupType", Kind::U8),
    Field::new("Difficulty", Kind::U8),
    Field::new("RaidDifficulty", Kind::U8),
    Field::new("MasterLooterGuid", Kind::U64),
    Field::new("Members", Kind::Objects(MEMBER)),
    Field::new("MemberGUID", Kind::U64),
    Field::new("SenderGUID", Kind::U64),
    Field::new("Language", Kind::U32),
    Field::new("Msg", Kind::Str),
    Field::new("MessageType", Kind::U8),
    Field::new("Updater", Kind::U64),
    Field::new("Target", Kind::U64),
    Field::new("IconID", Kind::U8),
    Field::new("DungeonDifficulty", Kind::U8),
    Field::new("State", Kind::U8),
];

fn u8_of(o: &Object<'_>, name: &'static str) -> u8 {
    // Checked as a u8.
    u8::try_from(o.uint(name)).unwrap_or(u8::MAX)
}

/// Renders a group event for `me`.
pub(super) fn render_event(
    me: &Me,
    group: &mut GroupState,
    kind: EventKind,
    payload: &[u8],
    out: &mut Vec<Action>,
) -> EventFate {
    let o = match payload_object(payload, FIELDS) {
        Ok(o) => o,
        Err(fate) => return fate,
    };
    let id = o.uint("GroupID");
    match kind {
        EventKind::InviteCreated => {
            if o.uint("InviteeGUID") != me.guid {
                return EventFate::NotForMe;
            }
            let invite = GroupInvite {
                status: u8::from(group.id.is_none()),
                inviter: o.string("InviterName"),
            };
            out.push(Action::ToClient(GroupInvite::OPCODE, invite.to_body()));
        }
        EventKind::Created => {
            let snapshot = created(&o, id);
            group.id = Some(id);
            let list = group.list(me, &snapshot);
            out.push(Action::ToClient(GroupList::OPCODE, list.to_body()));
        }
        EventKind::Disband => {
            out.push(group.gone(id));
            out.push(Action::ToClient(
                Opcode::SMSG_GROUP_DESTROYED,
                bytes::Bytes::new(),
            ));
            group.id = None;
        }
        EventKind::MemberLeft if o.uint("MemberGUID") == me.guid => {
            out.push(Action::ToClient(
                Opcode::SMSG_GROUP_UNINVITE,
                bytes::Bytes::new(),
            ));
            out.push(group.gone(id));
            group.id = None;
        }
        EventKind::MemberLeft | EventKind::Refresh => {
            if id == 0 {
                return EventFate::Malformed("no GroupID".into());
            }
            group.id = Some(id);
            out.push(Action::Call(ServiceRequest::GetGroup(id)));
        }
        EventKind::MessageNew => {
            let sender = o.uint("SenderGUID");
            if sender == me.guid {
                return EventFate::NotForMe; // the sender saw its own line as an echo
            }
            let kind = u8_of(&o, "MessageType");
            let kind = if chat_type::is_player(kind) {
                kind
            } else {
                chat_type::PARTY
            };
            // Checked as a u32.
            let language = u32::try_from(o.uint("Language")).unwrap_or(0);
            out.push(chat_line(kind, language, sender, o.string("Msg")));
        }
        EventKind::TargetIcon => {
            let icon = RaidTargets::Set {
                updater: o.uint("Updater"),
                icon: u8_of(&o, "IconID"),
                target: o.uint("Target"),
            };
            let mut body = bytes::BytesMut::new();
            icon.encode(&mut body);
            out.push(Action::ToClient(
                Opcode::MSG_RAID_TARGET_UPDATE,
                body.freeze(),
            ));
        }
        EventKind::ReadyCheckStarted
        | EventKind::ReadyCheckState
        | EventKind::ReadyCheckFinished => return ready_check_event(kind, &o, out),
        EventKind::Difficulty => {
            let kinds = [
                ("DungeonDifficulty", Opcode::MSG_SET_DUNGEON_DIFFICULTY),
                ("RaidDifficulty", Opcode::MSG_SET_RAID_DIFFICULTY),
            ];
            for (key, opcode) in kinds {
                if let Some(difficulty) = o.opt_uint(key) {
                    let changed = DifficultyChanged {
                        // Checked as a u8.
                        difficulty: u32::try_from(difficulty).unwrap_or(0),
                        in_group: true,
                    };
                    let mut body = bytes::BytesMut::new();
                    changed.encode(&mut body);
                    out.push(Action::ToClient(opcode, body.freeze()));
                }
            }
        }
    }
    EventFate::Rendered
}

/// A ready check event (the seed PR's), as AzerothCore lays its packets out.
fn ready_check_event(kind: EventKind, o: &Object<'_>, out: &mut Vec<Action>) -> EventFate {
    match kind {
        EventKind::ReadyCheckStarted => out.push(Action::ToClient(
            Opcode::MSG_RAID_READY_CHECK,
            bytes::Bytes::copy_from_slice(&o.uint("LeaderGUID").to_le_bytes()),
        )),
        EventKind::ReadyCheckState => {
            // groupserver's 1 ready, 2 not ready; the client's 1 and 0. Still waiting: nothing.
            let ready = match u8_of(o, "State") {
                1 => 1u8,
                2 => 0,
                _ => return EventFate::NotRendered,
            };
            let mut body = o.uint("MemberGUID").to_le_bytes().to_vec();
            body.push(ready);
            out.push(Action::ToClient(
                Opcode::MSG_RAID_READY_CHECK_CONFIRM,
                bytes::Bytes::from(body),
            ));
        }
        _ => out.push(Action::ToClient(
            Opcode::MSG_RAID_READY_CHECK_FINISHED,
            bytes::Bytes::new(),
        )),
    }
    EventFate::Rendered
}

fn created(o: &Object<'_>, id: u64) -> GroupSnapshot {
    let members = o
        .objects("Members")
        .into_iter()
        .flatten()
        .take(GROUP_MEMBERS_MAX)
        .map(|m| GroupMember {
            guid: m.uint("MemberGUID"),
            name: m.string("MemberName"),
            online: m.flag("IsOnline"),
            subgroup: u8_of(&m, "SubGroup"),
            flags: u8_of(&m, "MemberFlags"),
            roles: u8_of(&m, "Roles"),
        })
        .collect();
    GroupSnapshot {
        id,
        leader: o.uint("LeaderGUID"),
        group_type: u8_of(o, "GroupType"),
        loot_method: u8_of(o, "LootMethod"),
        loot_threshold: u8_of(o, "LootThreshold"),
        master_looter: o.uint("MasterLooterGuid"),
        difficulty: u8_of(o, "Difficulty"),
        raid_difficulty: u8_of(o, "RaidDifficulty"),
        members,
    }
}

/// groupserver answered `GetGroup` (`Err`: the call failed; the list stays as it was).
pub(super) fn answered(
    me: &Me,
    group: &mut GroupState,
    outcome: Result<GroupSnapshot, String>,
    out: &mut Vec<Action>,
) {
    let Ok(snapshot) = outcome else {
        return;
    };
    if group.id != Some(snapshot.id) {
        return; // the player left that group meanwhile
    }
    let list = group.list(me, &snapshot);
    out.push(Action::ToClient(GroupList::OPCODE, list.to_body()));
}

pub mod commands;

#[cfg(test)]
mod tests;
