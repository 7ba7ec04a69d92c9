//! What every state needs, valid for the session's whole life: settings, the client's codecs,
//! the worldserver links, the output queue, the timer table, counters, the seeded RNG and the
//! name lookups and presentation's service calls in flight. States call down into it; it never calls a state.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use super::timers::Timers;
use super::{
    Canary, CharacterGuid, Counters, Departure, LinkId, Output, RequestId, SessionConfig,
    SessionEvent, SessionId,
};
use crate::cluster::WorldserverRef;
use crate::present::{ServiceAnswer, ServiceRequest};
use crate::wire::packets::{Ping, Pong, WirePacket};
use crate::wire::{
    ClientHeaderDecoder, ClientHeaderEncoder, Opcode, ServerHeaderDecoder, ServerHeaderEncoder,
};

/// Name queries answered by a seam call at once, at most; more are dropped (the client asks
/// again when it needs a name).
const NAME_QUERIES_IN_FLIGHT_MAX: usize = 32;

/// Presentation's service calls (a whisper through chatserver, ...) one session has pending:
/// one is asked at a time, in the client's order (two whispers arrive in the order they were
/// typed, as a single server's in-order packet handling keeps them), the rest wait. One more is
/// answered as failed at once.
pub const PRESENT_CALLS_PENDING_MAX: usize = 8;

/// One worldserver connection.
#[derive(Debug)]
pub(super) struct Link {
    pub(super) id: LinkId,
    pub(super) server: WorldserverRef,
    pub(super) decoder: ServerHeaderDecoder,
    encoder: ClientHeaderEncoder,
    /// The character PLAYER_LOGIN went out for on this link, while its worldserver may hold
    /// it in world (at most one link of a session holds it).
    holding: Option<CharacterGuid>,
}

#[derive(Debug)]
enum Pending {
    Client(BytesMut),
    World(LinkId, BytesMut),
    Other(Output),
}

/// Outputs the queue keeps room for once it is empty (a read in world makes one or two).
const PENDING_KEPT: usize = 4;

/// A write's buffer starts this large (or as large as its first packet): a burst of small
/// packets fills it without growing it again and again. It lives until the write is done.
const OUT_START_BYTES: usize = 4 * 1024;

/// The session's own seeded random stream (backoff jitter), kept as its seed and position:
/// 24 bytes rather than the generator's 300 with its block buffer. Draws are rare (a failed
/// attempt), so each rebuilds the generator and seeks to where the last one stopped; the
/// numbers are exactly those one long-lived generator would give.
#[derive(Debug, Clone)]
pub(super) struct SessionRng {
    seed: u64,
    word_pos: u128,
}

impl SessionRng {
    pub(super) fn new(seed: u64) -> Self {
        Self { seed, word_pos: 0 }
    }

    /// Runs `f` with the generator at the stream's position, and moves the position past
    /// what `f` drew.
    pub(super) fn draw<T>(&mut self, f: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_word_pos(self.word_pos);
        let out = f(&mut rng);
        self.word_pos = rng.get_word_pos();
        out
    }
}

/// The session's context.
#[derive(Debug)]
pub(super) struct Ctx {
    pub(super) id: SessionId,
    pub(super) cfg: Arc<SessionConfig>,
    started: Duration,
    unix_time_at_start: u32,
    pub(super) server_seed: u32,
    pub(super) client_in: ClientHeaderDecoder,
    client_out: ServerHeaderEncoder,
    links: Vec<Link>,
    pub(super) timers: Timers,
    pending: VecDeque<Pending>,
    pub(super) counters: Counters,
    pub(super) rng: SessionRng,
    names_in_flight: Vec<CharacterGuid>,
    /// Presentation's service call being asked.
    call_asked: Option<RequestId>,
    /// Presentation's service calls waiting for it, oldest first.
    calls_waiting: VecDeque<crate::present::ServiceRequest>,
    next_id: u64,
}

