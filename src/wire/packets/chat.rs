//! Player chat: what a client says (CMSG_MESSAGECHAT), the line a worldserver delivers for it
//! (SMSG_MESSAGECHAT of the player chat types) and the answer to a whisper to someone who is
//! not online (SMSG_CHAT_PLAYER_NOT_FOUND).

use bytes::{BufMut, BytesMut};

use super::{CHAT_TEXT_MAX_BYTES, NAME_MAX_BYTES, WirePacket};
use crate::wire::codec::{DecodeError, Reader, WriteExt};
use crate::wire::opcode::Opcode;

/// Longest chat channel name accepted (bytes, NUL excluded).
pub const CHANNEL_NAME_MAX_BYTES: usize = 128;

/// Chat message types (`ChatMsg`) of the 3.3.5a protocol that [`ChatMessage`] and
/// [`ClientChat`] name. SMSG_MESSAGECHAT carries the type as a `u8`, CMSG_MESSAGECHAT as a
/// `u32`.
pub mod chat_type {
    /// CHAT_MSG_SAY.
    pub const SAY: u8 = 0x01;
    /// CHAT_MSG_PARTY.
    pub const PARTY: u8 = 0x02;
    /// CHAT_MSG_RAID.
    pub const RAID: u8 = 0x03;
    /// CHAT_MSG_GUILD.
    pub const GUILD: u8 = 0x04;
    /// CHAT_MSG_OFFICER.
    pub const OFFICER: u8 = 0x05;
    /// CHAT_MSG_YELL.
    pub const YELL: u8 = 0x06;
    /// CHAT_MSG_WHISPER: a whisper, as its receiver sees it (and as its sender sends it).
    pub const WHISPER: u8 = 0x07;
    /// CHAT_MSG_WHISPER_INFORM: the sender's echo of a whisper it sent.
    pub const WHISPER_INFORM: u8 = 0x09;
    /// CHAT_MSG_EMOTE: a custom `/e` emote.
    pub const EMOTE: u8 = 0x0A;
    /// CHAT_MSG_CHANNEL: a line in a named chat channel.
    pub const CHANNEL: u8 = 0x11;
    /// CHAT_MSG_AFK: an away auto-reply (or, from the client, setting the away text).
    pub const AFK: u8 = 0x17;
    /// CHAT_MSG_DND: a busy auto-reply (or, from the client, setting the busy text).
    pub const DND: u8 = 0x18;
    /// CHAT_MSG_RAID_LEADER.
    pub const RAID_LEADER: u8 = 0x27;
    /// CHAT_MSG_RAID_WARNING.
    pub const RAID_WARNING: u8 = 0x28;
    /// CHAT_MSG_PARTY_LEADER.
    pub const PARTY_LEADER: u8 = 0x33;

    /// The player chat types [`super::ChatMessage`] models, in ascending order. Other types
    /// (system, monster, battleground system, achievement) lay out SMSG_MESSAGECHAT
    /// differently.
    pub const PLAYER: [u8; 15] = [
        SAY,
        PARTY,
        RAID,
        GUILD,
        OFFICER,
        YELL,
        WHISPER,
        WHISPER_INFORM,
        EMOTE,
        CHANNEL,
        AFK,
        DND,
        RAID_LEADER,
        RAID_WARNING,
        PARTY_LEADER,
    ];

    /// Whether `kind` is one of [`PLAYER`].
    pub fn is_player(kind: u8) -> bool {
        PLAYER.contains(&kind)
    }
}

/// Chat tags: the `u8` after the text of SMSG_MESSAGECHAT that marks the sender's status.
pub mod chat_tag {
    /// No tag.
    pub const NONE: u8 = 0x00;
    /// The sender is away.
    pub const AFK: u8 = 0x01;
    /// The sender is busy.
    pub const DND: u8 = 0x02;
    /// The sender is a game master.
    pub const GM: u8 = 0x04;
}

/// Who a client's chat line goes to, besides what its type says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ChatTarget {
    /// Nobody named: every type but WHISPER and CHANNEL.
    #[default]
    None,
    /// WHISPER: the receiver's character name.
    Whisper(String),
    /// CHANNEL: the channel's name.
    Channel(String),
}

