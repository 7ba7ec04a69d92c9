//! The sans-IO session core driven by hand: a test client with its own ciphers on one side,
//! a scripted worldserver on the other, time jumped to the next deadline. No sockets.

use std::time::Duration;

use proptest::prelude::*;

use bytes::{Bytes, BytesMut};
use waygate::cluster::{WorldserverId, WorldserverRef};
use waygate::present::chat::{Whisper, WhisperOutcome, undelivered_line};
use waygate::present::{ClusterEvent, EventFate, ServiceAnswer, ServiceRequest, Services};
use waygate::session::{
    AccountId, AccountRecord, Announcement, CharacterGuid, CharacterRecord, ClaimRefused,
    CloseReason, Culprit, Departure, LinkId, NameRecord, Output, Phase, RequestId, SeamError,
    Session, SessionConfig, SessionEvent, SessionId,
};
use waygate::wire::auth::{
    AddonList, AuthChallenge, AuthResponse, AuthResult, AuthSession, AuthSessionFields,
    compute_digest,
};
use waygate::wire::packets::{
    CharCreate, CharCreateResult, CharDelete, CharDeleteResult, CharEnum, CharRename,
    CharRenameResult, CharacterLoginFailed, LoginFailure, MapPosition, NameQuery,
    NameQueryResponse, NewWorld, Ping, PlayerLogin, Pong, Position, ReadyForRedirect, TimeSyncReq,
    WirePacket,
};
use waygate::wire::packets::{
    ChatMessage, ChatPlayerNotFound, ChatTarget, ClientChat, SystemMessage, chat_type,
};
use waygate::wire::{
    ClientCiphers, ClientHeaderDecoder, ClientHeaderEncoder, Decoded, Opcode, Packet,
    ServerHeaderDecoder, ServerHeaderEncoder, SessionKey,
};

const SERVER_SEED: u32 = 0xDEAD_BEEF;
const ALICE: AccountId = AccountId(1);
const ALICE_CHAR: u64 = 11;
const BOB_CHAR: u64 = 22;

fn key() -> SessionKey {
    SessionKey([0x42; 40])
}

fn alice() -> AccountRecord {
    AccountRecord {
        id: ALICE,
        name: "ALICE".into(),
        session_key: key(),
        banned: false,
        locked: false,
    }
}

fn character(guid: u64, account: AccountId, name: &str, map: u32) -> CharacterRecord {
    CharacterRecord {
        guid: CharacterGuid(guid),
        account,
        name: name.into(),
        race: 1,
        class: 1,
        gender: 0,
        level: 10,
        appearance: [0; 5],
        map,
        zone: 12,
        x: 1.0,
        y: 2.0,
        z: 3.0,
        guild_id: 0,
    }
}

fn ws(id: &str) -> WorldserverRef {
    WorldserverRef {
        id: WorldserverId(id.into()),
        address: format!("127.0.0.1:{}", 9000 + id.len()),
    }
}

/// A worldserver connection as the test sees it.
struct World {
    link: LinkId,
    from_gateway: ClientHeaderDecoder,
    to_gateway: ServerHeaderEncoder,
    received: Vec<Packet>,
    writes: usize,
    closed: bool,
}

struct Harness {
    s: Session,
    now: Duration,
    client_out: ClientHeaderEncoder,
    client_in: ServerHeaderDecoder,
    client_got: Vec<Packet>,
    /// Writes the session asked of the client connection (`Output::Client`).
    client_writes: usize,
    worlds: Vec<World>,
    lookups: Vec<(RequestId, String)>,
    listings: Vec<RequestId>,
    names: Vec<CharacterGuid>,
    placements: Vec<(RequestId, Option<u32>)>,
    excluded: Vec<Vec<WorldserverId>>,
    avoided: Vec<Vec<WorldserverId>>,
    preferred: Vec<Option<WorldserverId>>,
    connects: Vec<(LinkId, WorldserverRef)>,
    events: Vec<SessionEvent>,
    announced: Vec<Announcement>,
    closed: Option<CloseReason>,
    claims: Vec<RequestId>,
    calls: Vec<(RequestId, ServiceRequest)>,
    /// Bytes go in as the driver gives them: lent, through `relay_*_bytes` (true), or
    /// copied, through `handle_*_bytes` (false).
    relay: bool,
    /// The buffer lent to the session's last relay call.
    lent: Vec<u8>,
}

impl Harness {
    fn new(cfg: SessionConfig) -> Self {
        let mut h = Self {
            s: Session::new(
                SessionId(1),
                Duration::ZERO,
                std::sync::Arc::new(cfg),
                SERVER_SEED,
                [7; 32],
                1_700_000_000,
                99,
            ),
            now: Duration::ZERO,
            client_out: ClientHeaderEncoder::plain(),
            client_in: ServerHeaderDecoder::for_gateway(1 << 24),
            client_got: Vec::new(),
            client_writes: 0,
            worlds: Vec::new(),
            lookups: Vec::new(),
            listings: Vec::new(),
            names: Vec::new(),
            placements: Vec::new(),
            excluded: Vec::new(),
            avoided: Vec::new(),
            preferred: Vec::new(),
            connects: Vec::new(),
            events: Vec::new(),
            announced: Vec::new(),
            closed: None,
            claims: Vec::new(),
            calls: Vec::new(),
            relay: true,
            lent: Vec::new(),
        };
        h.pump();
        h
    }

    /// A harness that hands the session copies (`handle_*_bytes`) instead of lending it
    /// buffers.
    fn copying(cfg: SessionConfig) -> Self {
        let mut h = Self::new(cfg);
        h.relay = false;
        h
    }

    fn got_client(&mut self, bytes: &[u8]) {
        self.client_in.extend(bytes);
        while let Decoded::Packet(p) = self.client_in.decode().expect("client stream decrypts") {
            self.client_got.push(p);
        }
    }

    fn got_world(&mut self, link: LinkId, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let w = self.world(link);
        w.writes += 1;
        w.from_gateway.extend(bytes);
        while let Decoded::Packet(p) = w.from_gateway.decode().expect("world stream decodes") {
            w.received.push(p);
        }
    }

    /// Bytes from the client, as one read.
    fn client_bytes(&mut self, wire: &[u8]) {
        if self.relay {
            self.lent = wire.to_vec();
            self.s.relay_client_bytes(self.now, &mut self.lent);
        } else {
            self.s.handle_client_bytes(self.now, wire);
        }
        self.pump();
    }

    /// Bytes from a worldserver link, as one read.
    fn world_bytes(&mut self, link: LinkId, wire: &[u8]) {
        if self.relay {
            self.lent = wire.to_vec();
            self.s.relay_world_bytes(self.now, link, &mut self.lent);
        } else {
            self.s.handle_world_bytes(self.now, link, wire);
        }
        self.pump();
    }

    /// Drains the session's outputs into the test's view of the world.
    fn pump(&mut self) {
        while let Some(out) = self.s.poll_output() {
            match out {
                Output::Client(bytes) => {
                    self.client_writes += 1;
                    self.got_client(&bytes);
                }
                Output::ClientRun(range) => {
                    let run = self.lent[range].to_vec();
                    self.got_client(&run);
                }
                Output::World { link, bytes } => self.got_world(link, &bytes),
                Output::WorldRun { link, range } => {
                    let run = self.lent[range].to_vec();
                    self.got_world(link, &run);
                }
                Output::LookupAccount { request, name } => self.lookups.push((request, name)),
                Output::ClaimAccount { request, .. } => self.claims.push(request),
                Output::ListCharacters { request, .. } => self.listings.push(request),
                Output::QueryName { guid } => self.names.push(guid),
                Output::Place {
                    request,
                    map,
                    exclude,
                    avoid,
                    prefer,
                    ..
                } => {
                    self.placements.push((request, map));
                    self.excluded.push(exclude);
                    self.avoided.push(avoid);
                    self.preferred.push(prefer);
                }
                Output::Connect { link, worldserver } => {
                    self.worlds.push(World {
                        link,
                        from_gateway: ClientHeaderDecoder::for_gateway(),
                        to_gateway: ServerHeaderEncoder::plain(),
                        received: Vec::new(),
                        writes: 0,
                        closed: false,
                    });
                    self.connects.push((link, worldserver));
                }
                Output::CloseWorld { link } => self.world(link).closed = true,
                Output::CloseClient { reason } => self.closed = Some(reason),
                Output::Event(e) => self.events.push(e),
                Output::Announce(a) => self.announced.push(a),
                Output::CallService { request, call } => self.calls.push((request, call)),
            }
        }
    }

    fn world(&mut self, link: LinkId) -> &mut World {
        self.worlds
            .iter_mut()
            .find(|w| w.link == link)
            .expect("known link")
    }

    fn client_send(&mut self, opcode: Opcode, body: &[u8]) {
        let mut wire = BytesMut::new();
        self.client_out
            .encode(opcode, body, &mut wire)
            .expect("fits");
        self.client_bytes(&wire);
    }

    fn client_send_packet<P: WirePacket>(&mut self, p: &P) {
        self.client_send(P::OPCODE, &p.to_body());
    }

    fn world_send(&mut self, link: LinkId, opcode: Opcode, body: &[u8]) {
        let mut wire = BytesMut::new();
        self.world(link)
            .to_gateway
            .encode(opcode, body, &mut wire)
            .expect("fits");
        self.world_bytes(link, &wire);
    }

    fn world_send_packet<P: WirePacket>(&mut self, link: LinkId, p: &P) {
        self.world_send(link, P::OPCODE, &p.to_body());
    }

    fn advance_to_deadline(&mut self) {
        let at = self.s.poll_timeout().expect("a deadline is armed");
        self.now = self.now.max(at);
        self.s.handle_timeout(self.now);
        self.pump();
    }

    fn client_opcodes(&self) -> Vec<Opcode> {
        self.client_got.iter().map(|p| p.opcode).collect()
    }

    fn last_client(&self, opcode: Opcode) -> Option<&Packet> {
        self.client_got.iter().rev().find(|p| p.opcode == opcode)
    }

    /// Sends the auth session, with `digest_key` used for the digest.
    fn send_auth_session(&mut self, account: &str, digest_key: &SessionKey) -> Bytes {
        let challenge = self.client_got.first().expect("challenge").clone();
        assert_eq!(challenge.opcode, Opcode::SMSG_AUTH_CHALLENGE);
        let challenge = AuthChallenge::decode(&challenge.body).expect("challenge decodes");
        let body = AuthSession::encode(&AuthSessionFields {
            account: account.into(),
            client_seed: 77,
            realm_id: 1,
            digest: compute_digest(account, 77, challenge.server_seed, digest_key),
            addon_block: AddonList::default().encode_block(),
        });
        self.client_send(Opcode::CMSG_AUTH_SESSION, &body);
        body
    }

    fn answer_account(&mut self, record: Option<AccountRecord>) {
        let (request, _) = self.lookups.last().cloned().expect("account lookup asked");
        if let Some(r) = &record {
            // From here on both directions are encrypted.
            let c = ClientCiphers::new(&r.session_key);
            self.client_out.start_cipher(c.outbound);
            self.client_in.start_cipher(c.inbound);
        }
        let claims = self.claims.len();
        self.s.handle_account(self.now, request, Ok(record));
        self.pump();
        if self.claims.len() > claims {
            self.grant_claim();
        }
    }

    /// The fence grants the last account claim.
    fn grant_claim(&mut self) {
        let request = *self.claims.last().expect("claim asked");
        self.s.handle_claim(self.now, request, Ok(()));
        self.pump();
    }

    fn authenticate(&mut self) {
        self.send_auth_session("ALICE", &key());
        self.answer_account(Some(alice()));
        assert_eq!(self.s.phase(), Phase::CharacterScreen);
    }

    fn answer_characters(&mut self) {
        let request = *self.listings.last().expect("listing asked");
        let list = vec![
            character(ALICE_CHAR, ALICE, "Alice", 0),
            character(BOB_CHAR, AccountId(2), "Bob", 0),
        ];
        self.s.handle_characters(self.now, request, Ok(list));
        self.pump();
    }

    fn answer_placement(&mut self, server: Option<WorldserverRef>) {
        let (request, _) = *self.placements.last().expect("placement asked");
        self.s.handle_placement(self.now, request, Ok(server));
        self.pump();
    }

    /// After the old worldserver let the player go: the target chosen before is confirmed
    /// with the coordinator (which answers `target`).
    fn confirm_target(&mut self, chosen: &str, target: &str) {
        assert_eq!(
            self.preferred.last(),
            Some(&Some(WorldserverId(chosen.into()))),
            "the target chosen before is asked for again"
        );
        self.answer_placement(Some(ws(target)));
    }

    /// A handoff waiting for READY completes onto `target`: READY and the kick from `old`,
    /// the target confirmed, connected, and the first time sync there. Returns the new link.
    fn complete_handoff(&mut self, old: LinkId, target: &str) -> LinkId {
        self.world_send_packet(old, &ReadyForRedirect { status: 0 });
        self.s.handle_world_closed(self.now, old);
        self.pump();
        self.confirm_target(target, target);
        let new = self.connected();
        self.challenge_from_world(new);
        self.world_send_packet(new, &TimeSyncReq { counter: 0 });
        new
    }

    fn connected(&mut self) -> LinkId {
        let (link, _) = self.connects.last().cloned().expect("connect asked");
        self.s.handle_world_connected(self.now, link, Ok(()));
        self.pump();
        link
    }

    fn challenge_from_world(&mut self, link: LinkId) {
        let mut body = BytesMut::new();
        AuthChallenge {
            server_seed: 5,
            seed_bytes: [1; 32],
        }
        .encode(&mut body);
        self.world_send(link, Opcode::SMSG_AUTH_CHALLENGE, &body);
    }

    /// From the character screen to in world on `server`.
    fn enter_world(&mut self, server: WorldserverRef) -> LinkId {
        self.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
        if !self.listings.is_empty() && self.placements.is_empty() {
            self.answer_characters();
        }
        self.answer_placement(Some(server));
        let link = self.connected();
        self.challenge_from_world(link);
        self.world_send(link, Opcode::MSG_SET_DUNGEON_DIFFICULTY, &[0; 12]);
        self.world_send_packet(link, &TimeSyncReq { counter: 0 });
        assert_eq!(self.s.phase(), Phase::InWorld);
        link
    }
}

fn authed() -> Harness {
    let mut h = Harness::new(SessionConfig::default());
    h.authenticate();
    h
}

