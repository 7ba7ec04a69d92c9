//! A second reader of the server's headers, written from PROTOCOL.md section 2 alone: its own
//! RC4, its own HMAC-SHA1 (over the `sha1` crate's digest), its own header layout. It shares
//! nothing with `src/wire`'s cipher or framer, so a mistake made the same way on both sides of
//! `src/wire` (the gateway encrypts and the bot's main decoder decrypts with the same bug)
//! shows up as a disagreement between the two readers.

use sha1::{Digest, Sha1};

/// PROTOCOL.md section 2: the server -> client seed.
const SERVER_SEED: [u8; 16] = [
    0xCC, 0x98, 0xAE, 0x04, 0xE8, 0x97, 0xEA, 0xCA, 0x12, 0xDD, 0xC0, 0x93, 0x42, 0x91, 0x53, 0x57,
];
/// Keystream bytes thrown away after keying.
const DROP_BYTES: usize = 1024;
/// SHA-1's block size, for HMAC.
const SHA1_BLOCK_BYTES: usize = 64;

/// RC4, as the 1987 description has it.
struct Rc4 {
    s: [u8; 256],
    i: u8,
    j: u8,
}

impl Rc4 {
    fn new(key: &[u8]) -> Self {
        let mut s = [0u8; 256];
        for (n, b) in s.iter_mut().enumerate() {
            *b = n as u8;
        }
        let mut j = 0u8;
        for n in 0..256 {
            j = j.wrapping_add(s[n]).wrapping_add(key[n % key.len()]);
            s.swap(n, usize::from(j));
        }
        Self { s, i: 0, j: 0 }
    }

    fn next(&mut self) -> u8 {
        self.i = self.i.wrapping_add(1);
        self.j = self.j.wrapping_add(self.s[usize::from(self.i)]);
        self.s.swap(usize::from(self.i), usize::from(self.j));
        let k = self.s[usize::from(self.i)].wrapping_add(self.s[usize::from(self.j)]);
        self.s[usize::from(k)]
    }
}

/// HMAC-SHA1(key, message), RFC 2104, for a key no longer than a block.
fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    let mut block = [0u8; SHA1_BLOCK_BYTES];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha1::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha1::new()
        .chain_update(pad(0x5C))
        .chain_update(inner)
        .finalize();
    let mut out = [0u8; 20];
    out.copy_from_slice(&outer);
    out
}

/// A server header, as the second reader reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ShadowHeader {
    /// Body length (the header's size less the 2 opcode bytes).
    pub(super) body_len: usize,
    /// Opcode.
    pub(super) opcode: u16,
}

/// The second reader: plain headers until [`ShadowHeaders::start`], encrypted ones after.
pub(super) struct ShadowHeaders {
    cipher: Option<Rc4>,
}

impl ShadowHeaders {
    /// Before the auth session: headers in the clear.
    pub(super) fn plain() -> Self {
        Self { cipher: None }
    }

    /// From now on headers are encrypted, keyed with the account's session key.
    pub(super) fn start(&mut self, session_key: &[u8]) {
        let mut rc4 = Rc4::new(&hmac_sha1(&SERVER_SEED, session_key));
        for _ in 0..DROP_BYTES {
            rc4.next();
        }
        self.cipher = Some(rc4);
    }

    /// Reads the next header from the bytes as they came off the socket (4 bytes, or 5 for
    /// a large header), advancing the keystream by exactly what it decrypts.
    pub(super) fn read(&mut self, raw: &[u8]) -> Result<ShadowHeader, String> {
        let mut h = [0u8; 5];
        let Some(first4) = raw.get(..4) else {
            return Err(format!("{} header bytes, fewer than 4", raw.len()));
        };
        h[..4].copy_from_slice(first4);
        self.decrypt(&mut h[..4]);
        let large = h[0] & 0x80 != 0;
        let want = if large { 5 } else { 4 };
        if raw.len() != want {
            return Err(format!(
                "{} header bytes where the first byte says {want}",
                raw.len()
            ));
        }
        let (size, opcode) = if large {
            h[4] = raw[4];
            self.decrypt(&mut h[4..5]);
            let size =
                (usize::from(h[0] & 0x7F) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
            (size, u16::from_le_bytes([h[3], h[4]]))
        } else {
            let size = usize::from(u16::from_be_bytes([h[0], h[1]]));
            (size, u16::from_le_bytes([h[2], h[3]]))
        };
        let Some(body_len) = size.checked_sub(2) else {
            return Err(format!("size {size} leaves no room for the opcode"));
        };
        Ok(ShadowHeader { body_len, opcode })
    }

    fn decrypt(&mut self, bytes: &mut [u8]) {
        if let Some(rc4) = self.cipher.as_mut() {
            for b in bytes {
                *b ^= rc4.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// PROTOCOL.md's captured session.
    const K: &str =
        "0133517192d1b585838132ce7ae4d073340f8436bd11b29db20323baca97e23aa2bc41ae3c129807";

    #[test]
    fn the_captured_server_headers_read_back() {
        let mut r = ShadowHeaders::plain();
        r.start(&hex(K));
        for (raw, size, opcode) in [
            ("17aad44c", 13, 0x1EE),
            ("1a9c7c10", 277, 0x03B),
            ("10fb6ea8", 19, 0x38B),
        ] {
            assert_eq!(
                r.read(&hex(raw)),
                Ok(ShadowHeader {
                    body_len: size - 2,
                    opcode
                })
            );
        }
    }

    #[test]
    fn a_keystream_out_of_step_reads_garbage() {
        let mut r = ShadowHeaders::plain();
        r.start(&hex(K));
        // The second header read first: the keystream is where the first one should be.
        let read = r.read(&hex("1a9c7c10"));
        assert_ne!(
            read,
            Ok(ShadowHeader {
                body_len: 275,
                opcode: 0x03B
            })
        );
    }

    #[test]
    fn hmac_sha1_matches_rfc_2202() {
        // RFC 2202 test case 2.
        assert_eq!(
            hmac_sha1(b"Jefe", b"what do ya want for nothing?").to_vec(),
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
    }

    #[test]
    fn plain_and_large_headers_and_short_input() {
        let mut r = ShadowHeaders::plain();
        assert_eq!(
            r.read(&[0x00, 0x2A, 0xEC, 0x01]),
            Ok(ShadowHeader {
                body_len: 40,
                opcode: 0x1EC
            })
        );
        assert_eq!(
            r.read(&[0x81, 0x00, 0x02, 0xA9, 0x00]),
            Ok(ShadowHeader {
                body_len: 0x10000,
                opcode: 0x0A9
            })
        );
        assert!(r.read(&[0x81, 0x00, 0x02, 0xA9]).is_err());
        assert!(r.read(&[0x00, 0x01, 0x00, 0x00]).is_err());
        assert!(r.read(&[0x00]).is_err());
    }
}
