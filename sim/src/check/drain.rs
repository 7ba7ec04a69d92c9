//! Operator drains judged from outside the gateway.
//!
//! **Invariant**: no PLAYER_LOGIN admits a character to a worldserver the operator has
//! drained. A drain (`Gateway::set_draining`) means "nobody new goes there": the gateway must
//! not place a new login, nor a handoff, on it until it is undrained.
//!
//! **Source of truth**: the scenario's own fault timeline, the scripted faults and those the
//! swarm drew from the seed: a [`FaultKind::Drain`] at `at_ms` starts a drain of its target
//! and a [`FaultKind::Undrain`] ends it (the runner applies both at exactly `at_ms` of virtual
//! time). Nothing the gateway reports or believes (its view, its events, its drain set) is
//! consulted, so a gateway that forgets a drain cannot also hide it from this checker.
//!
//! **Observation**: the fake worldservers' packet tap, which sees every client packet a fake
//! logs as its world handles it, with where the character was on that fake just before
//! (`waygate::peers::worldserver::PacketTap`). A CMSG_PLAYER_LOGIN that worldserver `W`'s
//! world handles at virtual time `t` arrived at `t - d` at the earliest, `d` being the
//! slowest world update the timeline gave `W` lately ([`FaultKind::SlowWorld`]: the fake's
//! world handles a packet that much after it arrived). It is a violation when `W` was
//! drained at `t` and its drain began at `t - d - IN_FLIGHT_TOLERANCE_MS` or earlier.
//!
//! **Not a violation**:
//! - a login that arrived within [`IN_FLIGHT_TOLERANCE_MS`] of the drain's start: it was
//!   placed before the drain and was already on its way (connect, worldserver handshake,
//!   account lookup);
//! - a re-attach: the fake still holds the character (in world, in limbo or lingering) when
//!   the PLAYER_LOGIN arrives. Going back to the worldserver that holds the character is the
//!   no-dual-presence rule at work, not admitting someone new;
//! - a return: the character's last PLAYER_LOGIN (on any fake) was on `W`, and it has not
//!   asked `W` to log it out since (CMSG_LOGOUT_REQUEST). It never went anywhere else, so this
//!   is one of `W`'s own players coming back after its link was lost: the no-dual-presence
//!   rule sends a lost character back only to the worldserver that may still hold it until
//!   that one's linger has passed. The fake may have forgotten it meanwhile (it crashed and
//!   restarted; or it let the player go on a READY_FOR_REDIRECT that a healed partition
//!   delivered to the gateway too late), which the gateway cannot know. A player who logged
//!   out, or was moved elsewhere, and is then put on `W` is judged.
//!
//! - a login on a connection the worldserver accepted before the drain began (or within the
//!   tolerance after): the gateway chose the worldserver before it connected, and a
//!   partition may hold the login on the wire for a long time (a healed partition delivers
//!   what TCP kept). The fake's tap says when it accepted each connection.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use waygate::peers::worldserver::Presence;

use super::admission::{AdmissionRule, ClosedWindows};
use crate::scenario::{Fault, FaultKind, WorldserverSpec};

/// A PLAYER_LOGIN that reaches a worldserver less than this long after its drain began is
/// not judged: the gateway chose that worldserver before the drain, and the login was on its
/// way (connect, challenge, AUTH_SESSION, the fake's 10 ms account lookup and a few ms of
/// simulated latency take well under this).
pub const IN_FLIGHT_TOLERANCE_MS: u64 = 100;

/// The operator's drains per worldserver, and how slow each world was, from the fault
/// timeline.
#[derive(Debug, Clone, Default)]
pub struct DrainTimeline {
    /// Worldserver -> (at_ms, drained from then on), in timeline order.
    changes: BTreeMap<String, Vec<(u64, bool)>>,
    /// Worldserver -> (at_ms, world update from then on in ms), in timeline order.
    world_update: BTreeMap<String, Vec<(u64, u64)>>,
}

