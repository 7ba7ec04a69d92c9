use super::*;

const REALM: u32 = 1;

fn subscription(subject: &str) -> &'static Subscription {
    SUBSCRIPTIONS
        .iter()
        .find(|s| s.subject == subject)
        .unwrap_or_else(|| panic!("{subject} is not subscribed"))
}

fn to(subject: &str, payload: &str) -> Route {
    route(subscription(subject), payload, REALM).unwrap()
}

fn guids(list: &[u64]) -> Route {
    Route::To(list.iter().copied().map(CharacterGuid).collect())
}

#[test]
fn the_subject_list_is_section_2_4() {
    assert_eq!(SUBSCRIPTIONS.len(), 42);
    let unique: BTreeSet<_> = SUBSCRIPTIONS.iter().map(|s| s.subject).collect();
    assert_eq!(unique.len(), SUBSCRIPTIONS.len());
    let whisper = subscription("chat.gw.{gatewayID}.income.whisper");
    assert_eq!(whisper.subject_for("42"), "chat.gw.42.income.whisper");
    assert!(
        !whisper.realm_scoped(),
        "the whisper payload has no RealmID"
    );
    assert!(
        SUBSCRIPTIONS
            .iter()
            .filter(|s| s.subject != whisper.subject)
            .all(|s| s.realm_scoped())
    );
    // Every receiver field is a field of its payload.
    for s in SUBSCRIPTIONS {
        let named: Vec<&str> = match s.receivers {
            One(f) | Many(f) | LowGuids(f) => vec![f],
            EachOf(a, _) => vec![a],
            Channel => vec!["ChannelName"],
            AffectedOrChannel => vec!["ChannelName", "AffectsPlayer"],
        };
        for f in named {
            assert!(s.fields.iter().any(|x| x.key == f), "{}: {f}", s.subject);
        }
    }
}

