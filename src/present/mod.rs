//! Presentation, sans I/O: cluster-service state and events rendered as client packets, and
//! the client opcodes that the cluster's services answer rather than the worldserver.
//!
//! The session's in-world states hand every packet whose opcode
//! [`Presenter::intercepts_client`] or [`Presenter::intercepts_world`] names to the player's
//! [`Presenter`] and carry out what it answers: packets for the client or the worldserver,
//! requests for the cluster's services ([`ServiceRequest`], answered through
//! [`Presenter::handle_service_answer`]) and state changes to publish. Everything else passes
//! through untouched and costs one comparison.
//!
//! Families, each a file of its own here:
//! - [`chat`]: whispers through ToCloud9's chatserver (CMSG_MESSAGECHAT of type WHISPER,
//!   answered with WHISPER_INFORM or SMSG_CHAT_PLAYER_NOT_FOUND) and incoming whispers from
//!   the bus. Every other chat type passes through to the worldserver.
//! - [`channels`]: chat channels through chatserver (join, leave, chat, member list and the
//!   channel events), built-in channels following what the worldserver says.
//! - [`guild`]: guild chat through guildserver, and its events (membership, ranks, message of
//!   the day, invitations, guild chat from other worldservers).
//! - [`group`]: the group list, invitations and group chat from groupserver's events.
//! - [`party`]: party frames for group members on other worldservers
//!   (`group.members.updated`, and CMSG_REQUEST_PARTY_MEMBER_STATS answered from them).
//! - [`who`]: /who across the cluster through charserver.
//! - [`mail`]: the "you have mail" notice for mail sent from anywhere (`mail.incoming`).
//! - [`friends`]: friends coming online or going offline anywhere in the cluster
//!   (`friends.status.changed`).
//! - [`contacts`]: the friend and ignore list through charserver (list, add, remove, notes,
//!   ignore); it replaces the worldserver's list and friend lines.
//! - [`state`]: the player's own level, map, zone, health and power, read from its
//!   worldserver's packets and published for the cluster (`gw.char.chars-updates`).
//!
//! A family is intercepted only when its service is there ([`Services`]): the embedded mode
//! has no cluster services, and its worldserver handles everything as a single server would.

pub mod channels;
pub mod chat;
pub mod contacts;
pub mod friends;
pub mod gojson;
pub mod group;
pub mod guild;
pub mod mail;
pub mod party;
pub mod state;
pub mod who;

use std::time::Duration;

use bytes::Bytes;

use crate::wire::packets::{ClientChat, RequestPartyMemberStats, WhoRequest, WirePacket};
use crate::wire::{Opcode, Packet};

/// An event from the cluster's bus for one player on this gateway (ToCloud9's NATS subjects
/// of CONTRACTS section 2.4): the subject names the payload's type; the payload is the
/// envelope's `p`, still JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEvent {
    /// The subject it came on.
    pub subject: String,
    /// The envelope's payload.
    pub payload: Bytes,
}

/// Which of the cluster's services answer presentation's calls on this gateway. The embedded
/// mode has none ([`Services::NONE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Services {
    /// ToCloud9's chatserver (`v1.ChatService`): whispers.
    pub chat: bool,
    /// ToCloud9's guildserver (`v1.GuildService`): guild chat.
    pub guild: bool,
    /// ToCloud9's groupserver: party frames from its events.
    pub group: bool,
    /// ToCloud9's charserver answers /who.
    pub who: bool,
    /// ToCloud9's charserver keeps the friend and ignore lists.
    pub friends: bool,
    /// The cluster hears the player's own state (`gw.char.chars-updates`).
    pub state: bool,
}

impl Services {
    /// No cluster services: everything goes to the worldserver.
    pub const NONE: Self = Self {
        chat: false,
        guild: false,
        group: false,
        who: false,
        friends: false,
        state: false,
    };
    /// Every service presentation knows how to call (the ToCloud9 mode).
    pub const TOCLOUD9: Self = Self {
        chat: true,
        guild: true,
        group: true,
        who: true,
        friends: true,
        state: true,
    };
}

