//! Properties of the four framing streams: any chunking decodes to the packets that were
//! encoded, large server headers at their edges included; bodies pass between legs without a
//! copy; bad headers give typed errors; arbitrary bytes never panic a decoder or the
//! auth-session parser.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use waygate::wire::auth::{AddonList, AuthSession};
use waygate::wire::frame::{CLIENT_MAX_BODY_BYTES, SERVER_MAX_BODY_BYTES};
use waygate::wire::opcode::{NUM_CLUSTER_MSG_TYPES, NUM_MSG_TYPES};
use waygate::wire::{
    ClientCiphers, ClientHeaderDecoder, ClientHeaderEncoder, Decoded, FrameError, InPlace, Opcode,
    Packet, Peer, ServerCiphers, ServerHeaderDecoder, ServerHeaderEncoder, SessionKey,
};

fn key_strategy() -> impl Strategy<Value = SessionKey> {
    any::<[u8; 40]>().prop_map(SessionKey)
}

/// Body sizes a client may send: mostly small, sometimes near the 10,239-byte limit.
fn client_body_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..64,
        2 => 64usize..2048,
        1 => (CLIENT_MAX_BODY_BYTES - 16)..=CLIENT_MAX_BODY_BYTES,
    ]
}

/// Body sizes a server sends, with the edges of the 5-byte header: size fields 0x7FFE..0x8003
/// (bodies 0x7FFC..0x8001) and a 0x20000-byte body.
fn server_body_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..64,
        2 => 1024usize..4096,
        2 => 0x7FFCusize..=0x8001,
        1 => Just(0x20000usize),
    ]
}

/// A body whose bytes identify the packet and the position, so any mix-up shows.
fn body(index: usize, len: usize) -> Bytes {
    (0..len)
        .map(|i| (index as u8).wrapping_mul(31).wrapping_add(i as u8))
        .collect::<Vec<u8>>()
        .into()
}

/// Splits `wire` at the given chunk sizes (cycled).
fn chunks<'a>(wire: &'a [u8], sizes: &'a [usize]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut at = 0;
    let mut k = 0;
    std::iter::from_fn(move || {
        if at >= wire.len() {
            return None;
        }
        let n = sizes[k % sizes.len()].max(1).min(wire.len() - at);
        k += 1;
        let out = &wire[at..at + n];
        at += n;
        Some(out)
    })
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![3 => 1usize..8, 2 => 8usize..700, 1 => 700usize..70_000],
        1..12,
    )
}

/// The two decoder types, for one drain loop.
trait StreamDecoder {
    fn extend(&mut self, data: &[u8]);
    fn decode(&mut self) -> Result<Decoded, FrameError>;
    fn is_idle(&self) -> bool;
    fn wanted(&self) -> usize;
    fn next_in_place(&mut self, data: &mut [u8]) -> Result<Option<InPlace>, FrameError>;
}

impl StreamDecoder for ClientHeaderDecoder {
    fn extend(&mut self, data: &[u8]) {
        ClientHeaderDecoder::extend(self, data)
    }
    fn decode(&mut self) -> Result<Decoded, FrameError> {
        ClientHeaderDecoder::decode(self)
    }
    fn is_idle(&self) -> bool {
        ClientHeaderDecoder::is_idle(self)
    }
    fn wanted(&self) -> usize {
        ClientHeaderDecoder::wanted(self)
    }
    fn next_in_place(&mut self, data: &mut [u8]) -> Result<Option<InPlace>, FrameError> {
        ClientHeaderDecoder::next_in_place(self, data)
    }
}

impl StreamDecoder for ServerHeaderDecoder {
    fn extend(&mut self, data: &[u8]) {
        ServerHeaderDecoder::extend(self, data)
    }
    fn decode(&mut self) -> Result<Decoded, FrameError> {
        ServerHeaderDecoder::decode(self)
    }
    fn is_idle(&self) -> bool {
        ServerHeaderDecoder::is_idle(self)
    }
    fn wanted(&self) -> usize {
        ServerHeaderDecoder::wanted(self)
    }
    fn next_in_place(&mut self, data: &mut [u8]) -> Result<Option<InPlace>, FrameError> {
        ServerHeaderDecoder::next_in_place(self, data)
    }
}

/// A packet as read, with its bytes as they lie after the read (`None`: finished through
/// the decoder).
type Relayed = (Packet, Option<Vec<u8>>);

