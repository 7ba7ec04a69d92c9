//! SMSG_UPDATE_OBJECT and SMSG_COMPRESSED_UPDATE_OBJECT (PROTOCOL.md section 6), decoded far
//! enough to read the player's own fields, and encoded for the fake worldserver and tests.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{DecodeError, Reader, WriteExt};
use super::opcode::Opcode;
use super::packets::{Position, WirePacket};

/// Default cap on an inflated SMSG_COMPRESSED_UPDATE_OBJECT.
pub const UPDATE_INFLATED_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Spline points accepted in one movement block.
pub const SPLINE_POINTS_MAX: usize = 1024;

/// Object type id of a unit.
pub const TYPEID_UNIT: u8 = 3;
/// Object type id of a player.
pub const TYPEID_PLAYER: u8 = 4;

/// Movement block flags (u16).
pub mod update_flags {
    /// The object is the receiving player.
    pub const SELF: u16 = 0x1;
    /// Transport time follows.
    pub const TRANSPORT: u16 = 0x2;
    /// Target guid follows.
    pub const HAS_TARGET: u16 = 0x4;
    /// Low guid follows.
    pub const LOWGUID: u16 = 0x8;
    /// High guid follows.
    pub const HIGHGUID: u16 = 0x10;
    /// Living movement info follows.
    pub const LIVING: u16 = 0x20;
    /// Stationary position follows.
    pub const STATIONARY_POSITION: u16 = 0x40;
    /// Vehicle info follows.
    pub const VEHICLE: u16 = 0x80;
    /// Transport position follows.
    pub const POSITION: u16 = 0x100;
    /// Packed rotation follows.
    pub const ROTATION: u16 = 0x200;
}

/// Movement flags that change the layout of a living movement block.
pub mod move_flags {
    /// On a transport.
    pub const ON_TRANSPORT: u32 = 0x200;
    /// Falling: jump info follows.
    pub const FALLING: u32 = 0x1000;
    /// Swimming: pitch follows.
    pub const SWIMMING: u32 = 0x20_0000;
    /// Flying: pitch follows.
    pub const FLYING: u32 = 0x200_0000;
    /// Spline elevation follows.
    pub const SPLINE_ELEVATION: u32 = 0x400_0000;
    /// Spline data follows.
    pub const SPLINE_ENABLED: u32 = 0x800_0000;
    /// Second movement-flag word: pitch always follows.
    pub const FLAGS2_ALWAYS_ALLOW_PITCHING: u16 = 0x20;
    /// Second movement-flag word: transport block has a second time.
    pub const FLAGS2_INTERPOLATED_MOVEMENT: u16 = 0x400;
}

/// Spline flags that select the facing field.
pub mod spline_flags {
    /// Final point.
    pub const FINAL_POINT: u32 = 0x8000;
    /// Final target.
    pub const FINAL_TARGET: u32 = 0x1_0000;
    /// Final angle.
    pub const FINAL_ANGLE: u32 = 0x2_0000;
}

/// Where a transport passenger sits.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TransportInfo {
    /// Transport guid.
    pub guid: u64,
    /// Offset on the transport.
    pub offset: Position,
    /// Transport time.
    pub time: u32,
    /// Seat.
    pub seat: u8,
    /// Second time, when flags2 has interpolated movement.
    pub time2: Option<u32>,
}

/// How a spline faces at its end.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum SplineFacing {
    /// No facing field.
    #[default]
    None,
    /// Final angle.
    Angle(f32),
    /// Final target.
    Target(u64),
    /// Final point.
    Point([f32; 3]),
}

