//! Typed bodies of the packets the gateway acts on (PROTOCOL.md section 4) and of the few it
//! renders around the handshake. Every decoder is bounds-checked: it never panics and never
//! allocates more than the body it was given.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{DecodeError, Reader, WriteExt};
use super::opcode::Opcode;

/// Longest character or realm name accepted (bytes, NUL excluded).
pub const NAME_MAX_BYTES: usize = 64;
/// Longest MOTD line accepted (bytes, NUL excluded).
pub const MOTD_LINE_MAX_BYTES: usize = 1024;
/// Longest short free-form string (realm split date) accepted.
pub const SHORT_TEXT_MAX_BYTES: usize = 64;
/// Equipment slots listed per character in SMSG_CHAR_ENUM.
pub const CHAR_ENUM_EQUIPMENT_SLOTS: usize = 23;
/// Account data slots (bits of the account data times mask).
pub const ACCOUNT_DATA_SLOTS: usize = 8;
/// Account data mask for global data.
pub const ACCOUNT_DATA_GLOBAL_MASK: u32 = 0x15;
/// Account data mask for per-character data.
pub const ACCOUNT_DATA_PER_CHARACTER_MASK: u32 = 0xEA;

/// A packet body with a fixed opcode.
pub trait WirePacket: Sized {
    /// The opcode this body travels under.
    const OPCODE: Opcode;

    /// Appends the body to `out`.
    fn encode(&self, out: &mut BytesMut);

    /// Parses a body.
    fn decode(body: &[u8]) -> Result<Self, DecodeError>;

    /// The body as fresh bytes.
    fn to_body(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out.freeze()
    }
}

macro_rules! empty_packet {
    ($(#[$doc:meta] $name:ident => $opcode:ident;)*) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl WirePacket for $name {
            const OPCODE: Opcode = Opcode::$opcode;
            fn encode(&self, _out: &mut BytesMut) {}
            fn decode(_body: &[u8]) -> Result<Self, DecodeError> {
                // Trailing bytes are ignored, as the worldserver does.
                Ok(Self)
            }
        }
    )*};
}

empty_packet! {
    /// CMSG_CHAR_ENUM: list my characters.
    CharEnumRequest => CMSG_CHAR_ENUM;
    /// MSG_MOVE_WORLDPORT_ACK: the client finished loading after SMSG_NEW_WORLD.
    WorldportAck => MSG_MOVE_WORLDPORT_ACK;
    /// CMSG_LOGOUT_REQUEST.
    LogoutRequest => CMSG_LOGOUT_REQUEST;
    /// SMSG_LOGOUT_COMPLETE.
    LogoutComplete => SMSG_LOGOUT_COMPLETE;
    /// CMSG_READY_FOR_ACCOUNT_DATA_TIMES.
    ReadyForAccountDataTimes => CMSG_READY_FOR_ACCOUNT_DATA_TIMES;
    /// TC9_CMSG_PREPARE_FOR_REDIRECT: ask a worldserver to save and release the player.
    PrepareForRedirect => TC9_CMSG_PREPARE_FOR_REDIRECT;
}

macro_rules! single_field_packet {
    ($(#[$doc:meta] $name:ident => $opcode:ident { $field:ident : $ty:ty, $get:ident, $put:ident };)*) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name {
            #[allow(missing_docs)]
            pub $field: $ty,
        }

        impl WirePacket for $name {
            const OPCODE: Opcode = Opcode::$opcode;
            fn encode(&self, out: &mut BytesMut) {
                out.$put(self.$field);
            }
            fn decode(body: &[u8]) -> Result<Self, DecodeError> {
                let mut r = Reader::new(body);
                Ok(Self { $field: r.$get(stringify!($field))? })
            }
        }
    )*};
}

