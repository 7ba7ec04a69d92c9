//! Property tests of every typed packet body in `wire::packets`, `wire::update` and
//! `wire::auth`:
//!
//! - round trip: `decode(encode(x)) == x` for values that agree with their own flags;
//! - exactness: no strict prefix of an encoding decodes to the value, so the decoder needs (and
//!   uses) every byte the encoder wrote;
//! - robustness: arbitrary bytes, truncated encodings and encodings with one corrupted byte give
//!   an error or a value, never a panic.
//!
//! Each codec gets the same four properties from [`codec_props!`]; the generators below only
//! describe valid values.

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::string::string_regex;
use waygate::wire::DecodeError;
use waygate::wire::auth::{
    ACCOUNT_NAME_MAX_BYTES, ADDON_INFLATED_MAX_BYTES, ADDON_NAME_MAX_BYTES, Addon, AddonList,
    AuthChallenge, AuthResponse, AuthResult, AuthSession, AuthSessionFields, Billing, CLIENT_BUILD,
};
use waygate::wire::packets::*;
use waygate::wire::update::{
    CompressedUpdateObject, LivingMovement, MovementBlock, Placement, SPLINE_POINTS_MAX, Spline,
    SplineFacing, TYPEID_PLAYER, TYPEID_UNIT, TransportInfo, TransportPosition,
    UPDATE_INFLATED_MAX_BYTES, UpdateBlock, UpdateMask, UpdateObject, move_flags, spline_flags,
    update_flags,
};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

// ---------------------------------------------------------------------------------------------
// The codecs under test, behind one interface.
// ---------------------------------------------------------------------------------------------

/// A packet body codec: how a value is encoded and how a body is decoded back.
trait BodyCodec: Sized + PartialEq + Debug {
    /// What the decoder needs besides the body (the addon count for SMSG_ADDON_INFO).
    type Context: Copy + Debug;

    /// The context that decodes this value's encoding.
    fn context(&self) -> Self::Context;

    /// Contexts to decode arbitrary bytes with.
    fn fuzz_context() -> BoxedStrategy<Self::Context>;

    fn encode_body(&self) -> Bytes;

    fn decode_body(body: &[u8], context: Self::Context) -> Result<Self, DecodeError>;
}

/// Implements [`BodyCodec`] for packets without out-of-band context.
macro_rules! body_codec {
    ($ty:ty, |$value:ident| $encode:expr, |$body:ident| $decode:expr) => {
        impl BodyCodec for $ty {
            type Context = ();

            fn context(&self) {}

            fn fuzz_context() -> BoxedStrategy<()> {
                Just(()).boxed()
            }

            fn encode_body(&self) -> Bytes {
                let $value = self;
                $encode
            }

            fn decode_body($body: &[u8], _: ()) -> Result<Self, DecodeError> {
                $decode
            }
        }
    };
}

macro_rules! wire_packet_codecs {
    ($($ty:ty),* $(,)?) => {$(
        body_codec!($ty, |p| p.to_body(), |body| <$ty as WirePacket>::decode(body));
    )*};
}

wire_packet_codecs!(
    CharCreateResult,
    CharDelete,
    CharDeleteResult,
    PlayerLogin,
    Pong,
    TimeSyncReq,
    RealmSplitRequest,
    NameQuery,
    ReadyForRedirect,
    ClientCacheVersion,
    CharacterLoginFailed,
    LoginVerifyWorld,
    NewWorld,
    TransferPending,
    TransferAborted,
    LogoutResponse,
    Ping,
    TimeSyncResp,
    AccountDataTimes,
    RealmSplit,
    NameQueryResponse,
    Motd,
    InitWorldStates,
    LevelupInfo,
    TutorialFlags,
    CharCreate,
    CharRename,
    CharRenameResult,
    CharEnum,
    SystemMessage,
    UpdateObject,
);

body_codec!(
    AuthChallenge,
    |c| encoded_with(|out| c.encode(out)),
    |body| AuthChallenge::decode(body)
);
body_codec!(
    AuthResponse,
    |r| encoded_with(|out| r.encode(out)),
    |body| AuthResponse::decode(body)
);
body_codec!(AddonList, |l| l.encode_block(), |body| {
    AddonList::decode_block(body, ADDON_INFLATED_MAX_BYTES)
});
body_codec!(
    CompressedUpdateObject,
    |u| encoded_with(|out| u.encode(out)),
    |body| CompressedUpdateObject::decode(body, UPDATE_INFLATED_MAX_BYTES)
);
// The session is rebuilt from the fields a client chooses; everything else, `raw` included,
// must come out of the decoder as the generator predicted.
body_codec!(
    AuthSession,
    |s| AuthSession::encode(&AuthSessionFields {
        account: s.account.clone(),
        client_seed: s.client_seed,
        realm_id: s.realm_id,
        digest: s.digest,
        addon_block: s.addon_block.clone(),
    }),
    |body| AuthSession::decode(Bytes::copy_from_slice(body))
);

impl BodyCodec for AddonInfo {
    type Context = usize;

    fn context(&self) -> usize {
        self.answers.len()
    }

    fn fuzz_context() -> BoxedStrategy<usize> {
        prop_oneof![4 => 0usize..8, 1 => any::<usize>()].boxed()
    }

    fn encode_body(&self) -> Bytes {
        encoded_with(|out| self.encode(out))
    }

    fn decode_body(body: &[u8], addon_count: usize) -> Result<Self, DecodeError> {
        AddonInfo::decode(body, addon_count)
    }
}

fn encoded_with(encode: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut out = BytesMut::new();
    encode(&mut out);
    out.freeze()
}

// ---------------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------------

fn decode_failure(body: &[u8], e: DecodeError) -> TestCaseError {
    TestCaseError::fail(format!(
        "decoding a valid {}-byte body failed: {e}",
        body.len()
    ))
}

fn check_round_trip<C: BodyCodec>(value: &C) -> Result<(), TestCaseError> {
    let body = value.encode_body();
    let decoded = C::decode_body(&body, value.context()).map_err(|e| decode_failure(&body, e))?;
    prop_assert_eq!(&decoded, value);
    Ok(())
}

/// A strict prefix (possibly empty) of a valid encoding decodes to an error or to another value.
fn check_truncated<C: BodyCodec>(value: &C, cut: Index) -> Result<(), TestCaseError> {
    let body = value.encode_body();
    prop_assume!(!body.is_empty());
    let cut = cut.index(body.len());
    if let Ok(decoded) = C::decode_body(&body[..cut], value.context()) {
        prop_assert_ne!(
            &decoded,
            value,
            "the first {} of {} bytes decode to the whole value",
            cut,
            body.len()
        );
    }
    Ok(())
}

/// A valid encoding with one byte changed decodes to something or fails, without panicking.
fn check_corrupted<C: BodyCodec>(value: &C, at: Index, xor: u8) {
    let mut body = value.encode_body().to_vec();
    if body.is_empty() {
        return;
    }
    let at = at.index(body.len());
    body[at] ^= xor;
    let _ = C::decode_body(&body, value.context());
}

fn arbitrary_body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..512)
}

/// The four properties for each codec, in a module named after it.
macro_rules! codec_props {
    ($($module:ident: $ty:ty = $strategy:expr;)*) => {$(
        mod $module {
            use super::*;

            proptest! {
                #![proptest_config(config())]

                #[test]
                fn round_trip(value in $strategy) {
                    check_round_trip::<$ty>(&value)?;
                }

                #[test]
                fn truncated_encoding_is_rejected_or_differs(
                    value in $strategy,
                    cut in any::<Index>(),
                ) {
                    check_truncated::<$ty>(&value, cut)?;
                }

                #[test]
                fn corrupted_encoding_never_panics(
                    value in $strategy,
                    at in any::<Index>(),
                    xor in 1u8..,
                ) {
                    check_corrupted::<$ty>(&value, at, xor);
                }

                #[test]
                fn arbitrary_bytes_never_panic(
                    body in arbitrary_body(),
                    context in <$ty as BodyCodec>::fuzz_context(),
                ) {
                    let _ = <$ty as BodyCodec>::decode_body(&body, context);
                }
            }
        }
    )*};
}

// ---------------------------------------------------------------------------------------------
// Generators shared by several packets.
// ---------------------------------------------------------------------------------------------

