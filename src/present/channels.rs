//! Chat channels across worldservers, through ToCloud9's chatserver.
//!
//! Which channels go where:
//! - **Built-in channels** (General, Trade, LocalDefense, ...: a CMSG_JOIN_CHANNEL with a
//!   channel id) are joined and left on the worldserver, which knows the zones: the client's
//!   request goes there as it came. When the worldserver says YOU_JOINED, the player joins the
//!   same channel on chatserver (`JoinChannel` with the worldserver's id and flags), after
//!   leaving there the channel of the same id it was in (a zone change: "General - Elwynn
//!   Forest" becomes "General - Westfall"). When it says YOU_LEFT, the player leaves it on
//!   chatserver too. Both notifications go on to the client as the worldserver wrote them.
//! - **Player-made channels** (channel id 0) are chatserver's alone: join and leave are its
//!   `JoinChannel` and `LeaveChannel`, answered as AzerothCore answers (YOU_JOINED, and
//!   MODE_CHANGE to owner for the first member; YOU_LEFT; or the refusal's notification).
//! - **Every channel's chat** (CMSG_MESSAGECHAT of type CHANNEL) is chatserver's
//!   `SendChannelMessage`: members on every worldserver hear it from the bus
//!   (`chat.gw.ALL.channel.message`); the speaker sees its own line from the answer.
//! - **The member list** (CMSG_CHANNEL_LIST, CMSG_CHANNEL_DISPLAY_LIST) is chatserver's
//!   `GetChannelList`, rendered as SMSG_CHANNEL_LIST.
//! - **Events** (`chat.gw.ALL.channel.{message,joined,left,notify}`) reach the channel's members
//!   on this gateway; each is rendered as AzerothCore renders the same thing on one server.
//!
//! After a move to another worldserver the new one is told the player's built-in channels
//! again (a CMSG_JOIN_CHANNEL each, its YOU_JOINED kept from the client), so that its zone
//! channel changes and YOU_LEFT work there.
//!
//! The moderation commands (password, owner, moderators, mute, invite, kick, ban,
//! announcements, moderation) are not taken over yet: they reach the worldserver as they came.

use std::collections::BTreeMap;

use super::gojson::{Field, Kind};
use super::{Action, EventFate, Me, ServiceRequest, system_line};
use crate::wire::packets::{
    ChannelDisplayListRequest, ChannelList, ChannelListMember, ChannelListRequest, ChannelNotify,
    ChatMessage, ClientChat, JoinChannel, LeaveChannel, NotifyDetail, WirePacket, channel_flag,
    channel_notify, chat_type, member_flag,
};
use crate::wire::{Opcode, Packet};

/// Channels one character may be in at once, at most (the client shows ten; a built-in
/// channel and its zone variants count once each).
pub const CHANNELS_PER_PLAYER_MAX: usize = 32;

/// A channel's name as channels are keyed: lower-cased, as chatserver and ToCloud9's gateway
/// key them.
pub fn channel_key(name: &str) -> String {
    name.to_lowercase()
}

/// The faction chatserver keys a channel by (`TeamID`): Alliance 0, Horde 1, other races 2.
pub fn team_of(race: u8) -> u32 {
    match race {
        1 | 3 | 4 | 7 | 11 => 0,
        2 | 5 | 6 | 8 | 10 => 1,
        _ => 2,
    }
}

/// A channel the player is in, as far as chatserver has confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Joined {
    /// The name as the player joined it.
    name: String,
    /// The built-in channel's id, 0 for a player-made one.
    id: u32,
    /// Its [`channel_flag`] bits.
    flags: u8,
}

/// The channels one player is in.
#[derive(Debug, Clone, Default)]
pub struct Channels {
    joined: BTreeMap<String, Joined>,
}

impl Channels {
    /// Whether the player is in channel `name` (any case).
    pub fn is_member(&self, name: &str) -> bool {
        self.joined.contains_key(&channel_key(name))
    }

    fn flags(&self, name: &str) -> Option<u8> {
        self.joined.get(&channel_key(name)).map(|j| j.flags)
    }

    fn forget(&mut self, name: &str, out: &mut Vec<Action>) -> Option<Joined> {
        let gone = self.joined.remove(&channel_key(name));
        if let Some(j) = &gone {
            out.push(Action::Channel {
                name: j.name.clone(),
                joined: false,
            });
        }
        gone
    }
}

