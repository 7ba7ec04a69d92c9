//! Incremental framing for the four byte streams the gateway handles.
//!
//! | stream                  | header                              | decoder / encoder        |
//! |-------------------------|-------------------------------------|--------------------------|
//! | client -> gateway       | 6 bytes, encrypted after auth       | [`ClientHeaderDecoder`]  |
//! | gateway -> worldserver  | 6 bytes, plain                      | [`ClientHeaderEncoder`]  |
//! | worldserver -> gateway  | 4 or 5 bytes, plain                 | [`ServerHeaderDecoder`]  |
//! | gateway -> client       | 4 or 5 bytes, encrypted after auth  | [`ServerHeaderEncoder`]  |
//!
//! The peers (bot client, fake worldserver) use the same types with the roles swapped.
//!
//! Decoders own their input buffer. Feed bytes in any chunking with [`ClientHeaderDecoder::extend`]
//! (or read straight into [`ClientHeaderDecoder::buffer_mut`]), then call `decode` until it answers
//! [`Decoded::NeedMore`]. Each header byte is decrypted exactly once, the moment it is consumed;
//! bodies are split off the buffer as [`Bytes`] without copying. After an error a decoder is
//! poisoned: the stream position is lost and the connection must close.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::crypt::HeaderCipher;
use super::opcode::{NUM_CLUSTER_MSG_TYPES, NUM_MSG_TYPES, Opcode};

/// Smallest client header size field: the opcode alone.
pub const CLIENT_MIN_SIZE: u16 = 4;
/// Client header size fields must stay below this (AzerothCore's bound).
pub const CLIENT_SIZE_LIMIT: u16 = 10240;
/// Largest body a client-format header can announce.
pub const CLIENT_MAX_BODY_BYTES: usize = (CLIENT_SIZE_LIMIT - 1 - CLIENT_MIN_SIZE) as usize;
/// Largest size a server header can express (3-byte form with the flag bit masked off).
pub const SERVER_MAX_SIZE: u32 = 0x7F_FFFF;
/// Largest body a server header can announce.
pub const SERVER_MAX_BODY_BYTES: usize = SERVER_MAX_SIZE as usize - 2;
/// Above this size field the server header takes its 5-byte form.
pub const SERVER_SMALL_SIZE_MAX: u32 = 0x7FFF;
/// Bytes in a client-format header.
pub const CLIENT_HEADER_LEN: usize = 6;

/// Who sent the bytes a decoder reads; named in errors so the caller knows whom to blame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A game client.
    Client,
    /// The gateway (seen from a worldserver or a bot).
    Gateway,
    /// A worldserver.
    Worldserver,
}

/// A framing failure. The stream cannot be resynchronised: close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A client-format header announced a size outside `4..10240`.
    #[error(
        "{from:?} sent a header with size {size}, outside {CLIENT_MIN_SIZE}..{CLIENT_SIZE_LIMIT}"
    )]
    ClientSize {
        /// Sender.
        from: Peer,
        /// The size field.
        size: u16,
    },
    /// A client-format header carried an opcode the receiver does not accept.
    #[error("{from:?} sent opcode {opcode} at or above the limit 0x{limit:03X}")]
    ClientOpcode {
        /// Sender.
        from: Peer,
        /// The opcode.
        opcode: Opcode,
        /// The exclusive limit in force.
        limit: u32,
    },
    /// A server-format header announced a size below 2 (no room for the opcode).
    #[error("{from:?} sent a server header with size {size}, below 2")]
    ServerSize {
        /// Sender.
        from: Peer,
        /// The size field.
        size: u32,
    },
    /// A server-format header announced a body over the configured limit.
    #[error("{from:?} announced a {len}-byte body, over the limit of {limit_bytes} bytes")]
    ServerBodyTooLarge {
        /// Sender.
        from: Peer,
        /// Announced body length.
        len: usize,
        /// The limit in force.
        limit_bytes: usize,
    },
    /// Asked to encode a body the header format cannot carry. The caller's bug or a peer's
    /// oversized packet; the packet was not sent.
    #[error("a {len}-byte body does not fit a {format} header (limit {limit_bytes} bytes)")]
    EncodeTooLarge {
        /// Which header format.
        format: &'static str,
        /// Body length.
        len: usize,
        /// The limit.
        limit_bytes: usize,
    },
}

