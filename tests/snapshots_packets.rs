//! Every packet the gateway renders itself in this slice, as reviewed snapshots in
//! `snapshots/` (format: DESIGN.md section 7). CI runs with INSTA_UPDATE=no: a changed
//! rendering fails until a person reviews and accepts it.

use bytes::BytesMut;
use waygate::session::{AccountId, CharacterGuid, CharacterRecord};
use waygate::wire::Opcode;
use waygate::wire::auth::{AuthChallenge, AuthResponse, AuthResult, Billing};
use waygate::wire::dump::packet_snapshot;
use waygate::wire::packets::{
    ACCOUNT_DATA_GLOBAL_MASK, AccountDataTimes, CharEnum, CharacterLoginFailed, LoginFailure,
    MapPosition, NameQueryResponse, NewWorld, Position, RealmSplit, WirePacket,
};

fn snap(name: &str, text: String) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, text);
    });
}

fn typed<P: WirePacket + std::fmt::Debug>(p: &P) -> String {
    let body = p.to_body();
    // The decoded fields come from decoding the rendered bytes, so the snapshot also proves
    // the rendering reads back.
    let decoded = P::decode(&body).expect("a rendered packet decodes");
    packet_snapshot(P::OPCODE, &body, &format!("{decoded:#?}"))
}

#[test]
fn auth_challenge_fixed_seed() {
    let c = AuthChallenge {
        server_seed: 0xE397_43F3,
        seed_bytes: core::array::from_fn(|i| i as u8),
    };
    let mut body = BytesMut::new();
    c.encode(&mut body);
    let decoded = AuthChallenge::decode(&body).expect("decodes");
    snap(
        "auth_challenge",
        packet_snapshot(Opcode::SMSG_AUTH_CHALLENGE, &body, &format!("{decoded:#?}")),
    );
}

fn auth_response(r: AuthResponse) -> String {
    let mut body = BytesMut::new();
    r.encode(&mut body);
    let decoded = AuthResponse::decode(&body).expect("decodes");
    let code = match decoded {
        AuthResponse::Failed(c) => c.name().unwrap_or("?"),
        AuthResponse::Ok(_) => "AUTH_OK",
        AuthResponse::Queued { .. } | AuthResponse::QueueUpdate { .. } => "AUTH_WAIT_QUEUE",
    };
    packet_snapshot(
        Opcode::SMSG_AUTH_RESPONSE,
        &body,
        &format!("{code}\n{decoded:#?}"),
    )
}

#[test]
fn auth_response_ok_and_queue() {
    snap("auth_response_ok", auth_response(AuthResponse::ok()));
    snap(
        "auth_response_queued",
        auth_response(AuthResponse::Queued {
            billing: Billing {
                expansion: 2,
                ..Billing::default()
            },
            position: 17,
            free_migration: 0,
        }),
    );
}

#[test]
fn auth_response_every_failure_code() {
    let all: Vec<String> = AuthResult::FAILURES
        .iter()
        .map(|c| auth_response(AuthResponse::Failed(*c)))
        .collect();
    snap("auth_response_failures", all.join("\n"));
}

fn character(guid: u64, name: &str, race: u8, class: u8, map: u32) -> CharacterRecord {
    CharacterRecord {
        guid: CharacterGuid(guid),
        account: AccountId(1),
        name: name.into(),
        race,
        class,
        gender: 0,
        level: 10,
        appearance: [1, 2, 3, 4, 5],
        map,
        zone: 12,
        x: -8949.95,
        y: -132.49,
        z: 83.53,
        guild_id: 0,
    }
}

#[test]
fn char_enum_three_characters() {
    let e = CharEnum {
        characters: [
            character(1, "Alice", 1, 1, 0),
            character(2, "Brannoc", 3, 2, 0),
            character(3, "Thrall", 2, 7, 1),
        ]
        .iter()
        .map(CharacterRecord::to_enum)
        .collect(),
    };
    snap("char_enum", typed(&e));
}

#[test]
fn character_login_failed() {
    snap(
        "character_login_failed",
        typed(&CharacterLoginFailed {
            reason: LoginFailure::NO_CHARACTER,
        }),
    );
}

