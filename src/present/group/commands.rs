//! Group commands through ToCloud9's groupserver, as ToCloud9's own gateway sends them: a
//! group that spans worldservers is groupserver's, so no worldserver may form or change one on
//! its own. Each command becomes a call; the group list that follows comes from groupserver's
//! events (see the parent module), and the client hears the command's result as AzerothCore
//! words it (SMSG_PARTY_COMMAND_RESULT).
//!
//! - CMSG_GROUP_INVITE: charserver's `CharacterOnlineByName` (nobody online of that name:
//!   BAD_PLAYER_NAME), then `Invite` with the inviter's map and worldserver; its status
//!   becomes OK, ALREADY_IN_GROUP, GROUP_FULL or NOT_LEADER.
//! - CMSG_GROUP_ACCEPT: `AcceptInvite` (no invitation: nothing, as AzerothCore).
//! - CMSG_GROUP_DECLINE: nothing (groupserver has no call for it; the invitation lapses there).
//! - CMSG_GROUP_UNINVITE: charserver's `CharacterByName` (offline members can be removed),
//!   then `Uninvite`; CMSG_GROUP_UNINVITE_GUID: `Uninvite` with the reason.
//! - CMSG_GROUP_DISBAND: `Leave`, then LEAVE OK with the player's name.
//! - CMSG_GROUP_RAID_CONVERT: `ConvertToRaid`, then INVITE OK (as AzerothCore answers it).
//! - CMSG_GROUP_SET_LEADER: `ChangeLeader`; CMSG_LOOT_METHOD: `SetLootMethod` (the list
//!   shows the change when groupserver's event comes).
//! - From a player in a group groupserver told this gateway about (others go to the
//!   worldserver, which keeps battleground groups and a lone player's difficulty):
//!   MSG_RAID_TARGET_UPDATE asking for the list: `GetGroupByMember`, answered with the icons
//!   that are set; setting an icon: `SetGroupTargetIcon` (the change comes back as
//!   `group.targeticons.new`). MSG_SET_DUNGEON_DIFFICULTY and MSG_SET_RAID_DIFFICULTY:
//!   `SetDungeonDifficulty` and `SetRaidDifficulty` (a value AzerothCore would refuse is
//!   dropped; the change comes back as `group.difficulty.changed`).
//!
//! - Ready checks, from a player in a group groupserver told this gateway about
//!   (CONTRACTS.md section 7: the seed PR's extension, which upstream groupserver lacks):
//!   MSG_RAID_READY_CHECK with an empty body starts one (`StartReadyCheck`, for
//!   [`READY_CHECK_DURATION_MS`]), with a state byte answers it (`SetReadyCheckMemberState`:
//!   non-zero is ready), and MSG_RAID_READY_CHECK_FINISHED ends it (`FinishReadyCheck`). The
//!   check itself reaches the members as groupserver's events. When groupserver answers
//!   UNIMPLEMENTED, the packet goes to the worldserver as it came, which runs the check for
//!   the members it has.
//! - Subgroups and member flags, from such a player (section 7 too): CMSG_GROUP_CHANGE_SUB_GROUP
//!   becomes charserver's `CharacterByName` (offline members can be moved), then
//!   `ChangeMemberSubGroup` (a subgroup past the eighth is dropped, as AzerothCore does);
//!   CMSG_GROUP_ASSISTANT_LEADER (assistant) and MSG_PARTY_ASSIGNMENT (main tank, main
//!   assist) become `GetGroupByMember` for the member's flags and roles, then
//!   `SetMemberFlags` with the one flag changed. The list that follows comes with
//!   groupserver's events. UNIMPLEMENTED: the packet goes to the worldserver as it came.
//!
//! A call that fails or is not answered within `present_call_timeout_ms`, or that groupserver
//! answers with its generic error, gets [`UNAVAILABLE_LINE`].

use super::super::{Action, Me, ServiceRequest, system_line};
use crate::wire::codec::Reader;
use crate::wire::packets::NAME_MAX_BYTES;
use crate::wire::packets::{
    InviteToGroup, PartyCommandResult, RaidTargetRequest, RaidTargets, SetGroupLeader,
    SetLootMethod, TARGET_ICONS, UninviteByGuid, UninviteByName, WirePacket, party_operation,
    party_result,
};
use crate::wire::{Opcode, Packet};
use bytes::Bytes;

