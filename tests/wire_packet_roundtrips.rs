//! Every typed packet: encode -> decode gives the value back and consumes exactly what was
//! written; arbitrary and truncated bodies never panic a decoder.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use waygate::wire::auth::{
    Addon, AddonList, AuthChallenge, AuthResponse, AuthResult, AuthSession, AuthSessionFields,
    Billing,
};
use waygate::wire::packets::*;
use waygate::wire::update::{
    CompressedUpdateObject, LivingMovement, MovementBlock, Placement, Spline, SplineFacing,
    TransportInfo, TransportPosition, UpdateBlock, UpdateMask, UpdateObject, move_flags,
    spline_flags, update_flags,
};

fn f() -> impl Strategy<Value = f32> {
    -1.0e6f32..1.0e6f32
}

fn name() -> impl Strategy<Value = String> {
    "[A-Za-z][a-z]{0,11}"
}

fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::char::range(' ', '~'), 0..max).prop_map(|v| v.into_iter().collect())
}

fn position() -> impl Strategy<Value = Position> {
    (f(), f(), f(), f()).prop_map(|(x, y, z, orientation)| Position {
        x,
        y,
        z,
        orientation,
    })
}

fn map_position() -> impl Strategy<Value = MapPosition> {
    (any::<u32>(), position()).prop_map(|(map, position)| MapPosition { map, position })
}

/// decode(encode(p)) == p, and every strict prefix decodes to an error or a value, never a panic.
fn check<P: WirePacket + PartialEq + std::fmt::Debug>(p: &P) -> Result<(), TestCaseError> {
    let body = p.to_body();
    let back = P::decode(&body).map_err(|e| TestCaseError::fail(format!("{e}: {p:?}")))?;
    prop_assert_eq!(&back, p);
    // Re-encoding the decoded value gives the same bytes: nothing was left unread.
    prop_assert_eq!(back.to_body(), body.clone());
    for cut in 0..body.len() {
        let _ = P::decode(&body[..cut]);
    }
    Ok(())
}

fn enum_character() -> impl Strategy<Value = EnumCharacter> {
    (
        any::<u64>(),
        name(),
        any::<[u8; 9]>(),
        (any::<u32>(), any::<u32>(), f(), f(), f()),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u8>()),
        (any::<u32>(), any::<u32>(), any::<u32>()),
        prop::collection::vec(
            (any::<u32>(), any::<u8>(), any::<u32>()),
            CHAR_ENUM_EQUIPMENT_SLOTS,
        ),
    )
        .prop_map(
            |(
                guid,
                name,
                a,
                (zone, map, x, y, z),
                (guild_id, char_flags, customize_flags, first_login),
                (pd, pl, pf),
                eq,
            )| {
                let mut equipment = [EnumEquipment::default(); CHAR_ENUM_EQUIPMENT_SLOTS];
                for (slot, (display_id, inventory_type, enchant_aura)) in
                    equipment.iter_mut().zip(eq)
                {
                    *slot = EnumEquipment {
                        display_id,
                        inventory_type,
                        enchant_aura,
                    };
                }
                EnumCharacter {
                    guid,
                    name,
                    race: a[0],
                    class: a[1],
                    gender: a[2],
                    skin: a[3],
                    face: a[4],
                    hair_style: a[5],
                    hair_color: a[6],
                    facial_hair: a[7],
                    level: a[8],
                    zone,
                    map,
                    x,
                    y,
                    z,
                    guild_id,
                    char_flags,
                    customize_flags,
                    first_login,
                    pet_display: pd,
                    pet_level: pl,
                    pet_family: pf,
                    equipment,
                }
            },
        )
}

fn update_mask() -> impl Strategy<Value = UpdateMask> {
    (1u8..8).prop_flat_map(|blocks| {
        prop::collection::btree_map(0u16..u16::from(blocks) * 32, any::<u32>(), 0..20).prop_map(
            move |m| UpdateMask {
                block_count: blocks,
                values: m.into_iter().collect(),
            },
        )
    })
}