#[test]
fn realm_split() {
    snap(
        "realm_split",
        typed(&RealmSplit {
            decision: 0xFFFF_FFFF,
            state: 0,
            date: "01/01/01".into(),
        }),
    );
}

#[test]
fn account_data_times_global() {
    snap(
        "account_data_times",
        typed(&AccountDataTimes {
            unix_time: 1_700_000_000,
            mask: ACCOUNT_DATA_GLOBAL_MASK as u8,
            times: [0; 8],
        }),
    );
}

#[test]
fn name_query_responses() {
    let found = typed(&NameQueryResponse::Found {
        guid: 0x0000_0000_0000_002A,
        name: "Alice".into(),
        realm: String::new(),
        race: 1,
        gender: 0,
        class: 1,
        declined: None,
    });
    let missing = typed(&NameQueryResponse::NotFound { guid: 0x1234 });
    snap("name_query_response", format!("{found}\n{missing}"));
}

#[test]
fn synthetic_new_world() {
    snap(
        "new_world",
        typed(&NewWorld(MapPosition {
            map: 1,
            position: Position {
                x: -618.5,
                y: -4251.7,
                z: 38.7,
                orientation: 1.5,
            },
        })),
    );
}

use waygate::wire::packets::{
    ChatMessage, ChatPlayerNotFound, ChatTarget, ClientChat, chat_tag, chat_type,
};

#[test]
fn chat_whisper() {
    snap(
        "chat_whisper",
        typed(&ChatMessage {
            kind: chat_type::WHISPER,
            language: 7,
            sender: 0x2A,
            channel: None,
            receiver: 0x2A,
            message: "héllo ✓".into(),
            tag: chat_tag::NONE,
        }),
    );
}

#[test]
fn chat_whisper_inform() {
    snap(
        "chat_whisper_inform",
        typed(&ChatMessage {
            kind: chat_type::WHISPER_INFORM,
            language: 0,
            sender: 0x2B,
            channel: None,
            receiver: 0x2B,
            message: "hi".into(),
            tag: chat_tag::AFK,
        }),
    );
}

#[test]
fn chat_channel() {
    snap(
        "chat_channel",
        typed(&ChatMessage {
            kind: chat_type::CHANNEL,
            language: 1,
            sender: 0x2A,
            channel: Some("world".into()),
            receiver: 0,
            message: "lfg".into(),
            tag: chat_tag::GM,
        }),
    );
}

#[test]
fn chat_player_not_found() {
    snap(
        "chat_player_not_found",
        typed(&ChatPlayerNotFound {
            name: "Brannoc".into(),
        }),
    );
}

#[test]
fn client_chat_whisper() {
    snap(
        "client_chat_whisper",
        typed(&ClientChat {
            kind: u32::from(chat_type::WHISPER),
            language: 7,
            target: ChatTarget::Whisper("Brannoc".into()),
            message: "hi".into(),
        }),
    );
}

// ----- friends --------------------------------------------------------------------------

use waygate::wire::packets::{FriendOnline, FriendStatus, friend_result};

#[test]
fn friend_status_online() {
    snap(
        "friend_status_online",
        typed(&FriendStatus {
            result: friend_result::ONLINE,
            guid: 0x2A,
            note: String::new(),
            online: Some(FriendOnline {
                status: 1,
                area: 1519,
                level: 80,
                class: 4,
            }),
        }),
    );
}

#[test]
fn friend_status_offline() {
    snap(
        "friend_status_offline",
        typed(&FriendStatus {
            result: friend_result::OFFLINE,
            guid: 0x2A,
            ..FriendStatus::default()
        }),
    );
}

/// ToCloud9-shaped input: charserver's list (an online friend with a multibyte note, an
/// offline one, one both befriended and ignored, one ignored) rendered for a client that
/// asks for every kind.
#[test]
fn contact_list_friends_and_ignored() {
    use waygate::present::contacts::{ListedFriend, render_list};
    use waygate::wire::packets::contact_flag;
    let friends = [
        ListedFriend {
            guid: 0x2A,
            note: "tank ✓ Zoë".into(),
            online: FriendOnline {
                status: 1,
                area: 1519,
                level: 80,
                class: 4,
            },
        },
        ListedFriend {
            guid: 0x2B,
            note: String::new(),
            online: FriendOnline::default(),
        },
        ListedFriend {
            guid: 0x2C,
            note: "both".into(),
            online: FriendOnline::default(),
        },
    ];
    snap(
        "contact_list_friends_and_ignored",
        typed(&render_list(contact_flag::ALL, &friends, &[0x2C, 0x30])),
    );
}

