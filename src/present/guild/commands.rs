//! Guild commands and the guild query through ToCloud9's guildserver, as ToCloud9's own
//! gateway sends them: a guild spans worldservers, so no worldserver may change one on its
//! own. What follows a change (joins, departures, promotions, the message of the day) reaches
//! the members through guildserver's events (see the parent module).
//!
//! - CMSG_GUILD_QUERY: `GetGuildInfo`, answered with SMSG_GUILD_QUERY_RESPONSE; when
//!   guildserver fails, the query goes to the worldserver as it came.
//! - CMSG_GUILD_INVITE: charserver's `CharacterOnlineByName` (nobody online of that name:
//!   PLAYER_NOT_FOUND_S), then `InviteMember`: SUCCESS, or guildserver's refusals (already in
//!   a guild, not allowed, the inviter in no guild) as AzerothCore's errors.
//! - CMSG_GUILD_ACCEPT: `InviteAccepted` with the character (level and area as last heard);
//!   the player's guild is the one guildserver answers. CMSG_GUILD_DECLINE: nothing
//!   (guildserver has no call for it).
//! - CMSG_GUILD_LEAVE: `Leave`; the player is in no guild from then on.
//! - CMSG_GUILD_REMOVE, CMSG_GUILD_PROMOTE, CMSG_GUILD_DEMOTE: charserver's
//!   `CharacterByName` (offline members count; nobody of that name: PLAYER_NOT_FOUND_S),
//!   then `Kick`, `PromoteMember` or `DemoteMember`.
//! - CMSG_GUILD_MOTD and CMSG_GUILD_INFO_TEXT: `SetMessageOfTheDay` and `SetGuildInfo`.
//! - CMSG_GUILD_SET_PUBLIC_NOTE and CMSG_GUILD_SET_OFFICER_NOTE: the name lookup, then
//!   `SetMemberPublicNote` or `SetMemberOfficerNote`, then the roster again.
//! - CMSG_GUILD_RANK, CMSG_GUILD_ADD_RANK and CMSG_GUILD_DEL_RANK: `UpdateRank` (name, rights
//!   and gold per day; guildserver keeps no bank, so the tab rights are not sent), `AddRank`
//!   and `DeleteLastRank` (the rank events follow).
//! - MSG_GUILD_PERMISSIONS: the roster (`GetRosterInfo`), answered with the player's rank,
//!   its rights and gold per day, and no bank tabs.
//! - As a character in a guild enters the world: the roster, sent as the message of the day
//!   (SMSG_GUILD_EVENT MOTD) and SMSG_GUILD_ROSTER.
//!
//! Commands from a player this gateway knows in no guild (other than accepting an
//! invitation) are answered PLAYER_NOT_IN_GUILD at once, as AzerothCore does. A call that
//! fails or is not answered within `present_call_timeout_ms` gets [`UNAVAILABLE_LINE`]
//! (guildserver answers its other refusals with plain errors, which look the same).

use bytes::Bytes;

use super::super::{Action, Me, ServiceRequest, system_line};
use crate::wire::packets::{
    GuildAddRank, GuildCommandResult, GuildDemote, GuildInviteRequest, GuildPermissions,
    GuildPromote, GuildQuery, GuildQueryResponse, GuildRankUpdate, GuildRemove, GuildRoster,
    GuildSetInfo, GuildSetMotd, GuildSetNote, WirePacket, guild_command, guild_error,
};
use crate::wire::{Opcode, Packet};

/// The system line when guildserver did not carry out a command.
pub const UNAVAILABLE_LINE: &str =
    "Your guild command was not carried out: the guild service refused it or is not answering.";

/// A guild call for `player`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuildCall {
    /// Who gives the command.
    pub player: u64,
    /// What it is.
    pub op: GuildOp,
}

/// What the accepting character is, for `InviteAccepted`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Joiner {
    /// Name.
    pub name: String,
    /// Level.
    pub level: u32,
    /// Race.
    pub race: u32,
    /// Class.
    pub class: u32,
    /// Gender.
    pub gender: u32,
    /// Area.
    pub area: u32,
    /// Account.
    pub account: u64,
}

/// A command that names a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberCommand {
    /// `Kick`.
    Remove,
    /// `PromoteMember`.
    Promote,
    /// `DemoteMember`.
    Demote,
    /// `SetMemberPublicNote`.
    PublicNote,
    /// `SetMemberOfficerNote`.
    OfficerNote,
}

