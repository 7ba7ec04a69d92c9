//! When the health rule forbids admitting anyone new, judged from the fault timeline.
//!
//! **Invariant**: a worldserver admits nobody new (no PLAYER_LOGIN of a character it does
//! not hold) while, by the outside facts, the health rule says it may not:
//! - **stale registry**: the registry has been unreachable for longer than
//!   `registry_stale_after_ms`: the gateway's view is stale and places nobody, anywhere;
//! - **slow world**: a worldserver's world-update time (as the registry reports it: the
//!   fake's base loop plus the slowdown the timeline gave it) is over
//!   `slow_world_update_ms`, and the registry has answered at least
//!   `bad_probes_to_degrade` refreshes since: it is Degraded, keeps its players, admits
//!   nobody new.
//!
//! **Source of truth**: the scenario's fault timeline (the scripted faults and those the swarm
//! drew) and the health policy the runner gives the gateway (the rule, not the gateway's
//! state): nothing the gateway believes is consulted.
//!
//! **Tolerance**, from the rule's hysteresis: a slow world is judged from the moment the
//! registry has been reachable for `(bad_probes_to_degrade + 1) × registry_refresh_ms` since
//! the slowdown (the first refresh after it may come a whole period late; time while the
//! registry is unreachable brings no refresh and does not count). A stale registry is judged
//! from `registry_stale_after_ms` after it became unreachable (the last answer came at that
//! moment at the latest). Each window ends when its cause does (the world is fast again, the
//! registry answers again); what the gateway does while it recovers is not judged here. The
//! exemptions (re-attach, return, in-flight) are the drain checker's ([`super::drain`]), which
//! applies these windows.

use waygate::cluster::view::HealthPolicy;

use crate::scenario::{Fault, FaultKind};

/// The health rule's parameters the oracle needs, as the runner configures the gateway.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionRule {
    /// The view's hysteresis and staleness.
    pub health: HealthPolicy,
    /// How often the gateway asks the registry.
    pub registry_refresh_ms: u64,
    /// What the fake registry reports for a world that is not slowed down.
    pub base_world_update_ms: u64,
}

/// A span of virtual time in which a worldserver (or every one) may not admit anyone new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The worldserver, or None for every one.
    pub target: Option<String>,
    /// From (inclusive), ms.
    pub from_ms: u64,
    /// Until (exclusive), ms; `u64::MAX` when the cause never ends.
    pub until_ms: u64,
    /// Why, for the violation's text.
    pub why: String,
}

/// Every closed window of a timeline.
#[derive(Debug, Clone, Default)]
pub struct ClosedWindows {
    windows: Vec<Closed>,
}

impl ClosedWindows {
    /// The windows `faults` imply under `rule`.
    pub fn new(faults: &[Fault], rule: &AdmissionRule) -> Self {
        let mut sorted: Vec<&Fault> = faults.iter().collect();
        sorted.sort_by_key(|f| f.at_ms);
        let outages = registry_outages(&sorted);
        let mut windows = Vec::new();
        for (down, up) in &outages {
            let from_ms = down.saturating_add(rule.health.registry_stale_after_ms + 1);
            if from_ms < *up {
                windows.push(Closed {
                    target: None,
                    from_ms,
                    until_ms: *up,
                    why: format!(
                        "the registry unreachable since {down}ms (stale after {} ms)",
                        rule.health.registry_stale_after_ms
                    ),
                });
            }
        }
        let ramp_ms = u64::from(rule.health.bad_probes_to_degrade + 1)
            .saturating_mul(rule.registry_refresh_ms);
        let bound = u64::from(rule.health.slow_world_update_ms);
        let mut slow_since: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
        let close = |windows: &mut Vec<Closed>, target: &str, since: u64, ms: u64, until: u64| {
            let from_ms = reachable_after(&outages, since, ramp_ms);
            if from_ms < until {
                windows.push(Closed {
                    target: Some(target.to_owned()),
                    from_ms,
                    until_ms: until,
                    why: format!(
                        "its world {} ms slow since {since}ms (reported {} ms, over {bound} ms; degraded after {} refreshes)",
                        ms,
                        rule.base_world_update_ms + ms,
                        rule.health.bad_probes_to_degrade
                    ),
                });
            }
        };
        for f in &sorted {
            let FaultKind::SlowWorld {
                target,
                world_update_ms,
            } = &f.kind
            else {
                continue;
            };
            let slow = rule.base_world_update_ms + world_update_ms > bound;
            match (slow_since.get(target.as_str()).copied(), slow) {
                (None, true) => {
                    slow_since.insert(target, (f.at_ms, *world_update_ms));
                }
                (Some((since, ms)), false) => {
                    close(&mut windows, target, since, ms, f.at_ms);
                    slow_since.remove(target.as_str());
                }
                _ => {}
            }
        }
        for (target, (since, ms)) in slow_since {
            close(&mut windows, target, since, ms, u64::MAX);
        }
        Self { windows }
    }

    /// Whether nothing is ever closed.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The worldservers (by name; a window closing every one is not counted) closed at
    /// `at_ms`.
    pub fn closed_at(&self, at_ms: u64) -> impl Iterator<Item = &str> {
        self.windows
            .iter()
            .filter(move |w| w.from_ms <= at_ms && at_ms < w.until_ms)
            .filter_map(|w| w.target.as_deref())
    }

