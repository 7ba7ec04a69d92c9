//! The friend and ignore list: the client's requests (CMSG_CONTACT_LIST, CMSG_ADD_FRIEND,
//! CMSG_DEL_FRIEND, CMSG_SET_CONTACT_NOTES, CMSG_ADD_IGNORE, CMSG_DEL_IGNORE) and the list
//! itself (SMSG_CONTACT_LIST), as AzerothCore's social handlers read and write them.

use bytes::{BufMut, BytesMut};

use super::social::clean_note;
use super::{FRIEND_NOTE_MAX_BYTES, FriendOnline, NAME_MAX_BYTES, WirePacket};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// Friends the client's list holds at most (AzerothCore's `SOCIALMGR_FRIEND_LIMIT`).
pub const CONTACTS_FRIENDS_MAX: usize = 50;
/// Ignored characters the client's list holds at most (`SOCIALMGR_IGNORE_LIMIT`).
pub const CONTACTS_IGNORED_MAX: usize = 50;
/// Entries an SMSG_CONTACT_LIST carries at most: friends, ignored and muted.
pub const CONTACTS_MAX: usize = 150;

/// What a contact is to the player (`SocialFlag`), and which kinds a list request asks for.
pub mod contact_flag {
    /// A friend.
    pub const FRIEND: u32 = 0x01;
    /// Ignored.
    pub const IGNORED: u32 = 0x02;
    /// Muted (voice chat).
    pub const MUTED: u32 = 0x04;
    /// Every kind.
    pub const ALL: u32 = 0x07;
}

/// CMSG_CONTACT_LIST (0x066): u32 flags, the kinds of contact asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContactListRequest {
    /// [`contact_flag`] bits.
    pub flags: u32,
}

impl WirePacket for ContactListRequest {
    const OPCODE: Opcode = Opcode::CMSG_CONTACT_LIST;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.flags);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        Ok(Self {
            flags: Reader::new(body).u32("flags")?,
        })
    }
}

/// One entry of SMSG_CONTACT_LIST.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// The contact's guid.
    pub guid: u64,
    /// [`contact_flag`] bits: what the contact is to the player.
    pub flags: u32,
    /// The player's note.
    pub note: String,
    /// For a friend that is online: its status flags (not 0), area, level and class.
    /// An offline friend, or a contact that is not a friend, has `None`.
    pub online: Option<FriendOnline>,
}

/// SMSG_CONTACT_LIST (0x067): u32 flags (the kinds the list holds), u32 count, then per
/// contact u64 guid, u32 flags, cstr note and, for a friend, u8 status, followed by u32 area,
/// u32 level and u32 class when the status is not 0 (online).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContactList {
    /// The [`contact_flag`] bits asked for.
    pub flags: u32,
    /// The contacts, at most [`CONTACTS_MAX`] (more are not sent).
    pub contacts: Vec<Contact>,
}

impl WirePacket for ContactList {
    const OPCODE: Opcode = Opcode::SMSG_CONTACT_LIST;
    fn encode(&self, out: &mut BytesMut) {
        let contacts = &self.contacts[..self.contacts.len().min(CONTACTS_MAX)];
        out.put_u32_le(self.flags);
        out.put_u32_le(contacts.len() as u32);
        for c in contacts {
            out.put_u64_le(c.guid);
            out.put_u32_le(c.flags);
            out.put_cstr(clean_note(&c.note));
            if c.flags & contact_flag::FRIEND != 0 {
                match c.online.filter(|o| o.status != 0) {
                    Some(o) => {
                        out.put_u8(o.status);
                        out.put_u32_le(o.area);
                        out.put_u32_le(o.level);
                        out.put_u32_le(o.class);
                    }
                    None => out.put_u8(0),
                }
            }
        }
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let flags = r.u32("flags")?;
        // An entry is at least 13 bytes: never reserve more than the body could hold.
        let count = r.count_u32("count", CONTACTS_MAX, 13)?;
        let mut contacts = Vec::with_capacity(count);
        for _ in 0..count {
            let guid = r.u64("guid")?;
            let flags = r.u32("contact flags")?;
            let note = r.cstr("note", FRIEND_NOTE_MAX_BYTES)?.to_owned();
            let mut online = None;
            if flags & contact_flag::FRIEND != 0 {
                let status = r.u8("status")?;
                if status != 0 {
                    online = Some(FriendOnline {
                        status,
                        area: r.u32("area")?,
                        level: r.u32("level")?,
                        class: r.u32("class")?,
                    });
                }
            }
            contacts.push(Contact {
                guid,
                flags,
                note,
                online,
            });
        }
        Ok(Self { flags, contacts })
    }
}

/// CMSG_ADD_FRIEND (0x069): cstr name, cstr note.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddFriend {
    /// The character's name as typed.
    pub name: String,
    /// The note.
    pub note: String,
}

