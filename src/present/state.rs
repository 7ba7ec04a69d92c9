//! The player's own state, read from what its worldserver sends it, for the cluster: ToCloud9's
//! `gw.char.chars-updates` (charserver's online cache, groupserver's party frames).
//!
//! Sources, each forwarded to the client unchanged before it is read:
//! - SMSG_UPDATE_OBJECT and SMSG_COMPRESSED_UPDATE_OBJECT (inflated to at most
//!   [`UPDATE_INFLATED_MAX_BYTES`]): the values and create blocks of the player's own guid.
//!   A create block sets every tracked field (a field it leaves out is 0, as the worldserver
//!   leaves zero fields out); a values block sets the fields it carries. Health, power type
//!   (`UNIT_FIELD_BYTES_0`'s top byte), the power and max power of that type, max health,
//!   level, and the AFK, DND and GHOST player flags.
//! - SMSG_INIT_WORLD_STATES: map, zone and area (sent at login and on every zone change).
//! - SMSG_LEVELUP_INFO: the new level.
//!
//! A packet that does not decode is forwarded and otherwise ignored: the proxy never fails a
//! player for it. A packet that does not name the player's packed guid is not decoded at
//! all (one byte search), so other objects' updates cost little.
//!
//! Every field keeps the time it last changed ([`Tracked`]). A change becomes a
//! [`CharacterUpdate`] carrying only the fields that changed; the bus merges them per
//! character and publishes once a second.

use std::time::Duration;

use bytes::Bytes;

use super::Action;
use crate::wire::Opcode;
use crate::wire::packets::{InitWorldStates, LevelupInfo, WirePacket};
use crate::wire::update::{
    CompressedUpdateObject, UPDATE_INFLATED_MAX_BYTES, UpdateBlock, UpdateMask, UpdateObject,
};

/// Update field indexes of 3.3.5a (build 12340) that the state reads.
pub mod field {
    /// `UNIT_FIELD_BYTES_0`: race, class, gender, power type (top byte).
    pub const UNIT_FIELD_BYTES_0: u16 = 0x17;
    /// `UNIT_FIELD_HEALTH`.
    pub const UNIT_FIELD_HEALTH: u16 = 0x18;
    /// `UNIT_FIELD_POWER1`; powers 1..=7 follow.
    pub const UNIT_FIELD_POWER1: u16 = 0x19;
    /// `UNIT_FIELD_MAXHEALTH`.
    pub const UNIT_FIELD_MAXHEALTH: u16 = 0x20;
    /// `UNIT_FIELD_MAXPOWER1`; max powers 1..=7 follow.
    pub const UNIT_FIELD_MAXPOWER1: u16 = 0x21;
    /// `UNIT_FIELD_LEVEL`.
    pub const UNIT_FIELD_LEVEL: u16 = 0x36;
    /// `PLAYER_FLAGS`.
    pub const PLAYER_FLAGS: u16 = 0x96;
}

/// Power types a unit has a field for (mana, rage, focus, energy, happiness, runes, runic
/// power).
pub const POWER_TYPES: usize = 7;

/// `PLAYER_FLAGS` bits the state keeps.
pub mod player_flag {
    /// Away.
    pub const AFK: u32 = 0x2;
    /// Busy.
    pub const DND: u32 = 0x4;
    /// A ghost (dead, released).
    pub const GHOST: u32 = 0x10;
}

/// A value and when it last changed (`None`: never seen). The time is kept in nanoseconds
/// (16 bytes a field rather than 24; the player's state has 22 of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tracked<T> {
    /// The value, once seen.
    pub value: Option<T>,
    changed_ns: u64,
}

impl<T: Copy + PartialEq> Tracked<T> {
    /// Sets the value; returns it when it changed (a first sighting is a change).
    fn set(&mut self, value: T, now: Duration) -> Option<T> {
        if self.value == Some(value) {
            return None;
        }
        self.value = Some(value);
        // Session time past 584 years reads as then.
        self.changed_ns = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
        Some(value)
    }

    /// When it last changed.
    pub fn changed_at(&self) -> Duration {
        Duration::from_nanos(self.changed_ns)
    }

    /// Whether it is known and changed within `max_age` of `now`.
    pub fn fresh(&self, now: Duration, max_age: Duration) -> bool {
        self.value.is_some() && now.saturating_sub(self.changed_at()) <= max_age
    }
}

