use super::*;
use crate::wire::packets::ChatTarget;
use crate::wire::packets::{ChatMessage, SystemMessage};

const ME: u64 = 7;

fn me(guild_id: u64) -> Me {
    Me {
        guid: ME,
        name: "Alice".into(),
        race: 4,
        guild_id,
        ..Me::default()
    }
}

fn line(kind: u8, text: &str) -> ClientChat {
    ClientChat {
        kind: u32::from(kind),
        language: 7,
        target: ChatTarget::None,
        message: text.into(),
    }
}

fn one(out: &[Action]) -> (crate::wire::Opcode, bytes::Bytes) {
    match out {
        [Action::ToClient(opcode, body)] => (*opcode, body.clone()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn guild_chat_goes_to_guildserver_only_from_a_guild_member() {
    let mut out = Vec::new();
    assert!(from_client(&me(3), &line(chat_type::GUILD, "hi"), &mut out));
    assert_eq!(
        out,
        vec![Action::Call(ServiceRequest::GuildMessage(GuildMessage {
            sender: ME,
            language: 7,
            message: "hi".into(),
            officer: false,
        }))]
    );
    let mut out = Vec::new();
    assert!(!from_client(
        &me(0),
        &line(chat_type::GUILD, "hi"),
        &mut out
    ));
    assert!(!from_client(
        &me(3),
        &line(chat_type::OFFICER, "hi"),
        &mut out
    ));
    assert!(!from_client(&me(3), &line(chat_type::SAY, "hi"), &mut out));
    assert!(from_client(&me(3), &line(chat_type::GUILD, ""), &mut out));
    assert!(out.is_empty());
}

#[test]
fn the_answer_echoes_the_line_or_says_it_failed() {
    let message = GuildMessage {
        sender: ME,
        language: 7,
        message: "hi".into(),
        officer: false,
    };
    let mut out = Vec::new();
    answered(message.clone(), &Ok(()), &mut out);
    let (opcode, body) = one(&out);
    assert_eq!(opcode, crate::wire::Opcode::SMSG_MESSAGECHAT);
    let echo = ChatMessage::decode(&body).expect("decodes");
    assert_eq!(
        (echo.kind, echo.sender, echo.receiver, echo.message.as_str()),
        (chat_type::GUILD, ME, ME, "hi")
    );
    let mut out = Vec::new();
    answered(message, &Err("guild: deadline".into()), &mut out);
    let (_, body) = one(&out);
    assert_eq!(
        SystemMessage::decode(&body).expect("decodes").text,
        UNDELIVERED_LINE
    );
}

fn render(me: &mut Me, subject: &str, payload: &str) -> (EventFate, Vec<Action>) {
    let mut out = Vec::new();
    let kind = event_kind(subject).expect("a guild subject");
    let fate = render_event(me, kind, payload.as_bytes(), &mut out);
    (fate, out)
}

fn guild_event_of(out: &[Action]) -> GuildEvent {
    let (opcode, body) = one(out);
    assert_eq!(opcode, crate::wire::Opcode::SMSG_GUILD_EVENT);
    GuildEvent::decode(&body).expect("decodes")
}

#[test]
fn membership_events_follow_the_players_own_guild() {
    let mut alice = me(0);
    let (fate, out) = render(
        &mut alice,
        "guild.member.added",
        r#"{"GuildID":3,"MembersOnline":[7,9],"MemberGUID":7,"MemberName":"Alice"}"#,
    );
    assert_eq!(fate, EventFate::Rendered);
    assert_eq!(
        guild_event_of(&out),
        GuildEvent {
            event: guild_event::JOINED,
            params: vec!["Alice".into()],
            guid: Some(ME),
        }
    );
    assert_eq!(alice.guild_id, 3);
    // Someone else leaving changes nothing of hers.
    let (_, out) = render(
        &mut alice,
        "guild.member.left",
        r#"{"GuildID":3,"MemberGUID":9,"MemberName":"Bob"}"#,
    );
    assert_eq!(guild_event_of(&out).guid, Some(9));
    assert_eq!(alice.guild_id, 3);
    let (_, out) = render(
        &mut alice,
        "guild.member.kicked",
        r#"{"GuildID":3,"MemberGUID":7,"MemberName":"Alice","KickerGUID":9,"KickerName":"Bob"}"#,
    );
    assert_eq!(
        guild_event_of(&out),
        GuildEvent {
            event: guild_event::REMOVED,
            params: vec!["Alice".into(), "Bob".into()],
            guid: None,
        }
    );
    assert_eq!(alice.guild_id, 0);
}

#[test]
fn rank_and_motd_events_are_worded_as_azerothcore_words_them() {
    let mut alice = me(3);
    let cases = [
        (
            "guild.member.promoted",
            r#"{"RankID":1,"RankName":"Officer","PromoterName":"Bob","MemberGUID":9,"MemberName":"Eve"}"#,
            guild_event::PROMOTION,
            vec!["Bob", "Eve", "Officer"],
        ),
        (
            "guild.member.demoted",
            r#"{"RankName":"Initiate","DemoterName":"Bob","MemberName":"Eve"}"#,
            guild_event::DEMOTION,
            vec!["Bob", "Eve", "Initiate"],
        ),
        (
            "guild.motd.updated",
            r#"{"NewMessageOfTheDay":"Raid at 8 ✓"}"#,
            guild_event::MOTD,
            vec!["Raid at 8 ✓"],
        ),
        (
            "guild.rank.created",
            r#"{"RankID":5,"RankName":"Alt","RanksCount":6}"#,
            guild_event::RANK_UPDATED,
            vec!["5", "Alt", "6"],
        ),
        (
            "guild.rank.deleted",
            r#"{"RankID":5,"RankName":"Alt","RanksCount":5}"#,
            guild_event::RANK_DELETED,
            vec!["5"],
        ),
    ];
    for (subject, payload, event, params) in cases {
        let (fate, out) = render(&mut alice, subject, payload);
        assert_eq!(fate, EventFate::Rendered, "{subject}");
        let got = guild_event_of(&out);
        assert_eq!(
            (got.event, got.params),
            (event, params.iter().map(|p| p.to_string()).collect()),
            "{subject}"
        );
    }
}

#[test]
fn guild_chat_from_others_and_invitations() {
    let mut alice = me(3);
    let (fate, out) = render(
        &mut alice,
        "guild.message.new",
        r#"{"GuildID":3,"SenderGUID":9,"SenderName":"Bob","Language":1,"Msg":"yo","ForOfficers":true,"Receivers":[7]}"#,
    );
    assert_eq!(fate, EventFate::Rendered);
    let (_, body) = one(&out);
    let line = ChatMessage::decode(&body).expect("decodes");
    assert_eq!(
        (
            line.kind,
            line.sender,
            line.receiver,
            line.language,
            line.message.as_str()
        ),
        (chat_type::OFFICER, 9, 9, 1, "yo")
    );
    // Her own line came back as an echo already.
    let (fate, out) = render(
        &mut alice,
        "guild.message.new",
        r#"{"SenderGUID":7,"Msg":"yo","Receivers":[7,9]}"#,
    );
    assert_eq!((fate, out.len()), (EventFate::NotForMe, 0));
    let (fate, out) = render(
        &mut alice,
        "guild.invite.created",
        r#"{"GuildID":4,"GuildName":"Öz","InviterGUID":9,"InviterName":"Bob","InviteeGUID":7,"InviteeName":"Alice"}"#,
    );
    assert_eq!(fate, EventFate::Rendered);
    let (opcode, body) = one(&out);
    assert_eq!(opcode, crate::wire::Opcode::SMSG_GUILD_INVITE);
    assert_eq!(
        GuildInvite::decode(&body).expect("decodes"),
        GuildInvite {
            inviter: "Bob".into(),
            guild: "Öz".into(),
        }
    );
    let (fate, _) = render(&mut alice, "guild.invite.created", r#"{"InviteeGUID":8}"#);
    assert_eq!(fate, EventFate::NotForMe);
}

#[test]
fn malformed_guild_events_render_nothing() {
    let mut alice = me(3);
    for (subject, bad) in [
        ("guild.member.added", r#"{"MemberGUID":"7"}"#),
        ("guild.rank.created", r#"{"RankID":256}"#),
        ("guild.message.new", r#"{"ForOfficers":1}"#),
        ("guild.motd.updated", "{"),
    ] {
        let (fate, out) = render(&mut alice, subject, bad);
        assert!(
            matches!(fate, EventFate::Malformed(_)),
            "{subject} {bad}: {fate:?}"
        );
        assert!(out.is_empty());
    }
    assert_eq!(alice.guild_id, 3);
    assert_eq!(event_kind("guild.member.noteupdated"), None);
}

#[test]
fn the_roster_is_asked_for_a_guild_member_only_and_rendered() {
    use crate::wire::packets::GuildRoster;
    let mut out = Vec::new();
    assert!(!roster_asked(&me(0), &mut out));
    assert!(roster_asked(&me(3), &mut out));
    assert_eq!(out, vec![Action::Call(ServiceRequest::GuildRoster(3))]);
    let roster = GuildRoster {
        motd: "hi".into(),
        ..GuildRoster::default()
    };
    let mut out = Vec::new();
    roster_answered(Ok(roster.clone()), &mut out);
    assert_eq!(
        out,
        vec![Action::ToClient(
            crate::wire::Opcode::SMSG_GUILD_ROSTER,
            roster.to_body()
        )]
    );
    let mut out = Vec::new();
    roster_answered(Err("guild: down".into()), &mut out);
    let (_, body) = one(&out);
    assert_eq!(
        SystemMessage::decode(&body).map(|m| m.text),
        Ok(ROSTER_UNAVAILABLE_LINE.to_owned())
    );
}

#[test]
fn a_promoted_or_demoted_player_gets_its_rights_again() {
    for subject in ["guild.member.promoted", "guild.member.demoted"] {
        let mut alice = me(3);
        let payload = format!(r#"{{"RankName":"Officer","MemberGUID":{ME},"MemberName":"Alice"}}"#);
        let (fate, out) = render(&mut alice, subject, &payload);
        assert_eq!(fate, EventFate::Rendered);
        assert_eq!(out.len(), 2, "{subject}: {out:?}");
        assert_eq!(
            out[1],
            Action::Call(ServiceRequest::GuildCommand(commands::GuildCall {
                player: ME,
                op: commands::GuildOp::Permissions(3),
            })),
            "{subject}"
        );
        let (_, out) = render(
            &mut alice,
            subject,
            r#"{"RankName":"Officer","MemberGUID":9,"MemberName":"Eve"}"#,
        );
        assert_eq!(out.len(), 1, "someone else's promotion: the notice only");
    }
}

#[test]
fn at_login_the_motd_and_roster_are_guildservers_and_the_worldservers_motd_is_dropped() {
    let mut out = Vec::new();
    entered_world(&me(0), &mut out);
    assert!(out.is_empty(), "in no guild");
    entered_world(&me(3), &mut out);
    assert_eq!(
        out,
        vec![Action::Call(ServiceRequest::GuildCommand(
            commands::GuildCall {
                player: ME,
                op: commands::GuildOp::LoginInfo(3),
            }
        ))]
    );
    let event = |event, params: Vec<String>, guid| crate::wire::Packet {
        opcode: crate::wire::Opcode::SMSG_GUILD_EVENT,
        body: GuildEvent {
            event,
            params,
            guid,
        }
        .to_body(),
    };
    let mut out = Vec::new();
    from_world(
        event(guild_event::MOTD, vec!["stale".into()], None),
        &mut out,
    );
    assert!(out.is_empty(), "the worldserver's MOTD may be stale");
    let signed_on = event(guild_event::SIGNED_ON, vec!["Alice".into()], Some(ME));
    from_world(signed_on.clone(), &mut out);
    assert_eq!(
        out,
        vec![Action::ToClient(signed_on.opcode, signed_on.body)]
    );
}
