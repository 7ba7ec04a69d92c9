//! The client's latency and clock upkeep: ping and time-sync answers.

use bytes::{BufMut, BytesMut};

use super::WirePacket;
use crate::wire::codec::{DecodeError, Reader};
use crate::wire::opcode::Opcode;

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