/// A movement spline.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Spline {
    /// Spline flags (the facing bits agree with `facing`).
    pub flags: u32,
    /// Facing.
    pub facing: SplineFacing,
    /// Time passed.
    pub time_passed: u32,
    /// Duration.
    pub duration: u32,
    /// Spline id.
    pub id: u32,
    /// Duration modifier.
    pub duration_mod: f32,
    /// Next duration modifier.
    pub duration_mod_next: f32,
    /// Vertical acceleration.
    pub vertical_accel: f32,
    /// Effect start time.
    pub effect_start_time: u32,
    /// Path points.
    pub points: Vec<[f32; 3]>,
    /// Spline mode.
    pub mode: u8,
    /// Final destination.
    pub destination: [f32; 3],
}

/// Movement info of a living object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LivingMovement {
    /// Movement flags.
    pub move_flags: u32,
    /// Second movement-flag word.
    pub move_flags2: u16,
    /// Movement time.
    pub time: u32,
    /// Position.
    pub position: Position,
    /// Transport, when `move_flags` has ON_TRANSPORT.
    pub transport: Option<TransportInfo>,
    /// Pitch, when swimming, flying or always allowed.
    pub pitch: Option<f32>,
    /// Fall time.
    pub fall_time: u32,
    /// Jump: vertical speed, sin, cos, horizontal speed (when falling).
    pub jump: Option<[f32; 4]>,
    /// Spline elevation.
    pub spline_elevation: Option<f32>,
    /// Walk, run, run back, swim, swim back, flight, flight back, turn, pitch rates.
    pub speeds: [f32; 9],
    /// Spline, when enabled.
    pub spline: Option<Box<Spline>>,
}

/// A game object's position on a transport (update flag POSITION).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TransportPosition {
    /// Transport guid.
    pub transport_guid: u64,
    /// World position.
    pub position: [f32; 3],
    /// Offset on the transport.
    pub transport_offset: [f32; 3],
    /// Facing.
    pub orientation: f32,
    /// Facing on the transport.
    pub transport_orientation: f32,
}

/// What the movement block says about where the object is.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Placement {
    /// Neither LIVING, POSITION nor STATIONARY_POSITION.
    #[default]
    None,
    /// LIVING.
    Living(Box<LivingMovement>),
    /// POSITION.
    Transport(TransportPosition),
    /// STATIONARY_POSITION.
    Stationary(Position),
}

/// A movement block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MovementBlock {
    /// Update flags; the placement and the optional fields below agree with them.
    pub flags: u16,
    /// Placement.
    pub placement: Placement,
    /// Low guid (LOWGUID).
    pub low_guid: Option<u32>,
    /// High guid (HIGHGUID).
    pub high_guid: Option<u32>,
    /// Target (HAS_TARGET).
    pub target: Option<u64>,
    /// Transport time (TRANSPORT).
    pub transport_time: Option<u32>,
    /// Vehicle id and orientation (VEHICLE).
    pub vehicle: Option<(u32, f32)>,
    /// Packed rotation (ROTATION).
    pub rotation: Option<u64>,
}

/// An update mask and the values of its set bits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateMask {
    /// Mask words on the wire (may exceed what the highest set bit needs).
    pub block_count: u8,
    /// (field index, value) in ascending index order.
    pub values: Vec<(u16, u32)>,
}

impl UpdateMask {
    /// The value of a field, if this update sets it.
    pub fn get(&self, index: u16) -> Option<u32> {
        self.values
            .binary_search_by_key(&index, |(i, _)| *i)
            .ok()
            .map(|at| self.values[at].1)
    }

    fn put(&self, out: &mut BytesMut) {
        out.put_u8(self.block_count);
        let mut words = vec![0u32; usize::from(self.block_count)];
        let mut kept = 0;
        for (index, _) in &self.values {
            if let Some(w) = words.get_mut(usize::from(*index / 32)) {
                *w |= 1 << (index % 32);
                kept += 1;
            }
        }
        for w in &words {
            out.put_u32_le(*w);
        }
        for (_, v) in self.values.iter().take(kept) {
            out.put_u32_le(*v);
        }
    }

