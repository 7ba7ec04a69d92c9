//! Bodies of the server packets the fake sends, and the few client bodies it reads beyond the
//! typed ones in `wire`. Layouts follow PROTOCOL.md and the 3.3.5a client; the values are
//! plausible for a fresh level-10 human warrior, and the same on every run.

use bytes::{BufMut, Bytes, BytesMut};

use crate::wire::Opcode;
use crate::wire::codec::{Reader, WriteExt};
use crate::wire::packets::{AccountDataTimes, InitWorldStates, MapPosition, Motd, WirePacket};
use crate::wire::update::{
    CompressedUpdateObject, LivingMovement, MovementBlock, Placement, TYPEID_PLAYER, UpdateBlock,
    UpdateMask, UpdateObject, update_flags,
};

const SMSG_CONTACT_LIST: Opcode = Opcode(0x067);
const SMSG_BINDPOINTUPDATE: Opcode = Opcode(0x155);
const SMSG_TALENTS_INFO: Opcode = Opcode(0x4C0);
const SMSG_INSTANCE_DIFFICULTY: Opcode = Opcode(0x33B);
const SMSG_INITIAL_SPELLS: Opcode = Opcode(0x12A);
const SMSG_SEND_UNLEARN_SPELLS: Opcode = Opcode(0x41E);
const SMSG_ACTION_BUTTONS: Opcode = Opcode(0x129);
const SMSG_INITIALIZE_FACTIONS: Opcode = Opcode(0x122);
const SMSG_ALL_ACHIEVEMENT_DATA: Opcode = Opcode(0x47D);
const SMSG_EQUIPMENT_SET_LIST: Opcode = Opcode(0x4BC);
const SMSG_SET_FORCED_REACTIONS: Opcode = Opcode(0x2A5);

/// The first part of a login (PLAYER_LOGIN, or re-attaching an offline session), in the order
/// the worldserver sends it. [`MAP_ENTRY`] follows.
pub const LOGIN_PRELUDE: &[Opcode] = &[
    Opcode::MSG_SET_DUNGEON_DIFFICULTY,
    Opcode::SMSG_LOGIN_VERIFY_WORLD,
    Opcode::SMSG_ACCOUNT_DATA_TIMES,
    Opcode::SMSG_FEATURE_SYSTEM_STATUS,
    Opcode::SMSG_MOTD,
    Opcode::SMSG_LEARNED_DANCE_MOVES,
];

/// Entering a map, at login and again after MSG_MOVE_WORLDPORT_ACK: the pre-map set, then the
/// self-create object update (compressed: it is over 100 bytes). SMSG_TIME_SYNC_REQ counter 0
/// and SMSG_INIT_WORLD_STATES follow.
pub const MAP_ENTRY: &[Opcode] = &[
    SMSG_CONTACT_LIST,
    SMSG_BINDPOINTUPDATE,
    SMSG_TALENTS_INFO,
    SMSG_INSTANCE_DIFFICULTY,
    SMSG_INITIAL_SPELLS,
    SMSG_SEND_UNLEARN_SPELLS,
    SMSG_ACTION_BUTTONS,
    SMSG_INITIALIZE_FACTIONS,
    SMSG_ALL_ACHIEVEMENT_DATA,
    SMSG_EQUIPMENT_SET_LIST,
    Opcode::SMSG_LOGIN_SETTIMESPEED,
    SMSG_SET_FORCED_REACTIONS,
    Opcode::SMSG_COMPRESSED_UPDATE_OBJECT,
];

/// Server time in the fake's packets: a fixed epoch plus its own clock, so runs repeat.
pub(super) const EPOCH_UNIX_SECONDS: u32 = 1_767_225_600; // 2026-01-01 00:00 UTC
/// The `/ready` text emote that hurries a map-reassignment redirect.
pub(super) const TEXT_EMOTE_READY: u32 = 126;
/// Longest chat text the client sends.
const CHAT_TEXT_MAX_BYTES: usize = 255;
/// PLAYER_END in 3.3.5a: the self-create mask covers every player field.
const PLAYER_END_FIELDS: u16 = 0x49A;
const ACTION_BUTTONS: usize = 144;
const FACTIONS: usize = 128;
const GLYPH_SLOTS: usize = 6;

