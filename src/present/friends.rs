//! Friends across worldservers: `friends.status.changed` (charserver publishes it when a
//! character logs in or out anywhere in the cluster, addressed to the players who have it as a
//! friend) becomes SMSG_FRIEND_STATUS, as AzerothCore's social manager writes it: ONLINE with
//! the friend's status flags, area, level and class, or OFFLINE with nothing more.
//!
//! The friend list itself (CMSG_CONTACT_LIST, add, remove, notes, ignore) is charserver's
//! too: see [`super::contacts`], which also drops the worldserver's own friend lines.

use super::gojson::{Field, Kind, Object};
use super::{Action, EventFate};
use crate::wire::packets::{FriendOnline, FriendStatus, WirePacket, friend_result};

/// The friends events presentation renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventKind {
    /// `friends.status.changed`.
    StatusChanged,
}

/// Which friends event a subject carries, if presentation renders it.
pub(super) fn event_kind(subject: &str) -> Option<EventKind> {
    (subject == "friends.status.changed").then_some(EventKind::StatusChanged)
}

/// `FriendEventStatusChangePayload` (CONTRACTS.md section 2.4), the fields read here.
const STATUS_CHANGE: &[Field] = &[
    Field::new("PlayerGUID", Kind::U64),
    Field::new("Status", Kind::U8),
    Field::new("Area", Kind::U32),
    Field::new("Level", Kind::U32),
    Field::new("ClassID", Kind::U32),
];

/// Renders a friends event. The bus delivered it to this player because its `NotifyPlayers`
/// names it.
pub(super) fn render_event(kind: EventKind, payload: &[u8], out: &mut Vec<Action>) -> EventFate {
    match kind {
        EventKind::StatusChanged => status_changed(payload, out),
    }
}

fn status_changed(payload: &[u8], out: &mut Vec<Action>) -> EventFate {
    let object = match super::payload_object(payload, STATUS_CHANGE) {
        Ok(object) => object,
        Err(fate) => return fate,
    };
    let guid = object.uint("PlayerGUID");
    // Checked against their Go types above: these fit.
    let status = u8::try_from(object.uint("Status")).unwrap_or(0);
    let packet = if status == 0 {
        FriendStatus {
            result: friend_result::OFFLINE,
            guid,
            ..FriendStatus::default()
        }
    } else {
        FriendStatus {
            result: friend_result::ONLINE,
            guid,
            note: String::new(),
            online: Some(FriendOnline {
                status,
                area: u32_of(&object, "Area"),
                level: u32_of(&object, "Level"),
                class: u32_of(&object, "ClassID"),
            }),
        }
    };
    out.push(Action::ToClient(FriendStatus::OPCODE, packet.to_body()));
    EventFate::Rendered
}

fn u32_of(object: &Object<'_>, name: &'static str) -> u32 {
    u32::try_from(object.uint(name)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Opcode;

    fn render(payload: &str) -> (EventFate, Vec<Action>) {
        let mut out = Vec::new();
        let fate = render_event(EventKind::StatusChanged, payload.as_bytes(), &mut out);
        (fate, out)
    }

    fn status(out: &[Action]) -> FriendStatus {
        match out {
            [Action::ToClient(Opcode::SMSG_FRIEND_STATUS, body)] => {
                FriendStatus::decode(body).expect("decodes")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn online_and_offline() {
        let (fate, out) = render(
            r#"{"ServiceID":"c1","RealmID":1,"PlayerGUID":42,"Status":1,"Area":1519,"Level":80,"ClassID":4,"NotifyPlayers":[7]}"#,
        );
        assert_eq!(fate, EventFate::Rendered);
        assert_eq!(
            status(&out),
            FriendStatus {
                result: friend_result::ONLINE,
                guid: 42,
                note: String::new(),
                online: Some(FriendOnline {
                    status: 1,
                    area: 1519,
                    level: 80,
                    class: 4,
                }),
            }
        );
        let (fate, out) = render(r#"{"PlayerGUID":42,"Status":0,"NotifyPlayers":null}"#);
        assert_eq!(fate, EventFate::Rendered);
        assert_eq!(
            status(&out),
            FriendStatus {
                result: friend_result::OFFLINE,
                guid: 42,
                ..FriendStatus::default()
            }
        );
    }

    #[test]
    fn malformed_renders_nothing() {
        for bad in [r#"{"Status":256}"#, r#"{"Level":-1}"#, "[", r#""x""#] {
            let (fate, out) = render(bad);
            assert!(matches!(fate, EventFate::Malformed(_)), "{bad}: {fate:?}");
            assert!(out.is_empty());
        }
    }

    #[test]
    fn subjects() {
        assert_eq!(
            event_kind("friends.status.changed"),
            Some(EventKind::StatusChanged)
        );
        assert_eq!(event_kind("friends.friend.added"), None);
    }
}
