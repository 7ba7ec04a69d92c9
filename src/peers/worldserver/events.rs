//! What a fake reports about itself: why it closed or kicked a session, and its event log.

use std::fmt;

use crate::wire::Opcode;

/// Why the fake closed a socket without kicking the session (its player may linger).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// A header size outside 4..10240.
    BadSize(u16),
    /// A header opcode at or above 0x521.
    BadOpcode(Opcode),
    /// Any other framing failure.
    BadFrame,
    /// An opcode other than CMSG_AUTH_SESSION before authentication.
    NotAuthenticated(Opcode),
    /// A second CMSG_AUTH_SESSION.
    SecondAuthSession,
    /// A CMSG_AUTH_SESSION that does not parse.
    MalformedAuthSession,
    /// A CMSG_AUTH_SESSION without addon bytes.
    EmptyAddonBlob,
    /// AUTH_RESPONSE 0x15 was sent.
    UnknownAccount,
    /// AUTH_RESPONSE 0x0E was sent (world closed).
    WorldClosed,
    /// The account's other session is loading a character.
    AccountBusyLoading,
    /// A CMSG_PING shorter than 8 bytes.
    MalformedPing,
    /// More than two pings in a row too close together.
    PingOverspeed,
    /// Nothing but pings for the idle timeout.
    IdleTimeout,
}

/// Why the fake kicked a session (its player, if any, is saved and removed at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KickReason {
    /// After READY_FOR_REDIRECT status 0.
    Redirect,
    /// The character could not be loaded.
    LoadFailed,
    /// The character is online on another connection.
    AlreadyOnline,
    /// PLAYER_LOGIN while a character is loading or in world.
    SecondLogin,
}

/// What happened on a fake, for tests and the simulator's transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorldEventKind {
    /// A connection was accepted and challenged.
    Accepted,
    /// CMSG_AUTH_SESSION read; the account lookup runs and reading pauses.
    LookupStarted {
        /// Account as sent, upper-cased.
        account: String,
    },
    /// The account was found; nothing is sent.
    Authenticated {
        /// Account.
        account: String,
    },
    /// Bytes read together with the auth session stay unparsed until more bytes arrive.
    HeldUntilMoreBytes {
        /// How many.
        bytes: usize,
    },
    /// SMSG_AUTH_RESPONSE with a failure code was sent; the socket closes.
    AuthRefused {
        /// The code (0x15 unknown account, 0x0E world closed).
        code: u8,
    },
    /// A newer connection of the same account closed this one.
    TakenOver {
        /// The newer connection.
        by: u64,
    },
    /// PLAYER_LOGIN accepted; the character loads.
    Loading,
    /// SMSG_CHARACTER_LOGIN_FAILED was sent (the socket stays open).
    LoginFailed {
        /// The code.
        code: u8,
    },
    /// The character entered the world (TIME_SYNC_REQ 0 sent).
    InWorld,
    /// A lingering character was re-attached to a new connection.
    Reattached,
    /// A client packet was dropped because the player was loading or in limbo.
    Dropped {
        /// Its opcode.
        opcode: Opcode,
    },
    /// SMSG_NEW_WORLD sent; the player is in limbo.
    Teleporting {
        /// Destination map.
        map: u32,
    },
    /// The player arrived on a map after a far teleport.
    Arrived {
        /// The map.
        map: u32,
        /// Whether the far-teleport timeout completed it rather than a worldport ack.
        timed_out: bool,
    },
    /// The player is being saved for a redirect.
    Saving,
    /// TC9_CMSG_PREPARE_FOR_REDIRECT arrived and was left unanswered
    /// ([`FakeWorldserver::set_ignore_prepare`](super::FakeWorldserver::set_ignore_prepare)).
    PrepareIgnored,
    /// TC9_SMSG_READY_FOR_REDIRECT was sent.
    ReadyForRedirect {
        /// 0 released, 1 nobody in world.
        status: u8,
        /// Sent for a map reassignment, not asked for.
        unsolicited: bool,
    },
    /// A map reassignment warning was sent.
    ReassignWarning {
        /// The map.
        map: u32,
        /// The second warning.
        second: bool,
    },
    /// The session was kicked; its player was saved and removed.
    Kicked {
        /// Why.
        reason: KickReason,
    },
    /// The socket is gone while the player was in world: it stays as an offline session.
    Lingering {
        /// For how long at most.
        for_ms: u64,
    },
    /// A lingering player was saved and removed.
    LingerEnded,
    /// SMSG_LOGOUT_COMPLETE was sent; the player was saved and removed.
    LoggedOut,
    /// A character was removed because its session went away while it was loading or in limbo,
    /// or because a login of the same account replaced its offline session.
    Removed {
        /// Whether it was saved (a character still loading has nothing to save).
        saved: bool,
    },
    /// CMSG_CHAR_CREATE created a character (the event's guid); SMSG_CHAR_CREATE 0x2F sent.
    CharacterCreated {
        /// Its name, normalized.
        name: String,
    },
    /// CMSG_CHAR_DELETE deleted the character; SMSG_CHAR_DELETE 0x47 sent.
    CharacterDeleted,
    /// CMSG_CHAR_RENAME renamed the character; SMSG_CHAR_RENAME 0x00 sent.
    CharacterRenamed {
        /// The new name, normalized.
        name: String,
    },
    /// A character create, delete or rename was refused with this code, or (`code` None, a
    /// delete) left unanswered, as AzerothCore leaves it.
    CharRequestRefused {
        /// The request's opcode.
        opcode: Opcode,
        /// The code sent, if any.
        code: Option<u8>,
    },
    /// The fake closed the socket without a kick.
    Closed {
        /// Why.
        reason: CloseReason,
    },
    /// The gateway closed the socket (or it failed).
    PeerClosed,
    /// Seeded misbehaviour struck ([`FakeWorldserver::set_buggify`](super::FakeWorldserver::set_buggify)).
    Buggified {
        /// Which.
        what: &'static str,
        /// Its delay (0 for a refused connect).
        delay_ms: u64,
    },
    /// [`FakeWorldserver::crash`](super::FakeWorldserver::crash).
    Crashed,
    /// [`FakeWorldserver::shutdown`](super::FakeWorldserver::shutdown).
    ShutDown,
    /// [`FakeWorldserver::revive`](super::FakeWorldserver::revive).
    Revived,
}

