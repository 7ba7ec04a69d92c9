//! Guild notices: SMSG_GUILD_EVENT (the line a guild member sees when someone joins, leaves,
//! is promoted, or the message of the day changes) and SMSG_GUILD_INVITE (the invitation
//! dialog).

use bytes::{BufMut, BytesMut};

use super::{MOTD_LINE_MAX_BYTES, NAME_MAX_BYTES, WirePacket};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// Strings one SMSG_GUILD_EVENT carries, at most (AzerothCore's events carry up to three).
pub const GUILD_EVENT_PARAMS_MAX: usize = 3;

/// Longest guild event string accepted (bytes, NUL excluded): a message of the day at most.
pub const GUILD_EVENT_PARAM_MAX_BYTES: usize = MOTD_LINE_MAX_BYTES;

/// SMSG_GUILD_EVENT types (AzerothCore's `GuildEvents`) the gateway renders.
pub mod guild_event {
    /// `[promoter, member, rank]`.
    pub const PROMOTION: u8 = 0;
    /// `[demoter, member, rank]`.
    pub const DEMOTION: u8 = 1;
    /// `[message of the day]`.
    pub const MOTD: u8 = 2;
    /// `[member]` and its guid.
    pub const JOINED: u8 = 3;
    /// `[member]` and its guid.
    pub const LEFT: u8 = 4;
    /// `[member, kicker]`.
    pub const REMOVED: u8 = 5;
    /// `[rank id, rank name, ranks]`.
    pub const RANK_UPDATED: u8 = 10;
    /// `[ranks]`.
    pub const RANK_DELETED: u8 = 11;
    /// `[member]` and its guid.
    pub const SIGNED_ON: u8 = 12;
    /// `[member]` and its guid.
    pub const SIGNED_OFF: u8 = 13;

    /// Whether an event of this type ends with the member's guid.
    pub fn carries_guid(event: u8) -> bool {
        matches!(event, JOINED | LEFT | SIGNED_ON | SIGNED_OFF)
    }
}

/// SMSG_GUILD_EVENT (0x092): u8 event, u8 n, n × cstr, then a u64 guid for JOINED, LEFT,
/// SIGNED_ON and SIGNED_OFF (AzerothCore; 0 when `guid` is `None`). At most
/// [`GUILD_EVENT_PARAMS_MAX`] strings are sent, each cut at [`GUILD_EVENT_PARAM_MAX_BYTES`]
/// on a character boundary and at an embedded NUL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuildEvent {
    /// A [`guild_event`] value.
    pub event: u8,
    /// Its strings.
    pub params: Vec<String>,
    /// The member's guid, for the events that carry one.
    pub guid: Option<u64>,
}

fn cut(s: &str, max: usize) -> &str {
    let s = s.split('\0').next().unwrap_or_default();
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl WirePacket for GuildEvent {
    const OPCODE: Opcode = Opcode::SMSG_GUILD_EVENT;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.event);
        let params = &self.params[..self.params.len().min(GUILD_EVENT_PARAMS_MAX)];
        // At most GUILD_EVENT_PARAMS_MAX: fits a byte.
        out.put_u8(params.len() as u8);
        for p in params {
            out.put_cstr(cut(p, GUILD_EVENT_PARAM_MAX_BYTES));
        }
        if guild_event::carries_guid(self.event) {
            out.put_u64_le(self.guid.unwrap_or(0));
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let event = r.u8("event")?;
        let n = r.u8("param_count")?;
        if usize::from(n) > GUILD_EVENT_PARAMS_MAX {
            return Err(DecodeError::TooLarge {
                field: "param_count",
                value: u64::from(n),
                limit: GUILD_EVENT_PARAMS_MAX as u64,
            });
        }
        let mut params = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            params.push(r.cstr("param", GUILD_EVENT_PARAM_MAX_BYTES)?.to_owned());
        }
        let guid = if guild_event::carries_guid(event) {
            Some(r.u64("guid")?)
        } else {
            None
        };
        Ok(Self {
            event,
            params,
            guid,
        })
    }
}

/// SMSG_GUILD_INVITE (0x083): cstr inviter name, cstr guild name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuildInvite {
    /// Who invites.
    pub inviter: String,
    /// To which guild.
    pub guild: String,
}

impl WirePacket for GuildInvite {
    const OPCODE: Opcode = Opcode::SMSG_GUILD_INVITE;
    fn encode(&self, out: &mut BytesMut) {
        out.put_cstr(cut(&self.inviter, NAME_MAX_BYTES));
        out.put_cstr(cut(&self.guild, NAME_MAX_BYTES));
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            inviter: r.cstr("inviter", NAME_MAX_BYTES)?.to_owned(),
            guild: r.cstr("guild", NAME_MAX_BYTES)?.to_owned(),
        })
    }
}

