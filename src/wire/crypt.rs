//! The header cipher: RC4 keyed with HMAC-SHA1(seed, K), first 1024 keystream bytes dropped,
//! one continuous keystream per direction. Only headers are encrypted; bodies travel plain.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rc4::{Rc4, StreamCipher};
use sha1::Sha1;

/// Seed for the server -> client direction.
pub const SERVER_TO_CLIENT_SEED: [u8; 16] = [
    0xCC, 0x98, 0xAE, 0x04, 0xE8, 0x97, 0xEA, 0xCA, 0x12, 0xDD, 0xC0, 0x93, 0x42, 0x91, 0x53, 0x57,
];

/// Seed for the client -> server direction.
pub const CLIENT_TO_SERVER_SEED: [u8; 16] = [
    0xC2, 0xB3, 0x72, 0x3C, 0xC6, 0xAE, 0xD9, 0xB5, 0x34, 0x3C, 0x53, 0xEE, 0x2F, 0x43, 0x67, 0xCE,
];

/// Keystream bytes discarded after keying.
pub const KEYSTREAM_DROP_BYTES: usize = 1024;

/// Length of the session key K stored by the authserver.
pub const SESSION_KEY_LEN: usize = 40;

/// The account's 40-byte session key K. Its `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(pub [u8; SESSION_KEY_LEN]);

impl SessionKey {
    /// Parses 80 hex digits (either case).
    pub fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.as_bytes();
        if hex.len() != SESSION_KEY_LEN * 2 {
            return None;
        }
        let mut out = [0u8; SESSION_KEY_LEN];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// One direction's keystream.
pub struct HeaderCipher {
    rc4: Rc4,
}

impl HeaderCipher {
    /// Keys a cipher for one direction.
    pub fn new(seed: &[u8; 16], key: &SessionKey) -> Self {
        // HMAC accepts keys of any length and RC4 keys of 1..=256 bytes; a 16-byte seed and a
        // 20-byte digest are always inside both ranges.
        let mut mac =
            <Hmac<Sha1> as KeyInit>::new_from_slice(seed).expect("HMAC-SHA1 accepts a 16-byte key");
        mac.update(&key.0);
        let rc4_key = mac.finalize().into_bytes();
        let mut rc4 = Rc4::new_from_slice(&rc4_key).expect("RC4 accepts a 20-byte key");
        let mut drop = [0u8; KEYSTREAM_DROP_BYTES];
        rc4.apply_keystream(&mut drop);
        Self { rc4 }
    }

    /// Encrypts or decrypts `bytes` in place (RC4 is symmetric), advancing the keystream.
    pub fn apply(&mut self, bytes: &mut [u8]) {
        self.rc4.apply_keystream(bytes);
    }
}

impl fmt::Debug for HeaderCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeaderCipher(<keystream>)")
    }
}

/// The two ciphers a server end (the gateway facing a client) holds.
#[derive(Debug)]
pub struct ServerCiphers {
    /// Encrypts headers the gateway sends to the client.
    pub outbound: HeaderCipher,
    /// Decrypts headers the client sends.
    pub inbound: HeaderCipher,
}

impl ServerCiphers {
    /// Keys both directions for the server end of a session.
    pub fn new(key: &SessionKey) -> Self {
        Self {
            outbound: HeaderCipher::new(&SERVER_TO_CLIENT_SEED, key),
            inbound: HeaderCipher::new(&CLIENT_TO_SERVER_SEED, key),
        }
    }
}

/// The two ciphers a client end (a bot) holds.
#[derive(Debug)]
pub struct ClientCiphers {
    /// Encrypts headers the client sends.
    pub outbound: HeaderCipher,
    /// Decrypts headers the server sends.
    pub inbound: HeaderCipher,
}

impl ClientCiphers {
    /// Keys both directions for the client end of a session.
    pub fn new(key: &SessionKey) -> Self {
        Self {
            outbound: HeaderCipher::new(&CLIENT_TO_SERVER_SEED, key),
            inbound: HeaderCipher::new(&SERVER_TO_CLIENT_SEED, key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_key_hex_parsing() {
        let hex =
            "0133517192d1b585838132ce7ae4d073340f8436bd11b29db20323baca97e23aa2bc41ae3c129807";
        let key = SessionKey::from_hex(hex).expect("valid hex");
        assert_eq!(key.0[0], 0x01);
        assert_eq!(key.0[39], 0x07);
        assert!(SessionKey::from_hex(&hex[2..]).is_none());
        assert!(SessionKey::from_hex(&hex.replace('0', "g")).is_none());
        assert_eq!(format!("{key:?}"), "SessionKey(<redacted>)");
    }

    #[test]
    fn both_ends_agree() {
        let key = SessionKey([7; SESSION_KEY_LEN]);
        let mut server = ServerCiphers::new(&key);
        let mut client = ClientCiphers::new(&key);
        let mut header = *b"\x00\x06\xed\x01\x00\x00";
        client.outbound.apply(&mut header);
        server.inbound.apply(&mut header);
        assert_eq!(&header, b"\x00\x06\xed\x01\x00\x00");
        let mut header = *b"\x00\x02\xee\x01";
        server.outbound.apply(&mut header);
        client.inbound.apply(&mut header);
        assert_eq!(&header, b"\x00\x02\xee\x01");
    }
}
