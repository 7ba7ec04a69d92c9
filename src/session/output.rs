//! What the session core asks of the world: bytes to send, seam calls, connections to open
//! and close, and events for metrics and transcripts.

use bytes::Bytes;

use super::records::{AccountId, CharacterGuid, CharacterRecord};
use crate::cluster::{WorldserverId, WorldserverRef};
use crate::wire::Opcode;
use crate::wire::auth::AuthResult;
use crate::wire::packets::LoginFailure;

/// Identifies one worldserver connection of a session (a session has at most two: the one it
/// leaves and the one it joins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinkId(pub u64);

/// Correlates a seam request with its answer; stale answers are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// One thing for the driver to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Write these bytes to the client (already framed and encrypted).
    Client(Bytes),
    /// Write part of the buffer lent to the last [`Session::relay_client_bytes`] or
    /// [`Session::relay_world_bytes`] call to the client: `range` of it, as it lies there now
    /// (headers re-framed in place). Only those calls ask for this, and the driver carries it
    /// out before it lends that buffer again.
    ///
    /// [`Session::relay_client_bytes`]: super::Session::relay_client_bytes
    /// [`Session::relay_world_bytes`]: super::Session::relay_world_bytes
    ClientRun(std::ops::Range<usize>),
    /// Write part of the buffer lent to the last relay call to a worldserver connection, as
    /// one write (see [`Output::ClientRun`]).
    WorldRun {
        /// Which connection.
        link: LinkId,
        /// The bytes of the lent buffer.
        range: std::ops::Range<usize>,
    },
    /// Write these bytes to a worldserver connection, as one write.
    World {
        /// Which connection.
        link: LinkId,
        /// Framed bytes.
        bytes: Bytes,
    },
    /// Look up an account by name; answer with `Session::handle_account`.
    LookupAccount {
        /// Request id.
        request: RequestId,
        /// Account name as the client sent it.
        name: String,
    },
    /// Claim the account for this session across the realm's gateways (a newer login
    /// evicts an older one); answer with `Session::handle_claim`.
    ClaimAccount {
        /// Request id.
        request: RequestId,
        /// The verified account.
        account: AccountId,
    },
    /// List an account's characters; answer with `Session::handle_characters`.
    ListCharacters {
        /// Request id.
        request: RequestId,
        /// The account.
        account: AccountId,
    },
    /// Look up a name; answer with `Session::handle_name`.
    QueryName {
        /// The guid the client asked about.
        guid: CharacterGuid,
    },
    /// Choose a worldserver for a character on a map; answer with `Session::handle_placement`.
    Place {
        /// Request id.
        request: RequestId,
        /// The character (`CharacterGuid(0)` for a character being created: nothing holds
        /// it yet).
        guid: CharacterGuid,
        /// The map it is on or going to; `None`: any map (a character create, delete or
        /// rename, which any worldserver of the realm carries out).
        map: Option<u32>,
        /// Worldservers not to choose.
        exclude: Vec<WorldserverId>,
        /// Worldservers to choose only when no other can take the character (they failed
        /// it a moment ago).
        avoid: Vec<WorldserverId>,
        /// The worldserver chosen before (a handoff's target, a layer switch's destination):
        /// kept if it may still take the character, else the policy chooses again.
        prefer: Option<WorldserverId>,
    },
    /// Open a connection; answer with `Session::handle_world_connected`.
    Connect {
        /// The id the connection will carry.
        link: LinkId,
        /// Where to.
        worldserver: WorldserverRef,
    },
    /// Close a worldserver connection (after writing what was queued for it).
    CloseWorld {
        /// Which connection.
        link: LinkId,
    },
    /// Close the client connection (after writing what was queued for it). Final.
    CloseClient {
        /// Why.
        reason: CloseReason,
    },
    /// Ask a cluster service for presentation (a whisper through chatserver, ...); answer
    /// with `Session::handle_service_answer`, within `present_call_timeout_ms`.
    CallService {
        /// Request id.
        request: RequestId,
        /// The call.
        call: crate::present::ServiceRequest,
    },
    /// Something worth counting or tracing.
    Event(SessionEvent),
    /// Tell the cluster's services (publish on the event bus).
    Announce(Announcement),
}