/// A finite coordinate, speed or angle.
fn float() -> impl Strategy<Value = f32> {
    -1.0e6f32..1.0e6f32
}

fn point() -> impl Strategy<Value = [f32; 3]> {
    prop::array::uniform(float())
}

fn position() -> impl Strategy<Value = Position> {
    prop::array::uniform::<_, 4>(float()).prop_map(|[x, y, z, orientation]| Position {
        x,
        y,
        z,
        orientation,
    })
}

fn map_position() -> impl Strategy<Value = MapPosition> {
    (any::<u32>(), position()).prop_map(|(map, position)| MapPosition { map, position })
}

/// A guid with any subset of its bytes zero, so packed guids take every mask.
fn guid() -> impl Strategy<Value = u64> {
    (any::<u64>(), any::<u8>()).prop_map(|(guid, kept)| {
        let mut bytes = guid.to_le_bytes();
        for (i, b) in bytes.iter_mut().enumerate() {
            if kept & (1 << i) == 0 {
                *b = 0;
            }
        }
        u64::from_le_bytes(bytes)
    })
}

fn guid_list() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(guid(), 0..8)
}

/// Cuts `s` to at most `max_bytes` bytes on a character boundary.
fn truncate_to(mut s: String, max_bytes: usize) -> String {
    let mut end = s.len().min(max_bytes);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

/// Printable text without NUL of at most `max_bytes` bytes: short ASCII or non-control
/// Unicode, or text filling the cap up to a few bytes and ending in any such characters (cut
/// to the cap on a character boundary). Long strings repeat one character, which keeps the
/// generator fast in debug builds.
fn text(max_bytes: usize) -> impl Strategy<Value = String> {
    let short = |pattern: &str| {
        string_regex(pattern)
            .expect("valid regex")
            .prop_map(move |s| truncate_to(s, max_bytes))
    };
    let near_cap = (prop::char::range(' ', '~'), 0..8usize, short("\\PC{0,4}")).prop_map(
        move |(fill, slack, tail)| {
            let head = String::from(fill).repeat(max_bytes.saturating_sub(slack));
            truncate_to(head + &tail, max_bytes)
        },
    );
    prop_oneof![
        2 => short("[ -~]{0,24}"),
        2 => short("\\PC{0,24}"),
        2 => near_cap,
    ]
}

/// `Some(value)` exactly when `present`.
fn present_if<S>(present: bool, strategy: S) -> BoxedStrategy<Option<S::Value>>
where
    S: Strategy + 'static,
    S::Value: Clone,
{
    if present {
        strategy.prop_map(Some).boxed()
    } else {
        Just(None).boxed()
    }
}

// ---------------------------------------------------------------------------------------------
// Generators of `wire::packets`.
// ---------------------------------------------------------------------------------------------

fn login_failure() -> impl Strategy<Value = LoginFailure> {
    let known = prop::sample::select(vec![
        LoginFailure::WORLD_UNAVAILABLE,
        LoginFailure::OFFLINE_CONFLICT,
        LoginFailure::IN_PROGRESS,
        LoginFailure::NO_WORLD,
        LoginFailure::DUPLICATE_CHARACTER,
        LoginFailure::NO_INSTANCES,
        LoginFailure::FAILED,
        LoginFailure::DISABLED,
        LoginFailure::NO_CHARACTER,
        LoginFailure::LOCKED_FOR_TRANSFER,
    ]);
    prop_oneof![known, any::<u8>().prop_map(LoginFailure)]
}

fn transfer_pending() -> impl Strategy<Value = TransferPending> {
    (any::<u32>(), any::<Option<(u32, u32)>>())
        .prop_map(|(map, transport)| TransferPending { map, transport })
}

fn transfer_aborted() -> impl Strategy<Value = TransferAborted> {
    any::<(u32, u8, Option<u8>)>().prop_map(|(map, reason, arg)| TransferAborted {
        map,
        reason,
        arg,
    })
}

/// Slots outside the mask are zero: they do not go on the wire.
fn account_data_times() -> impl Strategy<Value = AccountDataTimes> {
    any::<(u32, u8, [u32; ACCOUNT_DATA_SLOTS])>().prop_map(|(unix_time, mask, mut times)| {
        for (slot, time) in times.iter_mut().enumerate() {
            if mask & (1 << slot) == 0 {
                *time = 0;
            }
        }
        AccountDataTimes {
            unix_time,
            mask,
            times,
        }
    })
}

fn realm_split() -> impl Strategy<Value = RealmSplit> {
    (any::<(u32, u32)>(), text(SHORT_TEXT_MAX_BYTES)).prop_map(|((decision, state), date)| {
        RealmSplit {
            decision,
            state,
            date,
        }
    })
}

fn name() -> impl Strategy<Value = String> {
    text(NAME_MAX_BYTES)
}

fn name_query_response() -> impl Strategy<Value = NameQueryResponse> {
    let declined = prop::option::of(prop::array::uniform::<_, 5>(name()).prop_map(Box::new));
    let found = (guid(), name(), name(), any::<[u8; 3]>(), declined).prop_map(
        |(guid, name, realm, [race, gender, class], declined)| NameQueryResponse::Found {
            guid,
            name,
            realm,
            race,
            gender,
            class,
            declined,
        },
    );
    prop_oneof![
        guid().prop_map(|guid| NameQueryResponse::NotFound { guid }),
        found
    ]
}

fn motd() -> impl Strategy<Value = Motd> {
    prop::collection::vec(text(MOTD_LINE_MAX_BYTES), 0..4).prop_map(|lines| Motd { lines })
}

fn init_world_states() -> impl Strategy<Value = InitWorldStates> {
    (
        any::<[u32; 3]>(),
        prop::collection::vec(any::<(u32, u32)>(), 0..32),
    )
        .prop_map(|([map, zone, area], states)| InitWorldStates {
            map,
            zone,
            area,
            states,
        })
}

fn levelup_info() -> impl Strategy<Value = LevelupInfo> {
    any::<(u32, u32, [u32; MAX_POWERS], [u32; MAX_STATS])>().prop_map(
        |(level, health_gain, power_gains, stat_gains)| LevelupInfo {
            level,
            health_gain,
            power_gains,
            stat_gains,
        },
    )
}

fn char_create() -> impl Strategy<Value = CharCreate> {
    (name(), any::<[u8; 9]>()).prop_map(|(name, appearance)| CharCreate { name, appearance })
}

fn char_rename() -> impl Strategy<Value = CharRename> {
    (guid(), name()).prop_map(|(guid, name)| CharRename { guid, name })
}

/// Only RESPONSE_SUCCESS carries the guid and the name; any other code travels alone.
fn char_rename_result() -> impl Strategy<Value = CharRenameResult> {
    prop_oneof![
        (guid(), name()).prop_map(|(guid, name)| CharRenameResult::Renamed { guid, name }),
        (1u8..=255).prop_map(CharRenameResult::Refused),
    ]
}

fn enum_equipment() -> impl Strategy<Value = EnumEquipment> {
    any::<(u32, u8, u32)>().prop_map(|(display_id, inventory_type, enchant_aura)| EnumEquipment {
        display_id,
        inventory_type,
        enchant_aura,
    })
}

fn enum_character() -> impl Strategy<Value = EnumCharacter> {
    (
        (guid(), name(), any::<[u8; 9]>()),
        (any::<[u32; 2]>(), point()),
        any::<([u32; 3], u8, [u32; 3])>(),
        prop::array::uniform::<_, CHAR_ENUM_EQUIPMENT_SLOTS>(enum_equipment()),
    )
        .prop_map(
            |(
                (guid, name, appearance),
                ([zone, map], [x, y, z]),
                ([guild_id, char_flags, customize_flags], first_login, pet),
                equipment,
            )| {
                let [
                    race,
                    class,
                    gender,
                    skin,
                    face,
                    hair_style,
                    hair_color,
                    facial_hair,
                    level,
                ] = appearance;
                let [pet_display, pet_level, pet_family] = pet;
                EnumCharacter {
                    guid,
                    name,
                    race,
                    class,
                    gender,
                    skin,
                    face,
                    hair_style,
                    hair_color,
                    facial_hair,
                    level,
                    zone,
                    map,
                    x,
                    y,
                    z,
                    guild_id,
                    char_flags,
                    customize_flags,
                    first_login,
                    pet_display,
                    pet_level,
                    pet_family,
                    equipment,
                }
            },
        )
}

fn char_enum() -> impl Strategy<Value = CharEnum> {
    prop::collection::vec(enum_character(), 0..4).prop_map(|characters| CharEnum { characters })
}

fn public_key() -> impl Strategy<Value = Box<[u8; 256]>> {
    prop::collection::vec(any::<u8>(), 256).prop_map(|key| {
        key.into_boxed_slice()
            .try_into()
            .expect("the vector has 256 bytes")
    })
}

/// The key and the unknown field go on the wire only when the CRC was checked.
fn addon_answer() -> impl Strategy<Value = AddonAnswer> {
    (
        any::<(u8, bool)>(),
        prop::option::of(text(MOTD_LINE_MAX_BYTES)),
    )
        .prop_flat_map(|((state, crc_checked), url)| {
            let checked = present_if(crc_checked, (prop::option::of(public_key()), any::<u32>()));
            checked.prop_map(move |checked| {
                let (public_key, unknown) = checked.unwrap_or((None, 0));
                AddonAnswer {
                    state,
                    crc_checked,
                    public_key,
                    unknown,
                    url: url.clone(),
                }
            })
        })
}

fn addon_info() -> impl Strategy<Value = AddonInfo> {
    prop::collection::vec(addon_answer(), 0..6).prop_map(|answers| AddonInfo { answers })
}

// ---------------------------------------------------------------------------------------------
// Generators of `wire::update`.
// ---------------------------------------------------------------------------------------------

/// Indices ascending, unique and below `block_count * 32`; some masks are wider than needed.
fn update_mask() -> impl Strategy<Value = UpdateMask> {
    prop_oneof![3 => 0u8..=6, 1 => any::<u8>()].prop_flat_map(|block_count| {
        let bits = u16::from(block_count) * 32;
        let most = usize::from(bits).min(48);
        prop::collection::btree_map(0..bits.max(1), any::<u32>(), 0..=most).prop_map(
            move |values| UpdateMask {
                block_count,
                values: values.into_iter().collect(),
            },
        )
    })
}

const SPLINE_FACING_BITS: u32 =
    spline_flags::FINAL_POINT | spline_flags::FINAL_TARGET | spline_flags::FINAL_ANGLE;

fn spline_facing() -> impl Strategy<Value = SplineFacing> {
    prop_oneof![
        Just(SplineFacing::None),
        float().prop_map(SplineFacing::Angle),
        any::<u64>().prop_map(SplineFacing::Target),
        point().prop_map(SplineFacing::Point),
    ]
}

/// The spline flag bit that announces `facing`.
fn facing_bit(facing: &SplineFacing) -> u32 {
    match facing {
        SplineFacing::None => 0,
        SplineFacing::Angle(_) => spline_flags::FINAL_ANGLE,
        SplineFacing::Target(_) => spline_flags::FINAL_TARGET,
        SplineFacing::Point(_) => spline_flags::FINAL_POINT,
    }
}

fn spline_points() -> impl Strategy<Value = Vec<[f32; 3]>> {
    prop_oneof![
        8 => prop::collection::vec(point(), 0..8),
        1 => prop::collection::vec(point(), SPLINE_POINTS_MAX - 2..=SPLINE_POINTS_MAX),
    ]
}

/// The facing bits of `flags` are exactly the one `facing` needs.
fn spline() -> impl Strategy<Value = Spline> {
    (
        (any::<u32>(), spline_facing()),
        any::<[u32; 3]>(),
        prop::array::uniform::<_, 3>(float()),
        any::<u32>(),
        spline_points(),
        any::<u8>(),
        point(),
    )
        .prop_map(
            |(
                (flags, facing),
                [time_passed, duration, id],
                [duration_mod, duration_mod_next, vertical_accel],
                effect_start_time,
                points,
                mode,
                destination,
            )| Spline {
                flags: (flags & !SPLINE_FACING_BITS) | facing_bit(&facing),
                facing,
                time_passed,
                duration,
                id,
                duration_mod,
                duration_mod_next,
                vertical_accel,
                effect_start_time,
                points,
                mode,
                destination,
            },
        )
}

/// `time2` is present exactly when flags2 has interpolated movement.
fn transport_info(interpolated: bool) -> impl Strategy<Value = TransportInfo> {
    (
        guid(),
        position(),
        any::<(u32, u8)>(),
        present_if(interpolated, any::<u32>()),
    )
        .prop_map(|(guid, offset, (time, seat), time2)| TransportInfo {
            guid,
            offset,
            time,
            seat,
            time2,
        })
}

/// Every optional part is present exactly when its movement flag asks for it.
fn living_movement() -> impl Strategy<Value = LivingMovement> {
    use move_flags as mf;
    any::<(u32, u16)>().prop_flat_map(|(move_flags, move_flags2)| {
        let has = |bit: u32| move_flags & bit != 0;
        let pitched =
            has(mf::SWIMMING | mf::FLYING) || move_flags2 & mf::FLAGS2_ALWAYS_ALLOW_PITCHING != 0;
        let interpolated = move_flags2 & mf::FLAGS2_INTERPOLATED_MOVEMENT != 0;
        (
            (any::<u32>(), position()),
            present_if(has(mf::ON_TRANSPORT), transport_info(interpolated)),
            present_if(pitched, float()),
            any::<u32>(),
            present_if(has(mf::FALLING), prop::array::uniform::<_, 4>(float())),
            present_if(has(mf::SPLINE_ELEVATION), float()),
            prop::array::uniform::<_, 9>(float()),
            present_if(has(mf::SPLINE_ENABLED), spline().prop_map(Box::new)),
        )
            .prop_map(
                move |(
                    (time, position),
                    transport,
                    pitch,
                    fall_time,
                    jump,
                    spline_elevation,
                    speeds,
                    spline,
                )| LivingMovement {
                    move_flags,
                    move_flags2,
                    time,
                    position,
                    transport,
                    pitch,
                    fall_time,
                    jump,
                    spline_elevation,
                    speeds,
                    spline,
                },
            )
    })
}

fn transport_position() -> impl Strategy<Value = TransportPosition> {
    (guid(), point(), point(), float(), float()).prop_map(
        |(transport_guid, position, transport_offset, orientation, transport_orientation)| {
            TransportPosition {
                transport_guid,
                position,
                transport_offset,
                orientation,
                transport_orientation,
            }
        },
    )
}

/// The placement the update flags select: LIVING over POSITION over STATIONARY_POSITION.
fn placement(flags: u16) -> BoxedStrategy<Placement> {
    use update_flags as uf;
    if flags & uf::LIVING != 0 {
        living_movement()
            .prop_map(|l| Placement::Living(Box::new(l)))
            .boxed()
    } else if flags & uf::POSITION != 0 {
        transport_position().prop_map(Placement::Transport).boxed()
    } else if flags & uf::STATIONARY_POSITION != 0 {
        position().prop_map(Placement::Stationary).boxed()
    } else {
        Just(Placement::None).boxed()
    }
}

/// Every optional field is present exactly when its update flag is set; unknown bits ride along.
fn movement_block() -> impl Strategy<Value = MovementBlock> {
    use update_flags as uf;
    any::<u16>().prop_flat_map(|flags| {
        let has = |bit: u16| flags & bit != 0;
        (
            placement(flags),
            present_if(has(uf::LOWGUID), any::<u32>()),
            present_if(has(uf::HIGHGUID), any::<u32>()),
            present_if(has(uf::HAS_TARGET), guid()),
            present_if(has(uf::TRANSPORT), any::<u32>()),
            present_if(has(uf::VEHICLE), (any::<u32>(), float())),
            present_if(has(uf::ROTATION), any::<u64>()),
        )
            .prop_map(
                move |(
                    placement,
                    low_guid,
                    high_guid,
                    target,
                    transport_time,
                    vehicle,
                    rotation,
                )| {
                    MovementBlock {
                        flags,
                        placement,
                        low_guid,
                        high_guid,
                        target,
                        transport_time,
                        vehicle,
                        rotation,
                    }
                },
            )
    })
}

fn update_block() -> impl Strategy<Value = UpdateBlock> {
    let type_id = prop_oneof![Just(TYPEID_UNIT), Just(TYPEID_PLAYER), any::<u8>()];
    prop_oneof![
        (guid(), update_mask()).prop_map(|(guid, mask)| UpdateBlock::Values { guid, mask }),
        (guid(), movement_block()).prop_map(|(guid, movement)| UpdateBlock::Movement {
            guid,
            movement: Box::new(movement),
        }),
        (2u8..=3, guid(), type_id, movement_block(), update_mask()).prop_map(
            |(kind, guid, type_id, movement, mask)| UpdateBlock::Create {
                kind,
                guid,
                type_id,
                movement: Box::new(movement),
                mask,
            }
        ),
        guid_list().prop_map(UpdateBlock::OutOfRange),
        guid_list().prop_map(UpdateBlock::NearObjects),
    ]
}

fn update_object() -> impl Strategy<Value = UpdateObject> {
    prop::collection::vec(update_block(), 0..6).prop_map(|blocks| UpdateObject { blocks })
}

// ---------------------------------------------------------------------------------------------
// Generators of `wire::auth`.
// ---------------------------------------------------------------------------------------------

fn auth_challenge() -> impl Strategy<Value = AuthChallenge> {
    any::<(u32, [u8; 32])>().prop_map(|(server_seed, seed_bytes)| AuthChallenge {
        server_seed,
        seed_bytes,
    })
}

fn billing() -> impl Strategy<Value = Billing> {
    any::<(u32, u8, u32, u8)>().prop_map(|(time, flags, rested, expansion)| Billing {
        time,
        flags,
        rested,
        expansion,
    })
}

fn auth_response() -> impl Strategy<Value = AuthResponse> {
    prop_oneof![
        billing().prop_map(AuthResponse::Ok),
        (billing(), any::<(u32, u8)>()).prop_map(|(billing, (position, free_migration))| {
            AuthResponse::Queued {
                billing,
                position,
                free_migration,
            }
        }),
        any::<u32>().prop_map(|position| AuthResponse::QueueUpdate { position }),
        prop::sample::select(AuthResult::FAILURES.to_vec()).prop_map(AuthResponse::Failed),
    ]
}

fn addon() -> impl Strategy<Value = Addon> {
    (text(ADDON_NAME_MAX_BYTES), any::<(u8, u32, u32)>()).prop_map(
        |(name, (enabled, crc, unknown))| Addon {
            name,
            enabled,
            crc,
            unknown,
        },
    )
}

/// `time` is always present: an encoded block always carries it (see `known_bugs`).
fn addon_list() -> impl Strategy<Value = AddonList> {
    (prop::collection::vec(addon(), 0..8), any::<u32>()).prop_map(|(addons, time)| AddonList {
        addons,
        time: Some(time),
    })
}

/// An addon block as a stock client builds it, or bytes the session parser keeps unread.
fn addon_block() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        addon_list().prop_map(|l| l.encode_block()),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from),
    ]
}

