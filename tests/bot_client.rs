//! The bot client against a scripted stand-in for the gateway, on real sockets: the
//! handshake (digest, refusal, queue), the character screen, login, chatter, map change,
//! logout, the independent header check (diverged cipher, cluster opcodes, insane sizes, judged
//! before the body arrives), timeouts naming the step, and the bounded packet log.
//!
//! The stand-in is written with the wire codecs only: a plain [`ServerHeaderEncoder`] whose
//! headers it encrypts with `ServerCiphers::new(key).outbound` after the challenge (so it can
//! also craft headers no encoder would produce), and [`ClientHeaderDecoder::for_client`] with
//! the inbound cipher after CMSG_AUTH_SESSION.

use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use waygate::peers::bot::{
    BotConfig, BotError, BotReport, BotStep, MOVEMENT_INFO_BYTES, RECEIVED_LOG_MAX, run_bot,
};
use waygate::wire::auth::{AuthChallenge, AuthResponse, AuthResult, AuthSession, Billing};
use waygate::wire::codec::Reader;
use waygate::wire::packets::{
    AccountDataTimes, AddonAnswer, AddonInfo, CharEnum, CharacterLoginFailed, ClientCacheVersion,
    EnumCharacter, LoginFailure, LoginVerifyWorld, LogoutResponse, MapPosition, NewWorld,
    PlayerLogin, Position, RealmSplit, RealmSplitRequest, TimeSyncReq, TimeSyncResp,
    TransferAborted, TransferPending, TutorialFlags,
};
use waygate::wire::{
    ClientHeaderDecoder, Decoded, HeaderCipher, Opcode, Packet, ServerCiphers, ServerHeaderEncoder,
    SessionKey, WirePacket,
};

/// Longest any one test waits for anything.
const WAIT: Duration = Duration::from_secs(5);
const KEY: SessionKey = SessionKey([3; 40]);
const SERVER_SEED: u32 = 0xDEAD_BEEF;
const GUID: u64 = 0x42;

fn config(script: Vec<BotStep>) -> BotConfig {
    BotConfig {
        realm_id: 7,
        seed: 9,
        step_timeout_ms: 2_000,
        max_body_bytes: 1 << 20,
        ..BotConfig::new("BOT", KEY, GUID, script)
    }
}

/// The gateway's side of one connection.
struct Gw {
    s: TcpStream,
    enc: ServerHeaderEncoder,
    cipher: Option<HeaderCipher>,
    dec: ClientHeaderDecoder,
}

impl Gw {
    /// Accepts, sends the challenge in the clear, reads CMSG_AUTH_SESSION and starts both
    /// ciphers with `server_key`.
    async fn accept(listener: TcpListener, server_key: &SessionKey) -> (Self, AuthSession) {
        let (s, _) = tokio::time::timeout(WAIT, listener.accept())
            .await
            .expect("the bot connects")
            .expect("accept");
        let mut gw = Self {
            s,
            enc: ServerHeaderEncoder::plain(),
            cipher: None,
            dec: ClientHeaderDecoder::for_client(),
        };
        let mut body = BytesMut::new();
        AuthChallenge {
            server_seed: SERVER_SEED,
            seed_bytes: [7; 32],
        }
        .encode(&mut body);
        gw.send(Opcode::SMSG_AUTH_CHALLENGE, &body).await;
        let p = gw.expect(Opcode::CMSG_AUTH_SESSION).await;
        let auth = AuthSession::decode(p.body).expect("a well-formed auth session");
        let ciphers = ServerCiphers::new(server_key);
        gw.cipher = Some(ciphers.outbound);
        gw.dec.start_cipher(ciphers.inbound);
        (gw, auth)
    }

    /// Accepts with the right key and answers AUTH_OK.
    async fn accept_ok(listener: TcpListener) -> (Self, AuthSession) {
        let (mut gw, auth) = Self::accept(listener, &KEY).await;
        assert!(auth.verify(SERVER_SEED, &KEY), "the bot's digest proves K");
        gw.send(Opcode::SMSG_AUTH_RESPONSE, &auth_body(AuthResponse::ok()))
            .await;
        (gw, auth)
    }

    /// What the gateway sends after AUTH_OK: SMSG_ADDON_INFO, SMSG_CLIENTCACHE_VERSION,
    /// SMSG_TUTORIAL_FLAGS, in one write.
    async fn auth_extras(&mut self) {
        let answer = AddonAnswer {
            state: 2,
            crc_checked: true,
            public_key: None,
            unknown: 0,
            url: None,
        };
        let mut info = BytesMut::new();
        AddonInfo {
            answers: vec![answer.clone(), answer],
        }
        .encode(&mut info);
        let mut wire = self.header(Opcode::SMSG_ADDON_INFO, info.len());
        wire.extend_from_slice(&info);
        for (op, body) in [
            (
                ClientCacheVersion::OPCODE,
                ClientCacheVersion { version: 0 }.to_body(),
            ),
            (TutorialFlags::OPCODE, TutorialFlags::default().to_body()),
        ] {
            wire.extend(self.header(op, body.len()));
            wire.extend_from_slice(&body);
        }
        self.write(&wire).await;
    }

