//! Whispers across worldservers, through ToCloud9's chatserver.
//!
//! - Out: a CMSG_MESSAGECHAT of type WHISPER becomes chatserver's `SendWhisperMessage`
//!   ([`Whisper`]). The receiver's name is normalised first, as AzerothCore does (first
//!   letter upper case, the rest lower case). Its answer ([`answered`]) is rendered as
//!   AzerothCore renders the outcome: the sender's own line (SMSG_MESSAGECHAT of type
//!   WHISPER_INFORM, the receiver as both sender and receiver), SMSG_CHAT_PLAYER_NOT_FOUND
//!   for a name nobody online has, and a system line when the service failed or did not answer
//!   (a single server cannot fail that way; the line names no internals).
//! - In: `chat.gw.{gatewayID}.income.whisper` becomes the receiver's SMSG_MESSAGECHAT of type
//!   WHISPER, the sender's guid in both guid fields (as AzerothCore writes it). An event for
//!   another character is not rendered.
//! - Every other chat type, a whisper with an empty text (AzerothCore drops those), and a
//!   CMSG_MESSAGECHAT that does not decode go to the worldserver exactly as they came.
//!
//! Not done here (the worldserver does these on a single server, and chatserver does not):
//! the receiver's AFK/DND auto-reply, ignore lists, and the GM chat tag on whispers.

use super::gojson::{Field, Kind};
use super::{Action, EventFate, Me, ServiceRequest, chat_line, system_line};
use crate::wire::packets::{ChatPlayerNotFound, ChatTarget, ClientChat, WirePacket, chat_type};

/// A whisper on its way through chatserver: what `SendWhisperMessage` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whisper {
    /// The sender's guid.
    pub sender: u64,
    /// The sender's name.
    pub sender_name: String,
    /// The sender's race id (chatserver passes it on; the receiver's client shows the
    /// language by it).
    pub sender_race: u8,
    /// The language id the client chose.
    pub language: u32,
    /// The receiver's name, normalised.
    pub receiver_name: String,
    /// The text.
    pub message: String,
}

/// What chatserver made of a whisper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhisperOutcome {
    /// Delivered to the receiver's gateway.
    Delivered {
        /// The receiver's guid.
        receiver: u64,
    },
    /// Nobody of that name is online.
    NotFound,
    /// The call failed or was not answered in time (the detail is for logs, not the client).
    Failed(String),
}

/// The words of [`undelivered_line`] that tell a whisper was lost (a client-side reader
/// looks for them).
pub const UNDELIVERED_WORDS: &str = "was not delivered";

/// The system line a sender sees when chatserver could not take the whisper.
pub fn undelivered_line(receiver: &str) -> String {
    format!("Your whisper to {receiver} {UNDELIVERED_WORDS}: the chat service is not answering.")
}

/// A decoded CMSG_MESSAGECHAT; `false` when it is not a whisper (the caller goes on).
pub(super) fn from_client(me: &Me, chat: &ClientChat, out: &mut Vec<Action>) -> bool {
    let (ChatTarget::Whisper(to), true) =
        (&chat.target, chat.kind == u32::from(chat_type::WHISPER))
    else {
        return false;
    };
    if chat.message.is_empty() {
        return true; // AzerothCore drops an empty whisper without a word
    }
    let receiver_name = normalised_name(to);
    if receiver_name.is_empty() {
        out.push(not_found(&receiver_name));
        return true;
    }
    out.push(Action::Call(ServiceRequest::Whisper(Whisper {
        sender: me.guid,
        sender_name: me.name.clone(),
        sender_race: me.race,
        language: chat.language,
        receiver_name,
        message: chat.message.clone(),
    })));
    true
}

/// chatserver answered a whisper (or the call failed).
pub(super) fn answered(whisper: Whisper, outcome: WhisperOutcome, out: &mut Vec<Action>) {
    match outcome {
        WhisperOutcome::Delivered { receiver } => {
            out.push(chat_line(
                chat_type::WHISPER_INFORM,
                whisper.language,
                receiver,
                whisper.message,
            ));
        }
        WhisperOutcome::NotFound => out.push(not_found(&whisper.receiver_name)),
        WhisperOutcome::Failed(_) => {
            out.push(system_line(&undelivered_line(&whisper.receiver_name)));
        }
    }
}

fn not_found(name: &str) -> Action {
    let p = ChatPlayerNotFound {
        name: name.to_owned(),
    };
    Action::ToClient(ChatPlayerNotFound::OPCODE, p.to_body())
}

/// The chat events presentation renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EventKind {
    /// `chat.gw.{gatewayID}.income.whisper`.
    IncomingWhisper,
}

/// Which chat event a subject carries, if presentation renders it.
pub(super) fn event_kind(subject: &str) -> Option<EventKind> {
    let rest = subject.strip_prefix("chat.gw.")?;
    let id = rest.strip_suffix(".income.whisper")?;
    (!id.is_empty() && !id.contains('.')).then_some(EventKind::IncomingWhisper)
}

