//! Retries keep their distance, as the network sees them.
//!
//! **Invariant**: after a connect of a session fails (refused, or timed out), its next connect
//! comes no sooner than the shortest wait of the backoff policies (placement's and
//! recovery's); a recovery re-attaching to the worldserver it lost (the one its last good
//! connect went to, within that worldserver's linger) retries no later than recovery's
//! longest wait (plus [`RETRY_SLACK_MS`]); a session fails at most the larger policy's
//! attempt count of connects in a row.
//!
//! **Source of truth**: the connect attempts the simulated network carried (`SimNet`, the
//! gateway's network seam in the simulator): when each began and ended and whether it
//! failed, timed by the simulator. The gateway only says whom each attempt is for, which is
//! how the attempts are grouped.
//!
//! Not covered: a wait longer than the policy allows outside a re-attach (placement may find
//! nobody for a while, and then the session waits without connecting, legitimately).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use waygate::cluster::backoff::Backoff;
use waygate::runtime::ConnectFor;

/// A retry may come this much later than the longest wait: the placement between a backoff
/// and its connect.
pub const RETRY_SLACK_MS: u64 = 100;

/// One connect attempt the network carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The gateway that made it.
    pub gateway: u32,
    /// Whom it was for.
    pub who: ConnectFor,
    /// Where to.
    pub address: String,
    /// When it began and ended (milliseconds of the run).
    pub began_ms: u64,
    /// When it ended.
    pub ended_ms: u64,
    /// Whether it failed (refused or timed out).
    pub failed: bool,
}

/// The attempts of a run, in the order they began (shared by the gateways' networks).
#[derive(Debug, Clone, Default)]
pub struct ConnectLog(Arc<Mutex<Vec<Attempt>>>);

impl ConnectLog {
    /// Records one attempt.
    pub fn push(&self, a: Attempt) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(a);
    }

    /// Every attempt so far.
    pub fn attempts(&self) -> Vec<Attempt> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Judges `attempts` against the two policies and the worldservers' linger; returns what
/// broke them.
pub fn violations(
    attempts: &[Attempt],
    placement: &Backoff,
    recovery: &Backoff,
    linger_ms: u64,
) -> Vec<String> {
    let shortest = placement.min_ms.min(recovery.min_ms);
    let longest = recovery.max_ms + RETRY_SLACK_MS;
    let most = placement.max_attempts.max(recovery.max_attempts);
    let mut by_session: BTreeMap<(u32, u64), Vec<&Attempt>> = BTreeMap::new();
    for a in attempts {
        if let ConnectFor::Session(id) = a.who {
            by_session.entry((a.gateway, id)).or_default().push(a);
        }
    }
    let mut out = Vec::new();
    for ((gateway, id), mut list) in by_session {
        list.sort_by_key(|a| a.began_ms);
        let who = format!("gw{gateway} session {id}");
        let mut failed_in_a_row = 0u32;
        // Where the session's last successful connect went, and when the run of failures
        // after it began.
        let mut last_good: Option<&str> = None;
        let mut run_began_ms = 0;
        for pair in list.windows(2) {
            let (prev, next) = (pair[0], pair[1]);
            if !prev.failed {
                failed_in_a_row = 0;
                last_good = Some(&prev.address);
                continue;
            }
            if failed_in_a_row == 0 {
                run_began_ms = prev.began_ms;
            }
            failed_in_a_row += 1;
            let gap = next.began_ms.saturating_sub(prev.ended_ms);
            if gap < shortest {
                out.push(format!(
                    "{who}: connect to {} {gap} ms after its connect to {} failed at {}ms, sooner than the shortest wait {shortest} ms",
                    next.address, prev.address, prev.ended_ms
                ));
            }
            // Back to the worldserver it lost, within that one's linger: a recovery's
            // re-attach, which retries there directly, with no placement in between.
            let reattach = last_good == Some(prev.address.as_str())
                && next.address == prev.address
                && next.began_ms < run_began_ms.saturating_add(linger_ms);
            if reattach && gap > longest {
                out.push(format!(
                    "{who}: re-attach to {} retried {gap} ms after the last attempt failed at {}ms, later than the longest wait {longest} ms",
                    next.address, prev.ended_ms
                ));
            }
            if failed_in_a_row >= most {
                out.push(format!(
                    "{who}: a connect after {failed_in_a_row} failed in a row (at most {most})"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min_ms: u64, max_ms: u64, max_attempts: u32) -> Backoff {
        Backoff {
            min_ms,
            max_ms,
            multiplier: 2.0,
            jitter: 0.5,
            max_attempts,
            deadline_ms: 60_000,
        }
    }

    fn attempt(id: u64, address: &str, began_ms: u64, ended_ms: u64, failed: bool) -> Attempt {
        Attempt {
            gateway: 0,
            who: ConnectFor::Session(id),
            address: address.into(),
            began_ms,
            ended_ms,
            failed,
        }
    }

    #[test]
    fn gaps_after_failures_are_judged_per_session() {
        let (p, r) = (policy(250, 2_000, 20), policy(300, 5_000, 3));
        let linger = 60_000;
        let fine = [
            attempt(1, "a", 0, 5, false),
            attempt(2, "a", 10, 15, true),
            attempt(1, "a", 1_000, 1_005, true),
            attempt(1, "a", 1_255, 1_260, true),
            attempt(2, "b", 300, 301, false),
            attempt(1, "a", 6_360, 6_361, false),
            attempt(1, "a", 6_400, 6_401, true),
        ];
        let v = violations(&fine, &p, &r, linger);
        assert!(v.is_empty(), "{v:?}");

        let soon = [
            attempt(1, "a", 0, 5, true),
            attempt(1, "b", 100, 101, false),
        ];
        let v = violations(&soon, &p, &r, linger);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("sooner"), "{v:?}");

        let reattach = |late_ms: u64| {
            [
                attempt(1, "a", 0, 5, false),
                attempt(1, "a", 10_000, 10_005, true),
                attempt(1, "a", 10_005 + late_ms, 10_006 + late_ms, true),
            ]
        };
        let v = violations(&reattach(8_000), &p, &r, linger);
        assert!(v.len() == 1 && v[0].contains("later"), "{v:?}");
        assert!(violations(&reattach(5_100), &p, &r, linger).is_empty());
        assert!(
            violations(&reattach(8_000), &p, &r, 5_000).is_empty(),
            "past the linger a placement comes between"
        );
        let login = [
            attempt(1, "a", 0, 5, true),
            attempt(1, "a", 8_005, 8_006, true),
        ];
        assert!(
            violations(&login, &p, &r, linger).is_empty(),
            "not covered: no good connect before"
        );

        let many: Vec<Attempt> = (0..22)
            .map(|k| attempt(1, "a", k * 1_000, k * 1_000 + 1, true))
            .collect();
        let v = violations(&many, &p, &r, linger);
        assert_eq!(v.len(), 2, "the 21st and 22nd attempts: {v:?}");

        let probes = [
            Attempt {
                who: ConnectFor::Probe,
                ..attempt(0, "a", 0, 1, true)
            },
            Attempt {
                who: ConnectFor::Probe,
                ..attempt(0, "a", 2, 3, true)
            },
        ];
        assert!(
            violations(&probes, &p, &r, linger).is_empty(),
            "probes are not retries"
        );
    }
}
