use bytes::Bytes;

use super::*;
use crate::wire::packets::{ChatTarget, SystemMessage};

fn me() -> Me {
    Me {
        guid: 7,
        name: "Alice".into(),
        race: 1,
        ..Me::default()
    }
}

fn packet<P: WirePacket>(p: &P) -> Packet {
    Packet {
        opcode: P::OPCODE,
        body: p.to_body(),
    }
}

fn the_call(out: &[Action]) -> ChannelCall {
    let calls: Vec<&ChannelCall> = out
        .iter()
        .filter_map(|a| match a {
            Action::Call(ServiceRequest::Channel(c)) => Some(c),
            _ => None,
        })
        .collect();
    match calls.as_slice() {
        [one] => (*one).clone(),
        other => panic!("one channel call expected: {other:?}"),
    }
}

fn notifies(out: &[Action]) -> Vec<ChannelNotify> {
    out.iter()
        .filter_map(|a| match a {
            Action::ToClient(Opcode::SMSG_CHANNEL_NOTIFY, body) => {
                Some(ChannelNotify::decode(body).expect("decodes"))
            }
            _ => None,
        })
        .collect()
}

fn memberships(out: &[Action]) -> Vec<(String, bool)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Channel { name, joined } => Some((name.clone(), *joined)),
            _ => None,
        })
        .collect()
}

fn join_custom(channels: &mut Channels, name: &str, member_flags: u8) -> Vec<Action> {
    let mut out = Vec::new();
    let join = JoinChannel {
        channel_id: 0,
        unknown: [0, 0],
        name: name.into(),
        password: "pw".into(),
    };
    assert!(from_client(&me(), channels, &packet(&join), &mut out));
    let call = the_call(&out);
    assert_eq!(
        call,
        ChannelCall {
            player: 7,
            player_name: "Alice".into(),
            team: 0,
            channel: name.into(),
            op: ChannelOp::Join {
                id: 0,
                password: "pw".into(),
                flags: channel_flag::CUSTOM,
            },
        }
    );
    let mut out = Vec::new();
    answered(
        &me(),
        channels,
        call,
        Ok(ChannelReply::Joined {
            id: 0,
            flags: channel_flag::CUSTOM,
            member_flags,
        }),
        &mut out,
    );
    out
}

/// The worldserver's YOU_JOINED of a built-in channel, and chatserver's confirmation.
fn join_built_in(channels: &mut Channels, name: &str, id: u32) -> Vec<Action> {
    let you = ChannelNotify {
        kind: channel_notify::YOU_JOINED,
        channel: name.into(),
        detail: NotifyDetail::YouJoined {
            flags: channel_flag::GENERAL,
            channel_id: id,
        },
    };
    let mut out = Vec::new();
    from_world(&me(), channels, packet(&you), &mut out);
    let forwarded = out.iter().any(
        |a| matches!(a, Action::ToClient(Opcode::SMSG_CHANNEL_NOTIFY, b) if *b == you.to_body()),
    );
    assert!(forwarded, "the worldserver's notification goes on: {out:?}");
    let join = out
        .iter()
        .filter_map(|a| match a {
            Action::Call(ServiceRequest::Channel(c)) if matches!(c.op, ChannelOp::Join { .. }) => {
                Some(c.clone())
            }
            _ => None,
        })
        .next()
        .expect("a join on chatserver");
    assert_eq!(
        join.op,
        ChannelOp::Join {
            id,
            password: String::new(),
            flags: channel_flag::GENERAL
        }
    );
    let mut more = Vec::new();
    answered(
        &me(),
        channels,
        join,
        Ok(ChannelReply::Joined {
            id,
            flags: channel_flag::GENERAL,
            member_flags: 0,
        }),
        &mut more,
    );
    assert!(
        notifies(&more).is_empty(),
        "the worldserver told the client"
    );
    out.extend(more);
    out
}