/// The session the decoder must report for a body built from client-chosen fields.
fn auth_session() -> impl Strategy<Value = AuthSession> {
    (
        text(ACCOUNT_NAME_MAX_BYTES),
        any::<(u32, u32, [u8; 20])>(),
        addon_block(),
    )
        .prop_map(|(account, (client_seed, realm_id, digest), addon_block)| {
            let fields = AuthSessionFields {
                account,
                client_seed,
                realm_id,
                digest,
                addon_block,
            };
            AuthSession {
                build: CLIENT_BUILD,
                login_server_id: 0,
                account: fields.account.clone(),
                login_server_type: 0,
                client_seed,
                region_id: 0,
                battlegroup_id: 0,
                realm_id,
                dos_response: 0,
                digest,
                addon_block: fields.addon_block.clone(),
                raw: AuthSession::encode(&fields),
            }
        })
}

// ---------------------------------------------------------------------------------------------
// One module of four properties per codec.
// ---------------------------------------------------------------------------------------------

codec_props! {
    char_create_result: CharCreateResult =
        any::<u8>().prop_map(|result| CharCreateResult { result });
    char_delete: CharDelete = guid().prop_map(|guid| CharDelete { guid });
    char_delete_result: CharDeleteResult =
        any::<u8>().prop_map(|result| CharDeleteResult { result });
    player_login: PlayerLogin = guid().prop_map(|guid| PlayerLogin { guid });
    pong: Pong = any::<u32>().prop_map(|seq| Pong { seq });
    time_sync_req: TimeSyncReq = any::<u32>().prop_map(|counter| TimeSyncReq { counter });
    realm_split_request: RealmSplitRequest =
        any::<u32>().prop_map(|decision| RealmSplitRequest { decision });
    name_query: NameQuery = guid().prop_map(|guid| NameQuery { guid });
    ready_for_redirect: ReadyForRedirect =
        any::<u8>().prop_map(|status| ReadyForRedirect { status });
    client_cache_version: ClientCacheVersion =
        any::<u32>().prop_map(|version| ClientCacheVersion { version });
    character_login_failed: CharacterLoginFailed =
        login_failure().prop_map(|reason| CharacterLoginFailed { reason });
    login_verify_world: LoginVerifyWorld = map_position().prop_map(LoginVerifyWorld);
    new_world: NewWorld = map_position().prop_map(NewWorld);
    transfer_pending: TransferPending = transfer_pending();
    transfer_aborted: TransferAborted = transfer_aborted();
    logout_response: LogoutResponse = any::<(u32, bool)>()
        .prop_map(|(result, instant)| LogoutResponse { result, instant });
    ping: Ping = any::<(u32, u32)>().prop_map(|(seq, latency_ms)| Ping { seq, latency_ms });
    time_sync_resp: TimeSyncResp = any::<(u32, u32)>()
        .prop_map(|(counter, client_ticks_ms)| TimeSyncResp { counter, client_ticks_ms });
    account_data_times: AccountDataTimes = account_data_times();
    realm_split: RealmSplit = realm_split();
    name_query_response: NameQueryResponse = name_query_response();
    motd: Motd = motd();
    init_world_states: InitWorldStates = init_world_states();
    levelup_info: LevelupInfo = levelup_info();
    tutorial_flags: TutorialFlags = any::<[u32; 8]>().prop_map(|words| TutorialFlags { words });
    char_create: CharCreate = char_create();
    char_rename: CharRename = char_rename();
    char_rename_result: CharRenameResult = char_rename_result();
    char_enum: CharEnum = char_enum();
    system_message: SystemMessage =
        text(CHAT_TEXT_MAX_BYTES).prop_map(|text| SystemMessage { text });
    addon_info: AddonInfo = addon_info();
    update_object: UpdateObject = update_object();
    compressed_update_object: CompressedUpdateObject =
        update_object().prop_map(CompressedUpdateObject);
    auth_challenge: AuthChallenge = auth_challenge();
    auth_response: AuthResponse = auth_response();
    addon_list: AddonList = addon_list();
    auth_session: AuthSession = auth_session();
}