#[test]
fn friend_status_added_online() {
    snap(
        "friend_status_added_online",
        typed(&FriendStatus {
            result: friend_result::ADDED_ONLINE,
            guid: 0x2A,
            note: "tank ✓".into(),
            online: Some(FriendOnline {
                status: 1,
                area: 1519,
                level: 80,
                class: 4,
            }),
        }),
    );
}

/// charserver's "ignore added" (0x0E in its numbering) as the client must see it (0x0F).
#[test]
fn friend_status_ignore_added() {
    use waygate::present::contacts::ignore_result;
    snap(
        "friend_status_ignore_added",
        typed(&FriendStatus {
            result: ignore_result(0x0E),
            guid: 0x30,
            ..FriendStatus::default()
        }),
    );
}

/// groupserver's `Invite` answered AlreadyInGroup (2): the inviter's result line.
#[test]
fn party_command_result_already_in_group() {
    use waygate::wire::packets::{PartyCommandResult, party_operation, party_result};
    snap(
        "party_command_result_already_in_group",
        typed(&PartyCommandResult {
            operation: party_operation::INVITE,
            name: "Zoë".into(),
            result: party_result::ALREADY_IN_GROUP,
            value: 0,
        }),
    );
}

/// ToCloud9-shaped input: groupserver's `targetIconsList` with a star and a skull set, as
/// the list the client asked for.
#[test]
fn raid_target_list_star_and_skull() {
    use waygate::wire::packets::RaidTargets;
    let mut body = bytes::BytesMut::new();
    RaidTargets::List(vec![(0, 0x2A), (7, 0xF130_0000_0000_1234)]).encode(&mut body);
    let decoded = RaidTargets::decode(&body).expect("decodes");
    snap(
        "raid_target_list_star_and_skull",
        packet_snapshot(
            Opcode::MSG_RAID_TARGET_UPDATE,
            &body,
            &format!("{decoded:#?}"),
        ),
    );
}

// ----- guild ----------------------------------------------------------------------------

/// ToCloud9-shaped input: guildserver's `GetGuildInfo` for a guild of three ranks, with a
/// multibyte name, as the client gets it (ten rank names, the count after the emblem).
#[test]
fn guild_query_response_three_ranks() {
    use waygate::wire::packets::GuildQueryResponse;
    snap(
        "guild_query_response_three_ranks",
        typed(&GuildQueryResponse {
            guild_id: 9,
            name: "Zoë's Nine".into(),
            ranks: vec!["Guild Master".into(), "Officer".into(), "Member".into()],
            emblem: [101, 2, 3, 4, 5],
        }),
    );
}

/// ToCloud9-shaped input: a roster whose rank 1 has rights 0x43 and 50 gold a day, for the
/// member asking MSG_GUILD_PERMISSIONS (guildserver keeps no bank: no tabs).
#[test]
fn guild_permissions_rank_one() {
    use waygate::present::guild::commands::permissions_of;
    use waygate::wire::packets::{GuildRoster, RosterMember, RosterRank};
    let rank = |rights, gold_per_day| RosterRank {
        rights,
        gold_per_day,
        tabs: [(0, 0); 6],
    };
    let roster = GuildRoster {
        ranks: vec![rank(0xF1FF, 0), rank(0x43, 50)],
        members: vec![RosterMember {
            guid: 7,
            rank: 1,
            ..RosterMember::default()
        }],
        ..GuildRoster::default()
    };
    let permissions = permissions_of(7, &roster).expect("a member");
    snap("guild_permissions_rank_one", typed(&permissions));
}