#[test]
fn the_first_member_of_a_player_made_channel_is_told_it_joined_and_owns_it() {
    let mut channels = Channels::default();
    let out = join_custom(&mut channels, "Pugs", member_flag::OWNER);
    assert_eq!(
        notifies(&out),
        vec![
            ChannelNotify {
                kind: channel_notify::YOU_JOINED,
                channel: "Pugs".into(),
                detail: NotifyDetail::YouJoined {
                    flags: channel_flag::CUSTOM,
                    channel_id: 0
                },
            },
            ChannelNotify {
                kind: channel_notify::MODE_CHANGE,
                channel: "Pugs".into(),
                detail: NotifyDetail::ModeChange {
                    guid: 7,
                    old: member_flag::MODERATOR,
                    new: member_flag::MODERATOR | member_flag::OWNER
                },
            },
        ]
    );
    assert_eq!(memberships(&out), vec![("Pugs".into(), true)]);
    assert!(channels.is_member("pUGS"));
    let out = join_custom(&mut Channels::default(), "Pugs", 0);
    assert_eq!(notifies(&out).len(), 1, "not the owner: YOU_JOINED alone");
}

#[test]
fn a_refused_or_unanswered_join_is_told_as_azerothcore_tells_it() {
    let call = ChannelCall {
        player: 7,
        player_name: "Alice".into(),
        team: 0,
        channel: "Pugs".into(),
        op: ChannelOp::Join {
            id: 0,
            password: "x".into(),
            flags: channel_flag::CUSTOM,
        },
    };
    let mut channels = Channels::default();
    let mut out = Vec::new();
    answered(
        &me(),
        &mut channels,
        call.clone(),
        Ok(ChannelReply::Refused(channel_notify::WRONG_PASSWORD)),
        &mut out,
    );
    assert_eq!(
        notifies(&out),
        vec![ChannelNotify::simple(
            channel_notify::WRONG_PASSWORD,
            "Pugs",
            0,
            ""
        )]
    );
    let mut out = Vec::new();
    answered(
        &me(),
        &mut channels,
        call,
        Err("chat: deadline exceeded at 10.1.2.3:9000".into()),
        &mut out,
    );
    let [Action::ToClient(Opcode::SMSG_MESSAGECHAT, body)] = out.as_slice() else {
        panic!("{out:?}");
    };
    let text = SystemMessage::decode(body).expect("decodes").text;
    assert_eq!(text, unanswered_line("Pugs"));
    assert!(!channels.is_member("Pugs"));
}

#[test]
fn a_built_in_channel_is_joined_on_the_worldserver_then_on_chatserver() {
    let mut channels = Channels::default();
    let join = JoinChannel {
        channel_id: 1,
        unknown: [0, 0],
        name: "General - Elwynn Forest".into(),
        password: String::new(),
    };
    let mut out = Vec::new();
    assert!(
        !from_client(&me(), &channels, &packet(&join), &mut out),
        "to the worldserver as it came"
    );
    assert!(out.is_empty());
    let out = join_built_in(&mut channels, "General - Elwynn Forest", 1);
    assert_eq!(
        memberships(&out),
        vec![("General - Elwynn Forest".into(), true)]
    );
    // A zone change: the worldserver joins the next zone's General; the old one is left.
    let out = join_built_in(&mut channels, "General - Westfall", 1);
    assert_eq!(
        memberships(&out),
        vec![
            ("General - Elwynn Forest".into(), false),
            ("General - Westfall".into(), true)
        ]
    );
    let leave = out
        .iter()
        .find_map(|a| match a {
            Action::Call(ServiceRequest::Channel(c)) if matches!(c.op, ChannelOp::Leave { .. }) => {
                Some(c.clone())
            }
            _ => None,
        })
        .expect("the old one left on chatserver");
    assert_eq!(leave.channel, "General - Elwynn Forest");
    assert_eq!(leave.op, ChannelOp::Leave { tell_client: false });
    assert!(!channels.is_member("General - Elwynn Forest"));
    assert!(channels.is_member("General - Westfall"));
}

