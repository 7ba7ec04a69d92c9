//! Which worldserver may hold each character in world: the gateway-wide ledger behind the
//! no-dual-presence rule. Sans-IO: every call takes `now`.
//!
//! A worldserver holds a character from the moment PLAYER_LOGIN is sent to it. When the
//! gateway's link to it goes away without a confirmed release (logout complete, READY_FOR_REDIRECT
//! status 0 and the kick, a refused login), the worldserver may keep the character in world for
//! its linger, counted from when *it* sees the connection close. Behind a partition that can be
//! much later than when the gateway closed it: the close only arrives once the network heals. So
//! the linger clock of such a hold starts only at the first evidence, after the close, that the
//! worldserver is reachable again (a connection to it opened), and the hold ends
//! `linger_ms + margin_ms` after that. Until then the character may log in on that worldserver
//! only (which re-attaches it), or wait.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::WorldserverId;

/// Characters in the ledger at most. Entries go away when released or past their linger; a
/// ledger this full means holds on unreachable worldservers pile up, and the oldest resolved
/// or held (never live) entries are dropped first, with an error logged by the caller.
pub const HOLDS_MAX: usize = 1 << 20;

/// How long a worldserver may keep a character after it sees the connection close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldPolicy {
    /// The worldservers' linger (AzerothCore in cluster mode: 60 s).
    pub linger_ms: u64,
    /// Added to the linger for delivery skew between the evidence and the close arriving.
    pub margin_ms: u64,
}

/// One character's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The worldserver that may hold the character.
    pub worldserver: WorldserverId,
    /// Live (a session is logged in there) or lingering.
    pub state: HoldState,
}

/// Whether a session still owns the character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldState {
    /// A session has the character logged in (or logging in) there.
    Live {
        /// The session (its id, as the gateway numbers them).
        session: u64,
        /// The linger this login may be re-attaching to (`since`, `reachable_at`): back in
        /// force if the worldserver refuses the login.
        prior: Option<(Duration, Option<Duration>)>,
    },
    /// The link is gone; the worldserver may keep the character for its linger.
    Lingering {
        /// When the link went away.
        since: Duration,
        /// First evidence after `since` that the worldserver is reachable (its linger clock
        /// starts no later than this).
        reachable_at: Option<Duration>,
    },
}

/// The ledger.
#[derive(Debug, Clone)]
pub struct Holds {
    policy: HoldPolicy,
    by_character: BTreeMap<u64, Hold>,
}

impl Holds {
    /// An empty ledger.
    pub fn new(policy: HoldPolicy) -> Self {
        Self {
            policy,
            by_character: BTreeMap::new(),
        }
    }

    /// Session `session` sent PLAYER_LOGIN to `worldserver` for `guid`: it holds the
    /// character from now on. Returns how many entries were dropped to stay within
    /// [`HOLDS_MAX`].
    pub fn live(
        &mut self,
        guid: u64,
        worldserver: &WorldserverId,
        session: u64,
        now: Duration,
    ) -> usize {
        let prior = match self.by_character.get(&guid) {
            Some(Hold {
                worldserver: w,
                state:
                    HoldState::Lingering {
                        since,
                        reachable_at,
                    },
            }) if w == worldserver => Some((*since, *reachable_at)),
            Some(Hold {
                worldserver: w,
                state: HoldState::Live { prior, .. },
            }) if w == worldserver => *prior,
            _ => None,
        };
        self.by_character.insert(
            guid,
            Hold {
                worldserver: worldserver.clone(),
                state: HoldState::Live { session, prior },
            },
        );
        self.bound(now)
    }

    /// `worldserver` refused session `session`'s login: it did not take the character on
    /// that link, but still holds whatever it held before.
    pub fn refused(&mut self, guid: u64, worldserver: &WorldserverId, session: u64) {
        let Some(h) = self.by_character.get_mut(&guid) else {
            return;
        };
        let HoldState::Live { session: s, prior } = h.state else {
            return;
        };
        if &h.worldserver != worldserver || s != session {
            return;
        }
        match prior {
            Some((since, reachable_at)) => {
                h.state = HoldState::Lingering {
                    since,
                    reachable_at,
                }
            }
            None => {
                self.by_character.remove(&guid);
            }
        }
    }

