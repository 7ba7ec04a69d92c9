//! The bot's own checks, against a scripted stand-in for the gateway: the handshake, and the
//! independent header check that catches a diverged cipher or a cluster opcode.

use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use waygate::peers::bot::{BotConfig, BotError, BotStep, run_bot};
use waygate::wire::auth::{AuthChallenge, AuthResponse, AuthResult, AuthSession};
use waygate::wire::{
    ClientHeaderDecoder, Decoded, Opcode, ServerCiphers, ServerHeaderEncoder, SessionKey,
};

const WAIT: Duration = Duration::from_secs(10);

fn config(script: Vec<BotStep>) -> BotConfig {
    BotConfig {
        account: "BOT".into(),
        session_key: SessionKey([3; 40]),
        realm_id: 1,
        seed: 9,
        character: 1,
        script,
        step_timeout_ms: 2_000,
        max_body_bytes: 1 << 20,
    }
}

/// Plays the gateway's side of the handshake with `server_key`, then sends `after` (opcode,
/// body) packets. Returns whether the bot's digest verified.
async fn stand_in(
    listener: TcpListener,
    server_key: SessionKey,
    response: AuthResponse,
    after: Vec<(Opcode, Vec<u8>)>,
) -> bool {
    let (mut s, _) = listener.accept().await.expect("accept");
    let mut enc = ServerHeaderEncoder::plain();
    let mut out = BytesMut::new();
    let mut body = BytesMut::new();
    AuthChallenge {
        server_seed: 77,
        seed_bytes: [0; 32],
    }
    .encode(&mut body);
    enc.encode(Opcode::SMSG_AUTH_CHALLENGE, &body, &mut out)
        .expect("fits");
    s.write_all(&out).await.expect("write");
    let mut dec = ClientHeaderDecoder::for_client();
    let auth = loop {
        if let Decoded::Packet(p) = dec.decode().expect("client frames") {
            break AuthSession::decode(p.body).expect("auth session");
        }
        let n = s.read_buf(dec.buffer_mut()).await.expect("read");
        assert!(n > 0);
    };
    let verified = auth.verify(77, &SessionKey([3; 40]));
    enc.start_cipher(ServerCiphers::new(&server_key).outbound);
    let mut out = BytesMut::new();
    let mut body = BytesMut::new();
    response.encode(&mut body);
    enc.encode(Opcode::SMSG_AUTH_RESPONSE, &body, &mut out)
        .expect("fits");
    for (op, b) in after {
        enc.encode(op, &b, &mut out).expect("fits");
    }
    s.write_all(&out).await.expect("write");
    // Keep the socket open until the bot is done with it.
    let mut sink = [0u8; 1024];
    while let Ok(Ok(n)) = tokio::time::timeout(WAIT, s.read(&mut sink)).await {
        if n == 0 {
            break;
        }
    }
    verified
}

async fn run(
    server_key: SessionKey,
    response: AuthResponse,
    after: Vec<(Opcode, Vec<u8>)>,
    script: Vec<BotStep>,
) -> (bool, Result<(), BotError>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(stand_in(listener, server_key, response, after));
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (_, result) = tokio::time::timeout(WAIT, run_bot(stream, config(script)))
        .await
        .expect("bot ends");
    let verified = tokio::time::timeout(WAIT, server)
        .await
        .expect("server ends")
        .expect("server");
    (verified, result)
}

#[tokio::test]
async fn handshake_digest_verifies_and_auth_ok_is_read() {
    let (verified, result) = run(
        SessionKey([3; 40]),
        AuthResponse::ok(),
        vec![],
        vec![BotStep::Authenticate],
    )
    .await;
    assert!(verified, "the bot's digest proves the key");
    result.expect("authenticated");
}

#[tokio::test]
async fn refusal_code_is_reported() {
    let (_, result) = run(
        SessionKey([3; 40]),
        AuthResponse::Failed(AuthResult::UNKNOWN_ACCOUNT),
        vec![],
        vec![BotStep::Authenticate],
    )
    .await;
    assert!(
        matches!(result, Err(BotError::AuthRefused(0x15))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_diverged_cipher_is_caught() {
    let (_, result) = run(
        SessionKey([4; 40]),
        AuthResponse::ok(),
        vec![],
        vec![BotStep::Authenticate],
    )
    .await;
    assert!(
        matches!(result, Err(BotError::HeaderDidNotDecrypt { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_cluster_opcode_reaching_the_client_is_caught() {
    let after = vec![(Opcode::TC9_SMSG_READY_FOR_REDIRECT, vec![0])];
    let script = vec![
        BotStep::Authenticate,
        BotStep::ExpectPackets {
            opcode: Opcode::SMSG_PONG,
            count: 1,
        },
    ];
    let (_, result) = run(SessionKey([3; 40]), AuthResponse::ok(), after, script).await;
    assert!(
        matches!(result, Err(BotError::HeaderDidNotDecrypt { ref step, .. }) if step == "expect packets"),
        "{result:?}"
    );
}

#[tokio::test]
async fn silence_is_a_timeout_naming_the_step() {
    let script = vec![BotStep::Authenticate, BotStep::Logout];
    let (_, result) = run(SessionKey([3; 40]), AuthResponse::ok(), vec![], script).await;
    assert!(
        matches!(result, Err(BotError::Timeout { ref step, .. }) if step == "logout"),
        "{result:?}"
    );
}