    /// The header bytes as they go on the wire (encrypted once the cipher runs).
    fn header(&mut self, opcode: Opcode, body_len: usize) -> Vec<u8> {
        let h = self.enc.header(opcode, body_len).expect("header fits");
        self.encrypt(h.as_slice())
    }

    /// Passes arbitrary header bytes through the outbound cipher.
    fn encrypt(&mut self, header: &[u8]) -> Vec<u8> {
        let mut h = header.to_vec();
        if let Some(c) = &mut self.cipher {
            c.apply(&mut h);
        }
        h
    }

    /// Writes and flushes. Errors are ignored: the bot may already have stopped (that is
    /// what some tests provoke), and what it saw is judged from its report.
    async fn write(&mut self, bytes: &[u8]) {
        let _ = self.s.write_all(bytes).await;
        let _ = self.s.flush().await;
    }

    /// Sends a packet; returns its wire bytes.
    async fn send(&mut self, opcode: Opcode, body: &[u8]) -> Vec<u8> {
        let mut wire = self.header(opcode, body.len());
        wire.extend_from_slice(body);
        self.write(&wire).await;
        wire
    }

    async fn send_packet<P: WirePacket>(&mut self, p: &P) {
        self.send(P::OPCODE, &p.to_body()).await;
    }

    /// The next client packet.
    async fn recv(&mut self) -> Packet {
        loop {
            if let Decoded::Packet(p) = self.dec.decode().expect("the bot frames correctly") {
                return p;
            }
            let n = tokio::time::timeout(WAIT, self.s.read_buf(self.dec.buffer_mut()))
                .await
                .expect("the bot sends in time")
                .expect("read");
            assert!(n > 0, "the bot closed early");
        }
    }

    /// The next client packet, which must be `opcode`.
    async fn expect(&mut self, opcode: Opcode) -> Packet {
        let p = self.recv().await;
        assert_eq!(p.opcode, opcode, "next client packet");
        p
    }

    /// The character screen: the three requests, answered with `characters` listed.
    async fn character_screen(&mut self, characters: &[u64]) {
        self.expect(Opcode::CMSG_READY_FOR_ACCOUNT_DATA_TIMES).await;
        self.expect(Opcode::CMSG_CHAR_ENUM).await;
        let split = self.expect(Opcode::CMSG_REALM_SPLIT).await;
        let decision = RealmSplitRequest::decode(&split.body)
            .expect("u32")
            .decision;
        // Unsolicited, before any answer: the bot answers it in this step too.
        self.send_packet(&TimeSyncReq { counter: 77 }).await;
        self.send_packet(&AccountDataTimes {
            unix_time: 1_700_000_000,
            mask: 0x15,
            times: [0; 8],
        })
        .await;
        self.send_packet(&CharEnum {
            characters: characters
                .iter()
                .map(|&guid| EnumCharacter {
                    guid,
                    name: format!("Bot{guid}"),
                    level: 80,
                    ..EnumCharacter::default()
                })
                .collect(),
        })
        .await;
        self.send_packet(&RealmSplit {
            decision,
            state: 0,
            date: "01/01/01".into(),
        })
        .await;
        let r = self.expect(Opcode::CMSG_TIME_SYNC_RESP).await;
        assert_eq!(TimeSyncResp::decode(&r.body).expect("body").counter, 77);
    }

    /// CMSG_PLAYER_LOGIN for GUID, then the worldserver's login sequence, in world at
    /// TIME_SYNC_REQ 0.
    async fn login(&mut self) {
        let p = self.expect(Opcode::CMSG_PLAYER_LOGIN).await;
        assert_eq!(PlayerLogin::decode(&p.body).expect("guid").guid, GUID);
        self.send_packet(&LoginVerifyWorld(map_position(571, 100.0, 200.0, 30.0)))
            .await;
        self.send_packet(&AccountDataTimes {
            unix_time: 1_700_000_000,
            mask: 0xEA,
            times: [0; 8],
        })
        .await;
        self.send(Opcode::SMSG_MOTD, &[1, 0, 0, 0, b'h', b'i', 0])
            .await;
        self.in_world(0).await;
    }

    /// TIME_SYNC_REQ `counter`, answered.
    async fn in_world(&mut self, counter: u32) {
        self.send_packet(&TimeSyncReq { counter }).await;
        let r = self.expect(Opcode::CMSG_TIME_SYNC_RESP).await;
        assert_eq!(
            TimeSyncResp::decode(&r.body).expect("body").counter,
            counter
        );
    }

    /// Every client packet until the bot closes the socket.
    async fn finish(mut self) -> Vec<Packet> {
        let mut got = Vec::new();
        loop {
            while let Ok(Decoded::Packet(p)) = self.dec.decode() {
                got.push(p);
            }
            match tokio::time::timeout(WAIT, self.s.read_buf(self.dec.buffer_mut())).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => return got,
                Err(_) => panic!("the bot did not close its socket"),
            }
        }
    }
}

