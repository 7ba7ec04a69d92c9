//! The WotLK 3.3.5a world protocol, sans I/O.
//!
//! Nothing here reads a socket, a clock or a random source: callers hand in bytes, seeds and
//! keys, and take bytes out. Layers, bottom up:
//!
//! - [`opcode`]: the opcode newtype and its names;
//! - [`crypt`]: the RC4 header cipher;
//! - [`frame`]: incremental decoders and encoders for the four byte streams;
//! - [`codec`]: the bounds-checked reader and writer the packet codecs share;
//! - [`auth`]: the handshake packets and the session-key digest;
//! - [`packets`] and [`update`]: typed packet bodies.

pub mod auth;
pub mod codec;
pub mod crypt;
pub mod dump;
pub mod frame;
pub mod opcode;
pub mod packets;
pub mod update;

pub use codec::DecodeError;
pub use crypt::{ClientCiphers, HeaderCipher, ServerCiphers, SessionKey};
pub use frame::{
    ClientHeaderDecoder, ClientHeaderEncoder, Decoded, FrameError, InPlace, OutFrame, Packet, Peer,
    ServerHeaderDecoder, ServerHeaderEncoder,
};
pub use opcode::Opcode;
pub use packets::WirePacket;
