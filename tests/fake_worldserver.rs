//! Pins every behaviour of the fake cluster-mode worldserver (PROTOCOL.md section 3) on
//! loopback, with a raw gateway-side client built from the wire codecs.
//!
//! Timings are shortened through `FakeTiming`. Every wait has a deadline and waits for
//! something observable (a packet, a close, the fake's presence or event log). "Nothing
//! happens" is asserted only over a short window after an event proving the fake had its
//! chance; sleeps only pace a client.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use waygate::peers::worldserver::{
    Buggify, CloseReason, FakeCharacter, FakeCharacterStore, FakeTiming, FakeWorldConfig,
    FakeWorldserver, KickReason, LOGIN_PRELUDE, MAP_ENTRY, Presence, WorldEventKind,
};
use waygate::wire::auth::{
    AddonList, AuthChallenge, AuthResponse, AuthResult, AuthSession, AuthSessionFields,
};
use waygate::wire::codec::{Reader, WriteExt};
use waygate::wire::packets::{
    AccountDataTimes, CharCreate, CharDelete, CharRename, CharRenameResult, CharacterLoginFailed,
    InitWorldStates, LoginFailure, LoginVerifyWorld, LogoutResponse, MapPosition, NewWorld, Ping,
    PlayerLogin, Pong, Position, ReadyForRedirect, TimeSyncReq, TransferPending, WirePacket,
};
use waygate::wire::update::{
    CompressedUpdateObject, TYPEID_PLAYER, UPDATE_INFLATED_MAX_BYTES, UpdateBlock, UpdateObject,
};
use waygate::wire::{ClientHeaderEncoder, Decoded, Opcode, Packet, ServerHeaderDecoder};

/// Account A.
const ALICE: u64 = 1;
/// Account A, a second character.
const ALTO: u64 = 2;
/// Account B, on map 1.
const BOB: u64 = 3;
/// Account A; fails to load.
const BROKEN: u64 = 4;
/// Account C.
const CAROL: u64 = 5;
/// Unknown to the fake.
const NOBODY: u64 = 99;

/// Longest wait for anything.
const WAIT: Duration = Duration::from_secs(5);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(200);
/// Slack for timer lower bounds (timers never fire early; this covers rounding).
const SLACK: Duration = Duration::from_millis(15);

fn timing() -> FakeTiming {
    FakeTiming {
        account_lookup_ms: 20,
        linger_ms: 400,
        logout_delay_ms: 250,
        map_reassign_warning_ms: 400,
        map_reassign_second_warning_ms: 250,
        ..FakeTiming::default()
    }
}

fn character(guid: u64, account: &str, name: &str, map: u32, loads: bool) -> FakeCharacter {
    FakeCharacter {
        guid,
        account: account.into(),
        name: name.into(),
        map,
        position: Position {
            x: guid as f32,
            y: 2.0,
            z: 3.0,
            orientation: 0.5,
        },
        loads,
    }
}

fn config(id: &str, t: FakeTiming) -> FakeWorldConfig {
    FakeWorldConfig {
        id: id.into(),
        accounts: vec!["A".into(), "b".into(), "C".into()],
        characters: vec![
            character(ALICE, "A", "Alice", 0, true),
            character(ALTO, "A", "Alto", 0, true),
            character(BOB, "B", "Bob", 1, true),
            character(BROKEN, "A", "Broken", 0, false),
            character(CAROL, "C", "Carol", 0, true),
        ],
        timing: t,
        echo_opcode: None,
    }
}

struct Fake {
    ws: FakeWorldserver,
    addr: SocketAddr,
    serving: Option<JoinHandle<std::io::Result<()>>>,
}

async fn serve(ws: FakeWorldserver) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let serving = {
        let ws = ws.clone();
        tokio::spawn(async move { ws.serve(listener).await })
    };
    Fake {
        ws,
        addr,
        serving: Some(serving),
    }
}

async fn fake_with(cfg: FakeWorldConfig) -> Fake {
    serve(FakeWorldserver::new(cfg)).await
}

async fn fake(t: FakeTiming) -> Fake {
    fake_with(config("ws-test", t)).await
}

/// Serves `ws`, connects, and reads the first 44 bytes it sends: its SMSG_AUTH_CHALLENGE.
async fn first_challenge_of(ws: FakeWorldserver) -> [u8; 44] {
    let f = serve(ws).await;
    let mut s = TcpStream::connect(f.addr).await.expect("connect");
    let mut head = [0u8; 44];
    tokio::time::timeout(WAIT, s.read_exact(&mut head))
        .await
        .expect("in time")
        .expect("read");
    head
}

/// Waits (bounded) until `cond` holds.
async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn count(ws: &FakeWorldserver, pred: impl Fn(&WorldEventKind) -> bool) -> usize {
    ws.events().iter().filter(|e| pred(&e.kind)).count()
}

fn count_for(ws: &FakeWorldserver, guid: u64, pred: impl Fn(&WorldEventKind) -> bool) -> usize {
    ws.events()
        .iter()
        .filter(|e| e.guid == Some(guid) && pred(&e.kind))
        .count()
}

fn opcodes(packets: &[Packet]) -> Vec<Opcode> {
    packets.iter().map(|p| p.opcode).collect()
}

fn chat(text: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_u32_le(1); // SAY
    b.put_u32_le(0);
    b.put_cstr(text);
    b.freeze()
}

fn ping(seq: u32) -> Bytes {
    Ping { seq, latency_ms: 0 }.to_body()
}

fn login(guid: u64) -> Bytes {
    PlayerLogin { guid }.to_body()
}

fn auth_body(account: &str, addons: Bytes) -> Bytes {
    AuthSession::encode(&AuthSessionFields {
        account: account.into(),
        client_seed: 1,
        realm_id: 1,
        digest: [0; 20],
        addon_block: addons,
    })
}

fn addons() -> Bytes {
    AddonList::default().encode_block()
}

#[derive(Debug)]
enum Next {
    Packet(Packet),
    Closed,
    Quiet,
}

/// The gateway's side of one worldserver connection.
struct Gw {
    ws: FakeWorldserver,
    s: TcpStream,
    enc: ClientHeaderEncoder,
    dec: ServerHeaderDecoder,
}

impl Gw {
    async fn connect(f: &Fake) -> Self {
        Self {
            ws: f.ws.clone(),
            s: TcpStream::connect(f.addr).await.expect("connect"),
            enc: ClientHeaderEncoder::plain(),
            dec: ServerHeaderDecoder::for_worldserver(1 << 22),
        }
    }