impl MemberCommand {
    fn result_command(self) -> u32 {
        match self {
            Self::Remove => guild_command::REMOVE,
            Self::Promote => guild_command::PROMOTE,
            Self::Demote => guild_command::DEMOTE,
            Self::PublicNote | Self::OfficerNote => guild_command::PUBLIC_NOTE,
        }
    }
}

/// What a [`GuildCall`] asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuildOp {
    /// `GetGuildInfo`; `query` is the client's body, for the worldserver if it fails.
    Query {
        /// The guild.
        guild_id: u32,
        /// The client's CMSG_GUILD_QUERY body.
        query: Bytes,
    },
    /// charserver's `CharacterOnlineByName`, before `InviteMember`.
    FindInvitee {
        /// The name, normalised.
        name: String,
    },
    /// `InviteMember`.
    Invite {
        /// The invitee.
        guid: u64,
        /// Its name.
        name: String,
    },
    /// `InviteAccepted`.
    Accept(Joiner),
    /// `Leave`.
    Leave,
    /// charserver's `CharacterByName`, before a member command.
    FindMember {
        /// The command.
        command: MemberCommand,
        /// The name, normalised.
        name: String,
        /// The note, for a note command.
        note: String,
    },
    /// The member command itself.
    Member {
        /// The command.
        command: MemberCommand,
        /// The member.
        guid: u64,
        /// Its name.
        name: String,
        /// The note, for a note command.
        note: String,
    },
    /// `SetMessageOfTheDay`.
    Motd(String),
    /// `SetGuildInfo`.
    Info(String),
    /// `UpdateRank`: the rank, its name, rights and gold per day.
    UpdateRank {
        /// The rank.
        rank: u32,
        /// Its name.
        name: String,
        /// Its rights.
        rights: u32,
        /// Gold per day.
        gold_per_day: u32,
    },
    /// `AddRank` with this name.
    AddRank(String),
    /// `DeleteLastRank`.
    DeleteRank,
    /// `GetRosterInfo` of the player's guild, for its permissions.
    Permissions(u64),
    /// `GetRosterInfo` of the player's guild as it enters the world: the message of the day
    /// and the roster.
    LoginInfo(u64),
}

/// guildserver's (or charserver's) answer to a [`GuildOp`].
#[derive(Debug, Clone, PartialEq)]
pub enum GuildReply {
    /// `GetRosterInfo`, for the player's permissions.
    Roster(Box<GuildRoster>),
    /// `GetGuildInfo`.
    Info(Box<GuildQueryResponse>),
    /// A name lookup: the character's guid, if there is one.
    Found(Option<u64>),
    /// `InviteMember`: a [`guild_error`] (guildserver's refusals come as gRPC codes).
    Invited(u32),
    /// `InviteAccepted`: the guild joined.
    Joined(u64),
    /// Any other call done.
    Done,
}

/// The client opcodes this family answers.
pub(in super::super) fn intercepts_client(opcode: Opcode) -> bool {
    matches!(
        opcode,
        Opcode::CMSG_GUILD_QUERY
            | Opcode::CMSG_GUILD_INVITE
            | Opcode::CMSG_GUILD_ACCEPT
            | Opcode::CMSG_GUILD_DECLINE
            | Opcode::CMSG_GUILD_LEAVE
            | Opcode::CMSG_GUILD_REMOVE
            | Opcode::CMSG_GUILD_PROMOTE
            | Opcode::CMSG_GUILD_DEMOTE
            | Opcode::CMSG_GUILD_MOTD
            | Opcode::CMSG_GUILD_INFO_TEXT
            | Opcode::CMSG_GUILD_SET_PUBLIC_NOTE
            | Opcode::CMSG_GUILD_SET_OFFICER_NOTE
            | Opcode::CMSG_GUILD_RANK
            | Opcode::CMSG_GUILD_ADD_RANK
            | Opcode::CMSG_GUILD_DEL_RANK
            | Opcode::MSG_GUILD_PERMISSIONS
    )
}

fn call(me: &Me, op: GuildOp, out: &mut Vec<Action>) {
    out.push(Action::Call(ServiceRequest::GuildCommand(GuildCall {
        player: me.guid,
        op,
    })));
}

fn result(command: u32, param: String, error: u32, out: &mut Vec<Action>) {
    let line = GuildCommandResult {
        command,
        param,
        error,
    };
    out.push(Action::ToClient(GuildCommandResult::OPCODE, line.to_body()));
}

