//! The NATS event bus against a real nats-server (`ci/services/nats start` prints the
//! `WAYGATE_TEST_NATS_URL` to export; the restart test runs a private nats-server of its own).
//! Without them these tests fail when `CI` is set and are skipped, with a notice, otherwise.
//!
//! - what the bus publishes, read back by a plain async-nats subscriber, key by key;
//! - events published in ToCloud9's envelope reach the right players' queues, and only them;
//! - state changes are merged per character and published in batches (`gw.char.chars-updates`);
//! - NATS stops and starts again mid-run: `publish` returns at once meanwhile, the waiting
//!   events go out after the reconnect up to the bound, the oldest beyond it are counted as
//!   dropped (a JetStream stream on the private server keeps what arrives across its restart).

#![cfg(not(madsim))]

#[path = "common/nats.rs"]
mod nats;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::time::Instant;
use waygate::adapters::nats::{NatsBus, NatsSettings};
use waygate::driver::Players;
use waygate::present::ClusterEvent;
use waygate::present::state::CharacterUpdate;
use waygate::runtime::EventBus;
use waygate::session::{AccountId, Announcement, CharacterGuid, CharacterRecord, SessionId};

/// Every wait in this file is bounded by this.
const WAIT: Duration = Duration::from_secs(30);

/// Names unique to this process and test, so runs sharing a server do not see each other.
fn unique(tag: &str) -> (String, u32) {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    // A realm no other run uses: events of other runs are for "another realm" here.
    (
        format!("{tag}-{pid}-{n}"),
        100_000 + (pid % 1_000_000) * 16 + n,
    )
}

fn character(guid: u64, name: &str) -> CharacterRecord {
    CharacterRecord {
        guid: CharacterGuid(guid),
        account: AccountId(77),
        name: name.into(),
        race: 4,
        class: 11,
        gender: 1,
        level: 80,
        appearance: [0; 5],
        map: 571,
        zone: 4395,
        x: 5804.15,
        y: -0.5,
        z: 1e-7,
        guild_id: 3_000_000_000,
    }
}

async fn connect_bus(url: &str, gateway_id: &str, realm: u32, buffer_max: usize) -> NatsBus {
    let mut settings = NatsSettings::new(url, realm, gateway_id);
    settings.publish_buffer_max = buffer_max;
    settings.reconnect_delay_max_ms = 200;
    NatsBus::connect(settings).await.expect("bus")
}

