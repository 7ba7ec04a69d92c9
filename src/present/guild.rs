//! Guilds across worldservers, through ToCloud9's guildserver.
//!
//! - Out: a CMSG_MESSAGECHAT of type GUILD from a player in a guild becomes guildserver's
//!   `SendGuildMessage` ([`GuildMessage`]); once it is taken, the sender sees its own line
//!   (SMSG_MESSAGECHAT of type GUILD, its guid in both guid fields), as AzerothCore echoes it.
//!   A failed or unanswered call is a system line. A player in no guild (as far as this
//!   gateway knows) is left to the worldserver, which answers "not in a guild". OFFICER chat
//!   passes through, as with ToCloud9's gateway.
//! - CMSG_GUILD_ROSTER from a player in a guild becomes `GetRosterInfo`, and its answer
//!   SMSG_GUILD_ROSTER (a system line when guildserver fails).
//! - In: `guild.message.new` becomes SMSG_MESSAGECHAT GUILD or OFFICER for the other members
//!   (the sender already saw its echo); the membership and rank events become SMSG_GUILD_EVENT
//!   as AzerothCore words them; `guild.invite.created` becomes the invitee's SMSG_GUILD_INVITE.
//!   The player's own guild follows its joins, departures and removals.

use super::gojson::{Field, Kind, Object};
use super::{Action, EventFate, Me, ServiceRequest, chat_line, payload_object, system_line};
use crate::wire::packets::{
    ClientChat, GuildEvent, GuildInvite, WirePacket, chat_type, guild_event,
};

/// A guild chat line on its way through guildserver: what `SendGuildMessage` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuildMessage {
    /// The sender's guid.
    pub sender: u64,
    /// The language id the client chose.
    pub language: u32,
    /// The text.
    pub message: String,
    /// Officer chat (always false today: officer chat goes to the worldserver).
    pub officer: bool,
}

/// The system line a sender sees when guildserver could not take its line.
pub const UNDELIVERED_LINE: &str =
    "Your guild message was not delivered: the guild service is not answering.";

/// A CMSG_MESSAGECHAT whose type is GUILD, already decoded; `false` when it is not this
/// family's (the caller forwards it).
pub(super) fn from_client(me: &Me, chat: &ClientChat, out: &mut Vec<Action>) -> bool {
    if chat.kind != u32::from(chat_type::GUILD) || me.guild_id == 0 {
        return false;
    }
    if chat.message.is_empty() {
        return true; // AzerothCore drops an empty line
    }
    out.push(Action::Call(ServiceRequest::GuildMessage(GuildMessage {
        sender: me.guid,
        language: chat.language,
        message: chat.message.clone(),
        officer: false,
    })));
    true
}

/// guildserver answered a guild line (`Err`: the call failed).
pub(super) fn answered(message: GuildMessage, outcome: &Result<(), String>, out: &mut Vec<Action>) {
    out.push(match outcome {
        Ok(()) => {
            let kind = if message.officer {
                chat_type::OFFICER
            } else {
                chat_type::GUILD
            };
            chat_line(kind, message.language, message.sender, message.message)
        }
        Err(_) => system_line(UNDELIVERED_LINE),
    });
}

/// The system line when guildserver could not give the roster.
pub const ROSTER_UNAVAILABLE_LINE: &str =
    "The guild roster is unavailable: the guild service is not answering.";

/// CMSG_GUILD_ROSTER: asks guildserver for the roster of the player's guild; `false` for a
/// player in no guild (the worldserver answers it).
pub(super) fn roster_asked(me: &Me, out: &mut Vec<Action>) -> bool {
    if me.guild_id == 0 {
        return false;
    }
    out.push(Action::Call(ServiceRequest::GuildRoster(me.guild_id)));
    true
}