fn auth_body(r: AuthResponse) -> Vec<u8> {
    let mut b = BytesMut::new();
    r.encode(&mut b);
    b.to_vec()
}

fn map_position(map: u32, x: f32, y: f32, z: f32) -> MapPosition {
    MapPosition {
        map,
        position: Position {
            x,
            y,
            z,
            orientation: 0.0,
        },
    }
}

/// Runs the bot against `gateway` (given the listener); returns the bot's outcome and what the
/// stand-in returned. A stand-in panic fails the test with its message.
async fn play<F, Fut, T>(cfg: BotConfig, gateway: F) -> (BotReport, Result<(), BotError>, T)
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(gateway(listener));
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (report, result) = tokio::time::timeout(WAIT, run_bot(stream, cfg))
        .await
        .expect("the bot ends in time");
    let out = tokio::time::timeout(WAIT, server)
        .await
        .expect("the stand-in ends in time")
        .expect("the stand-in's checks hold");
    (report, result, out)
}

fn opcodes(packets: &[Packet]) -> Vec<Opcode> {
    packets.iter().map(|p| p.opcode).collect()
}

#[tokio::test]
async fn auth_ok_with_a_verified_digest_and_stock_fields() {
    let (report, result, auth) = play(config(vec![BotStep::Authenticate]), |l| async move {
        let (mut gw, auth) = Gw::accept_ok(l).await;
        gw.auth_extras().await;
        assert!(
            gw.finish().await.is_empty(),
            "nothing after the auth session"
        );
        auth
    })
    .await;
    result.expect("authenticated");
    assert_eq!(auth.build, 12340);
    assert_eq!(auth.account, "BOT");
    assert_eq!(auth.realm_id, 7);
    let addons = auth.addons(64 * 1024).expect("the addon block inflates");
    assert_eq!(addons.addons.len(), 2);
    assert!(addons.addons.iter().all(|a| a.enabled == 1));
    assert_eq!(report.auth_result, Some(0x0C));
    assert_eq!(report.packets_sent, 1);
    let got: Vec<Opcode> = report.received.iter().map(|(op, _)| *op).collect();
    assert_eq!(
        got,
        [Opcode::SMSG_AUTH_CHALLENGE, Opcode::SMSG_AUTH_RESPONSE],
        "the script ends at AUTH_OK"
    );
}

#[tokio::test]
async fn a_refusal_ends_the_script_with_its_code() {
    let script = vec![BotStep::Authenticate, BotStep::CharacterScreen];
    let (report, result, after) = play(config(script), |l| async move {
        let (mut gw, _) = Gw::accept(l, &KEY).await;
        let refusal = auth_body(AuthResponse::Failed(AuthResult::UNKNOWN_ACCOUNT));
        gw.send(Opcode::SMSG_AUTH_RESPONSE, &refusal).await;
        gw.finish().await
    })
    .await;
    let err = result.expect_err("refused");
    assert!(matches!(err, BotError::AuthRefused(0x15)), "{err}");
    assert_eq!(err.step(), "authenticate");
    assert_eq!(report.auth_result, Some(0x15));
    assert!(after.is_empty(), "no step runs after a refusal");
}

#[tokio::test]
async fn the_queue_is_waited_through() {
    let (report, result, ()) = play(config(vec![BotStep::Authenticate]), |l| async move {
        let (mut gw, _) = Gw::accept(l, &KEY).await;
        let queued = AuthResponse::Queued {
            billing: Billing::default(),
            position: 3,
            free_migration: 0,
        };
        gw.send(Opcode::SMSG_AUTH_RESPONSE, &auth_body(queued))
            .await;
        let update = AuthResponse::QueueUpdate { position: 1 };
        gw.send(Opcode::SMSG_AUTH_RESPONSE, &auth_body(update))
            .await;
        gw.send(Opcode::SMSG_AUTH_RESPONSE, &auth_body(AuthResponse::ok()))
            .await;
        gw.finish().await;
    })
    .await;
    result.expect("authenticated after the queue");
    assert_eq!(
        (report.auth_result, report.queue_position),
        (Some(0x0C), Some(1))
    );
}

#[tokio::test]
async fn character_screen_and_login_reach_the_world() {
    let script = vec![
        BotStep::Authenticate,
        BotStep::CharacterScreen,
        BotStep::EnterWorld,
    ];
    let (report, result, after) = play(config(script), |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        gw.auth_extras().await;
        gw.character_screen(&[7, GUID]).await;
        gw.login().await;
        gw.finish().await
    })
    .await;
    result.expect("in world");
    assert!(after.is_empty(), "{:?}", opcodes(&after));
    assert_eq!(report.logins, 1);
    assert_eq!(report.login_ms.len(), 1);
    assert_eq!(report.time_syncs_answered, 2, "one at the character screen");
    // AUTH_SESSION, 3 character-screen requests, PLAYER_LOGIN, 2 time-sync answers.
    assert_eq!(report.packets_sent, 7);
    assert_eq!(report.pings_sent, 0);
    assert_eq!(
        report.received.back().map(|(op, _)| *op),
        Some(Opcode::SMSG_TIME_SYNC_REQ)
    );
}