/// CMSG_MESSAGECHAT: u32 type, u32 language, then by type a cstr receiver name (WHISPER) or a
/// cstr channel name (CHANNEL), then for every type the cstr message.
///
/// A value whose target disagrees with its type is encoded as the type demands: a missing name
/// is sent empty and a name the type does not carry is left out. The message is sent cut at
/// [`CHAT_TEXT_MAX_BYTES`] bytes (on a character boundary) and at an embedded NUL. Decoding
/// accepts any type and ignores trailing bytes, as the worldserver does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientChat {
    /// Chat type (a [`chat_type`] value, widened).
    pub kind: u32,
    /// Language id (0xFFFFFFFF for addon messages).
    pub language: u32,
    /// The receiver or channel the type names.
    pub target: ChatTarget,
    /// The text.
    pub message: String,
}

impl WirePacket for ClientChat {
    const OPCODE: Opcode = Opcode::CMSG_MESSAGECHAT;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u32_le(self.kind);
        out.put_u32_le(self.language);
        let (receiver, channel) = match &self.target {
            ChatTarget::None => ("", ""),
            ChatTarget::Whisper(name) => (name.as_str(), ""),
            ChatTarget::Channel(name) => ("", name.as_str()),
        };
        if self.kind == u32::from(chat_type::WHISPER) {
            out.put_cstr(receiver);
        } else if self.kind == u32::from(chat_type::CHANNEL) {
            out.put_cstr(channel);
        }
        out.put_cstr(chat_text(&self.message));
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let kind = r.u32("type")?;
        let language = r.u32("language")?;
        let target = if kind == u32::from(chat_type::WHISPER) {
            ChatTarget::Whisper(r.cstr("target_name", NAME_MAX_BYTES)?.to_owned())
        } else if kind == u32::from(chat_type::CHANNEL) {
            ChatTarget::Channel(r.cstr("channel_name", CHANNEL_NAME_MAX_BYTES)?.to_owned())
        } else {
            ChatTarget::None
        };
        let message = r.cstr("message", CHAT_TEXT_MAX_BYTES)?.to_owned();
        Ok(Self {
            kind,
            language,
            target,
            message,
        })
    }
}

/// SMSG_MESSAGECHAT of a player chat type (one of [`chat_type::PLAYER`]): u8 type, u32
/// language, u64 sender guid, u32 flags (0), for CHANNEL a cstr channel name, u64 receiver
/// guid, u32 text length (NUL included), the text and its NUL, u8 chat tag.
///
/// The text is sent cut at [`CHAT_TEXT_MAX_BYTES`] bytes (on a character boundary) and at an
/// embedded NUL, as [`super::SystemMessage`] does. `channel` is sent only for CHANNEL (empty
/// when `None`). Decoding refuses the other chat types and ignores trailing bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatMessage {
    /// Chat type (one of [`chat_type::PLAYER`]).
    pub kind: u8,
    /// Language id.
    pub language: u32,
    /// The speaker's guid.
    pub sender: u64,
    /// The channel name; `Some` exactly for CHANNEL.
    pub channel: Option<String>,
    /// The receiver guid field. AzerothCore repeats the sender's guid here for whispers and
    /// group chat; the value is sent as given.
    pub receiver: u64,
    /// The text.
    pub message: String,
    /// The sender's status tag (a [`chat_tag`] value).
    pub tag: u8,
}

impl WirePacket for ChatMessage {
    const OPCODE: Opcode = Opcode::SMSG_MESSAGECHAT;
    fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.kind);
        out.put_u32_le(self.language);
        out.put_u64_le(self.sender);
        out.put_u32_le(0); // flags
        if self.kind == chat_type::CHANNEL {
            out.put_cstr(self.channel.as_deref().unwrap_or_default());
        }
        out.put_u64_le(self.receiver);
        let text = chat_text(&self.message);
        // `text` is at most CHAT_TEXT_MAX_BYTES long, so the length fits in a u32.
        out.put_u32_le(text.len() as u32 + 1);
        out.put_cstr(text);
        out.put_u8(self.tag);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let kind = r.u8("type")?;
        if !chat_type::is_player(kind) {
            return Err(DecodeError::InvalidValue {
                field: "type",
                value: u64::from(kind),
            });
        }
        let language = r.u32("language")?;
        let sender = r.u64("sender")?;
        r.u32("flags")?;
        let channel = if kind == chat_type::CHANNEL {
            Some(r.cstr("channel_name", CHANNEL_NAME_MAX_BYTES)?.to_owned())
        } else {
            None
        };
        let receiver = r.u64("receiver")?;
        let message = sized_text(&mut r)?.to_owned();
        let tag = r.u8("chat_tag")?;
        Ok(Self {
            kind,
            language,
            sender,
            channel,
            receiver,
            message,
            tag,
        })
    }
}

