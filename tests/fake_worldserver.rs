//! Pins every behaviour of the fake cluster-mode worldserver (PROTOCOL.md section 3) with a
//! raw test client on loopback. Timings are shortened through `FakeTiming`; waits are bounded.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use waygate::peers::worldserver::{
    FakeCharacter, FakeTiming, FakeWorldConfig, FakeWorldserver, Presence,
};
use waygate::wire::auth::{AddonList, AuthResponse, AuthResult, AuthSession, AuthSessionFields};
use waygate::wire::codec::WriteExt;
use waygate::wire::packets::{
    Ping, PlayerLogin, Position, ReadyForRedirect, TimeSyncReq, WirePacket,
};
use waygate::wire::{ClientHeaderEncoder, Decoded, Opcode, Packet, ServerHeaderDecoder};

const ALICE: u64 = 7;
const BROKEN: u64 = 8;
/// Longest wait for anything in this file.
const WAIT: Duration = Duration::from_secs(10);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(250);

fn timing() -> FakeTiming {
    FakeTiming {
        account_lookup_ms: 30,
        linger_ms: 400,
        logout_delay_ms: 200,
        map_reassign_warning_ms: 300,
        map_reassign_second_warning_ms: 150,
        ..FakeTiming::default()
    }
}

async fn fake_with(t: FakeTiming, echo: Option<Opcode>) -> (FakeWorldserver, std::net::SocketAddr) {
    let fake = FakeWorldserver::new(FakeWorldConfig {
        id: "ws-test".into(),
        accounts: vec!["ALICE".into()],
        characters: vec![
            FakeCharacter {
                guid: ALICE,
                account: "ALICE".into(),
                name: "Alice".into(),
                map: 0,
                position: Position::default(),
                loads: true,
            },
            FakeCharacter {
                guid: BROKEN,
                account: "ALICE".into(),
                name: "Broken".into(),
                map: 0,
                position: Position::default(),
                loads: false,
            },
        ],
        timing: t,
        echo_opcode: echo,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let serving = fake.clone();
    tokio::spawn(async move {
        let _ = serving.serve(listener).await;
    });
    (fake, addr)
}

async fn fake() -> (FakeWorldserver, std::net::SocketAddr) {
    fake_with(timing(), None).await
}

#[derive(Debug)]
enum Next {
    Packet(Packet),
    Closed,
    Quiet,
}

struct Gw {
    fake: FakeWorldserver,
    s: TcpStream,
    enc: ClientHeaderEncoder,
    dec: ServerHeaderDecoder,
}

impl Gw {
    async fn connect(fake: &FakeWorldserver, addr: std::net::SocketAddr) -> Self {
        Self {
            fake: fake.clone(),
            s: TcpStream::connect(addr).await.expect("connect"),
            enc: ClientHeaderEncoder::plain(),
            dec: ServerHeaderDecoder::for_worldserver(1 << 22),
        }
    }

    async fn next_within(&mut self, within: Duration) -> Next {
        let until = tokio::time::Instant::now() + within;
        loop {
            if let Decoded::Packet(p) = self.dec.decode().expect("the fake frames correctly") {
                return Next::Packet(p);
            }
            let left = until.saturating_duration_since(tokio::time::Instant::now());
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

    async fn until(&mut self, opcode: Opcode) -> Vec<Opcode> {
        let mut seen = Vec::new();
        loop {
            let p = self.next().await;
            seen.push(p.opcode);
            if p.opcode == opcode {
                return seen;
            }
        }
    }

    async fn expect_closed(&mut self) {
        loop {
            match self.next_within(WAIT).await {
                Next::Closed => return,
                Next::Packet(_) => {}
                Next::Quiet => panic!("the fake did not close the connection"),
            }
        }
    }

    async fn expect_quiet(&mut self) {
        if let Next::Packet(p) = self.next_within(QUIET).await {
            panic!("expected silence, got {}", p.opcode);
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

    async fn send(&mut self, opcode: Opcode, body: &[u8]) {
        let b = self.frame(opcode, body);
        self.write(&b).await;
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

    /// Challenge, replayed auth (accepted silently). Returns once the fake has read the auth
    /// session, so what is sent next is a read of its own (no pipelining quirk).
    async fn auth(&mut self) {
        assert_eq!(self.next().await.opcode, Opcode::SMSG_AUTH_CHALLENGE);
        let before = self.authentications();
        let body = Self::auth_body("ALICE", AddonList::default().encode_block());
        self.send(Opcode::CMSG_AUTH_SESSION, &body).await;
        let fake = self.fake.clone();
        wait_for("the fake read the auth session", || {
            fake.events()
                .iter()
                .filter(|e| e.what.contains("authenticated"))
                .count()
                > before
        })
        .await;
    }

    fn authentications(&self) -> usize {
        self.fake
            .events()
            .iter()
            .filter(|e| e.what.contains("authenticated"))
            .count()
    }

    /// Auth, then the login as its own write; in world on return.
    async fn enter(&mut self, guid: u64) -> Vec<Opcode> {
        self.auth().await;
        self.send(PlayerLogin::OPCODE, &PlayerLogin { guid }.to_body())
            .await;
        self.until(Opcode::SMSG_TIME_SYNC_REQ).await
    }
}

async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let until = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn chat(text: &str) -> BytesMut {
    let mut b = BytesMut::new();
    b.put_u32_le(1);
    b.put_u32_le(0);
    b.put_cstr(text);
    b
}

#[tokio::test]
async fn challenge_comes_first_with_the_fixed_header() {
    let (_f, addr) = fake().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut head = [0u8; 44];
    tokio::time::timeout(WAIT, s.read_exact(&mut head))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(&head[..4], &[0x00, 0x2A, 0xEC, 0x01]);
    assert_eq!(&head[4..8], &[1, 0, 0, 0]);
}

#[tokio::test]
async fn accepted_auth_session_gets_no_reply() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.auth().await;
    gw.expect_quiet().await;
}

#[tokio::test]
async fn unknown_account_gets_0x15_then_close() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.next().await;
    gw.send(
        Opcode::CMSG_AUTH_SESSION,
        &Gw::auth_body("MALLORY", AddonList::default().encode_block()),
    )
    .await;
    let p = gw.next().await;
    assert_eq!(
        AuthResponse::decode(&p.body),
        Ok(AuthResponse::Failed(AuthResult::UNKNOWN_ACCOUNT))
    );
    gw.expect_closed().await;
}

#[tokio::test]
async fn closed_world_refuses_with_0x0e() {
    let (f, addr) = fake().await;
    f.set_refuse_logins(true);
    let mut gw = Gw::connect(&f, addr).await;
    gw.next().await;
    gw.send(
        Opcode::CMSG_AUTH_SESSION,
        &Gw::auth_body("ALICE", AddonList::default().encode_block()),
    )
    .await;
    let p = gw.next().await;
    assert_eq!(
        AuthResponse::decode(&p.body),
        Ok(AuthResponse::Failed(AuthResult::REJECT))
    );
    gw.expect_closed().await;
}

#[tokio::test]
async fn ping_before_auth_closes() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.next().await;
    gw.send(
        Opcode::CMSG_PING,
        &Ping {
            seq: 1,
            latency_ms: 0,
        }
        .to_body(),
    )
    .await;
    gw.expect_closed().await;
}

#[tokio::test]
async fn second_auth_session_closes() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.auth().await;
    gw.send(
        Opcode::CMSG_AUTH_SESSION,
        &Gw::auth_body("ALICE", AddonList::default().encode_block()),
    )
    .await;
    gw.expect_closed().await;
}

#[tokio::test]
async fn empty_addon_blob_closes() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.next().await;
    gw.send(
        Opcode::CMSG_AUTH_SESSION,
        &Gw::auth_body("ALICE", Bytes::new()),
    )
    .await;
    gw.expect_closed().await;
}

#[tokio::test]
async fn cluster_opcode_limit_closes() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.auth().await;
    gw.send(Opcode(0x521), &[]).await;
    gw.expect_closed().await;
}

#[tokio::test]
async fn login_pipelined_with_the_auth_session_waits_for_more_bytes() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.next().await;
    let mut both = gw.frame(
        Opcode::CMSG_AUTH_SESSION,
        &Gw::auth_body("ALICE", AddonList::default().encode_block()),
    );
    both.extend_from_slice(&gw.frame(PlayerLogin::OPCODE, &PlayerLogin { guid: ALICE }.to_body()));
    gw.write(&both).await;
    gw.expect_quiet().await;
    assert_eq!(
        f.presence(ALICE),
        Presence::Absent,
        "the login is still unparsed"
    );
    gw.send(Opcode::CMSG_KEEP_ALIVE, &[]).await;
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    assert_eq!(f.presence(ALICE), Presence::InWorld);
}