/// What the cluster's services hear of a session: ToCloud9's `gw.char.logged-in` and
/// `gw.char.logged-out` (the bus adds the realm and the gateway's id).
#[derive(Debug, Clone, PartialEq)]
pub enum Announcement {
    /// A character entered the world through this gateway: once per login, not per handoff
    /// or recovery. The record carries where it entered.
    LoggedIn {
        /// Its account.
        account: AccountId,
        /// The character, map and position as it entered.
        character: CharacterRecord,
    },
    /// The character's own state changed (ToCloud9's `gw.char.chars-updates`; the bus merges
    /// these per character and publishes once a second).
    CharacterUpdated(crate::present::state::CharacterUpdate),
    /// The character joined or left a chat channel on this gateway: the bus delivers the
    /// channel's events to it while it is in (nothing is published).
    ChannelMembership {
        /// The character.
        guid: CharacterGuid,
        /// The channel's name.
        channel: String,
        /// Joined (true) or left.
        joined: bool,
    },
    /// The character left the world: it logged out, or its session ended.
    LoggedOut {
        /// Its account.
        account: AccountId,
        /// The character.
        guid: CharacterGuid,
        /// Its name.
        name: String,
        /// Its guild, 0 for none.
        guild_id: u32,
    },
}

/// Who is to blame for a session ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Culprit {
    /// The client misbehaved or left.
    Client,
    /// A worldserver failed.
    Worldserver,
    /// A cluster service (accounts, characters, registry) failed.
    Service,
    /// The gateway itself (shutdown).
    Gateway,
}

/// Why a client connection was closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed its connection.
    ClientGone,
    /// The client broke the protocol.
    ClientProtocol(String),
    /// Authentication refused with this code, for this reason (digest mismatch, banned, ...).
    /// Always the client's account or client: a service that failed is
    /// [`CloseReason::ServiceUnavailable`], even when the client was told DB_BUSY.
    AuthRejected(AuthResult, String),
    /// No valid auth session before the deadline.
    PreAuthTimeout,
    /// The client sent more than the switch buffer holds while changing worldservers.
    SwitchBufferOverflow,
    /// A cluster service did not answer in time or failed.
    ServiceUnavailable(String),
    /// The worldserver connection was lost or misbehaved and the session cannot go on.
    WorldLost {
        /// Which worldserver.
        worldserver: WorldserverId,
        /// What happened.
        detail: String,
    },
    /// The gateway is shutting down.
    Shutdown,
    /// A newer login of the same account (through this gateway or another) took the
    /// account over, or this gateway lost the right to own accounts (`detail` says which).
    Evicted(String),
}

/// Why an account claim was refused (answer to [`Output::ClaimAccount`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRefused {
    /// A newer login of the account replaced this one's request.
    Superseded,
    /// The account's session elsewhere did not let go in time.
    StillOnline(String),
    /// The fencing store failed or this gateway cannot guarantee fencing now.
    Unavailable(super::SeamError),
}

impl CloseReason {
    /// Who is to blame.
    pub fn culprit(&self) -> Culprit {
        match self {
            Self::ClientGone
            | Self::ClientProtocol(_)
            | Self::AuthRejected(..)
            | Self::PreAuthTimeout
            | Self::SwitchBufferOverflow => Culprit::Client,
            Self::ServiceUnavailable(_) => Culprit::Service,
            Self::WorldLost { .. } => Culprit::Worldserver,
            Self::Shutdown => Culprit::Gateway,
            Self::Evicted(_) => Culprit::Client,
        }
    }

    /// Whether the player may simply log in again.
    pub fn retryable(&self) -> bool {
        !matches!(self, Self::ClientProtocol(_) | Self::AuthRejected(..))
    }
}

