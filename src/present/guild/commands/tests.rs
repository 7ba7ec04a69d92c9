use super::*;
use crate::wire::packets::{GuildSetNote, SystemMessage};
use bytes::BytesMut;

fn me(guild_id: u64) -> Me {
    Me {
        guid: 7,
        name: "Eeto".into(),
        guild_id,
        ..Me::default()
    }
}

fn joiner() -> Joiner {
    Joiner {
        name: "Eeto".into(),
        level: 80,
        ..Joiner::default()
    }
}

fn packet<T: WirePacket>(p: &T) -> Packet {
    Packet {
        opcode: T::OPCODE,
        body: p.to_body(),
    }
}

fn raw(opcode: Opcode, body: &[u8]) -> Packet {
    Packet {
        opcode,
        body: Bytes::copy_from_slice(body),
    }
}

fn from(me: &Me, p: &Packet) -> Vec<Action> {
    let mut out = Vec::new();
    assert!(from_client(me, joiner, p, &mut out), "{p:?}");
    out
}

fn one_call(out: &[Action]) -> GuildOp {
    match out {
        [Action::Call(ServiceRequest::GuildCommand(c))] => {
            assert_eq!(c.player, 7);
            c.op.clone()
        }
        other => panic!("{other:?}"),
    }
}

fn answer(me: &mut Me, op: GuildOp, outcome: Result<GuildReply, String>) -> Vec<Action> {
    let mut out = Vec::new();
    answered(me, op, outcome, &mut out);
    out
}