impl DrainTimeline {
    /// The drains, undrains and slow worlds among `faults` (scripted and swarm-drawn alike).
    /// Changes at the same millisecond keep their order in `faults`.
    pub fn new(faults: &[Fault]) -> Self {
        let mut changes: BTreeMap<String, Vec<(u64, bool)>> = BTreeMap::new();
        let mut world_update: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
        for f in faults {
            let (target, drained) = match &f.kind {
                FaultKind::Drain { target } => (target, true),
                FaultKind::Undrain { target } => (target, false),
                FaultKind::SlowWorld {
                    target,
                    world_update_ms,
                } => {
                    world_update
                        .entry(target.clone())
                        .or_default()
                        .push((f.at_ms, *world_update_ms));
                    continue;
                }
                _ => continue,
            };
            changes
                .entry(target.clone())
                .or_default()
                .push((f.at_ms, drained));
        }
        for list in changes.values_mut() {
            list.sort_by_key(|(at, _)| *at);
        }
        for list in world_update.values_mut() {
            list.sort_by_key(|(at, _)| *at);
        }
        Self {
            changes,
            world_update,
        }
    }

    /// How long before `at_ms` a packet `worldserver`'s world handles at `at_ms` may have
    /// arrived: the slowest world update in force there at any moment of the last
    /// (slowest world update it ever had) milliseconds.
    pub fn world_delay_ms(&self, worldserver: &str, at_ms: u64) -> u64 {
        let Some(list) = self.world_update.get(worldserver) else {
            return 0;
        };
        let longest = list.iter().map(|(_, ms)| *ms).max().unwrap_or(0);
        let from = at_ms.saturating_sub(longest);
        let mut in_force = 0;
        let mut delay = 0;
        for (at, ms) in list {
            if *at > at_ms {
                break;
            }
            if *at > from {
                // The setting before this one was in force inside the window too.
                delay = delay.max(in_force);
            }
            in_force = *ms;
        }
        delay.max(in_force)
    }

    /// Whether the timeline drains anything at all.
    pub fn is_empty(&self) -> bool {
        self.changes.values().all(|l| l.iter().all(|(_, d)| !d))
    }

    /// When the drain of `worldserver` in force at `at_ms` began (a second drain without an
    /// undrain in between does not restart it), or None when it is not drained then.
    pub fn drained_since(&self, worldserver: &str, at_ms: u64) -> Option<u64> {
        let mut since = None;
        for (at, drained) in self.changes.get(worldserver).into_iter().flatten() {
            if *at > at_ms {
                break;
            }
            since = match (since, drained) {
                (None, true) => Some(*at),
                (s, true) => s,
                (_, false) => None,
            };
        }
        since
    }

    /// The worldservers drained for longer than the tolerance at `at_ms`.
    fn drained_past_tolerance(&self, at_ms: u64) -> impl Iterator<Item = &str> {
        self.changes.keys().map(String::as_str).filter(move |w| {
            self.drained_since(w, at_ms)
                .is_some_and(|since| since + IN_FLIGHT_TOLERANCE_MS <= at_ms)
        })
    }
}

/// What one tapped PLAYER_LOGIN amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to say about it.
    Fine,
    /// A new character admitted elsewhere while a worldserver that could have taken it was
    /// drained: evidence that the scenario exercises the invariant.
    FineWhileDrained,
    /// A new character admitted to a drained worldserver.
    Violation(String),
    /// A new character admitted to a worldserver the health rule closes
    /// ([`super::admission`]).
    Closed(String),
}

/// The checker: judges every PLAYER_LOGIN the fakes tap against the timeline.
#[derive(Debug)]
pub struct DrainChecker {
    timeline: DrainTimeline,
    /// Worldserver -> the maps it serves (empty: every map).
    maps: BTreeMap<String, Vec<u32>>,
    /// Logins judged fine while another worldserver that could have taken them was drained.
    while_drained: AtomicU32,
    /// Logins judged fine while another worldserver that could have taken them was closed
    /// by the health rule.
    while_closed: AtomicU32,
    /// New characters admitted by a worldserver after a window in which the health rule
    /// closed it had ended.
    after_reopen: AtomicU32,
    /// Violations already reported, (character, worldserver, drain start): one line each.
    reported: Mutex<BTreeSet<(u64, String, u64)>>,
    /// Character -> the worldserver of its last PLAYER_LOGIN, until it asks that one to log
    /// it out.
    own: Mutex<BTreeMap<u64, String>>,
    /// When the health rule closes worldservers (stale registry, slow worlds): judged with
    /// the same exemptions ([`super::admission`]).
    closed: ClosedWindows,
}

