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

/// The table.
#[derive(Debug, Clone, Default)]
pub(super) struct Timers {
    at: [Option<Duration>; Timer::ALL.len()],
}

impl Timers {
    /// `timer` fires `after_ms` from `now` (re-arming replaces the old deadline).
    pub(super) fn arm(&mut self, timer: Timer, now: Duration, after_ms: u64) {
        self.arm_at(timer, now + Duration::from_millis(after_ms));
    }

    /// `timer` fires at `at`.
    pub(super) fn arm_at(&mut self, timer: Timer, at: Duration) {
        self.at[timer as usize] = Some(at);
    }

    /// `timer` will not fire.
    pub(super) fn disarm(&mut self, timer: Timer) {
        self.at[timer as usize] = None;
    }

    /// Every timer in `timers` will not fire.
    pub(super) fn disarm_all(&mut self, timers: &[Timer]) {
        for t in timers {
            self.disarm(*t);
        }
    }

    /// Nothing will fire.
    pub(super) fn clear(&mut self) {
        self.at = Default::default();
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Duration> {
        self.at.iter().flatten().min().copied()
    }

    /// If `timer` is due at `now`: disarms it and says so.
    pub(super) fn take_due(&mut self, timer: Timer, now: Duration) -> bool {
        let slot = &mut self.at[timer as usize];
        if slot.is_some_and(|at| at <= now) {
            *slot = None;
            return true;
        }
        false
    }
}
