//! The client handshake: SMSG_AUTH_CHALLENGE, CMSG_AUTH_SESSION (with its digest and addon
//! block) and SMSG_AUTH_RESPONSE.

use bytes::{BufMut, Bytes, BytesMut};
use sha1::{Digest, Sha1};

use super::codec::{DecodeError, Reader, WriteExt};
use super::crypt::SessionKey;
use super::opcode::Opcode;

/// The client build the gateway speaks to.
pub const CLIENT_BUILD: u32 = 12340;
/// Longest account name accepted in CMSG_AUTH_SESSION (bytes, NUL excluded).
pub const ACCOUNT_NAME_MAX_BYTES: usize = 64;
/// Default cap on the inflated addon block.
pub const ADDON_INFLATED_MAX_BYTES: usize = 64 * 1024;
/// Longest addon name accepted (bytes, NUL excluded).
pub const ADDON_NAME_MAX_BYTES: usize = 256;

/// SMSG_AUTH_CHALLENGE body: u32 1, u32 server_seed, 32 seed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthChallenge {
    /// The seed the client mixes into its digest.
    pub server_seed: u32,
    /// 32 further random bytes (unused by the 3.3.5a client's digest; sent for fidelity).
    pub seed_bytes: [u8; 32],
}

impl AuthChallenge {
    /// Opcode of this packet.
    pub const OPCODE: Opcode = Opcode::SMSG_AUTH_CHALLENGE;
    /// Body length on the wire.
    pub const BODY_LEN: usize = 40;

    /// Appends the body.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(1);
        out.put_u32_le(self.server_seed);
        out.put_slice(&self.seed_bytes);
    }

    /// Parses the body.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let one = r.u32("unk1")?;
        if one != 1 {
            return Err(DecodeError::InvalidValue {
                field: "unk1",
                value: u64::from(one),
            });
        }
        Ok(Self {
            server_seed: r.u32("server_seed")?,
            seed_bytes: r.array("seed_bytes")?,
        })
    }
}

/// CMSG_AUTH_SESSION, parsed completely. The original body is kept for replay to a
/// worldserver; the addon block is kept compressed until asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSession {
    /// Client build (12340 for 3.3.5a).
    pub build: u32,
    /// Login server id.
    pub login_server_id: u32,
    /// Account name as sent (the client upper-cases it).
    pub account: String,
    /// Login server type.
    pub login_server_type: u32,
    /// The client's seed.
    pub client_seed: u32,
    /// Region id.
    pub region_id: u32,
    /// Battlegroup id.
    pub battlegroup_id: u32,
    /// Realm id.
    pub realm_id: u32,
    /// DoS challenge response.
    pub dos_response: u64,
    /// SHA1 proof of the session key.
    pub digest: [u8; 20],
    /// The addon block as sent: u32 inflated size, then a zlib stream.
    pub addon_block: Bytes,
    /// The whole body as received, for replaying to a worldserver byte for byte.
    pub raw: Bytes,
}

/// The fields of an auth session that the client chooses, for building one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSessionFields {
    /// Account name.
    pub account: String,
    /// The client's seed.
    pub client_seed: u32,
    /// Realm id.
    pub realm_id: u32,
    /// Digest (see [`compute_digest`]).
    pub digest: [u8; 20],
    /// The addon block: u32 inflated size, then zlib.
    pub addon_block: Bytes,
}

impl AuthSession {
    /// Opcode of this packet.
    pub const OPCODE: Opcode = Opcode::CMSG_AUTH_SESSION;

    /// Parses a body. Strings are capped; the addon block is not inflated.
    pub fn decode(body: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::new(&body);
        let build = r.u32("build")?;
        let login_server_id = r.u32("login_server_id")?;
        let account = r.cstr("account", ACCOUNT_NAME_MAX_BYTES)?.to_owned();
        let login_server_type = r.u32("login_server_type")?;
        let client_seed = r.u32("client_seed")?;
        let region_id = r.u32("region_id")?;
        let battlegroup_id = r.u32("battlegroup_id")?;
        let realm_id = r.u32("realm_id")?;
        let dos_response = r.u64("dos_response")?;
        let digest = r.array("digest")?;
        let addon_start = r.position();
        let addon_block = body.slice(addon_start..);
        Ok(Self {
            build,
            login_server_id,
            account,
            login_server_type,
            client_seed,
            region_id,
            battlegroup_id,
            realm_id,
            dos_response,
            digest,
            addon_block,
            raw: body,
        })
    }