/// One line of a fake's event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldEvent {
    /// Milliseconds since the fake was created (virtual time under madsim).
    pub at_ms: u64,
    /// The connection, if the event belongs to one.
    pub conn: Option<u64>,
    /// The character, if the event concerns one.
    pub guid: Option<u64>,
    /// What happened.
    pub kind: WorldEventKind,
    /// The same as one line of text, e.g. `conn 3 guid 7 in world`.
    pub what: String,
}

impl fmt::Display for WorldEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accepted => write!(f, "accepted, challenge sent"),
            Self::LookupStarted { account } => write!(f, "auth session for {account}, lookup"),
            Self::Authenticated { account } => write!(f, "authenticated {account}"),
            Self::HeldUntilMoreBytes { bytes } => {
                write!(f, "{bytes} bytes read with the auth session wait for more")
            }
            Self::AuthRefused { code } => write!(f, "auth refused 0x{code:02X}"),
            Self::TakenOver { by } => {
                write!(f, "closed by a newer login of the account (conn {by})")
            }
            Self::Loading => write!(f, "loading"),
            Self::LoginFailed { code } => write!(f, "login failed 0x{code:02X}"),
            Self::InWorld => write!(f, "in world"),
            Self::Reattached => write!(f, "re-attached"),
            Self::Dropped { opcode } => write!(f, "dropped {opcode}"),
            Self::Teleporting { map } => write!(f, "teleporting to map {map}"),
            Self::Arrived { map, timed_out } => {
                write!(f, "arrived on map {map}")?;
                if *timed_out {
                    write!(f, " (teleport timeout)")?;
                }
                Ok(())
            }
            Self::Saving => write!(f, "saving for redirect"),
            Self::PrepareIgnored => write!(f, "PREPARE_FOR_REDIRECT ignored"),
            Self::Buggified { what, delay_ms } => write!(f, "buggify: {what} ({delay_ms} ms)"),
            Self::ReadyForRedirect {
                status,
                unsolicited,
            } => {
                write!(f, "READY_FOR_REDIRECT {status}")?;
                if *unsolicited {
                    write!(f, " (unsolicited)")?;
                }
                Ok(())
            }
            Self::ReassignWarning { map, second } => write!(
                f,
                "{} map {map} reassignment warning",
                if *second { "second" } else { "first" }
            ),
            Self::Kicked { reason } => write!(f, "kicked ({reason:?})"),
            Self::Lingering { for_ms } => write!(f, "lingers up to {for_ms} ms"),
            Self::LingerEnded => write!(f, "linger ended; saved and removed"),
            Self::LoggedOut => write!(f, "logged out"),
            Self::Removed { saved } => {
                write!(f, "removed{}", if *saved { ", saved" } else { "" })
            }
            Self::CharacterCreated { name } => write!(f, "character {name} created"),
            Self::CharacterDeleted => write!(f, "character deleted"),
            Self::CharacterRenamed { name } => write!(f, "character renamed {name}"),
            Self::CharRequestRefused { opcode, code } => match code {
                Some(code) => write!(f, "{opcode} refused 0x{code:02X}"),
                None => write!(f, "{opcode} left unanswered"),
            },
            Self::Closed { reason } => write!(f, "closed ({reason:?})"),
            Self::PeerClosed => write!(f, "closed by the peer"),
            Self::Crashed => write!(f, "crash"),
            Self::ShutDown => write!(f, "shutdown"),
            Self::Revived => write!(f, "restarted"),
        }
    }
}
