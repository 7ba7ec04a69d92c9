use super::*;
use crate::wire::packets::{RaidTargetRequest, SystemMessage};
use bytes::Bytes;

fn me() -> Me {
    Me {
        guid: 7,
        name: "Eeto".into(),
        ..Me::default()
    }
}

fn at() -> Whereabouts {
    Whereabouts {
        map: 571,
        worldserver: "ws-2".into(),
    }
}

fn packet<T: WirePacket>(p: &T) -> Packet {
    Packet {
        opcode: T::OPCODE,
        body: p.to_body(),
    }
}

fn empty(opcode: Opcode) -> Packet {
    Packet {
        opcode,
        body: Bytes::new(),
    }
}

fn from(p: &Packet) -> Vec<Action> {
    let mut out = Vec::new();
    assert!(from_client(&me(), at(), true, p, &mut out), "{p:?}");
    out
}

fn one_call(out: &[Action]) -> GroupOp {
    match out {
        [Action::Call(ServiceRequest::GroupCommand(c))] => {
            assert_eq!(c.player, 7);
            c.op.clone()
        }
        other => panic!("{other:?}"),
    }
}

fn answer(op: GroupOp, outcome: Result<GroupReply, String>) -> Vec<Action> {
    let mut out = Vec::new();
    answered(&me(), op, outcome, &mut out);
    out
}

fn one_result(out: &[Action]) -> PartyCommandResult {
    match out {
        [Action::ToClient(Opcode::SMSG_PARTY_COMMAND_RESULT, body)] => {
            PartyCommandResult::decode(body).expect("decodes")
        }
        other => panic!("{other:?}"),
    }
}

fn is_unavailable(out: &[Action]) -> bool {
    match out {
        [Action::ToClient(Opcode::SMSG_MESSAGECHAT, body)] => {
            SystemMessage::decode(body).expect("decodes").text == UNAVAILABLE_LINE
        }
        _ => false,
    }
}

#[test]
fn an_invitation_finds_the_invitee_online_then_invites_it_from_where_the_inviter_is() {
    let find = one_call(&from(&packet(&InviteToGroup { name: "bOB".into() })));
    assert_eq!(
        find,
        GroupOp::FindInvitee {
            name: "Bob".into(),
            inviter_name: "Eeto".into(),
            at: at(),
        }
    );
    let invite = one_call(&answer(find.clone(), Ok(GroupReply::Found(Some(42)))));
    assert_eq!(
        invite,
        GroupOp::Invite {
            guid: 42,
            name: "Bob".into(),
            inviter_name: "Eeto".into(),
            at: at(),
        }
    );
    let shown = |status: i32| one_result(&answer(invite.clone(), Ok(GroupReply::Invited(status))));
    let expect = |name: &str, result: u32| PartyCommandResult {
        operation: party_operation::INVITE,
        name: name.into(),
        result,
        value: 0,
    };
    assert_eq!(shown(0), expect("Bob", party_result::OK));
    assert_eq!(shown(2), expect("Bob", party_result::ALREADY_IN_GROUP));
    assert_eq!(shown(3), expect("", party_result::GROUP_FULL));
    assert_eq!(shown(4), expect("", party_result::NOT_LEADER));
    for status in [1, 5, -1] {
        assert!(is_unavailable(&answer(
            invite.clone(),
            Ok(GroupReply::Invited(status))
        )));
    }
    assert_eq!(
        one_result(&answer(find.clone(), Ok(GroupReply::Found(None)))),
        expect("Bob", party_result::BAD_PLAYER_NAME)
    );
    assert!(is_unavailable(&answer(find, Err("down".into()))));
    assert!(is_unavailable(&answer(invite, Err("down".into()))));
}

#[test]
fn an_invitation_without_a_name_is_a_bad_name_at_once() {
    let out = from(&packet(&InviteToGroup {
        name: String::new(),
    }));
    assert_eq!(one_result(&out).result, party_result::BAD_PLAYER_NAME);
}