/// Polls `done` until it holds, failing after [`WAIT`].
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An object's keys in document order, and their values (unparsed).
fn keys_in_order(doc: &[u8]) -> Vec<(String, Box<RawValue>)> {
    struct Ordered(Vec<(String, Box<RawValue>)>);
    impl<'de> serde::Deserialize<'de> for Ordered {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Ordered;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Ordered, A::Error> {
                    let mut out = Vec::new();
                    while let Some(kv) = m.next_entry::<String, Box<RawValue>>()? {
                        out.push(kv);
                    }
                    Ok(Ordered(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Ordered>(doc).expect("an object").0
}

#[derive(Debug, Clone, Copy)]
enum Ty {
    Str,
    U8,
    U32,
    U64,
    F32,
}

/// Checks one payload key by key: the keys, their order, their JSON types and ranges, and
/// the values.
fn check_payload(payload: &RawValue, expected: &[(&str, Ty, Value)]) {
    let members = keys_in_order(payload.get().as_bytes());
    let got: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
    let want: Vec<&str> = expected.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(got, want, "payload keys and their order");
    for ((_, raw), (key, ty, value)) in members.iter().zip(expected) {
        let v: Value = serde_json::from_str(raw.get()).unwrap();
        let v = &v;
        let typed = match ty {
            Ty::Str => v.is_string(),
            Ty::U8 => v.as_u64().is_some_and(|n| n <= 255),
            Ty::U32 => v.as_u64().is_some_and(|n| n <= u64::from(u32::MAX)),
            Ty::U64 => v.is_u64(),
            Ty::F32 => v.is_number(),
        };
        assert!(typed, "{key}: {v} is not a {ty:?}");
        match ty {
            Ty::F32 => assert_eq!(
                v.as_f64().map(|x| x as f32),
                value.as_f64().map(|x| x as f32),
                "{key}"
            ),
            _ => assert_eq!(v, value, "{key}"),
        }
    }
}

/// Waits until the server has taken every subscription `client` asked for before: a message
/// `client` sends itself comes back.
async fn fence(client: &async_nats::Client) {
    let inbox = client.new_inbox();
    let mut echo = client.subscribe(inbox.clone()).await.unwrap();
    client.publish(inbox, Bytes::new()).await.unwrap();
    tokio::time::timeout(WAIT, echo.next())
        .await
        .expect("fence timed out")
        .expect("fence");
}

#[tokio::test]
async fn published_announcements_carry_tocloud9s_keys_and_types() {
    let Some(url) = nats::nats_url("published_announcements_carry_tocloud9s_keys_and_types") else {
        return;
    };
    let (gateway_id, realm) = unique("pub");
    let reader = async_nats::connect(url.as_str()).await.expect("reader");
    let mut logged_in = reader.subscribe("gw.char.logged-in").await.unwrap();
    let mut logged_out = reader.subscribe("gw.char.logged-out").await.unwrap();
    fence(&reader).await;

    let bus = connect_bus(&url, &gateway_id, realm, 64).await;
    let alice = character(0x0000_0002_0000_0031, "Älice <&>");
    bus.publish(Announcement::LoggedIn {
        account: AccountId(77),
        character: alice.clone(),
    });
    bus.publish(Announcement::LoggedOut {
        account: AccountId(77),
        guid: alice.guid,
        name: alice.name.clone(),
        guild_id: alice.guild_id,
    });

    // Other runs may share the server: take the first message from this gateway.
    async fn next_from(sub: &mut async_nats::Subscriber, gateway_id: &str) -> Bytes {
        loop {
            let m = tokio::time::timeout(WAIT, sub.next())
                .await
                .expect("timed out")
                .expect("subscription ended");
            let v: Value = serde_json::from_slice(&m.payload).expect("JSON");
            if v["p"]["GatewayID"] == gateway_id {
                return m.payload;
            }
        }
    }

    let body = next_from(&mut logged_in, &gateway_id).await;
    let envelope = keys_in_order(&body);
    let keys: Vec<&str> = envelope.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["v", "t", "p"]);
    assert_eq!(envelope[0].1.get(), r#""0.0.1""#);
    assert_eq!(envelope[1].1.get(), "1");
    check_payload(
        &envelope[2].1,
        &[
            ("RealmID", Ty::U32, realm.into()),
            ("GatewayID", Ty::Str, gateway_id.clone().into()),
            ("CharGUID", Ty::U64, 0x0000_0002_0000_0031u64.into()),
            ("CharName", Ty::Str, "Älice <&>".into()),
            ("CharRace", Ty::U8, 4.into()),
            ("CharClass", Ty::U8, 11.into()),
            ("CharGender", Ty::U8, 1.into()),
            ("CharLevel", Ty::U8, 80.into()),
            ("CharZone", Ty::U32, 4395.into()),
            ("CharMap", Ty::U32, 571.into()),
            ("CharPosX", Ty::F32, 5804.15.into()),
            ("CharPosY", Ty::F32, (-0.5).into()),
            ("CharPosZ", Ty::F32, 1e-7.into()),
            ("CharGuildID", Ty::U32, 3_000_000_000u32.into()),
            ("AccountID", Ty::U32, 77.into()),
        ],
    );
    // The exact bytes Go writes for the float32 fields, the escaped name included.
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains(r#""CharName":"Älice \u003c\u0026\u003e""#),
        "{text}"
    );
    assert!(
        text.contains(r#""CharPosX":5804.15,"CharPosY":-0.5,"CharPosZ":1e-7,"#),
        "{text}"
    );

    let body = next_from(&mut logged_out, &gateway_id).await;
    let envelope = keys_in_order(&body);
    let keys: Vec<&str> = envelope.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["v", "t", "p"]);
    assert_eq!(envelope[0].1.get(), r#""0.0.1""#);
    assert_eq!(envelope[1].1.get(), "2");
    check_payload(
        &envelope[2].1,
        &[
            ("RealmID", Ty::U32, realm.into()),
            ("GatewayID", Ty::Str, gateway_id.clone().into()),
            ("CharGUID", Ty::U64, 0x0000_0002_0000_0031u64.into()),
            ("CharName", Ty::Str, "Älice <&>".into()),
            ("CharGuildID", Ty::U32, 3_000_000_000u32.into()),
            ("AccountID", Ty::U32, 77.into()),
        ],
    );
    assert_eq!(bus.stats().published, 2);
    assert_eq!(bus.dropped(), 0);
}

#[tokio::test]
async fn a_new_gateway_id_moves_the_whisper_subscription_and_the_published_id() {
    let Some(url) = nats::nats_url("a_new_gateway_id_moves_the_whisper_subscription") else {
        return;
    };
    let (old_id, realm) = unique("follow");
    let new_id = format!("{old_id}-again");
    let players: Arc<Players> = Arc::new(Players::default());
    let mut queue = players.join(CharacterGuid(1), SessionId(1));
    let bus = connect_bus(&url, &old_id, realm, 64).await;
    bus.subscribe(players.clone()).await.expect("subscribe");
    assert!(
        bus.round_trip(WAIT.as_millis() as u64).await,
        "NATS round trip"
    );
    assert!(
        bus.follow_gateway_id("bad id").await.is_err(),
        "a blank in the id is refused"
    );
    bus.follow_gateway_id(&new_id).await.expect("follow");
    assert!(
        bus.round_trip(WAIT.as_millis() as u64).await,
        "NATS round trip"
    );

    let writer = async_nats::connect(url.as_str()).await.expect("writer");
    let mut logged_in = writer.subscribe("gw.char.logged-in").await.expect("sub");
    fence(&writer).await;
    let whisper = |n: u8| {
        Bytes::from(format!(
            r#"{{"v":"0.0.1","t":1,"p":{{"SenderGUID":9,"SenderName":"Zed","SenderRace":1,"ReceiverGUID":1,"ReceiverName":"A","Language":7,"Msg":"m{n}"}}}}"#
        ))
    };
    // The old id's subject is no longer listened to; the new one's is.
    for (subject, n) in [
        (format!("chat.gw.{old_id}.income.whisper"), 1),
        (format!("chat.gw.{new_id}.income.whisper"), 2),
    ] {
        writer.publish(subject, whisper(n)).await.expect("publish");
    }
    writer.flush().await.expect("flush");
    let got = tokio::time::timeout(WAIT, queue.recv())
        .await
        .expect("a whisper within the bound")
        .expect("queue open");
    assert!(
        String::from_utf8_lossy(&got.payload).contains("\"m2\""),
        "only the new id's whisper arrives first: {:?}",
        got.payload
    );
    assert!(
        queue.try_recv().is_err(),
        "the old id's whisper was not delivered"
    );

    // What the bus publishes carries the new id.
    bus.publish(Announcement::LoggedIn {
        account: AccountId(3),
        character: character(1, "A"),
    });
    let m = tokio::time::timeout(WAIT, logged_in.next())
        .await
        .expect("published within the bound")
        .expect("subscription open");
    let text = String::from_utf8_lossy(&m.payload);
    assert!(
        text.contains(&format!("\"GatewayID\":\"{new_id}\"")),
        "{text}"
    );
}

#[tokio::test]
async fn subscribed_events_reach_only_their_receivers() {
    let Some(url) = nats::nats_url("subscribed_events_reach_only_their_receivers") else {
        return;
    };
    let (gateway_id, realm) = unique("sub");
    let players: Arc<Players> = Arc::new(Players::default());
    // Five characters in world here; 9 is named by events but plays elsewhere.
    let mut queue: Vec<_> = (1..=5u64)
        .map(|g| players.join(CharacterGuid(g), SessionId(g)))
        .collect();
    let bus = connect_bus(&url, &gateway_id, realm, 64).await;
    bus.subscribe(players.clone()).await.expect("subscribe");
    assert!(bus.channels().join(CharacterGuid(4), "Trade - City"));
    assert!(
        bus.round_trip(WAIT.as_millis() as u64).await,
        "NATS round trip"
    );

    let writer = async_nats::connect(url.as_str()).await.expect("writer");
    // (subject, envelope as a producer writes it, the payload, who must get it)
    let r = realm;
    let mut sent: Vec<(String, String, String, Vec<u64>)> = Vec::new();
    let mut send = |subject: String, t: u8, payload: String, to: &[u64]| {
        let body = format!(r#"{{"v":"0.0.1","t":{t},"p":{payload}}}"#);
        sent.push((subject, body, payload, to.to_vec()));
    };
    send(
        format!("chat.gw.{gateway_id}.income.whisper"),
        1,
        r#"{"SenderGUID":9,"SenderName":"Zed","SenderRace":1,"ReceiverGUID":1,"ReceiverName":"A","Language":7,"Msg":"hi"}"#.into(),
        &[1],
    );
    send(
        "chat.gw.ALL.channel.message".into(),
        2,
        format!(
            r#"{{"RealmID":{r},"ChannelName":"trade - city","ChannelID":2,"SenderGUID":9,"SenderName":"Zed","Language":0,"Message":"wts"}}"#
        ),
        &[4],
    );
    send(
        "guild.member.added".into(),
        2,
        format!(
            r#"{{"ServiceID":"g","RealmID":{r},"GuildID":5,"GuildName":"G","MembersOnline":[2,9,3],"MemberGUID":9,"MemberName":"Zed"}}"#
        ),
        &[2, 3],
    );
    send(
        "guild.message.new".into(),
        14,
        format!(
            r#"{{"ServiceID":"g","RealmID":{r},"GuildID":5,"SenderGUID":2,"SenderName":"B","Language":0,"Msg":"o/","ForOfficers":false,"Receivers":[2,3]}}"#
        ),
        &[2, 3],
    );
    send(
        "group.created".into(),
        2,
        format!(
            r#"{{"ServiceID":"gr","RealmID":{r},"GroupID":8,"LeaderGUID":1,"LootMethod":0,"LooterGUID":0,"LootThreshold":2,"GroupType":0,"Difficulty":0,"RaidDifficulty":0,"MasterLooterGuid":0,"Members":[{{"MemberGUID":1,"MemberFlags":0,"MemberName":"A","IsOnline":true,"SubGroup":0,"Roles":0}},{{"MemberGUID":5,"MemberFlags":0,"MemberName":"E","IsOnline":true,"SubGroup":0,"Roles":0}}]}}"#
        ),
        &[1, 5],
    );
    send(
        "group.members.updated".into(),
        13,
        format!(
            r#"{{"ServiceID":"gr","RealmID":{r},"GroupID":8,"Updates":[{{"MemberGUID":1,"Level":80}}],"Receivers":[5]}}"#
        ),
        &[5],
    );
    send(
        "mail.incoming".into(),
        1,
        format!(
            r#"{{"RealmID":{r},"SenderGUID":9,"ReceiverGUID":3,"DeliveryTimestamp":1700000000,"MailID":12}}"#
        ),
        &[3],
    );
    send(
        "matchmaking.pvpqueue.invited".into(),
        2,
        format!(
            r#"{{"RealmID":{r},"PlayersGUID":[2,4],"QueueSlotByPlayer":{{"2":0,"4":1}},"ArenaType":0,"IsRated":false,"PVPQueueMinLVL":80,"PVPQueueMaxLVL":80,"TypeID":2,"MapID":489,"TimeToAcceptMilliseconds":80000}}"#
        ),
        &[2, 4],
    );
    // The same low GUIDs on another realm: not these players.
    send(
        "matchmaking.pvpqueue.invite.expired".into(),
        3,
        format!(
            r#"{{"RealmID":{},"PlayersGUID":[2,4],"QueueSlotByPlayer":null}}"#,
            r + 1
        ),
        &[],
    );
    send(
        "friends.status.changed".into(),
        1,
        format!(
            r#"{{"ServiceID":"c","RealmID":{r},"PlayerGUID":9,"Status":1,"Area":12,"Level":80,"ClassID":1,"NotifyPlayers":[1,2]}}"#
        ),
        &[1, 2],
    );
    send(
        "friends.friend.added".into(),
        2,
        format!(
            r#"{{"ServiceID":"c","RealmID":{r},"PlayerGUID":5,"FriendGUID":9,"FriendName":"Zed","Note":""}}"#
        ),
        &[5],
    );
    // Go's lenient reading: keys in any case, unknown keys, a null array.
    send(
        "group.disband".into(),
        5,
        format!(
            r#"{{"serviceid":"gr","REALMID":{r},"groupId":8,"onlineMembers":[3],"Unknown":{{"x":[1]}}}}"#
        ),
        &[3],
    );
    send(
        "group.message.new".into(),
        10,
        format!(r#"{{"RealmID":{r},"Receivers":null}}"#),
        &[],
    );
    // Malformed: a string GUID, and not JSON at all.
    send(
        "mail.incoming".into(),
        1,
        format!(r#"{{"RealmID":{r},"ReceiverGUID":"3"}}"#),
        &[],
    );
    let total = sent.len() as u64 + 1;
    for (subject, body, _, _) in &sent {
        writer
            .publish(subject.clone(), Bytes::from(body.clone()))
            .await
            .unwrap();
    }
    writer
        .publish("mail.incoming", Bytes::from_static(b"{not json"))
        .await
        .unwrap();
    writer.flush().await.unwrap();

    // Every message handled (others sharing the server only add to this count).
    eventually("every event handled", || bus.stats().received >= total).await;

    // Each player's queue holds exactly its events, in the order they were sent per subject.
    let mut expected: Vec<Vec<(String, String)>> = vec![Vec::new(); 5];
    for (subject, _, payload, to) in &sent {
        for g in to {
            expected[(*g - 1) as usize].push((subject.clone(), payload.clone()));
        }
    }
    for (i, rx) in queue.iter_mut().enumerate() {
        let mut got: Vec<(String, String)> = std::iter::from_fn(|| rx.try_recv().ok().map(|e| *e))
            .map(|ClusterEvent { subject, payload }| {
                (subject, String::from_utf8(payload.to_vec()).unwrap())
            })
            .collect();
        // Subjects are separate streams: only the set is fixed across subjects.
        got.sort();
        let mut want = expected[i].clone();
        want.sort();
        assert_eq!(got, want, "player {}", i + 1);
    }
    let stats = bus.stats();
    assert_eq!(stats.malformed, 2, "{stats:?}");
    assert_eq!(stats.other_realm, 1, "{stats:?}");
    let deliveries: u64 = expected.iter().map(|e| e.len() as u64).sum();
    assert_eq!(stats.delivered, deliveries, "{stats:?}");
    // GUID 9 was named by the guild event and is not here.
    assert_eq!(stats.not_here, 1, "{stats:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");
}

/// A nats-server of this test's own, with JetStream, that it can stop and start again on the
/// same port and store. Stopped and its store removed when dropped.
struct PrivateServer {
    binary: String,
    port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl PrivateServer {
    /// `None` (skip) when there is no nats-server binary outside CI.
    fn new(test: &str) -> Option<Self> {
        let binary =
            std::env::var("WAYGATE_TEST_NATS_SERVER").unwrap_or_else(|_| "nats-server".into());
        let found = Command::new(&binary)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            let how = "install it (`ci/services/nats start` does) or set WAYGATE_TEST_NATS_SERVER";
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("{test}: no nats-server binary and CI is set: {how}");
            }
            eprintln!("{test}: SKIPPED, no nats-server binary ({how})");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let dir =
            std::env::temp_dir().join(format!("waygate-nats-test-{}-{}", std::process::id(), port));
        std::fs::create_dir_all(&dir).expect("store dir");
        Some(Self {
            binary,
            port,
            dir,
            child: None,
        })
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn start(&mut self) {
        let child = Command::new(&self.binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.dir.join("store"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        loop {
            if async_nats::connect(self.url()).await.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "private nats-server did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A clean stop (SIGTERM: JetStream writes its store out), waited for.
    async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + WAIT;
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("private nats-server did not stop on SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How many messages the stream holds now (0 when it cannot be asked).
async fn stream_messages(stream: &mut async_nats::jetstream::stream::Stream) -> u64 {
    stream.info().await.map(|i| i.state.messages).unwrap_or(0)
}

#[tokio::test]
async fn a_nats_restart_keeps_the_newest_events_up_to_the_bound() {
    const TEST: &str = "a_nats_restart_keeps_the_newest_events_up_to_the_bound";
    let Some(mut server) = PrivateServer::new(TEST) else {
        return;
    };
    const BOUND: usize = 8;
    const EXTRA: usize = 5;
    server.start().await;

    // A stream that keeps every announcement, on disk, across the server's restart.
    let js_client = async_nats::connect(server.url()).await.unwrap();
    let js = async_nats::jetstream::new(js_client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "GW_CHAR".into(),
        subjects: vec!["gw.char.*".into()],
        storage: async_nats::jetstream::stream::StorageType::File,
        ..Default::default()
    })
    .await
    .expect("stream");

    let bus = connect_bus(&server.url(), "restart", 1, BOUND).await;
    let login = |guid: u64| Announcement::LoggedIn {
        account: AccountId(1),
        character: character(guid, "Restart"),
    };
    bus.publish(login(99));
    let mut stream = js.get_stream("GW_CHAR").await.unwrap();
    let deadline = Instant::now() + WAIT;
    while stream_messages(&mut stream).await < 1 {
        assert!(Instant::now() < deadline, "the first event never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    server.stop().await;
    eventually("the bus to notice", || !bus.connected()).await;

    // Publish while NATS is down, from a blocking thread: a publish that waited for NATS
    // would never let this finish.
    let bus = Arc::new(bus);
    let publishing = {
        let bus = bus.clone();
        tokio::task::spawn_blocking(move || {
            let mut slowest = Duration::ZERO;
            for guid in 100..100 + (BOUND + EXTRA) as u64 {
                let began = Instant::now();
                bus.publish(login(guid));
                slowest = slowest.max(began.elapsed());
            }
            slowest
        })
    };
    let slowest = tokio::time::timeout(WAIT, publishing)
        .await
        .expect("publish blocked while NATS was down")
        .unwrap();
    assert!(
        slowest < Duration::from_secs(1),
        "slowest publish {slowest:?}"
    );
    assert!(!bus.connected(), "NATS came back by itself?");
    let stats = bus.stats();
    assert_eq!(stats.buffered, BOUND, "{stats:?}");
    assert_eq!(bus.dropped(), EXTRA as u64, "{stats:?}");

    server.start().await;
    eventually("the bus to reconnect and drain its queue", || {
        let s = bus.stats();
        s.connected && s.buffered == 0 && s.published == 1 + BOUND as u64
    })
    .await;
    assert!(bus.flush(WAIT.as_millis() as u64).await, "flush");

    let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
    let mut stream = js.get_stream("GW_CHAR").await.expect("the stream survived");
    let deadline = Instant::now() + WAIT;
    while stream_messages(&mut stream).await < 1 + BOUND as u64 {
        assert!(
            Instant::now() < deadline,
            "the buffered events never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stream_messages(&mut stream).await, 1 + BOUND as u64);
    let mut guids = Vec::new();
    for seq in 1..=1 + BOUND as u64 {
        let m = stream.get_raw_message(seq).await.expect("message");
        let v: Value = serde_json::from_slice(&m.payload).expect("JSON");
        guids.push(v["p"]["CharGUID"].as_u64().expect("CharGUID"));
    }
    // The one before the outage, then the newest BOUND of those published meanwhile, in order:
    // the oldest EXTRA were dropped.
    let kept_from = 100 + EXTRA as u64;
    let want: Vec<u64> = std::iter::once(99)
        .chain(kept_from..kept_from + BOUND as u64)
        .collect();
    assert_eq!(guids, want);
    let stats = bus.stats();
    assert_eq!(stats.publish_dropped, EXTRA as u64);
    assert_eq!(stats.publish_failed, 0);
    assert!(stats.connects >= 2, "{stats:?}");
}

#[tokio::test]
async fn state_changes_are_merged_per_character_and_published_in_batches() {
    let Some(url) =
        nats::nats_url("state_changes_are_merged_per_character_and_published_in_batches")
    else {
        return;
    };
    let (gateway_id, realm) = unique("upd");
    let reader = async_nats::connect(url.as_str()).await.expect("reader");
    let mut updates = reader.subscribe("gw.char.chars-updates").await.unwrap();
    fence(&reader).await;

    let mut settings = NatsSettings::new(url.as_str(), realm, gateway_id.as_str());
    settings.chars_updates_flush_ms = 100;
    settings.chars_updates_per_message_max = 2;
    let bus = NatsBus::connect(settings).await.expect("bus");
    eventually("the bus connected", || bus.connected()).await;
    let change = |guid: u64| CharacterUpdate {
        guid,
        ..CharacterUpdate::default()
    };
    // No await between these: they land in the same flush.
    bus.publish(Announcement::CharacterUpdated(CharacterUpdate {
        health: Some(10),
        level: Some(2),
        ..change(3)
    }));
    bus.publish(Announcement::CharacterUpdated(CharacterUpdate {
        health: Some(30),
        ..change(3)
    }));
    bus.publish(Announcement::CharacterUpdated(CharacterUpdate {
        zone: Some(12),
        ..change(1)
    }));
    bus.publish(Announcement::CharacterUpdated(CharacterUpdate {
        map: Some(0),
        ..change(2)
    }));

    let mut got = Vec::new();
    while got.len() < 2 {
        let m = tokio::time::timeout(WAIT, updates.next())
            .await
            .expect("timed out")
            .expect("subscription ended");
        let v: Value = serde_json::from_slice(&m.payload).expect("JSON");
        if v["p"]["GatewayID"] == gateway_id.as_str() {
            assert_eq!(
                (v["t"].clone(), v["p"]["RealmID"].clone()),
                (3.into(), realm.into())
            );
            got.push(v["p"]["Updates"].clone());
        }
    }
    // Two characters per message, in guid order; guid 3's two changes merged, the later
    // health winning; unchanged keys left out.
    assert_eq!(
        got,
        vec![
            serde_json::json!([{"i": 1, "z": 12}, {"i": 2, "m": 0}]),
            serde_json::json!([{"i": 3, "l": 2, "h": 30}]),
        ]
    );
    assert!(bus.flush(WAIT.as_millis() as u64).await);
}
