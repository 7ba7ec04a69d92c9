//! Whispers, guild chat and party frames, as a player sends and reads them: what the
//! simulator's chat and party checkers judge the gateway's presentation by (every whisper
//! reaches its receiver once, or its sender is told it did not; every guild line reaches the
//! members in world once; the frames of group members elsewhere stay live).

use tokio::time::Instant;

use super::{Bot, BotError, BotReport, LANG_UNIVERSAL, REPORT_LIST_MAX, later};
use crate::present::chat::UNDELIVERED_WORDS;
use crate::present::guild::UNDELIVERED_LINE as GUILD_UNDELIVERED;
use crate::wire::packets::{
    ChatMessage, ChatTarget, ClientChat, PartyMemberStats, WirePacket, chat_type,
};
use crate::wire::{Opcode, Packet};

/// SMSG_MESSAGECHAT's type byte for a system line (CHAT_MSG_SYSTEM).
const CHAT_MSG_SYSTEM: u8 = 0x00;

impl Bot {
    /// Whispers `count` lines to `to`, one every `interval_ms`, reading (and answering)
    /// whatever arrives in between. Each text is unique to this connection of the bot.
    pub(super) async fn whisper(
        &mut self,
        step: &str,
        to: &str,
        count: u32,
        interval_ms: u64,
    ) -> Result<(), BotError> {
        let target = ChatTarget::Whisper(to.to_owned());
        self.say_lines(
            step,
            (chat_type::WHISPER, target),
            count,
            interval_ms,
            |r, text| {
                keep(&mut r.whispers_sent, (to.to_owned(), text));
            },
        )
        .await
    }

    /// Says `count` lines in guild chat, as [`Bot::whisper`].
    pub(super) async fn guild_chat(
        &mut self,
        step: &str,
        count: u32,
        interval_ms: u64,
    ) -> Result<(), BotError> {
        let guild = (chat_type::GUILD, ChatTarget::None);
        self.say_lines(step, guild, count, interval_ms, |r, text| {
            keep(&mut r.guild_sent, (text, Instant::now()));
        })
        .await
    }

    /// Sends `count` chat lines of a type to a target, one every `interval_ms`, reading (and
    /// answering) whatever arrives in between; `said` records each text once it is sent.
    async fn say_lines(
        &mut self,
        step: &str,
        (kind, target): (u8, ChatTarget),
        count: u32,
        interval_ms: u64,
        mut said: impl FnMut(&mut BotReport, String),
    ) -> Result<(), BotError> {
        let mut due = Instant::now();
        for _ in 0..count {
            let text = format!("{kind:x}.{:x}.{}", self.cfg.seed, self.lines_said);
            self.lines_said += 1;
            let chat = ClientChat {
                kind: u32::from(kind),
                language: LANG_UNIVERSAL,
                target: target.clone(),
                message: text.clone(),
            };
            self.send(step, ClientChat::OPCODE, &chat.to_body())?;
            self.flush(step).await?;
            said(&mut self.report, text);
            due = later(due, interval_ms);
            while self.next_packet(step, due).await?.is_some() {}
        }
        Ok(())
    }

    /// Notes what a chat packet says about whispers and guild lines, whatever the step.
    pub(super) fn note_chat(&mut self, p: &Packet) {
        let contains = |words: &str| {
            let words = words.as_bytes();
            p.body.windows(words.len()).any(|w| w == words)
        };
        match p.opcode {
            Opcode::SMSG_MESSAGECHAT if p.body.first() == Some(&CHAT_MSG_SYSTEM) => {
                if contains(GUILD_UNDELIVERED) {
                    self.report.guild_undeliverable += 1;
                } else if contains(UNDELIVERED_WORDS) {
                    self.report.whispers_undeliverable += 1;
                }
            }
            Opcode::SMSG_MESSAGECHAT => {
                let Ok(line) = ChatMessage::decode(&p.body) else {
                    return;
                };
                if line.kind == chat_type::WHISPER {
                    if self.expect_new_world || self.world_entries > 0 {
                        self.report.whispers_received_moving += 1;
                    }
                    keep(&mut self.report.whispers_received, line.message);
                } else if line.kind == chat_type::WHISPER_INFORM {
                    keep(&mut self.report.whispers_informed, line.message);
                } else if line.kind == chat_type::GUILD && line.sender == self.cfg.character {
                    keep(&mut self.report.guild_echoed, line.message);
                } else if line.kind == chat_type::GUILD {
                    keep(&mut self.report.guild_received, line.message);
                }
            }
            Opcode::SMSG_CHAT_PLAYER_NOT_FOUND => self.report.whispers_undeliverable += 1,
            Opcode::SMSG_PARTY_MEMBER_STATS | Opcode::SMSG_PARTY_MEMBER_STATS_FULL => {
                if let Ok(frame) = PartyMemberStats::decode_as(p.opcode, &p.body) {
                    let seen = (frame.guid, frame.hp, Instant::now());
                    keep(&mut self.report.party_frames, seen);
                }
            }
            _ => {}
        }
    }
}

/// Keeps `item` unless [`REPORT_LIST_MAX`] are kept already (a report stays bounded).
fn keep<T>(list: &mut Vec<T>, item: T) {
    if list.len() < REPORT_LIST_MAX {
        list.push(item);
    }
}