/// One decoded packet: opcode and body. The body shares the decoder's allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The opcode from the header.
    pub opcode: Opcode,
    /// The body, without header.
    pub body: Bytes,
}

/// What a decoder answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A whole packet.
    Packet(Packet),
    /// At least this many more bytes are needed before anything can be decoded.
    NeedMore(usize),
}

/// A whole packet found at the front of a lent buffer by a decoder's `next_in_place`: its
/// header, now decrypted where it lies, and its body right behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InPlace {
    /// The opcode from the header.
    pub opcode: Opcode,
    /// Bytes the header takes (6 for a client header, 4 or 5 for a server header).
    pub header_len: usize,
    /// Bytes the body takes.
    pub body_len: usize,
}

impl InPlace {
    /// Header and body together.
    pub fn wire_len(&self) -> usize {
        self.header_len + self.body_len
    }
}

/// An encoded header: up to six bytes on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Header {
    bytes: [u8; 6],
    len: u8,
}

impl Header {
    /// The header bytes as they go on the wire.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Header({:02x?})", self.as_slice())
    }
}

/// A packet ready to write: a fresh header and the untouched body.
#[derive(Debug, Clone)]
pub struct OutFrame {
    /// The encoded (and, where the stream has a cipher, encrypted) header.
    pub header: Header,
    /// The body, shared with wherever it came from.
    pub body: Bytes,
}

impl OutFrame {
    /// Bytes this frame takes on the wire.
    pub fn wire_len(&self) -> usize {
        self.header.as_slice().len() + self.body.len()
    }

    /// Appends header and body to `out` (one copy of the body, into the write buffer).
    pub fn write_to(&self, out: &mut BytesMut) {
        out.reserve(self.wire_len());
        out.put_slice(self.header.as_slice());
        out.put_slice(&self.body);
    }
}

#[derive(Debug, Clone, Copy)]
enum ClientState {
    Header,
    Body { opcode: Opcode, len: usize },
}

/// Decodes a stream of 6-byte-header packets (client -> gateway, gateway -> worldserver).
#[derive(Debug)]
pub struct ClientHeaderDecoder {
    buf: BytesMut,
    /// Boxed: most streams never encrypt (worldserver links), and those stay small.
    cipher: Option<Box<HeaderCipher>>,
    state: ClientState,
    from: Peer,
    opcode_limit: u32,
    failed: Option<FrameError>,
}

impl ClientHeaderDecoder {
    /// The gateway reading a game client: opcodes below 0x51F (the cluster's own opcodes are
    /// refused). Headers are plain until [`Self::start_cipher`].
    pub fn for_client() -> Self {
        Self::new(Peer::Client, NUM_MSG_TYPES)
    }

    /// A cluster-mode worldserver reading the gateway: opcodes below 0x521, never encrypted.
    pub fn for_gateway() -> Self {
        Self::new(Peer::Gateway, NUM_CLUSTER_MSG_TYPES)
    }

    fn new(from: Peer, opcode_limit: u32) -> Self {
        Self {
            buf: BytesMut::new(),
            cipher: None,
            state: ClientState::Header,
            from,
            opcode_limit,
            failed: None,
        }
    }

    /// Starts decrypting headers from the next unread header byte on. Bytes already buffered
    /// but not yet consumed are decrypted when they are reached.
    pub fn start_cipher(&mut self, cipher: HeaderCipher) {
        self.cipher = Some(Box::new(cipher));
    }

    /// Appends received bytes.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The input buffer, for reading from a socket straight into it.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes received but not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Decodes the next packet, or says how many more bytes are needed.
    pub fn decode(&mut self) -> Result<Decoded, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.decode_inner();
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// Whether the next byte received begins a header: nothing is buffered or half-read. Only
    /// then may [`Self::next_in_place`] be used.
    pub fn is_idle(&self) -> bool {
        self.buf.is_empty() && matches!(self.state, ClientState::Header) && self.failed.is_none()
    }

    /// Bytes the decoder must be given before it can hand out its next packet or header: what
    /// completes the header or body being read.
    pub fn wanted(&self) -> usize {
        match self.state {
            ClientState::Header => CLIENT_HEADER_LEN.saturating_sub(self.buf.len()).max(1),
            ClientState::Body { len, .. } => len.saturating_sub(self.buf.len()).max(1),
        }
    }

