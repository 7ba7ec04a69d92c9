//! Gateway counters and latency histograms, shared by every session task.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::session::{Counters, Culprit, SessionEvent};

/// Latency samples kept per histogram; later samples replace earlier ones round-robin, so
/// memory stays bounded on a long-running gateway.
const HISTOGRAM_SAMPLES_MAX: usize = 65_536;

/// A bounded latency histogram (milliseconds).
#[derive(Debug, Default)]
pub struct Histogram {
    samples: Vec<u64>,
    count: u64,
}

impl Histogram {
    /// Records one sample.
    pub fn record(&mut self, ms: u64) {
        if self.samples.len() < HISTOGRAM_SAMPLES_MAX {
            self.samples.push(ms);
        } else {
            let at = (self.count % HISTOGRAM_SAMPLES_MAX as u64) as usize;
            self.samples[at] = ms;
        }
        self.count += 1;
    }

    /// The `p`-th percentile (0..=100) of the kept samples, if any.
    pub fn percentile(&self, p: u32) -> Option<u64> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        let rank = (u64::from(p.min(100)) * (sorted.len() as u64 - 1)).div_ceil(100);
        sorted.get(rank as usize).copied()
    }

    /// Samples recorded, all time.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// Everything the gateway counts.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Sessions started.
    pub sessions: AtomicU64,
    /// Connections refused at the cap.
    pub refused: AtomicU64,
    /// Characters that entered the world.
    pub logins: AtomicU64,
    /// Logins answered with SMSG_CHARACTER_LOGIN_FAILED.
    pub login_failures: AtomicU64,
    /// Completed worldserver handoffs.
    pub handoffs: AtomicU64,
    /// Handoffs abandoned (the old worldserver kept the player).
    pub handoffs_abandoned: AtomicU64,
    /// Worldserver connections lost in world.
    pub world_losses: AtomicU64,
    /// Players back in world after a loss.
    pub recoveries: AtomicU64,
    /// Sessions closed, by culprit: client, worldserver, service, gateway.
    pub closed: [AtomicU64; 4],
    /// Packets decoded from clients.
    pub client_packets_in: AtomicU64,
    /// Packets sent to clients.
    pub client_packets_out: AtomicU64,
    /// Packets decoded from worldservers.
    pub world_packets_in: AtomicU64,
    /// Packets sent to worldservers.
    pub world_packets_out: AtomicU64,
    /// Bytes read from clients.
    pub client_bytes_in: AtomicU64,
    /// Login time, PLAYER_LOGIN to in world.
    pub login_ms: Mutex<Histogram>,
    /// Handoff time, worldport ack to in world on the new worldserver.
    pub handoff_ms: Mutex<Histogram>,
    /// Moves off a worldserver without a map change of the player's own, by reason:
    /// worldserver (unsolicited READY), draining, layer switch.
    pub redirects_requested: [AtomicU64; 3],
    /// New placements, by the chosen worldserver's health at the time: Admitting, Degraded,
    /// Draining, Down (anything but the first is a bug the simulator looks for).
    pub placements: [AtomicU64; 4],
    /// Redirects whose old worldserver never released the player in time (the gateway
    /// closed the link and waited out the linger).
    pub releases_forced: AtomicU64,
    /// Placement answers "nobody can take the player now, ask again".
    pub placement_waits: AtomicU64,
    /// Placement answers "nobody serves the map".
    pub placement_refusals: AtomicU64,
    /// Worldserver health transitions seen.
    pub health_changes: AtomicU64,
    /// Backoff waits (recovery attempts and placement retries), milliseconds.
    pub backoff_wait_ms: Mutex<Histogram>,
    /// Recovery time, connection lost to back in world.
    pub recovery_ms: Mutex<Histogram>,
}

/// Index of a redirect reason in [`Metrics::redirects_requested`].
fn redirect_slot(reason: &str) -> usize {
    match reason {
        "worldserver" => 0,
        "draining" => 1,
        _ => 2,
    }
}

/// A point-in-time copy of [`Metrics`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    /// Sessions started.
    pub sessions: u64,
    /// Connections refused at the cap.
    pub refused: u64,
    /// Characters that entered the world.
    pub logins: u64,
    /// Login failures.
    pub login_failures: u64,
    /// Completed handoffs.
    pub handoffs: u64,
    /// Abandoned handoffs.
    pub handoffs_abandoned: u64,
    /// Worldserver connections lost in world.
    pub world_losses: u64,
    /// Recoveries completed.
    pub recoveries: u64,
    /// Sessions closed by the client, a worldserver, a service, the gateway.
    pub closed: [u64; 4],
    /// Packets from clients.
    pub client_packets_in: u64,
    /// Packets to clients.
    pub client_packets_out: u64,
    /// Packets from worldservers.
    pub world_packets_in: u64,
    /// Packets to worldservers.
    pub world_packets_out: u64,
    /// Login p50/p99 (ms).
    pub login_p50_ms: Option<u64>,
    /// Login p99 (ms).
    pub login_p99_ms: Option<u64>,
    /// Handoff p50 (ms).
    pub handoff_p50_ms: Option<u64>,
    /// Handoff p99 (ms).
    pub handoff_p99_ms: Option<u64>,
    /// Redirects requested by the worldserver, by draining, by a layer switch.
    pub redirects_requested: [u64; 3],
    /// Placements on an Admitting, Degraded, Draining, Down worldserver.
    pub placements: [u64; 4],
    /// Forced releases.
    pub releases_forced: u64,
    /// Placement waits.
    pub placement_waits: u64,
    /// Placement refusals.
    pub placement_refusals: u64,
    /// Health transitions.
    pub health_changes: u64,
    /// Backoff waits recorded.
    pub backoff_waits: u64,
    /// Backoff wait p50 (ms).
    pub backoff_p50_ms: Option<u64>,
    /// Backoff wait p99 (ms).
    pub backoff_p99_ms: Option<u64>,
    /// Recovery p50 (ms).
    pub recovery_p50_ms: Option<u64>,
    /// Recovery p99 (ms).
    pub recovery_p99_ms: Option<u64>,
}