    /// Session `session`'s link to `worldserver` went away without a release: it may linger
    /// the character. Ignored unless that session had the character live there (a later
    /// session may own it now, there or elsewhere).
    pub fn lost(&mut self, guid: u64, worldserver: &WorldserverId, session: u64, now: Duration) {
        if let Some(h) = self.by_character.get_mut(&guid)
            && &h.worldserver == worldserver
            && matches!(h.state, HoldState::Live { session: s, .. } if s == session)
        {
            h.state = HoldState::Lingering {
                since: now,
                reachable_at: None,
            };
        }
    }

    /// The account's last owner says `worldserver` may still hold `guid` (an account
    /// record handed over, see `fence`), for `left_ms` more (`None`: its linger clock has not
    /// started, or the character was live there): from `now` the character lingers there
    /// that long at least, or, without a clock, until `linger + margin` after this gateway's
    /// first evidence that the worldserver is reachable. Counting `left_ms` from when the
    /// record is read, not when it was written, only adds the store's delay: never less
    /// cautious, and a character that hops between gateways does not start its linger over
    /// at each hop.
    ///
    /// The record is newer than what this ledger remembers of the character from an earlier
    /// session (the last owner's ledger started from the record before it), so it replaces
    /// an entry on another worldserver. On the same worldserver the later of the two ends is
    /// kept. A live entry stays. Returns how many entries were dropped to stay within
    /// [`HOLDS_MAX`].
    pub fn import(
        &mut self,
        guid: u64,
        worldserver: &WorldserverId,
        left_ms: Option<u64>,
        now: Duration,
    ) -> usize {
        let whole = self.policy.linger_ms.saturating_add(self.policy.margin_ms);
        let reachable_at = left_ms
            .map(|left| now.saturating_sub(Duration::from_millis(whole.saturating_sub(left))));
        let imported = Hold {
            worldserver: worldserver.clone(),
            state: HoldState::Lingering {
                since: now,
                reachable_at,
            },
        };
        if let Some(h) = self.by_character.get(&guid) {
            let live = matches!(h.state, HoldState::Live { .. });
            let keeps_longer = match (self.ends(h), self.ends(&imported)) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(mine), Some(theirs)) => mine >= theirs,
            };
            if live || (h.worldserver == *worldserver && keeps_longer) {
                return 0;
            }
        }
        self.by_character.insert(guid, imported);
        self.bound(now)
    }

    /// When a hold ends (`None`: not known yet, so later than any known end).
    fn ends(&self, h: &Hold) -> Option<Duration> {
        let whole =
            Duration::from_millis(self.policy.linger_ms.saturating_add(self.policy.margin_ms));
        match h.state {
            HoldState::Live { .. }
            | HoldState::Lingering {
                reachable_at: None, ..
            } => None,
            HoldState::Lingering {
                reachable_at: Some(at),
                ..
            } => Some(at + whole),
        }
    }

    /// The worldserver that may hold `guid` now, and how much longer (`None`: its linger
    /// clock has not started, or the character is live there), for an account record.
    pub fn hold_left(&self, guid: u64, now: Duration) -> Option<(&WorldserverId, Option<u64>)> {
        let h = self.by_character.get(&guid)?;
        if self.expired(h, now) {
            return None;
        }
        let left = self
            .ends(h)
            .map(|end| u64::try_from(end.saturating_sub(now).as_millis()).unwrap_or(u64::MAX));
        Some((&h.worldserver, left))
    }

    /// `worldserver` confirmed to session `session` it let the character go.
    pub fn released(&mut self, guid: u64, worldserver: &WorldserverId, session: u64) {
        if self.by_character.get(&guid).is_some_and(|h| {
            &h.worldserver == worldserver
                && matches!(h.state, HoldState::Live { session: s, .. } if s == session)
        }) {
            self.by_character.remove(&guid);
        }
    }

    /// A connection to `worldserver` opened at `now`: it can see closes sent before now, so
    /// the linger clock of every hold that began earlier is running.
    pub fn reachable(&mut self, worldserver: &WorldserverId, now: Duration) {
        for h in self.by_character.values_mut() {
            if &h.worldserver != worldserver {
                continue;
            }
            if let HoldState::Lingering {
                since,
                reachable_at: at @ None,
            } = &mut h.state
                && *since <= now
            {
                *at = Some(now);
            }
        }
    }

    /// `worldserver` refused a connection at `now`: its host answered and nothing listens,
    /// so the process that may have lingered characters lost before now is gone, and them
    /// with it.
    pub fn confirmed_down(&mut self, worldserver: &WorldserverId, now: Duration) {
        self.by_character.retain(|_, h| {
            &h.worldserver != worldserver
                || !matches!(h.state, HoldState::Lingering { since, .. } if since <= now)
        });
    }

    /// The worldserver that may hold `guid` now, if any.
    pub fn holder(&self, guid: u64, now: Duration) -> Option<&WorldserverId> {
        let h = self.by_character.get(&guid)?;
        (!self.expired(h, now)).then_some(&h.worldserver)
    }

    /// As [`Holds::holder`], for a placement asked by `session`: the character that session
    /// has live somewhere is its own business (a handoff releases it before leaving).
    pub fn holder_for(&self, guid: u64, session: u64, now: Duration) -> Option<&WorldserverId> {
        let h = self.by_character.get(&guid)?;
        if matches!(h.state, HoldState::Live { session: s, .. } if s == session) {
            return None;
        }
        (!self.expired(h, now)).then_some(&h.worldserver)
    }

    /// Worldservers with lingering holds whose linger clock has not started: they need a
    /// reachability probe.
    pub fn unconfirmed(&self) -> BTreeSet<WorldserverId> {
        self.by_character
            .values()
            .filter(|h| {
                matches!(
                    h.state,
                    HoldState::Lingering {
                        reachable_at: None,
                        ..
                    }
                )
            })
            .map(|h| h.worldserver.clone())
            .collect()
    }

    /// Entries in the ledger.
    pub fn len(&self) -> usize {
        self.by_character.len()
    }

    /// Whether the ledger is empty.
    pub fn is_empty(&self) -> bool {
        self.by_character.is_empty()
    }

    fn expired(&self, h: &Hold, now: Duration) -> bool {
        match h.state {
            HoldState::Live { .. } => false,
            HoldState::Lingering { reachable_at, .. } => reachable_at.is_some_and(|at| {
                now.saturating_sub(at)
                    >= Duration::from_millis(
                        self.policy.linger_ms.saturating_add(self.policy.margin_ms),
                    )
            }),
        }
    }

    /// Drops expired entries; past [`HOLDS_MAX`], the oldest lingering ones too.
    fn bound(&mut self, now: Duration) -> usize {
        if self.by_character.len() <= HOLDS_MAX {
            return 0;
        }
        let expired: Vec<u64> = self
            .by_character
            .iter()
            .filter(|(_, h)| self.expired(h, now))
            .map(|(g, _)| *g)
            .collect();
        let mut dropped = expired.len();
        for guid in expired {
            self.by_character.remove(&guid);
        }
        while self.by_character.len() > HOLDS_MAX {
            let oldest = self
                .by_character
                .iter()
                .filter_map(|(g, h)| match h.state {
                    HoldState::Lingering { since, .. } => Some((since, *g)),
                    HoldState::Live { .. } => None,
                })
                .min();
            let Some((_, guid)) = oldest else { break };
            self.by_character.remove(&guid);
            dropped += 1;
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POLICY: HoldPolicy = HoldPolicy {
        linger_ms: 60_000,
        margin_ms: 5_000,
    };

    fn ws(s: &str) -> WorldserverId {
        WorldserverId(s.into())
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn a_lost_link_holds_until_reachable_plus_linger() {
        let mut h = Holds::new(POLICY);
        h.live(7, &ws("a"), 1, ms(0));
        assert_eq!(h.holder(7, ms(1)), Some(&ws("a")));
        h.lost(7, &ws("a"), 1, ms(1_000));
        // Unreachable for ten minutes: still held, whatever the clock says.
        assert_eq!(h.holder(7, ms(600_000)), Some(&ws("a")));
        assert_eq!(h.unconfirmed(), BTreeSet::from([ws("a")]));
        h.reachable(&ws("a"), ms(600_000));
        assert!(h.unconfirmed().is_empty());
        assert_eq!(h.holder(7, ms(600_000 + 64_999)), Some(&ws("a")));
        assert_eq!(h.holder(7, ms(600_000 + 65_000)), None);
    }

    #[test]
    fn reachability_before_the_loss_does_not_start_the_clock() {
        let mut h = Holds::new(POLICY);
        h.live(7, &ws("a"), 1, ms(0));
        h.reachable(&ws("a"), ms(10));
        h.lost(7, &ws("a"), 1, ms(20));
        assert_eq!(h.holder(7, ms(1_000_000)), Some(&ws("a")));
    }

    #[test]
    fn a_release_ends_the_hold_and_only_the_holder_can_release() {
        let mut h = Holds::new(POLICY);
        h.live(7, &ws("a"), 1, ms(0));
        h.released(7, &ws("b"), 1);
        assert_eq!(h.holder(7, ms(1)), Some(&ws("a")));
        h.released(7, &ws("a"), 2);
        assert_eq!(
            h.holder(7, ms(1)),
            Some(&ws("a")),
            "only the live session releases"
        );
        h.released(7, &ws("a"), 1);
        assert_eq!(h.holder(7, ms(1)), None);
        assert!(h.is_empty());
    }

    #[test]
    fn a_loss_on_a_worldserver_the_character_left_changes_nothing() {
        let mut h = Holds::new(POLICY);
        h.live(7, &ws("a"), 1, ms(0));
        h.live(7, &ws("b"), 2, ms(5));
        h.lost(7, &ws("a"), 1, ms(10));
        assert_eq!(h.holder(7, ms(1_000_000)), Some(&ws("b")));
    }

    #[test]
    fn an_older_sessions_loss_does_not_end_a_newer_sessions_login_there() {
        let mut h = Holds::new(POLICY);
        h.live(7, &ws("a"), 1, ms(0));
        // The player logged in again through another session; the worldserver kicked the
        // first connection.
        h.live(7, &ws("a"), 2, ms(5));
        h.lost(7, &ws("a"), 1, ms(10));
        h.reachable(&ws("a"), ms(20));
        assert_eq!(h.holder(7, ms(1_000_000)), Some(&ws("a")));
        assert_eq!(h.holder_for(7, 1, ms(30)), Some(&ws("a")));
        assert_eq!(h.holder_for(7, 2, ms(30)), None, "the live session's own");
    }

    #[test]
    fn an_imported_hold_lingers_until_reachable_and_replaces_an_older_memory() {
        let mut h = Holds::new(POLICY);
        // What this gateway remembers from an earlier session of the character.
        h.live(7, &ws("a"), 1, ms(0));
        h.lost(7, &ws("a"), 1, ms(10));
        h.reachable(&ws("a"), ms(20));
        // The account's last owner (another gateway) says it is on b now.
        h.import(7, &ws("b"), None, ms(1_000));
        assert_eq!(
            h.holder(7, ms(1_000_000)),
            Some(&ws("b")),
            "no clock before b is reachable"
        );
        assert_eq!(h.unconfirmed(), BTreeSet::from([ws("b")]));
        h.reachable(&ws("b"), ms(2_000));
        assert_eq!(h.holder(7, ms(2_000 + 64_999)), Some(&ws("b")));
        assert_eq!(h.holder(7, ms(2_000 + 65_000)), None);
        // Same worldserver: the later end wins (the character was lost there again since this
        // ledger's entry); the record's time left counts from when it is read.
        h.live(8, &ws("c"), 2, ms(0));
        h.lost(8, &ws("c"), 2, ms(10));
        h.reachable(&ws("c"), ms(20));
        h.import(8, &ws("c"), Some(30_000), ms(50_000));
        assert_eq!(h.holder(8, ms(79_999)), Some(&ws("c")));
        assert_eq!(h.holder(8, ms(80_000)), None);
        assert_eq!(h.hold_left(8, ms(70_000)), Some((&ws("c"), Some(10_000))));
        // An earlier end than this ledger's does not shorten it.
        h.live(10, &ws("c"), 4, ms(0));
        h.lost(10, &ws("c"), 4, ms(10));
        h.reachable(&ws("c"), ms(20));
        h.import(10, &ws("c"), Some(1_000), ms(30_000));
        assert_eq!(h.holder(10, ms(64_000)), Some(&ws("c")));
        // A live entry stays whatever the record says.
        h.live(9, &ws("d"), 3, ms(0));
        h.import(9, &ws("e"), None, ms(5));
        assert_eq!(h.holder(9, ms(10)), Some(&ws("d")));
        assert_eq!(h.hold_left(9, ms(10)), Some((&ws("d"), None)));
    }

    #[test]
    fn a_refused_re_attach_leaves_the_earlier_linger_in_force() {
        let mut h = Holds::new(POLICY);
        h.live(7, &ws("a"), 1, ms(0));
        h.lost(7, &ws("a"), 1, ms(10));
        h.reachable(&ws("a"), ms(20));
        // A new session tries to re-attach; the worldserver refuses its auth.
        h.live(7, &ws("a"), 2, ms(30));
        h.refused(7, &ws("a"), 2);
        assert_eq!(h.holder(7, ms(20 + 64_999)), Some(&ws("a")));
        assert_eq!(
            h.holder(7, ms(20 + 65_000)),
            None,
            "the old clock, not a new one"
        );
        // A refusal with nothing before it leaves nothing.
        h.live(8, &ws("b"), 3, ms(0));
        h.refused(8, &ws("b"), 3);
        assert_eq!(h.holder(8, ms(0)), None);
    }

    #[test]
    fn only_the_same_worldserver_carries_an_earlier_linger_through_a_refusal() {
        let linger_on_a = |h: &mut Holds| {
            h.live(7, &ws("a"), 1, ms(0));
            h.lost(7, &ws("a"), 1, ms(10));
            h.reachable(&ws("a"), ms(20));
        };
        // A login elsewhere that is refused leaves no hold on the worldserver that refused.
        let mut h = Holds::new(POLICY);
        linger_on_a(&mut h);
        h.live(7, &ws("b"), 2, ms(30));
        h.refused(7, &ws("b"), 2);
        assert_eq!(h.holder(7, ms(30)), None);
        // Two attempts on the same worldserver: the second still carries the first linger.
        let mut h = Holds::new(POLICY);
        linger_on_a(&mut h);
        h.live(7, &ws("a"), 2, ms(30));
        h.live(7, &ws("a"), 3, ms(40));
        h.refused(7, &ws("a"), 3);
        assert_eq!(h.holder(7, ms(20 + 64_999)), Some(&ws("a")));
        assert_eq!(h.holder(7, ms(20 + 65_000)), None);
        // ... but an attempt on another worldserver after them carries nothing.
        let mut h = Holds::new(POLICY);
        linger_on_a(&mut h);
        h.live(7, &ws("a"), 2, ms(30));
        h.live(7, &ws("b"), 3, ms(40));
        h.refused(7, &ws("b"), 3);
        assert_eq!(h.holder(7, ms(40)), None);
    }

    #[test]
    fn a_refusal_for_another_session_changes_nothing() {
        let mut h = Holds::new(POLICY);
        h.live(7, &ws("a"), 1, ms(0));
        h.lost(7, &ws("a"), 1, ms(10));
        h.reachable(&ws("a"), ms(20));
        h.live(7, &ws("a"), 2, ms(30));
        // The older session's refusal arrives late: session 2 is still live there.
        h.refused(7, &ws("a"), 1);
        assert_eq!(h.hold_left(7, ms(40)), Some((&ws("a"), None)));
        // And a refusal from another worldserver, for the right session, neither.
        h.refused(7, &ws("b"), 2);
        assert_eq!(h.hold_left(7, ms(40)), Some((&ws("a"), None)));
    }

    #[test]
    fn an_import_never_shortens_a_longer_hold_on_the_same_worldserver() {
        let mut h = Holds::new(POLICY);
        let t = 100_000;
        h.live(9, &ws("a"), 1, ms(t));
        h.lost(9, &ws("a"), 1, ms(t + 10));
        h.reachable(&ws("a"), ms(t + 20));
        // Another gateway's record says 1 s more: this ledger's own clock says longer.
        assert_eq!(h.import(9, &ws("a"), Some(1_000), ms(t + 100)), 0);
        assert_eq!(h.holder(9, ms(t + 1_200)), Some(&ws("a")));
        assert_eq!(h.holder(9, ms(t + 20 + 64_999)), Some(&ws("a")));
        assert_eq!(h.holder(9, ms(t + 20 + 65_000)), None);
    }

    #[test]
    fn the_ledger_is_bounded_and_says_how_many_it_dropped() {
        // Under the bound nothing is dropped, not even an expired entry (it reads as free).
        let mut h = Holds::new(POLICY);
        h.live(1, &ws("a"), 1, ms(0));
        h.lost(1, &ws("a"), 1, ms(0));
        h.reachable(&ws("a"), ms(0));
        assert_eq!(h.live(2, &ws("a"), 2, ms(70_000)), 0);
        assert_eq!((h.len(), h.holder(1, ms(70_000))), (2, None));

        let mut h = Holds::new(POLICY);
        assert!(h.is_empty());
        for guid in 0..HOLDS_MAX as u64 {
            assert_eq!(h.live(guid, &ws("a"), guid, ms(0)), 0);
        }
        assert_eq!(h.len(), HOLDS_MAX);
        assert!(!h.is_empty());
        // Three are lost (lingering, clock not started): past the bound, the oldest
        // lingering one goes first, never a live one.
        for guid in 0..3 {
            h.lost(guid, &ws("a"), guid, ms(10 + guid));
        }
        assert_eq!(h.live(u64::MAX, &ws("b"), 0, ms(20)), 1);
        assert_eq!(h.len(), HOLDS_MAX);
        assert_eq!(h.holder(0, ms(20)), None);
        assert_eq!(h.holder(1, ms(20)), Some(&ws("a")));
        // Once their linger has passed, every expired entry goes at the next insert.
        h.reachable(&ws("a"), ms(30));
        assert_eq!(h.live(u64::MAX - 1, &ws("b"), 0, ms(30 + 65_000)), 2);
        assert_eq!(h.len(), HOLDS_MAX - 1);
    }

    #[test]
    fn a_refused_connection_frees_what_was_lost_before_it() {
        let mut h = Holds::new(POLICY);
        h.live(7, &ws("a"), 1, ms(0));
        h.live(8, &ws("a"), 2, ms(0));
        h.lost(7, &ws("a"), 1, ms(10));
        h.confirmed_down(&ws("a"), ms(20));
        assert_eq!(h.holder(7, ms(20)), None);
        assert_eq!(
            h.holder(8, ms(20)),
            Some(&ws("a")),
            "live elsewhere in a session"
        );
        h.lost(8, &ws("a"), 2, ms(30));
        h.confirmed_down(&ws("a"), ms(25));
        assert_eq!(
            h.holder(8, ms(30)),
            Some(&ws("a")),
            "lost after the evidence"
        );
    }

    proptest! {
        /// Whatever happens, a character that was live on a worldserver and lost without a
        /// release is never reported free before that worldserver was reachable for a whole
        /// linger plus margin.
        #[test]
        fn never_free_before_reachable_plus_linger(
            steps in prop::collection::vec((0u8..4, 0u64..3, 0u64..200_000), 1..40),
        ) {
            let mut h = Holds::new(POLICY);
            let mut now = 0u64;
            let mut live_on: Option<u64> = None;
            let mut lost_at: Option<(u64, u64)> = None; // (worldserver, when)
            let mut reachable_after_loss: Option<u64> = None;
            for (op, w, dt) in steps {
                now += dt;
                let id = ws(&format!("w{w}"));
                match op {
                    0 => {
                        h.live(1, &id, 1, ms(now));
                        live_on = Some(w);
                        lost_at = None;
                        reachable_after_loss = None;
                    }
                    1 => {
                        h.lost(1, &id, 1, ms(now));
                        if live_on == Some(w) {
                            live_on = None;
                            lost_at = Some((w, now));
                        }
                    }
                    2 => {
                        h.reachable(&id, ms(now));
                        if matches!(lost_at, Some((lw, at)) if lw == w && at <= now)
                            && reachable_after_loss.is_none()
                        {
                            reachable_after_loss = Some(now);
                        }
                    }
                    _ => {}
                }
                let holder = h.holder(1, ms(now)).cloned();
                if let Some(w) = live_on {
                    prop_assert_eq!(holder.clone(), Some(ws(&format!("w{w}"))));
                }
                if let Some((w, _)) = lost_at {
                    let free_from = reachable_after_loss
                        .map(|r| r + POLICY.linger_ms + POLICY.margin_ms);
                    if free_from.is_none_or(|f| now < f) {
                        prop_assert_eq!(holder.clone(), Some(ws(&format!("w{w}"))));
                    }
                }
            }
        }
    }
}
