//! The character screen and the way in and out of the world: account data, the character
//! list, the realm split, login and logout.

use tokio::time::Instant;

use super::{
    Bot, BotError, LOGOUT_DELAY_MS, REALM_SPLIT_DECISION, later, millis, protocol, timeout,
};
use crate::wire::Opcode;
use crate::wire::packets::{
    AccountDataTimes, CharEnum, CharacterLoginFailed, LogoutResponse, PlayerLogin, RealmSplit,
    RealmSplitRequest, TimeSyncReq, WirePacket,
};

impl Bot {
    pub(super) async fn character_screen(&mut self, step: &str) -> Result<(), BotError> {
        self.send(step, Opcode::CMSG_READY_FOR_ACCOUNT_DATA_TIMES, &[])?;
        self.send(step, Opcode::CMSG_CHAR_ENUM, &[])?;
        self.send(
            step,
            RealmSplitRequest::OPCODE,
            &RealmSplitRequest {
                decision: REALM_SPLIT_DECISION,
            }
            .to_body(),
        )?;
        self.flush(step).await?;
        let mut need = vec![
            AccountDataTimes::OPCODE,
            CharEnum::OPCODE,
            RealmSplit::OPCODE,
        ];
        let mut deadline = self.deadline();
        while !need.is_empty() {
            let awaiting = need
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let p = self.next_packet_by(step, &awaiting, deadline).await?;
            if !need.contains(&p.opcode) {
                continue;
            }
            match p.opcode {
                Opcode::SMSG_CHAR_ENUM => {
                    let list = CharEnum::decode(&p.body)
                        .map_err(|e| protocol(step, format!("SMSG_CHAR_ENUM: {e}")))?;
                    if !list.characters.iter().any(|c| c.guid == self.cfg.character) {
                        return Err(protocol(
                            step,
                            format!(
                                "character {} is not in SMSG_CHAR_ENUM ({} listed)",
                                self.cfg.character,
                                list.characters.len()
                            ),
                        ));
                    }
                }
                Opcode::SMSG_REALM_SPLIT => {
                    let split = RealmSplit::decode(&p.body)
                        .map_err(|e| protocol(step, format!("SMSG_REALM_SPLIT: {e}")))?;
                    if split.decision != REALM_SPLIT_DECISION {
                        return Err(protocol(
                            step,
                            format!(
                                "SMSG_REALM_SPLIT echoes {:#x}, sent {REALM_SPLIT_DECISION:#x}",
                                split.decision
                            ),
                        ));
                    }
                }
                _ => {
                    AccountDataTimes::decode(&p.body)
                        .map_err(|e| protocol(step, format!("SMSG_ACCOUNT_DATA_TIMES: {e}")))?;
                }
            }
            need.retain(|op| *op != p.opcode);
            deadline = self.deadline();
        }
        Ok(())
    }

    /// A character create, delete or rename: the request, then its answer, whose result
    /// must be `expect`.
    pub(super) async fn char_request<P: WirePacket>(
        &mut self,
        step: &str,
        request: &P,
        expect: u8,
    ) -> Result<(), BotError> {
        let answer = match P::OPCODE {
            Opcode::CMSG_CHAR_CREATE => Opcode::SMSG_CHAR_CREATE,
            Opcode::CMSG_CHAR_DELETE => Opcode::SMSG_CHAR_DELETE,
            Opcode::CMSG_CHAR_RENAME => Opcode::SMSG_CHAR_RENAME,
            other => {
                return Err(protocol(
                    step,
                    format!("{other} is not a character request"),
                ));
            }
        };
        self.send(step, P::OPCODE, &request.to_body())?;
        self.flush(step).await?;
        let deadline = self.deadline();
        let p = self
            .await_packet(step, &answer.to_string(), deadline, &[answer])
            .await?;
        let Some(&result) = p.body.first() else {
            return Err(protocol(step, format!("{answer} without a result")));
        };
        self.report.char_results.push((answer, result));
        if result != expect {
            return Err(protocol(
                step,
                format!("{answer} answered {result:#04x}, expected {expect:#04x}"),
            ));
        }
        Ok(())
    }

    pub(super) async fn enter_world(&mut self, step: &str) -> Result<(), BotError> {
        let t0 = Instant::now();
        self.world_entries += 1;
        self.send(
            step,
            PlayerLogin::OPCODE,
            &PlayerLogin {
                guid: self.cfg.character,
            }
            .to_body(),
        )?;
        self.flush(step).await?;
        let deadline = self.deadline();
        let p = self
            .await_packet(
                step,
                "SMSG_TIME_SYNC_REQ",
                deadline,
                &[TimeSyncReq::OPCODE, CharacterLoginFailed::OPCODE],
            )
            .await?;
        if p.opcode == CharacterLoginFailed::OPCODE {
            let failed = CharacterLoginFailed::decode(&p.body)
                .map_err(|e| protocol(step, format!("SMSG_CHARACTER_LOGIN_FAILED: {e}")))?;
            self.report.login_failed = Some(failed.reason.0);
            return Err(BotError::LoginFailed(failed.reason.0));
        }
        self.report.logins += 1;
        self.report.login_ms.push(millis(t0.elapsed()));
        Ok(())
    }

    pub(super) async fn logout(&mut self, step: &str) -> Result<(), BotError> {
        self.send(step, Opcode::CMSG_LOGOUT_REQUEST, &[])?;
        self.flush(step).await?;
        let logout = [LogoutResponse::OPCODE, Opcode::SMSG_LOGOUT_COMPLETE];
        let deadline = self.deadline();
        let p = self
            .await_packet(step, "SMSG_LOGOUT_RESPONSE", deadline, &logout)
            .await?;
        if p.opcode != LogoutResponse::OPCODE {
            return Err(protocol(
                step,
                "SMSG_LOGOUT_COMPLETE before SMSG_LOGOUT_RESPONSE",
            ));
        }
        let response = LogoutResponse::decode(&p.body)
            .map_err(|e| protocol(step, format!("SMSG_LOGOUT_RESPONSE: {e}")))?;
        if response.result != 0 {
            return Err(protocol(
                step,
                format!("logout refused with result {}", response.result),
            ));
        }
        let wait_ms = if response.instant {
            self.cfg.step_timeout_ms
        } else {
            self.cfg.step_timeout_ms.saturating_add(LOGOUT_DELAY_MS)
        };
        let deadline = later(Instant::now(), wait_ms);
        loop {
            let Some(p) = self.next_packet(step, deadline).await? else {
                return Err(timeout(step, "SMSG_LOGOUT_COMPLETE", wait_ms));
            };
            if p.opcode == Opcode::SMSG_LOGOUT_COMPLETE {
                break;
            }
        }
        self.report.logouts += 1;
        Ok(())
    }
}