impl WirePacket for AddFriend {
    const OPCODE: Opcode = Opcode::CMSG_ADD_FRIEND;
    fn encode(&self, out: &mut BytesMut) {
        out.put_cstr(&self.name);
        out.put_cstr(clean_note(&self.note));
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            name: r.cstr("name", NAME_MAX_BYTES)?.to_owned(),
            note: r.cstr("note", FRIEND_NOTE_MAX_BYTES)?.to_owned(),
        })
    }
}

cstr_packet! {
    /// CMSG_ADD_IGNORE (0x06C): cstr name, as typed.
    AddIgnore => CMSG_ADD_IGNORE, name, NAME_MAX_BYTES;
}

/// CMSG_SET_CONTACT_NOTES (0x06B): u64 guid, cstr note.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetContactNotes {
    /// The friend.
    pub guid: u64,
    /// Its new note.
    pub note: String,
}

impl WirePacket for SetContactNotes {
    const OPCODE: Opcode = Opcode::CMSG_SET_CONTACT_NOTES;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u64_le(self.guid);
        out.put_cstr(clean_note(&self.note));
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Ok(Self {
            guid: r.u64("guid")?,
            note: r.cstr("note", FRIEND_NOTE_MAX_BYTES)?.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::packets::{DelFriend, DelIgnore};

    #[test]
    fn contact_list_layout() {
        let list = ContactList {
            flags: contact_flag::ALL,
            contacts: vec![
                Contact {
                    guid: 5,
                    flags: contact_flag::FRIEND,
                    note: "hi".into(),
                    online: Some(FriendOnline {
                        status: 1,
                        area: 12,
                        level: 80,
                        class: 4,
                    }),
                },
                Contact {
                    guid: 6,
                    flags: contact_flag::FRIEND,
                    note: String::new(),
                    online: None,
                },
                Contact {
                    guid: 7,
                    flags: contact_flag::IGNORED,
                    note: String::new(),
                    online: None,
                },
            ],
        };
        let body = list.to_body();
        #[rustfmt::skip]
        let expected: &[u8] = &[
            7, 0, 0, 0, 3, 0, 0, 0,
            5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, b'h', b'i', 0, 1, 12, 0, 0, 0, 80, 0, 0, 0, 4, 0, 0, 0,
            6, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0,
            7, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0,
        ];
        assert_eq!(body.as_ref(), expected);
        assert_eq!(ContactList::decode(&body), Ok(list));
        for end in 0..body.len() {
            assert!(ContactList::decode(&body[..end]).is_err(), "prefix {end}");
        }
    }

    #[test]
    fn a_list_over_the_bound_is_refused_and_cut_when_written() {
        let mut body = vec![7, 0, 0, 0];
        body.extend_from_slice(&(CONTACTS_MAX as u32 + 1).to_le_bytes());
        assert!(matches!(
            ContactList::decode(&body),
            Err(DecodeError::TooLarge { .. })
        ));
        let long = ContactList {
            flags: contact_flag::IGNORED,
            contacts: vec![
                Contact {
                    flags: contact_flag::IGNORED,
                    ..Contact::default()
                };
                CONTACTS_MAX + 3
            ],
        };
        let decoded = ContactList::decode(&long.to_body()).expect("decodes");
        assert_eq!(decoded.contacts.len(), CONTACTS_MAX);
    }

    #[test]
    fn requests_round_trip() {
        let add = AddFriend {
            name: "Bob".into(),
            note: "healer ✓".into(),
        };
        assert_eq!(add.to_body().as_ref(), b"Bob\0healer \xE2\x9C\x93\0");
        assert_eq!(AddFriend::decode(&add.to_body()), Ok(add));
        let notes = SetContactNotes {
            guid: 3,
            note: "x".into(),
        };
        assert_eq!(notes.to_body().as_ref(), [3, 0, 0, 0, 0, 0, 0, 0, b'x', 0]);
        assert_eq!(SetContactNotes::decode(&notes.to_body()), Ok(notes));
        assert_eq!(
            ContactListRequest::decode(&[1, 0, 0, 0]),
            Ok(ContactListRequest { flags: 1 })
        );
        assert_eq!(
            DelFriend::decode(&[9, 0, 0, 0, 0, 0, 0, 0]),
            Ok(DelFriend { guid: 9 })
        );
        assert_eq!(
            DelIgnore::decode(&[9, 0, 0, 0, 0, 0, 0, 0]),
            Ok(DelIgnore { guid: 9 })
        );
        assert_eq!(
            AddIgnore::decode(b"Al\0"),
            Ok(AddIgnore { name: "Al".into() })
        );
        assert!(AddFriend::decode(b"Bob\0").is_err());
        assert!(DelFriend::decode(&[1, 2, 3]).is_err());
    }

    #[test]
    fn a_note_is_cut_on_a_character_boundary() {
        let notes = SetContactNotes {
            guid: 1,
            note: "é".repeat(FRIEND_NOTE_MAX_BYTES),
        };
        let decoded = SetContactNotes::decode(&notes.to_body()).expect("decodes");
        assert_eq!(decoded.note, "é".repeat(FRIEND_NOTE_MAX_BYTES / 2));
    }
}
