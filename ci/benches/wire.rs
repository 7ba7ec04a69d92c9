//! Wire-core throughput: decode + re-encode of a realistic mixed stream through the header
//! cipher, in both directions, single-threaded. Prints packets per second and MiB per second.
//!
//! Run: `cargo bench --bench wire` (set `WIRE_BENCH_SECONDS` to change the time per direction).
//!
//! Mix, client -> gateway -> worldserver: 90% movement (30-40 bytes), 9% 100-1000 bytes,
//! 1% 1-4 KiB. Worldserver -> gateway -> client: 84% small (16-120 bytes: movement, auras,
//! time sync), 15% 1-4 KiB (update objects), 1% 32-64 KiB (5-byte headers: big creates,
//! inventories). Bodies are re-framed without copying; headers are decrypted on the way in
//! and encrypted on the way out, as the gateway does.
//!
//! Then the cost per packet of reading the player's own state from the worldserver's update
//! packets (ToCloud9 mode only), for packets that concern another object and for one that
//! concerns the player.

#![allow(clippy::disallowed_methods)] // a benchmark measures wall time; nothing here is core

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use waygate::wire::{
    ClientCiphers, ClientHeaderDecoder, ClientHeaderEncoder, Decoded, Opcode, ServerCiphers,
    ServerHeaderDecoder, ServerHeaderEncoder, SessionKey,
};

/// Packets in one pre-built batch.
const BATCH_PACKETS: usize = 20_000;
/// Bytes handed to a decoder per simulated socket read.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// splitmix64: a fixed, dependency-free generator so every run measures the same stream.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() as usize) % (hi - lo)
    }
}

fn client_len(m: &mut Mix) -> (Opcode, usize) {
    match m.range(0, 100) {
        0..90 => (Opcode::MSG_MOVE_HEARTBEAT, m.range(30, 41)),
        90..99 => (Opcode::CMSG_MESSAGECHAT, m.range(100, 1001)),
        _ => (Opcode::CMSG_WARDEN_DATA, m.range(1024, 4097)),
    }
}

fn server_len(m: &mut Mix) -> (Opcode, usize) {
    match m.range(0, 100) {
        0..84 => (Opcode::MSG_MOVE_HEARTBEAT, m.range(16, 121)),
        84..99 => (Opcode::SMSG_COMPRESSED_UPDATE_OBJECT, m.range(1024, 4097)),
        _ => (Opcode::SMSG_UPDATE_OBJECT, m.range(32 * 1024, 64 * 1024)),
    }
}

struct Result {
    packets: u64,
    bytes: u64,
    elapsed: Duration,
}

impl Result {
    fn print(&self, direction: &str) {
        let secs = self.elapsed.as_secs_f64();
        println!(
            "bench-wire: direction={direction} packets={} pps={:.0} mib_per_s={:.1}",
            self.packets,
            self.packets as f64 / secs,
            self.bytes as f64 / secs / (1024.0 * 1024.0),
        );
    }
}

/// client -> gateway (decrypt 6-byte headers) -> worldserver (plain 6-byte headers).
fn client_to_world(key: &SessionKey, budget: Duration) -> Result {
    let mut m = Mix(1);
    let mut bot = ClientHeaderEncoder::plain();
    bot.start_cipher(ClientCiphers::new(key).outbound);
    let mut gateway_in = ClientHeaderDecoder::for_client();
    gateway_in.start_cipher(ServerCiphers::new(key).inbound);
    let mut gateway_out = ClientHeaderEncoder::plain();
    let body = vec![0x42u8; 4096];
    let mut out = BytesMut::with_capacity(1 << 20);
    let mut res = Result {
        packets: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
    };
    while res.elapsed < budget {
        // Build a batch outside the timed region (the bot's cipher advances in step with the
        // gateway's, as on a real connection).
        let mut wire = BytesMut::new();
        for _ in 0..BATCH_PACKETS {
            let (op, len) = client_len(&mut m);
            bot.encode(op, &body[..len], &mut wire)
                .expect("client-size body");
        }
        let start = Instant::now();
        for chunk in wire.chunks(READ_CHUNK_BYTES) {
            gateway_in.extend(chunk);
            while let Decoded::Packet(p) = gateway_in.decode().expect("valid stream") {
                res.bytes += p.body.len() as u64 + 6;
                res.packets += 1;
                gateway_out
                    .frame(p.opcode, p.body)
                    .expect("fits")
                    .write_to(&mut out);
            }
            black_box(&out);
            out.clear();
        }
        res.elapsed += start.elapsed();
    }
    res
}