    async fn next_within(&mut self, within: Duration) -> Next {
        let until = Instant::now() + within;
        loop {
            if let Decoded::Packet(p) = self.dec.decode().expect("the fake frames correctly") {
                return Next::Packet(p);
            }
            let left = until.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.s.read_buf(self.dec.buffer_mut())).await {
                Err(_) => return Next::Quiet,
                Ok(Ok(0)) | Ok(Err(_)) => return Next::Closed,
                Ok(Ok(_)) => {}
            }
        }
    }

    async fn next(&mut self) -> Packet {
        match self.next_within(WAIT).await {
            Next::Packet(p) => p,
            other => panic!("expected a packet, got {other:?}"),
        }
    }

    /// Packets up to and including the first with `opcode`.
    async fn until(&mut self, opcode: Opcode) -> Vec<Packet> {
        let mut seen = Vec::new();
        loop {
            let p = self.next().await;
            let done = p.opcode == opcode;
            seen.push(p);
            if done {
                return seen;
            }
        }
    }

    /// Packets that arrive before the fake closes the socket.
    async fn expect_closed(&mut self) -> Vec<Packet> {
        let mut seen = Vec::new();
        loop {
            match self.next_within(WAIT).await {
                Next::Closed => return seen,
                Next::Packet(p) => seen.push(p),
                Next::Quiet => panic!("the fake did not close; it sent {:?}", opcodes(&seen)),
            }
        }
    }

    async fn expect_quiet(&mut self, within: Duration) {
        match self.next_within(within).await {
            Next::Quiet => {}
            other => panic!("expected silence, got {other:?}"),
        }
    }

    fn frame(&mut self, opcode: Opcode, body: &[u8]) -> BytesMut {
        let mut b = BytesMut::new();
        self.enc.encode(opcode, body, &mut b).expect("fits");
        b
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).await.expect("write");
        self.s.flush().await.expect("flush");
    }

    /// One packet as its own write.
    async fn send(&mut self, opcode: Opcode, body: &[u8]) {
        let b = self.frame(opcode, body);
        self.write(&b).await;
    }

    async fn challenge(&mut self) -> Packet {
        let p = self.next().await;
        assert_eq!(p.opcode, Opcode::SMSG_AUTH_CHALLENGE);
        p
    }

    /// Challenge, replayed auth session; returns once the fake has authenticated it, so what
    /// is sent next is a read of its own.
    async fn auth(&mut self, account: &str) {
        self.challenge().await;
        let upper = account.to_ascii_uppercase();
        let is_auth = |k: &WorldEventKind| matches!(k, WorldEventKind::Authenticated { account } if *account == upper);
        let before = count(&self.ws, is_auth);
        self.send(Opcode::CMSG_AUTH_SESSION, &auth_body(account, addons()))
            .await;
        let ws = self.ws.clone();
        wait_for("the fake to authenticate", || count(&ws, is_auth) > before).await;
    }

    /// Auth, then PLAYER_LOGIN as its own write; in world on return. Returns the login
    /// packets up to SMSG_TIME_SYNC_REQ.
    async fn enter(&mut self, account: &str, guid: u64) -> Vec<Packet> {
        self.auth(account).await;
        self.send(Opcode::CMSG_PLAYER_LOGIN, &login(guid)).await;
        self.until(Opcode::SMSG_TIME_SYNC_REQ).await
    }

    async fn pong(&mut self, seq: u32) {
        self.send(Opcode::CMSG_PING, &ping(seq)).await;
        let p = self.until(Opcode::SMSG_PONG).await;
        assert_eq!(
            Pong::decode(&p[p.len() - 1].body),
            Ok(Pong { seq }),
            "answered"
        );
    }
}

// ----- handshake -----

#[tokio::test]
async fn challenge_is_plain_and_seeded_by_the_id() {
    async fn first_challenge(id: &str) -> [u8; 44] {
        first_challenge_of(FakeWorldserver::new(config(id, timing()))).await
    }
    let a = first_challenge("ws-ek").await;
    assert_eq!(
        &a[..4],
        &[0x00, 0x2A, 0xEC, 0x01],
        "size 42, SMSG_AUTH_CHALLENGE"
    );
    let c = AuthChallenge::decode(&a[4..]).expect("u32 1, seed, 32 bytes");
    assert_ne!(c.seed_bytes, [0; 32]);
    assert_eq!(a, first_challenge("ws-ek").await, "same id, same challenge");
    assert_ne!(
        a,
        first_challenge("ws-kal").await,
        "another id, another challenge"
    );
}

#[tokio::test]
async fn buggify_refuses_connects_by_its_seed_and_leaves_the_challenges_alone() {
    let bug = |chance_per_10k| Buggify {
        seed: 7,
        chance_per_10k,
        save_delay_max_ms: 0,
        kick_delay_max_ms: 0,
        read_stall_max_ms: 0,
        refuse_connect: true,
    };
    // Every connect refused: closed before the challenge, and logged.
    let f = fake(timing()).await;
    f.ws.set_buggify(Some(bug(10_000)));
    let mut s = TcpStream::connect(f.addr).await.expect("connect");
    let mut buf = [0u8; 4];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(n, 0, "closed with no challenge");
    assert_eq!(
        count(
            &f.ws,
            |k| matches!(k, WorldEventKind::Buggified { what, .. } if *what == "refused connect")
        ),
        1
    );
    assert_eq!(count(&f.ws, |k| *k == WorldEventKind::Accepted), 0);
    // Never: the connection is challenged as without buggify, with the same challenge.
    let spared = FakeWorldserver::new(config("ws-ek", timing()));
    spared.set_buggify(Some(bug(0)));
    let plain = FakeWorldserver::new(config("ws-ek", timing()));
    assert_eq!(
        first_challenge_of(spared).await,
        first_challenge_of(plain).await
    );
}

#[tokio::test]
async fn accepted_auth_session_gets_no_reply() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    gw.send(Opcode::CMSG_PING, &ping(7)).await;
    let p = gw.next().await;
    assert_eq!(
        p.opcode,
        Opcode::SMSG_PONG,
        "nothing was sent before the pong"
    );
    assert_eq!(Pong::decode(&p.body), Ok(Pong { seq: 7 }));
}

#[tokio::test]
async fn unknown_account_gets_0x15_then_a_close() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.challenge().await;
    gw.send(Opcode::CMSG_AUTH_SESSION, &auth_body("MALLORY", addons()))
        .await;
    let seen = gw.expect_closed().await;
    assert_eq!(opcodes(&seen), [Opcode::SMSG_AUTH_RESPONSE]);
    assert_eq!(
        AuthResponse::decode(&seen[0].body),
        Ok(AuthResponse::Failed(AuthResult::UNKNOWN_ACCOUNT))
    );
}

#[tokio::test]
async fn closed_world_gets_0x0e_then_a_close() {
    let f = fake(timing()).await;
    f.ws.set_refuse_logins(true);
    let mut gw = Gw::connect(&f).await;
    gw.challenge().await;
    gw.send(Opcode::CMSG_AUTH_SESSION, &auth_body("A", addons()))
        .await;
    let seen = gw.expect_closed().await;
    assert_eq!(opcodes(&seen), [Opcode::SMSG_AUTH_RESPONSE]);
    assert_eq!(
        AuthResponse::decode(&seen[0].body),
        Ok(AuthResponse::Failed(AuthResult::REJECT))
    );
    f.ws.set_refuse_logins(false);
    let mut again = Gw::connect(&f).await;
    again.auth("A").await;
}

#[tokio::test]
async fn auth_session_without_addon_bytes_closes() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.challenge().await;
    gw.send(Opcode::CMSG_AUTH_SESSION, &auth_body("A", Bytes::new()))
        .await;
    assert!(gw.expect_closed().await.is_empty());
    assert_eq!(
        count(&f.ws, |k| *k
            == WorldEventKind::Closed {
                reason: CloseReason::EmptyAddonBlob
            }),
        1
    );
}

#[tokio::test]
async fn anything_before_the_auth_session_closes_pings_included() {
    let f = fake(timing()).await;
    for (opcode, body) in [
        (Opcode::CMSG_PING, ping(1)),
        (Opcode::CMSG_KEEP_ALIVE, Bytes::new()),
        (Opcode::CMSG_PLAYER_LOGIN, login(ALICE)),
    ] {
        let mut gw = Gw::connect(&f).await;
        gw.challenge().await;
        gw.send(opcode, &body).await;
        assert!(gw.expect_closed().await.is_empty(), "{opcode}: no answer");
    }
    assert_eq!(f.ws.presence(ALICE), Presence::Absent);
}

#[tokio::test]
async fn second_auth_session_closes() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    gw.send(Opcode::CMSG_AUTH_SESSION, &auth_body("A", addons()))
        .await;
    assert!(gw.expect_closed().await.is_empty());
}