fn body(f: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut b = BytesMut::new();
    f(&mut b);
    b.freeze()
}

/// A zone for a map, so world states and bind points look like somewhere.
fn zone_of(map: u32) -> u32 {
    match map {
        0 => 12,     // Elwynn Forest
        1 => 14,     // Durotar
        530 => 3430, // Eversong Woods
        571 => 3537, // Borean Tundra
        _ => 0,
    }
}

/// The login prelude (see [`LOGIN_PRELUDE`]).
pub(super) fn login_prelude(at: MapPosition, unix_time: u32, motd: &str) -> Vec<(Opcode, Bytes)> {
    vec![
        (
            Opcode::MSG_SET_DUNGEON_DIFFICULTY,
            // difficulty, unknown (always 1), in a group
            body(|b| {
                b.put_u32_le(0);
                b.put_u32_le(1);
                b.put_u32_le(0);
            }),
        ),
        (
            Opcode::SMSG_LOGIN_VERIFY_WORLD,
            crate::wire::packets::LoginVerifyWorld(at).to_body(),
        ),
        (
            Opcode::SMSG_ACCOUNT_DATA_TIMES,
            AccountDataTimes {
                unix_time,
                mask: 0xEA,
                times: [0; 8],
            }
            .to_body(),
        ),
        // complaints enabled with auto-ignore, voice chat off
        (
            Opcode::SMSG_FEATURE_SYSTEM_STATUS,
            body(|b| b.put_slice(&[2, 0])),
        ),
        (
            Opcode::SMSG_MOTD,
            Motd {
                lines: vec![motd.to_owned()],
            }
            .to_body(),
        ),
        (
            Opcode::SMSG_LEARNED_DANCE_MOVES,
            body(|b| {
                b.put_u32_le(0);
                b.put_u32_le(0);
            }),
        ),
    ]
}

/// Packed game time as the client's time-speed packet carries it.
fn packed_time(unix_seconds: u32) -> u32 {
    // Counted from the fake's epoch; the day wraps within January, which is plausible enough.
    let minutes = unix_seconds.saturating_sub(EPOCH_UNIX_SECONDS) / 60;
    let (hour, minute) = ((minutes / 60) % 24, minutes % 60);
    let day = (minutes / (60 * 24)) % 28;
    let year = 26; // 2026
    let weekday = (4 + day) % 7; // 2026-01-01 is a Thursday
    (year << 24) | (day << 14) | (weekday << 11) | (hour << 6) | minute
}