#[test]
fn after_a_move_the_new_worldserver_is_told_the_built_in_channels_and_its_answer_kept() {
    let mut channels = Channels::default();
    join_built_in(&mut channels, "Trade - City", 2);
    join_custom(&mut channels, "Pugs", 0);
    let mut out = Vec::new();
    moved(&channels, &mut out);
    let [Action::ToWorld(Opcode::CMSG_JOIN_CHANNEL, body)] = out.as_slice() else {
        panic!("one join, for the built-in channel: {out:?}");
    };
    assert_eq!(
        JoinChannel::decode(body).expect("decodes"),
        JoinChannel {
            channel_id: 2,
            unknown: [0, 0],
            name: "Trade - City".into(),
            password: String::new(),
        }
    );
    let answer = ChannelNotify {
        kind: channel_notify::YOU_JOINED,
        channel: "Trade - City".into(),
        detail: NotifyDetail::YouJoined {
            flags: channel_flag::TRADE,
            channel_id: 2,
        },
    };
    let mut out = Vec::new();
    from_world(&me(), &mut channels, packet(&answer), &mut out);
    assert!(out.is_empty(), "the client is in it already: {out:?}");
}

#[test]
fn leaving_a_player_made_channel_goes_to_chatserver_a_built_in_one_to_the_worldserver() {
    let mut channels = Channels::default();
    join_custom(&mut channels, "Pugs", 0);
    join_built_in(&mut channels, "General - Westfall", 1);
    let leave = |name: &str| LeaveChannel {
        unknown: 0,
        name: name.into(),
    };
    let mut out = Vec::new();
    assert!(from_client(
        &me(),
        &channels,
        &packet(&leave("pugs")),
        &mut out
    ));
    let call = the_call(&out);
    assert_eq!(call.op, ChannelOp::Leave { tell_client: true });
    let mut out = Vec::new();
    answered(&me(), &mut channels, call, Ok(ChannelReply::Done), &mut out);
    assert_eq!(
        notifies(&out),
        vec![ChannelNotify {
            kind: channel_notify::YOU_LEFT,
            channel: "pugs".into(),
            detail: NotifyDetail::YouLeft {
                channel_id: 0,
                constant: 0
            },
        }]
    );
    assert_eq!(memberships(&out), vec![("Pugs".into(), false)]);

    let mut out = Vec::new();
    assert!(!from_client(
        &me(),
        &channels,
        &packet(&leave("General - Westfall")),
        &mut out
    ));
    let you_left = ChannelNotify {
        kind: channel_notify::YOU_LEFT,
        channel: "General - Westfall".into(),
        detail: NotifyDetail::YouLeft {
            channel_id: 1,
            constant: 1,
        },
    };
    let mut out = Vec::new();
    from_world(&me(), &mut channels, packet(&you_left), &mut out);
    let call = the_call(&out);
    assert_eq!(call.op, ChannelOp::Leave { tell_client: false });
    assert_eq!(
        memberships(&out),
        vec![("General - Westfall".into(), false)]
    );
    assert_eq!(notifies(&out), vec![you_left], "forwarded as it came");
    let mut out = Vec::new();
    answered(&me(), &mut channels, call, Ok(ChannelReply::Done), &mut out);
    assert!(out.is_empty());
}

#[test]
fn leaving_a_channel_one_is_not_in_says_not_member() {
    let mut channels = Channels::default();
    let mut out = Vec::new();
    let leave = LeaveChannel {
        unknown: 0,
        name: "Nope".into(),
    };
    assert!(from_client(&me(), &channels, &packet(&leave), &mut out));
    let call = the_call(&out);
    let mut out = Vec::new();
    answered(
        &me(),
        &mut channels,
        call,
        Ok(ChannelReply::Refused(channel_notify::NOT_MEMBER)),
        &mut out,
    );
    assert_eq!(
        notifies(&out),
        vec![ChannelNotify::simple(
            channel_notify::NOT_MEMBER,
            "Nope",
            0,
            ""
        )]
    );
}