impl DrainChecker {
    /// A checker of the operator's drains alone, for this timeline and topology.
    pub fn new(faults: &[Fault], worldservers: &[WorldserverSpec]) -> Arc<Self> {
        Self::with_rule(faults, worldservers, None)
    }

    /// A checker of the operator's drains and, given the health rule, of the windows in
    /// which it forbids admitting anyone new.
    pub fn with_rule(
        faults: &[Fault],
        worldservers: &[WorldserverSpec],
        rule: Option<&AdmissionRule>,
    ) -> Arc<Self> {
        Arc::new(Self {
            closed: rule
                .map(|r| ClosedWindows::new(faults, r))
                .unwrap_or_default(),
            timeline: DrainTimeline::new(faults),
            maps: worldservers
                .iter()
                .map(|w| (w.id.clone(), w.maps.clone()))
                .collect(),
            while_drained: AtomicU32::new(0),
            while_closed: AtomicU32::new(0),
            after_reopen: AtomicU32::new(0),
            reported: Mutex::default(),
            own: Mutex::default(),
        })
    }

    /// `worldserver`'s world handled a CMSG_LOGOUT_REQUEST of `guid`: the player leaves it;
    /// a later PLAYER_LOGIN there is someone new again.
    pub fn logout_requested(&self, worldserver: &str, guid: u64) {
        let mut own = self
            .own
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if own.get(&guid).is_some_and(|w| w == worldserver) {
            own.remove(&guid);
        }
    }

    /// Judges a CMSG_PLAYER_LOGIN for `guid` that `worldserver`'s world handled at `at_ms`,
    /// the character being `presence` there just before. A violation is returned once per
    /// character, worldserver and drain.
    pub fn judge(
        &self,
        worldserver: &str,
        guid: u64,
        at_ms: u64,
        presence: Presence,
        opened_ms: u64,
    ) -> Verdict {
        let returning = self
            .own
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(guid, worldserver.to_owned())
            .is_some_and(|before| before == worldserver);
        if (self.timeline.is_empty() && self.closed.is_empty()) || presence.in_world() || returning
        {
            // Nothing drained, a re-attach of a character the worldserver still holds, or one
            // of its own players coming back to it.
            return Verdict::Fine;
        }
        let delay = self.timeline.world_delay_ms(worldserver, at_ms);
        let arrived = at_ms.saturating_sub(delay);
        // The worldserver was chosen before its connection was opened: a login on a
        // connection opened before a drain (or a closed window) began is judged as if it had
        // arrived then (a partition may hold it on the wire for a long time).
        let decided = arrived.min(opened_ms.saturating_add(IN_FLIGHT_TOLERANCE_MS));
        if let Some(since) = self.timeline.drained_since(worldserver, at_ms)
            && since + IN_FLIGHT_TOLERANCE_MS <= decided
        {
            let first = self
                .reported
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert((guid, worldserver.to_owned(), since));
            if !first {
                return Verdict::Fine;
            }
            let slow = if delay > 0 {
                format!(" (handled there at {at_ms}ms by a world {delay} ms slow)")
            } else {
                String::new()
            };
            return Verdict::Violation(format!(
                "drained worldserver admitted a new character: PLAYER_LOGIN of character {guid} (bot{}) reached {worldserver} at {arrived}ms{slow}, drained by the operator since {since}ms and not undrained ({presence:?} there before: not a re-attach)",
                guid.saturating_sub(1000)
            ));
        }
        // Judged only when the login surely arrived inside the window: its earliest arrival
        // (`arrived`, a slow world handles packets late) past the window's start and the
        // tolerance, and its latest (when the world handled it) before the window's end.
        if let Some(w) = self
            .closed
            .closing(worldserver, decided.saturating_sub(IN_FLIGHT_TOLERANCE_MS))
            .filter(|w| at_ms < w.until_ms)
        {
            let first = self
                .reported
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert((guid, worldserver.to_owned(), w.from_ms));
            if !first {
                return Verdict::Fine;
            }
            return Verdict::Closed(format!(
                "worldserver admitted a new character while the health rule forbade it: PLAYER_LOGIN of character {guid} (bot{}) reached {worldserver} at {arrived}ms, closed from {}ms by {} ({presence:?} there before: not a re-attach)",
                guid.saturating_sub(1000),
                w.from_ms,
                w.why
            ));
        }
        if self.closed.reopened(worldserver, arrived) {
            self.after_reopen.fetch_add(1, Ordering::Relaxed);
        }
        let closed_elsewhere = self
            .closed
            .closed_at(arrived)
            .any(|closed| closed != worldserver && self.shares_a_map(closed, worldserver));
        if closed_elsewhere {
            self.while_closed.fetch_add(1, Ordering::Relaxed);
        }
        let could_have_gone = self
            .timeline
            .drained_past_tolerance(arrived)
            .any(|drained| drained != worldserver && self.shares_a_map(drained, worldserver));
        if could_have_gone {
            self.while_drained.fetch_add(1, Ordering::Relaxed);
            return Verdict::FineWhileDrained;
        }
        Verdict::Fine
    }