/// A member command from the client: `None` when it does not decode.
fn member_command(p: &Packet) -> Option<(MemberCommand, String, String)> {
    let (command, name, note) = match p.opcode {
        Opcode::CMSG_GUILD_REMOVE => (
            MemberCommand::Remove,
            GuildRemove::decode(&p.body).ok()?.name,
            String::new(),
        ),
        Opcode::CMSG_GUILD_PROMOTE => (
            MemberCommand::Promote,
            GuildPromote::decode(&p.body).ok()?.name,
            String::new(),
        ),
        Opcode::CMSG_GUILD_DEMOTE => (
            MemberCommand::Demote,
            GuildDemote::decode(&p.body).ok()?.name,
            String::new(),
        ),
        Opcode::CMSG_GUILD_SET_PUBLIC_NOTE | Opcode::CMSG_GUILD_SET_OFFICER_NOTE => {
            let n = GuildSetNote::decode(&p.body).ok()?;
            let command = if p.opcode == Opcode::CMSG_GUILD_SET_PUBLIC_NOTE {
                MemberCommand::PublicNote
            } else {
                MemberCommand::OfficerNote
            };
            (command, n.name, n.note)
        }
        _ => return None,
    };
    Some((command, name, note))
}

/// A client guild command. `false`: it did not decode, and goes to the worldserver as it
/// came.
pub(in super::super) fn from_client(
    me: &Me,
    joiner: impl FnOnce() -> Joiner,
    p: &Packet,
    out: &mut Vec<Action>,
) -> bool {
    let normalised = super::super::chat::normalised_name;
    let needs_guild = !matches!(
        p.opcode,
        Opcode::CMSG_GUILD_QUERY | Opcode::CMSG_GUILD_ACCEPT | Opcode::CMSG_GUILD_DECLINE
    );
    let op = match p.opcode {
        Opcode::CMSG_GUILD_QUERY => match GuildQuery::decode(&p.body) {
            Ok(q) => GuildOp::Query {
                guild_id: q.guild_id,
                query: p.body.clone(),
            },
            Err(_) => return false,
        },
        Opcode::CMSG_GUILD_ACCEPT => GuildOp::Accept(joiner()),
        Opcode::CMSG_GUILD_DECLINE => return true,
        _ if needs_guild && me.guild_id == 0 => {
            result(
                guild_command::QUIT,
                String::new(),
                guild_error::PLAYER_NOT_IN_GUILD,
                out,
            );
            return true;
        }
        Opcode::CMSG_GUILD_INVITE => match GuildInviteRequest::decode(&p.body) {
            Ok(r) if normalised(&r.name).is_empty() => {
                result(
                    guild_command::INVITE,
                    r.name,
                    guild_error::PLAYER_NOT_FOUND_S,
                    out,
                );
                return true;
            }
            Ok(r) => GuildOp::FindInvitee {
                name: normalised(&r.name),
            },
            Err(_) => return false,
        },
        Opcode::CMSG_GUILD_LEAVE => GuildOp::Leave,
        Opcode::CMSG_GUILD_MOTD => match GuildSetMotd::decode(&p.body) {
            Ok(m) => GuildOp::Motd(m.text),
            Err(_) => return false,
        },
        Opcode::CMSG_GUILD_INFO_TEXT => match GuildSetInfo::decode(&p.body) {
            Ok(m) => GuildOp::Info(m.text),
            Err(_) => return false,
        },
        Opcode::CMSG_GUILD_RANK => match GuildRankUpdate::decode(&p.body) {
            Ok(r) => GuildOp::UpdateRank {
                rank: r.rank,
                name: r.name,
                rights: r.rights,
                gold_per_day: r.gold_per_day,
            },
            Err(_) => return false,
        },
        Opcode::CMSG_GUILD_ADD_RANK => match GuildAddRank::decode(&p.body) {
            Ok(r) if r.name.is_empty() => return true, // AzerothCore ignores it
            Ok(r) => GuildOp::AddRank(r.name),
            Err(_) => return false,
        },
        Opcode::CMSG_GUILD_DEL_RANK => GuildOp::DeleteRank,
        Opcode::MSG_GUILD_PERMISSIONS => GuildOp::Permissions(me.guild_id),
        _ => match member_command(p) {
            Some((command, name, _)) if normalised(&name).is_empty() => {
                result(
                    command.result_command(),
                    name,
                    guild_error::PLAYER_NOT_FOUND_S,
                    out,
                );
                return true;
            }
            Some((command, name, note)) => GuildOp::FindMember {
                command,
                name: normalised(&name),
                note,
            },
            None => return false,
        },
    };
    call(me, op, out);
    true
}