/// The map entry (see [`MAP_ENTRY`]).
pub(super) fn map_entry(
    guid: u64,
    at: MapPosition,
    unix_time: u32,
    game_ms: u32,
) -> Vec<(Opcode, Bytes)> {
    let p = at.position;
    vec![
        (
            SMSG_CONTACT_LIST,
            // flags (friends | ignored | muted), no contacts
            body(|b| {
                b.put_u32_le(7);
                b.put_u32_le(0);
            }),
        ),
        (
            SMSG_BINDPOINTUPDATE,
            body(|b| {
                b.put_f32_le(p.x);
                b.put_f32_le(p.y);
                b.put_f32_le(p.z);
                b.put_u32_le(at.map);
                b.put_u32_le(zone_of(at.map));
            }),
        ),
        (
            SMSG_TALENTS_INFO,
            // player talents: no unspent points, one spec, active 0, no talents, empty glyphs
            body(|b| {
                b.put_u8(0);
                b.put_u32_le(0);
                b.put_u8(1);
                b.put_u8(0);
                b.put_u8(0);
                b.put_u8(GLYPH_SLOTS as u8);
                for _ in 0..GLYPH_SLOTS {
                    b.put_u16_le(0);
                }
            }),
        ),
        (
            SMSG_INSTANCE_DIFFICULTY,
            body(|b| {
                b.put_u32_le(0);
                b.put_u32_le(0);
            }),
        ),
        (
            SMSG_INITIAL_SPELLS,
            // unknown u8, one spell (78, Heroic Strike), no cooldowns
            body(|b| {
                b.put_u8(0);
                b.put_u16_le(1);
                b.put_u32_le(78);
                b.put_u16_le(0);
                b.put_u16_le(0);
            }),
        ),
        (SMSG_SEND_UNLEARN_SPELLS, body(|b| b.put_u32_le(0))),
        (
            SMSG_ACTION_BUTTONS,
            // initial state, every button empty
            body(|b| {
                b.put_u8(0);
                for _ in 0..ACTION_BUTTONS {
                    b.put_u32_le(0);
                }
            }),
        ),
        (
            SMSG_INITIALIZE_FACTIONS,
            body(|b| {
                b.put_u32_le(FACTIONS as u32);
                for _ in 0..FACTIONS {
                    b.put_u8(0);
                    b.put_u32_le(0);
                }
            }),
        ),
        (
            SMSG_ALL_ACHIEVEMENT_DATA,
            // no achievements, no criteria: each list ends with -1
            body(|b| {
                b.put_i32_le(-1);
                b.put_i32_le(-1);
            }),
        ),
        (SMSG_EQUIPMENT_SET_LIST, body(|b| b.put_u32_le(0))),
        (
            Opcode::SMSG_LOGIN_SETTIMESPEED,
            body(|b| {
                b.put_u32_le(packed_time(unix_time));
                b.put_f32_le(0.016_666_668);
                b.put_u32_le(0);
            }),
        ),
        (SMSG_SET_FORCED_REACTIONS, body(|b| b.put_u32_le(0))),
        (
            Opcode::SMSG_COMPRESSED_UPDATE_OBJECT,
            self_create(guid, at, game_ms),
        ),
    ]
}

/// SMSG_INIT_WORLD_STATES for where the player is.
pub(super) fn init_world_states(at: MapPosition) -> InitWorldStates {
    let zone = zone_of(at.map);
    InitWorldStates {
        map: at.map,
        zone,
        area: zone,
        states: Vec::new(),
    }
}

/// The player's own create block (CREATE_OBJECT2, type 4, SELF | LIVING), compressed.
pub(super) fn self_create(guid: u64, at: MapPosition, game_ms: u32) -> Bytes {
    let living = LivingMovement {
        time: game_ms,
        position: at.position,
        speeds: [
            2.5,                  // walk
            7.0,                  // run
            4.5,                  // run back
            4.722_222,            // swim
            2.5,                  // swim back
            7.0,                  // flight
            4.5,                  // flight back
            std::f32::consts::PI, // turn rate
            std::f32::consts::PI, // pitch rate
        ],
        ..LivingMovement::default()
    };
    let mut values: Vec<(u16, u32)> = vec![(0x0000, guid as u32)]; // OBJECT_FIELD_GUID low
    if guid >> 32 != 0 {
        values.push((0x0001, (guid >> 32) as u32));
    }
    values.extend([
        (0x0002, 0x19),               // OBJECT_FIELD_TYPE: object | unit | player
        (0x0004, 1.0f32.to_bits()),   // OBJECT_FIELD_SCALE_X
        (0x0017, 0x0100_0101),        // UNIT_FIELD_BYTES_0: human, warrior, male, rage
        (0x0018, SELF_CREATE_HEALTH), // UNIT_FIELD_HEALTH
        (0x0020, SELF_CREATE_HEALTH), // UNIT_FIELD_MAXHEALTH
        (0x0022, 1_000),              // UNIT_FIELD_MAXPOWER2 (rage)
        (0x0036, 10),                 // UNIT_FIELD_LEVEL
        (0x0037, 1),                  // UNIT_FIELD_FACTIONTEMPLATE
        (0x003B, 0x0000_0008),        // UNIT_FIELD_FLAGS
        (0x0043, 49),                 // UNIT_FIELD_DISPLAYID
        (0x0044, 49),                 // UNIT_FIELD_NATIVEDISPLAYID
    ]);
    let update = UpdateObject {
        blocks: vec![UpdateBlock::Create {
            kind: 3,
            guid,
            type_id: TYPEID_PLAYER,
            movement: Box::new(MovementBlock {
                flags: update_flags::SELF | update_flags::LIVING,
                placement: Placement::Living(Box::new(living)),
                ..MovementBlock::default()
            }),
            mask: UpdateMask {
                block_count: PLAYER_END_FIELDS.div_ceil(32) as u8,
                values,
            },
        }],
    };
    CompressedUpdateObject::compress(&update.to_body())
}