/// The system line when groupserver could not carry out a command.
pub const UNAVAILABLE_LINE: &str =
    "Your group command was not carried out: the group service is not answering.";

/// Where the player is, for an invitation (groupserver's `inviterMapID` and
/// `inviterGameServerID`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Whereabouts {
    /// The map.
    pub map: u32,
    /// The worldserver's registry id.
    pub worldserver: String,
}

/// A group command on its way to the cluster's services, for `player`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCall {
    /// Who gives the command.
    pub player: u64,
    /// What it is.
    pub op: GroupOp,
}

/// What a [`GroupCall`] asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupOp {
    /// charserver's `CharacterOnlineByName`, before `Invite`.
    FindInvitee {
        /// The name, normalised.
        name: String,
        /// The inviter's name.
        inviter_name: String,
        /// Where the inviter is.
        at: Whereabouts,
    },
    /// groupserver's `Invite`.
    Invite {
        /// The invitee.
        guid: u64,
        /// Its name.
        name: String,
        /// The inviter's name.
        inviter_name: String,
        /// Where the inviter is.
        at: Whereabouts,
    },
    /// groupserver's `AcceptInvite`.
    Accept,
    /// charserver's `CharacterByName`, before `Uninvite`.
    FindKicked {
        /// The name, normalised.
        name: String,
    },
    /// groupserver's `Uninvite`.
    Uninvite {
        /// The member.
        guid: u64,
        /// Its name, as the result line shows it (may be empty).
        name: String,
        /// Why.
        reason: String,
    },
    /// groupserver's `Leave`.
    Leave {
        /// The player's name, for the result line.
        name: String,
    },
    /// groupserver's `ConvertToRaid`.
    ConvertToRaid,
    /// groupserver's `ChangeLeader`.
    SetLeader {
        /// The new leader.
        guid: u64,
    },
    /// groupserver's `SetLootMethod`.
    SetLoot(SetLootMethod),
    /// groupserver's `GetGroupByMember`, for the target icons.
    TargetIcons,
    /// groupserver's `SetGroupTargetIcon`.
    SetTargetIcon {
        /// The icon (0..8).
        icon: u8,
        /// Its target (0: cleared).
        target: u64,
    },
    /// groupserver's `SetDungeonDifficulty` or (`raid`) `SetRaidDifficulty`.
    SetDifficulty {
        /// Which.
        raid: bool,
        /// The difficulty.
        difficulty: u32,
    },
    /// A ready check step (groupserver's extension).
    ReadyCheck(ReadyCheckStep),
    /// charserver's `CharacterByName`, before `ChangeMemberSubGroup`.
    FindSubgroupMember {
        /// The name, normalised.
        name: String,
        /// The subgroup asked for (0..8).
        subgroup: u8,
        /// The client's packet body, for the worldserver if groupserver lacks the call.
        sent: Bytes,
    },
    /// groupserver's `ChangeMemberSubGroup` (its extension).
    SetSubgroup {
        /// The member.
        guid: u64,
        /// The subgroup (0..8).
        subgroup: u8,
        /// The client's packet body, as above.
        sent: Bytes,
    },
    /// groupserver's `GetGroupByMember`, then `SetMemberFlags` (its extension).
    SetMemberFlag {
        /// The member.
        guid: u64,
        /// One of [`member_flag`]'s bits.
        flag: u8,
        /// Set it, or clear it.
        apply: bool,
        /// The client's packet, for the worldserver if groupserver lacks the call.
        sent: (Opcode, Bytes),
    },
}

/// The member flags groupserver keeps (AzerothCore's `GroupMemberFlags`).
pub mod member_flag {
    /// A raid assistant.
    pub const ASSISTANT: u8 = 0x01;
    /// The main tank.
    pub const MAIN_TANK: u8 = 0x02;
    /// The main assist.
    pub const MAIN_ASSIST: u8 = 0x04;
}

/// Raid subgroups (a subgroup is below this).
pub const RAID_SUBGROUPS: u8 = 8;