/// guildserver refused an invitation with FailedPrecondition: "Bob is already in a guild".
#[test]
fn guild_command_result_already_in_guild() {
    use waygate::wire::packets::{GuildCommandResult, guild_command, guild_error};
    snap(
        "guild_command_result_already_in_guild",
        typed(&GuildCommandResult {
            command: guild_command::INVITE,
            param: "Bob".into(),
            error: guild_error::ALREADY_IN_GUILD_S,
        }),
    );
}

use waygate::wire::packets::{GuildEvent, GuildInvite, guild_event};

#[test]
fn guild_event_joined() {
    snap(
        "guild_event_joined",
        typed(&GuildEvent {
            event: guild_event::JOINED,
            params: vec!["Brannoc".into()],
            guid: Some(0x2A),
        }),
    );
}

#[test]
fn guild_event_promotion() {
    snap(
        "guild_event_promotion",
        typed(&GuildEvent {
            event: guild_event::PROMOTION,
            params: vec!["Ælfric".into(), "Brannoc".into(), "Officer".into()],
            guid: None,
        }),
    );
}

#[test]
fn guild_invite() {
    snap(
        "guild_invite",
        typed(&GuildInvite {
            inviter: "Brannoc".into(),
            guild: "Knights of Ær".into(),
        }),
    );
}

// ----- party frames -----------------------------------------------------------------------

use waygate::wire::packets::{PartyMemberStats, member_status};

fn party_snapshot(s: &PartyMemberStats) -> String {
    let (opcode, body) = s.render();
    let decoded = PartyMemberStats::decode_as(opcode, &body).expect("a rendered packet decodes");
    packet_snapshot(opcode, &body, &format!("{decoded:#?}"))
}

#[test]
fn party_member_stats_online() {
    snap(
        "party_member_stats_online",
        party_snapshot(&PartyMemberStats {
            full: false,
            guid: 0x2A,
            status: Some(member_status::ONLINE),
            hp: Some(30_000),
            max_hp: Some(32_000),
            power_type: Some(0),
            power: Some(12_000),
            max_power: Some(20_000),
            level: Some(80),
            zone: Some(4_395),
        }),
    );
}

#[test]
fn party_member_stats_full_offline() {
    snap(
        "party_member_stats_full_offline",
        party_snapshot(&PartyMemberStats {
            full: true,
            guid: 0x2A,
            status: Some(member_status::OFFLINE),
            ..PartyMemberStats::default()
        }),
    );
}

// ----- who ------------------------------------------------------------------------------

use waygate::wire::packets::{WhoEntry, WhoList};

#[test]
fn who_list() {
    snap(
        "who_list",
        typed(&WhoList {
            matches: 3,
            entries: vec![
                WhoEntry {
                    name: "Brannoc".into(),
                    guild: "Knights of Ær".into(),
                    level: 80,
                    class: 1,
                    race: 1,
                    gender: 0,
                    zone: 1519,
                },
                WhoEntry {
                    name: "Ælfric".into(),
                    guild: String::new(),
                    level: 12,
                    class: 8,
                    race: 10,
                    gender: 1,
                    zone: 3430,
                },
            ],
        }),
    );
}

// ----- groups ---------------------------------------------------------------------------

use waygate::wire::packets::{
    GROUP_GUID_HIGH, GroupInvite, GroupList, GroupListMember, GroupLoot, group_type,
};

#[test]
fn group_list_empty() {
    snap(
        "group_list_empty",
        typed(&GroupList::empty(GROUP_GUID_HIGH | 5, 7)),
    );
}

#[test]
fn group_list_party_master_loot() {
    let member = |n: u64, name: &str, online: u8| GroupListMember {
        name: name.into(),
        guid: n,
        online,
        subgroup: 0,
        flags: 0,
        roles: 0,
    };
    snap(
        "group_list_party_master_loot",
        typed(&GroupList {
            group_type: 0,
            subgroup: 0,
            flags: 0,
            roles: 0,
            lfg: None,
            group_guid: GROUP_GUID_HIGH | 5,
            counter: 3,
            members: vec![member(9, "Bob", 1), member(11, "Ëve", 0)],
            leader: 9,
            loot: Some(GroupLoot {
                method: 2,
                master_looter: 9,
                threshold: 2,
                dungeon_difficulty: 1,
                raid_difficulty: 0,
                dynamic_heroic: 0,
            }),
        }),
    );
}