/// Events for metrics and transcripts.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// The auth session verified.
    Authenticated {
        /// The account.
        account: AccountId,
    },
    /// A login began for a character on a map.
    LoginStarted {
        /// The character.
        guid: CharacterGuid,
        /// Its map.
        map: u32,
    },
    /// The registry view chose a worldserver for a new placement.
    Placed {
        /// The choice.
        worldserver: WorldserverId,
    },
    /// PLAYER_LOGIN was sent to a worldserver.
    LoginSent {
        /// Where.
        worldserver: WorldserverId,
    },
    /// The worldserver was nudged because PLAYER_LOGIN got no answer in time.
    LoginNudged {
        /// Where.
        worldserver: WorldserverId,
    },
    /// The character is in world (first SMSG_TIME_SYNC_REQ).
    EnteredWorld {
        /// Where.
        worldserver: WorldserverId,
        /// From PLAYER_LOGIN (client) to in world.
        took_ms: u64,
        /// From PLAYER_LOGIN to the worldserver to in world: what the worldserver took.
        world_ms: u64,
    },
    /// The login failed; the client got SMSG_CHARACTER_LOGIN_FAILED.
    LoginFailed {
        /// The code sent.
        code: LoginFailure,
        /// Why.
        detail: String,
    },
    /// A map change needs another worldserver: the redirect began.
    HandoffStarted {
        /// Old worldserver.
        from: WorldserverId,
        /// New worldserver.
        to: WorldserverId,
        /// Destination map.
        map: u32,
    },
    /// The player must leave its worldserver without a map change of its own.
    RedirectRequested {
        /// The worldserver being left.
        from: WorldserverId,
        /// `worldserver` (an unsolicited READY_FOR_REDIRECT), `draining` or `layer switch`.
        reason: &'static str,
    },
    /// The player is in world on the new worldserver.
    HandoffCompleted {
        /// Old worldserver.
        from: WorldserverId,
        /// New worldserver.
        to: WorldserverId,
        /// From the client's MSG_MOVE_WORLDPORT_ACK to in world.
        took_ms: u64,
        /// From PLAYER_LOGIN to the new worldserver to in world: what it took.
        world_ms: u64,
    },
    /// The old worldserver did not release the player; the player stays where it is.
    HandoffAbandoned {
        /// Worldserver the player stays on.
        on: WorldserverId,
        /// Why.
        detail: String,
    },
    /// The old worldserver never answered PREPARE_FOR_REDIRECT for a map change: the gateway
    /// closed the link and logs the player in on the map's owner once the old worldserver's
    /// linger has passed.
    ReleaseForced {
        /// The worldserver left.
        from: WorldserverId,
        /// The wait before the login elsewhere.
        wait_ms: u64,
    },
    /// No worldserver can take the player now; the placement is asked again after a wait.
    PlacementWaiting {
        /// Why.
        detail: String,
        /// The wait.
        retry_in_ms: u64,
    },
    /// The worldserver connection was lost in world; the gateway reconnects.
    RecoveryStarted {
        /// The lost worldserver.
        from: WorldserverId,
        /// What happened.
        detail: String,
    },
    /// One recovery attempt failed; the next comes after a backoff wait.
    RecoveryAttemptFailed {
        /// Attempts so far.
        attempts: u32,
        /// What failed.
        detail: String,
        /// The wait before the next attempt.
        retry_in_ms: u64,
    },
    /// The player is back in world after a lost connection.
    Recovered {
        /// The lost worldserver.
        from: WorldserverId,
        /// Where the player is now (the same one, re-attached, unless its linger passed).
        to: WorldserverId,
        /// Attempts it took.
        attempts: u32,
        /// From the loss to in world.
        took_ms: u64,
    },
    /// The link to a worldserver that may hold the character went away.
    CharacterLeft {
        /// The character.
        guid: CharacterGuid,
        /// The worldserver.
        worldserver: WorldserverId,
        /// What the worldserver said about the character.
        how: Departure,
    },
    /// The player logged out to the character screen.
    LoggedOut,
    /// A worldserver answered a character create, delete or rename; the answer went to the
    /// client.
    CharServiceAnswered {
        /// The answer's opcode (SMSG_CHAR_CREATE, SMSG_CHAR_DELETE, SMSG_CHAR_RENAME).
        answer: Opcode,
        /// Who carried it out.
        worldserver: WorldserverId,
        /// Its result code.
        result: u8,
        /// From the client's request to the answer.
        took_ms: u64,
    },
    /// A character create, delete or rename could not be carried out; the client got the
    /// request's failure code.
    CharServiceFailed {
        /// The answer's opcode.
        answer: Opcode,
        /// The failure code sent.
        code: u8,
        /// Why.
        detail: String,
    },
    /// The session ended.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}

/// Packets a session moved since the last `Session::take_counters`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Packets decoded from the client.
    pub client_packets_in: u64,
    /// Packets sent to the client (forwarded or rendered).
    pub client_packets_out: u64,
    /// Packets decoded from worldservers.
    pub world_packets_in: u64,
    /// Packets sent to worldservers.
    pub world_packets_out: u64,
}

/// How a link that may hold a character went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// The worldserver let the character go: logout complete, or READY_FOR_REDIRECT status 0
    /// and the kick.
    Released,
    /// The worldserver refused this login (the replayed auth or the login itself): it never
    /// took the character on this link, though it may still hold it from an earlier one.
    Refused,
    /// The link went away without either: the worldserver may keep the character in world
    /// for its linger.
    Lost,
}