// ---------------------------------------------------------------------------------------------
// Properties specific to one packet.
// ---------------------------------------------------------------------------------------------

/// Bodies of the packets that carry nothing: empty, and any body decodes (trailing bytes are
/// ignored, as the worldserver does).
fn check_empty_packet<P: WirePacket + PartialEq + Debug + Default>(
    body: &[u8],
) -> Result<(), TestCaseError> {
    let value = P::default();
    prop_assert!(value.to_body().is_empty());
    prop_assert_eq!(P::decode(&[]).ok(), Some(P::default()));
    prop_assert_eq!(P::decode(body).ok(), Some(value));
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn empty_packets_have_empty_bodies_and_accept_any(body in arbitrary_body()) {
        check_empty_packet::<CharEnumRequest>(&body)?;
        check_empty_packet::<WorldportAck>(&body)?;
        check_empty_packet::<LogoutRequest>(&body)?;
        check_empty_packet::<LogoutComplete>(&body)?;
        check_empty_packet::<ReadyForAccountDataTimes>(&body)?;
        check_empty_packet::<PrepareForRedirect>(&body)?;
    }

    #[test]
    fn auth_challenge_body_has_its_fixed_length(challenge in auth_challenge()) {
        prop_assert_eq!(challenge.encode_body().len(), AuthChallenge::BODY_LEN);
    }

    #[test]
    fn auth_session_addon_block_parses_back(list in addon_list(), session in auth_session()) {
        let body = AuthSession::encode(&AuthSessionFields {
            account: session.account,
            client_seed: session.client_seed,
            realm_id: session.realm_id,
            digest: session.digest,
            addon_block: list.encode_block(),
        });
        let session = AuthSession::decode(body.clone()).map_err(|e| decode_failure(&body, e))?;
        prop_assert_eq!(session.addons(ADDON_INFLATED_MAX_BYTES).ok(), Some(list));
    }

    #[test]
    fn decoded_auth_session_keeps_the_body(body in arbitrary_body()) {
        let body = Bytes::from(body);
        if let Ok(session) = AuthSession::decode(body.clone()) {
            prop_assert_eq!(&session.raw, &body);
            prop_assert!(body.ends_with(&session.addon_block));
            let _ = session.addons(ADDON_INFLATED_MAX_BYTES);
        }
    }

    #[test]
    fn addon_block_over_the_inflate_cap_is_refused(list in addon_list()) {
        let block = list.encode_block();
        let inflated = u32::from_le_bytes([block[0], block[1], block[2], block[3]]) as usize;
        let refused = AddonList::decode_block(&block, inflated - 1);
        prop_assert!(matches!(refused, Err(DecodeError::TooLarge { .. })), "{:?}", refused);
        prop_assert_eq!(AddonList::decode_block(&block, inflated).ok(), Some(list));
    }

    /// Any inflated content, correctly compressed, reaches the addon parser.
    #[test]
    fn arbitrary_inflated_addon_block_never_panics(inflated in arbitrary_body()) {
        let mut block = (inflated.len() as u32).to_le_bytes().to_vec();
        block.extend(miniz_oxide::deflate::compress_to_vec_zlib(&inflated, 6));
        let _ = AddonList::decode_block(&block, ADDON_INFLATED_MAX_BYTES);
    }

    #[test]
    fn compressed_update_over_the_inflate_cap_is_refused(update in update_object()) {
        let inflated = update.to_body().len();
        let body = CompressedUpdateObject(update).encode_body();
        let refused = CompressedUpdateObject::decode(&body, inflated - 1);
        prop_assert!(matches!(refused, Err(DecodeError::TooLarge { .. })), "{:?}", refused);
    }

    /// Any inflated content, correctly compressed, reaches the update parser.
    #[test]
    fn arbitrary_compressed_update_never_panics(inflated in arbitrary_body()) {
        let body = CompressedUpdateObject::compress(&inflated);
        let _ = CompressedUpdateObject::decode(&body, UPDATE_INFLATED_MAX_BYTES);
    }
}