#[test]
fn group_list_full_raid() {
    // 40 players: the player and 39 others in 8 subgroups, every third one offline, names in
    // several scripts.
    let names = ["Ælfric", "Brannoc", "Çelik", "Даша", "Εύα", "김", "Zoë"];
    let members = (0..39u64)
        .map(|i| GroupListMember {
            name: format!("{}{i}", names[i as usize % names.len()]),
            guid: 100 + i,
            online: u8::from(i % 3 != 0),
            subgroup: ((i + 1) / 5) as u8,
            flags: if i == 0 { 0x2 } else { 0 },
            roles: 0,
        })
        .collect();
    snap(
        "group_list_full_raid",
        typed(&GroupList {
            group_type: group_type::RAID,
            subgroup: 0,
            flags: 0x1,
            roles: 0,
            lfg: None,
            group_guid: GROUP_GUID_HIGH | 77,
            counter: 41,
            members,
            leader: 100,
            loot: Some(GroupLoot {
                method: 3,
                master_looter: 0,
                threshold: 2,
                dungeon_difficulty: 0,
                raid_difficulty: 1,
                dynamic_heroic: 0,
            }),
        }),
    );
}

#[test]
fn group_invite() {
    snap(
        "group_invite",
        typed(&GroupInvite {
            status: 1,
            inviter: "Brannoc".into(),
        }),
    );
}

// ----- guild roster ---------------------------------------------------------------------

use waygate::wire::ServerHeaderEncoder;
use waygate::wire::packets::{GUILD_BANK_TABS, GuildRoster, RosterMember, RosterRank};

/// A guild of 800 with notes: its roster is over 32 KiB, so the server header is the 5-byte
/// form. The snapshot shows the header, the sizes and the first and last members decoded
/// back (the body is too long to review byte by byte; the small roster in the unit tests is).
#[test]
fn guild_roster_over_32_kib() {
    let names = ["Ælfric", "Brannoc", "Даша", "Εύα", "김", "Zoë"];
    let roster = GuildRoster {
        motd: "Raid at 8 ✓".into(),
        info: "Knights of Ær".into(),
        ranks: (0..5)
            .map(|i| RosterRank {
                rights: 0xFF >> i,
                gold_per_day: 1_000 * (5 - i),
                tabs: [(0, 0); GUILD_BANK_TABS],
            })
            .collect(),
        members: (0..800u32)
            .map(|i| RosterMember {
                guid: 1_000 + u64::from(i),
                name: format!("{}{i}", names[i as usize % names.len()]),
                rank: i % 5,
                level: (1 + i % 80) as u8,
                class: (1 + i % 11) as u8,
                gender: (i % 2) as u8,
                zone: 1_519,
                days_offline: (i % 3 == 0).then_some((i % 30) as f32 + 0.5),
                note: format!("note {i}: raids Tue and Thu"),
                officer_note: if i % 7 == 0 {
                    "alt".into()
                } else {
                    String::new()
                },
            })
            .collect(),
    };
    let body = roster.to_body();
    let mut framed = BytesMut::new();
    ServerHeaderEncoder::plain()
        .encode(Opcode::SMSG_GUILD_ROSTER, &body, &mut framed)
        .expect("fits");
    let decoded = GuildRoster::decode(&body).expect("decodes");
    assert_eq!(decoded, roster);
    let header: Vec<String> = framed[..5].iter().map(|b| format!("{b:02x}")).collect();
    let text = format!(
        "opcode: SMSG_GUILD_ROSTER (0x08A)\nbody: {} bytes (over 32 KiB: {})\nheader: {}\nranks: {}\nmembers: {}\nfirst: {:#?}\nlast: {:#?}\n",
        body.len(),
        body.len() > 0x7FFF,
        header.join(" "),
        decoded.ranks.len(),
        decoded.members.len(),
        decoded.members.first(),
        decoded.members.last(),
    );
    snap("guild_roster_over_32_kib", text);
}