/// A call to chatserver about a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelCall {
    /// The player's guid.
    pub player: u64,
    /// The player's name.
    pub player_name: String,
    /// The player's [`team_of`].
    pub team: u32,
    /// The channel's name.
    pub channel: String,
    /// What is asked.
    pub op: ChannelOp,
}

/// What a [`ChannelCall`] asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelOp {
    /// `JoinChannel`: a player-made channel the client asked for (`id` 0, rendered from the
    /// answer), or a built-in one the worldserver has already joined (rendered by it).
    Join {
        /// The built-in channel's id, 0 for a player-made one.
        id: u32,
        /// The password the client gave.
        password: String,
        /// [`channel_flag`] bits: the worldserver's for a built-in channel, CUSTOM otherwise.
        flags: u8,
    },
    /// `LeaveChannel`; `tell_client`: the client asked, and hears YOU_LEFT from the answer
    /// (a player-made channel), else the worldserver told it already.
    Leave {
        /// Whether the answer is rendered.
        tell_client: bool,
    },
    /// `SendChannelMessage`.
    Say {
        /// The language id.
        language: u32,
        /// The text.
        message: String,
    },
    /// `GetChannelList`.
    List,
}

/// chatserver's answer to a [`ChannelCall`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelReply {
    /// Joined: the channel as chatserver has it.
    Joined {
        /// Its id.
        id: u32,
        /// Its [`channel_flag`] bits.
        flags: u8,
        /// The player's [`member_flag`] bits in it.
        member_flags: u8,
    },
    /// Done (left, or said).
    Done,
    /// The members.
    Members(Vec<ChannelListMember>),
    /// Refused, with the [`channel_notify`] type AzerothCore would answer.
    Refused(u8),
}

fn call(me: &Me, channel: &str, op: ChannelOp) -> Action {
    Action::Call(ServiceRequest::Channel(ChannelCall {
        player: me.guid,
        player_name: me.name.clone(),
        team: team_of(me.race),
        channel: channel.to_owned(),
        op,
    }))
}

fn notify(kind: u8, channel: &str, out: &mut Vec<Action>) {
    let n = ChannelNotify::simple(kind, channel, 0, "");
    out.push(Action::ToClient(ChannelNotify::OPCODE, n.to_body()));
}

/// The client opcodes this family takes over.
pub fn intercepts_client(opcode: Opcode) -> bool {
    matches!(
        opcode,
        Opcode::CMSG_JOIN_CHANNEL
            | Opcode::CMSG_LEAVE_CHANNEL
            | Opcode::CMSG_CHANNEL_LIST
            | Opcode::CMSG_CHANNEL_DISPLAY_LIST
    )
}

/// A client packet of [`intercepts_client`]: `true` when it was taken (else it goes to the
/// worldserver as it came: a built-in channel's join, or a body that does not decode).
pub fn from_client(me: &Me, channels: &Channels, p: &Packet, out: &mut Vec<Action>) -> bool {
    match p.opcode {
        Opcode::CMSG_JOIN_CHANNEL => {
            let Ok(join) = JoinChannel::decode(&p.body) else {
                return false;
            };
            if join.channel_id != 0 {
                return false;
            }
            if join.name.is_empty() {
                // AzerothCore ignores a join without a name.
                return true;
            }
            if !channels.is_member(&join.name) && channels.joined.len() >= CHANNELS_PER_PLAYER_MAX {
                out.push(system_line(&format!(
                    "You cannot join {}: you are in too many channels.",
                    join.name
                )));
                return true;
            }
            out.push(call(
                me,
                &join.name,
                ChannelOp::Join {
                    id: 0,
                    password: join.password,
                    flags: channel_flag::CUSTOM,
                },
            ));
            true
        }
        Opcode::CMSG_LEAVE_CHANNEL => {
            let Ok(leave) = LeaveChannel::decode(&p.body) else {
                return false;
            };
            let built_in = channels
                .joined
                .get(&channel_key(&leave.name))
                .is_some_and(|j| j.id != 0);
            if built_in {
                // The worldserver leaves it and says YOU_LEFT, which leaves chatserver's.
                return false;
            }
            out.push(call(
                me,
                &leave.name,
                ChannelOp::Leave { tell_client: true },
            ));
            true
        }
        Opcode::CMSG_CHANNEL_LIST | Opcode::CMSG_CHANNEL_DISPLAY_LIST => {
            let name = if p.opcode == Opcode::CMSG_CHANNEL_LIST {
                ChannelListRequest::decode(&p.body).map(|r| r.channel)
            } else {
                ChannelDisplayListRequest::decode(&p.body).map(|r| r.channel)
            };
            let Ok(name) = name else {
                return false;
            };
            out.push(call(me, &name, ChannelOp::List));
            true
        }
        _ => false,
    }
}