#[tokio::test]
async fn headers_outside_the_cluster_bounds_close() {
    let f = fake(timing()).await;
    // 0x520 is still below the cluster build's limit: accepted (and ignored).
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    gw.send(Opcode(0x520), &[]).await;
    gw.pong(1).await;
    let bad: [(&[u8], CloseReason); 3] = [
        (
            &[0x00, 0x04, 0x21, 0x05, 0, 0],
            CloseReason::BadOpcode(Opcode(0x521)),
        ),
        (&[0x00, 0x03, 0x37, 0x00, 0, 0], CloseReason::BadSize(3)),
        (
            &[0x28, 0x00, 0x37, 0x00, 0, 0],
            CloseReason::BadSize(10_240),
        ),
    ];
    for (header, reason) in bad {
        let mut gw = Gw::connect(&f).await;
        gw.auth("A").await;
        gw.write(header).await;
        assert!(gw.expect_closed().await.is_empty(), "{reason:?}");
        assert_eq!(count(&f.ws, |k| *k == WorldEventKind::Closed { reason }), 1);
    }
}

#[tokio::test]
async fn login_pipelined_behind_the_auth_session_waits_for_more_bytes() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.challenge().await;
    let mut both = gw.frame(Opcode::CMSG_AUTH_SESSION, &auth_body("A", addons()));
    both.extend_from_slice(&gw.frame(Opcode::CMSG_PLAYER_LOGIN, &login(ALICE)));
    gw.write(&both).await;
    let ws = f.ws.clone();
    wait_for("the auth to finish with bytes held", || {
        count(&ws, |k| {
            *k == WorldEventKind::HeldUntilMoreBytes { bytes: 14 }
        }) == 1
    })
    .await;
    gw.expect_quiet(QUIET).await;
    assert_eq!(f.ws.presence(ALICE), Presence::Absent, "still unparsed");
    assert_eq!(count(&f.ws, |k| *k == WorldEventKind::Loading), 0);
    // Any byte at all wakes the parser: the held login runs first, in order.
    gw.send(Opcode::CMSG_KEEP_ALIVE, &[]).await;
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    assert_eq!(f.ws.presence(ALICE), Presence::InWorld);
}

#[tokio::test]
async fn bytes_sent_during_the_lookup_are_read_afterwards() {
    let f = fake(FakeTiming {
        account_lookup_ms: 300,
        ..timing()
    })
    .await;
    let mut gw = Gw::connect(&f).await;
    gw.challenge().await;
    let sent = Instant::now();
    gw.send(Opcode::CMSG_AUTH_SESSION, &auth_body("A", addons()))
        .await;
    let ws = f.ws.clone();
    wait_for("the lookup to start", || {
        count(&ws, |k| matches!(k, WorldEventKind::LookupStarted { .. })) == 1
    })
    .await;
    gw.send(Opcode::CMSG_PLAYER_LOGIN, &login(ALICE)).await;
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    assert!(sent.elapsed() >= Duration::from_millis(300) - SLACK);
    assert_eq!(
        count(&f.ws, |k| matches!(
            k,
            WorldEventKind::HeldUntilMoreBytes { .. }
        )),
        0,
        "read after the lookup, not held"
    );
}

#[tokio::test]
async fn a_second_connection_of_the_account_takes_over_and_the_player_lingers() {
    let f = fake(timing()).await;
    let mut first = Gw::connect(&f).await;
    first.enter("A", ALICE).await;
    let logins: Arc<Mutex<Vec<Presence>>> = Arc::default();
    let tap_logins = logins.clone();
    f.ws.set_packet_tap(Some(Arc::new(
        move |_guid, opcode, _body: &Bytes, presence, _opened_ms| {
            if opcode == Opcode::CMSG_PLAYER_LOGIN {
                tap_logins.lock().expect("tap lock").push(presence);
            }
        },
    )));
    let mut second = Gw::connect(&f).await;
    second.auth("a").await;
    assert_eq!(
        f.ws.presence(ALICE),
        Presence::Lingering,
        "an offline session as soon as the new one is authenticated"
    );
    first.expect_closed().await;
    second.send(Opcode::CMSG_PLAYER_LOGIN, &login(ALICE)).await;
    second.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    assert_eq!(f.ws.presence(ALICE), Presence::InWorld);
    assert_eq!(
        count_for(&f.ws, ALICE, |k| *k == WorldEventKind::Reattached),
        1
    );
    assert_eq!(
        *logins.lock().expect("tap lock"),
        vec![Presence::Lingering],
        "the tap sees the re-attaching PLAYER_LOGIN while the character still lingers"
    );
}

#[tokio::test]
async fn a_second_connection_while_the_account_is_loading_is_closed() {
    let f = fake(FakeTiming {
        load_ms: 600,
        ..timing()
    })
    .await;
    let mut first = Gw::connect(&f).await;
    first.auth("A").await;
    first.send(Opcode::CMSG_PLAYER_LOGIN, &login(ALICE)).await;
    let ws = f.ws.clone();
    wait_for("loading", || ws.presence(ALICE) == Presence::Loading).await;
    let mut second = Gw::connect(&f).await;
    second.challenge().await;
    second
        .send(Opcode::CMSG_AUTH_SESSION, &auth_body("A", addons()))
        .await;
    assert!(
        second.expect_closed().await.is_empty(),
        "closed without a word"
    );
    first.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    assert_eq!(f.ws.presence(ALICE), Presence::InWorld);
}

// ----- login -----

#[tokio::test]
async fn login_sequence_follows_azerothcore_order() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    let seen = gw.enter("A", ALICE).await;
    let expected: Vec<Opcode> = LOGIN_PRELUDE
        .iter()
        .chain(MAP_ENTRY)
        .copied()
        .chain([Opcode::SMSG_TIME_SYNC_REQ])
        .collect();
    assert_eq!(opcodes(&seen), expected);
    assert_eq!(seen[0].opcode, Opcode::MSG_SET_DUNGEON_DIFFICULTY);
    assert_eq!(
        f.ws.presence(ALICE),
        Presence::InWorld,
        "in world once TIME_SYNC_REQ 0 is out"
    );
    let body = |op: Opcode| {
        seen.iter()
            .find(|p| p.opcode == op)
            .map(|p| p.body.clone())
            .expect("present")
    };
    let saved = MapPosition {
        map: 0,
        position: character(ALICE, "A", "Alice", 0, true).position,
    };
    assert_eq!(
        LoginVerifyWorld::decode(&body(Opcode::SMSG_LOGIN_VERIFY_WORLD)),
        Ok(LoginVerifyWorld(saved))
    );
    assert_eq!(
        AccountDataTimes::decode(&body(Opcode::SMSG_ACCOUNT_DATA_TIMES)).map(|a| a.mask),
        Ok(0xEA)
    );
    let compressed = body(Opcode::SMSG_COMPRESSED_UPDATE_OBJECT);
    let inflated =
        CompressedUpdateObject::inflate(&compressed, UPDATE_INFLATED_MAX_BYTES).expect("inflates");
    assert!(
        inflated.len() > 100,
        "compressed because it is over 100 bytes"
    );
    let update = UpdateObject::decode(&inflated).expect("decodes");
    let Some(UpdateBlock::Create {
        guid,
        type_id,
        mask,
        ..
    }) = update.blocks.first()
    else {
        panic!("a create block: {update:?}");
    };
    assert_eq!((*guid, *type_id), (ALICE, TYPEID_PLAYER));
    assert!(mask.get(0x18).is_some_and(|h| h > 0), "UNIT_FIELD_HEALTH");
    assert!(mask.get(0x36).is_some_and(|l| l > 0), "UNIT_FIELD_LEVEL");
    assert_eq!(
        TimeSyncReq::decode(&seen[seen.len() - 1].body),
        Ok(TimeSyncReq { counter: 0 })
    );
    let states = gw.next().await;
    assert_eq!(
        InitWorldStates::decode(&states.body).map(|s| s.map),
        Ok(0),
        "SMSG_INIT_WORLD_STATES right after"
    );
    assert_eq!(
        f.ws.received(ALICE),
        vec![(Opcode::CMSG_PLAYER_LOGIN, login(ALICE))]
    );
}