#[test]
fn challenge_is_sent_plain_at_once() {
    let h = Harness::new(SessionConfig::default());
    assert_eq!(h.client_opcodes(), vec![Opcode::SMSG_AUTH_CHALLENGE]);
    let c = AuthChallenge::decode(&h.client_got[0].body).expect("decodes");
    assert_eq!(c.server_seed, SERVER_SEED);
    assert_eq!(h.s.phase(), Phase::ExpectAuthSession);
}

#[test]
fn good_auth_gets_ok_addon_info_cache_version_and_tutorials() {
    let h = authed();
    assert_eq!(
        h.client_opcodes(),
        vec![
            Opcode::SMSG_AUTH_CHALLENGE,
            Opcode::SMSG_AUTH_RESPONSE,
            Opcode::SMSG_ADDON_INFO,
            Opcode::SMSG_CLIENTCACHE_VERSION,
            Opcode::SMSG_TUTORIAL_FLAGS
        ]
    );
    let ok = AuthResponse::decode(&h.client_got[1].body).expect("decodes");
    assert!(matches!(ok, AuthResponse::Ok(b) if b.expansion == 2));
    assert!(
        h.events
            .contains(&SessionEvent::Authenticated { account: ALICE })
    );
}

fn assert_auth_rejected(h: &Harness, code: AuthResult) {
    let p = h
        .last_client(Opcode::SMSG_AUTH_RESPONSE)
        .expect("a response");
    assert_eq!(
        AuthResponse::decode(&p.body),
        Ok(AuthResponse::Failed(code))
    );
    assert!(
        matches!(&h.closed, Some(CloseReason::AuthRejected(c, detail)) if *c == code && !detail.is_empty()),
        "closed with {:?}",
        h.closed
    );
    assert_eq!(
        h.closed.as_ref().map(CloseReason::culprit),
        Some(Culprit::Client)
    );
    assert_eq!(h.s.phase(), Phase::Closed);
}

/// The client is told DB_BUSY and the accounts service is blamed, not the client.
fn assert_accounts_blamed(h: &Harness) {
    assert_service_blamed(h, "accounts");
}

/// The client is told DB_BUSY and `service` is blamed, not the client.
fn assert_service_blamed(h: &Harness, service: &str) {
    let p = h
        .last_client(Opcode::SMSG_AUTH_RESPONSE)
        .expect("a response");
    assert_eq!(
        AuthResponse::decode(&p.body),
        Ok(AuthResponse::Failed(AuthResult::DB_BUSY))
    );
    assert!(
        matches!(&h.closed, Some(CloseReason::ServiceUnavailable(d)) if d.contains(service)),
        "closed with {:?}",
        h.closed
    );
    assert_eq!(
        h.closed.as_ref().map(CloseReason::culprit),
        Some(Culprit::Service)
    );
    assert_eq!(h.s.phase(), Phase::Closed);
}

/// Regression: an accounts-service error became AuthRejected, blamed on the client.
#[test]
fn an_accounts_service_error_is_db_busy_and_blames_the_service() {
    let mut h = Harness::new(SessionConfig::default());
    h.send_auth_session("ALICE", &key());
    let (request, _) = h.lookups.last().cloned().expect("account lookup asked");
    let error = SeamError {
        service: "accounts",
        detail: "connection refused".into(),
        retryable: true,
    };
    h.s.handle_account(h.now, request, Err(error));
    h.pump();
    assert_accounts_blamed(&h);
}

/// Regression: the lookup armed no timer, so a hung accounts service ended at the pre-auth
/// deadline as a client-blamed PreAuthTimeout.
#[test]
fn a_hung_accounts_service_is_db_busy_at_the_service_deadline() {
    let cfg = SessionConfig::default();
    let mut h = Harness::new(cfg.clone());
    h.send_auth_session("ALICE", &key());
    h.advance_to_deadline();
    assert_eq!(h.now, Duration::from_millis(cfg.service_timeout_ms));
    assert!(cfg.service_timeout_ms < cfg.pre_auth_timeout_ms);
    assert_accounts_blamed(&h);
}

#[test]
fn wrong_digest_is_refused_and_closed() {
    let mut h = Harness::new(SessionConfig::default());
    h.send_auth_session("ALICE", &SessionKey([0x43; 40]));
    // The refusal is encrypted with the stored key, as AzerothCore does.
    h.answer_account(Some(alice()));
    assert_auth_rejected(&h, AuthResult::FAILED);
}

#[test]
fn unknown_account_is_refused_in_the_clear_and_closed() {
    let mut h = Harness::new(SessionConfig::default());
    h.send_auth_session("NOBODY", &key());
    h.answer_account(None);
    assert_auth_rejected(&h, AuthResult::UNKNOWN_ACCOUNT);
}

#[test]
fn banned_and_locked_accounts_get_their_codes() {
    for (banned, locked, code) in [
        (true, false, AuthResult::BANNED),
        (false, true, AuthResult::LOCKED_ENFORCED),
    ] {
        let mut h = Harness::new(SessionConfig::default());
        h.send_auth_session("ALICE", &key());
        let record = AccountRecord {
            banned,
            locked,
            ..alice()
        };
        h.answer_account(Some(record));
        assert_auth_rejected(&h, code);
    }
}

#[test]
fn packet_before_auth_session_closes() {
    let mut h = Harness::new(SessionConfig::default());
    h.client_send_packet(&Ping {
        seq: 1,
        latency_ms: 0,
    });
    assert!(matches!(h.closed, Some(CloseReason::ClientProtocol(_))));
    assert!(h.lookups.is_empty());
}

#[test]
fn garbage_closes_the_client_only() {
    let mut h = Harness::new(SessionConfig::default());
    h.s.handle_client_bytes(h.now, &[0xFF; 64]);
    h.pump();
    assert!(matches!(h.closed, Some(CloseReason::ClientProtocol(_))));
}

#[test]
fn pre_auth_deadline_closes() {
    let mut h = Harness::new(SessionConfig::default());
    h.advance_to_deadline();
    assert_eq!(h.closed, Some(CloseReason::PreAuthTimeout));
    assert_eq!(
        h.now,
        Duration::from_millis(SessionConfig::default().pre_auth_timeout_ms)
    );
}

/// While the account is looked up, the client may pile up at most
/// `pre_auth_buffer_max_bytes`: exactly that much is kept, one byte more closes it.
#[test]
fn bytes_piled_up_during_the_account_lookup_are_bounded() {
    let max = 64;
    let cfg = SessionConfig {
        pre_auth_buffer_max_bytes: max,
        ..SessionConfig::default()
    };
    let mut h = Harness::new(cfg.clone());
    h.send_auth_session("ALICE", &key());
    assert_eq!(h.s.phase(), Phase::AwaitAccount);
    h.client_bytes(&vec![0u8; max]);
    assert_eq!(h.closed, None, "exactly the bound is kept");
    assert_eq!(h.s.phase(), Phase::AwaitAccount);
    h.client_bytes(&[0]);
    assert!(
        matches!(&h.closed, Some(CloseReason::ClientProtocol(why)) if why.contains("before authentication")),
        "{:?}",
        h.closed
    );
    // In one read, too.
    let mut h = Harness::new(cfg);
    h.send_auth_session("ALICE", &key());
    h.client_bytes(&vec![0u8; max + 1]);
    assert!(matches!(h.closed, Some(CloseReason::ClientProtocol(_))));
}

/// The packets a session renders for the client in one step go out in one write.
#[test]
fn packets_rendered_together_reach_the_client_in_one_write() {
    let mut h = authed();
    let (writes, got) = (h.client_writes, h.client_got.len());
    // Two pings in one read: two pongs, one write.
    let mut wire = BytesMut::new();
    for seq in [1, 2] {
        let ping = Ping { seq, latency_ms: 0 }.to_body();
        h.client_out
            .encode(Opcode::CMSG_PING, &ping, &mut wire)
            .expect("fits");
    }
    h.client_bytes(&wire);
    assert_eq!(h.client_got.len() - got, 2);
    assert_eq!(h.client_writes - writes, 1);
}

#[test]
fn pipelined_packets_behind_the_auth_session_decrypt_after_the_lookup() {
    let mut h = Harness::new(SessionConfig::default());
    let challenge = AuthChallenge::decode(&h.client_got[0].body).expect("challenge");
    let body = AuthSession::encode(&AuthSessionFields {
        account: "ALICE".into(),
        client_seed: 9,
        realm_id: 1,
        digest: compute_digest("ALICE", 9, challenge.server_seed, &key()),
        addon_block: AddonList::default().encode_block(),
    });
    let mut wire = BytesMut::new();
    h.client_out
        .encode(Opcode::CMSG_AUTH_SESSION, &body, &mut wire)
        .expect("fits");
    let c = ClientCiphers::new(&key());
    h.client_out.start_cipher(c.outbound);
    h.client_in.start_cipher(c.inbound);
    h.client_out
        .encode(
            Opcode::CMSG_PING,
            &Ping {
                seq: 5,
                latency_ms: 0,
            }
            .to_body(),
            &mut wire,
        )
        .expect("fits");
    h.s.handle_client_bytes(h.now, &wire);
    h.pump();
    assert_eq!(h.s.phase(), Phase::AwaitAccount);
    h.s.handle_account(h.now, h.lookups[0].0, Ok(Some(alice())));
    h.pump();
    assert_eq!(h.s.phase(), Phase::AwaitAccount, "the claim is under way");
    h.grant_claim();
    let pong = h
        .last_client(Opcode::SMSG_PONG)
        .expect("the pipelined ping is answered");
    assert_eq!(Pong::decode(&pong.body), Ok(Pong { seq: 5 }));
}

#[test]
fn char_enum_lists_only_the_accounts_characters() {
    let mut h = authed();
    h.client_send(Opcode::CMSG_CHAR_ENUM, &[]);
    h.answer_characters();
    let list = CharEnum::decode(&h.last_client(Opcode::SMSG_CHAR_ENUM).expect("enum").body)
        .expect("decodes");
    let guids: Vec<u64> = list.characters.iter().map(|c| c.guid).collect();
    assert_eq!(guids, vec![ALICE_CHAR]);
}

#[test]
fn login_of_another_accounts_character_is_refused_without_a_worldserver() {
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: BOB_CHAR });
    h.answer_characters();
    let failed = h
        .last_client(Opcode::SMSG_CHARACTER_LOGIN_FAILED)
        .expect("refused");
    assert_eq!(
        CharacterLoginFailed::decode(&failed.body),
        Ok(CharacterLoginFailed {
            reason: LoginFailure::NO_CHARACTER
        })
    );
    assert!(h.placements.is_empty() && h.connects.is_empty());
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
}

#[test]
fn login_replays_auth_then_logs_in_as_separate_writes() {
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    h.answer_characters();
    assert_eq!(h.placements.last().map(|p| p.1), Some(Some(0)));
    h.answer_placement(Some(ws("ws-1")));
    let link = h.connected();
    assert_eq!(h.world(link).writes, 0, "nothing before the challenge");
    h.challenge_from_world(link);
    let w = h.world(link);
    assert_eq!(w.writes, 2, "auth session and login are two writes");
    assert_eq!(w.received[0].opcode, Opcode::CMSG_AUTH_SESSION);
    assert_eq!(w.received[1].opcode, Opcode::CMSG_PLAYER_LOGIN);
    assert_eq!(
        PlayerLogin::decode(&w.received[1].body),
        Ok(PlayerLogin { guid: ALICE_CHAR })
    );
    let login_sequence = [
        Opcode::MSG_SET_DUNGEON_DIFFICULTY,
        Opcode::SMSG_LOGIN_VERIFY_WORLD,
        Opcode::SMSG_MOTD,
    ];
    for op in login_sequence {
        h.world_send(link, op, &[1, 2, 3, 4]);
    }
    assert_eq!(h.s.phase(), Phase::EnteringWorld);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.phase(), Phase::InWorld);
    let tail: Vec<Opcode> = h.client_opcodes().into_iter().rev().take(4).rev().collect();
    assert_eq!(&tail[..3], &login_sequence);
    assert_eq!(tail[3], Opcode::SMSG_TIME_SYNC_REQ);
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, SessionEvent::EnteredWorld { .. }))
    );
}

#[test]
fn replayed_auth_session_is_the_clients_bytes() {
    let mut h = Harness::new(SessionConfig::default());
    let sent = h.send_auth_session("ALICE", &key());
    h.answer_account(Some(alice()));
    let link = h.enter_world(ws("ws-1"));
    assert_eq!(h.world(link).received[0].body, sent);
}

#[test]
fn silent_worldserver_is_nudged_with_keep_alive() {
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    h.answer_characters();
    h.answer_placement(Some(ws("ws-1")));
    let link = h.connected();
    h.challenge_from_world(link);
    h.advance_to_deadline();
    assert_eq!(
        h.world(link).received.last().map(|p| p.opcode),
        Some(Opcode::CMSG_KEEP_ALIVE)
    );
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, SessionEvent::LoginNudged { .. }))
    );
    // An answer stops the nudging.
    h.world_send(link, Opcode::MSG_SET_DUNGEON_DIFFICULTY, &[0; 12]);
    let keep_alives = |h: &mut Harness| {
        h.world(link)
            .received
            .iter()
            .filter(|p| p.opcode == Opcode::CMSG_KEEP_ALIVE)
            .count()
    };
    let before = keep_alives(&mut h);
    let nudge_at = h.now + Duration::from_millis(SessionConfig::default().world_login_nudge_ms);
    h.now = nudge_at;
    h.s.handle_timeout(h.now);
    h.pump();
    assert_eq!(keep_alives(&mut h), before);
}

#[test]
fn worldserver_closing_during_load_is_a_login_failure() {
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    h.answer_characters();
    h.answer_placement(Some(ws("ws-1")));
    let link = h.connected();
    h.challenge_from_world(link);
    h.s.handle_world_closed(h.now, link);
    h.pump();
    let failed = h
        .last_client(Opcode::SMSG_CHARACTER_LOGIN_FAILED)
        .expect("told");
    assert_eq!(
        CharacterLoginFailed::decode(&failed.body),
        Ok(CharacterLoginFailed {
            reason: LoginFailure::FAILED
        })
    );
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
    assert!(h.closed.is_none());
}

#[test]
fn no_worldserver_for_the_map_is_no_world() {
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    h.answer_characters();
    h.answer_placement(None);
    let failed = h
        .last_client(Opcode::SMSG_CHARACTER_LOGIN_FAILED)
        .expect("told");
    assert_eq!(failed.body[..], [LoginFailure::NO_WORLD.0]);
    assert!(h.connects.is_empty());
}