/// guildserver answered with the roster (`Err`: the call failed).
pub(super) fn roster_answered(
    outcome: Result<crate::wire::packets::GuildRoster, String>,
    out: &mut Vec<Action>,
) {
    out.push(match outcome {
        Ok(roster) => Action::ToClient(crate::wire::packets::GuildRoster::OPCODE, roster.to_body()),
        Err(_) => system_line(ROSTER_UNAVAILABLE_LINE),
    });
}

/// The guild events presentation renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventKind {
    InviteCreated,
    MemberAdded,
    MemberLeft,
    MemberKicked,
    RankCreated,
    RankUpdated,
    RankDeleted,
    MemberPromoted,
    MemberDemoted,
    MotdUpdated,
    MessageNew,
}

/// Which guild event a subject carries, if presentation renders it.
pub(super) fn event_kind(subject: &str) -> Option<EventKind> {
    Some(match subject {
        "guild.invite.created" => EventKind::InviteCreated,
        "guild.member.added" => EventKind::MemberAdded,
        "guild.member.left" => EventKind::MemberLeft,
        "guild.member.kicked" => EventKind::MemberKicked,
        "guild.rank.created" => EventKind::RankCreated,
        "guild.rank.updated" => EventKind::RankUpdated,
        "guild.rank.deleted" => EventKind::RankDeleted,
        "guild.member.promoted" => EventKind::MemberPromoted,
        "guild.member.demoted" => EventKind::MemberDemoted,
        "guild.motd.updated" => EventKind::MotdUpdated,
        "guild.message.new" => EventKind::MessageNew,
        _ => return None,
    })
}

/// The fields read, with their Go types (the payloads carry more; unknown keys are ignored).
const FIELDS: &[Field] = &[
    Field::new("GuildID", Kind::U64),
    Field::new("GuildName", Kind::Str),
    Field::new("InviterName", Kind::Str),
    Field::new("InviteeGUID", Kind::U64),
    Field::new("MemberGUID", Kind::U64),
    Field::new("MemberName", Kind::Str),
    Field::new("KickerName", Kind::Str),
    Field::new("RankID", Kind::U8),
    Field::new("RankName", Kind::Str),
    Field::new("RanksCount", Kind::U8),
    Field::new("PromoterName", Kind::Str),
    Field::new("DemoterName", Kind::Str),
    Field::new("NewMessageOfTheDay", Kind::Str),
    Field::new("SenderGUID", Kind::U64),
    Field::new("Language", Kind::U32),
    Field::new("Msg", Kind::Str),
    Field::new("ForOfficers", Kind::Bool),
];

/// Renders a guild event for `me` (whose guild membership it may change).
pub(super) fn render_event(
    me: &mut Me,
    kind: EventKind,
    payload: &[u8],
    out: &mut Vec<Action>,
) -> EventFate {
    let o = match payload_object(payload, FIELDS) {
        Ok(o) => o,
        Err(fate) => return fate,
    };
    match kind {
        EventKind::InviteCreated => {
            if o.uint("InviteeGUID") != me.guid {
                return EventFate::NotForMe;
            }
            let invite = GuildInvite {
                inviter: o.string("InviterName"),
                guild: o.string("GuildName"),
            };
            out.push(Action::ToClient(GuildInvite::OPCODE, invite.to_body()));
            EventFate::Rendered
        }
        EventKind::MessageNew => message_new(me, &o, out),
        _ => {
            follow_membership(me, kind, &o);
            let fate = match notice(kind, &o) {
                Some(n) => {
                    out.push(Action::ToClient(GuildEvent::OPCODE, n.to_body()));
                    EventFate::Rendered
                }
                None => EventFate::NotRendered,
            };
            // A promoted or demoted player's rights changed: it gets them again, as
            // ToCloud9's gateway pushes them.
            if matches!(kind, EventKind::MemberPromoted | EventKind::MemberDemoted)
                && o.uint("MemberGUID") == me.guid
                && me.guild_id != 0
            {
                out.push(Action::Call(ServiceRequest::GuildCommand(
                    commands::GuildCall {
                        player: me.guid,
                        op: commands::GuildOp::Permissions(me.guild_id),
                    },
                )));
            }
            fate
        }
    }
}