/// A ready check step, as the client asked it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyCheckStep {
    /// `StartReadyCheck`: the leader (or an assistant) starts one.
    Start,
    /// `SetReadyCheckMemberState`: the player answers (`true`: ready).
    Answer(bool),
    /// `FinishReadyCheck`: the leader's client says the time is up.
    Finish,
}

impl ReadyCheckStep {
    /// `SetReadyCheckMemberState`'s state: 1 ready, 2 not ready (0 for the other steps).
    pub fn state(self) -> u32 {
        match self {
            Self::Answer(true) => 1,
            Self::Answer(false) => 2,
            Self::Start | Self::Finish => 0,
        }
    }

    /// The client packet it came as, for the worldserver when groupserver lacks the call.
    fn packet(self) -> (Opcode, bytes::Bytes) {
        match self {
            Self::Start => (Opcode::MSG_RAID_READY_CHECK, bytes::Bytes::new()),
            Self::Answer(ready) => (
                Opcode::MSG_RAID_READY_CHECK,
                bytes::Bytes::copy_from_slice(&[u8::from(ready)]),
            ),
            Self::Finish => (Opcode::MSG_RAID_READY_CHECK_FINISHED, bytes::Bytes::new()),
        }
    }
}

/// How long a ready check started here runs (the 3.3.5a client's own countdown).
pub const READY_CHECK_DURATION_MS: u32 = 35_000;

/// Dungeon difficulties AzerothCore accepts (normal, heroic, epic): a value is below this.
pub const DUNGEON_DIFFICULTIES: u32 = 3;
/// Raid difficulties AzerothCore accepts (10, 25, 10 heroic, 25 heroic).
pub const RAID_DIFFICULTIES: u32 = 4;

/// groupserver's statuses: `InviteResponse.Status` (Ok 0, Error 1, AlreadyInGroup 2,
/// GroupFull 3, NoPermissions 4), `AcceptInviteResponse.Status` (Ok 0, InviteNotFound 1,
/// Error 2) and `UninviteResponse.Status` (Ok 0, Error 1), as numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupReply {
    /// A name lookup: the character's guid, if there is one (online, for an invitation).
    Found(Option<u64>),
    /// `Invite`'s status.
    Invited(i32),
    /// `AcceptInvite`'s status.
    Accepted(i32),
    /// `Uninvite`'s status.
    Uninvited(i32),
    /// `GetGroupByMember`'s target icons, by icon.
    Icons(Vec<u64>),
    /// `SetDungeonDifficulty` or `SetRaidDifficulty`'s status (0 Ok; 1 a member is in an
    /// instance of that kind).
    DifficultySet(i32),
    /// `Leave`, `ConvertToRaid`, `ChangeLeader`, `SetLootMethod`, `SetGroupTargetIcon` or a
    /// ready check step done.
    Done,
    /// groupserver does not implement the call (gRPC UNIMPLEMENTED): an upstream groupserver
    /// asked for one of the seed PR's extensions.
    Unimplemented,
}

/// The client opcodes this family answers.
pub(in super::super) fn intercepts_client(opcode: Opcode) -> bool {
    matches!(
        opcode,
        Opcode::CMSG_GROUP_INVITE
            | Opcode::CMSG_GROUP_ACCEPT
            | Opcode::CMSG_GROUP_DECLINE
            | Opcode::CMSG_GROUP_UNINVITE
            | Opcode::CMSG_GROUP_UNINVITE_GUID
            | Opcode::CMSG_GROUP_DISBAND
            | Opcode::CMSG_GROUP_RAID_CONVERT
            | Opcode::CMSG_GROUP_SET_LEADER
            | Opcode::CMSG_LOOT_METHOD
    ) || for_group_only(opcode)
}

/// The commands groupserver takes only from a player in a group it told this gateway about
/// (the worldserver keeps battleground groups, and a lone player's difficulty).
fn for_group_only(opcode: Opcode) -> bool {
    matches!(
        opcode,
        Opcode::MSG_RAID_TARGET_UPDATE
            | Opcode::MSG_SET_DUNGEON_DIFFICULTY
            | Opcode::MSG_SET_RAID_DIFFICULTY
            | Opcode::MSG_RAID_READY_CHECK
            | Opcode::MSG_RAID_READY_CHECK_FINISHED
            | Opcode::CMSG_GROUP_CHANGE_SUB_GROUP
            | Opcode::CMSG_GROUP_ASSISTANT_LEADER
            | Opcode::MSG_PARTY_ASSIGNMENT
    )
}