#[tokio::test]
async fn the_packet_tap_sees_what_the_received_log_gets_in_order() {
    let f = fake(timing()).await;
    let seen: Arc<Mutex<Vec<(u64, Opcode)>>> = Arc::default();
    let presences: Arc<Mutex<Vec<Presence>>> = Arc::default();
    let (tap_seen, tap_presences) = (seen.clone(), presences.clone());
    f.ws.set_packet_tap(Some(Arc::new(
        move |guid, opcode, _body: &Bytes, presence, _opened_ms| {
            tap_seen.lock().expect("tap lock").push((guid, opcode));
            tap_presences.lock().expect("tap lock").push(presence);
        },
    )));
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    let logged: Vec<(u64, Opcode)> =
        f.ws.received(ALICE)
            .into_iter()
            .map(|(o, _)| (ALICE, o))
            .collect();
    assert_eq!(*seen.lock().expect("tap lock"), logged);
    assert_eq!(logged, vec![(ALICE, Opcode::CMSG_PLAYER_LOGIN)]);
    assert_eq!(
        *presences.lock().expect("tap lock"),
        vec![Presence::Absent],
        "a fresh login: the tap sees the character before the packet's effect"
    );
}

#[tokio::test]
async fn time_sync_repeats_after_the_first_interval_then_every_interval() {
    let f = fake(FakeTiming {
        time_sync_first_ms: 150,
        time_sync_every_ms: 250,
        ..timing()
    })
    .await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    let zero = Instant::now();
    let one = gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    let t1 = zero.elapsed();
    let two = gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    let t2 = zero.elapsed();
    assert_eq!(
        TimeSyncReq::decode(&one[one.len() - 1].body),
        Ok(TimeSyncReq { counter: 1 })
    );
    assert_eq!(
        TimeSyncReq::decode(&two[two.len() - 1].body),
        Ok(TimeSyncReq { counter: 2 })
    );
    assert!(t1 >= Duration::from_millis(150) - SLACK, "{t1:?}");
    assert!(t2 - t1 >= Duration::from_millis(250) - SLACK, "{t2:?}");
}

#[tokio::test]
async fn characters_that_fail_to_load_close_the_socket_without_a_packet() {
    let f = fake(timing()).await;
    for guid in [BROKEN, NOBODY] {
        let mut gw = Gw::connect(&f).await;
        gw.auth("A").await;
        gw.send(Opcode::CMSG_PLAYER_LOGIN, &login(guid)).await;
        assert!(
            gw.expect_closed().await.is_empty(),
            "guid {guid}: no packet"
        );
        assert_eq!(f.ws.presence(guid), Presence::Absent);
    }
    assert_eq!(
        count(&f.ws, |k| *k
            == WorldEventKind::Kicked {
                reason: KickReason::LoadFailed
            }),
        2
    );
}

#[tokio::test]
async fn login_does_not_check_ownership() {
    // Account B logs in account A's character: the worldserver lets it. The gateway must not.
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("B", ALICE).await;
    assert_eq!(f.ws.presence(ALICE), Presence::InWorld);
}

#[tokio::test]
async fn a_character_online_on_another_connection_fails_to_load() {
    let f = fake(timing()).await;
    let mut a = Gw::connect(&f).await;
    a.enter("A", ALICE).await;
    let mut b = Gw::connect(&f).await;
    b.auth("B").await;
    b.send(Opcode::CMSG_PLAYER_LOGIN, &login(ALICE)).await;
    assert!(b.expect_closed().await.is_empty());
    assert_eq!(
        f.ws.presence(ALICE),
        Presence::InWorld,
        "the first one keeps it"
    );
    a.pong(1).await;
}

#[tokio::test]
async fn a_second_player_login_kicks_the_session() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.send(Opcode::CMSG_PLAYER_LOGIN, &login(ALTO)).await;
    let seen = gw.expect_closed().await;
    assert!(
        seen.iter()
            .all(|p| p.opcode == Opcode::SMSG_INIT_WORLD_STATES),
        "nothing for the second login: {:?}",
        opcodes(&seen)
    );
    assert_eq!(
        f.ws.presence(ALICE),
        Presence::Absent,
        "kicked, not lingering"
    );
    assert_eq!(f.ws.presence(ALTO), Presence::Absent);
}

#[tokio::test]
async fn logged_in_opcodes_are_dropped_while_loading_and_pings_answered() {
    let f = fake(FakeTiming {
        load_ms: 400,
        ..timing()
    })
    .await;
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    gw.send(Opcode::CMSG_PLAYER_LOGIN, &login(ALICE)).await;
    let ws = f.ws.clone();
    wait_for("loading", || ws.presence(ALICE) == Presence::Loading).await;
    gw.send(Opcode::MSG_MOVE_HEARTBEAT, &[1]).await;
    gw.send(Opcode::CMSG_PING, &ping(5)).await;
    assert_eq!(
        gw.next().await.opcode,
        Opcode::SMSG_PONG,
        "answered while loading, before any login packet"
    );
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    gw.send(Opcode::MSG_MOVE_HEARTBEAT, &[2]).await;
    wait_for("the in-world heartbeat", || ws.received(ALICE).len() == 2).await;
    assert_eq!(
        f.ws.received(ALICE),
        vec![
            (Opcode::CMSG_PLAYER_LOGIN, login(ALICE)),
            (Opcode::MSG_MOVE_HEARTBEAT, Bytes::from_static(&[2]))
        ]
    );
    assert_eq!(
        count_for(&f.ws, ALICE, |k| *k
            == WorldEventKind::Dropped {
                opcode: Opcode::MSG_MOVE_HEARTBEAT
            }),
        1
    );
}

// ----- teleport -----

#[tokio::test]
async fn teleport_then_worldport_ack_enters_the_new_map_with_time_sync_zero() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.until(Opcode::SMSG_INIT_WORLD_STATES).await;
    gw.send(Opcode::CMSG_MESSAGECHAT, &chat(".tele 1 10 20 30"))
        .await;
    let seen = gw.until(Opcode::SMSG_NEW_WORLD).await;
    assert_eq!(
        opcodes(&seen),
        [Opcode::SMSG_TRANSFER_PENDING, Opcode::SMSG_NEW_WORLD]
    );
    assert_eq!(TransferPending::decode(&seen[0].body).map(|t| t.map), Ok(1));
    let dest = MapPosition {
        map: 1,
        position: Position {
            x: 10.0,
            y: 20.0,
            z: 30.0,
            orientation: 0.0,
        },
    };
    assert_eq!(NewWorld::decode(&seen[1].body), Ok(NewWorld(dest)));
    assert_eq!(f.ws.presence(ALICE), Presence::Limbo);
    assert_eq!(
        f.ws.in_world_guids(),
        vec![ALICE],
        "limbo counts as in world"
    );
    gw.send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]).await;
    let again = gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    let expected: Vec<Opcode> = MAP_ENTRY
        .iter()
        .copied()
        .chain([Opcode::SMSG_TIME_SYNC_REQ])
        .collect();
    assert_eq!(
        opcodes(&again),
        expected,
        "the map part again, no LOGIN_VERIFY_WORLD"
    );
    assert_eq!(
        TimeSyncReq::decode(&again[again.len() - 1].body),
        Ok(TimeSyncReq { counter: 0 })
    );
    let states = gw.next().await;
    assert_eq!(InitWorldStates::decode(&states.body).map(|s| s.map), Ok(1));
    assert_eq!(f.ws.presence(ALICE), Presence::InWorld);
    assert_eq!(
        count_for(&f.ws, ALICE, |k| *k
            == WorldEventKind::Arrived {
                map: 1,
                timed_out: false
            }),
        1
    );
}