/// Reads `wire` as the gateway's relay does: each chunk lent in place, whole packets read
/// where they lie, a packet split over chunks finished through the decoder. Each packet comes
/// with its bytes as they lie after the call (the header decrypted), `None` for the ones the
/// decoder finished.
fn relay_all(
    dec: &mut impl StreamDecoder,
    wire: &[u8],
    sizes: &[usize],
) -> Result<Vec<Relayed>, FrameError> {
    let mut out = Vec::new();
    for chunk in chunks(wire, sizes) {
        let mut lent = chunk.to_vec();
        let mut at = 0;
        while at < lent.len() {
            if !dec.is_idle() {
                let wanted = dec.wanted();
                assert!(wanted > 0, "wanted 0 would spin a caller");
                let take = wanted.min(lent.len() - at);
                dec.extend(&lent[at..at + take]);
                at += take;
                if let Decoded::Packet(p) = dec.decode()? {
                    out.push((p, None));
                }
                continue;
            }
            match dec.next_in_place(&mut lent[at..])? {
                None => break,
                Some(h) => {
                    let end = at + h.wire_len();
                    let body = Bytes::copy_from_slice(&lent[at + h.header_len..end]);
                    out.push((
                        Packet {
                            opcode: h.opcode,
                            body,
                        },
                        Some(lent[at..end].to_vec()),
                    ));
                    at = end;
                }
            }
        }
    }
    Ok(out)
}

/// Feeds `wire` to `dec` in chunks, draining it after every chunk.
fn drain_all(
    dec: &mut impl StreamDecoder,
    wire: &[u8],
    sizes: &[usize],
) -> Result<Vec<Packet>, FrameError> {
    let mut out = Vec::new();
    for chunk in chunks(wire, sizes) {
        dec.extend(chunk);
        loop {
            match dec.decode()? {
                Decoded::Packet(p) => out.push(p),
                Decoded::NeedMore(n) => {
                    assert!(n > 0, "NeedMore(0) would spin a caller");
                    break;
                }
            }
        }
    }
    Ok(out)
}

/// What a client-side encoder writes for `packets` (opcode, body length; bodies from
/// [`body`]), encrypted with `key`'s client ciphers when there is one.
fn client_wire(key: Option<&SessionKey>, packets: &[(u32, usize)]) -> BytesMut {
    let mut enc = ClientHeaderEncoder::plain();
    if let Some(key) = key {
        enc.start_cipher(ClientCiphers::new(key).outbound);
    }
    let mut wire = BytesMut::new();
    for (i, (op, len)) in packets.iter().enumerate() {
        enc.encode(Opcode(*op), &body(i, *len), &mut wire).unwrap();
    }
    wire
}