/// A CMSG_MESSAGECHAT: `true` when it is a channel's line, taken.
pub fn from_chat(me: &Me, line: &ClientChat, out: &mut Vec<Action>) -> bool {
    if line.kind != u32::from(chat_type::CHANNEL) {
        return false;
    }
    let crate::wire::packets::ChatTarget::Channel(channel) = &line.target else {
        return false;
    };
    if line.message.is_empty() {
        // AzerothCore drops an empty line.
        return true;
    }
    out.push(call(
        me,
        channel,
        ChannelOp::Say {
            language: line.language,
            message: line.message.clone(),
        },
    ));
    true
}

/// An SMSG_CHANNEL_NOTIFY from the worldserver: it goes on to the client (except the
/// answer to a re-join after a move), and YOU_JOINED and YOU_LEFT of a built-in channel
/// follow on chatserver.
pub fn from_world(me: &Me, channels: &mut Channels, p: Packet, out: &mut Vec<Action>) {
    let Ok(n) = ChannelNotify::decode(&p.body) else {
        out.push(Action::ToClient(p.opcode, p.body));
        return;
    };
    match n.detail {
        NotifyDetail::YouJoined { flags, channel_id }
            if flags & channel_flag::CUSTOM == 0 && channel_id != 0 =>
        {
            let key = channel_key(&n.channel);
            if channels
                .joined
                .get(&key)
                .is_some_and(|j| j.id == channel_id)
            {
                // The new worldserver re-joined after a move: the client is in it already.
                return;
            }
            let replaced: Vec<String> = channels
                .joined
                .iter()
                .filter(|(k, j)| j.id == channel_id && **k != key)
                .map(|(_, j)| j.name.clone())
                .collect();
            for old in replaced {
                channels.forget(&old, out);
                out.push(call(me, &old, ChannelOp::Leave { tell_client: false }));
            }
            out.push(call(
                me,
                &n.channel,
                ChannelOp::Join {
                    id: channel_id,
                    password: String::new(),
                    flags,
                },
            ));
        }
        NotifyDetail::YouLeft { .. } if n.kind == channel_notify::YOU_LEFT => {
            left_on_world(me, channels, &n.channel, out)
        }
        _ => {}
    }
    out.push(Action::ToClient(p.opcode, p.body));
}

/// The worldserver took the player out of built-in channel `name`: out of chatserver's too.
fn left_on_world(me: &Me, channels: &mut Channels, name: &str, out: &mut Vec<Action>) {
    if channels.forget(name, out).is_some() {
        out.push(call(me, name, ChannelOp::Leave { tell_client: false }));
    }
}

/// The player is on another worldserver now: it is told the built-in channels again.
pub fn moved(channels: &Channels, out: &mut Vec<Action>) {
    for j in channels.joined.values().filter(|j| j.id != 0) {
        let join = JoinChannel {
            channel_id: j.id,
            unknown: [0, 0],
            name: j.name.clone(),
            password: String::new(),
        };
        out.push(Action::ToWorld(JoinChannel::OPCODE, join.to_body()));
    }
}

/// The line the player sees when chatserver did not answer (nothing internal in it).
pub fn unanswered_line(channel: &str) -> String {
    format!("The channel {channel} is not available: the chat service is not answering.")
}