/// Another account's character, as the names seam knows it.
fn zed() -> NameRecord {
    NameRecord {
        guid: CharacterGuid(999),
        name: "Zed".into(),
        race: 2,
        gender: 1,
        class: 3,
    }
}

#[test]
fn name_query_while_entering_is_answered_by_the_gateway() {
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    h.answer_characters();
    h.client_send_packet(&NameQuery { guid: ALICE_CHAR });
    let own = h
        .last_client(Opcode::SMSG_NAME_QUERY_RESPONSE)
        .expect("answered");
    assert!(
        matches!(NameQueryResponse::decode(&own.body), Ok(NameQueryResponse::Found { name, .. }) if name == "Alice")
    );
    h.client_send_packet(&NameQuery { guid: 999 });
    assert_eq!(h.names, vec![CharacterGuid(999)]);
    h.s.handle_name(h.now, CharacterGuid(999), Ok(Some(zed())));
    h.pump();
    let other = h
        .last_client(Opcode::SMSG_NAME_QUERY_RESPONSE)
        .expect("answered");
    assert!(
        matches!(NameQueryResponse::decode(&other.body), Ok(NameQueryResponse::Found { name, .. }) if name == "Zed")
    );
}

/// A name answer nobody asked for (or a second answer to one question) reaches no client.
#[test]
fn a_name_answer_that_was_not_asked_for_is_dropped() {
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    h.answer_characters();
    h.s.handle_name(h.now, CharacterGuid(999), Ok(Some(zed())));
    h.pump();
    assert!(h.last_client(Opcode::SMSG_NAME_QUERY_RESPONSE).is_none());
    h.client_send_packet(&NameQuery { guid: 999 });
    h.s.handle_name(h.now, CharacterGuid(999), Ok(Some(zed())));
    h.pump();
    h.s.handle_name(h.now, CharacterGuid(999), Ok(Some(zed())));
    h.pump();
    let answers = h
        .client_got
        .iter()
        .filter(|p| p.opcode == Opcode::SMSG_NAME_QUERY_RESPONSE)
        .count();
    assert_eq!(answers, 1, "one question, one answer");
}

#[test]
fn proxying_keeps_order_and_bodies_both_ways() {
    let mut h = authed();
    let link = h.enter_world(ws("ws-1"));
    let before = h.world(link).received.len();
    for i in 0..200u32 {
        h.client_send(Opcode::MSG_MOVE_HEARTBEAT, &i.to_le_bytes());
        h.world_send(link, Opcode::MSG_MOVE_HEARTBEAT, &(i + 1000).to_le_bytes());
    }
    let to_world: Vec<Bytes> = h.world(link).received[before..]
        .iter()
        .map(|p| p.body.clone())
        .collect();
    let expected: Vec<Bytes> = (0..200u32)
        .map(|i| Bytes::copy_from_slice(&i.to_le_bytes()))
        .collect();
    assert_eq!(to_world, expected);
    let to_client: Vec<Bytes> = h
        .client_got
        .iter()
        .filter(|p| p.opcode == Opcode::MSG_MOVE_HEARTBEAT)
        .map(|p| p.body.clone())
        .collect();
    let expected: Vec<Bytes> = (0..200u32)
        .map(|i| Bytes::copy_from_slice(&(i + 1000).to_le_bytes()))
        .collect();
    assert_eq!(to_client, expected);
}

fn new_world(map: u32) -> NewWorld {
    NewWorld(MapPosition {
        map,
        position: Position {
            x: 1.0,
            y: 2.0,
            z: 3.0,
            orientation: 0.0,
        },
    })
}

#[test]
fn map_change_to_another_owner_redirects_with_held_packets_in_order() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.world_send_packet(old, &new_world(1));
    assert_eq!(h.s.phase(), Phase::Transferring);
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    assert_eq!(h.s.phase(), Phase::AwaitTransferPlacement);
    assert_eq!(h.placements.last().map(|p| p.1), Some(Some(1)));
    h.answer_placement(Some(ws("ws-22")));
    let old_rx: Vec<Opcode> = h
        .world(old)
        .received
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(|p| p.opcode)
        .collect();
    assert_eq!(
        old_rx,
        vec![
            Opcode::MSG_MOVE_WORLDPORT_ACK,
            Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT
        ]
    );
    assert_eq!(h.s.phase(), Phase::AwaitRedirectReady);
    // The old worldserver re-runs its login sequence after the ack: none of it reaches the client.
    let client_before = h.client_got.len();
    h.world_send(old, Opcode::SMSG_LOGIN_VERIFY_WORLD, &[0; 20]);
    assert_eq!(h.client_got.len(), client_before);
    // Client packets during the switch are held.
    for i in 0..5u32 {
        h.client_send(Opcode::MSG_MOVE_HEARTBEAT, &i.to_le_bytes());
    }
    h.world_send_packet(old, &ReadyForRedirect { status: 0 });
    // Saved, but the player leaves the old world only with the kick: no login elsewhere yet.
    assert_eq!(h.s.phase(), Phase::AwaitRelease);
    assert_eq!(h.connects.len(), 1);
    h.s.handle_world_closed(h.now, old);
    h.pump();
    h.confirm_target("ws-22", "ws-22");
    let new = h.connected();
    h.challenge_from_world(new);
    h.world_send(new, Opcode::SMSG_LOGIN_VERIFY_WORLD, &[1; 20]);
    assert!(
        h.world(new)
            .received
            .iter()
            .all(|p| p.opcode != Opcode::MSG_MOVE_HEARTBEAT)
    );
    h.world_send_packet(new, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.phase(), Phase::InWorld);
    assert_eq!(h.s.worldserver().map(|w| w.id.0.as_str()), Some("ws-22"));
    let held: Vec<Bytes> = h
        .world(new)
        .received
        .iter()
        .filter(|p| p.opcode == Opcode::MSG_MOVE_HEARTBEAT)
        .map(|p| p.body.clone())
        .collect();
    let expected: Vec<Bytes> = (0..5u32)
        .map(|i| Bytes::copy_from_slice(&i.to_le_bytes()))
        .collect();
    assert_eq!(held, expected);
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, SessionEvent::HandoffCompleted { .. }))
    );
    assert_eq!(h.s.map(), Some(1));
}

/// What the driver reads of a session (its account, character, map, worldserver, links and
/// buffered client bytes) follows the session from the challenge to a move.
#[test]
fn the_drivers_view_of_a_session_follows_it() {
    let mut h = Harness::new(SessionConfig::default());
    assert_eq!(
        (h.s.account(), h.s.character(), h.s.map()),
        (None, None, None)
    );
    assert!(h.s.worldserver().is_none());
    h.authenticate();
    assert_eq!(h.s.account().map(|a| a.name.as_str()), Some("ALICE"));
    assert_eq!(h.s.character(), None, "at the character screen");
    // Bytes of a packet not yet whole stay buffered until the rest comes.
    let mut wire = BytesMut::new();
    h.client_out
        .encode(
            Opcode::CMSG_PING,
            &Ping {
                seq: 1,
                latency_ms: 0,
            }
            .to_body(),
            &mut wire,
        )
        .expect("fits");
    h.s.handle_client_bytes(h.now, &wire[..3]);
    assert_eq!(h.s.client_buffered(), 3);
    h.s.handle_client_bytes(h.now, &wire[3..]);
    h.pump();
    assert_eq!(h.s.client_buffered(), 0);
    let old = h.enter_world(ws("ws-1"));
    assert_eq!(h.s.character(), Some(CharacterGuid(ALICE_CHAR)));
    assert_eq!(h.s.map(), Some(0), "the map it entered on");
    assert!(h.s.has_link(old));
    assert!(!h.s.has_link(LinkId(old.0 + 1_000)));
    // Loading into another map: the client still hears the old worldserver.
    h.world_send_packet(old, &new_world(1));
    assert_eq!(h.s.phase(), Phase::Transferring);
    assert_eq!(h.s.worldserver().map(|w| w.id.0.as_str()), Some("ws-1"));
}

#[test]
fn map_change_on_the_same_owner_just_forwards_the_ack() {
    let mut h = authed();
    let link = h.enter_world(ws("ws-1"));
    h.world_send_packet(link, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.answer_placement(Some(ws("ws-1")));
    assert_eq!(h.s.phase(), Phase::InWorld);
    assert_eq!(
        h.world(link).received.last().map(|p| p.opcode),
        Some(Opcode::MSG_MOVE_WORLDPORT_ACK)
    );
    assert_eq!(h.connects.len(), 1);
}

#[test]
fn refused_redirect_keeps_the_player_where_it_is() {
    let mut h = authed();
    let link = h.enter_world(ws("ws-1"));
    h.world_send_packet(link, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.answer_placement(Some(ws("ws-22")));
    h.client_send(Opcode::MSG_MOVE_HEARTBEAT, &[9]);
    h.world_send_packet(link, &ReadyForRedirect { status: 1 });
    assert_eq!(h.s.phase(), Phase::InWorld);
    assert_eq!(
        h.world(link).received.last().map(|p| p.body.clone()),
        Some(Bytes::from_static(&[9]))
    );
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, SessionEvent::HandoffAbandoned { .. }))
    );
    assert_eq!(
        h.connects.len(),
        1,
        "no second worldserver while the first holds the player"
    );
}

#[test]
fn switch_buffer_overflow_closes_cleanly() {
    let cfg = SessionConfig {
        switch_buffer_max_packets: 3,
        ..SessionConfig::default()
    };
    let mut h = Harness::new(cfg);
    h.authenticate();
    let link = h.enter_world(ws("ws-1"));
    h.world_send_packet(link, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    for i in 0..4u8 {
        h.client_send(Opcode::MSG_MOVE_HEARTBEAT, &[i]);
    }
    assert_eq!(h.closed, Some(CloseReason::SwitchBufferOverflow));
    assert!(h.world(link).closed);
}

#[test]
fn worldserver_loss_in_world_reattaches_on_the_same_worldserver() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.world_send_packet(
        old,
        &waygate::wire::packets::LoginVerifyWorld(MapPosition {
            map: 0,
            position: Position {
                x: 5.0,
                y: 6.0,
                z: 7.0,
                orientation: 0.5,
            },
        }),
    );
    h.s.handle_world_closed(h.now, old);
    h.pump();
    assert!(
        h.closed.is_none(),
        "the session survives a lost worldserver"
    );
    assert!(
        h.client_got
            .iter()
            .any(|p| p.opcode == Opcode::SMSG_MESSAGECHAT),
        "the player is told"
    );
    let loading = h
        .last_client(Opcode::SMSG_NEW_WORLD)
        .expect("a loading screen");
    assert_eq!(
        NewWorld::decode(&loading.body).map(|n| n.0.position.x),
        Ok(5.0)
    );
    let (link, target) = h.connects.last().cloned().expect("reconnect asked");
    assert_eq!(
        target.id.0, "ws-1",
        "back to the same worldserver: re-attach is always safe"
    );
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.client_send(Opcode::MSG_MOVE_HEARTBEAT, &[1]);
    h.s.handle_world_connected(h.now, link, Ok(()));
    h.pump();
    h.challenge_from_world(link);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.phase(), Phase::InWorld);
    let got: Vec<Opcode> = h.world(link).received.iter().map(|p| p.opcode).collect();
    assert!(
        !got.contains(&Opcode::MSG_MOVE_WORLDPORT_ACK),
        "the synthetic loading screen's ack is the gateway's"
    );
    assert_eq!(
        got.last(),
        Some(&Opcode::MSG_MOVE_HEARTBEAT),
        "held packets follow"
    );
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, SessionEvent::Recovered { attempts: 1, .. }))
    );
}

#[test]
fn recovery_waits_out_the_linger_before_going_elsewhere() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    let lost_at = h.now;
    h.s.handle_world_closed(h.now, old);
    h.pump();
    let linger = Duration::from_millis(SessionConfig::default().world_linger_ms);
    let backoff = SessionConfig::default().recovery_backoff;
    let mut last_try = h.now;
    // The same worldserver refuses connections for the whole linger.
    while h.placements.len() == 1 {
        let (link, target) = h.connects.last().cloned().expect("an attempt");
        if h.now < lost_at + linger {
            assert_eq!(
                target.id.0, "ws-1",
                "never another worldserver within the linger"
            );
        }
        h.s.handle_world_connected(h.now, link, Err("refused".into()));
        h.pump();
        assert!(h.closed.is_none());
        h.advance_to_deadline();
        let waited = h.now - last_try;
        assert!(
            waited >= Duration::from_millis(backoff.min_ms)
                && waited <= Duration::from_millis(backoff.max_ms)
        );
        last_try = h.now;
    }
    assert!(
        h.now >= lost_at + linger,
        "placement elsewhere only after the linger"
    );
    h.answer_placement(Some(ws("ws-22")));
    let (link, target) = h.connects.last().cloned().expect("connect");
    assert_eq!(target.id.0, "ws-22");
    h.s.handle_world_connected(h.now, link, Ok(()));
    h.pump();
    h.challenge_from_world(link);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.phase(), Phase::InWorld);
}

#[test]
fn recovery_gives_up_at_its_deadline() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.s.handle_world_closed(h.now, old);
    h.pump();
    let deadline =
        h.now + Duration::from_millis(SessionConfig::default().recovery_backoff.deadline_ms);
    let mut rounds = 0;
    while h.closed.is_none() {
        rounds += 1;
        assert!(rounds < 1_000, "recovery must end");
        if let Some((request, _)) = h
            .placements
            .last()
            .cloned()
            .filter(|_| h.s.poll_timeout().is_some())
        {
            h.s.handle_placement(h.now, request, Ok(None));
            h.pump();
        }
        if let Some((link, _)) = h.connects.last().cloned() {
            h.s.handle_world_connected(h.now, link, Err("refused".into()));
            h.pump();
        }
        if h.closed.is_none() {
            h.advance_to_deadline();
        }
    }
    assert!(h.now <= deadline, "closed by the deadline");
    assert!(
        matches!(&h.closed, Some(CloseReason::WorldLost { worldserver, .. }) if worldserver.0 == "ws-1")
    );
}

#[test]
fn logout_complete_closes_the_worldserver_and_returns_to_the_character_screen() {
    let mut h = authed();
    let link = h.enter_world(ws("ws-1"));
    h.client_send(Opcode::CMSG_LOGOUT_REQUEST, &[]);
    assert_eq!(
        h.world(link).received.last().map(|p| p.opcode),
        Some(Opcode::CMSG_LOGOUT_REQUEST)
    );
    h.world_send(link, Opcode::SMSG_LOGOUT_COMPLETE, &[]);
    assert!(h.world(link).closed);
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
    assert_eq!(
        h.client_got.last().map(|p| p.opcode),
        Some(Opcode::SMSG_LOGOUT_COMPLETE)
    );
}

