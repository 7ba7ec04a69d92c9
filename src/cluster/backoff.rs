//! Retry with bounded, jittered exponential backoff: a checked policy value and the state of
//! one retry sequence. Randomness comes from the caller's seeded RNG.

use std::time::Duration;

use rand_core::Rng;
use serde::Deserialize;

/// A backoff policy. Build it with [`Backoff::new`] (or deserialize and [`Backoff::check`]),
/// which refuses values that would make a bound meaningless.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    /// Shortest wait between attempts.
    pub min_ms: u64,
    /// Longest wait between attempts.
    pub max_ms: u64,
    /// Growth per attempt (at least 1).
    pub multiplier: f64,
    /// Share of each delay that is random, in `0..=1`: a delay of `d` becomes uniform in
    /// `[d * (1 - jitter), d]`, then is clamped to `[min_ms, max_ms]`.
    pub jitter: f64,
    /// Attempts at most (the first one included).
    pub max_attempts: u32,
    /// From the first attempt, the whole sequence ends by this.
    pub deadline_ms: u64,
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("backoff policy: {0}")]
pub struct BackoffError(pub &'static str);

impl Backoff {
    /// A checked policy.
    pub fn new(
        min_ms: u64,
        max_ms: u64,
        multiplier: f64,
        jitter: f64,
        max_attempts: u32,
        deadline_ms: u64,
    ) -> Result<Self, BackoffError> {
        let b = Self {
            min_ms,
            max_ms,
            multiplier,
            jitter,
            max_attempts,
            deadline_ms,
        };
        b.check()?;
        Ok(b)
    }

    /// Checks the bounds of a deserialized policy.
    pub fn check(&self) -> Result<(), BackoffError> {
        if self.min_ms == 0 {
            return Err(BackoffError("min_ms must be at least 1"));
        }
        if self.max_ms < self.min_ms {
            return Err(BackoffError("max_ms must be at least min_ms"));
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(BackoffError("multiplier must be finite and at least 1"));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(BackoffError("jitter must be within 0..=1"));
        }
        if self.max_attempts == 0 {
            return Err(BackoffError("max_attempts must be at least 1"));
        }
        if self.deadline_ms < self.min_ms {
            return Err(BackoffError("deadline_ms must leave room for one wait"));
        }
        Ok(())
    }

    /// The wait before retry number `retry` (1 for the wait after the first attempt),
    /// always within `[min_ms, max_ms]`.
    pub fn delay(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let exp = self
            .multiplier
            .powi(retry.saturating_sub(1).min(1_000) as i32);
        let base = (self.min_ms as f64 * exp).min(self.max_ms as f64);
        // 53 random bits -> a uniform fraction in [0, 1).
        let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let jittered = base * (1.0 - self.jitter * unit);
        let ms = (jittered.round() as u64).clamp(self.min_ms, self.max_ms);
        Duration::from_millis(ms)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min_ms: 100,
            max_ms: 5_000,
            multiplier: 2.0,
            jitter: 0.5,
            max_attempts: 8,
            deadline_ms: 30_000,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again at this time (since the clock origin).
    RetryAt(Duration),
    /// Stop: attempts or deadline used up.
    GiveUp,
}

/// One retry sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    policy: Backoff,
    started: Duration,
    attempts: u32,
}

impl Retry {
    /// A sequence whose first attempt happens at `now`.
    pub fn start(policy: Backoff, now: Duration) -> Self {
        Self {
            policy,
            started: now,
            attempts: 1,
        }
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// When the whole sequence must be over.
    pub fn deadline(&self) -> Duration {
        self.started + Duration::from_millis(self.policy.deadline_ms)
    }

    /// The last attempt (made at or before `now`) failed: when to try again, if at all. A retry
    /// never starts after the deadline and never exceeds the attempt cap.
    pub fn failed(&mut self, now: Duration, rng: &mut impl Rng) -> RetryDecision {
        if self.attempts >= self.policy.max_attempts {
            return RetryDecision::GiveUp;
        }
        let at = now + self.policy.delay(self.attempts, rng);
        if at > self.deadline() {
            return RetryDecision::GiveUp;
        }
        self.attempts += 1;
        RetryDecision::RetryAt(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    #[test]
    fn bad_policies_are_refused() {
        assert!(Backoff::new(0, 10, 2.0, 0.5, 3, 100).is_err());
        assert!(Backoff::new(10, 5, 2.0, 0.5, 3, 100).is_err());
        assert!(Backoff::new(10, 50, 0.5, 0.5, 3, 100).is_err());
        assert!(Backoff::new(10, 50, f64::NAN, 0.5, 3, 100).is_err());
        assert!(Backoff::new(10, 50, 2.0, 1.5, 3, 100).is_err());
        assert!(Backoff::new(10, 50, 2.0, 0.5, 0, 100).is_err());
        assert!(Backoff::new(10, 50, 2.0, 0.5, 3, 5).is_err());
        assert!(Backoff::default().check().is_ok());
    }

    #[test]
    fn policies_at_the_edges_are_accepted() {
        // One fixed wait; a single attempt; a deadline with room for exactly one wait; no
        // growth; jitter at both ends.
        assert!(Backoff::new(10, 10, 2.0, 0.5, 3, 100).is_ok());
        assert!(Backoff::new(10, 50, 2.0, 0.5, 1, 100).is_ok());
        assert!(Backoff::new(10, 50, 2.0, 0.5, 3, 10).is_ok());
        assert!(Backoff::new(10, 50, 1.0, 0.0, 3, 100).is_ok());
        assert!(Backoff::new(10, 50, 2.0, 1.0, 3, 100).is_ok());
    }

    #[test]
    fn jitter_only_shortens_a_wait_and_by_its_share_at_most() {
        // Retry 3: a base of 400 ms; jitter 0.5 draws from [200, 400].
        let b = Backoff::new(100, 10_000, 2.0, 0.5, 10, 60_000).expect("valid");
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let ms: Vec<u64> = (0..200)
            .map(|_| b.delay(3, &mut rng).as_millis() as u64)
            .collect();
        assert!(ms.iter().all(|m| (200..=400).contains(m)), "{ms:?}");
        assert!(
            ms.iter().any(|m| *m < 250) && ms.iter().any(|m| *m > 350),
            "spread: {ms:?}"
        );
    }

    #[test]
    fn a_sequence_counts_its_attempts_and_stops_at_the_count() {
        let b = Backoff::new(100, 1_000, 2.0, 0.0, 3, 60_000).expect("valid");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut r = Retry::start(b, Duration::ZERO);
        assert_eq!(r.attempts(), 1);
        assert_eq!(
            r.failed(Duration::ZERO, &mut rng),
            RetryDecision::RetryAt(Duration::from_millis(100))
        );
        assert_eq!(r.attempts(), 2);
        assert_eq!(
            r.failed(Duration::from_millis(100), &mut rng),
            RetryDecision::RetryAt(Duration::from_millis(300))
        );
        assert_eq!(r.attempts(), 3);
        assert_eq!(
            r.failed(Duration::from_millis(300), &mut rng),
            RetryDecision::GiveUp
        );
        assert_eq!(r.attempts(), 3, "a refused retry is not an attempt");

        // A retry due exactly at the deadline still happens; one past it does not.
        let tight = Backoff::new(100, 100, 2.0, 0.0, 5, 200).expect("valid");
        let mut r = Retry::start(tight, Duration::ZERO);
        assert_eq!(
            r.failed(Duration::from_millis(100), &mut rng),
            RetryDecision::RetryAt(Duration::from_millis(200))
        );
        assert_eq!(
            r.failed(Duration::from_millis(101), &mut rng),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn no_jitter_doubles_until_the_cap() {
        let b = Backoff::new(100, 1_000, 2.0, 0.0, 10, 60_000).expect("valid");
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let ms: Vec<u64> = (1..=6)
            .map(|r| b.delay(r, &mut rng).as_millis() as u64)
            .collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 1_000, 1_000]);
    }

    fn policy() -> impl Strategy<Value = Backoff> {
        (
            1u64..5_000,
            0u64..60_000,
            1.0f64..4.0,
            0.0f64..=1.0,
            1u32..20,
            0u64..120_000,
        )
            .prop_map(
                |(min, extra, mult, jitter, attempts, deadline_extra)| Backoff {
                    min_ms: min,
                    max_ms: min + extra,
                    multiplier: mult,
                    jitter,
                    max_attempts: attempts,
                    deadline_ms: min + deadline_extra,
                },
            )
    }

    proptest! {
        #[test]
        fn delays_stay_within_min_and_max(b in policy(), seed in any::<u64>(), retry in 0u32..2_000) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let d = b.delay(retry, &mut rng).as_millis() as u64;
            prop_assert!(d >= b.min_ms && d <= b.max_ms, "{d} outside [{}, {}]", b.min_ms, b.max_ms);
        }

        #[test]
        fn a_sequence_respects_cap_and_deadline(
            b in policy(),
            seed in any::<u64>(),
            start_ms in 0u64..1_000_000,
            attempt_cost_ms in prop::collection::vec(0u64..3_000, 0..40),
        ) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut now = Duration::from_millis(start_ms);
            let mut retry = Retry::start(b, now);
            let mut costs = attempt_cost_ms.into_iter();
            loop {
                // The attempt takes some time, then fails.
                now += Duration::from_millis(costs.next().unwrap_or(0));
                match retry.failed(now, &mut rng) {
                    RetryDecision::GiveUp => break,
                    RetryDecision::RetryAt(at) => {
                        let wait = at - now;
                        prop_assert!(wait >= Duration::from_millis(b.min_ms));
                        prop_assert!(wait <= Duration::from_millis(b.max_ms));
                        prop_assert!(at <= retry.deadline(), "retry after the deadline");
                        prop_assert!(retry.attempts() <= b.max_attempts);
                        now = at;
                    }
                }
            }
            prop_assert!(retry.attempts() <= b.max_attempts);
        }
    }
}