#[tokio::test]
async fn login_sequence_in_order_ends_in_world_at_time_sync_zero() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    let seen = gw.enter(ALICE).await;
    assert_eq!(seen[0], Opcode::MSG_SET_DUNGEON_DIFFICULTY);
    let pos = |op: Opcode| seen.iter().position(|o| *o == op).expect("present");
    assert!(pos(Opcode::SMSG_LOGIN_VERIFY_WORLD) < pos(Opcode::SMSG_ACCOUNT_DATA_TIMES));
    assert!(pos(Opcode::SMSG_ACCOUNT_DATA_TIMES) < pos(Opcode::SMSG_FEATURE_SYSTEM_STATUS));
    assert!(pos(Opcode::SMSG_MOTD) < pos(Opcode::SMSG_LEARNED_DANCE_MOVES));
    assert!(pos(Opcode::SMSG_COMPRESSED_UPDATE_OBJECT) < pos(Opcode::SMSG_TIME_SYNC_REQ));
    assert_eq!(f.presence(ALICE), Presence::InWorld);
    assert_eq!(gw.next().await.opcode, Opcode::SMSG_INIT_WORLD_STATES);
}

#[tokio::test]
async fn time_sync_counter_starts_at_zero() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.auth().await;
    gw.send(PlayerLogin::OPCODE, &PlayerLogin { guid: ALICE }.to_body())
        .await;
    loop {
        let p = gw.next().await;
        if p.opcode == Opcode::SMSG_TIME_SYNC_REQ {
            assert_eq!(TimeSyncReq::decode(&p.body), Ok(TimeSyncReq { counter: 0 }));
            break;
        }
    }
}