#[tokio::test]
async fn logged_in_opcodes_are_dropped_in_limbo() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.send(Opcode::CMSG_MESSAGECHAT, &chat(".tele 1 0 0 0"))
        .await;
    gw.until(Opcode::SMSG_NEW_WORLD).await;
    gw.send(Opcode::MSG_MOVE_HEARTBEAT, &[9]).await;
    gw.send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]).await;
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    let got: Vec<Opcode> = f.ws.received(ALICE).into_iter().map(|(o, _)| o).collect();
    assert_eq!(
        got,
        [
            Opcode::CMSG_PLAYER_LOGIN,
            Opcode::CMSG_MESSAGECHAT,
            Opcode::MSG_MOVE_WORLDPORT_ACK
        ],
        "the heartbeat was dropped"
    );
    assert_eq!(
        count_for(&f.ws, ALICE, |k| matches!(
            k,
            WorldEventKind::Dropped { .. }
        )),
        1
    );
}

#[tokio::test]
async fn an_unacknowledged_far_teleport_completes_on_its_own() {
    let f = fake(FakeTiming {
        teleport_timeout_far_ms: 200,
        ..timing()
    })
    .await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.send(Opcode::CMSG_MESSAGECHAT, &chat(".tele 1 0 0 0"))
        .await;
    gw.until(Opcode::SMSG_NEW_WORLD).await;
    let at = Instant::now();
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    assert!(at.elapsed() >= Duration::from_millis(200) - SLACK);
    assert_eq!(f.ws.presence(ALICE), Presence::InWorld);
    assert_eq!(
        count(&f.ws, |k| *k
            == WorldEventKind::Arrived {
                map: 1,
                timed_out: true
            }),
        1
    );
}

// ----- redirect -----

#[tokio::test]
async fn prepare_with_nobody_in_world_answers_1_at_once() {
    let f = fake(FakeTiming {
        load_ms: 500,
        ..timing()
    })
    .await;
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    gw.send(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]).await;
    let p = gw.next().await;
    assert_eq!(
        ReadyForRedirect::decode(&p.body),
        Ok(ReadyForRedirect { status: 1 }),
        "character screen"
    );
    gw.send(Opcode::CMSG_PLAYER_LOGIN, &login(ALICE)).await;
    let ws = f.ws.clone();
    wait_for("loading", || ws.presence(ALICE) == Presence::Loading).await;
    gw.send(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]).await;
    let p = gw.next().await;
    assert_eq!(
        ReadyForRedirect::decode(&p.body),
        Ok(ReadyForRedirect { status: 1 }),
        "still loading: nobody in world"
    );
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
}

#[tokio::test]
async fn prepare_saves_answers_ready_0_and_kicks_100_ms_later() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.send(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]).await;
    let seen = gw.until(Opcode::TC9_SMSG_READY_FOR_REDIRECT).await;
    let ready = Instant::now();
    assert_eq!(
        ReadyForRedirect::decode(&seen[seen.len() - 1].body),
        Ok(ReadyForRedirect { status: 0 })
    );
    assert_eq!(f.ws.presence(ALICE), Presence::InWorld, "until the kick");
    gw.expect_closed().await;
    assert!(ready.elapsed() >= Duration::from_millis(100) - SLACK);
    assert_eq!(
        f.ws.presence(ALICE),
        Presence::Absent,
        "kicked, not lingering"
    );
    assert_eq!(
        count(&f.ws, |k| *k
            == WorldEventKind::Kicked {
                reason: KickReason::Redirect
            }),
        1
    );
}

#[tokio::test]
async fn a_stuck_save_leaves_prepare_unanswered_and_the_player_in_world() {
    let f = fake(timing()).await;
    f.ws.set_ignore_prepare(true);
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.send(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]).await;
    loop {
        match gw.next_within(Duration::from_millis(500)).await {
            Next::Quiet => break,
            Next::Packet(p) => assert_ne!(p.opcode, Opcode::TC9_SMSG_READY_FOR_REDIRECT),
            other => panic!("expected the world to go on, got {other:?}"),
        }
    }
    assert_eq!(f.ws.presence(ALICE), Presence::InWorld);
    assert_eq!(count(&f.ws, |k| *k == WorldEventKind::PrepareIgnored), 1);
    assert_eq!(count(&f.ws, |k| *k == WorldEventKind::Saving), 0);
    // Unstuck, the next PREPARE is answered as usual.
    f.ws.set_ignore_prepare(false);
    gw.send(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]).await;
    let seen = gw.until(Opcode::TC9_SMSG_READY_FOR_REDIRECT).await;
    assert_eq!(
        ReadyForRedirect::decode(&seen[seen.len() - 1].body),
        Ok(ReadyForRedirect { status: 0 })
    );
}

#[tokio::test]
async fn the_kick_clock_stops_while_in_limbo() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.send(Opcode::CMSG_MESSAGECHAT, &chat(".tele 1 0 0 0"))
        .await;
    gw.until(Opcode::SMSG_NEW_WORLD).await;
    gw.send(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]).await;
    let seen = gw.until(Opcode::TC9_SMSG_READY_FOR_REDIRECT).await;
    assert_eq!(
        ReadyForRedirect::decode(&seen[seen.len() - 1].body),
        Ok(ReadyForRedirect { status: 0 })
    );
    gw.expect_quiet(Duration::from_millis(300)).await;
    assert_eq!(f.ws.presence(ALICE), Presence::Limbo, "no kick in limbo");
    let ack = Instant::now();
    gw.send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]).await;
    let seen = gw.expect_closed().await;
    assert!(seen.iter().any(|p| p.opcode == Opcode::SMSG_TIME_SYNC_REQ));
    assert!(
        ack.elapsed() >= Duration::from_millis(100) - SLACK,
        "the whole kick delay runs after leaving limbo"
    );
    assert_eq!(f.ws.presence(ALICE), Presence::Absent);
}

#[tokio::test]
async fn a_shared_store_carries_the_redirect_save_to_the_next_worldserver() {
    let store = FakeCharacterStore::new();
    let ek = serve(FakeWorldserver::with_store(
        config("ws-ek", timing()),
        store.clone(),
    ))
    .await;
    let kal = serve(FakeWorldserver::with_store(
        config("ws-kal", timing()),
        store.clone(),
    ))
    .await;
    let mut gw = Gw::connect(&ek).await;
    gw.enter("A", ALICE).await;
    gw.send(Opcode::CMSG_MESSAGECHAT, &chat(".tele 1 10 20 30"))
        .await;
    gw.until(Opcode::SMSG_NEW_WORLD).await;
    gw.send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]).await;
    gw.send(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]).await;
    gw.until(Opcode::TC9_SMSG_READY_FOR_REDIRECT).await;
    gw.expect_closed().await;
    let mut next = Gw::connect(&kal).await;
    let seen = next.enter("A", ALICE).await;
    let verify = seen
        .iter()
        .find(|p| p.opcode == Opcode::SMSG_LOGIN_VERIFY_WORLD)
        .expect("sent");
    let at = LoginVerifyWorld::decode(&verify.body).expect("decodes").0;
    assert_eq!((at.map, at.position.x, at.position.z), (1, 10.0, 30.0));
    assert_eq!(store.get(ALICE).map(|a| a.map), Some(1));
}