/// The character a presenter speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Me {
    /// Its guid.
    pub guid: u64,
    /// Its name.
    pub name: String,
    /// Its race id.
    pub race: u8,
    /// Its guild (0: none), as far as this gateway knows: from its login, then its guild's
    /// events.
    pub guild_id: u64,
    /// Its class id.
    pub class: u8,
    /// Its gender.
    pub gender: u8,
    /// Its level at login (later ones come from the worldserver's updates).
    pub level: u8,
    /// Its zone at login.
    pub zone: u32,
    /// Its account.
    pub account: u32,
}

/// A call to a cluster service that presentation needs answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceRequest {
    /// chatserver's `SendWhisperMessage`.
    Whisper(chat::Whisper),
    /// guildserver's `SendGuildMessage`.
    GuildMessage(guild::GuildMessage),
    /// charserver's `WhoQuery`.
    Who(who::WhoQuery),
    /// groupserver's `GetGroup` for this group id.
    GetGroup(u64),
    /// groupserver's `SendMessage`.
    GroupMessage(group::GroupMessage),
    /// guildserver's `GetRosterInfo` for this guild id.
    GuildRoster(u64),
    /// charserver's friend and ignore list calls.
    Contacts(contacts::ContactCall),
    /// A group command: groupserver's calls (and charserver's name lookups before them).
    GroupCommand(group::commands::GroupCall),
    /// A guild command or query: guildserver's calls (and charserver's name lookups).
    GuildCommand(guild::commands::GuildCall),
    /// groupserver's `GetGroupIDByPlayer` for this character, as it enters the world.
    GroupOf(u64),
    /// chatserver's channel calls.
    Channel(channels::ChannelCall),
}

impl ServiceRequest {
    /// The service that answers it (for logs and errors).
    pub fn service(&self) -> &'static str {
        match self {
            Self::Whisper(_) | Self::Channel(_) => "chat",
            Self::GuildMessage(_) | Self::GuildRoster(_) => "guild",
            Self::Who(_) | Self::Contacts(_) => "characters",
            Self::GetGroup(_) | Self::GroupMessage(_) | Self::GroupOf(_) => "group",
            Self::GuildCommand(c) => match c.op {
                guild::commands::GuildOp::FindInvitee { .. }
                | guild::commands::GuildOp::FindMember { .. } => "characters",
                _ => "guild",
            },
            Self::GroupCommand(c) => match c.op {
                group::commands::GroupOp::FindInvitee { .. }
                | group::commands::GroupOp::FindKicked { .. } => "characters",
                _ => "group",
            },
        }
    }

    /// Its answer when the call could not be made or was not answered in time: the presenter
    /// tells the client what AzerothCore's nearest message would.
    pub fn failed(self, detail: String) -> ServiceAnswer {
        match self {
            Self::Whisper(whisper) => ServiceAnswer::Whisper {
                whisper,
                outcome: chat::WhisperOutcome::Failed(detail),
            },
            Self::GuildMessage(message) => ServiceAnswer::GuildMessage {
                message,
                outcome: Err(detail),
            },
            Self::Who(_) => ServiceAnswer::Who(Err(detail)),
            Self::GetGroup(_) => ServiceAnswer::Group(Err(detail)),
            Self::GroupMessage(message) => ServiceAnswer::GroupMessage {
                message,
                outcome: Err(detail),
            },
            Self::GuildRoster(_) => ServiceAnswer::GuildRoster(Err(detail)),
            Self::Contacts(call) => ServiceAnswer::Contacts {
                call,
                outcome: Err(detail),
            },
            Self::GroupCommand(call) => ServiceAnswer::GroupCommand {
                call,
                outcome: Err(detail),
            },
            Self::GuildCommand(call) => ServiceAnswer::GuildCommand {
                call,
                outcome: Err(detail),
            },
            Self::GroupOf(_) => ServiceAnswer::GroupOf(Err(detail)),
            Self::Channel(call) => ServiceAnswer::Channel {
                call,
                outcome: Err(detail),
            },
        }
    }
}

