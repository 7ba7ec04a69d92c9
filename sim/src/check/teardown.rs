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

use super::links::{ClientLog, Windows, due_ms, owners_closed, windows};
use super::{Checker, Findings};
use crate::scenario::{Fault, FaultKind};

pub use super::links::CLOSE_AFTER_CLIENT_MAX_MS;
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

/// Per client, while the run goes on: no worldserver connection outlives its client.
///
/// **Invariant**: a worldserver connection the gateway opened for a client closes within
/// [`CLOSE_AFTER_CLIENT_MAX_MS`] of that client's close. A connection belongs to the clients
/// of its account that had connected by the time the worldserver accepted it; once every one
/// of them has closed, the clock runs from the last close. While the worldserver is
/// partitioned it cannot see a close, so the clock starts again at the heal (a partition that
/// never heals excuses the connection).
///
/// **Source of truth**: when each bot connected and closed (the bots' own sockets), the
/// connections each fake worldserver has open and the account each authenticated, sampled
/// every [`POLL_EVERY_MS`], and the scenario's partitions. Each connection is reported once.
pub struct ClientLinks {
    clients: Arc<Mutex<ClientLog>>,
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl ClientLinks {
    /// Starts sampling `worlds` on the current node. `faults` is the whole fault timeline.
    pub fn spawn(
        worlds: Vec<(String, FakeWorldserver)>,
        faults: &[Fault],
        findings: Findings,
    ) -> Self {
        let clients: Arc<Mutex<ClientLog>> = Arc::default();
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let windows: Vec<Windows> = worlds.iter().map(|(id, _)| windows(faults, id)).collect();
        let (log, running) = (clients.clone(), done.clone());
        tokio::spawn(async move {
            let mut reported = std::collections::BTreeSet::new();
            while !running.load(std::sync::atomic::Ordering::Relaxed) {
                let now = findings.now().as_millis() as u64;
                let mut late = Vec::new();
                {
                    let log = log
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    for ((id, fake), windows) in worlds.iter().zip(&windows) {
                        for (conn, account, opened) in fake.open_connections() {
                            let Some(account) = account else { continue };
                            let Some(closed) = owners_closed(&log, &account, opened) else {
                                continue;
                            };
                            let Some(due) = due_ms(closed, windows) else {
                                continue;
                            };
                            if now > due && reported.insert((id.clone(), conn)) {
                                late.push(format!(
                                    "{id} connection {conn} of {account} (accepted at {opened}ms) still open at {now}ms: its client closed at {closed}ms"
                                ));
                            }
                        }
                    }
                }
                for msg in late {
                    findings.flag(Checker::Teardown, msg);
                }
                tokio::time::sleep(Duration::from_millis(POLL_EVERY_MS)).await;
            }
        });
        Self { clients, done }
    }

    /// A client of `account` connected at `at_ms`; returns its index for [`Self::closed`].
    pub fn opened(&self, account: &str, at_ms: u64) -> usize {
        let mut log = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = log.entry(account.to_uppercase()).or_default();
        list.push((at_ms, None));
        list.len() - 1
    }

    /// The client `index` of `account` closed at `at_ms`.
    pub fn closed(&self, account: &str, index: usize, at_ms: u64) {
        let mut log = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = log
            .get_mut(&account.to_uppercase())
            .and_then(|l| l.get_mut(index))
        {
            c.1 = Some(at_ms);
        }
    }

    /// Stops sampling (after its current sample).
    pub fn stop(&self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