single_field_packet! {
    /// SMSG_CHAR_CREATE: u8 result (0x2F success).
    CharCreateResult => SMSG_CHAR_CREATE { result: u8, u8, put_u8 };
    /// CMSG_CHAR_DELETE: u64 guid.
    CharDelete => CMSG_CHAR_DELETE { guid: u64, u64, put_u64_le };
    /// SMSG_CHAR_DELETE: u8 result (0x47 success).
    CharDeleteResult => SMSG_CHAR_DELETE { result: u8, u8, put_u8 };
    /// CMSG_PLAYER_LOGIN: u64 guid (trailing bytes ignored).
    PlayerLogin => CMSG_PLAYER_LOGIN { guid: u64, u64, put_u64_le };
    /// SMSG_PONG: echoes the ping's sequence number.
    Pong => SMSG_PONG { seq: u32, u32, put_u32_le };
    /// SMSG_TIME_SYNC_REQ: u32 counter.
    TimeSyncReq => SMSG_TIME_SYNC_REQ { counter: u32, u32, put_u32_le };
    /// CMSG_REALM_SPLIT: u32 decision.
    RealmSplitRequest => CMSG_REALM_SPLIT { decision: u32, u32, put_u32_le };
    /// CMSG_NAME_QUERY: u64 guid (plain, not packed).
    NameQuery => CMSG_NAME_QUERY { guid: u64, u64, put_u64_le };
    /// TC9_SMSG_READY_FOR_REDIRECT: u8 status (0 released, 1 failed).
    ReadyForRedirect => TC9_SMSG_READY_FOR_REDIRECT { status: u8, u8, put_u8 };
    /// SMSG_CLIENTCACHE_VERSION: u32 version.
    ClientCacheVersion => SMSG_CLIENTCACHE_VERSION { version: u32, u32, put_u32_le };
}

/// SMSG_CHARACTER_LOGIN_FAILED result codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoginFailure(pub u8);

impl LoginFailure {
    /// Realm availability is off (sent by a cluster worldserver).
    pub const WORLD_UNAVAILABLE: Self = Self(0x01);
    /// Conflict with an offline session (sent by a cluster worldserver).
    pub const OFFLINE_CONFLICT: Self = Self(0x02);
    /// A login is already in progress.
    pub const IN_PROGRESS: Self = Self(0x4C);
    /// No world server is available.
    pub const NO_WORLD: Self = Self(0x4E);
    /// The character is already logged in.
    pub const DUPLICATE_CHARACTER: Self = Self(0x4F);
    /// No instance server is available.
    pub const NO_INSTANCES: Self = Self(0x50);
    /// Generic failure.
    pub const FAILED: Self = Self(0x51);
    /// Logins are disabled.
    pub const DISABLED: Self = Self(0x52);
    /// No such character.
    pub const NO_CHARACTER: Self = Self(0x53);
    /// The character is locked for transfer.
    pub const LOCKED_FOR_TRANSFER: Self = Self(0x54);

    /// The protocol's name for the code, if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::WORLD_UNAVAILABLE => "WORLD_UNAVAILABLE",
            Self::OFFLINE_CONFLICT => "OFFLINE_CONFLICT",
            Self::IN_PROGRESS => "CHAR_LOGIN_IN_PROGRESS",
            Self::NO_WORLD => "CHAR_LOGIN_NO_WORLD",
            Self::DUPLICATE_CHARACTER => "CHAR_LOGIN_DUPLICATE_CHARACTER",
            Self::NO_INSTANCES => "CHAR_LOGIN_NO_INSTANCES",
            Self::FAILED => "CHAR_LOGIN_FAILED",
            Self::DISABLED => "CHAR_LOGIN_DISABLED",
            Self::NO_CHARACTER => "CHAR_LOGIN_NO_CHARACTER",
            Self::LOCKED_FOR_TRANSFER => "CHAR_LOGIN_LOCKED_FOR_TRANSFER",
            _ => return None,
        })
    }
}

/// SMSG_CHARACTER_LOGIN_FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CharacterLoginFailed {
    /// Why.
    pub reason: LoginFailure,
}