#[test]
fn client_disconnect_closes_the_worldserver() {
    let mut h = authed();
    let link = h.enter_world(ws("ws-1"));
    h.s.handle_client_closed(h.now);
    h.pump();
    assert!(h.world(link).closed);
    assert_eq!(h.closed, Some(CloseReason::ClientGone));
}

#[test]
fn shutdown_logs_the_player_out_then_closes() {
    let mut h = authed();
    let link = h.enter_world(ws("ws-1"));
    h.s.begin_shutdown(h.now);
    h.pump();
    assert_eq!(
        h.world(link).received.last().map(|p| p.opcode),
        Some(Opcode::CMSG_LOGOUT_REQUEST)
    );
    assert!(h.closed.is_none());
    h.world_send(link, Opcode::SMSG_LOGOUT_COMPLETE, &[]);
    assert_eq!(h.closed, Some(CloseReason::Shutdown));
}

#[test]
fn shutdown_closes_after_the_logout_deadline() {
    let mut h = authed();
    h.enter_world(ws("ws-1"));
    h.s.begin_shutdown(h.now);
    h.pump();
    h.advance_to_deadline();
    assert_eq!(h.closed, Some(CloseReason::Shutdown));
}

#[test]
fn cluster_opcodes_from_a_client_close_it() {
    let mut h = authed();
    let link = h.enter_world(ws("ws-1"));
    h.client_send(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]);
    assert!(matches!(h.closed, Some(CloseReason::ClientProtocol(_))));
    assert!(
        h.world(link)
            .received
            .iter()
            .all(|p| p.opcode != Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT)
    );
}

#[test]
fn a_late_kick_is_not_waited_for_past_the_release_deadline() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.world_send_packet(old, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.answer_placement(Some(ws("ws-22")));
    h.world_send_packet(old, &ReadyForRedirect { status: 0 });
    let ready_at = h.now;
    h.advance_to_deadline();
    assert_eq!(
        h.now - ready_at,
        Duration::from_millis(SessionConfig::default().redirect_release_timeout_ms)
    );
    assert!(
        h.world(old).closed,
        "the gateway closes the old link itself"
    );
    assert!(h.events.iter().any(|e| matches!(
        e,
        SessionEvent::CharacterLeft {
            how: Departure::Lost,
            ..
        }
    )));
    assert_eq!(
        h.connects.len(),
        1,
        "not before the old worldserver's linger"
    );
    let closed_at = h.now;
    h.advance_to_deadline();
    assert_eq!(
        h.now - closed_at,
        Duration::from_millis(SessionConfig::default().world_linger_ms)
    );
    assert_eq!(h.s.phase(), Phase::EnteringWorld);
    assert_eq!(
        h.avoided
            .last()
            .map(|e| e.iter().map(|w| w.0.clone()).collect::<Vec<_>>()),
        Some(vec!["ws-1".to_owned()]),
        "then whoever the gateway-wide ledger allows, through the placement, the old one last"
    );
}

#[test]
fn a_silent_worldserver_is_treated_as_lost() {
    let mut h = authed();
    let link = h.enter_world(ws("ws-1"));
    let silent_from = h.now;
    h.advance_to_deadline();
    assert_eq!(
        h.now - silent_from,
        Duration::from_millis(SessionConfig::default().world_silence_timeout_ms)
    );
    assert!(h.world(link).closed, "the silent link is dropped");
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, SessionEvent::RecoveryStarted { .. }))
    );
    assert_eq!(h.connects.last().map(|c| c.1.id.0.as_str()), Some("ws-1"));
}

/// After the old worldserver let the player go (its kick closed the link), another
/// worldserver for the same map, with a loading screen in between.
fn finish_move_elsewhere(h: &mut Harness, old: LinkId) {
    assert_eq!(h.s.phase(), Phase::AwaitRelease);
    assert_eq!(h.connects.len(), 1, "nothing elsewhere before the release");
    h.s.handle_world_closed(h.now, old);
    h.pump();
    assert_eq!(
        h.excluded.last().map(Vec::len),
        Some(0),
        "the worldserver left released the player: it may take it back"
    );
    assert_eq!(
        h.avoided
            .last()
            .map(|e| e.iter().map(|w| w.0.clone()).collect::<Vec<_>>()),
        Some(vec!["ws-1".to_owned()]),
        "but only if nobody else can"
    );
    assert!(
        h.last_client(Opcode::SMSG_NEW_WORLD).is_some(),
        "a loading screen"
    );
    h.answer_placement(Some(ws("ws-22")));
    let link = h.connected();
    h.challenge_from_world(link);
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.phase(), Phase::InWorld);
    assert_eq!(h.s.worldserver().map(|w| w.id.0.as_str()), Some("ws-22"));
    assert!(
        h.world(link)
            .received
            .iter()
            .all(|p| p.opcode != Opcode::MSG_MOVE_WORLDPORT_ACK),
        "the loading screen's ack stays with the gateway"
    );
}

#[test]
fn unsolicited_ready_moves_the_player_after_the_kick() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.world_send_packet(old, &ReadyForRedirect { status: 0 });
    assert!(h.events.iter().any(|e| matches!(
        e,
        SessionEvent::RedirectRequested {
            reason: "worldserver",
            ..
        }
    )));
    finish_move_elsewhere(&mut h, old);
}

#[test]
fn unsolicited_ready_with_status_1_changes_nothing() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.world_send_packet(old, &ReadyForRedirect { status: 1 });
    assert_eq!(h.s.phase(), Phase::InWorld);
}

#[test]
fn draining_moves_the_player_off_its_worldserver() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.s.handle_drain(h.now, &WorldserverId("ws-other".into()));
    h.pump();
    assert_eq!(
        h.s.phase(),
        Phase::InWorld,
        "another worldserver's drain is not ours"
    );
    h.s.handle_drain(h.now, &WorldserverId("ws-1".into()));
    h.pump();
    assert_eq!(
        h.world(old).received.last().map(|p| p.opcode),
        Some(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT)
    );
    h.world_send_packet(old, &ReadyForRedirect { status: 0 });
    finish_move_elsewhere(&mut h, old);
}

/// Found by the simulator's client-protocol checker (swarm seeds 23, 375, 395, 416, 425,
/// 488): a drain's PREPARE was out, the worldserver crashed before READY, and the recovery
/// logged the player in again without a loading screen, so the client saw the new world
/// session's time-sync counter start over while it was still in world.
#[test]
fn a_worldserver_lost_before_ready_gives_the_client_a_loading_screen() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.s.handle_drain(h.now, &WorldserverId("ws-1".into()));
    h.pump();
    assert_eq!(h.s.phase(), Phase::AwaitRedirectReady);
    let screens = |h: &Harness| {
        h.client_opcodes()
            .iter()
            .filter(|o| **o == Opcode::SMSG_NEW_WORLD)
            .count()
    };
    assert_eq!(screens(&h), 0, "still in world while READY is awaited");
    h.s.handle_world_closed(h.now, old);
    h.pump();
    assert_eq!(
        screens(&h),
        1,
        "the recovery shows a loading screen before the next login"
    );
}

/// A movement body: a one-byte packed guid, flags, time, then the position.
fn movement(x: f32, y: f32, z: f32) -> Vec<u8> {
    let mut b = vec![0x01, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    for f in [x, y, z, 1.5] {
        b.extend_from_slice(&f.to_le_bytes());
    }
    b
}

/// Movement relayed in a burst (several packets in one read, the last ones not finite or cut
/// short, the first split between reads) still leaves the last good position behind: the loading screen of
/// a recovery shows it. Both ways of handing the session its reads agree.
#[test]
fn a_burst_of_movement_leaves_the_last_good_position_for_the_loading_screen() {
    for relay in [false, true] {
        let mut h = authed();
        h.relay = relay;
        let old = h.enter_world(ws("ws-1"));
        let entered = MapPosition {
            map: 0,
            position: Position {
                x: 10.0,
                y: 20.0,
                z: 30.0,
                orientation: 0.0,
            },
        };
        h.world_send_packet(old, &waygate::wire::packets::LoginVerifyWorld(entered));
        let mut wire = BytesMut::new();
        let packets: [(Opcode, Vec<u8>); 5] = [
            (Opcode::MSG_MOVE_HEARTBEAT, movement(1.0, 2.0, 3.0)),
            (
                Opcode::CMSG_PING,
                Ping {
                    seq: 3,
                    latency_ms: 0,
                }
                .to_body()
                .to_vec(),
            ),
            (Opcode::MSG_MOVE_STOP, movement(4.0, 5.0, 6.0)),
            (Opcode::MSG_MOVE_HEARTBEAT, movement(7.0, 8.0, f32::NAN)),
            (Opcode::MSG_MOVE_HEARTBEAT, vec![0x01]),
        ];
        for (o, b) in &packets {
            h.client_out.encode(*o, b, &mut wire).expect("fits");
        }
        // The second read begins inside the first packet.
        let split = 20;
        h.client_bytes(&wire[..split]);
        h.client_bytes(&wire[split..]);
        let sent: Vec<Opcode> = h.world(old).received.iter().map(|p| p.opcode).collect();
        let relayed: Vec<Opcode> = packets.iter().map(|p| p.0).collect();
        assert_eq!(sent[sent.len() - 5..], relayed[..], "relay {relay}");
        h.s.handle_world_closed(h.now, old);
        h.pump();
        let screen = h
            .last_client(Opcode::SMSG_NEW_WORLD)
            .expect("a loading screen");
        let at = NewWorld::decode(&screen.body).expect("new world").0;
        assert_eq!(
            [at.position.x, at.position.y, at.position.z],
            [4.0, 5.0, 6.0],
            "relay {relay}"
        );
    }
}

#[test]
fn a_layer_switch_moves_the_player_behind_a_loading_screen_after_the_kick() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    assert!(
        !h.s.handle_layer_switch(h.now, ws("ws-1")),
        "already on that worldserver"
    );
    assert!(h.s.handle_layer_switch(h.now, ws("ws-2")));
    h.pump();
    assert_eq!(h.s.phase(), Phase::AwaitRedirectReady);
    assert!(
        !h.s.handle_layer_switch(h.now, ws("ws-3")),
        "one move at a time"
    );
    assert_eq!(
        h.world(old).received.last().map(|p| p.opcode),
        Some(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT)
    );
    assert!(h.events.iter().any(|e| matches!(
        e,
        SessionEvent::RedirectRequested {
            reason: "layer switch",
            ..
        }
    )));
    // The client keeps moving during the switch: held, then sent to the new worldserver.
    h.client_send(Opcode::MSG_MOVE_HEARTBEAT, &[7]);
    h.world_send_packet(old, &ReadyForRedirect { status: 0 });
    assert_eq!(h.s.phase(), Phase::AwaitRelease);
    assert_eq!(h.connects.len(), 1, "nothing elsewhere before the release");
    let screens = h
        .client_opcodes()
        .iter()
        .filter(|o| **o == Opcode::SMSG_NEW_WORLD)
        .count();
    h.s.handle_world_closed(h.now, old);
    h.pump();
    assert_eq!(
        h.client_opcodes()
            .iter()
            .filter(|o| **o == Opcode::SMSG_NEW_WORLD)
            .count(),
        screens + 1,
        "a loading screen at the cached position"
    );
    h.confirm_target("ws-2", "ws-2");
    let link = h.connected();
    h.challenge_from_world(link);
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.phase(), Phase::InWorld);
    assert_eq!(h.s.worldserver().map(|w| w.id.0.as_str()), Some("ws-2"));
    let sent: Vec<Opcode> = h.world(link).received.iter().map(|p| p.opcode).collect();
    assert!(
        sent.contains(&Opcode::MSG_MOVE_HEARTBEAT),
        "held packets follow"
    );
    assert!(!sent.contains(&Opcode::MSG_MOVE_WORLDPORT_ACK));
    assert!(
        h.world(old)
            .received
            .iter()
            .all(|p| p.opcode != Opcode::MSG_MOVE_HEARTBEAT),
        "nothing sent during the switch reached the old worldserver"
    );
}

#[test]
fn a_map_change_whose_prepare_is_never_answered_moves_after_the_linger() {
    let cfg = SessionConfig::default();
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.world_send_packet(old, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.answer_placement(Some(ws("ws-22")));
    assert_eq!(h.s.phase(), Phase::AwaitRedirectReady);
    let asked = h.now;
    h.advance_to_deadline();
    assert_eq!(
        h.now - asked,
        Duration::from_millis(cfg.redirect_ready_timeout_ms)
    );
    // The old worldserver does not own map 1: the player is not left there.
    assert_eq!(h.s.phase(), Phase::AwaitRelease);
    assert!(h.world(old).closed, "the gateway closed the old link");
    assert!(h.events.iter().any(|e| matches!(
        e,
        SessionEvent::ReleaseForced { wait_ms, .. } if *wait_ms == cfg.world_linger_ms
    )));
    assert_eq!(h.connects.len(), 1, "no login elsewhere during the linger");
    let closed_at = h.now;
    h.advance_to_deadline();
    assert_eq!(
        h.now - closed_at,
        Duration::from_millis(cfg.world_linger_ms)
    );
    // Not a confirmed release: the placement (and its ledger) decides.
    h.answer_placement(Some(ws("ws-22")));
    let link = h.connected();
    assert_eq!(
        h.connects.last().map(|(_, w)| w.id.0.as_str()),
        Some("ws-22")
    );
    h.challenge_from_world(link);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.phase(), Phase::InWorld);
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, SessionEvent::HandoffCompleted { .. }))
    );
}

#[test]
fn a_layer_switch_the_worldserver_refuses_keeps_the_player_where_it_is() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    assert!(h.s.handle_layer_switch(h.now, ws("ws-2")));
    h.pump();
    h.client_send(Opcode::MSG_MOVE_HEARTBEAT, &[7]);
    h.world_send_packet(old, &ReadyForRedirect { status: 1 });
    assert_eq!(h.s.phase(), Phase::InWorld);
    assert_eq!(h.s.worldserver().map(|w| w.id.0.as_str()), Some("ws-1"));
    assert_eq!(
        h.world(old).received.last().map(|p| p.opcode),
        Some(Opcode::MSG_MOVE_HEARTBEAT),
        "held packets go to the worldserver that kept the player"
    );
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, SessionEvent::HandoffAbandoned { .. }))
    );
}

