use super::*;
use crate::wire::packets::{ChatMessage, DifficultyChanged, RaidTargets, SystemMessage};

const ME: u64 = 7;

fn me() -> Me {
    Me {
        guid: ME,
        name: "Alice".into(),
        race: 4,
        guild_id: 0,
        ..Me::default()
    }
}

fn render(group: &mut GroupState, subject: &str, payload: &str) -> (EventFate, Vec<Action>) {
    let mut out = Vec::new();
    let kind = event_kind(subject).expect("a group subject");
    let fate = render_event(&me(), group, kind, payload.as_bytes(), &mut out);
    (fate, out)
}

fn list_of(action: &Action) -> GroupList {
    match action {
        Action::ToClient(Opcode::SMSG_GROUP_LIST, body) => {
            GroupList::decode(body).expect("decodes")
        }
        other => panic!("{other:?}"),
    }
}

const CREATED: &str = r#"{"GroupID":5,"LeaderGUID":9,"LootMethod":2,"LooterGUID":0,
    "LootThreshold":2,"GroupType":0,"Difficulty":1,"RaidDifficulty":0,"MasterLooterGuid":9,
    "Members":[
        {"MemberGUID":9,"MemberFlags":0,"MemberName":"Bob","IsOnline":true,"SubGroup":0,"Roles":0},
        {"MemberGUID":7,"MemberFlags":1,"MemberName":"Alice","IsOnline":true,"SubGroup":0,"Roles":2},
        {"MemberGUID":11,"MemberFlags":0,"MemberName":"Ëve","IsOnline":false,"SubGroup":0,"Roles":0}
    ]}"#;

#[test]
fn a_created_group_is_listed_from_the_players_view() {
    let mut g = GroupState::default();
    let (fate, out) = render(&mut g, "group.created", CREATED);
    assert_eq!(fate, EventFate::Rendered);
    let list = list_of(&out[0]);
    assert_eq!(
        list,
        GroupList {
            group_type: 0,
            subgroup: 0,
            flags: 1,
            roles: 2,
            lfg: None,
            group_guid: GROUP_GUID_HIGH | 5,
            counter: 1,
            members: vec![
                GroupListMember {
                    name: "Bob".into(),
                    guid: 9,
                    online: 1,
                    ..GroupListMember::default()
                },
                GroupListMember {
                    name: "Ëve".into(),
                    guid: 11,
                    online: 0,
                    ..GroupListMember::default()
                },
            ],
            leader: 9,
            loot: Some(GroupLoot {
                method: MASTER_LOOT,
                master_looter: 9,
                threshold: 2,
                dungeon_difficulty: 1,
                raid_difficulty: 0,
                dynamic_heroic: 0,
            }),
        }
    );
    assert_eq!(g.id, Some(5));
}

#[test]
fn changes_ask_for_the_group_and_its_answer_is_the_next_list() {
    let mut g = GroupState::default();
    render(&mut g, "group.created", CREATED);
    let (fate, out) = render(
        &mut g,
        "group.leader.changed",
        r#"{"GroupID":5,"PreviousLeader":9,"NewLeader":7,"OnlineMembers":[7,9]}"#,
    );
    assert_eq!(fate, EventFate::Rendered);
    assert_eq!(out, vec![Action::Call(ServiceRequest::GetGroup(5))]);
    let snapshot = GroupSnapshot {
        id: 5,
        leader: ME,
        loot_method: 0,
        master_looter: 9,
        members: vec![
            GroupMember {
                guid: ME,
                name: "Alice".into(),
                online: true,
                ..GroupMember::default()
            },
            GroupMember {
                guid: 9,
                name: "Bob".into(),
                online: true,
                ..GroupMember::default()
            },
        ],
        ..GroupSnapshot::default()
    };
    let mut out = Vec::new();
    answered(&me(), &mut g, Ok(snapshot.clone()), &mut out);
    let list = list_of(&out[0]);
    assert_eq!((list.counter, list.leader, list.members.len()), (2, ME, 1));
    assert_eq!(
        list.loot.map(|l| l.master_looter),
        Some(0),
        "only for master loot"
    );
    // A failed call changes nothing; an answer for a group the player left is dropped.
    let mut out = Vec::new();
    answered(&me(), &mut g, Err("group: down".into()), &mut out);
    assert!(out.is_empty());
    g.id = Some(6);
    answered(&me(), &mut g, Ok(snapshot), &mut out);
    assert!(out.is_empty());
}

