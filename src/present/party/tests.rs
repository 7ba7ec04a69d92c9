use super::*;
use crate::wire::Opcode;
use crate::wire::packets::{RequestPartyMemberStats, WirePacket};

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

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn render(party: &mut Party, now: Duration, payload: &str) -> (EventFate, Vec<PartyMemberStats>) {
    let mut out = Vec::new();
    let fate = render_event(&me(), party, now, payload.as_bytes(), &mut out);
    let frames = out
        .iter()
        .map(|a| match a {
            Action::ToClient(opcode, body) => {
                assert_eq!(*opcode, Opcode::SMSG_PARTY_MEMBER_STATS);
                PartyMemberStats::decode_as(*opcode, body).expect("decodes")
            }
            other => panic!("{other:?}"),
        })
        .collect();
    (fate, frames)
}

#[test]
fn updates_become_incremental_frames_with_azerothcores_widths() {
    let mut party = Party::default();
    let (fate, frames) = render(
        &mut party,
        ms(0),
        r#"{"GroupID":5,"Receivers":[7],"Updates":[
            {"MemberGUID":7,"CurHP":1},
            {"MemberGUID":9,"Level":80,"Zone":70000,"CurHP":30000,"MaxHP":32000,"PowerType":0,"CurPower":70000,"MaxPower":40000}
        ]}"#,
    );
    assert_eq!(fate, EventFate::Rendered);
    assert_eq!(
        frames,
        vec![PartyMemberStats {
            full: false,
            guid: 9,
            status: Some(member_status::ONLINE),
            hp: Some(30_000),
            max_hp: Some(32_000),
            power_type: Some(0),
            power: Some(u16::MAX),
            max_power: Some(40_000),
            level: Some(80),
            zone: Some(u16::MAX),
        }],
        "not the player's own; u16 fields clamped"
    );
    // The next update carries only health: so does the frame.
    let (_, frames) = render(
        &mut party,
        ms(10),
        r#"{"Updates":[{"MemberGUID":9,"CurHP":100}]}"#,
    );
    assert_eq!(
        frames,
        vec![PartyMemberStats {
            guid: 9,
            status: Some(member_status::ONLINE),
            hp: Some(100),
            ..PartyMemberStats::default()
        }]
    );
    // Offline: the status alone.
    let (_, frames) = render(
        &mut party,
        ms(20),
        r#"{"Updates":[{"MemberGUID":9,"IsOnline":false,"CurHP":5}]}"#,
    );
    assert_eq!(
        frames,
        vec![PartyMemberStats {
            guid: 9,
            status: Some(member_status::OFFLINE),
            ..PartyMemberStats::default()
        }]
    );
}

#[test]
fn requests_are_answered_from_fresh_stats_only() {
    let mut party = Party::default();
    render(
        &mut party,
        ms(1_000),
        r#"{"Updates":[{"MemberGUID":9,"Level":80,"CurHP":5,"MaxHP":10}]}"#,
    );
    render(
        &mut party,
        ms(2_000),
        r#"{"Updates":[{"MemberGUID":9,"CurHP":6}]}"#,
    );
    let full = party
        .fresh_stats(9, ms(2_000 + PARTY_STATS_FRESH_MS))
        .expect("fresh");
    assert_eq!(
        full,
        PartyMemberStats {
            full: true,
            guid: 9,
            status: Some(member_status::ONLINE),
            hp: Some(6),
            max_hp: Some(10),
            level: Some(80),
            ..PartyMemberStats::default()
        }
    );
    assert_eq!(
        party.fresh_stats(9, ms(2_001 + PARTY_STATS_FRESH_MS)),
        None,
        "stale"
    );
    assert_eq!(party.fresh_stats(10, ms(2_000)), None, "never heard");
}

#[test]
fn the_members_kept_are_bounded_and_the_stalest_goes() {
    let mut party = Party::default();
    for guid in 100..100 + PARTY_MEMBERS_MAX as u64 {
        render(
            &mut party,
            ms(guid),
            &format!(r#"{{"Updates":[{{"MemberGUID":{guid},"CurHP":1}}]}}"#),
        );
    }
    assert_eq!(party.len(), PARTY_MEMBERS_MAX);
    render(
        &mut party,
        ms(1_000),
        r#"{"Updates":[{"MemberGUID":1,"CurHP":1}]}"#,
    );
    assert_eq!(party.len(), PARTY_MEMBERS_MAX);
    assert_eq!(party.fresh_stats(100, ms(1_000)), None, "the stalest went");
    assert!(party.fresh_stats(101, ms(1_000)).is_some());
    assert!(party.fresh_stats(1, ms(1_000)).is_some());
}

#[test]
fn malformed_or_empty_updates_render_nothing() {
    let mut party = Party::default();
    for bad in [
        r#"{"Updates":[{"MemberGUID":9,"Level":256}]}"#,
        r#"{"Updates":[{"MemberGUID":9,"IsOnline":1}]}"#,
        r#"{"Updates":{"MemberGUID":9}}"#,
    ] {
        let (fate, frames) = render(&mut party, ms(0), bad);
        assert!(matches!(fate, EventFate::Malformed(_)), "{bad}: {fate:?}");
        assert!(frames.is_empty());
    }
    let (fate, frames) = render(&mut party, ms(0), r#"{"Updates":null}"#);
    assert_eq!((fate, frames.len()), (EventFate::NotForMe, 0));
    assert!(party.is_empty());
}

#[test]
fn the_presenter_answers_a_request_for_a_fresh_member_and_forwards_the_rest() {
    use super::super::{ClusterEvent, Presenter, Services};
    let mut p = Presenter::new(me(), Services::TOCLOUD9);
    assert!(p.intercepts_client(Opcode::CMSG_REQUEST_PARTY_MEMBER_STATS));
    let mut out = Vec::new();
    let event = ClusterEvent {
        subject: "group.members.updated".into(),
        payload: r#"{"Updates":[{"MemberGUID":9,"CurHP":6}]}"#.into(),
    };
    assert_eq!(p.handle_event(ms(0), &event, &mut out), EventFate::Rendered);
    let ask = |guid: u64| crate::wire::Packet {
        opcode: Opcode::CMSG_REQUEST_PARTY_MEMBER_STATS,
        body: RequestPartyMemberStats { guid }.to_body(),
    };
    let mut out = Vec::new();
    p.handle_client(ms(5), ask(9), &mut out);
    let [Action::ToClient(opcode, body)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(*opcode, Opcode::SMSG_PARTY_MEMBER_STATS_FULL);
    assert_eq!(
        PartyMemberStats::decode_as(*opcode, body).map(|s| (s.guid, s.hp)),
        Ok((9, Some(6)))
    );
    let mut out = Vec::new();
    p.handle_client(ms(5), ask(10), &mut out);
    assert_eq!(
        out,
        vec![Action::ToWorld(
            Opcode::CMSG_REQUEST_PARTY_MEMBER_STATS,
            RequestPartyMemberStats { guid: 10 }.to_body()
        )]
    );
    // Without groupserver (the embedded mode) nothing of this is intercepted.
    let p = Presenter::new(me(), Services::NONE);
    assert!(!p.intercepts_client(Opcode::CMSG_REQUEST_PARTY_MEMBER_STATS));
}