/// chatserver answered a [`ChannelCall`] (`Err`: it failed or did not answer).
pub fn answered(
    me: &Me,
    channels: &mut Channels,
    call: ChannelCall,
    outcome: Result<ChannelReply, String>,
    out: &mut Vec<Action>,
) {
    let name = call.channel;
    match (call.op, outcome) {
        (
            ChannelOp::Join { id, flags, .. },
            Ok(ChannelReply::Joined {
                flags: theirs,
                member_flags,
                ..
            }),
        ) => {
            let flags = if id == 0 { theirs } else { flags };
            on_joined(me, channels, name, id, flags, member_flags, out);
        }
        (ChannelOp::Join { id: 0, .. }, Ok(ChannelReply::Refused(kind))) => {
            notify(kind, &name, out)
        }
        (ChannelOp::Join { id: 0, .. }, Err(_)) => out.push(system_line(&unanswered_line(&name))),
        (ChannelOp::Leave { tell_client }, Ok(reply)) => {
            channels.forget(&name, out);
            if tell_client {
                let kind = match reply {
                    ChannelReply::Refused(kind) => kind,
                    _ => channel_notify::YOU_LEFT,
                };
                let n = ChannelNotify::simple(kind, &name, 0, "");
                out.push(Action::ToClient(ChannelNotify::OPCODE, n.to_body()));
            }
        }
        (ChannelOp::Leave { tell_client: true }, Err(_)) => {
            out.push(system_line(&unanswered_line(&name)))
        }
        (ChannelOp::Say { language, message }, Ok(ChannelReply::Done)) => {
            // Under the channel's own name, as its members hear it (the client may have
            // typed it in another case).
            let channel = channels
                .joined
                .get(&channel_key(&name))
                .map_or(name, |j| j.name.clone());
            let line = ChatMessage {
                kind: chat_type::CHANNEL,
                language,
                sender: me.guid,
                channel: Some(channel),
                receiver: me.guid,
                message,
                tag: 0,
            };
            out.push(Action::ToClient(ChatMessage::OPCODE, line.to_body()));
        }
        (ChannelOp::Say { .. } | ChannelOp::List, Ok(ChannelReply::Refused(kind))) => {
            notify(kind, &name, out)
        }
        (ChannelOp::Say { .. } | ChannelOp::List, Err(_)) => {
            out.push(system_line(&unanswered_line(&name)))
        }
        (ChannelOp::List, Ok(ChannelReply::Members(members))) => {
            let list = ChannelList {
                flags: channels.flags(&name).unwrap_or(0),
                channel: name,
                members,
            };
            out.push(Action::ToClient(ChannelList::OPCODE, list.to_body()));
        }
        // A built-in channel's join or leave the client was told of by its worldserver, and
        // answers that do not fit their call (the adapter never makes those).
        _ => {}
    }
}

/// chatserver confirmed a join: the player is in the channel (and the bus is told); a
/// player-made channel's join is told to the client as AzerothCore tells it.
fn on_joined(
    me: &Me,
    channels: &mut Channels,
    name: String,
    id: u32,
    flags: u8,
    member_flags: u8,
    out: &mut Vec<Action>,
) {
    let key = channel_key(&name);
    if !channels.joined.contains_key(&key) && channels.joined.len() >= CHANNELS_PER_PLAYER_MAX {
        return;
    }
    channels.joined.insert(
        key,
        Joined {
            name: name.clone(),
            id,
            flags,
        },
    );
    out.push(Action::Channel {
        name: name.clone(),
        joined: true,
    });
    if id == 0 {
        let you = ChannelNotify {
            kind: channel_notify::YOU_JOINED,
            channel: name.clone(),
            detail: NotifyDetail::YouJoined {
                flags,
                channel_id: 0,
            },
        };
        out.push(Action::ToClient(ChannelNotify::OPCODE, you.to_body()));
        if member_flags & member_flag::OWNER != 0 {
            let owner = ChannelNotify {
                kind: channel_notify::MODE_CHANGE,
                channel: name,
                detail: NotifyDetail::ModeChange {
                    guid: me.guid,
                    old: member_flag::MODERATOR,
                    new: member_flag::MODERATOR | member_flag::OWNER,
                },
            };
            out.push(Action::ToClient(ChannelNotify::OPCODE, owner.to_body()));
        }
    }
}

/// The channel events presentation renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventKind {
    /// `chat.gw.ALL.channel.message`.
    Message,
    /// `chat.gw.ALL.channel.joined`.
    Joined,
    /// `chat.gw.ALL.channel.left`.
    Left,
    /// `chat.gw.ALL.channel.notify`.
    Notify,
}

/// Which channel event a subject carries, if presentation renders it.
pub(super) fn event_kind(subject: &str) -> Option<EventKind> {
    match subject.strip_prefix("chat.gw.ALL.channel.")? {
        "message" => Some(EventKind::Message),
        "joined" => Some(EventKind::Joined),
        "left" => Some(EventKind::Left),
        "notify" => Some(EventKind::Notify),
        _ => None,
    }
}

/// `ChatEventChannelMessagePayload` (CONTRACTS.md section 2.4).
const MESSAGE: &[Field] = &[
    Field::new("RealmID", Kind::U32),
    Field::new("ChannelName", Kind::Str),
    Field::new("ChannelID", Kind::U32),
    Field::new("SenderGUID", Kind::U64),
    Field::new("SenderName", Kind::Str),
    Field::new("Language", Kind::U32),
    Field::new("Message", Kind::Str),
];