impl WirePacket for CharacterLoginFailed {
    const OPCODE: Opcode = Opcode::SMSG_CHARACTER_LOGIN_FAILED;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.reason.0);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self {
            reason: LoginFailure(Reader::new(body).u8("reason")?),
        })
    }
}

/// A position with facing, as several packets carry it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Position {
    /// X.
    pub x: f32,
    /// Y.
    pub y: f32,
    /// Z.
    pub z: f32,
    /// Facing in radians.
    pub orientation: f32,
}

/// Body shared by SMSG_LOGIN_VERIFY_WORLD and SMSG_NEW_WORLD: u32 map, f32 x, y, z, o.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MapPosition {
    /// Map id.
    pub map: u32,
    /// Position on the map.
    pub position: Position,
}

impl MapPosition {
    fn put(&self, out: &mut BytesMut) {
        out.put_u32_le(self.map);
        out.put_f32_le(self.position.x);
        out.put_f32_le(self.position.y);
        out.put_f32_le(self.position.z);
        out.put_f32_le(self.position.orientation);
    }

    fn get(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            map: r.u32("map")?,
            position: Position {
                x: r.f32("x")?,
                y: r.f32("y")?,
                z: r.f32("z")?,
                orientation: r.f32("orientation")?,
            },
        })
    }
}

/// SMSG_LOGIN_VERIFY_WORLD.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LoginVerifyWorld(pub MapPosition);

impl WirePacket for LoginVerifyWorld {
    const OPCODE: Opcode = Opcode::SMSG_LOGIN_VERIFY_WORLD;
    fn encode(&self, out: &mut BytesMut) {
        self.0.put(out);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        MapPosition::get(body).map(Self)
    }
}

/// SMSG_NEW_WORLD: the client shows a loading screen and answers MSG_MOVE_WORLDPORT_ACK.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NewWorld(pub MapPosition);

impl WirePacket for NewWorld {
    const OPCODE: Opcode = Opcode::SMSG_NEW_WORLD;
    fn encode(&self, out: &mut BytesMut) {
        self.0.put(out);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        MapPosition::get(body).map(Self)
    }
}

/// SMSG_TRANSFER_PENDING: u32 map [+ u32 transport entry, u32 transport map].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransferPending {
    /// Destination map.
    pub map: u32,
    /// Transport entry and the transport's map, when boarding one.
    pub transport: Option<(u32, u32)>,
}

impl WirePacket for TransferPending {
    const OPCODE: Opcode = Opcode::SMSG_TRANSFER_PENDING;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.map);
        if let Some((entry, map)) = self.transport {
            out.put_u32_le(entry);
            out.put_u32_le(map);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let map = r.u32("map")?;
        let transport = if r.remaining() >= 8 {
            Some((r.u32("transport_entry")?, r.u32("transport_map")?))
        } else {
            None
        };
        Ok(Self { map, transport })
    }
}

/// SMSG_TRANSFER_ABORTED: u32 map, u8 reason [+ u8 arg].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TransferAborted {
    /// Map the transfer was for.
    pub map: u32,
    /// Reason code.
    pub reason: u8,
    /// Extra argument for reasons that carry one.
    pub arg: Option<u8>,
}

impl WirePacket for TransferAborted {
    const OPCODE: Opcode = Opcode::SMSG_TRANSFER_ABORTED;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.map);
        out.put_u8(self.reason);
        if let Some(arg) = self.arg {
            out.put_u8(arg);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let map = r.u32("map")?;
        let reason = r.u8("reason")?;
        let arg = if r.remaining() >= 1 {
            Some(r.u8("arg")?)
        } else {
            None
        };
        Ok(Self { map, reason, arg })
    }
}

/// SMSG_LOGOUT_RESPONSE: u32 result (0 ok, 1 in combat, 2 other, 3 falling), u8 instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogoutResponse {
    /// Result code.
    pub result: u32,
    /// Whether SMSG_LOGOUT_COMPLETE follows at once.
    pub instant: bool,
}