    /// Builds a body as the 3.3.5a client does.
    pub fn encode(fields: &AuthSessionFields) -> Bytes {
        let mut out = BytesMut::with_capacity(64 + fields.account.len() + fields.addon_block.len());
        out.put_u32_le(CLIENT_BUILD);
        out.put_u32_le(0);
        out.put_cstr(&fields.account);
        out.put_u32_le(0);
        out.put_u32_le(fields.client_seed);
        out.put_u32_le(0);
        out.put_u32_le(0);
        out.put_u32_le(fields.realm_id);
        out.put_u64_le(0);
        out.put_slice(&fields.digest);
        out.put_slice(&fields.addon_block);
        out.freeze()
    }

    /// Whether the digest proves knowledge of `key` for this challenge. Compares in
    /// constant time.
    pub fn verify(&self, server_seed: u32, key: &SessionKey) -> bool {
        let expected = compute_digest(&self.account, self.client_seed, server_seed, key);
        expected
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// Inflates and parses the addon block, refusing more than `max_inflated_bytes`.
    pub fn addons(&self, max_inflated_bytes: usize) -> Result<AddonList, DecodeError> {
        AddonList::decode_block(&self.addon_block, max_inflated_bytes)
    }
}

/// `SHA1(account || u32 0 || client_seed || server_seed || K)`.
pub fn compute_digest(
    account: &str,
    client_seed: u32,
    server_seed: u32,
    key: &SessionKey,
) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(account.as_bytes());
    h.update(0u32.to_le_bytes());
    h.update(client_seed.to_le_bytes());
    h.update(server_seed.to_le_bytes());
    h.update(key.0);
    h.finalize().into()
}

/// One addon entry of the inflated addon block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addon {
    /// Addon name.
    pub name: String,
    /// Whether the client has it enabled.
    pub enabled: u8,
    /// CRC of the addon's public key.
    pub crc: u32,
    /// Unknown field, kept for fidelity.
    pub unknown: u32,
}

/// The inflated addon block.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddonList {
    /// Addons in the order sent.
    pub addons: Vec<Addon>,
    /// Trailing u32 (a timestamp in the stock client), absent when the block is empty.
    pub time: Option<u32>,
}

impl AddonList {
    /// Parses an addon block: u32 inflated size, then zlib. Size 0 means no addons.
    pub fn decode_block(block: &[u8], max_inflated_bytes: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::new(block);
        let size = r.u32("addon_inflated_size")? as usize;
        if size == 0 {
            return Ok(Self::default());
        }
        if size > max_inflated_bytes {
            return Err(DecodeError::TooLarge {
                field: "addon_inflated_size",
                value: size as u64,
                limit: max_inflated_bytes as u64,
            });
        }
        let inflated = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(r.rest(), size)
            .map_err(|_| DecodeError::Inflate { field: "addons" })?;
        if inflated.len() != size {
            return Err(DecodeError::InvalidValue {
                field: "addon_inflated_size",
                value: inflated.len() as u64,
            });
        }
        let mut r = Reader::new(&inflated);
        // name NUL + enabled + crc + unknown
        let count = r.count_u32("addon_count", usize::MAX, 10)?;
        let mut addons = Vec::with_capacity(count);
        for _ in 0..count {
            addons.push(Addon {
                name: r.cstr("addon_name", ADDON_NAME_MAX_BYTES)?.to_owned(),
                enabled: r.u8("addon_enabled")?,
                crc: r.u32("addon_crc")?,
                unknown: r.u32("addon_unknown")?,
            });
        }
        let time = if r.remaining() >= 4 {
            Some(r.u32("addon_time")?)
        } else {
            None
        };
        Ok(Self { addons, time })
    }

    /// Builds an addon block (u32 inflated size + zlib), as the client sends it. An empty list
    /// with no time is the size-0 block.
    pub fn encode_block(&self) -> Bytes {
        if self.addons.is_empty() && self.time.is_none() {
            return Bytes::from_static(&[0, 0, 0, 0]);
        }
        let mut inflated = BytesMut::new();
        inflated.put_u32_le(self.addons.len() as u32);
        for a in &self.addons {
            inflated.put_cstr(&a.name);
            inflated.put_u8(a.enabled);
            inflated.put_u32_le(a.crc);
            inflated.put_u32_le(a.unknown);
        }
        if let Some(time) = self.time {
            inflated.put_u32_le(time);
        }
        let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&inflated, 6);
        let mut out = BytesMut::with_capacity(4 + zlib.len());
        out.put_u32_le(inflated.len() as u32);
        out.put_slice(&zlib);
        out.freeze()
    }
}