fn lock(h: &Mutex<Histogram>) -> std::sync::MutexGuard<'_, Histogram> {
    h.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// Counts one session event.
    pub fn record(&self, e: &SessionEvent) {
        super::log_event(e);
        match e {
            SessionEvent::EnteredWorld { took_ms, .. } => {
                self.logins.fetch_add(1, Ordering::Relaxed);
                lock(&self.login_ms).record(*took_ms);
            }
            SessionEvent::LoginFailed { .. } => {
                self.login_failures.fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::HandoffCompleted { took_ms, .. } => {
                self.handoffs.fetch_add(1, Ordering::Relaxed);
                lock(&self.handoff_ms).record(*took_ms);
            }
            SessionEvent::HandoffAbandoned { .. } => {
                self.handoffs_abandoned.fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::RecoveryStarted { .. } => {
                self.world_losses.fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::Recovered { took_ms, .. } => {
                self.recoveries.fetch_add(1, Ordering::Relaxed);
                lock(&self.recovery_ms).record(*took_ms);
            }
            SessionEvent::ReleaseForced { .. } => {
                self.releases_forced.fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::RedirectRequested { reason, .. } => {
                self.redirects_requested[redirect_slot(reason)].fetch_add(1, Ordering::Relaxed);
            }
            SessionEvent::RecoveryAttemptFailed { retry_in_ms, .. }
            | SessionEvent::PlacementWaiting { retry_in_ms, .. } => {
                lock(&self.backoff_wait_ms).record(*retry_in_ms);
            }
            SessionEvent::Closed { reason } => {
                let at = match reason.culprit() {
                    Culprit::Client => 0,
                    Culprit::Worldserver => 1,
                    Culprit::Service => 2,
                    Culprit::Gateway => 3,
                };
                self.closed[at].fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Adds a session's packet counters.
    pub fn absorb(&self, c: Counters) {
        self.client_packets_in
            .fetch_add(c.client_packets_in, Ordering::Relaxed);
        self.client_packets_out
            .fetch_add(c.client_packets_out, Ordering::Relaxed);
        self.world_packets_in
            .fetch_add(c.world_packets_in, Ordering::Relaxed);
        self.world_packets_out
            .fetch_add(c.world_packets_out, Ordering::Relaxed);
    }

    /// Copies everything out.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let login = lock(&self.login_ms);
        let handoff = lock(&self.handoff_ms);
        let backoff = lock(&self.backoff_wait_ms);
        let recovery = lock(&self.recovery_ms);
        let all = |a: &[AtomicU64]| -> Vec<u64> { a.iter().map(get).collect() };
        let placements = all(&self.placements);
        let redirects = all(&self.redirects_requested);
        MetricsSnapshot {
            sessions: get(&self.sessions),
            refused: get(&self.refused),
            logins: get(&self.logins),
            login_failures: get(&self.login_failures),
            handoffs: get(&self.handoffs),
            handoffs_abandoned: get(&self.handoffs_abandoned),
            world_losses: get(&self.world_losses),
            recoveries: get(&self.recoveries),
            closed: [
                get(&self.closed[0]),
                get(&self.closed[1]),
                get(&self.closed[2]),
                get(&self.closed[3]),
            ],
            client_packets_in: get(&self.client_packets_in),
            client_packets_out: get(&self.client_packets_out),
            world_packets_in: get(&self.world_packets_in),
            world_packets_out: get(&self.world_packets_out),
            login_p50_ms: login.percentile(50),
            login_p99_ms: login.percentile(99),
            handoff_p50_ms: handoff.percentile(50),
            handoff_p99_ms: handoff.percentile(99),
            redirects_requested: [redirects[0], redirects[1], redirects[2]],
            placements: [placements[0], placements[1], placements[2], placements[3]],
            releases_forced: get(&self.releases_forced),
            placement_waits: get(&self.placement_waits),
            placement_refusals: get(&self.placement_refusals),
            health_changes: get(&self.health_changes),
            backoff_waits: backoff.count(),
            backoff_p50_ms: backoff.percentile(50),
            backoff_p99_ms: backoff.percentile(99),
            recovery_p50_ms: recovery.percentile(50),
            recovery_p99_ms: recovery.percentile(99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_known_samples() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(50), None);
        for ms in 1..=100 {
            h.record(ms);
        }
        assert_eq!(h.percentile(50), Some(51));
        assert_eq!(h.percentile(99), Some(100));
        assert_eq!(h.percentile(0), Some(1));
    }

    #[test]
    fn histogram_memory_is_bounded() {
        let mut h = Histogram::default();
        for ms in 0..(HISTOGRAM_SAMPLES_MAX as u64 + 10) {
            h.record(ms);
        }
        assert_eq!(h.samples.len(), HISTOGRAM_SAMPLES_MAX);
        assert_eq!(h.count(), HISTOGRAM_SAMPLES_MAX as u64 + 10);
    }
}