impl WirePacket for LogoutResponse {
    const OPCODE: Opcode = Opcode::SMSG_LOGOUT_RESPONSE;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.result);
        out.put_u8(u8::from(self.instant));
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            result: r.u32("result")?,
            instant: r.u8("instant")? != 0,
        })
    }
}

/// CMSG_PING: u32 seq, u32 latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ping {
    /// Sequence number, echoed in SMSG_PONG.
    pub seq: u32,
    /// The client's measured latency in milliseconds.
    pub latency_ms: u32,
}

impl WirePacket for Ping {
    const OPCODE: Opcode = Opcode::CMSG_PING;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.seq);
        out.put_u32_le(self.latency_ms);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            seq: r.u32("seq")?,
            latency_ms: r.u32("latency")?,
        })
    }
}

/// CMSG_TIME_SYNC_RESP: u32 counter, u32 client ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeSyncResp {
    /// The counter from SMSG_TIME_SYNC_REQ.
    pub counter: u32,
    /// The client's tick count in milliseconds.
    pub client_ticks_ms: u32,
}

impl WirePacket for TimeSyncResp {
    const OPCODE: Opcode = Opcode::CMSG_TIME_SYNC_RESP;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.counter);
        out.put_u32_le(self.client_ticks_ms);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            counter: r.u32("counter")?,
            client_ticks_ms: r.u32("ticks")?,
        })
    }
}

/// SMSG_ACCOUNT_DATA_TIMES: u32 unix time, u8 1, u32 mask, one u32 per set bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountDataTimes {
    /// Server time, seconds since the Unix epoch.
    pub unix_time: u32,
    /// Which slots follow.
    pub mask: u8,
    /// Per-slot modification times; only the slots in `mask` go on the wire.
    pub times: [u32; ACCOUNT_DATA_SLOTS],
}

impl WirePacket for AccountDataTimes {
    const OPCODE: Opcode = Opcode::SMSG_ACCOUNT_DATA_TIMES;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.unix_time);
        out.put_u8(1);
        out.put_u32_le(u32::from(self.mask));
        for (slot, time) in self.times.iter().enumerate() {
            if self.mask & (1 << slot) != 0 {
                out.put_u32_le(*time);
            }
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let unix_time = r.u32("unix_time")?;
        let one = r.u8("unk1")?;
        if one != 1 {
            return Err(DecodeError::InvalidValue {
                field: "unk1",
                value: u64::from(one),
            });
        }
        let mask = r.u32("mask")?;
        let mask = u8::try_from(mask).map_err(|_| DecodeError::InvalidValue {
            field: "mask",
            value: u64::from(mask),
        })?;
        let mut times = [0u32; ACCOUNT_DATA_SLOTS];
        for (slot, time) in times.iter_mut().enumerate() {
            if mask & (1 << slot) != 0 {
                *time = r.u32("time")?;
            }
        }
        Ok(Self {
            unix_time,
            mask,
            times,
        })
    }
}

/// SMSG_REALM_SPLIT: u32 echo of the request, u32 state, cstr date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RealmSplit {
    /// The request's decision field, echoed.
    pub decision: u32,
    /// Split state (0 normal).
    pub state: u32,
    /// Split date text.
    pub date: String,
}

impl WirePacket for RealmSplit {
    const OPCODE: Opcode = Opcode::SMSG_REALM_SPLIT;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.decision);
        out.put_u32_le(self.state);
        out.put_cstr(&self.date);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            decision: r.u32("decision")?,
            state: r.u32("state")?,
            date: r.cstr("date", SHORT_TEXT_MAX_BYTES)?.to_owned(),
        })
    }
}

/// The five declined forms of a name (Russian clients).
pub type DeclinedNames = [String; 5];

/// SMSG_NAME_QUERY_RESPONSE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameQueryResponse {
    /// The name is known.
    Found {
        /// Character guid.
        guid: u64,
        /// Character name.
        name: String,
        /// Realm name; empty for the player's own realm.
        realm: String,
        /// Race id.
        race: u8,
        /// Gender id.
        gender: u8,
        /// Class id.
        class: u8,
        /// Declined forms, when the realm uses them.
        declined: Option<Box<DeclinedNames>>,
    },
    /// No such character.
    NotFound {
        /// The guid that was asked for.
        guid: u64,
    },
}

