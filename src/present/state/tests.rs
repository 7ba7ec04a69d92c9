use super::*;
use crate::wire::packets::MAX_POWERS;
use crate::wire::update::{MovementBlock, TYPEID_PLAYER};

const ME: u64 = 0x2A;
const OTHER: u64 = 0x0102_0304;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn mask(values: &[(u16, u32)]) -> UpdateMask {
    UpdateMask {
        block_count: 5,
        values: values.to_vec(),
    }
}

fn create(guid: u64, values: &[(u16, u32)]) -> UpdateBlock {
    UpdateBlock::Create {
        kind: 3,
        guid,
        type_id: TYPEID_PLAYER,
        movement: Box::new(MovementBlock::default()),
        mask: mask(values),
    }
}

fn values(guid: u64, values: &[(u16, u32)]) -> UpdateBlock {
    UpdateBlock::Values {
        guid,
        mask: mask(values),
    }
}

fn body(blocks: Vec<UpdateBlock>) -> Bytes {
    UpdateObject { blocks }.to_body()
}

/// Feeds one packet; returns what was published (checking the packet went on first,
/// unchanged).
fn feed(
    state: &mut PlayerState,
    now: Duration,
    opcode: Opcode,
    body: Bytes,
) -> Option<CharacterUpdate> {
    let mut out = Vec::new();
    from_world(ME, state, now, opcode, body.clone(), &mut out);
    match out.as_slice() {
        [Action::ToClient(o, b)] => {
            assert_eq!((*o, b), (opcode, &body), "forwarded as it came");
            None
        }
        [Action::ToClient(o, b), Action::Publish(u)] => {
            assert_eq!((*o, b), (opcode, &body), "forwarded first, as it came");
            assert_eq!(u.guid, ME);
            Some(*u)
        }
        other => panic!("{other:?}"),
    }
}

/// A warrior at level 10 with 1200 health and a rage bar of 1000.
fn login_create() -> Bytes {
    body(vec![
        create(OTHER, &[(field::UNIT_FIELD_HEALTH, 5)]),
        create(
            ME,
            &[
                (field::UNIT_FIELD_BYTES_0, 0x0100_0101),
                (field::UNIT_FIELD_HEALTH, 1_200),
                (field::UNIT_FIELD_MAXHEALTH, 1_200),
                (field::UNIT_FIELD_MAXPOWER1 + 1, 1_000),
                (field::UNIT_FIELD_LEVEL, 10),
            ],
        ),
    ])
}

#[test]
fn the_create_block_sets_every_field_and_publishes_them() {
    let mut s = PlayerState::default();
    let change = feed(&mut s, ms(5), Opcode::SMSG_UPDATE_OBJECT, login_create());
    assert_eq!(
        change,
        Some(CharacterUpdate {
            guid: ME,
            level: Some(10),
            health: Some(1_200),
            max_health: Some(1_200),
            power_type: Some(1),
            // Rage: left out of the create block, so 0.
            power: Some(0),
            max_power: Some(1_000),
            ..CharacterUpdate::default()
        })
    );
    assert_eq!(s.dead(), Some(false));
    assert_eq!(s.health.changed_at(), ms(5));
}

#[test]
fn a_values_block_publishes_only_what_changed() {
    let mut s = PlayerState::default();
    feed(&mut s, ms(0), Opcode::SMSG_UPDATE_OBJECT, login_create());
    let hit = body(vec![values(
        ME,
        &[
            (field::UNIT_FIELD_HEALTH, 900),
            (field::UNIT_FIELD_MAXHEALTH, 1_200),
        ],
    )]);
    let change = feed(&mut s, ms(100), Opcode::SMSG_UPDATE_OBJECT, hit.clone());
    assert_eq!(
        change,
        Some(CharacterUpdate {
            guid: ME,
            health: Some(900),
            ..CharacterUpdate::default()
        })
    );
    assert_eq!(s.max_health.changed_at(), ms(0), "unchanged keeps its time");
    // The same values again: nothing to publish.
    assert_eq!(feed(&mut s, ms(200), Opcode::SMSG_UPDATE_OBJECT, hit), None);
    // Rage rises: power (with its max) is published for the current type.
    let rage = body(vec![values(ME, &[(field::UNIT_FIELD_POWER1 + 1, 50)])]);
    assert_eq!(
        feed(&mut s, ms(300), Opcode::SMSG_UPDATE_OBJECT, rage),
        Some(CharacterUpdate {
            guid: ME,
            power: Some(50),
            max_power: Some(1_000),
            ..CharacterUpdate::default()
        })
    );
}

