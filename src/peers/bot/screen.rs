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
        let wait_ms = self.cfg.step_timeout_ms;
        match self.login_answer(step, wait_ms).await? {
            LoginAnswer::InWorld => {
                self.report.logins += 1;
                self.entered_world();
                self.report.login_ms.push(millis(t0.elapsed()));
                Ok(())
            }
            LoginAnswer::Refused(code) => Err(BotError::LoginFailed(code)),
        }
    }

    /// A login the realm must refuse: SMSG_CHARACTER_LOGIN_FAILED with `code` within
    /// `within_ms`.
    pub(super) async fn enter_world_refused(
        &mut self,
        step: &str,
        code: u8,
        within_ms: u64,
    ) -> Result<(), BotError> {
        match self.login_answer(step, within_ms).await? {
            LoginAnswer::Refused(c) if c == code => Ok(()),
            LoginAnswer::Refused(c) => Err(protocol(
                step,
                format!("login refused with {c:#04x}, expected {code:#04x}"),
            )),
            LoginAnswer::InWorld => Err(protocol(
                step,
                format!("in world, expected the login refused with {code:#04x}"),
            )),
        }
    }

    /// Sends CMSG_PLAYER_LOGIN and reads until the gateway answers it: the first
    /// SMSG_TIME_SYNC_REQ (in world) or SMSG_CHARACTER_LOGIN_FAILED. A close is an answer
    /// too ([`BotError::Closed`]). No answer within `wait_ms` is a [`BotError::Timeout`], and
    /// the wait is recorded in [`BotReport::logins_unanswered_ms`].
    async fn login_answer(&mut self, step: &str, wait_ms: u64) -> Result<LoginAnswer, BotError> {
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
        let deadline = later(t0, wait_ms);
        let answers = [TimeSyncReq::OPCODE, CharacterLoginFailed::OPCODE];
        let p = loop {
            match self.next_packet(step, deadline).await? {
                Some(p) if answers.contains(&p.opcode) => break p,
                Some(_) => {}
                None => {
                    self.report.logins_unanswered_ms.push(wait_ms);
                    return Err(timeout(step, "SMSG_TIME_SYNC_REQ", wait_ms));
                }
            }
        };
        if p.opcode == TimeSyncReq::OPCODE {
            return Ok(LoginAnswer::InWorld);
        }
        let failed = CharacterLoginFailed::decode(&p.body)
            .map_err(|e| protocol(step, format!("SMSG_CHARACTER_LOGIN_FAILED: {e}")))?;
        self.report.login_failed = Some(failed.reason.0);
        self.report.logins_refused_ms.push(millis(t0.elapsed()));
        Ok(LoginAnswer::Refused(failed.reason.0))
    }

    pub(super) async fn logout(&mut self, step: &str) -> Result<(), BotError> {
        self.left_world();
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

/// How the gateway answered a CMSG_PLAYER_LOGIN.
enum LoginAnswer {
    /// The first SMSG_TIME_SYNC_REQ arrived.
    InWorld,
    /// SMSG_CHARACTER_LOGIN_FAILED with this code.
    Refused(u8),
}