    /// Lets go of an empty input buffer's memory, so an idle connection holds none.
    pub fn shed(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }

    /// Reads the packet at the front of `data`, a buffer lent by the caller, without copying
    /// it: the header is decrypted where it lies and checked as [`Self::decode`] checks it.
    /// The decoder must be idle ([`Self::is_idle`]).
    ///
    /// `Some`: a whole packet is at the front; the caller consumes its `wire_len` bytes.
    /// `None`: what is left of `data` is not a whole packet; the decoder has taken it (its
    /// header, if whole, already decrypted) and finishes it from the next bytes on.
    pub fn next_in_place(&mut self, data: &mut [u8]) -> Result<Option<InPlace>, FrameError> {
        debug_assert!(
            self.is_idle(),
            "next_in_place on a decoder with buffered bytes"
        );
        if data.len() < CLIENT_HEADER_LEN {
            self.buf.extend_from_slice(data);
            return Ok(None);
        }
        let h = &mut data[..CLIENT_HEADER_LEN];
        if let Some(cipher) = &mut self.cipher {
            cipher.apply(h);
        }
        let size = u16::from_be_bytes([h[0], h[1]]);
        let opcode = Opcode(u32::from_le_bytes([h[2], h[3], h[4], h[5]]));
        let len = match self.check_header(size, opcode) {
            Ok(len) => len,
            Err(e) => {
                self.failed = Some(e.clone());
                return Err(e);
            }
        };
        let rest = &data[CLIENT_HEADER_LEN..];
        if rest.len() < len {
            self.state = ClientState::Body { opcode, len };
            self.buf.extend_from_slice(rest);
            return Ok(None);
        }
        Ok(Some(InPlace {
            opcode,
            header_len: CLIENT_HEADER_LEN,
            body_len: len,
        }))
    }

    /// The body length a decrypted header announces, if the header is acceptable.
    fn check_header(&self, size: u16, opcode: Opcode) -> Result<usize, FrameError> {
        if !(CLIENT_MIN_SIZE..CLIENT_SIZE_LIMIT).contains(&size) {
            return Err(FrameError::ClientSize {
                from: self.from,
                size,
            });
        }
        if opcode.0 >= self.opcode_limit {
            return Err(FrameError::ClientOpcode {
                from: self.from,
                opcode,
                limit: self.opcode_limit,
            });
        }
        Ok(usize::from(size - CLIENT_MIN_SIZE))
    }

    fn decode_inner(&mut self) -> Result<Decoded, FrameError> {
        if let ClientState::Header = self.state {
            if self.buf.len() < CLIENT_HEADER_LEN {
                return Ok(Decoded::NeedMore(CLIENT_HEADER_LEN - self.buf.len()));
            }
            let mut h = [0u8; CLIENT_HEADER_LEN];
            h.copy_from_slice(&self.buf[..CLIENT_HEADER_LEN]);
            self.buf.advance(CLIENT_HEADER_LEN);
            if let Some(cipher) = &mut self.cipher {
                cipher.apply(&mut h);
            }
            let size = u16::from_be_bytes([h[0], h[1]]);
            let opcode = Opcode(u32::from_le_bytes([h[2], h[3], h[4], h[5]]));
            let len = self.check_header(size, opcode)?;
            self.state = ClientState::Body { opcode, len };
        }
        let ClientState::Body { opcode, len } = self.state else {
            unreachable!("header state handled above");
        };
        if self.buf.len() < len {
            return Ok(Decoded::NeedMore(len - self.buf.len()));
        }
        self.state = ClientState::Header;
        let body = self.buf.split_to(len).freeze();
        Ok(Decoded::Packet(Packet { opcode, body }))
    }
}

#[derive(Debug, Clone, Copy)]
enum ServerState {
    Header,
    /// The first four bytes of a 5-byte header are decrypted and consumed; one more is due.
    LargeTail {
        first: [u8; 4],
    },
    Body {
        opcode: Opcode,
        len: usize,
    },
}

/// Decodes a stream of 4/5-byte-header packets (worldserver -> gateway, gateway -> client).
#[derive(Debug)]
pub struct ServerHeaderDecoder {
    buf: BytesMut,
    /// Boxed: most streams never encrypt (worldserver links), and those stay small.
    cipher: Option<Box<HeaderCipher>>,
    state: ServerState,
    from: Peer,
    max_body_bytes: usize,
    failed: Option<FrameError>,
}