    fn get_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let block_count = r.u8("mask_block_count")?;
        let words = r.bytes("mask_words", usize::from(block_count) * 4)?;
        let set: usize = words
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]).count_ones() as usize)
            .sum();
        let set = r.check_count("mask_values", set as u64, usize::MAX, 4)?;
        let mut values = Vec::with_capacity(set);
        for (wi, w) in words.chunks_exact(4).enumerate() {
            let mut bits = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                let index = (wi * 32) as u16 + bit as u16;
                values.push((index, r.u32("mask_value")?));
            }
        }
        Ok(Self {
            block_count,
            values,
        })
    }
}

/// One block of an object update.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateBlock {
    /// Type 0: field values of a known object.
    Values {
        /// Object guid.
        guid: u64,
        /// Changed fields.
        mask: UpdateMask,
    },
    /// Type 1: movement of a known object.
    Movement {
        /// Object guid.
        guid: u64,
        /// Movement.
        movement: Box<MovementBlock>,
    },
    /// Type 2 (create) or 3 (create, second form).
    Create {
        /// 2 or 3.
        kind: u8,
        /// Object guid.
        guid: u64,
        /// Object type id (3 unit, 4 player).
        type_id: u8,
        /// Movement.
        movement: Box<MovementBlock>,
        /// Initial fields.
        mask: UpdateMask,
    },
    /// Type 4: objects that left range.
    OutOfRange(Vec<u64>),
    /// Type 5: objects that came near.
    NearObjects(Vec<u64>),
}

/// SMSG_UPDATE_OBJECT.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateObject {
    /// Blocks in wire order.
    pub blocks: Vec<UpdateBlock>,
}

fn put_f32s(out: &mut BytesMut, values: &[f32]) {
    for v in values {
        out.put_f32_le(*v);
    }
}

fn get_f32s<const N: usize>(
    r: &mut Reader<'_>,
    field: &'static str,
) -> Result<[f32; N], DecodeError> {
    let mut out = [0f32; N];
    for v in out.iter_mut() {
        *v = r.f32(field)?;
    }
    Ok(out)
}

fn put_position(out: &mut BytesMut, p: &Position) {
    put_f32s(out, &[p.x, p.y, p.z, p.orientation]);
}

fn get_position(r: &mut Reader<'_>) -> Result<Position, DecodeError> {
    let [x, y, z, orientation] = get_f32s(r, "position")?;
    Ok(Position {
        x,
        y,
        z,
        orientation,
    })
}

impl MovementBlock {
    fn put(&self, out: &mut BytesMut) {
        use update_flags as uf;
        out.put_u16_le(self.flags);
        match &self.placement {
            Placement::Living(l) if self.flags & uf::LIVING != 0 => l.put(out),
            Placement::Transport(t) if self.flags & (uf::LIVING | uf::POSITION) == uf::POSITION => {
                out.put_packed_guid(t.transport_guid);
                put_f32s(out, &t.position);
                put_f32s(out, &t.transport_offset);
                put_f32s(out, &[t.orientation, t.transport_orientation]);
            }
            Placement::Stationary(p)
                if self.flags & (uf::LIVING | uf::POSITION | uf::STATIONARY_POSITION)
                    == uf::STATIONARY_POSITION =>
            {
                put_position(out, p)
            }
            _ => {}
        }
        if self.flags & uf::LOWGUID != 0 {
            out.put_u32_le(self.low_guid.unwrap_or(0));
        }
        if self.flags & uf::HIGHGUID != 0 {
            out.put_u32_le(self.high_guid.unwrap_or(0));
        }
        if self.flags & uf::HAS_TARGET != 0 {
            out.put_packed_guid(self.target.unwrap_or(0));
        }
        if self.flags & uf::TRANSPORT != 0 {
            out.put_u32_le(self.transport_time.unwrap_or(0));
        }
        if self.flags & uf::VEHICLE != 0 {
            let (id, o) = self.vehicle.unwrap_or((0, 0.0));
            out.put_u32_le(id);
            out.put_f32_le(o);
        }
        if self.flags & uf::ROTATION != 0 {
            out.put_u64_le(self.rotation.unwrap_or(0));
        }
    }