/// The result byte of SMSG_AUTH_RESPONSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthResult(pub u8);

impl AuthResult {
    /// Success.
    pub const OK: Self = Self(0x0C);
    /// Generic failure.
    pub const FAILED: Self = Self(0x0D);
    /// Rejected.
    pub const REJECT: Self = Self(0x0E);
    /// Bad server proof.
    pub const BAD_SERVER_PROOF: Self = Self(0x0F);
    /// Realm unavailable.
    pub const UNAVAILABLE: Self = Self(0x10);
    /// System error.
    pub const SYSTEM_ERROR: Self = Self(0x11);
    /// Client version mismatch.
    pub const VERSION_MISMATCH: Self = Self(0x14);
    /// Unknown account.
    pub const UNKNOWN_ACCOUNT: Self = Self(0x15);
    /// Incorrect password.
    pub const INCORRECT_PASSWORD: Self = Self(0x16);
    /// Session expired.
    pub const SESSION_EXPIRED: Self = Self(0x17);
    /// Server shutting down.
    pub const SERVER_SHUTTING_DOWN: Self = Self(0x18);
    /// Already logging in.
    pub const ALREADY_LOGGING_IN: Self = Self(0x19);
    /// In the login queue.
    pub const WAIT_QUEUE: Self = Self(0x1B);
    /// Account banned.
    pub const BANNED: Self = Self(0x1C);
    /// Account already online.
    pub const ALREADY_ONLINE: Self = Self(0x1D);
    /// Database busy.
    pub const DB_BUSY: Self = Self(0x1F);
    /// Account suspended.
    pub const SUSPENDED: Self = Self(0x20);
    /// Account locked.
    pub const LOCKED_ENFORCED: Self = Self(0x22);

    /// Every failure code the gateway may send.
    pub const FAILURES: [Self; 16] = [
        Self::FAILED,
        Self::REJECT,
        Self::BAD_SERVER_PROOF,
        Self::UNAVAILABLE,
        Self::SYSTEM_ERROR,
        Self::VERSION_MISMATCH,
        Self::UNKNOWN_ACCOUNT,
        Self::INCORRECT_PASSWORD,
        Self::SESSION_EXPIRED,
        Self::SERVER_SHUTTING_DOWN,
        Self::ALREADY_LOGGING_IN,
        Self::BANNED,
        Self::ALREADY_ONLINE,
        Self::DB_BUSY,
        Self::SUSPENDED,
        Self::LOCKED_ENFORCED,
    ];

    /// The protocol's name for the code, if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Self::OK => "AUTH_OK",
            Self::FAILED => "AUTH_FAILED",
            Self::REJECT => "AUTH_REJECT",
            Self::BAD_SERVER_PROOF => "AUTH_BAD_SERVER_PROOF",
            Self::UNAVAILABLE => "AUTH_UNAVAILABLE",
            Self::SYSTEM_ERROR => "AUTH_SYSTEM_ERROR",
            Self::VERSION_MISMATCH => "AUTH_VERSION_MISMATCH",
            Self::UNKNOWN_ACCOUNT => "AUTH_UNKNOWN_ACCOUNT",
            Self::INCORRECT_PASSWORD => "AUTH_INCORRECT_PASSWORD",
            Self::SESSION_EXPIRED => "AUTH_SESSION_EXPIRED",
            Self::SERVER_SHUTTING_DOWN => "AUTH_SERVER_SHUTTING_DOWN",
            Self::ALREADY_LOGGING_IN => "AUTH_ALREADY_LOGGING_IN",
            Self::WAIT_QUEUE => "AUTH_WAIT_QUEUE",
            Self::BANNED => "AUTH_BANNED",
            Self::ALREADY_ONLINE => "AUTH_ALREADY_ONLINE",
            Self::DB_BUSY => "AUTH_DB_BUSY",
            Self::SUSPENDED => "AUTH_SUSPENDED",
            Self::LOCKED_ENFORCED => "AUTH_LOCKED_ENFORCED",
            _ => return None,
        })
    }
}