#[test]
fn every_auth_response_code_round_trips() {
    let responses = AuthResult::FAILURES
        .into_iter()
        .map(AuthResponse::Failed)
        .chain([
            AuthResponse::ok(),
            AuthResponse::Queued {
                billing: Billing::default(),
                position: 5,
                free_migration: 0,
            },
            AuthResponse::QueueUpdate { position: 5 },
        ]);
    for response in responses {
        let body = response.encode_body();
        assert_eq!(
            AuthResponse::decode(&body),
            Ok(response),
            "body {body:02x?}"
        );
    }
}

/// Regression tests for two bugs these properties found in `src/wire` (both fixed): minimal
/// reproductions, named after the bug.
mod known_bugs {
    use super::*;

    /// `encode_block` writes a time of 0 for `time: None`, so the block decodes with
    /// `Some(0)`; `AddonList::default()` is the smallest case.
    #[test]
    fn addon_list_without_time_round_trips() {
        let list = AddonList::default();
        let block = list.encode_block();
        assert_eq!(
            AddonList::decode_block(&block, ADDON_INFLATED_MAX_BYTES),
            Ok(list)
        );
    }

    /// The encoder cuts over-long text at `CHAT_TEXT_MAX_BYTES` bytes, which can split a
    /// character; the body it writes is then not UTF-8 and its own decoder refuses it.
    #[test]
    fn over_long_system_message_stays_decodable() {
        let message = SystemMessage {
            text: "a".repeat(CHAT_TEXT_MAX_BYTES - 1) + "é",
        };
        let decoded = SystemMessage::decode(&message.to_body()).map(|m| m.text.len());
        assert_eq!(decoded, Ok(CHAT_TEXT_MAX_BYTES - 1));
    }
}

// ---------------------------------------------------------------------------------------------
// Chat: CMSG_MESSAGECHAT, SMSG_MESSAGECHAT of the player types, SMSG_CHAT_PLAYER_NOT_FOUND.
// ---------------------------------------------------------------------------------------------

wire_packet_codecs!(ClientChat, ChatMessage, ChatPlayerNotFound);

/// Any chat type, WHISPER and CHANNEL often; the target is the one the type carries.
fn client_chat() -> impl Strategy<Value = ClientChat> {
    let kind = prop_oneof![
        2 => Just(u32::from(chat_type::WHISPER)),
        2 => Just(u32::from(chat_type::CHANNEL)),
        1 => prop::sample::select(chat_type::PLAYER.to_vec()).prop_map(u32::from),
        1 => any::<u32>(),
    ];
    kind.prop_flat_map(|kind| {
        let target = if kind == u32::from(chat_type::WHISPER) {
            name().prop_map(ChatTarget::Whisper).boxed()
        } else if kind == u32::from(chat_type::CHANNEL) {
            text(CHANNEL_NAME_MAX_BYTES)
                .prop_map(ChatTarget::Channel)
                .boxed()
        } else {
            Just(ChatTarget::None).boxed()
        };
        (any::<u32>(), target, text(CHAT_TEXT_MAX_BYTES)).prop_map(
            move |(language, target, message)| ClientChat {
                kind,
                language,
                target,
                message,
            },
        )
    })
}

/// A player chat type; the channel is present exactly for CHANNEL.
fn chat_message() -> impl Strategy<Value = ChatMessage> {
    prop::sample::select(chat_type::PLAYER.to_vec()).prop_flat_map(|kind| {
        (
            any::<u32>(),
            guid(),
            present_if(kind == chat_type::CHANNEL, text(CHANNEL_NAME_MAX_BYTES)),
            guid(),
            text(CHAT_TEXT_MAX_BYTES),
            any::<u8>(),
        )
            .prop_map(move |(language, sender, channel, receiver, message, tag)| {
                ChatMessage {
                    kind,
                    language,
                    sender,
                    channel,
                    receiver,
                    message,
                    tag,
                }
            })
    })
}

codec_props! {
    client_chat: ClientChat = client_chat();
    chat_message: ChatMessage = chat_message();
    chat_player_not_found: ChatPlayerNotFound =
        name().prop_map(|name| ChatPlayerNotFound { name });
}

/// Text the encoders must cut: any string (NULs included), or text running past the cap and
/// ending in multibyte characters that may straddle it.
fn chat_text_to_cut() -> impl Strategy<Value = String> {
    let over_cap = (0..4usize, "\\PC{1,6}")
        .prop_map(|(slack, tail)| "a".repeat(CHAT_TEXT_MAX_BYTES - slack) + &tail);
    prop_oneof![any::<String>(), over_cap]
}

