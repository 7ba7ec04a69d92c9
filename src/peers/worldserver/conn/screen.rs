//! The character screen of a cluster worldserver: create, delete and rename on an
//! authenticated connection with no player (the gateway opens such a connection for each).
//! AzerothCore's answers, codes and silences (CharacterHandler.cpp).

use super::{AuthStage, Conn};
use crate::peers::worldserver::WorldEventKind;
use crate::wire::packets::{
    CharCreate, CharCreateResult, CharDelete, CharDeleteResult, CharRename, CharRenameResult,
    WirePacket, char_result,
};
use crate::wire::{Opcode, Packet};

impl Conn {
    /// A character-screen opcode with no player here. Bodies that do not parse are skipped,
    /// as the world loop skips a handler that runs off the end of its packet.
    pub(super) fn at_character_screen(&mut self, p: &Packet) {
        let AuthStage::Authed { account } = &self.auth else {
            return;
        };
        let account = account.clone();
        match p.opcode {
            Opcode::CMSG_CHAR_CREATE => {
                if let Ok(c) = CharCreate::decode(&p.body) {
                    self.create_character(&account, &c.name);
                }
            }
            Opcode::CMSG_CHAR_DELETE => {
                if let Ok(d) = CharDelete::decode(&p.body) {
                    self.delete_character(&account, d.guid);
                }
            }
            Opcode::CMSG_CHAR_RENAME => {
                if let Ok(r) = CharRename::decode(&p.body) {
                    self.rename_character(&account, r.guid, &r.name);
                }
            }
            _ => {}
        }
    }

    fn create_character(&mut self, account: &str, name: &str) {
        let name = normalize_name(name);
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        let created = if name.is_empty() {
            Err(char_result::CHAR_NAME_NO_NAME)
        } else {
            w.store.create(account, &name)
        };
        let result = match created {
            Ok(guid) => {
                let kind = WorldEventKind::CharacterCreated { name };
                w.event(Some(self.id), Some(guid), kind);
                char_result::CHAR_CREATE_SUCCESS
            }
            Err(code) => {
                w.event(Some(self.id), None, refused(Opcode::CMSG_CHAR_CREATE, code));
                code
            }
        };
        drop(w);
        self.send_packet(&CharCreateResult { result });
    }

    /// AzerothCore answers nothing when the character is online (or lingering) or is not the
    /// account's (unknown included); CHAR_DELETE_SUCCESS otherwise.
    fn delete_character(&mut self, account: &str, guid: u64) {
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        if w.players.contains_key(&guid) || !w.store.delete(account, guid) {
            let kind = WorldEventKind::CharRequestRefused {
                opcode: Opcode::CMSG_CHAR_DELETE,
                code: None,
            };
            w.event(Some(self.id), Some(guid), kind);
            return;
        }
        w.event(Some(self.id), Some(guid), WorldEventKind::CharacterDeleted);
        drop(w);
        self.send_packet(&CharDeleteResult {
            result: char_result::CHAR_DELETE_SUCCESS,
        });
    }

    /// CHAR_NAME_NO_NAME for an empty name; CHAR_CREATE_ERROR when the character is not the
    /// account's, the name is taken or the character is online (or lingering) here.
    fn rename_character(&mut self, account: &str, guid: u64, name: &str) {
        let name = normalize_name(name);
        let ws = self.ws.clone();
        let Some(mut w) = self.live(&ws) else {
            return;
        };
        let code = if name.is_empty() {
            Some(char_result::CHAR_NAME_NO_NAME)
        } else if w.players.contains_key(&guid) || !w.store.rename(account, guid, &name) {
            Some(char_result::CHAR_CREATE_ERROR)
        } else {
            None
        };
        let answer = match code {
            Some(code) => {
                w.event(
                    Some(self.id),
                    Some(guid),
                    refused(Opcode::CMSG_CHAR_RENAME, code),
                );
                CharRenameResult::Refused(code)
            }
            None => {
                let kind = WorldEventKind::CharacterRenamed { name: name.clone() };
                w.event(Some(self.id), Some(guid), kind);
                CharRenameResult::Renamed { guid, name }
            }
        };
        drop(w);
        self.send_packet(&answer);
    }
}

fn refused(opcode: Opcode, code: u8) -> WorldEventKind {
    WorldEventKind::CharRequestRefused {
        opcode,
        code: Some(code),
    }
}

/// AzerothCore's `normalizePlayerName` for ASCII names: first letter upper case, the rest
/// lower case.
fn normalize_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}