/// Ranks a guild has, at most (AzerothCore's `GUILD_RANKS_MAX_COUNT`).
pub const GUILD_RANKS_MAX: usize = 10;
/// Members one roster lists, at most (AzerothCore's guilds hold 1000).
pub const GUILD_MEMBERS_MAX: usize = 1_000;
/// Guild bank tabs per rank in the roster's rank table.
pub const GUILD_BANK_TABS: usize = 6;
/// Longest roster note accepted (bytes, NUL excluded).
pub const GUILD_NOTE_MAX_BYTES: usize = 256;

/// One rank in SMSG_GUILD_ROSTER.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RosterRank {
    /// Rights bits.
    pub rights: u32,
    /// Gold the rank may withdraw per day.
    pub gold_per_day: u32,
    /// Per bank tab: (tab flags, item slots per day).
    pub tabs: [(u32, u32); GUILD_BANK_TABS],
}

/// One member in SMSG_GUILD_ROSTER.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RosterMember {
    /// Guid.
    pub guid: u64,
    /// Name.
    pub name: String,
    /// Rank id.
    pub rank: u32,
    /// Level.
    pub level: u8,
    /// Class id.
    pub class: u8,
    /// Gender id.
    pub gender: u8,
    /// Zone id.
    pub zone: u32,
    /// `None`: online; `Some(days)`: offline since that many days.
    pub days_offline: Option<f32>,
    /// Public note.
    pub note: String,
    /// Officer note.
    pub officer_note: String,
}

/// SMSG_GUILD_ROSTER (0x08A): u32 members, cstr message of the day, cstr guild info, u32
/// ranks, each (u32 rights, u32 gold per day, 6 × (u32 tab flags, u32 slots per day)), then
/// each member (u64 guid, u8 online, cstr name, u32 rank, u8 level, u8 class, u8 gender,
/// u32 zone, f32 days offline only when offline, cstr note, cstr officer note). At most
/// [`GUILD_RANKS_MAX`] ranks and [`GUILD_MEMBERS_MAX`] members are sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuildRoster {
    /// Message of the day.
    pub motd: String,
    /// Guild information text.
    pub info: String,
    /// Ranks, by id.
    pub ranks: Vec<RosterRank>,
    /// Members.
    pub members: Vec<RosterMember>,
}

