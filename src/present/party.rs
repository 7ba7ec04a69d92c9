//! Party frames for group members on other worldservers.
//!
//! groupserver merges every gateway's `gw.char.chars-updates` and sends each group's online
//! members `group.members.updated`. Each update for another member becomes an incremental
//! SMSG_PARTY_MEMBER_STATS with the fields it carries (always with the status: online, or
//! offline and nothing else), with AzerothCore's field widths (power, level and zone are u16 on
//! the wire: larger values are clamped). Members on the player's own worldserver are that
//! worldserver's to describe: its own packets pass through untouched.
//!
//! What was heard is kept per member ([`PARTY_MEMBERS_MAX`] at most, the least recently heard
//! dropped first). CMSG_REQUEST_PARTY_MEMBER_STATS for a member heard within
//! [`PARTY_STATS_FRESH_MS`] is answered from it (SMSG_PARTY_MEMBER_STATS_FULL); for a stale or
//! unknown one the request goes to the worldserver, which answers for its own players (and
//! calls others offline, as a single server would for someone it does not have).

use std::collections::BTreeMap;
use std::time::Duration;

use super::gojson::{Field, Kind, Object};
use super::{Action, EventFate, Me, payload_object};
use crate::wire::packets::{PartyMemberStats, member_status};

/// Group members whose stats are kept, at most (a raid is 40).
pub const PARTY_MEMBERS_MAX: usize = 40;

/// A member heard from within this long is described from what was heard.
pub const PARTY_STATS_FRESH_MS: u64 = 60_000;

/// What was heard of one member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Member {
    online: bool,
    level: Option<u8>,
    zone: Option<u32>,
    hp: Option<u32>,
    max_hp: Option<u32>,
    power_type: Option<u8>,
    power: Option<u32>,
    max_power: Option<u32>,
    heard_at: Duration,
}

/// The player's group members, as heard from groupserver.
#[derive(Debug, Clone, Default)]
pub struct Party {
    members: BTreeMap<u64, Member>,
}

fn u16_of(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

impl Member {
    /// The frame for this member: everything known, or only the status when offline.
    fn stats(&self, guid: u64, full: bool) -> PartyMemberStats {
        if !self.online {
            return PartyMemberStats {
                full,
                guid,
                status: Some(member_status::OFFLINE),
                ..PartyMemberStats::default()
            };
        }
        PartyMemberStats {
            full,
            guid,
            status: Some(member_status::ONLINE),
            hp: self.hp,
            max_hp: self.max_hp,
            power_type: self.power_type,
            power: self.power.map(u16_of),
            max_power: self.max_power.map(u16_of),
            level: self.level.map(u16::from),
            zone: self.zone.map(u16_of),
        }
    }
}

impl Party {
    /// Members kept.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether no member is kept.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The FULL frame for `guid` if it was heard within [`PARTY_STATS_FRESH_MS`] of `now`.
    pub fn fresh_stats(&self, guid: u64, now: Duration) -> Option<PartyMemberStats> {
        let m = self.members.get(&guid)?;
        let fresh = now.saturating_sub(m.heard_at) <= Duration::from_millis(PARTY_STATS_FRESH_MS);
        fresh.then(|| m.stats(guid, true))
    }

    fn heard(&mut self, guid: u64, now: Duration) -> &mut Member {
        if !self.members.contains_key(&guid) && self.members.len() >= PARTY_MEMBERS_MAX {
            let stalest = self
                .members
                .iter()
                .min_by_key(|(g, m)| (m.heard_at, **g))
                .map(|(g, _)| *g);
            if let Some(g) = stalest {
                self.members.remove(&g);
            }
        }
        let m = self.members.entry(guid).or_insert(Member {
            online: true,
            ..Member::default()
        });
        m.heard_at = now;
        m
    }
}

/// Whether presentation renders this subject.
pub(super) fn renders(subject: &str) -> bool {
    subject == "group.members.updated"
}

/// `GroupMemberStatsUpdate`.
const UPDATE: &[Field] = &[
    Field::new("MemberGUID", Kind::U64),
    Field::new("IsOnline", Kind::Bool),
    Field::new("Level", Kind::U8),
    Field::new("Zone", Kind::U32),
    Field::new("CurHP", Kind::U32),
    Field::new("MaxHP", Kind::U32),
    Field::new("PowerType", Kind::U8),
    Field::new("CurPower", Kind::U32),
    Field::new("MaxPower", Kind::U32),
];

/// `GroupEventGroupMembersUpdatedPayload`, the fields read.
const MEMBERS_UPDATED: &[Field] = &[Field::new("Updates", Kind::Objects(UPDATE))];

/// Renders `group.members.updated` for `me`.
pub(super) fn render_event(
    me: &Me,
    party: &mut Party,
    now: Duration,
    payload: &[u8],
    out: &mut Vec<Action>,
) -> EventFate {
    let o = match payload_object(payload, MEMBERS_UPDATED) {
        Ok(o) => o,
        Err(fate) => return fate,
    };
    let mut rendered = false;
    for update in o.objects("Updates").into_iter().flatten() {
        let guid = update.uint("MemberGUID");
        if guid == me.guid || guid == 0 {
            continue; // the player's own frame is its worldserver's
        }
        let frame = apply(party.heard(guid, now), guid, &update);
        let (opcode, body) = frame.render();
        out.push(Action::ToClient(opcode, body));
        rendered = true;
    }
    if rendered {
        EventFate::Rendered
    } else {
        EventFate::NotForMe
    }
}

/// Merges one update; returns the incremental frame for what it carried.
fn apply(m: &mut Member, guid: u64, u: &Object<'_>) -> PartyMemberStats {
    // Checked against their Go types: these fit.
    let u32_of = |name| {
        u.opt_uint(name)
            .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
    };
    let u8_of = |name| u.opt_uint(name).map(|v| u8::try_from(v).unwrap_or(u8::MAX));
    if let Some(online) = u.opt_flag("IsOnline") {
        m.online = online;
    }
    let level = u8_of("Level");
    let zone = u32_of("Zone");
    let hp = u32_of("CurHP");
    let max_hp = u32_of("MaxHP");
    let power_type = u8_of("PowerType");
    let power = u32_of("CurPower");
    let max_power = u32_of("MaxPower");
    m.level = level.or(m.level);
    m.zone = zone.or(m.zone);
    m.hp = hp.or(m.hp);
    m.max_hp = max_hp.or(m.max_hp);
    m.power_type = power_type.or(m.power_type);
    m.power = power.or(m.power);
    m.max_power = max_power.or(m.max_power);
    if !m.online {
        return m.stats(guid, false);
    }
    PartyMemberStats {
        full: false,
        guid,
        status: Some(member_status::ONLINE),
        hp,
        max_hp,
        power_type,
        power: power.map(u16_of),
        max_power: max_power.map(u16_of),
        level: level.map(u16::from),
        zone: zone.map(u16_of),
    }
}

#[cfg(test)]
mod tests;