/// A cluster service's answer, routed back to the presenter that asked. It carries its
/// request, so the presenter keeps no state per call.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceAnswer {
    /// What became of a whisper.
    Whisper {
        /// The whisper sent.
        whisper: chat::Whisper,
        /// What chatserver said.
        outcome: chat::WhisperOutcome,
    },
    /// What became of a guild chat line.
    GuildMessage {
        /// The line sent.
        message: guild::GuildMessage,
        /// `Err`: the call failed (the detail is for logs).
        outcome: Result<(), String>,
    },
    /// The /who list (`Err`: the call failed; the detail is for logs).
    Who(Result<crate::wire::packets::WhoList, String>),
    /// The group as groupserver describes it (`Err`: the call failed).
    Group(Result<group::GroupSnapshot, String>),
    /// What became of a group chat line.
    GroupMessage {
        /// The line sent.
        message: group::GroupMessage,
        /// `Err`: the call failed (the detail is for logs).
        outcome: Result<(), String>,
    },
    /// The guild's roster, ready for the client (`Err`: the call failed).
    GuildRoster(Result<crate::wire::packets::GuildRoster, String>),
    /// charserver's answer about the friend and ignore list.
    Contacts {
        /// The call made.
        call: contacts::ContactCall,
        /// `Err`: the call failed (the detail is for logs).
        outcome: Result<contacts::ContactReply, String>,
    },
    /// What became of a group command's call.
    GroupCommand {
        /// The call made.
        call: group::commands::GroupCall,
        /// `Err`: the call failed (the detail is for logs).
        outcome: Result<group::commands::GroupReply, String>,
    },
    /// The group groupserver has the character in (0: none; `Err`: the call failed).
    GroupOf(Result<u64, String>),
    /// What became of a guild command's call.
    GuildCommand {
        /// The call made.
        call: guild::commands::GuildCall,
        /// `Err`: the call failed (the detail is for logs).
        outcome: Result<guild::commands::GuildReply, String>,
    },
    /// What became of a channel call.
    Channel {
        /// The call made.
        call: channels::ChannelCall,
        /// `Err`: the call failed (the detail is for logs).
        outcome: Result<channels::ChannelReply, String>,
    },
}

impl ServiceAnswer {
    /// Why the call failed, if it did (for logs).
    pub fn failure(&self) -> Option<&str> {
        match self {
            Self::Whisper {
                outcome: chat::WhisperOutcome::Failed(detail),
                ..
            } => Some(detail),
            Self::Whisper { .. } => None,
            Self::GuildMessage {
                outcome: Err(detail),
                ..
            } => Some(detail),
            Self::GuildMessage { .. } => None,
            Self::Who(Err(detail)) => Some(detail),
            Self::Who(Ok(_)) => None,
            Self::Group(Err(detail)) => Some(detail),
            Self::Group(Ok(_)) => None,
            Self::GroupMessage {
                outcome: Err(detail),
                ..
            } => Some(detail),
            Self::GroupMessage { .. } => None,
            Self::GuildRoster(Err(detail)) => Some(detail),
            Self::GuildRoster(Ok(_)) => None,
            Self::Contacts {
                outcome: Err(detail),
                ..
            } => Some(detail),
            Self::Contacts { .. } => None,
            Self::GroupCommand {
                outcome: Err(detail),
                ..
            } => Some(detail),
            Self::GroupCommand { .. } => None,
            Self::GuildCommand {
                outcome: Err(detail),
                ..
            } => Some(detail),
            Self::GuildCommand { .. } => None,
            Self::GroupOf(Err(detail)) => Some(detail),
            Self::GroupOf(Ok(_)) => None,
            Self::Channel {
                outcome: Err(detail),
                ..
            } => Some(detail),
            Self::Channel { .. } => None,
        }
    }
}