/// Billing fields of a successful or queued response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Billing {
    /// Billing time remaining.
    pub time: u32,
    /// Billing flags.
    pub flags: u8,
    /// Rested billing time.
    pub rested: u32,
    /// Expansion the account may use (2 = Wrath).
    pub expansion: u8,
}

/// SMSG_AUTH_RESPONSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthResponse {
    /// AUTH_OK with billing fields.
    Ok(Billing),
    /// AUTH_WAIT_QUEUE with the queue position.
    Queued {
        /// Billing fields.
        billing: Billing,
        /// Position in the queue.
        position: u32,
        /// Free migration flag.
        free_migration: u8,
    },
    /// A queue position update (the short form a worldserver sends while the player waits).
    QueueUpdate {
        /// Position in the queue.
        position: u32,
    },
    /// A failure: one result byte.
    Failed(AuthResult),
}

impl AuthResponse {
    /// Opcode of this packet.
    pub const OPCODE: Opcode = Opcode::SMSG_AUTH_RESPONSE;

    /// A success for a Wrath account.
    pub fn ok() -> Self {
        Self::Ok(Billing {
            expansion: 2,
            ..Billing::default()
        })
    }

    /// Appends the body.
    pub fn encode(&self, out: &mut BytesMut) {
        let put_billing = |out: &mut BytesMut, b: &Billing| {
            out.put_u32_le(b.time);
            out.put_u8(b.flags);
            out.put_u32_le(b.rested);
            out.put_u8(b.expansion);
        };
        match self {
            Self::Ok(b) => {
                out.put_u8(AuthResult::OK.0);
                put_billing(out, b);
            }
            Self::Queued {
                billing,
                position,
                free_migration,
            } => {
                out.put_u8(AuthResult::WAIT_QUEUE.0);
                put_billing(out, billing);
                out.put_u32_le(*position);
                out.put_u8(*free_migration);
            }
            Self::QueueUpdate { position } => {
                out.put_u8(AuthResult::WAIT_QUEUE.0);
                out.put_u32_le(*position);
                out.put_u8(0);
            }
            Self::Failed(code) => out.put_u8(code.0),
        }
    }

    /// Parses the body.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let code = AuthResult(r.u8("result")?);
        let billing = |r: &mut Reader<'_>| -> Result<Billing, DecodeError> {
            Ok(Billing {
                time: r.u32("billing_time")?,
                flags: r.u8("billing_flags")?,
                rested: r.u32("billing_rested")?,
                expansion: r.u8("expansion")?,
            })
        };
        Ok(match code {
            AuthResult::OK => Self::Ok(billing(&mut r)?),
            AuthResult::WAIT_QUEUE if r.remaining() == 5 => Self::QueueUpdate {
                position: r.u32("queue_position")?,
            },
            AuthResult::WAIT_QUEUE => Self::Queued {
                billing: billing(&mut r)?,
                position: r.u32("queue_position")?,
                free_migration: r.u8("free_migration")?,
            },
            other => Self::Failed(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_header_and_size() {
        let mut out = BytesMut::new();
        AuthChallenge {
            server_seed: 0xE397_43F3,
            seed_bytes: [0; 32],
        }
        .encode(&mut out);
        assert_eq!(out.len(), AuthChallenge::BODY_LEN);
        assert_eq!(&out[..8], &[1, 0, 0, 0, 0xF3, 0x43, 0x97, 0xE3]);
    }

    #[test]
    fn empty_addon_block_is_valid() {
        let list = AddonList::decode_block(&[0, 0, 0, 0], 16).expect("size 0 is valid");
        assert!(list.addons.is_empty());
    }

    #[test]
    fn addon_bomb_is_refused() {
        let list = AddonList {
            addons: vec![
                Addon {
                    name: "X".repeat(200),
                    enabled: 1,
                    crc: 0x4C1C_776D,
                    unknown: 0,
                };
                40
            ],
            time: Some(7),
        };
        let block = list.encode_block();
        assert!(matches!(
            AddonList::decode_block(&block, 1024),
            Err(DecodeError::TooLarge { .. })
        ));
        assert_eq!(AddonList::decode_block(&block, 64 * 1024), Ok(list));
    }

    #[test]
    fn lying_inflated_size_is_refused() {
        let list = AddonList {
            addons: vec![],
            time: Some(1),
        };
        let mut block = BytesMut::from(&list.encode_block()[..]);
        block[0] = block[0].wrapping_add(10);
        assert!(AddonList::decode_block(&block, 1024).is_err());
    }
}