impl ServerHeaderDecoder {
    /// The gateway reading a worldserver (never encrypted). Bodies over `max_body_bytes`
    /// (capped at what the header can express) are refused.
    pub fn for_worldserver(max_body_bytes: usize) -> Self {
        Self::new(Peer::Worldserver, max_body_bytes)
    }

    /// A client reading the gateway. Headers are plain until [`Self::start_cipher`].
    pub fn for_gateway(max_body_bytes: usize) -> Self {
        Self::new(Peer::Gateway, max_body_bytes)
    }

    fn new(from: Peer, max_body_bytes: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            cipher: None,
            state: ServerState::Header,
            from,
            max_body_bytes: max_body_bytes.min(SERVER_MAX_BODY_BYTES),
            failed: None,
        }
    }

    /// Starts decrypting headers from the next unread header byte on.
    pub fn start_cipher(&mut self, cipher: HeaderCipher) {
        self.cipher = Some(Box::new(cipher));
    }

    /// Appends received bytes.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The input buffer, for reading from a socket straight into it.
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes received but not yet handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Decodes the next packet, or says how many more bytes are needed.
    pub fn decode(&mut self) -> Result<Decoded, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.decode_inner();
        if let Err(err) = &result {
            self.failed = Some(err.clone());
        }
        result
    }

    /// The header being waited on: its opcode and body length, once the whole header is
    /// decoded but the body is not complete. Lets a reader judge a header before its body.
    pub fn pending_header(&self) -> Option<(Opcode, usize)> {
        match self.state {
            ServerState::Body { opcode, len } => Some((opcode, len)),
            _ => None,
        }
    }

    /// Whether the next byte received begins a header: nothing is buffered or half-read. Only
    /// then may [`Self::next_in_place`] be used.
    pub fn is_idle(&self) -> bool {
        self.buf.is_empty() && matches!(self.state, ServerState::Header) && self.failed.is_none()
    }

    /// Bytes the decoder must be given before it can hand out its next packet or header: what
    /// completes the header or body being read.
    pub fn wanted(&self) -> usize {
        match self.state {
            ServerState::Header => 4usize.saturating_sub(self.buf.len()).max(1),
            ServerState::LargeTail { .. } => 1,
            ServerState::Body { len, .. } => len.saturating_sub(self.buf.len()).max(1),
        }
    }

    /// Lets go of an empty input buffer's memory, so an idle connection holds none.
    pub fn shed(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }

    /// Reads the packet at the front of `data`, a buffer lent by the caller, without copying
    /// it: the 4- or 5-byte header is decrypted where it lies and checked as [`Self::decode`]
    /// checks it. The decoder must be idle ([`Self::is_idle`]).
    ///
    /// `Some`: a whole packet is at the front; the caller consumes its `wire_len` bytes.
    /// `None`: what is left of `data` is not a whole packet; the decoder has taken it (the
    /// header bytes it could, already decrypted) and finishes it from the next bytes on.
    pub fn next_in_place(&mut self, data: &mut [u8]) -> Result<Option<InPlace>, FrameError> {
        debug_assert!(
            self.is_idle(),
            "next_in_place on a decoder with buffered bytes"
        );
        if data.len() < 4 {
            self.buf.extend_from_slice(data);
            return Ok(None);
        }
        if let Some(cipher) = &mut self.cipher {
            cipher.apply(&mut data[..4]);
        }
        let first = [data[0], data[1], data[2], data[3]];
        let (size, opcode, header_len) = if first[0] & 0x80 == 0 {
            let size = u32::from(u16::from_be_bytes([first[0], first[1]]));
            (size, u16::from_le_bytes([first[2], first[3]]), 4)
        } else {
            let Some(last) = data.get_mut(4) else {
                self.state = ServerState::LargeTail { first };
                return Ok(None);
            };
            if let Some(cipher) = &mut self.cipher {
                cipher.apply(std::slice::from_mut(last));
            }
            let size = u32::from_be_bytes([0, first[0] & 0x7F, first[1], first[2]]);
            (size, u16::from_le_bytes([first[3], *last]), 5)
        };
        let opcode = Opcode(u32::from(opcode));
        let state = match self.body_state(size, opcode) {
            Ok(state) => state,
            Err(e) => {
                self.failed = Some(e.clone());
                return Err(e);
            }
        };
        let ServerState::Body { len, .. } = state else {
            unreachable!("body_state answers a body state");
        };
        let rest = &data[header_len..];
        if rest.len() < len {
            self.state = state;
            self.buf.extend_from_slice(rest);
            return Ok(None);
        }
        Ok(Some(InPlace {
            opcode,
            header_len,
            body_len: len,
        }))
    }

    fn take_decrypted<const N: usize>(&mut self) -> [u8; N] {
        let mut h = [0u8; N];
        h.copy_from_slice(&self.buf[..N]);
        self.buf.advance(N);
        if let Some(cipher) = &mut self.cipher {
            cipher.apply(&mut h);
        }
        h
    }

    fn decode_inner(&mut self) -> Result<Decoded, FrameError> {
        if let ServerState::Header = self.state {
            if self.buf.len() < 4 {
                return Ok(Decoded::NeedMore(4 - self.buf.len()));
            }
            let first: [u8; 4] = self.take_decrypted();
            if first[0] & 0x80 != 0 {
                self.state = ServerState::LargeTail { first };
            } else {
                let size = u32::from(u16::from_be_bytes([first[0], first[1]]));
                let opcode = Opcode(u32::from(u16::from_le_bytes([first[2], first[3]])));
                self.state = self.body_state(size, opcode)?;
            }
        }
        if let ServerState::LargeTail { first } = self.state {
            if self.buf.is_empty() {
                return Ok(Decoded::NeedMore(1));
            }
            let [last]: [u8; 1] = self.take_decrypted();
            let size = u32::from_be_bytes([0, first[0] & 0x7F, first[1], first[2]]);
            let opcode = Opcode(u32::from(u16::from_le_bytes([first[3], last])));
            self.state = self.body_state(size, opcode)?;
        }
        let ServerState::Body { opcode, len } = self.state else {
            unreachable!("header states handled above");
        };
        if self.buf.len() < len {
            return Ok(Decoded::NeedMore(len - self.buf.len()));
        }
        self.state = ServerState::Header;
        let body = self.buf.split_to(len).freeze();
        Ok(Decoded::Packet(Packet { opcode, body }))
    }

    fn body_state(&self, size: u32, opcode: Opcode) -> Result<ServerState, FrameError> {
        if size < 2 {
            return Err(FrameError::ServerSize {
                from: self.from,
                size,
            });
        }
        let len = (size - 2) as usize;
        if len > self.max_body_bytes {
            return Err(FrameError::ServerBodyTooLarge {
                from: self.from,
                len,
                limit_bytes: self.max_body_bytes,
            });
        }
        Ok(ServerState::Body { opcode, len })
    }
}