/// SMSG_CHAT_PLAYER_NOT_FOUND: cstr name. The answer to a whisper to a character that is not
/// online.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatPlayerNotFound {
    /// The name the whisper was addressed to.
    pub name: String,
}

impl WirePacket for ChatPlayerNotFound {
    const OPCODE: Opcode = Opcode::SMSG_CHAT_PLAYER_NOT_FOUND;
    fn encode(&self, out: &mut BytesMut) {
        out.put_cstr(&self.name);
    }
    fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let name = r.cstr("name", NAME_MAX_BYTES)?.to_owned();
        Ok(Self { name })
    }
}

/// The part of `text` that is sent: at most [`CHAT_TEXT_MAX_BYTES`] bytes, cut on a character
/// boundary so it stays UTF-8, and cut at an embedded NUL, which would end it on the other
/// side.
fn chat_text(text: &str) -> &str {
    let mut cut = text.len().min(CHAT_TEXT_MAX_BYTES);
    // Offset 0 is always a boundary, so this stops.
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let text = text.get(..cut).unwrap_or_default();
    text.split('\0').next().unwrap_or_default()
}

/// Reads a u32 length (NUL included) and a NUL-terminated text of exactly that length.
fn sized_text<'a>(r: &mut Reader<'a>) -> Result<&'a str, DecodeError> {
    let len = r.u32("message_len")?;
    let limit = CHAT_TEXT_MAX_BYTES as u64 + 1;
    if len == 0 || u64::from(len) > limit {
        return Err(DecodeError::TooLarge {
            field: "message_len",
            value: u64::from(len),
            limit,
        });
    }
    // `len` is at least 1 and at most CHAT_TEXT_MAX_BYTES + 1 here.
    let max_len = len as usize - 1;
    let text = r.cstr("message", max_len)?;
    if text.len() != max_len {
        return Err(DecodeError::InvalidValue {
            field: "message_len",
            value: u64::from(len),
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whisper() -> ClientChat {
        ClientChat {
            kind: u32::from(chat_type::WHISPER),
            language: 7,
            target: ChatTarget::Whisper("Bob".into()),
            message: "hi".into(),
        }
    }

    fn whisper_line() -> ChatMessage {
        ChatMessage {
            kind: chat_type::WHISPER,
            language: 7,
            sender: 0x2A,
            channel: None,
            receiver: 0x2A,
            message: "hi".into(),
            tag: chat_tag::NONE,
        }
    }

    fn channel_line() -> ChatMessage {
        ChatMessage {
            kind: chat_type::CHANNEL,
            language: 1,
            sender: 0x0102_0304_0506_0708,
            channel: Some("world".into()),
            receiver: 0,
            message: "yo".into(),
            tag: chat_tag::GM,
        }
    }

    fn not_found() -> ChatPlayerNotFound {
        ChatPlayerNotFound { name: "Bob".into() }
    }

    #[test]
    fn client_whisper_exact_bytes() {
        let body = whisper().to_body();
        let expected: &[u8] = &[
            0x07, 0x00, 0x00, 0x00, // type WHISPER
            0x07, 0x00, 0x00, 0x00, // language
            b'B', b'o', b'b', 0x00, // receiver name
            b'h', b'i', 0x00, // message
        ];
        assert_eq!(&body[..], expected);
        assert_eq!(ClientChat::decode(&body), Ok(whisper()));
    }

    #[test]
    fn client_channel_and_say_layouts() {
        let channel = ClientChat {
            kind: u32::from(chat_type::CHANNEL),
            language: 1,
            target: ChatTarget::Channel("world".into()),
            message: "yo".into(),
        };
        let body = channel.to_body();
        assert_eq!(&body[..], b"\x11\0\0\0\x01\0\0\0world\0yo\0");
        assert_eq!(ClientChat::decode(&body), Ok(channel));

        for kind in [chat_type::SAY, chat_type::AFK, chat_type::DND] {
            let say = ClientChat {
                kind: u32::from(kind),
                language: 0,
                target: ChatTarget::None,
                message: "x".into(),
            };
            let body = say.to_body();
            let mut expected = vec![kind, 0, 0, 0, 0, 0, 0, 0];
            expected.extend_from_slice(b"x\0");
            assert_eq!(&body[..], &expected[..]);
            assert_eq!(ClientChat::decode(&body), Ok(say));
        }
    }

    #[test]
    fn client_target_that_disagrees_with_the_type_follows_the_type() {
        let missing = ClientChat {
            target: ChatTarget::None,
            ..whisper()
        };
        assert_eq!(&missing.to_body()[..], b"\x07\0\0\0\x07\0\0\0\0hi\0");
        let extra = ClientChat {
            kind: u32::from(chat_type::SAY),
            ..whisper()
        };
        assert_eq!(&extra.to_body()[..], b"\x01\0\0\0\x07\0\0\0hi\0");
    }

    #[test]
    fn whisper_line_exact_bytes() {
        let body = whisper_line().to_body();
        let expected: &[u8] = &[
            0x07, // type WHISPER
            0x07, 0x00, 0x00, 0x00, // language
            0x2A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // sender
            0x00, 0x00, 0x00, 0x00, // flags
            0x2A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // receiver
            0x03, 0x00, 0x00, 0x00, // message length, NUL included
            b'h', b'i', 0x00, // message
            0x00, // chat tag
        ];
        assert_eq!(&body[..], expected);
        assert_eq!(ChatMessage::decode(&body), Ok(whisper_line()));
    }

    #[test]
    fn channel_line_exact_bytes() {
        let body = channel_line().to_body();
        let expected: &[u8] = &[
            0x11, // type CHANNEL
            0x01, 0x00, 0x00, 0x00, // language
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // sender
            0x00, 0x00, 0x00, 0x00, // flags
            b'w', b'o', b'r', b'l', b'd', 0x00, // channel name
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // receiver
            0x03, 0x00, 0x00, 0x00, // message length, NUL included
            b'y', b'o', 0x00, // message
            0x04, // chat tag GM
        ];
        assert_eq!(&body[..], expected);
        assert_eq!(ChatMessage::decode(&body), Ok(channel_line()));
    }

    #[test]
    fn channel_name_is_sent_only_for_channel() {
        let stray = ChatMessage {
            channel: Some("world".into()),
            ..whisper_line()
        };
        assert_eq!(stray.to_body(), whisper_line().to_body());
        let missing = ChatMessage {
            channel: None,
            ..channel_line()
        };
        assert_eq!(
            ChatMessage::decode(&missing.to_body()).map(|m| m.channel),
            Ok(Some(String::new()))
        );
    }

    #[test]
    fn player_not_found_exact_bytes() {
        let body = not_found().to_body();
        assert_eq!(&body[..], b"Bob\0");
        assert_eq!(ChatPlayerNotFound::decode(&body), Ok(not_found()));
    }

    #[test]
    fn every_strict_prefix_is_an_error() {
        fn check<P: WirePacket + std::fmt::Debug>(p: &P) {
            let body = p.to_body();
            for cut in 0..body.len() {
                assert!(
                    P::decode(&body[..cut]).is_err(),
                    "{p:?}: the first {cut} of {} bytes decode",
                    body.len()
                );
            }
        }
        check(&whisper());
        check(&whisper_line());
        check(&channel_line());
        check(&not_found());
    }

    #[test]
    fn trailing_bytes_are_ignored_like_the_other_decoders() {
        let mut body = BytesMut::from(&whisper_line().to_body()[..]);
        body.put_u8(0xFF);
        assert_eq!(ChatMessage::decode(&body), Ok(whisper_line()));
        let mut body = BytesMut::from(&whisper().to_body()[..]);
        body.put_u8(0xFF);
        assert_eq!(ClientChat::decode(&body), Ok(whisper()));
    }

    #[test]
    fn over_long_message_is_cut_on_a_char_boundary() {
        // 'é' is two bytes and '✓' three; `before_cap` of their bytes fit under the cap.
        for (tail, before_cap) in [("é", 1), ("✓", 1), ("✓", 2)] {
            let head = "a".repeat(CHAT_TEXT_MAX_BYTES - before_cap);
            let line = ChatMessage {
                message: head.clone() + tail + "bc",
                ..whisper_line()
            };
            let body = line.to_body();
            let len_at = 1 + 4 + 8 + 4 + 8;
            assert_eq!(
                body.get(len_at..len_at + 4),
                Some(&(head.len() as u32 + 1).to_le_bytes()[..])
            );
            assert_eq!(
                ChatMessage::decode(&body).map(|m| m.message),
                Ok(head.clone())
            );

            let chat = ClientChat {
                message: head.clone() + tail,
                ..whisper()
            };
            assert_eq!(
                ClientChat::decode(&chat.to_body()).map(|c| c.message),
                Ok(head)
            );
        }
        let exact = "a".repeat(CHAT_TEXT_MAX_BYTES - 2) + "é";
        let line = ChatMessage {
            message: exact.clone(),
            ..whisper_line()
        };
        assert_eq!(
            ChatMessage::decode(&line.to_body()).map(|m| m.message),
            Ok(exact)
        );
    }

    #[test]
    fn message_is_cut_at_an_embedded_nul() {
        let line = ChatMessage {
            message: "ab\0cd".into(),
            ..whisper_line()
        };
        assert_eq!(
            ChatMessage::decode(&line.to_body()).map(|m| m.message),
            Ok("ab".into())
        );
        let chat = ClientChat {
            message: "ab\0cd".into(),
            ..whisper()
        };
        assert_eq!(
            ClientChat::decode(&chat.to_body()).map(|c| c.message),
            Ok("ab".into())
        );
    }

    #[test]
    fn unsupported_types_are_refused() {
        for kind in 0..=u8::MAX {
            let line = ChatMessage {
                kind,
                channel: (kind == chat_type::CHANNEL).then(|| "world".into()),
                ..whisper_line()
            };
            let decoded = ChatMessage::decode(&line.to_body());
            if chat_type::is_player(kind) {
                assert_eq!(decoded, Ok(line));
            } else {
                assert_eq!(
                    decoded,
                    Err(DecodeError::InvalidValue {
                        field: "type",
                        value: u64::from(kind),
                    })
                );
            }
        }
    }

    #[test]
    fn message_length_must_match_the_text() {
        let body = whisper_line().to_body();
        let len_at = 1 + 4 + 8 + 4 + 8;
        let with_len = |len: u32| {
            let mut b = body.to_vec();
            b[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            b
        };
        assert!(matches!(
            ChatMessage::decode(&with_len(0)),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(matches!(
            ChatMessage::decode(&with_len(CHAT_TEXT_MAX_BYTES as u32 + 2)),
            Err(DecodeError::TooLarge { .. })
        ));
        // "hi\0" read as a 2-byte text has no NUL in its window.
        assert!(matches!(
            ChatMessage::decode(&with_len(2)),
            Err(DecodeError::StringTooLong { .. })
        ));
        // "hi\0" plus the tag read as a 4-byte text ends early.
        assert!(matches!(
            ChatMessage::decode(&with_len(4)),
            Err(DecodeError::InvalidValue {
                field: "message_len",
                ..
            })
        ));
    }

    #[test]
    fn names_over_their_caps_are_refused() {
        let long_name = ChatPlayerNotFound {
            name: "n".repeat(NAME_MAX_BYTES + 1),
        };
        assert!(matches!(
            ChatPlayerNotFound::decode(&long_name.to_body()),
            Err(DecodeError::StringTooLong { .. })
        ));
        let long_channel = ClientChat {
            kind: u32::from(chat_type::CHANNEL),
            target: ChatTarget::Channel("c".repeat(CHANNEL_NAME_MAX_BYTES + 1)),
            ..whisper()
        };
        assert!(matches!(
            ClientChat::decode(&long_channel.to_body()),
            Err(DecodeError::StringTooLong { .. })
        ));
    }
}
