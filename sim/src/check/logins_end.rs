//! Every login ends, within the gateway's bound.
//!
//! **Invariant**: each CMSG_PLAYER_LOGIN a bot sent was answered (the first
//! SMSG_TIME_SYNC_REQ, SMSG_CHARACTER_LOGIN_FAILED, or a close) within the bound that the
//! session's limits give a login (`SessionConfig::login_answer_max_ms`). A login a bot waited
//! on for the whole bound without an answer fails, and so does an answer that came later.
//! A bot that gave up earlier (its own step timeout) is not judged here: that is liveness.
//!
//! **Source of truth**: the bots' reports: when each login was sent and how, and after how
//! long, the gateway answered it. Nothing the gateway says about its sessions is read.

use super::expect::BotResult;
use super::{Checker, Findings};

/// The check, run once after the last bot.
pub struct LoginsEnd {
    /// The gateway's bound on a login's answer, in milliseconds.
    pub bound_ms: u64,
}

impl LoginsEnd {
    /// Judges the bots' logins.
    pub fn check(&self, results: &[BotResult], findings: &Findings) {
        let bound = self.bound_ms;
        for (index, report, _, _) in results {
            for waited in report.logins_unanswered_ms.iter().filter(|w| **w >= bound) {
                findings.fail(Checker::LoginsEnd, format!(
                    "bot{index}: a PLAYER_LOGIN had no answer (no SMSG_TIME_SYNC_REQ, no SMSG_CHARACTER_LOGIN_FAILED, no close) after {waited} ms; a login's bound is {bound} ms"
                ));
            }
            let answered = report
                .login_ms
                .iter()
                .map(|ms| (ms, "in world"))
                .chain(report.logins_refused_ms.iter().map(|ms| (ms, "refused")));
            for (ms, how) in answered.filter(|(ms, _)| **ms > bound) {
                findings.fail(
                    Checker::LoginsEnd,
                    format!("bot{index}: a PLAYER_LOGIN was answered ({how}) after {ms} ms, past a login's bound of {bound} ms"),
                );
            }
        }
    }
}
