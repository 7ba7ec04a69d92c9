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