// Chat channels, rendered by the presenter from ToCloud9-shaped inputs: chatserver's answers
// and its `chat.gw.ALL.channel.*` events.
mod channels {
    use super::*;
    use bytes::Bytes;
    use std::time::Duration;
    use waygate::present::channels::ChannelReply;
    use waygate::present::{
        Action, ClusterEvent, Me, Presenter, ServiceAnswer, ServiceRequest, Services,
    };
    use waygate::wire::Packet;
    use waygate::wire::packets::{
        ChannelList, ChannelListMember, ChannelListRequest, ChannelNotify, ChatMessage,
        JoinChannel, LeaveChannel, member_flag,
    };

    fn presenter() -> Presenter {
        Presenter::new(
            Me {
                guid: 7,
                name: "Ælfrida".into(),
                race: 10,
                ..Me::default()
            },
            Services::TOCLOUD9,
        )
    }

    /// What the client gets when the presenter's one call is answered with `reply`.
    fn answer(p: &mut Presenter, opcode: Opcode, body: Bytes, reply: ChannelReply) -> Vec<Action> {
        let mut out = Vec::new();
        p.handle_client(Duration::ZERO, Packet { opcode, body }, &mut out);
        let [Action::Call(ServiceRequest::Channel(call))] = out.as_slice() else {
            panic!("one channel call: {out:?}");
        };
        let mut rendered = Vec::new();
        p.handle_service_answer(
            Duration::ZERO,
            ServiceAnswer::Channel {
                call: call.clone(),
                outcome: Ok(reply),
            },
            &mut rendered,
        );
        rendered
    }

    fn to_client(out: &[Action]) -> Vec<(Opcode, Bytes)> {
        out.iter()
            .filter_map(|a| match a {
                Action::ToClient(opcode, body) => Some((*opcode, body.clone())),
                _ => None,
            })
            .collect()
    }

    fn join(p: &mut Presenter, name: &str, member_flags: u8) -> Vec<(Opcode, Bytes)> {
        let body = JoinChannel {
            name: name.into(),
            ..JoinChannel::default()
        }
        .to_body();
        to_client(&answer(
            p,
            Opcode::CMSG_JOIN_CHANNEL,
            body,
            ChannelReply::Joined {
                id: 0,
                flags: 0x01,
                member_flags,
            },
        ))
    }

    fn notify_snapshot(body: &Bytes) -> String {
        let decoded = ChannelNotify::decode(body).expect("decodes");
        packet_snapshot(Opcode::SMSG_CHANNEL_NOTIFY, body, &format!("{decoded:#?}"))
    }

    #[test]
    fn the_first_member_of_a_player_made_channel() {
        let mut p = presenter();
        let out = join(&mut p, "Raidé", member_flag::OWNER | member_flag::MODERATOR);
        let [(_, you_joined), (_, owner)] = out.as_slice() else {
            panic!("{out:?}");
        };
        snap(
            "channel_notify_you_joined_custom",
            notify_snapshot(you_joined),
        );
        snap("channel_notify_mode_change_owner", notify_snapshot(owner));
    }

    #[test]
    fn leaving_a_player_made_channel() {
        let mut p = presenter();
        join(&mut p, "Pugs", 0);
        let body = LeaveChannel {
            unknown: 0,
            name: "Pugs".into(),
        }
        .to_body();
        let out = to_client(&answer(
            &mut p,
            Opcode::CMSG_LEAVE_CHANNEL,
            body,
            ChannelReply::Done,
        ));
        let [(_, you_left)] = out.as_slice() else {
            panic!("{out:?}");
        };
        snap("channel_notify_you_left_custom", notify_snapshot(you_left));
    }

    #[test]
    fn the_member_list() {
        let mut p = presenter();
        join(&mut p, "Pugs", 0);
        let body = ChannelListRequest {
            channel: "Pugs".into(),
        }
        .to_body();
        let members = vec![
            ChannelListMember {
                guid: 9,
                flags: member_flag::OWNER | member_flag::MODERATOR,
            },
            ChannelListMember { guid: 7, flags: 0 },
            ChannelListMember {
                guid: 0x0000_0001_0000_002A,
                flags: member_flag::MUTED,
            },
        ];
        let out = to_client(&answer(
            &mut p,
            Opcode::CMSG_CHANNEL_LIST,
            body,
            ChannelReply::Members(members),
        ));
        let [(_, list)] = out.as_slice() else {
            panic!("{out:?}");
        };
        snap(
            "channel_list_three_members",
            typed(&ChannelList::decode(list).expect("decodes")),
        );
    }

