//! The matchmaking family's payloads (CONTRACTS.md section 2.4): Go's structs, field by
//! field.

use crate::adapters::nats::gojson::Field;
use crate::adapters::nats::gojson::Kind::{Bool, LowGuidToU8, U8, U32, U32s};

/// `MatchmakingEventPlayersQueuedPayload`
pub(super) const MATCHMAKING_PLAYERS_QUEUED: &[Field] = &[
    Field::new("RealmID", U32),
    Field::new("PlayersGUID", U32s),
    Field::new("QueueSlotByPlayer", LowGuidToU8),
    Field::new("ArenaType", U8),
    Field::new("IsRated", Bool),
    Field::new("PVPQueueMinLVL", U8),
    Field::new("PVPQueueMaxLVL", U8),
    Field::new("TypeID", U8),
    Field::new("AverageWaitingTimeMilliseconds", U32),
];

/// `MatchmakingEventPlayersInvitedPayload`
pub(super) const MATCHMAKING_PLAYERS_INVITED: &[Field] = &[
    Field::new("RealmID", U32),
    Field::new("PlayersGUID", U32s),
    Field::new("QueueSlotByPlayer", LowGuidToU8),
    Field::new("ArenaType", U8),
    Field::new("IsRated", Bool),
    Field::new("PVPQueueMinLVL", U8),
    Field::new("PVPQueueMaxLVL", U8),
    Field::new("TypeID", U8),
    Field::new("MapID", U32),
    Field::new("TimeToAcceptMilliseconds", U32),
];

/// `MatchmakingEventPlayersInviteExpiredPayload`
pub(super) const MATCHMAKING_PLAYERS_INVITE_EXPIRED: &[Field] = &[
    Field::new("RealmID", U32),
    Field::new("PlayersGUID", U32s),
    Field::new("QueueSlotByPlayer", LowGuidToU8),
];