#[tokio::test]
async fn map_reassignment_warns_twice_then_redirects_unsolicited() {
    let f = fake(timing()).await;
    let mut alice = Gw::connect(&f).await;
    alice.enter("A", ALICE).await;
    let mut bob = Gw::connect(&f).await;
    bob.enter("B", BOB).await; // on map 1
    let asked = Instant::now();
    f.ws.reassign_map(0);
    let seen = alice.until(Opcode::TC9_SMSG_READY_FOR_REDIRECT).await;
    assert!(asked.elapsed() >= Duration::from_millis(400) - SLACK);
    let chats = seen
        .iter()
        .filter(|p| p.opcode == Opcode::SMSG_MESSAGECHAT)
        .count();
    assert_eq!(chats, 2, "two warnings: {:?}", opcodes(&seen));
    let mut r = Reader::new(&seen[0].body);
    assert_eq!(r.u8("type"), Ok(0), "a system message");
    assert_eq!(
        ReadyForRedirect::decode(&seen[seen.len() - 1].body),
        Ok(ReadyForRedirect { status: 0 })
    );
    alice.expect_closed().await;
    assert_eq!(f.ws.presence(ALICE), Presence::Absent);
    assert_eq!(
        count(&f.ws, |k| *k
            == WorldEventKind::ReadyForRedirect {
                status: 0,
                unsolicited: true
            }),
        1
    );
    assert_eq!(
        count_for(&f.ws, BOB, |k| matches!(
            k,
            WorldEventKind::ReassignWarning { .. }
        )),
        0,
        "other maps are left alone"
    );
    assert_eq!(f.ws.presence(BOB), Presence::InWorld);
}

#[tokio::test]
async fn the_ready_emote_hurries_the_reassignment() {
    let f = fake(FakeTiming {
        map_reassign_warning_ms: 30_000,
        map_reassign_second_warning_ms: 25_000,
        ..timing()
    })
    .await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    f.ws.reassign_map(0);
    gw.until(Opcode::SMSG_MESSAGECHAT).await;
    let mut emote = BytesMut::new();
    emote.put_u32_le(126);
    emote.put_u32_le(0);
    emote.put_u64_le(0);
    gw.send(Opcode::CMSG_TEXT_EMOTE, &emote).await;
    let seen = gw.until(Opcode::TC9_SMSG_READY_FOR_REDIRECT).await;
    assert_eq!(
        ReadyForRedirect::decode(&seen[seen.len() - 1].body),
        Ok(ReadyForRedirect { status: 0 })
    );
    gw.expect_closed().await;
}

// ----- disconnects -----

#[tokio::test]
async fn unclean_close_in_world_lingers_then_is_saved_and_removed() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    drop(gw);
    let ws = f.ws.clone();
    wait_for("lingering", || ws.presence(ALICE) == Presence::Lingering).await;
    let since = Instant::now();
    assert_eq!(f.ws.in_world_guids(), vec![ALICE], "still in world");
    wait_for("the linger to end", || {
        ws.presence(ALICE) == Presence::Absent
    })
    .await;
    assert!(since.elapsed() >= Duration::from_millis(400) - SLACK - Duration::from_millis(50));
    assert_eq!(
        count_for(&f.ws, ALICE, |k| *k == WorldEventKind::LingerEnded),
        1
    );
}

#[tokio::test]
async fn login_of_a_lingering_character_reattaches_it_without_a_load() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    drop(gw);
    let ws = f.ws.clone();
    wait_for("lingering", || ws.presence(ALICE) == Presence::Lingering).await;
    let mut again = Gw::connect(&f).await;
    let seen = again.enter("A", ALICE).await;
    again.until(Opcode::SMSG_INIT_WORLD_STATES).await;
    assert_eq!(
        seen[0].opcode,
        Opcode::MSG_SET_DUNGEON_DIFFICULTY,
        "the full sequence"
    );
    assert_eq!(f.ws.presence(ALICE), Presence::InWorld);
    assert_eq!(
        count_for(&f.ws, ALICE, |k| *k == WorldEventKind::Reattached),
        1
    );
    assert_eq!(
        count_for(&f.ws, ALICE, |k| *k == WorldEventKind::Loading),
        1,
        "no new load"
    );
    // The old linger timer must not remove the re-attached player.
    again.expect_quiet(Duration::from_millis(500)).await;
    assert_eq!(f.ws.presence(ALICE), Presence::InWorld);
}

#[tokio::test]
async fn a_character_lingering_for_another_account_is_refused_0x4f() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    drop(gw);
    let ws = f.ws.clone();
    wait_for("lingering", || ws.presence(ALICE) == Presence::Lingering).await;
    let mut other = Gw::connect(&f).await;
    other.auth("B").await;
    other.send(Opcode::CMSG_PLAYER_LOGIN, &login(ALICE)).await;
    let p = other.next().await;
    assert_eq!(
        CharacterLoginFailed::decode(&p.body),
        Ok(CharacterLoginFailed {
            reason: LoginFailure::DUPLICATE_CHARACTER
        })
    );
    other.pong(1).await;
    assert_eq!(f.ws.presence(ALICE), Presence::Lingering);
}

#[tokio::test]
async fn closing_while_loading_or_in_limbo_removes_the_player_at_once() {
    let f = fake(FakeTiming {
        load_ms: 2_000,
        ..timing()
    })
    .await;
    let ws = f.ws.clone();
    let mut loading = Gw::connect(&f).await;
    loading.auth("A").await;
    loading.send(Opcode::CMSG_PLAYER_LOGIN, &login(ALICE)).await;
    wait_for("loading", || ws.presence(ALICE) == Presence::Loading).await;
    drop(loading);
    wait_for("removed", || ws.presence(ALICE) == Presence::Absent).await;
    assert_eq!(
        count(&ws, |k| matches!(k, WorldEventKind::Lingering { .. })),
        0,
        "never lingered"
    );

    let f = fake(timing()).await;
    let ws = f.ws.clone();
    let mut limbo = Gw::connect(&f).await;
    limbo.enter("A", ALICE).await;
    limbo
        .send(Opcode::CMSG_MESSAGECHAT, &chat(".tele 1 0 0 0"))
        .await;
    limbo.until(Opcode::SMSG_NEW_WORLD).await;
    drop(limbo);
    wait_for("removed", || ws.presence(ALICE) == Presence::Absent).await;
    assert_eq!(
        count(&ws, |k| matches!(k, WorldEventKind::Lingering { .. })),
        0,
        "never lingered"
    );
}

// ----- network thread -----

#[tokio::test]
async fn ping_overspeed_closes_and_the_player_lingers() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    let mut four = BytesMut::new();
    for seq in 1..=4 {
        four.extend_from_slice(&gw.frame(Opcode::CMSG_PING, &ping(seq)));
    }
    gw.write(&four).await;
    let seen = gw.expect_closed().await;
    let pongs: Vec<u32> = seen
        .iter()
        .filter(|p| p.opcode == Opcode::SMSG_PONG)
        .filter_map(|p| Pong::decode(&p.body).ok())
        .map(|p| p.seq)
        .collect();
    assert_eq!(
        pongs,
        [1, 2, 3],
        "the fourth fast ping closes instead of answering"
    );
    let ws = f.ws.clone();
    wait_for("lingering", || ws.presence(ALICE) == Presence::Lingering).await;
    assert_eq!(
        count(&f.ws, |k| *k
            == WorldEventKind::Closed {
                reason: CloseReason::PingOverspeed
            }),
        1
    );
}

