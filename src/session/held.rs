//! Packets held while the player changes worldservers, with their bound and overflow policy
//! in one place.

use std::collections::VecDeque;

use crate::wire::Packet;

/// What a full queue does with one more packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Overflow {
    /// Refuse it: the caller closes the session (the client's packets: none may be lost).
    Refuse,
    /// Drop the oldest and remember that something was lost (the worldserver's packets: a
    /// player who then stays is reconnected rather than shown a world with a hole in it).
    DropOldest,
}

/// A bounded FIFO of packets. Each counts its body plus `header_bytes` against the byte
/// bound.
#[derive(Debug, Clone)]
pub(super) struct HeldQueue {
    packets: VecDeque<Packet>,
    bytes: usize,
    max_packets: usize,
    max_bytes: usize,
    header_bytes: usize,
    policy: Overflow,
    overflowed: bool,
}

impl HeldQueue {
    /// Client packets (6-byte headers), refused past the bounds.
    pub(super) fn for_client(max_packets: usize, max_bytes: usize) -> Self {
        Self::new(max_packets, max_bytes, 6, Overflow::Refuse)
    }

    /// Worldserver packets (4-byte headers), oldest dropped past the bounds.
    pub(super) fn for_world(max_packets: usize, max_bytes: usize) -> Self {
        Self::new(max_packets, max_bytes, 4, Overflow::DropOldest)
    }

    fn new(max_packets: usize, max_bytes: usize, header_bytes: usize, policy: Overflow) -> Self {
        Self {
            packets: VecDeque::new(),
            bytes: 0,
            max_packets,
            max_bytes,
            header_bytes,
            policy,
            overflowed: false,
        }
    }

    /// Holds `p`. False when the queue refused it (only with [`Overflow::Refuse`]).
    #[must_use]
    pub(super) fn push(&mut self, p: Packet) -> bool {
        let size = p.body.len() + self.header_bytes;
        if self.packets.len() >= self.max_packets || self.bytes + size > self.max_bytes {
            match self.policy {
                Overflow::Refuse => return false,
                Overflow::DropOldest => {
                    if let Some(old) = self.packets.pop_front() {
                        self.bytes -= old.body.len() + self.header_bytes;
                    }
                    self.overflowed = true;
                }
            }
        }
        self.bytes += size;
        self.packets.push_back(p);
        true
    }

    /// Whether a packet was dropped since the last reset.
    pub(super) fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Everything held, oldest first; the queue is empty and reset afterwards.
    pub(super) fn take(&mut self) -> VecDeque<Packet> {
        self.bytes = 0;
        self.overflowed = false;
        std::mem::take(&mut self.packets)
    }

    /// Forgets everything held.
    pub(super) fn reset(&mut self) {
        self.packets.clear();
        self.bytes = 0;
        self.overflowed = false;
    }
}

impl HeldQueue {
    /// The client's packets held during a move, bounded by the session's switch buffer.
    pub(super) fn client(cfg: &super::SessionConfig) -> Self {
        Self::for_client(cfg.switch_buffer_max_packets, cfg.switch_buffer_max_bytes)
    }

    /// The current worldserver's packets held while a move is decided.
    pub(super) fn world(cfg: &super::SessionConfig) -> Self {
        Self::for_world(cfg.switch_buffer_max_packets, cfg.switch_buffer_max_bytes)
    }
}