/// A ready check, subgroup or member flag command (the seed PR's extensions), decoded.
/// `None`: it does not decode (the worldserver gets it). `Some(None)`: AzerothCore drops it
/// (a subgroup past the last, an unknown assignment).
fn extension_op(p: &Packet) -> Option<Option<GroupOp>> {
    let mut r = Reader::new(&p.body);
    let sent = p.body.clone();
    Some(match p.opcode {
        // Empty: a start; else the first byte is the answer (AzerothCore reads one byte).
        Opcode::MSG_RAID_READY_CHECK => Some(GroupOp::ReadyCheck(match p.body.first() {
            None => ReadyCheckStep::Start,
            Some(state) => ReadyCheckStep::Answer(*state != 0),
        })),
        Opcode::MSG_RAID_READY_CHECK_FINISHED => Some(GroupOp::ReadyCheck(ReadyCheckStep::Finish)),
        Opcode::CMSG_GROUP_CHANGE_SUB_GROUP => {
            let name = super::super::chat::normalised_name(r.cstr("name", NAME_MAX_BYTES).ok()?);
            let subgroup = r.u8("subgroup").ok()?;
            (subgroup < RAID_SUBGROUPS && !name.is_empty()).then_some(GroupOp::FindSubgroupMember {
                name,
                subgroup,
                sent,
            })
        }
        Opcode::CMSG_GROUP_ASSISTANT_LEADER => {
            let guid = r.u64("guid").ok()?;
            let apply = r.u8("apply").ok()? != 0;
            Some(GroupOp::SetMemberFlag {
                guid,
                flag: member_flag::ASSISTANT,
                apply,
                sent: (p.opcode, sent),
            })
        }
        Opcode::MSG_PARTY_ASSIGNMENT => {
            let assignment = r.u8("assignment").ok()?;
            let apply = r.u8("apply").ok()? != 0;
            let guid = r.u64("guid").ok()?;
            let flag = match assignment {
                0 => member_flag::MAIN_TANK,
                1 => member_flag::MAIN_ASSIST,
                _ => return Some(None),
            };
            Some(GroupOp::SetMemberFlag {
                guid,
                flag,
                apply,
                sent: (p.opcode, sent),
            })
        }
        _ => return None,
    })
}

fn call(me: &Me, op: GroupOp, out: &mut Vec<Action>) {
    out.push(Action::Call(ServiceRequest::GroupCommand(GroupCall {
        player: me.guid,
        op,
    })));
}

fn result(operation: u32, name: String, result: u32, out: &mut Vec<Action>) {
    let line = PartyCommandResult {
        operation,
        name,
        result,
        value: 0,
    };
    out.push(Action::ToClient(PartyCommandResult::OPCODE, line.to_body()));
}