impl WirePacket for NameQueryResponse {
    const OPCODE: Opcode = Opcode::SMSG_NAME_QUERY_RESPONSE;
    fn encode(&self, out: &mut BytesMut) {
        match self {
            Self::NotFound { guid } => {
                out.put_packed_guid(*guid);
                out.put_u8(1);
            }
            Self::Found {
                guid,
                name,
                realm,
                race,
                gender,
                class,
                declined,
            } => {
                out.put_packed_guid(*guid);
                out.put_u8(0);
                out.put_cstr(name);
                out.put_cstr(realm);
                out.put_u8(*race);
                out.put_u8(*gender);
                out.put_u8(*class);
                match declined {
                    None => out.put_u8(0),
                    Some(names) => {
                        out.put_u8(1);
                        for n in names.iter() {
                            out.put_cstr(n);
                        }
                    }
                }
            }
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let guid = r.packed_guid("guid")?;
        if r.u8("not_found")? != 0 {
            return Ok(Self::NotFound { guid });
        }
        let name = r.cstr("name", NAME_MAX_BYTES)?.to_owned();
        let realm = r.cstr("realm", NAME_MAX_BYTES)?.to_owned();
        let race = r.u8("race")?;
        let gender = r.u8("gender")?;
        let class = r.u8("class")?;
        let declined = if r.u8("has_declined")? != 0 {
            let mut names: DeclinedNames = Default::default();
            for n in names.iter_mut() {
                *n = r.cstr("declined_name", NAME_MAX_BYTES)?.to_owned();
            }
            Some(Box::new(names))
        } else {
            None
        };
        Ok(Self::Found {
            guid,
            name,
            realm,
            race,
            gender,
            class,
            declined,
        })
    }
}

/// SMSG_MOTD: u32 n, n lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Motd {
    /// Lines of the message of the day.
    pub lines: Vec<String>,
}

impl WirePacket for Motd {
    const OPCODE: Opcode = Opcode::SMSG_MOTD;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.lines.len() as u32);
        for l in &self.lines {
            out.put_cstr(l);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let n = r.count_u32("line_count", usize::MAX, 1)?;
        let mut lines = Vec::with_capacity(n);
        for _ in 0..n {
            lines.push(r.cstr("line", MOTD_LINE_MAX_BYTES)?.to_owned());
        }
        Ok(Self { lines })
    }
}

/// SMSG_INIT_WORLD_STATES: u32 map, zone, area, u16 n, n x (u32 state, u32 value).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InitWorldStates {
    /// Map id.
    pub map: u32,
    /// Zone id.
    pub zone: u32,
    /// Area id.
    pub area: u32,
    /// World state id and value pairs, in wire order.
    pub states: Vec<(u32, u32)>,
}

impl WirePacket for InitWorldStates {
    const OPCODE: Opcode = Opcode::SMSG_INIT_WORLD_STATES;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.map);
        out.put_u32_le(self.zone);
        out.put_u32_le(self.area);
        out.put_u16_le(self.states.len().min(usize::from(u16::MAX)) as u16);
        for (id, value) in self.states.iter().take(usize::from(u16::MAX)) {
            out.put_u32_le(*id);
            out.put_u32_le(*value);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let map = r.u32("map")?;
        let zone = r.u32("zone")?;
        let area = r.u32("area")?;
        let n = r.u16("state_count")?;
        let n = r.check_count("state_count", u64::from(n), usize::MAX, 8)?;
        let mut states = Vec::with_capacity(n);
        for _ in 0..n {
            states.push((r.u32("state")?, r.u32("value")?));
        }
        Ok(Self {
            map,
            zone,
            area,
            states,
        })
    }
}