#[tokio::test]
async fn a_character_missing_from_the_list_is_an_error() {
    let script = vec![BotStep::Authenticate, BotStep::CharacterScreen];
    let (_, result, ()) = play(config(script), |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        gw.character_screen(&[7, 8]).await;
        gw.finish().await;
    })
    .await;
    let err = result.expect_err("not listed");
    assert!(
        matches!(&err, BotError::Protocol { step, detail } if step == "character screen" && detail.contains("66")),
        "{err}"
    );
}

#[tokio::test]
async fn a_login_failure_reports_its_code() {
    let script = vec![BotStep::Authenticate, BotStep::EnterWorld];
    let (report, result, ()) = play(config(script), |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        gw.expect(Opcode::CMSG_PLAYER_LOGIN).await;
        gw.send_packet(&CharacterLoginFailed {
            reason: LoginFailure::NO_CHARACTER,
        })
        .await;
        gw.finish().await;
    })
    .await;
    let err = result.expect_err("login failed");
    assert!(matches!(err, BotError::LoginFailed(0x53)), "{err}");
    assert_eq!(err.step(), "enter world");
    assert_eq!(report.login_failed, Some(0x53));
    assert_eq!(report.logins, 0);
}

#[tokio::test]
async fn a_refused_login_step_wants_its_code_and_records_the_wait() {
    let refused = |code| {
        vec![
            BotStep::Authenticate,
            BotStep::EnterWorldRefused {
                code,
                within_ms: 5_000,
            },
        ]
    };
    let gateway = |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        gw.expect(Opcode::CMSG_PLAYER_LOGIN).await;
        gw.send_packet(&CharacterLoginFailed {
            reason: LoginFailure::NO_WORLD,
        })
        .await;
        gw.finish().await;
    };
    let (report, result, ()) = play(config(refused(0x4E)), gateway).await;
    result.expect("refused as expected");
    assert_eq!(report.logins_refused_ms.len(), 1);
    assert!(report.logins_unanswered_ms.is_empty());
    assert_eq!(report.logins, 0);

    let (_, result, ()) = play(config(refused(0x53)), gateway).await;
    let err = result.expect_err("another code");
    assert!(
        matches!(&err, BotError::Protocol { step, detail } if step == "enter world refused" && detail.contains("0x4e")),
        "{err}"
    );
}

#[tokio::test]
async fn an_unanswered_login_is_recorded_with_its_wait() {
    let script = vec![BotStep::Authenticate, BotStep::EnterWorld];
    let cfg = BotConfig {
        step_timeout_ms: 300,
        ..config(script)
    };
    let (report, result, ()) = play(cfg, |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        gw.expect(Opcode::CMSG_PLAYER_LOGIN).await;
        // No answer: the bot gives up after its step timeout.
        gw.finish().await;
    })
    .await;
    let err = result.expect_err("no answer");
    assert!(matches!(err, BotError::Timeout { .. }), "{err}");
    assert_eq!(report.logins_unanswered_ms, vec![300]);
    assert!(report.logins_refused_ms.is_empty());
}

#[tokio::test]
async fn chatter_sends_movement_on_cadence_and_answers_time_syncs() {
    let script = vec![
        BotStep::Authenticate,
        BotStep::EnterWorld,
        BotStep::Chatter {
            packets: 5,
            interval_ms: 40,
            body_bytes: 0,
        },
        BotStep::Chatter {
            packets: 2,
            interval_ms: 5,
            body_bytes: 64,
        },
    ];
    let (report, result, (beats, rest)) = play(config(script), |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        gw.login().await;
        let mut beats = Vec::new();
        for i in 0..7 {
            let p = gw.recv().await;
            if p.opcode == Opcode::CMSG_TIME_SYNC_RESP {
                assert_eq!(TimeSyncResp::decode(&p.body).expect("body").counter, 1);
                continue;
            }
            assert_eq!(p.opcode, Opcode::MSG_MOVE_HEARTBEAT);
            beats.push((Instant::now(), p.body));
            if i == 1 {
                gw.send_packet(&TimeSyncReq { counter: 1 }).await;
            }
        }
        let rest = gw.finish().await;
        (beats, rest)
    })
    .await;
    result.expect("chatter completes");
    let rest_ops = opcodes(&rest);
    let beats: Vec<_> = beats
        .into_iter()
        .chain(
            rest.into_iter()
                .filter(|p| p.opcode == Opcode::MSG_MOVE_HEARTBEAT)
                .map(|p| (Instant::now(), p.body)),
        )
        .collect();
    assert_eq!(beats.len(), 7, "{rest_ops:?}");
    assert!(!rest_ops.contains(&Opcode::CMSG_PING), "no ping this early");
    for (_, body) in &beats[..5] {
        // Packed guid 0x42 (mask 0x01, one byte) + the movement block.
        assert_eq!(body.len(), 2 + MOVEMENT_INFO_BYTES);
        assert_eq!(&body[..2], &[0x01, 0x42]);
        let mut r = Reader::new(&body[2..]);
        assert_eq!(r.u32("flags").expect("flags"), 1, "walking forward");
        r.u16("flags2").expect("flags2");
        r.u32("time").expect("time");
        let x = r.f32("x").expect("x");
        assert!((90.0..110.0).contains(&x), "walks from the login spot: {x}");
    }
    for (_, body) in &beats[5..] {
        assert_eq!(body.len(), 64, "exactly body_bytes when larger");
    }
    let span = beats[4].0.duration_since(beats[0].0);
    assert!(
        span >= Duration::from_millis(120),
        "sent every 40 ms: {span:?}"
    );
    assert_eq!(report.time_syncs_answered, 2);
    // AUTH_SESSION, PLAYER_LOGIN, 2 time-sync answers, 7 heartbeats.
    assert_eq!(report.packets_sent, 11);
}