/// worldserver (plain 4/5-byte headers) -> gateway -> client (encrypted 4/5-byte headers).
fn world_to_client(key: &SessionKey, budget: Duration) -> Result {
    let mut m = Mix(2);
    let mut ws = ServerHeaderEncoder::plain();
    let mut gateway_in = ServerHeaderDecoder::for_worldserver(1 << 20);
    let mut gateway_out = ServerHeaderEncoder::plain();
    gateway_out.start_cipher(ServerCiphers::new(key).outbound);
    let body = vec![0x24u8; 64 * 1024];
    let mut out = BytesMut::with_capacity(1 << 20);
    let mut res = Result {
        packets: 0,
        bytes: 0,
        elapsed: Duration::ZERO,
    };
    while res.elapsed < budget {
        let mut wire = BytesMut::new();
        for _ in 0..BATCH_PACKETS {
            let (op, len) = server_len(&mut m);
            ws.encode(op, &body[..len], &mut wire)
                .expect("server-size body");
        }
        let start = Instant::now();
        for chunk in wire.chunks(READ_CHUNK_BYTES) {
            gateway_in.extend(chunk);
            while let Decoded::Packet(p) = gateway_in.decode().expect("valid stream") {
                res.bytes += p.body.len() as u64 + 4;
                res.packets += 1;
                gateway_out
                    .frame(p.opcode, p.body)
                    .expect("fits")
                    .write_to(&mut out);
            }
            black_box(&out);
            out.clear();
        }
        res.elapsed += start.elapsed();
    }
    res
}

/// The player-state reader (`present::state`) on the worldserver packets it reads, per
/// packet: an update that does not name the player (one byte search), a compressed one that
/// does not (inflate + search), and a small values update for the player (decode + apply).
fn state_parse(budget: Duration) {
    use waygate::present::state::{PlayerState, field};
    use waygate::wire::packets::WirePacket;
    use waygate::wire::update::{CompressedUpdateObject, UpdateBlock, UpdateMask, UpdateObject};

    const ME: u64 = 0x0000_0000_0000_2A2A;
    let values = |guid: u64, n: u16| UpdateBlock::Values {
        guid,
        mask: UpdateMask {
            block_count: 5,
            values: (0..n).map(|i| (0x18 + i, 1_000 + u32::from(i))).collect(),
        },
    };
    // About 2 KiB: 40 other units' health and power changes.
    let others = UpdateObject {
        blocks: (0..40)
            .map(|i| values(0xF130_0000_0000_1000 + i, 8))
            .collect(),
    }
    .to_body();
    let compressed = CompressedUpdateObject::compress(&others);
    let mine = UpdateObject {
        blocks: vec![UpdateBlock::Values {
            guid: ME,
            mask: UpdateMask {
                block_count: 5,
                values: vec![(field::UNIT_FIELD_HEALTH, 900)],
            },
        }],
    }
    .to_body();
    for (kind, opcode, body) in [
        ("update_other", Opcode::SMSG_UPDATE_OBJECT, &others),
        (
            "compressed_other",
            Opcode::SMSG_COMPRESSED_UPDATE_OBJECT,
            &compressed,
        ),
        ("update_mine", Opcode::SMSG_UPDATE_OBJECT, &mine),
    ] {
        let mut state = PlayerState::default();
        let mut packets = 0u64;
        let start = Instant::now();
        let mut now = Duration::ZERO;
        while start.elapsed() < budget {
            for _ in 0..1_000 {
                now += Duration::from_millis(1);
                black_box(state.observe(ME, now, opcode, black_box(body)));
            }
            packets += 1_000;
        }
        let ns = start.elapsed().as_nanos() as f64 / packets as f64;
        println!(
            "bench-wire: state_parse kind={kind} body_bytes={} ns_per_packet={ns:.0}",
            body.len()
        );
    }
}

fn main() {
    let seconds: f64 = std::env::var("WIRE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .unwrap_or(3.0);
    let budget = Duration::from_secs_f64(seconds);
    let key = SessionKey([0x5A; 40]);
    client_to_world(&key, budget).print("client_to_world");
    world_to_client(&key, budget).print("world_to_client");
    state_parse(budget / 3);
}