/// Encodes 6-byte headers (gateway -> worldserver plain; a bot -> gateway encrypted).
#[derive(Debug, Default)]
pub struct ClientHeaderEncoder {
    /// Boxed: most streams never encrypt (worldserver links), and those stay small.
    cipher: Option<Box<HeaderCipher>>,
}

impl ClientHeaderEncoder {
    /// A plain encoder (the gateway's worldserver leg; a bot before auth).
    pub fn plain() -> Self {
        Self { cipher: None }
    }

    /// Encrypts every header from now on.
    pub fn start_cipher(&mut self, cipher: HeaderCipher) {
        self.cipher = Some(Box::new(cipher));
    }

    /// Encodes the header for a body of `body_len` bytes.
    pub fn header(&mut self, opcode: Opcode, body_len: usize) -> Result<Header, FrameError> {
        if body_len > CLIENT_MAX_BODY_BYTES {
            return Err(FrameError::EncodeTooLarge {
                format: "client",
                len: body_len,
                limit_bytes: CLIENT_MAX_BODY_BYTES,
            });
        }
        let size = (body_len + usize::from(CLIENT_MIN_SIZE)) as u16;
        let mut bytes = [0u8; 6];
        bytes[..2].copy_from_slice(&size.to_be_bytes());
        bytes[2..].copy_from_slice(&opcode.0.to_le_bytes());
        if let Some(cipher) = &mut self.cipher {
            cipher.apply(&mut bytes);
        }
        Ok(Header { bytes, len: 6 })
    }

    /// Re-frames a body for this stream without copying it.
    pub fn frame(&mut self, opcode: Opcode, body: Bytes) -> Result<OutFrame, FrameError> {
        let header = self.header(opcode, body.len())?;
        Ok(OutFrame { header, body })
    }