#[tokio::test]
async fn a_map_change_acks_new_world_and_waits_for_time_sync() {
    let script = vec![
        BotStep::Authenticate,
        BotStep::EnterWorld,
        BotStep::ChangeMap {
            map: 1,
            x: 16.5,
            y: -3.0,
            z: 7.25,
        },
        BotStep::Chatter {
            packets: 1,
            interval_ms: 0,
            body_bytes: 0,
        },
    ];
    let (report, result, beat) = play(config(script), |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        gw.login().await;
        let chat = gw.expect(Opcode::CMSG_MESSAGECHAT).await;
        let mut r = Reader::new(&chat.body);
        assert_eq!(r.u32("type").expect("type"), 1, "SAY");
        assert_eq!(r.u32("lang").expect("lang"), 0);
        assert_eq!(r.cstr("text", 255).expect("text"), ".tele 1 16.5 -3 7.25");
        gw.send_packet(&TransferPending {
            map: 1,
            transport: None,
        })
        .await;
        gw.send_packet(&NewWorld(map_position(1, 16.5, -3.0, 7.25)))
            .await;
        let ack = gw.expect(Opcode::MSG_MOVE_WORLDPORT_ACK).await;
        assert!(ack.body.is_empty());
        // The next worldserver: its time-sync counter starts again.
        gw.in_world(0).await;
        let beat = gw.expect(Opcode::MSG_MOVE_HEARTBEAT).await;
        assert!(gw.finish().await.is_empty());
        beat
    })
    .await;
    result.expect("map changed");
    assert_eq!((report.logins, report.handoffs), (1, 1));
    assert_eq!(report.handoff_ms.len(), 1);
    let x = Reader::new(&beat.body[2 + 10..]).f32("x").expect("x");
    assert!((15.5..=17.5).contains(&x), "walks on from NEW_WORLD: {x}");
}

#[tokio::test]
async fn a_loading_screen_before_the_teleports_own_is_acked_and_the_teleport_awaited() {
    let script = vec![
        BotStep::Authenticate,
        BotStep::EnterWorld,
        BotStep::ChangeMap {
            map: 1,
            x: 0.0,
            y: 0.0,
            z: 0.0,
        },
    ];
    let (report, result, ()) = play(config(script), |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        gw.login().await;
        gw.expect(Opcode::CMSG_MESSAGECHAT).await;
        // The gateway moved the player (a drain) while the `.tele` waited: its own loading
        // screen on the current map comes first.
        gw.send_packet(&NewWorld(map_position(0, 5.0, 5.0, 5.0)))
            .await;
        gw.expect(Opcode::MSG_MOVE_WORLDPORT_ACK).await;
        gw.in_world(0).await;
        gw.send_packet(&TransferPending {
            map: 1,
            transport: None,
        })
        .await;
        gw.send_packet(&NewWorld(map_position(1, 0.0, 0.0, 0.0)))
            .await;
        gw.expect(Opcode::MSG_MOVE_WORLDPORT_ACK).await;
        gw.in_world(0).await;
        gw.finish().await;
    })
    .await;
    result.expect("the teleport follows the move");
    assert_eq!(report.handoffs, 1);
    assert_eq!(report.unsolicited_loading_screens, 1);
}

/// Packets a stand-in answers with.
type Answer = Vec<(Opcode, Vec<u8>)>;

#[tokio::test]
async fn an_aborted_or_misdirected_transfer_fails_the_change_at_once() {
    let cases: [(&str, Answer); 2] = [
        (
            "SMSG_TRANSFER_ABORTED",
            vec![(
                TransferAborted::OPCODE,
                TransferAborted {
                    map: 1,
                    reason: 2,
                    arg: None,
                }
                .to_body()
                .to_vec(),
            )],
        ),
        (
            "for map 530",
            vec![
                (
                    TransferPending::OPCODE,
                    TransferPending {
                        map: 1,
                        transport: None,
                    }
                    .to_body()
                    .to_vec(),
                ),
                (
                    NewWorld::OPCODE,
                    NewWorld(map_position(530, 0.0, 0.0, 0.0))
                        .to_body()
                        .to_vec(),
                ),
            ],
        ),
    ];
    for (want, answer) in cases {
        let script = vec![
            BotStep::Authenticate,
            BotStep::EnterWorld,
            BotStep::ChangeMap {
                map: 1,
                x: 0.0,
                y: 0.0,
                z: 0.0,
            },
        ];
        let started = Instant::now();
        let (report, result, ()) = play(config(script), |l| async move {
            let (mut gw, _) = Gw::accept_ok(l).await;
            gw.login().await;
            gw.expect(Opcode::CMSG_MESSAGECHAT).await;
            for (op, body) in answer {
                gw.send(op, &body).await;
            }
            gw.finish().await;
        })
        .await;
        let err = result.expect_err(want);
        assert!(
            matches!(&err, BotError::Protocol { step, detail } if step == "change map" && detail.contains(want)),
            "{want}: {err}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(1_500),
            "not a timeout"
        );
        assert_eq!(report.handoffs, 0);
    }
}