#[test]
fn a_kick_by_name_finds_the_member_then_removes_it() {
    let find = one_call(&from(&packet(&UninviteByName { name: "al".into() })));
    assert_eq!(find, GroupOp::FindKicked { name: "Al".into() });
    let kick = one_call(&answer(find.clone(), Ok(GroupReply::Found(Some(9)))));
    assert_eq!(
        kick,
        GroupOp::Uninvite {
            guid: 9,
            name: "Al".into(),
            reason: String::new(),
        }
    );
    let done = one_result(&answer(kick.clone(), Ok(GroupReply::Uninvited(0))));
    assert_eq!(
        (done.operation, done.name.as_str(), done.result),
        (party_operation::UNINVITE, "Al", party_result::OK)
    );
    assert!(is_unavailable(&answer(kick, Ok(GroupReply::Uninvited(1)))));
    let missing = one_result(&answer(find, Ok(GroupReply::Found(None))));
    assert_eq!(
        (missing.operation, missing.result),
        (party_operation::UNINVITE, party_result::BAD_PLAYER_NAME)
    );
    let by_guid = one_call(&from(&packet(&UninviteByGuid {
        guid: 9,
        reason: "afk".into(),
    })));
    assert_eq!(
        by_guid,
        GroupOp::Uninvite {
            guid: 9,
            name: String::new(),
            reason: "afk".into(),
        }
    );
}

#[test]
fn commands_without_a_body() {
    assert_eq!(
        one_call(&from(&empty(Opcode::CMSG_GROUP_ACCEPT))),
        GroupOp::Accept
    );
    assert!(from(&empty(Opcode::CMSG_GROUP_DECLINE)).is_empty());
    let leave = one_call(&from(&empty(Opcode::CMSG_GROUP_DISBAND)));
    assert_eq!(
        leave,
        GroupOp::Leave {
            name: "Eeto".into()
        }
    );
    let left = one_result(&answer(leave, Ok(GroupReply::Done)));
    assert_eq!(
        (left.operation, left.name.as_str(), left.result),
        (party_operation::LEAVE, "Eeto", party_result::OK)
    );
    let convert = one_call(&from(&empty(Opcode::CMSG_GROUP_RAID_CONVERT)));
    assert_eq!(convert, GroupOp::ConvertToRaid);
    let converted = one_result(&answer(convert, Ok(GroupReply::Done)));
    assert_eq!(
        (
            converted.operation,
            converted.name.as_str(),
            converted.result
        ),
        (party_operation::INVITE, "", party_result::OK)
    );
    for status in [0, 1] {
        assert!(answer(GroupOp::Accept, Ok(GroupReply::Accepted(status))).is_empty());
    }
    assert!(is_unavailable(&answer(
        GroupOp::Accept,
        Ok(GroupReply::Accepted(2))
    )));
}

#[test]
fn leader_and_loot_changes_are_silent_until_groupservers_event() {
    let leader = one_call(&from(&packet(&SetGroupLeader { guid: 5 })));
    assert_eq!(leader, GroupOp::SetLeader { guid: 5 });
    assert!(answer(leader.clone(), Ok(GroupReply::Done)).is_empty());
    assert!(is_unavailable(&answer(leader, Err("down".into()))));
    let loot = SetLootMethod {
        method: 2,
        looter: 5,
        threshold: 3,
    };
    let op = one_call(&from(&packet(&loot)));
    assert_eq!(op, GroupOp::SetLoot(loot));
    assert!(answer(op, Ok(GroupReply::Done)).is_empty());
}

#[test]
fn a_command_that_does_not_decode_is_not_taken() {
    for opcode in [
        Opcode::CMSG_GROUP_INVITE,
        Opcode::CMSG_GROUP_UNINVITE,
        Opcode::CMSG_GROUP_UNINVITE_GUID,
        Opcode::CMSG_GROUP_SET_LEADER,
        Opcode::CMSG_LOOT_METHOD,
    ] {
        let mut out = Vec::new();
        assert!(
            !from_client(&me(), at(), true, &empty(opcode), &mut out),
            "{opcode:?}"
        );
        assert!(out.is_empty());
    }
}

#[test]
fn a_mismatched_answer_is_a_failure() {
    assert!(is_unavailable(&answer(
        GroupOp::ConvertToRaid,
        Ok(GroupReply::Found(Some(1)))
    )));
}

