//! Entering, leaving and moving between worlds: positions, world verification, transfers and
//! logout.

use bytes::{BufMut, BytesMut};

use super::WirePacket;
use crate::wire::codec::{DecodeError, Reader};
use crate::wire::opcode::Opcode;

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