    fn event(p: &mut Presenter, subject: &str, payload: &str) -> Vec<(Opcode, Bytes)> {
        let mut out = Vec::new();
        p.handle_event(
            Duration::ZERO,
            &ClusterEvent {
                subject: subject.into(),
                payload: Bytes::from(payload.to_owned()),
            },
            &mut out,
        );
        to_client(&out)
    }

    #[test]
    fn a_line_heard_from_another_worldserver() {
        let mut p = presenter();
        join(&mut p, "Pugs", 0);
        let out = event(
            &mut p,
            "chat.gw.ALL.channel.message",
            r#"{"RealmID":1,"ChannelName":"Pugs","ChannelID":0,"SenderGUID":9,"SenderName":"Bjørn","Language":1,"Message":"LFM ICC 25 — need 2 heals ✓"}"#,
        );
        let [(_, line)] = out.as_slice() else {
            panic!("{out:?}");
        };
        snap(
            "channel_message_from_event",
            typed(&ChatMessage::decode(line).expect("decodes")),
        );
    }

    #[test]
    fn a_kick_seen_by_another_member() {
        let mut p = presenter();
        join(&mut p, "Pugs", 0);
        let out = event(
            &mut p,
            "chat.gw.ALL.channel.notify",
            r#"{"RealmID":1,"ChannelName":"Pugs","ChannelID":0,"NotifyType":18,"TargetGUID":9,"TargetName":"Bjørn","SecondGUID":11,"OldFlags":0,"NewFlags":0,"ExtraData":"","AffectsPlayer":0}"#,
        );
        let [(_, kicked)] = out.as_slice() else {
            panic!("{out:?}");
        };
        snap("channel_notify_player_kicked", notify_snapshot(kicked));
    }
}

// The seed PR's ready check (CONTRACTS.md section 7), rendered by the presenter from
// groupserver-shaped events.
#[test]
fn ready_check_from_groupserver_events() {
    use std::time::Duration;
    use waygate::present::{Action, ClusterEvent, Me, Presenter, Services};
    let mut p = Presenter::new(
        Me {
            guid: 7,
            name: "Ælfrida".into(),
            ..Me::default()
        },
        Services::TOCLOUD9,
    );
    let events = [
        (
            "group.readycheck.started",
            r#"{"ServiceID":"g1","RealmID":1,"GroupID":5,"LeaderGUID":9,"DurationMs":35000,"Receivers":[7,11]}"#,
            "the leader's guid",
        ),
        (
            "group.readycheck.member.state",
            r#"{"ServiceID":"g1","RealmID":1,"GroupID":5,"MemberGUID":11,"State":1,"Receivers":[7,9]}"#,
            "member 11 is ready",
        ),
        (
            "group.readycheck.member.state",
            r#"{"ServiceID":"g1","RealmID":1,"GroupID":5,"MemberGUID":12,"State":2,"Receivers":[7,9]}"#,
            "member 12 is not ready",
        ),
        (
            "group.readycheck.finished",
            r#"{"ServiceID":"g1","RealmID":1,"GroupID":5,"Receivers":[7,9,11]}"#,
            "no body",
        ),
    ];
    let mut text = String::new();
    for (subject, payload, what) in events {
        let mut out = Vec::new();
        let event = ClusterEvent {
            subject: subject.into(),
            payload: bytes::Bytes::from_static(payload.as_bytes()),
        };
        p.handle_event(Duration::ZERO, &event, &mut out);
        let [Action::ToClient(opcode, body)] = out.as_slice() else {
            panic!("{subject}: {out:?}");
        };
        text.push_str(&format!("# {subject}\n"));
        text.push_str(&packet_snapshot(*opcode, body, what));
        text.push('\n');
    }
    snap("ready_check_from_groupserver_events", text);
}