impl Ctx {
    pub(super) fn new(
        id: SessionId,
        now: Duration,
        cfg: Arc<SessionConfig>,
        server_seed: u32,
        unix_time: u32,
        rng: SessionRng,
    ) -> Self {
        Self {
            id,
            cfg,
            started: now,
            unix_time_at_start: unix_time,
            server_seed,
            client_in: ClientHeaderDecoder::for_client(),
            client_out: ServerHeaderEncoder::plain(),
            links: Vec::new(),
            timers: Timers::default(),
            pending: VecDeque::new(),
            counters: Counters::default(),
            rng,
            names_in_flight: Vec::new(),
            call_asked: None,
            calls_waiting: VecDeque::new(),
            next_id: 1,
        }
    }

    // ----- outputs ----------------------------------------------------------------------

    pub(super) fn has_output(&self) -> bool {
        !self.pending.is_empty()
    }

    pub(super) fn poll_output(&mut self) -> Option<Output> {
        let next = self.pending.pop_front()?;
        if self.pending.is_empty() && self.pending.capacity() > PENDING_KEPT {
            // A burst (a login, a handoff) grew the queue: an idle session keeps only room
            // for the few outputs a read in world makes.
            self.pending = VecDeque::with_capacity(PENDING_KEPT);
        }
        Some(match next {
            Pending::Client(b) => Output::Client(b.freeze()),
            Pending::World(link, b) => Output::World {
                link,
                bytes: b.freeze(),
            },
            Pending::Other(o) => o,
        })
    }

    pub(super) fn push(&mut self, o: Output) {
        self.pending.push_back(Pending::Other(o));
    }

    pub(super) fn event(&mut self, e: SessionEvent) {
        self.push(Output::Event(e));
    }

    /// Renders a packet for the client.
    pub(super) fn send_client<P: ClientBody>(&mut self, packet: &P) {
        let mut body = BytesMut::new();
        packet.encode_body(&mut body);
        self.send_client_raw(packet.opcode(), body.freeze());
    }

    /// Frames a body for the client; consecutive client packets share one write.
    pub(super) fn send_client_raw(&mut self, opcode: Opcode, body: Bytes) {
        let Ok(frame) = self.client_out.frame(opcode, body) else {
            return; // larger than any server header can carry: the worldserver's bug, dropped
        };
        self.counters.client_packets_out += 1;
        match self.pending.back_mut() {
            Some(Pending::Client(buf)) => frame.write_to(buf),
            _ => {
                let mut buf = BytesMut::with_capacity(frame.wire_len().max(OUT_START_BYTES));
                frame.write_to(&mut buf);
                self.pending.push_back(Pending::Client(buf));
            }
        }
    }

    /// A client packet lying at `range` of the buffer lent to a relay call goes on to `link`
    /// from where it lies: its header (decrypted in place) is re-framed there. False, with
    /// nothing queued, when it cannot (no such link).
    pub(super) fn relay_world(
        &mut self,
        link: LinkId,
        opcode: Opcode,
        lent: &mut [u8],
        range: std::ops::Range<usize>,
        header_len: usize,
    ) -> bool {
        let Some(l) = self.links.iter_mut().find(|l| l.id == link) else {
            return false;
        };
        let body_len = range.len() - header_len;
        let header = &mut lent[range.start..range.start + header_len];
        if !l.encoder.reframe_in_place(opcode, body_len, header) {
            return false;
        }
        self.counters.world_packets_out += 1;
        self.push_run(Output::WorldRun { link, range });
        true
    }

    /// A worldserver packet lying at `range` of the buffer lent to a relay call goes on to
    /// the client from where it lies: its header is re-framed (and encrypted) there. False,
    /// with nothing queued and the cipher untouched, when the client's header for it would
    /// take another length (a 5-byte header for a small body).
    pub(super) fn relay_client(
        &mut self,
        opcode: Opcode,
        lent: &mut [u8],
        range: std::ops::Range<usize>,
        header_len: usize,
    ) -> bool {
        let body_len = range.len() - header_len;
        let header = &mut lent[range.start..range.start + header_len];
        if !self.client_out.reframe_in_place(opcode, body_len, header) {
            return false;
        }
        self.counters.client_packets_out += 1;
        self.push_run(Output::ClientRun(range));
        true
    }

