//! No dual presence.
//!
//! **Invariant**: no character is in world on two worldservers at once.
//!
//! **Source of truth**: the fake worldservers' worlds (who each has in world), sampled every
//! [`CHECK_EVERY_MS`] of virtual time while the bots play. Each character is reported once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use waygate::peers::worldserver::FakeWorldserver;

use super::{Checker, Findings};

/// Sampling period.
pub const CHECK_EVERY_MS: u64 = 25;

/// The sampler; [`DualPresence::stop`] ends it.
pub struct DualPresence {
    done: Arc<AtomicBool>,
}

impl DualPresence {
    /// Starts sampling `worlds` on the current node.
    pub fn spawn(worlds: Vec<(String, FakeWorldserver)>, findings: Findings) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let running = done.clone();
        tokio::spawn(async move {
            let mut reported = BTreeSet::new();
            while !running.load(Ordering::Relaxed) {
                let mut seen: BTreeMap<u64, Vec<String>> = BTreeMap::new();
                for (id, fake) in &worlds {
                    for guid in fake.in_world_guids() {
                        seen.entry(guid).or_default().push(id.clone());
                    }
                }
                for (guid, on) in seen {
                    if on.len() > 1 && reported.insert(guid) {
                        findings.flag(
                            Checker::DualPresence,
                            format!("dual presence: character {guid} in world on {on:?}"),
                        );
                    }
                }
                tokio::time::sleep(Duration::from_millis(CHECK_EVERY_MS)).await;
            }
        });
        Self { done }
    }

    /// Stops sampling (after its current sample).
    pub fn stop(&self) {
        self.done.store(true, Ordering::Relaxed);
    }
}