#[tokio::test]
async fn character_that_fails_to_load_closes_with_no_packet() {
    for guid in [BROKEN, 999] {
        let (f, addr) = fake().await;
        let mut gw = Gw::connect(&f, addr).await;
        gw.auth().await;
        gw.send(PlayerLogin::OPCODE, &PlayerLogin { guid }.to_body())
            .await;
        assert!(
            matches!(gw.next_within(WAIT).await, Next::Closed),
            "closed without a packet"
        );
        assert_eq!(f.presence(guid), Presence::Absent);
    }
}

#[tokio::test]
async fn logged_in_opcodes_are_dropped_while_loading() {
    let (f, addr) = fake().await;
    f.set_world_update_ms(200);
    let mut gw = Gw::connect(&f, addr).await;
    gw.auth().await;
    gw.send(PlayerLogin::OPCODE, &PlayerLogin { guid: ALICE }.to_body())
        .await;
    wait_for("loading", || f.presence(ALICE) == Presence::Loading).await;
    gw.send(Opcode::MSG_MOVE_HEARTBEAT, &[1, 2, 3]).await;
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    gw.send(Opcode::MSG_MOVE_HEARTBEAT, &[4, 5, 6]).await;
    wait_for("the in-world packet", || !f.received(ALICE).is_empty()).await;
    let got: Vec<Bytes> = f.received(ALICE).into_iter().map(|(_, b)| b).collect();
    assert_eq!(got, vec![Bytes::from_static(&[4, 5, 6])]);
}