#[test]
fn chat() {
    let whisper = "chat.gw.{gatewayID}.income.whisper";
    assert_eq!(
        to(whisper, r#"{"SenderGUID":2,"ReceiverGUID":3,"Msg":"hi"}"#),
        guids(&[3])
    );
    assert_eq!(to(whisper, r#"{"receiverguid":3}"#), guids(&[3]));
    assert_eq!(to(whisper, "{}"), guids(&[]));
    let channel = r#"{"RealmID":1,"ChannelName":"Trade - City","SenderGUID":2}"#;
    for subject in [
        "chat.gw.ALL.channel.message",
        "chat.gw.ALL.channel.joined",
        "chat.gw.ALL.channel.left",
    ] {
        assert_eq!(to(subject, channel), Route::Channel("trade - city".into()));
    }
    let notify = "chat.gw.ALL.channel.notify";
    assert_eq!(
        to(
            notify,
            r#"{"RealmID":1,"ChannelName":"World","AffectsPlayer":0,"TargetGUID":4}"#
        ),
        Route::Channel("world".into())
    );
    assert_eq!(
        to(
            notify,
            r#"{"RealmID":1,"ChannelName":"World","AffectsPlayer":9}"#
        ),
        guids(&[9])
    );
    assert_eq!(
        to(notify, r#"{"RealmID":2,"AffectsPlayer":9}"#),
        Route::OtherRealm(2)
    );
}

#[test]
fn guild() {
    assert_eq!(
        to(
            "guild.invite.created",
            r#"{"RealmID":1,"InviterGUID":2,"InviteeGUID":3}"#
        ),
        guids(&[3])
    );
    for subject in [
        "guild.member.added",
        "guild.member.left",
        "guild.member.kicked",
        "guild.rank.created",
        "guild.rank.updated",
        "guild.rank.deleted",
        "guild.member.promoted",
        "guild.member.demoted",
        "guild.motd.updated",
    ] {
        assert_eq!(
            to(
                subject,
                r#"{"RealmID":1,"MemberGUID":8,"MembersOnline":[4,5,4]}"#
            ),
            guids(&[4, 5]),
            "{subject}"
        );
        assert_eq!(
            to(subject, r#"{"RealmID":1,"MembersOnline":null}"#),
            guids(&[])
        );
    }
    assert_eq!(
        to(
            "guild.message.new",
            r#"{"RealmID":1,"SenderGUID":2,"ForOfficers":true,"Receivers":[2,6]}"#
        ),
        guids(&[2, 6])
    );
    assert!(
        route(
            subscription("guild.message.new"),
            r#"{"ForOfficers":1}"#,
            REALM
        )
        .is_err()
    );
}

#[test]
fn mail() {
    let p = r#"{"RealmID":1,"SenderGUID":2,"ReceiverGUID":7,"DeliveryTimestamp":-5,"MailID":1}"#;
    assert_eq!(to("mail.incoming", p), guids(&[7]));
    assert_eq!(
        to("mail.incoming", r#"{"RealmID":3,"ReceiverGUID":7}"#),
        Route::OtherRealm(3)
    );
}

#[test]
fn group() {
    assert_eq!(
        to(
            "group.invite.created",
            r#"{"RealmID":1,"InviterGUID":2,"InviteeGUID":3}"#
        ),
        guids(&[3])
    );
    let created = r#"{"RealmID":1,"GroupID":1,"LeaderGUID":2,"Members":[
            {"MemberGUID":2,"IsOnline":true},{"MemberGUID":3,"IsOnline":false},null,{"memberguid":4}]}"#;
    assert_eq!(to("group.created", created), guids(&[2, 3, 4]));
    assert!(
        route(
            subscription("group.created"),
            r#"{"Members":[{"SubGroup":256}]}"#,
            REALM
        )
        .is_err()
    );
    for subject in [
        "group.member.online.changed",
        "group.member.left",
        "group.disband",
        "group.member.added",
        "group.leader.changed",
        "group.loot.changed",
        "group.converted.raid",
    ] {
        assert_eq!(
            to(
                subject,
                r#"{"RealmID":1,"GroupID":9,"MemberGUID":8,"OnlineMembers":[2,3]}"#
            ),
            guids(&[2, 3]),
            "{subject}"
        );
    }
    for subject in [
        "group.message.new",
        "group.targeticons.new",
        "group.difficulty.changed",
        "group.members.updated",
        "group.readycheck.started",
        "group.readycheck.member.state",
        "group.readycheck.finished",
        "group.member.subgroup.changed",
        "group.member.flags.changed",
    ] {
        assert_eq!(
            to(subject, r#"{"RealmID":1,"GroupID":9,"Receivers":[3,0,2]}"#),
            guids(&[3, 2]),
            "{subject}"
        );
    }
    let stats =
        r#"{"RealmID":1,"Updates":[{"MemberGUID":2,"IsOnline":null,"Level":80}],"Receivers":[3]}"#;
    assert_eq!(to("group.members.updated", stats), guids(&[3]));
    let bad = r#"{"RealmID":1,"Updates":[{"CurHP":-1}],"Receivers":[3]}"#;
    assert!(route(subscription("group.members.updated"), bad, REALM).is_err());
}

#[test]
fn matchmaking_low_guids_count_only_on_this_realm() {
    for subject in [
        "matchmaking.pvpqueue.joined",
        "matchmaking.pvpqueue.invited",
        "matchmaking.pvpqueue.invite.expired",
    ] {
        let p = r#"{"RealmID":1,"PlayersGUID":[11,4294967295],"QueueSlotByPlayer":{"11":0,"4294967295":2}}"#;
        assert_eq!(to(subject, p), guids(&[11, 0xFFFF_FFFF]), "{subject}");
        let elsewhere = r#"{"RealmID":2,"PlayersGUID":[11]}"#;
        assert_eq!(to(subject, elsewhere), Route::OtherRealm(2));
        assert_eq!(to(subject, r#"{"PlayersGUID":[11]}"#), Route::OtherRealm(0));
        let wide = r#"{"RealmID":1,"PlayersGUID":[4294967296]}"#;
        assert!(
            route(subscription(subject), wide, REALM).is_err(),
            "a low GUID is 32-bit"
        );
        let bad_key = r#"{"RealmID":1,"QueueSlotByPlayer":{"-1":0}}"#;
        assert!(route(subscription(subject), bad_key, REALM).is_err());
    }
}

#[test]
fn friends() {
    assert_eq!(
        to(
            "friends.status.changed",
            r#"{"RealmID":1,"PlayerGUID":2,"Status":1,"NotifyPlayers":[5,6]}"#
        ),
        guids(&[5, 6])
    );
    assert_eq!(
        to(
            "friends.status.changed",
            r#"{"RealmID":1,"NotifyPlayers":null}"#
        ),
        guids(&[])
    );
    for subject in [
        "friends.friend.added",
        "friends.friend.removed",
        "friends.note.updated",
    ] {
        assert_eq!(
            to(
                subject,
                r#"{"RealmID":1,"PlayerGUID":2,"FriendGUID":3,"Note":"n"}"#
            ),
            guids(&[2]),
            "{subject}"
        );
    }
}

#[test]
fn a_null_payload_names_nobody() {
    assert_eq!(to("chat.gw.{gatewayID}.income.whisper", "null"), guids(&[]));
    assert_eq!(to("guild.motd.updated", "null"), Route::OtherRealm(0));
    assert!(route(subscription("guild.motd.updated"), "5", REALM).is_err());
}

#[test]
fn the_envelope_is_read_as_go_reads_it() {
    let p = open_envelope(br#"{"V":"0.0.1","T":1,"P":{"a":1},"extra":[]}"#).unwrap();
    assert_eq!(p.get(), r#"{"a":1}"#);
    let p = open_envelope(br#"{"p":{"a":1},"p":null}"#).unwrap();
    assert_eq!(p.get(), "null", "the last p wins, null included");
    let p = open_envelope(br#"{"v":null,"t":null,"p":{}}"#).unwrap();
    assert_eq!(p.get(), "{}");
    assert_eq!(
        open_envelope(br#"{"v":"0.0.1","t":1}"#).unwrap_err(),
        Malformed::NoPayload
    );
    assert_eq!(open_envelope(b"null").unwrap_err(), Malformed::NoPayload);
    assert!(open_envelope(br#"{"t":1.5,"p":{}}"#).is_err());
    assert!(open_envelope(br#"{"v":["x"],"p":{}}"#).is_err());
    assert!(open_envelope(b"{\"p\":{}").is_err());
}

#[test]
fn channel_members_follow_joins_leaves_and_logouts() {
    let mut c = ChannelMembers::default();
    let (a, b) = (CharacterGuid(1), CharacterGuid(2));
    assert!(c.join(a, "General - Elwynn"));
    assert!(c.join(b, "general - elwynn"));
    assert!(c.join(a, "Trade"));
    assert_eq!(c.members("general - elwynn"), vec![a, b]);
    c.leave(b, "GENERAL - ELWYNN");
    assert_eq!(c.members("general - elwynn"), vec![a]);
    c.forget(a);
    assert!(c.members("general - elwynn").is_empty());
    assert!(c.members("trade").is_empty());
    for n in 0..CHANNELS_PER_PLAYER_MAX {
        assert!(c.join(a, &format!("c{n}")));
    }
    assert!(!c.join(a, "one too many"));
    assert!(
        c.join(a, "C0"),
        "re-joining a channel it is in is not one more"
    );
}
