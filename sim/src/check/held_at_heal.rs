//! The partitioned worldserver still holds characters when its partition heals.
//!
//! **Invariant** (a scenario's precondition, not the gateway's): at every heal of a
//! partition, the worldserver that was cut off holds at least `expect.held_at_heal`
//! characters in world (in world, in far-teleport limbo or lingering as offline sessions).
//! A scenario that claims "the worldserver only sees the gateway's connections close once
//! the partition heals, and keeps the characters for its linger from then on" exercised
//! that claim only if so: a worldserver that emptied itself during the partition (its idle
//! timeout, then its linger) holds nothing a late login could meet twice.
//!
//! **Source of truth**: the fake worldserver's own bookkeeping
//! (`FakeWorldserver::in_world_guids`), read at the virtual instant of the heal, just before
//! the network carries its packets again; never the gateway's view.

use std::sync::{Arc, Mutex, PoisonError};

#[cfg(madsim)]
use super::{Checker, Findings};
#[cfg(madsim)]
use crate::transcript::Transcript;

/// What a partitioned worldserver held when its partition healed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The worldserver.
    pub id: String,
    /// When the partition healed (milliseconds of the run).
    pub at_ms: u64,
    /// Characters it held in world then, by its own count.
    pub characters: usize,
}

/// The record of every heal of a partition in a run, and the judge of the scenario's
/// `held_at_heal`.
#[derive(Clone, Default)]
pub struct HeldAtHeal {
    /// The scenario's `expect.held_at_heal`: at least this many, at every heal.
    want: Option<u32>,
    heals: Arc<Mutex<Vec<Held>>>,
}

impl HeldAtHeal {
    /// A record judged against `want` (none: recorded, never judged, nothing written).
    pub fn new(want: Option<u32>) -> Self {
        Self {
            want,
            heals: Arc::default(),
        }
    }

    /// The partition of `id` heals now and it holds `guids` in world (its own
    /// `in_world_guids`, read before the heal). Written to the transcript only when the
    /// scenario states `held_at_heal`, so other scenarios' transcripts stay as they were.
    #[cfg(madsim)]
    pub fn healed(&self, id: &str, guids: &[u64], findings: &Findings, transcript: &Transcript) {
        let at_ms = u64::try_from(findings.now().as_millis()).unwrap_or(u64::MAX);
        if self.want.is_some() {
            transcript.push(
                findings.now(),
                "sim",
                format!(
                    "{id} holds {} characters in world as its partition heals: {guids:?}",
                    guids.len()
                ),
            );
        }
        self.heals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Held {
                id: id.to_owned(),
                at_ms,
                characters: guids.len(),
            });
    }

    /// Every heal recorded, in order.
    pub fn heals(&self) -> Vec<Held> {
        self.heals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Judges the run after the last bot: with `held_at_heal` stated, some partition healed
    /// during the run, and at each heal the cut-off worldserver held at least that many.
    #[cfg(madsim)]
    pub fn check(&self, findings: &Findings) {
        for failure in self.failures() {
            findings.fail(Checker::Counts, failure);
        }
    }

    /// What `check` reports, one message per broken claim.
    pub fn failures(&self) -> Vec<String> {
        let Some(want) = self.want else {
            return Vec::new();
        };
        let heals = self.heals();
        if heals.is_empty() {
            return vec![format!(
                "no partition healed during the run, but the scenario claims the partitioned worldserver still holds at least {want} characters in world when its partition heals (held_at_heal)"
            )];
        }
        heals
            .iter()
            .filter(|h| h.characters < want as usize)
            .map(|h| {
                format!(
                    "{} held {} characters in world (its own count) when its partition healed at {}ms, expected at least {want}: the scenario's claim that the cut-off worldserver still holds characters at the heal and keeps them for its linger from then on (held_at_heal) was not exercised",
                    h.id, h.characters, h.at_ms
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(want: Option<u32>, heals: &[(&str, u64, usize)]) -> HeldAtHeal {
        let h = HeldAtHeal::new(want);
        h.heals
            .lock()
            .unwrap()
            .extend(heals.iter().map(|(id, at_ms, n)| Held {
                id: (*id).into(),
                at_ms: *at_ms,
                characters: *n,
            }));
        h
    }

    #[test]
    fn an_empty_worldserver_at_the_heal_fails_the_stated_claim() {
        let f = with(Some(1), &[("ws-ek", 170_000, 0)]).failures();
        assert_eq!(f.len(), 1);
        assert!(f[0].starts_with("ws-ek held 0 characters"), "{f:?}");
        assert!(f[0].contains("170000ms") && f[0].contains("held_at_heal"));
    }

    #[test]
    fn every_heal_is_judged() {
        let f = with(Some(2), &[("a", 10, 3), ("b", 20, 1), ("a", 30, 2)]).failures();
        assert_eq!(f.len(), 1);
        assert!(f[0].starts_with("b held 1 characters"), "{f:?}");
        assert!(with(Some(1), &[("a", 10, 1)]).failures().is_empty());
    }

    #[test]
    fn a_claim_with_no_heal_fails_and_no_claim_is_never_judged() {
        assert_eq!(with(Some(1), &[]).failures().len(), 1);
        assert!(with(None, &[("a", 10, 0)]).failures().is_empty());
        assert!(with(None, &[]).failures().is_empty());
    }
}