#[test]
fn a_teleport_that_races_a_drain_wins_and_the_move_follows_it() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    // The player's `.tele` reached the worldserver just before the drain's PREPARE.
    h.s.handle_drain(h.now, &WorldserverId("ws-1".into()));
    h.pump();
    assert_eq!(h.s.phase(), Phase::AwaitRedirectReady);
    h.world_send(old, Opcode::SMSG_INIT_WORLD_STATES, &[9]);
    h.world_send(old, Opcode::SMSG_TRANSFER_PENDING, &[1, 0, 0, 0]);
    h.world_send_packet(old, &new_world(1));
    let got: Vec<Opcode> = h.client_opcodes();
    let tail = &got[got.len() - 3..];
    assert_eq!(
        tail,
        [
            Opcode::SMSG_INIT_WORLD_STATES,
            Opcode::SMSG_TRANSFER_PENDING,
            Opcode::SMSG_NEW_WORLD
        ],
        "what the worldserver said so far, then the loading screen it asked for"
    );
    // The client's ack goes to the old worldserver: it kicks only after limbo.
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    assert_eq!(
        h.world(old).received.last().map(|p| p.opcode),
        Some(Opcode::MSG_MOVE_WORLDPORT_ACK)
    );
    h.world_send_packet(old, &ReadyForRedirect { status: 0 });
    assert_eq!(h.s.phase(), Phase::AwaitRelease);
    let screens = h
        .client_opcodes()
        .iter()
        .filter(|o| **o == Opcode::SMSG_NEW_WORLD)
        .count();
    h.s.handle_world_closed(h.now, old);
    h.pump();
    assert_eq!(
        h.client_opcodes()
            .iter()
            .filter(|o| **o == Opcode::SMSG_NEW_WORLD)
            .count(),
        screens,
        "the client is on the teleport's loading screen already"
    );
    assert_eq!(
        h.placements.last().map(|(_, map)| *map),
        Some(Some(1)),
        "the next worldserver serves the map the player went to"
    );
    h.answer_placement(Some(ws("ws-kal")));
    let link = h.connected();
    h.challenge_from_world(link);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.phase(), Phase::InWorld);
    assert_eq!(h.s.map(), Some(1));
}

#[test]
fn what_a_lost_worldserver_said_during_a_move_never_reaches_the_client_later() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.world_send_packet(old, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.answer_placement(Some(ws("ws-22")));
    // The old worldserver enters map 1 locally (held), then the link dies.
    h.world_send(old, Opcode::SMSG_INIT_WORLD_STATES, &[0xAA]);
    h.s.handle_world_closed(h.now, old);
    h.pump();
    // Recovery re-attaches on the same worldserver.
    let link = h.connected();
    h.challenge_from_world(link);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.phase(), Phase::InWorld);
    // A later teleport the same worldserver finishes itself: only what it says now arrives.
    h.world_send_packet(link, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.world_send(link, Opcode::SMSG_INIT_WORLD_STATES, &[0xBB]);
    h.answer_placement(Some(ws("ws-1")));
    let states: Vec<Bytes> = h
        .client_got
        .iter()
        .filter(|p| p.opcode == Opcode::SMSG_INIT_WORLD_STATES)
        .map(|p| p.body.clone())
        .collect();
    assert_eq!(states, vec![Bytes::from_static(&[0xBB])]);
}

#[test]
fn an_abandoned_redirect_delivers_what_the_worldserver_sent_meanwhile() {
    let mut h = authed();
    let link = h.enter_world(ws("ws-1"));
    h.world_send_packet(link, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    // The worldserver talks while the gateway asks who owns the map and prepares the move.
    h.world_send(link, Opcode::SMSG_INIT_WORLD_STATES, &[1]);
    h.answer_placement(Some(ws("ws-22")));
    h.world_send(link, Opcode::SMSG_COMPRESSED_UPDATE_OBJECT, &[2]);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    let before = h.client_got.len();
    h.world_send_packet(link, &ReadyForRedirect { status: 1 });
    let after: Vec<(Opcode, Bytes)> = h.client_got[before..]
        .iter()
        .map(|p| (p.opcode, p.body.clone()))
        .collect();
    assert_eq!(
        after.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![
            Opcode::SMSG_INIT_WORLD_STATES,
            Opcode::SMSG_COMPRESSED_UPDATE_OBJECT,
            Opcode::SMSG_TIME_SYNC_REQ
        ],
        "held in order, delivered when the player stays"
    );
    assert!(
        after
            .iter()
            .all(|p| p.0 != Opcode::TC9_SMSG_READY_FOR_REDIRECT)
    );
}

#[test]
fn a_completed_redirect_drops_what_the_old_worldserver_sent() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.world_send_packet(old, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.answer_placement(Some(ws("ws-22")));
    h.world_send(old, Opcode::SMSG_INIT_WORLD_STATES, &[1]);
    h.world_send_packet(old, &ReadyForRedirect { status: 0 });
    h.s.handle_world_closed(h.now, old);
    h.pump();
    let new = h.connected();
    h.challenge_from_world(new);
    h.world_send_packet(new, &TimeSyncReq { counter: 0 });
    assert!(
        h.client_got
            .iter()
            .all(|p| p.body[..] != [1][..] || p.opcode != Opcode::SMSG_INIT_WORLD_STATES)
    );
}

#[test]
fn a_login_whose_worldserver_fails_before_reading_it_goes_elsewhere() {
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    h.answer_characters();
    h.answer_placement(Some(ws("ws-1")));
    let (link, _) = h.connects.last().cloned().expect("connect asked");
    h.s.handle_world_connected(h.now, link, Err("connection refused".into()));
    h.pump();
    assert!(h.last_client(Opcode::SMSG_CHARACTER_LOGIN_FAILED).is_none());
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, SessionEvent::PlacementWaiting { .. })),
        "{:?}",
        h.events
    );
    h.advance_to_deadline();
    assert_eq!(
        h.avoided
            .last()
            .map(|a| a.iter().map(|w| w.0.clone()).collect::<Vec<_>>()),
        Some(vec!["ws-1".to_owned()])
    );
    // The next one refuses the replayed auth (world closed): it never read the login either.
    h.answer_placement(Some(ws("ws-2")));
    let link = h.connected();
    h.challenge_from_world(link);
    let mut refusal = BytesMut::new();
    AuthResponse::Failed(AuthResult::REJECT).encode(&mut refusal);
    h.world_send(link, Opcode::SMSG_AUTH_RESPONSE, &refusal);
    assert!(h.last_client(Opcode::SMSG_CHARACTER_LOGIN_FAILED).is_none());
    h.advance_to_deadline();
    assert_eq!(
        h.avoided
            .last()
            .map(|a| a.iter().map(|w| w.0.clone()).collect::<Vec<_>>()),
        Some(vec!["ws-1".to_owned(), "ws-2".to_owned()])
    );
    h.answer_placement(Some(ws("ws-3")));
    let link = h.connected();
    h.challenge_from_world(link);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.phase(), Phase::InWorld);
    assert_eq!(h.s.worldserver().map(|w| w.id.0.as_str()), Some("ws-3"));
}

#[test]
fn a_login_whose_worldservers_keep_failing_ends_with_no_world_at_the_placement_deadline() {
    let cfg = SessionConfig::default();
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    h.answer_characters();
    let started = h.now;
    let mut attempts = 0;
    while h.last_client(Opcode::SMSG_CHARACTER_LOGIN_FAILED).is_none() {
        attempts += 1;
        assert!(
            attempts <= cfg.placement_backoff.max_attempts + 1,
            "bounded"
        );
        h.answer_placement(Some(ws("ws-1")));
        let (link, _) = h.connects.last().cloned().expect("connect asked");
        // Refused at once, every time: the last refusal finds the placement deadline passed.
        h.s.handle_world_connected(h.now, link, Err("connection refused".into()));
        h.pump();
        if h.last_client(Opcode::SMSG_CHARACTER_LOGIN_FAILED).is_none() {
            h.advance_to_deadline();
        }
    }
    assert!(h.now - started <= Duration::from_millis(cfg.placement_backoff.deadline_ms));
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
    assert_eq!(
        h.last_client(Opcode::SMSG_CHARACTER_LOGIN_FAILED)
            .map(|p| CharacterLoginFailed::decode(&p.body).map(|f| f.reason)),
        Some(Ok(LoginFailure::NO_WORLD))
    );
}

#[test]
fn cluster_and_handshake_packets_from_a_loading_worldserver_never_reach_the_client() {
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    h.answer_characters();
    h.answer_placement(Some(ws("ws-1")));
    let link = h.connected();
    h.challenge_from_world(link);
    let before = h.client_got.len();
    h.world_send_packet(link, &ReadyForRedirect { status: 1 });
    h.challenge_from_world(link);
    h.world_send(link, Opcode::SMSG_INIT_WORLD_STATES, &[1]);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    let got: Vec<Opcode> = h.client_got[before..].iter().map(|p| p.opcode).collect();
    assert_eq!(
        got,
        vec![Opcode::SMSG_INIT_WORLD_STATES, Opcode::SMSG_TIME_SYNC_REQ]
    );
}

#[test]
fn a_login_lost_after_player_login_is_not_retried_elsewhere() {
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    h.answer_characters();
    h.answer_placement(Some(ws("ws-1")));
    let link = h.connected();
    h.challenge_from_world(link);
    // PLAYER_LOGIN went out; the worldserver may hold the character now.
    h.s.handle_world_closed(h.now, link);
    h.pump();
    assert!(h.last_client(Opcode::SMSG_CHARACTER_LOGIN_FAILED).is_some());
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
    assert_eq!(h.placements.len(), 1, "no placement elsewhere");
}

#[test]
fn a_failed_handoff_tries_another_worldserver() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.world_send_packet(old, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.answer_placement(Some(ws("ws-22")));
    h.world_send_packet(old, &ReadyForRedirect { status: 0 });
    h.s.handle_world_closed(h.now, old);
    h.pump();
    h.confirm_target("ws-22", "ws-22");
    let (link, target) = h
        .connects
        .last()
        .cloned()
        .expect("connect to the new owner");
    assert_eq!(target.id.0, "ws-22");
    h.s.handle_world_connected(h.now, link, Err("refused".into()));
    h.pump();
    assert!(
        h.closed.is_none(),
        "a failed new worldserver is not the end of the session"
    );
    h.advance_to_deadline();
    let excluded: Vec<String> = h
        .excluded
        .last()
        .expect("placement asked")
        .iter()
        .map(|w| w.0.clone())
        .collect();
    assert!(excluded.is_empty(), "nobody for good: {excluded:?}");
    let avoided: Vec<String> = h
        .avoided
        .last()
        .expect("placement asked")
        .iter()
        .map(|w| w.0.clone())
        .collect();
    assert_eq!(
        avoided,
        vec!["ws-22".to_owned(), "ws-1".to_owned()],
        "the failed one and the one left, if others can"
    );
    h.answer_placement(Some(ws("ws-333")));
    let link = h.connected();
    h.challenge_from_world(link);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.worldserver().map(|w| w.id.0.as_str()), Some("ws-333"));
}

/// Regression (simulator, swarm seed 9): a map change chose its target, the target was
/// drained while the old worldserver was slow to let the player go, and the player logged in
/// on the drained target anyway. The target is now confirmed at the release; the coordinator
/// answers with another worldserver and the player goes there.
#[test]
fn a_handoff_target_is_confirmed_when_the_old_worldserver_lets_go() {
    let mut h = authed();
    let old = h.enter_world(ws("ws-1"));
    h.world_send_packet(old, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.answer_placement(Some(ws("ws-22")));
    h.world_send_packet(old, &ReadyForRedirect { status: 0 });
    h.s.handle_world_closed(h.now, old);
    h.pump();
    assert_eq!(
        h.connects.len(),
        1,
        "no connect before the coordinator answers"
    );
    h.confirm_target("ws-22", "ws-333");
    let link = h.connected();
    h.challenge_from_world(link);
    h.world_send_packet(link, &TimeSyncReq { counter: 0 });
    assert_eq!(h.s.worldserver().map(|w| w.id.0.as_str()), Some("ws-333"));
}

/// One thing that can happen to a logged-in session, for the property test below.
#[derive(Debug, Clone)]
enum Happening {
    /// A well-framed client packet with any opcode and body.
    Client(u16, Vec<u8>),
    /// A well-framed packet from one of the session's worldserver links (picked by index).
    World(usize, u16, Vec<u8>),
    /// Raw bytes from a worldserver link (framing errors included).
    WorldRaw(usize, Vec<u8>),
    WorldClosed(usize),
    Connected(usize, bool),
    /// The registry answers the last placement: a worldserver, nobody, or "wait".
    Placement(u8),
    /// Time jumps to the next deadline.
    Deadline,
    /// The registry places the character and the worldserver lets it in, in order.
    HappyLogin(u8),
    Drain(u8),
    LayerSwitch(u8),
    ClientClosed,
    /// Several client packets in one stream, read in chunks of these sizes (cycled).
    ClientBurst(Vec<(u16, Vec<u8>)>, Vec<usize>),
    /// Several packets from one worldserver link, read in chunks of these sizes (cycled).
    WorldBurst(usize, Vec<(u16, Vec<u8>)>, Vec<usize>),
}

/// Splits `wire` into reads of the given sizes (cycled).
fn reads(wire: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let (mut at, mut k) = (0, 0);
    while at < wire.len() {
        let n = sizes[k % sizes.len()].clamp(1, wire.len() - at);
        out.push(wire[at..at + n].to_vec());
        at += n;
        k += 1;
    }
    out
}

// ----- character create, delete and rename --------------------------------------------------

fn carla() -> CharCreate {
    CharCreate {
        name: "Carla".into(),
        appearance: [1, 1, 0, 0, 0, 0, 0, 0, 0],
    }
}

impl Harness {
    /// The placement answered with a worldserver, the link opened and challenged: the request
    /// is on its way. Returns the link.
    fn carry_to_world(&mut self) -> LinkId {
        self.answer_placement(Some(ws("ws-any")));
        let link = self.connected();
        self.challenge_from_world(link);
        link
    }

    fn client_count(&self, opcode: Opcode) -> usize {
        self.client_got
            .iter()
            .filter(|p| p.opcode == opcode)
            .count()
    }

    /// The single-byte answer the client got last for `opcode`.
    fn client_result(&self, opcode: Opcode) -> Option<Vec<u8>> {
        self.last_client(opcode).map(|p| p.body.to_vec())
    }

    fn char_failed(&self, code: u8) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, SessionEvent::CharServiceFailed { code: c, .. } if *c == code))
    }
}