#[test]
fn a_new_power_type_publishes_that_types_values() {
    let mut s = PlayerState::default();
    feed(&mut s, ms(0), Opcode::SMSG_UPDATE_OBJECT, login_create());
    // Energy values arrive, then the form switch to energy (type 3).
    let form = body(vec![values(
        ME,
        &[
            (field::UNIT_FIELD_BYTES_0, 0x0300_0101),
            (field::UNIT_FIELD_POWER1 + 3, 100),
            (field::UNIT_FIELD_MAXPOWER1 + 3, 100),
        ],
    )]);
    assert_eq!(
        feed(&mut s, ms(10), Opcode::SMSG_UPDATE_OBJECT, form),
        Some(CharacterUpdate {
            guid: ME,
            power_type: Some(3),
            power: Some(100),
            max_power: Some(100),
            ..CharacterUpdate::default()
        })
    );
}

#[test]
fn other_objects_and_bad_packets_are_only_forwarded() {
    let mut s = PlayerState::default();
    let theirs = body(vec![values(OTHER, &[(field::UNIT_FIELD_HEALTH, 1)])]);
    assert_eq!(
        feed(&mut s, ms(0), Opcode::SMSG_UPDATE_OBJECT, theirs),
        None
    );
    assert_eq!(s.health.value, None);
    for junk in [&[][..], &[1, 0, 0, 0, 0, 1, ME as u8][..], &[0xFF; 12][..]] {
        let junk = Bytes::copy_from_slice(junk);
        assert_eq!(
            feed(&mut s, ms(0), Opcode::SMSG_UPDATE_OBJECT, junk.clone()),
            None
        );
        assert_eq!(
            feed(
                &mut s,
                ms(0),
                Opcode::SMSG_COMPRESSED_UPDATE_OBJECT,
                junk.clone()
            ),
            None
        );
        assert_eq!(
            feed(&mut s, ms(0), Opcode::SMSG_INIT_WORLD_STATES, junk.clone()),
            None
        );
        assert_eq!(feed(&mut s, ms(0), Opcode::SMSG_LEVELUP_INFO, junk), None);
    }
    assert_eq!(s.health.value, None);
}

#[test]
fn compressed_updates_are_read_too() {
    let mut s = PlayerState::default();
    let compressed = CompressedUpdateObject::compress(&login_create());
    let change = feed(
        &mut s,
        ms(0),
        Opcode::SMSG_COMPRESSED_UPDATE_OBJECT,
        compressed,
    );
    assert_eq!(change.and_then(|c| c.level), Some(10));
}

#[test]
fn world_states_and_level_ups() {
    let mut s = PlayerState::default();
    let states = InitWorldStates {
        map: 0,
        zone: 12,
        area: 87,
        states: vec![(1, 2)],
    }
    .to_body();
    assert_eq!(
        feed(
            &mut s,
            ms(0),
            Opcode::SMSG_INIT_WORLD_STATES,
            states.clone()
        ),
        Some(CharacterUpdate {
            guid: ME,
            map: Some(0),
            zone: Some(12),
            area: Some(87),
            ..CharacterUpdate::default()
        })
    );
    assert_eq!(
        feed(&mut s, ms(5), Opcode::SMSG_INIT_WORLD_STATES, states),
        None
    );
    let level_up = LevelupInfo {
        level: 11,
        health_gain: 20,
        power_gains: [0; MAX_POWERS],
        stat_gains: Default::default(),
    }
    .to_body();
    assert_eq!(
        feed(&mut s, ms(9), Opcode::SMSG_LEVELUP_INFO, level_up),
        Some(CharacterUpdate {
            guid: ME,
            level: Some(11),
            ..CharacterUpdate::default()
        })
    );
}

#[test]
fn death_and_flags() {
    let mut s = PlayerState::default();
    // A player who logs in dead: the create block leaves health out.
    let dead = body(vec![create(ME, &[(field::UNIT_FIELD_MAXHEALTH, 100)])]);
    feed(&mut s, ms(0), Opcode::SMSG_UPDATE_OBJECT, dead);
    assert_eq!(s.dead(), Some(true));
    let ghost_afk = body(vec![values(
        ME,
        &[
            (field::UNIT_FIELD_HEALTH, 1),
            (
                field::PLAYER_FLAGS,
                player_flag::GHOST | player_flag::AFK | 0x8,
            ),
        ],
    )]);
    feed(&mut s, ms(1), Opcode::SMSG_UPDATE_OBJECT, ghost_afk);
    assert_eq!(s.dead(), Some(true), "a ghost is dead at 1 health");
    assert_eq!(s.flags.value, Some(player_flag::GHOST | player_flag::AFK));
    assert!(s.flags.fresh(ms(1_001), ms(1_000)));
    assert!(!s.flags.fresh(ms(1_002), ms(1_000)));
}