#[tokio::test]
async fn pings_far_enough_apart_are_all_answered() {
    let f = fake(FakeTiming {
        ping_min_interval_ms: 40,
        ..timing()
    })
    .await;
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    for seq in 1..=6 {
        gw.pong(seq).await;
        // Client pacing, not a readiness wait.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn keep_alive_is_accepted_and_ignored() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    gw.send(Opcode::CMSG_KEEP_ALIVE, &[]).await;
    gw.send(Opcode::CMSG_PING, &ping(3)).await;
    assert_eq!(
        gw.next().await.opcode,
        Opcode::SMSG_PONG,
        "no reply to the keep-alive"
    );
}

#[tokio::test]
async fn idle_at_the_character_screen_closes_and_pings_do_not_count() {
    let f = fake(FakeTiming {
        idle_char_screen_ms: 300,
        ping_min_interval_ms: 1,
        ..timing()
    })
    .await;
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    let since = Instant::now();
    let mut closed = false;
    for seq in 0..20 {
        gw.send(Opcode::CMSG_PING, &ping(seq)).await;
        match gw.next_within(Duration::from_millis(100)).await {
            Next::Packet(p) if p.opcode == Opcode::SMSG_PONG => {
                // Client pacing between pings.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Next::Closed => {
                closed = true;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(closed, "idle despite the pings");
    assert!(since.elapsed() >= Duration::from_millis(300) - SLACK);
    assert_eq!(
        count(&f.ws, |k| *k
            == WorldEventKind::Closed {
                reason: CloseReason::IdleTimeout
            }),
        1
    );
}

#[tokio::test]
async fn idle_in_world_closes_after_the_last_packet_and_the_player_lingers() {
    let f = fake(FakeTiming {
        idle_in_world_ms: 300,
        ..timing()
    })
    .await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    for _ in 0..6 {
        gw.send(Opcode::MSG_MOVE_HEARTBEAT, &[0]).await;
        // Client pacing: a heartbeat every 100 ms keeps the session busy for 600 ms.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        f.ws.presence(ALICE),
        Presence::InWorld,
        "packets reset the timer"
    );
    let last = Instant::now();
    gw.expect_closed().await;
    assert!(last.elapsed() >= Duration::from_millis(200) - SLACK);
    let ws = f.ws.clone();
    wait_for("lingering", || ws.presence(ALICE) == Presence::Lingering).await;
}

// ----- logout -----

#[tokio::test]
async fn logout_is_instant_by_default_and_the_socket_stays() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.send(Opcode::CMSG_LOGOUT_REQUEST, &[]).await;
    let seen = gw.until(Opcode::SMSG_LOGOUT_COMPLETE).await;
    let response = seen
        .iter()
        .find(|p| p.opcode == Opcode::SMSG_LOGOUT_RESPONSE)
        .expect("response first");
    assert_eq!(
        LogoutResponse::decode(&response.body),
        Ok(LogoutResponse {
            result: 0,
            instant: true
        })
    );
    assert_eq!(f.ws.presence(ALICE), Presence::Absent);
    // Still connected at the character screen: log in again.
    gw.send(Opcode::CMSG_PLAYER_LOGIN, &login(ALTO)).await;
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    assert_eq!(f.ws.presence(ALTO), Presence::InWorld);
}

#[tokio::test]
async fn slow_logout_completes_after_the_delay_or_is_cancelled() {
    let f = fake(timing()).await;
    f.ws.set_instant_logout(false);
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.send(Opcode::CMSG_LOGOUT_REQUEST, &[]).await;
    let seen = gw.until(Opcode::SMSG_LOGOUT_RESPONSE).await;
    let asked = Instant::now();
    assert_eq!(
        LogoutResponse::decode(&seen[seen.len() - 1].body),
        Ok(LogoutResponse {
            result: 0,
            instant: false
        })
    );
    assert_eq!(
        f.ws.presence(ALICE),
        Presence::InWorld,
        "still in world meanwhile"
    );
    gw.until(Opcode::SMSG_LOGOUT_COMPLETE).await;
    assert!(asked.elapsed() >= Duration::from_millis(250) - SLACK);
    assert_eq!(f.ws.presence(ALICE), Presence::Absent);

    gw.send(Opcode::CMSG_PLAYER_LOGIN, &login(ALICE)).await;
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    gw.send(Opcode::CMSG_LOGOUT_REQUEST, &[]).await;
    gw.until(Opcode::SMSG_LOGOUT_RESPONSE).await;
    gw.send(Opcode::CMSG_LOGOUT_CANCEL, &[]).await;
    gw.until(Opcode::SMSG_LOGOUT_CANCEL_ACK).await;
    gw.expect_quiet(Duration::from_millis(400)).await;
    assert_eq!(f.ws.presence(ALICE), Presence::InWorld);
}

// ----- faults and knobs -----

#[tokio::test]
async fn crash_drops_everything_serve_returns_and_revive_starts_empty() {
    let mut f = fake(timing()).await;
    let (ws, addr) = (f.ws.clone(), f.addr);
    let serving = f.serving.take().expect("serving");
    let mut alice = Gw::connect(&f).await;
    alice.enter("A", ALICE).await;
    let mut bob = Gw::connect(&f).await;
    bob.enter("B", BOB).await;
    let mut carol = Gw::connect(&f).await;
    carol.enter("C", CAROL).await;
    drop(carol);
    wait_for("Carol lingering", || {
        ws.presence(CAROL) == Presence::Lingering
    })
    .await;
    ws.crash();
    assert!(
        ws.in_world_guids().is_empty(),
        "gone at once, lingering one included"
    );
    alice.expect_closed().await;
    bob.expect_closed().await;
    tokio::time::timeout(WAIT, serving)
        .await
        .expect("serve returns")
        .expect("task")
        .expect("no error");
    assert!(TcpStream::connect(addr).await.is_err(), "nobody listens");
    ws.revive();
    let again = serve(ws.clone()).await;
    assert!(again.ws.in_world_guids().is_empty());
    let mut gw = Gw::connect(&again).await;
    gw.enter("A", ALICE).await;
    assert_eq!(ws.presence(ALICE), Presence::InWorld);
}

#[tokio::test]
async fn shutdown_saves_everyone_and_closes() {
    let store = FakeCharacterStore::new();
    let f = serve(FakeWorldserver::with_store(
        config("ws-test", timing()),
        store.clone(),
    ))
    .await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.send(Opcode::CMSG_MESSAGECHAT, &chat(".tele 1 5 5 5"))
        .await;
    gw.until(Opcode::SMSG_NEW_WORLD).await;
    gw.send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]).await;
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    f.ws.shutdown();
    gw.expect_closed().await;
    assert_eq!(f.ws.presence(ALICE), Presence::Absent);
    assert_eq!(
        store.get(ALICE).map(|a| a.map),
        Some(1),
        "saved where it was"
    );
}

#[tokio::test]
async fn echo_opcode_comes_straight_back_in_world() {
    let mut cfg = config("ws-echo", timing());
    cfg.echo_opcode = Some(Opcode::MSG_MOVE_HEARTBEAT);
    let f = fake_with(cfg).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.until(Opcode::SMSG_INIT_WORLD_STATES).await;
    gw.send(Opcode::MSG_MOVE_HEARTBEAT, &[1, 2, 3, 4]).await;
    let p = gw.next().await;
    assert_eq!(
        (p.opcode, &p.body[..]),
        (Opcode::MSG_MOVE_HEARTBEAT, &[1, 2, 3, 4][..])
    );
    assert!(
        !f.ws
            .received(ALICE)
            .iter()
            .any(|(o, _)| *o == Opcode::MSG_MOVE_HEARTBEAT),
        "echoes are not logged"
    );
}

#[tokio::test]
async fn push_reaches_only_a_player_that_is_online() {
    let f = fake(timing()).await;
    assert!(
        !f.ws
            .push(ALICE, Opcode::SMSG_MESSAGECHAT, Bytes::from_static(b"x"))
    );
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    assert!(f.ws.push(ALICE, Opcode(0x123), Bytes::from_static(b"pushed")));
    let seen = gw.until(Opcode(0x123)).await;
    assert_eq!(&seen[seen.len() - 1].body[..], b"pushed");
    drop(gw);
    let ws = f.ws.clone();
    wait_for("lingering", || ws.presence(ALICE) == Presence::Lingering).await;
    assert!(
        !f.ws.push(ALICE, Opcode(0x123), Bytes::new()),
        "no socket to push to"
    );
}

#[tokio::test]
async fn a_slow_world_delays_what_it_handles_but_not_pings() {
    let f = fake(timing()).await;
    f.ws.set_world_update_ms(300);
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    let mut both = gw.frame(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]);
    both.extend_from_slice(&gw.frame(Opcode::CMSG_PING, &ping(9)));
    let sent = Instant::now();
    gw.write(&both).await;
    assert_eq!(
        gw.next().await.opcode,
        Opcode::SMSG_PONG,
        "the network thread answers first"
    );
    let p = gw.next().await;
    assert_eq!(p.opcode, Opcode::TC9_SMSG_READY_FOR_REDIRECT);
    assert!(sent.elapsed() >= Duration::from_millis(300) - SLACK);
}