    /// Queues a run of the lent buffer; it extends the last queued output instead when that
    /// is a run to the same peer ending where this one starts (one write for both).
    fn push_run(&mut self, run: Output) {
        let extended = match (self.pending.back_mut(), &run) {
            (Some(Pending::Other(Output::ClientRun(last))), Output::ClientRun(next))
                if last.end == next.start =>
            {
                last.end = next.end;
                true
            }
            (
                Some(Pending::Other(Output::WorldRun {
                    link: a,
                    range: last,
                })),
                Output::WorldRun {
                    link: b,
                    range: next,
                },
            ) if a == b && last.end == next.start => {
                last.end = next.end;
                true
            }
            _ => false,
        };
        if !extended {
            self.pending.push_back(Pending::Other(run));
        }
    }

    /// Frames a body for a worldserver link; consecutive packets to one link share a write,
    /// except the auth session and the login, which must each be a write of their own
    /// (worldserver quirk).
    pub(super) fn send_world(&mut self, link: LinkId, opcode: Opcode, body: Bytes) {
        let Some(l) = self.links.iter_mut().find(|l| l.id == link) else {
            return;
        };
        // Client bodies are at most 10,235 bytes, which the 6-byte header always carries.
        let Ok(frame) = l.encoder.frame(opcode, body) else {
            return;
        };
        self.counters.world_packets_out += 1;
        let separate = opcode == Opcode::CMSG_AUTH_SESSION || opcode == Opcode::CMSG_PLAYER_LOGIN;
        match self.pending.back_mut() {
            Some(Pending::World(l, buf)) if *l == link && !separate => frame.write_to(buf),
            _ => {
                let mut buf = BytesMut::with_capacity(frame.wire_len().max(OUT_START_BYTES));
                frame.write_to(&mut buf);
                self.pending.push_back(Pending::World(link, buf));
                if separate {
                    // Seal it so the next packet starts a new write.
                    self.pending
                        .push_back(Pending::World(link, BytesMut::new()));
                }
            }
        }
    }

    /// Renders a packet for a worldserver link.
    pub(super) fn send_world_packet<P: WirePacket>(&mut self, link: LinkId, packet: &P) {
        self.send_world(link, P::OPCODE, packet.to_body());
    }

    /// Answers a client's CMSG_PING.
    pub(super) fn pong(&mut self, body: &[u8]) {
        if let Ok(ping) = Ping::decode(body) {
            self.send_client(&Pong { seq: ping.seq });
        }
    }

    // ----- links ------------------------------------------------------------------------

    /// Opens a new link to `server`.
    pub(super) fn connect(&mut self, server: WorldserverRef) -> LinkId {
        let link = LinkId(self.next_id());
        // A session has at most two links (the one it leaves and the one it joins).
        if self.links.capacity() == 0 {
            self.links.reserve_exact(2);
        }
        self.links.push(Link {
            id: link,
            server: server.clone(),
            decoder: ServerHeaderDecoder::for_worldserver(self.cfg.world_body_max_bytes),
            encoder: ClientHeaderEncoder::plain(),
            holding: None,
        });
        self.push(Output::Connect {
            link,
            worldserver: server,
        });
        link
    }

    pub(super) fn has_link(&self, link: LinkId) -> bool {
        self.links.iter().any(|l| l.id == link)
    }

    pub(super) fn link_mut(&mut self, link: LinkId) -> Option<&mut Link> {
        self.links.iter_mut().find(|l| l.id == link)
    }

    pub(super) fn link_server(&self, link: LinkId) -> Option<WorldserverRef> {
        self.links
            .iter()
            .find(|l| l.id == link)
            .map(|l| l.server.clone())
    }

    pub(super) fn server_of(&self, link: LinkId) -> Option<&WorldserverRef> {
        self.links.iter().find(|l| l.id == link).map(|l| &l.server)
    }

    /// PLAYER_LOGIN for `guid` went out on `link`: its worldserver may hold the character
    /// from now on (and no other link's does, as far as this session knows).
    pub(super) fn hold_on(&mut self, link: LinkId, guid: CharacterGuid) {
        for l in &mut self.links {
            l.holding = (l.id == link).then_some(guid);
        }
    }