#[test]
fn a_char_create_goes_to_any_worldserver_and_its_answer_reaches_the_client() {
    let mut h = Harness::new(SessionConfig::default());
    let auth = h.send_auth_session("ALICE", &key());
    h.answer_account(Some(alice()));
    h.client_send(Opcode::CMSG_CHAR_ENUM, &[]);
    h.answer_characters();
    assert_eq!(h.listings.len(), 1);
    h.client_send_packet(&carla());
    assert_eq!(h.placements.len(), 1);
    assert_eq!(
        h.placements[0].1, None,
        "any map: any worldserver of the realm"
    );
    let link = h.carry_to_world();
    let w = h.world(link);
    assert_eq!(
        w.writes, 2,
        "the auth session and the request are two writes"
    );
    assert_eq!(w.received[0].opcode, Opcode::CMSG_AUTH_SESSION);
    assert_eq!(
        w.received[0].body, auth,
        "the client's auth session, replayed"
    );
    assert_eq!(w.received[1].opcode, Opcode::CMSG_CHAR_CREATE);
    assert_eq!(w.received[1].body, carla().to_body(), "forwarded unchanged");
    let before = h.client_got.len();
    let mut ok = BytesMut::new();
    AuthResponse::ok().encode(&mut ok);
    h.world_send(link, Opcode::SMSG_AUTH_RESPONSE, &ok);
    h.world_send_packet(link, &ReadyForRedirect { status: 1 });
    assert_eq!(
        h.client_got.len(),
        before,
        "auth answer and cluster opcodes consumed"
    );
    h.world_send(link, Opcode::SMSG_MOTD, &[0, 0, 0, 0]);
    assert_eq!(
        h.client_opcodes()[before],
        Opcode::SMSG_MOTD,
        "the rest is relayed"
    );
    h.world_send_packet(link, &CharCreateResult { result: 0x2F });
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_CREATE), Some(vec![0x2F]));
    assert_eq!(
        h.client_count(Opcode::SMSG_AUTH_RESPONSE),
        1,
        "only the gateway's own"
    );
    assert!(h.world(link).closed, "the link closes after the answer");
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
    assert!(h.events.iter().any(|e| matches!(
        e,
        SessionEvent::CharServiceAnswered { answer, result: 0x2F, .. }
            if *answer == Opcode::SMSG_CHAR_CREATE
    )));
    assert_eq!(h.s.poll_timeout(), None, "no timer of the request is left");
    // The listing changed: asked again, then the login works as ever.
    h.client_send(Opcode::CMSG_CHAR_ENUM, &[]);
    assert_eq!(h.listings.len(), 2, "the cached listing was dropped");
    h.answer_characters();
    assert_eq!(h.client_count(Opcode::SMSG_CHAR_ENUM), 2);
    h.enter_world(ws("ws-ek"));
}

#[test]
fn char_delete_and_rename_are_forwarded_unchanged_and_answered() {
    let mut h = authed();
    h.client_send_packet(&CharDelete { guid: ALICE_CHAR });
    let link = h.carry_to_world();
    assert_eq!(
        CharDelete::decode(&h.world(link).received[1].body),
        Ok(CharDelete { guid: ALICE_CHAR })
    );
    h.world_send_packet(link, &CharDeleteResult { result: 0x47 });
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_DELETE), Some(vec![0x47]));
    assert!(h.world(link).closed);
    let rename = CharRename {
        guid: ALICE_CHAR,
        name: "Alicia".into(),
    };
    h.client_send_packet(&rename);
    assert_eq!(h.placements.len(), 2, "one placement per request");
    let link = h.carry_to_world();
    assert_eq!(h.world(link).received[1].body, rename.to_body());
    let renamed = CharRenameResult::Renamed {
        guid: ALICE_CHAR,
        name: "Alicia".into(),
    };
    h.world_send_packet(link, &renamed);
    let got = h.last_client(Opcode::SMSG_CHAR_RENAME).expect("answered");
    assert_eq!(
        got.body,
        renamed.to_body(),
        "the answer reaches the client as sent"
    );
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
}

#[test]
fn no_worldserver_answers_each_request_with_its_failure_code_at_once() {
    let mut h = authed();
    h.client_send_packet(&carla());
    h.answer_placement(None);
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_CREATE), Some(vec![0x31]));
    h.client_send_packet(&CharDelete { guid: ALICE_CHAR });
    let (request, _) = *h.placements.last().expect("placement asked");
    let wait = SeamError {
        service: "placement",
        detail: "registry view is stale".into(),
        retryable: true,
    };
    h.s.handle_placement(h.now, request, Err(wait));
    h.pump();
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_DELETE), Some(vec![0x48]));
    h.client_send_packet(&CharRename {
        guid: ALICE_CHAR,
        name: "Alicia".into(),
    });
    h.answer_placement(None);
    assert_eq!(
        CharRenameResult::decode(&h.client_result(Opcode::SMSG_CHAR_RENAME).expect("answered")),
        Ok(CharRenameResult::Refused(0x30))
    );
    assert!(h.connects.is_empty(), "no worldserver contacted");
    assert!(h.char_failed(0x31) && h.char_failed(0x48) && h.char_failed(0x30));
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
    assert_eq!(h.s.poll_timeout(), None);
}

#[test]
fn a_malformed_delete_is_refused_without_a_worldserver() {
    let mut h = authed();
    h.client_send(Opcode::CMSG_CHAR_DELETE, &[1, 2, 3]);
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_DELETE), Some(vec![0x48]));
    assert!(h.placements.is_empty());
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
}

#[test]
fn a_refused_connect_or_replayed_auth_answers_the_failure_code_at_once() {
    let mut h = authed();
    h.client_send_packet(&carla());
    h.answer_placement(Some(ws("ws-any")));
    let (link, _) = h.connects.last().cloned().expect("connect asked");
    h.s.handle_world_connected(h.now, link, Err("connection refused".into()));
    h.pump();
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_CREATE), Some(vec![0x31]));
    assert!(h.world(link).closed);
    let asked_at = h.now;
    h.client_send_packet(&carla());
    let link = h.carry_to_world();
    let mut refused = BytesMut::new();
    AuthResponse::Failed(AuthResult::UNKNOWN_ACCOUNT).encode(&mut refused);
    h.world_send(link, Opcode::SMSG_AUTH_RESPONSE, &refused);
    assert_eq!(h.client_count(Opcode::SMSG_CHAR_CREATE), 2);
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_CREATE), Some(vec![0x31]));
    assert_eq!(h.now, asked_at, "at once, not at a deadline");
    assert_eq!(
        h.client_count(Opcode::SMSG_AUTH_RESPONSE),
        1,
        "never relayed"
    );
    assert!(h.world(link).closed);
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
}

#[test]
fn a_hung_connect_fails_at_the_handshake_deadline() {
    let cfg = SessionConfig::default();
    let mut h = Harness::new(cfg.clone());
    h.authenticate();
    h.client_send_packet(&carla());
    let start = h.now;
    h.answer_placement(Some(ws("ws-any")));
    h.advance_to_deadline();
    assert_eq!(
        h.now - start,
        Duration::from_millis(cfg.world_handshake_timeout_ms)
    );
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_CREATE), Some(vec![0x31]));
    assert!(h.worlds.iter().all(|w| w.closed));
}

#[test]
fn an_unanswered_request_is_nudged_then_fails_at_its_deadline() {
    let cfg = SessionConfig::default();
    let mut h = Harness::new(cfg.clone());
    h.authenticate();
    let start = h.now;
    h.client_send_packet(&carla());
    let link = h.carry_to_world();
    while h.last_client(Opcode::SMSG_CHAR_CREATE).is_none() {
        h.advance_to_deadline();
    }
    assert_eq!(
        h.now - start,
        Duration::from_millis(cfg.char_service_timeout_ms)
    );
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_CREATE), Some(vec![0x31]));
    let keep_alives = h
        .world(link)
        .received
        .iter()
        .filter(|p| p.opcode == Opcode::CMSG_KEEP_ALIVE)
        .count();
    assert_eq!(keep_alives, cfg.world_login_nudges_max as usize);
    assert!(h.world(link).closed);
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
    assert_eq!(h.s.poll_timeout(), None);
    // The worldserver may have done it anyway: the listing is asked again.
    h.client_send(Opcode::CMSG_CHAR_ENUM, &[]);
    assert_eq!(h.listings.len(), 1);
}

#[test]
fn a_second_request_while_one_is_under_way_is_refused_at_once() {
    let mut h = authed();
    h.client_send_packet(&carla());
    h.client_send_packet(&CharDelete { guid: ALICE_CHAR });
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_DELETE), Some(vec![0x48]));
    h.client_send_packet(&carla());
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_CREATE), Some(vec![0x31]));
    assert_eq!(h.placements.len(), 1, "only the first goes on");
    let link = h.carry_to_world();
    h.world_send_packet(link, &CharCreateResult { result: 0x2F });
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_CREATE), Some(vec![0x2F]));
}

#[test]
fn the_client_leaving_mid_request_closes_the_link() {
    let mut h = authed();
    h.client_send_packet(&carla());
    let link = h.carry_to_world();
    h.s.handle_client_closed(h.now);
    h.pump();
    assert!(h.world(link).closed);
    assert_eq!(h.closed, Some(CloseReason::ClientGone));
    assert_eq!(h.s.phase(), Phase::Closed);
    assert_eq!(h.s.poll_timeout(), None);
}

#[test]
fn a_worldserver_lost_mid_request_answers_the_failure_code_and_the_screen_goes_on() {
    let mut h = authed();
    h.client_send_packet(&carla());
    let link = h.carry_to_world();
    h.s.handle_world_closed(h.now, link);
    h.pump();
    assert_eq!(h.client_result(Opcode::SMSG_CHAR_CREATE), Some(vec![0x31]));
    assert_eq!(h.s.phase(), Phase::CharacterScreen);
    assert_eq!(h.s.poll_timeout(), None);
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    assert_eq!(h.listings.len(), 1, "a login still needs the listing");
    h.answer_characters();
    assert_eq!(h.placements.last().map(|p| p.1), Some(Some(0)));
    assert_eq!(h.s.phase(), Phase::EnteringWorld);
}

#[test]
fn a_login_sent_during_a_request_starts_once_it_is_over() {
    let mut h = authed();
    h.client_send(Opcode::CMSG_CHAR_ENUM, &[]);
    h.answer_characters();
    h.client_send_packet(&carla());
    h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
    assert_eq!(h.placements.len(), 1, "the login waits for the request");
    let link = h.carry_to_world();
    h.world_send_packet(link, &CharCreateResult { result: 0x2F });
    assert_eq!(
        h.listings.len(),
        2,
        "the changed listing is asked for the login"
    );
    h.answer_characters();
    assert_eq!(h.placements.len(), 2);
    assert_eq!(h.placements[1].1, Some(0), "the login's placement");
    assert_eq!(h.s.phase(), Phase::EnteringWorld);
}

/// Opcodes that steer the session, and any other.
fn opcode() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(Opcode::SMSG_AUTH_CHALLENGE.0 as u16),
        Just(Opcode::SMSG_AUTH_RESPONSE.0 as u16),
        Just(Opcode::SMSG_TIME_SYNC_REQ.0 as u16),
        Just(Opcode::SMSG_NEW_WORLD.0 as u16),
        Just(Opcode::SMSG_TRANSFER_PENDING.0 as u16),
        Just(Opcode::SMSG_LOGOUT_COMPLETE.0 as u16),
        Just(Opcode::SMSG_CHARACTER_LOGIN_FAILED.0 as u16),
        Just(Opcode::TC9_SMSG_READY_FOR_REDIRECT.0 as u16),
        Just(Opcode::MSG_MOVE_WORLDPORT_ACK.0 as u16),
        Just(Opcode::MSG_MOVE_HEARTBEAT.0 as u16),
        Just(Opcode::CMSG_PLAYER_LOGIN.0 as u16),
        Just(Opcode::CMSG_LOGOUT_REQUEST.0 as u16),
        Just(Opcode::CMSG_PING.0 as u16),
        Just(Opcode::CMSG_AUTH_SESSION.0 as u16),
        0u16..0x520,
    ]
}

/// Worldserver packets with the bodies the session acts on, so random runs reach deep states
/// (in world, moves, releases).
fn well_formed_world_packet() -> impl Strategy<Value = (u16, Vec<u8>)> {
    let op = |o: Opcode| o.0 as u16;
    prop_oneof![
        Just((op(Opcode::SMSG_AUTH_CHALLENGE), {
            let mut b = BytesMut::new();
            AuthChallenge {
                server_seed: 1,
                seed_bytes: [2; 32],
            }
            .encode(&mut b);
            b.to_vec()
        })),
        Just((op(Opcode::SMSG_TIME_SYNC_REQ), vec![0, 0, 0, 0])),
        (0u8..2).prop_map(move |st| (
            op(Opcode::TC9_SMSG_READY_FOR_REDIRECT),
            ReadyForRedirect { status: st }.to_body().to_vec()
        )),
        (0u32..3).prop_map(move |m| (op(Opcode::SMSG_NEW_WORLD), new_world(m).to_body().to_vec())),
        Just((op(Opcode::SMSG_LOGOUT_COMPLETE), Vec::new())),
        Just((op(Opcode::SMSG_CHAR_CREATE), vec![0x2F])),
    ]
}

/// What a playing client sends: movement, acks, logins, logouts and ordinary packets.
fn well_behaved_client_packet() -> impl Strategy<Value = (u16, Vec<u8>)> {
    let op = |o: Opcode| o.0 as u16;
    prop_oneof![
        Just((op(Opcode::MSG_MOVE_HEARTBEAT), vec![0; 32])),
        Just((op(Opcode::MSG_MOVE_WORLDPORT_ACK), Vec::new())),
        Just((
            op(Opcode::CMSG_PLAYER_LOGIN),
            PlayerLogin { guid: ALICE_CHAR }.to_body().to_vec()
        )),
        Just((op(Opcode::CMSG_LOGOUT_REQUEST), Vec::new())),
        Just((op(Opcode::CMSG_CHAR_CREATE), carla().to_body().to_vec())),
        Just((
            op(Opcode::CMSG_CHAR_DELETE),
            CharDelete { guid: ALICE_CHAR }.to_body().to_vec()
        )),
        (0x100u16..0x1E0, prop::collection::vec(any::<u8>(), 0..16)),
    ]
}