#[tokio::test]
async fn teleport_limbo_and_worldport_ack_rerun_the_login() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.enter(ALICE).await;
    gw.send(Opcode::CMSG_MESSAGECHAT, &chat(".tele 1 10 20 30"))
        .await;
    let seen = gw.until(Opcode::SMSG_NEW_WORLD).await;
    assert!(seen.contains(&Opcode::SMSG_TRANSFER_PENDING));
    wait_for("limbo", || f.presence(ALICE) == Presence::Limbo).await;
    // Dropped in limbo.
    gw.send(Opcode::MSG_MOVE_HEARTBEAT, &[9]).await;
    gw.send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]).await;
    let again = gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    assert!(again.contains(&Opcode::SMSG_LOGIN_VERIFY_WORLD));
    assert_eq!(f.presence(ALICE), Presence::InWorld);
    assert!(
        !f.received(ALICE)
            .iter()
            .any(|(op, _)| *op == Opcode::MSG_MOVE_HEARTBEAT)
    );
}

#[tokio::test]
async fn prepare_with_nobody_in_world_is_refused_at_once() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.auth().await;
    gw.send(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]).await;
    let p = gw.next().await;
    assert_eq!(
        ReadyForRedirect::decode(&p.body),
        Ok(ReadyForRedirect { status: 1 })
    );
}

#[tokio::test]
async fn prepare_saves_answers_ready_and_kicks_100_ms_later() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.enter(ALICE).await;
    gw.send(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]).await;
    gw.until(Opcode::TC9_SMSG_READY_FOR_REDIRECT).await;
    let ready_at = tokio::time::Instant::now();
    gw.expect_closed().await;
    assert!(
        ready_at.elapsed() >= Duration::from_millis(90),
        "the kick comes about 100 ms after READY"
    );
    assert_eq!(
        f.presence(ALICE),
        Presence::Absent,
        "a kicked player does not linger"
    );
}

#[tokio::test]
async fn the_kick_waits_while_in_limbo() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.enter(ALICE).await;
    gw.send(Opcode::CMSG_MESSAGECHAT, &chat(".tele 1 0 0 0"))
        .await;
    gw.until(Opcode::SMSG_NEW_WORLD).await;
    gw.send(Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT, &[]).await;
    gw.until(Opcode::TC9_SMSG_READY_FOR_REDIRECT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(f.presence(ALICE), Presence::Limbo, "no kick in limbo");
    gw.send(Opcode::MSG_MOVE_WORLDPORT_ACK, &[]).await;
    gw.expect_closed().await;
    assert_eq!(f.presence(ALICE), Presence::Absent);
}

#[tokio::test]
async fn unclean_close_lingers_then_relogin_reattaches() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.enter(ALICE).await;
    drop(gw);
    wait_for("lingering", || f.presence(ALICE) == Presence::Lingering).await;
    let mut again = Gw::connect(&f, addr).await;
    again.enter(ALICE).await;
    assert_eq!(f.presence(ALICE), Presence::InWorld);
    assert!(f.events().iter().any(|e| e.what.contains("re-attached")));
}

#[tokio::test]
async fn linger_expires() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.enter(ALICE).await;
    drop(gw);
    wait_for("lingering", || f.presence(ALICE) == Presence::Lingering).await;
    let since = tokio::time::Instant::now();
    wait_for("linger expiry", || f.presence(ALICE) == Presence::Absent).await;
    assert!(since.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn ping_overspeed_closes() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.enter(ALICE).await;
    for seq in 1..=4 {
        gw.send(Opcode::CMSG_PING, &Ping { seq, latency_ms: 0 }.to_body())
            .await;
    }
    let mut pongs = 0;
    loop {
        match gw.next_within(WAIT).await {
            Next::Packet(p) if p.opcode == Opcode::SMSG_PONG => pongs += 1,
            Next::Packet(_) => {}
            Next::Closed => break,
            Next::Quiet => panic!("not closed"),
        }
    }
    assert_eq!(pongs, 3, "the fourth fast ping closes instead of answering");
}