    fn get_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use update_flags as uf;
        let flags = r.u16("update_flags")?;
        let placement = if flags & uf::LIVING != 0 {
            Placement::Living(Box::new(LivingMovement::get_from(r)?))
        } else if flags & uf::POSITION != 0 {
            let transport_guid = r.packed_guid("transport_guid")?;
            let position = get_f32s(r, "position")?;
            let transport_offset = get_f32s(r, "transport_offset")?;
            let [orientation, transport_orientation] = get_f32s(r, "orientation")?;
            Placement::Transport(TransportPosition {
                transport_guid,
                position,
                transport_offset,
                orientation,
                transport_orientation,
            })
        } else if flags & uf::STATIONARY_POSITION != 0 {
            Placement::Stationary(get_position(r)?)
        } else {
            Placement::None
        };
        Ok(Self {
            flags,
            placement,
            low_guid: if flags & uf::LOWGUID != 0 {
                Some(r.u32("low_guid")?)
            } else {
                None
            },
            high_guid: if flags & uf::HIGHGUID != 0 {
                Some(r.u32("high_guid")?)
            } else {
                None
            },
            target: if flags & uf::HAS_TARGET != 0 {
                Some(r.packed_guid("target")?)
            } else {
                None
            },
            transport_time: if flags & uf::TRANSPORT != 0 {
                Some(r.u32("transport_time")?)
            } else {
                None
            },
            vehicle: if flags & uf::VEHICLE != 0 {
                Some((r.u32("vehicle_id")?, r.f32("vehicle_orientation")?))
            } else {
                None
            },
            rotation: if flags & uf::ROTATION != 0 {
                Some(r.u64("rotation")?)
            } else {
                None
            },
        })
    }
}

impl LivingMovement {
    fn has_pitch(&self) -> bool {
        self.move_flags & (move_flags::SWIMMING | move_flags::FLYING) != 0
            || self.move_flags2 & move_flags::FLAGS2_ALWAYS_ALLOW_PITCHING != 0
    }

    fn put(&self, out: &mut BytesMut) {
        let mf = self.move_flags;
        out.put_u32_le(mf);
        out.put_u16_le(self.move_flags2);
        out.put_u32_le(self.time);
        put_position(out, &self.position);
        if mf & move_flags::ON_TRANSPORT != 0 {
            let t = self.transport.unwrap_or_default();
            out.put_packed_guid(t.guid);
            put_position(out, &t.offset);
            out.put_u32_le(t.time);
            out.put_u8(t.seat);
            if self.move_flags2 & move_flags::FLAGS2_INTERPOLATED_MOVEMENT != 0 {
                out.put_u32_le(t.time2.unwrap_or(0));
            }
        }
        if self.has_pitch() {
            out.put_f32_le(self.pitch.unwrap_or(0.0));
        }
        out.put_u32_le(self.fall_time);
        if mf & move_flags::FALLING != 0 {
            put_f32s(out, &self.jump.unwrap_or_default());
        }
        if mf & move_flags::SPLINE_ELEVATION != 0 {
            out.put_f32_le(self.spline_elevation.unwrap_or(0.0));
        }
        put_f32s(out, &self.speeds);
        if mf & move_flags::SPLINE_ENABLED != 0 {
            let default = Spline::default();
            let s = self.spline.as_deref().unwrap_or(&default);
            out.put_u32_le(s.flags);
            match s.facing {
                SplineFacing::Angle(a) => out.put_f32_le(a),
                SplineFacing::Target(t) => out.put_u64_le(t),
                SplineFacing::Point(p) => put_f32s(out, &p),
                SplineFacing::None => {}
            }
            out.put_u32_le(s.time_passed);
            out.put_u32_le(s.duration);
            out.put_u32_le(s.id);
            put_f32s(
                out,
                &[s.duration_mod, s.duration_mod_next, s.vertical_accel],
            );
            out.put_u32_le(s.effect_start_time);
            out.put_u32_le(s.points.len() as u32);
            for p in &s.points {
                put_f32s(out, p);
            }
            out.put_u8(s.mode);
            put_f32s(out, &s.destination);
        }
    }