/// `ChatEventChannelJoinedPayload` and `ChatEventChannelLeftPayload`.
const MEMBERSHIP: &[Field] = &[
    Field::new("ServiceID", Kind::Str),
    Field::new("RealmID", Kind::U32),
    Field::new("ChannelName", Kind::Str),
    Field::new("ChannelID", Kind::U32),
    Field::new("PlayerGUID", Kind::U64),
    Field::new("PlayerName", Kind::Str),
    Field::new("PlayerFlags", Kind::U8),
];

/// `ChatEventChannelNotificationPayload`.
const NOTIFICATION: &[Field] = &[
    Field::new("RealmID", Kind::U32),
    Field::new("ChannelName", Kind::Str),
    Field::new("ChannelID", Kind::U32),
    Field::new("NotifyType", Kind::U8),
    Field::new("TargetGUID", Kind::U64),
    Field::new("TargetName", Kind::Str),
    Field::new("SecondGUID", Kind::U64),
    Field::new("OldFlags", Kind::U8),
    Field::new("NewFlags", Kind::U8),
    Field::new("ExtraData", Kind::Str),
    Field::new("AffectsPlayer", Kind::U64),
];

/// Renders a channel event for `me`. The bus delivers one to the channel's members on this
/// gateway (a notification naming a player, to that player); what is not for this player as
/// AzerothCore would see it (its own line, a channel it is not in) is not rendered.
pub(super) fn render_event(
    me: &Me,
    channels: &mut Channels,
    kind: EventKind,
    payload: &[u8],
    out: &mut Vec<Action>,
) -> EventFate {
    let fields = match kind {
        EventKind::Message => MESSAGE,
        EventKind::Joined | EventKind::Left => MEMBERSHIP,
        EventKind::Notify => NOTIFICATION,
    };
    let object = match super::payload_object(payload, fields) {
        Ok(object) => object,
        Err(fate) => return fate,
    };
    let channel = object.string("ChannelName");
    let member = channels.is_member(&channel);
    let byte = |name| u8::try_from(object.uint(name)).unwrap_or(0);
    match kind {
        EventKind::Message => {
            let sender = object.uint("SenderGUID");
            if !member || sender == me.guid {
                return EventFate::NotForMe;
            }
            let line = ChatMessage {
                kind: chat_type::CHANNEL,
                language: u32::try_from(object.uint("Language")).unwrap_or(0),
                sender,
                channel: Some(channel),
                receiver: sender,
                message: object.string("Message"),
                tag: 0,
            };
            out.push(Action::ToClient(ChatMessage::OPCODE, line.to_body()));
        }
        EventKind::Joined | EventKind::Left => {
            let player = object.uint("PlayerGUID");
            let custom = channels
                .flags(&channel)
                .is_some_and(|f| f & channel_flag::CUSTOM != 0);
            if kind == EventKind::Left && player == me.guid && member {
                // Put out of the channel (kicked, banned): as AzerothCore tells the player.
                let id = channels.forget(&channel, out).map_or(0, |j| j.id);
                let you = ChannelNotify {
                    kind: channel_notify::YOU_LEFT,
                    channel,
                    detail: NotifyDetail::YouLeft {
                        channel_id: id,
                        constant: u8::from(id != 0),
                    },
                };
                out.push(Action::ToClient(ChannelNotify::OPCODE, you.to_body()));
                return EventFate::Rendered;
            }
            // AzerothCore announces comings and goings in player-made channels only.
            if !member || player == me.guid || !custom {
                return EventFate::NotForMe;
            }
            let notify_kind = if kind == EventKind::Joined {
                channel_notify::JOINED
            } else {
                channel_notify::LEFT
            };
            let n = ChannelNotify::simple(notify_kind, &channel, player, "");
            out.push(Action::ToClient(ChannelNotify::OPCODE, n.to_body()));
        }
        EventKind::Notify => {
            let affects = object.uint("AffectsPlayer");
            let notify_kind = byte("NotifyType");
            if (affects != 0 && affects != me.guid)
                || (!member && notify_kind != channel_notify::INVITE)
            {
                return EventFate::NotForMe;
            }
            let n = ChannelNotify {
                kind: notify_kind,
                detail: NotifyDetail::for_kind(
                    notify_kind,
                    object.uint("TargetGUID"),
                    object.uint("SecondGUID"),
                    &object.string("TargetName"),
                    (byte("OldFlags"), byte("NewFlags")),
                ),
                channel,
            };
            out.push(Action::ToClient(ChannelNotify::OPCODE, n.to_body()));
        }
    }
    EventFate::Rendered
}

#[cfg(test)]
mod tests;
