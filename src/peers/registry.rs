//! A fake ToCloud9 servers-registry over fake worldservers: it lists the worldservers that
//! are up (the real registry drops one whose health check fails) with the world-update p99
//! each fake runs at, and can be made unreachable.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::worldserver::FakeWorldserver;
use crate::cluster::WorldserverInfo;
use crate::runtime::{BoxFuture, Registry};
use crate::session::SeamError;

/// World-update p99 reported for a fake whose loop is not slowed down.
pub const BASE_WORLD_UPDATE_MS: u64 = 20;

/// The registry. Cloning shares it.
#[derive(Clone)]
pub struct FakeRegistry {
    entries: Arc<Vec<(WorldserverInfo, FakeWorldserver)>>,
    reachable: Arc<AtomicBool>,
}

impl FakeRegistry {
    /// A registry listing these worldservers, each backed by its fake.
    pub fn new(entries: Vec<(WorldserverInfo, FakeWorldserver)>) -> Self {
        Self {
            entries: Arc::new(entries),
            reachable: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Whether the registry answers.
    pub fn set_reachable(&self, reachable: bool) {
        self.reachable.store(reachable, Ordering::Relaxed);
    }
}

impl Registry for FakeRegistry {
    fn worldservers(&self) -> BoxFuture<'_, Result<Vec<WorldserverInfo>, SeamError>> {
        let answer = if self.reachable.load(Ordering::Relaxed) {
            Ok(self
                .entries
                .iter()
                .filter(|(_, fake)| !fake.is_down())
                .map(|(info, fake)| WorldserverInfo {
                    world_update_p99_ms: u32::try_from(
                        BASE_WORLD_UPDATE_MS.saturating_add(fake.world_update_ms()),
                    )
                    .ok(),
                    ..info.clone()
                })
                .collect())
        } else {
            Err(SeamError {
                service: "registry",
                detail: "unreachable".into(),
                retryable: true,
            })
        };
        Box::pin(async move { answer })
    }
}