fn spline() -> impl Strategy<Value = Spline> {
    let facing = prop_oneof![
        Just(SplineFacing::None),
        f().prop_map(SplineFacing::Angle),
        any::<u64>().prop_map(SplineFacing::Target),
        (f(), f(), f()).prop_map(|(a, b, c)| SplineFacing::Point([a, b, c])),
    ];
    (
        facing,
        any::<u32>(),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            f(),
            f(),
            f(),
            any::<u32>(),
        ),
        prop::collection::vec((f(), f(), f()).prop_map(|(a, b, c)| [a, b, c]), 0..6),
        any::<u8>(),
        (f(), f(), f()),
    )
        .prop_map(
            |(facing, other_flags, (tp, d, id, m1, m2, va, es), points, mode, (a, b, c))| {
                let facing_bits = spline_flags::FINAL_ANGLE
                    | spline_flags::FINAL_TARGET
                    | spline_flags::FINAL_POINT;
                let flags = (other_flags & !facing_bits)
                    | match facing {
                        SplineFacing::None => 0,
                        SplineFacing::Angle(_) => spline_flags::FINAL_ANGLE,
                        SplineFacing::Target(_) => spline_flags::FINAL_TARGET,
                        SplineFacing::Point(_) => spline_flags::FINAL_POINT,
                    };
                Spline {
                    flags,
                    facing,
                    time_passed: tp,
                    duration: d,
                    id,
                    duration_mod: m1,
                    duration_mod_next: m2,
                    vertical_accel: va,
                    effect_start_time: es,
                    points,
                    mode,
                    destination: [a, b, c],
                }
            },
        )
}

fn living() -> impl Strategy<Value = LivingMovement> {
    (
        any::<u32>(),
        any::<u16>(),
        any::<u32>(),
        position(),
        (
            any::<u64>(),
            position(),
            any::<u32>(),
            any::<u8>(),
            any::<u32>(),
        ),
        (f(), any::<u32>(), (f(), f(), f(), f()), f()),
        prop::collection::vec(f(), 9),
        spline(),
    )
        .prop_map(
            |(
                mf,
                mf2,
                time,
                position,
                (tg, to, tt, seat, t2),
                (pitch, fall, jump, elev),
                speeds,
                spline,
            )| {
                let mut l = LivingMovement {
                    move_flags: mf,
                    move_flags2: mf2,
                    time,
                    position,
                    fall_time: fall,
                    ..LivingMovement::default()
                };
                l.speeds.copy_from_slice(&speeds);
                if mf & move_flags::ON_TRANSPORT != 0 {
                    l.transport = Some(TransportInfo {
                        guid: tg,
                        offset: to,
                        time: tt,
                        seat,
                        time2: (mf2 & move_flags::FLAGS2_INTERPOLATED_MOVEMENT != 0).then_some(t2),
                    });
                }
                if mf & (move_flags::SWIMMING | move_flags::FLYING) != 0
                    || mf2 & move_flags::FLAGS2_ALWAYS_ALLOW_PITCHING != 0
                {
                    l.pitch = Some(pitch);
                }
                if mf & move_flags::FALLING != 0 {
                    l.jump = Some([jump.0, jump.1, jump.2, jump.3]);
                }
                if mf & move_flags::SPLINE_ELEVATION != 0 {
                    l.spline_elevation = Some(elev);
                }
                if mf & move_flags::SPLINE_ENABLED != 0 {
                    l.spline = Some(Box::new(spline));
                }
                l
            },
        )
}

fn movement() -> impl Strategy<Value = MovementBlock> {
    use update_flags as uf;
    (
        any::<u16>(),
        living(),
        (any::<u64>(), f(), f(), f(), f(), f(), f(), f(), f()),
        position(),
        (
            any::<u32>(),
            any::<u32>(),
            any::<u64>(),
            any::<u32>(),
            (any::<u32>(), f()),
            any::<u64>(),
        ),
    )
        .prop_map(
            |(
                flags,
                living,
                (tg, a, b, c, d, e, g, o, to),
                stationary,
                (lo, hi, target, tt, vehicle, rot),
            )| {
                let placement = if flags & uf::LIVING != 0 {
                    Placement::Living(Box::new(living))
                } else if flags & uf::POSITION != 0 {
                    Placement::Transport(TransportPosition {
                        transport_guid: tg,
                        position: [a, b, c],
                        transport_offset: [d, e, g],
                        orientation: o,
                        transport_orientation: to,
                    })
                } else if flags & uf::STATIONARY_POSITION != 0 {
                    Placement::Stationary(stationary)
                } else {
                    Placement::None
                };
                MovementBlock {
                    flags,
                    placement,
                    low_guid: (flags & uf::LOWGUID != 0).then_some(lo),
                    high_guid: (flags & uf::HIGHGUID != 0).then_some(hi),
                    target: (flags & uf::HAS_TARGET != 0).then_some(target),
                    transport_time: (flags & uf::TRANSPORT != 0).then_some(tt),
                    vehicle: (flags & uf::VEHICLE != 0).then_some(vehicle),
                    rotation: (flags & uf::ROTATION != 0).then_some(rot),
                }
            },
        )
}