/// One character's changes for `gw.char.chars-updates` (ToCloud9's `CharacterUpdate`): a
/// field is `Some` when it changed. Merging keeps the later value of each field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CharacterUpdate {
    /// `i`: the character's guid.
    pub guid: u64,
    /// `l`: level.
    pub level: Option<u8>,
    /// `m`: map.
    pub map: Option<u32>,
    /// `a`: area.
    pub area: Option<u32>,
    /// `z`: zone.
    pub zone: Option<u32>,
    /// `h`: health.
    pub health: Option<u32>,
    /// `hm`: max health.
    pub max_health: Option<u32>,
    /// `pt`: power type.
    pub power_type: Option<u8>,
    /// `p`: power of that type.
    pub power: Option<u32>,
    /// `pm`: max power of that type.
    pub max_power: Option<u32>,
}

impl CharacterUpdate {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        *self
            == Self {
                guid: self.guid,
                ..Self::default()
            }
    }

    /// Takes `later`'s fields where it has them (same character).
    pub fn merge(&mut self, later: &CharacterUpdate) {
        fn take<T: Copy>(mine: &mut Option<T>, later: Option<T>) {
            if later.is_some() {
                *mine = later;
            }
        }
        take(&mut self.level, later.level);
        take(&mut self.map, later.map);
        take(&mut self.area, later.area);
        take(&mut self.zone, later.zone);
        take(&mut self.health, later.health);
        take(&mut self.max_health, later.max_health);
        take(&mut self.power_type, later.power_type);
        take(&mut self.power, later.power);
        take(&mut self.max_power, later.max_power);
    }
}

/// What the gateway knows of the player's own character.
#[derive(Debug, Clone, Default)]
pub struct PlayerState {
    /// Level.
    pub level: Tracked<u8>,
    /// Map.
    pub map: Tracked<u32>,
    /// Zone.
    pub zone: Tracked<u32>,
    /// Area.
    pub area: Tracked<u32>,
    /// Health.
    pub health: Tracked<u32>,
    /// Max health.
    pub max_health: Tracked<u32>,
    /// Power type (0 mana, 1 rage, 2 focus, 3 energy, 4 happiness, 5 runes, 6 runic power).
    pub power_type: Tracked<u8>,
    /// Power, per type.
    pub powers: [Tracked<u32>; POWER_TYPES],
    /// Max power, per type.
    pub max_powers: [Tracked<u32>; POWER_TYPES],
    /// `PLAYER_FLAGS` & (AFK | DND | GHOST).
    pub flags: Tracked<u32>,
}

impl PlayerState {
    /// Whether the player is dead (no health, or a ghost), once health is known.
    pub fn dead(&self) -> Option<bool> {
        let ghost = self
            .flags
            .value
            .is_some_and(|f| f & player_flag::GHOST != 0);
        self.health.value.map(|h| h == 0 || ghost)
    }

    /// The power of the current type and its max.
    fn current_power(&self) -> (Option<u32>, Option<u32>) {
        let Some(t) = self.power_type.value else {
            return (None, None);
        };
        let t = usize::from(t);
        (
            self.powers.get(t).and_then(|p| p.value),
            self.max_powers.get(t).and_then(|p| p.value),
        )
    }
}

/// Reads one worldserver packet for the player `guid`: pushes the packet on to the client
/// first, then, if the state changed, the change to publish.
pub(super) fn from_world(
    guid: u64,
    state: &mut PlayerState,
    now: Duration,
    opcode: Opcode,
    body: Bytes,
    out: &mut Vec<Action>,
) {
    let change = state.observe(guid, now, opcode, &body);
    out.push(Action::ToClient(opcode, body));
    if let Some(change) = change.filter(|c| !c.is_empty()) {
        out.push(Action::Publish(change));
    }
}

/// The opcodes [`from_world`] reads.
pub fn reads(opcode: Opcode) -> bool {
    matches!(
        opcode,
        Opcode::SMSG_UPDATE_OBJECT
            | Opcode::SMSG_COMPRESSED_UPDATE_OBJECT
            | Opcode::SMSG_INIT_WORLD_STATES
            | Opcode::SMSG_LEVELUP_INFO
    )
}