#[test]
fn a_channel_line_goes_to_chatserver_and_the_speaker_sees_it_from_the_answer() {
    let line = ClientChat {
        kind: u32::from(chat_type::CHANNEL),
        language: 7,
        target: ChatTarget::Channel("Pugs".into()),
        message: "lfg ✓".into(),
    };
    let mut out = Vec::new();
    assert!(from_chat(&me(), &line, &mut out));
    let call = the_call(&out);
    assert_eq!(
        call.op,
        ChannelOp::Say {
            language: 7,
            message: "lfg ✓".into()
        }
    );
    let mut channels = Channels::default();
    let mut out = Vec::new();
    answered(
        &me(),
        &mut channels,
        call.clone(),
        Ok(ChannelReply::Done),
        &mut out,
    );
    let [Action::ToClient(Opcode::SMSG_MESSAGECHAT, body)] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(
        ChatMessage::decode(body).expect("decodes"),
        ChatMessage {
            kind: chat_type::CHANNEL,
            language: 7,
            sender: 7,
            channel: Some("Pugs".into()),
            receiver: 7,
            message: "lfg ✓".into(),
            tag: 0,
        }
    );
    let mut out = Vec::new();
    answered(
        &me(),
        &mut channels,
        call,
        Ok(ChannelReply::Refused(channel_notify::MUTED)),
        &mut out,
    );
    assert_eq!(
        notifies(&out),
        vec![ChannelNotify::simple(channel_notify::MUTED, "Pugs", 0, "")]
    );
    let say = ClientChat {
        kind: u32::from(chat_type::SAY),
        ..line.clone()
    };
    assert!(!from_chat(&me(), &say, &mut Vec::new()), "not a channel's");
    let empty = ClientChat {
        message: String::new(),
        ..line
    };
    let mut out = Vec::new();
    assert!(from_chat(&me(), &empty, &mut out));
    assert!(out.is_empty(), "an empty line is dropped");
}

#[test]
fn the_member_list_carries_the_channels_flags() {
    let mut channels = Channels::default();
    join_custom(&mut channels, "Pugs", 0);
    let mut out = Vec::new();
    let request = ChannelDisplayListRequest {
        channel: "Pugs".into(),
    };
    assert!(from_client(&me(), &channels, &packet(&request), &mut out));
    let call = the_call(&out);
    assert_eq!(call.op, ChannelOp::List);
    let members = vec![
        ChannelListMember {
            guid: 7,
            flags: member_flag::OWNER | member_flag::MODERATOR,
        },
        ChannelListMember { guid: 9, flags: 0 },
    ];
    let mut out = Vec::new();
    answered(
        &me(),
        &mut channels,
        call,
        Ok(ChannelReply::Members(members.clone())),
        &mut out,
    );
    let [Action::ToClient(Opcode::SMSG_CHANNEL_LIST, body)] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(
        ChannelList::decode(body).expect("decodes"),
        ChannelList {
            channel: "Pugs".into(),
            flags: channel_flag::CUSTOM,
            members,
        }
    );
}

#[test]
fn one_is_in_so_many_channels_at_most() {
    let mut channels = Channels::default();
    for n in 0..CHANNELS_PER_PLAYER_MAX {
        join_custom(&mut channels, &format!("c{n}"), 0);
    }
    let join = JoinChannel {
        name: "one more".into(),
        ..JoinChannel::default()
    };
    let mut out = Vec::new();
    assert!(from_client(&me(), &channels, &packet(&join), &mut out));
    assert!(
        matches!(
            out.as_slice(),
            [Action::ToClient(Opcode::SMSG_MESSAGECHAT, _)]
        ),
        "{out:?}"
    );
    let again = JoinChannel {
        name: "C3".into(),
        ..JoinChannel::default()
    };
    let mut out = Vec::new();
    assert!(from_client(&me(), &channels, &packet(&again), &mut out));
    the_call(&out);
}

fn event(channels: &mut Channels, kind: EventKind, payload: &str) -> (EventFate, Vec<Action>) {
    let mut out = Vec::new();
    let fate = render_event(&me(), channels, kind, payload.as_bytes(), &mut out);
    (fate, out)
}