#[test]
fn leaving_and_disbanding_empty_the_list() {
    let mut g = GroupState::default();
    render(&mut g, "group.created", CREATED);
    let (_, out) = render(
        &mut g,
        "group.member.left",
        r#"{"GroupID":5,"MemberGUID":11,"MemberName":"Ëve","OnlineMembers":[7,9]}"#,
    );
    assert_eq!(
        out,
        vec![Action::Call(ServiceRequest::GetGroup(5))],
        "someone else left"
    );
    let (_, out) = render(
        &mut g,
        "group.member.left",
        r#"{"GroupID":5,"MemberGUID":7,"MemberName":"Alice"}"#,
    );
    assert_eq!(
        out[0],
        Action::ToClient(Opcode::SMSG_GROUP_UNINVITE, bytes::Bytes::new())
    );
    assert_eq!(list_of(&out[1]), GroupList::empty(GROUP_GUID_HIGH | 5, 2));
    assert_eq!(g.id, None);
    render(&mut g, "group.created", CREATED);
    let (_, out) = render(
        &mut g,
        "group.disband",
        r#"{"GroupID":5,"OnlineMembers":[7]}"#,
    );
    assert_eq!(list_of(&out[0]), GroupList::empty(GROUP_GUID_HIGH | 5, 4));
    assert_eq!(
        out[1],
        Action::ToClient(Opcode::SMSG_GROUP_DESTROYED, bytes::Bytes::new())
    );
    assert_eq!(g.id, None);
}

