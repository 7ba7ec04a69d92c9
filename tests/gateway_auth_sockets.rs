//! The gateway on real loopback sockets, seen by a raw test client: the handshake, refusals
//! with the right code followed by a close, and bad input that closes only its own client.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use waygate::cluster::{WorldserverId, WorldserverInfo, WorldserverRef};
use waygate::driver::{DriverConfig, Gateway, serve};
use waygate::runtime::{Entropy, Seams, StaticCluster};
use waygate::session::{AccountId, AccountRecord, SessionConfig};
use waygate::wire::auth::{
    AddonList, AuthChallenge, AuthResponse, AuthResult, AuthSession, AuthSessionFields,
    compute_digest,
};
use waygate::wire::{
    ClientCiphers, ClientHeaderEncoder, Decoded, Opcode, Packet, ServerHeaderDecoder, SessionKey,
};

/// Every wait in this file is bounded by this.
const WAIT: Duration = Duration::from_secs(10);

fn key() -> SessionKey {
    SessionKey([9; 40])
}

async fn start_gateway(max_connections: usize, session: SessionConfig) -> std::net::SocketAddr {
    let cluster = Arc::new(StaticCluster::new(
        vec![
            AccountRecord {
                id: AccountId(1),
                name: "ALICE".into(),
                session_key: key(),
                banned: false,
                locked: false,
            },
            AccountRecord {
                id: AccountId(2),
                name: "BANNED".into(),
                session_key: key(),
                banned: true,
                locked: false,
            },
        ],
        vec![],
        vec![WorldserverInfo {
            server: WorldserverRef {
                id: WorldserverId("nowhere".into()),
                address: "127.0.0.1:1".into(),
            },
            maps: vec![],
            world_update_p99_ms: None,
            loading_maps: Vec::new(),
            alias: String::new(),
            realm_id: None,
            crossrealm: false,
        }],
    ));
    let seams = Seams::embedded(cluster);
    let gateway = Gateway::new(
        seams,
        DriverConfig {
            session,
            max_connections,
            write_timeout_ms: 5_000,
            shutdown_timeout_ms: 1_000,
            cluster: Default::default(),
        },
        Entropy::seeded(1),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let _keep = stop;
        let _ = serve(gateway, listener, rx).await;
    });
    addr
}

/// A raw client: reads server packets (decrypting once the cipher starts).
struct RawClient {
    stream: TcpStream,
    dec: ServerHeaderDecoder,
    enc: ClientHeaderEncoder,
}

impl RawClient {
    async fn connect(addr: std::net::SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.expect("connect"),
            dec: ServerHeaderDecoder::for_gateway(1 << 20),
            enc: ClientHeaderEncoder::plain(),
        }
    }

    /// The next packet, or None when the gateway closed the connection.
    async fn next(&mut self) -> Option<Packet> {
        loop {
            if let Decoded::Packet(p) = self.dec.decode().expect("headers decrypt") {
                return Some(p);
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, self.stream.read(&mut buf))
                .await
                .expect("the gateway answers in time")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.dec.extend(&buf[..n]);
        }
    }

    async fn send(&mut self, opcode: Opcode, body: &[u8]) {
        let mut wire = BytesMut::new();
        self.enc.encode(opcode, body, &mut wire).expect("fits");
        self.stream.write_all(&wire).await.expect("write");
        self.stream.flush().await.expect("flush");
    }

    /// Reads the challenge, sends an auth session for `account` with a digest over `k`.
    async fn auth(&mut self, account: &str, k: &SessionKey) {
        let challenge = self.next().await.expect("challenge");
        assert_eq!(challenge.opcode, Opcode::SMSG_AUTH_CHALLENGE);
        let c = AuthChallenge::decode(&challenge.body).expect("decodes");
        let body = AuthSession::encode(&AuthSessionFields {
            account: account.into(),
            client_seed: 1234,
            realm_id: 1,
            digest: compute_digest(account, 1234, c.server_seed, k),
            addon_block: AddonList::default().encode_block(),
        });
        self.send(Opcode::CMSG_AUTH_SESSION, &body).await;
    }

    fn start_cipher(&mut self, k: &SessionKey) {
        let c = ClientCiphers::new(k);
        self.enc.start_cipher(c.outbound);
        self.dec.start_cipher(c.inbound);
    }
}

