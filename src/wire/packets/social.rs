//! Friends: SMSG_FRIEND_STATUS, the line a client shows when a friend comes online, goes
//! offline, or a friend list change is answered.

use bytes::{BufMut, BytesMut};

use super::{NAME_MAX_BYTES, WirePacket};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// Longest friend note accepted (bytes, NUL excluded): the client allows 48 characters.
pub const FRIEND_NOTE_MAX_BYTES: usize = 4 * NAME_MAX_BYTES;

/// SMSG_FRIEND_STATUS result codes (AzerothCore's `FriendsResult`) the gateway renders.
pub mod friend_result {
    /// The friend list could not be read or changed ("Database error").
    pub const DB_ERROR: u8 = 0x00;
    /// The friend list is full.
    pub const LIST_FULL: u8 = 0x01;
    /// A friend came online (carries where and what it is).
    pub const ONLINE: u8 = 0x02;
    /// A friend went offline.
    pub const OFFLINE: u8 = 0x03;
    /// A friend was removed.
    pub const REMOVED: u8 = 0x05;
    /// A friend was added and is online (carries the note, then where and what it is).
    pub const ADDED_ONLINE: u8 = 0x06;
    /// A friend was added and is offline (carries the note).
    pub const ADDED_OFFLINE: u8 = 0x07;
    /// No character of that name ("Player not found").
    pub const NOT_FOUND: u8 = 0x04;
    /// Already a friend.
    pub const ALREADY: u8 = 0x08;
    /// One cannot befriend oneself.
    pub const SELF: u8 = 0x09;
    /// The ignore list is full.
    pub const IGNORE_FULL: u8 = 0x0B;
    /// One cannot ignore oneself.
    pub const IGNORE_SELF: u8 = 0x0C;
    /// No character of that name to ignore.
    pub const IGNORE_NOT_FOUND: u8 = 0x0D;
    /// Already ignored.
    pub const IGNORE_ALREADY: u8 = 0x0E;
    /// Now ignored.
    pub const IGNORE_ADDED: u8 = 0x0F;
    /// No longer ignored.
    pub const IGNORE_REMOVED: u8 = 0x10;
}

/// What an online friend is doing: the part of SMSG_FRIEND_STATUS after ONLINE and
/// ADDED_ONLINE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FriendOnline {
    /// `FriendStatus` flags: 1 online, 2 AFK, 4 DND.
    pub status: u8,
    /// Area id.
    pub area: u32,
    /// Level.
    pub level: u32,
    /// Class id.
    pub class: u32,
}

/// SMSG_FRIEND_STATUS (0x068): u8 result, u64 guid, then a cstr note for ADDED_ONLINE and
/// ADDED_OFFLINE, then u8 status, u32 area, u32 level, u32 class for ONLINE and ADDED_ONLINE.
/// Other results carry nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FriendStatus {
    /// A [`friend_result`] value (or another `FriendsResult`, which carries nothing more).
    pub result: u8,
    /// The friend.
    pub guid: u64,
    /// The note, for the ADDED results (empty otherwise, and not sent).
    pub note: String,
    /// Where the friend is, for ONLINE and ADDED_ONLINE (zeros when `None`).
    pub online: Option<FriendOnline>,
}

/// A note as the client keeps it: cut at a NUL, and to [`FRIEND_NOTE_MAX_BYTES`] on a
/// character boundary.
pub(super) fn clean_note(note: &str) -> &str {
    let note = note.split('\0').next().unwrap_or_default();
    let mut cut = note.len().min(FRIEND_NOTE_MAX_BYTES);
    while !note.is_char_boundary(cut) {
        cut -= 1;
    }
    &note[..cut]
}

fn has_note(result: u8) -> bool {
    matches!(
        result,
        friend_result::ADDED_ONLINE | friend_result::ADDED_OFFLINE
    )
}

fn has_online(result: u8) -> bool {
    matches!(result, friend_result::ONLINE | friend_result::ADDED_ONLINE)
}

impl WirePacket for FriendStatus {
    const OPCODE: Opcode = Opcode::SMSG_FRIEND_STATUS;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.result);
        out.put_u64_le(self.guid);
        if has_note(self.result) {
            out.put_cstr(clean_note(&self.note));
        }
        if has_online(self.result) {
            let o = self.online.unwrap_or_default();
            out.put_u8(o.status);
            out.put_u32_le(o.area);
            out.put_u32_le(o.level);
            out.put_u32_le(o.class);
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let result = r.u8("result")?;
        let guid = r.u64("guid")?;
        let note = if has_note(result) {
            r.cstr("note", FRIEND_NOTE_MAX_BYTES)?.to_owned()
        } else {
            String::new()
        };
        let online = if has_online(result) {
            Some(FriendOnline {
                status: r.u8("status")?,
                area: r.u32("area")?,
                level: r.u32("level")?,
                class: r.u32("class")?,
            })
        } else {
            None
        };
        Ok(Self {
            result,
            guid,
            note,
            online,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_and_offline_layouts() {
        let online = FriendStatus {
            result: friend_result::ONLINE,
            guid: 0x0102,
            note: String::new(),
            online: Some(FriendOnline {
                status: 1,
                area: 12,
                level: 80,
                class: 4,
            }),
        };
        let body = online.to_body();
        assert_eq!(
            body.as_ref(),
            [
                2, 2, 1, 0, 0, 0, 0, 0, 0, 1, 12, 0, 0, 0, 80, 0, 0, 0, 4, 0, 0, 0
            ]
        );
        assert_eq!(FriendStatus::decode(&body), Ok(online));
        let offline = FriendStatus {
            result: friend_result::OFFLINE,
            guid: 7,
            ..FriendStatus::default()
        };
        let body = offline.to_body();
        assert_eq!(body.as_ref(), [3, 7, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(FriendStatus::decode(&body), Ok(offline));
    }

    #[test]
    fn added_carries_the_note_and_every_prefix_is_an_error() {
        let added = FriendStatus {
            result: friend_result::ADDED_ONLINE,
            guid: 9,
            note: "tank ✓".into(),
            online: Some(FriendOnline {
                status: 3,
                area: 1,
                level: 2,
                class: 3,
            }),
        };
        let body = added.to_body();
        assert_eq!(FriendStatus::decode(&body), Ok(added));
        for end in 0..body.len() {
            assert!(FriendStatus::decode(&body[..end]).is_err(), "prefix {end}");
        }
    }
}
