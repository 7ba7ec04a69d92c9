//! The friend and ignore list through ToCloud9's charserver, as ToCloud9's own gateway keeps
//! it: the client's list requests and changes become charserver calls, and the answers are
//! rendered as AzerothCore's social manager renders them. The worldserver is not asked: it
//! only sees the characters on its own map, so its online states would be wrong for friends
//! elsewhere in the cluster.
//!
//! - CMSG_CONTACT_LIST: `GetFriendsList`, answered with SMSG_CONTACT_LIST (the kinds asked
//!   for; at most [`CONTACTS_FRIENDS_MAX`] friends and [`CONTACTS_IGNORED_MAX`] ignored).
//!   The worldserver's own SMSG_CONTACT_LIST (it sends one as the character enters the world)
//!   is replaced the same way; when charserver fails, the worldserver's list goes through.
//! - CMSG_ADD_FRIEND: `CharacterByName` (nobody of that name: NOT_FOUND), then `AddFriend`;
//!   its result, with the note and where an online friend is.
//! - CMSG_DEL_FRIEND: `RemoveFriend`, then REMOVED. CMSG_SET_CONTACT_NOTES: `SetFriendNote`,
//!   no answer (as AzerothCore).
//! - CMSG_ADD_IGNORE: `CharacterByName` (IGNORE_NOT_FOUND), then `AddIgnore`. charserver
//!   numbers its ignore results one below AzerothCore's (and IGNORE_FULL last); they are
//!   renumbered for the client. CMSG_DEL_IGNORE: `RemoveIgnore`, then IGNORE_REMOVED.
//! - The worldserver's SMSG_FRIEND_STATUS lines are dropped: the answers above and
//!   charserver's `friends.status.changed` events (see [`super::friends`]) replace them.
//!
//! A call that fails, or is not answered within `present_call_timeout_ms`, is shown as
//! AzerothCore shows a database failure (FriendsResult DB_ERROR), or as a system line for a
//! list the client asked for.

use bytes::Bytes;

use super::{Action, Me, ServiceRequest, system_line};
use crate::wire::packets::{
    AddFriend, AddIgnore, CONTACTS_FRIENDS_MAX, CONTACTS_IGNORED_MAX, Contact, ContactList,
    ContactListRequest, DelFriend, DelIgnore, FriendOnline, FriendStatus, SetContactNotes,
    WirePacket, contact_flag, friend_result,
};
use crate::wire::{Opcode, Packet};

/// The system line when the client asked for its list and charserver could not answer.
pub const UNAVAILABLE_LINE: &str =
    "Your friend list is unavailable: the characters service is not answering.";

/// Longest note kept, in characters (AzerothCore cuts notes to 48 for its database).
pub const NOTE_MAX_CHARS: usize = 48;

/// A call to charserver about `player`'s contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactCall {
    /// Whose list.
    pub player: u64,
    /// What to do.
    pub op: ContactOp,
}

/// What a [`ContactCall`] asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactOp {
    /// `GetFriendsList`, for a list of these [`contact_flag`] kinds. `fallback`: the
    /// worldserver's own list, sent instead if charserver fails.
    List {
        /// The kinds asked for.
        flags: u32,
        /// The worldserver's SMSG_CONTACT_LIST body, when it is the one being replaced.
        fallback: Option<Bytes>,
    },
    /// `CharacterByName`, before `AddFriend`.
    FindFriend {
        /// The name, normalised.
        name: String,
        /// The note to add the friend with.
        note: String,
    },
    /// `AddFriend`.
    AddFriend {
        /// The friend.
        guid: u64,
        /// Its name.
        name: String,
        /// The note.
        note: String,
    },
    /// `RemoveFriend`.
    RemoveFriend {
        /// The friend.
        guid: u64,
    },
    /// `SetFriendNote`.
    SetNote {
        /// The friend.
        guid: u64,
        /// The note.
        note: String,
    },
    /// `CharacterByName`, before `AddIgnore`.
    FindIgnore {
        /// The name, normalised.
        name: String,
    },
    /// `AddIgnore`.
    Ignore {
        /// The character to ignore.
        guid: u64,
    },
    /// `RemoveIgnore`.
    Unignore {
        /// The character no longer ignored.
        guid: u64,
    },
}