async fn expect_refusal(client: &mut RawClient, code: AuthResult) {
    let p = client.next().await.expect("a response before the close");
    assert_eq!(p.opcode, Opcode::SMSG_AUTH_RESPONSE);
    assert_eq!(
        AuthResponse::decode(&p.body),
        Ok(AuthResponse::Failed(code))
    );
    assert!(client.next().await.is_none(), "closed after the refusal");
}

#[tokio::test]
async fn good_auth_is_answered_encrypted() {
    let addr = start_gateway(100, SessionConfig::default()).await;
    let mut c = RawClient::connect(addr).await;
    c.auth("ALICE", &key()).await;
    c.start_cipher(&key());
    let ok = c.next().await.expect("response");
    assert_eq!(ok.opcode, Opcode::SMSG_AUTH_RESPONSE);
    assert!(matches!(
        AuthResponse::decode(&ok.body),
        Ok(AuthResponse::Ok(_))
    ));
    for op in [
        Opcode::SMSG_ADDON_INFO,
        Opcode::SMSG_CLIENTCACHE_VERSION,
        Opcode::SMSG_TUTORIAL_FLAGS,
    ] {
        assert_eq!(c.next().await.map(|p| p.opcode), Some(op));
    }
}

#[tokio::test]
async fn wrong_digest_gets_a_failure_code_and_a_close() {
    let addr = start_gateway(100, SessionConfig::default()).await;
    let mut c = RawClient::connect(addr).await;
    c.auth("ALICE", &SessionKey([8; 40])).await;
    // Encrypted with the stored key, as AzerothCore does; the test knows that key.
    c.start_cipher(&key());
    expect_refusal(&mut c, AuthResult::FAILED).await;
}

#[tokio::test]
async fn unknown_and_banned_accounts_get_their_codes() {
    let addr = start_gateway(100, SessionConfig::default()).await;
    let mut c = RawClient::connect(addr).await;
    c.auth("MALLORY", &key()).await;
    expect_refusal(&mut c, AuthResult::UNKNOWN_ACCOUNT).await;
    let mut c = RawClient::connect(addr).await;
    c.auth("BANNED", &key()).await;
    c.start_cipher(&key());
    expect_refusal(&mut c, AuthResult::BANNED).await;
}

#[tokio::test]
async fn garbage_from_one_client_closes_only_that_client() {
    let addr = start_gateway(100, SessionConfig::default()).await;
    let mut good = RawClient::connect(addr).await;
    let mut bad = RawClient::connect(addr).await;
    assert!(bad.next().await.is_some(), "challenge");
    bad.stream.write_all(&[0xFF; 256]).await.expect("write");
    bad.stream.flush().await.expect("flush");
    assert!(bad.next().await.is_none(), "the garbage client is closed");
    good.auth("ALICE", &key()).await;
    good.start_cipher(&key());
    let ok = good.next().await.expect("the other client is still served");
    assert!(matches!(
        AuthResponse::decode(&ok.body),
        Ok(AuthResponse::Ok(_))
    ));
}

#[tokio::test]
async fn connection_cap_refuses_the_extra_client() {
    let addr = start_gateway(1, SessionConfig::default()).await;
    let mut first = RawClient::connect(addr).await;
    assert!(
        first.next().await.is_some(),
        "the first client gets its challenge"
    );
    let mut second = RawClient::connect(addr).await;
    assert!(
        second.next().await.is_none(),
        "over the cap: closed without a challenge"
    );
}

#[tokio::test]
async fn silent_client_is_closed_at_the_pre_auth_deadline() {
    let cfg = SessionConfig {
        pre_auth_timeout_ms: 200,
        ..SessionConfig::default()
    };
    let addr = start_gateway(100, cfg).await;
    let mut c = RawClient::connect(addr).await;
    assert!(c.next().await.is_some(), "challenge");
    assert!(c.next().await.is_none(), "closed once the deadline passed");
}