    /// New characters admitted elsewhere while a worldserver that serves one of the same
    /// maps was drained (past the tolerance): how hard the run pressed on the invariant.
    pub fn logins_while_drained(&self) -> u32 {
        self.while_drained.load(Ordering::Relaxed)
    }

    /// New characters admitted elsewhere while a worldserver that serves one of the same
    /// maps was closed by the health rule (slow world): how hard the run pressed on the
    /// admission rule.
    pub fn logins_while_closed(&self) -> u32 {
        self.while_closed.load(Ordering::Relaxed)
    }

    /// New characters admitted by a worldserver after a window in which the health rule
    /// closed it (a slow world) had ended: evidence that the gateway let it admit again once
    /// it was fast.
    pub fn logins_after_reopen(&self) -> u32 {
        self.after_reopen.load(Ordering::Relaxed)
    }

    /// Whether a player placed on `b` might have been placed on `a` instead (one of them
    /// serves every map, or they list a map in common).
    fn shares_a_map(&self, a: &str, b: &str) -> bool {
        match (self.maps.get(a), self.maps.get(b)) {
            (Some(a), Some(b)) => a.is_empty() || b.is_empty() || a.iter().any(|m| b.contains(m)),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection opened just now (never earlier than the login it carries).
    const FRESH: u64 = u64::MAX / 2;

    fn fault(at_ms: u64, kind: FaultKind) -> Fault {
        Fault { at_ms, kind }
    }

    /// Worldserver "a"'s world update becomes `world_update_ms` slower at `at_ms`.
    fn slow(at_ms: u64, world_update_ms: u64) -> Fault {
        fault(
            at_ms,
            FaultKind::SlowWorld {
                target: "a".into(),
                world_update_ms,
            },
        )
    }

    fn drain(at_ms: u64, target: &str) -> Fault {
        fault(
            at_ms,
            FaultKind::Drain {
                target: target.into(),
            },
        )
    }

    fn undrain(at_ms: u64, target: &str) -> Fault {
        fault(
            at_ms,
            FaultKind::Undrain {
                target: target.into(),
            },
        )
    }

    fn spec(id: &str, maps: &[u32]) -> WorldserverSpec {
        WorldserverSpec {
            id: id.into(),
            maps: maps.to_vec(),
            latency_ms: 0,
            idle_in_world_ms: None,
            partition_hides_close: false,
            health_tick_ms: 0,
        }
    }

    #[test]
    fn the_timeline_knows_when_each_drain_began_and_ended() {
        let t = DrainTimeline::new(&[
            undrain(30_000, "a"),
            drain(10_000, "a"),
            drain(20_000, "a"),
            fault(15_000, FaultKind::Crash { target: "b".into() }),
            drain(40_000, "a"),
        ]);
        assert_eq!(t.drained_since("a", 9_999), None);
        assert_eq!(t.drained_since("a", 10_000), Some(10_000));
        assert_eq!(
            t.drained_since("a", 25_000),
            Some(10_000),
            "a second drain does not restart it"
        );
        assert_eq!(t.drained_since("a", 30_000), None, "undrained");
        assert_eq!(t.drained_since("a", 45_000), Some(40_000));
        assert_eq!(t.drained_since("b", 20_000), None, "a crash is not a drain");
    }

    #[test]
    fn a_login_held_on_the_wire_since_before_the_drain_is_not_judged() {
        let c = DrainChecker::new(
            &[drain(8_000, "a"), undrain(60_000, "a")],
            &[spec("a", &[]), spec("b", &[])],
        );
        // Its connection opened before the drain; a partition delivered it 20 s late.
        assert_eq!(
            c.judge("a", 1003, 28_000, Presence::Absent, 7_950),
            Verdict::Fine
        );
        // Opened after the drain began: the gateway chose a drained worldserver.
        assert!(matches!(
            c.judge("a", 1004, 28_000, Presence::Absent, 9_000),
            Verdict::Violation(_)
        ));
    }

    #[test]
    fn a_new_login_past_the_tolerance_is_a_violation_once() {
        let c = DrainChecker::new(
            &[drain(8_000, "a"), undrain(20_000, "a")],
            &[spec("a", &[]), spec("b", &[])],
        );
        let at = 8_000 + IN_FLIGHT_TOLERANCE_MS;
        let Verdict::Violation(msg) = c.judge("a", 1003, at, Presence::Absent, FRESH) else {
            panic!("a fresh login on a drained worldserver");
        };
        assert!(msg.contains("character 1003 (bot3)"), "{msg}");
        assert!(msg.contains("reached a at 8100ms, drained"), "{msg}");
        assert!(msg.contains("since 8000ms"), "{msg}");
        assert_eq!(
            c.judge("a", 1003, at + 5, Presence::Absent, FRESH),
            Verdict::Fine
        );
        assert!(matches!(
            c.judge("a", 1004, at, Presence::Absent, FRESH),
            Verdict::Violation(_)
        ));
    }

    #[test]
    fn in_flight_logins_re_attaches_and_logins_after_the_undrain_are_fine() {
        let c = DrainChecker::new(
            &[drain(8_000, "a"), undrain(20_000, "a")],
            &[spec("a", &[0]), spec("b", &[0]), spec("k", &[1])],
        );
        let inside = 8_000 + IN_FLIGHT_TOLERANCE_MS - 1;
        assert_eq!(
            c.judge("a", 1000, inside, Presence::Absent, FRESH),
            Verdict::Fine
        );
        for held in [Presence::InWorld, Presence::Limbo, Presence::Lingering] {
            assert_eq!(
                c.judge("a", 1001, 12_000, held, FRESH),
                Verdict::Fine,
                "{held:?}"
            );
        }
        assert_eq!(
            c.judge("a", 1002, 20_000, Presence::Absent, FRESH),
            Verdict::Fine
        );
        assert_eq!(
            c.judge("b", 1003, 12_000, Presence::Absent, FRESH),
            Verdict::FineWhileDrained
        );
        assert_eq!(
            c.judge("k", 1004, 12_000, Presence::Absent, FRESH),
            Verdict::Fine,
            "a worldserver of another map: the drained one could not have taken it"
        );
        assert_eq!(c.logins_while_drained(), 1);
    }

    #[test]
    fn a_slow_world_handles_a_login_late_so_it_arrived_earlier() {
        let t = DrainTimeline::new(&[slow(5_000, 2_500), slow(9_000, 0), drain(8_000, "a")]);
        assert_eq!(t.world_delay_ms("a", 4_000), 0);
        assert_eq!(t.world_delay_ms("a", 6_000), 2_500);
        assert_eq!(
            t.world_delay_ms("a", 11_000),
            2_500,
            "queued before the world sped up"
        );
        assert_eq!(t.world_delay_ms("a", 11_501), 0);
        assert_eq!(t.world_delay_ms("b", 6_000), 0);
        let c = DrainChecker::new(
            &[slow(5_000, 2_500), slow(9_000, 0), drain(8_000, "a")],
            &[spec("a", &[])],
        );
        assert_eq!(
            c.judge("a", 1000, 10_400, Presence::Absent, FRESH),
            Verdict::Fine,
            "it may have arrived at 7,900 ms"
        );
        let Verdict::Violation(msg) = c.judge("a", 1001, 10_700, Presence::Absent, FRESH) else {
            panic!("arrived at 8,200 ms at the earliest");
        };
        assert!(
            msg.contains("reached a at 8200ms (handled there at 10700ms by a world 2500 ms slow)"),
            "{msg}"
        );
    }

    #[test]
    fn logins_after_a_closed_window_ended_are_counted_as_reopened() {
        let rule = AdmissionRule {
            health: waygate::cluster::view::HealthPolicy::default(),
            registry_refresh_ms: 5_000,
            base_world_update_ms: 20,
        };
        // Closed from 30 s (three slow refreshes and one period of phase) to 60 s.
        let c = DrainChecker::with_rule(
            &[slow(10_000, 2_000), slow(60_000, 0)],
            &[spec("a", &[]), spec("b", &[])],
            Some(&rule),
        );
        assert_eq!(
            c.judge("a", 1000, 20_000, Presence::Absent, FRESH),
            Verdict::Fine
        );
        assert_eq!(
            c.judge("b", 1001, 40_000, Presence::Absent, FRESH),
            Verdict::Fine
        );
        assert_eq!(c.logins_while_closed(), 1);
        assert!(matches!(
            c.judge("a", 1002, 50_000, Presence::Absent, FRESH),
            Verdict::Closed(_)
        ));
        assert_eq!(
            c.logins_after_reopen(),
            0,
            "none yet: a was closed or never had been"
        );
        assert_eq!(
            c.judge("b", 1003, 65_000, Presence::Absent, FRESH),
            Verdict::Fine
        );
        assert_eq!(c.logins_after_reopen(), 0, "b was never closed");
        assert_eq!(
            c.judge("a", 1000, 70_000, Presence::Absent, FRESH),
            Verdict::Fine,
            "one of a's own players coming back is not someone new"
        );
        assert_eq!(c.logins_after_reopen(), 0);
        assert_eq!(
            c.judge("a", 1004, 70_000, Presence::Absent, FRESH),
            Verdict::Fine
        );
        assert_eq!(c.logins_after_reopen(), 1);
    }

    #[test]
    fn its_own_players_may_come_back_but_not_after_leaving() {
        let c = DrainChecker::new(&[drain(8_000, "a")], &[spec("a", &[]), spec("b", &[])]);
        for guid in [1000, 1001, 1002] {
            assert_eq!(
                c.judge("a", guid, 1_000, Presence::Absent, FRESH),
                Verdict::Fine
            );
        }
        assert_eq!(
            c.judge("a", 1000, 12_000, Presence::Absent, FRESH),
            Verdict::Fine,
            "lost on a (it crashed, say) and back: a return, whatever the fake remembers"
        );
        assert_eq!(
            c.judge("b", 1001, 12_000, Presence::Absent, FRESH),
            Verdict::FineWhileDrained
        );
        assert!(
            matches!(
                c.judge("a", 1001, 13_000, Presence::Absent, FRESH),
                Verdict::Violation(_)
            ),
            "moved to b, then put back on a"
        );
        c.logout_requested("b", 1002);
        assert_eq!(
            c.judge("a", 1002, 13_000, Presence::Absent, FRESH),
            Verdict::Fine,
            "a logout elsewhere does not end its stay on a"
        );
        c.logout_requested("a", 1002);
        assert!(
            matches!(
                c.judge("a", 1002, 14_000, Presence::Absent, FRESH),
                Verdict::Violation(_)
            ),
            "logged out of a, then placed there again"
        );
    }
}

#[cfg(madsim)]
impl DrainChecker {
    /// The tap for worldserver `id`'s fake: its PLAYER_LOGINs are judged, its
    /// LOGOUT_REQUESTs noted.
    pub fn tap(
        self: &Arc<Self>,
        id: &str,
        findings: &super::Findings,
    ) -> waygate::peers::worldserver::PacketTap {
        let drains = Arc::clone(self);
        let findings = findings.clone();
        let id = id.to_owned();
        Arc::new(move |guid, opcode, _, presence, opened_ms| {
            if opcode == waygate::wire::Opcode::CMSG_LOGOUT_REQUEST {
                drains.logout_requested(&id, guid);
            }
            if opcode != waygate::wire::Opcode::CMSG_PLAYER_LOGIN {
                return;
            }
            let now_ms = u64::try_from(findings.now().as_millis()).unwrap_or(u64::MAX);
            match drains.judge(&id, guid, now_ms, presence, opened_ms) {
                Verdict::Violation(msg) => findings.flag(super::Checker::Drain, msg),
                Verdict::Closed(msg) => findings.flag(super::Checker::Admission, msg),
                Verdict::Fine | Verdict::FineWhileDrained => {}
            }
        })
    }
}
