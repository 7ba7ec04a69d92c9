//! The captured 3.3.5a session from PROTOCOL.md section 2: the digest and all seven headers,
//! checked through both the raw cipher and the stream decoders/encoders.

use bytes::BytesMut;
use waygate::wire::auth::{AuthSession, AuthSessionFields, compute_digest};
use waygate::wire::{
    ClientCiphers, ClientHeaderDecoder, ClientHeaderEncoder, Decoded, Opcode, ServerCiphers,
    ServerHeaderDecoder, ServerHeaderEncoder, SessionKey,
};

const K: &str = "0133517192d1b585838132ce7ae4d073340f8436bd11b29db20323baca97e23aa2bc41ae3c129807";
const SERVER_SEED: u32 = 3_818_341_363;
const CLIENT_SEED: u32 = 3_567_746_900;
const DIGEST: [u8; 20] = [
    0x91, 0xa4, 0x4f, 0x01, 0x9f, 0x62, 0xe2, 0x10, 0x05, 0x0c, 0xed, 0x41, 0x87, 0x5f, 0xd6, 0xbe,
    0x41, 0x5c, 0x0f, 0x4d,
];

/// (size field, opcode) -> encrypted header bytes, server to client.
const SERVER_HEADERS: [(u32, u16, [u8; 4]); 3] = [
    (13, 0x1EE, [0x17, 0xaa, 0xd4, 0x4c]),
    (277, 0x03B, [0x1a, 0x9c, 0x7c, 0x10]),
    (19, 0x38B, [0x10, 0xfb, 0x6e, 0xa8]),
];

/// Encrypted header bytes -> (size field, opcode), client to server.
const CLIENT_HEADERS: [([u8; 6], u16, u32); 4] = [
    ([0x85, 0x0f, 0x6e, 0x91, 0x55, 0xf9], 4, 0x4FF),
    ([0x56, 0x8e, 0x8c, 0x9a, 0xed, 0x42], 4, 0x037),
    ([0xc2, 0xf3, 0xb7, 0xc5, 0x17, 0xbc], 8, 0x38C),
    ([0x30, 0xf7, 0xa6, 0xee, 0x74, 0xbe], 12, 0x1DC),
];

fn key() -> SessionKey {
    SessionKey::from_hex(K).expect("vector key is 80 hex digits")
}

#[test]
fn seeds_are_little_endian_as_captured() {
    assert_eq!(SERVER_SEED.to_le_bytes(), [0xf3, 0x43, 0x97, 0xe3]);
    assert_eq!(CLIENT_SEED.to_le_bytes(), [0x54, 0x7f, 0xa7, 0xd4]);
}

#[test]
fn digest_matches_capture() {
    assert_eq!(
        compute_digest("A", CLIENT_SEED, SERVER_SEED, &key()),
        DIGEST
    );
}

#[test]
fn auth_session_verifies_only_with_the_right_inputs() {
    let body = AuthSession::encode(&AuthSessionFields {
        account: "A".into(),
        client_seed: CLIENT_SEED,
        realm_id: 1,
        digest: DIGEST,
        addon_block: bytes::Bytes::from_static(&[0, 0, 0, 0]),
    });
    let session = AuthSession::decode(body).expect("well-formed");
    assert!(session.verify(SERVER_SEED, &key()));
    assert!(!session.verify(SERVER_SEED ^ 1, &key()));
    let mut other = key();
    other.0[0] ^= 1;
    assert!(!session.verify(SERVER_SEED, &other));
}

#[test]
fn server_headers_encrypt_as_captured() {
    let mut ciphers = ServerCiphers::new(&key());
    for (size, opcode, wire) in SERVER_HEADERS {
        let s = (size as u16).to_be_bytes();
        let o = opcode.to_le_bytes();
        let mut h = [s[0], s[1], o[0], o[1]];
        ciphers.outbound.apply(&mut h);
        assert_eq!(h, wire, "header for opcode {opcode:#x}");
    }
}

#[test]
fn server_headers_through_the_stream_encoder_and_decoder() {
    let mut enc = ServerHeaderEncoder::plain();
    enc.start_cipher(ServerCiphers::new(&key()).outbound);
    let mut wire = BytesMut::new();
    for (size, opcode, expected) in SERVER_HEADERS {
        let body = vec![0xAB; size as usize - 2];
        let start = wire.len();
        enc.encode(Opcode(u32::from(opcode)), &body, &mut wire)
            .expect("small body");
        assert_eq!(&wire[start..start + 4], &expected);
    }
    // The client end decrypts them back, fed one byte at a time.
    let mut dec = ServerHeaderDecoder::for_gateway(1 << 20);
    dec.start_cipher(ClientCiphers::new(&key()).inbound);
    let mut seen = Vec::new();
    for b in wire.iter() {
        dec.extend(&[*b]);
        while let Decoded::Packet(p) = dec.decode().expect("valid stream") {
            seen.push((p.body.len() as u32 + 2, p.opcode.0 as u16));
        }
    }
    let expected: Vec<_> = SERVER_HEADERS.iter().map(|(s, o, _)| (*s, *o)).collect();
    assert_eq!(seen, expected);
}

#[test]
fn client_headers_decrypt_as_captured() {
    let mut ciphers = ServerCiphers::new(&key());
    for (wire, size, opcode) in CLIENT_HEADERS {
        let mut h = wire;
        ciphers.inbound.apply(&mut h);
        assert_eq!(u16::from_be_bytes([h[0], h[1]]), size);
        assert_eq!(u32::from_le_bytes([h[2], h[3], h[4], h[5]]), opcode);
    }
}

#[test]
fn client_headers_through_the_stream_decoder_and_encoder() {
    let mut wire = Vec::new();
    for (header, size, _) in CLIENT_HEADERS {
        wire.extend_from_slice(&header);
        wire.extend(std::iter::repeat_n(0x5A, usize::from(size) - 4));
    }
    let mut dec = ClientHeaderDecoder::for_client();
    dec.start_cipher(ServerCiphers::new(&key()).inbound);
    dec.extend(&wire);
    let mut seen = Vec::new();
    while let Decoded::Packet(p) = dec.decode().expect("valid stream") {
        seen.push((p.body.len() as u16 + 4, p.opcode.0));
    }
    let expected: Vec<_> = CLIENT_HEADERS.iter().map(|(_, s, o)| (*s, *o)).collect();
    assert_eq!(seen, expected);

    // A client built on our encoder produces the captured bytes.
    let mut enc = ClientHeaderEncoder::plain();
    enc.start_cipher(ClientCiphers::new(&key()).outbound);
    for (header, size, opcode) in CLIENT_HEADERS {
        let h = enc
            .header(Opcode(opcode), usize::from(size) - 4)
            .expect("small body");
        assert_eq!(h.as_slice(), &header);
    }
}
