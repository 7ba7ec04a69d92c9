//! The session's deadlines: one meaning per timer, one fixed table, armed and disarmed only
//! here. [`Timers::next`] is the session's `poll_timeout`.

use std::time::Duration;

/// A deadline the session waits for. Each has exactly one meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    /// Accept to a verified auth session.
    PreAuth,
    /// The accounts service's answer to the lookup.
    AccountLookup,
    /// The account claim's answer (the other session letting go included).
    AccountClaim,
    /// The characters service's answer to a listing.
    Characters,
    /// The coordinator's answer to a placement.
    Placement,
    /// Connect plus the worldserver's SMSG_AUTH_CHALLENGE.
    WorldHandshake,
    /// PLAYER_LOGIN unanswered: nudge the worldserver.
    LoginNudge,
    /// One attempt's placement to in world.
    WorldLogin,
    /// PREPARE_FOR_REDIRECT to READY_FOR_REDIRECT.
    RedirectReady,
    /// READY to the old worldserver's kick.
    RedirectRelease,
    /// The old worldserver's linger, waited out after the gateway closed the link itself.
    LingerWait,
    /// A failed attempt (recovery or placement) waits this long before the next.
    BackoffWait,
    /// The whole recovery must be over by then.
    RecoveryDeadline,
    /// No byte from the worldserver in world for this long: treated as lost.
    WorldSilence,
    /// Shutdown: LOGOUT_COMPLETE must arrive by then.
    Logout,
    /// A character-screen request (create, delete, rename) to the worldserver's answer.
    CharService,
    /// The forwarded character-screen request unanswered: nudge the worldserver.
    CharServiceNudge,
}

impl Timer {
    /// Every timer, in the order they fire when due at the same time.
    pub(super) const ALL: [Timer; 17] = [
        Timer::PreAuth,
        Timer::AccountLookup,
        Timer::AccountClaim,
        Timer::Characters,
        Timer::Placement,
        Timer::WorldHandshake,
        Timer::LoginNudge,
        Timer::WorldLogin,
        Timer::RedirectReady,
        Timer::RedirectRelease,
        Timer::LingerWait,
        Timer::BackoffWait,
        Timer::RecoveryDeadline,
        Timer::WorldSilence,
        Timer::Logout,
        Timer::CharService,
        Timer::CharServiceNudge,
    ];
}

/// The table: each deadline in nanoseconds of session time, [`DISARMED`] when it will not
/// fire (8 bytes a timer rather than an `Option<Duration>`'s 16).
#[derive(Debug, Clone)]
pub(super) struct Timers {
    at_ns: [u64; Timer::ALL.len()],
}

/// A timer that will not fire.
const DISARMED: u64 = u64::MAX;

impl Default for Timers {
    fn default() -> Self {
        Self {
            at_ns: [DISARMED; Timer::ALL.len()],
        }
    }
}

/// `at` in nanoseconds; a deadline past 584 years (where `u64` nanoseconds end) fires then.
fn to_ns(at: Duration) -> u64 {
    u64::try_from(at.as_nanos()).map_or(DISARMED - 1, |ns| ns.min(DISARMED - 1))
}

impl Timers {
    /// `timer` fires `after_ms` from `now` (re-arming replaces the old deadline).
    pub(super) fn arm(&mut self, timer: Timer, now: Duration, after_ms: u64) {
        self.arm_at(timer, now.saturating_add(Duration::from_millis(after_ms)));
    }

    /// `timer` fires at `at`.
    pub(super) fn arm_at(&mut self, timer: Timer, at: Duration) {
        self.at_ns[timer as usize] = to_ns(at);
    }

    /// `timer` will not fire.
    pub(super) fn disarm(&mut self, timer: Timer) {
        self.at_ns[timer as usize] = DISARMED;
    }

    /// Every timer in `timers` will not fire.
    pub(super) fn disarm_all(&mut self, timers: &[Timer]) {
        for t in timers {
            self.disarm(*t);
        }
    }

    /// Nothing will fire.
    pub(super) fn clear(&mut self) {
        *self = Self::default();
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Duration> {
        let earliest = self.at_ns.iter().copied().min()?;
        (earliest != DISARMED).then(|| Duration::from_nanos(earliest))
    }

    /// If `timer` is due at `now`: disarms it and says so.
    pub(super) fn take_due(&mut self, timer: Timer, now: Duration) -> bool {
        let slot = &mut self.at_ns[timer as usize];
        if *slot != DISARMED && *slot <= to_ns(now) {
            *slot = DISARMED;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_table_has_no_deadline_and_the_earliest_armed_one_is_next() {
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.arm(Timer::Logout, Duration::from_millis(5), 100);
        t.arm_at(Timer::PreAuth, Duration::from_nanos(7));
        assert_eq!(t.next(), Some(Duration::from_nanos(7)));
        assert!(!t.take_due(Timer::Logout, Duration::from_millis(104)));
        assert!(t.take_due(Timer::Logout, Duration::from_millis(105)));
        assert!(!t.take_due(Timer::Logout, Duration::from_millis(106)));
        t.disarm(Timer::PreAuth);
        assert_eq!(t.next(), None);
    }

    #[test]
    fn a_deadline_past_the_nanosecond_range_still_fires_and_never_reads_as_disarmed() {
        let mut t = Timers::default();
        t.arm(Timer::BackoffWait, Duration::MAX, u64::MAX);
        let last = Duration::from_nanos(DISARMED - 1);
        assert_eq!(t.next(), Some(last));
        assert!(t.take_due(Timer::BackoffWait, Duration::MAX));
        assert_eq!(t.next(), None);
    }
}