    /// The worldserver confirmed it let the character go (logout complete, READY status 0
    /// and the kick): closes the link without leaving a hold behind.
    pub(super) fn release_link(&mut self, link: LinkId) {
        self.leave(link, Departure::Released);
        self.drop_link(link);
    }

    /// Closes a link. If its worldserver may hold the character, it may keep it in world for
    /// its linger: the gateway-wide ledger hears of it.
    pub(super) fn drop_link(&mut self, link: LinkId) {
        self.leave(link, Departure::Lost);
        if let Some(at) = self.links.iter().position(|l| l.id == link) {
            self.links.remove(at);
            self.push(Output::CloseWorld { link });
        }
    }

    /// The worldserver refused the login on `link`: it did not take the character there.
    pub(super) fn refused_on(&mut self, link: LinkId) {
        self.leave(link, Departure::Refused);
        self.drop_link(link);
    }

    /// Closes every link.
    pub(super) fn drop_all_links(&mut self) {
        for link in self.links.iter().map(|l| l.id).collect::<Vec<_>>() {
            self.drop_link(link);
        }
    }

    fn leave(&mut self, link: LinkId, how: Departure) {
        let Some(l) = self.links.iter_mut().find(|l| l.id == link) else {
            return;
        };
        let Some(guid) = l.holding.take() else {
            return;
        };
        let worldserver = l.server.id.clone();
        self.event(SessionEvent::CharacterLeft {
            guid,
            worldserver,
            how,
        });
    }

    // ----- ids and lookups --------------------------------------------------------------

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(super) fn next_request(&mut self) -> RequestId {
        RequestId(self.next_id())
    }

    /// Asks for a name unless too many are in flight or this one already is.
    pub(super) fn query_name(&mut self, guid: CharacterGuid) {
        if self.names_in_flight.len() < NAME_QUERIES_IN_FLIGHT_MAX
            && !self.names_in_flight.contains(&guid)
        {
            self.names_in_flight.push(guid);
            self.push(Output::QueryName { guid });
        }
    }

    /// Asks a cluster service for presentation, after the calls before it; `Err` gives the
    /// request back, failed, when [`PRESENT_CALLS_PENDING_MAX`] are pending already.
    pub(super) fn call_service(&mut self, call: ServiceRequest) -> Result<(), Box<ServiceAnswer>> {
        let pending = usize::from(self.call_asked.is_some()) + self.calls_waiting.len();
        if pending >= PRESENT_CALLS_PENDING_MAX {
            let detail = format!("{PRESENT_CALLS_PENDING_MAX} calls already pending");
            return Err(Box::new(call.failed(detail)));
        }
        if self.call_asked.is_some() {
            self.calls_waiting.push_back(call);
        } else {
            self.ask(call);
        }
        Ok(())
    }

    fn ask(&mut self, call: ServiceRequest) {
        let request = self.next_request();
        self.call_asked = Some(request);
        self.push(Output::CallService { request, call });
    }

    /// A presentation call answered: whether it was the one asked. The next waiting call is
    /// asked now.
    pub(super) fn call_answered(&mut self, request: RequestId) -> bool {
        if self.call_asked != Some(request) {
            return false;
        }
        self.call_asked = None;
        if let Some(next) = self.calls_waiting.pop_front() {
            self.ask(next);
        }
        true
    }

    /// A name lookup answered: whether it was asked.
    pub(super) fn name_answered(&mut self, guid: CharacterGuid) -> bool {
        let Some(at) = self.names_in_flight.iter().position(|g| *g == guid) else {
            return false;
        };
        self.names_in_flight.remove(at);
        true
    }

    // ----- misc -------------------------------------------------------------------------

    /// Seconds since the session started, for the client's wall clock.
    pub(super) fn unix_time(&self, now: Duration) -> u32 {
        let elapsed = u32::try_from(now.saturating_sub(self.started).as_secs()).unwrap_or(u32::MAX);
        self.unix_time_at_start.saturating_add(elapsed)
    }

    /// Starts the header ciphers of both client directions.
    pub(super) fn start_client_ciphers(&mut self, key: &crate::wire::SessionKey) {
        let ciphers = crate::wire::ServerCiphers::new(key);
        self.client_out.start_cipher(ciphers.outbound);
        self.client_in.start_cipher(ciphers.inbound);
    }