/// Power types in SMSG_LEVELUP_INFO.
pub const MAX_POWERS: usize = 7;
/// Primary stats in SMSG_LEVELUP_INFO.
pub const MAX_STATS: usize = 5;

/// SMSG_LEVELUP_INFO: u32 level, u32 health gain, 7 x u32 power gains, 5 x u32 stat gains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LevelupInfo {
    /// The new level.
    pub level: u32,
    /// Health gained.
    pub health_gain: u32,
    /// Gains per power type.
    pub power_gains: [u32; MAX_POWERS],
    /// Gains per primary stat.
    pub stat_gains: [u32; MAX_STATS],
}

impl WirePacket for LevelupInfo {
    const OPCODE: Opcode = Opcode::SMSG_LEVELUP_INFO;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.level);
        out.put_u32_le(self.health_gain);
        for v in self.power_gains.iter().chain(self.stat_gains.iter()) {
            out.put_u32_le(*v);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let mut out = Self {
            level: r.u32("level")?,
            health_gain: r.u32("health_gain")?,
            ..Self::default()
        };
        for v in out.power_gains.iter_mut() {
            *v = r.u32("power_gain")?;
        }
        for v in out.stat_gains.iter_mut() {
            *v = r.u32("stat_gain")?;
        }
        Ok(out)
    }
}

/// SMSG_TUTORIAL_FLAGS: 8 x u32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TutorialFlags {
    /// The tutorial bitmask words.
    pub words: [u32; 8],
}

impl WirePacket for TutorialFlags {
    const OPCODE: Opcode = Opcode::SMSG_TUTORIAL_FLAGS;
    fn encode(&self, out: &mut BytesMut) {
        for w in self.words {
            out.put_u32_le(w);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let mut words = [0u32; 8];
        for w in words.iter_mut() {
            *w = r.u32("tutorial_word")?;
        }
        Ok(Self { words })
    }
}

/// CMSG_CHAR_CREATE: cstr name, u8 race, class, gender, skin, face, hair style, hair color,
/// facial hair, outfit.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CharCreate {
    /// Requested name.
    pub name: String,
    /// Race, class, gender, skin, face, hair style, hair color, facial hair, outfit.
    pub appearance: [u8; 9],
}

impl WirePacket for CharCreate {
    const OPCODE: Opcode = Opcode::CMSG_CHAR_CREATE;
    fn encode(&self, out: &mut BytesMut) {
        out.put_cstr(&self.name);
        out.put_slice(&self.appearance);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            name: r.cstr("name", NAME_MAX_BYTES)?.to_owned(),
            appearance: r.array("appearance")?,
        })
    }
}

/// One equipment slot as SMSG_CHAR_ENUM shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EnumEquipment {
    /// Item display id.
    pub display_id: u32,
    /// Inventory type.
    pub inventory_type: u8,
    /// Enchant aura id.
    pub enchant_aura: u32,
}

/// One character in SMSG_CHAR_ENUM.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnumCharacter {
    /// Character guid.
    pub guid: u64,
    /// Name.
    pub name: String,
    /// Race id.
    pub race: u8,
    /// Class id.
    pub class: u8,
    /// Gender id.
    pub gender: u8,
    /// Skin.
    pub skin: u8,
    /// Face.
    pub face: u8,
    /// Hair style.
    pub hair_style: u8,
    /// Hair color.
    pub hair_color: u8,
    /// Facial hair.
    pub facial_hair: u8,
    /// Level.
    pub level: u8,
    /// Zone id.
    pub zone: u32,
    /// Map id.
    pub map: u32,
    /// X.
    pub x: f32,
    /// Y.
    pub y: f32,
    /// Z.
    pub z: f32,
    /// Guild id (0 = none).
    pub guild_id: u32,
    /// Character flags.
    pub char_flags: u32,
    /// Customization flags.
    pub customize_flags: u32,
    /// Whether this is the first login.
    pub first_login: u8,
    /// Pet display id.
    pub pet_display: u32,
    /// Pet level.
    pub pet_level: u32,
    /// Pet family.
    pub pet_family: u32,
    /// Equipment, one entry per slot.
    pub equipment: [EnumEquipment; CHAR_ENUM_EQUIPMENT_SLOTS],
}