#[test]
fn invitations_and_group_chat() {
    let mut g = GroupState::default();
    let (fate, out) = render(
        &mut g,
        "group.invite.created",
        r#"{"GroupID":5,"InviterGUID":9,"InviterName":"Bob","InviteeGUID":7,"InviteeName":"Alice"}"#,
    );
    assert_eq!(fate, EventFate::Rendered);
    let [Action::ToClient(Opcode::SMSG_GROUP_INVITE, body)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(
        GroupInvite::decode(body),
        Ok(GroupInvite {
            status: 1,
            inviter: "Bob".into()
        })
    );
    let (fate, _) = render(&mut g, "group.invite.created", r#"{"InviteeGUID":8}"#);
    assert_eq!(fate, EventFate::NotForMe);
    let (_, out) = render(
        &mut g,
        "group.message.new",
        r#"{"GroupID":5,"SenderGUID":9,"SenderName":"Bob","Language":7,"Msg":"pull","MessageType":40,"Receivers":[7]}"#,
    );
    let [Action::ToClient(Opcode::SMSG_MESSAGECHAT, body)] = out.as_slice() else {
        panic!("{out:?}")
    };
    let line = ChatMessage::decode(body).expect("decodes");
    assert_eq!(
        (line.kind, line.sender, line.receiver, line.message.as_str()),
        (chat_type::RAID_WARNING, 9, 9, "pull")
    );
    let (fate, out) = render(
        &mut g,
        "group.message.new",
        r#"{"SenderGUID":7,"Msg":"mine","MessageType":2}"#,
    );
    assert_eq!((fate, out.len()), (EventFate::NotForMe, 0));
}

#[test]
fn malformed_group_events_render_nothing() {
    let mut g = GroupState::default();
    for (subject, bad) in [
        ("group.created", r#"{"Members":[{"MemberGUID":-1}]}"#),
        ("group.leader.changed", r#"{"GroupID":"5"}"#),
        ("group.leader.changed", r#"{"NewLeader":7}"#),
        ("group.message.new", r#"{"MessageType":300}"#),
    ] {
        let (fate, out) = render(&mut g, subject, bad);
        assert!(
            matches!(fate, EventFate::Malformed(_)),
            "{subject} {bad}: {fate:?}"
        );
        assert!(out.is_empty());
    }
    assert_eq!(g, GroupState::default());
}

#[test]
fn group_chat_goes_to_groupserver_only_in_a_group_it_knows() {
    let line = |kind: u8, text: &str| ClientChat {
        kind: u32::from(kind),
        language: 7,
        target: crate::wire::packets::ChatTarget::None,
        message: text.into(),
    };
    let mut g = GroupState::default();
    let mut out = Vec::new();
    assert!(!from_client(
        &me(),
        &g,
        &line(chat_type::PARTY, "hi"),
        &mut out
    ));
    g.id = Some(5);
    for kind in GROUP_CHAT {
        assert!(from_client(&me(), &g, &line(kind, "hi"), &mut out));
    }
    assert!(!from_client(
        &me(),
        &g,
        &line(chat_type::SAY, "hi"),
        &mut out
    ));
    assert!(from_client(&me(), &g, &line(chat_type::RAID, ""), &mut out));
    assert_eq!(out.len(), GROUP_CHAT.len());
    assert_eq!(
        out[3],
        Action::Call(ServiceRequest::GroupMessage(GroupMessage {
            sender: ME,
            kind: chat_type::RAID_LEADER,
            language: 7,
            message: "hi".into(),
        }))
    );
    let message = GroupMessage {
        sender: ME,
        kind: chat_type::RAID,
        language: 7,
        message: "go".into(),
    };
    let mut out = Vec::new();
    message_answered(message.clone(), &Ok(()), &mut out);
    let [Action::ToClient(Opcode::SMSG_MESSAGECHAT, body)] = out.as_slice() else {
        panic!("{out:?}")
    };
    let echo = ChatMessage::decode(body).expect("decodes");
    assert_eq!(
        (echo.kind, echo.sender, echo.receiver, echo.message.as_str()),
        (chat_type::RAID, ME, ME, "go")
    );
    let mut out = Vec::new();
    message_answered(message, &Err("group: down".into()), &mut out);
    let [Action::ToClient(Opcode::SMSG_MESSAGECHAT, body)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(
        SystemMessage::decode(body).map(|m| m.text),
        Ok(UNDELIVERED_LINE.to_owned())
    );
}

#[test]
fn target_icons_and_difficulty_changes_reach_the_members() {
    let mut g = GroupState::default();
    let (fate, out) = render(
        &mut g,
        "group.targeticons.new",
        r#"{"GroupID":5,"Updater":9,"Target":77,"IconID":7,"Receivers":[7]}"#,
    );
    assert_eq!(fate, EventFate::Rendered);
    let [Action::ToClient(Opcode::MSG_RAID_TARGET_UPDATE, body)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(
        RaidTargets::decode(body),
        Ok(RaidTargets::Set {
            updater: 9,
            icon: 7,
            target: 77
        })
    );
    let changed = |out: &[Action]| -> Vec<(Opcode, DifficultyChanged)> {
        out.iter()
            .map(|a| match a {
                Action::ToClient(opcode, body) => {
                    (*opcode, DifficultyChanged::decode(body).expect("decodes"))
                }
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let group = |difficulty| DifficultyChanged {
        difficulty,
        in_group: true,
    };
    let (_, out) = render(
        &mut g,
        "group.difficulty.changed",
        r#"{"GroupID":5,"Updater":9,"DungeonDifficulty":1,"Receivers":[7]}"#,
    );
    assert_eq!(
        changed(&out),
        vec![(Opcode::MSG_SET_DUNGEON_DIFFICULTY, group(1))]
    );
    let (_, out) = render(
        &mut g,
        "group.difficulty.changed",
        r#"{"GroupID":5,"DungeonDifficulty":0,"RaidDifficulty":3}"#,
    );
    assert_eq!(
        changed(&out),
        vec![
            (Opcode::MSG_SET_DUNGEON_DIFFICULTY, group(0)),
            (Opcode::MSG_SET_RAID_DIFFICULTY, group(3))
        ]
    );
    let (fate, out) = render(
        &mut g,
        "group.difficulty.changed",
        r#"{"RaidDifficulty":256}"#,
    );
    assert!(matches!(fate, EventFate::Malformed(_)), "{fate:?}");
    assert!(out.is_empty());
}

#[test]
fn entering_the_world_asks_groupserver_for_the_characters_group() {
    let mut p = crate::present::Presenter::new(me(), crate::present::Services::TOCLOUD9);
    let mut out = Vec::new();
    p.entered_world(&mut out);
    assert_eq!(out, vec![Action::Call(ServiceRequest::GroupOf(ME))]);
    let mut none = crate::present::Presenter::new(me(), crate::present::Services::NONE);
    let mut out = Vec::new();
    none.entered_world(&mut out);
    assert!(out.is_empty(), "no groupserver, nothing to ask");

    let mut g = GroupState::default();
    let mut out = Vec::new();
    group_of(&mut g, Ok(5), &mut out);
    assert_eq!(g.id, Some(5));
    assert_eq!(out, vec![Action::Call(ServiceRequest::GetGroup(5))]);
    for outcome in [Ok(0), Err("down".to_owned())] {
        let mut g = GroupState::default();
        let mut out = Vec::new();
        group_of(&mut g, outcome, &mut out);
        assert_eq!((g.id, out), (None, vec![]));
    }
}

#[test]
fn ready_check_events_reach_the_members_as_azerothcore_lays_them_out() {
    let mut g = GroupState::default();
    let (fate, out) = render(
        &mut g,
        "group.readycheck.started",
        r#"{"GroupID":5,"LeaderGUID":9,"DurationMs":35000,"Receivers":[7]}"#,
    );
    assert_eq!(fate, EventFate::Rendered);
    assert_eq!(
        out,
        vec![Action::ToClient(
            Opcode::MSG_RAID_READY_CHECK,
            bytes::Bytes::copy_from_slice(&9u64.to_le_bytes())
        )]
    );
    let confirm = |guid: u64, ready: u8| {
        let mut b = guid.to_le_bytes().to_vec();
        b.push(ready);
        vec![Action::ToClient(
            Opcode::MSG_RAID_READY_CHECK_CONFIRM,
            bytes::Bytes::from(b),
        )]
    };
    let state = |s: u8| format!(r#"{{"GroupID":5,"MemberGUID":11,"State":{s},"Receivers":[7]}}"#);
    let (_, out) = render(&mut g, "group.readycheck.member.state", &state(1));
    assert_eq!(out, confirm(11, 1));
    let (_, out) = render(&mut g, "group.readycheck.member.state", &state(2));
    assert_eq!(out, confirm(11, 0));
    let (fate, out) = render(&mut g, "group.readycheck.member.state", &state(0));
    assert_eq!(
        (fate, out.len()),
        (EventFate::NotRendered, 0),
        "still waiting"
    );
    let (_, out) = render(
        &mut g,
        "group.readycheck.finished",
        r#"{"GroupID":5,"Receivers":[7]}"#,
    );
    assert_eq!(
        out,
        vec![Action::ToClient(
            Opcode::MSG_RAID_READY_CHECK_FINISHED,
            bytes::Bytes::new()
        )]
    );
}
