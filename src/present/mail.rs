//! Mail across the cluster: `mail.incoming` (mailserver, for the receiver) becomes
//! SMSG_RECEIVED_MAIL, the client's "you have mail" notice (a u32 0, as AzerothCore writes it).
//! The notice goes out when the event arrives; a mail whose delivery lies in the future is
//! announced early (the mailbox itself still shows it only once delivered). Mailbox opcodes
//! pass through to the worldserver.

use super::gojson::{Field, Kind};
use super::{Action, EventFate, Me, payload_object};
use crate::wire::Opcode;

/// Whether presentation renders this subject.
pub(super) fn renders(subject: &str) -> bool {
    subject == "mail.incoming"
}

/// `MailEventIncomingMailPayload`, the fields read.
const INCOMING: &[Field] = &[
    Field::new("ReceiverGUID", Kind::U64),
    Field::new("MailID", Kind::U32),
];

/// Renders `mail.incoming` for `me`.
pub(super) fn render_event(me: &Me, payload: &[u8], out: &mut Vec<Action>) -> EventFate {
    let o = match payload_object(payload, INCOMING) {
        Ok(o) => o,
        Err(fate) => return fate,
    };
    if o.uint("ReceiverGUID") != me.guid {
        return EventFate::NotForMe;
    }
    out.push(Action::ToClient(
        Opcode::SMSG_RECEIVED_MAIL,
        bytes::Bytes::from_static(&[0, 0, 0, 0]),
    ));
    EventFate::Rendered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_mail_is_announced_to_its_receiver() {
        let me = Me {
            guid: 7,
            ..Me::default()
        };
        let mut out = Vec::new();
        let fate = render_event(
            &me,
            br#"{"RealmID":1,"SenderGUID":9,"ReceiverGUID":7,"DeliveryTimestamp":1700000000,"MailID":3}"#,
            &mut out,
        );
        assert_eq!(fate, EventFate::Rendered);
        assert_eq!(
            out,
            vec![Action::ToClient(
                Opcode::SMSG_RECEIVED_MAIL,
                bytes::Bytes::from_static(&[0, 0, 0, 0])
            )]
        );
        let mut out = Vec::new();
        assert_eq!(
            render_event(&me, br#"{"ReceiverGUID":8}"#, &mut out),
            EventFate::NotForMe
        );
        assert!(matches!(
            render_event(&me, br#"{"MailID":-1}"#, &mut out),
            EventFate::Malformed(_)
        ));
        assert!(out.is_empty());
    }
}