#[tokio::test]
async fn latency_delays_every_batch() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    f.ws.set_latency_ms(200);
    let sent = Instant::now();
    gw.pong(4).await;
    assert!(sent.elapsed() >= Duration::from_millis(200) - SLACK);
}

// ----- character screen -----

fn create_body(name: &str) -> Bytes {
    CharCreate {
        name: name.into(),
        appearance: [1, 1, 0, 0, 0, 0, 0, 0, 0],
    }
    .to_body()
}

impl Gw {
    /// A character-screen request and its one-byte-led answer.
    async fn char_request(&mut self, opcode: Opcode, body: &[u8], answer: Opcode) -> Packet {
        self.send(opcode, body).await;
        let p = self.next().await;
        assert_eq!(p.opcode, answer);
        p
    }
}

fn named(ws: &FakeWorldserver, name: &str) -> Option<FakeCharacter> {
    ws.characters().into_iter().find(|c| c.name == name)
}

#[tokio::test]
async fn char_create_stores_the_character_and_a_taken_name_is_in_use() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    let create = |name: &str| create_body(name);
    let p = gw
        .char_request(
            Opcode::CMSG_CHAR_CREATE,
            &create("dORA"),
            Opcode::SMSG_CHAR_CREATE,
        )
        .await;
    assert_eq!(p.body.as_ref(), [0x2F]);
    let dora = named(&f.ws, "Dora").expect("stored under the normalized name");
    assert_eq!((dora.guid, dora.account.as_str()), (CAROL + 1, "A"));
    for (name, code) in [("DORA", 0x32), ("alice", 0x32), ("", 0x59)] {
        let p = gw
            .char_request(
                Opcode::CMSG_CHAR_CREATE,
                &create(name),
                Opcode::SMSG_CHAR_CREATE,
            )
            .await;
        assert_eq!(p.body.as_ref(), [code], "{name:?}");
    }
    assert_eq!(f.ws.characters().len(), 6);
    // The new character logs in on map 0.
    gw.send(Opcode::CMSG_PLAYER_LOGIN, &login(dora.guid)).await;
    let seen = gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    let verify = seen
        .iter()
        .find(|p| p.opcode == Opcode::SMSG_LOGIN_VERIFY_WORLD)
        .expect("verify world");
    assert_eq!(
        LoginVerifyWorld::decode(&verify.body).map(|v| v.0.map),
        Ok(0)
    );
}

#[tokio::test]
async fn char_delete_deletes_the_accounts_character_and_is_silent_otherwise() {
    let f = fake(timing()).await;
    let mut lingering = Gw::connect(&f).await;
    lingering.enter("C", CAROL).await;
    let mut gw = Gw::connect(&f).await;
    // Account C's second connection takes over: Carol lingers.
    gw.auth("C").await;
    wait_for("Carol lingers", || {
        f.ws.presence(CAROL) == Presence::Lingering
    })
    .await;
    for guid in [CAROL, BOB, NOBODY] {
        gw.send(Opcode::CMSG_CHAR_DELETE, &CharDelete { guid }.to_body())
            .await;
        gw.expect_quiet(QUIET).await;
    }
    assert_eq!(
        count(&f.ws, |k| matches!(
            k,
            WorldEventKind::CharRequestRefused { code: None, .. }
        )),
        3
    );
    assert!(f.ws.characters().iter().any(|c| c.guid == BOB));
    let mut a = Gw::connect(&f).await;
    a.auth("A").await;
    let p = a
        .char_request(
            Opcode::CMSG_CHAR_DELETE,
            &CharDelete { guid: ALTO }.to_body(),
            Opcode::SMSG_CHAR_DELETE,
        )
        .await;
    assert_eq!(p.body.as_ref(), [0x47]);
    assert!(f.ws.characters().iter().all(|c| c.guid != ALTO));
}

#[tokio::test]
async fn char_rename_answers_the_new_name_or_create_error() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.auth("A").await;
    let rename = |guid: u64, name: &str| {
        CharRename {
            guid,
            name: name.into(),
        }
        .to_body()
    };
    let p = gw
        .char_request(
            Opcode::CMSG_CHAR_RENAME,
            &rename(ALICE, "alicia"),
            Opcode::SMSG_CHAR_RENAME,
        )
        .await;
    assert_eq!(
        CharRenameResult::decode(&p.body),
        Ok(CharRenameResult::Renamed {
            guid: ALICE,
            name: "Alicia".into()
        })
    );
    assert_eq!(named(&f.ws, "Alicia").map(|c| c.guid), Some(ALICE));
    for (guid, name, code) in [
        (ALTO, "Alicia", 0x30),
        (BOB, "Robert", 0x30),
        (ALTO, "", 0x59),
    ] {
        let p = gw
            .char_request(
                Opcode::CMSG_CHAR_RENAME,
                &rename(guid, name),
                Opcode::SMSG_CHAR_RENAME,
            )
            .await;
        assert_eq!(
            CharRenameResult::decode(&p.body),
            Ok(CharRenameResult::Refused(code))
        );
    }
}

#[tokio::test]
async fn fakes_sharing_a_store_see_each_others_creations_and_deletions() {
    let store = FakeCharacterStore::new();
    let ek = serve(FakeWorldserver::with_store(
        config("ws-ek", timing()),
        store.clone(),
    ))
    .await;
    let kal = serve(FakeWorldserver::with_store(
        config("ws-kal", timing()),
        store.clone(),
    ))
    .await;
    let mut gw = Gw::connect(&ek).await;
    gw.auth("A").await;
    gw.char_request(
        Opcode::CMSG_CHAR_CREATE,
        &create_body("Dora"),
        Opcode::SMSG_CHAR_CREATE,
    )
    .await;
    let dora = named(&kal.ws, "Dora").expect("the other fake sees it");
    let mut other = Gw::connect(&kal).await;
    other.auth("A").await;
    let p = other
        .char_request(
            Opcode::CMSG_CHAR_DELETE,
            &CharDelete { guid: dora.guid }.to_body(),
            Opcode::SMSG_CHAR_DELETE,
        )
        .await;
    assert_eq!(p.body.as_ref(), [0x47]);
    assert!(named(&ek.ws, "Dora").is_none());
    assert!(store.character(dora.guid).is_none());
}

#[tokio::test]
async fn char_screen_opcodes_with_a_player_in_world_get_no_answer() {
    let f = fake(timing()).await;
    let mut gw = Gw::connect(&f).await;
    gw.enter("A", ALICE).await;
    gw.send(Opcode::CMSG_CHAR_CREATE, &create_body("Dora"))
        .await;
    gw.send(
        Opcode::CMSG_CHAR_DELETE,
        &CharDelete { guid: ALTO }.to_body(),
    )
    .await;
    gw.pong(1).await;
    assert!(named(&f.ws, "Dora").is_none());
    assert!(f.ws.characters().iter().any(|c| c.guid == ALTO));
}