/// The player's health (and max health) in its self-create block.
pub const SELF_CREATE_HEALTH: u32 = 1_200;

/// The player's health at its `tick`th health tick on a fake (`FakeTiming::health_tick_ms`):
/// it names the character (its guid's last two decimal digits) and moves on at every tick,
/// so a party frame can be traced to the member and the moment it describes.
pub fn ticked_health(guid: u64, tick: u32) -> u32 {
    100 + (guid % 100) as u32 * 10 + tick % 10
}

/// SMSG_UPDATE_OBJECT: a values block for the player that sets its health.
pub(super) fn health_update(guid: u64, health: u32) -> Bytes {
    UpdateObject {
        blocks: vec![UpdateBlock::Values {
            guid,
            mask: UpdateMask {
                block_count: 1,
                values: vec![(0x0018, health)], // UNIT_FIELD_HEALTH
            },
        }],
    }
    .to_body()
}

/// SMSG_MESSAGECHAT of type SYSTEM.
pub(super) fn system_message(text: &str) -> Bytes {
    body(|b| {
        b.put_u8(0); // CHAT_MSG_SYSTEM
        b.put_u32_le(0); // LANG_UNIVERSAL
        b.put_u64_le(0); // sender
        b.put_u32_le(0); // flags
        b.put_u64_le(0); // receiver
        b.put_u32_le(u32::try_from(text.len() + 1).unwrap_or(u32::MAX));
        b.put_cstr(text);
        b.put_u8(0); // chat tag
    })
}

/// `.tele <map> <x> <y> <z> [<orientation>]` in a SAY chat body (u32 type 1, u32 language,
/// cstr text).
pub(super) fn parse_tele(chat: &[u8]) -> Option<MapPosition> {
    let mut r = Reader::new(chat);
    if r.u32("type").ok()? != 1 {
        return None;
    }
    let _language = r.u32("language").ok()?;
    let text = r.cstr("text", CHAT_TEXT_MAX_BYTES).ok()?;
    let mut words = text.strip_prefix(".tele ")?.split_ascii_whitespace();
    let map = words.next()?.parse().ok()?;
    let mut coord = || -> Option<f32> {
        let v: f32 = words.next()?.parse().ok()?;
        v.is_finite().then_some(v)
    };
    let (x, y, z) = (coord()?, coord()?, coord()?);
    let orientation = coord().unwrap_or(0.0);
    if words.next().is_some() {
        return None;
    }
    Some(MapPosition {
        map,
        position: crate::wire::packets::Position {
            x,
            y,
            z,
            orientation,
        },
    })
}