fn one_result(out: &[Action]) -> GuildCommandResult {
    match out {
        [Action::ToClient(Opcode::SMSG_GUILD_COMMAND_RESULT, body)] => {
            GuildCommandResult::decode(body).expect("decodes")
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
fn a_query_is_guildservers_and_the_worldservers_when_guildserver_fails() {
    let p = packet(&GuildQuery { guild_id: 9 });
    let op = one_call(&from(&me(0), &p));
    assert_eq!(
        op,
        GuildOp::Query {
            guild_id: 9,
            query: p.body.clone(),
        }
    );
    let info = GuildQueryResponse {
        guild_id: 9,
        name: "Nine".into(),
        ranks: vec!["GM".into()],
        emblem: [1, 2, 3, 4, 5],
    };
    let out = answer(
        &mut me(0),
        op.clone(),
        Ok(GuildReply::Info(Box::new(info.clone()))),
    );
    assert_eq!(
        out,
        vec![Action::ToClient(
            Opcode::SMSG_GUILD_QUERY_RESPONSE,
            info.to_body()
        )]
    );
    let out = answer(&mut me(0), op, Err("down".into()));
    assert_eq!(out, vec![Action::ToWorld(Opcode::CMSG_GUILD_QUERY, p.body)]);
}

#[test]
fn an_invitation_finds_the_invitee_online_then_invites_it() {
    let mut m = me(9);
    let find = one_call(&from(
        &m,
        &packet(&GuildInviteRequest { name: "bOB".into() }),
    ));
    assert_eq!(find, GuildOp::FindInvitee { name: "Bob".into() });
    let invite = one_call(&answer(
        &mut m,
        find.clone(),
        Ok(GuildReply::Found(Some(42))),
    ));
    assert_eq!(
        invite,
        GuildOp::Invite {
            guid: 42,
            name: "Bob".into()
        }
    );
    let shown = |error: u32| {
        one_result(&answer(
            &mut me(9),
            invite.clone(),
            Ok(GuildReply::Invited(error)),
        ))
    };
    let expect = |param: &str, error: u32| GuildCommandResult {
        command: guild_command::INVITE,
        param: param.into(),
        error,
    };
    assert_eq!(
        shown(guild_error::SUCCESS),
        expect("Bob", guild_error::SUCCESS)
    );
    assert_eq!(
        shown(guild_error::ALREADY_IN_GUILD_S),
        expect("Bob", guild_error::ALREADY_IN_GUILD_S)
    );
    assert_eq!(
        shown(guild_error::PERMISSIONS),
        expect("", guild_error::PERMISSIONS)
    );
    assert_eq!(
        one_result(&answer(&mut m, find.clone(), Ok(GuildReply::Found(None)))),
        expect("Bob", guild_error::PLAYER_NOT_FOUND_S)
    );
    assert!(is_unavailable(&answer(&mut m, find, Err("down".into()))));
    assert!(is_unavailable(&answer(&mut m, invite, Err("down".into()))));
}

#[test]
fn commands_need_a_guild_except_accepting_and_declining() {
    let none = me(0);
    for p in [
        packet(&GuildInviteRequest { name: "Bob".into() }),
        raw(Opcode::CMSG_GUILD_LEAVE, &[]),
        packet(&GuildRemove { name: "Bob".into() }),
        packet(&GuildSetMotd { text: "hi".into() }),
    ] {
        let result = one_result(&from(&none, &p));
        assert_eq!(result.error, guild_error::PLAYER_NOT_IN_GUILD, "{p:?}");
    }
    assert!(from(&none, &raw(Opcode::CMSG_GUILD_DECLINE, &[])).is_empty());
    let accept = one_call(&from(&none, &raw(Opcode::CMSG_GUILD_ACCEPT, &[])));
    assert_eq!(accept, GuildOp::Accept(joiner()));
    let mut m = me(0);
    assert!(answer(&mut m, accept.clone(), Ok(GuildReply::Joined(9))).is_empty());
    assert_eq!(m.guild_id, 9, "the guild guildserver says");
    assert!(is_unavailable(&answer(
        &mut me(0),
        accept,
        Err("down".into())
    )));
    let leave = one_call(&from(&m, &raw(Opcode::CMSG_GUILD_LEAVE, &[])));
    assert_eq!(leave, GuildOp::Leave);
    assert!(answer(&mut m, leave, Ok(GuildReply::Done)).is_empty());
    assert_eq!(m.guild_id, 0);
}

#[test]
fn member_commands_find_the_member_then_act_and_notes_resend_the_roster() {
    let mut m = me(9);
    let note = |opcode: Opcode| {
        let mut body = BytesMut::new();
        GuildSetNote {
            name: "al".into(),
            note: "tank".into(),
        }
        .encode(&mut body);
        raw(opcode, &body)
    };
    let cases = [
        (
            packet(&GuildRemove { name: "al".into() }),
            MemberCommand::Remove,
            "",
        ),
        (
            packet(&GuildPromote { name: "al".into() }),
            MemberCommand::Promote,
            "",
        ),
        (
            packet(&GuildDemote { name: "al".into() }),
            MemberCommand::Demote,
            "",
        ),
        (
            note(Opcode::CMSG_GUILD_SET_PUBLIC_NOTE),
            MemberCommand::PublicNote,
            "tank",
        ),
        (
            note(Opcode::CMSG_GUILD_SET_OFFICER_NOTE),
            MemberCommand::OfficerNote,
            "tank",
        ),
    ];
    for (p, command, note) in cases {
        let find = one_call(&from(&m, &p));
        assert_eq!(
            find,
            GuildOp::FindMember {
                command,
                name: "Al".into(),
                note: note.into(),
            }
        );
        let missing = one_result(&answer(&mut m, find.clone(), Ok(GuildReply::Found(None))));
        assert_eq!(
            (missing.command, missing.param.as_str(), missing.error),
            (
                command.result_command(),
                "Al",
                guild_error::PLAYER_NOT_FOUND_S
            )
        );
        let act = one_call(&answer(&mut m, find, Ok(GuildReply::Found(Some(5)))));
        assert_eq!(
            act,
            GuildOp::Member {
                command,
                guid: 5,
                name: "Al".into(),
                note: note.into(),
            }
        );
        let done = answer(&mut m, act.clone(), Ok(GuildReply::Done));
        if note.is_empty() {
            assert!(done.is_empty(), "{command:?}: {done:?}");
        } else {
            assert_eq!(
                done,
                vec![Action::Call(ServiceRequest::GuildRoster(9))],
                "{command:?}"
            );
        }
        assert!(is_unavailable(&answer(&mut m, act, Err("down".into()))));
    }
    assert_eq!(
        [
            MemberCommand::Remove,
            MemberCommand::Promote,
            MemberCommand::Demote,
            MemberCommand::PublicNote,
            MemberCommand::OfficerNote
        ]
        .map(MemberCommand::result_command),
        [
            guild_command::REMOVE,
            guild_command::PROMOTE,
            guild_command::DEMOTE,
            guild_command::PUBLIC_NOTE,
            guild_command::PUBLIC_NOTE
        ]
    );
}

#[test]
fn texts_and_bad_bodies() {
    let mut m = me(9);
    let motd = one_call(&from(
        &m,
        &packet(&GuildSetMotd {
            text: "Raid".into(),
        }),
    ));
    assert_eq!(motd, GuildOp::Motd("Raid".into()));
    assert!(answer(&mut m, motd, Ok(GuildReply::Done)).is_empty());
    let info = one_call(&from(
        &m,
        &packet(&GuildSetInfo {
            text: "About".into(),
        }),
    ));
    assert_eq!(info, GuildOp::Info("About".into()));
    let empty = one_result(&from(
        &m,
        &packet(&GuildRemove {
            name: String::new(),
        }),
    ));
    assert_eq!(empty.error, guild_error::PLAYER_NOT_FOUND_S);
    for opcode in [
        Opcode::CMSG_GUILD_QUERY,
        Opcode::CMSG_GUILD_INVITE,
        Opcode::CMSG_GUILD_REMOVE,
        Opcode::CMSG_GUILD_MOTD,
        Opcode::CMSG_GUILD_INFO_TEXT,
        Opcode::CMSG_GUILD_SET_OFFICER_NOTE,
    ] {
        let mut out = Vec::new();
        assert!(
            !from_client(&m, joiner, &raw(opcode, &[1]), &mut out),
            "{opcode:?}"
        );
        assert!(out.is_empty());
    }
    assert!(is_unavailable(&answer(
        &mut m,
        GuildOp::Leave,
        Ok(GuildReply::Found(None))
    )));
}

#[test]
fn ranks_are_guildservers_and_permissions_come_from_the_roster() {
    use crate::wire::packets::{GUILD_BANK_TABS, GuildAddRank, RosterMember, RosterRank};
    let mut m = me(9);
    let update = GuildRankUpdate {
        rank: 2,
        rights: 0x43,
        name: "Raider".into(),
        gold_per_day: 100,
        tabs: [(1, 2); GUILD_BANK_TABS],
    };
    let op = one_call(&from(&m, &packet(&update)));
    assert_eq!(
        op,
        GuildOp::UpdateRank {
            rank: 2,
            name: "Raider".into(),
            rights: 0x43,
            gold_per_day: 100,
        }
    );
    assert!(answer(&mut m, op, Ok(GuildReply::Done)).is_empty());
    let add = one_call(&from(&m, &packet(&GuildAddRank { name: "Alt".into() })));
    assert_eq!(add, GuildOp::AddRank("Alt".into()));
    assert!(from(&m, &packet(&GuildAddRank::default())).is_empty());
    let delete = one_call(&from(&m, &raw(Opcode::CMSG_GUILD_DEL_RANK, &[])));
    assert_eq!(delete, GuildOp::DeleteRank);
    assert!(is_unavailable(&answer(&mut m, delete, Err("down".into()))));

    let ask = one_call(&from(&m, &raw(Opcode::MSG_GUILD_PERMISSIONS, &[])));
    assert_eq!(ask, GuildOp::Permissions(9));
    let rank = |rights| RosterRank {
        rights,
        gold_per_day: 50,
        tabs: [(3, 4); GUILD_BANK_TABS],
    };
    let member = |guid, rank| RosterMember {
        guid,
        rank,
        ..RosterMember::default()
    };
    let roster = GuildRoster {
        ranks: vec![rank(0xFFFF), rank(0x43)],
        members: vec![member(5, 0), member(7, 1)],
        ..GuildRoster::default()
    };
    let out = answer(
        &mut m,
        ask.clone(),
        Ok(GuildReply::Roster(Box::new(roster.clone()))),
    );
    let expected = GuildPermissions {
        rank: 1,
        rights: 0x43,
        gold_per_day: 50,
        bank_tabs: 0,
        tabs: [(3, 4); GUILD_BANK_TABS],
    };
    assert_eq!(
        out,
        vec![Action::ToClient(
            Opcode::MSG_GUILD_PERMISSIONS,
            expected.to_body()
        )]
    );
    let mut stranger = roster.clone();
    stranger.members.retain(|m| m.guid != 7);
    assert!(
        answer(
            &mut m,
            ask.clone(),
            Ok(GuildReply::Roster(Box::new(stranger)))
        )
        .is_empty()
    );
    let mut unranked = roster;
    unranked.ranks.truncate(1);
    assert_eq!(permissions_of(7, &unranked), None, "its rank is not listed");
    assert!(is_unavailable(&answer(&mut m, ask, Err("down".into()))));
}

#[test]
fn the_login_info_is_the_motd_then_the_roster() {
    let mut m = me(9);
    let roster = GuildRoster {
        motd: "Raid at 8".into(),
        ..GuildRoster::default()
    };
    let out = answer(
        &mut m,
        GuildOp::LoginInfo(9),
        Ok(GuildReply::Roster(Box::new(roster.clone()))),
    );
    let motd = crate::wire::packets::GuildEvent {
        event: crate::wire::packets::guild_event::MOTD,
        params: vec!["Raid at 8".into()],
        guid: None,
    };
    assert_eq!(
        out,
        vec![
            Action::ToClient(Opcode::SMSG_GUILD_EVENT, motd.to_body()),
            Action::ToClient(Opcode::SMSG_GUILD_ROSTER, roster.to_body()),
        ]
    );
    assert!(answer(&mut m, GuildOp::LoginInfo(9), Err("down".into())).is_empty());
}
