//! The friends family's payloads (CONTRACTS.md section 2.4): Go's structs, field by field.

use crate::adapters::nats::gojson::Field;
use crate::adapters::nats::gojson::Kind::{Str, U8, U32, U64, U64s};

/// `FriendEventStatusChangePayload`
pub(super) const FRIEND_STATUS_CHANGE: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("Status", U8),
    Field::new("Area", U32),
    Field::new("Level", U32),
    Field::new("ClassID", U32),
    Field::new("NotifyPlayers", U64s),
];

/// `FriendEventAddedPayload`
pub(super) const FRIEND_ADDED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("FriendGUID", U64),
    Field::new("FriendName", Str),
    Field::new("Note", Str),
];

/// `FriendEventRemovedPayload`
pub(super) const FRIEND_REMOVED: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("FriendGUID", U64),
];

/// `FriendEventNoteUpdatePayload`
pub(super) const FRIEND_NOTE_UPDATE: &[Field] = &[
    Field::new("ServiceID", Str),
    Field::new("RealmID", U32),
    Field::new("PlayerGUID", U64),
    Field::new("FriendGUID", U64),
    Field::new("Note", Str),
];