fn update_block() -> impl Strategy<Value = UpdateBlock> {
    prop_oneof![
        (any::<u64>(), update_mask()).prop_map(|(guid, mask)| UpdateBlock::Values { guid, mask }),
        (any::<u64>(), movement()).prop_map(|(guid, m)| UpdateBlock::Movement {
            guid,
            movement: Box::new(m)
        }),
        (
            2u8..=3,
            any::<u64>(),
            any::<u8>(),
            movement(),
            update_mask()
        )
            .prop_map(|(kind, guid, type_id, m, mask)| {
                UpdateBlock::Create {
                    kind,
                    guid,
                    type_id,
                    movement: Box::new(m),
                    mask,
                }
            }),
        prop::collection::vec(any::<u64>(), 0..8).prop_map(UpdateBlock::OutOfRange),
        prop::collection::vec(any::<u64>(), 0..8).prop_map(UpdateBlock::NearObjects),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fixed_field_packets(g in any::<u64>(), a in any::<u32>(), b in any::<u32>(), c in any::<u8>(), d in any::<bool>()) {
        check(&CharEnumRequest)?;
        check(&WorldportAck)?;
        check(&LogoutRequest)?;
        check(&LogoutComplete)?;
        check(&ReadyForAccountDataTimes)?;
        check(&PrepareForRedirect)?;
        check(&CharCreateResult { result: c })?;
        check(&CharDelete { guid: g })?;
        check(&CharDeleteResult { result: c })?;
        check(&PlayerLogin { guid: g })?;
        check(&Pong { seq: a })?;
        check(&TimeSyncReq { counter: a })?;
        check(&RealmSplitRequest { decision: a })?;
        check(&NameQuery { guid: g })?;
        check(&ReadyForRedirect { status: c })?;
        check(&ClientCacheVersion { version: a })?;
        check(&CharacterLoginFailed { reason: LoginFailure(c) })?;
        check(&Ping { seq: a, latency_ms: b })?;
        check(&TimeSyncResp { counter: a, client_ticks_ms: b })?;
        check(&LogoutResponse { result: a, instant: d })?;
    }

    #[test]
    fn positions_and_transfers(mp in map_position(), map in any::<u32>(), t in proptest::option::of((any::<u32>(), any::<u32>())), reason in any::<u8>(), arg in proptest::option::of(any::<u8>())) {
        check(&LoginVerifyWorld(mp))?;
        check(&NewWorld(mp))?;
        check(&TransferPending { map, transport: t })?;
        check(&TransferAborted { map, reason, arg })?;
    }

    #[test]
    fn account_data_realm_split_motd_world_states(
        unix in any::<u32>(), mask in any::<u8>(), times in any::<[u32; 8]>(),
        decision in any::<u32>(), state in any::<u32>(), date in text(32),
        lines in prop::collection::vec(text(80), 0..6),
        ws in (any::<u32>(), any::<u32>(), any::<u32>(), prop::collection::vec((any::<u32>(), any::<u32>()), 0..20)),
    ) {
        // Only the slots in the mask travel.
        let mut kept = [0u32; 8];
        for (slot, t) in times.iter().enumerate() {
            if mask & (1 << slot) != 0 {
                kept[slot] = *t;
            }
        }
        check(&AccountDataTimes { unix_time: unix, mask, times: kept })?;
        check(&RealmSplit { decision, state, date })?;
        check(&Motd { lines })?;
        check(&InitWorldStates { map: ws.0, zone: ws.1, area: ws.2, states: ws.3 })?;
    }

    #[test]
    fn levelup_tutorials_char_create(level in any::<u32>(), hp in any::<u32>(), powers in any::<[u32; 7]>(), stats in any::<[u32; 5]>(), words in any::<[u32; 8]>(), n in name(), app in any::<[u8; 9]>()) {
        check(&LevelupInfo { level, health_gain: hp, power_gains: powers, stat_gains: stats })?;
        check(&TutorialFlags { words })?;
        check(&CharCreate { name: n, appearance: app })?;
    }

    #[test]
    fn char_rename_and_its_answers(guid in any::<u64>(), n in name(), code in 1u8..=255) {
        check(&CharRename { guid, name: n.clone() })?;
        check(&CharRenameResult::Renamed { guid, name: n })?;
        check(&CharRenameResult::Refused(code))?;
    }

    #[test]
    fn name_query_responses(guid in any::<u64>(), n in name(), realm in text(20), race in any::<u8>(), gender in any::<u8>(), class in any::<u8>(), declined in proptest::option::of(prop::collection::vec(name(), 5))) {
        check(&NameQueryResponse::NotFound { guid })?;
        let declined = declined.map(|v| Box::new([v[0].clone(), v[1].clone(), v[2].clone(), v[3].clone(), v[4].clone()]));
        check(&NameQueryResponse::Found { guid, name: n, realm, race, gender, class, declined })?;
    }

    #[test]
    fn char_enum(characters in prop::collection::vec(enum_character(), 0..4)) {
        check(&CharEnum { characters })?;
    }

    #[test]
    fn addon_info(answers in prop::collection::vec((any::<u8>(), any::<bool>(), proptest::option::of(any::<u8>()), any::<u32>(), proptest::option::of(text(40))), 0..5)) {
        let info = AddonInfo {
            answers: answers
                .into_iter()
                .map(|(state, crc_checked, key, unknown, url)| AddonAnswer {
                    state,
                    crc_checked,
                    public_key: if crc_checked { key.map(|k| Box::new([k; 256])) } else { None },
                    unknown: if crc_checked { unknown } else { 0 },
                    url,
                })
                .collect(),
        };
        let mut body = BytesMut::new();
        info.encode(&mut body);
        prop_assert_eq!(AddonInfo::decode(&body, info.answers.len()), Ok(info.clone()));
        for cut in 0..body.len() {
            let _ = AddonInfo::decode(&body[..cut], info.answers.len());
        }
    }

    #[test]
    fn auth_packets(seed in any::<u32>(), bytes in any::<[u8; 32]>(), account in "[A-Z0-9]{1,16}", client_seed in any::<u32>(), realm in any::<u32>(), digest in any::<[u8; 20]>(),
                    addons in prop::collection::vec(("[A-Za-z_]{1,30}", any::<u8>(), any::<u32>(), any::<u32>()), 0..6), time in any::<u32>(),
                    billing in (any::<u32>(), any::<u8>(), any::<u32>(), any::<u8>()), position in any::<u32>(), fm in any::<u8>()) {
        let c = AuthChallenge { server_seed: seed, seed_bytes: bytes };
        let mut body = BytesMut::new();
        c.encode(&mut body);
        prop_assert_eq!(AuthChallenge::decode(&body), Ok(c));

        let list = AddonList {
            addons: addons.into_iter().map(|(name, enabled, crc, unknown)| Addon { name, enabled, crc, unknown }).collect(),
            time: Some(time),
        };
        let block = list.encode_block();
        prop_assert_eq!(AddonList::decode_block(&block, 1 << 16), Ok(list.clone()));
        let raw = AuthSession::encode(&AuthSessionFields { account: account.clone(), client_seed, realm_id: realm, digest, addon_block: block.clone() });
        let s = AuthSession::decode(raw.clone()).expect("decodes");
        prop_assert_eq!(&s.account, &account);
        prop_assert_eq!((s.client_seed, s.realm_id, s.digest), (client_seed, realm, digest));
        prop_assert_eq!(&s.addon_block, &block);
        prop_assert_eq!(&s.raw, &raw);
        prop_assert_eq!(s.addons(1 << 16), Ok(list));
        for cut in 0..raw.len() {
            let _ = AuthSession::decode(raw.slice(..cut));
        }

        let b = Billing { time: billing.0, flags: billing.1, rested: billing.2, expansion: billing.3 };
        let responses = [
            AuthResponse::Ok(b),
            AuthResponse::Queued { billing: b, position, free_migration: fm },
            AuthResponse::QueueUpdate { position },
        ];
        for r in responses.iter().copied().chain(AuthResult::FAILURES.iter().map(|c| AuthResponse::Failed(*c))) {
            let mut body = BytesMut::new();
            r.encode(&mut body);
            prop_assert_eq!(AuthResponse::decode(&body), Ok(r));
        }
    }

    #[test]
    fn update_objects(blocks in prop::collection::vec(update_block(), 0..6)) {
        let u = UpdateObject { blocks };
        check(&u)?;
        let compressed = CompressedUpdateObject::compress(&u.to_body());
        prop_assert_eq!(CompressedUpdateObject::decode(&compressed, 1 << 22), Ok(CompressedUpdateObject(u)));
    }

    #[test]
    fn arbitrary_bodies_never_panic(data in prop::collection::vec(any::<u8>(), 0..512), count in 0usize..8) {
        let _ = CharEnum::decode(&data);
        let _ = NameQueryResponse::decode(&data);
        let _ = AccountDataTimes::decode(&data);
        let _ = RealmSplit::decode(&data);
        let _ = Motd::decode(&data);
        let _ = InitWorldStates::decode(&data);
        let _ = LevelupInfo::decode(&data);
        let _ = CharCreate::decode(&data);
        let _ = CharRename::decode(&data);
        let _ = CharRenameResult::decode(&data);
        let _ = TransferPending::decode(&data);
        let _ = TransferAborted::decode(&data);
        let _ = NewWorld::decode(&data);
        let _ = AddonInfo::decode(&data, count);
        let _ = UpdateObject::decode(&data);
        let _ = CompressedUpdateObject::decode(&data, 1 << 16);
        let _ = AuthResponse::decode(&data);
        let _ = AuthChallenge::decode(&data);
        let _ = AuthSession::decode(Bytes::from(data.clone()));
        let _ = AddonList::decode_block(&data, 1 << 16);
    }
}