/// A friend as charserver lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListedFriend {
    /// Its guid.
    pub guid: u64,
    /// The player's note.
    pub note: String,
    /// Where it is when online (`status` 0: offline).
    pub online: FriendOnline,
}

/// charserver's answer to a [`ContactOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactReply {
    /// `GetFriendsList`: friends, then the ignored characters' guids.
    List {
        /// The friends.
        friends: Vec<ListedFriend>,
        /// The ignored characters.
        ignored: Vec<u64>,
    },
    /// `CharacterByName`: the named character's guid, if there is one.
    Found(Option<u64>),
    /// `AddFriend`: charserver's result code and where an online friend is.
    Added {
        /// charserver's result (AzerothCore's numbering for friends).
        result: u32,
        /// Where the friend is (`status` 0: offline).
        online: FriendOnline,
    },
    /// `AddIgnore`: charserver's result code (its own numbering).
    Ignored(u32),
    /// `RemoveFriend`, `SetFriendNote` or `RemoveIgnore` done.
    Done,
}

/// The client opcodes this family answers.
pub(super) fn intercepts_client(opcode: Opcode) -> bool {
    matches!(
        opcode,
        Opcode::CMSG_CONTACT_LIST
            | Opcode::CMSG_ADD_FRIEND
            | Opcode::CMSG_DEL_FRIEND
            | Opcode::CMSG_SET_CONTACT_NOTES
            | Opcode::CMSG_ADD_IGNORE
            | Opcode::CMSG_DEL_IGNORE
    )
}

/// The worldserver opcodes this family replaces.
pub(super) fn reads_world(opcode: Opcode) -> bool {
    opcode == Opcode::SMSG_CONTACT_LIST || opcode == Opcode::SMSG_FRIEND_STATUS
}

fn call(me: &Me, op: ContactOp, out: &mut Vec<Action>) {
    out.push(Action::Call(ServiceRequest::Contacts(ContactCall {
        player: me.guid,
        op,
    })));
}

/// The first `NOTE_MAX_CHARS` characters of a note.
fn short_note(note: &str) -> String {
    note.chars().take(NOTE_MAX_CHARS).collect()
}

/// A client packet of this family. `false`: it did not decode, and goes to the worldserver
/// as it came.
pub(super) fn from_client(me: &Me, p: &Packet, out: &mut Vec<Action>) -> bool {
    let op = match p.opcode {
        Opcode::CMSG_CONTACT_LIST => match ContactListRequest::decode(&p.body) {
            Ok(r) => ContactOp::List {
                flags: r.flags,
                fallback: None,
            },
            Err(_) => return false,
        },
        Opcode::CMSG_ADD_FRIEND => match AddFriend::decode(&p.body) {
            Ok(r) => {
                let name = super::chat::normalised_name(&r.name);
                if name.is_empty() {
                    // AzerothCore ignores a name that does not normalise.
                    return true;
                }
                ContactOp::FindFriend {
                    name,
                    note: short_note(&r.note),
                }
            }
            Err(_) => return false,
        },
        Opcode::CMSG_DEL_FRIEND => match DelFriend::decode(&p.body) {
            Ok(r) => ContactOp::RemoveFriend { guid: r.guid },
            Err(_) => return false,
        },
        Opcode::CMSG_SET_CONTACT_NOTES => match SetContactNotes::decode(&p.body) {
            Ok(r) => ContactOp::SetNote {
                guid: r.guid,
                note: short_note(&r.note),
            },
            Err(_) => return false,
        },
        Opcode::CMSG_ADD_IGNORE => match AddIgnore::decode(&p.body) {
            Ok(r) => {
                let name = super::chat::normalised_name(&r.name);
                if name.is_empty() {
                    return true;
                }
                ContactOp::FindIgnore { name }
            }
            Err(_) => return false,
        },
        Opcode::CMSG_DEL_IGNORE => match DelIgnore::decode(&p.body) {
            Ok(r) => ContactOp::Unignore { guid: r.guid },
            Err(_) => return false,
        },
        _ => return false,
    };
    call(me, op, out);
    true
}

