//! Whispers are delivered exactly once, or reported undeliverable to their sender; never lost
//! silently.
//!
//! **Invariant**, for every whisper a bot sent:
//! - its receiver's client got it at most once, and only whispers somebody sent arrive;
//! - if the receiver never got it, the sender was not told it was sent (no WHISPER_INFORM
//!   echoing its text), and the sender was told it was undeliverable
//!   (SMSG_CHAT_PLAYER_NOT_FOUND, or the system line saying the chat service did not take it).
//!   Those answers carry no text, so they are counted per sender: a sender needs at least as
//!   many as it has whispers that neither arrived nor were echoed.
//!
//! A bot whose script failed is not judged as a receiver (its client closed, and what was on
//! the way to it went with it), nor as a sender (it may have closed before its answers came).
//! Liveness judges why it failed.
//!
//! **Source of truth**: the bots' reports, each the client's own reading of its server
//! stream: what it whispered, what came back echoed or refused, and what it received.
//! Nothing the gateway or the simulated chatserver says about delivery is read.

use std::collections::BTreeMap;

use super::BotResult;

/// What the bots' whispers came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WhisperTotals {
    /// Whispers sent, by every bot.
    pub sent: usize,
    /// Whispers received, by every bot.
    pub received: usize,
    /// Whispers received while the receiver was moving between worldservers.
    pub received_moving: u32,
}

/// Judges the bots' whispers; `bot_of_name` maps a character name to the bot that plays it.
/// Returns the violations (untagged) and the totals.
pub fn judge(
    results: &[BotResult],
    bot_of_name: &BTreeMap<String, usize>,
) -> (Vec<String>, WhisperTotals) {
    let mut violations = Vec::new();
    let mut totals = WhisperTotals::default();
    let clean: BTreeMap<usize, bool> = results.iter().map(|r| (r.0, r.2.is_ok())).collect();
    // Who received which text, how often.
    let mut arrivals: BTreeMap<&str, (usize, u32)> = BTreeMap::new();
    for (index, report, _, _) in results {
        totals.received += report.whispers_received.len();
        totals.received_moving += report.whispers_received_moving;
        for text in &report.whispers_received {
            let e = arrivals.entry(text).or_insert((*index, 0));
            e.1 += 1;
            if e.0 != *index {
                violations.push(format!(
                    "whisper {text:?} reached two clients: bot{} and bot{index}",
                    e.0
                ));
            }
        }
    }
    let mut sent_texts = BTreeMap::new();
    for (index, report, result, _) in results {
        totals.sent += report.whispers_sent.len();
        let mut unanswered = 0u32;
        for (to, text) in &report.whispers_sent {
            sent_texts.insert(text.as_str(), ());
            let receiver = bot_of_name.get(to).copied();
            let arrived = arrivals.get(text.as_str()).map_or(0, |a| a.1);
            if arrived > 1 {
                violations.push(format!(
                    "bot{index}'s whisper {text:?} to {to} arrived {arrived} times"
                ));
            }
            if arrived > 0 || receiver.is_some_and(|r| clean.get(&r) != Some(&true)) {
                continue;
            }
            if report.whispers_informed.iter().any(|t| t == text) {
                violations.push(format!(
                    "bot{index}'s whisper {text:?} to {to} was lost silently: its sender was told it was sent, its receiver never got it"
                ));
            } else {
                unanswered += 1;
            }
        }
        if result.is_ok() && unanswered > report.whispers_undeliverable {
            violations.push(format!(
                "bot{index}: {unanswered} of its whispers neither arrived nor were echoed, and it was told of only {} undeliverable",
                report.whispers_undeliverable
            ));
        }
    }
    for (text, (index, _)) in &arrivals {
        if !sent_texts.contains_key(text) {
            violations.push(format!(
                "bot{index} received a whisper {text:?} that no bot sent"
            ));
        }
    }
    (violations, totals)
}

#[cfg(test)]
mod tests {
    use waygate::peers::bot::BotReport;

    use super::*;
    use crate::check::bot_result as bot;

    fn names() -> BTreeMap<String, usize> {
        [("Bot0".to_owned(), 0), ("Bot1".to_owned(), 1)].into()
    }

    fn sent(r: &mut BotReport, text: &str) {
        r.whispers_sent.push(("Bot1".into(), text.into()));
    }

    #[test]
    fn delivered_once_or_reported_passes() {
        let results = vec![
            bot(0, true, |r| {
                sent(r, "a");
                sent(r, "b");
                r.whispers_informed.push("a".into());
                r.whispers_undeliverable = 1;
            }),
            bot(1, true, |r| {
                r.whispers_received.push("a".into());
                r.whispers_received_moving = 1;
            }),
        ];
        let (v, totals) = judge(&results, &names());
        assert_eq!(v, Vec::<String>::new());
        assert_eq!(
            totals,
            WhisperTotals {
                sent: 2,
                received: 1,
                received_moving: 1
            }
        );
    }

    #[test]
    fn an_echoed_whisper_that_never_arrived_is_lost_silently() {
        let results = vec![
            bot(0, true, |r| {
                sent(r, "a");
                r.whispers_informed.push("a".into());
            }),
            bot(1, true, |_| {}),
        ];
        let (v, _) = judge(&results, &names());
        assert_eq!(v.len(), 1);
        assert!(v[0].contains("lost silently"), "{v:?}");
    }

    #[test]
    fn an_unanswered_whisper_needs_an_undeliverable_report() {
        let results = vec![bot(0, true, |r| sent(r, "a")), bot(1, true, |_| {})];
        let (v, _) = judge(&results, &names());
        assert_eq!(v.len(), 1);
        assert!(v[0].contains("told of only 0"), "{v:?}");
    }

    #[test]
    fn duplicates_and_forgeries_are_flagged() {
        let results = vec![
            bot(0, true, |r| {
                sent(r, "a");
                r.whispers_informed.push("a".into());
            }),
            bot(1, true, |r| {
                r.whispers_received
                    .extend(["a".into(), "a".into(), "z".into()]);
            }),
        ];
        let (v, _) = judge(&results, &names());
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].contains("arrived 2 times"), "{v:?}");
        assert!(v[1].contains("no bot sent"), "{v:?}");
    }

    #[test]
    fn a_receiver_whose_client_failed_is_not_judged() {
        let results = vec![
            bot(0, true, |r| {
                sent(r, "a");
                r.whispers_informed.push("a".into());
            }),
            bot(1, false, |_| {}),
        ];
        let (v, _) = judge(&results, &names());
        assert_eq!(v, Vec::<String>::new());
    }
}
