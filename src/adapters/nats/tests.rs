use super::*;
use crate::session::SessionId;

const REALM: u32 = 1;

fn inbound(players: Arc<Players>) -> Inbound {
    Inbound {
        shared: Arc::new(Shared {
            publisher: Mutex::new(Publisher {
                realm_id: REALM,
                gateway_id: "7".into(),
            }),
            queue: Mutex::new(PublishQueue::new(4)),
            wake: tokio::sync::Notify::new(),
            in_flight: AtomicBool::new(false),
            counters: Counters::default(),
            channels: Mutex::new(ChannelMembers::default()),
            updates: Mutex::new(UpdatesBarrier::new(4)),
        }),
        subjects: subscribed_subjects("7"),
        sink: players,
    }
}

fn count(i: &Inbound) -> [u64; 6] {
    let c = &i.shared.counters;
    [
        &c.received,
        &c.malformed,
        &c.other_realm,
        &c.delivered,
        &c.not_here,
        &c.dropped,
    ]
    .map(|a| a.load(Ordering::Relaxed))
}

#[test]
fn an_event_reaches_its_receivers_with_the_raw_payload() {
    let players: Arc<Players> = Arc::new(Players::default());
    let mut a = players.join(CharacterGuid(5), SessionId(1));
    let mut b = players.join(CharacterGuid(6), SessionId(2));
    let i = inbound(players.clone());
    let p = r#"{"RealmID":1,"GroupID":3,"OnlineMembers":[5,9],"Extra" : [1]}"#;
    let body = format!(r#"{{"v":"0.0.1","t":5,"p":{p}}}"#);
    i.handle("group.disband", Bytes::from(body));
    let got = a.try_recv().unwrap();
    assert_eq!(got.subject, "group.disband");
    assert_eq!(got.payload, Bytes::from(p));
    assert!(b.try_recv().is_err());
    // received, malformed, other realm, delivered, not here, dropped
    assert_eq!(count(&i), [1, 0, 0, 1, 1, 0]);
}

#[test]
fn the_whisper_subject_carries_the_gateway_id() {
    let players: Arc<Players> = Arc::new(Players::default());
    let mut a = players.join(CharacterGuid(5), SessionId(1));
    let i = inbound(players);
    let body = r#"{"v":"0.0.1","t":1,"p":{"ReceiverGUID":5,"Msg":"hi"}}"#;
    i.handle("chat.gw.7.income.whisper", Bytes::from(body));
    i.handle("chat.gw.8.income.whisper", Bytes::from(body));
    assert!(a.try_recv().is_ok());
    assert!(a.try_recv().is_err());
    assert_eq!(
        count(&i)[..2],
        [2, 1],
        "the other gateway's subject is not ours"
    );
}

#[test]
fn channel_events_reach_the_channel_members_known_here() {
    let players: Arc<Players> = Arc::new(Players::default());
    let mut a = players.join(CharacterGuid(5), SessionId(1));
    let mut b = players.join(CharacterGuid(6), SessionId(2));
    let i = inbound(players);
    assert!(lock(&i.shared.channels).join(CharacterGuid(5), "Trade - City"));
    let msg = r#"{"v":"0.0.1","t":2,"p":{"RealmID":1,"ChannelName":"trade - city","Message":"x"}}"#;
    i.handle("chat.gw.ALL.channel.message", Bytes::from(msg));
    assert!(a.try_recv().is_ok());
    assert!(b.try_recv().is_err());
    let invite =
        r#"{"v":"0.0.1","t":5,"p":{"RealmID":1,"ChannelName":"Trade - City","AffectsPlayer":6}}"#;
    i.handle("chat.gw.ALL.channel.notify", Bytes::from(invite));
    assert!(
        a.try_recv().is_err(),
        "an invitation is for the invited player only"
    );
    assert!(b.try_recv().is_ok());
}

#[test]
fn bad_events_are_counted_and_dropped() {
    let players: Arc<Players> = Arc::new(Players::default());
    let mut a = players.join(CharacterGuid(5), SessionId(1));
    let i = inbound(players);
    for body in [
        &b"not json"[..],
        b"[]",
        b"null",
        br#"{"v":"0.0.1","t":1}"#,
        br#"{"v":1,"t":1,"p":{"ReceiverGUID":5}}"#,
        br#"{"v":"0.0.1","t":"1","p":{"ReceiverGUID":5}}"#,
        br#"{"p":{"ReceiverGUID":"5"}}"#,
        br#"{"p":{"ReceiverGUID":5,"SenderRace":300}}"#,
        br#"{"p":[5]}"#,
        b"{\"p\":{\"Msg\":\"\xff\"}}",
    ] {
        i.handle("chat.gw.7.income.whisper", Bytes::from_static(body));
    }
    i.handle("not.subscribed", Bytes::from_static(b"{}"));
    assert!(a.try_recv().is_err());
    assert_eq!(count(&i), [11, 11, 0, 0, 0, 0]);
}

#[test]
fn events_for_another_realm_are_not_delivered() {
    let players: Arc<Players> = Arc::new(Players::default());
    let mut a = players.join(CharacterGuid(5), SessionId(1));
    let i = inbound(players);
    let body = r#"{"p":{"RealmID":2,"ReceiverGUID":5}}"#;
    i.handle("mail.incoming", Bytes::from(body));
    let body = r#"{"p":{"RealmID":2,"PlayersGUID":[5]}}"#;
    i.handle("matchmaking.pvpqueue.invited", Bytes::from(body));
    assert!(a.try_recv().is_err());
    assert_eq!(count(&i)[..3], [2, 0, 2]);
}

#[test]
fn a_full_player_queue_is_counted_as_dropped() {
    let players: Arc<Players> = Arc::new(Players::default());
    let _a = players.join(CharacterGuid(5), SessionId(1));
    let i = inbound(players);
    let body = Bytes::from(r#"{"p":{"RealmID":1,"ReceiverGUID":5}}"#);
    for _ in 0..crate::driver::PLAYER_EVENT_QUEUE_MAX + 3 {
        i.handle("mail.incoming", body.clone());
    }
    let [_, _, _, delivered, _, dropped] = count(&i);
    assert_eq!(delivered, crate::driver::PLAYER_EVENT_QUEUE_MAX as u64);
    assert_eq!(dropped, 3);
}

#[test]
fn logging_thins_out_as_a_flood_grows() {
    let logged: Vec<u64> = (1..=100).filter(|&n| worth_logging(n)).collect();
    assert_eq!(logged, vec![1, 2, 4, 8, 16, 32, 64]);
}