    /// Writes this stream's header for a `body_len`-byte body over `slot`, the header a
    /// packet arrived with, so the packet can go on from where it lies. False, with nothing
    /// written and the cipher untouched, when the header takes another length than `slot`.
    pub fn reframe_in_place(&mut self, opcode: Opcode, body_len: usize, slot: &mut [u8]) -> bool {
        if slot.len() != CLIENT_HEADER_LEN || body_len > CLIENT_MAX_BODY_BYTES {
            return false;
        }
        match self.header(opcode, body_len) {
            Ok(h) => {
                slot.copy_from_slice(h.as_slice());
                true
            }
            Err(_) => false,
        }
    }

    /// Appends a whole packet to `out`.
    pub fn encode(
        &mut self,
        opcode: Opcode,
        body: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), FrameError> {
        let header = self.header(opcode, body.len())?;
        out.reserve(6 + body.len());
        out.put_slice(header.as_slice());
        out.put_slice(body);
        Ok(())
    }
}

/// Encodes 4/5-byte headers (gateway -> client encrypted; a worldserver -> gateway plain).
#[derive(Debug, Default)]
pub struct ServerHeaderEncoder {
    /// Boxed: most streams never encrypt (worldserver links), and those stay small.
    cipher: Option<Box<HeaderCipher>>,
}

impl ServerHeaderEncoder {
    /// A plain encoder (a worldserver; the gateway before the client's auth).
    pub fn plain() -> Self {
        Self { cipher: None }
    }

    /// Encrypts every header from now on.
    pub fn start_cipher(&mut self, cipher: HeaderCipher) {
        self.cipher = Some(Box::new(cipher));
    }

    /// Encodes the header for a body of `body_len` bytes: 4 bytes, or 5 when the size field
    /// (body + 2) exceeds 0x7FFF.
    pub fn header(&mut self, opcode: Opcode, body_len: usize) -> Result<Header, FrameError> {
        if body_len > SERVER_MAX_BODY_BYTES {
            return Err(FrameError::EncodeTooLarge {
                format: "server",
                len: body_len,
                limit_bytes: SERVER_MAX_BODY_BYTES,
            });
        }
        let size = (body_len + 2) as u32;
        let op = opcode.as_u16().to_le_bytes();
        let mut bytes = [0u8; 6];
        let len = if size > SERVER_SMALL_SIZE_MAX {
            let s = size.to_be_bytes();
            bytes[..5].copy_from_slice(&[s[1] | 0x80, s[2], s[3], op[0], op[1]]);
            5
        } else {
            let s = (size as u16).to_be_bytes();
            bytes[..4].copy_from_slice(&[s[0], s[1], op[0], op[1]]);
            4
        };
        if let Some(cipher) = &mut self.cipher {
            cipher.apply(&mut bytes[..len]);
        }
        Ok(Header {
            bytes,
            len: len as u8,
        })
    }

    /// Re-frames a body for this stream without copying it.
    pub fn frame(&mut self, opcode: Opcode, body: Bytes) -> Result<OutFrame, FrameError> {
        let header = self.header(opcode, body.len())?;
        Ok(OutFrame { header, body })
    }

    /// Writes this stream's header for a `body_len`-byte body over `slot`, the header a
    /// packet arrived with, so the packet can go on from where it lies. False, with nothing
    /// written and the cipher untouched, when the header takes another length than `slot`
    /// (a 5-byte header for a small body, or the reverse).
    pub fn reframe_in_place(&mut self, opcode: Opcode, body_len: usize, slot: &mut [u8]) -> bool {
        if body_len > SERVER_MAX_BODY_BYTES {
            return false;
        }
        let large = body_len + 2 > SERVER_SMALL_SIZE_MAX as usize;
        if slot.len() != if large { 5 } else { 4 } {
            return false;
        }
        match self.header(opcode, body_len) {
            Ok(h) => {
                slot.copy_from_slice(h.as_slice());
                true
            }
            Err(_) => false,
        }
    }

    /// Appends a whole packet to `out`.
    pub fn encode(
        &mut self,
        opcode: Opcode,
        body: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), FrameError> {
        let header = self.header(opcode, body.len())?;
        out.reserve(5 + body.len());
        out.put_slice(header.as_slice());
        out.put_slice(body);
        Ok(())
    }
}