#[test]
fn a_channel_line_from_elsewhere_reaches_the_members_but_not_its_speaker() {
    let mut channels = Channels::default();
    join_custom(&mut channels, "Pugs", 0);
    let payload = r#"{"RealmID":1,"ChannelName":"Pugs","ChannelID":0,"SenderGUID":9,
        "SenderName":"Bob","Language":1,"Message":"héllo"}"#;
    let (fate, out) = event(&mut channels, EventKind::Message, payload);
    assert_eq!(fate, EventFate::Rendered);
    let [Action::ToClient(Opcode::SMSG_MESSAGECHAT, body)] = out.as_slice() else {
        panic!("{out:?}");
    };
    let line = ChatMessage::decode(body).expect("decodes");
    assert_eq!((line.sender, line.receiver), (9, 9));
    assert_eq!(line.channel.as_deref(), Some("Pugs"));
    assert_eq!(line.message, "héllo");
    let own = payload.replace("\"SenderGUID\":9", "\"SenderGUID\":7");
    assert_eq!(
        event(&mut channels, EventKind::Message, &own),
        (EventFate::NotForMe, vec![])
    );
    let other = payload.replace("Pugs", "Raiders");
    assert_eq!(
        event(&mut channels, EventKind::Message, &other),
        (EventFate::NotForMe, vec![])
    );
}

#[test]
fn comings_and_goings_are_told_in_player_made_channels_only() {
    let mut channels = Channels::default();
    join_custom(&mut channels, "Pugs", 0);
    join_built_in(&mut channels, "Trade - City", 2);
    let joined = r#"{"ChannelName":"Pugs","PlayerGUID":9,"PlayerName":"Bob"}"#;
    let (fate, out) = event(&mut channels, EventKind::Joined, joined);
    assert_eq!(fate, EventFate::Rendered);
    assert_eq!(
        notifies(&out),
        vec![ChannelNotify::simple(channel_notify::JOINED, "Pugs", 9, "")]
    );
    let left = r#"{"ChannelName":"Pugs","PlayerGUID":9}"#;
    let (_, out) = event(&mut channels, EventKind::Left, left);
    assert_eq!(
        notifies(&out),
        vec![ChannelNotify::simple(channel_notify::LEFT, "Pugs", 9, "")]
    );
    let trade = r#"{"ChannelName":"Trade - City","PlayerGUID":9}"#;
    assert_eq!(
        event(&mut channels, EventKind::Joined, trade).0,
        EventFate::NotForMe
    );
    let me_joined = r#"{"ChannelName":"Pugs","PlayerGUID":7}"#;
    assert_eq!(
        event(&mut channels, EventKind::Joined, me_joined).0,
        EventFate::NotForMe
    );
}

#[test]
fn a_player_put_out_of_a_channel_is_told_it_left() {
    let mut channels = Channels::default();
    join_custom(&mut channels, "Pugs", 0);
    let kicked = r#"{"ChannelName":"Pugs","PlayerGUID":7}"#;
    let (fate, out) = event(&mut channels, EventKind::Left, kicked);
    assert_eq!(fate, EventFate::Rendered);
    assert_eq!(
        notifies(&out),
        vec![ChannelNotify {
            kind: channel_notify::YOU_LEFT,
            channel: "Pugs".into(),
            detail: NotifyDetail::YouLeft {
                channel_id: 0,
                constant: 0
            },
        }]
    );
    assert_eq!(memberships(&out), vec![("Pugs".into(), false)]);
    assert_eq!(
        event(&mut channels, EventKind::Left, kicked).0,
        EventFate::NotForMe,
        "told once"
    );
}