/// Smallest encoding of one [`EnumCharacter`]: everything but the name's text.
const ENUM_CHARACTER_MIN_BYTES: usize =
    8 + 1 + 9 + 8 + 12 + 12 + 1 + 12 + CHAR_ENUM_EQUIPMENT_SLOTS * 9;

/// SMSG_CHAR_ENUM.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CharEnum {
    /// The account's characters on this realm, in display order.
    pub characters: Vec<EnumCharacter>,
}

impl WirePacket for CharEnum {
    const OPCODE: Opcode = Opcode::SMSG_CHAR_ENUM;
    fn encode(&self, out: &mut BytesMut) {
        let n = self.characters.len().min(usize::from(u8::MAX));
        out.put_u8(n as u8);
        for c in self.characters.iter().take(n) {
            out.put_u64_le(c.guid);
            out.put_cstr(&c.name);
            out.put_slice(&[
                c.race,
                c.class,
                c.gender,
                c.skin,
                c.face,
                c.hair_style,
                c.hair_color,
                c.facial_hair,
                c.level,
            ]);
            out.put_u32_le(c.zone);
            out.put_u32_le(c.map);
            out.put_f32_le(c.x);
            out.put_f32_le(c.y);
            out.put_f32_le(c.z);
            out.put_u32_le(c.guild_id);
            out.put_u32_le(c.char_flags);
            out.put_u32_le(c.customize_flags);
            out.put_u8(c.first_login);
            out.put_u32_le(c.pet_display);
            out.put_u32_le(c.pet_level);
            out.put_u32_le(c.pet_family);
            for e in &c.equipment {
                out.put_u32_le(e.display_id);
                out.put_u8(e.inventory_type);
                out.put_u32_le(e.enchant_aura);
            }
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let n = r.u8("character_count")?;
        let n = r.check_count(
            "character_count",
            u64::from(n),
            usize::MAX,
            ENUM_CHARACTER_MIN_BYTES,
        )?;
        let mut characters = Vec::with_capacity(n);
        for _ in 0..n {
            let guid = r.u64("guid")?;
            let name = r.cstr("name", NAME_MAX_BYTES)?.to_owned();
            let [
                race,
                class,
                gender,
                skin,
                face,
                hair_style,
                hair_color,
                facial_hair,
                level,
            ] = r.array::<9>("appearance")?;
            let mut c = EnumCharacter {
                guid,
                name,
                race,
                class,
                gender,
                skin,
                face,
                hair_style,
                hair_color,
                facial_hair,
                level,
                zone: r.u32("zone")?,
                map: r.u32("map")?,
                x: r.f32("x")?,
                y: r.f32("y")?,
                z: r.f32("z")?,
                guild_id: r.u32("guild_id")?,
                char_flags: r.u32("char_flags")?,
                customize_flags: r.u32("customize_flags")?,
                first_login: r.u8("first_login")?,
                pet_display: r.u32("pet_display")?,
                pet_level: r.u32("pet_level")?,
                pet_family: r.u32("pet_family")?,
                equipment: Default::default(),
            };
            for e in c.equipment.iter_mut() {
                *e = EnumEquipment {
                    display_id: r.u32("display_id")?,
                    inventory_type: r.u8("inventory_type")?,
                    enchant_aura: r.u32("enchant_aura")?,
                };
            }
            characters.push(c);
        }
        Ok(Self { characters })
    }
}

/// One addon answer in SMSG_ADDON_INFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonAnswer {
    /// Addon state (2 = Blizzard-signed or normal).
    pub state: u8,
    /// Whether a CRC check result follows.
    pub crc_checked: bool,
    /// The addon's public key, sent when its CRC differs from the standard key's.
    pub public_key: Option<Box<[u8; 256]>>,
    /// Unknown u32 (0).
    pub unknown: u32,
    /// Update URL, when sent.
    pub url: Option<String>,
}