#[tokio::test]
async fn logout_returns_to_the_character_screen() {
    let script = vec![
        BotStep::Authenticate,
        BotStep::EnterWorld,
        BotStep::Logout,
        BotStep::EnterWorld,
    ];
    let (report, result, ()) = play(config(script), |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        gw.login().await;
        gw.expect(Opcode::CMSG_LOGOUT_REQUEST).await;
        gw.send_packet(&LogoutResponse {
            result: 0,
            instant: false,
        })
        .await;
        tokio::time::sleep(Duration::from_millis(50)).await; // the logout countdown
        gw.send(Opcode::SMSG_LOGOUT_COMPLETE, &[]).await;
        gw.login().await;
        assert!(gw.finish().await.is_empty());
    })
    .await;
    result.expect("logged out and in again");
    assert_eq!((report.logins, report.logouts), (2, 1));
}

#[tokio::test]
async fn a_refused_logout_fails_at_once() {
    let script = vec![BotStep::Authenticate, BotStep::EnterWorld, BotStep::Logout];
    let (report, result, ()) = play(config(script), |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        gw.login().await;
        gw.expect(Opcode::CMSG_LOGOUT_REQUEST).await;
        gw.send_packet(&LogoutResponse {
            result: 1,
            instant: false,
        })
        .await;
        gw.finish().await;
    })
    .await;
    let err = result.expect_err("in combat");
    assert!(
        matches!(&err, BotError::Protocol { step, detail } if step == "logout" && detail.contains("result 1")),
        "{err}"
    );
    assert_eq!(report.logouts, 0);
}

#[tokio::test]
async fn a_diverged_cipher_is_caught_with_the_raw_header() {
    let (report, result, sent) = play(config(vec![BotStep::Authenticate]), |l| async move {
        // The stand-in keys its cipher with a different K.
        let (mut gw, _) = Gw::accept(l, &SessionKey([4; 40])).await;
        let wire = gw
            .send(Opcode::SMSG_AUTH_RESPONSE, &auth_body(AuthResponse::ok()))
            .await;
        gw.finish().await;
        wire
    })
    .await;
    let err = result.expect_err("diverged");
    let BotError::HeaderDidNotDecrypt {
        step, index, raw, ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((step.as_str(), *index), ("authenticate", 1));
    assert!(
        (4..=5).contains(&raw.len()) && sent.starts_with(raw),
        "raw {raw:02x?} is what was sent: {sent:02x?}"
    );
    assert_eq!(report.auth_result, None);
}

#[tokio::test]
async fn a_restarted_keystream_mid_session_is_caught() {
    // A diverged header is garbage, and garbage passes the sanity check about 1 time in 50
    // (opcode below 0x51F, size in range); with K = [3; 40] this very header would (size
    // 18115, opcode 0x249) and the bot would wait for a body that never comes. K = [4; 40]
    // gives a 5-byte header announcing 6.6 MB: caught at once.
    let key = SessionKey([4; 40]);
    let script = vec![
        BotStep::Authenticate,
        BotStep::ExpectPackets {
            opcode: Opcode::SMSG_TIME_SYNC_REQ,
            count: 1,
        },
    ];
    let cfg = BotConfig {
        session_key: key.clone(),
        ..config(script)
    };
    let (_, result, ()) = play(cfg, |l| async move {
        let (mut gw, auth) = Gw::accept(l, &key).await;
        assert!(auth.verify(SERVER_SEED, &key));
        gw.send(Opcode::SMSG_AUTH_RESPONSE, &auth_body(AuthResponse::ok()))
            .await;
        gw.auth_extras().await;
        // As if a second encryptor had been started for the same client.
        gw.cipher = Some(ServerCiphers::new(&key).outbound);
        gw.send_packet(&TimeSyncReq { counter: 0 }).await;
        gw.finish().await;
    })
    .await;
    let err = result.expect_err("diverged");
    assert!(
        matches!(&err, BotError::HeaderDidNotDecrypt { step, index: 5, raw, .. }
            if step == "expect packets" && raw.len() == 5),
        "{err}"
    );
}

#[tokio::test]
async fn cluster_opcodes_are_caught_before_their_body_arrives() {
    for opcode in [
        Opcode::TC9_CMSG_PREPARE_FOR_REDIRECT,
        Opcode::TC9_SMSG_READY_FOR_REDIRECT,
    ] {
        let script = vec![
            BotStep::Authenticate,
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_MESSAGECHAT,
                count: 1,
            },
        ];
        let started = Instant::now();
        let (_, result, header) = play(config(script), |l| async move {
            let (mut gw, _) = Gw::accept(l, &KEY).await;
            gw.send(Opcode::SMSG_AUTH_RESPONSE, &auth_body(AuthResponse::ok()))
                .await;
            // A header announcing 100 bytes, and no body.
            let header = gw.header(opcode, 100);
            gw.write(&header).await;
            gw.finish().await;
            header
        })
        .await;
        let err = result.expect_err("a cluster opcode");
        assert!(
            matches!(&err, BotError::HeaderDidNotDecrypt { step, index: 2, raw, detail }
                if step == "expect packets" && *raw == header && detail.contains("opcode")),
            "{opcode}: {err}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(1_500),
            "judged without waiting for the body"
        );
    }
}