#[test]
fn notifications_render_with_azerothcores_detail() {
    let mut channels = Channels::default();
    join_custom(&mut channels, "Pugs", 0);
    let mode = r#"{"ChannelName":"Pugs","NotifyType":12,"TargetGUID":9,"OldFlags":0,"NewFlags":2}"#;
    let (fate, out) = event(&mut channels, EventKind::Notify, mode);
    assert_eq!(fate, EventFate::Rendered);
    assert_eq!(
        notifies(&out),
        vec![ChannelNotify {
            kind: channel_notify::MODE_CHANGE,
            channel: "Pugs".into(),
            detail: NotifyDetail::ModeChange {
                guid: 9,
                old: 0,
                new: 2
            },
        }]
    );
    let invite = r#"{"ChannelName":"Raiders","NotifyType":24,"TargetGUID":9,"AffectsPlayer":7}"#;
    let (fate, out) = event(&mut channels, EventKind::Notify, invite);
    assert_eq!(
        fate,
        EventFate::Rendered,
        "an invitation to a channel one is not in"
    );
    assert_eq!(
        notifies(&out),
        vec![ChannelNotify::simple(
            channel_notify::INVITE,
            "Raiders",
            9,
            ""
        )]
    );
    let for_another = invite.replace("\"AffectsPlayer\":7", "\"AffectsPlayer\":8");
    assert_eq!(
        event(&mut channels, EventKind::Notify, &for_another).0,
        EventFate::NotForMe
    );
    let elsewhere = mode.replace("Pugs", "Raiders");
    assert_eq!(
        event(&mut channels, EventKind::Notify, &elsewhere).0,
        EventFate::NotForMe
    );
}

#[test]
fn malformed_channel_events_render_nothing() {
    let mut channels = Channels::default();
    join_custom(&mut channels, "Pugs", 0);
    for (kind, bad) in [
        (
            EventKind::Message,
            r#"{"ChannelName":"Pugs","SenderGUID":"9"}"#,
        ),
        (
            EventKind::Joined,
            r#"{"ChannelName":"Pugs","PlayerFlags":256}"#,
        ),
        (
            EventKind::Notify,
            r#"{"ChannelName":"Pugs","NotifyType":-1}"#,
        ),
        (EventKind::Left, "["),
    ] {
        let (fate, out) = event(&mut channels, kind, bad);
        assert!(matches!(fate, EventFate::Malformed(_)), "{bad}: {fate:?}");
        assert!(out.is_empty());
    }
}

#[test]
fn subjects_and_teams() {
    assert_eq!(
        event_kind("chat.gw.ALL.channel.message"),
        Some(EventKind::Message)
    );
    assert_eq!(
        event_kind("chat.gw.ALL.channel.notify"),
        Some(EventKind::Notify)
    );
    assert_eq!(event_kind("chat.gw.ALL.channel.other"), None);
    assert_eq!(event_kind("chat.gw.42.income.whisper"), None);
    assert_eq!((team_of(1), team_of(10), team_of(0)), (0, 1, 2));
}

#[test]
fn a_notify_that_does_not_decode_goes_on_untouched() {
    let mut channels = Channels::default();
    let junk = Packet {
        opcode: Opcode::SMSG_CHANNEL_NOTIFY,
        body: Bytes::from_static(&[0x02, b'x']),
    };
    let mut out = Vec::new();
    from_world(&me(), &mut channels, junk.clone(), &mut out);
    assert_eq!(out, vec![Action::ToClient(junk.opcode, junk.body)]);
}

#[test]
fn the_speakers_line_carries_the_channels_own_name() {
    let mut channels = Channels::default();
    join_custom(&mut channels, "Pugs", 0);
    let line = ClientChat {
        kind: u32::from(chat_type::CHANNEL),
        language: 7,
        target: ChatTarget::Channel("pUGS".into()),
        message: "hi".into(),
    };
    let mut out = Vec::new();
    assert!(from_chat(&me(), &line, &mut out));
    let call = the_call(&out);
    assert_eq!(call.channel, "pUGS", "chatserver keys it in any case");
    let mut out = Vec::new();
    answered(&me(), &mut channels, call, Ok(ChannelReply::Done), &mut out);
    let [Action::ToClient(Opcode::SMSG_MESSAGECHAT, body)] = out.as_slice() else {
        panic!("{out:?}");
    };
    let echo = ChatMessage::decode(body).expect("decodes");
    assert_eq!(echo.channel.as_deref(), Some("Pugs"));
}