/// A player's chat line as AzerothCore writes it: the speaker's guid in both guid fields
/// (an echo of the player's own line, a line heard from another worldserver, a whisper).
fn chat_line(kind: u8, language: u32, sender: u64, message: String) -> Action {
    let line = crate::wire::packets::ChatMessage {
        kind,
        language,
        sender,
        channel: None,
        receiver: sender,
        message,
        tag: 0,
    };
    Action::ToClient(Opcode::SMSG_MESSAGECHAT, line.to_body())
}

/// A system line for the client.
fn system_line(text: &str) -> Action {
    let line = crate::wire::packets::SystemMessage { text: text.into() };
    Action::ToClient(Opcode::SMSG_MESSAGECHAT, line.to_body())
}

/// An event's payload read the way Go reads it into its struct, checked against `fields`
/// (a type error anywhere refuses it, as Go's decoder does).
fn payload_object<'a>(
    payload: &'a [u8],
    fields: &'static [gojson::Field],
) -> Result<gojson::Object<'a>, EventFate> {
    let doc = std::str::from_utf8(payload)
        .map_err(|_| EventFate::Malformed("the payload is not UTF-8".into()))?;
    let object = match gojson::Object::parse(doc, "") {
        Ok(Some(object)) => object,
        Ok(None) => gojson::Object::default(),
        Err(e) => return Err(EventFate::Malformed(e.to_string())),
    };
    object
        .check(fields, "")
        .map_err(|e| EventFate::Malformed(e.to_string()))?;
    Ok(object)
}

/// What became of an event from the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFate {
    /// Rendered for the client.
    Rendered,
    /// No family renders this subject yet.
    NotRendered,
    /// Its payload did not read as its subject's: dropped.
    Malformed(String),
    /// It does not concern this player (a whisper for another character).
    NotForMe,
}

/// What the presenter asks of the session, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this packet to the client.
    ToClient(Opcode, Bytes),
    /// Send this packet to the player's worldserver.
    ToWorld(Opcode, Bytes),
    /// Ask a service.
    Call(ServiceRequest),
    /// Tell the cluster the player's state changed (merged per character and published once
    /// a second by the bus).
    Publish(state::CharacterUpdate),
    /// The player joined or left a chat channel: the bus delivers the channel's events to the
    /// channel's members on this gateway.
    Channel {
        /// The channel's name.
        name: String,
        /// Joined (true) or left.
        joined: bool,
    },
}

/// One player's presentation state: valid from the character's login until it logs out.
#[derive(Debug, Clone, Default)]
pub struct Presenter {
    me: Me,
    services: Services,
    state: state::PlayerState,
    party: party::Party,
    group: group::GroupState,
    at: group::commands::Whereabouts,
    channels: channels::Channels,
}

impl Presenter {
    /// The presenter of `me`, calling the services there are.
    pub fn new(me: Me, services: Services) -> Self {
        Self {
            me,
            services,
            state: state::PlayerState::default(),
            party: party::Party::default(),
            group: group::GroupState::default(),
            at: group::commands::Whereabouts::default(),
            channels: channels::Channels::default(),
        }
    }

    /// The character's guid.
    pub fn guid(&self) -> u64 {
        self.me.guid
    }

    /// The character is on another worldserver now (a handoff, a layer switch, a recovery):
    /// the new one is told what it needs of the player's presentation state (its built-in
    /// chat channels).
    pub fn moved(&mut self, out: &mut Vec<Action>) {
        if self.services.chat {
            channels::moved(&self.channels, out);
        }
    }

    /// Stops reading the player's state from object updates (the simulator's
    /// `stale-state-after-move` canary plants this after a move).
    #[cfg(feature = "canaries")]
    pub fn stop_reading_state(&mut self) {
        self.services.state = false;
    }

    /// Where the player is now: the session says so before it hands over a client packet
    /// (a group invitation names the inviter's map and worldserver).
    pub fn placed(&mut self, map: u32, worldserver: &str) {
        self.at.map = map;
        if self.at.worldserver != worldserver {
            self.at.worldserver = worldserver.to_owned();
        }
    }