fn happening() -> impl Strategy<Value = Happening> {
    let body = || prop::collection::vec(any::<u8>(), 0..48);
    prop_oneof![
        4 => well_behaved_client_packet().prop_map(|(o, b)| Happening::Client(o, b)),
        1 => (opcode(), body()).prop_map(|(o, b)| Happening::Client(o, b)),
        2 => (0usize..4, opcode(), body()).prop_map(|(l, o, b)| Happening::World(l, o, b)),
        6 => (0usize..4, well_formed_world_packet())
            .prop_map(|(l, (o, b))| Happening::World(l, o, b)),
        1 => (0usize..4, prop::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(l, b)| Happening::WorldRaw(l, b)),
        1 => (0usize..4).prop_map(Happening::WorldClosed),
        2 => (0usize..4, any::<bool>()).prop_map(|(l, ok)| Happening::Connected(l, ok)),
        2 => any::<u8>().prop_map(Happening::Placement),
        1 => Just(Happening::Deadline),
        2 => any::<u8>().prop_map(Happening::HappyLogin),
        1 => any::<u8>().prop_map(Happening::Drain),
        1 => any::<u8>().prop_map(Happening::LayerSwitch),
    ]
    .boxed()
}

/// Carries out one happening on a harness.
fn happen(h: &mut Harness, step: Happening) -> Result<(), TestCaseError> {
    let server = |i: u8| ws(["ws-1", "ws-22", "ws-333"][usize::from(i) % 3]);
    let link = |h: &Harness, i: usize| {
        (!h.connects.is_empty()).then(|| h.connects[i % h.connects.len()].0)
    };
    match step {
        Happening::Client(o, b) => h.client_send(Opcode::from(o), &b),
        Happening::World(i, o, b) => {
            let newest = h.connects.last().map(|c| c.0);
            if let Some(l) = if i < 3 { newest } else { link(h, i) } {
                h.world_send(l, Opcode::from(o), &b);
            }
        }
        Happening::WorldRaw(i, b) => {
            if let Some(l) = link(h, i) {
                h.world_bytes(l, &b);
            }
        }
        Happening::WorldClosed(i) => {
            if let Some(l) = link(h, i) {
                h.s.handle_world_closed(h.now, l);
                h.pump();
            }
        }
        Happening::Connected(i, ok) => {
            // Mostly the newest link: the one the session waits for.
            let newest = h.connects.last().map(|c| c.0);
            if let Some(l) = if i < 3 { newest } else { link(h, i) } {
                let r = if ok { Ok(()) } else { Err("refused".into()) };
                h.s.handle_world_connected(h.now, l, r);
                h.pump();
            }
        }
        Happening::Placement(kind) => {
            if let Some((request, _)) = h.placements.last().cloned() {
                let answer = match kind % 4 {
                    0 | 3 => Ok(Some(server(kind / 4))),
                    1 => Ok(None),
                    _ => Err(waygate::session::SeamError {
                        service: "placement",
                        detail: "wait".into(),
                        retryable: true,
                    }),
                };
                h.s.handle_placement(h.now, request, answer);
                h.pump();
            }
        }
        Happening::HappyLogin(k) => {
            if let Some((request, _)) = h.placements.last().cloned() {
                h.s.handle_placement(h.now, request, Ok(Some(server(k))));
                h.pump();
            }
            if let Some(l) = h.connects.last().map(|c| c.0) {
                h.s.handle_world_connected(h.now, l, Ok(()));
                h.pump();
                h.challenge_from_world(l);
                h.world_send_packet(l, &TimeSyncReq { counter: 0 });
            }
        }
        Happening::Deadline => {
            if let Some(at) = h.s.poll_timeout() {
                prop_assert!(at >= h.now, "a deadline in the past: {at:?} < {:?}", h.now);
                h.now = at;
                h.s.handle_timeout(h.now);
                h.pump();
            }
        }
        Happening::Drain(i) => {
            h.s.handle_drain(h.now, &server(i).id);
            h.pump();
        }
        Happening::LayerSwitch(i) => {
            h.s.handle_layer_switch(h.now, server(i));
            h.pump();
        }
        Happening::ClientBurst(packets, sizes) => {
            let mut wire = BytesMut::new();
            for (o, b) in &packets {
                h.client_out
                    .encode(Opcode::from(*o), b, &mut wire)
                    .expect("fits");
            }
            for read in reads(&wire, &sizes) {
                h.client_bytes(&read);
            }
        }
        Happening::WorldBurst(i, packets, sizes) => {
            if let Some(l) = h
                .connects
                .last()
                .map(|c| c.0)
                .filter(|_| i < 3)
                .or(link(h, i))
            {
                let mut wire = BytesMut::new();
                for (o, b) in &packets {
                    h.world(l)
                        .to_gateway
                        .encode(Opcode::from(*o), b, &mut wire)
                        .expect("fits");
                }
                for read in reads(&wire, &sizes) {
                    h.world_bytes(l, &read);
                }
            }
        }
        Happening::ClientClosed => {
            h.s.handle_client_closed(h.now);
            h.pump();
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever the client, the worldservers, the registry and the clock do, in any order: the
    /// session never panics, every byte it sends the client decrypts (the harness decodes
    /// them), its buffers stay within their bounds, and once closed it stays closed and quiet.
    #[test]
    fn any_sequence_of_happenings_keeps_the_session_sound(
        steps in prop::collection::vec(happening(), 1..120),
        client_leaves_at in prop::option::of(0usize..120),
    ) {
        let cfg = SessionConfig::default();
        let mut h = authed();
        h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
        h.answer_characters();
        for (n, step) in steps.into_iter().enumerate() {
            let step = if client_leaves_at == Some(n) { Happening::ClientClosed } else { step };
            happen(&mut h, step)?;
            prop_assert!(h.s.client_buffered() <= cfg.switch_buffer_max_bytes + 64 * 1024);
            prop_assert!(
                h.client_got.iter().all(|p| !p.opcode.is_cluster_internal()),
                "a cluster opcode reached the client"
            );
            if h.s.phase() == Phase::Closed {
                prop_assert!(h.closed.is_some(), "closed with a reason the driver saw");
                prop_assert!(h.s.poll_timeout().is_none(), "no timer outlives the session");
                h.s.handle_client_bytes(h.now, &[1, 2, 3]);
                h.s.relay_client_bytes(h.now, &mut [1, 2, 3]);
                prop_assert!(!h.s.has_output(), "a closed session says nothing more");
            }
        }
    }
}

/// Happenings with bursts: what a driver's reads look like under load (several packets in a
/// read, packets split between reads, 5-byte headers).
fn happening_in_bursts() -> impl Strategy<Value = Happening> {
    let sizes = || {
        prop::collection::vec(
            prop_oneof![3 => 1usize..8, 2 => 8usize..200, 1 => 200usize..40_000],
            1..6,
        )
    };
    let client = || {
        prop_oneof![
            3 => well_behaved_client_packet(),
            1 => (opcode(), prop::collection::vec(any::<u8>(), 0..48)),
            1 => Just((Opcode::CMSG_MESSAGECHAT.0 as u16, vec![7, 0, 0, 0, 0, 0, 0, 0, b'h', b'i', 0])),
            1 => Just((Opcode::MSG_MOVE_STOP.0 as u16, {
                let mut b = vec![1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
                for f in [5.0f32, 6.0, 7.0, 0.5] {
                    b.extend_from_slice(&f.to_le_bytes());
                }
                b
            })),
        ]
    };
    let world = || {
        prop_oneof![
            3 => well_formed_world_packet(),
            1 => Just((Opcode::SMSG_LOGIN_VERIFY_WORLD.0 as u16, {
                let mut b = 0u32.to_le_bytes().to_vec();
                for f in [10.0f32, 20.0, 30.0, 0.0] {
                    b.extend_from_slice(&f.to_le_bytes());
                }
                b
            })),
            2 => (opcode(), prop::collection::vec(any::<u8>(), 0..48)),
            1 => (opcode(), (0x7FF0usize..0x8010).prop_map(|n| vec![3u8; n])),
        ]
    };
    prop_oneof![
        6 => happening(),
        3 => (prop::collection::vec(client(), 1..12), sizes())
            .prop_map(|(p, s)| Happening::ClientBurst(p, s)),
        3 => (0usize..4, prop::collection::vec(world(), 1..12), sizes())
            .prop_map(|(l, p, s)| Happening::WorldBurst(l, p, s)),
    ]
    .boxed()
}

/// What two harnesses must agree on, step by step.
fn observed(h: &Harness) -> String {
    let worlds: Vec<_> = h
        .worlds
        .iter()
        .map(|w| (w.link, &w.received, w.closed))
        .collect();
    format!(
        "phase {:?} closed {:?} deadline {:?} client {:?} worlds {:?} events {:?} announced {:?} placements {:?} connects {:?} calls {:?} names {:?}",
        h.s.phase(),
        h.closed,
        h.s.poll_timeout(),
        h.client_got,
        worlds,
        h.events,
        h.announced,
        h.placements,
        h.connects,
        h.calls,
        h.names,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    /// Lending the session its reads (packets relayed where they lie, headers re-framed in
    /// place) and copying them in are the same session: after every step the client, every
    /// worldserver, the bus, the registry and the clock have seen the same things, packets in
    /// bursts and split between reads included.
    #[test]
    fn lending_reads_and_copying_them_are_the_same_session(
        steps in prop::collection::vec(happening_in_bursts(), 1..80),
    ) {
        let mut lending = Harness::new(SessionConfig::default());
        let mut copying = Harness::copying(SessionConfig::default());
        for h in [&mut lending, &mut copying] {
            h.authenticate();
            h.client_send_packet(&PlayerLogin { guid: ALICE_CHAR });
            h.answer_characters();
        }
        for step in steps {
            happen(&mut lending, step.clone())?;
            happen(&mut copying, step.clone())?;
            prop_assert_eq!(observed(&lending), observed(&copying), "after {:?}", step);
            prop_assert_eq!(lending.s.take_counters(), copying.s.take_counters());
        }
    }
}

fn logged_out(guid: u64) -> Announcement {
    Announcement::LoggedOut {
        account: ALICE,
        guid: CharacterGuid(guid),
        name: "Alice".into(),
        guild_id: 0,
    }
}

/// The cluster hears of a character once per login (not per handoff), and once more when it
/// leaves the world: a logout, or its session ending.
#[test]
fn the_cluster_hears_a_login_once_and_a_logout_once() {
    let mut h = authed();
    h.client_send_packet(&PlayerLogin { guid: 22 });
    h.answer_characters();
    assert!(h.announced.is_empty(), "a refused login is not announced");
    let old = h.enter_world(ws("ws-1"));
    match h.announced.as_slice() {
        [Announcement::LoggedIn { account, character }] => {
            assert_eq!(*account, ALICE);
            assert_eq!(character.guid, CharacterGuid(ALICE_CHAR));
        }
        other => panic!("announced {other:?}"),
    }
    // A map change to another owner is not a new login.
    h.world_send_packet(old, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.answer_placement(Some(ws("ws-22")));
    let new = h.complete_handoff(old, "ws-22");
    assert_eq!(h.s.phase(), Phase::InWorld);
    assert_eq!(h.announced.len(), 1);
    h.world_send(new, Opcode::SMSG_LOGOUT_COMPLETE, &[]);
    assert_eq!(h.announced.last(), Some(&logged_out(ALICE_CHAR)));
    assert_eq!(h.announced.len(), 2);
    // In world again, then the client goes away.
    h.enter_world(ws("ws-1"));
    assert_eq!(h.announced.len(), 3);
    h.s.handle_client_closed(h.now);
    h.pump();
    assert_eq!(h.announced.last(), Some(&logged_out(ALICE_CHAR)));
    assert_eq!(h.announced.len(), 4);
}

// ----- account fencing: the claim before AUTH_RESPONSE, and eviction ----------------------

/// A verified login whose claim is still under way; returns the claim's request.
fn claiming() -> (Harness, RequestId) {
    let mut h = Harness::new(SessionConfig::default());
    h.send_auth_session("ALICE", &key());
    let (request, _) = h.lookups.last().cloned().expect("account lookup asked");
    let c = ClientCiphers::new(&key());
    h.client_out.start_cipher(c.outbound);
    h.client_in.start_cipher(c.inbound);
    h.s.handle_account(h.now, request, Ok(Some(alice())));
    h.pump();
    let claim = *h.claims.last().expect("the verified account is claimed");
    assert_eq!(h.s.phase(), Phase::AwaitAccount);
    assert!(
        h.last_client(Opcode::SMSG_AUTH_RESPONSE).is_none(),
        "no AUTH_RESPONSE before the claim is granted"
    );
    (h, claim)
}

#[test]
fn a_login_superseded_by_a_newer_one_is_told_already_online() {
    let (mut h, claim) = claiming();
    h.s.handle_claim(h.now, claim, Err(ClaimRefused::Superseded));
    h.pump();
    assert_auth_rejected(&h, AuthResult::ALREADY_ONLINE);
}

#[test]
fn a_claim_that_outlasts_its_bound_is_already_online() {
    let (mut h, _) = claiming();
    h.advance_to_deadline();
    assert_auth_rejected(&h, AuthResult::ALREADY_ONLINE);
}

#[test]
fn a_fencing_store_that_fails_is_db_busy_and_blames_the_store() {
    let (mut h, claim) = claiming();
    let error = SeamError {
        service: "fencing store",
        detail: "no heartbeat".into(),
        retryable: true,
    };
    // A stale answer (another request id) changes nothing.
    h.s.handle_claim(h.now, RequestId(claim.0 + 100), Ok(()));
    h.pump();
    assert_eq!(h.s.phase(), Phase::AwaitAccount);
    h.s.handle_claim(h.now, claim, Err(ClaimRefused::Unavailable(error)));
    h.pump();
    assert_service_blamed(&h, "fencing store");
}

#[test]
fn an_evicted_player_is_told_why_and_logged_out_politely() {
    let mut h = authed();
    let link = h.enter_world(ws("ws-1"));
    h.s.handle_evicted(h.now, "the account logged in again elsewhere");
    h.pump();
    let told = h.last_client(Opcode::SMSG_MESSAGECHAT).expect("told why");
    assert!(
        String::from_utf8_lossy(&told.body).contains("logged in again elsewhere"),
        "{told:?}"
    );
    assert_eq!(
        h.world(link).received.last().map(|p| p.opcode),
        Some(Opcode::CMSG_LOGOUT_REQUEST)
    );
    assert!(h.closed.is_none());
    h.world_send(link, Opcode::SMSG_LOGOUT_COMPLETE, &[]);
    assert!(matches!(&h.closed, Some(CloseReason::Evicted(d)) if d.contains("elsewhere")));
}

#[test]
fn an_evicted_session_at_the_character_screen_closes_at_once() {
    let mut h = authed();
    h.s.handle_evicted(h.now, "the account logged in again elsewhere");
    h.pump();
    assert!(matches!(&h.closed, Some(CloseReason::Evicted(_))));
    assert_eq!(h.s.phase(), Phase::Closed);
}

// ----- presentation: whispers through chatserver ------------------------------------------

fn in_world_with_chat() -> (Harness, LinkId) {
    let mut h = Harness::new(SessionConfig {
        services: Services::TOCLOUD9,
        ..SessionConfig::default()
    });
    h.authenticate();
    let link = h.enter_world(ws("ws-1"));
    // Entering the world asks groupserver for the character's group: none.
    let (request, call) = h.calls.pop().expect("the group asked");
    assert_eq!(call, ServiceRequest::GroupOf(11));
    assert!(h.calls.is_empty());
    h.s.handle_service_answer(h.now, request, ServiceAnswer::GroupOf(Ok(0)));
    h.pump();
    assert!(h.calls.is_empty(), "no group, no list");
    (h, link)
}

fn whisper_to(to: &str, text: &str) -> ClientChat {
    ClientChat {
        kind: u32::from(chat_type::WHISPER),
        language: 7,
        target: ChatTarget::Whisper(to.into()),
        message: text.into(),
    }
}

/// chatserver's answer to the whisper asked as `request`.
fn answer_whisper(h: &mut Harness, request: RequestId, whisper: Whisper, outcome: WhisperOutcome) {
    h.s.handle_service_answer(h.now, request, ServiceAnswer::Whisper { whisper, outcome });
    h.pump();
}

fn client_chat_lines(h: &Harness) -> Vec<ChatMessage> {
    h.client_got
        .iter()
        .filter(|p| p.opcode == Opcode::SMSG_MESSAGECHAT)
        .filter_map(|p| ChatMessage::decode(&p.body).ok())
        .collect()
}

#[test]
fn a_whisper_goes_to_chatserver_not_the_worldserver_and_its_answer_reaches_the_client() {
    let (mut h, link) = in_world_with_chat();
    let before = h.world(link).received.len();
    h.client_send_packet(&whisper_to("bob", "hi"));
    let [(request, call)] = h.calls.clone().try_into().expect("one call");
    assert_eq!(
        call,
        ServiceRequest::Whisper(Whisper {
            sender: ALICE_CHAR,
            sender_name: "Alice".into(),
            sender_race: 1,
            language: 7,
            receiver_name: "Bob".into(),
            message: "hi".into(),
        })
    );
    assert_eq!(h.world(link).received.len(), before, "not forwarded");
    let ServiceRequest::Whisper(whisper) = call else {
        panic!("{call:?}")
    };
    answer_whisper(
        &mut h,
        request,
        whisper.clone(),
        WhisperOutcome::Delivered { receiver: BOB_CHAR },
    );
    let lines = client_chat_lines(&h);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].kind, chat_type::WHISPER_INFORM);
    assert_eq!((lines[0].sender, lines[0].receiver), (BOB_CHAR, BOB_CHAR));
    assert_eq!(lines[0].message, "hi");
    // The same answer again (or one never asked for) is ignored.
    answer_whisper(&mut h, request, whisper, WhisperOutcome::NotFound);
    assert!(h.last_client(Opcode::SMSG_CHAT_PLAYER_NOT_FOUND).is_none());
}

/// A whisper the client sends while the gateway moves it to another worldserver is held
/// with the rest, and on arrival goes to chatserver, not to the new worldserver (which could
/// not deliver it); the packets around it reach the new worldserver in order.
#[test]
fn a_whisper_held_during_a_handoff_goes_to_chatserver_on_arrival() {
    let (mut h, old) = in_world_with_chat();
    h.world_send_packet(old, &new_world(1));
    h.client_send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]);
    h.answer_placement(Some(ws("ws-22")));
    assert_eq!(h.s.phase(), Phase::AwaitRedirectReady);
    h.client_send(Opcode::MSG_MOVE_HEARTBEAT, &1u32.to_le_bytes());
    h.client_send_packet(&whisper_to("bob", "on the way"));
    h.client_send(Opcode::MSG_MOVE_HEARTBEAT, &2u32.to_le_bytes());
    let whispers = |h: &Harness| {
        h.calls
            .iter()
            .filter(|(_, c)| matches!(c, ServiceRequest::Whisper(_)))
            .count()
    };
    assert_eq!(whispers(&h), 0, "held while the player moves");
    let new = h.complete_handoff(old, "ws-22");
    assert_eq!(h.s.phase(), Phase::InWorld);
    let Some((_, ServiceRequest::Whisper(w))) = h
        .calls
        .iter()
        .find(|(_, c)| matches!(c, ServiceRequest::Whisper(_)))
    else {
        panic!("no whisper asked: {:?}", h.calls);
    };
    assert_eq!(
        (w.receiver_name.as_str(), w.message.as_str()),
        ("Bob", "on the way")
    );
    assert_eq!(whispers(&h), 1);
    let to_new: Vec<(Opcode, Bytes)> = h
        .world(new)
        .received
        .iter()
        .filter(|p| {
            matches!(
                p.opcode,
                Opcode::MSG_MOVE_HEARTBEAT | Opcode::CMSG_MESSAGECHAT
            )
        })
        .map(|p| (p.opcode, p.body.clone()))
        .collect();
    assert_eq!(
        to_new,
        vec![
            (
                Opcode::MSG_MOVE_HEARTBEAT,
                Bytes::copy_from_slice(&1u32.to_le_bytes())
            ),
            (
                Opcode::MSG_MOVE_HEARTBEAT,
                Bytes::copy_from_slice(&2u32.to_le_bytes())
            ),
        ]
    );
}

#[test]
fn other_chat_passes_through_and_without_chatserver_whispers_do_too() {
    let (mut h, link) = in_world_with_chat();
    let say = ClientChat {
        kind: u32::from(chat_type::SAY),
        language: 7,
        target: ChatTarget::None,
        message: "hello".into(),
    };
    h.client_send_packet(&say);
    assert!(h.calls.is_empty());
    let got = h.world(link).received.last().expect("forwarded").clone();
    assert_eq!(
        (got.opcode, got.body),
        (Opcode::CMSG_MESSAGECHAT, say.to_body())
    );

    // The embedded mode has no chatserver: the worldserver gets the whisper as it came.
    let mut h = authed();
    let link = h.enter_world(ws("ws-1"));
    h.client_send_packet(&whisper_to("bob", "hi"));
    assert!(h.calls.is_empty());
    let got = h.world(link).received.last().expect("forwarded").clone();
    assert_eq!(got.body, whisper_to("bob", "hi").to_body());
}

#[test]
fn whispers_are_asked_one_at_a_time_in_order_and_past_the_bound_fail_at_once() {
    let (mut h, _) = in_world_with_chat();
    let bound = waygate::session::PRESENT_CALLS_PENDING_MAX;
    for i in 0..=bound {
        h.client_send_packet(&whisper_to("bob", &format!("m{i}")));
    }
    assert_eq!(h.calls.len(), 1, "one asked at a time");
    let refused = h
        .client_got
        .iter()
        .filter(|p| p.opcode == Opcode::SMSG_MESSAGECHAT)
        .filter_map(|p| SystemMessage::decode(&p.body).ok())
        .map(|m| m.text)
        .collect::<Vec<_>>();
    assert_eq!(
        refused,
        vec![undelivered_line("Bob")],
        "the one past the bound"
    );
    // Each answer asks the next, in the order typed.
    for i in 0..bound {
        let (request, ServiceRequest::Whisper(whisper)) = h.calls[i].clone() else {
            panic!("{:?}", h.calls[i])
        };
        assert_eq!(whisper.message, format!("m{i}"));
        answer_whisper(&mut h, request, whisper, WhisperOutcome::NotFound);
    }
    assert_eq!(h.calls.len(), bound, "every waiting one asked, none twice");
    let not_found = h
        .client_got
        .iter()
        .filter(|p| p.opcode == Opcode::SMSG_CHAT_PLAYER_NOT_FOUND)
        .map(|p| ChatPlayerNotFound::decode(&p.body).expect("decodes").name)
        .collect::<Vec<_>>();
    assert_eq!(not_found, vec!["Bob".to_owned(); bound]);
    // Nothing pending now: the next whisper is asked at once.
    h.client_send_packet(&whisper_to("bob", "again"));
    assert_eq!(h.calls.len(), bound + 1);
}

#[test]
fn an_incoming_whisper_event_is_rendered_for_its_receiver() {
    let (mut h, _) = in_world_with_chat();
    let event = |receiver: u64| ClusterEvent {
        subject: "chat.gw.42.income.whisper".into(),
        payload: Bytes::from(format!(
            r#"{{"SenderGUID":{BOB_CHAR},"SenderName":"Bob","SenderRace":2,"ReceiverGUID":{receiver},"ReceiverName":"Alice","Language":7,"Msg":"psst"}}"#
        )),
    };
    assert_eq!(
        h.s.handle_cluster_event(h.now, event(ALICE_CHAR)),
        EventFate::Rendered
    );
    h.pump();
    let lines = client_chat_lines(&h);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0].kind, chat_type::WHISPER);
    assert_eq!((lines[0].sender, lines[0].receiver), (BOB_CHAR, BOB_CHAR));
    assert_eq!(lines[0].message, "psst");
    assert_eq!(
        h.s.handle_cluster_event(h.now, event(99)),
        EventFate::NotForMe
    );
    h.pump();
    assert_eq!(client_chat_lines(&h).len(), 1);
}

