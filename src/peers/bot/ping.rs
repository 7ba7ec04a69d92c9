//! The ping schedule: when the next CMSG_PING is due, and the latency it measures.

use std::time::Duration;

use tokio::time::Instant;

use super::millis;
use crate::wire::packets::Ping;

/// When the next CMSG_PING is due, and the one in flight. Pings are never closer together
/// than the interval: the next one is scheduled from the moment one is sent.
#[derive(Debug)]
pub(super) struct PingClock {
    interval: Duration,
    next: Option<Instant>,
    seq: u32,
    in_flight: Option<(u32, Instant)>,
    latency_ms: u32,
}

impl PingClock {
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            interval,
            next: None,
            seq: 0,
            in_flight: None,
            latency_ms: 0,
        }
    }

    /// Starts the schedule: the first ping is due one interval from `now`.
    pub(super) fn start(&mut self, now: Instant) {
        self.next = Some(now + self.interval);
    }

    /// No more pings.
    pub(super) fn stop(&mut self) {
        self.next = None;
    }

    pub(super) fn due_at(&self) -> Option<Instant> {
        self.next
    }

    /// The ping to send now, if one is due.
    pub(super) fn take_due(&mut self, now: Instant) -> Option<Ping> {
        let next = self.next?;
        if now < next {
            return None;
        }
        self.seq = self.seq.wrapping_add(1);
        self.next = Some(now + self.interval);
        self.in_flight = Some((self.seq, now));
        Some(Ping {
            seq: self.seq,
            latency_ms: self.latency_ms,
        })
    }

    /// Notes a pong; the round trip in milliseconds if it answers the ping in flight.
    pub(super) fn on_pong(&mut self, seq: u32, now: Instant) -> Option<u64> {
        match self.in_flight {
            Some((s, at)) if s == seq => {
                self.in_flight = None;
                let ms = millis(now.saturating_duration_since(at));
                self.latency_ms = u32::try_from(ms).unwrap_or(u32::MAX);
                Some(ms)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::bot::PING_INTERVAL_MS;

    #[test]
    fn pings_are_never_closer_than_the_interval() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut clock = PingClock::new(Duration::from_millis(PING_INTERVAL_MS));
        assert!(clock.take_due(at(60_000)).is_none(), "not before start");
        clock.start(t0);
        assert!(clock.take_due(at(29_999)).is_none());
        let first = clock.take_due(at(30_000)).expect("due at 30 s");
        assert_eq!((first.seq, first.latency_ms), (1, 0));
        assert!(clock.take_due(at(30_000)).is_none(), "one per interval");
        assert!(clock.take_due(at(59_999)).is_none());
        // A late ping pushes the next one: still 30 s apart.
        assert_eq!(clock.take_due(at(75_000)).map(|p| p.seq), Some(2));
        assert!(clock.take_due(at(104_999)).is_none());
        assert_eq!(clock.on_pong(1, at(75_010)), None, "stale pong");
        assert_eq!(clock.on_pong(2, at(75_040)), Some(40));
        let third = clock.take_due(at(105_000)).expect("due");
        assert_eq!((third.seq, third.latency_ms), (3, 40));
        clock.stop();
        assert!(clock.take_due(at(1_000_000)).is_none());
    }
}