    /// The character entered the world (its login, not a move between worldservers): a
    /// player already in a group groupserver keeps gets its group list, and one in a guild
    /// its message of the day and roster from guildserver, as ToCloud9's gateway sends them at
    /// login.
    pub fn entered_world(&mut self, out: &mut Vec<Action>) {
        if self.services.group {
            out.push(Action::Call(ServiceRequest::GroupOf(self.me.guid)));
        }
        if self.services.guild {
            guild::entered_world(&self.me, out);
        }
    }

    /// What the gateway knows of the player's own character.
    pub fn state(&self) -> &state::PlayerState {
        &self.state
    }

    /// Whether presentation reads this worldserver opcode before the client gets it.
    pub fn intercepts_world(&self, opcode: Opcode) -> bool {
        (self.services.state && state::reads(opcode))
            || (self.services.friends && contacts::reads_world(opcode))
            || (self.services.guild && opcode == Opcode::SMSG_GUILD_EVENT)
            || (self.services.chat && opcode == Opcode::SMSG_CHANNEL_NOTIFY)
    }

    /// Whether presentation takes over this client opcode: a few comparisons per packet
    /// for the opcodes it does not (each family's is a `match` on the opcode; without the
    /// services, as in the embedded mode, none is looked at).
    pub fn intercepts_client(&self, opcode: Opcode) -> bool {
        match opcode {
            Opcode::CMSG_MESSAGECHAT => {
                self.services.chat || self.services.guild || self.services.group
            }
            Opcode::CMSG_REQUEST_PARTY_MEMBER_STATS => self.services.group,
            Opcode::CMSG_WHO => self.services.who,
            Opcode::CMSG_GUILD_ROSTER => self.services.guild,
            _ => {
                (self.services.chat && channels::intercepts_client(opcode))
                    || (self.services.friends && contacts::intercepts_client(opcode))
                    || (self.services.group && group::commands::intercepts_client(opcode))
                    || (self.services.guild && guild::commands::intercepts_client(opcode))
            }
        }
    }

    /// A client packet whose opcode [`Presenter::intercepts_client`] names.
    pub fn handle_client(&mut self, now: Duration, p: Packet, out: &mut Vec<Action>) {
        if p.opcode == Opcode::CMSG_REQUEST_PARTY_MEMBER_STATS
            && let Ok(asked) = RequestPartyMemberStats::decode(&p.body)
            && let Some(stats) = self.party.fresh_stats(asked.guid, now)
        {
            let (opcode, body) = stats.render();
            out.push(Action::ToClient(opcode, body));
            return;
        }
        if p.opcode == Opcode::CMSG_GUILD_ROSTER && guild::roster_asked(&self.me, out) {
            return;
        }
        if channels::intercepts_client(p.opcode)
            && channels::from_client(&self.me, &self.channels, &p, out)
        {
            return;
        }
        if contacts::intercepts_client(p.opcode) && contacts::from_client(&self.me, &p, out) {
            return;
        }
        if group::commands::intercepts_client(p.opcode)
            && group::commands::from_client(
                &self.me,
                self.at.clone(),
                self.group.id.is_some(),
                &p,
                out,
            )
        {
            return;
        }
        if guild::commands::intercepts_client(p.opcode) {
            let (me, state) = (&self.me, &self.state);
            let joiner = || guild::commands::Joiner {
                name: me.name.clone(),
                level: u32::from(state.level.value.unwrap_or(me.level)),
                race: u32::from(me.race),
                class: u32::from(me.class),
                gender: u32::from(me.gender),
                area: state.area.value.unwrap_or(me.zone),
                account: u64::from(me.account),
            };
            if guild::commands::from_client(me, joiner, &p, out) {
                return;
            }
        }
        if p.opcode == Opcode::CMSG_WHO
            && let Ok(request) = WhoRequest::decode(&p.body)
        {
            who::from_client(&self.me, request, out);
            return;
        }
        if p.opcode == Opcode::CMSG_MESSAGECHAT
            && let Ok(line) = ClientChat::decode(&p.body)
        {
            let taken = (self.services.chat
                && (chat::from_client(&self.me, &line, out)
                    || channels::from_chat(&self.me, &line, out)))
                || (self.services.guild && guild::from_client(&self.me, &line, out))
                || (self.services.group && group::from_client(&self.me, &self.group, &line, out));
            if taken {
                return;
            }
        }
        // Not a family's (or it does not decode): to the worldserver as it came.
        out.push(Action::ToWorld(p.opcode, p.body));
    }

