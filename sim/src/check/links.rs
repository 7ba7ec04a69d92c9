//! The time arithmetic of the per-client teardown check ([`super::teardown::ClientLinks`]):
//! which clients a worldserver connection may belong to, and by when it must be closed.

use crate::scenario::{Fault, FaultKind};

/// A client's worldserver connections must be closed within this long of the client's
/// close, and once every bot has left, every session and connection within this long.
pub const CLOSE_AFTER_CLIENT_MAX_MS: u64 = 1_000;

/// What a partition leaves behind: bytes queued while it lasted are retransmitted after
/// it heals, after a backoff that doubles while the link is cut, up to this (madsim's TCP
/// model; a real TCP's retransmission timeout grows the same way, to a larger cap). Until
/// then, a close queued behind them does not reach the worldserver.
pub const RETRANSMIT_BACKOFF_MAX_MS: u64 = 10_000;

/// Per account (upper case): each client connection's open and close times (milliseconds of
/// the run), in order.
pub type ClientLog = std::collections::BTreeMap<String, Vec<(u64, Option<u64>)>>;

/// Partition windows of one worldserver: from, and until (`None`: never healed).
pub type Windows = Vec<(u64, Option<u64>)>;

/// When the last of the clients a connection accepted at `opened_ms` may belong to closed;
/// `None` while one of them is still open (or none had connected).
pub fn owners_closed(log: &ClientLog, account: &str, opened_ms: u64) -> Option<u64> {
    let owners = log.get(&account.to_uppercase())?;
    let mut last = None;
    for (_, close) in owners.iter().filter(|(open, _)| *open <= opened_ms) {
        let close = (*close)?;
        last = last.max(Some(close));
    }
    last
}

/// When a connection whose client closed at `closed_ms` must be closed: the clock restarts
/// when what a partition it runs into held back has been retransmitted (the heal plus
/// [`RETRANSMIT_BACKOFF_MAX_MS`]); `None` if one never heals.
pub fn due_ms(closed_ms: u64, windows: &Windows) -> Option<u64> {
    let mut from = closed_ms;
    for (start, end) in windows {
        // Until the retransmissions after its heal, a partition holds a close back.
        let held_until = end.map(|e| e.saturating_add(RETRANSMIT_BACKOFF_MAX_MS));
        if *start <= from.saturating_add(CLOSE_AFTER_CLIENT_MAX_MS)
            && held_until.is_none_or(|h| h >= from)
        {
            from = from.max(held_until?);
        }
    }
    Some(from.saturating_add(CLOSE_AFTER_CLIENT_MAX_MS))
}

/// The partition windows of worldserver `id` in `faults`, in time order.
pub fn windows(faults: &[Fault], id: &str) -> Windows {
    let mut events: Vec<(u64, bool)> = faults
        .iter()
        .filter_map(|f| match &f.kind {
            FaultKind::Partition { target } if target == id => Some((f.at_ms, true)),
            FaultKind::Heal { target } if target == id => Some((f.at_ms, false)),
            _ => None,
        })
        .collect();
    events.sort_unstable();
    let mut out: Windows = Vec::new();
    for (at, cut) in events {
        match (cut, out.last_mut()) {
            (true, Some((_, None))) => {}
            (true, _) => out.push((at, None)),
            (false, Some((_, end @ None))) => *end = Some(at),
            (false, _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Fault, FaultKind};

    fn fault(at_ms: u64, cut: bool) -> Fault {
        let target = "ws-a".to_owned();
        Fault {
            at_ms,
            kind: if cut {
                FaultKind::Partition { target }
            } else {
                FaultKind::Heal { target }
            },
        }
    }

    #[test]
    fn partition_windows_pair_cuts_with_heals() {
        let faults = [
            fault(5_000, false),
            fault(10_000, true),
            fault(20_000, false),
            fault(30_000, true),
        ];
        assert_eq!(
            windows(&faults, "ws-a"),
            vec![(10_000, Some(20_000)), (30_000, None)]
        );
        assert!(windows(&faults, "ws-b").is_empty());
    }

    #[test]
    fn the_clock_restarts_after_the_retransmissions_and_stops_without_a_heal() {
        let healed = vec![(10_000, Some(20_000))];
        assert_eq!(due_ms(1_000, &healed), Some(2_000), "no partition near");
        assert_eq!(
            due_ms(9_500, &healed),
            Some(31_000),
            "a partition begins within the second"
        );
        assert_eq!(
            due_ms(15_000, &healed),
            Some(31_000),
            "closed during the partition"
        );
        assert_eq!(
            due_ms(20_500, &healed),
            Some(31_000),
            "closed just after the heal"
        );
        assert_eq!(
            due_ms(30_500, &healed),
            Some(31_500),
            "the retransmissions are over"
        );
        let never = vec![(10_000, Some(20_000)), (25_000, None)];
        assert_eq!(
            due_ms(15_000, &never),
            None,
            "retransmitting into a partition that never heals"
        );
        assert_eq!(
            due_ms(29_500, &never),
            None,
            "closed during a partition that never heals"
        );
        assert_eq!(due_ms(2_000, &never), Some(3_000), "long before both");
    }

    #[test]
    fn a_connection_belongs_to_the_clients_that_had_connected() {
        let mut log = ClientLog::new();
        log.insert("BOT1".into(), vec![(0, Some(5_000)), (6_000, None)]);
        assert_eq!(owners_closed(&log, "bot1", 1_000), Some(5_000));
        assert_eq!(
            owners_closed(&log, "BOT1", 7_000),
            None,
            "its client is still open"
        );
        assert_eq!(
            owners_closed(&log, "BOT2", 1_000),
            None,
            "no client of that account"
        );
        log.insert("BOT2".into(), vec![(0, Some(9_000)), (100, Some(4_000))]);
        assert_eq!(
            owners_closed(&log, "BOT2", 200),
            Some(9_000),
            "twins: the last close counts"
        );
    }
}