#[test]
fn icons_and_difficulty_are_groupservers_only_for_its_groups() {
    let list = Packet {
        opcode: Opcode::MSG_RAID_TARGET_UPDATE,
        body: Bytes::from_static(&[0xFF]),
    };
    let difficulty = |opcode, value: u32| Packet {
        opcode,
        body: Bytes::copy_from_slice(&value.to_le_bytes()),
    };
    for p in [
        list.clone(),
        difficulty(Opcode::MSG_SET_DUNGEON_DIFFICULTY, 1),
        difficulty(Opcode::MSG_SET_RAID_DIFFICULTY, 1),
    ] {
        let mut out = Vec::new();
        assert!(
            !from_client(&me(), at(), false, &p, &mut out),
            "not in a groupserver group: to the worldserver"
        );
        assert!(out.is_empty());
    }
    let icons = one_call(&from(&list));
    assert_eq!(icons, GroupOp::TargetIcons);
    let out = answer(
        icons,
        Ok(GroupReply::Icons(vec![0, 5, 0, 0, 0, 0, 0, 9, 99])),
    );
    let [Action::ToClient(Opcode::MSG_RAID_TARGET_UPDATE, body)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(
        RaidTargets::decode(body),
        Ok(RaidTargets::List(vec![(1, 5), (7, 9)]))
    );
    let mut set = bytes::BytesMut::new();
    RaidTargetRequest { icon: 7, target: 9 }.encode(&mut set);
    let set = Packet {
        opcode: Opcode::MSG_RAID_TARGET_UPDATE,
        body: set.freeze(),
    };
    let op = one_call(&from(&set));
    assert_eq!(op, GroupOp::SetTargetIcon { icon: 7, target: 9 });
    assert!(answer(op, Ok(GroupReply::Done)).is_empty());
    let past = Packet {
        opcode: Opcode::MSG_RAID_TARGET_UPDATE,
        body: Bytes::from_static(&[8, 1, 0, 0, 0, 0, 0, 0, 0]),
    };
    assert!(from(&past).is_empty(), "an icon past the last is dropped");
    let op = one_call(&from(&difficulty(Opcode::MSG_SET_RAID_DIFFICULTY, 3)));
    assert_eq!(
        op,
        GroupOp::SetDifficulty {
            raid: true,
            difficulty: 3
        }
    );
    for status in [0, 1] {
        assert!(answer(op.clone(), Ok(GroupReply::DifficultySet(status))).is_empty());
    }
    assert!(is_unavailable(&answer(op, Err("down".into()))));
    assert_eq!(
        one_call(&from(&difficulty(Opcode::MSG_SET_DUNGEON_DIFFICULTY, 2))),
        GroupOp::SetDifficulty {
            raid: false,
            difficulty: 2
        }
    );
    assert!(from(&difficulty(Opcode::MSG_SET_DUNGEON_DIFFICULTY, 3)).is_empty());
    assert!(from(&difficulty(Opcode::MSG_SET_RAID_DIFFICULTY, 4)).is_empty());
}

#[test]
fn ready_checks_go_to_groupserver_and_to_the_worldserver_when_it_lacks_them() {
    let body = |b: &'static [u8]| Packet {
        opcode: Opcode::MSG_RAID_READY_CHECK,
        body: Bytes::from_static(b),
    };
    let finished = empty(Opcode::MSG_RAID_READY_CHECK_FINISHED);
    for p in [body(&[]), body(&[1]), finished.clone()] {
        let mut out = Vec::new();
        assert!(
            !from_client(&me(), at(), false, &p, &mut out),
            "not in a groupserver group: to the worldserver"
        );
        assert!(out.is_empty());
    }
    let steps = [
        (body(&[]), ReadyCheckStep::Start),
        (body(&[1]), ReadyCheckStep::Answer(true)),
        (body(&[0, 9]), ReadyCheckStep::Answer(false)),
        (finished, ReadyCheckStep::Finish),
    ];
    for (p, step) in steps {
        let op = one_call(&from(&p));
        assert_eq!(op, GroupOp::ReadyCheck(step), "{p:?}");
        assert!(answer(op.clone(), Ok(GroupReply::Done)).is_empty());
        // An upstream groupserver: the packet goes on to the worldserver as the client sent
        // it (one state byte, whatever followed it).
        let forwarded = answer(op.clone(), Ok(GroupReply::Unimplemented));
        let sent = match step {
            ReadyCheckStep::Answer(ready) => Bytes::copy_from_slice(&[u8::from(ready)]),
            _ => Bytes::new(),
        };
        assert_eq!(forwarded, vec![Action::ToWorld(p.opcode, sent)], "{step:?}");
        assert!(is_unavailable(&answer(op, Err("down".into()))));
    }
    assert_eq!(
        [
            ReadyCheckStep::Answer(true).state(),
            ReadyCheckStep::Answer(false).state()
        ],
        [1, 2]
    );
}

