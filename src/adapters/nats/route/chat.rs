//! The chat family's payloads (CONTRACTS.md section 2.4): Go's structs, field by field.

use crate::adapters::nats::gojson::Field;
use crate::adapters::nats::gojson::Kind::{Str, U8, U32, U64};

/// `ChatEventIncomingWhisperPayload`
pub(super) const CHAT_INCOMING_WHISPER: &[Field] = &[
    Field::new("SenderGUID", U64),
    Field::new("SenderName", Str),
    Field::new("SenderRace", U8),
    Field::new("ReceiverGUID", U64),
    Field::new("ReceiverName", Str),
    Field::new("Language", U32),
    Field::new("Msg", Str),
];

/// `ChatEventChannelMessagePayload`
pub(super) const CHAT_CHANNEL_MESSAGE: &[Field] = &[
    Field::new("RealmID", U32),
    Field::new("ChannelName", Str),
    Field::new("ChannelID", U32),
    Field::new("SenderGUID", U64),
    Field::new("SenderName", Str),
    Field::new("Language", U32),
    Field::new("Message", Str),
];

/// `ChatEventChannelJoinedPayload`
pub(super) const CHAT_CHANNEL_JOINED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("ChannelName", Str),
    Field::new("ChannelID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("PlayerName", Str),
    Field::new("PlayerFlags", U8),
];

/// `ChatEventChannelLeftPayload`
pub(super) const CHAT_CHANNEL_LEFT: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("ChannelName", Str),
    Field::new("ChannelID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("PlayerName", Str),
];

/// `ChatEventChannelNotificationPayload`
pub(super) const CHAT_CHANNEL_NOTIFICATION: &[Field] = &[
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