/// What a receiver sees of `text`: up to its first NUL, cut to the cap on a char boundary.
fn sent_chat_text(text: &str) -> String {
    let before_nul = text.split('\0').next().unwrap_or_default();
    truncate_to(before_nul.to_owned(), CHAT_TEXT_MAX_BYTES)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn chat_text_of_any_length_is_sent_cut_and_decodable(
        message in chat_text_to_cut(),
        line in chat_message(),
        chat in client_chat(),
    ) {
        let expected = sent_chat_text(&message);
        let line = ChatMessage { message: message.clone(), ..line };
        let body = line.encode_body();
        let decoded = ChatMessage::decode(&body).map_err(|e| decode_failure(&body, e))?;
        prop_assert_eq!(&decoded.message, &expected);

        let chat = ClientChat { message, ..chat };
        let body = chat.encode_body();
        let decoded = ClientChat::decode(&body).map_err(|e| decode_failure(&body, e))?;
        prop_assert_eq!(&decoded.message, &expected);
    }

    /// Stronger than the shared property: no strict prefix of a chat body decodes at all.
    #[test]
    fn chat_strict_prefix_fails_to_decode(
        chat in client_chat(),
        line in chat_message(),
        not_found in name().prop_map(|name| ChatPlayerNotFound { name }),
        cut in any::<Index>(),
    ) {
        let body = chat.encode_body();
        let at = cut.index(body.len());
        prop_assert!(ClientChat::decode(&body[..at]).is_err(), "{} of {} bytes", at, body.len());
        let body = line.encode_body();
        let at = cut.index(body.len());
        prop_assert!(ChatMessage::decode(&body[..at]).is_err(), "{} of {} bytes", at, body.len());
        let body = not_found.encode_body();
        let at = cut.index(body.len());
        prop_assert!(
            ChatPlayerNotFound::decode(&body[..at]).is_err(),
            "{} of {} bytes",
            at,
            body.len()
        );
    }

    /// Arbitrary bytes behind a supported type reach the rest of the decoder.
    #[test]
    fn chat_message_of_a_supported_type_with_arbitrary_rest_never_panics(
        kind in prop::sample::select(chat_type::PLAYER.to_vec()),
        rest in arbitrary_body(),
    ) {
        let mut body = vec![kind];
        body.extend(rest);
        let _ = ChatMessage::decode(&body);
    }

    #[test]
    fn chat_message_of_another_type_is_refused(line in chat_message(), kind in any::<u8>()) {
        prop_assume!(!chat_type::is_player(kind));
        let refused = ChatMessage::decode(&ChatMessage { kind, ..line }.encode_body());
        prop_assert_eq!(
            refused,
            Err(DecodeError::InvalidValue { field: "type", value: u64::from(kind) })
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Friends: SMSG_FRIEND_STATUS.
// ---------------------------------------------------------------------------------------------

use waygate::wire::packets::{FRIEND_NOTE_MAX_BYTES, FriendOnline, FriendStatus, friend_result};

wire_packet_codecs!(FriendStatus);

/// A result code (the ones with a payload often); the note and the online part present
/// exactly when the result carries them.
fn friend_status() -> impl Strategy<Value = FriendStatus> {
    let result = prop_oneof![
        2 => prop::sample::select(vec![
            friend_result::ONLINE,
            friend_result::OFFLINE,
            friend_result::REMOVED,
            friend_result::ADDED_ONLINE,
            friend_result::ADDED_OFFLINE,
        ]),
        1 => any::<u8>(),
    ];
    result.prop_flat_map(|result| {
        let noted = matches!(
            result,
            friend_result::ADDED_ONLINE | friend_result::ADDED_OFFLINE
        );
        let online = matches!(result, friend_result::ONLINE | friend_result::ADDED_ONLINE);
        let note = if noted {
            text(FRIEND_NOTE_MAX_BYTES).boxed()
        } else {
            Just(String::new()).boxed()
        };
        (
            guid(),
            note,
            present_if(
                online,
                (any::<u8>(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
                    |(status, area, level, class)| FriendOnline {
                        status,
                        area,
                        level,
                        class,
                    },
                ),
            ),
        )
            .prop_map(move |(guid, note, online)| FriendStatus {
                result,
                guid,
                note,
                online,
            })
    })
}

codec_props! {
    friend_status: FriendStatus = friend_status();
}

// ---------------------------------------------------------------------------------------------
// Guild: SMSG_GUILD_EVENT, SMSG_GUILD_INVITE.
// ---------------------------------------------------------------------------------------------

use waygate::wire::packets::{
    GUILD_EVENT_PARAM_MAX_BYTES, GUILD_EVENT_PARAMS_MAX, GuildEvent, GuildInvite, guild_event,
};

wire_packet_codecs!(GuildEvent, GuildInvite);

/// Any event type (the ones with a guid often), up to three strings; the guid present exactly
/// for the types that carry one.
fn guild_event_value() -> impl Strategy<Value = GuildEvent> {
    let event = prop_oneof![
        1 => prop::sample::select(vec![
            guild_event::JOINED,
            guild_event::LEFT,
            guild_event::SIGNED_ON,
            guild_event::SIGNED_OFF,
        ]),
        1 => any::<u8>(),
    ];
    event.prop_flat_map(|event| {
        (
            prop::collection::vec(
                text(GUILD_EVENT_PARAM_MAX_BYTES),
                0..=GUILD_EVENT_PARAMS_MAX,
            ),
            present_if(guild_event::carries_guid(event), guid()),
        )
            .prop_map(move |(params, guid)| GuildEvent {
                event,
                params,
                guid,
            })
    })
}

codec_props! {
    guild_event_packet: GuildEvent = guild_event_value();
    guild_invite: GuildInvite = (name(), name()).prop_map(|(inviter, guild)| GuildInvite { inviter, guild });
}

// ---------------------------------------------------------------------------------------------
// Party frames: SMSG_PARTY_MEMBER_STATS(_FULL), CMSG_REQUEST_PARTY_MEMBER_STATS.
// ---------------------------------------------------------------------------------------------

use waygate::wire::Opcode as WireOpcode;
use waygate::wire::packets::{PartyMemberStats, RequestPartyMemberStats};

wire_packet_codecs!(RequestPartyMemberStats);
body_codec!(PartyMemberStats, |s| s.render().1, |body| {
    PartyMemberStats::decode_as(WireOpcode::SMSG_PARTY_MEMBER_STATS, body)
});

fn party_member_stats() -> impl Strategy<Value = PartyMemberStats> {
    (
        guid(),
        (
            prop::option::of(any::<u16>()),
            prop::option::of(any::<u32>()),
            prop::option::of(any::<u32>()),
            prop::option::of(any::<u8>()),
        ),
        (
            prop::option::of(any::<u16>()),
            prop::option::of(any::<u16>()),
            prop::option::of(any::<u16>()),
            prop::option::of(any::<u16>()),
        ),
    )
        .prop_map(
            |(guid, (status, hp, max_hp, power_type), (power, max_power, level, zone))| {
                PartyMemberStats {
                    full: false,
                    guid,
                    status,
                    hp,
                    max_hp,
                    power_type,
                    power,
                    max_power,
                    level,
                    zone,
                }
            },
        )
}

codec_props! {
    party_member_stats_packet: PartyMemberStats = party_member_stats();
    request_party_member_stats: RequestPartyMemberStats =
        any::<u64>().prop_map(|guid| RequestPartyMemberStats { guid });
}

// ---------------------------------------------------------------------------------------------
// /who: CMSG_WHO, SMSG_WHO.
// ---------------------------------------------------------------------------------------------

use waygate::wire::packets::{
    WHO_DISPLAY_MAX, WHO_STRING_MAX_BYTES, WHO_STRINGS_MAX, WHO_ZONES_MAX, WhoEntry, WhoList,
    WhoRequest,
};

wire_packet_codecs!(WhoRequest, WhoList);

fn who_request() -> impl Strategy<Value = WhoRequest> {
    (
        (
            any::<u32>(),
            any::<u32>(),
            name(),
            name(),
            any::<u32>(),
            any::<u32>(),
        ),
        prop::collection::vec(any::<u32>(), 0..=WHO_ZONES_MAX),
        prop::collection::vec(text(WHO_STRING_MAX_BYTES), 0..=WHO_STRINGS_MAX),
    )
        .prop_map(
            |(
                (level_min, level_max, player_name, guild_name, race_mask, class_mask),
                zones,
                strings,
            )| {
                WhoRequest {
                    level_min,
                    level_max,
                    player_name,
                    guild_name,
                    race_mask,
                    class_mask,
                    zones,
                    strings,
                }
            },
        )
}

fn who_list() -> impl Strategy<Value = WhoList> {
    let entry = (
        name(),
        name(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<u32>(),
    )
        .prop_map(|(name, guild, level, class, race, gender, zone)| WhoEntry {
            name,
            guild,
            level,
            class,
            race,
            gender,
            zone,
        });
    (
        any::<u32>(),
        prop::collection::vec(entry, 0..=WHO_DISPLAY_MAX),
    )
        .prop_map(|(matches, entries)| WhoList { matches, entries })
}

codec_props! {
    who_request_packet: WhoRequest = who_request();
    who_list_packet: WhoList = who_list();
}

// ---------------------------------------------------------------------------------------------
// Groups: SMSG_GROUP_LIST, SMSG_GROUP_INVITE.
// ---------------------------------------------------------------------------------------------

use waygate::wire::packets::{
    GROUP_MEMBERS_MAX, GroupInvite, GroupList, GroupListMember, GroupLoot, group_type,
};

wire_packet_codecs!(GroupList, GroupInvite);

fn group_list() -> impl Strategy<Value = GroupList> {
    let member = (
        name(),
        guid(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(
            |(name, guid, online, subgroup, flags, roles)| GroupListMember {
                name,
                guid,
                online,
                subgroup,
                flags,
                roles,
            },
        );
    let loot = (
        any::<u8>(),
        guid(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(
            |(
                method,
                master_looter,
                threshold,
                dungeon_difficulty,
                raid_difficulty,
                dynamic_heroic,
            )| {
                GroupLoot {
                    method,
                    master_looter,
                    threshold,
                    dungeon_difficulty,
                    raid_difficulty,
                    dynamic_heroic,
                }
            },
        );
    (
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()),
        (any::<u8>(), any::<u32>()),
        (guid(), any::<u32>(), guid()),
        prop::collection::vec(member, 0..GROUP_MEMBERS_MAX),
        loot,
    )
        .prop_map(
            |(
                (kind, subgroup, flags, roles),
                lfg,
                (group_guid, counter, leader),
                members,
                loot,
            )| {
                GroupList {
                    group_type: kind,
                    subgroup,
                    flags,
                    roles,
                    lfg: (kind & group_type::LFG != 0).then_some(lfg),
                    group_guid,
                    counter,
                    loot: (!members.is_empty()).then_some(loot),
                    members,
                    leader,
                }
            },
        )
}

codec_props! {
    group_list_packet: GroupList = group_list();
    group_invite_packet: GroupInvite =
        (any::<u8>(), name()).prop_map(|(status, inviter)| GroupInvite { status, inviter });
}

// ---------------------------------------------------------------------------------------------
// Guild roster: SMSG_GUILD_ROSTER.
// ---------------------------------------------------------------------------------------------

use waygate::wire::packets::{
    GUILD_BANK_TABS, GUILD_NOTE_MAX_BYTES, GUILD_RANKS_MAX, GuildRoster, RosterMember, RosterRank,
};

wire_packet_codecs!(GuildRoster);

fn guild_roster() -> impl Strategy<Value = GuildRoster> {
    let rank = (
        any::<u32>(),
        any::<u32>(),
        any::<[(u32, u32); GUILD_BANK_TABS]>(),
    )
        .prop_map(|(rights, gold_per_day, tabs)| RosterRank {
            rights,
            gold_per_day,
            tabs,
        });
    let member = (
        (
            guid(),
            name(),
            any::<u32>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u32>(),
        ),
        prop::option::of(
            any::<u32>()
                .prop_map(f32::from_bits)
                .prop_filter("not NaN", |d| !d.is_nan()),
        ),
        text(GUILD_NOTE_MAX_BYTES),
        text(GUILD_NOTE_MAX_BYTES),
    )
        .prop_map(
            |((guid, name, rank, level, class, gender, zone), days_offline, note, officer_note)| {
                RosterMember {
                    guid,
                    name,
                    rank,
                    level,
                    class,
                    gender,
                    zone,
                    days_offline,
                    note,
                    officer_note,
                }
            },
        );
    (
        text(GUILD_EVENT_PARAM_MAX_BYTES),
        text(GUILD_EVENT_PARAM_MAX_BYTES),
        prop::collection::vec(rank, 0..=GUILD_RANKS_MAX),
        prop::collection::vec(member, 0..40),
    )
        .prop_map(|(motd, info, ranks, members)| GuildRoster {
            motd,
            info,
            ranks,
            members,
        })
}

codec_props! {
    guild_roster_packet: GuildRoster = guild_roster();
}

// ---------------------------------------------------------------------------------------------
// The friend and ignore list: SMSG_CONTACT_LIST and the client's requests.
// ---------------------------------------------------------------------------------------------

use waygate::wire::packets::{
    AddFriend, AddIgnore, CONTACTS_MAX, Contact, ContactList, ContactListRequest, DelFriend,
    DelIgnore, SetContactNotes, contact_flag,
};

wire_packet_codecs!(
    ContactList,
    ContactListRequest,
    AddFriend,
    AddIgnore,
    DelFriend,
    DelIgnore,
    SetContactNotes
);

/// Any flags (friends often); the online part present only for a friend with a status that
/// is not 0, as the list carries it.
fn contact() -> impl Strategy<Value = Contact> {
    let flags = prop_oneof![
        2 => Just(contact_flag::FRIEND),
        1 => Just(contact_flag::IGNORED),
        1 => any::<u32>(),
    ];
    let online = (1..=u8::MAX, any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
        |(status, area, level, class)| FriendOnline {
            status,
            area,
            level,
            class,
        },
    );
    (
        guid(),
        flags,
        text(FRIEND_NOTE_MAX_BYTES),
        prop::option::of(online),
    )
        .prop_map(|(guid, flags, note, online)| Contact {
            guid,
            flags,
            note,
            online: online.filter(|_| flags & contact_flag::FRIEND != 0),
        })
}

fn contact_list() -> impl Strategy<Value = ContactList> {
    (
        any::<u32>(),
        prop::collection::vec(contact(), 0..=CONTACTS_MAX),
    )
        .prop_map(|(flags, contacts)| ContactList { flags, contacts })
}

codec_props! {
    contact_list_packet: ContactList = contact_list();
    contact_list_request_packet: ContactListRequest =
        any::<u32>().prop_map(|flags| ContactListRequest { flags });
    add_friend_packet: AddFriend = (name(), text(FRIEND_NOTE_MAX_BYTES))
        .prop_map(|(name, note)| AddFriend { name, note });
    add_ignore_packet: AddIgnore = name().prop_map(|name| AddIgnore { name });
    del_friend_packet: DelFriend = guid().prop_map(|guid| DelFriend { guid });
    del_ignore_packet: DelIgnore = guid().prop_map(|guid| DelIgnore { guid });
    set_contact_notes_packet: SetContactNotes = (guid(), text(FRIEND_NOTE_MAX_BYTES))
        .prop_map(|(guid, note)| SetContactNotes { guid, note });
}

// ---------------------------------------------------------------------------------------------
// Group commands: SMSG_PARTY_COMMAND_RESULT and the client's commands.
// ---------------------------------------------------------------------------------------------

use waygate::wire::packets::{
    InviteToGroup, KICK_REASON_MAX_BYTES, PartyCommandResult, SetGroupLeader, SetLootMethod,
    UninviteByGuid, UninviteByName,
};

wire_packet_codecs!(
    PartyCommandResult,
    InviteToGroup,
    UninviteByName,
    UninviteByGuid,
    SetGroupLeader,
    SetLootMethod
);

codec_props! {
    party_command_result_packet: PartyCommandResult =
        (any::<u32>(), name(), any::<u32>(), any::<u32>()).prop_map(
            |(operation, name, result, value)| PartyCommandResult {
                operation,
                name,
                result,
                value,
            },
        );
    invite_to_group_packet: InviteToGroup = name().prop_map(|name| InviteToGroup { name });
    uninvite_by_name_packet: UninviteByName = name().prop_map(|name| UninviteByName { name });
    uninvite_by_guid_packet: UninviteByGuid = (guid(), text(KICK_REASON_MAX_BYTES))
        .prop_map(|(guid, reason)| UninviteByGuid { guid, reason });
    set_group_leader_packet: SetGroupLeader = guid().prop_map(|guid| SetGroupLeader { guid });
    set_loot_method_packet: SetLootMethod = (any::<u32>(), guid(), any::<u32>())
        .prop_map(|(method, looter, threshold)| SetLootMethod {
            method,
            looter,
            threshold,
        });
}

// ---------------------------------------------------------------------------------------------
// Guild commands: the query, its response, SMSG_GUILD_COMMAND_RESULT and the client's commands.
// ---------------------------------------------------------------------------------------------

use waygate::wire::packets::{
    GUILD_TEXT_MAX_BYTES, GuildCommandResult, GuildDemote, GuildInviteRequest, GuildPromote,
    GuildQuery, GuildQueryResponse, GuildRemove, GuildSetInfo, GuildSetMotd,
};

wire_packet_codecs!(
    GuildQuery,
    GuildQueryResponse,
    GuildCommandResult,
    GuildInviteRequest,
    GuildPromote,
    GuildDemote,
    GuildRemove,
    GuildSetMotd,
    GuildSetInfo
);

codec_props! {
    guild_query_packet: GuildQuery = any::<u32>().prop_map(|guild_id| GuildQuery { guild_id });
    guild_query_response_packet: GuildQueryResponse = (
        any::<u32>(),
        name(),
        prop::collection::vec(text(NAME_MAX_BYTES - 1), 0..=GUILD_RANKS_MAX),
        any::<[u32; 5]>(),
    )
        .prop_map(|(guild_id, name, ranks, emblem)| GuildQueryResponse {
            guild_id,
            name,
            // Rank names past the last one are empty on the wire: a trailing empty name is
            // indistinguishable from none, so the values keep theirs non-empty.
            ranks: ranks.into_iter().map(|r| format!("r{r}")).collect(),
            emblem,
        });
    guild_command_result_packet: GuildCommandResult =
        (any::<u32>(), text(GUILD_TEXT_MAX_BYTES), any::<u32>()).prop_map(
            |(command, param, error)| GuildCommandResult {
                command,
                param,
                error,
            },
        );
    guild_invite_request_packet: GuildInviteRequest =
        name().prop_map(|name| GuildInviteRequest { name });
    guild_promote_packet: GuildPromote = name().prop_map(|name| GuildPromote { name });
    guild_demote_packet: GuildDemote = name().prop_map(|name| GuildDemote { name });
    guild_remove_packet: GuildRemove = name().prop_map(|name| GuildRemove { name });
    guild_set_motd_packet: GuildSetMotd =
        text(GUILD_TEXT_MAX_BYTES).prop_map(|text| GuildSetMotd { text });
    guild_set_info_packet: GuildSetInfo =
        text(GUILD_TEXT_MAX_BYTES).prop_map(|text| GuildSetInfo { text });
}

// ---------------------------------------------------------------------------------------------
// Raid target icons, difficulty, guild notes: bodies shared by two opcodes (no WirePacket).
// ---------------------------------------------------------------------------------------------

use waygate::wire::packets::{
    DifficultyChanged, GuildSetNote, RaidTargetRequest, RaidTargets, TARGET_ICON_LIST, TARGET_ICONS,
};

body_codec!(
    RaidTargetRequest,
    |r| encoded_with(|out| r.encode(out)),
    |body| RaidTargetRequest::decode(body)
);
body_codec!(RaidTargets, |r| encoded_with(|out| r.encode(out)), |body| {
    RaidTargets::decode(body)
});
body_codec!(
    DifficultyChanged,
    |d| encoded_with(|out| d.encode(out)),
    |body| DifficultyChanged::decode(body)
);
body_codec!(
    GuildSetNote,
    |n| encoded_with(|out| n.encode(out)),
    |body| GuildSetNote::decode(body)
);

codec_props! {
    raid_target_request_body: RaidTargetRequest = prop_oneof![
        Just(RaidTargetRequest { icon: TARGET_ICON_LIST, target: 0 }),
        (0..TARGET_ICON_LIST, guid()).prop_map(|(icon, target)| RaidTargetRequest { icon, target }),
    ];
    raid_targets_body: RaidTargets = prop_oneof![
        prop::collection::vec((any::<u8>(), guid()), 0..=TARGET_ICONS).prop_map(RaidTargets::List),
        (guid(), any::<u8>(), guid()).prop_map(|(updater, icon, target)| RaidTargets::Set {
            updater,
            icon,
            target,
        }),
    ];
    difficulty_changed_body: DifficultyChanged = (any::<u32>(), any::<bool>())
        .prop_map(|(difficulty, in_group)| DifficultyChanged { difficulty, in_group });
    guild_set_note_body: GuildSetNote = (name(), text(GUILD_NOTE_MAX_BYTES))
        .prop_map(|(name, note)| GuildSetNote { name, note });
}

// ---------------------------------------------------------------------------------------------
// Guild ranks: CMSG_GUILD_RANK, CMSG_GUILD_ADD_RANK, MSG_GUILD_PERMISSIONS.
// ---------------------------------------------------------------------------------------------

use waygate::wire::packets::{GuildAddRank, GuildPermissions, GuildRankUpdate};

wire_packet_codecs!(GuildRankUpdate, GuildAddRank, GuildPermissions);

codec_props! {
    guild_rank_update_packet: GuildRankUpdate = (
        any::<u32>(),
        any::<u32>(),
        name(),
        any::<u32>(),
        any::<[(u32, u32); 6]>(),
    )
        .prop_map(|(rank, rights, name, gold_per_day, tabs)| GuildRankUpdate {
            rank,
            rights,
            name,
            gold_per_day,
            tabs,
        });
    guild_add_rank_packet: GuildAddRank = name().prop_map(|name| GuildAddRank { name });
    guild_permissions_packet: GuildPermissions = (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<[(u32, u32); 6]>(),
    )
        .prop_map(|(rank, rights, gold_per_day, bank_tabs, tabs)| GuildPermissions {
            rank,
            rights,
            gold_per_day,
            bank_tabs,
            tabs,
        });
}

// ---------------------------------------------------------------------------------------------
// Chat channels: SMSG_CHANNEL_NOTIFY, SMSG_CHANNEL_LIST and the client's requests.
// ---------------------------------------------------------------------------------------------

use waygate::wire::packets::{
    CHANNEL_NAME_MAX_BYTES, CHANNEL_PASSWORD_MAX_BYTES, ChannelDisplayListRequest, ChannelList,
    ChannelListMember, ChannelListRequest, ChannelNotify, JoinChannel, LeaveChannel, NotifyDetail,
};

wire_packet_codecs!(
    ChannelNotify,
    ChannelList,
    ChannelListRequest,
    ChannelDisplayListRequest,
    JoinChannel,
    LeaveChannel
);

/// Any type, with the detail AzerothCore gives that type.
fn channel_notify() -> impl Strategy<Value = ChannelNotify> {
    (
        any::<u8>(),
        text(CHANNEL_NAME_MAX_BYTES),
        (guid(), guid(), name()),
        any::<(u8, u8, u32)>(),
    )
        .prop_map(|(kind, channel, (target, second, who), (old, new, id))| {
            let detail = match NotifyDetail::for_kind(kind, target, second, &who, (old, new)) {
                NotifyDetail::YouJoined { .. } => NotifyDetail::YouJoined {
                    flags: new,
                    channel_id: id,
                },
                NotifyDetail::YouLeft { .. } => NotifyDetail::YouLeft {
                    channel_id: id,
                    constant: old,
                },
                other => other,
            };
            ChannelNotify {
                kind,
                channel,
                detail,
            }
        })
}

codec_props! {
    channel_notify_packet: ChannelNotify = channel_notify();
    channel_list_packet: ChannelList = (
        text(CHANNEL_NAME_MAX_BYTES),
        any::<u8>(),
        prop::collection::vec((guid(), any::<u8>()), 0..64),
    )
        .prop_map(|(channel, flags, members)| ChannelList {
            channel,
            flags,
            members: members
                .into_iter()
                .map(|(guid, flags)| ChannelListMember { guid, flags })
                .collect(),
        });
    channel_list_request_packet: ChannelListRequest = text(CHANNEL_NAME_MAX_BYTES)
        .prop_map(|channel| ChannelListRequest { channel });
    channel_display_list_request_packet: ChannelDisplayListRequest =
        text(CHANNEL_NAME_MAX_BYTES).prop_map(|channel| ChannelDisplayListRequest { channel });
    join_channel_packet: JoinChannel = (
        any::<u32>(),
        any::<[u8; 2]>(),
        text(CHANNEL_NAME_MAX_BYTES),
        text(CHANNEL_PASSWORD_MAX_BYTES),
    )
        .prop_map(|(channel_id, unknown, name, password)| JoinChannel {
            channel_id,
            unknown,
            name,
            password,
        });
    leave_channel_packet: LeaveChannel = (any::<u32>(), text(CHANNEL_NAME_MAX_BYTES))
        .prop_map(|(unknown, name)| LeaveChannel { unknown, name });
}