/// `ChatEventIncomingWhisperPayload` (CONTRACTS.md section 2.4).
const INCOMING_WHISPER: &[Field] = &[
    Field::new("SenderGUID", Kind::U64),
    Field::new("SenderName", Kind::Str),
    Field::new("SenderRace", Kind::U8),
    Field::new("ReceiverGUID", Kind::U64),
    Field::new("ReceiverName", Kind::Str),
    Field::new("Language", Kind::U32),
    Field::new("Msg", Kind::Str),
];

/// Renders a chat event for `me`.
pub(super) fn render_event(
    me: &Me,
    kind: EventKind,
    payload: &[u8],
    out: &mut Vec<Action>,
) -> EventFate {
    match kind {
        EventKind::IncomingWhisper => incoming_whisper(me, payload, out),
    }
}

fn incoming_whisper(me: &Me, payload: &[u8], out: &mut Vec<Action>) -> EventFate {
    let object = match super::payload_object(payload, INCOMING_WHISPER) {
        Ok(object) => object,
        Err(fate) => return fate,
    };
    if object.uint("ReceiverGUID") != me.guid {
        return EventFate::NotForMe;
    }
    out.push(chat_line(
        chat_type::WHISPER,
        // Checked as a u32 above.
        u32::try_from(object.uint("Language")).unwrap_or(0),
        object.uint("SenderGUID"),
        object.string("Msg"),
    ));
    EventFate::Rendered
}