#[test]
fn subgroups_and_member_flags_go_to_groupserver_and_to_the_worldserver_when_it_lacks_them() {
    let raw = |opcode, body: Vec<u8>| Packet {
        opcode,
        body: Bytes::from(body),
    };
    let mut sub = b"bOB\0".to_vec();
    sub.push(3);
    let change = raw(Opcode::CMSG_GROUP_CHANGE_SUB_GROUP, sub.clone());
    let mut assistant = 42u64.to_le_bytes().to_vec();
    assistant.push(1);
    let assistant = raw(Opcode::CMSG_GROUP_ASSISTANT_LEADER, assistant);
    let mut tank = vec![0, 0];
    tank.extend(42u64.to_le_bytes());
    let tank = raw(Opcode::MSG_PARTY_ASSIGNMENT, tank);
    for p in [&change, &assistant, &tank] {
        let mut out = Vec::new();
        assert!(
            !from_client(&me(), at(), false, p, &mut out),
            "no group: worldserver"
        );
        assert!(out.is_empty());
    }
    // A subgroup: the name first (offline members too), then the move.
    let find = one_call(&from(&change));
    assert_eq!(
        find,
        GroupOp::FindSubgroupMember {
            name: "Bob".into(),
            subgroup: 3,
            sent: change.body.clone(),
        }
    );
    assert!(answer(find.clone(), Ok(GroupReply::Found(None))).is_empty());
    let set = one_call(&answer(find, Ok(GroupReply::Found(Some(42)))));
    assert_eq!(
        set,
        GroupOp::SetSubgroup {
            guid: 42,
            subgroup: 3,
            sent: change.body.clone(),
        }
    );
    assert!(answer(set.clone(), Ok(GroupReply::Done)).is_empty());
    assert_eq!(
        answer(set.clone(), Ok(GroupReply::Unimplemented)),
        vec![Action::ToWorld(change.opcode, change.body.clone())]
    );
    assert!(is_unavailable(&answer(set, Err("down".into()))));
    // Flags: assistant, main tank (and main assist), set or cleared.
    let flag = |p: &Packet| one_call(&from(p));
    assert!(matches!(
        flag(&assistant),
        GroupOp::SetMemberFlag {
            guid: 42,
            flag: member_flag::ASSISTANT,
            apply: true,
            ..
        }
    ));
    let op = flag(&tank);
    assert!(matches!(
        op,
        GroupOp::SetMemberFlag {
            guid: 42,
            flag: member_flag::MAIN_TANK,
            apply: false,
            ..
        }
    ));
    assert!(answer(op.clone(), Ok(GroupReply::Done)).is_empty());
    assert_eq!(
        answer(op, Ok(GroupReply::Unimplemented)),
        vec![Action::ToWorld(tank.opcode, tank.body.clone())]
    );
    let mut assist = vec![1, 1];
    assist.extend(42u64.to_le_bytes());
    assert!(matches!(
        flag(&raw(Opcode::MSG_PARTY_ASSIGNMENT, assist)),
        GroupOp::SetMemberFlag {
            flag: member_flag::MAIN_ASSIST,
            ..
        }
    ));
    // What AzerothCore drops is dropped; what does not decode goes to the worldserver.
    sub.pop();
    sub.push(RAID_SUBGROUPS);
    assert!(from(&raw(Opcode::CMSG_GROUP_CHANGE_SUB_GROUP, sub)).is_empty());
    let mut unknown = vec![2, 1];
    unknown.extend(42u64.to_le_bytes());
    assert!(from(&raw(Opcode::MSG_PARTY_ASSIGNMENT, unknown)).is_empty());
    let mut out = Vec::new();
    let short = raw(Opcode::CMSG_GROUP_ASSISTANT_LEADER, vec![1, 2]);
    assert!(!from_client(&me(), at(), true, &short, &mut out));
}