/// A worldserver packet this family replaces: its list becomes charserver's; its friend
/// status lines are dropped.
pub(super) fn from_world(me: &Me, p: Packet, out: &mut Vec<Action>) {
    if p.opcode != Opcode::SMSG_CONTACT_LIST {
        return;
    }
    match p.body.get(..4) {
        Some(flags) => {
            let flags = u32::from_le_bytes([flags[0], flags[1], flags[2], flags[3]]);
            call(
                me,
                ContactOp::List {
                    flags,
                    fallback: Some(p.body),
                },
                out,
            );
        }
        // Not a list we can read the kinds of: the client gets it as it came.
        None => out.push(Action::ToClient(p.opcode, p.body)),
    }
}

/// The list as AzerothCore sends it: the kinds asked for, at most the client's limits of
/// friends and of ignored characters; a character both befriended and ignored is one entry.
pub fn render_list(flags: u32, friends: &[ListedFriend], ignored: &[u64]) -> ContactList {
    let mut contacts: Vec<Contact> = Vec::new();
    if flags & contact_flag::FRIEND != 0 {
        for f in friends.iter().take(CONTACTS_FRIENDS_MAX) {
            contacts.push(Contact {
                guid: f.guid,
                flags: contact_flag::FRIEND,
                note: f.note.clone(),
                online: (f.online.status != 0).then_some(f.online),
            });
        }
    }
    if flags & contact_flag::IGNORED != 0 {
        for &guid in ignored.iter().take(CONTACTS_IGNORED_MAX) {
            match contacts.iter_mut().find(|c| c.guid == guid) {
                Some(both) => both.flags |= contact_flag::IGNORED,
                None => contacts.push(Contact {
                    guid,
                    flags: contact_flag::IGNORED,
                    note: String::new(),
                    online: None,
                }),
            }
        }
    }
    ContactList { flags, contacts }
}

/// charserver's `AddIgnore` result in AzerothCore's numbering (charserver counts its ignore
/// results from 0x0B without IGNORE_FULL, which it puts last). Anything else is a database
/// error to the client.
pub fn ignore_result(charserver: u32) -> u8 {
    match charserver {
        0x0B => friend_result::IGNORE_SELF,
        0x0C => friend_result::IGNORE_NOT_FOUND,
        0x0D => friend_result::IGNORE_ALREADY,
        0x0E => friend_result::IGNORE_ADDED,
        0x0F => friend_result::IGNORE_REMOVED,
        0x10 => friend_result::IGNORE_FULL,
        _ => friend_result::DB_ERROR,
    }
}

/// charserver's `AddFriend` result: AzerothCore's friend results (0x00..=0x0A) as they are;
/// anything else is a database error to the client.
fn friend_add_result(charserver: u32) -> u8 {
    match u8::try_from(charserver) {
        Ok(r) if r <= 0x0A => r,
        _ => friend_result::DB_ERROR,
    }
}

fn status(result: u8, guid: u64, out: &mut Vec<Action>) {
    let line = FriendStatus {
        result,
        guid,
        ..FriendStatus::default()
    };
    out.push(Action::ToClient(FriendStatus::OPCODE, line.to_body()));
}