impl WirePacket for GuildRoster {
    const OPCODE: Opcode = Opcode::SMSG_GUILD_ROSTER;
    fn encode(&self, out: &mut BytesMut) {
        let members = &self.members[..self.members.len().min(GUILD_MEMBERS_MAX)];
        let ranks = &self.ranks[..self.ranks.len().min(GUILD_RANKS_MAX)];
        // Both bounded above: they fit a u32.
        out.put_u32_le(members.len() as u32);
        out.put_cstr(cut(&self.motd, GUILD_EVENT_PARAM_MAX_BYTES));
        out.put_cstr(cut(&self.info, GUILD_EVENT_PARAM_MAX_BYTES));
        out.put_u32_le(ranks.len() as u32);
        for r in ranks {
            out.put_u32_le(r.rights);
            out.put_u32_le(r.gold_per_day);
            for (flags, slots) in r.tabs {
                out.put_u32_le(flags);
                out.put_u32_le(slots);
            }
        }
        for m in members {
            out.put_u64_le(m.guid);
            out.put_u8(u8::from(m.days_offline.is_none()));
            out.put_cstr(cut(&m.name, NAME_MAX_BYTES));
            out.put_u32_le(m.rank);
            out.put_u8(m.level);
            out.put_u8(m.class);
            out.put_u8(m.gender);
            out.put_u32_le(m.zone);
            if let Some(days) = m.days_offline {
                out.put_f32_le(days);
            }
            out.put_cstr(cut(&m.note, GUILD_NOTE_MAX_BYTES));
            out.put_cstr(cut(&m.officer_note, GUILD_NOTE_MAX_BYTES));
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let n = r.u32("member_count")?;
        let motd = r.cstr("motd", GUILD_EVENT_PARAM_MAX_BYTES)?.to_owned();
        let info = r.cstr("info", GUILD_EVENT_PARAM_MAX_BYTES)?.to_owned();
        let rank_count = r.u32("rank_count")?;
        let rank_count = r.check_count("rank_count", u64::from(rank_count), GUILD_RANKS_MAX, 56)?;
        let mut ranks = Vec::with_capacity(rank_count);
        for _ in 0..rank_count {
            let rights = r.u32("rights")?;
            let gold_per_day = r.u32("gold_per_day")?;
            let mut tabs = [(0, 0); GUILD_BANK_TABS];
            for tab in &mut tabs {
                *tab = (r.u32("tab_flags")?, r.u32("tab_slots")?);
            }
            ranks.push(RosterRank {
                rights,
                gold_per_day,
                tabs,
            });
        }
        let n = r.check_count("member_count", u64::from(n), GUILD_MEMBERS_MAX, 24)?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            let guid = r.u64("guid")?;
            let online = r.u8("online")? != 0;
            let name = r.cstr("name", NAME_MAX_BYTES)?.to_owned();
            let rank = r.u32("rank")?;
            let level = r.u8("level")?;
            let class = r.u8("class")?;
            let gender = r.u8("gender")?;
            let zone = r.u32("zone")?;
            let days_offline = if online {
                None
            } else {
                Some(r.f32("days_offline")?)
            };
            members.push(RosterMember {
                guid,
                name,
                rank,
                level,
                class,
                gender,
                zone,
                days_offline,
                note: r.cstr("note", GUILD_NOTE_MAX_BYTES)?.to_owned(),
                officer_note: r.cstr("officer_note", GUILD_NOTE_MAX_BYTES)?.to_owned(),
            });
        }
        Ok(Self {
            motd,
            info,
            ranks,
            members,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let joined = GuildEvent {
            event: guild_event::JOINED,
            params: vec!["Bob".into()],
            guid: Some(0x0102),
        };
        let body = joined.to_body();
        assert_eq!(
            body.as_ref(),
            [3, 1, b'B', b'o', b'b', 0, 2, 1, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(GuildEvent::decode(&body), Ok(joined));
        let motd = GuildEvent {
            event: guild_event::MOTD,
            params: vec!["hi".into()],
            guid: None,
        };
        let body = motd.to_body();
        assert_eq!(body.as_ref(), [2, 1, b'h', b'i', 0]);
        assert_eq!(GuildEvent::decode(&body), Ok(motd));
        let invite = GuildInvite {
            inviter: "Bob".into(),
            guild: "Ök".into(),
        };
        let body = invite.to_body();
        assert_eq!(body.as_ref(), b"Bob\0\xc3\x96k\0");
        assert_eq!(GuildInvite::decode(&body), Ok(invite));
    }

    #[test]
    fn a_roster_and_its_prefixes() {
        let roster = GuildRoster {
            motd: "hi".into(),
            info: String::new(),
            ranks: vec![RosterRank {
                rights: 0xF,
                gold_per_day: 100,
                tabs: [(1, 2); GUILD_BANK_TABS],
            }],
            members: vec![
                RosterMember {
                    guid: 9,
                    name: "Bob".into(),
                    rank: 0,
                    level: 80,
                    class: 1,
                    gender: 0,
                    zone: 12,
                    days_offline: None,
                    note: "tank".into(),
                    officer_note: String::new(),
                },
                RosterMember {
                    guid: 10,
                    name: "Eve".into(),
                    days_offline: Some(1.5),
                    ..RosterMember::default()
                },
            ],
        };
        let body = roster.to_body();
        // The offline member carries its days (f32 1.5) after the zone; the online one not.
        assert_eq!(
            body.len(),
            4 + 3
                + 1
                + 4
                + 56
                + (8 + 1 + 4 + 4 + 3 + 4 + 5 + 1)
                + (8 + 1 + 4 + 4 + 3 + 4 + 4 + 1 + 1)
        );
        assert_eq!(GuildRoster::decode(&body), Ok(roster));
        for end in 0..body.len() {
            assert!(GuildRoster::decode(&body[..end]).is_err(), "prefix {end}");
        }
    }

    #[test]
    fn bounds_and_prefixes() {
        let many = GuildEvent {
            event: guild_event::PROMOTION,
            params: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            guid: None,
        };
        let back = GuildEvent::decode(&many.to_body()).expect("decodes");
        assert_eq!(back.params, vec!["a", "b", "c"], "at most three sent");
        assert!(GuildEvent::decode(&[0, 4, 0, 0, 0, 0]).is_err());
        let long = GuildEvent {
            event: guild_event::MOTD,
            params: vec!["é".repeat(GUILD_EVENT_PARAM_MAX_BYTES)],
            guid: None,
        };
        let back = GuildEvent::decode(&long.to_body()).expect("decodes");
        assert!(back.params[0].len() <= GUILD_EVENT_PARAM_MAX_BYTES);
        let body = GuildEvent {
            event: guild_event::LEFT,
            params: vec!["Bob".into()],
            guid: Some(9),
        }
        .to_body();
        for end in 0..body.len() {
            assert!(GuildEvent::decode(&body[..end]).is_err(), "prefix {end}");
        }
    }
}
