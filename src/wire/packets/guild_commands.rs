//! The client's guild commands, the guild query, and their answers (SMSG_GUILD_QUERY_RESPONSE,
//! SMSG_GUILD_COMMAND_RESULT), as AzerothCore's guild handlers read and write them. Accept,
//! decline and leave have no body and need no type.

use bytes::{BufMut, BytesMut};

use super::{GUILD_NOTE_MAX_BYTES, GUILD_RANKS_MAX, NAME_MAX_BYTES, WirePacket};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// Longest message of the day or guild information accepted (bytes, NUL excluded): the
/// client allows 128 and 500 characters.
pub const GUILD_TEXT_MAX_BYTES: usize = 2048;

/// SMSG_GUILD_COMMAND_RESULT commands (AzerothCore's `GuildCommandType`) the gateway uses.
pub mod guild_command {
    /// An invitation.
    pub const INVITE: u32 = 1;
    /// Leaving.
    pub const QUIT: u32 = 3;
    /// A promotion.
    pub const PROMOTE: u32 = 6;
    /// A demotion.
    pub const DEMOTE: u32 = 7;
    /// A removal.
    pub const REMOVE: u32 = 8;
    /// The message of the day.
    pub const EDIT_MOTD: u32 = 11;
    /// A member's note.
    pub const PUBLIC_NOTE: u32 = 19;
}

/// SMSG_GUILD_COMMAND_RESULT errors (AzerothCore's `GuildCommandError`) the gateway renders.
pub mod guild_error {
    /// Done.
    pub const SUCCESS: u32 = 0;
    /// The invitee is in a guild already.
    pub const ALREADY_IN_GUILD_S: u32 = 3;
    /// Not allowed at this rank.
    pub const PERMISSIONS: u32 = 8;
    /// The player is in no guild.
    pub const PLAYER_NOT_IN_GUILD: u32 = 9;
    /// No such player.
    pub const PLAYER_NOT_FOUND_S: u32 = 11;
}

cstr_packet! {
    /// CMSG_GUILD_INVITE (0x082): cstr name.
    GuildInviteRequest => CMSG_GUILD_INVITE, name, NAME_MAX_BYTES;
    /// CMSG_GUILD_PROMOTE (0x08B): cstr name.
    GuildPromote => CMSG_GUILD_PROMOTE, name, NAME_MAX_BYTES;
    /// CMSG_GUILD_DEMOTE (0x08C): cstr name.
    GuildDemote => CMSG_GUILD_DEMOTE, name, NAME_MAX_BYTES;
    /// CMSG_GUILD_REMOVE (0x08E): cstr name.
    GuildRemove => CMSG_GUILD_REMOVE, name, NAME_MAX_BYTES;
    /// CMSG_GUILD_MOTD (0x091): cstr message of the day (may be empty).
    GuildSetMotd => CMSG_GUILD_MOTD, text, GUILD_TEXT_MAX_BYTES;
    /// CMSG_GUILD_INFO_TEXT (0x2FC): cstr guild information.
    GuildSetInfo => CMSG_GUILD_INFO_TEXT, text, GUILD_TEXT_MAX_BYTES;
    /// CMSG_GUILD_ADD_RANK (0x232): cstr the new rank's name.
    GuildAddRank => CMSG_GUILD_ADD_RANK, name, NAME_MAX_BYTES;
}

/// CMSG_GUILD_SET_PUBLIC_NOTE (0x234) and CMSG_GUILD_SET_OFFICER_NOTE (0x235): cstr name,
/// cstr note. `officer` says which (it is the opcode, not a field).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuildSetNote {
    /// The member's name as typed.
    pub name: String,
    /// The note.
    pub note: String,
}

impl GuildSetNote {
    /// Reads either note opcode's body.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            name: r.cstr("name", NAME_MAX_BYTES)?.to_owned(),
            note: r.cstr("note", GUILD_NOTE_MAX_BYTES)?.to_owned(),
        })
    }

    /// Writes the body.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_cstr(&self.name);
        out.put_cstr(&self.note);
    }
}

/// CMSG_GUILD_QUERY (0x054): u32 guild id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuildQuery {
    /// The guild asked about.
    pub guild_id: u32,
}

impl WirePacket for GuildQuery {
    const OPCODE: Opcode = Opcode::CMSG_GUILD_QUERY;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.guild_id);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self {
            guild_id: Reader::new(body).u32("guild id")?,
        })
    }
}

/// SMSG_GUILD_QUERY_RESPONSE (0x055): u32 id, cstr name, always [`GUILD_RANKS_MAX`] cstr rank
/// names (empty past the guild's ranks), u32 emblem style, emblem color, border style, border
/// color, background color, then u32 the number of ranks (AzerothCore adds it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuildQueryResponse {
    /// The guild.
    pub guild_id: u32,
    /// Its name.
    pub name: String,
    /// Its rank names, at most [`GUILD_RANKS_MAX`].
    pub ranks: Vec<String>,
    /// Emblem style, emblem color, border style, border color, background color.
    pub emblem: [u32; 5],
}