    fn get_from(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut l = Self {
            move_flags: r.u32("move_flags")?,
            move_flags2: r.u16("move_flags2")?,
            time: r.u32("move_time")?,
            position: get_position(r)?,
            ..Self::default()
        };
        if l.move_flags & move_flags::ON_TRANSPORT != 0 {
            l.transport = Some(TransportInfo {
                guid: r.packed_guid("transport_guid")?,
                offset: get_position(r)?,
                time: r.u32("transport_time")?,
                seat: r.u8("transport_seat")?,
                time2: if l.move_flags2 & move_flags::FLAGS2_INTERPOLATED_MOVEMENT != 0 {
                    Some(r.u32("transport_time2")?)
                } else {
                    None
                },
            });
        }
        if l.has_pitch() {
            l.pitch = Some(r.f32("pitch")?);
        }
        l.fall_time = r.u32("fall_time")?;
        if l.move_flags & move_flags::FALLING != 0 {
            l.jump = Some(get_f32s(r, "jump")?);
        }
        if l.move_flags & move_flags::SPLINE_ELEVATION != 0 {
            l.spline_elevation = Some(r.f32("spline_elevation")?);
        }
        l.speeds = get_f32s(r, "speeds")?;
        if l.move_flags & move_flags::SPLINE_ENABLED != 0 {
            let flags = r.u32("spline_flags")?;
            let facing = if flags & spline_flags::FINAL_ANGLE != 0 {
                SplineFacing::Angle(r.f32("spline_angle")?)
            } else if flags & spline_flags::FINAL_TARGET != 0 {
                SplineFacing::Target(r.u64("spline_target")?)
            } else if flags & spline_flags::FINAL_POINT != 0 {
                SplineFacing::Point(get_f32s(r, "spline_point")?)
            } else {
                SplineFacing::None
            };
            let time_passed = r.u32("spline_time_passed")?;
            let duration = r.u32("spline_duration")?;
            let id = r.u32("spline_id")?;
            let [duration_mod, duration_mod_next, vertical_accel] = get_f32s(r, "spline_mods")?;
            let effect_start_time = r.u32("spline_effect_start")?;
            let n = r.count_u32("spline_point_count", SPLINE_POINTS_MAX, 12)?;
            let mut points = Vec::with_capacity(n);
            for _ in 0..n {
                points.push(get_f32s(r, "spline_point")?);
            }
            l.spline = Some(Box::new(Spline {
                flags,
                facing,
                time_passed,
                duration,
                id,
                duration_mod,
                duration_mod_next,
                vertical_accel,
                effect_start_time,
                points,
                mode: r.u8("spline_mode")?,
                destination: get_f32s(r, "spline_destination")?,
            }));
        }
        Ok(l)
    }
}

fn put_guid_list(out: &mut BytesMut, guids: &[u64]) {
    out.put_u32_le(guids.len() as u32);
    for g in guids {
        out.put_packed_guid(*g);
    }
}

fn get_guid_list(r: &mut Reader<'_>) -> Result<Vec<u64>, DecodeError> {
    let n = r.count_u32("guid_count", usize::MAX, 1)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(r.packed_guid("guid")?);
    }
    Ok(out)
}