#[test]
fn a_character_already_in_a_group_gets_its_list_as_it_enters_the_world() {
    use waygate::present::group::{GroupMember, GroupSnapshot};
    use waygate::wire::packets::GroupList;
    let mut h = Harness::new(SessionConfig {
        services: Services::TOCLOUD9,
        ..SessionConfig::default()
    });
    h.authenticate();
    h.enter_world(ws("ws-1"));
    let (request, call) = h.calls.pop().expect("the group asked");
    assert_eq!(call, ServiceRequest::GroupOf(11));
    h.s.handle_service_answer(h.now, request, ServiceAnswer::GroupOf(Ok(4)));
    h.pump();
    let (request, call) = h.calls.pop().expect("the list asked");
    assert_eq!(call, ServiceRequest::GetGroup(4));
    let member = |guid, name: &str| GroupMember {
        guid,
        name: name.into(),
        online: true,
        ..GroupMember::default()
    };
    let group = GroupSnapshot {
        id: 4,
        leader: 77,
        members: vec![member(11, "Alice"), member(77, "Bob")],
        ..GroupSnapshot::default()
    };
    h.s.handle_service_answer(h.now, request, ServiceAnswer::Group(Ok(group)));
    h.pump();
    let list = h
        .client_got
        .iter()
        .find(|p| p.opcode == Opcode::SMSG_GROUP_LIST)
        .map(|p| GroupList::decode(&p.body).expect("decodes"))
        .expect("the list reached the client");
    assert_eq!(
        (
            list.leader,
            list.members.iter().map(|m| m.guid).collect::<Vec<_>>()
        ),
        (77, vec![77])
    );
}

// ----- presentation: chat channels across a move -------------------------------------------

/// A built-in channel joined on the old worldserver is joined again on the new one after a
/// move (its answer kept from the client), so zone channel changes and leaving work there.
#[test]
fn after_a_move_the_new_worldserver_is_told_the_players_built_in_channels() {
    use waygate::present::channels::{ChannelOp, ChannelReply};
    use waygate::wire::packets::{ChannelNotify, JoinChannel, NotifyDetail, channel_notify};
    let (mut h, old) = in_world_with_chat();
    let general = ChannelNotify {
        kind: channel_notify::YOU_JOINED,
        channel: "General - Elwynn Forest".into(),
        detail: NotifyDetail::YouJoined {
            flags: 0x18,
            channel_id: 1,
        },
    };
    h.world_send_packet(old, &general);
    assert!(
        h.last_client(Opcode::SMSG_CHANNEL_NOTIFY).is_some(),
        "the worldserver's notice reaches the client"
    );
    let (request, call) = h.calls.pop().expect("the join asked of chatserver");
    let ServiceRequest::Channel(join) = call else {
        panic!("{call:?}")
    };
    assert_eq!(
        join.op,
        ChannelOp::Join {
            id: 1,
            password: String::new(),
            flags: 0x18
        }
    );
    h.s.handle_service_answer(
        h.now,
        request,
        ServiceAnswer::Channel {
            call: join,
            outcome: Ok(ChannelReply::Joined {
                id: 1,
                flags: 0x18,
                member_flags: 0,
            }),
        },
    );
    h.pump();
    assert!(h.announced.iter().any(|a| matches!(
        a,
        Announcement::ChannelMembership { channel, joined: true, .. } if channel == "General - Elwynn Forest"
    )));
    let notices_before = h
        .client_got
        .iter()
        .filter(|p| p.opcode == Opcode::SMSG_CHANNEL_NOTIFY)
        .count();
    // The worldserver moves the player elsewhere.
    h.world_send_packet(old, &ReadyForRedirect { status: 0 });
    finish_move_elsewhere(&mut h, old);
    let new = h.connects.last().map(|c| c.0).expect("the new link");
    let joins: Vec<JoinChannel> = h
        .world(new)
        .received
        .iter()
        .filter(|p| p.opcode == Opcode::CMSG_JOIN_CHANNEL)
        .map(|p| JoinChannel::decode(&p.body).expect("decodes"))
        .collect();
    assert_eq!(
        joins,
        vec![JoinChannel {
            channel_id: 1,
            unknown: [0, 0],
            name: "General - Elwynn Forest".into(),
            password: String::new(),
        }]
    );
    // The new worldserver's answer is kept from the client, who is in the channel already.
    h.world_send_packet(new, &general);
    let notices_after = h
        .client_got
        .iter()
        .filter(|p| p.opcode == Opcode::SMSG_CHANNEL_NOTIFY)
        .count();
    assert_eq!(notices_after, notices_before);
}