/// What a plain server-side encoder (a worldserver's) writes for `packets`.
fn server_wire(packets: &[(u16, usize)]) -> BytesMut {
    let mut ws = ServerHeaderEncoder::plain();
    let mut wire = BytesMut::new();
    for (i, (op, len)) in packets.iter().enumerate() {
        ws.encode(Opcode::from(*op), &body(i, *len), &mut wire)
            .unwrap();
    }
    wire
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// client -> gateway: encrypted 6-byte headers, any chunking.
    #[test]
    fn client_stream_round_trip(
        key in key_strategy(),
        packets in prop::collection::vec((0u32..NUM_MSG_TYPES, client_body_len()), 1..24),
        sizes in chunk_sizes(),
    ) {
        let wire = client_wire(Some(&key), &packets);
        let mut dec = ClientHeaderDecoder::for_client();
        dec.start_cipher(ServerCiphers::new(&key).inbound);
        let got = drain_all(&mut dec, &wire, &sizes).unwrap();
        prop_assert_eq!(got.len(), packets.len());
        for (i, (p, (op, len))) in got.iter().zip(&packets).enumerate() {
            prop_assert_eq!(p.opcode, Opcode(*op));
            prop_assert_eq!(&p.body, &body(i, *len));
        }
        prop_assert_eq!(dec.buffered(), 0);
    }

    /// gateway -> worldserver: plain 6-byte headers; the cluster opcodes pass.
    #[test]
    fn gateway_to_worldserver_round_trip(
        packets in prop::collection::vec((0u32..NUM_CLUSTER_MSG_TYPES, client_body_len()), 1..24),
        sizes in chunk_sizes(),
    ) {
        let wire = client_wire(None, &packets);
        let mut dec = ClientHeaderDecoder::for_gateway();
        let got = drain_all(&mut dec, &wire, &sizes).unwrap();
        let want: Vec<_> = packets.iter().enumerate()
            .map(|(i, (op, len))| Packet { opcode: Opcode(*op), body: body(i, *len) })
            .collect();
        prop_assert_eq!(got, want);
    }

    /// gateway -> client: encrypted 4/5-byte headers, large-header edges included.
    #[test]
    fn gateway_to_client_round_trip(
        key in key_strategy(),
        packets in prop::collection::vec((any::<u16>(), server_body_len()), 1..10),
        sizes in chunk_sizes(),
    ) {
        let mut enc = ServerHeaderEncoder::plain();
        enc.start_cipher(ServerCiphers::new(&key).outbound);
        let mut wire = BytesMut::new();
        for (i, (op, len)) in packets.iter().enumerate() {
            let before = wire.len();
            enc.encode(Opcode::from(*op), &body(i, *len), &mut wire).unwrap();
            let header_len = wire.len() - before - len;
            prop_assert_eq!(header_len, if len + 2 > 0x7FFF { 5 } else { 4 });
        }
        let mut dec = ServerHeaderDecoder::for_gateway(SERVER_MAX_BODY_BYTES);
        dec.start_cipher(ClientCiphers::new(&key).inbound);
        let got = drain_all(&mut dec, &wire, &sizes).unwrap();
        prop_assert_eq!(got.len(), packets.len());
        for (i, (p, (op, len))) in got.iter().zip(&packets).enumerate() {
            prop_assert_eq!(p.opcode, Opcode::from(*op));
            prop_assert_eq!(&p.body, &body(i, *len));
        }
    }

    /// worldserver -> gateway: plain 4/5-byte headers; every body re-frames for the client
    /// without a copy, and the client end reads the same packets.
    #[test]
    fn worldserver_to_client_reframe(
        key in key_strategy(),
        packets in prop::collection::vec((any::<u16>(), server_body_len()), 1..10),
        sizes in chunk_sizes(),
    ) {
        let wire = server_wire(&packets);
        let mut from_ws = ServerHeaderDecoder::for_worldserver(SERVER_MAX_BODY_BYTES);
        let got = drain_all(&mut from_ws, &wire, &sizes).unwrap();
        let mut to_client = ServerHeaderEncoder::plain();
        to_client.start_cipher(ServerCiphers::new(&key).outbound);
        let mut client_wire = BytesMut::new();
        for p in &got {
            let frame = to_client.frame(p.opcode, p.body.clone()).unwrap();
            prop_assert_eq!(frame.body.as_ptr(), p.body.as_ptr(), "re-framing copied the body");
            frame.write_to(&mut client_wire);
        }
        let mut client = ServerHeaderDecoder::for_gateway(SERVER_MAX_BODY_BYTES);
        client.start_cipher(ClientCiphers::new(&key).inbound);
        client.extend(&client_wire);
        for p in &got {
            match client.decode().unwrap() {
                Decoded::Packet(q) => prop_assert_eq!(&q, p),
                Decoded::NeedMore(n) => prop_assert!(false, "stream ended early, needs {}", n),
            }
        }
    }

    /// client -> gateway read in place: the same packets as `decode`, in any chunking; a
    /// packet read where it lies carries its decrypted header, which is the worldserver's plain
    /// header byte for byte.
    #[test]
    fn client_stream_read_in_place(
        key in key_strategy(),
        packets in prop::collection::vec((0u32..NUM_MSG_TYPES, client_body_len()), 1..24),
        sizes in chunk_sizes(),
    ) {
        let wire = client_wire(Some(&key), &packets);
        let mut dec = ClientHeaderDecoder::for_client();
        dec.start_cipher(ServerCiphers::new(&key).inbound);
        let got = relay_all(&mut dec, &wire, &sizes).unwrap();
        prop_assert_eq!(got.len(), packets.len());
        let mut to_world = ClientHeaderEncoder::plain();
        for (i, ((p, lying), (op, len))) in got.iter().zip(&packets).enumerate() {
            prop_assert_eq!(p.opcode, Opcode(*op));
            prop_assert_eq!(&p.body, &body(i, *len));
            if let Some(mut lying) = lying.clone() {
                let mut plain = BytesMut::new();
                ClientHeaderEncoder::plain().encode(p.opcode, &p.body, &mut plain).unwrap();
                prop_assert_eq!(&lying[..], &plain[..], "the decrypted header is not the plain one");
                prop_assert!(to_world.reframe_in_place(p.opcode, p.body.len(), &mut lying[..6]));
                prop_assert_eq!(&lying[..], &plain[..]);
            }
        }
        prop_assert!(dec.is_idle());
    }

    /// worldserver -> client relayed in place: reading each packet where it lies and
    /// re-framing its header there gives the client the bytes `frame` gives, 5-byte headers
    /// included, and the client reads the same packets.
    #[test]
    fn worldserver_to_client_relayed_in_place(
        key in key_strategy(),
        packets in prop::collection::vec((any::<u16>(), server_body_len()), 1..10),
        sizes in chunk_sizes(),
    ) {
        let wire = server_wire(&packets);
        let mut from_ws = ServerHeaderDecoder::for_worldserver(SERVER_MAX_BODY_BYTES);
        let got = relay_all(&mut from_ws, &wire, &sizes).unwrap();
        prop_assert_eq!(got.len(), packets.len());
        let mut in_place = ServerHeaderEncoder::plain();
        in_place.start_cipher(ServerCiphers::new(&key).outbound);
        let mut framed = ServerHeaderEncoder::plain();
        framed.start_cipher(ServerCiphers::new(&key).outbound);
        let (mut relayed, mut expect) = (Vec::new(), BytesMut::new());
        for (p, lying) in &got {
            framed.frame(p.opcode, p.body.clone()).unwrap().write_to(&mut expect);
            match lying.clone() {
                Some(mut lying) => {
                    let header_len = lying.len() - p.body.len();
                    prop_assert!(in_place.reframe_in_place(p.opcode, p.body.len(), &mut lying[..header_len]));
                    relayed.extend_from_slice(&lying);
                }
                None => {
                    let mut one = BytesMut::new();
                    in_place.frame(p.opcode, p.body.clone()).unwrap().write_to(&mut one);
                    relayed.extend_from_slice(&one);
                }
            }
        }
        prop_assert_eq!(&relayed[..], &expect[..]);
        prop_assert!(from_ws.is_idle());
    }

    /// A header whose form is not the one this stream would write (a 5-byte header for a
    /// small body) is refused by `reframe_in_place`, which then leaves the cipher untouched.
    #[test]
    fn reframe_in_place_refuses_another_header_length(
        key in key_strategy(),
        op in any::<u16>(),
        len in 0usize..0x7FFC,
    ) {
        let mut a = ServerHeaderEncoder::plain();
        a.start_cipher(ServerCiphers::new(&key).outbound);
        let mut b = ServerHeaderEncoder::plain();
        b.start_cipher(ServerCiphers::new(&key).outbound);
        let mut slot = [0u8; 5];
        prop_assert!(!a.reframe_in_place(Opcode::from(op), len, &mut slot));
        prop_assert_eq!(slot, [0u8; 5]);
        prop_assert_eq!(a.header(Opcode::from(op), len).unwrap(), b.header(Opcode::from(op), len).unwrap());
    }

    /// A plain AUTH_SESSION followed, in the same chunk, by encrypted packets: the decoder
    /// hands out the first, the cipher starts, and the rest decrypt.
    #[test]
    fn cipher_starts_mid_buffer(
        key in key_strategy(),
        later in prop::collection::vec((0u32..NUM_MSG_TYPES, 0usize..64), 0..6),
        sizes in chunk_sizes(),
    ) {
        let mut plain = ClientHeaderEncoder::plain();
        let mut wire = BytesMut::new();
        plain.encode(Opcode::CMSG_AUTH_SESSION, &body(99, 60), &mut wire).unwrap();
        let mut enc = ClientHeaderEncoder::plain();
        enc.start_cipher(ClientCiphers::new(&key).outbound);
        for (i, (op, len)) in later.iter().enumerate() {
            enc.encode(Opcode(*op), &body(i, *len), &mut wire).unwrap();
        }
        let mut dec = ClientHeaderDecoder::for_client();
        let mut got = Vec::new();
        let mut cipher = Some(ServerCiphers::new(&key).inbound);
        for chunk in chunks(&wire, &sizes) {
            dec.extend(chunk);
            while let Decoded::Packet(p) = dec.decode().unwrap() {
                if p.opcode == Opcode::CMSG_AUTH_SESSION
                    && let Some(c) = cipher.take()
                {
                    dec.start_cipher(c);
                }
                got.push(p);
            }
        }
        prop_assert_eq!(got.len(), later.len() + 1);
        for (p, (op, len)) in got[1..].iter().zip(&later) {
            prop_assert_eq!(p.opcode, Opcode(*op));
            prop_assert_eq!(p.body.len(), *len);
        }
    }

    /// Arbitrary bytes never panic any decoder, with or without a cipher, in any chunking.
    #[test]
    fn decoders_never_panic(
        data in prop::collection::vec(any::<u8>(), 0..4096),
        sizes in chunk_sizes(),
        key in key_strategy(),
        encrypted in any::<bool>(),
        max_body in 0usize..100_000,
    ) {
        let mut c = ClientHeaderDecoder::for_client();
        let mut g = ClientHeaderDecoder::for_gateway();
        let mut w = ServerHeaderDecoder::for_worldserver(max_body);
        let mut b = ServerHeaderDecoder::for_gateway(max_body);
        if encrypted {
            c.start_cipher(ServerCiphers::new(&key).inbound);
            b.start_cipher(ClientCiphers::new(&key).inbound);
        }
        for chunk in chunks(&data, &sizes) {
            c.extend(chunk);
            g.extend(chunk);
            w.extend(chunk);
            b.extend(chunk);
            while let Ok(Decoded::Packet(_)) = c.decode() {}
            while let Ok(Decoded::Packet(_)) = g.decode() {}
            while let Ok(Decoded::Packet(p)) = w.decode() {
                prop_assert!(p.body.len() <= max_body);
            }
            while let Ok(Decoded::Packet(_)) = b.decode() {}
        }
    }

    /// Arbitrary bytes read in place give what `decode` gives: the same packets, or the same
    /// error, in any chunking.
    #[test]
    fn reading_in_place_agrees_with_decode(
        data in prop::collection::vec(any::<u8>(), 0..4096),
        sizes in chunk_sizes(),
        key in key_strategy(),
        max_body in 0usize..100_000,
    ) {
        let only_packets = |r: Result<Vec<Relayed>, FrameError>| {
            r.map(|v| v.into_iter().map(|(p, _)| p).collect::<Vec<_>>())
        };
        let mut c = ClientHeaderDecoder::for_client();
        c.start_cipher(ServerCiphers::new(&key).inbound);
        let mut c2 = ClientHeaderDecoder::for_client();
        c2.start_cipher(ServerCiphers::new(&key).inbound);
        prop_assert_eq!(only_packets(relay_all(&mut c, &data, &sizes)), drain_all(&mut c2, &data, &sizes));
        let mut w = ServerHeaderDecoder::for_worldserver(max_body);
        let mut w2 = ServerHeaderDecoder::for_worldserver(max_body);
        prop_assert_eq!(only_packets(relay_all(&mut w, &data, &sizes)), drain_all(&mut w2, &data, &sizes));
        let mut b = ServerHeaderDecoder::for_gateway(max_body);
        b.start_cipher(ClientCiphers::new(&key).inbound);
        let mut b2 = ServerHeaderDecoder::for_gateway(max_body);
        b2.start_cipher(ClientCiphers::new(&key).inbound);
        prop_assert_eq!(only_packets(relay_all(&mut b, &data, &sizes)), drain_all(&mut b2, &data, &sizes));
    }

    /// Arbitrary bytes never panic the auth-session parser or the addon inflater.
    #[test]
    fn auth_session_parser_never_panics(data in prop::collection::vec(any::<u8>(), 0..1024)) {
        let bytes = Bytes::from(data);
        if let Ok(session) = AuthSession::decode(bytes.clone()) {
            prop_assert!(session.account.len() <= 64);
            prop_assert_eq!(&session.raw, &bytes);
            let _ = session.addons(4096);
        }
        let _ = AddonList::decode_block(&bytes, 4096);
    }
}