#[tokio::test]
async fn logout_instant_and_delayed_keep_the_socket_at_the_character_screen() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.enter(ALICE).await;
    gw.send(Opcode::CMSG_LOGOUT_REQUEST, &[]).await;
    let seen = gw.until(Opcode::SMSG_LOGOUT_COMPLETE).await;
    assert!(seen.contains(&Opcode::SMSG_LOGOUT_RESPONSE));
    assert_eq!(f.presence(ALICE), Presence::Absent);
    // Still connected: log in again, then a delayed logout.
    gw.send(PlayerLogin::OPCODE, &PlayerLogin { guid: ALICE }.to_body())
        .await;
    gw.until(Opcode::SMSG_TIME_SYNC_REQ).await;
    f.set_instant_logout(false);
    gw.send(Opcode::CMSG_LOGOUT_REQUEST, &[]).await;
    gw.until(Opcode::SMSG_LOGOUT_RESPONSE).await;
    let asked = tokio::time::Instant::now();
    gw.until(Opcode::SMSG_LOGOUT_COMPLETE).await;
    assert!(asked.elapsed() >= Duration::from_millis(180));
}

#[tokio::test]
async fn same_account_again_closes_the_old_socket_and_the_player_lingers() {
    let (f, addr) = fake().await;
    let mut first = Gw::connect(&f, addr).await;
    first.enter(ALICE).await;
    let mut second = Gw::connect(&f, addr).await;
    second.auth().await;
    first.expect_closed().await;
    wait_for("lingering", || f.presence(ALICE) == Presence::Lingering).await;
}

#[tokio::test]
async fn crash_drops_everyone_and_nothing_lingers() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.enter(ALICE).await;
    f.crash();
    gw.expect_closed().await;
    assert_eq!(f.presence(ALICE), Presence::Absent);
    assert!(f.in_world_guids().is_empty());
}

#[tokio::test]
async fn map_reassignment_warns_then_redirects_and_kicks() {
    let (f, addr) = fake().await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.enter(ALICE).await;
    let asked = tokio::time::Instant::now();
    f.reassign_map(0);
    let seen = gw.until(Opcode::TC9_SMSG_READY_FOR_REDIRECT).await;
    assert!(asked.elapsed() >= Duration::from_millis(280));
    assert!(
        seen.iter()
            .filter(|o| **o == Opcode::SMSG_MESSAGECHAT)
            .count()
            >= 2,
        "two warnings"
    );
    gw.expect_closed().await;
    assert_eq!(f.presence(ALICE), Presence::Absent);
}

#[tokio::test]
async fn ready_emote_hurries_the_reassignment() {
    let t = FakeTiming {
        map_reassign_warning_ms: 30_000,
        map_reassign_second_warning_ms: 25_000,
        ..timing()
    };
    let (f, addr) = fake_with(t, None).await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.enter(ALICE).await;
    f.reassign_map(0);
    gw.until(Opcode::SMSG_MESSAGECHAT).await;
    gw.send(Opcode::CMSG_TEXT_EMOTE, &[126, 0, 0, 0, 0, 0, 0, 0])
        .await;
    gw.until(Opcode::TC9_SMSG_READY_FOR_REDIRECT).await;
}

#[tokio::test]
async fn echo_opcode_comes_back() {
    let (f, addr) = fake_with(timing(), Some(Opcode::MSG_MOVE_HEARTBEAT)).await;
    let mut gw = Gw::connect(&f, addr).await;
    gw.enter(ALICE).await;
    gw.send(Opcode::MSG_MOVE_HEARTBEAT, &[1, 2, 3, 4]).await;
    loop {
        let p = gw.next().await;
        if p.opcode == Opcode::MSG_MOVE_HEARTBEAT {
            assert_eq!(&p.body[..], &[1, 2, 3, 4]);
            break;
        }
    }
}
