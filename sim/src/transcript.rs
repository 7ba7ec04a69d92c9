//! The run transcript: one line per event in virtual time, and its FNV-1a hash.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// FNV-1a, 64 bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Lines kept at most; a run that writes more is cut (and says so) so memory stays bounded.
pub const TRANSCRIPT_LINES_MAX: usize = 200_000;

/// A shared, append-only transcript.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    lines: Arc<Mutex<Vec<String>>>,
}

impl Transcript {
    /// Appends one event at virtual time `at`.
    pub fn push(&self, at: Duration, who: &str, what: impl std::fmt::Display) {
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if lines.len() < TRANSCRIPT_LINES_MAX {
            lines.push(format!("{:>9}ms {who:<10} {what}", at.as_millis()));
        } else if lines.len() == TRANSCRIPT_LINES_MAX {
            lines.push("... transcript cut at its line limit".into());
        }
    }

    /// The lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Hash of the lines joined by newlines.
    pub fn hash(&self) -> u64 {
        fnv1a64(self.lines().join("\n").as_bytes())
    }

    /// Takes every line out, leaving the transcript empty (other clones may outlive the run).
    pub fn take(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .lines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_known_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn hash_covers_every_line() {
        let a = Transcript::default();
        a.push(Duration::from_millis(1), "gw", "x");
        let b = Transcript::default();
        b.push(Duration::from_millis(1), "gw", "y");
        assert_ne!(a.hash(), b.hash());
    }
}