/// A service answered a [`GuildCall`] (`Err`: the call failed; the detail is for logs).
pub(in super::super) fn answered(
    me: &mut Me,
    op: GuildOp,
    outcome: Result<GuildReply, String>,
    out: &mut Vec<Action>,
) {
    match (op, outcome) {
        (GuildOp::Query { .. }, Ok(GuildReply::Info(info))) => {
            out.push(Action::ToClient(GuildQueryResponse::OPCODE, info.to_body()))
        }
        (GuildOp::Query { query, .. }, _) => {
            out.push(Action::ToWorld(Opcode::CMSG_GUILD_QUERY, query))
        }
        (GuildOp::FindInvitee { name }, Ok(GuildReply::Found(None))) => result(
            guild_command::INVITE,
            name,
            guild_error::PLAYER_NOT_FOUND_S,
            out,
        ),
        (GuildOp::FindInvitee { name }, Ok(GuildReply::Found(Some(guid)))) => {
            call(me, GuildOp::Invite { guid, name }, out)
        }
        (GuildOp::Invite { name, .. }, Ok(GuildReply::Invited(error))) => {
            let param = match error {
                guild_error::SUCCESS | guild_error::ALREADY_IN_GUILD_S => name,
                _ => String::new(),
            };
            result(guild_command::INVITE, param, error, out)
        }
        (GuildOp::Accept(_), Ok(GuildReply::Joined(guild_id))) => me.guild_id = guild_id,
        (GuildOp::Leave, Ok(GuildReply::Done)) => me.guild_id = 0,
        (GuildOp::FindMember { command, name, .. }, Ok(GuildReply::Found(None))) => result(
            command.result_command(),
            name,
            guild_error::PLAYER_NOT_FOUND_S,
            out,
        ),
        (
            GuildOp::FindMember {
                command,
                name,
                note,
            },
            Ok(GuildReply::Found(Some(guid))),
        ) => call(
            me,
            GuildOp::Member {
                command,
                guid,
                name,
                note,
            },
            out,
        ),
        (GuildOp::Member { command, .. }, Ok(GuildReply::Done)) => {
            // A note shows in the roster: send it again, as ToCloud9's gateway does.
            if matches!(
                command,
                MemberCommand::PublicNote | MemberCommand::OfficerNote
            ) {
                out.push(Action::Call(ServiceRequest::GuildRoster(me.guild_id)));
            }
        }
        (
            GuildOp::Motd(_)
            | GuildOp::Info(_)
            | GuildOp::UpdateRank { .. }
            | GuildOp::AddRank(_)
            | GuildOp::DeleteRank,
            Ok(GuildReply::Done),
        ) => {}
        (GuildOp::LoginInfo(_), Ok(GuildReply::Roster(roster))) => {
            let motd = crate::wire::packets::GuildEvent {
                event: crate::wire::packets::guild_event::MOTD,
                params: vec![roster.motd.clone()],
                guid: None,
            };
            out.push(Action::ToClient(Opcode::SMSG_GUILD_EVENT, motd.to_body()));
            out.push(Action::ToClient(GuildRoster::OPCODE, roster.to_body()));
        }
        // At login, a failed roster only leaves the client without it (it asks again).
        (GuildOp::LoginInfo(_), Err(_)) => {}
        (GuildOp::Permissions(_), Ok(GuildReply::Roster(roster))) => {
            if let Some(permissions) = permissions_of(me.guid, &roster) {
                out.push(Action::ToClient(
                    GuildPermissions::OPCODE,
                    permissions.to_body(),
                ));
            }
        }
        // A failed call, or an answer that is not its call's.
        (_, _) => out.push(system_line(UNAVAILABLE_LINE)),
    }
}

/// The permissions of member `guid` in `roster`: its rank's rights and gold per day (the
/// roster lists ranks by id). `None` when it is not a member, or its rank is not listed.
pub fn permissions_of(guid: u64, roster: &GuildRoster) -> Option<GuildPermissions> {
    let member = roster.members.iter().find(|m| m.guid == guid)?;
    let rank = roster.ranks.get(usize::try_from(member.rank).ok()?)?;
    Some(GuildPermissions {
        rank: member.rank,
        rights: rank.rights,
        gold_per_day: rank.gold_per_day,
        bank_tabs: 0,
        tabs: rank.tabs,
    })
}

#[cfg(test)]
mod tests;