#[test]
fn client_size_and_opcode_bounds_are_enforced() {
    let header = |size: u16, op: u32| {
        let mut h = size.to_be_bytes().to_vec();
        h.extend_from_slice(&op.to_le_bytes());
        h
    };
    let cases = [
        (header(3, 0x1DC), "size 3"),
        (header(10240, 0x1DC), "size 10240"),
        (header(0xFFFF, 0x1DC), "size 0xFFFF"),
    ];
    for (bytes, what) in cases {
        let mut d = ClientHeaderDecoder::for_client();
        d.extend(&bytes);
        assert!(
            matches!(
                d.decode(),
                Err(FrameError::ClientSize {
                    from: Peer::Client,
                    ..
                })
            ),
            "{what}"
        );
        // Poisoned: the same error again, never a packet.
        d.extend(&[0; 64]);
        assert!(d.decode().is_err(), "{what} poisons the decoder");
    }
    for op in [NUM_MSG_TYPES, NUM_MSG_TYPES + 1, u32::MAX] {
        let mut d = ClientHeaderDecoder::for_client();
        d.extend(&header(4, op));
        assert!(
            matches!(d.decode(), Err(FrameError::ClientOpcode { opcode, .. }) if opcode == Opcode(op)),
            "opcode {op:#x}"
        );
    }
    // The cluster leg accepts the two cluster opcodes and refuses the next.
    let mut d = ClientHeaderDecoder::for_gateway();
    d.extend(&header(4, 0x51F));
    d.extend(&header(4, 0x520));
    d.extend(&header(4, 0x521));
    assert!(matches!(d.decode(), Ok(Decoded::Packet(_))));
    assert!(matches!(d.decode(), Ok(Decoded::Packet(_))));
    assert!(matches!(d.decode(), Err(FrameError::ClientOpcode { .. })));
    // Largest and smallest legal sizes.
    let mut d = ClientHeaderDecoder::for_client();
    d.extend(&header(10239, 0x1DC));
    assert_eq!(d.decode(), Ok(Decoded::NeedMore(10235)));
}