/// A player name as AzerothCore normalises it before a look-up: the first character upper
/// case, the rest lower case (Unicode-aware, so "élodie" becomes "Élodie").
pub fn normalised_name(name: &str) -> String {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    first
        .to_uppercase()
        .chain(chars.flat_map(char::to_lowercase))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::wire::Opcode;
    use crate::wire::packets::{CHAT_TEXT_MAX_BYTES, ChatMessage, SystemMessage};

    fn me() -> Me {
        Me {
            guid: 7,
            name: "Alice".into(),
            race: 4,
            guild_id: 0,
            ..Me::default()
        }
    }

    fn whisper_packet(to: &str, text: &str) -> Bytes {
        ClientChat {
            kind: u32::from(chat_type::WHISPER),
            language: 7,
            target: ChatTarget::Whisper(to.into()),
            message: text.into(),
        }
        .to_body()
    }

    /// What a presenter in the ToCloud9 mode makes of a client packet.
    fn client(body: Bytes) -> Vec<Action> {
        let mut out = Vec::new();
        let mut presenter = super::super::Presenter::new(me(), super::super::Services::TOCLOUD9);
        presenter.handle_client(
            Duration::ZERO,
            crate::wire::Packet {
                opcode: Opcode::CMSG_MESSAGECHAT,
                body,
            },
            &mut out,
        );
        out
    }

    #[test]
    fn a_whisper_becomes_a_call_with_the_name_normalised() {
        let out = client(whisper_packet("bOB", "hi there"));
        assert_eq!(
            out,
            vec![Action::Call(ServiceRequest::Whisper(Whisper {
                sender: 7,
                sender_name: "Alice".into(),
                sender_race: 4,
                language: 7,
                receiver_name: "Bob".into(),
                message: "hi there".into(),
            }))]
        );
    }

    #[test]
    fn other_chat_and_undecodable_packets_pass_through_unchanged() {
        let say = ClientChat {
            kind: u32::from(chat_type::SAY),
            language: 7,
            target: ChatTarget::None,
            message: "hello".into(),
        }
        .to_body();
        assert_eq!(
            client(say.clone()),
            vec![Action::ToWorld(Opcode::CMSG_MESSAGECHAT, say)]
        );
        let junk = Bytes::from_static(&[7, 0, 0]);
        assert_eq!(
            client(junk.clone()),
            vec![Action::ToWorld(Opcode::CMSG_MESSAGECHAT, junk)]
        );
    }

    #[test]
    fn empty_whispers_are_dropped_and_an_empty_name_is_not_found() {
        assert_eq!(client(whisper_packet("Bob", "")), vec![]);
        let out = client(whisper_packet("", "hi"));
        let [Action::ToClient(opcode, body)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(*opcode, Opcode::SMSG_CHAT_PLAYER_NOT_FOUND);
        assert_eq!(ChatPlayerNotFound::decode(body).expect("decodes").name, "");
    }

    fn whisper() -> Whisper {
        Whisper {
            sender: 7,
            sender_name: "Alice".into(),
            sender_race: 4,
            language: 7,
            receiver_name: "Bob".into(),
            message: "hi".into(),
        }
    }

    fn one_packet(out: &[Action]) -> (Opcode, Bytes) {
        match out {
            [Action::ToClient(opcode, body)] => (*opcode, body.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn answers_render_as_azerothcore_renders_them() {
        let mut out = Vec::new();
        answered(
            whisper(),
            WhisperOutcome::Delivered { receiver: 9 },
            &mut out,
        );
        let (opcode, body) = one_packet(&out);
        assert_eq!(opcode, Opcode::SMSG_MESSAGECHAT);
        let line = ChatMessage::decode(&body).expect("decodes");
        assert_eq!(
            line,
            ChatMessage {
                kind: chat_type::WHISPER_INFORM,
                language: 7,
                sender: 9,
                channel: None,
                receiver: 9,
                message: "hi".into(),
                tag: 0,
            }
        );

        let mut out = Vec::new();
        answered(whisper(), WhisperOutcome::NotFound, &mut out);
        let (opcode, body) = one_packet(&out);
        assert_eq!(opcode, Opcode::SMSG_CHAT_PLAYER_NOT_FOUND);
        assert_eq!(
            ChatPlayerNotFound::decode(&body).expect("decodes").name,
            "Bob"
        );

        let mut out = Vec::new();
        answered(
            whisper(),
            WhisperOutcome::Failed("chat: deadline exceeded at 10.0.0.3:8992".into()),
            &mut out,
        );
        let (opcode, body) = one_packet(&out);
        assert_eq!(opcode, Opcode::SMSG_MESSAGECHAT);
        let text = SystemMessage::decode(&body).expect("decodes").text;
        assert_eq!(text, undelivered_line("Bob"));
        assert!(!text.contains("10.0.0.3"), "no internals to the client");
    }

    #[test]
    fn subjects() {
        assert_eq!(
            event_kind("chat.gw.42.income.whisper"),
            Some(EventKind::IncomingWhisper)
        );
        for other in [
            "chat.gw..income.whisper",
            "chat.gw.ALL.channel.message",
            "chat.gw.4.2.income.whisper",
            "guild.member.added",
        ] {
            assert_eq!(event_kind(other), None, "{other}");
        }
    }

    fn render(payload: &str) -> (EventFate, Vec<Action>) {
        let mut out = Vec::new();
        let fate = render_event(
            &me(),
            EventKind::IncomingWhisper,
            payload.as_bytes(),
            &mut out,
        );
        (fate, out)
    }

    #[test]
    fn an_incoming_whisper_reaches_its_receiver_only() {
        let payload = r#"{"SenderGUID":9,"SenderName":"Bob","SenderRace":2,"ReceiverGUID":7,
            "ReceiverName":"Alice","Language":1,"Msg":"hé ✓"}"#;
        let (fate, out) = render(payload);
        assert_eq!(fate, EventFate::Rendered);
        let (opcode, body) = one_packet(&out);
        assert_eq!(opcode, Opcode::SMSG_MESSAGECHAT);
        assert_eq!(
            ChatMessage::decode(&body).expect("decodes"),
            ChatMessage {
                kind: chat_type::WHISPER,
                language: 1,
                sender: 9,
                channel: None,
                receiver: 9,
                message: "hé ✓".into(),
                tag: 0,
            }
        );
        // Go's key folding: lower-case keys are the same fields.
        let (fate, _) = render(r#"{"senderguid":9,"receiverguid":7,"msg":"x"}"#);
        assert_eq!(fate, EventFate::Rendered);
        let (fate, out) = render(r#"{"SenderGUID":9,"ReceiverGUID":8,"Msg":"x"}"#);
        assert_eq!((fate, out), (EventFate::NotForMe, vec![]));
    }

    #[test]
    fn malformed_whisper_events_render_nothing() {
        for bad in [
            "",
            "[1]",
            r#"{"ReceiverGUID":"7"}"#,
            r#"{"ReceiverGUID":7,"Language":-1}"#,
            r#"{"ReceiverGUID":7,"SenderRace":300}"#,
        ] {
            let (fate, out) = render(bad);
            assert!(matches!(fate, EventFate::Malformed(_)), "{bad}: {fate:?}");
            assert!(out.is_empty());
        }
        let (fate, out) = render("\u{0}\u{ff}");
        assert!(matches!(fate, EventFate::Malformed(_)), "{fate:?}");
        assert!(out.is_empty());
    }

    #[test]
    fn a_long_incoming_whisper_is_cut_not_refused() {
        let long = "é".repeat(CHAT_TEXT_MAX_BYTES);
        let payload = format!(r#"{{"SenderGUID":9,"ReceiverGUID":7,"Msg":"{long}"}}"#);
        let (fate, out) = render(&payload);
        assert_eq!(fate, EventFate::Rendered);
        let (_, body) = one_packet(&out);
        let text = ChatMessage::decode(&body).expect("decodes").message;
        assert!(text.len() <= CHAT_TEXT_MAX_BYTES && long.starts_with(&text));
    }

    #[test]
    fn names_normalise_as_azerothcore_does() {
        assert_eq!(normalised_name("bOB"), "Bob");
        assert_eq!(normalised_name("élodie"), "Élodie");
        assert_eq!(normalised_name(""), "");
    }
}
