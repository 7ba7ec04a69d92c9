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
//! - [`session_events`]: logins end, placements respect health, retries respect the backoff
//!   policy (the gateway's session events).
//! - [`teardown::Teardown`]: no session or worldserver connection outlives the clients.
//! - [`expect::Expectations`]: liveness within the SLO and the scenario's stated counts (the
//!   bots' reports).

pub mod admission;
pub mod drain;

#[cfg(madsim)]
pub mod dual_presence;
#[cfg(madsim)]
pub mod expect;
#[cfg(madsim)]
pub mod heartbeats;
#[cfg(madsim)]
pub mod session_events;
#[cfg(madsim)]
pub mod teardown;

#[cfg(madsim)]
pub use findings::Findings;

#[cfg(madsim)]
mod findings {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

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

        /// A failure, not written to the transcript.
        pub fn fail(&self, msg: String) {
            self.failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(msg);
        }

        /// A violation seen now: a `checker` line in the transcript, and a failure.
        pub fn flag(&self, msg: String) {
            self.transcript.push(self.now(), "checker", &msg);
            self.fail(msg);
        }
    }
}