#[tokio::test]
async fn insane_sizes_are_caught() {
    // Size 1 (no room for the opcode), and a body over max_body_bytes (in the 5-byte form,
    // delivered in two pieces so the raw header spans two reads).
    for (case, header, pause) in [
        ("size 1", vec![0x00, 0x01, 0x96, 0x00], false),
        ("too large", vec![0xFF, 0xFF, 0xFF, 0x96, 0x00], true),
    ] {
        let script = vec![
            BotStep::Authenticate,
            BotStep::ExpectPackets {
                opcode: Opcode::SMSG_MESSAGECHAT,
                count: 1,
            },
        ];
        let (_, result, raw) = play(config(script), |l| async move {
            let (mut gw, _) = Gw::accept(l, &KEY).await;
            gw.send(Opcode::SMSG_AUTH_RESPONSE, &auth_body(AuthResponse::ok()))
                .await;
            let raw = gw.encrypt(&header);
            if pause {
                gw.write(&raw[..4]).await;
                tokio::time::sleep(Duration::from_millis(30)).await; // split the header
                gw.write(&raw[4..]).await;
            } else {
                gw.write(&raw).await;
            }
            gw.finish().await;
            raw
        })
        .await;
        let err = result.expect_err(case);
        assert!(
            matches!(&err, BotError::HeaderDidNotDecrypt { index: 2, raw: got, .. } if *got == raw),
            "{case}: {err}"
        );
    }
}

#[tokio::test]
async fn a_large_server_packet_arrives_intact_through_the_five_byte_header() {
    let body: Vec<u8> = (0..40 * 1024u32).map(|i| (i % 251) as u8).collect();
    let script = vec![
        BotStep::Authenticate,
        BotStep::ExpectPackets {
            opcode: Opcode::SMSG_MESSAGECHAT,
            count: 1,
        },
    ];
    let sent = body.clone();
    let (report, result, ()) = play(config(script), |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        let mut wire = gw.header(Opcode::SMSG_MESSAGECHAT, sent.len());
        assert_eq!(wire.len(), 5, "the large form");
        wire.extend_from_slice(&sent);
        gw.write(&wire[..4]).await;
        tokio::time::sleep(Duration::from_millis(30)).await; // split the header
        gw.write(&wire[4..]).await;
        gw.finish().await;
    })
    .await;
    result.expect("received");
    let (op, got) = report.received.back().expect("logged");
    assert_eq!(*op, Opcode::SMSG_MESSAGECHAT);
    assert!(got[..] == body[..], "intact");
}

#[tokio::test]
async fn timeouts_name_the_step() {
    let cases: [(Vec<BotStep>, &str, &str); 3] = [
        (
            vec![BotStep::Authenticate],
            "authenticate",
            "SMSG_AUTH_CHALLENGE",
        ),
        (
            vec![BotStep::Authenticate, BotStep::EnterWorld],
            "enter world",
            "SMSG_TIME_SYNC_REQ",
        ),
        (
            vec![BotStep::Authenticate, BotStep::Logout],
            "logout",
            "SMSG_LOGOUT_RESPONSE",
        ),
    ];
    for (script, want_step, want_awaiting) in cases {
        let silent_from_start = script.len() == 1;
        let cfg = BotConfig {
            step_timeout_ms: 300,
            ..config(script)
        };
        let started = Instant::now();
        let (_, result, ()) = play(cfg, |l| async move {
            if silent_from_start {
                let (s, _) = l.accept().await.expect("accept");
                let mut s = s;
                let mut sink = [0u8; 64];
                let _ = tokio::time::timeout(WAIT, s.read(&mut sink)).await;
            } else {
                let (gw, _) = Gw::accept_ok(l).await;
                gw.finish().await;
            }
        })
        .await;
        let err = result.expect_err("silence");
        assert!(
            matches!(&err, BotError::Timeout { step, waited_ms: 300, awaiting }
                if step == want_step && awaiting == want_awaiting),
            "{err}"
        );
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(2_000),
            "{took:?}"
        );
    }
}

