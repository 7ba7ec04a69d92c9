//! The simulator's checkers. Each is a small type fed observations by the runner; its doc
//! comment names the invariant it guards and where it takes the truth from.
//!
//! - [`drain::DrainChecker`]: nobody new is admitted to a drained worldserver, nor where the
//!   health rule forbids it ([`admission`]: a stale registry, a slow world) (the scenario's
//!   fault timeline and the health policy; the fakes' packet taps).
//! - [`heartbeats::HeartbeatOrder`]: each heartbeat reaches at most one worldserver, in the
//!   order sent (the fakes' packet taps; the bots' sequence numbers).
//! - [`dual_presence::DualPresence`]: no character in world on two worldservers at once (the
//!   fakes' worlds, sampled).
//! - [`logins_end::LoginsEnd`]: every login is answered within the gateway's bound (the
//!   bots' reports).
//! - [`backoff`]: retries keep their distance (the connect attempts the simulated network
//!   carried).
//! - [`teardown::ClientLinks`]: no worldserver connection outlives its client by more than a
//!   second (the bots' sockets, the fakes' connections, sampled); [`teardown::Teardown`]:
//!   nothing is left open after the last bot.
//! - [`expect::Expectations`]: liveness within the SLO and the scenario's stated counts (the
//!   bots' reports).
//! - [`whispers`]: every whisper reaches its receiver once, or its sender is told it did not;
//!   [`guild_chat`]: every guild line reaches each other member in world once (the bots'
//!   reports); [`party_frames`]: the frames of group members stay live and true (the bots'
//!   reports, the fakes' health rule).
//! - [`held_at_heal::HeldAtHeal`]: a scenario's precondition, that the worldserver it cut off
//!   still holds characters in world when the partition heals (the fakes' worlds, read at the
//!   heal).

pub mod admission;
pub mod backoff;
pub mod drain;
pub mod guild_chat;
pub mod held_at_heal;
pub mod links;
pub mod party_frames;
pub mod whispers;

#[cfg(madsim)]
pub mod dual_presence;
#[cfg(madsim)]
pub mod expect;
#[cfg(madsim)]
pub mod heartbeats;
#[cfg(madsim)]
pub mod logins_end;
#[cfg(madsim)]
pub mod teardown;

#[cfg(madsim)]
pub use findings::Findings;

/// One bot's index, report, outcome and when it ended.
pub type BotResult = (
    usize,
    waygate::peers::bot::BotReport,
    Result<(), String>,
    std::time::Duration,
);

/// A bot's result for a checker's unit tests: its report as `f` fills it, and a clean end
/// or a closed client.
#[cfg(test)]
pub(crate) fn bot_result(
    index: usize,
    ok: bool,
    f: impl FnOnce(&mut waygate::peers::bot::BotReport),
) -> BotResult {
    let mut r = waygate::peers::bot::BotReport::default();
    f(&mut r);
    let result = if ok { Ok(()) } else { Err("closed".into()) };
    (index, r, result, std::time::Duration::ZERO)
}

/// Who found a failure: each failure a run reports starts with `[name] `, so a canary sweep
/// can tell which checker caught a planted bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Checker {
    /// [`drain`]: a drained worldserver admitted someone new.
    Drain,
    /// [`admission`]: a worldserver the health rule closes admitted someone new.
    Admission,
    /// [`heartbeats`]: a heartbeat reached two worldservers, or out of order.
    Heartbeats,
    /// [`dual_presence`]: a character in world twice.
    DualPresence,
    /// The bots' reading of the server stream: a header neither reader agrees on, or a
    /// packet no client may receive (the bots' own protocol checks).
    ClientProtocol,
    /// [`logins_end::LoginsEnd`].
    LoginsEnd,
    /// [`backoff`].
    Backoff,
    /// [`teardown`].
    Teardown,
    /// [`whispers`] and [`guild_chat`]: a whisper or guild line lost silently, delivered
    /// twice, or forged.
    Chat,
    /// [`party_frames`]: a group member's frame that went stale, or showed what its
    /// worldserver never said.
    Party,
    /// [`expect`]: bots that did not finish, or finished past the SLO.
    Liveness,
    /// [`expect`]: logins, handoffs or drained-time logins other than the scenario states;
    /// [`held_at_heal`]: a partitioned worldserver that held fewer characters at the heal
    /// than the scenario states.
    Counts,
    /// The runner itself (a fault naming an unknown worldserver, a panic).
    Runner,
}

impl Checker {
    /// Every checker.
    pub const ALL: [Checker; 13] = [
        Checker::Drain,
        Checker::Admission,
        Checker::Heartbeats,
        Checker::DualPresence,
        Checker::ClientProtocol,
        Checker::LoginsEnd,
        Checker::Backoff,
        Checker::Teardown,
        Checker::Chat,
        Checker::Party,
        Checker::Liveness,
        Checker::Counts,
        Checker::Runner,
    ];

    /// Its name in failures and tables.
    pub fn name(self) -> &'static str {
        match self {
            Checker::Drain => "drain",
            Checker::Admission => "admission",
            Checker::Heartbeats => "heartbeats",
            Checker::DualPresence => "dual-presence",
            Checker::ClientProtocol => "client-protocol",
            Checker::LoginsEnd => "logins-end",
            Checker::Backoff => "backoff",
            Checker::Teardown => "teardown",
            Checker::Chat => "chat",
            Checker::Party => "party",
            Checker::Liveness => "liveness",
            Checker::Counts => "counts",
            Checker::Runner => "runner",
        }
    }

    /// A failure message as reported: tagged with this checker.
    pub fn tag(self, msg: &str) -> String {
        format!("[{}] {msg}", self.name())
    }

    /// The checker a reported failure names, if it names one.
    pub fn of(failure: &str) -> Option<Checker> {
        let name = failure.strip_prefix('[')?.split_once("] ")?.0;
        Checker::ALL.into_iter().find(|c| c.name() == name)
    }
}

#[cfg(madsim)]
mod findings {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::Checker;
    use crate::transcript::Transcript;

    /// Where checkers report: the run's failures, and for violations seen while the run goes
    /// on, a `checker` line in the transcript at the virtual time they were seen.
    #[derive(Clone)]
    pub struct Findings {
        transcript: Transcript,
        failures: Arc<Mutex<Vec<String>>>,
        start: tokio::time::Instant,
    }

    impl Findings {
        /// Findings of a run that started at `start`.
        pub fn new(
            transcript: Transcript,
            failures: Arc<Mutex<Vec<String>>>,
            start: tokio::time::Instant,
        ) -> Self {
            Self {
                transcript,
                failures,
                start,
            }
        }

        /// Virtual time since the run started.
        pub fn now(&self) -> Duration {
            self.start.elapsed()
        }

        /// A failure `checker` found, not written to the transcript.
        pub fn fail(&self, checker: Checker, msg: String) {
            self.failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(checker.tag(&msg));
        }

        /// A violation `checker` saw now: a `checker` line in the transcript, and a failure.
        pub fn flag(&self, checker: Checker, msg: String) {
            self.transcript.push(self.now(), "checker", &msg);
            self.fail(checker, msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Checker;

    #[test]
    fn a_tagged_failure_names_its_checker() {
        for c in Checker::ALL {
            assert_eq!(Checker::of(&c.tag("something broke")), Some(c));
        }
        assert_eq!(Checker::of("no tag here"), None);
        assert_eq!(Checker::of("[unknown] what"), None);
        assert_eq!(Checker::of("[drain]"), None, "a tag needs its message");
    }
}