/// The character entered the world in a guild: its message of the day and roster come from
/// guildserver (the worldserver's own copy of the guild may be stale; its MOTD line is
/// dropped, see [`from_world`]).
pub(super) fn entered_world(me: &Me, out: &mut Vec<Action>) {
    if me.guild_id != 0 {
        out.push(Action::Call(ServiceRequest::GuildCommand(
            commands::GuildCall {
                player: me.guid,
                op: commands::GuildOp::LoginInfo(me.guild_id),
            },
        )));
    }
}

/// A worldserver's SMSG_GUILD_EVENT: its message of the day is dropped (guildserver's is
/// the one sent, at login and with `guild.motd.updated`); other events go on as they came.
pub(super) fn from_world(p: crate::wire::Packet, out: &mut Vec<Action>) {
    if GuildEvent::decode(&p.body).is_ok_and(|e| e.event == guild_event::MOTD) {
        return;
    }
    out.push(Action::ToClient(p.opcode, p.body));
}

/// The player's own guild follows its joins, departures and removals.
fn follow_membership(me: &mut Me, kind: EventKind, o: &Object<'_>) {
    if o.uint("MemberGUID") != me.guid {
        return;
    }
    match kind {
        EventKind::MemberAdded => me.guild_id = o.uint("GuildID"),
        EventKind::MemberLeft | EventKind::MemberKicked => me.guild_id = 0,
        _ => {}
    }
}

/// The SMSG_GUILD_EVENT of a membership, rank or message-of-the-day event, with
/// AzerothCore's strings (`None` for the events that are not notices).
fn notice(kind: EventKind, o: &Object<'_>) -> Option<GuildEvent> {
    let s = |name| o.string(name);
    let (event, params, guid) = match kind {
        EventKind::MemberAdded => (
            guild_event::JOINED,
            vec![s("MemberName")],
            Some(o.uint("MemberGUID")),
        ),
        EventKind::MemberLeft => (
            guild_event::LEFT,
            vec![s("MemberName")],
            Some(o.uint("MemberGUID")),
        ),
        EventKind::MemberKicked => (
            guild_event::REMOVED,
            vec![s("MemberName"), s("KickerName")],
            None,
        ),
        EventKind::RankCreated | EventKind::RankUpdated => (
            guild_event::RANK_UPDATED,
            vec![
                o.uint("RankID").to_string(),
                s("RankName"),
                o.uint("RanksCount").to_string(),
            ],
            None,
        ),
        EventKind::RankDeleted => (
            guild_event::RANK_DELETED,
            vec![o.uint("RanksCount").to_string()],
            None,
        ),
        EventKind::MemberPromoted => (
            guild_event::PROMOTION,
            vec![s("PromoterName"), s("MemberName"), s("RankName")],
            None,
        ),
        EventKind::MemberDemoted => (
            guild_event::DEMOTION,
            vec![s("DemoterName"), s("MemberName"), s("RankName")],
            None,
        ),
        EventKind::MotdUpdated => (guild_event::MOTD, vec![s("NewMessageOfTheDay")], None),
        EventKind::InviteCreated | EventKind::MessageNew => return None,
    };
    Some(GuildEvent {
        event,
        params,
        guid,
    })
}

fn message_new(me: &Me, o: &Object<'_>, out: &mut Vec<Action>) -> EventFate {
    let sender = o.uint("SenderGUID");
    if sender == me.guid {
        return EventFate::NotForMe; // its own echo was sent when guildserver took it
    }
    let kind = if o.flag("ForOfficers") {
        chat_type::OFFICER
    } else {
        chat_type::GUILD
    };
    // Checked as a u32.
    let language = u32::try_from(o.uint("Language")).unwrap_or(0);
    out.push(chat_line(kind, language, sender, o.string("Msg")));
    EventFate::Rendered
}

pub mod commands;

#[cfg(test)]
mod tests;