#[test]
fn server_body_limit_and_tiny_size_are_enforced() {
    let mut d = ServerHeaderDecoder::for_worldserver(100);
    d.extend(&[0x00, 0x67, 0x10, 0x00]); // size 103 -> body 101
    assert!(matches!(
        d.decode(),
        Err(FrameError::ServerBodyTooLarge {
            from: Peer::Worldserver,
            len: 101,
            limit_bytes: 100
        })
    ));
    let mut d = ServerHeaderDecoder::for_worldserver(100);
    d.extend(&[0x00, 0x01, 0x10, 0x00]);
    assert!(matches!(
        d.decode(),
        Err(FrameError::ServerSize { size: 1, .. })
    ));
    // A 5-byte header announcing the largest size, refused before any body arrives.
    let mut d = ServerHeaderDecoder::for_worldserver(0x20000);
    d.extend(&[0xFF, 0xFF, 0xFF, 0x10]);
    assert_eq!(d.decode(), Ok(Decoded::NeedMore(1)));
    d.extend(&[0x00]);
    assert!(matches!(
        d.decode(),
        Err(FrameError::ServerBodyTooLarge { .. })
    ));
}

#[test]
fn encoders_refuse_what_the_header_cannot_carry() {
    let mut c = ClientHeaderEncoder::plain();
    assert!(c.header(Opcode::CMSG_PING, CLIENT_MAX_BODY_BYTES).is_ok());
    assert!(matches!(
        c.header(Opcode::CMSG_PING, CLIENT_MAX_BODY_BYTES + 1),
        Err(FrameError::EncodeTooLarge { .. })
    ));
    let mut s = ServerHeaderEncoder::plain();
    assert_eq!(
        s.header(Opcode::SMSG_PONG, SERVER_MAX_BODY_BYTES)
            .unwrap()
            .as_slice(),
        &[0xFF, 0xFF, 0xFF, 0xDD, 0x01]
    );
    assert!(
        s.header(Opcode::SMSG_PONG, SERVER_MAX_BODY_BYTES + 1)
            .is_err()
    );
    // The large form starts exactly above size 0x7FFF.
    assert_eq!(
        s.header(Opcode(0x1EE), 0x7FFD).unwrap().as_slice(),
        &[0x7F, 0xFF, 0xEE, 0x01]
    );
    assert_eq!(
        s.header(Opcode(0x1EE), 0x7FFE).unwrap().as_slice(),
        &[0x80, 0x80, 0x00, 0xEE, 0x01]
    );
}