/// charserver answered a [`ContactCall`] (`Err`: the call failed; the detail is for logs).
pub(super) fn answered(
    me: &Me,
    call_op: ContactOp,
    outcome: Result<ContactReply, String>,
    out: &mut Vec<Action>,
) {
    match (call_op, outcome) {
        (ContactOp::List { flags, .. }, Ok(ContactReply::List { friends, ignored })) => {
            let list = render_list(flags, &friends, &ignored);
            out.push(Action::ToClient(ContactList::OPCODE, list.to_body()));
        }
        (ContactOp::List { fallback, .. }, _) => match fallback {
            Some(body) => out.push(Action::ToClient(ContactList::OPCODE, body)),
            None => out.push(system_line(UNAVAILABLE_LINE)),
        },
        (ContactOp::FindFriend { .. }, Ok(ContactReply::Found(None))) => {
            status(friend_result::NOT_FOUND, 0, out)
        }
        (ContactOp::FindFriend { name, note }, Ok(ContactReply::Found(Some(guid)))) => {
            call(me, ContactOp::AddFriend { guid, name, note }, out)
        }
        (ContactOp::AddFriend { guid, note, .. }, Ok(ContactReply::Added { result, online })) => {
            let result = friend_add_result(result);
            let online = (result == friend_result::ADDED_ONLINE).then_some(FriendOnline {
                status: online.status.max(1),
                ..online
            });
            let line = FriendStatus {
                result,
                guid,
                note,
                online,
            };
            out.push(Action::ToClient(FriendStatus::OPCODE, line.to_body()));
        }
        (ContactOp::RemoveFriend { guid }, Ok(ContactReply::Done)) => {
            status(friend_result::REMOVED, guid, out)
        }
        (ContactOp::SetNote { .. }, Ok(ContactReply::Done)) => {}
        (ContactOp::FindIgnore { .. }, Ok(ContactReply::Found(None))) => {
            status(friend_result::IGNORE_NOT_FOUND, 0, out)
        }
        (ContactOp::FindIgnore { .. }, Ok(ContactReply::Found(Some(guid)))) => {
            call(me, ContactOp::Ignore { guid }, out)
        }
        (ContactOp::Ignore { guid }, Ok(ContactReply::Ignored(result))) => {
            status(ignore_result(result), guid, out)
        }
        (ContactOp::Unignore { guid }, Ok(ContactReply::Done)) => {
            status(friend_result::IGNORE_REMOVED, guid, out)
        }
        // A failed call, or an answer that is not its call's: the change did not happen.
        (_, _) => status(friend_result::DB_ERROR, 0, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::packets::SystemMessage;

    fn me() -> Me {
        Me {
            guid: 7,
            name: "Me".into(),
            ..Me::default()
        }
    }

    fn packet<T: WirePacket>(p: &T) -> Packet {
        Packet {
            opcode: T::OPCODE,
            body: p.to_body(),
        }
    }

    fn one_call(out: &[Action]) -> ContactOp {
        match out {
            [Action::Call(ServiceRequest::Contacts(c))] => {
                assert_eq!(c.player, 7);
                c.op.clone()
            }
            other => panic!("{other:?}"),
        }
    }

    fn one_status(out: &[Action]) -> FriendStatus {
        match out {
            [Action::ToClient(Opcode::SMSG_FRIEND_STATUS, body)] => {
                FriendStatus::decode(body).expect("decodes")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn adding_a_friend_finds_it_then_adds_it() {
        let mut out = Vec::new();
        let add = AddFriend {
            name: "bOB".into(),
            note: "x".repeat(60),
        };
        assert!(from_client(&me(), &packet(&add), &mut out));
        let find = one_call(&out);
        assert_eq!(
            find,
            ContactOp::FindFriend {
                name: "Bob".into(),
                note: "x".repeat(NOTE_MAX_CHARS),
            }
        );
        let mut out = Vec::new();
        answered(
            &me(),
            find.clone(),
            Ok(ContactReply::Found(Some(42))),
            &mut out,
        );
        let add = one_call(&out);
        assert_eq!(
            add,
            ContactOp::AddFriend {
                guid: 42,
                name: "Bob".into(),
                note: "x".repeat(NOTE_MAX_CHARS),
            }
        );
        let online = FriendOnline {
            status: 0,
            area: 12,
            level: 80,
            class: 4,
        };
        let mut out = Vec::new();
        answered(
            &me(),
            add.clone(),
            Ok(ContactReply::Added {
                result: 0x06,
                online,
            }),
            &mut out,
        );
        assert_eq!(
            one_status(&out),
            FriendStatus {
                result: friend_result::ADDED_ONLINE,
                guid: 42,
                note: "x".repeat(NOTE_MAX_CHARS),
                online: Some(FriendOnline {
                    status: 1,
                    ..online
                }),
            }
        );
        for (code, shown) in [
            (0x07, friend_result::ADDED_OFFLINE),
            (0x08, friend_result::ALREADY),
            (0x09, friend_result::SELF),
            (0x01, friend_result::LIST_FULL),
            (0x11, friend_result::DB_ERROR),
            (0x1_0006, friend_result::DB_ERROR),
        ] {
            let mut out = Vec::new();
            answered(
                &me(),
                add.clone(),
                Ok(ContactReply::Added {
                    result: code,
                    online,
                }),
                &mut out,
            );
            let line = one_status(&out);
            assert_eq!(line.result, shown, "{code:#x}");
            assert_eq!(line.online, None, "{code:#x}");
        }
        let mut out = Vec::new();
        answered(&me(), find, Ok(ContactReply::Found(None)), &mut out);
        assert_eq!(one_status(&out).result, friend_result::NOT_FOUND);
    }

    #[test]
    fn ignoring_renumbers_charservers_results() {
        let mut out = Vec::new();
        assert!(from_client(
            &me(),
            &packet(&AddIgnore { name: "al".into() }),
            &mut out
        ));
        let find = one_call(&out);
        assert_eq!(find, ContactOp::FindIgnore { name: "Al".into() });
        let mut out = Vec::new();
        answered(
            &me(),
            find.clone(),
            Ok(ContactReply::Found(Some(9))),
            &mut out,
        );
        assert_eq!(one_call(&out), ContactOp::Ignore { guid: 9 });
        let expected = [
            (0x0B, friend_result::IGNORE_SELF),
            (0x0C, friend_result::IGNORE_NOT_FOUND),
            (0x0D, friend_result::IGNORE_ALREADY),
            (0x0E, friend_result::IGNORE_ADDED),
            (0x0F, friend_result::IGNORE_REMOVED),
            (0x10, friend_result::IGNORE_FULL),
            (0x00, friend_result::DB_ERROR),
            (0x0A, friend_result::DB_ERROR),
        ];
        for (code, shown) in expected {
            let mut out = Vec::new();
            answered(
                &me(),
                ContactOp::Ignore { guid: 9 },
                Ok(ContactReply::Ignored(code)),
                &mut out,
            );
            let line = one_status(&out);
            assert_eq!((line.result, line.guid), (shown, 9), "{code:#x}");
        }
        let mut out = Vec::new();
        answered(&me(), find, Ok(ContactReply::Found(None)), &mut out);
        assert_eq!(
            one_status(&out),
            FriendStatus {
                result: friend_result::IGNORE_NOT_FOUND,
                ..FriendStatus::default()
            }
        );
    }

    #[test]
    fn removals_and_notes() {
        let cases: [(Packet, ContactOp, Option<u8>); 3] = [
            (
                packet(&DelFriend { guid: 5 }),
                ContactOp::RemoveFriend { guid: 5 },
                Some(friend_result::REMOVED),
            ),
            (
                packet(&DelIgnore { guid: 5 }),
                ContactOp::Unignore { guid: 5 },
                Some(friend_result::IGNORE_REMOVED),
            ),
            (
                packet(&SetContactNotes {
                    guid: 5,
                    note: "n".into(),
                }),
                ContactOp::SetNote {
                    guid: 5,
                    note: "n".into(),
                },
                None,
            ),
        ];
        for (p, op, shown) in cases {
            let mut out = Vec::new();
            assert!(from_client(&me(), &p, &mut out));
            assert_eq!(one_call(&out), op);
            let mut out = Vec::new();
            answered(&me(), op.clone(), Ok(ContactReply::Done), &mut out);
            match shown {
                Some(result) => {
                    let line = one_status(&out);
                    assert_eq!((line.result, line.guid), (result, 5));
                }
                None => assert!(out.is_empty(), "{out:?}"),
            }
            let mut out = Vec::new();
            answered(&me(), op, Err("down".into()), &mut out);
            assert_eq!(one_status(&out).result, friend_result::DB_ERROR);
        }
    }

    #[test]
    fn a_request_that_does_not_decode_is_not_taken_and_an_empty_name_is_dropped() {
        let mut out = Vec::new();
        let bad = Packet {
            opcode: Opcode::CMSG_DEL_FRIEND,
            body: Bytes::from_static(&[1, 2]),
        };
        assert!(!from_client(&me(), &bad, &mut out));
        let empty = packet(&AddFriend::default());
        assert!(from_client(&me(), &empty, &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn the_list_the_client_asks_for_and_its_failure() {
        let mut out = Vec::new();
        assert!(from_client(
            &me(),
            &packet(&ContactListRequest {
                flags: contact_flag::FRIEND
            }),
            &mut out
        ));
        let op = one_call(&out);
        let friends = vec![
            ListedFriend {
                guid: 1,
                note: "a".into(),
                online: FriendOnline {
                    status: 1,
                    area: 2,
                    level: 3,
                    class: 4,
                },
            },
            ListedFriend {
                guid: 2,
                ..ListedFriend::default()
            },
        ];
        let mut out = Vec::new();
        answered(
            &me(),
            op.clone(),
            Ok(ContactReply::List {
                friends: friends.clone(),
                ignored: vec![3],
            }),
            &mut out,
        );
        let [Action::ToClient(Opcode::SMSG_CONTACT_LIST, body)] = out.as_slice() else {
            panic!("{out:?}")
        };
        let list = ContactList::decode(body).expect("decodes");
        assert_eq!(list, render_list(contact_flag::FRIEND, &friends, &[3]));
        assert_eq!(list.contacts.len(), 2, "the ignored one was not asked for");
        assert_eq!(list.contacts[1].online, None);
        let mut out = Vec::new();
        answered(&me(), op, Err("down".into()), &mut out);
        let [Action::ToClient(Opcode::SMSG_MESSAGECHAT, body)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(
            SystemMessage::decode(body).expect("decodes").text,
            UNAVAILABLE_LINE
        );
    }

    #[test]
    fn the_worldservers_list_is_replaced_and_is_the_fallback() {
        let theirs = ContactList {
            flags: contact_flag::ALL,
            contacts: vec![],
        }
        .to_body();
        let mut out = Vec::new();
        let p = Packet {
            opcode: Opcode::SMSG_CONTACT_LIST,
            body: theirs.clone(),
        };
        from_world(&me(), p, &mut out);
        let op = one_call(&out);
        assert_eq!(
            op,
            ContactOp::List {
                flags: contact_flag::ALL,
                fallback: Some(theirs.clone()),
            }
        );
        let mut out = Vec::new();
        answered(&me(), op, Err("down".into()), &mut out);
        assert_eq!(
            out,
            vec![Action::ToClient(Opcode::SMSG_CONTACT_LIST, theirs)]
        );
        let mut out = Vec::new();
        let status = FriendStatus {
            result: friend_result::OFFLINE,
            guid: 1,
            ..FriendStatus::default()
        };
        from_world(&me(), packet(&status), &mut out);
        assert!(out.is_empty(), "the worldserver's friend lines are dropped");
        let short = Packet {
            opcode: Opcode::SMSG_CONTACT_LIST,
            body: Bytes::from_static(&[1]),
        };
        from_world(&me(), short.clone(), &mut out);
        assert_eq!(out, vec![Action::ToClient(short.opcode, short.body)]);
    }

    #[test]
    fn the_list_keeps_the_clients_limits_and_merges_both_kinds() {
        let friends: Vec<ListedFriend> = (1..=60)
            .map(|guid| ListedFriend {
                guid,
                ..ListedFriend::default()
            })
            .collect();
        let ignored: Vec<u64> = (50..=120).collect();
        let list = render_list(contact_flag::ALL, &friends, &ignored);
        let friends_listed = list
            .contacts
            .iter()
            .filter(|c| c.flags & contact_flag::FRIEND != 0)
            .count();
        let ignored_listed = list
            .contacts
            .iter()
            .filter(|c| c.flags & contact_flag::IGNORED != 0)
            .count();
        assert_eq!(friends_listed, CONTACTS_FRIENDS_MAX);
        assert_eq!(ignored_listed, CONTACTS_IGNORED_MAX);
        let both = list.contacts.iter().find(|c| c.guid == 50).expect("listed");
        assert_eq!(both.flags, contact_flag::FRIEND | contact_flag::IGNORED);
        assert_eq!(list.contacts.len(), 50 + 49);
    }
}
