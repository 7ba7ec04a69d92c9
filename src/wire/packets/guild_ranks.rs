//! Guild ranks: the client's rank change (CMSG_GUILD_RANK), new rank (CMSG_GUILD_ADD_RANK,
//! a [`super::GuildAddRank`] name) and the player's permissions (MSG_GUILD_PERMISSIONS), as
//! AzerothCore reads and writes them. Deleting the last rank (CMSG_GUILD_DEL_RANK) and asking
//! for the permissions have no body.

use bytes::{BufMut, BytesMut};

use super::{GUILD_BANK_TABS, NAME_MAX_BYTES, WirePacket};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// Per bank tab: u32 rights, u32 items a day.
fn put_tabs(out: &mut BytesMut, tabs: &[(u32, u32); GUILD_BANK_TABS]) {
    for &(rights, items) in tabs {
        out.put_u32_le(rights);
        out.put_u32_le(items);
    }
}

fn read_tabs(r: &mut Reader<'_>) -> Result<[(u32, u32); GUILD_BANK_TABS], DecodeError> {
    let mut tabs = [(0, 0); GUILD_BANK_TABS];
    for tab in &mut tabs {
        *tab = (r.u32("tab rights")?, r.u32("tab items")?);
    }
    Ok(tabs)
}

/// CMSG_GUILD_RANK (0x231): u32 rank id, u32 rights, cstr name, u32 gold per day, then per
/// bank tab u32 rights and u32 items per day ([`GUILD_BANK_TABS`] of them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuildRankUpdate {
    /// The rank.
    pub rank: u32,
    /// Its rights (`GuildRankRights`).
    pub rights: u32,
    /// Its name.
    pub name: String,
    /// Gold it may withdraw a day.
    pub gold_per_day: u32,
    /// Per bank tab: rights and items a day.
    pub tabs: [(u32, u32); GUILD_BANK_TABS],
}

impl WirePacket for GuildRankUpdate {
    const OPCODE: Opcode = Opcode::CMSG_GUILD_RANK;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.rank);
        out.put_u32_le(self.rights);
        out.put_cstr(&self.name);
        out.put_u32_le(self.gold_per_day);
        put_tabs(out, &self.tabs);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let rank = r.u32("rank")?;
        let rights = r.u32("rights")?;
        let name = r.cstr("name", NAME_MAX_BYTES)?.to_owned();
        let gold_per_day = r.u32("gold per day")?;
        let tabs = read_tabs(&mut r)?;
        Ok(Self {
            rank,
            rights,
            name,
            gold_per_day,
            tabs,
        })
    }
}

/// MSG_GUILD_PERMISSIONS to the client (0x3FD): u32 rank id, u32 rights, u32 gold per day,
/// u8 bank tabs bought, then [`GUILD_BANK_TABS`] × (u32 tab rights, u32 items a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuildPermissions {
    /// The player's rank.
    pub rank: u32,
    /// Its rights.
    pub rights: u32,
    /// Gold it may withdraw a day.
    pub gold_per_day: u32,
    /// Bank tabs the guild bought.
    pub bank_tabs: u8,
    /// Per bank tab: rights and items a day.
    pub tabs: [(u32, u32); GUILD_BANK_TABS],
}

impl WirePacket for GuildPermissions {
    const OPCODE: Opcode = Opcode::MSG_GUILD_PERMISSIONS;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.rank);
        out.put_u32_le(self.rights);
        out.put_u32_le(self.gold_per_day);
        out.put_u8(self.bank_tabs);
        put_tabs(out, &self.tabs);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let rank = r.u32("rank")?;
        let rights = r.u32("rights")?;
        let gold_per_day = r.u32("gold per day")?;
        let bank_tabs = r.u8("bank tabs")?;
        let tabs = read_tabs(&mut r)?;
        Ok(Self {
            rank,
            rights,
            gold_per_day,
            bank_tabs,
            tabs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let update = GuildRankUpdate {
            rank: 2,
            rights: 0x43,
            name: "Raider".into(),
            gold_per_day: 100,
            tabs: [(1, 2); GUILD_BANK_TABS],
        };
        let body = update.to_body();
        assert_eq!(body.len(), 4 + 4 + 7 + 4 + 8 * GUILD_BANK_TABS);
        assert_eq!(&body[..15], b"\x02\0\0\0\x43\0\0\0Raider\0");
        assert_eq!(GuildRankUpdate::decode(&body), Ok(update));
        let permissions = GuildPermissions {
            rank: 1,
            rights: 0xF1FF,
            gold_per_day: 7,
            bank_tabs: 0,
            tabs: [(0, 0); GUILD_BANK_TABS],
        };
        let body = permissions.to_body();
        assert_eq!(body.len(), 13 + 8 * GUILD_BANK_TABS);
        assert_eq!(&body[..13], [1, 0, 0, 0, 0xFF, 0xF1, 0, 0, 7, 0, 0, 0, 0]);
        assert_eq!(GuildPermissions::decode(&body), Ok(permissions));
        for end in 0..body.len() {
            assert!(
                GuildPermissions::decode(&body[..end]).is_err(),
                "prefix {end}"
            );
        }
    }
}