/// A client group command. `false`: it did not decode, or it is for the worldserver (an
/// icon or a difficulty from a player in no group groupserver knows), and goes there as it
/// came. `in_group`: groupserver told this gateway the player's group.
pub(in super::super) fn from_client(
    me: &Me,
    at: Whereabouts,
    in_group: bool,
    p: &Packet,
    out: &mut Vec<Action>,
) -> bool {
    let normalised = super::super::chat::normalised_name;
    if !in_group && for_group_only(p.opcode) {
        return false;
    }
    let op = match p.opcode {
        Opcode::MSG_RAID_READY_CHECK
        | Opcode::MSG_RAID_READY_CHECK_FINISHED
        | Opcode::CMSG_GROUP_CHANGE_SUB_GROUP
        | Opcode::CMSG_GROUP_ASSISTANT_LEADER
        | Opcode::MSG_PARTY_ASSIGNMENT => match extension_op(p) {
            Some(Some(op)) => op,
            Some(None) => return true,
            None => return false,
        },
        Opcode::MSG_RAID_TARGET_UPDATE => match RaidTargetRequest::decode(&p.body) {
            Ok(r) if r.is_list() => GroupOp::TargetIcons,
            Ok(r) if usize::from(r.icon) < TARGET_ICONS => GroupOp::SetTargetIcon {
                icon: r.icon,
                target: r.target,
            },
            Ok(_) => return true, // AzerothCore ignores an icon past the last
            Err(_) => return false,
        },
        Opcode::MSG_SET_DUNGEON_DIFFICULTY | Opcode::MSG_SET_RAID_DIFFICULTY => {
            let raid = p.opcode == Opcode::MSG_SET_RAID_DIFFICULTY;
            let Some(difficulty) = p
                .body
                .get(..4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            else {
                return false;
            };
            let bound = if raid {
                RAID_DIFFICULTIES
            } else {
                DUNGEON_DIFFICULTIES
            };
            if difficulty >= bound {
                return true; // AzerothCore drops it
            }
            GroupOp::SetDifficulty { raid, difficulty }
        }
        Opcode::CMSG_GROUP_INVITE => match InviteToGroup::decode(&p.body) {
            Ok(r) if normalised(&r.name).is_empty() => {
                result(
                    party_operation::INVITE,
                    r.name,
                    party_result::BAD_PLAYER_NAME,
                    out,
                );
                return true;
            }
            Ok(r) => GroupOp::FindInvitee {
                name: normalised(&r.name),
                inviter_name: me.name.clone(),
                at,
            },
            Err(_) => return false,
        },
        Opcode::CMSG_GROUP_ACCEPT => GroupOp::Accept,
        Opcode::CMSG_GROUP_DECLINE => return true,
        Opcode::CMSG_GROUP_UNINVITE => match UninviteByName::decode(&p.body) {
            Ok(r) if normalised(&r.name).is_empty() => return true,
            Ok(r) => GroupOp::FindKicked {
                name: normalised(&r.name),
            },
            Err(_) => return false,
        },
        Opcode::CMSG_GROUP_UNINVITE_GUID => match UninviteByGuid::decode(&p.body) {
            Ok(r) => GroupOp::Uninvite {
                guid: r.guid,
                name: String::new(),
                reason: r.reason,
            },
            Err(_) => return false,
        },
        Opcode::CMSG_GROUP_DISBAND => GroupOp::Leave {
            name: me.name.clone(),
        },
        Opcode::CMSG_GROUP_RAID_CONVERT => GroupOp::ConvertToRaid,
        Opcode::CMSG_GROUP_SET_LEADER => match SetGroupLeader::decode(&p.body) {
            Ok(r) => GroupOp::SetLeader { guid: r.guid },
            Err(_) => return false,
        },
        Opcode::CMSG_LOOT_METHOD => match SetLootMethod::decode(&p.body) {
            Ok(r) => GroupOp::SetLoot(r),
            Err(_) => return false,
        },
        _ => return false,
    };
    call(me, op, out);
    true
}

/// A service answered a [`GroupCall`] (`Err`: the call failed; the detail is for logs).
pub(in super::super) fn answered(
    me: &Me,
    op: GroupOp,
    outcome: Result<GroupReply, String>,
    out: &mut Vec<Action>,
) {
    use party_operation::{INVITE, LEAVE, UNINVITE};
    match (op, outcome) {
        (GroupOp::FindInvitee { name, .. }, Ok(GroupReply::Found(None))) => {
            result(INVITE, name, party_result::BAD_PLAYER_NAME, out)
        }
        (
            GroupOp::FindInvitee {
                name,
                inviter_name,
                at,
            },
            Ok(GroupReply::Found(Some(guid))),
        ) => call(
            me,
            GroupOp::Invite {
                guid,
                name,
                inviter_name,
                at,
            },
            out,
        ),
        (GroupOp::Invite { name, .. }, Ok(GroupReply::Invited(status))) => match status {
            0 => result(INVITE, name, party_result::OK, out),
            2 => result(INVITE, name, party_result::ALREADY_IN_GROUP, out),
            3 => result(INVITE, String::new(), party_result::GROUP_FULL, out),
            4 => result(INVITE, String::new(), party_result::NOT_LEADER, out),
            _ => out.push(system_line(UNAVAILABLE_LINE)),
        },
        // No invitation to accept: AzerothCore says nothing either.
        (GroupOp::Accept, Ok(GroupReply::Accepted(0 | 1))) => {}
        (GroupOp::FindKicked { name }, Ok(GroupReply::Found(None))) => {
            result(UNINVITE, name, party_result::BAD_PLAYER_NAME, out)
        }
        (GroupOp::FindKicked { name }, Ok(GroupReply::Found(Some(guid)))) => call(
            me,
            GroupOp::Uninvite {
                guid,
                name,
                reason: String::new(),
            },
            out,
        ),
        (GroupOp::Uninvite { name, .. }, Ok(GroupReply::Uninvited(0))) => {
            result(UNINVITE, name, party_result::OK, out)
        }
        (GroupOp::Leave { name }, Ok(GroupReply::Done)) => {
            result(LEAVE, name, party_result::OK, out)
        }
        (GroupOp::ConvertToRaid, Ok(GroupReply::Done)) => {
            result(INVITE, String::new(), party_result::OK, out)
        }
        (GroupOp::SetLeader { .. } | GroupOp::SetLoot(_), Ok(GroupReply::Done)) => {}
        (GroupOp::TargetIcons, Ok(GroupReply::Icons(icons))) => {
            let set = icons
                .iter()
                .take(TARGET_ICONS)
                .enumerate()
                .filter(|(_, target)| **target != 0)
                .map(|(icon, target)| (icon as u8, *target))
                .collect();
            let mut body = bytes::BytesMut::new();
            RaidTargets::List(set).encode(&mut body);
            out.push(Action::ToClient(
                Opcode::MSG_RAID_TARGET_UPDATE,
                body.freeze(),
            ));
        }
        (GroupOp::SetTargetIcon { .. }, Ok(GroupReply::Done)) => {}
        (
            op @ (GroupOp::ReadyCheck(_)
            | GroupOp::FindSubgroupMember { .. }
            | GroupOp::SetSubgroup { .. }
            | GroupOp::SetMemberFlag { .. }),
            Ok(reply),
        ) => {
            if !extension_answered(me, &op, reply, out) {
                out.push(system_line(UNAVAILABLE_LINE));
            }
        }
        // Refused while a member is in an instance: the client keeps what it showed.
        (GroupOp::SetDifficulty { .. }, Ok(GroupReply::DifficultySet(0 | 1))) => {}
        // A failed call, groupserver's generic error, or an answer that is not its call's.
        (_, _) => out.push(system_line(UNAVAILABLE_LINE)),
    }
}

/// What a service said to one of the seed PR's extensions (`false`: not an answer it takes;
/// the caller treats it as a failure).
fn extension_answered(me: &Me, op: &GroupOp, reply: GroupReply, out: &mut Vec<Action>) -> bool {
    match (op, reply) {
        (
            GroupOp::ReadyCheck(_) | GroupOp::SetSubgroup { .. } | GroupOp::SetMemberFlag { .. },
            GroupReply::Done,
        ) => {}
        // Nobody of that name: AzerothCore moves nobody and says nothing.
        (GroupOp::FindSubgroupMember { .. }, GroupReply::Found(None)) => {}
        (GroupOp::FindSubgroupMember { subgroup, sent, .. }, GroupReply::Found(Some(guid))) => {
            call(
                me,
                GroupOp::SetSubgroup {
                    guid,
                    subgroup: *subgroup,
                    sent: sent.clone(),
                },
                out,
            )
        }
        // An upstream groupserver: the worldserver does it for the members it has.
        (GroupOp::ReadyCheck(step), GroupReply::Unimplemented) => {
            let (opcode, body) = step.packet();
            out.push(Action::ToWorld(opcode, body));
        }
        (GroupOp::SetSubgroup { sent, .. }, GroupReply::Unimplemented) => {
            out.push(Action::ToWorld(
                Opcode::CMSG_GROUP_CHANGE_SUB_GROUP,
                sent.clone(),
            ));
        }
        (GroupOp::SetMemberFlag { sent, .. }, GroupReply::Unimplemented) => {
            out.push(Action::ToWorld(sent.0, sent.1.clone()));
        }
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests;