/// The text emote id at the start of a CMSG_TEXT_EMOTE body.
pub(super) fn emote_id(body: &[u8]) -> Option<u32> {
    Reader::new(body).u32("text_emote").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::packets::Position;
    use crate::wire::update::UPDATE_INFLATED_MAX_BYTES;

    fn say(text: &str) -> Bytes {
        body(|b| {
            b.put_u32_le(1);
            b.put_u32_le(0);
            b.put_cstr(text);
        })
    }

    #[test]
    fn tele_command_parses_and_anything_else_does_not() {
        let at = parse_tele(&say(".tele 1 10 -20.5 30")).expect("parses");
        assert_eq!(at.map, 1);
        assert_eq!(
            at.position,
            Position {
                x: 10.0,
                y: -20.5,
                z: 30.0,
                orientation: 0.0
            }
        );
        assert_eq!(
            parse_tele(&say(".tele 1 1 2 3 1.5")).map(|a| a.position.orientation),
            Some(1.5)
        );
        for bad in [
            "hello",
            ".tele",
            ".tele 1 2 3",
            ".tele x 1 2 3",
            ".tele 1 NaN 2 3",
            ".tele 1 1 2 3 4 5",
        ] {
            assert_eq!(parse_tele(&say(bad)), None, "{bad}");
        }
        let mut yell = BytesMut::from(&say(".tele 1 1 2 3")[..]);
        yell[0] = 6;
        assert_eq!(parse_tele(&yell), None, "only SAY");
        assert_eq!(parse_tele(&[1, 0, 0]), None, "truncated");
    }

    #[test]
    fn self_create_is_a_compressed_player_create_block() {
        let at = MapPosition {
            map: 0,
            position: Position {
                x: 1.0,
                y: 2.0,
                z: 3.0,
                orientation: 0.5,
            },
        };
        let compressed = self_create(0x0000_0001_0000_0007, at, 1234);
        let inflated = CompressedUpdateObject::inflate(&compressed, UPDATE_INFLATED_MAX_BYTES)
            .expect("inflates");
        assert!(inflated.len() > 100, "why it is sent compressed");
        let update = UpdateObject::decode(&inflated).expect("decodes");
        let [
            UpdateBlock::Create {
                kind,
                guid,
                type_id,
                movement,
                mask,
            },
        ] = update.blocks.as_slice()
        else {
            panic!("one create block: {update:?}");
        };
        assert_eq!((*kind, *guid, *type_id), (3, 0x0000_0001_0000_0007, 4));
        assert_eq!(movement.flags, update_flags::SELF | update_flags::LIVING);
        let Placement::Living(l) = &movement.placement else {
            panic!("living");
        };
        assert_eq!((l.position, l.time), (at.position, 1234));
        assert_eq!(mask.get(0x0000), Some(7));
        assert_eq!(mask.get(0x0001), Some(1));
        assert_eq!(mask.get(0x0018), Some(1_200));
        assert_eq!(mask.get(0x0036), Some(10));
    }

    #[test]
    fn system_message_layout() {
        let b = system_message("hi");
        let mut r = Reader::new(&b);
        assert_eq!(r.u8("type"), Ok(0));
        assert_eq!(r.u32("lang"), Ok(0));
        assert_eq!(r.u64("sender"), Ok(0));
        assert_eq!(r.u32("flags"), Ok(0));
        assert_eq!(r.u64("receiver"), Ok(0));
        assert_eq!(r.u32("len"), Ok(3));
        assert_eq!(r.cstr("text", 10), Ok("hi"));
        assert_eq!(r.u8("tag"), Ok(0));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn sequences_match_their_published_opcode_lists() {
        let at = MapPosition::default();
        let prelude: Vec<Opcode> = login_prelude(at, EPOCH_UNIX_SECONDS, "m")
            .into_iter()
            .map(|(o, _)| o)
            .collect();
        assert_eq!(prelude, LOGIN_PRELUDE);
        let entry: Vec<Opcode> = map_entry(1, at, EPOCH_UNIX_SECONDS, 0)
            .into_iter()
            .map(|(o, _)| o)
            .collect();
        assert_eq!(entry, MAP_ENTRY);
    }
}
