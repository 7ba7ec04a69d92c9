//! The bounded queue of events waiting to be published. Pure: no I/O, no clock.
//!
//! Policy: at most `max` events wait. When one more arrives the **oldest** waiting event is
//! dropped (and counted by the caller). Announcements are state changes of characters (in
//! world, out of world): when some must be lost, losing the oldest keeps every character's
//! latest change, so the cluster's services end up with the right set of characters online.
//! Dropping the newest instead could keep a login and lose the logout after it, leaving a
//! ghost online until that character's next login.

use std::collections::VecDeque;

use bytes::Bytes;

/// One event ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Its subject.
    pub subject: &'static str,
    /// Its envelope.
    pub payload: Bytes,
}

/// Events waiting to be published, oldest first.
#[derive(Debug)]
pub struct PublishQueue {
    items: VecDeque<Outgoing>,
    max: usize,
}

impl PublishQueue {
    /// A queue holding at most `max` events (at least one).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            items: VecDeque::with_capacity(max.min(1024)),
            max,
        }
    }

    /// Queues `item`; returns the event dropped to make room, if any.
    pub fn push(&mut self, item: Outgoing) -> Option<Outgoing> {
        let dropped = if self.items.len() >= self.max {
            self.items.pop_front()
        } else {
            None
        };
        self.items.push_back(item);
        dropped
    }

    /// The oldest waiting event.
    pub fn pop(&mut self) -> Option<Outgoing> {
        self.items.pop_front()
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The bound.
    pub fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: u8) -> Outgoing {
        Outgoing {
            subject: "gw.char.logged-in",
            payload: Bytes::from(vec![n]),
        }
    }

    #[test]
    fn past_the_bound_the_oldest_is_dropped_and_order_is_kept() {
        let mut q = PublishQueue::new(3);
        for n in 0..3 {
            assert_eq!(q.push(item(n)), None);
        }
        assert_eq!(q.push(item(3)), Some(item(0)));
        assert_eq!(q.push(item(4)), Some(item(1)));
        assert_eq!(q.len(), 3);
        let left: Vec<u8> = std::iter::from_fn(|| q.pop())
            .map(|o| o.payload[0])
            .collect();
        assert_eq!(left, vec![2, 3, 4]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_zero_bound_still_holds_the_newest_event() {
        let mut q = PublishQueue::new(0);
        assert_eq!(q.max(), 1);
        assert_eq!(q.push(item(1)), None);
        assert_eq!(q.push(item(2)), Some(item(1)));
        assert_eq!(q.pop(), Some(item(2)));
    }
}
