//! Nothing outlives the clients.
//!
//! **Invariant**: once every bot has left, the gateway has no session open and no fake
//! worldserver has a connection open, within [`CLOSE_AFTER_CLIENT_MAX_MS`].
//!
//! **Source of truth**: the gateway's count of open sessions and the fakes' counts of open
//! connections, polled every [`POLL_EVERY_MS`] after the last bot ended. A worldserver still
//! partitioned at the end (more partitions than heals in the scenario) cannot see its
//! sockets close, so its connections are excused; sessions never are.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use waygate::driver::Gateway;
use waygate::peers::worldserver::FakeWorldserver;

use super::{Checker, Findings};
use crate::scenario::{Fault, FaultKind};

/// Once every bot has left, sessions and their worldserver connections must be gone within
/// this long.
pub const CLOSE_AFTER_CLIENT_MAX_MS: u64 = 1_000;
/// Polling period.
pub const POLL_EVERY_MS: u64 = 25;

/// The check, run once after the last bot.
pub struct Teardown<'a> {
    /// The realm's gateways, once they exist.
    pub gateways: &'a [Arc<Mutex<Option<Arc<Gateway>>>>],
    /// The fakes.
    pub worlds: &'a [(String, FakeWorldserver)],
    /// The scenario's scripted faults.
    pub faults: &'a [Fault],
}

impl Teardown<'_> {
    fn open(&self) -> (usize, usize) {
        let sessions: usize = self
            .gateways
            .iter()
            .filter_map(|s| {
                s.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone()
            })
            .map(|g| g.open_sessions())
            .sum();
        let links: usize = self.worlds.iter().map(|(_, f)| f.connections()).sum();
        (sessions, links)
    }

    /// Waits (bounded) for everything to close, then judges.
    pub async fn check(&self, findings: &Findings) {
        let waited = tokio::time::Instant::now();
        while self.open() != (0, 0)
            && waited.elapsed() < Duration::from_millis(CLOSE_AFTER_CLIENT_MAX_MS)
        {
            tokio::time::sleep(Duration::from_millis(POLL_EVERY_MS)).await;
        }
        let (sessions, links) = self.open();
        if sessions == 0 && links == 0 {
            return;
        }
        let count = |heal: bool| {
            self.faults
                .iter()
                .filter(|f| match f.kind {
                    FaultKind::Partition { .. } => !heal,
                    FaultKind::Heal { .. } => heal,
                    _ => false,
                })
                .count()
        };
        let partitioned = count(false) > count(true);
        if sessions > 0 || !partitioned {
            findings.fail(Checker::Teardown, format!(
                "{sessions} sessions and {links} worldserver connections still open {CLOSE_AFTER_CLIENT_MAX_MS} ms after every bot left"
            ));
        }
    }
}