    /// Whether a window closing `worldserver` (by name) had ended by `at_ms`: its cause was
    /// over, and the health rule may have let it admit again.
    pub fn reopened(&self, worldserver: &str, at_ms: u64) -> bool {
        self.windows
            .iter()
            .any(|w| w.target.as_deref() == Some(worldserver) && w.until_ms <= at_ms)
    }

    /// The window closing `worldserver` at `at_ms`, with the tolerance already in its start.
    pub fn closing(&self, worldserver: &str, at_ms: u64) -> Option<&Closed> {
        self.windows.iter().find(|w| {
            w.target.as_deref().is_none_or(|t| t == worldserver)
                && w.from_ms <= at_ms
                && at_ms < w.until_ms
        })
    }
}

/// The registry's outages, (unreachable from, reachable again at or `u64::MAX`), in order.
fn registry_outages(sorted: &[&Fault]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut down: Option<u64> = None;
    for f in sorted {
        match (f.kind.clone(), down) {
            (FaultKind::Registry { reachable: false }, None) => down = Some(f.at_ms),
            (FaultKind::Registry { reachable: true }, Some(d)) => {
                out.push((d, f.at_ms));
                down = None;
            }
            _ => {}
        }
    }
    if let Some(d) = down {
        out.push((d, u64::MAX));
    }
    out
}

/// When `needed_ms` of registry-reachable time has passed since `since`.
fn reachable_after(outages: &[(u64, u64)], since: u64, needed_ms: u64) -> u64 {
    let mut at = since;
    let mut left = needed_ms;
    for (down, up) in outages {
        if *up <= at {
            continue;
        }
        let reachable_until = (*down).max(at);
        let span = reachable_until - at;
        if span >= left {
            return at + left;
        }
        left -= span;
        at = *up;
        if at == u64::MAX {
            return u64::MAX;
        }
    }
    at.saturating_add(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> AdmissionRule {
        AdmissionRule {
            health: HealthPolicy::default(),
            registry_refresh_ms: 5_000,
            base_world_update_ms: 20,
        }
    }

    fn f(at_ms: u64, kind: FaultKind) -> Fault {
        Fault { at_ms, kind }
    }

    fn slow(at_ms: u64, ms: u64) -> Fault {
        f(
            at_ms,
            FaultKind::SlowWorld {
                target: "a".into(),
                world_update_ms: ms,
            },
        )
    }

    fn registry(at_ms: u64, reachable: bool) -> Fault {
        f(at_ms, FaultKind::Registry { reachable })
    }

    #[test]
    fn a_slow_world_is_closed_after_the_degrade_ramp_until_it_is_fast() {
        let w = ClosedWindows::new(&[slow(10_000, 2_000), slow(60_000, 0)], &rule());
        // 3 slow refreshes + one period of phase: 20 s.
        assert!(w.closing("a", 29_999).is_none());
        assert!(w.closing("a", 30_000).is_some());
        assert!(w.closing("a", 59_999).is_some());
        assert!(w.closing("a", 60_000).is_none(), "fast again");
        assert!(w.closing("b", 40_000).is_none(), "another worldserver");
    }

    #[test]
    fn a_worldserver_is_reopened_once_a_window_closing_it_has_ended() {
        let w = ClosedWindows::new(&[slow(10_000, 2_000), slow(60_000, 0)], &rule());
        assert!(!w.reopened("a", 59_999), "still closed");
        assert!(w.reopened("a", 60_000));
        assert!(!w.reopened("b", 60_000), "another worldserver");
        let short = ClosedWindows::new(&[slow(10_000, 2_000), slow(25_000, 0)], &rule());
        assert!(
            !short.reopened("a", 30_000),
            "never surely closed, so never reopened"
        );
        let outage =
            ClosedWindows::new(&[registry(10_000, false), registry(70_000, true)], &rule());
        assert!(
            !outage.reopened("a", 80_000),
            "a stale registry closes everyone, not a worldserver by name"
        );
    }

    #[test]
    fn a_slowdown_under_the_bound_closes_nothing() {
        let w = ClosedWindows::new(&[slow(10_000, 400)], &rule());
        assert!(w.closing("a", 100_000).is_none());
    }

    #[test]
    fn a_short_slowdown_closes_nothing() {
        let w = ClosedWindows::new(&[slow(10_000, 2_000), slow(25_000, 0)], &rule());
        assert!(w.closing("a", 24_000).is_none());
    }

    #[test]
    fn time_without_the_registry_does_not_count_toward_degrading() {
        let w = ClosedWindows::new(
            &[
                slow(10_000, 2_000),
                registry(12_000, false),
                registry(22_000, true),
            ],
            &rule(),
        );
        // 2 s reachable before the outage, 18 s more after it: from 40 s.
        assert!(w.closing("a", 39_999).is_none());
        assert!(w.closing("a", 40_000).is_some());
    }

    #[test]
    fn a_long_registry_outage_closes_everyone_once_stale() {
        let w = ClosedWindows::new(&[registry(10_000, false), registry(70_000, true)], &rule());
        assert!(w.closing("a", 40_000).is_none());
        assert!(w.closing("z", 40_001).is_some());
        assert!(w.closing("z", 70_000).is_none(), "answers again");
        let short = ClosedWindows::new(&[registry(10_000, false), registry(30_000, true)], &rule());
        assert!(short.closing("a", 29_000).is_none());
    }
}