impl WirePacket for UpdateObject {
    const OPCODE: Opcode = Opcode::SMSG_UPDATE_OBJECT;

    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.blocks.len() as u32);
        for b in &self.blocks {
            match b {
                UpdateBlock::Values { guid, mask } => {
                    out.put_u8(0);
                    out.put_packed_guid(*guid);
                    mask.put(out);
                }
                UpdateBlock::Movement { guid, movement } => {
                    out.put_u8(1);
                    out.put_packed_guid(*guid);
                    movement.put(out);
                }
                UpdateBlock::Create {
                    kind,
                    guid,
                    type_id,
                    movement,
                    mask,
                } => {
                    out.put_u8(if *kind == 3 { 3 } else { 2 });
                    out.put_packed_guid(*guid);
                    out.put_u8(*type_id);
                    movement.put(out);
                    mask.put(out);
                }
                UpdateBlock::OutOfRange(guids) => {
                    out.put_u8(4);
                    put_guid_list(out, guids);
                }
                UpdateBlock::NearObjects(guids) => {
                    out.put_u8(5);
                    put_guid_list(out, guids);
                }
            }
        }
    }

    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        // The smallest block (type + empty guid + one more byte) takes 3 bytes.
        let n = r.count_u32("block_count", usize::MAX, 3)?;
        let mut blocks = Vec::with_capacity(n);
        for _ in 0..n {
            let kind = r.u8("block_type")?;
            blocks.push(match kind {
                0 => UpdateBlock::Values {
                    guid: r.packed_guid("guid")?,
                    mask: UpdateMask::get_from(&mut r)?,
                },
                1 => UpdateBlock::Movement {
                    guid: r.packed_guid("guid")?,
                    movement: Box::new(MovementBlock::get_from(&mut r)?),
                },
                2 | 3 => UpdateBlock::Create {
                    kind,
                    guid: r.packed_guid("guid")?,
                    type_id: r.u8("type_id")?,
                    movement: Box::new(MovementBlock::get_from(&mut r)?),
                    mask: UpdateMask::get_from(&mut r)?,
                },
                4 => UpdateBlock::OutOfRange(get_guid_list(&mut r)?),
                5 => UpdateBlock::NearObjects(get_guid_list(&mut r)?),
                other => {
                    return Err(DecodeError::InvalidValue {
                        field: "block_type",
                        value: u64::from(other),
                    });
                }
            });
        }
        Ok(Self { blocks })
    }
}

/// SMSG_COMPRESSED_UPDATE_OBJECT: u32 inflated size, then a zlib stream of an
/// SMSG_UPDATE_OBJECT body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompressedUpdateObject(pub UpdateObject);

impl CompressedUpdateObject {
    /// Opcode of this packet.
    pub const OPCODE: Opcode = Opcode::SMSG_COMPRESSED_UPDATE_OBJECT;

    /// Inflates the body, refusing more than `max_inflated_bytes`.
    pub fn inflate(body: &[u8], max_inflated_bytes: usize) -> Result<Vec<u8>, DecodeError> {
        let mut r = Reader::new(body);
        let size = r.u32("inflated_size")? as usize;
        if size > max_inflated_bytes {
            return Err(DecodeError::TooLarge {
                field: "inflated_size",
                value: size as u64,
                limit: max_inflated_bytes as u64,
            });
        }
        let out = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(r.rest(), size).map_err(
            |_| DecodeError::Inflate {
                field: "update_object",
            },
        )?;
        if out.len() != size {
            return Err(DecodeError::InvalidValue {
                field: "inflated_size",
                value: out.len() as u64,
            });
        }
        Ok(out)
    }

    /// Inflates and decodes the body.
    pub fn decode(body: &[u8], max_inflated_bytes: usize) -> Result<Self, DecodeError> {
        let inflated = Self::inflate(body, max_inflated_bytes)?;
        UpdateObject::decode(&inflated).map(Self)
    }

    /// Compresses an update body as the worldserver does.
    pub fn compress(update_body: &[u8]) -> Bytes {
        let zlib = miniz_oxide::deflate::compress_to_vec_zlib(update_body, 6);
        let mut out = BytesMut::with_capacity(4 + zlib.len());
        out.put_u32_le(update_body.len() as u32);
        out.put_slice(&zlib);
        out.freeze()
    }

    /// Appends the compressed body.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_slice(&Self::compress(&self.0.to_body()));
    }
}
