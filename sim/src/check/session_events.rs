//! Checks on the gateway's session events (the observer hook of `Gateway::with_observer`).
//! These still take the gateway's word (its events, its view, its ledger); issue 10 moves
//! each to an outside oracle (logins ending and backoff already moved: [`super::logins_end`],
//! [`super::backoff`]).
//!
//! - [`PlacementHealth`]: no new placement on a worldserver that is not admitting; a degraded
//!   one may take back a character it may still hold (a re-attach). Truth: the gateway's view
//!   and holds ledger at the moment of the placement.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use waygate::cluster::view::Health;
use waygate::driver::Gateway;
use waygate::session::{CharacterGuid, SessionEvent, SessionId};

use super::{Checker, Findings};

/// Placements against the health rule.
pub struct PlacementHealth {
    /// The character each session is logging in.
    characters: Mutex<BTreeMap<u64, CharacterGuid>>,
    gateway: Arc<Mutex<Option<Arc<Gateway>>>>,
    findings: Findings,
}

impl PlacementHealth {
    /// A checker that reads the gateway in `gateway` (set once it exists).
    pub fn new(gateway: Arc<Mutex<Option<Arc<Gateway>>>>, findings: Findings) -> Self {
        Self {
            characters: Mutex::new(BTreeMap::new()),
            gateway,
            findings,
        }
    }

    /// One session event.
    pub fn observe(&self, id: SessionId, e: &SessionEvent) {
        if let SessionEvent::LoginStarted { guid, .. } = e {
            self.characters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id.0, *guid);
        }
        let SessionEvent::Placed { worldserver } = e else {
            return;
        };
        let gw = self
            .gateway
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let guid = self
            .characters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id.0)
            .copied();
        let health = gw
            .as_ref()
            .and_then(|g| g.view().get(worldserver).map(|s| s.health));
        let holder = gw.as_ref().zip(guid).and_then(|(g, c)| g.holder(c));
        let reattach = health == Some(Health::Degraded) && holder.as_ref() == Some(worldserver);
        if health != Some(Health::Admitting) && !reattach {
            self.findings.fail(
                Checker::Placement,
                format!("session {}: placed on {worldserver} while {health:?}", id.0),
            );
        }
    }
}