    /// Whether a planted bug is switched on (never, without the `canaries` feature).
    #[cfg(feature = "canaries")]
    pub(super) fn canary(&self, c: Canary) -> bool {
        self.cfg.canary == Some(c)
    }

    #[cfg(not(feature = "canaries"))]
    pub(super) fn canary(&self, _c: Canary) -> bool {
        false
    }
}

/// Anything the session renders for the client.
pub(super) trait ClientBody {
    fn opcode(&self) -> Opcode;
    fn encode_body(&self, out: &mut BytesMut);
}

impl<P: WirePacket> ClientBody for P {
    fn opcode(&self) -> Opcode {
        P::OPCODE
    }
    fn encode_body(&self, out: &mut BytesMut) {
        self.encode(out);
    }
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod rng_tests {
    use super::SessionRng;
    use rand_chacha::ChaCha8Rng;
    use rand_core::{Rng, SeedableRng};

    #[test]
    fn the_stream_rebuilt_for_every_draw_is_the_one_long_lived_generator_gives() {
        let mut kept = ChaCha8Rng::seed_from_u64(42);
        let mut stream = SessionRng::new(42);
        // Mixed widths, and enough draws to cross the generator's block buffer several times.
        for i in 0..200u32 {
            if i % 3 == 0 {
                assert_eq!(stream.draw(|r| r.next_u64()), kept.next_u64(), "draw {i}");
            } else {
                assert_eq!(stream.draw(|r| r.next_u32()), kept.next_u32(), "draw {i}");
            }
        }
        let mut other = SessionRng::new(43);
        assert_ne!(other.draw(|r| r.next_u64()), stream.draw(|r| r.next_u64()));
    }
}

#[cfg(test)]
mod output_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::{Ctx, Output, SessionRng};
    use crate::cluster::{WorldserverId, WorldserverRef};
    use crate::session::{LinkId, SessionConfig, SessionId};
    use crate::wire::Opcode;

    fn ctx() -> Ctx {
        let cfg = Arc::new(SessionConfig::default());
        Ctx::new(SessionId(1), Duration::ZERO, cfg, 7, 0, SessionRng::new(7))
    }

    fn server(id: &str) -> WorldserverRef {
        WorldserverRef {
            id: WorldserverId(id.into()),
            address: format!("{id}:8085"),
        }
    }

    /// The world writes the context asks for: (link, bytes in the write), in order.
    fn writes(cx: &mut Ctx) -> Vec<(LinkId, usize)> {
        std::iter::from_fn(|| cx.poll_output())
            .filter_map(|o| match o {
                Output::World { link, bytes } if !bytes.is_empty() => Some((link, bytes.len())),
                _ => None,
            })
            .collect()
    }

    /// Consecutive packets for one link share a write; a packet for another link never goes
    /// into it; the auth session and PLAYER_LOGIN are writes of their own (a worldserver
    /// reads what came with the auth session only with its next read).
    #[test]
    fn world_packets_share_a_write_per_link_but_the_auth_session_and_login_stand_alone() {
        let mut cx = ctx();
        let (a, b) = (cx.connect(server("a")), cx.connect(server("b")));
        while cx.poll_output().is_some() {}
        let body = |n: usize| Bytes::from(vec![0u8; n]);
        cx.send_world(a, Opcode::MSG_MOVE_HEARTBEAT, body(10));
        cx.send_world(a, Opcode::MSG_MOVE_HEARTBEAT, body(10));
        cx.send_world(b, Opcode::MSG_MOVE_HEARTBEAT, body(10));
        cx.send_world(b, Opcode::CMSG_AUTH_SESSION, body(20));
        cx.send_world(b, Opcode::MSG_MOVE_HEARTBEAT, body(10));
        cx.send_world(b, Opcode::CMSG_PLAYER_LOGIN, body(8));
        cx.send_world(b, Opcode::MSG_MOVE_HEARTBEAT, body(10));
        // A client header is 6 bytes.
        assert_eq!(
            writes(&mut cx),
            vec![(a, 32), (b, 16), (b, 26), (b, 16), (b, 14), (b, 16)]
        );
    }
}