/// SMSG_ADDON_INFO: one answer per addon the client listed, then banned addons (u32 count,
/// always 0 from the gateway).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddonInfo {
    /// One answer per addon, in the client's order.
    pub answers: Vec<AddonAnswer>,
}

impl AddonInfo {
    /// Appends the body.
    pub fn encode(&self, out: &mut BytesMut) {
        for a in &self.answers {
            out.put_u8(a.state);
            out.put_u8(u8::from(a.crc_checked));
            if a.crc_checked {
                match &a.public_key {
                    Some(key) => {
                        out.put_u8(1);
                        out.put_slice(&key[..]);
                    }
                    None => out.put_u8(0),
                }
                out.put_u32_le(a.unknown);
            }
            match &a.url {
                Some(url) => {
                    out.put_u8(1);
                    out.put_cstr(url);
                }
                None => out.put_u8(0),
            }
        }
        out.put_u32_le(0);
    }

    /// Parses a body that answers `addon_count` addons (the body does not say how many).
    pub fn decode(body: &[u8], addon_count: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let n = r.check_count("addon_count", addon_count as u64, usize::MAX, 3)?;
        let mut answers = Vec::with_capacity(n);
        for _ in 0..n {
            let state = r.u8("state")?;
            let crc_checked = r.u8("crc_checked")? != 0;
            let mut public_key = None;
            let mut unknown = 0;
            if crc_checked {
                if r.u8("has_key")? != 0 {
                    public_key = Some(Box::new(r.array::<256>("public_key")?));
                }
                unknown = r.u32("unknown")?;
            }
            let url = if r.u8("has_url")? != 0 {
                Some(r.cstr("url", MOTD_LINE_MAX_BYTES)?.to_owned())
            } else {
                None
            };
            answers.push(AddonAnswer {
                state,
                crc_checked,
                public_key,
                unknown,
                url,
            });
        }
        let banned = r.u32("banned_count")?;
        if banned != 0 {
            return Err(DecodeError::InvalidValue {
                field: "banned_count",
                value: u64::from(banned),
            });
        }
        Ok(Self { answers })
    }
}

/// SMSG_MESSAGECHAT of type SYSTEM (0x00): the yellow system line in the chat frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemMessage {
    /// The text.
    pub text: String,
}

/// Longest chat text accepted (bytes, NUL excluded).
pub const CHAT_TEXT_MAX_BYTES: usize = 4096;

impl WirePacket for SystemMessage {
    const OPCODE: Opcode = Opcode::SMSG_MESSAGECHAT;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(0); // CHAT_MSG_SYSTEM
        out.put_u32_le(0); // LANG_UNIVERSAL
        out.put_u64_le(0); // sender
        out.put_u32_le(0); // flags
        out.put_u64_le(0); // receiver
        // Cut at the cap on a character boundary, so the text stays UTF-8.
        let mut cut = self.text.len().min(CHAT_TEXT_MAX_BYTES);
        while !self.text.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = &self.text.as_bytes()[..cut];
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        out.put_u32_le(end as u32 + 1);
        out.put_slice(&text[..end]);
        out.put_u8(0);
        out.put_u8(0); // chat tag
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let kind = r.u8("type")?;
        if kind != 0 {
            return Err(DecodeError::InvalidValue {
                field: "type",
                value: u64::from(kind),
            });
        }
        r.u32("language")?;
        r.u64("sender")?;
        r.u32("flags")?;
        r.u64("receiver")?;
        let len = r.u32("text_len")? as usize;
        if len == 0 || len > CHAT_TEXT_MAX_BYTES + 1 {
            return Err(DecodeError::TooLarge {
                field: "text_len",
                value: len as u64,
                limit: CHAT_TEXT_MAX_BYTES as u64 + 1,
            });
        }
        let text = r.cstr("text", len - 1)?.to_owned();
        r.u8("chat_tag")?;
        Ok(Self { text })
    }
}