impl WirePacket for GuildQueryResponse {
    const OPCODE: Opcode = Opcode::SMSG_GUILD_QUERY_RESPONSE;
    fn encode(&self, out: &mut BytesMut) {
        let ranks = &self.ranks[..self.ranks.len().min(GUILD_RANKS_MAX)];
        out.put_u32_le(self.guild_id);
        out.put_cstr(&self.name);
        for i in 0..GUILD_RANKS_MAX {
            out.put_cstr(ranks.get(i).map_or("", String::as_str));
        }
        for v in self.emblem {
            out.put_u32_le(v);
        }
        out.put_u32_le(ranks.len() as u32);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let guild_id = r.u32("guild id")?;
        let name = r.cstr("name", NAME_MAX_BYTES)?.to_owned();
        let mut names = Vec::with_capacity(GUILD_RANKS_MAX);
        for _ in 0..GUILD_RANKS_MAX {
            names.push(r.cstr("rank name", NAME_MAX_BYTES)?.to_owned());
        }
        let mut emblem = [0; 5];
        for v in &mut emblem {
            *v = r.u32("emblem")?;
        }
        let count = r.u32("rank count")? as usize;
        if count > GUILD_RANKS_MAX {
            return Err(DecodeError::TooLarge {
                field: "rank count",
                value: count as u64,
                limit: GUILD_RANKS_MAX as u64,
            });
        }
        names.truncate(count);
        Ok(Self {
            guild_id,
            name,
            ranks: names,
            emblem,
        })
    }
}

/// SMSG_GUILD_COMMAND_RESULT (0x093): u32 command, cstr parameter, u32 error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuildCommandResult {
    /// A [`guild_command`].
    pub command: u32,
    /// The name (or text) it concerns.
    pub param: String,
    /// A [`guild_error`].
    pub error: u32,
}

impl WirePacket for GuildCommandResult {
    const OPCODE: Opcode = Opcode::SMSG_GUILD_COMMAND_RESULT;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.command);
        out.put_cstr(&self.param);
        out.put_u32_le(self.error);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            command: r.u32("command")?,
            param: r.cstr("param", GUILD_TEXT_MAX_BYTES)?.to_owned(),
            error: r.u32("error")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_response_always_writes_ten_rank_names_and_the_count() {
        let q = GuildQueryResponse {
            guild_id: 9,
            name: "Nine".into(),
            ranks: vec!["GM".into(), "Member".into()],
            emblem: [1, 2, 3, 4, 5],
        };
        let body = q.to_body();
        let mut expected = vec![9, 0, 0, 0];
        expected.extend_from_slice(b"Nine\0GM\0Member\0");
        expected.extend_from_slice(&[0; 8]);
        for v in 1..=5u32 {
            expected.extend_from_slice(&v.to_le_bytes());
        }
        expected.extend_from_slice(&2u32.to_le_bytes());
        assert_eq!(body.as_ref(), expected.as_slice());
        assert_eq!(GuildQueryResponse::decode(&body), Ok(q));
        for end in 0..body.len() {
            assert!(
                GuildQueryResponse::decode(&body[..end]).is_err(),
                "prefix {end}"
            );
        }
    }

    #[test]
    fn command_result_and_requests() {
        let r = GuildCommandResult {
            command: guild_command::INVITE,
            param: "Bob".into(),
            error: guild_error::ALREADY_IN_GUILD_S,
        };
        assert_eq!(
            r.to_body().as_ref(),
            [1, 0, 0, 0, b'B', b'o', b'b', 0, 3, 0, 0, 0]
        );
        assert_eq!(GuildCommandResult::decode(&r.to_body()), Ok(r));
        assert_eq!(
            GuildInviteRequest::decode(b"bob\0"),
            Ok(GuildInviteRequest { name: "bob".into() })
        );
        assert_eq!(GuildSetMotd::decode(b"\0"), Ok(GuildSetMotd::default()));
        assert!(GuildRemove::decode(b"no terminator").is_err());
        let note = GuildSetNote {
            name: "Al".into(),
            note: "tank".into(),
        };
        let mut out = BytesMut::new();
        note.encode(&mut out);
        assert_eq!(out.as_ref(), b"Al\0tank\0");
        assert_eq!(GuildSetNote::decode(&out), Ok(note));
        assert_eq!(
            GuildQuery::decode(&[9, 0, 0, 0]),
            Ok(GuildQuery { guild_id: 9 })
        );
    }
}