impl PlayerState {
    /// Reads one worldserver packet for the player `guid` (an opcode [`reads`] names; others
    /// are ignored): the fields that changed, or `None` when the packet does not concern the
    /// player or does not decode.
    pub fn observe(
        &mut self,
        guid: u64,
        now: Duration,
        opcode: Opcode,
        body: &[u8],
    ) -> Option<CharacterUpdate> {
        let mut change = CharacterUpdate {
            guid,
            ..CharacterUpdate::default()
        };
        match opcode {
            Opcode::SMSG_INIT_WORLD_STATES => {
                let w = InitWorldStates::decode(body).ok()?;
                change.map = self.map.set(w.map, now);
                change.zone = self.zone.set(w.zone, now);
                change.area = self.area.set(w.area, now);
            }
            Opcode::SMSG_LEVELUP_INFO => {
                let l = LevelupInfo::decode(body).ok()?;
                change.level = self.level.set(clamp_u8(l.level), now);
            }
            Opcode::SMSG_UPDATE_OBJECT => {
                if !names(body, guid) {
                    return None;
                }
                let update = UpdateObject::decode(body).ok()?;
                apply(guid, self, now, &update, &mut change);
            }
            Opcode::SMSG_COMPRESSED_UPDATE_OBJECT => {
                let inflated =
                    CompressedUpdateObject::inflate(body, UPDATE_INFLATED_MAX_BYTES).ok()?;
                if !names(&inflated, guid) {
                    return None;
                }
                let update = UpdateObject::decode(&inflated).ok()?;
                apply(guid, self, now, &update, &mut change);
            }
            _ => return None,
        }
        Some(change)
    }
}

/// Whether `body` contains `guid` as a packed guid (every block names its object so): a
/// cheap test before decoding a packet that may not concern the player at all.
fn names(body: &[u8], guid: u64) -> bool {
    // The packed form: a mask byte, then the guid's non-zero bytes, low to high.
    let mut packed = [0u8; 9];
    let mut len = 1;
    for (i, byte) in guid.to_le_bytes().into_iter().enumerate() {
        if byte != 0 {
            packed[0] |= 1 << i;
            packed[len] = byte;
            len += 1;
        }
    }
    memchr::memmem::find(body, &packed[..len]).is_some()
}

fn clamp_u8(v: u32) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

fn apply(
    guid: u64,
    state: &mut PlayerState,
    now: Duration,
    update: &UpdateObject,
    change: &mut CharacterUpdate,
) {
    let before = state.current_power();
    let type_before = state.power_type.value;
    for block in &update.blocks {
        match block {
            UpdateBlock::Create { guid: g, mask, .. } if *g == guid => {
                apply_mask(state, now, mask, true, change)
            }
            UpdateBlock::Values { guid: g, mask } if *g == guid => {
                apply_mask(state, now, mask, false, change)
            }
            _ => {}
        }
    }
    // Power and max power are published for the current type: a new type, or a change of
    // its values, publishes both.
    let after = state.current_power();
    if after != before || state.power_type.value != type_before {
        change.power = after.0;
        change.max_power = after.1;
    }
}

/// Applies a mask's fields. A create block sets every tracked field: what it leaves out is 0.
fn apply_mask(
    state: &mut PlayerState,
    now: Duration,
    mask: &UpdateMask,
    create: bool,
    change: &mut CharacterUpdate,
) {
    let get = |index: u16| mask.get(index).or(create.then_some(0));
    if let Some(v) = get(field::UNIT_FIELD_HEALTH) {
        change.health = state.health.set(v, now).or(change.health);
    }
    if let Some(v) = get(field::UNIT_FIELD_MAXHEALTH) {
        change.max_health = state.max_health.set(v, now).or(change.max_health);
    }
    if let Some(v) = get(field::UNIT_FIELD_LEVEL) {
        change.level = state.level.set(clamp_u8(v), now).or(change.level);
    }
    if let Some(v) = get(field::UNIT_FIELD_BYTES_0) {
        let power_type = (v >> 24) as u8;
        change.power_type = state.power_type.set(power_type, now).or(change.power_type);
    }
    for (i, (power, max)) in state
        .powers
        .iter_mut()
        .zip(state.max_powers.iter_mut())
        .enumerate()
    {
        // Seven consecutive fields each: the offsets fit in a u16.
        let offset = i as u16;
        if let Some(v) = get(field::UNIT_FIELD_POWER1 + offset) {
            power.set(v, now);
        }
        if let Some(v) = get(field::UNIT_FIELD_MAXPOWER1 + offset) {
            max.set(v, now);
        }
    }
    if let Some(v) = get(field::PLAYER_FLAGS) {
        let kept = v & (player_flag::AFK | player_flag::DND | player_flag::GHOST);
        state.flags.set(kept, now);
    }
}

#[cfg(test)]
mod tests;
