//! Liveness and the scenario's stated counts.
//!
//! **Invariants**: at least `expect.bots_ok` bots (default: all) finish their scripts
//! cleanly; each one that does finishes within the scenario's SLO; the total logins and
//! handoffs are the ones the scenario states, when it states them; and a scenario that claims
//! to exercise the drain checker did admit new characters elsewhere while a worldserver that
//! could have taken them was drained (or closed by the health rule), and that a worldserver
//! the health rule closed admitted new characters again once its cause was over; and a
//! scenario that claims its partitioned worldserver still holds characters when the
//! partition heals did see that ([`HeldAtHeal`]).
//!
//! **Source of truth**: the bots' own reports (what they did and when they ended), the
//! drain checker's count, and the fakes' worlds as read at each heal.

use super::drain::DrainChecker;
use super::held_at_heal::HeldAtHeal;
use super::{Checker, Findings};
use crate::scenario::Scenario;

pub use super::BotResult;

/// What the bots did, in total.
#[derive(Debug, Clone, Copy)]
pub struct Totals {
    /// Bots that finished cleanly.
    pub ok: u32,
    /// Logins.
    pub logins: u32,
    /// Handoffs.
    pub handoffs: u32,
}

/// The check, run once after the last bot.
pub struct Expectations<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// The drain checker of the run.
    pub drains: &'a DrainChecker,
    /// What each partitioned worldserver held when its partition healed.
    pub heals: &'a HeldAtHeal,
}

impl Expectations<'_> {
    /// Judges `results` and returns the totals.
    pub fn check(&self, results: &[BotResult], findings: &Findings) -> Totals {
        let scenario = self.scenario;
        let ok = results.iter().filter(|r| r.2.is_ok()).count() as u32;
        let logins: u32 = results.iter().map(|r| r.1.logins).sum();
        let handoffs: u32 = results.iter().map(|r| r.1.handoffs).sum();
        let want_ok = scenario.expect.bots_ok.unwrap_or(scenario.bot_count());
        if ok < want_ok {
            findings.fail(
                Checker::Liveness,
                format!("{ok} bots finished cleanly, expected {want_ok}"),
            );
        }
        for (index, _, r, done_at) in results {
            if r.is_ok() && done_at.as_millis() as u64 > scenario.slo_ms {
                findings.fail(
                    Checker::Liveness,
                    format!(
                        "bot{index} finished at {}ms, past the {}ms SLO",
                        done_at.as_millis(),
                        scenario.slo_ms
                    ),
                );
            }
        }
        if let Some(max) = scenario.expect.bots_ok_max
            && ok > max
        {
            findings.fail(
                Checker::Counts,
                format!(
                    "{ok} bots finished cleanly, at most {max} may (one login of each account pair)"
                ),
            );
        }
        let evicted = results.iter().filter(|r| r.1.evicted).count() as u32;
        if let Some(want) = scenario.expect.evicted
            && evicted != want
        {
            findings.fail(
                Checker::Counts,
                format!("{evicted} bots evicted and told why, expected {want}"),
            );
        }
        if let Some(want) = scenario.expect.logins
            && logins != want
        {
            findings.fail(Checker::Counts, format!("{logins} logins, expected {want}"));
        }
        if let Some(want) = scenario.expect.handoffs
            && handoffs != want
        {
            findings.fail(
                Checker::Counts,
                format!("{handoffs} handoffs, expected {want}"),
            );
        }
        if let Some(want) = scenario.expect.logins_while_drained
            && self.drains.logins_while_drained() < want
        {
            findings.fail(Checker::Counts, format!(
                "{} new characters admitted elsewhere while a worldserver that could have taken them was drained, expected at least {want}: the drain checker was not exercised",
                self.drains.logins_while_drained()
            ));
        }
        if let Some(want) = scenario.expect.logins_while_closed
            && self.drains.logins_while_closed() < want
        {
            findings.fail(Checker::Counts, format!(
                "{} new characters admitted elsewhere while a worldserver that could have taken them was closed by the health rule, expected at least {want}: the admission checker was not exercised",
                self.drains.logins_while_closed()
            ));
        }
        if let Some(want) = scenario.expect.logins_after_reopen
            && self.drains.logins_after_reopen() < want
        {
            findings.fail(Checker::Counts, format!(
                "{} new characters admitted by a worldserver after the health rule had closed it and its world was fast again, expected at least {want}: a degraded worldserver was never let admit again",
                self.drains.logins_after_reopen()
            ));
        }
        self.heals.check(findings);
        Totals {
            ok,
            logins,
            handoffs,
        }
    }
}