    /// A worldserver packet whose opcode [`Presenter::intercepts_world`] names: it goes on
    /// to the client unchanged (first), and is read.
    pub fn handle_world(&mut self, now: Duration, p: Packet, out: &mut Vec<Action>) {
        if state::reads(p.opcode) {
            state::from_world(self.me.guid, &mut self.state, now, p.opcode, p.body, out);
        } else if contacts::reads_world(p.opcode) {
            contacts::from_world(&self.me, p, out);
        } else if p.opcode == Opcode::SMSG_GUILD_EVENT {
            guild::from_world(p, out);
        } else if p.opcode == Opcode::SMSG_CHANNEL_NOTIFY {
            channels::from_world(&self.me, &mut self.channels, p, out);
        } else {
            out.push(Action::ToClient(p.opcode, p.body));
        }
    }

    /// An event from the cluster's bus for this player.
    /// Returns what became of it, for the caller's counts and logs.
    pub fn handle_event(
        &mut self,
        now: Duration,
        event: &ClusterEvent,
        out: &mut Vec<Action>,
    ) -> EventFate {
        if let Some(kind) = chat::event_kind(&event.subject) {
            return chat::render_event(&self.me, kind, &event.payload, out);
        }
        if self.services.chat
            && let Some(kind) = channels::event_kind(&event.subject)
        {
            return channels::render_event(&self.me, &mut self.channels, kind, &event.payload, out);
        }
        if let Some(kind) = guild::event_kind(&event.subject) {
            return guild::render_event(&mut self.me, kind, &event.payload, out);
        }
        if self.services.group
            && let Some(kind) = group::event_kind(&event.subject)
        {
            return group::render_event(&self.me, &mut self.group, kind, &event.payload, out);
        }
        if self.services.group && party::renders(&event.subject) {
            return party::render_event(&self.me, &mut self.party, now, &event.payload, out);
        }
        if mail::renders(&event.subject) {
            return mail::render_event(&self.me, &event.payload, out);
        }
        if let Some(kind) = friends::event_kind(&event.subject) {
            return friends::render_event(kind, &event.payload, out);
        }
        EventFate::NotRendered
    }

    /// A service answered a [`ServiceRequest`].
    pub fn handle_service_answer(
        &mut self,
        now: Duration,
        answer: ServiceAnswer,
        out: &mut Vec<Action>,
    ) {
        let _ = now;
        match answer {
            ServiceAnswer::Whisper { whisper, outcome } => chat::answered(whisper, outcome, out),
            ServiceAnswer::GuildMessage { message, outcome } => {
                guild::answered(message, &outcome, out)
            }
            ServiceAnswer::Who(outcome) => who::answered(outcome, out),
            ServiceAnswer::Group(outcome) => {
                group::answered(&self.me, &mut self.group, outcome, out)
            }
            ServiceAnswer::GroupMessage { message, outcome } => {
                group::message_answered(message, &outcome, out)
            }
            ServiceAnswer::GuildRoster(outcome) => guild::roster_answered(outcome, out),
            ServiceAnswer::Contacts { call, outcome } => {
                contacts::answered(&self.me, call.op, outcome, out)
            }
            ServiceAnswer::GroupCommand { call, outcome } => {
                group::commands::answered(&self.me, call.op, outcome, out)
            }
            ServiceAnswer::GroupOf(outcome) => group::group_of(&mut self.group, outcome, out),
            ServiceAnswer::GuildCommand { call, outcome } => {
                guild::commands::answered(&mut self.me, call.op, outcome, out)
            }
            ServiceAnswer::Channel { call, outcome } => {
                channels::answered(&self.me, &mut self.channels, call, outcome, out)
            }
        }
    }
}