#[tokio::test]
async fn send_carries_a_10000_byte_packet_and_refuses_an_oversized_one() {
    let big: Bytes = (0..10_000u32).map(|i| (i % 253) as u8).collect();
    let script = vec![
        BotStep::Authenticate,
        BotStep::Send {
            opcode: Opcode::MSG_MOVE_HEARTBEAT,
            body: big.clone(),
        },
        BotStep::Send {
            opcode: Opcode::MSG_MOVE_HEARTBEAT,
            body: Bytes::from(vec![0u8; 10_300]),
        },
    ];
    let (report, result, got) = play(config(script), |l| async move {
        let (gw, _) = Gw::accept_ok(l).await;
        gw.finish().await
    })
    .await;
    let err = result.expect_err("too large for a client header");
    assert!(
        matches!(&err, BotError::Protocol { step, .. } if step == "send"),
        "{err}"
    );
    assert_eq!(got.len(), 1, "only the 10,000-byte packet went out");
    assert_eq!(got[0].body, big);
    assert_eq!(report.packets_sent, 2);
}

#[tokio::test]
async fn expect_packets_counts_unclaimed_packets_and_the_log_is_bounded() {
    const CHATS: u32 = 8_500;
    let script = vec![
        BotStep::Authenticate,
        BotStep::ExpectPackets {
            opcode: Opcode::SMSG_MESSAGECHAT,
            count: CHATS,
        },
        // These arrived during the previous step; they still count.
        BotStep::ExpectPackets {
            opcode: Opcode::SMSG_MOTD,
            count: 3,
        },
        // All claimed: nothing more comes.
        BotStep::ExpectPackets {
            opcode: Opcode::SMSG_MOTD,
            count: 1,
        },
    ];
    let cfg = BotConfig {
        step_timeout_ms: 1_000,
        ..config(script)
    };
    let (report, result, ()) = play(cfg, |l| async move {
        let (mut gw, _) = Gw::accept(l, &KEY).await;
        gw.send(Opcode::SMSG_AUTH_RESPONSE, &auth_body(AuthResponse::ok()))
            .await;
        let mut wire = Vec::new();
        for i in 0..CHATS {
            if i % 1_000 == 0 && i < 3_000 {
                wire.extend(gw.header(Opcode::SMSG_MOTD, 4));
                wire.extend(0u32.to_le_bytes());
            }
            wire.extend(gw.header(Opcode::SMSG_MESSAGECHAT, 4));
            wire.extend(i.to_le_bytes());
        }
        gw.write(&wire).await;
        gw.finish().await;
    })
    .await;
    let err = result.expect_err("the fourth step waits in vain");
    assert!(
        matches!(&err, BotError::Timeout { step, .. } if step == "expect packets"),
        "{err}"
    );
    assert_eq!(report.packets_received, 2 + 3 + u64::from(CHATS));
    assert_eq!(report.received.len(), RECEIVED_LOG_MAX, "bounded");
    let chats: Vec<u32> = report
        .received
        .iter()
        .filter(|(op, _)| *op == Opcode::SMSG_MESSAGECHAT)
        .map(|(_, b)| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let first = CHATS - chats.len() as u32;
    assert_eq!(
        chats,
        (first..CHATS).collect::<Vec<_>>(),
        "newest kept, in order"
    );
}

#[tokio::test]
async fn disconnect_closes_the_socket_and_later_steps_fail() {
    let script = vec![BotStep::Authenticate, BotStep::Disconnect, BotStep::Logout];
    let (_, result, after) = play(config(script), |l| async move {
        let (gw, _) = Gw::accept_ok(l).await;
        gw.finish().await
    })
    .await;
    let err = result.expect_err("no socket");
    assert!(
        matches!(&err, BotError::Closed { step } if step == "logout"),
        "{err}"
    );
    assert!(after.is_empty(), "nothing sent after the disconnect");
}

#[tokio::test]
async fn the_gateway_closing_is_reported_in_the_step() {
    let script = vec![BotStep::Authenticate, BotStep::EnterWorld];
    let (_, result, ()) = play(config(script), |l| async move {
        let (mut gw, _) = Gw::accept_ok(l).await;
        gw.expect(Opcode::CMSG_PLAYER_LOGIN).await;
        drop(gw);
    })
    .await;
    let err = result.expect_err("closed");
    assert!(
        matches!(&err, BotError::Closed { .. } | BotError::Io { .. })
            && err.step() == "enter world",
        "{err}"
    );
}

#[tokio::test]
async fn the_seed_decides_the_client_seed() {
    let mut bodies = Vec::new();
    for seed in [5, 5, 6] {
        let cfg = BotConfig {
            seed,
            ..config(vec![BotStep::Authenticate])
        };
        let (_, result, auth) = play(cfg, |l| async move {
            let (gw, auth) = Gw::accept_ok(l).await;
            gw.finish().await;
            auth
        })
        .await;
        result.expect("authenticated");
        bodies.push((auth.client_seed, auth.raw));
    }
    assert_eq!(bodies[0], bodies[1], "same seed, same auth session");
    assert_ne!(
        bodies[0].0, bodies[2].0,
        "another seed, another client seed"
    );
}
